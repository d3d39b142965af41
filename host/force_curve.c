/* force_curve: puncture events and curve metrics of one needle's force-depth record (see
 * force_curve.h, which defines the drop rule this file implements). */
#include "force_curve.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

pp_force_curve_options pp_force_curve_default_options(void)
{
  /* 10 %: a judgement, no published threshold was found. It sits well above the percent-level
   * wiggle of an explicit-dynamics contact force (tests/test_force_curve: a +-1 % wiggle gives no
   * event); a case whose punctures fall by less lowers it. No floor: the caller knows its noise. */
  pp_force_curve_options options = {0.1, 0.0};
  return options;
}

/* ---- input ---------------------------------------------------------------------------------------- */

static pp_err check_input(const double *time, const double *depth, const double *force, size_t n,
                          double insertion_end, double withdrawal_start, const pp_force_curve_options *options)
{
  PP_CHECK(time != NULL && depth != NULL && force != NULL, PP_ERR_ARGUMENT,
           "force curve: NULL sample array (time %s, depth %s, force %s)", time ? "given" : "NULL",
           depth ? "given" : "NULL", force ? "given" : "NULL");
  PP_CHECK(n >= 2, PP_ERR_ARGUMENT, "force curve: %zu samples, expected at least 2", n);
  for (size_t i = 0; i < n; ++i) {
    PP_CHECK(isfinite(time[i]), PP_ERR_ARGUMENT, "force curve: time of sample %zu is %g, expected a finite time", i,
             time[i]);
    PP_CHECK(isfinite(depth[i]), PP_ERR_ARGUMENT,
             "force curve: tip depth of sample %zu (t = %.9g s) is %g, expected a finite depth", i, time[i], depth[i]);
    PP_CHECK(isfinite(force[i]), PP_ERR_ARGUMENT,
             "force curve: axial force of sample %zu (t = %.9g s) is %g, expected a finite force", i, time[i],
             force[i]);
    PP_CHECK(i == 0 || time[i] > time[i - 1], PP_ERR_ARGUMENT,
             "force curve: time %.17g s of sample %zu is not after %.17g s of sample %zu (times must increase)",
             time[i], i, time[i - 1], i - 1);
  }
  PP_CHECK(isfinite(insertion_end) && isfinite(withdrawal_start), PP_ERR_ARGUMENT,
           "force curve: insertion_end %g s and withdrawal_start %g s, expected finite phase times", insertion_end,
           withdrawal_start);
  PP_CHECK(insertion_end <= withdrawal_start, PP_ERR_ARGUMENT,
           "force curve: insertion_end %.9g s is after withdrawal_start %.9g s", insertion_end, withdrawal_start);
  PP_CHECK(insertion_end >= time[0], PP_ERR_ARGUMENT,
           "force curve: insertion_end %.9g s is before the first sample (t = %.9g s): no insertion samples",
           insertion_end, time[0]);
  PP_CHECK(options->drop_fraction > 0 && options->drop_fraction < 1, PP_ERR_ARGUMENT,
           "force curve: drop_fraction %g, expected more than 0 and less than 1", options->drop_fraction);
  PP_CHECK(options->drop_minimum >= 0 && isfinite(options->drop_minimum), PP_ERR_ARGUMENT,
           "force curve: drop_minimum %g N, expected a finite force >= 0", options->drop_minimum);
  return PP_OK;
}

/* ---- events --------------------------------------------------------------------------------------- */

static void record_event(const double *time, const double *depth, const double *force, size_t peak,
                         size_t minimum, pp_force_curve_metrics *m)
{
  if (m->event_count < PP_FORCE_CURVE_MAX_EVENTS) {
    pp_force_curve_event *e = &m->events[m->event_count];
    e->peak_index = peak;
    e->peak_time = time[peak];
    e->peak_depth = depth[peak];
    e->peak_force = force[peak];
    e->minimum_index = minimum;
    e->minimum_time = time[minimum];
    e->minimum_depth = depth[minimum];
    e->minimum_force = force[minimum];
    e->drop = force[peak] - force[minimum];
  }
  ++m->event_count;
}

/* The drop rule of force_curve.h over samples 0 .. count - 1. */
static void find_events(const double *time, const double *depth, const double *force, size_t count, double f,
                        double drop_minimum, pp_force_curve_metrics *m)
{
  size_t peak = 0; /* i_M: M is force[peak] */
  for (size_t i = 1; i < count; ++i) {
    const double M = force[peak];
    if (force[i] > M) {
      peak = i;
      continue;
    }
    if (!(M > 0 && force[i] < (1 - f) * M && M - force[i] > drop_minimum)) continue;
    size_t minimum = i;
    for (size_t j = i + 1; j < count; ++j) {
      if (force[j] < force[minimum])
        minimum = j;
      else if (force[j] - force[minimum] > f * (M - force[minimum]))
        break;
    }
    record_event(time, depth, force, peak, minimum, m);
    /* Restart from the minimum: M = m there, and the loop's ++i resumes after it. */
    peak = minimum;
    i = minimum;
  }
}

/* Least-squares slope of force against depth over samples first .. last; NaN when the depths do
 * not vary. Centred sums: the slope of an exact line comes back to rounding. */
static double fitted_slope(const double *depth, const double *force, size_t first, size_t last)
{
  const double count = (double)(last - first + 1);
  double mean_d = 0, mean_f = 0;
  for (size_t i = first; i <= last; ++i) {
    mean_d += depth[i];
    mean_f += force[i];
  }
  mean_d /= count;
  mean_f /= count;
  double sxx = 0, sxy = 0;
  for (size_t i = first; i <= last; ++i) {
    sxx += (depth[i] - mean_d) * (depth[i] - mean_d);
    sxy += (depth[i] - mean_d) * (force[i] - mean_f);
  }
  return sxx > 0 ? sxy / sxx : NAN;
}

/* ---- metrics -------------------------------------------------------------------------------------- */

pp_err pp_force_curve_analyse(const double *time, const double *depth, const double *force, size_t n,
                              double insertion_end, double withdrawal_start, const pp_force_curve_options *options,
                              pp_force_curve_metrics *metrics)
{
  PP_CHECK(metrics != NULL, PP_ERR_ARGUMENT, "force curve: NULL metrics");
  const pp_force_curve_options defaults = pp_force_curve_default_options();
  if (options == NULL) options = &defaults;
  PP_CALL(check_input(time, depth, force, n, insertion_end, withdrawal_start, options));

  /* Filled here and copied at the end: on an error above the caller's metrics are untouched. */
  pp_force_curve_metrics m;
  memset(&m, 0, sizeof m);

  size_t inserting = 0;
  while (inserting < n && time[inserting] <= insertion_end) ++inserting;
  m.insertion_samples = inserting; /* >= 1: check_input saw insertion_end >= time[0] */
  size_t withdrawal_first = inserting;
  while (withdrawal_first < n && time[withdrawal_first] < withdrawal_start) ++withdrawal_first;
  m.withdrawal_samples = n - withdrawal_first;

  /* Insertion. */
  size_t largest = 0;
  for (size_t i = 1; i < inserting; ++i)
    if (force[i] > force[largest]) largest = i;
  m.max_insertion_force = force[largest];
  m.full_depth = depth[inserting - 1];
  m.full_depth_force = force[inserting - 1];

  find_events(time, depth, force, inserting, options->drop_fraction, options->drop_minimum, &m);
  m.punctured = m.event_count > 0;
  const size_t peak = m.punctured ? m.events[0].peak_index : largest;
  m.peak_prepuncture_force = force[peak];
  m.puncture_depth = depth[peak];
  m.puncture_time = time[peak];
  m.force_drop = m.punctured ? m.events[0].drop : 0;
  m.prepuncture_stiffness = depth[peak] > 0 ? force[peak] / depth[peak] : NAN;

  m.post_puncture_slope = NAN;
  if (m.punctured) {
    const size_t first = m.events[0].minimum_index, last = inserting - 1;
    m.post_puncture_samples = last - first + 1;
    if (m.post_puncture_samples >= 3) m.post_puncture_slope = fitted_slope(depth, force, first, last);
    m.post_puncture_slope_valid = !isnan(m.post_puncture_slope);
  }

  /* Withdrawal. */
  double sum = 0, smallest = INFINITY;
  for (size_t i = withdrawal_first; i < n; ++i) {
    if (!(depth[i] > 0)) continue;
    sum += force[i];
    smallest = fmin(smallest, force[i]);
    ++m.withdrawal_samples_in_skin;
  }
  m.withdrawal_mean_force = m.withdrawal_samples_in_skin ? sum / (double)m.withdrawal_samples_in_skin : NAN;
  m.withdrawal_min_force = m.withdrawal_samples_in_skin ? smallest : NAN;
  double work = 0;
  for (size_t i = withdrawal_first + 1; i < n; ++i)
    work += 0.5 * (force[i] + force[i - 1]) * (depth[i] - depth[i - 1]);
  m.withdrawal_friction_work = work;
  m.withdrawal_travel = withdrawal_first < n ? depth[withdrawal_first] - depth[n - 1] : 0;

  *metrics = m;
  return PP_OK;
}

/* ---- JSON ----------------------------------------------------------------------------------------- */

typedef struct {
  char *text;
  size_t size;
  size_t needed; /* bytes the whole text needs, without the terminating NUL */
} json_text;

static void append(json_text *j, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void append(json_text *j, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  /* Past the end, count only: vsnprintf with size 0 writes nothing and returns the length. */
  const size_t room = j->needed < j->size ? j->size - j->needed : 0;
  const int written = vsnprintf(room ? j->text + j->needed : NULL, room, format, args);
  va_end(args);
  if (written > 0) j->needed += (size_t)written;
}

/* JSON has no NaN or infinity: null stands for "not defined". */
static void append_number(json_text *j, const char *key, double value)
{
  if (isfinite(value))
    append(j, ", \"%s\": %.9g", key, value);
  else
    append(j, ", \"%s\": null", key);
}

pp_err pp_force_curve_json(const pp_force_curve_metrics *m, char *text, size_t size)
{
  PP_CHECK(m != NULL && text != NULL && size > 0, PP_ERR_ARGUMENT,
           "force curve JSON: NULL metrics or text, or no room (%zu bytes)", size);
  json_text j = {text, size, 0};
  append(&j, "{\"punctured\": %s, \"events\": %d", m->punctured ? "true" : "false", m->event_count);
  append_number(&j, "peak_prepuncture_force_N", m->peak_prepuncture_force);
  append_number(&j, "puncture_depth_m", m->puncture_depth);
  append_number(&j, "puncture_time_s", m->puncture_time);
  append_number(&j, "force_drop_N", m->force_drop);
  append_number(&j, "prepuncture_stiffness_N_per_m", m->prepuncture_stiffness);
  append_number(&j, "post_puncture_slope_N_per_m", m->post_puncture_slope_valid ? m->post_puncture_slope : NAN);
  append_number(&j, "max_insertion_force_N", m->max_insertion_force);
  append_number(&j, "full_depth_m", m->full_depth);
  append_number(&j, "full_depth_force_N", m->full_depth_force);
  append_number(&j, "withdrawal_mean_force_N", m->withdrawal_mean_force);
  append_number(&j, "withdrawal_min_force_N", m->withdrawal_min_force);
  append_number(&j, "withdrawal_friction_work_J", m->withdrawal_friction_work);
  append_number(&j, "withdrawal_travel_m", m->withdrawal_travel);
  append(&j, "}");
  if (j.needed >= size) {
    text[0] = '\0';
    PP_RAISE(PP_ERR_ARGUMENT, "force curve JSON: %zu bytes of text, %zu needed", size, j.needed + 1);
  }
  return PP_OK;
}
