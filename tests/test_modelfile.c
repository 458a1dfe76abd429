/* test_modelfile.c -- model file round trip, and truncated / corrupted / wrong-version
 * / NaN files rejected with a message naming the file (never a crash). */
#include "nn/nn.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void spit(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    SN_ASSERT(f && fwrite(p, 1, n, f) == n);
    fclose(f);
}

static void fix_crc(unsigned char *p, size_t n) {
    uint32_t c = (uint32_t)crc32(0L, p, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) p[n - 4 + (size_t)i] = (unsigned char)(c >> (8 * i));
}

/* Loading path must fail with status want (0 = any failure) and name the file. */
static void expect_fail(sn_ctx *ctx, const char *path, sn_status want, const char *what) {
    sn_model *m = (sn_model *)1;
    sn_status st = sn_model_load(ctx, path, &m);
    tu_checks++;
    if (st == SN_OK || (want && st != want) || m != NULL || !strstr(sn_ctx_error(ctx), path)) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: status %d, message '%s'\n", what, st, sn_ctx_error(ctx));
    }
    if (st == SN_OK) sn_model_free(m);
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(2);
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/rt_model.snm", tu_tmpdir());
    snprintf(bad, sizeof bad, "%s/rt_bad.snm", tu_tmpdir());

    sn_model_config cfg = {.arch = "seed", .in_c = 1, .in_h = 28, .in_w = 28, .mean = {0.1307f, 0, 0},
                           .std = {0.3081f, 1, 1}, .seed = 7};
    sn_model *m = NULL;
    CHECK(sn_model_create(ctx, &cfg, &m) == SN_OK);
    for (size_t i = 0; i < m->n_bufs; i++) m->bufs[i] = 0.5f + 0.001f * (float)i;
    sn_model_set_threshold(m, 1.25f);
    CHECK(sn_model_meta_set(ctx, m, "dataset", "mnist") == SN_OK);
    CHECK(sn_model_meta_set(ctx, m, "note", "a b=c") == SN_OK);
    CHECK(sn_model_meta_set(ctx, m, "bad\nkey", "x") == SN_ERR_ARG);
    CHECK(sn_model_save(ctx, m, path) == SN_OK);

    sn_model *r = NULL;
    CHECK(sn_model_load(ctx, path, &r) == SN_OK);
    if (!r) return tu_finish("test_modelfile");
    CHECK(r->n_params == m->n_params && r->n_bufs == m->n_bufs);
    CHECK(memcmp(r->params, m->params, m->n_params * sizeof(float)) == 0);
    CHECK(memcmp(r->bufs, m->bufs, m->n_bufs * sizeof(float)) == 0);
    CHECK(sn_model_threshold(r) == 1.25f);
    CHECK(!strcmp(sn_model_arch(r), "seed"));
    CHECK(!strcmp(sn_model_meta_get(r, "note"), "a b=c"));
    CHECK(r->mean[0] == m->mean[0] && r->std[0] == m->std[0]);
    /* same embeddings from the original and the reloaded model */
    uint8_t img[2 * 784];
    for (int i = 0; i < 2 * 784; i++) img[i] = (uint8_t)(i * 37 % 251);
    float e1[4], e2[4];
    CHECK(sn_model_embed(ctx, m, img, 2, e1) == SN_OK);
    CHECK(sn_model_embed(ctx, r, img, 2, e2) == SN_OK);
    CHECK(memcmp(e1, e2, sizeof e1) == 0);
    sn_model_free(r);

    size_t n;
    unsigned char *good = slurp(path, &n), *p = malloc(n);
    SN_ASSERT(good && p);
    /* every truncation length in the header region, then a spread over the tensors */
    for (size_t len = 0; len < n; len += len < 600 ? 1 : 997) {
        spit(bad, good, len);
        expect_fail(ctx, bad, 0, "truncated");
    }
    /* single-byte corruption anywhere: checksum */
    for (size_t off = 0; off < n; off += 1231) {
        memcpy(p, good, n);
        p[off] ^= 0x40;
        spit(bad, p, n);
        expect_fail(ctx, bad, 0, "bit flip");
    }
    /* wrong version (checksum fixed so the version check is what fails) */
    memcpy(p, good, n);
    p[8] = 9;
    fix_crc(p, n);
    spit(bad, p, n);
    expect_fail(ctx, bad, SN_ERR_UNSUPPORTED, "version");
    CHECK(strstr(sn_ctx_error(ctx), "version 9") != NULL);
    /* NaN weight with a valid checksum */
    memcpy(p, good, n);
    uint32_t hlen = (uint32_t)p[12] | (uint32_t)p[13] << 8 | (uint32_t)p[14] << 16 | (uint32_t)p[15] << 24;
    size_t w0 = 16 + hlen + 8 + 4 * 10;
    p[w0] = 0; p[w0 + 1] = 0; p[w0 + 2] = 0xc0; p[w0 + 3] = 0x7f;
    fix_crc(p, n);
    spit(bad, p, n);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "NaN weight");
    CHECK(strstr(sn_ctx_error(ctx), "not finite") != NULL);
    /* a directory, an empty file, a missing file */
    expect_fail(ctx, tu_tmpdir(), 0, "directory");
    spit(bad, good, 0);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "empty");
    snprintf(bad, sizeof bad, "%s/does_not_exist.snm", tu_tmpdir());
    expect_fail(ctx, bad, SN_ERR_IO, "missing");
    /* saving into a missing directory fails cleanly; the old file is untouched */
    snprintf(bad, sizeof bad, "%s/no/such/dir/m.snm", tu_tmpdir());
    CHECK(sn_model_save(ctx, m, bad) == SN_ERR_IO);
    CHECK(sn_model_save(ctx, m, "/dev/full/x.snm") == SN_ERR_IO);

    free(good);
    free(p);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return tu_finish("test_modelfile");
}
