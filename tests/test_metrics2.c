/* test_metrics2.c -- retrieval against a reference set + Recall@k, NMI / AMI, k-means
 * clustering, few-shot episodes and DIR@FAR: hand-derived cases, golden values from
 * tools/metrics_golden.py (sklearn / numpy brute force), brute force in C, thread-count
 * invariance, argument errors.
 * Tolerances: 1e-9 absolute for ratios (retrieval, DIR, few-shot) and for NMI / AMI
 * against sklearn (EMI sums lgamma differences of magnitude up to lgamma(n + 1); glibc's
 * and scipy's lgamma differ in the last bits). nt = 1 vs nt = 2 must be bit-identical. */
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

/* Coordinates are integers / 4: every squared distance is exact in float. */
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

static void gen_label_pair(uint64_t seed, int n, int ka, int kb, int mode, int32_t *a,
                           int32_t *b) {
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        uint64_t u = lcg_next(&s), v = lcg_next(&s);
        int32_t ai = (int32_t)(u % (uint64_t)ka);
        b[i] = (mode == 1 && v % 4 != 0) ? (ai * 7 + 3) % kb : (int32_t)((v >> 8) % (uint64_t)kb);
        a[i] = ai * 37 - 100;
    }
}

static void check_res(const sn_retrieval_result *r, int nq, const double v[6]) {
    CHECK(r->n_queries == nq);
    CHECK_CLOSE(r->precision_at_1, v[0], 0, TOL);
    CHECK_CLOSE(r->r_precision, v[1], 0, TOL);
    CHECK_CLOSE(r->map_at_r, v[2], 0, TOL);
    CHECK_CLOSE(r->recall_at_1, v[3], 0, TOL);
    CHECK_CLOSE(r->recall_at_5, v[4], 0, TOL);
    CHECK_CLOSE(r->recall_at_10, v[5], 0, TOL);
}

static int same_res(const sn_retrieval_result *a, const sn_retrieval_result *b) {
    return a->n_queries == b->n_queries && a->precision_at_1 == b->precision_at_1 &&
           a->r_precision == b->r_precision && a->map_at_r == b->map_at_r &&
           a->recall_at_1 == b->recall_at_1 && a->recall_at_5 == b->recall_at_5 &&
           a->recall_at_10 == b->recall_at_10;
}

/* ------------------------------------------------- retrieval against references */
static void test_retrieval_ex_hand(sn_ctx *ctx) {
    /* refs on a line: r0 0 A, r1 1 B, r2 2 A, r3 3 A, r4 4 B, r5 10 C  (A=1 B=2 C=3)
     * R(A) = 3, R(B) = 2, R(C) = 1. Distances below are |q - r|.
     * q0 .375 A: r0 .375 r1 .625 r2 1.625 ... top3 A B A: RP 2/3, AP (1 + 2/3)/3 = 5/9, first 0
     * q1 1.125 B: r1 .125 r2 .875 r0 1.125 ... top2 B A: RP 1/2, AP 1/2, first 0
     * q2 0 C (coincides with r0, NOT removed): r0 0 r1 1 r2 r3 r4 r5 10: top1 A: RP 0, AP 0,
     *    first same-label at rank 5 (0-based) -> R@1 0, R@5 0, R@10 1
     * q3 2.375 B: r2 .375 r3 .625 r1 1.375 r4 1.625 ...: top2 A A: 0, 0, first 2 -> R@5 1
     * q4 5 D=7: no reference has D -> skipped
     * q5 .5 A: r0 .5 r1 .5 (tie: r0 first) r2 1.5: top3 A B A: P@1 1, RP 2/3, AP 5/9
     *    (the other tie order B A A would give P@1 0 and AP 7/18)
     * 5 queries: P@1 = R@1 = 3/5, RP (2/3 + 1/2 + 2/3)/5 = 11/30,
     * MAP@R (5/9 + 1/2 + 5/9)/5 = 29/90, R@5 4/5, R@10 1. */
    const float r[6] = {0, 1, 2, 3, 4, 10};
    const int32_t rl[6] = {1, 2, 1, 1, 2, 3};
    const float q[6] = {0.375f, 1.125f, 0, 2.375f, 5, 0.5f};
    const int32_t ql[6] = {1, 2, 3, 2, 7, 1};
    const double want[6] = {0.6, 11.0 / 30.0, 29.0 / 90.0, 0.6, 0.8, 1.0};
    for (int nt = 1; nt <= 2; nt++) {
        for (int tile = 1; tile <= 7; tile += 3) {
            sn_retrieval_result res;
            CHECK(sn_metric_retrieval_ex_tiled(ctx, q, ql, 6, r, rl, 6, 1, 0, nt, tile, &res) ==
                  SN_OK);
            check_res(&res, 5, want);
        }
    }
    /* no query label among the references: all skipped -> NaN, SN_OK */
    const int32_t none[6] = {9, 9, 9, 9, 9, 9};
    sn_retrieval_result res;
    CHECK(sn_metric_retrieval_ex(ctx, q, none, 6, r, rl, 6, 1, 0, 1, &res) == SN_OK);
    CHECK(res.n_queries == 0 && isnan(res.precision_at_1) && isnan(res.recall_at_10));

    /* exclude_self = 1 on the hand case of test_metrics.c (x 0 1 2 4 7 20, labels A A B A B
     * C): P@1 .4, RP .3, MAP@R .25 as there; first same-label rank per query:
     * q0 0, q1 0, q2 (1A 0A 3A 4B) 3, q3 (2B 1A) 1, q4 (3A 2B) 1 -> R@1 2/5, R@5 = R@10 = 1. */
    const float x[6] = {0, 1, 2, 4, 7, 20};
    const int32_t lab[6] = {5, 5, -3, 5, -3, 100};
    const double want_self[6] = {0.4, 0.3, 0.25, 0.4, 1.0, 1.0};
    CHECK(sn_metric_retrieval_ex(ctx, x, lab, 6, x, lab, 6, 1, 1, 2, &res) == SN_OK);
    check_res(&res, 5, want_self);
}

/* Brute force in double with a full sort per query; same definitions and summation
 * order as the library. v: P@1 RP MAP@R R@1 R@5 R@10. Returns the number of queries. */
typedef struct {
    double d;
    int j;
} nb;

static int nb_cmp(const void *a, const void *b) {
    const nb *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

static int retrieval_ex_brute(const float *q, const int32_t *ql, int nq, const float *r,
                              const int32_t *rl, int nr, int dim, double v[6]) {
    nb *row = malloc((size_t)nr * sizeof *row);
    long used = 0, h[3] = {0, 0, 0};
    double srp = 0, sap = 0;
    for (int i = 0; i < nq; i++) {
        int R = 0;
        for (int j = 0; j < nr; j++) R += rl[j] == ql[i];
        if (R < 1) continue;
        for (int j = 0; j < nr; j++) {
            double s = 0;
            for (int c = 0; c < dim; c++) {
                double t = (double)q[(size_t)i * dim + c] - r[(size_t)j * dim + c];
                s += t * t;
            }
            row[j].d = s;
            row[j].j = j;
        }
        qsort(row, (size_t)nr, sizeof *row, nb_cmp);
        long rel = 0;
        double sp = 0;
        for (int k = 0; k < R; k++) {
            if (rl[row[k].j] != ql[i]) continue;
            rel++;
            sp += (double)rel / (double)(k + 1);
        }
        int first = 0;
        while (rl[row[first].j] != ql[i]) first++;
        used++;
        h[0] += first < 1;
        h[1] += first < 5;
        h[2] += first < 10;
        srp += (double)rel / R;
        sap += sp / R;
    }
    v[0] = v[3] = (double)h[0] / used;
    v[1] = srp / used;
    v[2] = sap / used;
    v[4] = (double)h[1] / used;
    v[5] = (double)h[2] / used;
    free(row);
    return (int)used;
}

static void test_retrieval_ex_brute(sn_ctx *ctx) {
    /* nr = 1500 >= 2 * SN_METRIC_SAMPLE with R ~ 300 exercises the sampled pre-filter and
     * the radix sort; 5 classes of exact, heavily tied distances. */
    enum { NQ = 200, NR = 1500, D = 6 };
    float *xq = malloc(sizeof(float) * NQ * D), *xr = malloc(sizeof(float) * NR * D);
    int32_t *lq = malloc(sizeof(int32_t) * NQ), *lr = malloc(sizeof(int32_t) * NR);
    gen_points(61, NQ, D, 5, 1, xq, lq);
    gen_points(62, NR, D, 5, 0, xr, lr);
    double v[6];
    int used = retrieval_ex_brute(xq, lq, NQ, xr, lr, NR, D, v);
    sn_retrieval_result a, b;
    CHECK(sn_metric_retrieval_ex_tiled(ctx, xq, lq, NQ, xr, lr, NR, D, 0, 1, 37, &a) == SN_OK);
    check_res(&a, used, v);
    CHECK(sn_metric_retrieval_ex(ctx, xq, lq, NQ, xr, lr, NR, D, 0, 2, &b) == SN_OK);
    check_res(&b, used, v);

    /* generic float data: nt = 1 vs nt = 2 bit-identical; exclude_self = 1 equals the
     * old sn_metric_retrieval bit for bit */
    sn_rng rng;
    sn_rng_seed(&rng, 3, 1);
    for (int i = 0; i < NR * D; i++) xr[i] = sn_rng_uniform_range(&rng, -1.0f, 1.0f);
    for (int i = 0; i < NR; i++) lr[i] = (int32_t)sn_rng_below(&rng, 7);
    CHECK(sn_metric_retrieval_ex(ctx, xr, lr, 300, xr + 300 * D, lr + 300, NR - 300, D, 0, 1,
                                 &a) == SN_OK);
    CHECK(sn_metric_retrieval_ex(ctx, xr, lr, 300, xr + 300 * D, lr + 300, NR - 300, D, 0, 2,
                                 &b) == SN_OK);
    CHECK(same_res(&a, &b) && a.n_queries == 300);
    double p1, rp, map;
    CHECK(sn_metric_retrieval(ctx, xr, lr, NR, D, 2, &p1, &rp, &map) == SN_OK);
    CHECK(sn_metric_retrieval_ex(ctx, xr, lr, NR, xr, lr, NR, D, 1, 1, &a) == SN_OK);
    CHECK(a.precision_at_1 == p1 && a.r_precision == rp && a.map_at_r == map);
    CHECK(a.recall_at_1 <= a.recall_at_5 && a.recall_at_5 <= a.recall_at_10);
    free(xq); free(xr); free(lq); free(lr);
}

/* ------------------------------------------------------------------ golden file */
static void test_golden(sn_ctx *ctx) {
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
    int nex = 0, nself = 0, nmi_n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long seed;
        int n, nq, nr, dim, ncls, single, used, ka, kb, mode;
        double v[6];
        sn_retrieval_result res;
        if (sscanf(line, "retrieval_ex %llu %d %d %d %d %d %d %lf %lf %lf %lf %lf %lf", &seed,
                   &nq, &nr, &dim, &ncls, &single, &used, &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5]) == 13) {
            float *xq = malloc((size_t)nq * dim * sizeof *xq);
            float *xr = malloc((size_t)nr * dim * sizeof *xr);
            int32_t *lq = malloc((size_t)nq * sizeof *lq), *lr = malloc((size_t)nr * sizeof *lr);
            gen_points(seed, nq, dim, ncls, single, xq, lq);
            gen_points(seed + 100, nr, dim, ncls, 0, xr, lr);
            CHECK(sn_metric_retrieval_ex_tiled(ctx, xq, lq, nq, xr, lr, nr, dim, 0, 2, 16,
                                               &res) == SN_OK);
            check_res(&res, used, v);
            free(xq); free(xr); free(lq); free(lr);
            nex++;
        } else if (sscanf(line, "retrieval_self %llu %d %d %d %d %d %lf %lf %lf %lf %lf %lf",
                          &seed, &n, &dim, &ncls, &single, &used, &v[0], &v[1], &v[2], &v[3],
                          &v[4], &v[5]) == 12) {
            float *x = malloc((size_t)n * dim * sizeof *x);
            int32_t *lab = malloc((size_t)n * sizeof *lab);
            gen_points(seed, n, dim, ncls, single, x, lab);
            CHECK(sn_metric_retrieval_ex(ctx, x, lab, n, x, lab, n, dim, 1, 2, &res) == SN_OK);
            check_res(&res, used, v);
            free(x); free(lab);
            nself++;
        } else if (sscanf(line, "nmi_ami %llu %d %d %d %d %lf %lf", &seed, &n, &ka, &kb, &mode,
                          &v[0], &v[1]) == 7) {
            int32_t *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
            gen_label_pair(seed, n, ka, kb, mode, a, b);
            double nmi = -9, ami = -9;
            CHECK(sn_metric_nmi_ami(a, b, n, &nmi, &ami) == SN_OK);
            CHECK_CLOSE(nmi, v[0], 0, TOL);
            CHECK_CLOSE(ami, v[1], 0, TOL);
            free(a); free(b);
            nmi_n++;
        }
    }
    fclose(f);
    CHECK(nex == 4 && nself == 3 && nmi_n == 9);
}

/* ------------------------------------------------------------------ NMI / AMI */
static void test_nmi_ami_hand(void) {
    /* a = 0 0 1 1, b = 0 1 0 1: every cell n_ij = 1 = a_i b_j n / n^2 -> MI = 0, NMI = 0.
     * EMI: a_i = b_j = 2, n = 4, n_ij ~ hypergeometric: P(1) = C(2,1)C(2,1)/C(4,2) = 2/3,
     * P(2) = 1/6; term (n_ij/n) log(n n_ij / (a_i b_j)) is 0 for n_ij = 1 and
     * (1/2) log 2 for n_ij = 2 -> per cell log(2)/12, 4 cells -> EMI = log(2)/3.
     * H_a = H_b = log 2 -> AMI = (0 - log2/3) / (log2 - log2/3) = -1/2. */
    const int32_t a[4] = {0, 0, 1, 1}, b[4] = {0, 1, 0, 1};
    double nmi = 9, ami = 9;
    CHECK(sn_metric_nmi_ami(a, b, 4, &nmi, &ami) == SN_OK);
    CHECK_CLOSE(nmi, 0.0, 0, TOL);
    CHECK_CLOSE(ami, -0.5, 0, TOL);

    /* a = 0 0 1 1 1 1, b = 0 0 0 1 1 1: cells n_00 = 2, n_10 = 1, n_11 = 3, a = (2, 4),
     * b = (3, 3). MI = (2/6) log(6*2/6) + (1/6) log(6/12) + (3/6) log(18/12)
     *    = (1/6) log 2 + (1/2) log(3/2); H_a = log 3 - (2/3) log 2, H_b = log 2.
     * EMI by the hypergeometric sum (n = 6): cell (a=2, b=3): n_ij 0..2 with
     * P = 1/5, 3/5, 1/5; terms (1/6) log 1 = 0, (2/6) log 2 -> (1/5)(1/3) log 2.
     * cell (a=4, b=3): n_ij 1..3, P = 1/5, 3/5, 1/5; terms (1/6) log(1/2),
     * (2/6) log 1 = 0, (3/6) log(3/2). Two cells of each kind:
     * EMI = 2 [ (1/15) log 2 + (1/5)(1/6) log(1/2) + (1/5)(1/2) log(3/2) ]
     *     = (1/15) log 2 + (1/5) log(3/2). */
    const int32_t c[6] = {0, 0, 1, 1, 1, 1}, d[6] = {7, 7, 7, -2, -2, -2};
    double mi = log(2.0) / 6 + 0.5 * log(1.5), ha = log(3.0) - 2.0 / 3 * log(2.0), hb = log(2.0);
    double emi = log(2.0) / 15 + 0.2 * log(1.5);
    CHECK(sn_metric_nmi_ami(c, d, 6, &nmi, &ami) == SN_OK);
    CHECK_CLOSE(nmi, mi / ((ha + hb) / 2), 0, TOL);
    CHECK_CLOSE(ami, (mi - emi) / ((ha + hb) / 2 - emi), 0, TOL);
    double nmi2, ami2; /* symmetric */
    CHECK(sn_metric_nmi_ami(d, c, 6, &nmi2, &ami2) == SN_OK);
    CHECK_CLOSE(nmi2, nmi, 0, 1e-12);
    CHECK_CLOSE(ami2, ami, 0, 1e-12);

    /* renamed identical labelings -> 1, 1; one labeling unsplit -> 0, 0; both -> 1, 1 */
    const int32_t e[6] = {-5, -5, 40, 40, 40, 40}, one[6] = {3, 3, 3, 3, 3, 3};
    CHECK(sn_metric_nmi_ami(c, e, 6, &nmi, &ami) == SN_OK);
    CHECK_CLOSE(nmi, 1.0, 0, TOL);
    CHECK_CLOSE(ami, 1.0, 0, TOL);
    CHECK(sn_metric_nmi_ami(c, one, 6, &nmi, &ami) == SN_OK);
    CHECK(nmi == 0.0 && ami == 0.0);
    CHECK(sn_metric_nmi_ami(one, one, 6, &nmi, &ami) == SN_OK);
    CHECK(nmi == 1.0 && ami == 1.0);
    CHECK(sn_metric_nmi_ami(one, one, 1, &nmi, &ami) == SN_OK);
    CHECK(nmi == 1.0 && ami == 1.0);
}

/* ------------------------------------------------------------------- k-means */
static void test_clustering(sn_ctx *ctx) {
    /* 4 well-separated blobs in 8-d (centres 100 apart, points within +-1): any sane
     * k-means with k = 4 recovers them -> NMI = AMI = 1 for every seed and nt. */
    enum { N = 400, D = 8 };
    float *x = malloc(sizeof(float) * N * D);
    int32_t *lab = malloc(sizeof(int32_t) * N);
    sn_rng rng;
    sn_rng_seed(&rng, 11, 0);
    for (int i = 0; i < N; i++) {
        lab[i] = (int32_t)(i % 4) * 10 - 7;
        for (int c = 0; c < D; c++)
            x[i * D + c] = (c == i % 4 ? 100.0f : 0.0f) + sn_rng_uniform_range(&rng, -1, 1);
    }
    double nmi = 0, ami = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        for (int nt = 1; nt <= 2; nt++) {
            CHECK(sn_metric_clustering(ctx, x, lab, N, D, 4, seed, nt, &nmi, &ami) == SN_OK);
            CHECK_CLOSE(nmi, 1.0, 0, TOL);
            CHECK_CLOSE(ami, 1.0, 0, TOL);
        }
    }
    /* k = 1: one cluster against 4 classes -> MI = 0 -> NMI = AMI = 0 */
    CHECK(sn_metric_clustering(ctx, x, lab, N, D, 1, 1, 2, &nmi, &ami) == SN_OK);
    CHECK(nmi == 0.0 && ami == 0.0);

    /* 1-d: A = 0 1 2 3 4 5, B = 9.25 10.25. k-means++ often seeds both centres in A
     * (first 0: P = 55/(55 + 85.5 + 105.1) ~ 22%), e.g. 0 and 5 -> {0,1,2} | {3,4,5,B};
     * Lloyd then moves A's points over one or two at a time (means 1 | 6.3 ->
     * {0..3} | {4,5,B}, 1.5 | 7.125 -> {0..4} | {5,B}, 2 | 8.17 -> A | B). Every seed
     * must end at NMI = AMI = 1; without the update step about a quarter would not. */
    const float l1[8] = {0, 1, 2, 3, 4, 5, 9.25f, 10.25f};
    const int32_t ll[8] = {0, 0, 0, 0, 0, 0, 1, 1};
    int ok = 1;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        CHECK(sn_metric_clustering(ctx, l1, ll, 8, 1, 2, seed, 1, &nmi, &ami) == SN_OK);
        ok &= fabs(nmi - 1.0) < TOL && fabs(ami - 1.0) < TOL;
    }
    CHECK(ok);
    /* k = n: every point its own cluster; NMI = 2 MI / (H_a + H_b) with MI = H_a,
     * H_b = log 8, H_a = log 8 - (6/8) log 6 - (2/8) log 2 */
    double ha = log(8.0) - 0.75 * log(6.0) - 0.25 * log(2.0);
    CHECK(sn_metric_clustering(ctx, l1, ll, 8, 1, 8, 5, 2, &nmi, NULL) == SN_OK);
    CHECK_CLOSE(nmi, 2 * ha / (ha + log(8.0)), 0, TOL);

    /* generic data, 10 overlapping classes: nt = 1 vs 2 and repeated calls identical */
    for (int i = 0; i < N * D; i++) x[i] = sn_rng_uniform_range(&rng, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) {
        lab[i] = (int32_t)sn_rng_below(&rng, 10);
        x[i * D + lab[i] % D] += 0.8f;
    }
    double n1, a1, n2, a2, n3, a3;
    CHECK(sn_metric_clustering(ctx, x, lab, N, D, 10, 7, 1, &n1, &a1) == SN_OK);
    CHECK(sn_metric_clustering(ctx, x, lab, N, D, 10, 7, 2, &n2, &a2) == SN_OK);
    CHECK(sn_metric_clustering(ctx, x, lab, N, D, 10, 7, 2, &n3, &a3) == SN_OK);
    CHECK(n1 == n2 && a1 == a2 && n2 == n3 && a2 == a3);
    CHECK(n1 > 0.05 && n1 < 1.0 && a1 < n1);
    free(x); free(lab);
}

/* ------------------------------------------------------------------- few-shot */
static void test_fewshot(sn_ctx *ctx) {
    double m = -1, ci = -1;
    /* 1-shot, A = {0, 10}, B = {4, 6}: the query is the other member of its class.
     * Support (A, B) -> A query, B query:
     *   (0, 4):  10 -> |10-0| 10 vs |10-4| 6 wrong;   6 -> 6 vs 2 right
     *   (0, 6):  10 -> 10 vs 4 wrong;                 4 -> 4 vs 2 right
     *   (10, 4):  0 -> 10 vs 4 wrong;                 6 -> 4 vs 2 right
     *   (10, 6):  0 -> 10 vs 6 wrong;                 4 -> 6 vs 2 right
     * Every episode scores 1/2 -> mean 0.5, ci 0 (n_query 15 = "up to": 1 available). */
    const float x1[4] = {0, 10, 4, 6};
    const int32_t l1[4] = {1, 1, 2, 2};
    CHECK(sn_metric_fewshot(ctx, x1, l1, 4, 1, 2, 1, 15, 50, 3, &m, &ci) == SN_OK);
    CHECK_CLOSE(m, 0.5, 0, TOL);
    CHECK_CLOSE(ci, 0.0, 0, TOL);

    /* 2-shot prototypes, A = {0, 0, 0}, B = {-7, 6, 6.5}, C = {0.25, 0.5} (2 items <
     * k_shot + 1: never drawn, else it would steal A's queries). A's prototype is 0 and its
     * query 0: always right (B's prototypes -0.5, -0.25, 6.25 are never 0). B:
     *   supports (-7, 6) -> 6.5: |6.5 - 0| 6.5 vs |6.5 + 0.5| 7      wrong
     *   supports (-7, 6.5) -> 6: 6 vs 6.25                            wrong
     *   supports (6, 6.5) -> -7: 7 vs 13.25                           wrong
     * Every episode 1/2. (Nearest SUPPORT instead of prototype would give B 2/3 right.) */
    const float x2[8] = {0, -7, 0, 6, 0.25f, 0, 6.5f, 0.5f};
    const int32_t l2[8] = {4, 9, 4, 9, 2, 4, 9, 2};
    CHECK(sn_metric_fewshot(ctx, x2, l2, 8, 1, 2, 2, 5, 40, 8, &m, &ci) == SN_OK);
    CHECK_CLOSE(m, 0.5, 0, TOL);
    CHECK_CLOSE(ci, 0.0, 0, TOL);
    CHECK(sn_metric_fewshot(ctx, x2, l2, 8, 1, 3, 2, 5, 40, 8, &m, &ci) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "n_way=3") != NULL);

    /* prototype = MEAN: A = {2, 2, 2}, B = {5, 7, 6}, 2-shot. A: prototype 2, query 2.
     * B: (5, 7) -> 6, query 6: |6-2| 4 vs 0; (5, 6) -> 5.5, query 7: 5 vs 1.5;
     * (7, 6) -> 6.5, query 5: 3 vs 1.5 -> every query right, accuracy 1. (With sums as
     * prototypes, 4 and 12 / 11 / 13, every B query would be wrong: 0.5.) */
    const float x4[6] = {2, 5, 2, 7, 2, 6};
    const int32_t l4[6] = {3, 8, 3, 8, 3, 8};
    CHECK(sn_metric_fewshot(ctx, x4, l4, 6, 1, 2, 2, 1, 30, 2, &m, &ci) == SN_OK);
    CHECK_CLOSE(m, 1.0, 0, TOL);
    CHECK_CLOSE(ci, 0.0, 0, TOL);

    /* ties go to the smaller label: everything at 0; label -1 has 3 items (2 queries),
     * label 6 has 2 (1 query); 1-shot: all 3 queries tie and go to -1 -> 2/3 per
     * episode (ties to the larger label, or to the class drawn first in half of the
     * episodes, would give 1/3). */
    const float x5[5] = {0, 0, 0, 0, 0};
    const int32_t l5[5] = {6, -1, -1, 6, -1};
    CHECK(sn_metric_fewshot(ctx, x5, l5, 5, 1, 2, 1, 15, 30, 4, &m, &ci) == SN_OK);
    CHECK_CLOSE(m, 2.0 / 3.0, 0, TOL);
    CHECK_CLOSE(ci, 0.0, 0, TOL);

    /* A = {0, 0, 0}, B = {-4, 6, 5}, 2-shot: A always right; B right for supports
     * (-4, 6) (5: 5 vs 4) and (-4, 5) (6: 6 vs 5.5), wrong for (6, 5) (-4: 4 vs 9.5).
     * Episode accuracy 1 w.p. 2/3, 1/2 w.p. 1/3: E = 5/6, population std
     * 0.5 sqrt(2/9) = 0.2357. 4000 episodes: mean within 3 standard errors, ci95 =
     * 1.96 std / sqrt(4000) within 10%. */
    const float x3[6] = {0, -4, 0, 6, 0, 5};
    const int32_t l3[6] = {0, 1, 0, 1, 0, 1};
    double sd = 0.5 * sqrt(2.0 / 9.0), se = sd / sqrt(4000.0);
    CHECK(sn_metric_fewshot(ctx, x3, l3, 6, 1, 2, 2, 15, 4000, 1, &m, &ci) == SN_OK);
    CHECK(fabs(m - 5.0 / 6.0) < 3 * se);
    CHECK(fabs(ci - 1.96 * se) < 0.1 * 1.96 * se);
    /* Exact ci95 on the same data with 5 episodes: every acc_e is 1 or 1/2, so the mean
     * tells how many (j) were 1/2; population variance (1/4) p (1 - p), p = j / 5. */
    int mixed = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        CHECK(sn_metric_fewshot(ctx, x3, l3, 6, 1, 2, 2, 15, 5, seed, &m, &ci) == SN_OK);
        double p = floor(10.0 * (1.0 - m) + 0.5) / 5.0; /* j / 5 */
        CHECK_CLOSE(m, 1.0 - 0.5 * p, 0, TOL);
        CHECK_CLOSE(ci, 1.96 * 0.5 * sqrt(p * (1 - p)) / sqrt(5.0), 0, TOL);
        mixed += p > 0 && p < 1;
    }
    CHECK(mixed > 0);

    /* 8 separated classes of 20 (one-hot * 50 + noise in [-1, 1]), 5-way 5-shot 15
     * queries: accuracy 1; with more noise: 1 vs 2 threads identical, seeds differ */
    enum { N = 160, D = 8 };
    float *x = malloc(sizeof(float) * N * D);
    int32_t *lab = malloc(sizeof(int32_t) * N);
    sn_rng rng;
    sn_rng_seed(&rng, 21, 0);
    for (int i = 0; i < N; i++) {
        lab[i] = i % 8;
        for (int c = 0; c < D; c++)
            x[i * D + c] = (c == i % 8 ? 50.0f : 0.0f) + sn_rng_uniform_range(&rng, -1, 1);
    }
    CHECK(sn_metric_fewshot(ctx, x, lab, N, D, 5, 5, 15, 200, 2, &m, &ci) == SN_OK);
    CHECK_CLOSE(m, 1.0, 0, TOL);
    for (int i = 0; i < N * D; i++) x[i] += sn_rng_uniform_range(&rng, -40, 40);
    sn_ctx *c1 = sn_ctx_create(1);
    double m1, c1v, m2, c2v, m3, c3v;
    CHECK(sn_metric_fewshot(c1, x, lab, N, D, 5, 1, 15, 300, 4, &m1, &c1v) == SN_OK);
    CHECK(sn_metric_fewshot(ctx, x, lab, N, D, 5, 1, 15, 300, 4, &m2, &c2v) == SN_OK);
    CHECK(sn_metric_fewshot(ctx, x, lab, N, D, 5, 1, 15, 300, 5, &m3, &c3v) == SN_OK);
    CHECK(m1 == m2 && c1v == c2v);
    CHECK(m3 != m2);
    CHECK(m1 > 0.2 && m1 < 1.0 && c1v > 0);
    sn_ctx_free(c1);
    free(x); free(lab);
}

/* ------------------------------------------------------------------- DIR@FAR */
static void test_dir_hand(sn_ctx *ctx) {
    /* gallery g0 0 (id 1), g1 10 (id 2), g2 20 (id 3).
     * known:   1 (id 1) -> g0 d 1 right;   12 (id 2) -> g1 d 2 right;
     *         16 (id 2) -> g2 d 4 WRONG id; 27 (id 3) -> g2 d 7 right;
     *          5 (id 1) -> g0/g1 tie d 5 -> g0 (smaller index) right.
     * unknown: 13 -> 3, 5 -> 5, 15 -> 5, 26 -> 6, 30 -> 10: sorted 3 5 5 6 10 (|U| = 5).
     * FAR after each group: 3: 1/5, 5: 3/5, 6: 4/5, 10: 1.
     *   far 0    -> v = 3:  t < 3, hits {1, 2}            DIR 2/5
     *   far 0.2  -> v = 5:  t < 5, hits {1, 2} (16 wrong id; 5 not below 5)  2/5
     *   far 0.6  -> v = 6:  t < 6, hits {1, 2, 5}         3/5
     *   far 0.79 -> v = 6                                  3/5
     *   far 0.8  -> v = 10: t < 10, hits {1, 2, 5, 27}    4/5
     *   far 1    -> t = +inf                               4/5 */
    const float g[3] = {0, 10, 20};
    const int32_t gl[3] = {1, 2, 3};
    const float p[10] = {1, 13, 12, 5, 16, 15, 27, 26, 5, 30};
    const int32_t pl[10] = {1, 0, 2, 0, 2, 0, 3, 0, 1, 0};
    const uint8_t kn[10] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    const double fars[6] = {0, 0.2, 0.6, 0.79, 0.8, 1};
    const double dirs[6] = {0.4, 0.4, 0.6, 0.6, 0.8, 0.8};
    const double thr[6] = {3, 5, 6, 6, 10, INFINITY};
    for (int nt = 1; nt <= 2; nt++) {
        for (int i = 0; i < 6; i++) {
            double d = -1, t = -1;
            CHECK(sn_metric_dir_at_far(ctx, g, gl, 3, p, pl, kn, 10, 1, fars[i], nt, &d, &t) ==
                  SN_OK);
            CHECK_CLOSE(d, dirs[i], 0, TOL);
            CHECK(t == (isinf(thr[i]) ? thr[i] : nextafter(thr[i], -INFINITY)));
        }
    }
    /* generic data: nt = 1 vs 2 identical, DIR nondecreasing in far */
    enum { NG = 300, NP = 500, D = 5 };
    float *xg = malloc(sizeof(float) * NG * D), *xp = malloc(sizeof(float) * NP * D);
    int32_t *lg = malloc(sizeof(int32_t) * NG), *lp = malloc(sizeof(int32_t) * NP);
    uint8_t *k = malloc(NP);
    sn_rng rng;
    sn_rng_seed(&rng, 31, 0);
    for (int i = 0; i < NG * D; i++) xg[i] = sn_rng_uniform_range(&rng, -1, 1);
    for (int i = 0; i < NP * D; i++) xp[i] = sn_rng_uniform_range(&rng, -1, 1);
    for (int i = 0; i < NG; i++) lg[i] = i % 30;
    for (int i = 0; i < NP; i++) {
        lp[i] = (int32_t)sn_rng_below(&rng, 40);
        k[i] = lp[i] < 30;
        if (k[i]) xp[i * D + 0] = xg[(lp[i] + 30 * (i % 10)) * D] * 0.9f;
    }
    double prev = -1;
    for (int i = 0; i <= 10; i++) {
        double d1, t1, d2, t2;
        CHECK(sn_metric_dir_at_far(ctx, xg, lg, NG, xp, lp, k, NP, D, i / 10.0, 1, &d1, &t1) ==
              SN_OK);
        CHECK(sn_metric_dir_at_far(ctx, xg, lg, NG, xp, lp, k, NP, D, i / 10.0, 2, &d2, &t2) ==
              SN_OK);
        CHECK(d1 == d2 && t1 == t2 && d1 >= prev);
        prev = d1;
    }
    free(xg); free(xp); free(lg); free(lp); free(k);
}

static void test_errors(sn_ctx *ctx) {
    float x[4] = {0, 1, 2, 3};
    int32_t l[4] = {0, 0, 1, 1};
    uint8_t kn[4] = {1, 0, 1, 0}, all[4] = {1, 1, 1, 1};
    sn_retrieval_result r;
    double v = 0, w = 0;
    CHECK(sn_metric_retrieval_ex(ctx, x, l, 0, x, l, 4, 1, 0, 1, &r) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "nq=0") != NULL);
    CHECK(sn_metric_retrieval_ex(ctx, x, l, 4, x, l, 4, 1, 0, 1, NULL) == SN_ERR_ARG);
    CHECK(sn_metric_retrieval_ex(ctx, x, l, 4, x, l, 4, 1, 2, 1, &r) == SN_ERR_ARG);
    CHECK(sn_metric_retrieval_ex(ctx, x, l, 2, x + 2, l + 2, 2, 1, 1, 1, &r) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "exclude_self") != NULL);
    CHECK(isnan(r.precision_at_1) && r.n_queries == 0);
    CHECK(sn_metric_retrieval_ex(ctx, x, l, 4, x, l, 4, 1, 0, 0, &r) == SN_ERR_ARG);
    CHECK(sn_metric_retrieval_ex(ctx, x, NULL, 4, x, l, 4, 1, 0, 1, &r) == SN_ERR_ARG);

    CHECK(sn_metric_nmi_ami(l, l, 0, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_nmi_ami(l, NULL, 4, &v, &w) == SN_ERR_ARG && isnan(v) && isnan(w));

    CHECK(sn_metric_clustering(ctx, x, l, 4, 1, 5, 1, 1, &v, &w) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "k=5") != NULL);
    CHECK(sn_metric_clustering(ctx, x, l, 4, 1, 0, 1, 1, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_clustering(ctx, x, l, 4, 0, 2, 1, 1, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_clustering(ctx, x, l, 4, 1, 2, 1, 0, &v, &w) == SN_ERR_ARG);

    CHECK(sn_metric_fewshot(ctx, x, l, 4, 1, 1, 1, 1, 10, 1, &v, &w) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "n_way=1") != NULL);
    CHECK(sn_metric_fewshot(ctx, x, l, 4, 1, 2, 0, 1, 10, 1, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_fewshot(ctx, x, l, 4, 1, 2, 1, 0, 10, 1, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_fewshot(ctx, x, l, 4, 1, 2, 1, 1, 0, 1, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_fewshot(ctx, x, l, 4, 1, 2, 2, 1, 10, 1, &v, &w) == SN_ERR_ARG);

    CHECK(sn_metric_dir_at_far(ctx, x, l, 4, x, l, kn, 4, 1, 1.5, 1, &v, &w) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "far=1.5") != NULL);
    CHECK(sn_metric_dir_at_far(ctx, x, l, 4, x, l, kn, 4, 1, NAN, 1, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_dir_at_far(ctx, x, l, 4, x, l, all, 4, 1, 0.1, 1, &v, &w) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "4 known of 4") != NULL);
    CHECK(sn_metric_dir_at_far(ctx, x, l, 0, x, l, kn, 4, 1, 0.1, 1, &v, &w) == SN_ERR_ARG);
    CHECK(sn_metric_dir_at_far(ctx, x, l, 4, x, l, NULL, 4, 1, 0.1, 1, &v, &w) == SN_ERR_ARG);

    x[1] = INFINITY;
    CHECK(sn_metric_retrieval_ex(ctx, x, l, 4, x, l, 4, 1, 0, 1, &r) == SN_ERR_NUMERIC);
    CHECK(sn_metric_clustering(ctx, x, l, 4, 1, 2, 1, 1, &v, &w) == SN_ERR_NUMERIC);
    CHECK(sn_metric_fewshot(ctx, x, l, 4, 1, 2, 1, 1, 10, 1, &v, &w) == SN_ERR_NUMERIC);
    CHECK(sn_metric_dir_at_far(ctx, x, l, 4, x, l, kn, 4, 1, 0.1, 1, &v, &w) == SN_ERR_NUMERIC);
    CHECK(isnan(v) && isnan(w));
}

/* sn_metric_dba against brute force: every pair distance in double, the k-1 nearest by
 * (distance, index), the mean, unit norm restored for unit inputs; self and reference
 * modes, 1 and 2 threads, k = 1 copies, and the argument errors. */
static void dba_brute(const float *q, int nq, const float *r, int nr, int dim, int k, int self,
                      int unit, double *out) {
    double *d = malloc(sizeof(double) * (size_t)nr);
    int *used = malloc(sizeof(int) * (size_t)nr);
    for (int i = 0; i < nq; i++) {
        for (int j = 0; j < nr; j++) {
            double s = 0;
            for (int c = 0; c < dim; c++) {
                const double t = (double)q[i * dim + c] - r[j * dim + c];
                s += t * t;
            }
            d[j] = s;
            used[j] = self && j == i;
        }
        for (int c = 0; c < dim; c++) out[i * dim + c] = q[i * dim + c];
        for (int t = 0; t < k - 1; t++) {
            int b = -1;
            for (int j = 0; j < nr; j++)
                if (!used[j] && (b < 0 || d[j] < d[b])) b = j;
            used[b] = 1;
            for (int c = 0; c < dim; c++) out[i * dim + c] += r[b * dim + c];
        }
        double nrm = 0;
        for (int c = 0; c < dim; c++) {
            out[i * dim + c] /= k;
            nrm += out[i * dim + c] * out[i * dim + c];
        }
        if (unit)
            for (int c = 0; c < dim; c++) out[i * dim + c] /= sqrt(nrm);
    }
    free(d);
    free(used);
}

static void test_dba(sn_ctx *ctx) {
    enum { NQ = 37, NR = 150, DIM = 6 };
    float *q = malloc(sizeof(float) * NQ * DIM), *r = malloc(sizeof(float) * NR * DIM);
    float *o = malloc(sizeof(float) * NR * DIM);
    double *want = malloc(sizeof(double) * NR * DIM);
    sn_rng rng;
    sn_rng_seed(&rng, 99, 3);
    for (int unit = 0; unit < 2; unit++) {
        for (int i = 0; i < NQ * DIM; i++) q[i] = sn_rng_uniform_range(&rng, -1.0f, 1.0f);
        for (int i = 0; i < NR * DIM; i++) r[i] = sn_rng_uniform_range(&rng, -1.0f, 1.0f);
        if (unit) {
            sn_metric_row_sqnorms(o, q, NQ, DIM);
            for (int i = 0; i < NQ; i++)
                for (int c = 0; c < DIM; c++) q[i * DIM + c] /= sqrtf(o[i]);
            sn_metric_row_sqnorms(o, r, NR, DIM);
            for (int i = 0; i < NR; i++)
                for (int c = 0; c < DIM; c++) r[i * DIM + c] /= sqrtf(o[i]);
        }
        const int ks[] = {1, 2, 5, 17};
        for (int ki = 0; ki < 4; ki++)
            for (int self = 0; self < 2; self++)
                for (int nt = 1; nt <= 2; nt++) {
                    const float *qq = self ? r : q;
                    const int n = self ? NR : NQ;
                    CHECK(sn_metric_dba(ctx, qq, n, r, NR, DIM, ks[ki], self, nt, o) == SN_OK);
                    dba_brute(qq, n, r, NR, DIM, ks[ki], self, unit, want);
                    double err = 0;
                    for (int i = 0; i < n * DIM; i++) err = fmax(err, fabs(o[i] - want[i]));
                    CHECK(err < 1e-6);
                    if (err >= 1e-6)
                        fprintf(stderr, "  dba unit %d k %d self %d nt %d: max err %g\n", unit,
                                ks[ki], self, nt, err);
                }
    }
    CHECK(sn_metric_dba(ctx, q, NQ, r, NR, DIM, 0, 0, 1, o) == SN_ERR_ARG);
    CHECK(sn_metric_dba(ctx, r, NR, r, NR, DIM, NR + 1, 1, 1, o) == SN_ERR_ARG);
    CHECK(sn_metric_dba(ctx, q, NQ, r, NR, DIM, 3, 1, 1, o) == SN_ERR_ARG); /* self, nq != nr */
    CHECK(sn_metric_dba(ctx, q, NQ, r, NR, DIM, NR + 1, 0, 1, o) == SN_OK);
    q[3] = NAN;
    CHECK(sn_metric_dba(ctx, q, NQ, r, NR, DIM, 3, 0, 1, o) == SN_ERR_NUMERIC);
    free(q);
    free(r);
    free(o);
    free(want);
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    CHECK(ctx != NULL);
    if (!ctx) return tu_finish("test_metrics2");
    test_retrieval_ex_hand(ctx);
    test_retrieval_ex_brute(ctx);
    test_golden(ctx);
    test_nmi_ami_hand();
    test_clustering(ctx);
    test_fewshot(ctx);
    test_dir_hand(ctx);
    test_errors(ctx);
    test_dba(ctx);
    sn_ctx_free(ctx);
    return tu_finish("test_metrics2");
}
