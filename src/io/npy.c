/* npy.c -- NumPy .npy writer (atomic) and validating reader; see npy.h for the format. */
#define _POSIX_C_SOURCE 200809L
#include "io/npy.h"

#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
static const char *DESCR[2] = {"<f4", "<i4"};

static int host_is_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap4(unsigned char *p, size_t n) { /* n elements of 4 bytes, in place */
    for (size_t i = 0; i < n; i++, p += 4) {
        unsigned char t = p[0];
        p[0] = p[3];
        p[3] = t;
        t = p[1];
        p[1] = p[2];
        p[2] = t;
    }
}

size_t sn_npy_header(char *buf, size_t cap, sn_npy_dtype dt, int ndim, const size_t *shape) {
    if ((dt != SN_NPY_F32 && dt != SN_NPY_I32) || ndim < 0 || ndim > SN_NPY_MAX_DIM) return 0;
    char dict[64 + 24 * SN_NPY_MAX_DIM];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                DESCR[dt]);
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%zu", i ? ", " : "", shape[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");
    size_t total = (10 + n + 1 + 63) / 64 * 64; /* magic+version+len, dict, '\n' */
    size_t hlen = total - 10;
    if (total > cap || hlen > 65535) return 0;
    memcpy(buf, MAGIC, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', total - 10 - n - 1);
    buf[total - 1] = '\n';
    return total;
}

/* Write n 4-byte elements little-endian (converted through a buffer on big-endian hosts). */
static int write_le4(sn_atomic_file *fd, const unsigned char *p, size_t n) {
    if (host_is_le()) return sn_atomic_write(fd, p, n * 4);
    unsigned char buf[1 << 14];
    while (n) {
        size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
        memcpy(buf, p, k * 4);
        swap4(buf, k);
        if (!sn_atomic_write(fd, buf, k * 4)) return 0;
        p += k * 4;
        n -= k;
    }
    return 1;
}

sn_status sn_npy_write(sn_ctx *ctx, const char *path, sn_npy_dtype dt, int ndim,
                       const size_t *shape, const void *data) {
    char hdr[1024];
    size_t hn = sn_npy_header(hdr, sizeof hdr, dt, ndim, shape);
    if (!hn) return sn_errf(ctx, SN_ERR_ARG, "%s: invalid dtype or shape (%d dimensions)", path, ndim);
    size_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (!sn_mul_size(count, shape[i], &count))
            return sn_errf(ctx, SN_ERR_ARG, "%s: array size overflows", path);
    if (!sn_mul_size(count, 4, &bytes))
        return sn_errf(ctx, SN_ERR_ARG, "%s: array size overflows", path);
    sn_atomic_file f;
    sn_status st = sn_atomic_open(ctx, &f, path);
    if (st) return st;
    int ok = sn_atomic_write(&f, hdr, hn) && write_le4(&f, data, count);
    return sn_atomic_commit(ctx, &f, ok);
}

/* ------------------------------------------------------------------ reading */
typedef struct {
    const char *p, *end;
} cur;

static void skip_ws(cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* Quoted string ('...' or "...") into out (cap bytes); 0 if malformed or too long. */
static int parse_str(cur *c, char *out, size_t cap) {
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = 0;
    return 1;
}

static int parse_word(cur *c, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || strncmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* "(d0, d1, ...)" with an optional trailing comma; 0 if malformed. */
static int parse_shape(cur *c, int *ndim, size_t *shape) {
    if (c->p >= c->end || *c->p != '(') return 0;
    c->p++;
    *ndim = 0;
    for (;;) {
        skip_ws(c);
        if (c->p < c->end && *c->p == ')') break;
        if (*ndim >= SN_NPY_MAX_DIM || c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
        size_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (SIZE_MAX - 9) / 10) return 0;
            v = v * 10 + (size_t)(*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 longs */
        shape[(*ndim)++] = v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ')') break;
        return 0;
    }
    c->p++;
    return 1;
}

/* Parse the header dict into a (data not allocated). */
static sn_status parse_dict(sn_ctx *ctx, const char *path, const char *h, size_t len,
                            sn_npy_array *a) {
    cur c = {h, h + len};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    char key[32], val[32];
    skip_ws(&c);
    if (c.p >= c.end || *c.p++ != '{')
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: header is not a Python dict (no '{')", path);
    for (;;) {
        skip_ws(&c);
        if (c.p < c.end && *c.p == '}') break;
        if (!parse_str(&c, key, sizeof key))
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: expected a quoted key at byte %ld", path,
                           (long)(c.p - h));
        skip_ws(&c);
        if (c.p >= c.end || *c.p++ != ':')
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: expected ':' after '%s'", path, key);
        skip_ws(&c);
        if (!strcmp(key, "descr")) {
            if (!parse_str(&c, val, sizeof val))
                return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: 'descr' is not a string", path);
            if (!strcmp(val, DESCR[SN_NPY_F32])) a->dtype = SN_NPY_F32;
            else if (!strcmp(val, DESCR[SN_NPY_I32])) a->dtype = SN_NPY_I32;
            else
                return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: descr '%s' is not supported (expected "
                               "'<f4' float32 or '<i4' int32, little-endian)", path, val);
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (parse_word(&c, "True"))
                return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: fortran_order True is not supported "
                               "(save a C-order array, e.g. numpy.ascontiguousarray)", path);
            if (!parse_word(&c, "False"))
                return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: 'fortran_order' is not True/False",
                               path);
            have_fo = 1;
        } else if (!strcmp(key, "shape")) {
            if (!parse_shape(&c, &a->ndim, a->shape))
                return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: 'shape' is not a tuple of at most "
                               "%d non-negative integers", path, SN_NPY_MAX_DIM);
            have_shape = 1;
        } else {
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: unexpected key '%s' (expected descr, "
                           "fortran_order, shape)", path, key);
        }
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        if (c.p < c.end && *c.p == '}') break;
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: expected ',' or '}' at byte %ld", path,
                       (long)(c.p - h));
    }
    c.p++;
    skip_ws(&c);
    if (c.p != c.end)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: header: unexpected text after the dict", path);
    if (!have_descr || !have_fo || !have_shape)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: header lacks '%s'", path,
                       !have_descr ? "descr" : !have_fo ? "fortran_order" : "shape");
    return SN_OK;
}

static sn_status read_file(sn_ctx *ctx, const char *path, FILE *f, sn_npy_array *a) {
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        return sn_errf(ctx, SN_ERR_IO, "%s: not a regular file", path);
    size_t fsize = (size_t)sb.st_size;
    unsigned char pre[12];
    if (fsize < 10 || fread(pre, 1, 10, f) != 10)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than a .npy preamble",
                       path, fsize);
    if (memcmp(pre, MAGIC, 6) != 0)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: not a .npy file (bad magic; expected \\x93NUMPY)",
                       path);
    if ((pre[6] != 1 && pre[6] != 2) || pre[7] != 0)
        return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: .npy version %d.%d is not supported (expected "
                       "1.0 or 2.0)", path, pre[6], pre[7]);
    size_t pos = 10, hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (pre[6] == 2) {
        if (fsize < 12 || fread(pre + 10, 1, 2, f) != 2)
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: truncated in the header length", path);
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        pos = 12;
    }
    if (hlen > fsize - pos || hlen > (1u << 20))
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: truncated: header length %zu, but only %zu bytes "
                       "follow", path, hlen, fsize - pos);
    char *h = sn_malloc(hlen + 1);
    if (!h) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
    sn_status st = SN_OK;
    if (fread(h, 1, hlen, f) != hlen)
        st = sn_errf(ctx, SN_ERR_IO, "%s: read error in the header", path);
    else
        st = parse_dict(ctx, path, h, hlen, a);
    free(h);
    if (st) return st;
    pos += hlen;
    a->count = 1;
    for (int i = 0; i < a->ndim; i++)
        if (!sn_mul_size(a->count, a->shape[i], &a->count))
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: shape overflows", path);
    size_t bytes;
    if (!sn_mul_size(a->count, 4, &bytes))
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: shape overflows", path);
    if (fsize - pos != bytes)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: %s: the shape needs %zu bytes of data after the "
                       "%zu-byte header, the file has %zu", path,
                       fsize - pos < bytes ? "truncated" : "size mismatch", bytes, pos, fsize - pos);
    a->data = sn_malloc(bytes ? bytes : 1);
    if (!a->data) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory for %zu bytes", path, bytes);
    if (fread(a->data, 1, bytes, f) != bytes)
        return sn_errf(ctx, SN_ERR_IO, "%s: read error in the data", path);
    if (!host_is_le()) swap4(a->data, a->count);
    return SN_OK;
}

sn_status sn_npy_read(sn_ctx *ctx, const char *path, sn_npy_array *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return sn_errf(ctx, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    sn_status st = read_file(ctx, path, f, out);
    fclose(f);
    if (st) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void sn_npy_free(sn_npy_array *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
