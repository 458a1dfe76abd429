/*
 * triplet_common.h -- helpers shared by triplet.c and triplet_variants.c (private).
 *
 * The mining/loss cores run on either a float D (fast path) or a double D (_ref), so both
 * share one set of decisions. dview: D (B,B) as Df or Dd (exactly one non-NULL); dL/dD is
 * ACCUMULATED into gf and/or gd (both NULL: no gradient); cf / cd: optional (B) aux array,
 * used only by triplet_variants.c (bc: selection counts; curriculum: index work array),
 * NULL in triplet.c; kink: see batch_losses.h (NULL in the float path).
 */
#ifndef SN_TRIPLET_COMMON_H
#define SN_TRIPLET_COMMON_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const float *Df;
    const double *Dd;
    float *gf;
    double *gd;
    float *cf;
    double *cd;
    double *kink;
    int B;
} dview;

/* D[i][j] as double */
static inline double dget(const dview *v, int i, int j) {
    size_t k = (size_t)i * (size_t)v->B + (size_t)j;
    return v->Df ? (double)v->Df[k] : v->Dd[k];
}
/* dL/dD[i][j] += g */
static inline void gadd(const dview *v, int i, int j, double g) {
    size_t k = (size_t)i * (size_t)v->B + (size_t)j;
    if (v->gf) v->gf[k] += (float)g;
    if (v->gd) v->gd[k] += g;
}
/* record |gap| (distance to a hinge, tie or threshold) into *kink if smaller */
static inline void note(const dview *v, double gap) {
    if (v->kink && fabs(gap) < *v->kink) *v->kink = fabs(gap);
}
/* 1 if anchor a has a sample of another class in the batch */
static inline int has_neg(const int32_t *lab, int B, int a) {
    for (int n = 0; n < B; n++)
        if (lab[n] != lab[a]) return 1;
    return 0;
}
/* 1 if anchor a has another sample of its class in the batch */
static inline int has_pos(const int32_t *lab, int B, int a) {
    for (int p = 0; p < B; p++)
        if (p != a && lab[p] == lab[a]) return 1;
    return 0;
}
/* number of anchors with both a positive and a negative (batch-hard normaliser) */
static inline int hard_anchors(const int32_t *lab, int B) {
    int nA = 0;
    for (int a = 0; a < B; a++) nA += has_pos(lab, B, a) && has_neg(lab, B, a);
    return nA;
}
/* number of (anchor, positive) pairs whose anchor has a negative (semi-hard and
 * curriculum normaliser) */
static inline long pos_pairs(const int32_t *lab, int B) {
    long nP = 0;
    for (int a = 0; a < B; a++)
        if (has_neg(lab, B, a))
            for (int p = 0; p < B; p++) nP += p != a && lab[p] == lab[a];
    return nP;
}
/* One triplet term l = D_ap - D_an + m (computed by the caller): notes l as a kink; if
 * l > 0 adds w to dL/dD_ap and -w to dL/dD_an and returns l, else returns 0. */
static inline double hinge(const dview *v, int a, int p, int n, double l, double w) {
    note(v, l);
    if (!(l > 0.0)) return 0.0;
    gadd(v, a, p, w);
    gadd(v, a, n, -w);
    return l;
}
/* Batch-hard mining for anchor a: hardest positive *p (largest D_ap, first index on ties,
 * value *pv) and hardest negative *n (smallest D_an, first index on ties, value *nv).
 * Notes the gaps to the runner-up positive / negative as kinks. Returns 0 (nothing noted)
 * when a has no positive or no negative. */
static inline int hard_mine(const dview *v, const int32_t *lab, int a, int *p, int *n,
                            double *pv, double *nv) {
    int pi = -1, ni = -1;
    double pb = -INFINITY, p2 = -INFINITY, nb = INFINITY, n2 = INFINITY;
    for (int j = 0; j < v->B; j++) {
        if (j == a) continue;
        double d = dget(v, a, j);
        if (lab[j] == lab[a]) {
            if (d > pb) p2 = pb, pb = d, pi = j;
            else if (d > p2) p2 = d;
        } else {
            if (d < nb) n2 = nb, nb = d, ni = j;
            else if (d < n2) n2 = d;
        }
    }
    if (pi < 0 || ni < 0) return 0;
    if (isfinite(p2)) note(v, pb - p2);
    if (isfinite(n2)) note(v, n2 - nb);
    *p = pi, *n = ni, *pv = pb, *nv = nb;
    return 1;
}

/* selection count of sample i += 1 in cf / cd (no-op when both are NULL) */
static inline void cadd(const dview *v, int i) {
    if (v->cf) v->cf[i] += 1.0f;
    if (v->cd) v->cd[i] += 1.0;
}
/* Batch-hard triplet loss (SN_MINER_HARD): mean over anchors with a positive and a
 * negative of max(0, pv - nv + m), dL/dD into gf / gd, kinks noted. When cf / cd are
 * set, also counts how often each sample is chosen as a hardest positive or negative
 * (triplet_variants.c, bias-corrected loss). */
static inline double hard_core(const dview *v, const int32_t *lab, double m) {
    int B = v->B, nA = hard_anchors(lab, B);
    if (!nA) return 0.0;
    double sum = 0.0;
    for (int a = 0; a < B; a++) {
        int p, n;
        double pv, nv;
        if (!hard_mine(v, lab, a, &p, &n, &pv, &nv)) continue;
        cadd(v, p);
        cadd(v, n);
        sum += hinge(v, a, p, n, pv - nv + m, 1.0 / nA);
    }
    return sum / nA;
}

#endif /* SN_TRIPLET_COMMON_H */
