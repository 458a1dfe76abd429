/* pool.c -- fast float32 max / average pooling (square window, no padding).
 *
 * Parallel over the N*C planes; each plane is handled by one thread in a fixed order,
 * so results (including backward accumulation) do not depend on nt. */
#include "kernels/kernels.h"

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

#if defined(__AVX512F__)
#include <immintrin.h>

/* One output row of the 2x2 stride-2 max pool, branch-free.
 * yr, ar: (OW) output row  r0, r1: input rows 2*oh and 2*oh+1  i0: plane index of r0[0]
 * The window is scanned in the reference order a=r0[2ow], b=r0[2ow+1], c=r1[2ow],
 * d=r1[2ow+1]; a tap replaces the running max when v > m or v is NaN (first maximum
 * wins; a NaN is the maximum, the window's last NaN as in the reference scan). The
 * first tap is always taken (v > -inf, or NaN, or v = -inf = m with the first index).
 *
 * AVX-512: 16 outputs per step, the last step masked; the 2n input floats of a step are
 * loaded masked, so a dropped odd last column is never read, and deinterleaved into
 * even/odd columns. GT_OQ is C's '>', UNORD_Q(v, v) is isnan(v). */
static void maxpool2_row(float *yr, int32_t *ar, const float *r0, const float *r1, int32_t i0,
                         int W, int OW) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int ow = 0; ow < OW; ow += 16) {
        const int n = OW - ow < 16 ? OW - ow : 16;
        const __mmask16 mo = (__mmask16)((1u << n) - 1u);
        const __mmask16 ml = (__mmask16)(n >= 8 ? 0xffffu : (1u << (2 * n)) - 1u);
        const __mmask16 mh = (__mmask16)(n >= 8 ? (1u << (2 * n - 16)) - 1u : 0u);
        const int j = 2 * ow;
        const __m512 a0 = _mm512_maskz_loadu_ps(ml, r0 + j), a1 = _mm512_maskz_loadu_ps(mh, r0 + j + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(ml, r1 + j), b1 = _mm512_maskz_loadu_ps(mh, r1 + j + 16);
        const __m512 v[4] = {_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a0, odd, a1),
                             _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(i0 + j), even);
        const int32_t off[4] = {0, 1, W, W + 1};
        __m512 m = v[0];
        __m512i im = base;
        for (int t = 1; t < 4; t++) {
            const __mmask16 take = _mm512_cmp_ps_mask(v[t], m, _CMP_GT_OQ) |
                                   _mm512_cmp_ps_mask(v[t], v[t], _CMP_UNORD_Q);
            m = _mm512_mask_blend_ps(take, m, v[t]);
            im = _mm512_mask_blend_epi32(take, im, _mm512_add_epi32(base, _mm512_set1_epi32(off[t])));
        }
        _mm512_mask_storeu_ps(yr + ow, mo, m);
        _mm512_mask_storeu_epi32(ar + ow, mo, im);
    }
}
#else
static inline float max_step(float m, int32_t *im, float v, int32_t iv) {
    const int take = (v > m) | (v != v);
    *im = take ? iv : *im;
    return take ? v : m;
}

static void maxpool2_row(float *yr, int32_t *ar, const float *r0, const float *r1, int32_t i0,
                         int W, int OW) {
    for (int ow = 0; ow < OW; ow++) {
        const int j = 2 * ow;
        int32_t im = i0 + j;
        float m = r0[j];
        m = max_step(m, &im, r0[j + 1], i0 + j + 1);
        m = max_step(m, &im, r1[j], i0 + W + j);
        m = max_step(m, &im, r1[j + 1], i0 + W + j + 1);
        yr[ow] = m;
        ar[ow] = im;
    }
}
#endif

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
                maxpool2_row(y + o, argmax + o, r0, r0 + W, (int32_t)(2 * oh * W), W, OW);
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
