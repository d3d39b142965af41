/* kernels/mechanics.cl's hex8_forces against the host reference element (host/element, itself
 * verified in test_element against the energy gradient, rigid motions and the compressible
 * uniaxial solution): 64 distorted elements with large displacements, neo-Hookean and Ogden,
 * kappa/mu = 50 and 500 — corner forces, energies and mean dilatations to 1e-11 relative in
 * double (different summation orders, so not bits); an inverted element gives zero forces; 2 to
 * 16 elements per work-item give the same bits as one. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clrt.h"
#include "element.h"
#include "material.h"
#include "mesh.h"
#include "mpi_suite.h"

enum { ELEMENTS = 64 };
static pp_runtime runtime;
static pp_clrt *clrt;

/* The smallest det F over the 2x2x2 Gauss points of element e (corners X, displacements u, 24 each):
 * F = dx/dxi (dX/dxi)^-1, det F = det(dx/dxi) / det(dX/dxi). */
static double smallest_gauss_detF(const double *X, const double *u)
{
  const double g = 1 / sqrt(3.0);
  double smallest = INFINITY;
  for (int q = 0; q < 8; ++q) {
    double J0[9] = {0}, J[9] = {0};
    for (int a = 0; a < 8; ++a) {
      double dN[3];
      for (int d = 0; d < 3; ++d) {
        double f[3];
        for (int c = 0; c < 3; ++c) {
          const double sa = pp_hex_corner_bit(a, c) ? 1.0 : -1.0, sq = pp_hex_corner_bit(q, c) ? g : -g;
          f[c] = c == d ? sa : 1 + sa * sq;
        }
        dN[d] = f[0] * f[1] * f[2] / 8;
      }
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          J0[3 * i + j] += X[3 * a + i] * dN[j];
          J[3 * i + j] += (X[3 * a + i] + u[3 * a + i]) * dN[j];
        }
    }
    const double det0 = J0[0] * (J0[4] * J0[8] - J0[5] * J0[7]) - J0[1] * (J0[3] * J0[8] - J0[5] * J0[6]) +
                        J0[2] * (J0[3] * J0[7] - J0[4] * J0[6]);
    const double det = J[0] * (J[4] * J[8] - J[5] * J[7]) - J[1] * (J[3] * J[8] - J[5] * J[6]) +
                       J[2] * (J[3] * J[7] - J[4] * J[6]);
    smallest = fmin(smallest, det / det0);
  }
  return smallest;
}

START_TEST(test_forces_match_host_element)
{
  const pp_material laws[4] = {
    {PP_MATERIAL_NEO_HOOKEAN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.507e6, 2, 24.7 * 0.507e6, 1100},
    {PP_MATERIAL_NEO_HOOKEAN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 1e3, 2, 500 * 1e3, 1100},
    {PP_MATERIAL_OGDEN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.1e6, 12, 50 * 0.1e6, 1100},
    {PP_MATERIAL_OGDEN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.4e6, 14, 500 * 0.4e6, 1100},
  };
  double table[24], X[ELEMENTS * 24], u[ELEMENTS * 24];
  int nodes[ELEMENTS * 8], material[ELEMENTS];
  for (int m = 0; m < 4; ++m) {
    table[6 * m] = laws[m].model == PP_MATERIAL_OGDEN;
    table[6 * m + 1] = laws[m].shear_modulus;
    table[6 * m + 2] = laws[m].ogden_alpha;
    table[6 * m + 3] = laws[m].bulk_modulus;
    table[6 * m + 4] = laws[m].density;
    table[6 * m + 5] = 0; /* tensile floor: evaluate every element (the -DEROSION=1 builds below) */
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
  double ones[ELEMENTS], eroded[ELEMENTS] = {0};
  for (int e = 0; e < ELEMENTS; ++e) ones[e] = 1;
  /* 0-4 inputs, 5-8 outputs, 9 density scale, 10 eroded flags (none), 11-12 tensile outputs, 13 the
     smallest Gauss-point det F (distortion erosion) */
  cl_mem buffers[14] = {NULL};
  const size_t bytes[14] = {sizeof X, sizeof nodes, sizeof u, sizeof material, sizeof table, sizeof X,
                            ELEMENTS * sizeof(double), ELEMENTS * sizeof(double), ELEMENTS * sizeof(double),
                            sizeof ones, sizeof eroded, ELEMENTS * sizeof(double), ELEMENTS * sizeof(double),
                            ELEMENTS * sizeof(double)};
  const void *hosts[5] = {X, nodes, u, material, table};
  for (int b = 0; b < 14; ++b) {
    ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, bytes[b], "test buffer", &buffers[b]), PP_OK);
    if (b < 5) ck_assert_int_eq(pp_clrt_write(clrt, buffers[b], 0, bytes[b], hosts[b], "test input"), PP_OK);
    if (b == 9) ck_assert_int_eq(pp_clrt_write(clrt, buffers[b], 0, bytes[b], ones, "density scale"), PP_OK);
    if (b == 10) ck_assert_int_eq(pp_clrt_write(clrt, buffers[b], 0, bytes[b], eroded, "eroded flags"), PP_OK);
  }
  cl_kernel kernel = NULL;
  ck_assert_msg(pp_clrt_kernel(clrt, "mechanics", "hex8_forces", &kernel) == PP_OK, "%s", pp_error_message());
  cl_ulong count = ELEMENTS;
  ck_assert_int_eq(clSetKernelArg(kernel, 0, sizeof count, &count), CL_SUCCESS);
  for (int b = 0; b < 14; ++b) ck_assert_int_eq(clSetKernelArg(kernel, (cl_uint)(b + 1), sizeof(cl_mem), &buffers[b]), CL_SUCCESS);
  ck_assert_int_eq(pp_clrt_launch(clrt, kernel, "hex8_forces", ELEMENTS, 64), PP_OK);
  double force[ELEMENTS * 24], energy[ELEMENTS], dilatation[ELEMENTS], step[ELEMENTS];
  ck_assert_int_eq(pp_clrt_read(clrt, buffers[5], 0, sizeof force, force, "forces"), PP_OK);
  ck_assert_int_eq(pp_clrt_read(clrt, buffers[6], 0, sizeof energy, energy, "energies"), PP_OK);
  ck_assert_int_eq(pp_clrt_read(clrt, buffers[7], 0, sizeof dilatation, dilatation, "dilatations"), PP_OK);
  ck_assert_int_eq(pp_clrt_read(clrt, buffers[8], 0, sizeof step, step, "steps"), PP_OK);
  /* Several elements per work-item (-DMECHANICS_WIDTH, host/mechanics.c's choice on CPUs): the
     same bits as one, for every width, 64 elements not being a multiple of every launch shape */
  for (int width = 2; width <= 16; width *= 2) {
    char options[48];
    snprintf(options, sizeof options, "-DMECHANICS_WIDTH=%d", width);
    cl_kernel wide = NULL;
    ck_assert_msg(pp_clrt_kernel_with_options(clrt, "mechanics", options, "hex8_forces", &wide) == PP_OK, "%s",
                  pp_error_message());
    for (int b = 5; b < 9; ++b) { /* clear the outputs */
      static const double zeros[ELEMENTS * 24];
      ck_assert_int_eq(pp_clrt_write(clrt, buffers[b], 0, bytes[b], zeros, "clear"), PP_OK);
    }
    ck_assert_int_eq(clSetKernelArg(wide, 0, sizeof count, &count), CL_SUCCESS);
    for (int b = 0; b < 14; ++b) ck_assert_int_eq(clSetKernelArg(wide, (cl_uint)(b + 1), sizeof(cl_mem), &buffers[b]), CL_SUCCESS);
    ck_assert_int_eq(pp_clrt_launch(clrt, wide, "hex8_forces", (ELEMENTS + width - 1) / width, 64), PP_OK);
    double wide_force[ELEMENTS * 24], wide_scalars[3][ELEMENTS];
    ck_assert_int_eq(pp_clrt_read(clrt, buffers[5], 0, sizeof wide_force, wide_force, "forces"), PP_OK);
    for (int b = 6; b < 9; ++b)
      ck_assert_int_eq(pp_clrt_read(clrt, buffers[b], 0, sizeof wide_scalars[0], wide_scalars[b - 6], "scalars"), PP_OK);
    ck_assert_msg(memcmp(wide_force, force, sizeof force) == 0, "width %d: corner forces differ from width 1", width);
    ck_assert_msg(memcmp(wide_scalars[0], energy, sizeof energy) == 0 &&
                    memcmp(wide_scalars[1], dilatation, sizeof dilatation) == 0 &&
                    memcmp(wide_scalars[2], step, sizeof step) == 0,
                  "width %d: energies, dilatations or steps differ from width 1", width);
  }
  double worst = 0;
  for (int e = 0; e < ELEMENTS; ++e) {
    double f[24], E = 0;
    double J = pp_hex8_internal_force(&laws[material[e]], X + 24 * e, u + 24 * e, f, &E);
    if (e == 5) {
      ck_assert_double_eq(J, 0);
      ck_assert_double_eq(dilatation[e], 0);
      for (int k = 0; k < 24; ++k) ck_assert_double_eq(force[24 * e + k], 0);
      ck_assert_double_eq(step[e], -1);
      continue;
    }
    double scale = 0;
    for (int k = 0; k < 24; ++k) scale = fmax(scale, fabs(f[k]));
    for (int k = 0; k < 24; ++k) worst = fmax(worst, fabs(force[24 * e + k] - f[k]) / scale);
    ck_assert_msg(fabs(energy[e] - E) <= 1e-11 * fabs(E), "element %d: energy %.15g vs host %.15g", e, energy[e], E);
    ck_assert_msg(fabs(dilatation[e] - J) <= 1e-13, "element %d: J_bar %.15g vs host %.15g", e, dilatation[e], J);
    /* the device's stable step is the host element's (the same large-strain wave speed) */
    const double bound = pp_hex8_stable_step(&laws[material[e]], X + 24 * e, u + 24 * e);
    ck_assert_msg(fabs(step[e] - bound) <= 1e-12 * bound, "element %d: step %.15g vs host %.15g", e, step[e], bound);
  }
  printf("hex8_forces vs host element: worst corner-force difference %.2e of the element's largest\n", worst);
  ck_assert_msg(worst < 1e-11, "corner forces differ from the host element by %.3e", worst);

  /* -DEROSION=1, widths 1 and 4: the tensile state at each element's centre against the host's
     pp_material_tensile_state of the centre's F (dN_a/dxi there = s_a / 8) at the kernel's J_bar;
     an eroded element (3) gives no force, energy, tensile state, and a step that limits nothing.
     The forces, energies and steps of the others are the bits of the build without erosion. */
  eroded[3] = 1;
  ck_assert_int_eq(pp_clrt_write(clrt, buffers[10], 0, sizeof eroded, eroded, "eroded flags"), PP_OK);
  for (int width = 1; width <= 4; width *= 4) {
    char options[64];
    snprintf(options, sizeof options, "-DMECHANICS_WIDTH=%d -DEROSION=1", width);
    cl_kernel eroding = NULL;
    ck_assert_msg(pp_clrt_kernel_with_options(clrt, "mechanics", options, "hex8_forces", &eroding) == PP_OK, "%s",
                  pp_error_message());
    ck_assert_int_eq(clSetKernelArg(eroding, 0, sizeof count, &count), CL_SUCCESS);
    for (int b = 0; b < 14; ++b)
      ck_assert_int_eq(clSetKernelArg(eroding, (cl_uint)(b + 1), sizeof(cl_mem), &buffers[b]), CL_SUCCESS);
    ck_assert_int_eq(pp_clrt_launch(clrt, eroding, "hex8_forces", (ELEMENTS + width - 1) / width, 64), PP_OK);
    double e_force[ELEMENTS * 24], e_energy[ELEMENTS], e_step[ELEMENTS], tensile[ELEMENTS], principal[ELEMENTS];
    ck_assert_int_eq(pp_clrt_read(clrt, buffers[5], 0, sizeof e_force, e_force, "forces"), PP_OK);
    ck_assert_int_eq(pp_clrt_read(clrt, buffers[6], 0, sizeof e_energy, e_energy, "energies"), PP_OK);
    ck_assert_int_eq(pp_clrt_read(clrt, buffers[8], 0, sizeof e_step, e_step, "steps"), PP_OK);
    ck_assert_int_eq(pp_clrt_read(clrt, buffers[11], 0, sizeof tensile, tensile, "tensile"), PP_OK);
    ck_assert_int_eq(pp_clrt_read(clrt, buffers[12], 0, sizeof principal, principal, "principal"), PP_OK);
    double distortion[ELEMENTS], worst_distortion = 0;
    ck_assert_int_eq(pp_clrt_read(clrt, buffers[13], 0, sizeof distortion, distortion, "distortion"), PP_OK);
    /* the smallest Gauss-point det F (distortion erosion's measure): 1 for the eroded element, <= 0 for
       the inverted one, the host's value (smallest_gauss_detF) for the others */
    for (int e = 0; e < ELEMENTS; ++e) {
      if (e == 3) ck_assert_double_eq(distortion[e], 1);
      else if (e == 5) ck_assert_msg(distortion[e] <= 0, "inverted element: smallest det F %g", distortion[e]);
      else worst_distortion = fmax(worst_distortion, fabs(distortion[e] - smallest_gauss_detF(X + 24 * e, u + 24 * e)));
    }
    ck_assert_msg(worst_distortion < 1e-12, "smallest Gauss-point det F differs from the host's by %.3e",
                  worst_distortion);
    double worst_tensile = 0, worst_principal = 0, largest_tensile = 0;
    for (int e = 0; e < ELEMENTS; ++e) {
      if (e == 3) {
        for (int k = 0; k < 24; ++k) ck_assert_double_eq(e_force[24 * e + k], 0);
        ck_assert_double_eq(e_energy[e], 0);
        ck_assert(e_step[e] >= 1e29);
        ck_assert_double_eq(tensile[e], 0);
        continue;
      }
      ck_assert_msg(memcmp(e_force + 24 * e, force + 24 * e, 24 * sizeof(double)) == 0 && e_energy[e] == energy[e] &&
                      e_step[e] == step[e], "width %d, element %d: erosion's build changed the element", width, e);
      if (e == 5) continue; /* inverted */
      double J0[9] = {0}, G0[9] = {0}, F[9], C[9], inverse[9];
      for (int a = 0; a < 8; ++a)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            const double dN = (pp_hex_corner_bit(a, j) ? 1.0 : -1.0) / 8;
            J0[3 * i + j] += X[24 * e + 3 * a + i] * dN;
            G0[3 * i + j] += u[24 * e + 3 * a + i] * dN;
          }
      const double det = J0[0] * (J0[4] * J0[8] - J0[5] * J0[7]) - J0[1] * (J0[3] * J0[8] - J0[5] * J0[6]) +
                         J0[2] * (J0[3] * J0[7] - J0[4] * J0[6]);
      inverse[0] = (J0[4] * J0[8] - J0[5] * J0[7]) / det;
      inverse[1] = (J0[2] * J0[7] - J0[1] * J0[8]) / det;
      inverse[2] = (J0[1] * J0[5] - J0[2] * J0[4]) / det;
      inverse[3] = (J0[5] * J0[6] - J0[3] * J0[8]) / det;
      inverse[4] = (J0[0] * J0[8] - J0[2] * J0[6]) / det;
      inverse[5] = (J0[2] * J0[3] - J0[0] * J0[5]) / det;
      inverse[6] = (J0[3] * J0[7] - J0[4] * J0[6]) / det;
      inverse[7] = (J0[1] * J0[6] - J0[0] * J0[7]) / det;
      inverse[8] = (J0[0] * J0[4] - J0[1] * J0[3]) / det;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          double sum = i == j;
          for (int k = 0; k < 3; ++k) sum += G0[3 * i + k] * inverse[3 * k + j];
          F[3 * i + j] = sum;
        }
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          double sum = 0;
          for (int k = 0; k < 3; ++k) sum += F[3 * k + i] * F[3 * k + j];
          C[3 * i + j] = sum;
        }
      double W, sigma;
      pp_material_tensile_state(&laws[material[e]], C, dilatation[e], &W, &sigma);
      const pp_material *law = &laws[material[e]];
      largest_tensile = fmax(largest_tensile, W);
      worst_tensile = fmax(worst_tensile, fabs(tensile[e] - W) / (1e-3 * law->shear_modulus + W));
      worst_principal = fmax(worst_principal, fabs(principal[e] - sigma) / (law->shear_modulus + fabs(sigma)));
    }
    printf("hex8_forces -DEROSION=1 width %d: tensile energy vs host worst %.2e (largest %.3g J/m^3), principal "
           "stress worst %.2e\n", width, worst_tensile, largest_tensile, worst_principal);
    ck_assert_msg(largest_tensile > 1e3, "the test's strains give no tensile energy (%.3g J/m^3)", largest_tensile);
    ck_assert_msg(worst_tensile < 1e-10 && worst_principal < 1e-10, "tensile state differs from the host: %.3e, %.3e",
                  worst_tensile, worst_principal);
  }
  for (int b = 0; b < 14; ++b) clReleaseMemObject(buffers[b]);
}
END_TEST

/* Device node forces of a whole (distributed) mesh under the displacement u(X) given per node. */
static double *node_forces(const pp_mesh *mesh, const pp_material *law, const double G[9], double *energy_sum)
{
  const int elements = mesh->element_count, owned = mesh->owned_node_count, nodes = mesh->node_count;
  double table[6] = {law->model == PP_MATERIAL_OGDEN, law->shear_modulus, law->ogden_alpha, law->bulk_modulus,
                     law->density, 0};
  double *u = malloc((size_t)nodes * 3 * sizeof *u + 8), *force = malloc((size_t)owned * 3 * sizeof *force + 8);
  int *material = calloc((size_t)elements + 1, sizeof *material);
  for (int n = 0; n < nodes; ++n)
    for (int i = 0; i < 3; ++i) {
      double sum = 0;
      for (int j = 0; j < 3; ++j) sum += G[3 * i + j] * mesh->node_coords[3 * n + j];
      u[3 * n + i] = sum;
    }
  cl_mem b[15] = {NULL};
  const size_t bytes[15] = {(size_t)elements * 24 * sizeof(double) + 8, (size_t)elements * 8 * sizeof(int) + 8,
                           (size_t)nodes * 3 * sizeof(double) + 8,    (size_t)elements * sizeof(int) + 8,
                           sizeof table,                               (size_t)elements * 24 * sizeof(double) + 8,
                           (size_t)elements * sizeof(double) + 8,      (size_t)elements * sizeof(double) + 8,
                           (size_t)owned * 3 * sizeof(double) + 8,    (size_t)elements * sizeof(double) + 8,
                           (size_t)elements * sizeof(double) + 8,      (size_t)elements * sizeof(double) + 8,
                           (size_t)elements * sizeof(double) + 8,      (size_t)elements * sizeof(double) + 8,
                           (size_t)elements * sizeof(double) + 8};
  const void *hosts[5] = {mesh->element_corner_coords, mesh->element_nodes, u, material, table};
  const size_t used[5] = {(size_t)elements * 24 * sizeof(double), (size_t)elements * 8 * sizeof(int),
                          (size_t)nodes * 3 * sizeof(double), (size_t)elements * sizeof(int), sizeof table};
  double *ones = malloc((size_t)elements * sizeof *ones + 8);
  for (int e = 0; e < elements; ++e) ones[e] = 1;
  for (int k = 0; k < 15; ++k) {
    ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_WRITE, bytes[k], "patch buffer", &b[k]), PP_OK);
    if (k < 5) ck_assert_int_eq(pp_clrt_write(clrt, b[k], 0, used[k], hosts[k], "patch input"), PP_OK);
  }
  ck_assert_int_eq(pp_clrt_write(clrt, b[10], 0, (size_t)elements * sizeof(double), ones, "density scale"), PP_OK);
  for (int e = 0; e < elements; ++e) ones[e] = 0;
  ck_assert_int_eq(pp_clrt_write(clrt, b[11], 0, (size_t)elements * sizeof(double), ones, "no erosion"), PP_OK);
  free(ones);
  cl_mem offset = NULL, entry = NULL;
  const int entries = mesh->node_element_offset[owned];
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, ((size_t)owned + 1) * sizeof(int), "offsets", &offset), PP_OK);
  ck_assert_int_eq(pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, (size_t)entries * sizeof(int) + 8, "entries", &entry), PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, offset, 0, ((size_t)owned + 1) * sizeof(int), mesh->node_element_offset, "o"),
                   PP_OK);
  ck_assert_int_eq(pp_clrt_write(clrt, entry, 0, (size_t)entries * sizeof(int), mesh->node_element_entry, "e"), PP_OK);
  cl_kernel forces = NULL, gather = NULL;
  ck_assert_int_eq(pp_clrt_kernel(clrt, "mechanics", "hex8_forces", &forces), PP_OK);
  ck_assert_int_eq(pp_clrt_kernel(clrt, "mechanics", "gather_corner_forces", &gather), PP_OK);
  cl_ulong count = (cl_ulong)elements, owned_count = (cl_ulong)owned;
  ck_assert_int_eq(clSetKernelArg(forces, 0, sizeof count, &count), CL_SUCCESS);
  for (int k = 0; k < 8; ++k) ck_assert_int_eq(clSetKernelArg(forces, (cl_uint)(k + 1), sizeof(cl_mem), &b[k]), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(forces, 9, sizeof(cl_mem), &b[9]), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(forces, 10, sizeof(cl_mem), &b[10]), CL_SUCCESS);
  for (int k = 11; k < 15; ++k) ck_assert_int_eq(clSetKernelArg(forces, (cl_uint)k, sizeof(cl_mem), &b[k]), CL_SUCCESS);
  ck_assert_int_eq(pp_clrt_launch(clrt, forces, "hex8_forces", (size_t)elements, 64), PP_OK);
  ck_assert_int_eq(clSetKernelArg(gather, 0, sizeof owned_count, &owned_count), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(gather, 1, sizeof(cl_mem), &offset), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(gather, 2, sizeof(cl_mem), &entry), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(gather, 3, sizeof(cl_mem), &b[5]), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(gather, 4, sizeof(cl_mem), &b[8]), CL_SUCCESS);
  ck_assert_int_eq(pp_clrt_launch(clrt, gather, "gather_corner_forces", (size_t)owned, 64), PP_OK);
  ck_assert_int_eq(pp_clrt_read(clrt, b[8], 0, (size_t)owned * 3 * sizeof(double), force, "node forces"), PP_OK);
  double *energy = malloc((size_t)elements * sizeof *energy + 8);
  ck_assert_int_eq(pp_clrt_read(clrt, b[6], 0, (size_t)elements * sizeof(double), energy, "energies"), PP_OK);
  *energy_sum = 0;
  for (int e = 0; e < mesh->owned_element_count; ++e) *energy_sum += energy[e];
  free(energy);
  for (int k = 0; k < 15; ++k) clReleaseMemObject(b[k]);
  clReleaseMemObject(offset);
  clReleaseMemObject(entry);
  free(u);
  free(material);
  return force;
}

/* The patch test (a homogeneous deformation of a graded, undulated block): every node inside the
 * block carries zero net force (the element reproduces a constant stress exactly); the +x face
 * carries P_xx times its reference area for the compressible uniaxial stretch of host/material
 * (the 4x4x4-patch form of V1 without the dynamics); and the node forces are the same bits on 1,
 * 2 and 4 ranks (fixed-order corner sums over ghost elements) as a serial run. */
START_TEST(test_patch_homogeneous_stretch)
{
  int rank = 0, size = 1;
  MPI_Comm_rank(runtime.comm, &rank);
  MPI_Comm_size(runtime.comm, &size);
  const double um = 1e-6;
  pp_mesh_spec spec = {
    .length_x = 80 * um, .length_y = 60 * um, .layer_thickness = {10 * um, 20 * um, 30 * um, 30 * um, 40 * um},
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE, .lateral_fine_size = 8 * um, .lateral_fine_radius = 0,
    .lateral_growth = 1, .lateral_max_size = 8 * um, .surface_size = 4 * um, .depth_growth = 1.3,
    .depth_max_size = 20 * um, .min_elements_per_layer = 1, .dej_amplitude = 10 * um, .dej_wavelength = 40 * um,
  };
  const pp_material law = {PP_MATERIAL_OGDEN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.1e6, 12, 50 * 0.1e6, 1100};
  const double stretch = 1.2;
  double lateral = 0, axial = 0;
  ck_assert_int_eq(pp_material_uniaxial(&law, stretch, &lateral, &axial), PP_OK);
  const double G[9] = {stretch - 1, 0, 0, 0, lateral - 1, 0, 0, 0, lateral - 1};
  pp_mesh mesh, serial;
  ck_assert_int_eq(pp_mesh_generate(&spec, rank, size, &mesh), PP_OK);
  ck_assert_int_eq(pp_mesh_generate(&spec, 0, 1, &serial), PP_OK);
  double energy = 0, serial_energy = 0;
  double *force = node_forces(&mesh, &law, G, &energy), *serial_force = node_forces(&serial, &law, G, &serial_energy);
  const double thickness = 130 * um, face = 60 * um * thickness, P = lateral * lateral * axial, scale = P * 64 * um * um;
  double face_force = 0, worst_interior = 0, worst_lateral = 0;
  int mismatches = 0;
  for (int n = 0; n < mesh.owned_node_count; ++n) {
    const double *x = mesh.node_coords + 3 * n;
    const int on_x = fabs(x[0]) < 1e-12 || fabs(x[0] - 80 * um) < 1e-12;
    const int on_y = fabs(x[1]) < 1e-12 || fabs(x[1] - 60 * um) < 1e-12;
    const int on_z = mesh.node_boundary[n] & (PP_NODE_SURFACE | PP_NODE_BASE);
    if (fabs(x[0] - 80 * um) < 1e-12) face_force += force[3 * n];
    if (!on_x && !on_y && !on_z)
      for (int d = 0; d < 3; ++d) worst_interior = fmax(worst_interior, fabs(force[3 * n + d]) / scale);
    if (!on_x) worst_lateral = fmax(worst_lateral, fabs(force[3 * n]) / scale);
    /* the serial mesh numbers nodes by global id too: find the same node */
    int low = 0, high = serial.owned_node_count;
    while (low < high) {
      int middle = (low + high) / 2;
      if (serial.node_global_id[middle] < mesh.node_global_id[n]) low = middle + 1;
      else high = middle;
    }
    mismatches += memcmp(&force[3 * n], &serial_force[3 * low], 3 * sizeof(double)) != 0;
  }
  double totals[3] = {face_force, worst_interior, worst_lateral}, global[3];
  MPI_Allreduce(totals, global, 1, MPI_DOUBLE, MPI_SUM, runtime.comm);
  MPI_Allreduce(totals + 1, global + 1, 2, MPI_DOUBLE, MPI_MAX, runtime.comm);
  int all_mismatches = 0;
  MPI_Allreduce(&mismatches, &all_mismatches, 1, MPI_INT, MPI_SUM, runtime.comm);
  if (rank == 0)
    printf("patch (%d ranks, %lld elements): +x face force %.12g N vs P_xx A0 %.12g N; worst interior node force "
           "%.2e, worst x force off the x faces %.2e (of P h^2)\n", size, mesh.global_element_count, global[0],
           P * face, global[1], global[2]);
  ck_assert_int_eq(all_mismatches, 0);
  ck_assert_msg(global[1] < 1e-9 && global[2] < 1e-9, "interior %.3e, lateral %.3e", global[1], global[2]);
  ck_assert_msg(fabs(global[0] - P * face) < 1e-9 * P * face, "face force %.12g vs %.12g", global[0], P * face);
  free(force);
  free(serial_force);
  pp_mesh_free(&mesh);
  pp_mesh_free(&serial);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("mechanics kernel");
  TCase *tc = tcase_create("hex8");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_forces_match_host_element);
  tcase_add_test(tc, test_patch_homogeneous_stretch);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
