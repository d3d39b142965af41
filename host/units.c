/* units: "number unit" text to SI through UDUNITS-2 (see units.h). */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <udunits2.h>

struct pp_units {
  ut_system *system;
};

/* Words for the SI units the config uses, and for a few more that users may write by mistake,
 * so that a wrong-dimension message can say what the user's quantity actually is. Order
 * matters for pp_units_dimension_name's string lookup only (first match wins). */
static const struct {
  const char *si_unit;
  const char *words;
} dimension_table[] = {
  {"m", "length"},
  {"s", "time"},
  {"m/s", "velocity"},
  {"kg/m3", "density or mass concentration"},
  {"Pa", "pressure or stress"},
  {"1/s", "rate"},
  {"m-2", "number per area"},
  {"m2/s", "diffusivity"},
  {"J/m2", "energy per area"},
  {"", "dimensionless number"},
  {"kg", "mass"},
  {"K", "temperature"},
  {"N", "force"},
  {"J", "energy"},
  {"W", "power"},
  {"m2", "area"},
  {"m3", "volume"},
  {"m-3", "number per volume"},
  {"m/s2", "acceleration"},
  {"N/m", "force per length"},
  {"A", "electric current"},
  {"mol", "amount of substance"},
  {"mol/m3", "molar concentration"},
  {"rad", "angle"},
};
enum { DIMENSION_COUNT = (int)(sizeof dimension_table / sizeof dimension_table[0]) };

/* Spellings of the same SI unit that callers might pass as si_unit. */
static const struct {
  const char *alias;
  const char *canonical;
} si_aliases[] = {
  {"s-1", "1/s"},    {"1/m2", "m-2"},   {"m^-2", "m-2"},  {"kg m-3", "kg/m3"},
  {"kg/m^3", "kg/m3"}, {"m^2/s", "m2/s"}, {"J m-2", "J/m2"}, {"m s-1", "m/s"},
  {"1", ""},
};

const char *pp_units_dimension_name(const char *si_unit)
{
  if (!si_unit) return "quantity";
  for (size_t i = 0; i < sizeof si_aliases / sizeof si_aliases[0]; ++i)
    if (strcmp(si_unit, si_aliases[i].alias) == 0) si_unit = si_aliases[i].canonical;
  for (int i = 0; i < DIMENSION_COUNT; ++i)
    if (strcmp(si_unit, dimension_table[i].si_unit) == 0) return dimension_table[i].words;
  return "quantity";
}

/* "a length", "an energy per area": the article a message needs in front of a dimension. */
static const char *article_for(const char *words)
{
  return strchr("aeiouAEIOU", words[0]) ? "an" : "a";
}

pp_err pp_units_open(pp_units **units)
{
  PP_CHECK(units != NULL, PP_ERR_ARGUMENT, "pp_units_open: units is NULL");
  *units = NULL;
  /* UDUNITS prints its own diagnostics to stderr by default; we report our own instead. */
  ut_set_error_message_handler(ut_ignore);
  ut_system *system = ut_read_xml(NULL);
  if (!system) {
    const char *path = getenv("UDUNITS2_XML_PATH");
    PP_RAISE(PP_ERR_UNITS,
             "could not load the UDUNITS-2 unit database (%s; UDUNITS status %d); install the "
             "udunits2 data files or set UDUNITS2_XML_PATH to udunits2.xml",
             path ? path : "UDUNITS2_XML_PATH not set, library default path", (int)ut_get_status());
  }
  struct pp_units *created = calloc(1, sizeof *created);
  if (!created) {
    ut_free_system(system);
    PP_RAISE(PP_ERR_MEMORY, "out of memory allocating the unit system");
  }
  created->system = system;
  *units = created;
  return PP_OK;
}

void pp_units_close(pp_units *units)
{
  if (!units) return;
  ut_free_system(units->system);
  free(units);
}

/* Parse an SI unit string as given by a caller ("" = dimensionless one). NULL if unreadable. */
static ut_unit *parse_si_unit(pp_units *units, const char *si_unit)
{
  if (si_unit[0] == '\0') return ut_get_dimensionless_unit_one(units->system);
  return ut_parse(units->system, si_unit, UT_ASCII);
}

/* Copy src into dst (dst_size bytes) with both micro signs (U+00B5 and Greek U+03BC) written
 * as 'u': UDUNITS reads them too, but one spelling keeps messages and tests simple. */
static void normalize_micro_sign(const char *src, char *dst, size_t dst_size)
{
  size_t out = 0;
  for (size_t in = 0; src[in] != '\0' && out + 1 < dst_size;) {
    unsigned char c0 = (unsigned char)src[in], c1 = (unsigned char)src[in + 1];
    if ((c0 == 0xC2 && c1 == 0xB5) || (c0 == 0xCE && c1 == 0xBC)) {
      dst[out++] = 'u';
      in += 2;
    } else {
      dst[out++] = src[in++];
    }
  }
  dst[out] = '\0';
}

/* ut_are_convertible also accepts reciprocal units (it would turn "15 1/d" into 5760 s, or
 * "2 m2" into 0.5 m-2), so a same-dimension test also requires the quotient of the two units
 * to be dimensionless. */
static int same_dimension(pp_units *units, const ut_unit *a, const ut_unit *b)
{
  if (!ut_are_convertible(a, b)) return 0;
  ut_unit *quotient = ut_divide(a, b);
  if (!quotient) return 0;
  int dimensionless = ut_are_convertible(quotient, ut_get_dimensionless_unit_one(units->system));
  ut_free(quotient);
  return dimensionless;
}

/* The words for whichever known dimension unit is of, or NULL. */
static const char *dimension_of(pp_units *units, const ut_unit *unit)
{
  for (int i = 0; i < DIMENSION_COUNT; ++i) {
    ut_unit *candidate = parse_si_unit(units, dimension_table[i].si_unit);
    if (!candidate) continue;
    int convertible = same_dimension(units, unit, candidate);
    ut_free(candidate);
    if (convertible) return dimension_table[i].words;
  }
  return NULL;
}

static void write_text(char *buffer, size_t size, const char *format, ...)
  __attribute__((format(printf, 3, 4)));
static void write_text(char *buffer, size_t size, const char *format, ...)
{
  if (!buffer || size == 0) return;
  va_list args;
  va_start(args, format);
  vsnprintf(buffer, size, format, args);
  va_end(args);
}

/* Both the sentence (why) and the short "found" description are written, so that the config
 * parser can phrase its "expected ..., found ..." lines without parsing our sentence. */
pp_err pp_units_to_si_described(pp_units *units, const char *text, const char *si_unit,
                                double *value_si, char *why, size_t why_size, char *found,
                                size_t found_size)
{
  if (!units || !text || !si_unit || !value_si) {
    write_text(why, why_size, "internal error: pp_units_to_si called with a NULL argument");
    write_text(found, found_size, "nothing");
    return PP_ERR_ARGUMENT;
  }
  const char *expected_words = pp_units_dimension_name(si_unit);
  const char *expected_article = article_for(expected_words);
  char expected[160];
  if (si_unit[0])
    snprintf(expected, sizeof expected, "%s %s (%s)", expected_article, expected_words, si_unit);
  else
    snprintf(expected, sizeof expected, "a plain number");

  const char *start = text;
  while (isspace((unsigned char)*start)) ++start;
  size_t length = strlen(start);
  while (length > 0 && isspace((unsigned char)start[length - 1])) --length;
  char trimmed[256];
  if (length >= sizeof trimmed) {
    write_text(why, why_size, "'%.40s...' is too long for a quantity; %s was expected", start, expected);
    write_text(found, found_size, "'%.40s...' (too long)", start);
    return PP_ERR_UNITS;
  }
  memcpy(trimmed, start, length);
  trimmed[length] = '\0';

  if (length == 0) {
    write_text(why, why_size, "the value is empty; %s was expected", expected);
    write_text(found, found_size, "nothing");
    return PP_ERR_UNITS;
  }

  /* YAML spells infinity and NaN ".inf" and ".nan"; strtod does not read those, so name them. */
  if (strcasecmp(trimmed, ".inf") == 0 || strcasecmp(trimmed, "+.inf") == 0 ||
      strcasecmp(trimmed, "-.inf") == 0 || strcasecmp(trimmed, ".nan") == 0) {
    write_text(why, why_size, "'%s' is not a finite number; %s was expected", trimmed, expected);
    write_text(found, found_size, "'%s' (not a finite number)", trimmed);
    return PP_ERR_UNITS;
  }
  /* strtod also reads hexadecimal ("0x1p3"); nobody means that in a case file. */
  const char *digits = trimmed + (trimmed[0] == '+' || trimmed[0] == '-');
  int is_hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');

  char *after_number = NULL;
  errno = 0;
  double number = strtod(trimmed, &after_number);
  if (after_number == trimmed || is_hex) {
    write_text(why, why_size, "'%s' does not start with a number; %s was expected, e.g. '%s'",
               trimmed, expected, si_unit[0] ? "1.5 <unit>" : "0.5");
    write_text(found, found_size, "'%s' (not a number)", trimmed);
    return PP_ERR_UNITS;
  }
  if (!isfinite(number) || errno == ERANGE) {
    write_text(why, why_size, "'%s' is not a finite number a double can hold; %s was expected",
               trimmed, expected);
    write_text(found, found_size, "'%s' (not a finite number)", trimmed);
    return PP_ERR_UNITS;
  }

  const char *unit_text = after_number;
  while (isspace((unsigned char)*unit_text)) ++unit_text;
  if (*unit_text == '\0') {
    /* A bare number is already in the SI unit (documented in units.h). */
    *value_si = number;
    return PP_OK;
  }

  char unit_normalized[256];
  normalize_micro_sign(unit_text, unit_normalized, sizeof unit_normalized);
  ut_unit *given = ut_parse(units->system, unit_normalized, UT_UTF8);
  if (!given) {
    int unknown = ut_get_status() == UT_UNKNOWN;
    char hint[200] = "";
    if (unit_text[0] == '/') {
      /* UDUNITS cannot start a unit with '/': "15 /d" must be "15 1/d" or "15 d-1". */
      char number_text[64];
      snprintf(number_text, sizeof number_text, "%.*s", (int)(after_number - trimmed), trimmed);
      int letters_only = unit_text[1] != '\0';
      for (const char *c = unit_text + 1; *c; ++c)
        if (!isalpha((unsigned char)*c)) letters_only = 0;
      if (letters_only)
        snprintf(hint, sizeof hint, "; a reciprocal unit is written '%s 1%s' or '%s %s-1'", number_text,
                 unit_text, number_text, unit_text + 1);
      else
        snprintf(hint, sizeof hint, "; a reciprocal unit is written '%s 1%s'", number_text, unit_text);
    }
    write_text(why, why_size, "'%s' is not a unit UDUNITS-2 knows%s (in '%s'; %s was expected)",
               unit_text, hint, trimmed, expected);
    write_text(found, found_size, "'%s' (%s unit '%s'%s)", trimmed, unknown ? "unknown" : "unreadable",
               unit_text, hint);
    return PP_ERR_UNITS;
  }

  ut_unit *target = parse_si_unit(units, si_unit);
  if (!target) {
    ut_free(given);
    write_text(why, why_size, "internal error: SI unit '%s' is not readable by UDUNITS-2", si_unit);
    write_text(found, found_size, "'%s'", trimmed);
    return PP_ERR_ARGUMENT;
  }

  if (!same_dimension(units, given, target)) {
    const char *given_words = dimension_of(units, given);
    if (given_words) {
      write_text(why, why_size, "'%s' is %s %s, but %s was expected", trimmed, article_for(given_words),
                 given_words, expected);
      write_text(found, found_size, "'%s' (%s %s)", trimmed, article_for(given_words), given_words);
    } else {
      write_text(why, why_size, "'%s' is not %s", trimmed, expected);
      write_text(found, found_size, "'%s' (unit '%s' is not %s)", trimmed, unit_text, expected);
    }
    ut_free(given);
    ut_free(target);
    return PP_ERR_UNITS;
  }

  cv_converter *converter = ut_get_converter(given, target);
  ut_free(given);
  ut_free(target);
  if (!converter) {
    write_text(why, why_size, "UDUNITS-2 could not convert '%s' to %s", trimmed, si_unit);
    write_text(found, found_size, "'%s' (not convertible)", trimmed);
    return PP_ERR_UNITS;
  }
  double converted = cv_convert_double(converter, number);
  cv_free(converter);
  if (!isfinite(converted)) {
    write_text(why, why_size, "'%s' is not finite once converted to %s", trimmed, si_unit);
    write_text(found, found_size, "'%s' (too large once converted to %s)", trimmed, si_unit);
    return PP_ERR_UNITS;
  }
  *value_si = converted;
  return PP_OK;
}

pp_err pp_units_to_si(pp_units *units, const char *text, const char *si_unit, double *value_si,
                      char *why, size_t why_size)
{
  return pp_units_to_si_described(units, text, si_unit, value_si, why, why_size, NULL, 0);
}

pp_err pp_units_from_si(pp_units *units, double value_si, const char *si_unit,
                        const char *display_unit, double *value_display)
{
  PP_CHECK(units && si_unit && display_unit && value_display, PP_ERR_ARGUMENT,
           "pp_units_from_si: NULL argument");
  char display_normalized[256];
  normalize_micro_sign(display_unit, display_normalized, sizeof display_normalized);
  ut_unit *from = parse_si_unit(units, si_unit);
  PP_CHECK(from != NULL, PP_ERR_UNITS, "'%s' is not a unit UDUNITS-2 can read", si_unit);
  ut_unit *to = display_normalized[0] ? ut_parse(units->system, display_normalized, UT_UTF8)
                                      : ut_get_dimensionless_unit_one(units->system);
  if (!to) {
    ut_free(from);
    PP_RAISE(PP_ERR_UNITS, "'%s' is not a unit UDUNITS-2 can read", display_unit);
  }
  cv_converter *converter = same_dimension(units, from, to) ? ut_get_converter(from, to) : NULL;
  ut_free(from);
  ut_free(to);
  PP_CHECK(converter != NULL, PP_ERR_UNITS, "cannot show a value in %s as %s: %s and %s differ in dimension",
           si_unit[0] ? si_unit : "(dimensionless)", display_unit, si_unit, display_unit);
  *value_display = cv_convert_double(converter, value_si);
  cv_free(converter);
  return PP_OK;
}
