/* test_tta.c -- test-time augmentation (sn_model_set_tta, sn_model_embed): the spec
 * grammar and its canonical form; the embedding equals the mean over the views computed
 * here independently (own shift / mirror code, one view at a time through a model
 * without augmentation), re-normalised after l2norm and divided by the view count
 * otherwise, across several internal chunks; flip makes the embedding mirror-invariant;
 * the setting survives save/load and enters the fingerprint only when set; flip is
 * refused for mirror-label-augmented models; shifts must fit the input; a header with a
 * bad value is refused by name; embedding whitening keeps the setting. */
#include "nn/nn.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

enum { C = 2, H = 7, W = 9, N = 230 };

static sn_model *make_model(sn_ctx *ctx, const char *spec, int h, int w) {
    sn_model_config cfg = {.arch = spec, .in_c = C, .in_h = h, .in_w = w, .mean = {0.5f, 0.4f},
                           .std = {0.25f, 0.3f}, .seed = 11};
    sn_model *m = NULL;
    CHECK(sn_model_create(ctx, &cfg, &m) == SN_OK);
    return m;
}

/* view (flip, dy, dx) of image `in`, written here without the library's helper */
static void view_of(uint8_t *out, const uint8_t *in, int flip, int dy, int dx) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
                out[(c * H + y) * W + x] =
                    sy >= 0 && sy < H && sx >= 0 && sx < W ? in[(c * H + sy) * W + sx] : 0;
            }
}

/* mean over the views of m0's (no augmentation) embeddings, one view per call */
static void ref_embed(sn_ctx *ctx, sn_model *m0, const uint8_t *px, int n, int flip, int shift,
                      int l2, float *out) {
    const int D = sn_model_embed_dim(m0), img = C * H * W;
    static const int sh[5][2] = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}};
    uint8_t v[C * H * W];
    float e[64];
    for (int i = 0; i < n; i++) {
        double acc[64] = {0};
        int V = 0;
        for (int f = 0; f <= flip; f++)
            for (int s = 0; s < (shift ? 5 : 1); s++, V++) {
                view_of(v, px + (size_t)i * img, f, sh[s][0] * shift, sh[s][1] * shift);
                CHECK(sn_model_embed(ctx, m0, v, 1, e) == SN_OK);
                for (int d = 0; d < D; d++) acc[d] += e[d];
            }
        double q = 0;
        for (int d = 0; d < D; d++) q += acc[d] * acc[d];
        for (int d = 0; d < D; d++) out[i * D + d] = (float)(l2 ? acc[d] / sqrt(q) : acc[d] / V);
    }
}

static void check_spec(sn_ctx *ctx, sn_model *m, const char *spec, const char *canon, int views) {
    sn_status st = sn_model_set_tta(ctx, m, spec);
    CHECK(st == SN_OK);
    if (st) fprintf(stderr, "  spec '%s': %s\n", spec, sn_ctx_error(ctx));
    CHECK(!strcmp(sn_model_tta(m), canon));
    CHECK(sn_model_tta_views(m) == views);
}

static void test_grammar(sn_ctx *ctx) {
    sn_model *m = make_model(ctx, "conv 3 3 1 1; flatten; linear 4", H, W);
    CHECK(!strcmp(sn_model_tta(m), "none") && sn_model_tta_views(m) == 1);
    check_spec(ctx, m, "flip", "flip", 2);
    check_spec(ctx, m, "shift", "shift1", 5);
    check_spec(ctx, m, "shift3", "shift3", 5);
    check_spec(ctx, m, "flip+shift2", "flip+shift2", 10);
    check_spec(ctx, m, "shift4+flip", "flip+shift4", 10);
    check_spec(ctx, m, "none", "none", 1);
    check_spec(ctx, m, "shift2", "shift2", 5);
    const char *bad[] = {"", "flip+flip", "shift0", "shift5", "shift12", "flop", "flip+", "+flip",
                         "shift1+shift2", "none+flip", "FLIP", "shift-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_status st = sn_model_set_tta(ctx, m, bad[i]);
        CHECK(st == SN_ERR_ARG);
        if (st != SN_ERR_ARG) fprintf(stderr, "  bad spec '%s' accepted\n", bad[i]);
        else CHECK(strstr(sn_ctx_error(ctx), "test-time augmentation") != NULL);
        CHECK(!strcmp(sn_model_tta(m), "shift2")); /* unchanged by a refused spec */
    }
    /* a mirror-label-augmented model: flip is another class; shifts are fine */
    CHECK(sn_model_meta_set(ctx, m, "label_augment", "d4") == SN_OK);
    CHECK(sn_model_set_tta(ctx, m, "flip+shift1") == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "--label-augment d4") != NULL);
    CHECK(sn_model_set_tta(ctx, m, "shift1") == SN_OK);
    CHECK(sn_model_meta_set(ctx, m, "label_augment", "rot4") == SN_OK);
    CHECK(sn_model_set_tta(ctx, m, "flip") == SN_OK);
    sn_model_free(m);
    /* the shift must fit the input */
    sn_model *s = make_model(ctx, "flatten; linear 3", 3, 5);
    CHECK(sn_model_set_tta(ctx, s, "shift2") == SN_OK);
    CHECK(sn_model_set_tta(ctx, s, "shift3") == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "3x5") != NULL);
    sn_model_free(s);
}

static void test_embedding(sn_ctx *ctx, const char *spec, int l2) {
    static uint8_t px[N * C * H * W];
    static float got[N * 64], want[N * 64];
    sn_rng r;
    sn_rng_seed(&r, 5, 1);
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(sn_rng_u32(&r) >> 24);
    sn_model *m0 = make_model(ctx, spec, H, W), *m = make_model(ctx, spec, H, W);
    const int D = sn_model_embed_dim(m);
    CHECK(D <= 64);
    const char *tt[] = {"flip", "shift1", "shift2", "flip+shift1"};
    const int fl[] = {1, 0, 0, 1}, sh[] = {0, 1, 2, 1};
    for (int t = 0; t < 4; t++) {
        CHECK(sn_model_set_tta(ctx, m, tt[t]) == SN_OK);
        CHECK(sn_model_embed(ctx, m, px, N, got) == SN_OK); /* N > 1024 / 10: several chunks */
        ref_embed(ctx, m0, px, N, fl[t], sh[t], l2, want);
        double md = tu_max_rel_diff(got, want, (size_t)N * D);
        CHECK(md < 1e-5);
        if (!(md < 1e-5)) fprintf(stderr, "  %s %s: max rel diff %g\n", spec, tt[t], md);
        /* a subset embeds the same as inside the big batch */
        float one[64];
        CHECK(sn_model_embed(ctx, m, px + 17 * C * H * W, 1, one) == SN_OK);
        CHECK(tu_max_rel_diff(one, got + 17 * D, (size_t)D) < 1e-5);
    }
    /* flip: an image and its mirror get the same embedding */
    CHECK(sn_model_set_tta(ctx, m, "flip") == SN_OK);
    static uint8_t mir[N * C * H * W];
    for (int i = 0; i < N; i++) view_of(mir + i * C * H * W, px + i * C * H * W, 1, 0, 0);
    CHECK(sn_model_embed(ctx, m, px, N, got) == SN_OK);
    CHECK(sn_model_embed(ctx, m, mir, N, want) == SN_OK);
    CHECK(tu_max_rel_diff(got, want, (size_t)N * D) < 1e-6);
    /* without l2norm the mean, not a unit vector; with it, unit length */
    double q = 0;
    for (int d = 0; d < D; d++) q += (double)got[d] * got[d];
    if (l2) CHECK_CLOSE(q, 1.0, 1e-5, 0);
    /* none again: the plain embedding, bit for bit */
    CHECK(sn_model_set_tta(ctx, m, "none") == SN_OK);
    CHECK(sn_model_embed(ctx, m, px, N, got) == SN_OK);
    CHECK(sn_model_embed(ctx, m0, px, N, want) == SN_OK);
    CHECK(memcmp(got, want, sizeof(float) * (size_t)N * D) == 0);
    sn_model_free(m0);
    sn_model_free(m);
}

static void test_file(sn_ctx *ctx) {
    sn_model *m = make_model(ctx, "conv 3 3 1 1; bn; relu; flatten; linear 4; l2norm", H, W);
    char fp0[SN_FINGERPRINT_LEN], fp1[SN_FINGERPRINT_LEN], fp2[SN_FINGERPRINT_LEN];
    char fp3[SN_FINGERPRINT_LEN];
    CHECK(sn_model_fingerprint(ctx, m, fp0) == SN_OK);
    CHECK(sn_model_set_tta(ctx, m, "flip+shift2") == SN_OK);
    CHECK(sn_model_fingerprint(ctx, m, fp1) == SN_OK);
    CHECK(strcmp(fp0, fp1) != 0);
    CHECK(sn_model_set_tta(ctx, m, "flip") == SN_OK);
    CHECK(sn_model_fingerprint(ctx, m, fp2) == SN_OK);
    CHECK(strcmp(fp2, fp1) != 0 && strcmp(fp2, fp0) != 0);
    CHECK(sn_model_set_tta(ctx, m, "none") == SN_OK);
    CHECK(sn_model_fingerprint(ctx, m, fp3) == SN_OK);
    CHECK(!strcmp(fp3, fp0)); /* no augmentation: the fingerprint it always had */

    char path[512];
    snprintf(path, sizeof path, "%s/test_tta.snm", tu_tmpdir());
    CHECK(sn_model_set_tta(ctx, m, "shift2+flip") == SN_OK);
    CHECK(sn_model_save(ctx, m, path) == SN_OK);
    sn_model *r = NULL;
    CHECK(sn_model_load(ctx, path, &r) == SN_OK);
    if (r) {
        CHECK(!strcmp(sn_model_tta(r), "flip+shift2") && sn_model_tta_views(r) == 10);
        CHECK(sn_model_fingerprint(ctx, r, fp2) == SN_OK);
        CHECK(!strcmp(fp1, fp2));
        sn_model_free(r);
    }
    /* the same file with the value damaged (CRC recomputed): refused, naming the field */
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 16 && n < sizeof buf);
    unsigned char *p = NULL;
    for (size_t i = 0; i + 15 < n && !p; i++)
        if (!memcmp(buf + i, "tta=flip+shift2\n", 16)) p = buf + i;
    CHECK(p != NULL);
    if (p && n > 4) {
        memcpy(p, "tta=flip+shift7\n", 16);
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(n - 4));
        for (int i = 0; i < 4; i++) buf[n - 4 + i] = (unsigned char)(crc >> (8 * i));
        f = fopen(path, "wb");
        CHECK(f && fwrite(buf, 1, n, f) == n);
        if (f) fclose(f);
        r = NULL;
        CHECK(sn_model_load(ctx, path, &r) == SN_ERR_FORMAT && r == NULL);
        CHECK(strstr(sn_ctx_error(ctx), "header field 'tta'") != NULL);
        CHECK(strstr(sn_ctx_error(ctx), path) != NULL);
    }
    /* a model saved without augmentation has no tta line (files as before) */
    CHECK(sn_model_set_tta(ctx, m, "none") == SN_OK);
    CHECK(sn_model_save(ctx, m, path) == SN_OK);
    f = fopen(path, "rb");
    n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    int has = 0;
    for (size_t i = 0; i + 4 < n; i++) has |= !memcmp(buf + i, "\ntta=", 5);
    CHECK(n > 0 && !has);
    remove(path);
    sn_model_free(m);
}

/* embedding whitening keeps the setting (and fits on single views) */
static void test_whiten_keeps(sn_ctx *ctx) {
    enum { NI = 120 };
    static uint8_t px[NI * C * H * W];
    static int32_t lab[NI];
    sn_rng r;
    sn_rng_seed(&r, 9, 2);
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(sn_rng_u32(&r) >> 24);
    for (int i = 0; i < NI; i++) lab[i] = i % 3;
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = NI, ds.c = C, ds.h = H, ds.w = W, ds.n_classes = 3, ds.pixels = px, ds.labels = lab;
    snprintf(ds.name, sizeof ds.name, "synthetic");
    sn_model *m = make_model(ctx, "conv 4 3 1 1; relu; flatten; linear 5; l2norm", H, W);
    sn_model *w0 = NULL, *w1 = NULL;
    CHECK(sn_model_embed_whiten(ctx, m, &ds, 0.1f, &w0) == SN_OK);
    CHECK(sn_model_set_tta(ctx, m, "shift1") == SN_OK);
    CHECK(sn_model_embed_whiten(ctx, m, &ds, 0.1f, &w1) == SN_OK);
    if (w0 && w1) {
        CHECK(!strcmp(sn_model_tta(w1), "shift1") && !strcmp(sn_model_tta(w0), "none"));
        /* the same whitening either way: fitted on single views */
        CHECK(w0->n_params == w1->n_params);
        CHECK(memcmp(w0->params, w1->params, sizeof(float) * w0->n_params) == 0);
    }
    sn_model_free(w0);
    sn_model_free(w1);
    sn_model_free(m);
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    test_grammar(ctx);
    test_embedding(ctx, "conv 4 3 1 1; bn; relu; maxpool 2; flatten; linear 6; l2norm", 1);
    test_embedding(ctx, "conv 3 3 1 1; relu; flatten; linear 5", 0);
    test_file(ctx);
    test_whiten_keeps(ctx);
    sn_ctx_free(ctx);
    return tu_finish("test_tta");
}
