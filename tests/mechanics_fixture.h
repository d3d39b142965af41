/* Shared set-up of the stage-1 mechanics tests: a jittered box mesh distributed over a
 * communicator, a mechanics model (halo + reduce + pp_mechanics) on it, owned-node arrays.
 * Header-only (static functions) so each test program takes what it uses. */
#ifndef PP_TEST_MECHANICS_FIXTURE_H
#define PP_TEST_MECHANICS_FIXTURE_H

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "contact.h"
#include "distribute.h"
#include "element.h"
#include "halo.h"
#include "mechanics.h"
#include "mesh.h"
#include "reduce.h"

/* A box [0,L]^3 of n^3 hexes, built on rank 0 and distributed over comm (METIS). Interior nodes
 * are moved by up to `jitter` element sizes (deterministic), which a homogeneous deformation must
 * not see. Node flags: base z = 0, surface z = L, and the four sides. */
static inline void pp_test_box_mesh(int n, double length, double jitter, MPI_Comm comm, pp_mesh *mesh)
{
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  pp_global_mesh global = {0};
  double *coords = NULL;
  long long *cells = NULL;
  int *layers = NULL;
  unsigned char *flags = NULL;
  if (rank == 0) {
    const int m = n + 1;
    const double h = length / n;
    global.node_count = (long long)m * m * m;
    global.element_count = (long long)n * n * n;
    coords = malloc((size_t)global.node_count * 3 * sizeof *coords);
    flags = calloc((size_t)global.node_count, 1);
    cells = malloc((size_t)global.element_count * 8 * sizeof *cells);
    layers = calloc((size_t)global.element_count, sizeof *layers);
    for (int k = 0; k < m; ++k)
      for (int j = 0; j < m; ++j)
        for (int i = 0; i < m; ++i) {
          const long long id = ((long long)k * m + j) * m + i;
          const int interior = i > 0 && i < n && j > 0 && j < n && k > 0 && k < n;
          const int index[3] = {i, j, k};
          for (int d = 0; d < 3; ++d)
            coords[3 * id + d] = index[d] * h + (interior ? jitter * h * sin(1.7 * (double)id + 2.3 * d) : 0);
          flags[id] = (unsigned char)((k == 0 ? PP_NODE_BASE : 0) | (k == n ? PP_NODE_SURFACE : 0) |
                                      (i == 0 ? PP_NODE_X_MIN : 0) | (i == n ? PP_NODE_X_MAX : 0) |
                                      (j == 0 ? PP_NODE_Y_MIN : 0) | (j == n ? PP_NODE_Y_MAX : 0));
        }
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
          const long long e = ((long long)k * n + j) * n + i;
          for (int c = 0; c < 8; ++c) {
            const int di = pp_hex_corner_bit(c, 0), dj = pp_hex_corner_bit(c, 1), dk = pp_hex_corner_bit(c, 2);
            cells[8 * e + c] = ((long long)(k + dk) * m + (j + dj)) * m + (i + di);
          }
        }
    global.node_coords = coords;
    global.element_nodes = cells;
    global.element_layer = layers;
    global.node_boundary = flags;
  }
  pp_partition_stats stats;
  ck_assert_msg(pp_mesh_distribute(rank == 0 ? &global : NULL, 0, comm, mesh, &stats) == PP_OK, "%s",
                pp_error_message());
  free(coords);
  free(cells);
  free(layers);
  free(flags);
}

/* A soft, nearly incompressible neo-Hookean solid (mu = 0.1 MPa, kappa/mu = 50, 1100 kg/m^3), skin's
 * order of magnitude: the block of the contact and puncture tests. */
static inline pp_material pp_test_block_law(void)
{
  pp_material law = {PP_MATERIAL_NEO_HOOKEAN, PP_OGDEN_INITIAL_SHEAR_MODULUS, 0.1e6, 2, 50 * 0.1e6, 1100};
  return law;
}

typedef struct {
  pp_halo *halo;
  pp_reduce *reduce;
  pp_mechanics *mechanics;
} pp_test_model;

static inline void pp_test_model_create(pp_test_model *md, const pp_mesh *mesh, pp_clrt *clrt, MPI_Comm comm,
                                        const pp_mechanics_options *options)
{
  ck_assert_msg(pp_halo_create(&md->halo, mesh, clrt, comm) == PP_OK, "%s", pp_error_message());
  ck_assert_msg(pp_reduce_create(&md->reduce, clrt, comm) == PP_OK, "%s", pp_error_message());
  ck_assert_msg(pp_mechanics_create(&md->mechanics, mesh, clrt, md->halo, md->reduce, comm, options) == PP_OK, "%s",
                pp_error_message());
}

static inline void pp_test_model_destroy(pp_test_model *md)
{
  pp_mechanics_destroy(md->mechanics);
  pp_reduce_destroy(md->reduce);
  pp_halo_destroy(md->halo);
}

/* Contact parameters (kernels/needle_shape.cl's layout) of a needle pointing down (axis +z from the
 * tip towards the base), its lowest point at (x, y, z). */
static inline void pp_test_vertical_needle(double x, double y, double z, double tip_radius, double half_angle,
                                           double shaft_radius, double length, double *p)
{
  memset(p, 0, PP_CONTACT_SHAPE_PARAMS * sizeof *p);
  p[0] = x;
  p[1] = y;
  p[2] = z;
  p[5] = 1;
  p[6] = tip_radius;
  p[7] = sin(half_angle);
  p[8] = cos(half_angle);
  p[9] = shaft_radius;
  p[10] = length;
}

/* Zeroed [owned nodes * components] doubles. */
static inline double *pp_test_owned_array(const pp_mesh *mesh, int components)
{
  double *a = calloc((size_t)mesh->owned_node_count * (size_t)components + 1, sizeof *a);
  ck_assert_ptr_nonnull(a);
  return a;
}

#endif
