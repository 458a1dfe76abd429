/* conv2d.c -- fast float32 2-D convolution: grouped im2col + GEMM, batch over OpenMP.
 *
 * The batch is split into nch = min(N, SN_CONV_MAX_CHUNKS) chunks fixed by N alone; a
 * chunk is processed in groups of up to G samples (G fixed by the shapes, see conv_group).
 * The G samples of a group are unfolded side by side into one column matrix
 *   col (CKK, g*OHW),  column j = i*OHW + p for sample n0+i, output pixel p,
 * so each layer runs one GEMM per group instead of one per sample: for small planes
 * (OHW = 25 in the seed net's conv3) a per-sample GEMM leaves most of the FMA units idle
 * and repacks the weights every time.
 *
 * Scratch layout (floats), sized by sn_conv2d_scratch_size(d, nt):
 *   [ nch partial dw (M*CKK each) | nch partial db (M each)
 *   | nt x ( col (CKK*G*OHW) | gathered dy / GEMM output (M*G*OHW) ) ]
 * with CKK = C*KH*KW, OHW = OH*OW. The forward pass only uses the per-thread buffers.
 *
 * Determinism: forward samples are independent; backward gives each chunk its own dw/db
 * partial, accumulated group by group in sample order, and sums the partials in chunk
 * order. Chunks and groups depend on the shapes only, so results are bit-identical for
 * every nt. */
#include "kernels/kernels.h"

#include "core/core.h"

#include <limits.h>
#include <omp.h>
#include <string.h>

#define SN_CONV_MAX_CHUNKS 16
/* Target GEMM columns per group (G*OHW): large enough to amortise packing the weights
 * and to fill the micro-kernel, small enough that col stays in L2 for the usual CKK. */
#define SN_CONV_GROUP_COLS 512

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

/* Chunk ch of nch covers samples [n0, n1). */
static void conv_chunk_range(int ch, int nch, int N, int *n0, int *n1) {
    *n0 = (int)((long long)ch * N / nch);
    *n1 = (int)((long long)(ch + 1) * N / nch);
}

/* Samples per group: as many as fit SN_CONV_GROUP_COLS columns (at least 1), at most
 * the largest chunk. GEMM sides are int: the checks keep every matrix side in range. */
static int conv_group(const sn_conv2d_dims *d) {
    const size_t ohw = conv_ohw(d);
    const int nch = conv_chunks(d->N);
    const size_t maxchunk = ((size_t)d->N + (size_t)nch - 1) / (size_t)nch;
    size_t g = ohw >= SN_CONV_GROUP_COLS ? 1 : SN_CONV_GROUP_COLS / ohw;
    if (g > maxchunk) g = maxchunk;
    SN_ASSERT(conv_ckk(d) <= INT_MAX && g * ohw <= INT_MAX);
    return (int)g;
}

size_t sn_conv2d_scratch_size(const sn_conv2d_dims *d, int nt) {
    SN_ASSERT(nt >= 1);
    size_t nch = (size_t)conv_chunks(d->N), ckk = conv_ckk(d), M = (size_t)d->M;
    size_t cols = (size_t)conv_group(d) * conv_ohw(d);
    return nch * (M * ckk + M) + (size_t)nt * (ckk + M) * cols;
}

/* Output columns [lo, hi) whose tap at offset k (kernel index minus pad) lands inside
 * [0, len): lo*s + k >= 0 and (hi-1)*s + k <= len-1. */
static void conv_valid(int k, int s, int len, int out, int *lo, int *hi) {
    int a = k >= 0 ? 0 : (-k + s - 1) / s;
    int b = len - 1 - k < 0 ? 0 : (len - 1 - k) / s + 1;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo) *hi = *lo;
}

/* col: (C*KH*KW, ld), this sample's OH*OW columns at col[.. + 0 .. OH*OW)
 * x: (C,H,W) one sample. Out-of-image taps are 0. */
static void im2col(float *restrict col, size_t ld, const float *restrict x,
                   const sn_conv2d_dims *d) {
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, s = d->stride, p = d->pad;
    size_t row = 0;
    for (int c = 0; c < d->C; c++)
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++, row++) {
                float *dst = col + row * ld; /* (OH,OW) */
                const float *xc = x + (size_t)c * H * W;
                const int off = kw - p;
                int lo, hi;
                conv_valid(off, s, W, OW, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s - p + kh;
                    float *drow = dst + (size_t)oh * OW;
                    if (ih < 0 || ih >= H) {
                        memset(drow, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * W; /* x(ih, ow*s + off) */
                    for (int ow = 0; ow < lo; ow++) drow[ow] = 0.0f;
                    if (s == 1)
                        for (int ow = lo; ow < hi; ow++) drow[ow] = xr[ow + off];
                    else
                        for (int ow = lo; ow < hi; ow++) drow[ow] = xr[ow * s + off];
                    for (int ow = hi; ow < OW; ow++) drow[ow] = 0.0f;
                }
            }
}

/* dx: (C,H,W) one sample, accumulated  col: (C*KH*KW, ld) as im2col. Adjoint of im2col. */
static void col2im_add(float *restrict dx, const float *restrict col, size_t ld,
                       const sn_conv2d_dims *d) {
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, s = d->stride, p = d->pad;
    size_t row = 0;
    for (int c = 0; c < d->C; c++)
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++, row++) {
                const float *src = col + row * ld; /* (OH,OW) */
                float *dxc = dx + (size_t)c * H * W;
                const int off = kw - p;
                int lo, hi;
                conv_valid(off, s, W, OW, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= H) continue;
                    const float *srow = src + (size_t)oh * OW;
                    float *dr = dxc + (size_t)ih * W; /* dx(ih, ow*s + off) */
                    if (s == 1)
                        for (int ow = lo; ow < hi; ow++) dr[ow + off] += srow[ow];
                    else
                        for (int ow = lo; ow < hi; ow++) dr[ow * s + off] += srow[ow];
                }
            }
}

/* Sum of a[0..n) in double, with 8 independent partial sums (a fixed order) so the
 * additions pipeline and vectorise instead of waiting on one long dependency chain. */
static double sum_f64(const float *a, size_t n) {
    double acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += a[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* y: (N,M,OH,OW)  x: (N,C,H,W)  w: (M,C,KH,KW)  b: (M) or NULL */
void sn_conv2d_forward_f32(float *y, const float *x, const float *w, const float *b,
                           const sn_conv2d_dims *d, float *scratch, int nt) {
    SN_ASSERT(nt >= 1);
    const int nch = conv_chunks(d->N), G = conv_group(d);
    const size_t ckk = conv_ckk(d), ohw = conv_ohw(d), M = (size_t)d->M;
    const size_t xs = (size_t)d->C * d->H * d->W, ys = M * ohw, gcols = (size_t)G * ohw;
    float *bufs = scratch + (size_t)nch * (M * ckk + M); /* same offset as in backward */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        float *col = bufs + (size_t)omp_get_thread_num() * (ckk + M) * gcols; /* (CKK, g*OHW) */
        float *out = col + ckk * gcols;                                       /* (M, g*OHW) */
        int n0, n1;
        conv_chunk_range(ch, nch, d->N, &n0, &n1);
        for (int g0 = n0; g0 < n1; g0 += G) {
            const int g = n1 - g0 < G ? n1 - g0 : G;
            const size_t ld = (size_t)g * ohw;
            for (int i = 0; i < g; i++) im2col(col + (size_t)i * ohw, ld, x + (size_t)(g0 + i) * xs, d);
            /* out (M, g*OHW) = w (M,CKK) . col (CKK, g*OHW) */
            sn_gemm_f32(0, 0, d->M, (int)ld, (int)ckk, 1.0f, w, (int)ckk, col, (int)ld, 0.0f,
                        out, (int)ld);
            /* y[g0+i] (M,OHW) = out[:, i*OHW ...] + b */
            for (int i = 0; i < g; i++) {
                float *yn = y + (size_t)(g0 + i) * ys;
                for (size_t m = 0; m < M; m++) {
                    const float *o = out + m * ld + (size_t)i * ohw;
                    float *yr = yn + m * ohw, bm = b ? b[m] : 0.0f;
                    for (size_t q = 0; q < ohw; q++) yr[q] = o[q] + bm;
                }
            }
        }
    }
}

/* dx: (N,C,H,W) or NULL  dw: (M,C,KH,KW)  db: (M) or NULL  dy: (N,M,OH,OW)
 * x: (N,C,H,W)  w: (M,C,KH,KW). All gradients are accumulated. */
void sn_conv2d_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const sn_conv2d_dims *d, float *scratch, int nt) {
    SN_ASSERT(nt >= 1);
    const int nch = conv_chunks(d->N), G = conv_group(d);
    const size_t ckk = conv_ckk(d), ohw = conv_ohw(d), M = (size_t)d->M;
    const size_t xs = (size_t)d->C * d->H * d->W, ys = M * ohw, gcols = (size_t)G * ohw;
    float *pdw = scratch;                     /* (nch, M, CKK) */
    float *pdb = pdw + (size_t)nch * M * ckk; /* (nch, M) */
    float *bufs = pdb + (size_t)nch * M;      /* nt x (CKK + M) * G*OHW */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        float *col = bufs + (size_t)omp_get_thread_num() * (ckk + M) * gcols; /* (CKK, g*OHW) */
        float *dyg = col + ckk * gcols;                                       /* (M, g*OHW) */
        float *dwc = pdw + (size_t)ch * M * ckk;                              /* (M, CKK) */
        float *dbc = pdb + (size_t)ch * M;                                    /* (M) */
        memset(dwc, 0, sizeof(float) * M * ckk);
        memset(dbc, 0, sizeof(float) * M);
        int n0, n1;
        conv_chunk_range(ch, nch, d->N, &n0, &n1);
        for (int g0 = n0; g0 < n1; g0 += G) {
            const int g = n1 - g0 < G ? n1 - g0 : G;
            const size_t ld = (size_t)g * ohw;
            /* dyg[:, i*OHW ...] = dy[g0+i] (M,OHW); db partial: one double sum per group */
            for (int i = 0; i < g; i++)
                for (size_t m = 0; m < M; m++)
                    memcpy(dyg + m * ld + (size_t)i * ohw, dy + (size_t)(g0 + i) * ys + m * ohw,
                           sizeof(float) * ohw);
            if (db)
                for (size_t m = 0; m < M; m++) dbc[m] += (float)sum_f64(dyg + m * ld, ld);
            for (int i = 0; i < g; i++) im2col(col + (size_t)i * ohw, ld, x + (size_t)(g0 + i) * xs, d);
            /* dwc (M,CKK) += dyg (M, g*OHW) . col^T (g*OHW, CKK) */
            sn_gemm_f32(0, 1, d->M, (int)ckk, (int)ld, 1.0f, dyg, (int)ld, col, (int)ld, 1.0f, dwc,
                        (int)ckk);
            if (!dx) continue;
            /* col (CKK, g*OHW) = w^T (CKK,M) . dyg (M, g*OHW), then scatter-add per sample */
            sn_gemm_f32(1, 0, (int)ckk, (int)ld, d->M, 1.0f, w, (int)ckk, dyg, (int)ld, 0.0f, col,
                        (int)ld);
            for (int i = 0; i < g; i++) col2im_add(dx + (size_t)(g0 + i) * xs, col + (size_t)i * ohw, ld, d);
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
