/* The distributed layered mesh, its ghosts, node sums and halo, on 1, 2 and 4 ranks.
 * References are analytic (volumes: Lx * Ly * layer thickness, exact for a flat mesh and for a
 * junction undulation of whole periods on a uniform grid, where the trapezoid sum of a cosine
 * over whole periods vanishes) or a serial generation of the same mesh in the same process
 * (bitwise comparisons). Rule: every collective first, then asserts on values that are the same
 * on every rank (an assert on one rank before a collective would deadlock the others). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clrt.h"
#include "halo.h"
#include "mesh.h"
#include "mpi_suite.h"
#include "runtime.h"

static pp_runtime runtime;
static pp_clrt *clrt;

static const double um = 1e-6;

/* A small needle cell: graded towards one needle line, periodic sides. */
static pp_mesh_spec cell_spec(pp_side_kind side)
{
  static const double refine_x[] = {60e-6}, refine_y[] = {50e-6};
  pp_mesh_spec spec = {
    .length_x = 120 * um, .length_y = 100 * um,
    .layer_thickness = {15 * um, 60 * um, 100 * um, 200 * um, 300 * um},
    .side_x = side, .side_y = side,
    .refine_x = refine_x, .refine_y = refine_y, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = 6 * um, .lateral_fine_radius = 10 * um, .lateral_growth = 1.4, .lateral_max_size = 20 * um,
    .surface_size = 5 * um, .depth_growth = 1.5, .depth_max_size = 80 * um, .min_elements_per_layer = 2,
  };
  return spec;
}

/* Sum over ranks of a double: fine for tolerance checks of volumes (not used for bit tests). */
static double sum_over_ranks(double value)
{
  double total = 0;
  MPI_Allreduce(&value, &total, 1, MPI_DOUBLE, MPI_SUM, runtime.comm);
  return total;
}

static long long sum_over_ranks_ll(long long value)
{
  long long total = 0;
  MPI_Allreduce(&value, &total, 1, MPI_LONG_LONG, MPI_SUM, runtime.comm);
  return total;
}

static int all_ranks(int condition)
{
  int all = 0;
  MPI_Allreduce(&condition, &all, 1, MPI_INT, MPI_MIN, runtime.comm);
  return all;
}

START_TEST(test_axis_grading)
{
  const double refined[] = {30e-6, 250e-6};
  pp_mesh_axis axis;
  ck_assert_int_eq(pp_mesh_axis_build(400e-6, refined, 2, 4e-6, 10e-6, 1.25, 40e-6, 0, &axis), PP_OK);
  ck_assert(axis.position[0] == 0);
  ck_assert(axis.position[axis.element_count] == 400e-6);
  int found[2] = {0, 0};
  double largest = 0;
  for (int i = 0; i < axis.element_count; ++i) {
    double h = axis.position[i + 1] - axis.position[i];
    ck_assert(h > 0);
    if (h > largest) largest = h;
    for (int r = 0; r < 2; ++r) found[r] |= axis.position[i] == refined[r];
    /* Within the fine band the size is the fine size (the band is resolved, 4% slack for the
     * integer rounding of each segment's element count). */
    double mid = 0.5 * (axis.position[i] + axis.position[i + 1]);
    if (fabs(mid - refined[0]) < 8e-6 || fabs(mid - refined[1]) < 8e-6) ck_assert(h < 4e-6 * 1.04);
    if (i > 0) {
      double previous = axis.position[i] - axis.position[i - 1];
      double ratio = h > previous ? h / previous : previous / h;
      ck_assert_msg(ratio < 1.25 * 1.05, "neighbouring sizes %g and %g grow faster than 1.25", previous, h);
    }
  }
  ck_assert_msg(found[0] && found[1], "refined positions must be nodes");
  ck_assert(largest <= 40e-6 * 1.05);
  free(axis.position);
}
END_TEST

START_TEST(test_counts_and_ownership)
{
  pp_mesh mesh;
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  pp_err result = pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh);
  ck_assert_msg(all_ranks(result == PP_OK), "generation failed: %s", pp_error_message());
  long long nodes = sum_over_ranks_ll(mesh.owned_node_count);
  long long elements = sum_over_ranks_ll(mesh.owned_element_count);
  long long entries = sum_over_ranks_ll(mesh.node_element_offset[mesh.owned_node_count]);
  ck_assert_int_eq(nodes, mesh.global_node_count);
  ck_assert_int_eq(elements, mesh.global_element_count);
  /* Every element corner is in exactly one owned node's row. */
  ck_assert_int_eq(entries, 8 * mesh.global_element_count);
  for (int n = 0; n < mesh.node_count; ++n) ck_assert_int_eq(mesh.node_owner[n] == runtime.rank, n < mesh.owned_node_count);
  pp_mesh_free(&mesh);
}
END_TEST

/* Periodic sides pair every node: each node has 8 elements inside, 4 on the surface and base. */
START_TEST(test_periodic_pairs_every_node)
{
  pp_mesh mesh;
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh), PP_OK);
  for (int n = 0; n < mesh.owned_node_count; ++n) {
    int row = mesh.node_element_offset[n + 1] - mesh.node_element_offset[n];
    int k = (int)(mesh.node_global_id[n] % mesh.node_layers);
    int expected = (k == 0 || k == mesh.node_layers - 1) ? 4 : 8;
    ck_assert_int_eq(row, expected);
    ck_assert_int_eq(mesh.node_boundary[n] & (PP_NODE_X_MIN | PP_NODE_X_MAX | PP_NODE_Y_MIN | PP_NODE_Y_MAX), 0);
  }
  ck_assert_int_eq(mesh.node_columns_x, mesh.axis_x.element_count);
  pp_mesh_free(&mesh);
  /* Free sides: the corner columns have a quarter of the elements. */
  spec = cell_spec(PP_SIDE_FREE);
  ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh), PP_OK);
  ck_assert_int_eq(mesh.node_columns_x, mesh.axis_x.element_count + 1);
  for (int n = 0; n < mesh.owned_node_count; ++n) {
    unsigned char b = mesh.node_boundary[n];
    int row = mesh.node_element_offset[n + 1] - mesh.node_element_offset[n];
    int k = (int)(mesh.node_global_id[n] % mesh.node_layers);
    int expected = (k == 0 || k == mesh.node_layers - 1) ? 4 : 8;
    if (b & (PP_NODE_X_MIN | PP_NODE_X_MAX)) expected /= 2;
    if (b & (PP_NODE_Y_MIN | PP_NODE_Y_MAX)) expected /= 2;
    ck_assert_int_eq(row, expected);
  }
  pp_mesh_free(&mesh);
}
END_TEST

static void check_volumes(const pp_mesh_spec *spec, double relative_tolerance)
{
  pp_mesh mesh;
  ck_assert_int_eq(pp_mesh_generate(spec, runtime.rank, runtime.size, &mesh), PP_OK);
  double layer_volume[PP_LAYER_COUNT] = {0}, smallest = INFINITY;
  for (int e = 0; e < mesh.owned_element_count; ++e) {
    double v = pp_mesh_element_volume(&mesh, e);
    layer_volume[mesh.element_layer[e]] += v;
    if (v < smallest) smallest = v;
  }
  double total = 0, area = spec->length_x * spec->length_y;
  double global_smallest = 0;
  MPI_Allreduce(&smallest, &global_smallest, 1, MPI_DOUBLE, MPI_MIN, runtime.comm);
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer) {
    double v = sum_over_ranks(layer_volume[layer]);
    double expected = area * spec->layer_thickness[layer];
    ck_assert_msg(fabs(v - expected) <= relative_tolerance * expected, "layer %d volume %.17g, expected %.17g",
                  layer, v, expected);
    total += v;
  }
  double thickness = 0;
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer) thickness += spec->layer_thickness[layer];
  ck_assert(fabs(total - area * thickness) <= relative_tolerance * area * thickness);
  ck_assert(global_smallest > 0);
  pp_mesh_free(&mesh);
}

START_TEST(test_layer_volumes_flat)
{
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  check_volumes(&spec, 1e-12);
  spec = cell_spec(PP_SIDE_FREE);
  check_volumes(&spec, 1e-12);
}
END_TEST

/* Junction undulation of whole wavelengths on a uniform lateral grid: the interface moves up
 * and down by equal amounts, so each layer keeps its flat volume. */
START_TEST(test_layer_volumes_undulated)
{
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  spec.length_x = 220 * um;
  spec.length_y = 110 * um;
  spec.refine_x_count = spec.refine_y_count = 0;
  spec.lateral_fine_size = 10 * um;
  spec.dej_amplitude = 50 * um;
  spec.dej_wavelength = 110 * um;
  check_volumes(&spec, 1e-12);
  /* The junction really moved: some node of the junction plane is off its flat depth. */
  pp_mesh mesh;
  ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh), PP_OK);
  int junction_k = mesh.axis_z.layer_first[2];
  double moved = 0;
  for (int n = 0; n < mesh.owned_node_count; ++n)
    if (mesh.node_global_id[n] % mesh.node_layers == junction_k)
      moved = fmax(moved, fabs(-mesh.node_coords[3 * n + 2] - mesh.axis_z.position[junction_k]));
  double global_moved = 0;
  MPI_Allreduce(&moved, &global_moved, 1, MPI_DOUBLE, MPI_MAX, runtime.comm);
  ck_assert(fabs(global_moved - 25 * um) < 1e-12);
  pp_mesh_free(&mesh);
}
END_TEST

START_TEST(test_bad_specs)
{
  pp_mesh mesh;
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  spec.dej_amplitude = 150 * um;
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 1, &mesh), PP_ERR_CONFIG);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "mesh.dej_amplitude"));
  spec = cell_spec(PP_SIDE_PERIODIC);
  spec.dej_amplitude = 20 * um;
  spec.dej_wavelength = 70 * um;
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 1, &mesh), PP_ERR_CONFIG);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "whole number of mesh.dej_wavelength"));
  spec = cell_spec(PP_SIDE_PERIODIC);
  static const double outside[] = {500e-6};
  spec.refine_x = outside;
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 1, &mesh), PP_ERR_CONFIG);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "mesh.refine_x[0]"));
  spec = cell_spec(PP_SIDE_PERIODIC);
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 100000, &mesh), PP_ERR_USAGE);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "cannot be split"));
}
END_TEST

/* Binary search of a global element id in a single-rank reference (ids ascending). */
static int reference_element(const pp_mesh *reference, long long id)
{
  int low = 0, high = reference->element_count;
  while (low < high) {
    int middle = (low + high) / 2;
    if (reference->element_global_id[middle] < id) low = middle + 1;
    else high = middle;
  }
  return low < reference->element_count && reference->element_global_id[low] == id ? low : -1;
}

/* Element reference geometry (including across the periodic sides) has the same bits on every
 * rank that holds the element, owned or ghost, as in a serial generation. */
START_TEST(test_canonical_unwrap)
{
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  spec.dej_amplitude = 20 * um;
  spec.dej_wavelength = 0.5 * spec.length_x; /* the y length 100 um is not a multiple: make it one */
  spec.length_y = 2 * spec.dej_wavelength;
  pp_mesh mesh, reference;
  ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh), PP_OK);
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 1, &reference), PP_OK);
  int wrapped = 0;
  for (int e = 0; e < mesh.element_count; ++e) {
    int r = reference_element(&reference, mesh.element_global_id[e]);
    ck_assert_int_ge(r, 0);
    ck_assert(memcmp(mesh.element_corner_coords + 24 * (size_t)e, reference.element_corner_coords + 24 * (size_t)r,
                     24 * sizeof(double)) == 0);
    for (int c = 0; c < 8; ++c) wrapped |= mesh.element_corner_coords[24 * (size_t)e + 3 * c] == spec.length_x;
    ck_assert_int_eq(mesh.element_layer[e], reference.element_layer[r]);
  }
  /* The unwrapped far side really occurs on some rank (the test is not vacuous). */
  ck_assert(sum_over_ranks_ll(wrapped) >= 1);
  pp_mesh_free(&mesh);
  pp_mesh_free(&reference);
}
END_TEST

/* A value per (element, corner) that depends on the element's geometry and global id. */
static double corner_value(const pp_mesh *mesh, int element, int corner)
{
  long long id = mesh->element_global_id[element];
  return pp_mesh_element_volume(mesh, element) * (1.0 + 1e-3 * (double)(id % 97)) * (corner + 1) / 3.0;
}

/* Host CSR sum for the owned nodes of mesh. */
static void host_node_sums(const pp_mesh *mesh, double *sums)
{
  for (int n = 0; n < mesh->owned_node_count; ++n) {
    double sum = 0;
    for (int r = mesh->node_element_offset[n]; r < mesh->node_element_offset[n + 1]; ++r) {
      int entry = mesh->node_element_entry[r];
      sum += corner_value(mesh, entry / 8, entry % 8);
    }
    sums[n] = sum;
  }
}

static long long reference_node(const pp_mesh *reference, long long id)
{
  int low = 0, high = reference->owned_node_count;
  while (low < high) {
    int middle = (low + high) / 2;
    if (reference->node_global_id[middle] < id) low = middle + 1;
    else high = middle;
  }
  return low;
}

/* Node sums over elements, on the device through the CSR gather, are bit-identical to a serial
 * host reference: the same numbers added in the same order on any partition. */
START_TEST(test_node_sums_identical_bits)
{
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  pp_mesh mesh, reference;
  ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh), PP_OK);
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 1, &reference), PP_OK);
  double *reference_sums = malloc((size_t)reference.owned_node_count * sizeof(double));
  host_node_sums(&reference, reference_sums);

  size_t corners = 8 * (size_t)mesh.element_count;
  double *values = malloc(corners * sizeof(double));
  for (int e = 0; e < mesh.element_count; ++e)
    for (int c = 0; c < 8; ++c) values[8 * e + c] = corner_value(&mesh, e, c);
  cl_mem offsets, entries, corner_buffer, sums_buffer;
  int rows = mesh.owned_node_count, entry_count = mesh.node_element_offset[rows];
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, (rows + 1) * sizeof(int), "offsets", &offsets), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, entry_count * sizeof(int), "entries", &entries), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, corners * sizeof(double), "corners", &corner_buffer), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, rows * sizeof(double), "sums", &sums_buffer), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, offsets, 0, (rows + 1) * sizeof(int), mesh.node_element_offset, "offsets"), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, entries, 0, entry_count * sizeof(int), mesh.node_element_entry, "entries"), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, corner_buffer, 0, corners * sizeof(double), values, "corners"), PP_OK);
  cl_kernel kernel;
  ck_assert_int_eq(pp_clrt_kernel(clrt, "assembly", "node_gather", &kernel), PP_OK);
  cl_ulong n = (cl_ulong)rows;
  cl_uint components = 1;
  clSetKernelArg(kernel, 0, sizeof n, &n);
  clSetKernelArg(kernel, 1, sizeof components, &components);
  clSetKernelArg(kernel, 2, sizeof offsets, &offsets);
  clSetKernelArg(kernel, 3, sizeof entries, &entries);
  clSetKernelArg(kernel, 4, sizeof corner_buffer, &corner_buffer);
  clSetKernelArg(kernel, 5, sizeof sums_buffer, &sums_buffer);
  ck_assert_int_eq(pp_clrt_launch(clrt, kernel, "node_gather", rows, 64), PP_OK);
  double *device_sums = malloc((size_t)rows * sizeof(double) + 1);
  ck_assert_int_eq(pp_clrt_read(clrt, sums_buffer, 0, rows * sizeof(double), device_sums, "sums"), PP_OK);
  int mismatches = 0;
  for (int node = 0; node < rows; ++node) {
    long long r = reference_node(&reference, mesh.node_global_id[node]);
    mismatches += memcmp(&device_sums[node], &reference_sums[r], sizeof(double)) != 0;
  }
  long long all_mismatches = sum_over_ranks_ll(mismatches);
  ck_assert_int_eq(all_mismatches, 0);
  clReleaseMemObject(offsets);
  clReleaseMemObject(entries);
  clReleaseMemObject(corner_buffer);
  clReleaseMemObject(sums_buffer);
  free(values);
  free(device_sums);
  free(reference_sums);
  pp_mesh_free(&mesh);
  pp_mesh_free(&reference);
}
END_TEST

static double node_function(long long id, int component)
{
  return sin(0.37 * (double)id) * 1e3 + (double)component * 0.125 + (double)id;
}

/* Owner -> ghost copy, on the device and on the host, against the directly computed values. */
START_TEST(test_halo_owner_to_ghost)
{
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  for (int sides = 0; sides < 2; ++sides) {
    if (sides == 1) spec = cell_spec(PP_SIDE_FREE);
    pp_mesh mesh;
    ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh), PP_OK);
    pp_halo *halo = NULL;
    pp_err created = pp_halo_create(&halo, &mesh, clrt, runtime.comm);
    ck_assert_msg(all_ranks(created == PP_OK), "halo: %s", pp_error_message());
    ck_assert_int_eq(pp_halo_ghost_count(halo), mesh.node_count - mesh.owned_node_count);
    const int components = 3;
    size_t count = (size_t)mesh.node_count * components;
    double *field = malloc(count * sizeof(double));
    for (int n = 0; n < mesh.node_count; ++n)
      for (int c = 0; c < components; ++c)
        field[n * components + c] = n < mesh.owned_node_count ? node_function(mesh.node_global_id[n], c) : NAN;
    cl_mem device_field;
    ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, count * sizeof(double), "field", &device_field), PP_OK);
    ck_assert_int_eq(pp_clrt_write(clrt, device_field, 0, count * sizeof(double), field, "field"), PP_OK);
    pp_err begun = pp_halo_begin(halo, device_field, components);
    pp_err ended = begun == PP_OK ? pp_halo_end(halo) : begun;
    ck_assert(all_ranks(ended == PP_OK));
    double *device_result = malloc(count * sizeof(double));
    ck_assert_int_eq(pp_clrt_read(clrt, device_field, 0, count * sizeof(double), device_result, "field"), PP_OK);
    pp_err host_result = pp_halo_exchange_host(halo, field, components);
    ck_assert(all_ranks(host_result == PP_OK));
    int wrong = 0;
    for (int n = 0; n < mesh.node_count; ++n)
      for (int c = 0; c < components; ++c) {
        double expected = node_function(mesh.node_global_id[n], c);
        wrong += memcmp(&field[n * components + c], &expected, sizeof expected) != 0;
        wrong += memcmp(&device_result[n * components + c], &expected, sizeof expected) != 0;
      }
    long long all_wrong = sum_over_ranks_ll(wrong);
    ck_assert_int_eq(all_wrong, 0);
    if (runtime.size > 1) ck_assert_int_gt(pp_halo_neighbour_count(halo), 0);
    clReleaseMemObject(device_field);
    free(field);
    free(device_result);
    pp_halo_destroy(halo);
    pp_mesh_free(&mesh);
  }
}
END_TEST

/* The output view writes periodic faces twice: every output node is written by exactly one rank,
 * ids ascend, duplicated far-side nodes sit exactly one period from their canonical node and
 * carry its values. */
START_TEST(test_output_view)
{
  pp_mesh_spec spec = cell_spec(PP_SIDE_PERIODIC);
  pp_mesh mesh;
  ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &mesh), PP_OK);
  pp_io_mesh view;
  ck_assert_int_eq(pp_mesh_io_view(&mesh, &view), PP_OK);
  long long written = sum_over_ranks_ll(view.owned_node_count);
  ck_assert_int_eq(view.global_node_count,
                   (long long)(mesh.axis_x.element_count + 1) * (mesh.axis_y.element_count + 1) * mesh.node_layers);
  ck_assert_int_eq(written, view.global_node_count);
  double *local = malloc((size_t)mesh.node_count * sizeof(double));
  double *output = malloc((size_t)view.owned_node_count * sizeof(double) + 1);
  for (int n = 0; n < mesh.node_count; ++n) local[n] = (double)mesh.node_global_id[n];
  ck_assert_int_eq(pp_mesh_output_node_values(&mesh, local, 1, output), PP_OK);
  int bad = 0;
  for (int n = 0; n < view.owned_node_count; ++n) {
    if (n > 0 && view.owned_node_ids[n] <= view.owned_node_ids[n - 1]) ++bad;
    int source = mesh.output_node_local[n];
    for (int d = 0; d < 3; ++d) {
      double shift = view.owned_node_coords[3 * n + d] - mesh.node_coords[3 * source + d];
      double period = d == 0 ? spec.length_x : d == 1 ? spec.length_y : 0;
      if (shift != 0 && shift != period) ++bad;
    }
    if (output[n] != (double)mesh.node_global_id[source]) ++bad;
  }
  for (int e = 0; e < view.owned_cell_count * 8; ++e)
    if (view.owned_cell_nodes[e] < 0 || view.owned_cell_nodes[e] >= view.global_node_count) ++bad;
  ck_assert_int_eq(sum_over_ranks_ll(bad), 0);
  free(local);
  free(output);
  pp_mesh_free(&mesh);
}
END_TEST

/* One process builds rank 63's block of a 64-rank run and rank 7's of an 8-rank run with the
 * same block size: memory per owned element must agree (no array grows with the rank count). */
START_TEST(test_memory_per_element_independent_of_ranks)
{
  pp_mesh_spec spec = cell_spec(PP_SIDE_FREE);
  spec.refine_x_count = spec.refine_y_count = 0;
  spec.lateral_fine_size = 5 * um;
  const int block = 12; /* node columns per rank and direction */
  double bytes_per_element[2];
  const int ranks[2] = {64, 8}, grid_x[2] = {8, 4}, grid_y[2] = {8, 2};
  for (int c = 0; c < 2; ++c) {
    /* Free sides: node columns = elements + 1; choose lengths giving block * grid columns. */
    spec.length_x = (block * grid_x[c] - 1) * spec.lateral_fine_size;
    spec.length_y = (block * grid_y[c] - 1) * spec.lateral_fine_size;
    pp_mesh mesh;
    ck_assert_int_eq(pp_mesh_generate(&spec, ranks[c] - 1, ranks[c], &mesh), PP_OK);
    ck_assert_int_eq(mesh.grid.ranks_x, grid_x[c]);
    ck_assert_int_eq(mesh.grid.ranks_y, grid_y[c]);
    ck_assert_int_eq(mesh.owned_x_end - mesh.owned_x_first, block);
    bytes_per_element[c] = (double)pp_mesh_bytes(&mesh) / mesh.owned_element_count;
    pp_mesh_free(&mesh);
  }
  ck_assert_msg(fabs(bytes_per_element[0] / bytes_per_element[1] - 1) < 0.05, "%g vs %g bytes per element",
                bytes_per_element[0], bytes_per_element[1]);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("mesh");
  TCase *tc = tcase_create("distributed");
  tcase_add_test(tc, test_axis_grading);
  tcase_add_test(tc, test_counts_and_ownership);
  tcase_add_test(tc, test_periodic_pairs_every_node);
  tcase_add_test(tc, test_layer_volumes_flat);
  tcase_add_test(tc, test_layer_volumes_undulated);
  tcase_add_test(tc, test_bad_specs);
  tcase_add_test(tc, test_canonical_unwrap);
  tcase_add_test(tc, test_node_sums_identical_bits);
  tcase_add_test(tc, test_halo_owner_to_ghost);
  tcase_add_test(tc, test_output_view);
  tcase_add_test(tc, test_memory_per_element_independent_of_ranks);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
