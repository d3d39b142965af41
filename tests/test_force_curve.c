/* host/force_curve: puncture events and curve metrics on synthetic force-depth records whose
 * answers follow by hand: a stiffening branch F = k d^2, a drop, a linear rise (one layer; two
 * layers, one drop spread over samples and one with a wiggle in its trough; a sawtooth of more
 * events than are stored); a curve with no drop; a +-1 % wiggle on a rising curve; a withdrawal
 * at constant friction; bad input; the JSON.
 *
 * Insertion at constant speed: sample i at depth i h, time i dt (the depths are exact multiples
 * of h in double, so the peaks the test computes are the same bits as the samples). Phase times
 * are taken from the samples themselves, so no sample sits ambiguously on a boundary. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "force_curve.h"

#define UM 1e-6

typedef struct {
  double *t, *d, *f;
  size_t n, capacity;
} curve;

static curve curve_new(size_t capacity)
{
  curve c = {calloc(capacity, sizeof(double)), calloc(capacity, sizeof(double)), calloc(capacity, sizeof(double)), 0,
             capacity};
  ck_assert(c.t != NULL && c.d != NULL && c.f != NULL);
  return c;
}

static void curve_free(curve *c)
{
  free(c->t);
  free(c->d);
  free(c->f);
}

static void add(curve *c, double t, double d, double f)
{
  ck_assert_uint_lt(c->n, c->capacity);
  c->t[c->n] = t;
  c->d[c->n] = d;
  c->f[c->n] = f;
  ++c->n;
}

static pp_force_curve_metrics analyse(const curve *c, double insertion_end, double withdrawal_start,
                                      const pp_force_curve_options *options)
{
  pp_force_curve_metrics m;
  pp_err err = pp_force_curve_analyse(c->t, c->d, c->f, c->n, insertion_end, withdrawal_start, options, &m);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  return m;
}

/* |value - expected| <= tolerance |expected|. */
static void check_close(double value, double expected, double tolerance, const char *what)
{
  ck_assert_msg(fabs(value - expected) <= tolerance * fabs(expected), "%s: %.17g, expected %.17g (relative %.2e)",
                what, value, expected, fabs(value - expected) / fabs(expected));
}

/* ---- one puncture ------------------------------------------------------------------------------- */

/* A microneedle-sized curve: h = 5 um, dt = 5 ms (1 mm/s).
 *   i = 0 .. 60:   F = k d^2, k = 4e5 N/m^2, up to d_p = 300 um: peak k d_p^2 = 0.036 N;
 *   i = 61 .. 200: F = F_min + s (d - d_61), F_min = 0.4 x 0.036 = 0.0144 N, s = 50 N/m;
 *                  at full depth (1 mm) F = 0.0144 + 50 x 695e-6 = 0.04915 N, above the peak;
 *   then 10 dwell samples at 1 mm relaxing to 46 % of that (a "drop" that is no puncture: dwell).
 * The fall at i = 61 is 60 % > f = 10 %: one event, peak at i = 60, minimum at i = 61 (the line
 * rises after it), drop 0.6 x 0.036 = 0.0216 N. Secant stiffness k d_p = 120 N/m. The fit from
 * i = 61 to 200 (140 samples) of an exact line gives s to rounding. Withdrawal starts after the
 * last sample: none (a run cut short). */
START_TEST(one_puncture_by_hand)
{
  const double h = 5 * UM, dt = 5e-3, k = 4e5, s = 50;
  const double peak = k * (60 * h) * (60 * h), f_min = 0.4 * peak;
  curve c = curve_new(256);
  for (int i = 0; i <= 60; ++i) add(&c, i * dt, i * h, k * (i * h) * (i * h));
  for (int i = 61; i <= 200; ++i) add(&c, i * dt, i * h, f_min + s * (i * h - 61 * h));
  const double insertion_end = c.t[200], full_force = c.f[200];
  for (int j = 1; j <= 10; ++j) add(&c, (200 + j) * dt, 200 * h, full_force * (1 - 0.054 * j));
  const pp_force_curve_metrics m = analyse(&c, insertion_end, c.t[c.n - 1] + dt, NULL);

  ck_assert_uint_eq(m.insertion_samples, 201);
  ck_assert_int_eq(m.event_count, 1);
  ck_assert_int_eq(m.punctured, 1);
  const pp_force_curve_event *e = &m.events[0];
  ck_assert_uint_eq(e->peak_index, 60);
  ck_assert_uint_eq(e->minimum_index, 61);
  ck_assert_double_eq(e->peak_force, peak);
  ck_assert_double_eq(e->minimum_force, f_min);
  check_close(e->drop, 0.0216, 1e-14, "drop");
  check_close(m.peak_prepuncture_force, 0.036, 1e-14, "peak pre-puncture force");
  check_close(m.puncture_depth, 300 * UM, 1e-14, "puncture depth");
  check_close(m.puncture_time, 0.3, 1e-14, "puncture time");
  check_close(m.force_drop, 0.0216, 1e-14, "force drop");
  check_close(m.prepuncture_stiffness, 120, 1e-14, "pre-puncture stiffness");
  ck_assert_int_eq(m.post_puncture_slope_valid, 1);
  ck_assert_uint_eq(m.post_puncture_samples, 140);
  check_close(m.post_puncture_slope, s, 1e-10, "post-puncture slope");
  check_close(m.max_insertion_force, 0.04915, 1e-13, "largest insertion force");
  check_close(m.full_depth_force, 0.04915, 1e-13, "force at full depth");
  check_close(m.full_depth, 1e-3, 1e-14, "full depth");
  ck_assert_uint_eq(m.withdrawal_samples, 0);
  ck_assert_uint_eq(m.withdrawal_samples_in_skin, 0);
  ck_assert(isnan(m.withdrawal_mean_force) && isnan(m.withdrawal_min_force));
  ck_assert_double_eq(m.withdrawal_friction_work, 0);
  ck_assert_double_eq(m.withdrawal_travel, 0);

  /* The JSON: %.9g of the numbers above, null for the withdrawal that did not happen. */
  char json[1024];
  ck_assert_int_eq(pp_force_curve_json(&m, json, sizeof json), PP_OK);
  ck_assert_msg(strstr(json, "{\"punctured\": true, \"events\": 1, \"peak_prepuncture_force_N\": 0.036, "
                             "\"puncture_depth_m\": 0.0003, \"puncture_time_s\": 0.3, \"force_drop_N\": 0.0216, "
                             "\"prepuncture_stiffness_N_per_m\": 120, \"post_puncture_slope_N_per_m\": 50, "
                             "\"max_insertion_force_N\": 0.04915, ") == json,
                "%s", json);
  ck_assert_ptr_nonnull(strstr(json, "\"withdrawal_mean_force_N\": null, \"withdrawal_min_force_N\": null"));
  ck_assert_int_eq(json[strlen(json) - 1], '}');
  curve_free(&c);
}
END_TEST

/* ---- layered tissue ------------------------------------------------------------------------------- */

/* Two layers (h = 5 um, dt = 5 ms, k = 4e5 N/m^2):
 *   i = 0 .. 40:    F = k d^2 to 200 um: peak 1 = 0.016 N at i = 40;
 *   i = 41:         0.5 x 0.016 = 0.008 N (a 50 % fall: event 1 starts);
 *   i = 42:         0.0085 N, up 0.0005 N: less than f x drop = 0.1 x (0.016 - 0.008) = 0.0008 N, so the
 *                   trough goes on (force_curve.h rule 3);
 *   i = 43:         0.0076 N, the trough's bottom; drop 1 = 0.016 - 0.0076 = 0.0084 N at 215 um (the scan
 *                   restarts here, rule 4: restarting at i = 41 instead would take 0.0085 N at i = 42 as a
 *                   new M and call 0.0076 < 0.9 x 0.0085 a second puncture);
 *   i = 44 .. 120:  F = 0.0076 + 100 (d - 215 um): at i = 120 (600 um) 0.0076 + 0.0385 = 0.0461 N, peak 2;
 *   i = 121 .. 123: 0.8, 0.65, 0.6 x 0.0461 (a fall spread over three samples): minimum 0.02766 N at
 *                   i = 123 (615 um), drop 2 = 0.4 x 0.0461 = 0.01844 N;
 *   i = 124 .. 200: F = 0.02766 + 30 (d - 615 um), rising: no third event. */
START_TEST(two_layers_by_hand)
{
  const double h = 5 * UM, dt = 5e-3, k = 4e5;
  curve c = curve_new(256);
  for (int i = 0; i <= 40; ++i) add(&c, i * dt, i * h, k * (i * h) * (i * h));
  add(&c, 41 * dt, 41 * h, 0.008);
  add(&c, 42 * dt, 42 * h, 0.0085);
  add(&c, 43 * dt, 43 * h, 0.0076);
  for (int i = 44; i <= 120; ++i) add(&c, i * dt, i * h, 0.0076 + 100 * (i * h - 43 * h));
  const double peak2 = c.f[120];
  const double fall[3] = {0.8, 0.65, 0.6};
  for (int i = 121; i <= 123; ++i) add(&c, i * dt, i * h, fall[i - 121] * peak2);
  for (int i = 124; i <= 200; ++i) add(&c, i * dt, i * h, 0.6 * peak2 + 30 * (i * h - 123 * h));
  const pp_force_curve_metrics m = analyse(&c, c.t[200], c.t[200], NULL);

  check_close(peak2, 0.0461, 1e-13, "the second peak as built");
  ck_assert_int_eq(m.event_count, 2);
  const pp_force_curve_event *e1 = &m.events[0], *e2 = &m.events[1];
  ck_assert_uint_eq(e1->peak_index, 40);
  ck_assert_uint_eq(e1->minimum_index, 43);
  check_close(e1->peak_depth, 200 * UM, 1e-14, "event 1 depth");
  check_close(e1->peak_force, 0.016, 1e-14, "event 1 peak");
  check_close(e1->minimum_force, 0.0076, 1e-14, "event 1 minimum");
  check_close(e1->minimum_depth, 215 * UM, 1e-14, "event 1 minimum depth");
  check_close(e1->drop, 0.0084, 1e-13, "event 1 drop");
  ck_assert_uint_eq(e2->peak_index, 120);
  ck_assert_uint_eq(e2->minimum_index, 123);
  check_close(e2->peak_depth, 600 * UM, 1e-14, "event 2 depth");
  check_close(e2->peak_force, 0.0461, 1e-13, "event 2 peak");
  check_close(e2->minimum_force, 0.02766, 1e-13, "event 2 minimum");
  check_close(e2->minimum_depth, 615 * UM, 1e-14, "event 2 minimum depth");
  check_close(e2->drop, 0.01844, 1e-12, "event 2 drop");
  /* The first puncture is the first layer's. */
  check_close(m.puncture_depth, 200 * UM, 1e-14, "puncture depth");
  check_close(m.force_drop, 0.0084, 1e-13, "force drop");
  ck_assert_double_eq(m.max_insertion_force, peak2); /* 0.0461 > 0.02766 + 30 x 385e-6 = 0.03921 */
  curve_free(&c);
}
END_TEST

/* A sawtooth of 20 teeth, each rising 0.010 -> 0.019 N over 10 samples then falling back to 0.010:
 * falls of 47 % > 10 %. Each trough ends at the next sample, a rise of 0.001 N > 0.1 x 0.009 N.
 * Tooth j peaks at sample 10 j + 9 and bottoms at 10 j + 10: 20 events, the first 16 stored. */
START_TEST(more_events_than_stored)
{
  curve c = curve_new(256);
  for (int i = 0; i < 200; ++i) add(&c, i * 1e-3, (i + 1) * UM, 0.010 + 0.001 * (i % 10));
  add(&c, 200 * 1e-3, 201 * UM, 0.010);
  const pp_force_curve_metrics m = analyse(&c, c.t[200], c.t[200], NULL);
  ck_assert_int_eq(m.event_count, 20);
  for (int j = 0; j < PP_FORCE_CURVE_MAX_EVENTS; ++j) {
    ck_assert_uint_eq(m.events[j].peak_index, (size_t)(10 * j + 9));
    ck_assert_uint_eq(m.events[j].minimum_index, (size_t)(10 * j + 10));
    check_close(m.events[j].drop, 0.009, 1e-12, "tooth drop");
  }
  /* The post-puncture fit runs over the other 19 teeth; only its existence is asserted. */
  ck_assert_int_eq(m.post_puncture_slope_valid, 1);
  ck_assert_uint_eq(m.post_puncture_samples, 191);
  curve_free(&c);
}
END_TEST

/* ---- no puncture ------------------------------------------------------------------------------------ */

/* The tip approaches from 25 um above the surface with F = 0 and a little adhesion (-1e-7 and
 * -2e-7 N: below (1 - f) x M = 0 with M = 0, so only the M > 0 condition keeps them from being
 * events). Then F = k d^2 (k = 4e5) to 500 um (i = 100, 0.1 N) and a softening of 5 % < f over 20
 * more samples to 0.095 N. No event: the peak is the largest force, 0.1 N at 500 um, stiffness
 * 0.1 / 500e-6 = 200 N/m, no drop, no slope. */
START_TEST(no_puncture)
{
  const double h = 5 * UM, dt = 5e-3, k = 4e5;
  curve c = curve_new(256);
  const double approach[5] = {0, -1e-7, 0, -2e-7, 0};
  for (int i = -5; i < 0; ++i) add(&c, (i + 5) * dt, i * h, approach[i + 5]);
  for (int i = 0; i <= 100; ++i) add(&c, (i + 5) * dt, i * h, k * (i * h) * (i * h));
  for (int j = 1; j <= 20; ++j) add(&c, (105 + j) * dt, (100 + j) * h, 0.1 * (1 - 0.0025 * j));
  const pp_force_curve_metrics m = analyse(&c, c.t[c.n - 1], c.t[c.n - 1], NULL);

  ck_assert_int_eq(m.event_count, 0);
  ck_assert_int_eq(m.punctured, 0);
  check_close(m.peak_prepuncture_force, 0.1, 1e-14, "largest force");
  ck_assert_double_eq(m.peak_prepuncture_force, m.max_insertion_force);
  check_close(m.puncture_depth, 500 * UM, 1e-14, "depth of the largest force");
  check_close(m.prepuncture_stiffness, 200, 1e-13, "secant stiffness");
  ck_assert_double_eq(m.force_drop, 0);
  ck_assert_int_eq(m.post_puncture_slope_valid, 0);
  ck_assert(isnan(m.post_puncture_slope));
  check_close(m.full_depth_force, 0.095, 1e-14, "force at full depth");

  char json[1024];
  ck_assert_int_eq(pp_force_curve_json(&m, json, sizeof json), PP_OK);
  const char *start = "{\"punctured\": false, \"events\": 0, ";
  ck_assert_msg(strncmp(json, start, strlen(start)) == 0, "%s", json);
  ck_assert_ptr_nonnull(strstr(json, "\"force_drop_N\": 0, "));
  ck_assert_ptr_nonnull(strstr(json, "\"post_puncture_slope_N_per_m\": null, "));
  curve_free(&c);
}
END_TEST

/* ---- noise ------------------------------------------------------------------------------------------ */

/* F = g(d) (1 + a sin(2 pi d / lambda)), g = k d^2 rising, a = 1 %, lambda = 5 um, h = 0.25 um, to
 * 1 mm. Any fall is bounded: M <= g_i (1 + a) (g rises), F_i >= g_i (1 - a), so F_i / M >= 0.99 / 1.01
 * = 0.980 > 0.9: no event at f = 10 %, whatever lambda. The wiggle is there to be seen: near 1 mm g
 * grows only 0.25 % over half a wavelength, so the force falls by about 1.2 % of M once a period,
 * and f = 1 % finds events. A floor of 2 a g(1 mm) = 0.008 N (every fall is below M - F_i <=
 * 2 a g_i) silences them again. */
START_TEST(wiggle_is_no_puncture)
{
  const double k = 4e5, a = 0.01, lambda = 5 * UM, h = 0.25 * UM;
  curve c = curve_new(4096);
  for (int i = 0; i <= 4000; ++i) {
    const double d = i * h;
    add(&c, i * 1e-4, d, k * d * d * (1 + a * sin(2 * M_PI * d / lambda)));
  }
  const double end = c.t[c.n - 1];
  pp_force_curve_metrics m = analyse(&c, end, end, NULL);
  ck_assert_int_eq(m.event_count, 0);
  ck_assert_int_eq(m.punctured, 0);
  ck_assert_double_le(m.max_insertion_force, 0.4 * (1 + a));
  ck_assert_double_ge(m.max_insertion_force, 0.4 * (1 - a));

  pp_force_curve_options fine = {0.01, 0};
  m = analyse(&c, end, end, &fine);
  ck_assert_int_gt(m.event_count, 10);
  fine.drop_minimum = 2 * a * k * 1e-3 * 1e-3;
  m = analyse(&c, end, end, &fine);
  ck_assert_int_eq(m.event_count, 0);
  curve_free(&c);
}
END_TEST

/* ---- withdrawal ------------------------------------------------------------------------------------- */

/* Insertion F = 20 N/m x d to D = 1 mm (i = 0 .. 100, h = 10 um, dt = 10 ms), five dwell samples at D
 * relaxing to +0.01 N (a 50 % fall: an event if dwell counted as insertion, and a positive force
 * in the withdrawal mean if it counted as withdrawal), then withdrawal at 2 h per sample with F = -f0,
 * f0 = 5 mN, friction pulling the needle in.
 * (a) Cut short at D / 2 (j = 0 .. 25, all in the skin): mean = minimum = -f0 over 26 samples;
 *     work = integral of F dd = (-f0)(D/2 - D) = f0 D / 2 = 2.5e-6 J; travel D / 2.
 * (b) Out to 100 um above the surface (j = 0 .. 55, d = (100 - 2 j) h), F = -f0 while d > 0 and 0 from
 *     d = 0 (j = 50) on: 50 samples in the skin, mean = minimum = -f0; work = 49 intervals of
 *     (-f0)(-2 h) + the trapezoid from d = 2 h (-f0) to 0 (0 N), (-f0 / 2)(-2 h) = f0 h, then 0:
 *     f0 (98 h + h) = 99 f0 h = 4.95e-6 J; travel D + 100 um = 1.1 mm. */
static void build_withdrawal(curve *c, int steps, double *insertion_end, double *withdrawal_start)
{
  const double h = 10 * UM, dt = 1e-2, f0 = 5e-3;
  c->n = 0;
  for (int i = 0; i <= 100; ++i) add(c, i * dt, i * h, 20 * (i * h));
  *insertion_end = c->t[100];
  for (int j = 1; j <= 5; ++j) add(c, (100 + j) * dt, 100 * h, 0.02 - 0.002 * j);
  *withdrawal_start = 106 * dt;
  for (int j = 0; j <= steps; ++j) {
    const double d = (100 - 2 * j) * h;
    add(c, (106 + j) * dt, d, d > 0 ? -f0 : 0);
  }
}

START_TEST(withdrawal_at_constant_friction)
{
  const double f0 = 5e-3;
  double insertion_end, withdrawal_start;
  curve c = curve_new(256);

  build_withdrawal(&c, 25, &insertion_end, &withdrawal_start);
  pp_force_curve_metrics m = analyse(&c, insertion_end, withdrawal_start, NULL);
  ck_assert_int_eq(m.event_count, 0);
  check_close(m.full_depth_force, 0.02, 1e-14, "force at full depth");
  ck_assert_uint_eq(m.withdrawal_samples, 26);
  ck_assert_uint_eq(m.withdrawal_samples_in_skin, 26);
  check_close(m.withdrawal_mean_force, -f0, 1e-14, "(a) mean withdrawal force");
  ck_assert_double_eq(m.withdrawal_min_force, -f0);
  check_close(m.withdrawal_friction_work, 2.5e-6, 1e-13, "(a) withdrawal work");
  check_close(m.withdrawal_travel, 0.5e-3, 1e-13, "(a) withdrawal travel");

  build_withdrawal(&c, 55, &insertion_end, &withdrawal_start);
  m = analyse(&c, insertion_end, withdrawal_start, NULL);
  ck_assert_uint_eq(m.withdrawal_samples, 56);
  ck_assert_uint_eq(m.withdrawal_samples_in_skin, 50);
  check_close(m.withdrawal_mean_force, -f0, 1e-14, "(b) mean withdrawal force");
  ck_assert_double_eq(m.withdrawal_min_force, -f0);
  check_close(m.withdrawal_friction_work, 4.95e-6, 1e-13, "(b) withdrawal work");
  check_close(m.withdrawal_travel, 1.1e-3, 1e-13, "(b) withdrawal travel");
  curve_free(&c);
}
END_TEST

/* ---- bad input -------------------------------------------------------------------------------------- */

/* Each call must fail with PP_ERR_ARGUMENT, a message containing expected, and metrics untouched. */
static void refused(const double *t, const double *d, const double *f, size_t n, double insertion_end,
                    double withdrawal_start, const pp_force_curve_options *options, const char *expected)
{
  pp_force_curve_metrics m;
  memset(&m, 0, sizeof m);
  m.event_count = 12345;
  pp_err err = pp_force_curve_analyse(t, d, f, n, insertion_end, withdrawal_start, options, &m);
  ck_assert_msg(err == PP_ERR_ARGUMENT, "expected an argument error with \"%s\", got %d", expected, err);
  ck_assert_msg(strstr(pp_error_message(), expected) != NULL, "message \"%s\" lacks \"%s\"", pp_error_message(),
                expected);
  ck_assert_int_eq(m.event_count, 12345);
  pp_error_clear();
}

START_TEST(bad_input_is_refused)
{
  const double t[3] = {0, 1, 2}, d[3] = {0, 1e-4, 2e-4}, f[3] = {0, 0.01, 0.02};
  pp_force_curve_metrics m;
  ck_assert_int_eq(pp_force_curve_analyse(t, d, f, 3, 2, 2, NULL, &m), PP_OK); /* the base is good */

  refused(t, d, f, 1, 2, 2, NULL, "1 samples, expected at least 2");
  refused(NULL, d, f, 3, 2, 2, NULL, "NULL sample array (time NULL, depth given, force given)");
  ck_assert_int_eq(pp_force_curve_analyse(t, d, f, 3, 2, 2, NULL, NULL), PP_ERR_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "NULL metrics"));
  pp_error_clear();

  const double t_equal[3] = {0, 1, 1}, t_back[3] = {0, 2, 1};
  refused(t_equal, d, f, 3, 1, 1, NULL, "time 1 s of sample 2 is not after 1 s of sample 1");
  refused(t_back, d, f, 3, 1, 1, NULL, "time 1 s of sample 2 is not after 2 s of sample 1");

  const double t_nan[3] = {0, NAN, 2}, d_inf[3] = {0, 1e-4, INFINITY}, f_nan[3] = {0, NAN, 0.02};
  refused(t_nan, d, f, 3, 2, 2, NULL, "time of sample 1 is nan");
  refused(t, d_inf, f, 3, 2, 2, NULL, "tip depth of sample 2 (t = 2 s) is inf");
  refused(t, d, f_nan, 3, 2, 2, NULL, "axial force of sample 1 (t = 1 s) is nan");

  refused(t, d, f, 3, 2, 1, NULL, "insertion_end 2 s is after withdrawal_start 1 s");
  refused(t, d, f, 3, -1, 1, NULL, "insertion_end -1 s is before the first sample");
  refused(t, d, f, 3, NAN, 1, NULL, "expected finite phase times");

  pp_force_curve_options o = pp_force_curve_default_options();
  ck_assert_double_eq(o.drop_fraction, 0.1);
  ck_assert_double_eq(o.drop_minimum, 0);
  o.drop_fraction = 0;
  refused(t, d, f, 3, 2, 2, &o, "drop_fraction 0, expected more than 0 and less than 1");
  o.drop_fraction = 1;
  refused(t, d, f, 3, 2, 2, &o, "drop_fraction 1,");
  o.drop_fraction = NAN;
  refused(t, d, f, 3, 2, 2, &o, "drop_fraction nan,");
  o.drop_fraction = 0.1;
  o.drop_minimum = -1e-3;
  refused(t, d, f, 3, 2, 2, &o, "drop_minimum -0.001 N");
  o.drop_minimum = INFINITY;
  refused(t, d, f, 3, 2, 2, &o, "drop_minimum inf N");
}
END_TEST

/* Too small a text: an error saying how much is needed, and an empty text (never a cut JSON). */
START_TEST(json_needs_room)
{
  const double t[3] = {0, 1, 2}, d[3] = {0, 1e-4, 2e-4}, f[3] = {0, 0.01, 0.02};
  pp_force_curve_metrics m;
  ck_assert_int_eq(pp_force_curve_analyse(t, d, f, 3, 2, 2, NULL, &m), PP_OK);
  char json[512];
  ck_assert_int_eq(pp_force_curve_json(&m, json, sizeof json), PP_OK);
  const size_t needed = strlen(json) + 1;
  char small[64];
  memset(small, 'x', sizeof small);
  ck_assert_int_eq(pp_force_curve_json(&m, small, sizeof small), PP_ERR_ARGUMENT);
  ck_assert_str_eq(small, "");
  char expected[96];
  snprintf(expected, sizeof expected, "64 bytes of text, %zu needed", needed);
  ck_assert_msg(strstr(pp_error_message(), expected) != NULL, "%s", pp_error_message());
  pp_error_clear();
  /* Exactly enough room is enough. */
  char *exact = malloc(needed);
  ck_assert_ptr_nonnull(exact);
  ck_assert_int_eq(pp_force_curve_json(&m, exact, needed), PP_OK);
  ck_assert_str_eq(exact, json);
  free(exact);
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("force_curve");
  TCase *events = tcase_create("events");
  tcase_add_test(events, one_puncture_by_hand);
  tcase_add_test(events, two_layers_by_hand);
  tcase_add_test(events, more_events_than_stored);
  tcase_add_test(events, no_puncture);
  tcase_add_test(events, wiggle_is_no_puncture);
  suite_add_tcase(suite, events);
  TCase *withdrawal = tcase_create("withdrawal");
  tcase_add_test(withdrawal, withdrawal_at_constant_friction);
  suite_add_tcase(suite, withdrawal);
  TCase *input = tcase_create("input");
  tcase_add_test(input, bad_input_is_refused);
  tcase_add_test(input, json_needs_room);
  suite_add_tcase(suite, input);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
