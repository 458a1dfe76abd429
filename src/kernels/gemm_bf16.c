/* gemm_bf16.c -- row-major GEMM with bf16 multiplies and fp32 accumulation.
 *
 *   C (M,N) = alpha * op(A) op(B) + beta * C     (the sn_gemm_f32 contract; float in/out)
 *
 * The operands are rounded to bfloat16 (round to nearest even; the upper 16 bits of the
 * float) while they are packed, then multiplied in pairs along K with fp32 accumulation:
 * per output, acc += a[k+1]*b[k+1]; acc += a[k]*b[k] for k = 0, 2, 4, ... (K is padded
 * with a zero to even). A product of two bf16 values is exact in fp32, so only the
 * additions round. That is the semantics of AVX512-BF16's VDPBF16PS, which the fast
 * path uses (Intel documents the odd-then-even order; DAZ/FTZ: subnormal inputs and
 * results are flushed to zero there, not in the portable path). The portable path runs
 * the same packing and the same order in plain C.
 *
 * Blocking (Goto): for each block of NC columns and KC (even) rows of K, B is packed into
 * panels of NR = 32 columns: per K pair p, 32 32-bit lanes (b[2p][j] low half, b[2p+1][j]
 * high half). For each block of MC rows A is packed into panels of MR = 12 rows: per K
 * pair p, 12 32-bit words (a[i][2p], a[i][2p+1]). The micro-kernel keeps a 12 x 32 fp32
 * tile in 24 zmm registers; per K pair it loads two B vectors and broadcasts 12 A words.
 * The first K block applies beta, the following ones add.
 *
 * Packing buffers come from the caller (sn_gemm_bf16_scratch_size); nothing is allocated.
 * Single-threaded, like sn_gemm_f32 (callers split their work over threads).
 */
#include "kernels/kernels.h"

#include "core/core.h"

#include <string.h>

#define BF_MR 12
#define BF_NR 32
#define BF_KC 256 /* even */
#define BF_MC 96  /* multiple of BF_MR */
#define BF_NC 512 /* multiple of BF_NR */

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

size_t sn_gemm_bf16_scratch_size(int M, int N, int K) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    const size_t kc = (size_t)(K < BF_KC ? round_up((size_t)K, 2) : BF_KC);
    const size_t mc = round_up((size_t)(M < BF_MC ? M : BF_MC), BF_MR);
    const size_t nc = round_up((size_t)(N < BF_NC ? N : BF_NC), BF_NR);
    /* packed A (mc x kc) + packed B (kc x nc) in 16-bit units, + one 64-byte line slack */
    return (mc * kc + kc * nc) * sizeof(uint16_t) + 64;
}

uint16_t sn_bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float sn_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float sn_bf16_round(float f) { return sn_bf16_to_f32(sn_bf16_from_f32(f)); }

/* element (r, c) of op(X) where op(X) is (rows, cols); X stored row-major, stride ld */
#define OPEL(X, tr, ld, r, c) ((tr) ? (X)[(size_t)(c) * (ld) + (r)] : (X)[(size_t)(r) * (ld) + (c)])

/* ------------------------------------------------------------- packing (portable) */
/* pa: (mc/MR panels) x (kc/2 pairs) x MR x 2 bf16, rows >= m and k >= kk zero. */
static void pack_a_c(uint16_t *restrict pa, const float *A, int tA, int lda, int i0, int m,
                     int k0, int kk, int kc) {
    for (int ir = 0; ir < m; ir += BF_MR)
        for (int p = 0; p < kc / 2; p++)
            for (int i = 0; i < BF_MR; i++)
                for (int h = 0; h < 2; h++) {
                    const int r = ir + i, k = 2 * p + h;
                    *pa++ = r < m && k < kk ? sn_bf16_from_f32(OPEL(A, tA, lda, i0 + r, k0 + k)) : 0;
                }
}

/* pb: (nc/NR panels) x (kc/2 pairs) x NR x 2 bf16, columns >= n and k >= kk zero. */
static void pack_b_c(uint16_t *restrict pb, const float *B, int tB, int ldb, int j0, int n,
                     int k0, int kk, int kc) {
    for (int jr = 0; jr < n; jr += BF_NR)
        for (int p = 0; p < kc / 2; p++)
            for (int j = 0; j < BF_NR; j++)
                for (int h = 0; h < 2; h++) {
                    const int c = jr + j, k = 2 * p + h;
                    *pb++ = c < n && k < kk ? sn_bf16_from_f32(OPEL(B, tB, ldb, k0 + k, j0 + c)) : 0;
                }
}

/* C tile (m <= MR rows, n <= NR cols) from acc (MR x NR): first ? alpha*acc + beta*C
 * (beta == 0: C not read) : C + alpha*acc */
static void store_tile(float *C, int ldc, const float *acc, int m, int n, float alpha,
                       float beta, int first) {
    for (int i = 0; i < m; i++) {
        float *c = C + (size_t)i * ldc;
        const float *a = acc + (size_t)i * BF_NR;
        for (int j = 0; j < n; j++) {
            const float v = alpha * a[j];
            c[j] = first ? (beta == 0.0f ? v : v + beta * c[j]) : c[j] + v;
        }
    }
}

/* Portable micro-kernel: acc (MR x NR) = sum over pairs, odd product first. */
static void kernel_c(float *restrict acc, const uint16_t *restrict pa,
                     const uint16_t *restrict pb, int pairs) {
    for (int t = 0; t < BF_MR * BF_NR; t++) acc[t] = 0.0f;
    for (int p = 0; p < pairs; p++) {
        const uint16_t *a = pa + (size_t)p * BF_MR * 2, *b = pb + (size_t)p * BF_NR * 2;
        for (int i = 0; i < BF_MR; i++) {
            const float a0 = sn_bf16_to_f32(a[2 * i]), a1 = sn_bf16_to_f32(a[2 * i + 1]);
            float *r = acc + (size_t)i * BF_NR;
            for (int j = 0; j < BF_NR; j++) {
                r[j] += a1 * sn_bf16_to_f32(b[2 * j + 1]);
                r[j] += a0 * sn_bf16_to_f32(b[2 * j]);
            }
        }
    }
}

/* ------------------------------------------------------------- AVX512-BF16 path */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 10
#define SN_HAVE_BF16_PATH 1
#include <immintrin.h>

#define BF_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* 16 floats -> 16 bf16 (RNE, as sn_bf16_from_f32 for non-NaN inputs) zero-extended to 32 bits */
BF_TARGET static inline __m512i cvt16(__m512 v) {
    return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(v));
}

/* B not transposed (K,N), or A transposed (K,M): stored rows k0+2p and k0+2p+1 interleaved
 * column by column into panels of R <= 32 columns: out[panel][p][j] = (x[k0+2p][c],
 * x[k0+2p+1][c]), c = c0 + panel*R + j; columns >= n and k >= kk are zero. */
BF_TARGET static void pack_cols_avx(uint16_t *restrict out, const float *X, int ld, int c0, int n,
                                    int R, int k0, int kk, int kc) {
    for (int jr = 0; jr < n; jr += R) {
        const int w = n - jr < R ? n - jr : R;
        const __mmask16 m0 = (__mmask16)(w >= 16 ? 0xffffu : (1u << w) - 1u);
        const __mmask16 m1 = (__mmask16)(w >= 32 ? 0xffffu : w > 16 ? (1u << (w - 16)) - 1u : 0u);
        const __mmask16 s0 = (__mmask16)(R >= 16 ? 0xffffu : (1u << R) - 1u);
        const __mmask16 s1 = (__mmask16)(R >= 32 ? 0xffffu : R > 16 ? (1u << (R - 16)) - 1u : 0u);
        for (int p = 0; p < kc / 2; p++, out += 2 * R) {
            const int k = 2 * p;
            const float *r0 = X + (size_t)(k0 + k) * ld + c0 + jr;
            const int h0 = k < kk, h1 = k + 1 < kk;
            const __m512 a0 = h0 ? _mm512_maskz_loadu_ps(m0, r0) : _mm512_setzero_ps();
            const __m512 a1 = h0 && m1 ? _mm512_maskz_loadu_ps(m1, r0 + 16) : _mm512_setzero_ps();
            const __m512 b0 = h1 ? _mm512_maskz_loadu_ps(m0, r0 + ld) : _mm512_setzero_ps();
            const __m512 b1 = h1 && m1 ? _mm512_maskz_loadu_ps(m1, r0 + ld + 16) : _mm512_setzero_ps();
            _mm512_mask_storeu_epi32((void *)out, s0,
                                     _mm512_or_si512(cvt16(a0), _mm512_slli_epi32(cvt16(b0), 16)));
            if (s1)
                _mm512_mask_storeu_epi32((void *)(out + 32), s1,
                                         _mm512_or_si512(cvt16(a1), _mm512_slli_epi32(cvt16(b1), 16)));
        }
    }
}

/* A not transposed (M,K) or B transposed (N,K): the K pair of one row is adjacent.
 * Panels of R rows: out[panel][p][i] = (x[r][k0+2p], x[r][k0+2p+1]), r = panel*R + i;
 * rows >= nr and k >= kk are zero. 32 floats (16 pairs) of a row per step. */
BF_TARGET static void pack_rows_avx(uint16_t *restrict out, const float *X, int ld, int r0, int nr,
                                    int R, int k0, int kk, int kc) {
    uint32_t *o = (uint32_t *)(void *)out;
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int rr = 0; rr < nr; rr += R, o += (size_t)R * (kc / 2))
        for (int i = 0; i < R; i++) {
            const int r = rr + i;
            const float *x = X + (size_t)(r0 + r) * ld + k0;
            for (int k = 0; k < kc; k += 32) {
                const int w = r >= nr ? 0 : kk - k < 32 ? kk - k : 32;
                __m512i h = _mm512_setzero_si512();
                if (w > 0) {
                    const __mmask16 m0 = (__mmask16)(w >= 16 ? 0xffffu : (1u << w) - 1u);
                    const __mmask16 m1 =
                        (__mmask16)(w >= 32 ? 0xffffu : w > 16 ? (1u << (w - 16)) - 1u : 0u);
                    /* cvtne2ps: the low 16 bf16 come from the second argument */
                    h = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, x + k + 16),
                                                     _mm512_maskz_loadu_ps(m0, x + k));
                }
                /* word q (pair k/2 + q) to o[(k/2 + q) * R + i] */
                const int np = (kc - k) / 2 < 16 ? (kc - k) / 2 : 16;
                const __mmask16 mq = (__mmask16)(np >= 16 ? 0xffffu : (1u << np) - 1u);
                _mm512_mask_i32scatter_epi32((void *)(o + (size_t)(k / 2) * R + i), mq,
                                             _mm512_mullo_epi32(lanes, _mm512_set1_epi32(R)), h, 4);
            }
        }
}

/* acc tile (MR x NR) += pairs of pa (MR words per pair) x pb (NR words per pair), then
 * stored to C (m x n valid) as store_tile does. */
BF_TARGET static void kernel_avx(float *C, int ldc, const uint16_t *restrict pa,
                                 const uint16_t *restrict pb, int pairs, int m, int n, float alpha,
                                 float beta, int first) {
    __m512 c[BF_MR][2];
    for (int i = 0; i < BF_MR; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
    const uint32_t *a = (const uint32_t *)(const void *)pa;
    const __m512bh *b = (const __m512bh *)(const void *)pb;
    for (int p = 0; p < pairs; p++, a += BF_MR, b += 2) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)b);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + 1));
#define BF_ROW(i)                                                                  \
    do {                                                                           \
        const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);                \
        c[i][0] = _mm512_dpbf16_ps(c[i][0], ai, b0);                                \
        c[i][1] = _mm512_dpbf16_ps(c[i][1], ai, b1);                                \
    } while (0)
        BF_ROW(0); BF_ROW(1); BF_ROW(2); BF_ROW(3); BF_ROW(4); BF_ROW(5);
        BF_ROW(6); BF_ROW(7); BF_ROW(8); BF_ROW(9); BF_ROW(10); BF_ROW(11);
#undef BF_ROW
    }
    const __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
    const __mmask16 m1 = (__mmask16)(n >= 32 ? 0xffffu : n > 16 ? (1u << (n - 16)) - 1u : 0u);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < m; i++) {
        float *cr = C + (size_t)i * ldc;
        for (int h = 0; h < 2; h++) {
            const __mmask16 mk = h ? m1 : m0;
            if (!mk) continue;
            __m512 v = _mm512_mul_ps(va, c[i][h]);
            if (!first) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, cr + 16 * h), v);
            else if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, cr + 16 * h), v);
            _mm512_mask_storeu_ps(cr + 16 * h, mk, v);
        }
    }
}
#endif

#ifdef SN_HAVE_BF16_PATH
/* 12 independent accumulator chains of one instruction each (fp32 FMA: 4-cycle latency on
 * 2 ports needs >= 8), `it` times; the empty asm keeps the loop from being folded. */
#define BF_R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define BF_DECL(k) __m512 a##k = _mm512_set1_ps((float)(k));
#define BF_SUM(k) +_mm512_reduce_add_ps(a##k)
BF_TARGET static float probe_fma(long it) {
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-7f);
    BF_R12(BF_DECL)
#define BF_FMA(k) a##k = _mm512_fmadd_ps(a##k, x, y);
    for (long i = 0; i < it; i++) {
        BF_R12(BF_FMA)
        __asm__ volatile("");
    }
    return 0.0f BF_R12(BF_SUM);
}
BF_TARGET static float probe_dp(long it) {
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380);
    BF_R12(BF_DECL)
#define BF_DP(k) a##k = _mm512_dpbf16_ps(a##k, x, y);
    for (long i = 0; i < it; i++) {
        BF_R12(BF_DP)
        __asm__ volatile("");
    }
    return 0.0f BF_R12(BF_SUM);
}
#endif

double sn_bf16_speedup(void) {
#ifdef SN_HAVE_BF16_PATH
    if (!sn_bf16_available()) return 0.0;
    /* best of 11 alternating short rounds of each (0.5 ms + 0.5-1.5 ms at 3.5 GHz; the
     * first is a warm-up): on a loaded machine some rounds run unpreempted */
    const long it = 150000;
    double best_f = 1e30, best_d = 1e30;
    volatile float sink = 0.0f;
    for (int r = 0; r < 12; r++) {
        double t0 = sn_now();
        sink += probe_fma(it);
        double t1 = sn_now();
        sink += probe_dp(it);
        double t2 = sn_now();
        if (r > 0 && t1 - t0 < best_f) best_f = t1 - t0;
        if (r > 0 && t2 - t1 < best_d) best_d = t2 - t1;
    }
    (void)sink;
    /* a VDPBF16PS does 32 multiply-add pairs (64 flops), an FMA 16 (32 flops) */
    return best_d > 0.0 ? 2.0 * best_f / best_d : 0.0;
#else
    return 0.0;
#endif
}

int sn_bf16_available(void) {
#ifdef SN_HAVE_BF16_PATH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

/* use_avx: 1 = AVX512-BF16 packing + micro-kernel (caller checked sn_bf16_available) */
static void gemm_bf16(int use_avx, int tA, int tB, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta, float *C,
                      int ldc, void *scratch) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) { /* no product (BLAS: A and B not read): beta * C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float *c = &C[(size_t)i * ldc + j];
                *c = beta == 0.0f ? 0.0f : beta * *c;
            }
        return;
    }
    const size_t kcap = (size_t)(K < BF_KC ? round_up((size_t)K, 2) : BF_KC);
    const size_t mcap = round_up((size_t)(M < BF_MC ? M : BF_MC), BF_MR);
    /* 64-byte aligned packing buffers */
    uint16_t *pa = (uint16_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    uint16_t *pb = pa + mcap * kcap;
    float acc[BF_MR * BF_NR];
    (void)use_avx;
    for (int j0 = 0; j0 < N; j0 += BF_NC) {
        const int nc = N - j0 < BF_NC ? N - j0 : BF_NC;
        for (int k0 = 0; k0 < K; k0 += BF_KC) {
            const int kk = K - k0 < BF_KC ? K - k0 : BF_KC, kc = kk + (kk & 1), first = k0 == 0;
#ifdef SN_HAVE_BF16_PATH
            if (use_avx && !tB) pack_cols_avx(pb, B, ldb, j0, nc, BF_NR, k0, kk, kc);
            else if (use_avx && tB) pack_rows_avx(pb, B, ldb, j0, nc, BF_NR, k0, kk, kc);
            else
#endif
                pack_b_c(pb, B, tB, ldb, j0, nc, k0, kk, kc);
            for (int i0 = 0; i0 < M; i0 += BF_MC) {
                const int mc = M - i0 < BF_MC ? M - i0 : BF_MC;
#ifdef SN_HAVE_BF16_PATH
                if (use_avx && !tA) pack_rows_avx(pa, A, lda, i0, mc, BF_MR, k0, kk, kc);
                else if (use_avx) pack_cols_avx(pa, A, lda, i0, mc, BF_MR, k0, kk, kc);
                else
#endif
                    pack_a_c(pa, A, tA, lda, i0, mc, k0, kk, kc);
                for (int jr = 0; jr < nc; jr += BF_NR) {
                    const int n = nc - jr < BF_NR ? nc - jr : BF_NR;
                    const uint16_t *pbp = pb + (size_t)(jr / BF_NR) * kc * BF_NR;
                    for (int ir = 0; ir < mc; ir += BF_MR) {
                        const int m = mc - ir < BF_MR ? mc - ir : BF_MR;
                        const uint16_t *pap = pa + (size_t)(ir / BF_MR) * kc * BF_MR;
                        float *Ct = C + (size_t)(i0 + ir) * ldc + j0 + jr;
#ifdef SN_HAVE_BF16_PATH
                        if (use_avx) {
                            kernel_avx(Ct, ldc, pap, pbp, kc / 2, m, n, alpha, beta, first);
                            continue;
                        }
#endif
                        kernel_c(acc, pap, pbp, kc / 2);
                        store_tile(Ct, ldc, acc, m, n, alpha, beta, first);
                    }
                }
            }
        }
    }
}

void sn_gemm_bf16(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc, void *scratch) {
    gemm_bf16(sn_bf16_available(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
              scratch);
}

void sn_gemm_bf16_portable(int transA, int transB, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta, float *C,
                           int ldc, void *scratch) {
    gemm_bf16(0, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch);
}

void sn_gemm_bf16_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++)
                acc += (double)sn_bf16_round(OPEL(A, transA, lda, i, p)) *
                       (double)sn_bf16_round(OPEL(B, transB, ldb, p, j));
            float *c = &C[(size_t)i * ldc + j];
            double r = (double)alpha * acc;
            if (beta != 0.0f) r += (double)beta * (double)*c;
            *c = (float)r;
        }
}
