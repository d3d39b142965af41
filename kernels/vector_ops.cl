/* vector_ops: element-wise kernels on REAL arrays (fill, copy, scale, add, axpy, triad).
 * Used by the solvers for vector updates and by benchmarks/ as the memory-bandwidth reference
 * (BabelStream's triad). Every kernel takes the element count n first and guards with it,
 * because pp_clrt_launch pads the global size up to a multiple of the work-group size.
 * Build options (host/clrt): -DREAL=double|float -DREAL_IS_DOUBLE=1|0. */

/* Contraction fixed off: a*b+c must round twice on every device and with every rank count, so
 * results do not depend on whether a compiler chose to fuse. Use fma() where fusing is wanted. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* x[i] = value */
__kernel void vector_fill(const ulong n, const REAL value, __global REAL *restrict x)
{
  const size_t i = get_global_id(0);
  if (i < n) x[i] = value;
}

/* dst[i] = src[i] */
__kernel void vector_copy(const ulong n, __global const REAL *restrict src, __global REAL *restrict dst)
{
  const size_t i = get_global_id(0);
  if (i < n) dst[i] = src[i];
}

/* dst[i] = s * src[i] */
__kernel void vector_scale(const ulong n, const REAL s, __global const REAL *restrict src,
                           __global REAL *restrict dst)
{
  const size_t i = get_global_id(0);
  if (i < n) dst[i] = s * src[i];
}

/* c[i] = a[i] + b[i] */
__kernel void vector_add(const ulong n, __global const REAL *restrict a, __global const REAL *restrict b,
                         __global REAL *restrict c)
{
  const size_t i = get_global_id(0);
  if (i < n) c[i] = a[i] + b[i];
}

/* y[i] = y[i] + alpha * x[i] (two roundings: contraction is off) */
__kernel void vector_axpy(const ulong n, const REAL alpha, __global const REAL *restrict x,
                          __global REAL *restrict y)
{
  const size_t i = get_global_id(0);
  if (i < n) y[i] = y[i] + alpha * x[i];
}

/* a[i] = b[i] + s * c[i]: BabelStream's triad, 3 * n * sizeof(REAL) bytes moved */
__kernel void vector_triad(const ulong n, const REAL s, __global const REAL *restrict b,
                           __global const REAL *restrict c, __global REAL *restrict a)
{
  const size_t i = get_global_id(0);
  if (i < n) a[i] = b[i] + s * c[i];
}
