/* Floating-point peak: kernels/bench_peak.cl's fma_peak, 8 independent chains of dependent fma
 * per work-item, each chain a vector of `width` REALs. Flops are counted exactly from the
 * kernel's loop structure, and every output must be exactly 8 * width (the chains converge to 1,
 * see the kernel). */
#include <stdlib.h>

#include "bench_cases.h"

enum { FMA_CHAINS = 8, FMA_UNROLL = 4 }; /* must match kernels/bench_peak.cl */

typedef struct {
  cl_kernel kernel;
  size_t items;
} fma_launch;

static pp_err run_fma(pp_bench *bench, void *user)
{
  fma_launch *launch = user;
  PP_CALL(pp_clrt_launch(bench->clrt, launch->kernel, "fma", launch->items, bench->local_size));
  return PP_OK;
}

static pp_err fma_body(pp_bench *bench, size_t items, int width, void **host, cl_mem *out)
{
  const int rs = pp_clrt_real_size(bench->clrt);
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_WRITE_ONLY, items * (size_t)rs, "fma results", out));
  *host = malloc(items * (size_t)rs);
  PP_CHECK(*host, PP_ERR_MEMORY, "out of memory for the host copy of the fma results");

  char options[64];
  snprintf(options, sizeof options, "-DFMA_WIDTH=%d", width);
  cl_kernel kernel;
  PP_CALL(pp_clrt_kernel_with_options(bench->clrt, "bench_peak", options, "fma_peak", &kernel));
  cl_ulong count = items;
  cl_int iterations = bench->fma_iterations;
  PP_CL(clSetKernelArg(kernel, 0, sizeof count, &count), "setting fma argument n");
  PP_CL(clSetKernelArg(kernel, 1, sizeof iterations, &iterations), "setting fma argument iterations");
  PP_CALL(pp_bench_set_real_arg(bench, kernel, 2, 0.5, "setting fma argument a"));
  PP_CALL(pp_bench_set_real_arg(bench, kernel, 3, 0.5, "setting fma argument b"));
  PP_CL(clSetKernelArg(kernel, 4, sizeof(cl_mem), out), "setting fma argument out");

  pp_bench_result result = {.name = "fma", .size = items};
  /* 2 flops per fma lane in the chains, then (chains - 1) vector additions and (width - 1) lane
   * additions for the result. */
  double per_item = 2.0 * FMA_CHAINS * width * FMA_UNROLL * (double)bench->fma_iterations +
                    (double)(FMA_CHAINS - 1) * width + (width - 1);
  result.flops = per_item * (double)items;
  result.bytes = 0.0; /* the one write per item is negligible and not what is measured */
  fma_launch launch = {kernel, items};
  PP_CALL(pp_bench_time(bench, run_fma, &launch, &result));

  PP_CALL(pp_clrt_read(bench->clrt, *out, 0, items * (size_t)rs, *host, "fma results"));
  const double expected = (double)(FMA_CHAINS * width);
  size_t wrong = 0, first = 0;
  for (size_t i = 0; i < items; ++i)
    if (pp_bench_get_real(*host, rs, i) != expected && wrong++ == 0) first = i;
  result.valid = wrong == 0;
  if (wrong)
    snprintf(result.check, sizeof result.check, "%zu of %zu results wrong, first out[%zu] = %.17g, expected %g",
             wrong, items, first, pp_bench_get_real(*host, rs, first), expected);
  else snprintf(result.check, sizeof result.check, "all %zu results exact (vector width %d)", items, width);
  PP_CALL(pp_bench_record(bench, &result));
  return PP_OK;
}

pp_err pp_bench_case_fma(pp_bench *bench)
{
  /* Below 16 iterations (64 steps) the chains have not reached 1 exactly in double. */
  PP_CHECK(bench->fma_iterations >= 16, PP_ERR_USAGE, "--fma-iterations must be at least 16 (got %d)",
           bench->fma_iterations);
  size_t items = bench->fma_size;
  if (items == 0) {
    /* Enough work-items to fill a GPU several times over, at least 2^16 on a CPU. */
    items = (size_t)pp_clrt_device(bench->clrt)->compute_units * 4096;
    if (items < 65536) items = 65536;
  }
  int width = bench->fma_width;
  if (width == 0) {
    /* The device's preferred vector width for REAL: 1 on GPUs (SIMT lanes do the vectorising),
     * the SIMD width on CPUs. */
    cl_uint preferred = 1;
    cl_device_info query = pp_clrt_real_size(bench->clrt) == 8 ? CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE
                                                               : CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT;
    PP_CL(clGetDeviceInfo(pp_clrt_device_id(bench->clrt), query, sizeof preferred, &preferred, NULL),
          "reading the preferred vector width");
    width = 1;
    while (width < 16 && (cl_uint)width * 2 <= preferred) width *= 2;
  }
  PP_CHECK(width == 1 || width == 2 || width == 4 || width == 8 || width == 16, PP_ERR_USAGE,
           "--fma-width must be 1, 2, 4, 8 or 16 (got %d)", width);
  void *host = NULL;
  cl_mem out = NULL;
  pp_err err = fma_body(bench, items, width, &host, &out);
  free(host);
  if (out) clReleaseMemObject(out);
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  return PP_OK;
}
