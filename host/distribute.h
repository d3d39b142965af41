/* distribute: an imported (unstructured) mesh, read on one rank, partitioned with METIS and
 * handed out so that every rank ends up with the same structure the generator builds: owned
 * nodes and elements, every element touching an owned node present (owned or ghost), the node
 * -> element CSR in ascending global element id, node owners for the halo plan. The numbering
 * stays the file's, so output does not depend on the rank count.
 *
 * METIS partitions the element dual graph (elements sharing a face) with a fixed seed, so the
 * same mesh on the same rank count always gives the same partition; the node partition is the
 * one METIS derives from it. The root holds the whole mesh while distributing (the parser is a
 * one-rank function by design); no other rank holds an array of global size. */
#ifndef PP_DISTRIBUTE_H
#define PP_DISTRIBUTE_H

#include <mpi.h>

#include "error.h"
#include "mesh.h"

typedef struct {
  long long node_count, element_count;
  const double *node_coords;          /* [node_count * 3], SI */
  const long long *element_nodes;     /* [element_count * 8], 0-based node indices, VTK hex order */
  const int *element_layer;           /* [element_count], 0-4 */
  const unsigned char *node_boundary; /* [node_count] PP_NODE_* bits, or NULL */
} pp_global_mesh;

typedef struct {
  long long edge_cut;          /* faces between elements of different ranks (METIS objective) */
  double element_balance;      /* largest owned element count over the mean (1 = perfect) */
  double node_balance;
} pp_partition_stats;

/* Collective over comm. `global` is read on root only (NULL elsewhere). */
pp_err pp_mesh_distribute(const pp_global_mesh *global, int root, MPI_Comm comm, pp_mesh *mesh,
                          pp_partition_stats *stats);

#endif
