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
 *   | nt x ( col (CKK*G*OHW) | gathered dy / GEMM output (M*G*OHW) )
 *   | nt x GEMM packing buffer | fp32: the weights packed once (conv_wpk_floats) ]
 * with CKK = C*KH*KW, OHW = OH*OW. The forward pass only uses the per-thread buffers and
 * the packed weights: w as the forward GEMM's A, w^T as the dx GEMM's, packed once per
 * call by all threads (sn_gemm_f32p_pack_a) instead of once per group.
 * fp32 GEMMs run in sn_gemm_f32p (simnet's AVX-512F GEMM, OpenBLAS without AVX-512F); the
 * _bf16 variants in sn_gemm_bf16 (bf16 multiplies, fp32 sums), whose packing buffers are
 * sized by sn_conv2d_scratch_size_bf16.
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

/* Floats of the buffers shared by both precisions: dw/db partials and per-thread col. */
static size_t conv_base_size(const sn_conv2d_dims *d, int nt) {
    SN_ASSERT(nt >= 1);
    size_t nch = (size_t)conv_chunks(d->N), ckk = conv_ckk(d), M = (size_t)d->M;
    size_t cols = (size_t)conv_group(d) * conv_ohw(d);
    return nch * (M * ckk + M) + (size_t)nt * (ckk + M) * cols;
}

/* Floats of one thread's GEMM packing buffer (bf16 or the fp32 sn_gemm_f32p): the largest
 * of the three GEMMs. */
static size_t conv_pack_floats(const sn_conv2d_dims *d, int bf16) {
    const int ckk = (int)conv_ckk(d), cols = (int)((size_t)conv_group(d) * conv_ohw(d));
    size_t (*size)(int, int, int) = bf16 ? sn_gemm_bf16_scratch_size : sn_gemm_f32p_scratch_size;
    size_t a = size(d->M, cols, ckk);
    size_t b = size(d->M, ckk, cols);
    size_t c = size(ckk, cols, d->M);
    if (b > a) a = b;
    if (c > a) a = c;
    return (a + sizeof(float) - 1) / sizeof(float);
}

/* Floats of the fp32 weights packed once per call, shared by the threads: w (M, CKK) as
 * the forward GEMM's A, or w^T (CKK, M) as the dx GEMM's (sn_gemm_f32p_pack_a). */
static size_t conv_wpk_floats(const sn_conv2d_dims *d) {
    const size_t a = sn_gemm_f32p_pa_size(d->M, (int)conv_ckk(d));
    const size_t b = sn_gemm_f32p_pa_size((int)conv_ckk(d), d->M);
    return a > b ? a : b;
}

size_t sn_conv2d_scratch_size(const sn_conv2d_dims *d, int nt) {
    return conv_base_size(d, nt) + (size_t)nt * conv_pack_floats(d, 0) + conv_wpk_floats(d);
}

size_t sn_conv2d_scratch_size_bf16(const sn_conv2d_dims *d, int nt) {
    return conv_base_size(d, nt) + (size_t)nt * conv_pack_floats(d, 1);
}

/* One GEMM of a conv: fp32 (sn_gemm_f32p) or bf16, with this thread's packing buffer;
 * apk (fp32 only): op(A) already packed (sn_gemm_f32p_pa), A and tA then unused. */
static void conv_gemm(int bf16, void *pack, int tA, int tB, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta, float *C,
                      int ldc, const float *apk) {
    if (bf16) sn_gemm_bf16(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pack);
    else if (apk) sn_gemm_f32p_pa(tB, M, N, K, alpha, apk, B, ldb, beta, C, ldc, pack);
    else sn_gemm_f32p(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pack);
}

/* Thread t's packing buffer. */
static void *conv_pack(float *scratch, const sn_conv2d_dims *d, int nt, int bf16, int t) {
    return scratch + conv_base_size(d, nt) + (size_t)t * conv_pack_floats(d, bf16);
}

/* The shared packed weights (fp32 only). */
static float *conv_wpk(float *scratch, const sn_conv2d_dims *d, int nt) {
    return scratch + conv_base_size(d, nt) + (size_t)nt * conv_pack_floats(d, 0);
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

#if defined(__AVX512F__)
#include <immintrin.h>

/* Lanes [lo, hi) of a 16-lane chunk (bounds relative to the chunk, clipped to 0..n). */
static inline __mmask16 lane_range(int lo, int hi, int n) {
    if (lo < 0) lo = 0;
    if (hi > n) hi = n;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << (hi - lo)) - 1u) << lo);
}

/* Stride 1, OW <= 16: the OH rows of one col row (c, kh, kw), rows oh in [oh0, oh1) from
 * x rows ih = oh + ih_off, the others zero; one masked load and store a row, the masks
 * computed once. */
static void col_rows_s1_narrow(float *dst, const float *xc, int W, int OH, int OW, int oh0,
                               int oh1, int ih_off, int off, int lo, int hi) {
    const __mmask16 all = lane_range(0, OW, OW), valid = lane_range(lo, hi, OW);
    const __m512 z = _mm512_setzero_ps();
    for (int oh = 0; oh < OH; oh++) {
        __m512 v = z;
        if (oh >= oh0 && oh < oh1)
            v = _mm512_maskz_loadu_ps(valid, xc + (size_t)(oh + ih_off) * W + off);
        _mm512_mask_storeu_ps(dst + (size_t)oh * OW, all, v);
    }
}
#define SN_HAVE_COL_NARROW 1

/* drow (OW) = x row at columns ow + off where ow in [lo, hi), 0 elsewhere (stride 1):
 * one masked load and store per 16 outputs; masked-off lanes are not read. */
static inline void row_gather_s1(float *drow, const float *xr, int off, int lo, int hi, int OW) {
    for (int o = 0; o < OW; o += 16) {
        const int n = OW - o < 16 ? OW - o : 16;
        const __m512 v = _mm512_maskz_loadu_ps(lane_range(lo - o, hi - o, n), xr + off + o);
        _mm512_mask_storeu_ps(drow + o, lane_range(0, n, n), v);
    }
}

/* Stride 1: dx row ih of channel c += its taps from the KW col rows of (c, kh, oh):
 * dr[j] += src[kw*ld + j - (kw - p)] for the j each kw reaches. 16 columns at a time,
 * summed in a register over kw and stored once, so no load waits on an overlapping
 * masked store; per element the additions keep the (kh, kw) order of the scalar path. */
static inline void row_scatter_add_s1(float *dr, const float *src, size_t ld, int W, int OW,
                                      int KW, int p) {
    for (int j0 = 0; j0 < W; j0 += 16) {
        const int n = W - j0 < 16 ? W - j0 : 16;
        const __mmask16 all = lane_range(0, n, n);
        __m512 acc = _mm512_maskz_loadu_ps(all, dr + j0);
        for (int kw = 0; kw < KW; kw++) {
            const int off = kw - p;
            int lo, hi;
            conv_valid(off, 1, W, OW, &lo, &hi);
            const __mmask16 m = lane_range(lo + off - j0, hi + off - j0, n);
            if (m)
                acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, src + (size_t)kw * ld + j0 - off));
        }
        _mm512_mask_storeu_ps(dr + j0, all, acc);
    }
}
/* col2im_add for stride 1 and W <= 16 (every dx row one 16-lane chunk): the per-kw
 * masks and offsets of row_scatter_add_s1 depend on kw only, so they are computed once
 * per call instead of once per row; the additions are the same, in the same order. */
#define SN_COL_NARROW_KW 16
static void col2im_add_s1_narrow(float *restrict dx, const float *restrict col, size_t ld,
                                 const sn_conv2d_dims *d) {
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, KW = d->KW, p = d->pad;
    const __mmask16 all = lane_range(0, W, W);
    __mmask16 m[SN_COL_NARROW_KW];
    int off[SN_COL_NARROW_KW];
    for (int kw = 0; kw < KW; kw++) {
        int lo, hi;
        off[kw] = kw - p;
        conv_valid(off[kw], 1, W, OW, &lo, &hi);
        m[kw] = lane_range(lo + off[kw], hi + off[kw], W);
    }
    for (int c = 0; c < d->C; c++)
        for (int kh = 0; kh < d->KH; kh++) {
            const float *src = col + ((size_t)c * d->KH + kh) * KW * ld; /* kw = 0 */
            for (int oh = 0; oh < OH; oh++) {
                const int ih = oh - p + kh;
                if (ih < 0 || ih >= H) continue;
                float *dr = dx + ((size_t)c * H + ih) * W;
                const float *sr = src + (size_t)oh * OW;
                __m512 acc = _mm512_maskz_loadu_ps(all, dr);
                for (int kw = 0; kw < KW; kw++)
                    if (m[kw])
                        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m[kw], sr + (size_t)kw * ld - off[kw]));
                _mm512_mask_storeu_ps(dr, all, acc);
            }
        }
}
/* dw for a small K = C*KH*KW (a first layer: 9 taps for 1 channel, 27 for RGB) and one
 * sample per group: dw (M,K) (+)= dy (M,P) . col^T (P,K) as M*K dot products of length
 * P. The GEMM would spend most of its time packing dy (an M x P transpose) for a 9-wide
 * result; here each dy row is read once per block of 3 rows and TB <= 9 taps, with the
 * 3*TB sums in registers. Per sum: 16-lane partial sums over the pixels in order, then
 * one lane reduction; fixed by the shapes. */
#define SN_CONV_DOT_MAXK 32
#define DOT_KERNEL(TB)                                                                        \
    static void dw_dot_##TB(float *restrict out, const float *r0, const float *r1,          \
                            const float *r2, const float *col, size_t ld, int P) {            \
        __m512 acc[3][TB];                                                                    \
        _Pragma("GCC unroll 9") for (int t = 0; t < TB; t++) acc[0][t] = acc[1][t] = acc[2][t] = \
            _mm512_setzero_ps();                                                              \
        for (int p = 0; p < P; p += 16) {                                                     \
            const __mmask16 mk = lane_range(0, P - p, 16);                                    \
            const __m512 a0 = _mm512_maskz_loadu_ps(mk, r0 + p),                              \
                         a1 = _mm512_maskz_loadu_ps(mk, r1 + p),                              \
                         a2 = _mm512_maskz_loadu_ps(mk, r2 + p);                              \
            _Pragma("GCC unroll 9") for (int t = 0; t < TB; t++) {                            \
                const __m512 c = _mm512_maskz_loadu_ps(mk, col + (size_t)t * ld + p);         \
                acc[0][t] = _mm512_fmadd_ps(a0, c, acc[0][t]);                                \
                acc[1][t] = _mm512_fmadd_ps(a1, c, acc[1][t]);                                \
                acc[2][t] = _mm512_fmadd_ps(a2, c, acc[2][t]);                                \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 9") for (int t = 0; t < TB; t++) {                                \
            out[t] = _mm512_reduce_add_ps(acc[0][t]);                                         \
            out[TB + t] = _mm512_reduce_add_ps(acc[1][t]);                                    \
            out[2 * TB + t] = _mm512_reduce_add_ps(acc[2][t]);                                \
        }                                                                                     \
    }
DOT_KERNEL(1)
DOT_KERNEL(2)
DOT_KERNEL(3)
DOT_KERNEL(4)
DOT_KERNEL(5)
DOT_KERNEL(6)
DOT_KERNEL(7)
DOT_KERNEL(8)
DOT_KERNEL(9)
#undef DOT_KERNEL

/* dw (M,K) = (assign) or += dy (M,P) . col^T, col (K, ld) with this sample's P columns. */
static void conv_dw_dot(float *restrict dw, const float *dy, const float *col, size_t ld, int M,
                        int K, int P, int assign) {
    static void (*const kern[10])(float *restrict, const float *, const float *, const float *,
                                  const float *, size_t, int) = {
        NULL, dw_dot_1, dw_dot_2, dw_dot_3, dw_dot_4, dw_dot_5, dw_dot_6, dw_dot_7, dw_dot_8,
        dw_dot_9};
    float out[27];
    for (int m = 0; m < M; m += 3) {
        const int mb = M - m < 3 ? M - m : 3; /* missing rows read row m, results dropped */
        const float *r0 = dy + (size_t)m * P;
        const float *r1 = mb > 1 ? r0 + P : r0, *r2 = mb > 2 ? r0 + 2 * (size_t)P : r0;
        for (int t0 = 0; t0 < K; t0 += 9) {
            const int tb = K - t0 < 9 ? K - t0 : 9;
            kern[tb](out, r0, r1, r2, col + (size_t)t0 * ld, ld, P);
            for (int i = 0; i < mb; i++)
                for (int t = 0; t < tb; t++) {
                    float *w = dw + (size_t)(m + i) * K + t0 + t;
                    *w = assign ? out[i * tb + t] : *w + out[i * tb + t];
                }
        }
    }
}
#define SN_HAVE_CONV_DOT 1
#else
static inline void row_gather_s1(float *drow, const float *xr, int off, int lo, int hi, int OW) {
    for (int ow = 0; ow < lo; ow++) drow[ow] = 0.0f;
    for (int ow = lo; ow < hi; ow++) drow[ow] = xr[ow + off];
    for (int ow = hi; ow < OW; ow++) drow[ow] = 0.0f;
}
static inline void row_scatter_add_s1(float *dr, const float *src, size_t ld, int W, int OW,
                                      int KW, int p) {
    for (int kw = 0; kw < KW; kw++) {
        const int off = kw - p;
        int lo, hi;
        conv_valid(off, 1, W, OW, &lo, &hi);
        const float *srow = src + (size_t)kw * ld;
        for (int ow = lo; ow < hi; ow++) dr[ow + off] += srow[ow];
    }
}
#endif

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
#ifdef SN_HAVE_COL_NARROW
                if (s == 1 && OW <= 16) { /* rows with ih = oh - p + kh in [0, H) */
                    int oh0 = p - kh > 0 ? p - kh : 0, oh1 = H + p - kh < OH ? H + p - kh : OH;
                    col_rows_s1_narrow(dst, xc, W, OH, OW, oh0, oh1, kh - p, off, lo, hi);
                    continue;
                }
#endif
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s - p + kh;
                    float *drow = dst + (size_t)oh * OW;
                    if (ih < 0 || ih >= H) {
                        memset(drow, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * W; /* x(ih, ow*s + off) */
                    if (s == 1) {
                        row_gather_s1(drow, xr, off, lo, hi, OW);
                        continue;
                    }
                    for (int ow = 0; ow < lo; ow++) drow[ow] = 0.0f;
                    for (int ow = lo; ow < hi; ow++) drow[ow] = xr[ow * s + off];
                    for (int ow = hi; ow < OW; ow++) drow[ow] = 0.0f;
                }
            }
}

/* dx: (C,H,W) one sample, accumulated  col: (C*KH*KW, ld) as im2col. Adjoint of im2col. */
static void col2im_add(float *restrict dx, const float *restrict col, size_t ld,
                       const sn_conv2d_dims *d) {
    const int H = d->H, W = d->W, OH = d->OH, OW = d->OW, s = d->stride, p = d->pad;
#ifdef SN_HAVE_COL_NARROW
    if (s == 1 && W <= 16 && d->KW <= SN_COL_NARROW_KW) {
        col2im_add_s1_narrow(dx, col, ld, d);
        return;
    }
#endif
    if (s == 1) {
        for (int c = 0; c < d->C; c++)
            for (int kh = 0; kh < d->KH; kh++) {
                const float *src = col + ((size_t)c * d->KH + kh) * d->KW * ld; /* kw = 0 */
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh - p + kh;
                    if (ih < 0 || ih >= H) continue;
                    row_scatter_add_s1(dx + ((size_t)c * H + ih) * W, src + (size_t)oh * OW, ld,
                                       W, OW, d->KW, p);
                }
            }
        return;
    }
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
static void conv_forward(float *y, const float *x, const float *w, const float *b,
                         const sn_conv2d_dims *d, float *scratch, int nt, int bf16) {
    SN_ASSERT(nt >= 1);
    const int nch = conv_chunks(d->N), G = conv_group(d);
    const size_t ckk = conv_ckk(d), ohw = conv_ohw(d), M = (size_t)d->M;
    const size_t xs = (size_t)d->C * d->H * d->W, ys = M * ohw, gcols = (size_t)G * ohw;
    float *bufs = scratch + (size_t)nch * (M * ckk + M); /* same offset as in backward */
    float *wpk = bf16 ? NULL : conv_wpk(scratch, d, nt); /* w packed once, for every group */
#pragma omp parallel num_threads(nt)
    {
    if (wpk) sn_gemm_f32p_pack_a(0, d->M, (int)ckk, w, (int)ckk, wpk, omp_get_thread_num(),
                                 omp_get_num_threads());
#pragma omp barrier
#pragma omp for schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        float *col = bufs + (size_t)omp_get_thread_num() * (ckk + M) * gcols; /* (CKK, g*OHW) */
        float *out = col + ckk * gcols;                                       /* (M, g*OHW) */
        void *pack = conv_pack(scratch, d, nt, bf16, omp_get_thread_num());
        int n0, n1;
        conv_chunk_range(ch, nch, d->N, &n0, &n1);
        for (int g0 = n0; g0 < n1; g0 += G) {
            const int g = n1 - g0 < G ? n1 - g0 : G;
            const size_t ld = (size_t)g * ohw;
            for (int i = 0; i < g; i++) im2col(col + (size_t)i * ohw, ld, x + (size_t)(g0 + i) * xs, d);
            /* out (M, g*OHW) = w (M,CKK) . col (CKK, g*OHW); one sample: straight into y */
            float *o0 = g == 1 ? y + (size_t)g0 * ys : out;
            conv_gemm(bf16, pack, 0, 0, d->M, (int)ld, (int)ckk, 1.0f, w, (int)ckk, col, (int)ld, 0.0f,
                      o0, (int)ld, wpk);
            /* y[g0+i] (M,OHW) = out[:, i*OHW ...] + b (in place when g == 1) */
            for (int i = 0; i < g; i++) {
                float *yn = y + (size_t)(g0 + i) * ys;
                for (size_t m = 0; m < M; m++) {
                    const float *o = o0 + m * ld + (size_t)i * ohw;
                    float *yr = yn + m * ohw;
                    const float bm = b ? b[m] : 0.0f;
#pragma omp simd
                    for (size_t q = 0; q < ohw; q++) yr[q] = o[q] + bm;
                }
            }
        }
    }
    }
}

/* dx: (N,C,H,W) or NULL  dw: (M,C,KH,KW)  db: (M) or NULL  dy: (N,M,OH,OW)
 * x: (N,C,H,W)  w: (M,C,KH,KW). dw, db accumulated; dx accumulated, or assigned when
 * set (each sample's dx zeroed right before its col2im, while it is in cache). */
static void conv_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const sn_conv2d_dims *d, float *scratch, int nt,
                          int set, int bf16) {
    SN_ASSERT(nt >= 1);
    const int nch = conv_chunks(d->N), G = conv_group(d);
    const size_t ckk = conv_ckk(d), ohw = conv_ohw(d), M = (size_t)d->M;
    const size_t xs = (size_t)d->C * d->H * d->W, ys = M * ohw, gcols = (size_t)G * ohw;
    float *pdw = scratch;                     /* (nch, M, CKK) */
    float *pdb = pdw + (size_t)nch * M * ckk; /* (nch, M) */
    float *bufs = pdb + (size_t)nch * M;      /* nt x (CKK + M) * G*OHW */
#ifdef SN_HAVE_CONV_DOT
    /* small K, one sample a group (no dy regrouping): dw by dot products (conv_dw_dot) */
    const int dot = ckk <= SN_CONV_DOT_MAXK && G == 1;
#endif
    float *wpk = bf16 || !dx ? NULL : conv_wpk(scratch, d, nt); /* w^T packed once */
#pragma omp parallel num_threads(nt)
    {
    if (wpk) sn_gemm_f32p_pack_a(1, (int)ckk, d->M, w, (int)ckk, wpk, omp_get_thread_num(),
                                 omp_get_num_threads());
#pragma omp barrier
#pragma omp for schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        float *col = bufs + (size_t)omp_get_thread_num() * (ckk + M) * gcols; /* (CKK, g*OHW) */
        float *dyg = col + ckk * gcols;                                       /* (M, g*OHW) */
        float *dwc = pdw + (size_t)ch * M * ckk;                              /* (M, CKK) */
        float *dbc = pdb + (size_t)ch * M;                                    /* (M) */
        void *pack = conv_pack(scratch, d, nt, bf16, omp_get_thread_num());
        memset(dbc, 0, sizeof(float) * M); /* dwc: the chunk's first GEMM assigns it */
        int n0, n1;
        conv_chunk_range(ch, nch, d->N, &n0, &n1);
        for (int g0 = n0; g0 < n1; g0 += G) {
            const int g = n1 - g0 < G ? n1 - g0 : G;
            const size_t ld = (size_t)g * ohw;
            /* dyg[:, i*OHW ...] = dy[g0+i] (M,OHW) (one sample: dy itself, no copy);
             * db partial: one double sum per group */
            const float *dyv = dy + (size_t)g0 * ys;
            if (g > 1) {
                for (int i = 0; i < g; i++)
                    for (size_t m = 0; m < M; m++)
                        memcpy(dyg + m * ld + (size_t)i * ohw, dy + (size_t)(g0 + i) * ys + m * ohw,
                               sizeof(float) * ohw);
                dyv = dyg;
            }
            if (db)
                for (size_t m = 0; m < M; m++) dbc[m] += (float)sum_f64(dyv + m * ld, ld);
            for (int i = 0; i < g; i++) im2col(col + (size_t)i * ohw, ld, x + (size_t)(g0 + i) * xs, d);
            /* dwc (M,CKK) (+)= dyg (M, g*OHW) . col^T (g*OHW, CKK): assigned by the chunk's
             * first group (no zeroing pass over the nch partials), accumulated after */
#ifdef SN_HAVE_CONV_DOT
            if (dot)
                conv_dw_dot(dwc, dyv, col, ld, d->M, (int)ckk, (int)ld, g0 == n0);
            else
#endif
                conv_gemm(bf16, pack, 0, 1, d->M, (int)ckk, (int)ld, 1.0f, dyv, (int)ld, col,
                          (int)ld, g0 == n0 ? 0.0f : 1.0f, dwc, (int)ckk, NULL);
            if (!dx) continue;
            /* col (CKK, g*OHW) = w^T (CKK,M) . dyg (M, g*OHW), then scatter-add per sample */
            conv_gemm(bf16, pack, 1, 0, (int)ckk, (int)ld, d->M, 1.0f, w, (int)ckk, dyv, (int)ld, 0.0f,
                      col, (int)ld, wpk);
            for (int i = 0; i < g; i++) {
                float *dxn = dx + (size_t)(g0 + i) * xs;
                if (set) memset(dxn, 0, sizeof(float) * xs);
                col2im_add(dxn, col + (size_t)i * ohw, ld, d);
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

void sn_conv2d_forward_f32(float *y, const float *x, const float *w, const float *b,
                           const sn_conv2d_dims *d, float *scratch, int nt) {
    conv_forward(y, x, w, b, d, scratch, nt, 0);
}

void sn_conv2d_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const sn_conv2d_dims *d, float *scratch, int nt) {
    conv_backward(dx, dw, db, dy, x, w, d, scratch, nt, 0, 0);
}

void sn_conv2d_backward_set_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                                const float *w, const sn_conv2d_dims *d, float *scratch, int nt) {
    conv_backward(dx, dw, db, dy, x, w, d, scratch, nt, 1, 0);
}

void sn_conv2d_forward_bf16(float *y, const float *x, const float *w, const float *b,
                            const sn_conv2d_dims *d, float *scratch, int nt) {
    conv_forward(y, x, w, b, d, scratch, nt, 1);
}

void sn_conv2d_backward_bf16(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const sn_conv2d_dims *d, float *scratch, int nt) {
    conv_backward(dx, dw, db, dy, x, w, d, scratch, nt, 0, 1);
}

void sn_conv2d_backward_set_bf16(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const sn_conv2d_dims *d, float *scratch, int nt) {
    conv_backward(dx, dw, db, dy, x, w, d, scratch, nt, 1, 1);
}
