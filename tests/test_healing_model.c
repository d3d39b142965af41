/* host/healing_model and kernels/healing_rates.cl: the pointwise healing model of PHYSICS.md 6.3
 * (issue 10), checked against facts that do not share its code:
 *  - homeostasis (PHYSICS.md 6.3, "Check these relations in a unit test"): with the 6.4 defaults
 *    the rates vanish at the rest state to 1e-14 of each component's largest term, Kcap =
 *    Nbar/(1 - delta_n/r0), p3 Nbar = (k31 + kd3) C3bar and p1 Nbar + k31 C3bar = kd1 C1bar; with
 *    basal secretion the resting level solves k g = Nbar (beta + sigma g/(Ks + g));
 *  - the split form P - L u equals the rates (written term by term separately) with P, L >= 0;
 *  - the analytic Jacobian against central differences;
 *  - the eigenvalue solver against matrices with known spectra (triangular, a companion matrix of
 *    a known polynomial, a rotation block hidden by a similarity, trace and determinant of random
 *    matrices, a badly scaled similarity);
 *  - linear stability: the uniform mode's rates against their closed forms, the autocrine
 *    boundary on both sides, the Keller-Segel band against the 2 x 2 determinant condition derived
 *    below, refusals naming the config keys, the mode enumeration against an integer count;
 *  - the well-mixed kinetics by the Dormand-Prince reference (tests/healing_reference) against
 *    closed forms (a decaying species fed by an exponential pulse, logistic growth with death, the
 *    linear collagen relaxation) and, for the full model, the late return to rest at the slowest
 *    uniform rate the stability analysis reports. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "healing_model.h"
#include "healing_reference.h"

static const double day = 86400.0;
static const double per_day = 1.0 / 86400.0;
static const double ng_per_mL = 1e-6;                  /* kg/m^3 */
static const double pg_per_cell_day = 1e-15 / 86400.0; /* kg/(cell s) */

enum { N_MAX = PP_HEALING_MAX_STATE };

/* xorshift64*: reproducible uniform numbers in [0, 1). */
static double uniform(unsigned long long *state)
{
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (double)((*state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static int contains(const char *text, const char *part)
{
  return strstr(text, part) != NULL;
}

/* ---- 1. homeostasis ------------------------------------------------------------------------------ */

/* The full rates at rest vanish to 1e-14 of each component's largest term (terms written out here). */
static void check_rest_rates(const pp_healing_params *p, const pp_healing_rest *rest)
{
  double flat[PP_HEALING_PARAMS], u[N_MAX], rate[N_MAX];
  const double zero[PP_HEALING_MAX_SPECIES] = {0};
  pp_healing_pack(p, rest, flat);
  pp_healing_rest_vector(p, rest, u);
  pp_healing_full_rates(flat, u, zero, rate);
  const int G = p->species_count;
  const double Nbar = p->fibroblasts.resting_density;
  for (int i = 0; i < G; ++i) {
    const pp_healing_species *s = &p->species[i];
    const double g = rest->growth_factor[i];
    const double largest = fmax(s->decay_rate * g, Nbar * (s->basal_secretion + s->autocrine_secretion * g /
                                                                                  (s->autocrine_half_saturation + g)));
    ck_assert_msg(fabs(rate[i]) <= 1e-14 * largest, "species %d: rate %g at rest, largest term %g", i, rate[i], largest);
  }
  const double r = rest->proliferation;
  const double terms_n = fmax(r * Nbar, p->fibroblasts.apoptosis_rate * Nbar);
  ck_assert_msg(fabs(rate[G]) <= 1e-14 * terms_n, "fibroblasts: rate %g at rest, largest term %g", rate[G], terms_n);
  const pp_healing_collagen *c = &p->collagen;
  const double gs = rest->growth_factor[c->stimulus], stimulus = gs / (c->stimulus_half_saturation + gs);
  const double terms_3 = fmax(rest->type_III_synthesis * Nbar * (1 + c->type_III_stimulation * stimulus),
                              (c->maturation_rate + c->type_III_degradation_rate) * rest->type_III);
  ck_assert_msg(fabs(rate[G + 1]) <= 1e-14 * terms_3, "type III: rate %g at rest, largest term %g", rate[G + 1], terms_3);
  const double terms_1 = fmax(fmax(rest->type_I_synthesis * Nbar * (1 + c->type_I_stimulation * stimulus),
                                   c->maturation_rate * rest->type_III),
                              c->type_I_degradation_rate * rest->type_I);
  ck_assert_msg(fabs(rate[G + 2]) <= 1e-14 * terms_1, "type I: rate %g at rest, largest term %g", rate[G + 2], terms_1);
  /* the reaction part alone balances the decay */
  double reaction[N_MAX];
  pp_healing_rates(flat, u, zero, reaction);
  for (int i = 0; i < G; ++i) ck_assert_double_eq(reaction[i] - p->species[i].decay_rate * u[i], rate[i]);
}

START_TEST(test_homeostasis)
{
  pp_healing_params p;
  pp_healing_rest rest;
  pp_healing_test_default_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  const double Nbar = p.fibroblasts.resting_density, C = p.collagen.normal_content;
  const pp_healing_collagen *c = &p.collagen;
  /* beta = 0: gbar = 0, r_rest = r0, and PHYSICS.md 6.3's relations */
  ck_assert(rest.growth_factor[0] == 0 && rest.growth_factor[1] == 0);
  ck_assert_double_eq(rest.proliferation, p.fibroblasts.proliferation_rate);
  const double capacity = Nbar / (1 - p.fibroblasts.apoptosis_rate / p.fibroblasts.proliferation_rate);
  ck_assert_msg(fabs(rest.capacity - capacity) <= 1e-14 * capacity, "Kcap %.17g vs %.17g", rest.capacity, capacity);
  ck_assert_double_eq_tol(rest.capacity / Nbar, 1.923, 1e-3); /* PHYSICS.md 6.4: K_cap ~ 1.9 Nbar */
  ck_assert_double_eq_tol(rest.type_III, 0.15 * C, 1e-12 * C);
  ck_assert_double_eq_tol(rest.type_I, 0.85 * C, 1e-12 * C);
  const double lhs3 = rest.type_III_synthesis * Nbar, rhs3 = (c->maturation_rate + c->type_III_degradation_rate) * rest.type_III;
  ck_assert_msg(fabs(lhs3 - rhs3) <= 1e-14 * rhs3, "p3 Nbar %.17g vs (k31 + kd3) C3 %.17g", lhs3, rhs3);
  const double lhs1 = rest.type_I_synthesis * Nbar + c->maturation_rate * rest.type_III,
               rhs1 = c->type_I_degradation_rate * rest.type_I;
  ck_assert_msg(fabs(lhs1 - rhs1) <= 1e-14 * rhs1, "p1 Nbar + k31 C3 %.17g vs kd1 C1 %.17g", lhs1, rhs1);
  ck_assert(rest.type_I_synthesis > 0);
  printf("homeostasis (defaults): Kcap = %.4f Nbar, p3 = %.4g pg/cell/d, p1 = %.4g pg/cell/d\n", rest.capacity / Nbar,
         rest.type_III_synthesis / pg_per_cell_day, rest.type_I_synthesis / pg_per_cell_day);
  check_rest_rates(&p, &rest);

  /* with basal secretion: gbar > 0 solves k g = Nbar (beta + sigma g/(Ks + g)), the stimulus enters p1, p3 */
  pp_healing_test_basal_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  for (int i = 0; i < 2; ++i) {
    const pp_healing_species *s = &p.species[i];
    const double g = rest.growth_factor[i];
    ck_assert(g > 0);
    const double production = Nbar * (s->basal_secretion + s->autocrine_secretion * g / (s->autocrine_half_saturation + g));
    ck_assert_msg(fabs(s->decay_rate * g - production) <= 1e-14 * production, "species %d: k g %.17g, production %.17g",
                  i, s->decay_rate * g, production);
    printf("homeostasis (basal secretion): gbar_%s = %.6g ng/mL\n", s->name, g / ng_per_mL);
  }
  const double gm = rest.growth_factor[0], r_rest = p.fibroblasts.proliferation_rate +
                                                   p.fibroblasts.mitogen_proliferation_rate * gm /
                                                       (p.fibroblasts.mitogen_half_saturation + gm);
  ck_assert_double_eq_tol(rest.proliferation, r_rest, 1e-15 * r_rest);
  ck_assert_double_eq_tol(rest.capacity * (1 - p.fibroblasts.apoptosis_rate / r_rest), Nbar, 1e-14 * Nbar);
  check_rest_rates(&p, &rest);
}
END_TEST

/* ---- 2. split form ------------------------------------------------------------------------------- */

START_TEST(test_split_form)
{
  unsigned long long seed = 0x9e3779b97f4a7c15ULL;
  for (int set = 0; set < 2; ++set) {
    pp_healing_params p;
    pp_healing_rest rest;
    if (set == 0) pp_healing_test_default_params(&p);
    else pp_healing_test_basal_params(&p);
    ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
    double flat[PP_HEALING_PARAMS];
    pp_healing_pack(&p, &rest, flat);
    const int G = p.species_count, N = G + 3;
    const double Nbar = p.fibroblasts.resting_density, C = p.collagen.normal_content;
    for (int trial = 0; trial < 2000; ++trial) {
      double u[N_MAX], s[PP_HEALING_MAX_SPECIES], rate[N_MAX], P[N_MAX], L[N_MAX];
      for (int i = 0; i < G; ++i) {
        u[i] = trial < 10 ? 0 : 20 * ng_per_mL * uniform(&seed); /* the first states at g = 0 */
        s[i] = trial % 2 ? 0 : ng_per_mL / 60 * uniform(&seed);
      }
      u[G] = (trial == 1 ? 0 : 3) * Nbar * uniform(&seed);
      u[G + 1] = 2 * C * uniform(&seed);
      u[G + 2] = 2 * C * uniform(&seed);
      pp_healing_rates(flat, u, s, rate);
      pp_healing_rates_split(flat, u, s, P, L);
      for (int a = 0; a < N; ++a) {
        ck_assert_msg(P[a] >= 0 && L[a] >= 0, "set %d trial %d component %d: P %g, L %g", set, trial, a, P[a], L[a]);
        const double difference = P[a] - L[a] * u[a] - rate[a], size = P[a] + L[a] * u[a];
        ck_assert_msg(fabs(difference) <= 1e-14 * size, "set %d trial %d component %d: P - L u - rate = %g of %g", set,
                      trial, a, difference, size);
      }
      for (int i = 0; i < G; ++i) ck_assert(L[i] == 0); /* growth-factor loss is the transport's decay */
    }
  }
}
END_TEST

/* ---- 3. Jacobian --------------------------------------------------------------------------------- */

/* Analytic Jacobian against central differences, entries compared in scaled units (Ks, Nbar, C). */
static void check_jacobian(const pp_healing_params *p, const pp_healing_rest *rest, const double *u, const char *where)
{
  double flat[PP_HEALING_PARAMS], J[N_MAX * N_MAX], scale[N_MAX];
  pp_healing_pack(p, rest, flat);
  pp_healing_jacobian(flat, u, J);
  const int G = p->species_count, N = G + 3;
  for (int i = 0; i < G; ++i) scale[i] = p->species[i].autocrine_half_saturation;
  scale[G] = p->fibroblasts.resting_density;
  scale[G + 1] = scale[G + 2] = p->collagen.normal_content;
  const double source[PP_HEALING_MAX_SPECIES] = {1e-9, 2e-9, 0, 0}; /* drops out */
  double fd[N_MAX * N_MAX];
  for (int b = 0; b < N; ++b) {
    const double h = 1e-5 * scale[b];
    double up[N_MAX], down[N_MAX], f_up[N_MAX], f_down[N_MAX];
    memcpy(up, u, sizeof up);
    memcpy(down, u, sizeof down);
    up[b] += h;
    down[b] -= h;
    pp_healing_full_rates(flat, up, source, f_up);
    pp_healing_full_rates(flat, down, source, f_down);
    for (int a = 0; a < N; ++a) fd[a * N + b] = (f_up[a] - f_down[a]) / (2 * h);
  }
  double worst = 0;
  for (int a = 0; a < N; ++a) {
    double row = 0;
    for (int b = 0; b < N; ++b) row = fmax(row, fabs(J[a * N + b]) * scale[b] / scale[a]);
    for (int b = 0; b < N; ++b) {
      const double error = fabs(J[a * N + b] - fd[a * N + b]) * scale[b] / scale[a];
      worst = fmax(worst, row > 0 ? error / row : error);
      ck_assert_msg(error <= 1e-6 * row, "%s: J[%d][%d] = %.10g, central differences %.10g (row scale %g)", where, a, b,
                    J[a * N + b], fd[a * N + b], row);
    }
  }
  printf("Jacobian vs central differences (%s): worst relative difference %.2e\n", where, worst);
}

START_TEST(test_jacobian)
{
  pp_healing_params p;
  pp_healing_rest rest;
  double u[N_MAX];
  pp_healing_test_default_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  pp_healing_rest_vector(&p, &rest, u);
  check_jacobian(&p, &rest, u, "defaults at rest");
  /* a wounded state: growth factors up, fibroblasts near capacity, collagen III raised */
  const double Nbar = p.fibroblasts.resting_density;
  const double wounded[N_MAX] = {5.3 * ng_per_mL, 2.1 * ng_per_mL, 1.7 * Nbar, 1.3 * rest.type_III, 0.9 * rest.type_I};
  check_jacobian(&p, &rest, wounded, "defaults, wounded");
  pp_healing_test_basal_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  pp_healing_rest_vector(&p, &rest, u);
  check_jacobian(&p, &rest, u, "basal secretion at rest");
  /* one species that is mitogen, chemoattractant and stimulus at once */
  p.species_count = 1;
  p.collagen.stimulus = 0;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  const double single[N_MAX] = {3.1 * ng_per_mL, 0.6 * Nbar, 1.1 * rest.type_III, 1.05 * rest.type_I};
  check_jacobian(&p, &rest, single, "one species, wounded");
}
END_TEST

/* ---- 4. eigenvalues ------------------------------------------------------------------------------ */

typedef struct {
  double re, im;
} complex_value;

static int compare_complex(const void *a, const void *b)
{
  const complex_value *x = a, *y = b;
  if (x->re != y->re) return x->re < y->re ? -1 : 1;
  return (x->im > y->im) - (x->im < y->im);
}

/* Eigenvalues of A against the expected ones (any order), to tolerance * max |expected|: pairs are
 * matched greedily by distance (the sets are well separated here). */
static void check_spectrum(int n, const double *A, const complex_value *expected, double tolerance, const char *what)
{
  double re[PP_HEALING_EIGEN_MAX], im[PP_HEALING_EIGEN_MAX];
  ck_assert_int_eq(pp_healing_eigenvalues(n, A, re, im), PP_OK);
  double radius = 0;
  for (int i = 0; i < n; ++i) radius = fmax(radius, hypot(expected[i].re, expected[i].im));
  int used[PP_HEALING_EIGEN_MAX] = {0};
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    int best = -1;
    double distance = INFINITY;
    for (int j = 0; j < n; ++j)
      if (!used[j] && hypot(re[j] - expected[i].re, im[j] - expected[i].im) < distance) {
        distance = hypot(re[j] - expected[i].re, im[j] - expected[i].im);
        best = j;
      }
    used[best] = 1;
    worst = fmax(worst, distance / radius);
    ck_assert_msg(distance <= tolerance * radius, "%s: expected %.15g%+.15gi, nearest computed %.15g%+.15gi", what,
                  expected[i].re, expected[i].im, re[best], im[best]);
  }
  printf("eigenvalues (%s): worst error %.2e of the spectral radius\n", what, worst);
}

/* B = S D S^-1 for the block-diagonal D, S = I + 0.3 (uniform in [-1, 1]); S^-1 by Gauss-Jordan with
 * partial pivoting. */
static void similar(int n, const double *D, unsigned long long *seed, double *B)
{
  double S[64], inverse[64], work[64];
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      S[i * n + j] = (i == j) + 0.3 * (2 * uniform(seed) - 1);
      work[i * n + j] = S[i * n + j];
      inverse[i * n + j] = i == j;
    }
  for (int k = 0; k < n; ++k) {
    int pivot = k;
    for (int i = k + 1; i < n; ++i)
      if (fabs(work[i * n + k]) > fabs(work[pivot * n + k])) pivot = i;
    for (int j = 0; j < n; ++j) {
      double t = work[k * n + j];
      work[k * n + j] = work[pivot * n + j];
      work[pivot * n + j] = t;
      t = inverse[k * n + j];
      inverse[k * n + j] = inverse[pivot * n + j];
      inverse[pivot * n + j] = t;
    }
    const double d = work[k * n + k];
    for (int j = 0; j < n; ++j) {
      work[k * n + j] /= d;
      inverse[k * n + j] /= d;
    }
    for (int i = 0; i < n; ++i)
      if (i != k) {
        const double f = work[i * n + k];
        for (int j = 0; j < n; ++j) {
          work[i * n + j] -= f * work[k * n + j];
          inverse[i * n + j] -= f * inverse[k * n + j];
        }
      }
  }
  double SD[64];
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      SD[i * n + j] = 0;
      for (int k = 0; k < n; ++k) SD[i * n + j] += S[i * n + k] * D[k * n + j];
    }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      B[i * n + j] = 0;
      for (int k = 0; k < n; ++k) B[i * n + j] += SD[i * n + k] * inverse[k * n + j];
    }
}

/* Determinant by LU with partial pivoting. */
static double determinant(int n, const double *A)
{
  double M[64], det = 1;
  memcpy(M, A, (size_t)(n * n) * sizeof *M);
  for (int k = 0; k < n; ++k) {
    int pivot = k;
    for (int i = k + 1; i < n; ++i)
      if (fabs(M[i * n + k]) > fabs(M[pivot * n + k])) pivot = i;
    if (pivot != k) {
      det = -det;
      for (int j = 0; j < n; ++j) {
        const double t = M[k * n + j];
        M[k * n + j] = M[pivot * n + j];
        M[pivot * n + j] = t;
      }
    }
    det *= M[k * n + k];
    if (M[k * n + k] == 0) return 0;
    for (int i = k + 1; i < n; ++i) {
      const double f = M[i * n + k] / M[k * n + k];
      for (int j = k; j < n; ++j) M[i * n + j] -= f * M[k * n + j];
    }
  }
  return det;
}

START_TEST(test_eigenvalues)
{
  unsigned long long seed = 12345;
  const int n = 7;
  /* triangular: the diagonal, upper (already Schur form) and lower (balancing and Hessenberg at work) */
  const double diagonal[7] = {3, -1, 2.5, 0.25, -7, 4, 10};
  double A[64], B[64];
  complex_value expected[8];
  for (int i = 0; i < n; ++i) {
    expected[i] = (complex_value){diagonal[i], 0};
    for (int j = 0; j < n; ++j) A[i * n + j] = j > i ? 2 * uniform(&seed) - 1 : (i == j ? diagonal[i] : 0);
  }
  check_spectrum(n, A, expected, 1e-12, "upper triangular");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) B[i * n + j] = A[j * n + i];
  check_spectrum(n, B, expected, 1e-12, "lower triangular");

  /* the companion matrix of (x - 1)(x - 2)(x + 3)(x - 4)(x + 5)(x^2 - 2x + 5): roots 1, 2, -3, 4, -5, 1 +- 2i */
  const complex_value roots[7] = {{1, 0}, {2, 0}, {-3, 0}, {4, 0}, {-5, 0}, {1, 2}, {1, -2}};
  double coefficient[8] = {1, -2, 5}; /* x^2 - 2x + 5, highest power first */
  int degree = 2;
  for (int r = 0; r < 5; ++r) { /* times (x - root) */
    coefficient[degree + 1] = 0;
    for (int k = degree + 1; k >= 1; --k) coefficient[k] -= roots[r].re * coefficient[k - 1];
    ++degree;
  }
  for (int i = 0; i < n * n; ++i) A[i] = 0;
  for (int j = 0; j < n; ++j) A[j] = -coefficient[j + 1];
  for (int i = 1; i < n; ++i) A[i * n + i - 1] = 1;
  check_spectrum(n, A, roots, 1e-12, "companion matrix");
  /* the same, badly scaled by a diagonal similarity (entries from 1e-21 to 1e21, like the SI Jacobian) */
  const double exponent[7] = {-9, 12, -3, 6, 0, -6, 9};
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) B[i * n + j] = A[i * n + j] * pow(10, exponent[i] - exponent[j]);
  check_spectrum(n, B, roots, 1e-12, "companion matrix, scaled");

  /* a rotation block with a complex pair: 2 x 2 alone, then hidden in 7 x 7 by a similarity */
  const double angle = 0.7, radius = 1.5;
  const double rotation[4] = {radius * cos(angle), -radius * sin(angle), radius * sin(angle), radius * cos(angle)};
  const complex_value pair[2] = {{radius * cos(angle), radius * sin(angle)}, {radius * cos(angle), -radius * sin(angle)}};
  check_spectrum(2, rotation, pair, 1e-14, "rotation 2 x 2");
  double D[64] = {0};
  const double reals[5] = {-2, 0.5, 3, -0.75, 1.25};
  D[0] = rotation[0], D[1] = rotation[1], D[n] = rotation[2], D[n + 1] = rotation[3];
  expected[0] = pair[0];
  expected[1] = pair[1];
  for (int i = 2; i < n; ++i) {
    D[i * n + i] = reals[i - 2];
    expected[i] = (complex_value){reals[i - 2], 0};
  }
  similar(n, D, &seed, A);
  check_spectrum(n, A, expected, 1e-12, "rotation block under a similarity");

  /* random matrices of every size: sum = trace, product = determinant, complex ones in conjugate pairs */
  double worst_trace = 0, worst_det = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int m = 1 + trial % PP_HEALING_EIGEN_MAX;
    double norm = 0, trace = 0;
    for (int i = 0; i < m * m; ++i) {
      A[i] = 2 * uniform(&seed) - 1;
      norm += A[i] * A[i];
    }
    for (int i = 0; i < m; ++i) trace += A[i * m + i];
    norm = sqrt(norm);
    double re[PP_HEALING_EIGEN_MAX], im[PP_HEALING_EIGEN_MAX];
    ck_assert_int_eq(pp_healing_eigenvalues(m, A, re, im), PP_OK);
    double sum = 0, product_re = 1, product_im = 0;
    complex_value sorted[PP_HEALING_EIGEN_MAX];
    for (int i = 0; i < m; ++i) {
      sum += re[i];
      const double t = product_re * re[i] - product_im * im[i];
      product_im = product_re * im[i] + product_im * re[i];
      product_re = t;
      sorted[i] = (complex_value){re[i], im[i]};
    }
    const double det = determinant(m, A);
    worst_trace = fmax(worst_trace, fabs(sum - trace) / norm);
    worst_det = fmax(worst_det, fabs(product_re - det) / fabs(det));
    ck_assert_msg(fabs(sum - trace) <= 1e-12 * norm, "trial %d: sum %.15g, trace %.15g", trial, sum, trace);
    ck_assert_msg(fabs(product_re - det) <= 1e-12 * fabs(det) && fabs(product_im) <= 1e-12 * fabs(det),
                  "trial %d (n = %d): product %.15g%+.3gi, determinant %.15g", trial, m, product_re, product_im, det);
    qsort(sorted, (size_t)m, sizeof *sorted, compare_complex);
    for (int i = 0; i < m; ++i)
      if (sorted[i].im != 0) { /* sorted by real part then imaginary: the conjugate is next */
        ck_assert_msg(i + 1 < m && sorted[i + 1].re == sorted[i].re && sorted[i + 1].im == -sorted[i].im,
                      "trial %d: %g%+gi without its conjugate", trial, sorted[i].re, sorted[i].im);
        ++i;
      }
  }
  printf("eigenvalues (200 random matrices, n = 1..8): |sum - trace| <= %.2e |A|, |product - det| <= %.2e |det|\n",
         worst_trace, worst_det);
  /* degenerate input: a zero matrix, 1 x 1, refused sizes and entries */
  double re[8], im[8];
  for (int i = 0; i < 64; ++i) A[i] = 0;
  ck_assert_int_eq(pp_healing_eigenvalues(5, A, re, im), PP_OK);
  for (int i = 0; i < 5; ++i) ck_assert(re[i] == 0 && im[i] == 0);
  A[0] = -3;
  ck_assert_int_eq(pp_healing_eigenvalues(1, A, re, im), PP_OK);
  ck_assert(re[0] == -3 && im[0] == 0);
  ck_assert_int_eq(pp_healing_eigenvalues(9, A, re, im), PP_ERR_ARGUMENT);
  A[0] = NAN;
  ck_assert_int_eq(pp_healing_eigenvalues(1, A, re, im), PP_ERR_ARGUMENT);
  pp_error_clear();
}
END_TEST

/* ---- 5. stability -------------------------------------------------------------------------------- */

/* The default needle cell (host/demo_case.yaml): 632 um periodic sides, 4575 um deep, smallest
 * elements 8 um laterally and 5 um at the surface. */
static pp_healing_domain needle_cell(void)
{
  return (pp_healing_domain){{632e-6, 632e-6, 4575e-6}, {1, 1}, {8e-6, 8e-6, 5e-6}};
}

/* (a) The defaults are stable, and the uniform mode is known in closed form. With beta = 0 the rest
 * has gbar = 0, so dg_i/dn = beta_i + sigma_i gbar_i/(Ks_i + gbar_i) = 0: the growth-factor rows
 * have only their diagonal, -k_i + Nbar sigma_i Ks_i/(Ks_i + 0)^2 = sigma_i Nbar/Ks_i - k_i, and the
 * Jacobian is lower triangular. The fibroblast diagonal is d/dn [r0 n (1 - n/Kcap) - delta n] at
 * Nbar = r0 (1 - 2 Nbar/Kcap) - delta = r0 - 2 (r0 - delta) - delta = -(r0 - delta) (Nbar/Kcap =
 * 1 - delta/r0); the collagen ones are -(k31 + kd3 Nbar/Nbar) and -kd1. So the eigenvalues are
 * 12 - 15 = -3 1/d (twice), -0.13 1/d, -(1e-4 + 1/60) 1/d and -kd1 = -1.27e-4 1/d: the uniform
 * growth rate is -kd1 and a uniform perturbation of g and n decays at min(3, 0.13) = 0.13 1/d. The
 * block is Metzler (off-diagonals >= 0), so diffusion only lowers it: the worst mode is k = 0. */
START_TEST(test_stability_defaults)
{
  pp_healing_params p;
  pp_healing_rest rest;
  pp_healing_test_default_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  const pp_healing_domain domain = needle_cell();
  pp_healing_stability_report report;
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
  ck_assert(report.stable);
  const double Nbar = p.fibroblasts.resting_density;
  const pp_healing_species *s = &p.species[0];
  const double g_rate = s->autocrine_secretion * Nbar / s->autocrine_half_saturation - s->decay_rate;
  const double n_rate = -(p.fibroblasts.proliferation_rate - p.fibroblasts.apoptosis_rate);
  const double kd1 = p.collagen.type_I_degradation_rate;
  ck_assert_double_eq_tol(g_rate * day, -3, 1e-12);
  ck_assert_msg(fabs(report.uniform_growth_rate + kd1) <= 1e-10 * kd1, "uniform growth rate %.15g 1/d, -kd1 %.15g 1/d",
                report.uniform_growth_rate * day, -kd1 * day);
  ck_assert_msg(fabs(report.uniform_decay_rate + n_rate) <= 1e-12 * fabs(n_rate), "uniform decay %.15g 1/d, expected %.15g",
                report.uniform_decay_rate * day, -n_rate * day);
  ck_assert_double_eq(report.collagen_rates[1], -kd1);
  /* every eigenvalue of J(rest) */
  double flat[PP_HEALING_PARAMS], u[N_MAX], J[N_MAX * N_MAX];
  pp_healing_pack(&p, &rest, flat);
  pp_healing_rest_vector(&p, &rest, u);
  pp_healing_jacobian(flat, u, J);
  const complex_value expected[5] = {{g_rate, 0}, {g_rate, 0}, {n_rate, 0}, {report.collagen_rates[0], 0}, {-kd1, 0}};
  double scaled[25];
  const double scale[5] = {ng_per_mL, ng_per_mL, Nbar, 200, 200};
  for (int a = 0; a < 5; ++a)
    for (int b = 0; b < 5; ++b) scaled[a * 5 + b] = J[a * 5 + b] * scale[b] / scale[a];
  check_spectrum(5, scaled, expected, 1e-12, "J at the default rest");
  /* the worst mode is the uniform one; the enumeration covers the needle cell */
  ck_assert(report.worst.wavenumber2 == 0 && report.worst.growth_rate == report.collagen_rates[1]);
  ck_assert(report.worst_coupled.wavenumber2 == 0 && report.worst_coupled.growth_rate == -report.uniform_decay_rate);
  ck_assert_int_eq(report.modes_per_direction[0], 40); /* periodic: m <= 632/(2 x 8) = 39.5 */
  ck_assert_int_eq(report.modes_per_direction[2], 916); /* no flux: m <= 4575/5 */
  ck_assert(report.mode_count > 100000);
  for (int l = 0; l < 5; ++l) ck_assert_int_eq(report.layer[l].unstable_modes, 0);
  printf("stability (defaults, needle cell): %lld distinct |k|^2, uniform growth %.4g 1/d, uniform g/n decay %.4g 1/d\n",
         report.mode_count, report.uniform_growth_rate * day, report.uniform_decay_rate * day);

  /* beta = 0: chemotaxis cannot destabilise (dg/dn = 0 at rest breaks the loop), whatever chi */
  p.fibroblasts.chemotactic_sensitivity *= 1e6;
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
  ck_assert(report.stable && report.worst.wavenumber2 == 0);
}
END_TEST

/* (b) The autocrine boundary: with beta = 0 the growth factor's uniform eigenvalue is
 * sigma Nbar/Ks - k (above), so sigma Nbar/Ks = 0.99 k is stable and 1.01 k is refused, by the
 * rest state (the reaction is unstable at gbar = 0) and by the stability sweep given that rest. */
START_TEST(test_autocrine_boundary)
{
  pp_healing_params p;
  pp_healing_rest rest;
  pp_healing_test_default_params(&p);
  const double Nbar = p.fibroblasts.resting_density, Ks = p.species[0].autocrine_half_saturation,
               k = p.species[0].decay_rate;
  const pp_healing_domain domain = {{1e-3, 1e-3, 1e-3}, {0, 0}, {50e-6, 50e-6, 50e-6}};
  pp_healing_stability_report report;
  p.species[0].autocrine_secretion = 0.99 * k * Ks / Nbar;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
  ck_assert(report.stable);
  const pp_healing_rest stable_rest = rest;

  p.species[0].autocrine_secretion = 1.01 * k * Ks / Nbar;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  const char *message = pp_error_message();
  printf("refusal: %s\n", message);
  ck_assert(contains(message, "healing.pdgf.autocrine_secretion") && contains(message, "healing.pdgf.decay_rate") &&
            contains(message, "healing.fibroblasts.resting_density") && contains(message, "15.15 1/d"));
  pp_error_clear();
  ck_assert_int_eq(pp_healing_stability(&p, &stable_rest, &domain, &report), PP_ERR_CONFIG);
  message = pp_error_message();
  printf("refusal: %s\n", message);
  ck_assert(contains(message, "uniform mode") && contains(message, "healing.pdgf.autocrine_secretion"));
  ck_assert(!report.stable && report.worst.wavenumber2 == 0);
  ck_assert_double_eq_tol(report.worst.growth_rate, 0.01 * k, 1e-12 * k);
  pp_error_clear();
  /* the second species alone */
  pp_healing_test_default_params(&p);
  p.species[1].autocrine_secretion = 1.01 * k * Ks / Nbar;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.tgf_beta.autocrine_secretion"));
  pp_error_clear();
}
END_TEST

/* The 2 x 2 Keller-Segel analysis (c). With basal secretion of the chemoattractant c (= the
 * mitogen here) the rest has gbar > 0, and linearising about it, with perturbations ~ cos(k.x)
 * (each admissible wavevector is an eigenfunction of the Laplacian with the side conditions):
 *   d(dg)/dt = -(alpha + D_g q) dg + b dn,   d(dn)/dt = (mu + chi Nbar q) dg - (rho + D_n q) dn,
 *   alpha = k - Nbar sigma Ks/(Ks + gbar)^2, b = beta + sigma gbar/(Ks + gbar) (= k gbar/Nbar),
 *   mu = r1 Kr/(Kr + gbar)^2 Nbar (1 - Nbar/Kcap), rho = r_rest - delta_n, q = |k|^2;
 * the chemotactic term: -div(chi n grad g) ~ -chi Nbar lap(dg) = +chi Nbar q dg. The trace is
 * always negative, so the mode grows iff the determinant
 *   det(q) = D_g D_n q^2 + (alpha D_n + rho D_g - b chi Nbar) q + (alpha rho - b mu)
 * is negative: k = 0 is stable iff alpha rho > b mu, and an unstable band (q-, q+) between the
 * roots exists iff b chi Nbar > alpha D_n + rho D_g + 2 sqrt(D_g D_n (alpha rho - b mu)). The other
 * species (beta = 0: gbar = 0, no dg/dn; not the mitogen or chemoattractant) decouples. */
typedef struct {
  double alpha, b, mu, rho, Dg, Dn;
} keller_segel;

static keller_segel keller_segel_of(const pp_healing_params *p, const pp_healing_rest *rest, double layer_factor)
{
  const pp_healing_species *s = &p->species[0];
  const pp_healing_fibroblasts *f = &p->fibroblasts;
  const double g = rest->growth_factor[0], Ks = s->autocrine_half_saturation, Kr = f->mitogen_half_saturation;
  const double Nbar = f->resting_density;
  keller_segel ks;
  ks.alpha = s->decay_rate - Nbar * s->autocrine_secretion * Ks / ((Ks + g) * (Ks + g));
  ks.b = s->basal_secretion + s->autocrine_secretion * g / (Ks + g);
  const double r_rest = f->proliferation_rate + f->mitogen_proliferation_rate * g / (Kr + g);
  ks.mu = f->mitogen_proliferation_rate * Kr / ((Kr + g) * (Kr + g)) * Nbar * (f->apoptosis_rate / r_rest);
  ks.rho = r_rest - f->apoptosis_rate;
  ks.Dg = s->diffusivity * layer_factor;
  ks.Dn = f->motility;
  return ks;
}

static double critical_chi(const keller_segel *ks, double Nbar)
{
  return (ks->alpha * ks->Dn + ks->rho * ks->Dg + 2 * sqrt(ks->Dg * ks->Dn * (ks->alpha * ks->rho - ks->b * ks->mu))) /
         (ks->b * Nbar);
}

/* The larger eigenvalue of the 2 x 2 at q (real: the off-diagonals have the same sign). */
static double keller_segel_growth(const keller_segel *ks, double chi, double Nbar, double q)
{
  const double a11 = -(ks->alpha + ks->Dg * q), a22 = -(ks->rho + ks->Dn * q), a12 = ks->b, a21 = ks->mu + chi * Nbar * q;
  const double half_trace = 0.5 * (a11 + a22), det = a11 * a22 - a12 * a21;
  return half_trace + sqrt(half_trace * half_trace - det);
}

START_TEST(test_keller_segel)
{
  pp_healing_params p;
  pp_healing_rest rest;
  pp_healing_test_basal_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  const double Nbar = p.fibroblasts.resting_density;
  const keller_segel ks = keller_segel_of(&p, &rest, 1);
  ck_assert(ks.alpha * ks.rho > ks.b * ks.mu); /* k = 0 stable */
  ck_assert_double_eq_tol(ks.b, p.species[0].decay_rate * rest.growth_factor[0] / Nbar, 1e-14 * ks.b);
  const double chi_critical = critical_chi(&ks, Nbar);
  printf("Keller-Segel: gbar = %.4g ng/mL, critical chi = %.4g m^2/s per ng/mL\n", rest.growth_factor[0] / ng_per_mL,
         chi_critical * ng_per_mL);
  /* a 4 mm line: x no flux, y and z one 20 um element (their modes start at (pi/20 um)^2, far
   * above the band), so the admissible q are (pi m/L)^2 and (2 pi m/L)^2 periodic */
  const double L = 4e-3;
  pp_healing_domain domain = {{L, 20e-6, 20e-6}, {0, 0}, {20e-6, 20e-6, 20e-6}};
  pp_healing_stability_report report;

  /* chi = 0 and chi = 0.9 of critical: stable (k = 0 too) */
  p.fibroblasts.chemotactic_sensitivity = 0;
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
  ck_assert(report.stable && report.uniform_growth_rate < 0 && report.worst.wavenumber2 == 0);
  p.fibroblasts.chemotactic_sensitivity = 0.9 * chi_critical;
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
  ck_assert(report.stable);
  /* the collagen's -kd1 is every mode's largest growth rate; the coupled block's least stable mode
   * has moved off k = 0 towards the band */
  ck_assert(report.worst.wavenumber2 == 0 && report.worst.growth_rate == report.collagen_rates[1]);
  ck_assert(report.worst_coupled.wavenumber2 > 0 && report.worst_coupled.growth_rate > -report.uniform_decay_rate);

  /* chi = 3 x critical: refused, the band at finite k where det(q) < 0 */
  const double chi = 3 * chi_critical;
  p.fibroblasts.chemotactic_sensitivity = chi;
  for (int periodic = 0; periodic < 2; ++periodic) {
    domain.periodic[0] = periodic;
    ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_ERR_CONFIG);
    const char *message = pp_error_message();
    printf("refusal: %s\n", message);
    ck_assert(contains(message, "chemotactic instability") &&
              contains(message, "healing.fibroblasts.chemotactic_sensitivity") &&
              contains(message, "healing.pdgf.basal_secretion") && contains(message, "wavelength"));
    pp_error_clear();
    ck_assert(!report.stable && report.uniform_growth_rate < 0);
    const double A = ks.Dg * ks.Dn, B = ks.alpha * ks.Dn + ks.rho * ks.Dg - ks.b * chi * Nbar,
                 C = ks.alpha * ks.rho - ks.b * ks.mu;
    const double root = sqrt(B * B - 4 * A * C), q_low = 2 * C / (-B + root), q_high = (-B + root) / (2 * A);
    const double step = (periodic ? 2 : 1) * M_PI / L;
    /* the admissible q_m = (step m)^2 inside (q-, q+), and the largest analytic growth among all */
    const int m_low = (int)floor(sqrt(q_low) / step) + 1, m_high = (int)ceil(sqrt(q_high) / step) - 1;
    int m_best = 0;
    double best = -INFINITY;
    for (int m = 0; m * step <= M_PI / 20e-6 * (1 + 1e-12); ++m) {
      const double growth = keller_segel_growth(&ks, chi, Nbar, (step * m) * (step * m));
      if (growth > best) {
        best = growth;
        m_best = m;
      }
    }
    const pp_healing_layer_stability *layer = &report.layer[0];
    printf("Keller-Segel (%s x): analytic band q in (%.6g, %.6g) 1/m^2 = m in (%.4f, %.4f); found unstable %.6g to "
           "%.6g, stable neighbours %.6g and %.6g, %lld modes; worst m = %d at %.6g 1/d (analytic m = %d, %.6g 1/d)\n",
           periodic ? "periodic" : "no-flux", q_low, q_high, sqrt(q_low) / step, sqrt(q_high) / step,
           layer->unstable_min, layer->unstable_max, layer->stable_below, layer->stable_above, layer->unstable_modes,
           report.worst.index[0], report.worst.growth_rate * day, m_best, best * day);
    /* the band's edges within the mode spacing: stable_below <= q- < unstable_min, unstable_max < q+ <= stable_above */
    ck_assert(layer->stable_below <= q_low && q_low < layer->unstable_min);
    ck_assert(layer->unstable_max < q_high && q_high <= layer->stable_above);
    ck_assert_double_eq_tol(layer->unstable_min, (step * m_low) * (step * m_low), 1e-12 * layer->unstable_min);
    ck_assert_double_eq_tol(layer->unstable_max, (step * m_high) * (step * m_high), 1e-12 * layer->unstable_max);
    ck_assert_int_eq(layer->unstable_modes, m_high - m_low + 1);
    ck_assert_int_eq(report.worst.index[0], m_best);
    ck_assert_int_eq(report.worst.index[1], 0);
    ck_assert_int_eq(report.worst.index[2], 0);
    ck_assert_msg(fabs(report.worst.growth_rate - best) <= 1e-9 * best, "worst growth %.15g, analytic %.15g",
                  report.worst.growth_rate, best);
    ck_assert_int_eq(report.modes_per_direction[0], periodic ? 101 : 201);
  }
  /* periodic sides: k = 2 pi m/L, one value checked: the band's first mode above */
  ck_assert_double_eq_tol(report.layer[0].unstable_min, pow(2 * M_PI * 2 / L, 2), 1e-12 * report.layer[0].unstable_min);

  /* layers: the smallest growth-factor diffusivity factor is the least stable; equal factors share results */
  const double factors[5] = {1, 0.5, 1, 1, 0.2};
  memcpy(p.layer_factor, factors, sizeof factors);
  domain.periodic[0] = 0;
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_ERR_CONFIG);
  pp_error_clear();
  ck_assert_int_eq(report.worst.layer, 4);
  ck_assert(report.layer[4].worst.growth_rate > report.layer[1].worst.growth_rate &&
            report.layer[1].worst.growth_rate > report.layer[0].worst.growth_rate);
  ck_assert(report.layer[2].worst.growth_rate == report.layer[0].worst.growth_rate && report.layer[2].worst.layer == 0);
  ck_assert_int_eq(report.layer[3].unstable_modes, report.layer[0].unstable_modes);
  const keller_segel thin = keller_segel_of(&p, &rest, 0.2);
  ck_assert(critical_chi(&thin, Nbar) < chi_critical);
}
END_TEST

/* Distinct values of a mx^2 + b my^2 + c mz^2 (integers) for m up to the counts. */
static long long distinct_integer_sums(int a, int b, int c, int count_x, int count_y, int count_z)
{
  const int size = a * count_x * count_x + b * count_y * count_y + c * count_z * count_z + 1;
  char *seen = calloc((size_t)size, 1);
  ck_assert(seen != NULL);
  long long distinct = 0;
  for (int x = 0; x < count_x; ++x)
    for (int y = 0; y < count_y; ++y)
      for (int z = 0; z < count_z; ++z) {
        const int value = a * x * x + b * y * y + c * z * z;
        if (!seen[value]) ++distinct;
        seen[value] = 1;
      }
  free(seen);
  return distinct;
}

/* (f) The enumeration: a 100 um no-flux cube has k = pi m/100 um, so |k|^2 (pi/100 um)^2 takes the
 * distinct values of mx^2 + my^2 + mz^2 with m <= 100 um/h; periodic sides have k = 2 pi m/L,
 * i.e. 4 mx^2 + 4 my^2 + mz^2 with m <= L/(2h). */
START_TEST(test_mode_enumeration)
{
  pp_healing_params p;
  pp_healing_rest rest;
  pp_healing_test_default_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  pp_healing_stability_report report;
  long long previous = 0;
  for (int refine = 0; refine < 3; ++refine) {
    const double h = 10e-6 / (1 << refine);
    const int count = (int)lround(100e-6 / h) + 1;
    pp_healing_domain domain = {{100e-6, 100e-6, 100e-6}, {0, 0}, {h, h, h}};
    ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
    ck_assert_int_eq(report.modes_per_direction[0], count);
    const long long expected = distinct_integer_sums(1, 1, 1, count, count, count);
    ck_assert_int_eq(report.mode_count, expected);
    ck_assert(report.mode_count > previous);
    previous = report.mode_count;
    domain.periodic[0] = domain.periodic[1] = 1;
    ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
    const int half = count / 2 + 1;
    ck_assert_int_eq(report.modes_per_direction[0], half);
    ck_assert_int_eq(report.mode_count, distinct_integer_sums(4, 4, 1, half, half, count));
    printf("modes: h = %g um, no-flux cube %lld distinct |k|^2, periodic sides %lld\n", h * 1e6, expected,
           report.mode_count);
  }
  /* a bad domain, and one with too many modes */
  pp_healing_domain domain = {{100e-6, 0, 100e-6}, {0, 0}, {1e-6, 1e-6, 1e-6}};
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_ERR_ARGUMENT);
  pp_error_clear();
  domain = (pp_healing_domain){{1e-2, 1e-2, 1e-2}, {0, 0}, {1e-6, 1e-6, 1e-6}};
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "wavevectors"));
  pp_error_clear();
}
END_TEST

/* (d), (e) and parameter checks: refusals name the keys. */
START_TEST(test_refusals)
{
  pp_healing_params p;
  pp_healing_rest rest;
  /* (d) r0 <= delta_n: no resting density */
  for (int equal = 0; equal < 2; ++equal) {
    pp_healing_test_default_params(&p);
    p.fibroblasts.proliferation_rate = equal ? p.fibroblasts.apoptosis_rate : 0.1 * per_day;
    ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
    const char *message = pp_error_message();
    printf("refusal: %s\n", message);
    ck_assert(contains(message, "healing.fibroblasts.proliferation_rate") &&
              contains(message, "healing.fibroblasts.mitogen_proliferation_rate") &&
              contains(message, "healing.fibroblasts.apoptosis_rate"));
    pp_error_clear();
  }
  /* (e) p1 < 0: PHYSICS.md 6.4's k31 = 1/60 1/d with a 15-year type I half-life and f3 = 0.15 */
  pp_healing_test_default_params(&p);
  p.collagen.maturation_rate = per_day / 60;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  const char *message = pp_error_message();
  printf("refusal: %s\n", message);
  ck_assert(contains(message, "healing.collagen.maturation_rate") &&
            contains(message, "healing.collagen.type_I_degradation_rate") &&
            contains(message, "healing.collagen.type_III_fraction"));
  pp_error_clear();
  /* the largest k31 allowed, kd1 (1 - f3)/f3, is accepted with p1 ~ 0 */
  pp_healing_test_default_params(&p);
  const pp_healing_collagen *c = &p.collagen;
  p.collagen.maturation_rate = c->type_I_degradation_rate * (1 - c->type_III_fraction) / c->type_III_fraction * (1 - 1e-12);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  ck_assert(rest.type_I_synthesis >= 0 && rest.type_I_synthesis < 1e-9 * rest.type_III_synthesis);
  /* parameters out of range name their keys */
  pp_healing_test_default_params(&p);
  p.species[1].decay_rate = 0;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.tgf_beta.decay_rate"));
  pp_error_clear();
  pp_healing_test_default_params(&p);
  p.species[0].autocrine_half_saturation = -1;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.pdgf.autocrine_half_saturation"));
  pp_error_clear();
  pp_healing_test_default_params(&p);
  p.species[0].basal_secretion = NAN;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.pdgf.basal_secretion"));
  pp_error_clear();
  pp_healing_test_default_params(&p);
  p.fibroblasts.resting_density = 0;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.fibroblasts.resting_density"));
  pp_error_clear();
  pp_healing_test_default_params(&p);
  p.collagen.type_III_fraction = 1.5;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.collagen.type_III_fraction"));
  pp_error_clear();
  pp_healing_test_default_params(&p);
  p.collagen.stimulus = 2;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.collagen.stimulus"));
  pp_error_clear();
  pp_healing_test_default_params(&p);
  p.layer_factor[3] = 0;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.diffusivity_factors[3]"));
  pp_error_clear();
  /* collagen that does not decay: the uniform mode is neutral, refused by the sweep */
  pp_healing_test_default_params(&p);
  p.collagen.type_III_fraction = 0;
  p.collagen.type_I_degradation_rate = 0;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  const pp_healing_domain domain = {{1e-3, 1e-3, 1e-3}, {0, 0}, {100e-6, 100e-6, 100e-6}};
  pp_healing_stability_report report;
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_ERR_CONFIG);
  ck_assert(contains(pp_error_message(), "healing.collagen.type_I_degradation_rate"));
  ck_assert(report.uniform_growth_rate == 0 && !report.stable);
  pp_error_clear();
}
END_TEST

/* ---- 6. well-mixed kinetics ---------------------------------------------------------------------- */

static pp_reference_options reference_options(const pp_healing_params *p, double rtol, double *atol)
{
  const int G = p->species_count;
  for (int i = 0; i < G; ++i) atol[i] = rtol * 1e-3 * ng_per_mL;
  atol[G] = rtol * p->fibroblasts.resting_density;
  atol[G + 1] = atol[G + 2] = rtol * p->collagen.normal_content;
  return (pp_reference_options){rtol, atol, 1.0, 0, 10000000};
}

/* Closed forms. With sigma = beta = 0 a growth factor obeys g' = -k g + G0 e^(-t/tau)/tau, g(0) = 0:
 *   g(t) = G0 (e^(-k t) - e^(-t/tau)) / (1 - k tau).
 * With r1 = 0 the fibroblasts obey n' = r0 n (1 - n/Kcap) - delta n = rho n (1 - n/Nbar) (rho = r0 -
 * delta, since r0/Kcap = rho/Nbar): logistic, n(t) = Nbar / (1 + (Nbar/n0 - 1) e^(-rho t)).
 * With n = Nbar (r1 = 0, n0 = Nbar) and a1 = a3 = 0 the collagen is linear: with D3 = c3 - C3bar,
 * D1 = c1 - C1bar, D3' = -l3 D3 (l3 = k31 + kd3), D1' = k31 D3 - kd1 D1, so
 *   D3(t) = D3(0) e^(-l3 t),  D1(t) = A e^(-l3 t) + (D1(0) - A) e^(-kd1 t),  A = k31 D3(0)/(kd1 - l3). */
START_TEST(test_well_mixed_closed_forms)
{
  pp_healing_params p;
  pp_healing_rest rest;
  pp_healing_test_default_params(&p);
  for (int i = 0; i < 2; ++i) p.species[i].autocrine_secretion = 0;
  p.fibroblasts.mitogen_proliferation_rate = 0;
  p.collagen.type_III_stimulation = p.collagen.type_I_stimulation = 0;
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  double flat[PP_HEALING_PARAMS], atol[N_MAX];
  pp_healing_pack(&p, &rest, flat);
  pp_healing_well_mixed model = {flat, 2, {17.5 * ng_per_mL, 20 * ng_per_mL}, 600};
  const pp_reference_options options = reference_options(&p, 1e-10, atol);
  const double Nbar = p.fibroblasts.resting_density, C = p.collagen.normal_content;
  const double k = p.species[0].decay_rate, tau = model.release_time, rho = p.fibroblasts.proliferation_rate -
                                                                             p.fibroblasts.apoptosis_rate;
  const double times[] = {600, 3600, 6 * 3600, day, 3 * day, 10 * day, 30 * day, 100 * day};

  /* the pulse and the logistic recovery from a third of the resting density */
  double y[N_MAX] = {0, 0, Nbar / 3, rest.type_III, rest.type_I};
  double t = 0, worst_g = 0, worst_n = 0;
  pp_reference_stats stats = {0, 0, 0};
  for (size_t s = 0; s < sizeof times / sizeof *times; ++s) {
    ck_assert_int_eq(pp_reference_integrate(pp_healing_well_mixed_rhs, &model, 5, t, times[s], y, &options, &stats), PP_OK);
    t = times[s];
    for (int i = 0; i < 2; ++i) {
      const double G0 = model.release[i], exact = G0 * (exp(-k * t) - exp(-t / tau)) / (1 - k * tau);
      worst_g = fmax(worst_g, fabs(y[i] - exact) / G0);
      ck_assert_msg(fabs(y[i] - exact) <= 1e-8 * G0, "g_%d(%g d) = %.15g, closed form %.15g", i, t / day, y[i], exact);
    }
    const double n_exact = Nbar / (1 + 2 * exp(-rho * t));
    worst_n = fmax(worst_n, fabs(y[2] - n_exact) / Nbar);
    ck_assert_msg(fabs(y[2] - n_exact) <= 1e-8 * Nbar, "n(%g d) = %.15g, logistic %.15g", t / day, y[2], n_exact);
  }
  printf("well-mixed closed forms: pulse |g - exact| <= %.2e G0, logistic |n - exact| <= %.2e Nbar (%ld steps, %ld "
         "rejected)\n",
         worst_g, worst_n, stats.accepted, stats.rejected);

  /* the collagen relaxation at n = Nbar: type III doubled, type I 10 % short */
  const double l3 = p.collagen.maturation_rate + p.collagen.type_III_degradation_rate,
               kd1 = p.collagen.type_I_degradation_rate, k31 = p.collagen.maturation_rate;
  const double D3 = rest.type_III, D1 = -0.1 * rest.type_I, A = k31 * D3 / (kd1 - l3);
  double z[N_MAX] = {0, 0, Nbar, 2 * rest.type_III, 0.9 * rest.type_I};
  model.release[0] = model.release[1] = 0;
  t = 0;
  double worst_c = 0;
  const double collagen_times[] = {day, 30 * day, 200 * day, 1000 * day};
  for (size_t s = 0; s < sizeof collagen_times / sizeof *collagen_times; ++s) {
    ck_assert_int_eq(pp_reference_integrate(pp_healing_well_mixed_rhs, &model, 5, t, collagen_times[s], z, &options, NULL),
                     PP_OK);
    t = collagen_times[s];
    const double c3 = rest.type_III + D3 * exp(-l3 * t), c1 = rest.type_I + A * exp(-l3 * t) + (D1 - A) * exp(-kd1 * t);
    worst_c = fmax(worst_c, fmax(fabs(z[3] - c3), fabs(z[4] - c1)) / C);
    ck_assert_msg(fabs(z[3] - c3) <= 1e-8 * C && fabs(z[4] - c1) <= 1e-8 * C,
                  "collagen at %g d: %.15g, %.15g; closed form %.15g, %.15g", t / day, z[3], z[4], c3, c1);
    ck_assert_msg(fabs(z[2] - Nbar) <= 1e-9 * Nbar, "n moved from Nbar by %g of it", z[2] / Nbar - 1);
  }
  printf("well-mixed closed forms: collagen |c - exact| <= %.2e C\n", worst_c);
}
END_TEST

/* The full model after an injury pulse (defaults; fibroblasts at half their density): it returns to
 * rest, and late on n - Nbar decays at the slowest uniform rate of the g/n block that the stability
 * analysis reports (0.13 1/d, the linearisation: the perturbation is then ~1e-5 of Nbar). The
 * reference converges: rtol 1e-8 and 1e-10 agree. */
START_TEST(test_well_mixed_return_to_rest)
{
  pp_healing_params p;
  pp_healing_rest rest;
  pp_healing_test_default_params(&p);
  ck_assert_int_eq(pp_healing_rest_state(&p, &rest), PP_OK);
  const pp_healing_domain domain = {{1e-3, 1e-3, 1e-3}, {0, 0}, {100e-6, 100e-6, 100e-6}};
  pp_healing_stability_report report;
  ck_assert_int_eq(pp_healing_stability(&p, &rest, &domain, &report), PP_OK);
  double flat[PP_HEALING_PARAMS], atol[N_MAX];
  pp_healing_pack(&p, &rest, flat);
  const pp_healing_well_mixed model = {flat, 2, {17.5 * ng_per_mL, 20 * ng_per_mL}, 600};
  const double Nbar = p.fibroblasts.resting_density;
  double late[2][3]; /* per tolerance: n - Nbar at 60, 80 and 100 d */
  double peak_n = 0, peak_c3 = 0;
  for (int run = 0; run < 2; ++run) {
    const pp_reference_options options = reference_options(&p, run ? 1e-10 : 1e-8, atol);
    double y[N_MAX] = {0, 0, 0.5 * Nbar, rest.type_III, rest.type_I};
    double t = 0;
    for (int day_index = 1; day_index <= 100; ++day_index) {
      ck_assert_int_eq(
          pp_reference_integrate(pp_healing_well_mixed_rhs, (void *)&model, 5, t, day_index * day, y, &options, NULL),
          PP_OK);
      t = day_index * day;
      peak_n = fmax(peak_n, y[2]);
      peak_c3 = fmax(peak_c3, y[3]);
      if (day_index == 60 || day_index == 80 || day_index == 100) late[run][(day_index - 60) / 20] = y[2] - Nbar;
    }
    ck_assert(y[0] < 1e-12 * ng_per_mL && y[1] < 1e-12 * ng_per_mL);
  }
  for (int i = 0; i < 3; ++i)
    ck_assert_msg(fabs(late[0][i] - late[1][i]) <= 1e-6 * fabs(late[1][i]), "rtol 1e-8 vs 1e-10: %.15g vs %.15g",
                  late[0][i], late[1][i]);
  const double rate = log(late[1][1] / late[1][2]) / (20 * day);
  printf("well-mixed return to rest: peak n %.4f Nbar, peak c3 %.4f C3bar; n - Nbar = %.3g, %.3g, %.3g Nbar at 60, 80, "
         "100 d: rate %.6f 1/d (stability: %.6f 1/d)\n",
         peak_n / Nbar, peak_c3 / rest.type_III, late[1][0] / Nbar, late[1][1] / Nbar, late[1][2] / Nbar, rate * day,
         report.uniform_decay_rate * day);
  ck_assert(late[1][2] < 0 && late[1][1] < 0); /* recovering from below */
  ck_assert_msg(fabs(rate - report.uniform_decay_rate) <= 1e-3 * report.uniform_decay_rate, "late rate %.8g, expected %.8g",
                rate * day, report.uniform_decay_rate * day);
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("healing_model");
  TCase *tc = tcase_create("model");
  tcase_add_test(tc, test_homeostasis);
  tcase_add_test(tc, test_split_form);
  tcase_add_test(tc, test_jacobian);
  tcase_add_test(tc, test_eigenvalues);
  tcase_add_test(tc, test_stability_defaults);
  tcase_add_test(tc, test_autocrine_boundary);
  tcase_add_test(tc, test_keller_segel);
  tcase_add_test(tc, test_mode_enumeration);
  tcase_add_test(tc, test_refusals);
  tcase_add_test(tc, test_well_mixed_closed_forms);
  tcase_add_test(tc, test_well_mixed_return_to_rest);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
