/* test_gallery.c -- the gallery: k-heap; exact top-k (GEMM + heap) against a brute-force
 * double reference on odd shapes, 1 vs 2 threads identical; IVF equals exact when every
 * list is probed and keeps recall@10 high with few probes; model fingerprint; the SQLite
 * store (create, enroll, search, reopen, list, remove, stats, decisions), refusal of a
 * different model (both short fingerprints named), corrupt / foreign / newer-schema
 * files; the enroll protocol's counts and limits. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "gallery/gallery.h"
#include "testutil.h"

#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

static void fill(sn_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = sn_rng_uniform_range(r, -1.0f, 1.0f);
}

static void test_kheap(void) {
    sn_rng r;
    sn_rng_seed(&r, 1, 1);
    float v[500], hd[9], s[500];
    int64_t hi[9];
    sn_kheap h;
    sn_kheap_init(&h, hd, hi, 9);
    CHECK(isinf(sn_kheap_bound(&h)));
    for (int i = 0; i < 500; i++) {
        v[i] = (float)sn_rng_below(&r, 100); /* many ties: order by index */
        sn_kheap_push(&h, v[i], i);
    }
    sn_kheap_sort(&h);
    memcpy(s, v, sizeof v);
    for (int a = 1; a < 500; a++) /* insertion sort by (value, index) via a stable sort */
        for (int b = a; b > 0 && s[b - 1] > s[b]; b--) {
            float t = s[b];
            s[b] = s[b - 1];
            s[b - 1] = t;
        }
    CHECK(h.n == 9);
    for (int j = 0; j < 9; j++) CHECK(hd[j] == s[j]);
    for (int j = 1; j < 9; j++) CHECK(hd[j - 1] < hd[j] || (hd[j - 1] == hd[j] && hi[j - 1] < hi[j]));
    for (int j = 0; j < 9; j++) CHECK(v[hi[j]] == hd[j]);
}

/* exact vs reference on (n, d, nq, k) */
static void check_exact(size_t n, int d, int nq, int k) {
    sn_rng r;
    sn_rng_seed(&r, n * 31 + (size_t)d, 2);
    float *G = malloc(sizeof(float) * (n ? n : 1) * (size_t)d), *gn = malloc(sizeof(float) * (n ? n : 1));
    float *Q = malloc(sizeof(float) * (size_t)nq * (size_t)d);
    float *d1 = malloc(sizeof(float) * (size_t)nq * (size_t)k), *d2 = malloc(sizeof(float) * (size_t)nq * (size_t)k);
    float *d3 = malloc(sizeof(float) * (size_t)nq * (size_t)k);
    int64_t *i1 = malloc(sizeof(int64_t) * (size_t)nq * (size_t)k), *i2 = malloc(sizeof(int64_t) * (size_t)nq * (size_t)k);
    int64_t *i3 = malloc(sizeof(int64_t) * (size_t)nq * (size_t)k);
    fill(&r, G, n * (size_t)d);
    fill(&r, Q, (size_t)nq * (size_t)d);
    sn_row_sqnorms(G, n, d, gn);
    CHECK(sn_topk_exact(NULL, G, gn, n, d, Q, nq, k, 1, i1, d1) == SN_OK);
    CHECK(sn_topk_exact(NULL, G, gn, n, d, Q, nq, k, 2, i3, d3) == SN_OK);
    sn_topk_ref(G, n, d, Q, nq, k, i2, d2);
    int same_idx = 1, close = 1, threads_same = 1;
    for (size_t t = 0; t < (size_t)nq * (size_t)k; t++) {
        if (i1[t] != i2[t]) {
            /* a swap of near-equal distances is allowed; the distance must still agree */
            if (i2[t] < 0 || fabsf(d1[t] - d2[t]) > 1e-4f * (1.0f + d2[t])) same_idx = 0;
        }
        if (i2[t] >= 0 && !(fabsf(d1[t] - d2[t]) <= 1e-4f * (1.0f + d2[t]))) close = 0;
        if (i2[t] < 0 && !(i1[t] < 0 && isinf(d1[t]))) close = 0;
        if (i1[t] != i3[t] || memcmp(&d1[t], &d3[t], sizeof(float)) != 0) threads_same = 0;
    }
    if (!same_idx || !close || !threads_same)
        fprintf(stderr, "exact top-k n=%zu d=%d nq=%d k=%d: idx %d close %d threads %d\n", n, d, nq, k,
                same_idx, close, threads_same);
    CHECK(same_idx);
    CHECK(close);
    CHECK(threads_same);
    free(G);
    free(gn);
    free(Q);
    free(d1);
    free(d2);
    free(d3);
    free(i1);
    free(i2);
    free(i3);
}

static void test_ivf(void) {
    /* clustered data: 40 centres, 3000 points, 16-d */
    const size_t n = 3000;
    const int d = 16, nq = 50, k = 10;
    sn_rng r;
    sn_rng_seed(&r, 5, 5);
    float *C = malloc(sizeof(float) * 40 * (size_t)d), *G = malloc(sizeof(float) * n * (size_t)d);
    float *gn = malloc(sizeof(float) * n), *Q = malloc(sizeof(float) * (size_t)nq * (size_t)d);
    float *de = malloc(sizeof(float) * nq * k), *da = malloc(sizeof(float) * nq * k);
    int64_t *ie = malloc(sizeof(int64_t) * nq * k), *ia = malloc(sizeof(int64_t) * nq * k);
    fill(&r, C, 40 * (size_t)d);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            G[i * (size_t)d + (size_t)j] = 4.0f * C[(i % 40) * (size_t)d + (size_t)j] + sn_rng_uniform_range(&r, -0.3f, 0.3f);
    for (int q = 0; q < nq; q++)
        for (int j = 0; j < d; j++)
            Q[(size_t)q * (size_t)d + (size_t)j] = G[(size_t)(q * 37) * (size_t)d + (size_t)j] + 0.05f;
    sn_row_sqnorms(G, n, d, gn);
    sn_ivf ix;
    CHECK(sn_ivf_build(NULL, &ix, G, gn, n, d, 32, 9, 2) == SN_OK);
    CHECK(ix.off[ix.nlist] == n);
    CHECK(sn_topk_exact(NULL, G, gn, n, d, Q, nq, k, 2, ie, de) == SN_OK);
    /* every list probed: the same neighbours as exact */
    CHECK(sn_ivf_search(NULL, &ix, Q, nq, k, ix.nlist, 2, ia, da) == SN_OK);
    int hit = 0;
    for (int q = 0; q < nq; q++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) hit += ia[q * k + a] == ie[q * k + b];
    CHECK(hit == nq * k);
    /* 4 of 32 lists: recall@10 still high on clustered data */
    CHECK(sn_ivf_search(NULL, &ix, Q, nq, k, 4, 2, ia, da) == SN_OK);
    hit = 0;
    for (int q = 0; q < nq; q++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) hit += ia[q * k + a] == ie[q * k + b];
    printf("IVF 32 lists, nprobe 4: recall@10 = %.3f\n", (double)hit / (nq * k));
    CHECK((double)hit / (nq * k) >= 0.9);
    sn_ivf_free(&ix);
    free(C);
    free(G);
    free(gn);
    free(Q);
    free(de);
    free(da);
    free(ie);
    free(ia);
}

static sn_model *make_model(sn_ctx *ctx, uint64_t seed) {
    sn_model_config cfg = {.arch = "seed", .in_c = 1, .in_h = 28, .in_w = 28, .mean = {0.13f, 0, 0},
                           .std = {0.31f, 1, 1}, .seed = seed};
    sn_model *m = NULL;
    SN_ASSERT(sn_model_create(ctx, &cfg, &m) == SN_OK);
    return m;
}

static void test_fingerprint(sn_ctx *ctx) {
    sn_model *a = make_model(ctx, 1), *b = make_model(ctx, 1), *c = make_model(ctx, 2);
    char fa[SN_FINGERPRINT_LEN], fb[SN_FINGERPRINT_LEN], fc[SN_FINGERPRINT_LEN];
    CHECK(sn_model_fingerprint(ctx, a, fa) == SN_OK && strlen(fa) == 64);
    sn_model_set_threshold(b, 1.5f); /* calibration does not change the embedding */
    CHECK(sn_model_fingerprint(ctx, b, fb) == SN_OK && !strcmp(fa, fb));
    CHECK(sn_model_fingerprint(ctx, c, fc) == SN_OK && strcmp(fa, fc) != 0);
    sn_model_free(a);
    sn_model_free(b);
    sn_model_free(c);
}

static void path_in_tmp(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/test_gallery_%ld_%s", tu_tmpdir(), (long)getpid(), name);
    unlink(buf);
    char side[1100];
    snprintf(side, sizeof side, "%s-wal", buf);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", buf);
    unlink(side);
}

typedef struct {
    int n;
    long long total;
    char first[32];
} list_acc;
static void on_label(void *u, const char *label, long long count) {
    list_acc *a = u;
    if (a->n++ == 0) snprintf(a->first, sizeof a->first, "%s", label);
    a->total += count;
}

static void test_store(sn_ctx *ctx) {
    char path[1024], other[1024];
    path_in_tmp(path, sizeof path, "g.db");
    sn_model *m = make_model(ctx, 3), *m2 = make_model(ctx, 4);
    const int D = sn_model_embed_dim(m), n = 30;
    sn_gallery *g = NULL;
    CHECK(sn_gallery_create(ctx, path, m, NULL, &g) == SN_OK);
    CHECK(g && sn_gallery_dim(g) == D && !strcmp(sn_gallery_model_path(g), ""));
    /* images -> entries; labels a0..a2 (10 each) */
    uint8_t *px = malloc((size_t)n * 28 * 28);
    sn_rng r;
    sn_rng_seed(&r, 8, 8);
    for (size_t i = 0; i < (size_t)n * 784; i++) px[i] = (uint8_t)sn_rng_below(&r, 256);
    const char *labs[30], *srcs[30];
    char names[3][8] = {"a0", "a1", "a2"};
    for (int i = 0; i < n; i++) {
        labs[i] = names[i % 3];
        srcs[i] = "synthetic";
    }
    CHECK(sn_gallery_enroll_images(ctx, g, m, n, labs, px, srcs) == SN_OK);
    /* wrong model refused, both short fingerprints in the message */
    sn_status st = sn_gallery_enroll_images(ctx, g, m2, n, labs, px, srcs);
    CHECK(st == SN_ERR_ARG);
    char f2[SN_FINGERPRINT_LEN];
    sn_model_fingerprint(ctx, m2, f2);
    CHECK(strstr(sn_ctx_error(ctx), f2 + 0) == NULL); /* short form, not the whole hash */
    f2[12] = 0;
    CHECK(strstr(sn_ctx_error(ctx), f2) != NULL);
    char f1[16];
    snprintf(f1, sizeof f1, "%.12s", sn_gallery_fingerprint(g));
    CHECK(strstr(sn_ctx_error(ctx), f1) != NULL);
    /* a bad label rejects the whole enroll */
    const char *badlab[1] = {"x\ny"};
    float e0[512] = {0};
    CHECK(D <= 512 && sn_gallery_enroll(ctx, g, 1, badlab, e0, NULL) == SN_ERR_ARG);
    /* search: the enrolled images find themselves at distance ~0 */
    float *emb = malloc(sizeof(float) * (size_t)n * (size_t)D);
    CHECK(sn_model_embed(ctx, m, px, n, emb) == SN_OK);
    sn_gallery_hit hits[30 * 4];
    int dec[30];
    sn_gallery_search_opts so = {4, 1e-3f, SN_GALLERY_EXACT, 0, 0};
    CHECK(sn_gallery_search(ctx, g, emb, n, &so, hits, dec) == SN_OK);
    int selfs = 0;
    for (int i = 0; i < n; i++) {
        selfs += hits[i * 4].entry == i + 1 && !strcmp(hits[i * 4].label, labs[i]);
        CHECK(hits[i * 4].distance <= 1e-3f && dec[i] == 1);
        CHECK(hits[i * 4].distance <= hits[i * 4 + 1].distance);
    }
    CHECK(selfs == n);
    /* distances equal the brute-force reference */
    float ref[4];
    int64_t ri[4];
    float *G = malloc(sizeof(float) * (size_t)n * (size_t)D);
    for (int i = 0; i < n; i++) memcpy(G + (size_t)i * (size_t)D, emb + (size_t)i * (size_t)D, sizeof(float) * (size_t)D);
    float q[512];
    for (int j = 0; j < D; j++) q[j] = emb[j] + 0.01f * (float)(j % 7);
    sn_topk_ref(G, (size_t)n, D, q, 1, 4, ri, ref);
    CHECK(sn_gallery_search(ctx, g, q, 1, &so, hits, dec) == SN_OK);
    for (int j = 0; j < 4; j++) CHECK_CLOSE(hits[j].distance, sqrt(ref[j]), 1e-4, 1e-5);
    /* uncalibrated: no decision; tiny threshold with a far query: unknown */
    so.threshold = 0;
    CHECK(sn_gallery_search(ctx, g, q, 1, &so, hits, dec) == SN_OK && dec[0] == -1);
    for (int j = 0; j < D; j++) q[j] = emb[j] + 100.0f;
    so.threshold = 1.0f;
    CHECK(sn_gallery_search(ctx, g, q, 1, &so, hits, dec) == SN_OK && dec[0] == 0);
    /* k larger than the gallery: empty slots */
    so.k = 40;
    sn_gallery_hit big[40];
    CHECK(sn_gallery_search(ctx, g, q, 1, &so, big, dec) == SN_OK);
    CHECK(big[29].entry >= 0 && big[30].entry == -1 && big[39].label == NULL);
    sn_gallery_close(g);
    /* reopen: same contents; list; remove; stats */
    g = NULL;
    CHECK(sn_gallery_open(ctx, path, &g) == SN_OK);
    list_acc la = {0, 0, ""};
    CHECK(sn_gallery_list(ctx, g, on_label, &la) == SN_OK && la.n == 3 && la.total == n &&
          !strcmp(la.first, "a0"));
    long long removed = -1;
    CHECK(sn_gallery_remove(ctx, g, "a1", &removed) == SN_OK && removed == 10);
    CHECK(sn_gallery_remove(ctx, g, "nobody", &removed) == SN_OK && removed == 0);
    sn_gallery_stats s;
    CHECK(sn_gallery_stats_get(ctx, g, &s) == SN_OK && s.n_entries == 20 && s.n_labels == 2 &&
          s.dim == D && s.schema_version == 1 && s.file_bytes > 0);
    so.k = 4;
    so.threshold = 1e-3f;
    CHECK(sn_gallery_search(ctx, g, emb + D, 1, &so, hits, dec) == SN_OK); /* entry 2 was a1 */
    CHECK(strcmp(hits[0].label, "a1") != 0 && dec[0] == 0);
    /* a second handle (another process in real life) sees a commit of the first */
    sn_gallery *g2 = NULL;
    CHECK(sn_gallery_open(ctx, path, &g2) == SN_OK);
    CHECK(g2 && sn_gallery_search(ctx, g2, emb + D, 1, &so, hits, dec) == SN_OK && dec[0] == 0);
    const char *back[1] = {"a1-again"};
    CHECK(sn_gallery_enroll(ctx, g, 1, back, emb + D, NULL) == SN_OK);
    CHECK(g2 && sn_gallery_search(ctx, g2, emb + D, 1, &so, hits, dec) == SN_OK && dec[0] == 1 &&
          !strcmp(hits[0].label, "a1-again"));
    sn_gallery_close(g2);
    sn_gallery_close(g);
    /* create over an existing file is refused */
    g = NULL;
    CHECK(sn_gallery_create(ctx, path, m, NULL, &g) == SN_ERR_ARG && g == NULL);
    /* newer schema version: refused with a hint */
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version=2", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(sn_gallery_open(ctx, path, &g) == SN_ERR_UNSUPPORTED && strstr(sn_ctx_error(ctx), "newer"));
    /* a SQLite database that is not a gallery */
    path_in_tmp(other, sizeof other, "foreign.db");
    CHECK(sqlite3_open(other, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(sn_gallery_open(ctx, other, &g) == SN_ERR_FORMAT && strstr(sn_ctx_error(ctx), "not a simnet gallery"));
    /* garbage: a clear "not a valid gallery database" naming the file */
    FILE *f = fopen(other, "wb");
    for (int i = 0; f && i < 8192; i++) fputc((i * 7919) & 0xff, f);
    if (f) fclose(f);
    CHECK(sn_gallery_open(ctx, other, &g) == SN_ERR_FORMAT && strstr(sn_ctx_error(ctx), other) &&
          strstr(sn_ctx_error(ctx), "not a valid gallery"));
    CHECK(sn_gallery_open(ctx, "/nonexistent/g.db", &g) == SN_ERR_IO);
    CHECK(sn_gallery_open(ctx, tu_tmpdir(), &g) == SN_ERR_IO); /* a directory */
    unlink(other);
    path_in_tmp(other, sizeof other, "foreign.db");
    path_in_tmp(path, sizeof path, "g.db");
    free(px);
    free(emb);
    free(G);
    sn_model_free(m);
    sn_model_free(m2);
}

static void test_enroll_protocol(sn_ctx *ctx) {
    /* 6 classes x 12 images: class c is a bright square at a class-specific place */
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = 72;
    ds.c = 1;
    ds.h = ds.w = 28;
    ds.n_classes = 6;
    ds.pixels = calloc(72 * 784, 1);
    ds.labels = malloc(sizeof(int32_t) * 72);
    snprintf(ds.name, sizeof ds.name, "synthetic");
    sn_rng r;
    sn_rng_seed(&r, 3, 3);
    for (int i = 0; i < 72; i++) {
        int c = i % 6;
        ds.labels[i] = c;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) ds.pixels[(size_t)i * 784 + (size_t)(3 + 4 * (c % 3) + y) * 28 + (size_t)(3 + 10 * (c / 3) + x)] = 255;
        for (int p = 0; p < 784; p++) ds.pixels[(size_t)i * 784 + (size_t)p] |= (uint8_t)sn_rng_below(&r, 30);
    }
    sn_model *m = make_model(ctx, 5);
    sn_enroll_result a, b;
    CHECK(sn_eval_enroll(ctx, m, &ds, 2, 4, 1e9f, 7, &a) == SN_OK);
    CHECK(a.n_known == 4 && a.n_unknown == 2 && a.n_enrolled == 8);
    CHECK(a.n_queries_known == 40 && a.n_queries_unknown == 24);
    CHECK(a.unknown_rejection == 0.0 && a.false_reject_rate == 0.0);
    CHECK(a.identification_rate == a.rank1_accuracy && a.rank1_accuracy > 0.25); /* chance 0.25 */
    CHECK(sn_eval_enroll(ctx, m, &ds, 2, 4, 1e-9f, 7, &b) == SN_OK);
    CHECK(b.unknown_rejection == 1.0 && b.identification_rate == 0.0 && b.rank1_accuracy == a.rank1_accuracy);
    CHECK(sn_eval_enroll(ctx, m, &ds, 2, 4, 0, 7, &b) == SN_OK && isnan(b.unknown_rejection));
    CHECK(sn_eval_enroll(ctx, m, &ds, 13, 4, 1, 7, &b) == SN_ERR_ARG); /* 12 images a class */
    CHECK(sn_eval_enroll(ctx, m, &ds, 1, 7, 1, 7, &b) == SN_ERR_ARG);  /* 7 > 6 classes */
    free(ds.pixels);
    free(ds.labels);
    sn_model_free(m);
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    test_kheap();
    check_exact(4999, 37, 70, 7);  /* several gallery blocks and query batches */
    check_exact(3, 5, 4, 5);        /* fewer rows than k: empty slots */
    check_exact(2048 * 3 + 1, 16, 1, 1);
    check_exact(100, 128, 129, 10); /* one block: parallel over query batches */
    check_exact(9000, 128, 3, 10);  /* streaming kernel (<= 4 queries), AVX-512 width */
    check_exact(9000, 40, 2, 3);    /* streaming kernel, d not a multiple of 16 */
    test_ivf();
    test_fingerprint(ctx);
    test_store(ctx);
    test_enroll_protocol(ctx);
    sn_ctx_free(ctx);
    return tu_finish("test_gallery");
}
