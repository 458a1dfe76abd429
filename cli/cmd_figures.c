/* cmd_figures.c -- simnet figures: the PNG figures of a model on its test split
 * (pairs grid, embedding map, training curves, ROC, distance histograms, retrieval
 * sheet); the drawing is cli/figures.c, shared with --figures of train and eval. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_figures(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *log_path = NULL;
    cli_data_args da = {cli_default_data_dir(), NULL, NULL, NULL};
    int threads = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (required)"},
        {"data", OPT_STR, &da.dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"dataset", OPT_STR, &da.dataset, "dataset (default: the one the model was trained on)"},
        {"label", OPT_STR, &da.label, "cifar100 labels: fine | coarse (default: as trained)"},
        {"classes", OPT_STR, &da.classes, "draw these classes, e.g. 5-9 (default: as trained)"},
        {"log", OPT_STR, &log_path, "training log for training_curves.png (default MODEL.log.jsonl)"},
        {"out", OPT_STR, &out, "directory to write the PNG files to (required)"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos, r = cli_parse("figures", argc, argv, opts, nopts, pos, 0, &npos);
    if (r == -1) {
        cli_print_help("figures", "--model MODEL --out DIR [options]", opts, nopts);
        printf("\nwrites DIR/pairs_grid.png, embedding_map.png, training_curves.png (when the log "
               "exists), roc.png,\ndistance_hist.png and retrieval_sheet.png\n");
        return CLI_OK;
    }
    if (r) return r;
    if (!model || !out) {
        fprintf(stderr, "simnet figures: --model MODEL and --out DIR are required\n");
        return CLI_USAGE;
    }
    if (threads < 0) {
        fprintf(stderr, "simnet figures: --threads must be >= 0\n");
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    sn_dataset *test = NULL;
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("figures", ctx, st);
        goto done;
    }
    if (!da.dataset) da.dataset = sn_model_meta_get(m, "dataset");
    if (!da.label) da.label = sn_model_meta_get(m, "label");
    if (!da.classes) da.classes = sn_model_meta_get(m, "classes");
    if (!da.dataset) {
        fprintf(stderr, "simnet figures: %s does not record its dataset; give --dataset\n", model);
        r = CLI_USAGE;
        goto done;
    }
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    st = cli_open_split(ctx, &da, "test", c, h, w, &test);
    if (st) {
        r = cli_fail("figures", ctx, st);
        goto done;
    }
    r = cli_write_figures(ctx, m, model, test, log_path, out);
done:
    sn_model_free(m);
    sn_dataset_free(test);
    sn_ctx_free(ctx);
    return r;
}
