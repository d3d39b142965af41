/* contact: rigid needles against the skin's owned nodes on the device (kernels/contact.cl, behind
 * kernels/needle_shape.cl): penalty normal force, Coulomb friction with the one-step stick limit,
 * the per-needle force totals (normal and friction parts of the axial force), and the contact
 * terms of the energy balance. Owns the needles' state on the device, the penalty stiffness of
 * every node and the accumulated friction dissipation and needle work. The mechanics module calls
 * pp_contact_evaluate inside every force evaluation (pp_mechanics_set_contact) and adds the
 * forces to the external ones; the caller moves the needles (pp_contact_set_needles) before each
 * step to where they are at the step's end.
 *
 * Two passes. Nodes: every owned node inside a needle is pushed out (and takes friction). Tips: a
 * sharp tip between nodes touches no node, so each needle's tip sphere is also pressed against the
 * surface face nearest its centre (chosen over all ranks, ties to the smallest global (element,
 * face) key): a penalty along the direction from the nearest point of the face's bilinear patch,
 * spread to the face's corners by the bilinear weights there (normal force only), unless a
 * corner of that face is inside the needle (the node pass holds it). A tip that has gone deeper
 * than a face's size below it is released: the face no longer holds it.
 *
 * Determinism: a node adds its needles in ascending order, then its faces in the face list's; every total is an exact global sum
 * (host/reduce), so all results are the same bits on any number of ranks.
 *
 * All functions taking the contact are COLLECTIVE over its communicator. */
#ifndef PP_CONTACT_H
#define PP_CONTACT_H

#include <mpi.h>

#include "clrt.h"
#include "error.h"
#include "mesh.h"
#include "reduce.h"

enum { PP_CONTACT_SHAPE_PARAMS = 11 }; /* kernels/needle_shape.cl's NEEDLE_SHAPE_PARAMS */

typedef struct pp_contact pp_contact;

/* One needle's share at the current state: the force the skin exerts ON the needle. */
typedef struct {
  double axial_force;    /* N, along the needle's axis from tip to base (resisting insertion: > 0) */
  double normal_force;   /* N, the axial force's part from the normal (penalty) forces, the tip's included */
  double tip_force;      /* N, the part of normal_force from the tip pressing a surface face */
  double tip_penetration; /* m, of the tip into that face (0: the tip presses no face) */
  double friction_force; /* N, its part from friction (normal + friction = axial) */
  double force[3];       /* N, the whole force vector */
  long long contact_nodes;
  double mean_penetration; /* m, over the nodes in contact (0 without contact) */
  double penalty_energy;   /* J, k g^2 / 2 summed over its nodes */
} pp_contact_needle_totals;

/* All needles together. */
typedef struct {
  double penalty_energy;      /* J, at the current state */
  double friction_dissipated; /* J, accumulated over steps: |f_t| |v_slip| dt (>= 0) */
  double needle_work;         /* J, accumulated over steps: the needles' work on the skin, (f_before + f_now) / 2
                                 . v_needle dt (the trapezoidal rule of the skin's external work) */
  double max_penetration;     /* m, deepest node inside any needle now */
  /* The first three at the START of the last step (the time of pp_mechanics_step_info's energy
   * balance, t^n): there, with no other external force, needle work = the skin's external work +
   * penalty energy + friction heat, up to the time discretisation of the heat (pp_contact_closure). */
  double start_penalty_energy, start_friction_dissipated, start_needle_work;
  /* Tip hand-offs so far (all needles), and at the step's start: a tip went from its face's spring
   * to the node pass (its nearest face held: a corner inside the needle) or back; the two passes are
   * separate penalties, so the springs' energy may jump without work. Between hand-offs the balance
   * below closes to the time discretisation; at one it changes by what the switch made or lost. */
  long long handoffs, start_handoffs;
  /* Energy the penalty springs gained, with no needle moving, when their stiffness was set anew
   * (pp_contact_set_stiffness on a loaded skin: the quasi-static refits, host/stage1.c); it enters
   * the balance as work done on them. */
  double stiffness_work;
} pp_contact_energy;

/* The needles' side of the energy balance at a step's start (J): needle work - skin_work - penalty
 * energy - friction heat, skin_work the external work of that step's balance when the needles are
 * the only external load. */
static inline double pp_contact_closure(const pp_contact_energy *e, double skin_work)
{
  return e->start_needle_work + e->stiffness_work - skin_work - e->start_penalty_energy - e->start_friction_dissipated;
}

/* needle_count rigid needles for the mesh's owned nodes; no needle touches anything until
 * pp_contact_set_needles. */
pp_err pp_contact_create(pp_contact **contact, const pp_mesh *mesh, pp_clrt *clrt, pp_reduce *reduce,
                         MPI_Comm comm, int needle_count);
void pp_contact_destroy(pp_contact *contact);
int pp_contact_needle_count(const pp_contact *contact);

/* Penalty stiffness per owned node (N/m) [owned] and per surface face [pp_contact_face_count].
 * host/mechanics sets them from the lumped masses, k = factor m (2 / dt_stable)^2 with m a node's
 * mass, or half a face's element's mass (a surface node's share of its elements, about)
 * (pp_mechanics_set_contact says why). The penalty energy's change at the next evaluation (the
 * needles where they were) is counted as stiffness_work. */
pp_err pp_contact_set_stiffness(pp_contact *contact, const double *stiffness, const double *face_stiffness);
/* The surface faces the tips are checked against (the upper faces of the local elements whose
 * four upper corners are surface nodes, face_set order) and each one's local element. */
size_t pp_contact_face_count(const pp_contact *contact);
const int *pp_contact_face_elements(const pp_contact *contact);

/* Where the needles are for the next force evaluation: params [count * PP_CONTACT_SHAPE_PARAMS]
 * (needle_shape.cl's layout), rigid velocities [count * 3] (m/s), friction coefficients [count]. */
pp_err pp_contact_set_needles(pp_contact *contact, const double *params, const double *velocity,
                              const double *friction);

/* The mechanics state a contact evaluation reads, all device buffers over the owned nodes: the
 * displacement u and velocity v ([owned * 3] or more), lumped masses [owned], the gathered internal
 * forces and the other external forces [owned * 3] (the friction's stick test needs every force on
 * the node), each node's activity [owned] (0: an orphan of erosion, which no needle touches) and
 * each local element's eroded flag [local elements] (an eroded element's face holds no tip). */
typedef struct {
  cl_mem displacement, velocity, mass, internal_force, other_force, node_active, element_eroded;
} pp_contact_state;

/* The contact forces of the owned nodes at that state into pp_contact_force_buffer, for a step of
 * dt (the stick test); accumulate: add this evaluation's friction heat and needle work times dt
 * to the totals (a step's evaluation; not one that only refreshes the forces of a state). */
pp_err pp_contact_evaluate(pp_contact *contact, const pp_contact_state *state, double dt, int accumulate);
cl_mem pp_contact_force_buffer(const pp_contact *contact);

/* The last evaluation's totals of one needle, and the energy terms. */
pp_err pp_contact_needle(pp_contact *contact, int needle, pp_contact_needle_totals *totals);
pp_err pp_contact_energy_terms(pp_contact *contact, pp_contact_energy *energy);
/* The same without max_penetration (left 0): host values only, not collective, free every step. */
void pp_contact_work_terms(const pp_contact *contact, pp_contact_energy *energy);

#endif
