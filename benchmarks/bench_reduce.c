/* The cost of reproducible sums: `reduce` times pp_reduce_sum (host/reduce: exact fixed-point
 * accumulation behind a floating-point expansion on CPUs, kernels/exact_sum.cl and reduce.cl) with
 * host/reduce's own launch shape (what the solver gets; --local does not apply to it), and
 * `plain_sum` a plain floating-point sum with host/reduce's group count and work distribution and
 * the harness's work-group size (a sequential sum per work-item, a tree per group, the group
 * partials added on the host). Both read n REALs once, so both are reported in GB/s of
 * n sizeof(REAL) bytes, and `reduce` states its time as a multiple of `plain_sum`'s.
 * Each repetition is a whole call as a solver makes it: kernels, read-back, host part.
 *
 * Inputs: v_i = +-m_i 2^e_i with m_i < 2^11 and e_i in [-12, 12], so the exact sum is an integer
 * times 2^-12 that fits int64: the host knows it exactly, and the correctly rounded REAL is one
 * conversion away. `reduce` must hit it bit for bit; `plain_sum` must lie within the a-priori
 * bound of recursive summation, (k - 1) u sum|v_i| for chains of length k. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cases.h"
#include "reduce.h"

/* The plain sum, a benchmark reference only (its result depends on the launch shape, so it is
 * not in kernels/). Built from this text with the same REAL options as every kernel. */
static const char plain_sum_source[] =
  "#pragma OPENCL FP_CONTRACT OFF\n"
  "#if REAL_IS_DOUBLE\n"
  "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
  "#endif\n"
  "__kernel __attribute__((reqd_work_group_size(PLAIN_LOCAL_SIZE, 1, 1)))\n"
  "void plain_sum(const ulong n, const ulong chunk, __global const REAL *restrict x,\n"
  "               __global REAL *restrict partials)\n"
  "{\n"
  "  __local REAL scratch[PLAIN_LOCAL_SIZE];\n"
  "  const ulong gid = get_global_id(0);\n"
  "  ulong begin = chunk ? gid * chunk : gid, end = chunk ? min(n, begin + chunk) : n;\n"
  "  const ulong step = chunk ? 1 : get_global_size(0);\n"
  "  REAL sum = 0;\n"
  "  for (ulong i = begin; i < end; i += step) sum += x[i];\n"
  "  const uint lid = get_local_id(0);\n"
  "  scratch[lid] = sum;\n"
  "  barrier(CLK_LOCAL_MEM_FENCE);\n"
  "  for (uint width = PLAIN_LOCAL_SIZE / 2; width > 0; width /= 2) {\n"
  "    if (lid < width) scratch[lid] += scratch[lid + width];\n"
  "    barrier(CLK_LOCAL_MEM_FENCE);\n"
  "  }\n"
  "  if (lid == 0) partials[get_group_id(0)] = scratch[0];\n"
  "}\n";

/* The launch shape both cases use: as host/reduce chooses it by default (8 groups per compute
 * unit, blocked on CPUs, strided elsewhere), with the harness's work-group size. */
typedef struct {
  size_t groups;
  cl_ulong chunk;
} shape;

static shape launch_shape(const pp_bench *bench)
{
  const pp_device_info *device = pp_clrt_device(bench->clrt);
  size_t most = 8 * (size_t)(device->compute_units ? device->compute_units : 1);
  size_t needed = (bench->size + bench->local_size - 1) / bench->local_size;
  shape s = {needed < most ? needed : most, 0};
  if (device->type & CL_DEVICE_TYPE_CPU) {
    size_t items = s.groups * bench->local_size;
    s.chunk = (bench->size + items - 1) / items;
  }
  return s;
}

static double input_value(size_t i, int64_t *scaled)
{
  uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  int64_t m = (int64_t)((h >> 8) & 0x7FF);  /* < 2^11 */
  int e = (int)((h >> 20) % 25) - 12;        /* -12 .. 12 */
  if ((h >> 40) & 1) m = -m;
  *scaled = m * ((int64_t)1 << (e + 12));    /* v * 2^12, exactly */
  return ldexp((double)m, e);
}

/* n REALs of input on host and device; the exact sum times 2^12 and sum |v| in *exact_scaled,
 * *magnitude. */
static pp_err make_input(pp_bench *bench, void **host, cl_mem *device, int64_t *exact_scaled, double *magnitude)
{
  const size_t n = bench->size;
  const int rs = pp_clrt_real_size(bench->clrt);
  *host = malloc(n * (size_t)rs);
  PP_CHECK(*host, PP_ERR_MEMORY, "out of memory for the reduce input (%zu elements)", n);
  int64_t total = 0;
  double absolute = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t scaled = 0;
    double v = input_value(i, &scaled);
    pp_bench_put_real(*host, rs, i, v); /* exact in float too: 11-bit mantissas */
    total += scaled;
    absolute += fabs(v);
  }
  *exact_scaled = total;
  *magnitude = absolute;
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_ONLY, n * (size_t)rs, "reduce input", device));
  PP_CALL(pp_clrt_write(bench->clrt, *device, 0, n * (size_t)rs, *host, "reduce input"));
  return PP_OK;
}

/* The exact sum total * 2^-12 rounded once to REAL: the integer conversion rounds to nearest even,
 * the scaling is exact. */
static double rounded_exact(int64_t total, int real_size)
{
  return real_size == 4 ? (double)ldexpf((float)total, -12) : ldexp((double)total, -12);
}

/* ---- plain_sum ---------------------------------------------------------------------------------- */

typedef struct {
  cl_kernel kernel;
  cl_mem partials;
  size_t groups;
  void *host_partials;
  double result;
} plain_run;

static pp_err run_plain(pp_bench *bench, void *user)
{
  plain_run *p = user;
  const int rs = pp_clrt_real_size(bench->clrt);
  PP_CALL(pp_clrt_launch(bench->clrt, p->kernel, "plain_sum", p->groups * bench->local_size, bench->local_size));
  PP_CALL(pp_clrt_read(bench->clrt, p->partials, 0, p->groups * (size_t)rs, p->host_partials, "plain_sum partials"));
  double sum = 0;
  for (size_t g = 0; g < p->groups; ++g) sum += pp_bench_get_real(p->host_partials, rs, g);
  p->result = sum;
  return PP_OK;
}

static pp_err plain_body(pp_bench *bench, void **host, cl_mem *buffers, plain_run *p)
{
  const size_t n = bench->size;
  const int rs = pp_clrt_real_size(bench->clrt);
  int64_t exact_scaled = 0;
  double magnitude = 0;
  PP_CALL(make_input(bench, host, &buffers[0], &exact_scaled, &magnitude));
  shape s = launch_shape(bench);
  p->groups = s.groups;
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, s.groups * (size_t)rs, "plain_sum partials", &buffers[1]));
  p->partials = buffers[1];
  p->host_partials = malloc(s.groups * (size_t)rs);
  PP_CHECK(p->host_partials, PP_ERR_MEMORY, "out of memory for the plain_sum partials");

  char options[64];
  snprintf(options, sizeof options, "-DPLAIN_LOCAL_SIZE=%zu", bench->local_size);
  pp_kernel_source source = {"plain_sum", "benchmarks/bench_reduce.c", plain_sum_source, sizeof plain_sum_source - 1};
  cl_program program = NULL;
  PP_CALL(pp_clrt_build_text(bench->clrt, &source, options, &program));
  cl_int status = CL_SUCCESS;
  p->kernel = clCreateKernel(program, "plain_sum", &status);
  PP_CL(status, "creating kernel plain_sum");
  cl_ulong count = n;
  PP_CL(clSetKernelArg(p->kernel, 0, sizeof count, &count), "setting plain_sum argument n");
  PP_CL(clSetKernelArg(p->kernel, 1, sizeof s.chunk, &s.chunk), "setting plain_sum argument chunk");
  PP_CL(clSetKernelArg(p->kernel, 2, sizeof(cl_mem), &buffers[0]), "setting plain_sum argument x");
  PP_CL(clSetKernelArg(p->kernel, 3, sizeof(cl_mem), &buffers[1]), "setting plain_sum argument partials");

  pp_bench_result result = {.name = "plain_sum", .size = n};
  result.bytes = (double)n * rs;
  result.flops = (double)n; /* one add per element (the tree and host adds are negligible) */
  PP_CALL(pp_bench_time(bench, run_plain, p, &result));

  /* Longest chain of roundings: a work-item's elements, the tree, the host's adds. */
  size_t per_item = s.chunk ? (size_t)s.chunk : (n + s.groups * bench->local_size - 1) / (s.groups * bench->local_size);
  double chain = (double)per_item + log2((double)bench->local_size) + (double)s.groups;
  double u = rs == 8 ? 0x1p-53 : 0x1p-24;
  double exact = ldexp((double)exact_scaled, -12), bound = chain * u * magnitude * 1.01;
  double error = fabs(p->result - exact);
  result.valid = error <= bound;
  snprintf(result.check, sizeof result.check, "error %.3g vs bound %.3g (%s exact: %.17g)", error, bound,
           p->result == rounded_exact(exact_scaled, rs) ? "bitwise" : "not", p->result);
  PP_CALL(pp_bench_record(bench, &result));
  return PP_OK;
}

pp_err pp_bench_case_plain_sum(pp_bench *bench)
{
  PP_CHECK(bench->size > 0, PP_ERR_ARGUMENT, "benchmark size must be positive");
  void *host = NULL;
  cl_mem buffers[2] = {NULL, NULL};
  plain_run p;
  memset(&p, 0, sizeof p);
  pp_err err = plain_body(bench, &host, buffers, &p);
  if (p.kernel) clReleaseKernel(p.kernel);
  free(p.host_partials);
  free(host);
  for (int i = 0; i < 2; ++i)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  return PP_OK;
}

/* ---- reduce ------------------------------------------------------------------------------------- */

typedef struct {
  pp_reduce *reduce;
  cl_mem values;
  size_t n;
  double result;
} reduce_run;

static pp_err run_reduce(pp_bench *bench, void *user)
{
  (void)bench;
  reduce_run *r = user;
  PP_CALL(pp_reduce_sum(r->reduce, r->values, r->n, &r->result));
  return PP_OK;
}

static pp_err reduce_body(pp_bench *bench, void **host, cl_mem *values, reduce_run *r)
{
  const size_t n = bench->size;
  const int rs = pp_clrt_real_size(bench->clrt);
  int64_t exact_scaled = 0;
  double magnitude = 0;
  PP_CALL(make_input(bench, host, values, &exact_scaled, &magnitude));
  PP_CALL(pp_reduce_create(&r->reduce, bench->clrt, MPI_COMM_WORLD));
  /* host/reduce's own launch shape, the one the solver gets (not the harness's --local) */
  PP_CALL(pp_reduce_set_expansion(r->reduce, bench->reduce_expansion));
  r->values = *values;
  r->n = n;

  pp_bench_result result = {.name = "reduce", .size = n};
  result.bytes = (double)n * rs;
  PP_CALL(pp_bench_time(bench, run_reduce, r, &result));

  double expected = rounded_exact(exact_scaled, rs);
  result.valid = memcmp(&r->result, &expected, sizeof expected) == 0;
  /* The cost of reproducibility, when plain_sum ran in this session. */
  char ratio[128];
  snprintf(ratio, sizeof ratio, "; expansion %d", pp_reduce_expansion(r->reduce));
  for (int i = 0; i < bench->result_count; ++i)
    if (strcmp(bench->results[i].name, "plain_sum") == 0 && bench->results[i].min_s > 0)
      snprintf(ratio, sizeof ratio, "; expansion %d; %.2f x the time of plain_sum", pp_reduce_expansion(r->reduce),
               result.min_s / bench->results[i].min_s);
  if (result.valid)
    snprintf(result.check, sizeof result.check, "bitwise the correctly rounded sum %.17g%s", expected, ratio);
  else
    snprintf(result.check, sizeof result.check, "got %.17g, the correctly rounded sum is %.17g", r->result, expected);
  PP_CALL(pp_bench_record(bench, &result));
  return PP_OK;
}

pp_err pp_bench_case_reduce(pp_bench *bench)
{
  PP_CHECK(bench->size > 0, PP_ERR_ARGUMENT, "benchmark size must be positive");
  void *host = NULL;
  cl_mem values = NULL;
  reduce_run r;
  memset(&r, 0, sizeof r);
  pp_err err = reduce_body(bench, &host, &values, &r);
  pp_reduce_destroy(r.reduce);
  free(host);
  if (values) clReleaseMemObject(values);
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  return PP_OK;
}
