/* halo: the owner -> ghost copy of node fields between ranks. The exchange plan (neighbours,
 * which owned nodes each one needs, which ghost nodes each one fills) is built once, from the
 * owners of each rank's ghost nodes, with two all-to-alls (miniFE's make_local_matrix); it serves
 * generated and imported partitions alike. An exchange
 * is split into begin (pack on the device, read the packed halo, post the receives and sends)
 * and end (wait, write, unpack on the device), so work on interior data can run in between.
 * Lists are in ascending global node id on both sides, so they match without a handshake. */
#ifndef PP_HALO_H
#define PP_HALO_H

#include <mpi.h>

#include "clrt.h"
#include "error.h"
#include "mesh.h"

typedef struct pp_halo pp_halo;

/* Collective over comm. clrt may be NULL for a host-only halo. */
pp_err pp_halo_create(pp_halo **halo, const pp_mesh *mesh, pp_clrt *clrt, MPI_Comm comm);
void pp_halo_destroy(pp_halo *halo);

int pp_halo_neighbour_count(const pp_halo *halo);
/* Ghost nodes filled by the exchange (= mesh->node_count - mesh->owned_node_count). */
int pp_halo_ghost_count(const pp_halo *halo);

/* Device exchange of a node field of `components` REALs per node (interleaved). One exchange in
 * flight per halo; the field must not be written between begin and end. */
pp_err pp_halo_begin(pp_halo *halo, cl_mem field, int components);
pp_err pp_halo_end(pp_halo *halo);

/* The same on a host array of doubles (set-up data, tests). */
pp_err pp_halo_exchange_host(pp_halo *halo, double *field, int components);

#endif
