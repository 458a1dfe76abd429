/*
 * modelfile.c -- the self-describing model file (format: docs/model-format.md).
 *
 *   "SNMODEL\0"            8 bytes magic
 *   u32 version            = 1
 *   u32 header_bytes       H (<= 1 MiB)
 *   H bytes                text header, "key=value\n" lines (arch, spec, input, mean,
 *                          std, threshold, op (repeatable), embed_dim, n_params, n_bufs,
 *                          meta.<key>)
 *   u64 n_params, n_params x f32     parameters (slab layout of the spec)
 *   u64 n_bufs,   n_bufs x f32       buffers (BN running mean/var)
 *   u32 crc32                        zlib CRC-32 of every preceding byte
 * All integers and floats little-endian. Saving is atomic (temp file, fsync, rename).
 */
#define _POSIX_C_SOURCE 200809L
#include "nn/nn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SN_MODEL_MAGIC "SNMODEL"
#define SN_MODEL_VERSION 1u
#define SN_MODEL_MAX_HEADER (1u << 20)

/* ------------------------------------------------------------ byte buffer */
typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} bbuf;

static void bb_put(bbuf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = sn_realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void bb_u32(bbuf *b, uint32_t v) {
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    bb_put(b, c, 4);
}
static void bb_u64(bbuf *b, uint64_t v) {
    bb_u32(b, (uint32_t)v);
    bb_u32(b, (uint32_t)(v >> 32));
}
static void bb_f32s(bbuf *b, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        bb_u32(b, u);
    }
}
static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd_u64(const unsigned char *p) { return rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }

/* --------------------------------------------------------------------- save */
sn_status sn_model_save(sn_ctx *ctx, const sn_model *m, const char *path) {
    bbuf hb = {0}, b = {0};
    char line[SN_SPEC_CAP + 64];
    int n;
#define HDR(...)                                                                          \
    do {                                                                                  \
        n = snprintf(line, sizeof line, __VA_ARGS__);                                     \
        bb_put(&hb, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);          \
    } while (0)
    HDR("arch=%s\n", m->arch);
    HDR("spec=%s\n", m->spec);
    HDR("input=%d %d %d\n", m->in_c, m->in_h, m->in_w);
    HDR("mean=%.9g %.9g %.9g\n", m->mean[0], m->mean[1], m->mean[2]);
    HDR("std=%.9g %.9g %.9g\n", m->std[0], m->std[1], m->std[2]);
    HDR("threshold=%.9g\n", m->threshold);
    for (int i = 0; i < m->n_ops; i++) {
        const sn_operating_point *o = &m->ops[i];
        HDR("op=%s %.9g %.9g %.9g %.9g %.9g %.9g %d\n", o->name, (double)o->threshold, o->far, o->tar,
            o->precision, o->f1, o->accuracy, o->n_pairs);
    }
    HDR("embed_dim=%d\n", m->embed_dim);
    HDR("n_params=%zu\n", m->n_params);
    HDR("n_bufs=%zu\n", m->n_bufs);
    for (int i = 0; i < m->n_meta; i++) {
        bb_put(&hb, "meta.", 5);
        bb_put(&hb, m->meta_key[i], strlen(m->meta_key[i]));
        bb_put(&hb, "=", 1);
        bb_put(&hb, m->meta_val[i], strlen(m->meta_val[i]));
        bb_put(&hb, "\n", 1);
    }
    if (m->tta[0]) HDR("tta=%s\n", m->tta); /* absent = none (files as before it existed) */
#undef HDR
    bb_put(&b, SN_MODEL_MAGIC, 8);
    bb_u32(&b, SN_MODEL_VERSION);
    bb_u32(&b, (uint32_t)hb.n);
    if (!hb.oom) bb_put(&b, hb.p, hb.n);
    bb_u64(&b, m->n_params);
    bb_f32s(&b, m->params, m->n_params);
    bb_u64(&b, m->n_bufs);
    bb_f32s(&b, m->bufs, m->n_bufs);
    free(hb.p);
    if (b.oom || hb.oom || hb.n > SN_MODEL_MAX_HEADER) {
        free(b.p);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory serialising the model", path);
    }
    bb_u32(&b, (uint32_t)crc32(0L, b.p, (uInt)b.n));
    if (b.oom) {
        free(b.p);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory serialising the model", path);
    }

    sn_atomic_file f;
    sn_status st = sn_atomic_open(ctx, &f, path);
    if (!st) st = sn_atomic_commit(ctx, &f, sn_atomic_write(&f, b.p, b.n));
    free(b.p);
    return st;
}

/* --------------------------------------------------------------------- load */
/* Exactly n (<= 3) decimal integers 0..max separated by blanks (sscanf's %d has undefined
 * behaviour on overflow, so it is not used on file contents). */
static int parse_ints(const char *v, int n, long max, int *a, int *b, int *c) {
    int *dst[3] = {a, b, c};
    for (int i = 0; i < n; i++) {
        char *end;
        while (*v == ' ' || *v == '\t') v++;
        if (*v < '0' || *v > '9') return 0;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || x > max) return 0;
        *dst[i] = (int)x;
        v = end;
    }
    while (*v == ' ' || *v == '\t' || *v == '\r') v++;
    return *v == '\0';
}

/* One decimal size_t. */
static int parse_size(const char *v, size_t *out) {
    char *end;
    if (*v < '0' || *v > '9') return 0;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || x > SIZE_MAX || (*end && *end != '\r')) return 0;
    *out = (size_t)x;
    return 1;
}

static sn_status parse_header(sn_ctx *ctx, const char *path, sn_model *m, char *h, size_t *np,
                              size_t *nb) {
    int have_spec = 0, have_input = 0;
    char *save = NULL, tta[64] = "";
    for (char *ln = strtok_r(h, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(ln, '=');
        if (!eq) return sn_errf(ctx, SN_ERR_FORMAT, "%s: header line '%.40s' has no '='", path, ln);
        *eq = 0;
        const char *k = ln, *v = eq + 1;
        int ok = 1;
        if (!strcmp(k, "arch")) {
            snprintf(m->arch, sizeof m->arch, "%s", v);
        } else if (!strcmp(k, "spec")) {
            if (strlen(v) >= sizeof m->spec) ok = 0;
            else strcpy(m->spec, v), have_spec = 1;
        } else if (!strcmp(k, "input")) {
            ok = parse_ints(v, 3, 1 << 20, &m->in_c, &m->in_h, &m->in_w);
            have_input = ok;
        } else if (!strcmp(k, "mean")) {
            ok = sscanf(v, "%f %f %f", &m->mean[0], &m->mean[1], &m->mean[2]) == 3;
            for (int c = 0; ok && c < 3; c++) ok = isfinite(m->mean[c]);
        } else if (!strcmp(k, "std")) {
            ok = sscanf(v, "%f %f %f", &m->std[0], &m->std[1], &m->std[2]) == 3;
            /* > 0 for the input's channels, checked below (unused ones may be 0) */
            for (int c = 0; ok && c < 3; c++) ok = m->std[c] >= 0 && isfinite(m->std[c]);
        } else if (!strcmp(k, "threshold")) {
            ok = sscanf(v, "%f", &m->threshold) == 1 && isfinite(m->threshold) && m->threshold >= 0;
        } else if (!strcmp(k, "n_params")) {
            ok = parse_size(v, np);
        } else if (!strcmp(k, "n_bufs")) {
            ok = parse_size(v, nb);
        } else if (!strcmp(k, "op")) {
            sn_operating_point o;
            memset(&o, 0, sizeof o);
            int used = 0;
            ok = sscanf(v, "%31s %f %lf %lf %lf %lf %lf%n", o.name, &o.threshold, &o.far, &o.tar,
                        &o.precision, &o.f1, &o.accuracy, &used) == 7 &&
                 parse_ints(v + used, 1, INT_MAX, &o.n_pairs, NULL, NULL);
            if (ok && sn_model_op_set(ctx, m, &o) != SN_OK) ok = 0;
        } else if (!strcmp(k, "tta")) { /* applied below, once the metadata is read */
            ok = strlen(v) < sizeof tta;
            if (ok) strcpy(tta, v);
        } else if (!strncmp(k, "meta.", 5)) {
            sn_status st = sn_model_meta_set(ctx, m, k + 5, v);
            if (st) {
                char why[SN_ERRMSG_CAP];
                snprintf(why, sizeof why, "%s", sn_ctx_error(ctx));
                return sn_errf(ctx, st == SN_ERR_NOMEM ? st : SN_ERR_FORMAT, "%s: header: %s",
                               path, why);
            }
        } /* unknown keys (embed_dim, future additions) are ignored */
        if (!ok) return sn_errf(ctx, SN_ERR_FORMAT, "%s: header field '%s' has a bad value '%.60s'",
                                path, k, v);
    }
    if (!have_spec || !have_input)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: header lacks the %s field", path,
                       have_spec ? "input" : "spec");
    if (tta[0] && sn_model_set_tta(ctx, m, tta) != SN_OK) {
        char why[SN_ERRMSG_CAP];
        snprintf(why, sizeof why, "%s", sn_ctx_error(ctx));
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: header field 'tta' has a bad value: %s", path, why);
    }
    for (int c = 0; c < m->in_c && c < 3; c++)
        if (!(m->std[c] > 0))
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: header field 'std' has a bad value: channel %d of the %d-channel "
                           "input has std %g (must be > 0)", path, c, m->in_c, (double)m->std[c]);
    return SN_OK;
}

/* Name of the tensor holding element i of the params (bufs = 0) or buffers (bufs = 1)
 * slab, in the slab order of docs/model-format.md: "layer 3 (conv) weight[17]". */
static void tensor_name(const sn_model *m, int bufs, size_t i, char *out, size_t cap) {
    for (int l = 0; l < m->n_layers; l++) {
        const sn_layer *L = &m->layers[l];
        size_t off = bufs ? L->b_off : L->p_off, n = bufs ? L->n_b : L->n_p;
        if (i < off || i - off >= n) continue;
        size_t j = i - off, split = n / 2; /* bn: (gamma, beta) / (running_mean, running_var) */
        const char *a = bufs ? "running_mean" : "gamma", *b = bufs ? "running_var" : "beta";
        if (L->kind == SN_LAYER_CONV2D || L->kind == SN_LAYER_LINEAR || L->kind == SN_LAYER_WHITEN) {
            split = n - (size_t)L->hp[0]; /* weight, then bias (OUT) */
            a = "weight";
            b = "bias";
        }
        snprintf(out, cap, "layer %d (%s) %s[%zu]", l + 1, sn_layer_ops_get(L->kind)->name,
                 j < split ? a : b, j < split ? j : j - split);
        return;
    }
    snprintf(out, cap, "%s[%zu]", bufs ? "buffers" : "parameters", i);
}

static sn_status load_bytes(sn_ctx *ctx, const char *path, unsigned char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return sn_errf(ctx, SN_ERR_IO, "%s: cannot open model file: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sn_errf(ctx, SN_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size > ((off_t)1 << 34)) {
        fclose(f);
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: file too large for a model (%lld bytes)", path,
                       (long long)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *p = sn_malloc(n ? n : 1);
    if (!p) {
        fclose(f);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(p, 1, n, f);
    fclose(f);
    if (got != n) {
        free(p);
        return sn_errf(ctx, SN_ERR_IO, "%s: read %zu of %zu bytes", path, got, n);
    }
    *out = p;
    *len = n;
    return SN_OK;
}

sn_status sn_model_load(sn_ctx *ctx, const char *path, sn_model **out) {
    *out = NULL;
    unsigned char *p = NULL;
    size_t len = 0;
    sn_status st = load_bytes(ctx, path, &p, &len);
    if (st) return st;
    sn_model *m = NULL;
    char *hdr = NULL;
    if (len < 16 || memcmp(p, SN_MODEL_MAGIC, 8) != 0) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: not a simnet model file (bad magic; expected "
                                         "\"SNMODEL\")", path);
        goto fail;
    }
    uint32_t ver = rd_u32(p + 8), hlen = rd_u32(p + 12);
    if (ver != SN_MODEL_VERSION) {
        st = sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: model format version %u is not supported "
                                              "(this simnet reads version %u; retrain or convert "
                                              "with a matching simnet)", path, ver, SN_MODEL_VERSION);
        goto fail;
    }
    if (hlen > SN_MODEL_MAX_HEADER || (size_t)hlen + 16 + 8 > len) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: truncated or corrupt: header of %u bytes does not fit "
                                         "in a %zu-byte file", path, hlen, len);
        goto fail;
    }
    uint32_t crc_stored = rd_u32(p + len - 4);
    if ((uint32_t)crc32(0L, p, (uInt)(len - 4)) != crc_stored) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: checksum mismatch (file truncated or corrupted)", path);
        goto fail;
    }
    m = sn_calloc(1, sizeof *m);
    hdr = sn_malloc((size_t)hlen + 1);
    if (!m || !hdr) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    memcpy(hdr, p + 16, hlen);
    hdr[hlen] = 0;
    if (strlen(hdr) != hlen) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: header contains a NUL byte", path);
        goto fail;
    }
    size_t np = 0, nb = 0;
    m->std[0] = m->std[1] = m->std[2] = 1.0f;
    st = parse_header(ctx, path, m, hdr, &np, &nb);
    if (st) goto fail;
    st = sn_model_build(ctx, m, m->spec);
    if (st) {
        char why[SN_ERRMSG_CAP];
        snprintf(why, sizeof why, "%s", sn_ctx_error(ctx));
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: %s", path, why);
        goto fail;
    }
    if (np != m->n_params || nb != m->n_bufs) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: header says %zu parameters / %zu buffers but the "
                                         "architecture has %zu / %zu", path, np, nb, m->n_params,
                     m->n_bufs);
        goto fail;
    }
    size_t off = 16 + hlen;
    size_t need = off + 8 + 4 * np + 8 + 4 * nb + 4;
    if (len != need) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: size %zu bytes, expected %zu for %zu parameters", path,
                     len, need, np);
        goto fail;
    }
    if (rd_u64(p + off) != np || rd_u64(p + off + 8 + 4 * np) != nb) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: tensor counts disagree with the header", path);
        goto fail;
    }
    st = sn_model_alloc_slabs(ctx, m);
    if (st) goto fail;
    const unsigned char *q = p + off + 8;
    for (size_t i = 0; i < np; i++, q += 4) {
        uint32_t u = rd_u32(q);
        memcpy(&m->params[i], &u, 4);
        if (!isfinite(m->params[i])) {
            char name[96];
            tensor_name(m, 0, i, name, sizeof name);
            st = sn_errf(ctx, SN_ERR_FORMAT,
                         "%s: tensor %s is not finite (%s; parameter %zu of %zu): the model is "
                         "corrupt or its training diverged",
                         path, name, isnan(m->params[i]) ? "NaN" : "Inf", i, np);
            goto fail;
        }
    }
    q += 8;
    for (size_t i = 0; i < nb; i++, q += 4) {
        uint32_t u = rd_u32(q);
        memcpy(&m->bufs[i], &u, 4);
        if (!isfinite(m->bufs[i])) {
            char name[96];
            tensor_name(m, 1, i, name, sizeof name);
            st = sn_errf(ctx, SN_ERR_FORMAT,
                         "%s: tensor %s is not finite (%s; buffer %zu of %zu): the model is "
                         "corrupt or its training diverged",
                         path, name, isnan(m->bufs[i]) ? "NaN" : "Inf", i, nb);
            goto fail;
        }
    }
    free(hdr);
    free(p);
    *out = m;
    return SN_OK;
fail:
    free(hdr);
    free(p);
    sn_model_free(m);
    return st;
}
