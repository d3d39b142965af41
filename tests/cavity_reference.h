/* cavity_reference: V6's reference (PHYSICS.md sections 8.5 and 10) for a COMPRESSIBLE body of
 * finite outer radius — the large-strain expansion of a pressurised cylindrical hole (plane
 * strain, axial stretch 1) or spherical cavity of reference radii A (inner) and B (outer), the
 * outer surface traction-free, the inner one under a Cauchy pressure p (a follower load), for
 * exactly the laws of host/material (its Cauchy stress is the only constitutive code used).
 *
 * The radial map r(R) solves the reference-configuration equilibrium
 *   dP_rR/dR + (k/R)(P_rR - P_tT) = 0,  k = 1 (cylinder) or 2 (sphere),
 * with principal stretches lambda_r = dr/dR, lambda_t = r/R (lambda_z = 1 for the cylinder) and
 * P the nominal principal stresses. Given the inner stretch lambda_a = a/A, shooting on p makes
 * the outer radial Cauchy stress vanish. Host-only test code: no MPI, no OpenCL. SI units. */
#ifndef PP_CAVITY_REFERENCE_H
#define PP_CAVITY_REFERENCE_H

#include "error.h"
#include "material.h"

typedef enum { PP_CAVITY_CYLINDER = 0, PP_CAVITY_SPHERE = 1 } pp_cavity_geometry;

/* The state at one reference radius R. */
typedef struct {
  double reference_radius; /* R, m */
  double radius;           /* r(R), m */
  double radial_stretch;   /* lambda_r = dr/dR */
  double hoop_stretch;     /* lambda_t = r/R */
  double radial_cauchy;    /* sigma_rr, Pa */
  double hoop_cauchy;      /* sigma_tt, Pa */
  double axial_cauchy;     /* sigma_zz (cylinder; the sphere's second hoop stress = hoop_cauchy), Pa */
} pp_cavity_point;

typedef struct {
  const pp_material *law;
  pp_cavity_geometry geometry;
  double inner_radius;  /* A > 0, m */
  double outer_radius;  /* B > A, m */
  double inner_stretch; /* lambda_a = a/A > 0 (< 1: a suction, p < 0) */
  double tolerance;     /* relative local error of the integrator; 0 means 1e-10 */
} pp_cavity_problem;

typedef struct {
  double pressure;            /* p = -sigma_rr at r = a, Pa */
  double outer_radial_cauchy; /* sigma_rr at R = B: zero up to round-off of the shooting, Pa */
  double outer_stretch;       /* lambda_b = b/B */
  int shots;                  /* integrations from A to B the shooting used */
  int steps;                  /* steps of the final integration */
} pp_cavity_solution;

/* p for a given inner stretch: pp_cavity_solve with the default tolerance and no profile. */
pp_err pp_cavity_pressure(const pp_material *law, pp_cavity_geometry geometry, double inner_radius,
                          double outer_radius, double inner_stretch, double *pressure);

/* The full solve. point_count states are recorded at reference_radii (ascending, in [A, B]) into
 * points, from the same integration that gives solution->pressure (point_count may be 0). */
pp_err pp_cavity_solve(const pp_cavity_problem *problem, int point_count, const double *reference_radii,
                       pp_cavity_point *points, pp_cavity_solution *solution);

/* The INCOMPRESSIBLE law (the deviatoric part of `law`, J = 1) in the same geometry:
 *   p = integral from lambda_b to lambda_a of W'(s) / (s^(k+1) - 1) ds,
 *   lambda_b^(k+1) = 1 + (lambda_a^(k+1) - 1)(A/B)^(k+1)   (volume conservation),
 * W(s) = W(s^-1, s, 1) (cylinder) or W(s^-2, s, s) (sphere) — PHYSICS.md 8.5 with the outer
 * boundary at b instead of infinity; outer_radius = INFINITY gives 8.5's infinite body exactly.
 * Gauss-Legendre quadrature in ln s (the integrand is smooth there, also at s = 1). */
pp_err pp_cavity_pressure_incompressible(const pp_material *law, pp_cavity_geometry geometry, double inner_radius,
                                         double outer_radius, double inner_stretch, double *pressure);

/* Principal Cauchy stresses for principal stretches (F = diag(stretches)), through
 * pp_material_cauchy: sigma_i = (l_i / J) dW/dl_i of the law. */
void pp_cavity_principal_cauchy(const pp_material *law, const double stretches[3], double cauchy[3]);

#endif
