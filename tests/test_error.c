/* Error propagation: messages, traceback frames, context, codes, and the fault-switch parser. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "runtime.h"

static pp_err innermost(int value)
{
  PP_CHECK(value >= 0, PP_ERR_CONFIG, "value must be non-negative, found %d", value);
  return PP_OK;
}

static pp_err middle(int value)
{
  PP_CALL(innermost(value));
  return PP_OK;
}

static pp_err outer(int value)
{
  PP_CALL(middle(value));
  return PP_OK;
}

START_TEST(test_success_leaves_no_error)
{
  pp_error_clear();
  ck_assert_int_eq(outer(3), PP_OK);
  ck_assert_int_eq(pp_error_code(), PP_OK);
  ck_assert_str_eq(pp_error_message(), "");
}
END_TEST

START_TEST(test_error_propagates_with_message_and_trace)
{
  pp_error_clear();
  ck_assert_int_eq(outer(-7), PP_ERR_CONFIG);
  ck_assert_int_eq(pp_error_code(), PP_ERR_CONFIG);
  ck_assert_str_eq(pp_error_message(), "value must be non-negative, found -7");
  char *text = NULL;
  size_t size = 0;
  FILE *stream = open_memstream(&text, &size);
  pp_error_print(stream, ">> ");
  fclose(stream);
  /* The trace names each function in call order, innermost first, with this file. */
  const char *inner = strstr(text, "innermost() at test_error.c:");
  const char *mid = strstr(text, "middle() at test_error.c:");
  const char *out = strstr(text, "outer() at test_error.c:");
  ck_assert_ptr_nonnull(inner);
  ck_assert_ptr_nonnull(mid);
  ck_assert_ptr_nonnull(out);
  ck_assert(inner < mid && mid < out);
  ck_assert(strncmp(text, ">> error: value must be non-negative", 36) == 0);
  free(text);
}
END_TEST

START_TEST(test_context_is_printed)
{
  pp_error_clear();
  pp_err code = outer(-1);
  pp_error_context(code, "while reading %s", "case.yaml");
  char *text = NULL;
  size_t size = 0;
  FILE *stream = open_memstream(&text, &size);
  pp_error_print(stream, "");
  fclose(stream);
  ck_assert_ptr_nonnull(strstr(text, "while reading case.yaml"));
  free(text);
}
END_TEST

START_TEST(test_code_without_message_is_named)
{
  pp_error_clear();
  ck_assert_int_eq(pp_error_trace(PP_ERR_HDF5, "x.c", 1, "f"), PP_ERR_HDF5);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "HDF5 error"));
}
END_TEST

START_TEST(test_code_names_are_distinct)
{
  for (int a = 0; a < PP_ERR_CODE_COUNT; ++a)
    for (int b = a + 1; b < PP_ERR_CODE_COUNT; ++b)
      ck_assert_str_ne(pp_error_code_name(a), pp_error_code_name(b));
  ck_assert_str_eq(pp_error_code_name(9999), "unknown error");
}
END_TEST

START_TEST(test_fault_spec_parsing)
{
  int fires = -1;
  ck_assert_int_eq(pp_runtime_fault_matches("1:device", 1, "device", &fires), PP_OK);
  ck_assert_int_eq(fires, 1);
  ck_assert_int_eq(pp_runtime_fault_matches("1:device", 0, "device", &fires), PP_OK);
  ck_assert_int_eq(fires, 0);
  ck_assert_int_eq(pp_runtime_fault_matches("1:device", 1, "config", &fires), PP_OK);
  ck_assert_int_eq(fires, 0);
  ck_assert_int_eq(pp_runtime_fault_matches("0:config,*:output", 3, "output", &fires), PP_OK);
  ck_assert_int_eq(fires, 1);
  ck_assert_int_eq(pp_runtime_fault_matches(NULL, 0, "output", &fires), PP_OK);
  ck_assert_int_eq(fires, 0);
  pp_error_clear();
  ck_assert_int_eq(pp_runtime_fault_matches("x:device", 0, "device", &fires), PP_ERR_USAGE);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "PINPRICK_FAULT"));
  ck_assert_int_eq(pp_runtime_fault_matches("device", 0, "device", &fires), PP_ERR_USAGE);
  ck_assert_int_eq(pp_runtime_fault_matches("1:", 0, "device", &fires), PP_ERR_USAGE);
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("error");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_success_leaves_no_error);
  tcase_add_test(tc, test_error_propagates_with_message_and_trace);
  tcase_add_test(tc, test_context_is_printed);
  tcase_add_test(tc, test_code_without_message_is_named);
  tcase_add_test(tc, test_code_names_are_distinct);
  tcase_add_test(tc, test_fault_spec_parsing);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
