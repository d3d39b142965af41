/* needle: rigid needles (placeholder until the needle module lands). */
#include "needle.h"

#include <math.h>

#define REAL double
#include "needle_shape.cl"

double pp_needle_shape_signed_distance(const double *params, const double *x, double *normal)
{
  return needle_signed_distance(params, x, normal);
}
