/* io: output series — what ParaView opens. Layout and rules: ANCHORS.md §5.
 *
 * An output folder holds one or more series. Series <name> is:
 *   <dir>/<name>.xdmf               the index: an XDMF Temporal collection listing only completed
 *                                   steps, rewritten atomically (tmp + rename) by rank 0 after each
 *   <dir>/<name>/mesh.h5            /mesh/points, /mesh/hexes, /mesh/layer, /mesh/rank, written once
 *   <dir>/<name>/step_NNNNNN.h5     /fields/<field> for one output time, written collectively
 * Each series has its own subfolder so several series (stage 1 per session in s, healing in
 * days) share a folder without name clashes, and every path in an index is relative to it.
 * Datasets are in the mesh's original global numbering, so the files do not depend on the rank
 * count (only /mesh/rank does). A step file is written as step_NNNNNN.h5.tmp and gets its final
 * name only after every rank closed it; the index never lists a file that is not complete.
 *
 * Times: a series states its time unit (time_unit, e.g. "s" or "d"); the times passed to
 * pp_io_step_begin and pp_io_series_reopen are in that unit (the caller converts from SI).
 * Fields: 1 component → Scalar, 3 → Vector, 9 → Tensor (row-major xx xy xz yx ... zz); other
 * counts are refused (Tensor6 is read differently by the two ParaView 5.11 readers). Every step
 * must write the same fields (names, centring, components, type) in the same order: ParaView's
 * playback breaks when arrays change between steps (dolfinx #3828).
 *
 * Every function taking a series is collective, called by every rank with the same arguments
 * (apart from the owned values); all ranks return the same result (pp_runtime_agree). */
#ifndef PP_IO_H
#define PP_IO_H

#include "error.h"
#include "runtime.h"

/* The part of the mesh one rank writes, in global numbering. Filled by the mesh module; the
 * arrays must stay valid while a series or checkpoint created from the view is open. */
typedef struct {
  long long global_node_count, global_cell_count;
  int owned_node_count;              /* nodes this rank writes */
  const long long *owned_node_ids;   /* global ids (0-based), strictly increasing, any gaps */
  const double *owned_node_coords;   /* [owned_node_count*3] x,y,z interleaved (m) */
  int owned_cell_count;
  const long long *owned_cell_ids;   /* strictly increasing global cell ids */
  const long long *owned_cell_nodes; /* [owned_cell_count*8] global node ids, VTK/XDMF hex order */
  const int *owned_cell_layer;       /* [owned_cell_count] layer id 0-4 */
} pp_io_mesh;

#define PP_IO_FORMAT "pinprick-xdmf"
#define PP_IO_FORMAT_VERSION 1

typedef struct pp_io_series pp_io_series;

/* Start a new series: create <dir>/<name>/ (removing step files a previous series of the same
 * name left there), write mesh.h5 and an empty index. name: letters, digits, '_' and '-'. */
pp_err pp_io_series_open(pp_io_series **series, const pp_runtime *runtime, const char *dir, const char *name,
                         const char *time_unit, const pp_io_mesh *mesh);
/* Continue a series after a restart from time t_restart (ANCHORS.md §5 rule 7): step files with
 * time > t_restart and any *.tmp leftovers are deleted, the index is rebuilt from the remaining
 * files' time attributes, numbering continues after the last kept step. mesh.h5 is kept when
 * its node and cell counts match (refused otherwise) and written when missing. A series that
 * does not exist yet is opened as new. The field set of later steps must match the kept ones. */
pp_err pp_io_series_reopen(pp_io_series **series, const pp_runtime *runtime, const char *dir, const char *name,
                           const char *time_unit, const pp_io_mesh *mesh, double t_restart);
/* Steps: begin (creates the .tmp file), write each field, end (close, rename, rewrite index). */
pp_err pp_io_step_begin(pp_io_series *series, double time);
pp_err pp_io_write_node_field(pp_io_series *series, const char *name, const char *units, int components,
                              const double *owned_values);
pp_err pp_io_write_cell_field(pp_io_series *series, const char *name, const char *units, int components,
                              const double *owned_values);
/* int32 cell field, for flags such as `eroded` (0/1). */
pp_err pp_io_write_cell_field_int(pp_io_series *series, const char *name, const char *units,
                                  const int *owned_values);
pp_err pp_io_step_end(pp_io_series *series);
/* Number of completed steps listed in the index and the number the next step gets. */
long long pp_io_series_completed_steps(const pp_io_series *series);
/* Abandons a step in progress (its .tmp file is removed); frees everything. NULL-safe. */
pp_err pp_io_series_close(pp_io_series **series);

/* Output schedule: the physical times at which a stage writes a step.
 * pp_output_schedule_next(s, t_now, dt, &t_out) returns 1 and sets t_out to the first scheduled
 * time in the half-open interval (t_now, t_now + dt], else 0. A time stepper about to step from
 * t_now by dt calls it; on 1 it takes the shorter step t_out - t_now, sets its time to exactly
 * t_out (not t_now + (t_out - t_now), which may round differently), and writes a step. Because
 * the interval is open at t_now, the same output is never found twice, and an output at the
 * start time (or at a restart time) is not found: use pp_output_schedule_contains for that. */
typedef struct {
  double *times; /* strictly increasing */
  int count;
} pp_output_schedule;
/* A list of times (any order, duplicates merged). */
pp_err pp_output_schedule_list(pp_output_schedule *schedule, const double *times, int count);
/* start, start+every, ... up to end: times are start + k*every (no accumulated rounding); end
 * itself is included when it is a whole number of intervals from start, to within 1e-9 of one. */
pp_err pp_output_schedule_interval(pp_output_schedule *schedule, double start, double end, double every);
/* count times from first to last (both > 0), equally spaced in log(t); endpoints exact. */
pp_err pp_output_schedule_log(pp_output_schedule *schedule, double first, double last, int count);
int pp_output_schedule_next(const pp_output_schedule *schedule, double t_now, double dt, double *t_out);
int pp_output_schedule_contains(const pp_output_schedule *schedule, double t);
void pp_output_schedule_free(pp_output_schedule *schedule);

#endif
