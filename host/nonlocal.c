/* nonlocal: implicit-gradient averages of element fields (see nonlocal.h). */
#include "nonlocal.h"

#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "runtime.h"

struct pp_nonlocal {
  const pp_mesh *mesh;
  pp_halo *halo;
  MPI_Comm comm;
  pp_diffusion *helmholtz;  /* one species, D = l^2, no decay: one 1 s step is the solve */
  double *node_share;       /* [owned nodes]: sum_e V_e,n w_e */
  double *node_values;      /* [nodes]: w, then w_bar with the ghosts exchanged */
};

pp_err pp_nonlocal_create(pp_nonlocal **nonlocal, const pp_mesh *mesh, pp_clrt *clrt, pp_halo *halo,
                          pp_reduce *reduce, MPI_Comm comm, double length)
{
  *nonlocal = NULL;
  PP_CHECK(length > 0, PP_ERR_ARGUMENT, "the non-local length must be > 0 (got %g m)", length);
  pp_nonlocal *n = calloc(1, sizeof *n);
  PP_CHECK(n, PP_ERR_MEMORY, "out of memory for the non-local average");
  n->mesh = mesh;
  n->halo = halo;
  n->comm = comm;
  pp_diffusion_species species = {.decay_rate = 0};
  for (int l = 0; l < PP_LAYER_COUNT; ++l) species.diffusivity[l] = length * length;
  pp_err err = pp_diffusion_create(&n->helmholtz, mesh, clrt, halo, reduce, comm, 1, &species);
  if (err == PP_OK) {
    n->node_share = malloc(((size_t)mesh->owned_node_count + 1) * sizeof *n->node_share);
    n->node_values = malloc(((size_t)mesh->node_count + 1) * sizeof *n->node_values);
    if (!n->node_share || !n->node_values)
      err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the non-local average");
  }
  if (err == PP_OK) {
    /* the average must be the solve's answer, not a tolerance away from it */
    pp_solver_options options;
    pp_solver_options_default(&options);
    options.relative_tolerance = 1e-12;
    pp_diffusion_set_solver_options(n->helmholtz, &options);
  }
  err = pp_comm_agree(comm, err, "setting up the non-local average");
  if (err != PP_OK) {
    pp_nonlocal_destroy(n);
    PP_CALL(err);
  }
  *nonlocal = n;
  return PP_OK;
}

void pp_nonlocal_destroy(pp_nonlocal *n)
{
  if (!n) return;
  pp_diffusion_destroy(n->helmholtz);
  free(n->node_share);
  free(n->node_values);
  free(n);
}

pp_err pp_nonlocal_average(pp_nonlocal *n, const double *element_values, double *element_average, int *iterations)
{
  const pp_mesh *mesh = n->mesh;
  const size_t owned = (size_t)mesh->owned_node_count;
  /* w_n = sum_e V_e,n w_e / M_n, the corner-volume shares in the nodes' CSR order */
  pp_err local = pp_diffusion_source_from_elements(n->helmholtz, element_values, n->node_share);
  const double *volume = pp_diffusion_node_volume(n->helmholtz);
  for (size_t i = 0; i < owned && local == PP_OK; ++i) n->node_values[i] = n->node_share[i] / volume[i];
  if (local == PP_OK) local = pp_diffusion_set_field(n->helmholtz, n->node_values);
  PP_CALL(pp_comm_agree(n->comm, local, "the non-local average's field"));
  pp_diffusion_step_info info;
  PP_CALL(pp_diffusion_step(n->helmholtz, 1.0, &info));
  PP_CALL(pp_comm_agree(n->comm, pp_diffusion_get_field(n->helmholtz, n->node_values), "the non-local average"));
  PP_CALL(pp_halo_exchange_host(n->halo, n->node_values, 1));
  for (int e = 0; e < mesh->element_count; ++e) {
    double sum = 0;
    for (int k = 0; k < 8; ++k) sum += n->node_values[mesh->element_nodes[8 * (size_t)e + (size_t)k]];
    element_average[e] = sum / 8;
  }
  if (iterations) *iterations = info.solver.iterations;
  return PP_OK;
}
