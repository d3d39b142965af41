#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "log.h"
#include "run_record.h"
#include "version.h"

/* Folder names are kept shorter than paths so that a folder plus a file name always fits. */
enum { PATH_SIZE = 4096, DIR_SIZE = PATH_SIZE - 512, HASH_SIZE = 128, KEEP = 2 };

typedef struct {
  pp_h5_field field; /* name, units, centring, components, int or double */
  void *values;
} registered_field;

typedef struct {
  char name[PP_H5_NAME_SIZE];
  int is_int64;
  void *value;
} registered_scalar;

struct pp_checkpoint {
  const pp_runtime *runtime;
  char folder[DIR_SIZE]; /* <dir>/checkpoint */
  pp_io_mesh mesh;
  pp_h5_rows node_rows, cell_rows;
  registered_field *fields;
  int field_count, field_capacity;
  registered_scalar *scalars;
  int scalar_count, scalar_capacity;
};

static int valid_text(const char *text, size_t size)
{
  if (!text || strlen(text) >= size) return 0;
  for (const char *c = text; *c; ++c)
    if (*c < 32 || *c > 126 || *c == '"' || *c == '<' || *c == '>' || *c == '&') return 0;
  return 1;
}

pp_err pp_checkpoint_create(pp_checkpoint **out, const pp_runtime *runtime, const char *dir, const pp_io_mesh *mesh)
{
  *out = NULL;
  pp_err local = PP_OK;
  if (!dir || !*dir || strlen(dir) + 64 >= DIR_SIZE)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__, "checkpoint: invalid output folder");
  PP_CALL(pp_runtime_agree(runtime, local, "creating the checkpoint writer"));
  PP_CALL(pp_h5_check_mesh(runtime, mesh));
  pp_checkpoint *checkpoint = calloc(1, sizeof *checkpoint);
  if (!checkpoint) local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  if (checkpoint) {
    checkpoint->runtime = runtime;
    checkpoint->mesh = *mesh;
    snprintf(checkpoint->folder, sizeof checkpoint->folder, "%s/checkpoint", dir);
    local = pp_h5_rows_build(&checkpoint->node_rows, mesh->owned_node_ids, mesh->owned_node_count,
                             mesh->global_node_count, "checkpoint mesh nodes");
    if (local == PP_OK)
      local = pp_h5_rows_build(&checkpoint->cell_rows, mesh->owned_cell_ids, mesh->owned_cell_count,
                               mesh->global_cell_count, "checkpoint mesh cells");
    if (local == PP_OK && runtime->rank == 0) local = pp_h5_make_directories(checkpoint->folder);
  }
  local = pp_runtime_agree(runtime, local, "creating the checkpoint folder");
  if (local != PP_OK) {
    pp_checkpoint_free(&checkpoint);
    return pp_error_trace(local, __FILE__, __LINE__, __func__);
  }
  *out = checkpoint;
  return PP_OK;
}

void pp_checkpoint_free(pp_checkpoint **handle)
{
  if (!handle || !*handle) return;
  pp_checkpoint *checkpoint = *handle;
  pp_h5_rows_free(&checkpoint->node_rows);
  pp_h5_rows_free(&checkpoint->cell_rows);
  free(checkpoint->fields);
  free(checkpoint->scalars);
  free(checkpoint);
  *handle = NULL;
}

static int name_taken(const pp_checkpoint *checkpoint, const char *name)
{
  for (int i = 0; i < checkpoint->field_count; ++i)
    if (strcmp(checkpoint->fields[i].field.name, name) == 0) return 1;
  for (int i = 0; i < checkpoint->scalar_count; ++i)
    if (strcmp(checkpoint->scalars[i].name, name) == 0) return 1;
  return 0;
}

static pp_err register_field(pp_checkpoint *checkpoint, const char *name, const char *units, int cell, int components,
                             int is_int, void *values)
{
  pp_err local = PP_OK;
  int owned = cell ? checkpoint->mesh.owned_cell_count : checkpoint->mesh.owned_node_count;
  if (!pp_h5_valid_name(name) || name_taken(checkpoint, name))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "checkpoint: field name '%s' is invalid or already registered", name ? name : "(null)");
  else if (!valid_text(units, PP_H5_UNITS_SIZE))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__, "checkpoint: field '%s' has invalid units",
                           name);
  else if (components != 1 && components != 3 && components != 9)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "checkpoint: field '%s' has %d components; 1, 3 or 9 are accepted", name, components);
  else if (owned && !values)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "checkpoint: field '%s' has no array on rank %d", name, checkpoint->runtime->rank);
  if (local == PP_OK && checkpoint->field_count == checkpoint->field_capacity) {
    int capacity = checkpoint->field_capacity ? 2 * checkpoint->field_capacity : 16;
    registered_field *grown = realloc(checkpoint->fields, sizeof *grown * (size_t)capacity);
    if (!grown)
      local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory registering '%s'", name);
    else {
      checkpoint->fields = grown;
      checkpoint->field_capacity = capacity;
    }
  }
  PP_CALL(pp_runtime_agree(checkpoint->runtime, local, "registering checkpoint state"));
  registered_field *item = &checkpoint->fields[checkpoint->field_count++];
  memset(item, 0, sizeof *item);
  snprintf(item->field.name, sizeof item->field.name, "%s", name);
  snprintf(item->field.units, sizeof item->field.units, "%s", units);
  item->field.cell = cell;
  item->field.components = components;
  item->field.is_int = is_int;
  item->values = values;
  return PP_OK;
}

pp_err pp_checkpoint_register_node_field(pp_checkpoint *checkpoint, const char *name, const char *units,
                                         int components, double *owned_values)
{
  return register_field(checkpoint, name, units, 0, components, 0, owned_values);
}

pp_err pp_checkpoint_register_cell_field(pp_checkpoint *checkpoint, const char *name, const char *units,
                                         int components, double *owned_values)
{
  return register_field(checkpoint, name, units, 1, components, 0, owned_values);
}

pp_err pp_checkpoint_register_cell_field_int(pp_checkpoint *checkpoint, const char *name, const char *units,
                                             int *owned_values)
{
  return register_field(checkpoint, name, units, 1, 1, 1, owned_values);
}

static pp_err register_scalar(pp_checkpoint *checkpoint, const char *name, int is_int64, void *value)
{
  pp_err local = PP_OK;
  if (!pp_h5_valid_name(name) || name_taken(checkpoint, name) || !value)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "checkpoint: scalar '%s' is invalid, has no storage or is already registered",
                           name ? name : "(null)");
  if (local == PP_OK && checkpoint->scalar_count == checkpoint->scalar_capacity) {
    int capacity = checkpoint->scalar_capacity ? 2 * checkpoint->scalar_capacity : 16;
    registered_scalar *grown = realloc(checkpoint->scalars, sizeof *grown * (size_t)capacity);
    if (!grown)
      local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory registering '%s'", name);
    else {
      checkpoint->scalars = grown;
      checkpoint->scalar_capacity = capacity;
    }
  }
  PP_CALL(pp_runtime_agree(checkpoint->runtime, local, "registering checkpoint state"));
  registered_scalar *item = &checkpoint->scalars[checkpoint->scalar_count++];
  snprintf(item->name, sizeof item->name, "%s", name);
  item->is_int64 = is_int64;
  item->value = value;
  return PP_OK;
}

pp_err pp_checkpoint_register_scalar_double(pp_checkpoint *checkpoint, const char *name, double *value)
{
  return register_scalar(checkpoint, name, 0, value);
}

pp_err pp_checkpoint_register_scalar_int64(pp_checkpoint *checkpoint, const char *name, long long *value)
{
  return register_scalar(checkpoint, name, 1, value);
}

/* ---- checksums: order- and rank-count-independent ---- */

static uint64_t mix64(uint64_t x)
{
  /* splitmix64 finaliser: every input bit affects every output bit. */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* Sum over this rank's rows of a hash of (global id, the row's values as 64-bit patterns);
 * summed over ranks with MPI_SUM (modulo 2^64), it is the same for any partition. */
static uint64_t local_checksum(const registered_field *item, const long long *ids, int rows, const void *values)
{
  uint64_t sum = 0;
  int columns = item->field.components;
  for (int r = 0; r < rows; ++r) {
    uint64_t h = mix64((uint64_t)ids[r] + 0x9e3779b97f4a7c15ULL);
    for (int c = 0; c < columns; ++c) {
      uint64_t bits;
      if (item->field.is_int) {
        bits = (uint64_t)(int64_t)((const int *)values)[(size_t)r * columns + c];
      } else {
        double v = ((const double *)values)[(size_t)r * columns + c];
        memcpy(&bits, &v, sizeof bits);
      }
      h = mix64(h ^ bits) + (uint64_t)c;
    }
    sum += h;
  }
  return sum;
}

static pp_err global_checksum(const pp_checkpoint *checkpoint, const registered_field *item, const void *values,
                              uint64_t *sum)
{
  int cell = item->field.cell;
  const long long *ids = cell ? checkpoint->mesh.owned_cell_ids : checkpoint->mesh.owned_node_ids;
  int rows = cell ? checkpoint->mesh.owned_cell_count : checkpoint->mesh.owned_node_count;
  uint64_t local = local_checksum(item, ids, rows, values);
  PP_MPI(MPI_Allreduce(&local, sum, 1, MPI_UINT64_T, MPI_SUM, checkpoint->runtime->comm), "summing a checksum");
  return PP_OK;
}

/* ---- writing ---- */

static void checkpoint_path(const pp_checkpoint *checkpoint, char *path, size_t size, long long step,
                            const char *suffix)
{
  snprintf(path, size, "%s/ckpt_%09lld%s", checkpoint->folder, step, suffix);
}

/* Global scalars must agree bit for bit across ranks, or the file would hold rank 0's only. */
static pp_err check_scalars_agree(const pp_checkpoint *checkpoint)
{
  int n = checkpoint->scalar_count;
  if (n == 0) return PP_OK;
  long long *bits = calloc((size_t)n * 3, sizeof *bits);
  PP_CHECK(bits, PP_ERR_MEMORY, "out of memory comparing checkpoint scalars");
  for (int i = 0; i < n; ++i) memcpy(&bits[i], checkpoint->scalars[i].value, sizeof *bits);
  int mpi_code = MPI_Allreduce(bits, bits + n, n, MPI_LONG_LONG, MPI_MIN, checkpoint->runtime->comm);
  if (mpi_code == MPI_SUCCESS)
    mpi_code = MPI_Allreduce(bits, bits + 2 * n, n, MPI_LONG_LONG, MPI_MAX, checkpoint->runtime->comm);
  pp_err code = PP_OK;
  if (mpi_code != MPI_SUCCESS)
    code = pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "comparing checkpoint scalars across ranks");
  for (int i = 0; code == PP_OK && i < n; ++i)
    if (bits[n + i] != bits[2 * n + i])
      code = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                            "checkpoint scalar '%s' differs between ranks; a global scalar must be the same on all",
                            checkpoint->scalars[i].name);
  free(bits);
  return code;
}

static pp_err write_contents(pp_checkpoint *checkpoint, hid_t file, long long step, double time,
                             const char *config_hash)
{
  PP_CALL(pp_h5_write_attr_string(file, "format", PP_CHECKPOINT_FORMAT));
  PP_CALL(pp_h5_write_attr_int(file, "format_version", PP_CHECKPOINT_FORMAT_VERSION));
  PP_CALL(pp_h5_write_attr_string(file, "pinprick_version", pp_version()));
  PP_CALL(pp_h5_write_attr_string(file, "git_hash", pp_version_git()));
  PP_CALL(pp_h5_write_attr_int64(file, "step", step));
  PP_CALL(pp_h5_write_attr_double(file, "time", time));
  PP_CALL(pp_h5_write_attr_string(file, "time_unit", "s"));
  PP_CALL(pp_h5_write_attr_string(file, "config_hash", config_hash));
  PP_CALL(pp_h5_write_mesh(checkpoint->runtime, file, &checkpoint->mesh, &checkpoint->node_rows,
                           &checkpoint->cell_rows, 0));
  hid_t group = H5Gcreate2(file, "fields", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PP_H5(group, "creating group /fields");
  pp_err code = PP_OK;
  for (int i = 0; code == PP_OK && i < checkpoint->field_count; ++i) {
    const registered_field *item = &checkpoint->fields[i];
    const pp_h5_field *f = &item->field;
    uint64_t sum = 0;
    code = global_checksum(checkpoint, item, item->values, &sum);
    hid_t dataset = -1;
    if (code == PP_OK)
      code = pp_h5_create_table(group, f->name, f->is_int ? H5T_STD_I32LE : H5T_IEEE_F64LE,
                                f->cell ? checkpoint->mesh.global_cell_count : checkpoint->mesh.global_node_count,
                                f->components, f->units, f->cell ? "cell" : "node", &dataset);
    if (code == PP_OK) code = pp_h5_write_attr_uint64(dataset, "checksum", sum);
    if (code == PP_OK)
      code = pp_h5_write_rows(dataset, f->is_int ? H5T_NATIVE_INT : H5T_NATIVE_DOUBLE,
                              f->cell ? &checkpoint->cell_rows : &checkpoint->node_rows, f->components, item->values);
    pp_h5_close(&dataset);
  }
  pp_h5_close(&group);
  PP_CALL(code);
  group = H5Gcreate2(file, "scalars", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PP_H5(group, "creating group /scalars");
  for (int i = 0; code == PP_OK && i < checkpoint->scalar_count; ++i) {
    const registered_scalar *s = &checkpoint->scalars[i];
    code = s->is_int64 ? pp_h5_write_attr_int64(group, s->name, *(const long long *)s->value)
                       : pp_h5_write_attr_double(group, s->name, *(const double *)s->value);
  }
  pp_h5_close(&group);
  return code;
}

static int parse_checkpoint_name(const char *file_name, long long *step, int *tmp)
{
  int length = 0;
  if (strncmp(file_name, "ckpt_", 5) != 0 || sscanf(file_name, "ckpt_%lld.h5%n", step, &length) != 1 || length == 0)
    return 0;
  if (file_name[length] == '\0') *tmp = 0;
  else if (strcmp(file_name + length, ".tmp") == 0) *tmp = 1;
  else return 0;
  return 1;
}

static int compare_long_long_descending(const void *a, const void *b)
{
  long long x = *(const long long *)a, y = *(const long long *)b;
  return x > y ? -1 : x < y;
}

/* Rank 0: complete checkpoints, newest first; *tmp_count leftovers from killed writes. */
static pp_err list_checkpoints(const pp_checkpoint *checkpoint, long long **steps, int *count)
{
  *steps = NULL;
  *count = 0;
  DIR *folder = opendir(checkpoint->folder);
  PP_CHECK(folder, PP_ERR_IO, "cannot list the checkpoint folder %s: %s", checkpoint->folder, strerror(errno));
  int capacity = 0;
  struct dirent *entry;
  pp_err code = PP_OK;
  while (code == PP_OK && (entry = readdir(folder))) {
    long long step = 0;
    int tmp = 0;
    if (!parse_checkpoint_name(entry->d_name, &step, &tmp) || tmp) continue;
    if (*count == capacity) {
      capacity = capacity ? 2 * capacity : 8;
      long long *grown = realloc(*steps, sizeof *grown * (size_t)capacity);
      if (!grown) {
        code = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory listing checkpoints");
        break;
      }
      *steps = grown;
    }
    (*steps)[(*count)++] = step;
  }
  closedir(folder);
  if (code != PP_OK) {
    free(*steps);
    *steps = NULL;
    *count = 0;
    return code;
  }
  if (*count > 0) qsort(*steps, (size_t)*count, sizeof **steps, compare_long_long_descending);
  return PP_OK;
}

/* Rank 0, after a successful write: delete all but the KEEP newest, and leftover .tmp files. */
static pp_err prune(const pp_checkpoint *checkpoint)
{
  long long *steps = NULL;
  int count = 0;
  PP_CALL(list_checkpoints(checkpoint, &steps, &count));
  pp_err code = PP_OK;
  for (int i = KEEP; code == PP_OK && i < count; ++i) {
    char path[PATH_SIZE];
    /* Index first, so a ParaView user never sees an index without its data. */
    checkpoint_path(checkpoint, path, sizeof path, steps[i], ".xdmf");
    if (unlink(path) != 0 && errno != ENOENT)
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot remove %s: %s", path, strerror(errno));
    checkpoint_path(checkpoint, path, sizeof path, steps[i], ".h5");
    if (code == PP_OK && unlink(path) != 0 && errno != ENOENT)
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot remove %s: %s", path, strerror(errno));
  }
  free(steps);
  DIR *folder = opendir(checkpoint->folder);
  struct dirent *entry;
  while (code == PP_OK && folder && (entry = readdir(folder))) {
    long long step = 0;
    int tmp = 0;
    if (!parse_checkpoint_name(entry->d_name, &step, &tmp) || !tmp) continue;
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s", checkpoint->folder, entry->d_name);
    unlink(path);
  }
  if (folder) closedir(folder);
  return code;
}

static pp_err write_index(const pp_checkpoint *checkpoint, long long step, double time)
{
  pp_h5_field *fields = NULL;
  PP_MALLOC(fields, checkpoint->field_count, "checkpoint index fields");
  for (int i = 0; i < checkpoint->field_count; ++i) fields[i] = checkpoint->fields[i].field;
  char file_name[64], grid_name[64], path[PATH_SIZE];
  snprintf(file_name, sizeof file_name, "ckpt_%09lld.h5", step);
  snprintf(grid_name, sizeof grid_name, "ckpt_%09lld", step);
  pp_h5_xdmf_grid grid = {time, grid_name, file_name, "/fields", fields, checkpoint->field_count};
  pp_h5_xdmf xdmf = {"checkpoint", "s", file_name, 0, checkpoint->mesh.global_node_count,
                     checkpoint->mesh.global_cell_count, &grid, 1};
  checkpoint_path(checkpoint, path, sizeof path, step, ".xdmf");
  pp_err code = pp_write_file_atomic(path, pp_h5_xdmf_print, &xdmf);
  free(fields);
  return code;
}

pp_err pp_checkpoint_write(pp_checkpoint *checkpoint, long long step, double time, const char *config_hash)
{
  const pp_runtime *runtime = checkpoint->runtime;
  pp_err local = PP_OK;
  if (step < 0 || !isfinite(time) || !valid_text(config_hash, HASH_SIZE))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "checkpoint: step %lld, time %g or config hash is invalid", step, time);
  if (local == PP_OK) local = check_scalars_agree(checkpoint);
  PP_CALL(pp_runtime_agree(runtime, local, "preparing a checkpoint"));
  char tmp[PATH_SIZE], final[PATH_SIZE];
  checkpoint_path(checkpoint, tmp, sizeof tmp, step, ".h5.tmp");
  checkpoint_path(checkpoint, final, sizeof final, step, ".h5");
  hid_t file = -1;
  PP_CALL(pp_runtime_agree(runtime, pp_h5_create_parallel(runtime, tmp, &file), "creating a checkpoint"));
  local = write_contents(checkpoint, file, step, time, config_hash);
  if (H5Fclose(file) < 0 && local == PP_OK) local = pp_h5_error(__FILE__, __LINE__, __func__, "closing a checkpoint");
  if (local != PP_OK) pp_error_context(local, "writing checkpoint %s", tmp);
  local = pp_runtime_agree(runtime, local, "writing a checkpoint");
  if (local != PP_OK) {
    if (runtime->rank == 0) unlink(tmp);
    return pp_error_trace(local, __FILE__, __LINE__, __func__);
  }
  /* Every rank has closed the file (the agreement above): only now may it get its final name. */
  if (runtime->rank == 0) {
    if (rename(tmp, final) != 0)
      local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot rename %s to %s: %s", tmp, final,
                             strerror(errno));
    if (local == PP_OK) local = write_index(checkpoint, step, time);
    if (local == PP_OK) local = prune(checkpoint);
  }
  PP_CALL(pp_runtime_agree(runtime, local, "publishing a checkpoint"));
  return PP_OK;
}

/* ---- reading ---- */

pp_err pp_checkpoint_latest_path(const pp_checkpoint *checkpoint, char *path, size_t size)
{
  pp_err local = PP_OK;
  char found[PATH_SIZE] = "";
  if (checkpoint->runtime->rank == 0) {
    long long *steps = NULL;
    int count = 0;
    local = list_checkpoints(checkpoint, &steps, &count);
    if (local == PP_OK && count > 0) checkpoint_path(checkpoint, found, sizeof found, steps[0], ".h5");
    free(steps);
  }
  PP_CALL(pp_runtime_agree(checkpoint->runtime, local, "finding the newest checkpoint"));
  PP_MPI(MPI_Bcast(found, PATH_SIZE, MPI_CHAR, 0, checkpoint->runtime->comm), "sharing the checkpoint path");
  snprintf(path, size, "%s", found);
  return PP_OK;
}

/* Rank 0, before any collective HDF5 call: is this file one we can read? A damaged file is then
 * refused by every rank together, instead of some ranks failing inside a collective open. */
static pp_err inspect(const pp_checkpoint *checkpoint, const char *path, const char *config_hash, int force)
{
  hid_t file = -1;
  pp_err code = pp_h5_open_serial(path, &file);
  if (code != PP_OK) {
    /* The HDF5 text (e.g. "truncated file: eof = ...") stays in the message every rank gets. */
    char reason[1536];
    snprintf(reason, sizeof reason, "%s", pp_error_message());
    PP_RAISE(PP_ERR_IO, "checkpoint %s is damaged or truncated and cannot be used for a restart (%.1000s)", path, reason);
  }
  char format[64] = "", hash[HASH_SIZE] = "";
  long long version = 0, nodes = -1, cells = -1;
  code = pp_h5_read_attr_string(file, "format", format, sizeof format);
  if (code == PP_OK) code = pp_h5_read_attr_int64(file, "format_version", &version);
  if (code == PP_OK) code = pp_h5_read_attr_string(file, "config_hash", hash, sizeof hash);
  if (code == PP_OK) code = pp_h5_read_attr_int64(file, "n_nodes", &nodes);
  if (code == PP_OK) code = pp_h5_read_attr_int64(file, "n_cells", &cells);
  if (code == PP_OK && (strcmp(format, PP_CHECKPOINT_FORMAT) != 0 || version != PP_CHECKPOINT_FORMAT_VERSION))
    code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                          "%s is format '%s' version %lld; this pinprick reads '%s' version %d", path, format, version,
                          PP_CHECKPOINT_FORMAT, PP_CHECKPOINT_FORMAT_VERSION);
  if (code == PP_OK && (nodes != checkpoint->mesh.global_node_count || cells != checkpoint->mesh.global_cell_count))
    code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                          "%s holds a mesh of %lld nodes and %lld cells, this run's mesh has %lld and %lld", path,
                          nodes, cells, checkpoint->mesh.global_node_count, checkpoint->mesh.global_cell_count);
  if (code == PP_OK && strcmp(hash, config_hash) != 0) {
    if (!force)
      code = pp_error_raise(PP_ERR_CONFIG, __FILE__, __LINE__, __func__,
                            "checkpoint %s was written with config hash %s, but this run's config hash is %s: the "
                            "physics settings differ, so the restart is refused (force it to restart anyway)",
                            path, hash, config_hash);
    else
      pp_log(PP_LOG_WARN, "restarting from %s although its config hash %s differs from this run's %s (forced)",
             path, hash, config_hash);
  }
  for (int i = 0; code == PP_OK && i < checkpoint->field_count; ++i) {
    const pp_h5_field *f = &checkpoint->fields[i].field;
    char dataset_path[PP_H5_NAME_SIZE + 16];
    snprintf(dataset_path, sizeof dataset_path, "/fields/%s", f->name);
    hid_t dataset = H5Dopen2(file, dataset_path, H5P_DEFAULT);
    if (dataset < 0) {
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "%s has no field '%s' (registered by this run)",
                            path, f->name);
      break;
    }
    long long rows = 0;
    int columns = 0, rank = 0;
    hid_t type = H5Dget_type(dataset);
    code = pp_h5_table_shape(dataset, &rows, &columns, &rank);
    long long want = f->cell ? cells : nodes;
    int is_int = type >= 0 && H5Tget_class(type) == H5T_INTEGER;
    if (code == PP_OK && (rows != want || columns != f->components || is_int != f->is_int))
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                            "%s: field '%s' is %s [%lld x %d], this run expects %s [%lld x %d]", path, f->name,
                            is_int ? "int" : "float", rows, columns, f->is_int ? "int" : "float", want, f->components);
    pp_h5_close(&type);
    pp_h5_close(&dataset);
  }
  if (code == PP_OK && checkpoint->scalar_count) {
    hid_t group = H5Gopen2(file, "scalars", H5P_DEFAULT);
    for (int i = 0; code == PP_OK && i < checkpoint->scalar_count; ++i)
      if (group < 0 || H5Aexists(group, checkpoint->scalars[i].name) <= 0)
        code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "%s has no scalar '%s' (registered by this run)",
                              path, checkpoint->scalars[i].name);
    pp_h5_close(&group);
  }
  H5Fclose(file);
  return code;
}

/* Collective: read everything into fresh buffers; check every checksum. */
static pp_err read_contents(pp_checkpoint *checkpoint, hid_t file, const char *path, void **buffers,
                            double *scalar_doubles, long long *scalar_ints, long long *step, double *time)
{
  PP_CALL(pp_h5_read_attr_int64(file, "step", step));
  PP_CALL(pp_h5_read_attr_double(file, "time", time));
  hid_t group = H5Gopen2(file, "fields", H5P_DEFAULT);
  PP_H5(group, "opening group /fields");
  pp_err code = PP_OK;
  for (int i = 0; code == PP_OK && i < checkpoint->field_count; ++i) {
    const registered_field *item = &checkpoint->fields[i];
    const pp_h5_field *f = &item->field;
    hid_t dataset = H5Dopen2(group, f->name, H5P_DEFAULT);
    if (dataset < 0) {
      code = pp_h5_error(__FILE__, __LINE__, __func__, "opening a checkpoint field");
      break;
    }
    uint64_t stored = 0, sum = 0;
    code = pp_h5_read_attr_uint64(dataset, "checksum", (unsigned long long *)&stored);
    if (code == PP_OK)
      code = pp_h5_read_rows(dataset, f->is_int ? H5T_NATIVE_INT : H5T_NATIVE_DOUBLE,
                             f->cell ? &checkpoint->cell_rows : &checkpoint->node_rows, f->components, buffers[i]);
    pp_h5_close(&dataset);
    if (code == PP_OK) code = global_checksum(checkpoint, item, buffers[i], &sum);
    if (code == PP_OK && sum != stored)
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                            "checkpoint %s is damaged: field '%s' does not match its checksum (stored %016llx, read "
                            "%016llx)",
                            path, f->name, (unsigned long long)stored, (unsigned long long)sum);
  }
  pp_h5_close(&group);
  PP_CALL(code);
  if (checkpoint->scalar_count == 0) return PP_OK;
  group = H5Gopen2(file, "scalars", H5P_DEFAULT);
  PP_H5(group, "opening group /scalars");
  for (int i = 0; code == PP_OK && i < checkpoint->scalar_count; ++i) {
    const registered_scalar *s = &checkpoint->scalars[i];
    code = s->is_int64 ? pp_h5_read_attr_int64(group, s->name, &scalar_ints[i])
                       : pp_h5_read_attr_double(group, s->name, &scalar_doubles[i]);
  }
  pp_h5_close(&group);
  return code;
}

pp_err pp_checkpoint_read_latest(pp_checkpoint *checkpoint, const char *config_hash, int force, long long *step_out,
                                 double *time_out)
{
  const pp_runtime *runtime = checkpoint->runtime;
  PP_CALL(pp_runtime_agree(runtime,
                           valid_text(config_hash, HASH_SIZE)
                               ? PP_OK
                               : pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                                                "checkpoint: invalid config hash"),
                           "reading a checkpoint"));
  char path[PATH_SIZE] = "";
  pp_err local = PP_OK;
  if (runtime->rank == 0) {
    long long *steps = NULL;
    int count = 0;
    local = list_checkpoints(checkpoint, &steps, &count);
    if (local == PP_OK && count == 0)
      local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "no checkpoint to restart from in %s",
                             checkpoint->folder);
    if (local == PP_OK) {
      checkpoint_path(checkpoint, path, sizeof path, steps[0], ".h5");
      local = inspect(checkpoint, path, config_hash, force);
      if (local != PP_OK && local != PP_ERR_CONFIG && count > 1) {
        /* Said in the message itself, so every rank's report carries the way out. */
        char previous[PATH_SIZE], reason[2048];
        checkpoint_path(checkpoint, previous, sizeof previous, steps[1], ".h5");
        snprintf(reason, sizeof reason, "%s", pp_error_message());
        local = pp_error_raise(local, __FILE__, __LINE__, __func__,
                               "%.1200s; the previous checkpoint %s is kept: move the newest away to restart from it",
                               reason, previous);
      }
    }
    free(steps);
  }
  PP_CALL(pp_runtime_agree(runtime, local, "checking the checkpoint to restart from"));
  PP_MPI(MPI_Bcast(path, PATH_SIZE, MPI_CHAR, 0, runtime->comm), "sharing the checkpoint path");

  /* Read into fresh buffers: a refused checkpoint leaves the registered state untouched. */
  int n = checkpoint->field_count, ns = checkpoint->scalar_count;
  void **buffers = calloc((size_t)n + 1, sizeof *buffers);
  double *scalar_doubles = calloc((size_t)ns + 1, sizeof *scalar_doubles);
  long long *scalar_ints = calloc((size_t)ns + 1, sizeof *scalar_ints);
  local = buffers && scalar_doubles && scalar_ints
              ? PP_OK
              : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory reading a checkpoint");
  for (int i = 0; local == PP_OK && i < n; ++i) {
    const pp_h5_field *f = &checkpoint->fields[i].field;
    size_t count = (size_t)(f->cell ? checkpoint->mesh.owned_cell_count : checkpoint->mesh.owned_node_count) *
                   (size_t)f->components;
    buffers[i] = malloc((count ? count : 1) * (f->is_int ? sizeof(int) : sizeof(double)));
    if (!buffers[i])
      local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory reading field '%s'", f->name);
  }
  local = pp_runtime_agree(runtime, local, "reading a checkpoint");
  hid_t file = -1;
  if (local == PP_OK) local = pp_runtime_agree(runtime, pp_h5_open_parallel(runtime, path, &file), "opening a checkpoint");
  long long step = 0;
  double time = 0;
  if (local == PP_OK) {
    local = read_contents(checkpoint, file, path, buffers, scalar_doubles, scalar_ints, &step, &time);
    if (H5Fclose(file) < 0 && local == PP_OK) local = pp_h5_error(__FILE__, __LINE__, __func__, "closing a checkpoint");
    if (local != PP_OK) pp_error_context(local, "while reading checkpoint %s", path);
    local = pp_runtime_agree(runtime, local, "reading a checkpoint");
  }
  if (local == PP_OK) {
    for (int i = 0; i < n; ++i) {
      const registered_field *item = &checkpoint->fields[i];
      size_t count = (size_t)(item->field.cell ? checkpoint->mesh.owned_cell_count : checkpoint->mesh.owned_node_count) *
                     (size_t)item->field.components;
      if (count) memcpy(item->values, buffers[i], count * (item->field.is_int ? sizeof(int) : sizeof(double)));
    }
    for (int i = 0; i < ns; ++i) {
      if (checkpoint->scalars[i].is_int64)
        *(long long *)checkpoint->scalars[i].value = scalar_ints[i];
      else
        *(double *)checkpoint->scalars[i].value = scalar_doubles[i];
    }
    if (step_out) *step_out = step;
    if (time_out) *time_out = time;
    pp_log(PP_LOG_INFO, "restarted from %s (step %lld, time %.17g s, written on any rank count)", path, step, time);
  }
  for (int i = 0; buffers && i < n; ++i) free(buffers[i]);
  free(buffers);
  free(scalar_doubles);
  free(scalar_ints);
  return local == PP_OK ? PP_OK : pp_error_trace(local, __FILE__, __LINE__, __func__);
}
