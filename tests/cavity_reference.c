/* cavity_reference: V6's compressible cavity-expansion reference (see cavity_reference.h).
 *
 * Formulation. With x = ln(R/A) the equilibrium equation is autonomous (only B/A matters):
 *   d lambda_t / dx = lambda_r - lambda_t,      d P_rR / dx = -k (P_rR - P_tT),
 * and the state integrated is (lambda_t, P_rR / mu). lambda_r is not a state: at every evaluation
 * it is solved from the law so that the radial nominal stress equals the integrated P_rR. We chose
 * this over integrating (r, lambda_r) with dlambda_r/dR from a numerical derivative of P_rR
 * because (1) no finite-difference derivative of the law enters the right-hand side, so the only
 * errors are the integrator's truncation and round-off; (2) it stays well posed in the nearly
 * incompressible limit, where P_rR is a Lagrange-multiplier-like quantity and lambda_r moves by
 * only O(1/kappa) per unit of stress — integrating lambda_r would divide by dP_rR/dlambda_r ~ kappa
 * and make the system stiff. The 1-D solve is well posed: P_rR(lambda_r) rises strictly from -inf
 * (lambda_r -> 0) to +inf for these decoupled laws: the volumetric part kappa lambda_t^k l_z (J - 1)
 * rises with lambda_r, and d(tau_r^dev / lambda_r)/d lambda_r = (2 mu / lambda_r^2)
 * [(4/9 - 2/(3 alpha)) lbar_r^alpha + (1/9 + 1/(3 alpha)) (lbar_t^alpha + lbar_z^alpha)] > 0 for
 * alpha >= 3/2 (neo-Hookean is alpha = 2), which is why smaller alpha is refused.
 *
 * Integrator: Dormand-Prince 5(4) with local error control (relative tolerance, 1e-10 by default).
 * Shooting on p (Brent's method on a bracketed root) in two phases. First with adaptive steps.
 * An adaptive step sequence changes with p, so the outer stress is then only piecewise smooth in
 * p, with jumps of the size of the integration error; to drive the outer traction to round-off the
 * second phase freezes the step sequence of an adaptive run at the phase-1 answer (tight tolerance)
 * and shoots again on that fixed mesh, where the outer stress is a smooth function of p. */
#include "cavity_reference.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void pp_cavity_principal_cauchy(const pp_material *law, const double stretches[3], double cauchy[3])
{
  const double F[9] = {stretches[0], 0, 0, 0, stretches[1], 0, 0, 0, stretches[2]};
  double sigma[9];
  pp_material_cauchy(law, F, sigma);
  /* F diagonal: C, S and sigma are diagonal in the same frame, in the same order */
  cauchy[0] = sigma[0];
  cauchy[1] = sigma[4];
  cauchy[2] = sigma[8];
}

static int hoop_count_of(pp_cavity_geometry geometry) { return geometry == PP_CAVITY_SPHERE ? 2 : 1; }
static double alpha_of(const pp_material *law) { return law->model == PP_MATERIAL_OGDEN ? law->ogden_alpha : 2.0; }

/* ---- Brent's root finder (Brent 1973, "zeroin") ---------------------------------------------- */

/* A scalar function for the root finder: 0 on success, nonzero when it cannot be evaluated. */
typedef int (*scalar_function)(void *context, double x, double *value);

enum { ROOT_FOUND = 0, ROOT_EVALUATION_FAILED = 1, ROOT_NOT_CONVERGED = 2 };

/* Root of f in the bracket [a, b] (f(a) f(b) <= 0): inverse quadratic interpolation and secant
 * steps, falling back to bisection, so it converges for any sign change, also across a jump.
 * Stops when the bracket is below (relative_tolerance + 4 eps)|x| or |f| <= f_tolerance; returns the end
 * of the final bracket with the smaller |f|. */
static int brent_root(scalar_function f, void *context, double a, double b, double fa, double fb,
                      double relative_tolerance, double f_tolerance, int max_iterations, double *root, double *f_root)
{
  double c = b, fc = fb, d = b - a, e = d;
  for (int iteration = 0; iteration < max_iterations; ++iteration) {
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) { /* keep the root between b and c */
      c = a;
      fc = fa;
      d = e = b - a;
    }
    if (fabs(fc) < fabs(fb)) { /* b is the best estimate */
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const double tolerance = (2 * DBL_EPSILON + 0.5 * relative_tolerance) * fabs(b), half = 0.5 * (c - b);
    if (fabs(half) <= tolerance || fabs(fb) <= f_tolerance) {
      *root = b;
      *f_root = fb;
      return ROOT_FOUND;
    }
    if (fabs(e) >= tolerance && fabs(fa) > fabs(fb)) {
      double s = fb / fa, p, q;
      if (a == c) { /* secant */
        p = 2 * half * s;
        q = 1 - s;
      } else { /* inverse quadratic interpolation */
        double qa = fa / fc, r = fb / fc;
        p = s * (2 * half * qa * (qa - r) - (b - a) * (r - 1));
        q = (qa - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      p = fabs(p);
      if (2 * p < fmin(3 * half * q - fabs(tolerance * q), fabs(e * q))) {
        e = d;
        d = p / q;
      } else { /* interpolation would not shrink the bracket fast enough: bisect */
        d = half;
        e = d;
      }
    } else {
      d = half;
      e = d;
    }
    a = b;
    fa = fb;
    b += fabs(d) > tolerance ? d : (half > 0 ? tolerance : -tolerance);
    if (f(context, b, &fb)) return ROOT_EVALUATION_FAILED;
  }
  return ROOT_NOT_CONVERGED;
}

/* ---- the law along the radius ------------------------------------------------------------------ */

typedef struct {
  const pp_material *law;
  int hoop_count;              /* k: 1 cylinder, 2 sphere */
  double shear_modulus;        /* stresses inside are in units of mu */
  double radial_stretch_guess; /* the last solved lambda_r: the next solve starts there */
  double hoop_stretch;         /* of the solve in progress */
  double target_radial_nominal;
} cavity_law;

/* Nominal principal stresses P_i = sigma_i J / lambda_i (units of mu), from the law's Cauchy stress. */
static void nominal_stresses(const cavity_law *c, double radial, double hoop, double *radial_nominal,
                             double *hoop_nominal)
{
  const double axial = c->hoop_count == 2 ? hoop : 1.0, stretches[3] = {radial, hoop, axial};
  double cauchy[3];
  pp_cavity_principal_cauchy(c->law, stretches, cauchy);
  *radial_nominal = cauchy[0] * hoop * axial / c->shear_modulus;
  *hoop_nominal = cauchy[1] * radial * axial / c->shear_modulus;
}

static int radial_nominal_residual(void *context, double radial, double *value)
{
  cavity_law *c = context;
  double radial_nominal, hoop_nominal;
  nominal_stresses(c, radial, c->hoop_stretch, &radial_nominal, &hoop_nominal);
  *value = radial_nominal - c->target_radial_nominal;
  return isfinite(*value) ? 0 : 1;
}

/* lambda_r with P_rR(lambda_r, lambda_t) = target (monotone: see the top of the file). */
static int solve_radial_stretch(cavity_law *c, double hoop, double target, double *radial)
{
  c->hoop_stretch = hoop;
  c->target_radial_nominal = target;
  double guess = c->radial_stretch_guess > 0 && isfinite(c->radial_stretch_guess) ? c->radial_stretch_guess : 1.0;
  double f_guess;
  if (radial_nominal_residual(c, guess, &f_guess)) return 1;
  if (f_guess == 0) {
    *radial = guess;
    return 0;
  }
  /* Walk away from the guess in geometrically growing steps (in ln lambda_r) until the sign
   * changes; the guess (the previous solve) is usually within 1e-4. */
  const double direction = f_guess < 0 ? 1.0 : -1.0;
  double step = 1e-4, trial = guess, f_trial = f_guess;
  int bracketed = 0;
  for (int i = 0; i < 60 && !bracketed; ++i, step *= 2) {
    trial = guess * exp(direction * fmin(step, 600.0));
    if (!(trial > 0 && isfinite(trial))) return 1;
    if (radial_nominal_residual(c, trial, &f_trial)) return 1;
    if ((f_trial > 0) != (f_guess > 0) || f_trial == 0) bracketed = 1;
    else {
      guess = trial;
      f_guess = f_trial;
    }
  }
  if (!bracketed) return 1;
  double root, f_root;
  if (brent_root(radial_nominal_residual, c, guess, trial, f_guess, f_trial, 0, 0, 300, &root, &f_root) != ROOT_FOUND)
    return 1;
  c->radial_stretch_guess = root;
  *radial = root;
  return 0;
}

/* The rates of the state (lambda_t, P_rR/mu) in x = ln(R/A); also lambda_r at that state. */
static int equilibrium_rate(cavity_law *c, const double state[2], double rate[2], double *radial_stretch)
{
  if (!(state[0] > 0 && isfinite(state[0]) && isfinite(state[1]))) return 1;
  double radial, radial_nominal, hoop_nominal;
  if (solve_radial_stretch(c, state[0], state[1], &radial)) return 1;
  nominal_stresses(c, radial, state[0], &radial_nominal, &hoop_nominal);
  rate[0] = radial - state[0];
  rate[1] = -c->hoop_count * (state[1] - hoop_nominal);
  *radial_stretch = radial;
  return isfinite(rate[0]) && isfinite(rate[1]) ? 0 : 1;
}

/* ---- Dormand-Prince 5(4) ----------------------------------------------------------------------- */

static const double dp_a[7][6] = {{0},
                                  {1.0 / 5},
                                  {3.0 / 40, 9.0 / 40},
                                  {44.0 / 45, -56.0 / 15, 32.0 / 9},
                                  {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
                                  {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
                                  {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
/* 5th-order weights are row 6 of dp_a (first same as last); these are 5th minus 4th order. */
static const double dp_error[7] = {71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525,
                                   -1.0 / 40};

enum { INTEGRATION_OK = 0, INTEGRATION_DIVERGED = 1, INTEGRATION_FAILED = 2 };

typedef struct {
  cavity_law law;
  double length;         /* ln(B/A) */
  double tolerance;      /* relative local error of an adaptive run */
  double nominal_scale;  /* |P_rR| scale of the error control (the inner value of a first guess) */
  double inner_stretch;  /* lambda_a */
  /* fixed-mesh mode when fixed_nodes != NULL */
  const double *fixed_nodes;
  int fixed_node_count;
  /* adaptive mode: points the steps must land on (ascending in (0, length)), and where the
   * accepted nodes go (grown with realloc) when record_nodes is set */
  const double *landing;
  int landing_count;
  int record_nodes;
  double *nodes;
  int node_count, node_capacity;
  /* fixed mode: (lambda_t, P_rR/mu, lambda_r) at every node, when non-NULL */
  double (*node_states)[3];
  int shots;
  int out_of_memory;
} cavity_shooting;

/* One Dormand-Prince step of size h from (y, k1): the 5th-order y_new, the last stage k7 (the rate
 * at y_new, and the next step's k1), lambda_r at y_new, and the 5th-minus-4th error estimate. */
static int dormand_prince_step(cavity_law *c, const double y[2], const double k1[2], double h, double y_new[2],
                               double k7[2], double *radial_new, double error[2])
{
  double k[7][2], stage[2], radial;
  memcpy(k[0], k1, sizeof k[0]);
  for (int s = 1; s < 7; ++s) {
    for (int i = 0; i < 2; ++i) {
      double sum = 0;
      for (int j = 0; j < s; ++j) sum += dp_a[s][j] * k[j][i];
      stage[i] = y[i] + h * sum;
    }
    if (equilibrium_rate(c, stage, k[s], &radial)) return 1;
    if (s == 6) memcpy(y_new, stage, sizeof stage); /* row 6 is the 5th-order solution */
  }
  memcpy(k7, k[6], sizeof k[6]);
  *radial_new = radial;
  for (int i = 0; i < 2; ++i) {
    double sum = 0;
    for (int j = 0; j < 7; ++j) sum += dp_error[j] * k[j][i];
    error[i] = h * sum;
  }
  return 0;
}

static int append_node(cavity_shooting *s, double x)
{
  if (s->node_count == s->node_capacity) {
    int capacity = s->node_capacity ? 2 * s->node_capacity : 256;
    double *grown = realloc(s->nodes, (size_t)capacity * sizeof *grown);
    if (!grown) {
      s->out_of_memory = 1;
      return 1;
    }
    s->nodes = grown;
    s->node_capacity = capacity;
  }
  s->nodes[s->node_count++] = x;
  return 0;
}

/* Whether the state has left any physical range: the shot went the wrong way, and the sign of
 * P_rR says which (p too small: the body tears outward; too large: it collapses inward). */
static int state_diverged(const cavity_shooting *s, const double y[2])
{
  return !(y[0] > 1e-6 && y[0] < 1e6 && fabs(y[1]) < 1e12 * s->nominal_scale);
}

/* Integrates the state from x = 0 (lambda_t = lambda_a, P_rR = -q lambda_a^k, q = p/mu) to
 * x = length; *outer is the final state (or the last one on divergence). */
static int integrate(cavity_shooting *s, double scaled_pressure, double outer[2])
{
  const int k = s->law.hoop_count;
  double y[2] = {s->inner_stretch, -scaled_pressure * pow(s->inner_stretch, k)}, rate[2], radial;
  s->shots++;
  s->law.radial_stretch_guess = pow(s->inner_stretch, -k); /* the incompressible value */
  memcpy(outer, y, sizeof y);
  if (equilibrium_rate(&s->law, y, rate, &radial)) return INTEGRATION_DIVERGED;
  double y_new[2], rate_new[2], error[2], radial_new;

  if (s->fixed_nodes) {
    if (s->node_states) {
      s->node_states[0][0] = y[0];
      s->node_states[0][1] = y[1];
      s->node_states[0][2] = radial;
    }
    for (int n = 1; n < s->fixed_node_count; ++n) {
      if (dormand_prince_step(&s->law, y, rate, s->fixed_nodes[n] - s->fixed_nodes[n - 1], y_new, rate_new,
                              &radial_new, error))
        return INTEGRATION_DIVERGED;
      memcpy(y, y_new, sizeof y);
      memcpy(rate, rate_new, sizeof rate);
      memcpy(outer, y, sizeof y);
      if (s->node_states) {
        s->node_states[n][0] = y[0];
        s->node_states[n][1] = y[1];
        s->node_states[n][2] = radial_new;
      }
      if (state_diverged(s, y)) return INTEGRATION_DIVERGED;
    }
    return INTEGRATION_OK;
  }

  s->node_count = 0;
  if (s->record_nodes && append_node(s, 0)) return INTEGRATION_FAILED;
  double x = 0, h = fmin(1e-2, s->length);
  const double h_min = 1e-12 * s->length;
  int next_landing = 0;
  for (long step = 0; x < s->length; ++step) {
    if (step > 2000000) return INTEGRATION_FAILED;
    while (next_landing < s->landing_count && s->landing[next_landing] <= x) ++next_landing;
    const double stop = next_landing < s->landing_count ? s->landing[next_landing] : s->length;
    double h_try = fmin(h, stop - x);
    const int reaches_stop = h_try >= stop - x - 1e-14 * s->length;
    if (reaches_stop) h_try = stop - x;
    if (dormand_prince_step(&s->law, y, rate, h_try, y_new, rate_new, &radial_new, error)) {
      /* a stage left the range where the law can be solved: a smaller step, else the shot diverged */
      h = 0.25 * h_try;
      if (h < h_min) return INTEGRATION_DIVERGED;
      continue;
    }
    double norm = 0;
    const double error_floor[2] = {1.0, s->nominal_scale};
    for (int i = 0; i < 2; ++i) {
      double scale = fmax(fmax(fabs(y[i]), fabs(y_new[i])), error_floor[i]);
      norm = fmax(norm, fabs(error[i]) / (s->tolerance * scale));
    }
    const double factor = norm > 0 ? 0.9 * pow(norm, -0.2) : 5.0;
    if (norm > 1) {
      h = h_try * fmax(0.2, factor);
      if (h < h_min) return INTEGRATION_DIVERGED;
      continue;
    }
    x = reaches_stop ? stop : x + h_try;
    memcpy(y, y_new, sizeof y);
    memcpy(rate, rate_new, sizeof rate);
    memcpy(outer, y, sizeof y);
    if (s->record_nodes && append_node(s, x)) return INTEGRATION_FAILED;
    if (state_diverged(s, y)) return INTEGRATION_DIVERGED;
    /* a step clipped to land on a point does not shrink the next one */
    h = fmax(h_try * fmin(5.0, factor), reaches_stop ? h : 0);
  }
  return INTEGRATION_OK;
}

/* The shooting residual: P_rR / mu at R = B as a function of q = p / mu (it falls as q rises). */
static int outer_radial_nominal(void *context, double scaled_pressure, double *residual)
{
  cavity_shooting *s = context;
  double outer[2];
  int status = integrate(s, scaled_pressure, outer);
  if (status == INTEGRATION_FAILED) return 1;
  /* A diverged shot still tells which side of the root it is on: its last P_rR (large, signed). */
  *residual = outer[1];
  return isfinite(*residual) ? 0 : 1;
}

/* Brackets the root of the residual starting at q0 (walking in growing steps the way the residual
 * says), then Brent until the bracket is below relative_tolerance (0: round-off) or the residual
 * below residual_tolerance. */
static pp_err shoot(cavity_shooting *s, double q0, double first_step, double relative_tolerance,
                    double residual_tolerance, double *root)
{
  double f0, q1 = q0, f1 = 0, step = first_step;
  PP_CHECK(outer_radial_nominal(s, q0, &f0) == 0, PP_ERR_SOLVER,
           "cavity reference: the integration failed at p/mu = %.6g%s", q0, s->out_of_memory ? " (out of memory)" : "");
  if (f0 == 0) {
    *root = q0;
    return PP_OK;
  }
  const double direction = f0 > 0 ? 1.0 : -1.0; /* a positive outer P_rR needs more pressure */
  int bracketed = 0;
  for (int i = 0; i < 80 && !bracketed; ++i, step *= 2) {
    q1 = q0 + direction * step;
    PP_CHECK(outer_radial_nominal(s, q1, &f1) == 0, PP_ERR_SOLVER,
             "cavity reference: the integration failed at p/mu = %.6g%s", q1,
             s->out_of_memory ? " (out of memory)" : "");
    if ((f1 > 0) != (f0 > 0) || f1 == 0) bracketed = 1;
    else {
      q0 = q1;
      f0 = f1;
    }
  }
  PP_CHECK(bracketed, PP_ERR_SOLVER,
           "cavity reference: no pressure found that frees the outer surface (last p/mu %.6g)", q1);
  double residual;
  int status = brent_root(outer_radial_nominal, s, q0, q1, f0, f1, relative_tolerance, residual_tolerance, 200, root,
                          &residual);
  PP_CHECK(status == ROOT_FOUND, PP_ERR_SOLVER, "cavity reference: the shooting %s (bracket p/mu %.9g to %.9g)",
           status == ROOT_NOT_CONVERGED ? "did not converge" : "failed in an integration", q0, q1);
  return PP_OK;
}

/* ---- public API --------------------------------------------------------------------------------- */

static pp_err check_problem(const pp_material *law, pp_cavity_geometry geometry, double inner_radius,
                            double outer_radius, double inner_stretch, int finite_outer_radius)
{
  PP_CHECK(law, PP_ERR_ARGUMENT, "cavity reference: no material law");
  PP_CHECK(geometry == PP_CAVITY_CYLINDER || geometry == PP_CAVITY_SPHERE, PP_ERR_ARGUMENT,
           "cavity reference: geometry %d is neither cylinder (0) nor sphere (1)", (int)geometry);
  PP_CHECK(law->model == PP_MATERIAL_NEO_HOOKEAN || law->model == PP_MATERIAL_OGDEN, PP_ERR_ARGUMENT,
           "cavity reference: unknown material model %d", (int)law->model);
  PP_CHECK(law->shear_modulus > 0 && isfinite(law->shear_modulus) && law->bulk_modulus > 0 &&
               isfinite(law->bulk_modulus),
           PP_ERR_ARGUMENT, "cavity reference: shear modulus %g and bulk modulus %g must be positive",
           law->shear_modulus, law->bulk_modulus);
  PP_CHECK(alpha_of(law) >= 1.5 && isfinite(alpha_of(law)), PP_ERR_ARGUMENT,
           "cavity reference: Ogden alpha %g < 3/2: the radial nominal stress is not known to rise with the radial "
           "stretch, so the radial stretch would not be unique",
           alpha_of(law));
  PP_CHECK(inner_radius > 0 && isfinite(inner_radius), PP_ERR_ARGUMENT,
           "cavity reference: inner radius %g must be positive", inner_radius);
  PP_CHECK(outer_radius > inner_radius && (isfinite(outer_radius) || !finite_outer_radius), PP_ERR_ARGUMENT,
           "cavity reference: outer radius %g must exceed the inner radius %g%s", outer_radius, inner_radius,
           finite_outer_radius ? " and be finite" : "");
  PP_CHECK(inner_stretch > 0 && isfinite(inner_stretch), PP_ERR_ARGUMENT,
           "cavity reference: inner stretch %g must be positive", inner_stretch);
  return PP_OK;
}

pp_err pp_cavity_pressure_incompressible(const pp_material *law, pp_cavity_geometry geometry, double inner_radius,
                                         double outer_radius, double inner_stretch, double *pressure)
{
  PP_CALL(check_problem(law, geometry, inner_radius, outer_radius, inner_stretch, 0));
  PP_CHECK(pressure, PP_ERR_ARGUMENT, "cavity reference: no place for the pressure");
  const int k = hoop_count_of(geometry);
  const double alpha = alpha_of(law), mu = law->shear_modulus, t_a = log(inner_stretch);
  /* lambda_b^(k+1) - 1 = (lambda_a^(k+1) - 1)(A/B)^(k+1): expm1/log1p keep it exact near 1 */
  const double t_b = log1p(expm1((k + 1) * t_a) * pow(inner_radius / outer_radius, k + 1)) / (k + 1);
  /* 8-point Gauss-Legendre on panels; the integrand is ~exp(c t), c < alpha + 3, so panels of
   * width 1/(4 (alpha + 3)) resolve it to round-off. */
  static const double node[4] = {0.1834346424956498049, 0.5255324099163289858, 0.7966664774136267396,
                                 0.9602898564975362317};
  static const double weight[4] = {0.3626837833783619830, 0.3137066458778872873, 0.2223810344533744706,
                                   0.1012285362903762592};
  const int panels = 64 + (int)ceil(4 * (alpha + 3) * fabs(t_a - t_b));
  const double width = (t_a - t_b) / panels;
  double sum = 0;
  for (int panel = 0; panel < panels; ++panel) {
    const double middle = t_b + (panel + 0.5) * width;
    for (int i = 0; i < 8; ++i) {
      const double t = middle + (i < 4 ? -1 : 1) * node[i % 4] * 0.5 * width;
      /* dp = W'(s) s / (s^(k+1) - 1) dt with s = e^t; W' from PHYSICS.md 8.5:
       *   cylinder (2 mu/alpha)(s^(alpha-1) - s^(-alpha-1)): (2 mu/alpha) sinh(alpha t) / (e^t sinh t)
       *   sphere (4 mu/alpha)(s^(alpha-1) - s^(-2 alpha-1)):
       *     (4 mu/alpha) e^(-(alpha+3) t/2) sinh(3 alpha t/2) / sinh(3 t/2) */
      double integrand;
      if (k == 1) integrand = 2 * mu / alpha * (t == 0 ? alpha : sinh(alpha * t) / sinh(t)) * exp(-t);
      else
        integrand = 4 * mu / alpha * (t == 0 ? alpha : sinh(1.5 * alpha * t) / sinh(1.5 * t)) *
                    exp(-0.5 * (alpha + 3) * t);
      sum += weight[i % 4] * integrand;
    }
  }
  *pressure = sum * 0.5 * width;
  PP_CHECK(isfinite(*pressure), PP_ERR_ARGUMENT, "cavity reference: incompressible pressure overflows at stretch %g",
           inner_stretch);
  return PP_OK;
}

static pp_err solve_with_state(const pp_cavity_problem *problem, int point_count, const double *reference_radii,
                               pp_cavity_point *points, pp_cavity_solution *solution, cavity_shooting *s,
                               double **landing, double (**node_states)[3])
{
  const pp_material *law = problem->law;
  const double A = problem->inner_radius, B = problem->outer_radius, mu = law->shear_modulus;
  const double tolerance = problem->tolerance > 0 ? problem->tolerance : 1e-10;
  PP_CHECK(tolerance < 1e-3, PP_ERR_ARGUMENT, "cavity reference: tolerance %g is not a tolerance", tolerance);
  s->law.law = law;
  s->law.hoop_count = hoop_count_of(problem->geometry);
  s->law.shear_modulus = mu;
  s->length = log(B / A);
  s->inner_stretch = problem->inner_stretch;
  const int k = s->law.hoop_count;

  /* The landing points: the requested radii strictly inside (0, length), as x = ln(R/A). */
  if (point_count > 0) {
    PP_MALLOC(*landing, point_count, "cavity profile radii");
    for (int i = 0; i < point_count; ++i) {
      const double R = reference_radii[i];
      PP_CHECK(R >= A && R <= B && (i == 0 || R >= reference_radii[i - 1]), PP_ERR_ARGUMENT,
               "cavity reference: profile radius %d (%g m) is not ascending in [A, B] = [%g, %g] m", i, R, A, B);
      const double x = R == B ? s->length : log(R / A);
      if (x > 0 && x < s->length && (s->landing_count == 0 || x > (*landing)[s->landing_count - 1]))
        (*landing)[s->landing_count++] = x;
    }
    s->landing = *landing;
  }

  /* First guess and scales from the incompressible answer in the same geometry. */
  double q_incompressible;
  PP_CALL(pp_cavity_pressure_incompressible(law, problem->geometry, A, B, problem->inner_stretch, &q_incompressible));
  q_incompressible /= mu;
  s->nominal_scale = fabs(q_incompressible) * pow(problem->inner_stretch, k);
  if (!(s->nominal_scale > 0)) s->nominal_scale = 1; /* lambda_a = 1: p = 0 */

  /* Phase 1: adaptive steps, p to 1e-7 relative. */
  s->tolerance = fmax(tolerance, 1e-8);
  double q1;
  const double first_step = 0.05 * fmax(fabs(q_incompressible), 1e-300);
  PP_CALL(shoot(s, q_incompressible, first_step, 1e-7, 0, &q1));

  /* Phase 2: the step sequence of an adaptive run at q1 (tight tolerance, landing on the profile
   * radii) frozen; shooting on it to round-off. */
  s->tolerance = tolerance;
  s->record_nodes = 1;
  double outer[2];
  PP_CHECK(integrate(s, q1, outer) == INTEGRATION_OK, PP_ERR_SOLVER,
           "cavity reference: the integration at the phase-1 pressure p/mu = %.9g did not reach B%s", q1,
           s->out_of_memory ? " (out of memory)" : "");
  s->record_nodes = 0;
  s->fixed_nodes = s->nodes;
  s->fixed_node_count = s->node_count;
  /* Stop at round-off of p (the bracket) or when the outer P_rR is within its own round-off:
   * 1e-13 of the inner P_rR, or the noise of the law's volumetric stress kappa (J - 1), J - 1 from
   * stretches of order 1, about 16 eps kappa/mu (it dominates only at small strain and large
   * kappa). Below that noise Brent could only bisect. */
  double q;
  const double residual_noise = 16 * DBL_EPSILON * law->bulk_modulus / mu;
  PP_CALL(shoot(s, q1, 1e-6 * fabs(q1) + 1e-300, 0,
                1e-13 * fabs(q1) * pow(problem->inner_stretch, k) + residual_noise, &q));

  /* The final integration, recording every node. */
  PP_MALLOC(*node_states, s->node_count, "cavity node states");
  s->node_states = *node_states;
  PP_CHECK(integrate(s, q, outer) == INTEGRATION_OK, PP_ERR_SOLVER,
           "cavity reference: the final integration at p/mu = %.9g failed", q);

  int node = 0;
  for (int i = 0; i < point_count; ++i) {
    const double R = reference_radii[i], x = R == B ? s->length : log(R / A);
    if (R == A) node = 0;
    else {
      while (node < s->node_count && s->nodes[node] < x) ++node;
      PP_CHECK(node < s->node_count && s->nodes[node] == x, PP_ERR_SOLVER,
               "cavity reference: profile radius %g m is not a node of the integration", R);
    }
    const double hoop = (*node_states)[node][0], radial = (*node_states)[node][2];
    const double stretches[3] = {radial, hoop, k == 2 ? hoop : 1.0};
    double cauchy[3];
    pp_cavity_principal_cauchy(law, stretches, cauchy);
    points[i] = (pp_cavity_point){R, hoop * R, radial, hoop, cauchy[0], cauchy[1], cauchy[2]};
  }

  const double outer_hoop = (*node_states)[s->node_count - 1][0], outer_radial = (*node_states)[s->node_count - 1][2];
  const double outer_stretches[3] = {outer_radial, outer_hoop, k == 2 ? outer_hoop : 1.0};
  double outer_cauchy[3];
  pp_cavity_principal_cauchy(law, outer_stretches, outer_cauchy);
  solution->pressure = q * mu;
  solution->outer_radial_cauchy = outer_cauchy[0];
  solution->outer_stretch = outer_hoop;
  solution->shots = s->shots;
  solution->steps = s->node_count - 1;
  return PP_OK;
}

pp_err pp_cavity_solve(const pp_cavity_problem *problem, int point_count, const double *reference_radii,
                       pp_cavity_point *points, pp_cavity_solution *solution)
{
  PP_CHECK(problem && solution, PP_ERR_ARGUMENT, "cavity reference: no problem or no place for the solution");
  PP_CALL(check_problem(problem->law, problem->geometry, problem->inner_radius, problem->outer_radius,
                        problem->inner_stretch, 1));
  PP_CHECK(point_count >= 0 && (point_count == 0 || (reference_radii && points)), PP_ERR_ARGUMENT,
           "cavity reference: %d profile points without radii or storage", point_count);
  cavity_shooting s;
  memset(&s, 0, sizeof s);
  double *landing = NULL, (*node_states)[3] = NULL;
  pp_err status = solve_with_state(problem, point_count, reference_radii, points, solution, &s, &landing, &node_states);
  free(landing);
  free(node_states);
  free(s.nodes);
  if (status != PP_OK) return pp_error_trace(status, __FILE__, __LINE__, __func__);
  return PP_OK;
}

pp_err pp_cavity_pressure(const pp_material *law, pp_cavity_geometry geometry, double inner_radius,
                          double outer_radius, double inner_stretch, double *pressure)
{
  PP_CHECK(pressure, PP_ERR_ARGUMENT, "cavity reference: no place for the pressure");
  const pp_cavity_problem problem = {law, geometry, inner_radius, outer_radius, inner_stretch, 0};
  pp_cavity_solution solution;
  PP_CALL(pp_cavity_solve(&problem, 0, NULL, NULL, &solution));
  *pressure = solution.pressure;
  return PP_OK;
}
