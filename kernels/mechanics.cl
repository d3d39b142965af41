/* mechanics: stage-1 hex8 element forces on the device, the same element as host/element.c
 * (mean dilatation: deviatoric energy at the 2x2x2 Gauss points, the volumetric energy once per
 * element on J_bar = v / V; see element.h for why) and the same laws as host/material.c
 * (decoupled neo-Hookean and one-term Ogden with mu the initial shear modulus). One work-item per
 * MECHANICS_WIDTH elements writes their 8 corner forces each; the nodes add their corners in a
 * fixed order elsewhere, so results do not depend on the partition.
 * Material table: MATERIAL_STRIDE REALs per material: model (0 neo-Hookean, 1 Ogden), mu, alpha,
 * kappa, density, and the tensile-energy floor (J/m^3, below which an element's tensile energy is
 * not evaluated: host/mechanics fills it).
 * -DEROSION=1 (host/mechanics, when elements may erode): hex8_forces also evaluates each element's
 * tensile state for erode_elements; eroded elements give no forces, energy or step.
 * Build options (host/clrt, host/mechanics): -DREAL=... -DREAL_IS_DOUBLE=... and
 * -DMECHANICS_WIDTH=1, 2, 4, 8 or 16 (default 1): the elements of one work-item of hex8_forces, one
 * per lane of REALn vectors. PoCL does not vectorise this kernel across work-items (it has loops,
 * and the vector instructions of its SLP pass stop its work-item loop vectoriser), so on a CPU the
 * vector types are what reach the SIMD units; GPUs vectorise across work-items and take 1. Every
 * lane does the scalar operations in the scalar order: the same bits for every width. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define MATERIAL_STRIDE 6
#ifndef EROSION
#define EROSION 0
#endif

#ifndef MECHANICS_WIDTH
#define MECHANICS_WIDTH 1
#endif
#define PP_CAT_(a, b) a##b
#define PP_CAT(a, b) PP_CAT_(a, b)
#if REAL_IS_DOUBLE
#define BITS long
#else
#define BITS int
#endif
/* VREAL: MECHANICS_WIDTH REALs, one element per lane; VINT: what comparisons of VREALs give. */
#if MECHANICS_WIDTH == 1
typedef REAL VREAL;
typedef int VINT;
#define VLOAD_LANES(p) ((p)[0])
#define VSTORE_LANES(v, p) ((p)[0] = (v))
#define AS_VBITS(x) PP_CAT(as_, BITS)(x)
#define AS_VREAL(x) PP_CAT(as_, REAL)(x)
#else
typedef PP_CAT(REAL, MECHANICS_WIDTH) VREAL;
typedef PP_CAT(BITS, MECHANICS_WIDTH) VINT;
#define VLOAD_LANES(p) PP_CAT(vload, MECHANICS_WIDTH)(0, p)
#define VSTORE_LANES(v, p) PP_CAT(vstore, MECHANICS_WIDTH)(v, 0, p)
#define AS_VBITS(x) PP_CAT(PP_CAT(as_, BITS), MECHANICS_WIDTH)(x)
#define AS_VREAL(x) PP_CAT(PP_CAT(as_, REAL), MECHANICS_WIDTH)(x)
#endif
#if REAL_IS_DOUBLE
#define CBRT_GUESS 0x553ef0ff289dd796L
#define CBRT_STEPS 4
#else
#define CBRT_GUESS 0x54a2fa8c
#define CBRT_STEPS 3
#endif

static int hex_corner_bit(int c, int axis)
{
  int face = c & 3;
  if (axis == 0) return face == 1 || face == 2;
  if (axis == 1) return face >= 2;
  return c >> 2;
}

static REAL det3(const REAL *A)
{
  return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
         A[2] * (A[3] * A[7] - A[4] * A[6]);
}

static void inverse_transpose3(const REAL *A, REAL *out)
{
  const REAL d = det3(A);
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

/* C = F^T F. */
static void right_cauchy_green(const REAL *F, REAL *C)
{
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      REAL sum = 0;
      for (int k = 0; k < 3; ++k) sum += F[3 * k + i] * F[3 * k + j];
      C[3 * i + j] = sum;
    }
}

/* dN/dX [8][3] at Gauss point q from the reference corners; returns det(dX/dxi). */
static REAL hex_gradients(const REAL *X, int q, REAL *dNdX)
{
  const REAL g = (REAL)0.57735026918962576451;
  REAL xi[3], dNdxi[24], J0[9], J0it[9];
  for (int k = 0; k < 9; ++k) J0[k] = 0;
  for (int d = 0; d < 3; ++d) xi[d] = hex_corner_bit(q, d) ? g : -g;
  for (int k = 0; k < 8; ++k) {
    REAL s[3], f[3];
    for (int d = 0; d < 3; ++d) {
      s[d] = hex_corner_bit(k, d) ? (REAL)1 : (REAL)-1;
      f[d] = 1 + s[d] * xi[d];
    }
    dNdxi[3 * k + 0] = (REAL)0.125 * s[0] * f[1] * f[2];
    dNdxi[3 * k + 1] = (REAL)0.125 * f[0] * s[1] * f[2];
    dNdxi[3 * k + 2] = (REAL)0.125 * f[0] * f[1] * s[2];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) J0[3 * i + j] += X[3 * k + i] * dNdxi[3 * k + j];
  }
  inverse_transpose3(J0, J0it);
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 3; ++i) {
      REAL sum = 0;
      for (int j = 0; j < 3; ++j) sum += J0it[3 * i + j] * dNdxi[3 * k + j];
      dNdX[3 * k + i] = sum;
    }
  return det3(J0);
}

/* Cyclic Jacobi eigen-decomposition of a symmetric 3x3 (as host/material.c). */
static void symmetric_eigen3(const REAL *A, REAL *values, REAL *V)
{
  REAL a[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      a[i][j] = (REAL)0.5 * (A[3 * i + j] + A[3 * j + i]);
      V[3 * i + j] = i == j ? (REAL)1 : (REAL)0;
    }
  for (int sweep = 0; sweep < 50; ++sweep) {
    REAL off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
    REAL scale = fabs(a[0][0]) + fabs(a[1][1]) + fabs(a[2][2]);
#if REAL_IS_DOUBLE
    if (off <= (REAL)1e-20 * scale) break;
#else
    if (off <= (REAL)1e-9 * scale) break;
#endif
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q) {
        if (a[p][q] == 0) continue;
        REAL theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        REAL t = (theta >= 0 ? (REAL)1 : (REAL)-1) / (fabs(theta) + sqrt(theta * theta + 1));
        REAL c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 3; ++k) {
          REAL akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {
          REAL apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; ++k) {
          REAL vkp = V[3 * k + p], vkq = V[3 * k + q];
          V[3 * k + p] = c * vkp - s * vkq;
          V[3 * k + q] = s * vkp + c * vkq;
        }
      }
  }
  for (int i = 0; i < 3; ++i) values[i] = a[i][i];
}

/* x^(-1/3) for x > 0 without pow: a first guess from the bits of x (within 4 %), then Newton steps
 * y <- y (4 - x y^3) / 3, each of which squares the relative error: 4 steps (3 in float) reach
 * round-off. pow and cbrt are calls into the C library on PoCL's CPU device (about 50-100 ns each
 * on the 2-core VM) and OpenCL allows pow 16 ulp; this is a dozen multiplications, the same bits on
 * every device that rounds correctly, and it vectorises. x = 0, inf and NaN are not handled
 * (callers pass det F > 0; an inverted element's value is not used). */
static REAL inverse_cbrt(const REAL x)
{
  REAL y = PP_CAT(as_, REAL)(CBRT_GUESS - PP_CAT(as_, BITS)(x) / 3);
#pragma unroll
  for (int k = 0; k < CBRT_STEPS; ++k) y = y * ((REAL)4 - x * (y * y * y)) * (REAL)(1.0 / 3.0);
  return y;
}

#if MECHANICS_WIDTH == 1
#define inverse_cbrt_lanes inverse_cbrt
#else
static VREAL inverse_cbrt_lanes(const VREAL x)
{
  VREAL y = AS_VREAL(CBRT_GUESS - AS_VBITS(x) / 3);
#pragma unroll
  for (int k = 0; k < CBRT_STEPS; ++k) y = y * ((REAL)4 - x * (y * y * y)) * (REAL)(1.0 / 3.0);
  return y;
}
#endif

/* x^(alpha/2) for x > 0: by repeated squaring when alpha/2 is a whole number from 1 to 32 (the
 * skin laws' alpha = 2 ... 20: a few multiplications, a few ulp, where pow took a microsecond per
 * Gauss point), else pow. */
static REAL ogden_power(const REAL x, const REAL alpha)
{
  const REAL exponent = alpha / 2;
  const int n = (int)exponent;
  if ((REAL)n == exponent && n >= 1 && n <= 32) {
    REAL result = 1, base = x;
    for (int k = n; k > 0; k >>= 1) {
      if (k & 1) result *= base;
      base *= base;
    }
    return result;
  }
  return pow(x, exponent);
}

/* Deviatoric energy W_dev(C) and S_dev(C) (material.h), J = det F = sqrt(det C) given.
 * *stiffening: host/material.c's pp_material_deviatoric_stiffening, for the stable step. */
static REAL deviatoric(const REAL model, const REAL mu, const REAL alpha, const REAL *C, const REAL J, REAL *S,
                       REAL *stiffening)
{
  const REAL y = inverse_cbrt(J), scale2 = y * y; /* J^(-2/3) */
  if (model == 0) {
    REAL Cit[9];
    inverse_transpose3(C, Cit); /* C symmetric: C^-T = C^-1 */
    const REAL I1 = C[0] + C[4] + C[8], shear = mu * scale2;
    for (int k = 0; k < 9; ++k) S[k] = shear * ((k % 4 == 0 ? (REAL)1 : (REAL)0) - I1 / 3 * Cit[k]);
    *stiffening = 1 + (REAL)(7.0 / 6.0) * (scale2 * I1 - 3);
    return (REAL)0.5 * mu * (scale2 * I1 - 3);
  }
  REAL c[3], V[9], powers[3], x[3], mean = 0, energy = 0;
  symmetric_eigen3(C, c, V);
  for (int i = 0; i < 3; ++i) {
    x[i] = scale2 * c[i]; /* lambda_bar_i^2 */
    powers[i] = ogden_power(x[i], alpha);
    mean += powers[i] / 3;
    energy += powers[i] - 1;
  }
  REAL D[3];
  for (int i = 0; i < 3; ++i) D[i] = 2 * mu / alpha * (powers[i] - mean) / c[i];
  *stiffening = 1 + ((REAL)(2.0 / 3.0) + 1 / alpha) * (3 * mean - 3);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      REAL sum = 0;
      for (int k = 0; k < 3; ++k) sum += V[3 * i + k] * D[k] * V[3 * j + k];
      S[3 * i + j] = sum;
    }
  return 2 * mu / (alpha * alpha) * energy;
}

/* ---- the element in the trilinear modes of its corners ---------------------------------------
 * With corner k at signs s(k) = (+-1, +-1, +-1) (hex_corner_bit), any corner field x_k has
 *   d x / d xi = (1/8) (A_1 + eta A_3 + zeta A_5 + eta zeta A_7), and so on for eta and zeta,
 * with the modes A_m = sum_k prod_{d in m} s_d(k) x_k (m a set of axes: 1 xi, 2 eta, 4 zeta; 3, 5,
 * 6, 7 their products): an 8-point butterfly of 24 additions per component. At the Gauss points
 * (+-g, +-g, +-g) the Jacobian J = 8 dX/dxi and G = 8 du/dxi are then sums of 4 terms, and
 *   F = I + G J^-1,   w = det J / 512,   w P J^-T = P cof(J) / 64   (cof(J) = det J J^-T),
 * so the corner forces sum_q w P dN_a/dX are sum_q (P cof J)_im dN_a/dxi_m / 64, which a second
 * butterfly over the Gauss points forms from 4 moments per (i, m). The step's b_a = sum_q w det F
 * F^-T dN_a/dX is the same with cof(F) cof(J) in place of P cof(J), and the pressure part of the
 * forces is p b_a (p det F F^-T = p cof F). The neo-Hookean P_dev = mu J^-2/3 (F - I1/3 F^-T) needs
 * neither C nor its inverse. The same element and laws as before: only the order of the sums
 * changes (results by round-off, about 1e-15 relative); no shape-function gradient is formed, and
 * the flops per element fall from 12960 to 3710 (neo-Hookean; benchmarks/bench_mechanics.c), with
 * 2 divisions per Gauss point instead of 45 and no pow. */

static VREAL cofactor3_lanes(const VREAL *A, VREAL *c)
{
  c[0] = A[4] * A[8] - A[5] * A[7];
  c[1] = A[5] * A[6] - A[3] * A[8];
  c[2] = A[3] * A[7] - A[4] * A[6];
  c[3] = A[2] * A[7] - A[1] * A[8];
  c[4] = A[0] * A[8] - A[2] * A[6];
  c[5] = A[1] * A[6] - A[0] * A[7];
  c[6] = A[1] * A[5] - A[2] * A[4];
  c[7] = A[2] * A[3] - A[0] * A[5];
  c[8] = A[0] * A[4] - A[1] * A[3];
  return A[0] * c[0] + A[1] * c[1] + A[2] * c[2];
}

/* The modes out[m] (m = 1 ... 7; out[0] the plain sum) of component i of the corner field x[8][3]. */
static void corner_modes(const VREAL *x, const int i, VREAL *out)
{
  const int binary[8] = {0, 1, 3, 2, 4, 5, 7, 6}; /* corner -> xi bit + 2 eta bit + 4 zeta bit */
#pragma unroll
  for (int k = 0; k < 8; ++k) out[binary[k]] = x[3 * k + i];
#pragma unroll
  for (int d = 1; d < 8; d <<= 1)
#pragma unroll
    for (int b = 0; b < 8; ++b)
      if (!(b & d)) {
        const VREAL low = out[b], high = out[b | d];
        out[b] = low + high;
        out[b | d] = high - low;
      }
}

/* 8 d x_i / d xi_j at the Gauss point with signs (sx, sy, sz), from the modes A of component i
 * (A[3], A[5], A[6] already times g, A[7] times g^2). */
static VREAL mode_derivative(const VREAL *A, const int j, const int sx, const int sy, const int sz)
{
  if (j == 0) return A[1] + (sy > 0 ? A[3] : -A[3]) + (sz > 0 ? A[5] : -A[5]) + (sy * sz > 0 ? A[7] : -A[7]);
  if (j == 1) return A[2] + (sx > 0 ? A[3] : -A[3]) + (sz > 0 ? A[6] : -A[6]) + (sx * sz > 0 ? A[7] : -A[7]);
  return A[4] + (sx > 0 ? A[5] : -A[5]) + (sy > 0 ? A[6] : -A[6]) + (sx * sy > 0 ? A[7] : -A[7]);
}

/* out[a][i] = sum_q sum_m T_q[i][m] 8 dN_a/dxi_m(q) for the Gauss point values T [8][9] (q in the
 * corner order): dN_a/dxi_m depends on q only through the signs of q along the two other axes, so
 * per (i, m) four moments over q, then each corner's combination of them. */
static void back_project(const VREAL *T, VREAL *out)
{
  const REAL g = (REAL)0.57735026918962576451, gg = (REAL)(1.0 / 3.0);
  const int binary[8] = {0, 1, 3, 2, 4, 5, 7, 6};
#pragma unroll
  for (int k = 0; k < 24; ++k) out[k] = 0;
#pragma unroll
  for (int i = 0; i < 3; ++i)
#pragma unroll
    for (int m = 0; m < 3; ++m) {
      VREAL v[8], w[4];
#pragma unroll
      for (int q = 0; q < 8; ++q) v[binary[q]] = T[9 * q + 3 * i + m];
      const int a = m == 0 ? 1 : 0, b = m == 2 ? 1 : 2; /* the two other axes */
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int low = ((r & 1) << a) | ((r >> 1) << b);
        w[r] = v[low] + v[low | (1 << m)];
      }
      const VREAL s0 = w[0] + w[1], s1 = w[1] - w[0], s2 = w[2] + w[3], s3 = w[3] - w[2];
      const VREAL M0 = s0 + s2, Ma = g * (s1 + s3), Mb = g * (s2 - s0), Mab = gg * (s3 - s1);
      /* the corner with signs (sa, sb) along a, b: M0 + sa Ma + sb Mb + sa sb Mab */
      const VREAL c_mm = (M0 - Ma) - (Mb - Mab), c_pm = (M0 + Ma) - (Mb + Mab);
      const VREAL c_mp = (M0 - Ma) + (Mb - Mab), c_pp = (M0 + Ma) + (Mb + Mab);
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        const int sa = hex_corner_bit(k, a), sb = hex_corner_bit(k, b);
        const VREAL c = sa ? (sb ? c_pp : c_pm) : (sb ? c_mp : c_mm);
        out[3 * k + i] += hex_corner_bit(k, m) ? c : -c;
      }
    }
}

/* The step an eroded element reports: larger than any real bound, so that it limits nothing. */
#define ERODED_STEP 1e30

#if EROSION
/* The tensile state of each lane's element for crack-band erosion (host/material.c's
 * pp_material_tensile_state, word for word in the arithmetic): at the element's centre,
 * F = I + (du/dxi)(dX/dxi)^-1 from the unscaled modes A_1, A_2, A_4; its isochoric principal
 * stretches l_i (C = F^T F, l_i^2 = J^-2/3 c_i); the tensile energy
 *   W+ = (2 mu / alpha^2) sum over l_i > 1 of (l_i^alpha - 1 - alpha ln l_i)
 * (each term >= 0; over all i they add up to W_dev, since sum ln l_i = 0), and the largest principal
 * Cauchy stress (2 mu / (alpha J_bar)) (max l_i^alpha - mean l_i^alpha) + p. Only where the
 * element's deviatoric energy density reaches the material's floor (W+ <= W_dev there: below it
 * the eigen-decomposition is skipped and both are 0). */
static void tensile_state(VREAL AX[3][8], VREAL AU[3][8], const VREAL deviatoric_energy, const VREAL volume,
                          const VREAL J_bar, const VREAL pressure, const REAL *model_lane, const REAL *mu_lane,
                          const REAL *alpha_lane, const size_t *element, __global const REAL *materials,
                          __global const int *element_material, REAL *tensile, REAL *principal)
{
  enum { L = MECHANICS_WIDTH };
  REAL Jl[9][L], Gl[9][L], energy_l[L], volume_l[L], J_bar_l[L], pressure_l[L];
#pragma unroll
  for (int i = 0; i < 3; ++i)
#pragma unroll
    for (int j = 0; j < 3; ++j) {
      VSTORE_LANES(AX[i][1 << j], Jl[3 * i + j]);
      VSTORE_LANES(AU[i][1 << j], Gl[3 * i + j]);
    }
  VSTORE_LANES(deviatoric_energy, energy_l);
  VSTORE_LANES(volume, volume_l);
  VSTORE_LANES(J_bar, J_bar_l);
  VSTORE_LANES(pressure, pressure_l);
  for (int l = 0; l < L; ++l) {
    tensile[l] = principal[l] = 0;
    const REAL floor = materials[MATERIAL_STRIDE * element_material[element[l]] + 5];
    if (!(energy_l[l] >= floor * volume_l[l]) || !(J_bar_l[l] > 0)) continue;
    REAL J0[9], G0[9], J0it[9], F[9], C[9];
    for (int k = 0; k < 9; ++k) {
      J0[k] = Jl[k][l];
      G0[k] = Gl[k][l];
    }
    inverse_transpose3(J0, J0it);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = 0; /* (G0 J0^-1)_ij */
        for (int k = 0; k < 3; ++k) sum += G0[3 * i + k] * J0it[3 * j + k];
        F[3 * i + j] = (i == j ? (REAL)1 : (REAL)0) + sum;
      }
    right_cauchy_green(F, C);
    const REAL detF = det3(F);
    if (!(detF > 0)) continue;
    const REAL y = inverse_cbrt(detF), alpha = model_lane[l] == 0 ? (REAL)2 : alpha_lane[l], mu = mu_lane[l];
    REAL c[3], V[9], terms = 0, mean = 0, largest = 0;
    symmetric_eigen3(C, c, V);
    for (int i = 0; i < 3; ++i) {
      const REAL x = y * y * c[i], power = ogden_power(x, alpha); /* l_i^2, l_i^alpha */
      if (x > 1) terms += power - 1 - alpha / 2 * log(x);
      mean += power / 3;
      largest = fmax(largest, power);
    }
    tensile[l] = 2 * mu / (alpha * alpha) * terms;
    principal[l] = 2 * mu / (alpha * J_bar_l[l]) * (largest - mean) + pressure_l[l];
  }
}
#endif

/* Per element: corner forces f = dE/du [e*24], stored energy [e], mean dilatation [e] (0 when the
 * element is inverted; its forces are then 0) and its stable explicit step [e] in the current
 * configuration (host/element.c's pp_hex8_stable_step: the Flanagan-Belytschko uniform-strain
 * bound 2 / omega, omega^2 = 8 c^2 / v^2 sum_a b_a.b_a, with b_a = integral of dN_a/dx over the
 * element), its wave speed raised for large strain as element.h states:
 * c^2 = (kappa J_bar (J_bar + |J_bar - 1|) + 4/3 mu S) / rho, S the largest deviatoric stiffening
 * at a Gauss point. An inverted element's
 * step is -1, so the exact global minimum of the steps also says whether any element inverted. density_scale [e]:
 * the element's mass scaling factor (1: none), which its lumped masses carry too.
 * X: reference corners [e*24]; u: nodal displacements [node*3]; element_nodes [e*8] local nodes. */
__kernel void hex8_forces(const ulong count, __global const REAL *restrict reference_corners,
                          __global const int *restrict element_nodes, __global const REAL *restrict displacement,
                          __global const int *restrict element_material, __global const REAL *restrict materials,
                          __global REAL *restrict corner_force, __global REAL *restrict element_energy,
                          __global REAL *restrict element_dilatation, __global REAL *restrict element_step,
                          __global const REAL *restrict density_scale, __global const REAL *restrict eroded,
                          __global REAL *restrict element_tensile, __global REAL *restrict element_principal,
                          __global REAL *restrict element_distortion)
{
  enum { L = MECHANICS_WIDTH };
  const size_t first = get_global_id(0) * L;
  if (first >= count) return;
  const REAL g = (REAL)0.57735026918962576451, gg = (REAL)(1.0 / 3.0);
  /* lane l: element first + l (past the end: the last element again, not written) */
  size_t element[L];
  REAL lane[L], model_lane[L], mu_lane[L], alpha_lane[L];
  int any_ogden = 0;
#pragma unroll
  for (int l = 0; l < L; ++l) {
    element[l] = first + l < count ? first + l : count - 1;
    const int m = element_material[element[l]];
    model_lane[l] = materials[MATERIAL_STRIDE * m];
    mu_lane[l] = materials[MATERIAL_STRIDE * m + 1];
    alpha_lane[l] = materials[MATERIAL_STRIDE * m + 2];
    any_ogden |= model_lane[l] != 0;
  }
  VREAL X[24], u[24], AX[3][8], AU[3][8], kappa, rho;
#pragma unroll
  for (int k = 0; k < 24; ++k) {
#pragma unroll
    for (int l = 0; l < L; ++l) lane[l] = reference_corners[element[l] * 24 + k];
    X[k] = VLOAD_LANES(lane);
  }
#pragma unroll
  for (int c = 0; c < 8; ++c) {
    size_t node[L];
#pragma unroll
    for (int l = 0; l < L; ++l) node[l] = (size_t)element_nodes[element[l] * 8 + c];
#pragma unroll
    for (int d = 0; d < 3; ++d) {
#pragma unroll
      for (int l = 0; l < L; ++l) lane[l] = displacement[node[l] * 3 + d];
      u[3 * c + d] = VLOAD_LANES(lane);
    }
  }
  const VREAL mu = VLOAD_LANES(mu_lane);
#pragma unroll
  for (int l = 0; l < L; ++l) lane[l] = materials[MATERIAL_STRIDE * element_material[element[l]] + 3];
  kappa = VLOAD_LANES(lane);
#pragma unroll
  for (int l = 0; l < L; ++l)
    lane[l] = materials[MATERIAL_STRIDE * element_material[element[l]] + 4] * density_scale[element[l]];
  rho = VLOAD_LANES(lane);
  /* Everything below is unrolled: on PoCL's CPU device the private arrays then live in registers
   * and the loop overhead goes (3x). */
#pragma unroll
  for (int i = 0; i < 3; ++i) {
    corner_modes(X, i, AX[i]);
    corner_modes(u, i, AU[i]);
    AX[i][3] *= g;
    AX[i][5] *= g;
    AX[i][6] *= g;
    AX[i][7] *= gg;
    AU[i][3] *= g;
    AU[i][5] *= g;
    AU[i][6] *= g;
    AU[i][7] *= gg;
  }
  /* per Gauss point q: R_q = P_dev cof(J) and B_q = cof(F) cof(J) */
  VREAL R[72], B[72], V = 0, v = 0, energy = 0, stiffening = 1, smallest_detF = INFINITY;
  VINT inverted = 0;
#pragma unroll
  for (int q = 0; q < 8; ++q) {
    const int sx = hex_corner_bit(q, 0) ? 1 : -1, sy = hex_corner_bit(q, 1) ? 1 : -1,
              sz = hex_corner_bit(q, 2) ? 1 : -1;
    VREAL J[9], G[9], cJ[9], F[9], cF[9], P[9], I1 = 0;
#pragma unroll
    for (int i = 0; i < 3; ++i)
#pragma unroll
      for (int j = 0; j < 3; ++j) {
        J[3 * i + j] = mode_derivative(AX[i], j, sx, sy, sz);
        G[3 * i + j] = mode_derivative(AU[i], j, sx, sy, sz);
      }
    const VREAL detJ = cofactor3_lanes(J, cJ), r = 1 / detJ;
#pragma unroll
    for (int i = 0; i < 3; ++i)
#pragma unroll
      for (int j = 0; j < 3; ++j) {
        VREAL sum = 0; /* (G cof(J)^T)_ij = det J (G J^-1)_ij */
#pragma unroll
        for (int k = 0; k < 3; ++k) sum += G[3 * i + k] * cJ[3 * j + k];
        F[3 * i + j] = (i == j ? (REAL)1 : (REAL)0) + sum * r;
      }
    const VREAL detF = cofactor3_lanes(F, cF), w = detJ * (REAL)(1.0 / 512.0);
    inverted |= !isgreater(detF, (VREAL)0);
    smallest_detF = fmin(smallest_detF, detF);
    V += w;
    v += w * detF;
    /* neo-Hookean on every lane: P_dev = F S_dev = mu J^-2/3 (F - I1/3 F^-T), F^-T = cof(F) / det F */
#pragma unroll
    for (int k = 0; k < 9; ++k) I1 += F[k] * F[k];
    const VREAL y = inverse_cbrt_lanes(detF), shear = mu * (y * y), c = shear * I1 / (3 * detF);
#pragma unroll
    for (int k = 0; k < 9; ++k) P[k] = shear * F[k] - c * cF[k];
    VREAL W = (REAL)0.5 * mu * ((y * y) * I1 - 3), S_q = 1 + (REAL)(7.0 / 6.0) * ((y * y) * I1 - 3);
    if (any_ogden) {
      /* the Ogden lanes one by one (a Jacobi eigen-decomposition each): P_dev = F S_dev(C) */
      REAL Fl[9][L], detFl[L], Pl[9][L], Wl[L], sl[L];
#pragma unroll
      for (int k = 0; k < 9; ++k) {
        VSTORE_LANES(F[k], Fl[k]);
        VSTORE_LANES(P[k], Pl[k]);
      }
      VSTORE_LANES(detF, detFl);
      VSTORE_LANES(W, Wl);
      VSTORE_LANES(S_q, sl);
      for (int l = 0; l < L; ++l) {
        if (model_lane[l] == 0) continue;
        REAL C[9], S[9], s;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            REAL sum = 0;
            for (int k = 0; k < 3; ++k) sum += Fl[3 * k + i][l] * Fl[3 * k + j][l];
            C[3 * i + j] = sum;
          }
        Wl[l] = deviatoric(model_lane[l], mu_lane[l], alpha_lane[l], C, detFl[l], S, &s);
        sl[l] = s;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            REAL sum = 0;
            for (int k = 0; k < 3; ++k) sum += Fl[3 * i + k][l] * S[3 * k + j];
            Pl[3 * i + j][l] = sum;
          }
      }
#pragma unroll
      for (int k = 0; k < 9; ++k) P[k] = VLOAD_LANES(Pl[k]);
      W = VLOAD_LANES(Wl);
      S_q = VLOAD_LANES(sl);
    }
    stiffening = fmax(stiffening, S_q);
    energy += w * W;
#pragma unroll
    for (int i = 0; i < 3; ++i)
#pragma unroll
      for (int j = 0; j < 3; ++j) {
        VREAL rs = 0, bs = 0;
#pragma unroll
        for (int k = 0; k < 3; ++k) {
          rs += P[3 * i + k] * cJ[3 * k + j];
          bs += cF[3 * i + k] * cJ[3 * k + j];
        }
        R[9 * q + 3 * i + j] = rs;
        B[9 * q + 3 * i + j] = bs;
      }
  }
  const VREAL J_bar = v / V, pressure = kappa * (J_bar - 1), wave_scale = (REAL)(1.0 / 512.0);
#if EROSION
  REAL tensile_out[L], principal_out[L], distortion_out[L];
  VSTORE_LANES(smallest_detF, distortion_out);
  tensile_state(AX, AU, energy, V, J_bar, pressure, model_lane, mu_lane, alpha_lane, element, materials,
                element_material, tensile_out, principal_out);
#endif
  energy += V * (REAL)0.5 * kappa * (J_bar - 1) * (J_bar - 1);
  VREAL f[24], b[24], bb = 0;
  back_project(R, f);
  back_project(B, b);
#pragma unroll
  for (int k = 0; k < 24; ++k) {
    b[k] *= wave_scale; /* b_a = the integral of dN_a/dx over the element */
    f[k] = f[k] * wave_scale + pressure * b[k];
    bb += b[k] * b[k];
  }
  const VREAL wave_speed2 = (kappa * J_bar * (J_bar + fabs(J_bar - 1)) + (REAL)(4.0 / 3.0) * mu * stiffening) / rho;
  const VREAL step = 2 * v / sqrt(8 * wave_speed2 * bb);
  /* lane by lane; an inverted element: forces and J_bar 0, step -1, energy 0 (erosion builds: the
     last evaluation's); an eroded one (no longer part of the body, whatever its shape): forces and
     energy 0, a step that limits nothing */
  REAL out[L];
  BITS bad[L];
  VSTORE_LANES(inverted, bad);
  int gone[L];
#pragma unroll
  for (int l = 0; l < L; ++l) {
    gone[l] = eroded[element[l]] != 0;
    if (gone[l]) bad[l] = 0;
  }
#pragma unroll
  for (int k = 0; k < 24; ++k) {
    VSTORE_LANES(f[k], out);
#pragma unroll
    for (int l = 0; l < L; ++l)
      if (first + l < count) corner_force[(first + l) * 24 + k] = bad[l] || gone[l] ? (REAL)0 : out[l];
  }
  VSTORE_LANES(energy, out);
#pragma unroll
  for (int l = 0; l < L; ++l)
#if EROSION
    /* an inverted element keeps its last energy, so that a distortion erosion books what it held */
    if (first + l < count) element_energy[first + l] = gone[l] ? (REAL)0 : bad[l] ? element_energy[first + l] : out[l];
#else
    if (first + l < count) element_energy[first + l] = bad[l] || gone[l] ? (REAL)0 : out[l];
#endif
  VSTORE_LANES(J_bar, out);
#pragma unroll
  for (int l = 0; l < L; ++l)
    if (first + l < count) element_dilatation[first + l] = bad[l] ? (REAL)0 : out[l];
  VSTORE_LANES(step, out);
#pragma unroll
  for (int l = 0; l < L; ++l)
    if (first + l < count) element_step[first + l] = bad[l] ? (REAL)-1 : gone[l] ? (REAL)ERODED_STEP : out[l];
#pragma unroll
  for (int l = 0; l < L; ++l)
    if (first + l < count) {
#if EROSION
      element_tensile[first + l] = gone[l] ? (REAL)0 : tensile_out[l];
      element_principal[first + l] = gone[l] ? (REAL)0 : principal_out[l];
      element_distortion[first + l] = gone[l] ? (REAL)1 : distortion_out[l];
#else
      element_tensile[first + l] = 0;
      element_principal[first + l] = 0;
      element_distortion[first + l] = 1;
#endif
    }
}

/* Crack-band erosion, after hex8_forces and before the gather, over owned and ghost elements alike
 * (the same inputs on every rank that holds an element, so the same decision). An element erodes
 * when its largest principal stress is tensile and its tensile energy density reaches G_c / h_e
 * (threshold [e]; h_e its size: host/mechanics); it then stops carrying force at once (its corner
 * forces of this evaluation move to eroding_force [e*24] and are cleared), its stored energy moves
 * to eroded_energy [e] (the energy balance's erosion term) and it stays eroded: flag 2 in the
 * evaluation it erodes in (node_activity gathers its forces then), 1 from the next one on.
 * damage [e] = max over time of min(1, W+ / W_f) (failure_density [e] = W_f, the energy to tensile
 * failure), 1 once eroded.
 * Distortion erosion (distortion_limit > 0): an element whose smallest Gauss-point det F
 * (distortion [e], from hex8_forces) falls below the limit erodes the same way, whatever its
 * tensile state, and is flagged in distorted [e]: the last resort of explicit codes against an
 * element crushed flat (under a tip no mesh resolves) before the criterion fires, which would
 * otherwise invert and stop the run. Its step then limits nothing (element_step [e]). */
__kernel void erode_elements(const ulong count, __global REAL *restrict eroded, __global const REAL *restrict tensile,
                             __global const REAL *restrict principal, __global const REAL *restrict threshold,
                             __global const REAL *restrict failure_density, __global REAL *restrict damage,
                             __global REAL *restrict element_energy, __global REAL *restrict eroded_energy,
                             __global REAL *restrict corner_force, __global REAL *restrict eroding_force,
                             __global const REAL *restrict distortion, __global REAL *restrict distorted,
                             __global REAL *restrict element_step, const REAL distortion_limit)
{
  const size_t e = get_global_id(0);
  if (e >= count) return;
  if (eroded[e] != 0) {
    eroded[e] = 1;
    return;
  }
  const REAL W = tensile[e];
  damage[e] = fmax(damage[e], fmin((REAL)1, W / failure_density[e]));
  const int criterion = principal[e] > 0 && W >= threshold[e];
  const int crushed = distortion_limit > 0 && !(distortion[e] >= distortion_limit);
  if (criterion || crushed) {
    if (!criterion) distorted[e] = 1;
    element_step[e] = ERODED_STEP;
    eroded[e] = 2;
    damage[e] = 1;
    eroded_energy[e] = element_energy[e];
    element_energy[e] = 0;
    for (int k = 0; k < 24; ++k) {
      eroding_force[e * 24 + k] = corner_force[e * 24 + k];
      corner_force[e * 24 + k] = 0;
    }
  }
}

/* Per owned node: 1 while any of its elements (owned or ghost, the CSR of gather_corner_forces) is
 * not eroded, else 0: an orphan, which the needles no longer touch. And erosion's correction to the
 * energy balance, accumulated per node in correction [n]: the step that ended here (dt, velocity
 * v^{n+1/2}) integrated the internal forces by the trapezoidal rule, but an element that eroded at
 * its end (flag 2) enters that rule with 0 for its force at u^{n+1}, while the stored energy it
 * takes to the erosion term is its energy at u^{n+1}, whose change over the step is the rule with
 * its true force f_e: so the erosion term is that energy minus f_e . (dt v^{n+1/2}) / 2, which keeps
 * the balance exact to the scheme's O(dt^2) (half an eroded element's work per erosion, else). */
__kernel void node_activity(const ulong owned, const REAL dt, __global const int *restrict offset,
                            __global const int *restrict entry, __global const REAL *restrict eroded,
                            __global REAL *restrict active, __global const REAL *restrict eroding_force,
                            __global const REAL *restrict velocity, __global REAL *restrict correction)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  REAL any = 0, f0 = 0, f1 = 0, f2 = 0;
  for (int r = offset[n]; r < offset[n + 1]; ++r) {
    const REAL flag = eroded[entry[r] / 8];
    if (flag == 0) any = 1;
    if (flag == 2) {
      const size_t c = (size_t)entry[r] * 3;
      f0 += eroding_force[c];
      f1 += eroding_force[c + 1];
      f2 += eroding_force[c + 2];
    }
  }
  active[n] = any;
  correction[n] -= (f0 * velocity[n * 3] + f1 * velocity[n * 3 + 1] + f2 * velocity[n * 3 + 2]) * dt / 2;
}

/* Node forces from corner forces: node n adds the corners of its elements in ascending global
 * element id (the mesh's node_element CSR, entry = element * 8 + corner), owned and ghost
 * elements alike, so a node's sum is the same bits on any partition. */
__kernel void gather_corner_forces(const ulong owned, __global const int *restrict offset,
                                   __global const int *restrict entry, __global const REAL *restrict corner_force,
                                   __global REAL *restrict node_force)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  REAL f0 = 0, f1 = 0, f2 = 0;
  for (int r = offset[n]; r < offset[n + 1]; ++r) {
    const size_t c = (size_t)entry[r] * 3;
    f0 += corner_force[c];
    f1 += corner_force[c + 1];
    f2 += corner_force[c + 2];
  }
  node_force[n * 3] = f0;
  node_force[n * 3 + 1] = f1;
  node_force[n * 3 + 2] = f2;
}

/* One central-difference step of the owned nodes, velocity (leapfrog) form, valid for a step that
 * changes: with dt_mean = (dt_previous + dt) / 2 (dt / 2 on the first step, from v^0),
 *   free DOF:       v^{n+1/2} = ((1 - c dt_mean/2) v^{n-1/2} + dt_mean (f_ext - f_int)/m) / (1 + c dt_mean/2)
 *   prescribed DOF: v^{n+1/2} = (u_prescribed(t^{n+1}) - u^n) / dt
 *   u^{n+1} = u^n + dt v^{n+1/2}  (a prescribed DOF takes its value exactly)
 * with c the mass-proportional damping rate and f_int including the elastic foundation's springs.
 * It also writes this node's share of the energy balance AT t^n (all of which needs v^{n+1/2}):
 *   terms[0] kinetic energy 1/2 m |v^n|^2, v^n = (v^{n-1/2} + v^{n+1/2}) / 2 (v^0 on the first step)
 *   terms[1] external work over [t^{n-1}, t^n]: 1/2 (F^{n-1} + F^n) . dt_previous v^{n-1/2}, with F
 *            the applied force (f_ext, and at prescribed DOFs the reaction that enforces them,
 *            m a^n + c m v^n + f_int - f_ext); F^n is kept in applied_force for the next step
 *   terms[2] damping dissipation over [t^{n-1}, t^n]: c m |v^{n-1/2}|^2 dt_previous (midpoint rule)
 *   terms[3] foundation energy 1/2 k |u^n|^2
 *   terms[4] squared out-of-balance force |f_ext - f_int|^2 over free DOFs (dynamic relaxation)
 *   terms[5] squared internal force |f_int|^2 over all DOFs (its scale)
 *   terms[6] du . (f_int^n - f_int^{n-1}) and terms[7] du . m du over free DOFs, du = u^n - u^{n-1},
 *            both times rayleigh_scale: their ratio is the Rayleigh quotient of M^-1 K along the
 *            last increment, which dynamic relaxation uses as its estimate of the lowest eigenvalue
 *            (the slowest mode is what is left once the others have been damped); previous_force
 *            keeps f_int^n for it. The scale (the host's 1 / (m du^2) of the last step) keeps both
 *            near 1: near convergence m du^2 falls below float's smallest number (1e-38)
 * All are summed by host/reduce (exact, so the same bits on any partition).
 * dof_kind: 0 free, 1 prescribed to load_factor * dof_target.
 * Float builds keep each displacement as an unevaluated sum hi + lo of two floats (displacement
 * holds hi, which the forces see; displacement_low holds lo): the increment dt v is added
 * exactly (TwoSum) and renormalised, so the accumulated displacement carries about 48 bits,
 * while a plain float sum would lose the increments of a slow load (a 1e-11 m step on 1e-4 m
 * is below float's 6e-8 resolution: PHYSICS.md 9.4). Double builds do not touch displacement_low. */
#define TERM_COUNT 8
__kernel void central_difference(const ulong owned, const REAL dt_previous, const REAL dt, const REAL damping,
                                 const REAL load_factor, const REAL rayleigh_scale, __global const REAL *restrict mass,
                                 __global const REAL *restrict spring, __global const uchar *restrict dof_kind,
                                 __global const REAL *restrict dof_target, __global const REAL *restrict internal_force,
                                 __global const REAL *restrict external_force, __global REAL *restrict displacement,
                                 __global REAL *restrict displacement_low, __global REAL *restrict velocity, __global REAL *restrict applied_force,
                                 __global REAL *restrict previous_force, __global REAL *restrict terms)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  const int first = dt_previous == 0;
  const REAL dt_mean = first ? dt / 2 : (dt_previous + dt) / 2, m = mass[n], k = spring[n];
  REAL t[TERM_COUNT];
  for (int i = 0; i < TERM_COUNT; ++i) t[i] = 0;
  for (int d = 0; d < 3; ++d) {
    const size_t dof = n * 3 + d;
    const REAL u = displacement[dof], v_old = velocity[dof];
    const REAL f_int = internal_force[dof] + k * u, f_ext = external_force[dof], f_net = f_ext - f_int;
    REAL v_new, F;
    if (dof_kind[dof]) {
      const REAL target = load_factor * dof_target[dof];
      v_new = (target - u) / dt;
      const REAL v_mid = first ? v_old : (v_old + v_new) / 2;
      F = m * (v_new - v_old) / dt_mean + damping * m * v_mid + f_int;
      displacement[dof] = target;
#if !REAL_IS_DOUBLE
      displacement_low[dof] = 0;
#endif
    } else {
      v_new = ((1 - damping * dt_mean / 2) * v_old + dt_mean * f_net / m) / (1 + damping * dt_mean / 2);
      F = f_ext;
#if REAL_IS_DOUBLE
      displacement[dof] = u + dt * v_new;
#else
      const REAL increment = dt * v_new, sum = u + increment, back = sum - increment;
      const REAL error = (u - back) + (increment - (sum - back)); /* TwoSum: u + increment = sum + error */
      const REAL low = displacement_low[dof] + error, high = sum + low;
      displacement[dof] = high;
      displacement_low[dof] = low - (high - sum); /* Fast2Sum: |sum| >= |low| */
#endif
      t[4] += f_net * f_net;
      const REAL du = dt_previous * v_old, scaled = rayleigh_scale * du;
      t[6] += scaled * (f_int - previous_force[dof]);
      t[7] += scaled * (m * du);
    }
    const REAL v_now = first ? v_old : (v_old + v_new) / 2;
    t[0] += m * v_now * v_now / 2;
    t[1] += (applied_force[dof] + F) / 2 * dt_previous * v_old;
    t[2] += damping * m * v_old * v_old * dt_previous;
    t[3] += k * u * u / 2;
    t[5] += f_int * f_int;
    velocity[dof] = v_new;
    applied_force[dof] = F;
    previous_force[dof] = f_int;
  }
  for (int i = 0; i < TERM_COUNT; ++i) terms[n * TERM_COUNT + i] = t[i];
}

/* Follower pressure on element faces: face f's 4 corners (counter-clockwise seen from outside the
 * body) at x = X + u carry f_a = -p integral N_a n da, with n da = x_s x x_t ds dt on the bilinear
 * face (2x2 Gauss: exact, the integrand is at most cubic in s and t). p > 0 pushes into the body
 * (a fluid in a cavity). Writes face_force [f*12]. */
__kernel void pressure_faces(const ulong count, const REAL pressure, __global const REAL *restrict face_reference,
                             __global const int *restrict face_nodes, __global const REAL *restrict displacement,
                             __global REAL *restrict face_force)
{
  const size_t f = get_global_id(0);
  if (f >= count) return;
  REAL x[12], out[12];
  for (int a = 0; a < 4; ++a) {
    const size_t node = (size_t)face_nodes[f * 4 + a];
    for (int d = 0; d < 3; ++d) {
      x[3 * a + d] = face_reference[f * 12 + 3 * a + d] + displacement[node * 3 + d];
      out[3 * a + d] = 0;
    }
  }
  const REAL g = (REAL)0.57735026918962576451;
  const REAL ss[4] = {-1, 1, 1, -1}, ts[4] = {-1, -1, 1, 1};
  for (int q = 0; q < 4; ++q) {
    const REAL s = ss[q] * g, t = ts[q] * g;
    REAL xs[3] = {0, 0, 0}, xt[3] = {0, 0, 0}, N[4];
    for (int a = 0; a < 4; ++a) {
      N[a] = (1 + ss[a] * s) * (1 + ts[a] * t) / 4;
      for (int d = 0; d < 3; ++d) {
        xs[d] += ss[a] * (1 + ts[a] * t) / 4 * x[3 * a + d];
        xt[d] += ts[a] * (1 + ss[a] * s) / 4 * x[3 * a + d];
      }
    }
    const REAL n[3] = {xs[1] * xt[2] - xs[2] * xt[1], xs[2] * xt[0] - xs[0] * xt[2], xs[0] * xt[1] - xs[1] * xt[0]};
    for (int a = 0; a < 4; ++a)
      for (int d = 0; d < 3; ++d) out[3 * a + d] -= pressure * N[a] * n[d];
  }
  for (int k = 0; k < 12; ++k) face_force[f * 12 + k] = out[k];
}

/* External node forces: the constant part plus the node's pressure-face corners in ascending
 * (global element id, face) (a CSR built on the host, entry = face * 4 + corner), so the same bits
 * on any partition. */
__kernel void gather_external(const ulong owned, __global const int *restrict offset, __global const int *restrict entry,
                              __global const REAL *restrict face_force, __global const REAL *restrict constant_force,
                              __global REAL *restrict external_force)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  REAL f0 = constant_force[n * 3], f1 = constant_force[n * 3 + 1], f2 = constant_force[n * 3 + 2];
  for (int r = offset[n]; r < offset[n + 1]; ++r) {
    const size_t c = (size_t)entry[r] * 3;
    f0 += face_force[c];
    f1 += face_force[c + 1];
    f2 += face_force[c + 2];
  }
  external_force[n * 3] = f0;
  external_force[n * 3 + 1] = f1;
  external_force[n * 3 + 2] = f2;
}

/* The needles' contact forces on top of the other external forces: external = base + contact
 * (base is the external forces themselves when pressure faces rebuilt them this evaluation, the
 * constant forces otherwise; so no restrict here). */
__kernel void add_contact(const ulong owned, __global const REAL *base, __global const REAL *contact,
                          __global REAL *external_force)
{
  const size_t i = get_global_id(0);
  if (i >= owned * 3) return;
  external_force[i] = base[i] + contact[i];
}

/* Output per element (13 REALs at [e*13]): the volume-averaged Cauchy stress (9, row-major)
 * sigma_bar = (1/v) sum_q w_q det F_q sigma_q with sigma_q = F_q S_dev F_q^T / det F_q + p I
 * (p = kappa (J_bar - 1), the element's one pressure), its von Mises stress sqrt(3/2 s:s), and
 * the principal stretches of the volume-averaged F_bar = (1/V) sum_q w_q F_q, largest first.
 * An inverted element gives zeros. */
__kernel void element_output(const ulong count, __global const REAL *restrict reference_corners,
                             __global const int *restrict element_nodes, __global const REAL *restrict displacement,
                             __global const int *restrict element_material, __global const REAL *restrict materials,
                             __global REAL *restrict output)
{
  const size_t e = get_global_id(0);
  if (e >= count) return;
  REAL X[24], u[24], sigma[9], Fbar[9];
  for (int k = 0; k < 24; ++k) X[k] = reference_corners[e * 24 + k];
  for (int c = 0; c < 8; ++c) {
    const size_t node = (size_t)element_nodes[e * 8 + c];
    for (int d = 0; d < 3; ++d) u[3 * c + d] = displacement[node * 3 + d];
  }
  for (int k = 0; k < 9; ++k) sigma[k] = Fbar[k] = 0;
  const int m = element_material[e];
  const REAL model = materials[MATERIAL_STRIDE * m], mu = materials[MATERIAL_STRIDE * m + 1],
             alpha = materials[MATERIAL_STRIDE * m + 2], kappa = materials[MATERIAL_STRIDE * m + 3];
  REAL V = 0, v = 0;
  int inverted = 0;
  for (int q = 0; q < 8; ++q) {
    REAL dNdX[24], F[9];
    const REAL w = hex_gradients(X, q, dNdX);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? (REAL)1 : (REAL)0;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[3 * k + j];
        F[3 * i + j] = sum;
      }
    const REAL detF = det3(F);
    inverted |= !(detF > 0);
    V += w;
    v += w * detF;
    for (int k = 0; k < 9; ++k) Fbar[k] += w * F[k];
  }
  if (inverted) {
    for (int k = 0; k < 13; ++k) output[e * 13 + k] = 0;
    return;
  }
  const REAL pressure = kappa * (v / V - 1);
  for (int q = 0; q < 8; ++q) {
    REAL dNdX[24], F[9], C[9], S[9], FS[9], s;
    const REAL w = hex_gradients(X, q, dNdX);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? (REAL)1 : (REAL)0;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[3 * k + j];
        F[3 * i + j] = sum;
      }
    right_cauchy_green(F, C);
    const REAL detF = det3(F);
    deviatoric(model, mu, alpha, C, detF, S, &s);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[3 * i + k] * S[3 * k + j];
        FS[3 * i + j] = sum;
      }
    /* w det F sigma_q = w (F S F^T + det F p I) */
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? detF * pressure : (REAL)0;
        for (int k = 0; k < 3; ++k) sum += FS[3 * i + k] * F[3 * j + k];
        sigma[3 * i + j] += w * sum;
      }
  }
  REAL mean = 0, s2 = 0, Cbar[9], stretch2[3], vectors[9];
  for (int k = 0; k < 9; ++k) {
    sigma[k] /= v;
    Fbar[k] /= V;
  }
  for (int i = 0; i < 3; ++i) mean += sigma[4 * i] / 3;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const REAL dev = sigma[3 * i + j] - (i == j ? mean : (REAL)0);
      s2 += dev * dev;
      REAL sum = 0;
      for (int k = 0; k < 3; ++k) sum += Fbar[3 * k + i] * Fbar[3 * k + j];
      Cbar[3 * i + j] = sum;
    }
  symmetric_eigen3(Cbar, stretch2, vectors);
  REAL l0 = sqrt(stretch2[0]), l1 = sqrt(stretch2[1]), l2 = sqrt(stretch2[2]), t;
  if (l0 < l1) { t = l0; l0 = l1; l1 = t; }
  if (l1 < l2) { t = l1; l1 = l2; l2 = t; }
  if (l0 < l1) { t = l0; l0 = l1; l1 = t; }
  for (int k = 0; k < 9; ++k) output[e * 13 + k] = sigma[k];
  output[e * 13 + 9] = sqrt((REAL)1.5 * s2);
  output[e * 13 + 10] = l0;
  output[e * 13 + 11] = l1;
  output[e * 13 + 12] = l2;
}
