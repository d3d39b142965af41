#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5util.h"
#include "run_record.h"
#include "version.h"

/* Folder names are kept shorter than paths so that a folder plus a file name always fits. */
enum { PATH_SIZE = 4096, DIR_SIZE = PATH_SIZE - 512, TIME_UNIT_SIZE = 32 };

typedef struct {
  long long step;
  double time;
} completed_step;

struct pp_io_series {
  const pp_runtime *runtime;
  char name[PP_H5_NAME_SIZE];
  char time_unit[TIME_UNIT_SIZE];
  char series_dir[DIR_SIZE];  /* <dir>/<name> */
  char index_path[DIR_SIZE];  /* <dir>/<name>.xdmf */
  long long node_count, cell_count;
  pp_h5_rows node_rows, cell_rows;
  long long next_step;
  /* Completed steps, the same on every rank (rebuilt on rank 0 and broadcast after a restart). */
  completed_step *done;
  int done_count, done_capacity;
  /* The field set every step must repeat; fixed by the first completed step. */
  pp_h5_field *reference;
  int reference_count; /* -1 until the first step completes */
  /* The step in progress. */
  int in_step;
  double step_time;
  hid_t file, fields_group;
  char tmp_path[PATH_SIZE], final_path[PATH_SIZE];
  pp_h5_field *step_fields;
  int step_field_count, step_field_capacity;
};

/* Units go into XML attributes and HDF5 strings: keep them printable and free of XML syntax. */
static int valid_units(const char *units)
{
  if (!units || strlen(units) >= PP_H5_UNITS_SIZE) return 0;
  for (const char *c = units; *c; ++c)
    if (*c < 32 || *c > 126 || *c == '"' || *c == '<' || *c == '>' || *c == '&') return 0;
  return 1;
}

static void step_file_name(char *buffer, size_t size, const pp_io_series *series, long long step, int tmp)
{
  snprintf(buffer, size, "%s/step_%06lld.h5%s", series->series_dir, step, tmp ? ".tmp" : "");
}

/* The index, from the completed steps and the reference field set. Rank 0 only. */
static pp_err write_index(const pp_io_series *series)
{
  pp_h5_xdmf_grid *grids = NULL;
  char (*grid_names)[32] = NULL, (*data_files)[PP_H5_NAME_SIZE + 32] = NULL;
  PP_MALLOC(grids, series->done_count, "index entries");
  grid_names = series->done_count ? calloc((size_t)series->done_count, sizeof *grid_names) : NULL;
  data_files = series->done_count ? calloc((size_t)series->done_count, sizeof *data_files) : NULL;
  if (series->done_count && (!grid_names || !data_files)) {
    free(grids);
    free(grid_names);
    free(data_files);
    PP_RAISE(PP_ERR_MEMORY, "out of memory writing the index of series %s", series->name);
  }
  for (int i = 0; i < series->done_count; ++i) {
    snprintf(grid_names[i], sizeof grid_names[i], "step_%06lld", series->done[i].step);
    snprintf(data_files[i], sizeof data_files[i], "%s/step_%06lld.h5", series->name, series->done[i].step);
    grids[i] = (pp_h5_xdmf_grid){series->done[i].time, grid_names[i], data_files[i], "/fields", series->reference,
                                 series->reference_count > 0 ? series->reference_count : 0};
  }
  char mesh_file[PP_H5_NAME_SIZE + 16];
  snprintf(mesh_file, sizeof mesh_file, "%s/mesh.h5", series->name);
  pp_h5_xdmf xdmf = {series->name, series->time_unit, mesh_file, 1, series->node_count, series->cell_count,
                     grids, series->done_count};
  pp_err code = pp_write_file_atomic(series->index_path, pp_h5_xdmf_print, &xdmf);
  free(grids);
  free(grid_names);
  free(data_files);
  return code == PP_OK ? PP_OK : pp_error_trace(code, __FILE__, __LINE__, __func__);
}

/* Root attributes every file of a series carries. */
static pp_err write_root_attributes(hid_t file)
{
  PP_CALL(pp_h5_write_attr_string(file, "format", PP_IO_FORMAT));
  PP_CALL(pp_h5_write_attr_int(file, "format_version", PP_IO_FORMAT_VERSION));
  PP_CALL(pp_h5_write_attr_string(file, "pinprick_version", pp_version()));
  PP_CALL(pp_h5_write_attr_string(file, "git_hash", pp_version_git()));
  return PP_OK;
}

/* Collective: mesh.h5 via mesh.h5.tmp, renamed by rank 0 once every rank closed it. */
static pp_err write_mesh_file(pp_io_series *series, const pp_io_mesh *mesh)
{
  const pp_runtime *runtime = series->runtime;
  char tmp[PATH_SIZE], final[PATH_SIZE];
  snprintf(tmp, sizeof tmp, "%s/mesh.h5.tmp", series->series_dir);
  snprintf(final, sizeof final, "%s/mesh.h5", series->series_dir);
  hid_t file = -1;
  pp_err local = pp_h5_create_parallel(runtime, tmp, &file);
  PP_CALL(pp_runtime_agree(runtime, local, "creating the mesh file of an output series"));
  local = write_root_attributes(file);
  if (local == PP_OK)
    local = pp_h5_write_mesh(runtime, file, mesh, &series->node_rows, &series->cell_rows, 1);
  if (H5Fclose(file) < 0 && local == PP_OK) local = pp_h5_error(__FILE__, __LINE__, __func__, "closing the mesh file");
  PP_CALL(pp_runtime_agree(runtime, local, "writing the mesh of an output series"));
  if (runtime->rank == 0 && rename(tmp, final) != 0)
    local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot rename %s to %s: %s", tmp, final,
                           strerror(errno));
  PP_CALL(pp_runtime_agree(runtime, local, "publishing the mesh of an output series"));
  return PP_OK;
}

static int is_step_file(const char *file_name, long long *step, int *tmp)
{
  int length = 0;
  if (sscanf(file_name, "step_%lld.h5%n", step, &length) != 1 || length == 0 || strncmp(file_name, "step_", 5) != 0)
    return 0;
  if (file_name[length] == '\0') {
    *tmp = 0;
    return 1;
  }
  if (strcmp(file_name + length, ".tmp") == 0) {
    *tmp = 1;
    return 1;
  }
  return 0;
}

/* Rank 0: remove every step file (and leftover .tmp) of the series. */
static pp_err remove_step_files(const pp_io_series *series)
{
  DIR *folder = opendir(series->series_dir);
  PP_CHECK(folder, PP_ERR_IO, "cannot list %s: %s", series->series_dir, strerror(errno));
  struct dirent *entry;
  pp_err code = PP_OK;
  while (code == PP_OK && (entry = readdir(folder))) {
    long long step = 0;
    int tmp = 0;
    if (!is_step_file(entry->d_name, &step, &tmp) && strcmp(entry->d_name, "mesh.h5.tmp") != 0) continue;
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s", series->series_dir, entry->d_name);
    if (unlink(path) != 0 && errno != ENOENT)
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot remove stale output file %s: %s", path,
                            strerror(errno));
  }
  closedir(folder);
  return code;
}

static pp_err check_open_arguments(const pp_runtime *runtime, const char *dir, const char *name, const char *time_unit)
{
  (void)runtime;
  PP_CHECK(dir && *dir && strlen(dir) + PP_H5_NAME_SIZE + 32 < DIR_SIZE, PP_ERR_ARGUMENT,
           "output series: invalid output folder");
  PP_CHECK(pp_h5_valid_name(name), PP_ERR_ARGUMENT,
           "output series name '%s' must be 1-%d letters, digits, '_' or '-'", name ? name : "(null)",
           PP_H5_NAME_SIZE - 1);
  PP_CHECK(time_unit && *time_unit && strlen(time_unit) < TIME_UNIT_SIZE && valid_units(time_unit), PP_ERR_ARGUMENT,
           "output series %s: invalid time unit '%s'", name, time_unit ? time_unit : "(null)");
  return PP_OK;
}

/* Everything open and reopen share up to (not including) the file work. */
static pp_err series_create(pp_io_series **out, const pp_runtime *runtime, const char *dir, const char *name,
                            const char *time_unit, const pp_io_mesh *mesh)
{
  *out = NULL;
  PP_CALL(pp_runtime_agree(runtime, check_open_arguments(runtime, dir, name, time_unit), "opening an output series"));
  PP_CALL(pp_h5_check_mesh(runtime, mesh));
  pp_io_series *series = calloc(1, sizeof *series);
  pp_err local = series ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  if (series) {
    series->runtime = runtime;
    series->file = series->fields_group = -1;
    series->reference_count = -1;
    snprintf(series->name, sizeof series->name, "%s", name);
    snprintf(series->time_unit, sizeof series->time_unit, "%s", time_unit);
    snprintf(series->series_dir, sizeof series->series_dir, "%s/%s", dir, name);
    snprintf(series->index_path, sizeof series->index_path, "%s/%s.xdmf", dir, name);
    series->node_count = mesh->global_node_count;
    series->cell_count = mesh->global_cell_count;
    local = pp_h5_rows_build(&series->node_rows, mesh->owned_node_ids, mesh->owned_node_count,
                             mesh->global_node_count, "output mesh nodes");
    if (local == PP_OK)
      local = pp_h5_rows_build(&series->cell_rows, mesh->owned_cell_ids, mesh->owned_cell_count,
                               mesh->global_cell_count, "output mesh cells");
  }
  local = pp_runtime_agree(runtime, local, "preparing an output series");
  if (local != PP_OK) {
    pp_io_series_close(&series);
    return pp_error_trace(local, __FILE__, __LINE__, __func__);
  }
  *out = series;
  return PP_OK;
}

static pp_err series_start_fresh(pp_io_series *series, const pp_io_mesh *mesh)
{
  pp_err local = PP_OK;
  if (series->runtime->rank == 0) {
    local = pp_h5_make_directories(series->series_dir);
    if (local == PP_OK) local = remove_step_files(series);
  }
  PP_CALL(pp_runtime_agree(series->runtime, local, "preparing the folder of an output series"));
  PP_CALL(write_mesh_file(series, mesh));
  local = series->runtime->rank == 0 ? write_index(series) : PP_OK;
  PP_CALL(pp_runtime_agree(series->runtime, local, "writing the index of an output series"));
  return PP_OK;
}

pp_err pp_io_series_open(pp_io_series **out, const pp_runtime *runtime, const char *dir, const char *name,
                         const char *time_unit, const pp_io_mesh *mesh)
{
  PP_CALL(series_create(out, runtime, dir, name, time_unit, mesh));
  pp_err code = series_start_fresh(*out, mesh);
  if (code != PP_OK) {
    pp_io_series_close(out);
    return pp_error_trace(code, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}

/* Rank 0, after a restart: read a kept step file's time and field set. */
#if H5_VERSION_GE(1, 12, 0)
#define PP_LINK_INFO H5L_info2_t
#define PP_LITERATE H5Literate2
#else
#define PP_LINK_INFO H5L_info_t
#define PP_LITERATE H5Literate
#endif
static herr_t collect_field(hid_t group, const char *name, const PP_LINK_INFO *info, void *data)
{
  (void)info;
  pp_io_series *series = data;
  if (series->step_field_count >= series->step_field_capacity) {
    int capacity = series->step_field_capacity ? 2 * series->step_field_capacity : 16;
    pp_h5_field *grown = realloc(series->step_fields, sizeof *grown * (size_t)capacity);
    if (!grown) return -1;
    series->step_fields = grown;
    series->step_field_capacity = capacity;
  }
  pp_h5_field *field = &series->step_fields[series->step_field_count];
  memset(field, 0, sizeof *field);
  snprintf(field->name, sizeof field->name, "%s", name);
  hid_t dataset = H5Dopen2(group, name, H5P_DEFAULT);
  if (dataset < 0) return -1;
  long long rows = 0;
  int columns = 0, rank = 0;
  char center[16] = "";
  hid_t type = H5Dget_type(dataset);
  int ok = type >= 0 && pp_h5_table_shape(dataset, &rows, &columns, &rank) == PP_OK &&
           pp_h5_read_attr_string(dataset, "units", field->units, sizeof field->units) == PP_OK &&
           pp_h5_read_attr_string(dataset, "center", center, sizeof center) == PP_OK;
  if (ok) {
    field->cell = strcmp(center, "cell") == 0;
    field->components = columns;
    field->is_int = H5Tget_class(type) == H5T_INTEGER;
    ok = rows == (field->cell ? series->cell_count : series->node_count);
  }
  pp_h5_close(&type);
  pp_h5_close(&dataset);
  if (!ok) return -1;
  ++series->step_field_count;
  return 0;
}

static int compare_steps(const void *a, const void *b)
{
  long long x = ((const completed_step *)a)->step, y = ((const completed_step *)b)->step;
  return x < y ? -1 : x > y;
}

static pp_err append_done(pp_io_series *series, long long step, double time)
{
  if (series->done_count == series->done_capacity) {
    int capacity = series->done_capacity ? 2 * series->done_capacity : 16;
    completed_step *grown = realloc(series->done, sizeof *grown * (size_t)capacity);
    PP_CHECK(grown, PP_ERR_MEMORY, "out of memory listing output steps");
    series->done = grown;
    series->done_capacity = capacity;
  }
  series->done[series->done_count++] = (completed_step){step, time};
  return PP_OK;
}

/* Rank 0: read one kept step; its field set becomes the reference (the newest wins). */
static pp_err inspect_step(pp_io_series *series, const char *path, long long step, double *time)
{
  hid_t file = -1;
  PP_CALL(pp_h5_open_serial(path, &file));
  long long stored_step = -1;
  char unit[TIME_UNIT_SIZE] = "";
  pp_err code = pp_h5_read_attr_double(file, "time", time);
  if (code == PP_OK) code = pp_h5_read_attr_int64(file, "step", &stored_step);
  if (code == PP_OK) code = pp_h5_read_attr_string(file, "time_unit", unit, sizeof unit);
  if (code == PP_OK && (stored_step != step || strcmp(unit, series->time_unit) != 0))
    code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                          "%s says step %lld in '%s', expected step %lld in '%s'", path, stored_step, unit, step,
                          series->time_unit);
  if (code == PP_OK) {
    hid_t group = H5Gopen2(file, "fields", H5P_DEFAULT);
    series->step_field_count = 0;
    if (group < 0 || PP_LITERATE(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, NULL, collect_field, series) < 0) {
      char what[PATH_SIZE + 64];
      snprintf(what, sizeof what, "reading the fields listed in %s", path);
      code = pp_h5_error(__FILE__, __LINE__, __func__, what);
    }
    pp_h5_close(&group);
  }
  H5Fclose(file);
  if (code != PP_OK) return pp_error_context(code, "while rebuilding the index of series %s", series->name);
  return PP_OK;
}

/* Rank 0 after a restart: drop steps after t_restart and leftovers, list the kept ones. */
static pp_err truncate_series(pp_io_series *series, double t_restart, int *mesh_state)
{
  char mesh_path[PATH_SIZE];
  snprintf(mesh_path, sizeof mesh_path, "%s/mesh.h5", series->series_dir);
  *mesh_state = 0; /* 0 missing, 1 kept */
  if (access(mesh_path, F_OK) == 0) {
    hid_t file = -1;
    PP_CALL(pp_h5_open_serial(mesh_path, &file));
    long long nodes = -1, cells = -1;
    pp_err code = pp_h5_read_attr_int64(file, "n_nodes", &nodes);
    if (code == PP_OK) code = pp_h5_read_attr_int64(file, "n_cells", &cells);
    H5Fclose(file);
    PP_CALL(code);
    PP_CHECK(nodes == series->node_count && cells == series->cell_count, PP_ERR_IO,
             "cannot continue series %s after restart: %s has %lld nodes and %lld cells, this run's mesh %lld and %lld",
             series->name, mesh_path, nodes, cells, series->node_count, series->cell_count);
    *mesh_state = 1;
  }
  DIR *folder = opendir(series->series_dir);
  PP_CHECK(folder, PP_ERR_IO, "cannot list %s: %s", series->series_dir, strerror(errno));
  pp_err code = PP_OK;
  struct dirent *entry;
  pp_h5_field *newest_fields = NULL;
  int newest_count = -1;
  long long newest_step = -1;
  while (code == PP_OK && (entry = readdir(folder))) {
    long long step = 0;
    int tmp = 0;
    int is_mesh_tmp = strcmp(entry->d_name, "mesh.h5.tmp") == 0;
    if (!is_step_file(entry->d_name, &step, &tmp) && !is_mesh_tmp) continue;
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s", series->series_dir, entry->d_name);
    double time = 0;
    if (!tmp && !is_mesh_tmp) code = inspect_step(series, path, step, &time);
    if (code != PP_OK) break;
    if (tmp || is_mesh_tmp || time > t_restart) {
      if (unlink(path) != 0)
        code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot remove %s: %s", path, strerror(errno));
      continue;
    }
    code = append_done(series, step, time);
    if (code == PP_OK && step > newest_step) {
      /* Keep the field set of the newest kept step as the one later steps must repeat. */
      free(newest_fields);
      newest_fields = series->step_fields;
      newest_count = series->step_field_count;
      newest_step = step;
      series->step_fields = NULL;
      series->step_field_count = series->step_field_capacity = 0;
    }
  }
  closedir(folder);
  series->step_field_count = 0;
  if (code != PP_OK) {
    free(newest_fields);
    return pp_error_trace(code, __FILE__, __LINE__, __func__);
  }
  if (series->done_count > 0) qsort(series->done, (size_t)series->done_count, sizeof *series->done, compare_steps);
  series->reference = newest_fields;
  series->reference_count = newest_count;
  return PP_OK;
}

/* Send rank 0's view of the completed steps and the reference field set to every rank. */
static pp_err share_state(pp_io_series *series)
{
  const pp_runtime *runtime = series->runtime;
  int counts[2] = {series->done_count, series->reference_count};
  PP_MPI(MPI_Bcast(counts, 2, MPI_INT, 0, runtime->comm), "sharing the output steps kept after a restart");
  if (runtime->rank != 0) {
    free(series->done);
    free(series->reference);
    series->done = NULL;
    series->reference = NULL;
    series->done_count = series->done_capacity = 0;
    PP_MALLOC(series->done, counts[0], "output steps");
    series->done_count = series->done_capacity = counts[0];
    series->reference_count = counts[1];
    PP_MALLOC(series->reference, counts[1] > 0 ? counts[1] : 0, "output fields");
  }
  /* Plain structs of chars, ints and doubles: every rank runs the same binary. */
  if (counts[0] > 0)
    PP_MPI(MPI_Bcast(series->done, (int)(sizeof *series->done) * counts[0], MPI_BYTE, 0, runtime->comm),
           "sharing the output steps kept after a restart");
  if (counts[1] > 0)
    PP_MPI(MPI_Bcast(series->reference, (int)(sizeof *series->reference) * counts[1], MPI_BYTE, 0, runtime->comm),
           "sharing the output fields kept after a restart");
  series->next_step = series->done_count ? series->done[series->done_count - 1].step + 1 : 0;
  return PP_OK;
}

pp_err pp_io_series_reopen(pp_io_series **out, const pp_runtime *runtime, const char *dir, const char *name,
                           const char *time_unit, const pp_io_mesh *mesh, double t_restart)
{
  PP_CALL(series_create(out, runtime, dir, name, time_unit, mesh));
  pp_io_series *series = *out;
  struct stat info;
  int exists = runtime->rank == 0 ? stat(series->series_dir, &info) == 0 && S_ISDIR(info.st_mode) : 0;
  int mesh_state = 0;
  pp_err local = PP_OK;
  if (runtime->rank == 0 && exists) local = truncate_series(series, t_restart, &mesh_state);
  int flags[2] = {exists, mesh_state};
  pp_err code = pp_runtime_agree(runtime, local, "truncating an output series after restart");
  if (code == PP_OK) {
    int mpi_code = MPI_Bcast(flags, 2, MPI_INT, 0, runtime->comm);
    if (mpi_code != MPI_SUCCESS) code = pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "sharing a flag");
  }
  if (code == PP_OK && !flags[0]) code = series_start_fresh(series, mesh);
  if (code == PP_OK && flags[0]) {
    code = pp_runtime_agree(runtime, share_state(series), "sharing the state of an output series");
    if (code == PP_OK && !flags[1]) code = write_mesh_file(series, mesh);
    if (code == PP_OK)
      code = pp_runtime_agree(runtime, runtime->rank == 0 ? write_index(series) : PP_OK,
                              "rewriting the index of an output series");
  }
  if (code != PP_OK) {
    pp_io_series_close(out);
    return pp_error_trace(code, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}

long long pp_io_series_completed_steps(const pp_io_series *series) { return series->done_count; }

pp_err pp_io_step_begin(pp_io_series *series, double time)
{
  const pp_runtime *runtime = series->runtime;
  pp_err local = PP_OK;
  if (series->in_step)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "series %s: step begun at time %g while the step at %g is still open", series->name, time,
                           series->step_time);
  else if (!isfinite(time) || (series->done_count && time <= series->done[series->done_count - 1].time))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "series %s: output time %.17g %s must be finite and after the last step's %.17g %s",
                           series->name, time, series->time_unit,
                           series->done_count ? series->done[series->done_count - 1].time : -INFINITY,
                           series->time_unit);
  PP_CALL(pp_runtime_agree(runtime, local, "beginning an output step"));
  step_file_name(series->tmp_path, sizeof series->tmp_path, series, series->next_step, 1);
  step_file_name(series->final_path, sizeof series->final_path, series, series->next_step, 0);
  local = pp_h5_create_parallel(runtime, series->tmp_path, &series->file);
  PP_CALL(pp_runtime_agree(runtime, local, "creating an output step file"));
  series->in_step = 1;
  series->step_time = time;
  series->step_field_count = 0;
  local = write_root_attributes(series->file);
  if (local == PP_OK) local = pp_h5_write_attr_double(series->file, "time", time);
  if (local == PP_OK) local = pp_h5_write_attr_string(series->file, "time_unit", series->time_unit);
  if (local == PP_OK) local = pp_h5_write_attr_int64(series->file, "step", series->next_step);
  if (local == PP_OK) {
    /* Creation order is tracked so that a restart rebuilds the index in the order written. */
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl >= 0) H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    series->fields_group = gcpl < 0 ? -1 : H5Gcreate2(series->file, "fields", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    pp_h5_close(&gcpl);
    if (series->fields_group < 0) local = pp_h5_error(__FILE__, __LINE__, __func__, "creating group /fields");
  }
  PP_CALL(pp_runtime_agree(runtime, local, "beginning an output step"));
  return PP_OK;
}

static pp_err write_field(pp_io_series *series, const char *name, const char *units, int cell, int components,
                          int is_int, const void *values)
{
  const pp_runtime *runtime = series->runtime;
  pp_h5_rows *rows = cell ? &series->cell_rows : &series->node_rows;
  pp_err local = PP_OK;
  if (!series->in_step)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "series %s: field '%s' written outside a step (call pp_io_step_begin first)", series->name,
                           name ? name : "(null)");
  else if (!pp_h5_valid_name(name))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "series %s: field name '%s' must be 1-%d letters, digits, '_' or '-'", series->name,
                           name ? name : "(null)", PP_H5_NAME_SIZE - 1);
  else if (!valid_units(units))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__, "series %s: field '%s' has invalid units",
                           series->name, name);
  else if (components != 1 && components != 3 && components != 9)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "series %s: field '%s' has %d components; output takes 1 (scalar), 3 (vector) or 9 "
                           "(full tensor, row-major) — write a symmetric tensor as 9",
                           series->name, name, components);
  else if (rows->row_count && !values)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "series %s: field '%s' has no values on rank %d", series->name, name, runtime->rank);
  for (int i = 0; local == PP_OK && i < series->step_field_count; ++i)
    if (strcmp(series->step_fields[i].name, name) == 0)
      local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                             "series %s: field '%s' written twice in one step", series->name, name);
  if (local == PP_OK && series->step_field_count == series->step_field_capacity) {
    int capacity = series->step_field_capacity ? 2 * series->step_field_capacity : 16;
    pp_h5_field *grown = realloc(series->step_fields, sizeof *grown * (size_t)capacity);
    if (!grown)
      local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory listing output fields");
    else {
      series->step_fields = grown;
      series->step_field_capacity = capacity;
    }
  }
  PP_CALL(pp_runtime_agree(runtime, local, "writing an output field"));
  hid_t dataset = -1;
  local = pp_h5_create_table(series->fields_group, name, is_int ? H5T_STD_I32LE : H5T_IEEE_F64LE,
                             cell ? series->cell_count : series->node_count, components, units,
                             cell ? "cell" : "node", &dataset);
  if (local == PP_OK)
    local = pp_h5_write_rows(dataset, is_int ? H5T_NATIVE_INT : H5T_NATIVE_DOUBLE, rows, components, values);
  pp_h5_close(&dataset);
  if (local != PP_OK) pp_error_context(local, "writing field '%s' of series %s", name, series->name);
  PP_CALL(pp_runtime_agree(runtime, local, "writing an output field"));
  pp_h5_field *field = &series->step_fields[series->step_field_count++];
  memset(field, 0, sizeof *field);
  snprintf(field->name, sizeof field->name, "%s", name);
  snprintf(field->units, sizeof field->units, "%s", units);
  field->cell = cell;
  field->components = components;
  field->is_int = is_int;
  return PP_OK;
}

pp_err pp_io_write_node_field(pp_io_series *series, const char *name, const char *units, int components,
                              const double *owned_values)
{
  return write_field(series, name, units, 0, components, 0, owned_values);
}

pp_err pp_io_write_cell_field(pp_io_series *series, const char *name, const char *units, int components,
                              const double *owned_values)
{
  return write_field(series, name, units, 1, components, 0, owned_values);
}

pp_err pp_io_write_cell_field_int(pp_io_series *series, const char *name, const char *units, const int *owned_values)
{
  return write_field(series, name, units, 1, 1, 1, owned_values);
}

/* Same names, centring, components and type in the same order (units may not change either). */
static pp_err check_field_set(const pp_io_series *series)
{
  if (series->reference_count < 0) return PP_OK;
  int same = series->reference_count == series->step_field_count;
  for (int i = 0; same && i < series->step_field_count; ++i) {
    const pp_h5_field *a = &series->reference[i], *b = &series->step_fields[i];
    same = strcmp(a->name, b->name) == 0 && strcmp(a->units, b->units) == 0 && a->cell == b->cell &&
           a->components == b->components && a->is_int == b->is_int;
  }
  PP_CHECK(same, PP_ERR_ARGUMENT,
           "series %s: the step at time %g writes a different set of fields (%d) from earlier steps (%d); every step "
           "must write the same fields in the same order, or ParaView cannot play the series",
           series->name, series->step_time, series->step_field_count, series->reference_count);
  return PP_OK;
}

/* Collective: close the step file; remove it if discard. */
static pp_err close_step_file(pp_io_series *series, int discard)
{
  pp_err local = PP_OK;
  pp_h5_close(&series->fields_group);
  if (series->file >= 0 && H5Fclose(series->file) < 0)
    local = pp_h5_error(__FILE__, __LINE__, __func__, "closing an output step file");
  series->file = -1;
  series->in_step = 0;
  PP_CALL(pp_runtime_agree(series->runtime, local, "closing an output step file"));
  if (discard && series->runtime->rank == 0) unlink(series->tmp_path);
  return PP_OK;
}

pp_err pp_io_step_end(pp_io_series *series)
{
  const pp_runtime *runtime = series->runtime;
  PP_CALL(pp_runtime_agree(runtime,
                           series->in_step ? PP_OK
                                           : pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                                                            "series %s: step ended without a step begun", series->name),
                           "ending an output step"));
  pp_err fields_ok = check_field_set(series); /* the same answer on every rank: shared state */
  /* Closing is collective; the agreement inside it also stands for the barrier of ANCHORS.md §5
   * rule 5: no rank gets past it before every rank has closed the file. */
  PP_CALL(close_step_file(series, fields_ok != PP_OK));
  PP_CALL(fields_ok);
  pp_err local = PP_OK;
  if (runtime->rank == 0 && rename(series->tmp_path, series->final_path) != 0)
    local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot rename %s to %s: %s", series->tmp_path,
                           series->final_path, strerror(errno));
  if (local == PP_OK) local = append_done(series, series->next_step, series->step_time);
  if (local == PP_OK && series->reference_count < 0) {
    series->reference = malloc(sizeof *series->reference * (size_t)(series->step_field_count + 1));
    if (!series->reference)
      local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory listing output fields");
    else {
      if (series->step_field_count > 0) /* a step may hold no fields (the mesh series) */
        memcpy(series->reference, series->step_fields, sizeof *series->reference * (size_t)series->step_field_count);
      series->reference_count = series->step_field_count;
    }
  }
  if (local == PP_OK && runtime->rank == 0) local = write_index(series);
  PP_CALL(pp_runtime_agree(runtime, local, "publishing an output step"));
  ++series->next_step;
  return PP_OK;
}

pp_err pp_io_series_close(pp_io_series **handle)
{
  if (!handle || !*handle) return PP_OK;
  pp_io_series *series = *handle;
  pp_err code = PP_OK;
  if (series->in_step) code = close_step_file(series, 1);
  pp_h5_rows_free(&series->node_rows);
  pp_h5_rows_free(&series->cell_rows);
  free(series->done);
  free(series->reference);
  free(series->step_fields);
  free(series);
  *handle = NULL;
  return code;
}

/* ---- output schedule ---- */

static int compare_doubles(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

pp_err pp_output_schedule_list(pp_output_schedule *schedule, const double *times, int count)
{
  memset(schedule, 0, sizeof *schedule);
  PP_CHECK(count > 0 && times, PP_ERR_CONFIG, "output schedule: the list of output times is empty");
  for (int i = 0; i < count; ++i)
    PP_CHECK(isfinite(times[i]), PP_ERR_CONFIG, "output schedule: time %d is not a finite number", i + 1);
  PP_MALLOC(schedule->times, count, "output times");
  memcpy(schedule->times, times, sizeof *times * (size_t)count);
  qsort(schedule->times, (size_t)count, sizeof *times, compare_doubles);
  int kept = 0;
  for (int i = 0; i < count; ++i)
    if (kept == 0 || schedule->times[i] != schedule->times[kept - 1]) schedule->times[kept++] = schedule->times[i];
  schedule->count = kept;
  return PP_OK;
}

pp_err pp_output_schedule_interval(pp_output_schedule *schedule, double start, double end, double every)
{
  memset(schedule, 0, sizeof *schedule);
  PP_CHECK(isfinite(start) && isfinite(end) && isfinite(every) && every > 0 && end >= start, PP_ERR_CONFIG,
           "output schedule: interval needs start <= end and every > 0 (got start %g, end %g, every %g)", start, end,
           every);
  double intervals = (end - start) / every;
  PP_CHECK(intervals < 1e8, PP_ERR_CONFIG, "output schedule: %g to %g every %g gives more than 1e8 outputs", start,
           end, every);
  long long whole = (long long)floor(intervals);
  /* (end-start)/every = 2.9999999999 means "end is the 4th output" written with rounding. */
  int end_on_grid = fabs(intervals - (double)llround(intervals)) <= 1e-9 * (intervals > 1 ? intervals : 1);
  if (end_on_grid) whole = llround(intervals);
  int count = (int)whole + 1;
  PP_MALLOC(schedule->times, count, "output times");
  for (int k = 0; k < count; ++k) schedule->times[k] = start + (double)k * every;
  if (end_on_grid) schedule->times[count - 1] = end;
  schedule->count = count;
  return PP_OK;
}

pp_err pp_output_schedule_log(pp_output_schedule *schedule, double first, double last, int count)
{
  memset(schedule, 0, sizeof *schedule);
  PP_CHECK(isfinite(first) && isfinite(last) && first > 0 && last > first && count >= 2, PP_ERR_CONFIG,
           "output schedule: log spacing needs 0 < first < last and count >= 2 (got %g, %g, %d)", first, last, count);
  PP_MALLOC(schedule->times, count, "output times");
  double ratio = log(last / first);
  for (int k = 0; k < count; ++k) schedule->times[k] = first * exp(ratio * (double)k / (double)(count - 1));
  schedule->times[0] = first;
  schedule->times[count - 1] = last;
  schedule->count = count;
  return PP_OK;
}

int pp_output_schedule_next(const pp_output_schedule *schedule, double t_now, double dt, double *t_out)
{
  /* First time > t_now (binary search), then is it within the step? */
  int low = 0, high = schedule->count;
  while (low < high) {
    int middle = low + (high - low) / 2;
    if (schedule->times[middle] > t_now)
      high = middle;
    else
      low = middle + 1;
  }
  if (low == schedule->count || schedule->times[low] > t_now + dt) return 0;
  *t_out = schedule->times[low];
  return 1;
}

int pp_output_schedule_contains(const pp_output_schedule *schedule, double t)
{
  for (int i = 0; i < schedule->count; ++i)
    if (schedule->times[i] == t) return 1;
  return 0;
}

void pp_output_schedule_free(pp_output_schedule *schedule)
{
  free(schedule->times);
  schedule->times = NULL;
  schedule->count = 0;
}
