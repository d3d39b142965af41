/* test_config: the key table, the YAML reader, --set, validation and the writers
 * (host/config.c). Bad inputs are an in-test table: each names the file, the line and the key
 * its message must point at, so a message that loses its position fails here. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "needle.h"

static void assert_contains(const char *haystack, const char *needle)
{
  ck_assert_msg(strstr(haystack, needle) != NULL, "expected '%s' in:\n%s", needle, haystack);
}

/* Lines of text, the last one with or without its newline. */
static int line_count(const char *text)
{
  int lines = 0;
  for (const char *c = text; *c; ++c)
    if (*c == '\n' || c[1] == '\0') ++lines;
  return lines;
}

static void init_config(pp_config *config)
{
  pp_error_clear();
  pp_err err = pp_config_init(config);
  ck_assert_msg(err == PP_OK, "pp_config_init failed: %s", pp_error_message());
}

/* Identical values (exact doubles: the writers must round-trip bit for bit). */
static void assert_same_values(const pp_config *a, const pp_config *b, int skip_schema)
{
  int count = 0;
  const pp_key_spec *keys = pp_config_keys(&count);
  for (int i = 0; i < count; ++i) {
    if (skip_schema && strcmp(keys[i].path, "schema_version") == 0) continue;
    const pp_config_value *x = &a->values[i], *y = &b->values[i];
    ck_assert_msg(x->is_set == y->is_set, "%s: is_set %d vs %d", keys[i].path, x->is_set, y->is_set);
    switch (keys[i].type) {
      case PP_KEY_REAL:
        ck_assert_msg(x->real == y->real, "%s: %.17g vs %.17g", keys[i].path, x->real, y->real);
        break;
      case PP_KEY_INTEGER:
      case PP_KEY_BOOLEAN:
        ck_assert_msg(x->integer == y->integer, "%s: %ld vs %ld", keys[i].path, x->integer, y->integer);
        break;
      case PP_KEY_STRING:
      case PP_KEY_CHOICE:
        ck_assert_msg(strcmp(x->text ? x->text : "", y->text ? y->text : "") == 0, "%s: '%s' vs '%s'",
                      keys[i].path, x->text, y->text);
        break;
      case PP_KEY_REAL_LIST:
        ck_assert_msg(x->list_length == y->list_length, "%s: %d vs %d items", keys[i].path, x->list_length,
                      y->list_length);
        for (int k = 0; k < x->list_length; ++k)
          ck_assert_msg(x->list[k] == y->list[k], "%s[%d]: %.17g vs %.17g", keys[i].path, k, x->list[k],
                        y->list[k]);
        break;
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Bad inputs                                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  const char *file;      /* origin name given to the loader; must appear in the message */
  const char *text;
  int line;              /* must appear as ":LINE:" */
  const char *key;       /* key path that must appear */
  const char *detail;    /* a further fragment that says what is wrong */
} bad_input;

#define V1 "schema_version: 1\n"

static const bad_input bad_inputs[] = {
  /* YAML itself */
  {"syntax_flow.yaml", V1 "needle: [1.2 mm\nskin: 2\n", 3, "needle", "did not find expected ',' or ']'"},
  {"syntax_tab.yaml", V1 "needle:\n\tlength: 1 mm\n", 3, "needle", "cannot start any token"},
  {"two_documents.yaml", V1 "---\nschema_version: 1\n", 2, "schema_version", "second one"},
  {"bad_utf8.yaml", V1 "case:\n  name: \xff\xfe\n", 3, "(top level)", "UTF-8"},
  {"anchor.yaml", V1 "needle:\n  length: &l 1 mm\n", 3, "needle.length", "anchor"},
  {"alias.yaml", V1 "needle:\n  length: 1 mm\n  base_diameter: *x\n", 4, "needle.base_diameter", "alias"},
  /* the shape of the file */
  {"empty.yaml", "", 1, "(top level)", "empty file"},
  {"comments_only.yaml", "# nothing here\n", 1, "(top level)", "empty file"},
  {"top_scalar.yaml", "microneedling\n", 1, "(top level)", "the scalar 'microneedling'"},
  {"top_list.yaml", "- schema_version: 1\n", 1, "(top level)", "found a list"},
  {"no_schema.yaml", "needle:\n  length: 1 mm\n", 1, "schema_version", "found no schema_version"},
  {"schema_2.yaml", "# from the future\nschema_version: 2\nneedle:\n  sharpness: 3\n", 2, "schema_version",
   "config files of schema 2 are not read by this version"},
  {"schema_text.yaml", "schema_version: one\n", 1, "schema_version", "not an integer"},
  /* keys */
  {"typo.yaml", V1 "needle:\n  lenght: 1 mm\n", 3, "needle.lenght", "did you mean 'needle.length'?"},
  {"wrong_section.yaml", V1 "tip_radius: 3 um\n", 2, "tip_radius", "did you mean 'needle.tip_radius'?"},
  {"unknown_section.yaml", V1 "needl:\n  length: 1 mm\n", 2, "needl", "did you mean 'needle'?"},
  {"duplicate.yaml", V1 "needle:\n  length: 1 mm\n  length: 2 mm\n", 4, "needle.length", "first given at line 3"},
  {"duplicate_dotted.yaml", V1 "needle:\n  length: 1 mm\nneedle.length: 2 mm\n", 4, "needle.length",
   "first given at line 3"},
  {"section_scalar.yaml", V1 "needle: 5\n", 2, "needle", "expected a section with the keys preset, length, tip_radius"},
  /* types */
  {"mapping_for_scalar.yaml", V1 "needle:\n  length:\n    value: 1 mm\n", 4, "needle.length", "found a mapping"},
  {"list_for_scalar.yaml", V1 "skin:\n  density: [1000, 1100]\n", 3, "skin.density", "found a list"},
  {"empty_value.yaml", V1 "needle:\n  length:\n  tip_radius: 4 um\n", 3, "needle.length", "found nothing"},
  {"text_for_number.yaml", V1 "needle:\n  length: long\n", 3, "needle.length", "'long' (not a number)"},
  {"not_integer.yaml", V1 "treatment:\n  sessions: 4.5\n", 3, "treatment.sessions", "'4.5' (not an integer)"},
  {"bad_boolean.yaml", V1 "runtime:\n  kernel_profiling: yes\n", 3, "runtime.kernel_profiling",
   "expected true or false, found 'yes'"},
  {"bad_choice.yaml", V1 "runtime:\n  precision: single\n", 3, "runtime.precision",
   "expected one of: double, float, found 'single'"},
  {"scalar_for_list.yaml", V1 "output:\n  mechanics_times: 1 ms\n", 3, "output.mechanics_times", "a list of times"},
  /* quantities */
  {"wrong_dimension.yaml", V1 "needle:\n  tip_radius: 3 s\n", 3, "needle.tip_radius",
   "expected a length (m) between 0.5 um and 100 um, found '3 s' (a time)"},
  {"rate_for_time.yaml", V1 "treatment:\n  session_interval: 15 1/d\n", 3, "treatment.session_interval",
   "(a rate)"},
  {"unknown_unit.yaml", V1 "needle:\n  length: 1 furlongz\n", 3, "needle.length", "unknown unit 'furlongz'"},
  {"slash_unit.yaml", V1 "treatment:\n  session_interval: 15 /d\n", 3, "treatment.session_interval",
   "'15 1/d' or '15 d-1'"},
  {"out_of_range.yaml", V1 "skin:\n  stratum_corneum:\n    thickness: 500 um\n", 4,
   "skin.stratum_corneum.thickness", "between 5 um and 100 um, found '500 um' (out of range)"},
  {"integer_range.yaml", V1 "treatment:\n  sessions: 0\n", 3, "treatment.sessions", "between 1 and 20"},
  {"infinite.yaml", V1 "skin:\n  density: .inf\n", 3, "skin.density", "not a finite number"},
  {"nan.yaml", V1 "needle:\n  length: nan mm\n", 3, "needle.length", "not a finite number"},
  {"huge.yaml", V1 "needle:\n  length: 1e400 mm\n", 3, "needle.length", "not a finite number"},
  {"list_item.yaml", V1 "output:\n  mechanics_times: [1 ms, 2 m]\n", 3, "output.mechanics_times[2]", "(a length)"},
  /* across keys (pp_config_validate) */
  {"too_deep.yaml", V1 "needle:\n  length: 1 mm\n  insertion_depth: 1.5 mm\n", 4, "needle.insertion_depth",
   "needle.insertion_depth < needle.length"},
  {"short_needle.yaml", V1 "needle:\n  length: 0.3 mm\n", 3, "needle.length",
   "needle.insertion_depth = 0.5 mm (default)"},
  {"through_skin.yaml",
   V1 "needle:\n  length: 5 mm\n  insertion_depth: 4.9 mm\nskin:\n  hypodermis:\n    thickness: 0.5 mm\n", 4,
   "needle.insertion_depth", "total skin thickness"},
  {"blunt.yaml", V1 "needle:\n  tip_radius: 80 um\n", 3, "needle.tip_radius", "2 x needle.tip_radius < needle.base_diameter"},
  {"short_healing.yaml", V1 "healing:\n  duration: 30 d\n", 3, "healing.duration",
   "(treatment.sessions - 1) x treatment.session_interval = 84 d"},
  {"output_interval.yaml", V1 "output:\n  healing_interval: 200 d\n", 3, "output.healing_interval",
   "output.healing_interval <= healing.duration"},
  {"times_order.yaml", V1 "output:\n  mechanics_times: [1 ms, 0.5 ms]\n", 3, "output.mechanics_times",
   "strictly increasing"},
  {"case_name.yaml", V1 "case:\n  name: runs/a\n", 3, "case.name", "letters, digits"},
  /* the needle (host/needle.h) */
  {"cone_too_wide.yaml", V1 "needle:\n  cone_half_angle: 95 degree\n", 3, "needle.cone_half_angle",
   "expected an angle (rad) between 0 degree and 90 degree, found '95 degree' (out of range)"},
  {"cone_negative.yaml", V1 "needle:\n  cone_half_angle: -5 degree\n", 3, "needle.cone_half_angle",
   "between 0 degree and 90 degree, found '-5 degree' (out of range)"},
  {"cone_as_length.yaml", V1 "needle:\n  cone_half_angle: 5 um\n", 3, "needle.cone_half_angle", "(a length)"},
  /* tan 2 degrees = 0.034921: from a 4 um tip to a 70 um shaft takes 2 x 4 um + 66 um / 0.034921 = 1897.99 um */
  {"cone_too_narrow.yaml", V1 "needle:\n  cone_half_angle: 2 degree\n", 3, "needle.cone_half_angle",
   "found that a 2 degree cone reaches the shaft radius only 1897.99 um from the tip, and needle.length = 1000 um"},
  {"shaft_wider_than_base.yaml", V1 "needle:\n  shaft_diameter: 200 um\n", 3, "needle.shaft_diameter",
   "(derived from needle.base_diameter) cone reaches the shaft radius"},
  {"shaft_below_tip.yaml", V1 "needle:\n  shaft_diameter: 6 um\n", 3, "needle.shaft_diameter",
   "expected 2 x needle.tip_radius < needle.shaft_diameter, found 2 x needle.tip_radius = 8 um"},
  {"friction_negative.yaml", V1 "needle:\n  friction_coefficient: -0.1\n", 3, "needle.friction_coefficient",
   "between 0 and 2"},
  {"tilt_too_far.yaml", V1 "needle:\n  tilt: 70 degree\n", 3, "needle.tilt", "between -60 degree and 60 degree"},
  {"bad_profile.yaml", V1 "needle:\n  speed_profile: sine\n", 3, "needle.speed_profile",
   "expected one of: constant, half_sine, found 'sine'"},
  {"bad_needle_preset.yaml", V1 "needle:\n  preset: roller\n", 3, "needle.preset",
   "expected one of: none, dermaroller, pen, polymer, found 'roller'"},
  {"preset_too_deep.yaml", V1 "needle:\n  preset: polymer\n  insertion_depth: 0.7 mm\n", 4, "needle.insertion_depth",
   "needle.length = 0.6 mm (needle.preset polymer (host/needle.c))"},
  {"times_after_end.yaml", V1 "output:\n  mechanics_times: [50 us, 0.2 ms]\n", 3, "output.mechanics_times",
   "expected the last of output.mechanics_times <= mechanics.end_time, found the last of output.mechanics_times = "
   "200 us and mechanics.end_time = 100 us (default)"},
  {"end_before_times.yaml", V1 "mechanics:\n  end_time: 60 us\n", 3, "mechanics.end_time",
   "found the last of output.mechanics_times = 100 us and mechanics.end_time = 60 us"},
  /* presets and material keys */
  {"bad_preset.yaml", V1 "needle:\n  length: 1 mm\npreset: arm\n", 4, "preset",
   "expected one of: none, face, forearm, back, found 'arm'"},
  {"bad_material.yaml", V1 "skin:\n  hypodermis:\n    material: mooney_rivlin\n", 4, "skin.hypodermis.material",
   "expected one of: neo_hookean, ogden"},
  {"modulus_as_length.yaml", V1 "skin:\n  reticular_dermis:\n    shear_modulus: 0.1 mm\n", 4,
   "skin.reticular_dermis.shear_modulus", "(a length)"},
  {"fracture_energy_unit.yaml", V1 "skin:\n  papillary_dermis:\n    fracture_energy: 100 J\n", 4,
   "skin.papillary_dermis.fracture_energy", "energy per area"},
};
enum { BAD_INPUT_COUNT = (int)(sizeof bad_inputs / sizeof bad_inputs[0]) };

START_TEST(bad_input_is_reported_with_file_line_and_key)
{
  const bad_input *bad = &bad_inputs[_i];
  pp_config config;
  init_config(&config);
  pp_err err = pp_config_load_text(&config, bad->file, bad->text);
  if (err == PP_OK) err = pp_config_validate(&config);
  ck_assert_msg(err == PP_ERR_CONFIG, "%s: code %d, expected PP_ERR_CONFIG; message: %s", bad->file, err,
                pp_error_message());
  const char *message = pp_error_message();
  char position[64];
  snprintf(position, sizeof position, "%s:%d:", bad->file, bad->line);
  assert_contains(message, position);
  assert_contains(message, bad->key);
  assert_contains(message, bad->detail);
  /* The format every line follows: FILE:LINE:COL: KEY: expected ..., found ... */
  char prefix[256];
  snprintf(prefix, sizeof prefix, "%s:%d:", bad->file, bad->line);
  const char *line = strstr(message, prefix);
  const char *after_column = strchr(line + strlen(prefix), ':');
  ck_assert_ptr_nonnull(after_column);
  ck_assert_msg(strncmp(after_column, ": ", 2) == 0 && strstr(after_column, "expected") != NULL,
                "line not in the FILE:LINE:COL: KEY: expected ... form: %s", line);
  pp_config_free(&config);
}
END_TEST

START_TEST(failed_load_changes_nothing)
{
  pp_config config;
  init_config(&config);
  double length = pp_config_real(&config, "needle.length");
  ck_assert_int_eq(pp_config_load_text(&config, "half.yaml", V1 "needle:\n  length: 2 mm\n  tip_radius: 3 s\n"),
                   PP_ERR_CONFIG);
  ck_assert(pp_config_real(&config, "needle.length") == length);
  ck_assert_int_eq(pp_config_value_of(&config, "needle.length")->source, PP_SOURCE_DEFAULT);
  pp_config_free(&config);
}
END_TEST

START_TEST(all_problems_of_a_file_at_once)
{
  const char *text = V1
    "needle:\n"
    "  tip_radius: 3 s\n"          /* line 3: wrong dimension */
    "  lenght: 1 mm\n"             /* line 4: unknown key */
    "treatment:\n"
    "  sessions: 4.5\n"            /* line 6: not an integer */
    "runtime:\n"
    "  precision: single\n"        /* line 8: bad choice */
    "  allow_shared_device: yes\n" /* line 9: bad boolean */
    "skin:\n"
    "  density: 1e400\n";          /* line 11: not finite */
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_load_text(&config, "many.yaml", text), PP_ERR_CONFIG);
  const char *message = pp_error_message();
  assert_contains(message, "many.yaml:3:15: needle.tip_radius: expected a length (m) between 0.5 um and 100 um, "
                           "found '3 s' (a time)");
  assert_contains(message, "many.yaml:4:3: needle.lenght:");
  assert_contains(message, "many.yaml:6:13: treatment.sessions:");
  assert_contains(message, "many.yaml:8:14: runtime.precision:");
  assert_contains(message, "many.yaml:9:24: runtime.allow_shared_device:");
  assert_contains(message, "many.yaml:11:12: skin.density:");
  ck_assert_int_eq(line_count(message), 6);
  /* In file order. */
  ck_assert(strstr(message, "many.yaml:3:") < strstr(message, "many.yaml:11:"));
  pp_config_free(&config);
}
END_TEST

START_TEST(missing_and_unreadable_files)
{
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_load_file(&config, "/nonexistent/dir/case.yaml"), PP_ERR_IO);
  assert_contains(pp_error_message(), "/nonexistent/dir/case.yaml");
  assert_contains(pp_error_message(), strerror(ENOENT));

  char directory[] = "/tmp/pinprick_test_config_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(directory));
  ck_assert_int_eq(pp_config_load_file(&config, directory), PP_ERR_IO);
  assert_contains(pp_error_message(), directory);
  assert_contains(pp_error_message(), strerror(EISDIR));

  /* A real file: messages name it by the path it was opened with. */
  char path[256];
  snprintf(path, sizeof path, "%s/case.yaml", directory);
  FILE *file = fopen(path, "w");
  ck_assert_ptr_nonnull(file);
  fputs(V1 "needle:\n  tip_radius: 3 s\n", file);
  fclose(file);
  ck_assert_int_eq(pp_config_load_file(&config, path), PP_ERR_CONFIG);
  char expected[300];
  snprintf(expected, sizeof expected, "%s:3:15: needle.tip_radius:", path);
  assert_contains(pp_error_message(), expected);
  unlink(path);
  rmdir(directory);
  pp_config_free(&config);
}
END_TEST

START_TEST(defaults_without_a_file_lack_only_the_schema)
{
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_validate(&config), PP_ERR_CONFIG);
  assert_contains(pp_error_message(), "schema_version");
  ck_assert_int_eq(line_count(pp_error_message()), 1);
  pp_config_free(&config);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Good inputs                                                                                */
/* ------------------------------------------------------------------------------------------ */

START_TEST(default_values)
{
  pp_config config;
  init_config(&config);
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.stratum_corneum.thickness"), 15e-6, 1e-18);
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.reticular_dermis.thickness"), 1.2e-3, 1e-15);
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.tip_radius"), 4e-6, 1e-18);
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.insertion_speed"), 0.5, 1e-15);
  ck_assert_double_eq_tol(pp_config_real(&config, "treatment.puncture_density"), 2.5e6, 1e-6);
  ck_assert_double_eq_tol(pp_config_real(&config, "treatment.session_interval"), 28 * 86400.0, 1e-6);
  ck_assert_double_eq_tol(pp_config_real(&config, "output.healing_interval"), 86400.0, 1e-9);
  ck_assert_int_eq(pp_config_integer(&config, "treatment.sessions"), 4);
  ck_assert_int_eq(pp_config_integer(&config, "runtime.device"), -1);
  ck_assert_int_eq(pp_config_boolean(&config, "runtime.allow_shared_device"), 0);
  ck_assert_str_eq(pp_config_text(&config, "runtime.precision"), "double");
  ck_assert_str_eq(pp_config_text(&config, "case.name"), "microneedling-demo");
  ck_assert_str_eq(pp_config_text(&config, "case.description"), "");
  int times = -1;
  const double *time_list = pp_config_real_list(&config, "output.mechanics_times", &times);
  ck_assert_int_eq(times, 4);
  for (int i = 0; i < 4; ++i) ck_assert_double_eq_tol(time_list[i], 25e-6 * (i + 1), 1e-18);
  ck_assert_double_eq_tol(pp_config_real(&config, "mechanics.end_time"), 100e-6, 1e-18);
  ck_assert_str_eq(pp_config_text(&config, "needle.preset"), "none");
  ck_assert_str_eq(pp_config_text(&config, "needle.speed_profile"), "constant");
  ck_assert(pp_config_real(&config, "needle.cone_half_angle") == 0);  /* derived */
  ck_assert(pp_config_real(&config, "needle.shaft_diameter") == 0);   /* = base_diameter */
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.friction_coefficient"), 0.2, 1e-16);
  const pp_config_value *value = pp_config_value_of(&config, "needle.length");
  ck_assert_int_eq(value->source, PP_SOURCE_DEFAULT);
  ck_assert_int_eq(pp_config_value_of(&config, "schema_version")->is_set, 0);
  ck_assert_ptr_null(pp_config_value_of(&config, "needle.no_such_key"));
  pp_config_free(&config);
}
END_TEST

START_TEST(key_table_is_consistent)
{
  int count = 0;
  const pp_key_spec *keys = pp_config_keys(&count);
  ck_assert_int_ge(count, 25);
  pp_config config;
  init_config(&config);
  for (int i = 0; i < count; ++i) {
    ck_assert_ptr_eq(pp_config_find_key(keys[i].path), &keys[i]);
    ck_assert_msg(keys[i].meaning && strlen(keys[i].meaning) > 20, "%s: meaning too short", keys[i].path);
    /* Every default lies inside its own range. */
    const pp_config_value *value = &config.values[i];
    if (keys[i].min <= keys[i].max && keys[i].type == PP_KEY_REAL)
      ck_assert_msg(value->real >= keys[i].min && value->real <= keys[i].max, "%s: default %.17g outside range",
                    keys[i].path, value->real);
    if (keys[i].min <= keys[i].max && keys[i].type == PP_KEY_INTEGER && value->is_set)
      ck_assert_msg(value->integer >= keys[i].min && value->integer <= keys[i].max, "%s: default outside range",
                    keys[i].path);
    /* Sections are contiguous: once left, a section never comes back. */
    for (int j = 0; j + 1 < i; ++j) {
      const char *dot = strrchr(keys[i].path, '.');
      if (!dot) continue;
      size_t section = (size_t)(dot - keys[i].path);
      int same_j = strncmp(keys[j].path, keys[i].path, section) == 0 && keys[j].path[section] == '.';
      int same_next = strncmp(keys[j + 1].path, keys[i].path, section) == 0 && keys[j + 1].path[section] == '.';
      ck_assert_msg(!(same_j && !same_next), "section of %s is split (at %s)", keys[i].path, keys[j + 1].path);
    }
  }
  pp_config_free(&config);
}
END_TEST

START_TEST(units_in_a_file)
{
  const char *text = V1
    "needle:\n"
    "  length: 0.08 cm\n"
    "  tip_radius: 0.004 mm\n"
    "  insertion_speed: 50 cm/s\n"
    "skin:\n"
    "  density: 1.05 g/cm3\n"
    "  viable_epidermis:\n"
    "    thickness: 70 \xc2\xb5m\n"
    "treatment:\n"
    "  session_interval: 3 weeks\n"
    "  puncture_density: 2500000\n" /* bare number: already in SI (m-2) */
    "output:\n"
    "  healing_interval: 12 h\n"
    "  mechanics_times: [0.25 ms, 500 us, 0.001 s]\n"
    "runtime:\n"
    "  precision: Float\n"
    "  kernel_profiling: true\n"
    "case:\n"
    "  name: forearm_test\n"
    "  description: 'Needle test: 0.8 mm'\n"
    "mechanics:\n"
    "  end_time: 1 ms\n" /* the last output time is 1 ms */
    "needle.tilt: 10 degree\n"
    "needle.cone_half_angle: 0.25 rad\n";
  pp_config config;
  init_config(&config);
  pp_err err = pp_config_load_text(&config, "units.yaml", text);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(pp_config_validate(&config), PP_OK);
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.length"), 0.8e-3, 1e-15);
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.tip_radius"), 4e-6, 1e-18);
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.insertion_speed"), 0.5, 1e-15);
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.density"), 1050.0, 1e-9);
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.viable_epidermis.thickness"), 70e-6, 1e-18);
  ck_assert_double_eq_tol(pp_config_real(&config, "treatment.session_interval"), 21 * 86400.0, 1e-6);
  ck_assert_double_eq_tol(pp_config_real(&config, "treatment.puncture_density"), 2.5e6, 1e-6);
  ck_assert_double_eq_tol(pp_config_real(&config, "output.healing_interval"), 43200.0, 1e-9);
  int count = 0;
  const double *times = pp_config_real_list(&config, "output.mechanics_times", &count);
  ck_assert_int_eq(count, 3);
  ck_assert_double_eq_tol(times[0], 2.5e-4, 1e-18);
  ck_assert_double_eq_tol(times[1], 5e-4, 1e-18);
  ck_assert_double_eq_tol(times[2], 1e-3, 1e-18);
  ck_assert_str_eq(pp_config_text(&config, "runtime.precision"), "float"); /* the table's spelling */
  ck_assert_int_eq(pp_config_boolean(&config, "runtime.kernel_profiling"), 1);
  ck_assert_str_eq(pp_config_text(&config, "case.description"), "Needle test: 0.8 mm");
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.tilt"), 10 * M_PI / 180, 1e-15);
  ck_assert_double_eq_tol(pp_config_real(&config, "needle.cone_half_angle"), 0.25, 1e-15);

  /* Provenance: file, line and column of the value. */
  const pp_config_value *value = pp_config_value_of(&config, "skin.density");
  ck_assert_int_eq(value->source, PP_SOURCE_FILE);
  ck_assert_str_eq(value->origin, "units.yaml");
  ck_assert_int_eq(value->line, 7);
  ck_assert_int_eq(value->column, 12);
  ck_assert_str_eq(value->text, "1.05 g/cm3");
  /* Keys the file does not give keep their defaults. */
  ck_assert_int_eq(pp_config_value_of(&config, "needle.base_diameter")->source, PP_SOURCE_DEFAULT);
  pp_config_free(&config);
}
END_TEST

/* The physics hash follows physics values in SI (units do not matter), ignores runtime and
 * output keys, and changes with any physics key. */
START_TEST(physics_hash_tracks_physics_only)
{
  pp_config a, b;
  char hash_a[17], hash_b[17];
  init_config(&a);
  init_config(&b);
  ck_assert_int_eq(pp_config_load_text(&a, "a.yaml", V1 "needle:\n  length: 1.2 mm\n"), PP_OK);
  ck_assert_int_eq(pp_config_load_text(&b, "b.yaml", V1 "needle:\n  length: 1200 um\n"), PP_OK);
  pp_config_physics_hash(&a, hash_a);
  pp_config_physics_hash(&b, hash_b);
  ck_assert_str_eq(hash_a, hash_b);
  ck_assert_int_eq((int)strlen(hash_a), 16);
  ck_assert_int_eq(pp_config_apply_set(&b, "runtime.precision=float"), PP_OK);
  ck_assert_int_eq(pp_config_apply_set(&b, "output.healing_interval=2 d"), PP_OK);
  pp_config_physics_hash(&b, hash_b);
  ck_assert_str_eq(hash_a, hash_b);
  ck_assert_int_eq(pp_config_apply_set(&b, "mesh.refine_x=[300 um]"), PP_OK);
  pp_config_physics_hash(&b, hash_b);
  ck_assert_str_ne(hash_a, hash_b);
  pp_config_free(&b);
  init_config(&b);
  ck_assert_int_eq(pp_config_load_text(&b, "b.yaml", V1 "needle:\n  length: 1.2 mm\n  tip_radius: 5 um\n"), PP_OK);
  pp_config_physics_hash(&b, hash_b);
  ck_assert_str_ne(hash_a, hash_b);
  pp_config_free(&a);
  pp_config_free(&b);
}
END_TEST

START_TEST(set_overrides_with_provenance)
{
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_load_text(&config, "case.yaml", V1 "needle:\n  length: 1.2 mm\n"), PP_OK);
  ck_assert_int_eq(pp_config_value_of(&config, "needle.length")->line, 3);
  ck_assert_int_eq(pp_config_apply_set(&config, "needle.length=1.5 mm"), PP_OK);
  ck_assert_int_eq(pp_config_apply_set(&config, " treatment.sessions = 6 "), PP_OK);
  ck_assert_int_eq(pp_config_apply_set(&config, "output.mechanics_times=[0.5 ms, 1 ms]"), PP_OK);
  ck_assert_int_eq(pp_config_apply_set(&config, "case.description=Needle test: 1.5 mm, # not a comment"), PP_OK);
  ck_assert_int_eq(pp_config_apply_set(&config, "runtime.allow_shared_device=true"), PP_OK);

  ck_assert_double_eq_tol(pp_config_real(&config, "needle.length"), 1.5e-3, 1e-15);
  const pp_config_value *value = pp_config_value_of(&config, "needle.length");
  ck_assert_int_eq(value->source, PP_SOURCE_SET);
  ck_assert_str_eq(value->origin, "--set");
  ck_assert_int_eq(value->line, 0);
  ck_assert_int_eq(pp_config_integer(&config, "treatment.sessions"), 6);
  int count = 0;
  pp_config_real_list(&config, "output.mechanics_times", &count);
  ck_assert_int_eq(count, 2);
  ck_assert_str_eq(pp_config_text(&config, "case.description"), "Needle test: 1.5 mm, # not a comment");
  ck_assert_int_eq(pp_config_boolean(&config, "runtime.allow_shared_device"), 1);

  /* Provenance comments in the effective config. */
  char *yaml = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&yaml, &size);
  ck_assert_int_eq(pp_config_write_yaml(&config, out, 1), PP_OK);
  fclose(out);
  assert_contains(yaml, "length: 1.5 mm");
  assert_contains(yaml, "# --set");
  assert_contains(yaml, "# default");
  assert_contains(yaml, "schema_version: 1");
  assert_contains(yaml, "# file case.yaml:1");
  free(yaml);
  pp_config_free(&config);
}
END_TEST

START_TEST(set_errors_name_set_and_the_key)
{
  static const struct {
    const char *assignment, *fragment;
  } bad_sets[] = {
    {"needle.length=3 s", "--set: needle.length: expected a length (m) between 0.1 mm and 5 mm, found '3 s' (a time)"},
    {"needle.lenght=2 mm", "--set: needle.lenght: expected a known key, found an unknown one; did you mean 'needle.length'?"},
    {"needle.length", "--set: expected key.path=value, found 'needle.length' (no '=')"},
    {"=3", "--set: expected key.path=value"},
    {"needle=3 mm", "--set: needle: expected a key, found a section"},
    {"treatment.sessions=many", "--set: treatment.sessions: expected an integer between 1 and 20, found 'many'"},
    {"runtime.precision=half", "--set: runtime.precision: expected one of: double, float, found 'half'"},
    {"output.mechanics_times=[1 ms", "--set: output.mechanics_times:"},
    {"output.mechanics_times=[1 ms, 2 kg]", "--set: output.mechanics_times[2]:"},
    {"needle.length=", "--set: needle.length: expected a length (m) between 0.1 mm and 5 mm, found nothing"},
    {"schema_version=2", "--set: schema_version: expected 1, found 2"},
  };
  pp_config config;
  init_config(&config);
  for (size_t i = 0; i < sizeof bad_sets / sizeof bad_sets[0]; ++i) {
    pp_err err = pp_config_apply_set(&config, bad_sets[i].assignment);
    ck_assert_msg(err == PP_ERR_CONFIG, "--set %s: code %d", bad_sets[i].assignment, err);
    assert_contains(pp_error_message(), bad_sets[i].fragment);
  }
  /* Nothing was changed by the failed overrides. */
  ck_assert_int_eq(pp_config_value_of(&config, "needle.length")->source, PP_SOURCE_DEFAULT);
  pp_config_free(&config);
}
END_TEST

START_TEST(demo_case_loads_and_equals_the_defaults)
{
  pp_config defaults, demo;
  init_config(&defaults);
  init_config(&demo);
  pp_err err = pp_config_load_text(&demo, "demo_case.yaml", pp_demo_case_yaml);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(pp_config_validate(&demo), PP_OK);
  assert_same_values(&defaults, &demo, 1);
  ck_assert_int_eq(pp_config_integer(&demo, "schema_version"), PP_CONFIG_SCHEMA_VERSION);
  /* Every key is written in the demo case (it documents them all). */
  int count = 0;
  const pp_key_spec *keys = pp_config_keys(&count);
  for (int i = 0; i < count; ++i)
    ck_assert_msg(demo.values[i].source == PP_SOURCE_FILE, "%s missing from demo_case.yaml", keys[i].path);

  /* The file in the source tree is the one that was embedded. */
  const char *source_dir = getenv("PINPRICK_SOURCE_DIR");
  if (source_dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/host/demo_case.yaml", source_dir);
    pp_config from_file;
    init_config(&from_file);
    ck_assert_msg(pp_config_load_file(&from_file, path) == PP_OK, "%s", pp_error_message());
    assert_same_values(&demo, &from_file, 0);
    pp_config_free(&from_file);
  }
  pp_config_free(&defaults);
  pp_config_free(&demo);
}
END_TEST

/* Writes config as YAML (no provenance) and loads it into a fresh config. */
static void write_and_reload(const pp_config *config, pp_config *reloaded)
{
  char *yaml = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&yaml, &size);
  ck_assert_int_eq(pp_config_write_yaml(config, out, 0), PP_OK);
  fclose(out);
  init_config(reloaded);
  pp_err err = pp_config_load_text(reloaded, "written.yaml", yaml);
  ck_assert_msg(err == PP_OK, "%s\nin:\n%s", pp_error_message(), yaml);
  ck_assert_msg(strchr(yaml, '#') == NULL, "no comments expected without provenance:\n%s", yaml);
  free(yaml);
}

START_TEST(write_yaml_round_trips)
{
  pp_config defaults, reloaded;
  init_config(&defaults);
  write_and_reload(&defaults, &reloaded);
  assert_same_values(&defaults, &reloaded, 1);
  ck_assert_int_eq(pp_config_integer(&reloaded, "schema_version"), 1);
  pp_config_free(&reloaded);

  /* Awkward values: many digits, units that do not divide evenly, quotes in strings. */
  const char *sets[] = {"needle.tip_radius=3.3333333333333333 um", "treatment.session_interval=1.2345 week",
                        "skin.density=1.0123456789 g/cm3", "needle.insertion_speed=0.1 mm/ms",
                        "output.mechanics_times=[0.1 ms, 0.3333 ms, 1e-3 s]", "case.description=say \"hi\"\\ \n ok",
                        "case.name=yes", "output.healing_interval=7 min"};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; ++i)
    ck_assert_msg(pp_config_apply_set(&defaults, sets[i]) == PP_OK, "%s: %s", sets[i], pp_error_message());
  write_and_reload(&defaults, &reloaded);
  assert_same_values(&defaults, &reloaded, 1);
  pp_config_free(&reloaded);
  pp_config_free(&defaults);
}
END_TEST

START_TEST(write_yaml_uses_display_units)
{
  pp_config config;
  init_config(&config);
  char *yaml = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&yaml, &size);
  ck_assert_int_eq(pp_config_write_yaml(&config, out, 0), PP_OK);
  fclose(out);
  assert_contains(yaml, "skin:\n  stratum_corneum:\n    thickness: 15 um\n");
  assert_contains(yaml, "  papillary_dermis:\n    thickness: 300 um\n");
  assert_contains(yaml, "  puncture_density: 250 cm-2\n");
  assert_contains(yaml, "  session_interval: 28 d\n");
  assert_contains(yaml, "  mechanics_times: [25 us, 50 us, 75 us, 100 us]\n");
  assert_contains(yaml, "  end_time: 100 us\n");
  assert_contains(yaml, "  cone_half_angle: 0 degree\n");
  assert_contains(yaml, "  tilt: 0 degree\n");
  assert_contains(yaml, "  allow_shared_device: false\n");
  free(yaml);
  pp_config_free(&config);
}
END_TEST

START_TEST(explain_known_section_and_unknown_keys)
{
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("needle.tip_radius", out), PP_OK);
  fclose(out);
  assert_contains(text, "needle.tip_radius\n");
  assert_contains(text, "Kalluri 2011");
  assert_contains(text, "default: 4 um");
  assert_contains(text, "range:   0.5 um to 100 um");
  assert_contains(text, "length");
  free(text);

  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("runtime.precision", out), PP_OK);
  fclose(out);
  assert_contains(text, "choices: double, float");
  free(text);

  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("needle", out), PP_OK);
  fclose(out);
  assert_contains(text, "needle.length\n");
  assert_contains(text, "needle.insertion_speed\n");
  free(text);

  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("needle.tip_radus", out), PP_ERR_USAGE);
  fclose(out);
  ck_assert_int_eq((int)size, 0);
  assert_contains(pp_error_message(), "unknown key 'needle.tip_radus'");
  assert_contains(pp_error_message(), "did you mean 'needle.tip_radius'?");
  free(text);

  ck_assert_int_eq(pp_config_explain("zzzzzzzzzz", stdout), PP_ERR_USAGE);
  assert_contains(pp_error_message(), "pinprick config");
}
END_TEST

START_TEST(reference_table)
{
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  pp_config_write_reference(out);
  fclose(out);
  assert_contains(text, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
  int count = 0;
  const pp_key_spec *keys = pp_config_keys(&count);
  for (int i = 0; i < count; ++i) {
    char cell[128];
    snprintf(cell, sizeof cell, "| `%s` |", keys[i].path);
    assert_contains(text, cell);
  }
  assert_contains(text, "| `needle.tip_radius` | real (length) | `4 um` | 0.5 um to 100 um |");
  assert_contains(text, "| double, float |");
  /* The key table, then after a blank line the presets' values as written in their files. */
  const char *presets = strstr(text, "\n\n");
  ck_assert_ptr_nonnull(presets);
  char *keys_part = strndup(text, (size_t)(presets - text));
  ck_assert_int_eq(line_count(keys_part), count + 2);
  free(keys_part);
  assert_contains(presets, "| key | face | forearm | back |\n|---|---|---|---|\n");
  assert_contains(presets, "| `skin.reticular_dermis.thickness` | `800 um` | `1200 um` | `2.5 mm` |");
  assert_contains(presets, "| `skin.stratum_corneum.thickness` | `15 um` | `18 um` | `11 um` |");
  /* Skin presets set no needle key; the needle presets have their own table after them. */
  const char *needle_presets = strstr(presets, "\nValues the needle presets set");
  ck_assert_ptr_nonnull(needle_presets);
  char *skin_part = strndup(presets, (size_t)(needle_presets - presets));
  ck_assert_ptr_null(strstr(skin_part, "`needle."));
  free(skin_part);
  assert_contains(needle_presets, "| key | dermaroller | pen | polymer |\n|---|---|---|---|\n");
  assert_contains(needle_presets, "| `needle.length` | `770 um` | `2.5 mm` | `600 um` |");
  assert_contains(needle_presets, "| `needle.insertion_speed` | (default) | `0.5 m/s` | (default) |");
  ck_assert_ptr_null(strstr(needle_presets, "`skin."));
  free(text);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Presets                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static char *effective_yaml(const pp_config *config)
{
  char *yaml = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&yaml, &size);
  ck_assert_int_eq(pp_config_write_yaml(config, out, 1), PP_OK);
  fclose(out);
  return yaml;
}

/* Every embedded preset reads without a problem (an unknown or invalid key in a preset fails
 * here), sets every skin key, validates, and is the file in meshes/presets/. */
START_TEST(each_preset_loads_and_validates)
{
  int preset_count = 0;
  const pp_config_preset *presets = pp_config_presets(&preset_count);
  ck_assert_int_eq(preset_count, 3);
  /* The preset key offers exactly these, after "none". */
  const pp_key_spec *spec = pp_config_find_key("preset");
  ck_assert_ptr_nonnull(spec);
  char choices[128] = "none";
  for (int p = 0; p < preset_count; ++p) {
    strcat(choices, "|");
    strcat(choices, presets[p].name);
  }
  ck_assert_str_eq(spec->choices, choices);
  ck_assert_str_eq(spec->default_text, "none");

  int key_count = 0;
  const pp_key_spec *keys = pp_config_keys(&key_count);
  for (int p = 0; p < preset_count; ++p) {
    pp_config config;
    init_config(&config);
    char set[64];
    snprintf(set, sizeof set, "preset=%s", presets[p].name);
    pp_err err = pp_config_apply_set(&config, set);
    ck_assert_msg(err == PP_OK, "preset %s: %s", presets[p].name, pp_error_message());
    ck_assert_int_eq(pp_config_load_text(&config, "case.yaml", V1), PP_OK);
    err = pp_config_validate(&config);
    ck_assert_msg(err == PP_OK, "preset %s does not validate: %s", presets[p].name, pp_error_message());
    for (int i = 0; i < key_count; ++i) {
      const pp_config_value *value = &config.values[i];
      if (strncmp(keys[i].path, "skin.", 5) == 0) {
        ck_assert_msg(value->source == PP_SOURCE_PRESET, "preset %s does not set %s", presets[p].name, keys[i].path);
        ck_assert_str_eq(value->origin, presets[p].name);
        ck_assert_int_gt(value->line, 0);
      } else if (strcmp(keys[i].path, "preset") != 0 && strcmp(keys[i].path, "schema_version") != 0) {
        ck_assert_msg(value->source == PP_SOURCE_DEFAULT, "preset %s sets %s", presets[p].name, keys[i].path);
      }
    }
    char *yaml = effective_yaml(&config);
    char provenance[128];
    snprintf(provenance, sizeof provenance, "# preset %s (%s:", presets[p].name, presets[p].source_path);
    assert_contains(yaml, provenance);
    free(yaml);

    /* The embedded text is the source file. */
    const char *source_dir = getenv("PINPRICK_SOURCE_DIR");
    if (source_dir) {
      char path[1024];
      snprintf(path, sizeof path, "%s/%s", source_dir, presets[p].source_path);
      FILE *file = fopen(path, "rb");
      ck_assert_msg(file != NULL, "cannot open %s", path);
      static char text[1 << 16];
      size_t length = fread(text, 1, sizeof text - 1, file);
      fclose(file);
      text[length] = '\0';
      ck_assert_msg(strcmp(text, presets[p].text) == 0, "%s differs from the embedded preset", path);
    }
    pp_config_free(&config);
  }
}
END_TEST

START_TEST(preset_values_are_the_sites)
{
  static const struct {
    const char *preset, *key;
    double value;
  } expected[] = {
    {"forearm", "skin.stratum_corneum.thickness", 18e-6}, /* Sandby-Moller 2003 */
    {"forearm", "skin.viable_epidermis.thickness", 57e-6},
    {"back", "skin.stratum_corneum.thickness", 11e-6},
    {"back", "skin.reticular_dermis.thickness", 2.5e-3}, /* PHYSICS.md 1.1: 2.5-3 mm */
    {"face", "skin.reticular_dermis.thickness", 0.8e-3},
    {"face", "skin.papillary_dermis.ogden_alpha", 12},
    {"back", "skin.reticular_dermis.shear_modulus", 0.1e6},
    {"forearm", "skin.hypodermis.shear_modulus", 1e3},
  };
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; ++i) {
    pp_config config;
    init_config(&config);
    char set[64];
    snprintf(set, sizeof set, "preset=%s", expected[i].preset);
    ck_assert_int_eq(pp_config_apply_set(&config, set), PP_OK);
    double value = pp_config_real(&config, expected[i].key);
    ck_assert_msg(fabs(value - expected[i].value) <= 1e-12 * fabs(expected[i].value), "%s %s: %.17g",
                  expected[i].preset, expected[i].key, value);
    pp_config_free(&config);
  }
}
END_TEST

/* A key in the file wins over the preset, whether written before or after `preset:`; the
 * preset's other values carry its provenance; keys the preset does not set stay defaults. */
START_TEST(file_keys_win_over_the_preset_in_any_order)
{
  static const char *const texts[] = {
    V1 "preset: back\nskin:\n  reticular_dermis:\n    thickness: 2 mm\n",
    V1 "skin:\n  reticular_dermis:\n    thickness: 2 mm\npreset: back\n",
  };
  static const int key_lines[] = {5, 4};
  for (int t = 0; t < 2; ++t) {
    pp_config config;
    init_config(&config);
    pp_err err = pp_config_load_text(&config, "site.yaml", texts[t]);
    ck_assert_msg(err == PP_OK, "%s", pp_error_message());
    ck_assert_int_eq(pp_config_validate(&config), PP_OK);
    ck_assert_str_eq(pp_config_text(&config, "preset"), "back");
    const pp_config_value *thickness = pp_config_value_of(&config, "skin.reticular_dermis.thickness");
    ck_assert_double_eq_tol(thickness->real, 2e-3, 1e-15);
    ck_assert_int_eq(thickness->source, PP_SOURCE_FILE);
    ck_assert_int_eq(thickness->line, key_lines[t]);
    const pp_config_value *corneum = pp_config_value_of(&config, "skin.stratum_corneum.thickness");
    ck_assert_double_eq_tol(corneum->real, 11e-6, 1e-18);
    ck_assert_int_eq(corneum->source, PP_SOURCE_PRESET);
    ck_assert_str_eq(corneum->origin, "back");
    ck_assert_int_eq(pp_config_value_of(&config, "needle.length")->source, PP_SOURCE_DEFAULT);

    char *yaml = effective_yaml(&config);
    assert_contains(yaml, "thickness: 2000 um");
    assert_contains(yaml, "# file site.yaml:");
    assert_contains(yaml, "thickness: 11 um");
    assert_contains(yaml, "# preset back (meshes/presets/back.yaml:");
    assert_contains(yaml, "preset: back");
    free(yaml);
    pp_config_free(&config);
  }
}
END_TEST

/* --set wins over the preset; --set preset=... after a file keeps the file's keys and swaps
 * the preset's values (what the old preset set and the new one does not goes back to its
 * default); preset=none removes them. */
START_TEST(set_overrides_the_preset_and_can_switch_it)
{
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_load_text(&config, "site.yaml",
                                       V1 "preset: back\nskin:\n  stratum_corneum:\n    thickness: 20 um\n"),
                   PP_OK);
  ck_assert_int_eq(pp_config_apply_set(&config, "skin.hypodermis.thickness=4 mm"), PP_OK);
  ck_assert_int_eq(pp_config_value_of(&config, "skin.hypodermis.thickness")->source, PP_SOURCE_SET);
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.hypodermis.thickness"), 4e-3, 1e-15);

  ck_assert_int_eq(pp_config_apply_set(&config, "preset=face"), PP_OK);
  ck_assert_int_eq(pp_config_validate(&config), PP_OK);
  const pp_config_value *reticular = pp_config_value_of(&config, "skin.reticular_dermis.thickness");
  ck_assert_double_eq_tol(reticular->real, 0.8e-3, 1e-15);
  ck_assert_int_eq(reticular->source, PP_SOURCE_PRESET);
  ck_assert_str_eq(reticular->origin, "face");
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.stratum_corneum.thickness"), 20e-6, 1e-18);
  ck_assert_int_eq(pp_config_value_of(&config, "skin.stratum_corneum.thickness")->source, PP_SOURCE_FILE);
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.hypodermis.thickness"), 4e-3, 1e-15);
  ck_assert_int_eq(pp_config_value_of(&config, "preset")->source, PP_SOURCE_SET);

  /* A later --set of a key the preset sets wins too. */
  ck_assert_int_eq(pp_config_apply_set(&config, "skin.reticular_dermis.thickness=1.5 mm"), PP_OK);
  ck_assert_int_eq(pp_config_value_of(&config, "skin.reticular_dermis.thickness")->source, PP_SOURCE_SET);

  ck_assert_int_eq(pp_config_apply_set(&config, "preset=none"), PP_OK);
  const pp_config_value *papillary = pp_config_value_of(&config, "skin.papillary_dermis.thickness");
  ck_assert_int_eq(papillary->source, PP_SOURCE_DEFAULT);
  ck_assert_double_eq_tol(papillary->real, 300e-6, 1e-18);
  ck_assert_double_eq_tol(pp_config_real(&config, "skin.reticular_dermis.thickness"), 1.5e-3, 1e-15);

  /* An unknown preset by --set names the presets and changes nothing. */
  ck_assert_int_eq(pp_config_apply_set(&config, "preset=leg"), PP_ERR_CONFIG);
  assert_contains(pp_error_message(), "--set: preset: expected one of: none, face, forearm, back, found 'leg'");
  ck_assert_str_eq(pp_config_text(&config, "preset"), "none");
  pp_config_free(&config);
}
END_TEST

START_TEST(failed_load_with_a_preset_changes_nothing)
{
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_load_text(&config, "half.yaml", V1 "preset: back\nneedle:\n  length: 3 s\n"),
                   PP_ERR_CONFIG);
  ck_assert_int_eq(pp_config_value_of(&config, "skin.reticular_dermis.thickness")->source, PP_SOURCE_DEFAULT);
  ck_assert_str_eq(pp_config_text(&config, "preset"), "none");
  pp_config_free(&config);
}
END_TEST

/* A problem with a value that came from a preset is placed on the preset. */
START_TEST(validation_names_the_preset)
{
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_load_text(&config, "deep.yaml",
                                       V1 "preset: face\nneedle:\n  length: 5 mm\n  insertion_depth: 4.5 mm\n"),
                   PP_OK);
  ck_assert_int_eq(pp_config_validate(&config), PP_ERR_CONFIG);
  assert_contains(pp_error_message(), "deep.yaml:5:");
  assert_contains(pp_error_message(), "total skin thickness");
  pp_config_free(&config);
}
END_TEST

START_TEST(physics_hash_follows_the_preset)
{
  pp_config none, back, face;
  init_config(&none);
  init_config(&back);
  init_config(&face);
  ck_assert_int_eq(pp_config_apply_set(&back, "preset=back"), PP_OK);
  ck_assert_int_eq(pp_config_apply_set(&face, "preset=face"), PP_OK);
  char hash_none[17], hash_back[17], hash_face[17];
  pp_config_physics_hash(&none, hash_none);
  pp_config_physics_hash(&back, hash_back);
  pp_config_physics_hash(&face, hash_face);
  ck_assert_str_ne(hash_none, hash_back);
  ck_assert_str_ne(hash_none, hash_face);
  ck_assert_str_ne(hash_back, hash_face);
  /* The hash follows values, not names: back with every value overridden to the defaults is none. */
  pp_config_free(&back);
  init_config(&back);
  ck_assert_int_eq(pp_config_load_text(&back, "all.yaml", pp_demo_case_yaml), PP_OK);
  pp_log_init(0, PP_LOG_ERROR); /* this preset changes nothing on purpose: no warning in the test log */
  ck_assert_int_eq(pp_config_apply_set(&back, "preset=back"), PP_OK);
  pp_log_init(0, PP_LOG_INFO);
  pp_config_physics_hash(&back, hash_back);
  ck_assert_str_eq(hash_none, hash_back);
  pp_config_free(&none);
  pp_config_free(&back);
  pp_config_free(&face);
}
END_TEST

START_TEST(explain_shows_each_presets_value)
{
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("skin.reticular_dermis.thickness", out), PP_OK);
  fclose(out);
  assert_contains(text, "default: 1200 um\n");
  assert_contains(text, "preset face:     800 um (meshes/presets/face.yaml:");
  assert_contains(text, "preset forearm:  1200 um (meshes/presets/forearm.yaml:");
  assert_contains(text, "preset back:     2.5 mm (meshes/presets/back.yaml:");
  free(text);

  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("skin.papillary_dermis.shear_modulus", out), PP_OK);
  fclose(out);
  assert_contains(text, "Shergold/Fleck/Abaqus convention"); /* PHYSICS.md 2.2: the convention is stated */
  assert_contains(text, "default: 0.1 MPa\n");
  assert_contains(text, "preset back:     0.1 MPa");
  free(text);

  /* Keys no preset sets show none. */
  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("needle.insertion_depth", out), PP_OK);
  fclose(out);
  ck_assert_ptr_null(strstr(text, "preset "));
  free(text);

  /* Needle keys show each needle preset's value, as written in host/needle.c. */
  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("needle.length", out), PP_OK);
  fclose(out);
  assert_contains(text, "needle.preset dermaroller: 770 um (host/needle.c)\n");
  assert_contains(text, "needle.preset pen:         2.5 mm (host/needle.c)\n");
  assert_contains(text, "needle.preset polymer:     600 um (host/needle.c)\n");
  ck_assert_ptr_null(strstr(text, "  preset "));
  free(text);

  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("needle.preset", out), PP_OK);
  fclose(out);
  assert_contains(text, "choices: none, dermaroller, pen, polymer");
  assert_contains(text, "sources: host/needle.c");
  free(text);

  out = open_memstream(&text, &size);
  ck_assert_int_eq(pp_config_explain("preset", out), PP_OK);
  fclose(out);
  assert_contains(text, "choices: none, face, forearm, back");
  assert_contains(text, "meshes/presets/forearm.yaml");
  free(text);
}
END_TEST

/* Every needle preset reads (a wrong unit or range in host/needle.c fails here), validates, sets
 * only needle.* keys, with its provenance, and is a choice of needle.preset. */
START_TEST(each_needle_preset_loads_and_validates)
{
  int preset_count = 0;
  const pp_needle_preset *presets = pp_needle_presets(&preset_count);
  ck_assert_int_eq(preset_count, 3);
  const pp_key_spec *spec = pp_config_find_key("needle.preset");
  ck_assert_ptr_nonnull(spec);
  char choices[128] = "none";
  int skin_count = 0;
  const pp_config_preset *skin = pp_config_presets(&skin_count);
  for (int p = 0; p < preset_count; ++p) {
    strcat(choices, "|");
    strcat(choices, presets[p].name);
    /* A preset value's origin is its preset's name: the names must tell skin and needle apart. */
    for (int q = 0; q < skin_count; ++q) ck_assert_str_ne(skin[q].name, presets[p].name);
  }
  ck_assert_str_eq(spec->choices, choices);
  ck_assert_ptr_null(pp_needle_find_preset("none"));

  int key_count = 0;
  const pp_key_spec *keys = pp_config_keys(&key_count);
  for (int p = 0; p < preset_count; ++p) {
    pp_config config;
    init_config(&config);
    char set[64];
    snprintf(set, sizeof set, "needle.preset=%s", presets[p].name);
    pp_err err = pp_config_apply_set(&config, set);
    ck_assert_msg(err == PP_OK, "needle preset %s: %s", presets[p].name, pp_error_message());
    ck_assert_int_eq(pp_config_load_text(&config, "case.yaml", V1), PP_OK);
    err = pp_config_validate(&config);
    ck_assert_msg(err == PP_OK, "needle preset %s does not validate: %s", presets[p].name, pp_error_message());
    int preset_keys = 0;
    for (int i = 0; i < key_count; ++i) {
      const pp_config_value *value = &config.values[i];
      if (value->source != PP_SOURCE_PRESET) continue;
      ++preset_keys;
      ck_assert_msg(strncmp(keys[i].path, "needle.", 7) == 0, "needle preset %s sets %s", presets[p].name,
                    keys[i].path);
      ck_assert_str_eq(value->origin, presets[p].name);
    }
    ck_assert_int_eq(preset_keys, presets[p].value_count);
    char *yaml = effective_yaml(&config);
    char provenance[128];
    snprintf(provenance, sizeof provenance, "# needle.preset %s (host/needle.c)", presets[p].name);
    assert_contains(yaml, provenance);
    free(yaml);
    pp_config_free(&config);
  }
}
END_TEST

/* The two preset keys govern disjoint keys: choosing, switching or clearing one never touches
 * what the other set, in a file in either order or by --set; the file's needle keys win. */
START_TEST(needle_and_skin_presets_are_independent)
{
  static const char *const texts[] = {
    V1 "preset: back\nneedle:\n  preset: pen\n  length: 2 mm\n",
    V1 "needle:\n  length: 2 mm\n  preset: pen\npreset: back\n",
  };
  for (int t = 0; t < 2; ++t) {
    pp_config config;
    init_config(&config);
    pp_err err = pp_config_load_text(&config, "both.yaml", texts[t]);
    ck_assert_msg(err == PP_OK, "%s", pp_error_message());
    ck_assert_int_eq(pp_config_validate(&config), PP_OK);
    ck_assert_double_eq_tol(pp_config_real(&config, "needle.length"), 2e-3, 1e-15); /* the file wins */
    ck_assert_int_eq(pp_config_value_of(&config, "needle.length")->source, PP_SOURCE_FILE);
    ck_assert_double_eq_tol(pp_config_real(&config, "needle.base_diameter"), 250e-6, 1e-18);
    ck_assert_str_eq(pp_config_value_of(&config, "needle.base_diameter")->origin, "pen");
    ck_assert_str_eq(pp_config_text(&config, "needle.speed_profile"), "half_sine");
    ck_assert_double_eq_tol(pp_config_real(&config, "needle.cone_half_angle"), 10 * M_PI / 180, 1e-15);
    ck_assert_double_eq_tol(pp_config_real(&config, "skin.stratum_corneum.thickness"), 11e-6, 1e-18);
    ck_assert_str_eq(pp_config_value_of(&config, "skin.stratum_corneum.thickness")->origin, "back");

    /* Switching the skin preset keeps the needle preset's values, and the other way round. */
    ck_assert_int_eq(pp_config_apply_set(&config, "preset=face"), PP_OK);
    ck_assert_str_eq(pp_config_value_of(&config, "needle.base_diameter")->origin, "pen");
    ck_assert_int_eq(pp_config_apply_set(&config, "needle.preset=dermaroller"), PP_OK);
    ck_assert_str_eq(pp_config_value_of(&config, "skin.reticular_dermis.thickness")->origin, "face");
    ck_assert_double_eq_tol(pp_config_real(&config, "needle.base_diameter"), 140e-6, 1e-18);
    ck_assert_str_eq(pp_config_text(&config, "needle.speed_profile"), "constant");
    /* The pen's speed goes back to its default, which dermaroller does not set. */
    ck_assert_int_eq(pp_config_value_of(&config, "needle.insertion_speed")->source, PP_SOURCE_DEFAULT);
    ck_assert_double_eq_tol(pp_config_real(&config, "needle.length"), 2e-3, 1e-15);
    ck_assert_int_eq(pp_config_apply_set(&config, "needle.preset=none"), PP_OK);
    ck_assert_int_eq(pp_config_value_of(&config, "needle.base_diameter")->source, PP_SOURCE_DEFAULT);
    ck_assert_str_eq(pp_config_value_of(&config, "skin.reticular_dermis.thickness")->origin, "face");
    pp_config_free(&config);
  }
  /* An unknown needle preset by --set names the choices and changes nothing. */
  pp_config config;
  init_config(&config);
  ck_assert_int_eq(pp_config_apply_set(&config, "needle.preset=stamp"), PP_ERR_CONFIG);
  assert_contains(pp_error_message(), "--set: needle.preset: expected one of: none, dermaroller, pen, polymer");
  ck_assert_str_eq(pp_config_text(&config, "needle.preset"), "none");
  /* The hash follows the preset's values, not its name. */
  char hash_none[17], hash_pen[17];
  pp_config_physics_hash(&config, hash_none);
  ck_assert_int_eq(pp_config_apply_set(&config, "needle.preset=pen"), PP_OK);
  pp_config_physics_hash(&config, hash_pen);
  ck_assert_str_ne(hash_none, hash_pen);
  pp_config_free(&config);
}
END_TEST

static Suite *config_suite(void)
{
  Suite *suite = suite_create("config");
  TCase *bad = tcase_create("bad inputs");
  tcase_add_loop_test(bad, bad_input_is_reported_with_file_line_and_key, 0, BAD_INPUT_COUNT);
  tcase_add_test(bad, failed_load_changes_nothing);
  tcase_add_test(bad, all_problems_of_a_file_at_once);
  tcase_add_test(bad, missing_and_unreadable_files);
  tcase_add_test(bad, defaults_without_a_file_lack_only_the_schema);
  tcase_add_test(bad, set_errors_name_set_and_the_key);
  suite_add_tcase(suite, bad);

  TCase *good = tcase_create("good inputs");
  tcase_add_test(good, default_values);
  tcase_add_test(good, key_table_is_consistent);
  tcase_add_test(good, units_in_a_file);
  tcase_add_test(good, set_overrides_with_provenance);
  tcase_add_test(good, physics_hash_tracks_physics_only);
  tcase_add_test(good, demo_case_loads_and_equals_the_defaults);
  tcase_add_test(good, write_yaml_round_trips);
  tcase_add_test(good, write_yaml_uses_display_units);
  tcase_add_test(good, explain_known_section_and_unknown_keys);
  tcase_add_test(good, reference_table);
  suite_add_tcase(suite, good);

  TCase *presets = tcase_create("presets");
  tcase_add_test(presets, each_preset_loads_and_validates);
  tcase_add_test(presets, preset_values_are_the_sites);
  tcase_add_test(presets, file_keys_win_over_the_preset_in_any_order);
  tcase_add_test(presets, set_overrides_the_preset_and_can_switch_it);
  tcase_add_test(presets, failed_load_with_a_preset_changes_nothing);
  tcase_add_test(presets, validation_names_the_preset);
  tcase_add_test(presets, physics_hash_follows_the_preset);
  tcase_add_test(presets, explain_shows_each_presets_value);
  tcase_add_test(presets, each_needle_preset_loads_and_validates);
  tcase_add_test(presets, needle_and_skin_presets_are_independent);
  suite_add_tcase(suite, presets);
  return suite;
}

int main(void)
{
  SRunner *runner = srunner_create(config_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
