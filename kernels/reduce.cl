/* reduce: the device half of host/reduce (exact, order-independent sums; exact min and max).
 * host/reduce builds it behind kernels/exact_sum.cl, which holds the exact accumulator, the work
 * distribution and the group partials (see there).
 *
 * Min/max compare integer keys made from the bits (see real_key), which order -0 before +0 and
 * do not depend on how a compiler or device treats fmin/fmax of zeros and NaNs.
 *
 * Build options: those of exact_sum.cl (-DREDUCE_LOCAL_SIZE, -DREDUCE_LIMBS, -DREDUCE_SLOTS,
 * -DREDUCE_EXPANSION, -DEXACT_SUM_COMPONENTS: 1 for every kernel but reduce_dot, which host/reduce
 * builds once per component count). */

/* reduce_sum's additions over elements first + i * stride, i in [i, end) in steps of step
 * (spacing = step * stride apart). Called twice, once with constant ones for the contiguous case:
 * only there can the compiler turn load8's eight loads into one vector load. */
static inline __attribute__((always_inline)) void add_values(exact_sum *sum, __global const REAL *restrict x,
                                                             ulong i, const ulong end, const ulong step,
                                                             const ulong first, const ulong stride,
                                                             const ulong spacing)
{
  for (; i + 7 * step < end; i += 8 * step) exact_sum_add8(sum, 0, load8(x, first + i * stride, spacing));
  for (; i < end; i += step) exact_sum_add(sum, 0, x[first + i * stride]);
}

/* partials[group][slot] = exact sum of x[offset + i*stride] over this group's i < n (built with
 * one component). */
__kernel __attribute__((reqd_work_group_size(REDUCE_LOCAL_SIZE, 1, 1)))
void reduce_sum(const ulong n, const ulong offset, const ulong stride, const ulong chunk,
                __global const REAL *restrict x, __global long *restrict partials)
{
  __local long stage[EXACT_SUM_STAGE];
  long acc[EXACT_SUM_SLOTS];
  exact_sum sum;
  exact_sum_init(&sum, acc);
  ulong begin, end, step;
  exact_sum_range(n, chunk, &begin, &end, &step);
  if (step * stride == 1) add_values(&sum, x, begin, end, 1, offset, 1, 1);
  else add_values(&sum, x, begin, end, step, offset, stride, step * stride);
  exact_sum_write_partial(&sum, stage, partials);
}

/* Dot products of C = EXACT_SUM_COMPONENTS interleaved pairs: partials[group][c][slot] = exact sum
 * of the rounded products x[i*C + c] * y[i*C + c] (FP_CONTRACT off) over this group's i < n. A
 * work-item's nodes are contiguous elements in the blocked layout: eight at a time through the
 * phases of exact_sum_add8; in the strided layout node by node. */
__kernel __attribute__((reqd_work_group_size(REDUCE_LOCAL_SIZE, 1, 1)))
void reduce_dot(const ulong n, const ulong chunk, __global const REAL *restrict x, __global const REAL *restrict y,
                __global long *restrict partials)
{
  __local long stage[EXACT_SUM_STAGE];
  long acc[EXACT_SUM_SLOTS];
  exact_sum sum;
  exact_sum_init(&sum, acc);
  ulong begin, end, step;
  exact_sum_range(n, chunk, &begin, &end, &step);
  const ulong C = EXACT_SUM_COMPONENTS;
  if (step == 1) {
    ulong e = begin * C;
    const ulong stop = end * C;
    for (; e + 8 * EXACT_SUM_PHASES <= stop; e += 8 * EXACT_SUM_PHASES)
#pragma unroll
      for (int phase = 0; phase < EXACT_SUM_PHASES; ++phase) {
        const ulong f = e + 8 * (ulong)phase;
        exact_sum_add8(&sum, phase, load8(x, f, 1) * load8(y, f, 1));
      }
    for (; e < stop; ++e) exact_sum_add(&sum, (uint)(e % C), x[e] * y[e]);
  } else {
    for (ulong i = begin; i < end; i += step)
      for (uint c = 0; c < C; ++c) exact_sum_add(&sum, c, x[i * C + c] * y[i * C + c]);
  }
  exact_sum_write_partial(&sum, stage, partials);
}

/* total[c][slot] = sum over the groups g of partials[g][c][slot]; one work-item per (component,
 * slot). */
__kernel void reduce_sum_combine(const uint group_count, const uint components, __global const long *restrict partials,
                                 __global long *restrict total)
{
  const uint item = get_global_id(0);
  if (item >= components * REDUCE_SLOTS) return;
  long sum = 0;
  for (uint g = 0; g < group_count; ++g) sum += partials[(ulong)g * components * REDUCE_SLOTS + item];
  total[item] = sum;
}

/* An integer with the order of the REAL values (-0 before +0): the bits themselves for a clear
 * sign bit, the bits with the magnitude flipped for a set one. Widened to long for float. */
static inline long real_key(const REAL x)
{
#if REAL_IS_DOUBLE
  const long bits = as_long(x);
  return bits >= 0 ? bits : bits ^ 0x7FFFFFFFFFFFFFFFL;
#else
  const int bits = as_int(x);
  return (long)(bits >= 0 ? bits : bits ^ 0x7FFFFFFF);
#endif
}

/* partials[group] = {min key, max key, NaN count} of x[offset + i*stride] over this group's i < n.
 * An empty group gives {key(+Inf), key(-Inf), 0}, the identities. */
__kernel __attribute__((reqd_work_group_size(REDUCE_LOCAL_SIZE, 1, 1)))
void reduce_min_max(const ulong n, const ulong offset, const ulong stride, const ulong chunk,
                    __global const REAL *restrict x, __global long *restrict partials)
{
  __local long low_keys[REDUCE_LOCAL_SIZE], high_keys[REDUCE_LOCAL_SIZE], nans[REDUCE_LOCAL_SIZE];
  long low = real_key((REAL)INFINITY), high = real_key(-(REAL)INFINITY), nan_count = 0;
  ulong begin, end, step;
  exact_sum_range(n, chunk, &begin, &end, &step);
  for (ulong i = begin; i < end; i += step) {
    const REAL v = x[offset + i * stride];
    if (isnan(v)) {
      nan_count += 1;
    } else {
      const long key = real_key(v);
      low = min(low, key);
      high = max(high, key);
    }
  }
  const uint lid = get_local_id(0);
  low_keys[lid] = low;
  high_keys[lid] = high;
  nans[lid] = nan_count;
  barrier(CLK_LOCAL_MEM_FENCE);
  /* Tree over the group; REDUCE_LOCAL_SIZE is a power of two (host/reduce checks). */
  for (uint width = REDUCE_LOCAL_SIZE / 2; width > 0; width /= 2) {
    if (lid < width) {
      low_keys[lid] = min(low_keys[lid], low_keys[lid + width]);
      high_keys[lid] = max(high_keys[lid], high_keys[lid + width]);
      nans[lid] += nans[lid + width];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) {
    __global long *out = partials + (ulong)get_group_id(0) * 3;
    out[0] = low_keys[0];
    out[1] = high_keys[0];
    out[2] = nans[0];
  }
}
