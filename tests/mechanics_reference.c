/* mechanics_reference: the serial host model of the explicit dynamics (see mechanics_reference.h). */
#include "mechanics_reference.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "element.h"

pp_err pp_reference_model_create(const pp_mesh *mesh, const pp_material materials[PP_LAYER_COUNT],
                                 pp_reference_model *model)
{
  memset(model, 0, sizeof *model);
  /* Every node's element sum must be complete here: a one-rank mesh owns them all. */
  PP_CHECK(mesh->owned_node_count == mesh->node_count && mesh->owned_element_count == mesh->element_count,
           PP_ERR_ARGUMENT, "the reference model needs the whole mesh on one process (generated for one rank); "
           "this one owns %d of %d nodes", mesh->owned_node_count, mesh->node_count);
  model->mesh = mesh;
  memcpy(model->materials, materials, sizeof model->materials);
  model->node_count = mesh->node_count;
  model->dof_count = 3 * mesh->node_count;
  pp_err result = PP_OK;
  model->nodal_mass = calloc((size_t)model->node_count, sizeof *model->nodal_mass);
  model->fixed = calloc((size_t)model->dof_count, sizeof *model->fixed);
  model->element_force = calloc(24 * (size_t)mesh->element_count, sizeof *model->element_force);
  model->scratch = calloc(4 * (size_t)model->dof_count, sizeof *model->scratch);
  if (!model->nodal_mass || !model->fixed || !model->element_force || !model->scratch) {
    pp_reference_model_free(model);
    PP_RAISE(PP_ERR_MEMORY, "out of memory for the reference model of %d nodes", mesh->node_count);
  }
  for (int node = 0; node < model->node_count && result == PP_OK; ++node) {
    double mass = 0;
    for (int at = mesh->node_element_offset[node]; at < mesh->node_element_offset[node + 1]; ++at) {
      int element = mesh->node_element_entry[at] / 8, corner = mesh->node_element_entry[at] % 8;
      mass += materials[mesh->element_layer[element]].density *
              pp_hex8_corner_volume(mesh->element_corner_coords + 24 * (size_t)element, corner);
    }
    model->nodal_mass[node] = mass;
    if (!(mass > 0))
      result = pp_error_raise(PP_ERR_ARGUMENT, __FILE__, __LINE__, __func__,
                              "node %lld has lumped mass %g kg (no elements, or a zero density)",
                              mesh->node_global_id[node], mass);
  }
  /* The twelve edges of the VTK hex: the finite-difference step is a fraction of the shortest. */
  static const int edges[12][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6},
                                   {6, 7}, {7, 4}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
  model->min_edge_length = INFINITY;
  for (int element = 0; element < mesh->element_count; ++element) {
    const double *X = mesh->element_corner_coords + 24 * (size_t)element;
    for (int edge = 0; edge < 12; ++edge) {
      double squared = 0;
      for (int d = 0; d < 3; ++d) {
        double difference = X[3 * edges[edge][1] + d] - X[3 * edges[edge][0] + d];
        squared += difference * difference;
      }
      model->min_edge_length = fmin(model->min_edge_length, sqrt(squared));
    }
  }
  if (result != PP_OK) pp_reference_model_free(model);
  return result;
}

void pp_reference_model_free(pp_reference_model *model)
{
  free(model->nodal_mass);
  free(model->fixed);
  free(model->element_force);
  free(model->scratch);
  memset(model, 0, sizeof *model);
}

void pp_reference_fix(pp_reference_model *model, unsigned node_flags, unsigned direction_bits)
{
  for (int node = 0; node < model->node_count; ++node) {
    if (node_flags != 0xffu && !(model->mesh->node_boundary[node] & node_flags)) continue;
    for (int d = 0; d < 3; ++d)
      if (direction_bits & (1u << d)) model->fixed[3 * node + d] = 1;
  }
}

int pp_reference_free_dof_count(const pp_reference_model *model)
{
  int free_count = 0;
  for (int dof = 0; dof < model->dof_count; ++dof) free_count += !model->fixed[dof];
  return free_count;
}

pp_err pp_reference_internal_force(pp_reference_model *model, const double *u, double *force, double *energy)
{
  const pp_mesh *mesh = model->mesh;
  double total_energy = 0;
  for (int element = 0; element < mesh->element_count; ++element) {
    double u_element[24], element_energy = 0;
    for (int corner = 0; corner < 8; ++corner) {
      int node = mesh->element_nodes[8 * element + corner];
      for (int d = 0; d < 3; ++d) u_element[3 * corner + d] = u[3 * node + d];
    }
    double J_bar = pp_hex8_internal_force(&model->materials[mesh->element_layer[element]],
                                          mesh->element_corner_coords + 24 * (size_t)element, u_element,
                                          model->element_force + 24 * (size_t)element, &element_energy);
    PP_CHECK(J_bar > 0, PP_ERR_ARGUMENT, "element %lld (layer %d) is inverted at the given displacements",
             mesh->element_global_id[element], mesh->element_layer[element]);
    total_energy += element_energy;
  }
  /* The node gather in the CSR order the device uses (ascending global element id). */
  for (int node = 0; node < model->node_count; ++node) {
    double sum[3] = {0, 0, 0};
    for (int at = mesh->node_element_offset[node]; at < mesh->node_element_offset[node + 1]; ++at) {
      const double *corner_force = model->element_force + 3 * (size_t)mesh->node_element_entry[at];
      for (int d = 0; d < 3; ++d) sum[d] += corner_force[d];
    }
    for (int d = 0; d < 3; ++d) force[3 * node + d] = sum[d];
  }
  if (energy) *energy = total_energy;
  return PP_OK;
}

pp_err pp_reference_tangent_product(pp_reference_model *model, const double *u0, const double *v,
                                    double perturbation_scale, double *Kv)
{
  const int n = model->dof_count;
  double *u_plus = model->scratch, *u_minus = model->scratch + n, *f_plus = model->scratch + 2 * (size_t)n,
         *f_minus = model->scratch + 3 * (size_t)n;
  double largest = 0;
  for (int dof = 0; dof < n; ++dof)
    if (!model->fixed[dof]) largest = fmax(largest, fabs(v[dof]));
  if (largest == 0) {
    memset(Kv, 0, (size_t)n * sizeof *Kv);
    return PP_OK;
  }
  /* The step moves no node by more than perturbation_scale x the shortest edge: a strain of
   * about that size, small enough for O(eps^2) truncation, large enough for round-off. */
  const double eps = perturbation_scale * model->min_edge_length / largest;
  for (int dof = 0; dof < n; ++dof) {
    double base = u0 ? u0[dof] : 0, step = model->fixed[dof] ? 0 : eps * v[dof];
    u_plus[dof] = base + step;
    u_minus[dof] = base - step;
  }
  PP_CALL(pp_reference_internal_force(model, u_plus, f_plus, NULL));
  PP_CALL(pp_reference_internal_force(model, u_minus, f_minus, NULL));
  for (int dof = 0; dof < n; ++dof) Kv[dof] = model->fixed[dof] ? 0 : (f_plus[dof] - f_minus[dof]) / (2 * eps);
  return PP_OK;
}

pp_reference_step_options pp_reference_step_defaults(void)
{
  pp_reference_step_options options = {PP_REFERENCE_POWER, 1e-10, 20000, 1e-6};
  return options;
}

/* Successive iterations whose change must all stay below the tolerance: the finite-difference
 * products carry round-off noise of about 1e-16 / perturbation_scale relative, and one change
 * that happens to be small would stop a power iteration that is still rising (seen: a stop at
 * 4e-9 error after one change of 6e-13 among changes of 4e-10). */
enum { SETTLED_ITERATIONS = 5 };

/* ---- the eigenvalue problem on the symmetric form A = M^-1/2 K M^-1/2 ------------------------- */

typedef struct {
  pp_reference_model *model;
  const double *u0;
  double perturbation_scale;
  double *inverse_root_mass; /* [dof_count] 1 / sqrt(m_node) on free DOFs, 0 on fixed ones */
  double *v, *Kv;            /* [dof_count] scratch */
  int products;
} symmetric_operator;

/* w = A y; fixed entries of w are 0. A symmetric form so that Rayleigh quotients of A bound the
 * eigenvalues of M^-1 K (the same spectrum) from below and the Lanczos recurrence applies. */
static pp_err apply_operator(symmetric_operator *op, const double *y, double *w)
{
  const int n = op->model->dof_count;
  for (int dof = 0; dof < n; ++dof) op->v[dof] = op->inverse_root_mass[dof] * y[dof];
  PP_CALL(pp_reference_tangent_product(op->model, op->u0, op->v, op->perturbation_scale, op->Kv));
  for (int dof = 0; dof < n; ++dof) w[dof] = op->inverse_root_mass[dof] * op->Kv[dof];
  ++op->products;
  return PP_OK;
}

static double dot(const double *a, const double *b, int n)
{
  double sum = 0;
  for (int k = 0; k < n; ++k) sum += a[k] * b[k];
  return sum;
}

static void scale(double *a, double factor, int n)
{
  for (int k = 0; k < n; ++k) a[k] *= factor;
}

/* A fixed, well-spread start value in [-1, 1) per (global node id, direction): splitmix64. A
 * smooth or sign-alternating start could be orthogonal to a symmetric highest mode; a hash has
 * a component along every mode in practice. */
static double start_value(long long global_node, int direction)
{
  uint64_t z = (uint64_t)(3 * global_node + direction) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) / 4503599627370496.0 - 1.0; /* 53 bits / 2^52 - 1 */
}

/* Eigenvalues of the symmetric tridiagonal (diagonal a[m], off-diagonal b[m-1]) below x
 * (Sturm sequence of the LDL^T pivots). */
static int eigenvalues_below(const double *a, const double *b, int m, double x)
{
  int count = 0;
  double pivot = 1;
  for (int i = 0; i < m; ++i) {
    pivot = a[i] - x - (i > 0 ? b[i - 1] * b[i - 1] / pivot : 0);
    if (pivot == 0) pivot = -DBL_MIN; /* x on an eigenvalue of a leading block: count it below */
    count += pivot < 0;
  }
  return count;
}

/* Largest eigenvalue of the tridiagonal by bisection inside its Gershgorin interval. */
static double largest_tridiagonal_eigenvalue(const double *a, const double *b, int m)
{
  double low = INFINITY, high = -INFINITY;
  for (int i = 0; i < m; ++i) {
    double radius = (i > 0 ? fabs(b[i - 1]) : 0) + (i + 1 < m ? fabs(b[i]) : 0);
    low = fmin(low, a[i] - radius);
    high = fmax(high, a[i] + radius);
  }
  for (int step = 0; step < 200 && high - low > 4 * DBL_EPSILON * fmax(fabs(low), fabs(high)); ++step) {
    double middle = 0.5 * (low + high);
    if (eigenvalues_below(a, b, m, middle) == m) high = middle;
    else low = middle;
  }
  return 0.5 * (low + high);
}

/* Solve (T - shift I) x = rhs in place by Gaussian elimination with partial pivoting (LAPACK's
 * dgtsv); a zero pivot (shift on an eigenvalue) becomes a tiny one, as inverse iteration wants. */
static void tridiagonal_shifted_solve(const double *a, const double *b, int m, double shift, double *rhs,
                                      double *work)
{
  double *d = work, *upper = work + m, *second = work + 2 * m; /* diagonal, 1st and 2nd superdiagonal */
  double norm = 0;
  for (int i = 0; i < m; ++i) {
    d[i] = a[i] - shift;
    upper[i] = i + 1 < m ? b[i] : 0;
    second[i] = 0;
    norm = fmax(norm, fabs(a[i]) + (i + 1 < m ? fabs(b[i]) : 0) + (i > 0 ? fabs(b[i - 1]) : 0));
  }
  const double tiny = DBL_EPSILON * (norm > 0 ? norm : 1);
  for (int i = 0; i + 1 < m; ++i) {
    double below = b[i]; /* T[i+1][i] */
    if (fabs(d[i]) >= fabs(below)) {
      if (d[i] == 0) d[i] = tiny;
      double factor = below / d[i];
      d[i + 1] -= factor * upper[i];
      rhs[i + 1] -= factor * rhs[i];
    } else {
      /* Interchange rows i and i+1. */
      double factor = d[i] / below, kept = d[i + 1];
      d[i] = below;
      d[i + 1] = upper[i] - factor * kept;
      if (i + 2 < m) {
        second[i] = upper[i + 1];
        upper[i + 1] = -factor * second[i];
      }
      upper[i] = kept;
      double swapped = rhs[i];
      rhs[i] = rhs[i + 1];
      rhs[i + 1] = swapped - factor * rhs[i + 1];
    }
  }
  if (d[m - 1] == 0) d[m - 1] = tiny;
  for (int i = m - 1; i >= 0; --i) {
    double sum = rhs[i];
    if (i + 1 < m) sum -= upper[i] * rhs[i + 1];
    if (i + 2 < m) sum -= second[i] * rhs[i + 2];
    rhs[i] = sum / d[i];
  }
}

/* Unit eigenvector s[m] of the tridiagonal for its eigenvalue theta: two steps of inverse
 * iteration (theta is accurate to round-off, so one step already gives the vector). */
static void tridiagonal_eigenvector(const double *a, const double *b, int m, double theta, double *s, double *work)
{
  for (int i = 0; i < m; ++i) s[i] = 1;
  for (int step = 0; step < 2; ++step) {
    tridiagonal_shifted_solve(a, b, m, theta, s, work);
    scale(s, 1 / sqrt(dot(s, s, m)), m);
  }
}

/* Power iteration: y <- A y / |A y|; the Rayleigh quotient y.Ay rises monotonically to lambda_max
 * (A symmetric positive semi-definite), its error O((lambda_2 / lambda_1)^(2k)). On return y is
 * the last unit iterate and Ay its image. */
static pp_err power_iteration(symmetric_operator *op, const pp_reference_step_options *options, double *y,
                              double *Ay, double *lambda, pp_reference_step_result *result)
{
  const int n = op->model->dof_count;
  double previous = 0;
  int settled = 0;
  for (int iteration = 1; iteration <= options->max_iterations; ++iteration) {
    PP_CALL(apply_operator(op, y, Ay));
    *lambda = dot(y, Ay, n);
    result->iterations = iteration;
    if (iteration > 1) {
      result->last_relative_change = fabs(*lambda - previous) / fabs(*lambda);
      settled = result->last_relative_change < options->relative_tolerance ? settled + 1 : 0;
      if (settled == SETTLED_ITERATIONS) {
        result->converged = 1;
        break;
      }
    }
    previous = *lambda;
    if (iteration == options->max_iterations) break;
    double norm = sqrt(dot(Ay, Ay, n));
    PP_CHECK(norm > 0, PP_ERR_SOLVER, "power iteration: A y = 0 (no stiffness on the free DOFs?)");
    for (int dof = 0; dof < n; ++dof) y[dof] = Ay[dof] / norm;
  }
  return PP_OK;
}

/* Lanczos with full reorthogonalisation (twice, classical Gram-Schmidt: the finite-difference
 * products are not exactly symmetric, and a lost orthogonality would give ghost copies of
 * lambda_max, never a larger value). The largest Ritz value of the tridiagonal T_k rises
 * monotonically to lambda_max (interlacing), with an error that falls like a Chebyshev polynomial
 * of degree k (Kaniel-Paige): many times faster than power iteration when lambda_2 / lambda_1 is
 * close to 1. On return y is the unit Ritz vector and Ay its image (one more product). */
static pp_err lanczos(symmetric_operator *op, const pp_reference_step_options *options, double *y, double *Ay,
                      double *lambda, pp_reference_step_result *result)
{
  const int n = op->model->dof_count, basis_max = options->max_iterations;
  double *basis = malloc((size_t)basis_max * (size_t)n * sizeof *basis);
  double *alpha = malloc((size_t)basis_max * sizeof *alpha), *beta = malloc((size_t)basis_max * sizeof *beta);
  double *ritz = malloc((size_t)basis_max * sizeof *ritz), *work = malloc(3 * (size_t)basis_max * sizeof *work);
  if (!basis || !alpha || !beta || !ritz || !work) {
    free(basis); free(alpha); free(beta); free(ritz); free(work);
    PP_RAISE(PP_ERR_MEMORY, "out of memory for a Lanczos basis of %d vectors of %d entries", basis_max, n);
  }
  pp_err status = PP_OK;
  memcpy(basis, y, (size_t)n * sizeof *basis);
  double previous = 0;
  int size = 0, settled = 0;
  for (int j = 0; j < basis_max; ++j) {
    double *q = basis + (size_t)j * n;
    status = apply_operator(op, q, Ay);
    if (status != PP_OK) break;
    size = j + 1;
    alpha[j] = dot(q, Ay, n);
    for (int pass = 0; pass < 2; ++pass)
      for (int i = 0; i <= j; ++i) {
        const double *qi = basis + (size_t)i * n;
        double projection = dot(qi, Ay, n);
        for (int dof = 0; dof < n; ++dof) Ay[dof] -= projection * qi[dof];
      }
    beta[j] = sqrt(dot(Ay, Ay, n));
    *lambda = largest_tridiagonal_eigenvalue(alpha, beta, size);
    result->iterations = size;
    if (j > 0) {
      result->last_relative_change = fabs(*lambda - previous) / fabs(*lambda);
      settled = result->last_relative_change < options->relative_tolerance ? settled + 1 : 0;
      if (settled == SETTLED_ITERATIONS) {
        result->converged = 1;
        break;
      }
    }
    previous = *lambda;
    /* An invariant subspace: T's eigenvalues are eigenvalues of A, exactly. */
    if (beta[j] <= 1e-14 * fabs(*lambda)) {
      result->converged = 1;
      result->last_relative_change = 0;
      break;
    }
    if (j + 1 < basis_max)
      for (int dof = 0; dof < n; ++dof) basis[(size_t)(j + 1) * n + dof] = Ay[dof] / beta[j];
  }
  if (status == PP_OK) {
    /* The Ritz vector y = Q s and its image, for the residual and the mode shape. */
    tridiagonal_eigenvector(alpha, beta, size, *lambda, ritz, work);
    memset(y, 0, (size_t)n * sizeof *y);
    for (int i = 0; i < size; ++i)
      for (int dof = 0; dof < n; ++dof) y[dof] += ritz[i] * basis[(size_t)i * n + dof];
    scale(y, 1 / sqrt(dot(y, y, n)), n);
    status = apply_operator(op, y, Ay);
  }
  free(basis); free(alpha); free(beta); free(ritz); free(work);
  return status == PP_OK ? PP_OK : pp_error_trace(status, __FILE__, __LINE__, __func__);
}

pp_err pp_reference_critical_step(pp_reference_model *model, const double *u0, const pp_reference_step_options *options,
                                  pp_reference_step_result *result, double *mode)
{
  const pp_reference_step_options defaults = pp_reference_step_defaults();
  if (!options) options = &defaults;
  memset(result, 0, sizeof *result);
  PP_CHECK(options->max_iterations >= 2 && options->relative_tolerance > 0 && options->perturbation_scale > 0,
           PP_ERR_ARGUMENT, "critical step: max_iterations %d (>= 2), tolerance %g and perturbation scale %g (> 0)",
           options->max_iterations, options->relative_tolerance, options->perturbation_scale);
  const int n = model->dof_count;
  PP_CHECK(pp_reference_free_dof_count(model) > 0, PP_ERR_ARGUMENT, "critical step: every DOF is fixed");
  double *buffers = calloc(5 * (size_t)n, sizeof *buffers);
  PP_CHECK(buffers, PP_ERR_MEMORY, "out of memory for the critical-step vectors (%d DOFs)", n);
  symmetric_operator op = {model, u0, options->perturbation_scale, buffers, buffers + n, buffers + 2 * (size_t)n, 0};
  double *y = buffers + 3 * (size_t)n, *Ay = buffers + 4 * (size_t)n;
  for (int node = 0; node < model->node_count; ++node)
    for (int d = 0; d < 3; ++d) {
      int dof = 3 * node + d;
      op.inverse_root_mass[dof] = model->fixed[dof] ? 0 : 1 / sqrt(model->nodal_mass[node]);
      y[dof] = model->fixed[dof] ? 0 : start_value(model->mesh->node_global_id[node], d);
    }
  scale(y, 1 / sqrt(dot(y, y, n)), n);
  double lambda = 0;
  pp_err status = options->method == PP_REFERENCE_LANCZOS ? lanczos(&op, options, y, Ay, &lambda, result)
                                                          : power_iteration(&op, options, y, Ay, &lambda, result);
  if (status == PP_OK && !(lambda > 0))
    status = pp_error_raise(PP_ERR_SOLVER, __FILE__, __LINE__, __func__,
                            "critical step: largest eigenvalue estimate %g of M^-1 K is not positive", lambda);
  if (status == PP_OK) {
    double residual = 0;
    for (int dof = 0; dof < n; ++dof) residual += (Ay[dof] - lambda * y[dof]) * (Ay[dof] - lambda * y[dof]);
    result->relative_residual = sqrt(residual) / lambda;
    result->omega_max = sqrt(lambda);
    result->critical_step = 2 / result->omega_max;
    if (mode) {
      double largest = 0;
      for (int dof = 0; dof < n; ++dof) {
        mode[dof] = op.inverse_root_mass[dof] * y[dof];
        largest = fmax(largest, fabs(mode[dof]));
      }
      scale(mode, 1 / largest, n);
    }
  }
  free(buffers);
  return status == PP_OK ? PP_OK : pp_error_trace(status, __FILE__, __LINE__, __func__);
}
