/* Tests of host/clrt: device discovery, the device policy's error paths, the program cache,
 * build errors with file and line, launches with padding, buffers, fp64. Runs in one process
 * (CK_NOFORK): an OpenCL context does not survive Check's fork, and MPI must not fork either.
 * A missing OpenCL device is a FAILURE here, never a skip: CI has PoCL, and a suite that skips
 * without a device goes green having checked nothing. Works on any number of ranks (every
 * collective happens on all ranks before anything is asserted). */
#include <check.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_suite.h"
#include "clrt.h"

static pp_clrt *shared_clrt; /* one runtime for the tests that need any device, made on first use */

static pp_clrt *runtime(void)
{
  if (!shared_clrt) {
    pp_clrt_options options;
    pp_clrt_options_default(&options);
    options.use_double = 1;
    pp_err err = pp_clrt_create(&shared_clrt, MPI_COMM_WORLD, &options);
    ck_assert_msg(err == PP_OK, "pp_clrt_create failed: %s", pp_error_message());
  }
  return shared_clrt;
}

START_TEST(test_error_names)
{
  ck_assert_str_eq(pp_cl_error_name(-5), "CL_OUT_OF_RESOURCES");
  ck_assert_str_eq(pp_cl_error_name(CL_SUCCESS), "CL_SUCCESS");
  ck_assert_str_eq(pp_cl_error_name(CL_INVALID_VALUE), "CL_INVALID_VALUE");
  ck_assert_str_eq(pp_cl_error_name(-11), "CL_BUILD_PROGRAM_FAILURE");
  ck_assert_str_eq(pp_cl_error_name(-68), "CL_INVALID_DEVICE_PARTITION_COUNT");
  ck_assert_str_eq(pp_cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
  ck_assert_str_eq(pp_cl_error_name(-12345), "CL_UNKNOWN_ERROR");
  /* Every 1.2 code has a name. */
  for (int code = 0; code >= -68; --code) {
    if (code < -19 && code > -30) continue;
    ck_assert_msg(strcmp(pp_cl_error_name(code), "CL_UNKNOWN_ERROR") != 0, "code %d has no name", code);
  }
}
END_TEST

static pp_err failing_cl_call(void)
{
  PP_CL(CL_INVALID_KERNEL_ARGS, "launching the test kernel");
  return PP_OK;
}

START_TEST(test_pp_cl_macro)
{
  pp_error_clear();
  ck_assert_int_eq(failing_cl_call(), PP_ERR_OPENCL);
  ck_assert_str_eq(pp_error_message(), "launching the test kernel: CL_INVALID_KERNEL_ARGS (-52)");
  pp_error_clear();
}
END_TEST

START_TEST(test_device_found)
{
  pp_device_info *devices = NULL;
  int count = -1;
  ck_assert_int_eq(pp_clrt_list_devices(&devices, &count), PP_OK);
  ck_assert_msg(count >= 1, "no OpenCL device found: install PoCL (pocl-opencl-icd); this is a failure, not a skip");
  for (int i = 0; i < count; ++i) {
    ck_assert_int_eq(devices[i].flat_index, i);
    ck_assert(devices[i].device_name[0] != '\0');
    ck_assert(devices[i].global_memory > 0);
    ck_assert(devices[i].max_alloc > 0);
    ck_assert(devices[i].compute_units > 0);
    ck_assert(devices[i].pci_bus_id[0] != '\0');
  }
  char *text = NULL;
  size_t length = 0;
  FILE *out = open_memstream(&text, &length);
  pp_clrt_print_devices(out, devices, count);
  fclose(out);
  ck_assert_ptr_nonnull(strstr(text, devices[0].device_name));
  ck_assert_ptr_nonnull(strstr(text, "PCI bus id"));
  free(text);
  free(devices);
}
END_TEST

START_TEST(test_fp64_matches_extension)
{
  pp_clrt *clrt = runtime();
  const pp_device_info *info = pp_clrt_device(clrt);
  size_t size = 0;
  ck_assert_int_eq(clGetDeviceInfo(info->device_id, CL_DEVICE_EXTENSIONS, 0, NULL, &size), CL_SUCCESS);
  char *extensions = calloc(size + 2, 1);
  ck_assert_int_eq(clGetDeviceInfo(info->device_id, CL_DEVICE_EXTENSIONS, size, extensions, NULL), CL_SUCCESS);
  /* Whole-word match, independent of clrt's own parser. */
  int listed = 0;
  for (char *word = strtok(extensions, " "); word; word = strtok(NULL, " "))
    if (strcmp(word, "cl_khr_fp64") == 0) listed = 1;
  free(extensions);
  ck_assert_int_eq(info->has_fp64, listed);
  cl_device_fp_config fp64 = 0;
  ck_assert_int_eq(clGetDeviceInfo(info->device_id, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL), CL_SUCCESS);
  ck_assert_int_eq(info->has_fp64, fp64 != 0);
}
END_TEST

START_TEST(test_describe)
{
  pp_clrt *clrt = runtime();
  char line[1024];
  pp_clrt_describe(clrt, line, sizeof line);
  ck_assert_ptr_nonnull(strstr(line, pp_clrt_device(clrt)->device_name));
  ck_assert_ptr_nonnull(strstr(line, "fp64"));
  ck_assert_ptr_nonnull(strstr(line, "host "));
  ck_assert_int_eq(pp_clrt_real_size(clrt), 8);
  ck_assert_str_eq(pp_clrt_real_name(clrt), "double");
}
END_TEST

/* Triad on n elements with values exact in float and double; returns the number of wrong ones. */
static size_t run_triad(pp_clrt *clrt, size_t n, size_t local)
{
  int rs = pp_clrt_real_size(clrt);
  char *b = malloc(n * (size_t)rs), *c = malloc(n * (size_t)rs), *a = malloc(n * (size_t)rs);
  for (size_t i = 0; i < n; ++i) {
    double bv = (double)(i % 1000), cv = 0.125 * (double)(i % 9);
    if (rs == 8) {
      ((double *)b)[i] = bv;
      ((double *)c)[i] = cv;
    } else {
      ((float *)b)[i] = (float)bv;
      ((float *)c)[i] = (float)cv;
    }
  }
  cl_mem db, dc, da;
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, n * (size_t)rs, "b", &db), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, n * (size_t)rs, "c", &dc), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_WRITE_ONLY, n * (size_t)rs, "a", &da), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, db, 0, n * (size_t)rs, b, "b"), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, dc, 0, n * (size_t)rs, c, "c"), PP_OK);
  cl_kernel kernel;
  ck_assert_int_eq(pp_clrt_kernel(clrt, "vector_ops", "vector_triad", &kernel), PP_OK);
  cl_ulong count = n;
  double s = 2.0;
  float sf = 2.0f;
  ck_assert_int_eq(clSetKernelArg(kernel, 0, sizeof count, &count), CL_SUCCESS);
  ck_assert_int_eq(rs == 8 ? clSetKernelArg(kernel, 1, sizeof s, &s) : clSetKernelArg(kernel, 1, sizeof sf, &sf),
                   CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(kernel, 2, sizeof db, &db), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(kernel, 3, sizeof dc, &dc), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(kernel, 4, sizeof da, &da), CL_SUCCESS);
  ck_assert_msg(pp_clrt_launch(clrt, kernel, "triad", n, local) == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(pp_clrt_read(clrt, da, 0, n * (size_t)rs, a, "a"), PP_OK);
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) {
    double expected = (double)(i % 1000) + 2.0 * 0.125 * (double)(i % 9);
    double got = rs == 8 ? ((double *)a)[i] : (double)((float *)a)[i];
    if (got != expected) ++wrong;
  }
  clReleaseMemObject(db);
  clReleaseMemObject(dc);
  clReleaseMemObject(da);
  free(a);
  free(b);
  free(c);
  return wrong;
}

START_TEST(test_triad_exact_double)
{
  ck_assert_uint_eq(run_triad(runtime(), 4096, 64), 0);
  ck_assert_uint_eq(run_triad(runtime(), 4097, 256), 0); /* padded */
}
END_TEST

/* The self-test helper main uses. */
START_TEST(test_clrt_triad_helper)
{
  pp_clrt *clrt = runtime();
  enum { N = 777 };
  double b[N], c[N], a[N];
  for (int i = 0; i < N; ++i) {
    b[i] = i % 100;
    c[i] = i % 3;
  }
  cl_mem da, db, dc;
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, sizeof a, "a", &da), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, sizeof b, "b", &db), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, sizeof c, "c", &dc), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, db, 0, sizeof b, b, "b"), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, dc, 0, sizeof c, c, "c"), PP_OK);
  ck_assert_msg(pp_clrt_triad(clrt, da, db, dc, 3.0, N) == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(pp_clrt_read(clrt, da, 0, sizeof a, a, "a"), PP_OK);
  for (int i = 0; i < N; ++i) ck_assert_msg(a[i] == b[i] + 3.0 * c[i], "a[%d] = %g", i, a[i]);
  clReleaseMemObject(da);
  clReleaseMemObject(db);
  clReleaseMemObject(dc);
}
END_TEST

START_TEST(test_triad_exact_float)
{
  pp_clrt *clrt = NULL;
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 0;
  ck_assert_msg(pp_clrt_create(&clrt, MPI_COMM_WORLD, &options) == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(pp_clrt_real_size(clrt), 4);
  ck_assert_uint_eq(run_triad(clrt, 3000, 128), 0);
  pp_clrt_destroy(clrt);
}
END_TEST

/* n not a multiple of the local size: every element up to n written, nothing beyond. */
START_TEST(test_launch_pads_global_size)
{
  pp_clrt *clrt = runtime();
  const size_t n = 1000, local = 64, padded = 1024, total = padded + 64;
  cl_mem x;
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, total * sizeof(double), "x", &x), PP_OK);
  double *host = malloc(total * sizeof *host);
  for (size_t i = 0; i < total; ++i) host[i] = -7.0; /* sentinel */
  ck_assert_int_eq(pp_clrt_write(clrt, x, 0, total * sizeof *host, host, "x"), PP_OK);
  cl_kernel kernel;
  ck_assert_int_eq(pp_clrt_kernel(clrt, "vector_ops", "vector_fill", &kernel), PP_OK);
  cl_ulong count = n;
  double value = 3.25;
  ck_assert_int_eq(clSetKernelArg(kernel, 0, sizeof count, &count), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(kernel, 1, sizeof value, &value), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(kernel, 2, sizeof x, &x), CL_SUCCESS);
  ck_assert_msg(pp_clrt_launch(clrt, kernel, "fill", n, local) == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(pp_clrt_read(clrt, x, 0, total * sizeof *host, host, "x"), PP_OK);
  for (size_t i = 0; i < n; ++i) ck_assert_msg(host[i] == 3.25, "x[%zu] = %g", i, host[i]);
  for (size_t i = n; i < total; ++i) ck_assert_msg(host[i] == -7.0, "x[%zu] = %g written past n", i, host[i]);
  /* A global size of 0 is no work, not an error. */
  ck_assert_int_eq(pp_clrt_launch(clrt, kernel, "fill", 0, local), PP_OK);
  free(host);
  clReleaseMemObject(x);
}
END_TEST

START_TEST(test_launch_refuses_big_work_group)
{
  pp_clrt *clrt = runtime();
  cl_kernel kernel;
  ck_assert_int_eq(pp_clrt_kernel(clrt, "vector_ops", "vector_fill", &kernel), PP_OK);
  pp_error_clear();
  size_t too_big = pp_clrt_device(clrt)->max_work_group_size * 2;
  ck_assert_int_eq(pp_clrt_launch(clrt, kernel, "fill-too-big", too_big, too_big), PP_ERR_DEVICE);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "fill-too-big"));
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "CL_KERNEL_WORK_GROUP_SIZE"));
  pp_error_clear();
}
END_TEST

START_TEST(test_broken_kernel_message)
{
  pp_clrt *clrt = runtime();
  /* The error is on line 3 of the file: an undeclared name. */
  const char *text = "__kernel void broken(__global REAL *x)\n"
                     "{\n"
                     "  x[0] = no_such_variable;\n"
                     "}\n";
  pp_kernel_source source = {"broken_example", "kernels/broken_example.cl", text, strlen(text)};
  cl_program program = NULL;
  pp_error_clear();
  ck_assert_int_eq(pp_clrt_build_text(clrt, &source, NULL, &program), PP_ERR_OPENCL);
  ck_assert_ptr_null(program);
  const char *message = pp_error_message();
  ck_assert_msg(strstr(message, "kernels/broken_example.cl") != NULL, "no file name in: %s", message);
  ck_assert_msg(strstr(message, "kernels/broken_example.cl:3:") != NULL, "no line 3 in: %s", message);
  ck_assert_msg(strstr(message, "no_such_variable") != NULL, "no compiler error text in: %s", message);
  ck_assert_msg(strstr(message, "CL_BUILD_PROGRAM_FAILURE") != NULL, "no CL code in: %s", message);
  ck_assert_msg(strstr(message, "-DREAL=double") != NULL, "no build options in: %s", message);
  pp_error_clear();
}
END_TEST

START_TEST(test_program_cache)
{
  pp_clrt *clrt = runtime();
  cl_program first = NULL, again = NULL, other = NULL;
  ck_assert_int_eq(pp_clrt_build(clrt, "vector_ops", NULL, &first), PP_OK);
  ck_assert_int_eq(pp_clrt_build(clrt, "vector_ops", NULL, &again), PP_OK);
  ck_assert_ptr_eq(first, again);
  ck_assert_int_eq(pp_clrt_build(clrt, "kernels/vector_ops.cl", "", &again), PP_OK); /* same options, by file */
  ck_assert_ptr_eq(first, again);
  ck_assert_int_eq(pp_clrt_build(clrt, "vector_ops", "-DPP_TEST_OPTION=1", &other), PP_OK);
  ck_assert_ptr_ne(first, other);
  cl_kernel k1, k2, k3;
  ck_assert_int_eq(pp_clrt_kernel(clrt, "vector_ops", "vector_copy", &k1), PP_OK);
  ck_assert_int_eq(pp_clrt_kernel(clrt, "vector_ops", "vector_copy", &k2), PP_OK);
  ck_assert_int_eq(pp_clrt_kernel_with_options(clrt, "vector_ops", "-DPP_TEST_OPTION=1", "vector_copy", &k3), PP_OK);
  ck_assert_ptr_eq(k1, k2);
  ck_assert_ptr_ne(k1, k3);
  /* Options always present, relaxed math refused. */
  char options[512];
  pp_clrt_build_options(clrt, "-DX=1", options, sizeof options);
  ck_assert_ptr_nonnull(strstr(options, "-cl-std=CL1.2"));
  ck_assert_ptr_nonnull(strstr(options, "-DREAL=double"));
  ck_assert_ptr_nonnull(strstr(options, "-DREAL_IS_DOUBLE=1"));
  ck_assert_ptr_nonnull(strstr(options, "-DX=1"));
  pp_error_clear();
  ck_assert_int_eq(pp_clrt_build(clrt, "vector_ops", "-cl-fast-relaxed-math", &other), PP_ERR_ARGUMENT);
  ck_assert_int_eq(pp_clrt_build(clrt, "no_such_source", NULL, &other), PP_ERR_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "no_such_source"));
  pp_error_clear();
}
END_TEST

START_TEST(test_oversized_buffer_refused)
{
  pp_clrt *clrt = runtime();
  cl_ulong limit = pp_clrt_device(clrt)->max_alloc;
  cl_mem buffer = NULL;
  pp_error_clear();
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, (size_t)limit + 1, "element stiffness", &buffer),
                   PP_ERR_DEVICE);
  ck_assert_ptr_null(buffer);
  const char *message = pp_error_message();
  ck_assert_ptr_nonnull(strstr(message, "element stiffness"));
  char number[64];
  snprintf(number, sizeof number, "%llu", (unsigned long long)limit);
  ck_assert_ptr_nonnull(strstr(message, number));
  snprintf(number, sizeof number, "%llu", (unsigned long long)limit + 1);
  ck_assert_ptr_nonnull(strstr(message, number));
  pp_error_clear();
  /* Zero bytes still gives a valid buffer. */
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, 0, "empty part", &buffer), PP_OK);
  ck_assert_ptr_nonnull(buffer);
  clReleaseMemObject(buffer);
}
END_TEST

START_TEST(test_parse_device)
{
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  ck_assert_int_eq(pp_clrt_parse_device("0:1", "--device", &options), PP_OK);
  ck_assert_int_eq(options.platform, 0);
  ck_assert_int_eq(options.device, 1);
  ck_assert_int_eq(options.flat_index, -1);
  ck_assert_int_eq(pp_clrt_parse_device("3", "--device", &options), PP_OK);
  ck_assert_int_eq(options.platform, -1);
  ck_assert_int_eq(options.device, -1);
  ck_assert_int_eq(options.flat_index, 3);
  pp_error_clear();
  ck_assert_int_eq(pp_clrt_parse_device("gpu", "PINPRICK_DEVICE", &options), PP_ERR_USAGE);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "PINPRICK_DEVICE='gpu'"));
  ck_assert_int_eq(pp_clrt_parse_device("1:", "--device", &options), PP_ERR_USAGE);
  ck_assert_int_eq(pp_clrt_parse_device("-1", "--device", &options), PP_ERR_USAGE);
  ck_assert_int_eq(pp_clrt_parse_device("0:1x", "--device", &options), PP_ERR_USAGE);
  pp_error_clear();
}
END_TEST

/* PINPRICK_DEVICE overrides the config but not the command line. */
START_TEST(test_device_environment_precedence)
{
  pp_clrt *clrt = NULL;
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 0;
  setenv("PINPRICK_DEVICE", "0:0", 1);
  ck_assert_msg(pp_clrt_create(&clrt, MPI_COMM_WORLD, &options) == PP_OK, "%s", pp_error_message());
  char line[1024];
  pp_clrt_describe(clrt, line, sizeof line);
  ck_assert_msg(strstr(line, "chosen by PINPRICK_DEVICE") != NULL, "%s", line);
  pp_clrt_destroy(clrt);

  setenv("PINPRICK_DEVICE", "97:3", 1);
  options.platform = 0; /* as from the config: the environment wins over it ... */
  options.device = 0;
  pp_error_clear();
  ck_assert_int_eq(pp_clrt_create(&clrt, MPI_COMM_WORLD, &options), PP_ERR_DEVICE);
  ck_assert_ptr_null(clrt);
  ck_assert_msg(strstr(pp_error_message(), "97:3") && strstr(pp_error_message(), "PINPRICK_DEVICE"), "%s",
                pp_error_message());
  ck_assert_int_eq(pp_error_is_collective(), PP_ERROR_COLLECTIVE);
  pp_error_clear();

  options.choice_from_command_line = 1; /* ... the command line wins over it */
  ck_assert_msg(pp_clrt_create(&clrt, MPI_COMM_WORLD, &options) == PP_OK, "%s", pp_error_message());
  pp_clrt_describe(clrt, line, sizeof line);
  ck_assert_msg(strstr(line, "chosen by --device") != NULL, "%s", line);
  pp_clrt_destroy(clrt);

  /* A flat index that does not exist, from the command line. */
  options.flat_index = 4242;
  ck_assert_int_eq(pp_clrt_create(&clrt, MPI_COMM_WORLD, &options), PP_ERR_DEVICE);
  ck_assert_msg(strstr(pp_error_message(), "4242") && strstr(pp_error_message(), "--device"), "%s",
                pp_error_message());
  pp_error_clear();
  unsetenv("PINPRICK_DEVICE");
}
END_TEST

START_TEST(test_no_fp64_message)
{
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  pp_clrt *clrt = NULL;
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 1;
  setenv("PINPRICK_FAKE_NO_FP64", "1", 1);
  pp_error_clear();
  pp_err err = pp_clrt_create(&clrt, MPI_COMM_WORLD, &options);
  unsetenv("PINPRICK_FAKE_NO_FP64");
  ck_assert_int_eq(err, PP_ERR_DEVICE);
  ck_assert_ptr_null(clrt);
  ck_assert_msg(strstr(pp_error_message(), "runtime.precision: float") != NULL, "%s", pp_error_message());
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "cl_khr_fp64"));
  pp_error_clear();

  /* Only the last rank fails: it reports the device, every other rank names it. */
  char value[32];
  snprintf(value, sizeof value, "rank=%d", size - 1);
  setenv("PINPRICK_FAKE_NO_FP64", value, 1);
  err = pp_clrt_create(&clrt, MPI_COMM_WORLD, &options);
  unsetenv("PINPRICK_FAKE_NO_FP64");
  ck_assert_ptr_null(clrt);
  if (rank == size - 1) {
    ck_assert_int_eq(err, PP_ERR_DEVICE);
    ck_assert_int_eq(pp_error_is_collective(), PP_ERROR_COLLECTIVE);
  } else {
    ck_assert_int_eq(err, PP_ERR_OTHER_RANK);
    ck_assert_int_eq(pp_error_is_collective(), PP_ERROR_COLLECTIVE_QUIET);
    char expected[64];
    snprintf(expected, sizeof expected, "rank %d of %d", size - 1, size);
    ck_assert_msg(strstr(pp_error_message(), expected) != NULL, "%s", pp_error_message());
  }
  pp_error_clear();

  /* float needs no fp64. */
  setenv("PINPRICK_FAKE_NO_FP64", "1", 1);
  options.use_double = 0;
  err = pp_clrt_create(&clrt, MPI_COMM_WORLD, &options);
  unsetenv("PINPRICK_FAKE_NO_FP64");
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  pp_clrt_destroy(clrt);
}
END_TEST

/* The sharing rule on made-up node layouts (a CPU-only machine cannot produce a shared GPU). */
START_TEST(test_sharing_policy)
{
  enum { STRIDE = 64 };
  char keys[3][STRIDE] = {"pci:0000:3b:00.0", "pci:0000:3b:00.0", "pci:0000:5e:00.0"};
  int gpu[3] = {0, 0, 0}, cpu[3] = {1, 1, 1}, ranks[3] = {4, 5, 6};
  pp_error_clear();
  ck_assert_int_eq(pp_clrt_check_sharing(3, keys[0], STRIDE, gpu, ranks, 0, "node07", "H100", 0), PP_ERR_DEVICE);
  const char *message = pp_error_message();
  ck_assert_msg(strstr(message, "ranks 4, 5") && strstr(message, "node07") && strstr(message, "H100") &&
                    strstr(message, "0000:3b:00.0"),
                "%s", message);
  pp_error_clear();
  ck_assert_int_eq(pp_clrt_check_sharing(3, keys[0], STRIDE, gpu, ranks, 2, "node07", "H100", 0), PP_OK);
  ck_assert_int_eq(pp_clrt_check_sharing(3, keys[0], STRIDE, gpu, ranks, 0, "node07", "H100", 1), PP_OK);
  ck_assert_int_eq(pp_clrt_check_sharing(3, keys[0], STRIDE, cpu, ranks, 0, "node07", "PoCL", 0), PP_OK);

  pp_device_info device;
  memset(&device, 0, sizeof device);
  snprintf(device.platform_name, sizeof device.platform_name, "NVIDIA CUDA");
  snprintf(device.device_name, sizeof device.device_name, "H100");
  snprintf(device.pci_bus_id, sizeof device.pci_bus_id, "n/a");
  char key[640];
  unsetenv("CUDA_VISIBLE_DEVICES");
  pp_clrt_device_key(&device, key, sizeof key);
  ck_assert_str_eq(key, "name:NVIDIA CUDA|H100|0");
  setenv("CUDA_VISIBLE_DEVICES", "2", 1);
  pp_clrt_device_key(&device, key, sizeof key);
  ck_assert_str_eq(key, "name:NVIDIA CUDA|H100|0|CUDA_VISIBLE_DEVICES=2");
  unsetenv("CUDA_VISIBLE_DEVICES");
  snprintf(device.pci_bus_id, sizeof device.pci_bus_id, "0000:3b:00.0");
  pp_clrt_device_key(&device, key, sizeof key);
  ck_assert_str_eq(key, "pci:0000:3b:00.0");
}
END_TEST

START_TEST(test_profiling_and_sync_debug)
{
  pp_clrt *clrt = NULL;
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 1;
  options.profiling = 1;
  setenv("PINPRICK_CL_SYNC_DEBUG", "1", 1);
  pp_err err = pp_clrt_create(&clrt, MPI_COMM_WORLD, &options);
  unsetenv("PINPRICK_CL_SYNC_DEBUG");
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  ck_assert(pp_clrt_profiling(clrt));
  ck_assert_uint_eq(run_triad(clrt, 1000, 64), 0);
  ck_assert_uint_eq(run_triad(clrt, 1000, 64), 0);
  long calls = 0;
  double seconds = -1;
  ck_assert_int_eq(pp_clrt_timing(clrt, "triad", &calls, &seconds), PP_OK);
  ck_assert_int_eq(calls, 2);
  ck_assert(seconds >= 0.0);
  char *text = NULL;
  size_t length = 0;
  FILE *out = open_memstream(&text, &length);
  ck_assert_int_eq(pp_clrt_print_timing(clrt, out), PP_OK);
  fclose(out);
  ck_assert_msg(strstr(text, "triad") != NULL, "%s", text);
  free(text);
  pp_clrt_destroy(clrt);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  Suite *suite = suite_create("clrt");
  TCase *local = tcase_create("local");
  tcase_add_test(local, test_error_names);
  tcase_add_test(local, test_pp_cl_macro);
  tcase_add_test(local, test_device_found);
  tcase_add_test(local, test_parse_device);
  tcase_add_test(local, test_sharing_policy);
  suite_add_tcase(suite, local);
  TCase *device = tcase_create("device");
  tcase_set_timeout(device, 120);
  tcase_add_test(device, test_fp64_matches_extension);
  tcase_add_test(device, test_describe);
  tcase_add_test(device, test_triad_exact_double);
  tcase_add_test(device, test_clrt_triad_helper);
  tcase_add_test(device, test_triad_exact_float);
  tcase_add_test(device, test_launch_pads_global_size);
  tcase_add_test(device, test_launch_refuses_big_work_group);
  tcase_add_test(device, test_broken_kernel_message);
  tcase_add_test(device, test_program_cache);
  tcase_add_test(device, test_oversized_buffer_refused);
  tcase_add_test(device, test_device_environment_precedence);
  tcase_add_test(device, test_no_fp64_message);
  tcase_add_test(device, test_profiling_and_sync_debug);
  suite_add_tcase(suite, device);
  int status = pp_test_run_mpi_suite(suite, MPI_COMM_WORLD);
  pp_clrt_destroy(shared_clrt);
  MPI_Finalize();
  return status;
}
