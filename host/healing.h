/* healing: stage 2 of a run on the skin block — so far the growth factors. At the start of every
 * treatment session the injured volume of each needle channel releases a PDGF-like and a
 * TGF-beta-like factor (healing.pdgf.*, healing.tgf_beta.*), which then diffuse, with one
 * diffusivity per skin layer, and decay (host/diffusion, implicit, CG on the device). Fibroblasts
 * and collagen join in the healing-model issue; this module owns the stage's schedule, injury,
 * outputs, diagnostics and checkpoints.
 *
 * Injury. Until the puncture stage writes its channel library, a channel is the volume the
 * needle fills at full insertion: a cone frustum around each needle axis (every pair of
 * mesh.refine_x x mesh.refine_y: the lattice a periodic cell stands for), from radius
 * r_tip + (r_base - r_tip) d / L at the surface down to r_tip at the insertion depth d (the
 * rounded tip itself is left out). Each element's injured volume comes from a 4x4x4-point
 * quadrature of the channel's indicator; per channel the element volumes are scaled so that
 * their sum is the frustum's exact volume, so the released mass (release concentration x
 * channel volume) does not depend on the mesh. A pulse adds its mass to the nodes by their
 * corner-volume shares (conservative; the released and the added mass are both logged).
 *
 * Time. t = 0 is the first session; session k starts at k x treatment.session_interval with an
 * instantaneous pulse. Steps start at healing.first_step after each pulse and grow by
 * healing.step_growth up to healing.max_step, cut to land exactly on sessions, output times and
 * checkpoint times. With bdf2 the history restarts (two backward-Euler steps) at each pulse:
 * BDF2 across a jump in the field would turn the jump into an undershoot; and its steps are kept
 * to k dt <= 1/2 for every species, beyond which a decaying field changes sign (diffusion.h).
 *
 * Output (folder DIR):
 *   DIR/healing.xdmf, DIR/healing/   series, time in days: node fields pdgf and tgf_beta in ng/mL,
 *                                    cell field injury (injured fraction of each element)
 *   DIR/healing_steps.csv            one row per step and per pulse: time, dt, per species CG
 *                                    iterations, relative residual, total mass, the mass-balance
 *                                    error against the scheme's discrete decay, min and max; and a
 *                                    "clear" row where a species fell below
 *                                    healing.concentration_floor and was set to zero (its mass
 *                                    column then says how much was removed)
 *   DIR/checkpoint/                  every output.checkpoint_interval and at the end
 * and a summary (pp_healing_summary) for the run record.
 *
 * All functions are COLLECTIVE over the runtime's communicator. */
#ifndef PP_HEALING_H
#define PP_HEALING_H

#include "clrt.h"
#include "config.h"
#include "error.h"
#include "halo.h"
#include "mesh.h"
#include "runtime.h"

enum { PP_HEALING_SPECIES = 2 };

typedef struct {
  long long steps;                       /* time steps taken over the whole run (restarts included) */
  int pulses;                            /* release pulses applied */
  int cleared;                            /* times a species fell below healing.concentration_floor */
  int channels;                          /* channels per session */
  double channel_volume;                 /* m^3, all channels of one session */
  long long cg_iterations;               /* summed over steps, slowest species per step */
  int max_cg_iterations;                 /* in one step */
  double worst_residual;                 /* largest final relative residual of any step */
  double worst_mass_error;               /* largest relative mass-balance error of any step */
  double peak[PP_HEALING_SPECIES];       /* kg/m^3, largest nodal value seen at a step end */
  double most_negative[PP_HEALING_SPECIES]; /* min(0, smallest value / peak), over the run */
  long long outputs;                     /* series steps written (this invocation and before) */
  long long checkpoints;                 /* written by this invocation */
  double restarted_from;                 /* s; -1 when the run started at t = 0 */
} pp_healing_summary;

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
