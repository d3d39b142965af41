/* runtime: the MPI side of a run — start and stop, the rule that every rank leaves together when
 * one fails, MPI error text, and the fault-injection switch tests use to prove that no rank hangs.
 *
 * Collective agreement: at defined points (after config, device set-up, kernel build, output
 * folder, each stage) every rank calls pp_runtime_agree() with its local result. If any rank
 * failed, every rank returns an error: the failing ranks their own, the others
 * PP_ERR_OTHER_RANK carrying the first failing rank's message. Such an error is marked
 * collective, so main can leave through MPI_Finalize with a non-zero status on every rank. An
 * error that is not collective (a rank failed while others wait in a collective) makes main
 * call MPI_Abort, which ends every rank within seconds.
 *
 * Fault injection: PINPRICK_FAULT="RANK:PHASE" (RANK a number or '*'; several separated by
 * ','). pp_runtime_fault_point(rt, "PHASE") then fails on that rank with PP_ERR_INJECTED. */
#ifndef PP_RUNTIME_H
#define PP_RUNTIME_H

#include <mpi.h>

#include "error.h"

typedef struct {
  MPI_Comm comm;        /* duplicate of MPI_COMM_WORLD owned by pinprick */
  int rank, size;
  int started_mpi;      /* 1 when pp_runtime_start called MPI_Init */
  char host[MPI_MAX_PROCESSOR_NAME];
  double start_time;    /* MPI_Wtime at start */
} pp_runtime;

pp_err pp_runtime_start(pp_runtime *runtime, int *argc, char ***argv);
/* Leave MPI cleanly (collective). */
void pp_runtime_stop(pp_runtime *runtime);

/* Collective: see the module comment. phase names the point in messages ("device set-up"). */
pp_err pp_runtime_agree(const pp_runtime *runtime, pp_err local_result, const char *phase);
/* The same on any communicator (modules that hold a communicator, not the runtime): COLLECTIVE
 * over comm; call it after local work that may fail on one rank and before the next collective,
 * so that a failure reaches every rank instead of leaving the others waiting. */
pp_err pp_comm_agree(MPI_Comm comm, pp_err local_result, const char *phase);

/* Fails with PP_ERR_INJECTED on the rank(s) PINPRICK_FAULT names for this phase. */
pp_err pp_runtime_fault_point(const pp_runtime *runtime, const char *phase);
/* Parse one PINPRICK_FAULT value; *fires set when (rank, phase) is named. A malformed value is
 * a PP_ERR_USAGE naming the variable. Exposed for tests. */
pp_err pp_runtime_fault_matches(const char *spec, int rank, const char *phase, int *fires);

/* Raise PP_ERR_MPI with MPI_Error_string's text. */
pp_err pp_mpi_error(int mpi_code, const char *file, int line, const char *func, const char *what);
#define PP_MPI(call, what)                                                            \
  do {                                                                                \
    int pp_mpi_code_ = (call);                                                        \
    if (pp_mpi_code_ != MPI_SUCCESS) return pp_mpi_error(pp_mpi_code_, __FILE__, __LINE__, __func__, (what)); \
  } while (0)

/* Broadcast a string from root (NULL-safe on other ranks; *text is malloc'd there). */
pp_err pp_runtime_broadcast_text(const pp_runtime *runtime, char **text, int root);

/* Print the error in flight and leave: every rank exits with exit_status; a non-collective
 * error aborts the whole job (MPI_Abort) so that no rank waits forever. Does not return. */
_Noreturn void pp_runtime_fail(pp_runtime *runtime, int exit_status);

#endif
