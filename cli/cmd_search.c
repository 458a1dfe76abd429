/* cmd_search.c -- simnet search: identify images against a gallery. Prints the top-k
 * labels with distances and the decision: the nearest label when its distance is within
 * the model's threshold (or --op NAME's), else "unknown". */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE = "G IMAGE... [-k 5] [--model MODEL] [--op NAME] [--index exact|ivf] [--json]";

int cmd_search(int argc, char **argv) {
    const char *model = NULL, *opname = NULL, *index = "exact";
    int json = 0, threads = 0, k = 5, nprobe = 0, nlist = 0;
    const cli_opt opts[] = {
        {"k", OPT_INT, &k, "neighbours listed per image (default 5; also -k N)"},
        {"model", OPT_STR, &model, "model file (default: the one the gallery records; must match "
                                   "its fingerprint)"},
        {"op", OPT_STR, &opname, "operating point to decide with (see simnet info; default: the "
                                 "model's default threshold)"},
        {"index", OPT_STR, &index, "exact (default) | ivf: approximate inverted-file index"},
        {"nlist", OPT_INT, &nlist, "ivf: lists (default sqrt(entries))"},
        {"nprobe", OPT_INT, &nprobe, "ivf: lists scanned per query (default 16)"},
        {"json", OPT_FLAG, &json, "print JSON"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    /* "-k N" is accepted as "--k N" */
    char **av = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    const char **pos = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    if (!av || !pos) {
        free(av);
        free(pos);
        return CLI_FAIL;
    }
    static char long_k[] = "--k";
    for (int i = 0; i < argc; i++) av[i] = i > 0 && !strcmp(argv[i], "-k") ? long_k : argv[i];
    int npos, r = cli_parse("search", argc, av, opts, nopts, pos, argc, &npos);
    free(av);
    if (r == -1) {
        cli_print_help("search", USAGE, opts, nopts);
        free(pos);
        return CLI_OK;
    }
    if (r) {
        free(pos);
        return r;
    }
    const int ivf = !strcmp(index, "ivf");
    const char *why = npos < 2 ? "give the gallery and at least one IMAGE"
                    : k < 1 || k > 1000 ? "-k must be in 1..1000"
                    : !ivf && strcmp(index, "exact") ? "--index must be exact or ivf"
                    : threads < 0 || nprobe < 0 || nlist < 0 ? "--threads, --nprobe, --nlist must be >= 0"
                    : NULL;
    if (why) {
        fprintf(stderr, "simnet search: %s\nusage: simnet search %s\n", why, USAGE);
        free(pos);
        return CLI_USAGE;
    }
    const int n = npos - 1;
    const char *const *files = pos + 1;
    sn_ctx *ctx = sn_ctx_create(threads);
    sn_gallery *g = NULL;
    sn_model *m = NULL;
    uint8_t *px = NULL;
    int *ok = NULL, *dec = NULL;
    sn_gallery_hit *hits = NULL;
    r = CLI_FAIL;
    if (!ctx) goto done;
    sn_ctx_set_log(ctx, cli_log_stderr, NULL);
    if ((r = cli_gallery_open("search", ctx, pos[0], model, &g, &m)) != CLI_OK) goto done;
    r = CLI_FAIL;
    double t = sn_model_threshold(m);
    const char *tsrc = sn_model_meta_get(m, "threshold_source");
    if (opname) {
        const sn_operating_point *op = sn_model_op_find(m, opname);
        if (!op) {
            fprintf(stderr, "simnet search: the model has no operating point '%s' (it has:", opname);
            for (int i = 0; i < sn_model_op_count(m); i++)
                fprintf(stderr, " %s", sn_model_op_get(m, i)->name);
            fprintf(stderr, "%s); see simnet calibrate\n", sn_model_op_count(m) ? "" : " none");
            r = CLI_USAGE;
            goto done;
        }
        t = op->threshold;
        tsrc = op->name;
    }
    if (!tsrc) tsrc = "default";
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    const size_t img = (size_t)c * (size_t)h * (size_t)w;
    px = malloc(img * (size_t)n);
    ok = malloc(sizeof(int) * (size_t)n);
    dec = malloc(sizeof(int) * (size_t)n);
    hits = malloc(sizeof(sn_gallery_hit) * (size_t)n * (size_t)k);
    if (!px || !ok || !dec || !hits) {
        fprintf(stderr, "simnet search: out of memory for %d images\n", n);
        goto done;
    }
    const int bad = cli_load_images("search", ctx, files, n, c, h, w, px, ok);
    int nq = 0;
    for (int i = 0; i < n; i++)
        if (ok[i]) {
            if (nq != i) memmove(px + (size_t)nq * img, px + (size_t)i * img, img);
            nq++;
        }
    sn_gallery_search_opts so = {k, (float)t, ivf ? SN_GALLERY_IVF : SN_GALLERY_EXACT, nlist, nprobe};
    sn_status st = nq > 0 ? sn_gallery_search_images(ctx, g, m, px, nq, &so, hits, dec) : SN_OK;
    if (st) {
        r = cli_fail("search", ctx, st);
        goto done;
    }
    if (json) {
        printf("{\"gallery\": ");
        cli_json_str(stdout, pos[0]);
        printf(", \"threshold\": ");
        if (t > 0) printf("%.6f", t); else printf("null");
        printf(", \"threshold_source\": ");
        cli_json_str(stdout, t > 0 ? tsrc : "uncalibrated");
        printf(", \"index\": \"%s\", \"results\": [", ivf ? "ivf" : "exact");
    } else if (t <= 0) {
        printf("note: the model has no calibrated threshold: nearest labels are listed, no decision "
               "is made (see simnet calibrate)\n");
    }
    for (int i = 0, q = 0; i < n; i++) {
        if (json) {
            printf("%s\n  {\"image\": ", i ? "," : "");
            cli_json_str(stdout, files[i]);
        }
        if (!ok[i]) {
            if (json) printf(", \"error\": \"unreadable (see stderr)\"}");
            continue;
        }
        const sn_gallery_hit *H = hits + (size_t)q * (size_t)k;
        const int d = dec[q++];
        if (json) {
            printf(", \"decision\": ");
            if (d == 1) cli_json_str(stdout, H[0].label);
            else printf("%s", d == 0 ? "\"unknown\"" : "null");
            printf(", \"calibrated\": %s, \"neighbours\": [", d >= 0 ? "true" : "false");
            for (int j = 0; j < k && H[j].entry >= 0; j++) {
                printf("%s{\"label\": ", j ? ", " : "");
                cli_json_str(stdout, H[j].label);
                printf(", \"distance\": %.6f, \"entry\": %lld}", (double)H[j].distance, H[j].entry);
            }
            printf("]}");
            continue;
        }
        if (d == 1)
            printf("%s: %s  (distance %.4f <= threshold %.4f, %s)\n", files[i], H[0].label,
                   (double)H[0].distance, t, tsrc);
        else if (d == 0 && H[0].entry >= 0)
            printf("%s: unknown  (nearest %s at %.4f > threshold %.4f, %s)\n", files[i], H[0].label,
                   (double)H[0].distance, t, tsrc);
        else if (d == 0)
            printf("%s: unknown  (the gallery is empty)\n", files[i]);
        else
            printf("%s: uncalibrated  (nearest %s at %.4f)\n", files[i],
                   H[0].entry >= 0 ? H[0].label : "-", (double)H[0].distance);
        for (int j = 0; j < k && H[j].entry >= 0; j++)
            printf("  %2d. %-24s %.4f\n", j + 1, H[j].label, (double)H[j].distance);
    }
    if (json) printf("\n]}\n");
    fflush(stdout);
    r = bad ? CLI_FAIL : CLI_OK;
done:
    free(pos);
    free(px);
    free(ok);
    free(dec);
    free(hits);
    sn_gallery_close(g);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return r;
}
