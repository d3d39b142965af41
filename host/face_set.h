/* face_set: a list of hex element faces over a rank's owned and ghost elements, in ascending
 * (global element id, face) order, with their reference corners and local nodes, and for every
 * owned node the (face, corner) entries that touch it in that order. A node that adds its faces'
 * forces through these entries adds them in the same order on any partition: the same bits on
 * any number of ranks (pressure loads in host/mechanics, needle contact in host/contact).
 * A plain module: no MPI, no OpenCL. */
#ifndef PP_FACE_SET_H
#define PP_FACE_SET_H

#include <stddef.h>

#include "error.h"
#include "mesh.h"

/* Hex face f's corners, counter-clockwise seen from outside the element:
 *   0 the deeper face (corners 0-3), 1 the upper (4-7), 2 y- (0,1,5,4), 3 x+ (1,2,6,5),
 *   4 y+ (2,3,7,6), 5 x- (3,0,4,7) */
extern const int pp_hex_face_corners[6][4];

typedef struct {
  size_t count;
  long long *key;    /* [count] global element id * 6 + face: the order */
  int *element;      /* [count] local element */
  double *reference; /* [count * 12] reference corners (unwrapped) */
  int *nodes;        /* [count * 4] local nodes */
  int *offset;       /* [owned nodes + 1] */
  int *entry;        /* [offset[owned]] face * 4 + corner, ascending per node */
} pp_face_set;

/* The faces whose bit f is set in mask[e] (one byte per LOCAL element, owned and ghost). */
pp_err pp_face_set_build(const pp_mesh *mesh, const unsigned char *mask, pp_face_set *set);
void pp_face_set_free(pp_face_set *set);

#endif
