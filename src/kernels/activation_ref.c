/* activation_ref.c -- naive double-precision ReLU, L2 normalisation and add (see activation.c). */
#include "kernels/kernels.h"

#include "core/core.h"

#include <math.h>

/* y, x: (n) */
void sn_relu_forward_ref(double *y, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (x[i] > 0.0 || isnan(x[i])) ? x[i] : 0.0;
}

/* dx: (n) accumulated  dy, y: (n) */
void sn_relu_backward_ref(double *dx, const double *dy, const double *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (y[i] > 0.0) dx[i] += dy[i];
}

/* y: (N,D)  norm: (N) = ||x_row||  x: (N,D) */
void sn_l2norm_forward_ref(double *y, double *norm, const double *x, int N, int D, double eps) {
    for (int n = 0; n < N; n++) {
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += x[(size_t)n * D + i] * x[(size_t)n * D + i];
        norm[n] = sqrt(ss);
        double den = norm[n] >= eps ? norm[n] : eps;
        for (int i = 0; i < D; i++) y[(size_t)n * D + i] = x[(size_t)n * D + i] / den;
    }
}

/* dx: (N,D) accumulated  dy, y: (N,D)  norm: (N) */
void sn_l2norm_backward_ref(double *dx, const double *dy, const double *y, const double *norm,
                            int N, int D, double eps) {
    for (int n = 0; n < N; n++) {
        const size_t o = (size_t)n * D;
        if (norm[n] >= eps) {
            double dot = 0.0;
            for (int i = 0; i < D; i++) dot += y[o + i] * dy[o + i];
            for (int i = 0; i < D; i++) dx[o + i] += (dy[o + i] - y[o + i] * dot) / norm[n];
        } else {
            for (int i = 0; i < D; i++) dx[o + i] += dy[o + i] / eps;
        }
    }
}

/* y, a, b: (n) */
void sn_add_forward_ref(double *y, const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* da: (n) accumulated  db: (n) accumulated or NULL  dy: (n) */
void sn_add_backward_ref(double *da, double *db, const double *dy, size_t n) {
    for (size_t i = 0; i < n; i++) {
        da[i] += dy[i];
        if (db) db[i] += dy[i];
    }
}
