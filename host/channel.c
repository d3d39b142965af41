#include "channel.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "element.h"
#include "face_set.h"
#include "h5util.h"
#include "reduce.h"
#include "version.h"

enum { PATH_SIZE = 4096, LISTED_NAMES = 8 };
static const double micrometre = 1e-6;

/* ---- options and axis ----------------------------------------------------------------------------- */

/* Bins of `width` needed to reach `extent` (at least 1); a hair of slack so that 1 mm / 5 um is 200. */
static int bins_to_reach(double extent, double width)
{
  if (!(extent > 0) || !isfinite(extent)) return 1;
  double count = ceil(extent / width * (1 - 1e-12));
  if (count < 1) return 1;
  return count > PP_CHANNEL_MAX_BINS ? PP_CHANNEL_MAX_BINS : (int)count;
}

void pp_channel_options_default(pp_channel_options *options, double max_depth, double max_radius)
{
  const double width = 5 * micrometre;
  options->depth_bin_width = width;
  options->radius_bin_width = width;
  options->depth_bin_count = bins_to_reach(max_depth, width);
  options->radius_bin_count = bins_to_reach(max_radius, width);
  options->subdivisions = 4;
  options->damage_threshold = 0.5;
  options->eroded_in_reference = 0;
  options->region_radius = 0;
}

pp_err pp_channel_options_check(const pp_channel_options *options)
{
  PP_CHECK(options, PP_ERR_ARGUMENT, "channel: no options given");
  PP_CHECK(isfinite(options->depth_bin_width) && options->depth_bin_width > 0, PP_ERR_ARGUMENT,
           "channel: depth_bin_width %g m must be positive", options->depth_bin_width);
  PP_CHECK(isfinite(options->radius_bin_width) && options->radius_bin_width > 0, PP_ERR_ARGUMENT,
           "channel: radius_bin_width %g m must be positive", options->radius_bin_width);
  PP_CHECK(options->depth_bin_count >= 1 && options->radius_bin_count >= 1 &&
               (long long)options->depth_bin_count * options->radius_bin_count <= PP_CHANNEL_MAX_BINS,
           PP_ERR_ARGUMENT, "channel: %d x %d histogram bins (depth_bin_count x radius_bin_count): each at least 1, "
           "at most %d in all", options->depth_bin_count, options->radius_bin_count, PP_CHANNEL_MAX_BINS);
  PP_CHECK(options->subdivisions >= 1 && options->subdivisions <= PP_CHANNEL_MAX_SUBDIVISIONS, PP_ERR_ARGUMENT,
           "channel: subdivisions %d must be 1 to %d", options->subdivisions, PP_CHANNEL_MAX_SUBDIVISIONS);
  PP_CHECK(options->damage_threshold > 0 && options->damage_threshold <= 1, PP_ERR_ARGUMENT,
           "channel: damage_threshold %g must be in (0, 1]", options->damage_threshold);
  PP_CHECK(options->eroded_in_reference == 0 || options->eroded_in_reference == 1, PP_ERR_ARGUMENT,
           "channel: eroded_in_reference %d must be 0 or 1", options->eroded_in_reference);
  return PP_OK;
}

static pp_err check_axis(const pp_channel_axis *axis)
{
  PP_CHECK(axis, PP_ERR_ARGUMENT, "channel: no needle axis given");
  const double *e = axis->entry, *d = axis->direction;
  PP_CHECK(isfinite(e[0]) && isfinite(e[1]) && isfinite(e[2]), PP_ERR_ARGUMENT,
           "channel: entry point (%g, %g, %g) m is not finite", e[0], e[1], e[2]);
  const double length = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  PP_CHECK(fabs(length - 1) <= 1e-12 && d[2] < 0, PP_ERR_ARGUMENT,
           "channel: direction (%g, %g, %g) must be a unit vector pointing into the skin (z < 0)", d[0], d[1], d[2]);
  return PP_OK;
}

void pp_channel_free(pp_channel *channel)
{
  if (!channel) return;
  free(channel->eroded_histogram);
  free(channel->damage_histogram);
  memset(channel, 0, sizeof *channel);
}

/* ---- geometry of one element ----------------------------------------------------------------------- */

/* Current corners of local element e: reference corners (unwrapped) plus the displacement of its
 * nodes, moved by whole periods to the image nearest the axis (decided from the reference centroid
 * alone, so every rank holding the element moves it alike). */
static void element_corners(const pp_mesh *mesh, const double *displacement, int e, const pp_channel_axis *axis,
                            double x[24])
{
  const double *X = mesh->element_corner_coords + 24 * (size_t)e;
  double centroid[3] = {0, 0, 0}, shift[2] = {0, 0};
  for (int c = 0; c < 8; ++c)
    for (int a = 0; a < 3; ++a) centroid[a] += X[3 * c + a];
  for (int a = 0; a < 3; ++a) centroid[a] *= 0.125;
  if (!mesh->imported) {
    /* the axis point at the centroid's height */
    const double t = (centroid[2] - axis->entry[2]) / axis->direction[2];
    const int periodic[2] = {mesh->spec.side_x == PP_SIDE_PERIODIC, mesh->spec.side_y == PP_SIDE_PERIODIC};
    const double period[2] = {mesh->spec.length_x, mesh->spec.length_y};
    for (int a = 0; a < 2; ++a) {
      if (!periodic[a] || !(period[a] > 0)) continue;
      const double offset = centroid[a] - (axis->entry[a] + t * axis->direction[a]);
      shift[a] = -period[a] * floor(offset / period[a] + 0.5);
    }
  }
  for (int c = 0; c < 8; ++c) {
    const int node = mesh->element_nodes[8 * (size_t)e + c];
    for (int a = 0; a < 3; ++a)
      x[3 * c + a] = X[3 * c + a] + (displacement ? displacement[3 * (size_t)node + a] : 0) + (a < 2 ? shift[a] : 0);
  }
}

/* det of the trilinear map's Jacobian dx/dxi at xi in [-1, 1]^3; *point gets x(xi) when not NULL. */
static double jacobian_determinant(const double x[24], const double xi[3], double *point)
{
  double J[3][3] = {{0}};
  if (point) point[0] = point[1] = point[2] = 0;
  for (int c = 0; c < 8; ++c) {
    double s[3], f[3];
    for (int d = 0; d < 3; ++d) {
      s[d] = pp_hex_corner_bit(c, d) ? 1.0 : -1.0;
      f[d] = 1 + s[d] * xi[d];
    }
    const double dN[3] = {0.125 * s[0] * f[1] * f[2], 0.125 * f[0] * s[1] * f[2], 0.125 * f[0] * f[1] * s[2]};
    for (int a = 0; a < 3; ++a)
      for (int d = 0; d < 3; ++d) J[a][d] += x[3 * c + a] * dN[d];
    if (point) {
      const double N = 0.125 * f[0] * f[1] * f[2];
      for (int a = 0; a < 3; ++a) point[a] += N * x[3 * c + a];
    }
  }
  return J[0][0] * (J[1][1] * J[2][2] - J[1][2] * J[2][1]) - J[0][1] * (J[1][0] * J[2][2] - J[1][2] * J[2][0]) +
         J[0][2] * (J[1][0] * J[2][1] - J[1][1] * J[2][0]);
}

/* Volume by 2x2x2 Gauss quadrature of det J: exact for the trilinear map (det J has degree 2 in
 * each coordinate). */
static double element_volume(const double x[24])
{
  const double g = 0.57735026918962576450914878050196; /* 1/sqrt(3) */
  double volume = 0;
  for (int q = 0; q < 8; ++q) {
    const double xi[3] = {pp_hex_corner_bit(q, 0) ? g : -g, pp_hex_corner_bit(q, 1) ? g : -g,
                          pp_hex_corner_bit(q, 2) ? g : -g};
    volume += jacobian_determinant(x, xi, NULL);
  }
  return volume;
}

/* Axial depth s and radial distance r of point p from the axis. */
static void axis_coordinates(const pp_channel_axis *axis, const double p[3], double *s, double *r)
{
  const double v[3] = {p[0] - axis->entry[0], p[1] - axis->entry[1], p[2] - axis->entry[2]};
  const double *d = axis->direction;
  const double along = v[0] * d[0] + v[1] * d[1] + v[2] * d[2];
  const double w[3] = {v[0] - along * d[0], v[1] - along * d[1], v[2] - along * d[2]};
  *s = along;
  *r = sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
}

/* The face of local element e whose 4 corners are all on the skin surface, or -1. */
static int surface_face(const pp_mesh *mesh, int e)
{
  for (int f = 0; f < 6; ++f) {
    int on_surface = 1;
    for (int k = 0; k < 4 && on_surface; ++k)
      on_surface = (mesh->node_boundary[mesh->element_nodes[8 * (size_t)e + pp_hex_face_corners[f][k]]] &
                    PP_NODE_SURFACE) != 0;
    if (on_surface) return f;
  }
  return -1;
}

/* ---- the local pass ------------------------------------------------------------------------------- */

typedef struct {
  double *value;
  size_t count, capacity;
} value_list;

typedef struct {
  int *bin;
  double *value;
  size_t count, capacity;
} bin_list;

static pp_err value_list_add(value_list *list, double value)
{
  if (list->count == list->capacity) {
    size_t capacity = list->capacity ? 2 * list->capacity : 256;
    double *grown = realloc(list->value, capacity * sizeof *grown);
    PP_CHECK(grown, PP_ERR_MEMORY, "channel: out of memory for %zu values", capacity);
    list->value = grown;
    list->capacity = capacity;
  }
  list->value[list->count++] = value;
  return PP_OK;
}

static pp_err bin_list_add(bin_list *list, int bin, double value)
{
  if (list->count == list->capacity) {
    size_t capacity = list->capacity ? 2 * list->capacity : 1024;
    int *bins = realloc(list->bin, capacity * sizeof *bins);
    if (bins) list->bin = bins;
    double *values = bins ? realloc(list->value, capacity * sizeof *values) : NULL;
    PP_CHECK(bins && values, PP_ERR_MEMORY, "channel: out of memory for %zu histogram contributions", capacity);
    list->value = values;
    list->capacity = capacity;
  }
  list->bin[list->count] = bin;
  list->value[list->count++] = value;
  return PP_OK;
}

/* What one rank adds: every term of every global sum, as separate values (the exact sums take
 * them in any order), and its maxima. */
typedef struct {
  value_list eroded, damage, damaged, area, eroded_outside, damage_outside;
  bin_list eroded_bins, damage_bins; /* per element and bin: the element's share of the bin */
  double open_depth, injury_depth, reach;
  long long eroded_count, damaged_count;
  /* scratch of one element: the sub-cells' weights and bins, and a dense per-bin sum */
  double *weight;
  int *cell_bin;
  double *bin_sum;
  unsigned char *bin_touched;
  int *touched;
} local_terms;

static void local_terms_free(local_terms *t)
{
  value_list *lists[] = {&t->eroded, &t->damage, &t->damaged, &t->area, &t->eroded_outside, &t->damage_outside};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; ++i) free(lists[i]->value);
  free(t->eroded_bins.bin);
  free(t->eroded_bins.value);
  free(t->damage_bins.bin);
  free(t->damage_bins.value);
  free(t->weight);
  free(t->cell_bin);
  free(t->bin_sum);
  free(t->bin_touched);
  free(t->touched);
  memset(t, 0, sizeof *t);
}

/* Split the element into q^3 sub-cells and add its share of each bin (times factor) to bins and
 * what falls outside the grid to outside. The order of additions depends on the element alone. */
static pp_err bin_element(local_terms *t, const double x[24], double volume, double factor, long long id,
                          const pp_channel_axis *axis, const pp_channel_options *o, bin_list *bins,
                          value_list *outside)
{
  const int q = o->subdivisions, cells = q * q * q;
  const double h = 2.0 / q, cell_volume = h * h * h;
  double total = 0;
  int n = 0;
  for (int k = 0; k < q; ++k)
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < q; ++i, ++n) {
        const double xi[3] = {-1 + (i + 0.5) * h, -1 + (j + 0.5) * h, -1 + (k + 0.5) * h};
        double centre[3], s, r;
        double w = jacobian_determinant(x, xi, centre) * cell_volume;
        if (!(w > 0)) w = 0; /* a folded corner of a positive element: no volume of its own */
        t->weight[n] = w;
        total += w;
        axis_coordinates(axis, centre, &s, &r);
        const double row = s < 0 ? 0 : floor(s / o->depth_bin_width);
        const double column = floor(r / o->radius_bin_width);
        t->cell_bin[n] = row < o->depth_bin_count && column < o->radius_bin_count
                             ? (int)row * o->radius_bin_count + (int)column
                             : -1;
      }
  PP_CHECK(total > 0, PP_ERR_ARGUMENT,
           "channel: element %lld has volume %.6g m^3 but none of its %d sub-cells has a positive Jacobian", id,
           volume, cells);
  const double scale = volume / total;
  double out = 0;
  int touched = 0;
  for (n = 0; n < cells; ++n) {
    const double v = t->weight[n] * scale;
    const int b = t->cell_bin[n];
    if (b < 0) {
      out += v;
      continue;
    }
    if (!t->bin_touched[b]) {
      t->bin_touched[b] = 1;
      t->bin_sum[b] = 0;
      t->touched[touched++] = b;
    }
    t->bin_sum[b] += v;
  }
  pp_err code = PP_OK;
  for (int m = 0; m < touched; ++m) {
    const int b = t->touched[m];
    if (code == PP_OK && t->bin_sum[b] != 0) code = bin_list_add(bins, b, t->bin_sum[b] * factor);
    t->bin_touched[b] = 0;
  }
  PP_CALL(code);
  if (out != 0) PP_CALL(value_list_add(outside, out * factor));
  return PP_OK;
}

/* Deepest s over the element's corners. */
static double deepest_corner(const pp_channel_axis *axis, const double x[24])
{
  double deepest = -INFINITY;
  for (int c = 0; c < 8; ++c) {
    double s, r;
    axis_coordinates(axis, x + 3 * c, &s, &r);
    if (s > deepest) deepest = s;
  }
  return deepest;
}

/* The eroded element's surface face: its area projected on z = 0 and its corners' widest in-plane
 * reach from the entry point. */
static pp_err add_surface_face(local_terms *t, const pp_mesh *mesh, int e, const double x[24],
                               const pp_channel_axis *axis)
{
  const int f = surface_face(mesh, e);
  if (f < 0) return PP_OK;
  double px[4], py[4];
  for (int k = 0; k < 4; ++k) {
    const double *p = x + 3 * pp_hex_face_corners[f][k];
    px[k] = p[0] - axis->entry[0];
    py[k] = p[1] - axis->entry[1];
    const double reach = sqrt(px[k] * px[k] + py[k] * py[k]);
    if (reach > t->reach) t->reach = reach;
  }
  /* shoelace, relative to corner 0 */
  const double ax = px[1] - px[0], ay = py[1] - py[0], bx = px[2] - px[0], by = py[2] - py[0], cx = px[3] - px[0],
               cy = py[3] - py[0];
  const double area = 0.5 * fabs((ax * by - bx * ay) + (bx * cy - cx * by));
  PP_CALL(value_list_add(&t->area, area));
  return PP_OK;
}

static pp_err local_pass(const pp_mesh *mesh, const double *displacement, const unsigned char *eroded,
                         const double *damage, const pp_channel_axis *axis, const pp_channel_options *o,
                         local_terms *t)
{
  PP_CHECK(mesh, PP_ERR_ARGUMENT, "channel: no mesh given");
  PP_CALL(check_axis(axis));
  PP_CALL(pp_channel_options_check(o));
  const int q = o->subdivisions, cells = q * q * q, bins = o->depth_bin_count * o->radius_bin_count;
  PP_MALLOC(t->weight, cells, "channel sub-cell weights");
  PP_MALLOC(t->cell_bin, cells, "channel sub-cell bins");
  PP_MALLOC(t->touched, cells, "channel bin list");
  PP_MALLOC(t->bin_sum, bins, "channel per-element bin sums");
  PP_MALLOC(t->bin_touched, bins, "channel per-element bin marks");
  for (int e = 0; e < mesh->owned_element_count; ++e) {
    const int is_eroded = eroded && eroded[e];
    const double d = damage && !is_eroded ? damage[e] : 0;
    const long long id = mesh->element_global_id[e];
    PP_CHECK(d >= 0 && d <= 1, PP_ERR_ARGUMENT, "channel: element %lld has damage %g, outside [0, 1]", id, d);
    if (!is_eroded && d == 0) continue;
    double x[24];
    element_corners(mesh, is_eroded && o->eroded_in_reference ? NULL : displacement, e, axis, x);
    if (o->region_radius > 0) { /* another needle's injury is not this channel's */
      double centre[3] = {0, 0, 0}, along = 0, radial2 = 0;
      for (int c = 0; c < 8; ++c)
        for (int a = 0; a < 3; ++a) centre[a] += x[3 * c + a] / 8 - (c == 0 ? axis->entry[a] : 0);
      for (int a = 0; a < 3; ++a) along += centre[a] * axis->direction[a];
      for (int a = 0; a < 3; ++a) radial2 += (centre[a] - along * axis->direction[a]) * (centre[a] - along * axis->direction[a]);
      if (radial2 > o->region_radius * o->region_radius) continue;
    }
    const double volume = element_volume(x);
    PP_CHECK(isfinite(volume) && volume > 0, PP_ERR_ARGUMENT,
             "channel: element %lld (%s) has current volume %.6g m^3: inverted or not finite", id,
             is_eroded ? "eroded" : "damaged", volume);
    const double deepest = deepest_corner(axis, x);
    if (is_eroded) {
      t->eroded_count += 1;
      PP_CALL(value_list_add(&t->eroded, volume));
      if (deepest > t->open_depth) t->open_depth = deepest;
      if (deepest > t->injury_depth) t->injury_depth = deepest;
      PP_CALL(add_surface_face(t, mesh, e, x, axis));
      PP_CALL(bin_element(t, x, volume, 1, id, axis, o, &t->eroded_bins, &t->eroded_outside));
    } else {
      PP_CALL(value_list_add(&t->damage, volume * d));
      if (d >= o->damage_threshold) {
        t->damaged_count += 1;
        PP_CALL(value_list_add(&t->damaged, volume));
        if (deepest > t->injury_depth) t->injury_depth = deepest;
      }
      PP_CALL(bin_element(t, x, volume, d, id, axis, o, &t->damage_bins, &t->damage_outside));
    }
  }
  return PP_OK;
}

/* ---- the collective part -------------------------------------------------------------------------- */

/* Rank 0: histogram[b] = the exact sum of the terms of bin b (terms sorted by bin first). */
static pp_err sum_bins(const int *bin, const double *value, size_t count, int bins, double *histogram)
{
  size_t *offset = calloc((size_t)bins + 1, sizeof *offset), *fill = calloc((size_t)bins, sizeof *fill);
  double *sorted = malloc((count + 1) * sizeof *sorted);
  pp_err code = offset && fill && sorted ? PP_OK
                                         : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                                                          "channel: out of memory sorting %zu histogram terms", count);
  if (code == PP_OK) {
    for (size_t i = 0; i < count; ++i) offset[bin[i] + 1] += 1;
    for (int b = 0; b < bins; ++b) offset[b + 1] += offset[b];
    for (size_t i = 0; i < count; ++i) sorted[offset[bin[i]] + fill[bin[i]]++] = value[i];
  }
  for (int b = 0; code == PP_OK && b < bins; ++b) {
    histogram[b] = 0; /* +0, as the exact sum of no terms */
    if (offset[b + 1] > offset[b])
      code = pp_reduce_sum_host(sorted + offset[b], offset[b + 1] - offset[b], MPI_COMM_SELF, &histogram[b]);
  }
  free(offset);
  free(fill);
  free(sorted);
  return code;
}

/* COLLECTIVE. Both histograms: rank 0 gathers every rank's (bin, term) pairs, adds each bin's terms
 * exactly (pp_reduce_sum_host on MPI_COMM_SELF: the correctly rounded sum of the same terms,
 * whichever ranks they came from, so the same bits on any rank count) and broadcasts the bins. The
 * gather moves 12 bytes a term; one collective exact sum per bin instead took thousands of round
 * trips between the ranks, seconds on a loaded machine. */
static pp_err reduce_histograms(const bin_list *eroded, const bin_list *damage, int bins, MPI_Comm comm,
                                double *eroded_histogram, double *damage_histogram)
{
  int rank = 0, size = 1;
  PP_MPI(MPI_Comm_rank(comm, &rank), "channel: rank");
  PP_MPI(MPI_Comm_size(comm, &size), "channel: size");
  const size_t count = eroded->count + damage->count;
  int *bin = malloc((count + 1) * sizeof *bin), *counts = NULL, *displacements = NULL, *all_bin = NULL;
  double *value = malloc((count + 1) * sizeof *value), *all_value = NULL;
  double *histogram = malloc(2 * (size_t)bins * sizeof *histogram);
  long long local_count = (long long)count, total = 0;
  long long *gathered = rank == 0 ? calloc((size_t)size, sizeof *gathered) : NULL;
  pp_err local = PP_OK, code = PP_OK;
  int mpi_code = MPI_SUCCESS;
  if (!bin || !value || !histogram || (rank == 0 && !gathered))
    local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                           "channel: out of memory for %zu histogram terms", count);
  for (size_t i = 0; local == PP_OK && i < eroded->count; ++i) {
    bin[i] = eroded->bin[i];
    value[i] = eroded->value[i];
  }
  for (size_t i = 0; local == PP_OK && i < damage->count; ++i) {
    bin[eroded->count + i] = bins + damage->bin[i]; /* the damage histogram's bins follow */
    value[eroded->count + i] = damage->value[i];
  }
  mpi_code = MPI_Gather(&local_count, 1, MPI_LONG_LONG, gathered, 1, MPI_LONG_LONG, 0, comm);
  if (mpi_code != MPI_SUCCESS) {
    code = pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "gathering channel histogram counts");
    goto done;
  }
  if (rank == 0 && local == PP_OK) {
    counts = malloc((size_t)size * sizeof *counts);
    displacements = malloc((size_t)size * sizeof *displacements);
    for (int r = 0; r < size; ++r) total += gathered[r];
    if (total > INT_MAX)
      local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                             "channel: %lld histogram terms, more than one gather takes (%d)", total, INT_MAX);
    all_bin = local == PP_OK ? malloc(((size_t)total + 1) * sizeof *all_bin) : NULL;
    all_value = local == PP_OK ? malloc(((size_t)total + 1) * sizeof *all_value) : NULL;
    if (local == PP_OK && (!counts || !displacements || !all_bin || !all_value))
      local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                             "channel: out of memory gathering %lld histogram terms", total);
    for (int r = 0, at = 0; local == PP_OK && r < size; at += counts[r], ++r) {
      counts[r] = (int)gathered[r];
      displacements[r] = at;
    }
  }
  code = pp_comm_agree(comm, local, "gathering a channel histogram");
  if (code != PP_OK) goto done;
  mpi_code = MPI_Gatherv(bin, (int)count, MPI_INT, all_bin, counts, displacements, MPI_INT, 0, comm);
  if (mpi_code == MPI_SUCCESS)
    mpi_code = MPI_Gatherv(value, (int)count, MPI_DOUBLE, all_value, counts, displacements, MPI_DOUBLE, 0, comm);
  if (mpi_code != MPI_SUCCESS) {
    code = pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "gathering channel histogram terms");
    goto done;
  }
  local = rank == 0 ? sum_bins(all_bin, all_value, (size_t)total, 2 * bins, histogram) : PP_OK;
  code = pp_comm_agree(comm, local, "adding a channel histogram");
  if (code != PP_OK) goto done;
  mpi_code = MPI_Bcast(histogram, 2 * bins, MPI_DOUBLE, 0, comm);
  if (mpi_code != MPI_SUCCESS) {
    code = pp_mpi_error(mpi_code, __FILE__, __LINE__, __func__, "sharing a channel histogram");
    goto done;
  }
  memcpy(eroded_histogram, histogram, (size_t)bins * sizeof *histogram);
  memcpy(damage_histogram, histogram + bins, (size_t)bins * sizeof *histogram);
done:
  free(bin);
  free(value);
  free(histogram);
  free(gathered);
  free(counts);
  free(displacements);
  free(all_bin);
  free(all_value);
  return code == PP_OK ? PP_OK : pp_error_trace(code, __FILE__, __LINE__, __func__);
}

static pp_err reduce_terms(local_terms *t, const pp_channel_options *o, MPI_Comm comm, pp_channel *channel)
{
  const value_list *lists[6] = {&t->eroded, &t->damage, &t->damaged, &t->area, &t->eroded_outside,
                                &t->damage_outside};
  double *sums[6] = {&channel->eroded_volume, &channel->damage_volume, &channel->damaged_volume,
                     &channel->surface_opening_area, &channel->eroded_volume_outside,
                     &channel->damage_volume_outside};
  for (int i = 0; i < 6; ++i) PP_CALL(pp_reduce_sum_host(lists[i]->value, lists[i]->count, comm, sums[i]));
  double maxima[3] = {t->open_depth, t->injury_depth, t->reach};
  long long counts[2] = {t->eroded_count, t->damaged_count};
  PP_MPI(MPI_Allreduce(MPI_IN_PLACE, maxima, 3, MPI_DOUBLE, MPI_MAX, comm), "channel depths (MPI_Allreduce)");
  PP_MPI(MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_LONG_LONG, MPI_SUM, comm), "channel counts (MPI_Allreduce)");
  channel->open_depth = maxima[0];
  channel->injury_depth = maxima[1];
  channel->surface_extent_diameter = 2 * maxima[2];
  channel->surface_diameter = 2 * sqrt(channel->surface_opening_area / M_PI);
  channel->eroded_element_count = counts[0];
  channel->damaged_element_count = counts[1];
  const int bins = o->depth_bin_count * o->radius_bin_count;
  PP_CALL(reduce_histograms(&t->eroded_bins, &t->damage_bins, bins, comm, channel->eroded_histogram,
                             channel->damage_histogram));
  return PP_OK;
}

pp_err pp_channel_measure(const pp_mesh *mesh, const double *displacement, const unsigned char *eroded,
                          const double *damage, const pp_channel_axis *axis, const pp_channel_options *options,
                          MPI_Comm comm, pp_channel *channel)
{
  PP_CHECK(channel, PP_ERR_ARGUMENT, "channel: no result given"); /* a bug on every rank alike */
  memset(channel, 0, sizeof *channel);
  local_terms terms;
  memset(&terms, 0, sizeof terms);
  pp_err local = local_pass(mesh, displacement, eroded, damage, axis, options, &terms);
  if (local == PP_OK) {
    const size_t bins = (size_t)options->depth_bin_count * (size_t)options->radius_bin_count;
    channel->options = *options;
    channel->axis = *axis;
    channel->eroded_histogram = calloc(bins, sizeof *channel->eroded_histogram);
    channel->damage_histogram = calloc(bins, sizeof *channel->damage_histogram);
    if (!channel->eroded_histogram || !channel->damage_histogram)
      local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "channel: out of memory for %zu bins",
                             bins);
  }
  pp_err code = pp_comm_agree(comm, local, "measuring a channel");
  if (code == PP_OK) code = reduce_terms(&terms, options, comm, channel);
  local_terms_free(&terms);
  if (code != PP_OK) {
    pp_channel_free(channel);
    return pp_error_trace(code, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}

/* ---- keys ------------------------------------------------------------------------------------------ */

/* Letters, digits, '_', '-', '.' (and '+' when plus is set: the exponent of a %g number). */
static int valid_text(const char *text, size_t size, int allow_empty, int plus)
{
  if (!text || !memchr(text, '\0', size)) return 0;
  if (!allow_empty && !text[0]) return 0;
  for (const char *c = text; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
          *c == '-' || *c == '.' || (plus && *c == '+')))
      return 0;
  return 1;
}

pp_err pp_channel_key_check(const pp_channel_key *key)
{
  PP_CHECK(key, PP_ERR_ARGUMENT, "channel key: none given");
  static const char *const allowed = "letters, digits, '_', '-' and '.'";
  PP_CHECK(valid_text(key->needle_name, sizeof key->needle_name, 1, 0), PP_ERR_ARGUMENT,
           "channel key: needle_name must be up to %d of %s", PP_CHANNEL_TEXT_SIZE - 1, allowed);
  PP_CHECK(valid_text(key->body_site, sizeof key->body_site, 0, 0), PP_ERR_ARGUMENT,
           "channel key: body_site must be 1 to %d of %s", PP_CHANNEL_TEXT_SIZE - 1, allowed);
  PP_CHECK(valid_text(key->skin_state, sizeof key->skin_state, 0, 0), PP_ERR_ARGUMENT,
           "channel key: skin_state must be 1 to %d of %s", PP_CHANNEL_TEXT_SIZE - 1, allowed);
  PP_CHECK(isfinite(key->tip_radius) && key->tip_radius >= 0, PP_ERR_ARGUMENT,
           "channel key: tip_radius %g m must be >= 0", key->tip_radius);
  PP_CHECK(key->cone_half_angle > 0 && key->cone_half_angle <= M_PI / 2, PP_ERR_ARGUMENT,
           "channel key: cone_half_angle %g rad must be in (0, pi/2]", key->cone_half_angle);
  PP_CHECK(isfinite(key->shaft_radius) && key->shaft_radius > 0, PP_ERR_ARGUMENT,
           "channel key: shaft_radius %g m must be positive", key->shaft_radius);
  PP_CHECK(isfinite(key->insertion_depth) && key->insertion_depth > 0, PP_ERR_ARGUMENT,
           "channel key: insertion_depth %g m must be positive", key->insertion_depth);
  PP_CHECK(isfinite(key->insertion_speed) && key->insertion_speed > 0, PP_ERR_ARGUMENT,
           "channel key: insertion_speed %g m/s must be positive", key->insertion_speed);
  PP_CHECK(fabs(key->tilt) < M_PI / 2, PP_ERR_ARGUMENT, "channel key: tilt %g rad must be below pi/2 in size",
           key->tilt);
  return PP_OK;
}

static pp_err copy_text(char *out, size_t size, const char *text, const char *what)
{
  PP_CHECK(text && strlen(text) < size, PP_ERR_ARGUMENT, "channel key: %s '%s' is missing or longer than %zu", what,
           text ? text : "(null)", size - 1);
  snprintf(out, size, "%s", text);
  return PP_OK;
}

pp_err pp_channel_key_from_needle(const pp_needle *needle, const char *needle_name, const char *body_site,
                                  const char *skin_state, pp_channel_key *key)
{
  PP_CHECK(needle && key, PP_ERR_ARGUMENT, "channel key: no needle or no key given");
  memset(key, 0, sizeof *key);
  PP_CALL(copy_text(key->needle_name, sizeof key->needle_name, needle_name ? needle_name : "", "needle_name"));
  PP_CALL(copy_text(key->body_site, sizeof key->body_site, body_site, "body_site"));
  PP_CALL(copy_text(key->skin_state, sizeof key->skin_state, skin_state, "skin_state"));
  key->tip_radius = needle->shape.tip_radius;
  key->cone_half_angle = needle->shape.cone_half_angle;
  key->shaft_radius = needle->shape.shaft_radius;
  key->insertion_depth = needle->trajectory.insertion_depth;
  key->insertion_speed = needle->trajectory.insertion_speed;
  const double down = -needle->trajectory.direction[2];
  key->tilt = acos(down > 1 ? 1 : down < -1 ? -1 : down);
  PP_CALL(pp_channel_key_check(key));
  return PP_OK;
}

pp_err pp_channel_key_name(const pp_channel_key *key, char *name, size_t size)
{
  PP_CALL(pp_channel_key_check(key));
  PP_CHECK(name && size > 0, PP_ERR_ARGUMENT, "channel key: no room for the entry name");
  char needle[PP_CHANNEL_NAME_SIZE], tilt[64] = "";
  if (key->needle_name[0])
    snprintf(needle, sizeof needle, "%s", key->needle_name);
  else
    snprintf(needle, sizeof needle, "R%.6gum-psi%.6gdeg-rs%.6gum", key->tip_radius / micrometre,
             key->cone_half_angle * 180 / M_PI, key->shaft_radius / micrometre);
  if (key->tilt != 0) snprintf(tilt, sizeof tilt, "_tilt%.6gdeg", key->tilt * 180 / M_PI);
  const int length = snprintf(name, size, "%s_d%.6gum_v%.6gmps_%s_%s%s", needle, key->insertion_depth / micrometre,
                              key->insertion_speed, key->body_site, key->skin_state, tilt);
  PP_CHECK(length >= 0 && (size_t)length < size, PP_ERR_ARGUMENT,
           "channel key: its entry name needs %d characters, more than the %zu available", length, size - 1);
  return PP_OK;
}

/* ---- the library file ------------------------------------------------------------------------------ */

/* Re-raise an error so that its message names the library file (other ranks see only the message). */
static pp_err name_the_file(pp_err code, const char *path)
{
  if (code == PP_OK || strstr(pp_error_message(), path)) return code;
  char message[2048];
  snprintf(message, sizeof message, "%s", pp_error_message());
  return pp_error_raise(code, __FILE__, __LINE__, __func__, "channel library %s: %s", path, message);
}

static pp_err write_dataset(hid_t group, const char *name, int rank, const hsize_t *dims, const double *data,
                            const char *units)
{
  hid_t space = H5Screate_simple(rank, dims, NULL);
  PP_H5(space, "creating a dataspace");
  hid_t dataset = H5Dcreate2(group, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  pp_h5_close(&space);
  char what[128];
  if (dataset < 0) {
    snprintf(what, sizeof what, "creating dataset '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  if (H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    snprintf(what, sizeof what, "writing dataset '%s'", name);
    pp_err code = pp_h5_error(__FILE__, __LINE__, __func__, what);
    pp_h5_close(&dataset);
    return code;
  }
  pp_err code = pp_h5_write_attr_string(dataset, "units", units);
  pp_h5_close(&dataset);
  return code;
}

static pp_err write_entry_attributes(hid_t group, const pp_channel_key *key, const pp_channel *c)
{
  PP_CALL(pp_h5_write_attr_string(group, "needle_name", key->needle_name));
  PP_CALL(pp_h5_write_attr_double(group, "tip_radius", key->tip_radius));
  PP_CALL(pp_h5_write_attr_double(group, "cone_half_angle", key->cone_half_angle));
  PP_CALL(pp_h5_write_attr_double(group, "shaft_radius", key->shaft_radius));
  PP_CALL(pp_h5_write_attr_double(group, "insertion_depth", key->insertion_depth));
  PP_CALL(pp_h5_write_attr_double(group, "insertion_speed", key->insertion_speed));
  PP_CALL(pp_h5_write_attr_double(group, "tilt", key->tilt));
  PP_CALL(pp_h5_write_attr_string(group, "body_site", key->body_site));
  PP_CALL(pp_h5_write_attr_string(group, "skin_state", key->skin_state));
  PP_CALL(pp_h5_write_attr_string(group, "pinprick_version", pp_version()));
  PP_CALL(pp_h5_write_attr_string(group, "git_hash", pp_version_git()));
  const pp_channel_options *o = &c->options;
  PP_CALL(pp_h5_write_attr_double(group, "depth_bin_width", o->depth_bin_width));
  PP_CALL(pp_h5_write_attr_double(group, "radius_bin_width", o->radius_bin_width));
  PP_CALL(pp_h5_write_attr_int(group, "depth_bin_count", o->depth_bin_count));
  PP_CALL(pp_h5_write_attr_int(group, "radius_bin_count", o->radius_bin_count));
  PP_CALL(pp_h5_write_attr_int(group, "subdivisions", o->subdivisions));
  PP_CALL(pp_h5_write_attr_double(group, "damage_threshold", o->damage_threshold));
  PP_CALL(pp_h5_write_attr_int(group, "eroded_in_reference", o->eroded_in_reference));
  static const char *const entry[3] = {"entry_x", "entry_y", "entry_z"};
  static const char *const direction[3] = {"direction_x", "direction_y", "direction_z"};
  for (int a = 0; a < 3; ++a) {
    PP_CALL(pp_h5_write_attr_double(group, entry[a], c->axis.entry[a]));
    PP_CALL(pp_h5_write_attr_double(group, direction[a], c->axis.direction[a]));
  }
  PP_CALL(pp_h5_write_attr_double(group, "total_eroded_volume", c->eroded_volume));
  PP_CALL(pp_h5_write_attr_double(group, "total_damage_volume", c->damage_volume));
  PP_CALL(pp_h5_write_attr_double(group, "total_damaged_volume", c->damaged_volume));
  PP_CALL(pp_h5_write_attr_double(group, "eroded_volume_outside", c->eroded_volume_outside));
  PP_CALL(pp_h5_write_attr_double(group, "damage_volume_outside", c->damage_volume_outside));
  PP_CALL(pp_h5_write_attr_int64(group, "eroded_element_count", c->eroded_element_count));
  PP_CALL(pp_h5_write_attr_int64(group, "damaged_element_count", c->damaged_element_count));
  PP_CALL(pp_h5_write_attr_double(group, "open_depth", c->open_depth));
  PP_CALL(pp_h5_write_attr_double(group, "injury_depth", c->injury_depth));
  PP_CALL(pp_h5_write_attr_double(group, "surface_opening_area", c->surface_opening_area));
  PP_CALL(pp_h5_write_attr_double(group, "surface_diameter", c->surface_diameter));
  PP_CALL(pp_h5_write_attr_double(group, "surface_extent_diameter", c->surface_extent_diameter));
  return PP_OK;
}

static pp_err write_entry_datasets(hid_t group, const pp_channel *c)
{
  const int ns = c->options.depth_bin_count, nr = c->options.radius_bin_count;
  double *edges = malloc(((size_t)(ns > nr ? ns : nr) + 1) * sizeof *edges);
  PP_CHECK(edges, PP_ERR_MEMORY, "channel library: out of memory for the bin edges");
  hsize_t dims[2] = {(hsize_t)ns + 1, 0};
  for (int i = 0; i <= ns; ++i) edges[i] = i * c->options.depth_bin_width;
  pp_err code = write_dataset(group, "depth_edges", 1, dims, edges, "m");
  dims[0] = (hsize_t)nr + 1;
  for (int i = 0; i <= nr; ++i) edges[i] = i * c->options.radius_bin_width;
  if (code == PP_OK) code = write_dataset(group, "radius_edges", 1, dims, edges, "m");
  free(edges);
  dims[0] = (hsize_t)ns;
  dims[1] = (hsize_t)nr;
  if (code == PP_OK) code = write_dataset(group, "eroded_volume", 2, dims, c->eroded_histogram, "m3");
  if (code == PP_OK) code = write_dataset(group, "damage_volume", 2, dims, c->damage_histogram, "m3");
  return code;
}

/* A file that says it is a channel library of a format this build reads. */
static pp_err check_library(hid_t file, const char *path)
{
  htri_t has_format = H5Aexists(file, "format");
  PP_CHECK(has_format > 0, PP_ERR_IO, "%s is not a pinprick channel library (no 'format' attribute on /)", path);
  char format[64] = "";
  long long version = 0;
  PP_CALL(pp_h5_read_attr_string(file, "format", format, sizeof format));
  PP_CALL(pp_h5_read_attr_int64(file, "format_version", &version));
  PP_CHECK(strcmp(format, PP_CHANNEL_LIBRARY_FORMAT) == 0, PP_ERR_IO,
           "%s is not a pinprick channel library (format '%s', expected '%s')", path, format,
           PP_CHANNEL_LIBRARY_FORMAT);
  PP_CHECK(version >= 1 && version <= PP_CHANNEL_LIBRARY_FORMAT_VERSION, PP_ERR_IO,
           "%s is channel library format version %lld; this build reads up to %d", path, version,
           PP_CHANNEL_LIBRARY_FORMAT_VERSION);
  return PP_OK;
}

/* The entries of the library's /channels group, in name order (*names: malloc'd array of
 * count * PP_CHANNEL_NAME_SIZE chars). A library without /channels has none. */
static pp_err list_entries(hid_t file, char **names, hsize_t *count)
{
  *names = NULL;
  *count = 0;
  htri_t exists = H5Lexists(file, "channels", H5P_DEFAULT);
  PP_H5(exists, "looking for /channels");
  if (!exists) return PP_OK;
  hid_t channels = H5Gopen2(file, "channels", H5P_DEFAULT);
  PP_H5(channels, "opening /channels");
  H5G_info_t info;
  if (H5Gget_info(channels, &info) < 0) {
    pp_err code = pp_h5_error(__FILE__, __LINE__, __func__, "listing /channels");
    pp_h5_close(&channels);
    return code;
  }
  *names = calloc((size_t)info.nlinks + 1, PP_CHANNEL_NAME_SIZE);
  pp_err code = *names ? PP_OK
                       : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                                        "out of memory listing %llu channels", (unsigned long long)info.nlinks);
  for (hsize_t i = 0; code == PP_OK && i < info.nlinks; ++i) {
    char *name = *names + i * PP_CHANNEL_NAME_SIZE;
    ssize_t length = H5Lget_name_by_idx(channels, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, PP_CHANNEL_NAME_SIZE,
                                        H5P_DEFAULT);
    if (length < 0)
      code = pp_h5_error(__FILE__, __LINE__, __func__, "reading the name of a channel");
    else if (length >= PP_CHANNEL_NAME_SIZE)
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "a channel name of %zd characters is too long",
                            length);
  }
  pp_h5_close(&channels);
  if (code != PP_OK) {
    free(*names);
    *names = NULL;
    return code;
  }
  *count = info.nlinks;
  return PP_OK;
}

/* The new library in tmp: the entries of the old one (old >= 0) but `name`, then the new entry. */
static pp_err fill_library(hid_t file, hid_t old, const char *name, const pp_channel_key *key,
                           const pp_channel *channel)
{
  PP_CALL(pp_h5_write_attr_string(file, "format", PP_CHANNEL_LIBRARY_FORMAT));
  PP_CALL(pp_h5_write_attr_int(file, "format_version", PP_CHANNEL_LIBRARY_FORMAT_VERSION));
  hid_t channels = H5Gcreate2(file, "channels", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PP_H5(channels, "creating group /channels");
  pp_err code = PP_OK;
  if (old >= 0) {
    char *names = NULL;
    hsize_t count = 0;
    code = list_entries(old, &names, &count);
    hid_t old_channels = code == PP_OK && count ? H5Gopen2(old, "channels", H5P_DEFAULT) : -1;
    if (code == PP_OK && count && old_channels < 0)
      code = pp_h5_error(__FILE__, __LINE__, __func__, "opening /channels");
    for (hsize_t i = 0; code == PP_OK && i < count; ++i) {
      const char *entry = names + i * PP_CHANNEL_NAME_SIZE;
      if (strcmp(entry, name) == 0) continue; /* replaced by the new entry */
      if (H5Ocopy(old_channels, entry, channels, entry, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        char what[PP_CHANNEL_NAME_SIZE + 64];
        snprintf(what, sizeof what, "copying channel '%s'", entry);
        code = pp_h5_error(__FILE__, __LINE__, __func__, what);
      }
    }
    pp_h5_close(&old_channels);
    free(names);
  }
  hid_t group = code == PP_OK ? H5Gcreate2(channels, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  if (code == PP_OK && group < 0) {
    char what[PP_CHANNEL_NAME_SIZE + 64];
    snprintf(what, sizeof what, "creating group /channels/%s", name);
    code = pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  if (code == PP_OK) code = write_entry_attributes(group, key, channel);
  if (code == PP_OK) code = write_entry_datasets(group, channel);
  pp_h5_close(&group);
  pp_h5_close(&channels);
  return code;
}

/* Rank 0: the whole write, tmp then rename; on failure no tmp is left and path is untouched. */
static pp_err write_library(const char *path, const char *name, const pp_channel_key *key,
                            const pp_channel *channel)
{
  char tmp[PATH_SIZE];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  pp_h5_quiet();
  hid_t old = -1;
  if (access(path, F_OK) == 0) {
    PP_CALL(pp_h5_open_serial(path, &old));
    pp_err code = check_library(old, path);
    if (code != PP_OK) {
      pp_h5_close(&old);
      return pp_error_trace(code, __FILE__, __LINE__, __func__);
    }
  }
  hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) {
    char what[2 * PATH_SIZE + 64];
    snprintf(what, sizeof what, "creating channel library %s (as %s)", path, tmp);
    pp_err code = pp_h5_error(__FILE__, __LINE__, __func__, what);
    pp_h5_close(&old);
    return code;
  }
  pp_err code = fill_library(file, old, name, key, channel);
  pp_h5_close(&old);
  if (H5Fclose(file) < 0 && code == PP_OK) {
    char what[PATH_SIZE + 64];
    snprintf(what, sizeof what, "closing %s", tmp);
    code = pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  if (code == PP_OK && rename(tmp, path) != 0)
    code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot rename %s to %s: %s", tmp, path,
                          strerror(errno));
  if (code != PP_OK) {
    unlink(tmp);
    return name_the_file(code, path);
  }
  return PP_OK;
}

static pp_err check_channel(const pp_channel *channel)
{
  PP_CHECK(channel, PP_ERR_ARGUMENT, "channel library: no channel given");
  PP_CALL(pp_channel_options_check(&channel->options));
  PP_CHECK(channel->eroded_histogram && channel->damage_histogram, PP_ERR_ARGUMENT,
           "channel library: the channel has no histograms (not measured?)");
  return PP_OK;
}

pp_err pp_channel_library_write(const pp_runtime *runtime, const char *path, const pp_channel_key *key,
                                const pp_channel *channel)
{
  char name[PP_CHANNEL_NAME_SIZE] = "";
  pp_err local = PP_OK;
  if (!path || !*path || strlen(path) + 8 >= PATH_SIZE)
    local = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__, "channel library: invalid path '%s'",
                           path ? path : "(null)");
  if (local == PP_OK) local = check_channel(channel);
  if (local == PP_OK) local = pp_channel_key_name(key, name, sizeof name);
  PP_CALL(pp_runtime_agree(runtime, local, "checking a channel library entry"));
  local = runtime->rank == 0 ? write_library(path, name, key, channel) : PP_OK;
  PP_CALL(pp_runtime_agree(runtime, local, "writing the channel library"));
  return PP_OK;
}

/* ---- reading ------------------------------------------------------------------------------------- */

/* Open the library and its entry `name` ("": the library's only entry); a missing entry, or an
 * empty name with several entries, names the ones there are. resolved (size PP_CHANNEL_NAME_SIZE,
 * may be NULL) gets the entry's name. */
static pp_err open_entry(const char *path, const char *name, hid_t *file, hid_t *group, char *resolved)
{
  *file = *group = -1;
  PP_CHECK(path && *path, PP_ERR_ARGUMENT, "channel library: no path given");
  PP_CHECK(name && (!*name || valid_text(name, PP_CHANNEL_NAME_SIZE, 0, 1)), PP_ERR_ARGUMENT,
           "channel library %s: invalid entry name '%s'", path, name ? name : "(null)");
  PP_CALL(pp_h5_open_serial(path, file));
  char *names = NULL;
  hsize_t count = 0;
  pp_err code = check_library(*file, path);
  if (code == PP_OK) code = list_entries(*file, &names, &count);
  const char *chosen = NULL;
  for (hsize_t i = 0; code == PP_OK && i < count; ++i)
    if (*name ? strcmp(names + i * PP_CHANNEL_NAME_SIZE, name) == 0 : count == 1) chosen = names + i * PP_CHANNEL_NAME_SIZE;
  if (code == PP_OK && !chosen) {
    char listed[LISTED_NAMES * (PP_CHANNEL_NAME_SIZE + 2) + 16] = "";
    for (hsize_t i = 0; i < count && i < LISTED_NAMES; ++i) {
      strcat(listed, i ? ", " : "");
      strcat(listed, names + i * PP_CHANNEL_NAME_SIZE);
    }
    if (count > LISTED_NAMES) strcat(listed, ", ...");
    if (*name)
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "channel library %s has no entry '%s' (%llu "
                            "entries%s%s)", path, name, (unsigned long long)count, count ? ": " : "", listed);
    else
      code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "channel library %s holds %llu entries%s%s: "
                            "expected an entry name to choose one", path, (unsigned long long)count,
                            count ? ": " : "", listed);
  }
  if (code == PP_OK) {
    char group_path[PP_CHANNEL_NAME_SIZE + 16];
    snprintf(group_path, sizeof group_path, "channels/%s", chosen);
    if (resolved) snprintf(resolved, PP_CHANNEL_NAME_SIZE, "%s", chosen);
    *group = H5Gopen2(*file, group_path, H5P_DEFAULT);
    if (*group < 0) code = pp_h5_error(__FILE__, __LINE__, __func__, "opening a channel's group");
  }
  free(names);
  if (code != PP_OK) {
    pp_h5_close(group);
    pp_h5_close(file);
    return name_the_file(code, path);
  }
  return PP_OK;
}

/* Read a float64 dataset whose shape must be dims[0..rank-1]. */
static pp_err read_dataset(hid_t group, const char *name, int rank, const hsize_t *dims, double *data)
{
  char what[128];
  hid_t dataset = H5Dopen2(group, name, H5P_DEFAULT);
  if (dataset < 0) {
    snprintf(what, sizeof what, "opening dataset '%s'", name);
    return pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  hid_t space = H5Dget_space(dataset);
  hsize_t found[2] = {0, 0};
  const int found_rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  if (found_rank == rank) H5Sget_simple_extent_dims(space, found, NULL);
  pp_h5_close(&space);
  pp_err code = PP_OK;
  if (found_rank != rank || found[0] != dims[0] || (rank == 2 && found[1] != dims[1]))
    code = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                          "dataset '%s' has %d dimension(s) [%llu, %llu], expected %d [%llu, %llu]", name, found_rank,
                          (unsigned long long)found[0], (unsigned long long)found[1], rank,
                          (unsigned long long)dims[0], (unsigned long long)(rank == 2 ? dims[1] : 0));
  else if (H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    snprintf(what, sizeof what, "reading dataset '%s'", name);
    code = pp_h5_error(__FILE__, __LINE__, __func__, what);
  }
  pp_h5_close(&dataset);
  return code;
}

static pp_err read_int_attribute(hid_t group, const char *name, int *value)
{
  long long wide = 0;
  PP_CALL(pp_h5_read_attr_int64(group, name, &wide));
  PP_CHECK(wide >= 0 && wide <= PP_CHANNEL_MAX_BINS, PP_ERR_IO, "attribute '%s' is %lld, out of range", name, wide);
  *value = (int)wide;
  return PP_OK;
}

static pp_err read_entry(hid_t group, pp_channel *c)
{
  pp_channel_options *o = &c->options;
  PP_CALL(pp_h5_read_attr_double(group, "depth_bin_width", &o->depth_bin_width));
  PP_CALL(pp_h5_read_attr_double(group, "radius_bin_width", &o->radius_bin_width));
  PP_CALL(read_int_attribute(group, "depth_bin_count", &o->depth_bin_count));
  PP_CALL(read_int_attribute(group, "radius_bin_count", &o->radius_bin_count));
  PP_CALL(read_int_attribute(group, "subdivisions", &o->subdivisions));
  PP_CALL(pp_h5_read_attr_double(group, "damage_threshold", &o->damage_threshold));
  PP_CALL(read_int_attribute(group, "eroded_in_reference", &o->eroded_in_reference));
  PP_CALL(pp_channel_options_check(o));
  static const char *const entry[3] = {"entry_x", "entry_y", "entry_z"};
  static const char *const direction[3] = {"direction_x", "direction_y", "direction_z"};
  for (int a = 0; a < 3; ++a) {
    PP_CALL(pp_h5_read_attr_double(group, entry[a], &c->axis.entry[a]));
    PP_CALL(pp_h5_read_attr_double(group, direction[a], &c->axis.direction[a]));
  }
  PP_CALL(pp_h5_read_attr_double(group, "total_eroded_volume", &c->eroded_volume));
  PP_CALL(pp_h5_read_attr_double(group, "total_damage_volume", &c->damage_volume));
  PP_CALL(pp_h5_read_attr_double(group, "total_damaged_volume", &c->damaged_volume));
  PP_CALL(pp_h5_read_attr_double(group, "eroded_volume_outside", &c->eroded_volume_outside));
  PP_CALL(pp_h5_read_attr_double(group, "damage_volume_outside", &c->damage_volume_outside));
  PP_CALL(pp_h5_read_attr_int64(group, "eroded_element_count", &c->eroded_element_count));
  PP_CALL(pp_h5_read_attr_int64(group, "damaged_element_count", &c->damaged_element_count));
  PP_CALL(pp_h5_read_attr_double(group, "open_depth", &c->open_depth));
  PP_CALL(pp_h5_read_attr_double(group, "injury_depth", &c->injury_depth));
  PP_CALL(pp_h5_read_attr_double(group, "surface_opening_area", &c->surface_opening_area));
  PP_CALL(pp_h5_read_attr_double(group, "surface_diameter", &c->surface_diameter));
  PP_CALL(pp_h5_read_attr_double(group, "surface_extent_diameter", &c->surface_extent_diameter));
  const size_t bins = (size_t)o->depth_bin_count * (size_t)o->radius_bin_count;
  PP_MALLOC(c->eroded_histogram, bins, "a channel's eroded volume histogram");
  PP_MALLOC(c->damage_histogram, bins, "a channel's damage histogram");
  const hsize_t dims[2] = {(hsize_t)o->depth_bin_count, (hsize_t)o->radius_bin_count};
  PP_CALL(read_dataset(group, "eroded_volume", 2, dims, c->eroded_histogram));
  PP_CALL(read_dataset(group, "damage_volume", 2, dims, c->damage_histogram));
  return PP_OK;
}

pp_err pp_channel_library_read(const char *path, const char *name, pp_channel *channel)
{
  PP_CHECK(channel, PP_ERR_ARGUMENT, "channel library: no result given");
  memset(channel, 0, sizeof *channel);
  hid_t file = -1, group = -1;
  PP_CALL(open_entry(path, name, &file, &group, NULL));
  pp_err code = read_entry(group, channel);
  pp_h5_close(&group);
  pp_h5_close(&file);
  if (code != PP_OK) {
    pp_channel_free(channel);
    return name_the_file(code, path);
  }
  return PP_OK;
}

static pp_err read_key(hid_t group, pp_channel_key *key)
{
  PP_CALL(pp_h5_read_attr_string(group, "needle_name", key->needle_name, sizeof key->needle_name));
  PP_CALL(pp_h5_read_attr_double(group, "tip_radius", &key->tip_radius));
  PP_CALL(pp_h5_read_attr_double(group, "cone_half_angle", &key->cone_half_angle));
  PP_CALL(pp_h5_read_attr_double(group, "shaft_radius", &key->shaft_radius));
  PP_CALL(pp_h5_read_attr_double(group, "insertion_depth", &key->insertion_depth));
  PP_CALL(pp_h5_read_attr_double(group, "insertion_speed", &key->insertion_speed));
  PP_CALL(pp_h5_read_attr_double(group, "tilt", &key->tilt));
  PP_CALL(pp_h5_read_attr_string(group, "body_site", key->body_site, sizeof key->body_site));
  PP_CALL(pp_h5_read_attr_string(group, "skin_state", key->skin_state, sizeof key->skin_state));
  return PP_OK;
}

pp_err pp_channel_library_read_key(const char *path, const char *name, pp_channel_key *key)
{
  PP_CHECK(key, PP_ERR_ARGUMENT, "channel library: no key given");
  memset(key, 0, sizeof *key);
  hid_t file = -1, group = -1;
  PP_CALL(open_entry(path, name, &file, &group, NULL));
  pp_err code = read_key(group, key);
  pp_h5_close(&group);
  pp_h5_close(&file);
  return name_the_file(code, path);
}

pp_err pp_channel_library_entry_name(const char *path, const char *requested, char *name, size_t size)
{
  PP_CHECK(name && size >= PP_CHANNEL_NAME_SIZE, PP_ERR_ARGUMENT, "channel library: no room for an entry name");
  hid_t file = -1, group = -1;
  PP_CALL(open_entry(path, requested, &file, &group, name));
  pp_h5_close(&group);
  pp_h5_close(&file);
  return PP_OK;
}
