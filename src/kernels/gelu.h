/* gelu.h -- GELU activation kernels (gelu.c has the formulas and the accuracy). */
#ifndef SN_GELU_H
#define SN_GELU_H

#include <stddef.h>

/* y, x: (n); y may alias x. nt threads over fixed blocks (results do not depend on nt). */
void sn_gelu_forward_f32(float *y, const float *x, size_t n, int nt);
/* dx: (n), assigned when set, else accumulated; dy, x: (n) (x = the forward input). */
void sn_gelu_backward_f32(float *dx, const float *dy, const float *x, size_t n, int set, int nt);
/* double references: y = x Phi(x) with libm erfc; dx accumulated */
void sn_gelu_forward_ref(double *y, const double *x, size_t n);
void sn_gelu_backward_ref(double *dx, const double *dy, const double *x, size_t n);

#endif
