#include "selftest.h"

#include <stdlib.h>

/* Not a multiple of any work-group size, so the padded tail of the launch is exercised too. */
enum { SELF_TEST_LENGTH = 4099 };

/* The one stage that exists in this version: prove that every rank's device computes, and that
 * the ranks can combine results. A triad on the device, checked exactly, then a global count. */
pp_err pp_selftest_device(const pp_runtime *runtime, pp_clrt *clrt, long *global_correct)
{
  const size_t n = SELF_TEST_LENGTH;
  size_t real_size = (size_t)pp_clrt_real_size(clrt);
  cl_mem a = NULL, b = NULL, c = NULL;
  pp_err result = PP_OK;
  double *host = malloc(n * sizeof(double));
  float *host_float = malloc(n * sizeof(float));
  PP_CHECK(host && host_float, PP_ERR_MEMORY, "out of memory for the device self-test");
  if ((result = pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, n * real_size, "self-test a", &a)) ||
      (result = pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, n * real_size, "self-test b", &b)) ||
      (result = pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, n * real_size, "self-test c", &c)))
    goto done;
  /* Values chosen so that b + s*c is exact in float and double: small integers and s = 3. */
  for (size_t i = 0; i < n; ++i) {
    host[i] = (double)(i % 1024);
    host_float[i] = (float)(i % 1024);
  }
  void *pattern = real_size == 8 ? (void *)host : (void *)host_float;
  cl_int status = clEnqueueWriteBuffer(pp_clrt_queue(clrt), b, CL_TRUE, 0, n * real_size, pattern, 0, NULL, NULL);
  if (status == CL_SUCCESS)
    status = clEnqueueWriteBuffer(pp_clrt_queue(clrt), c, CL_TRUE, 0, n * real_size, pattern, 0, NULL, NULL);
  if (status != CL_SUCCESS) {
    result = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "writing self-test buffers: %s (%d)",
                            pp_cl_error_name(status), status);
    goto done;
  }
  if ((result = pp_clrt_triad(clrt, a, b, c, 3.0, n))) goto done;
  status = clEnqueueReadBuffer(pp_clrt_queue(clrt), a, CL_TRUE, 0, n * real_size, pattern, 0, NULL, NULL);
  if (status != CL_SUCCESS) {
    result = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "reading self-test result: %s (%d)",
                            pp_cl_error_name(status), status);
    goto done;
  }
  long correct = 0;
  for (size_t i = 0; i < n; ++i) {
    double expected = 4.0 * (double)(i % 1024);
    double got = real_size == 8 ? host[i] : (double)host_float[i];
    correct += got == expected;
  }
  if ((result = pp_runtime_fault_point(runtime, "self-test"))) goto done;
  int mpi_code = MPI_Allreduce(&correct, global_correct, 1, MPI_LONG, MPI_SUM, runtime->comm);
  if (mpi_code != MPI_SUCCESS) {
    result = pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "summing self-test results");
    goto done;
  }
  if (*global_correct != (long)n * runtime->size)
    result = pp_error_raise(PP_ERR_DEVICE, __FILE__, __LINE__, __func__,
                            "device self-test failed: %ld of %ld triad values wrong (this rank: %ld)",
                            (long)n * runtime->size - *global_correct, (long)n * runtime->size, (long)n - correct);
done:
  if (a) clReleaseMemObject(a);
  if (b) clReleaseMemObject(b);
  if (c) clReleaseMemObject(c);
  free(host);
  free(host_float);
  return result;
}

