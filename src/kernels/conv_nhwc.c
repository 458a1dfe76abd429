/* conv_nhwc.c -- channels-last forward convolutions and pools for inference (see
 * kernels_nhwc.h): im2row + GEMM for any conv, Winograd F(2x2,3x3) for 3x3 stride 1, both
 * with the bias / ReLU / 2x2 max-pool epilogue fused into the pass that leaves the GEMM
 * output, so the full-resolution conv output is never written to an activation buffer.
 *
 * Images are processed in groups of g whole images (g fixed by the shapes and d->N only)
 * so one GEMM covers about SN_NHWC_ROWS output pixels (SN_WINO_TILES tiles): enough rows
 * to amortise packing the weights, few enough that the group's operands stay in L1/L2.
 * SN_WINO_TILES measured on the seed net, one thread, images per CPU second: 48 tiles
 * 12.2k, 96 12.0k, 192 9.8k, 384 10.6k (a loaded machine: +-5 %). */
#include "kernels/kernels_nhwc.h"

#include "core/core.h"

#include <string.h>

#define SN_NHWC_ROWS 512
#define SN_WINO_TILES 96
/* Up to this many reduction values per output (the first layer: K = 9 or 27) a direct
 * loop (conv_small) beats im2row + GEMM. */
#define SN_NHWC_SMALL_K 32

static size_t ohw_of(const sn_conv2d_dims *d) { return (size_t)d->OH * (size_t)d->OW; }
static size_t kkc_of(const sn_conv2d_dims *d) { return (size_t)d->KH * d->KW * d->C; }

size_t sn_conv_nhwc_out_size(const sn_conv2d_dims *d, const sn_conv_epi *e) {
    const size_t p = (size_t)e->pool;
    return (size_t)d->N * (size_t)(d->OH / (int)p) * (size_t)(d->OW / (int)p) * (size_t)d->M;
}

/* Images per GEMM group: about `target` rows of `per` rows each, at least 1, at most N. */
static int group_of(size_t per, int target, int N) {
    size_t g = per >= (size_t)target ? 1 : (size_t)target / per;
    return g > (size_t)N ? N : (int)g;
}

/* o: (g,OH,OW,M) conv output without bias -> y: (g,OH/p,OW/p,M) with the epilogue. */
static void epilogue(float *restrict y, const float *restrict o, int g, int OH, int OW, int M,
                     const sn_conv_epi *e) {
    const float *b = e->bias;
    const int relu = e->relu;
    if (e->pool == 1) {
        const size_t rows = (size_t)g * OH * OW;
        for (size_t r = 0; r < rows; r++) {
            const float *orow = o + r * M;
            float *yr = y + r * M;
#pragma omp simd
            for (int m = 0; m < M; m++) {
                float v = orow[m] + (b ? b[m] : 0.0f);
                yr[m] = relu && v < 0.0f ? 0.0f : v;
            }
        }
        return;
    }
    const int PH = OH / 2, PW = OW / 2;
    for (int n = 0; n < g; n++)
        for (int py = 0; py < PH; py++)
            for (int px = 0; px < PW; px++) {
                const float *o00 = o + (((size_t)n * OH + 2 * py) * OW + 2 * px) * M;
                const float *o01 = o00 + M, *o10 = o00 + (size_t)OW * M, *o11 = o10 + M;
                float *yr = y + (((size_t)n * PH + py) * PW + px) * M;
#pragma omp simd
                for (int m = 0; m < M; m++) {
                    float a = o00[m] > o01[m] ? o00[m] : o01[m];
                    float c = o10[m] > o11[m] ? o10[m] : o11[m];
                    float v = (a > c ? a : c) + (b ? b[m] : 0.0f);
                    yr[m] = relu && v < 0.0f ? 0.0f : v;
                }
            }
}

/* ------------------------------------------------------------- im2row + GEMM */
/* The col buffer of a group of g images (im2row), or one zero-padded image (small K). */
static size_t col_floats(const sn_conv2d_dims *d, int g) {
    const size_t a = (size_t)g * ohw_of(d) * kkc_of(d);
    const size_t b = (size_t)(d->H + 2 * d->pad) * (size_t)(d->W + 2 * d->pad) * (size_t)d->C;
    return a > b ? a : b;
}

/* Floats of a sn_gemm_f32p packing buffer for a (rows, M, K) GEMM. */
static size_t pack_floats(size_t rows, int M, size_t K) {
    return (sn_gemm_f32p_scratch_size((int)rows, M, (int)K) + sizeof(float) - 1) / sizeof(float);
}

size_t sn_conv_nhwc_scratch(const sn_conv2d_dims *d) {
    const size_t g = (size_t)group_of(ohw_of(d), SN_NHWC_ROWS, d->N);
    return col_floats(d, (int)g) + g * ohw_of(d) * (size_t)d->M +
           pack_floats(g * ohw_of(d), d->M, kkc_of(d));
}

/* col: (g*OH*OW, KH*KW*C), row (n,oh,ow) = the (kh,kw,c) window of x, zeros outside. */
static void im2row(float *restrict col, const float *restrict x, int g, const sn_conv2d_dims *d) {
    const int H = d->H, W = d->W, C = d->C, s = d->stride, p = d->pad;
    const size_t kkc = kkc_of(d);
    float *r = col;
    for (int n = 0; n < g; n++) {
        const float *xn = x + (size_t)n * H * W * C;
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++, r += kkc) {
                float *dst = r;
                for (int kh = 0; kh < d->KH; kh++) {
                    const int ih = oh * s - p + kh;
                    for (int kw = 0; kw < d->KW; kw++, dst += C) {
                        const int iw = ow * s - p + kw;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                            for (int c = 0; c < C; c++) dst[c] = 0.0f;
                            continue;
                        }
                        const float *src = xn + ((size_t)ih * W + iw) * C;
#pragma omp simd
                        for (int c = 0; c < C; c++) dst[c] = src[c];
                    }
                }
            }
    }
}

/* Per-channel-vector inner kernels: AVX-512 with masked tails, or portable C (the same
 * operations in the same order, without FMA contraction). */
#if defined(__AVX512F__)
#include <immintrin.h>

static inline __mmask16 tail_mask(int n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* out (g*OH*OW, M) = conv of g images, no bias, from xp: one zero-padded image
 * (H+2p, W+2p, C) at a time, so every tap is in range (a padded tap adds 0 * w). Four
 * output pixels x 32 channels at a time: 8 independent FMA chains (C is small here, and
 * one pixel's chain would wait on the FMA latency at every tap). */
static void conv_small(float *restrict out, const float *restrict x, const float *restrict w,
                       int g, const sn_conv2d_dims *d, float *restrict xp) {
    const int H = d->H, W = d->W, C = d->C, M = d->M, s = d->stride, p = d->pad;
    const int Hp = H + 2 * p, Wp = W + 2 * p, OW = d->OW;
    const size_t rowp = (size_t)Wp * C;
    for (int n = 0; n < g; n++) {
        memset(xp, 0, sizeof(float) * (size_t)Hp * rowp);
        for (int ih = 0; ih < H; ih++)
            memcpy(xp + (size_t)(ih + p) * rowp + (size_t)p * C,
                   x + ((size_t)n * H + ih) * W * C, sizeof(float) * (size_t)W * C);
        float *orow = out + (size_t)n * d->OH * OW * M;
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow0 = 0; ow0 < OW; ow0 += 4) {
                const int np = OW - ow0 < 4 ? OW - ow0 : 4;
                const float *px[4];
                for (int q = 0; q < 4; q++) /* pixels past the row end repeat the last one */
                    px[q] = xp + (size_t)(oh * s) * rowp + (size_t)((ow0 + (q < np ? q : np - 1)) * s) * C;
                for (int m0 = 0; m0 < M; m0 += 32) {
                    const __mmask16 k0 = tail_mask(M - m0), k1 = tail_mask(M - m0 - 16);
                    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
                    __m512 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                    for (int kh = 0; kh < d->KH; kh++)
                        for (int kw = 0; kw < d->KW; kw++) {
                            const size_t off = (size_t)kh * rowp + (size_t)kw * C;
                            const float *wp = w + ((size_t)(kh * d->KW + kw) * C) * M + m0;
                            for (int c = 0; c < C; c++, wp += M) {
                                const __m512 w0 = _mm512_maskz_loadu_ps(k0, wp);
                                const __m512 w1 = _mm512_maskz_loadu_ps(k1, wp + 16);
                                __m512 b = _mm512_set1_ps(px[0][off + c]);
                                a00 = _mm512_fmadd_ps(b, w0, a00);
                                a01 = _mm512_fmadd_ps(b, w1, a01);
                                b = _mm512_set1_ps(px[1][off + c]);
                                a10 = _mm512_fmadd_ps(b, w0, a10);
                                a11 = _mm512_fmadd_ps(b, w1, a11);
                                b = _mm512_set1_ps(px[2][off + c]);
                                a20 = _mm512_fmadd_ps(b, w0, a20);
                                a21 = _mm512_fmadd_ps(b, w1, a21);
                                b = _mm512_set1_ps(px[3][off + c]);
                                a30 = _mm512_fmadd_ps(b, w0, a30);
                                a31 = _mm512_fmadd_ps(b, w1, a31);
                            }
                        }
                    float *o = orow + ((size_t)oh * OW + ow0) * M + m0;
                    const __m512 acc[8] = {a00, a01, a10, a11, a20, a21, a30, a31};
                    for (int q = 0; q < np; q++, o += M) {
                        _mm512_mask_storeu_ps(o, k0, acc[2 * q]);
                        _mm512_mask_storeu_ps(o + 16, k1, acc[2 * q + 1]);
                    }
                }
            }
    }
}

/* v[xi*st + c] = (B^T d B)[xi] for the 4x4 tile whose row-major element k is s[k][0..C). */
static void tile_in(float *restrict v, size_t st, const float *const *s, int C) {
    for (int c = 0; c < C; c += 16) {
        const __mmask16 k = tail_mask(C - c);
        __m512 r[16];
        for (int j = 0; j < 4; j++) { /* rows: B^T d */
            const __m512 d0 = _mm512_maskz_loadu_ps(k, s[j] + c), d1 = _mm512_maskz_loadu_ps(k, s[4 + j] + c);
            const __m512 d2 = _mm512_maskz_loadu_ps(k, s[8 + j] + c), d3 = _mm512_maskz_loadu_ps(k, s[12 + j] + c);
            r[j] = _mm512_sub_ps(d0, d2);
            r[4 + j] = _mm512_add_ps(d1, d2);
            r[8 + j] = _mm512_sub_ps(d2, d1);
            r[12 + j] = _mm512_sub_ps(d1, d3);
        }
        for (int i = 0; i < 4; i++) { /* columns: (B^T d) B */
            const __m512 *ri = r + 4 * i;
            _mm512_mask_storeu_ps(v + (size_t)(4 * i + 0) * st + c, k, _mm512_sub_ps(ri[0], ri[2]));
            _mm512_mask_storeu_ps(v + (size_t)(4 * i + 1) * st + c, k, _mm512_add_ps(ri[1], ri[2]));
            _mm512_mask_storeu_ps(v + (size_t)(4 * i + 2) * st + c, k, _mm512_sub_ps(ri[2], ri[1]));
            _mm512_mask_storeu_ps(v + (size_t)(4 * i + 3) * st + c, k, _mm512_sub_ps(ri[1], ri[3]));
        }
    }
}

/* One tile's outputs from q[xi*st + m]: A^T Q A + bias, then the 2x2 max (pool 2) or the
 * cropped 2x2 block (y[0] always, y[1] if w1, y[2] if h1, y[3] if both), then ReLU. */
static void tile_out(float *const y[4], const float *restrict q, size_t st, int M,
                     const float *b, int relu, int pool, int h1, int w1) {
    const __m512 z = _mm512_setzero_ps();
    for (int m = 0; m < M; m += 16) {
        const __mmask16 k = tail_mask(M - m);
        __m512 a0[4], a1[4];
        for (int i = 0; i < 4; i++) { /* Q A */
            const float *qi = q + (size_t)(4 * i) * st + m;
            const __m512 m0 = _mm512_maskz_loadu_ps(k, qi), m1 = _mm512_maskz_loadu_ps(k, qi + st);
            const __m512 m2 = _mm512_maskz_loadu_ps(k, qi + 2 * st), m3 = _mm512_maskz_loadu_ps(k, qi + 3 * st);
            a0[i] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            a1[i] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        const __m512 bm = b ? _mm512_maskz_loadu_ps(k, b + m) : z;
        __m512 o00 = _mm512_add_ps(_mm512_add_ps(a0[0], a0[1]), a0[2]);
        __m512 o01 = _mm512_add_ps(_mm512_add_ps(a1[0], a1[1]), a1[2]);
        __m512 o10 = _mm512_sub_ps(_mm512_sub_ps(a0[1], a0[2]), a0[3]);
        __m512 o11 = _mm512_sub_ps(_mm512_sub_ps(a1[1], a1[2]), a1[3]);
        if (pool == 2) {
            __m512 r = _mm512_add_ps(_mm512_max_ps(_mm512_max_ps(o00, o01), _mm512_max_ps(o10, o11)), bm);
            if (relu) r = _mm512_max_ps(r, z);
            _mm512_mask_storeu_ps(y[0] + m, k, r);
            continue;
        }
        o00 = _mm512_add_ps(o00, bm);
        o01 = _mm512_add_ps(o01, bm);
        o10 = _mm512_add_ps(o10, bm);
        o11 = _mm512_add_ps(o11, bm);
        if (relu) {
            o00 = _mm512_max_ps(o00, z);
            o01 = _mm512_max_ps(o01, z);
            o10 = _mm512_max_ps(o10, z);
            o11 = _mm512_max_ps(o11, z);
        }
        _mm512_mask_storeu_ps(y[0] + m, k, o00);
        if (w1) _mm512_mask_storeu_ps(y[1] + m, k, o01);
        if (h1) _mm512_mask_storeu_ps(y[2] + m, k, o10);
        if (h1 && w1) _mm512_mask_storeu_ps(y[3] + m, k, o11);
    }
}
#else
static void conv_small(float *restrict out, const float *restrict x, const float *restrict w,
                       int g, const sn_conv2d_dims *d, float *restrict pad_buf) {
    (void)pad_buf; /* bounds are checked per tap instead */
    const int H = d->H, W = d->W, C = d->C, M = d->M, s = d->stride, p = d->pad;
    float *o = out;
    for (int n = 0; n < g; n++)
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++, o += M) {
                for (int m = 0; m < M; m++) o[m] = 0.0f;
                for (int kh = 0; kh < d->KH; kh++) {
                    const int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < d->KW; kw++) {
                        const int iw = ow * s - p + kw;
                        if (iw < 0 || iw >= W) continue;
                        const float *xp = x + (((size_t)n * H + ih) * W + iw) * C;
                        const float *wp = w + ((size_t)(kh * d->KW + kw) * C) * M;
                        for (int c = 0; c < C; c++, wp += M)
                            for (int m = 0; m < M; m++) o[m] += xp[c] * wp[m];
                    }
                }
            }
}

static void tile_in(float *restrict v, size_t st, const float *const *s, int C) {
    for (int c = 0; c < C; c++) {
        float r[16];
        for (int j = 0; j < 4; j++) {
            const float d0 = s[j][c], d1 = s[4 + j][c], d2 = s[8 + j][c], d3 = s[12 + j][c];
            r[j] = d0 - d2;
            r[4 + j] = d1 + d2;
            r[8 + j] = d2 - d1;
            r[12 + j] = d1 - d3;
        }
        for (int i = 0; i < 4; i++) {
            const float *ri = r + 4 * i;
            v[(size_t)(4 * i + 0) * st + c] = ri[0] - ri[2];
            v[(size_t)(4 * i + 1) * st + c] = ri[1] + ri[2];
            v[(size_t)(4 * i + 2) * st + c] = ri[2] - ri[1];
            v[(size_t)(4 * i + 3) * st + c] = ri[1] - ri[3];
        }
    }
}

static void tile_out(float *const y[4], const float *restrict q, size_t st, int M,
                     const float *b, int relu, int pool, int h1, int w1) {
    for (int m = 0; m < M; m++) {
        float a0[4], a1[4];
        for (int i = 0; i < 4; i++) {
            const float *qi = q + (size_t)(4 * i) * st + m;
            a0[i] = qi[0] + qi[st] + qi[2 * st];
            a1[i] = qi[st] - qi[2 * st] - qi[3 * st];
        }
        const float bm = b ? b[m] : 0.0f;
        float o[4] = {a0[0] + a0[1] + a0[2], a1[0] + a1[1] + a1[2], a0[1] - a0[2] - a0[3],
                      a1[1] - a1[2] - a1[3]};
        if (pool == 2) {
            const float u = o[0] > o[1] ? o[0] : o[1], v = o[2] > o[3] ? o[2] : o[3];
            const float r = (u > v ? u : v) + bm;
            y[0][m] = relu && r < 0.0f ? 0.0f : r;
            continue;
        }
        for (int k = 0; k < 4; k++) {
            o[k] += bm;
            if (relu && o[k] < 0.0f) o[k] = 0.0f;
        }
        y[0][m] = o[0];
        if (w1) y[1][m] = o[1];
        if (h1) y[2][m] = o[2];
        if (h1 && w1) y[3][m] = o[3];
    }
}
#endif

void sn_conv_nhwc_forward_f32(float *y, const float *x, const float *w, const sn_conv_epi *e,
                              const sn_conv2d_dims *d, float *scratch) {
    SN_ASSERT(e->pool == 1 || e->pool == 2);
    const size_t ohw = ohw_of(d), kkc = kkc_of(d), M = (size_t)d->M;
    const int G = group_of(ohw, SN_NHWC_ROWS, d->N);
    const size_t xs = (size_t)d->H * d->W * d->C;
    const size_t ys = (size_t)(d->OH / e->pool) * (size_t)(d->OW / e->pool) * M;
    float *col = scratch, *out = scratch + col_floats(d, G);
    float *pack = out + (size_t)G * ohw * M;
    for (int n0 = 0; n0 < d->N; n0 += G) {
        const int g = d->N - n0 < G ? d->N - n0 : G;
        const size_t rows = (size_t)g * ohw;
        if (kkc <= SN_NHWC_SMALL_K) { /* direct: no col buffer */
            conv_small(out, x + (size_t)n0 * xs, w, g, d, col);
        } else {
            im2row(col, x + (size_t)n0 * xs, g, d);
            sn_gemm_f32p(0, 0, (int)rows, (int)M, (int)kkc, 1.0f, col, (int)kkc, w, (int)M, 0.0f,
                         out, (int)M, pack);
        }
        epilogue(y + (size_t)n0 * ys, out, g, d->OH, d->OW, (int)M, e);
    }
}

/* ------------------------------------------------------------ Winograd F(2,3) */
/* B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
 * A^T = [1 1 1 0; 0 1 -1 -1];  Y = A^T [ (G g G^T) .* (B^T d B) ] A, per channel pair. */

int sn_conv_nhwc_wino_ok(const sn_conv2d_dims *d) {
    return d->KH == 3 && d->KW == 3 && d->stride == 1 && d->pad <= 2 && d->C >= 4;
}

/* U: (16,C,M), U[xi][c][m] = (G g G^T)[xi] of the 3x3 kernel g = w[., ., c, m]. */
void sn_conv_nhwc_wino_weights(float *U, const float *w, int C, int M) {
    const size_t CM = (size_t)C * M;
    for (size_t cm = 0; cm < CM; cm++) {
        double g[3][3], t[4][3];
        for (int k = 0; k < 9; k++) g[k / 3][k % 3] = w[(size_t)k * CM + cm];
        for (int j = 0; j < 3; j++) { /* t = G g */
            t[0][j] = g[0][j];
            t[1][j] = 0.5 * (g[0][j] + g[1][j] + g[2][j]);
            t[2][j] = 0.5 * (g[0][j] - g[1][j] + g[2][j]);
            t[3][j] = g[2][j];
        }
        for (int i = 0; i < 4; i++) { /* U = t G^T */
            const double u[4] = {t[i][0], 0.5 * (t[i][0] + t[i][1] + t[i][2]),
                                 0.5 * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
            for (int j = 0; j < 4; j++) U[(size_t)(i * 4 + j) * CM + cm] = (float)u[j];
        }
    }
}

static void wino_tiles(const sn_conv2d_dims *d, int *TH, int *TW) {
    *TH = (d->OH + 1) / 2;
    *TW = (d->OW + 1) / 2;
}

size_t sn_conv_nhwc_wino_scratch(const sn_conv2d_dims *d) {
    int TH, TW;
    wino_tiles(d, &TH, &TW);
    const size_t T = (size_t)TH * TW, g = (size_t)group_of(T, SN_WINO_TILES, d->N);
    /* + a zero row + the GEMM packing buffer */
    return 16 * g * T * ((size_t)d->C + (size_t)d->M) + (size_t)d->C + pack_floats(g * T, d->M, (size_t)d->C);
}

/* V (16, P, C): the transformed 4x4 input tiles of g images, tile t = (n, ty, tx). */
static void wino_input(float *restrict V, const float *restrict x, int g, size_t P,
                       const sn_conv2d_dims *d, const float *zero) {
    const int H = d->H, W = d->W, C = d->C, p = d->pad;
    int TH, TW;
    wino_tiles(d, &TH, &TW);
    size_t t = 0;
    for (int n = 0; n < g; n++)
        for (int ty = 0; ty < TH; ty++)
            for (int tx = 0; tx < TW; tx++, t++) {
                const float *s[16];
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) {
                        const int ih = 2 * ty - p + i, iw = 2 * tx - p + j;
                        s[i * 4 + j] = ih < 0 || ih >= H || iw < 0 || iw >= W
                                           ? zero
                                           : x + (((size_t)n * H + ih) * W + iw) * C;
                    }
                tile_in(V + t * C, P * C, s, C);
            }
}

/* Q (16, P, M) -> y with the epilogue: tile (n,ty,tx) gives outputs (2ty.., 2tx..) of
 * image n, cropped to OH x OW; with pool 2 each tile is one pool window. */
static void wino_output(float *restrict y, const float *restrict Q, int g, size_t P,
                        const sn_conv2d_dims *d, const sn_conv_epi *e) {
    const int M = d->M, OH = d->OH, OW = d->OW, relu = e->relu, pool = e->pool;
    const float *b = e->bias;
    int TH, TW;
    wino_tiles(d, &TH, &TW);
    const int YH = OH / pool, YW = OW / pool;
    const size_t st = P * (size_t)M;
    for (int n = 0; n < g; n++)
        for (int ty = 0; ty < TH; ty++)
            for (int tx = 0; tx < TW; tx++) {
                if (pool == 2 && (ty >= YH || tx >= YW)) continue;
                const float *q = Q + (((size_t)n * TH + ty) * TW + tx) * M;
                const int oy = 2 * ty, ox = 2 * tx;
                float *y00 = pool == 2 ? y + (((size_t)n * YH + ty) * YW + tx) * M
                                       : y + (((size_t)n * OH + oy) * OW + ox) * M;
                const int h1 = pool == 1 && oy + 1 < OH, w1 = pool == 1 && ox + 1 < OW;
                float *const yy[4] = {y00, y00 + M, y00 + (size_t)OW * M, y00 + (size_t)OW * M + M};
                tile_out(yy, q, st, M, b, relu, pool, h1, w1);
            }
}

void sn_conv_nhwc_wino_f32(float *y, const float *x, const float *U, const sn_conv_epi *e,
                           const sn_conv2d_dims *d, float *scratch) {
    SN_ASSERT(sn_conv_nhwc_wino_ok(d) && (e->pool == 1 || e->pool == 2));
    int TH, TW;
    wino_tiles(d, &TH, &TW);
    const size_t T = (size_t)TH * TW, C = (size_t)d->C, M = (size_t)d->M;
    const int G = group_of(T, SN_WINO_TILES, d->N);
    const size_t xs = (size_t)d->H * d->W * C;
    const size_t ys = (size_t)(d->OH / e->pool) * (size_t)(d->OW / e->pool) * M;
    float *V = scratch, *Q = V + 16 * (size_t)G * T * C, *zero = Q + 16 * (size_t)G * T * M;
    float *pack = zero + C;
    memset(zero, 0, sizeof(float) * C);
    for (int n0 = 0; n0 < d->N; n0 += G) {
        const int g = d->N - n0 < G ? d->N - n0 : G;
        const size_t P = (size_t)g * T;
        wino_input(V, x + (size_t)n0 * xs, g, P, d, zero);
        for (int xi = 0; xi < 16; xi++) /* Q[xi] (P,M) = V[xi] (P,C) . U[xi] (C,M) */
            sn_gemm_f32p(0, 0, (int)P, (int)M, (int)C, 1.0f, V + (size_t)xi * P * C, (int)C,
                         U + (size_t)xi * C * M, (int)M, 0.0f, Q + (size_t)xi * P * M, (int)M, pack);
        wino_output(y + (size_t)n0 * ys, Q, g, P, d, e);
    }
}

/* ------------------------------------------------------------------- pools */
void sn_maxpool_nhwc_f32(float *y, const float *x, const sn_pool_dims *d) {
    const int C = d->C, H = d->H, W = d->W, k = d->k, s = d->stride;
    for (int n = 0; n < d->N; n++)
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++) {
                float *yr = y + (((size_t)n * d->OH + oh) * d->OW + ow) * C;
                const float *x0 = x + (((size_t)n * H + oh * s) * W + ow * s) * C;
                for (int c = 0; c < C; c++) yr[c] = x0[c];
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        const float *xr = x0 + ((size_t)i * W + j) * C;
#pragma omp simd
                        for (int c = 0; c < C; c++) yr[c] = xr[c] > yr[c] ? xr[c] : yr[c];
                    }
            }
}

void sn_avgpool_nhwc_f32(float *y, const float *x, const sn_pool_dims *d) {
    const int C = d->C, H = d->H, W = d->W, k = d->k, s = d->stride;
    const float div = (float)(k * k);
    for (int n = 0; n < d->N; n++)
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++) {
                float *yr = y + (((size_t)n * d->OH + oh) * d->OW + ow) * C;
                const float *x0 = x + (((size_t)n * H + oh * s) * W + ow * s) * C;
                for (int c = 0; c < C; c++) yr[c] = 0.0f;
                for (int i = 0; i < k; i++) /* the window in (i, j) order, as the NCHW kernel */
                    for (int j = 0; j < k; j++) {
                        const float *xr = x0 + ((size_t)i * W + j) * C;
#pragma omp simd
                        for (int c = 0; c < C; c++) yr[c] += xr[c];
                    }
#pragma omp simd
                for (int c = 0; c < C; c++) yr[c] /= div;
            }
}
