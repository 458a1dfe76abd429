/* triplet.c -- triplet margin loss on a labelled batch: batch-all, batch-hard, semi-hard. */
#include "losses/batch_losses.h"

#include "core/core.h"
#include "losses/triplet_common.h"

#include <math.h>
#include <string.h>

static double batch_all(const dview *v, const int32_t *lab, double m) {
    int B = v->B;
    double sum = 0.0;
    long cnt = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int a = 0; a < B; a++)
            for (int p = 0; p < B; p++) {
                if (p == a || lab[p] != lab[a]) continue;
                double dap = dget(v, a, p);
                for (int n = 0; n < B; n++) {
                    if (lab[n] == lab[a]) continue;
                    double l = dap - dget(v, a, n) + m;
                    if (pass == 0) {
                        note(v, l);
                        if (l > 0.0) sum += l, cnt++;
                    } else if (l > 0.0) {
                        gadd(v, a, p, 1.0 / (double)cnt);
                        gadd(v, a, n, -1.0 / (double)cnt);
                    }
                }
            }
    return cnt ? sum / (double)cnt : 0.0;
}

static double semihard(const dview *v, const int32_t *lab, double m) {
    int B = v->B;
    long nP = pos_pairs(lab, B);
    if (!nP) return 0.0;
    double sum = 0.0;
    for (int a = 0; a < B; a++) {
        if (!has_neg(lab, B, a)) continue;
        for (int p = 0; p < B; p++) {
            if (p == a || lab[p] != lab[a]) continue;
            double dap = dget(v, a, p);
            int n = -1, f = -1;
            double nv = INFINITY, n2 = INFINITY, fv = -INFINITY, f2 = -INFINITY;
            for (int j = 0; j < B; j++) {
                if (lab[j] == lab[a]) continue;
                double d = dget(v, a, j);
                note(v, d - dap);
                if (d > dap) {
                    if (d < nv) n2 = nv, nv = d, n = j;
                    else if (d < n2) n2 = d;
                }
                if (d > fv) f2 = fv, fv = d, f = j;
                else if (d > f2) f2 = d;
            }
            if (n < 0) { /* no negative beyond d_ap: easiest negative */
                n = f, nv = fv, n2 = f2;
                if (isfinite(f2)) note(v, fv - f2);
            } else if (isfinite(n2)) {
                note(v, n2 - nv);
            }
            sum += hinge(v, a, p, n, dap - nv + m, 1.0 / (double)nP);
        }
    }
    return sum / (double)nP;
}

static double triplet_core(const dview *v, const int32_t *lab, double m, int miner) {
    switch (miner) {
    case SN_MINER_ALL: return batch_all(v, lab, m);
    case SN_MINER_HARD: return hard_core(v, lab, m); /* triplet_common.h */
    case SN_MINER_SEMIHARD: return semihard(v, lab, m);
    default: SN_ASSERT(!"unknown miner"); return 0.0;
    }
}

size_t sn_triplet_scratch_size(int B, int dim) {
    (void)dim;
    return 2 * (size_t)B * (size_t)B + sn_distmat_scratch_size(B);
}

double sn_triplet_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                       float margin, int distance_kind, int miner, float *scratch,
                       size_t scratch_floats) {
    SN_ASSERT(B > 0 && dim > 0 && scratch_floats >= sn_triplet_scratch_size(B, dim));
    size_t BB = (size_t)B * (size_t)B;
    float *D = scratch, *dD = scratch + BB, *ws = scratch + 2 * BB;
    sn_distmat(D, e, B, dim, distance_kind, ws);
    if (de) memset(dD, 0, BB * sizeof *dD);
    dview v = {D, NULL, de ? dD : NULL, NULL, NULL, NULL, NULL, B};
    double L = triplet_core(&v, lab, margin, miner);
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward(de, dD, e, D, B, dim, distance_kind, ws);
    }
    return L;
}

double sn_triplet_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                           double margin, int distance_kind, int miner, double *kink) {
    size_t BB = (size_t)B * (size_t)B;
    double *D = sn_calloc(2 * BB, sizeof *D);
    SN_ASSERT(D != NULL);
    double *dD = D + BB;
    if (kink) *kink = INFINITY;
    sn_distmat_ref(D, e, B, dim, distance_kind);
    dview v = {NULL, D, NULL, de ? dD : NULL, NULL, NULL, kink, B};
    double L = triplet_core(&v, lab, margin, miner);
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward_ref(de, dD, e, B, dim, distance_kind);
    }
    free(D);
    return L;
}
