/* Stage-2 diffusion (host/diffusion) on undulated, non-orthogonal meshes: the two-point-flux
 * error measured, positivity and mass balance checked (issue: "measure the two-point-flux error
 * on undulated meshes; a mass-conserving limiter, with the minimum reported").
 *
 * The junction undulation (mesh.h, dej_amplitude A, dej_wavelength lambda) moves nodes in z only,
 * so the block stays the same box and an exact solution that does not care where the nodes are
 * is still exact. Two such solutions with uniform D and decay k (L = sqrt(D/k)), each steady and
 * 1-D, solved together as four species of one batched solve (L = 240 um, PHYSICS.md 5.5, and a
 * steep L = 80 um):
 *   z: a source layer (the stratum corneum) over a no-flux base: gradient across the junction;
 *   x: a source strip x < a through the full depth, no flux at x = 0 and x = W: gradient along it.
 * Both are the steady slab with heat production in part of it and a loss proportional to the
 * temperature (Carslaw & Jaeger, Conduction of Heat in Solids, 2nd ed., Oxford 1959: steady linear
 * flow with continuity of c and D dc/ds at the source edge; derived at slab_exact).
 * test_two_point_flux refines the flat mesh (A = 0) and the undulated one together (h = 10, 5,
 * 2.5 um, the undulation fixed in physical units), test_amplitude_sweep takes A = 20-100 um;
 * both print relative L2 and max errors as tables. Asserted: the flat error is small and converges
 * at order 2; on every mesh the mass balance holds to 1e-10 and min >= -1e-14 max; the undulated
 * max error stays below the estimate (node move) x (largest gradient) of check_estimate. The
 * undulated error is the two-point flux's inconsistency, not resolution (it is the same at every
 * h): it is reported, not hidden. test_indicator_minimum reports the minimum from an indicator
 * source: no limiter is needed, the only undershoot is the CG tolerance's.
 * Rule (as test_diffusion.c): collectives first, then asserts on values equal on every rank. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_suite.h"
#include "clrt.h"
#include "diffusion.h"
#include "halo.h"
#include "mesh.h"
#include "reduce.h"
#include "runtime.h"

static pp_runtime runtime;
static pp_clrt *clrt;
static const double um = 1e-6;

enum { SPECIES = 4 };
/* Species s: problem (s / 2: 0 = z, 1 = x) and decay length (s % 2: 240 um, 80 um). */
static const double diffusivity = 1e-11;
static const double decay_length[2] = {240e-6, 80e-6};
static const char *const problem_name[2] = {"z (across)", "x (along)"};
static const double source_density = 1.0; /* mass per m^3 and s */
static const double strip_width = 50e-6;  /* x source strip: x < a */
static const double wavelength = 100e-6;

static int all_ranks(int condition)
{
  int all = 0;
  MPI_Allreduce(&condition, &all, 1, MPI_INT, MPI_MIN, runtime.comm);
  return all;
}

typedef struct {
  pp_mesh mesh;
  pp_halo *halo;
  pp_reduce *reduce;
  pp_diffusion *diffusion;
} problem;

static void problem_create(problem *p, const pp_mesh_spec *spec, int species_count, const pp_diffusion_species *species)
{
  memset(p, 0, sizeof *p);
  ck_assert_int_eq(pp_mesh_generate(spec, runtime.rank, runtime.size, &p->mesh), PP_OK);
  ck_assert_int_eq(pp_halo_create(&p->halo, &p->mesh, clrt, runtime.comm), PP_OK);
  ck_assert_int_eq(pp_reduce_create(&p->reduce, clrt, runtime.comm), PP_OK);
  pp_err err =
    pp_diffusion_create(&p->diffusion, &p->mesh, clrt, p->halo, p->reduce, runtime.comm, species_count, species);
  ck_assert_msg(err == PP_OK, "diffusion: %s", pp_error_message());
}

static void problem_free(problem *p)
{
  pp_diffusion_destroy(p->diffusion);
  pp_reduce_destroy(p->reduce);
  pp_halo_destroy(p->halo);
  pp_mesh_free(&p->mesh);
}

/* Order-independent sum over the owned entries of all ranks (reduce). */
static double host_sum(const double *values, size_t count)
{
  double sum = 0;
  ck_assert_int_eq(pp_reduce_sum_host(values, count, runtime.comm, &sum), PP_OK);
  return sum;
}

/* The block: x in [0, 2 lambda], y in [0, lambda / 2] with no-flux (mirror) sides, so the cell
 * is the mirror image of the periodic undulation; layers 20/60/80/20/20 um, uniform elements of
 * size h (every layer a whole number of them). amplitude 0: flat. */
static pp_mesh_spec block_spec(double h, double amplitude)
{
  pp_mesh_spec spec = {
    .length_x = 2 * wavelength, .length_y = 0.5 * wavelength,
    .layer_thickness = {20 * um, 60 * um, 80 * um, 20 * um, 20 * um},
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .lateral_fine_size = h, .lateral_fine_radius = 0, .lateral_growth = 1, .lateral_max_size = h,
    .surface_size = h, .depth_growth = 1, .depth_max_size = h, .min_elements_per_layer = 1,
    .dej_amplitude = amplitude, .dej_wavelength = wavelength,
  };
  return spec;
}

static double block_depth(const pp_mesh_spec *spec)
{
  double depth = 0;
  for (int l = 0; l < PP_LAYER_COUNT; ++l) depth += spec->layer_thickness[l];
  return depth;
}

/* Steady 1-D slab s in [0, H], source density q in s < a, none beyond, decay k, no flux at s = 0
 * and s = H, uniform D, L = sqrt(D / k) (Carslaw & Jaeger 1959, as above). With c = q/k +
 * A cosh(s/L) in the source and B cosh((H - s)/L) beyond, continuity of c and dc/ds at s = a gives
 *   B = (q/k) sinh(a/L) / sinh(H/L),  A = -(q/k) sinh((H - a)/L) / sinh(H/L)
 * (sinh(H) = sinh(a) cosh(H - a) + cosh(a) sinh(H - a)). test_diffusion.c's two-layer slab is the
 * same solution with two diffusivities. */
static double slab_exact(double s, double q, double k, double L, double a, double height)
{
  double scale = (q / k) / sinh(height / L);
  if (s <= a) return q / k - scale * sinh((height - a) / L) * cosh(s / L);
  return scale * sinh(a / L) * cosh((height - s) / L);
}

/* Largest |dc/ds| of slab_exact: at the source edge s = a. */
static double slab_largest_slope(double q, double k, double L, double a, double height)
{
  return (q / k) * sinh(a / L) * sinh((height - a) / L) / (sinh(height / L) * L);
}

static double species_exact(int species, const double *x, double depth, double length_x)
{
  double L = decay_length[species % 2], k = diffusivity / (L * L);
  if (species / 2 == 0) return slab_exact(-x[2], source_density, k, L, 20 * um, depth);
  return slab_exact(x[0], source_density, k, L, strip_width, length_x);
}

typedef struct {
  double l2[SPECIES];        /* relative, lumped-volume weighted */
  double max[SPECIES];       /* max |c - exact| / max exact */
  double where[SPECIES];     /* depth (z problem) or x (x problem) of the max, m */
  double balance[SPECIES];   /* |m (1 + k dt) - dt Q| / (dt Q) */
  double min_ratio;          /* min over nodes and species of c / max c */
  double slope;              /* largest |dz| / |dx| of a lateral element edge */
  double displacement;       /* largest node move by the undulation, m (A / 2 when resolved) */
  double estimate[SPECIES];  /* displacement x max |dc/ds| / max c: see test_two_point_flux */
  long long non_orthogonal;  /* pp_diffusion_non_orthogonal_edges */
  long long edges;           /* element edges counted the same way: 24 per element */
  long long nodes;
  int iterations;            /* largest species' CG iterations */
  double seconds;            /* wall time of the run (rank 0's) */
} run_result;

/* Largest move of a node off its flat depth (the axis position of its node plane). */
static double largest_displacement(const pp_mesh *mesh)
{
  double moved = 0, global = 0;
  for (int n = 0; n < mesh->owned_node_count; ++n) {
    int k = (int)(mesh->node_global_id[n] % mesh->node_layers);
    moved = fmax(moved, fabs(-mesh->node_coords[3 * n + 2] - mesh->axis_z.position[k]));
  }
  MPI_Allreduce(&moved, &global, 1, MPI_DOUBLE, MPI_MAX, runtime.comm);
  return global;
}

/* Largest slope of a lateral (x or y) element edge over the owned elements of all ranks: the
 * tangent of the angle between an edge and its (vertical) dual face's normal on these meshes. */
static double largest_edge_slope(const pp_mesh *mesh)
{
  static const int lateral[8][2] = {{0, 1}, {3, 2}, {4, 5}, {7, 6}, {0, 3}, {1, 2}, {4, 7}, {5, 6}};
  double slope = 0, global = 0;
  for (int e = 0; e < mesh->owned_element_count; ++e) {
    const double *xyz = mesh->element_corner_coords + 24 * (size_t)e;
    for (int k = 0; k < 8; ++k) {
      const double *a = xyz + 3 * lateral[k][0], *b = xyz + 3 * lateral[k][1];
      double run = hypot(b[0] - a[0], b[1] - a[1]);
      slope = fmax(slope, fabs(b[2] - a[2]) / run);
    }
  }
  MPI_Allreduce(&slope, &global, 1, MPI_DOUBLE, MPI_MAX, runtime.comm);
  return global;
}

/* One backward-Euler step from 0 with dt = 1e11 s (k dt >= 1.7e7: the steady state to 6e-8
 * relative) of the four species on block_spec(h, amplitude); errors against slab_exact. */
static run_result run_block(double h, double amplitude)
{
  const double start = MPI_Wtime();
  pp_mesh_spec spec = block_spec(h, amplitude);
  const double depth = block_depth(&spec), dt = 1e11;
  pp_diffusion_species species[SPECIES];
  for (int s = 0; s < SPECIES; ++s) {
    double L = decay_length[s % 2];
    species[s].decay_rate = diffusivity / (L * L);
    for (int l = 0; l < PP_LAYER_COUNT; ++l) species[s].diffusivity[l] = diffusivity;
  }
  problem p;
  problem_create(&p, &spec, SPECIES, species);
  const int owned = p.mesh.owned_node_count;
  const size_t entries = (size_t)owned * SPECIES;
  /* Sources: the stratum corneum (layer 0, whose nodes the undulation does not move) for the z
   * problem; the elements in x < a (all depths) for the x problem. */
  double *density = calloc((size_t)p.mesh.element_count * SPECIES + 1, sizeof *density);
  for (int e = 0; e < p.mesh.element_count; ++e) {
    double centre_x = 0;
    for (int c = 0; c < 8; ++c) centre_x += 0.125 * p.mesh.element_corner_coords[24 * (size_t)e + 3 * (size_t)c];
    for (int s = 0; s < SPECIES; ++s) {
      int inside = s / 2 == 0 ? p.mesh.element_layer[e] == 0 : centre_x < strip_width;
      density[(size_t)e * SPECIES + (size_t)s] = inside ? source_density : 0;
    }
  }
  double *rates = malloc(entries * sizeof *rates + 8), *c = malloc(entries * sizeof *c + 8);
  double *single = malloc((size_t)owned * sizeof *single + 8), *terms = malloc((size_t)owned * sizeof *terms + 8);
  ck_assert_int_eq(pp_diffusion_source_from_elements(p.diffusion, density, rates), PP_OK);
  ck_assert_int_eq(pp_diffusion_set_source_rate(p.diffusion, rates), PP_OK);
  pp_diffusion_step_info info;
  pp_err err = pp_diffusion_step(p.diffusion, dt, &info);
  ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
  ck_assert_int_eq(pp_diffusion_get_field(p.diffusion, c), PP_OK);
  const double *volume = pp_diffusion_node_volume(p.diffusion);
  run_result r = {.min_ratio = INFINITY, .iterations = info.solver.iterations};
  for (int s = 0; s < SPECIES; ++s) {
    /* Mass balance of the step from 0: m (1/dt + k) = sum Q, K's rows summing to 0. */
    for (int i = 0; i < owned; ++i) single[i] = rates[(size_t)i * SPECIES + (size_t)s];
    double q_total = host_sum(single, (size_t)owned);
    r.balance[s] = fabs(info.mass[s] * (1 + species[s].decay_rate * dt) - dt * q_total) / (dt * q_total);
    double lo = INFINITY, hi = -INFINITY, exact_max = 0, worst = -1, where = 0;
    for (int i = 0; i < owned; ++i) {
      const double *x = p.mesh.node_coords + 3 * i;
      double value = c[(size_t)i * SPECIES + (size_t)s], exact = species_exact(s, x, depth, spec.length_x);
      lo = fmin(lo, value);
      hi = fmax(hi, value);
      exact_max = fmax(exact_max, exact);
      terms[i] = volume[i] * (value - exact) * (value - exact);
      single[i] = volume[i] * exact * exact;
      if (fabs(value - exact) > worst) {
        worst = fabs(value - exact);
        where = s / 2 == 0 ? -x[2] : x[0];
      }
    }
    r.l2[s] = sqrt(host_sum(terms, (size_t)owned) / host_sum(single, (size_t)owned));
    double extremes[3] = {-lo, hi, exact_max}, global[3];
    MPI_Allreduce(extremes, global, 3, MPI_DOUBLE, MPI_MAX, runtime.comm);
    r.min_ratio = fmin(r.min_ratio, -global[0] / global[1]);
    struct { double value; int rank; } local = {worst, runtime.rank}, largest;
    MPI_Allreduce(&local, &largest, 1, MPI_DOUBLE_INT, MPI_MAXLOC, runtime.comm);
    MPI_Bcast(&where, 1, MPI_DOUBLE, largest.rank, runtime.comm);
    r.max[s] = largest.value / global[2];
    r.where[s] = where;
  }
  r.slope = largest_edge_slope(&p.mesh);
  r.displacement = largest_displacement(&p.mesh);
  for (int s = 0; s < SPECIES; ++s) {
    double L = decay_length[s % 2], k = diffusivity / (L * L), a = s / 2 == 0 ? 20 * um : strip_width;
    double height = s / 2 == 0 ? depth : spec.length_x, peak = slab_exact(0, source_density, k, L, a, height);
    r.estimate[s] = r.displacement * slab_largest_slope(source_density, k, L, a, height) / peak;
  }
  r.non_orthogonal = pp_diffusion_non_orthogonal_edges(p.diffusion);
  r.edges = 24 * p.mesh.global_element_count;
  r.nodes = p.mesh.global_node_count;
  free(density);
  free(rates);
  free(c);
  free(single);
  free(terms);
  problem_free(&p);
  r.seconds = MPI_Wtime() - start;
  return r;
}

static void check_run(const run_result *r, const char *what)
{
  for (int s = 0; s < SPECIES; ++s)
    ck_assert_msg(r->balance[s] < 1e-10, "%s: species %d mass balance %.3e", what, s, r->balance[s]);
  ck_assert_msg(r->min_ratio >= -1e-14, "%s: min/max %.3e below -1e-14", what, r->min_ratio);
}

/* The undulated error against the estimate delta max|dc/ds| / max c, delta the largest node move
 * (A / 2). Why this size: the two-point flux of an edge is its conductance times the difference
 * of its end values, as if the edge were orthogonal to its dual face. Here the lateral edges tilt
 * by up to atan(pi A / lambda) against their vertical dual faces: a lateral flux picks up the
 * vertical difference of the field over the tilt, and its conductance is short by cos^2 of the
 * tilt (the vertical edges' dual faces tilt alike, and their lateral part carries nothing). The
 * scheme sees the field in the junction band roughly as if its nodes were off by up to their move,
 * so the error is of the size of the change of the exact solution over delta. An estimate, not a
 * theorem: measured (both gradient directions, A = 20-100 um, L = 80 and 240 um, h = 2.5-10 um)
 * the max error is 0.16-0.54 of it, and staying below it is what is asserted. */
static void check_estimate(const run_result *r, double amplitude)
{
  for (int s = 0; s < SPECIES; ++s)
    ck_assert_msg(r->max[s] <= r->estimate[s], "A = %.0f um, %s, L = %.0f um: max error %.3e above the estimate %.3e",
                  amplitude / um, problem_name[s / 2], decay_length[s % 2] / um, r->max[s], r->estimate[s]);
}

/* Least-squares slope of log error against log h. */
static double observed_order(const double *h, const double *error, int count)
{
  double mx = 0, my = 0, sxy = 0, sxx = 0;
  for (int i = 0; i < count; ++i) {
    mx += log(h[i]) / count;
    my += log(error[i]) / count;
  }
  for (int i = 0; i < count; ++i) {
    sxy += (log(h[i]) - mx) * (log(error[i]) - my);
    sxx += (log(h[i]) - mx) * (log(h[i]) - mx);
  }
  return sxy / sxx;
}

/* Flat against undulated (A = 40 um, lambda = 100 um: the junction slope pi A / lambda = 1.26,
 * 51 degrees), h = 10, 5, 2.5 um with the undulation fixed in physical units. Flat: order 2 and
 * a max error below 1e-3 of the peak at 2.5 um (measured 3.3e-5 at worst). Undulated: reported
 * with its observed order (measured 0: the error is the scheme's inconsistency, the same at every
 * h), held to the estimate of check_estimate. Every run: mass balance, min >= -1e-14 max, and
 * skewed edges only on the undulated meshes. */
START_TEST(test_two_point_flux)
{
  enum { LEVELS = 3 };
  const double h[LEVELS] = {10 * um, 5 * um, 2.5 * um}, amplitude = 40 * um;
  run_result flat[LEVELS], undulated[LEVELS];
  for (int level = 0; level < LEVELS; ++level) {
    flat[level] = run_block(h[level], 0);
    undulated[level] = run_block(h[level], amplitude);
  }
  if (runtime.rank == 0) {
    printf("two-point flux on undulated meshes: A = %.0f um, lambda = %.0f um (junction slope pi A / lambda = %.2f), "
           "D = %.0e m^2/s, %d ranks\n", amplitude / um, wavelength / um, M_PI * amplitude / wavelength, diffusivity,
           runtime.size);
    printf("  h (um)   nodes  | skewed edges        max slope     | CG it. flat/undul. | time (s) flat/undul.\n");
    for (int level = 0; level < LEVELS; ++level)
      printf("  %5.2f  %7lld  | %7lld (%4.1f %%)  %.3f (%4.1f deg) | %4d / %4d | %.1f / %.1f\n", h[level] / um,
             flat[level].nodes, undulated[level].non_orthogonal,
             100.0 * undulated[level].non_orthogonal / undulated[level].edges, undulated[level].slope,
             atan(undulated[level].slope) * 180 / M_PI, flat[level].iterations, undulated[level].iterations,
             flat[level].seconds, undulated[level].seconds);
    printf("  problem     L (um)  h (um) | flat: L2 rel  max rel    at (um) | undulated: L2 rel  max rel    at (um) "
           "| estimate\n");
    for (int s = 0; s < SPECIES; ++s)
      for (int level = 0; level < LEVELS; ++level)
        printf("  %-10s  %5.0f  %5.2f  |   %.3e  %.3e  %6.1f  |   %.3e  %.3e  %6.1f  | %.3e\n", problem_name[s / 2],
               decay_length[s % 2] / um, h[level] / um, flat[level].l2[s], flat[level].max[s],
               flat[level].where[s] / um, undulated[level].l2[s], undulated[level].max[s],
               undulated[level].where[s] / um, undulated[level].estimate[s]);
  }
  for (int level = 0; level < LEVELS; ++level) {
    check_run(&flat[level], "flat");
    check_run(&undulated[level], "undulated");
    check_estimate(&undulated[level], amplitude);
    ck_assert_int_eq(flat[level].non_orthogonal, 0);
    ck_assert_int_gt(undulated[level].non_orthogonal, 0);
  }
  for (int s = 0; s < SPECIES; ++s) {
    double flat_l2[LEVELS], flat_max[LEVELS], undulated_l2[LEVELS], undulated_max[LEVELS];
    for (int level = 0; level < LEVELS; ++level) {
      flat_l2[level] = flat[level].l2[s];
      flat_max[level] = flat[level].max[s];
      undulated_l2[level] = undulated[level].l2[s];
      undulated_max[level] = undulated[level].max[s];
    }
    double order = observed_order(h, flat_l2, LEVELS), order_max = observed_order(h, flat_max, LEVELS);
    if (runtime.rank == 0)
      printf("  %-10s L = %3.0f um: observed order flat %.2f (L2) %.2f (max), undulated %.2f (L2) %.2f (max)\n",
             problem_name[s / 2], decay_length[s % 2] / um, order, order_max, observed_order(h, undulated_l2, LEVELS),
             observed_order(h, undulated_max, LEVELS));
    ck_assert_msg(order > 1.8 && order < 2.3, "flat L2 order %.2f (species %d), expected 2", order, s);
    ck_assert_msg(order_max > 1.8 && order_max < 2.3, "flat max order %.2f (species %d), expected 2", order_max, s);
    ck_assert_msg(flat[LEVELS - 1].max[s] < 1e-3, "flat max error %.3e (species %d)", flat[LEVELS - 1].max[s], s);
  }
}
END_TEST

/* The same at h = 5 um for junction amplitudes A = 20, 40, 70, 100 um (skin: 20-100 um,
 * README's mesh.dej_amplitude): reported, with mass balance, positivity and the estimate.
 * Measured: the error across the junction (z) grows about like A (0.5 and 0.4 of the estimate at
 * every A), the one along it (x) like A^1.8 from 20 to 40 um (the cos^2 conductance deficit), then
 * more slowly. */
START_TEST(test_amplitude_sweep)
{
  enum { COUNT = 4 };
  const double h = 5 * um, amplitude[COUNT] = {20 * um, 40 * um, 70 * um, 100 * um};
  run_result r[COUNT];
  for (int a = 0; a < COUNT; ++a) r[a] = run_block(h, amplitude[a]);
  if (runtime.rank == 0) {
    printf("amplitude sweep, h = %.1f um, lambda = %.0f um: relative L2 and max error (max / estimate)\n", h / um,
           wavelength / um);
    printf("  A (um)  slope (deg)   CG it. |");
    for (int s = 0; s < SPECIES; ++s)
      printf(" %-4s L = %3.0f um: L2 max (ratio)  |", s / 2 ? "x" : "z", decay_length[s % 2] / um);
    printf("\n");
    for (int a = 0; a < COUNT; ++a) {
      printf("  %5.0f  %5.2f (%4.1f)  %5d  |", amplitude[a] / um, r[a].slope, atan(r[a].slope) * 180 / M_PI,
             r[a].iterations);
      for (int s = 0; s < SPECIES; ++s)
        printf(" %.2e %.2e (%.2f) |", r[a].l2[s], r[a].max[s], r[a].max[s] / r[a].estimate[s]);
      printf("\n");
    }
  }
  for (int a = 0; a < COUNT; ++a) {
    check_run(&r[a], "amplitude sweep");
    check_estimate(&r[a], amplitude[a]);
  }
}
END_TEST

/* The minimum (issue: "a mass-conserving limiter, with the minimum reported"). An indicator (1 in
 * a 20 x 10 um box of two element rows either side of the junction where it is steepest, x = 65-85
 * um; 0 elsewhere) as both the start field and the source density, layer diffusivities differing by
 * 30x, steps from 1 ms (where schemes without an M-matrix undershoot most) to the steady state.
 * All conductances are >= 0, so M/dt + kM + K is an M-matrix and the solution of each step's
 * system is >= 0 exactly on any mesh: no limiter is needed. What the solver returns is the CG
 * iterate, within its tolerance of that solution, so the minimum printed is CG's, not the
 * scheme's: it shrinks with the tolerance and is the same on the flat mesh. Returns the worst
 * min/max over the steps; *balance: the worst |m_{n+1} (1 + k dt) - m_n - dt Q| / (m_n + dt Q). */
static double indicator_run(double amplitude, double tolerance, double *balance)
{
  const double h = 5 * um, decay = 15 / 86400.0;
  const double steps[] = {1e-3, 1e-2, 0.1, 1, 10, 100, 1e4, 1e11};
  const int step_count = (int)(sizeof steps / sizeof steps[0]);
  pp_mesh_spec spec = block_spec(h, amplitude);
  pp_diffusion_species species = {.diffusivity = {3e-12, 1e-11, 1e-10, 3e-11, 1e-11}, .decay_rate = decay};
  problem p;
  problem_create(&p, &spec, 1, &species);
  pp_solver_options options;
  pp_solver_options_default(&options);
  options.relative_tolerance = tolerance;
  pp_diffusion_set_solver_options(p.diffusion, &options);
  const int owned = p.mesh.owned_node_count, junction = p.mesh.axis_z.layer_first[2];
  const int element_rows = p.mesh.axis_z.element_count;
  double *density = calloc((size_t)p.mesh.element_count + 1, sizeof *density);
  double *rates = malloc((size_t)owned * sizeof *rates + 8), *c = calloc((size_t)owned + 1, sizeof *c);
  for (int e = 0; e < p.mesh.element_count; ++e) {
    int row = (int)(p.mesh.element_global_id[e] % element_rows);
    double x = 0, y = 0;
    for (int k = 0; k < 8; ++k) {
      x += 0.125 * p.mesh.element_corner_coords[24 * (size_t)e + 3 * (size_t)k];
      y += 0.125 * p.mesh.element_corner_coords[24 * (size_t)e + 3 * (size_t)k + 1];
    }
    density[e] = row >= junction - 2 && row < junction + 2 && x > 65 * um && x < 85 * um && y < 10 * um ? 1 : 0;
  }
  for (int i = 0; i < owned; ++i) {
    int row = (int)(p.mesh.node_global_id[i] % p.mesh.node_layers);
    const double *x = p.mesh.node_coords + 3 * i;
    c[i] = abs(row - junction) <= 2 && x[0] >= 65 * um - 1e-12 && x[0] <= 85 * um + 1e-12 && x[1] <= 10 * um + 1e-12;
  }
  ck_assert_int_eq(pp_diffusion_source_from_elements(p.diffusion, density, rates), PP_OK);
  ck_assert_int_eq(pp_diffusion_set_source_rate(p.diffusion, rates), PP_OK);
  ck_assert_int_eq(pp_diffusion_set_field(p.diffusion, c), PP_OK);
  const double q_total = host_sum(rates, (size_t)owned);
  double mass = 0, worst = INFINITY;
  *balance = 0;
  ck_assert_int_eq(pp_diffusion_total_mass(p.diffusion, &mass), PP_OK);
  if (runtime.rank == 0)
    printf("indicator, A = %.0f um (%lld skewed edges), CG tolerance %.0e:\n"
           "       dt (s)   min            max          min/max     nodes < 0  CG it.  mass balance\n",
           amplitude / um, pp_diffusion_non_orthogonal_edges(p.diffusion), tolerance);
  for (int n = 0; n < step_count; ++n) {
    pp_diffusion_step_info info;
    pp_err err = pp_diffusion_step(p.diffusion, steps[n], &info);
    ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
    double expected = mass + steps[n] * q_total;
    double step_balance = fabs(info.mass[0] * (1 + decay * steps[n]) - expected) / expected;
    *balance = fmax(*balance, step_balance);
    mass = info.mass[0];
    ck_assert_int_eq(pp_diffusion_get_field(p.diffusion, c), PP_OK);
    double lo = INFINITY, hi = -INFINITY, extremes[2], global[2];
    long long negative = 0, negatives = 0;
    for (int i = 0; i < owned; ++i) {
      lo = fmin(lo, c[i]);
      hi = fmax(hi, c[i]);
      negative += c[i] < 0;
    }
    extremes[0] = -lo;
    extremes[1] = hi;
    MPI_Allreduce(extremes, global, 2, MPI_DOUBLE, MPI_MAX, runtime.comm);
    MPI_Allreduce(&negative, &negatives, 1, MPI_LONG_LONG, MPI_SUM, runtime.comm);
    worst = fmin(worst, -global[0] / global[1]);
    if (runtime.rank == 0)
      printf("  %11.3g   %+.4e   %.4e   %+.3e   %6lld   %5d   %.2e\n", steps[n], -global[0], global[1],
             -global[0] / global[1], negatives, info.solver.iterations, step_balance);
  }
  free(density);
  free(rates);
  free(c);
  problem_free(&p);
  return worst;
}

/* The indicator on the most skewed mesh (A = 100 um, slope 3.1, 72 degrees) and on the flat one,
 * at the default CG tolerance 1e-12 and at 1e-14. Asserted: at 1e-14, min >= -1e-14 max (the issue's
 * bound); at 1e-12, min >= -1e-12 max (the undershoot is within the solver tolerance); a negative
 * minimum shrinks at least 10x from 1e-12 to 1e-14 (it is the solver's, not the scheme's); the mass
 * balance of every step to 1e-10. */
START_TEST(test_indicator_minimum)
{
  const double amplitude[2] = {100 * um, 0}, tolerance[2] = {1e-12, 1e-14};
  double worst[2][2], balance[2][2];
  for (int a = 0; a < 2; ++a)
    for (int t = 0; t < 2; ++t) worst[a][t] = indicator_run(amplitude[a], tolerance[t], &balance[a][t]);
  if (runtime.rank == 0)
    for (int a = 0; a < 2; ++a)
      printf("indicator minimum, A = %3.0f um: min/max %+.3e (CG tolerance 1e-12), %+.3e (1e-14); "
             "mass balance %.1e, %.1e\n", amplitude[a] / um, worst[a][0], worst[a][1], balance[a][0], balance[a][1]);
  for (int a = 0; a < 2; ++a) {
    ck_assert_msg(worst[a][1] >= -1e-14, "A = %.0f um: min/max %.3e below -1e-14 at CG tolerance 1e-14",
                  amplitude[a] / um, worst[a][1]);
    ck_assert_msg(worst[a][0] >= -1e-12, "A = %.0f um: min/max %.3e below -1e-12 at CG tolerance 1e-12",
                  amplitude[a] / um, worst[a][0]);
    if (worst[a][0] < 0)
      ck_assert_msg(worst[a][1] >= 0.1 * worst[a][0], "A = %.0f um: the undershoot %.3e did not shrink with the "
                    "CG tolerance (%.3e at 1e-14)", amplitude[a] / um, worst[a][0], worst[a][1]);
    for (int t = 0; t < 2; ++t)
      ck_assert_msg(balance[a][t] < 1e-10, "mass balance %.3e per step", balance[a][t]);
  }
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("diffusion_undulated");
  TCase *tc = tcase_create("verification");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_two_point_flux);
  tcase_add_test(tc, test_amplitude_sweep);
  tcase_add_test(tc, test_indicator_minimum);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
