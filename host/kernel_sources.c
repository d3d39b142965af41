#include "kernel_sources.h"

#include <string.h>

const pp_kernel_source *pp_kernel_source_find(const char *name)
{
  for (int i = 0; i < pp_kernel_source_count; ++i)
    if (strcmp(pp_kernel_sources[i].name, name) == 0) return &pp_kernel_sources[i];
  return NULL;
}
