/* cmd_info.c -- simnet info: architecture, parameter count, metadata of a model file. */
#include "cli.h"

#include <stdio.h>

int cmd_info(int argc, char **argv) {
    const cli_opt opts[] = {{"help", OPT_FLAG, NULL, "this help"}};
    const char *pos[1];
    int npos, r = cli_parse("info", argc, argv, opts, 0, pos, 1, &npos);
    if (r == -1) {
        cli_print_help("info", "MODEL", opts, 0);
        return CLI_OK;
    }
    if (r) return r;
    if (npos != 1) {
        fprintf(stderr, "simnet info: usage: simnet info MODEL\n");
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(1);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    sn_status st = sn_model_load(ctx, pos[0], &m);
    if (st) {
        r = cli_fail("info", ctx, st);
        sn_ctx_free(ctx);
        return r;
    }
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    printf("model        %s\n", pos[0]);
    printf("architecture %s\n", sn_model_arch(m));
    printf("input        %dx%dx%d (uint8, scaled to [0,1] then normalised)\n", c, h, w);
    printf("embedding    %d-d\n", sn_model_embed_dim(m));
    printf("parameters   %zu\n", sn_model_param_count(m));
    if (sn_model_tta_views(m) > 1)
        printf("test-time    %s (each embedding the mean of %d views)\n", sn_model_tta(m),
               sn_model_tta_views(m));
    printf("threshold    %.6g%s\n", (double)sn_model_threshold(m),
           sn_model_threshold(m) > 0 ? "" : " (not calibrated)");
    if (sn_model_op_count(m) > 0) {
        printf("operating points (calibrated on validation pairs):\n");
        printf("  %-18s %10s %8s %8s %9s %8s %8s %7s\n", "name", "threshold", "FAR", "TAR", "precision",
               "F1", "accuracy", "pairs");
    }
    for (int i = 0; i < sn_model_op_count(m); i++) {
        const sn_operating_point *op = sn_model_op_get(m, i);
        printf("  %-18s %10.4f %8.5f %8.4f %9.4f %8.4f %8.4f %7d\n", op->name, (double)op->threshold,
               op->far, op->tar, op->precision, op->f1, op->accuracy, op->n_pairs);
    }
    char buf[8192];
    sn_model_describe(m, buf, sizeof buf);
    printf("layers:\n%s", buf);
    if (sn_model_meta_count(m) > 0) printf("training metadata:\n");
    for (int i = 0; i < sn_model_meta_count(m); i++) {
        const char *k = sn_model_meta_key(m, i);
        printf("  %-18s %s\n", k, sn_model_meta_get(m, k));
    }
    sn_model_free(m);
    sn_ctx_free(ctx);
    return CLI_OK;
}
