#include "run_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "version.h"

enum { DEVICE_LINE_SIZE = 512, PATH_SIZE = 4096 };

void pp_json_write_string(FILE *out, const char *text)
{
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)(text ? text : ""); *c; ++c) {
    switch (*c) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\t': fputs("\\t", out); break;
    case '\r': fputs("\\r", out); break;
    default:
      if (*c < 0x20) fprintf(out, "\\u%04x", *c);
      else fputc(*c, out);
    }
  }
  fputc('"', out);
}

pp_err pp_write_file_atomic(const char *path, pp_file_writer writer, const void *context)
{
  char temporary[PATH_SIZE];
  PP_CHECK(snprintf(temporary, sizeof temporary, "%s.tmp", path) < (int)sizeof temporary,
           PP_ERR_IO, "path too long: %s", path);
  FILE *out = fopen(temporary, "w");
  PP_CHECK(out, PP_ERR_IO, "cannot create %s: %s", temporary, strerror(errno));
  pp_err result = writer(out, context);
  int write_failed = ferror(out) || fflush(out) != 0 || fsync(fileno(out)) != 0;
  int saved_errno = errno;
  if (fclose(out) != 0) write_failed = 1;
  if (result != PP_OK || write_failed) {
    unlink(temporary);
    if (result != PP_OK) return pp_error_trace(result, __FILE__, __LINE__, __func__);
    PP_RAISE(PP_ERR_IO, "writing %s failed: %s", temporary, strerror(saved_errno));
  }
  if (rename(temporary, path) != 0) {
    saved_errno = errno;
    unlink(temporary);
    PP_RAISE(PP_ERR_IO, "cannot rename %s to %s: %s", temporary, path, strerror(saved_errno));
  }
  return PP_OK;
}

static pp_err make_directories(const char *dir)
{
  char path[PATH_SIZE];
  PP_CHECK(strlen(dir) > 0 && strlen(dir) < sizeof path, PP_ERR_IO, "invalid output folder name '%s'", dir);
  strcpy(path, dir);
  for (char *p = path + 1; *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      PP_RAISE(PP_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
    *p = '/';
  }
  if (mkdir(path, 0777) != 0 && errno != EEXIST)
    PP_RAISE(PP_ERR_IO, "cannot create output folder %s: %s", path, strerror(errno));
  struct stat info;
  PP_CHECK(stat(path, &info) == 0 && S_ISDIR(info.st_mode), PP_ERR_IO,
           "output path %s exists and is not a folder", path);
  PP_CHECK(access(path, W_OK) == 0, PP_ERR_IO, "output folder %s is not writable: %s", path, strerror(errno));
  return PP_OK;
}

/* A run is complete when run.json exists and says so. */
static int holds_completed_run(const char *dir)
{
  char path[PATH_SIZE];
  snprintf(path, sizeof path, "%s/run.json", dir);
  FILE *in = fopen(path, "r");
  if (!in) return 0;
  char buffer[8192];
  size_t length = fread(buffer, 1, sizeof buffer - 1, in);
  fclose(in);
  buffer[length] = '\0';
  return strstr(buffer, "\"status\": \"completed\"") != NULL;
}

static pp_err prepare_on_root(const char *dir, int overwrite)
{
  PP_CHECK(overwrite || !holds_completed_run(dir), PP_ERR_USAGE,
           "output folder %s already holds a completed run (%s/run.json); "
           "choose another --output or pass --overwrite", dir, dir);
  PP_CALL(make_directories(dir));
  return PP_OK;
}

pp_err pp_output_prepare(const pp_runtime *runtime, const char *dir, int overwrite)
{
  pp_err local = PP_OK;
  if (runtime->rank == 0) local = prepare_on_root(dir, overwrite);
  PP_CALL(pp_runtime_agree(runtime, local, "output folder preparation"));
  return PP_OK;
}

static pp_err write_config(FILE *out, const void *context)
{
  const pp_config *config = context;
  fputs("# Resolved configuration of this run, written by pinprick. Each value's comment says where it\n"
        "# came from (default, preset, file:line, --set). Load it with `pinprick run config.yaml`.\n", out);
  PP_CALL(pp_config_write_yaml(config, out, 1));
  return PP_OK;
}

typedef struct {
  const pp_run_info *info;
  const pp_runtime *runtime;
  const char *device_lines;  /* size * DEVICE_LINE_SIZE */
} json_context;

static const char *stage_status_name(pp_stage_status status)
{
  switch (status) {
  case PP_STAGE_COMPLETED: return "completed";
  case PP_STAGE_NOT_IMPLEMENTED: return "not implemented";
  default: return "failed";
  }
}

static pp_err write_json(FILE *out, const void *context)
{
  const json_context *c = context;
  const pp_run_info *info = c->info;
  char libraries[4096];
  pp_version_libraries(libraries, sizeof libraries);
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

  fputs("{\n  \"format\": \"pinprick run record\",\n  \"format_version\": 1,\n", out);
  fputs("  \"status\": ", out);
  pp_json_write_string(out, info->status);
  fputs(",\n  \"error\": ", out);
  pp_json_write_string(out, info->error_message ? info->error_message : "");
  fputs(",\n  \"command_line\": ", out);
  pp_json_write_string(out, info->command_line);
  fputs(",\n  \"pinprick_version\": ", out);
  pp_json_write_string(out, pp_version());
  fputs(",\n  \"git\": ", out);
  pp_json_write_string(out, pp_version_git());
  fputs(",\n  \"compiler\": ", out);
  pp_json_write_string(out, pp_version_compiler());
  fputs(",\n  \"libraries\": ", out);
  pp_json_write_string(out, libraries);
  fputs(",\n  \"finished_utc\": ", out);
  pp_json_write_string(out, date);
  if (info->config) {
    char hash[17];
    pp_config_physics_hash(info->config, hash);
    fputs(",\n  \"physics_hash\": ", out);
    pp_json_write_string(out, hash);
  }
  fprintf(out, ",\n  \"ranks\": %d,\n  \"precision\": ", c->runtime->size);
  pp_json_write_string(out, info->precision);
  fprintf(out, ",\n  \"wall_time_s\": %.6f,\n  \"devices\": [", MPI_Wtime() - c->runtime->start_time);
  for (int r = 0; r < c->runtime->size; ++r) {
    fputs(r ? ",\n    " : "\n    ", out);
    pp_json_write_string(out, c->device_lines + (size_t)r * DEVICE_LINE_SIZE);
  }
  fputs("\n  ],\n  \"stages\": [", out);
  for (int s = 0; s < info->stage_count; ++s) {
    fputs(s ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
    pp_json_write_string(out, info->stages[s].name);
    fputs(", \"status\": ", out);
    pp_json_write_string(out, stage_status_name(info->stages[s].status));
    fputs(", \"note\": ", out);
    pp_json_write_string(out, info->stages[s].note);
    if (info->stages[s].summary_json) fprintf(out, ", \"summary\": %s", info->stages[s].summary_json);
    fputc('}', out);
  }
  fputs("\n  ]\n}\n", out);
  return PP_OK;
}

pp_err pp_run_record_write(const pp_runtime *runtime, const char *dir, const pp_run_info *info)
{
  char mine[DEVICE_LINE_SIZE] = "";
  snprintf(mine, sizeof mine, "rank %d on %s: %s", runtime->rank, runtime->host,
           info->device_line ? info->device_line : "no device");
  char *all = NULL;
  if (runtime->rank == 0) {
    all = calloc((size_t)runtime->size, DEVICE_LINE_SIZE);
    PP_CHECK(all, PP_ERR_MEMORY, "out of memory gathering device descriptions");
  }
  int mpi_code = MPI_Gather(mine, DEVICE_LINE_SIZE, MPI_CHAR, all, DEVICE_LINE_SIZE, MPI_CHAR, 0, runtime->comm);
  if (mpi_code != MPI_SUCCESS) {
    free(all);
    return pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "gathering device descriptions");
  }
  pp_err local = PP_OK;
  if (runtime->rank == 0) {
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    local = info->config ? pp_write_file_atomic(path, write_config, info->config) : PP_OK;
    if (local == PP_OK) {
      json_context context = {info, runtime, all};
      snprintf(path, sizeof path, "%s/run.json", dir);
      local = pp_write_file_atomic(path, write_json, &context);
    }
  }
  free(all);
  PP_CALL(pp_runtime_agree(runtime, local, "writing the run record"));
  return PP_OK;
}
