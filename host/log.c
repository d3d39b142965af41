#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int log_rank = 0;
static pp_log_level log_level = PP_LOG_INFO;

void pp_log_init(int rank, pp_log_level level)
{
  log_rank = rank;
  log_level = level;
}

pp_log_level pp_log_get_level(void) { return log_level; }

static void emit(pp_log_level level, int with_rank, const char *format, va_list args)
{
  FILE *stream = level <= PP_LOG_WARN ? stderr : stdout;
  if (level == PP_LOG_WARN) fputs("warning: ", stream);
  if (with_rank) fprintf(stream, "[rank %d] ", log_rank);
  vfprintf(stream, format, args);
  fputc('\n', stream);
  fflush(stream);
}

void pp_log(pp_log_level level, const char *format, ...)
{
  if (level > log_level || log_rank != 0) return;
  va_list args;
  va_start(args, format);
  emit(level, 0, format, args);
  va_end(args);
}

void pp_log_all(pp_log_level level, const char *format, ...)
{
  if (level > log_level) return;
  va_list args;
  va_start(args, format);
  emit(level, 1, format, args);
  va_end(args);
}
