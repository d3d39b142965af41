/* diffusion: stage 2's implicit diffusion with first-order decay of growth factors on the
 * distributed treatment-patch mesh, for several species at once.
 *
 *   dc_s/dt = div(D_s(layer) grad c_s) - k_s c_s + q_s,  no flux through the outer sides (periodic
 *   sides are joined by the mesh), one diffusivity per skin layer and species.
 *
 * Discretisation (why: DESIGN.md asks for positivity on graded, layered meshes, and a
 * Galerkin trilinear stiffness has positive off-diagonals on non-cubic elements): vertex-centred
 * finite volumes on the hex mesh. Node n's control volume is its lumped mass (sum over its
 * elements of the integral of its trilinear shape function, 2x2x2 Gauss: the median-dual volume
 * on boxes). Fluxes are two-point fluxes along the mesh edges: each element contributes, for each
 * of its 12 edges, D_layer(e) |S . t| / |t|^2, with t the edge and S the part of the edge's
 * median-dual face inside the element (the quad edge midpoint - face centroid - cell centroid -
 * face centroid). On orthogonal boxes that is D h_b h_c / (4 h_a), so the scheme is the classical
 * 7-point scheme, second order on smoothly graded grids; every conductance is >= 0, so with
 * backward Euler the matrix M/dt + kM + K is an M-matrix and the solution stays non-negative for
 * non-negative data on ANY mesh, undulated ones included. Layer interfaces are node planes:
 * an edge in the interface collects the conductances of the elements on both sides, an edge
 * across it lies in one layer, which is the flux-continuous (harmonic-mean) treatment of the
 * interface. On non-orthogonal (undulated) elements the two-point flux drops the cross-diffusion
 * term (consistent only to the extent the mesh is orthogonal): positivity is kept exactly and no
 * limiter is needed; the error is measured, not hidden (tests/test_diffusion_undulated.c). It
 * does not shrink with h (observed order 0.00 for h = 10 to 2.5 um, against 2.00 on the flat
 * mesh): for L = sqrt(D/k) = 240 um and a junction wavelength of 100 um, a steady field across
 * the junction has relative L2/max errors of 0.4/1.4, 0.8/2.8, 1.4/4.7 and 1.9/6.2 % at
 * amplitudes 20, 40, 70 and 100 um (edge tilts 32-72 deg), a field along it 0.2/0.5 to
 * 2.5/5.5 %, the max in the junction band; a steep L = 80 um field (within ~100 um of a
 * channel) 3-5 times more. At skin amplitudes of 20-40 um that is <= 1 % (L2), well below the
 * uncertainty of D and k (L spans 130-240 um, PHYSICS.md 5.5). The only negatives are the CG
 * tolerance's (-3e-14 of the max at 1e-12, the same on flat meshes). A consistent scheme is not
 * free: a conservative linear scheme exact for linear fields cannot be monotone on every mesh
 * (Nordbotten, Aavatsmark and Eigestad, Numer. Math. 2007), and these skews are far past where
 * MPFA-O stays non-negative, so MPFA or Galerkin cross terms would need a mass-conserving
 * nonlinear limiter (algebraic flux correction) or a nonlinear two-point flux, several linear
 * solves per step. Not worth it at these amplitudes; revisit for 70 um and more with a
 * diffusivity contrast across the junction.
 * Conductances and volumes are summed on the host over each node's elements in ascending global
 * element id (node CSR), from the unwrapped reference corners, so they are the same bits on any
 * partition; the operator kernel adds its six edges in a fixed order; every global sum is
 * host/reduce's. So results are bitwise independent of the rank count.
 *
 * Time stepping (pp_diffusion_set_time_scheme), both solved by Jacobi-PCG (host/solver) on the
 * device, matrix-free: per node the mass, six neighbour indices and six conductances per species
 * (~100 bytes per node and CG iteration for one species). The operator exchanges the ghost values
 * (owner -> ghost, host/halo) before each application, overlapped with the interior nodes.
 *  - Backward Euler (the default), (M/dt + k M + K) c^{n+1} = M c^n / dt + Q: first order, and
 *    positivity preserving on any mesh (the M-matrix above).
 *  - BDF2 with variable steps, second order. With the step ratio w = dt_n / dt_{n-1}:
 *        a0 c^{n+1} - a1 c^n + a2 c^{n-1} = dt (A c^{n+1} + q),
 *        a0 = (1 + 2w) / (1 + w),  a1 = 1 + w,  a2 = w^2 / (1 + w),
 *    i.e. (a0 M/dt + k M + K) c^{n+1} = M (a1 c^n - a2 c^{n-1}) / dt + Q: the same operator with
 *    the shift a0/dt + k, plus one field (c^{n-1}, owned nodes) kept on the device and one device
 *    copy per step. It needs c^{n-1}, so the first two steps of a run, and the first two after
 *    pp_diffusion_reset_history, pp_diffusion_set_field or a change of scheme, are backward-Euler
 *    steps (two, not one: see the pulse case below); so is a step with w >= 1 + sqrt(2), from which on variable-step BDF2 is not
 *    zero-stable (Grigorieff 1983, Numer. Math. 42): an adaptive controller should grow dt by less
 *    than that. The step info says which scheme each step took.
 *    BDF2 is NOT positivity preserving: the matrix is still an M-matrix, but the right-hand side
 *    weighs c^{n-1} by -a2 < 0, so where c fell by more than a1/a2 (4 at w = 1) during the last
 *    step the right-hand side, and then c^{n+1}, can go negative. Two ways that happens:
 *     - the first BDF2 step after a pulse, had only one backward-Euler step been taken and been
 *       long against the pulse's own diffusion time: c^{n-1} would be the raw pulse while c^n has
 *       already spread out (measured: -19 x the maximum after 1 h steps; with the two
 *       backward-Euler start steps used now, +0.027, no negative value);
 *     - a mode decaying at rate lambda (k, plus D times its wavenumber squared) with lambda dt >
 *       1/2: BDF2's characteristic roots are then complex, so the mode changes sign every few
 *       steps while it decays (for the decay alone: steps longer than 1/(2k), 48 min for
 *       k = 15/day). Stiff spatial modes always do, but after a backward-Euler start they carry
 *       little; the smooth part of a fast-decaying species does, with an O(1) undershoot
 *       relative to what is left of it.
 *    So BDF2 is acceptable where the steps resolve the decay (k dt <= 1/2 for every species), the
 *    field is smooth in time on the scale of dt (after a pulse: first steps short against the
 *    pulse's diffusion time, growing gradually), and a small transient undershoot, of the size of
 *    the time error, harms nothing downstream. Use backward Euler where a consumer needs c >= 0
 *    exactly (a rate law, a logarithm, a threshold on "any signal") or the steps are long against
 *    1/k. Measured by test_diffusion's test_positivity_bdf2 on the graded aspect-ratio-8 mesh of
 *    the positivity test (min/max over the steps; backward Euler >= 0 on all of them): from an
 *    indicator field with dt = 0.5 s, -1e-18 (round-off); dt = 20 s (stiff), no negative value;
 *    from an indicator source with dt = 0.5 s, -2e-22; from the indicator field with dt = 1 h,
 *    -19 at the first BDF2 step with a one-step start (the pulse case above), none with two.
 * Total mass m = sum M c obeys the scheme's recurrence to the CG tolerance,
 *     (a0 + k dt) m^{n+1} = a1 m^n - a2 m^{n-1} + dt sum Q
 * (backward Euler: a0 = a1 = 1, a2 = 0, i.e. m^{n+1} = (m^n + dt sum Q) / (1 + k dt)): the
 * discrete decay the mass-balance tests check, with the a's from the step info.
 *
 * Fields are interleaved per node: value of species s at node n is [n * S + s].
 * Every function taking a pp_diffusion is COLLECTIVE over its communicator. */
#ifndef PP_DIFFUSION_H
#define PP_DIFFUSION_H

#include <mpi.h>

#include "checkpoint.h"
#include "clrt.h"
#include "error.h"
#include "halo.h"
#include "io.h"
#include "mesh.h"
#include "reduce.h"
#include "solver.h"

/* Time discretisation of the step (see the top). */
typedef enum { PP_TIME_BACKWARD_EULER = 0, PP_TIME_BDF2 = 1 } pp_time_scheme;

typedef struct {
  double diffusivity[PP_LAYER_COUNT]; /* m^2/s, per skin layer (0 = stratum corneum) */
  double decay_rate;                  /* 1/s (k = ln 2 / half-life) */
} pp_diffusion_species;

/* What one time step did. */
typedef struct {
  long long step;                     /* steps completed after this one */
  double time;                        /* s, after the step */
  double dt;
  pp_solver_stats solver;
  double mass[PP_SOLVER_MAX_SPECIES]; /* sum M c after the step (reduce) */
  pp_time_scheme scheme;              /* the step taken (a BDF2 run takes backward-Euler steps too) */
  double coefficient[3];              /* its a0, a1, a2 (backward Euler 1, 1, 0): the mass recurrence */
} pp_diffusion_step_info;

typedef struct pp_diffusion pp_diffusion;

/* Build the operator for the mesh (which must outlive the object, as must halo and reduce; the
 * halo must be the mesh's, on the same clrt). species: [species_count], 1..PP_SOLVER_MAX_SPECIES.
 * Diffusivities must be > 0 and decay rates >= 0. Field and sources start at 0, time at 0. */
pp_err pp_diffusion_create(pp_diffusion **diffusion, const pp_mesh *mesh, pp_clrt *clrt, pp_halo *halo,
                           pp_reduce *reduce, MPI_Comm comm, int species_count, const pp_diffusion_species *species);
void pp_diffusion_destroy(pp_diffusion *diffusion);

int pp_diffusion_species_count(const pp_diffusion *diffusion);
/* Lumped volume of each owned node (m^3), [owned_node_count]; valid while the object lives. */
const double *pp_diffusion_node_volume(const pp_diffusion *diffusion);
/* Number of element edges whose dual face makes an angle with the edge (S.t < |S||t| (1 - 1e-12)):
 * 0 on orthogonal meshes; on undulated ones the measure of where the two-point flux is
 * inconsistent. Summed over the owned nodes' edges of all ranks. */
long long pp_diffusion_non_orthogonal_edges(const pp_diffusion *diffusion);

/* Solver options (default: relative tolerance 1e-12, 10000 iterations, convergence required). */
void pp_diffusion_set_solver_options(pp_diffusion *diffusion, const pp_solver_options *options);

/* Preconditioner of the CG. JACOBI (the default): the inverse diagonal, fused into the vector
 * update. Z_LINES: block Jacobi over the vertical node lines, each tridiagonal block solved exactly
 * (Thomas) on the device, one work-item per line: the thin surface layers couple their nodes far
 * more strongly in z than laterally (conductance ratio (h_x/h_z)^2, up to ~150 in the default
 * needle cell), which the diagonal cannot capture. Lines exist on generated meshes (node columns,
 * each whole on one rank, so results stay rank-independent); on imported meshes every node is its
 * own line (Jacobi, unfused). Convergence is then measured in the preconditioner's norm.
 * Measured (default demo, 180 days, PoCL on 2 CPU cores): 20 % fewer CG iterations than Jacobi
 * (28 139 vs 35 312) but 12 % more wall time (16.8 vs 14.9 s): the line solve is a pass of its
 * own, sequential along each column, while Jacobi rides in the fused update. On a GPU, where the
 * operator dominates even more, that balance may differ: measure before switching. */
typedef enum { PP_PRECONDITIONER_JACOBI = 0, PP_PRECONDITIONER_Z_LINES = 1 } pp_diffusion_preconditioner;
void pp_diffusion_set_preconditioner(pp_diffusion *diffusion, pp_diffusion_preconditioner preconditioner);
/* Lines on this rank (the owned node count when there are none longer than one node). */
int pp_diffusion_line_count(const pp_diffusion *diffusion);

/* Time scheme (default backward Euler). Setting it resets the history (next step backward Euler).
 * Choose BDF2 before pp_diffusion_register_checkpoint: its history is part of the restart state
 * and is registered only then, so switching to BDF2 after a registration without it is refused
 * (PP_ERR_ARGUMENT) rather than giving restarts that do not continue bit for bit. Give every rank
 * the same scheme. */
pp_err pp_diffusion_set_time_scheme(pp_diffusion *diffusion, pp_time_scheme scheme);
pp_time_scheme pp_diffusion_time_scheme(const pp_diffusion *diffusion);
/* Forget c^{n-1}: the next two steps are backward Euler, then BDF2 resumes. Call it where the source
 * rates jump (switched on or off) or anything else makes c or dc/dt discontinuous in time;
 * pp_diffusion_set_field calls it itself (a release pulse is added to the field). Why: BDF2's
 * difference quotient is the slope of the quadratic through c^{n-1}, c^n and c^{n+1}, which
 * across a kink or jump at t_n is no approximation of dc/dt. Across a kink that is an O(dt)
 * error in c, i.e. first order (c' = q switched on at t_n, constant dt: 2/3 q dt instead of q dt
 * after the step, an error that grows to q dt / 2 and stays); across a jump in c the -a2 c^{n-1}
 * weight turns the jump into an undershoot. Backward Euler needs only c^n: its one step after the
 * jump has an O(dt^2) error, keeps c >= 0 and damps the stiff modes the jump excited; the second
 * one keeps the raw jump out of BDF2's c^{n-1} (the pulse case at the top). */
void pp_diffusion_reset_history(pp_diffusion *diffusion);

/* Concentrations of the owned nodes, [owned_node_count * S] (mass per m^3). set_field resets the
 * BDF2 history (pp_diffusion_reset_history: a field set from outside has no past). */
pp_err pp_diffusion_set_field(pp_diffusion *diffusion, const double *owned_values);
pp_err pp_diffusion_get_field(pp_diffusion *diffusion, double *owned_values);
/* Source rates per owned node (mass per s), [owned_node_count * S]; NULL: no source. Held until
 * changed; applied implicitly (at the end of each step). The BDF2 history is kept (sources may
 * change smoothly every step); reset it when they jump. */
pp_err pp_diffusion_set_source_rate(pp_diffusion *diffusion, const double *owned_rates);
/* Per-node linear rates kappa (1/s, [owned_node_count * S], NULL: none, the default), added to the
 * decay: the step solves ((a0/dt + k_s + kappa_n) M + K) c' = ... (a linearly implicit reaction:
 * the caller puts minus the reaction's derivative here and the rest of it in the source). kappa may
 * be negative (a production) as long as a0/dt + k_s + min kappa > 0, checked at each step
 * (PP_ERR_ARGUMENT); the matrix is then still an M-matrix. The mass recurrence above then carries
 * sum M kappa c. Held until changed; not part of the checkpoint (a caller setting them sets them
 * again before each step). Collective. */
pp_err pp_diffusion_set_node_rates(pp_diffusion *diffusion, const double *owned_rates);
/* Node source rates from a density per element (mass per m^3 and s, [element_count * S], owned
 * and ghost elements): each node gets its corner volumes' share, in CSR order. Not collective. */
pp_err pp_diffusion_source_from_elements(const pp_diffusion *diffusion, const double *element_density,
                                         double *owned_rates);

/* One step of length dt (s) with the chosen scheme. A solver failure is an error whose context
 * names the step, the time and dt; the field is then what the solver left (as ever) and the BDF2
 * history is reset. info may be NULL. */
pp_err pp_diffusion_step(pp_diffusion *diffusion, double dt, pp_diffusion_step_info *info);
/* Total mass per species, sum over owned nodes of M c (exact reduce). mass: [S]. */
pp_err pp_diffusion_total_mass(pp_diffusion *diffusion, double *mass);
/* Time (s) and completed steps; set them when restarting. */
double pp_diffusion_time(const pp_diffusion *diffusion);
long long pp_diffusion_step_count(const pp_diffusion *diffusion);
void pp_diffusion_set_time(pp_diffusion *diffusion, double time, long long step);

/* Apply the operator y = (shift_s M + K) x once with shift_s = 1/dt + k_s (benchmarks, tests):
 * x: [node_count * S] on the device (ghosts exchanged here), y: [owned * S]. */
pp_err pp_diffusion_apply(pp_diffusion *diffusion, double dt, cl_mem x, cl_mem y);
/* Solve the step system for the right-hand side b (device, [owned * S]) into x (device,
 * [node_count * S], holding the initial guess) with the given options: the CG benchmark. */
pp_err pp_diffusion_solve(pp_diffusion *diffusion, double dt, const pp_solver_options *options, cl_mem b, cl_mem x,
                          pp_solver_stats *stats);

/* ---- restart and output ------------------------------------------------------------------------
 * The state of a run is the field, the held source rates, the time and the step count, and with
 * BDF2 its history (c^{n-1}, the last dt, whether they are valid) (the operator is rebuilt from
 * the mesh and parameters; the CG starts from the field, so a restart on any rank count continues
 * bit for bit). The mesh's output view must have been built (pp_mesh_io_view: the checkpoint and
 * series are created from it).
 *
 * Registers, in the checkpoint's owned order, species s's field as node field names[s] in
 * units[s], its source rate as "<names[s]>_source" in "(<units[s]>) m^3/s", and the scalars
 * "diffusion_time" (s) and "diffusion_step". When the scheme is BDF2 (set it first), also
 * c^{n-1} as "<names[s]>_previous" in units[s] and the scalars "diffusion_previous_dt" (s) and
 * "diffusion_history" (1: c^{n-1} valid); so a BDF2 run cannot restart from a backward-Euler
 * run's checkpoint (pp_checkpoint_read_latest refuses it: items missing). Call before any write
 * or read; names and units are copied by the checkpoint. Collective. */
pp_err pp_diffusion_register_checkpoint(pp_diffusion *diffusion, pp_checkpoint *checkpoint, const char *const *names,
                                        const char *const *units);
/* Before pp_checkpoint_write: copy the state into the registered arrays (field from the device,
 * ghosts exchanged for the periodic faces written twice). Collective. */
pp_err pp_diffusion_checkpoint_save(pp_diffusion *diffusion);
/* After a successful pp_checkpoint_read_latest: the registered arrays back into the solver
 * (field, source rates, time, step, BDF2 history). Collective. */
pp_err pp_diffusion_checkpoint_restore(pp_diffusion *diffusion);

/* Writes each species as node field names[s] in units[s] (output order) into the series step
 * the caller has begun (pp_io_step_begin ... pp_io_step_end around it, with any other fields).
 * Collective. */
pp_err pp_diffusion_write_step(pp_diffusion *diffusion, pp_io_series *series, const char *const *names,
                               const char *const *units);

/* The device buffer of the field, [node_count * S] REALs (owned nodes first; the ghost entries are
 * only current inside a step). Read it (a chemoattractant for pp_chemotaxis_step, a kernel of the
 * healing stage) between calls; write only through pp_diffusion_set_field (the BDF2 history). */
cl_mem pp_diffusion_field_buffer(const pp_diffusion *diffusion);

/* ---- fibroblast transport: random motility and chemotaxis (issue 10) ---------------------------
 *
 *   dn/dt = div(D_n grad n - chi n grad g),  no flux through the outer sides,
 * for a chemoattractant g held fixed over the step (a transport step of the Strang split: no
 * reactions here). D_n (m^2/s) and chi are scalars (PHYSICS.md 6.4: not per layer); chi may be
 * negative (chemorepulsion).
 *
 * Discretisation: the same control volumes (lumped volumes M_a) and mesh edges as the diffusion
 * object, with T_ab the geometric conductance of the edge, |S.t| / |t|^2 summed over the edge's
 * elements in ascending global element id (the diffusion conductance without D; the same bits
 * from both ends). Potential psi = chi g / D_n at the nodes; along an edge a->b,
 * delta = psi_b - psi_a, and the Scharfetter-Gummel flux (Scharfetter and Gummel, IEEE Trans.
 * Electron Devices 16, 1969; as an exponentially fitted finite volume scheme: Brezzi, Marini and
 * Pietra, SIAM J. Numer. Anal. 26, 1989; Bessemoulin-Chatard, Numer. Math. 121, 2012):
 *   F_ab = D_n T_ab [B(-delta) n_a - B(delta) n_b],   B(x) = x / (e^x - 1),  B(0) = 1.
 * It vanishes exactly when n_b / n_a = e^delta, so with no-flux sides the discrete steady state is
 * n = C e^psi at the nodes (whatever the mesh), and it is plain two-point diffusion at chi = 0.
 * With u = n e^-psi the flux is symmetric, D_n T_ab w_ab (u_a - u_b), w_ab = B(delta) e^psi_b =
 * B(-delta) e^psi_a, and backward Euler reads (diag(M e^psi) / dt + K_w) u' = M n / dt: SPD and an
 * M-matrix. That form over- and underflows (psi = 2.5 per ng/mL at the default chi / D_n of
 * 2.5e6 m^3/kg: e^psi spans e^44 at PDGF's serum level of 17.5 ng/mL). Scaled symmetrically by
 * E^-1/2, E = diag(e^(psi - c)), with the unknown v = n e^-(psi - c)/2 and c the midpoint of psi's
 * global range (exact min and max), the system is
 *   A v = M n / (h dt),  h_a = e^((psi_a - c)/2),  n' = h v,
 *   A_aa = M_a / dt + sum_b D_n T_ab B(-delta_ab),  A_ab = -D_n T_ab s_ab,
 *   s_ab = (d/2) / sinh(d/2) = B(-d) e^(-d/2),  d = |delta_ab|,
 * (row a of A v times h_a is row a of M n'/dt + div F = M n/dt: the same scheme). The matrix depends
 * only on the differences: B(-d) lies in [1, 1 + d], e^(-d/2) in (0, 1], and B(-delta) is B(-d) at
 * an edge's lower end, s_ab e^(-d/2) at its upper one, so nothing overflows for any |delta| (a
 * weight underflows to 0 beyond d ~ 1490, where the edge carries nothing that counts). No global
 * maximum enters the matrix; only h sees psi itself, within e^(+-range/4) of 1 (a psi range up to
 * 2756 in double, 272 in a float build: refused beyond). A is symmetric in bits (s_ab from the
 * unordered pair's max - min), positive definite, and an M-matrix (a positive diagonal scaling of
 * the unscaled one), so n' >= 0 for n >= 0, and sum_a M_a n'_a = sum M n (h^T times the coupling part of A is 0), both
 * exactly in exact arithmetic and to the solver's accuracy below. B is evaluated as x / expm1(x)
 * (accurate near 0, 0 for large x, -x for very negative x) and by its Taylor series
 * 1 - x/2 + x^2/12 - x^4/720 + x^6/30240 - x^8/1209600 for |x| < 0.1 (truncation 2e-18 relative).
 *
 * Solver: Jacobi-PCG (host/solver) on the device, the operator exchanging ghost values as the
 * diffusion operator does. CG's test, ||r||_{D^-1} <= tol ||b||_{D^-1}, is blind to where n is
 * large: in the fibroblasts' rows the residual is R = h r, and h spans e^(range/2), so with that
 * test alone a step carrying cells from psi = 8 into a bump of psi = 60 (test_chemotaxis) moved the
 * total number by 7e-5 at tol 1e-14.
 * What matters is sum |R| <= tol sum M |n| / dt: the rows of M n'/dt + K_n n' sum to M/dt in every
 * column (conservation), so it bounds both the relative change of the total number and
 * sum M |n' - n*| / sum M |n| (the mass-weighted l1 error) by tol. So after each CG the true
 * residual is computed and, while that bound is missed, CG runs again from its last iterate with
 * its tolerance tightened by the missing factor (and 2), at most 8 rounds, stopping early when a
 * round gains less than a factor 2: the floor set by the rounding of A v, about 1e-16 lambda_max dt
 * per row (1e-11 in sum |R| for lambda_max dt = 2e4; the total number then moves by ~1e-13 per
 * step). The step info reports the rounds and the bound reached. Measured (test_chemotaxis, 4624
 * nodes, tol 1e-14): where psi spans 60, 2-4 rounds reaching CG residuals of 1e-21 to 4e-25 and
 * number changes below 1e-13 per step; at chi = 0, 441 CG iterations over 3 steps where the
 * diffusion path's single test takes 337.
 *
 * The weights are recomputed on the device at every step from g (psi computed at the owned nodes,
 * exchanged to the ghosts, then per edge from its two end values), node sums in the fixed slot
 * order, every global sum and extreme through host/reduce: the same bits on any rank count.
 *
 * The object shares the diffusion object's mesh, device, halo, reduce, neighbour lists and lumped
 * volumes (which must outlive it); it has its own field n (owned nodes) and solver. Every function
 * taking a pp_chemotaxis is COLLECTIVE over the diffusion object's communicator. */
typedef struct pp_chemotaxis pp_chemotaxis;

/* What one chemotaxis step did. */
typedef struct {
  double dt;                    /* s */
  pp_solver_stats solver;       /* one system (species 0): iterations summed over the rounds, residuals
                                   of the last round */
  double mass;                  /* sum M n after the step (reduce) */
  double potential_min, potential_max; /* psi = chi g / D_n over all owned nodes */
  double edge_contrast;         /* largest |psi_b - psi_a| over the mesh edges */
  int rounds;                   /* CG rounds (see the solver options) */
  double number_residual;       /* sum |R| / (sum M |n| / dt): bounds the relative change of the total
                                   number in the step and the mass-weighted l1 error of n' */
} pp_chemotaxis_step_info;

/* motility D_n > 0 (m^2/s), sensitivity chi (m^2/s per unit of g, finite). Field n starts at 0.
 * Solver options as the diffusion's defaults (relative tolerance 1e-12, here the bound on
 * sum |R| / (sum M |n| / dt) above; max_iterations and require_convergence per CG round). */
pp_err pp_chemotaxis_create(pp_chemotaxis **chemotaxis, pp_diffusion *diffusion, double motility, double sensitivity);
void pp_chemotaxis_destroy(pp_chemotaxis *chemotaxis);
pp_err pp_chemotaxis_set_parameters(pp_chemotaxis *chemotaxis, double motility, double sensitivity);
void pp_chemotaxis_set_solver_options(pp_chemotaxis *chemotaxis, const pp_solver_options *options);

/* Fibroblast density of the owned nodes, [owned_node_count] (cells per m^3). */
pp_err pp_chemotaxis_set_field(pp_chemotaxis *chemotaxis, const double *owned_values);
pp_err pp_chemotaxis_get_field(pp_chemotaxis *chemotaxis, double *owned_values);
/* The device buffer of n, [owned_node_count] REALs; a caller (the reactions) may read and write it
 * between steps. */
cl_mem pp_chemotaxis_field_buffer(const pp_chemotaxis *chemotaxis);
/* sum over the owned nodes of all ranks of M n (exact reduce). */
pp_err pp_chemotaxis_total_mass(pp_chemotaxis *chemotaxis, double *mass);

/* One backward-Euler transport step of length dt (s) in the chemoattractant g, read on the device
 * at attractant[offset + n * stride] for the owned nodes n (ghosts are not read): offset s and
 * stride S for species s of the diffusion object's interleaved field (pp_diffusion_field_buffer),
 * offset a * node_count and stride 1 for a structure-of-arrays state. A solver failure is an error
 * whose context names dt; the field is then left as it was. A g that gives a non-finite psi, or a
 * psi range beyond what e^(range/4) can hold (2756 in double, 272 in float), is refused
 * (PP_ERR_ARGUMENT) on every rank. info may be NULL. */
pp_err pp_chemotaxis_step(pp_chemotaxis *chemotaxis, double dt, cl_mem attractant, size_t offset, size_t stride,
                          pp_chemotaxis_step_info *info);
/* The same with g on the host, attractant[offset + n * stride] for the owned nodes. */
pp_err pp_chemotaxis_step_host(pp_chemotaxis *chemotaxis, double dt, const double *attractant, size_t offset,
                               size_t stride, pp_chemotaxis_step_info *info);

/* Restart and output, as the diffusion object's (the mesh's output view must have been built):
 * the state is the field, registered as node field `name` in `units`; the parameters come from
 * the config. Save before pp_checkpoint_write, restore after pp_checkpoint_read_latest. */
pp_err pp_chemotaxis_register_checkpoint(pp_chemotaxis *chemotaxis, pp_checkpoint *checkpoint, const char *name,
                                         const char *units);
pp_err pp_chemotaxis_checkpoint_save(pp_chemotaxis *chemotaxis);
pp_err pp_chemotaxis_checkpoint_restore(pp_chemotaxis *chemotaxis);
pp_err pp_chemotaxis_write_step(pp_chemotaxis *chemotaxis, pp_io_series *series, const char *name, const char *units);

#endif
