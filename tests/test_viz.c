/* test_viz.c -- the PNG figures (src/viz): every figure drawn from fixed synthetic data,
 * read back with cairo and checked for size and content (distinct colours, share of
 * non-background pixels, the decision colours of the sheets); the training-log reader;
 * the PCA against a known answer; error cases (unwritable path, bad arguments). */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "viz/viz.h"

#include <cairo.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[3072];

static const char *tpath(const char *name) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Deterministic noise in [-1, 1). */
static double noise(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

typedef struct {
    int w, h;
    long distinct;     /* distinct RGB colours */
    double nonwhite;   /* share of pixels that are not pure white */
    long exact[4];     /* pixels exactly equal to the queried colours */
} png_stats;

/* Read a PNG back; 0 if it cannot be read. */
static int png_read(const char *path, const uint32_t *want, int nwant, png_stats *ps) {
    memset(ps, 0, sizeof *ps);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return 0;
    }
    ps->w = cairo_image_surface_get_width(s);
    ps->h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    uint8_t *seen = calloc(1u << 21, 1); /* one bit per 24-bit colour */
    long white = 0;
    for (int y = 0; y < ps->h; y++)
        for (int x = 0; x < ps->w; x++) {
            uint32_t v = ((const uint32_t *)(const void *)(d + (size_t)y * stride))[x] & 0xffffff;
            if (seen && !(seen[v >> 3] & (1u << (v & 7)))) {
                seen[v >> 3] |= (uint8_t)(1u << (v & 7));
                ps->distinct++;
            }
            white += v == 0xffffff;
            for (int k = 0; k < nwant; k++) ps->exact[k] += v == want[k];
        }
    ps->nonwhite = 1 - (double)white / ((double)ps->w * ps->h);
    free(seen);
    cairo_surface_destroy(s);
    return 1;
}

static const uint32_t GREEN = 0x2ca02c, RED = 0xd62728;

/* Size, "not blank" and "not a solid fill". */
static void check_png(const char *name, int w, int h, long min_colours, double lo, double hi,
                      png_stats *ps, const uint32_t *want, int nwant) {
    int ok = png_read(tpath(name), want, nwant, ps);
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  %s: cannot read back\n", name);
        return;
    }
    CHECK(ps->w == w && ps->h == h);
    CHECK(ps->distinct >= min_colours);
    CHECK(ps->nonwhite >= lo && ps->nonwhite <= hi);
    printf("  %-22s %4dx%-4d %6ld colours, %5.1f%% ink\n", name, ps->w, ps->h, ps->distinct,
           100 * ps->nonwhite);
    if (ps->w != w || ps->h != h) fprintf(stderr, "  %s: %dx%d, expected %dx%d\n", name, ps->w, ps->h, w, h);
}

/* n images (c, 28, 28): a disc whose radius and position depend on the class. */
static uint8_t *make_images(int n, int c, const int32_t *lab) {
    const int H = 28, W = 28;
    uint8_t *im = calloc((size_t)n * c * H * W, 1);
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double cx = 8 + 2.5 * lab[i], cy = 14 + (i % 5) - 2, r = 4 + lab[i];
                    double d = hypot(x - cx, y - cy);
                    int v = d < r ? 255 - 40 * ch : (int)(20 * ch + 3 * (x + y) % 30);
                    im[(((size_t)i * c + ch) * H + y) * W + x] = (uint8_t)v;
                }
    return im;
}

static void test_pairs_grid(sn_ctx *ctx) {
    enum { N = 16 };
    int32_t la[N], lb[N];
    float score[N];
    uint8_t dec[N], tru[N];
    for (int i = 0; i < N; i++) {
        la[i] = i % 5;
        lb[i] = i % 2 ? (i + 1) % 5 : la[i];
        tru[i] = la[i] == lb[i];
        score[i] = tru[i] ? 0.8f - 0.02f * i : 0.1f + 0.03f * i;
        dec[i] = score[i] >= 0.5f;
    }
    dec[3] = !dec[3]; /* two wrong decisions */
    dec[6] = !dec[6];
    for (int c = 1; c <= 3; c += 2) {
        uint8_t *a = make_images(N, c, la), *b = make_images(N, c, lb);
        const char *name = c == 1 ? "viz_pairs_grey.png" : "viz_pairs_rgb.png";
        CHECK(sn_viz_pairs_grid(ctx, tpath(name), a, b, N, c, 28, 28, score, dec, tru, 1.25) == SN_OK);
        int w, h;
        sn_viz_pairs_grid_size(N, 28, 28, &w, &h);
        CHECK(w == 2 * 24 + 4 * 198 + 3 * 16 && h == 56 + 4 * 142 + 3 * 16 + 40); /* 888 x 712 */
        png_stats ps;
        const uint32_t want[2] = {GREEN, RED};
        check_png(name, w, h, 40, 0.15, 0.85, &ps, want, 2);
        /* each border is 4 px wide around a 198 x 142 cell */
        int right = 0;
        for (int i = 0; i < N; i++) right += dec[i] == tru[i];
        CHECK(right > 0 && right < N);
        CHECK(ps.exact[0] >= right * 4 * (2 * 190 + 2 * 134));
        CHECK(ps.exact[1] >= (N - right) * 4 * (2 * 190 + 2 * 134));
        free(a);
        free(b);
    }
    /* one pair: a narrow grid */
    int32_t l1 = 2;
    uint8_t *a1 = make_images(1, 1, &l1);
    CHECK(sn_viz_pairs_grid(ctx, tpath("viz_pairs_one.png"), a1, a1, 1, 1, 28, 28, score, dec, tru, 0) == SN_OK);
    int w, h;
    sn_viz_pairs_grid_size(1, 28, 28, &w, &h);
    png_stats ps;
    check_png("viz_pairs_one.png", w, h, 10, 0.1, 0.9, &ps, NULL, 0);
    /* errors: no pairs, 2 channels */
    CHECK(sn_viz_pairs_grid(ctx, tpath("x.png"), a1, a1, 0, 1, 28, 28, score, dec, tru, 0) == SN_ERR_ARG);
    CHECK(sn_viz_pairs_grid(ctx, tpath("x.png"), a1, a1, 1, 2, 28, 28, score, dec, tru, 0) == SN_ERR_ARG);
    free(a1);
}

static void test_embedding(sn_ctx *ctx) {
    enum { N = 600, D = 16, K = 6 };
    float *emb = malloc(sizeof(float) * N * D);
    int32_t lab[N];
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        lab[i] = i % K;
        for (int k = 0; k < D; k++)
            emb[i * D + k] = (float)(3.0 * ((k % K) == lab[i]) + (k == K + lab[i] % 3) + 0.4 * noise(&s));
    }
    char names[K][64] = {"airplane", "automobile", "bird", "cat", "deer", "a-very-long-class-name-for-the-legend"};
    uint8_t *im = make_images(N, 3, lab);
    CHECK(sn_viz_embedding_map(ctx, tpath("viz_embedding.png"), emb, N, D, lab, K,
                               (const char (*)[64])names, im, 3, 28, 28, 2) == SN_OK);
    png_stats ps;
    const uint32_t want[1] = {0x1f77b4}; /* class 0: in the legend and the thumbnail frames */
    check_png("viz_embedding.png", SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, 200, 0.04, 0.6, &ps, want, 1);
    CHECK(ps.exact[0] >= 50);
    /* 2-D input, no names, no thumbnails, 25 classes (legend overflows, colours cycle) */
    int32_t lab25[N];
    for (int i = 0; i < N; i++) lab25[i] = i % 25;
    CHECK(sn_viz_embedding_map(ctx, tpath("viz_embedding_2d.png"), emb, N, 2, lab25, 25, NULL,
                               NULL, 0, 0, 0, 0) == SN_OK);
    check_png("viz_embedding_2d.png", SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, 50, 0.02, 0.6, &ps, NULL, 0);
    /* a single point, 1-D */
    CHECK(sn_viz_embedding_map(ctx, tpath("viz_embedding_1.png"), emb, 1, 1, lab, 1, NULL, NULL,
                               0, 0, 0, 0) == SN_OK);
    /* errors */
    lab[5] = K;
    CHECK(sn_viz_embedding_map(ctx, tpath("x.png"), emb, N, D, lab, K, NULL, NULL, 0, 0, 0, 0) == SN_ERR_ARG);
    lab[5] = 5 % K;
    emb[3] = NAN;
    CHECK(sn_viz_embedding_map(ctx, tpath("x.png"), emb, N, D, lab, K, NULL, NULL, 0, 0, 0, 0) == SN_ERR_NUMERIC);
    free(emb);
    free(im);

    /* PCA: points on the line t (1, 2, 2) / 3 in 3-D (+ a small orthogonal wiggle) */
    enum { M = 50 };
    float x[M * 3];
    double proj[M * 2], tm = 0;
    for (int i = 0; i < M; i++) {
        double t = i * 0.37 - 4, e = 0.01 * (i % 2 ? 1 : -1);
        x[3 * i] = (float)(t / 3 + e * 2 / 3.0);
        x[3 * i + 1] = (float)(2 * t / 3 - e * 2 / 3.0);
        x[3 * i + 2] = (float)(2 * t / 3 + e / 3.0 * 1);
        tm += t / M;
    }
    CHECK(sn_viz_pca2(ctx, x, M, 3, proj) == SN_OK);
    double e0 = 0, e1 = 0;
    for (int i = 0; i < M; i++) {
        double t = i * 0.37 - 4;
        e0 = fmax(e0, fabs(proj[2 * i] - (t - tm)));
        e1 = fmax(e1, fabs(proj[2 * i + 1]));
    }
    CHECK(e0 < 1e-3);
    CHECK(e1 < 0.02);
}

static void test_curves(sn_ctx *ctx) {
    const char *log = tpath("viz_train.log.jsonl");
    FILE *f = fopen(log, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "{\"event\":\"start\",\"epochs\":12}\nnot json at all\n\n");
    for (int e = 1; e <= 12; e++)
        fprintf(f, "{\"event\":\"epoch\",\"epoch\":%d,\"step\":%d,\"train_loss\":%.6g,"
                   "\"test_loss\":%s,\"seconds\":1.5,\"pairs_per_s\":1000.0,\"loader_wait_s\":0.010}\n",
                e, 100 * e, 2.0 / e + 0.3, e == 4 ? "null" : (e % 2 ? "1.1" : "0.9"));
    fprintf(f, "{ \"epoch\" : 13 , \"train_loss\" : 0.41 }\n{\"epoch\":14}\n{\"event\":\"epoch\",\"epoch\":15,\"train_loss\":nan}\n");
    fclose(f);
    sn_viz_epoch *ep = NULL;
    int n = 0;
    CHECK(sn_viz_read_training_log(ctx, log, &ep, &n) == SN_OK);
    CHECK(n == 13);
    if (n == 13) {
        CHECK(ep[0].epoch == 1 && fabs(ep[0].train_loss - 2.3) < 1e-9 && fabs(ep[0].test_loss - 1.1) < 1e-9);
        CHECK(isnan(ep[3].test_loss));
        CHECK(ep[12].epoch == 13 && fabs(ep[12].train_loss - 0.41) < 1e-9 && isnan(ep[12].test_loss));
    }
    CHECK(sn_viz_training_curves(ctx, tpath("viz_curves.png"), ep, n) == SN_OK);
    png_stats ps;
    const uint32_t want[2] = {0x1f77b4, 0xff7f0e};
    check_png("viz_curves.png", SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, 30, 0.02, 0.5, &ps, want, 2);
    CHECK(ps.exact[0] >= 100 && ps.exact[1] >= 100); /* both curves drawn */
    /* one epoch without a test loss */
    CHECK(sn_viz_training_curves(ctx, tpath("viz_curves_1.png"), ep + 12, 1) == SN_OK);
    check_png("viz_curves_1.png", SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, 10, 0.01, 0.5, &ps, NULL, 0);
    free(ep);
    /* errors: a missing log names the file; no epochs */
    CHECK(sn_viz_read_training_log(ctx, tpath("no-such.log.jsonl"), &ep, &n) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), "no-such.log.jsonl") != NULL);
    CHECK(sn_viz_training_curves(ctx, tpath("x.png"), NULL, 0) == SN_ERR_ARG);
}

static void test_verification(sn_ctx *ctx) {
    enum { N = 4000 };
    float *dist = malloc(sizeof(float) * N);
    uint8_t *same = malloc(N);
    uint64_t s = 11;
    for (int i = 0; i < N; i++) {
        same[i] = i % 2;
        double g = noise(&s) + noise(&s) + noise(&s); /* roughly normal, sd 1 */
        dist[i] = (float)fabs(same[i] ? 0.8 + 0.25 * g : 1.6 + 0.3 * g);
    }
    CHECK(sn_viz_roc(ctx, tpath("viz_roc.png"), dist, same, N) == SN_OK);
    png_stats ps;
    const uint32_t want[2] = {0x1f77b4, RED};
    check_png("viz_roc.png", SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, 30, 0.03, 0.5, &ps, want, 2);
    CHECK(ps.exact[0] >= 300 && ps.exact[1] >= 60); /* the curve and the EER marker */
    CHECK(sn_viz_distance_hist(ctx, tpath("viz_hist.png"), dist, same, N, 1.2) == SN_OK);
    check_png("viz_hist.png", SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, 30, 0.1, 0.7, &ps, NULL, 0);
    CHECK(sn_viz_distance_hist(ctx, tpath("viz_hist_nothr.png"), dist, same, N, 0) == SN_OK);
    /* errors: one class only, NaN distance */
    memset(same, 1, N);
    CHECK(sn_viz_roc(ctx, tpath("x.png"), dist, same, N) == SN_ERR_ARG);
    same[0] = 0;
    dist[1] = NAN;
    CHECK(sn_viz_distance_hist(ctx, tpath("x.png"), dist, same, N, 1) == SN_ERR_NUMERIC);
    free(dist);
    free(same);
}

static void test_retrieval(sn_ctx *ctx) {
    enum { N = 40, Q = 8, K = 8 };
    int32_t lab[N];
    for (int i = 0; i < N; i++) lab[i] = i % 5;
    uint8_t *im = make_images(N, 1, lab);
    int q[Q], nb[Q * K];
    for (int i = 0; i < Q; i++) {
        q[i] = i * 3;
        for (int j = 0; j < K; j++) nb[i * K + j] = (q[i] + 5 * (j + 1) + (j == 3 || (i == 2 && j > 4))) % N;
    }
    CHECK(sn_viz_retrieval_sheet(ctx, tpath("viz_retrieval.png"), im, lab, N, 1, 28, 28, q, Q, nb, K) == SN_OK);
    int w, h;
    sn_viz_retrieval_sheet_size(Q, K, 28, 28, &w, &h);
    CHECK(w == 2 * 24 + 9 * 90 + 8 * 8 + 28 && h == 56 + 24 + 8 * 90 + 7 * 8 + 40);
    png_stats ps;
    const uint32_t want[2] = {GREEN, RED};
    check_png("viz_retrieval.png", w, h, 20, 0.3, 0.95, &ps, want, 2);
    CHECK(ps.exact[0] >= 40 * 3 * 4 * 84); /* >= 40 green frames, 3 px wide */
    CHECK(ps.exact[1] >= 8 * 3 * 4 * 84);
    nb[5] = N;
    CHECK(sn_viz_retrieval_sheet(ctx, tpath("x.png"), im, lab, N, 1, 28, 28, q, Q, nb, K) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "x.png") != NULL);
    free(im);
}

/* Unwritable destinations fail cleanly, name the file, and leave nothing behind. */
static void test_write_errors(sn_ctx *ctx) {
    float dist[4] = {0.1f, 0.2f, 0.9f, 1.1f};
    uint8_t same[4] = {1, 1, 0, 0};
    const char *bad = "/nonexistent-simnet-dir/roc.png";
    CHECK(sn_viz_roc(ctx, bad, dist, same, 4) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), bad) != NULL);
    /* a path below a regular file */
    const char *file = tpath("viz_plainfile");
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    char under[4200];
    snprintf(under, sizeof under, "%s/roc.png", file);
    CHECK(sn_viz_distance_hist(ctx, under, dist, same, 4, 0.5) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), under) != NULL);
    CHECK(sn_viz_roc(ctx, NULL, dist, same, 4) == SN_ERR_ARG);
    /* an existing figure survives a rejected rewrite; no temporary files are left */
    CHECK(sn_viz_roc(ctx, tpath("viz_keep.png"), dist, same, 4) == SN_OK);
    CHECK(sn_viz_roc(ctx, tpath("viz_keep.png"), dist, same, 1) == SN_ERR_ARG);
    png_stats ps;
    CHECK(png_read(tpath("viz_keep.png"), NULL, 0, &ps) && ps.w == SN_VIZ_PLOT_W);
    DIR *d = opendir(dir);
    int tmp = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, "viz_", 4) && strstr(e->d_name, ".tmp.")) tmp++;
    if (d) closedir(d);
    CHECK(tmp == 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    sn_ctx *ctx = sn_ctx_create(1);
    CHECK(ctx != NULL);
    if (!ctx) return tu_finish("test_viz");
    printf("figures in %s:\n", dir);
    test_pairs_grid(ctx);
    test_embedding(ctx);
    test_curves(ctx);
    test_verification(ctx);
    test_retrieval(ctx);
    test_write_errors(ctx);
    /* the font caches can be released and rebuilt (leak checkers see nothing left) */
    sn_viz_release_caches();
    float d[4] = {0.1f, 0.5f, 0.4f, 0.9f};
    uint8_t sm[4] = {1, 0, 1, 0};
    CHECK(sn_viz_distance_hist(ctx, tpath("viz_after_release.png"), d, sm, 4, 0.45) == SN_OK);
    png_stats ps;
    check_png("viz_after_release.png", SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, 30, 0.02, 0.9, &ps, NULL, 0);
    sn_viz_release_caches();
    sn_ctx_free(ctx);
    return tu_finish("test_viz");
}
