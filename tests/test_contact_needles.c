/* Needle contact (host/contact, kernels/contact.cl) with friction and several needles, in explicit
 * dynamics through the mechanics module:
 *  - the Coulomb law while a flat punch slides over a block's whole top face;
 *  - four identical needles placed symmetrically: equal forces, a mirror-symmetric field;
 *  - four needles moving differently, with friction: the same bits on 1, 2 and 4 ranks as a
 *    serial run of the same model. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contact.h"
#include "material.h"
#include "mechanics.h"
#include "mechanics_fixture.h"
#include "mesh.h"
#include "mpi_suite.h"

#define OK(call) ck_assert_msg((call) == PP_OK, "%s", pp_error_message())

static pp_runtime runtime;
static pp_clrt *clrt;
static const double um = 1e-6;

static double sum_all(double value, MPI_Comm comm)
{
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, comm);
  return value;
}

static double max_all(double value, MPI_Comm comm)
{
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, comm);
  return value;
}

/* ---- Coulomb's law while sliding -------------------------------------------------------------- */

/* What one state of the sliding block says about the top face (its owned nodes on every rank). */
typedef struct {
  double mean_x;        /* m, mass-weighted mean x displacement of the top face */
  double cosine_defect; /* largest 1 - cos(theta) over the top nodes, theta the angle of the slip
                           (v_node - v_needle in the face's plane) from -x */
  double min_slip;      /* m/s, the smallest slip speed |v_t| over the top nodes */
} top_face;

static top_face top_face_state(const pp_mesh *mesh, pp_mechanics *mechanics, double needle_speed, double *u, double *v)
{
  OK(pp_mechanics_get_state(mechanics, u, v));
  const double *mass = pp_mechanics_node_mass(mechanics);
  double mass_sum = 0, moment = 0, defect = 0, min_slip = INFINITY;
  for (int n = 0; n < mesh->owned_node_count; ++n) {
    if (!(mesh->node_boundary[n] & PP_NODE_SURFACE)) continue;
    mass_sum += mass[n];
    moment += mass[n] * u[3 * n];
    /* the slip in the needle's plane (its normal is z): (v_x - V, v_y) */
    const double sx = v[3 * n] - needle_speed, sy = v[3 * n + 1], slip = hypot(sx, sy);
    min_slip = fmin(min_slip, slip);
    defect = fmax(defect, slip > 0 ? 1 - -sx / slip : 1);
  }
  top_face t;
  t.mean_x = sum_all(moment, runtime.comm) / sum_all(mass_sum, runtime.comm);
  t.cosine_defect = max_all(defect, runtime.comm);
  t.min_slip = -max_all(-min_slip, runtime.comm);
  return t;
}

/* A 1 mm cube (4^3 elements, base fixed, sides free) under a rigid flat punch wider than the cube
 * (half-angle 90 degrees, tip radius 0: its flat end covers the whole top face at every position),
 * pressed d = 20 um, then dragged sideways at a constant speed V with friction mu = 0.3 by explicit
 * steps, the punch at its end-of-step position before each step (host/stage1.c's run_steps).
 *
 * Analytic source: Coulomb's law of sliding friction (Johnson 1985, Contact Mechanics, section 7.1;
 * Wriggers 2006, Computational Contact Mechanics, section 5.2): where a surface point slips, the
 * tangential traction is mu times the normal pressure, against the slip, and dissipates
 * mu p |slip velocity| per unit area.
 *
 * Force. Under a flat punch the normal is exactly z (up to cos(pi/2) = 6e-17 in the shape's
 * parameters). The contact's stick/slip test (kernels/contact.cl) gives each top node either the
 * force that keeps it on the punch (below mu N_i: it sticks) or mu N_i against its slip. So:
 *   stick: while the punch has moved less than half the sliding onset (below), -F_x < mu F_z;
 *   slide: once every node slides steadily, -F_x / (mu F_z) = 1 up to the slip directions, which in
 *          steady sliding are x to rounding: asserted to 1e-6 over the whole measured window.
 * The punch moves slowly: a quarter of the speed below which the first version of the contact
 * (a stick cap on the current slip velocity alone) gave viscous, not Coulomb, friction (measured
 * then: 0.25 mu F_z in steady sliding at this speed).
 *
 * Dissipation. The code accumulates E = sum_n sum_i mu N_i^{n+1} |v_t,i^{n+1/2}| dt_n (the rectangle
 * rule, the power sampled at each step's end), and u^{n+1} - u^n = dt v^{n+1/2}, so over a window of
 * steady sliding E = mu N S, S = punch travel - the face's (mass-)mean x motion, up to
 *   rectangle rule:  mu V sum_n |N^{n+1} - N^n| dt_n / 2 against N's trapezoid time average (first
 *                    order in dt: the end sample versus the step's mean);
 *   face motion:     2 mu max N sum_n max_i |du_x,i^n| (each node's slip differs from the mean slip
 *                    by at most the face's own motion, whichever weights N_i give it);
 *   slip direction:  E max_i (1 / cos theta_i - 1) (|v_t| against its x part);
 *   rounding:        1e-12 E.
 * The test asserts the sum of these is below 1e-3 E, so it is a tight check, not a loose one.
 *
 * Onset of sliding: the face sticks until its shear traction reaches mu sigma, at a lateral
 * displacement of about mu sigma L / G (simple shear of the cube; bending of the free-sided cube adds
 * to it); the punch travels 10 times that, and the last 30 % of the travel is the measured window.
 * The block is damped (mass-proportional, critical for its lowest shear mode), which does not
 * enter the friction: in steady sliding the block is at rest;
 * kinetic/stored is asserted small (quasi-static). */
START_TEST(test_coulomb_sliding)
{
  const double L = 1e-3, depth = 20 * um, mu = 0.3, zero[3] = {0, 0, 0}, start = MPI_Wtime();
  const int n = 4;
  const pp_material law = pp_test_block_law();
  pp_mechanics_options options;
  pp_mechanics_options_default(&options, &law);
  options.base = PP_BASE_FIXED;
  /* 2 omega, omega ~ (pi / 2) c_s / L: the lowest mode of a shear beam fixed at its base */
  const double shear_speed = sqrt(law.shear_modulus / law.density);
  options.damping = M_PI * shear_speed / L;
  pp_mesh mesh;
  pp_test_box_mesh(n, L, 0, runtime.comm, &mesh);
  pp_test_model md;
  pp_test_model_create(&md, &mesh, clrt, runtime.comm, &options);
  pp_contact *contact = NULL;
  OK(pp_contact_create(&contact, &mesh, clrt, md.reduce, runtime.comm, 1));
  const double dt_0 = pp_mechanics_stable_step(md.mechanics); /* the one k_n is set from */
  OK(pp_mechanics_set_contact(md.mechanics, contact, 0.1));
  double p[PP_CONTACT_SHAPE_PARAMS];
  const double x0 = L / 2, shaft = 3 * L;
  pp_test_vertical_needle(x0, L / 2, L - depth, 0, M_PI / 2, shaft, 10 * L, p);
  OK(pp_contact_set_needles(contact, p, zero, &mu));
  pp_mechanics_relax_info relax;
  OK(pp_mechanics_relax(md.mechanics, 1e-7, 200000, &relax));
  ck_assert_msg(relax.converged, "pressing: not relaxed after %lld steps", relax.steps);
  pp_contact_needle_totals pressed;
  OK(pp_contact_needle(contact, 0, &pressed));
  pp_contact_energy energy;
  OK(pp_contact_energy_terms(contact, &energy));
  const long long top_nodes = (long long)(n + 1) * (n + 1);
  ck_assert_msg(pressed.contact_nodes == top_nodes, "pressed: %lld nodes in contact, expected the %lld top nodes",
                pressed.contact_nodes, top_nodes);
  const double sigma = pressed.force[2] / (L * L), onset = mu * sigma * L / law.shear_modulus;
  const double dt = pp_mechanics_automatic_step(md.mechanics);
  const double cap_speed = 0.4 * mu * energy.max_penetration * dt / (dt_0 * dt_0), speed = cap_speed / 4;
  const double travel = 10 * onset, window_start = 0.7 * travel;
  if (runtime.rank == 0)
    printf("Coulomb sliding (%d ranks): pressed %g um: F_z = %.6e N (sigma = %.4g Pa), deepest penetration %.3g um, "
           "%lld relaxation steps; sliding expected after ~%.3g um; punch speed %.4g m/s (%.3g um per step of %.3g "
           "ns), travel %.4g um\n", runtime.size, depth / um, pressed.force[2], sigma, energy.max_penetration / um,
           relax.steps, onset / um, speed, speed * dt / um, dt * 1e9, travel / um);

  const double velocity[3] = {speed, 0, 0};
  const size_t owned3 = (size_t)mesh.owned_node_count * 3;
  double *u = pp_test_owned_array(&mesh, 3), *v = pp_test_owned_array(&mesh, 3);
  double *u_before = pp_test_owned_array(&mesh, 3);
  double moved = 0, sliding_from = -1, worst_sticking_ratio = 0, largest_kinetic_ratio = 0, worst_direction = 0;
  /* window sums: time, travel, trapezoid integral of N, rectangle-rule and face-motion bounds */
  double window_time = 0, window_moved = 0, force_integral = 0, rectangle_bound = 0, face_path = 0, force_max = 0;
  double dissipated_start = 0, mean_start = 0, force_previous = 0, face_at_sliding = 0;
  double window_ratio_error = 0;
  long long steps = 0, window_steps = 0, sticking_steps = 0;
  top_face face = top_face_state(&mesh, md.mechanics, speed, u, v);
  while (moved < travel) {
    const double step = pp_mechanics_automatic_step(md.mechanics);
    pp_test_vertical_needle(x0 + moved + speed * step, L / 2, L - depth, 0, M_PI / 2, shaft, 10 * L, p);
    OK(pp_contact_set_needles(contact, p, velocity, &mu));
    pp_mechanics_step_info info;
    memcpy(u_before, u, owned3 * sizeof *u);
    OK(pp_mechanics_step(md.mechanics, step, &info));
    moved += speed * step;
    steps += 1;
    face = top_face_state(&mesh, md.mechanics, speed, u, v);
    pp_contact_needle_totals t;
    OK(pp_contact_needle(contact, 0, &t));
    OK(pp_contact_energy_terms(contact, &energy));
    const double ratio = -t.force[0] / (mu * t.force[2]), ratio_error = fabs(ratio - 1);
    if (ratio_error > 1e-6) sliding_from = -1;
    else if (sliding_from < 0) {
      sliding_from = moved;
      face_at_sliding = face.mean_x;
    }
    /* sticking: the face follows the punch, held by friction below mu N */
    if (moved > 0.2 * onset && moved < 0.5 * onset) {
      sticking_steps += 1;
      worst_sticking_ratio = fmax(worst_sticking_ratio, ratio);
      ck_assert_msg(ratio < 1 - 1e-3, "step %lld, punch moved %.4g um (sliding onset ~%.4g um): -F_x / (mu F_z) = "
                    "%.6f: sliding already", steps, moved / um, onset / um, ratio);
    }
    if (moved < window_start) continue;
    double face_step = 0; /* the face's largest x motion in this step */
    for (int i = 0; i < mesh.owned_node_count; ++i)
      if (mesh.node_boundary[i] & PP_NODE_SURFACE) face_step = fmax(face_step, fabs(u[3 * i] - u_before[3 * i]));
    face_step = max_all(face_step, runtime.comm);
    if (window_steps == 0) {
      dissipated_start = energy.friction_dissipated;
      mean_start = face.mean_x;
    } else {
      window_time += step;
      window_moved += speed * step;
      force_integral += (force_previous + t.force[2]) / 2 * step;
      rectangle_bound += mu * speed * fabs(t.force[2] - force_previous) * step / 2;
      face_path += face_step;
    }
    force_previous = t.force[2];
    force_max = fmax(force_max, t.force[2]);
    window_steps += 1;
    worst_direction = fmax(worst_direction, face.cosine_defect);
    window_ratio_error = fmax(window_ratio_error, ratio_error);
    ck_assert_msg(t.contact_nodes == top_nodes, "step %lld: %lld contact nodes", steps, t.contact_nodes);
    ck_assert_msg(ratio_error <= 1e-6, "step %lld in the window: -F_x / (mu F_z) = %.12f", steps, ratio);
    largest_kinetic_ratio = fmax(largest_kinetic_ratio, info.kinetic_ratio);
  }
  if (runtime.rank == 0)
    printf("Coulomb sliding: every top node at mu N (|-F_x/(mu F_z) - 1| <= 1e-6 from then on) after %.4g um of "
           "punch travel, the face's mean x displacement then %.4g um (%.2f s)\n", sliding_from / um,
           face_at_sliding / um, MPI_Wtime() - start);
  const double mean_force = force_integral / window_time, face_moved = face.mean_x - mean_start;
  const double slip = window_moved - face_moved, dissipated = energy.friction_dissipated - dissipated_start;
  const double expected = mu * mean_force * slip;
  const double direction_bound = dissipated * (1 / (1 - worst_direction) - 1);
  const double motion_bound = 2 * mu * force_max * face_path;
  const double tolerance = rectangle_bound + motion_bound + direction_bound + 1e-12 * dissipated;
  if (runtime.rank == 0)
    printf("Coulomb sliding: %lld steps, %lld of them sticking (punch at 0.2-0.5 of the onset): there -F_x/(mu F_z) "
           "<= %.4f; window %lld steps (%.4g um of travel, the face's mean moved %.3g um): worst |-F_x/(mu F_z) - 1| "
           "= %.3e; kinetic/stored <= %.3e; friction dissipated %.9e J vs mu N S = %.9e J: relative %.3e, "
           "tolerance %.3e (rectangle rule %.1e, face motion %.1e, direction %.1e)\n",
           steps, sticking_steps, worst_sticking_ratio, window_steps, window_moved / um,
           face_moved / um, window_ratio_error, largest_kinetic_ratio, dissipated, expected,
           dissipated / expected - 1, tolerance / expected, rectangle_bound / expected, motion_bound / expected,
           direction_bound / expected);
  ck_assert_msg(sticking_steps > 0, "no step checked the sticking phase (0.2-0.5 of the onset)");
  ck_assert_msg(sliding_from > 0 && sliding_from < window_start, "not sliding before the window (from %.4g um)",
                sliding_from / um);
  ck_assert_msg(fabs(face_moved) < 1e-3 * window_moved, "the face moved %.3g um of the punch's %.3g um: not sliding",
                face_moved / um, window_moved / um);
  ck_assert_msg(largest_kinetic_ratio < 1e-6, "not quasi-static: kinetic/stored %.3e", largest_kinetic_ratio);
  ck_assert_msg(tolerance < 1e-3 * dissipated, "the energy tolerance %.3e J is not tight (%.3e J dissipated)",
                tolerance, dissipated);
  ck_assert_msg(fabs(dissipated - expected) <= tolerance, "friction dissipated %.12e J, mu N S %.12e J: off by %.3e "
                "> %.3e", dissipated, expected, dissipated - expected, tolerance);
  free(u);
  free(v);
  free(u_before);
  pp_test_model_destroy(&md);
  pp_contact_destroy(contact);
  pp_mesh_free(&mesh);
}
END_TEST

/* ---- four needles ------------------------------------------------------------------------------ */

enum { FOUR = 4, NEEDLE_VALUES = 8, ENERGY_VALUES = 4, BALANCE_VALUES = 4 };
static const double four_centre = 200e-6, four_offset = 80e-6; /* x0 = y0, s */
static const double four_tip_radius = 20e-6, four_half_angle = 15 * M_PI / 180, four_shaft = 40e-6;

typedef struct {
  pp_mesh mesh;
  pp_test_model core;
  pp_contact *contact;
} needle_model;

/* A 400 x 400 x 240 um block of one material, base fixed, sides free, graded towards the four needle
 * axes x, y = x0 +- s (and x0, y0 when centre_line): the axes are node lines and the mesh is
 * mirror-symmetric about x0 and y0. */
static void four_needle_block(needle_model *md, int rank, int size, MPI_Comm comm, double damping, int centre_line)
{
  const double refine[3] = {four_centre - four_offset, four_centre + four_offset, four_centre};
  pp_mesh_spec spec = {
    .length_x = 2 * four_centre, .length_y = 2 * four_centre, .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .refine_x = refine, .refine_y = refine, .refine_x_count = 2 + centre_line, .refine_y_count = 2 + centre_line,
    .lateral_fine_size = 16 * um, .lateral_fine_radius = 30 * um, .lateral_growth = 1.4, .lateral_max_size = 60 * um,
    .surface_size = 12 * um, .depth_growth = 1.4, .depth_max_size = 60 * um, .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = 48 * um;
  OK(pp_mesh_generate(&spec, rank, size, &md->mesh));
  const pp_material law = pp_test_block_law();
  pp_mechanics_options options;
  pp_mechanics_options_default(&options, &law);
  options.base = PP_BASE_FIXED;
  options.damping = damping;
  pp_test_model_create(&md->core, &md->mesh, clrt, comm, &options);
  OK(pp_contact_create(&md->contact, &md->mesh, clrt, md->core.reduce, comm, FOUR));
  OK(pp_mechanics_set_contact(md->core.mechanics, md->contact, 0.1));
}

static void needle_model_free(needle_model *md)
{
  pp_test_model_destroy(&md->core);
  pp_contact_destroy(md->contact);
  pp_mesh_free(&md->mesh);
}

/* Needle k's axis: x0 -+ s (bit 0 of k), y0 -+ s (bit 1). */
static double needle_axis(int k, int direction)
{
  return four_centre + ((k >> direction) & 1 ? four_offset : -four_offset);
}

/* Every node's displacement (or reference coordinates) by global id [global nodes * 3], on every
 * rank (each global node has one owner: a sum of one value and zeros). */
static double *gather_nodes(const pp_mesh *mesh, const double *owned_values, MPI_Comm comm)
{
  const size_t total = (size_t)mesh->global_node_count * 3;
  double *all = calloc(total + 1, sizeof *all);
  ck_assert_ptr_nonnull(all);
  for (int n = 0; n < mesh->owned_node_count; ++n)
    for (int d = 0; d < 3; ++d) all[3 * (size_t)mesh->node_global_id[n] + d] = owned_values[3 * n + d];
  MPI_Allreduce(MPI_IN_PLACE, all, (int)total, MPI_DOUBLE, MPI_SUM, comm);
  return all;
}

/* Four identical needles (rounded tip R = 20 um, half-angle 15 degrees, mu = 0.3) at (x0 +- s,
 * y0 +- s) pressed 12 um into the mirror-symmetric block and relaxed.
 *
 * Source: symmetry (the LULESH verification practice: a symmetric problem must give a symmetric
 * answer; LULESH 2.0's VerifyAndWriteFinalOutput reports the asymmetry of its final energy field:
 * Karlin, Keasler and Neely 2013, LULESH 2.0 Updates and Changes, LLNL-TR-641973). The mesh, the
 * loads and the needles are invariant under the mirrors x -> 2 x0 - x and y -> 2 y0 - y, so the
 * exact discrete solution is too: u_x(2 x0 - x, y, z) = -u_x(x, y, z), u_y and u_z even, and
 * likewise in y; the four needles carry the same axial force, and their lateral forces (from the
 * block's edges and the other needles, a few 1e-3 of the axial force) are mirror images. The
 * floating-point operations are not mirror-symmetric (X + u rounds differently on either side), so
 * the computed answer is symmetric to rounding amplified by the relaxation's conditioning: asserted
 * to 1e-9 relative (of the largest displacement; of the axial force). A needle's force landing in
 * another needle's sums, a node or needle skipped, or a force missing across a partition boundary
 * breaks it at the size of the lateral forces or more. */
START_TEST(test_four_needles_symmetric)
{
  needle_model md;
  four_needle_block(&md, runtime.rank, runtime.size, runtime.comm, 0, 0);
  const pp_mesh *mesh = &md.mesh;
  const double depth = 12 * um, zero[3 * FOUR] = {0}, mu[FOUR] = {0.3, 0.3, 0.3, 0.3};
  double params[FOUR * PP_CONTACT_SHAPE_PARAMS];
  for (int k = 0; k < FOUR; ++k)
    pp_test_vertical_needle(needle_axis(k, 0), needle_axis(k, 1), -depth, four_tip_radius, four_half_angle, four_shaft,
                    1e-3, params + k * PP_CONTACT_SHAPE_PARAMS);
  OK(pp_contact_set_needles(md.contact, params, zero, mu));
  const double start = MPI_Wtime();
  pp_mechanics_relax_info relax;
  OK(pp_mechanics_relax(md.core.mechanics, 1e-6, 100000, &relax));
  ck_assert_msg(relax.converged, "four needles: not relaxed after %lld steps", relax.steps);
  const double seconds = MPI_Wtime() - start;
  pp_contact_needle_totals t[FOUR];
  for (int k = 0; k < FOUR; ++k) OK(pp_contact_needle(md.contact, k, &t[k]));
  double force_error = 0, lateral_error = 0;
  for (int k = 1; k < FOUR; ++k) force_error = fmax(force_error, fabs(t[k].axial_force - t[0].axial_force));
  /* needle k's mirror in x is k ^ 1, in y k ^ 2: F_x odd under the x mirror, F_y even, ... */
  for (int k = 0; k < FOUR; ++k)
    for (int mirror = 0; mirror < 2; ++mirror) {
      const pp_contact_needle_totals *a = &t[k], *b = &t[k ^ (1 << mirror)];
      for (int d = 0; d < 3; ++d)
        lateral_error = fmax(lateral_error, fabs(a->force[d] - (d == mirror ? -1 : 1) * b->force[d]));
    }
  force_error /= t[0].axial_force;
  lateral_error /= t[0].axial_force;

  /* the field, gathered by global id, against its mirror images (pairs by the structured numbering;
     their coordinates checked to be mirror images first) */
  double *u = pp_test_owned_array(mesh, 3);
  OK(pp_mechanics_get_state(md.core.mechanics, u, NULL));
  double *all_u = gather_nodes(mesh, u, runtime.comm), *all_x = gather_nodes(mesh, mesh->node_coords, runtime.comm);
  const long NX = mesh->node_columns_x, NY = mesh->node_columns_y;
  const int NZ = mesh->node_layers;
  double largest = 0, geometry_error = 0, symmetry_error = 0;
  long long worst_node = -1;
  for (size_t i = 0; i < (size_t)mesh->global_node_count * 3; ++i) largest = fmax(largest, fabs(all_u[i]));
  for (long j = 0; j < NY; ++j)
    for (long i = 0; i < NX; ++i)
      for (int k = 0; k < NZ; ++k) {
        const long long id = pp_mesh_node_id(mesh, i, j, k);
        const long long image[2] = {pp_mesh_node_id(mesh, NX - 1 - i, j, k), pp_mesh_node_id(mesh, i, NY - 1 - j, k)};
        for (int mirror = 0; mirror < 2; ++mirror)
          for (int d = 0; d < 3; ++d) {
            const double sign = d == mirror ? -1 : 1, centre = d == mirror ? 2 * four_centre : 0;
            const double mirrored = centre + sign * all_x[3 * image[mirror] + d];
            geometry_error = fmax(geometry_error, fabs(all_x[3 * id + d] - mirrored));
            const double error = fabs(all_u[3 * id + d] - sign * all_u[3 * image[mirror] + d]);
            if (error > symmetry_error) {
              symmetry_error = error;
              worst_node = id;
            }
          }
      }
  symmetry_error /= largest;
  if (runtime.rank == 0)
    printf("four needles (%lld elements, %d ranks): %lld relaxation steps (%.2f s); axial forces %.9e %.9e %.9e %.9e "
           "N (%lld contact nodes each), largest difference %.2e relative; lateral forces (%.3e, %.3e) N on needle 0, "
           "mirror images to %.2e; displacement mirror symmetry %.2e of the largest (%.3g um; worst node %lld); mesh "
           "mirror error %.2e m\n",
           mesh->global_element_count, runtime.size, relax.steps, seconds, t[0].axial_force, t[1].axial_force,
           t[2].axial_force, t[3].axial_force, t[0].contact_nodes, force_error, t[0].force[0], t[0].force[1],
           lateral_error, symmetry_error, largest / um, worst_node, geometry_error);
  ck_assert_msg(geometry_error < 1e-12 * four_centre, "the mesh is not mirror-symmetric (%.3e m)", geometry_error);
  ck_assert_msg(t[0].axial_force > 0 && t[0].contact_nodes >= 5, "needle 0 barely touches (%.3e N, %lld nodes)",
                t[0].axial_force, t[0].contact_nodes);
  for (int k = 1; k < FOUR; ++k) ck_assert_int_eq(t[k].contact_nodes, t[0].contact_nodes);
  ck_assert_msg(largest > 0.5 * depth, "the needles did not indent the block (largest displacement %.3e m)", largest);
  ck_assert_msg(fabs(t[0].force[0]) > 1e-4 * t[0].axial_force && fabs(t[0].force[1]) > 1e-4 * t[0].axial_force,
                "the lateral forces (%.3e, %.3e) N are too small for their mirror check to mean anything",
                t[0].force[0], t[0].force[1]);
  ck_assert_msg(force_error < 1e-9, "axial forces differ by %.3e relative", force_error);
  ck_assert_msg(lateral_error < 1e-9, "lateral forces are not mirror images (%.3e of the axial force)", lateral_error);
  ck_assert_msg(symmetry_error < 1e-9, "displacements not mirror-symmetric: %.3e of the largest at node %lld",
                symmetry_error, worst_node);
  free(u);
  free(all_u);
  free(all_x);
  needle_model_free(&md);
}
END_TEST

/* ---- the same bits on any rank count ----------------------------------------------------------- */

enum { SAME_BITS_STEPS = 300, SAME_BITS_SAMPLES = 3 };
enum { SAMPLE_VALUES = FOUR * NEEDLE_VALUES + ENERGY_VALUES + BALANCE_VALUES };

typedef struct {
  double values[SAME_BITS_SAMPLES * SAMPLE_VALUES]; /* per sample: needles, contact energy, balance */
  long long nodes;
  int ranks_under_needle; /* ranks owning surface nodes under needle 0 */
  double *displacement;   /* [global nodes * 3] at the end, by global id */
  double seconds;
  /* the needles' energy balance (pp_contact_closure) step by step: the sum of |its change| over the
     steps without a tip hand-off, over those with one, the hand-offs and their energy, the needle
     work, all at the end */
  double smooth_drift, handoff_drift, needle_work, final_closure;
  long long handoffs;
} needles_run;

/* The four-needle block, also refined along its centre lines, from rest, damped (2e4 1/s, so the
 * damping term of the balance is compared too): needle 0 sharp (tip radius 0.5 um) with its axis
 * in the middle of the face at the centre (x0 + h/2, y0 + h/2, h = 16 um), where the 2- and 4-rank
 * partitions cut the block, so that only the tip-against-face pass holds it (the face chosen over
 * all ranks), the others at three of the four (x0 +- s, y0 +- s); each
 * descends at its own speed with its own sideways drift and friction coefficient (no symmetry left),
 * tip starting 1 um above the surface; SAME_BITS_STEPS automatic explicit steps, the needles at
 * their end-of-step position before each. */
static needles_run run_moving_needles(int rank, int size, MPI_Comm comm)
{
  needle_model md;
  four_needle_block(&md, rank, size, comm, 2e4, 1);
  /* needle 0 on the block's centre line, which the 2- and 4-rank partitions cut through */
  const double axis[FOUR][2] = {{four_centre + 8 * um, four_centre + 8 * um},
                                {four_centre + four_offset, four_centre - four_offset},
                                {four_centre - four_offset, four_centre + four_offset},
                                {four_centre + four_offset, four_centre + four_offset}};
  const double descent[FOUR] = {0.45, 0.3, 0.38, 0.25}; /* m/s */
  const double drift[FOUR][2] = {{0.04, 0}, {-0.03, 0.02}, {0, -0.05}, {0.02, 0.03}};
  const double mu[FOUR] = {0.1, 0.3, 0.5, 0.2};
  double params[FOUR * PP_CONTACT_SHAPE_PARAMS], velocity[3 * FOUR];
  needles_run run = {.nodes = md.mesh.global_node_count};
  double t = 0, closure_before = 0;
  long long handoffs_before = 0;
  const double start = MPI_Wtime();
  for (int step = 1; step <= SAME_BITS_STEPS; ++step) {
    const double dt = pp_mechanics_automatic_step(md.core.mechanics), t_next = t + dt;
    for (int k = 0; k < FOUR; ++k) {
      velocity[3 * k] = drift[k][0];
      velocity[3 * k + 1] = drift[k][1];
      velocity[3 * k + 2] = -descent[k];
      pp_test_vertical_needle(axis[k][0] + drift[k][0] * t_next, axis[k][1] + drift[k][1] * t_next,
                      1 * um - descent[k] * t_next, k == 0 ? 0.5 * um : four_tip_radius, four_half_angle, four_shaft,
                      1e-3, params + k * PP_CONTACT_SHAPE_PARAMS);
    }
    OK(pp_contact_set_needles(md.contact, params, velocity, mu));
    pp_mechanics_step_info info;
    OK(pp_mechanics_step(md.core.mechanics, dt, &info));
    t = t_next;
    pp_contact_energy balance;
    OK(pp_contact_energy_terms(md.contact, &balance));
    /* the skin's external work is the needles' alone here (the damping is on the skin's side) */
    const double closure = pp_contact_closure(&balance, info.external_work);
    if (step > 1) {
      if (balance.start_handoffs == handoffs_before)
        run.smooth_drift += fabs(closure - closure_before);
      else
        run.handoff_drift += fabs(closure - closure_before);
    }
    closure_before = closure;
    handoffs_before = balance.start_handoffs;
    run.final_closure = closure;
    run.handoffs = balance.start_handoffs;
    run.needle_work = balance.start_needle_work;
    if (step % (SAME_BITS_STEPS / SAME_BITS_SAMPLES) != 0) continue;
    double *v = run.values + (step / (SAME_BITS_STEPS / SAME_BITS_SAMPLES) - 1) * SAMPLE_VALUES;
    for (int k = 0; k < FOUR; ++k) {
      pp_contact_needle_totals totals;
      OK(pp_contact_needle(md.contact, k, &totals));
      const double needle[NEEDLE_VALUES] = {totals.axial_force, totals.normal_force, totals.friction_force,
                                            totals.force[0], totals.force[1], totals.force[2],
                                            (double)totals.contact_nodes, totals.tip_force};
      memcpy(v + k * NEEDLE_VALUES, needle, sizeof needle);
    }
    pp_contact_energy energy;
    OK(pp_contact_energy_terms(md.contact, &energy));
    const double terms[ENERGY_VALUES + BALANCE_VALUES] = {energy.penalty_energy, energy.friction_dissipated,
                                                          energy.needle_work, energy.max_penetration, info.kinetic,
                                                          info.stored, info.external_work, info.dissipated};
    memcpy(v + FOUR * NEEDLE_VALUES, terms, sizeof terms);
  }
  run.seconds = MPI_Wtime() - start;
  /* how many ranks own surface nodes under needle 0 (within its shaft radius of its axis) */
  int under_needle = 0;
  for (int n = 0; n < md.mesh.owned_node_count; ++n) {
    const double *X = md.mesh.node_coords + 3 * n;
    if ((md.mesh.node_boundary[n] & PP_NODE_SURFACE) && hypot(X[0] - axis[0][0], X[1] - axis[0][1]) < four_shaft)
      under_needle = 1;
  }
  MPI_Allreduce(&under_needle, &run.ranks_under_needle, 1, MPI_INT, MPI_SUM, comm);
  double *u = pp_test_owned_array(&md.mesh, 3);
  OK(pp_mechanics_get_state(md.core.mechanics, u, NULL));
  run.displacement = gather_nodes(&md.mesh, u, comm);
  free(u);
  needle_model_free(&md);
  return run;
}

/* The distributed run against the serial run of the same model on rank 0 (MPI_COMM_SELF), as
 * tests/test_mechanics.c does: every needle total, contact energy term and energy-balance term at
 * three times, and the final displacement field, compared bit for bit (memcmp). Source: the design
 * (host/contact.h, host/mechanics.h): every node adds its needles in ascending order and every total
 * is an exact global sum, so the answer cannot depend on the partition. Reference values are never
 * copied from the code's output; they are computed by the serial run in the same process. */
START_TEST(test_moving_needles_same_bits)
{
  needles_run parallel = run_moving_needles(runtime.rank, runtime.size, runtime.comm);
  needles_run serial = {0};
  if (runtime.rank == 0) serial = run_moving_needles(0, 1, MPI_COMM_SELF);
  const size_t total = (size_t)parallel.nodes * 3;
  if (runtime.rank != 0) serial.displacement = calloc(total + 1, sizeof *serial.displacement);
  MPI_Bcast(serial.values, SAME_BITS_SAMPLES * SAMPLE_VALUES, MPI_DOUBLE, 0, runtime.comm);
  MPI_Bcast(serial.displacement, (int)total, MPI_DOUBLE, 0, runtime.comm);
  size_t value_mismatches = 0, displacement_mismatches = 0;
  for (size_t i = 0; i < SAME_BITS_SAMPLES * SAMPLE_VALUES; ++i)
    value_mismatches += memcmp(&parallel.values[i], &serial.values[i], sizeof(double)) != 0;
  double largest = 0;
  for (size_t i = 0; i < total; ++i) {
    displacement_mismatches += memcmp(&parallel.displacement[i], &serial.displacement[i], sizeof(double)) != 0;
    largest = fmax(largest, fabs(serial.displacement[i]));
  }
  const double *end = parallel.values + (SAME_BITS_SAMPLES - 1) * SAMPLE_VALUES;
  if (runtime.rank == 0) {
    printf("moving needles, %d steps on %d ranks (%.2f s; serial %.2f s), at the end:\n", SAME_BITS_STEPS, runtime.size,
           parallel.seconds, serial.seconds);
    for (int k = 0; k < FOUR; ++k) {
      const double *n = end + k * NEEDLE_VALUES;
      printf("  needle %d: axial %a normal %a friction %a tip %a N, force (%a, %a, %a) N, %.0f contact nodes (axial "
             "%.6e N, friction part %.3f)\n", k, n[0], n[1], n[2], n[7], n[3], n[4], n[5], n[6], n[0], n[2] / n[0]);
    }
    const double *e = end + FOUR * NEEDLE_VALUES;
    printf("  penalty energy %a J, friction dissipated %a J (%.4e), needle work %a J (%.4e), deepest penetration %a m; "
           "kinetic %a stored %a work %a damped %a J\n", e[0], e[1], e[1], e[2], e[2], e[3], e[4], e[5], e[6], e[7]);
    printf("  needles' energy balance (needle work - skin work - penalty energy - friction heat): %.3e J at the end "
           "of %.6e J of needle work; its changes add up to %.3e J (%.2e of the work) over the steps without a tip "
           "hand-off, %.3e J over those with one (%lld hand-offs)\n", parallel.final_closure, parallel.needle_work,
           parallel.smooth_drift, parallel.smooth_drift / parallel.needle_work, parallel.handoff_drift,
           parallel.handoffs);
    printf("  against the serial run: %zu of %d needle/energy values and %zu of %zu displacement values differ "
           "(largest displacement %.3g um); needle 0 presses on nodes of %d ranks\n", value_mismatches,
           SAME_BITS_SAMPLES * SAMPLE_VALUES, displacement_mismatches, total, largest / um,
           parallel.ranks_under_needle);
  }
  ck_assert_msg(parallel.ranks_under_needle == runtime.size, "needle 0 is over %d of %d ranks' nodes",
                parallel.ranks_under_needle, runtime.size);
  /* the run did something: the sharp needle 0 held by a face, the others in contact with friction
     working, energy dissipated */
  ck_assert_msg(end[0] > 0 && end[7] > 0 && end[7] == end[1], "needle 0: axial %.3e N, tip %.3e N, normal %.3e N", end[0],
                end[7], end[1]);
  for (int k = 1; k < FOUR; ++k) {
    const double *n = end + k * NEEDLE_VALUES;
    ck_assert_msg(n[0] > 0 && n[6] >= 1 && fabs(n[2]) > 0, "needle %d: axial %.3e N, %.0f nodes, friction %.3e N", k,
                  n[0], n[6], n[2]);
  }
  ck_assert_msg(end[FOUR * NEEDLE_VALUES + 1] > 0, "no friction dissipated");
  /* The needles' energy balance: the needle work (trapezoidal, as the skin's external work) equals
     the skin's contact work + penalty energy + friction heat wherever the contact potential is
     continuous. Source: the penalty springs are potentials (k g^2 / 2 of the exact distance to the
     needle or to the face's bilinear patch), so the balance is exact but for the time
     discretisation: each step's trapezoidal work misses the potential's change by O(dt^2) of the
     step's work (and the friction heat is taken at the step's slip speed), which adds up to order
     1/N of the work over N steps. Asserted below 1/N; a tip hand-off (one spring to another)
     changes it by what the switch makes or loses, reported, not asserted. */
  ck_assert_msg(parallel.smooth_drift > 0, "no balance recorded");
  ck_assert_msg(parallel.smooth_drift < parallel.needle_work / SAME_BITS_STEPS,
                "needles' energy balance drifts by %.3e J over the steps without hand-offs (needle work %.3e J)",
                parallel.smooth_drift, parallel.needle_work);
  ck_assert_msg(value_mismatches == 0, "%zu needle/energy values differ from the serial run", value_mismatches);
  ck_assert_msg(displacement_mismatches == 0, "%zu displacement values differ from the serial run",
                displacement_mismatches);
  free(parallel.displacement);
  free(serial.displacement);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("contact_needles");
  TCase *tc = tcase_create(runtime.size == 1 ? "serial" : "ranks");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_coulomb_sliding);
  tcase_add_test(tc, test_four_needles_symmetric);
  tcase_add_test(tc, test_moving_needles_same_bits);
  suite_add_tcase(suite, tc);
  return pp_test_finish_device(suite, &runtime, clrt);
}
