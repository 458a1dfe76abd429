/* cmd_enroll.c -- simnet enroll: embed labelled images and add them to a gallery in one
 * transaction. Files that cannot be read are reported one by one and skipped; the rest
 * are enrolled and the exit status says that something failed. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <dirent.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *USAGE = "G (--label NAME IMAGE... | DIR) [--model MODEL] [--json]\n"
                           "  DIR holds one sub-folder per label: DIR/<label>/<images>";

typedef struct {
    char **path, **label; /* (n) owned strings */
    int n, cap;
} file_list;

static int push(file_list *L, const char *path, const char *label) {
    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 64;
        char **p = realloc(L->path, sizeof(char *) * (size_t)cap);
        if (p) L->path = p;
        char **l = realloc(L->label, sizeof(char *) * (size_t)cap);
        if (l) L->label = l;
        if (!p || !l) return 0;
        L->cap = cap;
    }
    L->path[L->n] = strdup(path);
    L->label[L->n] = strdup(label);
    if (!L->path[L->n] || !L->label[L->n]) {
        free(L->path[L->n]);
        free(L->label[L->n]);
        return 0;
    }
    L->n++;
    return 1;
}

static void list_free(file_list *L) {
    for (int i = 0; i < L->n; i++) {
        free(L->path[i]);
        free(L->label[i]);
    }
    free(L->path);
    free(L->label);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the non-hidden entries of dir (NULL + errno on failure). */
static char **dir_names(const char *dir, int *n) {
    DIR *d = opendir(dir);
    *n = 0;
    if (!d) return NULL;
    char **v = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            char **t = realloc(v, sizeof(char *) * (size_t)cap);
            if (!t) break;
            v = t;
        }
        if (!(v[*n] = strdup(e->d_name))) break;
        (*n)++;
    }
    closedir(d);
    if (*n > 0) qsort(v, (size_t)*n, sizeof(char *), cmp_str);
    if (!v) v = calloc(1, sizeof(char *));
    return v;
}

/* DIR/<label>/<file> -> list; 0 after printing an error. */
static int scan_folder(const char *dir, file_list *L) {
    int nc;
    char **cls = dir_names(dir, &nc);
    if (!cls) {
        fprintf(stderr, "simnet enroll: %s: %s\n", dir, strerror(errno));
        return 0;
    }
    int ok = 1, nlab = 0;
    for (int c = 0; c < nc && ok; c++) {
        size_t len = strlen(dir) + strlen(cls[c]) + 2;
        char *sub = malloc(len);
        struct stat sb;
        if (!sub) {
            ok = 0;
            break;
        }
        snprintf(sub, len, "%s/%s", dir, cls[c]);
        if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            int nf;
            char **files = dir_names(sub, &nf);
            nlab++;
            for (int f = 0; files && f < nf && ok; f++) {
                size_t lp = len + strlen(files[f]) + 1;
                char *p = malloc(lp);
                if (p) snprintf(p, lp, "%s/%s", sub, files[f]);
                ok = p && push(L, p, cls[c]);
                free(p);
            }
            for (int f = 0; files && f < nf; f++) free(files[f]);
            free(files);
        }
        free(sub);
    }
    for (int c = 0; c < nc; c++) free(cls[c]);
    free(cls);
    if (!ok) fprintf(stderr, "simnet enroll: out of memory listing %s\n", dir);
    else if (nlab == 0) {
        fprintf(stderr, "simnet enroll: %s has no label sub-folders (expected %s/<label>/<images>; "
                        "or give --label NAME IMAGE...)\n", dir, dir);
        ok = 0;
    }
    return ok;
}

int cmd_enroll(int argc, char **argv) {
    const char *model = NULL, *label = NULL;
    int json = 0, threads = 0;
    const cli_opt opts[] = {
        {"label", OPT_STR, &label, "label of the IMAGE files (without it: one DIR of label "
                                   "sub-folders)"},
        {"model", OPT_STR, &model, "model file (default: the one the gallery records; must match "
                                   "its fingerprint)"},
        {"json", OPT_FLAG, &json, "print a JSON summary"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char **pos = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    if (!pos) return CLI_FAIL;
    int npos, r = cli_parse("enroll", argc, argv, opts, nopts, pos, argc, &npos);
    if (r == -1) {
        cli_print_help("enroll", USAGE, opts, nopts);
        free(pos);
        return CLI_OK;
    }
    if (r) {
        free(pos);
        return r;
    }
    const char *why = npos < 2 ? "give the gallery and the images"
                    : !label && npos != 2 ? "without --label give exactly one DIR of label sub-folders"
                    : threads < 0 ? "--threads must be >= 0" : NULL;
    if (why) {
        fprintf(stderr, "simnet enroll: %s\nusage: simnet enroll %s\n", why, USAGE);
        free(pos);
        return CLI_USAGE;
    }
    file_list L = {0};
    sn_ctx *ctx = NULL;
    sn_gallery *g = NULL;
    sn_model *m = NULL;
    uint8_t *px = NULL;
    int *ok = NULL;
    const char **labs = NULL, **srcs = NULL;
    r = CLI_FAIL;
    if (label) {
        for (int i = 1; i < npos; i++)
            if (!push(&L, pos[i], label)) {
                fprintf(stderr, "simnet enroll: out of memory\n");
                goto done;
            }
    } else if (!scan_folder(pos[1], &L)) {
        goto done;
    }
    if (!(ctx = sn_ctx_create(threads))) goto done;
    sn_ctx_set_log(ctx, cli_log_stderr, NULL);
    if ((r = cli_gallery_open("enroll", ctx, pos[0], model, &g, &m)) != CLI_OK) goto done;
    r = CLI_FAIL;
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    const size_t img = (size_t)c * (size_t)h * (size_t)w;
    px = malloc(img * (size_t)(L.n > 0 ? L.n : 1));
    ok = malloc(sizeof(int) * (size_t)(L.n > 0 ? L.n : 1));
    labs = malloc(sizeof(char *) * (size_t)(L.n > 0 ? L.n : 1));
    srcs = malloc(sizeof(char *) * (size_t)(L.n > 0 ? L.n : 1));
    if (!px || !ok || !labs || !srcs) {
        fprintf(stderr, "simnet enroll: out of memory for %d images\n", L.n);
        goto done;
    }
    const int bad = cli_load_images("enroll", ctx, (const char *const *)L.path, L.n, c, h, w, px, ok);
    int n = 0; /* compact the good ones */
    for (int i = 0; i < L.n; i++)
        if (ok[i]) {
            if (n != i) memmove(px + (size_t)n * img, px + (size_t)i * img, img);
            labs[n] = L.label[i];
            srcs[n] = L.path[i];
            n++;
        }
    if (n > 0) {
        sn_status st = sn_gallery_enroll_images(ctx, g, m, n, labs, px, srcs);
        if (st) {
            r = cli_fail("enroll", ctx, st);
            goto done;
        }
    }
    /* committed: report per label (labels of a folder arrive grouped) */
    if (json) {
        printf("{\"gallery\": ");
        cli_json_str(stdout, pos[0]);
        printf(", \"enrolled\": %d, \"failed\": %d, \"labels\": [", n, bad);
    }
    for (int i = 0, first = 1; i < n;) {
        int j = i;
        while (j < n && !strcmp(labs[j], labs[i])) j++;
        if (json) {
            printf("%s{\"label\": ", first ? "" : ", ");
            cli_json_str(stdout, labs[i]);
            printf(", \"count\": %d}", j - i);
        } else {
            printf("enrolled %d image%s under %s\n", j - i, j - i == 1 ? "" : "s", labs[i]);
        }
        first = 0;
        i = j;
    }
    if (json) {
        printf("], \"failed_files\": [");
        for (int i = 0, first = 1; i < L.n; i++)
            if (!ok[i]) {
                if (!first) printf(", ");
                cli_json_str(stdout, L.path[i]);
                first = 0;
            }
        printf("]}\n");
    } else if (bad) {
        printf("%d of %d files could not be read (listed above); the other %d are enrolled\n", bad,
               L.n, n);
    }
    fflush(stdout);
    r = bad ? CLI_FAIL : CLI_OK;
done:
    list_free(&L);
    free(pos);
    free(px);
    free(ok);
    free(labs);
    free(srcs);
    sn_gallery_close(g);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return r;
}

int cli_eval_enroll(sn_ctx *ctx, sn_model *m, const cli_data_args *a, const char *opname, int known,
                    uint64_t seed, const char *json_path) {
    if (known < 0) {
        fprintf(stderr, "simnet eval: --known must be >= 1 (0: 3/4 of the classes)\n");
        return CLI_USAGE;
    }
    float t = sn_model_threshold(m);
    const char *tsrc = sn_model_meta_get(m, "threshold_source");
    if (opname) {
        const sn_operating_point *op = sn_model_op_find(m, opname);
        if (!op) {
            fprintf(stderr, "simnet eval: the model has no operating point '%s' (see simnet info, "
                            "simnet calibrate)\n", opname);
            return CLI_USAGE;
        }
        t = op->threshold;
        tsrc = op->name;
    }
    if (!tsrc) tsrc = "default";
    const char *trained = sn_model_meta_get(m, "classes");
    if (a->classes && trained && !strcmp(a->classes, trained))
        fprintf(stderr, "simnet eval: note: --classes %s are the classes the model was trained on; "
                        "give unseen ones (e.g. --classes 5-9) for the gallery use case\n", a->classes);
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    sn_dataset *test = NULL;
    sn_status st = cli_open_split(ctx, a, "test", c, h, w, &test);
    if (st) return cli_fail("eval", ctx, st);
    static const int SHOTS[2] = {1, 5};
    sn_enroll_result res[2];
    for (int i = 0; i < 2 && !st; i++) st = sn_eval_enroll(ctx, m, test, SHOTS[i], known, t, seed, &res[i]);
    if (st) {
        sn_dataset_free(test);
        return cli_fail("eval", ctx, st);
    }
    printf("enroll protocol on %s test, classes %s: %d classes enrolled, %d unknown (never "
           "enrolled); threshold %.4f (%s)\n", a->dataset, a->classes ? a->classes : "all", res[0].n_known,
           res[0].n_unknown, (double)t, t > 0 ? tsrc : "uncalibrated: no decisions");
    printf("  %-6s %9s %9s %9s %10s %11s %10s %10s\n", "K", "enrolled", "queries", "unknowns",
           "rank-1", "identified", "false rej", "unk. rej");
    for (int i = 0; i < 2; i++) {
        const sn_enroll_result *e = &res[i];
        printf("  %-6d %9d %9d %9d %10.4f", e->shots, e->n_enrolled, e->n_queries_known,
               e->n_queries_unknown, e->rank1_accuracy);
        const double v[3] = {e->identification_rate, e->false_reject_rate, e->unknown_rejection};
        for (int j = 0; j < 3; j++) {
            if (isnan(v[j])) printf(" %10s", "-");
            else printf(" %10.4f", v[j]);
        }
        printf("\n");
    }
    printf("(rank-1: nearest enrolled label correct; identified: accepted and correct; unk. rej: "
           "unknown queries rejected at the threshold; %d images per class enrolled, seed %llu)\n",
           SHOTS[1], (unsigned long long)seed);
    sn_dataset_free(test);
    if (!json_path) return CLI_OK;
    cli_out o;
    if (cli_out_open("eval", &o) != CLI_OK) return CLI_FAIL;
    FILE *f = o.f;
    fprintf(f, "{\n  \"protocol\": \"enroll\",\n  \"dataset\": ");
    cli_json_str(f, a->dataset);
    fprintf(f, ",\n  \"classes\": ");
    cli_json_str(f, a->classes ? a->classes : "all");
    fprintf(f, ",\n  \"threshold\": %.6f,\n  \"threshold_source\": ", (double)t);
    cli_json_str(f, t > 0 ? tsrc : "uncalibrated");
    fprintf(f, ",\n  \"seed\": %llu,\n  \"results\": [", (unsigned long long)seed);
    for (int i = 0; i < 2; i++) {
        const sn_enroll_result *e = &res[i];
        const char *keys[4] = {"rank1_accuracy", "identification_rate", "false_reject_rate",
                               "unknown_rejection"};
        const double v[4] = {e->rank1_accuracy, e->identification_rate, e->false_reject_rate,
                             e->unknown_rejection};
        fprintf(f, "%s\n    {\"shots\": %d, \"known_classes\": %d, \"unknown_classes\": %d, "
                   "\"enrolled\": %d, \"queries_known\": %d, \"queries_unknown\": %d", i ? "," : "",
                e->shots, e->n_known, e->n_unknown, e->n_enrolled, e->n_queries_known,
                e->n_queries_unknown);
        for (int j = 0; j < 4; j++) {
            if (isnan(v[j])) fprintf(f, ", \"%s\": null", keys[j]);
            else fprintf(f, ", \"%s\": %.6f", keys[j], v[j]);
        }
        fprintf(f, ", \"seconds\": %.3f}", e->seconds);
    }
    fprintf(f, "\n  ]\n}\n");
    return cli_out_commit("eval", &o, json_path, 1);
}
