/* solver: preconditioned CG on the device, Jacobi or a callback (see solver.h). The loop follows
 * miniFE's cg_solve (breakdown checked before dividing) and TeaLeaf's tea_leaf_cg kernels (fused
 * vector updates); every global sum is host/reduce's exact one. Per Jacobi iteration: the operator, p.q
 * (pp_reduce_dots: one pass, all species), the update with r.z summed exactly on the way
 * (cg_update_dot: r and z are not read again), the direction. The order of operations is
 * classical CG's: merging the two sums of an iteration into one (Chronopoulos-Gear, pipelined
 * CG) would change the arithmetic and every bit of the results. */
#include "solver.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum { LOCAL_SIZE = 64 };

struct pp_solver {
  pp_clrt *clrt;
  pp_reduce *reduce;
  int rank;
  size_t owned_count, node_count;
  int species;
  cl_mem r, z, p, q, alpha, beta; /* r, z, q: owned * S; p: node_count * S */
  cl_kernel start, precondition, update_dot, direction;
  cl_kernel residual, update, copy; /* for a preconditioner other than Jacobi (op->precondition) */
  size_t update_local_size;       /* the work-group size cg_update_dot was built for */
};

void pp_solver_options_default(pp_solver_options *options)
{
  options->relative_tolerance = 1e-12;
  options->max_iterations = 10000;
  options->require_convergence = 1;
}

/* kernels/solver.cl is built behind kernels/exact_sum.cl by host/reduce (cg_update_dot sums r.z
 * with its accumulator); the kernels belong to the pp_reduce. */
static pp_err kernel(pp_solver *solver, const char *name, cl_kernel *k, size_t *local_size)
{
  char options[64];
  snprintf(options, sizeof options, "-DSPECIES_COUNT=%d", solver->species);
  size_t ignored = 0;
  PP_CALL(pp_reduce_kernel(solver->reduce, "solver", options, solver->species, name, k,
                           local_size ? local_size : &ignored));
  return PP_OK;
}

void pp_solver_destroy(pp_solver *solver)
{
  if (!solver) return;
  cl_mem buffers[] = {solver->r, solver->z, solver->p, solver->q, solver->alpha, solver->beta};
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; ++i)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  free(solver);
}

static pp_err create(pp_solver *s)
{
  size_t rs = (size_t)pp_clrt_real_size(s->clrt), owned = s->owned_count * (size_t)s->species;
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_WRITE, owned * rs, "CG residual", &s->r));
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_WRITE, owned * rs, "CG preconditioned residual", &s->z));
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_WRITE, s->node_count * (size_t)s->species * rs, "CG direction", &s->p));
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_WRITE, owned * rs, "CG operator product", &s->q));
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_ONLY, (size_t)s->species * rs, "CG alpha", &s->alpha));
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_ONLY, (size_t)s->species * rs, "CG beta", &s->beta));
  PP_CALL(kernel(s, "cg_start", &s->start, NULL));
  PP_CALL(kernel(s, "cg_precondition", &s->precondition, NULL));
  PP_CALL(kernel(s, "cg_update_dot", &s->update_dot, &s->update_local_size));
  PP_CALL(kernel(s, "cg_direction", &s->direction, NULL));
  PP_CALL(kernel(s, "cg_residual", &s->residual, NULL));
  PP_CALL(kernel(s, "cg_update", &s->update, NULL));
  PP_CALL(kernel(s, "cg_copy", &s->copy, NULL));
  return PP_OK;
}

pp_err pp_solver_create(pp_solver **solver, pp_clrt *clrt, pp_reduce *reduce, MPI_Comm comm, size_t owned_count,
                        size_t node_count, int species_count)
{
  *solver = NULL;
  PP_CHECK(species_count >= 1 && species_count <= PP_SOLVER_MAX_SPECIES, PP_ERR_ARGUMENT,
           "CG for %d species: 1 to %d supported", species_count, PP_SOLVER_MAX_SPECIES);
  PP_CHECK(node_count >= owned_count, PP_ERR_ARGUMENT, "CG: %zu nodes but %zu owned", node_count, owned_count);
  pp_solver *s = calloc(1, sizeof *s);
  PP_CHECK(s, PP_ERR_MEMORY, "out of memory for the CG solver");
  s->clrt = clrt;
  s->reduce = reduce;
  s->owned_count = owned_count;
  s->node_count = node_count;
  s->species = species_count;
  MPI_Comm_rank(comm, &s->rank);
  pp_err err = create(s);
  if (err != PP_OK) {
    pp_solver_destroy(s);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  *solver = s;
  return PP_OK;
}

/* REAL scalars of the clrt's precision into a small device array (blocking: the host array is
 * reused at once). */
static pp_err write_scalars(pp_solver *s, cl_mem buffer, const double *values, const char *what)
{
  double d[PP_SOLVER_MAX_SPECIES];
  float f[PP_SOLVER_MAX_SPECIES];
  for (int i = 0; i < s->species; ++i) {
    d[i] = values[i];
    f[i] = (float)values[i];
  }
  int rs = pp_clrt_real_size(s->clrt);
  PP_CALL(pp_clrt_write(s->clrt, buffer, 0, (size_t)s->species * (size_t)rs, rs == 8 ? (void *)d : (void *)f, what));
  return PP_OK;
}

static pp_err launch(pp_solver *s, cl_kernel k, const char *label, size_t n, int argument_count, const size_t *sizes,
                     const void *const *values)
{
  cl_ulong count = n;
  PP_CL(clSetKernelArg(k, 0, sizeof count, &count), label);
  for (int a = 0; a < argument_count; ++a) PP_CL(clSetKernelArg(k, (cl_uint)(a + 1), sizes[a], values[a]), label);
  PP_CALL(pp_clrt_launch(s->clrt, k, label, n, LOCAL_SIZE));
  return PP_OK;
}

pp_err pp_solver_dots(pp_solver *s, cl_mem u, cl_mem v, size_t count, double *dots)
{
  PP_CHECK(count <= s->owned_count, PP_ERR_ARGUMENT, "CG dot over %zu nodes, room for %zu", count, s->owned_count);
  PP_CALL(pp_reduce_dots(s->reduce, u, v, count, s->species, dots));
  return PP_OK;
}

/* Enqueue cg_update_dot with the launch shape host/reduce gave. */
static pp_err launch_update_dot(pp_solver *s, const pp_reduce_launch *shape, cl_mem inverse_diagonal, cl_mem x)
{
  cl_kernel k = s->update_dot;
  cl_ulong nodes = s->owned_count;
  PP_CL(clSetKernelArg(k, 0, sizeof nodes, &nodes), "setting cg_update_dot argument nodes");
  PP_CL(clSetKernelArg(k, 1, sizeof shape->chunk, &shape->chunk), "setting cg_update_dot argument chunk");
  PP_CL(clSetKernelArg(k, 2, sizeof s->alpha, &s->alpha), "setting cg_update_dot argument alpha");
  PP_CL(clSetKernelArg(k, 3, sizeof s->p, &s->p), "setting cg_update_dot argument p");
  PP_CL(clSetKernelArg(k, 4, sizeof s->q, &s->q), "setting cg_update_dot argument q");
  PP_CL(clSetKernelArg(k, 5, sizeof inverse_diagonal, &inverse_diagonal),
        "setting cg_update_dot argument inverse_diagonal");
  PP_CL(clSetKernelArg(k, 6, sizeof x, &x), "setting cg_update_dot argument x");
  PP_CL(clSetKernelArg(k, 7, sizeof s->r, &s->r), "setting cg_update_dot argument r");
  PP_CL(clSetKernelArg(k, 8, sizeof s->z, &s->z), "setting cg_update_dot argument z");
  PP_CL(clSetKernelArg(k, 9, sizeof shape->partials, &shape->partials), "setting cg_update_dot argument partials");
  PP_CALL(pp_clrt_launch(s->clrt, k, "cg_update_dot", shape->group_count * shape->local_size, shape->local_size));
  return PP_OK;
}

/* x += alpha p, r -= alpha q, z = D^-1 r, and rz[s] = r.z per species (exact; collective). */
static pp_err update_and_dot(pp_solver *s, cl_mem inverse_diagonal, cl_mem x, double *rz)
{
  /* A local failure still goes through pp_reduce_finish, so that no rank waits there alone. */
  pp_reduce_launch shape = {.components = s->species};
  pp_err local = pp_reduce_launch_shape(s->reduce, s->update_local_size, s->owned_count, s->species, &shape);
  if (local == PP_OK) local = launch_update_dot(s, &shape, inverse_diagonal, x);
  PP_CALL(pp_reduce_finish(s->reduce, local, &shape, rz));
  return PP_OK;
}

/* The same error on every rank (the scalars are identical everywhere): rank 0 reports it. */
static pp_err solver_failure(pp_solver *s, const char *format, ...) __attribute__((format(printf, 2, 3)));
static pp_err solver_failure(pp_solver *s, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  pp_err err = pp_error_raise_v(PP_SOLVER_ERROR, __FILE__, __LINE__, "pp_solver_pcg", format, args);
  va_end(args);
  pp_error_set_collective(s->rank == 0 ? PP_ERROR_COLLECTIVE : PP_ERROR_COLLECTIVE_QUIET);
  return err;
}

pp_err pp_solver_pcg(pp_solver *s, const pp_solver_operator *op, const pp_solver_options *options, cl_mem b,
                     cl_mem x, pp_solver_stats *stats)
{
  const int S = s->species;
  const size_t owned = s->owned_count, n = owned * (size_t)S;
  const double tolerance = options->relative_tolerance;
  double bb[PP_SOLVER_MAX_SPECIES], rz[PP_SOLVER_MAX_SPECIES], pq[PP_SOLVER_MAX_SPECIES];
  double alpha[PP_SOLVER_MAX_SPECIES], beta[PP_SOLVER_MAX_SPECIES], rz_new[PP_SOLVER_MAX_SPECIES];
  double reference[PP_SOLVER_MAX_SPECIES]; /* what the residual is measured against */
  int active[PP_SOLVER_MAX_SPECIES];
  for (int sp = 0; sp < PP_SOLVER_MAX_SPECIES; ++sp) {
    stats->species_iterations[sp] = 0;
    stats->initial_residual[sp] = stats->relative_residual[sp] = stats->rhs_norm[sp] = 0;
  }
  stats->iterations = 0;
  const size_t sz2[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem)};

  /* Jacobi (no callback) has its own kernels: z = D^-1 r inside the start and the update, r.z
   * summed in the update's pass. Another preconditioner is a separate step each time. */
  const int jacobi = op->precondition == NULL;

  /* ||b||_{P^-1}, the scale of the tolerance. */
  if (jacobi) {
    const void *pre[] = {&op->inverse_diagonal, &b, &s->z};
    PP_CALL(launch(s, s->precondition, "cg_precondition", n, 3, sz2, pre));
  } else {
    PP_CALL(op->precondition(op->context, b, s->z));
  }
  PP_CALL(pp_solver_dots(s, b, s->z, owned, bb));

  /* r = b - A x0, z = P^-1 r, p = z. */
  PP_CALL(op->apply(op->context, x, s->q));
  if (jacobi) {
    const void *start[] = {&b, &s->q, &op->inverse_diagonal, &s->r, &s->z, &s->p};
    const size_t sz6[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem),
                          sizeof(cl_mem)};
    PP_CALL(launch(s, s->start, "cg_start", n, 6, sz6, start));
  } else {
    const void *residual[] = {&b, &s->q, &s->r};
    PP_CALL(launch(s, s->residual, "cg_residual", n, 3, sz2, residual));
    PP_CALL(op->precondition(op->context, s->r, s->z));
    const void *copy[] = {&s->z, &s->p};
    PP_CALL(launch(s, s->copy, "cg_copy", n, 2, sz2, copy));
  }
  PP_CALL(pp_solver_dots(s, s->r, s->z, owned, rz));

  int any_active = 0;
  for (int sp = 0; sp < S; ++sp) {
    double scale = sqrt(bb[sp]), residual = sqrt(rz[sp]);
    if (!isfinite(scale) || !isfinite(residual))
      return solver_failure(s, "CG species %d: the right-hand side or the initial residual is not finite "
                            "(||b|| = %g, ||r0|| = %g)", sp, scale, residual);
    stats->rhs_norm[sp] = scale;
    /* b = 0: measure against ||r0|| (x0 != 0 must still be driven to 0). */
    reference[sp] = scale > 0 ? scale : residual;
    stats->initial_residual[sp] = stats->relative_residual[sp] = reference[sp] > 0 ? residual / reference[sp] : 0;
    active[sp] = residual > tolerance * reference[sp];
    any_active |= active[sp];
  }

  int iteration = 0;
  while (any_active) {
    if (iteration == options->max_iterations) {
      if (!options->require_convergence) break;
      for (int sp = 0; sp < S; ++sp)
        if (active[sp])
          return solver_failure(s,
                                "CG did not converge: species %d after %d iterations has relative residual %.3e "
                                "(tolerance %.1e, initial %.3e)",
                                sp, iteration, stats->relative_residual[sp], tolerance, stats->initial_residual[sp]);
    }
    ++iteration;
    PP_CALL(op->apply(op->context, s->p, s->q));
    PP_CALL(pp_solver_dots(s, s->p, s->q, owned, pq));
    for (int sp = 0; sp < S; ++sp) {
      if (!active[sp]) {
        alpha[sp] = 0;
        continue;
      }
      if (!(pq[sp] > 0) || !isfinite(pq[sp]))
        return solver_failure(s,
                              "CG breakdown: species %d at iteration %d has p.Ap = %.6e (the operator is not "
                              "positive definite or the data are not finite); relative residual %.3e",
                              sp, iteration, pq[sp], stats->relative_residual[sp]);
      alpha[sp] = rz[sp] / pq[sp];
    }
    PP_CALL(write_scalars(s, s->alpha, alpha, "CG alpha"));
    if (jacobi) {
      PP_CALL(update_and_dot(s, op->inverse_diagonal, x, rz_new));
    } else {
      const void *update[] = {&s->alpha, &s->p, &s->q, &x, &s->r};
      const size_t sz5[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem)};
      PP_CALL(launch(s, s->update, "cg_update", n, 5, sz5, update));
      PP_CALL(op->precondition(op->context, s->r, s->z));
      PP_CALL(pp_solver_dots(s, s->r, s->z, owned, rz_new));
    }
    any_active = 0;
    for (int sp = 0; sp < S; ++sp) {
      if (!active[sp]) {
        beta[sp] = 0;
        continue;
      }
      double residual = sqrt(rz_new[sp]);
      if (!isfinite(residual))
        return solver_failure(s, "CG species %d: the residual is not finite at iteration %d", sp, iteration);
      stats->relative_residual[sp] = residual / reference[sp];
      stats->species_iterations[sp] = iteration;
      beta[sp] = rz_new[sp] / rz[sp];
      rz[sp] = rz_new[sp];
      if (residual <= tolerance * reference[sp]) {
        active[sp] = 0;
        beta[sp] = 0;
      }
      any_active |= active[sp];
    }
    if (!any_active) break;
    PP_CALL(write_scalars(s, s->beta, beta, "CG beta"));
    const void *direction[] = {&s->beta, &s->z, &s->p};
    PP_CALL(launch(s, s->direction, "cg_direction", n, 3, sz2, direction));
  }
  stats->iterations = iteration;
  return PP_OK;
}
