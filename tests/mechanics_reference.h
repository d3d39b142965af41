/* mechanics_reference: a serial host model of the explicit dynamics, the reference that tests of
 * the device time stepping compare against. Built on a generated mesh held whole by one process
 * (pp_mesh_generate(&spec, 0, 1, &mesh)) and the host element (host/element), with nothing but
 * plain loops: no MPI, no OpenCL.
 *
 * It owns the lumped nodal masses m_n = sum over the node's elements of rho_e x (the corner's
 * integral of its shape function), the nodal internal forces f(u) = the sum of the element corner
 * forces, both summed in the mesh's node-element CSR order (ascending global element id, as the
 * device gather does), a per-DOF constraint mask, and the critical step of central differences
 * for the discrete system: dt_cr = 2 / omega_max, omega_max^2 the largest eigenvalue of M^-1 K on
 * the free DOFs (Belytschko, Liu and Moran, Nonlinear Finite Elements, 2nd ed., section 6.3;
 * PHYSICS.md section 9.3 and V2), K the tangent stiffness at a state u0, found without forming K:
 * K v by central differences of f, on the symmetric form M^-1/2 K M^-1/2. */
#ifndef PP_MECHANICS_REFERENCE_H
#define PP_MECHANICS_REFERENCE_H

#include "error.h"
#include "material.h"
#include "mesh.h"

typedef struct {
  const pp_mesh *mesh;                   /* borrowed: the caller keeps it alive */
  pp_material materials[PP_LAYER_COUNT]; /* by element layer */
  int node_count, dof_count;             /* dof = node * 3 + direction */
  double *nodal_mass;                    /* [node_count] kg, lumped */
  unsigned char *fixed;                  /* [dof_count] 1: the DOF is held at its value (0: free) */
  double min_edge_length;                /* m, shortest reference element edge: scales the
                                            finite-difference step */
  double *element_force;                 /* [element_count * 24] scratch of the force assembly */
  double *scratch;                       /* [4 * dof_count] scratch of the tangent products */
} pp_reference_model;

/* Masses, an all-free mask and scratch from a mesh held whole by this process (one-rank
 * generation: every node and element owned) and the five layers' materials. */
pp_err pp_reference_model_create(const pp_mesh *mesh, const pp_material materials[PP_LAYER_COUNT],
                                 pp_reference_model *model);
void pp_reference_model_free(pp_reference_model *model);

/* Constrain direction d (bit d of direction_bits, d = 0, 1, 2 for x, y, z) of every node whose
 * PP_NODE_* boundary flags share a bit with node_flags; node_flags = 0xff selects every node (a
 * 1-D column: all lateral DOFs). The mask is also open to direct writes (model->fixed). */
void pp_reference_fix(pp_reference_model *model, unsigned node_flags, unsigned direction_bits);
int pp_reference_free_dof_count(const pp_reference_model *model);

/* Internal (restoring) nodal forces force[dof_count] (N) at nodal displacements u[dof_count]
 * (m), and the total stored energy (J; NULL: not wanted). Every DOF, fixed or free, gets its
 * force (a fixed DOF's is its reaction). An inverted element is an error naming it. */
pp_err pp_reference_internal_force(pp_reference_model *model, const double *u, double *force, double *energy);

/* The tangent product Kv = K(u0) v on the free DOFs by central differences,
 * (f(u0 + eps v) - f(u0 - eps v)) / (2 eps), eps = perturbation_scale x min_edge_length / |v|_inf
 * (v's fixed entries are taken as 0; Kv's fixed entries are set to 0). u0 NULL: the reference
 * state. Truncation error O(eps^2), round-off O(1e-16 / perturbation_scale), both relative. */
pp_err pp_reference_tangent_product(pp_reference_model *model, const double *u0, const double *v,
                                    double perturbation_scale, double *Kv);

typedef enum {
  PP_REFERENCE_POWER,  /* power iteration: Rayleigh quotient of the normalised iterate */
  PP_REFERENCE_LANCZOS /* Lanczos with full reorthogonalisation: the largest Ritz value */
} pp_reference_eigen_method;

typedef struct {
  pp_reference_eigen_method method;
  double relative_tolerance;  /* stop when the omega_max^2 estimate has changed by less than this
                                 in each of 5 successive iterations (one small change may be noise) */
  int max_iterations;         /* tangent products at most (Lanczos: also the basis size) */
  double perturbation_scale;  /* of the finite-difference step, see pp_reference_tangent_product */
} pp_reference_step_options;

/* Power iteration, tolerance 1e-10, 20000 iterations, perturbation scale 1e-6: the measured
 * optimum of round-off (1e-16 / scale: 1e-10 relative in omega^2 at 1e-7) and truncation
 * (O(scale^2 alpha^2) for Ogden alpha: below 1e-10 at 1e-6 for alpha = 12). */
pp_reference_step_options pp_reference_step_defaults(void);

typedef struct {
  double critical_step;        /* 2 / omega_max, s */
  double omega_max;            /* rad/s */
  int iterations;              /* tangent products taken by the iteration */
  int converged;               /* 1: the tolerance was met within max_iterations */
  double last_relative_change; /* of the omega_max^2 estimate in the last iteration */
  double relative_residual;    /* |A y - lambda y| / lambda for the final unit vector y (A the
                                  symmetric form): an eigenvalue of A lies within this relative
                                  distance of lambda (the residual bound of a symmetric matrix), and
                                  within its square over the relative gap once y is that mode's */
} pp_reference_step_result;

/* dt_cr of central differences at the state u0 (NULL: the reference state) on the free DOFs.
 * Both methods give a lower bound of omega_max^2 that rises towards it (a Rayleigh quotient, a
 * Ritz value), so the step they return is not below the true one; not converging is reported in
 * result->converged, not as an error. The start vector is a fixed hash of the global node id and
 * direction (the same on every run, with a component along any mode in practice). mode: NULL, or
 * [dof_count] that receives the mode's displacement shape M^-1/2 y, scaled to max |entry| = 1
 * (fixed DOFs 0). options NULL: the defaults. */
pp_err pp_reference_critical_step(pp_reference_model *model, const double *u0, const pp_reference_step_options *options,
                                  pp_reference_step_result *result, double *mode);

#endif
