/* test_npy.c -- .npy round trip (float32 2-D, int32 1-D, empty), 64-byte header
 * alignment and the exact header numpy.save writes; malformed files (bad magic,
 * unsupported version / descr, Fortran order, shape/size mismatch, truncated, junk
 * header) are rejected with a message naming the file; failed writes leave nothing. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "io/npy.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void spit(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    SN_ASSERT(f && fwrite(p, 1, n, f) == n);
    fclose(f);
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Reading path must fail with status want (0 = any failure), name the file, and
 * mention `needle` (NULL = anything). */
static void expect_fail(sn_ctx *ctx, const char *path, sn_status want, const char *needle,
                        const char *what) {
    sn_npy_array a;
    sn_status st = sn_npy_read(ctx, path, &a);
    tu_checks++;
    const char *msg = sn_ctx_error(ctx);
    if (st == SN_OK || (want && st != want) || a.data != NULL || !strstr(msg, path) ||
        (needle && !strstr(msg, needle))) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: status %d, message '%s'\n", what, st, msg);
    }
    if (st == SN_OK) sn_npy_free(&a);
}

/* A file = valid preamble with the given header dict (padded) + nbytes of data. */
static void write_raw(const char *path, int major, const char *dict, size_t nbytes) {
    unsigned char buf[4096];
    size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
    size_t total = (pre + n + 1 + 63) / 64 * 64, hlen = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    if (major == 2) buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, n);
    memset(buf + pre + n, ' ', total - pre - n - 1);
    buf[total - 1] = '\n';
    SN_ASSERT(total + nbytes <= sizeof buf);
    memset(buf + total, 0, nbytes);
    spit(path, buf, total + nbytes);
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(1);
    char path[512], bad[512], lab[512];
    snprintf(path, sizeof path, "%s/npy_rt.npy", tu_tmpdir());
    snprintf(bad, sizeof bad, "%s/npy_bad.npy", tu_tmpdir());
    snprintf(lab, sizeof lab, "%s/npy_rt.labels.npy", tu_tmpdir());

    /* header text: what numpy.save writes (numpy/lib/format.py, version 1.0) */
    char h[256];
    size_t shape2[2] = {10000, 2}, shape1[1] = {7};
    size_t hn = sn_npy_header(h, sizeof h, SN_NPY_F32, 2, shape2);
    CHECK(hn == 128 && hn % 64 == 0);
    const char *want2 = "{'descr': '<f4', 'fortran_order': False, 'shape': (10000, 2), }";
    CHECK(memcmp(h, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK((size_t)(unsigned char)h[8] + 256 * (size_t)(unsigned char)h[9] == hn - 10);
    CHECK(memcmp(h + 10, want2, strlen(want2)) == 0 && h[hn - 1] == '\n' && h[hn - 2] == ' ');
    hn = sn_npy_header(h, sizeof h, SN_NPY_I32, 1, shape1);
    const char *want1 = "{'descr': '<i4', 'fortran_order': False, 'shape': (7,), }";
    CHECK(hn == 128 && memcmp(h + 10, want1, strlen(want1)) == 0 && h[127] == '\n');
    size_t long_shape[2] = {123456789012345, 987654321};
    hn = sn_npy_header(h, sizeof h, SN_NPY_F32, 2, long_shape);
    CHECK(hn % 64 == 0 && hn > 64);
    CHECK(sn_npy_header(h, 40, SN_NPY_F32, 2, shape2) == 0);

    /* round trips: (37, 5) float32, (37) int32, a 0-row array */
    enum { N = 37, D = 5 };
    float e[N * D];
    int32_t l[N];
    for (int i = 0; i < N * D; i++) e[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < N; i++) l[i] = i % 10 - 2;
    size_t sh[2] = {N, D}, shl[1] = {N};
    CHECK(sn_npy_write(ctx, path, SN_NPY_F32, 2, sh, e) == SN_OK);
    CHECK(sn_npy_write(ctx, lab, SN_NPY_I32, 1, shl, l) == SN_OK);
    size_t fsize = 0;
    unsigned char *raw = slurp(path, &fsize);
    CHECK(raw && fsize == 128 + sizeof e);
    sn_npy_array a;
    CHECK(sn_npy_read(ctx, path, &a) == SN_OK);
    CHECK(a.dtype == SN_NPY_F32 && a.ndim == 2 && a.shape[0] == N && a.shape[1] == D && a.count == N * D);
    CHECK(a.data && memcmp(a.data, e, sizeof e) == 0);
    sn_npy_free(&a);
    CHECK(sn_npy_read(ctx, lab, &a) == SN_OK);
    CHECK(a.dtype == SN_NPY_I32 && a.ndim == 1 && a.shape[0] == N && memcmp(a.data, l, sizeof l) == 0);
    sn_npy_free(&a);
    size_t sh0[2] = {0, 16};
    CHECK(sn_npy_write(ctx, bad, SN_NPY_F32, 2, sh0, e) == SN_OK);
    CHECK(sn_npy_read(ctx, bad, &a) == SN_OK && a.ndim == 2 && a.shape[0] == 0 && a.count == 0);
    sn_npy_free(&a);

    /* version 2.0, double quotes, no trailing comma, extra spaces: accepted */
    write_raw(bad, 2, "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":( 3 , 2 )}", 24);
    CHECK(sn_npy_read(ctx, bad, &a) == SN_OK && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 2);
    sn_npy_free(&a);

    /* malformed files */
    unsigned char *cp = malloc(fsize);
    SN_ASSERT(raw && cp);
    memcpy(cp, raw, fsize);
    cp[1] = 'X';
    spit(bad, cp, fsize);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "magic", "bad magic");
    memcpy(cp, raw, fsize);
    cp[6] = 3;
    spit(bad, cp, fsize);
    expect_fail(ctx, bad, SN_ERR_UNSUPPORTED, "version 3.0", "version 3.0");
    spit(bad, raw, fsize - 3);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "truncated", "truncated data");
    spit(bad, raw, 60);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "truncated", "truncated header");
    spit(bad, raw, 7);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "truncated", "truncated preamble");
    memcpy(cp, raw, fsize);
    spit(bad, cp, fsize);
    FILE *f = fopen(bad, "ab");
    SN_ASSERT(f && fwrite("xxxx", 1, 4, f) == 4);
    fclose(f);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "size mismatch", "trailing bytes");
    write_raw(bad, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", 48);
    expect_fail(ctx, bad, SN_ERR_UNSUPPORTED, "'<f8'", "descr <f8");
    write_raw(bad, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", 24);
    expect_fail(ctx, bad, SN_ERR_UNSUPPORTED, "'>f4'", "descr >f4");
    write_raw(bad, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", 24);
    expect_fail(ctx, bad, SN_ERR_UNSUPPORTED, "fortran_order", "fortran order");
    write_raw(bad, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", 24);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "36 bytes", "shape/size mismatch");
    write_raw(bad, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2), }", 24);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "shape", "negative shape");
    write_raw(bad, 1, "{'descr': '<f4', 'shape': (3, 2), }", 24);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "fortran_order", "missing key");
    write_raw(bad, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'x': 1}", 24);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "'x'", "unknown key");
    write_raw(bad, 1, "descr: <f4", 24);
    expect_fail(ctx, bad, SN_ERR_FORMAT, "dict", "not a dict");
    write_raw(bad, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }", 0);
    expect_fail(ctx, bad, SN_ERR_FORMAT, NULL, "shape overflow");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/npy_nonexistent.npy", tu_tmpdir());
    expect_fail(ctx, missing, SN_ERR_IO, NULL, "missing file");

    /* a failed write (directory does not exist) names the file and leaves nothing */
    char nodir[600], tmpname[700];
    snprintf(nodir, sizeof nodir, "%s/npy_no_such_dir/x.npy", tu_tmpdir());
    CHECK(sn_npy_write(ctx, nodir, SN_NPY_F32, 2, sh, e) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), nodir) != NULL);
    CHECK(!exists(nodir));
    /* no temporary remains after a successful write */
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", path, (long)getpid());
    CHECK(exists(path) && !exists(tmpname));

    free(raw);
    free(cp);
    remove(path);
    remove(lab);
    remove(bad);
    sn_ctx_free(ctx);
    return tu_finish("test_npy");
}
