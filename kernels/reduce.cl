/* reduce: the device half of host/reduce (exact, order-independent sums; exact min and max).
 *
 * Sum: every REAL x is m * 2^(q - 1074) with an integer mantissa m < 2^53 and a bit position
 * q in [0, 2045] (subnormals included; for float data q stays in [925, 1178]). m shifted by q
 * is added into a fixed-point accumulator of REDUCE_LIMBS limbs; limb j has the weight
 * 2^(32 j - 1074) and holds a signed 64-bit count of such units. A value touches three limbs and
 * adds less than 2^32 to each, so 2^30 additions cannot overflow a limb that starts below 2^32;
 * after at most that many the accumulator is normalised (carries moved up, every limb but the
 * top one back into [0, 2^32)). All of it is integer arithmetic, so the partial sums of any
 * split of the data, added in any order, are the same integers: that is where the identical
 * bits on any number of ranks and work-groups come from. NaN, +Inf and -Inf are counted in
 * three extra slots. The work-group then adds its work-items' accumulators (normalised, so a
 * group of up to 2^20 work-items cannot overflow) and writes one partial per group;
 * reduce_sum_combine adds the partials (up to 2^20 groups).
 *
 * Min/max compare integer keys made from the bits (see real_key), which order -0 before +0 and
 * do not depend on how a compiler or device treats fmin/fmax of zeros and NaNs.
 *
 * Work distribution: a work-item takes either a contiguous block of `chunk` elements (chunk > 0;
 * good on CPUs) or every global_size-th element (chunk == 0; coalesced on GPUs). Either way the
 * bits of the result are the same.
 *
 * Build options (host/clrt, host/reduce): -DREAL=double|float -DREAL_IS_DOUBLE=1|0
 * -DREDUCE_LOCAL_SIZE=L (the fixed work-group size; local arrays are sized by it)
 * -DREDUCE_LIMBS=66 -DREDUCE_SLOTS=69 (limbs, then the NaN, +Inf, -Inf counts). */

/* Contraction fixed off: dot products round x*y once, as the host reference does. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if !defined(REDUCE_LOCAL_SIZE) || !defined(REDUCE_LIMBS) || !defined(REDUCE_SLOTS)
#error "reduce.cl needs -DREDUCE_LOCAL_SIZE, -DREDUCE_LIMBS and -DREDUCE_SLOTS (host/reduce.c passes them)"
#endif

#define SLOT_NAN REDUCE_LIMBS
#define SLOT_POS_INF (REDUCE_LIMBS + 1)
#define SLOT_NEG_INF (REDUCE_LIMBS + 2)
#define DIGIT_MASK 0xFFFFFFFFUL
/* Additions between normalisations: each adds < 2^32 to a limb, a limb starts < 2^32. */
#define NORMALISE_PERIOD (1UL << 30)
/* Slots staged in local memory at a time: 16 KiB of scratch whatever the work-group size. */
#define STAGE_SLOTS (REDUCE_LOCAL_SIZE >= 2048 ? 1 : 2048 / REDUCE_LOCAL_SIZE)

/* Add x to the accumulator acc (REDUCE_SLOTS longs). */
static inline void accumulate(long *acc, const REAL x)
{
#if REAL_IS_DOUBLE
  const ulong bits = as_ulong(x);
  const uint biased = (uint)(bits >> 52) & 0x7FFu;
  const ulong fraction = bits & 0xFFFFFFFFFFFFFUL;
  const int negative = (int)(bits >> 63);
  if (biased == 0x7FFu) {
    acc[fraction ? SLOT_NAN : (negative ? SLOT_NEG_INF : SLOT_POS_INF)] += 1;
    return;
  }
  /* normal: m = 1.f * 2^52, exponent biased - 1075, so q = biased - 1; subnormal: q = 0 */
  const ulong m = biased ? (fraction | (1UL << 52)) : fraction;
  const uint q = biased ? biased - 1u : 0u;
#else
  const uint bits = as_uint(x);
  const uint biased = (bits >> 23) & 0xFFu;
  const uint fraction = bits & 0x7FFFFFu;
  const int negative = (int)(bits >> 31);
  if (biased == 0xFFu) {
    acc[fraction ? SLOT_NAN : (negative ? SLOT_NEG_INF : SLOT_POS_INF)] += 1;
    return;
  }
  /* normal: exponent biased - 150, q = biased - 150 + 1074; subnormal: exponent -149 */
  const ulong m = biased ? (ulong)(fraction | (1u << 23)) : (ulong)fraction;
  const uint q = biased ? biased + 924u : 925u;
#endif
  const uint limb = q >> 5, shift = q & 31u;
  /* m << shift has up to 84 bits: split m at bit 32 so every piece fits 64 bits. */
  const ulong low = (m & DIGIT_MASK) << shift;                /* < 2^64 */
  const ulong high = (low >> 32) + ((m >> 32) << shift);      /* < 2^53 */
  const long d0 = (long)(low & DIGIT_MASK), d1 = (long)(high & DIGIT_MASK), d2 = (long)(high >> 32);
  if (negative) {
    acc[limb] -= d0;
    acc[limb + 1] -= d1;
    acc[limb + 2] -= d2;
  } else {
    acc[limb] += d0;
    acc[limb + 1] += d1;
    acc[limb + 2] += d2;
  }
}

/* Move carries up: limbs 0 .. LIMBS-2 into [0, 2^32), the top limb keeps the sign. The carry is
 * (a - low) / 2^32, an exact division, so no signed shift (implementation-defined) is needed. */
static inline void normalise(long *acc)
{
  for (int j = 0; j < REDUCE_LIMBS - 1; ++j) {
    const long low = (long)((ulong)acc[j] & DIGIT_MASK);
    acc[j + 1] += (acc[j] - low) / 4294967296L;
    acc[j] = low;
  }
}

/* Which elements this work-item takes: [*begin, *end) in steps of *step. */
static inline void my_range(const ulong n, const ulong chunk, ulong *begin, ulong *end, ulong *step)
{
  const ulong gid = get_global_id(0);
  if (chunk) {
    *begin = gid * chunk;
    *end = min(n, *begin + chunk);
    *step = 1;
  } else {
    *begin = gid;
    *end = n;
    *step = get_global_size(0);
  }
}

/* Add the work-group's accumulators and write them as this group's partial. Slots go through
 * local memory STAGE_SLOTS at a time; the sum over work-items is in any order (integers). */
static inline void write_group_partial(const long *acc, __local long *stage, __global long *partials)
{
  const uint lid = get_local_id(0);
  __global long *out = partials + (ulong)get_group_id(0) * REDUCE_SLOTS;
  for (int first = 0; first < REDUCE_SLOTS; first += STAGE_SLOTS) {
    for (int s = 0; s < STAGE_SLOTS && first + s < REDUCE_SLOTS; ++s) stage[lid * STAGE_SLOTS + s] = acc[first + s];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = lid; s < STAGE_SLOTS && first + s < REDUCE_SLOTS; s += REDUCE_LOCAL_SIZE) {
      long total = 0;
      for (uint w = 0; w < REDUCE_LOCAL_SIZE; ++w) total += stage[w * STAGE_SLOTS + s];
      out[first + s] = total;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

/* partials[group][slot] = exact sum of x[offset + i*stride] over this group's i < n. */
__kernel __attribute__((reqd_work_group_size(REDUCE_LOCAL_SIZE, 1, 1)))
void reduce_sum(const ulong n, const ulong offset, const ulong stride, const ulong chunk,
                __global const REAL *restrict x, __global long *restrict partials)
{
  __local long stage[REDUCE_LOCAL_SIZE * STAGE_SLOTS];
  long acc[REDUCE_SLOTS], acc2[REDUCE_SLOTS];
  for (int j = 0; j < REDUCE_SLOTS; ++j) acc[j] = acc2[j] = 0;
  ulong begin, end, step;
  my_range(n, chunk, &begin, &end, &step);
  while (begin < end) {
    /* at most NORMALISE_PERIOD additions, then carries out */
    const ulong stop = (end - begin) / step > NORMALISE_PERIOD ? begin + NORMALISE_PERIOD * step : end;
    ulong i = begin;
    /* two accumulators break the store-to-load chains through the limbs */
    for (; i + step < stop; i += 2 * step) {
      accumulate(acc, x[offset + i * stride]);
      accumulate(acc2, x[offset + (i + step) * stride]);
    }
    for (; i < stop; i += step) accumulate(acc, x[offset + i * stride]);
    normalise(acc);
    normalise(acc2);
    begin = stop;
  }
  for (int j = 0; j < REDUCE_SLOTS; ++j) acc[j] += acc2[j];
  normalise(acc);
  write_group_partial(acc, stage, partials);
}

/* partials[group][slot] = exact sum of the rounded products x[i]*y[i] over this group's i < n. */
__kernel __attribute__((reqd_work_group_size(REDUCE_LOCAL_SIZE, 1, 1)))
void reduce_dot(const ulong n, const ulong chunk, __global const REAL *restrict x, __global const REAL *restrict y,
                __global long *restrict partials)
{
  __local long stage[REDUCE_LOCAL_SIZE * STAGE_SLOTS];
  long acc[REDUCE_SLOTS], acc2[REDUCE_SLOTS];
  for (int j = 0; j < REDUCE_SLOTS; ++j) acc[j] = acc2[j] = 0;
  ulong begin, end, step;
  my_range(n, chunk, &begin, &end, &step);
  while (begin < end) {
    const ulong stop = (end - begin) / step > NORMALISE_PERIOD ? begin + NORMALISE_PERIOD * step : end;
    ulong i = begin;
    /* products rounded once each: FP_CONTRACT is off */
    for (; i + step < stop; i += 2 * step) {
      accumulate(acc, x[i] * y[i]);
      accumulate(acc2, x[i + step] * y[i + step]);
    }
    for (; i < stop; i += step) accumulate(acc, x[i] * y[i]);
    normalise(acc);
    normalise(acc2);
    begin = stop;
  }
  for (int j = 0; j < REDUCE_SLOTS; ++j) acc[j] += acc2[j];
  normalise(acc);
  write_group_partial(acc, stage, partials);
}

/* total[slot] = sum over the groups of partials[group][slot]; one work-item per slot. */
__kernel __attribute__((reqd_work_group_size(REDUCE_LOCAL_SIZE, 1, 1)))
void reduce_sum_combine(const uint group_count, __global const long *restrict partials,
                        __global long *restrict total)
{
  const uint slot = get_global_id(0);
  if (slot >= REDUCE_SLOTS) return;
  long sum = 0;
  for (uint g = 0; g < group_count; ++g) sum += partials[(ulong)g * REDUCE_SLOTS + slot];
  total[slot] = sum;
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
  my_range(n, chunk, &begin, &end, &step);
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
