/* exact_sum: the device accumulator of host/reduce's exact, order-independent sums, shared by
 * kernels/reduce.cl and by kernels of other modules that add exact sums as they go (solver.cl's
 * cg_update_dot adds r.z while r and z are in registers). It defines no kernel: host/reduce
 * builds it in front of those sources (pp_reduce_kernel), with the options below.
 *
 * The superaccumulator: every REAL x is m * 2^(q - 1074) with an integer mantissa m < 2^53 and a
 * bit position q in [0, 2045] (subnormals included; for float data q stays in [925, 1178]). m
 * shifted by q is added into a fixed-point accumulator of REDUCE_LIMBS limbs; limb j has the
 * weight 2^(32 j - 1074) and holds a signed 64-bit count of such units. A value touches three
 * limbs and adds less than 2^32 to each, so 2^30 additions cannot overflow a limb that starts
 * at most 2^32; after at most that many the accumulator is normalised (carries moved up, every
 * limb but the top one back into [-1, 2^32]). All of it is integer arithmetic, so the partial
 * sums of any split of the data, added in any order, are the same integers: that is where the
 * identical bits on any number of ranks and work-groups come from. NaN, +Inf and -Inf are counted
 * in three extra slots. The work-group then adds its work-items' accumulators (normalised, so a
 * group of up to 2^20 work-items cannot overflow) and writes one partial per group and component.
 *
 * The expansion in front of it (REDUCE_EXPANSION = K > 0, double only; ExBLAS, Collange et al.
 * 2015): the superaccumulator costs three integer read-modify-writes through a private array per
 * value, about 1 G values/s on a CPU core. So values go eight at a time (one double8) through K
 * levels of Knuth's TwoSum, s = a + x, e = (a - (s - (s - a))) + (x - (s - a)), which replaces a
 * level a by the rounded sum s and passes on the rounding error e EXACTLY (a + x == s + e for
 * finite values without overflow, round to nearest): the levels plus what comes out of the last
 * one always hold the exact sum. What comes out of the last level (rare: an error below about
 * 2^(-53 K) of the running sum) goes to the superaccumulator, and so do, at the end, the levels
 * themselves. The exact sum is therefore unchanged, and so is every bit of the rounded result;
 * only the time differs (vector floating-point adds instead of integer scatter).
 * Kept out of the expansion, straight into the superaccumulator: NaN and +-Inf (TwoSum would turn
 * them into NaN errors) and magnitudes >= 2^980, so no level can overflow: a level holds at most
 * about the sum of the magnitudes it took (< 2^40 values below 2^980: < 2^1021, and TwoSum's
 * intermediates stay within 3 times that). Only for double: a float device may flush subnormal
 * floats, which the conversion to double would have to carry exactly.
 *
 * Components: EXACT_SUM_COMPONENTS = C independent sums of interleaved data (species: element e
 * belongs to component e % C), all added by the work-item that holds the elements, so interleaved
 * vectors are read once, contiguously. A batch of eight consecutive elements starting at a
 * multiple of C has lane k in component k % C; the next batch is shifted by 8 % C, and the pattern
 * comes back after EXACT_SUM_PHASES = C / gcd(8, C) batches (lcm(8, C) elements). So the
 * expansion keeps one set of levels per phase, and each lane of each set only ever sees one
 * component: (8 phase + k) % C.
 *
 * Use in a kernel (REDUCE_LOCAL_SIZE work-items per group):
 *   long acc[EXACT_SUM_SLOTS];  exact_sum sum;  exact_sum_init(&sum, acc);
 *   exact_sum_range(n, chunk, &begin, &end, &step);        this work-item's n-ths (nodes)
 *   contiguous elements eight at a time, cycling the phase: exact_sum_add8(&sum, phase, v);
 *   single elements: exact_sum_add(&sum, component, x);
 *   exact_sum_write_partial(&sum, stage, partials);         once, by every work-item
 * Work distribution: a work-item takes either a contiguous block of `chunk` nodes (chunk > 0, a
 * multiple of 8; good on CPUs) or every items-th one (chunk == 0; coalesced on GPUs). Either way
 * the bits of the result are the same.
 *
 * Build options (host/clrt, host/reduce): -DREAL=double|float -DREAL_IS_DOUBLE=1|0
 * -DREDUCE_LOCAL_SIZE=L (the fixed work-group size; local arrays are sized by it)
 * -DREDUCE_LIMBS=66 -DREDUCE_SLOTS=69 (limbs, then the NaN, +Inf, -Inf counts)
 * -DREDUCE_EXPANSION=K (levels of the expansion, 0: none) -DEXACT_SUM_COMPONENTS=C (1 to 8). */

/* Contraction fixed off: products are rounded once, as the host reference does, and TwoSum is
 * only exact when every operation rounds on its own. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if !defined(REDUCE_LOCAL_SIZE) || !defined(REDUCE_LIMBS) || !defined(REDUCE_SLOTS) || !defined(REDUCE_EXPANSION) || \
    !defined(EXACT_SUM_COMPONENTS)
#error "exact_sum.cl needs -DREDUCE_LOCAL_SIZE, _LIMBS, _SLOTS, _EXPANSION, -DEXACT_SUM_COMPONENTS (host/reduce.c)"
#endif
#if REDUCE_EXPANSION > 0 && !REAL_IS_DOUBLE
#error "the expansion of exact_sum.cl is for double only (host/reduce.c never asks for it in float)"
#endif
#if EXACT_SUM_COMPONENTS < 1 || EXACT_SUM_COMPONENTS > 8
#error "exact_sum.cl: 1 to 8 components"
#endif

#define SLOT_NAN REDUCE_LIMBS
#define SLOT_POS_INF (REDUCE_LIMBS + 1)
#define SLOT_NEG_INF (REDUCE_LIMBS + 2)
#define DIGIT_MASK 0xFFFFFFFFUL
/* Additions between normalisations: each adds < 2^32 to a limb, a limb starts at most 2^32. */
#define NORMALISE_PERIOD (1U << 30)
/* Slots staged in local memory at a time: 16 KiB of scratch whatever the work-group size. */
#define STAGE_SLOTS (REDUCE_LOCAL_SIZE >= 2048 ? 1 : 2048 / REDUCE_LOCAL_SIZE)
/* The __local scratch exact_sum_write_partial needs: declare  __local long stage[EXACT_SUM_STAGE]. */
#define EXACT_SUM_STAGE (REDUCE_LOCAL_SIZE * STAGE_SLOTS)
/* Magnitudes from here on skip the expansion (see above). */
#define EXPANSION_LIMIT 0x1p980

/* C / gcd(8, C): batches of eight until the lanes' components repeat. */
#if EXACT_SUM_COMPONENTS % 8 == 0
#define EXACT_SUM_PHASES (EXACT_SUM_COMPONENTS / 8)
#elif EXACT_SUM_COMPONENTS % 4 == 0
#define EXACT_SUM_PHASES (EXACT_SUM_COMPONENTS / 4)
#elif EXACT_SUM_COMPONENTS % 2 == 0
#define EXACT_SUM_PHASES (EXACT_SUM_COMPONENTS / 2)
#else
#define EXACT_SUM_PHASES EXACT_SUM_COMPONENTS
#endif
/* The component of lane k of a batch in phase `phase`. */
#define LANE_COMPONENT(phase, k) ((8 * (phase) + (k)) % EXACT_SUM_COMPONENTS)

#if REAL_IS_DOUBLE
typedef double8 REAL8;
#else
typedef float8 REAL8;
#endif

/* One work-item's exact sums. The superaccumulators are an array the kernel declares apart
 * (EXACT_SUM_SLOTS longs, COMPONENT_SLOTS per component): limbs are indexed by computed
 * positions, which keeps them in memory, and the expansion's levels can only stay in registers
 * when they are not part of that object. Without the expansion each component has two
 * superaccumulators that take its values alternately: that breaks the store-to-load chains
 * through the limbs (a CPU runs a work-item's loop as one dependent chain). */
#if REDUCE_EXPANSION > 0
#define COMPONENT_SLOTS REDUCE_SLOTS
#else
#define COMPONENT_SLOTS (2 * REDUCE_SLOTS)
#endif
#define EXACT_SUM_SLOTS (EXACT_SUM_COMPONENTS * COMPONENT_SLOTS)
typedef struct {
  long *acc;
#if REDUCE_EXPANSION > 0
  double8 level[EXACT_SUM_PHASES][REDUCE_EXPANSION];
#endif
  uint additions; /* into any one superaccumulator since the last normalisation, at most */
} exact_sum;

/* Add x to the superaccumulator acc (REDUCE_SLOTS longs). */
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

/* Move carries up, keeping the value: limb j becomes its low 32 bits plus the carry out of limb
 * j - 1, all limbs at once (a ripple from limb to limb would be a chain through memory, about ten
 * cycles a limb on a CPU, and every work-item pays it); the top limb keeps its high bits and the
 * sign. Two such passes leave every limb but the top one in [-1, 2^32] (after the first, a limb
 * is below 2^32 plus a carry of magnitude below 2^31; after the second the carries are -1, 0 or
 * 1), which is all the bounds below need. The carry is (a - low) / 2^32, an exact division, so no
 * signed shift (implementation-defined) is needed. */
static inline long low_digit(const long a) { return (long)((ulong)a & DIGIT_MASK); }
static inline long carry_out(const long a) { return (a - low_digit(a)) / 4294967296L; }

static inline void normalise(long *acc)
{
  for (int pass = 0; pass < 2; ++pass) {
    /* downwards, so every carry is taken from a limb not yet rewritten */
    acc[REDUCE_LIMBS - 1] += carry_out(acc[REDUCE_LIMBS - 2]);
    for (int j = REDUCE_LIMBS - 2; j > 0; --j) acc[j] = low_digit(acc[j]) + carry_out(acc[j - 1]);
    acc[0] = low_digit(acc[0]);
  }
}

static inline void exact_sum_normalise(exact_sum *sum)
{
  for (int j = 0; j < EXACT_SUM_SLOTS; j += REDUCE_SLOTS) normalise(sum->acc + j);
  sum->additions = 0;
}

/* Before `count` more additions: normalise first when they could reach the period. */
static inline void exact_sum_make_room(exact_sum *sum, const uint count)
{
  if (sum->additions >= NORMALISE_PERIOD - count) exact_sum_normalise(sum);
  sum->additions += count;
}

/* acc: EXACT_SUM_SLOTS longs of the calling work-item. */
static inline void exact_sum_init(exact_sum *sum, long *acc)
{
  sum->acc = acc;
  for (int j = 0; j < EXACT_SUM_SLOTS; ++j) acc[j] = 0;
#if REDUCE_EXPANSION > 0
#pragma unroll
  for (int phase = 0; phase < EXACT_SUM_PHASES; ++phase)
#pragma unroll
    for (int k = 0; k < REDUCE_EXPANSION; ++k) sum->level[phase][k] = (double8)0;
#endif
  sum->additions = 0;
}

/* Add one value of component c straight into its superaccumulator (single elements). */
static inline void exact_sum_add(exact_sum *sum, const uint c, const REAL x)
{
  exact_sum_make_room(sum, 1);
  accumulate(sum->acc + c * COMPONENT_SLOTS, x);
}

/* Whether any lane of a comparison's result (0 or -1 per lane) is true: an OR tree, which a CPU
 * compiler turns into a mask test; cheaper than the generic any(), which tests lane by lane. */
static inline int any_lane(const long8 mask)
{
  const long4 a = mask.lo | mask.hi;
  const long2 b = a.lo | a.hi;
  return (b.x | b.y) != 0;
}

#if REDUCE_EXPANSION > 0
/* The lanes of v selected by mask (-1), a batch in phase `phase`, into their components'
 * superaccumulators: rare, so plainly. It takes acc, not the exact_sum, so that the levels never
 * have an address (see exact_sum). */
static void spill(long *acc, const int phase, const double8 v, const long8 mask)
{
  double values[8];
  long selected[8];
  vstore8(v, 0, values);
  vstore8(mask, 0, selected);
  for (int k = 0; k < 8; ++k)
    if (selected[k]) accumulate(acc + LANE_COMPONENT(phase, k) * COMPONENT_SLOTS, values[k]);
}

/* One level of the expansion: level + v becomes level' + v' exactly (TwoSum), v' the error. */
#define TWO_SUM(level, v)                                                                          \
  do {                                                                                             \
    const double8 two_sum_a = (level), two_sum_s = two_sum_a + (v), two_sum_b = two_sum_s - two_sum_a; \
    (v) = (two_sum_a - (two_sum_s - two_sum_b)) + ((v) - two_sum_b);                               \
    (level) = two_sum_s;                                                                           \
  } while (0)
#endif

/* Add eight consecutive elements, the first of them a multiple of C after a multiple of
 * EXACT_SUM_PHASES batches: `phase` says which batch of the cycle this is (a constant in the
 * caller's unrolled loop). */
static inline void exact_sum_add8(exact_sum *sum, const int phase, REAL8 v)
{
#if REDUCE_EXPANSION > 0
  /* Optimistically through the levels, with one test afterwards for both rare events: a value the
   * expansion must not take (NaN fails the comparison too) or a remainder below the last level.
   * Then the levels are put back and the batch is added the careful way. */
  double8 before[REDUCE_EXPANSION], x = v;
#pragma unroll
  for (int k = 0; k < REDUCE_EXPANSION; ++k) {
    before[k] = sum->level[phase][k];
    TWO_SUM(sum->level[phase][k], x);
  }
  const long8 outside = !(fabs(v) < (double8)EXPANSION_LIMIT);
  if (any_lane(outside | (x != (double8)0))) {
#pragma unroll
    for (int k = 0; k < REDUCE_EXPANSION; ++k) sum->level[phase][k] = before[k];
    if (any_lane(outside)) {
      exact_sum_make_room(sum, 8);
      spill(sum->acc, phase, v, outside);
      v = select(v, (double8)0, outside);
    }
#pragma unroll
    for (int k = 0; k < REDUCE_EXPANSION; ++k) TWO_SUM(sum->level[phase][k], v);
    const long8 left = v != (double8)0;
    if (any_lane(left)) {
      exact_sum_make_room(sum, 8);
      spill(sum->acc, phase, v, left);
    }
  }
#else
  /* Lane k into its component's first or second superaccumulator, alternating between the
   * occurrences of a component in the batch. */
#define ADD_LANE(k, value)                                                                         \
  accumulate(sum->acc + LANE_COMPONENT(phase, k) * COMPONENT_SLOTS +                               \
                 (((8 * phase + (k)) / EXACT_SUM_COMPONENTS) & 1) * REDUCE_SLOTS,                  \
             value)
  exact_sum_make_room(sum, 8);
  ADD_LANE(0, v.s0);
  ADD_LANE(1, v.s1);
  ADD_LANE(2, v.s2);
  ADD_LANE(3, v.s3);
  ADD_LANE(4, v.s4);
  ADD_LANE(5, v.s5);
  ADD_LANE(6, v.s6);
  ADD_LANE(7, v.s7);
#undef ADD_LANE
#endif
}

/* Everything into each component's first superaccumulator, normalised: the work-item's sums. */
static inline void exact_sum_end(exact_sum *sum)
{
#if REDUCE_EXPANSION > 0
  exact_sum_make_room(sum, 8 * REDUCE_EXPANSION * EXACT_SUM_PHASES);
#pragma unroll
  for (int phase = 0; phase < EXACT_SUM_PHASES; ++phase)
#pragma unroll
    for (int k = 0; k < REDUCE_EXPANSION; ++k) spill(sum->acc, phase, sum->level[phase][k], (long8)(-1));
#else
  exact_sum_normalise(sum);
  for (int c = 0; c < EXACT_SUM_COMPONENTS; ++c)
    for (int j = 0; j < REDUCE_SLOTS; ++j)
      sum->acc[c * COMPONENT_SLOTS + j] += sum->acc[c * COMPONENT_SLOTS + REDUCE_SLOTS + j];
#endif
  for (int c = 0; c < EXACT_SUM_COMPONENTS; ++c) normalise(sum->acc + c * COMPONENT_SLOTS);
}

/* Which of the n nodes (groups of C elements) this work-item takes: [*begin, *end) in steps of
 * *step. */
static inline void exact_sum_range(const ulong n, const ulong chunk, ulong *begin, ulong *end, ulong *step)
{
  const ulong item = get_global_id(0);
  if (chunk) {
    *begin = min(n, item * chunk);
    *end = min(n, *begin + chunk);
    *step = 1;
  } else {
    *begin = item;
    *end = n;
    *step = get_global_size(0);
  }
}

/* Eight REALs spacing apart from x[first], and back. Written element by element: with spacing a
 * constant 1 the compiler makes one (unaligned) vector access of them itself. */
static inline REAL8 load8(__global const REAL *x, const ulong first, const ulong spacing)
{
  __global const REAL *p = x + first;
  if (spacing == 1) return (REAL8)(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
  return (REAL8)(p[0], p[spacing], p[2 * spacing], p[3 * spacing], p[4 * spacing], p[5 * spacing], p[6 * spacing],
                 p[7 * spacing]);
}

static inline void store8(const REAL8 v, __global REAL *x, const ulong first, const ulong spacing)
{
  const ulong d = spacing;
  __global REAL *p = x + first;
  p[0] = v.s0;
  p[d] = v.s1;
  p[2 * d] = v.s2;
  p[3 * d] = v.s3;
  p[4 * d] = v.s4;
  p[5 * d] = v.s5;
  p[6 * d] = v.s6;
  p[7 * d] = v.s7;
}

/* Add the work-group's sums and write them as this group's partials, component c of group g at
 * partials[(g C + c) REDUCE_SLOTS]. Slots go through local memory STAGE_SLOTS at a time; the sum
 * over work-items is in any order (integers). Every work-item of the group must call it
 * (barriers). */
static inline void exact_sum_write_partial(exact_sum *sum, __local long *stage, __global long *partials)
{
  exact_sum_end(sum);
  /* Only the limbs live on across the barriers (a CPU compiler keeps such variables in memory per
   * work-item; the exact_sum itself should stay in registers). */
  const long *acc = sum->acc;
  const uint lid = get_local_id(0);
  for (int c = 0; c < EXACT_SUM_COMPONENTS; ++c) {
    __global long *out = partials + ((ulong)get_group_id(0) * EXACT_SUM_COMPONENTS + c) * REDUCE_SLOTS;
    for (int first = 0; first < REDUCE_SLOTS; first += STAGE_SLOTS) {
      for (int s = 0; s < STAGE_SLOTS && first + s < REDUCE_SLOTS; ++s)
        stage[lid * STAGE_SLOTS + s] = acc[c * COMPONENT_SLOTS + first + s];
      barrier(CLK_LOCAL_MEM_FENCE);
      for (uint s = lid; s < STAGE_SLOTS && first + s < REDUCE_SLOTS; s += REDUCE_LOCAL_SIZE) {
        long total = 0;
        for (uint w = 0; w < REDUCE_LOCAL_SIZE; ++w) total += stage[w * STAGE_SLOTS + s];
        out[first + s] = total;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
  }
}
