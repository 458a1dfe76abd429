/* pool.c -- fast float32 max / average pooling (square window, no padding).
 *
 * Parallel over the N*C planes; each plane is handled by one thread in a fixed order,
 * so results (including backward accumulation) do not depend on nt. */
#include "kernels/kernels.h"
#include "kernels/pool_row.h"

#include "core/core.h"

#include <math.h>
#include <string.h>

/* Below this many input floats a pool runs on the calling thread: waking a team and
 * the closing barrier cost more than the work (the seed net's pools are 1.6M-6.4M). */
#define SN_POOL_PAR_MIN 32768

int sn_pool_dims_init(sn_pool_dims *d) {
    if (d->N < 1 || d->C < 1 || d->k < 1 || d->stride < 1 || d->H < d->k || d->W < d->k)
        return 0;
    d->OH = (d->H - d->k) / d->stride + 1;
    d->OW = (d->W - d->k) / d->stride + 1;
    return 1;
}

/* y: (N,C,OH,OW)  argmax: (N,C,OH,OW) index in the H*W plane  x: (N,C,H,W)
 * First maximum wins (strict >); a NaN is taken as the maximum, as in PyTorch.
 * k = 2, stride 2 (the usual case) has a branch-free vector path with the same results. */
void sn_maxpool2d_forward_f32(float *y, int32_t *argmax, const float *x, const sn_pool_dims *d,
                              int nt) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C, H = d->H, W = d->W, OH = d->OH, OW = d->OW, k = d->k;
    const int s = d->stride;
    const int par = (size_t)P * H * W >= SN_POOL_PAR_MIN;
    if (k == 2 && s == 2) {
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
        for (int p = 0; p < P; p++) {
            const float *xp = x + (size_t)p * H * W;
            for (int oh = 0; oh < OH; oh++) {
                const size_t o = ((size_t)p * OH + oh) * OW;
                const float *r0 = xp + (size_t)2 * oh * W;
                sn_maxpool2_row(y + o, argmax + o, NULL, r0, r0 + W, (int32_t)(2 * oh * W), W, OW, 0,
                                0, 0.0f, 0.0f);
            }
        }
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
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

/* dx: (N,C,H,W) accumulated, or assigned when set  dy, argmax: (N,C,OH,OW)
 * set: each plane is zeroed right before its scatter (while it is in cache) instead of
 * in a separate pass over the whole tensor. */
static void maxpool_backward(float *dx, const float *dy, const int32_t *argmax,
                             const sn_pool_dims *d, int nt, int set) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C;
    const size_t hw = (size_t)d->H * d->W, ohw = (size_t)d->OH * d->OW;
    const int par = (size_t)P * hw >= SN_POOL_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int p = 0; p < P; p++) {
        float *dxp = dx + (size_t)p * hw;
        const float *dyp = dy + (size_t)p * ohw;
        const int32_t *ap = argmax + (size_t)p * ohw;
        if (set) memset(dxp, 0, sizeof(float) * hw);
        for (size_t i = 0; i < ohw; i++) dxp[ap[i]] += dyp[i];
    }
}

void sn_maxpool2d_backward_f32(float *dx, const float *dy, const int32_t *argmax,
                               const sn_pool_dims *d, int nt) {
    maxpool_backward(dx, dy, argmax, d, nt, 0);
}

void sn_maxpool2d_backward_set_f32(float *dx, const float *dy, const int32_t *argmax,
                                   const sn_pool_dims *d, int nt) {
    maxpool_backward(dx, dy, argmax, d, nt, 1);
}

/* y: (N,C,OH,OW) = mean over each k*k window of x: (N,C,H,W) */
void sn_avgpool2d_forward_f32(float *y, const float *x, const sn_pool_dims *d, int nt) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C, H = d->H, W = d->W, OH = d->OH, OW = d->OW, k = d->k;
    const int s = d->stride;
    const float div = (float)(k * k);
    const int par = (size_t)P * H * W >= SN_POOL_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
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

/* dx: (N,C,H,W) accumulated, or assigned when set (plane zeroed first)  dy: (N,C,OH,OW) */
static void avgpool_backward(float *dx, const float *dy, const sn_pool_dims *d, int nt, int set) {
    SN_ASSERT(nt >= 1);
    const int P = d->N * d->C, H = d->H, W = d->W, OH = d->OH, OW = d->OW, k = d->k;
    const int s = d->stride;
    const float div = (float)(k * k);
    const int par = (size_t)P * H * W >= SN_POOL_PAR_MIN;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
    for (int p = 0; p < P; p++) {
        float *dxp = dx + (size_t)p * H * W;
        const float *dyp = dy + (size_t)p * OH * OW;
        if (set) memset(dxp, 0, sizeof(float) * (size_t)H * W);
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float g = dyp[oh * OW + ow] / div;
                for (int i = oh * s; i < oh * s + k; i++)
                    for (int j = ow * s; j < ow * s + k; j++) dxp[i * W + j] += g;
            }
    }
}

void sn_avgpool2d_backward_f32(float *dx, const float *dy, const sn_pool_dims *d, int nt) {
    avgpool_backward(dx, dy, d, nt, 0);
}

void sn_avgpool2d_backward_set_f32(float *dx, const float *dy, const sn_pool_dims *d, int nt) {
    avgpool_backward(dx, dy, d, nt, 1);
}
