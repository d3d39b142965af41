/* checkpoint: restartable state. Modules register the arrays and scalars that make up their
 * state; a checkpoint writes them collectively, in the mesh's global numbering, so a restart may
 * use the same or another rank count.
 *
 * Files (<dir> is the output folder):
 *   <dir>/checkpoint/ckpt_<step>.h5    step as %09lld; written as .h5.tmp and renamed when every
 *                                      rank has closed it, so a complete name means a complete file
 *   <dir>/checkpoint/ckpt_<step>.xdmf  an index so ParaView opens the state (mesh, layer, every
 *                                      registered node and cell field) at its time
 * The last two checkpoints are kept (a kill while writing the newest leaves the previous one).
 *
 * HDF5 contents: root attributes format="pinprick-checkpoint", format_version, pinprick_version,
 * git_hash, step, time (s), config_hash, n_nodes, n_cells; /mesh/{points,hexes,layer} as in an
 * output series; /fields/<name> (float64 or int32, [N] or [N, components]; node and cell fields
 * share the group, so names are unique across both) with units, center and checksum
 * attributes; /scalars with one attribute per registered scalar.
 * The checksum (uint64) is a sum over rows of a hash of (global id, value bits), so it does not
 * depend on the rank count and a damaged dataset is found on read.
 *
 * Every function taking a checkpoint is collective and returns the same result on every rank.
 * Registration order and names must be the same on every rank. Registered pointers must stay
 * valid until pp_checkpoint_free; values are read and written through them. */
#ifndef PP_CHECKPOINT_H
#define PP_CHECKPOINT_H

#include "error.h"
#include "io.h"
#include "runtime.h"

#define PP_CHECKPOINT_FORMAT "pinprick-checkpoint"
#define PP_CHECKPOINT_FORMAT_VERSION 1

typedef struct pp_checkpoint pp_checkpoint;

/* dir: the output folder; its checkpoint/ subfolder is created. The mesh view is copied (its
 * arrays are not: they must outlive the checkpoint). */
pp_err pp_checkpoint_create(pp_checkpoint **checkpoint, const pp_runtime *runtime, const char *dir,
                            const pp_io_mesh *mesh);
void pp_checkpoint_free(pp_checkpoint **checkpoint);

/* owned_values: [owned count * components] in the mesh view's owned order. components 1, 3 or 9
 * (so the XDMF index can show them). Names: letters, digits, '_', '-', unique per centring. */
pp_err pp_checkpoint_register_node_field(pp_checkpoint *checkpoint, const char *name, const char *units,
                                         int components, double *owned_values);
pp_err pp_checkpoint_register_cell_field(pp_checkpoint *checkpoint, const char *name, const char *units,
                                         int components, double *owned_values);
pp_err pp_checkpoint_register_cell_field_int(pp_checkpoint *checkpoint, const char *name, const char *units,
                                             int *owned_values);
/* Global scalars (time step, needle position, counters): the same value on every rank; a write
 * refuses values that differ between ranks. */
pp_err pp_checkpoint_register_scalar_double(pp_checkpoint *checkpoint, const char *name, double *value);
pp_err pp_checkpoint_register_scalar_int64(pp_checkpoint *checkpoint, const char *name, long long *value);

/* Write ckpt_<step>.h5 and .xdmf, then delete all but the two newest. time in s. config_hash:
 * the hash of the physics keys (any printable string up to 127 characters). */
pp_err pp_checkpoint_write(pp_checkpoint *checkpoint, long long step, double time, const char *config_hash);

/* Read the newest checkpoint into the registered arrays and scalars, each rank its owned ids.
 * Refused (on every rank, with the reason) when: there is none; its config hash differs from
 * config_hash and force is 0 (the message names both); it is damaged or truncated; its mesh
 * counts differ; a registered item is missing or has another shape or type. *step and *time
 * (may be NULL) receive what it was written with. */
pp_err pp_checkpoint_read_latest(pp_checkpoint *checkpoint, const char *config_hash, int force, long long *step,
                                 double *time);

/* Path of the newest complete checkpoint (empty when none), collective. */
pp_err pp_checkpoint_latest_path(const pp_checkpoint *checkpoint, char *path, size_t size);

#endif
