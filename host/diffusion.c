/* diffusion: vertex-centred finite volumes with two-point edge fluxes, backward Euler or
 * variable-step BDF2, Jacobi-PCG on the device (see diffusion.h for the schemes and why). */
#include "diffusion.h"
#include "element.h"

#include "runtime.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LOCAL_SIZE = 64, SLOTS = 6 };
/* Backward-Euler steps after a reset before BDF2 takes over. One is not enough after a pulse: the
 * first BDF2 step would still read the raw pulse as c^{n-1} and, with a step long against the
 * pulse's spreading, turn the jump into an undershoot (-19 x the maximum after a 1 h step from an
 * indicator in test_positivity_bdf2; +0.027 with two). Two is the usual start on rough data
 * (Luskin and Rannacher 1982 for Crank-Nicolson). */
enum { BDF2_START_STEPS = 2 };

struct pp_diffusion {
  const pp_mesh *mesh;
  pp_clrt *clrt;
  pp_halo *halo;
  pp_reduce *reduce;
  MPI_Comm comm;
  int species;
  pp_diffusion_species parameters[PP_SOLVER_MAX_SPECIES];
  pp_solver *solver;
  pp_solver_options options;
  size_t owned, nodes;
  double *volume;                 /* host: [owned] lumped volumes */
  double *corner_volume;          /* host: [element_count * 8], for element sources */
  double *edge_geometry;          /* host: [owned * SLOTS] geometric conductances |S.t|/|t|^2 (no D) */
  long long non_orthogonal_edges; /* global */
  int interior_count, boundary_count;
  double current_dt;              /* dt the shift and diagonal were built for (0: none yet) */
  double current_leading;         /* and the a0 (1 for backward Euler, 3/2 for BDF2 at ratio 1) */
  double time;
  long long step;
  pp_time_scheme scheme;
  int history;                    /* BDF2: steps since the reset (0..BDF2_START_STEPS); > 0: `previous`
                                     holds c^{n-1} of the next step, previous_dt its dt */
  double previous_dt;             /* s, the last step's dt */
  cl_mem neighbour, conductance, mass, shift, inverse_diagonal, interior, boundary;
  cl_mem node_rate;               /* [owned * S] per-node linear rates, 1/s (zero unless set) */
  double smallest_node_rate;      /* global min of node_rate (0 when unset) */
  cl_mem c, b, source, terms;
  cl_mem previous;                /* [owned * S]: c^{n-1} (BDF2) */
  cl_kernel apply, diagonal, rhs, rhs_bdf2, mass_terms;
  pp_diffusion_preconditioner preconditioner;
  int line_count;                 /* z-line preconditioner: runs of owned nodes joined by z edges */
  cl_mem line_first, link_slot, pivot_inverse, line_coupling;
  cl_kernel line_factor, line_solve;
  double *source_host;            /* [owned * S], what set_source_rate held (restart state) */
  double *checkpoint_field;       /* [S][output count]: registered checkpoint arrays */
  double *checkpoint_source;      /* [S][output count] */
  double *checkpoint_previous;    /* [S][output count]: c^{n-1}, registered only with BDF2 */
  double checkpoint_time, checkpoint_previous_dt;
  long long checkpoint_step, checkpoint_history;
};

/* ---- geometry of one hex (VTK corner order, see mesh.h) -------------------------------------- */

/* The corner across the edge along `axis`. */
static int across(int c, int axis)
{
  static const int flip[3] = {1, 3, 4};
  return c ^ flip[axis];
}

static void centroid_where(const double *xyz, int axis, int bit, double out[3])
{
  out[0] = out[1] = out[2] = 0;
  for (int c = 0; c < 8; ++c)
    if (axis < 0 || pp_hex_corner_bit(c, axis) == bit)
      for (int d = 0; d < 3; ++d) out[d] += xyz[3 * c + d];
  double share = axis < 0 ? 0.125 : 0.25;
  for (int d = 0; d < 3; ++d) out[d] *= share;
}

/* Geometric conductance |S.t| / |t|^2 of the edge a-b (a < b, along `axis`) inside the element
 * with corners xyz: S is the element's part of the edge's median-dual face (edge midpoint, face
 * centroid, cell centroid, face centroid), t = x_b - x_a. Evaluated with a < b so both end nodes
 * get the same bits. *skew: 1 when S and t are not parallel. */
static double edge_weight(const double *xyz, int a, int b, int axis, int *skew)
{
  int beta = (axis + 1) % 3, gamma = (axis + 2) % 3;
  double cell[3], face_beta[3], face_gamma[3], d1[3], d2[3], t[3], area[3];
  centroid_where(xyz, -1, 0, cell);
  centroid_where(xyz, beta, pp_hex_corner_bit(a, beta), face_beta);
  centroid_where(xyz, gamma, pp_hex_corner_bit(a, gamma), face_gamma);
  for (int d = 0; d < 3; ++d) {
    d1[d] = cell[d] - 0.5 * (xyz[3 * a + d] + xyz[3 * b + d]);
    d2[d] = face_gamma[d] - face_beta[d];
    t[d] = xyz[3 * b + d] - xyz[3 * a + d];
  }
  area[0] = 0.5 * (d1[1] * d2[2] - d1[2] * d2[1]);
  area[1] = 0.5 * (d1[2] * d2[0] - d1[0] * d2[2]);
  area[2] = 0.5 * (d1[0] * d2[1] - d1[1] * d2[0]);
  double st = area[0] * t[0] + area[1] * t[1] + area[2] * t[2];
  double tt = t[0] * t[0] + t[1] * t[1] + t[2] * t[2];
  double ss = area[0] * area[0] + area[1] * area[1] + area[2] * area[2];
  *skew = st * st < ss * tt * (1 - 1e-12);
  return fabs(st) / tt;
}

/* ---- device helpers ---------------------------------------------------------------------------- */

static pp_err buffer(pp_diffusion *d, size_t count, size_t element_size, const char *what, cl_mem *out)
{
  PP_CALL(pp_clrt_buffer(d->clrt, CL_MEM_READ_WRITE, count * element_size, what, out));
  return PP_OK;
}

static pp_err set_buffers(cl_kernel k, cl_uint first, int count, const cl_mem *buffers, const char *what)
{
  for (int i = 0; i < count; ++i) PP_CL(clSetKernelArg(k, first + (cl_uint)i, sizeof(cl_mem), &buffers[i]), what);
  return PP_OK;
}

/* ---- set-up ------------------------------------------------------------------------------------ */

static pp_err build(pp_diffusion *d)
{
  const pp_mesh *mesh = d->mesh;
  const int S = d->species;
  const size_t owned = d->owned;
  int *neighbour = NULL, *interior = NULL, *boundary = NULL;
  double *conductance = NULL;
  pp_err err = PP_OK;
  long long skewed = 0;
  PP_MALLOC(d->volume, owned + 1, "lumped volumes");
  PP_MALLOC(d->corner_volume, 8 * (size_t)mesh->element_count + 1, "corner volumes");
  PP_MALLOC(d->edge_geometry, owned * SLOTS + 1, "geometric edge conductances");
  neighbour = malloc((owned * SLOTS + 1) * sizeof *neighbour);
  interior = malloc((owned + 1) * sizeof *interior);
  boundary = malloc((owned + 1) * sizeof *boundary);
  conductance = calloc(owned * SLOTS * (size_t)S + 1, sizeof *conductance);
  if (!neighbour || !interior || !boundary || !conductance) {
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the diffusion stencil");
    goto done;
  }
  for (int e = 0; e < mesh->element_count; ++e)
    for (int c = 0; c < 8; ++c) d->corner_volume[8 * e + c] = pp_hex8_corner_volume(mesh->element_corner_coords + 24 * (size_t)e, c);
  for (size_t n = 0; n < owned; ++n) {
    for (int slot = 0; slot < SLOTS; ++slot) neighbour[n * SLOTS + slot] = (int)n; /* no edge: itself, g = 0 */
    double volume = 0;
    /* Ascending global element id: the same additions in the same order on every partition. */
    for (int r = mesh->node_element_offset[n]; r < mesh->node_element_offset[n + 1]; ++r) {
      int entry = mesh->node_element_entry[r], e = entry / 8, c = entry % 8;
      const double *xyz = mesh->element_corner_coords + 24 * (size_t)e;
      volume += d->corner_volume[8 * e + c];
      for (int axis = 0; axis < 3; ++axis) {
        int other = across(c, axis), slot = 2 * axis + pp_hex_corner_bit(c, axis), skew = 0;
        int m = mesh->element_nodes[8 * e + other];
        int *stored = &neighbour[n * SLOTS + slot];
        if (*stored != (int)n && *stored != m) {
          err = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                               "diffusion: node %lld has two different neighbours in edge slot %d (mesh bug)",
                               mesh->node_global_id[n], slot);
          goto done;
        }
        *stored = m;
        double w = edge_weight(xyz, c < other ? c : other, c < other ? other : c, axis, &skew);
        skewed += skew;
        d->edge_geometry[n * SLOTS + (size_t)slot] += w;
        for (int s = 0; s < S; ++s)
          conductance[(n * SLOTS + (size_t)slot) * (size_t)S + (size_t)s] +=
            d->parameters[s].diffusivity[mesh->element_layer[e]] * w;
      }
    }
    d->volume[n] = volume;
  }
  /* Lines for the z-line preconditioner: node n+1 continues n's line when they share a z edge
   * (slots 4, 5). On a generated mesh those are the node columns, each whole on one rank
   * (column partition, ascending ids), so the preconditioner does not depend on the rank count;
   * an imported mesh is partitioned by METIS, whose node order and ownership say nothing about
   * columns, so there every node is its own line (the Jacobi preconditioner). */
  {
    int *link = malloc((owned + 1) * sizeof *link), *first = malloc((owned + 2) * sizeof *first);
    if (!link || !first) {
      free(link);
      free(first);
      err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the node lines");
      goto done;
    }
    int lines = 0;
    for (size_t n = 0; n < owned; ++n) {
      link[n] = -1;
      for (int slot = 4; slot < SLOTS && !mesh->imported && n + 1 < owned; ++slot)
        if (neighbour[n * SLOTS + slot] == (int)(n + 1)) link[n] = slot;
      if (n == 0 || link[n - 1] < 0) first[lines++] = (int)n;
    }
    first[lines] = (int)owned;
    d->line_count = lines;
    err = buffer(d, (size_t)lines + 1, sizeof(cl_int), "line starts", &d->line_first);
    if (err == PP_OK) err = buffer(d, owned + 1, sizeof(cl_int), "line links", &d->link_slot);
    if (err == PP_OK)
      err = pp_clrt_write(d->clrt, d->line_first, 0, ((size_t)lines + 1) * sizeof(cl_int), first, "line starts");
    if (err == PP_OK && owned) err = pp_clrt_write(d->clrt, d->link_slot, 0, owned * sizeof(cl_int), link, "line links");
    free(link);
    free(first);
    if (err != PP_OK) goto done;
    const size_t rs = (size_t)pp_clrt_real_size(d->clrt);
    if ((err = buffer(d, owned * (size_t)S + 1, rs, "line pivots", &d->pivot_inverse)) != PP_OK) goto done;
    if ((err = buffer(d, owned * (size_t)S + 1, rs, "line couplings", &d->line_coupling)) != PP_OK) goto done;
  }
  /* Interior nodes need no ghost value: they run while the halo is in flight. */
  d->interior_count = d->boundary_count = 0;
  for (size_t n = 0; n < owned; ++n) {
    int needs_ghost = 0;
    for (int slot = 0; slot < SLOTS; ++slot) needs_ghost |= neighbour[n * SLOTS + slot] >= (int)owned;
    if (needs_ghost) boundary[d->boundary_count++] = (int)n;
    else interior[d->interior_count++] = (int)n;
  }
  {
    const size_t rs = (size_t)pp_clrt_real_size(d->clrt), total = d->nodes * (size_t)S;
    if ((err = buffer(d, owned * SLOTS, sizeof(cl_int), "diffusion neighbours", &d->neighbour)) != PP_OK) goto done;
    if ((err = buffer(d, owned * SLOTS * (size_t)S, rs, "diffusion conductances", &d->conductance)) != PP_OK) goto done;
    if ((err = buffer(d, owned, rs, "diffusion lumped volumes", &d->mass)) != PP_OK) goto done;
    if ((err = buffer(d, (size_t)S, rs, "diffusion shifts", &d->shift)) != PP_OK) goto done;
    if ((err = buffer(d, owned * (size_t)S, rs, "diffusion inverse diagonal", &d->inverse_diagonal)) != PP_OK) goto done;
    if ((err = buffer(d, owned * (size_t)S, rs, "diffusion node rates", &d->node_rate)) != PP_OK) goto done;
    if ((err = buffer(d, (size_t)d->interior_count, sizeof(cl_int), "interior nodes", &d->interior)) != PP_OK) goto done;
    if ((err = buffer(d, (size_t)d->boundary_count, sizeof(cl_int), "boundary nodes", &d->boundary)) != PP_OK) goto done;
    if ((err = buffer(d, total, rs, "concentration", &d->c)) != PP_OK) goto done;
    if ((err = buffer(d, owned * (size_t)S, rs, "diffusion right-hand side", &d->b)) != PP_OK) goto done;
    if ((err = buffer(d, owned * (size_t)S, rs, "diffusion source", &d->source)) != PP_OK) goto done;
    if ((err = buffer(d, owned * (size_t)S, rs, "diffusion mass terms", &d->terms)) != PP_OK) goto done;
    if ((err = buffer(d, owned * (size_t)S, rs, "diffusion previous field", &d->previous)) != PP_OK) goto done;
    if (owned && (err = pp_clrt_write(d->clrt, d->neighbour, 0, owned * SLOTS * sizeof(cl_int), neighbour,
                                      "diffusion neighbours")) != PP_OK) goto done;
    if (d->interior_count && (err = pp_clrt_write(d->clrt, d->interior, 0, (size_t)d->interior_count * sizeof(cl_int),
                                                  interior, "interior nodes")) != PP_OK) goto done;
    if (d->boundary_count && (err = pp_clrt_write(d->clrt, d->boundary, 0, (size_t)d->boundary_count * sizeof(cl_int),
                                                  boundary, "boundary nodes")) != PP_OK) goto done;
    if ((err = pp_clrt_write_reals(d->clrt, d->conductance, conductance, owned * SLOTS * (size_t)S, "diffusion conductances")) != PP_OK)
      goto done;
    if ((err = pp_clrt_write_reals(d->clrt, d->mass, d->volume, owned, "diffusion lumped volumes")) != PP_OK) goto done;
    /* Zero field (ghosts too), zero source, and a defined c^{n-1} (a checkpoint of a run whose
     * history is not yet valid writes it). */
    double *zeros = calloc(total + 1, sizeof *zeros);
    if (!zeros) {
      err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for zeros");
      goto done;
    }
    err = pp_clrt_write_reals(d->clrt, d->c, zeros, total, "concentration");
    if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, d->source, zeros, owned * (size_t)S, "diffusion source");
    if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, d->previous, zeros, owned * (size_t)S, "diffusion previous field");
    if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, d->node_rate, zeros, owned * (size_t)S, "diffusion node rates");
    free(zeros);
    if (err != PP_OK) goto done;
  }
  {
    char options[64];
    snprintf(options, sizeof options, "-DSPECIES_COUNT=%d", S);
    if ((err = pp_clrt_kernel_with_options(d->clrt, "diffusion", options, "diffusion_apply", &d->apply)) != PP_OK ||
        (err = pp_clrt_kernel_with_options(d->clrt, "diffusion", options, "diffusion_inverse_diagonal", &d->diagonal)) !=
          PP_OK ||
        (err = pp_clrt_kernel_with_options(d->clrt, "diffusion", options, "diffusion_rhs", &d->rhs)) != PP_OK ||
        (err = pp_clrt_kernel_with_options(d->clrt, "diffusion", options, "diffusion_rhs_bdf2", &d->rhs_bdf2)) !=
          PP_OK ||
        (err = pp_clrt_kernel_with_options(d->clrt, "diffusion", options, "diffusion_mass_terms", &d->mass_terms)) !=
          PP_OK ||
        (err = pp_clrt_kernel_with_options(d->clrt, "diffusion", options, "diffusion_line_factor", &d->line_factor)) !=
          PP_OK ||
        (err = pp_clrt_kernel_with_options(d->clrt, "diffusion", options, "diffusion_line_solve", &d->line_solve)) !=
          PP_OK)
      goto done;
  }
  d->non_orthogonal_edges = skewed;
done:
  free(neighbour);
  free(interior);
  free(boundary);
  free(conductance);
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  return PP_OK;
}

pp_err pp_diffusion_create(pp_diffusion **diffusion, const pp_mesh *mesh, pp_clrt *clrt, pp_halo *halo,
                           pp_reduce *reduce, MPI_Comm comm, int species_count, const pp_diffusion_species *species)
{
  *diffusion = NULL;
  /* Argument checks are the same on every rank (same arguments), so every rank returns together. */
  PP_CHECK(species_count >= 1 && species_count <= PP_SOLVER_MAX_SPECIES, PP_ERR_ARGUMENT,
           "diffusion of %d species: 1 to %d supported", species_count, PP_SOLVER_MAX_SPECIES);
  for (int s = 0; s < species_count; ++s) {
    for (int layer = 0; layer < PP_LAYER_COUNT; ++layer)
      PP_CHECK(species[s].diffusivity[layer] > 0 && isfinite(species[s].diffusivity[layer]), PP_ERR_ARGUMENT,
               "species %d: diffusivity in layer %d (%s) must be positive, got %g m^2/s", s, layer,
               pp_mesh_layer_name(layer), species[s].diffusivity[layer]);
    PP_CHECK(species[s].decay_rate >= 0 && isfinite(species[s].decay_rate), PP_ERR_ARGUMENT,
             "species %d: decay rate must be >= 0, got %g 1/s", s, species[s].decay_rate);
  }
  pp_diffusion *d = calloc(1, sizeof *d);
  PP_CHECK(d, PP_ERR_MEMORY, "out of memory for the diffusion solver");
  d->mesh = mesh;
  d->clrt = clrt;
  d->halo = halo;
  d->reduce = reduce;
  d->comm = comm;
  d->species = species_count;
  memcpy(d->parameters, species, (size_t)species_count * sizeof *species);
  d->owned = (size_t)mesh->owned_node_count;
  d->nodes = (size_t)mesh->node_count;
  pp_solver_options_default(&d->options);
  pp_err err = PP_OK;
  d->source_host = calloc(d->owned * (size_t)species_count + 1, sizeof *d->source_host);
  if (!d->source_host) err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for sources");
  if (err == PP_OK) err = build(d);
  if (err == PP_OK)
    err = pp_solver_create(&d->solver, clrt, reduce, comm, d->owned, d->nodes, species_count);
  if (err == PP_OK) {
    long long local = d->non_orthogonal_edges;
    int code = MPI_Allreduce(&local, &d->non_orthogonal_edges, 1, MPI_LONG_LONG, MPI_SUM, comm);
    if (code != MPI_SUCCESS) err = pp_mpi_error(code, __FILE__, __LINE__, __func__, "summing skewed edges");
  }
  if (err != PP_OK) {
    pp_diffusion_destroy(d);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  *diffusion = d;
  return PP_OK;
}

void pp_diffusion_destroy(pp_diffusion *d)
{
  if (!d) return;
  pp_solver_destroy(d->solver);
  cl_mem buffers[] = {d->node_rate, d->neighbour, d->conductance, d->mass,       d->shift,         d->inverse_diagonal,
                      d->interior,  d->boundary,    d->c,          d->b,             d->source,
                      d->terms,     d->previous,    d->line_first, d->link_slot,     d->pivot_inverse,
                      d->line_coupling};
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; ++i)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  free(d->volume);
  free(d->corner_volume);
  free(d->edge_geometry);
  free(d->source_host);
  free(d->checkpoint_field);
  free(d->checkpoint_source);
  free(d->checkpoint_previous);
  free(d);
}

int pp_diffusion_species_count(const pp_diffusion *d) { return d->species; }
const double *pp_diffusion_node_volume(const pp_diffusion *d) { return d->volume; }
long long pp_diffusion_non_orthogonal_edges(const pp_diffusion *d) { return d->non_orthogonal_edges; }
void pp_diffusion_set_solver_options(pp_diffusion *d, const pp_solver_options *options) { d->options = *options; }
double pp_diffusion_time(const pp_diffusion *d) { return d->time; }
long long pp_diffusion_step_count(const pp_diffusion *d) { return d->step; }
void pp_diffusion_set_time(pp_diffusion *d, double time, long long step)
{
  d->time = time;
  d->step = step;
}

pp_err pp_diffusion_set_time_scheme(pp_diffusion *d, pp_time_scheme scheme)
{
  PP_CHECK(scheme == PP_TIME_BACKWARD_EULER || scheme == PP_TIME_BDF2, PP_ERR_ARGUMENT,
           "diffusion: unknown time scheme %d", (int)scheme);
  PP_CHECK(scheme != PP_TIME_BDF2 || !d->checkpoint_field || d->checkpoint_previous, PP_ERR_ARGUMENT,
           "diffusion: BDF2 chosen after pp_diffusion_register_checkpoint registered a backward-Euler state; "
           "choose the scheme first, so that BDF2's history is part of the checkpoint");
  d->scheme = scheme;
  d->history = 0;
  return PP_OK;
}

pp_time_scheme pp_diffusion_time_scheme(const pp_diffusion *d) { return d->scheme; }
void pp_diffusion_reset_history(pp_diffusion *d) { d->history = 0; }

pp_err pp_diffusion_set_field(pp_diffusion *d, const double *owned_values)
{
  PP_CALL(pp_clrt_write_reals(d->clrt, d->c, owned_values, d->owned * (size_t)d->species, "concentration"));
  d->history = 0;
  return PP_OK;
}

pp_err pp_diffusion_get_field(pp_diffusion *d, double *owned_values)
{
  PP_CALL(pp_clrt_read_reals(d->clrt, d->c, owned_values, d->owned * (size_t)d->species, "concentration"));
  return PP_OK;
}

pp_err pp_diffusion_set_node_rates(pp_diffusion *d, const double *owned_rates)
{
  const size_t count = d->owned * (size_t)d->species;
  double smallest = 0;
  pp_err err = PP_OK;
  for (size_t i = 0; owned_rates && i < count; ++i) {
    if (!isfinite(owned_rates[i])) {
      err = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__, "diffusion node rate %zu is not finite (%g)", i,
                           owned_rates[i]);
      break;
    }
    smallest = fmin(smallest, owned_rates[i]);
  }
  if (err == PP_OK && count) {
    double *zeros = owned_rates ? NULL : calloc(count, sizeof *zeros);
    err = owned_rates || zeros ? pp_clrt_write_reals(d->clrt, d->node_rate, owned_rates ? owned_rates : zeros, count,
                                                     "diffusion node rates")
                               : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
    free(zeros);
  }
  PP_CALL(pp_comm_agree(d->comm, err, "diffusion node rates"));
  PP_MPI(MPI_Allreduce(MPI_IN_PLACE, &smallest, 1, MPI_DOUBLE, MPI_MIN, d->comm), "smallest node rate");
  d->smallest_node_rate = smallest;
  d->current_dt = 0; /* the diagonal and the line factors change with the rates */
  return PP_OK;
}

pp_err pp_diffusion_set_source_rate(pp_diffusion *d, const double *owned_rates)
{
  size_t count = d->owned * (size_t)d->species;
  if (owned_rates) {
    PP_CALL(pp_clrt_write_reals(d->clrt, d->source, owned_rates, count, "diffusion source"));
    if (count) memcpy(d->source_host, owned_rates, count * sizeof *owned_rates);
    return PP_OK;
  }
  memset(d->source_host, 0, (count + 1) * sizeof *d->source_host);
  double *zeros = calloc(count + 1, sizeof *zeros);
  PP_CHECK(zeros, PP_ERR_MEMORY, "out of memory for zeros");
  pp_err err = pp_clrt_write_reals(d->clrt, d->source, zeros, count, "diffusion source");
  free(zeros);
  PP_CALL(err);
  return PP_OK;
}

pp_err pp_diffusion_source_from_elements(const pp_diffusion *d, const double *element_density, double *owned_rates)
{
  const pp_mesh *mesh = d->mesh;
  const int S = d->species;
  for (size_t n = 0; n < d->owned; ++n)
    for (int s = 0; s < S; ++s) {
      double rate = 0;
      for (int r = mesh->node_element_offset[n]; r < mesh->node_element_offset[n + 1]; ++r) {
        int entry = mesh->node_element_entry[r];
        rate += element_density[(size_t)(entry / 8) * (size_t)S + (size_t)s] * d->corner_volume[entry];
      }
      owned_rates[n * (size_t)S + (size_t)s] = rate;
    }
  return PP_OK;
}

/* ---- operator ---------------------------------------------------------------------------------- */

static pp_err launch_apply(pp_diffusion *d, cl_mem list, int count, cl_mem x, cl_mem y, const char *label)
{
  if (count == 0) return PP_OK;
  cl_ulong n = (cl_ulong)count;
  PP_CL(clSetKernelArg(d->apply, 0, sizeof n, &n), label);
  cl_mem args[] = {list, d->neighbour, d->conductance, d->mass, d->shift, d->node_rate, x, y};
  PP_CALL(set_buffers(d->apply, 1, 8, args, label));
  PP_CALL(pp_clrt_launch(d->clrt, d->apply, label, (size_t)count, LOCAL_SIZE));
  return PP_OK;
}

/* The solver's callback: owner -> ghost copy of x begun, the interior nodes (no ghost
 * neighbour) computed while the messages travel, then the boundary nodes (miniFE's
 * begin/finish_exchange_externals around the mat-vec). */
static pp_err apply_callback(void *context, cl_mem x, cl_mem y)
{
  pp_diffusion *d = context;
  if (d->halo) PP_CALL(pp_halo_begin(d->halo, x, d->species));
  pp_err err = launch_apply(d, d->interior, d->interior_count, x, y, "diffusion_apply_interior");
  if (d->halo) {
    pp_err ended = pp_halo_end(d->halo); /* always end what was begun */
    if (err == PP_OK) err = ended;
  }
  PP_CALL(err);
  PP_CALL(launch_apply(d, d->boundary, d->boundary_count, x, y, "diffusion_apply_boundary"));
  return PP_OK;
}

/* Shift a0/dt + k_s and the Jacobi diagonal, rebuilt only when dt or a0 changes. a0 = 1 (backward
 * Euler) gives 1.0 / dt exactly, the bits the shift always had. */
static pp_err prepare(pp_diffusion *d, double dt, double leading)
{
  PP_CHECK(dt > 0 && isfinite(dt), PP_ERR_ARGUMENT, "diffusion time step must be positive, got %g s", dt);
  for (int s = 0; s < d->species; ++s)
    PP_CHECK(leading / dt + d->parameters[s].decay_rate + d->smallest_node_rate > 0, PP_ERR_ARGUMENT,
             "diffusion step of %g s: a node rate of %g 1/s makes species %d's diagonal a0/dt + k + rate <= 0 (the "
             "matrix would not be positive definite)", dt, d->smallest_node_rate, s);
  if (dt == d->current_dt && leading == d->current_leading) return PP_OK;
  double shift[PP_SOLVER_MAX_SPECIES];
  for (int s = 0; s < d->species; ++s) shift[s] = leading / dt + d->parameters[s].decay_rate;
  PP_CALL(pp_clrt_write_reals(d->clrt, d->shift, shift, (size_t)d->species, "diffusion shifts"));
  if (d->owned) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(d->diagonal, 0, sizeof n, &n), "diffusion diagonal");
    cl_mem args[] = {d->conductance, d->mass, d->shift, d->node_rate, d->inverse_diagonal};
    PP_CALL(set_buffers(d->diagonal, 1, 5, args, "diffusion diagonal"));
    PP_CALL(pp_clrt_launch(d->clrt, d->diagonal, "diffusion_inverse_diagonal", d->owned, LOCAL_SIZE));
  }
  if (d->preconditioner == PP_PRECONDITIONER_Z_LINES && d->line_count > 0) {
    cl_ulong lines = (cl_ulong)d->line_count;
    PP_CL(clSetKernelArg(d->line_factor, 0, sizeof lines, &lines), "diffusion line factor");
    cl_mem args[] = {d->line_first, d->link_slot, d->conductance, d->mass, d->shift, d->node_rate,
                     d->pivot_inverse, d->line_coupling};
    PP_CALL(set_buffers(d->line_factor, 1, 8, args, "diffusion line factor"));
    PP_CALL(pp_clrt_launch(d->clrt, d->line_factor, "diffusion_line_factor", (size_t)d->line_count, LOCAL_SIZE));
  }
  d->current_dt = dt;
  d->current_leading = leading;
  return PP_OK;
}

/* The solver's preconditioner callback for the z-line preconditioner (owned entries only). */
static pp_err line_precondition(void *context, cl_mem r, cl_mem z)
{
  pp_diffusion *d = context;
  if (d->line_count == 0) return PP_OK;
  cl_ulong lines = (cl_ulong)d->line_count;
  PP_CL(clSetKernelArg(d->line_solve, 0, sizeof lines, &lines), "diffusion line solve");
  cl_mem args[] = {d->line_first, d->pivot_inverse, d->line_coupling, r, z};
  PP_CALL(set_buffers(d->line_solve, 1, 5, args, "diffusion line solve"));
  PP_CALL(pp_clrt_launch(d->clrt, d->line_solve, "diffusion_line_solve", (size_t)d->line_count, LOCAL_SIZE));
  return PP_OK;
}

static pp_solver_operator solver_operator(pp_diffusion *d)
{
  pp_solver_operator op = {apply_callback, d, d->inverse_diagonal, NULL};
  if (d->preconditioner == PP_PRECONDITIONER_Z_LINES) op.precondition = line_precondition;
  return op;
}

void pp_diffusion_set_preconditioner(pp_diffusion *d, pp_diffusion_preconditioner preconditioner)
{
  d->preconditioner = preconditioner;
  d->current_dt = 0; /* factor the lines at the next step */
}

int pp_diffusion_line_count(const pp_diffusion *d) { return d->line_count; }

pp_err pp_diffusion_apply(pp_diffusion *d, double dt, cl_mem x, cl_mem y)
{
  PP_CALL(prepare(d, dt, 1.0));
  PP_CALL(apply_callback(d, x, y));
  return PP_OK;
}

pp_err pp_diffusion_solve(pp_diffusion *d, double dt, const pp_solver_options *options, cl_mem b, cl_mem x,
                          pp_solver_stats *stats)
{
  PP_CALL(prepare(d, dt, 1.0));
  pp_solver_operator op = solver_operator(d);
  PP_CALL(pp_solver_pcg(d->solver, &op, options, b, x, stats));
  return PP_OK;
}

pp_err pp_diffusion_total_mass(pp_diffusion *d, double *mass)
{
  if (d->owned) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(d->mass_terms, 0, sizeof n, &n), "diffusion mass terms");
    cl_mem args[] = {d->mass, d->c, d->terms};
    PP_CALL(set_buffers(d->mass_terms, 1, 3, args, "diffusion mass terms"));
    PP_CALL(pp_clrt_launch(d->clrt, d->mass_terms, "diffusion_mass_terms", d->owned, LOCAL_SIZE));
  }
  for (int s = 0; s < d->species; ++s)
    PP_CALL(pp_reduce_sum_strided(d->reduce, d->terms, (size_t)s, (size_t)d->species, d->owned, &mass[s]));
  return PP_OK;
}

/* The step's a0, a1, a2 (diffusion.h): BDF2 when the scheme is BDF2, its history is valid and the
 * step ratio is below 1 + sqrt(2), where variable-step BDF2 stops being zero-stable (Grigorieff
 * 1983; a larger ratio would let the parasitic root amplify); backward Euler otherwise. */
static pp_time_scheme step_coefficients(const pp_diffusion *d, double dt, double a[3])
{
  a[0] = a[1] = 1;
  a[2] = 0;
  if (d->scheme != PP_TIME_BDF2 || d->history < BDF2_START_STEPS) return PP_TIME_BACKWARD_EULER;
  double w = dt / d->previous_dt;
  if (!(w > 0 && w < 1 + sqrt(2.0))) return PP_TIME_BACKWARD_EULER;
  a[0] = (1 + 2 * w) / (1 + w);
  a[1] = 1 + w;
  a[2] = w * w / (1 + w);
  return PP_TIME_BDF2;
}

pp_err pp_diffusion_step(pp_diffusion *d, double dt, pp_diffusion_step_info *info)
{
  double a[3];
  pp_time_scheme taken = step_coefficients(d, dt, a);
  PP_CALL(prepare(d, dt, a[0]));
  if (d->owned && taken == PP_TIME_BACKWARD_EULER) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(d->rhs, 0, sizeof n, &n), "diffusion right-hand side");
    PP_CALL(pp_clrt_set_real_arg(d->clrt, d->rhs, 1, 1.0 / dt, "diffusion right-hand side"));
    cl_mem args[] = {d->mass, d->c, d->source, d->b};
    PP_CALL(set_buffers(d->rhs, 2, 4, args, "diffusion right-hand side"));
    PP_CALL(pp_clrt_launch(d->clrt, d->rhs, "diffusion_rhs", d->owned, LOCAL_SIZE));
  } else if (d->owned) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(d->rhs_bdf2, 0, sizeof n, &n), "diffusion BDF2 right-hand side");
    PP_CALL(pp_clrt_set_real_arg(d->clrt, d->rhs_bdf2, 1, a[1] / dt, "diffusion BDF2 right-hand side"));
    PP_CALL(pp_clrt_set_real_arg(d->clrt, d->rhs_bdf2, 2, a[2] / dt, "diffusion BDF2 right-hand side"));
    cl_mem args[] = {d->mass, d->c, d->previous, d->source, d->b};
    PP_CALL(set_buffers(d->rhs_bdf2, 3, 5, args, "diffusion BDF2 right-hand side"));
    PP_CALL(pp_clrt_launch(d->clrt, d->rhs_bdf2, "diffusion_rhs_bdf2", d->owned, LOCAL_SIZE));
  }
  /* c^n is the next step's c^{n-1}; the CG overwrites c in place, so keep it now (the in-order
   * queue runs the copy after the right-hand side has read `previous`). */
  if (d->owned && d->scheme == PP_TIME_BDF2)
    PP_CL(clEnqueueCopyBuffer(pp_clrt_queue(d->clrt), d->c, d->previous, 0, 0,
                              d->owned * (size_t)d->species * (size_t)pp_clrt_real_size(d->clrt), 0, NULL, NULL),
          "diffusion: keeping c^n as BDF2's next c^{n-1}");
  pp_solver_stats stats;
  pp_solver_operator op = solver_operator(d);
  pp_err err = pp_solver_pcg(d->solver, &op, &d->options, d->b, d->c, &stats);
  if (err != PP_OK) {
    d->history = 0; /* `previous` now holds c^n, and c what the CG left: no valid pair */
    pp_error_context(err, "in diffusion step %lld from t = %.9g s with dt = %.9g s", d->step + 1, d->time, dt);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  d->time += dt;
  d->step += 1;
  d->history = d->scheme != PP_TIME_BDF2 ? 0 : d->history < BDF2_START_STEPS ? d->history + 1 : BDF2_START_STEPS;
  d->previous_dt = dt;
  if (info) {
    info->step = d->step;
    info->time = d->time;
    info->dt = dt;
    info->solver = stats;
    info->scheme = taken;
    memcpy(info->coefficient, a, sizeof a);
    PP_CALL(pp_diffusion_total_mass(d, info->mass));
  }
  return PP_OK;
}

/* ---- restart and output ------------------------------------------------------------------------ */

/* The mesh is held const; the output view it needs is built before (checked), so the mesh's
 * output functions only read it. */
static pp_err output_mesh(const pp_diffusion *d, pp_mesh **mesh)
{
  PP_CHECK(d->mesh->output_node_ids, PP_ERR_ARGUMENT,
           "diffusion output: build the mesh's output view (pp_mesh_io_view) first");
  *mesh = (pp_mesh *)(uintptr_t)d->mesh;
  return PP_OK;
}

/* owned [owned * S] -> per component in output order, out [S][output count]; ghosts exchanged
 * (d's mesh, halo and communicator; S components). */
static pp_err components_to_output(const pp_diffusion *d, size_t S, const double *owned_values, double *out)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(d, &mesh));
  const size_t count = (size_t)mesh->output_node_count;
  double *local = calloc(d->nodes * S + 1, sizeof *local), *single = malloc((d->nodes + 1) * sizeof *single);
  pp_err err = PP_OK;
  if (!local || !single) err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for output");
  /* Every rank must reach the exchange, or learn here that one will not. */
  err = pp_comm_agree(d->comm, err, "diffusion output buffers");
  if (err == PP_OK) {
    memcpy(local, owned_values, d->owned * S * sizeof *local);
    if (d->halo) err = pp_halo_exchange_host(d->halo, local, (int)S); /* collective: every rank */
  }
  for (size_t s = 0; s < S && err == PP_OK; ++s) {
    for (size_t n = 0; n < d->nodes; ++n) single[n] = local[n * S + s];
    err = pp_mesh_output_node_values(mesh, single, 1, out + s * count);
  }
  free(local);
  free(single);
  PP_CALL(err);
  return PP_OK;
}

/* in [S][output count] -> owned [owned * S]. Not collective. */
static pp_err components_from_output(const pp_diffusion *d, size_t S, const double *in, double *owned_values)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(d, &mesh));
  const size_t count = (size_t)mesh->output_node_count;
  double *single = malloc((d->owned + 1) * sizeof *single);
  PP_CHECK(single, PP_ERR_MEMORY, "out of memory for restart");
  pp_err err = PP_OK;
  for (size_t s = 0; s < S && err == PP_OK; ++s) {
    err = pp_mesh_local_from_output(mesh, in + s * count, 1, single);
    for (size_t n = 0; n < d->owned && err == PP_OK; ++n) owned_values[n * S + s] = single[n];
  }
  free(single);
  PP_CALL(err);
  return PP_OK;
}

static pp_err owned_to_output(pp_diffusion *d, const double *owned_values, double *out)
{
  PP_CALL(components_to_output(d, (size_t)d->species, owned_values, out));
  return PP_OK;
}

static pp_err output_to_owned(pp_diffusion *d, const double *in, double *owned_values)
{
  PP_CALL(components_from_output(d, (size_t)d->species, in, owned_values));
  return PP_OK;
}

pp_err pp_diffusion_register_checkpoint(pp_diffusion *d, pp_checkpoint *checkpoint, const char *const *names,
                                        const char *const *units)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(d, &mesh));
  PP_CHECK(!d->checkpoint_field, PP_ERR_ARGUMENT, "diffusion state registered twice");
  const size_t count = (size_t)mesh->output_node_count, S = (size_t)d->species;
  PP_MALLOC(d->checkpoint_field, count * S + 1, "diffusion checkpoint field");
  PP_MALLOC(d->checkpoint_source, count * S + 1, "diffusion checkpoint source");
  memset(d->checkpoint_field, 0, (count * S + 1) * sizeof(double));
  memset(d->checkpoint_source, 0, (count * S + 1) * sizeof(double));
  for (size_t s = 0; s < S; ++s) {
    char name[128], source_units[160];
    PP_CHECK(snprintf(name, sizeof name, "%s_source", names[s]) < (int)sizeof name, PP_ERR_ARGUMENT,
             "species name '%s' too long", names[s]);
    snprintf(source_units, sizeof source_units, "(%s) m^3/s", units[s]);
    PP_CALL(pp_checkpoint_register_node_field(checkpoint, names[s], units[s], 1, d->checkpoint_field + s * count));
    PP_CALL(pp_checkpoint_register_node_field(checkpoint, name, source_units, 1, d->checkpoint_source + s * count));
  }
  PP_CALL(pp_checkpoint_register_scalar_double(checkpoint, "diffusion_time", &d->checkpoint_time));
  PP_CALL(pp_checkpoint_register_scalar_int64(checkpoint, "diffusion_step", &d->checkpoint_step));
  if (d->scheme != PP_TIME_BDF2) return PP_OK;
  /* BDF2's next step reads c^{n-1} and the last dt: without them a restart would take a
   * backward-Euler step where the original run took a BDF2 one. */
  PP_MALLOC(d->checkpoint_previous, count * S + 1, "diffusion checkpoint previous field");
  memset(d->checkpoint_previous, 0, (count * S + 1) * sizeof(double));
  for (size_t s = 0; s < S; ++s) {
    char name[128];
    PP_CHECK(snprintf(name, sizeof name, "%s_previous", names[s]) < (int)sizeof name, PP_ERR_ARGUMENT,
             "species name '%s' too long", names[s]);
    PP_CALL(pp_checkpoint_register_node_field(checkpoint, name, units[s], 1, d->checkpoint_previous + s * count));
  }
  PP_CALL(pp_checkpoint_register_scalar_double(checkpoint, "diffusion_previous_dt", &d->checkpoint_previous_dt));
  PP_CALL(pp_checkpoint_register_scalar_int64(checkpoint, "diffusion_history", &d->checkpoint_history));
  return PP_OK;
}

pp_err pp_diffusion_checkpoint_save(pp_diffusion *d)
{
  PP_CHECK(d->checkpoint_field, PP_ERR_ARGUMENT, "diffusion state saved before pp_diffusion_register_checkpoint");
  const size_t S = (size_t)d->species;
  double *owned = malloc((d->owned * S + 1) * sizeof *owned), *previous = malloc((d->owned * S + 1) * sizeof *previous);
  pp_err err = PP_OK;
  if (!owned || !previous)
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory saving the diffusion state");
  /* The device reads are local and may fail on one rank: agree before the collective exchanges. */
  if (err == PP_OK) err = pp_diffusion_get_field(d, owned);
  if (err == PP_OK && d->checkpoint_previous)
    err = pp_clrt_read_reals(d->clrt, d->previous, previous, d->owned * S, "diffusion previous field");
  err = pp_comm_agree(d->comm, err, "reading the diffusion state for a checkpoint");
  if (err == PP_OK) err = owned_to_output(d, owned, d->checkpoint_field);
  if (err == PP_OK) err = owned_to_output(d, d->source_host, d->checkpoint_source);
  if (err == PP_OK && d->checkpoint_previous) err = owned_to_output(d, previous, d->checkpoint_previous);
  free(owned);
  free(previous);
  PP_CALL(err);
  d->checkpoint_time = d->time;
  d->checkpoint_step = d->step;
  d->checkpoint_previous_dt = d->previous_dt;
  d->checkpoint_history = d->history;
  return PP_OK;
}

pp_err pp_diffusion_checkpoint_restore(pp_diffusion *d)
{
  PP_CHECK(d->checkpoint_field, PP_ERR_ARGUMENT, "diffusion state restored before pp_diffusion_register_checkpoint");
  const size_t S = (size_t)d->species;
  double *owned = malloc((d->owned * S + 1) * sizeof *owned), *rates = malloc((d->owned * S + 1) * sizeof *rates);
  pp_err err = PP_OK;
  if (!owned || !rates) err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory restoring");
  if (err == PP_OK) err = output_to_owned(d, d->checkpoint_field, owned);
  if (err == PP_OK) err = output_to_owned(d, d->checkpoint_source, rates);
  if (err == PP_OK) err = pp_diffusion_set_field(d, owned); /* resets the history: restored below */
  if (err == PP_OK) err = pp_diffusion_set_source_rate(d, rates);
  if (err == PP_OK && d->checkpoint_previous) {
    /* The scalars are the same on every rank (the checkpoint checks), so this is too. */
    long long history = d->checkpoint_history;
    if (history < 0 || history > BDF2_START_STEPS ||
        (history > 0 && !(d->checkpoint_previous_dt > 0 && isfinite(d->checkpoint_previous_dt))))
      err = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "diffusion restart: BDF2 history %lld (0 to %d expected) with a last dt of %g s", history,
                           BDF2_START_STEPS, d->checkpoint_previous_dt);
    if (err == PP_OK) err = output_to_owned(d, d->checkpoint_previous, owned);
    if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, d->previous, owned, d->owned * S, "diffusion previous field");
    if (err == PP_OK) {
      d->history = (int)history;
      d->previous_dt = d->checkpoint_previous_dt;
    }
  }
  free(owned);
  free(rates);
  PP_CALL(pp_comm_agree(d->comm, err, "restoring the diffusion state"));
  d->time = d->checkpoint_time;
  d->step = d->checkpoint_step;
  return PP_OK;
}

pp_err pp_diffusion_write_step(pp_diffusion *d, pp_io_series *series, const char *const *names,
                               const char *const *units)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(d, &mesh));
  const size_t S = (size_t)d->species, count = (size_t)mesh->output_node_count;
  double *owned = malloc((d->owned * S + 1) * sizeof *owned), *out = malloc((count * S + 1) * sizeof *out);
  pp_err err = PP_OK;
  if (!owned || !out) err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for output");
  if (err == PP_OK) err = pp_diffusion_get_field(d, owned);
  err = pp_comm_agree(d->comm, err, "reading the diffusion field for output");
  if (err == PP_OK) err = owned_to_output(d, owned, out);
  for (size_t s = 0; s < S && err == PP_OK; ++s)
    err = pp_io_write_node_field(series, names[s], units[s], 1, out + s * count);
  free(owned);
  free(out);
  PP_CALL(err);
  return PP_OK;
}

cl_mem pp_diffusion_field_buffer(const pp_diffusion *d) { return d->c; }

/* ---- fibroblast transport: motility and chemotaxis (diffusion.h) ------------------------------- */

struct pp_chemotaxis {
  pp_diffusion *diffusion;        /* mesh, device, halo, reduce, neighbours, volumes, lists */
  double motility, sensitivity;   /* D_n (m^2/s), chi */
  pp_solver *solver;              /* one system */
  pp_solver_options options;
  cl_mem conductance;             /* [owned * 6] geometric T per edge slot */
  cl_mem field;                   /* [owned] n */
  cl_mem psi;                     /* [nodes] potential, ghosts exchanged */
  cl_mem v;                       /* [nodes] scaled unknown (the CG's x) */
  cl_mem b, coupling, diagonal, inverse_diagonal, half_factor, contrast;
  cl_mem product;                 /* [owned] A v, for the true residual */
  cl_mem terms;                   /* [owned * 2] reduction terms */
  cl_mem staging;                 /* [owned] attractant values from the host (step_host) */
  cl_kernel potential, weights, rhs, apply, unscale, mass_terms, residual_terms;
  double *checkpoint_field;       /* [output count], registered */
};

pp_err pp_chemotaxis_set_parameters(pp_chemotaxis *c, double motility, double sensitivity)
{
  PP_CHECK(motility > 0 && isfinite(motility), PP_ERR_ARGUMENT,
           "chemotaxis: fibroblast motility must be positive, got %g m^2/s", motility);
  PP_CHECK(isfinite(sensitivity) && isfinite(sensitivity / motility), PP_ERR_ARGUMENT,
           "chemotaxis: chemotactic sensitivity must be finite (and chi / D_n too), got %g with D_n = %g m^2/s",
           sensitivity, motility);
  c->motility = motility;
  c->sensitivity = sensitivity;
  return PP_OK;
}

void pp_chemotaxis_destroy(pp_chemotaxis *c)
{
  if (!c) return;
  pp_solver_destroy(c->solver);
  cl_mem buffers[] = {c->conductance, c->field,       c->psi,      c->v,     c->b,
                      c->coupling,    c->diagonal,    c->inverse_diagonal, c->half_factor,
                      c->contrast,    c->product,     c->terms,            c->staging};
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; ++i)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  free(c->checkpoint_field);
  free(c);
}

pp_err pp_chemotaxis_create(pp_chemotaxis **chemotaxis, pp_diffusion *diffusion, double motility, double sensitivity)
{
  *chemotaxis = NULL;
  pp_chemotaxis *c = calloc(1, sizeof *c);
  PP_CHECK(c, PP_ERR_MEMORY, "out of memory for the chemotaxis solver");
  c->diffusion = diffusion;
  pp_solver_options_default(&c->options);
  pp_err err = pp_chemotaxis_set_parameters(c, motility, sensitivity);
  const pp_diffusion *d = diffusion;
  const size_t owned = d->owned, nodes = d->nodes, rs = (size_t)pp_clrt_real_size(d->clrt);
  struct {
    cl_mem *buffer;
    size_t count;
    const char *what;
  } plan[] = {{&c->conductance, owned * SLOTS, "chemotaxis conductances"},
              {&c->field, owned, "fibroblast density"},
              {&c->psi, nodes, "chemotactic potential"},
              {&c->v, nodes, "chemotaxis scaled unknown"},
              {&c->b, owned, "chemotaxis right-hand side"},
              {&c->coupling, owned * SLOTS, "chemotaxis couplings"},
              {&c->diagonal, owned, "chemotaxis diagonal"},
              {&c->inverse_diagonal, owned, "chemotaxis inverse diagonal"},
              {&c->half_factor, owned, "chemotaxis scale"},
              {&c->contrast, owned, "chemotaxis edge contrast"},
              {&c->product, owned, "chemotaxis operator product"},
              {&c->terms, 2 * owned, "chemotaxis reduction terms"}};
  for (size_t i = 0; i < sizeof plan / sizeof plan[0] && err == PP_OK; ++i)
    err = pp_clrt_buffer(d->clrt, CL_MEM_READ_WRITE, plan[i].count * rs, plan[i].what, plan[i].buffer);
  /* The geometric conductances build() summed: the same bits at both ends of an edge. */
  if (err == PP_OK)
    err = pp_clrt_write_reals(d->clrt, c->conductance, d->edge_geometry, owned * SLOTS, "chemotaxis conductances");
  if (err == PP_OK) {
    /* Zero field; v and psi defined everywhere (their ghosts are exchanged before each use). */
    double *zeros = calloc(nodes + 1, sizeof *zeros);
    if (!zeros) err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for zeros");
    if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, c->field, zeros, owned, "fibroblast density");
    if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, c->v, zeros, nodes, "chemotaxis scaled unknown");
    if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, c->psi, zeros, nodes, "chemotactic potential");
    free(zeros);
  }
  static const char *const names[] = {"chemotaxis_potential", "chemotaxis_weights",    "chemotaxis_rhs",
                                      "chemotaxis_apply",     "chemotaxis_unscale",    "chemotaxis_mass_terms",
                                      "chemotaxis_residual_terms"};
  cl_kernel *kernels[] = {&c->potential, &c->weights,    &c->rhs,           &c->apply,
                          &c->unscale,   &c->mass_terms, &c->residual_terms};
  for (size_t i = 0; i < sizeof names / sizeof names[0] && err == PP_OK; ++i)
    err = pp_clrt_kernel(d->clrt, "chemotaxis", names[i], kernels[i]);
  if (err == PP_OK) err = pp_solver_create(&c->solver, d->clrt, d->reduce, d->comm, owned, nodes, 1);
  /* The parameter checks are the same on every rank; device failures may not be. */
  err = pp_comm_agree(d->comm, err, "creating the chemotaxis solver");
  if (err != PP_OK) {
    pp_chemotaxis_destroy(c);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  *chemotaxis = c;
  return PP_OK;
}

void pp_chemotaxis_set_solver_options(pp_chemotaxis *c, const pp_solver_options *options) { c->options = *options; }

pp_err pp_chemotaxis_set_field(pp_chemotaxis *c, const double *owned_values)
{
  PP_CALL(pp_clrt_write_reals(c->diffusion->clrt, c->field, owned_values, c->diffusion->owned, "fibroblast density"));
  return PP_OK;
}

pp_err pp_chemotaxis_get_field(pp_chemotaxis *c, double *owned_values)
{
  PP_CALL(pp_clrt_read_reals(c->diffusion->clrt, c->field, owned_values, c->diffusion->owned, "fibroblast density"));
  return PP_OK;
}

cl_mem pp_chemotaxis_field_buffer(const pp_chemotaxis *c) { return c->field; }

pp_err pp_chemotaxis_total_mass(pp_chemotaxis *c, double *mass)
{
  pp_diffusion *d = c->diffusion;
  if (d->owned) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(c->mass_terms, 0, sizeof n, &n), "chemotaxis mass terms");
    cl_mem args[] = {d->mass, c->field, c->terms};
    PP_CALL(set_buffers(c->mass_terms, 1, 3, args, "chemotaxis mass terms"));
    PP_CALL(pp_clrt_launch(d->clrt, c->mass_terms, "chemotaxis_mass_terms", d->owned, LOCAL_SIZE));
  }
  PP_CALL(pp_reduce_sum(d->reduce, c->terms, d->owned, mass));
  return PP_OK;
}

static pp_err launch_chemotaxis_apply(pp_chemotaxis *c, cl_mem list, int count, cl_mem x, cl_mem y, const char *label)
{
  if (count == 0) return PP_OK;
  cl_ulong n = (cl_ulong)count;
  PP_CL(clSetKernelArg(c->apply, 0, sizeof n, &n), label);
  cl_mem args[] = {list, c->diffusion->neighbour, c->coupling, c->diagonal, x, y};
  PP_CALL(set_buffers(c->apply, 1, 6, args, label));
  PP_CALL(pp_clrt_launch(c->diffusion->clrt, c->apply, label, (size_t)count, LOCAL_SIZE));
  return PP_OK;
}

/* The solver's callback, as the diffusion operator's: ghosts of x begun, interior nodes, ghosts
 * ended, boundary nodes. */
static pp_err chemotaxis_apply_callback(void *context, cl_mem x, cl_mem y)
{
  pp_chemotaxis *c = context;
  pp_diffusion *d = c->diffusion;
  if (d->halo) PP_CALL(pp_halo_begin(d->halo, x, 1));
  pp_err err = launch_chemotaxis_apply(c, d->interior, d->interior_count, x, y, "chemotaxis_apply_interior");
  if (d->halo) {
    pp_err ended = pp_halo_end(d->halo); /* always end what was begun */
    if (err == PP_OK) err = ended;
  }
  PP_CALL(err);
  PP_CALL(launch_chemotaxis_apply(c, d->boundary, d->boundary_count, x, y, "chemotaxis_apply_boundary"));
  return PP_OK;
}

/* psi from g, its exact global range, its ghosts, then the step's matrix and scale (chemotaxis.cl).
 * *lo, *hi: psi's range; *contrast: the largest |delta| over the edges. */
static pp_err chemotaxis_prepare(pp_chemotaxis *c, double dt, cl_mem attractant, size_t offset, size_t stride,
                                 double *lo, double *hi, double *contrast)
{
  pp_diffusion *d = c->diffusion;
  const cl_ulong n = d->owned;
  if (n) {
    cl_ulong first = offset, step = stride;
    PP_CL(clSetKernelArg(c->potential, 0, sizeof n, &n), "chemotactic potential");
    PP_CL(clSetKernelArg(c->potential, 1, sizeof first, &first), "chemotactic potential");
    PP_CL(clSetKernelArg(c->potential, 2, sizeof step, &step), "chemotactic potential");
    PP_CALL(pp_clrt_set_real_arg(d->clrt, c->potential, 3, c->sensitivity / c->motility, "chemotactic potential"));
    cl_mem args[] = {attractant, c->psi};
    PP_CALL(set_buffers(c->potential, 4, 2, args, "chemotactic potential"));
    PP_CALL(pp_clrt_launch(d->clrt, c->potential, "chemotaxis_potential", d->owned, LOCAL_SIZE));
  }
  /* Exact min and max (host/reduce): the same shift on every rank. The check is on those global
   * values, so every rank raises it together. h = e^((psi - shift)/2) stays within e^(+-range/4)
   * of 1 (shift: the midpoint, halves first), which must stay representable, and n = h v with it. */
  PP_CALL(pp_reduce_min_max(d->reduce, c->psi, d->owned, lo, hi));
  const double limit = 4 * ((pp_clrt_real_size(d->clrt) == 8 ? 709.0 : 88.0) - 20);
  if (!(isfinite(*lo) && isfinite(*hi) && 0.5 * *hi - 0.5 * *lo < 0.5 * limit)) {
    pp_err err = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                                "chemotaxis: the potential chi g / D_n spans %g to %g; it must be finite and span "
                                "less than %g in a %s build (chi %g, D_n %g m^2/s)",
                                *lo, *hi, limit, pp_clrt_real_name(d->clrt), c->sensitivity, c->motility);
    int rank = 0;
    MPI_Comm_rank(d->comm, &rank);
    pp_error_set_collective(rank == 0 ? PP_ERROR_COLLECTIVE : PP_ERROR_COLLECTIVE_QUIET);
    return err;
  }
  const double shift = 0.5 * *lo + 0.5 * *hi;
  if (d->halo) {
    PP_CALL(pp_halo_begin(d->halo, c->psi, 1));
    PP_CALL(pp_halo_end(d->halo));
  }
  if (n) {
    PP_CL(clSetKernelArg(c->weights, 0, sizeof n, &n), "chemotaxis weights");
    PP_CALL(pp_clrt_set_real_arg(d->clrt, c->weights, 1, 1.0 / dt, "chemotaxis weights"));
    PP_CALL(pp_clrt_set_real_arg(d->clrt, c->weights, 2, c->motility, "chemotaxis weights"));
    PP_CALL(pp_clrt_set_real_arg(d->clrt, c->weights, 3, shift, "chemotaxis weights"));
    cl_mem args[] = {d->neighbour,         c->conductance,  d->mass,    c->psi,     c->coupling,
                     c->diagonal,          c->inverse_diagonal, c->half_factor, c->contrast};
    PP_CALL(set_buffers(c->weights, 4, 9, args, "chemotaxis weights"));
    PP_CALL(pp_clrt_launch(d->clrt, c->weights, "chemotaxis_weights", d->owned, LOCAL_SIZE));
  }
  PP_CALL(pp_reduce_max(d->reduce, c->contrast, d->owned, contrast));
  return PP_OK;
}

/* sum |R| / sum M |n| / dt for the current v (diffusion.h: the residual in the fibroblasts' rows). */
static pp_err number_residual(pp_chemotaxis *c, double *ratio)
{
  pp_diffusion *d = c->diffusion;
  PP_CALL(chemotaxis_apply_callback(c, c->v, c->product));
  if (d->owned) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(c->residual_terms, 0, sizeof n, &n), "chemotaxis residual terms");
    cl_mem args[] = {c->half_factor, c->b, c->product, c->terms};
    PP_CALL(set_buffers(c->residual_terms, 1, 4, args, "chemotaxis residual terms"));
    PP_CALL(pp_clrt_launch(d->clrt, c->residual_terms, "chemotaxis_residual_terms", d->owned, LOCAL_SIZE));
  }
  double sums[2];
  for (int k = 0; k < 2; ++k) PP_CALL(pp_reduce_sum_strided(d->reduce, c->terms, (size_t)k, 2, d->owned, &sums[k]));
  *ratio = sums[1] > 0 ? sums[0] / sums[1] : 0;
  return PP_OK;
}

/* Rounds of Jacobi-PCG (diffusion.h): the first with the caller's tolerance; while the residual in
 * the fibroblasts' rows is above it, CG again from the last iterate with its D^-1 tolerance
 * tightened by the missing factor (and a margin of 2), at most CHEMOTAXIS_ROUNDS rounds, stopping
 * early when a round gains less than a factor 2 (the floating-point floor). Every decision is
 * taken on exact global sums: the same on every rank. */
enum { CHEMOTAXIS_ROUNDS = 8 };
static pp_err chemotaxis_solve(pp_chemotaxis *c, pp_solver_stats *stats, int *rounds, double *residual)
{
  pp_solver_options options = c->options;
  const double target = c->options.relative_tolerance;
  pp_solver_operator op = {chemotaxis_apply_callback, c, c->inverse_diagonal, NULL};
  int iterations = 0;
  double previous = INFINITY;
  for (*rounds = 1;; ++*rounds) {
    PP_CALL(pp_solver_pcg(c->solver, &op, &options, c->b, c->v, stats));
    iterations += stats->iterations;
    PP_CALL(number_residual(c, residual));
    if (*residual <= target || *rounds == CHEMOTAXIS_ROUNDS || !(*residual < 0.5 * previous)) break;
    previous = *residual;
    double reached = fmin(stats->relative_residual[0], options.relative_tolerance);
    options.relative_tolerance = fmax(reached * 0.5 * target / *residual, 1e-300);
  }
  stats->iterations = stats->species_iterations[0] = iterations;
  return PP_OK;
}

pp_err pp_chemotaxis_step(pp_chemotaxis *c, double dt, cl_mem attractant, size_t offset, size_t stride,
                          pp_chemotaxis_step_info *info)
{
  pp_diffusion *d = c->diffusion;
  PP_CHECK(dt > 0 && isfinite(dt), PP_ERR_ARGUMENT, "chemotaxis time step must be positive, got %g s", dt);
  PP_CHECK(stride >= 1, PP_ERR_ARGUMENT, "chemotaxis: attractant stride must be >= 1");
  double lo = 0, hi = 0, contrast = 0;
  PP_CALL(chemotaxis_prepare(c, dt, attractant, offset, stride, &lo, &hi, &contrast));
  if (d->owned) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(c->rhs, 0, sizeof n, &n), "chemotaxis right-hand side");
    PP_CALL(pp_clrt_set_real_arg(d->clrt, c->rhs, 1, 1.0 / dt, "chemotaxis right-hand side"));
    cl_mem args[] = {d->mass, c->half_factor, c->field, c->v, c->b};
    PP_CALL(set_buffers(c->rhs, 2, 5, args, "chemotaxis right-hand side"));
    PP_CALL(pp_clrt_launch(d->clrt, c->rhs, "chemotaxis_rhs", d->owned, LOCAL_SIZE));
  }
  pp_solver_stats stats;
  int rounds = 0;
  double residual = 0;
  pp_err err = chemotaxis_solve(c, &stats, &rounds, &residual);
  if (err != PP_OK) {
    pp_error_context(err, "in a chemotaxis step with dt = %.9g s (potential %.6g to %.6g, edge contrast %.6g)", dt,
                     lo, hi, contrast);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  if (d->owned) {
    cl_ulong n = d->owned;
    PP_CL(clSetKernelArg(c->unscale, 0, sizeof n, &n), "chemotaxis unscale");
    cl_mem args[] = {c->half_factor, c->v, c->field};
    PP_CALL(set_buffers(c->unscale, 1, 3, args, "chemotaxis unscale"));
    PP_CALL(pp_clrt_launch(d->clrt, c->unscale, "chemotaxis_unscale", d->owned, LOCAL_SIZE));
  }
  if (info) {
    info->dt = dt;
    info->solver = stats;
    info->potential_min = lo;
    info->potential_max = hi;
    info->edge_contrast = contrast;
    info->rounds = rounds;
    info->number_residual = residual;
    PP_CALL(pp_chemotaxis_total_mass(c, &info->mass));
  }
  return PP_OK;
}

pp_err pp_chemotaxis_step_host(pp_chemotaxis *c, double dt, const double *attractant, size_t offset, size_t stride,
                               pp_chemotaxis_step_info *info)
{
  pp_diffusion *d = c->diffusion;
  PP_CHECK(stride >= 1, PP_ERR_ARGUMENT, "chemotaxis: attractant stride must be >= 1");
  pp_err err = PP_OK;
  if (!c->staging)
    err = pp_clrt_buffer(d->clrt, CL_MEM_READ_WRITE, d->owned * (size_t)pp_clrt_real_size(d->clrt),
                         "chemotaxis attractant", &c->staging);
  double *owned = malloc((d->owned + 1) * sizeof *owned);
  if (err == PP_OK && !owned)
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the attractant");
  for (size_t n = 0; n < d->owned && err == PP_OK; ++n) owned[n] = attractant[offset + n * stride];
  if (err == PP_OK) err = pp_clrt_write_reals(d->clrt, c->staging, owned, d->owned, "chemotaxis attractant");
  free(owned);
  PP_CALL(pp_comm_agree(d->comm, err, "staging the chemoattractant"));
  PP_CALL(pp_chemotaxis_step(c, dt, c->staging, 0, 1, info));
  return PP_OK;
}

pp_err pp_chemotaxis_register_checkpoint(pp_chemotaxis *c, pp_checkpoint *checkpoint, const char *name,
                                         const char *units)
{
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(c->diffusion, &mesh));
  PP_CHECK(!c->checkpoint_field, PP_ERR_ARGUMENT, "chemotaxis state registered twice");
  PP_MALLOC(c->checkpoint_field, (size_t)mesh->output_node_count + 1, "chemotaxis checkpoint field");
  PP_CALL(pp_checkpoint_register_node_field(checkpoint, name, units, 1, c->checkpoint_field));
  return PP_OK;
}

pp_err pp_chemotaxis_checkpoint_save(pp_chemotaxis *c)
{
  PP_CHECK(c->checkpoint_field, PP_ERR_ARGUMENT, "chemotaxis state saved before pp_chemotaxis_register_checkpoint");
  pp_diffusion *d = c->diffusion;
  double *owned = malloc((d->owned + 1) * sizeof *owned);
  pp_err err = owned ? pp_chemotaxis_get_field(c, owned)
                     : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory saving the field");
  err = pp_comm_agree(d->comm, err, "reading the fibroblast density for a checkpoint");
  if (err == PP_OK) err = components_to_output(d, 1, owned, c->checkpoint_field);
  free(owned);
  PP_CALL(err);
  return PP_OK;
}

pp_err pp_chemotaxis_checkpoint_restore(pp_chemotaxis *c)
{
  PP_CHECK(c->checkpoint_field, PP_ERR_ARGUMENT, "chemotaxis state restored before pp_chemotaxis_register_checkpoint");
  pp_diffusion *d = c->diffusion;
  double *owned = malloc((d->owned + 1) * sizeof *owned);
  pp_err err = owned ? components_from_output(d, 1, c->checkpoint_field, owned)
                     : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory restoring");
  if (err == PP_OK) err = pp_chemotaxis_set_field(c, owned);
  free(owned);
  PP_CALL(pp_comm_agree(d->comm, err, "restoring the fibroblast density"));
  return PP_OK;
}

pp_err pp_chemotaxis_write_step(pp_chemotaxis *c, pp_io_series *series, const char *name, const char *units)
{
  pp_diffusion *d = c->diffusion;
  pp_mesh *mesh = NULL;
  PP_CALL(output_mesh(d, &mesh));
  double *owned = malloc((d->owned + 1) * sizeof *owned);
  double *out = malloc(((size_t)mesh->output_node_count + 1) * sizeof *out);
  pp_err err = owned && out ? pp_chemotaxis_get_field(c, owned)
                            : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for output");
  err = pp_comm_agree(d->comm, err, "reading the fibroblast density for output");
  if (err == PP_OK) err = components_to_output(d, 1, owned, out);
  if (err == PP_OK) err = pp_io_write_node_field(series, name, units, 1, out);
  free(owned);
  free(out);
  PP_CALL(err);
  return PP_OK;
}
