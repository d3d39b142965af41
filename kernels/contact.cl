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
 *   friction, Coulomb with the stick limit of one explicit step: the tangential relative velocity
 *   v_t of the node against the needle, f_t = -min(mu |f_n|, m |v_t| / dt) v_t / |v_t| (the cap is
 *   the force that stops the relative sliding within the step: above it friction would reverse
 *   the motion, which Coulomb friction never does).
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
                             __global const REAL *restrict stiffness, __global REAL *restrict contact_force,
                             __global REAL *restrict needle_terms, const ulong needle_stride,
                             __global REAL *restrict rate_terms, __global REAL *restrict penetration)
{
  const size_t node = get_global_id(0);
  if (node >= owned) return;
  REAL x[3], v[3], total[3] = {0, 0, 0};
  for (int d = 0; d < 3; ++d) {
    x[d] = reference[node * 3 + d] + displacement[node * 3 + d];
    v[d] = velocity[node * 3 + d];
  }
  const REAL m = mass[node], k = stiffness[node];
  REAL penalty_energy = 0, friction_power = 0, needle_power = 0, deepest = 0;
  for (int i = 0; i < needle_count; ++i) {
    REAL p[NEEDLE_SHAPE_PARAMS], n[3], terms[CONTACT_TERMS];
    for (int j = 0; j < NEEDLE_SHAPE_PARAMS; ++j) p[j] = needles[i * NEEDLE_SHAPE_PARAMS + j];
    for (int j = 0; j < CONTACT_TERMS; ++j) terms[j] = 0;
    const REAL g = needle_signed_distance(p, x, n);
    if (g < 0) {
      REAL fn[3], ft[3] = {0, 0, 0}, relative[3], normal_speed = 0;
      const REAL normal = k * -g, friction_coefficient = motion[i * CONTACT_MOTION + 3];
      for (int d = 0; d < 3; ++d) {
        fn[d] = normal * n[d];
        relative[d] = v[d] - motion[i * CONTACT_MOTION + d];
        normal_speed += relative[d] * n[d];
      }
      REAL tangential[3], slip2 = 0;
      for (int d = 0; d < 3; ++d) {
        tangential[d] = relative[d] - normal_speed * n[d];
        slip2 += tangential[d] * tangential[d];
      }
      const REAL slip = sqrt(slip2);
      if (slip > 0 && friction_coefficient > 0) {
        const REAL magnitude = fmin(friction_coefficient * normal, m * slip / dt);
        for (int d = 0; d < 3; ++d) ft[d] = -magnitude * tangential[d] / slip;
        friction_power += magnitude * slip; /* -f_t . v_t >= 0: what friction turns into heat */
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
