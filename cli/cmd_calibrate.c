/* cmd_calibrate.c -- simnet calibrate: store operating points (thresholds for a target
 * FAR, precision, F1 or accuracy) in a model, calibrated on its validation split. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_calibrate(int argc, char **argv) {
    const char *model = NULL, *targets = NULL, *dflt = NULL;
    const char *data_dir = cli_default_data_dir();
    int threads = 0, pairs = 20000;
    uint64_t seed = 4243;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file to calibrate (rewritten atomically)"},
        {"target", OPT_STR, &targets, "comma-separated: far=X, precision=X, f1, accuracy"},
        {"default", OPT_STR, &dflt, "make this operating point the model's default decision"},
        {"data", OPT_STR, &data_dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"pairs", OPT_INT, &pairs, "balanced validation pairs (default 20000)"},
        {"seed", OPT_U64, &seed, "seed of the validation pairs (default 4243)"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos, r = cli_parse("calibrate", argc, argv, opts, nopts, pos, 0, &npos);
    if (r == -1) {
        cli_print_help("calibrate", "--model MODEL --target far=1e-3[,precision=0.99,f1] [options]\n"
                       "Calibrates on the model's validation split (the train images held out by "
                       "simnet train), never on test.", opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (!model || !targets) {
        fprintf(stderr, "simnet calibrate: --model and --target are required\n");
        return CLI_USAGE;
    }
    if (pairs < 2 || threads < 0) {
        fprintf(stderr, "simnet calibrate: --pairs must be >= 2 and --threads >= 0\n");
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    sn_dataset *full = NULL, *train = NULL, *val = NULL;
    char *list = strdup(targets);
    sn_status st = list ? sn_model_load(ctx, model, &m) : SN_ERR_NOMEM;
    if (st) {
        r = cli_fail("calibrate", ctx, st);
        goto done;
    }
    if ((r = cli_open_model_split(ctx, "calibrate", model, m, data_dir, 2, &full, &train, &val)))
        goto done;
    printf("calibrating %s on its validation split (%s, %d images, %d pairs)\n", model,
           sn_model_meta_get(m, "dataset"), val->n, pairs);
    printf("  %-18s %10s %8s %8s %9s %8s %8s\n", "operating point", "threshold", "FAR", "TAR",
           "precision", "F1", "accuracy");
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        sn_operating_point op;
        st = sn_calibrate(ctx, m, val, pairs, seed, t, &op);
        if (!st) st = sn_model_op_set(ctx, m, &op);
        if (st) {
            r = cli_fail("calibrate", ctx, st);
            goto done;
        }
        printf("  %-18s %10.4f %8.5f %8.4f %9.4f %8.4f %8.4f\n", op.name, (double)op.threshold, op.far,
               op.tar, op.precision, op.f1, op.accuracy);
    }
    if (dflt) {
        const sn_operating_point *op = sn_model_op_find(m, dflt);
        if (!op) {
            fprintf(stderr, "simnet calibrate: --default %s: no such operating point in %s\n", dflt, model);
            r = CLI_USAGE;
            goto done;
        }
        sn_model_set_threshold(m, op->threshold);
        sn_model_meta_set(ctx, m, "threshold_source", op->name);
    }
    st = sn_model_save(ctx, m, model);
    if (st) {
        r = cli_fail("calibrate", ctx, st);
        goto done;
    }
    printf("saved %s (%d operating points)\n", model, sn_model_op_count(m));
    r = CLI_OK;
done:
    free(list);
    sn_model_free(m);
    sn_dataset_free(full);
    sn_dataset_free(train);
    sn_dataset_free(val);
    sn_ctx_free(ctx);
    return r;
}
