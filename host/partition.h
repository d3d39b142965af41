/* partition: the geometric block partition of a structured (generated) mesh. Ranks form a
 * Px x Py grid over the lateral node columns; every rank owns whole vertical columns of nodes
 * (depth is never split, so a column's nodes and its layer structure stay on one rank). Pure
 * functions of (grid size, rank count, rank): any rank can compute any other rank's block
 * without communication, which is how the halo plan is built and how one process can generate
 * rank 63's block of a 64-rank run for the memory test. */
#ifndef PP_PARTITION_H
#define PP_PARTITION_H

#include "error.h"

typedef struct {
  int ranks_x, ranks_y;   /* Px, Py with Px * Py = rank count */
} pp_rank_grid;

/* Choose Px x Py for node_columns_x x node_columns_y columns: the factorisation whose largest
 * block has the fewest columns, ties broken by the shorter block perimeter, then by smaller Px.
 * Fails (PP_ERR_USAGE) when a direction would get a rank with no columns. */
pp_err pp_partition_grid(long node_columns_x, long node_columns_y, int rank_count, pp_rank_grid *grid);

/* Position of rank in the grid (x fastest). */
void pp_partition_rank_position(const pp_rank_grid *grid, int rank, int *position_x, int *position_y);
int pp_partition_rank_at(const pp_rank_grid *grid, int position_x, int position_y);

/* The columns [*first, *end) of part `part` out of `parts` over `count` columns: balanced, the
 * first (count % parts) parts one longer. */
void pp_partition_range(long count, int parts, int part, long *first, long *end);
/* Which part owns column `column`. */
int pp_partition_owner(long count, int parts, long column);

#endif
