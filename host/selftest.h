/* selftest: the device self-test every run starts with — a triad on each rank's device, checked
 * exactly, then summed over ranks — so a broken driver or a rank that cannot compute is found
 * before any physics runs. Collective; the fault phase "self-test" sits just before its
 * MPI_Allreduce, where the other ranks already wait (the abort path of pp_runtime_fail). */
#ifndef PP_SELFTEST_H
#define PP_SELFTEST_H

#include "clrt.h"
#include "error.h"
#include "runtime.h"

/* *global_correct: exact values over all ranks (length of the test vector times ranks when ok). */
pp_err pp_selftest_device(const pp_runtime *runtime, pp_clrt *clrt, long *global_correct);

#endif
