/* kernels/mechanics.cl's hex8_forces against the host reference element (host/element, itself
 * verified in test_element against the energy gradient, rigid motions and the compressible
 * uniaxial solution): 64 distorted elements with large displacements, neo-Hookean and Ogden,
 * kappa/mu = 50 and 500 — corner forces, energies and mean dilatations to 1e-11 relative in
 * double (different summation orders, so not bits); an inverted element gives zero forces. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clrt.h"
#include "element.h"
#include "material.h"
#include "mpi_suite.h"

enum { ELEMENTS = 64 };
static pp_clrt *clrt;

START_TEST(test_forces_match_host_element)
{
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 1;
  ck_assert_msg(pp_clrt_create(&clrt, MPI_COMM_WORLD, &options) == PP_OK, "%s", pp_error_message());
  const pp_material laws[4] = {
    {PP_MATERIAL_NEO_HOOKEAN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.507e6, 2, 24.7 * 0.507e6, 1100},
    {PP_MATERIAL_NEO_HOOKEAN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 1e3, 2, 500 * 1e3, 1100},
    {PP_MATERIAL_OGDEN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.1e6, 12, 50 * 0.1e6, 1100},
    {PP_MATERIAL_OGDEN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.4e6, 14, 500 * 0.4e6, 1100},
  };
  double table[16], X[ELEMENTS * 24], u[ELEMENTS * 24];
  int nodes[ELEMENTS * 8], material[ELEMENTS];
  for (int m = 0; m < 4; ++m) {
    table[4 * m] = laws[m].model == PP_MATERIAL_OGDEN;
    table[4 * m + 1] = laws[m].shear_modulus;
    table[4 * m + 2] = laws[m].ogden_alpha;
    table[4 * m + 3] = laws[m].bulk_modulus;
  }
  for (int e = 0; e < ELEMENTS; ++e) {
    material[e] = e % 4;
    for (int c = 0; c < 8; ++c) {
      nodes[8 * e + c] = 8 * e + c;
      for (int d = 0; d < 3; ++d) {
        X[24 * e + 3 * c + d] = 10e-6 * pp_hex_corner_bit(c, d) + 1.5e-6 * sin(0.37 * e + 3.0 * c + 1.7 * d);
        /* up to ~30 % strain, plus a rotation-like part */
        u[24 * e + 3 * c + d] = 2.5e-6 * cos(0.23 * e + 1.3 * c + 0.9 * d);
      }
    }
  }
  /* element 5: a top corner pushed through the bottom: inverted */
  u[24 * 5 + 3 * 6 + 2] = -30e-6;
  cl_mem buffers[8] = {NULL};
  const size_t bytes[8] = {sizeof X, sizeof nodes, sizeof u, sizeof material, sizeof table, sizeof X,
                           ELEMENTS * sizeof(double), ELEMENTS * sizeof(double)};
  const void *hosts[5] = {X, nodes, u, material, table};
  for (int b = 0; b < 8; ++b) {
    ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, bytes[b], "test buffer", &buffers[b]), PP_OK);
    if (b < 5) ck_assert_int_eq(pp_clrt_write(clrt, buffers[b], 0, bytes[b], hosts[b], "test input"), PP_OK);
  }
  cl_kernel kernel = NULL;
  ck_assert_msg(pp_clrt_kernel(clrt, "mechanics", "hex8_forces", &kernel) == PP_OK, "%s", pp_error_message());
  cl_ulong count = ELEMENTS;
  ck_assert_int_eq(clSetKernelArg(kernel, 0, sizeof count, &count), CL_SUCCESS);
  for (int b = 0; b < 8; ++b) ck_assert_int_eq(clSetKernelArg(kernel, (cl_uint)(b + 1), sizeof(cl_mem), &buffers[b]), CL_SUCCESS);
  ck_assert_int_eq(pp_clrt_launch(clrt, kernel, "hex8_forces", ELEMENTS, 64), PP_OK);
  double force[ELEMENTS * 24], energy[ELEMENTS], dilatation[ELEMENTS];
  ck_assert_int_eq(pp_clrt_read(clrt, buffers[5], 0, sizeof force, force, "forces"), PP_OK);
  ck_assert_int_eq(pp_clrt_read(clrt, buffers[6], 0, sizeof energy, energy, "energies"), PP_OK);
  ck_assert_int_eq(pp_clrt_read(clrt, buffers[7], 0, sizeof dilatation, dilatation, "dilatations"), PP_OK);
  double worst = 0;
  for (int e = 0; e < ELEMENTS; ++e) {
    double f[24], E = 0;
    double J = pp_hex8_internal_force(&laws[material[e]], X + 24 * e, u + 24 * e, f, &E);
    if (e == 5) {
      ck_assert_double_eq(J, 0);
      ck_assert_double_eq(dilatation[e], 0);
      for (int k = 0; k < 24; ++k) ck_assert_double_eq(force[24 * e + k], 0);
      continue;
    }
    double scale = 0;
    for (int k = 0; k < 24; ++k) scale = fmax(scale, fabs(f[k]));
    for (int k = 0; k < 24; ++k) worst = fmax(worst, fabs(force[24 * e + k] - f[k]) / scale);
    ck_assert_msg(fabs(energy[e] - E) <= 1e-11 * fabs(E), "element %d: energy %.15g vs host %.15g", e, energy[e], E);
    ck_assert_msg(fabs(dilatation[e] - J) <= 1e-13, "element %d: J_bar %.15g vs host %.15g", e, dilatation[e], J);
  }
  printf("hex8_forces vs host element: worst corner-force difference %.2e of the element's largest\n", worst);
  ck_assert_msg(worst < 1e-11, "corner forces differ from the host element by %.3e", worst);
  for (int b = 0; b < 8; ++b) clReleaseMemObject(buffers[b]);
  pp_clrt_destroy(clrt);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  Suite *suite = suite_create("mechanics kernel");
  TCase *tc = tcase_create("hex8");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_forces_match_host_element);
  suite_add_tcase(suite, tc);
  int status = pp_test_run_mpi_suite(suite, MPI_COMM_WORLD);
  MPI_Finalize();
  return status;
}
