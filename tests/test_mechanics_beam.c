/* Volumetric locking (host/element.h's claim for the mean-dilatation hex8): a nearly incompressible
 * cantilever (neo-Hookean, kappa/mu = 500, nu = 0.4990) under a small end shear, solved statically
 * by the device's dynamic relaxation (pp_mechanics_relax) on three meshes, converges to beam theory:
 *  - the end deflection on the finest mesh is within 3 % of Timoshenko's, with the shear
 *    correction:  delta = P L^3 / (3 E' I) + P L / (k G A)  (Timoshenko and Goodier, Theory of
 *    Elasticity, 3rd ed., section 21; k = 5/6 for a rectangle; Cowper 1966, J Appl Mech 33:335,
 *    gives k = 10 (1 + nu) / (12 + 11 nu), printed too: the two differ by 0.2 % here). The shear
 *    term is 7 % of delta, so 3 % tests Timoshenko's correction, not only Euler-Bernoulli;
 *  - the error falls on every refinement;
 *  - the dynamic relaxation stops at the static answer: a host solve (conjugate gradients) of the
 *    same element linearised (mean-dilatation B-bar) on the same mesh agrees to 1e-3;
 *  - a LOCKING element, the same hex8 with its volumetric term integrated at the 8 Gauss points
 *    (host solve, below), gives less than 0.4 of the deflection on every mesh (0.16 on CI's finest).
 *
 * The beam: length L = 4 H, square section H x H (W = H), x along the beam, z across it.
 *  - Plane strain: u_y = 0 at every node. A finite width with free sides would sit somewhere
 *    between plane stress (E) and plane strain (E' = E / (1 - nu^2)), and at nu = 0.5 those differ
 *    by 4/3: beam theory's modulus would be ambiguous by 33 %. Holding u_y makes the problem exactly
 *    2-D plane strain for any W (Timoshenko and Goodier section 8: E' = E / (1 - nu^2), and G is
 *    unchanged), so E' and G are exact.
 *  - End load: the parabolic shear traction tau(z) = (3 P / 2 A) (1 - (2 z / H - 1)^2) of the
 *    elasticity solution (Timoshenko and Goodier section 21), total P, at x = L (along -z) and its
 *    reaction at x = 0 (along +z), lumped to the nodes consistently (each node gets the integral of
 *    its hat function times tau; Simpson's rule is exact for that cubic). With the parabola the
 *    loaded end carries the same stresses as every other section of the beam-theory solution, so
 *    there is no end disturbance to decay (Saint-Venant). (A uniform traction lumped by face-area
 *    shares gave the same deflection to 1e-4 in a host study.)
 *  - Root: u_x = 0 over the face x = 0 (the section stays plane and upright: zero rotation,
 *    Timoshenko's clamp) and u_z = 0 on its bottom edge only (the rigid translation). The root's
 *    shear reaction is the applied parabolic traction, so that support carries no force (the
 *    applied forces balance exactly): no concentrated reaction, no point-load singularity. Why not
 *    all DOFs fixed at x = 0: that also forces eps_zz = 0 on the root face; in plane strain at
 *    nu -> 0.5 it then forces eps_xx -> 0 too, a rigid zone about H long that beam theory does not
 *    have. Its effect on the deflection is first order in H / L, about -0.17 H / L: in a host study
 *    (this file's linear solve, 8 elements through the height, Richardson-extrapolated) a fully
 *    fixed root converges to 4.2 % below Timoshenko at L/H = 4 (3.4 % at 5, 1.7 % at 10), while
 *    this root converges to within 0.3 % of it.
 *  - The deflection is the face-averaged u_z at x = L minus that at x = 0 (averages with the
 *    trapezoid weights of the nodes, the faces' exact means for bilinear fields): the root section
 *    may move in z (Poisson), beam theory measures from the root's centroid.
 *  - Small strain: P gives delta / L = 1e-3 in Euler-Bernoulli theory, so the nonlinear terms are
 *    O(1e-4) relative, far below what is tested.
 *
 * Measured (deflection over Timoshenko's), elements through the height 1, 2, 4, 8 (square
 * elements): mean dilatation 1.625, 1.093, 1.019, 1.002 (second order, from above: one element
 * through the height has no incompressibility across it and is too soft); the locking element
 * 0.065, 0.087, 0.163, 0.372 (a factor 15 to 2.7 too stiff).
 *
 * CI runs the three meshes 1, 2, 4 (the finest at +1.9 %); with PINPRICK_FULL=1 a fourth, 8
 * elements through the height (+0.2 %), is the finest. The relaxation's step counts are printed:
 * the slowest mode (bending, omega_1 ~ H c_s / L^2) against the fastest (dilatational, ~ c_d / h,
 * with c_d / c_s = sqrt(kappa / mu + 4/3) = 22) sets them, about ln(1 / tolerance) / (omega_1 dt),
 * which grows as the elements shrink: 6985, 9278, 16405 steps (31363 for 8). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distribute.h"
#include "element.h"
#include "halo.h"
#include "material.h"
#include "mechanics.h"
#include "mesh.h"
#include "mechanics_fixture.h"
#include "mpi_suite.h"
#include "reduce.h"

static pp_runtime runtime;
static pp_clrt *clrt;

/* ---- the beam ---------------------------------------------------------------------------------- */

typedef struct {
  double length, height, width; /* m */
  int along, across;            /* elements along x and through the height (z); one across y */
  pp_material law;
  double load;                  /* P, N */
} beam_case;

/* 0 < z < H: the parabolic shear traction of total P over the section (Pa). */
static double shear_traction(const beam_case *beam, double z)
{
  const double s = 2 * z / beam->height - 1;
  return 1.5 * beam->load / (beam->height * beam->width) * (1 - s * s);
}

/* Force on a face node at height z (N, positive): its share W/2 of the width times the integral of
 * its hat function times tau over the one or two edges beside it (Simpson: exact for the cubic). */
static double end_node_force(const beam_case *beam, double z)
{
  const double h = beam->height / beam->across;
  double sum = 0;
  for (int side = -1; side <= 1; side += 2) {
    const double other = z + side * h;
    if (other < -1e-9 * h || other > beam->height + 1e-9 * h) continue;
    /* hat = 1 at z, 1/2 at the midpoint, 0 at the other end */
    sum += h / 6 * (shear_traction(beam, z) + 4 * 0.5 * shear_traction(beam, (z + other) / 2));
  }
  return sum * beam->width / 2;
}

/* The global mesh on rank 0: (along + 1) x 2 x (across + 1) nodes, node (i, j, k) at
 * (L i / along, W j, H k / across), id (k * 2 + j) * (along + 1) + i; hexes in the VTK order. */
typedef struct {
  long long node_count, element_count;
  double *coords;
  long long *cells;
  int *layers;
  unsigned char *flags;
} beam_global;

static void beam_global_build(const beam_case *beam, beam_global *g)
{
  const int mx = beam->along + 1, mz = beam->across + 1;
  g->node_count = (long long)mx * 2 * mz;
  g->element_count = (long long)beam->along * beam->across;
  g->coords = malloc((size_t)g->node_count * 3 * sizeof *g->coords);
  g->flags = calloc((size_t)g->node_count, 1);
  g->cells = malloc((size_t)g->element_count * 8 * sizeof *g->cells);
  g->layers = calloc((size_t)g->element_count, sizeof *g->layers);
  ck_assert(g->coords && g->flags && g->cells && g->layers);
  for (int k = 0; k < mz; ++k)
    for (int j = 0; j < 2; ++j)
      for (int i = 0; i < mx; ++i) {
        const long long id = ((long long)k * 2 + j) * mx + i;
        g->coords[3 * id] = beam->length * i / beam->along;
        g->coords[3 * id + 1] = beam->width * j;
        g->coords[3 * id + 2] = beam->height * k / beam->across;
        g->flags[id] = (unsigned char)((i == 0 ? PP_NODE_X_MIN : 0) | (i == beam->along ? PP_NODE_X_MAX : 0) |
                                       (j == 0 ? PP_NODE_Y_MIN : PP_NODE_Y_MAX) | (k == 0 ? PP_NODE_BASE : 0) |
                                       (k == beam->across ? PP_NODE_SURFACE : 0));
      }
  for (int k = 0; k < beam->across; ++k)
    for (int i = 0; i < beam->along; ++i) {
      const long long e = (long long)k * beam->along + i;
      for (int c = 0; c < 8; ++c) {
        const int di = pp_hex_corner_bit(c, 0), dj = pp_hex_corner_bit(c, 1), dk = pp_hex_corner_bit(c, 2);
        g->cells[8 * e + c] = ((long long)(k + dk) * 2 + dj) * mx + (i + di);
      }
    }
}

static void beam_global_free(beam_global *g)
{
  free(g->coords);
  free(g->cells);
  free(g->layers);
  free(g->flags);
  memset(g, 0, sizeof *g);
}

/* The constraints and loads of one node from its flags and height z (see the top): kind[3], target
 * zero, force[3]. */
static void beam_node_conditions(const beam_case *beam, unsigned char flags, double z, unsigned char *kind,
                                 double *force)
{
  kind[0] = (flags & PP_NODE_X_MIN) != 0;
  kind[1] = 1; /* plane strain */
  kind[2] = (flags & PP_NODE_X_MIN) && (flags & PP_NODE_BASE);
  force[0] = force[1] = force[2] = 0;
  if (flags & PP_NODE_X_MAX) force[2] = -end_node_force(beam, z);
  if (flags & PP_NODE_X_MIN) force[2] = end_node_force(beam, z);
}

/* Trapezoid weight of a node in its end face's mean (1/2 on the top and bottom edges). */
static double face_weight(unsigned char flags) { return (flags & (PP_NODE_BASE | PP_NODE_SURFACE)) ? 0.5 : 1; }

/* Face-averaged u_z at x = L minus that at x = 0, from owned nodes' displacements (exact sums over comm). */
static double end_deflection(const unsigned char *flags, const double *u, int nodes, MPI_Comm comm)
{
  double *terms = calloc((size_t)nodes * 4 + 1, sizeof *terms);
  ck_assert_ptr_nonnull(terms);
  for (int n = 0; n < nodes; ++n) {
    const double w = face_weight(flags[n]);
    if (flags[n] & PP_NODE_X_MAX) {
      terms[n] = w * u[3 * n + 2];
      terms[nodes + n] = w;
    }
    if (flags[n] & PP_NODE_X_MIN) {
      terms[2 * (size_t)nodes + n] = w * u[3 * n + 2];
      terms[3 * (size_t)nodes + n] = w;
    }
  }
  double sums[4];
  for (int s = 0; s < 4; ++s)
    ck_assert_int_eq(pp_reduce_sum_host(terms + (size_t)s * nodes, (size_t)nodes, comm, &sums[s]), PP_OK);
  free(terms);
  return -(sums[0] / sums[1] - sums[2] / sums[3]); /* the load points along -z: a positive deflection */
}

/* ---- host comparison: the same hex8 linearised, with either volumetric integration ------------- */

/* Small-strain internal forces of the linear hex8 f = K u on the global mesh (rank 0 only):
 * sigma = 2 mu dev(eps) + kappa theta I at the 8 Gauss points, theta the Gauss point's own
 * divergence (locking: full integration of the volumetric term) or the element's mean divergence
 * (mean dilatation: the linearisation of host/element's J_bar; the element of every device run).
 * The beam's elements are boxes, so dN/dX is dN/dxi over the half-edges. Fixed DOFs in and out are 0. */
static void linear_hex8_product(const beam_global *g, const pp_material *law, int locking,
                                const unsigned char *fixed, const double *u, double *f)
{
  const double gauss = 1 / sqrt(3.0), mu = law->shear_modulus, kappa = law->bulk_modulus;
  memset(f, 0, (size_t)g->node_count * 3 * sizeof *f);
  for (long long e = 0; e < g->element_count; ++e) {
    double X[24], ue[24], fe[24] = {0}, half[3], dN[8][24], weight = 1, divergence[8], mean = 0;
    for (int c = 0; c < 8; ++c)
      for (int d = 0; d < 3; ++d) {
        const long long dof = 3 * g->cells[8 * e + c] + d;
        X[3 * c + d] = g->coords[dof];
        ue[3 * c + d] = fixed[dof] ? 0 : u[dof];
      }
    for (int d = 0; d < 3; ++d) {
      half[d] = (X[3 * 6 + d] - X[d]) / 2; /* corner 6 is corner 0's opposite */
      weight *= half[d];
    }
    for (int q = 0; q < 8; ++q) {
      divergence[q] = 0;
      for (int a = 0; a < 8; ++a) {
        double sign[3], factor[3];
        for (int d = 0; d < 3; ++d) {
          sign[d] = pp_hex_corner_bit(a, d) ? 1 : -1;
          factor[d] = 1 + sign[d] * (pp_hex_corner_bit(q, d) ? gauss : -gauss);
        }
        dN[q][3 * a] = 0.125 * sign[0] * factor[1] * factor[2] / half[0];
        dN[q][3 * a + 1] = 0.125 * factor[0] * sign[1] * factor[2] / half[1];
        dN[q][3 * a + 2] = 0.125 * factor[0] * factor[1] * sign[2] / half[2];
        for (int d = 0; d < 3; ++d) divergence[q] += ue[3 * a + d] * dN[q][3 * a + d];
      }
      mean += divergence[q] / 8;
    }
    for (int q = 0; q < 8; ++q) {
      double grad[9] = {0}, sigma[9];
      for (int a = 0; a < 8; ++a)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) grad[3 * i + j] += ue[3 * a + i] * dN[q][3 * a + j];
      const double volumetric = kappa * (locking ? divergence[q] : mean);
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
          sigma[3 * i + j] = mu * (grad[3 * i + j] + grad[3 * j + i]) +
                             (i == j ? volumetric - 2 * mu * divergence[q] / 3 : 0);
      for (int a = 0; a < 8; ++a)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) fe[3 * a + i] += weight * sigma[3 * i + j] * dN[q][3 * a + j];
    }
    for (int c = 0; c < 8; ++c)
      for (int d = 0; d < 3; ++d) f[3 * g->cells[8 * e + c] + d] += fe[3 * c + d];
  }
  for (long long dof = 0; dof < g->node_count * 3; ++dof)
    if (fixed[dof]) f[dof] = 0;
}

/* The host static deflection: K u = f on the free DOFs by conjugate gradients (K symmetric positive
 * definite once the rigid motions are held) to a relative residual of 1e-13. */
static double host_static_deflection(const beam_case *beam, const beam_global *g, int locking)
{
  const size_t n = (size_t)g->node_count * 3;
  unsigned char *fixed = calloc(n, 1);
  double *force = calloc(n, sizeof *force), *u = calloc(n, sizeof *u), *r = calloc(n, sizeof *r),
         *p = calloc(n, sizeof *p), *Kp = calloc(n, sizeof *Kp);
  ck_assert(fixed && force && u && r && p && Kp);
  for (long long node = 0; node < g->node_count; ++node)
    beam_node_conditions(beam, g->flags[node], g->coords[3 * node + 2], fixed + 3 * node, force + 3 * node);
  double rr = 0;
  for (size_t i = 0; i < n; ++i) {
    r[i] = p[i] = fixed[i] ? 0 : force[i];
    rr += r[i] * r[i];
  }
  const double stop = 1e-26 * rr;
  int it = 0;
  for (; it < 100000 && rr > stop; ++it) {
    linear_hex8_product(g, &beam->law, locking, fixed, p, Kp);
    double pKp = 0, next = 0;
    for (size_t i = 0; i < n; ++i) pKp += p[i] * Kp[i];
    const double alpha = rr / pKp;
    for (size_t i = 0; i < n; ++i) {
      u[i] += alpha * p[i];
      r[i] -= alpha * Kp[i];
      next += r[i] * r[i];
    }
    for (size_t i = 0; i < n; ++i) p[i] = r[i] + next / rr * p[i];
    rr = next;
  }
  ck_assert_msg(rr <= stop, "host CG did not converge in %d iterations", it);
  const double delta = end_deflection(g->flags, u, (int)g->node_count, MPI_COMM_SELF);
  free(fixed);
  free(force);
  free(u);
  free(r);
  free(p);
  free(Kp);
  return delta;
}

/* ---- the device: dynamic relaxation ------------------------------------------------------------ */

typedef struct {
  double deflection;        /* m, device dynamic relaxation */
  double mean_dilatation;   /* m, host linear solve, the same element */
  double locking;           /* m, host linear solve, volumetric term at the Gauss points */
  long long steps;
  double seconds, residual_ratio;
} beam_result;

static double seconds_since(const struct timespec *start)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + 1e-9 * (double)(now.tv_nsec - start->tv_nsec);
}

static beam_result solve_beam(const beam_case *beam, MPI_Comm comm, double tolerance)
{
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  beam_result result = {0};
  beam_global global = {0};
  pp_global_mesh view = {0};
  if (rank == 0) {
    beam_global_build(beam, &global);
    view = (pp_global_mesh){global.node_count, global.element_count, global.coords, global.cells, global.layers,
                            global.flags};
    result.mean_dilatation = host_static_deflection(beam, &global, 0);
    result.locking = host_static_deflection(beam, &global, 1);
  }
  double host[2] = {result.mean_dilatation, result.locking};
  MPI_Bcast(host, 2, MPI_DOUBLE, 0, comm);
  result.mean_dilatation = host[0];
  result.locking = host[1];

  pp_mesh mesh;
  pp_partition_stats stats;
  ck_assert_msg(pp_mesh_distribute(rank == 0 ? &view : NULL, 0, comm, &mesh, &stats) == PP_OK, "%s",
                pp_error_message());
  beam_global_free(&global);
  pp_mechanics_options options;
  pp_mechanics_options_default(&options, &beam->law);
  options.base = PP_BASE_FREE; /* every constraint is set below */
  pp_test_model model;
  pp_test_model_create(&model, &mesh, clrt, comm, &options);
  pp_mechanics *mechanics = model.mechanics;
  const int owned = mesh.owned_node_count;
  unsigned char *kind = calloc((size_t)owned * 3 + 1, 1);
  double *target = calloc((size_t)owned * 3 + 1, sizeof *target), *force = calloc((size_t)owned * 3 + 1, sizeof *force),
         *u = calloc((size_t)owned * 3 + 1, sizeof *u);
  ck_assert(kind && target && force && u);
  for (int n = 0; n < owned; ++n)
    beam_node_conditions(beam, mesh.node_boundary[n], mesh.node_coords[3 * n + 2], kind + 3 * n, force + 3 * n);
  ck_assert_int_eq(pp_mechanics_set_constraints(mechanics, kind, target), PP_OK);
  ck_assert_int_eq(pp_mechanics_set_external_force(mechanics, force), PP_OK);

  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pp_mechanics_relax_info relax;
  ck_assert_msg(pp_mechanics_relax(mechanics, tolerance, 2000000, &relax) == PP_OK, "%s", pp_error_message());
  result.seconds = seconds_since(&start);
  ck_assert_msg(relax.converged, "%d x %d beam: not relaxed after %lld steps (residual ratio %.3e)", beam->along,
                beam->across, relax.steps, relax.residual_ratio);
  result.steps = relax.steps;
  result.residual_ratio = relax.residual_ratio;
  ck_assert_int_eq(pp_mechanics_get_state(mechanics, u, NULL), PP_OK);
  result.deflection = end_deflection(mesh.node_boundary, u, owned, comm);
  free(kind);
  free(target);
  free(force);
  free(u);
  pp_test_model_destroy(&model);
  pp_mesh_free(&mesh);
  return result;
}

static int full_study(void)
{
  const char *full = getenv("PINPRICK_FULL");
  return full && strcmp(full, "1") == 0;
}

START_TEST(test_cantilever_converges_to_timoshenko)
{
  const double mu = 10e3, ratio = 500, height = 100e-6, slenderness = 4;
  beam_case beam = {
    .length = slenderness * height, .height = height, .width = height,
    .law = {PP_MATERIAL_NEO_HOOKEAN, PP_OGDEN_INITIAL_SHEAR_MODULUS, mu, 2, ratio * mu, 1100},
  };
  const double E = pp_material_young(&beam.law), nu = pp_material_poisson(&beam.law);
  const double E_plane = E / (1 - nu * nu), G = mu; /* plane strain: Timoshenko and Goodier section 8 */
  const double I = beam.width * pow(height, 3) / 12, A = beam.width * height, L = beam.length;
  beam.load = 1e-3 * 3 * E_plane * I / (L * L); /* Euler-Bernoulli delta / L = 1e-3 */
  const double bending = beam.load * pow(L, 3) / (3 * E_plane * I);
  const double k_timoshenko = 5.0 / 6, k_cowper = 10 * (1 + nu) / (12 + 11 * nu);
  const double timoshenko = bending + beam.load * L / (k_timoshenko * G * A);
  const double cowper = bending + beam.load * L / (k_cowper * G * A);
  /* |f_ext - f_int| <= 1e-6 |f_int|: the deflection then agrees with the host static solve to about
     5e-5 (1e-5: 4e-4; 1e-7: 5e-6, for 20 % more steps). */
  const double tolerance = 1e-6;
  if (runtime.rank == 0)
    printf("cantilever, plane strain, L/H = %g, neo-Hookean kappa/mu = %g (E = %.5g Pa, nu = %.5f, E' = %.5g Pa), "
           "P = %.4e N; Timoshenko delta = %.6e m (bending %.6e, shear k = 5/6 %.6e; with Cowper's k = %.4f: "
           "%.6e m); relaxation tolerance %.0e\n",
           slenderness, ratio, E, nu, E_plane, beam.load, timoshenko, bending, timoshenko - bending, k_cowper, cowper,
           tolerance);
  const int meshes = full_study() ? 4 : 3;
  double previous_error = INFINITY, finest_error = INFINITY;
  for (int m = 0; m < meshes; ++m) {
    beam.across = 1 << m;
    beam.along = (int)lround(slenderness * beam.across); /* square elements */
    const beam_result r = solve_beam(&beam, runtime.comm, tolerance);
    const double error = r.deflection / timoshenko - 1;
    const double relaxation_vs_static = r.deflection / r.mean_dilatation - 1;
    if (runtime.rank == 0)
      printf("  %3d x %d elements: delta %.6e m = %.5f x Timoshenko (error %+.2f %%); host static solve of the "
             "same element %.6e m (relaxation off by %.1e); locking element %.4f x Timoshenko; %lld relaxation "
             "steps (residual ratio %.1e) in %.1f s\n",
             beam.along, beam.across, r.deflection, r.deflection / timoshenko, 100 * error, r.mean_dilatation,
             relaxation_vs_static, r.locking / timoshenko, r.steps, r.residual_ratio, r.seconds);
    ck_assert_msg(fabs(relaxation_vs_static) < 1e-3, "%d x %d: relaxation %.6e vs static %.6e", beam.along,
                  beam.across, r.deflection, r.mean_dilatation);
    ck_assert_msg(fabs(error) < previous_error, "%d x %d: error %.4f did not fall (previous %.4f)", beam.along,
                  beam.across, fabs(error), previous_error);
    ck_assert_msg(r.locking < 0.4 * timoshenko, "%d x %d: the locking element gives %.3f of Timoshenko", beam.along,
                  beam.across, r.locking / timoshenko);
    previous_error = finest_error = fabs(error);
  }
  ck_assert_msg(finest_error < 0.03, "finest mesh %.2f %% off Timoshenko", 100 * finest_error);
}
END_TEST

/* One rank in CI (the relaxation's stop and result are the same bits on any rank count:
 * test_mechanics); the test itself runs on any number. */
int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("mechanics beam");
  TCase *tc = tcase_create("locking");
  tcase_set_timeout(tc, full_study() ? 1800 : 120);
  tcase_add_test(tc, test_cantilever_converges_to_timoshenko);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
