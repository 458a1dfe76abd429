/* fetch_archive.c -- md5 of files (OpenSSL EVP) and archive reading (libarchive) for fetch. */
#define _POSIX_C_SOURCE 200809L
#include "data/fetch.h"

#include "core/core.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SN_FETCH_BUF (1 << 17)

sn_status sn_fetch_md5_file(sn_ctx *ctx, const char *path, int content, char hex[33]) {
    unsigned char *buf = sn_malloc(SN_FETCH_BUF), md[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    sn_status st = SN_OK;
    if (!buf || !mc || !EVP_DigestInit_ex(mc, EVP_md5(), NULL)) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "%s: cannot set up an md5 computation", path);
        goto done;
    }
    if (content) {
        gzFile gz = gzopen(path, "rb");
        if (!gz) {
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
            goto done;
        }
        gzbuffer(gz, SN_FETCH_BUF);
        size_t total = 0;
        for (;;) {
            int n = gzread(gz, buf, SN_FETCH_BUF);
            if (n > 0) {
                EVP_DigestUpdate(mc, buf, (size_t)n);
                total += (size_t)n;
                continue;
            }
            int zerr = Z_OK;
            const char *msg = gzerror(gz, &zerr);
            size_t pl = strlen(path);
            if (msg && !strncmp(msg, path, pl) && !strncmp(msg + pl, ": ", 2)) msg += pl + 2;
            if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
                st = sn_errf(ctx, SN_ERR_FORMAT,
                             "%s: not a valid gzip stream (%s, after %zu uncompressed bytes)",
                             path, msg ? msg : "?", total);
            break;
        }
        gzclose(gz);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f) {
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
            goto done;
        }
        size_t n;
        while ((n = fread(buf, 1, SN_FETCH_BUF, f)) > 0) EVP_DigestUpdate(mc, buf, n);
        if (ferror(f)) st = sn_errf(ctx, SN_ERR_IO, "%s: read error", path);
        fclose(f);
    }
    unsigned mdlen = 0;
    if (st == SN_OK && !EVP_DigestFinal_ex(mc, md, &mdlen))
        st = sn_errf(ctx, SN_ERR_IO, "%s: md5 computation failed", path);
    for (unsigned i = 0; st == SN_OK && i < mdlen && i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
done:
    EVP_MD_CTX_free(mc);
    free(buf);
    return st;
}

/* Absolute, or any ".." component. */
static int sn_unsafe_member(const char *name) {
    if (name[0] == '/') return 1;
    for (const char *p = name; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.') return 1;
        p += len;
        while (*p == '/') p++;
    }
    return 0;
}

/* mkdir -p of dest/rel (rel relative, already checked safe). */
static int sn_mkdirs(const char *path) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return (mkdir(tmp, 0755) && errno != EEXIST) ? -1 : 0;
}

static struct archive *sn_archive_open(sn_ctx *ctx, const char *path, int with_ar,
                                       sn_status *st) {
    struct archive *a = archive_read_new();
    if (!a) {
        *st = sn_errf(ctx, SN_ERR_NOMEM, "%s: cannot create an archive reader", path);
        return NULL;
    }
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (with_ar) archive_read_support_format_ar(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_filename(a, path, SN_FETCH_BUF) != ARCHIVE_OK) {
        *st = sn_errf(ctx, SN_ERR_FORMAT, "%s: cannot read as an archive: %s", path,
                      archive_error_string(a));
        archive_read_free(a);
        return NULL;
    }
    *st = SN_OK;
    return a;
}

/* Write the data of the current entry of a to fd (plain) or gz (when non-NULL). */
static sn_status sn_copy_data(sn_ctx *ctx, struct archive *a, int fd, gzFile gz,
                              const char *archive, const char *member, const char *out) {
    char buf[1 << 16];
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf, sizeof buf);
        if (n == 0) return SN_OK;
        if (n < 0)
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: member '%s': %s", archive, member,
                           archive_error_string(a));
        if (gz) {
            if (gzwrite(gz, buf, (unsigned)n) != (int)n)
                return sn_errf(ctx, SN_ERR_IO, "%s: cannot write (gzip)", out);
        } else {
            for (la_ssize_t off = 0; off < n;) {
                ssize_t w = write(fd, buf + off, (size_t)(n - off));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0)
                    return sn_errf(ctx, SN_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
                off += w;
            }
        }
    }
}

sn_status sn_fetch_extract(sn_ctx *ctx, const char *archive, const char *dest,
                           const char *prefix, int *n_files) {
    sn_status st;
    struct archive *a = sn_archive_open(ctx, archive, 0, &st);
    if (n_files) *n_files = 0;
    if (!a) return st;
    struct archive_entry *e;
    int r, nf = 0;
    size_t plen = prefix ? strlen(prefix) : 0;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!name) {
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: a member has no name", archive);
            break;
        }
        if (sn_unsafe_member(name)) {
            st = sn_errf(ctx, SN_ERR_FORMAT,
                         "%s: member '%s' has an absolute path or a '..' component: "
                         "refusing to extract this archive",
                         archive, name);
            break;
        }
        while (name[0] == '.' && name[1] == '/') name += 2;
        mode_t type = archive_entry_filetype(e);
        int in_prefix = !prefix || !strncmp(name, prefix, plen) ||
                        (strlen(name) + 1 == plen && !strncmp(name, prefix, plen - 1));
        if (!*name || !in_prefix || (type != AE_IFREG && type != AE_IFDIR)) continue;
        char out[4096];
        if (snprintf(out, sizeof out, "%s/%s", dest, name) >= (int)sizeof out) {
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: member '%s': path too long", archive, name);
            break;
        }
        if (type == AE_IFDIR) {
            if (sn_mkdirs(out)) {
                st = sn_errf(ctx, SN_ERR_IO, "%s: cannot create: %s", out, strerror(errno));
                break;
            }
            continue;
        }
        char *slash = strrchr(out, '/');
        *slash = 0;
        int mk = sn_mkdirs(out);
        *slash = '/';
        int fd = mk ? -1 : open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot create: %s", out, strerror(errno));
            break;
        }
        st = sn_copy_data(ctx, a, fd, NULL, archive, name, out);
        if (close(fd) && st == SN_OK)
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
        if (st) break;
        nf++;
    }
    if (st == SN_OK && r != ARCHIVE_EOF)
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: corrupt or truncated archive: %s", archive,
                     archive_error_string(a));
    archive_read_free(a);
    if (n_files) *n_files = nf;
    return st;
}

/* Reading a nested archive (data.tar.* inside a .deb) straight from the outer one. */
typedef struct {
    struct archive *outer;
    char buf[SN_FETCH_BUF];
} sn_nested;

static la_ssize_t sn_nested_read(struct archive *a, void *user, const void **out) {
    (void)a;
    sn_nested *n = user;
    *out = n->buf;
    return archive_read_data(n->outer, n->buf, sizeof n->buf);
}

typedef struct {
    const char *archive, *dest;
    const char *const *base;
    int nbase;
    unsigned want, found;
    const volatile sig_atomic_t *cancel;
} sn_import;

static sn_status sn_import_scan(sn_ctx *ctx, sn_import *im, struct archive *a, int depth);

static sn_status sn_import_nested(sn_ctx *ctx, sn_import *im, struct archive *outer,
                                  const char *member) {
    sn_nested *n = sn_malloc(sizeof *n);
    struct archive *in = archive_read_new();
    sn_status st = SN_OK;
    if (!n || !in) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory reading '%s'", im->archive, member);
    } else {
        n->outer = outer;
        archive_read_support_format_tar(in);
        archive_read_support_format_gnutar(in);
        archive_read_support_filter_all(in);
        if (archive_read_open(in, n, NULL, sn_nested_read, NULL) != ARCHIVE_OK)
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: member '%s': %s", im->archive, member,
                         archive_error_string(in));
        else
            st = sn_import_scan(ctx, im, in, 1);
    }
    if (in) archive_read_free(in);
    free(n);
    return st;
}

static sn_status sn_import_member(sn_ctx *ctx, sn_import *im, struct archive *a, int i,
                                  const char *name, int is_gz) {
    char out[4096];
    if (snprintf(out, sizeof out, "%s/%s.gz", im->dest, im->base[i]) >= (int)sizeof out)
        return sn_errf(ctx, SN_ERR_ARG, "%s: path too long", im->dest);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (fd < 0) return sn_errf(ctx, SN_ERR_IO, "%s: cannot create: %s", out, strerror(errno));
    gzFile gz = NULL;
    if (!is_gz && !(gz = gzdopen(fd, "wb6"))) {
        close(fd);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: cannot start gzip compression", out);
    }
    sn_status st = sn_copy_data(ctx, a, fd, gz, im->archive, name, out);
    if (gz) {
        if (gzclose(gz) != Z_OK && st == SN_OK)
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot finish the gzip file", out);
    } else if (close(fd) && st == SN_OK) {
        st = sn_errf(ctx, SN_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
    }
    if (st == SN_OK) im->found |= 1u << i;
    return st;
}

static sn_status sn_import_scan(sn_ctx *ctx, sn_import *im, struct archive *a, int depth) {
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (im->cancel && *im->cancel)
            return sn_errf(ctx, SN_ERR_IO, "%s: interrupted", im->archive);
        const char *name = archive_entry_pathname(e);
        if (!name || sn_unsafe_member(name)) continue;
        const char *bn = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        if (depth == 0 && !strncmp(bn, "data.tar", 8)) {
            sn_status st = sn_import_nested(ctx, im, a, name);
            if (st) return st;
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        size_t bl = strlen(bn);
        int is_gz = bl > 3 && !strcmp(bn + bl - 3, ".gz");
        for (int i = 0; i < im->nbase; i++) {
            if (!(im->want & ~im->found & (1u << i))) continue;
            size_t l = strlen(im->base[i]);
            if (bl != l + (is_gz ? 3u : 0u) || strncmp(bn, im->base[i], l)) continue;
            sn_status st = sn_import_member(ctx, im, a, i, name, is_gz);
            if (st) return st;
            break;
        }
    }
    if (r != ARCHIVE_EOF)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: corrupt or truncated archive: %s", im->archive,
                       archive_error_string(a));
    return SN_OK;
}

sn_status sn_fetch_import_members(sn_ctx *ctx, const char *archive, const char *const *base,
                                  int nbase, unsigned want, const char *dest, unsigned *found,
                                  const volatile sig_atomic_t *cancel) {
    sn_import im = {archive, dest, base, nbase, want, 0, cancel};
    sn_status st;
    *found = 0;
    struct archive *a = sn_archive_open(ctx, archive, 1, &st);
    if (!a) return st;
    st = sn_import_scan(ctx, &im, a, 0);
    archive_read_free(a);
    *found = im.found;
    return st;
}
