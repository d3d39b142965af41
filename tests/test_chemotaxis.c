/* Fibroblast transport with chemotaxis (host/diffusion.h, "fibroblast transport": the
 * Scharfetter-Gummel edge flux, backward Euler, Jacobi-PCG) on 1, 2 and 4 ranks, issue 10.
 *   dn/dt = div(D_n grad n - chi n grad g), g fixed, no flux through the sides.
 * Checks, each against a stated answer:
 *  1. steady state: with no-flux sides the only steady state of the equation is n = C e^(chi g/D_n)
 *     (the zero-flux condition D_n grad n = chi n grad g integrated; Keller and Segel 1971, and for
 *     the discrete scheme the zero-flux identity of the Scharfetter-Gummel flux, Scharfetter and
 *     Gummel 1969, which makes it exact at the nodes): after long steps, n e^-psi is the same at
 *     every node to 1e-8, and the total number sum M n is the initial one to 1e-12;
 *  2. conservation and positivity: from an indicator with strong chemotaxis (edge contrasts
 *     |delta| near 20) and steps from 10 min to 10 days, sum M n changes by < 1e-12 per step (solver
 *     tolerance 1e-14) and n >= 0 (an M-matrix: its inverse is non-negative; min/max printed, and
 *     asserted >= -1e-14, the solver's accuracy);
 *  3. chi = 0 is the module's backward-Euler diffusion of one species with D = D_n, to round-off;
 *  4. constant gradient in 1-D: advection-diffusion with velocity v = chi G, whose first moment
 *     obeys exactly d/dt int x n = v int n (integrate the equation times x by parts; the boundary
 *     terms vanish while the pulse is far from the walls: the method of moments, Aris 1956, Proc.
 *     R. Soc. A 235): the centre of mass x_c(t) = x_c(0) + v t within 1 %. On a uniform grid the
 *     scheme keeps this law exactly (sum over an x-line of h D T [B(-delta) n_a - B(delta) n_b] =
 *     D T h delta sum n, since B(-x) - B(x) = x, and backward Euler integrates the linear moment
 *     equation exactly), so there it is asserted to 1e-8; on a graded bar to the 1 %;
 *  5. the same bits on 1, 2 and 4 ranks: test 2's field gathered on rank 0 and compared byte for
 *     byte with a serial run of the same steps in the same process;
 *  and a checkpoint written and read back continues bit for bit; bad input and a failing solver are
 *  errors on every rank.
 * Rule (as test_mesh.c): collectives first, then asserts on values equal on every rank. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_suite.h"
#include "checkpoint.h"
#include "clrt.h"
#include "diffusion.h"
#include "halo.h"
#include "mesh.h"
#include "reduce.h"
#include "runtime.h"

static pp_runtime runtime;
static pp_clrt *clrt;
static const double um = 1e-6;
/* PHYSICS.md 6.4: fibroblast motility 4e-14 m^2/s; chi 1e-13 m^2/s per ng/mL (host/demo_case.yaml)
 * = 1e-7 m^5/(kg s); resting density 3000 per mm^3. psi = chi g / D_n = 2.5 per ng/mL. */
static const double motility = 4e-14, sensitivity = 1e-7, resting = 3e12, ng_per_mL = 1e-6;

static int all_of(int condition, MPI_Comm comm)
{
  int all = 0;
  MPI_Allreduce(&condition, &all, 1, MPI_INT, MPI_MIN, comm);
  return all;
}

static int all_ranks(int condition) { return all_of(condition, runtime.comm); }

/* Mesh, halo, reduce, a one-species diffusion object (D = D_n in every layer, no decay: test 3's
 * reference, and the geometry the chemotaxis object shares) and the chemotaxis object. */
typedef struct {
  pp_mesh mesh;
  pp_halo *halo;
  pp_reduce *reduce;
  pp_diffusion *diffusion;
  pp_chemotaxis *chemotaxis;
  MPI_Comm comm;
} problem;

static void problem_create(problem *p, const pp_mesh_spec *spec, MPI_Comm comm, double chi)
{
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(p, 0, sizeof *p);
  p->comm = comm;
  ck_assert_int_eq(pp_mesh_generate(spec, rank, size, &p->mesh), PP_OK);
  ck_assert_int_eq(pp_halo_create(&p->halo, &p->mesh, clrt, comm), PP_OK);
  ck_assert_int_eq(pp_reduce_create(&p->reduce, clrt, comm), PP_OK);
  pp_diffusion_species species = {.decay_rate = 0};
  for (int l = 0; l < PP_LAYER_COUNT; ++l) species.diffusivity[l] = motility;
  pp_err err = pp_diffusion_create(&p->diffusion, &p->mesh, clrt, p->halo, p->reduce, comm, 1, &species);
  ck_assert_msg(err == PP_OK, "diffusion: %s", pp_error_message());
  err = pp_chemotaxis_create(&p->chemotaxis, p->diffusion, motility, chi);
  ck_assert_msg(err == PP_OK, "chemotaxis: %s", pp_error_message());
  pp_solver_options options;
  pp_solver_options_default(&options);
  options.relative_tolerance = 1e-14;
  pp_chemotaxis_set_solver_options(p->chemotaxis, &options);
  pp_diffusion_set_solver_options(p->diffusion, &options);
}

static void problem_free(problem *p)
{
  pp_chemotaxis_destroy(p->chemotaxis);
  pp_diffusion_destroy(p->diffusion);
  pp_reduce_destroy(p->reduce);
  pp_halo_destroy(p->halo);
  pp_mesh_free(&p->mesh);
}

static double global_min(double value, MPI_Comm comm)
{
  double out;
  MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MIN, comm);
  return out;
}

static double global_max(double value, MPI_Comm comm)
{
  double out;
  MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, comm);
  return out;
}

static double host_sum(const double *values, size_t count, MPI_Comm comm)
{
  double sum = 0;
  ck_assert_int_eq(pp_reduce_sum_host(values, count, comm, &sum), PP_OK);
  return sum;
}

/* A 200 x 200 um block, 200 um deep, no-flux sides, refined to 5 um around the vertical line
 * through its centre (growth 1.5 up to 20 um) and to 5 um at the surface (growth 1.3): elements of
 * aspect ratio up to 4, layered. */
static pp_mesh_spec graded_block(void)
{
  static const double centre[] = {100e-6};
  pp_mesh_spec spec = {
    .length_x = 200 * um, .length_y = 200 * um,
    .layer_thickness = {15 * um, 30 * um, 45 * um, 50 * um, 60 * um},
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .refine_x = centre, .refine_y = centre, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = 5 * um, .lateral_fine_radius = 10 * um, .lateral_growth = 1.5, .lateral_max_size = 20 * um,
    .surface_size = 5 * um, .depth_growth = 1.3, .depth_max_size = 20 * um, .min_elements_per_layer = 2,
  };
  return spec;
}

/* A growth-factor bump at the surface centre: g = peak exp(-r^2 / (2 width^2)) (kg/m^3). */
static void bump(const pp_mesh *mesh, double peak, double width, double *g)
{
  for (int i = 0; i < mesh->owned_node_count; ++i) {
    const double *x = mesh->node_coords + 3 * i;
    double r2 = (x[0] - 100 * um) * (x[0] - 100 * um) + (x[1] - 100 * um) * (x[1] - 100 * um) + x[2] * x[2];
    g[i] = peak * exp(-r2 / (2 * width * width));
  }
}

/* 1. Steady state n = C e^psi, psi = chi g / D_n, from a uniform start. */
START_TEST(test_steady_state)
{
  pp_mesh_spec spec = graded_block();
  problem p;
  problem_create(&p, &spec, runtime.comm, sensitivity);
  const int owned = p.mesh.owned_node_count;
  double *g = malloc((size_t)owned * sizeof *g + 8), *n = malloc((size_t)owned * sizeof *n + 8);
  double *ratio = malloc((size_t)owned * sizeof *ratio + 8);
  bump(&p.mesh, 2 * ng_per_mL, 30 * um, g); /* psi up to 5: n rises e^5 = 148 times */
  for (int i = 0; i < owned; ++i) n[i] = resting;
  ck_assert_int_eq(pp_chemotaxis_set_field(p.chemotaxis, n), PP_OK);
  double initial = 0;
  ck_assert_int_eq(pp_chemotaxis_total_mass(p.chemotaxis, &initial), PP_OK);
  /* Relaxation time (200 um)^2 / (pi^2 D_n) = 1e5 s: 16 steps of 1e6 s damp the slowest mode by
   * 11^16 or so. Longer steps reach it in fewer, but the rounding of A v (relative 1e-16 times
   * lambda_max dt, up to 2e4 here) then moves the total number by ~1e-13 per step (measured: 8 steps
   * of 1e7 s drift by 7e-13 in all, 16 of 1e6 s by 3e-13). */
  const int steps = 16;
  const double dt = 1e6;
  double worst_step = 0, final_mass = initial;
  int iterations = 0;
  pp_chemotaxis_step_info info = {0};
  for (int step = 0; step < steps; ++step) {
    pp_err err = pp_chemotaxis_step_host(p.chemotaxis, dt, g, 0, 1, &info);
    ck_assert_msg(all_ranks(err == PP_OK), "step %d: %s", step, pp_error_message());
    worst_step = fmax(worst_step, fabs(info.mass - final_mass) / initial);
    final_mass = info.mass;
    iterations += info.solver.iterations;
  }
  ck_assert_int_eq(pp_chemotaxis_get_field(p.chemotaxis, n), PP_OK);
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < owned; ++i) {
    ratio[i] = n[i] * exp(-sensitivity * g[i] / motility);
    lo = fmin(lo, ratio[i]);
    hi = fmax(hi, ratio[i]);
  }
  lo = global_min(lo, runtime.comm);
  hi = global_max(hi, runtime.comm);
  double spread = (hi - lo) / lo, drift = fabs(final_mass - initial) / initial;
  if (runtime.rank == 0)
    printf("steady state: %lld nodes, psi %.3g to %.3g, edge contrast %.3f; after %d steps of %.0e s (%d CG "
           "iterations): n e^-psi spread %.2e, total drift %.2e (worst step %.2e)\n",
           p.mesh.global_node_count, info.potential_min, info.potential_max, info.edge_contrast, steps, dt, iterations,
           spread, drift, worst_step);
  ck_assert_msg(spread < 1e-8, "n e^-psi varies by %.3e (relative), expected < 1e-8", spread);
  ck_assert_msg(drift < 1e-12, "total number drifted by %.3e (relative), expected < 1e-12", drift);
  free(g);
  free(n);
  free(ratio);
  problem_free(&p);
}
END_TEST

/* Test 2's run: the indicator (1 in a 20 um box left of the bump), a strong bump (psi up to 60 over
 * 20 um), steps from 10 min to 10 days. Returns the owned field after the steps (malloc'ed),
 * the CG iterations per step, the worst relative mass change per step and the most negative
 * value relative to the maximum over all steps. */
enum { STRONG_STEPS = 5 };
static const double strong_dt[STRONG_STEPS] = {600, 3600, 6 * 3600, 86400, 864000};

typedef struct {
  double *field;
  int iterations[STRONG_STEPS];
  double worst_balance, most_negative, contrast, lowest, highest;
} strong_result;

static int in_indicator(const double *x)
{
  return fabs(x[0] - 60 * um) <= 10 * um && fabs(x[1] - 100 * um) <= 10 * um && x[2] >= -20 * um;
}

static strong_result strong_run(problem *p)
{
  strong_result r = {NULL, {0}, 0, INFINITY, 0, 0, 0};
  const int owned = p->mesh.owned_node_count;
  double *g = malloc((size_t)owned * sizeof *g + 8), *n = malloc((size_t)owned * sizeof *n + 8);
  bump(&p->mesh, 24 * ng_per_mL, 20 * um, g); /* psi up to 60 */
  for (int i = 0; i < owned; ++i) n[i] = in_indicator(p->mesh.node_coords + 3 * i) ? resting : 0;
  ck_assert_int_eq(pp_chemotaxis_set_field(p->chemotaxis, n), PP_OK);
  double mass = 0;
  ck_assert_int_eq(pp_chemotaxis_total_mass(p->chemotaxis, &mass), PP_OK);
  for (int step = 0; step < STRONG_STEPS; ++step) {
    pp_chemotaxis_step_info info;
    pp_err err = pp_chemotaxis_step_host(p->chemotaxis, strong_dt[step], g, 0, 1, &info);
    ck_assert_msg(all_of(err == PP_OK, p->comm), "step %d: %s", step, pp_error_message());
    r.worst_balance = fmax(r.worst_balance, fabs(info.mass - mass) / mass);
    mass = info.mass;
    r.iterations[step] = info.solver.iterations;
    r.contrast = info.edge_contrast;
    r.lowest = info.potential_min;
    r.highest = info.potential_max;
    ck_assert_int_eq(pp_chemotaxis_get_field(p->chemotaxis, n), PP_OK);
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < owned; ++i) {
      lo = fmin(lo, n[i]);
      hi = fmax(hi, n[i]);
    }
    lo = global_min(lo, p->comm);
    hi = global_max(hi, p->comm);
    r.most_negative = fmin(r.most_negative, lo / hi);
  }
  free(g);
  r.field = n;
  return r;
}

/* 2. Conservation per step and positivity under strong chemotaxis and long steps. */
START_TEST(test_conservation_positivity)
{
  pp_mesh_spec spec = graded_block();
  problem p;
  problem_create(&p, &spec, runtime.comm, sensitivity);
  strong_result r = strong_run(&p);
  if (runtime.rank == 0) {
    printf("strong chemotaxis: psi %.3g to %.3g, largest edge contrast |delta| %.2f; dt 10 min to 10 days, CG "
           "iterations",
           r.lowest, r.highest, r.contrast);
    for (int step = 0; step < STRONG_STEPS; ++step) printf(" %d", r.iterations[step]);
    printf("; worst mass change per step %.2e, min/max %.3e\n", r.worst_balance, r.most_negative);
  }
  ck_assert_msg(r.contrast > 15 && r.contrast < 25, "edge contrast %.2f: the test wants about 20", r.contrast);
  ck_assert_msg(r.worst_balance < 1e-12, "mass changed by %.3e in a step", r.worst_balance);
  /* n >= 0 holds exactly for the exact solve (an M-matrix); the CG's is accurate to its bound (the
   * l1 error sum M |n - n*| <= tol sum M n, host/diffusion.h), so the module's criterion
   * (test_diffusion's positivity tests) is asserted: measured +1.2e-24, no negative value. */
  ck_assert_msg(r.most_negative >= -1e-14, "negative density: min/max %.3e", r.most_negative);
  free(r.field);
  problem_free(&p);
}
END_TEST

/* 3. chi = 0: the module's backward-Euler diffusion with D = D_n (the diffusion object's field is
 * the "attractant": with chi = 0 its values do not matter). */
START_TEST(test_no_chemotaxis_is_diffusion)
{
  pp_mesh_spec spec = graded_block();
  problem p;
  problem_create(&p, &spec, runtime.comm, 0.0);
  const int owned = p.mesh.owned_node_count;
  double *n = malloc((size_t)owned * sizeof *n + 8), *c = malloc((size_t)owned * sizeof *c + 8);
  for (int i = 0; i < owned; ++i) n[i] = in_indicator(p.mesh.node_coords + 3 * i) ? resting : 0;
  ck_assert_int_eq(pp_chemotaxis_set_field(p.chemotaxis, n), PP_OK);
  ck_assert_int_eq(pp_diffusion_set_field(p.diffusion, n), PP_OK);
  static const double dt[] = {600, 3600, 86400};
  double worst = 0, largest = 0;
  int iterations[2] = {0, 0};
  for (int step = 0; step < 3; ++step) {
    pp_chemotaxis_step_info info;
    pp_diffusion_step_info reference;
    pp_err err = pp_chemotaxis_step(p.chemotaxis, dt[step], pp_diffusion_field_buffer(p.diffusion), 0, 1, &info);
    ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
    err = pp_diffusion_step(p.diffusion, dt[step], &reference);
    ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
    iterations[0] += info.solver.iterations;
    iterations[1] += reference.solver.iterations;
    ck_assert_int_eq(pp_chemotaxis_get_field(p.chemotaxis, n), PP_OK);
    ck_assert_int_eq(pp_diffusion_get_field(p.diffusion, c), PP_OK);
    double difference = 0, top = 0;
    for (int i = 0; i < owned; ++i) {
      difference = fmax(difference, fabs(n[i] - c[i]));
      top = fmax(top, fabs(c[i]));
    }
    difference = global_max(difference, runtime.comm);
    top = global_max(top, runtime.comm);
    worst = fmax(worst, difference / top);
    largest = top;
    ck_assert(info.potential_min == 0 && info.potential_max == 0 && info.edge_contrast == 0);
  }
  if (runtime.rank == 0)
    printf("chi = 0 against diffusion (D = D_n): max difference %.2e of the maximum (%.3g) over 3 steps; CG "
           "iterations %d vs %d\n",
           worst, largest, iterations[0], iterations[1]);
  ck_assert_msg(worst < 1e-13, "chi = 0 differs from diffusion by %.3e of the maximum", worst);
  free(n);
  free(c);
  problem_free(&p);
}
END_TEST

/* 4. Constant gradient in 1-D: a 1600 um bar (2 x 5 elements of 10 um across), g = G x, a Gaussian
 * pulse (30 um) at x = 400 um drifting at v = chi G for t = 300 um / v in 20 steps. The exact law
 * is x_c(t) = x_c(0) + v t; the requirement is 1 %. Cases: 10 um cubes with an edge Peclet number
 * v h / D_n of 1.4 (20 um/h) and 10, where the scheme keeps the law exactly (the top of the file:
 * asserted to 1e-8), and a bar graded along x (5 um at x = 550 um, growth 1.2, up to 20 um) at
 * 20 um/h, where it does not (the edge contrasts differ along the line). The pulse spreads to about
 * 110 um (D_n, plus backward Euler's numerical diffusion v^2 dt / 2 and the upwinding of the flux
 * at high Peclet numbers), so the walls, 7 and 8 of those away at the end, take no part (measured
 * on a 1000 um bar with the pulse from 250 to 550 um: the far wall held the centre back by 2e-5
 * of the travel). */
START_TEST(test_constant_gradient_drift)
{
  const double h = 10 * um;
  static const double graded_at[] = {550e-6};
  static const struct {
    double speed;
    int graded;
  } cases[] = {{20 * um / 3600, 0}, {10 * 4e-14 / 10e-6, 0}, {20 * um / 3600, 1}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
    pp_mesh_spec spec = {
      .length_x = 1600 * um, .length_y = 2 * h,
      .layer_thickness = {h, h, h, h, h},
      .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
      .lateral_fine_size = h, .lateral_fine_radius = 0, .lateral_growth = 1, .lateral_max_size = h,
      .surface_size = h, .depth_growth = 1, .depth_max_size = h, .min_elements_per_layer = 1,
    };
    if (cases[k].graded) {
      spec.refine_x = graded_at;
      spec.refine_x_count = 1;
      spec.lateral_fine_size = 5 * um;
      spec.lateral_growth = 1.2;
      spec.lateral_max_size = 20 * um;
    }
    problem p;
    problem_create(&p, &spec, runtime.comm, sensitivity);
    const int owned = p.mesh.owned_node_count, steps = 20;
    const double v = cases[k].speed, gradient = v / sensitivity, x0 = 400 * um, width = 30 * um;
    const double t_end = 300 * um / v;
    double *g = malloc((size_t)owned * sizeof *g + 8), *n = malloc((size_t)owned * sizeof *n + 8);
    double *terms = malloc((size_t)owned * sizeof *terms + 8);
    const double *volume = pp_diffusion_node_volume(p.diffusion);
    for (int i = 0; i < owned; ++i) {
      const double x = p.mesh.node_coords[3 * i];
      g[i] = gradient * x;
      n[i] = resting * exp(-(x - x0) * (x - x0) / (2 * width * width));
    }
    ck_assert_int_eq(pp_chemotaxis_set_field(p.chemotaxis, n), PP_OK);
    double worst = 0, contrast = 0, start = 0;
    for (int step = 0; step <= steps; ++step) {
      if (step > 0) {
        pp_chemotaxis_step_info info;
        pp_err err = pp_chemotaxis_step_host(p.chemotaxis, t_end / steps, g, 0, 1, &info);
        ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
        contrast = info.edge_contrast;
      }
      ck_assert_int_eq(pp_chemotaxis_get_field(p.chemotaxis, n), PP_OK);
      for (int i = 0; i < owned; ++i) terms[i] = volume[i] * n[i];
      double mass = host_sum(terms, (size_t)owned, runtime.comm);
      for (int i = 0; i < owned; ++i) terms[i] = volume[i] * n[i] * p.mesh.node_coords[3 * i];
      double centre = host_sum(terms, (size_t)owned, runtime.comm) / mass;
      if (step == 0) start = centre;
      /* error relative to the distance travelled by the end */
      worst = fmax(worst, fabs(centre - (start + v * step * (t_end / steps))) / (300 * um));
    }
    if (runtime.rank == 0)
      printf("constant gradient (%s): v = %.3g um/h, largest edge contrast %.2f, %d steps to %.3g h: centre of mass "
             "off x_c(0) + v t by at most %.2e of the 300 um travelled\n",
             cases[k].graded ? "graded 5-20 um" : "10 um cubes", v / um * 3600, contrast, steps, t_end / 3600, worst);
    ck_assert_msg(worst < (cases[k].graded ? 0.01 : 1e-8),
                  "centre of mass off by %.3e of the distance travelled (case %zu)", worst, k);
    free(g);
    free(n);
    free(terms);
    problem_free(&p);
  }
}
END_TEST

/* 5. Test 2's field on the job's ranks against a serial run in the same process (rank 0), byte
 * for byte, gathered in global id order; the CG iteration counts too. */
typedef struct {
  long long id;
  double value;
} record;

static int by_id(const void *a, const void *b)
{
  long long x = ((const record *)a)->id, y = ((const record *)b)->id;
  return (x > y) - (x < y);
}

START_TEST(test_identical_bits_any_ranks)
{
  pp_mesh_spec spec = graded_block();
  problem p;
  problem_create(&p, &spec, runtime.comm, sensitivity);
  strong_result r = strong_run(&p);
  const int owned = p.mesh.owned_node_count;
  record *mine = malloc((size_t)owned * sizeof *mine + sizeof *mine);
  for (int i = 0; i < owned; ++i) {
    mine[i].id = p.mesh.node_global_id[i];
    mine[i].value = r.field[i];
  }
  int bytes = owned * (int)sizeof(record), *counts = malloc((size_t)runtime.size * sizeof *counts);
  int *offsets = malloc((size_t)runtime.size * sizeof *offsets);
  MPI_Gather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, runtime.comm);
  long long total = 0;
  for (int rank = 0; runtime.rank == 0 && rank < runtime.size; ++rank) {
    offsets[rank] = (int)total;
    total += counts[rank];
  }
  record *all = malloc((size_t)total + sizeof *all);
  MPI_Gatherv(mine, bytes, MPI_BYTE, all, counts, offsets, MPI_BYTE, 0, runtime.comm);
  long long mismatches = 0, count = total / (long long)sizeof(record);
  int same_iterations = 1;
  if (runtime.rank == 0) {
    /* The serial run: MPI_COMM_SELF, nothing collective over the job's ranks. */
    problem serial;
    problem_create(&serial, &spec, MPI_COMM_SELF, sensitivity);
    strong_result s = strong_run(&serial);
    qsort(all, (size_t)count, sizeof *all, by_id);
    /* No assert before the broadcast below: the other ranks wait there. */
    if (count != serial.mesh.owned_node_count) mismatches = count + 1;
    for (long long i = 0; count == serial.mesh.owned_node_count && i < count; ++i)
      mismatches += all[i].id != serial.mesh.node_global_id[i] || memcmp(&all[i].value, &s.field[i], sizeof(double));
    for (int step = 0; step < STRONG_STEPS; ++step) same_iterations &= r.iterations[step] == s.iterations[step];
    printf("bits: %d ranks against 1, %lld nodes: %lld differ; CG iterations %s\n", runtime.size, count, mismatches,
           same_iterations ? "equal" : "DIFFER");
    free(s.field);
    problem_free(&serial);
  }
  MPI_Bcast(&mismatches, 1, MPI_LONG_LONG, 0, runtime.comm);
  MPI_Bcast(&same_iterations, 1, MPI_INT, 0, runtime.comm);
  ck_assert_int_eq(mismatches, 0);
  ck_assert(same_iterations);
  free(mine);
  free(counts);
  free(offsets);
  free(all);
  free(r.field);
  problem_free(&p);
}
END_TEST

/* Restart: the field checkpointed after two of test 2's steps, read back into a fresh object (on the
 * same ranks: the field is the whole state, and steps give the same bits on any rank count, test 5),
 * continues with the same bits as the run that went on, reading g from an interleaved device buffer
 * where the first run read it from the host; a series step of the field is written. */
START_TEST(test_checkpoint_continues)
{
  char folder[256];
  snprintf(folder, sizeof folder, "chemotaxis_checkpoint_np%d", runtime.size);
  static const char *const hash = "chemotaxis-test-0001";
  pp_mesh_spec spec = graded_block();
  problem run[2];
  pp_io_mesh view[2];
  pp_checkpoint *checkpoint[2] = {NULL, NULL};
  double *field[2] = {NULL, NULL};
  for (int k = 0; k < 2; ++k) {
    problem *p = &run[k];
    problem_create(p, &spec, runtime.comm, sensitivity);
    ck_assert_int_eq(pp_mesh_io_view(&p->mesh, &view[k]), PP_OK);
    ck_assert_int_eq(pp_checkpoint_create(&checkpoint[k], &runtime, folder, &view[k]), PP_OK);
    pp_err err = pp_chemotaxis_register_checkpoint(p->chemotaxis, checkpoint[k], "fibroblasts", "cells/m^3");
    ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
    const int owned = p->mesh.owned_node_count;
    double *g = malloc((size_t)owned * sizeof *g + 8);
    field[k] = malloc((size_t)owned * sizeof(double) + 8);
    bump(&p->mesh, 24 * ng_per_mL, 20 * um, g);
    if (k == 0) {
      for (int i = 0; i < owned; ++i) field[k][i] = in_indicator(p->mesh.node_coords + 3 * i) ? resting : 0;
      ck_assert_int_eq(pp_chemotaxis_set_field(p->chemotaxis, field[k]), PP_OK);
      for (int step = 0; step < 2; ++step)
        ck_assert(all_ranks(pp_chemotaxis_step_host(p->chemotaxis, strong_dt[step], g, 0, 1, NULL) == PP_OK));
      ck_assert_int_eq(pp_chemotaxis_checkpoint_save(p->chemotaxis), PP_OK);
      err = pp_checkpoint_write(checkpoint[k], 2, strong_dt[0] + strong_dt[1], hash);
      ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
    } else {
      long long step = 0;
      err = pp_checkpoint_read_latest(checkpoint[k], hash, 0, &step, NULL);
      ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
      ck_assert_int_eq(step, 2);
      ck_assert_int_eq(pp_chemotaxis_checkpoint_restore(p->chemotaxis), PP_OK);
    }
    if (k == 0) {
      ck_assert(all_ranks(pp_chemotaxis_step_host(p->chemotaxis, strong_dt[2], g, 0, 1, NULL) == PP_OK));
    } else {
      /* The restored run reads g on the device, as component 1 of 2 interleaved ones (a species of
       * a diffusion field): the same bits as from the host. */
      double *pair = calloc(2 * (size_t)owned + 2, sizeof *pair);
      for (int i = 0; i < owned; ++i) pair[2 * i + 1] = g[i];
      cl_mem device = NULL;
      size_t bytes = 2 * (size_t)owned * sizeof(double);
      ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, bytes, "g", &device), PP_OK);
      ck_assert_int_eq(pp_clrt_write_reals(clrt, device, pair, 2 * (size_t)owned, "g"), PP_OK);
      ck_assert(all_ranks(pp_chemotaxis_step(p->chemotaxis, strong_dt[2], device, 1, 2, NULL) == PP_OK));
      clReleaseMemObject(device);
      free(pair);
    }
    ck_assert_int_eq(pp_chemotaxis_get_field(p->chemotaxis, field[k]), PP_OK);
    free(g);
  }
  long long mismatches = 0, local = 0;
  for (int i = 0; i < run[0].mesh.owned_node_count; ++i)
    local += memcmp(&field[0][i], &field[1][i], sizeof(double)) != 0;
  MPI_Allreduce(&local, &mismatches, 1, MPI_LONG_LONG, MPI_SUM, runtime.comm);
  /* The restored run's field as a series step. */
  char series_folder[300];
  snprintf(series_folder, sizeof series_folder, "%s/series", folder);
  pp_io_series *series = NULL;
  ck_assert_int_eq(pp_io_series_open(&series, &runtime, series_folder, "fibroblasts", "s", &view[1]), PP_OK);
  ck_assert_int_eq(pp_io_step_begin(series, strong_dt[0] + strong_dt[1] + strong_dt[2]), PP_OK);
  pp_err err = pp_chemotaxis_write_step(run[1].chemotaxis, series, "fibroblasts", "cells/m^3");
  ck_assert_msg(all_ranks(err == PP_OK), "%s", pp_error_message());
  ck_assert_int_eq(pp_io_step_end(series), PP_OK);
  ck_assert_int_eq(pp_io_series_close(&series), PP_OK);
  if (runtime.rank == 0)
    printf("restart: field checkpointed after 2 steps, read back, 1 more step: %lld of %lld values differ\n",
           mismatches, run[0].mesh.global_node_count);
  ck_assert_int_eq(mismatches, 0);
  for (int k = 0; k < 2; ++k) {
    free(field[k]);
    pp_checkpoint_free(&checkpoint[k]);
    problem_free(&run[k]);
  }
}
END_TEST

/* Errors are values on every rank: bad parameters, a non-finite g on one rank only, a psi range
 * beyond what the scaling represents, and a CG that runs out of iterations (the field is then
 * left as it was). */
START_TEST(test_refusals)
{
  pp_mesh_spec spec = graded_block();
  problem p;
  problem_create(&p, &spec, runtime.comm, sensitivity);
  pp_chemotaxis *bad = NULL;
  ck_assert_int_eq(pp_chemotaxis_create(&bad, p.diffusion, 0.0, sensitivity), PP_ERR_ARGUMENT);
  ck_assert(bad == NULL && strstr(pp_error_message(), "motility must be positive"));
  pp_error_clear();
  const int owned = p.mesh.owned_node_count;
  double *g = malloc((size_t)owned * sizeof *g + 8), *n = malloc((size_t)owned * sizeof *n + 8);
  double *after = malloc((size_t)owned * sizeof *after + 8);
  bump(&p.mesh, 2 * ng_per_mL, 30 * um, g);
  for (int i = 0; i < owned; ++i) n[i] = in_indicator(p.mesh.node_coords + 3 * i) ? resting : 0;
  ck_assert_int_eq(pp_chemotaxis_set_field(p.chemotaxis, n), PP_OK);
  /* NaN at one node of the last rank only. */
  double keep = owned ? g[0] : 0;
  if (runtime.rank == runtime.size - 1 && owned) g[0] = NAN;
  pp_err err = pp_chemotaxis_step_host(p.chemotaxis, 600, g, 0, 1, NULL);
  ck_assert(all_ranks(err == PP_ERR_ARGUMENT && strstr(pp_error_message(), "must be finite")));
  pp_error_clear();
  if (owned) g[0] = keep;
  /* psi spanning 3000 (g up to 1.2 ug/mL). */
  for (int i = 0; i < owned; ++i) after[i] = g[i] * 600;
  err = pp_chemotaxis_step_host(p.chemotaxis, 600, after, 0, 1, NULL);
  ck_assert(all_ranks(err == PP_ERR_ARGUMENT && strstr(pp_error_message(), "span less than 2756")));
  pp_error_clear();
  /* Two CG iterations per round are not enough. */
  pp_solver_options options;
  pp_solver_options_default(&options);
  options.max_iterations = 2;
  pp_chemotaxis_set_solver_options(p.chemotaxis, &options);
  err = pp_chemotaxis_step_host(p.chemotaxis, 3600, g, 0, 1, NULL);
  char *text = NULL;
  size_t size = 0;
  FILE *stream = open_memstream(&text, &size);
  pp_error_print(stream, "");
  fclose(stream);
  ck_assert_msg(all_ranks(err == PP_SOLVER_ERROR && strstr(text, "did not converge") &&
                          strstr(text, "chemotaxis step with dt = 3600 s")),
                "message: %s", text);
  pp_error_clear();
  free(text);
  ck_assert_int_eq(pp_chemotaxis_get_field(p.chemotaxis, after), PP_OK);
  ck_assert(all_ranks(memcmp(n, after, (size_t)owned * sizeof *n) == 0));
  free(g);
  free(n);
  free(after);
  problem_free(&p);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("chemotaxis");
  TCase *tc = tcase_create("verification");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_steady_state);
  tcase_add_test(tc, test_conservation_positivity);
  tcase_add_test(tc, test_no_chemotaxis_is_diffusion);
  tcase_add_test(tc, test_constant_gradient_drift);
  tcase_add_test(tc, test_identical_bits_any_ranks);
  tcase_add_test(tc, test_checkpoint_continues);
  tcase_add_test(tc, test_refusals);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
