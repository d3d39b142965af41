/* host/element: the hex8 mean-dilatation element's forces are the exact gradient of its energy
 * (central differences), they vanish and the energy is zero under a rigid rotation and
 * translation (objectivity: no spurious stress, so no hourglass energy to report), they sum to
 * zero, and under a homogeneous uniaxial stretch with the lateral stretch of the compressible
 * reference (host/material, PHYSICS.md V1) the +x face carries P_xx A0 = t^2 sigma_xx A0 and the
 * lateral faces none — the one-element V1 static check. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "element.h"
#include "material.h"

/* A distorted reference hex (not a box) of about 10 um. */
static void distorted(double X[24])
{
  const double h = 10e-6;
  for (int c = 0; c < 8; ++c)
    for (int d = 0; d < 3; ++d) X[3 * c + d] = h * pp_hex_corner_bit(c, d) + 1e-6 * sin(3.0 * c + 1.7 * d);
}

static pp_material law(pp_material_model model, double alpha, double ratio)
{
  pp_material m = {model, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.1e6, model == PP_MATERIAL_OGDEN ? alpha : 2.0,
                   ratio * 0.1e6, 1100};
  return m;
}

static void check_gradient(pp_material m)
{
  double X[24], u[24], f[24], energy = 0;
  distorted(X);
  for (int k = 0; k < 24; ++k) u[k] = 1.5e-6 * cos(1.3 * k);
  ck_assert(pp_hex8_internal_force(&m, X, u, f, &energy) > 0);
  double scale = 0;
  for (int k = 0; k < 24; ++k) scale = fmax(scale, fabs(f[k]));
  const double h = 1e-11;
  for (int k = 0; k < 24; ++k) {
    double up[24], down[24], fp[24], ep = 0, ed = 0;
    memcpy(up, u, sizeof up);
    memcpy(down, u, sizeof down);
    up[k] += h;
    down[k] -= h;
    pp_hex8_internal_force(&m, X, up, fp, &ep);
    pp_hex8_internal_force(&m, X, down, fp, &ed);
    double derivative = (ep - ed) / (2 * h);
    ck_assert_msg(fabs(derivative - f[k]) < 1e-6 * scale, "model %d, dof %d: dE/du %.9g, force %.9g", (int)m.model,
                  k, derivative, f[k]);
  }
}

START_TEST(test_force_is_energy_gradient)
{
  check_gradient(law(PP_MATERIAL_NEO_HOOKEAN, 2, 50));
  check_gradient(law(PP_MATERIAL_OGDEN, 12, 50));
  check_gradient(law(PP_MATERIAL_OGDEN, 12, 500));
}
END_TEST

START_TEST(test_rigid_motion)
{
  const double R[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1}, shift[3] = {3e-6, -2e-6, 5e-6};
  pp_material laws[] = {law(PP_MATERIAL_NEO_HOOKEAN, 2, 500), law(PP_MATERIAL_OGDEN, 12, 50)};
  double X[24], u[24], f[24], energy = 1;
  distorted(X);
  for (int c = 0; c < 8; ++c)
    for (int i = 0; i < 3; ++i) {
      double x = shift[i];
      for (int j = 0; j < 3; ++j) x += R[3 * i + j] * X[3 * c + j];
      u[3 * c + i] = x - X[3 * c + i];
    }
  for (int i = 0; i < 2; ++i) {
    /* A force scale: mu times a face area. */
    const double scale = laws[i].shear_modulus * 1e-10;
    ck_assert_double_eq_tol(pp_hex8_internal_force(&laws[i], X, u, f, &energy), 1.0, 1e-12);
    for (int k = 0; k < 24; ++k) ck_assert_msg(fabs(f[k]) < 1e-10 * scale, "f[%d] = %.3g", k, f[k]);
    ck_assert_msg(fabs(energy) < 1e-10 * laws[i].shear_modulus * 1e-15, "energy %.3g after a rotation", energy);
  }
}
END_TEST

START_TEST(test_uniaxial_element)
{
  pp_material laws[] = {law(PP_MATERIAL_NEO_HOOKEAN, 2, 50), law(PP_MATERIAL_NEO_HOOKEAN, 2, 500),
                        law(PP_MATERIAL_OGDEN, 12, 50), law(PP_MATERIAL_OGDEN, 12, 500)};
  const double h = 10e-6, stretch = 1.5;
  for (size_t i = 0; i < sizeof laws / sizeof laws[0]; ++i) {
    double lateral = 0, axial = 0, X[24], u[24], f[24], energy = 0;
    ck_assert_int_eq(pp_material_uniaxial(&laws[i], stretch, &lateral, &axial), PP_OK);
    for (int c = 0; c < 8; ++c)
      for (int d = 0; d < 3; ++d) {
        X[3 * c + d] = h * pp_hex_corner_bit(c, d);
        u[3 * c + d] = X[3 * c + d] * ((d == 0 ? stretch : lateral) - 1);
      }
    double J_bar = pp_hex8_internal_force(&laws[i], X, u, f, &energy);
    ck_assert_double_eq_tol(J_bar, stretch * lateral * lateral, 1e-14);
    double face_x = 0, sum[3] = {0, 0, 0};
    for (int c = 0; c < 8; ++c) {
      if (pp_hex_corner_bit(c, 0)) face_x += f[3 * c];
      for (int d = 0; d < 3; ++d) sum[d] += f[3 * c + d];
      /* traction-free lateral faces: the y and z forces of every node vanish */
      ck_assert_msg(fabs(f[3 * c + 1]) < 1e-9 * fabs(axial) * h * h && fabs(f[3 * c + 2]) < 1e-9 * fabs(axial) * h * h,
                    "law %zu: lateral nodal force %.3g, %.3g", i, f[3 * c + 1], f[3 * c + 2]);
    }
    const double expected = lateral * lateral * axial * h * h; /* P_xx A0 */
    ck_assert_msg(fabs(face_x - expected) < 1e-10 * expected, "law %zu: +x face force %.12g, expected %.12g", i, face_x,
                  expected);
    for (int d = 0; d < 3; ++d) ck_assert(fabs(sum[d]) < 1e-12 * expected);
  }
}
END_TEST

START_TEST(test_volume_and_inversion)
{
  double X[24], u[24] = {0}, f[24], energy = 0;
  for (int c = 0; c < 8; ++c)
    for (int d = 0; d < 3; ++d) X[3 * c + d] = (d + 1) * 1e-6 * pp_hex_corner_bit(c, d);
  ck_assert_double_eq_tol(pp_hex8_volume(X), 6e-18, 1e-30);
  pp_material m = law(PP_MATERIAL_NEO_HOOKEAN, 2, 50);
  u[3 * 6 + 2] = -5e-6; /* push a top corner far through the bottom face: inverted */
  ck_assert_double_eq(pp_hex8_internal_force(&m, X, u, f, &energy), 0);
  for (int k = 0; k < 24; ++k) ck_assert_double_eq(f[k], 0);
}
END_TEST

/* The critical step of explicit central differences is 2 / sqrt(lambda_max(M^-1 K)) (the
 * stability limit of the leapfrog scheme, e.g. Belytschko, Liu and Moran, Nonlinear Finite
 * Elements, section 6.3), K the tangent stiffness at the current state u0. Power iteration on
 * M^-1 K of one free element (lumped mass rho V / 8 per corner, K v from central differences of
 * the forces about u0), 3000 iterations: the Rayleigh quotient approaches lambda_max from below,
 * so its last change is printed as the iteration's error. A single element's limit bounds a
 * mesh's from above (element eigenvalue inequality), so an estimate below it is what is needed. */
static double critical_step(const pp_material *m, const double X[24], const double u0[24])
{
  double v[24], w[24], energy = 0, mass[8];
  const double volume = pp_hex8_volume(X);
  for (int c = 0; c < 8; ++c) mass[c] = m->density * volume / 8;
  for (int k = 0; k < 24; ++k) v[k] = cos(0.7 * k + 0.3);
  double lambda = 0, previous = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    double norm = 0;
    for (int k = 0; k < 24; ++k) norm += v[k] * v[k];
    norm = sqrt(norm);
    const double h = 1e-9 * 10e-6;
    double up[24], down[24], fp[24], fd[24];
    for (int k = 0; k < 24; ++k) {
      v[k] /= norm;
      up[k] = u0[k] + h * v[k];
      down[k] = u0[k] - h * v[k];
    }
    pp_hex8_internal_force(m, X, up, fp, &energy);
    pp_hex8_internal_force(m, X, down, fd, &energy);
    double dot = 0;
    for (int k = 0; k < 24; ++k) {
      w[k] = (fp[k] - fd[k]) / (2 * h) / mass[k / 3];
      dot += w[k] * v[k] * mass[k / 3];
    }
    double mass_norm = 0; /* Rayleigh quotient in the mass inner product */
    for (int k = 0; k < 24; ++k) mass_norm += v[k] * v[k] * mass[k / 3];
    previous = lambda;
    lambda = dot / mass_norm;
    memcpy(v, w, sizeof v);
  }
  ck_assert_msg(fabs(lambda - previous) < 1e-6 * lambda, "power iteration not converged: %g -> %g", previous, lambda);
  return 2 / sqrt(lambda);
}

/* u = (F - I) X for a homogeneous deformation gradient F */
static void homogeneous(const double F[9], const double X[24], double u[24])
{
  for (int c = 0; c < 8; ++c)
    for (int i = 0; i < 3; ++i) {
      double sum = 0;
      for (int j = 0; j < 3; ++j) sum += (F[3 * i + j] - (i == j)) * X[3 * c + j];
      u[3 * c + i] = sum;
    }
}

START_TEST(test_stable_step_bound)
{
  pp_material laws[] = {law(PP_MATERIAL_NEO_HOOKEAN, 2, 50), law(PP_MATERIAL_OGDEN, 12, 500),
                        law(PP_MATERIAL_OGDEN, 9, 50)};
  double box[24], skewed[24];
  for (int c = 0; c < 8; ++c)
    for (int d = 0; d < 3; ++d) box[3 * c + d] = (d == 2 ? 5e-6 : 10e-6) * pp_hex_corner_bit(c, d);
  distorted(skewed);
  const double *shapes[] = {box, skewed};
  /* The reference state, and the large strains the solver meets: uniaxial stretch 1.5 and 3, the
   * wall of a spherical cavity opened to hoop stretch 2.5 and 4 (radial 1/lambda^2, along x or z),
   * a 20 % dilatation, a 20 % compression, simple shear 1. */
  enum { STATES = 9 };
  const char *names[STATES] = {"reference", "uniaxial 1.5", "uniaxial 3", "cavity wall 2.5 (x)", "cavity wall 4 (x)",
                               "cavity wall 4 (z)", "dilatation 1.2", "compression 0.8", "shear 1"};
  double Fs[STATES][9];
  for (int s = 0; s < STATES; ++s)
    for (int k = 0; k < 9; ++k) Fs[s][k] = k % 4 == 0;
  const double stretches[2] = {1.5, 3};
  for (int s = 0; s < 2; ++s) {
    Fs[1 + s][0] = stretches[s];
    Fs[1 + s][4] = Fs[1 + s][8] = 1 / sqrt(stretches[s]);
  }
  Fs[3][0] = 1 / 6.25, Fs[3][4] = Fs[3][8] = 2.5;
  Fs[4][0] = 1 / 16.0, Fs[4][4] = Fs[4][8] = 4;
  Fs[5][8] = 1 / 16.0, Fs[5][0] = Fs[5][4] = 4;
  for (int k = 0; k < 9; k += 4) Fs[6][k] = cbrt(1.2), Fs[7][k] = cbrt(0.8);
  Fs[8][1] = 1;
  double lowest = 1, highest = 0;
  for (int i = 0; i < 3; ++i)
    for (int shape = 0; shape < 2; ++shape)
      for (int s = 0; s < STATES; ++s) {
        double u[24];
        homogeneous(Fs[s], shapes[shape], u);
        const double estimate = pp_hex8_stable_step(&laws[i], shapes[shape], u);
        const double limit = critical_step(&laws[i], shapes[shape], u), ratio = estimate / limit;
        printf("stable step: law %d, %s, %s: estimate %.4g s, power-iteration limit %.4g s (ratio %.3f)\n", i,
               shape ? "distorted" : "box", names[s], estimate, limit, ratio);
        ck_assert_msg(ratio < 1, "law %d shape %d %s: estimate %.4g above the limit %.4g", i, shape, names[s], estimate,
                      limit);
        lowest = fmin(lowest, ratio);
        highest = fmax(highest, ratio);
        if (s == 0) /* small strain: the Flanagan-Belytschko bound is tight (measured 0.987-0.999) */
          ck_assert_msg(ratio > 0.9, "law %d shape %d: reference estimate only %.3f of the limit", i, shape, ratio);
      }
  printf("stable step over all states: estimate / limit %.3f - %.3f\n", lowest, highest);
  /* Conservative, but not so much that large-strain runs crawl: the cost of a run is 1/ratio. */
  ck_assert_msg(lowest > 0.2, "an estimate is only %.3f of the limit", lowest);
  /* A cube of side h: h / (sqrt(3) c) exactly. */
  double cube[24], zero[24] = {0};
  for (int c = 0; c < 8; ++c)
    for (int d = 0; d < 3; ++d) cube[3 * c + d] = 10e-6 * pp_hex_corner_bit(c, d);
  const double wave = sqrt(pp_material_p_wave_modulus(&laws[0]) / laws[0].density);
  ck_assert_double_eq_tol(pp_hex8_stable_step(&laws[0], cube, zero), 10e-6 / (sqrt(3.0) * wave), 1e-12 * 10e-6 / wave);
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("element");
  TCase *tc = tcase_create("hex8");
  tcase_add_test(tc, test_force_is_energy_gradient);
  tcase_add_test(tc, test_rigid_motion);
  tcase_add_test(tc, test_uniaxial_element);
  tcase_add_test(tc, test_volume_and_inversion);
  tcase_add_test(tc, test_stable_step_bound);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
