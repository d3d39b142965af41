#include "version.h"

#include <CL/cl.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "git_hash.h"
#include "version.h.in.h"

const char *pp_version(void) { return PINPRICK_VERSION; }
const char *pp_version_git(void) { return PINPRICK_GIT_HASH; }
const char *pp_version_compiler(void) { return PINPRICK_C_COMPILER " (" PINPRICK_BUILD_TYPE ")"; }

static void append(char *buffer, size_t size, const char *text)
{
  size_t used = strlen(buffer);
  if (used + 1 < size) snprintf(buffer + used, size - used, "%s", text);
}

void pp_version_libraries(char *buffer, size_t size)
{
  buffer[0] = '\0';
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int length = 0;
  MPI_Get_library_version(mpi_version, &length);
  char *newline = strchr(mpi_version, '\n');
  if (newline) *newline = '\0';
  char *comma = strchr(mpi_version, ',');
  if (comma) *comma = '\0';
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  char line[1024];
  snprintf(line, sizeof line, "MPI: %s\nHDF5: %u.%u.%u (parallel)\n", mpi_version, major, minor, release);
  append(buffer, size, line);

  cl_uint platform_count = 0;
  if (clGetPlatformIDs(0, NULL, &platform_count) != CL_SUCCESS || platform_count == 0) {
    append(buffer, size, "OpenCL: no platform found (install an ICD, e.g. Debian's pocl-opencl-icd)\n");
    return;
  }
  cl_platform_id platforms[16];
  if (platform_count > 16) platform_count = 16;
  clGetPlatformIDs(platform_count, platforms, NULL);
  for (cl_uint i = 0; i < platform_count; ++i) {
    char name[256] = "", version[256] = "";
    clGetPlatformInfo(platforms[i], CL_PLATFORM_NAME, sizeof name, name, NULL);
    clGetPlatformInfo(platforms[i], CL_PLATFORM_VERSION, sizeof version, version, NULL);
    snprintf(line, sizeof line, "OpenCL platform %u: %s, %s\n", i, name, version);
    append(buffer, size, line);
  }
}
