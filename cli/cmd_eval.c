/* cmd_eval.c -- simnet eval: verification, retrieval and k-NN metrics on the test split. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_num(FILE *f, const char *k, double v, int last) {
    if (isfinite(v))
        fprintf(f, "  \"%s\": %.6f%s\n", k, v, last ? "" : ",");
    else
        fprintf(f, "  \"%s\": null%s\n", k, last ? "" : ",");
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *json = NULL;
    cli_data_args da = {cli_default_data_dir(), NULL, NULL, NULL};
    int threads = 0, pairs = 10000;
    uint64_t seed = 12345;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (required)"},
        {"data", OPT_STR, &da.dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"dataset", OPT_STR, &da.dataset, "dataset (default: the one the model was trained on)"},
        {"label", OPT_STR, &da.label, "cifar100 labels: fine | coarse (default: as trained)"},
        {"classes", OPT_STR, &da.classes, "evaluate on these classes, e.g. 5-9 (default: as trained)"},
        {"json", OPT_STR, &json, "also write the metrics as one JSON object to FILE"},
        {"pairs", OPT_INT, &pairs, "balanced verification pairs (default 10000)"},
        {"seed", OPT_U64, &seed, "seed of the verification pairs (default 12345)"},
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
    if (pairs < 2 || threads < 0) {
        fprintf(stderr, "simnet eval: --pairs must be >= 2 and --threads >= 0\n");
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    sn_dataset *test = NULL, *train = NULL;
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("eval", ctx, st);
        goto done;
    }
    if (!da.dataset) da.dataset = sn_model_meta_get(m, "dataset");
    if (!da.label) da.label = sn_model_meta_get(m, "label");
    if (!da.classes) da.classes = sn_model_meta_get(m, "classes");
    if (!da.dataset) {
        fprintf(stderr, "simnet eval: %s does not record its dataset; give --dataset\n", model);
        r = CLI_USAGE;
        goto done;
    }
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    st = cli_open_split(ctx, &da, "test", c, h, w, &test);
    if (!st) st = cli_open_split(ctx, &da, "train", c, h, w, &train);
    sn_eval_result res;
    if (!st) st = sn_evaluate(ctx, m, test, train, pairs, seed, &res);
    if (st) {
        r = cli_fail("eval", ctx, st);
        goto done;
    }
    printf("model %s on %s test (%d images, %d pairs; 1-NN against %d train images)\n", model,
           da.dataset, test->n, res.n_pairs, train->n);
    printf("  %-30s %8.4f\n", "roc_auc", res.roc_auc);
    printf("  %-30s %8.4f\n", "eer", res.eer);
    if (isfinite(res.verification_accuracy))
        printf("  %-30s %8.4f   (threshold %.4f from the model)\n", "verification_accuracy",
               res.verification_accuracy, (double)sn_model_threshold(m));
    else
        printf("  %-30s %8s   (model has no calibrated threshold)\n", "verification_accuracy", "n/a");
    printf("  %-30s %8.4f   (best threshold on test %.4f; for reference only)\n", "best_accuracy",
           res.best_accuracy, res.best_threshold);
    printf("  %-30s %8.4f\n", "precision_at_1", res.precision_at_1);
    printf("  %-30s %8.4f\n", "r_precision", res.r_precision);
    printf("  %-30s %8.4f\n", "mean_average_precision_at_r", res.mean_average_precision_at_r);
    printf("  %-30s %8.4f\n", "knn_accuracy", res.knn_accuracy);
    printf("  (%.2f s)\n", res.seconds);
    if (sn_model_op_count(m) > 0) {
        /* each stored operating point, measured on the same test pairs */
        float *dist = malloc(sizeof(float) * (size_t)pairs);
        uint8_t *same = malloc((size_t)pairs);
        st = dist && same ? sn_pair_distances(ctx, m, test, pairs, seed, dist, same) : SN_ERR_NOMEM;
        if (st) {
            free(dist);
            free(same);
            r = cli_fail("eval", ctx, st);
            goto done;
        }
        printf("operating points on the test pairs (calibrated on validation):\n");
        printf("  %-18s %10s %10s %10s %10s %10s\n", "name", "threshold", "test FAR", "val FAR",
               "test TAR", "val TAR");
        for (int i = 0; i < sn_model_op_count(m); i++) {
            sn_operating_point t = *sn_model_op_get(m, i);
            double vfar = t.far, vtar = t.tar;
            sn_operating_point_measure(dist, same, pairs, &t);
            printf("  %-18s %10.4f %10.5f %10.5f %10.4f %10.4f\n", t.name, (double)t.threshold, t.far,
                   vfar, t.tar, vtar);
        }
        free(dist);
        free(same);
    }
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "simnet eval: %s: cannot open for writing\n", json);
            r = CLI_FAIL;
            goto done;
        }
        fprintf(f, "{\n");
        json_num(f, "roc_auc", res.roc_auc, 0);
        json_num(f, "eer", res.eer, 0);
        json_num(f, "verification_accuracy", res.verification_accuracy, 0);
        json_num(f, "precision_at_1", res.precision_at_1, 0);
        json_num(f, "r_precision", res.r_precision, 0);
        json_num(f, "mean_average_precision_at_r", res.mean_average_precision_at_r, 0);
        json_num(f, "knn_accuracy", res.knn_accuracy, 1);
        fprintf(f, "}\n");
        if (fclose(f) != 0) {
            fprintf(stderr, "simnet eval: %s: write failed\n", json);
            r = CLI_FAIL;
            goto done;
        }
    }
    r = CLI_OK;
done:
    sn_model_free(m);
    sn_dataset_free(test);
    sn_dataset_free(train);
    sn_ctx_free(ctx);
    return r;
}
