/* config: the key table, the YAML reader, --set, validation and the writers (see config.h).
 *
 * Reading goes in three steps: libyaml events become a small tree (so that positions survive
 * and the whole file can be checked before anything is changed); the tree is walked against
 * the key table, converting each value into a staged copy and collecting every problem; only
 * a problem-free load is committed. So a failed load leaves the config as it was. */
#include "config.h"
#include "log.h"
#include "needle.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* ------------------------------------------------------------------------------------------ */
/* The key table: the one definition of every key. Sections must stay contiguous (the YAML     */
/* writer relies on it). Ranges are in SI; they bound what is physically sensible, not what    */
/* is typical (typical values are in the meaning).                                             */
/* ------------------------------------------------------------------------------------------ */

#define UM 1e-6
#define MM 1e-3
#define DAY 86400.0
#define PER_CM2 1e4

/* The material keys of one skin layer (PHYSICS.md section 2.2). The stored modulus is the
 * initial shear modulus in both forms, which pins the Ogden convention to the Shergold/Fleck/
 * Abaqus one: mixing it up with Ogden's original notation changes mu by alpha/2, about 6 for
 * skin, so the meaning says how to convert. Stage 1 needs these, the density and, for
 * crack-band erosion, the fracture energy; kappa = ratio x mu keeps nu fixed when mu changes. */
#define LAYER_MATERIAL(STEM, LAYER, MATERIAL, MU, MU_UNIT, MU_MIN, MU_MAX, ALPHA, RATIO, MU_SOURCE, RATIO_SOURCE) \
  {"skin." STEM ".material", PP_KEY_CHOICE, NULL, NULL, MATERIAL, 1, 0, "neo_hookean|ogden",                     \
   "Hyperelastic form of the " LAYER ": neo_hookean, W = (mu/2)(J^(-2/3) I1 - 3) + (kappa/2)(J - 1)^2 "        \
   "(the NiftySim form), or ogden, one term W = (2 mu/alpha^2)(l1^alpha + l2^alpha + l3^alpha - 3) plus the "   \
   "same volumetric term, l_i the deviatoric principal stretches (PHYSICS.md section 2.2)."},                    \
  {"skin." STEM ".shear_modulus", PP_KEY_REAL, "Pa", MU_UNIT, MU, MU_MIN, MU_MAX, NULL,                         \
   "Initial (small-strain) shear modulus mu of the " LAYER " in either form; for ogden in the "                 \
   "Shergold/Fleck/Abaqus convention W = (2 mu/alpha^2)(...), so a mu_p of Ogden's original notation "          \
   "(mu_p/alpha)(...) is entered as mu_p alpha/2. " MU_SOURCE},                                                  \
  {"skin." STEM ".ogden_alpha", PP_KEY_REAL, "", "", ALPHA, 0.5, 50, NULL,                                        \
   "Exponent alpha of the one-term Ogden form of the " LAYER ", used when its material is ogden; dermis 12 "    \
   "(8-20; Shergold 2006, tension data imply 12-14, PHYSICS.md section 2.2); 2 makes Ogden neo-Hookean."},     \
  {"skin." STEM ".bulk_to_shear_ratio", PP_KEY_REAL, "", "", RATIO, 1, 5000, NULL,                               \
   "Bulk over shear modulus kappa/mu of the " LAYER ", kappa weighting the volumetric term "                    \
   "(kappa/2)(J - 1)^2; Poisson's ratio nu = (3 r - 2)/(6 r + 2). " RATIO_SOURCE},                              \
  {"skin." STEM ".fracture_energy", PP_KEY_REAL, "J/m2", "J/m2", "300 J/m2", 0.1, 1e5, NULL,                     \
   "Fracture energy G_c of the " LAYER " for puncture by crack-band erosion (an element erodes when its "       \
   "tensile strain-energy density exceeds G_c/h_e, h_e the cube root of its volume, and its largest "         \
   "principal stress is tensile); 300 J/m2 (one value for every layer) is fitted to Olatunji 2013's 30 mN "   \
   "per polymer microneedle at 0.5 mm/s (README, calibration), within the measured 10 J/m2 (murine "          \
   "micro-penetration) to 1.1 kJ/m2 (needle, pig) and 17-30 kJ/m2 (tear tests) (PHYSICS.md 2.3)."},           \
  {"skin." STEM ".failure_energy_density", PP_KEY_REAL, "Pa", "MPa", "3.6 MPa", 1e3, 1e9, NULL,                 \
   "Strain energy per unit volume (J/m3 = Pa) to tensile failure of the " LAYER ", W_f: the scale of the "     \
   "damage field, damage = W+/W_f capped at 1 (W+ the tensile strain-energy density). 3.6 MJ/m3 is "           \
   "Annaidh's dermis energy to tensile failure (PHYSICS.md 2.3)."}

/* The secretion keys of one growth factor (healing model, PHYSICS.md 6.3): fibroblasts secrete it at
 * n (beta + sigma g/(Ks + g)), per cell. */
#define HEALING_SECRETION(STEM, NAME, SIGMA, SIGMA_SOURCE)                                                     \
  {"healing." STEM ".basal_secretion", PP_KEY_REAL, "kg/s", "pg/d", "0 pg/d", 0, 1e-18, NULL,                  \
   "Constant secretion beta of the " NAME " factor per fibroblast (per cell). With beta > 0 unwounded "        \
   "tissue holds a resting level beta Nbar/k and chemotaxis can make it pattern (the resting-state check "     \
   "refuses such sets); 0 by default."},                                                                       \
  {"healing." STEM ".autocrine_secretion", PP_KEY_REAL, "kg/s", "pg/d", SIGMA, 0, 1e-18, NULL,                 \
   "Secretion sigma of the " NAME " factor per fibroblast at saturation, sigma g/(Ks + g) per cell: the "     \
   "autocrine loop. Unwounded tissue is stable only while sigma Nbar/Ks stays below the decay rate (checked "  \
   "before a run). " SIGMA_SOURCE},                                                                            \
  {"healing." STEM ".autocrine_half_saturation", PP_KEY_REAL, "kg/m3", "ng/mL", "1 ng/mL", 1e-12, 1e-3, NULL,  \
   "Level Ks of the " NAME " factor at which its autocrine secretion is half the largest (0.1-10 ng/mL, "    \
   "UNCONFIRMED, PHYSICS.md 6.4)."}

#define RATIO_SOFT_LAYER                                                                                         \
  "50 is nu = 0.49, as in NiftySim's example models; 500 (nu = 0.499) is more faithful but shrinks the "        \
  "explicit time step about 3x (PHYSICS.md section 2.2)."

static const pp_key_spec key_table[] = {
  {"schema_version", PP_KEY_INTEGER, "", "", NULL, 1, 1, NULL,
   "Config schema the file is written in; this pinprick reads schema 1 only and refuses others "
   "rather than guess what their keys mean."},

  {"preset", PP_KEY_CHOICE, NULL, NULL, "none", 1, 0, "none|face|forearm|back",
   "Skin preset of a body site (meshes/presets/NAME.yaml, embedded): its layer thicknesses and materials "
   "replace the defaults; keys given in the file or by --set still win, wherever they are written. It sets "
   "no needle.* key (needle.preset chooses the device)."},

  {"case.name", PP_KEY_STRING, NULL, NULL, "microneedling-demo", 1, 0, NULL,
   "Short name of the case, used in output file names and the run record (letters, digits, "
   "'.', '-', '_')."},
  {"case.description", PP_KEY_STRING, NULL, NULL, "", 1, 0, NULL,
   "Free text describing the case, copied into the run record."},

  {"skin.stratum_corneum.thickness", PP_KEY_REAL, "m", "um", "15 um", 5 * UM, 100 * UM, NULL,
   "Thickness of the stratum corneum (outer horny layer); forearm 18, shoulder 11, buttock 15 um "
   "(Sandby-Moller 2003)."},
  LAYER_MATERIAL("stratum_corneum", "stratum corneum", "neo_hookean", "6.9 MPa", "MPa", 1e3, 1e9, "2", "9.67",
                 "6.9 MPa is E = 20 MPa, nu = 0.45 (range 1-1000 MPa: hydration changes it about 10x; "
                 "PHYSICS.md section 0).",
                 "9.67 is nu = 0.45 (PHYSICS.md section 2.2: 0.45-0.48 for the epidermis)."),
  {"skin.viable_epidermis.thickness", PP_KEY_REAL, "m", "um", "60 um", 20 * UM, 300 * UM, NULL,
   "Thickness of the viable epidermis below the stratum corneum; 57-82 um (Sandby-Moller 2003), "
   "face 30-63 um (Chopra 2015)."},
  LAYER_MATERIAL("viable_epidermis", "viable epidermis", "neo_hookean", "0.507 MPa", "MPa", 1e3, 1e9, "2", "24.7",
                 "0.507 MPa is E = 1.5 MPa, nu = 0.48 (Geerligs 2011: 1-2 MPa in indentation; PHYSICS.md "
                 "section 0).",
                 "24.7 is nu = 0.48 (PHYSICS.md section 2.2: 0.45-0.48 for the epidermis)."),
  {"skin.papillary_dermis.thickness", PP_KEY_REAL, "m", "um", "300 um", 50 * UM, 1 * MM, NULL,
   "Thickness of the papillary (upper, loose) dermis; about 1/5 of the dermis, 300-400 um often "
   "quoted (secondary sources, unconfirmed)."},
  LAYER_MATERIAL("papillary_dermis", "papillary dermis", "ogden", "0.1 MPa", "MPa", 100, 100e6, "12", "50",
                 "0.1 MPa (0.01-0.4) is near in-vivo indentation; tension data imply 0.4 MPa, the "
                 "tension-calibrated value (PHYSICS.md section 2.2); to be calibrated on insertion forces.",
                 RATIO_SOFT_LAYER),
  {"skin.reticular_dermis.thickness", PP_KEY_REAL, "m", "um", "1200 um", 200 * UM, 6 * MM, NULL,
   "Thickness of the reticular (deep, dense) dermis; face dermis 0.76-1.97 mm (Chopra 2015), "
   "trunk 2-6 mm (Oltulu 2018)."},
  LAYER_MATERIAL("reticular_dermis", "reticular dermis", "ogden", "0.1 MPa", "MPa", 100, 100e6, "12", "50",
                 "0.1 MPa (0.01-0.4) is near in-vivo indentation; tension data imply 0.4 MPa, the "
                 "tension-calibrated value (PHYSICS.md section 2.2); to be calibrated on insertion forces.",
                 RATIO_SOFT_LAYER),
  {"skin.hypodermis.thickness", PP_KEY_REAL, "m", "mm", "3 mm", 0.5 * MM, 20 * MM, NULL,
   "Modelled thickness of the subcutaneous fat; 2 mm forehead to 5-6 mm chin (Iyengar 2018, "
   "ultrasound)."},
  LAYER_MATERIAL("hypodermis", "hypodermis", "neo_hookean", "1 kPa", "kPa", 10, 10e6, "2", "50",
                 "1 kPa (0.3-10 kPa): adipose tissue is in the kPa range (PHYSICS.md section 0, unconfirmed).",
                 RATIO_SOFT_LAYER),
  {"skin.density", PP_KEY_REAL, "kg/m3", "kg/m3", "1100 kg/m3", 900, 1300, NULL,
   "Mass density of every soft layer; epidermis 1110-1190, dermis 1116, fat 971 kg/m3 "
   "(PHYSICS.md section 0)."},

  {"mechanics.base_support", PP_KEY_CHOICE, NULL, NULL, "fixed", 1, 0, "fixed|roller|foundation|free",
   "How the base of the block (under the hypodermis) is held in stage 1: fixed (no motion), roller "
   "(no normal motion), foundation (elastic springs, mechanics.foundation_stiffness) or free. The "
   "backing controls how far the skin deflects under a needle (PHYSICS.md section 4)."},
  {"mechanics.foundation_stiffness", PP_KEY_REAL, "N/m3", "kPa/mm", "1 kPa/mm", 1e3, 1e12, NULL,
   "Traction per unit displacement of the elastic foundation under the base (base_support: "
   "foundation), in all three directions; 1 kPa/mm is a soft muscle layer (assumed)."},
  {"mechanics.damping", PP_KEY_REAL, "1/s", "1/s", "0 1/s", 0, 1e9, NULL,
   "Mass-proportional damping rate of stage-1 dynamics; 0 keeps the true inertia of a physical "
   "insertion. NiftySim models use 0.1-5 1/s (PHYSICS.md section 9.4). Dynamic relaxation chooses "
   "its own."},
  {"mechanics.step_safety", PP_KEY_REAL, "", "", "0.9", 0.05, 1, NULL,
   "Fraction of the stable explicit step taken (the exact minimum over elements of the "
   "Flanagan-Belytschko bound, recomputed every step as elements deform)."},
  {"mechanics.mass_scaling_step", PP_KEY_REAL, "s", "ns", "0 ns", 0, 1e-3, NULL,
   "Selective mass scaling: every element whose undeformed stable step is below this gets its density "
   "raised until it is not; 0 turns it off (physical insertion speeds need the true inertia). For "
   "quasi-static bench speeds only: the added mass and the kinetic-to-stored energy ratio are reported "
   "(keep the ratio below about 5 %, PHYSICS.md section 9.4)."},
  {"mechanics.quasi_static_increment", PP_KEY_REAL, "m", "um", "0 um", 0, 1 * MM, NULL,
   "0: stage 1 is explicit dynamics at the needles' true speed. More than 0: a quasi-static stroke for bench "
   "speeds (mm/s), where the true inertia would cost millions of steps: the needles advance along their "
   "trajectories at most this far per increment, each increment relaxed to equilibrium (dynamic relaxation "
   "with stiffness-proportional fictitious masses; host/stage1.h). The force-depth curve is then the "
   "rate-independent model's static one; friction is Coulomb's (stick while the tangential force is below "
   "mu N)."},
  {"mechanics.quasi_static_tolerance", PP_KEY_REAL, "", "", "1e-3", 1e-9, 0.1, NULL,
   "Equilibrium of a quasi-static increment: the out-of-balance force at most this fraction of the internal "
   "forces' norm, and the kinetic energy at most its square times the stored energy."},
  {"mechanics.quasi_static_puncture_increment", PP_KEY_REAL, "m", "um", "5 um", 0, 1 * MM, NULL,
   "Quasi-static strokes: the increment while some element's tensile strain energy is within a quarter of its "
   "erosion threshold (W+ >= 0.75 G_c / h_e) and no element has eroded yet, so that the force just before "
   "the first erosion (the peak before puncture) and its drop are resolved; 0 or a value above "
   "mechanics.quasi_static_increment: no refinement."},
  {"mechanics.quasi_static_max_steps", PP_KEY_INTEGER, "", "", "100000", 10, 100000000, NULL,
   "Relaxation steps allowed per quasi-static increment; an increment that has not converged by then is "
   "counted, logged as a warning and reported in run.json (quasi_static_unconverged)."},
  {"mechanics.erosion", PP_KEY_BOOLEAN, NULL, NULL, "true", 1, 0, NULL,
   "Puncture by crack-band erosion in stage 1: an element whose tensile strain-energy density reaches "
   "skin.<layer>.fracture_energy / h_e while its largest principal stress is tensile stops carrying force "
   "(it stays in the output with eroded = 1). false: the skin only deforms."},
  {"mechanics.puncture_criterion", PP_KEY_CHOICE, NULL, NULL, "crack_band", 1, 0, "crack_band|nonlocal",
   "What decides that an element erodes. crack_band: its own tensile energy W+ reaches G_c/h_e (h_e its size): "
   "the energy of a growing crack does not depend on the element, but the first erosion under a tip no mesh "
   "resolves does (tests/validation/RESULTS.md, V9c: 77.5, 28.3 and 15.0 mN on 32, 16 and 8 um meshes). "
   "nonlocal: W+ averaged over a sphere of mechanics.nonlocal_radius within the element's layer "
   "(host/nonlocal.h) reaches G_c/radius, checked after every quasi-static increment's equilibrium (then "
   "relaxed again until nothing more erodes) and every 100 steps of a dynamic run."},
  {"mechanics.nonlocal_radius", PP_KEY_REAL, "m", "um", "30 um", 1e-7, 1e-2, NULL,
   "Radius of the sphere the non-local criterion averages W+ over (mechanics.puncture_criterion: nonlocal), "
   "within each element's layer; the crack band's width becomes this radius instead of the element size. "
   "30 um: the V9c study's stratum-corneum average changed by 5 % from 16 to 8 um elements at this radius, "
   "by 160 % at 15 um (tests/validation/RESULTS.md). Elements should be at most about half of it."},
  {"mechanics.distortion_limit", PP_KEY_REAL, "", "", "0", 0, 0.9, NULL,
   "With mechanics.erosion: an element whose smallest Gauss-point volume ratio det F falls below this "
   "erodes too, whatever its tensile state (a distortion erosion, the last resort of explicit codes against "
   "an element crushed flat under a tip before the puncture criterion fires, which would invert and stop "
   "the run); counted apart from the criterion's erosions. 0: off (an inverted element stops the run)."},

  {"mechanics.end_time", PP_KEY_REAL, "s", "us", "100 us", 1e-9, 60, NULL,
   "Stage 1 stops at this time after the start of the stroke even if the needle has not finished its "
   "trajectory (the stroke's time, also in a quasi-static stroke); the default stops in the pre-puncture "
   "indentation (100 us at 0.5 m/s is 50 um of travel)."},

  {"needle.preset", PP_KEY_CHOICE, NULL, NULL, "none", 1, 0, "none|dermaroller|pen|polymer",
   "Needle preset of a device (host/needle.c gives the source of each value): dermaroller (Kalluri 2011: "
   "770 um long, 140 um base, 4 um tip), pen (a 0.25 mm cartridge needle with a half-sine stroke) or polymer "
   "(the moulded microneedle of Olatunji 2013). Its needle.* values replace the defaults; needle keys given "
   "in the file or by --set still win, wherever they are written."},
  {"needle.length", PP_KEY_REAL, "m", "mm", "1.0 mm", 0.1 * MM, 5 * MM, NULL,
   "Needle length from base to tip; dermaroller needles are 0.5-1.5 mm (Kalluri 2011)."},
  {"needle.tip_radius", PP_KEY_REAL, "m", "um", "4 um", 0.5 * UM, 100 * UM, NULL,
   "Radius of the rounded needle tip; 4 um for DermaRoller needles (Kalluri 2011)."},
  {"needle.base_diameter", PP_KEY_REAL, "m", "um", "140 um", 20 * UM, 1 * MM, NULL,
   "Needle diameter at its base, its widest; 140 um for DermaRoller needles (Kalluri 2011). With "
   "needle.cone_half_angle 0 the needle is a cone from the tip to this base."},
  {"needle.cone_half_angle", PP_KEY_REAL, "rad", "degree", "0 degree", 0, M_PI / 2, NULL,
   "Half-angle psi of the needle's cone, more than 0 and at most 90 degrees (90: a flat end, a punch). 0 "
   "derives it for a cone from the tip to the base, tan psi = (base_diameter/2 - tip_radius) / (length - 2 "
   "tip_radius), about atan(base radius / length): 4.95 degrees for the DermaRoller (host/needle.h)."},
  {"needle.shaft_diameter", PP_KEY_REAL, "m", "um", "0 um", 0, 2 * MM, NULL,
   "Diameter of the cylindrical shaft the cone widens into; 0 means needle.base_diameter. The cone must "
   "reach it within the needle length."},
  {"needle.friction_coefficient", PP_KEY_REAL, "", "", "0.2", 0, 2, NULL,
   "Coulomb friction coefficient of the skin on the needle; 0 is frictionless (the analytic checks). 0.2 "
   "(0.1-0.5) is PHYSICS.md section 0's start point, unconfirmed, to be calibrated on the post-puncture "
   "force slope; dry skin on steel and other smooth solids gives 0.2-0.5, typically 0.5, moist skin above 1 "
   "(Derler & Gerhardt 2012, Tribol Lett 45:1), needles sliding in tissue 0.12-0.34 (ASME MSEC 2021, paper "
   "V001T03A008)."},
  {"needle.insertion_depth", PP_KEY_REAL, "m", "mm", "0.5 mm", 10 * UM, 5 * MM, NULL,
   "Depth of the needle tip below the undeformed skin surface at the end of insertion; must be "
   "less than the needle length."},
  {"needle.approach_gap", PP_KEY_REAL, "m", "um", "0 um", 0, 5 * MM, NULL,
   "Height of the needle tip above the skin surface at the start of the stroke: it travels this far "
   "before it touches; 0 starts with the tip on the surface."},
  {"needle.insertion_speed", PP_KEY_REAL, "m/s", "m/s", "0.5 m/s", 1e-6, 2, NULL,
   "Tip speed during insertion (the peak speed with speed_profile half_sine); 0.5 m/s derived from a "
   "pen's stroke rate times stroke length (PHYSICS.md section 0)."},
  {"needle.speed_profile", PP_KEY_CHOICE, NULL, NULL, "constant", 1, 0, "constant|half_sine",
   "Speed over insertion and over withdrawal: constant, or half_sine, a pen stroke that starts and stops "
   "at rest, v_peak sin(pi t / T) with v_peak the phase's speed and T = pi D / (2 v_peak), so that it "
   "covers the phase's travel D (host/needle.h)."},
  {"needle.dwell", PP_KEY_REAL, "s", "us", "0 us", 0, 0.1, NULL,
   "Time the needle rests at full depth between insertion and withdrawal."},
  {"needle.stagger", PP_KEY_REAL, "s", "us", "0 us", 0, 0.1, NULL,
   "Delay between the starts of successive rows of needles along y (the mesh.refine_y order): the row at "
   "refine_y[j] starts its stroke j x stagger after the first, as a roller's turning drum brings one row "
   "after another into the skin; 0 starts every needle at once (a pen's stamp). The run lasts until the "
   "last needle's stroke ends (or mechanics.end_time)."},
  {"needle.withdrawal_speed", PP_KEY_REAL, "m/s", "m/s", "0 m/s", 0, 2, NULL,
   "Tip speed while the needle withdraws to its start (the peak speed with half_sine); 0 means "
   "needle.insertion_speed."},
  {"needle.tilt", PP_KEY_REAL, "rad", "degree", "0 degree", -M_PI / 3, M_PI / 3, NULL,
   "Angle of the needle from the surface normal, a turn about the y axis (right-hand rule: a positive "
   "tilt moves the tip towards -x as it goes in); its axis and its motion tilt together. Roller needles "
   "enter obliquely (PHYSICS.md 3.1); 0 is a perpendicular stroke. The insertion depth stays vertical."},

  {"treatment.puncture_density", PP_KEY_REAL, "m-2", "cm-2", "250 cm-2", 1 * PER_CM2,
   2000 * PER_CM2, NULL, "Punctures per skin area in one session; 200-300 per cm2 (secondary sources)."},
  {"treatment.sessions", PP_KEY_INTEGER, "", "", "4", 1, 20, NULL,
   "Number of treatment sessions; clinical trials use 3-6."},
  {"treatment.session_interval", PP_KEY_REAL, "s", "d", "28 d", 1 * DAY, 365 * DAY, NULL,
   "Time between the starts of two sessions; trials use 2-6 weeks."},

  {"healing.duration", PP_KEY_REAL, "s", "d", "180 d", 1 * DAY, 3650 * DAY, NULL,
   "Simulated healing time, counted from the first session; must outlast the last session."},
  {"healing.first_step", PP_KEY_REAL, "s", "min", "1 min", 1, 1 * DAY, NULL,
   "Stage-2 time step tried first at the start of each session (the release begins): growth factors "
   "rise within minutes and decay within hours (PHYSICS.md section 5.3); the error controller then "
   "grows or shrinks it."},
  {"healing.step_growth", PP_KEY_REAL, "", "", "2", 1.05, 5, NULL,
   "Largest factor by which the error controller lets the stage-2 step grow from one step to the "
   "next (steps are also cut to land on sessions and output times)."},
  {"healing.tolerance", PP_KEY_REAL, "", "", "1e-2", 1e-8, 0.1, NULL,
   "Relative tolerance of the stage-2 error controller (step doubling): a step is accepted when the "
   "difference between one step and two half steps is at most tolerance x (|value| + scale) in every "
   "node and component, scale being each growth factor's half-saturation level (or its resting "
   "level), the resting fibroblast density and the normal collagen content; rejected steps are "
   "retried shorter and logged. The per-node reaction integrator runs at tolerance / 100."},
  {"healing.max_step", PP_KEY_REAL, "s", "h", "24 h", 60, 30 * DAY, NULL,
   "Largest stage-2 time step (months of healing at about a step per day)."},
  {"healing.solver_tolerance", PP_KEY_REAL, "", "", "1e-8", 1e-15, 1e-3, NULL,
   "Relative residual at which stage-2 conjugate gradients stop (Jacobi-weighted norm, host/solver.h); "
   "1e-8 keeps the solves' error far below the time error healing.tolerance allows; "
   "with runtime.precision float a value below 1e-6 is raised to 1e-6 (with a warning), which float "
   "arithmetic can reach."},
  {"healing.preconditioner", PP_KEY_CHOICE, NULL, NULL, "jacobi", 1, 0, "jacobi|z_lines",
   "Preconditioner of stage-2 conjugate gradients: jacobi (the diagonal) or z_lines (exact solves along "
   "each vertical node column, for the strong vertical coupling of the thin surface layers; generated "
   "meshes only, an imported mesh falls back to the diagonal). Both give the same bits on any rank count; "
   "z_lines saves 20 % of the iterations of the default case but costs 12 % more time on a CPU (host/diffusion.h)."},
  {"healing.solver_max_iterations", PP_KEY_INTEGER, "", "", "10000", 10, 1000000, NULL,
   "Conjugate-gradient iterations allowed per stage-2 step; reaching it stops the run with the step, "
   "time and residual."},
  {"healing.concentration_floor", PP_KEY_REAL, "kg/m3", "ng/mL", "1e-9 ng/mL", 0, 1e-6, NULL,
   "A growth factor whose largest concentration falls below this is set to zero until the next release "
   "(the mass removed is logged): one PDGF molecule in a (10 um)^3 element is 0.05 ng/mL, so 1e-9 ng/mL "
   "carries no information, while solving it would cost hundreds of CG iterations per step. 0 keeps "
   "every field to the end."},
  {"healing.initial_perturbation", PP_KEY_REAL, "", "", "0", -0.5, 0.5, NULL,
   "A verification aid: start stage 2 from the resting state disturbed uniformly by this relative amount "
   "(fibroblasts x (1 + value); each growth factor + value x its half-saturation level); 0 starts at rest."},
  {"healing.channel_library", PP_KEY_STRING, NULL, NULL, "", 1, 0, NULL,
   "Channel library (HDF5, written by stage 1 as DIR/channels.h5) whose entry gives each channel's "
   "injury: the eroded plus damage-weighted volume per (depth, radius) bin around the needle axis, "
   "placed at every needle axis. Empty: the channel is the needle's volume at full insertion (a cone "
   "frustum). A relative path is taken from the current folder."},
  {"healing.channel_entry", PP_KEY_STRING, NULL, NULL, "", 1, 0, NULL,
   "Entry of healing.channel_library to use (its name, e.g. dermaroller_d500um_v0.5mps_forearm_normal); "
   "empty: the library's only entry."},
  {"healing.platelet_release_time", PP_KEY_REAL, "s", "min", "10 min", 1, 1 * DAY, NULL,
   "Time constant tau_1 of the platelet phase of each session's release, e^(-t/tau_1)/tau_1 "
   "(degranulation takes minutes; PHYSICS.md 6.4, UNCONFIRMED)."},
  {"healing.macrophage_release_time", PP_KEY_REAL, "s", "d", "4 d", 60, 60 * DAY, NULL,
   "Time constant tau_2 of the macrophage phase of each session's release, e^(-t/tau_2)/tau_2 "
   "(tau_mac about 3-5 days; PHYSICS.md 6.4, UNCONFIRMED)."},
  {"healing.diffusivity_factors", PP_KEY_REAL_LIST, "", "", "[1, 1, 1, 1, 1]", 1e-6, 1e3, NULL,
   "Growth-factor diffusivity of each skin layer, from the stratum corneum down, relative to each "
   "species' diffusivity; five values. No layer-resolved data were found (PHYSICS.md section 5.2), so "
   "the default is uniform."},
  {"healing.pdgf.diffusivity", PP_KEY_REAL, "m2/s", "m2/s", "1e-11 m2/s", 1e-14, 1e-8, NULL,
   "Effective diffusivity of the PDGF-like growth factor in the dermis; 1e-11 m2/s is 10x below free "
   "diffusion of a 30 kDa protein, for ECM binding and tortuosity (PHYSICS.md section 5.2)."},
  {"healing.pdgf.decay_rate", PP_KEY_REAL, "1/s", "1/d", "15 1/d", 0, 1, NULL,
   "First-order decay rate k = ln 2 / half-life of the PDGF-like factor in tissue; 15 per day (half-life "
   "1.1 h) as in Jin 2011 (PHYSICS.md section 5.3)."},
  {"healing.pdgf.release", PP_KEY_REAL, "kg/m3", "ng/mL", "17.5 ng/mL", 0, 1e-2, NULL,
   "PDGF-like factor released per injured volume by platelets when a session's channels fill with "
   "clotting blood (over healing.platelet_release_time): serum PDGF, 17.5 ng/mL (Bowen-Pope 1984; "
   "PHYSICS.md section 5.4)."},
  {"healing.pdgf.macrophage_release", PP_KEY_REAL, "kg/m3", "ng/mL", "840 ng/mL", 0, 1, NULL,
   "PDGF-like factor released per injured volume by the macrophages of the injury over the macrophage "
   "phase (healing.macrophage_release_time): 0.07 pg/cell/day (Jin 2011, macrophage TGF-beta; the same "
   "assumed for PDGF) x 3000 macrophages per mm3 of injured tissue (assumed, the resident fibroblast "
   "density; UNCONFIRMED) x 4 days."},
  HEALING_SECRETION("pdgf", "PDGF-like", "0 pg/d",
                    "0: PDGF after an injury comes from platelets and macrophages (the release and its time "
                    "course), not from an autocrine loop of dermal fibroblasts."),
  {"healing.tgf_beta.diffusivity", PP_KEY_REAL, "m2/s", "m2/s", "1e-11 m2/s", 1e-14, 1e-8, NULL,
   "Effective diffusivity of the TGF-beta-like growth factor in the dermis (25 kDa dimer; as PDGF, "
   "PHYSICS.md section 5.2)."},
  {"healing.tgf_beta.decay_rate", PP_KEY_REAL, "1/s", "1/d", "15 1/d", 0, 1, NULL,
   "First-order decay rate of the TGF-beta-like factor; 15 per day in the tissue model of Jin 2011 "
   "(PHYSICS.md section 5.3; an ECM-bound pool would last about a day)."},
  {"healing.tgf_beta.macrophage_release", PP_KEY_REAL, "kg/m3", "ng/mL", "840 ng/mL", 0, 1, NULL,
   "TGF-beta-like factor released per injured volume by the macrophages of the injury over the "
   "macrophage phase: 0.07 pg/cell/day (Jin 2011) x 3000 macrophages per mm3 (assumed; UNCONFIRMED) "
   "x 4 days."},
  {"healing.tgf_beta.release", PP_KEY_REAL, "kg/m3", "ng/mL", "20 ng/mL", 0, 1e-2, NULL,
   "Concentration of the TGF-beta-like factor released in the injured volume; serum TGF-beta1 is about "
   "20-50 ng/mL, mostly latent (unconfirmed, PHYSICS.md section 5.4)."},
  HEALING_SECRETION("tgf_beta", "TGF-beta-like", "0.004 pg/d",
                    "0.004 pg/cell/day is Jin 2011's fibroblast TGF-beta secretion (PHYSICS.md 6.4); its loop gain "
                    "at rest, sigma Nbar/Ks = 12 per day with the defaults, stays below the decay rate, 15 per day."),
  {"healing.fibroblasts.motility", PP_KEY_REAL, "m2/s", "m2/s", "4e-14 m2/s", 0, 1e-10, NULL,
   "Random motility D_n of dermal fibroblasts: speed 20 um/h, persistence 1 h, D = v^2 tau/3 (PHYSICS.md "
   "6.4; 1e-14 to 1e-13 m2/s)."},
  {"healing.fibroblasts.chemotactic_sensitivity", PP_KEY_REAL, "m5.kg-1.s-1", "m2/s/(ng/mL)",
   "1e-13 m2/s/(ng/mL)", 0, 1e-3, NULL,
   "Chemotactic sensitivity chi of fibroblasts up the chemoattractant's gradient (flux chi n grad g): "
   "1e-13 m2/s per ng/mL gives about 10 um/h up a 1 ng/mL per 100 um gradient (UNCONFIRMED, PHYSICS.md "
   "6.4 says calibrate). The resting-state check refuses a chi that makes unwounded tissue pattern."},
  {"healing.fibroblasts.chemoattractant", PP_KEY_CHOICE, NULL, NULL, "pdgf", 1, 0, "pdgf|tgf_beta",
   "Growth factor whose gradient fibroblasts climb (PDGF is the main fibroblast chemoattractant)."},
  {"healing.fibroblasts.mitogen", PP_KEY_CHOICE, NULL, NULL, "pdgf", 1, 0, "pdgf|tgf_beta",
   "Growth factor that raises fibroblast proliferation (PDGF)."},
  {"healing.fibroblasts.proliferation_rate", PP_KEY_REAL, "1/s", "1/d", "0.25 1/d", 0, 1e-3, NULL,
   "Baseline (unstimulated) fibroblast proliferation r0; must exceed the apoptosis rate, and the carrying "
   "capacity then follows from homeostasis, K = Nbar/(1 - apoptosis/r0) (UNCONFIRMED, PHYSICS.md 6.4)."},
  {"healing.fibroblasts.mitogen_proliferation_rate", PP_KEY_REAL, "1/s", "1/d", "0.674 1/d", 0, 1e-3, NULL,
   "Extra proliferation r1 at a saturating mitogen level: r0 + r1 = 0.924 per day, an 18 h doubling "
   "time (Jin 2011, PHYSICS.md 6.4)."},
  {"healing.fibroblasts.mitogen_half_saturation", PP_KEY_REAL, "kg/m3", "ng/mL", "1 ng/mL", 1e-12, 1e-3, NULL,
   "Mitogen level Kr of half the extra proliferation (0.1-10 ng/mL, UNCONFIRMED, PHYSICS.md 6.4)."},
  {"healing.fibroblasts.apoptosis_rate", PP_KEY_REAL, "1/s", "1/d", "0.12 1/d", 0, 1e-3, NULL,
   "Fibroblast apoptosis rate delta_n, 0.12 per day (Jin 2011, PHYSICS.md 6.4)."},
  {"healing.fibroblasts.resting_density", PP_KEY_REAL, "m-3", "mm-3", "3000 mm-3", 1, 1e16, NULL,
   "Fibroblast density Nbar of unwounded dermis, 2100-4100 per mm3 (Exp Dermatol 2003 12:403, PHYSICS.md "
   "6.4)."},
  {"healing.collagen.normal_content", PP_KEY_REAL, "kg/m3", "g/cm3", "0.2 g/cm3", 1, 2000, NULL,
   "Collagen (types I + III) per volume of unwounded dermis, about 0.2 g/cm3 (70-80 % of a 25-30 % dry "
   "mass; UNCONFIRMED, PHYSICS.md 6.4)."},
  {"healing.collagen.type_III_fraction", PP_KEY_REAL, "", "", "0.15", 0, 0.9, NULL,
   "Share of type III in the collagen of unwounded dermis: 15 %, type I 80 % (Adv Wound Care 2015, "
   "PHYSICS.md 7.1; the rest, types IV-XVII, is not modelled)."},
  {"healing.collagen.type_I_degradation_rate", PP_KEY_REAL, "1/s", "1/d", "1.266e-4 1/d", 0, 1e-3, NULL,
   "Turnover of type I collagen at the resting fibroblast density (scaled by n/Nbar): ln 2/15 years, the "
   "half-life of skin collagen (Verzijl 2000, UNCONFIRMED, PHYSICS.md 7.1)."},
  {"healing.collagen.type_III_degradation_rate", PP_KEY_REAL, "1/s", "1/d", "0.01667 1/d", 0, 1e-3, NULL,
   "Turnover of type III collagen at the resting fibroblast density: 1/60 per day, so that wound type "
   "III is removed over the months of remodelling (UNCONFIRMED, PHYSICS.md 6.4). Sets the resting type III "
   "synthesis through homeostasis."},
  {"healing.collagen.maturation_rate", PP_KEY_REAL, "1/s", "1/d", "1e-4 1/d", 0, 1e-3, NULL,
   "Conversion k31 of type III into type I. Homeostasis needs k31 <= type_I_degradation_rate x (1 - f3)/f3 "
   "(7.2e-4 per day with the defaults): PHYSICS.md 6.4's 1/60 per day would need a negative type I "
   "synthesis, and the resting-state check refuses it."},
  {"healing.collagen.type_III_stimulation", PP_KEY_REAL, "", "", "374.0", 0, 1e4, NULL,
   "Factor a3 by which a saturating stimulus multiplies type III synthesis, 1 + a3 g/(Kc + g). Calibrated "
   "with a1 (their ratio 3 kept) to Lotfi 2013's +53.2 % papillary collagen 8 weeks after 5 monthly "
   "sessions (README, the healing model's calibration; PHYSICS.md's 10-50 is UNCONFIRMED)."},
  {"healing.collagen.type_I_stimulation", PP_KEY_REAL, "", "", "124.7", 0, 1e4, NULL,
   "Factor a1 by which a saturating stimulus multiplies type I synthesis (calibrated with a3, a3/a1 = 3: "
   "type III is laid down first)."},
  {"healing.collagen.stimulus", PP_KEY_CHOICE, NULL, NULL, "tgf_beta", 1, 0, "pdgf|tgf_beta",
   "Growth factor that stimulates collagen synthesis (TGF-beta)."},
  {"healing.collagen.stimulus_half_saturation", PP_KEY_REAL, "kg/m3", "ng/mL", "1 ng/mL", 1e-12, 1e-3, NULL,
   "Stimulus level Kc of half the extra synthesis (UNCONFIRMED, PHYSICS.md 6.4)."},

  {"mesh.file", PP_KEY_STRING, NULL, NULL, "", 1, 0, NULL,
   "Gmsh mesh (MSH 2.2 or 4.1, ASCII or binary, 8-node hexahedra) to use instead of generating the "
   "block; empty: generate from mesh.* and skin.*. A relative path is taken from the current folder. "
   "Physical volumes named after the layers (stratum_corneum ... hypodermis) or tagged 1-5 from the "
   "surface down give each element its layer; see mesh.file_layer_map for other names."},
  {"mesh.file_length_unit", PP_KEY_REAL, "m", "m", "1 m", 1e-9, 1, NULL,
   "The length one coordinate unit of mesh.file stands for (1 m for the bundled meshes; 1 mm for a "
   "mesh drawn in millimetres)."},
  {"mesh.file_layer_map", PP_KEY_STRING, NULL, NULL, "", 1, 0, NULL,
   "Extra physical-volume names of mesh.file and the layer each belongs to, as NAME=LAYER pairs "
   "separated by commas, e.g. \"scar=reticular_dermis, epi=viable_epidermis\"."},
  {"mesh.length_x", PP_KEY_REAL, "m", "um", "632 um", 20 * UM, 50 * MM, NULL,
   "Lateral size of the skin block in x; 632 um is the spacing of a square lattice of 250 "
   "punctures per cm2, so a periodic cell with one needle stands for a whole session."},
  {"mesh.length_y", PP_KEY_REAL, "m", "um", "632 um", 20 * UM, 50 * MM, NULL,
   "Lateral size of the skin block in y (see mesh.length_x)."},
  {"mesh.side_x", PP_KEY_CHOICE, NULL, NULL, "periodic", 1, 0, "free|symmetric|periodic",
   "Boundary of the two x faces: free, symmetric (mirror plane), or periodic (the nodes of the "
   "two faces are one node, so the block stands for a lattice)."},
  {"mesh.side_y", PP_KEY_CHOICE, NULL, NULL, "periodic", 1, 0, "free|symmetric|periodic",
   "Boundary of the two y faces (see mesh.side_x)."},
  {"mesh.refine_x", PP_KEY_REAL_LIST, "m", "um", "[316 um]", 0, 50 * MM, NULL,
   "x positions of the vertical lines (needle axes) the lateral grading refines towards; each is "
   "a node line of the mesh. Empty: uniform spacing mesh.lateral_fine_size."},
  {"mesh.refine_y", PP_KEY_REAL_LIST, "m", "um", "[316 um]", 0, 50 * MM, NULL,
   "y positions of the refined vertical lines (see mesh.refine_x)."},
  {"mesh.lateral_fine_size", PP_KEY_REAL, "m", "um", "8 um", 0.1 * UM, 1 * MM, NULL,
   "Lateral element size within mesh.lateral_fine_radius of a refined line (a few um resolves a "
   "4 um needle tip; the treatment patch uses 10-20 um everywhere)."},
  {"mesh.lateral_fine_radius", PP_KEY_REAL, "m", "um", "24 um", 0, 10 * MM, NULL,
   "Half-width of the band around each refined line that keeps the fine lateral size."},
  {"mesh.lateral_growth", PP_KEY_REAL, "", "", "1.3", 1, 2, NULL,
   "Ratio of neighbouring lateral element sizes outside the fine bands (geometric coarsening)."},
  {"mesh.lateral_max_size", PP_KEY_REAL, "m", "um", "60 um", 0.1 * UM, 5 * MM, NULL,
   "Largest lateral element size."},
  {"mesh.surface_size", PP_KEY_REAL, "m", "um", "5 um", 0.1 * UM, 1 * MM, NULL,
   "Element height at the skin surface."},
  {"mesh.depth_growth", PP_KEY_REAL, "", "", "1.3", 1, 2, NULL,
   "Ratio of neighbouring element heights going down (geometric coarsening with depth)."},
  {"mesh.depth_max_size", PP_KEY_REAL, "m", "um", "300 um", 0.1 * UM, 5 * MM, NULL,
   "Largest element height."},
  {"mesh.min_elements_per_layer", PP_KEY_INTEGER, "", "", "2", 1, 100, NULL,
   "Fewest element layers across each skin layer's thickness (thin layers such as the stratum "
   "corneum still get this many)."},
  {"mesh.dej_amplitude", PP_KEY_REAL, "m", "um", "0 um", 0, 200 * UM, NULL,
   "Peak-to-trough height of the dermal-epidermal junction undulation (rete ridges), applied by "
   "moving nodes; 0 keeps the junction flat; 20-100 um in the literature (unconfirmed)."},
  {"mesh.dej_wavelength", PP_KEY_REAL, "m", "um", "110 um", 10 * UM, 1 * MM, NULL,
   "Wavelength of the junction undulation; 110 um derived from 84 papillae per mm2. With periodic "
   "sides the block length must be a whole number of wavelengths."},

  {"output.growth_factor_unit", PP_KEY_CHOICE, NULL, NULL, "ng/mL", 1, 0, "ng/mL|pg/mL|kg/m3",
   "Unit of the growth factors in the healing series, step log and summaries."},
  {"output.healing_interval", PP_KEY_REAL, "s", "d", "1 d", 60, 365 * DAY, NULL,
   "Time between two healing-stage outputs."},
  {"output.checkpoint_interval", PP_KEY_REAL, "s", "d", "28 d", 3600, 3650 * DAY, NULL,
   "Simulated time between two stage-2 checkpoints (the last two are kept; one is also written at "
   "the end); `pinprick run --restart` continues from the newest."},
  {"output.mechanics_times", PP_KEY_REAL_LIST, "s", "us", "[25 us, 50 us, 75 us, 100 us]", 0, 60, NULL,
   "Physical times, counted from the start of the needle's stroke and in increasing order, at which "
   "the mechanics fields are written; none after mechanics.end_time."},

  {"runtime.precision", PP_KEY_CHOICE, NULL, NULL, "double", 1, 0, "double|float",
   "Floating-point type of the OpenCL kernels; float needs no fp64 device support but is less "
   "accurate."},
  {"runtime.platform", PP_KEY_INTEGER, "", "", "-1", -1, 64, NULL,
   "Index of the OpenCL platform to use; -1 picks one automatically."},
  {"runtime.device", PP_KEY_INTEGER, "", "", "-1", -1, 64, NULL,
   "Index of the OpenCL device within the platform; -1 picks one automatically."},
  {"runtime.allow_shared_device", PP_KEY_BOOLEAN, NULL, NULL, "false", 1, 0, NULL,
   "Allow two MPI ranks to use the same GPU; CPU devices such as PoCL are always shared."},
  {"runtime.kernel_profiling", PP_KEY_BOOLEAN, NULL, NULL, "false", 1, 0, NULL,
   "Time every OpenCL kernel with profiling events and print a table at the end of the run."},
};
enum { KEY_COUNT = (int)(sizeof key_table / sizeof key_table[0]) };

const pp_key_spec *pp_config_keys(int *count)
{
  if (count) *count = KEY_COUNT;
  return key_table;
}

static int key_index(const char *path)
{
  if (!path) return -1;
  for (int i = 0; i < KEY_COUNT; ++i)
    if (strcmp(key_table[i].path, path) == 0) return i;
  return -1;
}

const pp_key_spec *pp_config_find_key(const char *path)
{
  int index = key_index(path);
  return index < 0 ? NULL : &key_table[index];
}

/* A section is a proper prefix of some key at a dot boundary ("skin", "skin.hypodermis"). */
static int is_section(const char *path)
{
  size_t length = strlen(path);
  if (length == 0) return 0;
  for (int i = 0; i < KEY_COUNT; ++i)
    if (strncmp(key_table[i].path, path, length) == 0 && key_table[i].path[length] == '.') return 1;
  return 0;
}

/* "length, tip_radius, ...": the names directly inside a section, for messages. */
static void list_section_members(const char *section, char *out, size_t size)
{
  size_t section_length = strlen(section);
  out[0] = '\0';
  char previous[128] = "";
  for (int i = 0; i < KEY_COUNT; ++i) {
    const char *path = key_table[i].path;
    if (strncmp(path, section, section_length) != 0 || path[section_length] != '.') continue;
    const char *member = path + section_length + 1;
    size_t member_length = strcspn(member, ".");
    if (strlen(previous) == member_length && strncmp(previous, member, member_length) == 0) continue;
    snprintf(previous, sizeof previous, "%.*s", (int)member_length, member);
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s%s", used ? ", " : "", previous);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Suggestions for unknown keys: optimal-string-alignment distance (a swap of two neighbouring */
/* letters, the commonest typo, counts as one edit).                                          */
/* ------------------------------------------------------------------------------------------ */

static int edit_distance(const char *a, const char *b)
{
  enum { MAX_LENGTH = 127 };
  size_t n = strlen(a), m = strlen(b);
  if (n > MAX_LENGTH || m > MAX_LENGTH) return 1000;
  static int table[MAX_LENGTH + 1][MAX_LENGTH + 1];
  for (size_t i = 0; i <= n; ++i) table[i][0] = (int)i;
  for (size_t j = 0; j <= m; ++j) table[0][j] = (int)j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      int best = table[i - 1][j] + 1;
      if (table[i][j - 1] + 1 < best) best = table[i][j - 1] + 1;
      if (table[i - 1][j - 1] + cost < best) best = table[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && table[i - 2][j - 2] + 1 < best)
        best = table[i - 2][j - 2] + 1;
      table[i][j] = best;
    }
  }
  return table[n][m];
}

static const char *last_component(const char *path)
{
  const char *dot = strrchr(path, '.');
  return dot ? dot + 1 : path;
}

/* How far a known name is from what the user wrote: the whole path, or only its last part (a
 * key written in the wrong section, e.g. "tip_radius" at the top level, is one edit away). */
static int suggestion_score(const char *unknown, const char *candidate)
{
  int whole = edit_distance(unknown, candidate);
  int leaf = edit_distance(last_component(unknown), last_component(candidate)) + 1;
  return whole < leaf ? whole : leaf;
}

/* Every key and every section, each once: the names a suggestion may offer. */
static int candidate_names(const char *names[], int capacity, char storage[][128])
{
  int count = 0;
  for (int i = 0; i < KEY_COUNT && count < capacity; ++i) {
    const char *path = key_table[i].path;
    for (const char *dot = strchr(path, '.'); dot && count < capacity; dot = strchr(dot + 1, '.')) {
      char section[128];
      snprintf(section, sizeof section, "%.*s", (int)(dot - path), path);
      int seen = 0;
      for (int k = 0; k < count; ++k) seen |= strcmp(names[k], section) == 0;
      if (!seen) {
        snprintf(storage[count], 128, "%s", section);
        names[count] = storage[count];
        ++count;
      }
    }
    if (count < capacity) names[count++] = path;
  }
  return count;
}

/* "; did you mean 'needle.length'?" or "" when nothing is close. */
static void suggest_keys(const char *unknown, char *out, size_t size)
{
  enum { CAPACITY = 4 * KEY_COUNT };
  const char *names[CAPACITY];
  static char storage[CAPACITY][128];
  int count = candidate_names(names, CAPACITY, storage);
  int threshold = (int)strlen(last_component(unknown)) / 3;
  if (threshold < 2) threshold = 2;
  int best = 1000;
  for (int i = 0; i < count; ++i) {
    int score = suggestion_score(unknown, names[i]);
    if (score < best) best = score;
  }
  out[0] = '\0';
  if (best > threshold) return;
  int shown = 0;
  for (int i = 0; i < count && shown < 3; ++i) {
    if (suggestion_score(unknown, names[i]) != best) continue;
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s'%s'", shown ? " or " : "; did you mean ", names[i]);
    ++shown;
  }
  size_t used = strlen(out);
  snprintf(out + used, size - used, "?");
}

/* ------------------------------------------------------------------------------------------ */
/* Problems: collected while reading, sorted by position, raised as one PP_ERR_CONFIG.          */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  int line, column, order;
  char *text;
} config_problem;

typedef struct {
  config_problem *items;
  int count, capacity;
  int out_of_memory;
} problem_list;

/* One problem line "LOCATION: KEY.PATH: ...". line 0 means the location has no position
 * (--set, defaults). */
static void add_problem(problem_list *problems, const char *location, int line, int column,
                        const char *path, const char *format, ...) __attribute__((format(printf, 6, 7)));
static void add_problem(problem_list *problems, const char *location, int line, int column,
                        const char *path, const char *format, ...)
{
  char detail[1024], text[1400];
  va_list args;
  va_start(args, format);
  vsnprintf(detail, sizeof detail, format, args);
  va_end(args);
  if (line > 0)
    snprintf(text, sizeof text, "%s:%d:%d: %s: %s", location, line, column, path, detail);
  else
    snprintf(text, sizeof text, "%s: %s: %s", location, path, detail);
  if (problems->count == problems->capacity) {
    int capacity = problems->capacity ? 2 * problems->capacity : 16;
    config_problem *grown = realloc(problems->items, (size_t)capacity * sizeof *grown);
    if (!grown) {
      problems->out_of_memory = 1;
      return;
    }
    problems->items = grown;
    problems->capacity = capacity;
  }
  char *copy = strdup(text);
  if (!copy) {
    problems->out_of_memory = 1;
    return;
  }
  problems->items[problems->count] = (config_problem){line, column, problems->count, copy};
  ++problems->count;
}

static void free_problems(problem_list *problems)
{
  for (int i = 0; i < problems->count; ++i) free(problems->items[i].text);
  free(problems->items);
  *problems = (problem_list){0};
}

static int compare_problems(const void *a, const void *b)
{
  const config_problem *x = a, *y = b;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  if (x->column != y->column) return x->column < y->column ? -1 : 1;
  return (x->order > y->order) - (x->order < y->order);
}

/* Raise the collected problems as one error (one line each), free them, return the code. The
 * error record holds 8 KiB, so a flood of problems ends with a count of the rest. */
static pp_err raise_problems(problem_list *problems, const char *file, int line, const char *func)
{
  if (problems->out_of_memory) {
    free_problems(problems);
    return pp_error_raise(PP_ERR_MEMORY, file, line, func, "out of memory while collecting config problems");
  }
  qsort(problems->items, (size_t)problems->count, sizeof *problems->items, compare_problems);
  enum { MESSAGE_BUDGET = 7600 };
  char message[MESSAGE_BUDGET + 200];
  size_t used = 0;
  message[0] = '\0';
  for (int i = 0; i < problems->count; ++i) {
    size_t length = strlen(problems->items[i].text);
    if (used + length + 1 > MESSAGE_BUDGET) {
      snprintf(message + used, sizeof message - used, "%s... and %d more problems", used ? "\n" : "",
               problems->count - i);
      break;
    }
    used += (size_t)snprintf(message + used, sizeof message - used, "%s%s", used ? "\n" : "",
                             problems->items[i].text);
  }
  free_problems(problems);
  return pp_error_raise(PP_ERR_CONFIG, file, line, func, "%s", message);
}

#define RAISE_PROBLEMS(problems) return raise_problems((problems), __FILE__, __LINE__, __func__)

/* ------------------------------------------------------------------------------------------ */
/* YAML to a tree. Anchors and aliases are recorded, not resolved: the walker rejects them     */
/* (a case file should say each value where it is used).                                      */
/* ------------------------------------------------------------------------------------------ */

typedef enum { NODE_SCALAR, NODE_SEQUENCE, NODE_MAPPING, NODE_ALIAS } node_kind;

typedef struct tree_node tree_node;
struct tree_node {
  node_kind kind;
  char *scalar;       /* NODE_SCALAR: the text */
  int is_plain;       /* NODE_SCALAR: unquoted (only plain scalars can be YAML null) */
  int has_anchor;
  int line, column;   /* 1-based */
  tree_node **children; /* mapping: key, value, key, value, ...; sequence: the items */
  int child_count, child_capacity;
};

typedef struct {
  int failed;         /* the text is not a single readable YAML document */
  int line, column;   /* 1-based position of the problem */
  char problem[512];  /* what went wrong, with libyaml's context */
} yaml_failure;

static void free_tree(tree_node *node)
{
  if (!node) return;
  for (int i = 0; i < node->child_count; ++i) free_tree(node->children[i]);
  free(node->children);
  free(node->scalar);
  free(node);
}

static int append_child(tree_node *parent, tree_node *child)
{
  if (parent->child_count == parent->child_capacity) {
    int capacity = parent->child_capacity ? 2 * parent->child_capacity : 8;
    tree_node **grown = realloc(parent->children, (size_t)capacity * sizeof *grown);
    if (!grown) return 0;
    parent->children = grown;
    parent->child_capacity = capacity;
  }
  parent->children[parent->child_count++] = child;
  return 1;
}

static void record_failure(yaml_failure *failure, int line, int column, const char *format, ...)
  __attribute__((format(printf, 4, 5)));
static void record_failure(yaml_failure *failure, int line, int column, const char *format, ...)
{
  failure->failed = 1;
  failure->line = line;
  failure->column = column;
  va_list args;
  va_start(args, format);
  vsnprintf(failure->problem, sizeof failure->problem, format, args);
  va_end(args);
}

/* 1-based line of a byte offset (libyaml's reader errors give only an offset). */
static int line_of_offset(const char *text, size_t length, size_t offset)
{
  int line = 1;
  for (size_t i = 0; i < offset && i < length; ++i) line += text[i] == '\n';
  return line;
}

static void describe_libyaml_failure(const yaml_parser_t *parser, const char *text, size_t length,
                                     yaml_failure *failure)
{
  const char *problem = parser->problem ? parser->problem : "unknown problem";
  if (parser->error == YAML_READER_ERROR) {
    record_failure(failure, line_of_offset(text, length, parser->problem_offset), 1,
                   "%s (byte %zu%s)", problem, parser->problem_offset,
                   parser->problem_value >= 0 ? ", not valid UTF-8 text or a forbidden character" : "");
    return;
  }
  int line = (int)parser->problem_mark.line + 1, column = (int)parser->problem_mark.column + 1;
  if (parser->context)
    record_failure(failure, line, column, "%s (%s at line %d)", problem, parser->context,
                   (int)parser->context_mark.line + 1);
  else
    record_failure(failure, line, column, "%s", problem);
}

/* Parse text into *root (NULL when the stream holds no document). PP_ERR_MEMORY is the only
 * error raised; anything wrong with the text goes into *failure, with the partial tree kept
 * (its last key names where the problem is). */
static pp_err parse_yaml(const char *text, size_t length, tree_node **root, yaml_failure *failure)
{
  enum { MAX_DEPTH = 32 }; /* a valid case nests 3 deep; bound the stack against hostile input */
  *root = NULL;
  memset(failure, 0, sizeof *failure);
  yaml_parser_t parser;
  PP_CHECK(yaml_parser_initialize(&parser), PP_ERR_MEMORY, "out of memory starting the YAML parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);

  tree_node *stack[MAX_DEPTH];
  int depth = 0, document_count = 0, done = 0, out_of_memory = 0;
  while (!done && !failure->failed && !out_of_memory) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser, &event)) {
      if (parser.error == YAML_MEMORY_ERROR) out_of_memory = 1;
      else describe_libyaml_failure(&parser, text, length, failure);
      break;
    }
    int line = (int)event.start_mark.line + 1, column = (int)event.start_mark.column + 1;
    tree_node *node = NULL;
    switch (event.type) {
      case YAML_STREAM_END_EVENT: done = 1; break;
      case YAML_DOCUMENT_START_EVENT:
        if (++document_count > 1)
          record_failure(failure, line, column,
                         "a config holds one YAML document, but a second one starts here");
        break;
      case YAML_SCALAR_EVENT:
      case YAML_ALIAS_EVENT:
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT:
        node = calloc(1, sizeof *node);
        if (!node) {
          out_of_memory = 1;
          break;
        }
        node->line = line;
        node->column = column;
        if (event.type == YAML_SCALAR_EVENT) {
          node->kind = NODE_SCALAR;
          node->scalar = strndup((const char *)event.data.scalar.value, event.data.scalar.length);
          node->is_plain = event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
          node->has_anchor = event.data.scalar.anchor != NULL;
          if (!node->scalar) out_of_memory = 1;
        } else if (event.type == YAML_ALIAS_EVENT) {
          node->kind = NODE_ALIAS;
        } else if (event.type == YAML_SEQUENCE_START_EVENT) {
          node->kind = NODE_SEQUENCE;
          node->has_anchor = event.data.sequence_start.anchor != NULL;
        } else {
          node->kind = NODE_MAPPING;
          node->has_anchor = event.data.mapping_start.anchor != NULL;
        }
        if (depth == 0 && !*root) *root = node;
        else if (depth == 0 || !append_child(stack[depth - 1], node)) {
          free_tree(node);
          out_of_memory |= depth > 0;
          break;
        }
        if (node->kind == NODE_SEQUENCE || node->kind == NODE_MAPPING) {
          if (depth == MAX_DEPTH)
            record_failure(failure, line, column, "nested more than %d levels deep", MAX_DEPTH);
          else
            stack[depth++] = node;
        }
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (depth > 0) --depth;
        break;
      default: break;
    }
    yaml_event_delete(&event);
  }
  yaml_parser_delete(&parser);
  if (out_of_memory) {
    free_tree(*root);
    *root = NULL;
    PP_RAISE(PP_ERR_MEMORY, "out of memory while reading YAML");
  }
  return PP_OK;
}

static int is_null_scalar(const tree_node *node)
{
  if (node->kind != NODE_SCALAR || !node->is_plain) return 0;
  const char *s = node->scalar;
  return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
         strcmp(s, "NULL") == 0;
}

/* The dotted path of the last key in a (partial) tree: where a syntax error was met. */
static void last_key_path(const tree_node *node, char *out, size_t size)
{
  out[0] = '\0';
  while (node && node->kind == NODE_MAPPING && node->child_count > 0) {
    int key_position = (node->child_count - 1) & ~1;
    const tree_node *key = node->children[key_position];
    if (key->kind != NODE_SCALAR) break;
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s%s", used ? "." : "", key->scalar);
    node = key_position + 1 < node->child_count ? node->children[key_position + 1] : NULL;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Values                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void free_value(pp_config_value *value)
{
  free(value->text);
  free(value->list);
  free(value->origin);
  memset(value, 0, sizeof *value);
}

/* "%.*g" that avoids an exponent where plain digits read better ("60", not "6e+01"). */
static int format_digits(double value, int precision, char *out, size_t size)
{
  snprintf(out, size, "%.*g", precision, value);
  double magnitude = fabs(value);
  int plain_range = magnitude >= 1e-4 && magnitude < 1e15;
  return !(plain_range && strchr(out, 'e'));
}

/* Shortest %g text that reads back to exactly value. */
static void format_shortest(double value, char *out, size_t size)
{
  for (int precision = 1; precision <= 17; ++precision)
    if (format_digits(value, precision, out, size) && strtod(out, NULL) == value) return;
  snprintf(out, size, "%.17g", value);
}

/* A value for people, at most 6 significant digits: in the display unit ("0.5 um") when that
 * is short and exact, else in SI ("60 s" rather than "0.000694444 d"). */
static void format_for_people(pp_units *units, double value_si, const char *si_unit,
                              const char *display_unit, char *out, size_t size)
{
  double shown = value_si;
  const char *unit = si_unit ? si_unit : "";
  if (units && display_unit && display_unit[0]) {
    if (pp_units_from_si(units, value_si, si_unit, display_unit, &shown) == PP_OK) {
      char probe[64];
      snprintf(probe, sizeof probe, "%.6g", shown);
      double back = strtod(probe, NULL);
      if (fabs(back - shown) <= 1e-9 * fabs(shown)) unit = display_unit;
      else shown = value_si;
    } else {
      shown = value_si; /* a table bug; show SI rather than fail while reporting something else */
      pp_error_clear();
    }
  }
  char number[64];
  int precision = 1;
  while (precision < 6 && !(format_digits(shown, precision, number, sizeof number) &&
                            fabs(strtod(number, NULL) - shown) <= 1e-9 * fabs(shown)))
    ++precision;
  format_digits(shown, precision, number, sizeof number);
  snprintf(out, size, unit[0] ? "%s %s" : "%s", number, unit);
}

/* A value that reads back to the identical double: the shortest display-unit text whose
 * conversion gives value_si exactly, else the shortest SI text (always exact). */
static void format_exactly(pp_units *units, double value_si, const char *si_unit,
                           const char *display_unit, char *out, size_t size)
{
  double shown;
  if (display_unit && display_unit[0] &&
      pp_units_from_si(units, value_si, si_unit, display_unit, &shown) == PP_OK) {
    for (int precision = 1; precision <= 17; ++precision) {
      char number[40];
      if (!format_digits(shown, precision, number, sizeof number)) continue;
      snprintf(out, size, "%s %s", number, display_unit);
      double back;
      if (pp_units_to_si(units, out, si_unit, &back, NULL, 0) == PP_OK && back == value_si) return;
    }
  }
  char number[40];
  format_shortest(value_si, number, sizeof number);
  snprintf(out, size, si_unit && si_unit[0] ? "%s %s" : "%s", number, si_unit ? si_unit : "");
}

static void range_for_people(pp_units *units, const pp_key_spec *spec, char *out, size_t size)
{
  char low[64], high[64];
  if (spec->type == PP_KEY_INTEGER) {
    if (spec->min == spec->max) snprintf(out, size, "%.0f only", spec->min);
    else snprintf(out, size, "%.0f to %.0f", spec->min, spec->max);
    return;
  }
  format_for_people(units, spec->min, spec->si_unit, spec->display_unit, low, sizeof low);
  format_for_people(units, spec->max, spec->si_unit, spec->display_unit, high, sizeof high);
  snprintf(out, size, "%s to %s", low, high);
}

static int has_range(const pp_key_spec *spec) { return spec->min <= spec->max; }

/* Inclusive, with a relative slack of 1e-12 so that "5 um" is inside [5 um, ...] whatever the
 * last bit of the unit conversion does. */
static int inside_range(const pp_key_spec *spec, double value)
{
  if (!has_range(spec)) return 1;
  double slack = 1e-12 * fmax(fabs(spec->min), fabs(spec->max));
  return value >= spec->min - slack && value <= spec->max + slack;
}

static const char *article_for(const char *words)
{
  return strchr("aeiouAEIOU", words[0]) ? "an" : "a";
}

/* "a length (m) between 0.5 um and 100 um": what a key accepts, for "expected ..." */
static void describe_expected(pp_units *units, const pp_key_spec *spec, char *out, size_t size)
{
  char range[160] = "";
  if (has_range(spec) && (spec->type == PP_KEY_REAL || spec->type == PP_KEY_REAL_LIST)) {
    char low[64], high[64];
    format_for_people(units, spec->min, spec->si_unit, spec->display_unit, low, sizeof low);
    format_for_people(units, spec->max, spec->si_unit, spec->display_unit, high, sizeof high);
    snprintf(range, sizeof range, " between %s and %s", low, high);
  } else if (has_range(spec) && spec->type == PP_KEY_INTEGER) {
    if (spec->min == spec->max) snprintf(range, sizeof range, " equal to %.0f", spec->min);
    else snprintf(range, sizeof range, " between %.0f and %.0f", spec->min, spec->max);
  }
  const char *words = spec->si_unit ? pp_units_dimension_name(spec->si_unit) : "";
  char unit[32] = "";
  if (spec->si_unit && spec->si_unit[0]) snprintf(unit, sizeof unit, " (%s)", spec->si_unit);
  switch (spec->type) {
    case PP_KEY_REAL:
      snprintf(out, size, "%s %s%s%s", article_for(words), words, unit, range);
      break;
    case PP_KEY_INTEGER: snprintf(out, size, "an integer%s", range); break;
    case PP_KEY_BOOLEAN: snprintf(out, size, "true or false"); break;
    case PP_KEY_STRING: snprintf(out, size, "a string"); break;
    case PP_KEY_CHOICE: {
      char choices[128];
      snprintf(choices, sizeof choices, "%s", spec->choices);
      for (char *c = choices; *c; ++c)
        if (*c == '|') *c = ',';
      snprintf(out, size, "one of: %s", choices);
      for (char *c = out; *c; ++c) /* "double,float" -> "double, float" reads better */
        if (*c == ',' && c[1] != ' ') {
          memmove(c + 2, c + 1, strlen(c + 1) + 1);
          c[1] = ' ';
        }
      break;
    }
    case PP_KEY_REAL_LIST: {
      char example[64];
      snprintf(example, sizeof example, "[1 %s, 2 %s]", spec->display_unit, spec->display_unit);
      snprintf(out, size, "a list of %ss%s, each%s, e.g. %s", words, unit, range, example);
      break;
    }
  }
}

/* The scalar as it appears in a message: quoted, shortened, control characters shown as '?'. */
static void quote_for_message(const char *text, char *out, size_t size)
{
  enum { SHOWN = 60 };
  char shown[SHOWN + 4];
  size_t i = 0;
  for (; text[i] && i < SHOWN; ++i) shown[i] = iscntrl((unsigned char)text[i]) ? '?' : text[i];
  shown[i] = '\0';
  snprintf(out, size, "'%s%s'", shown, text[i] ? "..." : "");
}

static void describe_node(const tree_node *node, char *out, size_t size)
{
  if (node->kind == NODE_MAPPING) snprintf(out, size, "a mapping (nested keys)");
  else if (node->kind == NODE_SEQUENCE) snprintf(out, size, "a list");
  else if (node->kind == NODE_ALIAS) snprintf(out, size, "an alias");
  else if (is_null_scalar(node)) snprintf(out, size, "nothing (an empty value)");
  else quote_for_message(node->scalar, out, size);
}

/* Where values of one load come from, and where its problems go. */
typedef struct {
  pp_config *config;
  const char *origin;        /* file name, "--set" or "default" */
  pp_value_source source;
  problem_list *problems;
} load_context;

static void value_problem(load_context *context, const tree_node *node, const char *path,
                          const char *format, ...) __attribute__((format(printf, 4, 5)));
static void value_problem(load_context *context, const tree_node *node, const char *path,
                          const char *format, ...)
{
  char detail[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(detail, sizeof detail, format, args);
  va_end(args);
  int positioned = context->source == PP_SOURCE_FILE || context->source == PP_SOURCE_PRESET;
  add_problem(context->problems, context->origin, positioned ? node->line : 0,
              positioned ? node->column : 0, path, "%s", detail);
}

/* One quantity (a REAL, or one item of a REAL_LIST) to SI, range-checked. */
static int convert_quantity(load_context *context, const pp_key_spec *spec, const tree_node *node,
                            const char *path, double *value)
{
  /* For one item of a list, the expectation is a single quantity. */
  pp_key_spec one_quantity = *spec;
  one_quantity.type = PP_KEY_REAL;
  char expected[320], found[400];
  describe_expected(context->config->units, &one_quantity, expected, sizeof expected);
  if (node->kind != NODE_SCALAR || is_null_scalar(node)) {
    describe_node(node, found, sizeof found);
    value_problem(context, node, path, "expected %s, found %s", expected, found);
    return 0;
  }
  if (pp_units_to_si_described(context->config->units, node->scalar, spec->si_unit, value, NULL, 0, found,
                               sizeof found) != PP_OK) {
    value_problem(context, node, path, "expected %s, found %s", expected, found);
    return 0;
  }
  if (!inside_range(spec, *value)) {
    quote_for_message(node->scalar, found, sizeof found);
    value_problem(context, node, path, "expected %s, found %s (out of range)", expected, found);
    return 0;
  }
  return 1;
}

static int parse_integer(const char *text, long *value)
{
  while (isspace((unsigned char)*text)) ++text;
  if (*text == '\0') return 0;
  char *end = NULL;
  errno = 0;
  long parsed = strtol(text, &end, 10);
  if (errno == ERANGE || end == text) return 0;
  while (isspace((unsigned char)*end)) ++end;
  if (*end != '\0') return 0;
  *value = parsed;
  return 1;
}

/* Convert one value node for spec into out (contents owned by out). Problems are added to the
 * context; returns 1 when the value is good. */
static int convert_value(load_context *context, const pp_key_spec *spec, const tree_node *node,
                         const char *path, pp_config_value *out)
{
  char expected[320], found[400];
  describe_expected(context->config->units, spec, expected, sizeof expected);
  memset(out, 0, sizeof *out);

  if (node->kind == NODE_ALIAS || node->has_anchor) {
    value_problem(context, node, path,
                  "expected a value written out in full, found a YAML %s (anchors and aliases are "
                  "not supported in case files)", node->kind == NODE_ALIAS ? "alias" : "anchor");
    return 0;
  }

  if (spec->type == PP_KEY_REAL_LIST) {
    if (node->kind != NODE_SEQUENCE) {
      describe_node(node, found, sizeof found);
      value_problem(context, node, path, "expected %s, found %s", expected, found);
      return 0;
    }
    int good = 1;
    double *list = node->child_count ? calloc((size_t)node->child_count, sizeof *list) : NULL;
    size_t text_size = 3;
    for (int i = 0; i < node->child_count; ++i)
      if (node->children[i]->kind == NODE_SCALAR) text_size += strlen(node->children[i]->scalar) + 2;
    char *text = calloc(text_size, 1);
    if ((node->child_count && !list) || !text) {
      free(list);
      free(text);
      context->problems->out_of_memory = 1;
      return 0;
    }
    strcat(text, "[");
    for (int i = 0; i < node->child_count; ++i) {
      const tree_node *item = node->children[i];
      char item_path[300];
      snprintf(item_path, sizeof item_path, "%s[%d]", path, i + 1);
      if (item->kind == NODE_ALIAS || item->has_anchor) {
        value_problem(context, item, item_path,
                      "expected a value written out in full, found a YAML %s (anchors and aliases are "
                      "not supported in case files)", item->kind == NODE_ALIAS ? "alias" : "anchor");
        good = 0;
        continue;
      }
      good &= convert_quantity(context, spec, item, item_path, &list[i]);
      if (item->kind == NODE_SCALAR) {
        if (i) strcat(text, ", ");
        strcat(text, item->scalar);
      }
    }
    strcat(text, "]");
    if (!good) {
      free(list);
      free(text);
      return 0;
    }
    out->list = list;
    out->list_length = node->child_count;
    out->text = text;
    out->is_set = 1;
    return 1;
  }

  if (node->kind != NODE_SCALAR) {
    describe_node(node, found, sizeof found);
    value_problem(context, node, path, "expected %s, found %s", expected, found);
    return 0;
  }
  const char *text = node->scalar;
  int is_null = is_null_scalar(node);
  quote_for_message(text, found, sizeof found);

  switch (spec->type) {
    case PP_KEY_REAL:
      if (!convert_quantity(context, spec, node, path, &out->real)) return 0;
      break;
    case PP_KEY_INTEGER: {
      long parsed = 0;
      if (is_null || !parse_integer(text, &parsed)) {
        describe_node(node, found, sizeof found);
        value_problem(context, node, path, "expected %s, found %s%s", expected, found,
                      is_null ? "" : " (not an integer)");
        return 0;
      }
      if (strcmp(spec->path, "schema_version") == 0 && parsed != PP_CONFIG_SCHEMA_VERSION) {
        /* No silent reinterpretation: another schema may give the same key another meaning. */
        value_problem(context, node, path,
                      "expected %d, found %ld: config files of schema %ld are not read by this version "
                      "of pinprick, which reads schema %d only",
                      PP_CONFIG_SCHEMA_VERSION, parsed, parsed, PP_CONFIG_SCHEMA_VERSION);
        return 0;
      }
      if (!inside_range(spec, (double)parsed)) {
        value_problem(context, node, path, "expected %s, found %s (out of range)", expected, found);
        return 0;
      }
      out->integer = parsed;
      break;
    }
    case PP_KEY_BOOLEAN:
      if (strcasecmp(text, "true") == 0) out->integer = 1;
      else if (strcasecmp(text, "false") == 0) out->integer = 0;
      else {
        describe_node(node, found, sizeof found);
        value_problem(context, node, path, "expected %s, found %s", expected, found);
        return 0;
      }
      text = out->integer ? "true" : "false";
      break;
    case PP_KEY_STRING:
      if (is_null) text = "";
      break;
    case PP_KEY_CHOICE: {
      /* Stored in the table's spelling, whatever the case the user wrote it in. */
      const char *choice = spec->choices;
      const char *match = NULL;
      size_t match_length = 0;
      while (*choice) {
        size_t length = strcspn(choice, "|");
        if (strlen(text) == length && strncasecmp(choice, text, length) == 0) {
          match = choice;
          match_length = length;
        }
        choice += length + (choice[length] == '|');
      }
      if (!match || is_null) {
        describe_node(node, found, sizeof found);
        value_problem(context, node, path, "expected %s, found %s", expected, found);
        return 0;
      }
      out->text = strndup(match, match_length);
      if (!out->text) context->problems->out_of_memory = 1;
      out->is_set = out->text != NULL;
      return out->is_set;
    }
    case PP_KEY_REAL_LIST: break; /* handled above */
  }
  out->text = strdup(text);
  if (!out->text) {
    context->problems->out_of_memory = 1;
    return 0;
  }
  out->is_set = 1;
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Walking a file's tree against the table                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  load_context base;
  pp_config_value *staged;   /* one per key; is_set = given in this file */
} file_context;

static int set_provenance(pp_config_value *value, const char *origin, pp_value_source source, int line,
                          int column)
{
  value->source = source;
  value->origin = strdup(origin);
  value->line = line;
  value->column = column;
  return value->origin != NULL;
}

static void assign_from_file(file_context *context, int index, const tree_node *key,
                             const tree_node *value, const char *path)
{
  pp_config_value *staged = &context->staged[index];
  if (staged->is_set) {
    add_problem(context->base.problems, context->base.origin, key->line, key->column, path,
                "expected each key once, found it again (first given at line %d)", staged->line);
    return;
  }
  pp_config_value converted;
  if (!convert_value(&context->base, &key_table[index], value, path, &converted)) return;
  if (!set_provenance(&converted, context->base.origin, context->base.source, value->line, value->column))
    context->base.problems->out_of_memory = 1;
  *staged = converted;
}

static void walk_mapping(file_context *context, const tree_node *mapping, const char *prefix)
{
  load_context *base = &context->base;
  for (int pair = 0; pair + 1 < mapping->child_count; pair += 2) {
    const tree_node *key = mapping->children[pair], *value = mapping->children[pair + 1];
    char found[400];
    if (key->kind != NODE_SCALAR || key->has_anchor || is_null_scalar(key)) {
      describe_node(key, found, sizeof found);
      add_problem(base->problems, base->origin, key->line, key->column, prefix[0] ? prefix : "(top level)",
                  "expected a key name, found %s%s", found, key->has_anchor ? " with a YAML anchor" : "");
      continue;
    }
    char path[256];
    int written = snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", key->scalar);
    if (written < 0 || (size_t)written >= sizeof path) {
      quote_for_message(key->scalar, found, sizeof found);
      add_problem(base->problems, base->origin, key->line, key->column, prefix[0] ? prefix : "(top level)",
                  "expected a known key, found the over-long key %s", found);
      continue;
    }

    /* Duplicates within one mapping; a key spelled both nested and dotted is caught when the
     * value is staged. */
    int duplicate_of = -1;
    for (int earlier = 0; earlier < pair && duplicate_of < 0; earlier += 2) {
      const tree_node *other = mapping->children[earlier];
      if (other->kind == NODE_SCALAR && strcmp(other->scalar, key->scalar) == 0) duplicate_of = earlier;
    }
    if (duplicate_of >= 0) {
      add_problem(base->problems, base->origin, key->line, key->column, path,
                  "expected each key once, found it again (first given at line %d)",
                  mapping->children[duplicate_of]->line);
      continue;
    }

    int index = key_index(path);
    if (index >= 0) {
      assign_from_file(context, index, key, value, path);
    } else if (is_section(path)) {
      if (value->kind == NODE_MAPPING && !value->has_anchor) {
        walk_mapping(context, value, path);
      } else {
        char members[512];
        list_section_members(path, members, sizeof members);
        describe_node(value, found, sizeof found);
        if (value->has_anchor) snprintf(found, sizeof found, "a mapping with a YAML anchor (not supported)");
        value_problem(base, value, path, "expected a section with the keys %s, found %s", members, found);
      }
    } else {
      char suggestion[300];
      suggest_keys(path, suggestion, sizeof suggestion);
      add_problem(base->problems, base->origin, key->line, key->column, path,
                  "expected a known key, found an unknown one%s%s", suggestion,
                  suggestion[0] ? "" : " (pinprick config lists every key)");
    }
  }
}

/* The top-level schema_version, read before anything else: under another schema the other
 * keys may mean something else, so their problems would only mislead. Returns 0 if the file
 * declares a schema this version does not read (the problem is then reported). */
static int check_schema_first(file_context *context, const tree_node *root)
{
  for (int pair = 0; pair + 1 < root->child_count; pair += 2) {
    const tree_node *key = root->children[pair];
    if (key->kind != NODE_SCALAR || strcmp(key->scalar, "schema_version") != 0) continue;
    const tree_node *value = root->children[pair + 1];
    long version = 0;
    if (value->kind == NODE_SCALAR && parse_integer(value->scalar, &version) &&
        version != PP_CONFIG_SCHEMA_VERSION) {
      pp_config_value ignored;
      convert_value(&context->base, &key_table[key_index("schema_version")], value, "schema_version",
                    &ignored);
      return 0;
    }
    return 1;
  }
  return 1;
}

static int has_top_level_key(const tree_node *root, const char *name)
{
  for (int pair = 0; pair + 1 < root->child_count; pair += 2)
    if (root->children[pair]->kind == NODE_SCALAR && strcmp(root->children[pair]->scalar, name) == 0) return 1;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Presets: files in the config format, embedded at build time, that set physical keys. A      */
/* preset is a layer between the defaults and the files: choosing one replaces every value     */
/* that still comes from a default or a preset, and nothing a file or --set gave. So a key     */
/* written in a file wins over the preset wherever `preset:` stands in it, and --set preset=... */
/* after a file keeps the file's keys.                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Generated from meshes/presets/NAME.yaml by cmake/embed_text.cmake. */
extern const char pp_preset_face_yaml[], pp_preset_forearm_yaml[], pp_preset_back_yaml[];

/* Same order as the choices of the preset key after "none" (a test checks it). */
static const pp_config_preset preset_table[] = {
  {"face", "meshes/presets/face.yaml", pp_preset_face_yaml},
  {"forearm", "meshes/presets/forearm.yaml", pp_preset_forearm_yaml},
  {"back", "meshes/presets/back.yaml", pp_preset_back_yaml},
};
enum { PRESET_COUNT = (int)(sizeof preset_table / sizeof preset_table[0]) };

const pp_config_preset *pp_config_presets(int *count)
{
  if (count) *count = PRESET_COUNT;
  return preset_table;
}

static const pp_config_preset *find_preset(const char *name)
{
  for (int p = 0; name && p < PRESET_COUNT; ++p)
    if (strcmp(preset_table[p].name, name) == 0) return &preset_table[p];
  return NULL;
}

static int is_physics_key(const char *path);
static int convert_text(load_context *context, const pp_key_spec *spec, const char *text, const char *path,
                        pp_config_value *out);
static int default_value(load_context *context, int index, pp_config_value *out);

/* Reads one preset into staged (KEY_COUNT zeroed values) with the file reader, so a preset
 * obeys every rule a case file does; problems name the preset's source file and line. Its
 * schema_version (optional) only says what the preset is written in and is dropped; keys other
 * than physical ones are refused, since a body site says nothing about devices or output. */
static void stage_preset(pp_units *units, const pp_config_preset *preset, pp_config_value *staged,
                         problem_list *problems)
{
  pp_config units_only = {KEY_COUNT, NULL, units}; /* the converters need only the units */
  tree_node *root = NULL;
  yaml_failure failure;
  if (parse_yaml(preset->text, strlen(preset->text), &root, &failure) != PP_OK) {
    problems->out_of_memory = 1;
    return;
  }
  if (failure.failed || !root || root->kind != NODE_MAPPING || root->has_anchor) {
    add_problem(problems, preset->source_path, failure.failed ? failure.line : 1, failure.failed ? failure.column : 1,
                "(top level)", "expected a mapping of physical keys, found %s",
                failure.failed ? failure.problem : "something else");
    free_tree(root);
    return;
  }
  file_context context = {{&units_only, preset->source_path, PP_SOURCE_PRESET, problems}, staged};
  if (check_schema_first(&context, root)) walk_mapping(&context, root, "");
  free_tree(root);
  for (int i = 0; i < KEY_COUNT; ++i) {
    if (!staged[i].is_set) continue;
    const char *path = key_table[i].path;
    if (strcmp(path, "schema_version") == 0) {
      free_value(&staged[i]);
      continue;
    }
    if (!is_physics_key(path))
      add_problem(problems, preset->source_path, staged[i].line, staged[i].column, path,
                  "expected only physical keys (skin, needle, mesh, treatment, healing) in a preset, found %s",
                  strcmp(path, "preset") == 0 ? "a preset choosing a preset" : "another one");
    else if (strncmp(path, "needle.", 7) == 0)
      add_problem(problems, preset->source_path, staged[i].line, staged[i].column, path,
                  "expected only keys of the body site (skin, mesh, treatment, healing) in a skin preset, found a "
                  "needle key (needle.preset chooses the device)");
    /* The value remembers the preset by name; provenance_text adds its file and line. */
    free(staged[i].origin);
    staged[i].origin = strdup(preset->name);
    if (!staged[i].origin) problems->out_of_memory = 1;
  }
}

/* Loads a preset alone (KEY_COUNT values, set where the preset sets a key). */
static pp_err load_preset_values(pp_units *units, const pp_config_preset *preset, pp_config_value **values)
{
  *values = calloc((size_t)KEY_COUNT, sizeof **values);
  PP_CHECK(*values != NULL, PP_ERR_MEMORY, "out of memory reading preset %s", preset->name);
  problem_list problems = {0};
  stage_preset(units, preset, *values, &problems);
  if (problems.count > 0 || problems.out_of_memory) {
    for (int i = 0; i < KEY_COUNT; ++i) free_value(&(*values)[i]);
    free(*values);
    *values = NULL;
    RAISE_PROBLEMS(&problems);
  }
  free_problems(&problems);
  return PP_OK;
}

static void free_values(pp_config_value *values)
{
  if (!values) return;
  for (int i = 0; i < KEY_COUNT; ++i) free_value(&values[i]);
  free(values);
}

/* Needle presets (needle.preset) are devices: host/needle.c's table of needle.* values, each
 * as a case file writes it, read with the same converters. Two preset keys, two domains: a
 * needle preset governs the needle.* keys, a skin preset every other key, so choosing one never
 * disturbs what the other set. */
#define NEEDLE_PRESET_KEY "needle.preset"
#define NEEDLE_PRESET_SOURCE "host/needle.c"

static int in_preset_domain(const char *preset_key, const char *path)
{
  int needle_key = strncmp(path, "needle.", 7) == 0;
  if (strcmp(preset_key, NEEDLE_PRESET_KEY) == 0) return needle_key && strcmp(path, NEEDLE_PRESET_KEY) != 0;
  return !needle_key;
}

/* A needle preset alone (KEY_COUNT values, set where the preset sets a key); provenance: the
 * preset's name, line 0. */
static pp_err load_needle_preset_values(pp_units *units, const pp_needle_preset *preset, pp_config_value **values)
{
  *values = calloc((size_t)KEY_COUNT, sizeof **values);
  PP_CHECK(*values != NULL, PP_ERR_MEMORY, "out of memory reading needle preset %s", preset->name);
  pp_config units_only = {KEY_COUNT, NULL, units}; /* the converters need only the units */
  problem_list problems = {0};
  char origin[128];
  snprintf(origin, sizeof origin, "%s %s (%s)", NEEDLE_PRESET_KEY, preset->name, NEEDLE_PRESET_SOURCE);
  load_context context = {&units_only, origin, PP_SOURCE_PRESET, &problems};
  for (int v = 0; v < preset->value_count; ++v) {
    const char *path = preset->values[v].key;
    int index = key_index(path);
    if (index < 0 || !in_preset_domain(NEEDLE_PRESET_KEY, path) || (*values)[index].is_set) {
      add_problem(&problems, origin, 0, 0, path, "expected a needle.* key, each once, in a needle preset, found %s",
                  index < 0 ? "an unknown key" : "another one");
      continue;
    }
    if (convert_text(&context, &key_table[index], preset->values[v].value, path, &(*values)[index]) &&
        !set_provenance(&(*values)[index], preset->name, PP_SOURCE_PRESET, 0, 0))
      problems.out_of_memory = 1;
  }
  if (problems.count > 0 || problems.out_of_memory) {
    free_values(*values);
    *values = NULL;
    RAISE_PROBLEMS(&problems);
  }
  free_problems(&problems);
  return PP_OK;
}

/* The layer a preset puts under the file: its value where it sets a key, the default
 * elsewhere (so what an earlier preset set goes back to its default); "none" is the defaults
 * alone. preset_key is "preset" or "needle.preset". Built completely before anything is
 * changed, so a failure changes nothing. */
static pp_err build_preset_layer(pp_config *config, const char *preset_key, const char *name, pp_config_value **layer)
{
  const int needle = strcmp(preset_key, NEEDLE_PRESET_KEY) == 0;
  const pp_config_preset *preset = needle ? NULL : find_preset(name);
  const pp_needle_preset *needle_preset = needle ? pp_needle_find_preset(name) : NULL;
  if (preset) {
    PP_CALL(load_preset_values(config->units, preset, layer));
  } else if (needle_preset) {
    PP_CALL(load_needle_preset_values(config->units, needle_preset, layer));
  } else {
    *layer = calloc((size_t)KEY_COUNT, sizeof **layer);
    PP_CHECK(*layer != NULL, PP_ERR_MEMORY, "out of memory applying preset %s", name);
  }
  problem_list problems = {0};
  load_context context = {config, "default", PP_SOURCE_DEFAULT, &problems};
  for (int i = 0; i < KEY_COUNT; ++i)
    if (!(*layer)[i].is_set) default_value(&context, i, &(*layer)[i]);
  if (problems.count > 0 || problems.out_of_memory) {
    free_values(*layer);
    *layer = NULL;
    RAISE_PROBLEMS(&problems);
  }
  free_problems(&problems);
  return PP_OK;
}

/* Puts the layer under every value of the preset key's domain that came from a default or a
 * preset; consumes the layer. A preset all of whose keys a file or --set overrides changes
 * nothing, which is what happens when `preset:` is added to a full copy of `pinprick config`:
 * say so rather than stay silent. */
static void commit_preset_layer(pp_config *config, pp_config_value *layer, const char *preset_key, const char *name)
{
  int preset_keys = 0, overridden = 0;
  for (int i = 0; i < KEY_COUNT; ++i) {
    pp_config_value *value = &config->values[i];
    if (!in_preset_domain(preset_key, key_table[i].path)) {
      free_value(&layer[i]);
      continue;
    }
    int from_preset = layer[i].source == PP_SOURCE_PRESET;
    preset_keys += from_preset;
    if (value->source == PP_SOURCE_DEFAULT || value->source == PP_SOURCE_PRESET) {
      free_value(value);
      *value = layer[i];
    } else {
      overridden += from_preset;
      free_value(&layer[i]);
    }
  }
  free(layer);
  if (preset_keys > 0 && overridden == preset_keys)
    pp_log(PP_LOG_WARN,
           "%s '%s' changes nothing: every key it sets is also given in the config file or by --set, "
           "and those win (delete them from the file to use the preset's values)", preset_key, name);
}

static pp_err load_buffer(pp_config *config, const char *origin, const char *text, size_t length)
{
  PP_CHECK(config && config->values && config->units, PP_ERR_ARGUMENT,
           "pp_config_load: config is not initialised (call pp_config_init first)");
  PP_CHECK(origin && text, PP_ERR_ARGUMENT, "pp_config_load: NULL origin or text");

  problem_list problems = {0};
  tree_node *root = NULL;
  yaml_failure failure;
  PP_CALL(parse_yaml(text, length, &root, &failure));

  if (failure.failed) {
    char path[256];
    last_key_path(root, path, sizeof path);
    add_problem(&problems, origin, failure.line, failure.column, path[0] ? path : "(top level)",
                "expected valid YAML, found a syntax problem%s: %s", path[0] ? " after this key" : "",
                failure.problem);
    free_tree(root);
    RAISE_PROBLEMS(&problems);
  }

  if (!root || is_null_scalar(root)) {
    add_problem(&problems, origin, root ? root->line : 1, root ? root->column : 1, "(top level)",
                "expected a mapping of keys starting with 'schema_version: %d', found an empty file",
                PP_CONFIG_SCHEMA_VERSION);
    free_tree(root);
    RAISE_PROBLEMS(&problems);
  }
  if (root->kind != NODE_MAPPING || root->has_anchor) {
    char found[400];
    describe_node(root, found, sizeof found);
    add_problem(&problems, origin, root->line, root->column, "(top level)",
                "expected a mapping of keys starting with 'schema_version: %d', found %s%s",
                PP_CONFIG_SCHEMA_VERSION, root->kind == NODE_SCALAR ? "the scalar " : "", found);
    free_tree(root);
    RAISE_PROBLEMS(&problems);
  }

  pp_config_value *staged = calloc((size_t)KEY_COUNT, sizeof *staged);
  if (!staged) {
    free_tree(root);
    PP_RAISE(PP_ERR_MEMORY, "out of memory reading %s", origin);
  }
  file_context context = {{config, origin, PP_SOURCE_FILE, &problems}, staged};
  if (check_schema_first(&context, root)) {
    walk_mapping(&context, root, "");
    /* Given but wrong was reported where it was given; only a missing one is reported here. */
    if (!staged[key_index("schema_version")].is_set && !has_top_level_key(root, "schema_version"))
      add_problem(&problems, origin, 1, 1, "schema_version",
                  "expected 'schema_version: %d' at the top of the file, found no schema_version "
                  "(every config file names the schema it is written in)",
                  PP_CONFIG_SCHEMA_VERSION);
  }
  free_tree(root);

  if (problems.count > 0 || problems.out_of_memory) {
    free_values(staged);
    RAISE_PROBLEMS(&problems);
  }
  free_problems(&problems);
  /* A chosen preset is read before anything is changed (a failed load changes nothing). */
  static const char *const preset_keys[2] = {"preset", NEEDLE_PRESET_KEY};
  pp_config_value *layers[2] = {NULL, NULL};
  for (int k = 0; k < 2; ++k) {
    int preset_index = key_index(preset_keys[k]);
    if (!staged[preset_index].is_set) continue;
    pp_err err = build_preset_layer(config, preset_keys[k], staged[preset_index].text, &layers[k]);
    if (err != PP_OK) {
      free_values(layers[0]);
      free_values(staged);
      PP_CALL(err);
    }
  }
  for (int i = 0; i < KEY_COUNT; ++i) {
    if (!staged[i].is_set) continue;
    free_value(&config->values[i]);
    config->values[i] = staged[i];
  }
  free(staged);
  /* After the file's values, so that the layer goes only under what the file did not give. */
  for (int k = 0; k < 2; ++k)
    if (layers[k])
      commit_preset_layer(config, layers[k], preset_keys[k], config->values[key_index(preset_keys[k])].text);
  return PP_OK;
}

pp_err pp_config_load_text(pp_config *config, const char *origin, const char *text)
{
  PP_CHECK(text != NULL, PP_ERR_ARGUMENT, "pp_config_load_text: text is NULL");
  PP_CALL(load_buffer(config, origin, text, strlen(text)));
  return PP_OK;
}

pp_err pp_config_load_file(pp_config *config, const char *path)
{
  enum { MAX_FILE_SIZE = 16 << 20 }; /* a case file is a few kB; refuse to slurp a wrong file */
  PP_CHECK(path != NULL, PP_ERR_ARGUMENT, "pp_config_load_file: path is NULL");
  FILE *file = fopen(path, "rb");
  PP_CHECK(file != NULL, PP_ERR_IO, "cannot open config file '%s': %s", path, strerror(errno));
  size_t capacity = 4096, length = 0;
  char *text = malloc(capacity);
  int read_error = 0, too_big = 0;
  while (text) {
    if (length + 1 == capacity) {
      if (capacity > MAX_FILE_SIZE) {
        too_big = 1;
        break;
      }
      char *grown = realloc(text, 2 * capacity);
      if (!grown) {
        free(text);
        text = NULL;
        break;
      }
      text = grown;
      capacity *= 2;
    }
    size_t got = fread(text + length, 1, capacity - 1 - length, file);
    length += got;
    if (got == 0) {
      read_error = ferror(file) ? (errno ? errno : EIO) : 0;
      break;
    }
  }
  fclose(file);
  PP_CHECK(text != NULL, PP_ERR_MEMORY, "out of memory reading config file '%s'", path);
  if (read_error || too_big) {
    free(text);
    PP_RAISE(PP_ERR_IO, "cannot read config file '%s': %s", path,
             too_big ? "larger than 16 MiB, not a case file" : strerror(read_error));
  }
  text[length] = '\0';
  pp_err err = load_buffer(config, path, text, length);
  free(text);
  PP_CALL(err);
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Defaults and --set: the same converters, scalars taken as written                         */
/* ------------------------------------------------------------------------------------------ */

/* Convert the text of a --set or a default. Lists are read as YAML flow sequences ("[1 ms, 2
 * ms]"); every other type takes the text as written (trimmed), so a shell-quoted --set string
 * needs no YAML quoting. */
static int convert_text(load_context *context, const pp_key_spec *spec, const char *text, const char *path,
                        pp_config_value *out)
{
  while (isspace((unsigned char)*text)) ++text;
  size_t length = strlen(text);
  while (length > 0 && isspace((unsigned char)text[length - 1])) --length;
  if (spec->type == PP_KEY_REAL_LIST) {
    tree_node *root = NULL;
    yaml_failure failure;
    if (parse_yaml(text, length, &root, &failure) != PP_OK) {
      context->problems->out_of_memory = 1;
      return 0;
    }
    int good = 0;
    char expected[320], found[1000];
    if (failure.failed || !root) {
      describe_expected(context->config->units, spec, expected, sizeof expected);
      char quoted[400];
      quote_for_message(text, quoted, sizeof quoted);
      snprintf(found, sizeof found, "%s%s%s", quoted, failure.failed ? " (not valid YAML: " : " (nothing)",
               failure.failed ? failure.problem : "");
      add_problem(context->problems, context->origin, 0, 0, path, "expected %s, found %s%s", expected, found,
                  failure.failed ? ")" : "");
    } else {
      good = convert_value(context, spec, root, path, out);
    }
    free_tree(root);
    return good;
  }
  tree_node node = {0};
  node.kind = NODE_SCALAR;
  node.scalar = strndup(text, length);
  /* Only a completely empty text counts as "nothing"; "null" given on purpose is text. */
  node.is_plain = length == 0;
  if (!node.scalar) {
    context->problems->out_of_memory = 1;
    return 0;
  }
  int good = convert_value(context, spec, &node, path, out);
  free(node.scalar);
  return good;
}

/* The table's default of key index into out (left unset for a required key); 0 on a problem. */
static int default_value(load_context *context, int index, pp_config_value *out)
{
  const pp_key_spec *spec = &key_table[index];
  memset(out, 0, sizeof *out);
  if (!spec->default_text) return 1; /* required: stays unset until a file gives it */
  if (!convert_text(context, spec, spec->default_text, spec->path, out)) return 0;
  if (!set_provenance(out, "default", PP_SOURCE_DEFAULT, 0, 0)) {
    context->problems->out_of_memory = 1;
    return 0;
  }
  return 1;
}

pp_err pp_config_init(pp_config *config)
{
  PP_CHECK(config != NULL, PP_ERR_ARGUMENT, "pp_config_init: config is NULL");
  memset(config, 0, sizeof *config);
  PP_CALL(pp_units_open(&config->units));
  config->values = calloc((size_t)KEY_COUNT, sizeof *config->values);
  if (!config->values) {
    pp_config_free(config);
    PP_RAISE(PP_ERR_MEMORY, "out of memory allocating the config values");
  }
  config->key_count = KEY_COUNT;

  problem_list problems = {0};
  load_context context = {config, "default", PP_SOURCE_DEFAULT, &problems};
  for (int i = 0; i < KEY_COUNT; ++i) default_value(&context, i, &config->values[i]);
  if (problems.count > 0 || problems.out_of_memory) {
    pp_config_free(config);
    /* A default the table cannot read is a bug in the table, not a user error. */
    pp_err err = raise_problems(&problems, __FILE__, __LINE__, __func__);
    if (err != PP_ERR_CONFIG) return err;
    static char table_problems[8192];
    snprintf(table_problems, sizeof table_problems, "%s", pp_error_message());
    PP_RAISE(PP_ERR_ARGUMENT, "the key table's defaults are wrong:\n%s", table_problems);
  }
  free_problems(&problems);
  return PP_OK;
}

void pp_config_free(pp_config *config)
{
  if (!config) return;
  if (config->values)
    for (int i = 0; i < config->key_count; ++i) free_value(&config->values[i]);
  free(config->values);
  pp_units_close(config->units);
  memset(config, 0, sizeof *config);
}

pp_err pp_config_apply_set(pp_config *config, const char *assignment)
{
  PP_CHECK(config && config->values && config->units, PP_ERR_ARGUMENT,
           "pp_config_apply_set: config is not initialised");
  PP_CHECK(assignment != NULL, PP_ERR_ARGUMENT, "pp_config_apply_set: assignment is NULL");
  const char *equals = strchr(assignment, '=');
  char quoted[400];
  quote_for_message(assignment, quoted, sizeof quoted);
  PP_CHECK(equals != NULL, PP_ERR_CONFIG, "--set: expected key.path=value, found %s (no '=')", quoted);

  char path[256];
  const char *key_start = assignment;
  while (isspace((unsigned char)*key_start)) ++key_start;
  size_t key_length = (size_t)(equals - key_start);
  while (key_length > 0 && isspace((unsigned char)key_start[key_length - 1])) --key_length;
  PP_CHECK(key_length > 0, PP_ERR_CONFIG, "--set: expected key.path=value, found %s (no key before '=')",
           quoted);
  PP_CHECK(key_length < sizeof path, PP_ERR_CONFIG, "--set: expected a known key, found an over-long one");
  memcpy(path, key_start, key_length);
  path[key_length] = '\0';

  int index = key_index(path);
  if (index < 0) {
    if (is_section(path)) {
      char members[512];
      list_section_members(path, members, sizeof members);
      PP_RAISE(PP_ERR_CONFIG, "--set: %s: expected a key, found a section (its keys: %s; e.g. --set %s.%.*s=...)",
               path, members, path, (int)strcspn(members, ","), members);
    }
    char suggestion[300];
    suggest_keys(path, suggestion, sizeof suggestion);
    PP_RAISE(PP_ERR_CONFIG, "--set: %s: expected a known key, found an unknown one%s%s", path, suggestion,
             suggestion[0] ? "" : " (pinprick config lists every key)");
  }

  problem_list problems = {0};
  load_context context = {config, "--set", PP_SOURCE_SET, &problems};
  pp_config_value value;
  if (!convert_text(&context, &key_table[index], equals + 1, path, &value)) RAISE_PROBLEMS(&problems);
  free_problems(&problems);
  if (!set_provenance(&value, "--set", PP_SOURCE_SET, 0, 0)) {
    free_value(&value);
    PP_RAISE(PP_ERR_MEMORY, "out of memory applying --set %s", path);
  }
  pp_config_value *layer = NULL;
  if (strcmp(path, "preset") == 0 || strcmp(path, NEEDLE_PRESET_KEY) == 0) {
    pp_err err = build_preset_layer(config, path, value.text, &layer);
    if (err != PP_OK) {
      free_value(&value);
      PP_CALL(err);
    }
  }
  free_value(&config->values[index]);
  config->values[index] = value;
  if (layer) commit_preset_layer(config, layer, path, config->values[index].text);
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Validation across keys                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* One side of an ordering check: a key's value or a quantity derived from keys. */
typedef struct {
  const char *description;   /* "needle.length", "2 x needle.tip_radius" */
  const char *blamed_key;    /* the key to point at when this side is at fault; NULL if derived */
  double value;              /* SI */
  const char *display_unit;
  const char *si_unit;
} ordered_side;

static const pp_config_value *value_at(const pp_config *config, const char *path)
{
  int index = key_index(path);
  return index < 0 ? NULL : &config->values[index];
}

static void provenance_text(const pp_config_value *value, char *out, size_t size)
{
  switch (value->source) {
    case PP_SOURCE_DEFAULT: snprintf(out, size, "default"); break;
    case PP_SOURCE_SET: snprintf(out, size, "--set"); break;
    case PP_SOURCE_PRESET: {
      const pp_config_preset *preset = find_preset(value->origin);
      if (!preset && pp_needle_find_preset(value->origin))
        snprintf(out, size, "%s %s (%s)", NEEDLE_PRESET_KEY, value->origin, NEEDLE_PRESET_SOURCE);
      else
        snprintf(out, size, "preset %s (%s:%d)", value->origin ? value->origin : "?",
                 preset ? preset->source_path : "?", value->line);
      break;
    }
    case PP_SOURCE_FILE: snprintf(out, size, "%s:%d", value->origin ? value->origin : "?", value->line); break;
  }
}

/* A problem about key path, placed where its value came from. */
static void problem_at_key(const pp_config *config, problem_list *problems, const char *path, const char *detail)
{
  const pp_config_value *value = value_at(config, path);
  if (value && value->source == PP_SOURCE_FILE)
    add_problem(problems, value->origin, value->line, value->column, path, "%s", detail);
  else if (value && value->source == PP_SOURCE_PRESET) {
    char where[300];
    provenance_text(value, where, sizeof where);
    add_problem(problems, where, 0, 0, path, "%s", detail);
  } else if (value && value->is_set)
    add_problem(problems, value->source == PP_SOURCE_SET ? "--set" : "default", 0, 0, path, "%s", detail);
  else
    add_problem(problems, "config", 0, 0, path, "%s", detail);
}

static int came_from_user(const pp_config *config, const char *path)
{
  const pp_config_value *value = path ? value_at(config, path) : NULL;
  return value && value->source != PP_SOURCE_DEFAULT;
}

/* Require smaller.value < larger.value (or <= when allow_equal). The problem is placed on the
 * key the user gave (a default is never the one to blame when a given value conflicts with it). */
static void require_less(const pp_config *config, problem_list *problems, ordered_side smaller,
                         ordered_side larger, int allow_equal)
{
  if (smaller.value < larger.value || (allow_equal && smaller.value == larger.value)) return;
  const char *blamed = smaller.blamed_key;
  if (!blamed || (!came_from_user(config, blamed) && came_from_user(config, larger.blamed_key)))
    blamed = larger.blamed_key ? larger.blamed_key : smaller.blamed_key;
  char small_text[64], large_text[64], small_from[300] = "", large_from[300] = "", detail[1200];
  format_for_people(config->units, smaller.value, smaller.si_unit, smaller.display_unit, small_text,
                    sizeof small_text);
  format_for_people(config->units, larger.value, larger.si_unit, larger.display_unit, large_text,
                    sizeof large_text);
  if (smaller.blamed_key && strcmp(smaller.description, smaller.blamed_key) == 0) {
    char where[260];
    provenance_text(value_at(config, smaller.blamed_key), where, sizeof where);
    snprintf(small_from, sizeof small_from, " (%s)", where);
  }
  if (larger.blamed_key && strcmp(larger.description, larger.blamed_key) == 0) {
    char where[260];
    provenance_text(value_at(config, larger.blamed_key), where, sizeof where);
    snprintf(large_from, sizeof large_from, " (%s)", where);
  }
  snprintf(detail, sizeof detail, "expected %s %s %s, found %s = %s%s and %s = %s%s", smaller.description,
           allow_equal ? "<=" : "<", larger.description, smaller.description, small_text, small_from,
           larger.description, large_text, large_from);
  problem_at_key(config, problems, blamed, detail);
}

static ordered_side key_side(const pp_config *config, const char *path)
{
  const pp_key_spec *spec = pp_config_find_key(path);
  return (ordered_side){path, path, value_at(config, path)->real, spec->display_unit, spec->si_unit};
}

pp_err pp_config_validate(const pp_config *config)
{
  PP_CHECK(config && config->values, PP_ERR_ARGUMENT, "pp_config_validate: config is not initialised");
  problem_list problems = {0};

  for (int i = 0; i < KEY_COUNT; ++i) {
    if (config->values[i].is_set) continue;
    char detail[300];
    if (strcmp(key_table[i].path, "schema_version") == 0)
      snprintf(detail, sizeof detail,
               "expected 'schema_version: %d' from a config file, found none (every config file "
               "starts with it)", PP_CONFIG_SCHEMA_VERSION);
    else
      snprintf(detail, sizeof detail, "expected a value (the key is required), found none");
    problem_at_key(config, &problems, key_table[i].path, detail);
  }
  const pp_config_value *schema = value_at(config, "schema_version");
  if (schema->is_set && schema->integer != PP_CONFIG_SCHEMA_VERSION) {
    char detail[300];
    snprintf(detail, sizeof detail, "expected %d, found %ld (this version reads schema %d only)",
             PP_CONFIG_SCHEMA_VERSION, schema->integer, PP_CONFIG_SCHEMA_VERSION);
    problem_at_key(config, &problems, "schema_version", detail);
  }

  /* The case name becomes part of file names. */
  const char *name = pp_config_text(config, "case.name");
  int name_ok = name[0] != '\0' && name[0] != '.';
  for (const char *c = name; *c; ++c)
    name_ok &= isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.';
  if (!name_ok) {
    char quoted[100], detail[300];
    quote_for_message(name, quoted, sizeof quoted);
    snprintf(detail, sizeof detail,
             "expected a non-empty name of letters, digits, '.', '-' and '_' (not starting with '.'; "
             "it is used in file names), found %s", quoted);
    problem_at_key(config, &problems, "case.name", detail);
  }

  /* The needle must not go in deeper than it is long, nor through the modelled skin. */
  require_less(config, &problems, key_side(config, "needle.insertion_depth"), key_side(config, "needle.length"), 0);
  double skin_thickness = pp_config_real(config, "skin.stratum_corneum.thickness") +
                          pp_config_real(config, "skin.viable_epidermis.thickness") +
                          pp_config_real(config, "skin.papillary_dermis.thickness") +
                          pp_config_real(config, "skin.reticular_dermis.thickness") +
                          pp_config_real(config, "skin.hypodermis.thickness");
  require_less(config, &problems, key_side(config, "needle.insertion_depth"),
               (ordered_side){"the total skin thickness (sum of the five skin.*.thickness)", NULL,
                              skin_thickness, "mm", "m"}, 0);

  /* A cone needs a base (and a shaft) wider than its rounded tip. */
  ordered_side tip_diameter = key_side(config, "needle.tip_radius");
  tip_diameter.description = "2 x needle.tip_radius";
  tip_diameter.value *= 2;
  require_less(config, &problems, tip_diameter, key_side(config, "needle.base_diameter"), 0);
  const double shaft_diameter = pp_config_real(config, "needle.shaft_diameter");
  if (shaft_diameter > 0) require_less(config, &problems, tip_diameter, key_side(config, "needle.shaft_diameter"), 0);

  /* The cone must widen to the shaft within the needle's length (host/needle.h): only a cone
   * given by its angle can fall short, or a derived one asked to reach a shaft wider than the base. */
  const double tip_radius = pp_config_real(config, "needle.tip_radius");
  const double length = pp_config_real(config, "needle.length");
  const double base_radius = 0.5 * pp_config_real(config, "needle.base_diameter");
  const double given_angle = pp_config_real(config, "needle.cone_half_angle");
  pp_needle_shape shape = {length, tip_radius, given_angle, shaft_diameter > 0 ? 0.5 * shaft_diameter : base_radius, 0};
  if (!(given_angle > 0)) shape.cone_half_angle = pp_needle_conical_half_angle(length, tip_radius, base_radius);
  if (2 * tip_radius < length && shape.shaft_radius > tip_radius && base_radius > tip_radius &&
      pp_needle_cone_reach(&shape) > length * (1 + 1e-12)) {
    char reach[64], length_text[64], angle[64], detail[1000];
    snprintf(reach, sizeof reach, "%.6g um", pp_needle_cone_reach(&shape) * 1e6);
    format_for_people(config->units, length, "m", "um", length_text, sizeof length_text);
    format_for_people(config->units, shape.cone_half_angle, "rad", "degree", angle, sizeof angle);
    snprintf(detail, sizeof detail,
             "expected a cone that widens to the shaft within the needle length, found that a %s%s cone reaches "
             "the shaft radius only %s from the tip, and needle.length = %s (widen needle.cone_half_angle, narrow "
             "needle.shaft_diameter or lengthen the needle)",
             angle, given_angle > 0 ? "" : " (derived from needle.base_diameter)", reach, length_text);
    problem_at_key(config, &problems, given_angle > 0 ? "needle.cone_half_angle" : "needle.shaft_diameter", detail);
  }

  /* Healing must go on after the last session starts, and write at least one output. */
  long sessions = pp_config_integer(config, "treatment.sessions");
  ordered_side last_session = key_side(config, "treatment.session_interval");
  last_session.description = "(treatment.sessions - 1) x treatment.session_interval";
  last_session.value *= (double)(sessions - 1);
  if (!came_from_user(config, "treatment.session_interval") && came_from_user(config, "treatment.sessions"))
    last_session.blamed_key = "treatment.sessions";
  require_less(config, &problems, last_session, key_side(config, "healing.duration"), 0);
  require_less(config, &problems, key_side(config, "output.healing_interval"), key_side(config, "healing.duration"),
               1);

  /* Stage 2: one diffusivity factor per layer, steps that can grow, a tolerance the precision can reach. */
  const pp_config_value *factors = value_at(config, "healing.diffusivity_factors");
  if (factors->list_length != 5) {
    char detail[200];
    snprintf(detail, sizeof detail, "expected 5 values (one per skin layer, stratum corneum first), found %d",
             factors->list_length);
    problem_at_key(config, &problems, "healing.diffusivity_factors", detail);
  }
  require_less(config, &problems, key_side(config, "healing.first_step"), key_side(config, "healing.max_step"), 1);

  /* Mechanics output times in strictly increasing order (they are visited in order). */
  const pp_config_value *times = value_at(config, "output.mechanics_times");
  for (int i = 1; i < times->list_length; ++i) {
    if (times->list[i] > times->list[i - 1]) continue;
    char detail[300], earlier[64], later[64];
    format_for_people(config->units, times->list[i - 1], "s", "us", earlier, sizeof earlier);
    format_for_people(config->units, times->list[i], "s", "us", later, sizeof later);
    snprintf(detail, sizeof detail, "expected strictly increasing times, found item %d (%s) after item %d (%s)",
             i + 1, later, i, earlier);
    problem_at_key(config, &problems, "output.mechanics_times", detail);
    break;
  }
  /* ... and none after stage 1 stops. */
  if (times->list_length > 0)
    require_less(config, &problems,
                 (ordered_side){"the last of output.mechanics_times", "output.mechanics_times",
                                times->list[times->list_length - 1], "us", "s"},
                 key_side(config, "mechanics.end_time"), 1);

  if (problems.count > 0 || problems.out_of_memory) RAISE_PROBLEMS(&problems);
  free_problems(&problems);
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Accessors                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* A wrong path or type in an accessor call is a programming error, so it stops the program at
 * once (config.h) instead of returning an error every caller would have to check. */
static const pp_config_value *checked_value(const pp_config *config, const char *path, pp_key_type type,
                                            pp_key_type other_type)
{
  int index = key_index(path);
  if (!config || !config->values || index < 0 ||
      (key_table[index].type != type && key_table[index].type != other_type)) {
    fprintf(stderr, "pinprick internal error: config accessor called for '%s' with the wrong type or an "
                    "unknown key\n", path ? path : "(null)");
    abort();
  }
  return &config->values[index];
}

double pp_config_real(const pp_config *config, const char *path)
{
  return checked_value(config, path, PP_KEY_REAL, PP_KEY_REAL)->real;
}

long pp_config_integer(const pp_config *config, const char *path)
{
  return checked_value(config, path, PP_KEY_INTEGER, PP_KEY_INTEGER)->integer;
}

int pp_config_boolean(const pp_config *config, const char *path)
{
  return checked_value(config, path, PP_KEY_BOOLEAN, PP_KEY_BOOLEAN)->integer != 0;
}

const char *pp_config_text(const pp_config *config, const char *path)
{
  const pp_config_value *value = checked_value(config, path, PP_KEY_STRING, PP_KEY_CHOICE);
  return value->text ? value->text : "";
}

const double *pp_config_real_list(const pp_config *config, const char *path, int *length)
{
  const pp_config_value *value = checked_value(config, path, PP_KEY_REAL_LIST, PP_KEY_REAL_LIST);
  if (length) *length = value->list_length;
  return value->list;
}

const pp_config_value *pp_config_value_of(const pp_config *config, const char *path)
{
  int index = key_index(path);
  return (!config || !config->values || index < 0) ? NULL : &config->values[index];
}

/* ------------------------------------------------------------------------------------------ */
/* Writers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* A YAML double-quoted string (always quoted, so "yes", "1e3" or "a: b" stay strings). */
static void write_quoted(FILE *out, const char *text)
{
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)text; *c; ++c) {
    if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
    else if (*c == '\n') fputs("\\n", out);
    else if (*c == '\t') fputs("\\t", out);
    else if (*c < 0x20 || *c == 0x7f) fprintf(out, "\\x%02x", *c);
    else fputc(*c, out);
  }
  fputc('"', out);
}

/* The value as YAML text, in display units, reading back to the identical value. */
static void write_value(const pp_config *config, const pp_key_spec *spec, const pp_config_value *value, FILE *out)
{
  char text[128];
  switch (spec->type) {
    case PP_KEY_REAL:
      format_exactly(config->units, value->real, spec->si_unit, spec->display_unit, text, sizeof text);
      fputs(text, out);
      break;
    case PP_KEY_INTEGER: fprintf(out, "%ld", value->integer); break;
    case PP_KEY_BOOLEAN: fputs(value->integer ? "true" : "false", out); break;
    case PP_KEY_STRING: write_quoted(out, value->text ? value->text : ""); break;
    case PP_KEY_CHOICE: fputs(value->text ? value->text : "", out); break;
    case PP_KEY_REAL_LIST:
      fputc('[', out);
      for (int i = 0; i < value->list_length; ++i) {
        format_exactly(config->units, value->list[i], spec->si_unit, spec->display_unit, text, sizeof text);
        fprintf(out, "%s%s", i ? ", " : "", text);
      }
      fputc(']', out);
      break;
  }
}

/* Number of leading path components two dotted paths share. */
static int shared_sections(const char *a, const char *b)
{
  int shared = 0;
  for (;;) {
    size_t la = strcspn(a, "."), lb = strcspn(b, ".");
    if (a[la] == '\0' || b[lb] == '\0' || la != lb || strncmp(a, b, la) != 0) return shared;
    ++shared;
    a += la + 1;
    b += lb + 1;
  }
}

pp_err pp_config_write_yaml(const pp_config *config, FILE *out, int with_provenance)
{
  enum { COMMENT_COLUMN = 48 };
  PP_CHECK(config && config->values && out, PP_ERR_ARGUMENT, "pp_config_write_yaml: NULL argument");
  const char *previous = "";
  for (int i = 0; i < KEY_COUNT; ++i) {
    const pp_key_spec *spec = &key_table[i];
    const pp_config_value *value = &config->values[i];
    int shared = shared_sections(previous, spec->path);
    /* A blank line between top-level sections keeps the output readable. */
    if (i > 0 && shared == 0) fputc('\n', out);
    /* Open the sections this key is in that the previous key was not. */
    const char *component = spec->path;
    for (int level = 0;; ++level) {
      size_t length = strcspn(component, ".");
      if (component[length] == '\0') {
        /* The value goes through a memory stream first: its width places the comment. */
        char *value_text = NULL;
        size_t value_length = 0;
        FILE *value_stream = open_memstream(&value_text, &value_length);
        PP_CHECK(value_stream != NULL, PP_ERR_MEMORY, "out of memory writing the configuration");
        int is_schema = strcmp(spec->path, "schema_version") == 0;
        if (is_schema)
          fprintf(value_stream, "%d", PP_CONFIG_SCHEMA_VERSION); /* the output is in this schema */
        else if (value->is_set)
          write_value(config, spec, value, value_stream);
        else
          fputs("null", value_stream);
        fclose(value_stream);
        int column = fprintf(out, "%*s%s: %s", 2 * level, "", component, value_text ? value_text : "");
        free(value_text);
        if (with_provenance) {
          char where[300];
          if (is_schema && !value->is_set) {
            snprintf(where, sizeof where, "schema of this pinprick");
          } else if (!value->is_set) {
            snprintf(where, sizeof where, "not set");
          } else if (value->source == PP_SOURCE_FILE) {
            char position[280];
            provenance_text(value, position, sizeof position);
            snprintf(where, sizeof where, "file %s", position);
          } else {
            provenance_text(value, where, sizeof where);
          }
          fprintf(out, "%*s# %s", column < COMMENT_COLUMN ? COMMENT_COLUMN - column : 1, "", where);
        }
        fputc('\n', out);
        break;
      }
      if (level >= shared) fprintf(out, "%*s%.*s:\n", 2 * level, "", (int)length, component);
      component += length + 1;
    }
    previous = spec->path;
  }
  PP_CHECK(!ferror(out), PP_ERR_IO, "could not write the configuration: %s", strerror(errno));
  return PP_OK;
}

static const char *type_name(pp_key_type type)
{
  switch (type) {
    case PP_KEY_REAL: return "real";
    case PP_KEY_INTEGER: return "integer";
    case PP_KEY_BOOLEAN: return "boolean";
    case PP_KEY_STRING: return "string";
    case PP_KEY_CHOICE: return "choice";
    case PP_KEY_REAL_LIST: return "list of reals";
  }
  return "?";
}

/* Every preset's values (PRESET_COUNT arrays of KEY_COUNT values), for explain and the
 * reference. */
static pp_err load_all_presets(pp_units *units, pp_config_value *values[PRESET_COUNT])
{
  for (int p = 0; p < PRESET_COUNT; ++p) values[p] = NULL;
  for (int p = 0; p < PRESET_COUNT; ++p) {
    pp_err err = load_preset_values(units, &preset_table[p], &values[p]);
    if (err != PP_OK) {
      for (int q = 0; q < p; ++q) free_values(values[q]);
      PP_CALL(err);
    }
  }
  return PP_OK;
}

static void explain_key(pp_units *units, const pp_key_spec *spec, pp_config_value *const preset_values[PRESET_COUNT],
                        FILE *out)
{
  fprintf(out, "%s\n", spec->path);
  fprintf(out, "  meaning: %s\n", spec->meaning);
  fprintf(out, "  type:    %s\n", type_name(spec->type));
  if ((spec->type == PP_KEY_REAL || spec->type == PP_KEY_REAL_LIST) && spec->si_unit && !spec->si_unit[0]) {
    fprintf(out, "  unit:    none (a dimensionless number)\n");
  } else if ((spec->type == PP_KEY_REAL || spec->type == PP_KEY_REAL_LIST) && spec->si_unit) {
    const char *words = pp_units_dimension_name(spec->si_unit);
    fprintf(out, "  unit:    %s %s, written in %s by default; any %s unit UDUNITS-2 knows is accepted "
                 "(stored in %s)\n", article_for(words), words, spec->display_unit, words,
            spec->si_unit[0] ? spec->si_unit : "plain numbers");
  }
  if (spec->default_text)
    fprintf(out, "  default: %s\n", spec->default_text[0] ? spec->default_text : "\"\" (empty)");
  else
    fprintf(out, "  default: none, required\n");
  /* What each preset sets it to, as written there, and where. */
  int index = key_index(spec->path);
  for (int p = 0; p < PRESET_COUNT && preset_values; ++p) {
    const pp_config_value *value = &preset_values[p][index];
    if (!value->is_set) continue;
    char label[64];
    snprintf(label, sizeof label, "preset %s:", preset_table[p].name);
    fprintf(out, "  %-16s %s (%s:%d)\n", label, value->text, preset_table[p].source_path, value->line);
  }
  /* Each needle preset's value, as written in host/needle.c. */
  int needle_preset_count = 0;
  const pp_needle_preset *needle_presets = pp_needle_presets(&needle_preset_count);
  for (int p = 0; p < needle_preset_count; ++p)
    for (int v = 0; v < needle_presets[p].value_count; ++v) {
      if (strcmp(needle_presets[p].values[v].key, spec->path) != 0) continue;
      char label[64];
      snprintf(label, sizeof label, "%s %s:", NEEDLE_PRESET_KEY, needle_presets[p].name);
      fprintf(out, "  %-26s %s (%s)\n", label, needle_presets[p].values[v].value, NEEDLE_PRESET_SOURCE);
    }
  if (strcmp(spec->path, "preset") == 0) {
    fprintf(out, "  sources: ");
    for (int p = 0; p < PRESET_COUNT; ++p) fprintf(out, "%s%s", p ? ", " : "", preset_table[p].source_path);
    fprintf(out, " (embedded; 'pinprick explain skin' shows their values)\n");
  }
  if (strcmp(spec->path, NEEDLE_PRESET_KEY) == 0)
    fprintf(out, "  sources: %s, with the source of each value ('pinprick explain needle' shows them)\n",
            NEEDLE_PRESET_SOURCE);
  if (has_range(spec) && (spec->type == PP_KEY_REAL || spec->type == PP_KEY_REAL_LIST ||
                          spec->type == PP_KEY_INTEGER)) {
    char range[160];
    range_for_people(units, spec, range, sizeof range);
    fprintf(out, "  range:   %s%s\n", range, spec->type == PP_KEY_REAL_LIST ? " (each item)" : "");
  }
  if (spec->type == PP_KEY_CHOICE) {
    char expected[160];
    describe_expected(units, spec, expected, sizeof expected);
    fprintf(out, "  choices: %s\n", expected + strlen("one of: "));
  }
}

pp_err pp_config_explain(const char *path, FILE *out)
{
  PP_CHECK(path && out, PP_ERR_ARGUMENT, "pp_config_explain: NULL argument");
  int index = key_index(path);
  int section = index < 0 && is_section(path);
  if (index < 0 && !section) {
    char suggestion[300];
    suggest_keys(path, suggestion, sizeof suggestion);
    PP_RAISE(PP_ERR_USAGE, "unknown key '%s'%s%s", path, suggestion,
             suggestion[0] ? " ('pinprick config' lists every key)" : "; 'pinprick config' lists every key");
  }
  pp_units *units = NULL;
  if (pp_units_open(&units) != PP_OK) pp_error_clear(); /* ranges then shown in SI */
  /* Presets need the units to read their quantities; without them explain shows no presets. */
  pp_config_value *preset_storage[PRESET_COUNT];
  pp_config_value *const *preset_values = NULL;
  if (units) {
    pp_err err = load_all_presets(units, preset_storage);
    if (err != PP_OK) {
      pp_units_close(units);
      PP_CALL(err);
    }
    preset_values = preset_storage;
  }
  if (index >= 0) {
    explain_key(units, &key_table[index], preset_values, out);
  } else {
    /* A section: explain every key in it. */
    size_t length = strlen(path);
    int first = 1;
    for (int i = 0; i < KEY_COUNT; ++i) {
      if (strncmp(key_table[i].path, path, length) != 0 || key_table[i].path[length] != '.') continue;
      if (!first) fputc('\n', out);
      explain_key(units, &key_table[i], preset_values, out);
      first = 0;
    }
  }
  for (int p = 0; p < PRESET_COUNT && preset_values; ++p) free_values(preset_storage[p]);
  pp_units_close(units);
  return PP_OK;
}

/* Markdown table cells must not contain '|' or line breaks. */
static void write_cell(FILE *out, const char *text)
{
  for (const char *c = text; *c; ++c) {
    if (*c == '|') fputs("\\|", out);
    else if (*c == '\n') fputc(' ', out);
    else fputc(*c, out);
  }
}

void pp_config_write_reference(FILE *out)
{
  if (!out) return;
  pp_units *units = NULL;
  if (pp_units_open(&units) != PP_OK) pp_error_clear();
  fputs("| key | type | default | range | meaning |\n", out);
  fputs("|---|---|---|---|---|\n", out);
  for (int i = 0; i < KEY_COUNT; ++i) {
    const pp_key_spec *spec = &key_table[i];
    char type[96], range[160] = "";
    if (spec->type == PP_KEY_REAL || spec->type == PP_KEY_REAL_LIST)
      snprintf(type, sizeof type, "%s (%s)", type_name(spec->type), pp_units_dimension_name(spec->si_unit));
    else
      snprintf(type, sizeof type, "%s", type_name(spec->type));
    if (has_range(spec) && spec->type != PP_KEY_STRING && spec->type != PP_KEY_BOOLEAN &&
        spec->type != PP_KEY_CHOICE)
      range_for_people(units, spec, range, sizeof range);
    else if (spec->type == PP_KEY_CHOICE) {
      describe_expected(units, spec, range, sizeof range);
      memmove(range, range + strlen("one of: "), strlen(range + strlen("one of: ")) + 1);
    }
    fputs("| `", out);
    write_cell(out, spec->path);
    fputs("` | ", out);
    write_cell(out, type);
    fputs(" | ", out);
    if (!spec->default_text) fputs("required", out);
    else if (!spec->default_text[0]) fputs("\"\"", out);
    else {
      fputc('`', out);
      write_cell(out, spec->default_text);
      fputc('`', out);
    }
    fputs(" | ", out);
    write_cell(out, range);
    fputs(" | ", out);
    write_cell(out, spec->meaning);
    fputs(" |\n", out);
  }

  /* The presets' values, as written in their files (a broken preset fails its test; here the
   * table is then left out rather than half written). */
  pp_config_value *preset_values[PRESET_COUNT];
  if (units && load_all_presets(units, preset_values) == PP_OK) {
    fputs("\nValues the presets set (`preset: NAME`; `meshes/presets/NAME.yaml` gives each value's source); "
          "every other key keeps its default:\n\n| key |", out);
    for (int p = 0; p < PRESET_COUNT; ++p) fprintf(out, " %s |", preset_table[p].name);
    fputs("\n|---|", out);
    for (int p = 0; p < PRESET_COUNT; ++p) fputs("---|", out);
    fputc('\n', out);
    for (int i = 0; i < KEY_COUNT; ++i) {
      int any = 0;
      for (int p = 0; p < PRESET_COUNT; ++p) any |= preset_values[p][i].is_set;
      if (!any) continue;
      fputs("| `", out);
      write_cell(out, key_table[i].path);
      fputs("` |", out);
      for (int p = 0; p < PRESET_COUNT; ++p) {
        fputs(" ", out);
        if (preset_values[p][i].is_set) {
          fputc('`', out);
          write_cell(out, preset_values[p][i].text);
          fputc('`', out);
        } else {
          fputs("(default)", out);
        }
        fputs(" |", out);
      }
      fputc('\n', out);
    }
    for (int p = 0; p < PRESET_COUNT; ++p) free_values(preset_values[p]);
  } else {
    pp_error_clear();
  }

  /* The needle presets' values, as written in host/needle.c. */
  int needle_preset_count = 0;
  const pp_needle_preset *needle_presets = pp_needle_presets(&needle_preset_count);
  fputs("\nValues the needle presets set (`" NEEDLE_PRESET_KEY ": NAME`; `" NEEDLE_PRESET_SOURCE
        "` gives each value's source); every other key keeps its default:\n\n| key |", out);
  for (int p = 0; p < needle_preset_count; ++p) fprintf(out, " %s |", needle_presets[p].name);
  fputs("\n|---|", out);
  for (int p = 0; p < needle_preset_count; ++p) fputs("---|", out);
  fputc('\n', out);
  for (int i = 0; i < KEY_COUNT; ++i) {
    const char *cells[16] = {NULL};
    int any = 0;
    for (int p = 0; p < needle_preset_count && p < 16; ++p)
      for (int v = 0; v < needle_presets[p].value_count; ++v)
        if (strcmp(needle_presets[p].values[v].key, key_table[i].path) == 0) {
          cells[p] = needle_presets[p].values[v].value;
          any = 1;
        }
    if (!any) continue;
    fputs("| `", out);
    write_cell(out, key_table[i].path);
    fputs("` |", out);
    for (int p = 0; p < needle_preset_count && p < 16; ++p) {
      fputs(" ", out);
      if (cells[p]) {
        fputc('`', out);
        write_cell(out, cells[p]);
        fputc('`', out);
      } else {
        fputs("(default)", out);
      }
      fputs(" |", out);
    }
    fputc('\n', out);
  }
  pp_units_close(units);
}

/* FNV-1a, 64 bit: a stable fingerprint, not a security measure. */
static void hash_bytes(unsigned long long *hash, const void *data, size_t size)
{
  const unsigned char *bytes = data;
  for (size_t i = 0; i < size; ++i) {
    *hash ^= bytes[i];
    *hash *= 1099511628211ULL;
  }
}

static int is_physics_key(const char *path)
{
  static const char *const prefixes[] = {"skin.", "mechanics.", "needle.", "mesh.", "treatment.", "healing."};
  for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; ++p)
    if (strncmp(path, prefixes[p], strlen(prefixes[p])) == 0) return 1;
  return 0;
}

void pp_config_physics_hash(const pp_config *config, char hash_text[17])
{
  unsigned long long hash = 14695981039346656037ULL;
  for (int k = 0; k < KEY_COUNT; ++k) {
    const pp_key_spec *key = &key_table[k];
    /* needle.preset is a name; the values it sets are hashed (as the skin preset's are). */
    if (!is_physics_key(key->path) || strcmp(key->path, NEEDLE_PRESET_KEY) == 0) continue;
    const pp_config_value *value = &config->values[k];
    hash_bytes(&hash, key->path, strlen(key->path) + 1);
    switch (key->type) {
    case PP_KEY_REAL: hash_bytes(&hash, &value->real, sizeof value->real); break;
    case PP_KEY_INTEGER:
    case PP_KEY_BOOLEAN: hash_bytes(&hash, &value->integer, sizeof value->integer); break;
    case PP_KEY_REAL_LIST:
      hash_bytes(&hash, &value->list_length, sizeof value->list_length);
      if (value->list_length > 0) hash_bytes(&hash, value->list, (size_t)value->list_length * sizeof(double));
      break;
    default:
      if (value->text) hash_bytes(&hash, value->text, strlen(value->text) + 1);
    }
  }
  snprintf(hash_text, 17, "%016llx", hash);
}
