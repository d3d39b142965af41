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

/* ---- the needle tips against the skin's surface faces -------------------------------------------
 * A sharp tip between nodes touches no node: the faces catch it. Each surface face (corners
 * counter-clockwise seen from outside, so (x1 - x0) x (x2 - x0) points out of the skin) is split
 * both ways, into the triangles (0, 1, 2), (0, 2, 3) and (1, 2, 3), (1, 3, 0): a tip near a
 * diagonal of a face bent into a tent falls outside both triangles of one split, not of both (with
 * one split a tip on a face's centre lost its face and sank through). For needle i, C is the centre of its tip sphere
 * (the tip point plus R along the axis; the tip point itself for a sharp tip). C penetrates a
 * triangle when its projection lies inside it (barycentric weights >= 0) and its height h above
 * the triangle's plane is below R by p = R - h > 0, but by less than the triangle's longest edge
 * (deeper, the tip has gone through: the face no longer holds it), and none of the face's corners
 * is inside the needle (then the node pass holds it already; so a blunt or flat end, which its
 * nodes carry, gets no extra point force at its centre). */

#define FACE_TRIANGLES 4
__constant int face_triangle[FACE_TRIANGLES][3] = {{0, 1, 2}, {0, 2, 3}, {1, 2, 3}, {1, 3, 0}};

/* Penetration p (< 0: none) of C into triangle t of the face with current corners x[12]; its unit
 * outward normal n and the barycentric weights w of the projection. */
static REAL triangle_penetration(const REAL *x, int t, const REAL *C, REAL R, REAL *n, REAL *w)
{
  const int a = face_triangle[t][0], b = face_triangle[t][1], c = face_triangle[t][2];
  REAL e1[3], e2[3], r[3];
  for (int d = 0; d < 3; ++d) {
    e1[d] = x[3 * b + d] - x[3 * a + d];
    e2[d] = x[3 * c + d] - x[3 * a + d];
    r[d] = C[d] - x[3 * a + d];
  }
  REAL cross[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
  const REAL twice_area = sqrt(cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]);
  if (!(twice_area > 0)) return -1;
  for (int d = 0; d < 3; ++d) n[d] = cross[d] / twice_area;
  const REAL h = r[0] * n[0] + r[1] * n[1] + r[2] * n[2];
  /* barycentric weights of the projection r - h n: areas of the sub-triangles against the normal */
  REAL q[3];
  for (int d = 0; d < 3; ++d) q[d] = r[d] - h * n[d];
  const REAL w1 = ((q[1] * e2[2] - q[2] * e2[1]) * n[0] + (q[2] * e2[0] - q[0] * e2[2]) * n[1] +
                   (q[0] * e2[1] - q[1] * e2[0]) * n[2]) / twice_area;
  const REAL w2 = ((e1[1] * q[2] - e1[2] * q[1]) * n[0] + (e1[2] * q[0] - e1[0] * q[2]) * n[1] +
                   (e1[0] * q[1] - e1[1] * q[0]) * n[2]) / twice_area;
  w[0] = 1 - w1 - w2;
  w[1] = w1;
  w[2] = w2;
  if (w[0] < 0 || w1 < 0 || w2 < 0) return -1;
  REAL longest = 0;
  for (int k = 0; k < 3; ++k) {
    const int p0 = face_triangle[t][k], p1 = face_triangle[t][(k + 1) % 3];
    REAL l2 = 0;
    for (int d = 0; d < 3; ++d) l2 += (x[3 * p1 + d] - x[3 * p0 + d]) * (x[3 * p1 + d] - x[3 * p0 + d]);
    longest = fmax(longest, sqrt(l2));
  }
  const REAL p = R - h;
  return p > 0 && p < longest ? p : -1;
}

static void face_corners_now(__global const REAL *reference, __global const int *face_nodes,
                             __global const REAL *displacement, size_t f, REAL *x)
{
  for (int a = 0; a < 4; ++a) {
    const size_t node = (size_t)face_nodes[f * 4 + a];
    for (int d = 0; d < 3; ++d) x[3 * a + d] = reference[f * 12 + 3 * a + d] + displacement[node * 3 + d];
  }
}

static void tip_centre(__global const REAL *needles, int i, REAL *C, REAL *R)
{
  *R = needles[i * NEEDLE_SHAPE_PARAMS + 6];
  for (int d = 0; d < 3; ++d)
    C[d] = needles[i * NEEDLE_SHAPE_PARAMS + d] + *R * needles[i * NEEDLE_SHAPE_PARAMS + 3 + d];
}

/* Per (face, needle): the deepest penetration of the tip into the face's triangles, -1 for none
 * [f * needle_count + i]; and the face's force rows cleared for face_tip_forces. */
__kernel void face_candidates(const ulong face_count, const int needle_count, __global const REAL *restrict needles,
                              __global const REAL *restrict reference, __global const int *restrict face_nodes,
                              __global const REAL *restrict displacement, __global REAL *restrict candidate,
                              __global REAL *restrict face_force)
{
  const size_t f = get_global_id(0);
  if (f >= face_count) return;
  REAL x[12];
  face_corners_now(reference, face_nodes, displacement, f, x);
  for (int i = 0; i < needle_count; ++i) {
    REAL C[3], R, n[3], w[3], best = -1, p[NEEDLE_SHAPE_PARAMS];
    for (int j = 0; j < NEEDLE_SHAPE_PARAMS; ++j) p[j] = needles[i * NEEDLE_SHAPE_PARAMS + j];
    /* a face with a corner inside the needle is held by the node pass already */
    int held = 0;
    for (int a = 0; a < 4; ++a) held |= needle_signed_distance(p, x + 3 * a, n) < 0;
    tip_centre(needles, i, C, &R);
    for (int t = 0; t < FACE_TRIANGLES && !held; ++t) best = fmax(best, triangle_penetration(x, t, C, R, n, w));
    candidate[f * needle_count + i] = best;
  }
  for (int k = 0; k < 12; ++k) face_force[f * 12 + k] = 0;
}

/* One work-item: for each needle in order whose chosen face (the one deepest penetrated over the
 * whole skin, host/contact.c) is on this rank, the penalty force k_f p on the tip against the face's
 * normal; its corners take -k_f p n w_a. needle_force [i * 5]: the force on needle i (3), p and
 * k_f p^2 / 2, written only where the face's element is owned (so the global sum counts it once). */
__kernel void face_tip_forces(const int needle_count, __global const int *restrict chosen,
                              __global const int *restrict face_owned, __global const REAL *restrict needles,
                              __global const REAL *restrict reference, __global const int *restrict face_nodes,
                              __global const REAL *restrict displacement, __global const REAL *restrict face_stiffness,
                              __global REAL *restrict face_force, __global REAL *restrict needle_force)
{
  if (get_global_id(0) != 0) return;
  for (int i = 0; i < needle_count; ++i) {
    for (int k = 0; k < 5; ++k) needle_force[i * 5 + k] = 0;
    const int f = chosen[i];
    if (f < 0) continue;
    REAL x[12], C[3], R;
    face_corners_now(reference, face_nodes, displacement, (size_t)f, x);
    tip_centre(needles, i, C, &R);
    REAL best = -1, n[3] = {0, 0, 0}, w[3] = {0, 0, 0};
    int triangle = -1;
    for (int t = 0; t < FACE_TRIANGLES; ++t) {
      REAL nt[3], wt[3];
      const REAL p = triangle_penetration(x, t, C, R, nt, wt);
      if (p > best) {
        best = p;
        triangle = t;
        for (int d = 0; d < 3; ++d) {
          n[d] = nt[d];
          w[d] = wt[d];
        }
      }
    }
    if (triangle < 0) continue;
    const REAL magnitude = face_stiffness[f] * best;
    for (int k = 0; k < 3; ++k)
      for (int d = 0; d < 3; ++d) face_force[f * 12 + 3 * face_triangle[triangle][k] + d] -= magnitude * n[d] * w[k];
    if (face_owned[f]) {
      for (int d = 0; d < 3; ++d) needle_force[i * 5 + d] = magnitude * n[d];
      needle_force[i * 5 + 3] = best;
      needle_force[i * 5 + 4] = magnitude * best / 2;
    }
  }
}

/* The owned nodes add their faces' tip forces to the node pass's, in the face list's order. */
__kernel void gather_face_forces(const ulong owned, __global const int *restrict offset,
                                 __global const int *restrict entry, __global const REAL *restrict face_force,
                                 __global REAL *restrict contact_force)
{
  const size_t n = get_global_id(0);
  if (n >= owned) return;
  REAL f0 = contact_force[n * 3], f1 = contact_force[n * 3 + 1], f2 = contact_force[n * 3 + 2];
  for (int r = offset[n]; r < offset[n + 1]; ++r) {
    const size_t c = (size_t)entry[r] * 3;
    f0 += face_force[c];
    f1 += face_force[c + 1];
    f2 += face_force[c + 2];
  }
  contact_force[n * 3] = f0;
  contact_force[n * 3 + 1] = f1;
  contact_force[n * 3 + 2] = f2;
}
