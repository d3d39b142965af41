#include "distribute.h"

#include <metis.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

enum { TAG_COUNTS = 7401, TAG_NODE_IDS, TAG_NODE_COORDS, TAG_NODE_OWNER, TAG_NODE_BOUNDARY, TAG_ELEMENT_IDS,
       TAG_ELEMENT_NODES, TAG_ELEMENT_LAYER, METIS_SEED = 42 };

/* What one rank receives: nodes (owned ascending, then ghosts ascending) and elements (owned
 * ascending, then ghosts ascending), connectivity in global ids. */
typedef struct {
  long long counts[4]; /* owned nodes, all nodes, owned elements, all elements */
  long long *node_ids;
  double *node_coords;
  int *node_owner;
  unsigned char *node_boundary;
  long long *element_ids;
  long long *element_nodes;
  int *element_layer;
} rank_part;

static void free_part(rank_part *part)
{
  free(part->node_ids); free(part->node_coords); free(part->node_owner); free(part->node_boundary);
  free(part->element_ids); free(part->element_nodes); free(part->element_layer);
  memset(part, 0, sizeof *part);
}

static pp_err allocate_part(rank_part *part, size_t nodes, size_t elements)
{
  PP_MALLOC(part->node_ids, nodes + 1, "a rank's node ids");
  PP_MALLOC(part->node_coords, 3 * nodes + 1, "a rank's node coordinates");
  PP_MALLOC(part->node_owner, nodes + 1, "a rank's node owners");
  PP_MALLOC(part->node_boundary, nodes + 1, "a rank's node flags");
  PP_MALLOC(part->element_ids, elements + 1, "a rank's element ids");
  PP_MALLOC(part->element_nodes, 8 * elements + 1, "a rank's element connectivity");
  PP_MALLOC(part->element_layer, elements + 1, "a rank's element layers");
  return PP_OK;
}

/* Root: METIS element and node partitions. */
static pp_err partition_global(const pp_global_mesh *global, int parts, idx_t *element_part, idx_t *node_part,
                               long long *edge_cut)
{
  PP_CHECK(global->element_count < 0x7fffffff / 8 && global->node_count < 0x7fffffff, PP_ERR_USAGE,
           "mesh of %lld elements and %lld nodes is beyond METIS's 32-bit index range", global->element_count,
           global->node_count);
  idx_t element_count = (idx_t)global->element_count, node_count = (idx_t)global->node_count;
  *edge_cut = 0;
  if (parts == 1) {
    memset(element_part, 0, (size_t)element_count * sizeof *element_part);
    memset(node_part, 0, (size_t)node_count * sizeof *node_part);
    return PP_OK;
  }
  idx_t *element_first = malloc(((size_t)element_count + 1) * sizeof *element_first);
  idx_t *element_index = malloc((8 * (size_t)element_count + 1) * sizeof *element_index);
  PP_CHECK(element_first && element_index, PP_ERR_MEMORY, "out of memory for the METIS graph");
  for (idx_t e = 0; e <= element_count; ++e) element_first[e] = 8 * e;
  for (size_t i = 0; i < 8 * (size_t)element_count; ++i) element_index[i] = (idx_t)global->element_nodes[i];
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = METIS_SEED; /* the same partition every time */
  options[METIS_OPTION_NUMBERING] = 0;
  idx_t common_nodes = 4; /* hexes are neighbours when they share a face */
  idx_t part_count = parts, objective = 0;
  int status = METIS_PartMeshDual(&element_count, &node_count, element_first, element_index, NULL, NULL,
                                  &common_nodes, &part_count, NULL, options, &objective, element_part, node_part);
  free(element_first);
  free(element_index);
  PP_CHECK(status == METIS_OK, PP_ERR_USAGE, "METIS could not partition the mesh (%lld elements) into %d parts: %s",
           global->element_count, parts,
           status == METIS_ERROR_INPUT ? "input error" : status == METIS_ERROR_MEMORY ? "out of memory" : "error");
  *edge_cut = objective;
  return PP_OK;
}

/* Root: the part of rank r, from the partitions and the node -> element adjacency. */
static pp_err build_part(const pp_global_mesh *global, const idx_t *element_part, const idx_t *node_part,
                         const long long *adjacency_first, const long long *adjacency, int r,
                         unsigned char *element_mark, unsigned char *node_mark, rank_part *part)
{
  long long N = global->node_count, E = global->element_count;
  memset(element_mark, 0, (size_t)E);
  memset(node_mark, 0, (size_t)N);
  /* Elements: owned (mark 2), or touching an owned node (ghost, mark 1). */
  for (long long e = 0; e < E; ++e)
    if (element_part[e] == r) element_mark[e] = 2;
  for (long long n = 0; n < N; ++n)
    if (node_part[n] == r)
      for (long long a = adjacency_first[n]; a < adjacency_first[n + 1]; ++a)
        if (!element_mark[adjacency[a]]) element_mark[adjacency[a]] = 1;
  for (long long e = 0; e < E; ++e)
    if (element_mark[e])
      for (int c = 0; c < 8; ++c) node_mark[global->element_nodes[8 * e + c]] = 1;
  for (long long n = 0; n < N; ++n)
    if (node_part[n] == r) node_mark[n] = 2;
  long long owned_nodes = 0, nodes = 0, owned_elements = 0, elements = 0;
  for (long long n = 0; n < N; ++n) {
    owned_nodes += node_mark[n] == 2;
    nodes += node_mark[n] != 0;
  }
  for (long long e = 0; e < E; ++e) {
    owned_elements += element_mark[e] == 2;
    elements += element_mark[e] != 0;
  }
  part->counts[0] = owned_nodes; part->counts[1] = nodes; part->counts[2] = owned_elements; part->counts[3] = elements;
  PP_CALL(allocate_part(part, (size_t)nodes, (size_t)elements));
  long long at = 0;
  for (int pass = 2; pass >= 1; --pass)
    for (long long n = 0; n < N; ++n)
      if (node_mark[n] == pass) {
        part->node_ids[at] = n;
        memcpy(part->node_coords + 3 * at, global->node_coords + 3 * n, 3 * sizeof(double));
        part->node_owner[at] = (int)node_part[n];
        part->node_boundary[at] = global->node_boundary ? global->node_boundary[n] : 0;
        ++at;
      }
  at = 0;
  for (int pass = 2; pass >= 1; --pass)
    for (long long e = 0; e < E; ++e)
      if (element_mark[e] == pass) {
        part->element_ids[at] = e;
        memcpy(part->element_nodes + 8 * at, global->element_nodes + 8 * e, 8 * sizeof(long long));
        part->element_layer[at] = global->element_layer[e];
        ++at;
      }
  return PP_OK;
}

static pp_err send_part(const rank_part *part, int r, MPI_Comm comm)
{
  PP_MPI(MPI_Send(part->counts, 4, MPI_LONG_LONG, r, TAG_COUNTS, comm), "sending mesh part sizes");
  int nodes = (int)part->counts[1], elements = (int)part->counts[3];
  PP_MPI(MPI_Send(part->node_ids, nodes, MPI_LONG_LONG, r, TAG_NODE_IDS, comm), "sending node ids");
  PP_MPI(MPI_Send(part->node_coords, 3 * nodes, MPI_DOUBLE, r, TAG_NODE_COORDS, comm), "sending node coordinates");
  PP_MPI(MPI_Send(part->node_owner, nodes, MPI_INT, r, TAG_NODE_OWNER, comm), "sending node owners");
  PP_MPI(MPI_Send(part->node_boundary, nodes, MPI_UNSIGNED_CHAR, r, TAG_NODE_BOUNDARY, comm), "sending node flags");
  PP_MPI(MPI_Send(part->element_ids, elements, MPI_LONG_LONG, r, TAG_ELEMENT_IDS, comm), "sending element ids");
  PP_MPI(MPI_Send(part->element_nodes, 8 * elements, MPI_LONG_LONG, r, TAG_ELEMENT_NODES, comm),
         "sending element connectivity");
  PP_MPI(MPI_Send(part->element_layer, elements, MPI_INT, r, TAG_ELEMENT_LAYER, comm), "sending element layers");
  return PP_OK;
}

static pp_err receive_part(rank_part *part, int root, MPI_Comm comm)
{
  PP_MPI(MPI_Recv(part->counts, 4, MPI_LONG_LONG, root, TAG_COUNTS, comm, MPI_STATUS_IGNORE), "receiving mesh part sizes");
  PP_CHECK(part->counts[0] >= 0, PP_ERR_OTHER_RANK, "the root rank %d failed while handing out the mesh", root);
  PP_CHECK(part->counts[1] < 0x7fffffff / 3 && part->counts[3] < 0x7fffffff / 8, PP_ERR_USAGE,
           "a rank's mesh part of %lld nodes and %lld elements is too large; use more ranks", part->counts[1],
           part->counts[3]);
  int nodes = (int)part->counts[1], elements = (int)part->counts[3];
  PP_CALL(allocate_part(part, (size_t)nodes, (size_t)elements));
  PP_MPI(MPI_Recv(part->node_ids, nodes, MPI_LONG_LONG, root, TAG_NODE_IDS, comm, MPI_STATUS_IGNORE), "receiving node ids");
  PP_MPI(MPI_Recv(part->node_coords, 3 * nodes, MPI_DOUBLE, root, TAG_NODE_COORDS, comm, MPI_STATUS_IGNORE),
         "receiving node coordinates");
  PP_MPI(MPI_Recv(part->node_owner, nodes, MPI_INT, root, TAG_NODE_OWNER, comm, MPI_STATUS_IGNORE), "receiving node owners");
  PP_MPI(MPI_Recv(part->node_boundary, nodes, MPI_UNSIGNED_CHAR, root, TAG_NODE_BOUNDARY, comm, MPI_STATUS_IGNORE),
         "receiving node flags");
  PP_MPI(MPI_Recv(part->element_ids, elements, MPI_LONG_LONG, root, TAG_ELEMENT_IDS, comm, MPI_STATUS_IGNORE),
         "receiving element ids");
  PP_MPI(MPI_Recv(part->element_nodes, 8 * elements, MPI_LONG_LONG, root, TAG_ELEMENT_NODES, comm, MPI_STATUS_IGNORE),
         "receiving element connectivity");
  PP_MPI(MPI_Recv(part->element_layer, elements, MPI_INT, root, TAG_ELEMENT_LAYER, comm, MPI_STATUS_IGNORE),
         "receiving element layers");
  return PP_OK;
}

typedef struct {
  long long element_id;
  int entry;
} row_item;

static int compare_row_item(const void *pa, const void *pb)
{
  long long a = ((const row_item *)pa)->element_id, b = ((const row_item *)pb)->element_id;
  return (a > b) - (a < b);
}

/* Every rank: the mesh arrays from its part (the same layout the generator produces). */
static pp_err build_mesh(rank_part *part, int rank, int size, long long node_total, long long element_total,
                         pp_mesh *mesh)
{
  mesh->imported = 1;
  mesh->rank = rank;
  mesh->rank_count = size;
  mesh->global_node_count = node_total;
  mesh->global_element_count = element_total;
  mesh->owned_node_count = (int)part->counts[0];
  mesh->node_count = (int)part->counts[1];
  mesh->owned_element_count = (int)part->counts[2];
  mesh->element_count = (int)part->counts[3];
  mesh->node_global_id = part->node_ids;
  mesh->node_coords = part->node_coords;
  mesh->node_owner = part->node_owner;
  mesh->node_boundary = part->node_boundary;
  mesh->element_global_id = part->element_ids;
  part->node_ids = part->element_ids = NULL;
  part->node_coords = NULL;
  part->node_owner = NULL;
  part->node_boundary = NULL;
  size_t elements = (size_t)mesh->element_count, owned_nodes = (size_t)mesh->owned_node_count;
  PP_MALLOC(mesh->element_nodes, 8 * elements + 1, "element connectivity");
  PP_MALLOC(mesh->element_layer, elements + 1, "element layers");
  PP_MALLOC(mesh->element_corner_coords, 24 * elements + 1, "element reference corners");
  PP_MALLOC(mesh->node_element_offset, owned_nodes + 1, "node-element offsets");
  for (size_t e = 0; e < elements; ++e) {
    mesh->element_layer[e] = (unsigned char)part->element_layer[e];
    for (int c = 0; c < 8; ++c) {
      int local = pp_mesh_local_node(mesh, part->element_nodes[8 * e + c]);
      PP_CHECK(local >= 0, PP_ERR_ARGUMENT, "distribute: node %lld of element %lld missing on rank %d (bug)",
               part->element_nodes[8 * e + c], mesh->element_global_id[e], rank);
      mesh->element_nodes[8 * e + c] = local;
      memcpy(mesh->element_corner_coords + 24 * e + 3 * c, mesh->node_coords + 3 * local, 3 * sizeof(double));
      if (local < mesh->owned_node_count) ++mesh->node_element_offset[local + 1];
    }
  }
  for (size_t n = 0; n < owned_nodes; ++n) mesh->node_element_offset[n + 1] += mesh->node_element_offset[n];
  size_t entries = (size_t)mesh->node_element_offset[owned_nodes];
  PP_MALLOC(mesh->node_element_entry, entries + 1, "node-element entries");
  row_item *items = malloc((entries + 1) * sizeof *items);
  int *fill = calloc(owned_nodes + 1, sizeof *fill);
  if (!items || !fill) {
    free(items);
    free(fill);
    PP_RAISE(PP_ERR_MEMORY, "out of memory building the node-element rows");
  }
  for (size_t e = 0; e < elements; ++e)
    for (int c = 0; c < 8; ++c) {
      int local = mesh->element_nodes[8 * e + c];
      if (local >= mesh->owned_node_count) continue;
      row_item *item = &items[mesh->node_element_offset[local] + fill[local]++];
      item->element_id = mesh->element_global_id[e];
      item->entry = (int)(8 * e + (size_t)c);
    }
  /* Ascending global element id: the order that makes node sums independent of the partition. */
  for (size_t n = 0; n < owned_nodes; ++n) {
    int first = mesh->node_element_offset[n], end = mesh->node_element_offset[n + 1];
    qsort(items + first, (size_t)(end - first), sizeof *items, compare_row_item);
    for (int r = first; r < end; ++r) mesh->node_element_entry[r] = items[r].entry;
  }
  free(items);
  free(fill);
  return PP_OK;
}

/* Root, phase 1: validate, partition, node -> element adjacency. Nothing is sent yet, so a
 * failure here reaches the other ranks through the agreement that follows. */
typedef struct {
  idx_t *element_part, *node_part;
  long long *adjacency_first, *adjacency;
  unsigned char *element_mark, *node_mark;
} root_plan;

static void free_plan(root_plan *plan)
{
  free(plan->element_part); free(plan->node_part); free(plan->adjacency_first); free(plan->adjacency);
  free(plan->element_mark); free(plan->node_mark);
  memset(plan, 0, sizeof *plan);
}

static pp_err plan_on_root(const pp_global_mesh *global, int size, root_plan *plan, pp_partition_stats *stats)
{
  long long N = global->node_count, E = global->element_count;
  PP_CHECK(N > 0 && E > 0, PP_ERR_USAGE, "the mesh has %lld nodes and %lld elements; nothing to distribute", N, E);
  for (long long i = 0; i < 8 * E; ++i)
    PP_CHECK(global->element_nodes[i] >= 0 && global->element_nodes[i] < N, PP_ERR_USAGE,
             "element %lld refers to node %lld, outside [0, %lld)", i / 8, global->element_nodes[i], N);
  for (long long e = 0; e < E; ++e)
    PP_CHECK(global->element_layer[e] >= 0 && global->element_layer[e] < PP_LAYER_COUNT, PP_ERR_USAGE,
             "element %lld has layer %d, outside 0-%d", e, global->element_layer[e], PP_LAYER_COUNT - 1);
  PP_MALLOC(plan->element_part, (size_t)E + 1, "element partition");
  PP_MALLOC(plan->node_part, (size_t)N + 1, "node partition");
  PP_MALLOC(plan->adjacency_first, (size_t)N + 2, "node-element adjacency");
  PP_MALLOC(plan->adjacency, 8 * (size_t)E + 1, "node-element adjacency");
  PP_MALLOC(plan->element_mark, (size_t)E + 1, "element marks");
  PP_MALLOC(plan->node_mark, (size_t)N + 1, "node marks");
  PP_CALL(partition_global(global, size, plan->element_part, plan->node_part, &stats->edge_cut));
  for (long long i = 0; i < 8 * E; ++i) ++plan->adjacency_first[global->element_nodes[i] + 1];
  for (long long n = 0; n < N; ++n) plan->adjacency_first[n + 1] += plan->adjacency_first[n];
  long long *fill = calloc((size_t)N + 1, sizeof *fill);
  PP_CHECK(fill, PP_ERR_MEMORY, "out of memory partitioning the mesh");
  for (long long e = 0; e < E; ++e)
    for (int c = 0; c < 8; ++c) {
      long long n = global->element_nodes[8 * e + c];
      plan->adjacency[plan->adjacency_first[n] + fill[n]++] = e;
    }
  free(fill);
  long long *owned_elements = calloc((size_t)size, sizeof *owned_elements);
  long long *owned_nodes = calloc((size_t)size, sizeof *owned_nodes);
  PP_CHECK(owned_elements && owned_nodes, PP_ERR_MEMORY, "out of memory partitioning the mesh");
  for (long long e = 0; e < E; ++e) ++owned_elements[plan->element_part[e]];
  for (long long n = 0; n < N; ++n) ++owned_nodes[plan->node_part[n]];
  long long most_elements = 0, most_nodes = 0;
  for (int r = 0; r < size; ++r) {
    if (owned_elements[r] > most_elements) most_elements = owned_elements[r];
    if (owned_nodes[r] > most_nodes) most_nodes = owned_nodes[r];
  }
  free(owned_elements);
  free(owned_nodes);
  stats->element_balance = (double)most_elements * size / (double)E;
  stats->node_balance = (double)most_nodes * size / (double)N;
  return PP_OK;
}

/* Root, phase 2: build and send each rank's part. A failure here tells every rank still
 * waiting (counts of -1), so none hangs in its receive. */
static pp_err send_parts(const pp_global_mesh *global, root_plan *plan, int root, int size, MPI_Comm comm,
                         rank_part *mine)
{
  pp_err result = PP_OK;
  for (int r = 0; r < size; ++r) {
    if (result != PP_OK) {
      if (r != root) {
        long long failed[4] = {-1, -1, -1, -1};
        MPI_Send(failed, 4, MPI_LONG_LONG, r, TAG_COUNTS, comm);
      }
      continue;
    }
    rank_part part;
    memset(&part, 0, sizeof part);
    result = build_part(global, plan->element_part, plan->node_part, plan->adjacency_first, plan->adjacency, r,
                        plan->element_mark, plan->node_mark, &part);
    if (result == PP_OK && r == root) {
      *mine = part;
      continue;
    }
    if (result == PP_OK) result = send_part(&part, r, comm);
    else if (r != root) {
      long long failed[4] = {-1, -1, -1, -1};
      MPI_Send(failed, 4, MPI_LONG_LONG, r, TAG_COUNTS, comm);
    }
    free_part(&part);
  }
  return result;
}

pp_err pp_mesh_distribute(const pp_global_mesh *global, int root, MPI_Comm comm, pp_mesh *mesh,
                          pp_partition_stats *stats)
{
  memset(mesh, 0, sizeof *mesh);
  memset(stats, 0, sizeof *stats);
  int rank = 0, size = 1;
  PP_MPI(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  PP_MPI(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  rank_part part;
  memset(&part, 0, sizeof part);
  /* The root validates and partitions first; a failure there must reach every rank before any
   * of them waits for a message. */
  pp_err local = PP_OK;
  root_plan plan;
  memset(&plan, 0, sizeof plan);
  long long totals[2] = {0, 0};
  if (rank == root) {
    local = plan_on_root(global, size, &plan, stats);
    totals[0] = global->node_count;
    totals[1] = global->element_count;
  }
  int failed = local != PP_OK, any_failed = 0;
  int code = MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, comm);
  if (code != MPI_SUCCESS || any_failed) {
    free_plan(&plan);
    if (local != PP_OK) return pp_error_trace(local, __FILE__, __LINE__, __func__);
    if (code != MPI_SUCCESS) return pp_mpi_error(code, __FILE__, __LINE__, __func__, "agreeing on the partition");
    PP_RAISE(PP_ERR_OTHER_RANK, "the root rank %d failed to partition the mesh", root);
  }
  PP_MPI(MPI_Bcast(totals, 2, MPI_LONG_LONG, root, comm), "broadcasting mesh sizes");
  double numbers[3] = {(double)stats->edge_cut, stats->element_balance, stats->node_balance};
  PP_MPI(MPI_Bcast(numbers, 3, MPI_DOUBLE, root, comm), "broadcasting partition statistics");
  stats->edge_cut = (long long)numbers[0];
  stats->element_balance = numbers[1];
  stats->node_balance = numbers[2];
  if (rank == root) local = send_parts(global, &plan, root, size, comm, &part);
  free_plan(&plan);
  if (rank != root) local = receive_part(&part, root, comm);
  if (local == PP_OK) local = build_mesh(&part, rank, size, totals[0], totals[1], mesh);
  free_part(&part);
  if (local != PP_OK) pp_mesh_free(mesh);
  failed = local != PP_OK;
  any_failed = 0;
  PP_MPI(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, comm), "agreeing on the distributed mesh");
  if (local != PP_OK) return pp_error_trace(local, __FILE__, __LINE__, __func__);
  PP_CHECK(!any_failed, PP_ERR_OTHER_RANK, "another rank failed to build its part of the mesh");
  return PP_OK;
}
