/* test_fetch.c -- the building blocks of simnet fetch (src/data/fetch*.c): md5 of files,
 * tar.gz extraction (prefix filter, rejection of "../" and absolute members), import of
 * IDX-like members from a tgz and from a Debian-style .deb (ar + data.tar.gz), child
 * processes with exit status and timeout, rm -r. The HTTP path is tested for real by
 * tests/cli_fetch.sh against a loopback server. */
#define _POSIX_C_SOURCE 200809L
#include "data/fetch.h"
#include "testutil.h"

#include "core/core.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MD5_ABC "900150983cd24fb0d6963f7d28e17f72"

typedef struct {
    const char *name, *data; /* data NULL: a directory */
    size_t len;              /* 0: strlen(data) */
} member;

static size_t member_len(const member *m) { return m->len ? m->len : strlen(m->data); }

/* Write members as tar (gzip-compressed when gz) into a file, or into mem when path NULL. */
static int write_tar(const char *path, int gz, const member *m, int n, char *mem, size_t cap,
                     size_t *used) {
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gz) archive_write_add_filter_gzip(a);
    int r = path ? archive_write_open_filename(a, path) : archive_write_open_memory(a, mem, cap, used);
    for (int i = 0; r == ARCHIVE_OK && i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, m[i].data ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(e, m[i].data ? 0644 : 0755);
        archive_entry_set_size(e, m[i].data ? (la_int64_t)member_len(&m[i]) : 0);
        r = archive_write_header(a, e);
        if (r == ARCHIVE_OK && m[i].data) archive_write_data(a, m[i].data, member_len(&m[i]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return r == ARCHIVE_OK;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static int file_equals(const char *path, const char *text) {
    char buf[4096];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return n == strlen(text) && !memcmp(buf, text, n);
}

static int exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void test_md5(sn_ctx *ctx, const char *dir) {
    char p[640], hex[33];
    snprintf(p, sizeof p, "%s/abc.txt", dir);
    CHECK(write_text(p, "abc"));
    CHECK(sn_fetch_md5_file(ctx, p, 0, hex) == SN_OK && !strcmp(hex, MD5_ABC));
    CHECK(sn_fetch_md5_file(ctx, p, 1, hex) == SN_OK && !strcmp(hex, MD5_ABC)); /* plain */
    snprintf(p, sizeof p, "%s/abc.gz", dir);
    gzFile gz = gzopen(p, "wb");
    CHECK(gz && gzwrite(gz, "abc", 3) == 3 && gzclose(gz) == Z_OK);
    CHECK(sn_fetch_md5_file(ctx, p, 1, hex) == SN_OK && !strcmp(hex, MD5_ABC));
    CHECK(sn_fetch_md5_file(ctx, p, 0, hex) == SN_OK && strcmp(hex, MD5_ABC) != 0);
    /* a gzip file cut short: content md5 fails with a message naming the file */
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fclose(f);
        CHECK(truncate(p, size - 6) == 0);
    }
    CHECK(sn_fetch_md5_file(ctx, p, 1, hex) == SN_ERR_FORMAT);
    CHECK(strstr(sn_ctx_error(ctx), p) && strstr(sn_ctx_error(ctx), "gzip"));
    snprintf(p, sizeof p, "%s/missing", dir);
    CHECK(sn_fetch_md5_file(ctx, p, 0, hex) == SN_ERR_IO && strstr(sn_ctx_error(ctx), p));
}

static void test_extract(sn_ctx *ctx, const char *dir) {
    char tgz[640], dest[640], p[1024];
    const member good[] = {{"top/", NULL, 0},
                           {"top/a.txt", "hello", 0},
                           {"./top/sub/b.bin", "0123456789", 0},
                           {"other/c.txt", "not wanted", 0}};
    snprintf(tgz, sizeof tgz, "%s/good.tar.gz", dir);
    snprintf(dest, sizeof dest, "%s/x1", dir);
    CHECK(write_tar(tgz, 1, good, 4, NULL, 0, NULL));
    CHECK(mkdir(dest, 0755) == 0);
    int n = -1;
    CHECK(sn_fetch_extract(ctx, tgz, dest, "top/", &n) == SN_OK);
    CHECK(n == 2);
    snprintf(p, sizeof p, "%s/top/a.txt", dest);
    CHECK(file_equals(p, "hello"));
    snprintf(p, sizeof p, "%s/top/sub/b.bin", dest);
    CHECK(file_equals(p, "0123456789"));
    snprintf(p, sizeof p, "%s/other", dest);
    CHECK(!exists(p));
    /* everything, no prefix */
    snprintf(dest, sizeof dest, "%s/x2", dir);
    CHECK(mkdir(dest, 0755) == 0);
    CHECK(sn_fetch_extract(ctx, tgz, dest, NULL, &n) == SN_OK && n == 3);

    /* "../evil": the archive is refused and nothing lands outside dest */
    const member evil[] = {{"top/ok.txt", "ok", 0}, {"../evil", "pwned", 0}, {"top/after.txt", "x", 0}};
    snprintf(tgz, sizeof tgz, "%s/evil.tar.gz", dir);
    snprintf(dest, sizeof dest, "%s/x3", dir);
    CHECK(write_tar(tgz, 1, evil, 3, NULL, 0, NULL));
    CHECK(mkdir(dest, 0755) == 0);
    CHECK(sn_fetch_extract(ctx, tgz, dest, NULL, &n) == SN_ERR_FORMAT);
    CHECK(strstr(sn_ctx_error(ctx), "../evil") && strstr(sn_ctx_error(ctx), tgz));
    snprintf(p, sizeof p, "%s/evil", dir);
    CHECK(!exists(p));
    snprintf(p, sizeof p, "%s/top/after.txt", dest);
    CHECK(!exists(p));
    const member evil2[] = {{"a/../../evil2", "pwned", 0}};
    CHECK(write_tar(tgz, 1, evil2, 1, NULL, 0, NULL));
    CHECK(sn_fetch_extract(ctx, tgz, dest, NULL, &n) == SN_ERR_FORMAT && n == 0);
    snprintf(p, sizeof p, "%s/evil2", dir);
    CHECK(!exists(p));
    char abs[640];
    snprintf(abs, sizeof abs, "%s/abs-evil", dir);
    const member evil3[] = {{abs, "pwned", 0}};
    CHECK(write_tar(tgz, 1, evil3, 1, NULL, 0, NULL));
    CHECK(sn_fetch_extract(ctx, tgz, dest, NULL, &n) == SN_ERR_FORMAT);
    CHECK(strstr(sn_ctx_error(ctx), "absolute") != NULL);
    CHECK(!exists(abs));

    /* not an archive / cut short */
    snprintf(p, sizeof p, "%s/abc.txt", dir);
    CHECK(sn_fetch_extract(ctx, p, dest, NULL, &n) == SN_ERR_FORMAT && strstr(sn_ctx_error(ctx), p));
    snprintf(tgz, sizeof tgz, "%s/good.tar.gz", dir);
    CHECK(truncate(tgz, 40) == 0);
    CHECK(sn_fetch_extract(ctx, tgz, dest, NULL, &n) == SN_ERR_FORMAT);
}

/* Members found by base name (plain ones gzipped on the way), in a tgz and in a .deb. */
static void test_import(sn_ctx *ctx, const char *dir) {
    static const char *const base[3] = {"foo-ubyte", "bar-ubyte", "baz-ubyte"};
    char gzbytes[256], p[1024], hex[33], dest[640];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    zs.next_in = (Bytef *)"abc";
    zs.avail_in = 3;
    zs.next_out = (Bytef *)gzbytes;
    zs.avail_out = sizeof gzbytes;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    size_t gzlen = zs.total_out;
    deflateEnd(&zs);

    const member pkg[] = {{"package/data/foo-ubyte", "abc", 0},
                          {"package/data/bar-ubyte.gz", gzbytes, gzlen},
                          {"package/README", "x", 0}};
    snprintf(p, sizeof p, "%s/pkg.tgz", dir);
    snprintf(dest, sizeof dest, "%s/imp1", dir);
    CHECK(write_tar(p, 1, pkg, 3, NULL, 0, NULL));
    CHECK(mkdir(dest, 0755) == 0);
    unsigned found = 0;
    CHECK(sn_fetch_import_members(ctx, p, base, 3, 7u, dest, &found, NULL) == SN_OK);
    CHECK(found == 3u);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s.gz", dest, base[i]);
        CHECK(sn_fetch_md5_file(ctx, p, 1, hex) == SN_OK && !strcmp(hex, MD5_ABC));
    }

    /* .deb: ar archive holding debian-binary, control.tar.gz, data.tar.gz */
    static char data_tgz[1 << 16];
    size_t used = 0;
    const member data[] = {{"./usr/share/datasets/x/", NULL, 0},
                           {"./usr/share/datasets/x/baz-ubyte.gz", gzbytes, gzlen}};
    CHECK(write_tar(NULL, 1, data, 2, data_tgz, sizeof data_tgz, &used));
    snprintf(p, sizeof p, "%s/pkg.deb", dir);
    struct archive *a = archive_write_new();
    archive_write_set_format_ar_svr4(a);
    CHECK(archive_write_open_filename(a, p) == ARCHIVE_OK);
    const char *names[2] = {"debian-binary", "data.tar.gz"};
    const void *bytes[2] = {"2.0\n", data_tgz};
    size_t sizes[2] = {4, used};
    for (int i = 0; i < 2; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)sizes[i]);
        CHECK(archive_write_header(a, e) == ARCHIVE_OK);
        CHECK(archive_write_data(a, bytes[i], sizes[i]) == (la_ssize_t)sizes[i]);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    snprintf(dest, sizeof dest, "%s/imp2", dir);
    CHECK(mkdir(dest, 0755) == 0);
    CHECK(sn_fetch_import_members(ctx, p, base, 3, 4u, dest, &found, NULL) == SN_OK);
    CHECK(found == 4u);
    snprintf(p, sizeof p, "%s/baz-ubyte.gz", dest);
    CHECK(sn_fetch_md5_file(ctx, p, 0, hex) == SN_OK); /* copied byte for byte */
    CHECK(sn_fetch_md5_file(ctx, p, 1, hex) == SN_OK && !strcmp(hex, MD5_ABC));
}

static void test_run(sn_ctx *ctx, const char *dir) {
    const char *ok[] = {"sh", "-c", "echo fine", NULL};
    CHECK(sn_fetch_run(ctx, ok, dir, 10, NULL) == SN_OK);
    const char *bad[] = {"sh", "-c", "echo first; echo 'it broke' >&2; exit 3", NULL};
    CHECK(sn_fetch_run(ctx, bad, dir, 10, NULL) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), "exit 3") && strstr(sn_ctx_error(ctx), "it broke"));
    const char *none[] = {"simnet-no-such-program", NULL};
    CHECK(sn_fetch_run(ctx, none, dir, 10, NULL) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), "exit 127") != NULL);
    const char *slow[] = {"sleep", "30", NULL};
    double t0 = sn_now();
    CHECK(sn_fetch_run(ctx, slow, dir, 1, NULL) == SN_ERR_IO);
    CHECK(sn_now() - t0 < 5.0 && strstr(sn_ctx_error(ctx), "timed out"));
    volatile sig_atomic_t cancel = 1;
    CHECK(sn_fetch_run(ctx, slow, dir, 60, &cancel) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), "interrupted") != NULL);
}

int main(void) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/sn_fetch_%ld", tu_tmpdir(), (long)getpid());
    sn_fetch_rmtree(dir);
    if (mkdir(dir, 0755)) {
        fprintf(stderr, "cannot create %s\n", dir);
        return 1;
    }
    sn_ctx *ctx = sn_ctx_create(1);
    test_md5(ctx, dir);
    test_extract(ctx, dir);
    test_import(ctx, dir);
    test_run(ctx, dir);
    CHECK(sn_fetch_rmtree(dir) == 0 && !exists(dir));
    sn_ctx_free(ctx);
    return tu_finish("test_fetch");
}
