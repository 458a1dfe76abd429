/* bench_gallery.c -- gallery at scale: N synthetic D-d entries (default 1,000,000 x 128):
 * enroll throughput into SQLite, load time, exact top-10 latency p50/p99 for single queries
 * and batches, the memory-bandwidth bound of one pass over the matrix, and the IVF index
 * (build time, latency, recall@10 against exact) for several nprobe. Prints; never fails
 * on a slow result (it is a benchmark, not a test).
 *
 *   bench_gallery [N [DIR [THREADS]]]   DIR: where the database goes (default $TMPDIR or /tmp);
 *                                       THREADS: default all cores */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "gallery/gallery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(p * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* Clustered data: 4096 centres (uniform in [-1.5, 1.5]^d) plus uniform [-1, 1] noise per
 * coordinate, so clusters overlap (a centre-to-centre distance is ~1.5x a point's distance
 * to its centre): IVF has to probe several lists. */
static void synth(sn_rng *r, const float *C, int nc, int d, float *x, size_t n, float noise) {
    for (size_t i = 0; i < n; i++) {
        const float *c = C + (size_t)sn_rng_below(r, (uint32_t)nc) * (size_t)d;
        for (int j = 0; j < d; j++) x[i * (size_t)d + (size_t)j] = c[j] + noise * sn_rng_uniform_range(r, -1.0f, 1.0f);
    }
}

int main(int argc, char **argv) {
    const size_t N = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    const char *dir = argc > 2 ? argv[2] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const int D = 128, NQ = 200, K = 10, NC = 4096;
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress visible when piped */
    sn_ctx *ctx = sn_ctx_create(argc > 3 ? atoi(argv[3]) : 0);
    const int nt = sn_ctx_threads(ctx);
    sn_model_config cfg = {.arch = "seed", .in_c = 1, .in_h = 28, .in_w = 28, .mean = {0.13f, 0, 0},
                           .std = {0.31f, 1, 1}, .seed = 1, .embed_dim = D};
    sn_model *m = NULL;
    if (sn_model_create(ctx, &cfg, &m) || sn_model_embed_dim(m) != D) {
        fprintf(stderr, "bench_gallery: cannot make a %d-d model: %s\n", D, sn_ctx_error(ctx));
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/bench_gallery_%ld.db", dir, (long)getpid());
    printf("bench_gallery: %zu x %d-d entries, %d threads, database %s\n", N, D, nt, path);
    float *C = malloc(sizeof(float) * NC * D), *X = malloc(sizeof(float) * 10000 * D);
    float *Q = malloc(sizeof(float) * 256 * D);
    char (*lab)[16] = malloc(10000 * 16);
    const char **labs = malloc(sizeof(char *) * 10000);
    sn_gallery_hit *hits = malloc(sizeof(sn_gallery_hit) * 256 * K), *ex = malloc(sizeof(sn_gallery_hit) * NQ * K);
    if (!C || !X || !Q || !lab || !labs || !hits || !ex) return 1;
    sn_rng r;
    sn_rng_seed(&r, 2024, 1);
    for (int i = 0; i < NC * D; i++) C[i] = sn_rng_uniform_range(&r, -1.5f, 1.5f);

    sn_gallery *g = NULL;
    if (sn_gallery_create(ctx, path, m, NULL, &g)) {
        fprintf(stderr, "bench_gallery: %s\n", sn_ctx_error(ctx));
        return 1;
    }
    /* enroll: 10,000 entries per transaction (one fsync each) */
    double t0 = sn_now();
    for (size_t b = 0; b < N; b += 10000) {
        size_t n = N - b < 10000 ? N - b : 10000;
        synth(&r, C, NC, D, X, n, 1.0f);
        for (size_t i = 0; i < n; i++) {
            snprintf(lab[i], 16, "p%07zu", (b + i) / 10);
            labs[i] = lab[i];
        }
        if (sn_gallery_enroll(ctx, g, (int)n, labs, X, NULL)) {
            fprintf(stderr, "bench_gallery: %s\n", sn_ctx_error(ctx));
            return 1;
        }
    }
    double te = sn_now() - t0;
    printf("enroll       %10.0f entries/s   (%zu entries in %.1f s, 10,000 per transaction)\n",
           (double)N / te, N, te);
    synth(&r, C, NC, D, Q, 256, 1.0f);
    sn_gallery_search_opts so = {K, 0, SN_GALLERY_EXACT, 0, 0};
    t0 = sn_now();
    sn_gallery_search(ctx, g, Q, 1, &so, hits, NULL); /* loads the matrix */
    printf("load         %10.2f s         (SQLite -> %.0f MB float32 matrix, first search)\n",
           sn_now() - t0, (double)N * D * 4 / 1e6);

    /* the bound: one streaming pass over the matrix (sum of all values, nt threads, four
     * independent AVX-512 accumulators per thread so the loads, not the adds, limit it) */
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        t0 = sn_now();
        double s = 0;
        const float *G = g->G;
        const size_t tot = g->n * (size_t)D, chunk = 1 << 16; /* floats, D = 128 divides */
#pragma omp parallel for num_threads(nt) reduction(+ : s) schedule(static)
        for (size_t c0 = 0; c0 < tot; c0 += chunk) {
            size_t end = c0 + chunk < tot ? c0 + chunk : tot;
#if defined(__AVX512F__)
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t i = c0; i < end; i += 64) {
                a0 = _mm512_add_ps(a0, _mm512_load_ps(G + i));
                a1 = _mm512_add_ps(a1, _mm512_load_ps(G + i + 16));
                a2 = _mm512_add_ps(a2, _mm512_load_ps(G + i + 32));
                a3 = _mm512_add_ps(a3, _mm512_load_ps(G + i + 48));
            }
            s += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#else
            float a[16] = {0};
            for (size_t i = c0; i < end; i += 16)
                for (int j = 0; j < 16; j++) a[j] += G[i + (size_t)j];
            for (int j = 0; j < 16; j++) s += a[j];
#endif
        }
        double t = sn_now() - t0;
        if (t < best) best = t;
        if (s != s) printf("?");
    }
    printf("stream pass  %10.2f ms        (%.1f GB/s: reading the matrix once, the lower bound of "
           "an exact query)\n", best * 1e3, (double)N * D * 4 / best / 1e9);

    double lat[NQ];
    for (int q = 0; q < NQ; q++) {
        t0 = sn_now();
        sn_gallery_search(ctx, g, Q + (size_t)(q % 256) * D, 1, &so, ex + (size_t)q * K, NULL);
        lat[q] = (sn_now() - t0) * 1e3;
    }
    printf("exact  q=1   p50 %8.2f ms  p99 %8.2f ms per query\n", pct(lat, NQ, 0.5), pct(lat, NQ, 0.99));
    for (int bq = 16; bq <= 256; bq *= 4) {
        const int reps = 5;
        for (int i = 0; i < reps; i++) {
            t0 = sn_now();
            sn_gallery_search(ctx, g, Q, bq, &so, hits, NULL);
            lat[i] = (sn_now() - t0) * 1e3;
        }
        double p50 = pct(lat, reps, 0.5);
        printf("exact  q=%-3d p50 %8.2f ms per batch = %6.3f ms per query (p99 batch %.2f ms)\n", bq,
               p50, p50 / bq, pct(lat, reps, 0.99));
    }
    /* IVF */
    so.index = SN_GALLERY_IVF;
    t0 = sn_now();
    sn_gallery_search(ctx, g, Q, 1, &so, hits, NULL); /* builds the index */
    printf("ivf build    %10.2f s         (%d lists, k-means on a sample, every entry assigned)\n",
           sn_now() - t0, g->ivf.nlist);
    for (int np = 4; np <= 128; np *= 2) {
        so.nprobe = np;
        long hit = 0;
        for (int q = 0; q < NQ; q++) {
            t0 = sn_now();
            sn_gallery_search(ctx, g, Q + (size_t)(q % 256) * D, 1, &so, hits, NULL);
            lat[q] = (sn_now() - t0) * 1e3;
            for (int a = 0; a < K; a++)
                for (int b = 0; b < K; b++) hit += hits[a].entry == ex[(size_t)q * K + (size_t)b].entry;
        }
        printf("ivf nprobe %-3d p50 %7.3f ms  p99 %7.3f ms per query   recall@10 %.3f\n", np,
               pct(lat, NQ, 0.5), pct(lat, NQ, 0.99), (double)hit / (NQ * K));
    }
    sn_gallery_close(g);
    char side[1100];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    free(C);
    free(X);
    free(Q);
    free(lab);
    free(labs);
    free(hits);
    free(ex);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return 0;
}
