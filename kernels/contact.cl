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
                             __global REAL *restrict rate_terms, __global REAL *restrict penetration,
                             __global const REAL *restrict node_active)
{
  const size_t node = get_global_id(0);
  if (node >= owned) return;
  const int active = node_active[node] != 0; /* an orphan of erosion: no needle touches it */
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
    if (g < 0 && active) {
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
    /* the needle pushes the skin with f: its work over the step by the trapezoidal rule,
       (f_before + f_now) / 2 . V dt, the rule of the skin's external work (kernels/mechanics.cl), so
       that needle work = the skin's contact work + penalty energy + friction heat holds step by step
       (a node leaving contact still counts its force before) */
    __global REAL *node_terms = needle_terms + i * needle_stride + node * CONTACT_TERMS;
    for (int d = 0; d < 3; ++d)
      needle_power -= (node_terms[2 + d] + terms[2 + d]) / 2 * motion[i * CONTACT_MOTION + d];
    for (int j = 0; j < CONTACT_TERMS; ++j) node_terms[j] = terms[j];
  }
  for (int d = 0; d < 3; ++d) contact_force[node * 3 + d] = total[d];
  rate_terms[node * 3] = penalty_energy;
  rate_terms[node * 3 + 1] = friction_power;
  rate_terms[node * 3 + 2] = needle_power;
  penetration[node] = deepest;
}

/* ---- the needle tips against the skin's surface faces -------------------------------------------
 * A sharp tip between nodes touches no node: the faces catch it. Each surface face is the bilinear
 * patch x(xi, eta) = sum_a N_a x_a through its corners (counter-clockwise seen from outside, so
 * x_xi x x_eta points out of the skin), the same surface the hex8 elements have. For needle i, C is
 * the centre of its tip sphere (the tip point plus R along the axis; the tip point itself for a
 * sharp tip) and x* the patch's point nearest C ((xi, eta) clamped to the face). With s the signed
 * distance |C - x*| (negative below the patch, by the normal at x*) and u the unit vector from x*
 * towards C (the normal's side), the tip penetrates by p = R - s > 0, and the energy k_f p^2 / 2 has
 * the exact gradient (at the nearest point the derivative through (xi, eta) vanishes): the needle
 * takes k_f p u, corner a takes -k_f p u N_a(x*). Being a potential of a surface that is continuous
 * from face to face, it puts into the skin what the needle does (the energy balance checks it);
 * the triangles used before were two different surfaces (two splits of a bent face) and the tip
 * jumped between them. A face counts when p < its longest edge (deeper, the tip has gone through:
 * the face no longer holds it) and when u is within 60 degrees of its normal (so a point beside the
 * skin, nearest an outer edge, does not). The nearest such face wins (host/contact.c); when a
 * corner of it is inside the needle the node pass holds the tip and this pass adds nothing (so a
 * blunt or flat end, which its nodes carry, gets no extra point force at its centre; and the next
 * nearest face, far below the tip, does not grab it). */

#define PATCH_ITERATIONS 12
__constant REAL corner_xi[4] = {-1, 1, 1, -1};
__constant REAL corner_eta[4] = {-1, -1, 1, 1};

static void patch_point(const REAL *x, REAL xi, REAL eta, REAL *p, REAL *p_xi, REAL *p_eta, REAL *N)
{
  for (int d = 0; d < 3; ++d) p[d] = p_xi[d] = p_eta[d] = 0;
  for (int a = 0; a < 4; ++a) {
    const REAL sx = 1 + xi * corner_xi[a], se = 1 + eta * corner_eta[a];
    N[a] = sx * se / 4;
    for (int d = 0; d < 3; ++d) {
      p[d] += N[a] * x[3 * a + d];
      p_xi[d] += corner_xi[a] * se / 4 * x[3 * a + d];
      p_eta[d] += corner_eta[a] * sx / 4 * x[3 * a + d];
    }
  }
}

static REAL dot3(const REAL *a, const REAL *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
static REAL clamp_unit(REAL v) { return fmin((REAL)1, fmax((REAL)-1, v)); }

/* Penetration p of the tip sphere (centre C, radius R) into the face with corners x[12]; -1 if it
 * does not count (above, through, beside). Also the direction u and the corner weights N at the
 * nearest point. */
static REAL patch_penetration(const REAL *x, const REAL *C, REAL R, REAL *u, REAL *N)
{
  REAL xi = 0, eta = 0, p[3], p_xi[3], p_eta[3], r[3];
  /* Gauss-Newton on |C - x(xi, eta)|^2, the coordinates clamped to the face; a coordinate held at
     its bound leaves a one-dimensional step in the other. A fixed count: the same bits anywhere. */
  for (int it = 0; it < PATCH_ITERATIONS; ++it) {
    patch_point(x, xi, eta, p, p_xi, p_eta, N);
    for (int d = 0; d < 3; ++d) r[d] = C[d] - p[d];
    const REAL a = dot3(p_xi, p_xi), b = dot3(p_xi, p_eta), c = dot3(p_eta, p_eta);
    const REAL g_xi = dot3(p_xi, r), g_eta = dot3(p_eta, r), det = a * c - b * b;
    if (!(det > 0)) return -1;
    REAL xi_new = xi + (c * g_xi - b * g_eta) / det, eta_new = eta + (a * g_eta - b * g_xi) / det;
    if (fabs(xi_new) > 1) { /* along the edge xi = +-1, the model's best eta */
      const REAL xi_bound = clamp_unit(xi_new);
      eta_new = eta + (g_eta - b * (xi_bound - xi)) / c;
      xi_new = xi_bound;
    } else if (fabs(eta_new) > 1) {
      const REAL eta_bound = clamp_unit(eta_new);
      xi_new = xi + (g_xi - b * (eta_bound - eta)) / a;
      eta_new = eta_bound;
    }
    xi = clamp_unit(xi_new);
    eta = clamp_unit(eta_new);
  }
  patch_point(x, xi, eta, p, p_xi, p_eta, N);
  REAL n[3] = {p_xi[1] * p_eta[2] - p_xi[2] * p_eta[1], p_xi[2] * p_eta[0] - p_xi[0] * p_eta[2],
               p_xi[0] * p_eta[1] - p_xi[1] * p_eta[0]};
  const REAL n_length = sqrt(dot3(n, n));
  if (!(n_length > 0)) return -1;
  for (int d = 0; d < 3; ++d) {
    n[d] /= n_length;
    r[d] = C[d] - p[d];
  }
  const REAL distance = sqrt(dot3(r, r)), normal_part = dot3(r, n);
  REAL longest = 0;
  for (int k = 0; k < 4; ++k) {
    REAL e[3];
    for (int d = 0; d < 3; ++d) e[d] = x[3 * ((k + 1) % 4) + d] - x[3 * k + d];
    longest = fmax(longest, sqrt(dot3(e, e)));
  }
  /* C on the patch (to rounding): the normal is the direction */
  if (distance <= 1e-9 * longest) {
    for (int d = 0; d < 3; ++d) u[d] = n[d];
    const REAL penetration = R - normal_part;
    return penetration > 0 && penetration < longest ? penetration : -1;
  }
  const REAL side = normal_part < 0 ? -1 : 1, penetration = R - side * distance;
  if (fabs(normal_part) < distance / 2) return -1; /* nearest an edge from beside the face */
  for (int d = 0; d < 3; ++d) u[d] = side * r[d] / distance;
  return penetration > 0 && penetration < longest ? penetration : -1;
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

/* Per (face, needle) [2 (f * needle_count + i)]: the tip's penetration p into the face (-1 for
 * none) and 1 when the node pass holds the face (a corner inside the needle), else 0; and the face's
 * force rows cleared for face_tip_forces. */
__kernel void face_candidates(const ulong face_count, const int needle_count, __global const REAL *restrict needles,
                              __global const REAL *restrict reference, __global const int *restrict face_nodes,
                              __global const REAL *restrict displacement, __global REAL *restrict candidate,
                              __global REAL *restrict face_force, __global const int *restrict face_element,
                              __global const REAL *restrict element_eroded)
{
  const size_t f = get_global_id(0);
  if (f >= face_count) return;
  for (int k = 0; k < 12; ++k) face_force[f * 12 + k] = 0;
  if (element_eroded[face_element[f]] != 0) { /* eroded: no face here any more */
    for (int i = 0; i < needle_count; ++i) {
      candidate[2 * (f * needle_count + i)] = -1;
      candidate[2 * (f * needle_count + i) + 1] = 0;
    }
    return;
  }
  REAL x[12];
  face_corners_now(reference, face_nodes, displacement, f, x);
  for (int i = 0; i < needle_count; ++i) {
    REAL C[3], R, u[3], N[4], p[NEEDLE_SHAPE_PARAMS];
    for (int j = 0; j < NEEDLE_SHAPE_PARAMS; ++j) p[j] = needles[i * NEEDLE_SHAPE_PARAMS + j];
    /* a face with a corner inside the needle is held by the node pass already */
    int held = 0;
    for (int a = 0; a < 4; ++a) held |= needle_signed_distance(p, x + 3 * a, u) < 0;
    tip_centre(needles, i, C, &R);
    const REAL penetration = patch_penetration(x, C, R, u, N);
    candidate[2 * (f * needle_count + i)] = penetration;
    candidate[2 * (f * needle_count + i) + 1] = held;
  }
}

/* One work-item: for each needle in order whose chosen face (the one penetrated least over the
 * whole skin: the nearest surface, host/contact.c) is on this rank, the penalty force k_f p u on
 * the tip; the face's corners take -k_f p u N_a. needle_force [i * 5]: the force on needle i (3), p
 * and k_f p^2 / 2, written only where the face's element is owned (so the global sum counts it
 * once). */
__kernel void face_tip_forces(const int needle_count, __global const int *restrict chosen,
                              __global const int *restrict face_owned, __global const REAL *restrict needles,
                              __global const REAL *restrict reference, __global const int *restrict face_nodes,
                              __global const REAL *restrict displacement, __global const REAL *restrict face_stiffness,
                              __global REAL *restrict face_force, __global REAL *restrict needle_force)
{
  if (get_global_id(0) != 0) return;
  for (int i = 0; i < needle_count; ++i) {
    __global REAL *out = needle_force + i * 5;
    for (int k = 0; k < 5; ++k) out[k] = 0;
    const int f = chosen[i];
    if (f < 0) continue;
    REAL x[12], C[3], R, u[3], N[4];
    face_corners_now(reference, face_nodes, displacement, (size_t)f, x);
    tip_centre(needles, i, C, &R);
    const REAL penetration = patch_penetration(x, C, R, u, N);
    if (!(penetration > 0)) continue;
    const REAL magnitude = face_stiffness[f] * penetration;
    for (int a = 0; a < 4; ++a)
      for (int d = 0; d < 3; ++d) face_force[f * 12 + 3 * a + d] -= magnitude * u[d] * N[a];
    if (face_owned[f]) {
      for (int d = 0; d < 3; ++d) out[d] = magnitude * u[d];
      out[3] = penetration;
      out[4] = magnitude * penetration / 2;
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
