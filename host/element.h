/* element: the stage-1 hex8 element on the host — the reference the OpenCL force kernels are
 * tested against. A plain module (no MPI, no OpenCL).
 *
 * Anti-locking choice: mean dilatation (Simo, Taylor and Pister 1985; the "F-bar" idea on a
 * whole element). The deviatoric energy is integrated at the 2x2x2 Gauss points of the full
 * deformation gradient; the volumetric energy U(J_bar) is taken once per element on its mean
 * dilatation J_bar = v / V (current over reference volume, both exact for the trilinear map).
 * Why: the constraint J ~ 1 of skin at kappa/mu = 50-500 is then imposed once per element, not
 * at 8 points, so the element does not lock volumetrically; full integration of the deviatoric
 * part has no zero-energy (hourglass) modes, so no hourglass control and no hourglass energy
 * are needed, and a rigid rotation gives exactly zero stress (the V1 rotation check). The
 * energy E = sum_q w_q W_dev(C_q) + V U(J_bar) is a function of the nodal positions, and the
 * forces are its exact gradient (variationally consistent, so energy balances close).
 *
 * Corners in VTK order (mesh.h): 0-3 the deeper face counter-clockwise from (i, j), 4-7 above. */
#ifndef PP_ELEMENT_H
#define PP_ELEMENT_H

#include "material.h"

/* Internal (restoring) nodal forces f = dE/du [8][3] (N) and the element's stored energy E (J) for
 * reference corners X [8][3] and displacements u [8][3] (m). Returns the mean dilatation J_bar;
 * a non-positive or non-finite det F at a Gauss point (an inverted element) returns 0, forces 0. */
double pp_hex8_internal_force(const pp_material *material, const double X[24], const double u[24], double f[24],
                              double *energy);

/* Stable explicit step bound of the element in its current configuration x = X + u: 2 / omega with
 * omega^2 = (8 c^2 / v^2) sum_a b_a . b_a (Flanagan and Belytschko 1981, the uniform-strain
 * bound; b_a the integral of dN_a/dx over the element, v its current volume), c^2 = M / rho the
 * tangent wave speed: M = kappa + 4 mu/3 at small strain (a cube of side h gives h / (sqrt(3) c)),
 * and at large strain M = kappa J_bar (J_bar + |J_bar - 1|) + 4/3 mu S, S the largest
 * pp_material_deviatoric_stiffening over the Gauss points. The volumetric term is the exact
 * rank-one stiffness of the mean dilatation (kappa J_bar^2 per unit current density), plus its
 * geometric (pressure) part. Measured against power iteration on the tangent of deformed single
 * elements (tests/test_element.c), it stays below the critical step. -1 for an inverted element. */
double pp_hex8_stable_step(const pp_material *material, const double X[24], const double u[24]);

/* Corner c's position bit (0 or 1) along axis 0-2 in the VTK hex order above: corners 0-3 the
 * deeper face counter-clockwise from (i, j), 4-7 above them. Every hex loop uses it. */
int pp_hex_corner_bit(int corner, int axis);

/* Reference volume of the hex (2x2x2 Gauss, exact for the trilinear map). */
double pp_hex8_volume(const double X[24]);

/* Integral over the element of corner c's trilinear shape function (2x2x2 Gauss, exact for the
 * trilinear map): the row-sum lumped mass of the corner per unit density; V/8 on a box. */
double pp_hex8_corner_volume(const double X[24], int corner);

#endif
