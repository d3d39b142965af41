/* Puncture by crack-band erosion (host/mechanics, kernels/mechanics.cl's erode_elements) under a
 * needle (host/contact), in explicit dynamics:
 *  - a sharp needle driven into a block fast enough that elements erode within a few hundred
 *    steps: the energy balance closes with the erosion term (the stored energy an element held
 *    when it eroded), no state is NaN and no element inverts, eroded elements hold no stored energy
 *    and their damage is 1, and the whole run (needle forces, energies, eroded flags, damage,
 *    displacements) is the same bits on 1, 2 and 4 ranks as a serial run;
 *  - crack-band regularisation (PHYSICS.md 2.3, Bazant and Oh 1983): a bar pulled apart erodes one
 *    element layer, and the energy released per unit cross-section does not depend on the element
 *    size h (it is G_c W/W+ for a homogeneous stretch: the element erodes at W+ = G_c / h and holds
 *    W h per unit area), where a plain strain criterion would release W_f h, proportional to h. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contact.h"
#include "material.h"
#include "mechanics.h"
#include "mechanics_fixture.h"
#include "distribute.h"
#include "mesh.h"
#include "mpi_suite.h"

#define OK(call) ck_assert_msg((call) == PP_OK, "%s", pp_error_message())

static pp_runtime runtime;
static pp_clrt *clrt;
static const double um = 1e-6;

typedef struct {
  pp_mesh mesh;
  pp_test_model core;
  pp_contact *contact;
} model;

/* Every owned value by global id [global count * components], on every rank (one owner each). */
static double *gather_by_id(const long long *global_id, int owned, long long global_count, int components,
                            const double *values, MPI_Comm comm)
{
  const size_t total = (size_t)global_count * (size_t)components;
  double *all = calloc(total + 1, sizeof *all);
  ck_assert_ptr_nonnull(all);
  for (int i = 0; i < owned; ++i)
    for (int c = 0; c < components; ++c)
      all[(size_t)global_id[i] * (size_t)components + (size_t)c] = values[(size_t)i * (size_t)components + (size_t)c];
  MPI_Allreduce(MPI_IN_PLACE, all, (int)total, MPI_DOUBLE, MPI_SUM, comm);
  return all;
}

/* ---- a needle punctures a block ------------------------------------------------------------------ */

enum { PUNCTURE_STEPS = 600, PUNCTURE_VALUES = 12 };
static const double block_centre = 120e-6;

typedef struct {
  double values[PUNCTURE_VALUES]; /* at the end: needle totals, energies, the balance */
  double worst_closure;           /* largest |closure| over the steps / the largest |work| */
  long long eroded_elements;
  long long distorted_elements;   /* of those, eroded by distortion */
  double *displacement, *eroded, *damage; /* by global id */
  long long nodes, elements;
  int bad_state;                  /* a NaN or an inverted element met */
  double eroded_energy_left;      /* largest stored energy of an eroded element: must be 0 */
} puncture_run;

/* A 240 x 240 x 160 um block graded to 6 um under the axis, base fixed; a sharp cone (tip radius
 * 1 um, half-angle 15 degrees) descending at 5 m/s from 1 um above the surface, with friction 0.2;
 * G_c = 1 J/m^2 in every layer (so that the tip, 30 um deep after 600 steps, cuts its way in: the
 * tensile energy under a sharp tip reaches G_c / h there). */
/* 1: the non-local criterion (mechanics.puncture_criterion: nonlocal) with a 12 um radius and G_c = 0.5 J/m^2,
 * checked every NONLOCAL_INTERVAL steps, instead of the crack band. */
static int nonlocal_criterion = 0;
enum { NONLOCAL_INTERVAL = 20 };
/* > 0: distortion erosion alone (mechanics.distortion_limit) at this limit, G_c so large that the
 * criterion never fires. */
static double distortion_limit = 0;

static puncture_run run_puncture(int rank, int size, MPI_Comm comm)
{
  static const double axis[1] = {120e-6};
  pp_mesh_spec spec = {
    .length_x = 2 * block_centre, .length_y = 2 * block_centre, .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .refine_x = axis, .refine_y = axis, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = 6 * um, .lateral_fine_radius = 18 * um, .lateral_growth = 1.4, .lateral_max_size = 40 * um,
    .surface_size = 6 * um, .depth_growth = 1.3, .depth_max_size = 40 * um, .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = 32 * um;
  model md;
  OK(pp_mesh_generate(&spec, rank, size, &md.mesh));
  const pp_material law = pp_test_block_law();
  pp_mechanics_options options;
  pp_mechanics_options_default(&options, &law);
  options.erosion = 1;
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    options.fracture_energy[l] = distortion_limit > 0 ? 1e9 : nonlocal_criterion ? 0.5 : 1;
    options.failure_energy_density[l] = 3.6e6;
  }
  options.distortion_limit = distortion_limit;
  options.nonlocal = nonlocal_criterion;
  options.nonlocal_radius = 12 * um;
  pp_test_model_create(&md.core, &md.mesh, clrt, comm, &options);
  OK(pp_contact_create(&md.contact, &md.mesh, clrt, md.core.reduce, comm, 1));
  OK(pp_mechanics_set_contact(md.core.mechanics, md.contact, 0.1));
  puncture_run run = {.nodes = md.mesh.global_node_count, .elements = md.mesh.global_element_count};
  const double speed = 5, mu = 0.2, velocity[3] = {0, 0, -speed};
  double t = 0, params[PP_CONTACT_SHAPE_PARAMS], largest_closure = 0, largest_work = 0;
  pp_mechanics_step_info info = {0};
  for (int step = 1; step <= PUNCTURE_STEPS; ++step) {
    const double dt = pp_mechanics_automatic_step(md.core.mechanics), t_next = t + dt;
    pp_test_vertical_needle(axis[0], axis[0], 1 * um - speed * t_next, 1 * um, 15 * M_PI / 180, 30 * um, 1e-3, params);
    OK(pp_contact_set_needles(md.contact, params, velocity, &mu));
    OK(pp_mechanics_step(md.core.mechanics, dt, &info));
    t = t_next;
    if (nonlocal_criterion && step % NONLOCAL_INTERVAL == 0) {
      long long marked = 0;
      OK(pp_mechanics_nonlocal_mark(md.core.mechanics, &marked));
    }
    if (!isfinite(info.kinetic) || !isfinite(info.stored) || !(info.next_stable_step > 0)) run.bad_state = 1;
    largest_closure = fmax(largest_closure, fabs(info.closure));
    largest_work = fmax(largest_work, fabs(info.external_work));
  }
  run.worst_closure = largest_work > 0 ? largest_closure / largest_work : INFINITY;
  pp_contact_needle_totals totals;
  OK(pp_contact_needle(md.contact, 0, &totals));
  pp_contact_energy energy;
  OK(pp_contact_energy_terms(md.contact, &energy));
  const double values[PUNCTURE_VALUES] = {totals.axial_force, totals.normal_force, totals.friction_force,
                                          totals.tip_force,   energy.penalty_energy, energy.friction_dissipated,
                                          energy.needle_work, info.kinetic,         info.stored,
                                          info.external_work, info.eroded,        info.closure};
  memcpy(run.values, values, sizeof values);
  pp_mechanics_erosion_totals eroded;
  OK(pp_mechanics_erosion(md.core.mechanics, &eroded));
  run.eroded_elements = eroded.elements;
  run.distorted_elements = eroded.distorted;
  const int owned_elements = md.mesh.owned_element_count;
  double *flags = calloc((size_t)owned_elements + 1, sizeof *flags), *damage = calloc((size_t)owned_elements + 1, sizeof *damage);
  OK(pp_mechanics_get_damage(md.core.mechanics, flags, damage));
  /* eroded elements: damage 1, and their stored energy is 0 (they carry nothing) */
  double *element_energy = calloc((size_t)owned_elements + 1, sizeof *element_energy);
  OK(pp_mechanics_get_element_state(md.core.mechanics, NULL, element_energy));
  for (int e = 0; e < owned_elements; ++e)
    if (flags[e] != 0) {
      ck_assert_msg(damage[e] == 1, "eroded element %d has damage %g", e, damage[e]);
      run.eroded_energy_left = fmax(run.eroded_energy_left, fabs(element_energy[e]));
    }
  run.eroded = gather_by_id(md.mesh.element_global_id, owned_elements, run.elements, 1, flags, comm);
  run.damage = gather_by_id(md.mesh.element_global_id, owned_elements, run.elements, 1, damage, comm);
  double *u = pp_test_owned_array(&md.mesh, 3);
  OK(pp_mechanics_get_state(md.core.mechanics, u, NULL));
  run.displacement = gather_by_id(md.mesh.node_global_id, md.mesh.owned_node_count, run.nodes, 3, u, comm);
  MPI_Allreduce(MPI_IN_PLACE, &run.bad_state, 1, MPI_INT, MPI_MAX, comm);
  MPI_Allreduce(MPI_IN_PLACE, &run.eroded_energy_left, 1, MPI_DOUBLE, MPI_MAX, comm);
  free(u);
  free(flags);
  free(damage);
  free(element_energy);
  pp_test_model_destroy(&md.core);
  pp_contact_destroy(md.contact);
  pp_mesh_free(&md.mesh);
  return run;
}

static size_t mismatches(const double *a, const double *b, size_t count)
{
  size_t n = 0;
  for (size_t i = 0; i < count; ++i) n += memcmp(&a[i], &b[i], sizeof(double)) != 0;
  return n;
}

/* Source for the balance: the discrete energy balance of the central-difference scheme
 * (host/mechanics.h), to which erosion adds one term: the element's stored energy at the state where
 * it erodes, moved from "stored" to "eroded" in the same evaluation, so the balance changes only by
 * the scheme's own O(dt^2) per step. Source for the same bits: the design (ghost elements erode by
 * the same arithmetic on every rank that holds them; exact global sums), against the serial run in
 * the same process. */
static void puncture_erodes_same_bits(void)
{
  puncture_run parallel = run_puncture(runtime.rank, runtime.size, runtime.comm);
  puncture_run serial = {0};
  if (runtime.rank == 0) serial = run_puncture(0, 1, MPI_COMM_SELF);
  const size_t nodes = (size_t)parallel.nodes * 3, elements = (size_t)parallel.elements;
  if (runtime.rank != 0) {
    serial.displacement = calloc(nodes + 1, sizeof(double));
    serial.eroded = calloc(elements + 1, sizeof(double));
    serial.damage = calloc(elements + 1, sizeof(double));
  }
  MPI_Bcast(serial.values, PUNCTURE_VALUES, MPI_DOUBLE, 0, runtime.comm);
  MPI_Bcast(serial.displacement, (int)nodes, MPI_DOUBLE, 0, runtime.comm);
  MPI_Bcast(serial.eroded, (int)elements, MPI_DOUBLE, 0, runtime.comm);
  MPI_Bcast(serial.damage, (int)elements, MPI_DOUBLE, 0, runtime.comm);
  const size_t value_diff = mismatches(parallel.values, serial.values, PUNCTURE_VALUES);
  const size_t u_diff = mismatches(parallel.displacement, serial.displacement, nodes);
  const size_t eroded_diff = mismatches(parallel.eroded, serial.eroded, elements);
  const size_t damage_diff = mismatches(parallel.damage, serial.damage, elements);
  double largest_damage = 0;
  long long damaged = 0;
  for (size_t e = 0; e < elements; ++e) {
    if (parallel.eroded[e] == 0) largest_damage = fmax(largest_damage, parallel.damage[e]);
    damaged += parallel.damage[e] > 0 && parallel.eroded[e] == 0;
  }
  if (runtime.rank == 0)
    printf("puncture (%d ranks%s): %lld of %lld elements eroded, %lld more damaged (largest %.3g); axial force %.4e N "
           "(tip %.3e N); eroded energy %.4e J of %.4e J work; worst energy closure %.2e of the work; against the "
           "serial run %zu values, %zu displacements, %zu eroded flags, %zu damage values differ\n",
           runtime.size, distortion_limit > 0 ? ", distortion erosion only" : nonlocal_criterion ? ", non-local" : "",
           parallel.eroded_elements, parallel.elements, damaged, largest_damage, parallel.values[0],
           parallel.values[3], parallel.values[10], parallel.values[9], parallel.worst_closure, value_diff, u_diff,
           eroded_diff, damage_diff);
  ck_assert_msg(!parallel.bad_state, "a NaN state or an inverted element");
  ck_assert_msg(parallel.eroded_elements >= 3, "the needle eroded %lld elements: no puncture to test",
                parallel.eroded_elements);
  /* every erosion of a distortion run is a distortion erosion, and none of the others is */
  ck_assert_msg(parallel.distorted_elements == (distortion_limit > 0 ? parallel.eroded_elements : 0),
                "%lld of %lld erosions counted as distortion erosions (limit %g)", parallel.distorted_elements,
                parallel.eroded_elements, distortion_limit);
  ck_assert_msg(parallel.values[10] > 0, "no erosion energy in the balance");
  ck_assert_msg(parallel.eroded_energy_left == 0, "an eroded element still holds energy %g J",
                parallel.eroded_energy_left);
  ck_assert_msg(damaged > 0 && largest_damage < 1, "damage outside the eroded elements: %lld, largest %g", damaged,
                largest_damage);
  /* Measured in this run (a 5 m/s impact): 3.4e-4 of the work without erosion (the scheme's own
     error at this speed; ~1e-6 in slow loading, test_mechanics), 2.5e-4 with 4 eroded elements
     (8 and 3.6e-4 before a change of rounding in the tensile state moved one erosion a step),
     6.5e-4 with 64 at G_c = 0.3 J/m^2; without the half-step correction (kernels/mechanics.cl's
     node_activity) 6.3e-4 and 2.0e-3. Asserted below 3x the scheme's own. */
  ck_assert_msg(parallel.worst_closure < 1e-3, "energy closure %.3e of the work", parallel.worst_closure);
  ck_assert_msg(value_diff == 0 && u_diff == 0 && eroded_diff == 0 && damage_diff == 0,
                "not the serial run's bits: %zu values, %zu displacements, %zu eroded, %zu damage", value_diff, u_diff,
                eroded_diff, damage_diff);
  free(parallel.displacement);
  free(parallel.eroded);
  free(parallel.damage);
  free(serial.displacement);
  free(serial.eroded);
  free(serial.damage);
}

START_TEST(test_puncture_erodes_same_bits)
{
  nonlocal_criterion = 0;
  puncture_erodes_same_bits();
}
END_TEST

/* The same with the non-local criterion: the averages (host/nonlocal) and the marks are the same on
 * every rank that holds an element, so the run is the serial run's bits too. */
START_TEST(test_nonlocal_puncture_same_bits)
{
  nonlocal_criterion = 1;
  puncture_erodes_same_bits();
  nonlocal_criterion = 0;
}
END_TEST

/* Distortion erosion alone (G_c out of reach): the elements the sharp tip crushes below det F = 0.3 at
 * a Gauss point erode (5 of them; at 0.1 none, at 0.6 239, closure 1.5e-3), their energy booked as
 * erosion, the balance closed as the criterion's erosions close it, all counted as distortion
 * erosions; the serial run's bits on every rank count. (This run does not invert without it: the
 * limit is the remedy for the 8/5 um quasi-static stroke's crush, RESULTS.md, not shown here.) */
START_TEST(test_distortion_erosion_same_bits)
{
  distortion_limit = 0.3;
  puncture_erodes_same_bits();
  distortion_limit = 0;
}
END_TEST

/* ---- the crack band -------------------------------------------------------------------------------- */

/* A bar of cubic elements of size h, 2 h1 x 2 h1 x 4 h1 (h1 = 10 um), with the symmetry planes
 * x = 0, y = 0 and the base z = 0 held in their normal direction and the top pulled along z: a
 * homogeneous uniaxial stretch l. The element layer at mid-height is weak (G_c), the rest never
 * erode. By dynamic relaxation the stretch rises in small increments until the layer erodes. */
static double crack_band_release(double h, double G_c, const pp_material *law, int rank, MPI_Comm comm,
                                 double *stretch_at_erosion, long long *eroded_elements)
{
  const double h1 = 10e-6;
  const int n = (int)lround(2 * h1 / h), nz = 2 * n, m = n + 1;
  pp_global_mesh global = {0};
  double *coords = NULL;
  long long *cells = NULL;
  int *layers = NULL;
  unsigned char *flags = NULL;
  if (rank == 0) {
    global.node_count = (long long)m * m * (nz + 1);
    global.element_count = (long long)n * n * nz;
    coords = malloc((size_t)global.node_count * 3 * sizeof *coords);
    flags = calloc((size_t)global.node_count, 1);
    cells = malloc((size_t)global.element_count * 8 * sizeof *cells);
    layers = calloc((size_t)global.element_count, sizeof *layers);
    for (int k = 0; k <= nz; ++k)
      for (int j = 0; j < m; ++j)
        for (int i = 0; i < m; ++i) {
          const long long id = ((long long)k * m + j) * m + i;
          coords[3 * id] = i * h;
          coords[3 * id + 1] = j * h;
          coords[3 * id + 2] = k * h;
          flags[id] = (unsigned char)((k == 0 ? PP_NODE_BASE : 0) | (k == nz ? PP_NODE_SURFACE : 0) |
                                      (i == 0 ? PP_NODE_X_MIN : 0) | (j == 0 ? PP_NODE_Y_MIN : 0));
        }
    for (int k = 0; k < nz; ++k)
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
          const long long e = ((long long)k * n + j) * n + i;
          layers[e] = k == nz / 2;
          for (int c = 0; c < 8; ++c)
            cells[8 * e + c] = ((long long)(k + pp_hex_corner_bit(c, 2)) * m + (j + pp_hex_corner_bit(c, 1))) * m +
                               (i + pp_hex_corner_bit(c, 0));
        }
    global.node_coords = coords;
    global.element_nodes = cells;
    global.element_layer = layers;
    global.node_boundary = flags;
  }
  pp_mesh mesh;
  pp_partition_stats stats;
  OK(pp_mesh_distribute(rank == 0 ? &global : NULL, 0, comm, &mesh, &stats));
  free(coords);
  free(cells);
  free(layers);
  free(flags);
  pp_mechanics_options options;
  pp_mechanics_options_default(&options, law);
  options.base = PP_BASE_FREE;
  options.erosion = 1;
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    options.fracture_energy[l] = l == 1 ? G_c : 1e9;
    options.failure_energy_density[l] = 3.6e6;
  }
  pp_test_model bar;
  pp_test_model_create(&bar, &mesh, clrt, comm, &options);
  const int owned = mesh.owned_node_count;
  unsigned char *kind = calloc((size_t)owned * 3 + 1, 1);
  double *target = calloc((size_t)owned * 3 + 1, sizeof *target);
  const double length = nz * h, top_stretch = 2;
  for (int v = 0; v < owned; ++v) {
    const unsigned char b = mesh.node_boundary[v];
    kind[3 * v] = (b & PP_NODE_X_MIN) != 0;
    kind[3 * v + 1] = (b & PP_NODE_Y_MIN) != 0;
    kind[3 * v + 2] = (b & (PP_NODE_BASE | PP_NODE_SURFACE)) != 0;
    target[3 * v + 2] = b & PP_NODE_SURFACE ? (top_stretch - 1) * length : 0;
  }
  OK(pp_mechanics_set_constraints(bar.mechanics, kind, target));
  free(kind);
  free(target);
  /* the analytic onset (the compressible law's uniaxial state, host/material): W+(l*) = G_c / h;
     increments of 0.05 up to 0.97 (l* - 1), then of 0.001 */
  double low = 1, high = top_stretch;
  for (int it = 0; it < 100; ++it) {
    const double l = (low + high) / 2;
    double lateral, sigma, W, principal;
    OK(pp_material_uniaxial(law, l, &lateral, &sigma));
    const double C[9] = {lateral * lateral, 0, 0, 0, lateral * lateral, 0, 0, 0, l * l};
    pp_material_tensile_state(law, C, lateral * lateral * l, &W, &principal);
    if (W >= G_c / h) high = l;
    else low = l;
  }
  const double onset = high;
  pp_mechanics_erosion_totals totals = {0};
  double l = 1;
  while (l < top_stretch && totals.elements == 0) {
    const double approach = 1 + 0.97 * (onset - 1);
    l = l < approach ? fmin(l + 0.05, approach) : l + 0.001;
    pp_mechanics_set_load_factor(bar.mechanics, (l - 1) / (top_stretch - 1));
    pp_mechanics_relax_info relax;
    OK(pp_mechanics_relax(bar.mechanics, 1e-5, 100000, &relax));
    OK(pp_mechanics_erosion(bar.mechanics, &totals));
    /* once the band has gone the bar carries nothing: its residual ratio no longer means anything */
    ck_assert_msg(relax.converged || totals.elements > 0, "bar at stretch %g: not relaxed", l);
  }
  *stretch_at_erosion = l;
  *eroded_elements = totals.elements;
  pp_test_model_destroy(&bar);
  pp_mesh_free(&mesh);
  const double area = 4 * h1 * h1;
  return totals.energy / area;
}

/* Source: crack-band theory (Bazant and Oh 1983, Materiaux et Constructions 16:155; PHYSICS.md 2.3's
 * recommendation): an element of size h erodes at W+ = G_c / h, and the band of elements then
 * releases W(l*) h per unit area, W(l*) the strain-energy density at the stretch l* where that
 * happens, computed here from the compressible law's uniaxial state (host/material, checked in
 * test_material against closed forms): for a neo-Hookean bar, l* = 1.30 at h = 10 um and 1.43 at
 * h = 5 um for G_c = 0.083 J/m^2, and W(l*) h = 0.115 and 0.111 J/m^2: nearly G_c W/W+, not W_f h.
 * The measured release may exceed it by the last increment (0.001 of stretch: 1 % of W) and
 * the dynamic overshoot of relaxation: asserted within 3 %. A criterion on stretch or energy alone
 * would release twice as much per unit area at h = 10 um as at 5 um. */
START_TEST(test_crack_band_release)
{
  const pp_material law = pp_test_block_law();
  const double G_c = 0.083, sizes[2] = {10e-6, 5e-6};
  double release[2];
  for (int k = 0; k < 2; ++k) {
    double at = 0;
    long long eroded = 0;
    release[k] = crack_band_release(sizes[k], G_c, &law, runtime.rank, runtime.comm, &at, &eroded);
    /* the analytic release at the analytic onset */
    double low = 1, high = 2;
    for (int it = 0; it < 100; ++it) {
      const double l = (low + high) / 2;
      double lateral, sigma, W, principal;
      OK(pp_material_uniaxial(&law, l, &lateral, &sigma));
      const double C[9] = {lateral * lateral, 0, 0, 0, lateral * lateral, 0, 0, 0, l * l};
      pp_material_tensile_state(&law, C, lateral * lateral * l, &W, &principal);
      if (W >= G_c / sizes[k]) high = l;
      else low = l;
    }
    double lateral, sigma;
    OK(pp_material_uniaxial(&law, high, &lateral, &sigma));
    const double F[9] = {lateral, 0, 0, 0, lateral, 0, 0, 0, high};
    const double expected = pp_material_energy(&law, F) * sizes[k];
    const int band = (int)lround(4 * 1e-10 / (sizes[k] * sizes[k]));
    if (runtime.rank == 0)
      printf("crack band h = %g um (%d ranks): the band (%lld of %d elements) eroded at stretch %.4f (analytic onset "
             "%.4f), releasing %.5f J/m^2 per unit area; analytic W(l*) h = %.5f J/m^2 (G_c = %g J/m^2)\n",
             sizes[k] * 1e6, runtime.size, eroded, band, at, high, release[k], expected, G_c);
    ck_assert_msg(eroded == band, "h = %g um: %lld elements eroded, the band has %d", sizes[k] * 1e6, eroded, band);
    ck_assert_msg(fabs(release[k] / expected - 1) < 0.03, "h = %g um: release %.5f J/m^2, analytic %.5f",
                  sizes[k] * 1e6, release[k], expected);
  }
  if (runtime.rank == 0)
    printf("crack band: release at h = 5 um / at h = 10 um = %.4f (a plain criterion: 0.5)\n", release[1] / release[0]);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("puncture");
  TCase *tc = tcase_create(runtime.size == 1 ? "serial" : "ranks");
  tcase_set_timeout(tc, 300);
  /* test_crack_band (tests/CMakeLists.txt) runs the crack band alone, one rank: physics, not
     partitioning, and thousands of relaxations that the sanitizer passes would make too slow */
  if (getenv("PINPRICK_CRACK_BAND"))
    tcase_add_test(tc, test_crack_band_release);
  else {
    tcase_add_test(tc, test_puncture_erodes_same_bits);
    tcase_add_test(tc, test_nonlocal_puncture_same_bits);
    tcase_add_test(tc, test_distortion_erosion_same_bits);
  }
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
