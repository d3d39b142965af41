/* mesh: the layered skin block, generated in parallel. Each rank builds only its own block of
 * node columns (partition.h) plus the ghost elements and ghost nodes around it; no rank holds
 * an array of global size (only the three 1-D coordinate axes).
 *
 * Geometry. x, y lateral in [0, Lx] x [0, Ly]; z up, the skin surface at z = 0 and the base at
 * z = -(total thickness). Five layers from the surface down, ids 0-4: stratum corneum, viable
 * epidermis, papillary dermis, reticular dermis, hypodermis; every layer interface is a node
 * plane (before the optional junction undulation moves it). Hex8 elements, tensor-product
 * grading: each axis is fine near its refined positions (needle axes; the surface for z) and
 * coarsens geometrically away from them, and every refined position is a node line.
 *
 * Numbering (the mesh's original global numbering, used in every output file):
 *   node    (i, j, k): id = (j * NX + i) * NZ + k, with NX the distinct node columns in x (the
 *                      element count when x is periodic, one more otherwise), k = 0 at the surface;
 *   element (i, j, k): id = (j * EX + i) * EZ + k.
 * Hex corner order (VTK/XDMF): corners 0-3 the deeper face, counter-clockwise seen from +z,
 * starting at (i, j); corners 4-7 the face above them.
 *
 * Periodic sides: the two faces' nodes are one node (pairs identified by construction). Element
 * reference coordinates across a periodic side come from one canonical unwrap: the canonical
 * node's coordinates plus exactly one period, so they are the same bits on every rank.
 *
 * Local order: owned nodes (ascending global id), then ghost nodes (ascending); owned elements,
 * then ghost elements (both ascending). Every element touching an owned node is present, so a
 * node's sum over its elements is done locally, in ascending global element id (node_elements
 * CSR): the same bits on any partition. */
#ifndef PP_MESH_H
#define PP_MESH_H

#include <stddef.h>
#include <stdio.h>

#include <mpi.h>

#include "config.h"
#include "error.h"
#include "io.h"
#include "partition.h"

enum { PP_LAYER_COUNT = 5 };
typedef enum { PP_SIDE_FREE, PP_SIDE_SYMMETRIC, PP_SIDE_PERIODIC } pp_side_kind;

/* Boundary flags of a node (bits). */
enum {
  PP_NODE_SURFACE = 1, PP_NODE_BASE = 2, PP_NODE_X_MIN = 4, PP_NODE_X_MAX = 8, PP_NODE_Y_MIN = 16,
  PP_NODE_Y_MAX = 32
};

typedef struct {
  double length_x, length_y;                 /* m */
  double layer_thickness[PP_LAYER_COUNT];    /* m, surface first */
  pp_side_kind side_x, side_y;
  const double *refine_x, *refine_y;         /* positions of refined vertical lines (m) */
  int refine_x_count, refine_y_count;
  double lateral_fine_size, lateral_fine_radius, lateral_growth, lateral_max_size;
  double surface_size, depth_growth, depth_max_size;
  int min_elements_per_layer;
  double dej_amplitude, dej_wavelength;      /* m; amplitude peak-to-trough, 0 = flat */
} pp_mesh_spec;

/* The spec from the config's skin.* and mesh.* keys (pointers into the config: keep it alive). */
pp_err pp_mesh_spec_from_config(const pp_config *config, pp_mesh_spec *spec);

/* One coordinate axis: node positions 0..element_count (the last one is the far end). */
typedef struct {
  int element_count;
  double *position;      /* [element_count + 1] */
  int *layer_first;      /* z only: first element index of each layer, [PP_LAYER_COUNT + 1] */
} pp_mesh_axis;

/* Build one graded axis over [0, length] refined towards `refined` positions (each becomes a
 * node); on a periodic axis distances to refined positions wrap around. Exposed for tests. */
pp_err pp_mesh_axis_build(double length, const double *refined, int refined_count, double fine_size,
                          double fine_radius, double growth, double max_size, int periodic, pp_mesh_axis *axis);

typedef struct {
  int imported;                /* 1: distributed from an imported mesh (distribute.h): no axes, no
                                  block partition, no periodic sides */
  pp_mesh_spec spec;           /* copied; refine pointers dropped */
  pp_mesh_axis axis_x, axis_y, axis_z;
  long node_columns_x, node_columns_y; /* NX, NY: distinct node columns */
  int node_layers;             /* NZ = axis_z.element_count + 1 */
  long long global_node_count, global_element_count;

  int rank, rank_count;
  pp_rank_grid grid;
  long owned_x_first, owned_x_end, owned_y_first, owned_y_end; /* owned node columns */

  int owned_node_count, node_count;          /* owned first, then ghosts */
  long long *node_global_id;                 /* [node_count] */
  double *node_coords;                       /* [node_count * 3] reference x, y, z (m) */
  int *node_owner;                           /* [node_count] owning rank */
  unsigned char *node_boundary;              /* [node_count] PP_NODE_* bits */

  int owned_element_count, element_count;    /* owned first, then ghosts */
  long long *element_global_id;              /* [element_count] */
  int *element_nodes;                        /* [element_count * 8] local node indices */
  unsigned char *element_layer;              /* [element_count] */
  double *element_corner_coords;             /* [element_count * 24] reference corners, unwrapped */

  int *node_element_offset;                  /* [owned_node_count + 1] */
  int *node_element_entry;                   /* element * 8 + corner, ascending global element id */

  /* Output view (pp_mesh_io_view): periodic faces written twice so ParaView draws a block. */
  int output_node_count;                     /* output nodes this rank writes */
  long long *output_node_ids;                /* ascending output ids */
  double *output_node_coords;                /* unwrapped coordinates */
  int *output_node_local;                    /* local node holding each output node's values */
  long long *output_cell_nodes;              /* owned elements' corners in output ids */
  int *output_cell_layer;
} pp_mesh;

/* Generate rank `rank`'s block of a `rank_count`-rank decomposition. Plain function (no MPI):
 * one process may build any rank's block. Validates the spec (clear messages naming the
 * config keys). */
pp_err pp_mesh_generate(const pp_mesh_spec *spec, int rank, int rank_count, pp_mesh *mesh);
void pp_mesh_free(pp_mesh *mesh);
/* Validate the spec and build only the axes and global counts (no rank arrays): what
 * `pinprick check` reports before anything runs. */
pp_err pp_mesh_plan(const pp_mesh_spec *spec, pp_mesh *mesh);
/* Element counts, size ranges per axis and element layers per skin layer, one line each, each
 * starting with prefix. */
void pp_mesh_print_summary(const pp_mesh *mesh, const char *prefix, FILE *out);

/* The owned part of the mesh as the output and checkpoint modules take it (io.h). Output
 * numbering equals the mesh numbering except across periodic sides, whose faces are written
 * twice (so cells are not drawn stretched across the block): node fields go through
 * pp_mesh_output_node_values (ghosts up to date first). The view points into the mesh. */
pp_err pp_mesh_io_view(pp_mesh *mesh, pp_io_mesh *view);
/* Node values in output order ([view.owned_node_count * components]) from a local node field
 * ([node_count * components], owned and ghost). */
pp_err pp_mesh_output_node_values(pp_mesh *mesh, const double *local_values, int components, double *output_values);
/* The inverse for the owned nodes (restart): each owned local node takes the values of its output
 * node; where a periodic face is written twice the canonical copy (the node's own position, not
 * the one shifted by a period) is taken, the other is not read (the two agree when written by
 * pp_mesh_output_node_values). output_values: [view.owned_node_count * components];
 * local_values: the first owned_node_count * components entries are written, ghosts untouched. */
pp_err pp_mesh_local_from_output(pp_mesh *mesh, const double *output_values, int components, double *local_values);

/* Bytes held by the mesh's arrays (the memory test). */
size_t pp_mesh_bytes(const pp_mesh *mesh);

/* Volume of local element e (2x2x2 Gauss quadrature of det J: exact for a trilinear hex). */
double pp_mesh_element_volume(const pp_mesh *mesh, int element);

/* Collective: the volume of each layer over all ranks, summed order-independently (reduce), so
 * the same bits on any rank count. */
pp_err pp_mesh_layer_volumes(const pp_mesh *mesh, MPI_Comm comm, double volumes[PP_LAYER_COUNT]);

/* Layer names ("stratum corneum", ...) and config stems ("stratum_corneum", ...). */
const char *pp_mesh_layer_name(int layer);
/* Its config-key stem: skin.<stem>.* ("stratum_corneum"). */
const char *pp_mesh_layer_key(int layer);

/* Global id of node column (i, j) at depth k (generated meshes). */
long long pp_mesh_node_id(const pp_mesh *mesh, long i, long j, int k);
/* Local index of global node id (owned or ghost), or -1 when the rank does not hold it. */
int pp_mesh_local_node(const pp_mesh *mesh, long long id);


#endif
