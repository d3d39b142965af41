/* Needle contact (host/contact, kernels/contact.cl) through the mechanics module, against
 * analytic contact mechanics (PHYSICS.md section 8, V4):
 *  - V4 flat punch: a rigid flat-ended cylinder of radius a = 50 um pressed d into a homogeneous
 *    neo-Hookean block (kappa/mu = 50), frictionless: P = 2 a E* d (Sneddon 1965, Int J Eng Sci
 *    3:47; Johnson 1985, Contact Mechanics, section 3.8), E* = E / (1 - nu^2). Quasi-static by
 *    dynamic relaxation at d = 1 and 2 um (d/a = 0.02 and 0.04: small strain): the stiffness
 *    P/d within 5 % (V4), and P linear in d.
 *    The block: a quarter model (x = 0 and y = 0 symmetric, the punch axis on their edge),
 *    25 a wide and deep, base fixed, elements a/10 under the punch growing by 1.3 to 2.5 a; the far
 *    sides are symmetric too, i.e. a square array of punches 50 a apart. Truncation: a punch's
 *    surface displacement falls as u(r) = 2 d asin(a/r) / pi ~ 2 d a / (pi r), so fixing the base
 *    at 25 a adds ~ 2 / (25 pi) = 2.5 % stiffness; discretisation takes some away (nodal contact
 *    at the singular edge). Measured: 0.998 of Sneddon here; 0.964 with the block 50 a (the same
 *    a/10 elements), 0.941 with 50 a and a/5. Relaxation with mass scaling to a 1 us step (the
 *    masses of a static solve are free to choose: the graded mesh's small elements then stop
 *    limiting the step, 3.6x fewer steps, the same answer to 1e-8).
 *  - V4 blunt cone: a rigid sharp cone of half-angle psi = 70 degrees (its face 20 degrees from the
 *    surface; Sneddon's small-slope theory needs psi >= 70, PHYSICS.md V4) pressed d = 50 um, 5
 *    element sizes: P = (2/pi) E* tan(psi) d^2 (Sneddon 1965; Johnson 1985 section 5.2), contact
 *    radius a = (2/pi) d tan(psi) = 87 um; within 10 % (V4). The same quarter block, 25 a, elements
 *    of d/5 under the contact.
 *  - A sharp tip (radius h/10, cone half-angle 45 degrees) pressed 3 and 4 element sizes h into a
 *    block, its axis on a node line, on an element edge's midpoint and on a face's centre: the
 *    forces agree within 2 % (the requirement: a tip must not slip between nodes; there is
 *    no analytic value, the three placements check each other). Whole block, sides free.
 *  - With PINPRICK_FULL=1 (test_contact_v4_full, scripts/test --full) a resolution study: the flat
 *    punch with elements a/10 and a/20 under it, the cone pressed 25 and 50 um with elements d/5 and
 *    d/10 (pressed in 4 increments): each within V4's tolerance of Sneddon, the change between the
 *    two meshes reported.
 * One rank (tests/CMakeLists.txt says why); the same bits on 1, 2 and 4 ranks with several needles
 * is test_contact_needles' check. */
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

static pp_runtime runtime;
static pp_clrt *clrt;
static const double um = 1e-6;

typedef struct {
  pp_mesh mesh;
  pp_test_model core;
  pp_contact *contact;
} contact_model;

/* A needle on the z axis pointing down, its lowest point at depth d below z = 0. */
static void vertical_needle(double d, double tip_radius, double half_angle, double shaft_radius, double length,
                            double p[PP_CONTACT_SHAPE_PARAMS])
{
  pp_test_vertical_needle(0, 0, -d, tip_radius, half_angle, shaft_radius, length, p);
}

/* The quarter block: side and depth `size`, graded towards the axis (x = y = 0) and the surface. */
static void quarter_block(contact_model *md, double size, double fine, double fine_radius, double max_size,
                          double mass_scaling_step)
{
  static const double axis[1] = {0};
  pp_mesh_spec spec = {
    .length_x = size, .length_y = size, .side_x = PP_SIDE_SYMMETRIC, .side_y = PP_SIDE_SYMMETRIC,
    .refine_x = axis, .refine_y = axis, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = fine, .lateral_fine_radius = fine_radius, .lateral_growth = 1.3,
    .lateral_max_size = max_size, .surface_size = fine, .depth_growth = 1.3, .depth_max_size = max_size,
    .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = size / PP_LAYER_COUNT;
  ck_assert_msg(pp_mesh_generate(&spec, runtime.rank, runtime.size, &md->mesh) == PP_OK, "%s", pp_error_message());
  pp_mechanics_options options;
  const pp_material law = pp_test_block_law();
  pp_mechanics_options_default(&options, &law);
  options.base = PP_BASE_FIXED;
  options.mass_scaling_step = mass_scaling_step;
  pp_test_model_create(&md->core, &md->mesh, clrt, runtime.comm, &options);
  ck_assert_msg(pp_contact_create(&md->contact, &md->mesh, clrt, md->core.reduce, runtime.comm, 1) == PP_OK, "%s",
                pp_error_message());
  ck_assert_msg(pp_mechanics_set_contact(md->core.mechanics, md->contact, 0.1) == PP_OK, "%s", pp_error_message());
}

static void model_free(contact_model *md)
{
  pp_test_model_destroy(&md->core);
  pp_contact_destroy(md->contact);
  pp_mesh_free(&md->mesh);
}

/* Place the needle, relax, return the needle's totals. */
static pp_contact_needle_totals press(contact_model *md, const double params[PP_CONTACT_SHAPE_PARAMS],
                                      long long *steps)
{
  const double zero[3] = {0, 0, 0}, friction = 0;
  ck_assert_msg(pp_contact_set_needles(md->contact, params, zero, &friction) == PP_OK, "%s", pp_error_message());
  pp_mechanics_relax_info relax;
  ck_assert_msg(pp_mechanics_relax(md->core.mechanics, 1e-7, 400000, &relax) == PP_OK, "%s", pp_error_message());
  ck_assert_msg(relax.converged, "not relaxed after %lld steps (residual ratio %.3e)", relax.steps,
                relax.residual_ratio);
  *steps = relax.steps;
  pp_contact_needle_totals totals;
  ck_assert_msg(pp_contact_needle(md->contact, 0, &totals) == PP_OK, "%s", pp_error_message());
  return totals;
}

START_TEST(test_v4_flat_punch)
{
  const double a = 50 * um, size = 25 * a;
  contact_model md;
  quarter_block(&md, size, a / 10, 1.2 * a, size / 10, 1e-6);
  const pp_material law = pp_test_block_law();
  const double E = pp_material_young(&law), nu = pp_material_poisson(&law), E_star = E / (1 - nu * nu);
  const double depths[2] = {1 * um, 2 * um};
  double force[2];
  for (int i = 0; i < 2; ++i) {
    double p[PP_CONTACT_SHAPE_PARAMS];
    vertical_needle(depths[i], 0, M_PI / 2, a, size, p);
    long long steps = 0;
    const pp_contact_needle_totals t = press(&md, p, &steps);
    force[i] = 4 * t.axial_force; /* the quarter model carries a quarter of the load */
    const double sneddon = 2 * a * E_star * depths[i];
    if (runtime.rank == 0)
      printf("V4 flat punch a = %g um, %lld elements (%d ranks), d = %g um: P = %.6e N (exact bits %a), Sneddon "
             "%.6e N, ratio %.4f; %lld contact nodes (quarter), mean penetration %.2e um, %lld relaxation steps\n",
             a / um, md.mesh.global_element_count, runtime.size, depths[i] / um, force[i], force[i], sneddon,
             force[i] / sneddon, t.contact_nodes, t.mean_penetration / um, steps);
    ck_assert_msg(fabs(force[i] / sneddon - 1) < 0.05, "d = %g um: P/Sneddon = %.4f", depths[i] / um,
                  force[i] / sneddon);
  }
  ck_assert_msg(fabs(force[1] / force[0] / 2 - 1) < 0.01, "P not linear in d: P(2 um)/P(1 um) = %.4f",
                force[1] / force[0]);
  model_free(&md);
}
END_TEST

START_TEST(test_v4_cone)
{
  const double psi = 70 * M_PI / 180, d = 50 * um, a = 2 / M_PI * d * tan(psi), size = 25 * a;
  contact_model md;
  quarter_block(&md, size, d / 5, 1.2 * a, size / 10, 1e-6);
  const pp_material law = pp_test_block_law();
  const double E = pp_material_young(&law), nu = pp_material_poisson(&law), E_star = E / (1 - nu * nu);
  double p[PP_CONTACT_SHAPE_PARAMS];
  vertical_needle(d, 0, psi, 2 * a, size, p);
  long long steps = 0;
  const pp_contact_needle_totals t = press(&md, p, &steps);
  const double force = 4 * t.axial_force, sneddon = 2 / M_PI * E_star * tan(psi) * d * d;
  if (runtime.rank == 0)
    printf("V4 cone psi = 70 deg, %lld elements (%d ranks), d = %g um (contact radius %.3g um): P = %.6e N, Sneddon "
           "%.6e N, ratio %.4f; tip part %.3e N; %lld contact nodes (quarter), %lld relaxation steps\n",
           md.mesh.global_element_count, runtime.size, d / um, a / um, force, sneddon, force / sneddon,
           4 * t.tip_force, t.contact_nodes, steps);
  ck_assert_msg(fabs(force / sneddon - 1) < 0.10, "cone: P/Sneddon = %.4f", force / sneddon);
  model_free(&md);
}
END_TEST

START_TEST(test_tip_placement)
{
  const double h = 10 * um, size = 24 * h, depth = 18 * h;
  static const double centre[1] = {12 * 10e-6};
  pp_mesh_spec spec = {
    .length_x = size, .length_y = size, .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .refine_x = centre, .refine_y = centre, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = h, .lateral_fine_radius = 5 * h, .lateral_growth = 1.3, .lateral_max_size = 3 * h,
    .surface_size = h, .depth_growth = 1.3, .depth_max_size = 3 * h, .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = depth / PP_LAYER_COUNT;
  const double offsets[3][2] = {{0, 0}, {h / 2, 0}, {h / 2, h / 2}};
  const char *names[3] = {"node", "edge", "face"};
  const double depths[2] = {3 * h, 4 * h};
  double force[3][2];
  for (int placement = 0; placement < 3; ++placement) {
    contact_model md;
    ck_assert_msg(pp_mesh_generate(&spec, runtime.rank, runtime.size, &md.mesh) == PP_OK, "%s", pp_error_message());
    pp_mechanics_options options;
    const pp_material law = pp_test_block_law();
    pp_mechanics_options_default(&options, &law);
    options.mass_scaling_step = 1e-7;
    pp_test_model_create(&md.core, &md.mesh, clrt, runtime.comm, &options);
    ck_assert_msg(pp_contact_create(&md.contact, &md.mesh, clrt, md.core.reduce, runtime.comm, 1) == PP_OK, "%s",
                  pp_error_message());
    ck_assert_msg(pp_mechanics_set_contact(md.core.mechanics, md.contact, 0.1) == PP_OK, "%s", pp_error_message());
    for (int i = 0; i < 2; ++i) {
      double p[PP_CONTACT_SHAPE_PARAMS];
      vertical_needle(depths[i], h / 10, M_PI / 4, 6 * h, size, p);
      p[0] = centre[0] + offsets[placement][0];
      p[1] = centre[0] + offsets[placement][1];
      long long steps = 0;
      const pp_contact_needle_totals t = press(&md, p, &steps);
      force[placement][i] = t.axial_force;
      if (runtime.rank == 0)
        printf("sharp tip on a %s, d = %g h: P = %.6e N (tip part %.3e N, %lld contact nodes), %lld relaxation "
               "steps\n", names[placement], depths[i] / h, t.axial_force, t.tip_force, t.contact_nodes, steps);
    }
    model_free(&md);
  }
  for (int placement = 1; placement < 3; ++placement)
    for (int i = 0; i < 2; ++i) {
      const double ratio = force[placement][i] / force[0][i];
      if (runtime.rank == 0)
        printf("sharp tip: %s / node at d = %g h: %.4f\n", names[placement], depths[i] / h, ratio);
      ck_assert_msg(fabs(ratio - 1) < 0.02, "tip on a %s at %g h: %.4f x the force with the tip on a node",
                    names[placement], depths[i] / h, ratio);
    }
}
END_TEST

/* PINPRICK_FULL: the flat punch (d = 1 um) and the cone (d = 25 and 50 um) on a mesh and on one
 * twice as fine under the contact; the references as in the tests above. */
START_TEST(test_v4_resolution)
{
  const double a = 50 * um, size = 25 * a;
  double flat[2];
  for (int fine = 0; fine < 2; ++fine) {
    contact_model md;
    const double h = a / (10 << fine);
    quarter_block(&md, size, h, 1.2 * a, size / 10, 1e-6);
    const pp_material law = pp_test_block_law();
    const double E_star = pp_material_young(&law) / (1 - pow(pp_material_poisson(&law), 2));
    double p[PP_CONTACT_SHAPE_PARAMS];
    vertical_needle(1 * um, 0, M_PI / 2, a, size, p);
    long long steps = 0;
    const pp_contact_needle_totals t = press(&md, p, &steps);
    flat[fine] = 4 * t.axial_force / (2 * a * E_star * 1 * um);
    if (runtime.rank == 0)
      printf("resolution: flat punch, elements a/%d (%lld elements): P/Sneddon = %.4f (%lld steps)\n", 10 << fine,
             md.mesh.global_element_count, flat[fine], steps);
    ck_assert_msg(fabs(flat[fine] - 1) < 0.05, "flat punch at a/%d: P/Sneddon = %.4f", 10 << fine, flat[fine]);
    model_free(&md);
  }
  const double psi = 70 * M_PI / 180;
  for (int depth = 0; depth < 2; ++depth) {
    const double d = (25 << depth) * um, a_cone = 2 / M_PI * d * tan(psi);
    double cone[2];
    for (int fine = 0; fine < 2; ++fine) {
      contact_model md;
      quarter_block(&md, 25 * a_cone, d / (5 << fine), 1.2 * a_cone, 2.5 * a_cone, 1e-6);
      const pp_material law = pp_test_block_law();
      const double E_star = pp_material_young(&law) / (1 - pow(pp_material_poisson(&law), 2));
      /* pressed in 4 increments: the whole depth at once, 10 elements of d/10 under a sharp tip,
         inverts an element in the first steps */
      double p[PP_CONTACT_SHAPE_PARAMS];
      long long steps = 0, increment_steps = 0;
      pp_contact_needle_totals t;
      for (int k = 1; k <= 4; ++k) {
        vertical_needle(d * k / 4, 0, psi, 2 * a_cone, 25 * a_cone, p);
        t = press(&md, p, &increment_steps);
        steps += increment_steps;
      }
      cone[fine] = 4 * t.axial_force / (2 / M_PI * E_star * tan(psi) * d * d);
      if (runtime.rank == 0)
        printf("resolution: cone d = %g um, elements d/%d (%lld elements): P/Sneddon = %.4f (%lld steps)\n", d / um,
               5 << fine, md.mesh.global_element_count, cone[fine], steps);
      ck_assert_msg(fabs(cone[fine] - 1) < 0.10, "cone d = %g um at d/%d: P/Sneddon = %.4f", d / um, 5 << fine,
                    cone[fine]);
      model_free(&md);
    }
    if (runtime.rank == 0)
      printf("resolution: cone d = %g um: refining changes P by %+.2f %%\n", d / um, 100 * (cone[1] / cone[0] - 1));
  }
  if (runtime.rank == 0)
    printf("resolution: flat punch: refining changes P by %+.2f %%\n", 100 * (flat[1] / flat[0] - 1));
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_test_start_device(&argc, &argv, &runtime, &clrt)) return EXIT_FAILURE;
  Suite *suite = suite_create("contact");
  /* One case per check, so that ctest runs them side by side (tests/CMakeLists.txt picks one with
   * CK_RUN_CASE); the flat punch and the sharp tip take 1.5 minutes each on 2 cores. */
  struct { const char *name; const TTest *test; } cases[] = {
    {"flat_punch", test_v4_flat_punch}, {"cone", test_v4_cone}, {"tip_placement", test_tip_placement},
    {"resolution", test_v4_resolution},
  };
  const int count = getenv("PINPRICK_FULL") ? 4 : 3;
  for (int i = 0; i < count; ++i) {
    TCase *tc = tcase_create(cases[i].name);
    tcase_set_timeout(tc, i == 3 ? 3000 : 600);
    tcase_add_test(tc, cases[i].test);
    suite_add_tcase(suite, tc);
  }
  return pp_test_finish_device(suite, &runtime, clrt);
}
