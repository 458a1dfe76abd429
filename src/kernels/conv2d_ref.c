/* conv2d_ref.c -- naive double-precision 2-D convolution (reference for tests). */
#include "kernels/kernels.h"

#include "core/core.h"

/* Index helpers for NCHW tensors. */
#define X_AT(n, c, h, w) ((((size_t)(n) * d->C + (c)) * d->H + (h)) * d->W + (w))
#define Y_AT(n, m, h, w) ((((size_t)(n) * d->M + (m)) * d->OH + (h)) * d->OW + (w))
#define W_AT(m, c, h, w) ((((size_t)(m) * d->C + (c)) * d->KH + (h)) * d->KW + (w))

/* y: (N,M,OH,OW)  x: (N,C,H,W)  w: (M,C,KH,KW)  b: (M) or NULL */
void sn_conv2d_forward_ref(double *y, const double *x, const double *w, const double *b,
                           const sn_conv2d_dims *d) {
    for (int n = 0; n < d->N; n++)
        for (int m = 0; m < d->M; m++)
            for (int oh = 0; oh < d->OH; oh++)
                for (int ow = 0; ow < d->OW; ow++) {
                    double acc = b ? b[m] : 0.0;
                    for (int c = 0; c < d->C; c++)
                        for (int kh = 0; kh < d->KH; kh++) {
                            int ih = oh * d->stride - d->pad + kh;
                            if (ih < 0 || ih >= d->H) continue;
                            for (int kw = 0; kw < d->KW; kw++) {
                                int iw = ow * d->stride - d->pad + kw;
                                if (iw < 0 || iw >= d->W) continue;
                                acc += w[W_AT(m, c, kh, kw)] * x[X_AT(n, c, ih, iw)];
                            }
                        }
                    y[Y_AT(n, m, oh, ow)] = acc;
                }
}

/* dx: (N,C,H,W) or NULL  dw: (M,C,KH,KW)  db: (M) or NULL  dy: (N,M,OH,OW); accumulated. */
void sn_conv2d_backward_ref(double *dx, double *dw, double *db, const double *dy,
                            const double *x, const double *w, const sn_conv2d_dims *d) {
    for (int n = 0; n < d->N; n++)
        for (int m = 0; m < d->M; m++)
            for (int oh = 0; oh < d->OH; oh++)
                for (int ow = 0; ow < d->OW; ow++) {
                    double g = dy[Y_AT(n, m, oh, ow)];
                    if (db) db[m] += g;
                    for (int c = 0; c < d->C; c++)
                        for (int kh = 0; kh < d->KH; kh++) {
                            int ih = oh * d->stride - d->pad + kh;
                            if (ih < 0 || ih >= d->H) continue;
                            for (int kw = 0; kw < d->KW; kw++) {
                                int iw = ow * d->stride - d->pad + kw;
                                if (iw < 0 || iw >= d->W) continue;
                                dw[W_AT(m, c, kh, kw)] += g * x[X_AT(n, c, ih, iw)];
                                if (dx) dx[X_AT(n, c, ih, iw)] += g * w[W_AT(m, c, kh, kw)];
                            }
                        }
                }
}
