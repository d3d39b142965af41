/* solver: preconditioned conjugate gradients on the device for symmetric positive definite
 * operators given as a callback (the matrix-free diffusion operator of host/diffusion), with a
 * Jacobi (inverse-diagonal) preconditioner or another one given as a callback, for up to
 * PP_SOLVER_MAX_SPECIES independent systems at once (vectors interleaved [node * S + s], each
 * system with its own alpha and beta).
 *
 * Every dot product goes through host/reduce (exact, order-independent), so the iteration count
 * and every bit of the result are the same on any number of ranks; a batched solve gives the same
 * bits per species as single solves (converged systems freeze, alpha = beta = 0).
 * Convergence per species: ||r||_{P^-1} <= relative_tolerance * ||b||_{P^-1}, with P the
 * preconditioner, by default D, the diagonal (the norm PCG minimises in; with D it weighs each
 * row by its own scale). With Jacobi the update kernel also sums r.z (one pass fewer). A zero
 * right-hand side is solved by x = 0 only if x0 = 0; otherwise it iterates to the tolerance of
 * ||r0||. Breakdown (p.Ap <= 0 or not finite) and non-convergence within max_iterations are
 * errors (PP_SOLVER_ERROR) naming the species, iteration and residuals; the caller adds the time
 * step and time (pp_error_context). Both are raised identically on every rank (the scalars are
 * the same bits everywhere) and marked collective.
 * All functions are COLLECTIVE over the communicator of the pp_reduce. */
#ifndef PP_SOLVER_H
#define PP_SOLVER_H

#include <stddef.h>

#include <CL/cl.h>
#include <mpi.h>

#include "clrt.h"
#include "error.h"
#include "reduce.h"

enum { PP_SOLVER_MAX_SPECIES = 8 };

/* error.h has no solver code yet; breakdown and non-convergence are reported with this one
 * (a numerical failure caused by the inputs: time step, parameters). */
#define PP_SOLVER_ERROR PP_ERR_SOLVER

/* out = A in on the owned entries. `in` has node_count * S entries (owned, then ghosts): the
 * operator brings its ghosts up to date itself (halo), so it may overlap the exchange with
 * interior work. */
typedef pp_err (*pp_solver_apply_fn)(void *context, cl_mem in, cl_mem out);

/* z = P^-1 r on the owned entries (r, z: [owned * S]): a symmetric positive definite
 * preconditioner other than the diagonal. */
typedef pp_err (*pp_solver_precondition_fn)(void *context, cl_mem r, cl_mem z);

typedef struct {
  pp_solver_apply_fn apply;
  void *context;
  cl_mem inverse_diagonal;   /* [owned * S] */
  pp_solver_precondition_fn precondition; /* NULL: Jacobi (inverse_diagonal, fused into the update) */
} pp_solver_operator;

typedef struct {
  double relative_tolerance; /* default 1e-12 */
  int max_iterations;        /* default 10000 */
  int require_convergence;   /* 1 (default): reaching max_iterations is an error; 0: return (benchmarks) */
} pp_solver_options;

typedef struct {
  int iterations;                                       /* of the slowest species */
  int species_iterations[PP_SOLVER_MAX_SPECIES];
  double initial_residual[PP_SOLVER_MAX_SPECIES];       /* ||r0||_{P^-1} / ||b||_{P^-1} */
  double relative_residual[PP_SOLVER_MAX_SPECIES];      /* final, same norm */
  double rhs_norm[PP_SOLVER_MAX_SPECIES];               /* ||b||_{P^-1} */
} pp_solver_stats;

void pp_solver_options_default(pp_solver_options *options);

typedef struct pp_solver pp_solver;

/* Work vectors for owned_count nodes (node_count with ghosts) and species_count systems. */
pp_err pp_solver_create(pp_solver **solver, pp_clrt *clrt, pp_reduce *reduce, MPI_Comm comm, size_t owned_count,
                        size_t node_count, int species_count);
void pp_solver_destroy(pp_solver *solver);

/* Solve A x = b; x holds the initial guess on entry ([node_count * S]; its ghosts are not read:
 * the operator exchanges them), the solution on the owned entries on return. b: [owned * S]. */
pp_err pp_solver_pcg(pp_solver *solver, const pp_solver_operator *op, const pp_solver_options *options, cl_mem b,
                     cl_mem x, pp_solver_stats *stats);

/* Per-species dot products u.v over the first `count` nodes (S interleaved values each): the
 * same bits as pp_reduce_dot per species, in one pass (pp_reduce_dots). dots: [S]. */
pp_err pp_solver_dots(pp_solver *solver, cl_mem u, cl_mem v, size_t count, double *dots);

#endif
