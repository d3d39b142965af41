/* h5util: what io and checkpoint share — HDF5 error text, collective file open, fixed-length
 * string attributes, the "union of runs" selection that lets each rank write or read its owned
 * global ids (which need not be contiguous) in one collective call, the mesh datasets, and the
 * XDMF grid writer. Not a public module: other modules use io.h and checkpoint.h.
 *
 * Errors: HDF5's automatic stack printing is switched off (pp_h5_quiet) so that nothing reaches
 * stderr uninvited; a failed call is turned into PP_ERR_HDF5 whose message carries the HDF5
 * error stack, walked innermost-last with H5Ewalk2 (PP_H5). */
#ifndef PP_H5UTIL_H
#define PP_H5UTIL_H

#include <hdf5.h>
#include <stdio.h>

#include "error.h"
#include "io.h"
#include "runtime.h"

/* Stop HDF5 printing its error stack itself (idempotent; called wherever files are opened). */
void pp_h5_quiet(void);
/* Raise PP_ERR_HDF5: "<what> failed: HDF5: <func>(): <desc> <- ..." from the current stack. */
pp_err pp_h5_error(const char *file, int line, const char *func, const char *what);
/* For calls returning herr_t or hid_t: a negative value raises with the stack text. */
#define PP_H5(call, what)                                                              \
  do {                                                                                 \
    if ((call) < 0) return pp_h5_error(__FILE__, __LINE__, __func__, (what));          \
  } while (0)

/* Collective create (truncating) / read-only open over MPI-IO, metadata operations collective. */
pp_err pp_h5_create_parallel(const pp_runtime *runtime, const char *path, hid_t *file);
pp_err pp_h5_open_parallel(const pp_runtime *runtime, const char *path, hid_t *file);
/* Serial read-only open (one rank inspecting a file). */
pp_err pp_h5_open_serial(const char *path, hid_t *file);
void pp_h5_close(hid_t *id); /* closes any kind of HDF5 id, sets it to -1; ignores -1 */

/* Attributes. Strings are fixed-length, NULLPAD, no terminator (what VTKHDF readers need, and
 * what ANCHORS.md §5.4 asks for everywhere). */
pp_err pp_h5_write_attr_string(hid_t location, const char *name, const char *value);
pp_err pp_h5_write_attr_double(hid_t location, const char *name, double value);
pp_err pp_h5_write_attr_int64(hid_t location, const char *name, long long value);
pp_err pp_h5_write_attr_int(hid_t location, const char *name, int value);
pp_err pp_h5_write_attr_uint64(hid_t location, const char *name, unsigned long long value);
pp_err pp_h5_read_attr_string(hid_t location, const char *name, char *value, size_t size);
pp_err pp_h5_read_attr_double(hid_t location, const char *name, double *value);
pp_err pp_h5_read_attr_int64(hid_t location, const char *name, long long *value);
pp_err pp_h5_read_attr_uint64(hid_t location, const char *name, unsigned long long *value);

/* The rows one rank owns, as maximal runs of consecutive global ids, and the file selections
 * built from them (one per column count; building one costs O(runs log runs)). */
enum { PP_H5_ROWS_CACHE = 6 };
typedef struct {
  int run_count;
  long long *run_start, *run_length;
  long long row_count; /* sum of run lengths = owned count */
  hid_t cached_space[PP_H5_ROWS_CACHE];
  int cached_columns[PP_H5_ROWS_CACHE];
} pp_h5_rows;
/* ids strictly increasing and inside [0, global_count), else PP_ERR_ARGUMENT naming what. */
pp_err pp_h5_rows_build(pp_h5_rows *rows, const long long *ids, int count, long long global_count,
                        const char *what);
void pp_h5_rows_free(pp_h5_rows *rows);

/* Create a contiguous dataset [rows] (columns == 1) or [rows, columns] (collective), with the
 * attributes units and center. file_type e.g. H5T_IEEE_F64LE. */
pp_err pp_h5_create_table(hid_t parent, const char *name, hid_t file_type, long long rows, int columns,
                          const char *units, const char *center, hid_t *dataset);
/* Collective write / read of this rank's rows of a table (data: row_count x columns, row-major,
 * rows in increasing id order). A rank with no rows still takes part (empty selection). */
pp_err pp_h5_write_rows(hid_t dataset, hid_t memory_type, pp_h5_rows *rows, int columns, const void *data);
pp_err pp_h5_read_rows(hid_t dataset, hid_t memory_type, pp_h5_rows *rows, int columns, void *data);
/* Shape of a dataset: rows and columns (1 for a 1-D dataset); *rank_out its dimensionality. */
pp_err pp_h5_table_shape(hid_t dataset, long long *rows, int *columns, int *rank_out);

/* Write /mesh/{points,hexes,layer[,rank]} and the n_nodes, n_cells, length_unit attributes on
 * the root (collective). with_rank adds /mesh/rank (the writing rank of each cell). */
pp_err pp_h5_write_mesh(const pp_runtime *runtime, hid_t file, const pp_io_mesh *mesh, pp_h5_rows *node_rows,
                        pp_h5_rows *cell_rows, int with_rank);
/* Collective sanity check of a mesh view: ids increasing and in range, owned counts summing to
 * the global counts, arrays present where counts are non-zero. */
pp_err pp_h5_check_mesh(const pp_runtime *runtime, const pp_io_mesh *mesh);

/* The XDMF index (ANCHORS.md §5.5): one Uniform grid per time inside one Temporal collection,
 * plain HDF DataItems with relative paths, no HyperSlab, no Tensor6. */
enum { PP_H5_NAME_SIZE = 64, PP_H5_UNITS_SIZE = 64 };
typedef struct {
  char name[PP_H5_NAME_SIZE];
  char units[PP_H5_UNITS_SIZE];
  int cell;        /* 0: node field, 1: cell field */
  int components;  /* 1, 3 or 9 */
  int is_int;      /* int32 instead of float64 */
} pp_h5_field;
typedef struct {
  double time;
  const char *grid_name;      /* "step_000003" */
  const char *data_file;      /* path of the fields' .h5 relative to the .xdmf */
  const char *data_group;     /* "/fields" */
  const pp_h5_field *fields;
  int field_count;
} pp_h5_xdmf_grid;
typedef struct {
  const char *collection_name;
  const char *time_unit;
  const char *mesh_file;      /* relative to the .xdmf */
  int with_rank;              /* list /mesh/rank */
  long long node_count, cell_count;
  const pp_h5_xdmf_grid *grids;
  int grid_count;
} pp_h5_xdmf;
pp_err pp_h5_xdmf_print(FILE *out, const void *xdmf); /* a pp_file_writer for pp_write_file_atomic */

/* Create dir and its parents (one process; EEXIST is fine). */
pp_err pp_h5_make_directories(const char *dir);

/* A series, field or checkpoint item name: letters, digits, '_' and '-', shorter than
 * PP_H5_NAME_SIZE (names become HDF5 paths and file names). */
int pp_h5_valid_name(const char *name);

#endif
