/*
 * calibrate.c -- operating points: thresholds on the pair distance chosen on validation
 * pairs for a target (FAR, precision, F1, accuracy), and their measured rates.
 *
 * Pairs are sorted by distance; accepting "same" for d <= t, a sweep over the distinct
 * distances gives TP(t), FP(t) exactly. A threshold is placed midway between the last
 * accepted distinct distance and the next one (below the smallest distance when
 * nothing may be accepted, so that d <= t holds for none).
 */
#include "eval/calibrate.h"
#include "eval/metrics.h"
#include "nn/nn.h"
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float d;
    uint8_t same;
} dpair;

static int cmp_dpair(const void *a, const void *b) {
    float x = ((const dpair *)a)->d, y = ((const dpair *)b)->d;
    return (x > y) - (x < y);
}

void sn_operating_point_measure(const float *dist, const uint8_t *same, int n,
                                sn_operating_point *op) {
    long tp = 0, fp = 0, pos = 0, neg = 0;
    for (int i = 0; i < n; i++) {
        int acc = dist[i] <= op->threshold;
        if (same[i]) {
            pos++;
            tp += acc;
        } else {
            neg++;
            fp += acc;
        }
    }
    long fn = pos - tp, tn = neg - fp;
    op->far = neg ? (double)fp / (double)neg : NAN;
    op->tar = pos ? (double)tp / (double)pos : NAN;
    op->precision = tp + fp ? (double)tp / (double)(tp + fp) : 1.0;
    op->f1 = 2 * tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0;
    op->accuracy = n ? (double)(tp + tn) / (double)n : NAN;
    op->n_pairs = n;
}

/* Parse "far=X" / "precision=X" / "f1" / "accuracy". kind: 0 far, 1 precision, 2 f1, 3 acc */
static int parse_target(const char *t, int *kind, double *x) {
    char *end;
    if (!strncmp(t, "far=", 4)) {
        *kind = 0;
        *x = strtod(t + 4, &end);
        return t[4] && !*end && *x > 0 && *x < 1;
    }
    if (!strncmp(t, "precision=", 10)) {
        *kind = 1;
        *x = strtod(t + 10, &end);
        return t[10] && !*end && *x > 0 && *x <= 1;
    }
    if (!strcmp(t, "f1")) return *kind = 2, 1;
    if (!strcmp(t, "accuracy")) return *kind = 3, 1;
    return 0;
}

sn_status sn_calibrate_pairs(sn_ctx *ctx, const float *dist, const uint8_t *same, int n,
                             const char *target, sn_operating_point *op) {
    int kind;
    double x = 0;
    if (!parse_target(target, &kind, &x))
        return sn_errf(ctx, SN_ERR_ARG, "--target %s: expected far=X (0<X<1), precision=X (0<X<=1), "
                                        "f1 or accuracy", target);
    dpair *p = malloc(sizeof(dpair) * (size_t)(n > 0 ? n : 1));
    if (!p) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for %d pairs", n);
    long pos = 0, neg = 0;
    for (int i = 0; i < n; i++) {
        p[i].d = dist[i];
        p[i].same = same[i];
        pos += same[i] != 0;
        if (!isfinite(dist[i])) {
            free(p);
            return sn_errf(ctx, SN_ERR_NUMERIC, "calibration: pair %d has a non-finite distance", i);
        }
    }
    neg = n - pos;
    if (pos == 0 || neg == 0) {
        free(p);
        return sn_errf(ctx, SN_ERR_ARG, "calibration needs both same and different pairs");
    }
    qsort(p, (size_t)n, sizeof *p, cmp_dpair);
    /* candidate k = number of accepted pairs (a prefix ending at a distinct value) */
    long tp = 0, fp = 0, best_k = 0;
    double best = -1;
    if (kind == 2 || kind == 3) best = kind == 3 ? (double)neg / (double)n : 0.0; /* accept none */
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && p[j].d == p[i].d) {
            tp += p[j].same != 0;
            fp += p[j].same == 0;
            j++;
        }
        double score;
        int ok = 1;
        if (kind == 0) {
            ok = (double)fp <= x * (double)neg + 1e-9;
            score = j;
        } else if (kind == 1) {
            ok = (double)tp >= x * (double)(tp + fp) - 1e-9;
            score = j;
        } else if (kind == 2) {
            score = 2.0 * (double)tp / (double)(tp + pos + fp);
        } else {
            score = (double)(tp + neg - fp) / (double)n;
        }
        if (ok && score > best) {
            best = score;
            best_k = j;
        }
        i = j;
    }
    float t;
    if (best_k == 0)
        t = p[0].d > 0 ? p[0].d * 0.5f : nextafterf(p[0].d, -INFINITY);
    else if (best_k == n)
        t = p[n - 1].d * 1.0001f + 1e-6f;
    else
        t = 0.5f * (p[best_k - 1].d + p[best_k].d);
    free(p);
    memset(op, 0, sizeof *op);
    snprintf(op->name, sizeof op->name, "%s", target);
    op->threshold = t;
    sn_operating_point_measure(dist, same, n, op);
    return SN_OK;
}

sn_status sn_pair_distances_emb(sn_ctx *ctx, const sn_dataset *ds, const float *emb, int D,
                                int n_pairs, uint64_t seed, float *dist, uint8_t *same) {
    int *a = sn_calloc((size_t)n_pairs, sizeof(int)), *b = sn_calloc((size_t)n_pairs, sizeof(int));
    sn_status st = !a || !b ? sn_errf(ctx, SN_ERR_NOMEM, "out of memory for %d pairs", n_pairs) : SN_OK;
    if (!st) st = sn_make_pairs(ctx, ds->labels, ds->n, ds->n_classes, n_pairs, seed, a, b, same);
    for (int i = 0; !st && i < n_pairs; i++) {
        const float *x = emb + (size_t)a[i] * (size_t)D, *y = emb + (size_t)b[i] * (size_t)D;
        double s = 0;
        for (int k = 0; k < D; k++) s += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
        dist[i] = (float)sqrt(s);
    }
    free(a);
    free(b);
    return st;
}

sn_status sn_pair_distances(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, int n_pairs,
                            uint64_t seed, float *dist, uint8_t *same) {
    if (ds->c != m->in_c || ds->h != m->in_h || ds->w != m->in_w)
        return sn_errf(ctx, SN_ERR_ARG, "dataset %s images are %dx%dx%d but the model expects %dx%dx%d",
                       ds->name, ds->c, ds->h, ds->w, m->in_c, m->in_h, m->in_w);
    float *emb = sn_aligned_alloc((size_t)ds->n * (size_t)m->embed_dim, sizeof(float));
    if (!emb) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory embedding %d images", ds->n);
    sn_status st = sn_model_embed(ctx, m, ds->pixels, ds->n, emb);
    if (!st) st = sn_pair_distances_emb(ctx, ds, emb, m->embed_dim, n_pairs, seed, dist, same);
    sn_aligned_free(emb);
    return st;
}

sn_status sn_calibrate(sn_ctx *ctx, sn_model *m, const sn_dataset *val, int n_pairs,
                       uint64_t seed, const char *target, sn_operating_point *out) {
    if (n_pairs < 2) return sn_errf(ctx, SN_ERR_ARG, "need at least 2 calibration pairs");
    float *dist = sn_calloc((size_t)n_pairs, sizeof(float));
    uint8_t *same = sn_calloc((size_t)n_pairs, 1);
    sn_status st = !dist || !same ? sn_errf(ctx, SN_ERR_NOMEM, "out of memory") : SN_OK;
    if (!st) st = sn_pair_distances(ctx, m, val, n_pairs, seed, dist, same);
    if (!st) st = sn_calibrate_pairs(ctx, dist, same, n_pairs, target, out);
    free(dist);
    free(same);
    return st;
}
