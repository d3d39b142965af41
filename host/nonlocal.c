/* nonlocal: layer-restricted sphere averages of element fields (see nonlocal.h). */
#include "nonlocal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "element.h"
#include "runtime.h"

struct pp_nonlocal {
  const pp_mesh *mesh;
  MPI_Comm comm;
  double radius;
  long long count;           /* global elements */
  double *centroid;          /* [count * 3], by global id (x, y wrapped into the cell where periodic) */
  double *volume;            /* [count] */
  unsigned char *layer;      /* [count] */
  double period[2];          /* x, y: 0 where the side is not periodic */
  double origin[3];          /* bucket grid: lowest corner, cell size >= radius, cells per axis */
  double cell[3];
  int cells[3];
  long long *bucket_start;   /* [cells + 1]: elements of bucket b are bucket_entry[start[b] .. start[b+1]) */
  long long *bucket_entry;   /* [count], global ids ascending within a bucket */
  int *counts, *offsets;     /* Allgatherv of the owned values */
  double *owned_values, *gathered, *values; /* [owned], [count] in rank order, [count] by global id */
  long long *gathered_id;    /* [count] in rank order */
};

static int bucket_index(const pp_nonlocal *n, const double *x, int axis)
{
  int i = (int)floor((x[axis] - n->origin[axis]) / n->cell[axis]);
  return i < 0 ? 0 : i >= n->cells[axis] ? n->cells[axis] - 1 : i;
}

static pp_err build(pp_nonlocal *n)
{
  const pp_mesh *mesh = n->mesh;
  const int owned = mesh->owned_element_count;
  int size = 0;
  PP_MPI(MPI_Comm_size(n->comm, &size), "the non-local average");
  n->counts = malloc((size_t)size * sizeof *n->counts);
  n->offsets = malloc((size_t)size * sizeof *n->offsets);
  /* every rank agrees before each collective: a rank that failed must not leave the others waiting */
  PP_CALL(pp_comm_agree(n->comm,
                        n->counts && n->offsets
                          ? PP_OK
                          : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                                           "out of memory for the non-local average"),
                        "the non-local average's counts"));
  PP_MPI(MPI_Allgather(&owned, 1, MPI_INT, n->counts, 1, MPI_INT, n->comm), "the non-local average");
  long long total = 0;
  for (int r = 0; r < size; ++r) {
    n->offsets[r] = (int)total;
    total += n->counts[r];
  }
  PP_CHECK(total == mesh->global_element_count, PP_ERR_ARGUMENT,
           "non-local average: the ranks own %lld elements, the mesh has %lld", total, mesh->global_element_count);
  n->count = total;
  const size_t T = (size_t)total;
  n->centroid = malloc((3 * T + 1) * sizeof *n->centroid);
  n->volume = malloc((T + 1) * sizeof *n->volume);
  n->layer = malloc(T + 1);
  n->owned_values = malloc(((size_t)owned + 1) * sizeof *n->owned_values);
  n->gathered = malloc((5 * T + 1) * sizeof *n->gathered);
  n->values = malloc((T + 1) * sizeof *n->values);
  n->gathered_id = malloc((T + 1) * sizeof *n->gathered_id);
  double *mine = malloc((5 * (size_t)owned + 1) * sizeof *mine);
  int *counts5 = malloc((size_t)size * sizeof *counts5), *offsets5 = malloc((size_t)size * sizeof *offsets5);
  const int allocated = n->centroid && n->volume && n->layer && n->owned_values && n->gathered && n->values &&
                        n->gathered_id && mine && counts5 && offsets5;
  pp_err local = allocated ? PP_OK
                           : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                                            "out of memory for the non-local average (%lld elements)", total);
  local = pp_comm_agree(n->comm, local, "the non-local average's arrays");
  if (local != PP_OK) {
    free(mine);
    free(counts5);
    free(offsets5);
    PP_CALL(local);
  }
  for (int e = 0; e < owned; ++e) {
    const double *corners = mesh->element_corner_coords + 24 * (size_t)e;
    double c[3] = {0, 0, 0};
    for (int k = 0; k < 8; ++k)
      for (int d = 0; d < 3; ++d) c[d] += corners[3 * k + d] / 8;
    for (int d = 0; d < 2; ++d)
      if (n->period[d] > 0) c[d] -= n->period[d] * floor(c[d] / n->period[d]);
    mine[5 * e] = c[0];
    mine[5 * e + 1] = c[1];
    mine[5 * e + 2] = c[2];
    mine[5 * e + 3] = pp_hex8_volume(corners);
    mine[5 * e + 4] = mesh->element_layer[e];
  }
  for (int r = 0; r < size; ++r) {
    counts5[r] = 5 * n->counts[r];
    offsets5[r] = 5 * n->offsets[r];
  }
  int mpi = MPI_Allgatherv(mine, 5 * owned, MPI_DOUBLE, n->gathered, counts5, offsets5, MPI_DOUBLE, n->comm);
  if (mpi == MPI_SUCCESS)
    mpi = MPI_Allgatherv(mesh->element_global_id, owned, MPI_LONG_LONG, n->gathered_id, n->counts, n->offsets,
                         MPI_LONG_LONG, n->comm);
  free(mine);
  free(counts5);
  free(offsets5);
  if (mpi != MPI_SUCCESS) return pp_mpi_error(mpi, __FILE__, __LINE__, __func__, "gathering the element centroids");
  for (size_t i = 0; i < T; ++i) {
    const long long id = n->gathered_id[i];
    PP_CHECK(id >= 0 && id < total, PP_ERR_ARGUMENT, "non-local average: element id %lld outside 0..%lld", id,
             total - 1);
    memcpy(n->centroid + 3 * id, n->gathered + 5 * i, 3 * sizeof *n->centroid);
    n->volume[id] = n->gathered[5 * i + 3];
    n->layer[id] = (unsigned char)n->gathered[5 * i + 4];
  }
  /* buckets of at least the radius: a sphere meets its centre's bucket and the neighbouring ones */
  double low[3] = {INFINITY, INFINITY, INFINITY}, high[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (size_t i = 0; i < T; ++i)
    for (int d = 0; d < 3; ++d) {
      low[d] = fmin(low[d], n->centroid[3 * i + d]);
      high[d] = fmax(high[d], n->centroid[3 * i + d]);
    }
  long long cell_total = 1;
  for (int d = 0; d < 3; ++d) {
    double span = d < 2 && n->period[d] > 0 ? n->period[d] : high[d] - low[d];
    n->origin[d] = d < 2 && n->period[d] > 0 ? 0 : low[d];
    n->cells[d] = (int)fmax(1, floor(span / n->radius));
    if (n->cells[d] > 4096) n->cells[d] = 4096;
    n->cell[d] = span > 0 ? span / n->cells[d] : 1;
    if ((d == 2 || !(n->period[d] > 0)) && span > 0) n->cell[d] *= 1 + 1e-12; /* the highest centroid in the last cell */
    cell_total *= n->cells[d];
  }
  n->bucket_start = calloc((size_t)cell_total + 1, sizeof *n->bucket_start);
  n->bucket_entry = malloc((T + 1) * sizeof *n->bucket_entry);
  PP_CHECK(n->bucket_start && n->bucket_entry, PP_ERR_MEMORY, "out of memory for the non-local buckets");
  long long *fill = calloc((size_t)cell_total + 1, sizeof *fill);
  PP_CHECK(fill, PP_ERR_MEMORY, "out of memory for the non-local buckets");
  for (size_t i = 0; i < T; ++i) {
    const double *x = n->centroid + 3 * i;
    const long long b = ((long long)bucket_index(n, x, 2) * n->cells[1] + bucket_index(n, x, 1)) * n->cells[0] +
                        bucket_index(n, x, 0);
    n->bucket_start[b + 1] += 1;
  }
  for (long long b = 0; b < cell_total; ++b) n->bucket_start[b + 1] += n->bucket_start[b];
  for (size_t i = 0; i < T; ++i) { /* ascending global id within each bucket */
    const double *x = n->centroid + 3 * i;
    const long long b = ((long long)bucket_index(n, x, 2) * n->cells[1] + bucket_index(n, x, 1)) * n->cells[0] +
                        bucket_index(n, x, 0);
    n->bucket_entry[n->bucket_start[b] + fill[b]++] = (long long)i;
  }
  free(fill);
  return PP_OK;
}

pp_err pp_nonlocal_create(pp_nonlocal **nonlocal, const pp_mesh *mesh, MPI_Comm comm, double radius)
{
  *nonlocal = NULL;
  PP_CHECK(radius > 0 && isfinite(radius), PP_ERR_ARGUMENT, "the non-local radius must be > 0 (got %g m)", radius);
  pp_nonlocal *n = calloc(1, sizeof *n);
  PP_CHECK(n, PP_ERR_MEMORY, "out of memory for the non-local average");
  n->mesh = mesh;
  n->comm = comm;
  n->radius = radius;
  if (!mesh->imported && mesh->spec.side_x == PP_SIDE_PERIODIC) n->period[0] = mesh->spec.length_x;
  if (!mesh->imported && mesh->spec.side_y == PP_SIDE_PERIODIC) n->period[1] = mesh->spec.length_y;
  pp_err err = pp_comm_agree(comm, build(n), "setting up the non-local average");
  if (err != PP_OK) {
    pp_nonlocal_destroy(n);
    PP_CALL(err);
  }
  *nonlocal = n;
  return PP_OK;
}

void pp_nonlocal_destroy(pp_nonlocal *n)
{
  if (!n) return;
  free(n->centroid);
  free(n->volume);
  free(n->layer);
  free(n->bucket_start);
  free(n->bucket_entry);
  free(n->counts);
  free(n->offsets);
  free(n->owned_values);
  free(n->gathered);
  free(n->values);
  free(n->gathered_id);
  free(n);
}

/* The offset of d from the nearest image (periodic sides). */
static double separation(const pp_nonlocal *n, double d, int axis)
{
  if (axis < 2 && n->period[axis] > 0) d -= n->period[axis] * floor(d / n->period[axis] + 0.5);
  return d;
}

pp_err pp_nonlocal_average(pp_nonlocal *n, const double *element_values, double *element_average,
                           long long *neighbours)
{
  const pp_mesh *mesh = n->mesh;
  const int owned = mesh->owned_element_count;
  for (int e = 0; e < owned; ++e) n->owned_values[e] = element_values[e];
  PP_MPI(MPI_Allgatherv(n->owned_values, owned, MPI_DOUBLE, n->gathered, n->counts, n->offsets, MPI_DOUBLE, n->comm),
         "gathering the field to average");
  for (long long i = 0; i < n->count; ++i) n->values[n->gathered_id[i]] = n->gathered[i];
  const double r2 = n->radius * n->radius;
  long long most = 0;
  for (int e = 0; e < mesh->element_count; ++e) {
    const long long id = mesh->element_global_id[e];
    const double *x = n->centroid + 3 * id;
    const unsigned char layer = n->layer[id];
    int centre[3], reach[3];
    for (int d = 0; d < 3; ++d) {
      centre[d] = bucket_index(n, x, d);
      reach[d] = (int)ceil(n->radius / n->cell[d]);
      if (2 * reach[d] + 1 > n->cells[d]) reach[d] = n->cells[d]; /* a small box: every bucket, once */
    }
    double weighted = 0, volume = 0;
    long long taken = 0;
    for (int k = -reach[2]; k <= reach[2]; ++k) {
      const int bz = reach[2] == n->cells[2] ? k + reach[2] : centre[2] + k;
      if (bz < 0 || bz >= n->cells[2] || (reach[2] == n->cells[2] && k >= 0)) continue;
      for (int j = -reach[1]; j <= reach[1]; ++j) {
        int by = reach[1] == n->cells[1] ? j + reach[1] : centre[1] + j;
        if (reach[1] == n->cells[1] && j >= 0) continue;
        if (n->period[1] > 0 && reach[1] != n->cells[1]) by = ((by % n->cells[1]) + n->cells[1]) % n->cells[1];
        if (by < 0 || by >= n->cells[1]) continue;
        for (int i = -reach[0]; i <= reach[0]; ++i) {
          int bx = reach[0] == n->cells[0] ? i + reach[0] : centre[0] + i;
          if (reach[0] == n->cells[0] && i >= 0) continue;
          if (n->period[0] > 0 && reach[0] != n->cells[0]) bx = ((bx % n->cells[0]) + n->cells[0]) % n->cells[0];
          if (bx < 0 || bx >= n->cells[0]) continue;
          const long long b = ((long long)bz * n->cells[1] + by) * n->cells[0] + bx;
          for (long long q = n->bucket_start[b]; q < n->bucket_start[b + 1]; ++q) {
            const long long other = n->bucket_entry[q];
            if (n->layer[other] != layer) continue;
            const double *y = n->centroid + 3 * other;
            const double dx = separation(n, y[0] - x[0], 0), dy = separation(n, y[1] - x[1], 1), dz = y[2] - x[2];
            if (dx * dx + dy * dy + dz * dz > r2) continue;
            weighted += n->volume[other] * n->values[other];
            volume += n->volume[other];
            ++taken;
          }
        }
      }
    }
    element_average[e] = volume > 0 ? weighted / volume : n->values[id];
    if (taken > most) most = taken;
  }
  if (neighbours) *neighbours = most;
  return PP_OK;
}
