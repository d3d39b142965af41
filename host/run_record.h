/* run_record: the output folder and what makes it describe itself.
 *
 * An output folder holds, besides the stages' series, `config.yaml` (the resolved configuration
 * with where each value came from) and `run.json` (command line, versions, ranks, devices,
 * precision, wall time, which stages ran, status). Both are written to a temporary name and
 * renamed when complete, so a killed run never leaves a file that looks valid. A folder whose
 * run.json says "completed" is refused as an output folder unless the user passes --overwrite.
 * Rank 0 does the file work; the functions are collective so every rank sees the same result. */
#ifndef PP_RUN_RECORD_H
#define PP_RUN_RECORD_H

#include <stdio.h>

#include "config.h"
#include "error.h"
#include "runtime.h"

typedef enum { PP_STAGE_COMPLETED, PP_STAGE_NOT_IMPLEMENTED, PP_STAGE_FAILED } pp_stage_status;

typedef struct {
  const char *name;       /* "mechanics" */
  pp_stage_status status;
  const char *note;       /* one line for people */
  const char *summary_json; /* NULL, or one JSON object with the stage's figures */
} pp_stage_report;

typedef struct {
  const char *command_line;
  const pp_config *config;
  const char *device_line;     /* this rank's device (gathered to rank 0) */
  const char *precision;       /* "double" / "float" */
  const pp_stage_report *stages;
  int stage_count;
  const char *status;          /* "completed" or "failed" */
  const char *error_message;   /* when failed */
} pp_run_info;

/* Collective. Create dir (and parents) unless it holds a completed run and overwrite is 0. */
pp_err pp_output_prepare(const pp_runtime *runtime, const char *dir, int overwrite);
/* Collective. Write config.yaml and run.json into dir (atomically). */
pp_err pp_run_record_write(const pp_runtime *runtime, const char *dir, const pp_run_info *info);

/* Write path through path.tmp + rename; writer returns PP_OK or an error. */
typedef pp_err (*pp_file_writer)(FILE *out, const void *context);
pp_err pp_write_file_atomic(const char *path, pp_file_writer writer, const void *context);

/* JSON string literal of text (quotes and escapes), into out. */
void pp_json_write_string(FILE *out, const char *text);

#endif
