/*
 * bench_gemm.c -- single-thread GFLOP/s of OpenBLAS sgemm (sn_gemm_f32) against the bf16
 * GEMM (sn_gemm_bf16: AVX512-BF16 when present) on the GEMM shapes of convolution layers.
 *
 *   bench_gemm [--min-seconds S]
 *
 * Per conv layer (C -> M channels, KxK, output plane OHW, G samples per GEMM group as
 * src/kernels/conv2d.c forms them: G*OHW ~ 512 columns) the three GEMMs of a training step:
 *   fwd  y (M, cols)   = w (M, CKK) . col (CKK, cols)
 *   dw   dw (M, CKK)  += dy (M, cols) . col^T
 *   dx   col (CKK, cols) = w^T (CKK, M) . dy (M, cols)
 * Prints one RESULT line per shape and kernel; the last column is the share of the
 * fp32 FMA peak given by --peak (GFLOP/s of one thread, from fma_peak; 0 = not shown).
 */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "kernels/kernels.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    const char *name;
    int C, M, K, OHW;
} conv_shape;

static float *rnd(size_t n, unsigned seed) {
    float *p = sn_aligned_alloc(n, sizeof(float));
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

/* seconds per call of one GEMM, best of repeated batches lasting >= min_s in total */
static double time_gemm(int bf16, int tA, int tB, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc, void *scr,
                        double min_s) {
    double best = 1e30, total = 0;
    int reps = 1;
    while (total < min_s) {
        double t0 = now();
        for (int r = 0; r < reps; r++) {
            if (bf16 == 1) sn_gemm_bf16(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, scr);
            else if (bf16 == 2) sn_gemm_f32p(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, scr);
            else sn_gemm_f32(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
        }
        double dt = now() - t0;
        total += dt;
        if (dt / reps < best) best = dt / reps;
        if (dt < 0.02) reps *= 2;
    }
    return best;
}

int main(int argc, char **argv) {
    printf("# OpenBLAS kernels: %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_corename(),
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "unset");
    double min_s = 0.3, peak = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--min-seconds")) min_s = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--peak")) peak = atof(argv[i + 1]);
        else {
            fprintf(stderr, "bench_gemm: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    sn_gemm_init();
    printf("# AVX512-BF16 path: %s; own AVX-512F fp32 GEMM (f32p): %s; one thread\n",
           sn_bf16_available() ? "yes" : "no (portable C)",
           sn_gemm_f32p_available() ? "yes" : "no (= OpenBLAS)");
    const conv_shape shapes[] = {
        {"seed.conv2 32->64 3x3 14x14", 32, 64, 3, 196},
        {"seed.conv3 64->128 3x3 5x5", 64, 128, 3, 25},
        {"resnet.l1 64->128 3x3 32x32", 64, 128, 3, 1024},
        {"resnet.res1 128->128 3x3 16x16", 128, 128, 3, 256},
        {"resnet.l2 128->256 3x3 16x16", 128, 256, 3, 256},
        {"resnet.l3 256->512 3x3 8x8", 256, 512, 3, 64},
        {"resnet.res3 512->512 3x3 4x4", 512, 512, 3, 16},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const conv_shape *c = &shapes[s];
        const int ckk = c->C * c->K * c->K;
        const int G = c->OHW >= 512 ? 1 : 512 / c->OHW, cols = G * c->OHW;
        float *w = rnd((size_t)c->M * ckk, 1), *col = rnd((size_t)ckk * cols, 2);
        float *y = rnd((size_t)c->M * cols, 3), *dw = rnd((size_t)c->M * ckk, 4);
        float *dcol = rnd((size_t)ckk * cols, 5);
        size_t sb = sn_gemm_bf16_scratch_size(c->M, cols, ckk);
        size_t s2 = sn_gemm_bf16_scratch_size(c->M, ckk, cols);
        size_t s3 = sn_gemm_bf16_scratch_size(ckk, cols, c->M);
        if (s2 > sb) sb = s2;
        if (s3 > sb) sb = s3;
        s2 = sn_gemm_f32p_scratch_size(c->M, cols, ckk);
        if (s2 > sb) sb = s2;
        s2 = sn_gemm_f32p_scratch_size(c->M, ckk, cols);
        if (s2 > sb) sb = s2;
        s2 = sn_gemm_f32p_scratch_size(ckk, cols, c->M);
        if (s2 > sb) sb = s2;
        void *scr = malloc(sb);
        if (!scr) return 1;
        const double flop = 2.0 * c->M * (double)ckk * cols;
        const char *kinds[3] = {"fwd", "dw", "dx"};
        for (int k = 0; k < 3; k++) {
            double t[3];
            for (int bf = 0; bf < 3; bf++) {
                if (k == 0)
                    t[bf] = time_gemm(bf, 0, 0, c->M, cols, ckk, w, ckk, col, cols, 0.0f, y, cols, scr, min_s);
                else if (k == 1)
                    t[bf] = time_gemm(bf, 0, 1, c->M, ckk, cols, y, cols, col, cols, 1.0f, dw, ckk, scr, min_s);
                else
                    t[bf] = time_gemm(bf, 1, 0, ckk, cols, c->M, w, ckk, y, cols, 0.0f, dcol, cols, scr, min_s);
            }
            const double g32 = flop / t[0] * 1e-9, g16 = flop / t[1] * 1e-9;
            const double gp = flop / t[2] * 1e-9;
            printf("RESULT case=gemm shape=\"%s\" op=%s M=%d N=%d K=%d sgemm_gflops=%.1f "
                   "f32p_gflops=%.1f bf16_gflops=%.1f f32p_speedup=%.2f bf16_speedup=%.2f",
                   c->name, kinds[k], k == 2 ? ckk : c->M, k == 1 ? ckk : cols,
                   k == 0 ? ckk : k == 1 ? cols : c->M, g32, gp, g16, gp / g32, g16 / g32);
            if (peak > 0)
                printf(" sgemm_peak=%.0f%% f32p_peak=%.0f%% bf16_vs_fp32_peak=%.0f%%",
                       100 * g32 / peak, 100 * gp / peak, 100 * g16 / peak);
            printf("\n");
            fflush(stdout);
        }
        sn_aligned_free(w); sn_aligned_free(col); sn_aligned_free(y); sn_aligned_free(dw);
        sn_aligned_free(dcol);
        free(scr);
    }
    return 0;
}
