/* healing_reference: see healing_reference.h. */
#include "healing_reference.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { MAX_N = PP_HEALING_MAX_STATE + 1 };

/* Dormand-Prince 5(4): nodes c, stage matrix a (row i: stages 0..i-1), the 5th-order weights are
 * the last row of a (FSAL), e = b5 - b4 the error weights. */
static const double c[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
static const double a[7][6] = {
    {0},
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
static const double e[7] = {71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

pp_err pp_reference_integrate(pp_reference_rhs rhs, void *context, int n, double t0, double t1, double *y,
                              const pp_reference_options *options, pp_reference_stats *stats)
{
  PP_CHECK(rhs && y && options && options->absolute_tolerance, PP_ERR_ARGUMENT, "pp_reference_integrate: NULL argument");
  PP_CHECK(n >= 1 && n <= MAX_N, PP_ERR_ARGUMENT, "pp_reference_integrate: n = %d", n);
  PP_CHECK(options->relative_tolerance > 0 && options->first_step > 0 && t1 >= t0, PP_ERR_ARGUMENT,
           "pp_reference_integrate: rtol %g, first step %g, from %g to %g", options->relative_tolerance,
           options->first_step, t0, t1);
  pp_reference_stats local = {0, 0, 0};
  double k[7][MAX_N], stage[MAX_N], next[MAX_N];
  double t = t0, h = options->first_step;
  int rejected_last = 0;
  rhs(t, y, k[0], context);
  ++local.evaluations;
  while (t < t1) {
    PP_CHECK(local.accepted + local.rejected < options->max_steps, PP_ERR_SOLVER,
             "reference integration: %ld steps reached at t = %g s of %g", options->max_steps, t, t1);
    if (options->max_step > 0 && h > options->max_step) h = options->max_step;
    int last = 0;
    if (t + h >= t1) {
      h = t1 - t;
      last = 1;
    }
    PP_CHECK(h > 1e-14 * fmax(fabs(t), 1), PP_ERR_SOLVER, "reference integration: step %g s underflows at t = %g s", h, t);
    for (int s = 1; s < 7; ++s) {
      for (int i = 0; i < n; ++i) {
        double sum = 0;
        for (int j = 0; j < s; ++j) sum += a[s][j] * k[j][i];
        stage[i] = y[i] + h * sum;
      }
      rhs(t + c[s] * h, stage, k[s], context);
      ++local.evaluations;
      if (s == 6) memcpy(next, stage, (size_t)n * sizeof *next); /* the 6th row of a is b5 */
    }
    double error = 0;
    for (int i = 0; i < n; ++i) {
      double estimate = 0;
      for (int s = 0; s < 7; ++s) estimate += e[s] * k[s][i];
      estimate *= h;
      const double scale = options->absolute_tolerance[i] + options->relative_tolerance * fmax(fabs(y[i]), fabs(next[i]));
      error += (estimate / scale) * (estimate / scale);
    }
    error = sqrt(error / n);
    double factor = error > 0 ? 0.9 * pow(error, -0.2) : 5;
    factor = fmin(5, fmax(0.2, factor));
    if (error <= 1) {
      t = last ? t1 : t + h;
      memcpy(y, next, (size_t)n * sizeof *y);
      memcpy(k[0], k[6], (size_t)n * sizeof k[0][0]);
      ++local.accepted;
      if (rejected_last) factor = fmin(factor, 1);
      rejected_last = 0;
    } else {
      ++local.rejected;
      rejected_last = 1;
    }
    h *= factor;
  }
  if (stats) {
    stats->accepted += local.accepted;
    stats->rejected += local.rejected;
    stats->evaluations += local.evaluations;
  }
  return PP_OK;
}

void pp_healing_well_mixed_rhs(double t, const double *y, double *dydt, void *context)
{
  const pp_healing_well_mixed *model = context;
  const int G = model->species_count;
  double source[PP_HEALING_MAX_SPECIES];
  const double pulse = exp(-t / model->release_time) / model->release_time;
  for (int i = 0; i < G; ++i) source[i] = model->release[i] * pulse;
  pp_healing_full_rates(model->flat, y, source, dydt);
}

static const double day = 86400.0;
static const double per_day = 1.0 / 86400.0;
static const double ng_per_mL = 1e-6;                  /* kg/m^3 */
static const double pg_per_cell_day = 1e-15 / 86400.0; /* kg/(cell s) */

/* PHYSICS.md 6.4's defaults: two species (PDGF-like: mitogen and chemoattractant; TGF-beta-like:
 * the collagen stimulus), D_g 1e-11 m^2/s, k_g 15/d, sigma 0.004 pg/cell/d (Jin 2011), Ks = Kr =
 * Kc = 1 ng/mL, D_n 4e-14 m^2/s, r0 0.25/d, r0 + r1 0.924/d, delta_n 0.12/d, Nbar 3e3/mm^3,
 * C 0.2 g/cm^3, f3 0.15; collagen rates chosen so that p1 >= 0 (PHYSICS.md's k31 = 1/60 1/d is
 * not: test_refusals): kd1 = ln 2/(15 years) (Verzijl 2000), kd3 = 1/60 1/d, k31 = 1e-4 1/d,
 * a3 = 30, a1 = 10. chi = 1e-12 m^2/s per ng/mL (a cell speed of ~40 um/h up a 1 ng/mL per 100 um
 * gradient). */
void pp_healing_test_default_params(pp_healing_params *p)
{
  memset(p, 0, sizeof *p);
  p->species_count = 2;
  const char *names[2] = {"pdgf", "tgf_beta"};
  for (int i = 0; i < 2; ++i) {
    pp_healing_species *s = &p->species[i];
    snprintf(s->name, sizeof s->name, "%s", names[i]);
    s->diffusivity = 1e-11;
    s->decay_rate = 15 * per_day;
    s->basal_secretion = 0;
    s->autocrine_secretion = 0.004 * pg_per_cell_day;
    s->autocrine_half_saturation = 1 * ng_per_mL;
  }
  p->layer_count = 5;
  for (int l = 0; l < 5; ++l) p->layer_factor[l] = 1;
  pp_healing_fibroblasts *f = &p->fibroblasts;
  f->motility = 4e-14;
  f->chemotactic_sensitivity = 1e-12 / ng_per_mL;
  f->proliferation_rate = 0.25 * per_day;
  f->mitogen_proliferation_rate = (0.924 - 0.25) * per_day;
  f->mitogen_half_saturation = 1 * ng_per_mL;
  f->apoptosis_rate = 0.12 * per_day;
  f->resting_density = 3e3 * 1e9;
  f->mitogen = 0;
  f->chemoattractant = 0;
  pp_healing_collagen *collagen = &p->collagen;
  collagen->normal_content = 0.2e3;
  collagen->type_III_fraction = 0.15;
  collagen->maturation_rate = 1e-4 * per_day;
  collagen->type_III_degradation_rate = per_day / 60;
  collagen->type_I_degradation_rate = log(2) / (15 * 365.25 * day);
  collagen->type_III_stimulation = 30;
  collagen->type_I_stimulation = 10;
  collagen->stimulus_half_saturation = 1 * ng_per_mL;
  collagen->stimulus = 1;
}

/* With basal secretion: PDGF at 0.0025 pg/cell/d, TGF-beta at 0.001 (rest levels ~0.9 and 0.2 ng/mL). */
void pp_healing_test_basal_params(pp_healing_params *p)
{
  pp_healing_test_default_params(p);
  p->species[0].basal_secretion = 0.0025 * pg_per_cell_day;
  p->species[1].basal_secretion = 0.001 * pg_per_cell_day;
}
