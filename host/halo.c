#include "halo.h"

#include <stdlib.h>
#include <string.h>

#include "runtime.h"

enum { HALO_TAG = 7301, LOCAL_SIZE = 64 };

struct pp_halo {
  MPI_Comm comm;
  pp_clrt *clrt;
  int neighbour_count, neighbour_capacity;
  int *neighbour;                     /* ranks, ascending */
  int *send_first, *recv_first;       /* [neighbour_count + 1] offsets into send_index / recv_index */
  int *send_index, *recv_index;       /* local node indices, concatenated per neighbour */
  /* exchange state */
  int components, in_flight;
  size_t value_size;                  /* bytes per value on the wire: REAL on the device, double on host */
  unsigned char *send_buffer, *recv_buffer;
  size_t buffer_capacity_send, buffer_capacity_recv;
  MPI_Request *requests;
  cl_mem device_field;
  cl_mem device_send_index, device_recv_index, device_send_buffer, device_recv_buffer;
  size_t device_buffer_components;
};

/* The plan from the ghost nodes' owners: each rank asks every owner for its ghosts (one
 * all-to-all of counts, one of global ids); the owner turns the ids into its local indices.
 * Both sides list nodes in ascending global id, so the messages match without further
 * handshake. Works for generated (block) and imported (METIS) partitions alike. */
static pp_err build_plan(pp_halo *halo, const pp_mesh *mesh)
{
  int size = 0, rank = 0;
  PP_MPI(MPI_Comm_size(halo->comm, &size), "MPI_Comm_size");
  PP_MPI(MPI_Comm_rank(halo->comm, &rank), "MPI_Comm_rank");
  int ghosts = mesh->node_count - mesh->owned_node_count;
  int *want_count = calloc((size_t)size, sizeof *want_count), *give_count = calloc((size_t)size, sizeof *give_count);
  int *want_first = calloc((size_t)size + 1, sizeof *want_first), *give_first = calloc((size_t)size + 1, sizeof *give_first);
  long long *wanted = malloc(((size_t)ghosts + 1) * sizeof *wanted), *asked = NULL;
  pp_err result = PP_OK;
  if (!want_count || !give_count || !want_first || !give_first || !wanted) {
    result = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the halo plan");
    goto done;
  }
  /* Ghosts are stored in ascending global id; grouping them by owner keeps that order. */
  for (int g = 0; g < ghosts; ++g) {
    int owner = mesh->node_owner[mesh->owned_node_count + g];
    if (owner < 0 || owner >= size || owner == rank) {
      result = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                              "halo plan: ghost node %lld has owner %d on rank %d (bug)",
                              mesh->node_global_id[mesh->owned_node_count + g], owner, rank);
      goto done;
    }
    ++want_count[owner];
  }
  int code = MPI_Alltoall(want_count, 1, MPI_INT, give_count, 1, MPI_INT, halo->comm);
  if (code != MPI_SUCCESS) {
    result = pp_mpi_error(code, __FILE__, __LINE__, __func__, "exchanging halo counts");
    goto done;
  }
  for (int q = 0; q < size; ++q) {
    want_first[q + 1] = want_first[q] + want_count[q];
    give_first[q + 1] = give_first[q] + give_count[q];
  }
  {
    int *fill = calloc((size_t)size, sizeof *fill);
    if (!fill) {
      result = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the halo plan");
      goto done;
    }
    for (int g = 0; g < ghosts; ++g) {
      int owner = mesh->node_owner[mesh->owned_node_count + g];
      wanted[want_first[owner] + fill[owner]++] = mesh->node_global_id[mesh->owned_node_count + g];
    }
    free(fill);
  }
  asked = malloc(((size_t)give_first[size] + 1) * sizeof *asked);
  if (!asked) {
    result = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the halo plan");
    goto done;
  }
  code = MPI_Alltoallv(wanted, want_count, want_first, MPI_LONG_LONG, asked, give_count, give_first, MPI_LONG_LONG,
                       halo->comm);
  if (code != MPI_SUCCESS) {
    result = pp_mpi_error(code, __FILE__, __LINE__, __func__, "exchanging halo node lists");
    goto done;
  }
  halo->send_index = malloc(((size_t)give_first[size] + 1) * sizeof *halo->send_index);
  halo->recv_index = malloc(((size_t)ghosts + 1) * sizeof *halo->recv_index);
  if (!halo->send_index || !halo->recv_index) {
    result = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the halo plan");
    goto done;
  }
  int send_at = 0, recv_at = 0;
  for (int q = 0; q < size; ++q) {
    if (want_count[q] == 0 && give_count[q] == 0) continue;
    if (halo->neighbour_count == halo->neighbour_capacity) {
      int capacity = halo->neighbour_capacity ? 2 * halo->neighbour_capacity : 8;
      int *neighbour = realloc(halo->neighbour, (size_t)capacity * sizeof *neighbour);
      int *send_first = neighbour ? realloc(halo->send_first, (size_t)(capacity + 1) * sizeof *send_first) : NULL;
      if (send_first) halo->send_first = send_first;
      int *recv_first = send_first ? realloc(halo->recv_first, (size_t)(capacity + 1) * sizeof *recv_first) : NULL;
      if (recv_first) halo->recv_first = recv_first;
      if (neighbour) halo->neighbour = neighbour;
      if (!neighbour || !send_first || !recv_first) {
        result = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the halo plan");
        goto done;
      }
      halo->neighbour_capacity = capacity;
    }
    int slot = halo->neighbour_count++;
    halo->neighbour[slot] = q;
    halo->send_first[slot] = send_at;
    halo->recv_first[slot] = recv_at;
    for (int i = give_first[q]; i < give_first[q + 1]; ++i) {
      int local = pp_mesh_local_node(mesh, asked[i]);
      if (local < 0 || local >= mesh->owned_node_count) {
        result = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                                "halo plan: rank %d asked rank %d for node %lld, which it does not own (bug)", q, rank,
                                asked[i]);
        goto done;
      }
      halo->send_index[send_at++] = local;
    }
    for (int i = want_first[q]; i < want_first[q + 1]; ++i)
      halo->recv_index[recv_at++] = pp_mesh_local_node(mesh, wanted[i]);
  }
  if (!halo->send_first) {
    halo->send_first = calloc(1, sizeof *halo->send_first);
    halo->recv_first = calloc(1, sizeof *halo->recv_first);
    if (!halo->send_first || !halo->recv_first) {
      result = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the halo plan");
      goto done;
    }
  }
  halo->send_first[halo->neighbour_count] = send_at;
  halo->recv_first[halo->neighbour_count] = recv_at;
  halo->requests = malloc((2 * (size_t)halo->neighbour_count + 1) * sizeof *halo->requests);
  if (!halo->requests)
    result = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the halo plan");
done:
  free(want_count);
  free(give_count);
  free(want_first);
  free(give_first);
  free(wanted);
  free(asked);
  return result;
}

pp_err pp_halo_create(pp_halo **out, const pp_mesh *mesh, pp_clrt *clrt, MPI_Comm comm)
{
  pp_halo *halo = calloc(1, sizeof *halo);
  PP_CHECK(halo, PP_ERR_MEMORY, "out of memory for the halo");
  halo->comm = comm;
  halo->clrt = clrt;
  pp_err result = build_plan(halo, mesh);
  /* Every rank leaves together: the plan needed collectives, and a rank that failed may have
   * left before them. */
  int failed_local = result != PP_OK, failed_any = 0;
  int agreement = MPI_Allreduce(&failed_local, &failed_any, 1, MPI_INT, MPI_MAX, comm);
  if (result == PP_OK && agreement != MPI_SUCCESS)
    result = pp_mpi_error(agreement, __FILE__, __LINE__, __func__, "agreeing on the halo plan");
  if (result == PP_OK && failed_any)
    result = pp_error_raise(PP_ERR_OTHER_RANK, __FILE__, __LINE__, __func__, "another rank failed to build its halo plan");
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
  free(halo->neighbour);
  free(halo->send_first);
  free(halo->recv_first);
  free(halo->requests);
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
