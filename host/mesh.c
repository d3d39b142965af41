#include "mesh.h"

#include "reduce.h"
#include "runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Samples per axis segment when integrating the element density 1/h(x): enough that the
 * node positions are converged far below round-off of any physical meaning, and cheap. */
enum { DENSITY_SAMPLES = 4096 };

static const char *const layer_names[PP_LAYER_COUNT] = {
  "stratum corneum", "viable epidermis", "papillary dermis", "reticular dermis", "hypodermis"};
static const char *const layer_stems[PP_LAYER_COUNT] = {
  "stratum_corneum", "viable_epidermis", "papillary_dermis", "reticular_dermis", "hypodermis"};

const char *pp_mesh_layer_name(int layer)
{
  return layer >= 0 && layer < PP_LAYER_COUNT ? layer_names[layer] : "unknown layer";
}

const char *pp_mesh_layer_key(int layer)
{
  return layer >= 0 && layer < PP_LAYER_COUNT ? layer_stems[layer] : "unknown_layer";
}

static pp_side_kind side_from_text(const char *text)
{
  if (!strcmp(text, "periodic")) return PP_SIDE_PERIODIC;
  if (!strcmp(text, "symmetric")) return PP_SIDE_SYMMETRIC;
  return PP_SIDE_FREE;
}

pp_err pp_mesh_spec_from_config(const pp_config *config, pp_mesh_spec *spec)
{
  memset(spec, 0, sizeof *spec);
  spec->length_x = pp_config_real(config, "mesh.length_x");
  spec->length_y = pp_config_real(config, "mesh.length_y");
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer) {
    char key[96];
    snprintf(key, sizeof key, "skin.%s.thickness", layer_stems[layer]);
    spec->layer_thickness[layer] = pp_config_real(config, key);
  }
  spec->side_x = side_from_text(pp_config_text(config, "mesh.side_x"));
  spec->side_y = side_from_text(pp_config_text(config, "mesh.side_y"));
  spec->refine_x = pp_config_real_list(config, "mesh.refine_x", &spec->refine_x_count);
  spec->refine_y = pp_config_real_list(config, "mesh.refine_y", &spec->refine_y_count);
  spec->lateral_fine_size = pp_config_real(config, "mesh.lateral_fine_size");
  spec->lateral_fine_radius = pp_config_real(config, "mesh.lateral_fine_radius");
  spec->lateral_growth = pp_config_real(config, "mesh.lateral_growth");
  spec->lateral_max_size = pp_config_real(config, "mesh.lateral_max_size");
  spec->surface_size = pp_config_real(config, "mesh.surface_size");
  spec->depth_growth = pp_config_real(config, "mesh.depth_growth");
  spec->depth_max_size = pp_config_real(config, "mesh.depth_max_size");
  spec->min_elements_per_layer = (int)pp_config_integer(config, "mesh.min_elements_per_layer");
  spec->dej_amplitude = pp_config_real(config, "mesh.dej_amplitude");
  spec->dej_wavelength = pp_config_real(config, "mesh.dej_wavelength");
  return PP_OK;
}

/* ---- graded axes ----------------------------------------------------------------------------- */

typedef struct {
  const double *refined;
  int refined_count;
  double length, fine_size, fine_radius, growth, max_size;
  int periodic;
} size_function;

/* Target element size at x: fine within fine_radius of a refined position, then growing by the
 * factor `growth` per element (h = h0 + (g - 1) d is exactly geometric growth), capped. */
static double target_size(const size_function *f, double x)
{
  if (f->refined_count == 0) return f->fine_size;
  double distance = INFINITY;
  for (int r = 0; r < f->refined_count; ++r) {
    double d = fabs(x - f->refined[r]);
    if (f->periodic && f->length - d < d) d = f->length - d;
    if (d < distance) distance = d;
  }
  double beyond = distance - f->fine_radius;
  double size = f->fine_size + (f->growth - 1.0) * (beyond > 0 ? beyond : 0);
  return size < f->max_size ? size : f->max_size;
}

/* Node positions over [a, b] with at least min_count elements, spaced so that each element
 * holds the same integral of 1/h: positions[0] = a, positions[n] = b exactly. */
static pp_err segment_positions(const size_function *f, double a, double b, int min_count, double **out, int *count)
{
  double cumulative[DENSITY_SAMPLES + 1];
  cumulative[0] = 0;
  double step = (b - a) / DENSITY_SAMPLES;
  double previous = 1.0 / target_size(f, a);
  for (int s = 1; s <= DENSITY_SAMPLES; ++s) {
    double density = 1.0 / target_size(f, a + s * step);
    cumulative[s] = cumulative[s - 1] + 0.5 * (previous + density) * step;
    previous = density;
  }
  double total = cumulative[DENSITY_SAMPLES];
  /* The small allowance keeps an exact integer count (a uniform segment) from gaining an element. */
  int n = (int)ceil(total - 1e-9);
  if (n < min_count) n = min_count;
  if (n < 1) n = 1;
  PP_CHECK(n < 10000000, PP_ERR_CONFIG, "mesh axis segment [%g, %g] m would need %d elements; "
           "coarsen mesh.*_size", a, b, n);
  double *positions = malloc((size_t)(n + 1) * sizeof *positions);
  PP_CHECK(positions, PP_ERR_MEMORY, "out of memory for a mesh axis");
  positions[0] = a;
  int sample = 0;
  for (int m = 1; m < n; ++m) {
    double target = total * m / n;
    while (sample < DENSITY_SAMPLES - 1 && cumulative[sample + 1] < target) ++sample;
    double span = cumulative[sample + 1] - cumulative[sample];
    double fraction = span > 0 ? (target - cumulative[sample]) / span : 0;
    positions[m] = a + (sample + fraction) * step;
  }
  positions[n] = b;
  *out = positions;
  *count = n;
  return PP_OK;
}

static int compare_double(const void *pa, const void *pb)
{
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* Concatenate segments [breaks[s], breaks[s+1]] into one axis. */
static pp_err axis_from_breaks(const size_function *f, const double *breaks, int break_count, int min_count,
                               pp_mesh_axis *axis, int record_segments)
{
  int total = 0;
  double *segments[64];
  int counts[64];
  PP_CHECK(break_count - 1 <= 64, PP_ERR_CONFIG, "at most 63 refined lines per axis, found %d", break_count - 2);
  for (int s = 0; s + 1 < break_count; ++s) {
    pp_err result = segment_positions(f, breaks[s], breaks[s + 1], min_count, &segments[s], &counts[s]);
    if (result != PP_OK) {
      for (int t = 0; t < s; ++t) free(segments[t]);
      return pp_error_trace(result, __FILE__, __LINE__, __func__);
    }
    total += counts[s];
  }
  axis->element_count = total;
  axis->position = malloc((size_t)(total + 1) * sizeof *axis->position);
  if (record_segments) axis->layer_first = malloc((size_t)break_count * sizeof *axis->layer_first);
  if (!axis->position || (record_segments && !axis->layer_first)) {
    for (int s = 0; s + 1 < break_count; ++s) free(segments[s]);
    PP_RAISE(PP_ERR_MEMORY, "out of memory for a mesh axis");
  }
  int at = 0;
  for (int s = 0; s + 1 < break_count; ++s) {
    if (record_segments) axis->layer_first[s] = at;
    memcpy(axis->position + at, segments[s], (size_t)counts[s] * sizeof(double));
    at += counts[s];
    free(segments[s]);
  }
  axis->position[total] = breaks[break_count - 1];
  if (record_segments) axis->layer_first[break_count - 1] = total;
  return PP_OK;
}

pp_err pp_mesh_axis_build(double length, const double *refined, int refined_count, double fine_size,
                          double fine_radius, double growth, double max_size, int periodic, pp_mesh_axis *axis)
{
  memset(axis, 0, sizeof *axis);
  PP_CHECK(refined_count <= 62, PP_ERR_CONFIG, "at most 62 refined lines per axis, found %d", refined_count);
  double breaks[64];
  int break_count = 0;
  breaks[break_count++] = 0;
  double sorted[62];
  if (refined_count > 0) memcpy(sorted, refined, (size_t)refined_count * sizeof(double));
  qsort(sorted, (size_t)refined_count, sizeof(double), compare_double);
  for (int r = 0; r < refined_count; ++r)
    if (sorted[r] > breaks[break_count - 1] && sorted[r] < length) breaks[break_count++] = sorted[r];
  breaks[break_count++] = length;
  size_function f = {sorted, refined_count, length, fine_size, fine_radius, growth, max_size, periodic};
  PP_CALL(axis_from_breaks(&f, breaks, break_count, 1, axis, 0));
  return PP_OK;
}

/* ---- validation ------------------------------------------------------------------------------ */

static pp_err validate_spec(const pp_mesh_spec *spec)
{
  PP_CHECK(spec->lateral_max_size >= spec->lateral_fine_size, PP_ERR_CONFIG,
           "mesh.lateral_max_size (%g m) must be at least mesh.lateral_fine_size (%g m)",
           spec->lateral_max_size, spec->lateral_fine_size);
  PP_CHECK(spec->depth_max_size >= spec->surface_size, PP_ERR_CONFIG,
           "mesh.depth_max_size (%g m) must be at least mesh.surface_size (%g m)", spec->depth_max_size,
           spec->surface_size);
  for (int r = 0; r < spec->refine_x_count; ++r)
    PP_CHECK(spec->refine_x[r] >= 0 && spec->refine_x[r] <= spec->length_x, PP_ERR_CONFIG,
             "mesh.refine_x[%d] = %g m lies outside the block [0, mesh.length_x = %g m]", r, spec->refine_x[r],
             spec->length_x);
  for (int r = 0; r < spec->refine_y_count; ++r)
    PP_CHECK(spec->refine_y[r] >= 0 && spec->refine_y[r] <= spec->length_y, PP_ERR_CONFIG,
             "mesh.refine_y[%d] = %g m lies outside the block [0, mesh.length_y = %g m]", r, spec->refine_y[r],
             spec->length_y);
  if (spec->dej_amplitude > 0) {
    double half = 0.5 * spec->dej_amplitude;
    /* The junction moves by up to half the amplitude; the nodes between it and the layer
     * boundaries above and below follow linearly, which keeps them in order only if the move
     * is smaller than both neighbouring layers. */
    PP_CHECK(half < 0.9 * spec->layer_thickness[1] && half < 0.9 * spec->layer_thickness[2], PP_ERR_CONFIG,
             "mesh.dej_amplitude (%g m) is too large: half of it must stay below 90%% of both "
             "skin.viable_epidermis.thickness (%g m) and skin.papillary_dermis.thickness (%g m)",
             spec->dej_amplitude, spec->layer_thickness[1], spec->layer_thickness[2]);
    const double lengths[2] = {spec->length_x, spec->length_y};
    const pp_side_kind sides[2] = {spec->side_x, spec->side_y};
    for (int d = 0; d < 2; ++d) {
      double waves = lengths[d] / spec->dej_wavelength;
      PP_CHECK(sides[d] != PP_SIDE_PERIODIC || fabs(waves - round(waves)) < 1e-9 * waves, PP_ERR_CONFIG,
               "with periodic sides, mesh.length_%c (%g m) must be a whole number of "
               "mesh.dej_wavelength (%g m); it is %.6g wavelengths", "xy"[d], lengths[d], spec->dej_wavelength,
               waves);
    }
  }
  return PP_OK;
}

/* ---- local sets -------------------------------------------------------------------------------- */

static int compare_long(const void *pa, const void *pb)
{
  long a = *(const long *)pa, b = *(const long *)pb;
  return (a > b) - (a < b);
}

static int sort_unique(long *values, int count)
{
  qsort(values, (size_t)count, sizeof *values, compare_long);
  int unique = 0;
  for (int i = 0; i < count; ++i)
    if (unique == 0 || values[i] != values[unique - 1]) values[unique++] = values[i];
  return unique;
}

/* Element columns that touch node columns [first, end): i - 1 and i for each i. */
static int present_element_columns(long first, long end, long element_count, int periodic, long *out)
{
  int count = 0;
  for (long i = first - 1; i < end; ++i) {
    long e = i;
    if (periodic) e = ((e % element_count) + element_count) % element_count;
    else if (e < 0 || e >= element_count) continue;
    out[count++] = e;
  }
  return sort_unique(out, count);
}

static int axis_periodic(const pp_mesh *mesh, int direction)
{
  return (direction == 0 ? mesh->spec.side_x : mesh->spec.side_y) == PP_SIDE_PERIODIC;
}

static void present_node_columns(const pp_mesh *mesh, int direction, long owned_first, long owned_end,
                             long *columns, int *count)
{
  int periodic = axis_periodic(mesh, direction);
  long elements = direction == 0 ? mesh->axis_x.element_count : mesh->axis_y.element_count;
  long node_columns = direction == 0 ? mesh->node_columns_x : mesh->node_columns_y;
  long element_columns[(owned_end - owned_first) + 2];
  int element_count = present_element_columns(owned_first, owned_end, elements, periodic, element_columns);
  long nodes[2 * element_count + 1];
  int n = 0;
  for (int e = 0; e < element_count; ++e) {
    nodes[n++] = element_columns[e];
    nodes[n++] = periodic ? (element_columns[e] + 1) % node_columns : element_columns[e] + 1;
  }
  n = sort_unique(nodes, n);
  memcpy(columns, nodes, (size_t)n * sizeof *columns);
  *count = n;
}

long long pp_mesh_node_id(const pp_mesh *mesh, long i, long j, int k)
{
  return ((long long)j * mesh->node_columns_x + i) * mesh->node_layers + k;
}

static long long element_id_of(const pp_mesh *mesh, long i, long j, int k)
{
  return ((long long)j * mesh->axis_x.element_count + i) * mesh->axis_z.element_count + k;
}

static int column_owner(const pp_mesh *mesh, long i, long j)
{
  return pp_partition_rank_at(&mesh->grid, pp_partition_owner(mesh->node_columns_x, mesh->grid.ranks_x, i),
                              pp_partition_owner(mesh->node_columns_y, mesh->grid.ranks_y, j));
}

/* Depth offset of the dermal-epidermal junction undulation at reference depth `depth`. */
static double junction_offset(const pp_mesh_spec *spec, double x, double y, double depth)
{
  if (spec->dej_amplitude <= 0) return 0;
  double top = spec->layer_thickness[0];
  double junction = top + spec->layer_thickness[1];
  double bottom = junction + spec->layer_thickness[2];
  double weight = 0;
  if (depth > top && depth <= junction) weight = (depth - top) / spec->layer_thickness[1];
  else if (depth > junction && depth < bottom) weight = (bottom - depth) / spec->layer_thickness[2];
  const double two_pi = 6.283185307179586476925286766559;
  return 0.5 * spec->dej_amplitude * weight * cos(two_pi * x / spec->dej_wavelength) *
         cos(two_pi * y / spec->dej_wavelength);
}

typedef struct {
  long *columns_x, *columns_y;  /* present node columns */
  int count_x, count_y;
  long *elements_x, *elements_y; /* present element columns */
  int element_count_x, element_count_y;
  int *node_slot_x, *node_slot_y;       /* column -> position in columns_*, -1 absent */
  int *element_slot_x, *element_slot_y; /* element column -> position, -1 absent */
  int *node_local;     /* (slot_y * count_x + slot_x) * NZ + k -> local node index */
  int *element_local;  /* (slot_y * ecount_x + slot_x) * EZ + k -> local element index */
} local_sets;

static void free_sets(local_sets *s)
{
  free(s->columns_x); free(s->columns_y); free(s->elements_x); free(s->elements_y);
  free(s->node_slot_x); free(s->node_slot_y); free(s->element_slot_x); free(s->element_slot_y);
  free(s->node_local); free(s->element_local);
}

static int owns_column(long first, long end, long column) { return column >= first && column < end; }

static pp_err build_nodes(pp_mesh *mesh, local_sets *s)
{
  int NZ = mesh->node_layers;
  mesh->node_count = s->count_x * s->count_y * NZ;
  long owned_columns = (mesh->owned_x_end - mesh->owned_x_first) * (mesh->owned_y_end - mesh->owned_y_first);
  mesh->owned_node_count = (int)(owned_columns * NZ);
  PP_MALLOC(mesh->node_global_id, mesh->node_count, "node ids");
  PP_MALLOC(mesh->node_coords, 3 * (size_t)mesh->node_count, "node coordinates");
  PP_MALLOC(mesh->node_owner, mesh->node_count, "node owners");
  PP_MALLOC(mesh->node_boundary, mesh->node_count, "node boundary flags");
  PP_MALLOC(s->node_local, mesh->node_count, "node index map");
  int owned_at = 0, ghost_at = mesh->owned_node_count;
  int periodic_x = axis_periodic(mesh, 0), periodic_y = axis_periodic(mesh, 1);
  for (int sy = 0; sy < s->count_y; ++sy) {
    long j = s->columns_y[sy];
    for (int sx = 0; sx < s->count_x; ++sx) {
      long i = s->columns_x[sx];
      int owned = owns_column(mesh->owned_x_first, mesh->owned_x_end, i) &&
                  owns_column(mesh->owned_y_first, mesh->owned_y_end, j);
      int owner = owned ? mesh->rank : column_owner(mesh, i, j);
      double x = mesh->axis_x.position[i], y = mesh->axis_y.position[j];
      for (int k = 0; k < NZ; ++k) {
        int local = owned ? owned_at++ : ghost_at++;
        s->node_local[((long)sy * s->count_x + sx) * NZ + k] = local;
        mesh->node_global_id[local] = pp_mesh_node_id(mesh, i, j, k);
        double depth = mesh->axis_z.position[k];
        mesh->node_coords[3 * local + 0] = x;
        mesh->node_coords[3 * local + 1] = y;
        mesh->node_coords[3 * local + 2] = -(depth + junction_offset(&mesh->spec, x, y, depth));
        mesh->node_owner[local] = owner;
        unsigned char flags = 0;
        if (k == 0) flags |= PP_NODE_SURFACE;
        if (k == NZ - 1) flags |= PP_NODE_BASE;
        if (!periodic_x && i == 0) flags |= PP_NODE_X_MIN;
        if (!periodic_x && i == mesh->node_columns_x - 1) flags |= PP_NODE_X_MAX;
        if (!periodic_y && j == 0) flags |= PP_NODE_Y_MIN;
        if (!periodic_y && j == mesh->node_columns_y - 1) flags |= PP_NODE_Y_MAX;
        mesh->node_boundary[local] = flags;
      }
    }
  }
  return PP_OK;
}

static int layer_of_element(const pp_mesh *mesh, int k)
{
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer)
    if (k < mesh->axis_z.layer_first[layer + 1]) return layer;
  return PP_LAYER_COUNT - 1;
}

/* Local node index of node column (i, j) at depth k; i, j already wrapped. */
static int node_at(const pp_mesh *mesh, const local_sets *s, long i, long j, int k)
{
  int sx = s->node_slot_x[i], sy = s->node_slot_y[j];
  if (sx < 0 || sy < 0) return -1;
  return s->node_local[((long)sy * s->count_x + sx) * mesh->node_layers + k];
}

static pp_err build_elements(pp_mesh *mesh, local_sets *s)
{
  int EZ = mesh->axis_z.element_count;
  mesh->element_count = s->element_count_x * s->element_count_y * EZ;
  long owned_x = 0, owned_y = 0;
  for (int e = 0; e < s->element_count_x; ++e)
    owned_x += owns_column(mesh->owned_x_first, mesh->owned_x_end, s->elements_x[e]);
  for (int e = 0; e < s->element_count_y; ++e)
    owned_y += owns_column(mesh->owned_y_first, mesh->owned_y_end, s->elements_y[e]);
  mesh->owned_element_count = (int)(owned_x * owned_y * EZ);
  PP_MALLOC(mesh->element_global_id, mesh->element_count, "element ids");
  PP_MALLOC(mesh->element_nodes, 8 * (size_t)mesh->element_count, "element connectivity");
  PP_MALLOC(mesh->element_layer, mesh->element_count, "element layers");
  PP_MALLOC(mesh->element_corner_coords, 24 * (size_t)mesh->element_count, "element reference corners");
  PP_MALLOC(s->element_local, mesh->element_count, "element index map");
  static const int corner_di[4] = {0, 1, 1, 0}, corner_dj[4] = {0, 0, 1, 1};
  int owned_at = 0, ghost_at = mesh->owned_element_count;
  for (int sy = 0; sy < s->element_count_y; ++sy) {
    long ej = s->elements_y[sy];
    for (int sx = 0; sx < s->element_count_x; ++sx) {
      long ei = s->elements_x[sx];
      int owned = owns_column(mesh->owned_x_first, mesh->owned_x_end, ei) &&
                  owns_column(mesh->owned_y_first, mesh->owned_y_end, ej);
      for (int k = 0; k < EZ; ++k) {
        int local = owned ? owned_at++ : ghost_at++;
        s->element_local[((long)sy * s->element_count_x + sx) * EZ + k] = local;
        mesh->element_global_id[local] = element_id_of(mesh, ei, ej, k);
        mesh->element_layer[local] = (unsigned char)layer_of_element(mesh, k);
        for (int corner = 0; corner < 8; ++corner) {
          int dk = corner < 4 ? 1 : 0; /* corners 0-3: the deeper face */
          long i = ei + corner_di[corner & 3], j = ej + corner_dj[corner & 3];
          double shift_x = 0, shift_y = 0;
          if (i == mesh->node_columns_x) { i = 0; shift_x = mesh->spec.length_x; } /* periodic wrap */
          if (j == mesh->node_columns_y) { j = 0; shift_y = mesh->spec.length_y; }
          int node = node_at(mesh, s, i, j, k + dk);
          PP_CHECK(node >= 0, PP_ERR_ARGUMENT, "mesh generator: corner node (%ld, %ld, %d) of element (%ld, %ld, %d) "
                   "is not present on rank %d (bug)", i, j, k + dk, ei, ej, k, mesh->rank);
          mesh->element_nodes[8 * local + corner] = node;
          double *xyz = mesh->element_corner_coords + 24 * (size_t)local + 3 * corner;
          xyz[0] = mesh->node_coords[3 * node + 0] + shift_x;
          xyz[1] = mesh->node_coords[3 * node + 1] + shift_y;
          xyz[2] = mesh->node_coords[3 * node + 2];
        }
      }
    }
  }
  return PP_OK;
}

typedef struct {
  long long element_id;
  int entry;
} csr_item;

static int compare_csr_item(const void *pa, const void *pb)
{
  long long a = ((const csr_item *)pa)->element_id, b = ((const csr_item *)pb)->element_id;
  return (a > b) - (a < b);
}

static pp_err build_node_elements(pp_mesh *mesh, local_sets *s)
{
  long EX = mesh->axis_x.element_count, EY = mesh->axis_y.element_count;
  int EZ = mesh->axis_z.element_count, NZ = mesh->node_layers;
  int periodic_x = axis_periodic(mesh, 0), periodic_y = axis_periodic(mesh, 1);
  PP_MALLOC(mesh->node_element_offset, (size_t)mesh->owned_node_count + 1, "node-element offsets");
  PP_MALLOC(mesh->node_element_entry, 8 * (size_t)mesh->owned_element_count + 8 * (size_t)mesh->owned_node_count,
            "node-element entries");
  int at = 0;
  for (int node = 0; node < mesh->owned_node_count; ++node) {
    long long id = mesh->node_global_id[node];
    int k = (int)(id % NZ);
    long column = (long)(id / NZ);
    long i = column % mesh->node_columns_x, j = column / mesh->node_columns_x;
    csr_item items[8];
    int n = 0;
    for (int dj = 0; dj < 2; ++dj) {
      long ej = j - 1 + dj;
      if (periodic_y) ej = (ej + EY) % EY;
      else if (ej < 0 || ej >= EY) continue;
      for (int di = 0; di < 2; ++di) {
        long ei = i - 1 + di;
        if (periodic_x) ei = (ei + EX) % EX;
        else if (ei < 0 || ei >= EX) continue;
        for (int dk = 0; dk < 2; ++dk) {
          int ek = k - 1 + dk;
          if (ek < 0 || ek >= EZ) continue;
          /* The node is corner (1 - di, 1 - dj) of the element's quad; deeper face when dk = 0. */
          int right = 1 - di, back = 1 - dj;
          int quad = back ? (right ? 2 : 3) : (right ? 1 : 0);
          int corner = (dk == 0 ? 0 : 4) + quad;
          int sx = s->element_slot_x[ei], sy = s->element_slot_y[ej];
          PP_CHECK(sx >= 0 && sy >= 0, PP_ERR_ARGUMENT, "mesh generator: element (%ld, %ld, %d) at owned node "
                   "%lld missing on rank %d (bug)", ei, ej, ek, id, mesh->rank);
          int element = s->element_local[((long)sy * s->element_count_x + sx) * EZ + ek];
          PP_CHECK(mesh->element_nodes[8 * element + corner] == node, PP_ERR_ARGUMENT,
                   "mesh generator: corner %d of element %lld is not node %lld (bug)", corner,
                   mesh->element_global_id[element], id);
          items[n].element_id = mesh->element_global_id[element];
          items[n].entry = 8 * element + corner;
          ++n;
        }
      }
    }
    qsort(items, (size_t)n, sizeof items[0], compare_csr_item);
    mesh->node_element_offset[node] = at;
    for (int m = 0; m < n; ++m) mesh->node_element_entry[at++] = items[m].entry;
  }
  mesh->node_element_offset[mesh->owned_node_count] = at;
  return PP_OK;
}

static pp_err build_slots(long count, const long *values, int value_count, int **slots, const char *what)
{
  PP_MALLOC(*slots, count, what);
  for (long c = 0; c < count; ++c) (*slots)[c] = -1;
  for (int v = 0; v < value_count; ++v) (*slots)[values[v]] = v;
  return PP_OK;
}

/* Axes and global counts only: what `check` reports and every rank shares. */
static pp_err plan(const pp_mesh_spec *spec, pp_mesh *mesh)
{
  PP_CALL(validate_spec(spec));
  mesh->spec = *spec;
  mesh->spec.refine_x = mesh->spec.refine_y = NULL;
  PP_CALL(pp_mesh_axis_build(spec->length_x, spec->refine_x, spec->refine_x_count, spec->lateral_fine_size,
                             spec->lateral_fine_radius, spec->lateral_growth, spec->lateral_max_size,
                             spec->side_x == PP_SIDE_PERIODIC, &mesh->axis_x));
  PP_CALL(pp_mesh_axis_build(spec->length_y, spec->refine_y, spec->refine_y_count, spec->lateral_fine_size,
                             spec->lateral_fine_radius, spec->lateral_growth, spec->lateral_max_size,
                             spec->side_y == PP_SIDE_PERIODIC, &mesh->axis_y));
  /* Depth: one segment per layer, refined towards the surface. */
  double breaks[PP_LAYER_COUNT + 1];
  breaks[0] = 0;
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer) breaks[layer + 1] = breaks[layer] + spec->layer_thickness[layer];
  const double surface = 0;
  size_function depth = {&surface, 1, breaks[PP_LAYER_COUNT], spec->surface_size, 0, spec->depth_growth,
                         spec->depth_max_size, 0};
  PP_CALL(axis_from_breaks(&depth, breaks, PP_LAYER_COUNT + 1, spec->min_elements_per_layer, &mesh->axis_z, 1));

  int periodic_x = spec->side_x == PP_SIDE_PERIODIC, periodic_y = spec->side_y == PP_SIDE_PERIODIC;
  PP_CHECK(!periodic_x || mesh->axis_x.element_count >= 2, PP_ERR_CONFIG,
           "a periodic x side needs at least 2 elements across mesh.length_x; refine mesh.lateral_*_size");
  PP_CHECK(!periodic_y || mesh->axis_y.element_count >= 2, PP_ERR_CONFIG,
           "a periodic y side needs at least 2 elements across mesh.length_y; refine mesh.lateral_*_size");
  mesh->node_columns_x = mesh->axis_x.element_count + (periodic_x ? 0 : 1);
  mesh->node_columns_y = mesh->axis_y.element_count + (periodic_y ? 0 : 1);
  mesh->node_layers = mesh->axis_z.element_count + 1;
  mesh->global_node_count = (long long)mesh->node_columns_x * mesh->node_columns_y * mesh->node_layers;
  mesh->global_element_count =
    (long long)mesh->axis_x.element_count * mesh->axis_y.element_count * mesh->axis_z.element_count;

  return PP_OK;
}

pp_err pp_mesh_plan(const pp_mesh_spec *spec, pp_mesh *mesh)
{
  memset(mesh, 0, sizeof *mesh);
  pp_err result = plan(spec, mesh);
  if (result != PP_OK) {
    pp_mesh_free(mesh);
    return pp_error_trace(result, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}

static pp_err generate(const pp_mesh_spec *spec, int rank, int rank_count, pp_mesh *mesh, local_sets *s)
{
  PP_CALL(plan(spec, mesh));
  mesh->rank = rank;
  mesh->rank_count = rank_count;
  int periodic_x = spec->side_x == PP_SIDE_PERIODIC, periodic_y = spec->side_y == PP_SIDE_PERIODIC;
  PP_CALL(pp_partition_grid(mesh->node_columns_x, mesh->node_columns_y, rank_count, &mesh->grid));
  int px, py;
  pp_partition_rank_position(&mesh->grid, rank, &px, &py);
  pp_partition_range(mesh->node_columns_x, mesh->grid.ranks_x, px, &mesh->owned_x_first, &mesh->owned_x_end);
  pp_partition_range(mesh->node_columns_y, mesh->grid.ranks_y, py, &mesh->owned_y_first, &mesh->owned_y_end);

  long owned_x = mesh->owned_x_end - mesh->owned_x_first, owned_y = mesh->owned_y_end - mesh->owned_y_first;
  PP_MALLOC(s->columns_x, owned_x + 3, "node columns");
  PP_MALLOC(s->columns_y, owned_y + 3, "node columns");
  PP_MALLOC(s->elements_x, owned_x + 2, "element columns");
  PP_MALLOC(s->elements_y, owned_y + 2, "element columns");
  present_node_columns(mesh, 0, mesh->owned_x_first, mesh->owned_x_end, s->columns_x, &s->count_x);
  present_node_columns(mesh, 1, mesh->owned_y_first, mesh->owned_y_end, s->columns_y, &s->count_y);
  s->element_count_x = present_element_columns(mesh->owned_x_first, mesh->owned_x_end, mesh->axis_x.element_count,
                                                periodic_x, s->elements_x);
  s->element_count_y = present_element_columns(mesh->owned_y_first, mesh->owned_y_end, mesh->axis_y.element_count,
                                                periodic_y, s->elements_y);
  PP_CALL(build_slots(mesh->node_columns_x, s->columns_x, s->count_x, &s->node_slot_x, "column map"));
  PP_CALL(build_slots(mesh->node_columns_y, s->columns_y, s->count_y, &s->node_slot_y, "column map"));
  PP_CALL(build_slots(mesh->axis_x.element_count, s->elements_x, s->element_count_x, &s->element_slot_x, "column map"));
  PP_CALL(build_slots(mesh->axis_y.element_count, s->elements_y, s->element_count_y, &s->element_slot_y, "column map"));

  PP_CALL(build_nodes(mesh, s));
  PP_CALL(build_elements(mesh, s));
  PP_CALL(build_node_elements(mesh, s));
  return PP_OK;
}

pp_err pp_mesh_generate(const pp_mesh_spec *spec, int rank, int rank_count, pp_mesh *mesh)
{
  memset(mesh, 0, sizeof *mesh);
  PP_CHECK(rank >= 0 && rank < rank_count, PP_ERR_ARGUMENT, "rank %d outside [0, %d)", rank, rank_count);
  local_sets sets;
  memset(&sets, 0, sizeof sets);
  pp_err result = generate(spec, rank, rank_count, mesh, &sets);
  free_sets(&sets);
  if (result != PP_OK) {
    pp_mesh_free(mesh);
    return pp_error_trace(result, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}

void pp_mesh_free(pp_mesh *mesh)
{
  free(mesh->axis_x.position); free(mesh->axis_y.position); free(mesh->axis_z.position);
  free(mesh->axis_x.layer_first); free(mesh->axis_y.layer_first); free(mesh->axis_z.layer_first);
  free(mesh->node_global_id); free(mesh->node_coords); free(mesh->node_owner); free(mesh->node_boundary);
  free(mesh->element_global_id); free(mesh->element_nodes); free(mesh->element_layer);
  free(mesh->element_corner_coords); free(mesh->node_element_offset); free(mesh->node_element_entry);
  free(mesh->output_cell_nodes); free(mesh->output_cell_layer);
  free(mesh->output_node_ids); free(mesh->output_node_coords); free(mesh->output_node_local);
  memset(mesh, 0, sizeof *mesh);
}

/* Output numbering: periodic faces are written twice (columns 0..E in each periodic direction),
 * so ParaView draws the block as a block instead of cells stretched across it; non-periodic
 * directions keep the mesh's own numbering. Output id (i, j, k) = (j * (E_x + 1) + i) * NZ + k
 * in a periodic x direction, with N_x columns otherwise. */
static long output_columns(const pp_mesh *mesh, int direction)
{
  int periodic = (direction == 0 ? mesh->spec.side_x : mesh->spec.side_y) == PP_SIDE_PERIODIC;
  long nodes = direction == 0 ? mesh->node_columns_x : mesh->node_columns_y;
  return periodic ? nodes + 1 : nodes;
}

static long long output_node_id(const pp_mesh *mesh, long i, long j, int k)
{
  return ((long long)j * output_columns(mesh, 0) + i) * mesh->node_layers + k;
}

int pp_mesh_local_node(const pp_mesh *mesh, long long id)
{
  int parts[2][2] = {{0, mesh->owned_node_count}, {mesh->owned_node_count, mesh->node_count}};
  for (int p = 0; p < 2; ++p) {
    int low = parts[p][0], high = parts[p][1];
    while (low < high) {
      int middle = low + (high - low) / 2;
      if (mesh->node_global_id[middle] < id) low = middle + 1;
      else high = middle;
    }
    if (low < parts[p][1] && mesh->node_global_id[low] == id) return low;
  }
  return -1;
}

static pp_err build_output(pp_mesh *mesh)
{
  if (mesh->imported) {
    /* No periodic sides: the output numbering is the file's; owned nodes are written as they are. */
    size_t owned = (size_t)mesh->owned_node_count;
    mesh->output_node_count = mesh->owned_node_count;
    PP_MALLOC(mesh->output_node_ids, owned + 1, "output node ids");
    PP_MALLOC(mesh->output_node_coords, 3 * owned + 1, "output node coordinates");
    PP_MALLOC(mesh->output_node_local, owned + 1, "output node map");
    for (size_t n = 0; n < owned; ++n) {
      mesh->output_node_ids[n] = mesh->node_global_id[n];
      mesh->output_node_local[n] = (int)n;
      memcpy(mesh->output_node_coords + 3 * n, mesh->node_coords + 3 * n, 3 * sizeof(double));
    }
    size_t cells = mesh->owned_element_count > 0 ? (size_t)mesh->owned_element_count : 0;
    PP_MALLOC(mesh->output_cell_nodes, 8 * cells + 1, "output connectivity");
    PP_MALLOC(mesh->output_cell_layer, cells + 1, "output layers");
    for (size_t e = 0; e < cells; ++e) {
      for (int c = 0; c < 8; ++c)
        mesh->output_cell_nodes[8 * e + c] = mesh->node_global_id[mesh->element_nodes[8 * e + c]];
      mesh->output_cell_layer[e] = mesh->element_layer[e];
    }
    return PP_OK;
  }
  /* The duplicated far column belongs to the rank owning the last column of the direction. */
  long end_x = mesh->owned_x_end + (output_columns(mesh, 0) > mesh->node_columns_x && mesh->owned_x_end == mesh->node_columns_x);
  long end_y = mesh->owned_y_end + (output_columns(mesh, 1) > mesh->node_columns_y && mesh->owned_y_end == mesh->node_columns_y);
  int NZ = mesh->node_layers;
  size_t count = (size_t)(end_x - mesh->owned_x_first) * (size_t)(end_y - mesh->owned_y_first) * (size_t)NZ;
  PP_CHECK(count < (size_t)1 << 31, PP_ERR_ARGUMENT, "rank %d would write %zu output nodes; use more ranks",
           mesh->rank, count);
  mesh->output_node_count = (int)count;
  PP_MALLOC(mesh->output_node_ids, count + 1, "output node ids");
  PP_MALLOC(mesh->output_node_coords, 3 * count + 1, "output node coordinates");
  PP_MALLOC(mesh->output_node_local, count + 1, "output node map");
  size_t at = 0;
  for (long j = mesh->owned_y_first; j < end_y; ++j)
    for (long i = mesh->owned_x_first; i < end_x; ++i)
      for (int k = 0; k < NZ; ++k, ++at) {
        long canonical_i = i % mesh->node_columns_x, canonical_j = j % mesh->node_columns_y;
        int local = pp_mesh_local_node(mesh, pp_mesh_node_id(mesh, canonical_i, canonical_j, k));
        PP_CHECK(local >= 0, PP_ERR_ARGUMENT, "output: node (%ld, %ld, %d) not on rank %d (bug)", i, j, k, mesh->rank);
        mesh->output_node_ids[at] = output_node_id(mesh, i, j, k);
        mesh->output_node_local[at] = local;
        mesh->output_node_coords[3 * at + 0] = mesh->node_coords[3 * local + 0] + (i != canonical_i ? mesh->spec.length_x : 0);
        mesh->output_node_coords[3 * at + 1] = mesh->node_coords[3 * local + 1] + (j != canonical_j ? mesh->spec.length_y : 0);
        mesh->output_node_coords[3 * at + 2] = mesh->node_coords[3 * local + 2];
      }
  static const int corner_di[4] = {0, 1, 1, 0}, corner_dj[4] = {0, 0, 1, 1};
  size_t cells = mesh->owned_element_count > 0 ? (size_t)mesh->owned_element_count : 0;
  PP_MALLOC(mesh->output_cell_nodes, 8 * cells + 1, "output connectivity");
  PP_MALLOC(mesh->output_cell_layer, cells + 1, "output layers");
  long EX = mesh->axis_x.element_count;
  int EZ = mesh->axis_z.element_count;
  for (int e = 0; e < mesh->owned_element_count; ++e) {
    long long id = mesh->element_global_id[e];
    int ek = (int)(id % EZ);
    long column = (long)(id / EZ), ei = column % EX, ej = column / EX;
    for (int c = 0; c < 8; ++c)
      mesh->output_cell_nodes[8 * (size_t)e + c] =
        output_node_id(mesh, ei + corner_di[c & 3], ej + corner_dj[c & 3], ek + (c < 4 ? 1 : 0));
    mesh->output_cell_layer[e] = mesh->element_layer[e];
  }
  return PP_OK;
}

pp_err pp_mesh_io_view(pp_mesh *mesh, pp_io_mesh *view)
{
  if (!mesh->output_node_ids) PP_CALL(build_output(mesh));
  view->global_node_count = mesh->imported ? mesh->global_node_count
                                           : (long long)output_columns(mesh, 0) * output_columns(mesh, 1) * mesh->node_layers;
  view->global_cell_count = mesh->global_element_count;
  view->owned_node_count = mesh->output_node_count;
  view->owned_node_ids = mesh->output_node_ids;
  view->owned_node_coords = mesh->output_node_coords;
  view->owned_cell_count = mesh->owned_element_count;
  view->owned_cell_ids = mesh->element_global_id;
  view->owned_cell_nodes = mesh->output_cell_nodes;
  view->owned_cell_layer = mesh->output_cell_layer;
  return PP_OK;
}

pp_err pp_mesh_output_node_values(pp_mesh *mesh, const double *local_values, int components, double *output_values)
{
  if (!mesh->output_node_ids) PP_CALL(build_output(mesh));
  for (int n = 0; n < mesh->output_node_count; ++n)
    for (int c = 0; c < components; ++c)
      output_values[(size_t)n * components + c] = local_values[(size_t)mesh->output_node_local[n] * components + c];
  return PP_OK;
}

pp_err pp_mesh_local_from_output(pp_mesh *mesh, const double *output_values, int components, double *local_values)
{
  if (!mesh->output_node_ids) PP_CALL(build_output(mesh));
  long OX = mesh->imported ? 0 : output_columns(mesh, 0);
  int taken = 0;
  for (int n = 0; n < mesh->output_node_count; ++n) {
    int local = mesh->output_node_local[n];
    if (local >= mesh->owned_node_count) continue; /* a ghost's duplicate: its owner restores it */
    if (!mesh->imported) {
      /* Output id = (j * OX + i) * NZ + k; the canonical copy has i < NX and j < NY. */
      long long column = mesh->output_node_ids[n] / mesh->node_layers;
      long i = (long)(column % OX), j = (long)(column / OX);
      if (i >= mesh->node_columns_x || j >= mesh->node_columns_y) continue;
    }
    for (int c = 0; c < components; ++c)
      local_values[(size_t)local * components + c] = output_values[(size_t)n * components + c];
    ++taken;
  }
  PP_CHECK(taken == mesh->owned_node_count, PP_ERR_ARGUMENT,
           "rank %d: %d of its %d owned nodes found in the output view (bug)", mesh->rank, taken,
           mesh->owned_node_count);
  return PP_OK;
}

void pp_mesh_print_summary(const pp_mesh *mesh, const char *prefix, FILE *out)
{
  const pp_mesh_axis *axes[3] = {&mesh->axis_x, &mesh->axis_y, &mesh->axis_z};
  fprintf(out, "%smesh: %lld hex8 elements (%d x %d x %d), %lld nodes; sides x %s, y %s\n", prefix,
          mesh->global_element_count, mesh->axis_x.element_count, mesh->axis_y.element_count,
          mesh->axis_z.element_count, mesh->global_node_count,
          mesh->spec.side_x == PP_SIDE_PERIODIC ? "periodic" : mesh->spec.side_x == PP_SIDE_SYMMETRIC ? "symmetric" : "free",
          mesh->spec.side_y == PP_SIDE_PERIODIC ? "periodic" : mesh->spec.side_y == PP_SIDE_SYMMETRIC ? "symmetric" : "free");
  for (int a = 0; a < 3; ++a) {
    double smallest = INFINITY, largest = 0;
    for (int i = 0; i < axes[a]->element_count; ++i) {
      double h = axes[a]->position[i + 1] - axes[a]->position[i];
      smallest = h < smallest ? h : smallest;
      largest = h > largest ? h : largest;
    }
    fprintf(out, "%smesh: %c element size %.3g um to %.3g um\n", prefix, "xyz"[a], smallest * 1e6, largest * 1e6);
  }
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer)
    fprintf(out, "%smesh: layer %d (%s): %d element layers, %.4g um\n", prefix, layer, pp_mesh_layer_name(layer),
            mesh->axis_z.layer_first[layer + 1] - mesh->axis_z.layer_first[layer],
            mesh->spec.layer_thickness[layer] * 1e6);
}

pp_err pp_mesh_layer_volumes(const pp_mesh *mesh, MPI_Comm comm, double volumes[PP_LAYER_COUNT])
{
  double *layer_values = malloc(((size_t)mesh->owned_element_count + 1) * sizeof *layer_values);
  /* Agree first: a rank that could not allocate must not leave the others in the sums below. */
  int failed = layer_values == NULL, any_failed = 0;
  PP_MPI(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, comm), "agreeing on layer volumes");
  if (any_failed) {
    free(layer_values);
    PP_RAISE(failed ? PP_ERR_MEMORY : PP_ERR_OTHER_RANK, "%s", failed ? "out of memory for layer volumes"
                                                                       : "another rank ran out of memory for layer volumes");
  }
  pp_err result = PP_OK;
  for (int layer = 0; layer < PP_LAYER_COUNT && result == PP_OK; ++layer) {
    size_t count = 0;
    for (int e = 0; e < mesh->owned_element_count; ++e)
      if (mesh->element_layer[e] == layer) layer_values[count++] = pp_mesh_element_volume(mesh, e);
    result = pp_reduce_sum_host(layer_values, count, comm, &volumes[layer]);
  }
  free(layer_values);
  PP_CALL(result);
  return PP_OK;
}

size_t pp_mesh_bytes(const pp_mesh *mesh)
{
  size_t nodes = (size_t)mesh->node_count, elements = (size_t)mesh->element_count;
  size_t axes = (size_t)(mesh->axis_x.element_count + mesh->axis_y.element_count + mesh->axis_z.element_count + 3) *
                sizeof(double);
  return axes + nodes * (sizeof(long long) + 3 * sizeof(double) + sizeof(int) + 1) +
         elements * (sizeof(long long) + 8 * sizeof(int) + 1 + 24 * sizeof(double)) +
         ((size_t)mesh->owned_node_count + 1) * sizeof(int) +
         (size_t)mesh->node_element_offset[mesh->owned_node_count] * sizeof(int);
}

double pp_mesh_element_volume(const pp_mesh *mesh, int element)
{
  const double *xyz = mesh->element_corner_coords + 24 * (size_t)element;
  static const double sign[8][3] = {{-1, -1, -1}, {1, -1, -1}, {1, 1, -1}, {-1, 1, -1},
                                    {-1, -1, 1},  {1, -1, 1},  {1, 1, 1},  {-1, 1, 1}};
  const double g = 0.57735026918962576450914878050196; /* 1/sqrt(3) */
  double volume = 0;
  for (int q = 0; q < 8; ++q) {
    double xi[3] = {sign[q][0] * g, sign[q][1] * g, sign[q][2] * g};
    double jacobian[3][3] = {{0}};
    for (int c = 0; c < 8; ++c) {
      double dN[3];
      for (int d = 0; d < 3; ++d) {
        double product = 0.125 * sign[c][d];
        for (int e = 0; e < 3; ++e)
          if (e != d) product *= 1 + sign[c][e] * xi[e];
        dN[d] = product;
      }
      for (int a = 0; a < 3; ++a)
        for (int d = 0; d < 3; ++d) jacobian[a][d] += xyz[3 * c + a] * dN[d];
    }
    double det = jacobian[0][0] * (jacobian[1][1] * jacobian[2][2] - jacobian[1][2] * jacobian[2][1]) -
                 jacobian[0][1] * (jacobian[1][0] * jacobian[2][2] - jacobian[1][2] * jacobian[2][0]) +
                 jacobian[0][2] * (jacobian[1][0] * jacobian[2][1] - jacobian[1][1] * jacobian[2][0]);
    volume += det;
  }
  return volume;
}
