/* version: what this build is (version, git hash, compiler) and the versions of the libraries it
 * runs with (OpenCL platforms, MPI library, HDF5), for --version and the run record. */
#ifndef PP_VERSION_H
#define PP_VERSION_H

#include <stddef.h>

const char *pp_version(void);       /* "0.1.0" */
const char *pp_version_git(void);   /* git describe of the source tree at build time */
const char *pp_version_compiler(void);
/* "MPI: ...; HDF5: x.y.z; OpenCL headers: 1.2 target; platforms: ..." (callable before MPI_Init). */
void pp_version_libraries(char *buffer, size_t size);

#endif
