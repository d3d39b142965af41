/* diffusion: the stage-2 diffusion-decay operator of host/diffusion on the device.
 * Vertex-centred finite volumes: node n holds the lumped volume mass[n] and, for each of its six
 * mesh edges (slots +x -x +y -y +z -z), the neighbour's local index and one conductance per
 * species (diffusivity x dual-face area / edge length, summed over the edge's elements in
 * ascending global element id on the host). A missing edge (outer side) points at the node
 * itself with conductance 0, so every node runs the same loop.
 * Fields of SPECIES_COUNT species are interleaved (value of species s at node n: [n * S + s]), so
 * the indices and the neighbour gather are paid once for all species (batched right-hand sides).
 * Build options (host/clrt): -DREAL=... -DREAL_IS_DOUBLE=... -DSPECIES_COUNT=S. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#ifndef SPECIES_COUNT
#define SPECIES_COUNT 1
#endif
#define S SPECIES_COUNT

/* y = ((shift + rate_n) M + K) x at the count nodes listed (list[i] a local owned node index), with
 * shift[s] = 1/dt + k_s and node_rate[n * S + s] a per-node linear rate (0 unless the caller set
 * one: shift + 0 keeps the shift's bits). The flux is written as g (x_n - x_m): a constant field gives exactly
 * shift M x, and the sum of the fluxes over all nodes cancels pairwise (g_nm == g_mn in bits). The
 * slots are added in a fixed order, so the result does not depend on the rank count. */
__kernel void diffusion_apply(const ulong count, __global const int *restrict list,
                              __global const int *restrict neighbour, __global const REAL *restrict conductance,
                              __global const REAL *restrict mass, __global const REAL *restrict shift,
                              __global const REAL *restrict node_rate, __global const REAL *restrict x,
                              __global REAL *restrict y)
{
  const size_t i = get_global_id(0);
  if (i >= count) return;
  const size_t n = (size_t)list[i];
  int m[6];
  for (int slot = 0; slot < 6; ++slot) m[slot] = neighbour[n * 6 + slot];
  const REAL volume = mass[n];
  for (int s = 0; s < S; ++s) {
    const REAL xn = x[n * S + s];
    REAL sum = (shift[s] + node_rate[n * S + s]) * volume * xn;
    for (int slot = 0; slot < 6; ++slot)
      sum += conductance[(n * 6 + slot) * S + s] * (xn - x[(size_t)m[slot] * S + s]);
    y[n * S + s] = sum;
  }
}

/* inverse_diagonal[n * S + s] = 1 / ((shift[s] + rate) mass[n] + sum of the node's conductances): the
 * Jacobi preconditioner of the same operator. */
__kernel void diffusion_inverse_diagonal(const ulong count, __global const REAL *restrict conductance,
                                         __global const REAL *restrict mass, __global const REAL *restrict shift,
                                         __global const REAL *restrict node_rate,
                                         __global REAL *restrict inverse_diagonal)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  for (int s = 0; s < S; ++s) {
    REAL diagonal = (shift[s] + node_rate[n * S + s]) * mass[n];
    for (int slot = 0; slot < 6; ++slot) diagonal += conductance[(n * 6 + slot) * S + s];
    inverse_diagonal[n * S + s] = (REAL)1 / diagonal;
  }
}

/* Backward-Euler right-hand side: b = mass c / dt + source (source in mass per time per node). */
__kernel void diffusion_rhs(const ulong count, const REAL inverse_dt, __global const REAL *restrict mass,
                            __global const REAL *restrict c, __global const REAL *restrict source,
                            __global REAL *restrict b)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  for (int s = 0; s < S; ++s) b[n * S + s] = mass[n] * c[n * S + s] * inverse_dt + source[n * S + s];
}

/* BDF2 right-hand side: b = mass (a1 c^n - a2 c^{n-1}) / dt + source, with weight_now = a1 / dt
 * and weight_previous = a2 / dt computed once on the host from the step ratio, so every rank
 * uses the same bits. */
__kernel void diffusion_rhs_bdf2(const ulong count, const REAL weight_now, const REAL weight_previous,
                                 __global const REAL *restrict mass, __global const REAL *restrict c,
                                 __global const REAL *restrict previous, __global const REAL *restrict source,
                                 __global REAL *restrict b)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  for (int s = 0; s < S; ++s)
    b[n * S + s] = mass[n] * (weight_now * c[n * S + s] - weight_previous * previous[n * S + s]) + source[n * S + s];
}

/* product[n * S + s] = mass[n] * c[n * S + s]: the terms of the total mass per species, summed
 * by host/reduce (rounded products, exact sum: the same bits as pp_reduce_dot). */
__kernel void diffusion_mass_terms(const ulong count, __global const REAL *restrict mass,
                                   __global const REAL *restrict c, __global REAL *restrict product)
{
  const size_t n = get_global_id(0);
  if (n >= count) return;
  for (int s = 0; s < S; ++s) product[n * S + s] = mass[n] * c[n * S + s];
}

/* The z-line preconditioner: the operator restricted to each line of nodes (a run of owned nodes
 * first..end-1 joined by the mesh edges between consecutive ones: the vertical node columns of a
 * generated mesh) is tridiagonal, and its exact solve is a block-Jacobi preconditioner that
 * removes the strong vertical coupling of the thin surface layers. Factor (Thomas): for the
 * diagonal b_k and the coupling g_k between nodes k and k+1 (off-diagonal -g_k), the pivots are
 * p_k = b_k - g_{k-1}^2 / p_{k-1}. One work-item per line, each species in turn: the same
 * arithmetic in the same order whatever the partition (a line never crosses ranks). */
__kernel void diffusion_line_factor(const ulong lines, __global const int *restrict line_first,
                                    __global const int *restrict link_slot, __global const REAL *restrict conductance,
                                    __global const REAL *restrict mass, __global const REAL *restrict shift,
                                    __global const REAL *restrict node_rate, __global REAL *restrict pivot_inverse,
                                    __global REAL *restrict coupling)
{
  const size_t l = get_global_id(0);
  if (l >= lines) return;
  const int first = line_first[l], end = line_first[l + 1];
  for (int s = 0; s < S; ++s) {
    REAL previous_coupling = 0, previous_ratio = 0; /* g_{k-1} and g_{k-1} / p_{k-1} */
    for (int n = first; n < end; ++n) {
      REAL diagonal = (shift[s] + node_rate[(size_t)n * S + s]) * mass[n];
      for (int slot = 0; slot < 6; ++slot) diagonal += conductance[((size_t)n * 6 + slot) * S + s];
      const REAL inverse = (REAL)1 / (diagonal - previous_coupling * previous_ratio);
      const int link = link_slot[n];
      const REAL g = link >= 0 ? conductance[((size_t)n * 6 + link) * S + s] : (REAL)0;
      pivot_inverse[(size_t)n * S + s] = inverse;
      coupling[(size_t)n * S + s] = g;
      previous_coupling = g;
      previous_ratio = g * inverse;
    }
  }
}

/* z = T^-1 r line by line: forward y_k = (r_k + g_{k-1} y_{k-1}) / p_k, then backward
 * z_k = y_k + (g_k / p_k) z_{k+1}. */
__kernel void diffusion_line_solve(const ulong lines, __global const int *restrict line_first,
                                   __global const REAL *restrict pivot_inverse, __global const REAL *restrict coupling,
                                   __global const REAL *restrict r, __global REAL *restrict z)
{
  const size_t l = get_global_id(0);
  if (l >= lines) return;
  const int first = line_first[l], end = line_first[l + 1];
  for (int s = 0; s < S; ++s) {
    REAL carry = 0;
    for (int n = first; n < end; ++n) {
      const size_t i = (size_t)n * S + s;
      const REAL y = (r[i] + carry) * pivot_inverse[i];
      z[i] = y;
      carry = coupling[i] * y;
    }
    REAL next = 0;
    for (int n = end - 1; n >= first; --n) {
      const size_t i = (size_t)n * S + s;
      const REAL value = z[i] + coupling[i] * pivot_inverse[i] * next;
      z[i] = value;
      next = value;
    }
  }
}
