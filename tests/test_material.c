/* host/material: the hyperelastic laws of PHYSICS.md section 2.2 and V1's compressible uniaxial
 * reference (PHYSICS.md section 10), checked against independent facts:
 *  - S = 2 dW/dC (central differences of the energy, a separate code path from the stress);
 *  - Ogden with alpha = 2 is the neo-Hookean law (two separate code paths: spectral vs closed form);
 *  - the stored mu is the initial shear modulus for both laws (small simple shear, the definition;
 *    PHYSICS.md 2.2: "initial shear modulus = mu" in the Shergold/Fleck/Abaqus convention), and
 *    Ogden's original notation converts by mu = mu_p alpha / 2;
 *  - small-strain uniaxial stress: Young's modulus E = 9 kappa mu / (3 kappa + mu) and Poisson's
 *    ratio nu = (3 kappa - 2 mu) / (2 (3 kappa + mu)) (linear elasticity);
 *  - the compressible uniaxial solution has zero lateral Cauchy stress when evaluated through the
 *    full tensor path, and tends to the incompressible closed forms (neo-Hookean mu (l^2 - 1/l),
 *    Ogden (2 mu/alpha)(l^alpha - l^(-alpha/2)), PHYSICS.md 2.2 / 10) as kappa/mu grows, with an
 *    O(mu/kappa) difference at kappa/mu = 50;
 *  - objectivity: a rigid rotation leaves S and the principal Cauchy stresses unchanged and rotates
 *    sigma (V1's rotation check, 1e-10). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "material.h"

static pp_material law(pp_material_model model, double mu, double alpha, double ratio)
{
  pp_material m = {model, PP_OGDEN_INITIAL_SHEAR_MODULUS, mu, model == PP_MATERIAL_OGDEN ? alpha : 2.0, ratio * mu,
                   1100};
  return m;
}

/* A general deformation gradient with det F > 0 (stretch, shear and rotation mixed). */
static const double F_general[9] = {1.31, 0.12, -0.07, 0.05, 0.88, 0.21, -0.11, 0.09, 1.07};

static double max_abs(const double *a, int n)
{
  double m = 0;
  for (int i = 0; i < n; ++i) m = fmax(m, fabs(a[i]));
  return m;
}

static void transpose_times(const double A[9], const double B[9], double out[9]) /* A^T B */
{
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      out[3 * i + j] = 0;
      for (int k = 0; k < 3; ++k) out[3 * i + j] += A[3 * k + i] * B[3 * k + j];
    }
}

static void times(const double A[9], const double B[9], double out[9])
{
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      out[3 * i + j] = 0;
      for (int k = 0; k < 3; ++k) out[3 * i + j] += A[3 * i + k] * B[3 * k + j];
    }
}

/* U = C^(1/2), so that W(U) is the energy of C. */
static void stretch_of(const double C[9], double U[9])
{
  double c[3], V[9];
  pp_material_symmetric_eigen(C, c, V);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      U[3 * i + j] = 0;
      for (int k = 0; k < 3; ++k) U[3 * i + j] += V[3 * i + k] * sqrt(c[k]) * V[3 * j + k];
    }
}

static void check_pk2_is_energy_derivative(pp_material m)
{
  double C[9], S[9];
  transpose_times(F_general, F_general, C);
  pp_material_pk2(&m, C, S);
  const double scale = max_abs(S, 9), h = 1e-6;
  for (int i = 0; i < 3; ++i)
    for (int j = i; j < 3; ++j) {
      double plus[9], minus[9], U[9];
      memcpy(plus, C, sizeof plus);
      memcpy(minus, C, sizeof minus);
      plus[3 * i + j] += h;
      minus[3 * i + j] -= h;
      if (i != j) {
        plus[3 * j + i] += h;
        minus[3 * j + i] -= h;
      }
      stretch_of(plus, U);
      double w_plus = pp_material_energy(&m, U);
      stretch_of(minus, U);
      double w_minus = pp_material_energy(&m, U);
      /* dW = S:dC / 2: an off-diagonal pair moves both S_ij terms */
      double derivative = (w_plus - w_minus) / (2 * h), expected = i == j ? 0.5 * S[3 * i + j] : S[3 * i + j];
      ck_assert_msg(fabs(derivative - expected) < 1e-7 * scale, "model %d: dW/dC_%d%d = %.12g, S gives %.12g",
                    (int)m.model, i, j, derivative, expected);
    }
}

START_TEST(test_pk2_is_energy_derivative)
{
  check_pk2_is_energy_derivative(law(PP_MATERIAL_NEO_HOOKEAN, 0.507e6, 2, 24.7));
  check_pk2_is_energy_derivative(law(PP_MATERIAL_OGDEN, 0.1e6, 12, 50));
  check_pk2_is_energy_derivative(law(PP_MATERIAL_OGDEN, 0.1e6, 7.5, 500));
}
END_TEST

START_TEST(test_ogden_alpha_2_is_neo_hookean)
{
  pp_material nh = law(PP_MATERIAL_NEO_HOOKEAN, 0.3e6, 2, 50), og = law(PP_MATERIAL_OGDEN, 0.3e6, 2, 50);
  double C[9], S_nh[9], S_og[9];
  transpose_times(F_general, F_general, C);
  pp_material_pk2(&nh, C, S_nh);
  pp_material_pk2(&og, C, S_og);
  for (int k = 0; k < 9; ++k) ck_assert_double_eq_tol(S_og[k], S_nh[k], 1e-12 * max_abs(S_nh, 9));
  ck_assert_double_eq_tol(pp_material_energy(&og, F_general), pp_material_energy(&nh, F_general),
                          1e-12 * fabs(pp_material_energy(&nh, F_general)));
}
END_TEST

START_TEST(test_initial_shear_modulus_and_conventions)
{
  const double gamma = 1e-6, F[9] = {1, gamma, 0, 0, 1, 0, 0, 0, 1};
  pp_material laws[] = {law(PP_MATERIAL_NEO_HOOKEAN, 6.9e6, 2, 9.67), law(PP_MATERIAL_OGDEN, 0.1e6, 12, 50),
                        law(PP_MATERIAL_OGDEN, 0.4e6, 14, 500)};
  for (size_t i = 0; i < sizeof laws / sizeof laws[0]; ++i) {
    double sigma[9];
    pp_material_cauchy(&laws[i], F, sigma);
    ck_assert_msg(fabs(sigma[1] / gamma - laws[i].shear_modulus) < 1e-5 * laws[i].shear_modulus,
                  "law %zu: sigma_xy / gamma = %.9g, mu = %.9g", i, sigma[1] / gamma, laws[i].shear_modulus);
  }
  /* Ogden's original notation: W = (mu_p/alpha) sum(lbar^alpha - 1), shear modulus mu_p alpha / 2. */
  const double mu_p = 20e3, alpha = 12;
  pp_material converted = pp_material_ogden_from_original(mu_p, alpha, 5e6, 1100);
  ck_assert_double_eq_tol(converted.shear_modulus, mu_p * alpha / 2, 1e-9);
  const double Fi[9] = {1.2, 0, 0, 0, 0.95, 0, 0, 0, 0.9}, J = 1.2 * 0.95 * 0.9, scale = cbrt(1 / J);
  double original = mu_p / alpha *
                      (pow(1.2 * scale, alpha) + pow(0.95 * scale, alpha) + pow(0.9 * scale, alpha) - 3) +
                    0.5 * 5e6 * (J - 1) * (J - 1);
  ck_assert_double_eq_tol(pp_material_energy(&converted, Fi), original, 1e-12 * original);
}
END_TEST

START_TEST(test_small_strain_uniaxial)
{
  pp_material laws[] = {law(PP_MATERIAL_NEO_HOOKEAN, 0.507e6, 2, 24.7), law(PP_MATERIAL_OGDEN, 0.1e6, 12, 50)};
  for (size_t i = 0; i < 2; ++i) {
    const double strain = 1e-7;
    double lateral = 0, axial = 0;
    ck_assert_int_eq(pp_material_uniaxial(&laws[i], 1 + strain, &lateral, &axial), PP_OK);
    double E = pp_material_young(&laws[i]), nu = pp_material_poisson(&laws[i]);
    ck_assert_msg(fabs(axial / strain - E) < 1e-5 * E, "E: %.9g vs %.9g", axial / strain, E);
    ck_assert_msg(fabs((1 - lateral) / strain - nu) < 1e-5, "nu: %.9g vs %.9g", (1 - lateral) / strain, nu);
  }
}
END_TEST

START_TEST(test_uniaxial_reference)
{
  pp_material laws[] = {law(PP_MATERIAL_NEO_HOOKEAN, 0.1e6, 2, 50), law(PP_MATERIAL_NEO_HOOKEAN, 0.1e6, 2, 500),
                        law(PP_MATERIAL_OGDEN, 0.1e6, 12, 50), law(PP_MATERIAL_OGDEN, 0.1e6, 12, 500)};
  for (size_t i = 0; i < sizeof laws / sizeof laws[0]; ++i) {
    const double stretch = 1.5;
    double lateral = 0, axial = 0;
    ck_assert_int_eq(pp_material_uniaxial(&laws[i], stretch, &lateral, &axial), PP_OK);
    /* Through the full tensor path: lateral faces traction-free, the same axial stress. */
    const double F[9] = {stretch, 0, 0, 0, lateral, 0, 0, 0, lateral};
    double sigma[9];
    pp_material_cauchy(&laws[i], F, sigma);
    ck_assert_msg(fabs(sigma[4]) < 1e-9 * fabs(axial) && fabs(sigma[8]) < 1e-9 * fabs(axial),
                  "lateral Cauchy stress %.3g, %.3g (axial %.6g)", sigma[4], sigma[8], axial);
    ck_assert_double_eq_tol(sigma[0], axial, 1e-9 * fabs(axial));
    /* O(sigma/kappa) from the incompressible closed form (the volume change the stress causes):
     * between 0.1 and 10 times sigma/kappa. Measured: neo-Hookean 2.1 % (kappa/mu 50) and 0.22 %
     * (500); Ogden alpha = 12, whose stress at l = 1.5 is 22 mu, 36 % and 6.5 % (J = 1.09 and
     * 1.013): for stiffening laws the compressible reference is not a small correction. */
    double closed = pp_material_uniaxial_incompressible(&laws[i], stretch);
    double difference = fabs(axial - closed) / closed, ratio = closed / laws[i].bulk_modulus;
    ck_assert_msg(difference > 0.1 * ratio && difference < 10 * ratio,
                  "law %zu: compressible %.9g vs incompressible %.9g differ by %.3g (sigma/kappa %.3g)", i, axial,
                  closed, difference, ratio);
  }
  /* The incompressible limit: kappa/mu = 1e8 matches the closed forms to 1e-6. */
  pp_material stiff[] = {law(PP_MATERIAL_NEO_HOOKEAN, 0.1e6, 2, 1e8), law(PP_MATERIAL_OGDEN, 0.1e6, 12, 1e8)};
  for (size_t i = 0; i < 2; ++i) {
    double lateral = 0, axial = 0;
    ck_assert_int_eq(pp_material_uniaxial(&stiff[i], 1.5, &lateral, &axial), PP_OK);
    double closed = pp_material_uniaxial_incompressible(&stiff[i], 1.5);
    ck_assert_msg(fabs(axial - closed) < 1e-6 * closed, "limit: %.12g vs %.12g", axial, closed);
    ck_assert_double_eq_tol(lateral, 1 / sqrt(1.5), 1e-7);
  }
  /* First order in 1/kappa: from kappa/mu = 500 to 5000 the difference falls 5 to 20 times. */
  for (int model = 0; model < 2; ++model) {
    double difference[2];
    for (int k = 0; k < 2; ++k) {
      pp_material m = law(model ? PP_MATERIAL_OGDEN : PP_MATERIAL_NEO_HOOKEAN, 0.1e6, 12, k ? 5000 : 500);
      double lateral = 0, axial = 0;
      ck_assert_int_eq(pp_material_uniaxial(&m, 1.5, &lateral, &axial), PP_OK);
      difference[k] = fabs(axial - pp_material_uniaxial_incompressible(&m, 1.5));
    }
    ck_assert_msg(difference[0] > 5 * difference[1] && difference[0] < 20 * difference[1],
                  "model %d: differences %.4g, %.4g do not fall as 1/kappa", model, difference[0], difference[1]);
  }
  /* neo-Hookean closed form written out: mu (l^2 - 1/l). */
  ck_assert_double_eq_tol(pp_material_uniaxial_incompressible(&stiff[0], 1.5), 0.1e6 * (2.25 - 1 / 1.5), 1e-6);
}
END_TEST

START_TEST(test_rotation)
{
  const double R[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1}; /* 90 degrees about z */
  pp_material laws[] = {law(PP_MATERIAL_NEO_HOOKEAN, 0.1e6, 2, 500), law(PP_MATERIAL_OGDEN, 0.1e6, 12, 50)};
  for (size_t i = 0; i < 2; ++i) {
    double RF[9], C[9], C_rotated[9], S[9], S_rotated[9], sigma[9], sigma_rotated[9];
    times(R, F_general, RF);
    transpose_times(F_general, F_general, C);
    transpose_times(RF, RF, C_rotated);
    pp_material_pk2(&laws[i], C, S);
    pp_material_pk2(&laws[i], C_rotated, S_rotated);
    for (int k = 0; k < 9; ++k) ck_assert_double_eq_tol(S_rotated[k], S[k], 1e-10 * max_abs(S, 9));
    pp_material_cauchy(&laws[i], F_general, sigma);
    pp_material_cauchy(&laws[i], RF, sigma_rotated);
    double principal[3], principal_rotated[3], V[9], RsR[9], Rs[9];
    pp_material_symmetric_eigen(sigma, principal, V);
    pp_material_symmetric_eigen(sigma_rotated, principal_rotated, V);
    for (int a = 0; a < 3; ++a) {
      int found = 0;
      for (int b = 0; b < 3; ++b) found |= fabs(principal[a] - principal_rotated[b]) < 1e-10 * max_abs(sigma, 9);
      ck_assert_msg(found, "principal Cauchy stress %.12g not found after the rotation", principal[a]);
    }
    times(R, sigma, Rs);
    for (int r = 0; r < 3; ++r) /* R sigma R^T */
      for (int c = 0; c < 3; ++c) {
        RsR[3 * r + c] = 0;
        for (int k = 0; k < 3; ++k) RsR[3 * r + c] += Rs[3 * r + k] * R[3 * c + k];
      }
    for (int k = 0; k < 9; ++k) ck_assert_double_eq_tol(sigma_rotated[k], RsR[k], 1e-10 * max_abs(sigma, 9));
  }
}
END_TEST

/* Crack-band erosion's tensile state (pp_material_tensile_state) against closed forms. An
 * isochoric uniaxial stretch l: principal stretches (l, l^-1/2, l^-1/2). Stretched (l > 1) only the
 * first counts: W+ = (2 mu/alpha^2)(l^alpha - 1 - alpha ln l); compressed (l < 1) the two lateral
 * ones: W+ = 2 (2 mu/alpha^2)(l^-alpha/2 - 1 + alpha/2 ln l). Either way W+ <= W_dev, and the
 * remaining terms (the compressed directions') make up the rest exactly. Largest principal Cauchy
 * stress at J = 1: the deviatoric Kirchhoff stress of the one-term Ogden law, (2 mu/alpha)
 * (l_i^alpha - mean l^alpha), largest i (Ogden 1972; Holzapfel 2000, section 6.5); a pure volume
 * change adds kappa (J - 1) and no tensile energy. */
START_TEST(test_tensile_state)
{
  const pp_material laws[2] = {law(PP_MATERIAL_NEO_HOOKEAN, 0.5e6, 2, 50), law(PP_MATERIAL_OGDEN, 0.1e6, 12, 50)};
  for (int m = 0; m < 2; ++m) {
    const double mu = laws[m].shear_modulus, alpha = m == 0 ? 2 : 12, c = 2 * mu / (alpha * alpha);
    const double stretches[4] = {1.3, 1.05, 0.8, 0.6};
    for (int k = 0; k < 4; ++k) {
      const double l = stretches[k], t = 1 / sqrt(l);
      const double C[9] = {l * l, 0, 0, 0, t * t, 0, 0, 0, t * t};
      double W, sigma;
      pp_material_tensile_state(&laws[m], C, 1, &W, &sigma);
      const double expected = l > 1 ? c * (pow(l, alpha) - 1 - alpha * log(l))
                                    : 2 * c * (pow(l, -alpha / 2) - 1 + alpha / 2 * log(l));
      const double rest = l > 1 ? 2 * c * (pow(t, alpha) - 1 - alpha * log(t)) : c * (pow(l, alpha) - 1 - alpha * log(l));
      const double total = pp_material_deviatoric_energy(&laws[m], C);
      ck_assert_msg(fabs(W - expected) <= 1e-12 * total, "law %d, l = %g: W+ %.15g, expected %.15g", m, l, W, expected);
      ck_assert_msg(fabs(W + rest - total) <= 1e-12 * total, "law %d, l = %g: W+ and the rest do not add up to W_dev", m, l);
      const double high = fmax(pow(l, alpha), pow(t, alpha)), mean = (pow(l, alpha) + 2 * pow(t, alpha)) / 3;
      ck_assert_msg(fabs(sigma - 2 * mu / alpha * (high - mean)) <= 1e-12 * mu * high,
                    "law %d, l = %g: largest principal stress %.15g", m, l, sigma);
      if (l > 1) ck_assert(sigma > 0);
    }
    /* a pure volume change: no deviatoric part, the stress is the pressure */
    const double s = 1.01, C[9] = {s * s, 0, 0, 0, s * s, 0, 0, 0, s * s};
    double W, sigma;
    pp_material_tensile_state(&laws[m], C, s * s * s, &W, &sigma);
    ck_assert_msg(fabs(W) <= 1e-9 * mu, "law %d: dilatation gives W+ = %g", m, W);
    ck_assert_msg(fabs(sigma - laws[m].bulk_modulus * (s * s * s - 1)) <= 1e-9 * laws[m].bulk_modulus, "law %d: %g", m,
                  sigma);
  }
}
END_TEST

START_TEST(test_from_config)
{
  pp_config config;
  ck_assert_int_eq(pp_config_init(&config), PP_OK);
  ck_assert_int_eq(pp_config_load_text(&config, "defaults", pp_demo_case_yaml), PP_OK);
  pp_material m;
  ck_assert_int_eq(pp_material_from_config(&config, 2, &m), PP_OK); /* papillary dermis */
  ck_assert_int_eq(m.model, PP_MATERIAL_OGDEN);
  ck_assert_double_eq_tol(m.shear_modulus, 0.1e6, 1e-6);
  ck_assert_double_eq(m.ogden_alpha, 12);
  ck_assert_double_eq_tol(m.bulk_modulus, 50 * 0.1e6, 1e-3);
  ck_assert_double_eq_tol(m.density, 1100, 1e-9);
  ck_assert_int_eq(pp_material_from_config(&config, 0, &m), PP_OK); /* stratum corneum */
  ck_assert_int_eq(m.model, PP_MATERIAL_NEO_HOOKEAN);
  ck_assert_double_eq_tol(pp_material_poisson(&m), 0.45, 1e-3); /* kappa/mu = 9.67 is nu = 0.45 */
  ck_assert_int_eq(pp_material_from_config(&config, 5, &m), PP_ERR_ARGUMENT);
  pp_config_free(&config);
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("material");
  TCase *tc = tcase_create("laws");
  tcase_add_test(tc, test_pk2_is_energy_derivative);
  tcase_add_test(tc, test_ogden_alpha_2_is_neo_hookean);
  tcase_add_test(tc, test_initial_shear_modulus_and_conventions);
  tcase_add_test(tc, test_small_strain_uniaxial);
  tcase_add_test(tc, test_uniaxial_reference);
  tcase_add_test(tc, test_rotation);
  tcase_add_test(tc, test_from_config);
  tcase_add_test(tc, test_tensile_state);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
