/* channel: the injury a needle leaves in the skin once it is withdrawn, described without the
 * mesh, and the channel library (HDF5) that stores one such description per distinct insertion
 * for the healing stage (DESIGN.md, "Channel library"; PHYSICS.md 3.3 gives the measured target:
 * Kalluri 2011, channels 152.5 um deep with a 70.7 um surface diameter).
 *
 * Frame (host/mesh.h): z up, the undeformed skin surface at z = 0. The needle axis goes through
 * the entry point E (where it meets the undeformed surface) along the unit direction d into the
 * skin (pp_needle_trajectory's entry and direction; d_z < 0, a tilted needle allowed). A point p
 * has the axial depth s = (p - E).d (below the entry point along the axis) and the radial
 * distance r = |(p - E) - s d| from the axis. Positions are current ones: reference corners plus
 * the displacement (NULL: the reference state). Depths are measured from the undeformed surface
 * plane through E, whatever the surface does. An eroded element whose nodes no longer belong to
 * any intact element (stage 1's orphaned nodes drift on freely) has no meaningful current shape:
 * options.eroded_in_reference = 1 measures the eroded elements in their reference shape and place
 * (the volume of material removed, where it was), the damaged ones still in the current one.
 *
 * What is measured (owned elements only; every rank gets the same bits):
 *   eroded        the element is gone (eroded[e] != 0): the open channel. Eroded elements count in
 *                 the eroded measures only, never in the damage ones (the two sets are disjoint:
 *                 damaged material stays and heals, eroded material is missing).
 *   damage        d_e in [0, 1] of every other element: partly injured tissue.
 *   volumes       eroded_volume = sum V_e over eroded elements; damage_volume = sum V_e d_e (the
 *                 damage-weighted volume) and damaged_volume = sum V_e over d_e >= damage_threshold,
 *                 both over the non-eroded elements. V_e: the current volume (2x2x2 Gauss of det J,
 *                 exact for the trilinear hex); a non-positive one (an inverted element) is an error.
 *   depths        open_depth: the largest s of any corner of an eroded element; injury_depth: the
 *                 same over eroded elements and those with d_e >= damage_threshold (0 when there are
 *                 none; never negative). Corners, not centroids: the deepest point the injured
 *                 material reaches. Along the axis (= -z for a vertical needle).
 *   surface       the eroded elements with a face on the skin surface (its 4 corners flagged
 *                 PP_NODE_SURFACE; for the generated mesh, the top element layer):
 *                 surface_opening_area A = sum of those faces' current areas projected on the
 *                 plane z = 0 (shoelace of the 4 corners), surface_diameter = 2 sqrt(A / pi), the
 *                 diameter of the circle of that area (for a tilted needle's oval opening too);
 *                 surface_extent_diameter = 2 max over those faces' corners of the in-plane
 *                 distance sqrt((x - E_x)^2 + (y - E_y)^2): the widest reach of the opening.
 *   histogram     a fixed grid in (s, r), independent of the mesh: depth_bin_count rows of
 *                 depth_bin_width from s = 0, radius_bin_count columns of radius_bin_width from
 *                 r = 0, row-major [row * radius_bin_count + column] (depth slowest). Each counted
 *                 element is split into q^3 sub-cells (q = subdivisions) of its trilinear map, of
 *                 parametric size (2/q)^3; sub-cell i carries w_i = det J(xi_i) (2/q)^3 at its
 *                 centre xi_i, scaled by V_e / sum w so that the sub-cells add up to the element's
 *                 volume, and goes to the bin of its centre's (s, r): eroded_histogram gets its
 *                 volume, damage_histogram its volume times d_e. Sub-cells with s < 0 (material
 *                 above the entry plane) go to row 0; those with s >= rows x depth_bin_width or
 *                 r >= columns x radius_bin_width are not binned but counted in
 *                 eroded_volume_outside / damage_volume_outside, so that
 *                   sum of eroded_histogram + eroded_volume_outside = eroded_volume
 *                 up to rounding (the same for damage), and a grid that covers the injury has
 *                 outside volumes of exactly 0. A sub-cell with det J <= 0 inside an element of
 *                 positive volume gets weight 0 (the others are scaled up).
 * Sums: every sum is an exact one with a single rounding (pp_reduce_sum_host): each total over the
 * communicator; each bin on rank 0, over the (bin, element share) terms gathered from every rank
 * (an element's share of a bin is added up within the element in a fixed order, by the one rank
 * that owns it), then broadcast. Maxima are MPI_MAX (exact). So the result is the same bits on any
 * number of ranks and any partition, given the same per-element inputs. Cost: one gather of 12
 * bytes per (element, bin) pair touched, a handful of collectives.
 * Periodic sides (generated meshes): each element is taken at its periodic image (shifted by a
 * whole number of periods in x and y) whose reference centroid is nearest the axis line at the
 * centroid's height, so a channel may sit on a periodic side. Elements half a period from the axis
 * may be taken on either side: keep the injury well within half a period of the axis.
 *
 * The library file: see pp_channel_library_write below and the README (Puncture: erosion, curve metrics and the channel).
 *
 * COLLECTIVE: pp_channel_measure over its communicator, pp_channel_library_write over the
 * runtime's. The rest is local. */
#ifndef PP_CHANNEL_H
#define PP_CHANNEL_H

#include <mpi.h>

#include "error.h"
#include "mesh.h"
#include "needle.h"
#include "runtime.h"

#define PP_CHANNEL_LIBRARY_FORMAT "pinprick-channel-library"
#define PP_CHANNEL_LIBRARY_FORMAT_VERSION 1

enum {
  PP_CHANNEL_TEXT_SIZE = 64,  /* key strings, terminator included */
  PP_CHANNEL_NAME_SIZE = 256, /* library entry names, terminator included */
  PP_CHANNEL_MAX_SUBDIVISIONS = 16,
  PP_CHANNEL_MAX_BINS = 1 << 24 /* rows x columns */
};

typedef struct {
  double depth_bin_width;  /* m, ds of the histogram rows */
  double radius_bin_width; /* m, dr of the histogram columns */
  int depth_bin_count;     /* rows: s in [0, count ds) */
  int radius_bin_count;    /* columns: r in [0, count dr) */
  int subdivisions;        /* q: q^3 sub-cells per element, 1..PP_CHANNEL_MAX_SUBDIVISIONS */
  double damage_threshold; /* (0, 1]: d_e >= it counts as damaged (damaged_volume, injury_depth) */
  double region_radius;    /* m: only elements whose centroid lies within this distance of the axis
                              count (several needles in one cell: each its own channel); 0: all */
  int eroded_in_reference; /* 1: eroded elements are measured in their reference shape and place
                              (no displacement), damaged ones still in the current; 0: all current */
} pp_channel_options;

/* ds = dr = 5 um, q = 4, threshold 0.5, eroded elements in the current configuration, and enough
 * bins to reach max_depth and max_radius (m; e.g. the needle length and two or three shaft radii:
 * damage reaches beyond the needle). */
void pp_channel_options_default(pp_channel_options *options, double max_depth, double max_radius);
/* PP_ERR_ARGUMENT naming the field when an option is out of range. */
pp_err pp_channel_options_check(const pp_channel_options *options);

typedef struct {
  double entry[3];     /* m: where the axis meets the undeformed surface (entry[2] = 0) */
  double direction[3]; /* unit vector into the skin, direction[2] < 0 */
} pp_channel_axis;

typedef struct {
  pp_channel_options options; /* the grid and rules this channel was measured with */
  pp_channel_axis axis;
  double eroded_volume;          /* m^3, sum V_e over eroded elements */
  double damage_volume;          /* m^3, sum V_e d_e over the non-eroded elements */
  double damaged_volume;         /* m^3, sum V_e over non-eroded elements with d_e >= threshold */
  double eroded_volume_outside;  /* m^3, the part of eroded_volume beyond the histogram's grid */
  double damage_volume_outside;  /* m^3, the part of damage_volume beyond the grid */
  long long eroded_element_count, damaged_element_count; /* damaged: d_e >= threshold, not eroded */
  double open_depth;             /* m, deepest s of an eroded element's corner */
  double injury_depth;           /* m, deepest s of an eroded or damaged (>= threshold) element's corner */
  double surface_opening_area;   /* m^2, eroded surface faces projected on z = 0 */
  double surface_diameter;       /* m, 2 sqrt(surface_opening_area / pi) */
  double surface_extent_diameter; /* m, 2 x the widest in-plane reach of the eroded surface faces */
  double *eroded_histogram;      /* m^3 [depth_bin_count * radius_bin_count], depth slowest */
  double *damage_histogram;      /* m^3, damage-weighted, same layout */
} pp_channel;

/* COLLECTIVE over comm. The channel of the owned elements' injury. displacement: [node_count * 3]
 * over local nodes, owned and ghost (up to date: owned elements use ghost nodes), or NULL for the
 * reference state; eroded and damage: [owned_element_count] (NULL: none eroded, no damage).
 * options and axis must be the same on every rank. A bad argument, a damage value outside [0, 1]
 * or an inverted element on any rank is an error on every rank (pp_comm_agree). On success
 * *channel owns its histograms (pp_channel_free); on failure it is zeroed. */
pp_err pp_channel_measure(const pp_mesh *mesh, const double *displacement, const unsigned char *eroded,
                          const double *damage, const pp_channel_axis *axis, const pp_channel_options *options,
                          MPI_Comm comm, pp_channel *channel);
void pp_channel_free(pp_channel *channel); /* NULL-safe; zeroes the struct */

/* ---- the channel library ------------------------------------------------------------------------
 * What identifies an insertion (DESIGN.md: needle geometry, depth, speed, skin state, body site).
 * All SI. Strings: letters, digits, '_', '-' and '.', shorter than PP_CHANNEL_TEXT_SIZE. */
typedef struct {
  char needle_name[PP_CHANNEL_TEXT_SIZE]; /* the needle preset ("dermaroller") or a label that names the
                                             shape; "" for a name built from the shape's numbers */
  double tip_radius;      /* m */
  double cone_half_angle; /* rad */
  double shaft_radius;    /* m */
  double insertion_depth; /* m, the tip's depth at the end of insertion */
  double insertion_speed; /* m/s */
  double tilt;            /* rad, angle between the needle's direction and the surface normal (0: vertical) */
  char body_site[PP_CHANNEL_TEXT_SIZE];  /* "forearm", "face", ... (non-empty) */
  char skin_state[PP_CHANNEL_TEXT_SIZE]; /* "normal", "session2", ... (non-empty) */
} pp_channel_key;

/* A key from a needle (shape, stroke's depth, speed and the direction's angle from the normal). */
pp_err pp_channel_key_from_needle(const pp_needle *needle, const char *needle_name, const char *body_site,
                                  const char *skin_state, pp_channel_key *key);
/* PP_ERR_ARGUMENT naming the field when a key is unusable. */
pp_err pp_channel_key_check(const pp_channel_key *key);
/* The entry name of a key:
 *   <needle>_d<depth in um>um_v<speed in m/s>mps_<body site>_<skin state>[_tilt<degrees>deg]
 * numbers with 6 significant digits (%.6g), e.g. "dermaroller_d500um_v0.5mps_forearm_normal".
 * <needle> is needle_name, or "R<tip um>um-psi<half-angle deg>deg-rs<shaft um>um" when it is "".
 * The tilt part appears only for a tilted needle. Keys whose numbers agree to 6 digits share a
 * name (the attributes keep the exact values). */
pp_err pp_channel_key_name(const pp_channel_key *key, char *name, size_t size);

/* COLLECTIVE over the runtime's communicator; channel the same on every rank (pp_channel_measure's
 * result). Rank 0 writes the library `path` as a whole new file `path`.tmp: the entries of the
 * existing library (if any; a file there that is not a channel library is refused and left alone)
 * except one of the same name, then this channel's entry; then renames it to `path`. So a reader
 * sees the old library or the new one, never a half-written one, and an error leaves the old file
 * as it was and no .tmp behind. Every rank returns the same result (pp_runtime_agree); HDF5
 * failures carry the HDF5 error stack's text, and the message names `path`.
 *
 * Layout (all SI; strings fixed-length NULLPAD, as everywhere in pinprick):
 *   /                    attributes: format = "pinprick-channel-library", format_version = 1
 *   /channels/<name>     one group per insertion, <name> = pp_channel_key_name(key), with
 *     attributes (key)       needle_name, tip_radius, cone_half_angle, shaft_radius,
 *                            insertion_depth, insertion_speed, tilt, body_site, skin_state
 *     attributes (program)   pinprick_version, git_hash
 *     attributes (grid)      depth_bin_width, radius_bin_width, depth_bin_count, radius_bin_count,
 *                            subdivisions, damage_threshold, eroded_in_reference, entry_x, entry_y, entry_z,
 *                            direction_x, direction_y, direction_z
 *     attributes (results)   total_eroded_volume, total_damage_volume, total_damaged_volume,
 *                            eroded_volume_outside, damage_volume_outside, eroded_element_count,
 *                            damaged_element_count, open_depth, injury_depth,
 *                            surface_opening_area, surface_diameter, surface_extent_diameter
 *     depth_edges    float64 [ns + 1]   m   (i x depth_bin_width)
 *     radius_edges   float64 [nr + 1]   m
 *     eroded_volume  float64 [ns][nr]   m3  (eroded_histogram)
 *     damage_volume  float64 [ns][nr]   m3  (damage_histogram, damage-weighted)
 *   every dataset with a "units" string attribute. */
pp_err pp_channel_library_write(const pp_runtime *runtime, const char *path, const pp_channel_key *key,
                                const pp_channel *channel);
/* Local (any rank, serial HDF5): entry `name` of the library at path into *channel (allocated:
 * pp_channel_free). name "" reads the library's only entry. A missing entry (or "" with several)
 * is an error listing the names the file holds. */
pp_err pp_channel_library_read(const char *path, const char *name, pp_channel *channel);
/* Local: the key entry `name` was written with ("": the only entry). */
pp_err pp_channel_library_read_key(const char *path, const char *name, pp_channel_key *key);
/* Local: the name of the entry `requested` resolves to ("": the only entry) into name
 * (size >= PP_CHANNEL_NAME_SIZE); the same errors as pp_channel_library_read. */
pp_err pp_channel_library_entry_name(const char *path, const char *requested, char *name, size_t size);

#endif
