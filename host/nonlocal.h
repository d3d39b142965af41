/* nonlocal: the average of an element field over a sphere of fixed physical radius within each
 * element's own skin layer, for puncture initiation that does not depend on the mesh
 * (tests/validation/RESULTS.md, V9c: the stratum corneum's tensile energy under a 10 um tip grows
 * 3-3.5x per halving of the element size, its average over a 30 um sphere within the layer changes
 * by 5 % from 16 to 8 um elements).
 *
 *     w_bar(e) = sum_j V_j w_j / sum_j V_j   over the elements j of e's layer whose centroid lies
 *                                            within `radius` of e's centroid (e itself included)
 *
 * in the undeformed configuration. Why a sphere within the layer and not the implicit-gradient
 * (screened Poisson) average over every layer: measured on the V9c snapshots, the latter (l = 15
 * and 30 um) still changed by 70-90 % from 16 to 8 um elements, and an unrestricted sphere by 32 %:
 * the thin stratum corneum's field is diluted by a share of the soft layer below that depends on
 * where the centroids fall. A layer fails on its own energy.
 *
 * Parallel: the centroids, volumes and layers of every element are gathered once at creation, and
 * each average gathers the field (one value per element, by global id), so every rank sums the same
 * terms in the same order (buckets in a fixed order, elements within a bucket by global id): the
 * same bits on any partition. Memory and traffic grow with the global element count (40 bytes per
 * element once, 8 per average): meant for the needle cells of stage 1 (1e4-1e6 elements), where a
 * quasi-static stroke averages once per increment. All functions are COLLECTIVE. */
#ifndef PP_NONLOCAL_H
#define PP_NONLOCAL_H

#include <mpi.h>

#include "error.h"
#include "mesh.h"

typedef struct pp_nonlocal pp_nonlocal;

/* radius: of the sphere (m, > 0). The mesh must outlive the object. */
pp_err pp_nonlocal_create(pp_nonlocal **nonlocal, const pp_mesh *mesh, MPI_Comm comm, double radius);
void pp_nonlocal_destroy(pp_nonlocal *nonlocal);

/* element_values, element_average: [mesh element_count] (owned and ghost elements; only the owned
 * values are read); the average is written for every local element, ghosts included. neighbours
 * (may be NULL): the largest number of elements one average took. */
pp_err pp_nonlocal_average(pp_nonlocal *nonlocal, const double *element_values, double *element_average,
                           long long *neighbours);

#endif
