/* reduce: see reduce.h. The accumulator format is shared with kernels/exact_sum.cl (which gets
 * LIMBS and SLOTS as build options from here):
 *   slot j < LIMBS       the count of units 2^(32 j - 1074) (int64; normalised here: [0, 2^32)
 *                        except the top limb, which carries the sign; the device normalises
 *                        only to [-1, 2^32], without a ripple, and the host finishes);
 *   slots LIMBS .. +2    how many NaN, +Inf, -Inf values were seen;
 *   slot FAILED          (host only) how many ranks failed, so one Allreduce both combines the
 *                        sums and tells every rank whether to go on.
 * 66 limbs reach bit 2112 > 2098, the top bit of the largest double shifted by 1074; the top
 * limb's 31 spare bits hold sums of up to about 2^40 values of any size. */
#include "reduce.h"

#include "runtime.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
  LIMBS = 66,
  SLOT_NAN = LIMBS,
  SLOT_POS_INF = LIMBS + 1,
  SLOT_NEG_INF = LIMBS + 2,
  SLOTS = LIMBS + 3,        /* what the device writes */
  SLOT_FAILED = SLOTS,
  HOST_SLOTS = SLOTS + 1,   /* what travels through MPI */
  MIN_MAX_SLOTS = 3,        /* per group: min key, max key, NaN count */
  /* Work-group sizes: 64 on GPUs; 1 on CPUs, where a work-group's items run one after another on
   * one thread and every item pays the accumulator's set-up, final normalisation and spill and the
   * group's staged sum (benchmarks/README.md: on the 2-core VM a 0.94 M dot took 0.40 ms with 1 to
   * 4 items per group, 0.5 with 8, 0.55-1.0 with 64; a 1000-element one 18 us with 1, 0.2 ms with 64). */
  DEFAULT_LOCAL_SIZE = 64,
  DEFAULT_LOCAL_SIZE_CPU = 1,
  GROUPS_PER_COMPUTE_UNIT = 8,
  /* Levels of the floating-point expansion in front of the superaccumulator on CPUs (double
   * only; kernels/exact_sum.cl). Measured on the CG dots (benchmarks/README.md): 2 sends a few per
   * cent of the values on to the superaccumulator, 3 almost none; more only cost adds. */
  DEFAULT_EXPANSION = 3,
  MAX_EXPANSION = 8,
  BIAS = 1074               /* bit 0 of the accumulator is 2^-1074, the smallest subnormal */
};
/* Largest count one call accepts: keeps the top limb (values < 2^1024 add < 2^18 each) and the
 * special-value counts far from int64 overflow. */
static const uint64_t MAX_COUNT = (uint64_t)1 << 40;

/* Kernels built behind kernels/exact_sum.cl (clrt caches programs by source text, but kernels
 * only for its own embedded sources, so this module keeps the kernels it creates). */
typedef struct {
  cl_program program;
  char *name;
  cl_kernel kernel;
} kernel_entry;

struct pp_reduce {
  pp_clrt *clrt;
  MPI_Comm comm;
  int real_size;               /* 8 or 4 */
  size_t local_size;
  size_t group_count;          /* 0: automatic */
  pp_reduce_layout layout;
  int blocked;                 /* layout resolved for this device */
  int expansion_setting;       /* -1: automatic */
  int expansion;               /* levels resolved for this device and precision */
  cl_kernel sum, combine, min_max;
  cl_kernel dot[PP_REDUCE_MAX_COMPONENTS + 1]; /* reduce_dot per component count, built when first used */
  cl_mem partials;             /* group partials: PP_REDUCE_MAX_COMPONENTS * SLOTS longs per group */
  size_t partials_groups;      /* groups the buffer holds */
  cl_mem total;                /* PP_REDUCE_MAX_COMPONENTS * SLOTS longs written by reduce_sum_combine */
  int64_t *host_partials;      /* MIN_MAX_SLOTS per group, for min/max */
  kernel_entry *kernels;
  int kernel_count, kernel_capacity;
};

/* ---- the exact accumulator on the host ------------------------------------------------------- */

/* The low 32 bits of a as a value in [0, 2^32), and the rest moved into *next. (a - low) is an
 * exact multiple of 2^32, so the division is exact: no shift of a negative number. */
static void carry_out(int64_t *a, int64_t *next)
{
  int64_t low = (int64_t)((uint64_t)*a & 0xFFFFFFFFu);
  *next += (*a - low) / ((int64_t)1 << 32);
  *a = low;
}

static void normalise(int64_t *acc)
{
  for (int j = 0; j < LIMBS - 1; ++j) carry_out(&acc[j], &acc[j + 1]);
}

/* Add one double exactly (the same split as accumulate() in kernels/reduce.cl). */
static void accumulate(int64_t *acc, double x)
{
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  unsigned biased = (unsigned)(bits >> 52) & 0x7FFu;
  uint64_t fraction = bits & 0xFFFFFFFFFFFFFull;
  int negative = (int)(bits >> 63);
  if (biased == 0x7FFu) {
    acc[fraction ? SLOT_NAN : negative ? SLOT_NEG_INF : SLOT_POS_INF] += 1;
    return;
  }
  uint64_t m = biased ? fraction | ((uint64_t)1 << 52) : fraction;
  unsigned q = biased ? biased - 1u : 0u;
  unsigned limb = q / 32, shift = q % 32;
  uint64_t low = (m & 0xFFFFFFFFu) << shift;
  uint64_t high = (low >> 32) + ((m >> 32) << shift);
  int64_t d[3] = {(int64_t)(low & 0xFFFFFFFFu), (int64_t)(high & 0xFFFFFFFFu), (int64_t)(high >> 32)};
  for (int k = 0; k < 3; ++k) acc[limb + (unsigned)k] += negative ? -d[k] : d[k];
}

/* Bit p of a non-negative normalised accumulator (the top limb may hold more than 32 bits). */
static int bit_at(const int64_t *magnitude, int p)
{
  int j = p / 32;
  if (j >= LIMBS - 1) {
    int s = p - 32 * (LIMBS - 1);
    return s < 63 ? (int)(((uint64_t)magnitude[LIMBS - 1] >> s) & 1u) : 0;
  }
  return (int)(((uint64_t)magnitude[j] >> (p % 32)) & 1u);
}

/* Whether any bit below p is set. */
static int any_below(const int64_t *magnitude, int p)
{
  if (p <= 0) return 0;
  int j = p / 32;
  for (int k = 0; k < j && k < LIMBS; ++k)
    if (magnitude[k]) return 1;
  if (j >= LIMBS) return 0;
  uint64_t mask = ((uint64_t)1 << (p % 32)) - 1u;
  return ((uint64_t)magnitude[j] & mask) != 0;
}

/* The normalised exact sum acc, rounded once to nearest (ties to even) in a binary format with
 * `precision` mantissa bits whose smallest subnormal is 2^(lowest_bit - 1074): 53 and 0 for
 * double, 24 and 925 for float. The result is exact in double; the caller narrows it. */
static double round_exact(const int64_t *acc, int precision, int lowest_bit)
{
  if (acc[SLOT_NAN] > 0 || (acc[SLOT_POS_INF] > 0 && acc[SLOT_NEG_INF] > 0)) return NAN;
  if (acc[SLOT_POS_INF] > 0) return INFINITY;
  if (acc[SLOT_NEG_INF] > 0) return -INFINITY;
  int64_t magnitude[LIMBS];
  int negative = acc[LIMBS - 1] < 0;
  for (int j = 0; j < LIMBS; ++j) magnitude[j] = negative ? -acc[j] : acc[j];
  if (negative) normalise(magnitude); /* -(value) limb by limb, then carries: top limb now >= 0 */

  int top = -1; /* highest set bit */
  for (int j = LIMBS - 1; j >= 0 && top < 0; --j) {
    uint64_t limb = (uint64_t)magnitude[j];
    for (int s = 63; s >= 0 && limb; --s)
      if ((limb >> s) & 1u) {
        top = 32 * j + s;
        break;
      }
  }
  if (top < 0) return 0.0; /* an exact zero is +0 */

  /* Keep bits [lsb, top]: `precision` of them, fewer for subnormal results. */
  int lsb = top - (precision - 1);
  if (lsb < lowest_bit) lsb = lowest_bit;
  uint64_t mantissa = 0;
  for (int p = top; p >= lsb; --p) mantissa = mantissa << 1 | (uint64_t)bit_at(magnitude, p);
  if (lsb > 0) {
    int round = bit_at(magnitude, lsb - 1), sticky = any_below(magnitude, lsb - 1);
    if (round && (sticky || (mantissa & 1u))) mantissa += 1; /* may reach 2^precision: still exact */
  }
  /* Exact (mantissa <= 2^53), or +-Inf when the rounded value is beyond the double range. */
  double result = ldexp((double)mantissa, lsb - BIAS);
  return negative ? -result : result;
}

/* ---- the collective part, shared by every sum ------------------------------------------------ */

/* Everything after the local accumulation: one MPI_SUM of the (normalised) accumulators of
 * `components` sums (HOST_SLOTS each), which also counts failed ranks, then the single rounding of
 * each. local is this rank's result so far; on failure its accumulators are ignored and every rank
 * returns an error. */
static pp_err finish_sums(MPI_Comm comm, pp_err local, int64_t *acc, int components, int real_size, const char *what,
                          double *sums)
{
  const int n = components * HOST_SLOTS;
  if (local != PP_OK) memset(acc, 0, (size_t)n * sizeof *acc);
  for (int c = 0; c < components; ++c) {
    acc[c * HOST_SLOTS + SLOT_FAILED] = local != PP_OK;
    normalise(acc + c * HOST_SLOTS); /* limbs < 2^32 again, so up to 2^31 ranks can be added */
  }
  int64_t total[PP_REDUCE_MAX_COMPONENTS * HOST_SLOTS];
  int mpi_code = MPI_Allreduce(acc, total, n, MPI_INT64_T, MPI_SUM, comm);
  if (mpi_code != MPI_SUCCESS) {
    if (local != PP_OK) return pp_error_trace(local, __FILE__, __LINE__, __func__);
    return pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "combining exact sums (MPI_Allreduce)");
  }
  if (total[SLOT_FAILED] > 0) {
    if (local != PP_OK) {
      pp_error_context(local, "(in %s, collective)", what);
      pp_error_set_collective(PP_ERROR_COLLECTIVE);
      return pp_error_trace(local, __FILE__, __LINE__, __func__);
    }
    pp_error_raise(PP_ERR_OTHER_RANK, __FILE__, __LINE__, __func__, "%s failed on %lld other rank(s)", what,
                   (long long)total[SLOT_FAILED]);
    pp_error_set_collective(PP_ERROR_COLLECTIVE_QUIET);
    return PP_ERR_OTHER_RANK;
  }
  for (int c = 0; c < components; ++c) {
    int64_t *t = total + c * HOST_SLOTS;
    normalise(t);
    sums[c] = real_size == 4 ? (double)(float)round_exact(t, 24, BIAS - 149) : round_exact(t, 53, 0);
  }
  return PP_OK;
}

static pp_err finish_sum(MPI_Comm comm, pp_err local, int64_t *acc, int real_size, const char *what, double *sum)
{
  PP_CALL(finish_sums(comm, local, acc, 1, real_size, what, sum));
  return PP_OK;
}

pp_err pp_reduce_sum_host(const double *values, size_t count, MPI_Comm comm, double *sum)
{
  PP_CHECK(sum, PP_ERR_ARGUMENT, "pp_reduce_sum_host: NULL result");
  int64_t acc[HOST_SLOTS] = {0};
  pp_err local = PP_OK;
  if (count && !values)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__, "pp_reduce_sum_host: NULL values");
  else if ((uint64_t)count > MAX_COUNT)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "pp_reduce_sum_host: %zu values, more than the 2^40 one call takes", count);
  else {
    for (size_t i = 0; i < count; ++i) {
      accumulate(acc, values[i]);
      /* each addition adds < 2^32 to a limb: carry out long before 2^63 */
      if ((i & (((size_t)1 << 30) - 1)) == ((size_t)1 << 30) - 1) normalise(acc);
    }
  }
  PP_CALL(finish_sum(comm, local, acc, 8, "pp_reduce_sum_host", sum));
  return PP_OK;
}

/* ---- device side ------------------------------------------------------------------------------ */

/* kernels/exact_sum.cl followed by kernels/<source_name>.cl, built for work-groups of local_size,
 * `expansion` levels and `components` sums per work-item; the kernel is this module's (kept in
 * r->kernels). */
static pp_err build_kernel(pp_reduce *r, const char *source_name, const char *extra_options, size_t local_size,
                           int expansion, int components, const char *kernel_name, cl_kernel *kernel)
{
  const pp_kernel_source *accumulator = pp_kernel_source_find("exact_sum");
  const pp_kernel_source *source = pp_kernel_source_find(source_name);
  PP_CHECK(accumulator && source, PP_ERR_ARGUMENT, "reduce: no embedded OpenCL source '%s' or 'exact_sum'",
           source_name);
  char options[512], file[256];
  snprintf(options, sizeof options,
           "-DREDUCE_LOCAL_SIZE=%zu -DREDUCE_LIMBS=%d -DREDUCE_SLOTS=%d -DREDUCE_EXPANSION=%d "
           "-DEXACT_SUM_COMPONENTS=%d%s%s",
           local_size, LIMBS, SLOTS, expansion, components, extra_options ? " " : "",
           extra_options ? extra_options : "");
  snprintf(file, sizeof file, "%s (behind %s)", source->file, accumulator->file);
  /* Both texts begin with their own #line, so compiler messages name the right file and line. */
  size_t length = accumulator->length + 1 + source->length;
  char *text = malloc(length + 1);
  PP_CHECK(text, PP_ERR_MEMORY, "out of memory for the source of %s", file);
  memcpy(text, accumulator->text, accumulator->length);
  text[accumulator->length] = '\n';
  memcpy(text + accumulator->length + 1, source->text, source->length + 1);
  pp_kernel_source combined = {source->name, file, text, length};
  cl_program program = NULL;
  pp_err err = pp_clrt_build_text(r->clrt, &combined, options, &program);
  free(text);
  PP_CALL(err);
  for (int i = 0; i < r->kernel_count; ++i)
    if (r->kernels[i].program == program && strcmp(r->kernels[i].name, kernel_name) == 0) {
      *kernel = r->kernels[i].kernel;
      return PP_OK;
    }
  if (r->kernel_count == r->kernel_capacity) {
    int capacity = r->kernel_capacity ? 2 * r->kernel_capacity : 8;
    kernel_entry *bigger = realloc(r->kernels, (size_t)capacity * sizeof *bigger);
    PP_CHECK(bigger, PP_ERR_MEMORY, "out of memory for the reduce kernel list");
    r->kernels = bigger;
    r->kernel_capacity = capacity;
  }
  kernel_entry *entry = &r->kernels[r->kernel_count];
  entry->name = malloc(strlen(kernel_name) + 1);
  PP_CHECK(entry->name, PP_ERR_MEMORY, "out of memory for the reduce kernel list");
  strcpy(entry->name, kernel_name);
  cl_int status = CL_SUCCESS;
  entry->kernel = clCreateKernel(program, kernel_name, &status);
  if (status != CL_SUCCESS) free(entry->name);
  char what[512];
  snprintf(what, sizeof what, "creating kernel '%s' from %s", kernel_name, file);
  PP_CL(status, what);
  entry->program = program;
  r->kernel_count += 1;
  *kernel = entry->kernel;
  return PP_OK;
}

static pp_err get_kernels(pp_reduce *r)
{
  const size_t l = r->local_size;
  PP_CALL(build_kernel(r, "reduce", NULL, l, r->expansion, 1, "reduce_sum", &r->sum));
  PP_CALL(build_kernel(r, "reduce", NULL, l, r->expansion, 1, "reduce_sum_combine", &r->combine));
  PP_CALL(build_kernel(r, "reduce", NULL, l, r->expansion, 1, "reduce_min_max", &r->min_max));
  /* reduce_dot for 1 component now, for more when first asked (one program per count) */
  for (int c = 0; c <= PP_REDUCE_MAX_COMPONENTS; ++c) r->dot[c] = NULL;
  PP_CALL(build_kernel(r, "reduce", NULL, l, r->expansion, 1, "reduce_dot", &r->dot[1]));
  return PP_OK;
}

static pp_err apply_launch(pp_reduce *r, size_t local_size, size_t group_count, pp_reduce_layout layout,
                           int expansion)
{
  const pp_device_info *device = pp_clrt_device(r->clrt);
  if (local_size == 0) local_size = (device->type & CL_DEVICE_TYPE_CPU) ? DEFAULT_LOCAL_SIZE_CPU : DEFAULT_LOCAL_SIZE;
  /* Powers of two: the min/max tree halves the group. */
  PP_CHECK((local_size & (local_size - 1)) == 0 && local_size <= 1024, PP_ERR_ARGUMENT,
           "reduce: work-group size %zu is not a power of two up to 1024", local_size);
  PP_CHECK(layout >= PP_REDUCE_LAYOUT_AUTO && layout <= PP_REDUCE_LAYOUT_STRIDED, PP_ERR_ARGUMENT,
           "reduce: unknown layout %d", (int)layout);
  PP_CHECK(expansion >= -1 && expansion <= MAX_EXPANSION, PP_ERR_ARGUMENT,
           "reduce: %d expansion levels asked for; -1 (automatic) to %d", expansion, MAX_EXPANSION);
  size_t groups = group_count ? group_count : (size_t)GROUPS_PER_COMPUTE_UNIT * (device->compute_units ? device->compute_units : 1);
  /* Group partial limbs are < 2^32 * local; their sum over groups must stay < 2^63. */
  PP_CHECK(groups <= ((size_t)1 << 30) / local_size, PP_ERR_ARGUMENT,
           "reduce: %zu work-groups of %zu is more than the 2^30 work-items the accumulator allows", groups,
           local_size);
  r->local_size = local_size;
  r->group_count = group_count;
  r->layout = layout;
  r->blocked = layout == PP_REDUCE_LAYOUT_BLOCKED ||
               (layout == PP_REDUCE_LAYOUT_AUTO && (device->type & CL_DEVICE_TYPE_CPU));
  r->expansion_setting = expansion;
  /* The expansion is floating-point double arithmetic (see kernels/exact_sum.cl); on by default
   * where it was measured to pay: CPUs, where the superaccumulator's scatter is the bottleneck. */
  if (r->real_size != 8) r->expansion = 0;
  else if (expansion >= 0) r->expansion = expansion;
  else r->expansion = (device->type & CL_DEVICE_TYPE_CPU) ? DEFAULT_EXPANSION : 0;
  PP_CALL(get_kernels(r));
  if (groups > r->partials_groups) {
    if (r->partials) clReleaseMemObject(r->partials);
    r->partials = NULL;
    free(r->host_partials);
    r->host_partials = NULL;
    r->partials_groups = 0;
    PP_CALL(pp_clrt_buffer(r->clrt, CL_MEM_READ_WRITE, groups * PP_REDUCE_MAX_COMPONENTS * SLOTS * sizeof(cl_long),
                           "reduce group partials", &r->partials));
    PP_MALLOC(r->host_partials, groups * MIN_MAX_SLOTS, "reduce min/max partials");
    r->partials_groups = groups;
  }
  return PP_OK;
}

pp_err pp_reduce_set_launch(pp_reduce *reduce, size_t local_size, size_t group_count, pp_reduce_layout layout)
{
  PP_CHECK(reduce, PP_ERR_ARGUMENT, "pp_reduce_set_launch: NULL reduce");
  PP_CALL(apply_launch(reduce, local_size, group_count, layout, reduce->expansion_setting));
  return PP_OK;
}

pp_err pp_reduce_set_expansion(pp_reduce *reduce, int levels)
{
  PP_CHECK(reduce, PP_ERR_ARGUMENT, "pp_reduce_set_expansion: NULL reduce");
  PP_CALL(apply_launch(reduce, reduce->local_size, reduce->group_count, reduce->layout, levels));
  return PP_OK;
}

int pp_reduce_expansion(const pp_reduce *reduce) { return reduce->expansion; }

void pp_reduce_destroy(pp_reduce *reduce)
{
  if (!reduce) return;
  /* The programs belong to the clrt's cache, the kernels to this module. */
  for (int i = 0; i < reduce->kernel_count; ++i) {
    clReleaseKernel(reduce->kernels[i].kernel);
    free(reduce->kernels[i].name);
  }
  free(reduce->kernels);
  if (reduce->partials) clReleaseMemObject(reduce->partials);
  if (reduce->total) clReleaseMemObject(reduce->total);
  free(reduce->host_partials);
  free(reduce);
}

static pp_err create_local(pp_reduce *r)
{
  PP_CALL(pp_clrt_buffer(r->clrt, CL_MEM_READ_WRITE, PP_REDUCE_MAX_COMPONENTS * SLOTS * sizeof(cl_long),
                         "reduce total", &r->total));
  PP_CALL(apply_launch(r, 0, 0, PP_REDUCE_LAYOUT_AUTO, -1));
  return PP_OK;
}

pp_err pp_reduce_create(pp_reduce **reduce, pp_clrt *clrt, MPI_Comm comm)
{
  PP_CHECK(reduce && clrt, PP_ERR_ARGUMENT, "pp_reduce_create: NULL argument");
  *reduce = NULL;
  pp_reduce *r = calloc(1, sizeof *r);
  pp_err local = r ? PP_OK
                   : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for pp_reduce");
  if (r) {
    r->clrt = clrt;
    r->comm = comm;
    r->real_size = pp_clrt_real_size(clrt);
    local = create_local(r);
  }
  /* Every rank learns whether all built their kernels (a sum below would otherwise hang). */
  int failed = local != PP_OK, failed_anywhere = 0;
  int mpi_code = MPI_Allreduce(&failed, &failed_anywhere, 1, MPI_INT, MPI_SUM, comm);
  if (mpi_code != MPI_SUCCESS || failed_anywhere) {
    pp_reduce_destroy(r);
    if (local != PP_OK) {
      pp_error_set_collective(mpi_code == MPI_SUCCESS ? PP_ERROR_COLLECTIVE : PP_ERROR_LOCAL);
      return pp_error_trace(local, __FILE__, __LINE__, __func__);
    }
    if (mpi_code != MPI_SUCCESS)
      return pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "agreeing on pp_reduce_create");
    pp_error_raise(PP_ERR_OTHER_RANK, __FILE__, __LINE__, __func__,
                   "pp_reduce_create failed on %d other rank(s)", failed_anywhere);
    pp_error_set_collective(PP_ERROR_COLLECTIVE_QUIET);
    return PP_ERR_OTHER_RANK;
  }
  *reduce = r;
  return PP_OK;
}

/* The shape of a launch over count nodes (of any number of components each) in work-groups of
 * local_size: at most the configured group count; the block length of the blocked layout (0:
 * strided), a multiple of 8 so the batches of eight of kernels/exact_sum.cl line up. */
static pp_err launch_shape(const pp_reduce *r, size_t local_size, size_t count, size_t *groups, cl_ulong *chunk)
{
  const pp_device_info *device = pp_clrt_device(r->clrt);
  size_t most = r->group_count ? r->group_count
                               : (size_t)GROUPS_PER_COMPUTE_UNIT * (device->compute_units ? device->compute_units : 1);
  size_t needed = (count + local_size - 1) / local_size;
  *groups = needed < most ? needed : most;
  if (*groups == 0) *groups = 1;
  PP_CHECK(*groups <= r->partials_groups && *groups <= ((size_t)1 << 30) / local_size, PP_ERR_ARGUMENT,
           "reduce: %zu work-groups of %zu do not fit the accumulator (at most %zu groups, 2^30 work-items)", *groups,
           local_size, r->partials_groups);
  size_t items = *groups * local_size;
  *chunk = r->blocked ? (cl_ulong)((count + items - 1) / items + 7) / 8 * 8 : 0;
  return PP_OK;
}

/* The values must lie inside the buffer: a bug here would read past it on the device. */
static pp_err check_extent(const pp_reduce *r, cl_mem buffer, size_t offset, size_t stride, size_t count,
                           const char *what)
{
  PP_CHECK(buffer, PP_ERR_ARGUMENT, "%s: NULL buffer", what);
  PP_CHECK((uint64_t)count <= MAX_COUNT, PP_ERR_ARGUMENT, "%s: %zu values, more than the 2^40 one call takes", what,
           count);
  PP_CHECK(stride >= 1, PP_ERR_ARGUMENT, "%s: stride must be at least 1", what);
  size_t bytes = 0;
  PP_CL(clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof bytes, &bytes, NULL), "reading the size of a reduce input");
  size_t elements = bytes / (size_t)r->real_size;
  PP_CHECK(offset < elements && (count - 1) <= (elements - 1 - offset) / stride, PP_ERR_ARGUMENT,
           "%s: %zu values from %zu with stride %zu run past the buffer's %zu", what, count, offset, stride,
           elements);
  return PP_OK;
}

/* Add the partials of a launch of `groups` groups of `components` partials each and read this
 * rank's accumulators back into acc (HOST_SLOTS apart). */
static pp_err combine_partials(pp_reduce *r, size_t groups, int components, int64_t *acc)
{
  cl_uint group_count = (cl_uint)groups, component_count = (cl_uint)components;
  PP_CL(clSetKernelArg(r->combine, 0, sizeof group_count, &group_count), "setting reduce_sum_combine argument groups");
  PP_CL(clSetKernelArg(r->combine, 1, sizeof component_count, &component_count),
        "setting reduce_sum_combine argument components");
  PP_CL(clSetKernelArg(r->combine, 2, sizeof r->partials, &r->partials), "setting reduce_sum_combine argument partials");
  PP_CL(clSetKernelArg(r->combine, 3, sizeof r->total, &r->total), "setting reduce_sum_combine argument total");
  /* clrt's default work-group size: this kernel has no local memory and is not tied to L */
  PP_CALL(pp_clrt_launch(r->clrt, r->combine, "reduce_sum_combine", (size_t)components * SLOTS, 0));
  cl_long total[PP_REDUCE_MAX_COMPONENTS * SLOTS];
  PP_CALL(pp_clrt_read(r->clrt, r->total, 0, (size_t)components * SLOTS * sizeof(cl_long), total, "reduce total"));
  for (int c = 0; c < components; ++c)
    for (int j = 0; j < SLOTS; ++j) acc[c * HOST_SLOTS + j] = total[c * SLOTS + j];
  return PP_OK;
}

/* This rank's exact accumulator of x[offset + i*stride], i < count. */
static pp_err device_sum(pp_reduce *r, cl_mem x, size_t offset, size_t stride, size_t count, int64_t *acc)
{
  if (count == 0) return PP_OK;
  PP_CALL(check_extent(r, x, offset, stride, count, "pp_reduce_sum"));
  size_t groups = 0;
  cl_ulong chunk = 0, n = count, first = offset, step = stride;
  PP_CALL(launch_shape(r, r->local_size, count, &groups, &chunk));
  cl_kernel k = r->sum;
  PP_CL(clSetKernelArg(k, 0, sizeof n, &n), "setting reduce_sum argument n");
  PP_CL(clSetKernelArg(k, 1, sizeof first, &first), "setting reduce_sum argument offset");
  PP_CL(clSetKernelArg(k, 2, sizeof step, &step), "setting reduce_sum argument stride");
  PP_CL(clSetKernelArg(k, 3, sizeof chunk, &chunk), "setting reduce_sum argument chunk");
  PP_CL(clSetKernelArg(k, 4, sizeof x, &x), "setting reduce_sum argument x");
  PP_CL(clSetKernelArg(k, 5, sizeof r->partials, &r->partials), "setting reduce_sum argument partials");
  PP_CALL(pp_clrt_launch(r->clrt, k, "reduce_sum", groups * r->local_size, r->local_size));
  PP_CALL(combine_partials(r, groups, 1, acc));
  return PP_OK;
}

/* This rank's exact accumulators of the component dot products of x and y (count per component). */
static pp_err device_dots(pp_reduce *r, cl_mem x, cl_mem y, size_t count, int components, int64_t *acc)
{
  if (count == 0) return PP_OK;
  PP_CHECK(y, PP_ERR_ARGUMENT, "pp_reduce_dot: NULL buffer y");
  PP_CALL(check_extent(r, x, 0, 1, count * (size_t)components, "pp_reduce_dot"));
  PP_CALL(check_extent(r, y, 0, 1, count * (size_t)components, "pp_reduce_dot"));
  if (!r->dot[components])
    PP_CALL(build_kernel(r, "reduce", NULL, r->local_size, r->expansion, components, "reduce_dot", &r->dot[components]));
  size_t groups = 0;
  cl_ulong chunk = 0, n = count;
  PP_CALL(launch_shape(r, r->local_size, count, &groups, &chunk));
  cl_kernel k = r->dot[components];
  PP_CL(clSetKernelArg(k, 0, sizeof n, &n), "setting reduce_dot argument n");
  PP_CL(clSetKernelArg(k, 1, sizeof chunk, &chunk), "setting reduce_dot argument chunk");
  PP_CL(clSetKernelArg(k, 2, sizeof x, &x), "setting reduce_dot argument x");
  PP_CL(clSetKernelArg(k, 3, sizeof y, &y), "setting reduce_dot argument y");
  PP_CL(clSetKernelArg(k, 4, sizeof r->partials, &r->partials), "setting reduce_dot argument partials");
  PP_CALL(pp_clrt_launch(r->clrt, k, "reduce_dot", groups * r->local_size, r->local_size));
  PP_CALL(combine_partials(r, groups, components, acc));
  return PP_OK;
}

pp_err pp_reduce_sum_strided(pp_reduce *reduce, cl_mem values, size_t offset, size_t stride, size_t count,
                             double *sum)
{
  PP_CHECK(reduce && sum, PP_ERR_ARGUMENT, "pp_reduce_sum: NULL argument");
  int64_t acc[HOST_SLOTS] = {0};
  pp_err local = device_sum(reduce, values, offset, stride, count, acc);
  PP_CALL(finish_sum(reduce->comm, local, acc, reduce->real_size, "pp_reduce_sum", sum));
  return PP_OK;
}

pp_err pp_reduce_sum(pp_reduce *reduce, cl_mem values, size_t count, double *sum)
{
  PP_CALL(pp_reduce_sum_strided(reduce, values, 0, 1, count, sum));
  return PP_OK;
}

pp_err pp_reduce_dots(pp_reduce *reduce, cl_mem x, cl_mem y, size_t count, int components, double *dots)
{
  PP_CHECK(reduce && dots, PP_ERR_ARGUMENT, "pp_reduce_dots: NULL argument");
  PP_CHECK(components >= 1 && components <= PP_REDUCE_MAX_COMPONENTS, PP_ERR_ARGUMENT,
           "pp_reduce_dots: %d components, 1 to %d supported", components, PP_REDUCE_MAX_COMPONENTS);
  int64_t acc[PP_REDUCE_MAX_COMPONENTS * HOST_SLOTS] = {0};
  pp_err local = device_dots(reduce, x, y, count, components, acc);
  PP_CALL(finish_sums(reduce->comm, local, acc, components, reduce->real_size, "pp_reduce_dot", dots));
  return PP_OK;
}

pp_err pp_reduce_dot(pp_reduce *reduce, cl_mem x, cl_mem y, size_t count, double *dot)
{
  PP_CALL(pp_reduce_dots(reduce, x, y, count, 1, dot));
  return PP_OK;
}

/* ---- exact sums inside other modules' kernels ------------------------------------------------- */

pp_err pp_reduce_kernel(pp_reduce *reduce, const char *source_name, const char *extra_options, int components,
                        const char *kernel_name, cl_kernel *kernel, size_t *local_size)
{
  PP_CHECK(reduce && source_name && kernel_name && kernel && local_size, PP_ERR_ARGUMENT,
           "pp_reduce_kernel: NULL argument");
  PP_CHECK(components >= 1 && components <= PP_REDUCE_MAX_COMPONENTS, PP_ERR_ARGUMENT,
           "pp_reduce_kernel: %d components, 1 to %d supported", components, PP_REDUCE_MAX_COMPONENTS);
  PP_CALL(build_kernel(reduce, source_name, extra_options, reduce->local_size, reduce->expansion, components,
                       kernel_name, kernel));
  *local_size = reduce->local_size;
  return PP_OK;
}

pp_err pp_reduce_launch_shape(pp_reduce *reduce, size_t local_size, size_t count, int components,
                              pp_reduce_launch *launch)
{
  PP_CHECK(reduce && launch && local_size > 0, PP_ERR_ARGUMENT, "pp_reduce_launch_shape: bad argument");
  PP_CHECK(components >= 1 && components <= PP_REDUCE_MAX_COMPONENTS, PP_ERR_ARGUMENT,
           "pp_reduce_launch_shape: %d components, 1 to %d supported", components, PP_REDUCE_MAX_COMPONENTS);
  PP_CHECK((uint64_t)count <= MAX_COUNT, PP_ERR_ARGUMENT,
           "pp_reduce_launch_shape: %zu values, more than the 2^40 one call takes", count);
  launch->local_size = local_size;
  launch->components = components;
  launch->partials = reduce->partials;
  PP_CALL(launch_shape(reduce, local_size, count, &launch->group_count, &launch->chunk));
  return PP_OK;
}

pp_err pp_reduce_finish(pp_reduce *reduce, pp_err local, const pp_reduce_launch *launch, double *sums)
{
  PP_CHECK(reduce && launch && sums, PP_ERR_ARGUMENT, "pp_reduce_finish: NULL argument");
  /* The same on every rank (the caller's contract), even where the launch failed. */
  int components = launch->components;
  PP_CHECK(components >= 1 && components <= PP_REDUCE_MAX_COMPONENTS, PP_ERR_ARGUMENT,
           "pp_reduce_finish: %d components, 1 to %d supported", components, PP_REDUCE_MAX_COMPONENTS);
  int64_t acc[PP_REDUCE_MAX_COMPONENTS * HOST_SLOTS] = {0};
  if (local == PP_OK && launch->partials != reduce->partials)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "pp_reduce_finish: the partials buffer changed since pp_reduce_launch_shape");
  if (local == PP_OK) local = combine_partials(reduce, launch->group_count, components, acc);
  PP_CALL(finish_sums(reduce->comm, local, acc, components, reduce->real_size, "pp_reduce_finish", sums));
  return PP_OK;
}

/* ---- min and max ------------------------------------------------------------------------------ */

/* The integer key of kernels/reduce.cl's real_key for a value of the given REAL size. */
static int64_t key_of(double value, int real_size)
{
  if (real_size == 4) {
    float f = (float)value;
    int32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits >= 0 ? bits : bits ^ INT32_C(0x7FFFFFFF);
  }
  int64_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits >= 0 ? bits : bits ^ INT64_C(0x7FFFFFFFFFFFFFFF);
}

static double value_of(int64_t key, int real_size)
{
  if (real_size == 4) {
    int32_t bits = (int32_t)key;
    bits = bits >= 0 ? bits : bits ^ INT32_C(0x7FFFFFFF);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
  }
  int64_t bits = key >= 0 ? key : key ^ INT64_C(0x7FFFFFFFFFFFFFFF);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* This rank's {min key, max key, NaN count}. */
static pp_err device_min_max(pp_reduce *r, cl_mem values, size_t count, int64_t *result)
{
  if (count == 0) return PP_OK;
  PP_CALL(check_extent(r, values, 0, 1, count, "pp_reduce_min_max"));
  size_t groups = 0;
  cl_ulong chunk = 0, n = count, offset = 0, stride = 1;
  PP_CALL(launch_shape(r, r->local_size, count, &groups, &chunk));
  cl_kernel k = r->min_max;
  PP_CL(clSetKernelArg(k, 0, sizeof n, &n), "setting reduce_min_max argument n");
  PP_CL(clSetKernelArg(k, 1, sizeof offset, &offset), "setting reduce_min_max argument offset");
  PP_CL(clSetKernelArg(k, 2, sizeof stride, &stride), "setting reduce_min_max argument stride");
  PP_CL(clSetKernelArg(k, 3, sizeof chunk, &chunk), "setting reduce_min_max argument chunk");
  PP_CL(clSetKernelArg(k, 4, sizeof values, &values), "setting reduce_min_max argument x");
  PP_CL(clSetKernelArg(k, 5, sizeof r->partials, &r->partials), "setting reduce_min_max argument partials");
  PP_CALL(pp_clrt_launch(r->clrt, k, "reduce_min_max", groups * r->local_size, r->local_size));
  PP_CALL(pp_clrt_read(r->clrt, r->partials, 0, groups * MIN_MAX_SLOTS * sizeof(cl_long), r->host_partials,
                       "reduce min/max partials"));
  for (size_t g = 0; g < groups; ++g) {
    const int64_t *p = &r->host_partials[g * MIN_MAX_SLOTS];
    if (p[0] < result[0]) result[0] = p[0];
    if (p[1] > result[1]) result[1] = p[1];
    result[2] += p[2];
  }
  return PP_OK;
}

pp_err pp_reduce_min_max(pp_reduce *reduce, cl_mem values, size_t count, double *min, double *max)
{
  PP_CHECK(reduce, PP_ERR_ARGUMENT, "pp_reduce_min_max: NULL reduce");
  const int rs = reduce->real_size;
  /* The identities: an empty part (or an empty whole) gives min +Inf, max -Inf. */
  int64_t local_result[MIN_MAX_SLOTS] = {key_of(INFINITY, rs), key_of(-INFINITY, rs), 0};
  pp_err local = device_min_max(reduce, values, count, local_result);
  /* One MPI_MAX: the failure flag, "any NaN", the bitwise complement of the min key (~ reverses
   * the order without overflow) and the max key. */
  int64_t mine[4] = {local != PP_OK, local_result[2] > 0, ~local_result[0], local_result[1]}, all[4];
  int mpi_code = MPI_Allreduce(mine, all, 4, MPI_INT64_T, MPI_MAX, reduce->comm);
  if (mpi_code != MPI_SUCCESS) {
    if (local != PP_OK) return pp_error_trace(local, __FILE__, __LINE__, __func__);
    return pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "combining minima and maxima (MPI_Allreduce)");
  }
  if (all[0]) {
    if (local != PP_OK) {
      pp_error_set_collective(PP_ERROR_COLLECTIVE);
      return pp_error_trace(local, __FILE__, __LINE__, __func__);
    }
    pp_error_raise(PP_ERR_OTHER_RANK, __FILE__, __LINE__, __func__, "pp_reduce_min_max failed on another rank");
    pp_error_set_collective(PP_ERROR_COLLECTIVE_QUIET);
    return PP_ERR_OTHER_RANK;
  }
  if (min) *min = all[1] ? NAN : value_of(~all[2], rs);
  if (max) *max = all[1] ? NAN : value_of(all[3], rs);
  return PP_OK;
}

pp_err pp_reduce_min(pp_reduce *reduce, cl_mem values, size_t count, double *min)
{
  PP_CALL(pp_reduce_min_max(reduce, values, count, min, NULL));
  return PP_OK;
}

pp_err pp_reduce_max(pp_reduce *reduce, cl_mem values, size_t count, double *max)
{
  PP_CALL(pp_reduce_min_max(reduce, values, count, NULL, max));
  return PP_OK;
}
