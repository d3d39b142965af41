/* mesh_import: the case's mesh when `mesh.file` names a Gmsh file. One rank reads it (gmsh, a
 * plain parser), gives every hexahedron its layer from its physical volume (by layer name, by
 * `mesh.file_layer_map`, or by tag 1-5 from the surface down), marks boundary nodes from the
 * physical surfaces named surface, base and side_{x,y}_{min,max}, scales coordinates to metres
 * (`mesh.file_length_unit`), and hands the mesh to distribute (METIS). */
#ifndef PP_MESH_IMPORT_H
#define PP_MESH_IMPORT_H

#include <stdio.h>

#include "config.h"
#include "distribute.h"
#include "error.h"
#include "gmsh.h"
#include "runtime.h"

/* The global arrays of an imported mesh and the storage behind them. */
typedef struct {
  pp_gmsh_mesh file;
  pp_global_mesh global;
  double *coords;
  int *layer;
  unsigned char *boundary;
} pp_imported_mesh;

/* Plain function (no MPI): read and map mesh.file. */
pp_err pp_mesh_import_read(const pp_config *config, pp_imported_mesh *imported);
void pp_mesh_import_free(pp_imported_mesh *imported);
/* Element and node counts, format and per-layer volumes, one line each, each starting with prefix. */
void pp_mesh_import_print_summary(const pp_imported_mesh *imported, const char *path, const char *prefix, FILE *out);

/* Collective: rank 0 reads, every rank gets its part. */
pp_err pp_mesh_import(const pp_config *config, const pp_runtime *runtime, pp_mesh *mesh, pp_partition_stats *stats);

#endif
