/* cmd_compare.c -- simnet compare: distance, similarity score and decision for 2 images. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_compare(int argc, char **argv) {
    const char *model = NULL, *opname = NULL;
    int threads = 1;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (required)"},
        {"op", OPT_STR, &opname, "operating point to decide with (see simnet info; default: the model's default threshold)"},
        {"threads", OPT_INT, &threads, "threads (default 1)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[2];
    int npos, r = cli_parse("compare", argc, argv, opts, nopts, pos, 2, &npos);
    if (r == -1) {
        cli_print_help("compare", "--model MODEL IMAGE_A IMAGE_B", opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (!model || npos != 2) {
        fprintf(stderr, "simnet compare: usage: simnet compare --model MODEL IMAGE_A IMAGE_B\n");
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    uint8_t *px = NULL;
    float *e = NULL;
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("compare", ctx, st);
        goto done;
    }
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    size_t img = (size_t)c * (size_t)h * (size_t)w;
    int D = sn_model_embed_dim(m);
    px = malloc(2 * img);
    e = malloc(2 * sizeof(float) * (size_t)D);
    if (!px || !e) {
        fprintf(stderr, "simnet compare: out of memory\n");
        r = CLI_FAIL;
        goto done;
    }
    for (int i = 0; i < 2 && !st; i++) st = sn_image_load(ctx, pos[i], c, h, w, px + (size_t)i * img);
    if (!st) st = sn_model_embed(ctx, m, px, 2, e);
    if (st) {
        r = cli_fail("compare", ctx, st);
        goto done;
    }
    double d2 = 0;
    for (int k = 0; k < D; k++) d2 += ((double)e[k] - e[D + k]) * ((double)e[k] - e[D + k]);
    double t = sn_model_threshold(m);
    char used[96];
    const char *src = sn_model_meta_get(m, "threshold_source");
    snprintf(used, sizeof used, "default operating point%s%s%s", src ? " (" : "", src ? src : "",
             src ? ")" : "");
    if (opname) {
        const sn_operating_point *op = sn_model_op_find(m, opname);
        if (!op) {
            fprintf(stderr, "simnet compare: --op %s: %s has no such operating point (simnet info "
                            "lists them; simnet calibrate adds them)\n", opname, model);
            r = CLI_USAGE;
            goto done;
        }
        t = op->threshold;
        snprintf(used, sizeof used, "operating point %s: FAR %.4g, TAR %.4g on validation", op->name,
                 op->far, op->tar);
    }
    double d = sqrt(d2), s = sn_similarity_score(d, t);
    printf("distance   %.4f\n", d);
    printf("similarity %.4f   (1/(1+(d/t)^2), t = %.4f)\n", s, t);
    if (t > 0)
        printf("decision   %s   (distance %s threshold %.4f; %s)\n", d <= t ? "same" : "different",
               d <= t ? "<=" : ">", t, used);
    else
        printf("decision   n/a (the model has no calibrated threshold)\n");
    r = CLI_OK;
done:
    free(px);
    free(e);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return r;
}
