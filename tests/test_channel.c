/* The channel a needle leaves (host/channel) on a known synthetic injury in a small layered
 * needle cell built from a config, on 1, 2 and 4 ranks:
 *  - the volumes, depths and surface opening against values computed here independently from the
 *    element corners (hex volumes by the divergence theorem, box faces, corner depths), and against
 *    the injury's construction (depth d0, radius r0: PHYSICS.md 3.3's Kalluri 2011 channel, 152.5 um
 *    deep, 70.7 um across);
 *  - the (depth, radius) histogram: its bins add up to the totals, and on the undeformed mesh
 *    (boxes) every bin equals a sub-cell binning done here;
 *  - a deformed mesh and a tilted axis: the same checks that do not need boxes;
 *  - the same bits on 2 and 4 ranks as a serial run of the same mesh on rank 0 (MPI_COMM_SELF);
 *  - a bad element on one rank fails every rank;
 *  - the channel library: written, read back equal, a second key adds an entry, the same key
 *    replaces its entry, bad paths and foreign files refused with messages naming them, nothing
 *    half-written left behind.
 * Rule (tests/test_mesh.c): every collective first, then asserts on values that are the same on
 * every rank. */
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"
#include "config.h"
#include "mesh.h"
#include "mpi_suite.h"
#include "needle.h"
#include "runtime.h"

#define OK(call) ck_assert_msg((call) == PP_OK, "%s", pp_error_message())

static pp_runtime runtime;
static pp_config config;
static pp_mesh_spec spec;
static const double um = 1e-6;

/* A 160 um x 160 um periodic needle cell, 875 um deep (the thinnest layers config allows below the
 * dermis), refined towards the vertical line (80 um, 80 um): 8 um elements within 40 um of it, 5 um
 * at the surface growing by 1.3 downwards: 5508 elements. */
static const char case_text[] =
  "schema_version: 1\n"
  "skin:\n"
  "  stratum_corneum:\n    thickness: 15 um\n"
  "  viable_epidermis:\n    thickness: 60 um\n"
  "  papillary_dermis:\n    thickness: 100 um\n"
  "  reticular_dermis:\n    thickness: 200 um\n"
  "  hypodermis:\n    thickness: 500 um\n"
  "needle:\n  insertion_depth: 200 um\n"
  "mesh:\n"
  "  length_x: 160 um\n  length_y: 160 um\n  side_x: periodic\n  side_y: periodic\n"
  "  refine_x: [80 um]\n  refine_y: [80 um]\n"
  "  lateral_fine_size: 8 um\n  lateral_fine_radius: 40 um\n  lateral_growth: 1.3\n  lateral_max_size: 30 um\n"
  "  surface_size: 5 um\n  depth_growth: 1.3\n  depth_max_size: 150 um\n  min_elements_per_layer: 2\n";

/* The injury: the axis off the node lines (so that no sub-cell centre sits on a bin edge by
 * symmetry), radius r0 and depth d0 of Kalluri 2011's channel (PHYSICS.md 3.3), damage falling
 * linearly to 0 over L from the eroded cylinder. */
static const double r0 = 35.35e-6, d0 = 152.5e-6, damage_length = 40e-6;
static double axis_x, axis_y; /* set by place_axis at the start of every test */

static void place_axis(double x, double y)
{
  axis_x = x;
  axis_y = y;
}

/* Off the refined node lines x = y = 80 um. */
static void place_axis_centre(void) { place_axis(83.3e-6, 78.6e-6); }
static const double lateral_size = 8e-6; /* mesh.lateral_fine_size: the elements around the axis */

static pp_channel_axis vertical_axis(void)
{
  pp_channel_axis axis = {{axis_x, axis_y, 0}, {0, 0, -1}};
  return axis;
}

/* A grid covering the whole injury (the damage reaches r0 + L + an element, d0 + L + an element). */
static pp_channel_options wide_grid(void)
{
  pp_channel_options options;
  pp_channel_options_default(&options, 300e-6, 150e-6);
  return options;
}

static void build_mesh(int rank, int size, pp_mesh *mesh)
{
  ck_assert_msg(pp_mesh_generate(&spec, rank, size, mesh) == PP_OK, "%s", pp_error_message());
}

/* Current corners of local element e (reference + u). */
static void corners(const pp_mesh *mesh, const double *u, int e, double x[24])
{
  for (int c = 0; c < 8; ++c)
    for (int a = 0; a < 3; ++a)
      x[3 * c + a] = mesh->element_corner_coords[24 * e + 3 * c + a] +
                     (u ? u[3 * mesh->element_nodes[8 * e + c] + a] : 0);
}

/* The lateral offset of a point from the vertical axis at the periodic image nearest it. */
static void lateral_offset(double x, double y, double *dx, double *dy)
{
  *dx = x - axis_x;
  *dy = y - axis_y;
  *dx -= spec.length_x * floor(*dx / spec.length_x + 0.5);
  *dy -= spec.length_y * floor(*dy / spec.length_y + 0.5);
}

/* Eroded: reference centroid within r0 of the vertical axis and less than d0 deep; the others get
 * damage max(0, 1 - dist / L), dist from the centroid to that capped cylinder. */
static void injure(const pp_mesh *mesh, unsigned char *eroded, double *damage)
{
  for (int e = 0; e < mesh->owned_element_count; ++e) {
    double c[3] = {0, 0, 0};
    for (int k = 0; k < 8; ++k)
      for (int a = 0; a < 3; ++a) c[a] += mesh->element_corner_coords[24 * e + 3 * k + a] / 8;
    double dx, dy;
    lateral_offset(c[0], c[1], &dx, &dy);
    const double r = hypot(dx, dy), depth = -c[2];
    eroded[e] = r < r0 && depth < d0;
    const double dist = hypot(fmax(0, r - r0), fmax(0, depth - d0));
    damage[e] = eroded[e] ? 0 : fmax(0, 1 - dist / damage_length);
  }
}

/* A smooth periodic displacement of every local node (owned and ghost), up to 3 um. */
static double *deformation(const pp_mesh *mesh)
{
  double *u = calloc((size_t)mesh->node_count * 3 + 1, sizeof *u);
  ck_assert_ptr_nonnull(u);
  const double kx = 2 * M_PI / spec.length_x, ky = 2 * M_PI / spec.length_y;
  for (int n = 0; n < mesh->node_count; ++n) {
    const double *X = mesh->node_coords + 3 * n, decay = exp(X[2] / 100e-6);
    u[3 * n] = 3e-6 * sin(kx * X[0]) * cos(ky * X[1]) * decay;
    u[3 * n + 1] = 2e-6 * cos(kx * X[0] + 0.3) * decay;
    u[3 * n + 2] = -2.5e-6 * cos(kx * X[0]) * cos(ky * X[1]) * decay;
  }
  return u;
}

/* Hex volume by the divergence theorem, V = (1/3) sum over the faces of the integral of x . n dA,
 * each bilinear face integrated by 2x2 Gauss (x . (x_u x x_v) has degree 2 in u and in v, so this
 * is exact); faces counter-clockwise seen from outside in VTK corner order. Positions are taken
 * relative to corner 0 (a closed surface: the volume does not change) to keep the rounding small.
 * An independent route from the module's 2x2x2 Gauss of det J. */
static double divergence_volume(const double x[24])
{
  static const int faces[6][4] = {{0, 3, 2, 1}, {4, 5, 6, 7}, {0, 1, 5, 4}, {1, 2, 6, 5}, {2, 3, 7, 6}, {3, 0, 4, 7}};
  const double g[2] = {0.5 - 0.5 / sqrt(3), 0.5 + 0.5 / sqrt(3)};
  double volume = 0;
  for (int f = 0; f < 6; ++f) {
    double P[4][3];
    for (int k = 0; k < 4; ++k)
      for (int a = 0; a < 3; ++a) P[k][a] = x[3 * faces[f][k] + a] - x[a];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        const double u = g[i], v = g[j];
        double p[3], pu[3], pv[3];
        for (int a = 0; a < 3; ++a) {
          p[a] = (1 - u) * (1 - v) * P[0][a] + u * (1 - v) * P[1][a] + u * v * P[2][a] + (1 - u) * v * P[3][a];
          pu[a] = (1 - v) * (P[1][a] - P[0][a]) + v * (P[2][a] - P[3][a]);
          pv[a] = (1 - u) * (P[3][a] - P[0][a]) + u * (P[2][a] - P[1][a]);
        }
        const double n[3] = {pu[1] * pv[2] - pu[2] * pv[1], pu[2] * pv[0] - pu[0] * pv[2],
                             pu[0] * pv[1] - pu[1] * pv[0]};
        volume += 0.25 * (p[0] * n[0] + p[1] * n[1] + p[2] * n[2]) / 3;
      }
  }
  return volume;
}

static double sum_all(double value, MPI_Comm comm)
{
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, comm);
  return value;
}

static double relative(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static double histogram_sum(const double *h, const pp_channel_options *o)
{
  double sum = 0;
  for (int b = 0; b < o->depth_bin_count * o->radius_bin_count; ++b) sum += h[b];
  return sum;
}

/* What the test computes itself from the elements (over all ranks). */
typedef struct {
  double eroded_volume, damage_volume, damaged_volume, opening_area, open_depth, injury_depth, reach;
  double eroded_count, damaged_count;
  double vertical_size_at_d0; /* the height of the element layer holding depth d0 */
} expected;

static expected expect(const pp_mesh *mesh, const double *u, const unsigned char *eroded, const double *damage,
                       const pp_channel_axis *axis, MPI_Comm comm)
{
  expected x = {0};
  for (int e = 0; e < mesh->owned_element_count; ++e) {
    double c[24], top = -INFINITY, bottom = INFINITY, xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY,
                  ymax = -INFINITY, deepest = -INFINITY, centre[3] = {0, 0, 0}, image[2];
    corners(mesh, u, e, c);
    for (int k = 0; k < 8; ++k)
      for (int a = 0; a < 3; ++a) centre[a] += mesh->element_corner_coords[24 * e + 3 * k + a] / 8;
    /* the whole element at the periodic image of its reference centre nearest the axis line (for a
       tilted axis, the point of the line at the centre's height; 80 um from both images can be) */
    const double t = (centre[2] - axis->entry[2]) / axis->direction[2];
    const double period[2] = {spec.length_x, spec.length_y};
    for (int a = 0; a < 2; ++a) {
      const double offset = centre[a] - (axis->entry[a] + t * axis->direction[a]);
      image[a] = -period[a] * round(offset / period[a]);
    }
    for (int k = 0; k < 8; ++k) {
      const double v[3] = {c[3 * k] + image[0] - axis->entry[0], c[3 * k + 1] + image[1] - axis->entry[1],
                           c[3 * k + 2] - axis->entry[2]};
      /* the axial depth s = (p - E).d (for d = (0, 0, -1) exactly -z) */
      deepest = fmax(deepest, v[0] * axis->direction[0] + v[1] * axis->direction[1] + v[2] * axis->direction[2]);
      top = fmax(top, c[3 * k + 2]);
      bottom = fmin(bottom, c[3 * k + 2]);
      xmin = fmin(xmin, c[3 * k]);
      xmax = fmax(xmax, c[3 * k]);
      ymin = fmin(ymin, c[3 * k + 1]);
      ymax = fmax(ymax, c[3 * k + 1]);
    }
    if (!u && top >= -d0 && bottom <= -d0) x.vertical_size_at_d0 = fmax(x.vertical_size_at_d0, top - bottom);
    const double volume = divergence_volume(c);
    if (eroded[e]) {
      x.eroded_volume += volume;
      x.eroded_count += 1;
      x.open_depth = fmax(x.open_depth, deepest);
      x.injury_depth = fmax(x.injury_depth, deepest);
      if (!u && top == 0) { /* the top layer of boxes: the face at z = 0 */
        x.opening_area += (xmax - xmin) * (ymax - ymin);
        for (int k = 4; k < 8; ++k) {
          double dx, dy;
          lateral_offset(c[3 * k], c[3 * k + 1], &dx, &dy);
          x.reach = fmax(x.reach, hypot(dx, dy));
        }
      }
    } else {
      x.damage_volume += volume * damage[e];
      if (damage[e] >= 0.5) {
        x.damaged_volume += volume;
        x.damaged_count += 1;
        x.injury_depth = fmax(x.injury_depth, deepest);
      }
    }
  }
  double sums[5] = {x.eroded_volume, x.damage_volume, x.damaged_volume, x.opening_area, x.eroded_count};
  double maxima[4] = {x.open_depth, x.injury_depth, x.reach, x.vertical_size_at_d0};
  MPI_Allreduce(MPI_IN_PLACE, sums, 5, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, maxima, 4, MPI_DOUBLE, MPI_MAX, comm);
  x.eroded_volume = sums[0];
  x.damage_volume = sums[1];
  x.damaged_volume = sums[2];
  x.opening_area = sums[3];
  x.eroded_count = sums[4];
  x.damaged_count = sum_all(x.damaged_count, comm);
  x.open_depth = maxima[0];
  x.injury_depth = maxima[1];
  x.reach = maxima[2];
  x.vertical_size_at_d0 = maxima[3];
  return x;
}

/* The histogram of boxes, binned here: each box split into q^3 equal boxes of volume V / q^3 (exact
 * for a box), centres at the box's (i + 1/2) / q fractions, binned by (depth, distance from the
 * vertical axis). Summed over ranks. */
static void box_histogram(const pp_mesh *mesh, const unsigned char *eroded, const double *damage,
                          const pp_channel_options *o, MPI_Comm comm, double *eroded_bins, double *damage_bins)
{
  const int bins = o->depth_bin_count * o->radius_bin_count, q = o->subdivisions;
  memset(eroded_bins, 0, (size_t)bins * sizeof *eroded_bins);
  memset(damage_bins, 0, (size_t)bins * sizeof *damage_bins);
  for (int e = 0; e < mesh->owned_element_count; ++e) {
    if (!eroded[e] && damage[e] == 0) continue;
    double c[24], lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    corners(mesh, NULL, e, c);
    for (int k = 0; k < 8; ++k)
      for (int a = 0; a < 3; ++a) {
        lo[a] = fmin(lo[a], c[3 * k + a]);
        hi[a] = fmax(hi[a], c[3 * k + a]);
      }
    const double sub = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]) / (q * q * q);
    /* the periodic image nearest the axis, as the module takes it */
    double dx, dy;
    lateral_offset(0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), &dx, &dy);
    const double shift[2] = {dx - (0.5 * (lo[0] + hi[0]) - axis_x), dy - (0.5 * (lo[1] + hi[1]) - axis_y)};
    for (int k = 0; k < q; ++k)
      for (int j = 0; j < q; ++j)
        for (int i = 0; i < q; ++i) {
          const double p[3] = {lo[0] + (i + 0.5) / q * (hi[0] - lo[0]) + shift[0],
                               lo[1] + (j + 0.5) / q * (hi[1] - lo[1]) + shift[1],
                               lo[2] + (k + 0.5) / q * (hi[2] - lo[2])};
          const double s = -p[2], r = hypot(p[0] - axis_x, p[1] - axis_y);
          const int row = (int)floor(s / o->depth_bin_width), column = (int)floor(r / o->radius_bin_width);
          if (row < 0 || row >= o->depth_bin_count || column >= o->radius_bin_count) continue;
          if (eroded[e])
            eroded_bins[row * o->radius_bin_count + column] += sub;
          else
            damage_bins[row * o->radius_bin_count + column] += sub * damage[e];
        }
  }
  MPI_Allreduce(MPI_IN_PLACE, eroded_bins, bins, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, damage_bins, bins, MPI_DOUBLE, MPI_SUM, comm);
}

/* ---- the known injury ------------------------------------------------------------------------- */

START_TEST(test_known_injury)
{
  place_axis_centre();
  pp_mesh mesh;
  build_mesh(runtime.rank, runtime.size, &mesh);
  unsigned char *eroded = calloc((size_t)mesh.owned_element_count + 1, 1);
  double *damage = calloc((size_t)mesh.owned_element_count + 1, sizeof *damage);
  injure(&mesh, eroded, damage);
  const pp_channel_axis axis = vertical_axis();
  const pp_channel_options wide = wide_grid();
  pp_channel channel, narrow;
  const double start = MPI_Wtime();
  OK(pp_channel_measure(&mesh, NULL, eroded, damage, &axis, &wide, runtime.comm, &channel));
  const double seconds = MPI_Wtime() - start;
  /* a grid that cuts the injury: 100 um deep, 50 um wide */
  pp_channel_options cut = wide;
  cut.depth_bin_count = 20;
  cut.radius_bin_count = 10;
  OK(pp_channel_measure(&mesh, NULL, eroded, damage, &axis, &cut, runtime.comm, &narrow));
  const expected x = expect(&mesh, NULL, eroded, damage, &axis, runtime.comm);
  const int bins = wide.depth_bin_count * wide.radius_bin_count;
  double *eroded_bins = malloc((size_t)bins * sizeof *eroded_bins);
  double *damage_bins = malloc((size_t)bins * sizeof *damage_bins);
  box_histogram(&mesh, eroded, damage, &wide, runtime.comm, eroded_bins, damage_bins);
  double worst_bin = 0;
  int worst_at = -1;
  for (int b = 0; b < bins; ++b) {
    const double error = fmax(fabs(channel.eroded_histogram[b] - eroded_bins[b]) / channel.eroded_volume,
                              fabs(channel.damage_histogram[b] - damage_bins[b]) / channel.damage_volume);
    if (error > worst_bin) {
      worst_bin = error;
      worst_at = b;
    }
  }
  const double histogram_eroded = histogram_sum(channel.eroded_histogram, &wide),
               histogram_damage = histogram_sum(channel.damage_histogram, &wide);
  const long long global_elements = mesh.global_element_count;
  if (runtime.rank == 0)
    printf("known injury on %d ranks (%lld elements, %.3f s): eroded %lld elements, %.6e m^3 (test %.6e), damage "
           "%.6e m^3, damaged %lld elements %.6e m^3; open depth %.2f um (d0 %.2f um, layer %.2f um thick there), "
           "injury depth %.2f um; opening %.6e m^2, diameter %.2f um, extent %.2f um (2 r0 = %.2f um); largest "
           "bin difference from the test's binning %.2e of the total (bin %d); cut grid: %.3e m^3 eroded and %.3e "
           "m^3 damage outside\n",
           runtime.size, global_elements, seconds, channel.eroded_element_count, channel.eroded_volume,
           x.eroded_volume, channel.damage_volume, channel.damaged_element_count, channel.damaged_volume,
           channel.open_depth / um, d0 / um, x.vertical_size_at_d0 / um, channel.injury_depth / um,
           channel.surface_opening_area, channel.surface_diameter / um, channel.surface_extent_diameter / um,
           2 * r0 / um, worst_bin, worst_at, narrow.eroded_volume_outside, narrow.damage_volume_outside);
  ck_assert_msg(global_elements <= 6000, "the test mesh has %lld elements: keep it small", global_elements);
  ck_assert_msg(channel.eroded_element_count > 50 && channel.eroded_element_count == (long long)x.eroded_count,
                "eroded elements: %lld, test %.0f", channel.eroded_element_count, x.eroded_count);
  ck_assert_msg(channel.damaged_element_count == (long long)x.damaged_count, "damaged elements: %lld, test %.0f",
                channel.damaged_element_count, x.damaged_count);
  /* volumes: the divergence theorem here, 2x2x2 Gauss of det J there (both exact for a hex8) */
  ck_assert_msg(relative(channel.eroded_volume, x.eroded_volume) < 1e-12, "eroded volume %.17g, test %.17g",
                channel.eroded_volume, x.eroded_volume);
  ck_assert_msg(relative(channel.damage_volume, x.damage_volume) < 1e-12, "damage volume %.17g, test %.17g",
                channel.damage_volume, x.damage_volume);
  ck_assert_msg(relative(channel.damaged_volume, x.damaged_volume) < 1e-12, "damaged volume %.17g, test %.17g",
                channel.damaged_volume, x.damaged_volume);
  /* histogram: it covers the injury, its bins add up to the totals, and each equals this binning */
  ck_assert_msg(channel.eroded_volume_outside == 0 && channel.damage_volume_outside == 0,
                "outside the wide grid: %g, %g m^3", channel.eroded_volume_outside, channel.damage_volume_outside);
  ck_assert_msg(relative(histogram_eroded, channel.eroded_volume) < 1e-12, "eroded bins add up to %.17g, total %.17g",
                histogram_eroded, channel.eroded_volume);
  ck_assert_msg(relative(histogram_damage, channel.damage_volume) < 1e-12, "damage bins add up to %.17g, total %.17g",
                histogram_damage, channel.damage_volume);
  ck_assert_msg(worst_bin < 1e-12, "bin %d differs from the test's binning by %.3e of the total", worst_at, worst_bin);
  /* the cut grid: what is not binned is counted outside */
  ck_assert_msg(narrow.eroded_volume_outside > 0 && narrow.damage_volume_outside > 0, "nothing outside the cut grid");
  ck_assert_msg(relative(histogram_sum(narrow.eroded_histogram, &cut) + narrow.eroded_volume_outside,
                         narrow.eroded_volume) < 1e-12, "cut grid: eroded bins + outside != total");
  ck_assert_msg(relative(histogram_sum(narrow.damage_histogram, &cut) + narrow.damage_volume_outside,
                         narrow.damage_volume) < 1e-12, "cut grid: damage bins + outside != total");
  ck_assert(memcmp(&narrow.eroded_volume, &channel.eroded_volume, sizeof(double)) == 0);
  /* depths: the deepest corners (exact: s = -z for a vertical axis through z = 0), and within one
     element layer of the construction's d0 (eroded centroids above d0) */
  ck_assert_msg(channel.open_depth == x.open_depth, "open depth %.17g, test %.17g", channel.open_depth, x.open_depth);
  ck_assert_msg(channel.injury_depth == x.injury_depth, "injury depth %.17g, test %.17g", channel.injury_depth,
                x.injury_depth);
  ck_assert_msg(x.vertical_size_at_d0 > 0 && fabs(channel.open_depth - d0) <= x.vertical_size_at_d0,
                "open depth %.3f um is more than one element (%.3f um) from d0 = %.3f um", channel.open_depth / um,
                x.vertical_size_at_d0 / um, d0 / um);
  ck_assert_msg(channel.injury_depth > channel.open_depth, "injury depth %g not below the open depth %g",
                channel.injury_depth, channel.open_depth);
  /* the surface opening: eroded top-layer boxes' footprints, and within two elements of 2 r0 */
  ck_assert_msg(relative(channel.surface_opening_area, x.opening_area) < 1e-12, "opening area %.17g, test %.17g",
                channel.surface_opening_area, x.opening_area);
  ck_assert_msg(relative(channel.surface_extent_diameter, 2 * x.reach) < 1e-12, "extent %.17g, test %.17g",
                channel.surface_extent_diameter, 2 * x.reach);
  ck_assert_msg(fabs(channel.surface_diameter - 2 * r0) <= 2 * lateral_size, "surface diameter %.3f um, 2 r0 = %.3f um",
                channel.surface_diameter / um, 2 * r0 / um);
  ck_assert_msg(channel.surface_extent_diameter >= 2 * r0 &&
                    channel.surface_extent_diameter <= 2 * r0 + 2 * lateral_size,
                "surface extent %.3f um, 2 r0 = %.3f um", channel.surface_extent_diameter / um, 2 * r0 / um);
  free(eroded_bins);
  free(damage_bins);
  pp_channel_free(&channel);
  pp_channel_free(&narrow);
  free(eroded);
  free(damage);
  pp_mesh_free(&mesh);
}
END_TEST

/* A channel across a periodic side: the axis 3.3 um from the side x = 0, so that the injury wraps
 * round to x near 160 um. The module takes each element at its periodic image nearest the axis;
 * the test's own binning wraps each box by its own route (lateral_offset of the box centre). Checked:
 * the injury really is on both sides, the totals, every bin against the test's, the opening against
 * the top boxes, and the axis moved by exactly one period gives the same channel (to rounding: the
 * offsets from the axis are then computed from other numbers). */
START_TEST(test_across_periodic_side)
{
  place_axis(3.3e-6, 78.6e-6);
  pp_mesh mesh;
  build_mesh(runtime.rank, runtime.size, &mesh);
  unsigned char *eroded = calloc((size_t)mesh.owned_element_count + 1, 1);
  double *damage = calloc((size_t)mesh.owned_element_count + 1, sizeof *damage);
  injure(&mesh, eroded, damage);
  const pp_channel_options wide = wide_grid();
  pp_channel_axis axis = vertical_axis(), moved = axis;
  moved.entry[0] += spec.length_x;
  pp_channel channel, shifted;
  OK(pp_channel_measure(&mesh, NULL, eroded, damage, &axis, &wide, runtime.comm, &channel));
  OK(pp_channel_measure(&mesh, NULL, eroded, damage, &moved, &wide, runtime.comm, &shifted));
  const expected x = expect(&mesh, NULL, eroded, damage, &axis, runtime.comm);
  const int bins = wide.depth_bin_count * wide.radius_bin_count;
  double *eroded_bins = malloc((size_t)bins * sizeof *eroded_bins);
  double *damage_bins = malloc((size_t)bins * sizeof *damage_bins);
  box_histogram(&mesh, eroded, damage, &wide, runtime.comm, eroded_bins, damage_bins);
  double worst_bin = 0, worst_shift = 0;
  for (int b = 0; b < bins; ++b) {
    worst_bin = fmax(worst_bin, fmax(fabs(channel.eroded_histogram[b] - eroded_bins[b]) / channel.eroded_volume,
                                     fabs(channel.damage_histogram[b] - damage_bins[b]) / channel.damage_volume));
    worst_shift = fmax(worst_shift,
                       fmax(fabs(channel.eroded_histogram[b] - shifted.eroded_histogram[b]) / channel.eroded_volume,
                            fabs(channel.damage_histogram[b] - shifted.damage_histogram[b]) / channel.damage_volume));
  }
  double sides[2] = {0, 0}; /* eroded elements left and right of the cell's middle */
  for (int e = 0; e < mesh.owned_element_count; ++e)
    if (eroded[e]) sides[mesh.element_corner_coords[24 * e] < 0.5 * spec.length_x] += 1;
  MPI_Allreduce(MPI_IN_PLACE, sides, 2, MPI_DOUBLE, MPI_SUM, runtime.comm);
  if (runtime.rank == 0)
    printf("across the periodic side on %d ranks: eroded %lld elements (%.0f right of the middle, %.0f left), "
           "%.6e m^3 (test %.6e), surface diameter %.2f um, extent %.2f um; largest bin difference from the test's "
           "binning %.2e, from the axis a period away %.2e of the total\n",
           runtime.size, channel.eroded_element_count, sides[0], sides[1], channel.eroded_volume, x.eroded_volume,
           channel.surface_diameter / um, channel.surface_extent_diameter / um, worst_bin, worst_shift);
  ck_assert_msg(sides[0] > 10 && sides[1] > 10, "the injury does not cross the side: %.0f and %.0f eroded elements",
                sides[0], sides[1]);
  ck_assert_msg(channel.eroded_element_count == (long long)x.eroded_count, "eroded elements %lld, test %.0f",
                channel.eroded_element_count, x.eroded_count);
  ck_assert_msg(relative(channel.eroded_volume, x.eroded_volume) < 1e-12 &&
                    relative(channel.damage_volume, x.damage_volume) < 1e-12,
                "volumes %.17g, %.17g; test %.17g, %.17g", channel.eroded_volume, channel.damage_volume,
                x.eroded_volume, x.damage_volume);
  ck_assert_msg(channel.eroded_volume_outside == 0 && channel.damage_volume_outside == 0,
                "outside the wide grid: %g, %g m^3 (an element taken at the wrong image?)",
                channel.eroded_volume_outside, channel.damage_volume_outside);
  ck_assert_msg(worst_bin < 1e-12, "bins differ from the test's binning by up to %.3e of the total", worst_bin);
  ck_assert_msg(relative(channel.surface_opening_area, x.opening_area) < 1e-12 &&
                    relative(channel.surface_extent_diameter, 2 * x.reach) < 1e-12,
                "opening %.17g m^2, extent %.17g m; test %.17g, %.17g", channel.surface_opening_area,
                channel.surface_extent_diameter, x.opening_area, 2 * x.reach);
  ck_assert_msg(channel.open_depth == x.open_depth, "open depth %.17g, test %.17g", channel.open_depth, x.open_depth);
  ck_assert_msg(worst_shift < 1e-12 && relative(shifted.eroded_volume, channel.eroded_volume) < 1e-15 &&
                    relative(shifted.surface_extent_diameter, channel.surface_extent_diameter) < 1e-12,
                "the axis a period away gives another channel (bins differ by %.3e)", worst_shift);
  free(eroded_bins);
  free(damage_bins);
  pp_channel_free(&channel);
  pp_channel_free(&shifted);
  free(eroded);
  free(damage);
  pp_mesh_free(&mesh);
}
END_TEST

/* ---- the same bits on any rank count, deformed and tilted -------------------------------------- */

/* Every number of a channel, in a fixed order. */
static double *pack(const pp_channel *c, size_t *count)
{
  const size_t bins = (size_t)c->options.depth_bin_count * (size_t)c->options.radius_bin_count;
  const double scalars[] = {c->eroded_volume, c->damage_volume, c->damaged_volume, c->eroded_volume_outside,
                            c->damage_volume_outside, (double)c->eroded_element_count,
                            (double)c->damaged_element_count, c->open_depth, c->injury_depth,
                            c->surface_opening_area, c->surface_diameter, c->surface_extent_diameter};
  const size_t n = sizeof scalars / sizeof *scalars;
  double *values = malloc((n + 2 * bins) * sizeof *values);
  ck_assert_ptr_nonnull(values);
  memcpy(values, scalars, sizeof scalars);
  memcpy(values + n, c->eroded_histogram, bins * sizeof *values);
  memcpy(values + n + bins, c->damage_histogram, bins * sizeof *values);
  *count = n + 2 * bins;
  return values;
}

/* The injury on a deformed mesh seen from a tilted axis (10 degrees about y, as a roller's). */
static pp_channel_axis tilted_axis(void)
{
  pp_channel_axis axis = vertical_axis();
  pp_needle_tilted_direction(10 * M_PI / 180, axis.direction);
  return axis;
}

typedef struct {
  pp_err code;
  pp_channel channel;
  expected x;
} measured;

static measured measure_on(int rank, int size, MPI_Comm comm, int deformed)
{
  measured m;
  memset(&m, 0, sizeof m);
  pp_mesh mesh;
  build_mesh(rank, size, &mesh);
  unsigned char *eroded = calloc((size_t)mesh.owned_element_count + 1, 1);
  double *damage = calloc((size_t)mesh.owned_element_count + 1, sizeof *damage);
  injure(&mesh, eroded, damage);
  double *u = deformed ? deformation(&mesh) : NULL;
  const pp_channel_axis axis = deformed ? tilted_axis() : vertical_axis();
  const pp_channel_options options = wide_grid();
  m.code = pp_channel_measure(&mesh, u, eroded, damage, &axis, &options, comm, &m.channel);
  m.x = expect(&mesh, u, eroded, damage, &axis, comm);
  free(u);
  free(eroded);
  free(damage);
  pp_mesh_free(&mesh);
  return m;
}

START_TEST(test_same_bits)
{
  place_axis_centre();
  for (int deformed = 0; deformed < 2; ++deformed) {
    measured parallel = measure_on(runtime.rank, runtime.size, runtime.comm, deformed), serial;
    memset(&serial, 0, sizeof serial);
    if (runtime.rank == 0) serial = measure_on(0, 1, MPI_COMM_SELF, deformed);
    int codes[2] = {parallel.code, serial.code};
    MPI_Bcast(&codes[1], 1, MPI_INT, 0, runtime.comm);
    size_t count = 0, serial_count = 0;
    double *values = parallel.code == PP_OK ? pack(&parallel.channel, &count) : NULL;
    double *reference = NULL;
    if (runtime.rank == 0 && serial.code == PP_OK) reference = pack(&serial.channel, &serial_count);
    unsigned long long n = serial_count;
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, runtime.comm);
    if (runtime.rank != 0) reference = calloc((size_t)n + 1, sizeof *reference);
    MPI_Bcast(reference, (int)n, MPI_DOUBLE, 0, runtime.comm);
    size_t mismatches = 0;
    for (size_t i = 0; i < count && i < n; ++i) mismatches += memcmp(&values[i], &reference[i], sizeof(double)) != 0;
    const pp_channel *c = &parallel.channel;
    const double bins_eroded = c->eroded_histogram ? histogram_sum(c->eroded_histogram, &c->options) : 0;
    const double bins_damage = c->damage_histogram ? histogram_sum(c->damage_histogram, &c->options) : 0;
    if (runtime.rank == 0)
      printf("%s on %d ranks: %zu of %zu numbers differ from the serial run; eroded %.6e m^3 (test %.6e), damage "
             "%.6e m^3 (test %.6e), open depth %.2f um, injury depth %.2f um along the axis, surface diameter %.2f "
             "um\n", deformed ? "deformed, tilted axis" : "reference, vertical axis", runtime.size, mismatches, count,
             c->eroded_volume, parallel.x.eroded_volume, c->damage_volume, parallel.x.damage_volume,
             c->open_depth / um, c->injury_depth / um, c->surface_diameter / um);
    ck_assert_msg(codes[0] == PP_OK && codes[1] == PP_OK, "measuring failed: %s", pp_error_message());
    ck_assert_msg(count == n && mismatches == 0, "%zu of %zu numbers differ from the serial run (%llu there)",
                  mismatches, count, n);
    /* the deformed mesh: volumes against the divergence theorem, bins against the totals */
    ck_assert_msg(relative(c->eroded_volume, parallel.x.eroded_volume) < 1e-12, "eroded volume %.17g, test %.17g",
                  c->eroded_volume, parallel.x.eroded_volume);
    ck_assert_msg(relative(c->damage_volume, parallel.x.damage_volume) < 1e-12, "damage volume %.17g, test %.17g",
                  c->damage_volume, parallel.x.damage_volume);
    ck_assert_msg(relative(c->damaged_volume, parallel.x.damaged_volume) < 1e-12, "damaged volume %.17g, test %.17g",
                  c->damaged_volume, parallel.x.damaged_volume);
    ck_assert_msg(relative(bins_eroded + c->eroded_volume_outside, c->eroded_volume) < 1e-12,
                  "eroded bins %.17g + outside %.17g, total %.17g", bins_eroded, c->eroded_volume_outside,
                  c->eroded_volume);
    ck_assert_msg(relative(bins_damage + c->damage_volume_outside, c->damage_volume) < 1e-12,
                  "damage bins %.17g + outside %.17g, total %.17g", bins_damage, c->damage_volume_outside,
                  c->damage_volume);
    /* depths along the (tilted) axis: the deepest corners' s, computed here */
    ck_assert_msg(relative(c->open_depth, parallel.x.open_depth) < 1e-12 &&
                      relative(c->injury_depth, parallel.x.injury_depth) < 1e-12,
                  "open depth %.17g, injury depth %.17g; test %.17g, %.17g", c->open_depth, c->injury_depth,
                  parallel.x.open_depth, parallel.x.injury_depth);
    free(values);
    free(reference);
    pp_channel_free(&parallel.channel);
    pp_channel_free(&serial.channel);
  }
}
END_TEST

/* options.eroded_in_reference: on the deformed mesh the eroded elements are measured where and as
 * they were (every eroded number and bin the same bits as the undeformed run's), the damaged ones
 * where they are now (every damage number and bin the same bits as the all-current run's). */
START_TEST(test_eroded_in_reference)
{
  place_axis_centre();
  pp_mesh mesh;
  build_mesh(runtime.rank, runtime.size, &mesh);
  unsigned char *eroded = calloc((size_t)mesh.owned_element_count + 1, 1);
  double *damage = calloc((size_t)mesh.owned_element_count + 1, sizeof *damage);
  injure(&mesh, eroded, damage);
  double *u = deformation(&mesh);
  const pp_channel_axis axis = vertical_axis();
  const pp_channel_options current = wide_grid();
  pp_channel_options mixed_options = current;
  mixed_options.eroded_in_reference = 1;
  pp_channel still, moved, mixed;
  OK(pp_channel_measure(&mesh, NULL, eroded, damage, &axis, &current, runtime.comm, &still));
  OK(pp_channel_measure(&mesh, u, eroded, damage, &axis, &current, runtime.comm, &moved));
  OK(pp_channel_measure(&mesh, u, eroded, damage, &axis, &mixed_options, runtime.comm, &mixed));
  const size_t bins = (size_t)current.depth_bin_count * current.radius_bin_count, histogram = bins * sizeof(double);
  const double still_eroded[] = {still.eroded_volume, still.eroded_volume_outside, (double)still.eroded_element_count,
                                 still.open_depth, still.surface_opening_area, still.surface_extent_diameter};
  const double mixed_eroded[] = {mixed.eroded_volume, mixed.eroded_volume_outside, (double)mixed.eroded_element_count,
                                 mixed.open_depth, mixed.surface_opening_area, mixed.surface_extent_diameter};
  const double moved_damage[] = {moved.damage_volume, moved.damaged_volume, moved.damage_volume_outside,
                                 (double)moved.damaged_element_count};
  const double mixed_damage[] = {mixed.damage_volume, mixed.damaged_volume, mixed.damage_volume_outside,
                                 (double)mixed.damaged_element_count};
  if (runtime.rank == 0)
    printf("eroded in reference on %d ranks: eroded %.9e m^3 (reference %.9e, deformed %.9e), damage %.9e m^3 "
           "(deformed %.9e)\n", runtime.size, mixed.eroded_volume, still.eroded_volume, moved.eroded_volume,
           mixed.damage_volume, moved.damage_volume);
  ck_assert_msg(memcmp(still_eroded, mixed_eroded, sizeof still_eroded) == 0 &&
                    memcmp(still.eroded_histogram, mixed.eroded_histogram, histogram) == 0,
                "the eroded part is not the undeformed run's");
  ck_assert_msg(memcmp(moved_damage, mixed_damage, sizeof moved_damage) == 0 &&
                    memcmp(moved.damage_histogram, mixed.damage_histogram, histogram) == 0,
                "the damaged part is not the deformed run's");
  ck_assert_msg(relative(moved.eroded_volume, still.eroded_volume) > 1e-6,
                "the deformation does not change the eroded volume: the check above means nothing");
  pp_channel_free(&still);
  pp_channel_free(&moved);
  pp_channel_free(&mixed);
  free(u);
  free(eroded);
  free(damage);
  pp_mesh_free(&mesh);
}
END_TEST

/* A damage value outside [0, 1] on the last rank's first element: every rank returns an error
 * (none waits in a reduction), the failing one naming the element. */
START_TEST(test_errors_agreed)
{
  place_axis_centre();
  pp_mesh mesh;
  build_mesh(runtime.rank, runtime.size, &mesh);
  unsigned char *eroded = calloc((size_t)mesh.owned_element_count + 1, 1);
  double *damage = calloc((size_t)mesh.owned_element_count + 1, sizeof *damage);
  injure(&mesh, eroded, damage);
  const int bad_rank = runtime.size - 1;
  ck_assert_int_gt(mesh.owned_element_count, 0);
  long long bad_id = -1;
  if (runtime.rank == bad_rank) {
    eroded[0] = 0;
    damage[0] = 1.5;
    bad_id = mesh.element_global_id[0];
  }
  MPI_Bcast(&bad_id, 1, MPI_LONG_LONG, bad_rank, runtime.comm);
  const pp_channel_axis axis = vertical_axis();
  const pp_channel_options options = wide_grid();
  pp_channel channel;
  pp_error_clear();
  const pp_err code = pp_channel_measure(&mesh, NULL, eroded, damage, &axis, &options, runtime.comm, &channel);
  char expected_text[64];
  snprintf(expected_text, sizeof expected_text, "element %lld has damage 1.5", bad_id);
  const int names_it = strstr(pp_error_message(), expected_text) != NULL;
  /* a bad option is refused on every rank alike */
  pp_channel_options bad = options;
  bad.subdivisions = 0;
  pp_channel other;
  const pp_err option_code = pp_channel_measure(&mesh, NULL, eroded, damage, &axis, &bad, runtime.comm, &other);
  const int names_option = strstr(pp_error_message(), "subdivisions") != NULL;
  ck_assert_msg(code == (runtime.rank == bad_rank ? PP_ERR_ARGUMENT : PP_ERR_OTHER_RANK), "code %d", code);
  ck_assert_msg(names_it, "the message does not name element %lld's damage: %s", bad_id, pp_error_message());
  ck_assert_msg(channel.eroded_histogram == NULL && channel.eroded_volume == 0, "a failed channel is not zeroed");
  ck_assert_msg(option_code == PP_ERR_ARGUMENT && names_option, "bad subdivisions: code %d", option_code);
  pp_error_clear();
  free(eroded);
  free(damage);
  pp_mesh_free(&mesh);
}
END_TEST

/* ---- the channel library ------------------------------------------------------------------------ */

static int same_channel(const pp_channel *a, const pp_channel *b)
{
  size_t n = 0, m = 0;
  double *x = pack(a, &n), *y = pack(b, &m);
  const pp_channel_options *p = &a->options, *q = &b->options;
  const int same_options = p->depth_bin_width == q->depth_bin_width && p->radius_bin_width == q->radius_bin_width &&
                           p->depth_bin_count == q->depth_bin_count && p->radius_bin_count == q->radius_bin_count &&
                           p->subdivisions == q->subdivisions && p->damage_threshold == q->damage_threshold &&
                           p->eroded_in_reference == q->eroded_in_reference;
  int same = n == m && memcmp(x, y, n * sizeof *x) == 0 && same_options &&
             memcmp(&a->axis, &b->axis, sizeof a->axis) == 0; /* six doubles, no padding */
  free(x);
  free(y);
  return same;
}

static int same_key(const pp_channel_key *a, const pp_channel_key *b)
{
  return strcmp(a->needle_name, b->needle_name) == 0 && strcmp(a->body_site, b->body_site) == 0 &&
         strcmp(a->skin_state, b->skin_state) == 0 && a->tip_radius == b->tip_radius &&
         a->cone_half_angle == b->cone_half_angle && a->shaft_radius == b->shaft_radius &&
         a->insertion_depth == b->insertion_depth && a->insertion_speed == b->insertion_speed && a->tilt == b->tilt;
}

/* Entries under /channels, or -1 when the file cannot be read. */
static long long entry_count(const char *path)
{
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return -1;
  hid_t group = H5Gopen2(file, "channels", H5P_DEFAULT);
  H5G_info_t info;
  long long count = group >= 0 && H5Gget_info(group, &info) >= 0 ? (long long)info.nlinks : -1;
  if (group >= 0) H5Gclose(group);
  H5Fclose(file);
  return count;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* The Kalluri 2011 DermaRoller needle (host/needle.c's preset: tip 4 um, 140 um base, psi from
 * tan psi = 66 / 762) at 500 um and 0.5 m/s in normal forearm skin. */
static pp_channel_key dermaroller_key(void)
{
  pp_channel_key key;
  memset(&key, 0, sizeof key);
  snprintf(key.needle_name, sizeof key.needle_name, "dermaroller");
  key.tip_radius = 4e-6;
  key.cone_half_angle = atan(66.0 / 762.0);
  key.shaft_radius = 70e-6;
  key.insertion_depth = 500e-6;
  key.insertion_speed = 0.5;
  snprintf(key.body_site, sizeof key.body_site, "forearm");
  snprintf(key.skin_state, sizeof key.skin_state, "normal");
  return key;
}

START_TEST(test_library)
{
  place_axis_centre();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  char dir[256], path[512], tmp[600], bad_path[600], foreign[600];
  snprintf(dir, sizeof dir, "channel_np%d", runtime.size);
  snprintf(path, sizeof path, "%s/channels.h5", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(bad_path, sizeof bad_path, "%s/no/such/folder/channels.h5", dir);
  snprintf(foreign, sizeof foreign, "%s/notes.h5", dir);
  if (runtime.rank == 0) {
    unlink(path);
    unlink(tmp);
    unlink(foreign);
    mkdir(dir, 0777);
    FILE *out = fopen(foreign, "w");
    if (out) {
      fputs("not an HDF5 file\n", out);
      fclose(out);
    }
  }
  MPI_Barrier(runtime.comm);
  measured plain = measure_on(runtime.rank, runtime.size, runtime.comm, 0);
  measured bent = measure_on(runtime.rank, runtime.size, runtime.comm, 1);
  OK(plain.code);
  OK(bent.code);

  const pp_channel_key key = dermaroller_key();
  char name[PP_CHANNEL_NAME_SIZE], name2[PP_CHANNEL_NAME_SIZE], tilted_name[PP_CHANNEL_NAME_SIZE];
  OK(pp_channel_key_name(&key, name, sizeof name));
  /* the second key: a pen needle from its shape alone, tilted like a roller's entry (via a needle) */
  pp_needle needle;
  memset(&needle, 0, sizeof needle);
  needle.shape = pp_needle_shape_conical(1.5e-3, 2e-6, 125e-6, 0.2);
  needle.trajectory.insertion_depth = 1e-3;
  needle.trajectory.insertion_speed = 1.2;
  pp_needle_tilted_direction(10 * M_PI / 180, needle.trajectory.direction);
  pp_channel_key key2;
  OK(pp_channel_key_from_needle(&needle, "", "face", "session2", &key2));
  OK(pp_channel_key_name(&key2, name2, sizeof name2));
  pp_channel_key tilted = key;
  tilted.tilt = key2.tilt;
  OK(pp_channel_key_name(&tilted, tilted_name, sizeof tilted_name));

  /* 1: a new library with one entry, read back on every rank */
  pp_error_clear();
  const pp_err first = pp_channel_library_write(&runtime, path, &key, &plain.channel);
  pp_channel back, back2, replaced, kept;
  pp_channel_key key_back, key2_back;
  const pp_err read_first = pp_channel_library_read(path, name, &back);
  const pp_err read_key = pp_channel_library_read_key(path, name, &key_back);
  const long long entries_first = entry_count(path);
  const int tmp_after_first = exists(tmp);
  MPI_Barrier(runtime.comm); /* every rank has read before the file is replaced */
  /* 2: a second key adds an entry */
  const pp_err second = pp_channel_library_write(&runtime, path, &key2, &bent.channel);
  const pp_err read_second = pp_channel_library_read(path, name2, &back2);
  const pp_err read_key2 = pp_channel_library_read_key(path, name2, &key2_back);
  const long long entries_second = entry_count(path);
  MPI_Barrier(runtime.comm);
  /* 3: the first key again replaces its entry and keeps the other */
  const pp_err third = pp_channel_library_write(&runtime, path, &key, &bent.channel);
  const pp_err read_replaced = pp_channel_library_read(path, name, &replaced);
  const pp_err read_kept = pp_channel_library_read(path, name2, &kept);
  const long long entries_third = entry_count(path);
  const int tmp_after_third = exists(tmp);
  /* 4: an entry that is not there, named with the ones that are */
  pp_channel missing;
  const pp_err read_missing = pp_channel_library_read(path, "nothing_d1um_v1mps_here_none", &missing);
  const int missing_lists = strstr(pp_error_message(), "nothing_d1um_v1mps_here_none") != NULL &&
                            strstr(pp_error_message(), name) != NULL && strstr(pp_error_message(), path) != NULL;
  MPI_Barrier(runtime.comm);
  /* 5: a folder that does not exist: an error on every rank naming the path, nothing written */
  pp_error_clear();
  const pp_err bad = pp_channel_library_write(&runtime, bad_path, &key, &plain.channel);
  const int bad_names_path = strstr(pp_error_message(), bad_path) != NULL;
  char bad_message[1024];
  snprintf(bad_message, sizeof bad_message, "%s", pp_error_message());
  /* 6: a file that is not a library is refused and left alone */
  pp_error_clear();
  const pp_err refused = pp_channel_library_write(&runtime, foreign, &key, &plain.channel);
  const int refused_names_path = strstr(pp_error_message(), foreign) != NULL;
  char refused_message[1024];
  snprintf(refused_message, sizeof refused_message, "%s", pp_error_message());
  char foreign_text[64] = "";
  FILE *in = fopen(foreign, "r");
  if (in) {
    if (!fgets(foreign_text, sizeof foreign_text, in)) foreign_text[0] = '\0';
    fclose(in);
  }
  char foreign_tmp[700];
  snprintf(foreign_tmp, sizeof foreign_tmp, "%s.tmp", foreign);
  const int foreign_tmp_left = exists(foreign_tmp);
  MPI_Barrier(runtime.comm);
  if (runtime.rank == 0)
    printf("channel library on %d ranks: entries '%s' and '%s'; bad path: %s; foreign file: %s\n", runtime.size, name,
           name2, bad_message, refused_message);

  ck_assert_str_eq(name, "dermaroller_d500um_v0.5mps_forearm_normal");
  ck_assert_str_eq(tilted_name, "dermaroller_d500um_v0.5mps_forearm_normal_tilt10deg");
  ck_assert_msg(strncmp(name2, "R2um-psi", 8) == 0 && strstr(name2, "_d1000um_v1.2mps_face_session2_tilt10deg"),
                "second name %s", name2);
  ck_assert_msg(first == PP_OK && second == PP_OK && third == PP_OK, "writes: %d %d %d", first, second, third);
  ck_assert_msg(read_first == PP_OK && read_key == PP_OK && read_second == PP_OK && read_key2 == PP_OK &&
                    read_replaced == PP_OK && read_kept == PP_OK,
                "reads: %d %d %d %d %d %d", read_first, read_key, read_second, read_key2, read_replaced, read_kept);
  ck_assert_msg(same_channel(&back, &plain.channel), "the first entry read back differs from what was written");
  ck_assert_msg(same_key(&key_back, &key), "the first key read back differs");
  ck_assert_msg(same_channel(&back2, &bent.channel) && same_key(&key2_back, &key2),
                "the second entry read back differs");
  ck_assert_msg(same_channel(&replaced, &bent.channel), "the replaced entry does not hold the new channel");
  ck_assert_msg(same_channel(&kept, &bent.channel) && !same_channel(&replaced, &plain.channel), "entries mixed up");
  ck_assert_msg(entries_first == 1 && entries_second == 2 && entries_third == 2, "entries: %lld, %lld, %lld",
                entries_first, entries_second, entries_third);
  ck_assert_msg(!tmp_after_first && !tmp_after_third, "a .tmp file was left behind");
  ck_assert_msg(read_missing == PP_ERR_IO && missing_lists, "missing entry: %d %s", read_missing, pp_error_message());
  ck_assert_msg(bad != PP_OK && bad_names_path, "bad path: code %d, message %s", bad, bad_message);
  ck_assert_msg(bad == (runtime.rank == 0 ? PP_ERR_HDF5 : PP_ERR_OTHER_RANK), "bad path: code %d", bad);
  ck_assert_msg(strstr(bad_message, "HDF5:") != NULL, "no HDF5 error text: %s", bad_message);
  ck_assert_msg(refused != PP_OK && refused_names_path, "foreign file: code %d, message %s", refused, refused_message);
  ck_assert_str_eq(foreign_text, "not an HDF5 file\n");
  ck_assert_msg(!foreign_tmp_left, "a .tmp file was left behind after a refusal");
  pp_error_clear();
  pp_channel_free(&back);
  pp_channel_free(&back2);
  pp_channel_free(&replaced);
  pp_channel_free(&kept);
  pp_channel_free(&plain.channel);
  pp_channel_free(&bent.channel);
  MPI_Barrier(runtime.comm);
  if (runtime.rank == 0) {
    unlink(path);
    unlink(foreign);
    rmdir(dir);
  }
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_runtime_start(&runtime, &argc, &argv) != PP_OK) {
    pp_error_print(stderr, "");
    return EXIT_FAILURE;
  }
  if (pp_config_init(&config) != PP_OK || pp_config_load_text(&config, "channel_case.yaml", case_text) != PP_OK ||
      pp_config_validate(&config) != PP_OK || pp_mesh_spec_from_config(&config, &spec) != PP_OK) {
    pp_error_print(stderr, "");
    pp_runtime_stop(&runtime);
    return EXIT_FAILURE;
  }
  Suite *suite = suite_create("channel");
  TCase *tc = tcase_create(runtime.size == 1 ? "serial" : "ranks");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_known_injury);
  tcase_add_test(tc, test_across_periodic_side);
  tcase_add_test(tc, test_same_bits);
  tcase_add_test(tc, test_eroded_in_reference);
  tcase_add_test(tc, test_errors_agreed);
  tcase_add_test(tc, test_library);
  suite_add_tcase(suite, tc);
  const int status = pp_test_run_mpi_suite(suite, runtime.comm);
  pp_config_free(&config);
  pp_runtime_stop(&runtime);
  return status;
}
