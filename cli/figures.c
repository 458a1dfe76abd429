/* figures.c -- the figures of a model on its test split (shared by simnet figures and the
 * --figures option of simnet train / eval): embeds the test set once, picks pairs and
 * queries with fixed seeds, and draws the five PNG files of simnet_viz.h into a directory. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "simnet_viz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    GRID_PAIRS = 16,      /* pairs_grid.png */
    MAP_POINTS = 5000,    /* embedding_map.png: at most this many test points */
    MAP_THUMBS = 2,       /* thumbnails per class */
    ROC_PAIRS = 10000,    /* roc.png, distance_hist.png */
    QUERIES = 8,          /* retrieval_sheet.png: queries x top-K */
    TOP_K = 8,
};
#define GRID_SEED 20240901u
#define MAP_SEED 20240902u
#define QUERY_SEED 20240903u
#define ROC_SEED 12345u /* = sn_eval_opts default: the AUC in roc.png matches simnet eval */

/* splitmix64: the CLI's own small RNG for its fixed-seed choices */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int below(uint64_t *s, int n) {
    return (int)(next_u64(s) % (uint64_t)n);
}

static double dist2(const float *a, const float *b, int d) {
    double s = 0;
    for (int k = 0; k < d; k++) s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return s;
}

static const char *join(char *buf, size_t cap, const char *dir, const char *name) {
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

/* pairs_grid.png: half same-class, half different-class pairs (alternating), decided at
 * the model threshold; similarity via sn_similarity_score. */
static sn_status pairs_grid(sn_ctx *ctx, const sn_dataset *t, const float *emb, int D,
                            float thr, const char *path, int *nomem) {
    size_t img = (size_t)t->c * (size_t)t->h * (size_t)t->w;
    uint8_t *a = malloc(img * GRID_PAIRS), *b = malloc(img * GRID_PAIRS);
    float score[GRID_PAIRS];
    uint8_t dec[GRID_PAIRS], tru[GRID_PAIRS];
    uint64_t s = GRID_SEED;
    int n = 0;
    for (int tries = 0; a && b && n < GRID_PAIRS && tries < 100000; tries++) {
        /* (a test split whose classes all have one image gets different pairs only) */
        int want_same = n % 2 == 0 && tries < 50000, i = below(&s, t->n), j = below(&s, t->n);
        if (i == j || (t->labels[i] == t->labels[j]) != want_same) continue;
        double d = sqrt(dist2(emb + (size_t)i * D, emb + (size_t)j * D, D));
        score[n] = (float)sn_similarity_score(d, thr);
        dec[n] = thr > 0 ? d <= thr : score[n] >= 0.5f;
        tru[n] = (uint8_t)want_same;
        memcpy(a + (size_t)n * img, t->pixels + (size_t)i * img, img);
        memcpy(b + (size_t)n * img, t->pixels + (size_t)j * img, img);
        n++;
    }
    *nomem = !a || !b;
    sn_status st = *nomem ? SN_ERR_NOMEM : SN_OK;
    if (!st) st = sn_viz_pairs_grid(ctx, path, a, b, n, t->c, t->h, t->w, score, dec, tru, thr);
    free(a);
    free(b);
    return st;
}

/* embedding_map.png on at most MAP_POINTS test points (a seeded subset, in index order). */
static sn_status embedding_map(sn_ctx *ctx, const sn_dataset *t, const float *emb, int D,
                               const char *path, int *nomem) {
    int n = t->n < MAP_POINTS ? t->n : MAP_POINTS;
    size_t img = (size_t)t->c * (size_t)t->h * (size_t)t->w;
    int *idx = malloc(sizeof(int) * (size_t)t->n);
    float *e = malloc(sizeof(float) * (size_t)n * (size_t)D);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)n);
    uint8_t *px = malloc(img * (size_t)n);
    *nomem = !idx || !e || !lab || !px;
    sn_status st = *nomem ? SN_ERR_NOMEM : SN_OK;
    if (!st) {
        uint64_t s = MAP_SEED;
        for (int i = 0; i < t->n; i++) idx[i] = i;
        if (n < t->n) { /* partial Fisher-Yates, then back to index order via a mark */
            for (int i = 0; i < n; i++) {
                int j = i + below(&s, t->n - i), x = idx[i];
                idx[i] = idx[j];
                idx[j] = x;
            }
            uint8_t *mark = calloc((size_t)t->n, 1);
            if (mark) {
                for (int i = 0; i < n; i++) mark[idx[i]] = 1;
                for (int i = 0, k = 0; i < t->n; i++)
                    if (mark[i]) idx[k++] = i;
                free(mark);
            }
        }
        for (int i = 0; i < n; i++) {
            memcpy(e + (size_t)i * D, emb + (size_t)idx[i] * D, sizeof(float) * (size_t)D);
            lab[i] = t->labels[idx[i]];
            memcpy(px + (size_t)i * img, t->pixels + (size_t)idx[i] * img, img);
        }
        st = sn_viz_embedding_map(ctx, path, e, n, D, lab, t->n_classes,
                                  (const char (*)[64])t->class_names, px, t->c, t->h, t->w,
                                  MAP_THUMBS);
    }
    free(idx);
    free(e);
    free(lab);
    free(px);
    return st;
}

/* retrieval_sheet.png: QUERIES seeded distinct queries, their TOP_K nearest other test
 * images (ordered by (distance, index)). */
static sn_status retrieval_sheet(sn_ctx *ctx, const sn_dataset *t, const float *emb, int D,
                                 const char *path) {
    int nq = t->n < QUERIES ? t->n : QUERIES, k = t->n - 1 < TOP_K ? t->n - 1 : TOP_K;
    int q[QUERIES], nbr[QUERIES * TOP_K];
    uint64_t s = QUERY_SEED;
    for (int i = 0; i < nq; i++) {
        int dup;
        do {
            q[i] = below(&s, t->n);
            dup = 0;
            for (int j = 0; j < i; j++) dup |= q[j] == q[i];
        } while (dup);
        double bd[TOP_K];
        int *bi = nbr + (size_t)i * k, cnt = 0;
        for (int r = 0; r < t->n; r++) {
            if (r == q[i]) continue;
            double d = dist2(emb + (size_t)q[i] * D, emb + (size_t)r * D, D);
            if (cnt == k && d >= bd[k - 1]) continue;
            int p = cnt < k ? cnt++ : k - 1; /* insertion into the sorted top-k */
            while (p > 0 && bd[p - 1] > d) {
                bd[p] = bd[p - 1];
                bi[p] = bi[p - 1];
                p--;
            }
            bd[p] = d;
            bi[p] = r;
        }
    }
    return sn_viz_retrieval_sheet(ctx, path, t->pixels, t->labels, t->n, t->c, t->h, t->w, q, nq,
                                  nbr, k);
}

/* training_curves.png from the JSON-lines log; a missing or empty log is a note. */
static sn_status training_curves(sn_ctx *ctx, const char *model_path, const char *log_path,
                                 const char *path, int *drawn) {
    char def[4096];
    *drawn = 0;
    if (!log_path) {
        snprintf(def, sizeof def, "%s.log.jsonl", model_path ? model_path : "");
        log_path = def;
    }
    struct stat sb;
    if (stat(log_path, &sb) != 0) {
        fprintf(stderr, "simnet figures: note: no training log %s (%s): skipping %s\n", log_path,
                strerror(errno), path);
        return SN_OK;
    }
    sn_viz_epoch *ep = NULL;
    int n = 0;
    sn_status st = sn_viz_read_training_log(ctx, log_path, &ep, &n);
    if (!st && n == 0)
        fprintf(stderr, "simnet figures: note: %s has no epoch lines: skipping %s\n", log_path, path);
    if (!st && n > 0) {
        st = sn_viz_training_curves(ctx, path, ep, n);
        *drawn = !st;
    }
    free(ep);
    return st;
}

int cli_write_figures(sn_ctx *ctx, sn_model *m, const char *model_path, const sn_dataset *test,
                      const char *log_path, const char *dir) {
    const char *cmd = "figures";
    char probe[4096], path[4096];
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    if (!dir || !*dir || strlen(dir) > sizeof probe - 64) {
        fprintf(stderr, "simnet %s: bad output directory\n", cmd);
        return CLI_USAGE;
    }
    if (test->c != c || test->h != h || test->w != w || test->n < 2 || test->n_classes < 2) {
        fprintf(stderr, "simnet %s: test split %s is %d images of %dx%dx%d in %d classes; need >= 2 "
                        "images of 2 classes shaped like the model input %dx%dx%d\n", cmd,
                test->name, test->n, test->c, test->h, test->w, test->n_classes, c, h, w);
        return CLI_USAGE;
    }
    snprintf(probe, sizeof probe, "%s/x", dir);
    if (!cli_mkdirs_for(probe)) {
        fprintf(stderr, "simnet %s: cannot create the directory %s\n", cmd, dir);
        return CLI_FAIL;
    }
    const int D = sn_model_embed_dim(m);
    const float thr = sn_model_threshold(m);
    float *emb = malloc(sizeof(float) * (size_t)test->n * (size_t)D);
    float *dist = malloc(sizeof(float) * ROC_PAIRS);
    uint8_t *same = malloc(ROC_PAIRS);
    int r = CLI_OK, drawn = 0, nomem = 0;
    sn_status st = emb && dist && same ? SN_OK : SN_ERR_NOMEM;
    if (st) {
        fprintf(stderr, "simnet %s: out of memory for %d embeddings\n", cmd, test->n);
        r = CLI_FAIL;
        goto done;
    }
    st = sn_model_embed(ctx, m, test->pixels, test->n, emb);
    if (!st) st = pairs_grid(ctx, test, emb, D, thr, join(path, sizeof path, dir, "pairs_grid.png"),
                              &nomem);
    if (!st) printf("wrote %s\n", path);
    if (!st) st = embedding_map(ctx, test, emb, D, join(path, sizeof path, dir, "embedding_map.png"),
                                 &nomem);
    if (!st) printf("wrote %s\n", path);
    if (!st)
        st = training_curves(ctx, model_path, log_path, join(path, sizeof path, dir, "training_curves.png"),
                             &drawn);
    if (!st && drawn) printf("wrote %s\n", path);
    if (!st) st = sn_pair_distances(ctx, m, test, ROC_PAIRS, ROC_SEED, dist, same);
    if (!st) st = sn_viz_roc(ctx, join(path, sizeof path, dir, "roc.png"), dist, same, ROC_PAIRS);
    if (!st) printf("wrote %s\n", path);
    if (!st)
        st = sn_viz_distance_hist(ctx, join(path, sizeof path, dir, "distance_hist.png"), dist, same,
                                  ROC_PAIRS, thr);
    if (!st) printf("wrote %s\n", path);
    if (!st) st = retrieval_sheet(ctx, test, emb, D, join(path, sizeof path, dir, "retrieval_sheet.png"));
    if (!st) printf("wrote %s\n", path);
    if (st && nomem) {
        fprintf(stderr, "simnet %s: %s: out of memory\n", cmd, path);
        r = CLI_FAIL;
    } else if (st) {
        r = cli_fail(cmd, ctx, st);
    }
done:
    sn_viz_release_caches(); /* nothing of cairo is alive here; keeps leak checkers quiet */
    fflush(stdout);
    free(emb);
    free(dist);
    free(same);
    return r;
}
