#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "version.h"

static double now_seconds(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Every rank's verdict on its part: one collective that also starts the next repetition
 * together (the ranks share the machine, so a rank that started early would run alone). */
static pp_err agree(pp_bench *bench, pp_err local, const char *what)
{
  int failed = local != PP_OK, any_failed = 0;
  int mpi_code = MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, bench->comm);
  if (local != PP_OK) return pp_error_trace(local, __FILE__, __LINE__, __func__);
  PP_CHECK(mpi_code == MPI_SUCCESS, PP_ERR_MPI, "benchmark '%s': MPI_Allreduce failed", what);
  PP_CHECK(!any_failed, PP_ERR_OTHER_RANK, "benchmark '%s' failed on another rank", what);
  return PP_OK;
}

pp_err pp_bench_time(pp_bench *bench, pp_bench_run_fn run, void *user, pp_bench_result *result)
{
  PP_CHECK(bench->repeats >= 1, PP_ERR_ARGUMENT, "benchmark '%s': repeats must be at least 1", result->name);
  /* Every repetition ends with the ranks' agreement, so the next one starts together. */
  PP_CALL(agree(bench, PP_OK, result->name));
  for (int w = 0; w < bench->warmups; ++w) {
    pp_err err = run(bench, user);
    if (err == PP_OK) err = pp_clrt_finish(bench->clrt, "benchmark warm-up");
    PP_CALL(agree(bench, err, result->name));
  }
  double *times = NULL;
  PP_MALLOC(times, bench->repeats, "benchmark times");
  pp_err err = PP_OK;
  for (int r = 0; r < bench->repeats && err == PP_OK; ++r) {
    double start = now_seconds();
    err = run(bench, user);
    if (err == PP_OK) err = pp_clrt_finish(bench->clrt, result->name);
    times[r] = now_seconds() - start;
    err = agree(bench, err, result->name);
  }
  /* A repetition lasts as long as its slowest rank. */
  if (err == PP_OK && bench->ranks > 1 &&
      MPI_Allreduce(MPI_IN_PLACE, times, bench->repeats, MPI_DOUBLE, MPI_MAX, bench->comm) != MPI_SUCCESS)
    err = pp_error_raise(PP_ERR_MPI, __FILE__, __LINE__, __func__, "benchmark '%s': MPI_Allreduce of the times failed",
                         result->name);
  if (err != PP_OK) {
    free(times);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  qsort(times, (size_t)bench->repeats, sizeof *times, by_value);
  result->repeats = bench->repeats;
  result->min_s = times[0];
  result->max_s = times[bench->repeats - 1];
  int mid = bench->repeats / 2;
  result->median_s = bench->repeats % 2 ? times[mid] : 0.5 * (times[mid - 1] + times[mid]);
  free(times);
  return PP_OK;
}

void pp_bench_block(const pp_bench *bench, size_t n, size_t *begin, size_t *end)
{
  size_t ranks = (size_t)bench->ranks, rank = (size_t)bench->rank;
  *begin = n / ranks * rank + (rank < n % ranks ? rank : n % ranks);
  *end = *begin + n / ranks + (rank < n % ranks ? 1 : 0);
}

double pp_bench_gbytes_per_s(const pp_bench_result *result)
{
  return result->bytes > 0 && result->min_s > 0 ? result->bytes / result->min_s * 1e-9 : 0.0;
}

double pp_bench_gflops_per_s(const pp_bench_result *result)
{
  return result->flops > 0 && result->min_s > 0 ? result->flops / result->min_s * 1e-9 : 0.0;
}

const pp_bench_result *pp_bench_find(const pp_bench *bench, const char *name)
{
  const pp_bench_result *found = NULL;
  for (int i = 0; i < bench->result_count; ++i)
    if (strcmp(bench->results[i].name, name) == 0 && bench->results[i].valid) found = &bench->results[i];
  return found;
}

void pp_bench_print_header(FILE *out)
{
  fprintf(out, "%-8s %12s %-7s %8s %12s %12s %12s %10s %10s  %s\n", "case", "size", "real", "repeats", "min [ms]",
          "median [ms]", "max [ms]", "GB/s", "GFLOP/s", "check");
}

static void print_row(FILE *out, const pp_bench_result *r, const char *real)
{
  char gbs[32] = "-", gfs[32] = "-";
  if (r->bytes > 0) snprintf(gbs, sizeof gbs, "%.2f", pp_bench_gbytes_per_s(r));
  if (r->flops > 0) snprintf(gfs, sizeof gfs, "%.2f", pp_bench_gflops_per_s(r));
  fprintf(out, "%-8s %12zu %-7s %8d %12.4f %12.4f %12.4f %10s %10s  %s%s%s\n", r->name, r->size, real, r->repeats,
          1e3 * r->min_s, 1e3 * r->median_s, 1e3 * r->max_s, gbs, gfs, r->valid ? "ok" : "FAILED",
          r->check[0] ? ": " : "", r->check);
}

/* CSV field with quotes when it holds a comma, quote or newline (device names can). */
static void csv_text(FILE *csv, const char *text)
{
  if (!strpbrk(text, ",\"\n")) {
    fputs(text, csv);
    return;
  }
  fputc('"', csv);
  for (const char *p = text; *p; ++p) {
    if (*p == '"') fputc('"', csv);
    fputc(*p, csv);
  }
  fputc('"', csv);
}

void pp_bench_csv_header(FILE *csv)
{
  fprintf(csv, "case,size,precision,device,driver,platform,repeats,min_s,median_s,max_s,bytes,flops,"
               "gbytes_per_s,gflops_per_s,valid,git_hash,date,ranks\n");
}

pp_err pp_bench_record(pp_bench *bench, const pp_bench_result *given)
{
  pp_bench_result agreed = *given, *result = &agreed;
  if (bench->ranks > 1) {
    int valid = given->valid != 0;
    PP_CHECK(MPI_Allreduce(&valid, &agreed.valid, 1, MPI_INT, MPI_MIN, bench->comm) == MPI_SUCCESS, PP_ERR_MPI,
             "benchmark '%s': MPI_Allreduce of the check failed", given->name);
  }
  const pp_device_info *device = pp_clrt_device(bench->clrt);
  const char *real = pp_clrt_real_name(bench->clrt);
  if (bench->rank == 0) {
    print_row(stdout, result, real);
    fflush(stdout);
  }
  if (!result->valid) bench->failures += 1;
  if (bench->csv && bench->rank == 0) {
    fprintf(bench->csv, "%s,%zu,%s,", result->name, result->size, real);
    csv_text(bench->csv, device->device_name);
    fputc(',', bench->csv);
    csv_text(bench->csv, device->driver_version);
    fputc(',', bench->csv);
    csv_text(bench->csv, device->platform_name);
    fprintf(bench->csv, ",%d,%.9e,%.9e,%.9e,%.17g,%.17g,%.6f,%.6f,%d,%s,%s,%d\n", result->repeats, result->min_s,
            result->median_s, result->max_s, result->bytes, result->flops, pp_bench_gbytes_per_s(result),
            pp_bench_gflops_per_s(result), result->valid, pp_version_git(), bench->date, bench->ranks);
    fflush(bench->csv);
    PP_CHECK(!ferror(bench->csv), PP_ERR_IO, "writing the benchmark CSV failed");
  }
  if (bench->result_count == bench->result_capacity) {
    int capacity = bench->result_capacity ? 2 * bench->result_capacity : 8;
    pp_bench_result *bigger = realloc(bench->results, (size_t)capacity * sizeof *bigger);
    PP_CHECK(bigger, PP_ERR_MEMORY, "out of memory keeping benchmark results");
    bench->results = bigger;
    bench->result_capacity = capacity;
  }
  bench->results[bench->result_count++] = *result;
  return PP_OK;
}

void pp_bench_print_summary(const pp_bench *bench, FILE *out)
{
  if (bench->rank != 0) return;
  const pp_bench_result *triad = pp_bench_find(bench, "triad"), *fma = pp_bench_find(bench, "fma");
  if (triad && fma) {
    double bandwidth = pp_bench_gbytes_per_s(triad), peak = pp_bench_gflops_per_s(fma);
    /* The ridge point of the roofline: kernels below this many flops per byte are bound by
     * memory bandwidth on this device, above it by arithmetic. */
    fprintf(out, "roofline (%s): triad %.2f GB/s, FMA peak %.2f GFLOP/s, ridge point %.2f flop/byte\n",
            pp_clrt_real_name(bench->clrt), bandwidth, peak, bandwidth > 0 ? peak / bandwidth : 0.0);
  }
  if (bench->failures)
    fprintf(out, "%d benchmark check%s FAILED: the timings of those rows are not results\n", bench->failures,
            bench->failures > 1 ? "s" : "");
}

void pp_bench_put_real(void *array, int real_size, size_t index, double value)
{
  if (real_size == 8) ((double *)array)[index] = value;
  else ((float *)array)[index] = (float)value;
}

double pp_bench_get_real(const void *array, int real_size, size_t index)
{
  return real_size == 8 ? ((const double *)array)[index] : (double)((const float *)array)[index];
}

pp_err pp_bench_set_real_arg(pp_bench *bench, cl_kernel kernel, cl_uint index, double value, const char *what)
{
  if (pp_clrt_real_size(bench->clrt) == 8) {
    cl_double v = value;
    PP_CL(clSetKernelArg(kernel, index, sizeof v, &v), what);
  } else {
    cl_float v = (cl_float)value;
    PP_CL(clSetKernelArg(kernel, index, sizeof v, &v), what);
  }
  return PP_OK;
}
