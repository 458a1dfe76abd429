/* checkpoint.c -- write / read / verify training checkpoints (docs/checkpoint-format.md). */
#include "train/checkpoint.h"

#include <string.h>
#include <zlib.h>

#define CK_MAGIC "SNCKPT\r\n"
#define CK_VERSION 1u
#define CK_HEADER 24 /* magic 8, version 4, sections 4, total bytes 8 */

enum {
    TAG_CONF = 0x464e4f43u, /* "CONF" as little-endian bytes */
    TAG_CNTR = 0x52544e43u, /* "CNTR" */
    TAG_PARM = 0x4d524150u, /* "PARM" */
    TAG_BUFS = 0x53465542u, /* "BUFS" */
    TAG_OPTM = 0x4d54504fu, /* "OPTM" */
    TAG_EMA = 0x5f414d45u,  /* "EMA_" */
    TAG_HEAD = 0x44414548u, /* "HEAD" */
    TAG_HOPT = 0x54504f48u  /* "HOPT" */
};

static int host_le(void) {
    const uint32_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

typedef struct {
    sn_atomic_file f;
    uLong crc;
    int ok;
} writer;

static void w_bytes(writer *w, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0 && w->ok) { /* crc32 takes uInt lengths */
        size_t k = n > (1u << 30) ? (1u << 30) : n;
        w->crc = crc32(w->crc, b, (uInt)k);
        w->ok = sn_atomic_write(&w->f, b, k);
        b += k;
        n -= k;
    }
}
static void w_section(writer *w, uint32_t tag, uint64_t len) {
    uint8_t h[16];
    put32(h, tag);
    put32(h + 4, 0);
    put64(h + 8, len);
    w_bytes(w, h, 16);
}
static void w_optim(writer *w, uint32_t tag, const sn_optim *o) {
    uint8_t h[16];
    int has_v = o->v != NULL;
    w_section(w, tag, 16 + (uint64_t)o->n * 4 * (has_v ? 2 : 1));
    put64(h, (uint64_t)o->t);
    put32(h + 8, (uint32_t)has_v);
    put32(h + 12, 0);
    w_bytes(w, h, 16);
    w_bytes(w, o->m, o->n * 4);
    if (has_v) w_bytes(w, o->v, o->n * 4);
}

sn_status sn_checkpoint_write(sn_ctx *ctx, const char *path, const sn_ckpt_out *c) {
    if (!host_le())
        return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: checkpoints are little-endian; this host is not",
                       path);
    const uint64_t conf_len = strlen(c->conf);
    uint64_t total = CK_HEADER + 4;
    uint32_t nsec = 0;
    uint64_t opt_len = 16 + (uint64_t)c->opt->n * 4 * (c->opt->v ? 2 : 1);
    total += 16 + conf_len, nsec++;
    total += 16 + 16, nsec++;
    total += 16 + (uint64_t)c->n_params * 4, nsec++;
    total += 16 + (uint64_t)c->n_bufs * 4, nsec++;
    total += 16 + opt_len, nsec++;
    if (c->ema) total += 16 + (uint64_t)c->n_params * 4, nsec++;
    if (c->head) {
        total += 16 + (uint64_t)c->n_head * 4, nsec++;
        total += 16 + 16 + (uint64_t)c->head_opt->n * 4 * (c->head_opt->v ? 2 : 1), nsec++;
    }
    writer w;
    memset(&w, 0, sizeof w);
    sn_status st = sn_atomic_open(ctx, &w.f, path);
    if (st) return st;
    w.ok = 1;
    w.crc = crc32(0L, Z_NULL, 0);
    uint8_t h[CK_HEADER];
    memcpy(h, CK_MAGIC, 8);
    put32(h + 8, CK_VERSION);
    put32(h + 12, nsec);
    put64(h + 16, total);
    w_bytes(&w, h, sizeof h);
    w_section(&w, TAG_CONF, conf_len);
    w_bytes(&w, c->conf, conf_len);
    uint8_t cn[16];
    put32(cn, (uint32_t)c->epoch);
    put32(cn + 4, 0);
    put64(cn + 8, (uint64_t)c->step);
    w_section(&w, TAG_CNTR, 16);
    w_bytes(&w, cn, 16);
    w_section(&w, TAG_PARM, (uint64_t)c->n_params * 4);
    w_bytes(&w, c->params, c->n_params * 4);
    w_section(&w, TAG_BUFS, (uint64_t)c->n_bufs * 4);
    w_bytes(&w, c->bufs, c->n_bufs * 4);
    w_optim(&w, TAG_OPTM, c->opt);
    if (c->ema) {
        w_section(&w, TAG_EMA, (uint64_t)c->n_params * 4);
        w_bytes(&w, c->ema, c->n_params * 4);
    }
    if (c->head) {
        w_section(&w, TAG_HEAD, (uint64_t)c->n_head * 4);
        w_bytes(&w, c->head, c->n_head * 4);
        w_optim(&w, TAG_HOPT, c->head_opt);
    }
    uint8_t crc[4];
    put32(crc, (uint32_t)w.crc);
    if (w.ok) w.ok = sn_atomic_write(&w.f, crc, 4);
    st = sn_atomic_commit(ctx, &w.f, w.ok);
    if (st) return st;
    return SN_OK;
}

void sn_checkpoint_free(sn_ckpt_in *c) {
    free(c->blob);
    free(c->conf);
    memset(c, 0, sizeof *c);
}

static sn_status bad(sn_ctx *ctx, sn_ckpt_in *c, sn_status s, const char *path, const char *what,
                     long long off) {
    sn_checkpoint_free(c);
    return sn_errf(ctx, s, "%s: not a valid simnet checkpoint: %s (offset %lld)", path, what, off);
}

/* Parse an optimizer section body of len bytes. */
static int parse_optim(const uint8_t *p, uint64_t len, const uint8_t **m, const uint8_t **v,
                       size_t *n, long *t) {
    if (len < 16) return 0;
    int has_v = (int)get32(p + 8);
    uint64_t body = len - 16, per = has_v ? 8 : 4;
    if (has_v > 1 || body % per) return 0;
    *t = (long)get64(p);
    *n = (size_t)(body / per);
    *m = p + 16;
    *v = has_v ? p + 16 + *n * 4 : NULL;
    return 1;
}

sn_status sn_checkpoint_read(sn_ctx *ctx, const char *path, sn_ckpt_in *c) {
    memset(c, 0, sizeof *c);
    if (!host_le())
        return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: checkpoints are little-endian; this host is not",
                       path);
    FILE *f = fopen(path, "rb");
    if (!f) return sn_errf(ctx, SN_ERR_IO, "%s: cannot open checkpoint for reading", path);
    long long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return sn_errf(ctx, SN_ERR_IO, "%s: cannot determine the file size", path);
    }
    c->blob = malloc(size > 0 ? (size_t)size : 1);
    if (!c->blob) {
        fclose(f);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory reading %lld bytes", path, size);
    }
    size_t got = fread(c->blob, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        sn_checkpoint_free(c);
        return sn_errf(ctx, SN_ERR_IO, "%s: read %zu of %lld bytes", path, got, size);
    }
    const uint8_t *b = c->blob;
    if (size < CK_HEADER || memcmp(b, CK_MAGIC, 8) != 0)
        return bad(ctx, c, SN_ERR_FORMAT, path, "bad magic (expected \"SNCKPT\\r\\n\")", 0);
    uint32_t ver = get32(b + 8);
    if (ver != CK_VERSION) {
        sn_checkpoint_free(c);
        return sn_errf(ctx, SN_ERR_UNSUPPORTED,
                       "%s: checkpoint format version %u; this simnet reads version %u (resume "
                       "with the simnet that wrote it)", path, ver, CK_VERSION);
    }
    uint32_t nsec = get32(b + 12);
    uint64_t total = get64(b + 16);
    if (total != (uint64_t)size) {
        sn_checkpoint_free(c);
        return sn_errf(ctx, SN_ERR_FORMAT,
                       "%s: not a valid simnet checkpoint: the header says %llu bytes but the file "
                       "has %lld (truncated or extended)", path, (unsigned long long)total, size);
    }
    uint32_t crc_stored = get32(b + size - 4);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (long long off = 0; off < size - 4;) {
        long long k = size - 4 - off > (1LL << 30) ? (1LL << 30) : size - 4 - off;
        crc = crc32(crc, b + off, (uInt)k);
        off += k;
    }
    if ((uint32_t)crc != crc_stored) {
        sn_checkpoint_free(c);
        return sn_errf(ctx, SN_ERR_FORMAT,
                       "%s: checkpoint checksum mismatch (stored %08x, computed %08x): the file is "
                       "corrupted", path, crc_stored, (unsigned)crc);
    }
    uint64_t off = CK_HEADER, end = (uint64_t)size - 4;
    int have_cntr = 0;
    for (uint32_t s = 0; s < nsec; s++) {
        if (end - off < 16) return bad(ctx, c, SN_ERR_FORMAT, path, "section header past the end", (long long)off);
        uint32_t tag = get32(b + off);
        uint64_t len = get64(b + off + 8);
        const uint8_t *p = b + off + 16;
        if (len > end - off - 16) return bad(ctx, c, SN_ERR_FORMAT, path, "section longer than the file", (long long)off);
        int ok = 1;
        switch (tag) {
        case TAG_CONF:
            c->conf = malloc(len + 1);
            if (!c->conf) {
                sn_checkpoint_free(c);
                return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");
            }
            memcpy(c->conf, p, len);
            c->conf[len] = 0;
            break;
        case TAG_CNTR:
            ok = len == 16;
            if (ok) {
                c->epoch = (int)get32(p);
                c->step = (long)get64(p + 8);
                have_cntr = 1;
            }
            break;
        case TAG_PARM: ok = len % 4 == 0; c->params = p; c->n_params = (size_t)(len / 4); break;
        case TAG_BUFS: ok = len % 4 == 0; c->bufs = p; c->n_bufs = (size_t)(len / 4); break;
        case TAG_EMA: ok = len % 4 == 0; c->ema = p; c->n_ema = (size_t)(len / 4); break;
        case TAG_HEAD: ok = len % 4 == 0; c->head = p; c->n_head = (size_t)(len / 4); break;
        case TAG_OPTM: ok = parse_optim(p, len, &c->opt_m, &c->opt_v, &c->n_opt, &c->opt_t); break;
        case TAG_HOPT: ok = parse_optim(p, len, &c->hopt_m, &c->hopt_v, &c->n_hopt, &c->hopt_t); break;
        default: break; /* unknown sections are skipped (forward compatible) */
        }
        if (!ok) return bad(ctx, c, SN_ERR_FORMAT, path, "malformed section", (long long)off);
        off += 16 + len;
    }
    if (off != end) return bad(ctx, c, SN_ERR_FORMAT, path, "bytes after the last section", (long long)off);
    if (!c->conf || !have_cntr || !c->params || !c->opt_m)
        return bad(ctx, c, SN_ERR_FORMAT, path, "missing CONF, CNTR, PARM or OPTM section", (long long)off);
    return SN_OK;
}

/* Value of `key` in conf lines into out; 0 if absent. */
static int conf_get(const char *conf, const char *key, char *out, size_t cap) {
    size_t kl = strlen(key);
    for (const char *p = conf; *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            size_t vl = ll - kl - 1;
            if (vl >= cap) vl = cap - 1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = 0;
            return 1;
        }
        p += ll + (nl ? 1 : 0);
    }
    return 0;
}

sn_status sn_checkpoint_conf_check(sn_ctx *ctx, const char *path, const char *stored,
                                   const char *current, const char *const *skip) {
    char key[128], a[1200], b[1200];
    for (const char *p = current; *p;) {
        const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (eq && eq < p + ll && (size_t)(eq - p) < sizeof key) {
            memcpy(key, p, (size_t)(eq - p));
            key[eq - p] = 0;
            int skipped = 0;
            for (int i = 0; skip && skip[i]; i++) skipped |= !strcmp(skip[i], key);
            conf_get(current, key, b, sizeof b);
            if (!skipped && (!conf_get(stored, key, a, sizeof a) || strcmp(a, b) != 0))
                return sn_errf(ctx, SN_ERR_ARG,
                               "--resume %s: the checkpoint was written with %s=%s but this run has "
                               "%s=%s; resume with the options of the interrupted run",
                               path, key, conf_get(stored, key, a, sizeof a) ? a : "(absent)", key, b);
        }
        p += ll + (nl ? 1 : 0);
    }
    return SN_OK;
}
