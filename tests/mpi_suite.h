/* Running a Check suite under MPI: never fork after MPI_Init (CK_NOFORK), only rank 0 prints,
 * and the job fails when any rank saw a failure. Shared by the MPI test programs. */
#ifndef PP_TEST_MPI_SUITE_H
#define PP_TEST_MPI_SUITE_H

#include <check.h>
#include <mpi.h>
#include <stdlib.h>

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

#endif
