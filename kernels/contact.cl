/* contact: rigid needles against the skin's nodes — penalty normal contact with Coulomb friction.
 * Built behind kernels/needle_shape.cl (host/contact.c puts that text in front), whose
 * needle_signed_distance() is the host's word for word.
 *
 * Why penalty: the needles are rigid analytic surfaces moving on a prescribed path, so a node's
 * gap and normal are exact and local; a penalty force is one more nodal force in the explicit
 * update (no coupling between nodes, no iteration), and with the stiffness tied to the node's mass
 * and the step (host/contact.h) it leaves the stable step nearly unchanged. The price is a small
 * penetration, reported every sample (max_penetration) so that a user sees it.
 *
 * Per owned node n and each needle in ascending order (so the same bits on any partition):
 *   g = signed distance of x = X + u from the needle (negative inside), n its outward normal;
 *   normal force f_n = k_n (-g) n when g < 0;
 *   friction, Coulomb by the stick/slip test of the explicit step (Karnopp's idea): with every
 *   other force on the node (internal, external, the normal contact force), the node's tangential
 *   velocity relative to the needle after the step would be v_t* = tangential part of
 *   v + dt (f_other + f_n) / m - V_needle; the force that makes it zero, -m v_t* / dt, is applied
 *   when it is at most mu |f_n| (the node sticks to the needle), else f_t = -mu |f_n| v_t* / |v_t*|
 *   (it slides). A cap on the current slip velocity alone would let a node that should stick creep,
 *   and would make the friction of a slow needle viscous.
 * Writes the node's total contact force, its terms per needle (CONTACT_TERMS, below; needle i's
 * block starts at i * needle_stride, node-major inside), three energy terms for the balance and
 * its deepest penetration. */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* per (node, needle): the force ON THE NEEDLE (-f): its axial component along the needle's axis
 * (from tip to base: positive resists insertion) from the normal and the friction parts; its x, y,
 * z components; 1 when in contact; the penetration -g; the penalty energy k g^2 / 2 */
#define CONTACT_TERMS 8
#define CONTACT_MOTION 4 /* per needle: velocity (3), friction coefficient */

__kernel void needle_contact(const ulong owned, const int needle_count, const REAL dt,
                             __global const REAL *restrict needles, __global const REAL *restrict motion,
                             __global const REAL *restrict reference, __global const REAL *restrict displacement,
                             __global const REAL *restrict velocity, __global const REAL *restrict mass,
                             __global const REAL *restrict internal_force, __global const REAL *restrict other_force,
                             __global const REAL *restrict stiffness, __global REAL *restrict contact_force,
                             __global REAL *restrict needle_terms, const ulong needle_stride,
                             __global REAL *restrict rate_terms, __global REAL *restrict penetration)
{
  const size_t node = get_global_id(0);
  if (node >= owned) return;
  REAL x[3], v[3], total[3] = {0, 0, 0}, f_other[3];
  for (int d = 0; d < 3; ++d) {
    x[d] = reference[node * 3 + d] + displacement[node * 3 + d];
    v[d] = velocity[node * 3 + d];
    f_other[d] = other_force[node * 3 + d] - internal_force[node * 3 + d];
  }
  const REAL m = mass[node], k = stiffness[node];
  REAL penalty_energy = 0, friction_power = 0, needle_power = 0, deepest = 0;
  for (int i = 0; i < needle_count; ++i) {
    REAL p[NEEDLE_SHAPE_PARAMS], n[3], terms[CONTACT_TERMS];
    for (int j = 0; j < NEEDLE_SHAPE_PARAMS; ++j) p[j] = needles[i * NEEDLE_SHAPE_PARAMS + j];
    for (int j = 0; j < CONTACT_TERMS; ++j) terms[j] = 0;
    const REAL g = needle_signed_distance(p, x, n);
    if (g < 0) {
      REAL fn[3], ft[3] = {0, 0, 0}, trial[3], normal_speed = 0, now[3], now_normal = 0;
      const REAL normal = k * -g, friction_coefficient = motion[i * CONTACT_MOTION + 3];
      for (int d = 0; d < 3; ++d) {
        fn[d] = normal * n[d];
        /* the relative velocity after the step without friction from this needle */
        trial[d] = v[d] + dt * (f_other[d] + total[d] + fn[d]) / m - motion[i * CONTACT_MOTION + d];
        normal_speed += trial[d] * n[d];
        now[d] = v[d] - motion[i * CONTACT_MOTION + d];
        now_normal += now[d] * n[d];
      }
      REAL tangential[3], slip2 = 0, slip_now2 = 0;
      for (int d = 0; d < 3; ++d) {
        tangential[d] = trial[d] - normal_speed * n[d];
        slip2 += tangential[d] * tangential[d];
        const REAL t_now = now[d] - now_normal * n[d];
        slip_now2 += t_now * t_now;
      }
      const REAL slip = sqrt(slip2);
      if (slip > 0 && friction_coefficient > 0) {
        const REAL magnitude = fmin(friction_coefficient * normal, m * slip / dt);
        for (int d = 0; d < 3; ++d) ft[d] = -magnitude * tangential[d] / slip;
        /* heat: the friction force against the sliding it opposes, at the current slip speed */
        friction_power += magnitude * sqrt(slip_now2);
      }
      REAL axial_normal = 0, axial_friction = 0;
      for (int d = 0; d < 3; ++d) {
        axial_normal -= fn[d] * p[3 + d];
        axial_friction -= ft[d] * p[3 + d];
        total[d] += fn[d] + ft[d];
        /* the needle pushes the skin with f: its power f . v_needle */
        needle_power += (fn[d] + ft[d]) * motion[i * CONTACT_MOTION + d];
      }
      terms[0] = axial_normal;
      terms[1] = axial_friction;
      for (int d = 0; d < 3; ++d) terms[2 + d] = -(fn[d] + ft[d]);
      terms[5] = 1;
      terms[6] = -g;
      terms[7] = k * g * g / 2;
      penalty_energy += terms[7];
      deepest = fmax(deepest, -g);
    }
    for (int j = 0; j < CONTACT_TERMS; ++j) needle_terms[i * needle_stride + node * CONTACT_TERMS + j] = terms[j];
  }
  for (int d = 0; d < 3; ++d) contact_force[node * 3 + d] = total[d];
  rate_terms[node * 3] = penalty_energy;
  rate_terms[node * 3 + 1] = friction_power;
  rate_terms[node * 3 + 2] = needle_power;
  penetration[node] = deepest;
}
