/* harness: how pinprick's benchmarks measure and report (BabelStream's method).
 * A case sets up its buffers and kernels, hands the harness a function that enqueues one
 * repetition, and the harness runs the warm-up repetitions (not timed: they include PoCL's JIT
 * and first-touch costs), then `repeats` timed ones, each ended by clFinish and timed on the
 * host's monotonic clock. It keeps min, median and max; bandwidth and flop rate come from the
 * minimum time (the least disturbed run). The case then checks its result and records it: a
 * wrong result makes the row FAILED and the program exit non-zero, because a fast wrong kernel
 * is no result (BabelStream/VC4CL lesson).
 *
 * Several MPI ranks (cases marked so in pinprick_bench.c's table: triad, cg): every rank runs the
 * case on its part of the problem at the same time, each repetition starts together (an
 * MPI_Allreduce that also agrees on errors), and a repetition's time is the slowest rank's; sizes,
 * bytes and flops are global. Rank 0 prints and writes the CSV.
 *
 * Adding a case: write `pp_err pp_bench_case_NAME(pp_bench *bench)` (see bench_cases.h) and add
 * it to the table in pinprick_bench.c. */
#ifndef PP_BENCH_HARNESS_H
#define PP_BENCH_HARNESS_H

#include <stdio.h>

#include <mpi.h>

#include "clrt.h"
#include "error.h"

typedef struct {
  char name[32];
  size_t size;        /* problem size in the case's unit (elements, work-items) */
  int repeats;
  double min_s, median_s, max_s;
  double bytes;       /* bytes moved per repetition (0: not a bandwidth case) */
  double flops;       /* floating-point operations per repetition, counted exactly (0: none) */
  int valid;          /* the result check passed */
  char check[512];    /* what the check found */
} pp_bench_result;

typedef struct {
  pp_clrt *clrt;
  size_t size;            /* elements for the memory-bound cases (--size) */
  size_t fma_size;        /* work-items of the FMA peak case (--fma-size; 0 = from the device) */
  int fma_iterations;     /* outer iterations of the FMA chains (--fma-iterations) */
  int fma_width;          /* vector width of each FMA chain (--fma-width; 0 = device's preferred) */
  int repeats, warmups;
  size_t local_size;      /* work-group size of every launch (--local) */
  FILE *csv;              /* NULL: no CSV */
  char date[32];          /* ISO 8601 UTC, the same on every row of one run */
  pp_bench_result *results;
  int result_count, result_capacity;
  int failures;           /* rows whose check failed */
  MPI_Comm comm;          /* the ranks of the run (MPI_COMM_WORLD) */
  int rank, ranks;
  int reduce_expansion;   /* --reduce-expansion: levels for host/reduce's sums (-1: its choice) */
} pp_bench;

/* Enqueue one repetition; the harness waits for it. */
typedef pp_err (*pp_bench_run_fn)(pp_bench *bench, void *user);

/* Run bench->warmups untimed and bench->repeats timed repetitions of run; fill the timing fields
 * of result (its name, size, bytes and flops are the caller's). COLLECTIVE over bench->comm: a
 * repetition's time is the longest over the ranks. */
pp_err pp_bench_time(pp_bench *bench, pp_bench_run_fn run, void *user, pp_bench_result *result);
/* Print the result's row, append it to the CSV, keep it for the summary, count a failed check.
 * COLLECTIVE: the row is valid only when it is on every rank; rank 0 prints and writes. */
pp_err pp_bench_record(pp_bench *bench, const pp_bench_result *result);

double pp_bench_gbytes_per_s(const pp_bench_result *result);  /* 1e9 bytes/s from min time; 0 if n/a */
double pp_bench_gflops_per_s(const pp_bench_result *result);  /* 1e9 flop/s from min time; 0 if n/a */

/* The valid row of this run named `name` (the last one recorded), or NULL: a case that reports
 * against the roofs reads "triad" and "fma" so. */
const pp_bench_result *pp_bench_find(const pp_bench *bench, const char *name);

void pp_bench_print_header(FILE *out);
/* Table of all rows and the roofline line (FMA peak / triad bandwidth) when both were run
 * (rank 0 only). */
void pp_bench_print_summary(const pp_bench *bench, FILE *out);
/* This rank's block [*begin, *end) of n items split evenly over the ranks. */
void pp_bench_block(const pp_bench *bench, size_t n, size_t *begin, size_t *end);
/* The CSV header, written when the file is empty so runs can be appended to one file. */
void pp_bench_csv_header(FILE *csv);

/* REAL helpers: the precision is chosen at run time, so host arrays are void * of real size. */
void pp_bench_put_real(void *array, int real_size, size_t index, double value);
double pp_bench_get_real(const void *array, int real_size, size_t index);
/* clSetKernelArg for a REAL scalar in the clrt's precision. */
pp_err pp_bench_set_real_arg(pp_bench *bench, cl_kernel kernel, cl_uint index, double value, const char *what);

#endif
