/* units: physical quantities written with units ("60 um", "0.5 mm/s", "28 d", "17.5 ng/mL")
 * converted to SI through UDUNITS-2. A plain module: no MPI, no OpenCL. The unit database is
 * loaded once per pp_units object (Debian: /usr/share/xml/udunits/udunits2.xml; elsewhere the
 * UDUNITS2_XML_PATH environment variable or the library's built-in default). */
#ifndef PP_UNITS_H
#define PP_UNITS_H

#include <stddef.h>

#include "error.h"

typedef struct pp_units pp_units;

pp_err pp_units_open(pp_units **units);
void pp_units_close(pp_units *units);

/* Parse "number [unit]" and convert it to the SI unit si_unit ("m", "m/s", "s", "kg/m3", "Pa",
 * "1/s", "m-2", "" for dimensionless). A bare number is taken as already in si_unit; a
 * dimensionless si_unit also takes dimensionless units ("50 %" -> 0.5). "um", "µm" (U+00B5) and
 * "μm" (U+03BC) all mean micrometre. Units must have exactly the dimension of si_unit: UDUNITS
 * itself would convert reciprocals ("15 1/d" into seconds), which is refused here.
 * On failure returns PP_ERR_UNITS and writes a one-line reason into why (e.g. "'3 s' is a time,
 * but a length (m) was expected"), without touching the error record: callers (the config
 * parser) collect several reasons before raising one error. why may be NULL. */
pp_err pp_units_to_si(pp_units *units, const char *text, const char *si_unit, double *value_si,
                      char *why, size_t why_size);

/* As pp_units_to_si, and also writes into found (when not NULL) what the text is, in words, for
 * messages of the form "expected ..., found ...": "'3 s' (a time)", "'abc' (not a number)",
 * "'15 /d' (unreadable unit '/d'; a reciprocal unit is written '15 1/d' or '15 d-1')". */
pp_err pp_units_to_si_described(pp_units *units, const char *text, const char *si_unit,
                                double *value_si, char *why, size_t why_size, char *found,
                                size_t found_size);

/* Convert an SI value into display_unit (e.g. 6e-5 m -> 60 in "um"). */
pp_err pp_units_from_si(pp_units *units, double value_si, const char *si_unit,
                        const char *display_unit, double *value_display);

/* Words for the dimension of an SI unit ("length", "velocity", "time", ...), for messages. */
const char *pp_units_dimension_name(const char *si_unit);

#endif
