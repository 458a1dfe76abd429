/* cmd_embed.c -- simnet embed: embeddings of a dataset split or of image files as a
 * NumPy .npy file (float32, shape (N, D)), plus the labels of a dataset (int32, (N)). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "simnet_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *USAGE =
    "--model MODEL (--dataset NAME [--data DIR] [--split test|train] [--classes SPEC] | IMAGE...) "
    "--out FILE.npy [--labels FILE.npy]";

/* FILE.npy -> FILE.labels.npy (other names get ".labels.npy" appended). */
static char *default_labels_path(const char *out) {
    size_t n = strlen(out);
    char *p = malloc(n + 16);
    if (!p) return NULL;
    if (n > 4 && !strcmp(out + n - 4, ".npy"))
        snprintf(p, n + 16, "%.*s.labels.npy", (int)(n - 4), out);
    else
        snprintf(p, n + 16, "%s.labels.npy", out);
    return p;
}

/* Write both files as temporaries (each written atomically by sn_npy_write), then
 * rename them into place, so a failure leaves neither output behind. */
static int write_outputs(sn_ctx *ctx, const char *out, const float *emb, size_t n, size_t d,
                         const char *lab_path, const int32_t *labels) {
    size_t la = strlen(out) + 32, lb = lab_path ? strlen(lab_path) + 32 : 1;
    char *ta = malloc(la), *tb = malloc(lb);
    int r = CLI_FAIL;
    if (!ta || !tb) {
        fprintf(stderr, "simnet embed: out of memory\n");
        goto done;
    }
    snprintf(ta, la, "%s.part.%ld", out, (long)getpid());
    if (lab_path) snprintf(tb, lb, "%s.part.%ld", lab_path, (long)getpid());
    size_t shape[2] = {n, d};
    sn_status st = sn_npy_write(ctx, ta, SN_NPY_F32, 2, shape, emb);
    if (st) {
        r = cli_fail("embed", ctx, st);
        goto done;
    }
    if (lab_path && (st = sn_npy_write(ctx, tb, SN_NPY_I32, 1, shape, labels))) {
        unlink(ta);
        r = cli_fail("embed", ctx, st);
        goto done;
    }
    if (rename(ta, out) != 0) {
        perror("simnet embed: rename");
        fprintf(stderr, "simnet embed: %s: cannot move the finished file into place\n", out);
        unlink(ta);
        if (lab_path) unlink(tb);
        goto done;
    }
    if (lab_path && rename(tb, lab_path) != 0) {
        fprintf(stderr, "simnet embed: %s: cannot move the finished labels into place\n", lab_path);
        unlink(tb);
        unlink(out);
        goto done;
    }
    r = CLI_OK;
done:
    free(ta);
    free(tb);
    return r;
}

int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *labels = NULL, *split = "test";
    cli_data_args da = {cli_default_data_dir(), NULL, NULL, NULL};
    int threads = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (required)"},
        {"dataset", OPT_STR, &da.dataset, "embed this dataset (mnist, fashion-mnist, cifar10, "
                                          "cifar100, folder:PATH) instead of IMAGE files"},
        {"data", OPT_STR, &da.dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"split", OPT_STR, &split, "split of --dataset: test (default) | train"},
        {"classes", OPT_STR, &da.classes, "only these classes of --dataset, e.g. 0-4 (relabelled "
                                          "0..k-1)"},
        {"label", OPT_STR, &da.label, "cifar100 labels: fine (default) | coarse"},
        {"out", OPT_STR, &out, "output .npy: float32 (N, D), one row per image (required)"},
        {"labels", OPT_STR, &labels, "labels .npy, int32 (N) (default: OUT with .npy -> "
                                     ".labels.npy; --dataset only)"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char **pos = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    if (!pos) return CLI_FAIL;
    int npos, r = cli_parse("embed", argc, argv, opts, nopts, pos, argc, &npos);
    if (r == -1) {
        cli_print_help("embed", USAGE, opts, nopts);
        free(pos);
        return CLI_OK;
    }
    if (r) {
        free(pos);
        return r;
    }
    const char *why = !model ? "--model MODEL is required"
                      : !out ? "--out FILE.npy is required"
                      : (da.dataset != NULL) == (npos > 0) ? "give either --dataset NAME or IMAGE files"
                      : strcmp(split, "test") && strcmp(split, "train") ? "--split must be test or train"
                      : !da.dataset && labels ? "--labels needs --dataset (image files have no labels)"
                      : threads < 0 ? "--threads must be >= 0" : NULL;
    if (why) {
        fprintf(stderr, "simnet embed: %s\nusage: simnet embed %s\n", why, USAGE);
        free(pos);
        return CLI_USAGE;
    }
    char *lab_path = NULL;
    if (da.dataset) {
        lab_path = labels ? strdup(labels) : default_labels_path(out);
        if (!lab_path) {
            free(pos);
            return CLI_FAIL;
        }
        if (!strcmp(lab_path, out)) {
            fprintf(stderr, "simnet embed: --labels %s is the same file as --out\n", lab_path);
            free(pos);
            free(lab_path);
            return CLI_USAGE;
        }
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    sn_model *m = NULL;
    sn_dataset *ds = NULL;
    uint8_t *px = NULL;
    float *emb = NULL;
    if (!ctx) {
        r = CLI_FAIL;
        goto done;
    }
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("embed", ctx, st);
        goto done;
    }
    int c, h, w, n;
    sn_model_input_shape(m, &c, &h, &w);
    size_t img = (size_t)c * (size_t)h * (size_t)w, D = (size_t)sn_model_embed_dim(m);
    const uint8_t *pixels;
    if (da.dataset) {
        st = cli_open_split(ctx, &da, split, c, h, w, &ds);
        if (st) {
            r = cli_fail("embed", ctx, st);
            goto done;
        }
        if (ds->c != c || ds->h != h || ds->w != w) {
            fprintf(stderr, "simnet embed: --dataset %s has %dx%dx%d images, the model %s expects "
                    "%dx%dx%d\n", da.dataset, ds->c, ds->h, ds->w, model, c, h, w);
            r = CLI_USAGE;
            goto done;
        }
        n = ds->n;
        pixels = ds->pixels;
    } else {
        n = npos;
        px = malloc(img * (size_t)n);
        if (!px) {
            fprintf(stderr, "simnet embed: out of memory for %d images\n", n);
            r = CLI_FAIL;
            goto done;
        }
        for (int i = 0; i < n; i++)
            if ((st = sn_image_load(ctx, pos[i], c, h, w, px + (size_t)i * img))) {
                r = cli_fail("embed", ctx, st);
                goto done;
            }
        pixels = px;
    }
    emb = malloc(sizeof(float) * D * (size_t)(n > 0 ? n : 1));
    if (!emb) {
        fprintf(stderr, "simnet embed: out of memory for %d x %zu embeddings\n", n, D);
        r = CLI_FAIL;
        goto done;
    }
    if (n > 0 && (st = sn_model_embed(ctx, m, pixels, n, emb))) {
        r = cli_fail("embed", ctx, st);
        goto done;
    }
    if (!cli_mkdirs_for(out) || (lab_path && !cli_mkdirs_for(lab_path))) {
        fprintf(stderr, "simnet embed: cannot create the directory of %s\n",
                cli_mkdirs_for(out) ? lab_path : out);
        r = CLI_FAIL;
        goto done;
    }
    r = write_outputs(ctx, out, emb, (size_t)n, D, lab_path, ds ? ds->labels : NULL);
    if (r == CLI_OK) {
        printf("wrote %d x %zu float32 embeddings to %s", n, D, out);
        if (lab_path) printf(" and %d int32 labels to %s", n, lab_path);
        printf("\n");
    }
done:
    free(pos);
    free(lab_path);
    free(px);
    free(emb);
    sn_dataset_free(ds);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return r;
}
