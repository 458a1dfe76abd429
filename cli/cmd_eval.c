/* cmd_eval.c -- simnet eval: every metric of docs/metrics.md on the test split, beside
 * two baselines (raw pixels, the untrained network), and the model's operating points
 * measured on the test pairs. */
#include "cli.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One metric: JSON key, table label, offset into sn_eval_result. */
typedef struct {
    const char *key;
    size_t off;
} metric_row;

#define ROW(k, f) {k, offsetof(sn_eval_result, f)}
static const metric_row ROWS[] = {
    ROW("roc_auc", roc_auc),
    ROW("eer", eer),
    ROW("tar_at_far_1e-2", tar_at_far_1e2),
    ROW("tar_at_far_1e-3", tar_at_far_1e3),
    ROW("verification_accuracy", verification_accuracy),
    ROW("best_accuracy", best_accuracy),
    ROW("precision_at_1", precision_at_1),
    ROW("recall_at_1", recall_at_1),
    ROW("recall_at_5", recall_at_5),
    ROW("recall_at_10", recall_at_10),
    ROW("r_precision", r_precision),
    ROW("mean_average_precision_at_r", mean_average_precision_at_r),
    ROW("nmi", nmi),
    ROW("ami", ami),
    ROW("knn_accuracy", knn_accuracy),
    ROW("fewshot_1shot", fewshot_1shot),
    ROW("fewshot_1shot_ci95", fewshot_1shot_ci95),
    ROW("fewshot_5shot", fewshot_5shot),
    ROW("fewshot_5shot_ci95", fewshot_5shot_ci95),
    ROW("dir_at_far_1e-2", dir_at_far_1e2),
};
#define NROWS ((int)(sizeof ROWS / sizeof ROWS[0]))

static double get(const sn_eval_result *r, int i) {
    return *(const double *)(const void *)((const char *)r + ROWS[i].off);
}

static void json_obj(FILE *f, const sn_eval_result *r, const char *indent, int trailing_comma) {
    for (int i = 0; i < NROWS; i++) {
        double v = get(r, i);
        if (isfinite(v))
            fprintf(f, "%s\"%s\": %.6f,\n", indent, ROWS[i].key, v);
        else
            fprintf(f, "%s\"%s\": null,\n", indent, ROWS[i].key);
    }
    fprintf(f, "%s\"seconds\": %.3f%s\n", indent, r->seconds, trailing_comma ? "," : "");
}

static void cell(double v) {
    if (isfinite(v))
        printf(" %12.4f", v);
    else
        printf(" %12s", "-");
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *json = NULL, *reference = "test", *protocol = "closed";
    const char *figures = NULL, *tta = NULL;
    cli_data_args da = {cli_default_data_dir(), NULL, NULL, NULL};
    int threads = 0, no_baselines = 0, known = 0;
    const char *opname = NULL; /* --protocol enroll */
    sn_eval_opts eo;
    sn_eval_opts_default(&eo);
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (required)"},
        {"data", OPT_STR, &da.dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"dataset", OPT_STR, &da.dataset, "dataset (default: the one the model was trained on)"},
        {"label", OPT_STR, &da.label, "cifar100 labels: fine | coarse (default: as trained)"},
        {"classes", OPT_STR, &da.classes, "evaluate on these classes, e.g. 5-9 (default: as trained)"},
        {"op", OPT_STR, &opname, "enroll protocol: operating point to decide with (default: the "
                                 "model's default threshold)"},
        {"known", OPT_INT, &known, "enroll protocol: classes enrolled (default 3/4 of --classes; "
                                   "the rest are unknowns)"},
        {"protocol", OPT_STR, &protocol, "enroll: gallery use case on --classes (docs/gallery.md) | "
                                         "closed (default) | open: also enroll the first half of the "
                                         "classes from train and reject the rest (dir_at_far_1e-2)"},
        {"reference", OPT_STR, &reference, "retrieval references: test (self excluded, default) | train"},
        {"pairs", OPT_INT, &eo.n_pairs, "balanced verification pairs (default 10000)"},
        {"knn-k", OPT_INT, &eo.knn_k, "k of knn_accuracy (default 1)"},
        {"dba", OPT_INT, &eo.dba_k, "retrieval metrics on database-side augmented embeddings: each the mean of itself and its K-1 nearest references (default 0 = off; docs/metrics.md)"},
        {"episodes", OPT_INT, &eo.episodes, "few-shot episodes per setting (default 1000, 0 = skip)"},
        {"n-way", OPT_INT, &eo.n_way, "few-shot classes per episode (default 5)"},
        {"seed", OPT_U64, &eo.seed, "seed of pairs, k-means and episodes (default 12345)"},
        {"no-baselines", OPT_FLAG, &no_baselines, "skip the raw-pixel and untrained-network columns"},
        {"tta", OPT_STR, &tta, "test-time augmentation for this evaluation instead of the model's own: none | flip | shiftN | flip+shiftN (the threshold stays the model's)"},
        {"json", OPT_STR, &json, "also write the metrics as one JSON object to FILE"},
        {"figures", OPT_STR, &figures, "also draw the figures (PNG) into DIR"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos, r = cli_parse("eval", argc, argv, opts, nopts, pos, 0, &npos);
    if (r == -1) {
        cli_print_help("eval", "--model MODEL [options]", opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (!model) {
        fprintf(stderr, "simnet eval: --model MODEL is required\n");
        return CLI_USAGE;
    }
    if (eo.n_pairs < 2 || threads < 0 || eo.knn_k < 1 || eo.episodes < 0 || eo.n_way < 2 ||
        eo.dba_k < 0) {
        fprintf(stderr, "simnet eval: need --pairs >= 2, --knn-k >= 1, --episodes >= 0, --n-way >= 2, "
                        "--threads >= 0, --dba >= 0\n");
        return CLI_USAGE;
    }
    if (strcmp(reference, "test") && strcmp(reference, "train")) {
        fprintf(stderr, "simnet eval: --reference %s: expected test or train\n", reference);
        return CLI_USAGE;
    }
    if (strcmp(protocol, "closed") && strcmp(protocol, "open") && strcmp(protocol, "enroll")) {
        fprintf(stderr, "simnet eval: --protocol %s: expected closed, open or enroll\n", protocol);
        return CLI_USAGE;
    }
    eo.reference = !strcmp(reference, "train");
    eo.open_set = !strcmp(protocol, "open");
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_ctx_set_log(ctx, cli_log_stderr, NULL);
    sn_model *m = NULL, *untrained = NULL;
    sn_dataset *test = NULL, *train = NULL;
    float *pt = NULL, *pr = NULL, *dist = NULL;
    uint8_t *same = NULL;
    sn_eval_result res, raw, unt;
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("eval", ctx, st);
        goto done;
    }
    if (tta && (st = sn_model_set_tta(ctx, m, tta))) {
        r = cli_fail("eval", ctx, st);
        goto done;
    }
    if (!da.dataset) da.dataset = sn_model_meta_get(m, "dataset");
    if (!da.label) da.label = sn_model_meta_get(m, "label");
    const int classes_as_trained = !da.classes && sn_model_meta_get(m, "classes");
    if (!da.classes) da.classes = sn_model_meta_get(m, "classes");
    if (!strcmp(protocol, "enroll") && da.dataset) {
        r = cli_eval_enroll(ctx, m, &da, opname, known, eo.seed, json);
        goto done;
    }
    if (!da.dataset) {
        fprintf(stderr, "simnet eval: %s does not record its dataset; give --dataset\n", model);
        r = CLI_USAGE;
        goto done;
    }
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    st = cli_open_split(ctx, &da, "test", c, h, w, &test);
    if (!st) st = cli_open_split(ctx, &da, "train", c, h, w, &train);
    if (!st) st = sn_evaluate(ctx, m, test, train, &eo, &res);
    if (!st && !no_baselines) {
        size_t img = (size_t)c * (size_t)h * (size_t)w;
        pt = malloc(sizeof(float) * img * (size_t)test->n);
        pr = malloc(sizeof(float) * img * (size_t)train->n);
        st = pt && pr ? SN_OK : SN_ERR_NOMEM;
        if (!st) st = sn_embed_raw_pixels(ctx, m, test, pt);
        if (!st) st = sn_embed_raw_pixels(ctx, m, train, pr);
        if (!st) st = sn_evaluate_embeddings(ctx, pt, test, pr, train, (int)img, 0, &eo, &raw);
        if (!st) st = sn_model_clone_untrained(ctx, m, 1, &untrained);
        if (!st) st = sn_evaluate(ctx, untrained, test, train, &eo, &unt);
    }
    if (st) {
        r = st == SN_ERR_NOMEM && !*sn_ctx_error(ctx) ? (fprintf(stderr, "simnet eval: out of memory\n"), CLI_FAIL)
                                                      : cli_fail("eval", ctx, st);
        goto done;
    }
    printf("model %s on %s test (%d images, %d classes; %d pairs; references: %s%s)\n", model,
           da.dataset, test->n, test->n_classes, res.n_pairs,
           eo.reference ? "train" : "test, self excluded", eo.open_set ? "; open set" : "");
    if (sn_model_tta_views(m) > 1)
        printf("test-time augmentation %s: each embedding the mean of %d views%s\n", sn_model_tta(m),
               sn_model_tta_views(m), tta ? " (--tta; the threshold is the model's own)" : "");
    if (classes_as_trained)
        printf("  (classes %s, as the model was trained: seen classes; give --classes to evaluate "
               "unseen ones)\n", da.classes);
    if (eo.dba_k > 1)
        printf("  (retrieval rows -- precision_at_1, recall_at_k, r_precision, "
               "mean_average_precision_at_r -- rank DBA embeddings, k = %d, in every column)\n",
               eo.dba_k);
    printf("  %-28s %12s", "metric", "model");
    if (!no_baselines) printf(" %12s %12s", "raw pixels", "untrained");
    printf("\n");
    for (int i = 0; i < NROWS; i++) {
        if (!eo.open_set && !strcmp(ROWS[i].key, "dir_at_far_1e-2")) continue;
        printf("  %-28s", ROWS[i].key);
        cell(get(&res, i));
        if (!no_baselines) {
            cell(get(&raw, i));
            cell(get(&unt, i));
        }
        printf("\n");
    }
    printf("  (verification_accuracy at the model's threshold %.4f; best_accuracy at the best test "
           "threshold %.4f, for reference only; %d-NN against %d train images; few-shot %d-way, %d "
           "episodes, +- 95%% CI; %.1f s)\n", (double)sn_model_threshold(m), res.best_threshold,
           eo.knn_k, train->n, eo.n_way, eo.episodes, res.seconds);
    if (sn_model_op_count(m) > 0) {
        /* each stored operating point, measured on the same test pairs */
        dist = malloc(sizeof(float) * (size_t)eo.n_pairs);
        same = malloc((size_t)eo.n_pairs);
        st = dist && same ? sn_pair_distances(ctx, m, test, eo.n_pairs, eo.seed, dist, same) : SN_ERR_NOMEM;
        if (st) {
            r = cli_fail("eval", ctx, st);
            goto done;
        }
        printf("operating points on the test pairs (calibrated on validation):\n");
        printf("  %-18s %10s %10s %10s %10s %10s\n", "name", "threshold", "test FAR", "val FAR",
               "test TAR", "val TAR");
        for (int i = 0; i < sn_model_op_count(m); i++) {
            sn_operating_point t = *sn_model_op_get(m, i);
            double vfar = t.far, vtar = t.tar;
            sn_operating_point_measure(dist, same, eo.n_pairs, &t);
            printf("  %-18s %10.4f %10.5f %10.5f %10.4f %10.4f\n", t.name, (double)t.threshold, t.far,
                   vfar, t.tar, vtar);
        }
    }
    if (json) {
        cli_out o;
        if ((r = cli_out_open("eval", &o)) != CLI_OK) goto done;
        FILE *f = o.f;
        fprintf(f, "{\n  \"dba_k\": %d,\n", eo.dba_k);
        json_obj(f, &res, "  ", 1);
        fprintf(f, "  \"baselines\": {\n");
        if (!no_baselines) {
            fprintf(f, "    \"raw_pixels\": {\n");
            json_obj(f, &raw, "      ", 0);
            fprintf(f, "    },\n    \"untrained\": {\n");
            json_obj(f, &unt, "      ", 0);
            fprintf(f, "    }\n");
        }
        fprintf(f, "  }\n}\n");
        if ((r = cli_out_commit("eval", &o, json, 1)) != CLI_OK) goto done;
    }
    if (figures && (r = cli_write_figures(ctx, m, model, test, NULL, figures)) != CLI_OK) goto done;
    r = CLI_OK;
done:
    free(pt);
    free(pr);
    free(dist);
    free(same);
    sn_model_free(m);
    sn_model_free(untrained);
    sn_dataset_free(test);
    sn_dataset_free(train);
    sn_ctx_free(ctx);
    return r;
}
