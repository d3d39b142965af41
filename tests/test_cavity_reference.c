/* tests/cavity_reference: V6's compressible cavity-expansion reference (PHYSICS.md 8.5 and 10),
 * checked against answers that do not share its method:
 *  - the incompressible forms: neo-Hookean closed forms of PHYSICS.md 8.5 for the infinite body,
 *    cylinder p = mu [ln l + (1 - l^-2)/2], sphere p = mu [5/2 - 2/l - 1/(2 l^4)], and their
 *    finite-outer-radius versions (the same integral from lambda_b to lambda_a, lambda_b from
 *    volume conservation: mu [ln(la/lb) + (lb^-2 - la^-2)/2] and
 *    mu [2/lb + 1/(2 lb^4) - 2/la - 1/(2 la^4)]); Ogden by this file's own quadrature in s of
 *    8.5's integrands (the module integrates in ln s);
 *  - the incompressible limit: as kappa/mu grows (1e2, 1e3, 1e4, B/A = 100) the compressible
 *    pressure tends to the finite-B incompressible one at first order in 1/kappa (a factor 7 to 13
 *    per decade), below 2 sigma_tt(a)/kappa (the incompressible hoop stress at the hole, the largest
 *    stress; measured 0.008 to 0.7 of it: NH at l = 3, kappa/mu = 1e4, 2e-5 of p); against 8.5's
 *    infinite-body forms the difference is that plus
 *    the finite-B term, to leading order law-independent: mu (l^2 - 1)(A/B)^2 (cylinder) and
 *    (4/3) mu (l^3 - 1)(A/B)^3 (sphere) — W'(s)/(s^(k+1) - 1) -> 2 mu, 4 mu at s = 1 times
 *    lambda_b - 1 = (l^(k+1) - 1)(A/B)^(k+1)/(k+1);
 *  - small strain: the linear-elastic Lame solution for a thick-walled cylinder in plane strain
 *    and a thick sphere (Timoshenko & Goodier, Theory of Elasticity, 3rd ed., sections 28 and
 *    137) with E and nu of the law (pp_material_young/poisson); the difference is the
 *    nonlinearity, first order in the strain eps (measured 1.0 to 4.9 eps), so the test asserts
 *    it below 6 eps at eps = 1e-3 and 1e-5 and falling 80 to 120 times between them;
 *  - the energy principle: the stored energy of the solution E(a) = int W R^k dR (per unit angle
 *    measure, from pp_material_energy, not the stress path) satisfies dE/da = p a^k (the inner
 *    reaction), by a 4-point difference in a: agreement measured 1e-11;
 *  - boundary conditions: sigma_rr(B) = 0 to 1e-10 of p and sigma_rr(A) = -p, recomputed from
 *    the recorded stretches through pp_material_cauchy; and the integration converged (p at
 *    tolerance 1e-10 vs 1e-12: 1e-8).
 * It prints the table of compressible vs incompressible pressures (B/A = 20, kappa/mu 50 and
 * 500): for Ogden alpha = 12 at kappa/mu = 50 the compressible answer is 5 to 200 times below
 * the incompressible forms (hoop stresses of order (2 mu/alpha) l^alpha >> kappa), so V6 must
 * be checked against this reference, not against 8.5's formulas. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cavity_reference.h"
#include "material.h"

static const double shear_modulus = 0.1e6, inner_radius = 1e-3;

static pp_material law(pp_material_model model, double alpha, double bulk_to_shear_ratio)
{
  pp_material m = {model,         PP_OGDEN_INITIAL_SHEAR_MODULUS, shear_modulus,
                   model == PP_MATERIAL_OGDEN ? alpha : 2.0, bulk_to_shear_ratio * shear_modulus, 1100};
  return m;
}

static const char *geometry_name(pp_cavity_geometry geometry)
{
  return geometry == PP_CAVITY_SPHERE ? "sphere" : "cylinder";
}

static double compressible_pressure(const pp_material *m, pp_cavity_geometry geometry, double outer_to_inner,
                                    double stretch)
{
  double pressure = NAN;
  pp_err status = pp_cavity_pressure(m, geometry, inner_radius, outer_to_inner * inner_radius, stretch, &pressure);
  if (status != PP_OK) pp_error_print(stderr, "cavity: ");
  ck_assert_int_eq(status, PP_OK);
  return pressure;
}

static double incompressible_pressure(const pp_material *m, pp_cavity_geometry geometry, double outer_to_inner,
                                      double stretch)
{
  double pressure = NAN;
  ck_assert_int_eq(pp_cavity_pressure_incompressible(m, geometry, inner_radius, outer_to_inner * inner_radius,
                                                     stretch, &pressure),
                   PP_OK);
  return pressure;
}

/* lambda_b of the incompressible body: b^(k+1) - B^(k+1) = a^(k+1) - A^(k+1). */
static double incompressible_outer_stretch(pp_cavity_geometry geometry, double outer_to_inner, double stretch)
{
  const int n = geometry == PP_CAVITY_SPHERE ? 3 : 2;
  return pow(1 + (pow(stretch, n) - 1) * pow(outer_to_inner, -n), 1.0 / n);
}

/* PHYSICS.md 8.5's integral p = int_lb^la W'(s)/(s^(k+1) - 1) ds written literally, by composite
 * 3-point Gauss-Legendre in s (a different variable and rule from the module's). */
static double ogden_quadrature(const pp_material *m, pp_cavity_geometry geometry, double outer_stretch,
                               double stretch)
{
  const double alpha = m->ogden_alpha, mu = m->shear_modulus;
  const int panels = 4000;
  const double width = (stretch - outer_stretch) / panels, node = sqrt(0.6);
  const double nodes[3] = {-node, 0, node}, weights[3] = {5.0 / 9, 8.0 / 9, 5.0 / 9};
  double sum = 0;
  for (int panel = 0; panel < panels; ++panel)
    for (int i = 0; i < 3; ++i) {
      const double s = outer_stretch + (panel + 0.5 + 0.5 * nodes[i]) * width;
      const double integrand = geometry == PP_CAVITY_SPHERE
                                   ? 4 * mu / alpha * (pow(s, alpha - 1) - pow(s, -2 * alpha - 1)) / (s * s * s - 1)
                                   : 2 * mu / alpha * (pow(s, alpha - 1) - pow(s, -alpha - 1)) / (s * s - 1);
      sum += weights[i] * integrand;
    }
  return sum * 0.5 * width;
}

START_TEST(test_incompressible_forms)
{
  const double mu = shear_modulus, stretches[] = {0.7, 1.5, 2, 3, 4, 10};
  pp_material nh = law(PP_MATERIAL_NEO_HOOKEAN, 2, 1e4), og2 = law(PP_MATERIAL_OGDEN, 2, 1e4);
  for (size_t i = 0; i < sizeof stretches / sizeof stretches[0]; ++i) {
    const double l = stretches[i];
    /* infinite body, PHYSICS.md 8.5 */
    double cylinder = mu * (log(l) + 0.5 * (1 - pow(l, -2))), sphere = mu * (2.5 - 2 / l - 0.5 * pow(l, -4));
    ck_assert_double_eq_tol(incompressible_pressure(&nh, PP_CAVITY_CYLINDER, INFINITY, l), cylinder,
                            1e-13 * fabs(cylinder));
    ck_assert_double_eq_tol(incompressible_pressure(&nh, PP_CAVITY_SPHERE, INFINITY, l), sphere, 1e-13 * fabs(sphere));
    /* finite outer radius B = 5 A */
    const double lb_cylinder = incompressible_outer_stretch(PP_CAVITY_CYLINDER, 5, l);
    const double lb_sphere = incompressible_outer_stretch(PP_CAVITY_SPHERE, 5, l);
    cylinder = mu * (log(l / lb_cylinder) + 0.5 * (pow(lb_cylinder, -2) - pow(l, -2)));
    sphere = mu * (2 / lb_sphere + 0.5 * pow(lb_sphere, -4) - 2 / l - 0.5 * pow(l, -4));
    ck_assert_double_eq_tol(incompressible_pressure(&nh, PP_CAVITY_CYLINDER, 5, l), cylinder, 1e-13 * fabs(cylinder));
    ck_assert_double_eq_tol(incompressible_pressure(&nh, PP_CAVITY_SPHERE, 5, l), sphere, 1e-13 * fabs(sphere));
    /* Ogden alpha = 2 is the neo-Hookean law */
    ck_assert_double_eq_tol(incompressible_pressure(&og2, PP_CAVITY_SPHERE, 5, l), sphere, 1e-13 * fabs(sphere));
  }
  /* Ogden alpha = 9 and 12 against the literal integrals */
  const double alphas[] = {9, 12};
  for (int a = 0; a < 2; ++a) {
    pp_material og = law(PP_MATERIAL_OGDEN, alphas[a], 1e4);
    for (int geometry = 0; geometry < 2; ++geometry)
      for (int finite = 0; finite < 2; ++finite) {
        const double l = geometry ? 4 : 3, ratio = finite ? 20 : INFINITY;
        const double outer_stretch = finite ? incompressible_outer_stretch(geometry, 20, l) : 1;
        const double expected = ogden_quadrature(&og, geometry, outer_stretch, l);
        const double module = incompressible_pressure(&og, geometry, ratio, l);
        ck_assert_msg(fabs(module - expected) < 1e-10 * expected, "Ogden %g %s B/A %g: %.15g vs %.15g", alphas[a],
                      geometry_name(geometry), ratio, module, expected);
      }
  }
}
END_TEST

START_TEST(test_incompressible_limit)
{
  const double outer_to_inner = 100, ratios[3] = {1e2, 1e3, 1e4};
  /* Ogden only where its hoop stress at the hole stays below about 1e-2 kappa at kappa/mu = 1e4:
   * alpha = 12 at l = 2 has 660 mu there, and is first order in 1/kappa only beyond 1e5 (at l = 3,
   * ~1e5 mu, beyond 1e6). */
  struct {
    pp_material_model model;
    double alpha;
    pp_cavity_geometry geometry;
    double stretch;
  } cases[] = {
      {PP_MATERIAL_NEO_HOOKEAN, 2, PP_CAVITY_CYLINDER, 1.5}, {PP_MATERIAL_NEO_HOOKEAN, 2, PP_CAVITY_CYLINDER, 2},
      {PP_MATERIAL_NEO_HOOKEAN, 2, PP_CAVITY_CYLINDER, 3},   {PP_MATERIAL_NEO_HOOKEAN, 2, PP_CAVITY_SPHERE, 2},
      {PP_MATERIAL_NEO_HOOKEAN, 2, PP_CAVITY_SPHERE, 3},     {PP_MATERIAL_NEO_HOOKEAN, 2, PP_CAVITY_SPHERE, 4},
      {PP_MATERIAL_OGDEN, 9, PP_CAVITY_CYLINDER, 1.5},       {PP_MATERIAL_OGDEN, 9, PP_CAVITY_CYLINDER, 2},
      {PP_MATERIAL_OGDEN, 9, PP_CAVITY_SPHERE, 2},           {PP_MATERIAL_OGDEN, 12, PP_CAVITY_CYLINDER, 1.5},
      {PP_MATERIAL_OGDEN, 12, PP_CAVITY_SPHERE, 1.5}};
  printf("incompressible limit, B/A = %g: relative difference (p - p_incompressible(B)) / p_incompressible(B)\n",
         outer_to_inner);
  printf("  %-8s %-6s %5s %5s %14s   %10s %10s %10s   %s\n", "geometry", "law", "alpha", "l", "p_inc(B)/mu",
         "k/mu=1e2", "1e3", "1e4", "(p(1e4) - p_inf)/p_inf, finite-B estimate");
  double largest_ratio = 0, smallest_ratio = INFINITY;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    const pp_cavity_geometry geometry = cases[c].geometry;
    const double l = cases[c].stretch;
    double difference[3], pressure = 0, reference = 0;
    for (int r = 0; r < 3; ++r) {
      pp_material m = law(cases[c].model, cases[c].alpha, ratios[r]);
      pressure = compressible_pressure(&m, geometry, outer_to_inner, l);
      reference = incompressible_pressure(&m, geometry, outer_to_inner, l);
      difference[r] = (pressure - reference) / reference;
      /* The volume constraint stiffens: the compressible body needs less pressure, by the volume
       * change the stresses cause, O(sigma/kappa). The largest stress is the incompressible hoop
       * stress at the hole, sigma_tt(a) = -p + l W'(l)/k (from sigma_tt - sigma_rr = s W'(s)/k);
       * measured |difference| / (sigma_tt(a)/kappa) is 0.008 (neo-Hookean) to 0.7 (Ogden 12, sphere):
       * asserted below 2. */
      const double alpha = m.model == PP_MATERIAL_OGDEN ? m.ogden_alpha : 2, mu = m.shear_modulus;
      const double energy_slope = geometry == PP_CAVITY_SPHERE
                                      ? 4 * mu / alpha * (pow(l, alpha - 1) - pow(l, -2 * alpha - 1))
                                      : 2 * mu / alpha * (pow(l, alpha - 1) - pow(l, -alpha - 1));
      const double hoop_stress = -reference + l * energy_slope / (geometry == PP_CAVITY_SPHERE ? 2 : 1);
      largest_ratio = fmax(largest_ratio, fabs(difference[r]) / (hoop_stress / m.bulk_modulus));
      smallest_ratio = fmin(smallest_ratio, fabs(difference[r]) / (hoop_stress / m.bulk_modulus));
      ck_assert_msg(pressure < reference && fabs(difference[r]) < 2 * hoop_stress / m.bulk_modulus,
                    "case %zu kappa/mu %g: p %.12g vs incompressible %.12g (hoop stress %.4g)", c, ratios[r], pressure,
                    reference, hoop_stress);
    }
    const double per_decade = difference[1] / difference[2];
    ck_assert_msg(per_decade > 7 && per_decade < 13,
                  "case %zu: differences %.3g, %.3g, %.3g are not first order in 1/kappa", c, difference[0],
                  difference[1], difference[2]);
    /* PHYSICS.md 8.5's infinite body: the closed forms (neo-Hookean) or the literal integral. */
    pp_material m = law(cases[c].model, cases[c].alpha, ratios[2]);
    const double mu = shear_modulus;
    const double infinite = cases[c].model == PP_MATERIAL_NEO_HOOKEAN
                                ? (geometry == PP_CAVITY_SPHERE ? mu * (2.5 - 2 / l - 0.5 * pow(l, -4))
                                                                : mu * (log(l) + 0.5 * (1 - pow(l, -2))))
                                : ogden_quadrature(&m, geometry, 1, l);
    const double finite_outer_radius_term = geometry == PP_CAVITY_SPHERE
                                                ? 4.0 / 3 * mu * (pow(l, 3) - 1) * pow(outer_to_inner, -3)
                                                : mu * (l * l - 1) * pow(outer_to_inner, -2);
    ck_assert_msg(fabs(pressure - (infinite - finite_outer_radius_term)) <
                      2 * fabs(pressure - reference) + 0.01 * finite_outer_radius_term,
                  "case %zu: p %.12g, infinite body %.12g, finite-B estimate %.3g", c, pressure, infinite,
                  finite_outer_radius_term);
    printf("  %-8s %-6s %5.0f %5.2f %14.9f   %10.3e %10.3e %10.3e   %10.3e, %10.3e\n", geometry_name(geometry),
           cases[c].model == PP_MATERIAL_OGDEN ? "Ogden" : "NH", cases[c].alpha, l, reference / mu, difference[0],
           difference[1], difference[2], (pressure - infinite) / infinite, -finite_outer_radius_term / infinite);
  }
  printf("  |difference| / (sigma_tt(a) / kappa) from %.3g to %.3g\n", smallest_ratio, largest_ratio);
  fflush(stdout);
}
END_TEST

START_TEST(test_small_strain_lame)
{
  const double strains[2] = {1e-3, 1e-5}, outer_to_inner[2] = {2, 20}, ratios[2] = {2, 50};
  const pp_material_model models[2] = {PP_MATERIAL_NEO_HOOKEAN, PP_MATERIAL_OGDEN};
  printf("small strain vs Lame (Timoshenko & Goodier): (p - p_Lame) / p_Lame / eps\n");
  for (int geometry = 0; geometry < 2; ++geometry)
    for (int model = 0; model < 2; ++model)
      for (int r = 0; r < 2; ++r)
        for (int b = 0; b < 2; ++b) {
          pp_material m = law(models[model], 12, ratios[r]);
          const double E = pp_material_young(&m), nu = pp_material_poisson(&m), A = inner_radius;
          const double B = outer_to_inner[b] * A;
          double relative[2];
          for (int e = 0; e < 2; ++e) {
            const double u_a = strains[e] * A;
            /* plane strain: u_a = (1 + nu) p A ((1 - 2 nu) A^2 + B^2) / (E (B^2 - A^2));
             * sphere: u_a = p A^3 ((1 - 2 nu) A + (1 + nu) B^3 / (2 A^2)) / (E (B^3 - A^3)) */
            const double lame = geometry == PP_CAVITY_SPHERE
                                    ? u_a * E * (B * B * B - A * A * A) /
                                          (A * A * A * ((1 - 2 * nu) * A + (1 + nu) * B * B * B / (2 * A * A)))
                                    : u_a * E * (B * B - A * A) / ((1 + nu) * A * ((1 - 2 * nu) * A * A + B * B));
            const double pressure = compressible_pressure(&m, geometry, outer_to_inner[b], 1 + strains[e]);
            relative[e] = (pressure - lame) / lame;
            ck_assert_msg(fabs(relative[e]) < 6 * strains[e],
                          "%s model %d kappa/mu %g B/A %g eps %g: p %.12g vs Lame %.12g", geometry_name(geometry),
                          model, ratios[r], outer_to_inner[b], strains[e], pressure, lame);
          }
          const double rate = relative[0] / relative[1];
          ck_assert_msg(rate > 80 && rate < 120, "difference not first order in the strain: %.3g, %.3g", relative[0],
                        relative[1]);
          printf("  %-8s %-6s kappa/mu %4g  B/A %4g:  eps 1e-3 %7.3f   eps 1e-5 %7.3f\n", geometry_name(geometry),
                 model ? "Ogden12" : "NH", ratios[r], outer_to_inner[b], relative[0] / strains[0],
                 relative[1] / strains[1]);
        }
  fflush(stdout);
}
END_TEST

/* Gauss-Legendre (8 points a panel) in x = ln(R/A): radii and weights for the energy integral. */
enum { ENERGY_PANELS = 20, ENERGY_POINTS = 8 * ENERGY_PANELS };

static void energy_quadrature(double outer_to_inner, double radii[ENERGY_POINTS], double weights[ENERGY_POINTS])
{
  static const double node[4] = {0.1834346424956498049, 0.5255324099163289858, 0.7966664774136267396,
                                 0.9602898564975362317};
  static const double weight[4] = {0.3626837833783619830, 0.3137066458778872873, 0.2223810344533744706,
                                   0.1012285362903762592};
  const double width = log(outer_to_inner) / ENERGY_PANELS;
  for (int panel = 0; panel < ENERGY_PANELS; ++panel)
    for (int i = 0; i < 8; ++i) { /* ascending: the 4 negative nodes first, innermost last */
      const int j = i < 4 ? 3 - i : i - 4;
      const double x = (panel + 0.5) * width + (i < 4 ? -1 : 1) * node[j] * 0.5 * width;
      radii[8 * panel + i] = inner_radius * exp(x);
      weights[8 * panel + i] = weight[j] * 0.5 * width;
    }
}

/* Stored energy per unit angle measure divided by A^(k+1): int W (R/A)^(k+1) dx; and p. */
static double stored_energy(const pp_material *m, pp_cavity_geometry geometry, double outer_to_inner, double stretch,
                            double *pressure)
{
  double radii[ENERGY_POINTS], weights[ENERGY_POINTS];
  pp_cavity_point points[ENERGY_POINTS];
  energy_quadrature(outer_to_inner, radii, weights);
  const pp_cavity_problem problem = {m, geometry, inner_radius, outer_to_inner * inner_radius, stretch, 0};
  pp_cavity_solution solution;
  ck_assert_int_eq(pp_cavity_solve(&problem, ENERGY_POINTS, radii, points, &solution), PP_OK);
  const int k = geometry == PP_CAVITY_SPHERE ? 2 : 1;
  double energy = 0;
  for (int i = 0; i < ENERGY_POINTS; ++i) {
    const double F[9] = {points[i].radial_stretch, 0, 0, 0, points[i].hoop_stretch, 0, 0, 0,
                         k == 2 ? points[i].hoop_stretch : 1};
    energy += weights[i] * pp_material_energy(m, F) * pow(radii[i] / inner_radius, k + 1);
  }
  *pressure = solution.pressure;
  return energy;
}

START_TEST(test_boundary_conditions_and_energy)
{
  const double outer_to_inner = 20;
  const pp_material_model models[2] = {PP_MATERIAL_NEO_HOOKEAN, PP_MATERIAL_OGDEN};
  printf("energy principle dE/da = p a^k and boundary conditions (B/A = %g, kappa/mu = 50)\n", outer_to_inner);
  for (int geometry = 0; geometry < 2; ++geometry)
    for (int model = 0; model < 2; ++model) {
      pp_material m = law(models[model], 12, 50);
      const double l = geometry == PP_CAVITY_SPHERE ? 3 : 2.5, A = inner_radius, B = outer_to_inner * A;
      const int k = geometry == PP_CAVITY_SPHERE ? 2 : 1;
      /* boundary conditions, recomputed through the full tensor path */
      const double radii[3] = {A, sqrt(A * B), B};
      pp_cavity_point points[3];
      pp_cavity_solution solution;
      const pp_cavity_problem problem = {&m, geometry, A, B, l, 0};
      ck_assert_int_eq(pp_cavity_solve(&problem, 3, radii, points, &solution), PP_OK);
      double sigma[9];
      const double F_inner[9] = {points[0].radial_stretch, 0, 0, 0, points[0].hoop_stretch, 0, 0, 0,
                                 k == 2 ? points[0].hoop_stretch : 1};
      pp_material_cauchy(&m, F_inner, sigma);
      ck_assert_double_eq_tol(sigma[0], -solution.pressure, 1e-12 * solution.pressure);
      ck_assert_double_eq_tol(points[0].radius, l * A, 1e-15 * A);
      const double F_outer[9] = {points[2].radial_stretch, 0, 0, 0, points[2].hoop_stretch, 0, 0, 0,
                                 k == 2 ? points[2].hoop_stretch : 1};
      pp_material_cauchy(&m, F_outer, sigma);
      ck_assert_msg(fabs(sigma[0]) < 1e-10 * solution.pressure, "outer sigma_rr %.3g, p %.9g", sigma[0],
                    solution.pressure);
      ck_assert_double_eq_tol(solution.outer_radial_cauchy, sigma[0], 1e-12 * solution.pressure);
      /* the radius grows with R and the hoop stretch falls towards the outer surface */
      ck_assert(points[1].radius > points[0].radius && points[2].radius > points[1].radius);
      ck_assert(points[1].hoop_stretch < points[0].hoop_stretch && points[2].hoop_stretch < points[1].hoop_stretch);
      /* dE/d lambda_a = p lambda_a^k (E divided by A^(k+1)): 4-point central difference, O(d^4) */
      const double d = 1e-3 * l;
      double unused, pressure;
      const double energy_plus = stored_energy(&m, geometry, outer_to_inner, l + d, &unused);
      const double energy_minus = stored_energy(&m, geometry, outer_to_inner, l - d, &unused);
      const double energy_plus2 = stored_energy(&m, geometry, outer_to_inner, l + 2 * d, &unused);
      const double energy_minus2 = stored_energy(&m, geometry, outer_to_inner, l - 2 * d, &unused);
      const double derivative = (8 * (energy_plus - energy_minus) - (energy_plus2 - energy_minus2)) / (12 * d);
      stored_energy(&m, geometry, outer_to_inner, l, &pressure);
      const double from_energy = derivative / pow(l, k);
      ck_assert_msg(fabs(from_energy - pressure) < 1e-8 * pressure, "%s model %d: p %.12g, from the energy %.12g",
                    geometry_name(geometry), model, pressure, from_energy);
      printf("  %-8s %-7s l %.1f: p/mu %.10f  from energy %.10f  (rel %.1e)  outer sigma_rr/p %.1e  "
             "shots %d steps %d\n",
             geometry_name(geometry), model ? "Ogden12" : "NH", l, pressure / shear_modulus,
             from_energy / shear_modulus, from_energy / pressure - 1, sigma[0] / solution.pressure, solution.shots,
             solution.steps);
    }
  fflush(stdout);
}
END_TEST

START_TEST(test_integration_converged)
{
  const pp_material laws[2] = {law(PP_MATERIAL_NEO_HOOKEAN, 2, 50), law(PP_MATERIAL_OGDEN, 12, 500)};
  for (int geometry = 0; geometry < 2; ++geometry)
    for (int i = 0; i < 2; ++i) {
      pp_cavity_problem problem = {&laws[i], geometry, inner_radius, 20 * inner_radius, geometry ? 4 : 3, 0};
      pp_cavity_solution coarse, fine;
      ck_assert_int_eq(pp_cavity_solve(&problem, 0, NULL, NULL, &coarse), PP_OK);
      problem.tolerance = 1e-12;
      ck_assert_int_eq(pp_cavity_solve(&problem, 0, NULL, NULL, &fine), PP_OK);
      ck_assert_msg(fabs(coarse.pressure - fine.pressure) < 1e-8 * fine.pressure,
                    "%s law %d: p %.15g at tolerance 1e-10, %.15g at 1e-12", geometry_name(geometry), i,
                    coarse.pressure, fine.pressure);
      ck_assert_int_gt(fine.steps, coarse.steps);
    }
}
END_TEST

START_TEST(test_table)
{
  const double outer_to_inner = 20, ratios[2] = {50, 500}, alphas[3] = {2, 9, 12};
  const double stretches[2][3] = {{1.5, 2, 3}, {2, 3, 4}};
  printf("cavity pressure p/mu, B/A = %g: compressible reference vs the incompressible forms (finite B, and\n"
         "PHYSICS.md 8.5's infinite body); rel = p / p_incompressible(B) - 1\n",
         outer_to_inner);
  printf("  %-8s %-7s %4s %8s %14s %14s %14s %10s %9s\n", "geometry", "law", "l", "kappa/mu", "p/mu", "p_inc(B)/mu",
         "p_inc(inf)/mu", "rel", "outer/p");
  for (int geometry = 0; geometry < 2; ++geometry)
    for (int a = 0; a < 3; ++a)
      for (int s = 0; s < 3; ++s) {
        double previous = INFINITY;
        for (int r = 0; r < 2; ++r) {
          pp_material m = law(alphas[a] == 2 ? PP_MATERIAL_NEO_HOOKEAN : PP_MATERIAL_OGDEN, alphas[a], ratios[r]);
          const double l = stretches[geometry][s];
          const pp_cavity_problem problem = {&m, geometry, inner_radius, outer_to_inner * inner_radius, l, 0};
          pp_cavity_solution solution;
          ck_assert_int_eq(pp_cavity_solve(&problem, 0, NULL, NULL, &solution), PP_OK);
          const double finite = incompressible_pressure(&m, geometry, outer_to_inner, l);
          const double infinite = incompressible_pressure(&m, geometry, INFINITY, l);
          const double relative = solution.pressure / finite - 1;
          const double outer = solution.outer_radial_cauchy / solution.pressure;
          ck_assert_msg(fabs(outer) < 1e-10, "outer traction %.3g of p", outer);
          ck_assert_msg(relative < 0 && fabs(relative) < previous, "kappa/mu %g: rel %.4g", ratios[r], relative);
          previous = fabs(relative);
          char name[32] = "NH";
          if (alphas[a] != 2) snprintf(name, sizeof name, "Ogden%g", alphas[a]);
          printf("  %-8s %-7s %4.1f %8g %14.8f %14.8f %14.8f %10.3e %9.1e\n", geometry_name(geometry), name, l,
                 ratios[r], solution.pressure / shear_modulus, finite / shear_modulus, infinite / shear_modulus,
                 relative, outer);
        }
      }
  fflush(stdout);
}
END_TEST

START_TEST(test_arguments)
{
  pp_material nh = law(PP_MATERIAL_NEO_HOOKEAN, 2, 50), soft_ogden = law(PP_MATERIAL_OGDEN, 1, 50);
  double pressure = -1;
  ck_assert_int_eq(pp_cavity_pressure(&nh, PP_CAVITY_CYLINDER, 1e-3, 20e-3, 1, &pressure), PP_OK);
  ck_assert_double_eq(pressure, 0); /* no expansion, no pressure */
  ck_assert_int_eq(pp_cavity_pressure(&nh, PP_CAVITY_SPHERE, 1e-3, 1e-3, 2, &pressure), PP_ERR_ARGUMENT);
  ck_assert_int_eq(pp_cavity_pressure(&nh, PP_CAVITY_SPHERE, 1e-3, INFINITY, 2, &pressure), PP_ERR_ARGUMENT);
  ck_assert_int_eq(pp_cavity_pressure(&nh, PP_CAVITY_SPHERE, 1e-3, 2e-3, 0, &pressure), PP_ERR_ARGUMENT);
  ck_assert_int_eq(pp_cavity_pressure(&soft_ogden, PP_CAVITY_CYLINDER, 1e-3, 2e-3, 2, &pressure), PP_ERR_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "alpha"));
  const double descending[2] = {5e-3, 2e-3};
  pp_cavity_point points[2];
  pp_cavity_solution solution;
  const pp_cavity_problem problem = {&nh, PP_CAVITY_SPHERE, 1e-3, 10e-3, 2, 0};
  ck_assert_int_eq(pp_cavity_solve(&problem, 2, descending, points, &solution), PP_ERR_ARGUMENT);
  pp_error_clear();
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("cavity_reference");
  TCase *tc = tcase_create("cavity");
  tcase_add_test(tc, test_incompressible_forms);
  tcase_add_test(tc, test_incompressible_limit);
  tcase_add_test(tc, test_small_strain_lame);
  tcase_add_test(tc, test_boundary_conditions_and_energy);
  tcase_add_test(tc, test_integration_converged);
  tcase_add_test(tc, test_table);
  tcase_add_test(tc, test_arguments);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
