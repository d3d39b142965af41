/* The stage-2 CG iteration (host/diffusion + host/solver): DoF x iterations per second of
 * Jacobi-PCG on the backward-Euler diffusion-decay system of a uniform block with one species,
 * and the effective bandwidth by this byte model per DoF and iteration: the bytes the kernels of
 * one iteration must move (REAL of rs bytes, int indices of 4; neighbour values of p are assumed
 * to come from cache):
 *   operator        p, mass, 6 conductances, q: 9 rs; 6 neighbour indices + 1 list index: 28
 *   p.q             read p, q (host/reduce's exact dot): 2 rs
 *   update and r.z  read x, p, r, q, inverse diagonal; write x, r, z: 8 rs (r.z is summed in
 *                   the same pass: cg_update_dot)
 *   direction       read z, p; write p: 3 rs
 *   total 22 rs + 28 bytes (204 in double). Flops: 20 + 2 + 7 + 2 = 31.
 * (Before r.z was fused into the update, the model counted 2 rs more for reading r and z again:
 * 220 bytes in double.)
 * DoF = --size / 36 (0.94 M for the default 2^25, the 0.9 M DoF patch). Each repetition
 * is 20 CG iterations (tolerance 0, no convergence required). The check: a converged solve
 * (1e-10) whose true residual ||b - A x|| / ||b||, from a separate operator application, is
 * below 1e-8.
 * On several ranks (mpiexec -n R pinprick_bench --only cg) the block is distributed by
 * pp_mesh_generate and the ghost values are exchanged (host/halo); the rate is the global DoF x
 * iterations over the slowest rank's time. With --profile a per-iteration breakdown of rank 0's
 * kernel times in the timed solves follows the row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cases.h"
#include "diffusion.h"
#include "halo.h"
#include "mesh.h"
#include "reduce.h"

enum { CG_ITERATIONS = 20 };

/* The kernels of a solve, as host/clrt and host/halo label them. */
static const char *const breakdown_labels[] = {
  "diffusion_apply_interior", "diffusion_apply_boundary", "halo_pack", "halo_unpack", "reduce_dot",
  "cg_update_dot", "reduce_sum_combine", "cg_direction", "cg_precondition", "cg_start"};
static const char *const breakdown_names[] = {
  "operator (interior)", "operator (boundary)", "halo pack", "halo unpack", "dots (reduce_dot: p.q; start 2)",
  "update + r.z (cg_update_dot)", "partials (reduce_sum_combine)", "direction (cg_direction)",
  "start: D^-1 b (cg_precondition)", "start: r, z, p (cg_start)"};
enum { BREAKDOWN_ROWS = sizeof breakdown_labels / sizeof breakdown_labels[0] };

/* Device time and calls so far of each kernel of the solve (profiling on). */
static pp_err kernel_totals(pp_bench *bench, double *seconds, long *calls)
{
  for (int k = 0; k < BREAKDOWN_ROWS; ++k) PP_CALL(pp_clrt_timing(bench->clrt, breakdown_labels[k], &calls[k], &seconds[k]));
  return PP_OK;
}

/* Per iteration of the timed solves (warm-up and repetitions, CG_ITERATIONS each): each kernel's
 * device time (start-of-solve kernels spread over the solve's iterations), against the median
 * wall time (the kernel times are means). */
static void print_breakdown(const pp_bench *bench, const double *seconds, const long *calls, int solves,
                            const pp_bench_result *result)
{
  if (bench->rank != 0) return;
  const double iterations = (double)solves * CG_ITERATIONS, wall = result->median_s / CG_ITERATIONS;
  double kernels = 0;
  printf("  cg per iteration on rank 0 (device times from OpenCL events, means over %d solves):\n", solves);
  for (int k = 0; k < BREAKDOWN_ROWS; ++k) {
    if (calls[k] == 0) continue;
    double t = seconds[k] / iterations;
    kernels += t;
    printf("    %-34s %8.3f ms  %5.1f %%  (%.2f calls)\n", breakdown_names[k], 1e3 * t, 100 * t / wall,
           (double)calls[k] / iterations);
  }
  printf("    %-34s %8.3f ms  %5.1f %%\n", "all kernels", 1e3 * kernels, 100 * kernels / wall);
  printf("    %-34s %8.3f ms  %5.1f %%\n", "rest: host, transfers, MPI, gaps", 1e3 * (wall - kernels),
         100 * (wall - kernels) / wall);
  printf("    %-34s %8.3f ms  (minimum %.3f ms)\n", "wall per iteration, median", 1e3 * wall,
         1e3 * result->min_s / CG_ITERATIONS);
}

typedef struct {
  pp_diffusion *diffusion;
  cl_mem b, x;
  double dt;
} cg_run;

static pp_err run_cg(pp_bench *bench, void *user)
{
  (void)bench;
  cg_run *run = user;
  pp_solver_options options = {.relative_tolerance = 0, .max_iterations = CG_ITERATIONS, .require_convergence = 0};
  pp_solver_stats stats;
  PP_CALL(pp_diffusion_solve(run->diffusion, run->dt, &options, run->b, run->x, &stats));
  return PP_OK;
}

static pp_err cg_body(pp_bench *bench, pp_mesh *mesh, pp_halo **halo, pp_reduce **reduce, pp_diffusion **diffusion,
                      cl_mem *buffers, double **hosts)
{
  const double h = 10e-6;
  const int rs = pp_clrt_real_size(bench->clrt);
  long side = lround(cbrt((double)bench->size / 36.0));
  if (side < 6) side = 6;
  long elements = side - 1;
  pp_mesh_spec spec = {
    .length_x = elements * h, .length_y = elements * h,
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .lateral_fine_size = h, .lateral_growth = 1, .lateral_max_size = h,
    .surface_size = h, .depth_growth = 1, .depth_max_size = h, .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = (double)(elements / 5) * h;
  spec.layer_thickness[PP_LAYER_COUNT - 1] += (double)(elements % 5) * h;
  PP_CALL(pp_mesh_generate(&spec, bench->rank, bench->ranks, mesh));
  PP_CALL(pp_halo_create(halo, mesh, bench->clrt, bench->comm));
  PP_CALL(pp_reduce_create(reduce, bench->clrt, bench->comm));
  PP_CALL(pp_reduce_set_expansion(*reduce, bench->reduce_expansion));
  pp_diffusion_species species = {.decay_rate = 15.0 / 86400.0};
  for (int l = 0; l < PP_LAYER_COUNT; ++l) species.diffusivity[l] = 1e-11;
  PP_CALL(pp_diffusion_create(diffusion, mesh, bench->clrt, *halo, *reduce, bench->comm, 1, &species));

  size_t owned = (size_t)mesh->owned_node_count, nodes = (size_t)mesh->node_count;
  unsigned long long global_dof = owned;
  PP_CHECK(MPI_Allreduce(MPI_IN_PLACE, &global_dof, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, bench->comm) == MPI_SUCCESS,
           PP_ERR_MPI, "cg: MPI_Allreduce of the DoF failed");
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, owned * (size_t)rs, "cg b", &buffers[0]));
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, nodes * (size_t)rs, "cg x", &buffers[1]));
  PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, owned * (size_t)rs, "cg A x", &buffers[2]));
  hosts[0] = malloc(nodes * sizeof(double) + 8);
  hosts[1] = malloc(nodes * (size_t)rs + 8);
  PP_CHECK(hosts[0] && hosts[1], PP_ERR_MEMORY, "out of memory for the cg case");
  /* b: a smooth bump times the lumped volume (the right-hand side of a step from a bump). */
  const double *volume = pp_diffusion_node_volume(*diffusion);
  for (size_t n = 0; n < owned; ++n) {
    const double *p = mesh->node_coords + 3 * n;
    double r2 = p[0] * p[0] + p[1] * p[1] + p[2] * p[2];
    pp_bench_put_real(hosts[1], rs, n, volume[n] * (1 + exp(-r2 / (2e-8))));
  }
  PP_CALL(pp_clrt_write(bench->clrt, buffers[0], 0, owned * (size_t)rs, hosts[1], "cg b"));
  for (size_t n = 0; n < nodes; ++n) pp_bench_put_real(hosts[1], rs, n, 0);
  PP_CALL(pp_clrt_write(bench->clrt, buffers[1], 0, nodes * (size_t)rs, hosts[1], "cg x"));

  cg_run run = {*diffusion, buffers[0], buffers[1], 60.0};
  pp_bench_result result = {.name = "cg", .size = (size_t)global_dof};
  result.bytes = (double)CG_ITERATIONS * (double)global_dof * (22.0 * rs + 28.0);
  result.flops = (double)CG_ITERATIONS * (double)global_dof * 31.0;
  double seconds[2][BREAKDOWN_ROWS] = {{0}};
  long calls[2][BREAKDOWN_ROWS] = {{0}};
  const int profiling = pp_clrt_profiling(bench->clrt);
  if (profiling) PP_CALL(kernel_totals(bench, seconds[0], calls[0]));
  PP_CALL(pp_bench_time(bench, run_cg, &run, &result));
  if (profiling) {
    PP_CALL(kernel_totals(bench, seconds[1], calls[1]));
    for (int k = 0; k < BREAKDOWN_ROWS; ++k) {
      seconds[1][k] -= seconds[0][k];
      calls[1][k] -= calls[0][k];
    }
  }

  /* Check: converge from x = 0, then the true residual from a separate operator application. */
  PP_CALL(pp_clrt_write(bench->clrt, buffers[1], 0, nodes * (size_t)rs, hosts[1], "cg x"));
  pp_solver_options options = {.relative_tolerance = 1e-10, .max_iterations = 5000, .require_convergence = 1};
  pp_solver_stats stats;
  PP_CALL(pp_diffusion_solve(*diffusion, run.dt, &options, buffers[0], buffers[1], &stats));
  PP_CALL(pp_diffusion_apply(*diffusion, run.dt, buffers[1], buffers[2]));
  void *ax = malloc(owned * (size_t)rs + 8), *b = malloc(owned * (size_t)rs + 8);
  PP_CHECK(ax && b, PP_ERR_MEMORY, "out of memory for the cg check");
  pp_err err = pp_clrt_read(bench->clrt, buffers[2], 0, owned * (size_t)rs, ax, "cg A x");
  if (err == PP_OK) err = pp_clrt_read(bench->clrt, buffers[0], 0, owned * (size_t)rs, b, "cg b");
  double rr = 0, bb = 0;
  for (size_t n = 0; err == PP_OK && n < owned; ++n) {
    double bn = pp_bench_get_real(b, rs, n), rn = bn - pp_bench_get_real(ax, rs, n);
    rr += rn * rn;
    bb += bn * bn;
  }
  free(ax);
  free(b);
  PP_CALL(err);
  double sums[2] = {rr, bb};
  PP_CHECK(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, bench->comm) == MPI_SUCCESS, PP_ERR_MPI,
           "cg: MPI_Allreduce of the check failed");
  double relative = sqrt(sums[0] / sums[1]), limit = rs == 8 ? 1e-8 : 1e-3;
  double rate = result.min_s > 0 ? CG_ITERATIONS * (double)global_dof / result.min_s : 0;
  result.valid = relative < limit;
  char ranks[64] = "";
  if (bench->ranks > 1) snprintf(ranks, sizeof ranks, " on %d ranks", bench->ranks);
  snprintf(result.check, sizeof result.check,
           "%.3e DoF*iterations/s (%llu DoF%s, %d its/rep, expansion %d); converged solve: %d its, true residual "
           "%.2e (limit %.0e)",
           rate, global_dof, ranks, CG_ITERATIONS, pp_reduce_expansion(*reduce), stats.iterations, relative, limit);
  PP_CALL(pp_bench_record(bench, &result));
  if (profiling) print_breakdown(bench, seconds[1], calls[1], bench->warmups + bench->repeats, &result);
  return PP_OK;
}

pp_err pp_bench_case_cg(pp_bench *bench)
{
  pp_mesh mesh;
  memset(&mesh, 0, sizeof mesh);
  pp_halo *halo = NULL;
  pp_reduce *reduce = NULL;
  pp_diffusion *diffusion = NULL;
  cl_mem buffers[3] = {NULL, NULL, NULL};
  double *hosts[2] = {NULL, NULL};
  pp_err err = cg_body(bench, &mesh, &halo, &reduce, &diffusion, buffers, hosts);
  for (int i = 0; i < 3; ++i)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  for (int i = 0; i < 2; ++i) free(hosts[i]);
  pp_diffusion_destroy(diffusion);
  pp_reduce_destroy(reduce);
  pp_halo_destroy(halo);
  pp_mesh_free(&mesh);
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  return PP_OK;
}
