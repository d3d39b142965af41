/* The stage-1 explicit dynamics (host/mechanics, kernels/mechanics.cl): element-steps per second
 * of full steps, and of the element kernel alone, with a flop and byte model per element and the
 * fraction of the roofline bound measured in the same run (triad bandwidth, fma peak).
 *
 * Problem: a uniform block of side n = round(cbrt(--size / 32)) elements (at least 5; 1.05 M
 * elements for the default 2^25), h = 10 um, the five skin layers n/5 elements thick each and the
 * dermal-epidermal junction undulated (amplitude a quarter of a layer, two waves across), so the
 * elements in the layers beside it are general hexahedra, not boxes. Base fixed, sides free. The
 * layers have the demo case's shear moduli and kappa/mu; one row pair with every layer
 * neo-Hookean, one with every layer one-term Ogden (alpha = 12). The state: a smooth non-affine
 * displacement (shear, stretch and compression up to about 20 %, zero on the base) at rest; the
 * timed steps are free vibration from it at a fixed dt of half the automatic step.
 *
 * Rows (one pair per law):
 *   mech_step_nh / mech_step_og   one pp_mechanics_step per repetition (update + energy terms,
 *                                 3 exact reductions, forces, gather): element-steps/s
 *   mech_elem_nh / mech_elem_og   the hex8_forces kernel alone on the same state
 *
 * Flop model (per element; every + - * / and sqrt on run-time values counted once, products by
 * +-1 and sums with a literal 0 not counted, no fma: the kernels are built with contraction off;
 * pow counted as one flop). Counted by compiling the kernels' text on the host with a REAL type
 * that counts its operations (double build, one element per work-item; the vector lanes of
 * MECHANICS_WIDTH > 1 do the same operations):
 *   hex8_forces, neo-Hookean:  1985 add, 1705 mul, 19 div, 1 sqrt, no pow = 3710, of which
 *     the trilinear modes of X and u (two 8-point butterflies per component)   168
 *     per Gauss point (x 8, ~290): J and G from the modes 54, cof(J) and det J 32 + 1 division,
 *       F = I + G cof(J)^T / det J 57, cof(F) and det F 32, I1 17, J^-2/3 by Newton 18, P 27 (1
 *       division), R = P cof J and B = cof F cof J 90, energy and volumes 8
 *     back-projection of R and B to the corners (moments and butterflies)  ~ 510
 *     forces, b_a.b_a, J_bar, energy, the step                               ~ 100
 *   hex8_forces, Ogden (alpha = 12):  4663 add, 6375 mul, 408 div, 175 sqrt, no pow = 11621
 *     (the law per Gauss point, lane by lane: a Jacobi eigen-decomposition of C, 3-4 sweeps of
 *     ~210 flops and 6 sqrt for this state, lambda_bar^12 by squaring; the neo-Hookean stress is
 *     formed on every lane too);
 *   (before: 12960 neo-Hookean with 16 pow and 363 div, shape-function gradients formed twice per
 *   Gauss point 5104 of them; 19175 Ogden with 32 pow);
 *   gather_corner_forces: 3 adds per corner, 24 per element;
 *   central_difference: 138 per node (free DOFs); the energy-term dots 2 x 8 per node.
 * The step rows use 3710 (or 11621) + 24 + (138 + 16) N/E per element, N/E the nodes per element
 * of the mesh (1.03 at n = 100).
 *
 * Byte model (bytes the kernels must move, rs = sizeof(REAL), a node's displacement read once
 * from memory however many elements share it, write-allocate not counted as in README.md):
 *   hex8_forces   per element: reference corners 24 rs, element nodes 8 x 4, material 4, corner
 *                 forces 24 rs, energy, dilatation and step 3 rs, mass scaling factor 1 rs; per
 *                 node: displacement 3 rs -> 52 rs + 36 per element + 3 rs per node (452 B + 24 B
 *                 per node in double)
 *   gather        per element: 8 CSR entries x 4 and its corner forces 24 rs; per node: offset 4,
 *                 node force 3 rs
 *   update        per node: mass, spring 2 rs, DOF kinds 3, targets, f_int, f_ext 9 rs,
 *                 displacement, velocity, applied and previous force read and written 24 rs
 *                 (float: + the low displacement word 6 rs), energy terms 8 rs -> 43 rs + 3
 *   reductions    energy terms and the `ones` vector they are dotted with 16 rs per node; the
 *                 element energies and steps 2 rs per element
 * The roofline bound of a row is min(fma GFLOP/s / flops, triad GB/s / bytes) element-steps/s,
 * with both roofs from the same run (pinprick_bench adds triad and fma when mechanics is asked
 * for alone); the check column reports the fraction of it reached. (Without fma the kernels can
 * reach at most half the fma peak: the bound counts an fma as 2 flops.)
 *
 * Checks: the kernel's corner forces, energies and mean dilatations against the host element
 * (host/element, pp_hex8_internal_force) on every element, or on an evenly spaced sample of 2^16
 * for large meshes; after the timed steps, every element energy and owned node force finite, and
 * the stored energy of each checked element and the internal force of each checked node (the
 * corners of its elements added in the mesh's CSR order) against the host recomputation from the
 * displacement read back. Limits: 1e-9 relative (double), 2e-3 (float: the device computes in
 * float), of the largest element energy / node force. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cases.h"
#include "element.h"
#include "halo.h"
#include "material.h"
#include "mechanics.h"
#include "mesh.h"
#include "reduce.h"

enum { MATERIAL_STRIDE = 6, KERNEL_BUFFERS = 14 }; /* kernels/mechanics.cl: model, mu, alpha, kappa, density, tensile floor */
enum { CHECK_SAMPLE = 65536 };         /* checked elements and nodes at most */

/* Flops per element of hex8_forces by law, and per node of the update and the energy-term dots
 * (see the top). */
static const double FORCE_FLOPS[2] = {3710.0, 11621.0};
static const double GATHER_FLOPS_PER_ELEMENT = 24.0;
static const double UPDATE_FLOPS_PER_NODE = 138.0 + 16.0;

/* The demo case's layers (host/demo_case.yaml): shear modulus (Pa) and kappa/mu. */
static const double layer_mu[PP_LAYER_COUNT] = {6.9e6, 0.507e6, 0.1e6, 0.1e6, 1e3};
static const double layer_bulk_ratio[PP_LAYER_COUNT] = {9.67, 24.7, 50, 50, 50};

typedef struct {
  pp_mechanics *mechanics;
  double dt;
} step_run;

static pp_err run_step(pp_bench *bench, void *user)
{
  (void)bench;
  step_run *run = user;
  PP_CALL(pp_mechanics_step(run->mechanics, run->dt, NULL));
  return PP_OK;
}

typedef struct {
  cl_kernel kernel;
  size_t items;
} force_run;

static pp_err run_forces(pp_bench *bench, void *user)
{
  force_run *run = user;
  PP_CALL(pp_clrt_launch(bench->clrt, run->kernel, "bench hex8_forces", run->items, bench->local_size));
  return PP_OK;
}

/* The initial displacement (m) at reference point p of a block [0, L]^2 x [-T, 0]. */
static void initial_displacement(const double *p, double L, double T, double *u)
{
  const double pi = 3.14159265358979323846, a = 0.03 * T;
  const double x = p[0] / L, y = p[1] / L, z = (p[2] + T) / T; /* z = 0 on the base */
  u[0] = a * z * (sin(2 * pi * y) + 0.5 * x);
  u[1] = a * z * (cos(2 * pi * x) - 0.5 * y);
  u[2] = -a * z * z * (1 + 0.5 * sin(2 * pi * x) * sin(2 * pi * y));
}

typedef struct {
  pp_mesh mesh;
  pp_halo *halo;
  pp_reduce *reduce;
  pp_mechanics *mechanics;
  cl_mem buffers[KERNEL_BUFFERS];
  cl_kernel kernel;
  double *host[6];
} mechanics_case;

static void release(mechanics_case *c)
{
  if (c->kernel) clReleaseKernel(c->kernel);
  for (int i = 0; i < KERNEL_BUFFERS; ++i)
    if (c->buffers[i]) clReleaseMemObject(c->buffers[i]);
  for (int i = 0; i < 6; ++i) free(c->host[i]);
  pp_mechanics_destroy(c->mechanics);
  pp_reduce_destroy(c->reduce);
  pp_halo_destroy(c->halo);
  pp_mesh_free(&c->mesh);
}

/* Element e's corner displacements from a node field [node * 3]. */
static void element_displacement(const pp_mesh *mesh, const double *u, size_t e, double ue[24])
{
  for (int c = 0; c < 8; ++c)
    for (int d = 0; d < 3; ++d) ue[3 * c + d] = u[3 * (size_t)mesh->element_nodes[8 * e + (size_t)c] + (size_t)d];
}

/* The roofs of this run (triad GB/s, fma GFLOP/s), 0 when not measured. */
static void roofs(const pp_bench *bench, double *bandwidth, double *peak)
{
  const pp_bench_result *triad = pp_bench_find(bench, "triad"), *fma = pp_bench_find(bench, "fma");
  *bandwidth = triad ? pp_bench_gbytes_per_s(triad) : 0;
  *peak = fma ? pp_bench_gflops_per_s(fma) : 0;
}

/* "rate; roofline" text for the check column: element-steps/s and the fraction of the bound. */
static void describe_rate(const pp_bench *bench, const pp_bench_result *r, double elements, char *text, size_t size)
{
  const double rate = r->min_s > 0 ? elements / r->min_s : 0, flops = r->flops / elements, bytes = r->bytes / elements;
  double bandwidth, peak;
  roofs(bench, &bandwidth, &peak);
  if (bandwidth > 0 && peak > 0) {
    const double compute = peak * 1e9 / flops, memory = bandwidth * 1e9 / bytes;
    const double bound = compute < memory ? compute : memory;
    snprintf(text, size, "%.3e element-steps/s; %.0f flop, %.0f B per element; %.1f %% of the roofline bound %.3e (%s)",
             rate, flops, bytes, 100 * rate / bound, bound, compute < memory ? "compute" : "memory");
  } else {
    snprintf(text, size, "%.3e element-steps/s; %.0f flop, %.0f B per element; no roofline (triad and fma not run)",
             rate, flops, bytes);
  }
}

static double relative(double difference, double scale) { return scale > 0 ? difference / scale : difference; }

/* The kernel alone: its own kernel object and buffers (the pp_mechanics's kernel keeps its
 * arguments), on the displacement u (local nodes). */
static pp_err time_kernel(pp_bench *bench, mechanics_case *c, const pp_mechanics_options *options, int law,
                          const double *u, double tolerance)
{
  const pp_mesh *mesh = &c->mesh;
  const size_t E = (size_t)mesh->element_count, N = (size_t)mesh->node_count,
               rs = (size_t)pp_clrt_real_size(bench->clrt);
  const char *names[KERNEL_BUFFERS] = {
    "bench corners", "bench element nodes", "bench displacement", "bench materials index", "bench material table",
    "bench corner forces", "bench energies", "bench dilatations", "bench steps", "bench density scale",
    "bench eroded flags", "bench tensile energies", "bench principal stresses", "bench distortions"};
  const size_t bytes[KERNEL_BUFFERS] = {E * 24 * rs, E * 8 * sizeof(int), N * 3 * rs, E * sizeof(int),
                                        PP_LAYER_COUNT * MATERIAL_STRIDE * rs, E * 24 * rs, E * rs, E * rs, E * rs,
                                        E * rs, E * rs, E * rs, E * rs, E * rs};
  for (int i = 0; i < KERNEL_BUFFERS; ++i)
    PP_CALL(pp_clrt_buffer(bench->clrt, CL_MEM_READ_WRITE, bytes[i], names[i], &c->buffers[i]));
  double table[PP_LAYER_COUNT * MATERIAL_STRIDE];
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    const pp_material *m = &options->layer[l];
    double *row = table + MATERIAL_STRIDE * l;
    row[0] = m->model == PP_MATERIAL_OGDEN;
    row[1] = m->shear_modulus;
    row[2] = m->ogden_alpha;
    row[3] = m->bulk_modulus;
    row[4] = m->density;
    row[5] = INFINITY; /* the build without erosion does not read it */
  }
  int *layer = malloc(E * sizeof *layer + 1);
  double *ones = malloc(E * sizeof *ones + 8);
  if (!layer || !ones) {
    free(layer);
    free(ones);
    PP_RAISE(PP_ERR_MEMORY, "out of memory for the mechanics bench");
  }
  for (size_t e = 0; e < E; ++e) {
    layer[e] = mesh->element_layer[e];
    ones[e] = 1; /* no mass scaling */
  }
  pp_err err = pp_clrt_write_reals(bench->clrt, c->buffers[0], mesh->element_corner_coords, E * 24, names[0]);
  if (err == PP_OK) err = pp_clrt_write(bench->clrt, c->buffers[1], 0, bytes[1], mesh->element_nodes, names[1]);
  if (err == PP_OK) err = pp_clrt_write_reals(bench->clrt, c->buffers[2], u, N * 3, names[2]);
  if (err == PP_OK) err = pp_clrt_write(bench->clrt, c->buffers[3], 0, bytes[3], layer, names[3]);
  if (err == PP_OK)
    err = pp_clrt_write_reals(bench->clrt, c->buffers[4], table, PP_LAYER_COUNT * MATERIAL_STRIDE, names[4]);
  if (err == PP_OK) err = pp_clrt_write_reals(bench->clrt, c->buffers[9], ones, E, names[9]);
  for (size_t e = 0; e < E; ++e) ones[e] = 0; /* nothing eroded */
  if (err == PP_OK) err = pp_clrt_write_reals(bench->clrt, c->buffers[10], ones, E, names[10]);
  free(layer);
  free(ones);
  PP_CALL(err);

  /* the program host/mechanics built: as many elements per work-item */
  const int width = pp_mechanics_element_width(c->mechanics);
  char build_options[64];
  snprintf(build_options, sizeof build_options, "-DMECHANICS_WIDTH=%d -DEROSION=0", width);
  cl_program program;
  PP_CALL(pp_clrt_build(bench->clrt, "mechanics", build_options, &program));
  cl_int status = CL_SUCCESS;
  c->kernel = clCreateKernel(program, "hex8_forces", &status);
  PP_CL(status, "creating the bench's hex8_forces kernel");
  const cl_ulong count = E;
  PP_CL(clSetKernelArg(c->kernel, 0, sizeof count, &count), "hex8_forces count");
  for (cl_uint i = 0; i < KERNEL_BUFFERS; ++i)
    PP_CL(clSetKernelArg(c->kernel, i + 1, sizeof(cl_mem), &c->buffers[i]), "hex8_forces argument");

  pp_bench_result result = {.size = E};
  snprintf(result.name, sizeof result.name, "mech_elem_%s", law ? "og" : "nh");
  result.flops = FORCE_FLOPS[law] * (double)E;
  result.bytes = (double)E * (52.0 * (double)rs + 36.0) + (double)N * 3.0 * (double)rs;
  force_run run = {c->kernel, (E + (size_t)width - 1) / (size_t)width};
  PP_CALL(pp_bench_time(bench, run_forces, &run, &result));

  /* Check against the host element, every element or an even sample. */
  double *f = malloc(E * 24 * sizeof *f + 8), *energy = malloc(E * sizeof *energy + 8),
         *dilatation = malloc(E * sizeof *dilatation + 8);
  err = f && energy && dilatation ? PP_OK
                                  : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  if (err == PP_OK) err = pp_clrt_read_reals(bench->clrt, c->buffers[5], f, E * 24, names[5]);
  if (err == PP_OK) err = pp_clrt_read_reals(bench->clrt, c->buffers[6], energy, E, names[6]);
  if (err == PP_OK) err = pp_clrt_read_reals(bench->clrt, c->buffers[7], dilatation, E, names[7]);
  double force_error = 0, force_scale = 0, energy_error = 0, energy_scale = 0, dilatation_error = 0;
  const size_t stride = E > CHECK_SAMPLE ? E / CHECK_SAMPLE : 1;
  size_t checked = 0;
  for (size_t e = 0; err == PP_OK && e < E; e += stride, ++checked) {
    double ue[24], fe[24], we = 0;
    element_displacement(mesh, u, e, ue);
    const double J = pp_hex8_internal_force(&options->layer[mesh->element_layer[e]],
                                            mesh->element_corner_coords + 24 * e, ue, fe, &we);
    for (int k = 0; k < 24; ++k) {
      force_error = fmax(force_error, fabs(f[24 * e + (size_t)k] - fe[k]));
      force_scale = fmax(force_scale, fabs(fe[k]));
      if (!isfinite(f[24 * e + (size_t)k])) force_error = INFINITY;
    }
    energy_error = fmax(energy_error, isfinite(energy[e]) ? fabs(energy[e] - we) : INFINITY);
    energy_scale = fmax(energy_scale, fabs(we));
    dilatation_error = fmax(dilatation_error, isfinite(dilatation[e]) ? fabs(dilatation[e] - J) : INFINITY);
  }
  free(f);
  free(energy);
  free(dilatation);
  PP_CALL(err);
  const double fr = relative(force_error, force_scale), er = relative(energy_error, energy_scale);
  result.valid = fr <= tolerance && er <= tolerance && dilatation_error <= tolerance;
  char rate[160];
  describe_rate(bench, &result, (double)E, rate, sizeof rate);
  snprintf(result.check, sizeof result.check,
           "%s; %d elements per work-item; %zu elements vs host: forces %.1e, energies %.1e, J_bar %.1e (limit %.0e)",
           rate, width, checked, fr, er, dilatation_error, tolerance);
  PP_CALL(pp_bench_record(bench, &result));
  for (int i = 0; i < KERNEL_BUFFERS; ++i) {
    clReleaseMemObject(c->buffers[i]);
    c->buffers[i] = NULL;
  }
  clReleaseKernel(c->kernel);
  c->kernel = NULL;
  return PP_OK;
}

/* The kernels of a step, as host/mechanics, host/halo and host/reduce label them. */
static const char *const step_labels[] = {"mechanics hex8_forces", "mechanics gather", "mechanics central_difference",
                                          "reduce_dot", "reduce_sum", "reduce_min_max", "reduce_sum_combine",
                                          "halo_pack", "halo_unpack"};
enum { STEP_LABELS = sizeof step_labels / sizeof step_labels[0] };

static pp_err step_totals(pp_bench *bench, double *seconds, long *calls)
{
  for (int k = 0; k < STEP_LABELS; ++k) PP_CALL(pp_clrt_timing(bench->clrt, step_labels[k], &calls[k], &seconds[k]));
  return PP_OK;
}

static pp_err time_steps(pp_bench *bench, mechanics_case *c, const pp_mechanics_options *options, int law,
                         double tolerance)
{
  const pp_mesh *mesh = &c->mesh;
  const size_t E = (size_t)mesh->owned_element_count, N = (size_t)mesh->owned_node_count,
               rs = (size_t)pp_clrt_real_size(bench->clrt);
  step_run run = {c->mechanics, 0.5 * pp_mechanics_automatic_step(c->mechanics)};
  pp_bench_result result = {.size = E};
  snprintf(result.name, sizeof result.name, "mech_step_%s", law ? "og" : "nh");
  result.flops = (FORCE_FLOPS[law] + GATHER_FLOPS_PER_ELEMENT) * (double)E + UPDATE_FLOPS_PER_NODE * (double)N;
  const double entries = (double)mesh->node_element_offset[N];
  result.bytes = (double)E * (52.0 * (double)rs + 36.0) + (double)N * 3.0 * (double)rs          /* forces */
                 + entries * 4.0 + (double)E * 24.0 * (double)rs + (double)(N + 1) * 4.0 + (double)N * 3.0 * (double)rs
                 + (double)N * ((43.0 + (rs == 4 ? 6.0 : 0.0)) * (double)rs + 3.0)             /* update */
                 + (double)N * 16.0 * (double)rs + (double)E * 2.0 * (double)rs;                /* reductions */
  double seconds[2][STEP_LABELS] = {{0}};
  long calls[2][STEP_LABELS] = {{0}};
  const int profiling = pp_clrt_profiling(bench->clrt);
  if (profiling) PP_CALL(step_totals(bench, seconds[0], calls[0]));
  PP_CALL(pp_bench_time(bench, run_step, &run, &result));
  if (profiling) PP_CALL(step_totals(bench, seconds[1], calls[1]));

  /* Check: the state read back, recomputed on the host. */
  const size_t L = (size_t)mesh->node_count;
  double *u = calloc(L * 3 + 1, sizeof *u), *force = malloc(N * 3 * sizeof *force + 8),
         *energy = malloc(E * sizeof *energy + 8), *dilatation = malloc(E * sizeof *dilatation + 8);
  pp_err err = u && force && energy && dilatation
                 ? PP_OK
                 : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
  if (err == PP_OK) err = pp_mechanics_get_state(c->mechanics, u, NULL);
  if (err == PP_OK) err = pp_mechanics_get_internal_force(c->mechanics, force);
  if (err == PP_OK) err = pp_mechanics_get_element_state(c->mechanics, dilatation, energy);
  size_t nonfinite = 0, inverted = 0, checked_elements = 0, checked_nodes = 0;
  double energy_error = 0, energy_scale = 0, force_error = 0, force_scale = 0;
  for (size_t e = 0; err == PP_OK && e < E; ++e) {
    nonfinite += !isfinite(energy[e]) || !isfinite(dilatation[e]);
    inverted += !(dilatation[e] > 0);
  }
  for (size_t i = 0; err == PP_OK && i < 3 * N; ++i) {
    nonfinite += !isfinite(force[i]);
    force_scale = fmax(force_scale, fabs(force[i]));
  }
  for (size_t e = 0; err == PP_OK && e < E; e += E > CHECK_SAMPLE ? E / CHECK_SAMPLE : 1, ++checked_elements) {
    double ue[24], fe[24], we = 0;
    element_displacement(mesh, u, e, ue);
    pp_hex8_internal_force(&options->layer[mesh->element_layer[e]], mesh->element_corner_coords + 24 * e, ue, fe, &we);
    energy_error = fmax(energy_error, isfinite(energy[e]) ? fabs(energy[e] - we) : INFINITY);
    energy_scale = fmax(energy_scale, fabs(we));
  }
  for (size_t n = 0; err == PP_OK && n < N; n += N > CHECK_SAMPLE ? N / CHECK_SAMPLE : 1, ++checked_nodes) {
    double f[3] = {0, 0, 0};
    for (int r = mesh->node_element_offset[n]; r < mesh->node_element_offset[n + 1]; ++r) {
      const size_t e = (size_t)(mesh->node_element_entry[r] / 8), corner = (size_t)(mesh->node_element_entry[r] % 8);
      double ue[24], fe[24], we = 0;
      element_displacement(mesh, u, e, ue);
      pp_hex8_internal_force(&options->layer[mesh->element_layer[e]], mesh->element_corner_coords + 24 * e, ue, fe,
                             &we);
      for (int d = 0; d < 3; ++d) f[d] += fe[3 * corner + (size_t)d];
    }
    for (int d = 0; d < 3; ++d) force_error = fmax(force_error, fabs(force[3 * n + (size_t)d] - f[d]));
  }
  free(u);
  free(force);
  free(energy);
  free(dilatation);
  PP_CALL(err);
  const double fr = relative(force_error, force_scale), er = relative(energy_error, energy_scale);
  result.valid = nonfinite == 0 && inverted == 0 && fr <= tolerance && er <= tolerance;
  char rate[160];
  describe_rate(bench, &result, (double)E, rate, sizeof rate);
  snprintf(result.check, sizeof result.check,
           "%s; dt %.2e s; after %d steps: %zu non-finite, %zu inverted; vs host: energies %.1e (%zu elements), "
           "forces %.1e (%zu nodes) (limit %.0e)",
           rate, run.dt, bench->warmups + bench->repeats, nonfinite, inverted, er, checked_elements, fr, checked_nodes,
           tolerance);
  PP_CALL(pp_bench_record(bench, &result));
  if (profiling && bench->rank == 0) {
    const double steps = (double)(bench->warmups + bench->repeats), wall = result.median_s;
    double kernels = 0;
    printf("  %s per step (device times from OpenCL events, means over %.0f steps):\n", result.name, steps);
    for (int k = 0; k < STEP_LABELS; ++k) {
      const long n = calls[1][k] - calls[0][k];
      if (n == 0) continue;
      const double t = (seconds[1][k] - seconds[0][k]) / steps;
      kernels += t;
      printf("    %-30s %9.3f ms  %5.1f %%  (%.2f calls)\n", step_labels[k], 1e3 * t, 100 * t / wall,
             (double)n / steps);
    }
    printf("    %-30s %9.3f ms  %5.1f %%\n", "rest: host, transfers, gaps", 1e3 * (wall - kernels),
           100 * (wall - kernels) / wall);
    printf("    %-30s %9.3f ms  (minimum %.3f ms)\n", "wall per step, median", 1e3 * wall, 1e3 * result.min_s);
  }
  return PP_OK;
}

static pp_err mechanics_body(pp_bench *bench, mechanics_case *c, int law)
{
  PP_CHECK(bench->ranks == 1, PP_ERR_USAGE, "mechanics runs on one rank");
  const double h = 10e-6;
  long side = lround(cbrt((double)bench->size / 32.0));
  if (side < 5) side = 5;
  const long per_layer = side / 5;
  pp_mesh_spec spec = {
    .length_x = (double)side * h, .length_y = (double)side * h,
    .side_x = PP_SIDE_FREE, .side_y = PP_SIDE_FREE,
    .lateral_fine_size = h, .lateral_growth = 1, .lateral_max_size = h,
    .surface_size = h, .depth_growth = 1, .depth_max_size = h, .min_elements_per_layer = 1,
  };
  for (int l = 0; l < PP_LAYER_COUNT; ++l) spec.layer_thickness[l] = (double)per_layer * h;
  spec.layer_thickness[PP_LAYER_COUNT - 1] += (double)(side % 5) * h;
  spec.dej_amplitude = 0.5 * (double)per_layer * h; /* moves the junction by a quarter of a layer */
  spec.dej_wavelength = 0.5 * spec.length_x;
  PP_CALL(pp_mesh_generate(&spec, bench->rank, bench->ranks, &c->mesh));
  PP_CALL(pp_halo_create(&c->halo, &c->mesh, bench->clrt, bench->comm));
  PP_CALL(pp_reduce_create(&c->reduce, bench->clrt, bench->comm));
  PP_CALL(pp_reduce_set_expansion(c->reduce, bench->reduce_expansion));

  pp_mechanics_options options;
  pp_material base = {.model = PP_MATERIAL_NEO_HOOKEAN, .ogden_alpha = 2, .density = 1100};
  pp_mechanics_options_default(&options, &base);
  for (int l = 0; l < PP_LAYER_COUNT; ++l) {
    pp_material *m = &options.layer[l];
    m->model = law ? PP_MATERIAL_OGDEN : PP_MATERIAL_NEO_HOOKEAN;
    m->ogden_alpha = law ? 12 : 2;
    m->shear_modulus = layer_mu[l];
    m->bulk_modulus = layer_bulk_ratio[l] * layer_mu[l];
  }
  PP_CALL(pp_mechanics_create(&c->mechanics, &c->mesh, bench->clrt, c->halo, c->reduce, bench->comm, &options));

  const size_t L = (size_t)c->mesh.node_count;
  const double T = (double)side * h;
  PP_MALLOC(c->host[0], L * 3 + 1, "mechanics bench displacement");
  for (size_t n = 0; n < L; ++n)
    initial_displacement(c->mesh.node_coords + 3 * n, spec.length_x, T, c->host[0] + 3 * n);
  /* the displacement as the device holds it (float builds round it) */
  if (pp_clrt_real_size(bench->clrt) == 4)
    for (size_t i = 0; i < L * 3; ++i) c->host[0][i] = (double)(float)c->host[0][i];
  PP_CALL(pp_mechanics_set_state(c->mechanics, c->host[0], NULL));
  const double tolerance = pp_clrt_real_size(bench->clrt) == 8 ? 1e-9 : 2e-3;
  PP_CALL(time_kernel(bench, c, &options, law, c->host[0], tolerance));
  PP_CALL(time_steps(bench, c, &options, law, tolerance));
  return PP_OK;
}

pp_err pp_bench_case_mechanics(pp_bench *bench)
{
  for (int law = 0; law < 2; ++law) {
    mechanics_case c;
    memset(&c, 0, sizeof c);
    pp_err err = mechanics_body(bench, &c, law);
    release(&c);
    if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}
