/* nonlocal: the implicit-gradient average of an element field over a fixed physical length, for
 * puncture initiation that does not depend on the mesh (tests/validation/RESULTS.md, V9c: the
 * stratum corneum's tensile energy under a 10 um tip grows 3-3.5x per halving of the element size,
 * its average over ~30 um converges).
 *
 * Given w per element (owned and ghost), the average w_bar solves the screened Poisson (Helmholtz)
 * problem of the implicit-gradient models (Peerlings et al. 1996, Int J Numer Meth Eng 39:3391):
 *     w_bar - l^2 div grad w_bar = w,   no flux on the boundary,
 * whose Green's function spreads each value over a few l (exp(-r/l)/(4 pi l^2 r) in an infinite body).
 * Discretised with stage 2's vertex-centred finite volumes (host/diffusion: two-point fluxes, an
 * M-matrix, so w >= 0 gives w_bar >= 0, and sum M w_bar = sum M w): the element field goes to the
 * nodes by corner-volume shares (w_n = sum_e V_e,n w_e / M_n), one backward-Euler step of length
 * 1 s with diffusivity l^2 in every layer solves (M + l^2 K) w_bar = M w, and each element takes
 * the mean of its eight corners. Nodes sum in CSR order and the CG's global sums are host/reduce's,
 * so the result is the same bits on any partition. All functions are COLLECTIVE. */
#ifndef PP_NONLOCAL_H
#define PP_NONLOCAL_H

#include <mpi.h>

#include "clrt.h"
#include "error.h"
#include "halo.h"
#include "mesh.h"
#include "reduce.h"

typedef struct pp_nonlocal pp_nonlocal;

/* length: l (m, > 0). The mesh, clrt, halo and reduce must outlive the object. */
pp_err pp_nonlocal_create(pp_nonlocal **nonlocal, const pp_mesh *mesh, pp_clrt *clrt, pp_halo *halo,
                          pp_reduce *reduce, MPI_Comm comm, double length);
void pp_nonlocal_destroy(pp_nonlocal *nonlocal);

/* element_values, element_average: [mesh element_count] (owned and ghost elements); the average is
 * written for every element, ghosts included (from the exchanged node values). info (may be NULL):
 * CG iterations of the solve. */
pp_err pp_nonlocal_average(pp_nonlocal *nonlocal, const double *element_values, double *element_average,
                           int *iterations);

#endif
