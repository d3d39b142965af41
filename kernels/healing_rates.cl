/* healing_rates: the pointwise reaction rates of stage 2's healing model (PHYSICS.md 6.3, issue 10),
 * shared word for word by the host (host/healing_model.c includes this file with REAL = double)
 * and the device kernels that will integrate the reactions. Plain C11/OpenCL C: no address-space
 * qualifiers and private arrays only (a kernel copies the HEALING_PARAMS parameters from its
 * buffer into a private array first), no globals, only maths both languages have.
 *
 * State at a point, u[HEALING_MAX_STATE] (SI units):
 *   u[0 .. G-1]  growth factors g_i (kg/m^3), G = species count <= HEALING_MAX_SPECIES
 *   u[G]         fibroblast density n (cells/m^3)
 *   u[G + 1]     collagen III c3 (kg/m^3)
 *   u[G + 2]     collagen I c1 (kg/m^3)
 * Sources s[G]: the injury release rate of each growth factor (kg/m^3/s, >= 0).
 *
 * The full pointwise rates (the transport, div(D grad g) and div(D_n grad n - chi n grad g_c),
 * is the diffusion solver's):
 *   dg_i/dt = -k_i g_i + s_i + n (beta_i + sigma_i g_i / (Ks_i + g_i))
 *   dn/dt   = (r0 + r1 g_m / (Kr + g_m)) n (1 - n / Kcap) - delta_n n
 *   dc3/dt  = p3 n (1 + a3 g_s / (Kc + g_s)) - k31 c3 - kd3 (n / Nbar) c3
 *   dc1/dt  = p1 n (1 + a1 g_s / (Kc + g_s)) + k31 c3 - kd1 (n / Nbar) c1
 * with g_m the mitogen, g_s the synthesis stimulus. healing_rates and healing_rates_split give
 * the REACTION part: everything above except the decay -k_i g_i, which the implicit transport
 * takes; healing_jacobian differentiates the full rates (decay included).
 *
 * Split form (what a positivity-preserving integrator needs): rate = P(u) - L(u) u per component,
 * with P >= 0 and L >= 0 whenever u >= 0 and s >= 0 — every term that removes a species is
 * proportional to it:
 *   g_i: P = s_i + n (beta_i + sigma_i g_i/(Ks_i + g_i)),          L = 0 (the decay k_i is the
 *        transport's; add it to L for the full rate)
 *   n:   P = r(g_m) n,                                              L = r(g_m) n / Kcap + delta_n
 *   c3:  P = p3 n (1 + a3 g_s/(Kc + g_s)),                          L = k31 + kd3 n / Nbar
 *   c1:  P = p1 n (1 + a1 g_s/(Kc + g_s)) + k31 c3,                 L = kd1 n / Nbar
 * The saturations g/(K + g) are not clamped: the rates are smooth for g > -K, which a
 * positivity-preserving integrator never leaves.
 *
 * Parameters: a flat array of HEALING_PARAMS reals (host/healing_model.c's pp_healing_pack fills
 * it from the config and the derived rest state), offsets below. Species indices are stored as
 * reals (exact small integers). */
#ifndef HEALING_RATES_CL
#define HEALING_RATES_CL

#ifndef REAL
#define REAL double
#endif

#ifdef __OPENCL_VERSION__
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#endif

/* static inline in both languages: the host includes the file in one translation unit and uses
 * what it needs without unused-function warnings. */
#define HEALING_FUNCTION static inline

#define HEALING_MAX_SPECIES 4
#define HEALING_MAX_STATE (HEALING_MAX_SPECIES + 3)

#define HEALING_P_SPECIES 0                 /* G, the growth-factor species count */
#define HEALING_P_MITOGEN 1                 /* index m of the mitogen (proliferation) species */
#define HEALING_P_CHEMOATTRACTANT 2         /* index c of the chemoattractant (transport only) */
#define HEALING_P_STIMULUS 3                /* index s of the collagen-synthesis stimulus */
#define HEALING_P_DECAY 4                   /* [4 .. 7]   k_i, 1/s */
#define HEALING_P_BASAL 8                   /* [8 .. 11]  beta_i, kg/(cell s) */
#define HEALING_P_AUTOCRINE 12              /* [12 .. 15] sigma_i, kg/(cell s) */
#define HEALING_P_AUTOCRINE_HALF 16         /* [16 .. 19] Ks_i, kg/m^3 */
#define HEALING_P_PROLIFERATION 20          /* r0, 1/s */
#define HEALING_P_MITOGEN_PROLIFERATION 21  /* r1, 1/s */
#define HEALING_P_MITOGEN_HALF 22           /* Kr, kg/m^3 */
#define HEALING_P_APOPTOSIS 23              /* delta_n, 1/s */
#define HEALING_P_CAPACITY 24               /* Kcap, cells/m^3 (derived) */
#define HEALING_P_RESTING_DENSITY 25        /* Nbar, cells/m^3 */
#define HEALING_P_TYPE_III_SYNTHESIS 26     /* p3, kg/(cell s) (derived) */
#define HEALING_P_TYPE_I_SYNTHESIS 27       /* p1, kg/(cell s) (derived) */
#define HEALING_P_TYPE_III_STIMULATION 28   /* a3 */
#define HEALING_P_TYPE_I_STIMULATION 29     /* a1 */
#define HEALING_P_STIMULUS_HALF 30          /* Kc, kg/m^3 */
#define HEALING_P_MATURATION 31             /* k31, 1/s */
#define HEALING_P_TYPE_III_DEGRADATION 32   /* kd3, 1/s */
#define HEALING_P_TYPE_I_DEGRADATION 33     /* kd1, 1/s */
#define HEALING_PARAMS 34

/* The terms every rate function needs, evaluated once. */
typedef struct {
  int G, m, s;
  REAL n, c3, c1;
  REAL proliferation;     /* r(g_m) = r0 + r1 g_m/(Kr + g_m) */
  REAL type_III_gain;     /* 1 + a3 g_s/(Kc + g_s) */
  REAL type_I_gain;       /* 1 + a1 g_s/(Kc + g_s) */
} healing_terms;

HEALING_FUNCTION healing_terms healing_evaluate_terms(const REAL *p, const REAL *u)
{
  healing_terms t;
  t.G = (int)p[HEALING_P_SPECIES];
  t.m = (int)p[HEALING_P_MITOGEN];
  t.s = (int)p[HEALING_P_STIMULUS];
  t.n = u[t.G];
  t.c3 = u[t.G + 1];
  t.c1 = u[t.G + 2];
  const REAL gm = u[t.m], gs = u[t.s];
  t.proliferation = p[HEALING_P_PROLIFERATION] + p[HEALING_P_MITOGEN_PROLIFERATION] * gm / (p[HEALING_P_MITOGEN_HALF] + gm);
  const REAL stimulus = gs / (p[HEALING_P_STIMULUS_HALF] + gs);
  t.type_III_gain = 1 + p[HEALING_P_TYPE_III_STIMULATION] * stimulus;
  t.type_I_gain = 1 + p[HEALING_P_TYPE_I_STIMULATION] * stimulus;
  return t;
}

/* The reaction part of the rates (everything but transport and the decay -k_i g_i) into
 * rate[G + 3]. Written term by term from the equations above, not through the split form. */
HEALING_FUNCTION void healing_rates(const REAL *p, const REAL *u, const REAL *s, REAL *rate)
{
  const healing_terms t = healing_evaluate_terms(p, u);
  for (int i = 0; i < t.G; ++i) {
    const REAL secretion =
        p[HEALING_P_BASAL + i] + p[HEALING_P_AUTOCRINE + i] * u[i] / (p[HEALING_P_AUTOCRINE_HALF + i] + u[i]);
    rate[i] = s[i] + t.n * secretion;
  }
  const REAL Nbar = p[HEALING_P_RESTING_DENSITY];
  rate[t.G] = t.proliferation * t.n * (1 - t.n / p[HEALING_P_CAPACITY]) - p[HEALING_P_APOPTOSIS] * t.n;
  rate[t.G + 1] = p[HEALING_P_TYPE_III_SYNTHESIS] * t.n * t.type_III_gain - p[HEALING_P_MATURATION] * t.c3 -
                  p[HEALING_P_TYPE_III_DEGRADATION] * (t.n / Nbar) * t.c3;
  rate[t.G + 2] = p[HEALING_P_TYPE_I_SYNTHESIS] * t.n * t.type_I_gain + p[HEALING_P_MATURATION] * t.c3 -
                  p[HEALING_P_TYPE_I_DEGRADATION] * (t.n / Nbar) * t.c1;
}

/* The same reaction part as production[G + 3] and loss rates loss[G + 3]:
 * rate = production - loss * u (see the top; the decay is not in loss). */
HEALING_FUNCTION void healing_rates_split(const REAL *p, const REAL *u, const REAL *s, REAL *production, REAL *loss)
{
  const healing_terms t = healing_evaluate_terms(p, u);
  for (int i = 0; i < t.G; ++i) {
    production[i] =
        s[i] + t.n * (p[HEALING_P_BASAL + i] + p[HEALING_P_AUTOCRINE + i] * u[i] / (p[HEALING_P_AUTOCRINE_HALF + i] + u[i]));
    loss[i] = 0;
  }
  const REAL density = t.n / p[HEALING_P_RESTING_DENSITY];
  production[t.G] = t.proliferation * t.n;
  loss[t.G] = t.proliferation * t.n / p[HEALING_P_CAPACITY] + p[HEALING_P_APOPTOSIS];
  production[t.G + 1] = p[HEALING_P_TYPE_III_SYNTHESIS] * t.n * t.type_III_gain;
  loss[t.G + 1] = p[HEALING_P_MATURATION] + p[HEALING_P_TYPE_III_DEGRADATION] * density;
  production[t.G + 2] = p[HEALING_P_TYPE_I_SYNTHESIS] * t.n * t.type_I_gain + p[HEALING_P_MATURATION] * t.c3;
  loss[t.G + 2] = p[HEALING_P_TYPE_I_DEGRADATION] * density;
}

/* Jacobian of the FULL pointwise rates (the decay -k_i g_i included, the sources drop out) at u:
 * J[a * N + b] = d rate_a / d u_b, row-major, N = G + 3. */
HEALING_FUNCTION void healing_jacobian(const REAL *p, const REAL *u, REAL *J)
{
  const healing_terms t = healing_evaluate_terms(p, u);
  const int N = t.G + 3, row_n = t.G, row_3 = t.G + 1, row_1 = t.G + 2;
  for (int a = 0; a < N * N; ++a) J[a] = 0;
  for (int i = 0; i < t.G; ++i) {
    const REAL K = p[HEALING_P_AUTOCRINE_HALF + i], sigma = p[HEALING_P_AUTOCRINE + i];
    J[i * N + i] = -p[HEALING_P_DECAY + i] + t.n * sigma * K / ((K + u[i]) * (K + u[i]));
    J[i * N + row_n] = p[HEALING_P_BASAL + i] + sigma * u[i] / (K + u[i]);
  }
  const REAL Kcap = p[HEALING_P_CAPACITY], Nbar = p[HEALING_P_RESTING_DENSITY];
  const REAL Kr = p[HEALING_P_MITOGEN_HALF], gm = u[t.m];
  /* d/dg_m of r(g_m) n (1 - n/Kcap) */
  J[row_n * N + t.m] += p[HEALING_P_MITOGEN_PROLIFERATION] * Kr / ((Kr + gm) * (Kr + gm)) * t.n * (1 - t.n / Kcap);
  J[row_n * N + row_n] = t.proliferation * (1 - 2 * t.n / Kcap) - p[HEALING_P_APOPTOSIS];

  const REAL Kc = p[HEALING_P_STIMULUS_HALF], gs = u[t.s];
  const REAL stimulus_slope = Kc / ((Kc + gs) * (Kc + gs));
  const REAL p3 = p[HEALING_P_TYPE_III_SYNTHESIS], p1 = p[HEALING_P_TYPE_I_SYNTHESIS];
  const REAL k31 = p[HEALING_P_MATURATION], kd3 = p[HEALING_P_TYPE_III_DEGRADATION],
             kd1 = p[HEALING_P_TYPE_I_DEGRADATION];
  J[row_3 * N + t.s] += p3 * t.n * p[HEALING_P_TYPE_III_STIMULATION] * stimulus_slope;
  J[row_3 * N + row_n] = p3 * t.type_III_gain - kd3 * t.c3 / Nbar;
  J[row_3 * N + row_3] = -k31 - kd3 * t.n / Nbar;
  J[row_1 * N + t.s] += p1 * t.n * p[HEALING_P_TYPE_I_STIMULATION] * stimulus_slope;
  J[row_1 * N + row_n] = p1 * t.type_I_gain - kd1 * t.c1 / Nbar;
  J[row_1 * N + row_3] = k31;
  J[row_1 * N + row_1] = -kd1 * t.n / Nbar;
}

#endif
