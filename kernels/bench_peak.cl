/* bench_peak: floating-point peak of the device (the compute roof of a roofline).
 * Each work-item runs 8 independent chains of dependent fma(): independent chains hide the FMA
 * latency, dependent steps keep the compiler from removing work, and the result is written so
 * nothing is dead code. Each chain is a vector of FMA_WIDTH REALs: CPU OpenCL compilers (PoCL)
 * vectorise across work-items only for simple loops, so on a CPU explicit vectors are what
 * reaches the SIMD units; on a GPU width 1 is the natural choice. The host picks the width from
 * CL_DEVICE_PREFERRED_VECTOR_WIDTH_<REAL> unless told otherwise.
 * Build options: -DREAL=double|float -DREAL_IS_DOUBLE=1|0 -DFMA_WIDTH=1|2|4|8|16 (structure, not
 * physics, so -D is right).
 *
 * With a = 0.5 and b = 0.5 each step is x <- x/2 + 1/2: the distance to the fixed point 1 halves
 * every step and, after enough steps (53 in double, 24 in float), rounds to exactly 1. Every
 * output is then exactly 8 * FMA_WIDTH, which the host checks. a and b come in as arguments so
 * the compiler cannot fold the chains.
 *
 * Flops per work-item (counted by the host): 2 * 8 * FMA_WIDTH * 4 * iterations in the chains,
 * plus 7 * FMA_WIDTH vector additions and FMA_WIDTH - 1 lane additions for the result. */

#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#ifndef FMA_WIDTH
#define FMA_WIDTH 1
#endif
#define PP_CAT_(a, b) a##b
#define PP_CAT(a, b) PP_CAT_(a, b)
#if FMA_WIDTH == 1
#define VREAL REAL
#else
#define VREAL PP_CAT(REAL, FMA_WIDTH)
#endif

/* Start values in [1, 1.5), different in every chain and lane so no two lanes are provably equal
 * (a compiler may shrink a vector whose lanes it can prove equal). */
static VREAL start_value(int chain, REAL offset)
{
  REAL lanes[FMA_WIDTH];
  for (int k = 0; k < FMA_WIDTH; ++k)
    lanes[k] = (REAL)1 + (REAL)(chain * FMA_WIDTH + k + 1) / (REAL)(16 * FMA_WIDTH + 16) + offset;
#if FMA_WIDTH == 1
  return lanes[0];
#else
  return PP_CAT(vload, FMA_WIDTH)(0, lanes);
#endif
}

__kernel void fma_peak(const ulong n, const int iterations, const REAL a, const REAL b, __global REAL *restrict out)
{
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const REAL offset = (REAL)(i % 8) / (REAL)64;
  VREAL x0 = start_value(0, offset), x1 = start_value(1, offset), x2 = start_value(2, offset);
  VREAL x3 = start_value(3, offset), x4 = start_value(4, offset), x5 = start_value(5, offset);
  VREAL x6 = start_value(6, offset), x7 = start_value(7, offset);
  const VREAL va = (VREAL)(a), vb = (VREAL)(b);
#define PP_FMA_STEP                                                                               \
  x0 = fma(x0, va, vb); x1 = fma(x1, va, vb); x2 = fma(x2, va, vb); x3 = fma(x3, va, vb);         \
  x4 = fma(x4, va, vb); x5 = fma(x5, va, vb); x6 = fma(x6, va, vb); x7 = fma(x7, va, vb);
  for (int it = 0; it < iterations; ++it) {
    PP_FMA_STEP PP_FMA_STEP PP_FMA_STEP PP_FMA_STEP
  }
  const VREAL sum = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
#if FMA_WIDTH == 1
  out[i] = sum;
#else
  REAL lanes[FMA_WIDTH];
  PP_CAT(vstore, FMA_WIDTH)(sum, 0, lanes);
  REAL total = lanes[0];
  for (int k = 1; k < FMA_WIDTH; ++k) total += lanes[k];
  out[i] = total;
#endif
}
