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
 * (a test of xr itself would stay in the loop: the compiler cannot prove it non-NULL).
 * AVX2 without AVX-512: 8 outputs per step, the last step masked as above. */
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
#if defined(__AVX2__)
#include <immintrin.h>
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
#if defined(__AVX2__)
/* AVX2 (no AVX-512: AMD Zen 2/3, older Intel): 8 outputs per step from 16 + 16 input
 * floats deinterleaved by shuffle + permute, the same comparisons and blends as above; the
 * last step's 2n input floats are loaded masked (maskload never touches a masked lane), so
 * OW = 7 (the seed net's second pool) runs as one vector step too. */
static inline __attribute__((always_inline)) __m256i sn_pool_mask8(int w) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(w), lane);
}
static inline __attribute__((always_inline)) void
sn_maxpool2_row(float *yr, int32_t *ar, float *xr, const float *r0, const float *r1, int32_t i0,
                int W, int OW, int keepx, int affine, float a, float b) {
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    const int32_t off[4] = {0, 1, W, W + 1};
    for (int ow = 0; ow < OW; ow += 8) {
        const int n = OW - ow < 8 ? OW - ow : 8, j = 2 * ow;
        __m256 a0, a1, b0, b1;
        if (n == 8) {
            a0 = _mm256_loadu_ps(r0 + j), a1 = _mm256_loadu_ps(r0 + j + 8);
            b0 = _mm256_loadu_ps(r1 + j), b1 = _mm256_loadu_ps(r1 + j + 8);
        } else {
            const __m256i ml = sn_pool_mask8(2 * n), mh = sn_pool_mask8(2 * n - 8);
            a0 = _mm256_maskload_ps(r0 + j, ml), a1 = _mm256_maskload_ps(r0 + j + 8, mh);
            b0 = _mm256_maskload_ps(r1 + j, ml), b1 = _mm256_maskload_ps(r1 + j + 8, mh);
        }
        /* shuffle: (x0 x2 y0 y2 | x4 x6 y4 y6); permute 64-bit (0 2 1 3): x0 x2 x4 x6 y0 .. y6 */
#define SN_DEINT(x, y, imm) \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(x, y, imm)), 0xd8))
        const __m256 u[4] = {SN_DEINT(a0, a1, 0x88), SN_DEINT(a0, a1, 0xdd), SN_DEINT(b0, b1, 0x88),
                             SN_DEINT(b0, b1, 0xdd)};
#undef SN_DEINT
        const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(i0 + j), even);
        __m256 m = affine ? _mm256_add_ps(_mm256_mul_ps(u[0], va), vb) : u[0], xm = u[0];
        __m256 im = _mm256_castsi256_ps(base);
        for (int t = 1; t < 4; t++) {
            const __m256 v = affine ? _mm256_add_ps(_mm256_mul_ps(u[t], va), vb) : u[t];
            const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ),
                                             _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            m = _mm256_blendv_ps(m, v, take);
            if (keepx) xm = _mm256_blendv_ps(xm, u[t], take);
            im = _mm256_blendv_ps(
                im, _mm256_castsi256_ps(_mm256_add_epi32(base, _mm256_set1_epi32(off[t]))), take);
        }
        if (n == 8) {
            _mm256_storeu_ps(yr + ow, m);
            if (keepx) _mm256_storeu_ps(xr + ow, xm);
            _mm256_storeu_si256((__m256i *)(ar + ow), _mm256_castps_si256(im));
        } else {
            const __m256i mo = sn_pool_mask8(n);
            _mm256_maskstore_ps(yr + ow, mo, m);
            if (keepx) _mm256_maskstore_ps(xr + ow, mo, xm);
            _mm256_maskstore_epi32((int *)(ar + ow), mo, _mm256_castps_si256(im));
        }
    }
}
#endif
#endif

#endif
