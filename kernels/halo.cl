/* halo: packing node values for the owner -> ghost exchange, on the device, so only the halo
 * (not the whole field) crosses to the host for MPI. Node fields are stored interleaved:
 * component c of node n at field[n * components + c].
 * Build options (host/clrt): -DREAL=double|float -DREAL_IS_DOUBLE=1|0. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* buffer[s * components + c] = field[index[s] * components + c] for s < count */
__kernel void halo_pack(const ulong count, const uint components, __global const int *restrict index,
                        __global const REAL *restrict field, __global REAL *restrict buffer)
{
  const size_t s = get_global_id(0);
  if (s >= count) return;
  const size_t from = (size_t)index[s] * components, to = s * components;
  for (uint c = 0; c < components; ++c) buffer[to + c] = field[from + c];
}

/* field[index[s] * components + c] = buffer[s * components + c] for s < count */
__kernel void halo_unpack(const ulong count, const uint components, __global const int *restrict index,
                          __global const REAL *restrict buffer, __global REAL *restrict field)
{
  const size_t s = get_global_id(0);
  if (s >= count) return;
  const size_t to = (size_t)index[s] * components, from = s * components;
  for (uint c = 0; c < components; ++c) field[to + c] = buffer[from + c];
}
