/* dataset.c -- sn_dataset_open dispatch, free, split, class selection, and the file
 * helpers the loaders share (see data.h). */
#define _POSIX_C_SOURCE 200809L
#include "data/data.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#define SN_DATA_CHUNK ((size_t)1 << 24) /* bytes per gzread call */

/* ------------------------------------------------------------ file helpers */

/* Error text for a failed gzread: zlib's message (without its "path: " prefix) or
 * errno's. */
static const char *sn_gz_errstr(const sn_data_file *f, int saved_errno) {
    int zerr = Z_OK;
    const char *m = gzerror(f->gz, &zerr);
    if (zerr == Z_ERRNO) return strerror(saved_errno ? saved_errno : EIO);
    if (!m || !*m) return "unknown zlib error";
    size_t pl = strlen(f->path);
    if (strncmp(m, f->path, pl) == 0 && m[pl] == ':' && m[pl + 1] == ' ') m += pl + 2;
    return m;
}

size_t sn_data_read(sn_ctx *ctx, sn_data_file *f, void *buf, size_t n, sn_status *st) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < SN_DATA_CHUNK ? n - got : SN_DATA_CHUNK;
        errno = 0;
        int r = gzread(f->gz, (unsigned char *)buf + got, (unsigned)want);
        if (r < 0) {
            *st = sn_errf(ctx, SN_ERR_IO, "%s: read error near byte %zu: %s", f->path,
                          f->pos + got, sn_gz_errstr(f, errno));
            return SIZE_MAX;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    f->pos += got;
    return got;
}

void sn_data_close(sn_data_file *f) {
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

sn_status sn_data_find(sn_ctx *ctx, const char *const *dirs, int ndirs, const char *base,
                       const char *what, const char *hint, sn_data_file *f, int *which) {
    char tried[8][SN_DATA_PATH_CAP];
    SN_ASSERT(ndirs >= 1 && ndirs <= 4);
    int nt = 2 * ndirs;
    for (int i = 0; i < nt; i++) {
        int n = snprintf(tried[i], sizeof tried[i], "%s/%s%s", dirs[i / 2], base,
                         i % 2 ? ".gz" : "");
        if (n < 0 || (size_t)n >= sizeof tried[i])
            return sn_errf(ctx, SN_ERR_ARG, "data directory path too long: %s", dirs[i / 2]);
    }
    for (int i = 0; i < nt; i++) {
        struct stat sb;
        if (stat(tried[i], &sb) != 0) continue;
        memcpy(f->path, tried[i], sizeof f->path);
        f->pos = 0;
        if (which) *which = i / 2;
        if (!S_ISREG(sb.st_mode))
            return sn_errf(ctx, SN_ERR_IO, "%s: not a regular file (expected the %s)", f->path,
                           what);
        errno = 0;
        f->gz = gzopen(f->path, "rb");
        if (!f->gz)
            return sn_errf(ctx, SN_ERR_IO, "%s: cannot open: %s", f->path,
                           errno ? strerror(errno) : "out of memory");
        return SN_OK;
    }
    char list[SN_ERRMSG_CAP];
    size_t len = 0;
    list[0] = '\0';
    for (int i = 0; i < nt && len < sizeof list; i++) {
        int n = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", tried[i]);
        if (n < 0) break;
        len += (size_t)n;
    }
    return sn_errf(ctx, SN_ERR_IO, "%s not found; tried %s. %s", what, list, hint);
}

sn_dataset *sn_dataset_alloc(const char *name) {
    sn_dataset *ds = sn_calloc(1, sizeof *ds);
    if (ds) snprintf(ds->name, sizeof ds->name, "%s", name);
    return ds;
}

sn_status sn_dataset_set_names(sn_ctx *ctx, sn_dataset *ds, const char *const *names) {
    free(ds->class_names);
    ds->class_names = sn_calloc((size_t)ds->n_classes, sizeof *ds->class_names);
    if (!ds->class_names)
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for %d class names", ds->n_classes);
    for (int k = 0; k < ds->n_classes; k++)
        snprintf(ds->class_names[k], sizeof ds->class_names[k], "%s", names[k]);
    return SN_OK;
}

sn_status sn_data_read_names(sn_ctx *ctx, const char *dir, const char *base, sn_dataset *ds,
                             int *found) {
    enum { CAP = 1 << 20 }; /* a name file larger than 1 MiB is not a name file */
    sn_data_file f = {0};
    const char *dirs[1] = {dir};
    *found = 0;
    char probe[2][SN_DATA_PATH_CAP];
    snprintf(probe[0], sizeof probe[0], "%s/%s", dir, base);
    snprintf(probe[1], sizeof probe[1], "%s/%s.gz", dir, base);
    struct stat sb;
    if (stat(probe[0], &sb) != 0 && stat(probe[1], &sb) != 0) return SN_OK;
    sn_status st = sn_data_find(ctx, dirs, 1, base, "class-name file", "", &f, NULL);
    char *buf = st == SN_OK ? sn_malloc(CAP + 1) : NULL;
    if (st == SN_OK && !buf) st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", f.path);
    size_t n = 0;
    if (st == SN_OK) {
        n = sn_data_read(ctx, &f, buf, CAP + 1, &st);
        if (n == SIZE_MAX) n = 0;
        else if (n > CAP)
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: larger than %d bytes (expected %d class names)",
                         f.path, CAP, ds->n_classes);
    }
    char(*names)[64] = st == SN_OK ? sn_calloc((size_t)ds->n_classes, sizeof *names) : NULL;
    if (st == SN_OK && !names) st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", f.path);
    int k = 0, line = 0;
    for (size_t i = 0; st == SN_OK && i < n;) {
        size_t e = i;
        while (e < n && buf[e] != '\n') e++;
        line++;
        size_t b = i, t = e;
        while (b < t && isspace((unsigned char)buf[b])) b++;
        while (t > b && isspace((unsigned char)buf[t - 1])) t--;
        if (t > b) {
            if (k == ds->n_classes) {
                st = sn_errf(ctx, SN_ERR_FORMAT,
                             "%s: line %d: more than the %d class names expected", f.path, line,
                             ds->n_classes);
                break;
            }
            size_t len = t - b < 63 ? t - b : 63;
            memcpy(names[k], buf + b, len);
            names[k++][len] = '\0';
        }
        i = e + 1;
    }
    if (st == SN_OK && k != ds->n_classes)
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: %d class name(s), expected %d (one per line)",
                     f.path, k, ds->n_classes);
    if (st == SN_OK) {
        free(ds->class_names);
        ds->class_names = names;
        names = NULL;
        *found = 1;
    }
    free(names);
    free(buf);
    sn_data_close(&f);
    return st;
}

/* ---------------------------------------------------------------- dispatch */

typedef sn_status (*sn_dataset_loader)(sn_ctx *, const char *, const char *,
                                       const sn_dataset_opts *, sn_dataset **);

static const struct {
    const char *name;
    sn_dataset_loader load;
} sn_loaders[] = {
    {"mnist", sn_idx_load},
    {"fashion-mnist", sn_idx_load},
    {"cifar10", sn_cifar10_load},
    {"cifar100", sn_cifar100_load},
};

sn_status sn_dataset_open(sn_ctx *ctx, const char *name, const char *split,
                          const sn_dataset_opts *opts, sn_dataset **out) {
    if (!out) return sn_errf(ctx, SN_ERR_ARG, "sn_dataset_open: out is NULL");
    *out = NULL;
    if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
        return sn_errf(ctx, SN_ERR_ARG, "unknown split '%s' (expected train or test)",
                       split ? split : "(null)");
    sn_dataset_opts o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    if (!o.dir || !*o.dir) o.dir = ".";
    if (name && strncmp(name, "folder:", 7) == 0) {
        if (!name[7])
            return sn_errf(ctx, SN_ERR_ARG, "dataset 'folder:' needs a path (folder:PATH)");
        return sn_folder_load(ctx, name + 7, split, &o, out);
    }
    for (size_t i = 0; name && i < sizeof sn_loaders / sizeof sn_loaders[0]; i++)
        if (strcmp(name, sn_loaders[i].name) == 0)
            return sn_loaders[i].load(ctx, name, split, &o, out);
    return sn_errf(ctx, SN_ERR_ARG,
                   "unknown dataset '%s' (known: mnist, fashion-mnist, cifar10, cifar100, "
                   "folder:PATH)",
                   name ? name : "(null)");
}

sn_status sn_dataset_load(sn_ctx *ctx, const char *name, const char *dir, const char *split,
                          sn_dataset **out) {
    sn_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    return sn_dataset_open(ctx, name, split, &o, out);
}

void sn_dataset_free(sn_dataset *ds) {
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    free(ds->class_names);
    free(ds);
}

/* New dataset with ds's shape, classes and names, and room for n images (n may be 0). */
static sn_dataset *sn_dataset_like(const sn_dataset *ds, int n, size_t img, int n_classes) {
    sn_dataset *o = sn_dataset_alloc(ds->name);
    if (!o) return NULL;
    o->n = n;
    o->c = ds->c;
    o->h = ds->h;
    o->w = ds->w;
    o->n_classes = n_classes;
    o->pixels = sn_calloc((size_t)n, img);
    o->labels = sn_calloc((size_t)n, sizeof *o->labels);
    if (ds->class_names) o->class_names = sn_calloc((size_t)n_classes, sizeof *o->class_names);
    if (!o->pixels || !o->labels || (ds->class_names && !o->class_names)) {
        sn_dataset_free(o);
        return NULL;
    }
    if (ds->class_names && n_classes == ds->n_classes)
        memcpy(o->class_names, ds->class_names, (size_t)n_classes * sizeof *o->class_names);
    return o;
}

static int sn_image_bytes(const sn_dataset *ds, size_t *img) {
    size_t tmp;
    return ds->c > 0 && ds->h > 0 && ds->w > 0 &&
           sn_mul_size((size_t)ds->c, (size_t)ds->h, &tmp) &&
           sn_mul_size(tmp, (size_t)ds->w, img);
}

sn_status sn_dataset_split(sn_ctx *ctx, const sn_dataset *ds, int n_val, uint64_t seed,
                           sn_dataset **train, sn_dataset **val) {
    if (!train || !val) return sn_errf(ctx, SN_ERR_ARG, "sn_dataset_split: NULL output");
    *train = NULL;
    *val = NULL;
    if (!ds || ds->n <= 0 || !ds->pixels || !ds->labels)
        return sn_errf(ctx, SN_ERR_ARG, "sn_dataset_split: empty or NULL dataset");
    if (n_val < 0 || n_val >= ds->n)
        return sn_errf(ctx, SN_ERR_ARG,
                       "validation size %d out of range 0..%d (dataset '%s' has %d images)",
                       n_val, ds->n - 1, ds->name, ds->n);
    size_t img;
    if (!sn_image_bytes(ds, &img))
        return sn_errf(ctx, SN_ERR_ARG, "sn_dataset_split: bad or overflowing image size");

    int n = ds->n;
    int *perm = sn_calloc((size_t)n, sizeof *perm);
    unsigned char *is_val = sn_calloc((size_t)n, 1);
    sn_dataset *tr = sn_dataset_like(ds, n - n_val, img, ds->n_classes);
    sn_dataset *va = sn_dataset_like(ds, n_val, img, ds->n_classes);
    if (!perm || !is_val || !tr || !va) {
        free(perm);
        free(is_val);
        sn_dataset_free(tr);
        sn_dataset_free(va);
        return sn_errf(ctx, SN_ERR_NOMEM, "sn_dataset_split: out of memory for %d images", n);
    }
    /* Shuffle, mark the last n_val as validation, then copy each part in original
     * index order (deterministic and sequential in memory). */
    sn_rng rng;
    sn_rng_seed(&rng, seed, 0x73706c6974ULL /* "split" */);
    for (int i = 0; i < n; i++) perm[i] = i;
    sn_rng_shuffle_int(&rng, perm, n);
    for (int i = n - n_val; i < n; i++) is_val[perm[i]] = 1;
    int it = 0, iv = 0;
    for (int i = 0; i < n; i++) {
        sn_dataset *d = is_val[i] ? va : tr;
        int j = is_val[i] ? iv++ : it++;
        memcpy(d->pixels + (size_t)j * img, ds->pixels + (size_t)i * img, img);
        d->labels[j] = ds->labels[i];
    }
    SN_ASSERT(it == n - n_val && iv == n_val);
    free(perm);
    free(is_val);
    *train = tr;
    *val = va;
    return SN_OK;
}

/* ------------------------------------------------------- class selection */

/* Parse a class number at *p (decimal digits only); -1 when there are none, -2 when it
 * exceeds INT_MAX. */
static long sn_parse_class(const char **p) {
    const char *s = *p;
    if (!isdigit((unsigned char)*s)) return -1;
    long v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v <= INT_MAX) v = v * 10 + (*s - '0');
        s++;
    }
    *p = s;
    return v > INT_MAX ? -2 : v;
}

/* Mark keep[k] for every class in spec; messages quote the spec as "--classes SPEC". */
static sn_status sn_parse_classes(sn_ctx *ctx, const char *spec, int n_classes,
                                  unsigned char *keep) {
    const char *p = spec;
    if (!*p)
        return sn_errf(ctx, SN_ERR_ARG,
                       "--classes: empty list (expected e.g. 0-4, 5,7,9 or 0-2,8)");
    for (;;) {
        const char *item = p;
        long a = sn_parse_class(&p), b = a;
        if (a >= 0 && *p == '-') {
            p++;
            b = sn_parse_class(&p);
        }
        if (a == -1 || b == -1 || (*p && *p != ','))
            return sn_errf(ctx, SN_ERR_ARG,
                           "--classes %s: bad item at character %d '%.16s' (expected N or N-M "
                           "with decimal class numbers, separated by commas)",
                           spec, (int)(item - spec) + 1, item);
        long bad = (a == -2 || a >= n_classes) ? a : (b == -2 || b >= n_classes) ? b : -3;
        if (bad == -2)
            return sn_errf(ctx, SN_ERR_ARG, "--classes %s: class number too large (range 0..%d)",
                           spec, n_classes - 1);
        if (bad >= 0)
            return sn_errf(ctx, SN_ERR_ARG, "--classes %s: class %ld out of range 0..%d", spec,
                           bad, n_classes - 1);
        if (b < a)
            return sn_errf(ctx, SN_ERR_ARG, "--classes %s: range %ld-%ld is reversed", spec, a, b);
        for (long k = a; k <= b; k++) keep[k] = 1;
        if (!*p) return SN_OK;
        p++; /* ',' */
    }
}

/* Arguments of a function deriving a new dataset from ds with a text argument arg
 * (named argname in the error): *out = NULL, *img = bytes per image. */
static sn_status sn_dataset_derive_check(sn_ctx *ctx, const sn_dataset *ds, const char *arg,
                                         sn_dataset **out, const char *fn, const char *argname,
                                         size_t *img) {
    if (!out) return sn_errf(ctx, SN_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!ds || !arg || ds->n < 0 || ds->n_classes <= 0 ||
        (ds->n && (!ds->pixels || !ds->labels)) || !sn_image_bytes(ds, img))
        return sn_errf(ctx, SN_ERR_ARG, "%s: NULL or invalid dataset/%s", fn, argname);
    return SN_OK;
}

sn_status sn_dataset_select_classes(sn_ctx *ctx, const sn_dataset *ds, const char *spec,
                                    sn_dataset **out) {
    size_t img;
    sn_status st0 = sn_dataset_derive_check(ctx, ds, spec, out, "sn_dataset_select_classes",
                                            "spec", &img);
    if (st0) return st0;
    unsigned char *keep = sn_calloc((size_t)ds->n_classes, 1);
    int *map = sn_calloc((size_t)ds->n_classes, sizeof *map);
    if (!keep || !map) {
        free(keep);
        free(map);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for %d classes", ds->n_classes);
    }
    sn_status st = sn_parse_classes(ctx, spec, ds->n_classes, keep);
    int k = 0, n = 0;
    for (int c = 0; c < ds->n_classes; c++) map[c] = keep[c] ? k++ : -1;
    for (int i = 0; st == SN_OK && i < ds->n; i++) {
        int32_t l = ds->labels[i];
        if (l < 0 || l >= ds->n_classes)
            st = sn_errf(ctx, SN_ERR_ARG, "dataset '%s': image %d has label %ld outside 0..%d",
                         ds->name, i, (long)l, ds->n_classes - 1);
        else if (map[l] >= 0)
            n++;
    }
    if (st == SN_OK && n == 0)
        st = sn_errf(ctx, SN_ERR_ARG, "--classes %s: no image of dataset '%s' (%d images) has "
                     "one of these classes", spec, ds->name, ds->n);
    sn_dataset *o = st == SN_OK ? sn_dataset_like(ds, n, img, k) : NULL;
    if (st == SN_OK && !o)
        st = sn_errf(ctx, SN_ERR_NOMEM, "--classes %s: out of memory for %d images", spec, n);
    if (st == SN_OK) {
        int j = 0;
        for (int i = 0; i < ds->n; i++) {
            int m = map[ds->labels[i]];
            if (m < 0) continue;
            memcpy(o->pixels + (size_t)j * img, ds->pixels + (size_t)i * img, img);
            o->labels[j++] = m;
        }
        if (ds->class_names)
            for (int c = 0; c < ds->n_classes; c++)
                if (map[c] >= 0) memcpy(o->class_names[map[c]], ds->class_names[c], 64);
        *out = o;
    }
    free(keep);
    free(map);
    return st;
}

/* ------------------------------------------------ label augmentation */

/* Transform t of an image plane (h x w, h == w when rotating): t = m*4 + r is "mirror
 * left-right m times, then rotate r quarter turns counter-clockwise". */
static void sn_plane_transform(uint8_t *restrict out, const uint8_t *restrict in, int h, int w,
                               int mirror, int rot) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            /* out(y, x) = rot^r(mirror^m(in))(y, x): undo the rotation, then the mirror */
            int sy = y, sx = x;
            for (int r = 0; r < rot; r++) { /* one CCW turn: out(y, x) = in(x, w-1-y) */
                const int ty = sx, tx = w - 1 - sy;
                sy = ty;
                sx = tx;
            }
            if (mirror) sx = w - 1 - sx;
            out[(size_t)y * (size_t)w + (size_t)x] = in[(size_t)sy * (size_t)w + (size_t)sx];
        }
}

void sn_shift_image(uint8_t *out, const uint8_t *in, int C, int H, int W, int dy, int dx, int flip) {
    for (int c = 0; c < C; c++) {
        const uint8_t *ic = in + (size_t)c * (size_t)H * (size_t)W;
        uint8_t *oc = out + (size_t)c * (size_t)H * (size_t)W;
        for (int y = 0; y < H; y++) {
            int sy = y + dy;
            uint8_t *orow = oc + (size_t)y * (size_t)W;
            if (sy < 0 || sy >= H) {
                memset(orow, 0, (size_t)W);
                continue;
            }
            const uint8_t *irow = ic + (size_t)sy * (size_t)W;
            for (int x = 0; x < W; x++) {
                int sx = (flip ? W - 1 - x : x) + dx;
                orow[x] = sx >= 0 && sx < W ? irow[sx] : 0;
            }
        }
    }
}

void sn_warp_image(uint8_t *out, const uint8_t *in, int C, int H, int W, float theta, float s,
                   int dy, int dx, int flip) {
    const float cy = 0.5f * (float)(H - 1), cx = 0.5f * (float)(W - 1);
    const float co = cosf(theta) / s, si = sinf(theta) / s;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            /* the output point mirrored and shifted (as the integer crop), then the inverse
             * turn and scale about the centre */
            const float py = (float)(y + dy) - cy, px = (float)((flip ? W - 1 - x : x) + dx) - cx;
            const float fy = cy + co * py + si * px, fx = cx + co * px - si * py;
            const float y0f = floorf(fy), x0f = floorf(fx);
            const float ay = fy - y0f, ax = fx - x0f;
            const int y0 = (int)y0f, x0 = (int)x0f;
            for (int c = 0; c < C; c++) {
                const uint8_t *ic = in + (size_t)c * (size_t)H * (size_t)W;
                float v = 0.0f;
                for (int k = 0; k < 4; k++) {
                    const int yy = y0 + (k >> 1), xx = x0 + (k & 1);
                    const float wt = ((k >> 1) ? ay : 1.0f - ay) * ((k & 1) ? ax : 1.0f - ax);
                    if (wt == 0.0f || yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                    v += wt * (float)ic[(size_t)yy * (size_t)W + (size_t)xx];
                }
                out[((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x] =
                    (uint8_t)(v + 0.5f);
            }
        }
}

/* Label augmentation transform t of nm x nr: mirror *m, then *e eighth turns (nr turns
 * evenly spaced: rot2 0 and 4, rot4 0, 2, 4, 6). */
static void la_transform(int t, int nr, int *m, int *e) {
    *m = t / nr;
    *e = (t % nr) * (8 / nr);
}

sn_status sn_dataset_label_augment(sn_ctx *ctx, const sn_dataset *ds, const char *kind,
                                   sn_dataset **out) {
    size_t img;
    sn_status st0 = sn_dataset_derive_check(ctx, ds, kind, out, "sn_dataset_label_augment",
                                            "kind", &img);
    if (st0) return st0;
    int nm, nr; /* mirrors (1 or 2) x turns (1, 2, 4 or 8 evenly spaced) */
    if (!strcmp(kind, "rot2")) nm = 1, nr = 2;
    else if (!strcmp(kind, "rot4")) nm = 1, nr = 4;
    else if (!strcmp(kind, "rot8")) nm = 1, nr = 8;
    else if (!strcmp(kind, "flip")) nm = 2, nr = 1;
    else if (!strcmp(kind, "d4")) nm = 2, nr = 4;
    else if (!strcmp(kind, "d8")) nm = 2, nr = 8;
    else
        return sn_errf(ctx, SN_ERR_ARG,
                       "--label-augment %s: expected rot2, rot4, rot8, flip, d4 or d8", kind);
    if (nr >= 4 && ds->h != ds->w)
        return sn_errf(ctx, SN_ERR_ARG,
                       "--label-augment %s: quarter turns need square images, dataset %s is "
                       "%dx%d", kind, ds->name, ds->h, ds->w);
    const int T = nm * nr;
    if (ds->n > INT_MAX / T || ds->n_classes > INT_MAX / T)
        return sn_errf(ctx, SN_ERR_ARG, "label augmentation %s: %d images x %d overflow", kind,
                       ds->n, T);
    const size_t plane = (size_t)ds->h * (size_t)ds->w;
    uint8_t *tmp = sn_malloc(plane); /* a quarter-turned plane before its 45-degree turn */
    sn_dataset *o = tmp ? sn_dataset_like(ds, ds->n * T, img, ds->n_classes * T) : NULL;
    if (!o) {
        free(tmp);
        return sn_errf(ctx, SN_ERR_NOMEM, "label augmentation %s: out of memory for %d images",
                       kind, ds->n * T);
    }
    for (int i = 0; i < ds->n; i++)
        for (int t = 0; t < T; t++) {
            int m, e;
            la_transform(t, nr, &m, &e);
            const size_t j = (size_t)i * (size_t)T + (size_t)t;
            for (int c = 0; c < ds->c; c++) {
                uint8_t *dst = o->pixels + j * img + (size_t)c * plane;
                const uint8_t *src = ds->pixels + (size_t)i * img + (size_t)c * plane;
                if (e & 1) {
                    sn_plane_transform(tmp, src, ds->h, ds->w, m, e >> 1);
                    sn_warp_image(dst, tmp, 1, ds->h, ds->w, 0.78539816339744831f, 1.0f, 0, 0, 0);
                } else {
                    sn_plane_transform(dst, src, ds->h, ds->w, m, e >> 1);
                }
            }
            o->labels[j] = ds->labels[i] * T + t;
        }
    free(tmp);
    if (o->class_names)
        for (int k = 0; k < ds->n_classes; k++)
            for (int t = 0; t < T; t++) {
                int m, e;
                la_transform(t, nr, &m, &e);
                snprintf(o->class_names[k * T + t], sizeof o->class_names[0], "%.48s%s/r%d",
                         ds->class_names[k], m ? "/m" : "", 45 * e);
            }
    *out = o;
    return SN_OK;
}
