/* The non-local average (host/nonlocal) against the implicit-gradient equation's exact solutions:
 *  - a constant element field is its own average (the operator's rows sum to zero), every element,
 *    ghosts included;
 *  - a step: w = 1 below a plane and 0 above it in a column with no-flux sides, long against l.
 *    w_bar - l^2 w_bar'' = H(-zeta) has the solution w_bar = 1/2 exp(-zeta/l) above the plane
 *    (zeta > 0) and 1 - 1/2 exp(zeta/l) below it (Peerlings, de Borst, Brekelmans & de Vree 1996,
 *    Int J Numer Meth Eng 39:3391, the one-dimensional gradient-enhanced average); the element means
 *    within 1e-2 of it with elements of l/5, the error falling at least 3x when the elements halve
 *    (second-order finite volumes, the step itself an element face);
 *  - the averages gathered by global element id are the same bits on 1, 2 and 4 ranks as on one. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "halo.h"
#include "mesh.h"
#include "mpi_suite.h"
#include "nonlocal.h"
#include "reduce.h"

static pp_runtime runtime;
static pp_clrt *clrt;
static const double um = 1e-6;

typedef struct {
  pp_mesh mesh;
  pp_halo *halo;
  pp_reduce *reduce;
  pp_nonlocal *nonlocal;
} column;

/* A column side x side x depth of cubes of size h, sides free (no flux), split over the ranks. */
static void column_create(column *c, double side, double depth, double h, double length, MPI_Comm comm, int rank,
                          int size)
{
  static const double centre[1] = {0};
  pp_mesh_spec spec = {
    .length_x = side, .length_y = side, .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .refine_x = centre, .refine_y = centre, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = h, .lateral_fine_radius = side, .lateral_growth = 1.3, .lateral_max_size = h,
    .surface_size = h, .depth_growth = 1.3, .depth_max_size = h, .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = depth / PP_LAYER_COUNT;
  ck_assert_msg(pp_mesh_generate(&spec, rank, size, &c->mesh) == PP_OK, "%s", pp_error_message());
  ck_assert_msg(pp_halo_create(&c->halo, &c->mesh, clrt, comm) == PP_OK, "%s", pp_error_message());
  ck_assert_msg(pp_reduce_create(&c->reduce, clrt, comm) == PP_OK, "%s", pp_error_message());
  ck_assert_msg(pp_nonlocal_create(&c->nonlocal, &c->mesh, clrt, c->halo, c->reduce, comm, length) == PP_OK, "%s",
                pp_error_message());
}

static void column_free(column *c)
{
  pp_nonlocal_destroy(c->nonlocal);
  pp_reduce_destroy(c->reduce);
  pp_halo_destroy(c->halo);
  pp_mesh_free(&c->mesh);
}

static double centroid_z(const pp_mesh *mesh, int e)
{
  double z = 0;
  for (int k = 0; k < 8; ++k) z += mesh->element_corner_coords[24 * (size_t)e + 3 * (size_t)k + 2];
  return z / 8;
}

/* The largest deviation from the exact step solution; the plane at z = plane. */
static double step_error(double h, double length, double plane, double depth, double *average_out, long long *count,
                         MPI_Comm comm, int rank, int size)
{
  column c;
  column_create(&c, 3 * h, depth, h, length, comm, rank, size);
  const int E = c.mesh.element_count;
  double *w = malloc(((size_t)E + 1) * sizeof *w), *average = malloc(((size_t)E + 1) * sizeof *average);
  ck_assert(w && average);
  for (int e = 0; e < E; ++e) w[e] = centroid_z(&c.mesh, e) < plane ? 1 : 0;
  int iterations = 0;
  ck_assert_msg(pp_nonlocal_average(c.nonlocal, w, average, &iterations) == PP_OK, "%s", pp_error_message());
  double worst = 0;
  for (int e = 0; e < E; ++e) {
    const double zeta = centroid_z(&c.mesh, e) - plane;
    const double exact = zeta > 0 ? 0.5 * exp(-zeta / length) : 1 - 0.5 * exp(zeta / length);
    worst = fmax(worst, fabs(average[e] - exact));
  }
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, comm);
  if (average_out) { /* by global id, for the rank comparison */
    for (int e = 0; e < c.mesh.owned_element_count; ++e) average_out[c.mesh.element_global_id[e]] = average[e];
    *count = c.mesh.global_element_count;
  }
  if (rank == 0)
    printf("step at l = %g um, elements %g um (%lld): largest error %.3e, %d CG iterations\n", length / um, h / um,
           c.mesh.global_element_count, worst, iterations);
  free(w);
  free(average);
  column_free(&c);
  return worst;
}

START_TEST(test_constant)
{
  column c;
  column_create(&c, 30 * um, 60 * um, 3 * um, 10 * um, runtime.comm, runtime.rank, runtime.size);
  const int E = c.mesh.element_count;
  double *w = malloc(((size_t)E + 1) * sizeof *w), *average = malloc(((size_t)E + 1) * sizeof *average);
  ck_assert(w && average);
  for (int e = 0; e < E; ++e) w[e] = 2.5e6;
  ck_assert_msg(pp_nonlocal_average(c.nonlocal, w, average, NULL) == PP_OK, "%s", pp_error_message());
  for (int e = 0; e < E; ++e)
    ck_assert_msg(fabs(average[e] / 2.5e6 - 1) < 1e-11, "element %d: average %.17g of a constant 2.5e6", e, average[e]);
  free(w);
  free(average);
  column_free(&c);
}
END_TEST

START_TEST(test_step)
{
  const double l = 10 * um, depth = 160 * um, plane = -80 * um;
  const double coarse = step_error(l / 5, l, plane, depth, NULL, NULL, runtime.comm, runtime.rank, runtime.size);
  const double fine = step_error(l / 10, l, plane, depth, NULL, NULL, runtime.comm, runtime.rank, runtime.size);
  ck_assert_msg(coarse < 1e-2, "elements l/5: largest error %.3e against the exact step solution", coarse);
  ck_assert_msg(fine < coarse / 3, "halving the elements took the error from %.3e only to %.3e", coarse, fine);
}
END_TEST

START_TEST(test_rank_bits)
{
  const double l = 10 * um, h = 2 * um, depth = 160 * um, plane = -80 * um;
  const long long total = 3 * 3 * 80;
  double *parallel = calloc(total + 1, sizeof *parallel), *serial = calloc(total + 1, sizeof *serial);
  ck_assert(parallel && serial);
  long long count = 0;
  step_error(h, l, plane, depth, parallel, &count, runtime.comm, runtime.rank, runtime.size);
  ck_assert_int_eq(count, total);
  MPI_Allreduce(MPI_IN_PLACE, parallel, (int)total, MPI_DOUBLE, MPI_SUM, runtime.comm);
  if (runtime.rank == 0) step_error(h, l, plane, depth, serial, &count, MPI_COMM_SELF, 0, 1);
  MPI_Bcast(serial, (int)total, MPI_DOUBLE, 0, runtime.comm);
  ck_assert_msg(memcmp(parallel, serial, (size_t)total * sizeof *serial) == 0,
                "the averages on %d ranks differ from the serial ones", runtime.size);
  free(parallel);
  free(serial);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("nonlocal");
  TCase *tc = tcase_create("average");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_constant);
  tcase_add_test(tc, test_step);
  tcase_add_test(tc, test_rank_bits);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
