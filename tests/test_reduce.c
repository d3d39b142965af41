/* Verification of host/reduce on 1, 2 and 4 ranks: the sum is the correctly rounded exact sum,
 * with the same bits on every rank count, partition, element order, work-group size, group
 * count and work distribution; min and max are exact.
 *
 * The hard target is computed here by an independent exact method: every rank generates the
 * whole global sequence and adds it into two plain bit arrays (positive and negative values
 * apart, one increment with ripple carry per set mantissa bit), subtracts them bit by bit and
 * rounds to nearest-even by reading bits. It shares no code or representation with the module
 * (which adds 32-bit digits into signed int64 limbs); it is slow and obviously exact.
 *
 * The floating-point expansion in front of the superaccumulator (kernels/exact_sum.cl) is run with
 * 0 to 8 levels on data made to defeat it (values at its magnitude limit, NaN and infinities inside
 * batches of eight, cancellation far below the running sum): the bits must not change.
 *
 * Rule (TOOLCHAIN.md §0.5): every collective first, then assertions on values that are the same
 * on every rank, so a failed assertion cannot leave the other ranks waiting. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_suite.h"
#include "clrt.h"
#include "reduce.h"

static int rank, size;
static pp_clrt *clrt;      /* double precision */
static pp_reduce *reduce;

enum { GLOBAL_COUNT = 1000000 };

/* ---- the global sequence ---------------------------------------------------------------------- */

static uint64_t mix(uint64_t x) /* splitmix64's finaliser: a fixed pseudo-random function of x */
{
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Value i of a sequence: random sign, a random full mantissa of `bits` bits, magnitude in
 * [2^-50, 2^50) (1e-15 .. 1e15: 30 decimal orders). Exact in double (bits 53) or float (24). */
static double sequence_value(uint64_t i, int bits)
{
  uint64_t r = mix(i), s = mix(i ^ 0xD1B54A32D192ED03ull);
  uint64_t mantissa = (r & (((uint64_t)1 << (bits - 1)) - 1)) | ((uint64_t)1 << (bits - 1));
  int exponent = -50 + (int)(s % 100);
  double v = ldexp((double)mantissa, exponent - (bits - 1));
  return (s >> 63) ? -v : v;
}

/* Rank r's block of n global indices; deliberately uneven (sizes in the ratio 1 : 2 : 3 : 4). */
static void block_of(size_t n, int r, int p, size_t *begin, size_t *end)
{
  size_t total_weight = (size_t)p * (size_t)(p + 1) / 2, before = (size_t)r * (size_t)(r + 1) / 2;
  *begin = n * before / total_weight;
  *end = n * (before + (size_t)r + 1) / total_weight;
}

/* ---- the independent exact reference ---------------------------------------------------------- */

enum { REF_BITS = 640, REF_OFFSET = 300 }; /* bit k of an array has the weight 2^(k - REF_OFFSET) */

typedef struct {
  unsigned char positive[REF_BITS], negative[REF_BITS];
} reference_sum;

static void reference_add(reference_sum *ref, double v)
{
  if (v == 0) return;
  int e = 0;
  double f = frexp(fabs(v), &e);                  /* |v| = f 2^e, f in [0.5, 1) */
  uint64_t mantissa = (uint64_t)ldexp(f, 53);     /* exact: |v| = mantissa 2^(e-53) */
  int base = e - 53 + REF_OFFSET;
  ck_assert_msg(base >= 0 && base + 64 + 40 < REF_BITS, "reference range exceeded by %g", v);
  unsigned char *bits = v > 0 ? ref->positive : ref->negative;
  for (int b = 0; b < 53; ++b) {
    if (!((mantissa >> b) & 1u)) continue;
    int k = base + b;
    while (bits[k]) bits[k++] = 0; /* ripple carry */
    bits[k] = 1;
  }
}

/* positive - negative, rounded to nearest even with `precision` mantissa bits (normal range). */
static double reference_round(const reference_sum *ref, int precision)
{
  int cmp = 0;
  for (int k = REF_BITS - 1; k >= 0 && cmp == 0; --k) cmp = (int)ref->positive[k] - (int)ref->negative[k];
  if (cmp == 0) return 0.0;
  const unsigned char *big = cmp > 0 ? ref->positive : ref->negative, *small = cmp > 0 ? ref->negative : ref->positive;
  unsigned char diff[REF_BITS];
  int borrow = 0;
  for (int k = 0; k < REF_BITS; ++k) {
    int d = (int)big[k] - (int)small[k] - borrow;
    borrow = d < 0;
    diff[k] = (unsigned char)(d & 1);
  }
  int top = REF_BITS - 1;
  while (!diff[top]) --top;
  int lsb = top - precision + 1;
  ck_assert(lsb > 0);
  uint64_t mantissa = 0;
  for (int k = top; k >= lsb; --k) mantissa = mantissa * 2 + diff[k];
  int half = diff[lsb - 1], below = 0;
  for (int k = 0; k < lsb - 1; ++k) below |= diff[k];
  if (half && (below || (mantissa % 2 == 1))) mantissa += 1;
  double magnitude = ldexp((double)mantissa, lsb - REF_OFFSET);
  return cmp > 0 ? magnitude : -magnitude;
}

/* ---- helpers ---------------------------------------------------------------------------------- */

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void setup(void)
{
  if (clrt) return;
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 1;
  pp_err err = pp_clrt_create(&clrt, MPI_COMM_WORLD, &options);
  ck_assert_msg(err == PP_OK, "pp_clrt_create failed: %s", pp_error_message());
  err = pp_reduce_create(&reduce, clrt, MPI_COMM_WORLD);
  ck_assert_msg(err == PP_OK, "pp_reduce_create failed: %s", pp_error_message());
}

/* A device buffer holding host[0 .. n-1] (a 1-element dummy when n is 0). */
static cl_mem upload(pp_clrt *rt, const void *host, size_t n, size_t real_size)
{
  cl_mem buffer = NULL;
  ck_assert_int_eq(pp_clrt_buffer(rt, CL_MEM_READ_WRITE, n * real_size, "test values", &buffer), PP_OK);
  if (n) ck_assert_int_eq(pp_clrt_write(rt, buffer, 0, n * real_size, host, "test values"), PP_OK);
  return buffer;
}

/* This rank's block of the double sequence starting at global index `first` (n global values). */
static double *local_block(uint64_t first, size_t n, size_t *count)
{
  size_t begin, end;
  block_of(n, rank, size, &begin, &end);
  *count = end - begin;
  double *values = malloc((*count ? *count : 1) * sizeof *values);
  ck_assert_ptr_nonnull(values);
  for (size_t i = begin; i < end; ++i) values[i - begin] = sequence_value(first + i, 53);
  return values;
}

static double reference_of_sequence(uint64_t first, size_t n, int bits, double *naive)
{
  reference_sum *ref = calloc(1, sizeof *ref);
  ck_assert_ptr_nonnull(ref);
  double plain = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = sequence_value(first + i, bits);
    reference_add(ref, v);
    plain += v;
  }
  double exact = reference_round(ref, bits);
  free(ref);
  if (naive) *naive = plain;
  return exact;
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* The test: 10^6 values over 30 orders of magnitude, uneven blocks per rank. */
START_TEST(test_sum_of_a_million_is_correctly_rounded)
{
  setup();
  size_t count = 0;
  double *values = local_block(0, GLOBAL_COUNT, &count);
  cl_mem buffer = upload(clrt, values, count, sizeof(double));
  double device = -1, host = -1;
  pp_err err_device = pp_reduce_sum(reduce, buffer, count, &device);
  pp_err err_host = pp_reduce_sum_host(values, count, MPI_COMM_WORLD, &host);
  clReleaseMemObject(buffer);
  free(values);

  double naive = 0, exact = reference_of_sequence(0, GLOBAL_COUNT, 53, &naive);
  double backward = 0;
  for (size_t i = GLOBAL_COUNT; i-- > 0;) backward += sequence_value(i, 53);
  if (rank == 0)
    printf("sum of %d values on %d rank(s): exact %.17g, device %.17g, host %.17g, naive forward %.17g "
           "(%+.3g ulp), naive backward %.17g\n",
           GLOBAL_COUNT, size, exact, device, host, naive, (naive - exact) / (nextafter(exact, INFINITY) - exact),
           backward);
  ck_assert_msg(err_device == PP_OK, "%s", pp_error_message());
  ck_assert_msg(err_host == PP_OK, "%s", pp_error_message());
  ck_assert_msg(same_bits(device, exact), "device %.17g != exact %.17g", device, exact);
  ck_assert_msg(same_bits(host, exact), "host %.17g != exact %.17g", host, exact);
  /* The test means something: plain summation gets it wrong and depends on the order. */
  ck_assert_msg(!same_bits(naive, exact), "the naive sum happened to be exact");
  ck_assert_msg(!same_bits(naive, backward), "the naive sums agree in both orders");
}
END_TEST

/* Reversed order, other partitions (one rank holds everything, the others nothing), work-group
 * sizes, group counts and layouts: all the same bits. */
START_TEST(test_sum_independent_of_order_and_launch)
{
  setup();
  enum { N = 200000 };
  const uint64_t first = 5000000;
  double exact = reference_of_sequence(first, N, 53, NULL);
  size_t count = 0;
  double *values = local_block(first, N, &count);
  for (size_t i = 0; i < count / 2; ++i) { /* reverse this rank's block */
    double t = values[i];
    values[i] = values[count - 1 - i];
    values[count - 1 - i] = t;
  }
  cl_mem buffer = upload(clrt, values, count, sizeof(double));
  struct {
    size_t local, groups;
    pp_reduce_layout layout;
  } launches[] = {{0, 0, PP_REDUCE_LAYOUT_AUTO},      {32, 1, PP_REDUCE_LAYOUT_BLOCKED},
                  {128, 7, PP_REDUCE_LAYOUT_STRIDED}, {64, 1000, PP_REDUCE_LAYOUT_STRIDED},
                  {16, 3, PP_REDUCE_LAYOUT_BLOCKED},  {64, 5, PP_REDUCE_LAYOUT_BLOCKED}};
  enum { LAUNCHES = sizeof launches / sizeof launches[0] };
  double sums[LAUNCHES + 1];
  pp_err errors[LAUNCHES + 1];
  for (int k = 0; k < LAUNCHES; ++k) {
    errors[k] = pp_reduce_set_launch(reduce, launches[k].local, launches[k].groups, launches[k].layout);
    if (errors[k] == PP_OK) errors[k] = pp_reduce_sum(reduce, buffer, count, &sums[k]);
  }
  clReleaseMemObject(buffer);
  free(values);
  ck_assert_int_eq(pp_reduce_set_launch(reduce, 0, 0, PP_REDUCE_LAYOUT_AUTO), PP_OK);

  /* Everything on the last rank, in global order. */
  double *all = malloc(N * sizeof *all);
  size_t mine = rank == size - 1 ? N : 0;
  for (size_t i = 0; i < mine; ++i) all[i] = sequence_value(first + i, 53);
  buffer = upload(clrt, all, mine, sizeof(double));
  errors[LAUNCHES] = pp_reduce_sum(reduce, buffer, mine, &sums[LAUNCHES]);
  clReleaseMemObject(buffer);
  free(all);

  for (int k = 0; k <= LAUNCHES; ++k) {
    ck_assert_msg(errors[k] == PP_OK, "case %d: %s", k, pp_error_message());
    ck_assert_msg(same_bits(sums[k], exact), "case %d: %.17g != exact %.17g", k, sums[k], exact);
  }
}
END_TEST

/* One component of an interleaved array (stride 3, offsets 0 and 2) and the dot product. */
START_TEST(test_strided_sum_and_dot)
{
  setup();
  enum { N = 100000 };
  const uint64_t first = 9000000, other = 7000000;
  size_t begin, end;
  block_of(N, rank, size, &begin, &end);
  size_t count = end - begin;
  double *interleaved = malloc(3 * (count ? count : 1) * sizeof *interleaved);
  double *x = malloc((count ? count : 1) * sizeof *x), *y = malloc((count ? count : 1) * sizeof *y);
  for (size_t i = 0; i < count; ++i) {
    double v = sequence_value(first + begin + i, 53);
    interleaved[3 * i] = v;
    interleaved[3 * i + 1] = 1e30; /* must not leak into the other components */
    interleaved[3 * i + 2] = -v;
    x[i] = v;
    y[i] = sequence_value(other + begin + i, 53);
  }
  cl_mem ibuf = upload(clrt, interleaved, 3 * count, sizeof(double));
  cl_mem xbuf = upload(clrt, x, count, sizeof(double)), ybuf = upload(clrt, y, count, sizeof(double));
  double s0 = 0, s2 = 0, dot = 0, shifted = 0;
  pp_err e0 = pp_reduce_sum_strided(reduce, ibuf, 0, 3, count, &s0);
  pp_err e2 = pp_reduce_sum_strided(reduce, ibuf, 2, 3, count, &s2);
  pp_err ed = pp_reduce_dot(reduce, xbuf, ybuf, count, &dot);
  /* contiguous but starting one element in (vector loads off their natural alignment) */
  pp_err es = pp_reduce_sum_strided(reduce, xbuf, 1, 1, count > 1 ? count - 1 : 0, &shifted);
  clReleaseMemObject(ibuf);
  clReleaseMemObject(xbuf);
  clReleaseMemObject(ybuf);
  free(interleaved);
  free(x);
  free(y);

  double exact = reference_of_sequence(first, N, 53, NULL);
  reference_sum *ref = calloc(1, sizeof *ref);
  for (size_t i = 0; i < N; ++i) {
    volatile double product = sequence_value(first + i, 53) * sequence_value(other + i, 53); /* rounded once */
    reference_add(ref, product);
  }
  double exact_dot = reference_round(ref, 53);
  memset(ref, 0, sizeof *ref);
  for (size_t i = 0; i < N; ++i) {
    int first_of_a_rank = 0;
    for (int r = 0; r < size; ++r) {
      size_t b, e;
      block_of(N, r, size, &b, &e);
      first_of_a_rank |= i == b && e > b;
    }
    if (!first_of_a_rank) reference_add(ref, sequence_value(first + i, 53));
  }
  double exact_shifted = reference_round(ref, 53);
  free(ref);
  ck_assert_msg(e0 == PP_OK && e2 == PP_OK && ed == PP_OK && es == PP_OK, "%s", pp_error_message());
  ck_assert_msg(same_bits(shifted, exact_shifted), "offset 1: %.17g != %.17g", shifted, exact_shifted);
  ck_assert_msg(same_bits(s0, exact), "stride 3 offset 0: %.17g != %.17g", s0, exact);
  ck_assert_msg(same_bits(s2, -exact), "stride 3 offset 2: %.17g != %.17g", s2, -exact);
  ck_assert_msg(same_bits(dot, exact_dot), "dot %.17g != %.17g", dot, exact_dot);
}
END_TEST

/* Small sums whose exact answers are known: value k lives on rank k % size. */
typedef struct {
  const char *name;
  int count;
  double values[8];
  double expected;
} sum_case;

START_TEST(test_sum_known_answers)
{
  setup();
  const double two53 = 9007199254740992.0, tiny = DBL_TRUE_MIN;
  const sum_case cases[] = {
    {"cancellation 1e100 + 1 - 1e100", 3, {1e100, 1, -1e100}, 1.0},
    {"2^53 + 1 + 1 (naive: 2^53)", 3, {two53, 1, 1}, two53 + 2},
    {"2^53 + 1: tie to even (down)", 2, {two53, 1}, two53},
    {"2^53 + 2 + 1: tie to even (up)", 2, {two53 + 2, 1}, two53 + 4},
    {"2^53 + 1 + 2^-60: not a tie", 3, {two53, 1, 0x1p-60}, two53 + 2},
    {"-2^53 - 1 - 2^-60", 3, {-two53, -1, -0x1p-60}, -two53 - 2},
    {"no values", 0, {0}, 0.0},
    {"-0 alone gives +0", 1, {-0.0}, 0.0},
    {"1 - 1 gives +0", 2, {1, -1}, 0.0},
    {"two smallest subnormals", 2, {tiny, tiny}, 2 * tiny},
    {"smallest normal minus smallest subnormal", 2, {DBL_MIN, -tiny}, DBL_MIN - tiny},
    {"subnormals and normals cancel", 4, {DBL_MIN, 3 * tiny, -DBL_MIN, -tiny}, 2 * tiny},
    {"an exact subnormal from three terms", 3, {0x1p-1060, 0x1p-1070, -0x1p-1074}, 0x1p-1060 + 0x1p-1070 - 0x1p-1074},
    {"DBL_MAX + DBL_MAX overflows", 2, {DBL_MAX, DBL_MAX}, INFINITY},
    {"-DBL_MAX - DBL_MAX overflows", 2, {-DBL_MAX, -DBL_MAX}, -INFINITY},
    {"DBL_MAX + DBL_MAX - DBL_MAX: exact intermediate", 3, {DBL_MAX, DBL_MAX, -DBL_MAX}, DBL_MAX},
    {"DBL_MAX + half an ulp: tie rounds to 2^1024 = Inf", 2, {DBL_MAX, 0x1p970}, INFINITY},
    {"DBL_MAX + a quarter ulp", 2, {DBL_MAX, 0x1p969}, DBL_MAX},
    {"NaN in, NaN out", 3, {1, NAN, 2}, NAN},
    {"+Inf and -Inf give NaN", 2, {INFINITY, -INFINITY}, NAN},
    {"+Inf plus finite", 3, {INFINITY, -1e308, 5}, INFINITY},
    {"-Inf plus finite", 2, {-INFINITY, 1e308}, -INFINITY},
    {"NaN with a payload", 2, {-NAN, 1}, NAN},
  };
  enum { CASES = sizeof cases / sizeof cases[0] };
  double device[CASES], host[CASES];
  pp_err errors[CASES];
  for (int c = 0; c < CASES; ++c) {
    double mine[8];
    size_t n = 0;
    for (int k = rank; k < cases[c].count; k += size) mine[n++] = cases[c].values[k];
    cl_mem buffer = upload(clrt, mine, n, sizeof(double));
    errors[c] = pp_reduce_sum(reduce, buffer, n, &device[c]);
    if (errors[c] == PP_OK) errors[c] = pp_reduce_sum_host(mine, n, MPI_COMM_WORLD, &host[c]);
    clReleaseMemObject(buffer);
  }
  for (int c = 0; c < CASES; ++c) {
    ck_assert_msg(errors[c] == PP_OK, "%s: %s", cases[c].name, pp_error_message());
    ck_assert_msg(same_bits(device[c], cases[c].expected), "%s: device %a, expected %a", cases[c].name, device[c],
                  cases[c].expected);
    ck_assert_msg(same_bits(host[c], cases[c].expected), "%s: host %a, expected %a", cases[c].name, host[c],
                  cases[c].expected);
  }
}
END_TEST

/* The expansion levels change the speed, never a bit: the sum of the million, the known answers
 * (spread over batches of eight, so NaN, infinities, subnormals and huge values land inside
 * batches) and data made to defeat the expansion, each with 0, 1, 2, 3 and 8 levels. */
START_TEST(test_expansion_levels_same_bits)
{
  setup();
  const int levels[] = {0, 1, 2, 3, 8};
  enum { LEVELS = sizeof levels / sizeof levels[0], SPREAD = 37, HARD = 6 };
  const double two53 = 9007199254740992.0, tiny = DBL_TRUE_MIN, limit = 0x1p980;
  /* name, values (up to 8), expected; placed at positions 3, 8, 14, ... of SPREAD zeros on rank 0 */
  const sum_case spread[] = {
    {"cancellation 1e100 + 1 - 1e100", 3, {1e100, 1, -1e100}, 1.0},
    {"2^53 + 1 + 2^-60: not a tie", 3, {two53, 1, 0x1p-60}, two53 + 2},
    {"subnormals and normals cancel", 4, {DBL_MIN, 3 * tiny, -DBL_MIN, -tiny}, 2 * tiny},
    {"DBL_MAX + DBL_MAX - DBL_MAX", 3, {DBL_MAX, DBL_MAX, -DBL_MAX}, DBL_MAX},
    {"DBL_MAX + half an ulp: Inf", 2, {DBL_MAX, 0x1p970}, INFINITY},
    {"NaN in a batch", 3, {1, NAN, 2}, NAN},
    {"+Inf and -Inf give NaN", 2, {INFINITY, -INFINITY}, NAN},
    {"+Inf plus finite", 3, {INFINITY, -1e308, 5}, INFINITY},
    {"just below and at the expansion's limit", 4, {nextafter(limit, 0), limit, -limit, 1}, nextafter(limit, 0) + 1},
    {"-0 alone gives +0", 2, {-0.0, -0.0}, 0.0},
  };
  enum { SPREAD_CASES = sizeof spread / sizeof spread[0] };

  /* Hard cases, global sequences of n values (every rank generates its block):
   *   0: 2^-1000 .. 2^1000 alternating signs and sizes (cancellation far below the running sum)
   *   1: many values just below the limit, summing far above it
   *   2: +-1 with a 2^-1074 every 1001st value (the expansion's last level gives up)
   *   3: 1e300 and -1e300 with 1e-300 between (exact cancellation, tiny survivor)
   *   4: the million's values times 2^900 (near the limit, some above it)
   *   5: the million's values times 2^-1020 (subnormal range) */
  const size_t hard_n[HARD] = {100003, 50021, 200000, 30011, 100000, 100000};
  double sums[LEVELS][SPREAD_CASES + HARD + 1];
  pp_err errors[LEVELS][SPREAD_CASES + HARD + 1];
  double host_hard[HARD];
  for (int h = 0; h < HARD; ++h) {
    size_t begin, end;
    block_of(hard_n[h], rank, size, &begin, &end);
    size_t n = end - begin;
    double *values = malloc((n ? n : 1) * sizeof *values);
    for (size_t k = 0; k < n; ++k) {
      size_t i = begin + k;
      double v = 0;
      switch (h) {
      case 0: v = ldexp((i % 2) ? -1.0 - (double)(i % 7) / 8 : 1.0 + (double)(i % 5) / 4, (int)(i % 2001) - 1000); break;
      case 1: v = nextafter(limit, 0) * ((i % 3) ? 1 : -0.5); break;
      case 2: v = (i % 1001) == 0 ? tiny : ((i % 2) ? 1.0 : -1.0); break;
      case 3: v = (i % 3) == 0 ? 1e300 : (i % 3) == 1 ? 1e-300 : -1e300; break;
      case 4: v = ldexp(sequence_value(20000000 + i, 53), 900 + (int)(i % 40)); break;
      default: v = ldexp(sequence_value(30000000 + i, 53), -1020); break;
      }
      values[k] = v;
    }
    cl_mem buffer = upload(clrt, values, n, sizeof(double));
    for (int l = 0; l < LEVELS; ++l) {
      errors[l][SPREAD_CASES + h] = pp_reduce_set_expansion(reduce, levels[l]);
      if (errors[l][SPREAD_CASES + h] == PP_OK)
        errors[l][SPREAD_CASES + h] = pp_reduce_sum(reduce, buffer, n, &sums[l][SPREAD_CASES + h]);
    }
    if (pp_reduce_sum_host(values, n, MPI_COMM_WORLD, &host_hard[h]) != PP_OK) host_hard[h] = -1;
    clReleaseMemObject(buffer);
    free(values);
  }
  for (int c = 0; c < SPREAD_CASES; ++c) {
    double mine[SPREAD] = {0};
    size_t n = rank == 0 ? SPREAD : 0;
    for (int k = 0; k < spread[c].count; ++k) mine[3 + 5 * k + (k > 1 ? 2 : 0)] = spread[c].values[k];
    cl_mem buffer = upload(clrt, mine, n, sizeof(double));
    for (int l = 0; l < LEVELS; ++l) {
      errors[l][c] = pp_reduce_set_expansion(reduce, levels[l]);
      if (errors[l][c] == PP_OK) errors[l][c] = pp_reduce_sum(reduce, buffer, n, &sums[l][c]);
    }
    clReleaseMemObject(buffer);
  }
  size_t count = 0;
  double *values = local_block(0, GLOBAL_COUNT, &count);
  cl_mem buffer = upload(clrt, values, count, sizeof(double));
  int in_use[LEVELS];
  for (int l = 0; l < LEVELS; ++l) {
    errors[l][SPREAD_CASES + HARD] = pp_reduce_set_expansion(reduce, levels[l]);
    in_use[l] = pp_reduce_expansion(reduce);
    if (errors[l][SPREAD_CASES + HARD] == PP_OK)
      errors[l][SPREAD_CASES + HARD] = pp_reduce_sum(reduce, buffer, count, &sums[l][SPREAD_CASES + HARD]);
  }
  clReleaseMemObject(buffer);
  free(values);
  ck_assert_int_eq(pp_reduce_set_expansion(reduce, -1), PP_OK);

  double exact = reference_of_sequence(0, GLOBAL_COUNT, 53, NULL);
  for (int l = 0; l < LEVELS; ++l) {
    ck_assert_int_eq(in_use[l], levels[l]);
    for (int c = 0; c < SPREAD_CASES; ++c) {
      ck_assert_msg(errors[l][c] == PP_OK, "%s: %s", spread[c].name, pp_error_message());
      ck_assert_msg(same_bits(sums[l][c], spread[c].expected), "%d levels, %s: %a, expected %a", levels[l],
                    spread[c].name, sums[l][c], spread[c].expected);
    }
    for (int h = 0; h < HARD; ++h) {
      ck_assert_msg(errors[l][SPREAD_CASES + h] == PP_OK, "hard case %d: %s", h, pp_error_message());
      /* the host's superaccumulator alone (no expansion) is the reference here */
      ck_assert_msg(same_bits(sums[l][SPREAD_CASES + h], host_hard[h]), "%d levels, hard case %d: %a, host %a",
                    levels[l], h, sums[l][SPREAD_CASES + h], host_hard[h]);
    }
    ck_assert_msg(errors[l][SPREAD_CASES + HARD] == PP_OK, "%s", pp_error_message());
    ck_assert_msg(same_bits(sums[l][SPREAD_CASES + HARD], exact), "%d levels, the million: %.17g != %.17g", levels[l],
                  sums[l][SPREAD_CASES + HARD], exact);
  }
  /* The hard cases' host sums are themselves right where an answer is known in closed form. */
  ck_assert_msg(same_bits(host_hard[2], (double)((200000 + 1000) / 1001) * tiny), "hard case 2: %a", host_hard[2]);
}
END_TEST

/* pp_reduce_dots: all components in one pass, the same bits as pp_reduce_dot of each component
 * alone (read out of the interleaved arrays), for 1 to 8 components (every phase pattern of
 * kernels/exact_sum.cl: 1, 3, 5 and 7 batches per cycle) and both layouts; and
 * the same sums through the kernel interface other modules use (pp_reduce_kernel,
 * pp_reduce_launch_shape, pp_reduce_finish) with reduce.cl's reduce_dot as the kernel. */
START_TEST(test_component_dots)
{
  setup();
  enum { N = 20011, MOST = PP_REDUCE_MAX_COMPONENTS };
  const int component_counts[] = {1, 2, 3, 4, 5, 6, 7, 8};
  enum { COUNTS = sizeof component_counts / sizeof component_counts[0] };
  /* blocked and strided with the default expansion, blocked without (the superaccumulators alone) */
  const pp_reduce_layout layouts[] = {PP_REDUCE_LAYOUT_BLOCKED, PP_REDUCE_LAYOUT_STRIDED, PP_REDUCE_LAYOUT_BLOCKED};
  const int expansions[] = {-1, -1, 0};
  enum { VARIANTS = sizeof layouts / sizeof layouts[0] };
  size_t begin, end;
  block_of(N, rank, size, &begin, &end);
  size_t count = end - begin;
  double dots[COUNTS][VARIANTS][MOST], singles[COUNTS][MOST], through_kernel[COUNTS][MOST];
  pp_err errors[COUNTS][VARIANTS + 2];
  for (int ci = 0; ci < COUNTS; ++ci) {
    const int C = component_counts[ci];
    double *x = malloc((count ? count : 1) * (size_t)C * sizeof *x), *y = malloc((count ? count : 1) * (size_t)C * sizeof *y);
    double *xs = malloc((count ? count : 1) * sizeof *xs), *ys = malloc((count ? count : 1) * sizeof *ys);
    for (size_t i = 0; i < count; ++i)
      for (int c = 0; c < C; ++c) {
        x[i * (size_t)C + (size_t)c] = sequence_value(40000000 + (uint64_t)c * N + begin + i, 53);
        y[i * (size_t)C + (size_t)c] = sequence_value(50000000 + (uint64_t)c * N + begin + i, 53);
      }
    cl_mem xb = upload(clrt, x, count * (size_t)C, sizeof(double)), yb = upload(clrt, y, count * (size_t)C, sizeof(double));
    for (int li = 0; li < VARIANTS; ++li) {
      errors[ci][li] = pp_reduce_set_launch(reduce, 0, 0, layouts[li]);
      if (errors[ci][li] == PP_OK) errors[ci][li] = pp_reduce_set_expansion(reduce, expansions[li]);
      if (errors[ci][li] == PP_OK) errors[ci][li] = pp_reduce_dots(reduce, xb, yb, count, C, dots[ci][li]);
    }
    ck_assert_int_eq(pp_reduce_set_launch(reduce, 0, 0, PP_REDUCE_LAYOUT_AUTO), PP_OK);
    ck_assert_int_eq(pp_reduce_set_expansion(reduce, -1), PP_OK);
    errors[ci][VARIANTS] = PP_OK;
    for (int c = 0; c < C; ++c) {
      for (size_t i = 0; i < count; ++i) {
        xs[i] = x[i * (size_t)C + (size_t)c];
        ys[i] = y[i * (size_t)C + (size_t)c];
      }
      cl_mem xsb = upload(clrt, xs, count, sizeof(double)), ysb = upload(clrt, ys, count, sizeof(double));
      pp_err e = pp_reduce_dot(reduce, xsb, ysb, count, &singles[ci][c]);
      if (errors[ci][VARIANTS] == PP_OK) errors[ci][VARIANTS] = e;
      clReleaseMemObject(xsb);
      clReleaseMemObject(ysb);
    }
    /* The interface for other modules' kernels, with reduce_dot itself as the kernel. */
    cl_kernel kernel = NULL;
    size_t local_size = 0;
    pp_reduce_launch shape = {.components = C};
    pp_err local = pp_reduce_kernel(reduce, "reduce", NULL, C, "reduce_dot", &kernel, &local_size);
    if (local == PP_OK) local = pp_reduce_launch_shape(reduce, local_size, count, C, &shape);
    if (local == PP_OK) {
      cl_ulong n = count;
      int ok = clSetKernelArg(kernel, 0, sizeof n, &n) == CL_SUCCESS &&
               clSetKernelArg(kernel, 1, sizeof shape.chunk, &shape.chunk) == CL_SUCCESS &&
               clSetKernelArg(kernel, 2, sizeof xb, &xb) == CL_SUCCESS &&
               clSetKernelArg(kernel, 3, sizeof yb, &yb) == CL_SUCCESS &&
               clSetKernelArg(kernel, 4, sizeof shape.partials, &shape.partials) == CL_SUCCESS;
      local = ok ? pp_clrt_launch(clrt, kernel, "test reduce_dot", shape.group_count * shape.local_size,
                                  shape.local_size)
                 : pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "setting test kernel arguments");
    }
    errors[ci][VARIANTS + 1] = pp_reduce_finish(reduce, local, &shape, through_kernel[ci]);
    clReleaseMemObject(xb);
    clReleaseMemObject(yb);
    free(x);
    free(y);
    free(xs);
    free(ys);
  }
  for (int ci = 0; ci < COUNTS; ++ci) {
    const int C = component_counts[ci];
    for (int k = 0; k < VARIANTS + 2; ++k)
      ck_assert_msg(errors[ci][k] == PP_OK, "%d components, step %d: %s", C, k, pp_error_message());
    for (int c = 0; c < C; ++c) {
      reference_sum *ref = calloc(1, sizeof *ref);
      for (size_t i = 0; i < N; ++i) {
        volatile double product = sequence_value(40000000 + (uint64_t)c * N + i, 53) *
                                  sequence_value(50000000 + (uint64_t)c * N + i, 53);
        reference_add(ref, product);
      }
      double exact = reference_round(ref, 53);
      free(ref);
      ck_assert_msg(same_bits(singles[ci][c], exact), "%d components, dot %d alone: %a != %a", C, c, singles[ci][c], exact);
      for (int li = 0; li < VARIANTS; ++li)
        ck_assert_msg(same_bits(dots[ci][li][c], exact), "%d components, variant %d, component %d: %a != %a", C, li,
                      c, dots[ci][li][c], exact);
      ck_assert_msg(same_bits(through_kernel[ci][c], exact), "%d components, kernel interface, component %d: %a != %a",
                    C, c, through_kernel[ci][c], exact);
    }
  }
}
END_TEST

START_TEST(test_min_max_exact)
{
  setup();
  enum { N = 100000 };
  const uint64_t first = 3000000;
  size_t count = 0;
  double *values = local_block(first, N, &count);
  cl_mem buffer = upload(clrt, values, count, sizeof(double));
  double lo = 0, hi = 0, lo_only = 0, hi_only = 0;
  pp_err e1 = pp_reduce_min_max(reduce, buffer, count, &lo, &hi);
  pp_err e2 = pp_reduce_min(reduce, buffer, count, &lo_only);
  pp_err e3 = pp_reduce_max(reduce, buffer, count, &hi_only);
  clReleaseMemObject(buffer);
  free(values);

  /* Small sets, value k on rank k % size; only rank 0 has data in "rank 0 only". */
  const struct {
    const char *name;
    int count, rank0_only;
    double values[6], min, max;
  } cases[] = {
    {"mixed signs", 5, 0, {-5, 3, -7.5, 2e300, -1e-300}, -7.5, 2e300},
    {"rank 0 only", 3, 1, {4, -2, 9}, -2, 9},
    {"nothing anywhere", 0, 0, {0}, INFINITY, -INFINITY},
    {"-0 before +0", 2, 0, {0.0, -0.0}, -0.0, 0.0},
    {"subnormals", 3, 0, {DBL_TRUE_MIN, -DBL_TRUE_MIN, 0.0}, -DBL_TRUE_MIN, DBL_TRUE_MIN},
    {"infinities", 3, 0, {INFINITY, 1, -INFINITY}, -INFINITY, INFINITY},
    {"NaN", 3, 0, {1, NAN, -3}, NAN, NAN},
  };
  enum { CASES = sizeof cases / sizeof cases[0] };
  double mins[CASES], maxs[CASES];
  pp_err errors[CASES];
  for (int c = 0; c < CASES; ++c) {
    double mine[6];
    size_t n = 0;
    for (int k = 0; k < cases[c].count; ++k)
      if (cases[c].rank0_only ? rank == 0 : k % size == rank) mine[n++] = cases[c].values[k];
    cl_mem b = upload(clrt, mine, n, sizeof(double));
    errors[c] = pp_reduce_min_max(reduce, b, n, &mins[c], &maxs[c]);
    clReleaseMemObject(b);
  }

  double expect_lo = INFINITY, expect_hi = -INFINITY;
  for (size_t i = 0; i < N; ++i) {
    double v = sequence_value(first + i, 53);
    if (v < expect_lo) expect_lo = v;
    if (v > expect_hi) expect_hi = v;
  }
  ck_assert_msg(e1 == PP_OK && e2 == PP_OK && e3 == PP_OK, "%s", pp_error_message());
  ck_assert(same_bits(lo, expect_lo) && same_bits(lo_only, expect_lo));
  ck_assert(same_bits(hi, expect_hi) && same_bits(hi_only, expect_hi));
  for (int c = 0; c < CASES; ++c) {
    ck_assert_msg(errors[c] == PP_OK, "%s: %s", cases[c].name, pp_error_message());
    ck_assert_msg(same_bits(mins[c], cases[c].min), "%s: min %a, expected %a", cases[c].name, mins[c], cases[c].min);
    ck_assert_msg(same_bits(maxs[c], cases[c].max), "%s: max %a, expected %a", cases[c].name, maxs[c], cases[c].max);
  }
}
END_TEST

/* A float build: the sum of float data correctly rounded to float. */
START_TEST(test_float_sum)
{
  enum { N = 200000 };
  const uint64_t first = 11000000;
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 0;
  pp_clrt *float_clrt = NULL;
  pp_reduce *float_reduce = NULL;
  pp_err err = pp_clrt_create(&float_clrt, MPI_COMM_WORLD, &options);
  if (err == PP_OK) err = pp_reduce_create(&float_reduce, float_clrt, MPI_COMM_WORLD);
  ck_assert_msg(err == PP_OK, "float set-up: %s", pp_error_message()); /* collective failures: same on all ranks */
  /* The expansion is double arithmetic: a float build never uses it, whatever is asked. */
  ck_assert_int_eq(pp_reduce_set_expansion(float_reduce, 3), PP_OK);
  ck_assert_int_eq(pp_reduce_expansion(float_reduce), 0);

  size_t begin, end;
  block_of(N, rank, size, &begin, &end);
  size_t count = end - begin;
  float *values = malloc((count ? count : 1) * sizeof *values);
  for (size_t i = 0; i < count; ++i) values[i] = (float)sequence_value(first + begin + i, 24);
  cl_mem buffer = upload(float_clrt, values, count, sizeof(float));
  double sum = 0, lo = 0, hi = 0;
  pp_err es = pp_reduce_sum(float_reduce, buffer, count, &sum);
  pp_err em = pp_reduce_min_max(float_reduce, buffer, count, &lo, &hi);
  clReleaseMemObject(buffer);
  free(values);

  const float two24 = 16777216.0f;
  const float small_cases[][3] = {{two24, 1, 1}, {two24, 1, 0}, {FLT_MAX, FLT_MAX, 0}, {-0.0f, 1e-45f, 1e-45f}};
  const double small_expected[] = {two24 + 2.0, two24, INFINITY, 2 * (double)1e-45f};
  double small[4];
  pp_err small_errors[4];
  for (int c = 0; c < 4; ++c) {
    float mine[3];
    size_t n = 0;
    for (int k = rank; k < 3; k += size) mine[n++] = small_cases[c][k];
    cl_mem b = upload(float_clrt, mine, n, sizeof(float));
    small_errors[c] = pp_reduce_sum(float_reduce, b, n, &small[c]);
    clReleaseMemObject(b);
  }
  pp_reduce_destroy(float_reduce);
  pp_clrt_destroy(float_clrt);

  double naive = 0, exact = reference_of_sequence(first, N, 24, NULL);
  float expect_lo = INFINITY, expect_hi = -INFINITY, plain = 0;
  for (size_t i = 0; i < N; ++i) {
    float v = (float)sequence_value(first + i, 24);
    plain += v;
    if (v < expect_lo) expect_lo = v;
    if (v > expect_hi) expect_hi = v;
  }
  naive = plain;
  if (rank == 0) printf("float sum of %d values: exact %.9g, reduce %.9g, naive float %.9g\n", N, exact, sum, naive);
  ck_assert_msg(es == PP_OK && em == PP_OK, "%s", pp_error_message());
  ck_assert_msg((double)(float)exact == exact, "reference not a float");
  ck_assert_msg(same_bits(sum, exact), "float sum %.9g != exact %.9g", sum, exact);
  ck_assert_msg(!same_bits(naive, exact), "the naive float sum happened to be exact");
  ck_assert(same_bits(lo, expect_lo) && same_bits(hi, expect_hi));
  for (int c = 0; c < 4; ++c) {
    ck_assert_msg(small_errors[c] == PP_OK, "%s", pp_error_message());
    ck_assert_msg(same_bits(small[c], small_expected[c]), "float case %d: %a, expected %a", c, small[c],
                  small_expected[c]);
  }
}
END_TEST

/* A bad call on one rank (range past the buffer) fails on every rank; nobody hangs. */
START_TEST(test_error_reaches_every_rank)
{
  setup();
  double values[4] = {1, 2, 3, 4};
  cl_mem buffer = upload(clrt, values, 4, sizeof(double));
  int failing = size - 1;
  double sum = 0;
  pp_error_clear();
  pp_err err = pp_reduce_sum(reduce, buffer, rank == failing ? 5 : 4, &sum);
  int collective = pp_error_is_collective();
  char message[512];
  snprintf(message, sizeof message, "%s", pp_error_message());
  /* and the module still works afterwards */
  pp_error_clear();
  double after = 0;
  pp_err err_after = pp_reduce_sum(reduce, buffer, 4, &after);
  clReleaseMemObject(buffer);

  if (rank == failing) {
    ck_assert_int_eq(err, PP_ERR_ARGUMENT);
    ck_assert_msg(strstr(message, "run past the buffer") != NULL, "%s", message);
  } else {
    ck_assert_int_eq(err, PP_ERR_OTHER_RANK);
  }
  ck_assert_int_ne(collective, PP_ERROR_LOCAL);
  ck_assert_int_eq(err_after, PP_OK);
  ck_assert(same_bits(after, 10.0 * size));
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Suite *suite = suite_create("reduce");
  TCase *tc = tcase_create("reduce");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_sum_of_a_million_is_correctly_rounded);
  tcase_add_test(tc, test_sum_independent_of_order_and_launch);
  tcase_add_test(tc, test_strided_sum_and_dot);
  tcase_add_test(tc, test_sum_known_answers);
  tcase_add_test(tc, test_expansion_levels_same_bits);
  tcase_add_test(tc, test_component_dots);
  tcase_add_test(tc, test_min_max_exact);
  tcase_add_test(tc, test_float_sum);
  tcase_add_test(tc, test_error_reaches_every_rank);
  suite_add_tcase(suite, tc);
  int status = pp_test_run_mpi_suite(suite, MPI_COMM_WORLD);
  pp_reduce_destroy(reduce);
  pp_clrt_destroy(clrt);
  MPI_Finalize();
  return status;
}
