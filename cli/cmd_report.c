/* cmd_report.c -- simnet report: one self-contained HTML page (OUT_DIR/report.html) with
 * the model summary (as simnet info), the metrics of simnet eval (run here, or read
 * from a `simnet eval --json` file), and every PNG of a figures directory embedded as a
 * data: URI. No external resources: the page can be mailed or archived as one file. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "report_html.h"

#include <dirent.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIGS 256
#define MAX_METRICS 64

/* Metric keys and labels, in the order of simnet eval (docs/metrics.md). */
#define ROW(k, f, label) {k, offsetof(sn_eval_result, f), label}
static const struct {
    const char *key;
    size_t off;
    const char *label;
} ROWS[] = {
    ROW("roc_auc", roc_auc, "verification ROC AUC"),
    ROW("eer", eer, "equal error rate"),
    ROW("tar_at_far_1e-2", tar_at_far_1e2, "TAR at FAR 1e-2"),
    ROW("tar_at_far_1e-3", tar_at_far_1e3, "TAR at FAR 1e-3"),
    ROW("verification_accuracy", verification_accuracy, "pair accuracy at the model threshold"),
    ROW("best_accuracy", best_accuracy, "pair accuracy at the best test threshold"),
    ROW("precision_at_1", precision_at_1, "retrieval precision@1"),
    ROW("recall_at_1", recall_at_1, "retrieval recall@1"),
    ROW("recall_at_5", recall_at_5, "retrieval recall@5"),
    ROW("recall_at_10", recall_at_10, "retrieval recall@10"),
    ROW("r_precision", r_precision, "R-precision"),
    ROW("mean_average_precision_at_r", mean_average_precision_at_r, "MAP@R"),
    ROW("nmi", nmi, "k-means NMI"),
    ROW("ami", ami, "k-means AMI"),
    ROW("knn_accuracy", knn_accuracy, "k-NN accuracy"),
    ROW("fewshot_1shot", fewshot_1shot, "few-shot 1-shot accuracy"),
    ROW("fewshot_1shot_ci95", fewshot_1shot_ci95, "  +- 95 % CI"),
    ROW("fewshot_5shot", fewshot_5shot, "few-shot 5-shot accuracy"),
    ROW("fewshot_5shot_ci95", fewshot_5shot_ci95, "  +- 95 % CI"),
    ROW("dir_at_far_1e-2", dir_at_far_1e2, "open-set DIR at FAR 1e-2"),
};
#define NROWS ((int)(sizeof ROWS / sizeof ROWS[0]))

/* Known figures of simnet figures / explain, in page order, with captions. */
static const struct {
    const char *file, *title, *caption;
} KNOWN[] = {
    {"training_curves.png", "Training curves", "Train and test loss per epoch."},
    {"roc.png", "ROC curve", "True against false accept rate of the same/different decision "
                             "over all distance thresholds; AUC and EER marked."},
    {"distance_hist.png", "Distance histogram", "Distances of same-class and different-class "
                                                "test pairs; the line is the model's threshold."},
    {"embedding_map.png", "Embedding map", "Test embeddings in 2-D (top-2 principal components "
                                           "when the embedding has more), coloured by class."},
    {"pairs_grid.png", "Pairs grid", "Test pairs with their similarity score and decision; "
                                     "green border: the decision is right, red: wrong."},
    {"retrieval_sheet.png", "Retrieval sheet", "Queries and their nearest neighbours among the "
                                               "test images; green: same class, red: not."},
    {"explain.png", "Saliency", "Which pixels make the two images alike: gradient of the "
                                "distance, and (if present) occlusion maps."},
};
#define NKNOWN ((int)(sizeof KNOWN / sizeof KNOWN[0]))

static int known_index(const char *name) {
    for (int i = 0; i < NKNOWN; i++)
        if (!strcmp(name, KNOWN[i].file)) return i;
    if (!strncmp(name, "explain", 7)) return NKNOWN - 1;
    return NKNOWN;
}

static int cmp_fig(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int kx = known_index(x), ky = known_index(y);
    return kx != ky ? kx - ky : strcmp(x, y);
}

/* *.png names in dir, sorted: known figures first. Returns count or -1. */
static int list_pngs(const char *dir, char **names, int cap) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".png") || e->d_name[0] == '.') continue;
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_fig);
    return n;
}

static void kv(FILE *f, const char *k, const char *v) {
    fputs("<tr><th>", f);
    rep_escape(f, k);
    fputs("</th><td>", f);
    rep_escape(f, v);
    fputs("</td></tr>\n", f);
}

static void model_section(FILE *f, const char *path, const sn_model *m) {
    char buf[8192];
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    fputs("<section>\n<h2>Model</h2>\n<table>\n", f);
    kv(f, "file", path);
    kv(f, "architecture", sn_model_arch(m));
    snprintf(buf, sizeof buf, "%dx%dx%d (uint8, scaled to [0,1] then normalised)", c, h, w);
    kv(f, "input", buf);
    snprintf(buf, sizeof buf, "%d-d", sn_model_embed_dim(m));
    kv(f, "embedding", buf);
    snprintf(buf, sizeof buf, "%zu", sn_model_param_count(m));
    kv(f, "parameters", buf);
    if (sn_model_tta_views(m) > 1) {
        snprintf(buf, sizeof buf, "%s (each embedding the mean of %d views)", sn_model_tta(m),
                 sn_model_tta_views(m));
        kv(f, "test-time augmentation", buf);
    }
    float t = sn_model_threshold(m);
    snprintf(buf, sizeof buf, "%.6g%s", (double)t, t > 0 ? "" : " (not calibrated)");
    kv(f, "threshold", buf);
    fputs("</table>\n", f);
    if (sn_model_op_count(m) > 0) {
        fputs("<h3>Operating points (calibrated on validation pairs)</h3>\n<table>\n<tr><th>name"
              "</th><th>threshold</th><th>FAR</th><th>TAR</th><th>precision</th><th>F1</th>"
              "<th>accuracy</th><th>pairs</th></tr>\n", f);
        for (int i = 0; i < sn_model_op_count(m); i++) {
            const sn_operating_point *op = sn_model_op_get(m, i);
            fputs("<tr><td>", f);
            rep_escape(f, op->name);
            fprintf(f, "</td><td class=\"num\">%.4f</td><td class=\"num\">%.5f</td><td class=\"num\">"
                       "%.4f</td><td class=\"num\">%.4f</td><td class=\"num\">%.4f</td><td class="
                       "\"num\">%.4f</td><td class=\"num\">%d</td></tr>\n", (double)op->threshold,
                    op->far, op->tar, op->precision, op->f1, op->accuracy, op->n_pairs);
        }
        fputs("</table>\n", f);
    }
    sn_model_describe(m, buf, sizeof buf);
    fputs("<h3>Layers</h3>\n<pre>", f);
    rep_escape(f, buf);
    fputs("</pre>\n", f);
    if (sn_model_meta_count(m) > 0) {
        fputs("<h3>Training metadata</h3>\n<table>\n", f);
        for (int i = 0; i < sn_model_meta_count(m); i++) {
            const char *k = sn_model_meta_key(m, i);
            kv(f, k, sn_model_meta_get(m, k));
        }
        fputs("</table>\n", f);
    }
    fputs("</section>\n", f);
}

static const char *label_of(const char *key) {
    for (int i = 0; i < NROWS; i++)
        if (!strcmp(ROWS[i].key, key)) return ROWS[i].label;
    return "";
}

static void metrics_section(FILE *f, const char *source, const rep_metric *mt, int n) {
    fputs("<section>\n<h2>Metrics</h2>\n<p class=\"muted\">", f);
    rep_escape(f, source);
    fputs(" Definitions: docs/metrics.md.</p>\n", f);
    if (n > 0) {
        fputs("<table id=\"metrics\">\n<tr><th>metric</th><th>key</th><th>value</th></tr>\n", f);
        for (int i = 0; i < n; i++) {
            fputs("<tr><td>", f);
            rep_escape(f, label_of(mt[i].key));
            fputs("</td><td><code>", f);
            rep_escape(f, mt[i].key);
            if (isfinite(mt[i].value))
                fprintf(f, "</code></td><td class=\"num\">%.4f</td></tr>\n", mt[i].value);
            else
                fputs("</code></td><td class=\"num\">&ndash;</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    fputs("</section>\n", f);
}

int cmd_report(int argc, char **argv) {
    const char *model = NULL, *figdir = NULL, *outdir = NULL, *json = NULL, *explain = NULL;
    cli_data_args da = {cli_default_data_dir(), NULL, NULL, NULL};
    int threads = 0, no_eval = 0;
    sn_eval_opts eo;
    sn_eval_opts_default(&eo);
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (required)"},
        {"out", OPT_STR, &outdir, "output directory; the page is OUT/report.html (required)"},
        {"figures", OPT_STR, &figdir, "directory whose *.png are embedded (e.g. simnet figures --out)"},
        {"explain", OPT_STR, &explain, "a PNG of simnet explain to embed as well"},
        {"data", OPT_STR, &da.dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"dataset", OPT_STR, &da.dataset, "dataset (default: the one the model was trained on)"},
        {"json", OPT_STR, &json, "take the metrics from this simnet eval --json file instead"},
        {"no-eval", OPT_FLAG, &no_eval, "no metrics section"},
        {"pairs", OPT_INT, &eo.n_pairs, "evaluation: balanced verification pairs (default 10000)"},
        {"episodes", OPT_INT, &eo.episodes, "evaluation: few-shot episodes (default 1000, 0 = skip)"},
        {"seed", OPT_U64, &eo.seed, "evaluation seed (default 12345)"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *usage = "--model MODEL [--data DIR] [--figures DIR] [--no-eval | --json FILE] "
                        "--out OUT_DIR";
    const char *pos[1];
    int npos, r = cli_parse("report", argc, argv, opts, nopts, pos, 0, &npos);
    if (r == -1) {
        cli_print_help("report", usage, opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (!model || !outdir) {
        fprintf(stderr, "simnet report: usage: simnet report %s\n", usage);
        return CLI_USAGE;
    }
    if (no_eval && json) {
        fprintf(stderr, "simnet report: --no-eval and --json exclude each other\n");
        return CLI_USAGE;
    }
    if (eo.n_pairs < 2 || eo.episodes < 0 || threads < 0) {
        fprintf(stderr, "simnet report: need --pairs >= 2, --episodes >= 0, --threads >= 0\n");
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    sn_dataset *test = NULL, *train = NULL;
    FILE *f = NULL;
    char *figs[MAX_FIGS];
    int nfig = 0;
    char path[4096], tmp[4200], source[512] = "", err[600];
    rep_metric mt[MAX_METRICS];
    int nmt = 0;
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("report", ctx, st);
        goto done;
    }
    if (figdir && (nfig = list_pngs(figdir, figs, MAX_FIGS)) < 0) {
        nfig = 0;
        fprintf(stderr, "simnet report: --figures %s: cannot read the directory\n", figdir);
        r = CLI_FAIL;
        goto done;
    }
    if (json) {
        nmt = rep_read_metrics_json(json, mt, MAX_METRICS, err, sizeof err);
        if (nmt < 0) {
            fprintf(stderr, "simnet report: --json %s\n", err);
            r = CLI_FAIL;
            goto done;
        }
        snprintf(source, sizeof source, "Read from %s (simnet eval --json).", json);
    } else if (!no_eval) {
        if (!da.dataset) da.dataset = sn_model_meta_get(m, "dataset");
        da.label = sn_model_meta_get(m, "label");
        da.classes = sn_model_meta_get(m, "classes");
        if (!da.dataset) {
            fprintf(stderr, "simnet report: %s does not record its dataset; give --dataset, "
                            "--json or --no-eval\n", model);
            r = CLI_USAGE;
            goto done;
        }
        int c, h, w;
        sn_model_input_shape(m, &c, &h, &w);
        sn_eval_result res;
        st = cli_open_split(ctx, &da, "test", c, h, w, &test);
        if (!st) st = cli_open_split(ctx, &da, "train", c, h, w, &train);
        if (!st) st = sn_evaluate(ctx, m, test, train, &eo, &res);
        if (st) {
            r = cli_fail("report", ctx, st);
            goto done;
        }
        for (int i = 0; i < NROWS; i++) {
            if (!eo.open_set && !strcmp(ROWS[i].key, "dir_at_far_1e-2")) continue;
            snprintf(mt[nmt].key, sizeof mt[nmt].key, "%s", ROWS[i].key);
            mt[nmt++].value = *(const double *)(const void *)((const char *)&res + ROWS[i].off);
        }
        snprintf(source, sizeof source, "sn_evaluate on the %s test split (%d images, %d pairs, "
                 "%d-NN against %d train images, %d few-shot episodes; %.1f s).", da.dataset,
                 test->n, res.n_pairs, eo.knn_k, train->n, eo.episodes, res.seconds);
    }
    snprintf(path, sizeof path, "%s/report.html", outdir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (!cli_mkdirs_for(path) || !(f = fopen(tmp, "w"))) {
        fprintf(stderr, "simnet report: %s: cannot create\n", path);
        r = CLI_FAIL;
        goto done;
    }
    char title[300];
    const char *base = strrchr(model, '/');
    snprintf(title, sizeof title, "simnet report: %s", base ? base + 1 : model);
    rep_page_begin(f, title);
    fputs("<h1>", f);
    rep_escape(f, title);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    fprintf(f, "</h1>\n<p class=\"muted\">simnet %s, %s</p>\n", SN_VERSION_STRING, when);
    model_section(f, model, m);
    if (!no_eval) metrics_section(f, source, mt, nmt);
    if (nfig > 0 || explain) fputs("<h2>Figures</h2>\n", f);
    for (int i = 0; i < nfig + (explain ? 1 : 0); i++) {
        char fp[4200];
        const char *name = i < nfig ? figs[i] : strrchr(explain, '/') ? strrchr(explain, '/') + 1 : explain;
        if (i < nfig)
            snprintf(fp, sizeof fp, "%s/%s", figdir, figs[i]);
        else
            snprintf(fp, sizeof fp, "%s", explain);
        int k = i < nfig ? known_index(name) : NKNOWN - 1;
        const char *ti = k < NKNOWN ? KNOWN[k].title : name, *cap = k < NKNOWN ? KNOWN[k].caption : name;
        char t2[300];
        snprintf(t2, sizeof t2, "%s (%s)", ti, name);
        if (rep_embed_png(f, fp, t2, cap, err, sizeof err)) {
            fprintf(stderr, "simnet report: %s\n", err);
            r = CLI_FAIL;
            goto done;
        }
    }
    rep_page_end(f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    f = NULL;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "simnet report: %s: write failed\n", path);
        remove(tmp);
        r = CLI_FAIL;
        goto done;
    }
    printf("wrote %s (%d figure%s%s)\n", path, nfig + (explain ? 1 : 0),
           nfig + (explain ? 1 : 0) == 1 ? "" : "s", no_eval ? ", no metrics" : "");
    r = CLI_OK;
done:
    if (f) {
        fclose(f);
        remove(tmp);
    }
    for (int i = 0; i < nfig; i++) free(figs[i]);
    sn_model_free(m);
    sn_dataset_free(test);
    sn_dataset_free(train);
    sn_ctx_free(ctx);
    return r;
}
