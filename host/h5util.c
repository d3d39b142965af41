#include "h5util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { STACK_TEXT_SIZE = 3072, PATH_SIZE = 4096 };

void pp_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct {
  char *text;
  size_t size;
  int frames;
} stack_text;

static herr_t append_frame(unsigned n, const H5E_error2_t *entry, void *data)
{
  (void)n;
  stack_text *out = data;
  size_t used = strlen(out->text);
  if (used + 1 >= out->size) return 0;
  char minor[128] = "";
  H5Eget_msg(entry->min_num, NULL, minor, sizeof minor);
  snprintf(out->text + used, out->size - used, "%s%s(): %s%s%s%s", out->frames ? " <- " : "",
           entry->func_name ? entry->func_name : "?", entry->desc ? entry->desc : "",
           minor[0] ? " (" : "", minor, minor[0] ? ")" : "");
  ++out->frames;
  return 0;
}

pp_err pp_h5_error(const char *file, int line, const char *func, const char *what)
{
  char text[STACK_TEXT_SIZE] = "";
  stack_text out = {text, sizeof text, 0};
  /* Innermost first: the deepest frame usually says what really went wrong (e.g. "truncated
   * file: eof = ..."), the outer ones which API call it was. */
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, append_frame, &out);
  H5Eclear2(H5E_DEFAULT);
  return pp_error_raise(PP_ERR_HDF5, file, line, func, "%s failed: HDF5: %s", what,
                        out.frames ? text : "(no HDF5 error stack)");
}

void pp_h5_close(hid_t *id)
{
  if (*id < 0) return;
  switch (H5Iget_type(*id)) {
  case H5I_FILE: H5Fclose(*id); break;
  case H5I_GROUP: H5Gclose(*id); break;
  case H5I_DATASET: H5Dclose(*id); break;
  case H5I_DATASPACE: H5Sclose(*id); break;
  case H5I_DATATYPE: H5Tclose(*id); break;
  case H5I_ATTR: H5Aclose(*id); break;
  case H5I_GENPROP_LST: H5Pclose(*id); break;
  default: break;
  }
  *id = -1;
}

static pp_err parallel_access(const pp_runtime *runtime, hid_t *fapl)
{
  *fapl = H5Pcreate(H5P_FILE_ACCESS);
  PP_H5(*fapl, "creating a file access property list");
  /* Metadata reads and writes done once and shared, so every rank sees identical metadata and
   * thousands of ranks do not each read the superblock (ANCHORS.md §5 writer rule 1). */
  if (H5Pset_fapl_mpio(*fapl, runtime->comm, MPI_INFO_NULL) < 0 || H5Pset_all_coll_metadata_ops(*fapl, 1) < 0 ||
      H5Pset_coll_metadata_write(*fapl, 1) < 0) {
    pp_err code = pp_h5_error(__FILE__, __LINE__, __func__, "setting MPI-IO file access");
    pp_h5_close(fapl);
    return code;
  }
  return PP_OK;
}

/* Create (truncating) or open read-only, collectively. */
static pp_err parallel_file(const pp_runtime *runtime, const char *path, int create, hid_t *file)
{
  pp_h5_quiet();
  hid_t fapl = -1;
  PP_CALL(parallel_access(runtime, &fapl));
  *file = create ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : H5Fopen(path, H5F_ACC_RDONLY, fapl);
  pp_h5_close(&fapl);
  if (*file < 0) {
    char what[PATH_SIZE + 32];
    snprintf(what, sizeof what, "%s %s", create ? "creating" : "opening", path);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  return PP_OK;
}

pp_err pp_h5_create_parallel(const pp_runtime *runtime, const char *path, hid_t *file)
{
  return parallel_file(runtime, path, 1, file);
}

pp_err pp_h5_open_parallel(const pp_runtime *runtime, const char *path, hid_t *file)
{
  return parallel_file(runtime, path, 0, file);
}

pp_err pp_h5_open_serial(const char *path, hid_t *file)
{
  pp_h5_quiet();
  *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*file < 0) {
    char what[PATH_SIZE + 32];
    snprintf(what, sizeof what, "opening %s", path);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  return PP_OK;
}

/* Create a scalar attribute of file_type and write value (memory_type); closes everything. */
static pp_err write_attr(hid_t location, const char *name, hid_t file_type, hid_t memory_type, const void *value)
{
  hid_t space = H5Screate(H5S_SCALAR);
  PP_H5(space, "creating a scalar dataspace");
  hid_t attr = H5Acreate2(location, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
  pp_h5_close(&space);
  if (attr < 0) {
    char what[128];
    snprintf(what, sizeof what, "creating attribute '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  herr_t status = H5Awrite(attr, memory_type, value);
  pp_h5_close(&attr);
  if (status < 0) {
    char what[128];
    snprintf(what, sizeof what, "writing attribute '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  return PP_OK;
}

pp_err pp_h5_write_attr_string(hid_t location, const char *name, const char *value)
{
  size_t length = strlen(value);
  hid_t type = H5Tcopy(H5T_C_S1);
  PP_H5(type, "copying the string type");
  /* An empty string still needs one byte; NULLPAD then reads back as "". */
  if (H5Tset_size(type, length ? length : 1) < 0 || H5Tset_strpad(type, H5T_STR_NULLPAD) < 0) {
    pp_h5_close(&type);
    return pp_h5_error(__FILE__, __LINE__, __func__, "making a fixed-length string type");
  }
  char empty[1] = {0};
  pp_err code = write_attr(location, name, type, type, length ? (const void *)value : empty);
  pp_h5_close(&type);
  return code;
}

pp_err pp_h5_write_attr_double(hid_t location, const char *name, double value)
{
  return write_attr(location, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

pp_err pp_h5_write_attr_int64(hid_t location, const char *name, long long value)
{
  return write_attr(location, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
}

pp_err pp_h5_write_attr_int(hid_t location, const char *name, int value)
{
  return write_attr(location, name, H5T_STD_I32LE, H5T_NATIVE_INT, &value);
}

pp_err pp_h5_write_attr_uint64(hid_t location, const char *name, unsigned long long value)
{
  return write_attr(location, name, H5T_STD_U64LE, H5T_NATIVE_ULLONG, &value);
}

static pp_err read_attr(hid_t location, const char *name, hid_t memory_type, void *value)
{
  hid_t attr = H5Aopen(location, name, H5P_DEFAULT);
  if (attr < 0) {
    char what[128];
    snprintf(what, sizeof what, "opening attribute '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  herr_t status = H5Aread(attr, memory_type, value);
  pp_h5_close(&attr);
  if (status < 0) {
    char what[128];
    snprintf(what, sizeof what, "reading attribute '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  return PP_OK;
}

pp_err pp_h5_read_attr_string(hid_t location, const char *name, char *value, size_t size)
{
  value[0] = '\0';
  hid_t attr = H5Aopen(location, name, H5P_DEFAULT);
  if (attr < 0) {
    char what[128];
    snprintf(what, sizeof what, "opening attribute '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  hid_t file_type = H5Aget_type(attr);
  pp_err code = PP_OK;
  if (file_type < 0 || H5Tget_class(file_type) != H5T_STRING || H5Tis_variable_str(file_type) != 0) {
    code = pp_error_raise(PP_ERR_HDF5, __FILE__, __LINE__, __func__,
                          "attribute '%s' is not a fixed-length string", name);
  } else {
    size_t length = H5Tget_size(file_type);
    char *buffer = calloc(length + 1, 1);
    hid_t memory_type = H5Tcopy(file_type);
    if (!buffer) {
      code = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory reading attribute '%s'", name);
    } else if (memory_type < 0 || H5Aread(attr, memory_type, buffer) < 0) {
      char what[128];
      snprintf(what, sizeof what, "reading attribute '%s'", name);
      code = pp_h5_error(__FILE__, __LINE__, __func__, what);
    } else {
      snprintf(value, size, "%s", buffer);
    }
    pp_h5_close(&memory_type);
    free(buffer);
  }
  pp_h5_close(&file_type);
  pp_h5_close(&attr);
  return code;
}

pp_err pp_h5_read_attr_double(hid_t location, const char *name, double *value)
{
  return read_attr(location, name, H5T_NATIVE_DOUBLE, value);
}

pp_err pp_h5_read_attr_int64(hid_t location, const char *name, long long *value)
{
  return read_attr(location, name, H5T_NATIVE_LLONG, value);
}

pp_err pp_h5_read_attr_uint64(hid_t location, const char *name, unsigned long long *value)
{
  return read_attr(location, name, H5T_NATIVE_ULLONG, value);
}

pp_err pp_h5_rows_build(pp_h5_rows *rows, const long long *ids, int count, long long global_count, const char *what)
{
  memset(rows, 0, sizeof *rows);
  for (int i = 0; i < PP_H5_ROWS_CACHE; ++i) rows->cached_space[i] = -1;
  PP_CHECK(count >= 0 && (count == 0 || ids), PP_ERR_ARGUMENT, "%s: %d owned ids but no id array", what, count);
  int runs = 0;
  for (int i = 0; i < count; ++i) {
    PP_CHECK(ids[i] >= 0 && ids[i] < global_count, PP_ERR_ARGUMENT,
             "%s: owned id %lld at position %d is outside [0, %lld)", what, ids[i], i, global_count);
    PP_CHECK(i == 0 || ids[i] > ids[i - 1], PP_ERR_ARGUMENT,
             "%s: owned ids must be strictly increasing, but id %lld at position %d follows %lld", what, ids[i], i,
             ids[i - 1]);
    if (i == 0 || ids[i] != ids[i - 1] + 1) ++runs;
  }
  PP_MALLOC(rows->run_start, runs, "output row runs");
  PP_MALLOC(rows->run_length, runs, "output row runs");
  int run = -1;
  for (int i = 0; i < count; ++i) {
    if (i == 0 || ids[i] != ids[i - 1] + 1) {
      rows->run_start[++run] = ids[i];
      rows->run_length[run] = 0;
    }
    ++rows->run_length[run];
  }
  rows->run_count = runs;
  rows->row_count = count;
  return PP_OK;
}

void pp_h5_rows_free(pp_h5_rows *rows)
{
  for (int i = 0; i < PP_H5_ROWS_CACHE; ++i)
    if (rows->cached_space[i] > 0) pp_h5_close(&rows->cached_space[i]);
  free(rows->run_start);
  free(rows->run_length);
  memset(rows, 0, sizeof *rows);
}

pp_err pp_h5_create_table(hid_t parent, const char *name, hid_t file_type, long long rows, int columns,
                          const char *units, const char *center, hid_t *dataset)
{
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)columns};
  hid_t space = H5Screate_simple(columns > 1 ? 2 : 1, dims, NULL);
  PP_H5(space, "creating a dataspace");
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  /* Every element is written, so writing fill values first would only double the I/O. */
  if (dcpl >= 0) H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  *dataset = dcpl < 0 ? -1 : H5Dcreate2(parent, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  pp_h5_close(&dcpl);
  pp_h5_close(&space);
  if (*dataset < 0) {
    char what[160];
    snprintf(what, sizeof what, "creating dataset '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  pp_err code = pp_h5_write_attr_string(*dataset, "units", units);
  if (code == PP_OK) code = pp_h5_write_attr_string(*dataset, "center", center);
  if (code != PP_OK) pp_h5_close(dataset);
  return code;
}

/* Union of runs [lo, hi) as a selection on a copy of base. Adding runs one by one with
 * H5S_SELECT_OR costs O(runs^2) in HDF5 1.10 once the selection is irregular (each OR merges
 * into the whole span tree: 10^4 runs per rank took 2.4 s on 2 ranks, 3.3 s on 4). Building
 * small unions with SET/OR and merging halves (H5Smodify_select) gives the same selection in
 * O(runs log runs): 0.01 s for 10^4 runs, 0.14-0.28 s for 10^5. */
static hid_t union_of_runs(hid_t base, const pp_h5_rows *rows, int lo, int hi, int columns)
{
  enum { LEAF = 16 };
  if (hi - lo <= LEAF) {
    hid_t space = H5Scopy(base);
    for (int r = lo; space >= 0 && r < hi; ++r) {
      hsize_t start[2] = {(hsize_t)rows->run_start[r], 0};
      hsize_t count[2] = {(hsize_t)rows->run_length[r], (hsize_t)columns};
      if (H5Sselect_hyperslab(space, r == lo ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count, NULL) < 0)
        pp_h5_close(&space);
    }
    return space;
  }
  int middle = lo + (hi - lo) / 2;
  hid_t left = union_of_runs(base, rows, lo, middle, columns);
  hid_t right = left < 0 ? -1 : union_of_runs(base, rows, middle, hi, columns);
  if (right < 0 || H5Smodify_select(left, H5S_SELECT_OR, right) < 0) pp_h5_close(&left);
  pp_h5_close(&right);
  return left;
}

/* File and memory spaces selecting this rank's rows: the union of its runs, or nothing at all
 * (a rank with nothing still joins the collective transfer). The file selection is built once
 * per column count and kept in rows, since every dataset of a centring has the same shape. */
static pp_err row_spaces(hid_t dataset, pp_h5_rows *rows, int columns, hid_t *file_space, hid_t *memory_space)
{
  *memory_space = -1;
  *file_space = -1;
  hsize_t memory_count = (hsize_t)rows->row_count * (hsize_t)columns;
  *memory_space = H5Screate_simple(1, &memory_count, NULL);
  PP_H5(*memory_space, "creating a memory dataspace");
  hid_t base = H5Dget_space(dataset);
  herr_t status = base;
  if (status >= 0 && rows->run_count == 0) {
    status = H5Sselect_none(base);
    if (status >= 0) status = H5Sselect_none(*memory_space);
    if (status >= 0) *file_space = base, base = -1;
  } else if (status >= 0) {
    int slot = -1;
    for (int i = 0; i < PP_H5_ROWS_CACHE; ++i)
      if (rows->cached_columns[i] == columns && rows->cached_space[i] >= 0 &&
          H5Sextent_equal(rows->cached_space[i], base) > 0)
        slot = i;
    if (slot < 0) {
      hid_t built = union_of_runs(base, rows, 0, rows->run_count, columns);
      status = built;
      for (int i = 0; built >= 0 && slot < 0 && i < PP_H5_ROWS_CACHE; ++i)
        if (rows->cached_space[i] < 0) slot = i;
      if (built >= 0 && slot < 0) { /* cache full: replace the first entry */
        slot = 0;
        pp_h5_close(&rows->cached_space[0]);
      }
      if (built >= 0) {
        rows->cached_space[slot] = built;
        rows->cached_columns[slot] = columns;
      }
    }
    if (status >= 0) *file_space = H5Scopy(rows->cached_space[slot]);
    status = *file_space;
  }
  pp_h5_close(&base);
  if (status < 0) {
    pp_err code = pp_h5_error(__FILE__, __LINE__, __func__, "selecting this rank's rows");
    pp_h5_close(file_space);
    pp_h5_close(memory_space);
    return code;
  }
  return PP_OK;
}

static pp_err transfer_rows(hid_t dataset, hid_t memory_type, pp_h5_rows *rows, int columns, void *data,
                            int write)
{
  hid_t file_space = H5Dget_space(dataset);
  PP_H5(file_space, "getting a dataset's dataspace");
  hssize_t global_elements = H5Sget_simple_extent_npoints(file_space);
  pp_h5_close(&file_space);
  /* An empty dataset has no storage address: a collective transfer would fail on every rank
   * ("addr overflow"), and there is nothing to move. Every rank sees the same extent. */
  if (global_elements == 0) return PP_OK;
  hid_t memory_space = -1;
  PP_CALL(row_spaces(dataset, rows, columns, &file_space, &memory_space));
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  herr_t status = dxpl < 0 ? -1 : H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  /* HDF5 wants a valid buffer pointer even for an empty selection. */
  double dummy = 0;
  void *buffer = rows->row_count ? data : &dummy;
  if (status >= 0)
    status = write ? H5Dwrite(dataset, memory_type, memory_space, file_space, dxpl, buffer)
                   : H5Dread(dataset, memory_type, memory_space, file_space, dxpl, buffer);
  pp_err code = PP_OK;
  if (status < 0) {
    code = pp_h5_error(__FILE__, __LINE__, __func__, write ? "writing a dataset" : "reading a dataset");
    char name[128] = "?"; /* after reading the stack: any HDF5 call clears it */
    H5Iget_name(dataset, name, sizeof name);
    pp_error_context(code, "while %s dataset %s", write ? "writing" : "reading", name);
  }
  pp_h5_close(&dxpl);
  pp_h5_close(&file_space);
  pp_h5_close(&memory_space);
  return code;
}

pp_err pp_h5_write_rows(hid_t dataset, hid_t memory_type, pp_h5_rows *rows, int columns, const void *data)
{
  return transfer_rows(dataset, memory_type, rows, columns, (void *)data, 1);
}

pp_err pp_h5_read_rows(hid_t dataset, hid_t memory_type, pp_h5_rows *rows, int columns, void *data)
{
  return transfer_rows(dataset, memory_type, rows, columns, data, 0);
}

pp_err pp_h5_table_shape(hid_t dataset, long long *rows, int *columns, int *rank_out)
{
  hid_t space = H5Dget_space(dataset);
  PP_H5(space, "getting a dataset's dataspace");
  hsize_t dims[H5S_MAX_RANK] = {0};
  int rank = H5Sget_simple_extent_dims(space, dims, NULL);
  pp_h5_close(&space);
  PP_H5(rank, "reading a dataset's dimensions");
  *rank_out = rank;
  *rows = rank >= 1 ? (long long)dims[0] : 1;
  *columns = rank >= 2 ? (int)dims[1] : 1;
  return PP_OK;
}

/* Writes one mesh dataset; the caller has already opened the group. */
static pp_err mesh_table(hid_t group, const char *name, hid_t file_type, hid_t memory_type, long long rows,
                         int columns, const char *units, pp_h5_rows *owned, const void *data)
{
  hid_t dataset = -1;
  PP_CALL(pp_h5_create_table(group, name, file_type, rows, columns, units, "cell", &dataset));
  pp_err code = pp_h5_write_rows(dataset, memory_type, owned, columns, data);
  pp_h5_close(&dataset);
  return code == PP_OK ? PP_OK : pp_error_trace(code, __FILE__, __LINE__, __func__);
}

pp_err pp_h5_write_mesh(const pp_runtime *runtime, hid_t file, const pp_io_mesh *mesh, pp_h5_rows *node_rows,
                        pp_h5_rows *cell_rows, int with_rank)
{
  PP_CALL(pp_h5_write_attr_int64(file, "n_nodes", mesh->global_node_count));
  PP_CALL(pp_h5_write_attr_int64(file, "n_cells", mesh->global_cell_count));
  PP_CALL(pp_h5_write_attr_string(file, "length_unit", "m"));
  hid_t group = H5Gcreate2(file, "mesh", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PP_H5(group, "creating group /mesh");
  int *ranks = NULL;
  pp_err code = PP_OK;
  hid_t points = -1;
  code = pp_h5_create_table(group, "points", H5T_IEEE_F64LE, mesh->global_node_count, 3, "m", "node", &points);
  if (code == PP_OK) code = pp_h5_write_rows(points, H5T_NATIVE_DOUBLE, node_rows, 3, mesh->owned_node_coords);
  pp_h5_close(&points);
  if (code == PP_OK)
    code = mesh_table(group, "hexes", H5T_STD_I64LE, H5T_NATIVE_LLONG, mesh->global_cell_count, 8, "1", cell_rows,
                      mesh->owned_cell_nodes);
  if (code == PP_OK)
    code = mesh_table(group, "layer", H5T_STD_I32LE, H5T_NATIVE_INT, mesh->global_cell_count, 1, "1", cell_rows,
                      mesh->owned_cell_layer);
  if (code == PP_OK && with_rank) {
    ranks = mesh->owned_cell_count ? malloc(sizeof *ranks * (size_t)mesh->owned_cell_count) : NULL;
    if (mesh->owned_cell_count && !ranks)
      code = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the rank field");
    for (int i = 0; code == PP_OK && i < mesh->owned_cell_count; ++i) ranks[i] = runtime->rank;
    if (code == PP_OK)
      code = mesh_table(group, "rank", H5T_STD_I32LE, H5T_NATIVE_INT, mesh->global_cell_count, 1, "1", cell_rows,
                        ranks);
  }
  free(ranks);
  pp_h5_close(&group);
  return code == PP_OK ? PP_OK : pp_error_trace(code, __FILE__, __LINE__, __func__);
}

pp_err pp_h5_check_mesh(const pp_runtime *runtime, const pp_io_mesh *mesh)
{
  pp_err local = PP_OK;
  if (!mesh)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__, "no mesh view given");
  else if (mesh->owned_node_count < 0 || mesh->owned_cell_count < 0 ||
           (mesh->owned_node_count && (!mesh->owned_node_ids || !mesh->owned_node_coords)) ||
           (mesh->owned_cell_count && (!mesh->owned_cell_ids || !mesh->owned_cell_nodes || !mesh->owned_cell_layer)))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "mesh view on rank %d: owned counts %d nodes, %d cells but arrays missing", runtime->rank,
                           mesh->owned_node_count, mesh->owned_cell_count);
  for (int i = 0; local == PP_OK && i < mesh->owned_cell_count * 8; ++i)
    if (mesh->owned_cell_nodes[i] < 0 || mesh->owned_cell_nodes[i] >= mesh->global_node_count)
      local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                             "mesh view: cell %lld refers to node %lld, outside [0, %lld)",
                             mesh->owned_cell_ids[i / 8], mesh->owned_cell_nodes[i], mesh->global_node_count);
  long long counts[2] = {mesh ? mesh->owned_node_count : 0, mesh ? mesh->owned_cell_count : 0}, sums[2] = {0, 0};
  PP_MPI(MPI_Allreduce(counts, sums, 2, MPI_LONG_LONG, MPI_SUM, runtime->comm), "summing owned mesh counts");
  if (local == PP_OK && (sums[0] != mesh->global_node_count || sums[1] != mesh->global_cell_count))
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                           "mesh view: ranks own %lld nodes and %lld cells in all, but the mesh has %lld and %lld "
                           "(every id must be owned by exactly one rank)",
                           sums[0], sums[1], mesh->global_node_count, mesh->global_cell_count);
  PP_CALL(pp_runtime_agree(runtime, local, "checking the mesh view for output"));
  return PP_OK;
}

static const char *attribute_type(int components)
{
  return components == 3 ? "Vector" : components == 9 ? "Tensor" : "Scalar";
}

static void print_item(FILE *out, long long rows, int columns, int is_int, int precision, const char *file,
                       const char *path)
{
  if (columns > 1)
    fprintf(out, "     <DataItem Dimensions=\"%lld %d\"", rows, columns);
  else
    fprintf(out, "     <DataItem Dimensions=\"%lld\"", rows);
  fprintf(out, " NumberType=\"%s\" Precision=\"%d\" Format=\"HDF\">%s:%s</DataItem>\n", is_int ? "Int" : "Float",
          precision, file, path);
}

pp_err pp_h5_xdmf_print(FILE *out, const void *context)
{
  const pp_h5_xdmf *x = context;
  fprintf(out, "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\" xmlns:xi=\"http://www.w3.org/2001/XInclude\">\n");
  fprintf(out, " <Domain>\n");
  fprintf(out, "  <Grid Name=\"%s\" GridType=\"Collection\" CollectionType=\"Temporal\">\n", x->collection_name);
  /* Readers ignore Information; people and scripts reading the index learn the time unit. */
  fprintf(out, "   <Information Name=\"time_unit\" Value=\"%s\"/>\n", x->time_unit);
  for (int g = 0; g < x->grid_count; ++g) {
    const pp_h5_xdmf_grid *grid = &x->grids[g];
    fprintf(out, "   <Grid Name=\"%s\" GridType=\"Uniform\">\n", grid->grid_name);
    fprintf(out, "    <Time Value=\"%.17g\"/>\n", grid->time);
    fprintf(out, "    <Topology TopologyType=\"Hexahedron\" NumberOfElements=\"%lld\">\n", x->cell_count);
    print_item(out, x->cell_count, 8, 1, 8, x->mesh_file, "/mesh/hexes");
    fprintf(out, "    </Topology>\n    <Geometry GeometryType=\"XYZ\">\n");
    print_item(out, x->node_count, 3, 0, 8, x->mesh_file, "/mesh/points");
    fprintf(out, "    </Geometry>\n");
    fprintf(out, "    <Attribute Name=\"layer\" AttributeType=\"Scalar\" Center=\"Cell\">\n");
    print_item(out, x->cell_count, 1, 1, 4, x->mesh_file, "/mesh/layer");
    fprintf(out, "    </Attribute>\n");
    if (x->with_rank) {
      fprintf(out, "    <Attribute Name=\"rank\" AttributeType=\"Scalar\" Center=\"Cell\">\n");
      print_item(out, x->cell_count, 1, 1, 4, x->mesh_file, "/mesh/rank");
      fprintf(out, "    </Attribute>\n");
    }
    for (int f = 0; f < grid->field_count; ++f) {
      const pp_h5_field *field = &grid->fields[f];
      char path[PP_H5_NAME_SIZE + 64];
      snprintf(path, sizeof path, "%s/%s", grid->data_group, field->name);
      fprintf(out, "    <Attribute Name=\"%s\" AttributeType=\"%s\" Center=\"%s\">\n", field->name,
              attribute_type(field->components), field->cell ? "Cell" : "Node");
      print_item(out, field->cell ? x->cell_count : x->node_count, field->components, field->is_int,
                 field->is_int ? 4 : 8, grid->data_file, path);
      fprintf(out, "    </Attribute>\n");
    }
    fprintf(out, "   </Grid>\n");
  }
  fprintf(out, "  </Grid>\n </Domain>\n</Xdmf>\n");
  return PP_OK;
}

pp_err pp_h5_make_directories(const char *dir)
{
  char path[PATH_SIZE];
  PP_CHECK(strlen(dir) > 0 && strlen(dir) < sizeof path, PP_ERR_IO, "invalid folder name '%s'", dir);
  strcpy(path, dir);
  for (char *p = path + 1; *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) PP_RAISE(PP_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
    *p = '/';
  }
  if (mkdir(path, 0777) != 0 && errno != EEXIST) PP_RAISE(PP_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
  struct stat info;
  PP_CHECK(stat(path, &info) == 0 && S_ISDIR(info.st_mode), PP_ERR_IO, "%s exists and is not a folder", path);
  return PP_OK;
}

int pp_h5_valid_name(const char *name)
{
  if (!name || !*name || strlen(name) >= PP_H5_NAME_SIZE) return 0;
  for (const char *c = name; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
      return 0;
  return 1;
}
