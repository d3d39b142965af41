/* bench_cases: the benchmark cases pinprick_bench runs (table in pinprick_bench.c).
 * Each case allocates, times through the harness, checks its result exactly, records its row,
 * and frees what it allocated. A failed check is a recorded FAILED row, not an error return;
 * an error return means the case could not run at all. */
#ifndef PP_BENCH_CASES_H
#define PP_BENCH_CASES_H

#include "harness.h"

/* bench_stream.c: BabelStream-style memory bandwidth. */
pp_err pp_bench_case_triad(pp_bench *bench); /* a = b + s*c, 3 n sizeof(REAL) bytes */
pp_err pp_bench_case_copy(pp_bench *bench);  /* b = a, 2 n sizeof(REAL) bytes */
/* bench_fma.c: floating-point peak (kernels/bench_peak.cl). */
pp_err pp_bench_case_fma(pp_bench *bench);
/* bench_reduce.c: the cost of reproducible sums (host/reduce) against a plain sum. */
pp_err pp_bench_case_plain_sum(pp_bench *bench); /* plain floating-point sum, GB/s of n sizeof(REAL) */
pp_err pp_bench_case_reduce(pp_bench *bench);    /* pp_reduce_sum, exact; GB/s and time / plain_sum's */

/* bench_cg.c: one Jacobi-PCG iteration of the stage-2 diffusion-decay system (host/diffusion). */
pp_err pp_bench_case_cg(pp_bench *bench); /* DoF*iterations/s; GB/s from 24 rs + 28 bytes per DoF and iteration */

/* bench_mechanics.c: stage-1 explicit dynamics (host/mechanics): full steps and the hex8 element kernel
 * alone, neo-Hookean and Ogden, on a block of about --size/32 elements; element-steps/s against the
 * roofline bound from this run's triad and fma. */
pp_err pp_bench_case_mechanics(pp_bench *bench);

#endif
