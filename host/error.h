/* error: error codes, the error record and the propagation macros (PETSc/libCEED style).
 *
 * Every function that can fail returns pp_err (PP_OK == 0). PP_CHECK raises an error with a
 * formatted message; PP_CALL propagates one and adds a traceback frame. Errors are values:
 * nothing here prints or exits, so tests can assert on the code and message (the "store"
 * behaviour). The top level (main) decides how to report and how to leave MPI (see runtime).
 *
 * The record is process-wide (like PETSc's error stack): one error is in flight at a time. */
#ifndef PP_ERROR_H
#define PP_ERROR_H

#include <stdarg.h>
#include <stdio.h>

typedef int pp_err;

enum {
  PP_OK = 0,
  PP_ERR_USAGE = 1,      /* bad command line */
  PP_ERR_CONFIG = 2,     /* bad configuration file or --set value */
  PP_ERR_UNITS = 3,      /* a quantity with a wrong or unknown unit */
  PP_ERR_IO = 4,         /* file system */
  PP_ERR_MEMORY = 5,     /* allocation failed */
  PP_ERR_OPENCL = 6,     /* OpenCL call failed (text from the OpenCL error code) */
  PP_ERR_MPI = 7,        /* MPI call failed (text from MPI_Error_string) */
  PP_ERR_HDF5 = 8,       /* HDF5 call failed (text from the HDF5 error stack) */
  PP_ERR_DEVICE = 9,     /* no suitable OpenCL device, missing fp64, device shared */
  PP_ERR_ARGUMENT = 10,  /* a function was called with an invalid argument (a bug) */
  PP_ERR_INJECTED = 11,  /* fault-injection switch fired (tests) */
  PP_ERR_OTHER_RANK = 12,/* another rank failed; this rank leaves with it */
  PP_ERR_NOT_IMPLEMENTED = 13,
  PP_ERR_SOLVER = 14,    /* a linear solver broke down or did not converge */
  PP_ERR_CODE_COUNT
};

/* Name of an error code, e.g. "config error". */
const char *pp_error_code_name(pp_err code);

/* Record a new error (replacing any previous one) and return its code. */
pp_err pp_error_raise(pp_err code, const char *file, int line, const char *func,
                      const char *format, ...) __attribute__((format(printf, 5, 6)));
pp_err pp_error_raise_v(pp_err code, const char *file, int line, const char *func,
                        const char *format, va_list args);
/* Append a traceback frame to the error in flight and return code. */
pp_err pp_error_trace(pp_err code, const char *file, int line, const char *func);
/* Add context text ("while reading mesh X") to the error in flight; returns its code. */
pp_err pp_error_context(pp_err code, const char *format, ...) __attribute__((format(printf, 2, 3)));

pp_err pp_error_code(void);           /* code of the error in flight, PP_OK if none */
const char *pp_error_message(void);   /* its message ("" if none) */
void pp_error_clear(void);
/* Message, context lines and traceback, one per line, each prefixed by prefix. */
void pp_error_print(FILE *stream, const char *prefix);
/* Whether every rank knows about the error in flight (set by runtime's collective check):
 * LOCAL (only this rank), COLLECTIVE (every rank; this one reports it), COLLECTIVE_QUIET (every
 * rank; another rank reports it). */
enum { PP_ERROR_LOCAL = 0, PP_ERROR_COLLECTIVE = 1, PP_ERROR_COLLECTIVE_QUIET = 2 };
void pp_error_set_collective(int collective);
/* For PP_ERR_OTHER_RANK: the code of the rank that failed first (set by the collective check),
 * so every rank can leave with the same exit status. */
void pp_error_set_origin_code(pp_err code);
pp_err pp_error_origin_code(void);
int pp_error_is_collective(void);

#define PP_CHECK(cond, code, ...)                                                    \
  do {                                                                               \
    if (!(cond)) return pp_error_raise((code), __FILE__, __LINE__, __func__, __VA_ARGS__); \
  } while (0)

#define PP_RAISE(code, ...) return pp_error_raise((code), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define PP_CALL(expr)                                                                \
  do {                                                                               \
    pp_err pp_call_err_ = (expr);                                                    \
    if (pp_call_err_ != PP_OK) return pp_error_trace(pp_call_err_, __FILE__, __LINE__, __func__); \
  } while (0)

/* Allocation helpers: raise PP_ERR_MEMORY naming what was being allocated. */
#define PP_MALLOC(ptr, count, what)                                                  \
  do {                                                                               \
    size_t pp_n_ = (size_t)(count);                                                  \
    /* A count beyond half the address space is a negative int cast by mistake. */   \
    PP_CHECK(pp_n_ <= ((size_t)-1 >> 1) / sizeof *(ptr), PP_ERR_MEMORY,              \
             "impossible allocation of %zu elements for %s", pp_n_, (what));         \
    (ptr) = pp_n_ ? calloc(pp_n_, sizeof *(ptr)) : NULL;                             \
    PP_CHECK(pp_n_ == 0 || (ptr) != NULL, PP_ERR_MEMORY, "out of memory allocating %zu x %zu bytes for %s", \
             pp_n_, sizeof *(ptr), (what));                                          \
  } while (0)

#endif
