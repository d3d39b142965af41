/* A test tool: writes a channel library (host/channel.h) holding one entry whose injury is known
 * exactly, for the stage-2 tests that read a library (tests/cli/healing_library.sh).
 *
 *   write_cylinder_library PATH RADIUS_UM DEPTH_UM [RING_UM RING_DAMAGE [TILT_DEG]]
 *
 * The entry is an open (eroded) cylinder of RADIUS_UM about the axis down to DEPTH_UM, on 5 um x
 * 5 um bins (both must be whole numbers of bins): each bin inside holds its whole annulus volume
 * pi (r2^2 - r1^2) ds as eroded volume. With RING_UM, the annulus from RADIUS_UM to RING_UM over the
 * same depth holds RING_DAMAGE times its volume as damage. TILT_DEG tilts the axis in the x-z plane.
 * The entry's key: needle "cylinder", site "test", state "normal". Prints the entry's total injured
 * volume (m^3, %.17g) on stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "runtime.h"

static int whole_bins(double length, double width, int *count)
{
  double bins = length / width;
  *count = (int)lround(bins);
  return *count > 0 && fabs(bins - *count) < 1e-9;
}

int main(int argc, char **argv)
{
  pp_runtime runtime;
  if (pp_runtime_start(&runtime, &argc, &argv) != PP_OK) {
    pp_error_print(stderr, "write_cylinder_library");
    return EXIT_FAILURE;
  }
  const double width = 5e-6;
  int status = EXIT_FAILURE, radius_bins = 0, depth_bins = 0, ring_bins = 0;
  if (argc != 4 && argc != 6 && argc != 7) {
    fprintf(stderr, "usage: write_cylinder_library PATH RADIUS_UM DEPTH_UM [RING_UM RING_DAMAGE [TILT_DEG]]\n");
    pp_runtime_stop(&runtime);
    return status;
  }
  const double radius = atof(argv[2]) * 1e-6, depth = atof(argv[3]) * 1e-6;
  const double ring = argc >= 6 ? atof(argv[4]) * 1e-6 : radius, damage = argc >= 6 ? atof(argv[5]) : 0;
  const double tilt = argc == 7 ? atof(argv[6]) * M_PI / 180 : 0;
  if (!whole_bins(radius, width, &radius_bins) || !whole_bins(depth, width, &depth_bins) ||
      !whole_bins(ring, width, &ring_bins) || ring_bins < radius_bins || damage < 0 || damage > 1) {
    fprintf(stderr, "write_cylinder_library: radius, depth and ring must be whole multiples of 5 um, ring >= radius, "
                    "damage in [0, 1]\n");
    pp_runtime_stop(&runtime);
    return status;
  }
  pp_channel channel;
  memset(&channel, 0, sizeof channel);
  pp_channel_options_default(&channel.options, depth + 20e-6, ring + 20e-6);
  channel.options.depth_bin_width = channel.options.radius_bin_width = width;
  channel.options.depth_bin_count = depth_bins + 4;
  channel.options.radius_bin_count = ring_bins + 4;
  channel.axis.direction[0] = sin(tilt);
  channel.axis.direction[2] = -cos(tilt);
  const size_t columns = (size_t)channel.options.radius_bin_count;
  const size_t bins = (size_t)channel.options.depth_bin_count * columns;
  channel.eroded_histogram = calloc(bins, sizeof *channel.eroded_histogram);
  channel.damage_histogram = calloc(bins, sizeof *channel.damage_histogram);
  double total = 0;
  for (int i = 0; channel.eroded_histogram && channel.damage_histogram && i < depth_bins; ++i)
    for (int j = 0; j < ring_bins; ++j) {
      const double r1 = j * width, r2 = (j + 1) * width, annulus = M_PI * (r2 * r2 - r1 * r1) * width;
      if (j < radius_bins) {
        channel.eroded_histogram[(size_t)i * columns + (size_t)j] = annulus;
        channel.eroded_volume += annulus;
      } else {
        channel.damage_histogram[(size_t)i * columns + (size_t)j] = damage * annulus;
        channel.damage_volume += damage * annulus;
      }
      total += j < radius_bins ? annulus : damage * annulus;
    }
  channel.open_depth = channel.injury_depth = depth;
  pp_channel_key key = {.needle_name = "cylinder", .tip_radius = radius, .cone_half_angle = 0.1,
                        .shaft_radius = radius, .insertion_depth = depth, .insertion_speed = 1, .tilt = tilt,
                        .body_site = "test", .skin_state = "normal"};
  if (channel.eroded_histogram && channel.damage_histogram &&
      pp_channel_library_write(&runtime, argv[1], &key, &channel) == PP_OK) {
    if (runtime.rank == 0) printf("%.17g\n", total);
    status = EXIT_SUCCESS;
  } else {
    pp_error_print(stderr, "write_cylinder_library");
  }
  pp_channel_free(&channel);
  pp_runtime_stop(&runtime);
  return status;
}
