/* gemm_f32.c -- simnet's own packed fp32 GEMM for the convolution layers (AVX-512F).
 *
 *   C (M,N) = alpha * op(A) op(B) + beta * C     (the sn_gemm_f32 contract)
 *
 * Why: OpenBLAS picks its kernels at run time from OPENBLAS_CORETYPE; on these machines the
 * environment pins Haswell (AVX2, about 120-130 GFLOP/s a core on conv-shaped GEMMs)
 * while the cores run 512-bit FMAs at twice that. A GEMM built for the shapes the conv
 * layers produce (M = output channels 32..512, N = ~512 columns, K = C*KH*KW) gets
 * most of that back without touching the user's environment.
 *
 * Blocking (Goto / BLIS loop order): for each block of NC columns and KC rows of K, B is
 * packed into panels of NR = 48 columns (per k: 48 consecutive floats); for each block of
 * MC rows A is packed into panels of MR = 8 rows (per k: 8 floats). The micro-kernel keeps
 * an 8 x 48 tile in 24 zmm accumulators and, per k, loads three B vectors and broadcasts
 * eight A values (24 FMAs on 11 loads). The B micro-panel (KC x 48 floats, 24 KiB) stays
 * in L1 while the A panels stream from L2. K is cut into equal blocks of at most KC
 * (kc_block). The first K block applies beta, the following
 * ones add. Sums run over k in increasing order inside a K block, blocks in order: the
 * result depends on the shapes only, never on the thread that runs it.
 *
 * Packing transposes with 8x8 register transposes where the operand's K runs along a
 * row (A not transposed, B transposed) and copies rows otherwise.
 *
 * Packing buffers come from the caller (sn_gemm_f32p_scratch_size bytes); nothing is
 * allocated. Without AVX-512F (other CPUs, other compilers) it calls sn_gemm_f32
 * (OpenBLAS) and ignores the scratch. Single-threaded: callers split the work.
 */
#include "kernels/kernels.h"

#include "core/core.h"

#define F_MR 8
#define F_NR 48
#define F_KC 128
#define F_MC 128 /* multiple of F_MR */
#define F_NC 480 /* multiple of F_NR */

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* Rows of K per block: K split into ceil(K / F_KC) blocks of equal size (the last one at
 * most that), not F_KC-sized blocks and a remainder: a short last block (K = 392 gave
 * 128 + 128 + 128 + 8) spends as much on loading and storing the C tiles as on its FMAs. */
static int kc_block(int K) {
    const int nb = (K + F_KC - 1) / F_KC;
    return nb <= 1 ? K : (K + nb - 1) / nb;
}

size_t sn_gemm_f32p_scratch_size(int M, int N, int K) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    const size_t kc = (size_t)(K < F_KC ? K : F_KC);
    const size_t mc = round_up((size_t)(M < F_MC ? M : F_MC), F_MR);
    const size_t nc = round_up((size_t)(N < F_NC ? N : F_NC), F_NR);
    /* packed A (mc x kc) + packed B (kc x nc) floats, + two 64-byte lines of slack (each
     * buffer starts on a cache line) */
    return (mc * kc + kc * nc) * sizeof(float) + 128;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 10
#define SN_HAVE_F32P_PATH 1
#include <immintrin.h>

#define F_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))

F_TARGET static inline __mmask16 mask16(int w) {
    return (__mmask16)(w >= 16 ? 0xffffu : w <= 0 ? 0u : (1u << w) - 1u);
}

/* out[p*R + j] = X[(k0+p)*ld + c0 + j] for p < kk, j < R; columns j >= n are zero.
 * (B not transposed, or A transposed: the R values of one k are adjacent in memory.) */
F_TARGET static void pack_n(float *restrict out, const float *X, int ld, int c0, int n, int R,
                            int k0, int kk) {
    for (int p = 0; p < kk; p++, out += R) {
        const float *x = X + (size_t)(k0 + p) * ld + c0;
        for (int j = 0; j < R; j += 16) {
            const int w = R - j < 16 ? R - j : 16; /* R = 8 (A panels) or 48 */
            const __mmask16 mk = mask16(n - j < w ? n - j : w);
            _mm512_mask_storeu_ps(out + j, mask16(w), _mm512_maskz_loadu_ps(mk, x + j));
        }
    }
}

/* 8x8 transpose of rows r[0..7] (8 floats each) */
F_TARGET static inline void tr8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* out[p*R + i] = X[(r0+i)*ld + k0 + p] for p < kk, i < R (R a multiple of 8); rows
 * i >= n are zero. (A not transposed, or B transposed: K runs along a stored row.) */
F_TARGET static void pack_t(float *restrict out, const float *X, int ld, int r0, int n, int R,
                            int k0, int kk) {
    for (int ib = 0; ib < R; ib += 8) {
        const int rows = n - ib < 8 ? (n - ib > 0 ? n - ib : 0) : 8;
        int p = 0;
        if (rows == 8) {
            for (; p + 8 <= kk; p += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++)
                    r[i] = _mm256_loadu_ps(X + (size_t)(r0 + ib + i) * ld + k0 + p);
                tr8(r);
                for (int q = 0; q < 8; q++) _mm256_storeu_ps(out + (size_t)(p + q) * R + ib, r[q]);
            }
        }
        for (; p < kk; p++)
            for (int i = 0; i < 8; i++)
                out[(size_t)p * R + ib + i] = i < rows ? X[(size_t)(r0 + ib + i) * ld + k0 + p] : 0.0f;
    }
}

/* One 8 x (16*NV) tile, NV = 1..3 vectors of the 48-column panel (a narrower last panel
 * skips the columns it does not have): acc = pa (kc x 8) . pb (kc x 48), stored to C
 * (m x n valid): first ? alpha*acc + beta*C (beta == 0: C not read) : C + alpha*acc. */
#define F_KERNEL(NV)                                                                          \
    F_TARGET static void kernel_f32_##NV(float *C, int ldc, const float *restrict pa,         \
                                         const float *restrict pb, int kc, int m, int n,       \
                                         float alpha, float beta, int first) {                 \
        __m512 c[F_MR][NV];                                                                   \
        _Pragma("GCC unroll 8") for (int i = 0; i < F_MR; i++)                                \
            _Pragma("GCC unroll 3") for (int h = 0; h < NV; h++) c[i][h] = _mm512_setzero_ps(); \
        for (int p = 0; p < kc; p++, pa += F_MR, pb += F_NR) {                                \
            __m512 b[NV];                                                                     \
            _Pragma("GCC unroll 3") for (int h = 0; h < NV; h++) b[h] = _mm512_load_ps(pb + 16 * h); \
            _Pragma("GCC unroll 8") for (int i = 0; i < F_MR; i++) {                          \
                const __m512 a = _mm512_set1_ps(pa[i]);                                       \
                _Pragma("GCC unroll 3") for (int h = 0; h < NV; h++)                          \
                    c[i][h] = _mm512_fmadd_ps(a, b[h], c[i][h]);                              \
            }                                                                                 \
        }                                                                                     \
        const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                   \
        for (int i = 0; i < m; i++) {                                                         \
            float *cr = C + (size_t)i * ldc;                                                  \
            _Pragma("GCC unroll 3") for (int h = 0; h < NV; h++) {                            \
                const __mmask16 mk = mask16(n - 16 * h);                                      \
                __m512 v = _mm512_mul_ps(va, c[i][h]);                                        \
                if (!first) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, cr + 16 * h), v);     \
                else if (beta != 0.0f)                                                        \
                    v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, cr + 16 * h), v);       \
                _mm512_mask_storeu_ps(cr + 16 * h, mk, v);                                    \
            }                                                                                 \
        }                                                                                     \
    }
F_KERNEL(1)
F_KERNEL(2)
F_KERNEL(3)
#undef F_KERNEL

F_TARGET static void kernel_f32(float *C, int ldc, const float *restrict pa,
                                const float *restrict pb, int kc, int m, int n, float alpha,
                                float beta, int first) {
    if (n > 32) kernel_f32_3(C, ldc, pa, pb, kc, m, n, alpha, beta, first);
    else if (n > 16) kernel_f32_2(C, ldc, pa, pb, kc, m, n, alpha, beta, first);
    else kernel_f32_1(C, ldc, pa, pb, kc, m, n, alpha, beta, first);
}

/* Offset of the A panel of rows [i, i+8) in K block k0 (kc rows) of a pre-packed A:
 * K blocks one after the other, each round_up(M, 8) x kc floats, panels in row order. */
static size_t pa_offset(int M, int k0, int kc, int i) {
    return (size_t)k0 * round_up((size_t)M, F_MR) + (size_t)i * (size_t)kc;
}

F_TARGET static void pack_a_part(int tA, int M, int K, const float *A, int lda, float *pa,
                                 int part, int nparts) {
    const int kcb = kc_block(K);
    for (int k0 = 0; k0 < K; k0 += kcb) {
        const int kc = K - k0 < kcb ? K - k0 : kcb;
        for (int i = part * F_MR; i < M; i += nparts * F_MR) {
            const int m = M - i < F_MR ? M - i : F_MR;
            float *o = pa + pa_offset(M, k0, kc, i);
            if (tA) pack_n(o, A, lda, i, m, F_MR, k0, kc);
            else pack_t(o, A, lda, i, m, F_MR, k0, kc);
        }
    }
}

/* apk: A packed by pack_a_part (then A, lda, tA are not used), or NULL: packed here. */
static void gemm_f32p(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc, void *scratch,
                      const float *apk) {
    const size_t kcap = (size_t)(K < F_KC ? K : F_KC);
    const size_t mcap = round_up((size_t)(M < F_MC ? M : F_MC), F_MR);
    float *pa = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *pb = (float *)(((uintptr_t)(pa + mcap * kcap) + 63) & ~(uintptr_t)63);
    const int kcb = kc_block(K);
    for (int j0 = 0; j0 < N; j0 += F_NC) {
        const int nc = N - j0 < F_NC ? N - j0 : F_NC;
        for (int k0 = 0; k0 < K; k0 += kcb) {
            const int kc = K - k0 < kcb ? K - k0 : kcb, first = k0 == 0;
            for (int jr = 0; jr < nc; jr += F_NR) {
                float *o = pb + (size_t)(jr / F_NR) * kc * F_NR;
                const int n = nc - jr < F_NR ? nc - jr : F_NR;
                if (!tB) pack_n(o, B, ldb, j0 + jr, n, F_NR, k0, kc);
                else pack_t(o, B, ldb, j0 + jr, n, F_NR, k0, kc);
            }
            for (int i0 = 0; i0 < M; i0 += F_MC) {
                const int mc = M - i0 < F_MC ? M - i0 : F_MC;
                /* panel ir of this block: here, or in the pre-packed A (same layout) */
                const float *pai = apk ? apk + pa_offset(M, k0, kc, i0) : pa;
                if (!apk)
                    for (int ir = 0; ir < mc; ir += F_MR) {
                        float *o = pa + (size_t)(ir / F_MR) * kc * F_MR;
                        const int m = mc - ir < F_MR ? mc - ir : F_MR;
                        if (tA) pack_n(o, A, lda, i0 + ir, m, F_MR, k0, kc);
                        else pack_t(o, A, lda, i0 + ir, m, F_MR, k0, kc);
                    }
                for (int jr = 0; jr < nc; jr += F_NR) {
                    const int n = nc - jr < F_NR ? nc - jr : F_NR;
                    const float *pbp = pb + (size_t)(jr / F_NR) * kc * F_NR;
                    for (int ir = 0; ir < mc; ir += F_MR) {
                        const int m = mc - ir < F_MR ? mc - ir : F_MR;
                        kernel_f32(C + (size_t)(i0 + ir) * ldc + j0 + jr, ldc,
                                   pai + (size_t)(ir / F_MR) * kc * F_MR, pbp, kc, m, n, alpha,
                                   beta, first);
                    }
                }
            }
        }
    }
}
#endif

int sn_gemm_f32p_available(void) {
#ifdef SN_HAVE_F32P_PATH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

void sn_gemm_f32p(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc, void *scratch) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0) return;
#ifdef SN_HAVE_F32P_PATH
    if (K > 0 && alpha != 0.0f && sn_gemm_f32p_available()) {
        gemm_f32p(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch, NULL);
        return;
    }
#endif
    (void)scratch;
    sn_gemm_f32(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

size_t sn_gemm_f32p_pa_size(int M, int K) {
    SN_ASSERT(M >= 0 && K >= 0);
    return round_up((size_t)M, F_MR) * (size_t)K;
}

void sn_gemm_f32p_pack_a(int transA, int M, int K, const float *A, int lda, float *pa, int part,
                         int nparts) {
    SN_ASSERT(M >= 0 && K >= 0 && nparts >= 1 && part >= 0 && part < nparts);
#ifdef SN_HAVE_F32P_PATH
    if (sn_gemm_f32p_available()) {
        pack_a_part(transA, M, K, A, lda, pa, part, nparts);
        return;
    }
#endif
    /* op(A) row-major (M, K), rows split as above */
    for (int i = part; i < M; i += nparts)
        for (int k = 0; k < K; k++)
            pa[(size_t)i * K + k] = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}

void sn_gemm_f32p_pa(int transB, int M, int N, int K, float alpha, const float *pa,
                     const float *B, int ldb, float beta, float *C, int ldc, void *scratch) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0) return;
#ifdef SN_HAVE_F32P_PATH
    if (K > 0 && alpha != 0.0f && sn_gemm_f32p_available()) {
        gemm_f32p(0, transB, M, N, K, alpha, NULL, 0, B, ldb, beta, C, ldc, scratch, pa);
        return;
    }
#endif
    /* without AVX-512F pa is op(A) row-major; with it, only K == 0 or alpha == 0 get here,
     * where A is not read (beta * C) */
    (void)scratch;
    sn_gemm_f32(0, transB, M, N, K, alpha, pa, K > 0 ? K : 1, B, ldb, beta, C, ldc);
}
