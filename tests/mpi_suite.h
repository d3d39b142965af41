/* Running a Check suite under MPI: never fork after MPI_Init (CK_NOFORK), only rank 0 prints,
 * and the job fails when any rank saw a failure. Shared by the MPI test programs. */
#ifndef PP_TEST_MPI_SUITE_H
#define PP_TEST_MPI_SUITE_H

#include <check.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "clrt.h"
#include "error.h"
#include "runtime.h"

static inline int pp_test_run_mpi_suite(Suite *suite, MPI_Comm comm)
{
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  SRunner *runner = srunner_create(suite);
  srunner_set_fork_status(runner, CK_NOFORK);
  srunner_run_all(runner, rank == 0 ? CK_NORMAL : CK_SILENT);
  int failed = srunner_ntests_failed(runner), failed_anywhere = 0;
  srunner_free(runner);
  MPI_Allreduce(&failed, &failed_anywhere, 1, MPI_INT, MPI_SUM, comm);
  return failed_anywhere ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Start-up of a device suite: MPI through the runtime, then one double-precision OpenCL device
 * per rank (clrt's choice). A missing device is a failure, never a skip. Returns 0 on success. */
static inline int pp_test_start_device(int *argc, char ***argv, pp_runtime *runtime, pp_clrt **clrt)
{
  if (pp_runtime_start(runtime, argc, argv) != PP_OK) {
    pp_error_print(stderr, "");
    return 1;
  }
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 1;
  if (pp_clrt_create(clrt, runtime->comm, &options) != PP_OK) {
    pp_error_print(stderr, "");
    pp_runtime_stop(runtime);
    return 1;
  }
  return 0;
}

/* Runs the suite on the runtime's communicator, then releases the device and MPI. */
static inline int pp_test_finish_device(Suite *suite, pp_runtime *runtime, pp_clrt *clrt)
{
  int status = pp_test_run_mpi_suite(suite, runtime->comm);
  pp_clrt_destroy(clrt);
  pp_runtime_stop(runtime);
  return status;
}

#endif
