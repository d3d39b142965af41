/* The periodic, undulated needle-cell patch and the two species (a PDGF-like fast decayer and a
 * slowly decaying TGF-beta-like signal) shared by the stage-2 bitwise and restart tests. */
#ifndef PP_TEST_DIFFUSION_CASES_H
#define PP_TEST_DIFFUSION_CASES_H

#include "diffusion.h"
#include "mesh.h"

static inline pp_mesh_spec diffusion_cell_spec(void)
{
  const double um = 1e-6;
  static const double refine_x[] = {60e-6}, refine_y[] = {50e-6};
  pp_mesh_spec spec = {
    .length_x = 120 * um, .length_y = 120 * um,
    .layer_thickness = {15 * um, 60 * um, 100 * um, 150 * um, 150 * um},
    .side_x = PP_SIDE_PERIODIC, .side_y = PP_SIDE_PERIODIC,
    .refine_x = refine_x, .refine_y = refine_y, .refine_x_count = 1, .refine_y_count = 1,
    .lateral_fine_size = 6 * um, .lateral_fine_radius = 10 * um, .lateral_growth = 1.4, .lateral_max_size = 20 * um,
    .surface_size = 5 * um, .depth_growth = 1.5, .depth_max_size = 60 * um, .min_elements_per_layer = 2,
    .dej_amplitude = 20 * um, .dej_wavelength = 60 * um,
  };
  return spec;
}

#define PP_TEST_DAY 86400.0
static const pp_diffusion_species diffusion_two_species[2] = {
  {.diffusivity = {3e-12, 1e-11, 1e-11, 2e-11, 5e-11}, .decay_rate = 15 / PP_TEST_DAY},
  {.diffusivity = {1e-12, 4e-12, 8e-12, 8e-12, 1e-11}, .decay_rate = 0.875 / PP_TEST_DAY},
};

#endif
