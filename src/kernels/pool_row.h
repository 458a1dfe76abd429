/* pool_row.h -- one output row of the 2x2 stride-2 max pool, shared by the plain pool
 * (pool.c) and the fused batch norm + pool (batchnorm.c). Internal to src/kernels.
 *
 * yr, ar: (OW) output row and argmax (index in the H*W plane)  r0, r1: input rows 2*oh
 * and 2*oh+1  i0: plane index of r0[0]  xr: (OW) x at the argmax, written when keepx
 * affine: when nonzero each tap is v = u * a + b (the batch norm's float operations)
 * before the comparison; otherwise v = u exactly (a = 1, b = 0 would turn -0 into +0).
 * The window is scanned in the reference order r0[2ow], r0[2ow+1], r1[2ow], r1[2ow+1];
 * a tap replaces the running max when v > m or v is NaN (first maximum wins; a NaN is
 * the maximum, the window's last NaN as in the reference scan).
 *
 * AVX-512: 16 outputs per step, the last step masked; the 2n input floats of a step are
 * loaded masked, so a dropped odd last column is never read, and deinterleaved into
 * even/odd columns. GT_OQ is C's '>', UNORD_Q(v, v) is isnan(v).
 * always_inline: the callers pass constant affine / keepx, so each gets its own loop
 * (a test of xr itself would stay in the loop: the compiler cannot prove it non-NULL). */
#ifndef SIMNET_POOL_ROW_H
#define SIMNET_POOL_ROW_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>

static inline __attribute__((always_inline)) void
sn_maxpool2_row(float *yr, int32_t *ar, float *xr, const float *r0, const float *r1, int32_t i0,
                int W, int OW, int keepx, int affine, float a, float b) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    for (int ow = 0; ow < OW; ow += 16) {
        const int n = OW - ow < 16 ? OW - ow : 16;
        const __mmask16 mo = (__mmask16)((1u << n) - 1u);
        const __mmask16 ml = (__mmask16)(n >= 8 ? 0xffffu : (1u << (2 * n)) - 1u);
        const __mmask16 mh = (__mmask16)(n >= 8 ? (1u << (2 * n - 16)) - 1u : 0u);
        const int j = 2 * ow;
        const __m512 a0 = _mm512_maskz_loadu_ps(ml, r0 + j), a1 = _mm512_maskz_loadu_ps(mh, r0 + j + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(ml, r1 + j), b1 = _mm512_maskz_loadu_ps(mh, r1 + j + 16);
        const __m512 u[4] = {_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a0, odd, a1),
                             _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(i0 + j), even);
        const int32_t off[4] = {0, 1, W, W + 1};
        __m512 m = affine ? _mm512_add_ps(_mm512_mul_ps(u[0], va), vb) : u[0], xm = u[0];
        __m512i im = base;
        for (int t = 1; t < 4; t++) {
            const __m512 v = affine ? _mm512_add_ps(_mm512_mul_ps(u[t], va), vb) : u[t];
            const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) |
                                   _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            m = _mm512_mask_blend_ps(take, m, v);
            if (keepx) xm = _mm512_mask_blend_ps(take, xm, u[t]);
            im = _mm512_mask_blend_epi32(take, im, _mm512_add_epi32(base, _mm512_set1_epi32(off[t])));
        }
        _mm512_mask_storeu_ps(yr + ow, mo, m);
        if (keepx) _mm512_mask_storeu_ps(xr + ow, mo, xm);
        _mm512_mask_storeu_epi32(ar + ow, mo, im);
    }
}
#else
static inline __attribute__((always_inline)) void
sn_maxpool2_row(float *yr, int32_t *ar, float *xr, const float *r0, const float *r1, int32_t i0,
                int W, int OW, int keepx, int affine, float a, float b) {
    for (int ow = 0; ow < OW; ow++) {
        const int j = 2 * ow;
        const float u[4] = {r0[j], r0[j + 1], r1[j], r1[j + 1]};
        const int32_t idx[4] = {i0 + j, i0 + j + 1, i0 + W + j, i0 + W + j + 1};
        float m = affine ? u[0] * a + b : u[0], xm = u[0];
        int32_t im = idx[0];
        for (int t = 1; t < 4; t++) {
            const float v = affine ? u[t] * a + b : u[t];
            const int take = (v > m) | (v != v);
            m = take ? v : m;
            xm = take ? u[t] : xm;
            im = take ? idx[t] : im;
        }
        yr[ow] = m;
        if (keepx) xr[ow] = xm;
        ar[ow] = im;
    }
}
#endif

#endif
