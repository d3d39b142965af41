#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum { SHARED_MESSAGE_SIZE = 2048 };

pp_err pp_mpi_error(int mpi_code, const char *file, int line, const char *func, const char *what)
{
  char text[MPI_MAX_ERROR_STRING] = "";
  int length = 0;
  if (MPI_Error_string(mpi_code, text, &length) != MPI_SUCCESS)
    snprintf(text, sizeof text, "MPI error code %d", mpi_code);
  return pp_error_raise(PP_ERR_MPI, file, line, func, "%s failed: %s", what, text);
}

pp_err pp_runtime_start(pp_runtime *runtime, int *argc, char ***argv)
{
  memset(runtime, 0, sizeof *runtime);
  int initialized = 0;
  PP_MPI(MPI_Initialized(&initialized), "MPI_Initialized");
  if (!initialized) {
    PP_MPI(MPI_Init(argc, argv), "MPI_Init");
    runtime->started_mpi = 1;
  }
  PP_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &runtime->comm), "duplicating MPI_COMM_WORLD");
  /* Errors come back as codes so they can carry MPI's text, instead of aborting inside MPI. */
  PP_MPI(MPI_Comm_set_errhandler(runtime->comm, MPI_ERRORS_RETURN), "setting the MPI error handler");
  PP_MPI(MPI_Comm_rank(runtime->comm, &runtime->rank), "MPI_Comm_rank");
  PP_MPI(MPI_Comm_size(runtime->comm, &runtime->size), "MPI_Comm_size");
  int length = 0;
  PP_MPI(MPI_Get_processor_name(runtime->host, &length), "MPI_Get_processor_name");
  runtime->start_time = MPI_Wtime();
  return PP_OK;
}

void pp_runtime_stop(pp_runtime *runtime)
{
  if (runtime->comm != MPI_COMM_NULL && runtime->comm) MPI_Comm_free(&runtime->comm);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (runtime->started_mpi && !finalized) MPI_Finalize();
}

pp_err pp_runtime_agree(const pp_runtime *runtime, pp_err local_result, const char *phase)
{
  return pp_comm_agree(runtime->comm, local_result, phase);
}

pp_err pp_comm_agree(MPI_Comm comm, pp_err local_result, const char *phase)
{
  pp_runtime runtime_view; /* only rank, size and comm are used below */
  runtime_view.comm = comm;
  if (MPI_Comm_rank(comm, &runtime_view.rank) != MPI_SUCCESS || MPI_Comm_size(comm, &runtime_view.size) != MPI_SUCCESS) {
    pp_error_raise(PP_ERR_MPI, __FILE__, __LINE__, __func__, "agreeing on %s: not a valid communicator", phase);
    pp_error_set_collective(PP_ERROR_LOCAL);
    return PP_ERR_MPI;
  }
  const pp_runtime *runtime = &runtime_view;
  /* Lowest failing rank, or size when none failed: every rank learns who failed first. */
  int candidate = local_result != PP_OK ? runtime->rank : runtime->size;
  int first_failed = runtime->size;
  int failed_count_local = local_result != PP_OK, failed_count = 0;
  int mpi_code = MPI_Allreduce(&candidate, &first_failed, 1, MPI_INT, MPI_MIN, runtime->comm);
  if (mpi_code == MPI_SUCCESS)
    mpi_code = MPI_Allreduce(&failed_count_local, &failed_count, 1, MPI_INT, MPI_SUM, runtime->comm);
  if (mpi_code != MPI_SUCCESS) {
    /* The agreement itself failed: nothing collective can be trusted any more. */
    pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "agreeing on the result of a phase");
    pp_error_set_collective(PP_ERROR_LOCAL);
    return PP_ERR_MPI;
  }
  if (first_failed == runtime->size) return PP_OK;

  char shared[SHARED_MESSAGE_SIZE] = "";
  if (runtime->rank == first_failed) snprintf(shared, sizeof shared, "%s", pp_error_message());
  int origin_code = local_result;
  mpi_code = MPI_Bcast(&origin_code, 1, MPI_INT, first_failed, runtime->comm);
  if (mpi_code == MPI_SUCCESS) mpi_code = MPI_Bcast(shared, SHARED_MESSAGE_SIZE, MPI_CHAR, first_failed, runtime->comm);
  if (mpi_code != MPI_SUCCESS) {
    pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "sharing the message of a failed rank");
    pp_error_set_collective(PP_ERROR_LOCAL);
    return PP_ERR_MPI;
  }
  shared[SHARED_MESSAGE_SIZE - 1] = '\0';
  if (local_result != PP_OK) {
    pp_error_context(local_result, "(during %s, on rank %d of %d)", phase, runtime->rank, runtime->size);
    /* When every rank failed the same way (e.g. the same bad config) one copy is enough. */
    int same_as_first = runtime->rank != first_failed && strcmp(shared, pp_error_message()) == 0;
    pp_error_set_collective(same_as_first ? PP_ERROR_COLLECTIVE_QUIET : PP_ERROR_COLLECTIVE);
    return local_result;
  }
  pp_error_raise(PP_ERR_OTHER_RANK, __FILE__, __LINE__, __func__,
                 "%d rank(s) failed during %s; first was rank %d: %s", failed_count, phase,
                 first_failed, shared);
  pp_error_set_origin_code(origin_code);
  /* Rank 0 reports for the ranks that did not fail (unless it failed itself and printed). */
  pp_error_set_collective(runtime->rank == 0 ? PP_ERROR_COLLECTIVE : PP_ERROR_COLLECTIVE_QUIET);
  return PP_ERR_OTHER_RANK;
}

pp_err pp_runtime_fault_matches(const char *spec, int rank, const char *phase, int *fires)
{
  *fires = 0;
  if (!spec || !*spec) return PP_OK;
  const char *item = spec;
  while (*item) {
    const char *end = strchr(item, ',');
    size_t length = end ? (size_t)(end - item) : strlen(item);
    char entry[256];
    PP_CHECK(length > 0 && length < sizeof entry, PP_ERR_USAGE,
             "PINPRICK_FAULT='%s': expected RANK:PHASE[,RANK:PHASE...], found an empty or too long entry", spec);
    memcpy(entry, item, length);
    entry[length] = '\0';
    char *colon = strchr(entry, ':');
    PP_CHECK(colon && colon != entry && colon[1], PP_ERR_USAGE,
             "PINPRICK_FAULT='%s': expected RANK:PHASE (e.g. 1:device), found '%s'", spec, entry);
    *colon = '\0';
    int entry_rank = -1;
    if (strcmp(entry, "*") != 0) {
      char *number_end = NULL;
      long value = strtol(entry, &number_end, 10);
      PP_CHECK(*number_end == '\0' && value >= 0 && value < 1000000, PP_ERR_USAGE,
               "PINPRICK_FAULT='%s': expected a rank number or '*', found '%s'", spec, entry);
      entry_rank = (int)value;
    }
    if ((entry_rank < 0 || entry_rank == rank) && strcmp(colon + 1, phase) == 0) *fires = 1;
    item += length;
    if (*item == ',') ++item;
  }
  return PP_OK;
}

pp_err pp_runtime_fault_point(const pp_runtime *runtime, const char *phase)
{
  int fires = 0;
  PP_CALL(pp_runtime_fault_matches(getenv("PINPRICK_FAULT"), runtime->rank, phase, &fires));
  PP_CHECK(!fires, PP_ERR_INJECTED, "fault injected by PINPRICK_FAULT on rank %d at phase '%s'",
           runtime->rank, phase);
  return PP_OK;
}

pp_err pp_runtime_broadcast_text(const pp_runtime *runtime, char **text, int root)
{
  long length = 0;
  if (runtime->rank == root) length = *text ? (long)strlen(*text) : -1;
  PP_MPI(MPI_Bcast(&length, 1, MPI_LONG, root, runtime->comm), "broadcasting a text length");
  if (runtime->rank != root) {
    *text = NULL;
    if (length < 0) return PP_OK;
    PP_MALLOC(*text, (size_t)length + 1, "a broadcast text");
  }
  if (length > 0) {
    PP_CHECK(length < (long)1 << 30, PP_ERR_ARGUMENT, "text of %ld bytes is too long to broadcast", length);
    PP_MPI(MPI_Bcast(*text, (int)length, MPI_CHAR, root, runtime->comm), "broadcasting a text");
  }
  if (length >= 0) (*text)[length] = '\0';
  return PP_OK;
}

_Noreturn void pp_runtime_fail(pp_runtime *runtime, int exit_status)
{
  int collective = pp_error_is_collective();
  if (collective != PP_ERROR_COLLECTIVE_QUIET) {
    char prefix[64] = "";
    if (runtime->size > 1) snprintf(prefix, sizeof prefix, "[rank %d] ", runtime->rank);
    pp_error_print(stderr, prefix);
    fflush(stderr);
  }
  if (!collective && runtime->size > 1) {
    fprintf(stderr, "[rank %d] aborting every rank (the error happened outside a collective check)\n",
            runtime->rank);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_status);
  }
  pp_runtime_stop(runtime);
  exit(exit_status);
}
