/* The serial reference model of the explicit dynamics (tests/mechanics_reference): lumped masses,
 * assembled internal forces and energy, and the critical step of central differences of the
 * discrete system (PHYSICS.md section 9.3 and V2) against exact answers:
 *  (a) masses sum to rho x volume on a uniform block of cubes; a homogeneous deformation stores
 *      exactly W(F) x volume and leaves interior nodes force-free;
 *  (b) a 1-D uniaxial-strain column (lateral DOFs fixed): dt_cr = h / c_d exactly with free ends,
 *      h / (c_d cos(pi / 4N)) with the base fixed (derivation at test_column_critical_step),
 *      from power iteration and from Lanczos, and the highest mode has no cross-section variation;
 *  (c) a graded, layered 3D block (five skin laws): dt_cr is not below the smallest
 *      Flanagan-Belytschko element bound (pp_hex8_stable_step must be conservative);
 *  (d) dt_cr does not depend on the finite-difference step (x10) beyond 1e-6.
 * The numbers are printed: ctest -V -R test_mechanics_reference. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "element.h"
#include "material.h"
#include "mechanics_reference.h"
#include "mesh.h"

static const double um = 1e-6;

static pp_material neo_hookean(double shear_modulus, double bulk_to_shear)
{
  pp_material m = {PP_MATERIAL_NEO_HOOKEAN, PP_OGDEN_INITIAL_SHEAR_MODULUS, shear_modulus, 2,
                   bulk_to_shear * shear_modulus, 1100};
  return m;
}

static pp_material ogden(double shear_modulus, double alpha, double bulk_to_shear)
{
  pp_material m = {PP_MATERIAL_OGDEN, PP_OGDEN_INITIAL_SHEAR_MODULUS, shear_modulus, alpha,
                   bulk_to_shear * shear_modulus, 1100};
  return m;
}

static double wave_speed(const pp_material *m) { return sqrt(pp_material_p_wave_modulus(m) / m->density); }

/* A block of cubes of side h, columns_x x columns_y elements across and layer_elements[l]
 * elements in layer l: every size equal (fine = max, growth 1), free sides. */
static pp_mesh_spec cube_block(double h, int columns_x, int columns_y, const int layer_elements[PP_LAYER_COUNT])
{
  pp_mesh_spec spec = {
    .length_x = columns_x * h, .length_y = columns_y * h,
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .lateral_fine_size = h, .lateral_fine_radius = 0, .lateral_growth = 1, .lateral_max_size = h,
    .surface_size = h, .depth_growth = 1, .depth_max_size = h, .min_elements_per_layer = 1,
  };
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer) spec.layer_thickness[layer] = layer_elements[layer] * h;
  return spec;
}

static void same_material(pp_material table[PP_LAYER_COUNT], pp_material m)
{
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer) table[layer] = m;
}

static double seconds_since(struct timespec start)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start.tv_sec) + 1e-9 * (double)(now.tv_nsec - start.tv_nsec);
}

static pp_reference_step_result critical_step(pp_reference_model *model, pp_reference_eigen_method method,
                                              int max_iterations, double perturbation_scale, double *mode,
                                              const char *label)
{
  pp_reference_step_options options = pp_reference_step_defaults();
  options.method = method;
  options.max_iterations = max_iterations;
  options.perturbation_scale = perturbation_scale;
  pp_reference_step_result result;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  ck_assert_msg(pp_reference_critical_step(model, NULL, &options, &result, mode) == PP_OK, "%s",
                pp_error_message());
  printf("  %-34s dt_cr %.12e s after %5d products (%s, last change %.1e, residual %.1e, %.2f s)\n", label,
         result.critical_step, result.iterations, result.converged ? "converged" : "NOT converged",
         result.last_relative_change, result.relative_residual, seconds_since(start));
  return result;
}

/* (a) Lumped masses and the assembled forces and energy on a uniform block of cubes. */
START_TEST(test_masses_and_homogeneous_deformation)
{
  const double h = 10 * um;
  const int layers[PP_LAYER_COUNT] = {1, 2, 2, 3, 2};
  pp_mesh_spec spec = cube_block(h, 4, 3, layers);
  pp_mesh mesh;
  ck_assert_msg(pp_mesh_generate(&spec, 0, 1, &mesh) == PP_OK, "%s", pp_error_message());
  pp_material table[PP_LAYER_COUNT];
  same_material(table, ogden(0.1e6, 12, 50));
  pp_reference_model model;
  ck_assert_msg(pp_reference_model_create(&mesh, table, &model) == PP_OK, "%s", pp_error_message());
  const double volume = spec.length_x * spec.length_y * 10 * h, rho = table[0].density;
  double total = 0, interior_worst = 0;
  int interior = 0;
  for (int node = 0; node < model.node_count; ++node) {
    total += model.nodal_mass[node];
    if (mesh.node_boundary[node] == 0) {
      interior_worst = fmax(interior_worst, fabs(model.nodal_mass[node] / (rho * h * h * h) - 1));
      ++interior;
    }
  }
  printf("masses: %d elements, %d nodes: sum %.15e kg, rho V %.15e kg (relative %.1e); %d interior nodes "
         "rho h^3 to %.1e; shortest edge %.6g um\n",
         mesh.element_count, mesh.node_count, total, rho * volume, total / (rho * volume) - 1, interior,
         interior_worst, model.min_edge_length / um);
  ck_assert_msg(fabs(total / (rho * volume) - 1) < 1e-12, "mass %.15g, expected %.15g", total, rho * volume);
  ck_assert(interior > 0 && interior_worst < 1e-12);
  ck_assert_double_eq_tol(model.min_edge_length, h, 1e-12 * h);

  /* A homogeneous deformation u = (F - I) X: every element holds W(F) per volume, so the energy
   * is W(F) x volume and the forces of interior nodes cancel (the patch test on the assembly). */
  const double F[9] = {1.01, 0.002, 0, 0, 0.995, 0.003, 0.001, 0, 1.02};
  double *u = malloc(3 * (size_t)model.node_count * sizeof *u), *force = malloc(3 * (size_t)model.node_count * sizeof *force);
  ck_assert(u && force);
  for (int node = 0; node < model.node_count; ++node)
    for (int i = 0; i < 3; ++i) {
      double x = 0;
      for (int j = 0; j < 3; ++j) x += F[3 * i + j] * mesh.node_coords[3 * node + j];
      u[3 * node + i] = x - mesh.node_coords[3 * node + i];
    }
  double energy = 0, interior_force = 0, net[3] = {0, 0, 0};
  ck_assert(pp_reference_internal_force(&model, u, force, &energy) == PP_OK);
  for (int node = 0; node < model.node_count; ++node)
    for (int d = 0; d < 3; ++d) {
      net[d] += force[3 * node + d];
      if (mesh.node_boundary[node] == 0) interior_force = fmax(interior_force, fabs(force[3 * node + d]));
    }
  const double expected = pp_material_energy(&table[0], F) * volume, force_scale = table[0].bulk_modulus * 0.02 * h * h;
  printf("homogeneous F: energy %.15e J, W(F) V %.15e J (relative %.1e); interior |f| %.1e, net force %.1e "
         "(force scale %.1e N)\n",
         energy, expected, energy / expected - 1, interior_force, fmax(fabs(net[0]), fmax(fabs(net[1]), fabs(net[2]))),
         force_scale);
  ck_assert(fabs(energy / expected - 1) < 1e-10);
  ck_assert(interior_force < 1e-10 * force_scale);
  for (int d = 0; d < 3; ++d) ck_assert(fabs(net[d]) < 1e-10 * force_scale);
  free(u);
  free(force);
  pp_reference_model_free(&model);
  pp_mesh_free(&mesh);
}
END_TEST

/* (b) The uniaxial-strain column. Why the answer is exact: with x and y fixed at every node only
 * the z displacements are left. A mode that moves each cross-section as one strains every element
 * uniformly (eps_zz constant), where the mean-dilatation element is exact: J_bar = J, the 2x2x2
 * deviatoric integration of a constant is exact, so it stores (1/2)(kappa + 4 mu / 3) eps^2 V (the
 * small-strain uniaxial-strain energy; mu is the initial shear modulus for Ogden too): an axial
 * spring k = M A / h, M = kappa + 4 mu / 3. Lumped masses are rho A h per interior section, half at
 * a free end, so these modes are exactly the 1-D chain's: with both ends free
 *   omega_j = (2 c_d / h) sin(j pi / (2N)), j = 0..N   =>  omega_max = 2 c_d / h, u_k = (-1)^k,
 * dt_cr = h / c_d exactly; with the base fixed (the free top mirrors to a fixed-fixed chain of 2N
 * elements, symmetric modes only)
 *   omega_j = (2 c_d / h) sin((2j - 1) pi / (4N)), j = 1..N  =>  dt_cr = h / (c_d cos(pi / (4N))).
 * Modes with cross-section variation (u_z odd in x or y within an element: u_z ~ xi_x, xi_x xi_z,
 * ...) have no mean dilatation, so only mu stiffens them: on one cube their largest Rayleigh
 * quotient is 4 mu / (rho h^2) (u_z ~ xi_x, uniform shear), below the axial 4 M / (rho h^2); the
 * element eigenvalue inequality (lambda_max(M^-1 K) <= max over elements) keeps them below the
 * chain's highest mode on any cross-section. So the highest mode is the sections-together
 * alternating one, and the computed dt_cr must equal the formulas to the finite-difference
 * accuracy. */
static void column_case(int section, int base_fixed, pp_reference_eigen_method method, int max_iterations)
{
  const double h = 10 * um;
  const int layers[PP_LAYER_COUNT] = {2, 2, 2, 2, 2}, N = 10;
  pp_mesh_spec spec = cube_block(h, section, section, layers);
  pp_mesh mesh;
  ck_assert_msg(pp_mesh_generate(&spec, 0, 1, &mesh) == PP_OK, "%s", pp_error_message());
  pp_material table[PP_LAYER_COUNT];
  same_material(table, ogden(0.1e6, 12, 50));
  pp_reference_model model;
  ck_assert_msg(pp_reference_model_create(&mesh, table, &model) == PP_OK, "%s", pp_error_message());
  pp_reference_fix(&model, 0xffu, 3u); /* x and y of every node: uniaxial strain */
  if (base_fixed) pp_reference_fix(&model, PP_NODE_BASE, 4u);
  const double c = wave_speed(&table[0]);
  const double exact = base_fixed ? h / (c * cos(M_PI / (4 * N))) : h / c;
  char label[96];
  snprintf(label, sizeof label, "%dx%d column, %s, %s:", section, section, base_fixed ? "base fixed" : "free ends",
           method == PP_REFERENCE_LANCZOS ? "Lanczos" : "power");
  double *mode = malloc(3 * (size_t)model.node_count * sizeof *mode);
  ck_assert(mode);
  pp_reference_step_result result = critical_step(&model, method, max_iterations, 1e-6, mode, label);
  /* The mode: the spread of u_z within each node layer (cross-section variation) and whether the
   * section means alternate in sign. */
  double spread = 0;
  int alternates = 1;
  double previous_mean = 0;
  for (int k = 0; k < mesh.node_layers; ++k) {
    double low = INFINITY, high = -INFINITY, sum = 0;
    int count = 0;
    for (int node = 0; node < model.node_count; ++node)
      if (mesh.node_global_id[node] % mesh.node_layers == k) {
        low = fmin(low, mode[3 * node + 2]);
        high = fmax(high, mode[3 * node + 2]);
        sum += mode[3 * node + 2];
        ++count;
      }
    spread = fmax(spread, high - low);
    double mean = sum / count;
    if (k > 0 && !(base_fixed && k == mesh.node_layers - 1) && !(mean * previous_mean < 0)) alternates = 0;
    previous_mean = mean;
  }
  printf("    exact %.12e s = %.10f h/c_d; relative error %.1e; mode: cross-section spread %.1e of max |u_z|, "
         "sections alternate: %s\n",
         exact, exact * c / h, result.critical_step / exact - 1, spread, alternates ? "yes" : "no");
  ck_assert(result.converged);
  ck_assert_msg(fabs(result.critical_step / exact - 1) < 1e-8, "dt_cr %.12g, exact %.12g", result.critical_step, exact);
  ck_assert_msg(spread < 1e-4, "the highest mode varies across the section by %.3g", spread);
  ck_assert(alternates);
  free(mode);
  pp_reference_model_free(&model);
  pp_mesh_free(&mesh);
}

START_TEST(test_column_critical_step)
{
  printf("uniaxial-strain column, N = 10 cubes of h = 10 um, Ogden mu 0.1 MPa alpha 12 kappa/mu 50:\n");
  column_case(1, 0, PP_REFERENCE_POWER, 20000);
  column_case(1, 0, PP_REFERENCE_LANCZOS, 200);
  column_case(1, 1, PP_REFERENCE_POWER, 20000);
  column_case(1, 1, PP_REFERENCE_LANCZOS, 200);
  column_case(2, 1, PP_REFERENCE_LANCZOS, 200);
}
END_TEST

/* A graded, layered block of the five skin laws (PHYSICS.md section 0): SC E = 20 MPa, nu = 0.45;
 * viable epidermis 1.5 MPa, 0.48; dermis Ogden mu = 0.1 MPa, alpha = 12; hypodermis neo-Hookean
 * 1 kPa; kappa/mu = 50 in the dermis and hypodermis. Thicknesses shortened so that the block is a
 * few hundred elements; the base fixed, symmetry planes at x = 0 and y = 0. */
static void layered_block(pp_mesh *mesh, pp_material table[PP_LAYER_COUNT])
{
  static const double refine[] = {30e-6};
  pp_mesh_spec spec = {
    .length_x = 60 * um, .length_y = 60 * um,
    .layer_thickness = {15 * um, 45 * um, 60 * um, 80 * um, 100 * um},
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .refine_x = refine, .refine_y = refine, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = 6 * um, .lateral_fine_radius = 6 * um, .lateral_growth = 1.5, .lateral_max_size = 15 * um,
    .surface_size = 5 * um, .depth_growth = 1.6, .depth_max_size = 40 * um, .min_elements_per_layer = 1,
  };
  ck_assert_msg(pp_mesh_generate(&spec, 0, 1, mesh) == PP_OK, "%s", pp_error_message());
  const double E_sc = 20e6, nu_sc = 0.45, E_ve = 1.5e6, nu_ve = 0.48;
  table[0] = neo_hookean(E_sc / (2 * (1 + nu_sc)), 2 * (1 + nu_sc) / (3 * (1 - 2 * nu_sc)));
  table[1] = neo_hookean(E_ve / (2 * (1 + nu_ve)), 2 * (1 + nu_ve) / (3 * (1 - 2 * nu_ve)));
  table[2] = ogden(0.1e6, 12, 50);
  table[3] = ogden(0.1e6, 12, 50);
  table[4] = neo_hookean(1e3, 50);
}

/* The smallest Flanagan-Belytschko bound (pp_hex8_stable_step) over the mesh's elements. */
static double smallest_element_bound(const pp_mesh *mesh, const pp_material table[PP_LAYER_COUNT], int *where)
{
  double bound = INFINITY, zero[24] = {0};
  for (int e = 0; e < mesh->element_count; ++e) {
    double step = pp_hex8_stable_step(&table[mesh->element_layer[e]], mesh->element_corner_coords + 24 * (size_t)e, zero);
    if (step < bound) {
      bound = step;
      *where = e;
    }
  }
  return bound;
}

/* (c) The element bound is conservative. On a uniform block of cubes it is h / (sqrt(3) c_d), the
 * largest eigenvalue of one free cube (its uniform dilatation mode); the assembled mesh, whose
 * neighbouring elements cannot all take that mode at once, is stiffer per mass only up to about
 * (h / 0.86 c_d)^-2: the ratio is about 1.5 there, larger on graded, layered meshes. */
START_TEST(test_block_critical_step)
{
  /* A uniform block of 6 x 6 x 6 cubes, one law, base fixed. */
  const double h = 10 * um;
  const int layers[PP_LAYER_COUNT] = {1, 1, 1, 1, 2};
  pp_mesh_spec spec = cube_block(h, 6, 6, layers);
  pp_mesh mesh;
  ck_assert_msg(pp_mesh_generate(&spec, 0, 1, &mesh) == PP_OK, "%s", pp_error_message());
  pp_material table[PP_LAYER_COUNT];
  same_material(table, ogden(0.1e6, 12, 50));
  pp_reference_model model;
  ck_assert_msg(pp_reference_model_create(&mesh, table, &model) == PP_OK, "%s", pp_error_message());
  pp_reference_fix(&model, PP_NODE_BASE, 7u);
  int where = -1;
  double bound = smallest_element_bound(&mesh, table, &where), c = wave_speed(&table[0]);
  printf("uniform block of %d cubes of h = 10 um, base fixed, Ogden mu 0.1 MPa alpha 12 kappa/mu 50: "
         "element bound %.6e s = %.6f h/c_d\n", mesh.element_count, bound, bound * c / h);
  pp_reference_step_result uniform = critical_step(&model, PP_REFERENCE_LANCZOS, 400, 1e-6, NULL, "Lanczos:");
  printf("    dt_cr = %.6f h/c_d; dt_cr / element bound = %.4f\n", uniform.critical_step * c / h,
         uniform.critical_step / bound);
  ck_assert(uniform.converged);
  ck_assert_msg(uniform.critical_step >= bound, "dt_cr %.6g below the element bound %.6g", uniform.critical_step, bound);
  pp_reference_model_free(&model);
  pp_mesh_free(&mesh);

  /* The graded, layered block. */
  layered_block(&mesh, table);
  ck_assert_msg(pp_reference_model_create(&mesh, table, &model) == PP_OK, "%s", pp_error_message());
  pp_reference_fix(&model, PP_NODE_BASE, 7u);
  pp_reference_fix(&model, PP_NODE_X_MIN, 1u);
  pp_reference_fix(&model, PP_NODE_Y_MIN, 2u);
  bound = smallest_element_bound(&mesh, table, &where);
  printf("layered block: %d elements (%d x %d x %d), %d free DOFs, shortest edge %.4g um; smallest "
         "element bound %.6e s (element %lld, layer %d)\n",
         mesh.element_count, mesh.axis_x.element_count, mesh.axis_y.element_count, mesh.axis_z.element_count,
         pp_reference_free_dof_count(&model), model.min_edge_length / um, bound, mesh.element_global_id[where],
         mesh.element_layer[where]);
  pp_reference_step_result lanczos = critical_step(&model, PP_REFERENCE_LANCZOS, 400, 1e-6, NULL, "Lanczos, eps 1e-6 h:");
  pp_reference_step_result power = critical_step(&model, PP_REFERENCE_POWER, 2000, 1e-6, NULL, "power, eps 1e-6 h:");
  printf("    dt_cr / smallest element bound = %.4f; dt_cr = %.4f x shortest edge / c_d of the stratum corneum; "
         "power vs Lanczos %.1e\n", lanczos.critical_step / bound,
         lanczos.critical_step * wave_speed(&table[0]) / model.min_edge_length, power.critical_step / lanczos.critical_step - 1);
  ck_assert(lanczos.converged);
  ck_assert_msg(lanczos.critical_step >= bound, "dt_cr %.6g below the element bound %.6g: the bound is not "
                "conservative", lanczos.critical_step, bound);
  /* Power iteration's Rayleigh quotient is a lower bound of lambda_max: its step is not below. */
  ck_assert(power.critical_step >= lanczos.critical_step * (1 - 1e-9));

  /* (d) The finite-difference step: x10 either way changes dt_cr by far less than 1e-6. */
  pp_reference_step_result fine = critical_step(&model, PP_REFERENCE_LANCZOS, 400, 1e-7, NULL, "Lanczos, eps 1e-7 h:");
  pp_reference_step_result coarse = critical_step(&model, PP_REFERENCE_LANCZOS, 400, 1e-5, NULL, "Lanczos, eps 1e-5 h:");
  printf("    eps / 10 changes dt_cr by %.1e, eps x 10 by %.1e\n", fine.critical_step / lanczos.critical_step - 1,
         coarse.critical_step / lanczos.critical_step - 1);
  ck_assert(fine.converged && coarse.converged);
  ck_assert(fabs(fine.critical_step / lanczos.critical_step - 1) < 1e-6);
  ck_assert(fabs(coarse.critical_step / lanczos.critical_step - 1) < 1e-6);
  pp_reference_model_free(&model);
  pp_mesh_free(&mesh);
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("mechanics_reference");
  TCase *tc = tcase_create("reference");
  tcase_add_test(tc, test_masses_and_homogeneous_deformation);
  tcase_add_test(tc, test_column_critical_step);
  tcase_add_test(tc, test_block_critical_step);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
