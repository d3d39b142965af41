/* material: the hyperelastic laws of the skin layers (PHYSICS.md section 2.2) on the host — the
 * parameter sets with their convention, and reference evaluations of energy and stress that the
 * stage-1 kernels are tested against. A plain module: no MPI, no OpenCL.
 *
 * Both laws are decoupled: W = W_dev(C_bar) + (kappa/2)(J - 1)^2, C_bar = J^(-2/3) C.
 *   neo_hookean  W_dev = (mu/2)(I1_bar - 3)                 (the NiftySim form)
 *   ogden        W_dev = (2 mu/alpha^2) sum_i (l_i_bar^alpha - 1)   one term, l_i_bar the
 *                deviatoric principal stretches
 * mu is the initial shear modulus in BOTH forms (the Shergold/Fleck/Abaqus convention for Ogden):
 * a mu_p of Ogden's original notation W = (mu_p/alpha) sum(...) is mu_p alpha / 2 here, a factor
 * of about 6 for skin (alpha = 12), which is why every parameter set carries its convention.
 * Ogden with alpha = 2 is the neo-Hookean law exactly. kappa = bulk_to_shear_ratio x mu. */
#ifndef PP_MATERIAL_H
#define PP_MATERIAL_H

#include "config.h"
#include "error.h"

typedef enum { PP_MATERIAL_NEO_HOOKEAN = 0, PP_MATERIAL_OGDEN = 1 } pp_material_model;

/* Conventions a shear modulus may be given in; only the initial-shear-modulus one is stored. */
typedef enum { PP_OGDEN_INITIAL_SHEAR_MODULUS = 0 } pp_material_convention;

typedef struct {
  pp_material_model model;
  pp_material_convention convention; /* of mu: always the initial shear modulus */
  double shear_modulus;              /* mu, Pa */
  double ogden_alpha;                /* alpha (neo-Hookean: 2, the same law) */
  double bulk_modulus;               /* kappa, Pa */
  double density;                    /* kg/m^3 */
} pp_material;

/* Layer 0..4 (stratum corneum first) from skin.<layer>.* and skin.density. */
pp_err pp_material_from_config(const pp_config *config, int layer, pp_material *material);
/* The same parameters from Ogden's original notation (mu_p, W = (mu_p/alpha) sum(...)): converts once. */
pp_material pp_material_ogden_from_original(double mu_p, double alpha, double bulk_modulus, double density);

/* Strain energy per reference volume W(F) (J/m^3). F row-major [3][3], det F > 0. */
double pp_material_energy(const pp_material *material, const double F[9]);
/* Second Piola-Kirchhoff stress S(C) (Pa), symmetric, row-major [9]. */
void pp_material_pk2(const pp_material *material, const double C[9], double S[9]);
/* The deviatoric part alone: W_dev(C) and S_dev = 2 dW_dev/dC (the volumetric term is left to
 * the element, which evaluates it on the element's mean dilatation: host/element). The
 * volumetric part: U(J) = (kappa/2)(J - 1)^2, its pressure U'(J) = kappa (J - 1). */
double pp_material_deviatoric_energy(const pp_material *material, const double C[9]);
void pp_material_pk2_deviatoric(const pp_material *material, const double C[9], double S[9]);
double pp_material_volumetric_energy(const pp_material *material, double J);
double pp_material_pressure(const pp_material *material, double J);
/* Cauchy stress sigma = J^-1 F S F^T. */
void pp_material_cauchy(const pp_material *material, const double F[9], double sigma[9]);

/* Small-strain moduli: shear mu, bulk kappa, Young's E = 9 kappa mu / (3 kappa + mu), Poisson
 * nu = (3 kappa - 2 mu) / (2 (3 kappa + mu)), P-wave modulus kappa + 4 mu / 3 (the dilatational
 * wave speed sqrt(M / rho) sets the explicit step). */
double pp_material_young(const pp_material *material);
double pp_material_poisson(const pp_material *material);
double pp_material_p_wave_modulus(const pp_material *material);

/* How much the deviatoric tangent stiffness has grown at the right Cauchy-Green tensor C, for the
 * explicit step: S = 1 + (2/3 + 1/alpha)(sum_i lbar_i^alpha - 3) (lbar_i the isochoric principal
 * stretches; neo-Hookean: alpha = 2, the sum is J^-2/3 tr C), 1 in the reference state. Why this
 * form: the largest eigenvalue of the Kirchhoff tangent of the one-term Ogden law is at most
 * 2 mu [(1/3) lbar_max^alpha + (1/9) sum lbar^alpha] + |tau_i| with |tau_i| <= (2 mu/alpha)(2/3) sum
 * lbar^alpha, which 4/3 mu S bounds; it grows with the largest lbar^alpha, not lbar^(alpha-2), because
 * a stretched element is stiffest across its compressed direction. */
double pp_material_deviatoric_stiffening(const pp_material *material, const double C[9]);

/* The tensile state crack-band erosion reads (PHYSICS.md 2.3; kernels/mechanics.cl's tensile_state
 * evaluates the same at an element's centre): with l_i the isochoric principal stretches of C,
 *   tensile energy W+ = (2 mu / alpha^2) sum over l_i > 1 of (l_i^alpha - 1 - alpha ln l_i),
 * each term >= 0 and all three adding up to the deviatoric energy (sum ln l_i = 0), so only the
 * stretched directions count: the compressed tissue under a tip, where nearly all the energy is
 * deviatoric at kappa/mu >= 50, does not erode first. The largest principal Cauchy stress is
 * (2 mu / (alpha J)) (max l_i^alpha - mean l_i^alpha) + kappa (J - 1), J the volume ratio to use
 * (the mean dilatation in the element). Neo-Hookean is alpha = 2. */
void pp_material_tensile_state(const pp_material *material, const double C[9], double J, double *tensile_energy,
                               double *max_principal_stress);

/* V1's reference (PHYSICS.md section 10): uniaxial stretch `stretch` along x of the COMPRESSIBLE
 * law with traction-free lateral faces. Solves sigma_yy = 0 for the lateral stretch (bracketed
 * Newton to round-off) and returns it and the axial Cauchy stress. */
pp_err pp_material_uniaxial(const pp_material *material, double stretch, double *lateral_stretch,
                            double *axial_cauchy);
/* The incompressible closed form of the same: sigma = (2 mu/alpha)(l^alpha - l^(-alpha/2)). */
double pp_material_uniaxial_incompressible(const pp_material *material, double stretch);

/* Symmetric 3x3 eigen-decomposition (cyclic Jacobi, to round-off): A = V diag(values) V^T, the
 * columns of V (row-major [9]: V[3*i + k] is component i of vector k) orthonormal. */
void pp_material_symmetric_eigen(const double A[9], double values[3], double V[9]);

#endif
