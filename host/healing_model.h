/* healing_model: stage 2's pointwise healing model (PHYSICS.md 6.3 and 6.4, issue 10) — growth
 * factors, fibroblasts and collagen I/III — without transport solver, MPI or OpenCL. It owns the
 * parameters, the resting (unwounded, homeostatic) state they imply, the reaction rates and their
 * Jacobian, and the linear stability of the resting state over every mode a domain supports.
 * The rates themselves are kernels/healing_rates.cl, the text the device kernels will use; this
 * module packs the parameters into that file's flat array and wraps its functions.
 *
 * Model (per point; state g_0..g_{G-1}, n, c3, c1; SI units: kg/m^3, cells/m^3, s, m^2/s):
 *   dg_i/dt = div(D_i f_layer grad g_i) - k_i g_i + s_i(x,t) + n (beta_i + sigma_i g_i/(Ks_i + g_i))
 *   dn/dt   = div(D_n grad n - chi n grad g_c) + (r0 + r1 g_m/(Kr + g_m)) n (1 - n/Kcap) - delta_n n
 *   dc3/dt  = p3 n (1 + a3 g_s/(Kc + g_s)) - k31 c3 - kd3 (n/Nbar) c3
 *   dc1/dt  = p1 n (1 + a1 g_s/(Kc + g_s)) + k31 c3 - kd1 (n/Nbar) c1
 * c = chemoattractant, m = mitogen, s = synthesis stimulus (species indices); f_layer is the
 * per-layer factor of healing.diffusivity_factors, applied to the growth-factor diffusivities only
 * (not to the fibroblasts' motility or chemotaxis).
 *
 * Resting state (pp_healing_rest_state): g_i = gbar_i, n = Nbar, c3 = f3 C_total, c1 = (1 - f3) C_total,
 * all rates zero, which fixes what the user does not give:
 *  - gbar_i is the smallest non-negative root of k_i g = Nbar (beta_i + sigma_i g/(Ks_i + g)), i.e.
 *    of k g^2 + (k Ks - Nbar (beta + sigma)) g - Nbar beta Ks = 0: gbar = 0 when beta = 0, else the
 *    quadratic's one positive root (its roots multiply to -Nbar beta Ks/k < 0). Refused where the
 *    reaction is locally unstable there: -k + Nbar sigma Ks/(Ks + gbar)^2 >= 0 (with beta = 0: the
 *    autocrine gain sigma Nbar/Ks reaches the decay k; with beta > 0 it cannot happen: the
 *    reaction falls through zero at its only positive root);
 *  - Kcap = Nbar / (1 - delta_n/r_rest), r_rest = r0 + r1 gbar_m/(Kr + gbar_m) > delta_n;
 *  - p3 = (k31 + kd3) C3bar / (Nbar (1 + a3 sbar)), p1 = (kd1 C1bar - k31 C3bar) / (Nbar (1 + a1 sbar)),
 *    sbar = gbar_s/(Kc + gbar_s), and p1 >= 0: the type III -> I flux k31 C3bar must not exceed
 *    type I's degradation kd1 C1bar (k31 <= kd1 (1 - f3)/f3: 7.2e-4 1/d for a 15-year type I
 *    half-life and f3 = 0.15; PHYSICS.md 6.4's k31 = 1/60 1/d breaks it).
 *
 * Linear stability (pp_healing_stability): for each admissible wavevector k of the box (no-flux
 * side of length L: k = pi m/L; periodic: 2 pi m/L; m = 0, 1, ... up to the mesh's k <= pi/h),
 * for each distinct |k|^2 and each layer's factor (one homogeneous layer at a time),
 *   A(k) = J(rest) - diag(f D_i k^2, D_n k^2, 0, 0), with A[n][g_c] += chi Nbar k^2
 * (-div(chi n grad g_c) linearised about the uniform rest: + chi Nbar k^2 dg_c). Its growth rate
 * is the largest real part of its eigenvalues. Structure used: the g and n rows do not depend on
 * c3 or c1 and c3's does not on c1, so the eigenvalues of A(k) are those of the (G+1) x (G+1)
 * growth-factor/fibroblast block and the collagen diagonal -(k31 + kd3), -kd1 (exact); the sweep
 * solves the block, the uniform mode the whole matrix. The block's off-diagonal entries are all
 * >= 0 (dg_i/dn = beta_i + sigma_i g_i/(Ks_i + g_i), dn/dg_m, chi Nbar k^2): without chemotaxis
 * k^2 > 0 only lowers its diagonal, so a set stable at k = 0 is stable at every k; chemotaxis
 * destabilises a band of finite k only where fibroblasts secrete the chemoattractant at rest
 * (beta_c > 0: the Keller-Segel loop).
 *
 * Not collective; no allocation survives a call (the sweep allocates its mode lists and frees them). */
#ifndef PP_HEALING_MODEL_H
#define PP_HEALING_MODEL_H

#include "config.h"
#include "error.h"

enum {
  PP_HEALING_MAX_SPECIES = 4,
  PP_HEALING_MAX_STATE = PP_HEALING_MAX_SPECIES + 3, /* g_0..g_{G-1}, n, c3, c1 */
  PP_HEALING_MAX_LAYERS = 5,
  PP_HEALING_PARAMS = 34,                            /* kernels/healing_rates.cl's HEALING_PARAMS */
  PP_HEALING_NAME_SIZE = 32,
  PP_HEALING_EIGEN_MAX = 8                           /* largest matrix pp_healing_eigenvalues takes */
};

/* The most wavevectors (m_x, m_y, m_z) the stability sweep enumerates; a finer domain is refused
 * (PP_ERR_CONFIG). Measured: 0.12 us per distinct |k|^2 and distinct layer factor with two species
 * (the default needle cell: 1.5e6 wavevectors, 6.0e5 distinct |k|^2, 0.35 s for five factors). */
#define PP_HEALING_MAX_MODE_PAIRS 100000000LL

typedef struct {
  char name[PP_HEALING_NAME_SIZE];   /* config key: healing.<name>.* */
  double diffusivity;                /* D_i, m^2/s (times the layer factor) */
  double decay_rate;                 /* k_i, 1/s */
  double basal_secretion;            /* beta_i, kg/(cell s) */
  double autocrine_secretion;        /* sigma_i, kg/(cell s) */
  double autocrine_half_saturation;  /* Ks_i, kg/m^3 */
} pp_healing_species;

typedef struct {
  double motility;                   /* D_n, m^2/s */
  double chemotactic_sensitivity;    /* chi, m^2/s per kg/m^3 */
  double proliferation_rate;         /* r0, 1/s */
  double mitogen_proliferation_rate; /* r1, 1/s (r0 + r1 is the largest rate) */
  double mitogen_half_saturation;    /* Kr, kg/m^3 */
  double apoptosis_rate;             /* delta_n, 1/s */
  double resting_density;            /* Nbar, cells/m^3 */
  int mitogen;                       /* species index m */
  int chemoattractant;               /* species index c */
} pp_healing_fibroblasts;

typedef struct {
  double normal_content;             /* C_total = C3bar + C1bar, kg/m^3 */
  double type_III_fraction;          /* f3 = C3bar / C_total */
  double maturation_rate;            /* k31, 1/s */
  double type_III_degradation_rate;  /* kd3, 1/s (at n = Nbar) */
  double type_I_degradation_rate;    /* kd1, 1/s (at n = Nbar) */
  double type_III_stimulation;       /* a3 */
  double type_I_stimulation;         /* a1 */
  double stimulus_half_saturation;   /* Kc, kg/m^3 */
  int stimulus;                      /* species index s */
} pp_healing_collagen;

typedef struct {
  int species_count;                 /* G, 1..PP_HEALING_MAX_SPECIES */
  pp_healing_species species[PP_HEALING_MAX_SPECIES];
  int layer_count;                   /* 1..PP_HEALING_MAX_LAYERS */
  double layer_factor[PP_HEALING_MAX_LAYERS]; /* healing.diffusivity_factors, surface first, > 0 */
  pp_healing_fibroblasts fibroblasts;
  pp_healing_collagen collagen;
} pp_healing_params;

/* The resting state and what it fixes. */
typedef struct {
  double growth_factor[PP_HEALING_MAX_SPECIES]; /* gbar_i, kg/m^3 */
  double proliferation;              /* r_rest = r0 + r1 gbar_m/(Kr + gbar_m), 1/s */
  double capacity;                   /* Kcap, cells/m^3 */
  double type_III;                   /* C3bar, kg/m^3 */
  double type_I;                     /* C1bar, kg/m^3 */
  double type_III_synthesis;         /* p3, kg/(cell s) */
  double type_I_synthesis;           /* p1, kg/(cell s) */
} pp_healing_rest;

/* Checks the parameters and derives the resting state. PP_ERR_CONFIG, naming the config keys, the
 * expectation and the numbers, for a parameter out of range or a set without a stable resting
 * reaction (see the top). */
pp_err pp_healing_rest_state(const pp_healing_params *params, pp_healing_rest *rest);

/* Parameters and rest state into kernels/healing_rates.cl's flat array (offsets HEALING_P_* there). */
void pp_healing_pack(const pp_healing_params *params, const pp_healing_rest *rest, double flat[PP_HEALING_PARAMS]);
/* G + 3, the length of a state vector. */
int pp_healing_state_size(const pp_healing_params *params);
/* The resting state as a state vector u[G + 3]. */
void pp_healing_rest_vector(const pp_healing_params *params, const pp_healing_rest *rest, double *u);

/* kernels/healing_rates.cl on the host. flat: pp_healing_pack's; u, source, rate, production,
 * loss: [G + 3] (source: [G]).
 *  - pp_healing_rates: the reaction part (no transport, no decay -k_i g_i);
 *  - pp_healing_rates_split: the same as production - loss * u, production, loss >= 0 for u >= 0;
 *  - pp_healing_full_rates: the whole pointwise right-hand side (the reaction part - k_i g_i);
 *  - pp_healing_jacobian: d(full rates)/du, row-major [(G + 3)^2]. */
void pp_healing_rates(const double *flat, const double *u, const double *source, double *rate);
void pp_healing_rates_split(const double *flat, const double *u, const double *source, double *production,
                            double *loss);
void pp_healing_full_rates(const double *flat, const double *u, const double *source, double *rate);
void pp_healing_jacobian(const double *flat, const double *u, double *J);

/* Eigenvalues re[k] + i im[k] of the real n x n matrix A (row-major, 1 <= n <= PP_HEALING_EIGEN_MAX):
 * balancing, Householder reduction to Hessenberg form, Francis double-shift QR. Complex pairs come
 * out next to each other; no other order. PP_ERR_SOLVER if the QR iteration does not converge
 * (30 n sweeps), PP_ERR_ARGUMENT for a bad n or a non-finite entry. */
pp_err pp_healing_eigenvalues(int n, const double *A, double *re, double *im);

/* The box the stability sweep takes its modes from. */
typedef struct {
  double length[3];        /* L_x, L_y and the total depth L_z (m) */
  int periodic[2];         /* x and y sides: 1 periodic (k = 2 pi m/L), 0 no flux (k = pi m/L);
                              top and bottom are no flux */
  double element_size[3];  /* smallest element edge along x, y, z (m): modes up to k = pi/h */
} pp_healing_domain;

typedef struct {
  int index[3];            /* m_x, m_y, m_z of the first wavevector found with this |k|^2 */
  double wavenumber2;      /* |k|^2, 1/m^2 */
  int layer;               /* layer (surface = 0) whose factor gave it: the first of equal factors */
  double growth_rate;      /* largest real part of the eigenvalues of A(k), 1/s */
} pp_healing_mode;

/* One layer's sweep (each layer's factor taken for the whole box). */
typedef struct {
  pp_healing_mode worst;   /* its largest growth rate */
  pp_healing_mode worst_coupled; /* the same for the growth-factor/fibroblast block alone: without
                              the collagen's k-independent -kd1, which is the largest growth rate
                              of every stable mode, it shows where the coupled modes come closest */
  long long unstable_modes;/* distinct |k|^2 with growth rate >= 0 */
  double unstable_min;     /* smallest and largest such |k|^2 (0 when there is none) */
  double unstable_max;
  double stable_below;     /* the admissible |k|^2 next below unstable_min and next above unstable_max */
  double stable_above;     /* (both stable; -1 where there is none, or no unstable mode) */
} pp_healing_layer_stability;

typedef struct {
  int modes_per_direction[3];    /* m = 0 .. count - 1 along x, y, z */
  long long mode_count;          /* distinct |k|^2 examined (k = 0 included) */
  int layer_count;
  pp_healing_layer_stability layer[PP_HEALING_MAX_LAYERS];
  pp_healing_mode worst;         /* over all modes and layers */
  pp_healing_mode worst_coupled; /* the growth-factor/fibroblast block's, over all modes and layers */
  double uniform_growth_rate;    /* k = 0: largest real part of the eigenvalues of J(rest), 1/s */
  double uniform_decay_rate;     /* k = 0, growth-factor/fibroblast block: minus its largest real
                                    part, the rate a uniform perturbation of g and n decays at, 1/s */
  double collagen_rates[2];      /* the collagen eigenvalues -(k31 + kd3), -kd1, 1/s */
  int stable;                    /* every growth rate < 0 */
} pp_healing_stability_report;

/* Linear stability of the resting state (from pp_healing_rest_state) over every mode of the domain
 * (see the top). Fills report whenever the sweep ran (unstable sets included). PP_ERR_CONFIG for an
 * unstable set, naming the mode (wavelength, m indices, layer), its growth rate, the mechanism and
 * the config keys that drive it; PP_ERR_ARGUMENT for a bad domain; PP_ERR_CONFIG for bad parameters
 * or a domain with more than PP_HEALING_MAX_MODE_PAIRS wavevectors; PP_ERR_MEMORY. */
pp_err pp_healing_stability(const pp_healing_params *params, const pp_healing_rest *rest,
                            const pp_healing_domain *domain, pp_healing_stability_report *report);

/* The model's parameters from the config's healing.* keys (two species, pdgf and tgf_beta, in that
 * order; healing.diffusivity_factors as the layer factors). Plain function: no MPI. */
pp_err pp_healing_params_from_config(const pp_config *config, pp_healing_params *params);

/* The domain of a mesh, element by element: start with pp_healing_domain_begin, add each element's 8
 * reference corners, finish with pp_healing_domain_end (lengths from the bounding box, element sizes
 * the smallest extent along each axis of any element). */
void pp_healing_domain_begin(pp_healing_domain *domain, double bounds[6]);
void pp_healing_domain_add_element(pp_healing_domain *domain, double bounds[6], const double corners[8][3]);
void pp_healing_domain_end(pp_healing_domain *domain, const double bounds[6], int periodic_x, int periodic_y);

/* What `pinprick check` and `run` do before stage 2: parameters from the config, the resting state and
 * its stability over the domain's modes (above); PP_ERR_CONFIG naming the parameters when unwounded
 * tissue would not stay at rest. One line per finding into summary (may be NULL), each starting with
 * prefix. */
pp_err pp_healing_check_resting_state(const pp_config *config, const pp_healing_domain *domain, const char *prefix,
                                      FILE *summary);

#endif
