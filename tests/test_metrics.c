/* test_metrics.c -- verification, retrieval and k-NN metrics: hand-derived cases, golden
 * values from tools/metrics_golden.py (sklearn / numpy brute force), tiled vs brute force,
 * thread-count invariance, argument errors.
 * Tolerance: 1e-9 absolute for every metric (all are exact ratios or interpolations of
 * them); nt = 1 vs nt = 2 must be bit-identical. */
#include "testutil.h"

#include "core/core.h"
#include "eval/metrics.h"

#include <math.h>
#include <string.h>

#define TOL 1e-9

/* ------------------------------------------------ data shared with the script */
/* 64-bit LCG, identical to tools/metrics_golden.py: out = state >> 33 (31 bits). */
static uint64_t lcg_next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void gen_pairs(uint64_t seed, int n, int kind, float *dist, uint8_t *same) {
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        uint64_t a = lcg_next(&s), b = lcg_next(&s);
        int y = kind == 3 ? (a % 10 == 0) : (a % 2 == 1);
        double d;
        if (kind == 0) d = (double)((b % 512) + (y ? 0 : 160)) / 64.0;
        else if (kind == 1) d = (double)((b % 8) + (y ? 0 : 3)) / 4.0;
        else if (kind == 2) d = (double)(b % (y ? 600000u : 1048576u)) / 1024.0;
        else d = (double)((b % 4096) + (y ? 0 : 1024)) / 256.0;
        dist[i] = (float)d;
        same[i] = (uint8_t)y;
    }
}

/* Coordinates are integers / 4 in [-2, 3.5]: every squared distance is exact in float. */
static void gen_points(uint64_t seed, int n, int dim, int ncls, int singletons, float *x,
                       int32_t *lab) {
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        uint64_t u = lcg_next(&s);
        lab[i] = (int32_t)(u % (uint64_t)ncls);
        if (singletons && (u >> 16) % 25 == 0) lab[i] = 1000 + i;
        for (int c = 0; c < dim; c++) {
            int v = (int)(lcg_next(&s) % 17);
            x[(size_t)i * dim + c] = (float)(v - 8 + (c == lab[i] % dim ? 6 : 0)) / 4.0f;
        }
    }
}

/* ----------------------------------------------------- hand-derived verification */
static void test_verify_hand(void) {
    /* A: sorted by distance: 1s 2s 3d 4s 5d 6d (s = same, d = different), P = N = 3.
     * AUC: same@1 beats 3 diffs, same@2 3, same@4 2 -> 8/9.
     * ROC (FAR, TAR): (0,0) (0,1/3) (0,2/3) (1/3,2/3) (1/3,1) (2/3,1) (1,1); at d=3
     * FAR = 1/3 = FRR exactly -> EER 1/3, threshold 3.
     * accuracy accepting <= d_k: 3,4,5,4,5,4,3 (/6) -> best 5/6 first at d=2 -> thr 2.5.
     * accuracy_at(3.5): 1,2 right, 3 wrong, 4 wrong, 5,6 right -> 4/6.
     * TAR@FAR=0: largest k with FAR 0 is d=2 -> 2/3; TAR@FAR=0.34 -> d=4 -> 1. */
    const float da[6] = {4, 1, 6, 3, 2, 5};
    const uint8_t sa[6] = {1, 1, 0, 0, 1, 0};
    double t = 0;
    CHECK_CLOSE(sn_metric_roc_auc(da, sa, 6), 8.0 / 9.0, 0, TOL);
    CHECK_CLOSE(sn_metric_eer(da, sa, 6, &t), 1.0 / 3.0, 0, TOL);
    CHECK_CLOSE(t, 3.0, 0, TOL);
    CHECK_CLOSE(sn_metric_best_accuracy(da, sa, 6, &t), 5.0 / 6.0, 0, TOL);
    CHECK_CLOSE(t, 2.5, 0, TOL);
    CHECK_CLOSE(sn_metric_accuracy_at(da, sa, 6, 3.5), 4.0 / 6.0, 0, TOL);
    CHECK_CLOSE(sn_metric_accuracy_at(da, sa, 6, 2.5), 5.0 / 6.0, 0, TOL);
    CHECK_CLOSE(sn_metric_tar_at_far(da, sa, 6, 0.0), 2.0 / 3.0, 0, TOL);
    CHECK_CLOSE(sn_metric_tar_at_far(da, sa, 6, 0.34), 1.0, 0, TOL);
    CHECK_CLOSE(sn_metric_tar_at_far(da, sa, 6, 1.0), 1.0, 0, TOL);

    /* B: 1s 2d 3d 4s 5s, P = 3, N = 2. AUC: only same@1 beats the 2 diffs -> 2/6.
     * f = FAR - FRR: -1, -2/3 (d1), -1/6 (d2: FAR 1/2, TAR 1/3), +1/3 (d3: FAR 1).
     * Crossing between d2 and d3: s = (1/6)/(1/2) = 1/3 -> EER = 1/2 + 1/3 * 1/2 = 2/3
     * (TAR stays 1/3 there, so FRR = 2/3 too); threshold 2 + 1/3.
     * accuracy: 2,3,2,1,2,3 (/5) -> best 3/5 first at d=1 -> thr 1.5. */
    const float db[5] = {1, 2, 3, 4, 5};
    const uint8_t sb[5] = {1, 0, 0, 1, 1};
    CHECK_CLOSE(sn_metric_roc_auc(db, sb, 5), 1.0 / 3.0, 0, TOL);
    CHECK_CLOSE(sn_metric_eer(db, sb, 5, &t), 2.0 / 3.0, 0, TOL);
    CHECK_CLOSE(t, 7.0 / 3.0, 0, TOL);
    CHECK_CLOSE(sn_metric_best_accuracy(db, sb, 5, &t), 3.0 / 5.0, 0, TOL);
    CHECK_CLOSE(t, 1.5, 0, TOL);

    /* C (ties): 1s 1d 2s 2s 3d, P = 3, N = 2. AUC: same@1 vs diff@1 tie 1/2, vs diff@3 1;
     * each same@2 beats diff@3 only -> (1.5 + 1 + 1)/6 = 7/12.
     * f: -1, (d1: FAR 1/2 TAR 1/3) -1/6, (d2: FAR 1/2 TAR 1) +1/2 -> s = 1/4,
     * EER = 1/2 (vertical segment), threshold 1 + 1/4 = 1.25.
     * accuracy: none 2/5, <=1 2/5, <=2 4/5, <=3 3/5 -> best 4/5, thr 2.5. */
    const float dc[5] = {1, 1, 2, 2, 3};
    const uint8_t sc[5] = {1, 0, 1, 1, 0};
    CHECK_CLOSE(sn_metric_roc_auc(dc, sc, 5), 7.0 / 12.0, 0, TOL);
    CHECK_CLOSE(sn_metric_eer(dc, sc, 5, &t), 0.5, 0, TOL);
    CHECK_CLOSE(t, 1.25, 0, TOL);
    CHECK_CLOSE(sn_metric_best_accuracy(dc, sc, 5, &t), 0.8, 0, TOL);
    CHECK_CLOSE(t, 2.5, 0, TOL);

    /* Degenerate inputs: one class absent -> NaN; NaN distance -> NaN. */
    const uint8_t all1[5] = {1, 1, 1, 1, 1};
    CHECK(isnan(sn_metric_roc_auc(db, all1, 5)));
    CHECK(isnan(sn_metric_eer(db, all1, 5, &t)) && isnan(t));
    CHECK(isnan(sn_metric_tar_at_far(db, all1, 5, 0.1)));
    CHECK_CLOSE(sn_metric_best_accuracy(db, all1, 5, &t), 1.0, 0, TOL); /* accept all */
    CHECK_CLOSE(t, 5.0, 0, TOL);
    const uint8_t all0[5] = {0};
    CHECK_CLOSE(sn_metric_best_accuracy(db, all0, 5, &t), 1.0, 0, TOL); /* accept none */
    CHECK(t < 1.0 && t > 0.999999);
    const float dn[3] = {1, NAN, 2};
    const uint8_t sn3[3] = {1, 0, 1};
    CHECK(isnan(sn_metric_roc_auc(dn, sn3, 3)));
    CHECK(isnan(sn_metric_accuracy_at(dn, sn3, 3, 1.0)));
    CHECK(isnan(sn_metric_roc_auc(db, sb, 0)));
    /* -0 and +0 are one distance (one ROC point) */
    const float dz[2] = {-0.0f, 0.0f};
    const uint8_t sz[2] = {1, 0};
    CHECK_CLOSE(sn_metric_roc_auc(dz, sz, 2), 0.5, 0, TOL);
}

/* ---------------------------------------------------------- hand-derived retrieval */
static void test_retrieval_hand(sn_ctx *ctx) {
    /* 6 points on a line, labels A=5, B=-3, C=100 (C alone -> query 5 skipped):
     *   idx  0  1  2  3  4  5
     *   x    0  1  2  4  7  20
     *   lab  A  A  B  A  B  C        R(A) = 2, R(B) = 1
     * q0 (A): 1A(1) 2B(2) 3A(4) ...        P@1 1, top2 {A,B} RP 1/2, AP (1/2)(1)     = 1/2
     * q1 (A): 0A(1) 2B(1, tie: idx 0 first) P@1 1, RP 1/2,          AP 1/2
     * q2 (B): 1A(1) 0A(2) 3A(2) 4B(5)      P@1 0, R=1: RP 0,        AP 0
     * q3 (A): 2B(2) 1A(3) 4B(3, tie: 1 first) 0A(4)
     *                                       P@1 0, top2 {B,A} RP 1/2, AP (1/2)(0 + 1/2) = 1/4
     * q4 (B): 3A(3) 2B(5) ...              P@1 0, RP 0,             AP 0
     * Means over 5 queries: P@1 2/5, RP 1.5/5 = 0.3, MAP@R 1.25/5 = 0.25.
     * (Breaking the q3 tie the other way would give RP 0.2 and MAP@R 0.2.) */
    const float x[6] = {0, 1, 2, 4, 7, 20};
    const int32_t lab[6] = {5, 5, -3, 5, -3, 100};
    for (int nt = 1; nt <= 2; nt++) {
        for (int tile = 1; tile <= 7; tile += 3) {
            double p1 = -1, rp = -1, map = -1;
            sn_status st = sn_metric_retrieval_tiled(ctx, x, lab, 6, 1, nt, tile, &p1, &rp, &map);
            CHECK(st == SN_OK);
            CHECK_CLOSE(p1, 0.4, 0, TOL);
            CHECK_CLOSE(rp, 0.3, 0, TOL);
            CHECK_CLOSE(map, 0.25, 0, TOL);
        }
    }
    /* every label unique: all queries skipped -> NaN, still SN_OK */
    const int32_t uniq[6] = {0, 1, 2, 3, 4, 5};
    double p1 = 0, rp = 0, map = 0;
    CHECK(sn_metric_retrieval(ctx, x, uniq, 6, 1, 1, &p1, &rp, &map) == SN_OK);
    CHECK(isnan(p1) && isnan(rp) && isnan(map));
}

static void test_knn_hand(sn_ctx *ctx) {
    /* refs on a line: r0 0 (A=0), r1 1 (B=1), r2 2 (B), r3 10 (A), r4 11 (C=2)
     * q0 0.5  (A): r0 .5, r1 .5            k1: r0 A ok      k2: 1-1 tie, totals .5=.5 -> A ok
     * q1 10.5 (C): r3 .5, r4 .5            k1: r3 A wrong   k2: tie, tie -> smaller label A wrong
     * q2 1.75 (B): r2 .25, r1 .75          k1: B ok         k2: B B ok
     * q3 6    (A): r2 4, r3 4, r1 5        k1: r2 B wrong   k2: tie, totals 4=4 -> A ok
     * q4 10.75(C): r4 .25, r3 .75          k1: C ok         k2: tie, total .25 < .75 -> C ok
     * k=1: 3/5; k=2: 4/5 (C beats A on total distance although A is the smaller label). */
    const float r[5] = {0, 1, 2, 10, 11};
    const int32_t rl[5] = {0, 1, 1, 0, 2};
    const float q[5] = {0.5f, 10.5f, 1.75f, 6, 10.75f};
    const int32_t ql[5] = {0, 2, 1, 0, 2};
    double acc = -1;
    for (int nt = 1; nt <= 2; nt++) {
        CHECK(sn_metric_knn_accuracy_tiled(ctx, q, ql, 5, r, rl, 5, 1, 1, nt, 2, &acc) == SN_OK);
        CHECK_CLOSE(acc, 0.6, 0, TOL);
        CHECK(sn_metric_knn_accuracy(ctx, q, ql, 5, r, rl, 5, 1, 2, nt, &acc) == SN_OK);
        CHECK_CLOSE(acc, 0.8, 0, TOL);
    }
}

/* ------------------------------------------------------------------ golden file */
static void test_golden(sn_ctx *ctx) {
    /* CTest runs in tests/; from elsewhere fall back to the directory of this file */
    FILE *f = fopen("golden/metrics_golden.txt", "r");
    if (!f) {
        char path[1024];
        const char *slash = strrchr(__FILE__, '/');
        int len = slash ? (int)(slash - __FILE__) + 1 : 0;
        snprintf(path, sizeof path, "%.*sgolden/metrics_golden.txt", len, __FILE__);
        f = fopen(path, "r");
    }
    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "cannot open golden/metrics_golden.txt (run from tests/)\n");
        return;
    }
    char line[1024];
    int nv = 0, nr = 0, nk = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long seed;
        int n, kind, dim, ncls, single, nq, nref, k;
        double v[9];
        if (sscanf(line, "verify %llu %d %d %lf %lf %lf %lf %lf %lf %lf %lf %lf", &seed, &n,
                   &kind, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 12) {
            float *d = malloc((size_t)n * sizeof *d);
            uint8_t *s = malloc((size_t)n);
            gen_pairs(seed, n, kind, d, s);
            double t1 = 0, t2 = 0;
            CHECK_CLOSE(sn_metric_roc_auc(d, s, n), v[1], 0, TOL);
            CHECK_CLOSE(sn_metric_eer(d, s, n, &t1), v[2], 0, TOL);
            CHECK_CLOSE(t1, v[3], 0, TOL * 1000); /* distances up to ~1000 */
            CHECK_CLOSE(sn_metric_best_accuracy(d, s, n, &t2), v[4], 0, TOL);
            CHECK_CLOSE(t2, v[5], 0, TOL);
            CHECK_CLOSE(sn_metric_accuracy_at(d, s, n, v[0]), v[6], 0, TOL);
            CHECK_CLOSE(sn_metric_tar_at_far(d, s, n, 0.01), v[7], 0, TOL);
            CHECK_CLOSE(sn_metric_tar_at_far(d, s, n, 0.1), v[8], 0, TOL);
            free(d);
            free(s);
            nv++;
        } else if (sscanf(line, "retrieval %llu %d %d %d %d %lf %lf %lf", &seed, &n, &dim,
                          &ncls, &single, &v[0], &v[1], &v[2]) == 8) {
            float *x = malloc((size_t)n * dim * sizeof *x);
            int32_t *lab = malloc((size_t)n * sizeof *lab);
            gen_points(seed, n, dim, ncls, single, x, lab);
            double p1 = 0, rp = 0, map = 0;
            CHECK(sn_metric_retrieval(ctx, x, lab, n, dim, 2, &p1, &rp, &map) == SN_OK);
            CHECK_CLOSE(p1, v[0], 0, TOL);
            CHECK_CLOSE(rp, v[1], 0, TOL);
            CHECK_CLOSE(map, v[2], 0, TOL);
            free(x);
            free(lab);
            nr++;
        } else if (sscanf(line, "knn %llu %d %d %d %d %d %lf", &seed, &nq, &nref, &dim, &ncls,
                          &k, &v[0]) == 7) {
            float *xq = malloc((size_t)nq * dim * sizeof *xq);
            float *xr = malloc((size_t)nref * dim * sizeof *xr);
            int32_t *lq = malloc((size_t)nq * sizeof *lq), *lr = malloc((size_t)nref * sizeof *lr);
            gen_points(seed, nq, dim, ncls, 0, xq, lq);
            gen_points(seed + 100, nref, dim, ncls, 0, xr, lr);
            double acc = 0;
            CHECK(sn_metric_knn_accuracy_tiled(ctx, xq, lq, nq, xr, lr, nref, dim, k, 2, 16,
                                               &acc) == SN_OK);
            CHECK_CLOSE(acc, v[0], 0, TOL);
            free(xq);
            free(xr);
            free(lq);
            free(lr);
            nk++;
        }
    }
    fclose(f);
    CHECK(nv == 6 && nr == 4 && nk == 4);
}

/* ------------------------------------------------ tiled vs brute force, threads */
typedef struct {
    double d;
    int j;
} nb;

static int nb_cmp(const void *a, const void *b) {
    const nb *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* Full sort per query in double, same definitions and summation order as the library. */
static void retrieval_brute(const float *x, const int32_t *lab, int n, int dim, double out[3]) {
    nb *row = malloc((size_t)n * sizeof *row);
    long used = 0, p1 = 0;
    double srp = 0, sap = 0;
    for (int q = 0; q < n; q++) {
        int R = -1, m = 0;
        for (int j = 0; j < n; j++) R += lab[j] == lab[q];
        if (R < 1) continue;
        for (int j = 0; j < n; j++) {
            if (j == q) continue;
            double s = 0;
            for (int c = 0; c < dim; c++) {
                double t = (double)x[(size_t)q * dim + c] - x[(size_t)j * dim + c];
                s += t * t;
            }
            row[m].d = s;
            row[m++].j = j;
        }
        qsort(row, (size_t)m, sizeof *row, nb_cmp);
        long rel = 0;
        double sp = 0;
        for (int r = 0; r < R; r++) {
            if (lab[row[r].j] != lab[q]) continue;
            rel++;
            sp += (double)rel / (double)(r + 1);
        }
        used++;
        p1 += lab[row[0].j] == lab[q];
        srp += (double)rel / R;
        sap += sp / R;
    }
    out[0] = (double)p1 / used;
    out[1] = srp / used;
    out[2] = sap / used;
    free(row);
}

static void test_tiled_vs_brute(sn_ctx *ctx) {
    /* N >= 2 * SN_METRIC_SAMPLE and R ~ 300 exercise the sampled pre-filter and the
     * radix sort of the top R as well as the plain paths (700 points below). */
    enum { N = 1500, D = 8 };
    float *x = malloc(sizeof(float) * N * D);
    int32_t *lab = malloc(sizeof(int32_t) * N);
    gen_points(77, N, D, 5, 1, x, lab); /* exact distances, many ties, some singletons */
    double ref[3], a[3], b[3];
    retrieval_brute(x, lab, N, D, ref);
    CHECK(sn_metric_retrieval_tiled(ctx, x, lab, N, D, 1, 50, &a[0], &a[1], &a[2]) == SN_OK);
    CHECK(sn_metric_retrieval_tiled(ctx, x, lab, N, D, 2, 64, &b[0], &b[1], &b[2]) == SN_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_CLOSE(a[i], ref[i], 0, TOL);
        CHECK_CLOSE(b[i], ref[i], 0, TOL);
    }
    printf("retrieval %dx%d brute: P@1 %.6f RP %.6f MAP@R %.6f\n", N, D, ref[0], ref[1],
           ref[2]);
    gen_points(78, 700, D, 12, 1, x, lab);
    retrieval_brute(x, lab, 700, D, ref);
    CHECK(sn_metric_retrieval_tiled(ctx, x, lab, 700, D, 2, 33, &a[0], &a[1], &a[2]) == SN_OK);
    for (int i = 0; i < 3; i++) CHECK_CLOSE(a[i], ref[i], 0, TOL);

    /* generic float data: nt = 1 and nt = 2 bit-identical */
    sn_rng rng;
    sn_rng_seed(&rng, 5, 1);
    for (int i = 0; i < N * D; i++) x[i] = sn_rng_uniform_range(&rng, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) lab[i] = (int32_t)sn_rng_below(&rng, 9);
    CHECK(sn_metric_retrieval_tiled(ctx, x, lab, N, D, 1, 50, &a[0], &a[1], &a[2]) == SN_OK);
    CHECK(sn_metric_retrieval_tiled(ctx, x, lab, N, D, 2, 50, &b[0], &b[1], &b[2]) == SN_OK);
    CHECK(a[0] == b[0] && a[1] == b[1] && a[2] == b[2]);
    double k1 = 0, k2 = 0;
    CHECK(sn_metric_knn_accuracy(ctx, x, lab, 300, x + 300 * D, lab + 300, N - 300, D, 3, 1,
                                 &k1) == SN_OK);
    CHECK(sn_metric_knn_accuracy(ctx, x, lab, 300, x + 300 * D, lab + 300, N - 300, D, 3, 2,
                                 &k2) == SN_OK);
    CHECK(k1 == k2);
    free(x);
    free(lab);
}

/* ----------------------------------------------------------- sort / select */
static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_sort_select(void) {
    enum { N = 5000 };
    uint64_t *a = malloc(sizeof(uint64_t) * N), *b = malloc(sizeof(uint64_t) * N);
    sn_rng rng;
    sn_rng_seed(&rng, 9, 2);
    for (int pattern = 0; pattern < 4; pattern++) {
        for (int i = 0; i < N; i++) {
            uint64_t v = pattern == 0 ? sn_rng_u32(&rng)
                       : pattern == 1 ? (uint64_t)i                /* sorted */
                       : pattern == 2 ? (uint64_t)(N - i)          /* reversed */
                                      : sn_rng_below(&rng, 5);     /* many equal */
            a[i] = b[i] = v;
        }
        qsort(b, N, sizeof *b, u64_cmp);
        size_t ks[4] = {1, 7, N / 2, N - 1};
        for (int t = 0; t < 4; t++) {
            uint64_t *c = malloc(sizeof(uint64_t) * N);
            memcpy(c, a, sizeof(uint64_t) * N);
            sn_metric_select_u64(c, N, ks[t]);
            uint64_t mx = 0, mn = UINT64_MAX;
            for (size_t i = 0; i < ks[t]; i++) mx = c[i] > mx ? c[i] : mx;
            for (size_t i = ks[t]; i < N; i++) mn = c[i] < mn ? c[i] : mn;
            CHECK(mx <= mn && mx == b[ks[t] - 1]);
            free(c);
        }
        sn_metric_sort_u64(a, N);
        CHECK(memcmp(a, b, sizeof(uint64_t) * N) == 0);
    }
    /* top-k: plain, pre-filtered + radix, k > n/2 (introsort), and the fallback after an
     * unlucky sample (the strided sample positions hold the smallest keys) */
    enum { M = 5000 };
    uint64_t *c = malloc(sizeof(uint64_t) * M), *sample = malloc(sizeof(uint64_t) * SN_METRIC_SAMPLE);
    for (int pattern = 0; pattern < 2; pattern++) {
        size_t stride = M / SN_METRIC_SAMPLE;
        for (int i = 0; i < M; i++) {
            uint64_t d = pattern == 0 ? sn_rng_below(&rng, 1u << 20) : (uint64_t)(1000000 + i);
            if (pattern == 1 && i % stride == 0 && i / stride < SN_METRIC_SAMPLE) d = (uint64_t)i;
            a[i] = b[i] = (d << 32) | (uint32_t)i;
        }
        qsort(b, M, sizeof *b, u64_cmp);
        size_t ks[7] = {1, 10, 300, 1000, 1240, 2600, M};
        for (int t = 0; t < 7; t++) {
            memcpy(c, a, sizeof(uint64_t) * M);
            sn_metric_topk_u64(c, M, ks[t], sample);
            CHECK(memcmp(c, b, sizeof(uint64_t) * ks[t]) == 0);
        }
    }
    free(c);
    free(sample);
    CHECK(sn_metric_float_key(-1.0f) < sn_metric_float_key(-0.5f));
    CHECK(sn_metric_float_key(-0.5f) < sn_metric_float_key(0.0f));
    CHECK(sn_metric_float_key(-0.0f) == sn_metric_float_key(0.0f));
    CHECK(sn_metric_float_key(0.0f) < sn_metric_float_key(1e-30f));
    CHECK(sn_metric_float_key(2.0f) < sn_metric_float_key(INFINITY));
    free(a);
    free(b);
}

static void test_errors(sn_ctx *ctx) {
    float x[4] = {0, 1, 2, 3};
    int32_t l[4] = {0, 0, 1, 1};
    double v = 0;
    CHECK(sn_metric_retrieval(ctx, x, l, 1, 1, 1, &v, NULL, NULL) == SN_ERR_ARG);
    CHECK(strlen(sn_ctx_error(ctx)) > 0);
    CHECK(sn_metric_retrieval(ctx, x, l, 4, 0, 1, &v, NULL, NULL) == SN_ERR_ARG);
    CHECK(sn_metric_retrieval(ctx, x, l, 4, 1, 0, &v, NULL, NULL) == SN_ERR_ARG);
    CHECK(sn_metric_retrieval(ctx, NULL, l, 4, 1, 1, &v, NULL, NULL) == SN_ERR_ARG);
    CHECK(sn_metric_knn_accuracy(ctx, x, l, 4, x, l, 4, 1, 5, 1, &v) == SN_ERR_ARG);
    CHECK(sn_metric_knn_accuracy(ctx, x, l, 4, x, l, 4, 1, 0, 1, &v) == SN_ERR_ARG);
    x[2] = NAN;
    CHECK(sn_metric_retrieval(ctx, x, l, 4, 1, 1, &v, NULL, NULL) == SN_ERR_NUMERIC);
    CHECK(sn_metric_knn_accuracy(ctx, x, l, 4, x, l, 4, 1, 1, 1, &v) == SN_ERR_NUMERIC);
    CHECK(isnan(v));
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    CHECK(ctx != NULL);
    if (!ctx) return tu_finish("test_metrics");
    test_verify_hand();
    test_retrieval_hand(ctx);
    test_knn_hand(ctx);
    test_golden(ctx);
    test_tiled_vs_brute(ctx);
    test_sort_select();
    test_errors(ctx);
    sn_ctx_free(ctx);
    return tu_finish("test_metrics");
}
