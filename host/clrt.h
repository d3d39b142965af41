/* clrt: the OpenCL runtime. It owns everything between pinprick and the OpenCL API:
 *   - the text of OpenCL error codes and the PP_CL() wrapper that turns a cl_int into a pp_err;
 *   - device discovery (every platform and device, with PCI bus ids) and the device table;
 *   - the per-rank device choice (node-local rank, GPUs before CPUs, no two ranks on one GPU
 *     unless allowed, the PINPRICK_DEVICE override) and the fp64 check;
 *   - the one context and in-order queue of this rank;
 *   - the program cache (one cl_program per source text and build options, built once) and the
 *     kernel cache, with REAL/REAL_IS_DOUBLE and -cl-std=CL1.2 always in the build options;
 *   - 1-D launches (padding, work-group checks, optional event timing per label, optional
 *     clFinish after every launch) and buffer creation with the max-alloc check.
 * Errors are values (PP_CHECK/PP_CALL); nothing here prints except the print functions, and
 * nothing exits. The state lives in one opaque pp_clrt per rank.
 *
 * Environment variables read here (documented in `pinprick --help` and the README):
 *   PINPRICK_DEVICE=P:D | N    device override (flat index N counts devices across platforms);
 *                               precedence: command line > PINPRICK_DEVICE > config > automatic
 *   PINPRICK_CL_SYNC_DEBUG=1   clFinish + status check after every launch (blames the right kernel)
 *   PINPRICK_FAKE_NO_FP64=1 | rank=K   test-only: pretend the device (of every rank, or of rank K
 *                               of the communicator) has no fp64 */
#ifndef PP_CLRT_H
#define PP_CLRT_H

#include <stdio.h>

#include <CL/cl.h>
#include <mpi.h>

#include "error.h"
#include "kernel_sources.h"

/* ---- error codes ---------------------------------------------------------------------------- */

/* "CL_INVALID_VALUE" etc. for every code of OpenCL 1.2 (and a few later and KHR ones);
 * "CL_UNKNOWN_ERROR" otherwise. Never NULL. */
const char *pp_cl_error_name(cl_int code);

/* Evaluate an OpenCL call returning cl_int; on failure raise PP_ERR_OPENCL with
 * "what: CL_XXX (-n)" and return from the calling function. */
#define PP_CL(call, what)                                                                  \
  do {                                                                                     \
    cl_int pp_cl_status_ = (call);                                                         \
    if (pp_cl_status_ != CL_SUCCESS)                                                       \
      return pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "%s: %s (%d)",    \
                            (what), pp_cl_error_name(pp_cl_status_), (int)pp_cl_status_);  \
  } while (0)

/* ---- devices -------------------------------------------------------------------------------- */

typedef struct {
  int platform_index, device_index; /* P:D as in PINPRICK_DEVICE and --device */
  int flat_index;                   /* position in the list over all platforms */
  char platform_name[256], platform_version[256];
  char device_name[256], device_vendor[256], driver_version[256], device_version[256];
  char pci_bus_id[64];              /* "dddd:bb:dd.f", or "n/a" when the platform does not say */
  cl_device_type type;
  int has_fp64;                     /* cl_khr_fp64 in the device's extension string */
  cl_ulong global_memory, max_alloc, local_memory; /* bytes */
  cl_uint compute_units;
  size_t max_work_group_size;
  size_t max_work_item_size;        /* CL_DEVICE_MAX_WORK_ITEM_SIZES[0], the 1-D launch limit */
  cl_platform_id platform_id;       /* valid while the OpenCL library is loaded */
  cl_device_id device_id;
} pp_device_info;

/* Every device of every platform. No platform or no device gives *count = 0 and PP_OK (the
 * caller decides whether that is an error). Free *devices with free(). */
pp_err pp_clrt_list_devices(pp_device_info **devices, int *count);
/* Table: index (P:D and flat), platform, name, type, fp64, global memory, max alloc, compute
 * units, PCI bus id. */
void pp_clrt_print_devices(FILE *out, const pp_device_info *devices, int count);
/* "GPU", "CPU", "accelerator", "custom", or a '+'-joined mix. */
const char *pp_clrt_device_type_name(cl_device_type type);

/* ---- creation ------------------------------------------------------------------------------- */

typedef struct {
  /* The device: flat_index >= 0 picks that entry of the device list; else platform >= 0 and
   * device >= 0 pick P:D; platform >= 0 with device = -1 runs the automatic policy on that
   * platform only; platform = -1 with device >= 0 is read as a flat index; all -1: automatic. */
  int platform;
  int device;
  int flat_index;
  /* 1 when platform/device/flat_index came from --device: they then beat PINPRICK_DEVICE;
   * 0 when they came from the config (or are automatic): PINPRICK_DEVICE, if set, replaces them.
   * Precedence: command line > PINPRICK_DEVICE > config > automatic. */
  int choice_from_command_line;
  int allow_shared_device; /* let several ranks use one GPU/accelerator (CPUs always may) */
  int use_double;          /* 1 double, 0 float, -1 the build default (PINPRICK_REAL) */
  int profiling;           /* event timing per launch label (queue gets PROFILING_ENABLE) */
  int sync_debug;          /* clFinish after every launch; also on with PINPRICK_CL_SYNC_DEBUG=1 */
} pp_clrt_options;

/* Everything automatic, precision from the build default, no profiling. */
void pp_clrt_options_default(pp_clrt_options *options);

/* Parse "P:D" (platform:device) or "N" (flat index) into options->platform/device/flat_index;
 * `where` names the source in the message ("--device", "PINPRICK_DEVICE"). PP_ERR_USAGE on bad
 * text. Does not touch choice_from_command_line. */
pp_err pp_clrt_parse_device(const char *text, const char *where, pp_clrt_options *options);

typedef struct pp_clrt pp_clrt;

/* COLLECTIVE over comm. Chooses this rank's device (see the policy in clrt.c), checks fp64 when
 * double is asked for, creates the context and the in-order queue. Every rank returns the same
 * success or failure: a rank that failed returns its own error; a rank that did not returns
 * PP_ERR_OTHER_RANK naming the failing ranks. On failure *clrt is NULL and the error is marked
 * collective (PP_ERROR_COLLECTIVE on failing ranks, PP_ERROR_COLLECTIVE_QUIET on the others), so
 * the caller need not MPI_Abort. */
pp_err pp_clrt_create(pp_clrt **clrt, MPI_Comm comm, const pp_clrt_options *options);
void pp_clrt_destroy(pp_clrt *clrt);

/* Accessors. */
cl_context pp_clrt_context(const pp_clrt *clrt);
cl_command_queue pp_clrt_queue(const pp_clrt *clrt);
cl_device_id pp_clrt_device_id(const pp_clrt *clrt);
const pp_device_info *pp_clrt_device(const pp_clrt *clrt);
int pp_clrt_real_size(const pp_clrt *clrt);       /* 8 or 4 */
const char *pp_clrt_real_name(const pp_clrt *clrt); /* "double" or "float" */
int pp_clrt_profiling(const pp_clrt *clrt);
/* One line: host, platform, device, type, fp64, global memory, compute units, PCI id, and why
 * the device was chosen. Main logs it on every rank and stores it in the run record. */
void pp_clrt_describe(const pp_clrt *clrt, char *buffer, size_t size);

/* ---- programs and kernels ------------------------------------------------------------------- */

/* The embedded source source_name ("vector_ops" or "kernels/vector_ops.cl") built with
 * "-cl-std=CL1.2 -DREAL=double|float -DREAL_IS_DOUBLE=1|0 " + extra_options (may be NULL).
 * Built once per (source text, options) and cached; the pp_clrt owns the program (do not
 * release it). Options that relax floating point (-cl-fast-relaxed-math, -cl-mad-enable,
 * -cl-unsafe-math-optimizations) are refused: results must not depend on them. On a build
 * failure: PP_ERR_OPENCL whose message names the .cl file and holds the build log. */
pp_err pp_clrt_build(pp_clrt *clrt, const char *source_name, const char *extra_options,
                     cl_program *program);
/* The same for a source that is not in the embedded table (tests, generated code). A text
 * without a leading #line gets  #line 1 "<source->file>"  so messages name the file. */
pp_err pp_clrt_build_text(pp_clrt *clrt, const pp_kernel_source *source, const char *extra_options,
                          cl_program *program);
/* Kernel kernel_name of source_name built with no extra options / with extra_options. Cached: the
 * same cl_kernel object comes back each time, so set all its arguments before each launch. */
pp_err pp_clrt_kernel(pp_clrt *clrt, const char *source_name, const char *kernel_name,
                      cl_kernel *kernel);
pp_err pp_clrt_kernel_with_options(pp_clrt *clrt, const char *source_name, const char *extra_options,
                                   const char *kernel_name, cl_kernel *kernel);
/* The build options actually passed for extra_options (for logs and the run record). */
void pp_clrt_build_options(const pp_clrt *clrt, const char *extra_options, char *buffer, size_t size);

/* a = b + s*c on n REALs with kernels/vector_ops.cl (enqueued, not waited for): the smallest
 * proof that a device computes, used by pinprick's device self-test. */
pp_err pp_clrt_triad(pp_clrt *clrt, cl_mem a, cl_mem b, cl_mem c, double s, size_t n);

/* ---- launches ------------------------------------------------------------------------------- */

/* 1-D launch of global_size work-items (0: nothing to do) in groups of local_size (0: 64,
 * capped by the kernel's limit). The global size is padded up to a multiple of local_size, so
 * kernels must guard with an element count argument. local_size above CL_KERNEL_WORK_GROUP_SIZE
 * is refused with a message naming the label. With profiling on, the time is added to label's
 * row of the timing table; with sync debug on, the launch is followed by clFinish. */
pp_err pp_clrt_launch(pp_clrt *clrt, cl_kernel kernel, const char *label, size_t global_size,
                      size_t local_size);
/* clFinish on the queue; `what` names the point in messages. */
pp_err pp_clrt_finish(pp_clrt *clrt, const char *what);
/* Timing table (label, calls, total s, mean ms), slowest first; waits for pending launches.
 * Prints a one-line note when profiling is off. */
pp_err pp_clrt_print_timing(pp_clrt *clrt, FILE *out);
/* Calls and total seconds recorded for label (0, 0 when none); waits for pending launches. */
pp_err pp_clrt_timing(pp_clrt *clrt, const char *label, long *calls, double *seconds);

/* ---- buffers -------------------------------------------------------------------------------- */

/* clCreateBuffer without host pointer. bytes above CL_DEVICE_MAX_MEM_ALLOC_SIZE are refused with
 * PP_ERR_DEVICE naming `what` and both sizes. A request of 0 bytes gets a 1-byte buffer, so a rank
 * with an empty part still has a valid cl_mem to pass as an argument. */
pp_err pp_clrt_buffer(pp_clrt *clrt, cl_mem_flags flags, size_t bytes, const char *what, cl_mem *out);
/* Blocking copies host <-> buffer; `what` names the buffer in messages. */
pp_err pp_clrt_write(pp_clrt *clrt, cl_mem buffer, size_t offset, size_t bytes, const void *host,
                     const char *what);
pp_err pp_clrt_read(pp_clrt *clrt, cl_mem buffer, size_t offset, size_t bytes, void *host,
                    const char *what);

/* The same copies for arrays of REALs held as doubles on the host: in a float build each value is
 * rounded to float on the way in and widened exactly on the way out. count in REALs. */
pp_err pp_clrt_write_reals(pp_clrt *clrt, cl_mem buffer, const double *values, size_t count, const char *what);
pp_err pp_clrt_read_reals(pp_clrt *clrt, cl_mem buffer, double *values, size_t count, const char *what);
/* Kernel argument `index` set to value as a REAL of the clrt's precision. */
pp_err pp_clrt_set_real_arg(pp_clrt *clrt, cl_kernel kernel, cl_uint index, double value, const char *what);

/* ---- policy pieces, exposed for tests ------------------------------------------------------- */

/* The identity of a device across ranks on one node: "pci:<bus id>" when known, else
 * "name:<platform>|<device>|<index>" plus the GPU visibility mask (CUDA_VISIBLE_DEVICES, ...)
 * when one is set, because then equal indices on different ranks can be different GPUs. */
void pp_clrt_device_key(const pp_device_info *device, char *buffer, size_t size);
/* Given the device keys of the ranks of one node (key_stride bytes apart), whether each is a CPU,
 * and their ranks in the caller's communicator: PP_OK, or PP_ERR_DEVICE naming the ranks, host and
 * device when rank `me` shares a non-CPU device and sharing is not allowed. */
pp_err pp_clrt_check_sharing(int node_size, const char *keys, size_t key_stride, const int *is_cpu,
                             const int *ranks, int me, const char *host, const char *device_name,
                             int allow_shared_device);

#endif
