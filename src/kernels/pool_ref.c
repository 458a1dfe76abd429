/* pool_ref.c -- naive double-precision max / average pooling (reference for tests). */
#include "kernels/kernels.h"

#include "core/core.h"

#include <math.h>

/* y: (N,C,OH,OW)  argmax: (N,C,OH,OW) index in the H*W plane  x: (N,C,H,W) */
void sn_maxpool2d_forward_ref(double *y, int32_t *argmax, const double *x, const sn_pool_dims *d) {
    const size_t hw = (size_t)d->H * d->W, ohw = (size_t)d->OH * d->OW;
    for (int p = 0; p < d->N * d->C; p++)
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++) {
                double m = -INFINITY;
                int32_t best = (int32_t)(oh * d->stride * d->W + ow * d->stride);
                for (int i = 0; i < d->k; i++)
                    for (int j = 0; j < d->k; j++) {
                        int32_t idx = (int32_t)((oh * d->stride + i) * d->W + ow * d->stride + j);
                        double v = x[(size_t)p * hw + (size_t)idx];
                        if (v > m || isnan(v)) {
                            m = v;
                            best = idx;
                        }
                    }
                y[(size_t)p * ohw + (size_t)oh * d->OW + ow] = m;
                argmax[(size_t)p * ohw + (size_t)oh * d->OW + ow] = best;
            }
}

/* dx: (N,C,H,W) accumulated  dy, argmax: (N,C,OH,OW) */
void sn_maxpool2d_backward_ref(double *dx, const double *dy, const int32_t *argmax,
                               const sn_pool_dims *d) {
    const size_t hw = (size_t)d->H * d->W, ohw = (size_t)d->OH * d->OW;
    for (int p = 0; p < d->N * d->C; p++)
        for (size_t i = 0; i < ohw; i++)
            dx[(size_t)p * hw + (size_t)argmax[(size_t)p * ohw + i]] += dy[(size_t)p * ohw + i];
}

/* y: (N,C,OH,OW)  x: (N,C,H,W) */
void sn_avgpool2d_forward_ref(double *y, const double *x, const sn_pool_dims *d) {
    const size_t hw = (size_t)d->H * d->W, ohw = (size_t)d->OH * d->OW;
    for (int p = 0; p < d->N * d->C; p++)
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++) {
                double acc = 0.0;
                for (int i = 0; i < d->k; i++)
                    for (int j = 0; j < d->k; j++)
                        acc += x[(size_t)p * hw +
                                 (size_t)(oh * d->stride + i) * d->W + ow * d->stride + j];
                y[(size_t)p * ohw + (size_t)oh * d->OW + ow] = acc / (d->k * d->k);
            }
}

/* dx: (N,C,H,W) accumulated  dy: (N,C,OH,OW) */
void sn_avgpool2d_backward_ref(double *dx, const double *dy, const sn_pool_dims *d) {
    const size_t hw = (size_t)d->H * d->W, ohw = (size_t)d->OH * d->OW;
    for (int p = 0; p < d->N * d->C; p++)
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++) {
                double g = dy[(size_t)p * ohw + (size_t)oh * d->OW + ow] / (d->k * d->k);
                for (int i = 0; i < d->k; i++)
                    for (int j = 0; j < d->k; j++)
                        dx[(size_t)p * hw + (size_t)(oh * d->stride + i) * d->W +
                           ow * d->stride + j] += g;
            }
}
