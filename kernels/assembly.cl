/* assembly: the deterministic node sum over elements. Element kernels write one value per
 * (element, corner); each owned node adds its corners' values in the order of its CSR row, which
 * lists elements by ascending global id. No atomics, so the same numbers are added in the same
 * order on any partition and any device: the same bits on 1, 2 or 4 ranks.
 * Build options (host/clrt): -DREAL=double|float -DREAL_IS_DOUBLE=1|0. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* node_values[n * components + c] = sum over the row of corner_values[entry * components + c]
 * for the first node_count (owned) nodes; entry = element * 8 + corner. */
__kernel void node_gather(const ulong node_count, const uint components, __global const int *restrict row_offset,
                          __global const int *restrict row_entry, __global const REAL *restrict corner_values,
                          __global REAL *restrict node_values)
{
  const size_t n = get_global_id(0);
  if (n >= node_count) return;
  const int first = row_offset[n], end = row_offset[n + 1];
  for (uint c = 0; c < components; ++c) {
    REAL sum = 0;
    for (int r = first; r < end; ++r) sum += corner_values[(size_t)row_entry[r] * components + c];
    node_values[n * components + c] = sum;
  }
}
