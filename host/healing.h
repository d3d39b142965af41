/* healing: stage 2 of a run on the skin block — the healing model (host/healing_model: growth
 * factors, fibroblasts, collagen III and I; equations and parameters in the README) after each
 * treatment session's injury. This module owns the stage's schedule, injury source, time
 * integration, outputs, summaries and checkpoints.
 *
 * Injury. A channel stands at every needle axis (every pair of mesh.refine_x x mesh.refine_y: the
 * lattice a periodic cell stands for). By default it is the volume the needle fills at full
 * insertion: a cone frustum from radius r_tip + (r_base - r_tip) d / L at the surface down to r_tip
 * at the insertion depth d (the rounded tip itself is left out). With healing.channel_library (stage
 * 1's channels.h5, host/channel.h) it is that entry's injury: the injured fraction of each (s, r) bin
 * about the axis, (eroded + damage-weighted volume) / (pi (r2^2 - r1^2) ds), along the entry's
 * direction from the surface point of each axis (the treated region then ends at the entry's
 * insertion depth). Each element's injured volume comes from a 4x4x4-point quadrature of the
 * channel's injured fraction; per channel the element volumes are scaled so that their sum is the
 * channel's exact volume (the frustum's, or the entry's binned total). A node's
 * injured share A is its corner-volume share of those volumes over its control volume, so sum M A
 * is the channels' volume exactly (logged, and in the summary). From the start of session k (t_k =
 * k x treatment.session_interval) each growth factor is released at
 *   A(x) [e_1 exp(-(t - t_k)/tau_1)/tau_1 + e_2 exp(-(t - t_k)/tau_2)/tau_2]
 * (healing.<f>.release over the platelet phase, healing.<f>.macrophage_release over the macrophage
 * phase, per injured volume), the sessions adding up.
 *
 * Time integration. State per node u = [g_pdgf, g_tgf, n, c3, c1]. One step of length h:
 *  1. n, c3, c1: their reactions over h/2 (host/healing_reaction: Dormand-Prince 5(4) per node at
 *     healing.tolerance / 100, growth factors held, positivity kept);
 *  2. transport over h, backward Euler: the fibroblasts' motility and chemotaxis in the growth factors
 *     as they are (pp_chemotaxis: Scharfetter-Gummel, an M-matrix); the growth factors' diffusion with
 *     their pointwise reaction r(g, n) = -k g + n (beta + sigma g/(Ks + g)) linearly implicit
 *     (Rosenbrock-Euler): the per-node rate kappa = -dr/dg in the matrix (pp_diffusion_set_node_rates;
 *     not below -1/(2h)), r + kappa g = n beta + n sigma g^2/(Ks + g)^2 (>= 0) and the release
 *     averaged exactly over the step on the right-hand side, n at the same start state;
 *  3. n, c3, c1: reactions over h/2.
 * Why the growth factors are not split: their decay (15/d) nearly balances the release and the
 * autocrine secretion (12/d at rest by default), and a split of decay from source leaves an O(h)
 * offset of the quasi-steady level (a first version, with decay and release in the reactions, was
 * held to 2-6 s steps by it; one with the secretion explicit (IMEX) changed the 90-day collagen gain
 * by 5 % when the tolerance was halved: it damped the autocrine loop's net 3/d wrongly). The linearly
 * implicit step keeps every steady state of the growth-factor equation exactly and is exact for a
 * linear reaction. Each step is first order in h; the accepted result is the local extrapolation
 * 2 u_h/2 - u_h (second order where the solution is smooth; a negative extrapolated value, possible
 * where a stiff mode was damped differently by the two, is set to 0). Every transport result is
 * >= 0 (M-matrices; CG's round-off negatives, ~1e-14 of the maximum, set to 0) and the reaction
 * integrator rejects negative sub-steps.
 * Adaptive steps by step doubling: one step of h and two of h/2 from the same state; the error
 * max over nodes and components of |u_h/2 - u_h| / (tol (scale + |u_h/2|)) (scale: each growth
 * factor's half-saturation or resting level, the resting fibroblast density, the normal collagen
 * content) decides: <= 1 accepts (the extrapolation above), else the step is retried shorter and a "reject"
 * row is logged (so is a reaction node giving up: retried at h/4). The next step is
 * h min(healing.step_growth, max(0.2, 0.9/sqrt(error))), at most healing.max_step, cut to land on
 * sessions, outputs, checkpoints and the end; each session starts again from healing.first_step.
 * The error is a global maximum (exact), so every rank takes the same decisions.
 *
 * Output (folder DIR):
 *   DIR/healing.xdmf, DIR/healing/   series, time in days: node fields pdgf and tgf_beta (in
 *                                    output.growth_factor_unit), fibroblasts (1/mm3), collagen_III,
 *                                    collagen_I (mg/mL), collagen_gain ((c3 + c1)/C_total - 1); cell
 *                                    field injury (injured fraction of each element)
 *   DIR/healing_summary.csv          per output time: the largest growth factors and fibroblast
 *                                    density; volume means of the collagen gain, the type III share,
 *                                    the fibroblasts (relative to rest) and the stimulus in the
 *                                    treated upper dermis (dermal nodes no deeper than the insertion
 *                                    depth) and in untreated tissue (dermal nodes farther than three
 *                                    growth-factor lengths sqrt(D/k) from every channel; nan if none)
 *   DIR/healing_steps.csv            one row per step tried (step / reject), session and clearing:
 *                                    time, dt, the controller's error, CG iterations per transport,
 *                                    reaction sub-steps, min and max of every component
 *   DIR/checkpoint/                  every output.checkpoint_interval and at the end: the state and the
 *                                    controller's (time, next step, counters); a restart continues bit
 *                                    for bit on any rank count
 * and a summary (pp_healing_summary) for the run record.
 *
 * All functions are COLLECTIVE over the runtime's communicator. */
#ifndef PP_HEALING_H
#define PP_HEALING_H

#include <stdio.h>

#include "clrt.h"
#include "config.h"
#include "error.h"
#include "halo.h"
#include "mesh.h"
#include "runtime.h"

enum { PP_HEALING_SPECIES = 2 };

typedef struct {
  long long steps;                       /* accepted time steps over the whole run (restarts included) */
  long long rejected_steps;              /* steps the error controller rejected and retried shorter */
  int pulses;                            /* treatment sessions begun */
  int cleared;                           /* times a growth factor fell below healing.concentration_floor */
  int channels;                          /* channels per session */
  char channel_entry[256];               /* the channel library's entry the injury came from; "": the frustum */
  double channel_volume;                 /* m^3, all channels of one session */
  double source_volume_error;            /* |sum M A - channel volume| / channel volume (A: node injured share) */
  long long cg_iterations;               /* summed over every transport solve, rejected steps included */
  int max_cg_iterations;                 /* in one step (its three split steps, all species) */
  long long reaction_substeps;           /* accepted reaction sub-steps, all nodes */
  double peak[PP_HEALING_SPECIES];       /* kg/m^3, largest nodal value after any accepted step */
  double peak_fibroblasts;               /* cells/m^3 */
  double treated_volume, untreated_volume; /* m^3 of the two summary regions (0: absent) */
  double treated_collagen_gain;          /* at the end: volume mean of c/c0 - 1 in the treated upper dermis */
  double treated_type_III_share;         /* at the end: c3 / (c1 + c3) there */
  double untreated_collagen_gain;        /* at the end, untreated tissue (NAN when absent) */
  long long outputs;                     /* series steps written (this invocation and before) */
  long long checkpoints;                 /* written by this invocation */
  double restarted_from;                 /* s; -1 when the run started at t = 0 */
  double factor_per_si;                  /* output.growth_factor_unit per kg/m^3 */
  char factor_unit[8];
} pp_healing_summary;

/* Local: opens the entry of healing.channel_library (if one is set) that stage 2 would read and,
 * with report, prints a line about it ("# Stage 2's channel: ..."). Errors name the key and file. */
pp_err pp_healing_check_channel_library(const pp_config *config, FILE *report);

/* Runs stage 2 on the mesh (whose output view pp_mesh_io_view must have been built) and writes
 * its outputs into output_dir. restart: continue from the newest checkpoint in output_dir
 * (refused, with the reason, when there is none or it was written under other physics keys). */
pp_err pp_healing_run(const pp_config *config, const pp_runtime *runtime, pp_clrt *clrt, pp_mesh *mesh,
                      pp_halo *halo, const char *output_dir, int restart, pp_healing_summary *summary);

/* Before any stage runs: the healing model's parameters (healing.*) and the linear stability of
 * unwounded tissue over every mode the mesh supports (host/healing_model); PP_ERR_CONFIG naming
 * the parameters when it would not stay at rest. Rank 0 logs the finding. */
pp_err pp_healing_check_model(const pp_config *config, const pp_runtime *runtime, const pp_mesh *mesh);

/* The summary as one JSON object (for run.json), into text. */
void pp_healing_summary_json(const pp_healing_summary *summary, char *text, size_t size);

#endif
