/* element: hex8 with mean dilatation on the host (see element.h). */
#include "element.h"

#include <math.h>
#include <string.h>

int pp_hex_corner_bit(int c, int axis)
{
  int face = c & 3;
  if (axis == 0) return face == 1 || face == 2;
  if (axis == 1) return face >= 2;
  return c >> 2;
}

static double det3(const double A[9])
{
  return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
         A[2] * (A[3] * A[7] - A[4] * A[6]);
}

/* A^-T (cofactor / det) */
static void inverse_transpose(const double A[9], double out[9])
{
  const double d = det3(A);
  out[0] = (A[4] * A[8] - A[5] * A[7]) / d;
  out[1] = (A[5] * A[6] - A[3] * A[8]) / d;
  out[2] = (A[3] * A[7] - A[4] * A[6]) / d;
  out[3] = (A[2] * A[7] - A[1] * A[8]) / d;
  out[4] = (A[0] * A[8] - A[2] * A[6]) / d;
  out[5] = (A[1] * A[6] - A[0] * A[7]) / d;
  out[6] = (A[1] * A[5] - A[2] * A[4]) / d;
  out[7] = (A[2] * A[3] - A[0] * A[5]) / d;
  out[8] = (A[0] * A[4] - A[1] * A[3]) / d;
}

/* Shape-function gradients in reference space dN/dX [8][3] at Gauss point q, and det(dX/dxi). */
static double gradients(const double X[24], int q, double dNdX[24])
{
  const double g = 1.0 / sqrt(3.0);
  double xi[3], dNdxi[24], J0[9] = {0}, J0it[9];
  for (int d = 0; d < 3; ++d) xi[d] = pp_hex_corner_bit(q, d) ? g : -g;
  for (int k = 0; k < 8; ++k) {
    double s[3], f[3];
    for (int d = 0; d < 3; ++d) {
      s[d] = pp_hex_corner_bit(k, d) ? 1.0 : -1.0;
      f[d] = 1 + s[d] * xi[d];
    }
    dNdxi[3 * k + 0] = 0.125 * s[0] * f[1] * f[2];
    dNdxi[3 * k + 1] = 0.125 * f[0] * s[1] * f[2];
    dNdxi[3 * k + 2] = 0.125 * f[0] * f[1] * s[2];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) J0[3 * i + j] += X[3 * k + i] * dNdxi[3 * k + j];
  }
  inverse_transpose(J0, J0it); /* dN/dX = J0^-T dN/dxi */
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 3; ++i) {
      double sum = 0;
      for (int j = 0; j < 3; ++j) sum += J0it[3 * i + j] * dNdxi[3 * k + j];
      dNdX[3 * k + i] = sum;
    }
  return det3(J0);
}

double pp_hex8_volume(const double X[24])
{
  double dNdX[24], volume = 0;
  for (int q = 0; q < 8; ++q) volume += gradients(X, q, dNdX);
  return volume;
}

double pp_hex8_internal_force(const pp_material *m, const double X[24], const double u[24], double f[24],
                              double *energy)
{
  double dNdX[8][24], w[8], F[8][9], detF[8], V = 0, v = 0;
  memset(f, 0, 24 * sizeof *f);
  *energy = 0;
  for (int q = 0; q < 8; ++q) {
    w[q] = gradients(X, q, dNdX[q]);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double sum = i == j;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[q][3 * k + j];
        F[q][3 * i + j] = sum;
      }
    detF[q] = det3(F[q]);
    if (!(detF[q] > 0)) return 0; /* inverted or not finite: no forces */
    V += w[q];
    v += w[q] * detF[q];
  }
  const double J_bar = v / V, pressure = pp_material_pressure(m, J_bar);
  *energy = V * pp_material_volumetric_energy(m, J_bar);
  for (int q = 0; q < 8; ++q) {
    double C[9], S[9], P[9], Fit[9];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[q][3 * k + i] * F[q][3 * k + j];
        C[3 * i + j] = sum;
      }
    *energy += w[q] * pp_material_deviatoric_energy(m, C);
    pp_material_pk2_deviatoric(m, C, S);
    /* First Piola-Kirchhoff: deviatoric F S, plus the mean-dilatation pressure's share
     * p dv/dF = p J F^-T (v = sum_q w_q det F_q, so dE_vol/du = p dv/du). */
    inverse_transpose(F[q], Fit);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[q][3 * i + k] * S[3 * k + j];
        P[3 * i + j] = sum + pressure * detF[q] * Fit[3 * i + j];
      }
    for (int k = 0; k < 8; ++k)
      for (int i = 0; i < 3; ++i) {
        double sum = 0;
        for (int j = 0; j < 3; ++j) sum += P[3 * i + j] * dNdX[q][3 * k + j];
        f[3 * k + i] += w[q] * sum;
      }
  }
  return J_bar;
}

double pp_hex8_stable_step(const pp_material *m, const double X[24], const double u[24])
{
  double x[24], dNdx[24], dNdX[24], b[24] = {0}, volume = 0, reference_volume = 0, stiffening = 1;
  for (int k = 0; k < 24; ++k) x[k] = X[k] + u[k];
  /* b_a = sum_q w_q dN_a/dx (q): gradients with respect to the current coordinates */
  for (int q = 0; q < 8; ++q) {
    double w = gradients(x, q, dNdx);
    volume += w;
    for (int k = 0; k < 24; ++k) b[k] += w * dNdx[k];
    /* the deviatoric stiffening at this Gauss point, from F = I + du/dX */
    reference_volume += gradients(X, q, dNdX);
    double F[9], C[9];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double sum = i == j;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[3 * k + j];
        F[3 * i + j] = sum;
      }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[3 * k + i] * F[3 * k + j];
        C[3 * i + j] = sum;
      }
    if (!(det3(F) > 0)) return -1;
    stiffening = fmax(stiffening, pp_material_deviatoric_stiffening(m, C));
  }
  double sum = 0;
  for (int k = 0; k < 24; ++k) sum += b[k] * b[k];
  const double J_bar = volume / reference_volume;
  const double modulus = m->bulk_modulus * J_bar * (J_bar + fabs(J_bar - 1)) + 4.0 / 3.0 * m->shear_modulus * stiffening;
  return 2 * volume / sqrt(8 * modulus / m->density * sum);
}

/* Integral over the element of corner c's trilinear shape function (2x2x2 Gauss, exact for the
 * trilinear map): the lumped (row-sum) mass of the corner; V/8 on a box. */
double pp_hex8_corner_volume(const double xyz[24], int c)
{
  const double g = 1.0 / sqrt(3.0);
  double volume = 0;
  for (int q = 0; q < 8; ++q) {
    double xi[3] = {pp_hex_corner_bit(q, 0) ? g : -g, pp_hex_corner_bit(q, 1) ? g : -g,
                    pp_hex_corner_bit(q, 2) ? g : -g};
    double jacobian[3][3] = {{0}};
    for (int k = 0; k < 8; ++k) {
      double s[3], f[3];
      for (int d = 0; d < 3; ++d) {
        s[d] = pp_hex_corner_bit(k, d) ? 1.0 : -1.0;
        f[d] = 1 + s[d] * xi[d];
      }
      double dn[3] = {0.125 * s[0] * f[1] * f[2], 0.125 * f[0] * s[1] * f[2], 0.125 * f[0] * f[1] * s[2]};
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) jacobian[i][j] += xyz[3 * k + i] * dn[j];
    }
    double det = jacobian[0][0] * (jacobian[1][1] * jacobian[2][2] - jacobian[1][2] * jacobian[2][1]) -
                 jacobian[0][1] * (jacobian[1][0] * jacobian[2][2] - jacobian[1][2] * jacobian[2][0]) +
                 jacobian[0][2] * (jacobian[1][0] * jacobian[2][1] - jacobian[1][1] * jacobian[2][0]);
    double shape = 0.125;
    for (int d = 0; d < 3; ++d) shape *= 1 + (pp_hex_corner_bit(c, d) ? 1.0 : -1.0) * xi[d];
    volume += shape * fabs(det);
  }
  return volume;
}
