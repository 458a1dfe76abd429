/* triplet_variants.c -- triplet losses with a different negative choice or correction:
 * selection-bias-corrected batch-hard triplet (Yu et al. 2018) and curriculum negatives
 * (Appalaraju & Chaoji 2017). */
#include "losses/batch_losses.h"

#include "core/core.h"
#include "kernels/kernels.h"
#include "losses/triplet_common.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------- batch-hard + selection counts */
/* hard_core (triplet_common.h): same mining, ties and kinks as SN_MINER_HARD; with cf / cd
 * set it also counts how often each sample is chosen as a hardest positive or negative. */

/* Per-sample match weights from the selection counts c (B, float cf or double cd):
 * w_i = c_i / s_k - 1 / n_k for sample i of class k, with s_k the sum of c over class k
 * and n_k its size; w_i = 0 when s_k = 0. Written to wf or wd. Returns the number of
 * classes with s_k > 0. */
static int match_weights(float *wf, double *wd, const float *cf, const double *cd,
                         const int32_t *lab, int B) {
    int nc = 0;
    for (int i = 0; i < B; i++) {
        double s = 0.0;
        int n = 0, first = 1;
        for (int j = 0; j < B; j++)
            if (lab[j] == lab[i]) {
                s += cf ? (double)cf[j] : cd[j], n++;
                if (j < i) first = 0;
            }
        double w = s > 0.0 ? (cf ? (double)cf[i] : cd[i]) / s - 1.0 / n : 0.0;
        if (wf) wf[i] = (float)w;
        if (wd) wd[i] = w;
        nc += first && s > 0.0;
    }
    return nc;
}

size_t sn_triplet_bc_scratch_size(int B, int dim) {
    (void)dim;
    return 3 * (size_t)B * (size_t)B + sn_distmat_scratch_size(B) + 2 * (size_t)B;
}

double sn_triplet_bc_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                          float margin, int distance_kind, float *scratch,
                          size_t scratch_floats) {
    SN_ASSERT(B > 0 && dim > 0 && e && lab && scratch &&
              scratch_floats >= sn_triplet_bc_scratch_size(B, dim));
    size_t BB = (size_t)B * (size_t)B;
    float *D = scratch, *dD = D + BB, *M = dD + BB, *ws = M + BB;
    float *cnt = ws + sn_distmat_scratch_size(B), *wf = cnt + B;
    sn_distmat(D, e, B, dim, distance_kind, ws);
    memset(cnt, 0, (size_t)B * sizeof *cnt);
    if (de) memset(dD, 0, BB * sizeof *dD);
    dview v = {D, NULL, de ? dD : NULL, NULL, cnt, NULL, NULL, B};
    double L = hard_core(&v, lab, margin);
    /* match term: lambda/nc sum_k ||sum_{i in k} w_i e_i||^2 = sum_ij M_ij G_ij with
     * M_ij = lambda/nc w_i w_j [same class], G = e e^T (into ws, reused below). */
    int nc = match_weights(wf, NULL, cnt, NULL, lab, B);
    if (nc) {
        double k = SN_TRIPLET_BC_LAMBDA / nc, Lm = 0.0;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++)
                M[(size_t)i * B + j] =
                    lab[i] == lab[j] ? (float)(k * (double)wf[i] * (double)wf[j]) : 0.0f;
        sn_gemm_f32(0, 1, B, B, dim, 1.0f, e, dim, e, dim, 0.0f, ws, B);
        for (size_t q = 0; q < BB; q++) Lm += (double)M[q] * (double)ws[q];
        L += Lm;
    }
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward(de, dD, e, D, B, dim, distance_kind, ws);
        if (nc) sn_gemm_f32(0, 0, B, dim, B, 2.0f, M, B, e, dim, 1.0f, de, dim); /* 2 M e */
    }
    return L;
}

double sn_triplet_bc_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                              double margin, int distance_kind, double *kink) {
    size_t BB = (size_t)B * (size_t)B;
    double *D = sn_calloc(2 * BB + 2 * (size_t)B, sizeof *D);
    SN_ASSERT(D != NULL);
    double *dD = D + BB, *cnt = dD + BB, *w = cnt + B;
    if (kink) *kink = INFINITY;
    sn_distmat_ref(D, e, B, dim, distance_kind);
    dview v = {NULL, D, NULL, de ? dD : NULL, NULL, cnt, kink, B};
    double L = hard_core(&v, lab, margin);
    int nc = match_weights(NULL, w, NULL, cnt, lab, B);
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward_ref(de, dD, e, B, dim, distance_kind);
    }
    /* per class k: v_k = sum_{i in k} w_i e_i; L += lambda/nc |v_k|^2,
     * de_i += 2 lambda/nc w_i v_k */
    for (int i = 0; nc && i < B; i++) {
        int first = 1;
        for (int j = 0; j < i; j++) first &= lab[j] != lab[i];
        if (!first) continue;
        for (int k = 0; k < dim; k++) {
            double vk = 0.0;
            for (int j = 0; j < B; j++)
                if (lab[j] == lab[i]) vk += w[j] * e[(size_t)j * dim + k];
            L += SN_TRIPLET_BC_LAMBDA / nc * vk * vk;
            if (de)
                for (int j = 0; j < B; j++)
                    if (lab[j] == lab[i])
                        de[(size_t)j * dim + k] += 2.0 * SN_TRIPLET_BC_LAMBDA / nc * w[j] * vk;
        }
    }
    free(D);
    return L;
}

/* ------------------------------------------------------------- curriculum */
/* Work array of sample indices (held in the float / double aux buffer: exact for any
 * B < 2^24). */
static int iget(const dview *v, int k) { return v->cf ? (int)v->cf[k] : (int)v->cd[k]; }
static void iset(const dview *v, int k, int x) {
    if (v->cf) v->cf[k] = (float)x;
    else v->cd[k] = x;
}
/* order of negatives of anchor a: D_an ascending, then index ascending */
static int before(const dview *v, int a, int i, int j) {
    double di = dget(v, a, i), dj = dget(v, a, j);
    return di < dj || (di == dj && i < j);
}
/* Quickselect: the index at rank r (0-based) among the n indices in the work array. */
static int select_rank(const dview *v, int a, int n, int r) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, piv = iget(v, mid), st = lo;
        iset(v, mid, iget(v, hi)), iset(v, hi, piv);
        for (int k = lo; k < hi; k++)
            if (before(v, a, iget(v, k), piv)) {
                int t = iget(v, k);
                iset(v, k, iget(v, st)), iset(v, st, t), st++;
            }
        iset(v, hi, iget(v, st)), iset(v, st, piv);
        if (st == r) return piv;
        if (st < r) lo = st + 1;
        else hi = st - 1;
    }
    return iget(v, lo);
}

static double curriculum_core(const dview *v, const int32_t *lab, double m, double h) {
    int B = v->B;
    long nP = pos_pairs(lab, B);
    if (!nP) return 0.0;
    double sum = 0.0;
    for (int a = 0; a < B; a++) {
        int nneg = 0;
        for (int j = 0; j < B; j++)
            if (lab[j] != lab[a]) iset(v, nneg++, j);
        if (!nneg || !has_pos(lab, B, a)) continue;
        int r = (int)floor((1.0 - h) * (nneg - 1) + 0.5);
        int sel = select_rank(v, a, nneg, r);
        double dn = dget(v, a, sel);
        for (int j = 0; j < B; j++)
            if (lab[j] != lab[a] && j != sel) note(v, dget(v, a, j) - dn);
        for (int p = 0; p < B; p++) {
            if (p == a || lab[p] != lab[a]) continue;
            sum += hinge(v, a, p, sel, dget(v, a, p) - dn + m, 1.0 / (double)nP);
        }
    }
    return sum / (double)nP;
}

static double clamp_h(double h) {
    SN_ASSERT(h == h); /* NaN hardness is a caller bug */
    return h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h;
}

size_t sn_triplet_curriculum_scratch_size(int B, int dim) {
    (void)dim;
    return 2 * (size_t)B * (size_t)B + sn_distmat_scratch_size(B) + (size_t)B;
}

double sn_triplet_curriculum_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                                  float margin, int distance_kind, float hardness,
                                  float *scratch, size_t scratch_floats) {
    SN_ASSERT(B > 0 && dim > 0 && e && lab && scratch &&
              scratch_floats >= sn_triplet_curriculum_scratch_size(B, dim));
    size_t BB = (size_t)B * (size_t)B;
    float *D = scratch, *dD = scratch + BB, *ws = scratch + 2 * BB;
    float *work = ws + sn_distmat_scratch_size(B);
    sn_distmat(D, e, B, dim, distance_kind, ws);
    if (de) memset(dD, 0, BB * sizeof *dD);
    dview v = {D, NULL, de ? dD : NULL, NULL, work, NULL, NULL, B};
    double L = curriculum_core(&v, lab, margin, clamp_h(hardness));
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward(de, dD, e, D, B, dim, distance_kind, ws);
    }
    return L;
}

double sn_triplet_curriculum_loss_ref(double *de, const double *e, const int32_t *lab, int B,
                                      int dim, double margin, int distance_kind,
                                      double hardness, double *kink) {
    size_t BB = (size_t)B * (size_t)B;
    double *D = sn_calloc(2 * BB + (size_t)B, sizeof *D);
    SN_ASSERT(D != NULL);
    double *dD = D + BB;
    if (kink) *kink = INFINITY;
    sn_distmat_ref(D, e, B, dim, distance_kind);
    dview v = {NULL, D, NULL, de ? dD : NULL, NULL, dD + BB, kink, B};
    double L = curriculum_core(&v, lab, margin, clamp_h(hardness));
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward_ref(de, dD, e, B, dim, distance_kind);
    }
    free(D);
    return L;
}
