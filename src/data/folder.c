/* folder.c -- "folder:PATH" datasets: one sub-folder per class, image files inside.
 *
 * Layouts
 *   PATH/train/<class>/... and PATH/test/<class>/...   when both train/ and test/ exist:
 *       split "train"/"test" reads that folder; both must hold the same class folders,
 *       so labels agree between the splits.
 *   PATH/<class>/...   otherwise: a file goes to "test" iff FNV-1a-64(file name) / 2^64 <
 *       test_fraction (default 0.2), else to "train". The hash depends only on the name,
 *       so the split is stable as files are added or removed and on every machine.
 * Class = sub-folder name (class_names truncated to 63 chars), classes sorted by strcmp,
 * label = rank; files sorted by strcmp inside each class; so the result is deterministic.
 * Names starting with '.' are ignored. A file is an image by its magic bytes (PNG
 * 89 'P' 'N' 'G', JPEG FF D8 FF, PNM 'P' + 2/3/5/6); other files are skipped with a
 * warning through the log, while an image that fails to decode is an error naming it.
 * Every image is converted by sn_image_load to opts c,h,w (default 3x32x32).
 * Errors: PATH missing or not a directory, no class folders, a class folder without
 * images, an empty split, more than 65536 classes. */
#define _POSIX_C_SOURCE 200809L
#include "data/data.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#define SN_FOLDER_MAX_CLASSES 65536
#define SN_FOLDER_MAX_SIDE 4096

typedef struct {
    char **v;
    size_t n, cap;
} sn_names;

static void sn_names_free(sn_names *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static int sn_names_push(sn_names *s, const char *name) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = sn_realloc(s->v, cap * sizeof *v);
        if (!v) return 0;
        s->v = v;
        s->cap = cap;
    }
    size_t len = strlen(name);
    char *d = sn_malloc(len + 1);
    if (!d) return 0;
    memcpy(d, name, len + 1);
    s->v[s->n++] = d;
    return 1;
}

static int sn_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sn_join(char *buf, const char *a, const char *b) {
    int n = snprintf(buf, SN_DATA_PATH_CAP, "%s/%s", a, b);
    return n >= 0 && n < SN_DATA_PATH_CAP;
}

static int sn_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Sorted names of the non-hidden entries of dir that are directories (want_dirs) or
 * regular files (!want_dirs). Other entries are skipped with a warning. */
static sn_status sn_list(sn_ctx *ctx, const char *dir, int want_dirs, sn_names *out) {
    DIR *d = opendir(dir);
    if (!d) return sn_errf(ctx, SN_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    sn_status st = SN_OK;
    char path[SN_DATA_PATH_CAP];
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = sn_errf(ctx, SN_ERR_IO, "%s: cannot read directory: %s", dir,
                                    strerror(errno));
            break;
        }
        if (e->d_name[0] == '.') continue;
        if (!sn_join(path, dir, e->d_name)) {
            st = sn_errf(ctx, SN_ERR_ARG, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) {
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
            break;
        }
        if (want_dirs ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)) {
            sn_logf(ctx, SN_LOG_WARN, "%s: skipped (not a %s)", path,
                    want_dirs ? "class folder" : "regular file");
            continue;
        }
        if (want_dirs && out->n >= SN_FOLDER_MAX_CLASSES) {
            st = sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: more than %d class folders", dir,
                         SN_FOLDER_MAX_CLASSES);
            break;
        }
        if (!sn_names_push(out, e->d_name)) {
            st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory listing the directory", dir);
            break;
        }
    }
    closedir(d);
    if (st == SN_OK && out->n > 1) qsort(out->v, out->n, sizeof *out->v, sn_cmp_str);
    return st;
}

/* 1 if the file starts with PNG, JPEG or binary/ASCII PNM magic; 0 if not; -1 on error. */
static int sn_is_image(sn_ctx *ctx, const char *path, sn_status *st) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        *st = sn_errf(ctx, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char m[4] = {0, 0, 0, 0};
    size_t n = fread(m, 1, 4, fp);
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        *st = sn_errf(ctx, SN_ERR_IO, "%s: read error", path);
        return -1;
    }
    if (n >= 4 && m[0] == 0x89 && m[1] == 'P' && m[2] == 'N' && m[3] == 'G') return 1;
    if (n >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) return 1;
    if (n >= 2 && m[0] == 'P' && m[1] && strchr("2356", m[1])) return 1;
    return 0;
}

/* FNV-1a, 64 bit. */
static uint64_t sn_fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Files of one split: paths (class folder + name) and labels, in load order. */
typedef struct {
    sn_names paths;
    int32_t *lab;
    size_t cap;
} sn_filelist;

static sn_status sn_filelist_add(sn_ctx *ctx, sn_filelist *fl, const char *path, int32_t label) {
    if (fl->paths.n >= (size_t)INT_MAX)
        return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: more than %d images", path, INT_MAX);
    if (fl->paths.n == fl->cap) {
        size_t cap = fl->cap ? fl->cap * 2 : 256;
        int32_t *l = sn_realloc(fl->lab, cap * sizeof *l);
        if (!l) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
        fl->lab = l;
        fl->cap = cap;
    }
    if (!sn_names_push(&fl->paths, path))
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
    fl->lab[fl->paths.n - 1] = label;
    return SN_OK;
}

/* Collect the images of class folder `cdir` (label k); split_mode: 0 = all files,
 * 1 = train part, 2 = test part by hash. */
static sn_status sn_scan_class(sn_ctx *ctx, const char *cdir, int32_t k, int split_mode,
                               double frac, sn_filelist *fl) {
    sn_names files = {NULL, 0, 0};
    sn_status st = sn_list(ctx, cdir, 0, &files);
    char path[SN_DATA_PATH_CAP];
    int n_img = 0;
    for (size_t i = 0; st == SN_OK && i < files.n; i++) {
        if (!sn_join(path, cdir, files.v[i])) {
            st = sn_errf(ctx, SN_ERR_ARG, "%s/%s: path too long", cdir, files.v[i]);
            break;
        }
        int img = sn_is_image(ctx, path, &st);
        if (img < 0) break;
        if (!img) {
            sn_logf(ctx, SN_LOG_WARN, "%s: skipped (not a PNG, JPEG or PGM/PPM image)", path);
            continue;
        }
        n_img++;
        if (split_mode) {
            int is_test = (double)sn_fnv1a64(files.v[i]) / 18446744073709551616.0 < frac;
            if (is_test != (split_mode == 2)) continue;
        }
        st = sn_filelist_add(ctx, fl, path, k);
    }
    if (st == SN_OK && n_img == 0)
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: class folder holds no image (PNG, JPEG, PGM/PPM)",
                     cdir);
    sn_names_free(&files);
    return st;
}

static sn_status sn_check_opts(sn_ctx *ctx, const char *path, const sn_dataset_opts *o, int *c,
                               int *h, int *w, double *frac) {
    *c = o->c ? o->c : 3;
    *h = o->h ? o->h : 32;
    *w = o->w ? o->w : 32;
    *frac = o->test_fraction != 0 ? o->test_fraction : 0.2;
    if (*c != 1 && *c != 3)
        return sn_errf(ctx, SN_ERR_ARG, "folder:%s: %d channels requested (expected 1 or 3)",
                       path, *c);
    if (*h < 1 || *w < 1 || *h > SN_FOLDER_MAX_SIDE || *w > SN_FOLDER_MAX_SIDE)
        return sn_errf(ctx, SN_ERR_ARG, "folder:%s: image size %dx%d out of range 1..%d", path,
                       *h, *w, SN_FOLDER_MAX_SIDE);
    if (!(*frac > 0 && *frac < 1))
        return sn_errf(ctx, SN_ERR_ARG, "folder:%s: test fraction %g out of range (0,1)", path,
                       *frac);
    return SN_OK;
}

/* Class folders of root (sorted), at least one. */
static sn_status sn_classes(sn_ctx *ctx, const char *root, sn_names *cls) {
    sn_status st = sn_list(ctx, root, 1, cls);
    if (st == SN_OK && cls->n == 0)
        st = sn_errf(ctx, SN_ERR_FORMAT,
                     "%s: no class sub-folders (expected %s/<class>/<images>)", root, root);
    return st;
}

sn_status sn_folder_load(sn_ctx *ctx, const char *path, const char *split,
                         const sn_dataset_opts *opts, sn_dataset **out) {
    int c, h, w;
    double frac;
    sn_status st = sn_check_opts(ctx, path, opts, &c, &h, &w, &frac);
    if (st != SN_OK) return st;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sn_errf(ctx, SN_ERR_IO, "folder:%s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return sn_errf(ctx, SN_ERR_IO, "folder:%s: not a directory", path);
    int is_train = strcmp(split, "train") == 0;
    char tr[SN_DATA_PATH_CAP], te[SN_DATA_PATH_CAP], cdir[SN_DATA_PATH_CAP];
    if (!sn_join(tr, path, "train") || !sn_join(te, path, "test"))
        return sn_errf(ctx, SN_ERR_ARG, "folder:%s: path too long", path);
    int sub = sn_is_dir(tr) && sn_is_dir(te);
    if (!sub && (sn_is_dir(tr) || sn_is_dir(te)))
        sn_logf(ctx, SN_LOG_WARN,
                "folder:%s: only one of train/ and test/ exists: it is read as a class", path);
    const char *root = sub ? (is_train ? tr : te) : path;

    sn_names cls = {NULL, 0, 0}, other = {NULL, 0, 0};
    sn_filelist fl = {{NULL, 0, 0}, NULL, 0};
    sn_dataset *ds = NULL;
    st = sn_classes(ctx, root, &cls);
    if (st == SN_OK && sub) { /* the other split must have the same classes */
        const char *oroot = is_train ? te : tr;
        st = sn_classes(ctx, oroot, &other);
        for (size_t i = 0; st == SN_OK && i < cls.n + other.n; i++) {
            int in_a = i < cls.n, in_b;
            const char *nm = in_a ? cls.v[i] : other.v[i - cls.n];
            in_b = bsearch(&nm, in_a ? other.v : cls.v, in_a ? other.n : cls.n, sizeof(char *),
                           sn_cmp_str) != NULL;
            if (!in_b)
                st = sn_errf(ctx, SN_ERR_FORMAT,
                             "folder:%s: class '%s' is in %s/ but not in %s/ (train/ and test/ "
                             "must hold the same class folders)",
                             path, nm, in_a ? root : oroot, in_a ? oroot : root);
        }
    }
    for (size_t k = 0; st == SN_OK && k < cls.n; k++) {
        if (!sn_join(cdir, root, cls.v[k])) {
            st = sn_errf(ctx, SN_ERR_ARG, "%s/%s: path too long", root, cls.v[k]);
            break;
        }
        st = sn_scan_class(ctx, cdir, (int32_t)k, sub ? 0 : is_train ? 1 : 2, frac, &fl);
    }
    if (st == SN_OK && fl.paths.n == 0)
        st = sn_errf(ctx, SN_ERR_FORMAT,
                     "folder:%s: split '%s' is empty (test fraction %g of each class chosen by "
                     "file-name hash; add images or use train/ and test/ sub-folders)",
                     path, split, frac);
    size_t img = (size_t)c * (size_t)h * (size_t)w; /* <= 3 * 4096^2 */
    if (st == SN_OK) {
        ds = sn_dataset_alloc("folder");
        if (ds) {
            ds->pixels = sn_calloc(fl.paths.n, img);
            ds->labels = sn_calloc(fl.paths.n, sizeof *ds->labels);
            ds->class_names = sn_calloc(cls.n, sizeof *ds->class_names);
        }
        if (!ds || !ds->pixels || !ds->labels || !ds->class_names)
            st = sn_errf(ctx, SN_ERR_NOMEM, "folder:%s: out of memory for %zu images of %dx%dx%d",
                         path, fl.paths.n, c, h, w);
    }
    for (size_t i = 0; st == SN_OK && i < fl.paths.n; i++) {
        st = sn_image_load(ctx, fl.paths.v[i], c, h, w, ds->pixels + i * img);
        ds->labels[i] = fl.lab[i];
    }
    if (st == SN_OK) {
        ds->n = (int)fl.paths.n;
        ds->c = c;
        ds->h = h;
        ds->w = w;
        ds->n_classes = (int)cls.n;
        for (size_t k = 0; k < cls.n; k++)
            snprintf(ds->class_names[k], sizeof ds->class_names[k], "%.63s", cls.v[k]);
        *out = ds;
        ds = NULL;
    }
    sn_dataset_free(ds);
    sn_names_free(&cls);
    sn_names_free(&other);
    sn_names_free(&fl.paths);
    free(fl.lab);
    return st;
}
