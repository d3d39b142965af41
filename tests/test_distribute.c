/* Imported meshes: a mesh given as global arrays on one rank, partitioned with METIS and handed
 * out, must behave exactly like the generated mesh it was made from: the same layer volumes
 * (same bits through the exact reduce), the same node sums, a working halo, a deterministic
 * partition, and output files identical to the generated mesh's (checked by h5diff in ctest).
 * Runs on 1, 2 and 4 ranks. Usage: test_distribute OUTPUT_DIR */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distribute.h"
#include "halo.h"
#include "io.h"
#include "mesh.h"
#include "mpi_suite.h"
#include "runtime.h"

static pp_runtime runtime;
static const char *output_dir = "distribute_out";

static pp_mesh_spec patch_spec(void)
{
  static const double refine_x[] = {50e-6}, refine_y[] = {40e-6};
  pp_mesh_spec spec = {
    .length_x = 110e-6, .length_y = 90e-6,
    .layer_thickness = {15e-6, 60e-6, 100e-6, 150e-6, 200e-6},
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .refine_x = refine_x, .refine_y = refine_y, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = 6e-6, .lateral_fine_radius = 8e-6, .lateral_growth = 1.4, .lateral_max_size = 20e-6,
    .surface_size = 5e-6, .depth_growth = 1.5, .depth_max_size = 60e-6, .min_elements_per_layer = 2,
  };
  return spec;
}

/* The generated single-rank mesh as global arrays (its numbering is the global one). */
typedef struct {
  pp_mesh reference;
  long long *element_nodes;
  int *element_layer;
  pp_global_mesh global;
} imported_source;

static void make_source(imported_source *source)
{
  pp_mesh_spec spec = patch_spec();
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 1, &source->reference), PP_OK);
  pp_mesh *r = &source->reference;
  source->element_nodes = malloc(8 * (size_t)r->element_count * sizeof(long long));
  source->element_layer = malloc((size_t)r->element_count * sizeof(int));
  for (int e = 0; e < r->element_count; ++e) {
    ck_assert_int_eq(r->element_global_id[e], e);
    for (int c = 0; c < 8; ++c) source->element_nodes[8 * e + c] = r->node_global_id[r->element_nodes[8 * e + c]];
    source->element_layer[e] = r->element_layer[e];
  }
  for (int n = 0; n < r->node_count; ++n) ck_assert_int_eq(r->node_global_id[n], n);
  source->global = (pp_global_mesh){r->global_node_count, r->global_element_count, r->node_coords,
                                    source->element_nodes, source->element_layer, r->node_boundary};
}

static void free_source(imported_source *source)
{
  pp_mesh_free(&source->reference);
  free(source->element_nodes);
  free(source->element_layer);
}

static long long sum_ll(long long value)
{
  long long total = 0;
  MPI_Allreduce(&value, &total, 1, MPI_LONG_LONG, MPI_SUM, runtime.comm);
  return total;
}

static double corner_value(const pp_mesh *mesh, int element, int corner)
{
  return pp_mesh_element_volume(mesh, element) * (1.0 + 1e-3 * (double)(mesh->element_global_id[element] % 89)) *
         (corner + 2);
}

START_TEST(test_distributed_equals_generated)
{
  imported_source source;
  make_source(&source);
  pp_mesh mesh;
  pp_partition_stats stats;
  pp_err result = pp_mesh_distribute(runtime.rank == 0 ? &source.global : NULL, 0, runtime.comm, &mesh, &stats);
  ck_assert_msg(result == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(sum_ll(mesh.owned_node_count), source.reference.global_node_count);
  ck_assert_int_eq(sum_ll(mesh.owned_element_count), source.reference.global_element_count);
  ck_assert_int_eq(sum_ll(mesh.node_element_offset[mesh.owned_node_count]), 8 * mesh.global_element_count);
  /* Layer volumes through the exact reduce: the same bits as the generated mesh on one rank. */
  double imported[PP_LAYER_COUNT], generated[PP_LAYER_COUNT];
  ck_assert_int_eq(pp_mesh_layer_volumes(&mesh, runtime.comm, imported), PP_OK);
  ck_assert_int_eq(pp_mesh_layer_volumes(&source.reference, MPI_COMM_SELF, generated), PP_OK);
  ck_assert(memcmp(imported, generated, sizeof imported) == 0);
  /* Node sums over elements, in ascending global element order: the same bits as the reference. */
  int wrong = 0;
  for (int n = 0; n < mesh.owned_node_count; ++n) {
    double sum = 0, expected = 0;
    for (int r = mesh.node_element_offset[n]; r < mesh.node_element_offset[n + 1]; ++r)
      sum += corner_value(&mesh, mesh.node_element_entry[r] / 8, mesh.node_element_entry[r] % 8);
    int reference_node = (int)mesh.node_global_id[n];
    const pp_mesh *ref = &source.reference;
    for (int r = ref->node_element_offset[reference_node]; r < ref->node_element_offset[reference_node + 1]; ++r)
      expected += corner_value(ref, ref->node_element_entry[r] / 8, ref->node_element_entry[r] % 8);
    wrong += memcmp(&sum, &expected, sizeof sum) != 0;
  }
  ck_assert_int_eq(sum_ll(wrong), 0);
  if (runtime.size > 1) {
    ck_assert(stats.edge_cut > 0);
    ck_assert_msg(stats.element_balance < 1.1, "element balance %g", stats.element_balance);
  }
  pp_mesh_free(&mesh);
  free_source(&source);
}
END_TEST

START_TEST(test_halo_on_imported_mesh)
{
  imported_source source;
  make_source(&source);
  pp_mesh mesh;
  pp_partition_stats stats;
  ck_assert_int_eq(pp_mesh_distribute(runtime.rank == 0 ? &source.global : NULL, 0, runtime.comm, &mesh, &stats), PP_OK);
  pp_halo *halo = NULL;
  ck_assert_int_eq(pp_halo_create(&halo, &mesh, NULL, runtime.comm), PP_OK);
  double *field = malloc((size_t)mesh.node_count * 2 * sizeof(double));
  for (int n = 0; n < mesh.node_count; ++n)
    for (int c = 0; c < 2; ++c)
      field[2 * n + c] = n < mesh.owned_node_count ? cos((double)mesh.node_global_id[n]) + c : NAN;
  pp_err exchanged = pp_halo_exchange_host(halo, field, 2);
  int wrong = exchanged != PP_OK;
  for (int n = 0; n < mesh.node_count; ++n)
    for (int c = 0; c < 2; ++c) wrong += field[2 * n + c] != cos((double)mesh.node_global_id[n]) + c;
  ck_assert_int_eq(sum_ll(wrong), 0);
  free(field);
  pp_halo_destroy(halo);
  pp_mesh_free(&mesh);
  free_source(&source);
}
END_TEST

/* The same mesh on the same rank count gives the same partition every time (fixed seed). */
START_TEST(test_partition_is_deterministic)
{
  imported_source source;
  make_source(&source);
  pp_mesh first, second;
  pp_partition_stats stats;
  ck_assert_int_eq(pp_mesh_distribute(runtime.rank == 0 ? &source.global : NULL, 0, runtime.comm, &first, &stats), PP_OK);
  ck_assert_int_eq(pp_mesh_distribute(runtime.rank == 0 ? &source.global : NULL, 0, runtime.comm, &second, &stats), PP_OK);
  int same = first.owned_node_count == second.owned_node_count && first.node_count == second.node_count &&
             memcmp(first.node_global_id, second.node_global_id, (size_t)first.node_count * sizeof(long long)) == 0;
  ck_assert_int_eq(sum_ll(!same), 0);
  pp_mesh_free(&first);
  pp_mesh_free(&second);
  free_source(&source);
}
END_TEST

/* A bad mesh on the root: every rank returns an error, none hangs. */
START_TEST(test_bad_mesh_fails_everywhere)
{
  imported_source source;
  make_source(&source);
  source.element_nodes[8 * 3 + 5] = source.global.node_count + 7;
  pp_mesh mesh;
  pp_partition_stats stats;
  pp_err result = pp_mesh_distribute(runtime.rank == 0 ? &source.global : NULL, 0, runtime.comm, &mesh, &stats);
  ck_assert_int_eq(sum_ll(result != PP_OK), runtime.size);
  if (runtime.rank == 0) ck_assert_ptr_nonnull(strstr(pp_error_message(), "element 3 refers to node"));
  else ck_assert_int_eq(result, PP_ERR_OTHER_RANK);
  free_source(&source);
}
END_TEST

/* Writes the imported and the generated mesh as two series with the same node and cell field;
 * ctest's distribute_h5diff compares them with each other and across rank counts. */
START_TEST(test_write_series)
{
  imported_source source;
  make_source(&source);
  pp_mesh imported, generated;
  pp_partition_stats stats;
  ck_assert_int_eq(pp_mesh_distribute(runtime.rank == 0 ? &source.global : NULL, 0, runtime.comm, &imported, &stats), PP_OK);
  pp_mesh_spec spec = patch_spec();
  ck_assert_int_eq(pp_mesh_generate(&spec, runtime.rank, runtime.size, &generated), PP_OK);
  pp_mesh *meshes[2] = {&imported, &generated};
  const char *names[2] = {"imported", "generated"};
  int failures = 0;
  for (int m = 0; m < 2; ++m) {
    pp_io_mesh view;
    pp_err result = pp_mesh_io_view(meshes[m], &view);
    double *local = malloc((size_t)meshes[m]->node_count * sizeof(double) + 8);
    double *node_values = malloc((size_t)view.owned_node_count * sizeof(double) + 8);
    double *cell_values = malloc((size_t)view.owned_cell_count * sizeof(double) + 8);
    for (int n = 0; n < meshes[m]->node_count; ++n) local[n] = sin(1e-3 * (double)meshes[m]->node_global_id[n]);
    for (int e = 0; e < view.owned_cell_count; ++e) cell_values[e] = pp_mesh_element_volume(meshes[m], e);
    if (result == PP_OK) result = pp_mesh_output_node_values(meshes[m], local, 1, node_values);
    pp_io_series *series = NULL;
    if (result == PP_OK) result = pp_io_series_open(&series, &runtime, output_dir, names[m], "s", &view);
    if (result == PP_OK) result = pp_io_step_begin(series, 0.5);
    if (result == PP_OK) result = pp_io_write_node_field(series, "value", "1", 1, node_values);
    if (result == PP_OK) result = pp_io_write_cell_field(series, "volume", "m3", 1, cell_values);
    if (result == PP_OK) result = pp_io_step_end(series);
    if (series) pp_io_series_close(&series);
    failures += result != PP_OK;
    free(local);
    free(node_values);
    free(cell_values);
  }
  ck_assert_int_eq(sum_ll(failures), 0);
  pp_mesh_free(&imported);
  pp_mesh_free(&generated);
  free_source(&source);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_runtime_start(&runtime, &argc, &argv) != PP_OK) {
    pp_error_print(stderr, "");
    return EXIT_FAILURE;
  }
  if (argc > 1) output_dir = argv[1];
  Suite *suite = suite_create("distribute");
  TCase *tc = tcase_create("imported");
  tcase_add_test(tc, test_distributed_equals_generated);
  tcase_add_test(tc, test_halo_on_imported_mesh);
  tcase_add_test(tc, test_partition_is_deterministic);
  tcase_add_test(tc, test_bad_mesh_fails_everywhere);
  tcase_add_test(tc, test_write_series);
  suite_add_tcase(suite, tc);
  int status = pp_test_run_mpi_suite(suite, runtime.comm);
  pp_runtime_stop(&runtime);
  return status;
}
