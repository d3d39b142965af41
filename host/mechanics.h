/* mechanics: stage 1's explicit total-Lagrangian dynamics (TLED) of the layered skin block on the
 * device: hex8 mean-dilatation elements (host/element.h says why they neither lock nor need
 * hourglass control), per-layer neo-Hookean or one-term Ogden laws (host/material.h), lumped
 * masses, central differences in the leapfrog velocity form with a step that may change,
 * mass-proportional damping, an elastic foundation under the base, prescribed displacements on
 * any DOF, and dynamic relaxation (kinetic damping) for static answers.
 *
 * One step, n -> n+1 (kernels/mechanics.cl):
 *   1. central_difference (owned nodes): v^{n+1/2} and u^{n+1} from the forces at u^n; each node
 *      also writes its share of the energy balance at t^n;
 *   2. halo exchange of u (owner -> ghost, host/halo);
 *   3. hex8_forces over owned and ghost elements: corner forces, stored energy, mean dilatation
 *      and stable step of each element at u^{n+1};
 *   4. gather_corner_forces (owned nodes): each node adds its elements' corners in ascending
 *      global element id (the mesh's CSR), so node forces are the same bits on any partition;
 *   5. exact global sums (host/reduce) of the energy terms and the stored energy, and the exact
 *      global minimum of the element steps.
 * So every result, the automatic step and the dynamic-relaxation stop included, is the same bits
 * on 1, 2 or 4 ranks.
 *
 * Energy balance. The stored energy is sum V_e W_e over owned elements (plus the foundation's
 * springs), never accumulated f.du; kinetic energy uses v^n = (v^{n-1/2} + v^{n+1/2}) / 2; external
 * work (applied forces and the reactions that enforce prescribed DOFs) and damping dissipation are
 * integrated by the trapezoid and midpoint rules. Both are second order, so for an undamped run
 *   closure = kinetic + stored + dissipated - external work - (kinetic + stored at t = 0)
 * is O(dt^2) of the work done. The balance at t^n needs v^{n+1/2}: a step's info reports the
 * balance at its START time (one step behind its end state).
 *
 * Units: SI throughout (m, s, kg, N, Pa, J).
 * Every function taking a pp_mechanics is COLLECTIVE over its communicator. */
#ifndef PP_MECHANICS_H
#define PP_MECHANICS_H

#include <stdio.h>

#include <mpi.h>

#include "checkpoint.h"
#include "clrt.h"
#include "config.h"
#include "error.h"
#include "io.h"
#include "halo.h"
#include "material.h"
#include "mesh.h"
#include "reduce.h"

/* How the base (z = -thickness) is held. */
typedef enum {
  PP_BASE_FIXED = 0,      /* all three components zero */
  PP_BASE_ROLLER = 1,     /* normal (z) component zero, sliding free */
  PP_BASE_FOUNDATION = 2, /* elastic (Winkler) foundation: traction = -stiffness u, all components */
  PP_BASE_FREE = 3
} pp_base_support;

typedef struct {
  pp_material layer[PP_LAYER_COUNT]; /* per skin layer, surface first */
  pp_base_support base;
  double foundation_stiffness;       /* N/m^3 (traction per displacement), PP_BASE_FOUNDATION */
  double damping;                    /* 1/s, mass-proportional (0: none) */
  double step_safety;                /* automatic step = safety x the exact minimum element bound */
  double mass_scaling_step;          /* s; 0: none. Else every element whose undeformed bound is below
                                        it gets its density raised by (step / bound)^2, so no element
                                        limits the step below it (PHYSICS.md 9.4: quasi-static runs;
                                        the added mass is reported and the kinetic-to-stored energy
                                        ratio is in every step's info: keep it small) */
  int mass_scaling_uniform;          /* 1: every element's density is scaled so that its undeformed
                                        bound is the same, the largest of any element's (or
                                        mass_scaling_step if larger): fictitious masses proportional
                                        to the stiffness, the best conditioned for dynamic relaxation
                                        (quasi-static strokes, host/stage1.h); no physical inertia */
  /* Crack-band erosion (PHYSICS.md 2.3; kernels/mechanics.cl's erode_elements): when erosion is set,
   * an element erodes once its largest principal stress is tensile and its tensile strain-energy
   * density W+ (only the principal stretches above 1 count) reaches fracture_energy / h_e, h_e the
   * cube root of its undeformed volume, so that the energy dissipated per unit crack area is G_c
   * whatever the element size. damage = W+ / failure_energy_density, capped at 1, the largest so far. */
  int erosion;
  /* nonlocal: an element erodes when W+ averaged over a sphere of nonlocal_radius within its layer
   * (host/nonlocal.h) reaches fracture_energy / nonlocal_radius, decided by pp_mechanics_nonlocal_mark
   * (the drivers call it); between its calls nothing erodes. 0: the crack band above, decided in every
   * force evaluation. */
  int nonlocal;
  double nonlocal_radius;                         /* m */
  double distortion_limit;                        /* with erosion: an element whose smallest Gauss-point
                                                     det F falls below it erodes (counted apart); 0: off */
  double fracture_energy[PP_LAYER_COUNT];         /* J/m^2, G_c per layer */
  double failure_energy_density[PP_LAYER_COUNT];  /* J/m^3, W_f per layer (the damage scale) */
} pp_mechanics_options;

/* One material everywhere, fixed base, no damping, safety 0.9, no erosion. */
void pp_mechanics_options_default(pp_mechanics_options *options, const pp_material *material);
/* From the configuration: skin.<layer>.* laws, fracture and failure energies and skin.density,
 * mechanics.* (SI already; mechanics.erosion switches erosion). */
pp_err pp_mechanics_options_from_config(const pp_config *config, pp_mechanics_options *options);

/* What `pinprick check` says about stage 1 before anything runs, from a planned mesh (axes only,
 * pp_mesh_plan): per layer the dilatational wave speed c = sqrt((kappa + 4/3 mu)/rho) and the
 * undeformed stable step of its smallest box element, 1 / (c sqrt(1/a^2 + 1/b^2 + 1/c^2)) (the
 * Flanagan-Belytschko bound of a box), the step the run takes (safety x the smallest), and how
 * many steps a needle stroke of `stroke_time` seconds needs. */
void pp_mechanics_print_plan(const pp_mesh *plan, const pp_mechanics_options *options, double stroke_time,
                             const char *prefix, FILE *out);

typedef struct pp_mechanics pp_mechanics;

/* What one step did; energies in J at the step's START time t^n (see the top). */
typedef struct {
  long long step;          /* steps completed after this one */
  double time;             /* s, after the step */
  double dt;               /* s, the step taken */
  double next_stable_step; /* s, the exact minimum element bound at the end state (no safety) */
  double balance_time;     /* s, t^n: where the energies below are */
  double kinetic, stored, external_work, dissipated;
  double eroded;           /* J, stored energy the eroded elements held when they eroded (released: dissipated) */
  double closure;          /* kinetic + stored + dissipated + eroded - external work - initial energy */
  double residual_norm;    /* |f_ext - f_int| over free DOFs at t^n */
  double force_norm;       /* |f_int| over all DOFs at t^n */
  double rayleigh;         /* 1/s^2: du.(f_int^n - f_int^{n-1}) / du.M du over free DOFs (0 when du = 0) */
  double kinetic_ratio;    /* kinetic / stored energy at t^n (0 when nothing is stored): inertia's share,
                              the quasi-static check under mass scaling */
} pp_mechanics_step_info;

typedef struct {
  long long steps;         /* steps taken */
  int converged;
  double residual_ratio;   /* residual_norm / force_norm at the stop */
  double damping;          /* 1/s, the adaptive damping at the stop */
  pp_mechanics_step_info last; /* the last step's */
} pp_mechanics_relax_info;

/* COLLECTIVE. Builds the kernels, the lumped masses (rho times each corner's shape-function
 * integral, summed in the CSR order), the base support and the symmetric sides from mesh->spec
 * (the normal component of a symmetric side is held at zero), and the forces at u = 0. halo and
 * reduce are the caller's (must outlive the pp_mechanics); u = v = 0, t = 0. */
pp_err pp_mechanics_create(pp_mechanics **mechanics, const pp_mesh *mesh, pp_clrt *clrt, pp_halo *halo,
                           pp_reduce *reduce, MPI_Comm comm, const pp_mechanics_options *options);
void pp_mechanics_destroy(pp_mechanics *mechanics);

/* The degrees of freedom of the owned nodes ([owned * 3], node-major): kind 0 free, 1 prescribed;
 * a prescribed DOF's displacement is load_factor x target (m). create() fills them from the base
 * support and the symmetric sides; get them, change them, set them back. */
pp_err pp_mechanics_get_constraints(const pp_mechanics *mechanics, unsigned char *kind, double *target);
pp_err pp_mechanics_set_constraints(pp_mechanics *mechanics, const unsigned char *kind, const double *target);
/* The factor applied to the targets at the END of the next step (a load curve sampled at t^{n+1}). */
void pp_mechanics_set_load_factor(pp_mechanics *mechanics, double factor);
/* Constant external nodal forces (N) on the owned nodes [owned * 3]. */
pp_err pp_mechanics_set_external_force(pp_mechanics *mechanics, const double *force);
/* Rigid needles (host/contact) acting on the owned nodes from the next force evaluation on (this
 * call re-evaluates the current state with them; NULL removes them). The contact's penalty
 * stiffness is set per node to k_n = penalty_factor m_n (2 / dt_stable)^2, dt_stable the current
 * exact stable step: a node pressed only by the needle would oscillate at sqrt(penalty_factor)
 * times the mesh's highest frequency, so the explicit step stays stable as long as
 * step_safety^2 (1 + penalty_factor) <= 1 (0.9: factor <= 0.23; allowed up to 0.2). A node then
 * sinks into a needle by f / k_n, of order (f / (kappa h)) / (12 factor): reported as
 * penetration. The contact's forces enter the external forces, so their work on the skin is in the
 * energy balance's external work. */
struct pp_contact;
pp_err pp_mechanics_set_contact(pp_mechanics *mechanics, struct pp_contact *contact, double penalty_factor);
/* Quasi-static strokes only (mass_scaling_uniform): fits the fictitious masses to the CURRENT
 * state, each element's density scaled so that its deformed bound is the uniform step again
 * (never below its unscaled density; eroded and inverted elements keep theirs), and sets the
 * contact's penalty anew from them. Strain stiffening (Ogden alpha = 12 near a needle tip) would
 * otherwise shrink the global step for every element and leave the penalty, fixed at rest, soft
 * against the stiffened skin: at 200 um of the V9a stroke a node sank 8.7 um into a 10 um tip
 * and the skin then slipped around it. COLLECTIVE; the same bits on any partition. */
pp_err pp_mechanics_refit_masses(pp_mechanics *mechanics);
/* Follower pressure on element faces. element_face_mask [element_count]: one byte per LOCAL
 * element (owned and ghost: a ghost's face may load an owned node), bit f set loads face f:
 *   0 the deeper face (corners 0-3), 1 the upper (4-7), 2 y- (0,1,5,4), 3 x+ (1,2,6,5),
 *   4 y+ (2,3,7,6), 5 x- (3,0,4,7)
 * (in the element's own corner order; "x+" etc. name the faces of an undistorted box). The
 * pressure acts on the current face, against its outward normal: p > 0 pushes into the body (a
 * fluid in a cavity). Each node adds its faces' shares in ascending (global element id, face), so
 * the same bits on any partition. Pressure work enters the energy balance as external work. */
pp_err pp_mechanics_set_pressure_faces(pp_mechanics *mechanics, const unsigned char *element_face_mask);
/* The pressure (Pa) on those faces from the next force evaluation on (the end of the next step, or
 * set_state): a load curve sampled at t^{n+1}, like the load factor. */
void pp_mechanics_set_pressure(pp_mechanics *mechanics, double pressure);

/* Owned displacement and velocity [owned * 3] (either may be NULL to keep it); v is v^{-1/2}
 * ... treated as v^0: the next step is a starting half step. Forces and energies are recomputed,
 * the energy balance restarts from this state. */
pp_err pp_mechanics_set_state(pp_mechanics *mechanics, const double *displacement, const double *velocity);
pp_err pp_mechanics_get_state(pp_mechanics *mechanics, double *displacement, double *velocity);
/* Owned node forces of the last evaluation: internal [owned * 3], and the applied forces of the
 * last step (external plus the reactions at prescribed DOFs, at its start time t^n). */
pp_err pp_mechanics_get_internal_force(pp_mechanics *mechanics, double *force);
pp_err pp_mechanics_get_applied_force(pp_mechanics *mechanics, double *force);
/* Per owned element: mean dilatation J_bar (0: inverted) and stored energy (J) at the current state. */
pp_err pp_mechanics_get_element_state(pp_mechanics *mechanics, double *dilatation, double *energy);

/* Exact global minimum of the element step bounds at the current state (no safety factor); -1
 * when an element is inverted (J <= 0 at a Gauss point: its forces are then 0), which makes
 * pp_mechanics_step fail. */
double pp_mechanics_stable_step(const pp_mechanics *mechanics);
/* The step the automatic choice takes: safety x stable step. */
double pp_mechanics_automatic_step(const pp_mechanics *mechanics);
double pp_mechanics_time(const pp_mechanics *mechanics);
long long pp_mechanics_step_count(const pp_mechanics *mechanics);
/* Lumped masses of the owned nodes (kg) [owned]; total (exact sum) over all ranks. */
const double *pp_mechanics_node_mass(const pp_mechanics *mechanics);
double pp_mechanics_total_mass(const pp_mechanics *mechanics);
/* Elements per work-item of the element kernel (kernels/mechanics.cl's MECHANICS_WIDTH, built with
 * -DMECHANICS_WIDTH=this): 256 bits of REALs on a CPU, 1 elsewhere (for benchmarks). */
int pp_mechanics_element_width(const pp_mechanics *mechanics);
/* Mass added by mass scaling (kg, exact global sum; 0 without) and the number of scaled elements. */
double pp_mechanics_added_mass(const pp_mechanics *mechanics);
long long pp_mechanics_scaled_elements(const pp_mechanics *mechanics);

/* One step of dt seconds (dt <= 0: the automatic step). A non-finite state (a blown-up run) or an
 * inverted element after the step is an error naming the step and time (PP_ERR_SOLVER, on every
 * rank: both come from global sums). info may be NULL. */
pp_err pp_mechanics_step(pp_mechanics *mechanics, double dt, pp_mechanics_step_info *info);

/* Dynamic relaxation at the current load factor: automatic steps with adaptive mass-proportional
 * damping c = 2 sqrt(lambda), lambda the Rayleigh quotient of M^-1 K along the last increment
 * (step info's `rayleigh`): once the fast modes are damped the increment is the slowest mode, and
 * c = 2 omega_min is its critical damping, the optimum of viscous DR (Joldes, Wittek and Miller
 * 2011, who estimate it the same way from successive increments). c is capped at 1/dt. Runs until
 * |f_ext - f_int| over free DOFs is at most tolerance x |f_int| over all DOFs and the kinetic energy
 * at most tolerance^2 x the stored energy (a body swinging through equilibrium has a small
 * residual but not a small kinetic energy), or max_steps; the
 * first step's residual is the state before it (the load may just have changed), so at least two
 * steps are taken. The damping of the options is restored afterwards. The stop depends only on
 * exact global sums: the same on any rank count. */
pp_err pp_mechanics_relax(pp_mechanics *mechanics, double tolerance, long long max_steps,
                          pp_mechanics_relax_info *info);
/* The same with a load that moves while it relaxes (a quasi-static needle increment): before each
 * step, hook(context, index, dt, last, &loading) learns the step's index within this relaxation
 * (0 first), the step dt it will take and the last step's info (NULL before the first), and may
 * move the load (pp_mechanics_set_load_factor, the needles); while it sets loading (0 on entry) no
 * convergence is tested. A hook's error stops the relaxation and is returned. force_scale (N) and
 * energy_scale (J) are floors under the internal-force norm and the stored energy of the stop test:
 * a body unloaded to nearly nothing (a needle withdrawn) is at rest when its residual and kinetic
 * energy are small against the loads it carried, not against what is left (rounding). */
typedef pp_err (*pp_mechanics_relax_hook)(void *context, long long index, double dt,
                                          const pp_mechanics_step_info *last, int *loading);
pp_err pp_mechanics_relax_driven(pp_mechanics *mechanics, double tolerance, long long max_steps, double force_scale,
                                 double energy_scale, pp_mechanics_relax_hook hook, void *context,
                                 pp_mechanics_relax_info *info);

/* ---- output and restart ------------------------------------------------------------------------
 * Per owned element, 13 values [e * 13]: the volume-averaged Cauchy stress (9, row-major, Pa),
 * von Mises stress (Pa), principal stretches of the volume-averaged F, largest first. */
enum { PP_MECHANICS_ELEMENT_OUTPUT = 13 };

pp_err pp_mechanics_element_output(pp_mechanics *mechanics, double *values);

/* What erosion has done so far, global (COLLECTIVE; reads the flags back: for outputs, not every
 * step): eroded elements, their undeformed volume (m^3) and mass (kg), the mass of the orphaned
 * nodes (all of whose elements eroded: kg, the lumped masses, with any mass scaling; they drift on
 * with the velocity they had, out of the needles' reach), and the energy released (J). */
typedef struct {
  long long elements;
  long long distorted;  /* of those, eroded by distortion (options.distortion_limit), not the criterion */
  double volume, mass, orphan_mass, energy;
} pp_mechanics_erosion_totals;
pp_err pp_mechanics_erosion(pp_mechanics *mechanics, pp_mechanics_erosion_totals *totals);
/* How near the skin is to its first erosion: the largest W+ / (G_c / h_e) over the elements not
 * eroded, at the last force evaluation (0 without erosion). A maximum: the same on any partition.
 * COLLECTIVE. */
pp_err pp_mechanics_erosion_proximity(pp_mechanics *mechanics, double *ratio);
/* The non-local criterion (options.nonlocal): averages the tensile energy of the last force
 * evaluation, and marks every element not eroded whose average reaches fracture_energy/nonlocal_radius
 * to erode at the next force evaluation (where its largest principal stress is tensile); the rest
 * cannot erode. marked: how many owned elements will erode then (marked, principal stress tensile
 * now), summed over ranks. Also sets what pp_mechanics_erosion_proximity reports: the largest
 * average over its threshold. COLLECTIVE; the same decisions on any partition. */
pp_err pp_mechanics_nonlocal_mark(pp_mechanics *mechanics, long long *marked);
/* Clears the marks: nothing erodes until the next pp_mechanics_nonlocal_mark. */
pp_err pp_mechanics_nonlocal_release(pp_mechanics *mechanics);
/* COLLECTIVE. The displacement of every local node, owned and ghost [node_count * 3] (m). */
pp_err pp_mechanics_get_local_displacement(pp_mechanics *mechanics, double *displacement);
/* Per owned element: eroded (0 or 1) and damage (0 ... 1); either may be NULL. */
pp_err pp_mechanics_get_damage(pp_mechanics *mechanics, double *eroded, double *damage);
/* One step's fields into an open series step (pp_io_step_begin done by the caller): node fields
 * displacement (m) and velocity (m/s, v^{n-1/2}: the leapfrog's velocity half a step before the
 * output time), cell fields cauchy_stress (9, Pa), von_mises (Pa), principal_stretch (3, 1),
 * dilatation (J_bar), and with erosion eroded (1: gone) and damage (W+ / W_f, at most 1). The mesh's
 * output view (pp_mesh_io_view) must exist. */
pp_err pp_mechanics_write_step(pp_mechanics *mechanics, pp_io_series *series);
/* The state a restart needs, registered once: displacement, v^{n-1/2}, the applied and previous
 * internal forces (energy balance and relaxation), time, step count, last dt, the balance's
 * accumulators, load factor and pressure. Constraints, loads and options come from the caller
 * (the configuration), not the checkpoint. save() before pp_checkpoint_write; restore() after
 * pp_checkpoint_read_latest: the run then continues bit for bit, on any rank count. Damage is in it;
 * the eroded flags are not yet (ghost elements hold them too): save() refuses once one has eroded. */
pp_err pp_mechanics_register_checkpoint(pp_mechanics *mechanics, pp_checkpoint *checkpoint);
pp_err pp_mechanics_checkpoint_save(pp_mechanics *mechanics);
pp_err pp_mechanics_checkpoint_restore(pp_mechanics *mechanics);

#endif
