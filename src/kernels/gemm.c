/* gemm.c -- row-major single-precision GEMM: OpenBLAS (fast) and a naive reference.
 *
 * Both compute C (M,N) = alpha * op(A) op(B) + beta * C with op(A) (M,K), op(B) (K,N);
 * transA/transB nonzero means the stored matrix is transposed (A stored (K,M), B (N,K)).
 * beta == 0 overwrites C without reading it (BLAS semantics: NaN in C is ignored). */
#include "kernels/kernels.h"

#include "core/core.h"

#include <cblas.h>

void sn_gemm_init(void) { openblas_set_num_threads(1); }

/* A: (M,K) or (K,M) if transA, row stride lda;  B: (K,N) or (N,K) if transB, row stride ldb;
 * C: (M,N), row stride ldc. */
void sn_gemm_f32(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sn_gemm_ref_f32(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    SN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++) {
                double a = transA ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                double b = transB ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                acc += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            double r = (double)alpha * acc;
            if (beta != 0.0f) r += (double)beta * (double)*c;
            *c = (float)r;
        }
    }
}
