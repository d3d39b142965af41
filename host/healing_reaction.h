/* healing_reaction: the reaction sub-step of stage 2's Strang-split healing step (issue 10) on the
 * device — half a step of reactions, a full step of transport (elsewhere), half a step of
 * reactions. Every node integrates on its own
 *   du/dt = R(u) + s(t)   over [t0, t0 + h],   u = [g_0 .. g_{G-1}, n, c3, c1]
 * with R the reaction part of kernels/healing_rates.cl (no transport, no decay -k_i g_i: both are
 * the transport's; include_decay adds the decay, for a well-mixed run and the tests) and s the
 * injury source of each growth factor: per node and species an amplitude A_i(x) (kg/m^3 released
 * per unit profile integral) times a time profile, a sum over pulses k (treatment sessions,
 * starting at t_k) of
 *   e_1 exp(-(t - t_k)/tau_1)/tau_1 + e_2 exp(-(t - t_k)/tau_2)/tau_2   for t >= t_k
 * (platelet degranulation, tau_1 ~ 10 min; the macrophage phase, tau_2 ~ 3-5 d; weights per
 * species). The integrator, its positivity handling and the buffer layouts are described in
 * kernels/healing_reaction.cl: Dormand-Prince 5(4) with its own sub-step control per node, the
 * mixed error norm max_a |err_a| / (atol_a + rtol |u_a|), sub-steps rejected when a stage value or
 * the result goes negative, capped at 1 / (the largest loss rate of the split form P - L u), cut
 * to land on pulse starts and on t0 + h.
 *
 * The same bits on any rank count: each node's result depends only on its own state and
 * amplitudes and on the call's arguments (no reductions, no shared memory, no memory between
 * calls), so it does not matter which rank, work-group or position computes it. The per-call
 * statistics are integer sums on the host.
 *
 * State layout: the caller's buffer holds component a of node n at
 * [n * node_stride + a * component_stride] (REALs); the default is structure-of-arrays,
 * node_stride 1 and component_stride node_count. Nodes that fail keep their start state.
 *
 * Nothing here is collective: each rank advances its own nodes (a caller that needs every rank
 * to leave together runs pp_comm_agree after pp_healing_reaction_advance). */
#ifndef PP_HEALING_REACTION_H
#define PP_HEALING_REACTION_H

#include <stddef.h>

#include "clrt.h"
#include "error.h"
#include "healing_model.h"

enum { PP_HEALING_MAX_PULSES = 20 };

/* One species' release profile (see the top). A phase with weight 0 is off (its time unused). */
typedef struct {
  double fast_time;   /* tau_1, s (> 0 where fast_weight > 0) */
  double slow_time;   /* tau_2, s (> 0 where slow_weight > 0) */
  double fast_weight; /* e_1 >= 0 */
  double slow_weight; /* e_2 >= 0 */
} pp_healing_release_profile;

typedef struct {
  double relative_tolerance;                       /* rtol, e.g. 1e-6 */
  double absolute_tolerance[PP_HEALING_MAX_STATE]; /* atol per state component, its SI unit, > 0
                                                      (the G + 3 used ones) */
  int max_substeps;       /* sub-steps tried (accepted + rejected) per node and call, >= 1 */
  double min_substep;     /* s: a node whose controller asks for less fails (>= 0) */
  int include_decay;      /* 1: add -k_i g_i (well-mixed runs, tests); 0: the transport has it */
  int freeze_growth_factors; /* 1: the growth factors do not change (their rates are set to 0): the
                             healing stage integrates them in its transport step, secretion and
                             release included, and only n, c3, c1 here */
  double loss_cap;        /* sub-step x (largest loss rate) <= loss_cap (1; 0: no cap, tests only:
                             see kernels/healing_reaction.cl) */
} pp_healing_reaction_options;

typedef struct {
  long long substeps;     /* accepted sub-steps, all nodes */
  long long rejected;     /* rejected sub-steps (error or positivity), all nodes */
  long long rejected_negative; /* of those, rejected for a negative stage value or result */
  int max_node_substeps;  /* most sub-steps tried (accepted + rejected) at one node */
  long long failures;     /* nodes that failed (they keep their start state) */
} pp_healing_reaction_info;

typedef struct pp_healing_reaction pp_healing_reaction;

/* Options for rtol: atol = rtol x scale, the scale being max(gbar_i, Ks_i) for growth factor i,
 * Nbar for the fibroblasts and the normal collagen content C_total for c3 and c1; at most 10000
 * sub-steps per node and call; min_substep 1 ms; no decay; loss cap 1. */
void pp_healing_reaction_default_options(const pp_healing_params *params, const pp_healing_rest *rest, double rtol,
                                         pp_healing_reaction_options *options);

/* The reaction of node_count nodes (0 allowed) on clrt's device: builds kernels/healing_reaction.cl
 * behind kernels/healing_rates.cl (clrt's REAL and build options) and its buffers. Then, before
 * pp_healing_reaction_advance: pp_healing_reaction_set_parameters and _set_options (required);
 * pulses, release profiles and amplitudes (without them there is no source). */
pp_err pp_healing_reaction_create(pp_healing_reaction **reaction, pp_clrt *clrt, size_t node_count);
void pp_healing_reaction_destroy(pp_healing_reaction *reaction);

/* The state layout (see the top); node_stride, component_stride >= 1. */
pp_err pp_healing_reaction_set_layout(pp_healing_reaction *reaction, size_t node_stride, size_t component_stride);
/* pp_healing_pack's flat parameter array. */
pp_err pp_healing_reaction_set_parameters(pp_healing_reaction *reaction, const double flat[PP_HEALING_PARAMS]);
pp_err pp_healing_reaction_set_options(pp_healing_reaction *reaction, const pp_healing_reaction_options *options);
/* Species i's release profile (all species start with none: weights 0). */
pp_err pp_healing_reaction_set_release(pp_healing_reaction *reaction, int species,
                                       const pp_healing_release_profile *profile);
/* The pulse starts t_k, s, ascending (equal starts allowed), count <= PP_HEALING_MAX_PULSES. */
pp_err pp_healing_reaction_set_pulses(pp_healing_reaction *reaction, int count, const double *start_times);
/* Species i's amplitude at every node, from the host (node_count values, copied to a buffer the
 * module owns), or NULL for no source of that species. */
pp_err pp_healing_reaction_set_amplitude(pp_healing_reaction *reaction, int species, const double *values);
/* The same from a device buffer of node_count REALs that the caller keeps alive and owns (NULL:
 * back to the host values, if any). */
pp_err pp_healing_reaction_set_amplitude_buffer(pp_healing_reaction *reaction, int species, cl_mem buffer);
/* Global node ids (node_count values, copied) for error messages; NULL: messages give local indices. */
pp_err pp_healing_reaction_set_node_ids(pp_healing_reaction *reaction, const long long *global_ids);

/* Advances every node of state (a buffer in the set layout) from t0 to t0 + h, h > 0, and waits
 * for it. info (may be NULL) gets the sub-step statistics, also on failure. When some node fails
 * (sub-step limit, controller below min_substep, or a negative/non-finite start state):
 * PP_ERR_SOLVER naming the first such node (global id, local index), why, where it stopped and its
 * state, and how many nodes failed; the other nodes have advanced, the failed ones have not. */
pp_err pp_healing_reaction_advance(pp_healing_reaction *reaction, cl_mem state, double t0, double h,
                                   pp_healing_reaction_info *info);

#endif
