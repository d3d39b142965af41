/* needle (placeholder) */
#ifndef PP_NEEDLE_H
#define PP_NEEDLE_H
double pp_needle_shape_signed_distance(const double *params, const double *x, double *normal);
#endif
