/* reduce: global sums, minima and maxima of device (and host) data that give the same bits on
 * any number of ranks, any partition, any work-group size and any work-group order
 * (DESIGN.md, "The same bits on any number of ranks").
 *
 * Sums are EXACT until one final rounding: every value is split into its mantissa and exponent
 * and added into a fixed-point integer accumulator that covers the whole double range
 * (2^-1074 .. 2^1024: 66 limbs of 32 bits held in int64, the 31 spare bits absorbing carries).
 * Integer addition is associative, so every work-item, work-group and rank may add in any
 * order; the accumulators are combined on the device, across ranks with an integer MPI_SUM,
 * and rounded once to the nearest REAL (round half to even). The result is the correctly
 * rounded sum of the inputs. kernels/reduce.cl holds the device side.
 *
 * Special values: a NaN input, or +Inf and -Inf together, give NaN (always the one quiet NaN
 * `NAN`, whatever payload came in, so the bits do not depend on which rank held which NaN); +Inf
 * or -Inf alone give that infinity; a finite exact sum beyond the REAL range rounds to +-Inf; an
 * exact sum of zero is +0 (also for -0 inputs). The sum of no values is +0.
 * Min and max are exact: -0 counts as less than +0, any NaN makes the result NaN; the minimum of
 * no values is +Inf and the maximum -Inf.
 *
 * Every function taking a pp_reduce or a communicator is COLLECTIVE over that communicator:
 * every rank calls it (with its own part, possibly empty) and every rank gets the same bits. A
 * failure on one rank (OpenCL, bad argument) reaches every rank: the failing rank returns its
 * error, the others PP_ERR_OTHER_RANK, all marked collective; nobody hangs.
 * Results are returned as double; in a float build (pp_clrt_real_size 4) the sum is correctly
 * rounded to float and then widened exactly. */
#ifndef PP_REDUCE_H
#define PP_REDUCE_H

#include <stddef.h>

#include <CL/cl.h>
#include <mpi.h>

#include "clrt.h"
#include "error.h"

typedef struct pp_reduce pp_reduce;

/* Independent sums one call can make at once (interleaved components: species). */
enum { PP_REDUCE_MAX_COMPONENTS = 8 };

/* COLLECTIVE. Builds kernels/exact_sum.cl + reduce.cl for clrt's device and precision. comm is kept (not
 * duplicated) and must outlive the pp_reduce. On failure *reduce is NULL on every rank. */
pp_err pp_reduce_create(pp_reduce **reduce, pp_clrt *clrt, MPI_Comm comm);
void pp_reduce_destroy(pp_reduce *reduce);

/* Sum of values[0 .. count-1] (REALs of clrt's precision) over all ranks. */
pp_err pp_reduce_sum(pp_reduce *reduce, cl_mem values, size_t count, double *sum);
/* Sum of values[offset + i*stride], i < count: one component of an interleaved array, or the
 * owned entries only (offset 0, stride 1, count = owned count). */
pp_err pp_reduce_sum_strided(pp_reduce *reduce, cl_mem values, size_t offset, size_t stride, size_t count,
                             double *sum);
/* Sum of x[i]*y[i], i < count: each product is rounded to REAL (no fma: contraction is off),
 * then the products are summed exactly. Reproducible; not the correctly rounded dot product. */
pp_err pp_reduce_dot(pp_reduce *reduce, cl_mem x, cl_mem y, size_t count, double *dot);
/* dots[c] = sum over i < count of x[i*components + c] * y[i*components + c], c < components: the
 * same bits as pp_reduce_dot of each component alone, in one pass over x and y, no buffer of
 * products, and one MPI_Allreduce for all components. */
pp_err pp_reduce_dots(pp_reduce *reduce, cl_mem x, cl_mem y, size_t count, int components, double *dots);

/* Minimum and/or maximum of values[0 .. count-1] over all ranks (min or max may be NULL). */
pp_err pp_reduce_min_max(pp_reduce *reduce, cl_mem values, size_t count, double *min, double *max);
pp_err pp_reduce_min(pp_reduce *reduce, cl_mem values, size_t count, double *min);
pp_err pp_reduce_max(pp_reduce *reduce, cl_mem values, size_t count, double *max);

/* COLLECTIVE over comm. The same exact sum of host doubles (energies, forces gathered on the
 * host), correctly rounded to double; equal bits to pp_reduce_sum of the same values in a double
 * build. */
pp_err pp_reduce_sum_host(const double *values, size_t count, MPI_Comm comm, double *sum);

/* How the device kernels are launched. None of this changes a result bit; it exists for tuning
 * and for the tests that prove exactly that. Not collective (each rank may differ).
 *   local_size   work-group size, fixed per build of the kernels (0: 1 on CPU devices, 64 elsewhere)
 *   group_count  work-groups per launch, at most (0: 8 per compute unit); fewer when count is small
 *   layout       which elements a work-item takes: a contiguous block (best on CPUs, where a
 *                work-item is a loop iteration of one thread) or every global_size-th one
 *                (coalesced loads on GPUs). AUTO: blocked on CPU devices, strided otherwise. */
typedef enum { PP_REDUCE_LAYOUT_AUTO = 0, PP_REDUCE_LAYOUT_BLOCKED, PP_REDUCE_LAYOUT_STRIDED } pp_reduce_layout;
pp_err pp_reduce_set_launch(pp_reduce *reduce, size_t local_size, size_t group_count, pp_reduce_layout layout);
/* Levels of the floating-point expansion in front of the superaccumulator (kernels/exact_sum.cl):
 * -1 automatic (3 on CPU devices, 0 elsewhere), 0 none, up to 8. Double only: a float build
 * always has 0. Changes the speed, never a bit. pp_reduce_expansion: the levels in use. */
pp_err pp_reduce_set_expansion(pp_reduce *reduce, int levels);
int pp_reduce_expansion(const pp_reduce *reduce);

/* ---- exact sums added inside other modules' kernels --------------------------------------------
 * A kernel of another module can add an exact sum as it goes, e.g. r.z in CG's update while r and
 * z are in registers, instead of writing the terms for pp_reduce_dot to read again:
 *   1. pp_reduce_kernel builds kernels/exact_sum.cl followed by kernels/<source_name>.cl with this
 *      pp_reduce's options (work-group size, expansion), `components` sums per work-item
 *      (interleaved: species) and extra_options; the kernel uses exact_sum_range,
 *      exact_sum_add8/exact_sum_add and exact_sum_write_partial (see there). The pp_reduce owns
 *      the kernel; it must be launched in work-groups of *local_size (which a later
 *      pp_reduce_set_launch does not change for it).
 *   2. pp_reduce_launch_shape says how to launch it for count nodes (of `components` elements
 *      each): group_count work-groups, the chunk argument of exact_sum_range, and the buffer its
 *      partials go to.
 *   3. pp_reduce_finish (COLLECTIVE) adds the partials, sums over ranks, rounds once: sums[c] has
 *      the same bits as pp_reduce_sum of component c's terms. local: PP_OK, or the caller's error
 *      in launching the kernel; then every rank returns an error and nobody hangs. */
pp_err pp_reduce_kernel(pp_reduce *reduce, const char *source_name, const char *extra_options, int components,
                        const char *kernel_name, cl_kernel *kernel, size_t *local_size);
typedef struct {
  size_t local_size, group_count; /* launch group_count * local_size work-items in groups of local_size */
  int components;                 /* sums per work-item, as the kernel was built */
  cl_ulong chunk;                 /* exact_sum_range's argument: nodes per work-item, 0 strided */
  cl_mem partials;                /* the kernel's partials argument (owned by the pp_reduce) */
} pp_reduce_launch;
pp_err pp_reduce_launch_shape(pp_reduce *reduce, size_t local_size, size_t count, int components,
                              pp_reduce_launch *launch);
pp_err pp_reduce_finish(pp_reduce *reduce, pp_err local, const pp_reduce_launch *launch, double *sums);

#endif
