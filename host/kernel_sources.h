/* kernel_sources: the OpenCL C sources of the kernels folder (every .cl file), embedded at build time
 * (cmake/embed_kernels.cmake). Each text starts with  #line 1 "kernels/<name>.cl"  so compiler
 * messages name the .cl file and line. */
#ifndef PP_KERNEL_SOURCES_H
#define PP_KERNEL_SOURCES_H

#include <stddef.h>

typedef struct {
  const char *name;   /* file name without extension, e.g. "vector_ops" */
  const char *file;   /* path relative to the source tree, e.g. "kernels/vector_ops.cl" */
  const char *text;   /* NUL-terminated source */
  size_t length;      /* bytes, without the NUL */
} pp_kernel_source;

extern const pp_kernel_source pp_kernel_sources[]; /* terminated by an entry with name == NULL */
extern const int pp_kernel_source_count;

/* The embedded source called name, or NULL. */
const pp_kernel_source *pp_kernel_source_find(const char *name);

#endif
