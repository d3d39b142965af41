/* solver: the vector steps of host/solver's preconditioned conjugate gradients, for
 * SPECIES_COUNT independent systems whose vectors are interleaved ([node * S + s]). Each system
 * has its own alpha and beta (arrays of S in device memory); a system that has converged gets
 * alpha = beta = 0 and stops changing, so a batched solve gives the same bits per species as S
 * single solves. The element count n counts REALs (nodes * S), except in cg_update_dot (nodes).
 * host/solver builds this file behind kernels/exact_sum.cl (pp_reduce_kernel), whose exact
 * accumulator cg_update_dot uses.
 * Build options (host/clrt, host/reduce): -DREAL=... -DREAL_IS_DOUBLE=... -DSPECIES_COUNT=S and
 * those of exact_sum.cl (EXACT_SUM_COMPONENTS = S). */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#ifndef SPECIES_COUNT
#define SPECIES_COUNT 1
#endif
#define S SPECIES_COUNT
#if EXACT_SUM_COMPONENTS != SPECIES_COUNT
#error "solver.cl: host/solver builds it with EXACT_SUM_COMPONENTS = SPECIES_COUNT"
#endif

/* r = b - q (q = A x0), z = D^-1 r, p = z. */
__kernel void cg_start(const ulong n, __global const REAL *restrict b, __global const REAL *restrict q,
                       __global const REAL *restrict inverse_diagonal, __global REAL *restrict r,
                       __global REAL *restrict z, __global REAL *restrict p)
{
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const REAL residual = b[i] - q[i];
  const REAL preconditioned = inverse_diagonal[i] * residual;
  r[i] = residual;
  z[i] = preconditioned;
  p[i] = preconditioned;
}

/* z = D^-1 b (for the preconditioned norm of b). */
__kernel void cg_precondition(const ulong n, __global const REAL *restrict inverse_diagonal,
                              __global const REAL *restrict b, __global REAL *restrict z)
{
  const size_t i = get_global_id(0);
  if (i < n) z[i] = inverse_diagonal[i] * b[i];
}

/* x += alpha p, r -= alpha q, z = D^-1 r: one pass over the five vectors, and r.z per species
 * added exactly on the way (the rounded products r[e] * z[e], the terms pp_reduce_dot would add,
 * so the same bits as pp_reduce_dot(r, z) after a separate update, without reading r and z again).
 * Launched as host/reduce's pp_reduce_launch_shape says; built with EXACT_SUM_COMPONENTS = S. A
 * work-item's nodes are contiguous elements in the blocked layout: eight at a time through the
 * phases of exact_sum_add8 (lane k of phase j is species (8 j + k) % S, and so is its alpha); in
 * the strided layout node by node. The arithmetic per element is cg_update's. */
__kernel __attribute__((reqd_work_group_size(REDUCE_LOCAL_SIZE, 1, 1)))
void cg_update_dot(const ulong nodes, const ulong chunk, __global const REAL *restrict alpha,
                   __global const REAL *restrict p, __global const REAL *restrict q,
                   __global const REAL *restrict inverse_diagonal, __global REAL *restrict x,
                   __global REAL *restrict r, __global REAL *restrict z, __global long *restrict partials)
{
  __local long stage[EXACT_SUM_STAGE];
  long acc[EXACT_SUM_SLOTS];
  exact_sum sum;
  exact_sum_init(&sum, acc);
  ulong begin, end, step;
  exact_sum_range(nodes, chunk, &begin, &end, &step);
  if (step == 1) {
    REAL8 a[EXACT_SUM_PHASES]; /* alpha of each lane, per phase */
#pragma unroll
    for (int phase = 0; phase < EXACT_SUM_PHASES; ++phase)
      a[phase] = (REAL8)(alpha[LANE_COMPONENT(phase, 0)], alpha[LANE_COMPONENT(phase, 1)],
                         alpha[LANE_COMPONENT(phase, 2)], alpha[LANE_COMPONENT(phase, 3)],
                         alpha[LANE_COMPONENT(phase, 4)], alpha[LANE_COMPONENT(phase, 5)],
                         alpha[LANE_COMPONENT(phase, 6)], alpha[LANE_COMPONENT(phase, 7)]);
    ulong e = begin * S;
    const ulong stop = end * S;
    for (; e + 8 * EXACT_SUM_PHASES <= stop; e += 8 * EXACT_SUM_PHASES)
#pragma unroll
      for (int phase = 0; phase < EXACT_SUM_PHASES; ++phase) {
        const ulong f = e + 8 * (ulong)phase;
        const REAL8 residual = load8(r, f, 1) - a[phase] * load8(q, f, 1);
        const REAL8 preconditioned = load8(inverse_diagonal, f, 1) * residual;
        store8(load8(x, f, 1) + a[phase] * load8(p, f, 1), x, f, 1);
        store8(residual, r, f, 1);
        store8(preconditioned, z, f, 1);
        exact_sum_add8(&sum, phase, residual * preconditioned);
      }
    for (; e < stop; ++e) {
      const REAL residual = r[e] - alpha[e % S] * q[e];
      const REAL preconditioned = inverse_diagonal[e] * residual;
      x[e] = x[e] + alpha[e % S] * p[e];
      r[e] = residual;
      z[e] = preconditioned;
      exact_sum_add(&sum, (uint)(e % S), residual * preconditioned);
    }
  } else {
    for (ulong i = begin; i < end; i += step)
      for (uint s = 0; s < S; ++s) {
        const ulong e = i * S + s;
        const REAL residual = r[e] - alpha[s] * q[e];
        const REAL preconditioned = inverse_diagonal[e] * residual;
        x[e] = x[e] + alpha[s] * p[e];
        r[e] = residual;
        z[e] = preconditioned;
        exact_sum_add(&sum, s, residual * preconditioned);
      }
  }
  exact_sum_write_partial(&sum, stage, partials);
}

/* The steps of a preconditioner other than Jacobi (host/solver applies it between them). */
/* r = b - q (q = A x0) */
__kernel void cg_residual(const ulong n, __global const REAL *restrict b, __global const REAL *restrict q,
                          __global REAL *restrict r)
{
  const size_t i = get_global_id(0);
  if (i < n) r[i] = b[i] - q[i];
}

/* p = z */
__kernel void cg_copy(const ulong n, __global const REAL *restrict z, __global REAL *restrict p)
{
  const size_t i = get_global_id(0);
  if (i < n) p[i] = z[i];
}

/* x += alpha p, r -= alpha q (the same arithmetic as cg_update_dot's, without z) */
__kernel void cg_update(const ulong n, __global const REAL *restrict alpha, __global const REAL *restrict p,
                        __global const REAL *restrict q, __global REAL *restrict x, __global REAL *restrict r)
{
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const REAL a = alpha[i % S];
  r[i] = r[i] - a * q[i];
  x[i] = x[i] + a * p[i];
}

/* p = z + beta p */
__kernel void cg_direction(const ulong n, __global const REAL *restrict beta, __global const REAL *restrict z,
                           __global REAL *restrict p)
{
  const size_t i = get_global_id(0);
  if (i < n) p[i] = z[i] + beta[i % S] * p[i];
}
