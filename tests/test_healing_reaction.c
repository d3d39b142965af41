/* The reaction sub-step of the healing stage on the device (host/healing_reaction,
 * kernels/healing_reaction.cl), on 1 and 2 ranks. Checked against facts that do not share its code:
 *  1. the well-mixed model (decay included) with two release pulses, one starting inside a call,
 *     over 60 days in calls of 1 hour, against tests/healing_reference (Dormand-Prince at rtol
 *     1e-10, integrated piecewise between the pulse starts, so it never steps across one): every
 *     component within 10 rtol of its scale at every hour, on 1 node and on 1000 copies (the same
 *     bits on every copy), and the error falls with rtol (1e-4, 1e-6, 1e-8) by at least 10 per
 *     factor 100; and the source's time profile (three pulses, one inside a call) against the closed
 *     form of a pulse-fed decaying species;
 *  2. positivity where an explicit method is stiff: 1-day calls with the decay (15/d) on and off,
 *     tiny and zero fibroblasts and growth factors, a pulse starting mid-interval, rtol 1e-3 and
 *     1e-6: no negative value, and the reference within 10 rtol; without the loss cap (the
 *     controller then runs to the stability limit) negative stage values occur and are rejected;
 *  3. homeostasis: the rest state (with and without basal secretion) without a source, decay on,
 *     stays at rest to 1e-8 over 180 days (without the loss cap it does not: printed);
 *  4. independence of the nodes: permuted states and amplitudes give the permuted bits, a
 *     node-interleaved layout (amplitudes from the caller's buffers) the same bits, and each
 *     rank's share of a node set the bits one rank gives for the whole set (a hash of them is
 *     printed, the same on 1 and 2 ranks);
 *  5. failures: a sub-step limit of 2, a minimum sub-step nothing can meet and a negative start
 *     state raise PP_ERR_SOLVER naming the node's global id; failed nodes keep their state;
 *  and the kernel builds and holds the rest state in float.
 * Rule (as test_mesh.c): collectives first, then asserts on values equal on every rank. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clrt.h"
#include "healing_model.h"
#include "healing_reaction.h"
#include "healing_reference.h"
#include "mpi_suite.h"
#include "runtime.h"

static pp_runtime runtime;
static pp_clrt *clrt;

static const double day = 86400.0;
static const double hour = 3600.0;
static const double ng_per_mL = 1e-6;                  /* kg/m^3 */

enum { N_MAX = PP_HEALING_MAX_STATE };

static int rank0(void)
{
  int rank = 0;
  MPI_Comm_rank(runtime.comm, &rank);
  return rank == 0;
}

static int all_ranks(int condition)
{
  int all = 0;
  MPI_Allreduce(&condition, &all, 1, MPI_INT, MPI_MIN, runtime.comm);
  return all;
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The set-up every case shares: parameters, rest state, flat array, component scales. */
typedef struct {
  pp_healing_params params;
  pp_healing_rest rest;
  double flat[PP_HEALING_PARAMS];
  double rest_u[N_MAX];
  double scale[N_MAX]; /* max(gbar_i, Ks_i), Nbar, C_total, C_total: the atol scales */
  int G, N;
} model_setup;

static void setup_model(model_setup *m, int basal)
{
  if (basal) pp_healing_test_basal_params(&m->params);
  else pp_healing_test_default_params(&m->params);
  ck_assert_int_eq(pp_healing_rest_state(&m->params, &m->rest), PP_OK);
  pp_healing_pack(&m->params, &m->rest, m->flat);
  m->G = m->params.species_count;
  m->N = m->G + 3;
  memset(m->rest_u, 0, sizeof m->rest_u);
  pp_healing_rest_vector(&m->params, &m->rest, m->rest_u);
  pp_healing_reaction_options options;
  pp_healing_reaction_default_options(&m->params, &m->rest, 1, &options); /* rtol 1: atol = the scale */
  memcpy(m->scale, options.absolute_tolerance, sizeof m->scale);
}

/* The release: platelet degranulation (half the release, tau_1 = 10 min) and the macrophage phase
 * (half, tau_2 = 4 d); PHYSICS.md 6.4's release levels 17.5 and 20 ng/mL. */
static const pp_healing_release_profile release_profile = {600, 4 * 86400.0, 0.5, 0.5};
static const double release_level[2] = {17.5e-6, 20e-6};

/* ---- the reference: tests/healing_reference, piecewise between pulse starts ----------------------- */

typedef struct {
  const double *flat;
  int G, include_decay;
  double amplitude[PP_HEALING_MAX_SPECIES];
  pp_healing_release_profile release;
  const double *pulse_start;
  int active; /* pulses on in the current piece */
} reference_model;

static void reference_rhs(double t, const double *y, double *dydt, void *context)
{
  const reference_model *m = context;
  double source[PP_HEALING_MAX_SPECIES] = {0};
  for (int i = 0; i < m->G; ++i) {
    double profile = 0;
    for (int k = 0; k < m->active; ++k) {
      const double age = t - m->pulse_start[k];
      profile += m->release.fast_weight * exp(-age / m->release.fast_time) / m->release.fast_time +
                 m->release.slow_weight * exp(-age / m->release.slow_time) / m->release.slow_time;
    }
    source[i] = m->amplitude[i] * profile;
  }
  if (m->include_decay) pp_healing_full_rates(m->flat, y, source, dydt);
  else pp_healing_rates(m->flat, y, source, dydt);
}

/* y from t0 to t1 at rtol (atol = rtol x scale), in pieces that end at every pulse start. */
static void reference_advance(reference_model *m, int pulse_count, const model_setup *setup, double t0, double t1,
                              double rtol, double *y)
{
  double atol[N_MAX];
  for (int a = 0; a < setup->N; ++a) atol[a] = rtol * setup->scale[a];
  const pp_reference_options options = {rtol, atol, 1.0, 0, 100000000};
  double t = t0;
  while (t < t1) {
    m->active = 0;
    while (m->active < pulse_count && m->pulse_start[m->active] <= t) ++m->active;
    const double end = m->active < pulse_count && m->pulse_start[m->active] < t1 ? m->pulse_start[m->active] : t1;
    pp_err err = pp_reference_integrate(reference_rhs, m, setup->N, t, end, y, &options, NULL);
    ck_assert_msg(err == PP_OK, "reference: %s", pp_error_message());
    t = end;
  }
}

/* ---- device helpers ----------------------------------------------------------------------------- */

typedef struct {
  pp_healing_reaction *rx;
  cl_mem state;
  size_t nodes;
  int N;
  double *host; /* [N * nodes], structure of arrays */
} device_run;

static void run_create(device_run *r, const model_setup *m, size_t nodes, const pp_healing_reaction_options *options)
{
  memset(r, 0, sizeof *r);
  r->nodes = nodes;
  r->N = m->N;
  ck_assert_int_eq(pp_healing_reaction_create(&r->rx, clrt, nodes), PP_OK);
  ck_assert_int_eq(pp_healing_reaction_set_parameters(r->rx, m->flat), PP_OK);
  ck_assert_int_eq(pp_healing_reaction_set_options(r->rx, options), PP_OK);
  for (int i = 0; i < m->G; ++i) ck_assert_int_eq(pp_healing_reaction_set_release(r->rx, i, &release_profile), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, (size_t)m->N * nodes * (size_t)pp_clrt_real_size(clrt),
                                  "test healing state", &r->state),
                   PP_OK);
  r->host = calloc((size_t)m->N * nodes + 1, sizeof *r->host);
  ck_assert(r->host);
}

static void run_free(device_run *r)
{
  pp_healing_reaction_destroy(r->rx);
  if (r->state) clReleaseMemObject(r->state);
  free(r->host);
}

static void run_write(device_run *r)
{
  ck_assert_int_eq(pp_clrt_write_reals(clrt, r->state, r->host, (size_t)r->N * r->nodes, "test state"), PP_OK);
}

static void run_read(device_run *r)
{
  ck_assert_int_eq(pp_clrt_read_reals(clrt, r->state, r->host, (size_t)r->N * r->nodes, "test state"), PP_OK);
}

/* The same state at every node. */
static void run_fill(device_run *r, const double *u)
{
  for (int a = 0; a < r->N; ++a)
    for (size_t n = 0; n < r->nodes; ++n) r->host[(size_t)a * r->nodes + n] = u[a];
  run_write(r);
}

/* The same amplitudes at every node. */
static void run_uniform_amplitude(device_run *r, const double *amplitude, int G)
{
  double *values = malloc((r->nodes + 1) * sizeof *values);
  ck_assert(values);
  for (int i = 0; i < G; ++i) {
    for (size_t n = 0; n < r->nodes; ++n) values[n] = amplitude[i];
    ck_assert_int_eq(pp_healing_reaction_set_amplitude(r->rx, i, values), PP_OK);
  }
  free(values);
}

static void advance(device_run *r, double t0, double h, pp_healing_reaction_info *total)
{
  pp_healing_reaction_info info;
  pp_err err = pp_healing_reaction_advance(r->rx, r->state, t0, h, &info);
  ck_assert_msg(err == PP_OK, "advance from %g d: %s", t0 / day, pp_error_message());
  total->substeps += info.substeps;
  total->rejected += info.rejected;
  total->rejected_negative += info.rejected_negative;
  if (info.max_node_substeps > total->max_node_substeps) total->max_node_substeps = info.max_node_substeps;
  total->failures += info.failures;
}

/* FNV-1a over the bytes of doubles. */
static uint64_t hash_doubles(const double *values, size_t count)
{
  uint64_t h = 1469598103934665603ULL;
  const unsigned char *bytes = (const unsigned char *)values;
  for (size_t b = 0; b < count * sizeof *values; ++b) {
    h ^= bytes[b];
    h *= 1099511628211ULL;
  }
  return h;
}

/* xorshift64*: reproducible uniform numbers in [0, 1). */
static double uniform(unsigned long long *state)
{
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (double)((*state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- 1. the well-mixed model against the reference ------------------------------------------------ */

enum { WELL_MIXED_HOURS = 60 * 24 };
static const double well_mixed_pulses[2] = {0, 28 * 86400.0 + 1800}; /* the second starts inside a call */

/* The reference at every hour, computed once. */
static double (*well_mixed_reference)[N_MAX];

static void well_mixed_start(const model_setup *m, double *u)
{
  memcpy(u, m->rest_u, sizeof(double) * N_MAX);
  u[m->G] = 0.5 * m->params.fibroblasts.resting_density; /* the injury killed half the fibroblasts */
}

static void compute_well_mixed_reference(const model_setup *m)
{
  if (well_mixed_reference) return;
  well_mixed_reference = calloc(WELL_MIXED_HOURS + 1, sizeof *well_mixed_reference);
  ck_assert(well_mixed_reference);
  reference_model ref = {m->flat, m->G, 1, {release_level[0], release_level[1]}, release_profile, well_mixed_pulses, 0};
  double y[N_MAX];
  well_mixed_start(m, y);
  memcpy(well_mixed_reference[0], y, sizeof y);
  for (int s = 1; s <= WELL_MIXED_HOURS; ++s) {
    reference_advance(&ref, 2, m, (s - 1) * hour, s * hour, 1e-10, y);
    memcpy(well_mixed_reference[s], y, sizeof y);
  }
}

typedef struct {
  double worst;        /* max over hours and components of |u - ref| / scale */
  int worst_hour, worst_component;
  double scale[N_MAX]; /* max(atol scale, max |ref|) */
  pp_healing_reaction_info info;
  double seconds;      /* in pp_healing_reaction_advance (launch, kernel, report read-back) */
  int copies_identical;
} well_mixed_result;

static well_mixed_result run_well_mixed(const model_setup *m, double rtol, size_t nodes)
{
  well_mixed_result result;
  memset(&result, 0, sizeof result);
  for (int a = 0; a < m->N; ++a) {
    result.scale[a] = m->scale[a];
    for (int s = 0; s <= WELL_MIXED_HOURS; ++s) result.scale[a] = fmax(result.scale[a], fabs(well_mixed_reference[s][a]));
  }
  pp_healing_reaction_options options;
  pp_healing_reaction_default_options(&m->params, &m->rest, rtol, &options);
  options.include_decay = 1;
  device_run r;
  run_create(&r, m, nodes, &options);
  ck_assert_int_eq(pp_healing_reaction_set_pulses(r.rx, 2, well_mixed_pulses), PP_OK);
  run_uniform_amplitude(&r, release_level, m->G);
  double u[N_MAX];
  well_mixed_start(m, u);
  run_fill(&r, u);
  result.copies_identical = 1;
  for (int s = 1; s <= WELL_MIXED_HOURS; ++s) {
    const double start = now();
    advance(&r, (s - 1) * hour, hour, &result.info);
    result.seconds += now() - start;
    run_read(&r);
    for (int a = 0; a < m->N; ++a) {
      const double value = r.host[(size_t)a * nodes];
      ck_assert_msg(value >= 0, "component %d negative (%g) at %d h", a, value, s);
      const double error = fabs(value - well_mixed_reference[s][a]) / result.scale[a];
      if (error > result.worst) {
        result.worst = error;
        result.worst_hour = s;
        result.worst_component = a;
      }
      for (size_t n = 1; n < nodes; ++n)
        result.copies_identical &= memcmp(&r.host[(size_t)a * nodes + n], &value, sizeof value) == 0;
    }
  }
  run_free(&r);
  return result;
}

START_TEST(test_well_mixed_against_reference)
{
  model_setup m;
  setup_model(&m, 0);
  compute_well_mixed_reference(&m);
  const double rtols[3] = {1e-4, 1e-6, 1e-8};
  double worst[3];
  for (int k = 0; k < 3; ++k) {
    const size_t nodes = k == 1 ? 1000 : 1;
    const well_mixed_result result = run_well_mixed(&m, rtols[k], nodes);
    worst[k] = result.worst;
    if (rank0())
      printf("well-mixed 60 d in 1 h calls, rtol %.0e, %zu node(s): max |u - ref|/scale = %.3e (component %d at %.1f d); "
             "%.2f sub-steps per node and hour (%.0f rejected per node in all), at most %d in one call; %.3g s in the "
             "calls, %.3g us per node-day\n",
             rtols[k], nodes, result.worst, result.worst_component, result.worst_hour / 24.0,
             (double)result.info.substeps / (double)nodes / WELL_MIXED_HOURS,
             (double)result.info.rejected / (double)nodes,
             result.info.max_node_substeps, result.seconds, 1e6 * result.seconds / ((double)nodes * 60));
    ck_assert_msg(result.worst <= 10 * rtols[k], "rtol %g: error %g of the scale (component %d at hour %d)", rtols[k],
                  result.worst, result.worst_component, result.worst_hour);
    ck_assert_msg(result.copies_identical, "rtol %g: the %zu copies of one state differ", rtols[k], nodes);
    ck_assert_int_eq(result.info.failures, 0);
  }
  for (int k = 0; k + 1 < 3; ++k)
    ck_assert_msg(worst[k + 1] <= worst[k] / 10, "the error does not fall with rtol: %g at %g, %g at %g", worst[k],
                  rtols[k], worst[k + 1], rtols[k + 1]);
  if (rank0())
    printf("well-mixed convergence: error ratio %.1f (1e-4 -> 1e-6), %.1f (1e-6 -> 1e-8), i.e. rtol^%.2f, rtol^%.2f\n",
           worst[0] / worst[1], worst[1] / worst[2], log(worst[0] / worst[1]) / log(100), log(worst[1] / worst[2]) / log(100));
}
END_TEST

/* The source profile and its pulse times against a closed form. Without autocrine secretion
 * (sigma = beta = 0) a growth factor obeys g' = -k g + A sum_k sum_j e_j exp(-(t - t_k)/tau_j)/tau_j
 * (t >= t_k), g(0) = 0, so by superposition
 *   g(t) = A sum_{k: t_k <= t} sum_j e_j (exp(-k (t - t_k)) - exp(-(t - t_k)/tau_j)) / (1 - k tau_j).
 * Pulses at 0, 1.3 d (inside a 6-hour call) and 2 d (on a call boundary); 6-hour calls for 5 days. */
START_TEST(test_pulse_closed_form)
{
  model_setup m;
  pp_healing_test_default_params(&m.params);
  for (int i = 0; i < 2; ++i) m.params.species[i].autocrine_secretion = 0;
  ck_assert_int_eq(pp_healing_rest_state(&m.params, &m.rest), PP_OK);
  pp_healing_pack(&m.params, &m.rest, m.flat);
  m.G = 2;
  m.N = 5;
  pp_healing_rest_vector(&m.params, &m.rest, m.rest_u);
  const double rtol = 1e-8, pulses[3] = {0, 1.3 * day, 2 * day};
  pp_healing_reaction_options options;
  pp_healing_reaction_default_options(&m.params, &m.rest, rtol, &options);
  options.include_decay = 1;
  device_run r;
  run_create(&r, &m, 3, &options);
  ck_assert_int_eq(pp_healing_reaction_set_pulses(r.rx, 3, pulses), PP_OK);
  run_uniform_amplitude(&r, release_level, m.G);
  run_fill(&r, m.rest_u);
  pp_healing_reaction_info info = {0, 0, 0, 0, 0};
  double worst = 0;
  for (int s = 1; s <= 20; ++s) {
    advance(&r, (s - 1) * 6 * hour, 6 * hour, &info);
    run_read(&r);
    const double t = s * 6 * hour;
    for (int i = 0; i < m.G; ++i) {
      const double k = m.params.species[i].decay_rate, tau[2] = {release_profile.fast_time, release_profile.slow_time},
                   e[2] = {release_profile.fast_weight, release_profile.slow_weight};
      double exact = 0;
      for (int p = 0; p < 3; ++p)
        for (int j = 0; j < 2 && pulses[p] <= t; ++j)
          exact += release_level[i] * e[j] * (exp(-k * (t - pulses[p])) - exp(-(t - pulses[p]) / tau[j])) / (1 - k * tau[j]);
      const double error = fabs(r.host[(size_t)i * 3] - exact) / release_level[i];
      worst = fmax(worst, error);
      ck_assert_msg(error <= 10 * rtol, "g_%d at %g d: %.12g, closed form %.12g", i, t / day, r.host[(size_t)i * 3], exact);
    }
  }
  if (rank0())
    printf("pulse closed form (3 pulses, 6-hour calls, 5 d, rtol %.0e): max |g - exact| = %.2e of the release; %.1f "
           "sub-steps per call\n",
           rtol, worst, (double)info.substeps / (3.0 * 20));
  run_free(&r);
}
END_TEST

/* ---- 2. positivity under stiffness ----------------------------------------------------------------- */

START_TEST(test_positivity_stiff)
{
  model_setup m;
  setup_model(&m, 0);
  const double Nbar = m.params.fibroblasts.resting_density;
  /* start states: tiny fibroblasts, none at all, tiny growth factors, a decaying high level */
  enum { CASES = 5 };
  double start[CASES][N_MAX];
  for (int c = 0; c < CASES; ++c) memcpy(start[c], m.rest_u, sizeof start[c]);
  start[0][m.G] = 1e-9 * Nbar;
  start[1][m.G] = 0;
  start[2][0] = 1e-15 * ng_per_mL;
  start[2][1] = 1e-20 * ng_per_mL;
  start[3][0] = 50 * ng_per_mL;
  start[3][1] = 50 * ng_per_mL;
  start[3][m.G] = 1e-6 * Nbar;
  start[4][0] = 0;
  start[4][1] = 30 * ng_per_mL;
  const double pulses[1] = {0.4 * day + 123};
  const double rtols[2] = {1e-3, 1e-6};
  /* decay off (the real use) and on, with the loss cap; decay on without it, where only the
   * rejection of negative values keeps the state positive */
  for (int variant = 0; variant < 3; ++variant) {
    const int decay = variant > 0, capped = variant < 2;
    long long negative_rejections = 0;
    for (int k = 0; k < 2; ++k) {
      pp_healing_reaction_options options;
      pp_healing_reaction_default_options(&m.params, &m.rest, rtols[k], &options);
      options.include_decay = decay;
      if (!capped) options.loss_cap = 0;
      device_run r;
      run_create(&r, &m, CASES, &options);
      ck_assert_int_eq(pp_healing_reaction_set_pulses(r.rx, 1, pulses), PP_OK);
      run_uniform_amplitude(&r, release_level, m.G);
      for (int a = 0; a < m.N; ++a)
        for (int c = 0; c < CASES; ++c) r.host[(size_t)a * CASES + (size_t)c] = start[c][a];
      run_write(&r);
      pp_healing_reaction_info info = {0, 0, 0, 0, 0};
      double y[CASES][N_MAX], worst = 0, smallest = INFINITY;
      memcpy(y, start, sizeof y);
      for (int d = 0; d < 3; ++d) {
        advance(&r, d * day, day, &info);
        run_read(&r);
        for (int c = 0; c < CASES; ++c) {
          reference_model ref = {m.flat, m.G, decay, {release_level[0], release_level[1]}, release_profile, pulses, 0};
          reference_advance(&ref, 1, &m, d * day, (d + 1) * day, 1e-11, y[c]);
          for (int a = 0; a < m.N; ++a) {
            const double value = r.host[(size_t)a * CASES + (size_t)c];
            smallest = fmin(smallest, value / m.scale[a]);
            ck_assert_msg(value >= 0, "decay %d, rtol %g, case %d: component %d is %g after day %d", decay, rtols[k], c,
                          a, value, d + 1);
            const double error = fabs(value - y[c][a]) / fmax(m.scale[a], fabs(y[c][a]));
            worst = fmax(worst, error);
            ck_assert_msg(error <= 10 * rtols[k], "decay %d, rtol %g, case %d: component %d is %.10g, reference %.10g",
                          decay, rtols[k], c, a, value, y[c][a]);
          }
        }
      }
      if (rank0())
        printf("positivity, 1-day calls, decay %s, loss cap %s, rtol %.0e: max error %.2e of the scale, smallest value "
               "%.3g of the scale; %lld sub-steps and %lld rejected (%lld for a negative value) for %d nodes over 3 "
               "days (at most %d in one call)\n",
               decay ? "on" : "off", capped ? "on" : "off", rtols[k], worst, smallest, info.substeps, info.rejected,
               info.rejected_negative, CASES, info.max_node_substeps);
      negative_rejections += info.rejected_negative;
      run_free(&r);
    }
    /* without the cap, steps beyond h k = 1.05 would give negative stage values: rejected */
    if (!capped) ck_assert_int_gt(negative_rejections, 0);
  }
}
END_TEST

/* ---- 3. homeostasis -------------------------------------------------------------------------------- */

START_TEST(test_rest_state)
{
  /* defaults, basal secretion, and basal secretion without the loss cap (printed, not asserted:
   * one 1-day sub-step per call, h k = 15, where the explicit step amplifies round-off) */
  for (int variant = 0; variant < 3; ++variant) {
    const int basal = variant > 0, capped = variant < 2;
    model_setup m;
    setup_model(&m, basal);
    pp_healing_reaction_options options;
    pp_healing_reaction_default_options(&m.params, &m.rest, 1e-6, &options);
    options.include_decay = 1;
    if (!capped) options.loss_cap = 0;
    device_run r;
    run_create(&r, &m, 64, &options);
    run_fill(&r, m.rest_u);
    pp_healing_reaction_info info = {0, 0, 0, 0, 0};
    for (int d = 0; d < 180; ++d) advance(&r, d * day, day, &info);
    run_read(&r);
    double worst = 0;
    for (int a = 0; a < m.N; ++a) {
      const double reference = fmax(fabs(m.rest_u[a]), m.scale[a]);
      for (size_t n = 0; n < r.nodes; ++n) {
        const double drift = fabs(r.host[(size_t)a * r.nodes + n] - m.rest_u[a]) / reference;
        worst = fmax(worst, drift);
        if (capped)
          ck_assert_msg(drift <= 1e-8, "%s: component %d drifted %g of its scale from rest in 180 d",
                        basal ? "basal" : "default", a, drift);
      }
    }
    if (rank0())
      printf("rest state (%s%s), 180 1-day calls with decay: drift %.2e of the scale, %.2f sub-steps per call and "
             "node\n",
             basal ? "basal secretion" : "defaults", capped ? "" : ", no loss cap", worst,
             (double)info.substeps / (180.0 * (double)r.nodes));
    run_free(&r);
  }
}
END_TEST

/* ---- 4. nodes are independent ---------------------------------------------------------------------- */

/* Node j of a reproducible set: states scattered around rest (a few tiny), amplitudes on about
 * half of the nodes. */
static void scattered_node(const model_setup *m, long long j, double *u, double *amplitude)
{
  unsigned long long seed = 0x9E3779B97F4A7C15ULL ^ (unsigned long long)(j * 7919 + 13);
  for (int i = 0; i < 3; ++i) uniform(&seed);
  for (int a = 0; a < m->N; ++a) {
    const double base = a < m->G ? m->scale[a] : m->rest_u[a];
    u[a] = base * (0.2 + 2 * uniform(&seed));
  }
  if (j % 7 == 3) u[m->G] *= 1e-8;
  if (j % 11 == 5) u[0] = 0;
  for (int i = 0; i < m->G; ++i) amplitude[i] = uniform(&seed) < 0.5 ? release_level[i] * uniform(&seed) : 0;
}

enum { SET_NODES = 300 };
static const double set_pulses[3] = {-0.5 * 86400.0, 0.3 * 3600.0, 5 * 3600.0};

/* Advance nodes first .. first + count - 1 of the set by two 6-hour calls (structure of arrays, or
 * node-interleaved when interleaved), positions permuted by perm (NULL: in order); values[j * N + a]
 * for node first + j. */
static void run_set(const model_setup *m, long long first, size_t count, const size_t *perm, int interleaved,
                    double *values)
{
  pp_healing_reaction_options options;
  pp_healing_reaction_default_options(&m->params, &m->rest, 1e-7, &options);
  device_run r;
  run_create(&r, m, count, &options);
  const size_t N = (size_t)m->N;
  if (interleaved) ck_assert_int_eq(pp_healing_reaction_set_layout(r.rx, N, 1), PP_OK);
  ck_assert_int_eq(pp_healing_reaction_set_pulses(r.rx, 3, set_pulses), PP_OK);
  double *amplitude = malloc((PP_HEALING_MAX_SPECIES * count + 1) * sizeof *amplitude);
  ck_assert(amplitude);
  for (size_t j = 0; j < count; ++j) {
    const size_t position = perm ? perm[j] : j;
    double u[N_MAX], a_j[PP_HEALING_MAX_SPECIES];
    scattered_node(m, first + (long long)j, u, a_j);
    for (size_t a = 0; a < N; ++a) r.host[interleaved ? position * N + a : a * count + position] = u[a];
    for (int i = 0; i < m->G; ++i) amplitude[(size_t)i * count + position] = a_j[i];
  }
  run_write(&r);
  /* the interleaved run takes its amplitudes from device buffers of its own (the caller's route) */
  cl_mem borrowed[PP_HEALING_MAX_SPECIES] = {NULL};
  for (int i = 0; i < m->G; ++i) {
    if (!interleaved) {
      ck_assert_int_eq(pp_healing_reaction_set_amplitude(r.rx, i, amplitude + (size_t)i * count), PP_OK);
      continue;
    }
    ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, count * (size_t)pp_clrt_real_size(clrt), "test amplitude",
                                    &borrowed[i]),
                     PP_OK);
    ck_assert_int_eq(pp_clrt_write_reals(clrt, borrowed[i], amplitude + (size_t)i * count, count, "test amplitude"), PP_OK);
    ck_assert_int_eq(pp_healing_reaction_set_amplitude_buffer(r.rx, i, borrowed[i]), PP_OK);
  }
  pp_healing_reaction_info info = {0, 0, 0, 0, 0};
  if (count) {
    advance(&r, 0, 6 * hour, &info);
    advance(&r, 6 * hour, 6 * hour, &info);
  }
  run_read(&r);
  for (int i = 0; i < m->G; ++i)
    if (borrowed[i]) clReleaseMemObject(borrowed[i]);
  for (size_t j = 0; j < count; ++j) {
    const size_t position = perm ? perm[j] : j;
    for (size_t a = 0; a < N; ++a)
      values[j * N + a] = r.host[interleaved ? position * N + a : a * count + position];
  }
  free(amplitude);
  run_free(&r);
}

START_TEST(test_independent_nodes)
{
  model_setup m;
  setup_model(&m, 0);
  const size_t N = (size_t)m.N;
  int rank = 0, size = 1;
  MPI_Comm_rank(runtime.comm, &rank);
  MPI_Comm_size(runtime.comm, &size);
  double *whole = calloc(SET_NODES * N, sizeof *whole), *permuted = calloc(SET_NODES * N, sizeof *permuted),
         *interleaved = calloc(SET_NODES * N, sizeof *interleaved), *gathered = calloc(SET_NODES * N, sizeof *gathered);
  size_t *perm = malloc(SET_NODES * sizeof *perm);
  ck_assert(whole && permuted && interleaved && gathered && perm);
  /* this rank alone: the whole set in order, permuted, and node-interleaved */
  run_set(&m, 0, SET_NODES, NULL, 0, whole);
  unsigned long long seed = 12345;
  for (size_t j = 0; j < SET_NODES; ++j) perm[j] = j;
  for (size_t j = SET_NODES - 1; j > 0; --j) {
    const size_t i = (size_t)(uniform(&seed) * (double)(j + 1));
    const size_t swap = perm[i];
    perm[i] = perm[j];
    perm[j] = swap;
  }
  run_set(&m, 0, SET_NODES, perm, 0, permuted);
  run_set(&m, 0, SET_NODES, NULL, 1, interleaved);
  /* each rank its share (uneven, so positions within work-groups differ), gathered on every rank */
  int counts[64], displs[64];
  ck_assert(size <= 64);
  long long first = 0;
  for (int q = 0; q < size; ++q) {
    const long long share = q + 1 < size ? SET_NODES / size + 17 * (q + 1) : SET_NODES - first;
    counts[q] = (int)(share * (long long)N);
    displs[q] = (int)(first * (long long)N);
    first += share;
  }
  double *mine = calloc((size_t)counts[rank] + 1, sizeof *mine);
  ck_assert(mine);
  run_set(&m, displs[rank] / (long long)N, (size_t)counts[rank] / N, NULL, 0, mine);
  MPI_Allgatherv(mine, counts[rank], MPI_DOUBLE, gathered, counts, displs, MPI_DOUBLE, runtime.comm);
  free(mine);
  const int same_permuted = memcmp(whole, permuted, SET_NODES * N * sizeof *whole) == 0;
  const int same_interleaved = memcmp(whole, interleaved, SET_NODES * N * sizeof *whole) == 0;
  const int same_shares = all_ranks(memcmp(whole, gathered, SET_NODES * N * sizeof *whole) == 0);
  const uint64_t hash = hash_doubles(whole, SET_NODES * N);
  uint64_t hash0 = hash;
  MPI_Bcast(&hash0, 1, MPI_UINT64_T, 0, runtime.comm);
  const int same_hash = all_ranks(hash == hash0);
  int changed = 0;
  for (size_t j = 0; j < SET_NODES; ++j) {
    double u[N_MAX], a_j[PP_HEALING_MAX_SPECIES];
    scattered_node(&m, (long long)j, u, a_j);
    changed += memcmp(u, &whole[j * N], N * sizeof *u) != 0;
  }
  if (rank0())
    printf("independent nodes: %d nodes, %d changed; permuted %s, interleaved %s, %d rank share(s) %s; hash of the "
           "result %016llx\n",
           SET_NODES, changed, same_permuted ? "identical" : "DIFFER", same_interleaved ? "identical" : "DIFFER", size,
           same_shares ? "identical" : "DIFFER", (unsigned long long)hash);
  free(whole);
  free(permuted);
  free(interleaved);
  free(gathered);
  free(perm);
  ck_assert_msg(same_permuted, "permuted nodes give other bits");
  ck_assert_msg(same_interleaved, "the interleaved layout gives other bits");
  ck_assert_msg(same_shares, "the ranks' shares give other bits than one rank's whole set");
  ck_assert_msg(same_hash, "the ranks disagree on the whole set");
  ck_assert_int_gt(changed, SET_NODES * 9 / 10);
}
END_TEST

/* ---- 5. failure reporting -------------------------------------------------------------------------- */

static int contains(const char *text, const char *part)
{
  return strstr(text, part) != NULL;
}

START_TEST(test_failure_reporting)
{
  model_setup m;
  setup_model(&m, 0);
  enum { NODES = 40 };
  long long ids[NODES];
  for (int n = 0; n < NODES; ++n) ids[n] = 5000000 + 11 * n;
  const double pulses[1] = {0};
  for (int mode = 0; mode < 3; ++mode) {
    pp_healing_reaction_options options;
    pp_healing_reaction_default_options(&m.params, &m.rest, 1e-6, &options); /* no decay: the rest is 1 sub-step */
    if (mode == 0) options.max_substeps = 2;
    if (mode == 1) options.min_substep = 0.5 * day;
    device_run r;
    run_create(&r, &m, NODES, &options);
    ck_assert_int_eq(pp_healing_reaction_set_node_ids(r.rx, ids), PP_OK);
    ck_assert_int_eq(pp_healing_reaction_set_pulses(r.rx, 1, pulses), PP_OK);
    /* the source only at nodes 17 and up, so the nodes before it rest (and succeed) */
    double *amplitude = calloc(NODES, sizeof *amplitude);
    ck_assert(amplitude);
    for (int n = 17; n < NODES; ++n) amplitude[n] = release_level[0];
    ck_assert_int_eq(pp_healing_reaction_set_amplitude(r.rx, 0, amplitude), PP_OK);
    free(amplitude);
    run_fill(&r, m.rest_u);
    if (mode == 2) {
      r.host[(size_t)m.G * NODES + 23] = -1; /* node 23's fibroblasts */
      run_write(&r);
    }
    double before[N_MAX * NODES];
    memcpy(before, r.host, sizeof(double) * (size_t)m.N * NODES);
    pp_healing_reaction_info info;
    const pp_err err = pp_healing_reaction_advance(r.rx, r.state, 0, day, &info);
    char message[2048];
    snprintf(message, sizeof message, "%s", pp_error_message());
    pp_error_clear();
    if (rank0()) printf("failure mode %d: %s\n", mode, message);
    ck_assert_int_eq(err, PP_ERR_SOLVER);
    char expected[64];
    const int first_failed = mode == 2 ? 23 : 17;
    snprintf(expected, sizeof expected, "node %lld (local index %d)", ids[first_failed], first_failed);
    ck_assert_msg(contains(message, expected), "message without '%s': %s", expected, message);
    const char *why = mode == 0 ? "sub-step limit" : mode == 1 ? "below the minimum" : "negative or non-finite start";
    ck_assert_msg(contains(message, why), "message without '%s': %s", why, message);
    ck_assert_msg(contains(message, "g_0 = ") && contains(message, "c1 = "), "message without the state: %s", message);
    const long long expected_failures = mode == 2 ? 1 : NODES - 17;
    ck_assert_int_eq(info.failures, expected_failures);
    snprintf(expected, sizeof expected, "%lld of %d nodes failed", expected_failures, NODES);
    ck_assert_msg(contains(message, expected), "message without '%s': %s", expected, message);
    /* failed nodes keep their start state; the resting nodes before 17 advanced (and stayed put) */
    run_read(&r);
    for (int a = 0; a < m.N; ++a)
      for (int n = 17; n < NODES; ++n)
        if (mode != 2 || n == 23)
          ck_assert_msg(r.host[(size_t)a * NODES + (size_t)n] == before[(size_t)a * NODES + (size_t)n],
                        "failed node %d changed", n);
    run_free(&r);
  }
  /* argument checks */
  pp_healing_reaction *rx = NULL;
  ck_assert_int_eq(pp_healing_reaction_create(&rx, clrt, 4), PP_OK);
  cl_mem small = NULL;
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, 8, "small", &small), PP_OK);
  ck_assert_int_eq(pp_healing_reaction_advance(rx, small, 0, hour, NULL), PP_ERR_ARGUMENT); /* nothing set */
  ck_assert_int_eq(pp_healing_reaction_set_parameters(rx, m.flat), PP_OK);
  pp_healing_reaction_options options;
  pp_healing_reaction_default_options(&m.params, &m.rest, 1e-6, &options);
  ck_assert_int_eq(pp_healing_reaction_set_options(rx, &options), PP_OK);
  ck_assert_int_eq(pp_healing_reaction_advance(rx, small, 0, hour, NULL), PP_ERR_ARGUMENT); /* too small */
  ck_assert_msg(contains(pp_error_message(), "state buffer has 8 bytes"), "%s", pp_error_message());
  const double descending[2] = {10, 5};
  ck_assert_int_eq(pp_healing_reaction_set_pulses(rx, 2, descending), PP_ERR_ARGUMENT);
  ck_assert_int_eq(pp_healing_reaction_set_pulses(rx, PP_HEALING_MAX_PULSES + 1, descending), PP_ERR_ARGUMENT);
  options.max_substeps = 0;
  ck_assert_int_eq(pp_healing_reaction_set_options(rx, &options), PP_ERR_ARGUMENT);
  const pp_healing_release_profile bad = {0, 1, 0.5, 0.5};
  ck_assert_int_eq(pp_healing_reaction_set_release(rx, 0, &bad), PP_ERR_ARGUMENT);
  pp_error_clear();
  clReleaseMemObject(small);
  pp_healing_reaction_destroy(rx);
}
END_TEST

/* ---- float ------------------------------------------------------------------------------------------- */

/* The kernel builds in float and holds the rest state (basal secretion) over 30 days at rtol 1e-4. */
START_TEST(test_float_build)
{
  pp_clrt_options clrt_options;
  pp_clrt_options_default(&clrt_options);
  clrt_options.use_double = 0;
  pp_clrt *float_clrt = NULL;
  const pp_err created = pp_clrt_create(&float_clrt, runtime.comm, &clrt_options);
  ck_assert_msg(created == PP_OK, "%s", pp_error_message());
  pp_clrt *double_clrt = clrt;
  clrt = float_clrt;
  model_setup m;
  setup_model(&m, 1);
  pp_healing_reaction_options options;
  pp_healing_reaction_default_options(&m.params, &m.rest, 1e-4, &options);
  options.include_decay = 1;
  device_run r;
  run_create(&r, &m, 8, &options);
  run_fill(&r, m.rest_u);
  pp_healing_reaction_info info = {0, 0, 0, 0, 0};
  for (int d = 0; d < 30; ++d) advance(&r, d * day, day, &info);
  run_read(&r);
  double worst = 0;
  for (int a = 0; a < m.N; ++a)
    worst = fmax(worst, fabs(r.host[(size_t)a * r.nodes] - m.rest_u[a]) / fmax(fabs(m.rest_u[a]), m.scale[a]));
  if (rank0()) printf("float build: rest state after 30 days drifts %.2e of the scale\n", worst);
  run_free(&r);
  clrt = double_clrt;
  pp_clrt_destroy(float_clrt);
  ck_assert_msg(worst <= 1e-5, "float: drift %g", worst);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("healing_reaction");
  TCase *tc = tcase_create("reaction");
  tcase_set_timeout(tc, 600);
  /* the tests with collectives first (a failure elsewhere cannot leave them unmatched) */
  tcase_add_test(tc, test_independent_nodes);
  tcase_add_test(tc, test_float_build);
  tcase_add_test(tc, test_well_mixed_against_reference);
  tcase_add_test(tc, test_pulse_closed_form);
  tcase_add_test(tc, test_positivity_stiff);
  tcase_add_test(tc, test_rest_state);
  tcase_add_test(tc, test_failure_reporting);
  suite_add_tcase(suite, tc);
  const int status = pp_test_finish_device(suite, &runtime, clrt);
  free(well_mixed_reference);
  return status;
}
