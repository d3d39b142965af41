#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MESSAGE_CAP = 8192, FRAME_CAP = 32, CONTEXT_CAP = 8, LINE_CAP = 512 };

/* The one error in flight. Process-wide on purpose (see error.h). */
static struct {
  pp_err code;
  pp_err origin_code;
  int collective;
  char message[MESSAGE_CAP];
  char context[CONTEXT_CAP][LINE_CAP];
  int context_count;
  char frames[FRAME_CAP][LINE_CAP];
  int frame_count;
} error_record;

static const char *const code_names[PP_ERR_CODE_COUNT] = {
  [PP_OK] = "no error",
  [PP_ERR_USAGE] = "usage error",
  [PP_ERR_CONFIG] = "config error",
  [PP_ERR_UNITS] = "unit error",
  [PP_ERR_IO] = "I/O error",
  [PP_ERR_MEMORY] = "out of memory",
  [PP_ERR_OPENCL] = "OpenCL error",
  [PP_ERR_MPI] = "MPI error",
  [PP_ERR_HDF5] = "HDF5 error",
  [PP_ERR_DEVICE] = "device error",
  [PP_ERR_ARGUMENT] = "invalid argument",
  [PP_ERR_INJECTED] = "injected fault",
  [PP_ERR_OTHER_RANK] = "error on another rank",
  [PP_ERR_NOT_IMPLEMENTED] = "not implemented",
  [PP_ERR_SOLVER] = "solver failure",
};

const char *pp_error_code_name(pp_err code)
{
  if (code < 0 || code >= PP_ERR_CODE_COUNT || !code_names[code]) return "unknown error";
  return code_names[code];
}

static void add_frame(const char *file, int line, const char *func)
{
  if (error_record.frame_count >= FRAME_CAP) return;
  const char *base = strrchr(file, '/');
  snprintf(error_record.frames[error_record.frame_count++], LINE_CAP, "%s() at %s:%d", func,
           base ? base + 1 : file, line);
}

pp_err pp_error_raise_v(pp_err code, const char *file, int line, const char *func,
                        const char *format, va_list args)
{
  error_record.code = code;
  error_record.origin_code = code;
  error_record.collective = 0;
  error_record.frame_count = 0;
  error_record.context_count = 0;
  vsnprintf(error_record.message, MESSAGE_CAP, format, args);
  add_frame(file, line, func);
  return code;
}

pp_err pp_error_raise(pp_err code, const char *file, int line, const char *func,
                      const char *format, ...)
{
  va_list args;
  va_start(args, format);
  pp_error_raise_v(code, file, line, func, format, args);
  va_end(args);
  return code;
}

pp_err pp_error_trace(pp_err code, const char *file, int line, const char *func)
{
  if (error_record.code == PP_OK) {
    /* A code came back without a recorded message: keep the code, say so. */
    return pp_error_raise(code, file, line, func, "%s (no message recorded)", pp_error_code_name(code));
  }
  add_frame(file, line, func);
  return code;
}

pp_err pp_error_context(pp_err code, const char *format, ...)
{
  if (error_record.context_count < CONTEXT_CAP) {
    va_list args;
    va_start(args, format);
    vsnprintf(error_record.context[error_record.context_count++], LINE_CAP, format, args);
    va_end(args);
  }
  return code;
}

pp_err pp_error_code(void) { return error_record.code; }
const char *pp_error_message(void) { return error_record.message; }

void pp_error_clear(void)
{
  memset(&error_record, 0, sizeof error_record);
}

void pp_error_set_collective(int collective) { error_record.collective = collective; }
void pp_error_set_origin_code(pp_err code) { error_record.origin_code = code; }
pp_err pp_error_origin_code(void) { return error_record.origin_code; }
int pp_error_is_collective(void) { return error_record.collective; }

void pp_error_print(FILE *stream, const char *prefix)
{
  if (!prefix) prefix = "";
  fprintf(stream, "%serror: %s\n", prefix, error_record.message);
  for (int i = 0; i < error_record.context_count; ++i)
    fprintf(stream, "%s  %s\n", prefix, error_record.context[i]);
  for (int i = 0; i < error_record.frame_count; ++i)
    fprintf(stream, "%s  [%d] %s\n", prefix, i, error_record.frames[i]);
}
