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
 * limiter is needed; the error is measured, not hidden.
 * Conductances and volumes are summed on the host over each node's elements in ascending global
 * element id (node CSR), from the unwrapped reference corners, so they are the same bits on any
 * partition; the operator kernel adds its six edges in a fixed order; every global sum is
 * host/reduce's. So results are bitwise independent of the rank count.
 *
 * Time stepping: backward Euler, (M/dt + k M + K) c^{n+1} = M c^n / dt + Q, solved by
 * Jacobi-PCG (host/solver) on the device, matrix-free: per node the mass, six neighbour indices
 * and six conductances per species (~100 bytes per node and CG iteration for one species).
 * Total mass m = sum M c then obeys m^{n+1} = (m^n + dt sum Q) / (1 + k dt) to the CG tolerance:
 * the discrete decay the mass-balance test checks. The operator exchanges the ghost values
 * (owner -> ghost, host/halo) before each application, overlapped with the interior nodes.
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

/* Concentrations of the owned nodes, [owned_node_count * S] (mass per m^3). */
pp_err pp_diffusion_set_field(pp_diffusion *diffusion, const double *owned_values);
pp_err pp_diffusion_get_field(pp_diffusion *diffusion, double *owned_values);
/* Source rates per owned node (mass per s), [owned_node_count * S]; NULL: no source. Held until
 * changed; applied implicitly (at the end of each step). */
pp_err pp_diffusion_set_source_rate(pp_diffusion *diffusion, const double *owned_rates);
/* Node source rates from a density per element (mass per m^3 and s, [element_count * S], owned
 * and ghost elements): each node gets its corner volumes' share, in CSR order. Not collective. */
pp_err pp_diffusion_source_from_elements(const pp_diffusion *diffusion, const double *element_density,
                                         double *owned_rates);

/* One backward-Euler step of length dt (s). A solver failure is an error whose context names the
 * step, the time and dt. info may be NULL. */
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
 * The state of a run is the field, the held source rates, the time and the step count (the
 * operator is rebuilt from the mesh and parameters; the CG starts from the field, so a restart
 * on any rank count continues bit for bit). The mesh's output view must have been built
 * (pp_mesh_io_view: the checkpoint and series are created from it).
 *
 * Registers, in the checkpoint's owned order, species s's field as node field names[s] in
 * units[s], its source rate as "<names[s]>_source" in "(<units[s]>) m^3/s", and the scalars
 * "diffusion_time" (s) and "diffusion_step". Call before any write or read; names and units are
 * copied by the checkpoint. Collective. */
pp_err pp_diffusion_register_checkpoint(pp_diffusion *diffusion, pp_checkpoint *checkpoint, const char *const *names,
                                        const char *const *units);
/* Before pp_checkpoint_write: copy the state into the registered arrays (field from the device,
 * ghosts exchanged for the periodic faces written twice). Collective. */
pp_err pp_diffusion_checkpoint_save(pp_diffusion *diffusion);
/* After a successful pp_checkpoint_read_latest: the registered arrays back into the solver
 * (field, source rates, time, step). Collective. */
pp_err pp_diffusion_checkpoint_restore(pp_diffusion *diffusion);

/* Writes each species as node field names[s] in units[s] (output order) into the series step
 * the caller has begun (pp_io_step_begin ... pp_io_step_end around it, with any other fields).
 * Collective. */
pp_err pp_diffusion_write_step(pp_diffusion *diffusion, pp_io_series *series, const char *const *names,
                               const char *const *units);

#endif
