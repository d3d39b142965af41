/* mechanics: explicit TLED dynamics on the device (see mechanics.h). */
#include "mechanics.h"

#include "contact.h"
#include "element.h"
#include "face_set.h"
#include "nonlocal.h"
#include "runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { LOCAL_SIZE = 64, MATERIAL_STRIDE = 6, TERM_COUNT = 8 };

/* Below this fraction of W_f an element's tensile energy is not evaluated (kernels/mechanics.cl's
 * tensile_state: an eigen-decomposition per element): damage under 1e-3 reads 0. */
static const double TENSILE_FLOOR = 1e-3;

struct pp_mechanics {
  const pp_mesh *mesh;
  pp_clrt *clrt;
  pp_halo *halo;
  pp_reduce *reduce;
  MPI_Comm comm;
  pp_mechanics_options options;
  size_t owned, nodes, elements, owned_elements;
  double *mass;            /* host [owned] */
  double *spring;          /* host [owned], N/m: foundation springs */
  double total_mass, added_mass;
  long long scaled_elements;
  double *density_scale;   /* host [elements]: mass scaling factor per local element (1: none) */
  double uniform_step;     /* s: the step every element's scaled bound meets (mass_scaling_uniform) */
  double penalty_factor;   /* the contact's penalty stiffness per node mass (2 / dt_stable)^2 */
  unsigned char *dof_kind; /* host [owned * 3] */
  double *dof_target;      /* host [owned * 3] */
  double load_factor, damping;
  double time, dt_previous;
  long long step;
  double stored;           /* sum V W at the current state (elements only) */
  double stable;           /* exact minimum element bound at the current state */
  double work, dissipated, initial_energy;
  int balance_started;     /* initial_energy set (from the first step after a state change) */
  double rayleigh_scale;   /* 1 / (du.M du) of the last step (kernel comment), 1 at first */
  double pressure;         /* Pa, on the pressure faces */
  size_t face_count;       /* local pressure faces */
  cl_mem face_reference, face_nodes, face_force, face_offsets, face_entries, constant_force;
  cl_kernel pressure_kernel, gather_external;
  pp_contact *contact;     /* needles (pp_mechanics_set_contact); NULL: none */
  cl_kernel add_contact;
  double contact_dt;       /* the step that the contact forces being evaluated end */
  int contact_accumulate;  /* set while step() evaluates: contact energy terms accumulate */
  cl_mem element_values;   /* [owned elements * 13], on first output */
  cl_kernel output_kernel;
  /* checkpoint: arrays in output order, scalars */
  double *saved_fields;    /* [4][output nodes * 3]: displacement, velocity, applied, previous force */
  double *saved_damage;    /* [owned elements]: damage (a maximum over time) */
  double saved_time, saved_dt_previous, saved_work, saved_dissipated, saved_initial_energy, saved_load_factor,
    saved_pressure;
  long long saved_step, saved_balance_started;
  cl_mem corners, element_nodes, material_index, materials, displacement, corner_force, energy, dilatation,
    element_step, density_scale_buffer, offsets, entries, node_force, mass_buffer, spring_buffer, kind_buffer, target_buffer,
    external_force, velocity, applied_force, previous_force, terms, ones;
  cl_mem displacement_low; /* float builds: the low part of each owned displacement (kernel comment) */
  cl_kernel forces, gather, update;
  int width;               /* elements per work-item of hex8_forces (kernels/mechanics.cl) */
  char build_options[64];  /* -DMECHANICS_WIDTH=width -DEROSION=0|1, for every mechanics kernel (one program) */
  /* erosion (kernels/mechanics.cl: erode_elements, node_activity); the buffers exist either way */
  cl_mem eroded, tensile, principal, threshold, failure_density, damage, eroded_energy, node_active, eroding_force,
    erosion_force, distortion, distorted;
  cl_kernel erode, activity;
  double *element_volume;  /* host [elements]: undeformed */
  double eroded_total;     /* J, exact sum of eroded_energy over owned elements */
  double eroded_correction; /* J, exact sum of erosion_correction: the half-step work of eroding elements */
  /* the non-local criterion (options.nonlocal) */
  pp_nonlocal *nonlocal;
  double *band_threshold;  /* host [elements]: fracture_energy / nonlocal_radius */
  double *nonlocal_work;   /* host [5 * elements]: tensile, principal, eroded, average, thresholds */
  double nonlocal_proximity;
};

void pp_mechanics_options_default(pp_mechanics_options *options, const pp_material *material)
{
  memset(options, 0, sizeof *options);
  for (int l = 0; l < PP_LAYER_COUNT; ++l) options->layer[l] = *material;
  options->base = PP_BASE_FIXED;
  options->step_safety = 0.9;
}

pp_err pp_mechanics_options_from_config(const pp_config *config, pp_mechanics_options *options)
{
  memset(options, 0, sizeof *options);
  for (int l = 0; l < PP_LAYER_COUNT; ++l) PP_CALL(pp_material_from_config(config, l, &options->layer[l]));
  static const char *const supports[] = {"fixed", "roller", "foundation", "free"};
  const char *support = pp_config_text(config, "mechanics.base_support");
  options->base = PP_BASE_FIXED;
  for (int k = 0; k < 4; ++k)
    if (strcmp(support, supports[k]) == 0) options->base = (pp_base_support)k;
  options->foundation_stiffness = pp_config_real(config, "mechanics.foundation_stiffness");
  options->damping = pp_config_real(config, "mechanics.damping");
  options->step_safety = pp_config_real(config, "mechanics.step_safety");
  options->mass_scaling_step = pp_config_real(config, "mechanics.mass_scaling_step");
  options->erosion = pp_config_boolean(config, "mechanics.erosion");
  options->nonlocal = !strcmp(pp_config_text(config, "mechanics.puncture_criterion"), "nonlocal");
  options->nonlocal_radius = pp_config_real(config, "mechanics.nonlocal_radius");
  options->distortion_limit = pp_config_real(config, "mechanics.distortion_limit");
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    char key[96];
    snprintf(key, sizeof key, "skin.%s.fracture_energy", pp_mesh_layer_key(l));
    options->fracture_energy[l] = pp_config_real(config, key);
    snprintf(key, sizeof key, "skin.%s.failure_energy_density", pp_mesh_layer_key(l));
    options->failure_energy_density[l] = pp_config_real(config, key);
  }
  return PP_OK;
}

static double smallest_size(const pp_mesh_axis *axis, int first, int end)
{
  double smallest = INFINITY;
  for (int i = first; i < end; ++i) smallest = fmin(smallest, axis->position[i + 1] - axis->position[i]);
  return smallest;
}

void pp_mechanics_print_plan(const pp_mesh *plan, const pp_mechanics_options *options, double stroke_time,
                             const char *prefix, FILE *out)
{
  const double a = smallest_size(&plan->axis_x, 0, plan->axis_x.element_count),
               b = smallest_size(&plan->axis_y, 0, plan->axis_y.element_count);
  double smallest = INFINITY;
  int limiting = 0;
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    const pp_material *law = &options->layer[l];
    const double wave_speed = sqrt(pp_material_p_wave_modulus(law) / law->density);
    const double c = smallest_size(&plan->axis_z, plan->axis_z.layer_first[l], plan->axis_z.layer_first[l + 1]);
    const double step = 1 / (wave_speed * sqrt(1 / (a * a) + 1 / (b * b) + 1 / (c * c)));
    fprintf(out, "%sstage 1: layer %d (%s): wave speed %.4g m/s, smallest element %.3g x %.3g x %.3g um, stable step "
            "%.3g ns\n", prefix, l, pp_mesh_layer_name(l), wave_speed, a * 1e6, b * 1e6, c * 1e6, step * 1e9);
    if (step < smallest) {
      smallest = step;
      limiting = l;
    }
  }
  const double taken = options->step_safety * smallest;
  fprintf(out, "%sstage 1: step %.3g ns (%.2f x the %s's, undeformed; recomputed every step), %.3g steps for "
          "%.4g us of stage 1 (undeformed; large strains shorten the step)\n", prefix, taken * 1e9, options->step_safety,
          pp_mesh_layer_name(limiting), stroke_time / taken, stroke_time * 1e6);
}

/* ---- set-up ------------------------------------------------------------------------------------ */

/* Integral of each corner's bilinear shape function over the hex's deeper face (corners 0-3),
 * 2x2 Gauss: the foundation's tributary areas (a quarter of the face on a rectangle). */
static void base_face_areas(const double X[24], double area[4])
{
  const double g = 1 / sqrt(3.0);
  for (int a = 0; a < 4; ++a) area[a] = 0;
  for (int q = 0; q < 4; ++q) {
    const double xi = pp_hex_corner_bit(q, 0) ? g : -g, eta = pp_hex_corner_bit(q, 1) ? g : -g;
    double tx[3] = {0}, ty[3] = {0}, shape[4];
    for (int a = 0; a < 4; ++a) {
      const double sx = pp_hex_corner_bit(a, 0) ? 1 : -1, sy = pp_hex_corner_bit(a, 1) ? 1 : -1;
      shape[a] = 0.25 * (1 + sx * xi) * (1 + sy * eta);
      for (int d = 0; d < 3; ++d) {
        tx[d] += 0.25 * sx * (1 + sy * eta) * X[3 * a + d];
        ty[d] += 0.25 * sy * (1 + sx * xi) * X[3 * a + d];
      }
    }
    const double n[3] = {tx[1] * ty[2] - tx[2] * ty[1], tx[2] * ty[0] - tx[0] * ty[2], tx[0] * ty[1] - tx[1] * ty[0]};
    const double jacobian = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    for (int a = 0; a < 4; ++a) area[a] += shape[a] * jacobian;
  }
}

/* Lumped masses of the owned nodes from the elements' density scales, each a sum over the node's
 * corners in the CSR order (the same bits on any partition), with their total and the part the
 * scaling added. */
static pp_err sum_node_masses(pp_mechanics *m)
{
  const pp_mesh *mesh = m->mesh;
  double *added = malloc((m->owned + 1) * sizeof *added);
  /* agreed before the sums below, which are collective: a rank without memory must not leave the
     others waiting in them */
  PP_CALL(pp_comm_agree(m->comm,
                        added ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                                                       "out of memory for the added masses"),
                        "node masses"));
  for (size_t n = 0; n < m->owned; ++n) {
    double mass = 0, physical_mass = 0;
    for (int r = mesh->node_element_offset[n]; r < mesh->node_element_offset[n + 1]; ++r) {
      const int entry = mesh->node_element_entry[r], e = entry / 8, c = entry % 8;
      const double corner_mass = m->options.layer[mesh->element_layer[e]].density *
                                 pp_hex8_corner_volume(mesh->element_corner_coords + 24 * (size_t)e, c);
      physical_mass += corner_mass;
      mass += corner_mass * m->density_scale[e];
    }
    m->mass[n] = mass;
    added[n] = mass - physical_mass;
  }
  pp_err err = pp_reduce_sum_host(m->mass, m->owned, m->comm, &m->total_mass);
  if (err == PP_OK) err = pp_reduce_sum_host(added, m->owned, m->comm, &m->added_mass);
  free(added);
  return err;
}

/* Masses and foundation springs per owned node, each a sum over the node's corners in the CSR
 * order (the same bits on any partition); default constraints from the base and the sides. */
static pp_err build_nodes(pp_mechanics *m)
{
  const pp_mesh *mesh = m->mesh;
  PP_MALLOC(m->density_scale, m->elements + 1, "mass scaling factors");
  PP_MALLOC(m->element_volume, m->elements + 1, "element volumes");
  for (size_t e = 0; e < m->elements; ++e) {
    double volume = 0;
    for (int c = 0; c < 8; ++c) volume += pp_hex8_corner_volume(mesh->element_corner_coords + 24 * e, c);
    m->element_volume[e] = volume;
  }
  long long scaled = 0;
  static const double at_rest[24] = {0};
  double scaling_step = m->options.mass_scaling_step;
  if (m->options.mass_scaling_uniform) {
    double largest = 0;
    for (size_t e = 0; e < m->owned_elements; ++e)
      largest = fmax(largest, pp_hex8_stable_step(&m->options.layer[mesh->element_layer[e]],
                                                   mesh->element_corner_coords + 24 * e, at_rest));
    /* a maximum is exact: the same on any partition */
    PP_MPI(MPI_Allreduce(MPI_IN_PLACE, &largest, 1, MPI_DOUBLE, MPI_MAX, m->comm), "the largest element step bound");
    scaling_step = fmax(scaling_step, largest);
    m->uniform_step = scaling_step;
  }
  for (size_t e = 0; e < m->elements; ++e) {
    m->density_scale[e] = 1;
    if (scaling_step > 0) {
      const double bound = pp_hex8_stable_step(&m->options.layer[mesh->element_layer[e]],
                                               mesh->element_corner_coords + 24 * e, at_rest);
      if (bound < scaling_step) {
        const double ratio = scaling_step / bound;
        m->density_scale[e] = ratio * ratio;
        scaled += e < m->owned_elements;
      }
    }
  }
  PP_MPI(MPI_Allreduce(&scaled, &m->scaled_elements, 1, MPI_LONG_LONG, MPI_SUM, m->comm), "counting scaled elements");
  PP_MALLOC(m->mass, m->owned + 1, "nodal masses");
  PP_MALLOC(m->spring, m->owned + 1, "foundation springs");
  PP_MALLOC(m->dof_kind, 3 * m->owned + 1, "DOF kinds");
  PP_MALLOC(m->dof_target, 3 * m->owned + 1, "DOF targets");
  for (size_t n = 0; n < m->owned; ++n) {
    double spring = 0;
    for (int r = mesh->node_element_offset[n]; r < mesh->node_element_offset[n + 1]; ++r) {
      const int entry = mesh->node_element_entry[r], e = entry / 8, c = entry % 8;
      const double *X = mesh->element_corner_coords + 24 * (size_t)e;
      if (m->options.base == PP_BASE_FOUNDATION && c < 4) {
        int on_base = 1;
        for (int k = 0; k < 4; ++k) on_base &= (mesh->node_boundary[mesh->element_nodes[8 * (size_t)e + k]] & PP_NODE_BASE) != 0;
        if (on_base) {
          double area[4];
          base_face_areas(X, area);
          spring += m->options.foundation_stiffness * area[c];
        }
      }
    }
    m->spring[n] = spring;
    const unsigned char b = mesh->node_boundary[n];
    unsigned char *kind = m->dof_kind + 3 * n;
    kind[0] = kind[1] = kind[2] = 0;
    if (b & PP_NODE_BASE) {
      if (m->options.base == PP_BASE_FIXED) kind[0] = kind[1] = kind[2] = 1;
      if (m->options.base == PP_BASE_ROLLER) kind[2] = 1;
    }
    if (mesh->spec.side_x == PP_SIDE_SYMMETRIC && (b & (PP_NODE_X_MIN | PP_NODE_X_MAX))) kind[0] = 1;
    if (mesh->spec.side_y == PP_SIDE_SYMMETRIC && (b & (PP_NODE_Y_MIN | PP_NODE_Y_MAX))) kind[1] = 1;
    for (int d = 0; d < 3; ++d) m->dof_target[3 * n + d] = 0;
  }
  return sum_node_masses(m);
}

static pp_err check_options(const pp_mechanics_options *o)
{
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    const pp_material *law = &o->layer[l];
    PP_CHECK(law->shear_modulus > 0 && law->bulk_modulus > 0 && law->density > 0 && isfinite(law->shear_modulus) &&
               isfinite(law->bulk_modulus) && isfinite(law->density),
             PP_ERR_ARGUMENT, "mechanics: layer %d (%s) needs positive finite shear modulus, bulk modulus and density",
             l, pp_mesh_layer_name(l));
  }
  PP_CHECK(o->step_safety > 0 && o->step_safety <= 1, PP_ERR_ARGUMENT,
           "mechanics: step safety factor %g outside (0, 1]", o->step_safety);
  PP_CHECK(o->mass_scaling_step >= 0 && isfinite(o->mass_scaling_step), PP_ERR_ARGUMENT,
           "mechanics: mass scaling step %g s is not >= 0", o->mass_scaling_step);
  PP_CHECK(o->damping >= 0 && isfinite(o->damping), PP_ERR_ARGUMENT, "mechanics: damping %g 1/s is not >= 0",
           o->damping);
  PP_CHECK(o->base != PP_BASE_FOUNDATION || (o->foundation_stiffness > 0 && isfinite(o->foundation_stiffness)),
           PP_ERR_ARGUMENT, "mechanics: an elastic foundation needs a positive stiffness (got %g N/m^3)",
           o->foundation_stiffness);
  for (int l = 0; o->erosion && l < PP_LAYER_COUNT; ++l)
    PP_CHECK(o->fracture_energy[l] > 0 && isfinite(o->fracture_energy[l]) && o->failure_energy_density[l] > 0 &&
               isfinite(o->failure_energy_density[l]),
             PP_ERR_ARGUMENT, "mechanics: erosion needs a positive fracture energy and failure energy density in "
             "layer %d (%s) (got %g J/m^2, %g J/m^3)", l, pp_mesh_layer_name(l), o->fracture_energy[l],
             o->failure_energy_density[l]);
  return PP_OK;
}

static pp_err device_buffer(pp_mechanics *m, size_t bytes, const char *what, cl_mem *out)
{
  PP_CALL(pp_clrt_buffer(m->clrt, CL_MEM_READ_WRITE, bytes, what, out));
  return PP_OK;
}

static pp_err set_buffers(cl_kernel k, cl_uint first, int count, const cl_mem *buffers, const char *what)
{
  for (int i = 0; i < count; ++i) PP_CL(clSetKernelArg(k, first + (cl_uint)i, sizeof(cl_mem), &buffers[i]), what);
  return PP_OK;
}

/* Elements per work-item of hex8_forces: on a CPU as many as fill 256 bits (4 doubles, 8 floats),
 * at most the device's preferred vector width for REAL (PoCL does not vectorise the kernel across
 * work-items, see kernels/mechanics.cl); elsewhere 1. On the 2-core AVX-512 VM (PoCL 3.1, 10^6
 * elements, double) 1, 2, 4, 8, 16 lanes gave 3.6, 6.1, 10.1, 8.9, 6.6 M elements/s (float: 4, 8,
 * 16 lanes 11.9, 17.8, 13.4): wider vectors spill the kernel's private arrays. The results are the
 * same bits for every width. */
static pp_err element_width(pp_mechanics *m)
{
  m->width = 1;
  if (pp_clrt_device(m->clrt)->type & CL_DEVICE_TYPE_CPU) {
    const int rs = pp_clrt_real_size(m->clrt);
    cl_uint preferred = 1;
    PP_CL(clGetDeviceInfo(pp_clrt_device_id(m->clrt),
                          rs == 8 ? CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE : CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT,
                          sizeof preferred, &preferred, NULL),
          "reading the preferred vector width");
    while (m->width * 2 * rs <= 32 && (cl_uint)m->width * 2 <= preferred) m->width *= 2;
  }
  snprintf(m->build_options, sizeof m->build_options, "-DMECHANICS_WIDTH=%d -DEROSION=%d", m->width,
           m->options.erosion != 0);
  return PP_OK;
}

static pp_err build_device(pp_mechanics *m)
{
  const pp_mesh *mesh = m->mesh;
  const size_t rs = (size_t)pp_clrt_real_size(m->clrt), E = m->elements, N = m->owned;
  const int entries = mesh->node_element_offset[N];
  PP_CALL(device_buffer(m, E * 24 * rs, "mechanics reference corners", &m->corners));
  PP_CALL(device_buffer(m, E * 8 * sizeof(int), "mechanics element nodes", &m->element_nodes));
  PP_CALL(device_buffer(m, E * sizeof(int), "mechanics element materials", &m->material_index));
  PP_CALL(device_buffer(m, PP_LAYER_COUNT * MATERIAL_STRIDE * rs, "mechanics material table", &m->materials));
  PP_CALL(device_buffer(m, m->nodes * 3 * rs, "mechanics displacement", &m->displacement));
  PP_CALL(device_buffer(m, rs == 8 ? 1 : N * 3 * rs, "mechanics displacement low parts", &m->displacement_low));
  PP_CALL(device_buffer(m, E * 24 * rs, "mechanics corner forces", &m->corner_force));
  PP_CALL(device_buffer(m, E * rs, "mechanics element energies", &m->energy));
  PP_CALL(device_buffer(m, E * rs, "mechanics element dilatations", &m->dilatation));
  PP_CALL(device_buffer(m, E * rs, "mechanics element steps", &m->element_step));
  PP_CALL(device_buffer(m, E * rs, "mechanics mass scaling factors", &m->density_scale_buffer));
  PP_CALL(device_buffer(m, (N + 1) * sizeof(int), "mechanics node offsets", &m->offsets));
  PP_CALL(device_buffer(m, (size_t)entries * sizeof(int), "mechanics node entries", &m->entries));
  PP_CALL(device_buffer(m, N * 3 * rs, "mechanics internal forces", &m->node_force));
  PP_CALL(device_buffer(m, N * rs, "mechanics masses", &m->mass_buffer));
  PP_CALL(device_buffer(m, N * rs, "mechanics foundation springs", &m->spring_buffer));
  PP_CALL(device_buffer(m, N * 3, "mechanics DOF kinds", &m->kind_buffer));
  PP_CALL(device_buffer(m, N * 3 * rs, "mechanics DOF targets", &m->target_buffer));
  PP_CALL(device_buffer(m, N * 3 * rs, "mechanics external forces", &m->external_force));
  PP_CALL(device_buffer(m, N * 3 * rs, "mechanics constant forces", &m->constant_force));
  PP_CALL(device_buffer(m, N * 3 * rs, "mechanics velocity", &m->velocity));
  PP_CALL(device_buffer(m, N * 3 * rs, "mechanics applied forces", &m->applied_force));
  PP_CALL(device_buffer(m, N * 3 * rs, "mechanics previous forces", &m->previous_force));
  PP_CALL(device_buffer(m, N * TERM_COUNT * rs, "mechanics energy terms", &m->terms));
  PP_CALL(device_buffer(m, N * TERM_COUNT * rs, "mechanics ones", &m->ones));
  PP_CALL(device_buffer(m, E * rs, "eroded flags", &m->eroded));
  PP_CALL(device_buffer(m, E * rs, "element tensile energies", &m->tensile));
  PP_CALL(device_buffer(m, E * rs, "element principal stresses", &m->principal));
  PP_CALL(device_buffer(m, E * rs, "erosion thresholds", &m->threshold));
  PP_CALL(device_buffer(m, E * rs, "failure energy densities", &m->failure_density));
  PP_CALL(device_buffer(m, E * rs, "element damage", &m->damage));
  PP_CALL(device_buffer(m, E * rs, "eroded energies", &m->eroded_energy));
  PP_CALL(device_buffer(m, N * rs, "node activity", &m->node_active));
  PP_CALL(device_buffer(m, E * 24 * rs, "eroding corner forces", &m->eroding_force));
  PP_CALL(device_buffer(m, N * rs, "erosion corrections", &m->erosion_force));
  PP_CALL(device_buffer(m, E * rs, "element distortions", &m->distortion));
  PP_CALL(device_buffer(m, E * rs, "distortion-eroded flags", &m->distorted));

  double table[PP_LAYER_COUNT * MATERIAL_STRIDE];
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    const pp_material *law = &m->options.layer[l];
    double *row = table + MATERIAL_STRIDE * l;
    row[0] = law->model == PP_MATERIAL_OGDEN;
    row[1] = law->shear_modulus;
    row[2] = law->ogden_alpha;
    row[3] = law->bulk_modulus;
    row[4] = law->density;
    row[5] = m->options.erosion ? TENSILE_FLOOR * m->options.failure_energy_density[l] : INFINITY;
  }
  int *layer = NULL;
  double *zeros = NULL, *ones = NULL, *threshold = NULL, *failure = NULL;
  pp_err err = PP_OK;
  layer = malloc((E + 1) * sizeof *layer);
  zeros = calloc(m->nodes * 3 + E + 1, sizeof *zeros);
  ones = malloc((N * TERM_COUNT + 1) * sizeof *ones);
  threshold = malloc((E + 1) * sizeof *threshold);
  failure = malloc((E + 1) * sizeof *failure);
  if (!layer || !zeros || !ones || !threshold || !failure) {
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory staging the mechanics arrays");
    goto done;
  }
  for (size_t e = 0; e < E; ++e) {
    layer[e] = mesh->element_layer[e];
    /* the crack band: G_c / h_e with h_e the cube root of the undeformed volume */
    threshold[e] = m->options.erosion && !m->options.nonlocal
                     ? m->options.fracture_energy[layer[e]] / cbrt(m->element_volume[e])
                     : INFINITY;
    if (m->band_threshold) m->band_threshold[e] = m->options.fracture_energy[layer[e]] / m->options.nonlocal_radius;
    failure[e] = m->options.erosion ? m->options.failure_energy_density[layer[e]] : 1;
  }
  for (size_t i = 0; i < N * TERM_COUNT; ++i) ones[i] = 1;
  if ((err = pp_clrt_write_reals(m->clrt, m->corners, mesh->element_corner_coords, E * 24, "mechanics corners")) ||
      (err = pp_clrt_write(m->clrt, m->element_nodes, 0, E * 8 * sizeof(int), mesh->element_nodes,
                           "mechanics element nodes")) ||
      (err = pp_clrt_write(m->clrt, m->material_index, 0, E * sizeof(int), layer, "mechanics materials")) ||
      (err = pp_clrt_write_reals(m->clrt, m->materials, table, PP_LAYER_COUNT * MATERIAL_STRIDE, "material table")) ||
      (err = pp_clrt_write_reals(m->clrt, m->density_scale_buffer, m->density_scale, E, "mass scaling factors")) ||
      (err = pp_clrt_write(m->clrt, m->offsets, 0, (N + 1) * sizeof(int), mesh->node_element_offset,
                           "mechanics node offsets")) ||
      (err = pp_clrt_write(m->clrt, m->entries, 0, (size_t)entries * sizeof(int), mesh->node_element_entry,
                           "mechanics node entries")) ||
      (err = pp_clrt_write_reals(m->clrt, m->mass_buffer, m->mass, N, "mechanics masses")) ||
      (err = pp_clrt_write_reals(m->clrt, m->spring_buffer, m->spring, N, "mechanics springs")) ||
      (err = pp_clrt_write_reals(m->clrt, m->displacement, zeros, m->nodes * 3, "mechanics displacement")) ||
      (err = pp_clrt_write_reals(m->clrt, m->velocity, zeros, N * 3, "mechanics velocity")) ||
      (rs == 4 && (err = pp_clrt_write_reals(m->clrt, m->displacement_low, zeros, N * 3, "displacement low parts"))) ||
      (err = pp_clrt_write_reals(m->clrt, m->external_force, zeros, N * 3, "mechanics external forces")) ||
      (err = pp_clrt_write_reals(m->clrt, m->constant_force, zeros, N * 3, "mechanics constant forces")) ||
      (err = pp_clrt_write_reals(m->clrt, m->applied_force, zeros, N * 3, "mechanics applied forces")) ||
      (err = pp_clrt_write_reals(m->clrt, m->previous_force, zeros, N * 3, "mechanics previous forces")) ||
      (err = pp_clrt_write_reals(m->clrt, m->ones, ones, N * TERM_COUNT, "mechanics ones")) ||
      (err = pp_clrt_write_reals(m->clrt, m->eroded, zeros, E, "eroded flags")) ||
      (err = pp_clrt_write_reals(m->clrt, m->damage, zeros, E, "element damage")) ||
      (err = pp_clrt_write_reals(m->clrt, m->distorted, zeros, E, "distortion-eroded flags")) ||
      (err = pp_clrt_write_reals(m->clrt, m->energy, zeros, E, "mechanics element energies")) ||
      (err = pp_clrt_write_reals(m->clrt, m->eroded_energy, zeros, E, "eroded energies")) ||
      (err = pp_clrt_write_reals(m->clrt, m->threshold, threshold, E, "erosion thresholds")) ||
      (err = pp_clrt_write_reals(m->clrt, m->failure_density, failure, E, "failure energy densities")) ||
      (err = pp_clrt_write_reals(m->clrt, m->node_active, ones, N, "node activity")) ||
      (err = pp_clrt_write_reals(m->clrt, m->erosion_force, zeros, N, "erosion corrections")))
    goto done;
  if ((err = element_width(m)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "hex8_forces", &m->forces)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "gather_corner_forces", &m->gather)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "central_difference", &m->update)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "pressure_faces",
                                         &m->pressure_kernel)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "gather_external",
                                         &m->gather_external)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "add_contact", &m->add_contact)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "erode_elements", &m->erode)) ||
      (err = pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "node_activity", &m->activity)))
    goto done;
  /* fixed arguments */
  {
    const cl_ulong element_count = E, owned = N;
    const cl_mem force_args[14] = {m->corners,      m->element_nodes, m->displacement, m->material_index,
                                   m->materials,    m->corner_force,  m->energy,       m->dilatation,
                                   m->element_step, m->density_scale_buffer, m->eroded, m->tensile,
                                   m->principal,    m->distortion};
    const cl_mem erode_args[13] = {m->eroded, m->tensile, m->principal, m->threshold,    m->failure_density,
                                   m->damage, m->energy,  m->eroded_energy, m->corner_force, m->eroding_force,
                                   m->distortion, m->distorted, m->element_step};
    const cl_mem activity_args[7] = {m->offsets,       m->entries,  m->eroded,       m->node_active,
                                     m->eroding_force, m->velocity, m->erosion_force};
    const cl_mem gather_args[4] = {m->offsets, m->entries, m->corner_force, m->node_force};
    const cl_mem update_args[12] = {m->mass_buffer,   m->spring_buffer,    m->kind_buffer,    m->target_buffer,
                                    m->node_force,    m->external_force,   m->displacement,   m->displacement_low,
                                    m->velocity,      m->applied_force,    m->previous_force, m->terms};
    cl_int status = clSetKernelArg(m->forces, 0, sizeof element_count, &element_count);
    status |= clSetKernelArg(m->gather, 0, sizeof owned, &owned);
    status |= clSetKernelArg(m->update, 0, sizeof owned, &owned);
    status |= clSetKernelArg(m->erode, 0, sizeof element_count, &element_count);
    status |= clSetKernelArg(m->activity, 0, sizeof owned, &owned);
    if (status != CL_SUCCESS) {
      err = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "mechanics: setting kernel counts failed");
      goto done;
    }
    if ((err = set_buffers(m->forces, 1, 14, force_args, "hex8_forces arguments")) ||
        (err = set_buffers(m->erode, 1, 13, erode_args, "erode_elements arguments")) ||
        (err = pp_clrt_set_real_arg(m->clrt, m->erode, 14, m->options.erosion ? m->options.distortion_limit : 0,
                                    "erode_elements distortion limit")) ||
        (err = set_buffers(m->activity, 2, 7, activity_args, "node_activity arguments")) ||
        (err = set_buffers(m->gather, 1, 4, gather_args, "gather_corner_forces arguments")) ||
        (err = set_buffers(m->update, 6, 12, update_args, "central_difference arguments")))
      goto done;
  }
done:
  free(layer);
  free(zeros);
  free(ones);
  free(threshold);
  free(failure);
  return err;
}

static pp_err upload_constraints(pp_mechanics *m)
{
  PP_CALL(pp_clrt_write(m->clrt, m->kind_buffer, 0, m->owned * 3, m->dof_kind, "mechanics DOF kinds"));
  PP_CALL(pp_clrt_write_reals(m->clrt, m->target_buffer, m->dof_target, m->owned * 3, "mechanics DOF targets"));
  return PP_OK;
}

/* Forces, element energies and steps at the current displacement (ghosts up to date), then the
 * exact global stored energy and minimum step. */
static pp_err launch_pressure(pp_mechanics *m)
{
  if (m->face_count == 0) return PP_OK;
  const cl_ulong faces = m->face_count, owned = m->owned;
  const cl_mem pressure_args[4] = {m->face_reference, m->face_nodes, m->displacement, m->face_force};
  const cl_mem gather_args[5] = {m->face_offsets, m->face_entries, m->face_force, m->constant_force, m->external_force};
  PP_CL(clSetKernelArg(m->pressure_kernel, 0, sizeof faces, &faces), "pressure_faces count");
  PP_CALL(pp_clrt_set_real_arg(m->clrt, m->pressure_kernel, 1, m->pressure, "pressure_faces pressure"));
  PP_CALL(set_buffers(m->pressure_kernel, 2, 4, pressure_args, "pressure_faces arguments"));
  PP_CL(clSetKernelArg(m->gather_external, 0, sizeof owned, &owned), "gather_external count");
  PP_CALL(set_buffers(m->gather_external, 1, 5, gather_args, "gather_external arguments"));
  PP_CALL(pp_clrt_launch(m->clrt, m->pressure_kernel, "mechanics pressure_faces", m->face_count, LOCAL_SIZE));
  PP_CALL(pp_clrt_launch(m->clrt, m->gather_external, "mechanics gather_external", m->owned, LOCAL_SIZE));
  return PP_OK;
}

/* external = (constant + pressure forces, or the constant ones without pressure faces) + contact */
static pp_err launch_contact(pp_mechanics *m)
{
  const pp_contact_state state = {m->displacement, m->velocity, m->mass_buffer, m->node_force,
                                   m->face_count ? m->external_force : m->constant_force, m->node_active, m->eroded};
  PP_CALL(pp_contact_evaluate(m->contact, &state, m->contact_dt, m->contact_accumulate));
  const cl_ulong owned = m->owned;
  const cl_mem args[3] = {m->face_count ? m->external_force : m->constant_force, pp_contact_force_buffer(m->contact),
                          m->external_force};
  pp_err local = PP_OK;
  cl_int status = clSetKernelArg(m->add_contact, 0, sizeof owned, &owned);
  for (int i = 0; status == CL_SUCCESS && i < 3; ++i)
    status = clSetKernelArg(m->add_contact, (cl_uint)(1 + i), sizeof(cl_mem), &args[i]);
  if (status != CL_SUCCESS)
    local = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "setting the add_contact arguments: %s (%d)",
                           pp_cl_error_name(status), (int)status);
  if (local == PP_OK) local = pp_clrt_launch(m->clrt, m->add_contact, "mechanics add_contact", m->owned * 3, LOCAL_SIZE);
  PP_CALL(pp_comm_agree(m->comm, local, "mechanics contact forces"));
  return PP_OK;
}

static pp_err evaluate(pp_mechanics *m)
{
  const size_t items = (m->elements + (size_t)m->width - 1) / (size_t)m->width;
  pp_err local = pp_clrt_launch(m->clrt, m->forces, "mechanics hex8_forces", items, LOCAL_SIZE);
  if (local == PP_OK && m->options.erosion)
    local = pp_clrt_launch(m->clrt, m->erode, "mechanics erode_elements", m->elements, LOCAL_SIZE);
  if (local == PP_OK) local = pp_clrt_launch(m->clrt, m->gather, "mechanics gather", m->owned, LOCAL_SIZE);
  if (local == PP_OK) local = launch_pressure(m);
  PP_CALL(pp_comm_agree(m->comm, local, "mechanics forces"));
  /* Until an element has eroded (the erosion term is still 0) every node is active and no
     correction accrues: node_activity and its sum wait for the first erosion (in evaluations of a
     small mesh, launches and reductions are most of the time). */
  if (m->options.erosion)
    PP_CALL(pp_reduce_sum_strided(m->reduce, m->eroded_energy, 0, 1, m->owned_elements, &m->eroded_total));
  if (m->options.erosion && m->eroded_total > 0) {
    /* dt: the step that ended at this state (0 at a reset) */
    local = pp_clrt_set_real_arg(m->clrt, m->activity, 1, m->contact_accumulate ? m->contact_dt : 0, "node_activity dt");
    if (local == PP_OK) local = pp_clrt_launch(m->clrt, m->activity, "mechanics node_activity", m->owned, LOCAL_SIZE);
    PP_CALL(pp_comm_agree(m->comm, local, "mechanics node activity"));
    PP_CALL(pp_reduce_sum_strided(m->reduce, m->erosion_force, 0, 1, m->owned, &m->eroded_correction));
  }
  if (m->contact) PP_CALL(launch_contact(m));
  PP_CALL(pp_reduce_sum_strided(m->reduce, m->energy, 0, 1, m->owned_elements, &m->stored));
  PP_CALL(pp_reduce_min(m->reduce, m->element_step, m->owned_elements, &m->stable));
  return PP_OK;
}

static pp_err exchange_displacement(pp_mechanics *m)
{
  PP_CALL(pp_halo_begin(m->halo, m->displacement, 3));
  PP_CALL(pp_halo_end(m->halo));
  return PP_OK;
}

pp_err pp_mechanics_create(pp_mechanics **mechanics, const pp_mesh *mesh, pp_clrt *clrt, pp_halo *halo,
                           pp_reduce *reduce, MPI_Comm comm, const pp_mechanics_options *options)
{
  *mechanics = NULL;
  PP_CALL(check_options(options));
  pp_mechanics *m = calloc(1, sizeof *m);
  PP_CHECK(m, PP_ERR_MEMORY, "out of memory creating the mechanics state");
  m->mesh = mesh;
  m->clrt = clrt;
  m->halo = halo;
  m->reduce = reduce;
  m->comm = comm;
  m->options = *options;
  m->owned = (size_t)mesh->owned_node_count;
  m->nodes = (size_t)mesh->node_count;
  m->elements = (size_t)mesh->element_count;
  m->owned_elements = (size_t)mesh->owned_element_count;
  m->load_factor = 1;
  m->rayleigh_scale = 1;
  m->damping = options->damping;
  pp_err err = PP_OK;
  if (options->erosion && options->nonlocal) {
    m->band_threshold = malloc((m->elements + 1) * sizeof *m->band_threshold);
    m->nonlocal_work = malloc((5 * m->elements + 1) * sizeof *m->nonlocal_work);
    if (!m->band_threshold || !m->nonlocal_work)
      err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the non-local criterion");
  }
  if (err == PP_OK) err = build_nodes(m);
  if (err == PP_OK) err = build_device(m);
  if (err == PP_OK) err = upload_constraints(m);
  err = pp_comm_agree(comm, err, "mechanics set-up");
  if (err == PP_OK && m->band_threshold)
    err = pp_nonlocal_create(&m->nonlocal, mesh, comm, options->nonlocal_radius);
  if (err == PP_OK) err = evaluate(m);
  if (err != PP_OK) {
    pp_mechanics_destroy(m);
    return err;
  }
  *mechanics = m;
  return PP_OK;
}

void pp_mechanics_destroy(pp_mechanics *m)
{
  if (!m) return;
  cl_mem buffers[] = {m->density_scale_buffer, m->displacement_low, m->corners,      m->element_nodes, m->material_index, m->materials,     m->displacement,
                      m->corner_force, m->energy,        m->dilatation,     m->element_step,  m->offsets,
                      m->entries,      m->node_force,    m->mass_buffer,    m->spring_buffer, m->kind_buffer,
                      m->target_buffer, m->external_force, m->velocity,     m->applied_force, m->previous_force,
                      m->terms,        m->ones,          m->face_reference, m->face_nodes,    m->face_force,
                      m->face_offsets, m->face_entries,  m->constant_force, m->element_values,
                      m->eroded,       m->tensile,       m->principal,      m->threshold,     m->failure_density,
                      m->damage,       m->eroded_energy, m->node_active,    m->eroding_force, m->erosion_force,
                      m->distortion,   m->distorted};
  for (size_t i = 0; i < sizeof buffers / sizeof *buffers; ++i)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  free(m->mass);
  free(m->spring);
  free(m->dof_kind);
  free(m->dof_target);
  free(m->saved_fields);
  free(m->saved_damage);
  free(m->density_scale);
  free(m->element_volume);
  pp_nonlocal_destroy(m->nonlocal);
  free(m->band_threshold);
  free(m->nonlocal_work);
  free(m);
}

/* ---- state ------------------------------------------------------------------------------------- */

pp_err pp_mechanics_get_constraints(const pp_mechanics *m, unsigned char *kind, double *target)
{
  if (kind) memcpy(kind, m->dof_kind, m->owned * 3);
  if (target) memcpy(target, m->dof_target, m->owned * 3 * sizeof *target);
  return PP_OK;
}

pp_err pp_mechanics_set_constraints(pp_mechanics *m, const unsigned char *kind, const double *target)
{
  pp_err err = PP_OK;
  for (size_t i = 0; i < m->owned * 3 && err == PP_OK; ++i)
    if (kind[i] > 1 || !isfinite(target[i]))
      err = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "mechanics: DOF %zu of owned node %zu: kind %d (0 or 1 expected), target %g", i % 3, i / 3,
                           kind[i], target[i]);
  if (err == PP_OK) {
    memcpy(m->dof_kind, kind, m->owned * 3);
    memcpy(m->dof_target, target, m->owned * 3 * sizeof *target);
    err = upload_constraints(m);
  }
  return pp_comm_agree(m->comm, err, "mechanics constraints");
}

void pp_mechanics_set_load_factor(pp_mechanics *m, double factor) { m->load_factor = factor; }

static pp_err set_penalty(pp_mechanics *m);

pp_err pp_mechanics_set_contact(pp_mechanics *m, pp_contact *contact, double penalty_factor)
{
  m->contact = contact;
  if (!contact) {
    /* the contact forces leave the external forces: the constant ones again (pressure: evaluate) */
    pp_err local = PP_OK;
    if (m->face_count == 0 && m->owned > 0) {
      cl_int status = clEnqueueCopyBuffer(pp_clrt_queue(m->clrt), m->constant_force, m->external_force, 0, 0,
                                          m->owned * 3 * (size_t)pp_clrt_real_size(m->clrt), 0, NULL, NULL);
      if (status != CL_SUCCESS)
        local = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "copying the constant forces: %s (%d)",
                               pp_cl_error_name(status), (int)status);
    }
    PP_CALL(pp_comm_agree(m->comm, local, "mechanics contact removed"));
    PP_CALL(evaluate(m));
    return PP_OK;
  }
  const double safety = m->options.step_safety;
  PP_CHECK(penalty_factor > 0 && penalty_factor <= 0.2 && safety * safety * (1 + penalty_factor) <= 1, PP_ERR_ARGUMENT,
           "contact penalty factor %g with step safety %g: expected 0 < factor <= 0.2 and safety^2 (1 + factor) <= 1 "
           "(else the penalty makes the explicit step unstable)", penalty_factor, safety);
  m->penalty_factor = penalty_factor;
  PP_CALL(set_penalty(m));
  /* the current state's forces with the needles where they are now */
  m->contact_dt = pp_mechanics_automatic_step(m);
  PP_CALL(evaluate(m));
  return PP_OK;
}

/* The contact's penalty stiffness from the nodes' masses and the current stable step. */
static pp_err set_penalty(pp_mechanics *m)
{
  pp_contact *contact = m->contact;
  const double penalty_factor = m->penalty_factor;
  const size_t faces = pp_contact_face_count(contact);
  const int *face_element = pp_contact_face_elements(contact);
  double *stiffness = malloc((m->owned + 1) * sizeof *stiffness), *face_stiffness = malloc((faces + 1) * sizeof *face_stiffness);
  pp_err err = stiffness && face_stiffness ? PP_OK
                                           : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  const double omega = 2 / m->stable;
  for (size_t n = 0; stiffness && n < m->owned; ++n) stiffness[n] = penalty_factor * m->mass[n] * omega * omega;
  for (size_t f = 0; face_stiffness && f < faces; ++f) {
    const size_t e = (size_t)face_element[f];
    const double mass = m->options.layer[m->mesh->element_layer[e]].density * m->density_scale[e] *
                        pp_hex8_volume(m->mesh->element_corner_coords + 24 * e);
    face_stiffness[f] = penalty_factor * mass / 2 * omega * omega;
  }
  err = pp_comm_agree(m->comm, err, "contact stiffness");
  if (err == PP_OK) err = pp_contact_set_stiffness(contact, stiffness, face_stiffness);
  free(stiffness);
  free(face_stiffness);
  return err;
}

/* Brings the nodes to rest between two relaxations and closes the energy balance up to the state
 * that the last step reached: the external work over that step's interval (the trapezoidal rule,
 * which the next step would have counted), and its kinetic energy as dissipated (the relaxation
 * damps it anyway; at a converged increment it is at most tolerance^2 of the stored energy). The
 * next step is a first step from rest, so no force or mass changed in between enters the discrete
 * kinetic energy: a leapfrog step across a jump of the force (a new penalty) puts (dt df)^2 / 8m
 * into it from nothing. COLLECTIVE. */
static pp_err come_to_rest(pp_mechanics *m)
{
  const size_t N = m->owned, D = 3 * N;
  double *v = malloc((D + 1) * sizeof *v), *before = malloc((D + 1) * sizeof *before),
         *now = malloc((D + 1) * sizeof *now), *work = malloc((N + 1) * sizeof *work),
         *kinetic = malloc((N + 1) * sizeof *kinetic);
  pp_err local = v && before && now && work && kinetic
                   ? PP_OK
                   : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the rest state");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->velocity, v, D, "velocity");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->applied_force, before, D, "applied forces");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->external_force, now, D, "external forces");
  double work_sum = 0, kinetic_sum = 0;
  /* agreed before the collective sums, so that no rank waits in them for one that failed */
  local = pp_comm_agree(m->comm, local, "reading the state to bring it to rest");
  if (local == PP_OK) {
    for (size_t n = 0; n < N; ++n) {
      work[n] = kinetic[n] = 0;
      for (int d = 0; d < 3; ++d) {
        const size_t dof = 3 * n + (size_t)d;
        /* a prescribed DOF held still has no velocity; the relaxations do not move constraints */
        work[n] += (before[dof] + now[dof]) / 2 * m->dt_previous * v[dof];
        kinetic[n] += m->mass[n] * v[dof] * v[dof] / 2;
        v[dof] = 0;
      }
    }
    local = pp_reduce_sum_host(work, N, m->comm, &work_sum);
    if (local == PP_OK) local = pp_reduce_sum_host(kinetic, N, m->comm, &kinetic_sum);
  }
  if (local == PP_OK) local = pp_clrt_write_reals(m->clrt, m->velocity, v, D, "velocity at rest");
  free(v);
  free(before);
  free(now);
  free(work);
  free(kinetic);
  PP_CALL(pp_comm_agree(m->comm, local, "bringing the nodes to rest"));
  if (m->dt_previous > 0) {
    m->work += work_sum;
    m->dissipated += kinetic_sum;
  }
  m->dt_previous = 0;
  return PP_OK;
}

pp_err pp_mechanics_refit_masses(pp_mechanics *m)
{
  PP_CHECK(m->options.mass_scaling_uniform && m->uniform_step > 0, PP_ERR_ARGUMENT,
           "mechanics: refitting the masses needs mass_scaling_uniform (fictitious masses)");
  PP_CALL(come_to_rest(m));
  const size_t E = m->elements;
  double *step = malloc((E + 1) * sizeof *step);
  pp_err local = step ? pp_clrt_read_reals(m->clrt, m->element_step, step, E, "element steps")
                      : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the element steps");
  /* step = bound sqrt(scale); an eroded (1e30) or inverted (-1) element keeps its scale */
  for (size_t e = 0; local == PP_OK && e < E; ++e) {
    if (!(step[e] > 0 && step[e] < 1e29)) continue;
    const double ratio = m->uniform_step * sqrt(m->density_scale[e]) / step[e];
    m->density_scale[e] = fmax(1, ratio * ratio);
  }
  free(step);
  PP_CALL(pp_comm_agree(m->comm, local, "refitting the masses"));
  PP_CALL(sum_node_masses(m)); /* collective: after the agreement */
  local = pp_clrt_write_reals(m->clrt, m->density_scale_buffer, m->density_scale, E, "mass scaling factors");
  if (local == PP_OK) local = pp_clrt_write_reals(m->clrt, m->mass_buffer, m->mass, m->owned, "mechanics masses");
  PP_CALL(pp_comm_agree(m->comm, local, "uploading the refitted masses"));
  PP_CALL(evaluate(m)); /* the element steps and the stable step with the new scales */
  if (m->contact) {
    PP_CALL(set_penalty(m));
    PP_CALL(evaluate(m)); /* the contact forces with the new penalty */
  }
  return PP_OK;
}

pp_err pp_mechanics_set_external_force(pp_mechanics *m, const double *force)
{
  pp_err err = pp_clrt_write_reals(m->clrt, m->constant_force, force, m->owned * 3, "mechanics constant forces");
  /* without pressure faces the external force is the constant one (no gather runs) */
  if (err == PP_OK && m->face_count == 0)
    err = pp_clrt_write_reals(m->clrt, m->external_force, force, m->owned * 3, "mechanics external forces");
  if (err == PP_OK) err = launch_pressure(m);
  PP_CALL(pp_comm_agree(m->comm, err, "mechanics external forces"));
  /* the needles' forces on top again (they are part of the external forces) */
  if (m->contact) PP_CALL(launch_contact(m));
  return PP_OK;
}

void pp_mechanics_set_pressure(pp_mechanics *m, double pressure) { m->pressure = pressure; }

pp_err pp_mechanics_set_pressure_faces(pp_mechanics *m, const unsigned char *mask)
{
  cl_mem old[5] = {m->face_reference, m->face_nodes, m->face_force, m->face_offsets, m->face_entries};
  for (int i = 0; i < 5; ++i)
    if (old[i]) clReleaseMemObject(old[i]);
  m->face_reference = m->face_nodes = m->face_force = m->face_offsets = m->face_entries = NULL;
  m->face_count = 0;
  pp_face_set faces;
  pp_err err = pp_face_set_build(m->mesh, mask, &faces);
  if (err == PP_OK) m->face_count = faces.count;
  const size_t rs = (size_t)pp_clrt_real_size(m->clrt), F = m->face_count;
  if (err == PP_OK) err = device_buffer(m, F * 12 * rs, "pressure face corners", &m->face_reference);
  if (err == PP_OK) err = device_buffer(m, F * 4 * sizeof(int), "pressure face nodes", &m->face_nodes);
  if (err == PP_OK) err = device_buffer(m, F * 12 * rs, "pressure face forces", &m->face_force);
  if (err == PP_OK) err = device_buffer(m, (m->owned + 1) * sizeof(int), "pressure face offsets", &m->face_offsets);
  if (err == PP_OK) err = device_buffer(m, F * 4 * sizeof(int), "pressure face entries", &m->face_entries);
  if (err == PP_OK) err = pp_clrt_write_reals(m->clrt, m->face_reference, faces.reference, F * 12, "pressure face corners");
  if (err == PP_OK && F)
    err = pp_clrt_write(m->clrt, m->face_nodes, 0, F * 4 * sizeof(int), faces.nodes, "pressure face nodes");
  if (err == PP_OK)
    err = pp_clrt_write(m->clrt, m->face_offsets, 0, (m->owned + 1) * sizeof(int), faces.offset, "pressure face offsets");
  if (err == PP_OK && F)
    err = pp_clrt_write(m->clrt, m->face_entries, 0, F * 4 * sizeof(int), faces.entry, "pressure face entries");
  if (err == PP_OK && F == 0 && m->owned > 0) {
    /* no pressure: the external force is the constant one again */
    cl_int status = clEnqueueCopyBuffer(pp_clrt_queue(m->clrt), m->constant_force, m->external_force, 0, 0,
                                        m->owned * 3 * rs, 0, NULL, NULL);
    if (status != CL_SUCCESS)
      err = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "copying the constant forces: %s (%d)",
                           pp_cl_error_name(status), (int)status);
  }
  if (faces.key) pp_face_set_free(&faces);
  PP_CALL(pp_comm_agree(m->comm, err, "mechanics pressure faces"));
  PP_CALL(evaluate(m));
  return PP_OK;
}

/* Owned displacements as doubles: hi (+ lo in float builds). */
static pp_err read_displacement(pp_mechanics *m, double *u)
{
  const size_t count = m->owned * 3;
  PP_CALL(pp_clrt_read_reals(m->clrt, m->displacement, u, count, "displacement"));
  if (pp_clrt_real_size(m->clrt) == 8) return PP_OK;
  double *low = malloc((count + 1) * sizeof *low);
  PP_CHECK(low, PP_ERR_MEMORY, "out of memory reading the displacement");
  pp_err err = pp_clrt_read_reals(m->clrt, m->displacement_low, low, count, "displacement low parts");
  for (size_t i = 0; err == PP_OK && i < count; ++i) u[i] += low[i];
  free(low);
  return err;
}

/* Owned displacements from doubles: in float builds split into hi = float(u), lo = float(u - hi). */
static pp_err write_displacement(pp_mechanics *m, const double *u)
{
  const size_t count = m->owned * 3;
  PP_CALL(pp_clrt_write_reals(m->clrt, m->displacement, u, count, "displacement"));
  if (pp_clrt_real_size(m->clrt) == 8) return PP_OK;
  double *low = malloc((count + 1) * sizeof *low);
  PP_CHECK(low, PP_ERR_MEMORY, "out of memory writing the displacement");
  for (size_t i = 0; i < count; ++i) low[i] = u[i] - (double)(float)u[i];
  pp_err err = pp_clrt_write_reals(m->clrt, m->displacement_low, low, count, "displacement low parts");
  free(low);
  return err;
}

pp_err pp_mechanics_set_state(pp_mechanics *m, const double *displacement, const double *velocity)
{
  pp_err err = PP_OK;
  if (displacement) err = write_displacement(m, displacement);
  if (err == PP_OK && velocity) err = pp_clrt_write_reals(m->clrt, m->velocity, velocity, m->owned * 3, "velocity");
  PP_CALL(pp_comm_agree(m->comm, err, "mechanics state"));
  PP_CALL(exchange_displacement(m));
  PP_CALL(evaluate(m));
  m->dt_previous = 0;
  m->work = m->dissipated = 0;
  m->balance_started = 0;
  return PP_OK;
}

pp_err pp_mechanics_get_state(pp_mechanics *m, double *displacement, double *velocity)
{
  pp_err err = PP_OK;
  if (displacement) err = read_displacement(m, displacement);
  if (err == PP_OK && velocity) err = pp_clrt_read_reals(m->clrt, m->velocity, velocity, m->owned * 3, "velocity");
  return err;
}

pp_err pp_mechanics_get_internal_force(pp_mechanics *m, double *force)
{
  return pp_clrt_read_reals(m->clrt, m->node_force, force, m->owned * 3, "internal forces");
}

pp_err pp_mechanics_get_applied_force(pp_mechanics *m, double *force)
{
  return pp_clrt_read_reals(m->clrt, m->applied_force, force, m->owned * 3, "applied forces");
}

pp_err pp_mechanics_get_element_state(pp_mechanics *m, double *dilatation, double *energy)
{
  pp_err err = PP_OK;
  if (dilatation) err = pp_clrt_read_reals(m->clrt, m->dilatation, dilatation, m->owned_elements, "dilatations");
  if (err == PP_OK && energy) err = pp_clrt_read_reals(m->clrt, m->energy, energy, m->owned_elements, "energies");
  return err;
}

double pp_mechanics_stable_step(const pp_mechanics *m) { return m->stable; }
double pp_mechanics_automatic_step(const pp_mechanics *m) { return m->options.step_safety * m->stable; }
double pp_mechanics_time(const pp_mechanics *m) { return m->time; }
long long pp_mechanics_step_count(const pp_mechanics *m) { return m->step; }
const double *pp_mechanics_node_mass(const pp_mechanics *m) { return m->mass; }
double pp_mechanics_total_mass(const pp_mechanics *m) { return m->total_mass; }
int pp_mechanics_element_width(const pp_mechanics *m) { return m->width; }
double pp_mechanics_added_mass(const pp_mechanics *m) { return m->added_mass; }
long long pp_mechanics_scaled_elements(const pp_mechanics *m) { return m->scaled_elements; }

/* ---- stepping ---------------------------------------------------------------------------------- */

pp_err pp_mechanics_step(pp_mechanics *m, double dt, pp_mechanics_step_info *info)
{
  PP_CHECK(m->stable > 0, PP_ERR_SOLVER,
           "mechanics step %lld at t = %.9g s: an element is inverted (J <= 0 at a Gauss point) in the current "
           "state: the step was above the stability limit, or the load is too fast for the mesh", m->step + 1,
           m->time);
  if (!(dt > 0)) dt = pp_mechanics_automatic_step(m);
  PP_CHECK(dt > 0 && isfinite(dt), PP_ERR_SOLVER, "mechanics step %lld at t = %.9g s: no finite positive time step "
           "(stable step %g s)", m->step + 1, m->time, m->stable);
  pp_err local = pp_clrt_set_real_arg(m->clrt, m->update, 1, m->dt_previous, "central_difference dt");
  if (local == PP_OK) local = pp_clrt_set_real_arg(m->clrt, m->update, 2, dt, "central_difference dt");
  if (local == PP_OK) local = pp_clrt_set_real_arg(m->clrt, m->update, 3, m->damping, "central_difference damping");
  if (local == PP_OK) local = pp_clrt_set_real_arg(m->clrt, m->update, 4, m->load_factor, "central_difference load");
  if (local == PP_OK)
    local = pp_clrt_set_real_arg(m->clrt, m->update, 5, m->rayleigh_scale, "central_difference Rayleigh scale");
  if (local == PP_OK) local = pp_clrt_launch(m->clrt, m->update, "mechanics central_difference", m->owned, LOCAL_SIZE);
  PP_CALL(pp_comm_agree(m->comm, local, "mechanics update"));
  double sums[TERM_COUNT];
  PP_CALL(pp_reduce_dots(m->reduce, m->terms, m->ones, m->owned, TERM_COUNT, sums));
  const double kinetic = sums[0], stored = m->stored + sums[3], eroded = m->eroded_total + m->eroded_correction;
  m->work += sums[1];
  m->dissipated += sums[2];
  /* the next step's du.M du is about this one's: rescale so it stays near 1 */
  if (sums[7] > 0 && isfinite(sums[7])) m->rayleigh_scale /= sums[7];
  if (!m->balance_started) {
    m->initial_energy = kinetic + stored + eroded;
    m->balance_started = 1;
  }
  const double balance_time = m->time;
  PP_CALL(exchange_displacement(m));
  m->contact_dt = dt;
  m->contact_accumulate = 1;
  const pp_err evaluated = evaluate(m);
  m->contact_accumulate = 0;
  PP_CALL(evaluated);
  m->time += dt;
  m->step += 1;
  m->dt_previous = dt;
  PP_CHECK(m->stable > 0, PP_ERR_SOLVER,
           "mechanics step %lld to t = %.9g s (dt %g s): an element inverted (J <= 0 at a Gauss point): the step "
           "was above the stability limit, or the load is too fast for the mesh", m->step, m->time, dt);
  PP_CHECK(isfinite(kinetic) && isfinite(m->stored), PP_ERR_SOLVER,
           "mechanics step %lld at t = %.9g s (dt %g s, stable step %g s): the state is no longer finite (kinetic "
           "energy %g J, stored %g J): the step is above the stability limit or an element collapsed",
           m->step, m->time, dt, m->stable, kinetic, m->stored);
  if (info) {
    info->step = m->step;
    info->time = m->time;
    info->dt = dt;
    info->next_stable_step = m->stable;
    info->balance_time = balance_time;
    info->kinetic = kinetic;
    info->stored = stored;
    info->external_work = m->work;
    info->dissipated = m->dissipated;
    info->eroded = eroded;
    info->closure = kinetic + stored + m->dissipated + eroded - m->work - m->initial_energy;
    info->residual_norm = sqrt(sums[4]);
    info->force_norm = sqrt(sums[5]);
    info->rayleigh = sums[7] > 0 ? sums[6] / sums[7] : 0;
    info->kinetic_ratio = stored > 0 ? kinetic / stored : 0;
  }
  return PP_OK;
}

pp_err pp_mechanics_relax(pp_mechanics *m, double tolerance, long long max_steps, pp_mechanics_relax_info *info)
{
  return pp_mechanics_relax_driven(m, tolerance, max_steps, 0, 0, NULL, NULL, info);
}

pp_err pp_mechanics_relax_driven(pp_mechanics *m, double tolerance, long long max_steps, double force_scale,
                                 double energy_scale, pp_mechanics_relax_hook hook, void *context,
                                 pp_mechanics_relax_info *info)
{
  pp_mechanics_relax_info result = {0};
  const double damping = m->damping;
  double c = 0;
  pp_err err = PP_OK;
  while (result.steps < max_steps) {
    pp_mechanics_step_info step;
    m->damping = c;
    int loading = 0;
    const double dt = pp_mechanics_automatic_step(m);
    if (hook && (err = hook(context, result.steps, dt, result.steps ? &result.last : NULL, &loading)) != PP_OK) break;
    if ((err = pp_mechanics_step(m, dt, &step)) != PP_OK) break;
    result.steps += 1;
    result.last = step;
    result.residual_ratio = step.force_norm > 0 ? step.residual_norm / step.force_norm : step.residual_norm;
    result.damping = c;
    /* The residual alone can pass through zero while the body swings through equilibrium at full
       speed; the kinetic energy then is ~ the swing's stored energy. At a true rest state the
       error displacement is ~ tolerance of the displacement, so its energy ~ tolerance^2 of the
       stored energy: require both. */
    if (!loading && result.steps > 1 && step.residual_norm <= tolerance * fmax(step.force_norm, force_scale) &&
        step.kinetic <= tolerance * tolerance * fmax(step.stored, energy_scale)) {
      result.converged = 1;
      break;
    }
    if (step.rayleigh > 0) c = fmin(2 * sqrt(step.rayleigh), 1 / pp_mechanics_automatic_step(m));
  }
  m->damping = damping;
  if (info) *info = result;
  return err;
}

/* ---- output and restart ------------------------------------------------------------------------ */

pp_err pp_mechanics_element_output(pp_mechanics *m, double *values)
{
  const size_t rs = (size_t)pp_clrt_real_size(m->clrt), E = m->owned_elements;
  if (!m->element_values) {
    PP_CALL(device_buffer(m, E * PP_MECHANICS_ELEMENT_OUTPUT * rs, "mechanics element output", &m->element_values));
    PP_CALL(pp_clrt_kernel_with_options(m->clrt, "mechanics", m->build_options, "element_output", &m->output_kernel));
  }
  const cl_ulong count = E;
  const cl_mem args[6] = {m->corners, m->element_nodes, m->displacement, m->material_index, m->materials,
                          m->element_values};
  PP_CL(clSetKernelArg(m->output_kernel, 0, sizeof count, &count), "element_output count");
  PP_CALL(set_buffers(m->output_kernel, 1, 6, args, "element_output arguments"));
  PP_CALL(pp_clrt_launch(m->clrt, m->output_kernel, "mechanics element_output", E, LOCAL_SIZE));
  PP_CALL(pp_clrt_read_reals(m->clrt, m->element_values, values, E * PP_MECHANICS_ELEMENT_OUTPUT, "element output"));
  return PP_OK;
}

static pp_err output_mesh(const pp_mechanics *m, pp_mesh **mesh)
{
  PP_CHECK(m->mesh->output_node_ids, PP_ERR_ARGUMENT, "mechanics output: build the mesh's output view first");
  *mesh = (pp_mesh *)(uintptr_t)m->mesh;
  return PP_OK;
}

/* A node field of 3 values per owned node (the displacement: hi + lo) in output order; ghosts
 * through a host halo exchange. COLLECTIVE. */
static pp_err node_field_to_output(pp_mechanics *m, cl_mem buffer, double *out)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(m, &mesh));
  double *local = calloc(m->nodes * 3 + 1, sizeof *local);
  pp_err err = local ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for output");
  if (err == PP_OK)
    err = buffer == m->displacement ? read_displacement(m, local)
                                    : pp_clrt_read_reals(m->clrt, buffer, local, m->owned * 3, "mechanics node field");
  err = pp_comm_agree(m->comm, err, "reading a mechanics node field");
  if (err == PP_OK) err = pp_halo_exchange_host(m->halo, local, 3);
  if (err == PP_OK) err = pp_mesh_output_node_values(mesh, local, 3, out);
  free(local);
  return err;
}

pp_err pp_mechanics_write_step(pp_mechanics *m, pp_io_series *series)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(m, &mesh));
  const size_t nodes_out = (size_t)mesh->output_node_count, E = m->owned_elements;
  double *node_values = malloc((nodes_out * 3 + 1) * sizeof *node_values);
  double *element = malloc((E * PP_MECHANICS_ELEMENT_OUTPUT + 1) * sizeof *element);
  double *cell = malloc((E * 9 + 1) * sizeof *cell);
  pp_err err = node_values && element && cell ? PP_OK
                                              : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                                                               "out of memory for the mechanics output");
  err = pp_comm_agree(m->comm, err, "mechanics output buffers");
  if (err == PP_OK) err = node_field_to_output(m, m->displacement, node_values);
  if (err == PP_OK) err = pp_io_write_node_field(series, "displacement", "m", 3, node_values);
  if (err == PP_OK) err = node_field_to_output(m, m->velocity, node_values);
  if (err == PP_OK) err = pp_io_write_node_field(series, "velocity", "m/s", 3, node_values);
  if (err == PP_OK) err = pp_comm_agree(m->comm, pp_mechanics_element_output(m, element), "mechanics element output");
  /* cell fields: 9, 1, 3 components out of each element's 13 values, then J_bar */
  const int first[3] = {0, 9, 10}, width[3] = {9, 1, 3};
  const char *names[3] = {"cauchy_stress", "von_mises", "principal_stretch"}, *units[3] = {"Pa", "Pa", "1"};
  for (int f = 0; f < 3 && err == PP_OK; ++f) {
    for (size_t e = 0; e < E; ++e)
      for (int k = 0; k < width[f]; ++k)
        cell[e * (size_t)width[f] + (size_t)k] = element[e * PP_MECHANICS_ELEMENT_OUTPUT + (size_t)(first[f] + k)];
    err = pp_io_write_cell_field(series, names[f], units[f], width[f], cell);
  }
  if (err == PP_OK) err = pp_comm_agree(m->comm, pp_mechanics_get_element_state(m, cell, NULL), "mechanics dilatation");
  if (err == PP_OK) err = pp_io_write_cell_field(series, "dilatation", "1", 1, cell);
  if (m->options.erosion) {
    if (err == PP_OK) err = pp_comm_agree(m->comm, pp_mechanics_get_damage(m, cell, NULL), "mechanics eroded flags");
    if (err == PP_OK) err = pp_io_write_cell_field(series, "eroded", "1", 1, cell);
    if (err == PP_OK) err = pp_comm_agree(m->comm, pp_mechanics_get_damage(m, NULL, cell), "mechanics damage");
    if (err == PP_OK) err = pp_io_write_cell_field(series, "damage", "1", 1, cell);
  }
  free(node_values);
  free(element);
  free(cell);
  return err;
}

pp_err pp_mechanics_get_local_displacement(pp_mechanics *m, double *displacement)
{
  memset(displacement, 0, m->nodes * 3 * sizeof *displacement);
  PP_CALL(pp_comm_agree(m->comm, read_displacement(m, displacement), "reading the displacement"));
  PP_CALL(pp_halo_exchange_host(m->halo, displacement, 3));
  return PP_OK;
}

pp_err pp_mechanics_get_damage(pp_mechanics *m, double *eroded, double *damage)
{
  pp_err err = PP_OK;
  if (eroded) err = pp_clrt_read_reals(m->clrt, m->eroded, eroded, m->owned_elements, "eroded flags");
  for (size_t e = 0; eroded && err == PP_OK && e < m->owned_elements; ++e) eroded[e] = eroded[e] != 0; /* 2: just now */
  if (err == PP_OK && damage) err = pp_clrt_read_reals(m->clrt, m->damage, damage, m->owned_elements, "damage");
  return err;
}

pp_err pp_mechanics_nonlocal_mark(pp_mechanics *m, long long *marked)
{
  *marked = 0;
  PP_CHECK(m->nonlocal, PP_ERR_ARGUMENT, "mechanics: the non-local criterion is not on (options.nonlocal)");
  const size_t E = m->elements, owned = m->owned_elements;
  double *tensile = m->nonlocal_work, *principal = tensile + E, *eroded = principal + E, *average = eroded + E,
         *threshold = average + E;
  pp_err local = pp_clrt_read_reals(m->clrt, m->tensile, tensile, E, "element tensile energies");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->principal, principal, E, "largest principal stresses");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->eroded, eroded, E, "eroded flags");
  PP_CALL(pp_comm_agree(m->comm, local, "the non-local criterion's inputs"));
  /* an eroded element holds no energy: it enters the average as 0 */
  for (size_t e = 0; e < E; ++e)
    if (eroded[e] != 0) tensile[e] = 0;
  PP_CALL(pp_nonlocal_average(m->nonlocal, tensile, average, NULL));
  long long count = 0;
  double largest = 0;
  for (size_t e = 0; e < E; ++e) {
    const int alive = eroded[e] == 0, reached = alive && average[e] >= m->band_threshold[e];
    threshold[e] = reached ? 0 : INFINITY;
    if (e < owned && alive) largest = fmax(largest, average[e] / m->band_threshold[e]);
    if (e < owned && reached && principal[e] > 0) ++count;
  }
  local = pp_clrt_write_reals(m->clrt, m->threshold, threshold, E, "erosion thresholds");
  PP_CALL(pp_comm_agree(m->comm, local, "marking elements to erode"));
  PP_MPI(MPI_Allreduce(&count, marked, 1, MPI_LONG_LONG, MPI_SUM, m->comm), "the non-local criterion");
  PP_MPI(MPI_Allreduce(&largest, &m->nonlocal_proximity, 1, MPI_DOUBLE, MPI_MAX, m->comm), "the non-local criterion");
  return PP_OK;
}

pp_err pp_mechanics_nonlocal_release(pp_mechanics *m)
{
  PP_CHECK(m->nonlocal, PP_ERR_ARGUMENT, "mechanics: the non-local criterion is not on (options.nonlocal)");
  double *threshold = m->nonlocal_work;
  for (size_t e = 0; e < m->elements; ++e) threshold[e] = INFINITY;
  PP_CALL(pp_comm_agree(m->comm, pp_clrt_write_reals(m->clrt, m->threshold, threshold, m->elements,
                                                     "erosion thresholds"), "clearing the erosion marks"));
  return PP_OK;
}

pp_err pp_mechanics_erosion_proximity(pp_mechanics *m, double *ratio)
{
  *ratio = 0;
  if (!m->options.erosion) return PP_OK;
  if (m->nonlocal) {
    *ratio = m->nonlocal_proximity;
    return PP_OK;
  }
  const size_t E = m->owned_elements;
  double *values = malloc((3 * E + 1) * sizeof *values);
  pp_err local = values ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->tensile, values, E, "element tensile energies");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->threshold, values + E, E, "erosion thresholds");
  if (local == PP_OK) local = pp_clrt_read_reals(m->clrt, m->eroded, values + 2 * E, E, "eroded flags");
  double largest = 0;
  for (size_t e = 0; local == PP_OK && e < E; ++e)
    if (values[2 * E + e] == 0 && values[E + e] > 0) largest = fmax(largest, values[e] / values[E + e]);
  free(values);
  PP_CALL(pp_comm_agree(m->comm, local, "the erosion proximity"));
  PP_MPI(MPI_Allreduce(&largest, ratio, 1, MPI_DOUBLE, MPI_MAX, m->comm), "the erosion proximity");
  return PP_OK;
}

pp_err pp_mechanics_erosion(pp_mechanics *m, pp_mechanics_erosion_totals *totals)
{
  memset(totals, 0, sizeof *totals);
  const size_t E = m->owned_elements, N = m->owned;
  double *flags = malloc((2 * E + N + 1) * sizeof *flags), *values = malloc((2 * E + N + 1) * sizeof *values);
  pp_err err = flags && values ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  if (err == PP_OK) err = pp_clrt_read_reals(m->clrt, m->eroded, flags, E, "eroded flags");
  if (err == PP_OK) err = pp_clrt_read_reals(m->clrt, m->node_active, flags + E, N, "node activity");
  if (err == PP_OK) err = pp_clrt_read_reals(m->clrt, m->distorted, flags + E + N, E, "distortion-eroded flags");
  long long count[2] = {0, 0};
  if (err == PP_OK) {
    /* volumes, masses (undeformed: rho V, without mass scaling), orphan masses: exact sums */
    for (size_t e = 0; e < E; ++e) {
      const int gone = flags[e] != 0;
      count[0] += gone;
      count[1] += flags[E + N + e] != 0;
      values[e] = gone ? m->element_volume[e] : 0;
      values[E + e] = gone ? m->element_volume[e] * m->options.layer[m->mesh->element_layer[e]].density : 0;
    }
    for (size_t n = 0; n < N; ++n) values[2 * E + n] = flags[E + n] == 0 ? m->mass[n] : 0;
  }
  err = pp_comm_agree(m->comm, err, "reading the erosion state");
  if (err == PP_OK) err = pp_reduce_sum_host(values, E, m->comm, &totals->volume);
  if (err == PP_OK) err = pp_reduce_sum_host(values + E, E, m->comm, &totals->mass);
  if (err == PP_OK) err = pp_reduce_sum_host(values + 2 * E, N, m->comm, &totals->orphan_mass);
  free(flags);
  free(values);
  PP_CALL(err);
  long long global[2] = {0, 0};
  PP_MPI(MPI_Allreduce(count, global, 2, MPI_LONG_LONG, MPI_SUM, m->comm), "counting eroded elements");
  totals->elements = global[0];
  totals->distorted = global[1];
  totals->energy = m->eroded_total + m->eroded_correction;
  return PP_OK;
}

static const char *const checkpoint_names[4] = {"displacement", "velocity_half_step", "applied_force",
                                                "previous_internal_force"};
static const char *const checkpoint_units[4] = {"m", "m/s", "N", "N"};

static cl_mem checkpoint_buffer(pp_mechanics *m, int k)
{
  const cl_mem buffers[4] = {m->displacement, m->velocity, m->applied_force, m->previous_force};
  return buffers[k];
}

pp_err pp_mechanics_register_checkpoint(pp_mechanics *m, pp_checkpoint *checkpoint)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(m, &mesh));
  PP_CHECK(!m->saved_fields, PP_ERR_ARGUMENT, "mechanics state registered twice");
  const size_t count = (size_t)mesh->output_node_count * 3;
  PP_MALLOC(m->saved_fields, 4 * count + 1, "mechanics checkpoint fields");
  memset(m->saved_fields, 0, (4 * count + 1) * sizeof *m->saved_fields);
  for (int k = 0; k < 4; ++k)
    PP_CALL(pp_checkpoint_register_node_field(checkpoint, checkpoint_names[k], checkpoint_units[k], 3,
                                              m->saved_fields + (size_t)k * count));
  PP_MALLOC(m->saved_damage, m->owned_elements + 1, "mechanics checkpoint damage");
  memset(m->saved_damage, 0, (m->owned_elements + 1) * sizeof *m->saved_damage);
  PP_CALL(pp_checkpoint_register_cell_field(checkpoint, "damage", "1", 1, m->saved_damage));
  struct {
    const char *name;
    double *value;
  } doubles[] = {{"mechanics_time", &m->saved_time},
                 {"mechanics_dt_previous", &m->saved_dt_previous},
                 {"mechanics_external_work", &m->saved_work},
                 {"mechanics_dissipated", &m->saved_dissipated},
                 {"mechanics_initial_energy", &m->saved_initial_energy},
                 {"mechanics_load_factor", &m->saved_load_factor},
                 {"mechanics_pressure", &m->saved_pressure}};
  for (size_t i = 0; i < sizeof doubles / sizeof *doubles; ++i)
    PP_CALL(pp_checkpoint_register_scalar_double(checkpoint, doubles[i].name, doubles[i].value));
  PP_CALL(pp_checkpoint_register_scalar_int64(checkpoint, "mechanics_step", &m->saved_step));
  PP_CALL(pp_checkpoint_register_scalar_int64(checkpoint, "mechanics_balance_started", &m->saved_balance_started));
  return PP_OK;
}

pp_err pp_mechanics_checkpoint_save(pp_mechanics *m)
{
  PP_CHECK(m->saved_fields, PP_ERR_ARGUMENT, "mechanics state saved before pp_mechanics_register_checkpoint");
  if (m->options.erosion) {
    pp_mechanics_erosion_totals eroded;
    PP_CALL(pp_mechanics_erosion(m, &eroded));
    PP_CHECK(eroded.elements == 0, PP_ERR_ARGUMENT,
             "mechanics checkpoint at step %lld: %lld elements have eroded, and the checkpoint does not carry "
             "erosion's state yet (mechanics.h)", m->step, eroded.elements);
  }
  const size_t count = (size_t)m->mesh->output_node_count * 3;
  for (int k = 0; k < 4; ++k)
    PP_CALL(node_field_to_output(m, checkpoint_buffer(m, k), m->saved_fields + (size_t)k * count));
  PP_CALL(pp_comm_agree(m->comm, pp_mechanics_get_damage(m, NULL, m->saved_damage), "saving the damage"));
  m->saved_time = m->time;
  m->saved_dt_previous = m->dt_previous;
  m->saved_work = m->work;
  m->saved_dissipated = m->dissipated;
  m->saved_initial_energy = m->initial_energy;
  m->saved_load_factor = m->load_factor;
  m->saved_pressure = m->pressure;
  m->saved_step = m->step;
  m->saved_balance_started = m->balance_started;
  return PP_OK;
}

pp_err pp_mechanics_checkpoint_restore(pp_mechanics *m)
{
  PP_CHECK(m->saved_fields, PP_ERR_ARGUMENT, "mechanics state restored before pp_mechanics_register_checkpoint");
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(m, &mesh));
  const size_t count = (size_t)mesh->output_node_count * 3;
  double *owned = malloc((m->owned * 3 + 1) * sizeof *owned);
  pp_err err = owned ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory restoring");
  for (int k = 0; k < 4 && err == PP_OK; ++k) {
    err = pp_mesh_local_from_output(mesh, m->saved_fields + (size_t)k * count, 3, owned);
    if (err == PP_OK)
      err = k == 0 ? write_displacement(m, owned)
                   : pp_clrt_write_reals(m->clrt, checkpoint_buffer(m, k), owned, m->owned * 3, checkpoint_names[k]);
  }
  free(owned);
  /* the owned elements' damage (ghost elements' damage is never read: outputs are owned) */
  if (err == PP_OK) err = pp_clrt_write_reals(m->clrt, m->damage, m->saved_damage, m->owned_elements, "damage");
  PP_CALL(pp_comm_agree(m->comm, err, "restoring the mechanics state"));
  m->time = m->saved_time;
  m->dt_previous = m->saved_dt_previous;
  m->work = m->saved_work;
  m->dissipated = m->saved_dissipated;
  m->initial_energy = m->saved_initial_energy;
  m->load_factor = m->saved_load_factor;
  m->pressure = m->saved_pressure;
  m->step = m->saved_step;
  m->balance_started = (int)m->saved_balance_started;
  PP_CALL(exchange_displacement(m));
  PP_CALL(evaluate(m));
  return PP_OK;
}
