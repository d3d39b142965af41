/* healing_reference: the well-mixed (pointwise, no transport) healing kinetics of host/healing_model
 * integrated by an adaptive explicit Runge-Kutta method, the reference the stage-2 solver is to be
 * checked against. Host-only test code: no MPI, no OpenCL. SI units.
 *
 * The integrator is Dormand & Prince's embedded 5(4) pair (J. R. Dormand and P. J. Prince, "A family
 * of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980) 19-26; the coefficients as
 * tabulated in Hairer, Norsett & Wanner, Solving Ordinary Differential Equations I, 2nd ed.,
 * section II.5, Table 5.2): 5th-order solution, 4th-order error estimate, first-same-as-last,
 * the step controlled on the RMS of err_i / (atol_i + rtol max(|y_i|, |y_i new|)) with the
 * classical factor 0.9 err^(-1/5), clamped to [0.2, 5] (1 after a rejection). Explicit: the step
 * is bounded by the fastest decay (growth factors, 15/d: steps of a few hours), fine for weeks. */
#ifndef PP_HEALING_REFERENCE_H
#define PP_HEALING_REFERENCE_H

#include "error.h"
#include "healing_model.h"

typedef void (*pp_reference_rhs)(double t, const double *y, double *dydt, void *context);

typedef struct {
  double relative_tolerance;        /* rtol, e.g. 1e-10 */
  const double *absolute_tolerance; /* atol[n] */
  double first_step;                /* s; the first trial step */
  double max_step;                  /* s; 0: no limit */
  long max_steps;                   /* accepted + rejected steps before PP_ERR_SOLVER */
} pp_reference_options;

typedef struct {
  long accepted, rejected, evaluations;
} pp_reference_stats;

/* Integrates dy/dt = rhs(t, y) (n <= PP_HEALING_MAX_STATE + 1 components) from t0 to t1 in place,
 * landing on t1 exactly. stats may be NULL (else accumulated). PP_ERR_SOLVER when max_steps is
 * exceeded or the step underflows, PP_ERR_ARGUMENT for bad options. */
pp_err pp_reference_integrate(pp_reference_rhs rhs, void *context, int n, double t0, double t1, double *y,
                              const pp_reference_options *options, pp_reference_stats *stats);

/* The well-mixed healing model: the full pointwise rates (pp_healing_full_rates, decay included)
 * with each growth factor's injury source a pulse starting at t = 0,
 *   s_i(t) = release_i exp(-t/tau)/tau   (release_i in kg/m^3: the concentration it adds in all),
 * PHYSICS.md 6.3's S_inj inside the injured volume. context: a pp_healing_well_mixed. */
typedef struct {
  const double *flat;                            /* pp_healing_pack's parameters */
  int species_count;                             /* G */
  double release[PP_HEALING_MAX_SPECIES];        /* kg/m^3 */
  double release_time;                           /* tau, s (> 0) */
} pp_healing_well_mixed;

void pp_healing_well_mixed_rhs(double t, const double *y, double *dydt, void *context);

/* The parameter set both healing suites test with (definitions and sources in healing_reference.c):
 * PHYSICS.md 6.4's defaults, two species (PDGF-like mitogen and chemoattractant, TGF-beta-like
 * collagen stimulus); the basal variant adds constant secretion (rest levels ~0.9 and 0.2 ng/mL). */
void pp_healing_test_default_params(pp_healing_params *p);
void pp_healing_test_basal_params(pp_healing_params *p);

#endif
