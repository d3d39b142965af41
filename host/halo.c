#include "halo.h"

#include <stdlib.h>
#include <string.h>

#include "runtime.h"

enum { HALO_TAG = 7301, MAX_NEIGHBOURS = 8, LOCAL_SIZE = 64 };

struct pp_halo {
  MPI_Comm comm;
  pp_clrt *clrt;
  int neighbour_count;
  int neighbour[MAX_NEIGHBOURS];
  int send_first[MAX_NEIGHBOURS + 1]; /* offsets into send_index */
  int recv_first[MAX_NEIGHBOURS + 1];
  int *send_index, *recv_index;       /* local node indices, concatenated per neighbour */
  /* exchange state */
  int components, in_flight;
  size_t value_size;                  /* bytes per value on the wire: REAL on the device, double on host */
  unsigned char *send_buffer, *recv_buffer;
  size_t buffer_capacity_send, buffer_capacity_recv;
  MPI_Request requests[2 * MAX_NEIGHBOURS];
  cl_mem device_field;
  cl_mem device_send_index, device_recv_index, device_send_buffer, device_recv_buffer;
  size_t device_buffer_components;
};

/* Sorted columns of `columns` that fall into [first, end). */
static int intersect(const long *columns, int count, long first, long end, long *out)
{
  int n = 0;
  for (int c = 0; c < count; ++c)
    if (columns[c] >= first && columns[c] < end) out[n++] = columns[c];
  return n;
}

/* Append the nodes of columns xs x ys (all depths), ascending global id, as local indices. */
static pp_err append_nodes(const pp_mesh *mesh, const long *xs, int nx, const long *ys, int ny, int *list, int *at)
{
  for (int b = 0; b < ny; ++b)
    for (int a = 0; a < nx; ++a)
      for (int k = 0; k < mesh->node_layers; ++k) {
        long long id = pp_mesh_node_id(mesh, xs[a], ys[b], k);
        int local = pp_mesh_local_node(mesh, id);
        PP_CHECK(local >= 0, PP_ERR_ARGUMENT, "halo plan: node %lld not on rank %d (bug)", id, mesh->rank);
        list[(*at)++] = local;
      }
  return PP_OK;
}

static pp_err build_plan(pp_halo *halo, const pp_mesh *mesh)
{
  const pp_rank_grid *grid = &mesh->grid;
  int px, py;
  pp_partition_rank_position(grid, mesh->rank, &px, &py);
  int periodic_x = mesh->spec.side_x == PP_SIDE_PERIODIC, periodic_y = mesh->spec.side_y == PP_SIDE_PERIODIC;
  /* Candidates: the 3 x 3 block neighbourhood (wrapped across periodic sides), each rank once, in
   * ascending rank order so that both sides post in a fixed order. */
  int candidates[9], candidate_count = 0;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) {
      int qx = px + dx, qy = py + dy;
      if (periodic_x) qx = (qx + grid->ranks_x) % grid->ranks_x;
      if (periodic_y) qy = (qy + grid->ranks_y) % grid->ranks_y;
      if (qx < 0 || qx >= grid->ranks_x || qy < 0 || qy >= grid->ranks_y) continue;
      int q = pp_partition_rank_at(grid, qx, qy);
      if (q == mesh->rank) continue;
      int seen = 0;
      for (int c = 0; c < candidate_count; ++c) seen |= candidates[c] == q;
      if (!seen) candidates[candidate_count++] = q;
    }
  for (int a = 1; a < candidate_count; ++a)
    for (int b = a; b > 0 && candidates[b - 1] > candidates[b]; --b) {
      int t = candidates[b]; candidates[b] = candidates[b - 1]; candidates[b - 1] = t;
    }

  long owned_x = mesh->owned_x_end - mesh->owned_x_first, owned_y = mesh->owned_y_end - mesh->owned_y_first;
  long my_columns_x[owned_x + 3], my_columns_y[owned_y + 3];
  int my_count_x, my_count_y;
  pp_mesh_present_columns(mesh, 0, mesh->owned_x_first, mesh->owned_x_end, my_columns_x, &my_count_x);
  pp_mesh_present_columns(mesh, 1, mesh->owned_y_first, mesh->owned_y_end, my_columns_y, &my_count_y);

  PP_MALLOC(halo->send_index, (size_t)mesh->owned_node_count + 1, "halo send list");
  PP_MALLOC(halo->recv_index, (size_t)(mesh->node_count - mesh->owned_node_count) + 1, "halo receive list");
  int send_at = 0, recv_at = 0;
  for (int c = 0; c < candidate_count; ++c) {
    int q = candidates[c], qx, qy;
    pp_partition_rank_position(grid, q, &qx, &qy);
    long q_first_x, q_end_x, q_first_y, q_end_y;
    pp_partition_range(mesh->node_columns_x, grid->ranks_x, qx, &q_first_x, &q_end_x);
    pp_partition_range(mesh->node_columns_y, grid->ranks_y, qy, &q_first_y, &q_end_y);
    long q_columns_x[(q_end_x - q_first_x) + 3], q_columns_y[(q_end_y - q_first_y) + 3];
    int q_count_x, q_count_y;
    pp_mesh_present_columns(mesh, 0, q_first_x, q_end_x, q_columns_x, &q_count_x);
    pp_mesh_present_columns(mesh, 1, q_first_y, q_end_y, q_columns_y, &q_count_y);
    /* Send: my owned columns that q holds. Receive: columns I hold that q owns. */
    long sx[q_count_x + 1], sy[q_count_y + 1], rx[my_count_x + 1], ry[my_count_y + 1];
    int nsx = intersect(q_columns_x, q_count_x, mesh->owned_x_first, mesh->owned_x_end, sx);
    int nsy = intersect(q_columns_y, q_count_y, mesh->owned_y_first, mesh->owned_y_end, sy);
    int nrx = intersect(my_columns_x, my_count_x, q_first_x, q_end_x, rx);
    int nry = intersect(my_columns_y, my_count_y, q_first_y, q_end_y, ry);
    if ((long)nsx * nsy == 0 && (long)nrx * nry == 0) continue;
    PP_CHECK(halo->neighbour_count < MAX_NEIGHBOURS, PP_ERR_ARGUMENT, "halo: more than %d neighbours", MAX_NEIGHBOURS);
    int slot = halo->neighbour_count++;
    halo->neighbour[slot] = q;
    halo->send_first[slot] = send_at;
    halo->recv_first[slot] = recv_at;
    PP_CALL(append_nodes(mesh, sx, nsx, sy, nsy, halo->send_index, &send_at));
    PP_CALL(append_nodes(mesh, rx, nrx, ry, nry, halo->recv_index, &recv_at));
  }
  halo->send_first[halo->neighbour_count] = send_at;
  halo->recv_first[halo->neighbour_count] = recv_at;
  PP_CHECK(recv_at == mesh->node_count - mesh->owned_node_count, PP_ERR_ARGUMENT,
           "halo plan on rank %d fills %d of its %d ghost nodes (bug)", mesh->rank, recv_at,
           mesh->node_count - mesh->owned_node_count);
  (void)periodic_x;
  (void)periodic_y;
  return PP_OK;
}

pp_err pp_halo_create(pp_halo **out, const pp_mesh *mesh, pp_clrt *clrt, MPI_Comm comm)
{
  pp_halo *halo = calloc(1, sizeof *halo);
  PP_CHECK(halo, PP_ERR_MEMORY, "out of memory for the halo");
  halo->comm = comm;
  halo->clrt = clrt;
  pp_err result = build_plan(halo, mesh);
  if (result == PP_OK && clrt) {
    int sends = halo->send_first[halo->neighbour_count], receives = halo->recv_first[halo->neighbour_count];
    result = pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, (size_t)sends * sizeof(int), "halo send list",
                            &halo->device_send_index);
    if (result == PP_OK)
      result = pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, (size_t)receives * sizeof(int), "halo receive list",
                              &halo->device_recv_index);
    if (result == PP_OK && sends)
      result = pp_clrt_write(clrt, halo->device_send_index, 0, (size_t)sends * sizeof(int), halo->send_index,
                             "halo send list");
    if (result == PP_OK && receives)
      result = pp_clrt_write(clrt, halo->device_recv_index, 0, (size_t)receives * sizeof(int), halo->recv_index,
                             "halo receive list");
  }
  if (result != PP_OK) {
    pp_halo_destroy(halo);
    return pp_error_trace(result, __FILE__, __LINE__, __func__);
  }
  *out = halo;
  return PP_OK;
}

void pp_halo_destroy(pp_halo *halo)
{
  if (!halo) return;
  free(halo->send_index);
  free(halo->recv_index);
  free(halo->send_buffer);
  free(halo->recv_buffer);
  cl_mem buffers[] = {halo->device_send_index, halo->device_recv_index, halo->device_send_buffer,
                      halo->device_recv_buffer};
  for (size_t b = 0; b < sizeof buffers / sizeof buffers[0]; ++b)
    if (buffers[b]) clReleaseMemObject(buffers[b]);
  free(halo);
}

int pp_halo_neighbour_count(const pp_halo *halo) { return halo->neighbour_count; }
int pp_halo_ghost_count(const pp_halo *halo) { return halo->recv_first[halo->neighbour_count]; }

static pp_err ensure_host_buffers(pp_halo *halo, size_t bytes_per_node)
{
  size_t send = (size_t)halo->send_first[halo->neighbour_count] * bytes_per_node + 1;
  size_t recv = (size_t)halo->recv_first[halo->neighbour_count] * bytes_per_node + 1;
  if (send > halo->buffer_capacity_send) {
    free(halo->send_buffer);
    halo->send_buffer = malloc(send);
    halo->buffer_capacity_send = halo->send_buffer ? send : 0;
    PP_CHECK(halo->send_buffer, PP_ERR_MEMORY, "out of memory for the halo send buffer (%zu bytes)", send);
  }
  if (recv > halo->buffer_capacity_recv) {
    free(halo->recv_buffer);
    halo->recv_buffer = malloc(recv);
    halo->buffer_capacity_recv = halo->recv_buffer ? recv : 0;
    PP_CHECK(halo->recv_buffer, PP_ERR_MEMORY, "out of memory for the halo receive buffer (%zu bytes)", recv);
  }
  return PP_OK;
}

/* Post receives, then sends, for the packed host buffers. */
static pp_err post_messages(pp_halo *halo, size_t bytes_per_node)
{
  for (int n = 0; n < halo->neighbour_count; ++n) {
    size_t offset = (size_t)halo->recv_first[n] * bytes_per_node;
    int count = (int)((size_t)(halo->recv_first[n + 1] - halo->recv_first[n]) * bytes_per_node);
    PP_MPI(MPI_Irecv(halo->recv_buffer + offset, count, MPI_BYTE, halo->neighbour[n], HALO_TAG, halo->comm,
                     &halo->requests[n]), "posting a halo receive");
  }
  for (int n = 0; n < halo->neighbour_count; ++n) {
    size_t offset = (size_t)halo->send_first[n] * bytes_per_node;
    int count = (int)((size_t)(halo->send_first[n + 1] - halo->send_first[n]) * bytes_per_node);
    PP_MPI(MPI_Isend(halo->send_buffer + offset, count, MPI_BYTE, halo->neighbour[n], HALO_TAG, halo->comm,
                     &halo->requests[halo->neighbour_count + n]), "posting a halo send");
  }
  return PP_OK;
}

static pp_err wait_messages(pp_halo *halo)
{
  if (halo->neighbour_count == 0) return PP_OK;
  PP_MPI(MPI_Waitall(2 * halo->neighbour_count, halo->requests, MPI_STATUSES_IGNORE), "waiting for the halo exchange");
  return PP_OK;
}

pp_err pp_halo_exchange_host(pp_halo *halo, double *field, int components)
{
  PP_CHECK(!halo->in_flight, PP_ERR_ARGUMENT, "halo exchange started while another is in flight");
  PP_CHECK(components >= 1, PP_ERR_ARGUMENT, "halo exchange of %d components", components);
  size_t bytes_per_node = (size_t)components * sizeof(double);
  PP_CALL(ensure_host_buffers(halo, bytes_per_node));
  double *send = (double *)(void *)halo->send_buffer, *recv = (double *)(void *)halo->recv_buffer;
  int sends = halo->send_first[halo->neighbour_count];
  for (int s = 0; s < sends; ++s)
    memcpy(send + (size_t)s * components, field + (size_t)halo->send_index[s] * components, bytes_per_node);
  PP_CALL(post_messages(halo, bytes_per_node));
  PP_CALL(wait_messages(halo));
  int receives = halo->recv_first[halo->neighbour_count];
  for (int r = 0; r < receives; ++r)
    memcpy(field + (size_t)halo->recv_index[r] * components, recv + (size_t)r * components, bytes_per_node);
  return PP_OK;
}

static pp_err launch_copy(pp_halo *halo, const char *kernel_name, cl_mem index, cl_mem from, cl_mem to, int count)
{
  if (count == 0) return PP_OK;
  cl_kernel kernel;
  PP_CALL(pp_clrt_kernel(halo->clrt, "halo", kernel_name, &kernel));
  cl_ulong n = (cl_ulong)count;
  cl_uint components = (cl_uint)halo->components;
  PP_CL(clSetKernelArg(kernel, 0, sizeof n, &n), "setting a halo kernel argument");
  PP_CL(clSetKernelArg(kernel, 1, sizeof components, &components), "setting a halo kernel argument");
  PP_CL(clSetKernelArg(kernel, 2, sizeof index, &index), "setting a halo kernel argument");
  PP_CL(clSetKernelArg(kernel, 3, sizeof from, &from), "setting a halo kernel argument");
  PP_CL(clSetKernelArg(kernel, 4, sizeof to, &to), "setting a halo kernel argument");
  PP_CALL(pp_clrt_launch(halo->clrt, kernel, kernel_name, (size_t)count, LOCAL_SIZE));
  return PP_OK;
}

pp_err pp_halo_begin(pp_halo *halo, cl_mem field, int components)
{
  PP_CHECK(halo->clrt, PP_ERR_ARGUMENT, "device halo exchange on a host-only halo");
  PP_CHECK(!halo->in_flight, PP_ERR_ARGUMENT, "halo exchange started while another is in flight");
  PP_CHECK(components >= 1, PP_ERR_ARGUMENT, "halo exchange of %d components", components);
  size_t real_size = (size_t)pp_clrt_real_size(halo->clrt);
  int sends = halo->send_first[halo->neighbour_count], receives = halo->recv_first[halo->neighbour_count];
  if ((size_t)components > halo->device_buffer_components) {
    if (halo->device_send_buffer) clReleaseMemObject(halo->device_send_buffer);
    if (halo->device_recv_buffer) clReleaseMemObject(halo->device_recv_buffer);
    halo->device_send_buffer = halo->device_recv_buffer = NULL;
    halo->device_buffer_components = 0;
    PP_CALL(pp_clrt_buffer(halo->clrt, CL_MEM_READ_WRITE, (size_t)sends * components * real_size, "halo send buffer",
                           &halo->device_send_buffer));
    PP_CALL(pp_clrt_buffer(halo->clrt, CL_MEM_READ_WRITE, (size_t)receives * components * real_size,
                           "halo receive buffer", &halo->device_recv_buffer));
    halo->device_buffer_components = (size_t)components;
  }
  halo->components = components;
  size_t bytes_per_node = (size_t)components * real_size;
  PP_CALL(ensure_host_buffers(halo, bytes_per_node));
  PP_CALL(launch_copy(halo, "halo_pack", halo->device_send_index, field, halo->device_send_buffer, sends));
  if (sends)
    PP_CALL(pp_clrt_read(halo->clrt, halo->device_send_buffer, 0, (size_t)sends * bytes_per_node, halo->send_buffer,
                         "halo send buffer"));
  PP_CALL(post_messages(halo, bytes_per_node));
  halo->device_field = field;
  halo->in_flight = 1;
  return PP_OK;
}

pp_err pp_halo_end(pp_halo *halo)
{
  PP_CHECK(halo->in_flight, PP_ERR_ARGUMENT, "pp_halo_end without pp_halo_begin");
  halo->in_flight = 0;
  PP_CALL(wait_messages(halo));
  int receives = halo->recv_first[halo->neighbour_count];
  size_t bytes_per_node = (size_t)halo->components * (size_t)pp_clrt_real_size(halo->clrt);
  if (receives)
    PP_CALL(pp_clrt_write(halo->clrt, halo->device_recv_buffer, 0, (size_t)receives * bytes_per_node,
                          halo->recv_buffer, "halo receive buffer"));
  PP_CALL(launch_copy(halo, "halo_unpack", halo->device_recv_index, halo->device_recv_buffer, halo->device_field,
                      receives));
  return PP_OK;
}
