/* mechanics: stage-1 hex8 element forces on the device, the same element as host/element.c
 * (mean dilatation: deviatoric energy at the 2x2x2 Gauss points, the volumetric energy once per
 * element on J_bar = v / V; see element.h for why) and the same laws as host/material.c
 * (decoupled neo-Hookean and one-term Ogden with mu the initial shear modulus). One work-item per
 * element writes its 8 corner forces; the nodes add their corners in a fixed order elsewhere, so
 * results do not depend on the partition.
 * Material table: MATERIAL_STRIDE REALs per material: model (0 neo-Hookean, 1 Ogden), mu, alpha,
 * kappa, density (host/mechanics fills it).
 * Build options (host/clrt): -DREAL=... -DREAL_IS_DOUBLE=... */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define MATERIAL_STRIDE 5

static int hex_corner_bit(int c, int axis)
{
  int face = c & 3;
  if (axis == 0) return face == 1 || face == 2;
  if (axis == 1) return face >= 2;
  return c >> 2;
}

static REAL det3(const REAL *A)
{
  return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
         A[2] * (A[3] * A[7] - A[4] * A[6]);
}

static void inverse_transpose3(const REAL *A, REAL *out)
{
  const REAL d = det3(A);
  out[0] = (A[4] * A[8] - A[5] * A[7]) / d;
  out[1] = (A[5] * A[6] - A[3] * A[8]) / d;
  out[2] = (A[3] * A[7] - A[4] * A[6]) / d;
  out[3] = (A[2] * A[7] - A[1] * A[8]) / d;
  out[4] = (A[0] * A[8] - A[2] * A[6]) / d;
  out[5] = (A[1] * A[6] - A[0] * A[7]) / d;
  out[6] = (A[1] * A[5] - A[2] * A[4]) / d;
  out[7] = (A[2] * A[3] - A[0] * A[5]) / d;
  out[8] = (A[0] * A[4] - A[1] * A[3]) / d;
}

/* dN/dX [8][3] at Gauss point q from the reference corners; returns det(dX/dxi). */
static REAL hex_gradients(const REAL *X, int q, REAL *dNdX)
{
  const REAL g = (REAL)0.57735026918962576451;
  REAL xi[3], dNdxi[24], J0[9], J0it[9];
  for (int k = 0; k < 9; ++k) J0[k] = 0;
  for (int d = 0; d < 3; ++d) xi[d] = hex_corner_bit(q, d) ? g : -g;
  for (int k = 0; k < 8; ++k) {
    REAL s[3], f[3];
    for (int d = 0; d < 3; ++d) {
      s[d] = hex_corner_bit(k, d) ? (REAL)1 : (REAL)-1;
      f[d] = 1 + s[d] * xi[d];
    }
    dNdxi[3 * k + 0] = (REAL)0.125 * s[0] * f[1] * f[2];
    dNdxi[3 * k + 1] = (REAL)0.125 * f[0] * s[1] * f[2];
    dNdxi[3 * k + 2] = (REAL)0.125 * f[0] * f[1] * s[2];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) J0[3 * i + j] += X[3 * k + i] * dNdxi[3 * k + j];
  }
  inverse_transpose3(J0, J0it);
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 3; ++i) {
      REAL sum = 0;
      for (int j = 0; j < 3; ++j) sum += J0it[3 * i + j] * dNdxi[3 * k + j];
      dNdX[3 * k + i] = sum;
    }
  return det3(J0);
}

/* Cyclic Jacobi eigen-decomposition of a symmetric 3x3 (as host/material.c). */
static void symmetric_eigen3(const REAL *A, REAL *values, REAL *V)
{
  REAL a[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      a[i][j] = (REAL)0.5 * (A[3 * i + j] + A[3 * j + i]);
      V[3 * i + j] = i == j ? (REAL)1 : (REAL)0;
    }
  for (int sweep = 0; sweep < 50; ++sweep) {
    REAL off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
    REAL scale = fabs(a[0][0]) + fabs(a[1][1]) + fabs(a[2][2]);
#if REAL_IS_DOUBLE
    if (off <= (REAL)1e-20 * scale) break;
#else
    if (off <= (REAL)1e-9 * scale) break;
#endif
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q) {
        if (a[p][q] == 0) continue;
        REAL theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        REAL t = (theta >= 0 ? (REAL)1 : (REAL)-1) / (fabs(theta) + sqrt(theta * theta + 1));
        REAL c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 3; ++k) {
          REAL akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {
          REAL apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; ++k) {
          REAL vkp = V[3 * k + p], vkq = V[3 * k + q];
          V[3 * k + p] = c * vkp - s * vkq;
          V[3 * k + q] = s * vkp + c * vkq;
        }
      }
  }
  for (int i = 0; i < 3; ++i) values[i] = a[i][i];
}

/* Deviatoric energy W_dev(C) and S_dev(C) (material.h). *stiffening: the largest lambda_bar^(alpha-2)
 * over the principal directions (Ogden's tangent shear modulus grows about so; 1 for neo-Hookean),
 * for the stable step. */
static REAL deviatoric(const REAL model, const REAL mu, const REAL alpha, const REAL *C, REAL *S, REAL *stiffening)
{
  const REAL J = sqrt(det3(C));
  if (model == 0) {
    REAL Cit[9];
    inverse_transpose3(C, Cit); /* C symmetric: C^-T = C^-1 */
    const REAL I1 = C[0] + C[4] + C[8], shear = mu * pow(J, (REAL)(-2.0 / 3.0));
    for (int k = 0; k < 9; ++k) S[k] = shear * ((k % 4 == 0 ? (REAL)1 : (REAL)0) - I1 / 3 * Cit[k]);
    *stiffening = 1;
    return (REAL)0.5 * mu * (pow(J, (REAL)(-2.0 / 3.0)) * I1 - 3);
  }
  REAL c[3], V[9], powers[3], mean = 0, energy = 0;
  symmetric_eigen3(C, c, V);
  const REAL scale = pow(J, (REAL)(-1.0 / 3.0));
  for (int i = 0; i < 3; ++i) {
    powers[i] = pow(scale * sqrt(c[i]), alpha);
    mean += powers[i] / 3;
    energy += powers[i] - 1;
  }
  REAL D[3], largest = 1;
  for (int i = 0; i < 3; ++i) {
    D[i] = 2 * mu / alpha * (powers[i] - mean) / c[i];
    /* lambda_bar_i^(alpha-2) = powers_i / (scale^2 c_i) */
    largest = fmax(largest, powers[i] / (scale * scale * c[i]));
  }
  *stiffening = largest;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      REAL sum = 0;
      for (int k = 0; k < 3; ++k) sum += V[3 * i + k] * D[k] * V[3 * j + k];
      S[3 * i + j] = sum;
    }
  return 2 * mu / (alpha * alpha) * energy;
}

/* Per element: corner forces f = dE/du [e*24], stored energy [e], mean dilatation [e] (0 when the
 * element is inverted; its forces are then 0) and its stable explicit step [e] in the current
 * configuration (host/element.c's pp_hex8_stable_step: the Flanagan-Belytschko uniform-strain
 * bound 2 / omega, omega^2 = 8 c^2 / v^2 sum_a b_a.b_a, with b_a = integral of dN_a/dx over the
 * element), its wave speed raised for large strain: c^2 = (kappa max(1, J_bar) + 4/3 mu s) / rho,
 * s the largest Ogden stiffening at a Gauss point (the tangent bulk modulus of U is kappa J, the
 * tangent shear modulus of a one-term Ogden law about mu lambda^(alpha-2)). An inverted element's
 * step is -1, so the exact global minimum of the steps also says whether any element inverted. density_scale [e]:
 * the element's mass scaling factor (1: none), which its lumped masses carry too.
 * X: reference corners [e*24]; u: nodal displacements [node*3]; element_nodes [e*8] local nodes. */
__kernel void hex8_forces(const ulong count, __global const REAL *restrict reference_corners,
                          __global const int *restrict element_nodes, __global const REAL *restrict displacement,
                          __global const int *restrict element_material, __global const REAL *restrict materials,
                          __global REAL *restrict corner_force, __global REAL *restrict element_energy,
                          __global REAL *restrict element_dilatation, __global REAL *restrict element_step,
                          __global const REAL *restrict density_scale)
{
  const size_t e = get_global_id(0);
  if (e >= count) return;
  REAL X[24], u[24], f[24], b[24];
  for (int k = 0; k < 24; ++k) {
    X[k] = reference_corners[e * 24 + k];
    f[k] = 0;
    b[k] = 0;
  }
  for (int c = 0; c < 8; ++c) {
    const size_t node = (size_t)element_nodes[e * 8 + c];
    for (int d = 0; d < 3; ++d) u[3 * c + d] = displacement[node * 3 + d];
  }
  const int m = element_material[e];
  const REAL model = materials[MATERIAL_STRIDE * m], mu = materials[MATERIAL_STRIDE * m + 1],
             alpha = materials[MATERIAL_STRIDE * m + 2], kappa = materials[MATERIAL_STRIDE * m + 3],
             density = materials[MATERIAL_STRIDE * m + 4];
  REAL w[8], detF[8], V = 0, v = 0;
  int inverted = 0;
  for (int q = 0; q < 8; ++q) {
    REAL dNdX[24], F[9];
    w[q] = hex_gradients(X, q, dNdX);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? (REAL)1 : (REAL)0;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[3 * k + j];
        F[3 * i + j] = sum;
      }
    detF[q] = det3(F);
    inverted |= !(detF[q] > 0);
    V += w[q];
    v += w[q] * detF[q];
  }
  if (inverted) {
    for (int k = 0; k < 24; ++k) corner_force[e * 24 + k] = 0;
    element_energy[e] = 0;
    element_dilatation[e] = 0;
    element_step[e] = -1;
    return;
  }
  const REAL J_bar = v / V, pressure = kappa * (J_bar - 1);
  REAL energy = V * (REAL)0.5 * kappa * (J_bar - 1) * (J_bar - 1), stiffening = 1;
  for (int q = 0; q < 8; ++q) {
    /* Recomputing the gradients keeps the private arrays small (a GPU's registers). */
    REAL dNdX[24], F[9], C[9], S[9], Fit[9], s;
    hex_gradients(X, q, dNdX);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? (REAL)1 : (REAL)0;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[3 * k + j];
        F[3 * i + j] = sum;
      }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[3 * k + i] * F[3 * k + j];
        C[3 * i + j] = sum;
      }
    energy += w[q] * deviatoric(model, mu, alpha, C, S, &s);
    stiffening = fmax(stiffening, s);
    inverse_transpose3(F, Fit);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[3 * i + k] * S[3 * k + j];
        const REAL P = sum + pressure * detF[q] * Fit[3 * i + j];
        for (int k = 0; k < 8; ++k) f[3 * k + i] += w[q] * P * dNdX[3 * k + j];
      }
    /* b_a += w det F F^-T dN_a/dX: the current-configuration gradient integrated */
    for (int k = 0; k < 8; ++k)
      for (int i = 0; i < 3; ++i) {
        REAL sum = 0;
        for (int j = 0; j < 3; ++j) sum += Fit[3 * i + j] * dNdX[3 * k + j];
        b[3 * k + i] += w[q] * detF[q] * sum;
      }
  }
  REAL bb = 0;
  for (int k = 0; k < 24; ++k) bb += b[k] * b[k];
  const REAL wave_speed2 =
    (kappa * fmax((REAL)1, J_bar) + (REAL)(4.0 / 3.0) * mu * stiffening) / (density * density_scale[e]);
  for (int k = 0; k < 24; ++k) corner_force[e * 24 + k] = f[k];
  element_energy[e] = energy;
  element_dilatation[e] = J_bar;
  element_step[e] = 2 * v / sqrt(8 * wave_speed2 * bb);
}

/* Node forces from corner forces: node n adds the corners of its elements in ascending global
 * element id (the mesh's node_element CSR, entry = element * 8 + corner), owned and ghost
 * elements alike, so a node's sum is the same bits on any partition. */
__kernel void gather_corner_forces(const ulong owned, __global const int *restrict offset,
                                   __global const int *restrict entry, __global const REAL *restrict corner_force,
                                   __global REAL *restrict node_force)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  REAL f0 = 0, f1 = 0, f2 = 0;
  for (int r = offset[n]; r < offset[n + 1]; ++r) {
    const size_t c = (size_t)entry[r] * 3;
    f0 += corner_force[c];
    f1 += corner_force[c + 1];
    f2 += corner_force[c + 2];
  }
  node_force[n * 3] = f0;
  node_force[n * 3 + 1] = f1;
  node_force[n * 3 + 2] = f2;
}

/* One central-difference step of the owned nodes, velocity (leapfrog) form, valid for a step that
 * changes: with dt_mean = (dt_previous + dt) / 2 (dt / 2 on the first step, from v^0),
 *   free DOF:       v^{n+1/2} = ((1 - c dt_mean/2) v^{n-1/2} + dt_mean (f_ext - f_int)/m) / (1 + c dt_mean/2)
 *   prescribed DOF: v^{n+1/2} = (u_prescribed(t^{n+1}) - u^n) / dt
 *   u^{n+1} = u^n + dt v^{n+1/2}  (a prescribed DOF takes its value exactly)
 * with c the mass-proportional damping rate and f_int including the elastic foundation's springs.
 * It also writes this node's share of the energy balance AT t^n (all of which needs v^{n+1/2}):
 *   terms[0] kinetic energy 1/2 m |v^n|^2, v^n = (v^{n-1/2} + v^{n+1/2}) / 2 (v^0 on the first step)
 *   terms[1] external work over [t^{n-1}, t^n]: 1/2 (F^{n-1} + F^n) . dt_previous v^{n-1/2}, with F
 *            the applied force (f_ext, and at prescribed DOFs the reaction that enforces them,
 *            m a^n + c m v^n + f_int - f_ext); F^n is kept in applied_force for the next step
 *   terms[2] damping dissipation over [t^{n-1}, t^n]: c m |v^{n-1/2}|^2 dt_previous (midpoint rule)
 *   terms[3] foundation energy 1/2 k |u^n|^2
 *   terms[4] squared out-of-balance force |f_ext - f_int|^2 over free DOFs (dynamic relaxation)
 *   terms[5] squared internal force |f_int|^2 over all DOFs (its scale)
 *   terms[6] du . (f_int^n - f_int^{n-1}) and terms[7] du . m du over free DOFs, du = u^n - u^{n-1},
 *            both times rayleigh_scale: their ratio is the Rayleigh quotient of M^-1 K along the
 *            last increment, which dynamic relaxation uses as its estimate of the lowest eigenvalue
 *            (the slowest mode is what is left once the others have been damped); previous_force
 *            keeps f_int^n for it. The scale (the host's 1 / (m du^2) of the last step) keeps both
 *            near 1: near convergence m du^2 falls below float's smallest number (1e-38)
 * All are summed by host/reduce (exact, so the same bits on any partition).
 * dof_kind: 0 free, 1 prescribed to load_factor * dof_target.
 * Float builds keep each displacement as an unevaluated sum hi + lo of two floats (displacement
 * holds hi, which the forces see; displacement_low holds lo): the increment dt v is added
 * exactly (TwoSum) and renormalised, so the accumulated displacement carries about 48 bits,
 * while a plain float sum would lose the increments of a slow load (a 1e-11 m step on 1e-4 m
 * is below float's 6e-8 resolution: PHYSICS.md 9.4). Double builds do not touch displacement_low. */
#define TERM_COUNT 8
__kernel void central_difference(const ulong owned, const REAL dt_previous, const REAL dt, const REAL damping,
                                 const REAL load_factor, const REAL rayleigh_scale, __global const REAL *restrict mass,
                                 __global const REAL *restrict spring, __global const uchar *restrict dof_kind,
                                 __global const REAL *restrict dof_target, __global const REAL *restrict internal_force,
                                 __global const REAL *restrict external_force, __global REAL *restrict displacement,
                                 __global REAL *restrict displacement_low, __global REAL *restrict velocity, __global REAL *restrict applied_force,
                                 __global REAL *restrict previous_force, __global REAL *restrict terms)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  const int first = dt_previous == 0;
  const REAL dt_mean = first ? dt / 2 : (dt_previous + dt) / 2, m = mass[n], k = spring[n];
  REAL t[TERM_COUNT];
  for (int i = 0; i < TERM_COUNT; ++i) t[i] = 0;
  for (int d = 0; d < 3; ++d) {
    const size_t dof = n * 3 + d;
    const REAL u = displacement[dof], v_old = velocity[dof];
    const REAL f_int = internal_force[dof] + k * u, f_ext = external_force[dof], f_net = f_ext - f_int;
    REAL v_new, F;
    if (dof_kind[dof]) {
      const REAL target = load_factor * dof_target[dof];
      v_new = (target - u) / dt;
      const REAL v_mid = first ? v_old : (v_old + v_new) / 2;
      F = m * (v_new - v_old) / dt_mean + damping * m * v_mid + f_int;
      displacement[dof] = target;
#if !REAL_IS_DOUBLE
      displacement_low[dof] = 0;
#endif
    } else {
      v_new = ((1 - damping * dt_mean / 2) * v_old + dt_mean * f_net / m) / (1 + damping * dt_mean / 2);
      F = f_ext;
#if REAL_IS_DOUBLE
      displacement[dof] = u + dt * v_new;
#else
      const REAL increment = dt * v_new, sum = u + increment, back = sum - increment;
      const REAL error = (u - back) + (increment - (sum - back)); /* TwoSum: u + increment = sum + error */
      const REAL low = displacement_low[dof] + error, high = sum + low;
      displacement[dof] = high;
      displacement_low[dof] = low - (high - sum); /* Fast2Sum: |sum| >= |low| */
#endif
      t[4] += f_net * f_net;
      const REAL du = dt_previous * v_old, scaled = rayleigh_scale * du;
      t[6] += scaled * (f_int - previous_force[dof]);
      t[7] += scaled * (m * du);
    }
    const REAL v_now = first ? v_old : (v_old + v_new) / 2;
    t[0] += m * v_now * v_now / 2;
    t[1] += (applied_force[dof] + F) / 2 * dt_previous * v_old;
    t[2] += damping * m * v_old * v_old * dt_previous;
    t[3] += k * u * u / 2;
    t[5] += f_int * f_int;
    velocity[dof] = v_new;
    applied_force[dof] = F;
    previous_force[dof] = f_int;
  }
  for (int i = 0; i < TERM_COUNT; ++i) terms[n * TERM_COUNT + i] = t[i];
}

/* Follower pressure on element faces: face f's 4 corners (counter-clockwise seen from outside the
 * body) at x = X + u carry f_a = -p integral N_a n da, with n da = x_s x x_t ds dt on the bilinear
 * face (2x2 Gauss: exact, the integrand is at most cubic in s and t). p > 0 pushes into the body
 * (a fluid in a cavity). Writes face_force [f*12]. */
__kernel void pressure_faces(const ulong count, const REAL pressure, __global const REAL *restrict face_reference,
                             __global const int *restrict face_nodes, __global const REAL *restrict displacement,
                             __global REAL *restrict face_force)
{
  const size_t f = get_global_id(0);
  if (f >= count) return;
  REAL x[12], out[12];
  for (int a = 0; a < 4; ++a) {
    const size_t node = (size_t)face_nodes[f * 4 + a];
    for (int d = 0; d < 3; ++d) {
      x[3 * a + d] = face_reference[f * 12 + 3 * a + d] + displacement[node * 3 + d];
      out[3 * a + d] = 0;
    }
  }
  const REAL g = (REAL)0.57735026918962576451;
  const REAL ss[4] = {-1, 1, 1, -1}, ts[4] = {-1, -1, 1, 1};
  for (int q = 0; q < 4; ++q) {
    const REAL s = ss[q] * g, t = ts[q] * g;
    REAL xs[3] = {0, 0, 0}, xt[3] = {0, 0, 0}, N[4];
    for (int a = 0; a < 4; ++a) {
      N[a] = (1 + ss[a] * s) * (1 + ts[a] * t) / 4;
      for (int d = 0; d < 3; ++d) {
        xs[d] += ss[a] * (1 + ts[a] * t) / 4 * x[3 * a + d];
        xt[d] += ts[a] * (1 + ss[a] * s) / 4 * x[3 * a + d];
      }
    }
    const REAL n[3] = {xs[1] * xt[2] - xs[2] * xt[1], xs[2] * xt[0] - xs[0] * xt[2], xs[0] * xt[1] - xs[1] * xt[0]};
    for (int a = 0; a < 4; ++a)
      for (int d = 0; d < 3; ++d) out[3 * a + d] -= pressure * N[a] * n[d];
  }
  for (int k = 0; k < 12; ++k) face_force[f * 12 + k] = out[k];
}

/* External node forces: the constant part plus the node's pressure-face corners in ascending
 * (global element id, face) (a CSR built on the host, entry = face * 4 + corner), so the same bits
 * on any partition. */
__kernel void gather_external(const ulong owned, __global const int *restrict offset, __global const int *restrict entry,
                              __global const REAL *restrict face_force, __global const REAL *restrict constant_force,
                              __global REAL *restrict external_force)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  REAL f0 = constant_force[n * 3], f1 = constant_force[n * 3 + 1], f2 = constant_force[n * 3 + 2];
  for (int r = offset[n]; r < offset[n + 1]; ++r) {
    const size_t c = (size_t)entry[r] * 3;
    f0 += face_force[c];
    f1 += face_force[c + 1];
    f2 += face_force[c + 2];
  }
  external_force[n * 3] = f0;
  external_force[n * 3 + 1] = f1;
  external_force[n * 3 + 2] = f2;
}

/* Output per element (13 REALs at [e*13]): the volume-averaged Cauchy stress (9, row-major)
 * sigma_bar = (1/v) sum_q w_q det F_q sigma_q with sigma_q = F_q S_dev F_q^T / det F_q + p I
 * (p = kappa (J_bar - 1), the element's one pressure), its von Mises stress sqrt(3/2 s:s), and
 * the principal stretches of the volume-averaged F_bar = (1/V) sum_q w_q F_q, largest first.
 * An inverted element gives zeros. */
__kernel void element_output(const ulong count, __global const REAL *restrict reference_corners,
                             __global const int *restrict element_nodes, __global const REAL *restrict displacement,
                             __global const int *restrict element_material, __global const REAL *restrict materials,
                             __global REAL *restrict output)
{
  const size_t e = get_global_id(0);
  if (e >= count) return;
  REAL X[24], u[24], sigma[9], Fbar[9];
  for (int k = 0; k < 24; ++k) X[k] = reference_corners[e * 24 + k];
  for (int c = 0; c < 8; ++c) {
    const size_t node = (size_t)element_nodes[e * 8 + c];
    for (int d = 0; d < 3; ++d) u[3 * c + d] = displacement[node * 3 + d];
  }
  for (int k = 0; k < 9; ++k) sigma[k] = Fbar[k] = 0;
  const int m = element_material[e];
  const REAL model = materials[MATERIAL_STRIDE * m], mu = materials[MATERIAL_STRIDE * m + 1],
             alpha = materials[MATERIAL_STRIDE * m + 2], kappa = materials[MATERIAL_STRIDE * m + 3];
  REAL V = 0, v = 0;
  int inverted = 0;
  for (int q = 0; q < 8; ++q) {
    REAL dNdX[24], F[9];
    const REAL w = hex_gradients(X, q, dNdX);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? (REAL)1 : (REAL)0;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[3 * k + j];
        F[3 * i + j] = sum;
      }
    const REAL detF = det3(F);
    inverted |= !(detF > 0);
    V += w;
    v += w * detF;
    for (int k = 0; k < 9; ++k) Fbar[k] += w * F[k];
  }
  if (inverted) {
    for (int k = 0; k < 13; ++k) output[e * 13 + k] = 0;
    return;
  }
  const REAL pressure = kappa * (v / V - 1);
  for (int q = 0; q < 8; ++q) {
    REAL dNdX[24], F[9], C[9], S[9], FS[9], s;
    const REAL w = hex_gradients(X, q, dNdX);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? (REAL)1 : (REAL)0;
        for (int k = 0; k < 8; ++k) sum += u[3 * k + i] * dNdX[3 * k + j];
        F[3 * i + j] = sum;
      }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[3 * k + i] * F[3 * k + j];
        C[3 * i + j] = sum;
      }
    deviatoric(model, mu, alpha, C, S, &s);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = 0;
        for (int k = 0; k < 3; ++k) sum += F[3 * i + k] * S[3 * k + j];
        FS[3 * i + j] = sum;
      }
    /* w det F sigma_q = w (F S F^T + det F p I) */
    const REAL detF = det3(F);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        REAL sum = i == j ? detF * pressure : (REAL)0;
        for (int k = 0; k < 3; ++k) sum += FS[3 * i + k] * F[3 * j + k];
        sigma[3 * i + j] += w * sum;
      }
  }
  REAL mean = 0, s2 = 0, Cbar[9], stretch2[3], vectors[9];
  for (int k = 0; k < 9; ++k) {
    sigma[k] /= v;
    Fbar[k] /= V;
  }
  for (int i = 0; i < 3; ++i) mean += sigma[4 * i] / 3;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const REAL dev = sigma[3 * i + j] - (i == j ? mean : (REAL)0);
      s2 += dev * dev;
      REAL sum = 0;
      for (int k = 0; k < 3; ++k) sum += Fbar[3 * k + i] * Fbar[3 * k + j];
      Cbar[3 * i + j] = sum;
    }
  symmetric_eigen3(Cbar, stretch2, vectors);
  REAL l0 = sqrt(stretch2[0]), l1 = sqrt(stretch2[1]), l2 = sqrt(stretch2[2]), t;
  if (l0 < l1) { t = l0; l0 = l1; l1 = t; }
  if (l1 < l2) { t = l1; l1 = l2; l2 = t; }
  if (l0 < l1) { t = l0; l0 = l1; l1 = t; }
  for (int k = 0; k < 9; ++k) output[e * 13 + k] = sigma[k];
  output[e * 13 + 9] = sqrt((REAL)1.5 * s2);
  output[e * 13 + 10] = l0;
  output[e * 13 + 11] = l1;
  output[e * 13 + 12] = l2;
}
