/* linear.c -- fast float32 fully connected layer via sn_gemm_f32 (single-threaded BLAS). */
#include "kernels/kernels.h"

#include "core/core.h"

/* y: (N,O) = x (N,I) . w^T (I,O) + b   w: (O,I)  b: (O) or NULL */
void sn_linear_forward_f32(float *y, const float *x, const float *w, const float *b, int N,
                           int I, int O) {
    SN_ASSERT(N >= 0 && I >= 0 && O >= 0);
    sn_gemm_f32(0, 1, N, O, I, 1.0f, x, I, w, I, 0.0f, y, O);
    if (b)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) y[(size_t)n * O + o] += b[o];
}

/* dx: (N,I) or NULL  dw: (O,I)  db: (O) or NULL  dy: (N,O)  x: (N,I)  w: (O,I); accumulated. */
void sn_linear_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, int N, int I, int O) {
    SN_ASSERT(N >= 0 && I >= 0 && O >= 0);
    /* dx (N,I) += dy (N,O) . w (O,I) */
    if (dx) sn_gemm_f32(0, 0, N, I, O, 1.0f, dy, O, w, I, 1.0f, dx, I);
    /* dw (O,I) += dy^T (O,N) . x (N,I) */
    sn_gemm_f32(1, 0, O, I, N, 1.0f, dy, O, x, I, 1.0f, dw, I);
    if (db)
        for (int o = 0; o < O; o++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += dy[(size_t)n * O + o];
            db[o] += (float)s;
        }
}
