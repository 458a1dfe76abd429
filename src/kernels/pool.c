/* pool.c -- fast float32 max / average pooling (square window, no padding).
 *
 * Parallel over the N*C planes; each plane is handled by one thread in a fixed order,
 * so results (including backward accumulation) do not depend on nt. */
#include "kernels/kernels.h"

#include "core/core.h"

#include <math.h>

int sn_pool_dims_init(sn_pool_dims *d) {
    if (d->N < 1 || d->C < 1 || d->k < 1 || d->stride < 1 || d->H < d->k || d->W < d->k)
        return 0;
    d->OH = (d->H - d->k) / d->stride + 1;
    d->OW = (d->W - d->k) / d->stride + 1;
    return 1;
}

/* y: (N,C,OH,OW)  argmax: (N,C,OH,OW) index in the H*W plane  x: (N,C,H,W)
 * First maximum wins (strict >); a NaN is taken as the maximum, as in PyTorch. */
void sn_maxpool2d_forward_f32(float *y, int32_t *argmax, const float *x, const sn_pool_dims *d,
                              int nt) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C, H = d->H, W = d->W, OH = d->OH, OW = d->OW, k = d->k;
    const int s = d->stride;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int p = 0; p < P; p++) {
        const float *xp = x + (size_t)p * H * W;
        float *yp = y + (size_t)p * OH * OW;
        int32_t *ap = argmax + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0 = oh * s, w0 = ow * s;
                int32_t best = (int32_t)(h0 * W + w0);
                float m = -INFINITY;
                for (int i = h0; i < h0 + k; i++)
                    for (int j = w0; j < w0 + k; j++) {
                        float v = xp[i * W + j];
                        if (v > m || isnan(v)) {
                            m = v;
                            best = (int32_t)(i * W + j);
                        }
                    }
                yp[oh * OW + ow] = m;
                ap[oh * OW + ow] = best;
            }
    }
}

/* dx: (N,C,H,W) accumulated  dy, argmax: (N,C,OH,OW) */
void sn_maxpool2d_backward_f32(float *dx, const float *dy, const int32_t *argmax,
                               const sn_pool_dims *d, int nt) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C;
    const size_t hw = (size_t)d->H * d->W, ohw = (size_t)d->OH * d->OW;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int p = 0; p < P; p++) {
        float *dxp = dx + (size_t)p * hw;
        const float *dyp = dy + (size_t)p * ohw;
        const int32_t *ap = argmax + (size_t)p * ohw;
        for (size_t i = 0; i < ohw; i++) dxp[ap[i]] += dyp[i];
    }
}

/* y: (N,C,OH,OW) = mean over each k*k window of x: (N,C,H,W) */
void sn_avgpool2d_forward_f32(float *y, const float *x, const sn_pool_dims *d, int nt) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C, H = d->H, W = d->W, OH = d->OH, OW = d->OW, k = d->k;
    const int s = d->stride;
    const float div = (float)(k * k);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int p = 0; p < P; p++) {
        const float *xp = x + (size_t)p * H * W;
        float *yp = y + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float acc = 0.0f;
                for (int i = oh * s; i < oh * s + k; i++)
                    for (int j = ow * s; j < ow * s + k; j++) acc += xp[i * W + j];
                yp[oh * OW + ow] = acc / div;
            }
    }
}

/* dx: (N,C,H,W) accumulated  dy: (N,C,OH,OW) */
void sn_avgpool2d_backward_f32(float *dx, const float *dy, const sn_pool_dims *d, int nt) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C, H = d->H, W = d->W, OH = d->OH, OW = d->OW, k = d->k;
    const int s = d->stride;
    const float div = (float)(k * k);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int p = 0; p < P; p++) {
        float *dxp = dx + (size_t)p * H * W;
        const float *dyp = dy + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float g = dyp[oh * OW + ow] / div;
                for (int i = oh * s; i < oh * s + k; i++)
                    for (int j = ow * s; j < ow * s + k; j++) dxp[i * W + j] += g;
            }
    }
}
