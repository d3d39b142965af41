/* test_units: quantities with units to SI through UDUNITS-2 (host/units.c).
 * Expected conversions are the ones checked on this machine in TOOLCHAIN.md section 10. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

static pp_units *units;

static void open_units(void)
{
  pp_error_clear();
  ck_assert_int_eq(pp_units_open(&units), PP_OK);
}

static void close_units(void)
{
  pp_units_close(units);
  units = NULL;
}

/* Converts text and asserts success and the SI value to a relative 1e-14 (the conversions are
 * exact up to the last bit or two of the factor). */
static void assert_converts(const char *text, const char *si_unit, double expected)
{
  double value = NAN;
  char why[512] = "";
  pp_err err = pp_units_to_si(units, text, si_unit, &value, why, sizeof why);
  ck_assert_msg(err == PP_OK, "'%s' -> %s failed: %s", text, si_unit, why);
  ck_assert_msg(fabs(value - expected) <= 1e-14 * fabs(expected),
                "'%s' -> %.17g %s, expected %.17g", text, value, si_unit, expected);
}

/* Converts text, asserts PP_ERR_UNITS, and that both the reason and the short description
 * contain the given fragments. */
static void assert_refused(const char *text, const char *si_unit, const char *why_fragment,
                           const char *found_fragment)
{
  double value = 12345.0;
  char why[512] = "", found[512] = "";
  pp_err err = pp_units_to_si_described(units, text, si_unit, &value, why, sizeof why, found, sizeof found);
  ck_assert_msg(err == PP_ERR_UNITS, "'%s' -> %s was accepted (%.17g)", text, si_unit, value);
  ck_assert_msg(strstr(why, why_fragment) != NULL, "reason for '%s' is '%s', lacks '%s'", text, why, why_fragment);
  ck_assert_msg(strstr(found, found_fragment) != NULL, "found-text for '%s' is '%s', lacks '%s'", text, found,
                found_fragment);
  ck_assert_msg(value == 12345.0, "a refused conversion of '%s' changed the output value", text);
  /* Reasons are returned, not raised: the config parser collects several before raising one. */
  ck_assert_int_eq(pp_error_code(), PP_OK);
}

START_TEST(toolchain_conversions)
{
  assert_converts("60 um", "m", 6e-05);
  assert_converts("0.5 mm/s", "m/s", 0.0005);
  assert_converts("28 d", "s", 2419200.0);
  assert_converts("17.5 ng/mL", "kg/m3", 1.75e-05);
  assert_converts("20 MPa", "Pa", 2e7);
  assert_converts("15 1/d", "1/s", 15.0 / 86400.0);
  assert_converts("15 d-1", "1/s", 15.0 / 86400.0);
  assert_converts("15 d^-1", "1/s", 15.0 / 86400.0);
  assert_converts("0.8 mm/d", "m/s", 0.8e-3 / 86400.0);
  assert_converts("37 degC", "K", 310.15);
  assert_converts("1e-11 m2/s", "m2/s", 1e-11);
  assert_converts("100 J/m2", "J/m2", 100.0);
  assert_converts("3000 mm-3", "m-3", 3e12);
  assert_converts("250 cm-2", "m-2", 2.5e6);
}
END_TEST

START_TEST(spellings)
{
  assert_converts("60 \xc2\xb5m", "m", 6e-05); /* micro sign U+00B5 */
  assert_converts("60 \xce\xbcm", "m", 6e-05); /* Greek mu U+03BC */
  assert_converts("60um", "m", 6e-05);         /* no space */
  assert_converts("  60   um  ", "m", 6e-05);  /* surrounding spaces */
  assert_converts("4 weeks", "s", 28 * 86400.0);
  assert_converts("1.5e-3 m", "m", 1.5e-3);
  assert_converts("-1 mm", "m", -1e-3);
}
END_TEST

START_TEST(bare_numbers_are_si)
{
  assert_converts("6e-5", "m", 6e-5);
  assert_converts("2419200", "s", 2419200.0);
  assert_converts("0.25", "", 0.25);
  /* Dimensionless keys take dimensionless units as well. */
  assert_converts("50 %", "", 0.5);
  assert_converts("2 rad", "", 2.0);
}
END_TEST

START_TEST(wrong_dimension)
{
  assert_refused("3 s", "m", "'3 s' is a time, but a length (m) was expected", "'3 s' (a time)");
  assert_refused("1 mm", "s", "is a length", "(a length)");
  assert_refused("2 kg", "m", "is a mass", "(a mass)");
  assert_refused("5 %", "m", "dimensionless", "dimensionless");
  /* UDUNITS itself converts reciprocal units; a rate is not a time. */
  assert_refused("15 1/d", "s", "is a rate", "(a rate)");
  assert_refused("2 m2", "m-2", "is an area", "(an area)");
  assert_refused("1 mm", "", "a plain number", "(a length)");
}
END_TEST

START_TEST(unknown_and_unreadable_units)
{
  assert_refused("3 furlongz", "m", "'furlongz' is not a unit", "furlongz");
  assert_refused("60 um xyz", "m", "not a unit", "'60 um xyz'");
  /* The toolchain probe: "15 /d" is a UDUNITS parse error; tell the user how to write it. */
  assert_refused("15 /d", "1/s", "'15 1/d' or '15 d-1'", "'15 1/d' or '15 d-1'");
  assert_refused("3000 /mm3", "m-3", "'3000 1/mm3'", "'3000 1/mm3'");
  assert_refused("60 um )", "m", "not a unit", "60 um )");
}
END_TEST

START_TEST(not_numbers)
{
  assert_refused("", "m", "empty", "nothing");
  assert_refused("   ", "m", "empty", "nothing");
  assert_refused("abc", "m", "does not start with a number", "(not a number)");
  assert_refused("um", "m", "does not start with a number", "(not a number)");
  assert_refused("0x10 m", "m", "does not start with a number", "(not a number)");
  assert_refused("nan", "m", "not a finite number", "(not a finite number)");
  assert_refused("inf mm", "m", "not a finite number", "(not a finite number)");
  assert_refused("-infinity", "m", "not a finite number", "(not a finite number)");
  assert_refused(".inf", "m", "not a finite number", "(not a finite number)");
  assert_refused("1e400 m", "m", "not a finite number", "(not a finite number)");
}
END_TEST

START_TEST(from_si_and_dimension_names)
{
  double shown = 0;
  ck_assert_int_eq(pp_units_from_si(units, 6e-05, "m", "um", &shown), PP_OK);
  ck_assert_double_eq_tol(shown, 60.0, 1e-12);
  ck_assert_int_eq(pp_units_from_si(units, 2419200.0, "s", "d", &shown), PP_OK);
  ck_assert_double_eq_tol(shown, 28.0, 1e-12);
  ck_assert_int_eq(pp_units_from_si(units, 2.5e6, "m-2", "cm-2", &shown), PP_OK);
  ck_assert_double_eq_tol(shown, 250.0, 1e-9);
  ck_assert_int_eq(pp_units_from_si(units, 1.0, "m", "s", &shown), PP_ERR_UNITS);
  ck_assert_int_eq(pp_units_from_si(units, 1.0, "m", "1/m", &shown), PP_ERR_UNITS); /* reciprocal */
  pp_error_clear();

  ck_assert_str_eq(pp_units_dimension_name("m"), "length");
  ck_assert_str_eq(pp_units_dimension_name("s"), "time");
  ck_assert_str_eq(pp_units_dimension_name("m/s"), "velocity");
  ck_assert_str_eq(pp_units_dimension_name("Pa"), "pressure or stress");
  ck_assert_str_eq(pp_units_dimension_name("1/s"), "rate");
  ck_assert_str_eq(pp_units_dimension_name("s-1"), "rate");
  ck_assert_str_eq(pp_units_dimension_name("m-2"), "number per area");
  ck_assert_str_eq(pp_units_dimension_name("m2/s"), "diffusivity");
  ck_assert_str_eq(pp_units_dimension_name("J/m2"), "energy per area");
  ck_assert_str_eq(pp_units_dimension_name(""), "dimensionless number");
  ck_assert_ptr_nonnull(strstr(pp_units_dimension_name("kg/m3"), "density"));
  ck_assert_ptr_nonnull(strstr(pp_units_dimension_name("kg/m3"), "concentration"));
  ck_assert_str_eq(pp_units_dimension_name("furlong/fortnight"), "quantity");
}
END_TEST

static Suite *units_suite(void)
{
  Suite *suite = suite_create("units");
  TCase *cases = tcase_create("conversions");
  tcase_add_checked_fixture(cases, open_units, close_units);
  tcase_add_test(cases, toolchain_conversions);
  tcase_add_test(cases, spellings);
  tcase_add_test(cases, bare_numbers_are_si);
  tcase_add_test(cases, wrong_dimension);
  tcase_add_test(cases, unknown_and_unreadable_units);
  tcase_add_test(cases, not_numbers);
  tcase_add_test(cases, from_si_and_dimension_names);
  suite_add_tcase(suite, cases);
  return suite;
}

int main(void)
{
  SRunner *runner = srunner_create(units_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
