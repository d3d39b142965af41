/* Memory-bandwidth cases in BabelStream's manner: triad a = b + s*c and copy b = a on n
 * elements, timed by the harness, then every element checked against the value the host
 * computes. The inputs are chosen so the expected values are exact in float and double
 * (small integers and multiples of 1/4 and 1/8), so the check is equality, and they vary with
 * the index so that an indexing bug cannot pass. triad runs on several ranks too (each its block
 * of the n elements, all at once: the machine's aggregate bandwidth, for cg on as many ranks). */
#include <stdlib.h>
#include <string.h>

#include "bench_cases.h"

typedef struct {
  cl_kernel kernel;
  size_t n;
  const char *label;
} stream_launch;

static pp_err run_stream(pp_bench *bench, void *user)
{
  stream_launch *launch = user;
  PP_CALL(pp_clrt_launch(bench->clrt, launch->kernel, launch->label, launch->n, bench->local_size));
  return PP_OK;
}

static double b_value(size_t i) { return (double)(i % 1024); }
static double c_value(size_t i) { return 0.25 * (double)(i % 7); }

/* Host buffer and device buffer of n REALs, the host one filled by value(first + i) and copied over. */
static pp_err make_input(pp_bench *bench, size_t n, size_t first, double (*value)(size_t), const char *what,
                         void **host, cl_mem *device)
{
  int rs = pp_clrt_real_size(bench->clrt);
  *host = malloc(n * (size_t)rs);
  PP_CHECK(*host, PP_ERR_MEMORY, "out of memory for the host copy of %s (%zu elements)", what, n);
  for (size_t i = 0; i < n; ++i) pp_bench_put_real(*host, rs, i, value(first + i));
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, n * (size_t)rs, what, device));
  PP_CALL(pp_clrt_write(bench->clrt, *device, 0, n * (size_t)rs, *host, what));
  return PP_OK;
}

static pp_err triad_body(pp_bench *bench, void **hosts, cl_mem *buffers)
{
  size_t first = 0, end = 0;
  pp_bench_block(bench, bench->size, &first, &end);
  const size_t n = end - first; /* this rank's elements */
  const int rs = pp_clrt_real_size(bench->clrt);
  const double s = 0.5;
  PP_CALL(make_input(bench, n, first, b_value, "triad b", &hosts[0], &buffers[0]));
  PP_CALL(make_input(bench, n, first, c_value, "triad c", &hosts[1], &buffers[1]));
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, n * (size_t)rs, "triad a", &buffers[2]));
  hosts[2] = malloc(n * (size_t)rs);
  PP_CHECK(hosts[2], PP_ERR_MEMORY, "out of memory for the host copy of triad a");

  cl_kernel kernel;
  PP_CALL(pp_clrt_kernel(bench->clrt, "vector_ops", "vector_triad", &kernel));
  cl_ulong count = n;
  PP_CL(clSetKernelArg(kernel, 0, sizeof count, &count), "setting triad argument n");
  PP_CALL(pp_bench_set_real_arg(bench, kernel, 1, s, "setting triad argument s"));
  PP_CL(clSetKernelArg(kernel, 2, sizeof(cl_mem), &buffers[0]), "setting triad argument b");
  PP_CL(clSetKernelArg(kernel, 3, sizeof(cl_mem), &buffers[1]), "setting triad argument c");
  PP_CL(clSetKernelArg(kernel, 4, sizeof(cl_mem), &buffers[2]), "setting triad argument a");

  pp_bench_result result = {.name = "triad", .size = bench->size};
  result.bytes = 3.0 * (double)bench->size * rs;  /* read b, read c, write a: all ranks */
  result.flops = 2.0 * (double)bench->size;       /* one multiply, one add */
  stream_launch launch = {kernel, n, "triad"};
  PP_CALL(pp_bench_time(bench, run_stream, &launch, &result));

  PP_CALL(pp_clrt_read(bench->clrt, buffers[2], 0, n * (size_t)rs, hosts[2], "triad a"));
  size_t wrong = 0, bad = 0;
  for (size_t i = 0; i < n; ++i) {
    /* Exact in both precisions: b is an integer below 1024, s*c a multiple of 1/8 below 1. */
    double expected = b_value(first + i) + s * c_value(first + i);
    if (pp_bench_get_real(hosts[2], rs, i) != expected && wrong++ == 0) bad = i;
  }
  unsigned long long wrong_anywhere = wrong;
  if (bench->ranks > 1)
    PP_CHECK(MPI_Allreduce(MPI_IN_PLACE, &wrong_anywhere, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, bench->comm) ==
                 MPI_SUCCESS,
             PP_ERR_MPI, "triad: MPI_Allreduce of the check failed");
  result.valid = wrong_anywhere == 0;
  if (wrong_anywhere && !wrong)
    snprintf(result.check, sizeof result.check, "%llu elements wrong on other ranks", wrong_anywhere);
  else if (wrong)
    snprintf(result.check, sizeof result.check, "%zu of rank %d's %zu elements wrong, first a[%zu] = %.17g, expected %.17g",
             wrong, bench->rank, n, first + bad, pp_bench_get_real(hosts[2], rs, bad),
             b_value(first + bad) + s * c_value(first + bad));
  else if (bench->ranks > 1)
    snprintf(result.check, sizeof result.check, "all %zu elements exact (%d ranks, %zu each, at once)", bench->size,
             bench->ranks, n);
  else snprintf(result.check, sizeof result.check, "all %zu elements exact", n);
  PP_CALL(pp_bench_record(bench, &result));
  return PP_OK;
}

static pp_err copy_body(pp_bench *bench, void **hosts, cl_mem *buffers)
{
  const size_t n = bench->size;
  const int rs = pp_clrt_real_size(bench->clrt);
  PP_CALL(make_input(bench, n, 0, b_value, "copy source", &hosts[0], &buffers[0]));
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, n * (size_t)rs, "copy destination", &buffers[1]));
  hosts[1] = malloc(n * (size_t)rs);
  PP_CHECK(hosts[1], PP_ERR_MEMORY, "out of memory for the host copy of the copy destination");

  cl_kernel kernel;
  PP_CALL(pp_clrt_kernel(bench->clrt, "vector_ops", "vector_copy", &kernel));
  cl_ulong count = n;
  PP_CL(clSetKernelArg(kernel, 0, sizeof count, &count), "setting copy argument n");
  PP_CL(clSetKernelArg(kernel, 1, sizeof(cl_mem), &buffers[0]), "setting copy argument src");
  PP_CL(clSetKernelArg(kernel, 2, sizeof(cl_mem), &buffers[1]), "setting copy argument dst");

  pp_bench_result result = {.name = "copy", .size = n};
  result.bytes = 2.0 * (double)n * rs;
  stream_launch launch = {kernel, n, "copy"};
  PP_CALL(pp_bench_time(bench, run_stream, &launch, &result));

  PP_CALL(pp_clrt_read(bench->clrt, buffers[1], 0, n * (size_t)rs, hosts[1], "copy destination"));
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i)
    if (pp_bench_get_real(hosts[1], rs, i) != b_value(i)) ++wrong;
  result.valid = wrong == 0;
  snprintf(result.check, sizeof result.check, wrong ? "%zu of %zu elements wrong" : "all %zu elements exact",
           wrong ? wrong : n, n);
  PP_CALL(pp_bench_record(bench, &result));
  return PP_OK;
}

/* Runs body with three host and three device slots and frees whatever it allocated, on success
 * and on error alike. */
static pp_err with_buffers(pp_bench *bench, pp_err (*body)(pp_bench *, void **, cl_mem *))
{
  PP_CHECK(bench->size > 0, PP_ERR_ARGUMENT, "benchmark size must be positive");
  void *hosts[3] = {NULL, NULL, NULL};
  cl_mem buffers[3] = {NULL, NULL, NULL};
  pp_err err = body(bench, hosts, buffers);
  for (int i = 0; i < 3; ++i) {
    free(hosts[i]);
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  }
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  return PP_OK;
}

pp_err pp_bench_case_triad(pp_bench *bench)
{
  PP_CALL(with_buffers(bench, triad_body));
  return PP_OK;
}

pp_err pp_bench_case_copy(pp_bench *bench)
{
  PP_CALL(with_buffers(bench, copy_body));
  return PP_OK;
}
