/* healing_model: see healing_model.h for the model, the resting state and the stability sweep. */
#include "healing_model.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL double
#include "healing_rates.cl"

_Static_assert(PP_HEALING_PARAMS == HEALING_PARAMS, "healing_model.h and kernels/healing_rates.cl disagree");
_Static_assert(PP_HEALING_MAX_SPECIES == HEALING_MAX_SPECIES, "healing_model.h and kernels/healing_rates.cl disagree");
_Static_assert(PP_HEALING_MAX_STATE == HEALING_MAX_STATE, "healing_model.h and kernels/healing_rates.cl disagree");
_Static_assert(PP_HEALING_EIGEN_MAX >= PP_HEALING_MAX_STATE, "the eigen solver must take the whole Jacobian");

enum { E = PP_HEALING_EIGEN_MAX, KEY_SIZE = 96 };

/* Units the messages use (values are SI inside). */
static const double day = 86400.0;
static const double per_day = 1.0 / 86400.0;       /* 1/d in 1/s */
static const double ng_per_mL = 1e-6;              /* kg/m^3 */
static const double pg_per_cell_day = 1e-15 / 86400.0; /* kg/(cell s) */
static const double cells_per_mm3 = 1e9;          /* cells/m^3 */
static const double g_per_cm3 = 1e3;               /* kg/m^3 */
static const double mm2_per_d2 = 1e-6 / (86400.0 * 86400.0); /* m^2/s^2 */

/* ---- parameters and resting state ------------------------------------------------------------- */

static pp_err check_value(const char *key, double value, int strictly_positive, double unit, const char *unit_name)
{
  const int ok = isfinite(value) && (strictly_positive ? value > 0 : value >= 0);
  PP_CHECK(ok, PP_ERR_CONFIG, "%s must be %s (got %g %s)", key, strictly_positive ? "> 0" : ">= 0", value / unit,
           unit_name);
  return PP_OK;
}

static pp_err check_species_value(const pp_healing_species *s, const char *field, double value, int strictly_positive,
                                  double unit, const char *unit_name)
{
  char key[KEY_SIZE];
  snprintf(key, sizeof key, "healing.%s.%s", s->name, field);
  return check_value(key, value, strictly_positive, unit, unit_name);
}

static pp_err check_index(const pp_healing_params *p, const char *key, int index)
{
  PP_CHECK(index >= 0 && index < p->species_count, PP_ERR_CONFIG,
           "%s names species %d, but there are %d growth-factor species", key, index, p->species_count);
  return PP_OK;
}

static pp_err check_params(const pp_healing_params *p)
{
  PP_CHECK(p, PP_ERR_ARGUMENT, "NULL healing parameters");
  const int G = p->species_count;
  PP_CHECK(G >= 1 && G <= PP_HEALING_MAX_SPECIES, PP_ERR_CONFIG, "healing: %d growth-factor species, expected 1 to %d",
           G, PP_HEALING_MAX_SPECIES);
  for (int i = 0; i < G; ++i) {
    const pp_healing_species *s = &p->species[i];
    PP_CHECK(memchr(s->name, 0, sizeof s->name) && s->name[0], PP_ERR_ARGUMENT, "healing species %d has no name", i);
    PP_CALL(check_species_value(s, "diffusivity", s->diffusivity, 1, 1, "m2/s"));
    PP_CALL(check_species_value(s, "decay_rate", s->decay_rate, 1, per_day, "1/d"));
    PP_CALL(check_species_value(s, "basal_secretion", s->basal_secretion, 0, pg_per_cell_day, "pg/cell/d"));
    PP_CALL(check_species_value(s, "autocrine_secretion", s->autocrine_secretion, 0, pg_per_cell_day, "pg/cell/d"));
    PP_CALL(check_species_value(s, "autocrine_half_saturation", s->autocrine_half_saturation, 1, ng_per_mL, "ng/mL"));
  }
  PP_CHECK(p->layer_count >= 1 && p->layer_count <= PP_HEALING_MAX_LAYERS, PP_ERR_CONFIG,
           "healing.diffusivity_factors: %d layers, expected 1 to %d", p->layer_count, PP_HEALING_MAX_LAYERS);
  for (int l = 0; l < p->layer_count; ++l) {
    char key[KEY_SIZE];
    snprintf(key, sizeof key, "healing.diffusivity_factors[%d]", l);
    PP_CALL(check_value(key, p->layer_factor[l], 1, 1, ""));
  }
  const pp_healing_fibroblasts *f = &p->fibroblasts;
  PP_CALL(check_value("healing.fibroblasts.motility", f->motility, 0, 1, "m2/s"));
  PP_CALL(check_value("healing.fibroblasts.chemotactic_sensitivity", f->chemotactic_sensitivity, 0, 1 / ng_per_mL,
                      "m2/s per ng/mL"));
  PP_CALL(check_value("healing.fibroblasts.proliferation_rate", f->proliferation_rate, 0, per_day, "1/d"));
  PP_CALL(check_value("healing.fibroblasts.mitogen_proliferation_rate", f->mitogen_proliferation_rate, 0, per_day, "1/d"));
  PP_CALL(check_value("healing.fibroblasts.mitogen_half_saturation", f->mitogen_half_saturation, 1, ng_per_mL, "ng/mL"));
  PP_CALL(check_value("healing.fibroblasts.apoptosis_rate", f->apoptosis_rate, 0, per_day, "1/d"));
  PP_CALL(check_value("healing.fibroblasts.resting_density", f->resting_density, 1, cells_per_mm3, "cells/mm3"));
  PP_CALL(check_index(p, "healing.fibroblasts.mitogen", f->mitogen));
  PP_CALL(check_index(p, "healing.fibroblasts.chemoattractant", f->chemoattractant));
  const pp_healing_collagen *c = &p->collagen;
  PP_CALL(check_value("healing.collagen.normal_content", c->normal_content, 1, g_per_cm3, "g/cm3"));
  PP_CHECK(c->type_III_fraction >= 0 && c->type_III_fraction <= 1, PP_ERR_CONFIG,
           "healing.collagen.type_III_fraction must lie in [0, 1] (got %g)", c->type_III_fraction);
  PP_CALL(check_value("healing.collagen.maturation_rate", c->maturation_rate, 0, per_day, "1/d"));
  PP_CALL(check_value("healing.collagen.type_III_degradation_rate", c->type_III_degradation_rate, 0, per_day, "1/d"));
  PP_CALL(check_value("healing.collagen.type_I_degradation_rate", c->type_I_degradation_rate, 0, per_day, "1/d"));
  PP_CALL(check_value("healing.collagen.type_III_stimulation", c->type_III_stimulation, 0, 1, ""));
  PP_CALL(check_value("healing.collagen.type_I_stimulation", c->type_I_stimulation, 0, 1, ""));
  PP_CALL(check_value("healing.collagen.stimulus_half_saturation", c->stimulus_half_saturation, 1, ng_per_mL, "ng/mL"));
  PP_CALL(check_index(p, "healing.collagen.stimulus", c->stimulus));
  return PP_OK;
}

/* -k + Nbar sigma Ks/(Ks + g)^2: the growth factor's own reaction slope at level g (1/s). */
static double reaction_slope(const pp_healing_species *s, double Nbar, double g)
{
  const double K = s->autocrine_half_saturation;
  return -s->decay_rate + Nbar * s->autocrine_secretion * K / ((K + g) * (K + g));
}

static pp_err autocrine_refusal(const pp_healing_species *s, double Nbar, double g, const char *prefix)
{
  const double gain = reaction_slope(s, Nbar, g) + s->decay_rate;
  PP_RAISE(PP_ERR_CONFIG,
           "%sautocrine gain sigma Nbar Ks/(Ks + gbar)^2 = %.4g 1/d >= decay %.4g 1/d for %s at its resting level "
           "%.4g ng/mL: the resting growth factor would grow by itself (healing.%s.autocrine_secretion, "
           "healing.%s.autocrine_half_saturation, healing.%s.decay_rate, healing.fibroblasts.resting_density)",
           prefix, gain * day, s->decay_rate * day, s->name, g / ng_per_mL, s->name, s->name, s->name);
}

pp_err pp_healing_rest_state(const pp_healing_params *p, pp_healing_rest *rest)
{
  PP_CHECK(rest, PP_ERR_ARGUMENT, "pp_healing_rest_state: NULL rest");
  PP_CALL(check_params(p));
  memset(rest, 0, sizeof *rest);
  const double Nbar = p->fibroblasts.resting_density;
  for (int i = 0; i < p->species_count; ++i) {
    const pp_healing_species *s = &p->species[i];
    const double k = s->decay_rate, beta = s->basal_secretion, sigma = s->autocrine_secretion,
                 Ks = s->autocrine_half_saturation;
    double g = 0; /* beta = 0: the root g = 0 (the other, Nbar sigma/k - Ks, is larger when positive) */
    if (beta > 0) {
      /* k g^2 + b g + c = 0 with c < 0: one positive root, without cancellation */
      const double b = k * Ks - Nbar * (beta + sigma), c = -Nbar * beta * Ks, root = sqrt(b * b - 4 * k * c);
      g = b > 0 ? -2 * c / (b + root) : (-b + root) / (2 * k);
    }
    if (!(reaction_slope(s, Nbar, g) < 0)) return autocrine_refusal(s, Nbar, g, "healing: ");
    rest->growth_factor[i] = g;
  }
  const pp_healing_fibroblasts *f = &p->fibroblasts;
  const double gm = rest->growth_factor[f->mitogen];
  rest->proliferation = f->proliferation_rate + f->mitogen_proliferation_rate * gm / (f->mitogen_half_saturation + gm);
  PP_CHECK(rest->proliferation > f->apoptosis_rate, PP_ERR_CONFIG,
           "healing: the resting proliferation rate r0 + r1 gbar/(Kr + gbar) = %.4g 1/d (mitogen %s at %.4g ng/mL) must "
           "exceed the apoptosis rate %.4g 1/d, or fibroblasts have no resting density "
           "(healing.fibroblasts.proliferation_rate, healing.fibroblasts.mitogen_proliferation_rate, "
           "healing.fibroblasts.apoptosis_rate)",
           rest->proliferation * day, p->species[f->mitogen].name, gm / ng_per_mL, f->apoptosis_rate * day);
  rest->capacity = Nbar / (1 - f->apoptosis_rate / rest->proliferation);

  const pp_healing_collagen *c = &p->collagen;
  const double f3 = c->type_III_fraction, gs = rest->growth_factor[c->stimulus];
  const double stimulus = gs / (c->stimulus_half_saturation + gs);
  rest->type_III = f3 * c->normal_content;
  rest->type_I = (1 - f3) * c->normal_content;
  rest->type_III_synthesis = (c->maturation_rate + c->type_III_degradation_rate) * rest->type_III /
                             (Nbar * (1 + c->type_III_stimulation * stimulus));
  const double maturation_flux = c->maturation_rate * rest->type_III;
  const double type_I_loss = c->type_I_degradation_rate * rest->type_I;
  if (!(type_I_loss >= maturation_flux)) {
    const double mg_per_cm3_year = 1.0 / (365.25 * day); /* 1 kg/m^3 = 1 mg/cm^3 */
    PP_RAISE(PP_ERR_CONFIG,
             "healing: at rest the type III -> I maturation flux k31 C3bar = %.4g mg/cm3/yr exceeds the type I "
             "degradation kd1 C1bar = %.4g mg/cm3/yr, so type I synthesis would be negative: with type_III_fraction "
             "%.4g and type_I_degradation_rate %.4g 1/d the maturation rate must be <= kd1 (1 - f3)/f3 = %.4g 1/d (got "
             "%.4g 1/d) (healing.collagen.maturation_rate, healing.collagen.type_I_degradation_rate, "
             "healing.collagen.type_III_fraction)",
             maturation_flux / mg_per_cm3_year, type_I_loss / mg_per_cm3_year, f3, c->type_I_degradation_rate * day,
             c->type_I_degradation_rate * (1 - f3) / f3 * day, c->maturation_rate * day);
  }
  rest->type_I_synthesis = (type_I_loss - maturation_flux) / (Nbar * (1 + c->type_I_stimulation * stimulus));
  return PP_OK;
}

void pp_healing_pack(const pp_healing_params *p, const pp_healing_rest *rest, double flat[PP_HEALING_PARAMS])
{
  memset(flat, 0, PP_HEALING_PARAMS * sizeof *flat);
  flat[HEALING_P_SPECIES] = p->species_count;
  flat[HEALING_P_MITOGEN] = p->fibroblasts.mitogen;
  flat[HEALING_P_CHEMOATTRACTANT] = p->fibroblasts.chemoattractant;
  flat[HEALING_P_STIMULUS] = p->collagen.stimulus;
  for (int i = 0; i < HEALING_MAX_SPECIES; ++i) flat[HEALING_P_AUTOCRINE_HALF + i] = 1; /* unused slots: no 0/0 */
  for (int i = 0; i < p->species_count; ++i) {
    flat[HEALING_P_DECAY + i] = p->species[i].decay_rate;
    flat[HEALING_P_BASAL + i] = p->species[i].basal_secretion;
    flat[HEALING_P_AUTOCRINE + i] = p->species[i].autocrine_secretion;
    flat[HEALING_P_AUTOCRINE_HALF + i] = p->species[i].autocrine_half_saturation;
  }
  flat[HEALING_P_PROLIFERATION] = p->fibroblasts.proliferation_rate;
  flat[HEALING_P_MITOGEN_PROLIFERATION] = p->fibroblasts.mitogen_proliferation_rate;
  flat[HEALING_P_MITOGEN_HALF] = p->fibroblasts.mitogen_half_saturation;
  flat[HEALING_P_APOPTOSIS] = p->fibroblasts.apoptosis_rate;
  flat[HEALING_P_CAPACITY] = rest->capacity;
  flat[HEALING_P_RESTING_DENSITY] = p->fibroblasts.resting_density;
  flat[HEALING_P_TYPE_III_SYNTHESIS] = rest->type_III_synthesis;
  flat[HEALING_P_TYPE_I_SYNTHESIS] = rest->type_I_synthesis;
  flat[HEALING_P_TYPE_III_STIMULATION] = p->collagen.type_III_stimulation;
  flat[HEALING_P_TYPE_I_STIMULATION] = p->collagen.type_I_stimulation;
  flat[HEALING_P_STIMULUS_HALF] = p->collagen.stimulus_half_saturation;
  flat[HEALING_P_MATURATION] = p->collagen.maturation_rate;
  flat[HEALING_P_TYPE_III_DEGRADATION] = p->collagen.type_III_degradation_rate;
  flat[HEALING_P_TYPE_I_DEGRADATION] = p->collagen.type_I_degradation_rate;
}

int pp_healing_state_size(const pp_healing_params *p)
{
  return p->species_count + 3;
}

void pp_healing_rest_vector(const pp_healing_params *p, const pp_healing_rest *rest, double *u)
{
  const int G = p->species_count;
  for (int i = 0; i < G; ++i) u[i] = rest->growth_factor[i];
  u[G] = p->fibroblasts.resting_density;
  u[G + 1] = rest->type_III;
  u[G + 2] = rest->type_I;
}

/* ---- rates (kernels/healing_rates.cl) ---------------------------------------------------------- */

void pp_healing_rates(const double *flat, const double *u, const double *source, double *rate)
{
  healing_rates(flat, u, source, rate);
}

void pp_healing_rates_split(const double *flat, const double *u, const double *source, double *production,
                            double *loss)
{
  healing_rates_split(flat, u, source, production, loss);
}

void pp_healing_full_rates(const double *flat, const double *u, const double *source, double *rate)
{
  healing_rates(flat, u, source, rate);
  for (int i = 0; i < (int)flat[HEALING_P_SPECIES]; ++i) rate[i] -= flat[HEALING_P_DECAY + i] * u[i];
}

void pp_healing_jacobian(const double *flat, const double *u, double *J)
{
  healing_jacobian(flat, u, J);
}

/* ---- eigenvalues ------------------------------------------------------------------------------- */

/* Diagonal similarity by powers of two (exact) that brings each row's and column's off-diagonal
 * norms together (Parlett & Reinsch 1969): the healing Jacobian mixes entries from 1e-18 to 1e17
 * in SI units, and the QR iteration's errors scale with the matrix norm. */
static void balance(int n, double H[E][E])
{
  for (int pass = 0, changed = 1; changed && pass < 200; ++pass) {
    changed = 0;
    for (int i = 0; i < n; ++i) {
      double column = 0, row = 0;
      for (int j = 0; j < n; ++j)
        if (j != i) {
          column += fabs(H[j][i]);
          row += fabs(H[i][j]);
        }
      if (column == 0 || row == 0) continue;
      /* scaling row i by 1/f and column i by f makes them row/f and column f; find f = 2^e with
       * column f^2 within a factor 2 of row (c tracks column f^2) */
      double f = 1, c = column;
      while (c < row / 2) {
        f *= 2;
        c *= 4;
      }
      while (c >= row * 2) {
        f /= 2;
        c /= 4;
      }
      if ((c + row) / f < 0.95 * (column + row)) {
        changed = 1;
        for (int j = 0; j < n; ++j) H[i][j] /= f;
        for (int j = 0; j < n; ++j) H[j][i] *= f;
      }
    }
  }
}

/* Householder reduction to upper Hessenberg form (similarity, in place). */
static void hessenberg(int n, double H[E][E])
{
  for (int k = 0; k + 2 < n; ++k) {
    double scale = 0;
    for (int i = k + 1; i < n; ++i) scale += fabs(H[i][k]);
    if (scale == 0) continue;
    double v[E] = {0}, norm2 = 0;
    for (int i = k + 1; i < n; ++i) {
      v[i] = H[i][k] / scale;
      norm2 += v[i] * v[i];
    }
    const double alpha = -copysign(sqrt(norm2), v[k + 1]);
    v[k + 1] -= alpha;
    double vv = 0;
    for (int i = k + 1; i < n; ++i) vv += v[i] * v[i];
    if (vv == 0) continue;
    for (int j = k; j < n; ++j) { /* H = P H, P = I - 2 v v^T / v^T v on rows k+1.. */
      double d = 0;
      for (int i = k + 1; i < n; ++i) d += v[i] * H[i][j];
      d *= 2 / vv;
      for (int i = k + 1; i < n; ++i) H[i][j] -= d * v[i];
    }
    for (int i = 0; i < n; ++i) { /* H = H P on columns k+1.. */
      double d = 0;
      for (int j = k + 1; j < n; ++j) d += H[i][j] * v[j];
      d *= 2 / vv;
      for (int j = k + 1; j < n; ++j) H[i][j] -= d * v[j];
    }
    H[k + 1][k] = alpha * scale;
    for (int i = k + 2; i < n; ++i) H[i][k] = 0;
  }
}

/* Eigenvalues of the 2 x 2 block [[a, b], [c, d]]: d + p +- sqrt(p^2 + bc), p = (a - d)/2, the
 * smaller real one from the product so that it does not cancel. */
static void block_eigenvalues(double a, double b, double c, double d, double *re, double *im)
{
  const double p = 0.5 * (a - d), bc = b * c, discriminant = p * p + bc;
  if (discriminant >= 0) {
    const double z = p + copysign(sqrt(discriminant), p);
    re[0] = d + z;
    re[1] = z != 0 ? d - bc / z : d;
    im[0] = im[1] = 0;
  } else {
    re[0] = re[1] = d + p;
    im[0] = sqrt(-discriminant);
    im[1] = -im[0];
  }
}

/* Francis double-shift QR on the Hessenberg matrix H (destroyed): the eigenvalues only, so each
 * sweep transforms just the active window [low, high] (the deflated blocks outside it do not
 * change its eigenvalues). */
static pp_err hessenberg_eigenvalues(int n, double H[E][E], double *re, double *im)
{
  double norm = 0;
  for (int i = 0; i < n; ++i)
    for (int j = i > 0 ? i - 1 : 0; j < n; ++j) norm += fabs(H[i][j]);
  int high = n - 1, sweeps = 0;
  while (high >= 0) {
    int low = high;
    for (; low > 0; --low) { /* the lowest row of the unreduced block ending at high */
      double s = fabs(H[low - 1][low - 1]) + fabs(H[low][low]);
      if (s == 0) s = norm;
      if (fabs(H[low][low - 1]) <= DBL_EPSILON * s) {
        H[low][low - 1] = 0;
        break;
      }
    }
    if (low == high) {
      re[high] = H[high][high];
      im[high] = 0;
      --high;
      sweeps = 0;
      continue;
    }
    if (low == high - 1) {
      block_eigenvalues(H[high - 1][high - 1], H[high - 1][high], H[high][high - 1], H[high][high], re + high - 1,
                        im + high - 1);
      high -= 2;
      sweeps = 0;
      continue;
    }
    PP_CHECK(++sweeps <= 30 * n, PP_ERR_SOLVER, "QR iteration for the eigenvalues of a %d x %d matrix did not converge",
             n, n);
    /* the two shifts as their sum s and product t: the trailing 2 x 2 block's eigenvalues, or an
     * ad hoc pair every tenth sweep to break a cycle */
    double s, t;
    if (sweeps % 10 == 0) {
      const double w = fabs(H[high][high - 1]) + fabs(H[high - 1][high - 2]), centre = H[high][high] + 0.75 * w;
      s = 2 * centre;
      t = centre * centre + 0.4375 * w * w;
    } else {
      s = H[high - 1][high - 1] + H[high][high];
      t = H[high - 1][high - 1] * H[high][high] - H[high - 1][high] * H[high][high - 1];
    }
    /* first column of (H - mu1)(H - mu2) = H^2 - s H + t I, then chase the bulge down */
    double x = H[low][low] * H[low][low] + H[low][low + 1] * H[low + 1][low] - s * H[low][low] + t;
    double y = H[low + 1][low] * (H[low][low] + H[low + 1][low + 1] - s);
    double z = H[low + 1][low] * H[low + 2][low + 1];
    for (int k = low; k < high; ++k) {
      const int r = k < high - 1 ? 3 : 2;
      double v[3] = {x, y, r == 3 ? z : 0};
      const double scale = fabs(v[0]) + fabs(v[1]) + fabs(v[2]);
      if (scale > 0) {
        for (int m = 0; m < 3; ++m) v[m] /= scale;
        const double alpha = -copysign(sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]), v[0]);
        v[0] -= alpha;
        const double twice = 2 / (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for (int j = k > low ? k - 1 : low; j <= high; ++j) {
          double d = 0;
          for (int m = 0; m < r; ++m) d += v[m] * H[k + m][j];
          d *= twice;
          for (int m = 0; m < r; ++m) H[k + m][j] -= d * v[m];
        }
        const int last = k + 3 < high ? k + 3 : high;
        for (int i = low; i <= last; ++i) {
          double d = 0;
          for (int m = 0; m < r; ++m) d += H[i][k + m] * v[m];
          d *= twice;
          for (int m = 0; m < r; ++m) H[i][k + m] -= d * v[m];
        }
        if (k > low) { /* the bulge column, exactly */
          H[k][k - 1] = alpha * scale;
          H[k + 1][k - 1] = 0;
          if (r == 3) H[k + 2][k - 1] = 0;
        }
      }
      if (k < high - 1) {
        x = H[k + 1][k];
        y = H[k + 2][k];
        if (k < high - 2) z = H[k + 3][k];
      }
    }
  }
  return PP_OK;
}

pp_err pp_healing_eigenvalues(int n, const double *A, double *re, double *im)
{
  PP_CHECK(n >= 1 && n <= E, PP_ERR_ARGUMENT, "pp_healing_eigenvalues: n = %d, expected 1 to %d", n, E);
  PP_CHECK(A && re && im, PP_ERR_ARGUMENT, "pp_healing_eigenvalues: NULL argument");
  double H[E][E];
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      H[i][j] = A[i * n + j];
      PP_CHECK(isfinite(H[i][j]), PP_ERR_ARGUMENT, "pp_healing_eigenvalues: entry (%d, %d) is %g", i, j, H[i][j]);
    }
  balance(n, H);
  hessenberg(n, H);
  return hessenberg_eigenvalues(n, H, re, im);
}

static pp_err largest_real_part(int n, const double *A, double *growth)
{
  double re[E], im[E];
  PP_CALL(pp_healing_eigenvalues(n, A, re, im));
  *growth = re[0];
  for (int i = 1; i < n; ++i) *growth = fmax(*growth, re[i]);
  return PP_OK;
}

/* ---- modes ------------------------------------------------------------------------------------- */

typedef struct {
  double q;  /* squared wavenumber, 1/m^2 */
  int m[3];  /* mode indices */
} mode_entry;

static int compare_modes(const void *a, const void *b)
{
  const mode_entry *x = a, *y = b;
  if (x->q != y->q) return x->q < y->q ? -1 : 1;
  for (int d = 0; d < 3; ++d)
    if (x->m[d] != y->m[d]) return x->m[d] < y->m[d] ? -1 : 1;
  return 0;
}

/* Equal up to the round-off of summing squares computed along different paths. */
static int same_wavenumber(double a, double b)
{
  return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* Sorts and keeps the first of equal squared wavenumbers; returns the new count. */
static long long sort_unique(mode_entry *list, long long count)
{
  qsort(list, (size_t)count, sizeof *list, compare_modes);
  long long kept = 0;
  for (long long i = 0; i < count; ++i)
    if (kept == 0 || !same_wavenumber(list[i].q, list[kept - 1].q)) list[kept++] = list[i];
  return kept;
}

/* Min-heap of pairs (i, j) of two sorted lists, keyed by a[i].q + b[j].q: every sum in increasing
 * order, with memory for one list only. */
typedef struct {
  int i, j;
  double q;
} pair_entry;

static void sift_down(pair_entry *heap, long long count, long long at)
{
  for (;;) {
    long long smallest = at;
    const long long left = 2 * at + 1, right = left + 1;
    if (left < count && heap[left].q < heap[smallest].q) smallest = left;
    if (right < count && heap[right].q < heap[smallest].q) smallest = right;
    if (smallest == at) return;
    const pair_entry swap = heap[at];
    heap[at] = heap[smallest];
    heap[smallest] = swap;
    at = smallest;
  }
}

/* m_max along one side: k = step m <= pi/h. */
static long long modes_along(double length, int periodic, double h)
{
  const double ratio = periodic ? length / (2 * h) : length / h;
  return (long long)floor(ratio * (1 + 1e-12)) + 1;
}

/* ---- stability --------------------------------------------------------------------------------- */

typedef struct {
  int G, B;                     /* species; block size G + 1 */
  double base[E][E];            /* growth-factor/fibroblast block of J(rest), scaled */
  double scale[E];              /* the state scales of the block (Ks_i, Nbar) */
  double chi_entry;             /* chi Nbar scale_c / scale_n: A[n][c] per unit k^2 */
  int chemoattractant;
  double collagen_growth;       /* max(-(k31 + kd3), -kd1) */
} sweep_setup;

static pp_err block_growth(const sweep_setup *setup, const double *diffusivity, double q, double *growth)
{
  const int B = setup->B;
  double A[E * E];
  for (int a = 0; a < B; ++a)
    for (int b = 0; b < B; ++b) A[a * B + b] = setup->base[a][b];
  for (int a = 0; a < B; ++a) A[a * B + a] -= diffusivity[a] * q;
  A[(B - 1) * B + setup->chemoattractant] += setup->chi_entry * q;
  return largest_real_part(B, A, growth);
}

static void describe_mode(const pp_healing_mode *mode, char *text, size_t size)
{
  if (mode->wavenumber2 == 0) {
    snprintf(text, size, "the uniform mode (k = 0)");
    return;
  }
  snprintf(text, size, "the mode of wavelength %.4g um (|k|^2 = %.4g 1/mm^2, m = (%d, %d, %d), layer %d's diffusivity factor)",
           2 * M_PI / sqrt(mode->wavenumber2) * 1e6, mode->wavenumber2 * 1e-6, mode->index[0], mode->index[1],
           mode->index[2], mode->layer);
}

/* The refusal of an unstable set: the worst mode and what drives it. */
static pp_err instability_refusal(const pp_healing_params *p, const pp_healing_rest *rest, const double *J,
                                  const pp_healing_mode *worst)
{
  const int G = p->species_count, N = G + 3, n = G;
  const double Nbar = p->fibroblasts.resting_density;
  char where[256], prefix[400];
  describe_mode(worst, where, sizeof where);
  snprintf(prefix, sizeof prefix, "healing: the resting state is linearly unstable, %s grows at %.4g 1/d: ", where,
           worst->growth_rate * day);
  if (worst->wavenumber2 == 0) {
    for (int i = 0; i < G; ++i)
      if (!(reaction_slope(&p->species[i], Nbar, rest->growth_factor[i]) < 0))
        return autocrine_refusal(&p->species[i], Nbar, rest->growth_factor[i], prefix);
    const pp_healing_collagen *c = &p->collagen;
    if (!(c->maturation_rate + c->type_III_degradation_rate > 0 && c->type_I_degradation_rate > 0))
      PP_RAISE(PP_ERR_CONFIG,
               "%scollagen does not decay back to rest: -(k31 + kd3) = %.4g 1/d, -kd1 = %.4g 1/d must be < 0 "
               "(healing.collagen.maturation_rate, healing.collagen.type_III_degradation_rate, "
               "healing.collagen.type_I_degradation_rate)",
               prefix, -(c->maturation_rate + c->type_III_degradation_rate) * day, -c->type_I_degradation_rate * day);
    const int m = p->fibroblasts.mitogen;
    const char *name = p->species[m].name;
    PP_RAISE(PP_ERR_CONFIG,
             "%sthe mitogenic loop: fibroblasts secrete the mitogen %s at rest (dg/dn = %.4g ng/mL per 1000 cells/mm3 "
             "and day) and it raises their proliferation (dr/dg (1 - Nbar/Kcap) = %.4g 1/d per ng/mL), more than decay "
             "and crowding return (healing.%s.basal_secretion, healing.%s.autocrine_secretion, healing.%s.decay_rate, "
             "healing.fibroblasts.mitogen_proliferation_rate, healing.fibroblasts.mitogen_half_saturation, "
             "healing.fibroblasts.proliferation_rate, healing.fibroblasts.apoptosis_rate)",
             prefix, name, J[m * N + n] * 1e12 / ng_per_mL * day, J[n * N + m] / Nbar * ng_per_mL * day, name, name,
             name);
  }
  const int c = p->fibroblasts.chemoattractant;
  const pp_healing_species *s = &p->species[c];
  const double chi = p->fibroblasts.chemotactic_sensitivity, b = J[c * N + n];
  if (chi > 0 && b > 0) {
    /* the 2 x 2 Keller-Segel estimate of the chemoattractant and the fibroblasts alone */
    const double alpha = -J[c * N + c], rho = -J[n * N + n], coupling = J[n * N + c];
    const double Dg = s->diffusivity * p->layer_factor[worst->layer], Dn = p->fibroblasts.motility;
    const double determinant = fmax(alpha * rho - b * coupling, 0);
    const double damping = alpha * Dn + rho * Dg + 2 * sqrt(Dg * Dn * determinant);
    PP_RAISE(PP_ERR_CONFIG,
             "%schemotactic instability: fibroblasts secrete the chemoattractant %s at rest (basal secretion) and climb "
             "its gradient; chi Nbar dg/dn = %.4g mm^2/d^2 against the damping D_n alpha + D_g rho + "
             "2 sqrt(D_g D_n det) = %.4g mm^2/d^2 of the 2 x 2 Keller-Segel estimate "
             "(healing.fibroblasts.chemotactic_sensitivity, healing.fibroblasts.resting_density, "
             "healing.%s.basal_secretion, healing.%s.diffusivity, healing.fibroblasts.motility, "
             "healing.diffusivity_factors)",
             prefix, s->name, chi * Nbar * b / mm2_per_d2, damping / mm2_per_d2, s->name, s->name);
  }
  PP_RAISE(PP_ERR_CONFIG,
           "%sa coupled growth-factor/fibroblast mode (no mechanism identified; check the healing.* rates and "
           "healing.fibroblasts.*)",
           prefix);
}

pp_err pp_healing_stability(const pp_healing_params *p, const pp_healing_rest *rest, const pp_healing_domain *domain,
                            pp_healing_stability_report *report)
{
  PP_CHECK(rest && domain && report, PP_ERR_ARGUMENT, "pp_healing_stability: NULL argument");
  PP_CALL(check_params(p));
  memset(report, 0, sizeof *report);
  for (int d = 0; d < 3; ++d)
    PP_CHECK(isfinite(domain->length[d]) && domain->length[d] > 0 && isfinite(domain->element_size[d]) &&
                 domain->element_size[d] > 0,
             PP_ERR_ARGUMENT, "pp_healing_stability: direction %d has length %g m and element size %g m", d,
             domain->length[d], domain->element_size[d]);

  /* the Jacobian at rest, and its eigenvalues: the uniform mode */
  const int G = p->species_count, N = G + 3, B = G + 1;
  double flat[PP_HEALING_PARAMS], u[PP_HEALING_MAX_STATE], J[PP_HEALING_MAX_STATE * PP_HEALING_MAX_STATE];
  pp_healing_pack(p, rest, flat);
  pp_healing_rest_vector(p, rest, u);
  pp_healing_jacobian(flat, u, J);
  {
    double scale[PP_HEALING_MAX_STATE], A[PP_HEALING_MAX_STATE * PP_HEALING_MAX_STATE];
    for (int i = 0; i < G; ++i) scale[i] = p->species[i].autocrine_half_saturation;
    scale[G] = p->fibroblasts.resting_density;
    scale[G + 1] = scale[G + 2] = p->collagen.normal_content;
    for (int a = 0; a < N; ++a)
      for (int b = 0; b < N; ++b) A[a * N + b] = J[a * N + b] * scale[b] / scale[a];
    PP_CALL(largest_real_part(N, A, &report->uniform_growth_rate));
  }
  sweep_setup setup = {.G = G, .B = B, .chemoattractant = p->fibroblasts.chemoattractant};
  for (int i = 0; i < G; ++i) setup.scale[i] = p->species[i].autocrine_half_saturation;
  setup.scale[G] = p->fibroblasts.resting_density;
  for (int a = 0; a < B; ++a)
    for (int b = 0; b < B; ++b) setup.base[a][b] = J[a * N + b] * setup.scale[b] / setup.scale[a];
  setup.chi_entry = p->fibroblasts.chemotactic_sensitivity * p->fibroblasts.resting_density *
                    setup.scale[setup.chemoattractant] / setup.scale[G];
  report->collagen_rates[0] = -(p->collagen.maturation_rate + p->collagen.type_III_degradation_rate);
  report->collagen_rates[1] = -p->collagen.type_I_degradation_rate;
  setup.collagen_growth = fmax(report->collagen_rates[0], report->collagen_rates[1]);
  {
    const double none[E] = {0};
    double growth;
    PP_CALL(block_growth(&setup, none, 0, &growth));
    report->uniform_decay_rate = -growth;
  }

  /* layers with distinct factors, and each one's diffusivities */
  int distinct = 0, first_layer[PP_HEALING_MAX_LAYERS], layer_group[PP_HEALING_MAX_LAYERS];
  double diffusivity[PP_HEALING_MAX_LAYERS][E];
  for (int l = 0; l < p->layer_count; ++l) {
    int d = 0;
    while (d < distinct && p->layer_factor[first_layer[d]] != p->layer_factor[l]) ++d;
    if (d == distinct) {
      first_layer[distinct] = l;
      for (int i = 0; i < G; ++i) diffusivity[distinct][i] = p->species[i].diffusivity * p->layer_factor[l];
      diffusivity[distinct][G] = p->fibroblasts.motility;
      ++distinct;
    }
    layer_group[l] = d;
  }
  report->layer_count = p->layer_count;

  /* the admissible wavevectors: k_x^2 + k_y^2 (sorted, unique) and k_z^2, merged in increasing order */
  double raw = 1;
  long long count[3];
  double step[3];
  for (int d = 0; d < 3; ++d) {
    const int periodic = d < 2 && domain->periodic[d];
    const double ratio = (periodic ? domain->length[d] / 2 : domain->length[d]) / domain->element_size[d];
    PP_CHECK(ratio < 1e9, PP_ERR_CONFIG,
             "healing stability: %.3g modes along direction %d (length %g m, element size %g m) are more than the "
             "sweep examines",
             ratio, d, domain->length[d], domain->element_size[d]);
    count[d] = modes_along(domain->length[d], periodic, domain->element_size[d]);
    step[d] = (periodic ? 2 * M_PI : M_PI) / domain->length[d];
    raw *= (double)count[d];
    report->modes_per_direction[d] = (int)count[d];
  }
  PP_CHECK(raw <= (double)PP_HEALING_MAX_MODE_PAIRS, PP_ERR_CONFIG,
           "healing stability: the domain supports %.4g wavevectors (%lld x %lld x %lld), more than the sweep examines "
           "(%lld): a coarser smallest element or a smaller box",
           raw, count[0], count[1], count[2], PP_HEALING_MAX_MODE_PAIRS);
  mode_entry *lateral = NULL, *vertical = NULL;
  pair_entry *heap = NULL;
  PP_MALLOC(lateral, count[0] * count[1], "the lateral modes of the stability sweep");
  long long lateral_count = 0;
  for (int mx = 0; mx < count[0]; ++mx)
    for (int my = 0; my < count[1]; ++my) {
      const double kx = step[0] * mx, ky = step[1] * my;
      lateral[lateral_count++] = (mode_entry){kx * kx + ky * ky, {mx, my, 0}};
    }
  lateral_count = sort_unique(lateral, lateral_count);
  pp_err err = PP_OK;
  vertical = calloc((size_t)count[2], sizeof *vertical);
  heap = calloc((size_t)lateral_count, sizeof *heap);
  if (!vertical || !heap) {
    free(lateral);
    free(vertical);
    free(heap);
    PP_RAISE(PP_ERR_MEMORY, "out of memory for the %lld + %lld modes of the stability sweep", lateral_count, count[2]);
  }
  for (int mz = 0; mz < count[2]; ++mz) {
    const double kz = step[2] * mz;
    vertical[mz] = (mode_entry){kz * kz, {0, 0, mz}};
  }
  /* the heap holds (i, 0) for every lateral i: sorted, so already a heap */
  long long heap_count = lateral_count;
  for (long long i = 0; i < lateral_count; ++i) heap[i] = (pair_entry){(int)i, 0, lateral[i].q};

  pp_healing_layer_stability group[PP_HEALING_MAX_LAYERS];
  for (int d = 0; d < distinct; ++d) {
    group[d] = (pp_healing_layer_stability){.worst = {.growth_rate = -INFINITY},
                                            .worst_coupled = {.growth_rate = -INFINITY},
                                            .stable_below = -1,
                                            .stable_above = -1};
  }
  double last_q = -1;
  while (heap_count > 0) {
    const pair_entry top = heap[0];
    if (top.j + 1 < count[2]) {
      heap[0].j = top.j + 1;
      heap[0].q = lateral[top.i].q + vertical[top.j + 1].q;
    } else {
      heap[0] = heap[--heap_count];
    }
    sift_down(heap, heap_count, 0);
    if (last_q >= 0 && same_wavenumber(top.q, last_q)) continue;
    ++report->mode_count;
    for (int d = 0; d < distinct; ++d) {
      double growth;
      err = block_growth(&setup, diffusivity[d], top.q, &growth);
      if (err != PP_OK) {
        pp_error_context(err, "at |k|^2 = %g 1/m^2 (m = %d, %d, %d)", top.q, lateral[top.i].m[0], lateral[top.i].m[1],
                         top.j);
        goto done;
      }
      pp_healing_layer_stability *g = &group[d];
      const pp_healing_mode mode = {{lateral[top.i].m[0], lateral[top.i].m[1], top.j}, top.q, first_layer[d], growth};
      if (growth > g->worst_coupled.growth_rate) g->worst_coupled = mode;
      growth = fmax(growth, setup.collagen_growth);
      if (growth > g->worst.growth_rate) {
        g->worst = mode;
        g->worst.growth_rate = growth;
      }
      if (growth >= 0) {
        if (g->unstable_modes++ == 0) {
          g->unstable_min = top.q;
          g->stable_below = last_q;
        }
        g->unstable_max = top.q;
        g->stable_above = -1;
      } else if (g->unstable_modes > 0 && g->stable_above < 0) {
        g->stable_above = top.q;
      }
    }
    last_q = top.q;
  }
  report->worst.growth_rate = report->worst_coupled.growth_rate = -INFINITY;
  for (int l = 0; l < p->layer_count; ++l) {
    report->layer[l] = group[layer_group[l]];
    if (report->layer[l].worst.growth_rate > report->worst.growth_rate) report->worst = report->layer[l].worst;
    if (report->layer[l].worst_coupled.growth_rate > report->worst_coupled.growth_rate)
      report->worst_coupled = report->layer[l].worst_coupled;
  }
  report->stable = report->worst.growth_rate < 0;
done:
  free(lateral);
  free(vertical);
  free(heap);
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  if (!report->stable) return instability_refusal(p, rest, J, &report->worst);
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* From the config, and the check before a run                                                */
/* ------------------------------------------------------------------------------------------ */

static int species_index(const pp_config *config, const char *key, const pp_healing_params *p)
{
  const char *name = pp_config_text(config, key);
  for (int i = 0; i < p->species_count; ++i)
    if (!strcmp(name, p->species[i].name)) return i;
  return -1; /* the config's choice list allows only species names */
}

pp_err pp_healing_params_from_config(const pp_config *config, pp_healing_params *p)
{
  static const char *const names[2] = {"pdgf", "tgf_beta"};
  memset(p, 0, sizeof *p);
  p->species_count = 2;
  char key[96];
  for (int i = 0; i < 2; ++i) {
    pp_healing_species *s = &p->species[i];
    snprintf(s->name, sizeof s->name, "%s", names[i]);
#define SPECIES_REAL(field, stem)                                                                                  \
  (snprintf(key, sizeof key, "healing.%s." stem, names[i]), s->field = pp_config_real(config, key))
    SPECIES_REAL(diffusivity, "diffusivity");
    SPECIES_REAL(decay_rate, "decay_rate");
    SPECIES_REAL(basal_secretion, "basal_secretion");
    SPECIES_REAL(autocrine_secretion, "autocrine_secretion");
    SPECIES_REAL(autocrine_half_saturation, "autocrine_half_saturation");
#undef SPECIES_REAL
  }
  int factor_count = 0;
  const double *factors = pp_config_real_list(config, "healing.diffusivity_factors", &factor_count);
  PP_CHECK(factors && factor_count >= 1 && factor_count <= PP_HEALING_MAX_LAYERS, PP_ERR_CONFIG,
           "healing.diffusivity_factors: expected 1 to %d values, got %d", PP_HEALING_MAX_LAYERS, factor_count);
  p->layer_count = factor_count;
  for (int l = 0; l < factor_count; ++l) p->layer_factor[l] = factors[l];
  pp_healing_fibroblasts *f = &p->fibroblasts;
  f->motility = pp_config_real(config, "healing.fibroblasts.motility");
  f->chemotactic_sensitivity = pp_config_real(config, "healing.fibroblasts.chemotactic_sensitivity");
  f->proliferation_rate = pp_config_real(config, "healing.fibroblasts.proliferation_rate");
  f->mitogen_proliferation_rate = pp_config_real(config, "healing.fibroblasts.mitogen_proliferation_rate");
  f->mitogen_half_saturation = pp_config_real(config, "healing.fibroblasts.mitogen_half_saturation");
  f->apoptosis_rate = pp_config_real(config, "healing.fibroblasts.apoptosis_rate");
  f->resting_density = pp_config_real(config, "healing.fibroblasts.resting_density");
  f->mitogen = species_index(config, "healing.fibroblasts.mitogen", p);
  f->chemoattractant = species_index(config, "healing.fibroblasts.chemoattractant", p);
  pp_healing_collagen *c = &p->collagen;
  c->normal_content = pp_config_real(config, "healing.collagen.normal_content");
  c->type_III_fraction = pp_config_real(config, "healing.collagen.type_III_fraction");
  c->maturation_rate = pp_config_real(config, "healing.collagen.maturation_rate");
  c->type_III_degradation_rate = pp_config_real(config, "healing.collagen.type_III_degradation_rate");
  c->type_I_degradation_rate = pp_config_real(config, "healing.collagen.type_I_degradation_rate");
  c->type_III_stimulation = pp_config_real(config, "healing.collagen.type_III_stimulation");
  c->type_I_stimulation = pp_config_real(config, "healing.collagen.type_I_stimulation");
  c->stimulus_half_saturation = pp_config_real(config, "healing.collagen.stimulus_half_saturation");
  c->stimulus = species_index(config, "healing.collagen.stimulus", p);
  return PP_OK;
}

void pp_healing_domain_begin(pp_healing_domain *domain, double bounds[6])
{
  memset(domain, 0, sizeof *domain);
  for (int a = 0; a < 3; ++a) {
    bounds[2 * a] = INFINITY;
    bounds[2 * a + 1] = -INFINITY;
    domain->element_size[a] = INFINITY;
  }
}

void pp_healing_domain_add_element(pp_healing_domain *domain, double bounds[6], const double corners[8][3])
{
  for (int a = 0; a < 3; ++a) {
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < 8; ++k) {
      lo = fmin(lo, corners[k][a]);
      hi = fmax(hi, corners[k][a]);
    }
    bounds[2 * a] = fmin(bounds[2 * a], lo);
    bounds[2 * a + 1] = fmax(bounds[2 * a + 1], hi);
    domain->element_size[a] = fmin(domain->element_size[a], hi - lo);
  }
}

void pp_healing_domain_end(pp_healing_domain *domain, const double bounds[6], int periodic_x, int periodic_y)
{
  for (int a = 0; a < 3; ++a) domain->length[a] = bounds[2 * a + 1] - bounds[2 * a];
  domain->periodic[0] = periodic_x;
  domain->periodic[1] = periodic_y;
}

pp_err pp_healing_check_resting_state(const pp_config *config, const pp_healing_domain *domain, const char *prefix,
                                      FILE *summary)
{
  pp_healing_params params;
  pp_healing_rest rest;
  pp_healing_stability_report report;
  PP_CALL(pp_healing_params_from_config(config, &params));
  pp_err err = pp_healing_rest_state(&params, &rest);
  if (err == PP_OK) err = pp_healing_stability(&params, &rest, domain, &report);
  if (err != PP_OK)
    return pp_error_context(err, "the healing model's resting state (unwounded tissue) would not stay at rest; "
                                 "stage 2 refuses this parameter set");
  if (summary) {
    const pp_healing_mode *w = &report.worst_coupled;
    fprintf(summary,
            "%shealing model: unwounded tissue is stable over %lld modes (%d x %d x %d wavevectors up to the mesh's "
            "resolution): a uniform disturbance of growth factors and fibroblasts decays at %.4g 1/d, the least "
            "damped mode (m = %d, %d, %d, layer %d) at %.4g 1/d; collagen returns at %.3g and %.3g 1/d\n",
            prefix, report.mode_count, report.modes_per_direction[0], report.modes_per_direction[1],
            report.modes_per_direction[2], report.uniform_decay_rate * day, w->index[0], w->index[1], w->index[2],
            w->layer, -w->growth_rate * day, -report.collagen_rates[0] * day, -report.collagen_rates[1] * day);
    fprintf(summary,
            "%shealing model: resting levels pdgf %.4g ng/mL, tgf_beta %.4g ng/mL; fibroblast capacity %.4g x resting "
            "density; collagen synthesis per cell at rest: type III %.4g, type I %.4g pg/d\n",
            prefix, rest.growth_factor[0] / ng_per_mL, rest.growth_factor[1] / ng_per_mL,
            rest.capacity / params.fibroblasts.resting_density, rest.type_III_synthesis / pg_per_cell_day,
            rest.type_I_synthesis / pg_per_cell_day);
  }
  return PP_OK;
}
