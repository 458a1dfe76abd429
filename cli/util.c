/* util.c -- option parsing and small helpers shared by the subcommands. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int set_value(const char *cmd, const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_STR: *(const char **)o->dst = v; return 0;
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (*v && !*end && !errno && x >= INT_MIN && x <= INT_MAX) {
            *(int *)o->dst = (int)x;
            return 0;
        }
        break;
    }
    case OPT_LONG: {
        long x = strtol(v, &end, 10);
        if (*v && !*end && !errno) {
            *(long *)o->dst = x;
            return 0;
        }
        break;
    }
    case OPT_U64: {
        if (*v == '-') break;
        unsigned long long x = strtoull(v, &end, 10);
        if (*v && !*end && !errno) {
            *(uint64_t *)o->dst = (uint64_t)x;
            return 0;
        }
        break;
    }
    case OPT_FLOAT: {
        float x = strtof(v, &end);
        if (*v && !*end && !errno && isfinite(x)) {
            *(float *)o->dst = x;
            return 0;
        }
        break;
    }
    case OPT_FLAG: break;
    }
    static const char *what[] = {"a string", "an integer", "an integer", "a number",
                                 "a non-negative integer", ""};
    fprintf(stderr, "simnet %s: --%s: '%s' is not %s\n", cmd, o->name, v, what[o->kind]);
    return CLI_USAGE;
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **pos, int maxpos, int *npos) {
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return -1;
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (*npos >= maxpos) {
                fprintf(stderr, "simnet %s: unexpected argument '%s' (see simnet %s --help)\n", cmd,
                        a, cmd);
                return CLI_USAGE;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len)) o = &opts[k];
        if (!o) {
            fprintf(stderr, "simnet %s: unknown option '%.*s' (see simnet %s --help)\n", cmd,
                    (int)len + 2, a, cmd);
            return CLI_USAGE;
        }
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "simnet %s: --%s takes no value\n", cmd, o->name);
                return CLI_USAGE;
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "simnet %s: --%s needs a value\n", cmd, o->name);
            return CLI_USAGE;
        }
        int r = set_value(cmd, o, v);
        if (r) return r;
    }
    return 0;
}

void cli_print_help(const char *cmd, const char *usage, const cli_opt *opts, int nopts) {
    printf("usage: simnet %s %s\n\noptions:\n", cmd, usage);
    for (int k = 0; k < nopts; k++) {
        char left[48];
        static const char *meta[] = {"S", "N", "N", "X", "N", ""};
        snprintf(left, sizeof left, "--%s %s", opts[k].name, meta[opts[k].kind]);
        printf("  %-22s %s\n", left, opts[k].help);
    }
}

int cli_fail(const char *cmd, sn_ctx *ctx, sn_status st) {
    fprintf(stderr, "simnet %s: %s\n", cmd, ctx ? sn_ctx_error(ctx) : sn_status_str(st));
    return st == SN_ERR_ARG ? CLI_USAGE : CLI_FAIL;
}

void cli_log_stderr(void *user, int level, const char *msg) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const int *quiet = user;
    if (level > SN_LOG_WARN && (!quiet || *quiet)) return;
    const char *name = level >= SN_LOG_ERROR && level <= SN_LOG_DEBUG ? names[level] : "log";
    fprintf(stderr, "simnet: %s: %s\n", name, msg);
}

const char *cli_default_data_dir(void) {
    const char *d = getenv("SIMNET_DATA");
    return d && *d ? d : "data";
}

/* Per-channel mean/std of x/255: published values for the named datasets; for image
 * folders (and anything else) measured on the given (training) split. */
void cli_dataset_norm(const sn_dataset *ds, float mean[3], float std[3]) {
    static const struct {
        const char *name;
        float mean[3], std[3];
    } KNOWN[] = {
        {"mnist", {0.1307f, 0.1307f, 0.1307f}, {0.3081f, 0.3081f, 0.3081f}},
        {"fashion-mnist", {0.2860f, 0.2860f, 0.2860f}, {0.3530f, 0.3530f, 0.3530f}},
        {"cifar10", {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}},
        {"cifar100", {0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}},
    };
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (!strcmp(ds->name, KNOWN[i].name)) {
            memcpy(mean, KNOWN[i].mean, sizeof KNOWN[i].mean);
            memcpy(std, KNOWN[i].std, sizeof KNOWN[i].std);
            return;
        }
    size_t plane = (size_t)ds->h * (size_t)ds->w;
    for (int c = 0; c < 3; c++) {
        mean[c] = 0.5f;
        std[c] = 0.25f;
    }
    for (int c = 0; c < ds->c && c < 3; c++) {
        double s = 0, s2 = 0, n = (double)ds->n * (double)plane;
        for (int i = 0; i < ds->n; i++) {
            const uint8_t *p = ds->pixels + ((size_t)i * (size_t)ds->c + (size_t)c) * plane;
            for (size_t k = 0; k < plane; k++) {
                double v = p[k] / 255.0;
                s += v;
                s2 += v * v;
            }
        }
        double m = s / n, var = s2 / n - m * m;
        mean[c] = (float)m;
        std[c] = var > 1e-6 ? (float)sqrt(var) : 1.0f;
    }
}

sn_status cli_open_split(sn_ctx *ctx, const cli_data_args *a, const char *split, int c, int h,
                         int w, sn_dataset **out) {
    sn_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.dir = a->dir;
    o.label = a->label;
    o.c = c;
    o.h = h;
    o.w = w;
    *out = NULL;
    sn_dataset *ds = NULL;
    sn_status st = sn_dataset_open(ctx, a->dataset, split, &o, &ds);
    if (st || !a->classes || !*a->classes) {
        *out = ds;
        return st;
    }
    st = sn_dataset_select_classes(ctx, ds, a->classes, out);
    sn_dataset_free(ds);
    return st;
}

int cli_mkdirs_for(const char *path) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return 0;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return 0;
        *p = '/';
    }
    return 1;
}

int cli_out_open(const char *cmd, cli_out *o) {
    o->buf = NULL;
    o->len = 0;
    o->f = open_memstream(&o->buf, &o->len);
    if (!o->f) {
        fprintf(stderr, "simnet %s: out of memory for an output buffer\n", cmd);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Writes n bytes to a new temporary beside path, fsyncs it and renames it over path. */
static int out_replace(const char *path, const char *p, size_t n, char *why, size_t cap) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) {
        snprintf(why, cap, "out of memory");
        return 0;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, cap, "cannot create a temporary file beside it: %s", strerror(errno));
        free(tmp);
        return 0;
    }
    int ok = fchmod(fd, 0644) == 0;
    for (size_t off = 0; ok && off < n;) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ok = 0;
        else off += (size_t)w;
    }
    if (ok) ok = fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        snprintf(why, cap, "write failed: %s", strerror(e ? e : EIO));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

int cli_out_commit(const char *cmd, cli_out *o, const char *path, int ok) {
    int flushed = o->f && fclose(o->f) == 0;
    o->f = NULL;
    char why[256] = "out of memory for the output buffer";
    int r = CLI_OK;
    if (ok && (!flushed || !out_replace(path, o->buf, o->len, why, sizeof why))) {
        fprintf(stderr, "simnet %s: %s: %s\n", cmd, path, why);
        r = CLI_FAIL;
    }
    free(o->buf);
    o->buf = NULL;
    o->len = 0;
    return ok ? r : CLI_FAIL;
}

int cli_open_model_split(sn_ctx *ctx, const char *cmd, const char *model_path, const sn_model *m,
                         const char *dir, int min_val, sn_dataset **full, sn_dataset **train,
                         sn_dataset **val) {
    *full = *train = *val = NULL;
    cli_data_args da = {dir, sn_model_meta_get(m, "dataset"), sn_model_meta_get(m, "label"),
                        sn_model_meta_get(m, "classes")};
    const char *vs = sn_model_meta_get(m, "val_size");
    const int val_size = vs ? atoi(vs) : 0;
    if (!da.dataset || !vs || val_size < min_val) {
        if (min_val > 0)
            fprintf(stderr, "simnet %s: %s records no dataset or validation split (needs a model "
                            "trained by simnet train with --val-size >= %d)\n", cmd, model_path,
                    min_val);
        else
            fprintf(stderr, "simnet %s: %s records no dataset or validation size (needs a model "
                            "trained by simnet train)\n", cmd, model_path);
        return CLI_FAIL;
    }
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    sn_status st = cli_open_split(ctx, &da, "train", c, h, w, full);
    if (!st) st = sn_dataset_split(ctx, *full, val_size, CLI_VAL_SPLIT_SEED, train, val);
    return st ? cli_fail(cmd, ctx, st) : CLI_OK;
}

int cli_check_new_output(const char *cmd, const char *model_path, const char *out) {
    struct stat sa, sb;
    if (strcmp(model_path, out) != 0 &&
        !(stat(model_path, &sa) == 0 && stat(out, &sb) == 0 && sa.st_dev == sb.st_dev &&
          sa.st_ino == sb.st_ino))
        return CLI_OK;
    fprintf(stderr, "simnet %s: --out %s is the input model; write the new model to a new file "
                    "(the original stays as it was)\n", cmd, out);
    return CLI_USAGE;
}

int cli_recalibrate_save(sn_ctx *ctx, const char *cmd, sn_model *m, const sn_dataset *val,
                         int pairs, const char *out, float *thr) {
    *thr = 0;
    sn_status st = val->n >= 2 ? sn_calibrate_threshold(ctx, m, val, pairs, CLI_THRESHOLD_SEED, thr)
                               : SN_OK;
    if (!st) {
        sn_model_set_threshold(m, *thr);
        st = sn_model_meta_set(ctx, m, "threshold_source", val->n >= 2 ? CLI_THRESHOLD_SOURCE : "none");
    }
    if (!st) st = sn_model_save(ctx, m, out);
    return st ? cli_fail(cmd, ctx, st) : CLI_OK;
}
