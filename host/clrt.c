/* clrt: the OpenCL runtime (see clrt.h for what it owns).
 *
 * Device policy of pp_clrt_create, in order:
 *   1. An explicit choice, by precedence: --device (choice_source COMMAND_LINE) beats the
 *      PINPRICK_DEVICE environment variable, which beats the config. The environment sits between
 *      the two because a job script may need to steer a run whose config it did not write, while
 *      a command line is the most deliberate choice of all.
 *   2. Otherwise, if the rank sees exactly one device (Slurm --gpus-per-task, CUDA_VISIBLE_DEVICES,
 *      or an explicit platform with one device), that one.
 *   3. Otherwise GPUs and accelerators before CPUs: node-local rank r takes GPU r % n_gpus. With
 *      no GPU every rank takes the first CPU device.
 *   Whatever the route, two ranks of one node on one GPU/accelerator are refused unless
 *   allow_shared_device (silent sharing halves each rank's speed and can run out of memory late);
 *   CPU devices (PoCL) may always be shared. Devices are matched across ranks by PCI bus id, else
 *   by platform name, device name and index (see pp_clrt_device_key).
 *
 * The node-local rank comes from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED); some MPI builds give
 * one rank per node there even when ranks share a host, so we fall back to splitting on
 * MPI_Get_processor_name then (AMReX PR #3382). */
#include "clrt.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runtime.h"

#ifndef PINPRICK_DEFAULT_REAL
#define PINPRICK_DEFAULT_REAL "double"
#endif

/* Extension queries, defined here under our own names because older cl_ext.h headers lack some
 * of them. Values from the Khronos registry. */
enum {
  CLRT_PLATFORM_NOT_FOUND_KHR = -1001,
  CLRT_DEVICE_PCI_BUS_INFO_KHR = 0x410F,  /* cl_khr_pci_bus_info */
  CLRT_DEVICE_PCI_BUS_ID_NV = 0x4008,     /* cl_nv_device_attribute_query */
  CLRT_DEVICE_PCI_SLOT_ID_NV = 0x4009,
  CLRT_DEVICE_PCI_DOMAIN_ID_NV = 0x400A,
  CLRT_DEVICE_TOPOLOGY_AMD = 0x4037,      /* cl_amd_device_attribute_query */
  CLRT_DEVICE_TOPOLOGY_TYPE_PCIE_AMD = 1
};

enum { DEVICE_KEY_SIZE = 640, LABEL_SIZE = 64, PENDING_LIMIT = 1024, DEFAULT_LOCAL_SIZE = 64 };

/* ---- error codes ---------------------------------------------------------------------------- */

const char *pp_cl_error_name(cl_int code)
{
  switch (code) {
  case 0: return "CL_SUCCESS";
  case -1: return "CL_DEVICE_NOT_FOUND";
  case -2: return "CL_DEVICE_NOT_AVAILABLE";
  case -3: return "CL_COMPILER_NOT_AVAILABLE";
  case -4: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
  case -5: return "CL_OUT_OF_RESOURCES";
  case -6: return "CL_OUT_OF_HOST_MEMORY";
  case -7: return "CL_PROFILING_INFO_NOT_AVAILABLE";
  case -8: return "CL_MEM_COPY_OVERLAP";
  case -9: return "CL_IMAGE_FORMAT_MISMATCH";
  case -10: return "CL_IMAGE_FORMAT_NOT_SUPPORTED";
  case -11: return "CL_BUILD_PROGRAM_FAILURE";
  case -12: return "CL_MAP_FAILURE";
  case -13: return "CL_MISALIGNED_SUB_BUFFER_OFFSET";
  case -14: return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
  case -15: return "CL_COMPILE_PROGRAM_FAILURE";
  case -16: return "CL_LINKER_NOT_AVAILABLE";
  case -17: return "CL_LINK_PROGRAM_FAILURE";
  case -18: return "CL_DEVICE_PARTITION_FAILED";
  case -19: return "CL_KERNEL_ARG_INFO_NOT_AVAILABLE";
  case -30: return "CL_INVALID_VALUE";
  case -31: return "CL_INVALID_DEVICE_TYPE";
  case -32: return "CL_INVALID_PLATFORM";
  case -33: return "CL_INVALID_DEVICE";
  case -34: return "CL_INVALID_CONTEXT";
  case -35: return "CL_INVALID_QUEUE_PROPERTIES";
  case -36: return "CL_INVALID_COMMAND_QUEUE";
  case -37: return "CL_INVALID_HOST_PTR";
  case -38: return "CL_INVALID_MEM_OBJECT";
  case -39: return "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR";
  case -40: return "CL_INVALID_IMAGE_SIZE";
  case -41: return "CL_INVALID_SAMPLER";
  case -42: return "CL_INVALID_BINARY";
  case -43: return "CL_INVALID_BUILD_OPTIONS";
  case -44: return "CL_INVALID_PROGRAM";
  case -45: return "CL_INVALID_PROGRAM_EXECUTABLE";
  case -46: return "CL_INVALID_KERNEL_NAME";
  case -47: return "CL_INVALID_KERNEL_DEFINITION";
  case -48: return "CL_INVALID_KERNEL";
  case -49: return "CL_INVALID_ARG_INDEX";
  case -50: return "CL_INVALID_ARG_VALUE";
  case -51: return "CL_INVALID_ARG_SIZE";
  case -52: return "CL_INVALID_KERNEL_ARGS";
  case -53: return "CL_INVALID_WORK_DIMENSION";
  case -54: return "CL_INVALID_WORK_GROUP_SIZE";
  case -55: return "CL_INVALID_WORK_ITEM_SIZE";
  case -56: return "CL_INVALID_GLOBAL_OFFSET";
  case -57: return "CL_INVALID_EVENT_WAIT_LIST";
  case -58: return "CL_INVALID_EVENT";
  case -59: return "CL_INVALID_OPERATION";
  case -60: return "CL_INVALID_GL_OBJECT";
  case -61: return "CL_INVALID_BUFFER_SIZE";
  case -62: return "CL_INVALID_MIP_LEVEL";
  case -63: return "CL_INVALID_GLOBAL_WORK_SIZE";
  case -64: return "CL_INVALID_PROPERTY";
  case -65: return "CL_INVALID_IMAGE_DESCRIPTOR";
  case -66: return "CL_INVALID_COMPILER_OPTIONS";
  case -67: return "CL_INVALID_LINKER_OPTIONS";
  case -68: return "CL_INVALID_DEVICE_PARTITION_COUNT";
  /* OpenCL 2.x/3.0 codes: a 1.2 host can still receive them from a newer driver. */
  case -69: return "CL_INVALID_PIPE_SIZE";
  case -70: return "CL_INVALID_DEVICE_QUEUE";
  case -71: return "CL_INVALID_SPEC_ID";
  case -72: return "CL_MAX_SIZE_RESTRICTION_EXCEEDED";
  case -1000: return "CL_INVALID_GL_SHAREGROUP_REFERENCE_KHR";
  case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
  default: return "CL_UNKNOWN_ERROR";
  }
}

/* ---- small helpers -------------------------------------------------------------------------- */

/* Whether word appears in a space-separated list (extension strings), as a whole word, so that
 * "cl_khr_fp64" does not match "cl_khr_fp64_foo". */
static int has_word(const char *list, const char *word)
{
  size_t n = strlen(word);
  for (const char *p = list; p && (p = strstr(p, word)) != NULL; p += n) {
    int starts = (p == list) || isspace((unsigned char)p[-1]);
    int ends = p[n] == '\0' || isspace((unsigned char)p[n]);
    if (starts && ends) return 1;
  }
  return 0;
}

/* Grow a dynamic array to hold at least `need` elements. */
static pp_err grow(void **array, int *capacity, int need, size_t element_size, const char *what)
{
  if (need <= *capacity) return PP_OK;
  int new_capacity = *capacity ? 2 * *capacity : 8;
  while (new_capacity < need) new_capacity *= 2;
  void *bigger = realloc(*array, (size_t)new_capacity * element_size);
  PP_CHECK(bigger, PP_ERR_MEMORY, "out of memory growing the %s to %d entries", what, new_capacity);
  *array = bigger;
  *capacity = new_capacity;
  return PP_OK;
}

static char *duplicate(const char *text)
{
  size_t n = strlen(text) + 1;
  char *copy = malloc(n);
  if (copy) memcpy(copy, text, n);
  return copy;
}

/* FNV-1a: the program cache tells two different texts under one file name apart. */
static uint64_t text_hash(const char *text, size_t length)
{
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < length; ++i) {
    h ^= (unsigned char)text[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* ---- device queries ------------------------------------------------------------------------- */

/* A string property into a fixed buffer, truncated when longer (names are for people). */
static pp_err device_string(cl_device_id device, cl_device_info param, char *out, size_t size, const char *what)
{
  size_t needed = 0;
  out[0] = '\0';
  PP_CL(clGetDeviceInfo(device, param, 0, NULL, &needed), what);
  if (needed <= size) {
    PP_CL(clGetDeviceInfo(device, param, size, out, NULL), what);
    return PP_OK;
  }
  char *full = malloc(needed);
  PP_CHECK(full, PP_ERR_MEMORY, "out of memory reading %s", what);
  cl_int status = clGetDeviceInfo(device, param, needed, full, NULL);
  if (status == CL_SUCCESS) snprintf(out, size, "%s", full);
  free(full);
  PP_CL(status, what);
  return PP_OK;
}

static pp_err platform_string(cl_platform_id platform, cl_platform_info param, char *out, size_t size,
                              const char *what)
{
  size_t needed = 0;
  out[0] = '\0';
  PP_CL(clGetPlatformInfo(platform, param, 0, NULL, &needed), what);
  char *full = malloc(needed + 1);
  PP_CHECK(full, PP_ERR_MEMORY, "out of memory reading %s", what);
  cl_int status = clGetPlatformInfo(platform, param, needed, full, NULL);
  full[needed] = '\0';
  if (status == CL_SUCCESS) snprintf(out, size, "%s", full);
  free(full);
  PP_CL(status, what);
  return PP_OK;
}

/* The whole extension string (it can be long), caller frees. */
static pp_err device_extensions(cl_device_id device, char **out)
{
  size_t needed = 0;
  *out = NULL;
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, 0, NULL, &needed), "reading CL_DEVICE_EXTENSIONS");
  char *text = malloc(needed + 1);
  PP_CHECK(text, PP_ERR_MEMORY, "out of memory reading the device extensions");
  cl_int status = clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, needed, text, NULL);
  text[needed] = '\0';
  if (status != CL_SUCCESS) free(text);
  PP_CL(status, "reading CL_DEVICE_EXTENSIONS");
  *out = text;
  return PP_OK;
}

/* PCI bus id in the "domain:bus:device.function" form lspci and nvidia-smi use; "n/a" when the
 * platform offers no query. Failed queries are not errors: the id is only a better identity. */
static void query_pci_bus_id(cl_device_id device, const char *extensions, char *out, size_t size)
{
  snprintf(out, size, "n/a");
  if (has_word(extensions, "cl_khr_pci_bus_info")) {
    struct { cl_uint domain, bus, device, function; } info;
    if (clGetDeviceInfo(device, CLRT_DEVICE_PCI_BUS_INFO_KHR, sizeof info, &info, NULL) == CL_SUCCESS) {
      snprintf(out, size, "%04x:%02x:%02x.%x", info.domain, info.bus, info.device, info.function);
      return;
    }
  }
  if (has_word(extensions, "cl_nv_device_attribute_query")) {
    cl_uint bus = 0, slot = 0, domain = 0;
    if (clGetDeviceInfo(device, CLRT_DEVICE_PCI_BUS_ID_NV, sizeof bus, &bus, NULL) == CL_SUCCESS &&
        clGetDeviceInfo(device, CLRT_DEVICE_PCI_SLOT_ID_NV, sizeof slot, &slot, NULL) == CL_SUCCESS) {
      /* The domain query exists only in newer drivers; 0 is right on almost every machine. */
      if (clGetDeviceInfo(device, CLRT_DEVICE_PCI_DOMAIN_ID_NV, sizeof domain, &domain, NULL) != CL_SUCCESS)
        domain = 0;
      /* The slot id is the PCI devfn: device << 3 | function. */
      snprintf(out, size, "%04x:%02x:%02x.%x", domain, bus, slot >> 3, slot & 7u);
      return;
    }
  }
  if (has_word(extensions, "cl_amd_device_attribute_query")) {
    /* cl_device_topology_amd: cl_uint type, then 17 unused bytes, then bus, device, function. */
    unsigned char topology[24];
    if (clGetDeviceInfo(device, CLRT_DEVICE_TOPOLOGY_AMD, sizeof topology, topology, NULL) == CL_SUCCESS) {
      cl_uint type;
      memcpy(&type, topology, sizeof type);
      if (type == CLRT_DEVICE_TOPOLOGY_TYPE_PCIE_AMD) {
        snprintf(out, size, "0000:%02x:%02x.%x", topology[21], topology[22], topology[23]);
        return;
      }
    }
  }
}

static pp_err query_device(cl_platform_id platform, cl_device_id device, pp_device_info *info)
{
  info->platform_id = platform;
  info->device_id = device;
  PP_CALL(platform_string(platform, CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name,
                          "reading CL_PLATFORM_NAME"));
  PP_CALL(platform_string(platform, CL_PLATFORM_VERSION, info->platform_version,
                          sizeof info->platform_version, "reading CL_PLATFORM_VERSION"));
  PP_CALL(device_string(device, CL_DEVICE_NAME, info->device_name, sizeof info->device_name,
                        "reading CL_DEVICE_NAME"));
  PP_CALL(device_string(device, CL_DEVICE_VENDOR, info->device_vendor, sizeof info->device_vendor,
                        "reading CL_DEVICE_VENDOR"));
  PP_CALL(device_string(device, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version,
                        "reading CL_DRIVER_VERSION"));
  PP_CALL(device_string(device, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version,
                        "reading CL_DEVICE_VERSION"));
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL), "reading CL_DEVICE_TYPE");
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_memory, &info->global_memory, NULL),
        "reading CL_DEVICE_GLOBAL_MEM_SIZE");
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof info->max_alloc, &info->max_alloc, NULL),
        "reading CL_DEVICE_MAX_MEM_ALLOC_SIZE");
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_memory, &info->local_memory, NULL),
        "reading CL_DEVICE_LOCAL_MEM_SIZE");
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof info->compute_units, &info->compute_units, NULL),
        "reading CL_DEVICE_MAX_COMPUTE_UNITS");
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                        &info->max_work_group_size, NULL),
        "reading CL_DEVICE_MAX_WORK_GROUP_SIZE");
  /* The first dimension's limit can be below the work-group limit on some devices. */
  cl_uint dimensions = 0;
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, sizeof dimensions, &dimensions, NULL),
        "reading CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS");
  size_t item_sizes[16] = {0};
  if (dimensions > 16) dimensions = 16;
  PP_CL(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, dimensions * sizeof(size_t), item_sizes, NULL),
        "reading CL_DEVICE_MAX_WORK_ITEM_SIZES");
  info->max_work_item_size = item_sizes[0];

  char *extensions = NULL;
  PP_CALL(device_extensions(device, &extensions));
  /* The extension is what `#pragma OPENCL EXTENSION cl_khr_fp64 : enable` needs; the fp config
   * is recorded as well so a disagreeing driver shows up in the device table. */
  info->has_fp64 = has_word(extensions, "cl_khr_fp64");
  query_pci_bus_id(device, extensions, info->pci_bus_id, sizeof info->pci_bus_id);
  free(extensions);
  return PP_OK;
}

pp_err pp_clrt_list_devices(pp_device_info **devices, int *count)
{
  PP_CHECK(devices && count, PP_ERR_ARGUMENT, "pp_clrt_list_devices: NULL output");
  *devices = NULL;
  *count = 0;
  cl_uint platform_count = 0;
  cl_int status = clGetPlatformIDs(0, NULL, &platform_count);
  /* The ICD loader says "no platform" with -1001 when no vendor file is installed: that is a
   * machine with no OpenCL, which the caller reports in its own words. */
  if (status == CLRT_PLATFORM_NOT_FOUND_KHR || platform_count == 0) return PP_OK;
  PP_CL(status, "counting OpenCL platforms (clGetPlatformIDs)");

  cl_platform_id *platforms = calloc(platform_count, sizeof *platforms);
  PP_CHECK(platforms, PP_ERR_MEMORY, "out of memory listing %u OpenCL platforms", platform_count);
  pp_device_info *list = NULL;
  int list_count = 0, list_capacity = 0;
  pp_err err = PP_OK;
  status = clGetPlatformIDs(platform_count, platforms, NULL);
  if (status != CL_SUCCESS) {
    err = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "listing OpenCL platforms: %s (%d)",
                         pp_cl_error_name(status), (int)status);
  }
  for (cl_uint p = 0; err == PP_OK && p < platform_count; ++p) {
    cl_uint device_count = 0;
    status = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &device_count);
    if (status == CL_DEVICE_NOT_FOUND || device_count == 0) continue; /* an empty platform is no error */
    cl_device_id *ids = calloc(device_count, sizeof *ids);
    if (!ids) {
      err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory listing devices");
      break;
    }
    if (status == CL_SUCCESS) status = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, device_count, ids, NULL);
    if (status != CL_SUCCESS) {
      err = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__,
                           "listing the devices of OpenCL platform %u: %s (%d)", p, pp_cl_error_name(status),
                           (int)status);
    }
    for (cl_uint d = 0; err == PP_OK && d < device_count; ++d) {
      err = grow((void **)&list, &list_capacity, list_count + 1, sizeof *list, "device list");
      if (err != PP_OK) break;
      pp_device_info *info = &list[list_count];
      memset(info, 0, sizeof *info);
      info->platform_index = (int)p;
      info->device_index = (int)d;
      info->flat_index = list_count;
      err = query_device(platforms[p], ids[d], info);
      if (err != PP_OK) {
        pp_error_context(err, "while reading OpenCL device %u:%u", p, d);
        break;
      }
      ++list_count;
    }
    free(ids);
  }
  free(platforms);
  if (err != PP_OK) {
    free(list);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  *devices = list;
  *count = list_count;
  return PP_OK;
}

const char *pp_clrt_device_type_name(cl_device_type type)
{
  /* Drivers report one type in practice; the mixed names cover the rest without a buffer. */
  int gpu = (type & CL_DEVICE_TYPE_GPU) != 0, cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
  int accelerator = (type & CL_DEVICE_TYPE_ACCELERATOR) != 0;
  if (gpu && cpu) return "GPU+CPU";
  if (gpu) return "GPU";
  if (cpu) return accelerator ? "CPU+accelerator" : "CPU";
  if (accelerator) return "accelerator";
  if (type & CL_DEVICE_TYPE_CUSTOM) return "custom";
  return "unknown";
}

static double gibibytes(cl_ulong bytes) { return (double)bytes / (1024.0 * 1024.0 * 1024.0); }

void pp_clrt_print_devices(FILE *out, const pp_device_info *devices, int count)
{
  if (count == 0) {
    fprintf(out, "No OpenCL device found (is an ICD installed? see /etc/OpenCL/vendors; on a CPU-only "
                 "machine install pocl-opencl-icd).\n");
    return;
  }
  fprintf(out, "%-5s %-4s  %-28s %-36s %-11s %-4s %10s %10s %4s  %s\n", "P:D", "flat", "platform", "device",
          "type", "fp64", "global", "max alloc", "CUs", "PCI bus id");
  for (int i = 0; i < count; ++i) {
    const pp_device_info *d = &devices[i];
    char index[32];
    snprintf(index, sizeof index, "%d:%d", d->platform_index, d->device_index);
    /* whole names, even where they push the columns: a truncated one could name two devices */
    fprintf(out, "%-5s %-4d  %-28s %-36s %-11s %-4s %6.2f GiB %6.2f GiB %4u  %s\n", index, d->flat_index,
            d->platform_name, d->device_name, pp_clrt_device_type_name(d->type), d->has_fp64 ? "yes" : "no",
            gibibytes(d->global_memory), gibibytes(d->max_alloc), d->compute_units, d->pci_bus_id);
  }
}

/* ---- options and the device choice ---------------------------------------------------------- */

void pp_clrt_options_default(pp_clrt_options *options)
{
  memset(options, 0, sizeof *options);
  options->platform = -1;
  options->device = -1;
  options->flat_index = -1;
  options->use_double = -1;
}

static int parse_index(const char *text, const char **end)
{
  if (!isdigit((unsigned char)*text)) return -1;
  errno = 0;
  char *stop = NULL;
  long value = strtol(text, &stop, 10);
  if (errno || value > 1000000) return -1;
  *end = stop;
  return (int)value;
}

pp_err pp_clrt_parse_device(const char *text, const char *where, pp_clrt_options *options)
{
  if (!where) where = "device";
  const char *end = NULL;
  PP_CHECK(text, PP_ERR_USAGE, "%s: no device given (expected P:D or N)", where);
  int first = parse_index(text, &end);
  if (first >= 0 && *end == '\0') {
    options->platform = -1;
    options->device = -1;
    options->flat_index = first;
    return PP_OK;
  }
  if (first >= 0 && *end == ':') {
    int second = parse_index(end + 1, &end);
    if (second >= 0 && *end == '\0') {
      options->platform = first;
      options->device = second;
      options->flat_index = -1;
      return PP_OK;
    }
  }
  PP_RAISE(PP_ERR_USAGE,
           "%s='%s' is not a device: expected P:D (platform:device, e.g. 0:1) or N (flat index); "
           "`pinprick devices` lists both",
           where, text);
}

/* Indices of the visible devices, one per line, for "no such device" messages. */
static void describe_choices(const pp_device_info *devices, int count, char *out, size_t size)
{
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < count && used < size; ++i) {
    int n = snprintf(out + used, size - used, "\n  %d:%d (flat %d) %s [%s, %s]", devices[i].platform_index,
                     devices[i].device_index, devices[i].flat_index, devices[i].device_name,
                     devices[i].platform_name, pp_clrt_device_type_name(devices[i].type));
    if (n < 0) break;
    used += (size_t)n;
  }
}

/* The explicit choice after the precedence rule, as (platform, device, flat); *source names it. */
static pp_err effective_choice(const pp_clrt_options *options, int *platform, int *device, int *flat,
                               const char **source)
{
  pp_clrt_options choice = *options;
  *source = options->choice_from_command_line ? "--device" : "config";
  const char *env = getenv("PINPRICK_DEVICE");
  if (!options->choice_from_command_line && env && *env) {
    PP_CALL(pp_clrt_parse_device(env, "PINPRICK_DEVICE", &choice));
    *source = "PINPRICK_DEVICE";
  }
  *platform = choice.platform;
  *device = choice.device;
  *flat = choice.flat_index;
  if (*flat < 0 && *platform < 0 && *device >= 0) { /* a device without platform: a flat index */
    *flat = *device;
    *device = -1;
  }
  if (*flat >= 0) *platform = *device = -1;
  return PP_OK;
}

static int is_gpu_like(const pp_device_info *d)
{
  return (d->type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) != 0;
}

static pp_err choose_device(const pp_device_info *devices, int count, const pp_clrt_options *options,
                            int local_rank, const char *host, int *chosen, char *why, size_t why_size)
{
  char choices[2048];
  describe_choices(devices, count, choices, sizeof choices);
  PP_CHECK(count > 0, PP_ERR_DEVICE,
           "no OpenCL device found on host %s (is an OpenCL ICD installed? see /etc/OpenCL/vendors; on a "
           "CPU-only machine install PoCL, e.g. Debian's pocl-opencl-icd)",
           host);
  int platform = -1, device = -1, flat = -1;
  const char *source = "";
  PP_CALL(effective_choice(options, &platform, &device, &flat, &source));

  if (flat >= 0 || (platform >= 0 && device >= 0)) { /* an explicit device */
    for (int i = 0; i < count; ++i) {
      int match = flat >= 0 ? devices[i].flat_index == flat
                            : devices[i].platform_index == platform && devices[i].device_index == device;
      if (match) {
        *chosen = i;
        snprintf(why, why_size, "%s", source);
        return PP_OK;
      }
    }
    if (platform >= 0)
      PP_RAISE(PP_ERR_DEVICE, "OpenCL device %d:%d (from %s) does not exist on host %s; the devices are:%s",
               platform, device, source, host, choices);
    PP_RAISE(PP_ERR_DEVICE, "OpenCL device %d (flat index, from %s) does not exist on host %s; the devices are:%s",
             flat, source, host, choices);
  }

  /* Candidates: all devices, or those of the explicit platform. */
  int candidates[256], candidate_count = 0;
  for (int i = 0; i < count && candidate_count < 256; ++i)
    if (platform < 0 || devices[i].platform_index == platform) candidates[candidate_count++] = i;
  PP_CHECK(candidate_count > 0, PP_ERR_DEVICE, "OpenCL platform %d (from %s) has no device on host %s; the devices are:%s",
           platform, source, host, choices);
  if (candidate_count == 1) {
    *chosen = candidates[0];
    snprintf(why, why_size, platform >= 0 ? "only device of platform %d" : "only device visible", platform);
    return PP_OK;
  }
  int gpus[256], gpu_count = 0;
  for (int k = 0; k < candidate_count; ++k)
    if (is_gpu_like(&devices[candidates[k]])) gpus[gpu_count++] = candidates[k];
  if (gpu_count > 0) {
    *chosen = gpus[local_rank % gpu_count];
    snprintf(why, why_size, "node-local rank %d -> GPU/accelerator %d of %d", local_rank, local_rank % gpu_count,
             gpu_count);
    return PP_OK;
  }
  /* CPUs only: every rank on the first one. Spreading ranks over two CPU runtimes (PoCL and a
   * vendor's) would only make results depend on the rank count. */
  *chosen = candidates[0];
  snprintf(why, why_size, "no GPU: first device");
  return PP_OK;
}

void pp_clrt_device_key(const pp_device_info *device, char *buffer, size_t size)
{
  if (strcmp(device->pci_bus_id, "n/a") != 0) {
    snprintf(buffer, size, "pci:%s", device->pci_bus_id);
    return;
  }
  size_t used = (size_t)snprintf(buffer, size, "name:%s|%s|%d", device->platform_name, device->device_name,
                                 device->device_index);
  static const char *const masks[] = {"CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                                      "ZE_AFFINITY_MASK", "GPU_DEVICE_ORDINAL"};
  for (size_t m = 0; m < sizeof masks / sizeof masks[0] && used < size; ++m) {
    const char *value = getenv(masks[m]);
    if (value && *value) {
      int n = snprintf(buffer + used, size - used, "|%s=%s", masks[m], value);
      if (n > 0) used += (size_t)n;
    }
  }
}

pp_err pp_clrt_check_sharing(int node_size, const char *keys, size_t key_stride, const int *is_cpu,
                             const int *ranks, int me, const char *host, const char *device_name,
                             int allow_shared_device)
{
  const char *mine = keys + (size_t)me * key_stride;
  if (allow_shared_device || is_cpu[me] || mine[0] == '\0') return PP_OK;
  char list[1024];
  size_t used = 0;
  int sharers = 0;
  for (int i = 0; i < node_size; ++i) {
    if (strcmp(keys + (size_t)i * key_stride, mine) != 0) continue;
    ++sharers;
    if (used < sizeof list) {
      int n = snprintf(list + used, sizeof list - used, "%s%d", used ? ", " : "", ranks[i]);
      if (n > 0) used += (size_t)n;
    }
  }
  PP_CHECK(sharers <= 1, PP_ERR_DEVICE,
           "ranks %s on host %s would all use device %s (%s); give each rank its own GPU (e.g. srun "
           "--gpus-per-task=1, fewer ranks per node, or --device per rank), or allow sharing with "
           "runtime.allow_shared_device: true",
           list, host, device_name, mine);
  return PP_OK;
}

/* ---- the runtime object --------------------------------------------------------------------- */

typedef struct {
  char *file;
  uint64_t hash;
  char *options;
  cl_program program;
} program_entry;

typedef struct {
  cl_program program;
  char *name;
  cl_kernel kernel;
} kernel_entry;

typedef struct {
  char label[LABEL_SIZE];
  long calls;
  cl_ulong total_ns;
} timing_row;

typedef struct {
  cl_event event;
  int row;
} pending_event;

struct pp_clrt {
  pp_device_info device;
  cl_context context;
  cl_command_queue queue;
  int use_double, profiling, sync_debug;
  int rank, local_rank, local_size;
  char host[MPI_MAX_PROCESSOR_NAME + 1];
  char chosen_by[160];
  program_entry *programs;
  int program_count, program_capacity;
  kernel_entry *kernels;
  int kernel_count, kernel_capacity;
  timing_row *rows;
  int row_count, row_capacity;
  pending_event *pending;
  int pending_count, pending_capacity;
};

static int env_flag(const char *name)
{
  const char *value = getenv(name);
  return value && *value && strcmp(value, "0") != 0;
}

/* Test-only switch: "1" fakes a device without fp64 on every rank, "rank=K" on rank K only (to
 * exercise the collective failure path). */
static int fake_no_fp64(int rank)
{
  const char *value = getenv("PINPRICK_FAKE_NO_FP64");
  if (!value || !*value || strcmp(value, "0") == 0) return 0;
  if (strncmp(value, "rank=", 5) == 0) return atoi(value + 5) == rank;
  return 1;
}

/* The node-local communicator (see the file comment for the fallback). */
static pp_err node_communicator(MPI_Comm comm, int rank, int size, const char *host, MPI_Comm *node)
{
  PP_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, node),
           "splitting the communicator by node (MPI_Comm_split_type)");
  int node_size = 0;
  PP_MPI(MPI_Comm_size(*node, &node_size), "MPI_Comm_size of the node communicator");
  if (size == 1) return PP_OK;
  enum { NAME = MPI_MAX_PROCESSOR_NAME + 1 };
  char *names = calloc((size_t)size, NAME);
  PP_CHECK(names, PP_ERR_MEMORY, "out of memory gathering %d host names", size);
  int rc = MPI_Allgather(host, NAME, MPI_CHAR, names, NAME, MPI_CHAR, comm);
  if (rc != MPI_SUCCESS) {
    free(names);
    return pp_mpi_error(rc, __FILE__, __LINE__, __func__, "gathering host names (MPI_Allgather)");
  }
  int same_host = 0, color = rank;
  for (int r = size - 1; r >= 0; --r) {
    if (strcmp(names + (size_t)r * NAME, host) == 0) {
      ++same_host;
      color = r; /* ends as the lowest rank on this host */
    }
  }
  free(names);
  int suspicious = node_size == 1 && same_host > 1, any_suspicious = 0;
  PP_MPI(MPI_Allreduce(&suspicious, &any_suspicious, 1, MPI_INT, MPI_MAX, comm),
           "agreeing on the node split (MPI_Allreduce)");
  if (!any_suspicious) return PP_OK;
  PP_MPI(MPI_Comm_free(node), "freeing the node communicator");
  PP_MPI(MPI_Comm_split(comm, color, rank, node), "splitting the communicator by host name (MPI_Comm_split)");
  return PP_OK;
}

/* This rank's device choice and checks; no collective calls inside. */
static pp_err choose_local(pp_clrt *c, const pp_clrt_options *options)
{
  pp_device_info *devices = NULL;
  int count = 0;
  PP_CALL(pp_clrt_list_devices(&devices, &count));
  int chosen = -1;
  pp_err err = choose_device(devices, count, options, c->local_rank, c->host, &chosen, c->chosen_by,
                             sizeof c->chosen_by);
  if (err == PP_OK) c->device = devices[chosen];
  free(devices);
  PP_CALL(err);
  const pp_device_info *d = &c->device;
  if (c->use_double && (!d->has_fp64 || fake_no_fp64(c->rank))) {
    PP_RAISE(PP_ERR_DEVICE, "device %s (%d:%d, %s) on host %s has no fp64 (cl_khr_fp64); set runtime.precision: float",
             d->device_name, d->platform_index, d->device_index, d->platform_name, c->host);
  }
  return PP_OK;
}

static pp_err create_context(pp_clrt *c)
{
  char what[512];
  cl_int status = CL_SUCCESS;
  cl_context_properties properties[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)c->device.platform_id, 0};
  c->context = clCreateContext(properties, 1, &c->device.device_id, NULL, NULL, &status);
  snprintf(what, sizeof what, "creating an OpenCL context on %s (%d:%d)", c->device.device_name,
           c->device.platform_index, c->device.device_index);
  PP_CL(status, what);
  /* Profiling only on request: the property can slow some drivers, and timing must never be
   * able to change results (TeaLeaf's profiler_on). */
  cl_command_queue_properties queue_properties = c->profiling ? CL_QUEUE_PROFILING_ENABLE : 0;
  c->queue = clCreateCommandQueue(c->context, c->device.device_id, queue_properties, &status);
  snprintf(what, sizeof what, "creating the command queue on %s", c->device.device_name);
  PP_CL(status, what);
  return PP_OK;
}

static void release_resources(pp_clrt *c)
{
  for (int i = 0; i < c->pending_count; ++i) clReleaseEvent(c->pending[i].event);
  for (int i = 0; i < c->kernel_count; ++i) {
    clReleaseKernel(c->kernels[i].kernel);
    free(c->kernels[i].name);
  }
  for (int i = 0; i < c->program_count; ++i) {
    clReleaseProgram(c->programs[i].program);
    free(c->programs[i].file);
    free(c->programs[i].options);
  }
  if (c->queue) clReleaseCommandQueue(c->queue);
  if (c->context) clReleaseContext(c->context);
  free(c->pending);
  free(c->kernels);
  free(c->programs);
  free(c->rows);
}

void pp_clrt_destroy(pp_clrt *clrt)
{
  if (!clrt) return;
  if (clrt->queue) clFinish(clrt->queue); /* nothing may still use the buffers being freed */
  release_resources(clrt);
  free(clrt);
}

/* The collective part that decides whether anyone failed: every rank contributes its local code
 * and all see the whole list, so the message can name the failing ranks (one Allgather does the
 * work of an Allreduce(MAX) plus the gather). */
static pp_err agree(MPI_Comm comm, int rank, int size, pp_err local)
{
  int *codes = malloc((size_t)size * sizeof *codes);
  int rc = codes ? MPI_Allgather(&local, 1, MPI_INT, codes, 1, MPI_INT, comm) : MPI_SUCCESS;
  if (!codes || rc != MPI_SUCCESS) {
    /* Without the list we cannot agree; keep the local error if there is one. */
    free(codes);
    if (local != PP_OK) return local;
    if (!codes) PP_RAISE(PP_ERR_MEMORY, "out of memory agreeing on the OpenCL setup");
    return pp_mpi_error(rc, __FILE__, __LINE__, __func__, "agreeing on the OpenCL setup (MPI_Allgather)");
  }
  char failed[512];
  size_t used = 0;
  int failures = 0;
  failed[0] = '\0';
  for (int r = 0; r < size; ++r) {
    if (codes[r] == PP_OK) continue;
    ++failures;
    if (used < sizeof failed) {
      int n = snprintf(failed + used, sizeof failed - used, "%s%d", used ? ", " : "", r);
      if (n > 0) used += (size_t)n;
    }
  }
  free(codes);
  if (failures == 0) return PP_OK;
  if (local != PP_OK) {
    pp_error_set_collective(PP_ERROR_COLLECTIVE); /* this rank reports its own error */
    return local;
  }
  pp_error_raise(PP_ERR_OTHER_RANK, __FILE__, __LINE__, __func__,
                 "OpenCL setup failed on rank%s %s of %d (see that rank's message); rank %d stops with it",
                 failures > 1 ? "s" : "", failed, size, rank);
  pp_error_set_collective(PP_ERROR_COLLECTIVE_QUIET); /* the failing rank reports */
  return PP_ERR_OTHER_RANK;
}

pp_err pp_clrt_create(pp_clrt **clrt, MPI_Comm comm, const pp_clrt_options *options_in)
{
  PP_CHECK(clrt, PP_ERR_ARGUMENT, "pp_clrt_create: NULL output");
  *clrt = NULL;
  pp_clrt_options options;
  if (options_in) options = *options_in;
  else pp_clrt_options_default(&options);

  int rank = 0, size = 1, host_length = 0;
  char host[MPI_MAX_PROCESSOR_NAME + 1] = {0};
  PP_MPI(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  PP_MPI(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  PP_MPI(MPI_Get_processor_name(host, &host_length), "MPI_Get_processor_name");
  MPI_Comm node = MPI_COMM_NULL;
  PP_CALL(node_communicator(comm, rank, size, host, &node));
  int local_rank = 0, local_size = 1;
  PP_MPI(MPI_Comm_rank(node, &local_rank), "MPI_Comm_rank of the node communicator");
  PP_MPI(MPI_Comm_size(node, &local_size), "MPI_Comm_size of the node communicator");

  /* Local step 1: choose the device. An error is kept, not returned: this rank must still take
   * part in the collectives below or the others would hang. */
  pp_err local = PP_OK;
  pp_clrt *c = calloc(1, sizeof *c);
  if (!c) local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory creating the OpenCL runtime");
  if (c) {
    c->rank = rank;
    c->local_rank = local_rank;
    c->local_size = local_size;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->use_double = options.use_double < 0 ? strcmp(PINPRICK_DEFAULT_REAL, "double") == 0 : options.use_double != 0;
    c->profiling = options.profiling != 0;
    c->sync_debug = options.sync_debug != 0 || env_flag("PINPRICK_CL_SYNC_DEBUG");
    local = choose_local(c, &options);
  }

  /* Collective step: who on this node uses which device. Failed ranks send an empty key. */
  char *keys = calloc((size_t)local_size, DEVICE_KEY_SIZE);
  int *cpus = calloc((size_t)local_size, sizeof *cpus), *ranks = calloc((size_t)local_size, sizeof *ranks);
  char my_key[DEVICE_KEY_SIZE] = {0};
  int my_cpu = 1;
  if (local == PP_OK) {
    pp_clrt_device_key(&c->device, my_key, sizeof my_key);
    my_cpu = !is_gpu_like(&c->device);
  }
  int rc = MPI_SUCCESS;
  if (keys && cpus && ranks) {
    rc = MPI_Allgather(my_key, DEVICE_KEY_SIZE, MPI_CHAR, keys, DEVICE_KEY_SIZE, MPI_CHAR, node);
    if (rc == MPI_SUCCESS) rc = MPI_Allgather(&my_cpu, 1, MPI_INT, cpus, 1, MPI_INT, node);
    if (rc == MPI_SUCCESS) rc = MPI_Allgather(&rank, 1, MPI_INT, ranks, 1, MPI_INT, node);
    if (rc != MPI_SUCCESS && local == PP_OK) local = pp_mpi_error(rc, __FILE__, __LINE__, __func__, "gathering device choices on the node");
    if (rc == MPI_SUCCESS && local == PP_OK)
      local = pp_clrt_check_sharing(local_size, keys, DEVICE_KEY_SIZE, cpus, ranks, local_rank, host,
                                    c->device.device_name, options.allow_shared_device);
  } else if (local == PP_OK) {
    /* Out of memory on one rank only would desynchronise the node's collectives; this is as far
     * as it can be handled. */
    local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory gathering device choices");
  }
  free(keys);
  free(cpus);
  free(ranks);
  MPI_Comm_free(&node);

  /* Local step 2: context and queue. */
  if (local == PP_OK) local = create_context(c);

  pp_err result = agree(comm, rank, size, local);
  if (result != PP_OK) {
    if (c) {
      release_resources(c);
      free(c);
    }
    return result;
  }
  *clrt = c;
  return PP_OK;
}

cl_context pp_clrt_context(const pp_clrt *clrt) { return clrt->context; }
cl_command_queue pp_clrt_queue(const pp_clrt *clrt) { return clrt->queue; }
cl_device_id pp_clrt_device_id(const pp_clrt *clrt) { return clrt->device.device_id; }
const pp_device_info *pp_clrt_device(const pp_clrt *clrt) { return &clrt->device; }
int pp_clrt_real_size(const pp_clrt *clrt) { return clrt->use_double ? 8 : 4; }
const char *pp_clrt_real_name(const pp_clrt *clrt) { return clrt->use_double ? "double" : "float"; }
int pp_clrt_profiling(const pp_clrt *clrt) { return clrt->profiling; }

void pp_clrt_describe(const pp_clrt *clrt, char *buffer, size_t size)
{
  const pp_device_info *d = &clrt->device;
  snprintf(buffer, size,
           "host %s, platform %s (%s), device %s (%d:%d), %s, fp64 %s, %.2f GiB global, %u compute units, "
           "PCI %s, driver %s, %s, chosen by %s",
           clrt->host, d->platform_name, d->platform_version, d->device_name, d->platform_index, d->device_index,
           pp_clrt_device_type_name(d->type), d->has_fp64 ? "yes" : "no", gibibytes(d->global_memory),
           d->compute_units, d->pci_bus_id, d->driver_version, pp_clrt_real_name(clrt), clrt->chosen_by);
}

/* ---- programs and kernels ------------------------------------------------------------------- */

void pp_clrt_build_options(const pp_clrt *clrt, const char *extra_options, char *buffer, size_t size)
{
  /* FP contraction is fixed in the kernels by pragma, not here, so that no option can change it. */
  snprintf(buffer, size, "-cl-std=CL1.2 -DREAL=%s -DREAL_IS_DOUBLE=%d%s%s", pp_clrt_real_name(clrt),
           clrt->use_double ? 1 : 0, extra_options && *extra_options ? " " : "", extra_options ? extra_options : "");
}

/* Options that trade accuracy for speed would make results depend on the driver and defeat the
 * fixed contraction setting; refuse them rather than silently dropping them. */
static pp_err check_options(const char *extra_options)
{
  static const char *const refused[] = {"-cl-fast-relaxed-math", "-cl-unsafe-math-optimizations", "-cl-mad-enable"};
  if (!extra_options) return PP_OK;
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; ++i)
    PP_CHECK(!has_word(extra_options, refused[i]), PP_ERR_ARGUMENT,
             "OpenCL build option %s is not allowed (results must not depend on relaxed floating point): '%s'",
             refused[i], extra_options);
  return PP_OK;
}

static pp_err build_failure(pp_clrt *clrt, cl_program program, const char *file, const char *options, cl_int status)
{
  size_t log_size = 0;
  char *log = NULL;
  if (clGetProgramBuildInfo(program, clrt->device.device_id, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) == CL_SUCCESS &&
      (log = malloc(log_size + 1)) != NULL) {
    if (clGetProgramBuildInfo(program, clrt->device.device_id, CL_PROGRAM_BUILD_LOG, log_size, log, NULL) != CL_SUCCESS)
      log_size = 0;
    log[log_size] = '\0';
  }
  pp_err err = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__,
                              "building %s for %s with options '%s' failed: %s (%d)\n--- build log ---\n%s",
                              file, clrt->device.device_name, options, pp_cl_error_name(status), (int)status,
                              log && *log ? log : "(the compiler left no log)");
  free(log);
  return err;
}

pp_err pp_clrt_build_text(pp_clrt *clrt, const pp_kernel_source *source, const char *extra_options,
                          cl_program *program)
{
  PP_CHECK(clrt && source && source->text && source->file && program, PP_ERR_ARGUMENT,
           "pp_clrt_build_text: NULL argument");
  *program = NULL;
  PP_CALL(check_options(extra_options));
  char options[2048];
  pp_clrt_build_options(clrt, extra_options, options, sizeof options);
  size_t length = source->length ? source->length : strlen(source->text);
  uint64_t hash = text_hash(source->text, length);
  for (int i = 0; i < clrt->program_count; ++i) {
    program_entry *e = &clrt->programs[i];
    if (e->hash == hash && strcmp(e->file, source->file) == 0 && strcmp(e->options, options) == 0) {
      *program = e->program;
      return PP_OK;
    }
  }

  /* A source without its own #line gets one, so compiler messages name the file, not a temp file. */
  char line_directive[600];
  snprintf(line_directive, sizeof line_directive, "#line 1 \"%s\"\n", source->file);
  int has_line = strncmp(source->text, "#line", 5) == 0;
  const char *strings[2] = {line_directive, source->text};
  size_t lengths[2] = {strlen(line_directive), length};
  cl_int status = CL_SUCCESS;
  cl_program built = clCreateProgramWithSource(clrt->context, has_line ? 1 : 2, has_line ? strings + 1 : strings,
                                               has_line ? lengths + 1 : lengths, &status);
  char what[700];
  snprintf(what, sizeof what, "creating the program %s", source->file);
  PP_CL(status, what);
  status = clBuildProgram(built, 1, &clrt->device.device_id, options, NULL, NULL);
  if (status != CL_SUCCESS) {
    pp_err err = build_failure(clrt, built, source->file, options, status);
    clReleaseProgram(built);
    return err;
  }
  pp_err err = grow((void **)&clrt->programs, &clrt->program_capacity, clrt->program_count + 1,
                    sizeof *clrt->programs, "program cache");
  program_entry entry = {duplicate(source->file), hash, duplicate(options), built};
  if (err == PP_OK && (!entry.file || !entry.options))
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory caching %s", source->file);
  if (err != PP_OK) {
    free(entry.file);
    free(entry.options);
    clReleaseProgram(built);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  clrt->programs[clrt->program_count++] = entry;
  pp_log(PP_LOG_DEBUG, "built %s with '%s'", source->file, options);
  *program = built;
  return PP_OK;
}

/* An embedded source by name ("vector_ops") or by file ("kernels/vector_ops.cl"). */
static const pp_kernel_source *find_source(const char *source_name)
{
  const pp_kernel_source *source = pp_kernel_source_find(source_name);
  for (int i = 0; !source && i < pp_kernel_source_count; ++i)
    if (strcmp(pp_kernel_sources[i].file, source_name) == 0) source = &pp_kernel_sources[i];
  return source;
}

pp_err pp_clrt_build(pp_clrt *clrt, const char *source_name, const char *extra_options, cl_program *program)
{
  PP_CHECK(clrt && source_name && program, PP_ERR_ARGUMENT, "pp_clrt_build: NULL argument");
  const pp_kernel_source *source = find_source(source_name);
  PP_CHECK(source, PP_ERR_ARGUMENT, "no embedded OpenCL source '%s' (kernels/%s.cl is not in the build)",
           source_name, source_name);
  PP_CALL(pp_clrt_build_text(clrt, source, extra_options, program));
  return PP_OK;
}

pp_err pp_clrt_kernel_with_options(pp_clrt *clrt, const char *source_name, const char *extra_options,
                                   const char *kernel_name, cl_kernel *kernel)
{
  PP_CHECK(kernel_name && kernel, PP_ERR_ARGUMENT, "pp_clrt_kernel: NULL argument");
  cl_program program = NULL;
  PP_CALL(pp_clrt_build(clrt, source_name, extra_options, &program));
  for (int i = 0; i < clrt->kernel_count; ++i) {
    if (clrt->kernels[i].program == program && strcmp(clrt->kernels[i].name, kernel_name) == 0) {
      *kernel = clrt->kernels[i].kernel;
      return PP_OK;
    }
  }
  cl_int status = CL_SUCCESS;
  cl_kernel created = clCreateKernel(program, kernel_name, &status);
  char what[512];
  snprintf(what, sizeof what, "creating kernel '%s' from %s", kernel_name, source_name);
  PP_CL(status, what);
  pp_err err = grow((void **)&clrt->kernels, &clrt->kernel_capacity, clrt->kernel_count + 1, sizeof *clrt->kernels,
                    "kernel cache");
  kernel_entry entry = {program, duplicate(kernel_name), created};
  if (err == PP_OK && !entry.name)
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory caching kernel %s", kernel_name);
  if (err != PP_OK) {
    free(entry.name);
    clReleaseKernel(created);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  clrt->kernels[clrt->kernel_count++] = entry;
  *kernel = created;
  return PP_OK;
}

pp_err pp_clrt_kernel(pp_clrt *clrt, const char *source_name, const char *kernel_name, cl_kernel *kernel)
{
  PP_CALL(pp_clrt_kernel_with_options(clrt, source_name, NULL, kernel_name, kernel));
  return PP_OK;
}

pp_err pp_clrt_triad(pp_clrt *clrt, cl_mem a, cl_mem b, cl_mem c, double s, size_t n)
{
  cl_kernel kernel;
  PP_CALL(pp_clrt_kernel(clrt, "vector_ops", "vector_triad", &kernel));
  cl_ulong count = n;
  cl_double s_double = s;
  cl_float s_float = (cl_float)s;
  PP_CL(clSetKernelArg(kernel, 0, sizeof count, &count), "setting triad argument n");
  if (clrt->use_double) PP_CL(clSetKernelArg(kernel, 1, sizeof s_double, &s_double), "setting triad argument s");
  else PP_CL(clSetKernelArg(kernel, 1, sizeof s_float, &s_float), "setting triad argument s");
  PP_CL(clSetKernelArg(kernel, 2, sizeof b, &b), "setting triad argument b");
  PP_CL(clSetKernelArg(kernel, 3, sizeof c, &c), "setting triad argument c");
  PP_CL(clSetKernelArg(kernel, 4, sizeof a, &a), "setting triad argument a");
  PP_CALL(pp_clrt_launch(clrt, kernel, "triad", n, 0));
  return PP_OK;
}

/* ---- launches and timing -------------------------------------------------------------------- */

static pp_err timing_row_index(pp_clrt *clrt, const char *label, int *row)
{
  for (int i = 0; i < clrt->row_count; ++i) {
    if (strncmp(clrt->rows[i].label, label, LABEL_SIZE - 1) == 0) {
      *row = i;
      return PP_OK;
    }
  }
  PP_CALL(grow((void **)&clrt->rows, &clrt->row_capacity, clrt->row_count + 1, sizeof *clrt->rows, "timing table"));
  timing_row *r = &clrt->rows[clrt->row_count];
  memset(r, 0, sizeof *r);
  snprintf(r->label, sizeof r->label, "%s", label);
  *row = clrt->row_count++;
  return PP_OK;
}

/* Wait for the recorded launches and add their device times to their rows. Events are kept
 * rather than waited on at launch time, so profiling does not serialise host and device. */
static pp_err collect_timings(pp_clrt *clrt)
{
  if (clrt->pending_count == 0) return PP_OK;
  PP_CL(clFinish(clrt->queue), "waiting for the timed launches (clFinish)");
  pp_err err = PP_OK;
  for (int i = 0; i < clrt->pending_count; ++i) {
    pending_event *p = &clrt->pending[i];
    cl_ulong start = 0, end = 0;
    cl_int status = clGetEventProfilingInfo(p->event, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
    if (status == CL_SUCCESS)
      status = clGetEventProfilingInfo(p->event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
    if (status == CL_SUCCESS) {
      clrt->rows[p->row].calls += 1;
      clrt->rows[p->row].total_ns += end > start ? end - start : 0;
    } else if (err == PP_OK) {
      err = pp_error_raise(PP_ERR_OPENCL, __FILE__, __LINE__, __func__, "reading the time of kernel '%s': %s (%d)",
                           clrt->rows[p->row].label, pp_cl_error_name(status), (int)status);
    }
    clReleaseEvent(p->event);
  }
  clrt->pending_count = 0;
  return err;
}

pp_err pp_clrt_launch(pp_clrt *clrt, cl_kernel kernel, const char *label, size_t global_size, size_t local_size)
{
  PP_CHECK(clrt && kernel, PP_ERR_ARGUMENT, "pp_clrt_launch: NULL argument");
  if (!label) label = "kernel";
  if (global_size == 0) return PP_OK; /* an empty range is invalid in OpenCL 1.2 and means nothing to do */
  size_t kernel_limit = 0;
  char what[256];
  snprintf(what, sizeof what, "reading CL_KERNEL_WORK_GROUP_SIZE of kernel '%s'", label);
  PP_CL(clGetKernelWorkGroupInfo(kernel, clrt->device.device_id, CL_KERNEL_WORK_GROUP_SIZE, sizeof kernel_limit,
                                 &kernel_limit, NULL),
        what);
  size_t limit = kernel_limit < clrt->device.max_work_item_size ? kernel_limit : clrt->device.max_work_item_size;
  if (local_size == 0) local_size = DEFAULT_LOCAL_SIZE < limit ? DEFAULT_LOCAL_SIZE : limit;
  PP_CHECK(local_size <= limit, PP_ERR_DEVICE,
           "kernel '%s': work-group size %zu is larger than the %zu this kernel allows on %s "
           "(CL_KERNEL_WORK_GROUP_SIZE %zu, CL_DEVICE_MAX_WORK_ITEM_SIZES[0] %zu); use a smaller work-group size",
           label, local_size, limit, clrt->device.device_name, kernel_limit, clrt->device.max_work_item_size);
  PP_CHECK(global_size <= SIZE_MAX - local_size, PP_ERR_ARGUMENT, "kernel '%s': global size %zu too large", label,
           global_size);
  size_t padded = (global_size + local_size - 1) / local_size * local_size;

  int row = -1;
  if (clrt->profiling) PP_CALL(timing_row_index(clrt, label, &row));
  cl_event event = NULL;
  cl_int status = clEnqueueNDRangeKernel(clrt->queue, kernel, 1, NULL, &padded, &local_size, 0, NULL,
                                         clrt->profiling ? &event : NULL);
  PP_CHECK(status == CL_SUCCESS, PP_ERR_OPENCL, "launching kernel '%s' (global %zu padded to %zu, local %zu): %s (%d)",
           label, global_size, padded, local_size, pp_cl_error_name(status), (int)status);
  if (clrt->profiling) {
    pp_err err = grow((void **)&clrt->pending, &clrt->pending_capacity, clrt->pending_count + 1,
                      sizeof *clrt->pending, "timing event list");
    if (err != PP_OK) {
      clReleaseEvent(event);
      return pp_error_trace(err, __FILE__, __LINE__, __func__);
    }
    clrt->pending[clrt->pending_count++] = (pending_event){event, row};
  }
  if (clrt->sync_debug) {
    /* NiftySim's sync-debug idea: an asynchronous failure is reported against this kernel. */
    status = clFinish(clrt->queue);
    PP_CHECK(status == CL_SUCCESS, PP_ERR_OPENCL, "kernel '%s' failed (PINPRICK_CL_SYNC_DEBUG clFinish): %s (%d)",
             label, pp_cl_error_name(status), (int)status);
    if (event) {
      cl_int execution = CL_COMPLETE;
      status = clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof execution, &execution, NULL);
      PP_CHECK(status == CL_SUCCESS && execution >= 0, PP_ERR_OPENCL,
               "kernel '%s' failed (PINPRICK_CL_SYNC_DEBUG): execution status %s (%d)", label,
               pp_cl_error_name(status == CL_SUCCESS ? execution : status),
               (int)(status == CL_SUCCESS ? execution : status));
    }
  }
  /* Bound the number of live events on long runs. */
  if (clrt->pending_count >= PENDING_LIMIT) PP_CALL(collect_timings(clrt));
  return PP_OK;
}

pp_err pp_clrt_finish(pp_clrt *clrt, const char *what)
{
  cl_int status = clFinish(clrt->queue);
  PP_CHECK(status == CL_SUCCESS, PP_ERR_OPENCL, "waiting for the device (%s): %s (%d)", what ? what : "clFinish",
           pp_cl_error_name(status), (int)status);
  return PP_OK;
}

pp_err pp_clrt_timing(pp_clrt *clrt, const char *label, long *calls, double *seconds)
{
  PP_CALL(collect_timings(clrt));
  *calls = 0;
  *seconds = 0.0;
  for (int i = 0; i < clrt->row_count; ++i) {
    if (strncmp(clrt->rows[i].label, label, LABEL_SIZE - 1) == 0) {
      *calls = clrt->rows[i].calls;
      *seconds = (double)clrt->rows[i].total_ns * 1e-9;
    }
  }
  return PP_OK;
}

static int slower_first(const void *a, const void *b)
{
  const timing_row *x = a, *y = b;
  return (x->total_ns < y->total_ns) - (x->total_ns > y->total_ns);
}

pp_err pp_clrt_print_timing(pp_clrt *clrt, FILE *out)
{
  if (!clrt->profiling) {
    fprintf(out, "kernel timing: off (enable profiling to time kernels with OpenCL events)\n");
    return PP_OK;
  }
  PP_CALL(collect_timings(clrt));
  timing_row *sorted = NULL;
  PP_MALLOC(sorted, clrt->row_count ? clrt->row_count : 1, "timing table");
  if (clrt->row_count) memcpy(sorted, clrt->rows, (size_t)clrt->row_count * sizeof *sorted);
  qsort(sorted, (size_t)clrt->row_count, sizeof *sorted, slower_first);
  double all = 0.0;
  for (int i = 0; i < clrt->row_count; ++i) all += (double)sorted[i].total_ns * 1e-9;
  fprintf(out, "%-32s %10s %12s %12s %7s\n", "kernel", "calls", "total [s]", "mean [ms]", "share");
  for (int i = 0; i < clrt->row_count; ++i) {
    double total = (double)sorted[i].total_ns * 1e-9;
    fprintf(out, "%-32s %10ld %12.6f %12.6f %6.1f%%\n", sorted[i].label, sorted[i].calls, total,
            sorted[i].calls ? 1e3 * total / (double)sorted[i].calls : 0.0, all > 0 ? 100.0 * total / all : 0.0);
  }
  fprintf(out, "%-32s %10s %12.6f\n", "all kernels", "", all);
  free(sorted);
  return PP_OK;
}

/* ---- buffers -------------------------------------------------------------------------------- */

pp_err pp_clrt_buffer(pp_clrt *clrt, cl_mem_flags flags, size_t bytes, const char *what, cl_mem *out)
{
  PP_CHECK(clrt && out, PP_ERR_ARGUMENT, "pp_clrt_buffer: NULL argument");
  if (!what) what = "buffer";
  *out = NULL;
  /* Checked here because the driver's answer (-61 CL_INVALID_BUFFER_SIZE) does not say which
   * buffer or what the limit is (BabelStream does the same check). */
  PP_CHECK((cl_ulong)bytes <= clrt->device.max_alloc, PP_ERR_DEVICE,
           "buffer '%s' needs %zu bytes (%.1f MiB), but device %s allows at most %llu bytes (%.1f MiB) in one "
           "buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE); use more ranks or a smaller problem",
           what, bytes, (double)bytes / 1048576.0, clrt->device.device_name,
           (unsigned long long)clrt->device.max_alloc, (double)clrt->device.max_alloc / 1048576.0);
  cl_int status = CL_SUCCESS;
  *out = clCreateBuffer(clrt->context, flags, bytes ? bytes : 1, NULL, &status);
  PP_CHECK(status == CL_SUCCESS, PP_ERR_OPENCL, "creating buffer '%s' of %zu bytes: %s (%d)", what, bytes,
           pp_cl_error_name(status), (int)status);
  return PP_OK;
}

pp_err pp_clrt_write(pp_clrt *clrt, cl_mem buffer, size_t offset, size_t bytes, const void *host, const char *what)
{
  if (bytes == 0) return PP_OK;
  cl_int status = clEnqueueWriteBuffer(clrt->queue, buffer, CL_TRUE, offset, bytes, host, 0, NULL, NULL);
  PP_CHECK(status == CL_SUCCESS, PP_ERR_OPENCL, "writing %zu bytes to buffer '%s': %s (%d)", bytes,
           what ? what : "?", pp_cl_error_name(status), (int)status);
  return PP_OK;
}

pp_err pp_clrt_read(pp_clrt *clrt, cl_mem buffer, size_t offset, size_t bytes, void *host, const char *what)
{
  if (bytes == 0) return PP_OK;
  cl_int status = clEnqueueReadBuffer(clrt->queue, buffer, CL_TRUE, offset, bytes, host, 0, NULL, NULL);
  PP_CHECK(status == CL_SUCCESS, PP_ERR_OPENCL, "reading %zu bytes from buffer '%s': %s (%d)", bytes,
           what ? what : "?", pp_cl_error_name(status), (int)status);
  return PP_OK;
}

pp_err pp_clrt_write_reals(pp_clrt *clrt, cl_mem buffer, const double *values, size_t count, const char *what)
{
  if (count == 0) return PP_OK;
  if (pp_clrt_real_size(clrt) == 8) {
    PP_CALL(pp_clrt_write(clrt, buffer, 0, count * sizeof(double), values, what));
    return PP_OK;
  }
  float *f = malloc(count * sizeof *f);
  PP_CHECK(f, PP_ERR_MEMORY, "out of memory converting %s", what);
  for (size_t i = 0; i < count; ++i) f[i] = (float)values[i];
  pp_err err = pp_clrt_write(clrt, buffer, 0, count * sizeof(float), f, what);
  free(f);
  PP_CALL(err);
  return PP_OK;
}

pp_err pp_clrt_read_reals(pp_clrt *clrt, cl_mem buffer, double *values, size_t count, const char *what)
{
  if (count == 0) return PP_OK;
  if (pp_clrt_real_size(clrt) == 8) {
    PP_CALL(pp_clrt_read(clrt, buffer, 0, count * sizeof(double), values, what));
    return PP_OK;
  }
  float *f = malloc(count * sizeof *f);
  PP_CHECK(f, PP_ERR_MEMORY, "out of memory converting %s", what);
  pp_err err = pp_clrt_read(clrt, buffer, 0, count * sizeof(float), f, what);
  for (size_t i = 0; err == PP_OK && i < count; ++i) values[i] = f[i];
  free(f);
  PP_CALL(err);
  return PP_OK;
}

pp_err pp_clrt_set_real_arg(pp_clrt *clrt, cl_kernel kernel, cl_uint index, double value, const char *what)
{
  if (pp_clrt_real_size(clrt) == 8) {
    PP_CL(clSetKernelArg(kernel, index, sizeof value, &value), what);
  } else {
    float f = (float)value;
    PP_CL(clSetKernelArg(kernel, index, sizeof f, &f), what);
  }
  return PP_OK;
}
