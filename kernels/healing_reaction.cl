/* healing_reaction: the reaction sub-step of stage 2's Strang-split healing step (issue 10) on the
 * device. Every node integrates, on its own,
 *   du/dt = R(u) + s(t)    over [t0, t0 + h]
 * with R kernels/healing_rates.cl's reaction part (no transport; the decay -k_i g_i only when
 * include_decay is set: the well-mixed mode and the tests) and s the injury source; with
 * freeze_factors the growth factors' rates are 0 (the healing stage's split: they are integrated
 * with their transport, host/healing.c). Argument `mode`: bit 0 include_decay, bit 1 freeze. The host
 * (host/healing_reaction.c) builds this file behind kernels/healing_rates.cl, with
 * -DHEALING_MAX_PULSES=... besides clrt's -DREAL and -DREAL_IS_DOUBLE.
 *
 * Integrator: Dormand & Prince's embedded 5(4) pair (J. R. Dormand and P. J. Prince, J. Comput.
 * Appl. Math. 6 (1980) 19-26; the tableau as in Hairer, Norsett & Wanner I, 2nd ed., Table II.5.2),
 * first-same-as-last, one sub-step controller per node:
 *  - error norm max_a |err_a| / (atol_a + rtol max(|u_a|, |u_a new|)); accept when <= 1;
 *  - positivity: a sub-step is also rejected when any stage value or the result has a negative
 *    component (with rate = P - L u, P, L >= 0, a short enough step stays positive), and then
 *    shrinks by at least 2;
 *  - a cap from the split form, sub-step x max_a L_a(u) <= cap_factor (1 by default; 0 turns it
 *    off, for tests of the rejection above) with L the loss rates at the sub-step's start, the
 *    decay k_i included when it is on. At 1: on u' = -L u every Dormand-Prince stage value
 *    stays non-negative up to hL = 1.037 (where the sixth stage's factor changes sign; the
 *    fifth's at 1.079, the fourth's at 1.478) and the step's amplification lies in [0.368, 1]
 *    (so a sub-step rejected for a negative value is rare with the cap). Without it a resting node
 *    (rates ~1e-14 of their terms) takes one sub-step per call, far outside the stability
 *    interval (hL < 3.55), and round-off grows until the error estimate notices it (measured:
 *    3.5e-8 of the scale in 180 1-day calls with the decay on); the reaction part alone is
 *    hardly stiff (L ~ 1/d for the fibroblasts, 0 for the growth factors), so the cap costs
 *    nothing there;
 *  - new sub-step = old x min(5, max(0.2, 0.9 norm^(-1/5))), not grown right after a rejection;
 *  - sub-steps are cut to land on every pulse start inside the interval (a source switches on
 *    there, so no sub-step straddles one: a pulse counts in a sub-step iff it started at or before
 *    the sub-step's start) and on t0 + h; a sub-step that would leave less than one more is split
 *    in two equal ones;
 *  - the first sub-step of a call, and the first after a pulse start, from the state's own time
 *    scales (an Euler probe, Hairer-Norsett-Wanner II.4's starting-step idea made dimensionally
 *    consistent): no memory between calls, so a node's result depends only on its state, its
 *    amplitudes and the arguments.
 * Nothing is shared between work-items (no local memory, no reductions, no atomics): a node gives
 * the same bits whichever work-group, position or rank computes it.
 *
 * Buffers (REAL unless said):
 *   state[node * node_stride + a * component_stride], a = 0 .. G + 2 (u = g_0..g_{G-1}, n, c3, c1),
 *       node < node_count: read, and written back unless the node failed (then left as it was).
 *       node_stride 1 and component_stride >= node_count is structure-of-arrays (the host's
 *       default: component_stride = node_count); node_stride G + 3 and component_stride 1 is
 *       node-interleaved.
 *   params[HEALING_PARAMS]: pp_healing_pack's flat array (copied to private memory).
 *   control[RX_CONTROL]: the small table below (copied to private memory).
 *   amplitude_i[node]: the release amplitude A_i of species i (kg/m^3 per unit profile integral),
 *       read only where bit i of amplitude_mask is set (an unset species has no source; its
 *       argument may be any buffer).
 *   report[node + j node_count] (int), j = 0 .. 3: accepted sub-steps, rejected sub-steps, the
 *       failure code (RX_FAILED_*; 0 success), and the rejections caused by a negative value
 *       (part of the rejected ones).
 *   detail[node], detail[node_count + node]: where a failed node stopped: the time reached
 *       (from t0, s) and the last sub-step tried (s); not written for nodes that succeed.
 *
 * Control table (offsets below): atol per state component; per species the profile's fast and
 * slow times tau_1, tau_2 (s) and weights e_1, e_2; the starts of the pulses (ascending, in s
 * from t0: the host writes t_k - t0 before each call). The source of species i at time t:
 *   s_i = A_i sum_{k: t_k <= t} (e_1 exp(-(t - t_k)/tau_1)/tau_1 + e_2 exp(-(t - t_k)/tau_2)/tau_2).
 * Time inside the kernel runs from 0 at t0, so a float build keeps its resolution late in a run. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#ifndef HEALING_MAX_PULSES
#error "healing_reaction.cl needs -DHEALING_MAX_PULSES (host/healing_reaction.c passes it)"
#endif

#define RX_ATOL 0
#define RX_FAST_TIME (RX_ATOL + HEALING_MAX_STATE)
#define RX_SLOW_TIME (RX_FAST_TIME + HEALING_MAX_SPECIES)
#define RX_FAST_WEIGHT (RX_SLOW_TIME + HEALING_MAX_SPECIES)
#define RX_SLOW_WEIGHT (RX_FAST_WEIGHT + HEALING_MAX_SPECIES)
#define RX_PULSE_START (RX_SLOW_WEIGHT + HEALING_MAX_SPECIES)
#define RX_CONTROL (RX_PULSE_START + HEALING_MAX_PULSES)

#define RX_FAILED_SUBSTEPS 1 /* the sub-step limit was reached before t0 + h */
#define RX_FAILED_MIN_STEP 2 /* the controller asked for less than min_substep (or time stopped moving) */
#define RX_FAILED_START 3    /* the start state has a negative or non-finite component */

/* One node's private copy of everything its right-hand side reads. */
typedef struct {
  REAL p[HEALING_PARAMS];
  REAL c[RX_CONTROL];
  REAL amplitude[HEALING_MAX_SPECIES];
  int G, N, include_decay, freeze_factors, has_source;
} reaction_node;

/* f = R(u) + s(t) (- k_i g_i with include_decay), `active` pulses on, t from t0. */
static void reaction_rhs(const reaction_node *r, int active, REAL t, const REAL *u, REAL *f)
{
  REAL source[HEALING_MAX_SPECIES];
  for (int i = 0; i < HEALING_MAX_SPECIES; ++i) source[i] = 0;
  if (r->has_source) {
    for (int i = 0; i < r->G; ++i) {
      if (r->amplitude[i] == 0) continue;
      const REAL fast_time = r->c[RX_FAST_TIME + i], slow_time = r->c[RX_SLOW_TIME + i];
      const REAL fast_weight = r->c[RX_FAST_WEIGHT + i], slow_weight = r->c[RX_SLOW_WEIGHT + i];
      REAL profile = 0;
      for (int k = 0; k < active; ++k) {
        const REAL age = t - r->c[RX_PULSE_START + k];
        if (fast_weight != 0) profile += fast_weight * exp(-age / fast_time) / fast_time;
        if (slow_weight != 0) profile += slow_weight * exp(-age / slow_time) / slow_time;
      }
      source[i] = r->amplitude[i] * profile;
    }
  }
  healing_rates(r->p, u, source, f);
  if (r->include_decay)
    for (int i = 0; i < r->G; ++i) f[i] -= r->p[HEALING_P_DECAY + i] * u[i];
  if (r->freeze_factors)
    for (int i = 0; i < r->G; ++i) f[i] = 0;
}

/* The weight atol_a + rtol |u_a| of the error norm. */
static REAL error_weight(const reaction_node *r, REAL rtol, REAL value, int a)
{
  return r->c[RX_ATOL + a] + rtol * fabs(value);
}

/* A first sub-step from the state's time scales: d0 = |u|, d1 = |f| in the weighted max norm, an
 * Euler probe of length h0 = 0.01 d0/d1 (1 % of the state's size) gives d2 ~ |u''|; with the time
 * scale T = d1/d2 the local error of a 5(4) step of length h is ~ d1 T (h/T)^5 in the same norm,
 * which is 0.1 at h1 = T (0.1/(d1 T))^(1/5). The step is min(100 h0, h1, remaining). */
static REAL first_substep(const reaction_node *r, int active, REAL t, REAL remaining, REAL rtol, const REAL *u,
                          const REAL *f0)
{
  REAL d0 = 0, d1 = 0;
  for (int a = 0; a < r->N; ++a) {
    const REAL w = error_weight(r, rtol, u[a], a);
    d0 = fmax(d0, fabs(u[a]) / w);
    d1 = fmax(d1, fabs(f0[a]) / w);
  }
  if (!(d1 > 0)) return remaining; /* nothing moves: the error estimate of the first step decides */
  const REAL h0 = fmin((REAL)0.01 * fmax(d0, (REAL)1) / d1, remaining);
  REAL probe[HEALING_MAX_STATE], f1[HEALING_MAX_STATE];
  for (int a = 0; a < HEALING_MAX_STATE; ++a) probe[a] = 0;
  for (int a = 0; a < r->N; ++a) probe[a] = fmax(u[a] + h0 * f0[a], (REAL)0);
  reaction_rhs(r, active, t + h0, probe, f1);
  REAL d2 = 0;
  for (int a = 0; a < r->N; ++a) d2 = fmax(d2, fabs(f1[a] - f0[a]) / error_weight(r, rtol, u[a], a));
  d2 /= h0;
  REAL h1 = 100 * h0;
  if (d2 > 0) {
    const REAL T = d1 / d2;
    h1 = T * pow((REAL)0.1 / (d1 * T), (REAL)0.2);
  }
  REAL h = fmin(100 * h0, h1);
  if (!(h > 0)) h = h0; /* non-finite probe: let the controller find its way down */
  return fmin(h, remaining);
}

/* The sub-step cap cap_factor / max_a L_a(u) (the loss rates of the split form, plus the decay
 * when it is on), at most the interval; cap_factor 0: no cap. */
static REAL loss_cap(const reaction_node *r, const REAL *u, REAL interval, REAL cap_factor)
{
  if (!(cap_factor > 0)) return interval;
  REAL production[HEALING_MAX_STATE], loss[HEALING_MAX_STATE], no_source[HEALING_MAX_SPECIES];
  for (int i = 0; i < HEALING_MAX_SPECIES; ++i) no_source[i] = 0;
  healing_rates_split(r->p, u, no_source, production, loss);
  REAL fastest = 0;
  for (int a = r->freeze_factors ? r->G : 0; a < r->N; ++a)
    fastest = fmax(fastest, loss[a] + (r->include_decay && a < r->G ? r->p[HEALING_P_DECAY + a] : (REAL)0));
  return fastest > 0 ? fmin(interval, cap_factor / fastest) : interval;
}

/* Dormand-Prince 5(4): nodes c, stage matrix a (row s: stages 0 .. s-1; its last row is the
 * 5th-order weights, first-same-as-last) and the error weights e = b5 - b4. */
__constant REAL dp_c[7] = {0, (REAL)1 / 5, (REAL)3 / 10, (REAL)4 / 5, (REAL)8 / 9, 1, 1};
__constant REAL dp_a[7][6] = {
    {0, 0, 0, 0, 0, 0},
    {(REAL)1 / 5, 0, 0, 0, 0, 0},
    {(REAL)3 / 40, (REAL)9 / 40, 0, 0, 0, 0},
    {(REAL)44 / 45, (REAL)-56 / 15, (REAL)32 / 9, 0, 0, 0},
    {(REAL)19372 / 6561, (REAL)-25360 / 2187, (REAL)64448 / 6561, (REAL)-212 / 729, 0, 0},
    {(REAL)9017 / 3168, (REAL)-355 / 33, (REAL)46732 / 5247, (REAL)49 / 176, (REAL)-5103 / 18656, 0},
    {(REAL)35 / 384, 0, (REAL)500 / 1113, (REAL)125 / 192, (REAL)-2187 / 6784, (REAL)11 / 84},
};
__constant REAL dp_e[7] = {(REAL)71 / 57600,      0,                (REAL)-71 / 16695, (REAL)71 / 1920,
                           (REAL)-17253 / 339200, (REAL)22 / 525, (REAL)-1 / 40};

__kernel void healing_reaction_advance(const ulong node_count, const ulong node_stride, const ulong component_stride,
                                       __global REAL *restrict state, __global const REAL *restrict params,
                                       __global const REAL *restrict control, const int pulse_count,
                                       __global const REAL *restrict amplitude_0,
                                       __global const REAL *restrict amplitude_1,
                                       __global const REAL *restrict amplitude_2,
                                       __global const REAL *restrict amplitude_3, const int amplitude_mask,
                                       const REAL interval, const REAL rtol, const REAL min_substep,
                                       const int max_substeps, const int mode, __global int *restrict report,
                                       __global REAL *restrict detail, const REAL cap_factor)
{
  const size_t node = get_global_id(0);
  if (node >= node_count) return;

  reaction_node r;
  for (int a = 0; a < HEALING_PARAMS; ++a) r.p[a] = params[a];
  for (int a = 0; a < RX_CONTROL; ++a) r.c[a] = control[a];
  r.G = (int)r.p[HEALING_P_SPECIES];
  r.N = r.G + 3;
  r.include_decay = (mode & 1) != 0;
  r.freeze_factors = (mode & 2) != 0;
  r.amplitude[0] = (amplitude_mask & 1) ? amplitude_0[node] : (REAL)0;
  r.amplitude[1] = (amplitude_mask & 2) ? amplitude_1[node] : (REAL)0;
  r.amplitude[2] = (amplitude_mask & 4) ? amplitude_2[node] : (REAL)0;
  r.amplitude[3] = (amplitude_mask & 8) ? amplitude_3[node] : (REAL)0;
  r.has_source = 0;
  for (int i = 0; i < r.G; ++i) r.has_source |= pulse_count > 0 && r.amplitude[i] != 0;

  REAL u[HEALING_MAX_STATE], y[HEALING_MAX_STATE], k[7][HEALING_MAX_STATE];
  for (int a = 0; a < HEALING_MAX_STATE; ++a) u[a] = y[a] = 0;
  for (int a = 0; a < r.N; ++a) u[a] = state[node * node_stride + (size_t)a * component_stride];

  int failure = 0, accepted = 0, rejected = 0;
  for (int a = 0; a < r.N; ++a)
    if (!(u[a] >= 0) || isinf(u[a])) failure = RX_FAILED_START;

  REAL t = 0, dt = 0, step = 0;
  int active = 0; /* pulses started at or before t (the starts are ascending) */
  while (active < pulse_count && r.c[RX_PULSE_START + active] <= t) ++active;
  int need_rates = 1, need_first_step = 1, no_growth = 0, negative_rejections = 0;
  REAL cap = loss_cap(&r, u, interval, cap_factor); /* the sub-step cap from the loss rates at u */
  while (!failure && t < interval) {
    if (need_rates) {
      reaction_rhs(&r, active, t, u, k[0]);
      need_rates = 0;
    }
    if (need_first_step) {
      dt = first_substep(&r, active, t, interval - t, rtol, u, k[0]);
      need_first_step = 0;
      if (dt < fmin(min_substep, interval - t)) {
        step = dt;
        failure = RX_FAILED_MIN_STEP;
        break;
      }
    }
    if (accepted + rejected >= max_substeps) {
      failure = RX_FAILED_SUBSTEPS;
      break;
    }
    /* the next stop: the next pulse start inside the interval, else its end */
    REAL stop = interval;
    if (active < pulse_count && r.c[RX_PULSE_START + active] < stop) stop = r.c[RX_PULSE_START + active];
    int lands = 0;
    step = fmin(dt, cap);
    if (stop - t <= step) {
      step = stop - t;
      lands = 1;
    } else if (stop - t < 2 * step) {
      step = (stop - t) / 2;
    }
    if (!(t + step > t)) {
      failure = RX_FAILED_MIN_STEP;
      break;
    }

    /* stages 1 .. 6 (the 6th stage value is the 5th-order result), stopping at a negative value */
    int negative = 0;
    for (int s = 1; s < 7 && !negative; ++s) {
      for (int a = 0; a < r.N; ++a) {
        REAL sum = 0;
        for (int j = 0; j < s; ++j) sum += dp_a[s][j] * k[j][a];
        y[a] = u[a] + step * sum;
        negative |= !(y[a] >= 0);
      }
      if (!negative) reaction_rhs(&r, active, t + dp_c[s] * step, y, k[s]);
    }
    REAL norm = 0;
    int finite = 1;
    if (!negative) {
      for (int a = 0; a < r.N; ++a) {
        REAL estimate = 0;
        for (int s = 0; s < 7; ++s) estimate += dp_e[s] * k[s][a];
        estimate *= step;
        const REAL scale = r.c[RX_ATOL + a] + rtol * fmax(fabs(u[a]), fabs(y[a]));
        const REAL ratio = fabs(estimate) / scale;
        finite &= isfinite(ratio);
        norm = fmax(norm, ratio);
      }
    }
    REAL factor = norm > 0 ? (REAL)0.9 * pow(norm, (REAL)-0.2) : (REAL)5;
    factor = fmin((REAL)5, fmax((REAL)0.2, factor));
    if (!negative && finite && norm <= 1) {
      ++accepted;
      for (int a = 0; a < r.N; ++a) {
        u[a] = y[a];
        k[0][a] = k[6][a];
      }
      cap = loss_cap(&r, u, interval, cap_factor);
      t = lands ? stop : t + step;
      if (no_growth) factor = fmin(factor, (REAL)1);
      no_growth = 0;
      const REAL proposal = step * factor;
      dt = lands && factor >= 1 ? fmax(proposal, dt) : proposal; /* a cut sub-step says little about dt */
      if (!lands && dt < fmin(min_substep, interval - t)) {
        step = dt;
        failure = RX_FAILED_MIN_STEP;
      }
      if (lands && t < interval) {
        /* a pulse starts here: its source is on from now, the old rates and step scale are stale */
        while (active < pulse_count && r.c[RX_PULSE_START + active] <= t) ++active;
        need_rates = 1;
        need_first_step = 1;
      }
    } else {
      ++rejected;
      no_growth = 1;
      if (negative) {
        factor = fmin(factor, (REAL)0.5);
        ++negative_rejections;
      }
      if (!finite) factor = (REAL)0.2; /* a non-finite error estimate */
      dt = step * factor;
      if (dt < fmin(min_substep, interval - t)) {
        step = dt;
        failure = RX_FAILED_MIN_STEP;
      }
    }
  }

  if (!failure) {
    for (int a = 0; a < r.N; ++a) state[node * node_stride + (size_t)a * component_stride] = u[a];
  } else {
    detail[node] = t;
    detail[node_count + node] = step;
  }
  report[node] = accepted;
  report[node_count + node] = rejected;
  report[2 * node_count + node] = failure;
  report[3 * node_count + node] = negative_rejections;
}
