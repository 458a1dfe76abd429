/* metrics_verify.c -- pair-verification metrics: ROC AUC, EER, accuracy, TAR@FAR.
 *
 * All but accuracy_at sort the pairs once by distance and collapse equal distances
 * into G groups (d_g, pos_g, neg_g), g = 0..G-1 ascending; ROC point k (k = 1..G)
 * accepts groups 0..k-1. See metrics.h for the conventions. */
#include "eval/metrics.h"

#include "core/core.h"

#include <math.h>
#include <string.h>

typedef struct {
    float d;   /* distinct distance */
    int pos;   /* same pairs at this distance */
    int neg;   /* different pairs */
} sn_roc_group;

typedef struct {
    sn_roc_group *g; /* (G) ascending distance */
    int G;
    long P, N;       /* totals */
} sn_roc;

/* Build the groups. Returns 1, 0 on NaN or n < 1, -1 when out of memory. */
static int sn__roc_build(sn_roc *r, const float *dist, const uint8_t *same, int n) {
    r->g = NULL;
    r->G = 0;
    r->P = r->N = 0;
    if (n < 1 || !dist || !same) return 0;
    for (int i = 0; i < n; i++)
        if (isnan(dist[i])) return 0;
    uint64_t *key = sn_calloc((size_t)n, sizeof *key);
    sn_roc_group *g = sn_calloc((size_t)n, sizeof *g);
    if (!key || !g) {
        free(key);
        free(g);
        return -1;
    }
    for (int i = 0; i < n; i++)
        key[i] = ((uint64_t)sn_metric_float_key(dist[i]) << 32) | (same[i] ? 1u : 0u);
    sn_metric_sort_u64(key, (size_t)n);
    int G = 0;
    for (int i = 0; i < n; i++) {
        uint32_t hi = (uint32_t)(key[i] >> 32);
        if (G == 0 || hi != sn_metric_float_key(g[G - 1].d)) {
            /* recover the float: dist values with this key are all equal */
            uint32_t u = (hi & 0x80000000u) ? (hi & 0x7fffffffu) : ~hi;
            float d;
            memcpy(&d, &u, sizeof d);
            g[G].d = d;
            g[G].pos = g[G].neg = 0;
            G++;
        }
        if (key[i] & 1u) {
            g[G - 1].pos++;
            r->P++;
        } else {
            g[G - 1].neg++;
            r->N++;
        }
    }
    free(key);
    r->g = g;
    r->G = G;
    return 1;
}

static double roc_auc(const sn_roc *r) {
    if (r->P == 0 || r->N == 0) return NAN;
    /* sum over groups: pos_g * (negatives farther away + neg_g / 2) */
    double acc = 0.0;
    long neg_after = r->N;
    for (int k = 0; k < r->G; k++) {
        neg_after -= r->g[k].neg;
        acc += (double)r->g[k].pos * ((double)neg_after + 0.5 * (double)r->g[k].neg);
    }
    return acc / ((double)r->P * (double)r->N);
}

double sn_metric_roc_auc(const float *dist, const uint8_t *same, int n) {
    sn_roc r;
    if (sn__roc_build(&r, dist, same, n) != 1) return NAN;
    double auc = roc_auc(&r);
    free(r.g);
    return auc;
}

static double roc_eer(const sn_roc *r, double *threshold) {
    if (threshold) *threshold = NAN;
    if (r->P == 0 || r->N == 0) return NAN;
    long tp = 0, fp = 0;
    double far_prev = 0.0, f_prev = -1.0; /* point 0: FAR 0, FRR 1 */
    for (int k = 0; k < r->G; k++) {
        tp += r->g[k].pos;
        fp += r->g[k].neg;
        double far = (double)fp / (double)r->N;
        double frr = (double)(r->P - tp) / (double)r->P;
        double f = far - frr;
        if (f >= 0.0) {
            double s = -f_prev / (f - f_prev);
            if (threshold)
                *threshold = k == 0 ? (double)r->g[0].d
                                    : (double)r->g[k - 1].d +
                                          s * ((double)r->g[k].d - (double)r->g[k - 1].d);
            return far_prev + s * (far - far_prev);
        }
        far_prev = far;
        f_prev = f;
    }
    return NAN;
}

double sn_metric_eer(const float *dist, const uint8_t *same, int n, double *threshold) {
    sn_roc r;
    if (threshold) *threshold = NAN;
    if (sn__roc_build(&r, dist, same, n) != 1) return NAN;
    double eer = roc_eer(&r, threshold);
    free(r.g);
    return eer;
}

double sn_metric_accuracy_at(const float *dist, const uint8_t *same, int n, double threshold) {
    if (n < 1 || !dist || !same || isnan(threshold)) return NAN;
    long correct = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(dist[i])) return NAN;
        int accept = (double)dist[i] <= threshold;
        correct += accept == (same[i] != 0);
    }
    return (double)correct / (double)n;
}

/* n >= 1 groups built */
static double roc_best_accuracy(const sn_roc *r, double *threshold) {
    /* correct(k) = TP_k + (N - FP_k); k = 0 accepts nothing */
    long best = r->N, tp = 0, fp = 0;
    int best_k = 0;
    for (int k = 1; k <= r->G; k++) {
        tp += r->g[k - 1].pos;
        fp += r->g[k - 1].neg;
        long c = tp + (r->N - fp);
        if (c > best) {
            best = c;
            best_k = k;
        }
    }
    if (threshold) {
        if (best_k == 0) *threshold = nextafter((double)r->g[0].d, -INFINITY);
        else if (best_k == r->G) *threshold = (double)r->g[r->G - 1].d;
        else *threshold = 0.5 * ((double)r->g[best_k - 1].d + (double)r->g[best_k].d);
    }
    return (double)best / (double)(r->P + r->N);
}

double sn_metric_best_accuracy(const float *dist, const uint8_t *same, int n,
                               double *threshold) {
    sn_roc r;
    if (threshold) *threshold = NAN;
    if (sn__roc_build(&r, dist, same, n) != 1) return NAN;
    double acc = roc_best_accuracy(&r, threshold);
    free(r.g);
    return acc;
}

static double roc_tar_at_far(const sn_roc *r, double far) {
    if (isnan(far) || r->P == 0 || r->N == 0) return NAN;
    long tp = 0, fp = 0, best_tp = 0;
    for (int k = 0; k < r->G; k++) {
        tp += r->g[k].pos;
        fp += r->g[k].neg;
        if ((double)fp / (double)r->N <= far) best_tp = tp;
        else break; /* FAR is nondecreasing in k */
    }
    return (double)best_tp / (double)r->P;
}

double sn_metric_tar_at_far(const float *dist, const uint8_t *same, int n, double far) {
    sn_roc r;
    if (isnan(far)) return NAN;
    if (sn__roc_build(&r, dist, same, n) != 1) return NAN;
    double tar = roc_tar_at_far(&r, far);
    free(r.g);
    return tar;
}

sn_status sn_metric_verification(sn_ctx *ctx, const float *dist, const uint8_t *same, int n,
                                  sn_verify_metrics *v) {
    const double nan = NAN;
    v->roc_auc = v->eer = v->eer_threshold = v->tar_at_far_1e2 = v->tar_at_far_1e3 = nan;
    v->best_accuracy = v->best_threshold = nan;
    sn_roc r;
    int b = sn__roc_build(&r, dist, same, n);
    if (b < 0)
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory sorting %d verification pairs", n);
    if (b == 0) return SN_OK; /* NaN distance or no pairs: every metric NaN */
    v->roc_auc = roc_auc(&r);
    v->eer = roc_eer(&r, &v->eer_threshold);
    v->tar_at_far_1e2 = roc_tar_at_far(&r, 1e-2);
    v->tar_at_far_1e3 = roc_tar_at_far(&r, 1e-3);
    v->best_accuracy = roc_best_accuracy(&r, &v->best_threshold);
    free(r.g);
    return SN_OK;
}
