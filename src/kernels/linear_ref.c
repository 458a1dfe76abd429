/* linear_ref.c -- naive double-precision fully connected layer (reference for tests). */
#include "kernels/kernels.h"

#include "core/core.h"

/* y: (N,O) = x (N,I) . w^T + b   w: (O,I)  b: (O) or NULL */
void sn_linear_forward_ref(double *y, const double *x, const double *w, const double *b, int N,
                           int I, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < I; i++) acc += x[(size_t)n * I + i] * w[(size_t)o * I + i];
            y[(size_t)n * O + o] = acc;
        }
}

/* dx: (N,I) or NULL  dw: (O,I)  db: (O) or NULL  dy: (N,O)  x: (N,I)  w: (O,I); accumulated. */
void sn_linear_backward_ref(double *dx, double *dw, double *db, const double *dy,
                            const double *x, const double *w, int N, int I, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double g = dy[(size_t)n * O + o];
            if (db) db[o] += g;
            for (int i = 0; i < I; i++) {
                dw[(size_t)o * I + i] += g * x[(size_t)n * I + i];
                if (dx) dx[(size_t)n * I + i] += g * w[(size_t)o * I + i];
            }
        }
}
