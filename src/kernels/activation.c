/* activation.c -- fast float32 ReLU, row-wise L2 normalisation and elementwise add.
 *
 * l2norm (as torch.nn.functional.normalize): y = x / max(||x||, eps), norm = ||x|| saved.
 * Backward, with n = ||x||:
 *   n >= eps: y = x/n,   dx = (dy - y * <y,dy>) / n     (projection off the direction of y)
 *   n <  eps: y = x/eps, dx = dy / eps                   (denominator is constant)
 * The boundary n == eps takes the first branch, as PyTorch's clamp_min backward (x >= min). */
#include "kernels/kernels.h"

#include "core/core.h"

#include <math.h>

/* y, x: (n), may alias (in place); NaN propagates as in torch.relu. */
void sn_relu_forward_f32(float *y, const float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] = (x[i] > 0.0f) | (x[i] != x[i]) ? x[i] : 0.0f;
}

/* dx: (n) accumulated  dy, y: (n); dx may alias dy.
 * Written as a select of the whole update (not dx += mask ? dy : 0), so a skipped dx
 * keeps its bits (-0.0 stays -0.0) and a NaN dy at y <= 0 is ignored, as with a branch. */
void sn_relu_backward_f32(float *dx, const float *dy, const float *y, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dx[i] + dy[i] : dx[i];
}

/* dx: (n) assigned  dy, y: (n); dx may alias dy. The bits sn_relu_backward_f32 leaves in
 * a zeroed dx (0 + dy turns -0.0 into +0.0), without the zeroing pass and the read of dx. */
void sn_relu_backward_set_f32(float *dx, const float *dy, const float *y, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? 0.0f + dy[i] : 0.0f;
}

/* y: (N,D)  norm: (N) = ||x_row||  x: (N,D) */
void sn_l2norm_forward_f32(float *y, float *norm, const float *x, int N, int D, float eps) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D;
        float *yr = y + (size_t)n * D;
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
        const float nr = (float)sqrt(ss);
        const float den = nr >= eps ? nr : eps;
        norm[n] = nr;
        for (int i = 0; i < D; i++) yr[i] = xr[i] / den;
    }
}

/* dx: (N,D) accumulated  dy, y: (N,D)  norm: (N) from the forward pass */
void sn_l2norm_backward_f32(float *dx, const float *dy, const float *y, const float *norm,
                            int N, int D, float eps) {
    for (int n = 0; n < N; n++) {
        const float *dyr = dy + (size_t)n * D, *yr = y + (size_t)n * D;
        float *dxr = dx + (size_t)n * D;
        if (norm[n] >= eps) {
            double dot = 0.0;
            for (int i = 0; i < D; i++) dot += (double)yr[i] * dyr[i];
            const double inv = 1.0 / norm[n];
            for (int i = 0; i < D; i++) dxr[i] += (float)((dyr[i] - yr[i] * dot) * inv);
        } else {
            for (int i = 0; i < D; i++) dxr[i] += dyr[i] / eps;
        }
    }
}

/* Elementwise kernels split n into fixed blocks of SN_ADD_BLOCK values over threads;
 * below SN_ADD_PAR_MIN values one thread does it all (the results never depend on nt). */
#define SN_ADD_BLOCK 16384
#define SN_ADD_PAR_MIN 65536

/* y, a, b: (n); y may alias a or b */
void sn_add_forward_f32(float *y, const float *a, const float *b, size_t n, int nt) {
    SN_ASSERT(nt >= 1);
    const long nb = (long)((n + SN_ADD_BLOCK - 1) / SN_ADD_BLOCK);
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= SN_ADD_PAR_MIN)
    for (long k = 0; k < nb; k++) {
        const size_t i0 = (size_t)k * SN_ADD_BLOCK;
        const size_t i1 = n - i0 < SN_ADD_BLOCK ? n : i0 + SN_ADD_BLOCK;
#pragma omp simd
        for (size_t i = i0; i < i1; i++) y[i] = a[i] + b[i];
    }
}

/* da: (n) accumulated  db: (n) accumulated or NULL  dy: (n) */
void sn_add_backward_f32(float *da, float *db, const float *dy, size_t n, int nt) {
    SN_ASSERT(nt >= 1);
    const long nb = (long)((n + SN_ADD_BLOCK - 1) / SN_ADD_BLOCK);
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= SN_ADD_PAR_MIN)
    for (long k = 0; k < nb; k++) {
        const size_t i0 = (size_t)k * SN_ADD_BLOCK;
        const size_t i1 = n - i0 < SN_ADD_BLOCK ? n : i0 + SN_ADD_BLOCK;
#pragma omp simd
        for (size_t i = i0; i < i1; i++) da[i] += dy[i];
        if (db) {
#pragma omp simd
            for (size_t i = i0; i < i1; i++) db[i] += dy[i];
        }
    }
}
