/* stage1: the needle stroke of a run — the explicit TLED mechanics of the skin block (host/mechanics)
 * with the config's needles pressing on it (host/needle, host/contact), from t = 0 to
 * mechanics.end_time or the end of the needles' trajectory, whichever comes first. Puncture is
 * crack-band erosion (mechanics.erosion; host/mechanics.h); the eroded and damage cell fields show
 * the injury. DIR/channels.h5 keeps each needle's channel; stage 2 of a later run reads it with
 * healing.channel_library (this run's stage 2 has started before it could be checked).
 *
 * Two ways through the stroke:
 *  - explicit dynamics (the default): steps at the automatic (exact stable) step, cut to land on
 *    every output time; the needles are moved to where they are at the end of each step before it
 *    is taken. The skin's true inertia: for strokes at the devices' speeds (0.1-1 m/s).
 *  - a quasi-static stroke (mechanics.quasi_static_increment > 0): for bench speeds (mm/s), whose
 *    true inertia would cost millions of steps and is negligible. The needles advance along their
 *    trajectories in increments of at most that travel, landing on every output time and every
 *    end of a stroke phase, and each increment is relaxed to equilibrium (dynamic relaxation with
 *    fictitious masses proportional to the element stiffness; stage1.c says how the needles move
 *    within it and why). Every increment is a sample of the logs, at the stroke's time; the
 *    summary reports the increments that did not converge. Rate-independent: the speed only
 *    orders the events.
 *
 * Output (folder DIR):
 *   DIR/mechanics.xdmf, DIR/mechanics/   series at output.mechanics_times (s) and at the end:
 *                                        displacement, velocity, Cauchy stress, von Mises,
 *                                        principal stretches, dilatation
 *   DIR/needle_<k>.csv                   per needle k (0-based, the order of pp_needles_from_config),
 *                                        about 500 samples: time_s, tip_depth_m, axial_force_N,
 *                                        normal_force_N, friction_force_N, tip_force_N, contact_nodes,
 *                                        mean_penetration_m (the force the skin exerts on the needle
 *                                        along its axis, > 0 resisting insertion, its normal and
 *                                        friction parts, and the part of the normal one from the tip
 *                                        pressing a surface face); scripts/plot-needle-forces draws them
 *   DIR/channels.h5                      the channel each needle left at the end (host/channel.h's
 *                                        channel library; keyed by needle, depth, speed, body site
 *                                        (the preset) and skin state "normal")
 *   DIR/puncture.csv                     per needle: its puncture events and curve metrics
 *                                        (host/force_curve.h: peak force before the first drop, its
 *                                        depth, the drop, the slope after it, withdrawal friction)
 *   DIR/mechanics_energy.csv             at the same samples: the energy balance (kinetic, stored,
 *                                        external work, damping, erosion, closure, kinetic/stored) and the
 *                                        contact terms (penalty energy, friction dissipated, the
 *                                        needles' work, deepest penetration), the needles' side of
 *                                        the balance (needle work - the skin's external work -
 *                                        penalty energy - friction heat) and the tip hand-offs so far
 * and a summary for the run record and the log. The closure is logged at every output time.
 *
 * COLLECTIVE over the runtime's communicator. */
#ifndef PP_STAGE1_H
#define PP_STAGE1_H

#include <stddef.h>

#include "clrt.h"
#include "config.h"
#include "error.h"
#include "halo.h"
#include "mechanics.h"
#include "mesh.h"
#include "runtime.h"

typedef struct {
  int needles;
  long long steps;
  double end_time;             /* s, simulated */
  double smallest_step, largest_step; /* s */
  double work;                 /* J, external work done on the skin at the end */
  double worst_closure;        /* largest |closure| at any sample / the largest |work| of the run */
  double final_kinetic_ratio;  /* kinetic / stored at the end */
  double peak_force;           /* N, largest axial force on any needle */
  double final_tip_depth;      /* m, of needle 0 at the end */
  double max_penetration;      /* m, deepest node inside a needle at any sample */
  double friction_dissipated;  /* J */
  double needle_work;          /* J, the needles' work on the skin */
  /* the needles' energy balance (pp_contact_closure), every step: the sum of |its change| over the
     steps without a tip hand-off (the time discretisation) and over those with one (what the
     switches between the tip's springs made or lost), each / the needle work at the end */
  double contact_drift, handoff_drift;
  long long handoffs;
  pp_mechanics_erosion_totals eroded; /* at the end (host/mechanics.h) */
  double worst_kinetic_ratio;  /* largest kinetic / stored at the samples whose stored energy is at
                                  least 1e-3 of the run's largest: inertia's share (quasi-static below 5 %) */
  char puncture_json[1024];    /* needle 0's curve metrics (host/force_curve.h), a JSON object */
  /* needle 0's channel at the end (host/channel.h): depths along its axis and the surface opening */
  double channel_open_depth, channel_injury_depth, channel_surface_diameter, channel_eroded_volume,
    channel_damaged_volume;
  double added_mass;           /* kg, mass scaling (0: none; a quasi-static stroke's fictitious masses) */
  /* a quasi-static stroke (mechanics.quasi_static_increment > 0; else all 0): increments relaxed,
     those that did not reach equilibrium in mechanics.quasi_static_max_steps, the most steps one took
     and the largest out-of-balance at an increment's end against the stroke's largest internal-force norm so far */
  long long quasi_static_increments, quasi_static_unconverged, quasi_static_most_steps;
  double quasi_static_worst_residual;
  long long outputs;           /* series steps written */
  double wall_seconds;
  double element_steps_per_second; /* owned elements x steps / wall time, all ranks */
} pp_stage1_summary;

pp_err pp_stage1_run(const pp_config *config, pp_runtime *runtime, pp_clrt *clrt, pp_mesh *mesh, pp_halo *halo,
                     const char *output_dir, pp_stage1_summary *summary);

/* The summary as one JSON object (for run.json). */
void pp_stage1_summary_json(const pp_stage1_summary *summary, char *text, size_t size);

#endif
