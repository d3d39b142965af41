/* solver: the vector steps of host/solver's preconditioned conjugate gradients, for
 * SPECIES_COUNT independent systems whose vectors are interleaved ([node * S + s]). Each system
 * has its own alpha and beta (arrays of S in device memory); a system that has converged gets
 * alpha = beta = 0 and stops changing, so a batched solve gives the same bits per species as S
 * single solves. The element count n counts REALs (nodes * S).
 * Build options (host/clrt): -DREAL=... -DREAL_IS_DOUBLE=... -DSPECIES_COUNT=S. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#ifndef SPECIES_COUNT
#define SPECIES_COUNT 1
#endif
#define S SPECIES_COUNT

/* r = b - q (q = A x0), z = D^-1 r, p = z. */
__kernel void cg_start(const ulong n, __global const REAL *restrict b, __global const REAL *restrict q,
                       __global const REAL *restrict inverse_diagonal, __global REAL *restrict r,
                       __global REAL *restrict z, __global REAL *restrict p)
{
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const REAL residual = b[i] - q[i];
  const REAL preconditioned = inverse_diagonal[i] * residual;
  r[i] = residual;
  z[i] = preconditioned;
  p[i] = preconditioned;
}

/* z = D^-1 b (for the preconditioned norm of b). */
__kernel void cg_precondition(const ulong n, __global const REAL *restrict inverse_diagonal,
                              __global const REAL *restrict b, __global REAL *restrict z)
{
  const size_t i = get_global_id(0);
  if (i < n) z[i] = inverse_diagonal[i] * b[i];
}

/* x += alpha p, r -= alpha q, z = D^-1 r: one pass over the five vectors. */
__kernel void cg_update(const ulong n, __global const REAL *restrict alpha, __global const REAL *restrict p,
                        __global const REAL *restrict q, __global const REAL *restrict inverse_diagonal,
                        __global REAL *restrict x, __global REAL *restrict r, __global REAL *restrict z)
{
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const REAL a = alpha[i % S];
  const REAL residual = r[i] - a * q[i];
  x[i] = x[i] + a * p[i];
  r[i] = residual;
  z[i] = inverse_diagonal[i] * residual;
}

/* p = z + beta p */
__kernel void cg_direction(const ulong n, __global const REAL *restrict beta, __global const REAL *restrict z,
                           __global REAL *restrict p)
{
  const size_t i = get_global_id(0);
  if (i < n) p[i] = z[i] + beta[i % S] * p[i];
}

/* t = u * v element-wise: the rounded products of a per-species dot product, summed per species
 * by host/reduce (the same bits as pp_reduce_dot on one species). */
__kernel void cg_products(const ulong n, __global const REAL *restrict u, __global const REAL *restrict v,
                          __global REAL *restrict t)
{
  const size_t i = get_global_id(0);
  if (i < n) t[i] = u[i] * v[i];
}
