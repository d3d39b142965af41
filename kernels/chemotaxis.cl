/* chemotaxis: fibroblast transport by random motility and chemotaxis (host/diffusion.h, "fibroblast
 * transport"), the Scharfetter-Gummel edge flux in its symmetrically scaled form:
 *   A v = M n / (h dt),  h_a = exp((psi_a - c) / 2),  n' = h v,
 *   A_aa = M_a / dt + sum_b D T_ab B(-delta_ab),  A_ab = -D T_ab s_ab,  s_ab = B(-d) exp(-d/2),
 * delta_ab = psi_b - psi_a, d = |delta_ab|, B(x) = x / (e^x - 1).
 * Node n holds, per edge slot (+x -x +y -y +z -z, as kernels/diffusion.cl), the neighbour's local
 * index and the geometric conductance T (0 and the node itself where there is no edge).
 * Build options (host/clrt): -DREAL=... -DREAL_IS_DOUBLE=... */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* B(x) = x / (e^x - 1), B(0) = 1. Near 0 its Taylor series (Bernoulli numbers: 1, -1/2, 1/6, 0,
 * -1/30, 0, 1/42, 0, -1/30), truncated after x^8: the next term, 5/66 x^10 / 10!, is below 2e-18
 * relative for |x| < 0.1. Elsewhere x / expm1(x): expm1 is accurate to a few ulp (OpenCL 1.2
 * section 7.4, no relaxed math), gives +inf beyond x ~ 709.8 (then B = 0, its limit) and -1 for
 * x below -37 (then B = -x); no overflow, no 0/0. */
static REAL bernoulli(const REAL x)
{
  if (fabs(x) < (REAL)0.1) {
    const REAL x2 = x * x;
    return (REAL)1 - x / (REAL)2 +
           x2 * ((REAL)1 / (REAL)12 + x2 * ((REAL)-1 / (REAL)720 + x2 * ((REAL)1 / (REAL)30240 - x2 / (REAL)1209600)));
  }
  return x / expm1(x);
}

/* psi[n] = scale * g[offset + n * stride] for the owned nodes (scale = chi / D_n). */
__kernel void chemotaxis_potential(const ulong count, const ulong offset, const ulong stride, const REAL scale,
                                   __global const REAL *restrict g, __global REAL *restrict psi)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  psi[n] = scale * g[offset + n * stride];
}

/* The step's matrix from psi (owned and ghost values current): per owned node the couplings
 * D T s (slot order), the diagonal M / dt + sum D T B(-delta) and its inverse (Jacobi), the scale
 * h = exp((psi - shift) / 2), and the largest |delta| of its edges (contrast).
 * Bits: d = max - min of the two end values and T (summed on the host in element order) are the
 * same at both ends of an edge, so is the coupling: the matrix is symmetric in bits. The term
 * B(-delta) is B(-d) at the lower end (delta = d >= 0) and B(-d) e^-d = s e^(-d/2) at the upper one:
 * B(-d) in [1, 1 + d] and e^(-d/2) in (0, 1], so no product overflows; the zero-flux identity
 * B(-delta) = s e^(delta/2) holds to a few ulp at both ends. */
__kernel void chemotaxis_weights(const ulong count, const REAL inverse_dt, const REAL motility, const REAL shift,
                                 __global const int *restrict neighbour, __global const REAL *restrict conductance,
                                 __global const REAL *restrict mass, __global const REAL *restrict psi,
                                 __global REAL *restrict coupling, __global REAL *restrict diagonal,
                                 __global REAL *restrict inverse_diagonal, __global REAL *restrict half_factor,
                                 __global REAL *restrict contrast)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  const REAL pn = psi[n];
  REAL sum = mass[n] * inverse_dt, largest = 0;
  for (int slot = 0; slot < 6; ++slot) {
    const size_t k = n * 6 + slot;
    const REAL pm = psi[neighbour[k]];
    const REAL d = fmax(pn, pm) - fmin(pn, pm);
    const REAL b = bernoulli(-d), e = exp(-d / (REAL)2), s = b * e;
    const REAL g = motility * conductance[k];
    coupling[k] = g * s;
    sum += g * (pm >= pn ? b : s * e);
    if (g > (REAL)0) largest = fmax(largest, d);
  }
  diagonal[n] = sum;
  inverse_diagonal[n] = (REAL)1 / sum;
  half_factor[n] = exp((pn - shift) / (REAL)2);
  contrast[n] = largest;
}

/* Right-hand side b = M v0 / dt and the initial guess v0 = n / h (the field scaled). */
__kernel void chemotaxis_rhs(const ulong count, const REAL inverse_dt, __global const REAL *restrict mass,
                             __global const REAL *restrict half_factor, __global const REAL *restrict field,
                             __global REAL *restrict v, __global REAL *restrict b)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  const REAL scaled = field[n] / half_factor[n];
  v[n] = scaled;
  b[n] = mass[n] * scaled * inverse_dt;
}

/* y = A x at the count nodes listed (list[i] a local owned node index): the diagonal term, then
 * the six couplings in slot order (a fixed order: the same bits on any rank count). */
__kernel void chemotaxis_apply(const ulong count, __global const int *restrict list,
                               __global const int *restrict neighbour, __global const REAL *restrict coupling,
                               __global const REAL *restrict diagonal, __global const REAL *restrict x,
                               __global REAL *restrict y)
{
  const size_t i = get_global_id(0);
  if (i >= count) return;
  const size_t n = (size_t)list[i];
  REAL sum = diagonal[n] * x[n];
  for (int slot = 0; slot < 6; ++slot) sum -= coupling[n * 6 + slot] * x[neighbour[n * 6 + slot]];
  y[n] = sum;
}

/* n' = h v. */
__kernel void chemotaxis_unscale(const ulong count, __global const REAL *restrict half_factor,
                                 __global const REAL *restrict v, __global REAL *restrict field)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  field[n] = half_factor[n] * v[n];
}

/* The step's residual in the fibroblasts' own rows: R = h (b - A v) is the residual of
 * M n'/dt + K_n n' = M n/dt (K_n the drift-diffusion operator), whose column sums are those of M/dt,
 * so sum |R| bounds both the change of the total number and sum M |n' - n*| / dt. terms[2n] = |R|,
 * terms[2n + 1] = h |b| (= M |n| / dt). */
__kernel void chemotaxis_residual_terms(const ulong count, __global const REAL *restrict half_factor,
                                        __global const REAL *restrict b, __global const REAL *restrict product,
                                        __global REAL *restrict terms)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  terms[2 * n] = half_factor[n] * fabs(b[n] - product[n]);
  terms[2 * n + 1] = half_factor[n] * fabs(b[n]);
}

/* product[n] = mass[n] * field[n]: the terms of the total number, summed by host/reduce. */
__kernel void chemotaxis_mass_terms(const ulong count, __global const REAL *restrict mass,
                                    __global const REAL *restrict field, __global REAL *restrict product)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  product[n] = mass[n] * field[n];
}
