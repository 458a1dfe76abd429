/* cmd_tta.c -- simnet tta: write a copy of a trained model with another test-time
 * augmentation (sn_model_set_tta: the embedding is the mean over flipped / shifted views),
 * its threshold recalibrated on the model's own validation split as simnet train does
 * (distances change with the views). Operating points are not carried over. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_tta(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *views = NULL;
    const char *data_dir = cli_default_data_dir();
    int threads = 0, pairs = 10000;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "trained model (read only)"},
        {"out", OPT_STR, &out, "model to write (must not be --model)"},
        {"views", OPT_STR, &views, "none | flip | shiftN (N = 1..4) | flip+shiftN (required)"},
        {"data", OPT_STR, &data_dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"pairs", OPT_INT, &pairs, "validation pairs for the new threshold (default 10000, as simnet train)"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos, r = cli_parse("tta", argc, argv, opts, nopts, pos, 0, &npos);
    if (r == -1) {
        cli_print_help("tta", "--model MODEL --views SPEC --out NEW [options]\n"
                       "Every embedding of NEW (eval, compare, gallery, embed) is the mean over the "
                       "views: flip = the image and its mirror, shiftN = the image and its 4 shifts by "
                       "N pixels, flip+shiftN = the 10 combinations. The threshold is recalibrated on "
                       "the model's validation split; operating points are not carried over (run "
                       "simnet calibrate on NEW).", opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (!model || !out || !views) {
        fprintf(stderr, "simnet tta: --model, --views and --out are required\n");
        return CLI_USAGE;
    }
    if (pairs < 2 || threads < 0) {
        fprintf(stderr, "simnet tta: --pairs must be >= 2 and --threads >= 0\n");
        return CLI_USAGE;
    }
    if ((r = cli_check_new_output("tta", model, out))) return r;
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    sn_dataset *full = NULL, *train = NULL, *val = NULL;
    sn_status st = sn_model_load(ctx, model, &m);
    if (!st) st = sn_model_set_tta(ctx, m, views);
    if (st) {
        r = cli_fail("tta", ctx, st);
        goto done;
    }
    if ((r = cli_open_model_split(ctx, "tta", model, m, data_dir, 0, &full, &train, &val))) goto done;
    sn_model_clear_ops(m); /* measured on other distances */
    float thr;
    if ((r = cli_recalibrate_save(ctx, "tta", m, val, pairs, out, &thr))) goto done;
    printf("saved %s (test-time augmentation %s, %d views; threshold %.4f)\n", out, sn_model_tta(m),
           sn_model_tta_views(m), (double)thr);
    r = CLI_OK;
done:
    sn_model_free(m);
    sn_dataset_free(full);
    sn_dataset_free(train);
    sn_dataset_free(val);
    sn_ctx_free(ctx);
    return r;
}
