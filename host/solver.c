/* solver: Jacobi-preconditioned CG on the device (see solver.h). The loop follows miniFE's
 * cg_solve (breakdown checked before dividing) and TeaLeaf's tea_leaf_cg kernels (fused vector
 * updates); every global sum is host/reduce's exact one. */
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
  cl_mem r, z, p, q, products, alpha, beta; /* r, z, q, products: owned * S; p: node_count * S */
  cl_kernel start, precondition, update, direction, products_kernel;
};

void pp_solver_options_default(pp_solver_options *options)
{
  options->relative_tolerance = 1e-12;
  options->max_iterations = 10000;
  options->require_convergence = 1;
}

static pp_err kernel(pp_solver *solver, const char *name, cl_kernel *k)
{
  char options[64];
  snprintf(options, sizeof options, "-DSPECIES_COUNT=%d", solver->species);
  PP_CALL(pp_clrt_kernel_with_options(solver->clrt, "solver", options, name, k));
  return PP_OK;
}

void pp_solver_destroy(pp_solver *solver)
{
  if (!solver) return;
  cl_mem buffers[] = {solver->r, solver->z, solver->p, solver->q, solver->products, solver->alpha, solver->beta};
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
  if (s->species > 1) PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_WRITE, owned * rs, "CG dot terms", &s->products));
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_ONLY, (size_t)s->species * rs, "CG alpha", &s->alpha));
  PP_CALL(pp_clrt_buffer(s->clrt, CL_MEM_READ_ONLY, (size_t)s->species * rs, "CG beta", &s->beta));
  PP_CALL(kernel(s, "cg_start", &s->start));
  PP_CALL(kernel(s, "cg_precondition", &s->precondition));
  PP_CALL(kernel(s, "cg_update", &s->update));
  PP_CALL(kernel(s, "cg_direction", &s->direction));
  PP_CALL(kernel(s, "cg_products", &s->products_kernel));
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
  if (s->species == 1) {
    PP_CALL(pp_reduce_dot(s->reduce, u, v, count, &dots[0]));
    return PP_OK;
  }
  PP_CHECK(count <= s->owned_count, PP_ERR_ARGUMENT, "CG dot over %zu nodes, room for %zu", count, s->owned_count);
  size_t n = count * (size_t)s->species;
  const size_t sizes[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem)};
  const void *values[] = {&u, &v, &s->products};
  PP_CALL(launch(s, s->products_kernel, "cg_products", n, 3, sizes, values));
  for (int sp = 0; sp < s->species; ++sp)
    PP_CALL(pp_reduce_sum_strided(s->reduce, s->products, (size_t)sp, (size_t)s->species, count, &dots[sp]));
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

  /* ||b||_{D^-1}, the scale of the tolerance. */
  const void *pre[] = {&op->inverse_diagonal, &b, &s->z};
  PP_CALL(launch(s, s->precondition, "cg_precondition", n, 3, sz2, pre));
  PP_CALL(pp_solver_dots(s, b, s->z, owned, bb));

  /* r = b - A x0, z = D^-1 r, p = z. */
  PP_CALL(op->apply(op->context, x, s->q));
  const void *start[] = {&b, &s->q, &op->inverse_diagonal, &s->r, &s->z, &s->p};
  const size_t sz6[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem),
                        sizeof(cl_mem)};
  PP_CALL(launch(s, s->start, "cg_start", n, 6, sz6, start));
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
    const void *update[] = {&s->alpha, &s->p, &s->q, &op->inverse_diagonal, &x, &s->r, &s->z};
    const size_t sz7[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem),
                          sizeof(cl_mem), sizeof(cl_mem)};
    PP_CALL(launch(s, s->update, "cg_update", n, 7, sz7, update));
    PP_CALL(pp_solver_dots(s, s->r, s->z, owned, rz_new));
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
