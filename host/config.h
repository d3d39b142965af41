/* config: the case description. One table of keys (path, type, SI unit, display unit, default,
 * range, meaning) drives the YAML parser, `pinprick config`, `pinprick explain`, `pinprick
 * check` and the README's reference, so there is one definition of every key.
 *
 * Values come from four sources, later ones overriding earlier ones: the table's default, a
 * preset, the config file, and --set key.path=value. Each value remembers where it came from
 * (file, line, column; for a preset its name and the line in its source file) for provenance
 * and messages.
 *
 * A preset (`preset: forearm`, or --set preset=forearm) is a body site's physical values,
 * embedded from meshes/presets/NAME.yaml. It replaces every value that came from a default or
 * an earlier preset, never one a file or --set gave: so keys in the file win over the preset
 * wherever `preset:` stands, and --set wins over both. Quantities are converted to SI
 * once, here; the rest of the program never sees a unit.
 *
 * A plain module: no MPI, no OpenCL. All errors of one file are reported in one go: a single
 * PP_ERR_CONFIG whose message has one line per problem, each
 *   FILE:LINE:COLUMN: KEY.PATH: expected ..., found ...
 */
#ifndef PP_CONFIG_H
#define PP_CONFIG_H

#include <stdio.h>

#include "error.h"
#include "units.h"

#define PP_CONFIG_SCHEMA_VERSION 1

typedef enum {
  PP_KEY_REAL,      /* a number, possibly with a unit; stored in SI */
  PP_KEY_INTEGER,
  PP_KEY_BOOLEAN,   /* true/false */
  PP_KEY_STRING,
  PP_KEY_CHOICE,    /* one of the '|'-separated words in choices */
  PP_KEY_REAL_LIST  /* a YAML sequence of quantities, stored in SI */
} pp_key_type;

typedef enum { PP_SOURCE_DEFAULT, PP_SOURCE_PRESET, PP_SOURCE_FILE, PP_SOURCE_SET } pp_value_source;

typedef struct {
  const char *path;          /* dotted key path, e.g. "skin.papillary_dermis.thickness" */
  pp_key_type type;
  const char *si_unit;       /* unit of the stored value ("" dimensionless, NULL non-numeric) */
  const char *display_unit;  /* unit used when printing (e.g. "um") */
  const char *default_text;  /* default as a user would write it ("300 um"); NULL = required */
  double min, max;           /* inclusive range in SI (integers too); ignored when min > max */
  const char *choices;       /* PP_KEY_CHOICE: "double|float" */
  const char *meaning;       /* one sentence, with the source of the default where there is one */
} pp_key_spec;

const pp_key_spec *pp_config_keys(int *count);
const pp_key_spec *pp_config_find_key(const char *path);

typedef struct {
  double real;        /* PP_KEY_REAL (SI) */
  long integer;       /* PP_KEY_INTEGER, PP_KEY_BOOLEAN */
  char *text;         /* PP_KEY_STRING, PP_KEY_CHOICE; also the text as written for every type */
  double *list;       /* PP_KEY_REAL_LIST (SI) */
  int list_length;
  int is_set;         /* 0 only for a required key nobody gave */
  pp_value_source source;
  char *origin;       /* file name, preset name or "--set" */
  int line, column;   /* 1-based position in origin (0 when not from a file) */
} pp_config_value;

typedef struct {
  int key_count;
  pp_config_value *values;  /* one per key, same order as pp_config_keys() */
  pp_units *units;
} pp_config;

/* Defaults for every key (required keys left unset). */
pp_err pp_config_init(pp_config *config);
void pp_config_free(pp_config *config);

/* Read YAML from a file / from text (origin names it in messages). Nested mappings give dotted
 * paths ("needle:\n  length: 1 mm" is needle.length; "needle.length: 1 mm" is the same key).
 * Anchors, aliases and a second document are refused. Every file must contain schema_version.
 * A failed load changes nothing. */
pp_err pp_config_load_file(pp_config *config, const char *path);
pp_err pp_config_load_text(pp_config *config, const char *origin, const char *text);

/* One --set override, "key.path=value". A list value is a YAML flow sequence ("[1 ms, 2 ms]");
 * every other value is taken as written (trimmed), so strings need no YAML quoting. */
pp_err pp_config_apply_set(pp_config *config, const char *assignment);
/* Required keys present, schema_version supported, cross-key checks (layer order, depth < length...). */
pp_err pp_config_validate(const pp_config *config);

/* Typed accessors (the key must exist and have that type; a wrong call is a bug and aborts). */
double pp_config_real(const pp_config *config, const char *path);
long pp_config_integer(const pp_config *config, const char *path);
int pp_config_boolean(const pp_config *config, const char *path);
const char *pp_config_text(const pp_config *config, const char *path);
const pp_config_value *pp_config_value_of(const pp_config *config, const char *path);
/* PP_KEY_REAL_LIST: the values in SI (NULL when empty) and their number in *length. */
const double *pp_config_real_list(const pp_config *config, const char *path, int *length);

/* The effective configuration as YAML with display units; with_provenance adds a comment per
 * key saying where the value came from ("# file case.yaml:12", "# default", "# --set",
 * "# preset forearm (meshes/presets/forearm.yaml:17)"). */
pp_err pp_config_write_yaml(const pp_config *config, FILE *out, int with_provenance);
/* `pinprick explain KEY`: meaning, type, unit, default, each preset's value, range. Unknown key -> PP_ERR_USAGE
 * with the closest known keys suggested. */
pp_err pp_config_explain(const char *path, FILE *out);
/* Markdown table of every key, then a table of the presets' values, for the README. */
void pp_config_write_reference(FILE *out);

/* Fingerprint of the physics keys (skin, needle, mesh, treatment, healing: not runtime, output
 * or case), as 16 hex digits: checkpoints carry it so a restart under changed physics is refused.
 * Values are hashed in SI bits, so "0.5 mm" and "500 um" give the same hash. */
void pp_config_physics_hash(const pp_config *config, char hash_text[17]);

/* The presets `preset:` can choose (not "none"), in the order of its choices. */
typedef struct {
  const char *name;         /* "forearm" */
  const char *source_path;  /* "meshes/presets/forearm.yaml", relative to the source tree */
  const char *text;         /* the embedded YAML, NUL-terminated */
} pp_config_preset;
const pp_config_preset *pp_config_presets(int *count);

/* The embedded default case (host/demo_case.yaml), NUL-terminated. */
extern const char pp_demo_case_yaml[];

#endif
