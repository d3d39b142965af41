/* The non-local average of the puncture criterion (host/nonlocal: a sphere within the element's layer):
 *  - a constant is its own average, every element, ghosts included;
 *  - on a uniform grid the average of a linear field is its value at the centroid wherever the
 *    sphere lies inside the layer (the sphere's neighbours come in mirror pairs), checked against
 *    the field itself to round-off; near the boundary it is pulled inwards, by no more than the
 *    radius times the gradient;
 *  - another layer's values never enter: a field of 1 in one layer and 100 in the others averages
 *    to 1 there exactly;
 *  - the radius is honoured: an element counts only within it (a field that is 1 in one element
 *    averages to that element's share only in the elements whose centroids lie within the radius);
 *  - the averages gathered by global element id are the same bits on 1, 2 and 4 ranks as on one,
 *    on a periodic block (images across the sides) and a free one. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh.h"
#include "mpi_suite.h"
#include "nonlocal.h"

static pp_runtime runtime;
static pp_clrt *clrt;
static const double um = 1e-6;

typedef struct {
  pp_mesh mesh;
  pp_nonlocal *nonlocal;
} block;

/* side x side x depth of cubes of size h, five layers of depth/5, split over the ranks. */
static void block_create(block *b, double side, double depth, double h, double radius, int periodic, MPI_Comm comm,
                         int rank, int size)
{
  static const double centre[1] = {0};
  pp_mesh_spec spec = {
    .length_x = side, .length_y = side, .side_x = periodic ? PP_SIDE_PERIODIC : PP_SIDE_FREE,
    .side_y = periodic ? PP_SIDE_PERIODIC : PP_SIDE_FREE, .refine_x = centre, .refine_y = centre,
    .refine_x_count = 1, .refine_y_count = 1, .lateral_fine_size = h, .lateral_fine_radius = side,
    .lateral_growth = 1.3, .lateral_max_size = h, .surface_size = h, .depth_growth = 1.3, .depth_max_size = h,
    .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = depth / PP_LAYER_COUNT;
  ck_assert_msg(pp_mesh_generate(&spec, rank, size, &b->mesh) == PP_OK, "%s", pp_error_message());
  ck_assert_msg(pp_nonlocal_create(&b->nonlocal, &b->mesh, comm, radius) == PP_OK, "%s", pp_error_message());
}

static void block_free(block *b)
{
  pp_nonlocal_destroy(b->nonlocal);
  pp_mesh_free(&b->mesh);
}

static void centroid(const pp_mesh *mesh, int e, double c[3])
{
  c[0] = c[1] = c[2] = 0;
  for (int k = 0; k < 8; ++k)
    for (int d = 0; d < 3; ++d) c[d] += mesh->element_corner_coords[24 * (size_t)e + 3 * (size_t)k + (size_t)d] / 8;
}

static double *array(int count)
{
  double *a = calloc((size_t)count + 1, sizeof *a);
  ck_assert_ptr_nonnull(a);
  return a;
}

START_TEST(test_constant_and_layers)
{
  block b;
  block_create(&b, 40 * um, 100 * um, 4 * um, 10 * um, 0, runtime.comm, runtime.rank, runtime.size);
  const int E = b.mesh.element_count;
  double *w = array(E), *average = array(E);
  for (int e = 0; e < E; ++e) w[e] = 2.5e6;
  long long most = 0;
  ck_assert_msg(pp_nonlocal_average(b.nonlocal, w, average, &most) == PP_OK, "%s", pp_error_message());
  for (int e = 0; e < E; ++e)
    ck_assert_msg(fabs(average[e] / 2.5e6 - 1) < 1e-14, "element %d: average %.17g of a constant 2.5e6", e, average[e]);
  /* a sphere of 10 um over 4 um cubes: 2.5 elements; its interior sphere holds 4/3 pi 2.5^3 = 65 at
     most, counted exactly below */
  ck_assert_msg(most >= 33 && most <= 81, "the largest sphere took %lld elements", most);
  for (int e = 0; e < E; ++e) w[e] = b.mesh.element_layer[e] == 2 ? 1 : 100;
  ck_assert_msg(pp_nonlocal_average(b.nonlocal, w, average, NULL) == PP_OK, "%s", pp_error_message());
  for (int e = 0; e < E; ++e)
    if (b.mesh.element_layer[e] == 2) ck_assert_msg(average[e] == 1, "element %d of layer 2 averages %.17g", e, average[e]);
  free(w);
  free(average);
  block_free(&b);
}
END_TEST

START_TEST(test_linear_field)
{
  const double h = 4 * um, radius = 10 * um;
  block b;
  block_create(&b, 60 * um, 200 * um, h, radius, 0, runtime.comm, runtime.rank, runtime.size);
  const int E = b.mesh.element_count;
  double *w = array(E), *average = array(E);
  const double gradient[3] = {3e9, -2e9, 5e9}; /* J/m^3 per m */
  for (int e = 0; e < E; ++e) {
    double c[3];
    centroid(&b.mesh, e, c);
    w[e] = 1e6 + gradient[0] * c[0] + gradient[1] * c[1] + gradient[2] * c[2];
  }
  ck_assert_msg(pp_nonlocal_average(b.nonlocal, w, average, NULL) == PP_OK, "%s", pp_error_message());
  const double layer_depth = 40 * um, bound = radius * sqrt(3e9 * 3e9 + 2e9 * 2e9 + 5e9 * 5e9);
  int interior = 0;
  for (int e = 0; e < E; ++e) {
    double c[3];
    centroid(&b.mesh, e, c);
    const int layer = b.mesh.element_layer[e];
    const double top = -layer * layer_depth, bottom = top - layer_depth;
    const int inside = c[0] >= radius && c[0] <= 60 * um - radius && c[1] >= radius && c[1] <= 60 * um - radius &&
                       c[2] <= top - radius && c[2] >= bottom + radius;
    const double error = fabs(average[e] - w[e]);
    if (inside) {
      ++interior;
      ck_assert_msg(error <= 1e-9 * 1e6, "interior element %d: average %.17g, field %.17g", e, average[e], w[e]);
    } else {
      ck_assert_msg(error <= bound, "boundary element %d: average off by %.3g, more than radius x gradient %.3g", e,
                    error, bound);
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, &interior, 1, MPI_INT, MPI_SUM, runtime.comm);
  ck_assert_msg(interior > 0, "no element with its sphere inside its layer: the test checks nothing");
  free(w);
  free(average);
  block_free(&b);
}
END_TEST

START_TEST(test_radius)
{
  const double h = 4 * um, radius = 9 * um;
  block b;
  block_create(&b, 40 * um, 100 * um, h, radius, 0, runtime.comm, runtime.rank, runtime.size);
  const int E = b.mesh.element_count;
  double *w = array(E), *average = array(E);
  /* one element of layer 2 near the middle holds 1 */
  const double hot[3] = {18 * um, 18 * um, -50 * um};
  for (int e = 0; e < E; ++e) {
    double c[3];
    centroid(&b.mesh, e, c);
    w[e] = fabs(c[0] - hot[0]) < h / 4 && fabs(c[1] - hot[1]) < h / 4 && fabs(c[2] - hot[2]) < h / 4 ? 1 : 0;
  }
  ck_assert_msg(pp_nonlocal_average(b.nonlocal, w, average, NULL) == PP_OK, "%s", pp_error_message());
  for (int e = 0; e < E; ++e) {
    double c[3];
    centroid(&b.mesh, e, c);
    const double r = sqrt((c[0] - hot[0]) * (c[0] - hot[0]) + (c[1] - hot[1]) * (c[1] - hot[1]) +
                          (c[2] - hot[2]) * (c[2] - hot[2]));
    const int near = r <= radius && b.mesh.element_layer[e] == 2;
    ck_assert_msg(near ? average[e] > 0 : average[e] == 0, "element %d at %.3g um from the hot one: average %.3g", e,
                  r / um, average[e]);
  }
  free(w);
  free(average);
  block_free(&b);
}
END_TEST

/* A rough field, averaged on `comm`, gathered by global id on every rank of that communicator. */
static double *rough_average(int periodic, MPI_Comm comm, int rank, int size, long long *count)
{
  block b;
  block_create(&b, 48 * um, 80 * um, 4 * um, 10 * um, periodic, comm, rank, size);
  const int E = b.mesh.element_count;
  double *w = array(E), *average = array(E);
  for (int e = 0; e < E; ++e) {
    const long long id = b.mesh.element_global_id[e];
    w[e] = (double)((id * 2654435761LL) % 1000003) * 1.7e3; /* the same value for an element on every rank */
  }
  ck_assert_msg(pp_nonlocal_average(b.nonlocal, w, average, NULL) == PP_OK, "%s", pp_error_message());
  *count = b.mesh.global_element_count;
  double *all = calloc((size_t)*count + 1, sizeof *all);
  ck_assert_ptr_nonnull(all);
  for (int e = 0; e < b.mesh.owned_element_count; ++e) all[b.mesh.element_global_id[e]] = average[e];
  MPI_Allreduce(MPI_IN_PLACE, all, (int)*count, MPI_DOUBLE, MPI_SUM, comm);
  free(w);
  free(average);
  block_free(&b);
  return all;
}

START_TEST(test_rank_bits)
{
  for (int periodic = 0; periodic < 2; ++periodic) {
    long long count = 0, serial_count = 0;
    double *parallel = rough_average(periodic, runtime.comm, runtime.rank, runtime.size, &count);
    double *serial = NULL;
    if (runtime.rank == 0) serial = rough_average(periodic, MPI_COMM_SELF, 0, 1, &serial_count);
    MPI_Bcast(&serial_count, 1, MPI_LONG_LONG, 0, runtime.comm);
    ck_assert_int_eq(serial_count, count);
    if (runtime.rank != 0) serial = calloc((size_t)count + 1, sizeof *serial);
    MPI_Bcast(serial, (int)count, MPI_DOUBLE, 0, runtime.comm);
    ck_assert_msg(memcmp(parallel, serial, (size_t)count * sizeof *serial) == 0,
                  "%s block: the averages on %d ranks differ from the serial ones", periodic ? "periodic" : "free",
                  runtime.size);
    free(parallel);
    free(serial);
  }
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("nonlocal");
  TCase *tc = tcase_create("average");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_constant_and_layers);
  tcase_add_test(tc, test_linear_field);
  tcase_add_test(tc, test_radius);
  tcase_add_test(tc, test_rank_bits);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
