/* material: hyperelastic laws on the host (see material.h). */
#include "material.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const layer_stems[5] = {"stratum_corneum", "viable_epidermis", "papillary_dermis",
                                           "reticular_dermis", "hypodermis"};

pp_err pp_material_from_config(const pp_config *config, int layer, pp_material *m)
{
  PP_CHECK(layer >= 0 && layer < 5, PP_ERR_ARGUMENT, "material of layer %d: layers are 0 to 4", layer);
  char path[128];
  memset(m, 0, sizeof *m);
  snprintf(path, sizeof path, "skin.%s.material", layer_stems[layer]);
  m->model = strcmp(pp_config_text(config, path), "ogden") == 0 ? PP_MATERIAL_OGDEN : PP_MATERIAL_NEO_HOOKEAN;
  m->convention = PP_OGDEN_INITIAL_SHEAR_MODULUS;
  snprintf(path, sizeof path, "skin.%s.shear_modulus", layer_stems[layer]);
  m->shear_modulus = pp_config_real(config, path);
  snprintf(path, sizeof path, "skin.%s.ogden_alpha", layer_stems[layer]);
  m->ogden_alpha = m->model == PP_MATERIAL_OGDEN ? pp_config_real(config, path) : 2.0;
  snprintf(path, sizeof path, "skin.%s.bulk_to_shear_ratio", layer_stems[layer]);
  m->bulk_modulus = pp_config_real(config, path) * m->shear_modulus;
  m->density = pp_config_real(config, "skin.density");
  return PP_OK;
}

pp_material pp_material_ogden_from_original(double mu_p, double alpha, double bulk_modulus, double density)
{
  /* (mu_p/alpha) sum(l^alpha - 1) = (2 mu/alpha^2) sum(l^alpha - 1) with mu = mu_p alpha / 2 */
  pp_material m = {PP_MATERIAL_OGDEN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.5 * mu_p * alpha, alpha, bulk_modulus,
                   density};
  return m;
}

/* ---- small linear algebra ----------------------------------------------------------------------- */

static double determinant(const double A[9])
{
  return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
         A[2] * (A[3] * A[7] - A[4] * A[6]);
}

static void inverse(const double A[9], double out[9])
{
  double det = determinant(A);
  out[0] = (A[4] * A[8] - A[5] * A[7]) / det;
  out[1] = (A[2] * A[7] - A[1] * A[8]) / det;
  out[2] = (A[1] * A[5] - A[2] * A[4]) / det;
  out[3] = (A[5] * A[6] - A[3] * A[8]) / det;
  out[4] = (A[0] * A[8] - A[2] * A[6]) / det;
  out[5] = (A[2] * A[3] - A[0] * A[5]) / det;
  out[6] = (A[3] * A[7] - A[4] * A[6]) / det;
  out[7] = (A[1] * A[6] - A[0] * A[7]) / det;
  out[8] = (A[0] * A[4] - A[1] * A[3]) / det;
}

/* out = A B (transpose_b: A B^T; transpose_a: A^T B) */
static void multiply(const double A[9], int transpose_a, const double B[9], int transpose_b, double out[9])
{
  double r[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double sum = 0;
      for (int k = 0; k < 3; ++k)
        sum += (transpose_a ? A[3 * k + i] : A[3 * i + k]) * (transpose_b ? B[3 * j + k] : B[3 * k + j]);
      r[3 * i + j] = sum;
    }
  memcpy(out, r, sizeof r);
}

void pp_material_symmetric_eigen(const double A[9], double values[3], double V[9])
{
  double a[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      a[i][j] = 0.5 * (A[3 * i + j] + A[3 * j + i]);
      V[3 * i + j] = i == j;
    }
  /* Cyclic Jacobi: each rotation zeroes one off-diagonal pair; converges quadratically. */
  for (int sweep = 0; sweep < 50; ++sweep) {
    double off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
    double scale = fabs(a[0][0]) + fabs(a[1][1]) + fabs(a[2][2]);
    if (off <= 1e-20 * scale) break; /* below round-off of the diagonal: done */
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q) {
        if (a[p][q] == 0) continue;
        double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 3; ++k) { /* A <- J^T A J */
          double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {
          double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; ++k) {
          double vkp = V[3 * k + p], vkq = V[3 * k + q];
          V[3 * k + p] = c * vkp - s * vkq;
          V[3 * k + q] = s * vkp + c * vkq;
        }
      }
  }
  for (int i = 0; i < 3; ++i) values[i] = a[i][i];
}

/* ---- the laws --------------------------------------------------------------------------------- */

static double alpha_of(const pp_material *m) { return m->model == PP_MATERIAL_OGDEN ? m->ogden_alpha : 2.0; }

/* Principal values of the Kirchhoff stress tau_i = l_i dW/dl_i for principal stretches l[3]:
 * tau_i = (2 mu/alpha)(lbar_i^alpha - mean_j lbar_j^alpha) + kappa J (J - 1). */
static void principal_kirchhoff(const pp_material *m, const double l[3], double tau[3])
{
  const double alpha = alpha_of(m), J = l[0] * l[1] * l[2], scale = pow(J, -1.0 / 3.0);
  double powers[3], mean = 0;
  for (int i = 0; i < 3; ++i) {
    powers[i] = pow(scale * l[i], alpha);
    mean += powers[i] / 3;
  }
  for (int i = 0; i < 3; ++i)
    tau[i] = 2 * m->shear_modulus / alpha * (powers[i] - mean) + m->bulk_modulus * J * (J - 1);
}

/* Deviatoric principal Kirchhoff stresses (2 mu/alpha)(lbar_i^alpha - mean). */
static void principal_kirchhoff_deviatoric(const pp_material *m, const double l[3], double tau[3])
{
  const double alpha = alpha_of(m), J = l[0] * l[1] * l[2], scale = pow(J, -1.0 / 3.0);
  double powers[3], mean = 0;
  for (int i = 0; i < 3; ++i) {
    powers[i] = pow(scale * l[i], alpha);
    mean += powers[i] / 3;
  }
  for (int i = 0; i < 3; ++i) tau[i] = 2 * m->shear_modulus / alpha * (powers[i] - mean);
}

double pp_material_volumetric_energy(const pp_material *m, double J) { return 0.5 * m->bulk_modulus * (J - 1) * (J - 1); }
double pp_material_pressure(const pp_material *m, double J) { return m->bulk_modulus * (J - 1); }

double pp_material_deviatoric_energy(const pp_material *m, const double C[9])
{
  const double J = sqrt(determinant(C));
  if (m->model == PP_MATERIAL_NEO_HOOKEAN) return 0.5 * m->shear_modulus * (pow(J, -2.0 / 3.0) * (C[0] + C[4] + C[8]) - 3);
  double c[3], V[9];
  pp_material_symmetric_eigen(C, c, V);
  const double alpha = m->ogden_alpha, scale = pow(J, -1.0 / 3.0);
  double sum = 0;
  for (int i = 0; i < 3; ++i) sum += pow(scale * sqrt(c[i]), alpha) - 1;
  return 2 * m->shear_modulus / (alpha * alpha) * sum;
}

void pp_material_pk2_deviatoric(const pp_material *m, const double C[9], double S[9])
{
  if (m->model == PP_MATERIAL_NEO_HOOKEAN) {
    double Ci[9];
    inverse(C, Ci);
    const double J = sqrt(determinant(C)), I1 = C[0] + C[4] + C[8], shear = m->shear_modulus * pow(J, -2.0 / 3.0);
    for (int k = 0; k < 9; ++k) S[k] = shear * ((k % 4 == 0) - I1 / 3 * Ci[k]);
    return;
  }
  double c[3], V[9], l[3], tau[3], D[9] = {0}, VD[9];
  pp_material_symmetric_eigen(C, c, V);
  for (int i = 0; i < 3; ++i) l[i] = sqrt(c[i]);
  principal_kirchhoff_deviatoric(m, l, tau);
  for (int i = 0; i < 3; ++i) D[4 * i] = tau[i] / c[i];
  multiply(V, 0, D, 0, VD);
  multiply(VD, 0, V, 1, S);
}

double pp_material_energy(const pp_material *m, const double F[9])
{
  double C[9], c[3], V[9];
  multiply(F, 1, F, 0, C);
  const double J = determinant(F), volumetric = 0.5 * m->bulk_modulus * (J - 1) * (J - 1);
  if (m->model == PP_MATERIAL_NEO_HOOKEAN)
    return 0.5 * m->shear_modulus * (pow(J, -2.0 / 3.0) * (C[0] + C[4] + C[8]) - 3) + volumetric;
  pp_material_symmetric_eigen(C, c, V);
  const double alpha = m->ogden_alpha, scale = pow(J, -1.0 / 3.0);
  double sum = 0;
  for (int i = 0; i < 3; ++i) sum += pow(scale * sqrt(c[i]), alpha) - 1;
  return 2 * m->shear_modulus / (alpha * alpha) * sum + volumetric;
}

void pp_material_pk2(const pp_material *m, const double C[9], double S[9])
{
  if (m->model == PP_MATERIAL_NEO_HOOKEAN) {
    /* S = mu J^(-2/3) (I - I1/3 C^-1) + kappa J (J - 1) C^-1 (NiftySim's form) */
    double Ci[9];
    inverse(C, Ci);
    const double J = sqrt(determinant(C)), I1 = C[0] + C[4] + C[8], shear = m->shear_modulus * pow(J, -2.0 / 3.0);
    const double volumetric = m->bulk_modulus * J * (J - 1);
    for (int k = 0; k < 9; ++k) S[k] = shear * ((k % 4 == 0) - I1 / 3 * Ci[k]) + volumetric * Ci[k];
    return;
  }
  /* Ogden: S is coaxial with C, S_i = tau_i / l_i^2 in C's principal frame. */
  double c[3], V[9], l[3], tau[3], D[9] = {0};
  pp_material_symmetric_eigen(C, c, V);
  for (int i = 0; i < 3; ++i) l[i] = sqrt(c[i]);
  principal_kirchhoff(m, l, tau);
  for (int i = 0; i < 3; ++i) D[4 * i] = tau[i] / c[i];
  double VD[9];
  multiply(V, 0, D, 0, VD);
  multiply(VD, 0, V, 1, S);
}

void pp_material_cauchy(const pp_material *m, const double F[9], double sigma[9])
{
  double C[9], S[9], FS[9];
  multiply(F, 1, F, 0, C);
  pp_material_pk2(m, C, S);
  multiply(F, 0, S, 0, FS);
  multiply(FS, 0, F, 1, sigma);
  const double J = determinant(F);
  for (int k = 0; k < 9; ++k) sigma[k] /= J;
}

double pp_material_young(const pp_material *m)
{
  const double mu = m->shear_modulus, kappa = m->bulk_modulus;
  return 9 * kappa * mu / (3 * kappa + mu);
}

double pp_material_poisson(const pp_material *m)
{
  const double mu = m->shear_modulus, kappa = m->bulk_modulus;
  return (3 * kappa - 2 * mu) / (2 * (3 * kappa + mu));
}

double pp_material_p_wave_modulus(const pp_material *m) { return m->bulk_modulus + 4.0 / 3.0 * m->shear_modulus; }

double pp_material_deviatoric_stiffening(const pp_material *m, const double C[9])
{
  const double alpha = alpha_of(m), scale2 = pow(determinant(C), -1.0 / 3.0); /* J^-2/3 */
  double sum = 0;
  if (m->model == PP_MATERIAL_NEO_HOOKEAN)
    sum = scale2 * (C[0] + C[4] + C[8]);
  else {
    double c[3], V[9];
    pp_material_symmetric_eigen(C, c, V);
    for (int i = 0; i < 3; ++i) sum += pow(scale2 * c[i], alpha / 2);
  }
  return 1 + (2.0 / 3.0 + 1 / alpha) * (sum - 3);
}

void pp_material_tensile_state(const pp_material *m, const double C[9], double J, double *tensile_energy,
                               double *max_principal_stress)
{
  const double alpha = alpha_of(m), scale2 = pow(determinant(C), -1.0 / 3.0);
  double c[3], V[9], terms = 0, mean = 0, largest = 0;
  pp_material_symmetric_eigen(C, c, V);
  for (int i = 0; i < 3; ++i) {
    const double x = scale2 * c[i], power = pow(x, alpha / 2); /* l_i^2, l_i^alpha */
    if (x > 1) terms += power - 1 - alpha / 2 * log(x);
    mean += power / 3;
    largest = fmax(largest, power);
  }
  *tensile_energy = 2 * m->shear_modulus / (alpha * alpha) * terms;
  *max_principal_stress = 2 * m->shear_modulus / (alpha * J) * (largest - mean) + m->bulk_modulus * (J - 1);
}

/* Lateral principal Kirchhoff stress of F = diag(stretch, t, t). */
static double lateral_kirchhoff(const pp_material *m, double stretch, double t)
{
  double l[3] = {stretch, t, t}, tau[3];
  principal_kirchhoff(m, l, tau);
  return tau[1];
}

pp_err pp_material_uniaxial(const pp_material *m, double stretch, double *lateral_stretch, double *axial_cauchy)
{
  PP_CHECK(stretch > 0 && isfinite(stretch), PP_ERR_ARGUMENT, "uniaxial stretch must be positive, got %g", stretch);
  /* tau_lateral is -inf as t -> 0 (the deviatoric part) and +inf as t -> inf (the volumetric
   * part): bracket a sign change, then bisect to adjacent doubles (robust for any alpha). */
  double low = 1 / sqrt(stretch), high = low;
  int guard = 0;
  while (lateral_kirchhoff(m, stretch, low) > 0 && guard++ < 200) low *= 0.5;
  guard = 0;
  while (lateral_kirchhoff(m, stretch, high) < 0 && guard++ < 200) high *= 2;
  PP_CHECK(lateral_kirchhoff(m, stretch, low) <= 0 && lateral_kirchhoff(m, stretch, high) >= 0, PP_ERR_ARGUMENT,
           "uniaxial reference: no traction-free lateral stretch found for stretch %g", stretch);
  for (int i = 0; i < 2000; ++i) {
    double middle = 0.5 * (low + high);
    if (middle <= low || middle >= high) break;
    if (lateral_kirchhoff(m, stretch, middle) < 0) low = middle;
    else high = middle;
  }
  const double t = fabs(lateral_kirchhoff(m, stretch, low)) <= fabs(lateral_kirchhoff(m, stretch, high)) ? low : high;
  double l[3] = {stretch, t, t}, tau[3];
  principal_kirchhoff(m, l, tau);
  *lateral_stretch = t;
  /* sigma = tau / J; subtracting the lateral value (zero up to round-off) removes its residue */
  *axial_cauchy = (tau[0] - tau[1]) / (stretch * t * t);
  return PP_OK;
}

double pp_material_uniaxial_incompressible(const pp_material *m, double stretch)
{
  const double alpha = alpha_of(m);
  return 2 * m->shear_modulus / alpha * (pow(stretch, alpha) - pow(stretch, -alpha / 2));
}
