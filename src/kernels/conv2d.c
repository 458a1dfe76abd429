/* conv2d.c -- fast float32 2-D convolution: im2col + GEMM per sample, batch over OpenMP.
 *
 * Scratch layout (floats), sized by sn_conv2d_scratch_size(d, nt):
 *   [ nch partial dw (M*CKK each) | nch partial db (M each) | nt im2col buffers (CKK*OHW each) ]
 * with CKK = C*KH*KW, OHW = OH*OW and nch = min(N, SN_CONV_MAX_CHUNKS) batch chunks.
 * The forward pass only uses the im2col buffers.
 *
 * Determinism: forward samples are independent; backward splits the batch into nch
 * chunks fixed by N alone, each chunk accumulates its own dw/db partial, and the partials
 * are summed in chunk order, so results are bit-identical for every nt. */
#include "kernels/kernels.h"

#include "core/core.h"

#include <limits.h>
#include <omp.h>
#include <string.h>

#define SN_CONV_MAX_CHUNKS 16

int sn_conv2d_dims_init(sn_conv2d_dims *d) {
    if (d->N < 1 || d->C < 1 || d->H < 1 || d->W < 1 || d->M < 1 || d->KH < 1 || d->KW < 1 ||
        d->stride < 1 || d->pad < 0)
        return 0;
    int eh = d->H + 2 * d->pad - d->KH, ew = d->W + 2 * d->pad - d->KW;
    if (eh < 0 || ew < 0) return 0;
    d->OH = eh / d->stride + 1;
    d->OW = ew / d->stride + 1;
    return d->OH >= 1 && d->OW >= 1;
}

static int conv_chunks(int N) { return N < SN_CONV_MAX_CHUNKS ? N : SN_CONV_MAX_CHUNKS; }

static size_t conv_ckk(const sn_conv2d_dims *d) { return (size_t)d->C * d->KH * d->KW; }
static size_t conv_ohw(const sn_conv2d_dims *d) { return (size_t)d->OH * d->OW; }

/* 1x1, stride 1, no padding: the im2col matrix is the input plane itself. */
static int conv_is_direct(const sn_conv2d_dims *d) {
    /* GEMM dimensions are int: keep every matrix side in range */
    SN_ASSERT(conv_ckk(d) <= INT_MAX && conv_ohw(d) <= INT_MAX);
    return d->KH == 1 && d->KW == 1 && d->stride == 1 && d->pad == 0;
}

size_t sn_conv2d_scratch_size(const sn_conv2d_dims *d, int nt) {
    SN_ASSERT(nt >= 1);
    size_t nch = (size_t)conv_chunks(d->N), ckk = conv_ckk(d), M = (size_t)d->M;
    return nch * (M * ckk + M) + (size_t)nt * ckk * conv_ohw(d);
}

/* col: (C*KH*KW, OH*OW)  x: (C,H,W) one sample. Out-of-image taps are 0. */
static void im2col(float *restrict col, const float *restrict x, const sn_conv2d_dims *d) {
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, s = d->stride, p = d->pad;
    size_t row = 0;
    for (int c = 0; c < d->C; c++)
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++, row++) {
                float *dst = col + row * (size_t)OH * OW;
                const float *xc = x + (size_t)c * H * W;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s - p + kh;
                    float *drow = dst + (size_t)oh * OW;
                    if (ih < 0 || ih >= H) {
                        memset(drow, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * W;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * s - p + kw;
                        drow[ow] = (iw >= 0 && iw < W) ? xr[iw] : 0.0f;
                    }
                }
            }
}

/* dx: (C,H,W) one sample, accumulated  col: (C*KH*KW, OH*OW). Adjoint of im2col. */
static void col2im_add(float *restrict dx, const float *restrict col, const sn_conv2d_dims *d) {
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, s = d->stride, p = d->pad;
    size_t row = 0;
    for (int c = 0; c < d->C; c++)
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++, row++) {
                const float *src = col + row * (size_t)OH * OW;
                float *dxc = dx + (size_t)c * H * W;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= H) continue;
                    const float *srow = src + (size_t)oh * OW;
                    float *dr = dxc + (size_t)ih * W;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * s - p + kw;
                        if (iw >= 0 && iw < W) dr[iw] += srow[ow];
                    }
                }
            }
}

/* y: (N,M,OH,OW)  x: (N,C,H,W)  w: (M,C,KH,KW)  b: (M) or NULL */
void sn_conv2d_forward_f32(float *y, const float *x, const float *w, const float *b,
                           const sn_conv2d_dims *d, float *scratch, int nt) {
    SN_ASSERT(nt >= 1);
    const size_t ckk = conv_ckk(d), ohw = conv_ohw(d), nch = (size_t)conv_chunks(d->N);
    const size_t M = (size_t)d->M, xs = (size_t)d->C * d->H * d->W, ys = M * ohw;
    float *cols = scratch + nch * (M * ckk + M); /* same offset as in backward */
    const int direct = conv_is_direct(d);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int n = 0; n < d->N; n++) {
        const float *xn = x + (size_t)n * xs;
        float *yn = y + (size_t)n * ys;
        const float *col = xn;
        if (!direct) {
            float *buf = cols + (size_t)omp_get_thread_num() * ckk * ohw;
            im2col(buf, xn, d);
            col = buf;
        }
        /* yn (M,OHW) = w (M,CKK) . col (CKK,OHW) */
        sn_gemm_f32(0, 0, d->M, (int)ohw, (int)ckk, 1.0f, w, (int)ckk, col, (int)ohw, 0.0f, yn,
                    (int)ohw);
        if (b)
            for (size_t m = 0; m < M; m++)
                for (size_t i = 0; i < ohw; i++) yn[m * ohw + i] += b[m];
    }
}

/* dx: (N,C,H,W) or NULL  dw: (M,C,KH,KW)  db: (M) or NULL  dy: (N,M,OH,OW)
 * x: (N,C,H,W)  w: (M,C,KH,KW). All gradients are accumulated. */
void sn_conv2d_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const sn_conv2d_dims *d, float *scratch, int nt) {
    SN_ASSERT(nt >= 1);
    const int nch = conv_chunks(d->N);
    const size_t ckk = conv_ckk(d), ohw = conv_ohw(d), M = (size_t)d->M;
    const size_t xs = (size_t)d->C * d->H * d->W, ys = M * ohw;
    float *pdw = scratch;                          /* (nch, M, CKK) */
    float *pdb = pdw + (size_t)nch * M * ckk;      /* (nch, M) */
    float *cols = pdb + (size_t)nch * M;           /* (nt, CKK, OHW) */
    const int direct = conv_is_direct(d);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        float *buf = cols + (size_t)omp_get_thread_num() * ckk * ohw;
        float *dwc = pdw + (size_t)ch * M * ckk;
        float *dbc = pdb + (size_t)ch * M;
        memset(dwc, 0, sizeof(float) * M * ckk);
        memset(dbc, 0, sizeof(float) * M);
        int n0 = (int)((long long)ch * d->N / nch), n1 = (int)((long long)(ch + 1) * d->N / nch);
        for (int n = n0; n < n1; n++) {
            const float *xn = x + (size_t)n * xs;
            const float *dyn = dy + (size_t)n * ys;
            const float *col = xn;
            if (!direct) {
                im2col(buf, xn, d);
                col = buf;
            }
            /* dwc (M,CKK) += dyn (M,OHW) . col^T (OHW,CKK) */
            sn_gemm_f32(0, 1, d->M, (int)ckk, (int)ohw, 1.0f, dyn, (int)ohw, col, (int)ohw, 1.0f,
                        dwc, (int)ckk);
            if (db)
                for (size_t m = 0; m < M; m++) {
                    double s = 0.0;
                    for (size_t i = 0; i < ohw; i++) s += dyn[m * ohw + i];
                    dbc[m] += (float)s;
                }
            if (dx) {
                float *dxn = dx + (size_t)n * xs;
                if (direct) {
                    /* dxn (C,HW) += w^T (C,M) . dyn (M,HW) */
                    sn_gemm_f32(1, 0, (int)ckk, (int)ohw, d->M, 1.0f, w, (int)ckk, dyn, (int)ohw,
                                1.0f, dxn, (int)ohw);
                } else {
                    /* buf (CKK,OHW) = w^T (CKK,M) . dyn (M,OHW), then scatter-add */
                    sn_gemm_f32(1, 0, (int)ckk, (int)ohw, d->M, 1.0f, w, (int)ckk, dyn, (int)ohw,
                                0.0f, buf, (int)ohw);
                    col2im_add(dxn, buf, d);
                }
            }
        }
    }
    /* Sum partials in chunk order: element-wise, so the split over threads is irrelevant. */
    const size_t nw = M * ckk;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < nw; i++) {
        float s = pdw[i];
        for (int ch = 1; ch < nch; ch++) s += pdw[(size_t)ch * nw + i];
        dw[i] += s;
    }
    if (db)
        for (size_t m = 0; m < M; m++) {
            float s = pdb[m];
            for (int ch = 1; ch < nch; ch++) s += pdb[(size_t)ch * M + m];
            db[m] += s;
        }
}
