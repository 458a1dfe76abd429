/* cmd_explain.c -- simnet explain: saliency maps of two images (which pixels make them
 * alike), drawn into one PNG. Definitions of the maps: include/simnet_viz.h. */
#include "cli.h"

#include "simnet_viz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cmd_explain(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    int threads = 1, patch = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (required)"},
        {"out", OPT_STR, &out, "output PNG (required)"},
        {"occlusion", OPT_INT, &patch, "also occlusion maps with this patch size (e.g. 4 for "
                                       "28x28; 0 = none, default)"},
        {"threads", OPT_INT, &threads, "threads (default 1)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *usage = "--model MODEL IMAGE_A IMAGE_B [--occlusion PATCH] --out FILE.png";
    const char *pos[2];
    int npos, r = cli_parse("explain", argc, argv, opts, nopts, pos, 2, &npos);
    if (r == -1) {
        cli_print_help("explain", usage, opts, nopts);
        printf("\ngradient: |d distance / d input| (normalised input) summed over channels;\n"
               "occlusion: distance increase when a grey (dataset-mean) square hides the\n"
               "region, averaged over the squares covering each pixel (red = it mattered).\n");
        return CLI_OK;
    }
    if (r) return r;
    if (!model || !out || npos != 2) {
        fprintf(stderr, "simnet explain: usage: simnet explain %s\n", usage);
        return CLI_USAGE;
    }
    if (patch < 0 || threads < 0) {
        fprintf(stderr, "simnet explain: --occlusion and --threads must be >= 0\n");
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL;
    uint8_t *px = NULL;
    float *maps = NULL;
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("explain", ctx, st);
        goto done;
    }
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    size_t img = (size_t)c * (size_t)h * (size_t)w, plane = (size_t)h * (size_t)w;
    px = malloc(2 * img);
    maps = malloc(sizeof(float) * 4 * plane);
    if (!px || !maps) {
        fprintf(stderr, "simnet explain: out of memory\n");
        r = CLI_FAIL;
        goto done;
    }
    for (int i = 0; i < 2 && !st; i++) st = sn_image_load(ctx, pos[i], c, h, w, px + (size_t)i * img);
    if (st) {
        r = cli_fail("explain", ctx, st);
        if (st == SN_ERR_ARG) r = CLI_FAIL; /* a bad image file is a runtime failure */
        goto done;
    }
    double d = 0.0;
    st = sn_explain_gradient_dist(ctx, m, px, px + img, maps, maps + plane, &d);
    if (!st && patch > 0)
        st = sn_explain_occlusion(ctx, m, px, px + img, patch, maps + 2 * plane, maps + 3 * plane);
    if (st) {
        r = cli_fail("explain", ctx, st);
        goto done;
    }
    const int tta = sn_model_tta_views(m) > 1;
    if (tta) { /* the maps are of the single view; distance and decision are the model's */
        const int D = sn_model_embed_dim(m);
        float *e = malloc(sizeof(float) * 2 * (size_t)D);
        st = e ? sn_model_embed(ctx, m, px, 2, e) : SN_ERR_NOMEM;
        double s2 = 0.0;
        for (int k = 0; !st && k < D; k++) s2 += ((double)e[k] - e[D + k]) * ((double)e[k] - e[D + k]);
        free(e);
        if (st) {
            r = st == SN_ERR_NOMEM ? (fprintf(stderr, "simnet explain: out of memory\n"), CLI_FAIL)
                                   : cli_fail("explain", ctx, st);
            goto done;
        }
        d = sqrt(s2);
    }
    double t = sn_model_threshold(m);
    sn_saliency_figure fig;
    memset(&fig, 0, sizeof fig);
    fig.c = c;
    fig.h = h;
    fig.w = w;
    fig.img[0] = px;
    fig.img[1] = px + img;
    fig.sal[0] = maps;
    fig.sal[1] = maps + plane;
    if (patch > 0) {
        fig.occ[0] = maps + 2 * plane;
        fig.occ[1] = maps + 3 * plane;
    }
    fig.patch = patch;
    fig.name[0] = base_name(pos[0]);
    fig.name[1] = base_name(pos[1]);
    fig.distance = d;
    fig.score = sn_similarity_score(d, t);
    fig.threshold = t;
    if (!cli_mkdirs_for(out)) {
        fprintf(stderr, "simnet explain: %s: cannot create its directory\n", out);
        r = CLI_FAIL;
        goto done;
    }
    st = sn_viz_saliency(ctx, out, &fig);
    sn_viz_release_caches(); /* nothing of cairo is alive here; keeps leak checkers quiet */
    if (st) {
        r = cli_fail("explain", ctx, st);
        if (st == SN_ERR_ARG) r = CLI_FAIL;
        goto done;
    }
    printf("distance   %.4f\n", d);
    printf("similarity %.4f\n", fig.score);
    if (t > 0) printf("decision   %s (threshold %.4f)\n", d <= t ? "same" : "different", t);
    if (tta)
        printf("note       the maps explain the network on the images as given; distance and "
               "decision use the model's test-time augmentation (%s, %d views)\n", sn_model_tta(m),
               sn_model_tta_views(m));
    printf("wrote %s\n", out);
    r = CLI_OK;
done:
    free(px);
    free(maps);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return r;
}
