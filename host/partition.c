#include "partition.h"

void pp_partition_range(long count, int parts, int part, long *first, long *end)
{
  long base = count / parts, extra = count % parts;
  *first = part * base + (part < extra ? part : extra);
  *end = *first + base + (part < extra ? 1 : 0);
}

int pp_partition_owner(long count, int parts, long column)
{
  long base = count / parts, extra = count % parts;
  long long_part_columns = extra * (base + 1);
  if (column < long_part_columns) return (int)(column / (base + 1));
  return (int)(extra + (column - long_part_columns) / base);
}

pp_err pp_partition_grid(long node_columns_x, long node_columns_y, int rank_count, pp_rank_grid *grid)
{
  PP_CHECK(rank_count >= 1, PP_ERR_ARGUMENT, "rank count %d < 1", rank_count);
  long best_block = -1, best_perimeter = -1;
  for (int px = 1; px <= rank_count; ++px) {
    if (rank_count % px) continue;
    int py = rank_count / px;
    if (px > node_columns_x || py > node_columns_y) continue;
    long block_x = (node_columns_x + px - 1) / px, block_y = (node_columns_y + py - 1) / py;
    long block = block_x * block_y, perimeter = block_x + block_y;
    if (best_block < 0 || block < best_block || (block == best_block && perimeter < best_perimeter)) {
      best_block = block;
      best_perimeter = perimeter;
      grid->ranks_x = px;
      grid->ranks_y = py;
    }
  }
  PP_CHECK(best_block > 0, PP_ERR_USAGE,
           "a mesh of %ld x %ld node columns cannot be split over %d ranks without empty ranks; "
           "use fewer ranks or a finer mesh", node_columns_x, node_columns_y, rank_count);
  return PP_OK;
}

void pp_partition_rank_position(const pp_rank_grid *grid, int rank, int *position_x, int *position_y)
{
  *position_x = rank % grid->ranks_x;
  *position_y = rank / grid->ranks_x;
}

int pp_partition_rank_at(const pp_rank_grid *grid, int position_x, int position_y)
{
  return position_y * grid->ranks_x + position_x;
}
