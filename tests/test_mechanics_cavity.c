/* V6 (PHYSICS.md sections 8.5 and 10): cavity expansion, the large-strain check for needle-track
 * opening. A pressurised cylindrical hole (plane strain) and a spherical cavity in neo-Hookean and
 * one-term Ogden bodies are loaded by a follower pressure on the cavity wall
 * (pp_mechanics_set_pressure_faces) in increments, each relaxed dynamically (pp_mechanics_relax).
 * After each increment the wall stretch lambda = a/A is measured and the applied pressure is
 * compared with the COMPRESSIBLE radial solution for the same law, kappa/mu and outer radius
 * (tests/cavity_reference: the reference-configuration equilibrium ODE shot to a traction-free
 * outer surface) at the measured stretch: |p / p_ref(lambda) - 1| < 2 % (V6: up to lambda = 3 for
 * the cylinder and 4 for the sphere). Comparing pressures at the measured stretch, not stretches at
 * the applied pressure, keeps the check sharp where p(lambda) is flat: the neo-Hookean sphere
 * approaches a limit pressure, and there a 1 % pressure error moves lambda by 10 % or more.
 * The incompressible forms of 8.5 (for the same finite outer radius) are printed beside it as the
 * sanity check: the neo-Hookean reference lies 0.03-1.2 % below them at kappa/mu = 50
 * (O(mu/kappa)), while the Ogden one lies far BELOW them at large stretch: at kappa/mu = 50 an
 * Ogden body dilates at the wall (J ~ 2-6) rather than pay the stiffening hoop stress, so at
 * lambda = 3 the alpha = 12 cylinder needs 18 x less pressure than the incompressible one, and the
 * alpha = 9 sphere 15 x less at lambda = 4. Physics, not a defect of either solution.
 *
 * Meshes (built on rank 0 and distributed, host/distribute):
 *  - cylinder: a quarter annulus A <= r <= B, one element thick in z, radial steps equal in ln R
 *    (every element about square, so the small ones sit at the hole), u_z = 0 on every node (plane
 *    strain), u_x = 0 on x = 0, u_y = 0 on y = 0;
 *  - sphere: an octant of the shell A <= r <= B, hexes only: the three faces x = 1, y = 1, z = 1 of
 *    the unit cube's octant, each an n x n equiangular grid, projected onto spheres whose radii
 *    grow geometrically ("cubed sphere"; no collapsed elements); u_x, u_y, u_z = 0 on the planes
 *    x, y, z = 0.
 * The outer surface is free. CI (about 25 s on two cores): the cylinder to lambda = 3 (neo-Hookean,
 * Ogden alpha = 12) and the sphere to 2.5 (neo-Hookean) and 2 (Ogden alpha = 9), kappa/mu = 50.
 * PINPRICK_FULL=1 adds the sphere to lambda = 4 (both laws, alpha = 9 and 12), a resolution study
 * (the cylinder with hoop and radial counts doubled), kappa/mu = 500 and a tighter relaxation stop. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cavity_reference.h"
#include "distribute.h"
#include "element.h"
#include "material.h"
#include "mechanics.h"
#include "mechanics_fixture.h"
#include "mesh.h"
#include "mpi_suite.h"
#include "reduce.h"

static pp_runtime runtime;
static pp_clrt *clrt;

/* Needle-track scale: a 100 um channel in dermis-like tissue (PHYSICS.md 2.2). Only ratios enter
 * the static answer (p / mu against lambda, B / A, kappa / mu). */
static const double inner_radius = 50e-6, shear_modulus = 0.1e6, density = 1100;

/* ---- meshes ------------------------------------------------------------------------------------ */

typedef struct {
  pp_cavity_geometry geometry;
  int hoop;            /* cylinder: elements over the quarter circle; sphere: along each cube-face edge */
  int radial;          /* elements from A to B */
  double outer_ratio;  /* B / A */
} cavity_mesh_spec;

/* The corners of hex face f, in mechanics.h's face numbering of pp_mechanics_set_pressure_faces. */
static const int face_corners[6][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {0, 1, 5, 4},
                                       {1, 2, 6, 5}, {2, 3, 7, 6}, {3, 0, 4, 7}};

/* The radius a node's position is measured by: in the plane for the cylinder, 3-D for the sphere. */
static double radius_of(pp_cavity_geometry geometry, const double x[3])
{
  return geometry == PP_CAVITY_CYLINDER ? hypot(x[0], x[1]) : sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

/* Shell k's radius: equal steps in ln R from A to B, so every element has about the same shape
 * (size ~ R) and the small ones sit at the wall, where the strains are largest. (Coarsening the
 * far field instead, steps growing by 1.15 outwards, made the sphere's error worse for the same
 * element count: 1.37 % with 9 radial against 1.19 % with 12 equal ones.) */
static double shell_radius(const cavity_mesh_spec *spec, int k)
{
  return k == spec->radial ? spec->outer_ratio * inner_radius
                           : inner_radius * pow(spec->outer_ratio, (double)k / spec->radial);
}

/* Global arrays of a mesh under construction (rank 0 only). */
typedef struct {
  long long node_count, element_count;
  double *coords;
  long long *cells;
  int *layers;
} global_arrays;

static void global_arrays_allocate(global_arrays *g, long long nodes, long long elements)
{
  g->node_count = nodes;
  g->element_count = elements;
  g->coords = calloc((size_t)nodes * 3, sizeof *g->coords);
  g->cells = calloc((size_t)elements * 8, sizeof *g->cells);
  g->layers = calloc((size_t)elements, sizeof *g->layers); /* one material: layer 0 */
  ck_assert(g->coords && g->cells && g->layers);
}

/* Quarter annulus, nodes (i radial, j hoop, k = 0, 1 through the thickness). Corners 0-3 on z = 0
 * counter-clockwise seen from +z ((r_i, t_j), (r_i+1, t_j), (r_i+1, t_j+1), (r_i, t_j+1)), 4-7 above:
 * a right-handed hex. The thickness is twice the inner hoop size: the slab's through-thickness
 * modes are held (u_z = 0) and loaded symmetrically, so only the step bound sees it, and a slab
 * thicker than the smallest in-plane size does not lower it. */
static void cylinder_arrays(const cavity_mesh_spec *spec, global_arrays *g)
{
  const int nr = spec->radial, nt = spec->hoop;
  const double thickness = 2 * inner_radius * (M_PI / 2) / nt;
  global_arrays_allocate(g, 2LL * (nr + 1) * (nt + 1), (long long)nr * nt);
#define CYLINDER_NODE(i, j, k) (((long long)(k) * (nt + 1) + (j)) * (nr + 1) + (i))
  for (int k = 0; k <= 1; ++k)
    for (int j = 0; j <= nt; ++j)
      for (int i = 0; i <= nr; ++i) {
        const double r = shell_radius(spec, i), angle = (M_PI / 2) * j / nt;
        double *x = g->coords + 3 * CYLINDER_NODE(i, j, k);
        /* exactly on the symmetry planes (cos(pi/2) is not 0 in floating point) */
        x[0] = j == nt ? 0 : r * cos(angle);
        x[1] = j == 0 ? 0 : r * sin(angle);
        x[2] = k * thickness;
      }
  for (int j = 0; j < nt; ++j)
    for (int i = 0; i < nr; ++i) {
      long long *cell = g->cells + 8 * ((long long)j * nr + i);
      const int di[4] = {0, 1, 1, 0}, dj[4] = {0, 0, 1, 1};
      for (int c = 0; c < 4; ++c) {
        cell[c] = CYLINDER_NODE(i + di[c], j + dj[c], 0);
        cell[c + 4] = CYLINDER_NODE(i + di[c], j + dj[c], 1);
      }
    }
#undef CYLINDER_NODE
}

/* Octant of a spherical shell. A surface point is the integer point (a, b, c) in [0, n]^3 with
 * max = n (the octant of the cube's surface), at the direction (t(a), t(b), t(c)) normalised,
 * t(i) = tan(pi/4 i/n) (equiangular: more uniform element sizes than equal steps in t). Points
 * on an edge shared by two faces get one id. Patch x = n spans (u, v) = (b, c), y = n (c, a),
 * z = n (a, b): in that order (e_u x e_v) points outward, so corners 0-3 on shell k
 * counter-clockwise seen from outside and 4-7 on shell k + 1 make a right-handed hex. */
static void sphere_arrays(const cavity_mesh_spec *spec, global_arrays *g)
{
  const int n = spec->hoop, nr = spec->radial, side = n + 1;
  int *surface_id = malloc((size_t)side * side * side * sizeof *surface_id);
  double(*direction)[3] = malloc((size_t)side * side * side * sizeof *direction);
  ck_assert(surface_id && direction);
  int surface_count = 0;
  for (int a = 0; a <= n; ++a)
    for (int b = 0; b <= n; ++b)
      for (int c = 0; c <= n; ++c) {
        const int index = (a * side + b) * side + c;
        surface_id[index] = -1;
        if (a != n && b != n && c != n) continue;
        const int integer[3] = {a, b, c};
        double t[3], norm = 0;
        for (int d = 0; d < 3; ++d) {
          /* exactly 0 on the symmetry planes, exactly 1 on the cube's faces */
          t[d] = integer[d] == 0 ? 0 : integer[d] == n ? 1 : tan(M_PI / 4 * integer[d] / n);
          norm += t[d] * t[d];
        }
        for (int d = 0; d < 3; ++d) direction[surface_count][d] = t[d] / sqrt(norm);
        surface_id[index] = surface_count++;
      }
  global_arrays_allocate(g, (long long)surface_count * (nr + 1), 3LL * n * n * nr);
  for (int k = 0; k <= nr; ++k)
    for (int s = 0; s < surface_count; ++s)
      for (int d = 0; d < 3; ++d)
        g->coords[3 * ((long long)k * surface_count + s) + d] = shell_radius(spec, k) * direction[s][d];
  long long e = 0;
  for (int patch = 0; patch < 3; ++patch)
    for (int k = 0; k < nr; ++k)
      for (int v = 0; v < n; ++v)
        for (int u = 0; u < n; ++u) {
          const int du[4] = {0, 1, 1, 0}, dv[4] = {0, 0, 1, 1};
          for (int c = 0; c < 4; ++c) {
            const int pu = u + du[c], pv = v + dv[c];
            /* (a, b, c) of the patch point (u, v): the patch axis is the fixed one at n */
            const int abc[3][3] = {{n, pu, pv}, {pv, n, pu}, {pu, pv, n}};
            const int s = surface_id[(abc[patch][0] * side + abc[patch][1]) * side + abc[patch][2]];
            g->cells[8 * e + c] = (long long)k * surface_count + s;
            g->cells[8 * e + c + 4] = (long long)(k + 1) * surface_count + s;
          }
          ++e;
        }
  free(surface_id);
  free(direction);
}

/* Builds the mesh on rank 0 (every element checked right-handed: positive volume) and distributes it. */
static void cavity_mesh(const cavity_mesh_spec *spec, MPI_Comm comm, pp_mesh *mesh)
{
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  global_arrays g = {0};
  pp_global_mesh global = {0};
  if (rank == 0) {
    if (spec->geometry == PP_CAVITY_CYLINDER)
      cylinder_arrays(spec, &g);
    else
      sphere_arrays(spec, &g);
    for (long long e = 0; e < g.element_count; ++e) {
      double X[24];
      for (int c = 0; c < 8; ++c)
        for (int d = 0; d < 3; ++d) X[3 * c + d] = g.coords[3 * g.cells[8 * e + c] + d];
      ck_assert_msg(pp_hex8_volume(X) > 0, "element %lld is not right-handed", e);
    }
    global = (pp_global_mesh){g.node_count, g.element_count, g.coords, g.cells, g.layers, NULL};
  }
  pp_partition_stats stats;
  ck_assert_msg(pp_mesh_distribute(rank == 0 ? &global : NULL, 0, comm, mesh, &stats) == PP_OK, "%s",
                pp_error_message());
  free(g.coords);
  free(g.cells);
  free(g.layers);
}

/* ---- the model --------------------------------------------------------------------------------- */

static int on_radius(pp_cavity_geometry geometry, const double x[3], double radius)
{
  return fabs(radius_of(geometry, x) - radius) <= 1e-9 * radius;
}

/* Symmetry planes (normal component held) and, for the cylinder, plane strain (u_z = 0 everywhere).
 * The outer surface is free; nothing else is held. */
static void cavity_constraints(const pp_mesh *mesh, pp_mechanics *mechanics, pp_cavity_geometry geometry)
{
  const int owned = mesh->owned_node_count;
  unsigned char *kind = calloc((size_t)owned * 3 + 1, 1);
  double *target = calloc((size_t)owned * 3 + 1, sizeof *target);
  ck_assert(kind && target);
  const double plane_tolerance = 1e-9 * inner_radius;
  for (int n = 0; n < owned; ++n) {
    const double *X = mesh->node_coords + 3 * n;
    for (int d = 0; d < 3; ++d)
      if (fabs(X[d]) <= plane_tolerance) kind[3 * n + d] = 1;
    if (geometry == PP_CAVITY_CYLINDER) kind[3 * n + 2] = 1;
  }
  ck_assert_int_eq(pp_mechanics_set_constraints(mechanics, kind, target), PP_OK);
  free(kind);
  free(target);
}

/* The cavity wall: the faces of local elements (owned and ghost) whose four corners lie on r = A. */
static void cavity_pressure_faces(const pp_mesh *mesh, pp_mechanics *mechanics, pp_cavity_geometry geometry)
{
  unsigned char *mask = calloc((size_t)mesh->element_count + 1, 1);
  ck_assert_ptr_nonnull(mask);
  for (int e = 0; e < mesh->element_count; ++e)
    for (int f = 0; f < 6; ++f) {
      int on_wall = 1;
      for (int a = 0; a < 4; ++a)
        on_wall &= on_radius(geometry, mesh->element_corner_coords + 24 * (size_t)e + 3 * face_corners[f][a],
                             inner_radius);
      if (on_wall) mask[e] |= (unsigned char)(1u << f);
    }
  ck_assert_msg(pp_mechanics_set_pressure_faces(mechanics, mask) == PP_OK, "%s", pp_error_message());
  free(mask);
}

typedef struct {
  double stretch; /* mean current radius of the wall nodes / A */
  double spread;  /* (largest - smallest wall radius) / mean: how round the wall stayed */
} wall_measure;

/* The wall nodes' current radii: exact global sums (the same on any rank count). */
static wall_measure measure_wall(const pp_mesh *mesh, pp_mechanics *mechanics, pp_cavity_geometry geometry,
                                 MPI_Comm comm)
{
  const int owned = mesh->owned_node_count;
  double *u = calloc((size_t)owned * 3 + 1, sizeof *u), *radius = calloc((size_t)owned + 1, sizeof *radius),
         *count = calloc((size_t)owned + 1, sizeof *count);
  ck_assert(u && radius && count);
  ck_assert_int_eq(pp_mechanics_get_state(mechanics, u, NULL), PP_OK);
  double largest = 0, smallest = INFINITY;
  for (int n = 0; n < owned; ++n) {
    const double *X = mesh->node_coords + 3 * n;
    if (!on_radius(geometry, X, inner_radius)) continue;
    const double x[3] = {X[0] + u[3 * n], X[1] + u[3 * n + 1], X[2] + u[3 * n + 2]};
    radius[n] = radius_of(geometry, x);
    count[n] = 1;
    largest = fmax(largest, radius[n]);
    smallest = fmin(smallest, radius[n]);
  }
  double sum = 0, nodes = 0;
  ck_assert_int_eq(pp_reduce_sum_host(radius, (size_t)owned, comm, &sum), PP_OK);
  ck_assert_int_eq(pp_reduce_sum_host(count, (size_t)owned, comm, &nodes), PP_OK);
  MPI_Allreduce(MPI_IN_PLACE, &largest, 1, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(MPI_IN_PLACE, &smallest, 1, MPI_DOUBLE, MPI_MIN, comm);
  ck_assert(nodes > 0);
  const double mean = sum / nodes;
  free(u);
  free(radius);
  free(count);
  return (wall_measure){mean / inner_radius, (largest - smallest) / mean};
}

/* ---- the cases --------------------------------------------------------------------------------- */

/* Relaxation stop: |f_ext - f_int| <= 1e-5 |f_int|. Against 1e-7 on the neo-Hookean cylinder the
 * wall stretch moves by at most 1.4e-4 and the pressure error by 2e-5, a thousand times below V6's
 * 2 % (the PINPRICK_FULL study repeats the comparison). */
static const double default_relax_tolerance = 1e-5;

enum { MAX_TARGETS = 8 };

typedef struct {
  const char *name;
  pp_material law;
  cavity_mesh_spec mesh;
  double targets[MAX_TARGETS]; /* wall stretches whose reference pressures are applied, ascending */
  int target_count;
  double required_stretch;     /* the wall must get this far (97 %: a stiffer mesh lags the target) */
  long long max_steps;         /* per increment */
  double step_safety;          /* 0: the default 0.9 */
  double relax_tolerance;      /* 0: default_relax_tolerance */
} cavity_case;

typedef struct {
  double worst_error;  /* largest |p / p_ref(lambda) - 1| over the increments */
  double worst_sanity; /* largest |p_ref / p_incompressible - 1| */
  double last_stretch;
  long long steps;
} cavity_result;

/* Loads the case in increments and prints one row per increment:
 *   target l     the stretch whose reference pressure is applied (the pressure schedule)
 *   p/mu         the applied pressure
 *   l            the measured wall stretch (mean current radius of the wall nodes / A)
 *   p_ref(l)/mu  the compressible reference at the measured stretch
 *   error        p / p_ref(l) - 1: V6's measure
 *   p_inc(l)/mu  the incompressible form (8.5, same finite B) and ref/inc-1: the sanity check
 *   spread       (largest - smallest wall radius) / mean: the sphere's facets make it nonzero
 *   steps        dynamic-relaxation steps of the increment */
static cavity_result run_cavity(const cavity_case *cc, MPI_Comm comm)
{
  const pp_cavity_geometry geometry = cc->mesh.geometry;
  const double outer_radius = cc->mesh.outer_ratio * inner_radius, mu = cc->law.shear_modulus;
  const double started = MPI_Wtime();
  pp_mesh mesh;
  cavity_mesh(&cc->mesh, comm, &mesh);
  pp_mechanics_options options;
  pp_mechanics_options_default(&options, &cc->law);
  options.base = PP_BASE_FREE; /* every constraint is set below */
  if (cc->step_safety > 0) options.step_safety = cc->step_safety;
  const double tolerance = cc->relax_tolerance > 0 ? cc->relax_tolerance : default_relax_tolerance;
  pp_test_model md;
  pp_test_model_create(&md, &mesh, clrt, comm, &options);
  cavity_constraints(&mesh, md.mechanics, geometry);
  cavity_pressure_faces(&mesh, md.mechanics, geometry);
  const int rank = mesh.rank;
  if (rank == 0)
    printf("V6 %s: %lld hexes (%d hoop x %d radial%s), B/A = %g, kappa/mu = %g, %d rank(s)\n"
           "  %8s %10s %10s %12s %10s %12s %10s %8s %8s\n",
           cc->name, mesh.global_element_count, cc->mesh.hoop, cc->mesh.radial,
           geometry == PP_CAVITY_SPHERE ? " per patch, 3 patches" : "", cc->mesh.outer_ratio,
           cc->law.bulk_modulus / mu, mesh.rank_count, "target l", "p/mu", "l", "p_ref(l)/mu", "error",
           "p_inc(l)/mu", "ref/inc-1", "spread", "steps");
  cavity_result result = {0};
  for (int i = 0; i < cc->target_count; ++i) {
    double pressure = 0;
    ck_assert_int_eq(pp_cavity_pressure(&cc->law, geometry, inner_radius, outer_radius, cc->targets[i], &pressure),
                     PP_OK);
    pp_mechanics_set_pressure(md.mechanics, pressure);
    pp_mechanics_relax_info relax;
    ck_assert_msg(pp_mechanics_relax(md.mechanics, tolerance, cc->max_steps, &relax) == PP_OK, "%s",
                  pp_error_message());
    ck_assert_msg(relax.converged, "%s, target stretch %.2f: not relaxed after %lld steps (residual ratio %.3e)",
                  cc->name, cc->targets[i], relax.steps, relax.residual_ratio);
    result.steps += relax.steps;
    const wall_measure wall = measure_wall(&mesh, md.mechanics, geometry, comm);
    double reference = 0, incompressible = 0;
    ck_assert_int_eq(pp_cavity_pressure(&cc->law, geometry, inner_radius, outer_radius, wall.stretch, &reference),
                     PP_OK);
    ck_assert_int_eq(
      pp_cavity_pressure_incompressible(&cc->law, geometry, inner_radius, outer_radius, wall.stretch, &incompressible),
      PP_OK);
    const double error = pressure / reference - 1, sanity = reference / incompressible - 1;
    if (rank == 0)
      printf("  %8.2f %10.5f %10.5f %12.5f %+10.2e %12.5f %+10.2e %8.1e %8lld\n", cc->targets[i], pressure / mu,
             wall.stretch, reference / mu, error, incompressible / mu, sanity, wall.spread, relax.steps);
    result.worst_error = fmax(result.worst_error, fabs(error));
    result.worst_sanity = fmax(result.worst_sanity, fabs(sanity));
    result.last_stretch = wall.stretch;
  }
  if (rank == 0)
    printf("  worst |error| %.2e up to l = %.3f; %lld relaxation steps, %.1f s\n", result.worst_error,
           result.last_stretch, result.steps, MPI_Wtime() - started);
  pp_test_model_destroy(&md);
  pp_mesh_free(&mesh);
  return result;
}

/* V6's acceptance: 2 % at every increment, the wall as far as required; for neo-Hookean the
 * reference within 3 % of the incompressible form (O(mu/kappa): at kappa/mu = 50 at most 0.5 %
 * for the cylinder at l = 3, 1.2 % for the sphere at l = 4.2; the helper's own test checks the
 * limit kappa -> inf). The Ogden reference is far below the incompressible form at
 * large stretch (printed, not asserted: the compressible body dilates instead). */
static cavity_result check_case(const cavity_case *cc)
{
  const cavity_result r = run_cavity(cc, runtime.comm);
  ck_assert_msg(r.last_stretch >= 0.97 * cc->required_stretch, "%s: the wall reached l = %.3f, not %.2f", cc->name,
                r.last_stretch, cc->required_stretch);
  ck_assert_msg(r.worst_error < 0.02, "%s: pressure %.2f %% off the compressible reference (V6: 2 %%)", cc->name,
                100 * r.worst_error);
  if (cc->law.model == PP_MATERIAL_NEO_HOOKEAN)
    ck_assert_msg(r.worst_sanity < 0.03, "%s: the compressible reference is %.2f %% off the incompressible form",
                  cc->name, 100 * r.worst_sanity);
  return r;
}

static pp_material law_of(pp_material_model kind, double alpha, double bulk_to_shear)
{
  return (pp_material){kind, PP_OGDEN_INITIAL_SHEAR_MODULUS, shear_modulus, alpha, bulk_to_shear * shear_modulus,
                       density};
}

static int full_study(void)
{
  const char *value = getenv("PINPRICK_FULL");
  return value && strcmp(value, "1") == 0;
}

/* The meshes. Cylinder 8 x 12 (element angle and ln-R step both about 0.19): within 0.3-0.8 %.
 * Sphere 4 x 4 per patch x 12 radial (576 hexes) for neo-Hookean: 1.2 % stiff at l = 1.25, less at
 * larger l; the measured error is about 0.8 % from the radial step and 0.4 % from the patch grid,
 * each falling as h^2 (0.75 % with 18 radial, 0.96 % with 6 x 6 per patch). The Ogden kernel costs
 * over ten times more per element (eigenvectors and powers at every Gauss point), so the Ogden
 * sphere runs on 3 x 3 per patch (324 hexes): 0.7 % at l = 1.25, 0.5 % at l = 2. */
static const cavity_mesh_spec cylinder_mesh = {PP_CAVITY_CYLINDER, 8, 12, 10};
static const cavity_mesh_spec sphere_mesh = {PP_CAVITY_SPHERE, 4, 12, 10};
static const cavity_mesh_spec ogden_sphere_mesh = {PP_CAVITY_SPHERE, 3, 12, 10};

static cavity_case cylinder_case(const char *name, pp_material law)
{
  return (cavity_case){.name = name, .law = law, .mesh = cylinder_mesh, .targets = {1.5, 2.25, 3}, .target_count = 3,
                       .required_stretch = 3, .max_steps = 400000};
}

/* CI: the cylinder to V6's l = 3 (neo-Hookean and skin's alpha = 12, PHYSICS.md 2.2). */
START_TEST(test_cylinder_neo_hookean)
{
  const cavity_case cc = cylinder_case("cylinder neo-Hookean", law_of(PP_MATERIAL_NEO_HOOKEAN, 2, 50));
  check_case(&cc);
}
END_TEST

START_TEST(test_cylinder_ogden)
{
  const cavity_case cc = cylinder_case("cylinder Ogden a=12", law_of(PP_MATERIAL_OGDEN, 12, 50));
  check_case(&cc);
}
END_TEST

/* CI: the sphere to l = 2.5 (neo-Hookean) and 2 (Ogden, alpha = 9). Further out the wall elements
 * thin (l_r = 0.07 at l = 4, neo-Hookean), p(l) flattens, and pressure-controlled relaxation to
 * l = 4 takes about 3e5 steps (neo-Hookean, 1.5 min) and 1e5 (Ogden, 2-3 min): PINPRICK_FULL=1. */
START_TEST(test_sphere_neo_hookean)
{
  const cavity_case cc = {.name = "sphere neo-Hookean", .law = law_of(PP_MATERIAL_NEO_HOOKEAN, 2, 50),
                          .mesh = sphere_mesh, .targets = {1.5, 2, 2.5}, .target_count = 3, .required_stretch = 2.5,
                          .max_steps = 400000};
  check_case(&cc);
}
END_TEST

START_TEST(test_sphere_ogden)
{
  const cavity_case cc = {.name = "sphere Ogden a=9", .law = law_of(PP_MATERIAL_OGDEN, 9, 50),
                          .mesh = ogden_sphere_mesh,
                          .targets = {1.5, 2}, .target_count = 2, .required_stretch = 2, .max_steps = 400000};
  check_case(&cc);
}
END_TEST

/* ---- PINPRICK_FULL=1: the whole range, resolution, kappa/mu = 500, the relaxation stop ------------ */

/* The sphere to V6's l = 4. neo-Hookean: B/A = 20, because with B/A = 10 p(l) has its maximum
 * (1.912 mu) at l = 4.8 and the ~1 % stiff mesh would reach l = 4 only at that maximum, where the
 * cavity mode has no stiffness; with B/A = 20 the schedule aims at the reference's l = 4.3 so that
 * the mesh passes l = 4. */
START_TEST(test_full_sphere_to_four)
{
  const cavity_mesh_spec wide = {PP_CAVITY_SPHERE, 4, 16, 20};
  const cavity_case cases[3] = {
    {.name = "sphere neo-Hookean", .law = law_of(PP_MATERIAL_NEO_HOOKEAN, 2, 50), .mesh = wide,
     .targets = {1.25, 1.5, 2, 2.5, 3, 3.5, 4.3}, .target_count = 7, .required_stretch = 4, .max_steps = 3000000},
    {.name = "sphere Ogden a=9", .law = law_of(PP_MATERIAL_OGDEN, 9, 50), .mesh = ogden_sphere_mesh,
     .targets = {1.25, 1.5, 2, 2.5, 3, 3.5, 4}, .target_count = 7, .required_stretch = 4, .max_steps = 3000000},
    {.name = "sphere Ogden a=12", .law = law_of(PP_MATERIAL_OGDEN, 12, 50), .mesh = ogden_sphere_mesh,
     .targets = {1.25, 1.5, 2, 2.5, 3, 3.5, 4}, .target_count = 7, .required_stretch = 4, .max_steps = 3000000},
  };
  check_case(&cases[_i]);
}
END_TEST

/* Resolution: the cylinder at the CI mesh and with hoop and radial counts doubled; the error must
 * fall (second order: about 4 x). */
START_TEST(test_full_cylinder_resolution)
{
  const pp_material laws[2] = {law_of(PP_MATERIAL_NEO_HOOKEAN, 2, 50), law_of(PP_MATERIAL_OGDEN, 12, 50)};
  const char *names[2] = {"cylinder neo-Hookean", "cylinder Ogden a=12"};
  cavity_case cc = {.name = names[_i], .law = laws[_i], .mesh = cylinder_mesh, .targets = {1.25, 1.5, 2, 2.5, 3},
                    .target_count = 5, .required_stretch = 3, .max_steps = 3000000};
  const cavity_result coarse = check_case(&cc);
  cc.mesh.hoop *= 2;
  cc.mesh.radial *= 2;
  const cavity_result fine = check_case(&cc);
  if (runtime.rank == 0)
    printf("  %s: worst error %.2e (%d x %d) -> %.2e (%d x %d): ratio %.2f\n", names[_i], coarse.worst_error,
           cylinder_mesh.hoop, cylinder_mesh.radial, fine.worst_error, cc.mesh.hoop, cc.mesh.radial,
           coarse.worst_error / fine.worst_error);
  ck_assert_msg(fine.worst_error < coarse.worst_error, "refining did not reduce the error");
}
END_TEST

/* kappa/mu = 500 (nu = 0.499): dilatational waves 3 x faster, so about 3 x the steps. The Ogden
 * sphere needs a finer radial step there: on 3 x 12 it is 2.2 % soft at l = 2 (4 x 12: 2.8 %),
 * on 3 x 18 within 0.2 % (4 x 18: 0.8 %); the wall layer's gradients are what it must resolve. */
START_TEST(test_full_nearly_incompressible)
{
  const cavity_mesh_spec ogden_sphere_radially_finer = {PP_CAVITY_SPHERE, 3, 18, 10};
  const cavity_case cases[4] = {
    cylinder_case("cylinder neo-Hookean", law_of(PP_MATERIAL_NEO_HOOKEAN, 2, 500)),
    cylinder_case("cylinder Ogden a=12", law_of(PP_MATERIAL_OGDEN, 12, 500)),
    {.name = "sphere neo-Hookean", .law = law_of(PP_MATERIAL_NEO_HOOKEAN, 2, 500), .mesh = sphere_mesh,
     .targets = {1.5, 2, 2.5}, .target_count = 3, .required_stretch = 2.5, .max_steps = 3000000},
    {.name = "sphere Ogden a=9", .law = law_of(PP_MATERIAL_OGDEN, 9, 500), .mesh = ogden_sphere_radially_finer,
     .targets = {1.5, 2}, .target_count = 2, .required_stretch = 2, .max_steps = 3000000},
  };
  check_case(&cases[_i]);
}
END_TEST

/* The relaxation stop: the neo-Hookean cylinder at 1e-7 moves the error by less than 1e-3. */
START_TEST(test_full_relax_tolerance)
{
  cavity_case cc = cylinder_case("cylinder neo-Hookean", law_of(PP_MATERIAL_NEO_HOOKEAN, 2, 50));
  const cavity_result loose = check_case(&cc);
  cc.relax_tolerance = 1e-7;
  cc.max_steps = 3000000;
  const cavity_result tight = check_case(&cc);
  const double change = fabs(tight.worst_error - loose.worst_error);
  if (runtime.rank == 0)
    printf("  relaxation stop 1e-5 -> 1e-7: wall stretch %.6f -> %.6f, worst error %.3e -> %.3e\n",
           loose.last_stretch, tight.last_stretch, loose.worst_error, tight.worst_error);
  ck_assert_msg(change < 1e-3, "the error moved by %.3e when the relaxation stop tightened", change);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("mechanics_cavity");
  /* one case each, so CK_RUN_CASE can pick one */
  const struct {
    const char *name;
    const TTest *test;
    int loops; /* 0: a plain test */
  } cases[] = {{"cylinder_neo_hookean", test_cylinder_neo_hookean, 0},
               {"cylinder_ogden", test_cylinder_ogden, 0},
               {"sphere_neo_hookean", test_sphere_neo_hookean, 0},
               {"sphere_ogden", test_sphere_ogden, 0},
               {"full_sphere_to_four", test_full_sphere_to_four, 3},
               {"full_cylinder_resolution", test_full_cylinder_resolution, 2},
               {"full_nearly_incompressible", test_full_nearly_incompressible, 4},
               {"full_relax_tolerance", test_full_relax_tolerance, 1}};
  const int full = full_study();
  if (runtime.rank == 0 && !full)
    printf("PINPRICK_FULL=1 adds the sphere to l = 4, a resolution study, kappa/mu = 500 and a tighter "
           "relaxation stop\n");
  for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
    if (cases[i].loops && !full) continue;
    TCase *tc = tcase_create(cases[i].name);
    if (cases[i].loops)
      tcase_add_loop_test(tc, cases[i].test, 0, cases[i].loops);
    else
      tcase_add_test(tc, cases[i].test);
    suite_add_tcase(suite, tc);
  }
  return pp_test_finish_device(suite, &runtime, clrt);
}
