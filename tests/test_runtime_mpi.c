/* MPI behaviour of the runtime on 1, 2 and 4 ranks: the collective agreement, MPI error text
 * and text broadcast. Rule (TOOLCHAIN.md §0.5): every collective first, then assertions on
 * values that are the same on every rank, so a failed assertion cannot deadlock the others. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mpi_suite.h"
#include "runtime.h"

static pp_runtime runtime;

START_TEST(test_agree_all_ok)
{
  pp_error_clear();
  pp_err result = pp_runtime_agree(&runtime, PP_OK, "a phase that works");
  ck_assert_int_eq(result, PP_OK);
}
END_TEST

/* The last rank fails; every rank must return an error, the others naming the failing rank. */
START_TEST(test_agree_one_rank_fails)
{
  pp_error_clear();
  int failing = runtime.size - 1;
  pp_err local = PP_OK;
  if (runtime.rank == failing)
    local = pp_error_raise(PP_ERR_DEVICE, __FILE__, __LINE__, __func__, "simulated device failure on rank %d",
                           runtime.rank);
  pp_err result = pp_runtime_agree(&runtime, local, "device set-up");
  int got_error = result != PP_OK, every_rank_got_error = 0;
  MPI_Allreduce(&got_error, &every_rank_got_error, 1, MPI_INT, MPI_MIN, runtime.comm);
  ck_assert_int_eq(every_rank_got_error, 1);
  ck_assert_int_eq(pp_error_is_collective() != PP_ERROR_LOCAL, 1);
  if (runtime.rank == failing) {
    ck_assert_int_eq(result, PP_ERR_DEVICE);
  } else {
    ck_assert_int_eq(result, PP_ERR_OTHER_RANK);
    /* The failing rank's code travels too, so every rank can exit with the same status. */
    ck_assert_int_eq(pp_error_origin_code(), PP_ERR_DEVICE);
    char expected[128];
    snprintf(expected, sizeof expected, "first was rank %d: simulated device failure on rank %d", failing, failing);
    ck_assert_ptr_nonnull(strstr(pp_error_message(), expected));
    ck_assert_ptr_nonnull(strstr(pp_error_message(), "device set-up"));
  }
}
END_TEST

/* Several ranks fail: the lowest is reported, and the count is right. */
START_TEST(test_agree_counts_failures)
{
  pp_error_clear();
  pp_err local = PP_OK;
  if (runtime.rank % 2 == 1)
    local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "odd rank %d failed", runtime.rank);
  pp_err result = pp_runtime_agree(&runtime, local, "output");
  if (runtime.size == 1) {
    ck_assert_int_eq(result, PP_OK);
  } else if (runtime.rank % 2 == 0) {
    char expected[128];
    snprintf(expected, sizeof expected, "%d rank(s) failed during output; first was rank 1", runtime.size / 2);
    ck_assert_ptr_nonnull(strstr(pp_error_message(), expected));
  } else {
    ck_assert_int_eq(result, PP_ERR_IO);
  }
}
END_TEST

START_TEST(test_mpi_error_text)
{
  pp_error_clear();
  /* A negative count is invalid; MPI_ERRORS_RETURN on runtime.comm gives a code. */
  int value = 0;
  int code = MPI_Bcast(&value, -1, MPI_INT, 0, runtime.comm);
  ck_assert_int_ne(code, MPI_SUCCESS);
  ck_assert_int_eq(pp_mpi_error(code, __FILE__, __LINE__, __func__, "broadcasting a test value"), PP_ERR_MPI);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "broadcasting a test value failed: "));
  ck_assert_int_gt((int)strlen(pp_error_message()), (int)strlen("broadcasting a test value failed: "));
}
END_TEST

START_TEST(test_broadcast_text)
{
  pp_error_clear();
  char *text = NULL;
  if (runtime.rank == 0) text = strdup("schema_version: 1\nneedle:\n  tip_radius: 4 um\n");
  ck_assert_int_eq(pp_runtime_broadcast_text(&runtime, &text, 0), PP_OK);
  ck_assert_str_eq(text, "schema_version: 1\nneedle:\n  tip_radius: 4 um\n");
  free(text);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_runtime_start(&runtime, &argc, &argv) != PP_OK) {
    pp_error_print(stderr, "");
    return EXIT_FAILURE;
  }
  Suite *suite = suite_create("runtime_mpi");
  TCase *tc = tcase_create("collective");
  tcase_add_test(tc, test_agree_all_ok);
  tcase_add_test(tc, test_agree_one_rank_fails);
  tcase_add_test(tc, test_agree_counts_failures);
  tcase_add_test(tc, test_mpi_error_text);
  tcase_add_test(tc, test_broadcast_text);
  suite_add_tcase(suite, tc);
  int status = pp_test_run_mpi_suite(suite, runtime.comm);
  pp_runtime_stop(&runtime);
  return status;
}
