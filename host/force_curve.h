/* force_curve: what one needle's force-depth record says about its insertion. It owns the
 * puncture-event detector and the curve metrics that needle-insertion papers report (Okamura,
 * Simone & O'Leary 2004; Jiang et al. 2014; Shergold & Fleck 2005; PHYSICS.md section 4: peak
 * pre-puncture force, puncture depth, force drop, post-puncture slope, withdrawal friction), and
 * their JSON for the run summary. A plain module: no MPI, no OpenCL, no HDF5, no allocation.
 *
 * Input: n samples in time order (stage 1 writes them to needle_<k>.csv, host/stage1.h):
 *   time t_i (s, strictly increasing), tip depth d_i (m below the undeformed surface, negative
 *   above it), axial force F_i (N, the force of the skin on the needle along its axis: > 0 resisting
 *   insertion, < 0 pulling the needle in while it withdraws), and the stroke's phase times
 *   insertion_end (s; the tip reaches full depth) <= withdrawal_start (s; it starts back; host/needle:
 *   start_time + T_in and start_time + T_in + dwell).
 * Insertion samples are those with t_i <= insertion_end (at least the first sample must be one);
 * withdrawal samples those with t_i >= withdrawal_start (there may be none: a run cut short). Dwell
 * samples in between belong to neither, so relaxation at rest is never read as a puncture.
 *
 * Puncture events (drops), with f = drop_fraction in (0, 1) and F_floor = drop_minimum >= 0 (N).
 * The insertion samples are scanned in order, keeping the running maximum M (first sample with the
 * largest force, at index i_M) since the start or the last event:
 *   1. M starts as F_0 at i = 0. At each next sample i: if F_i > M, then M = F_i, i_M = i.
 *   2. Otherwise an event starts at i when M > 0, F_i < (1 - f) M and M - F_i > F_floor. (M > 0:
 *      a puncture is a fall from a force resisting insertion, not noise around zero before contact.)
 *   3. Its minimum: from i on, the lowest force m (first sample with it, index i_m) seen before a
 *      sample rises above it by more than f (M - m) (f of the drop so far), or insertion ends. The
 *      rise test keeps wiggles after the fall, smaller than f of the drop, inside one event.
 *   4. The event is (peak M at i_M, minimum m at i_m, drop M - m). The scan restarts at i_m with
 *      M = m, i_M = i_m (step 1 continues from i_m + 1), so a layered tissue gives one event per layer.
 * The rule is deterministic and depends only on the samples and (f, F_floor). Relative to M, it
 * is blind to the level of the force; at forces small against the noise, F_floor keeps noise out.
 *
 * Metrics (all SI; NaN where undefined, see each field). */
#ifndef PP_FORCE_CURVE_H
#define PP_FORCE_CURVE_H

#include <stddef.h>

#include "error.h"

/* Events stored in the metrics; more are counted (event_count) but not stored. */
#define PP_FORCE_CURVE_MAX_EVENTS 16

typedef struct {
  double drop_fraction; /* f in (0, 1): a drop is a fall below (1 - f) x the running maximum (0.1) */
  double drop_minimum;  /* N, >= 0: and by more than this, a noise floor (0) */
} pp_force_curve_options;

/* drop_fraction 0.1, drop_minimum 0. */
pp_force_curve_options pp_force_curve_default_options(void);

typedef struct {
  size_t peak_index;    /* sample of the running maximum before the drop */
  double peak_time;     /* s */
  double peak_depth;    /* m */
  double peak_force;    /* N, M */
  size_t minimum_index; /* sample of the lowest force after it */
  double minimum_time;  /* s */
  double minimum_depth; /* m */
  double minimum_force; /* N, m */
  double drop;          /* N, M - m > 0 */
} pp_force_curve_event;

typedef struct {
  /* ---- samples by phase ---- */
  size_t insertion_samples;  /* t <= insertion_end: indices 0 .. insertion_samples - 1 */
  size_t withdrawal_samples; /* t >= withdrawal_start */

  /* ---- puncture events during insertion ---- */
  int event_count; /* all events found; the first min(event_count, PP_FORCE_CURVE_MAX_EVENTS) stored */
  pp_force_curve_event events[PP_FORCE_CURVE_MAX_EVENTS];

  /* ---- the first puncture ---- */
  int punctured;                 /* 1 when event_count > 0 */
  double peak_prepuncture_force; /* N: the first event's peak; unpunctured, the largest insertion force */
  double puncture_depth;         /* m: depth at that peak (unpunctured: at the largest force) */
  double puncture_time;          /* s: time of that peak */
  double force_drop;             /* N: the first event's drop; 0 unpunctured */
  /* N/m: the secant F / d at that peak (the pre-puncture stiffness); NaN when that depth is <= 0. */
  double prepuncture_stiffness;
  /* N/m: least-squares slope of F against d over the samples from the first event's minimum to the
   * last insertion sample, both included (later drops, if any, included too). Valid only with at
   * least 3 samples whose depths are not all equal; otherwise NaN and post_puncture_slope_valid 0
   * (always so when unpunctured). */
  double post_puncture_slope;
  int post_puncture_slope_valid;
  size_t post_puncture_samples; /* samples in that fit */

  /* ---- insertion ---- */
  double max_insertion_force; /* N, the largest F over the insertion samples */
  double full_depth;          /* m, depth at the last insertion sample (t <= insertion_end) */
  double full_depth_force;    /* N, F there */

  /* ---- withdrawal (t >= withdrawal_start) ---- */
  /* N: the mean (plain mean of the samples; stage 1 samples evenly in time) and the smallest (most
   * negative) F over the withdrawal samples with the tip below the surface, d > 0; NaN when none. */
  double withdrawal_mean_force;
  double withdrawal_min_force;
  size_t withdrawal_samples_in_skin; /* how many samples those are */
  /* J: the work the needle's driver does against the skin while withdrawing: the integral of F dd
   * (trapezoidal) over consecutive withdrawal samples, all of them (also above the surface, where
   * tented skin may still hold the tip). Positive when the skin resists withdrawal (F < 0 while d
   * decreases): a constant F = -f0 over a withdrawal travel L gives f0 L. 0 with fewer than 2
   * withdrawal samples. */
  double withdrawal_friction_work;
  double withdrawal_travel; /* m, depth at the first withdrawal sample minus at the last (0 if none) */
} pp_force_curve_metrics;

/* The metrics of one needle's record of n samples (see the top of this file). options NULL: the
 * defaults. PP_ERR_ARGUMENT naming what is wrong, metrics untouched: a NULL pointer, n < 2, a
 * non-finite time, depth or force (with its sample), a time not after the one before it, a
 * non-finite phase time, insertion_end > withdrawal_start, insertion_end before the first sample,
 * drop_fraction outside (0, 1), drop_minimum negative or not finite. */
pp_err pp_force_curve_analyse(const double *time, const double *depth, const double *force, size_t n,
                              double insertion_end, double withdrawal_start, const pp_force_curve_options *options,
                              pp_force_curve_metrics *metrics);

/* One line of JSON with the scalars of m (values %.9g, null where NaN or infinite; punctured as
 * true / false; keys carry their units: "puncture_depth_m"), for the run summary. PP_ERR_ARGUMENT
 * when text (size bytes) is too small, saying how much is needed; text then holds "". */
pp_err pp_force_curve_json(const pp_force_curve_metrics *m, char *text, size_t size);

#endif
