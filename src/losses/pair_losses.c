/* pair_losses.c -- all-pairs losses on the B x B distance matrix of a labelled batch:
 * contrastive with positive/negative margins, SupCon, NT-Xent, angular loss. */
#include "losses/batch_losses.h"

#include "core/core.h"

#include <math.h>
#include <string.h>

/* Each core reads D as float (fast path) or double (_ref) and accumulates dL/dD into gf
 * or gd (both NULL: loss only); kink collects the smallest |gap| to a decision. */
typedef struct {
    const float *Df;
    const double *Dd;
    float *gf;
    double *gd;
    double *kink;
    float *xf; /* aux buffer (angular: B^2 + B), float path */
    double *xd; /* same, _ref path */
    int B;
} dview;

static double dget(const dview *v, int i, int j) {
    size_t k = (size_t)i * (size_t)v->B + (size_t)j;
    return v->Df ? (double)v->Df[k] : v->Dd[k];
}
/* cosine similarity from the cosine distance */
static double sget(const dview *v, int i, int j) { return 1.0 - dget(v, i, j); }
static int wants_grad(const dview *v) { return v->gf || v->gd; }
static void gadd(const dview *v, int i, int j, double g) {
    size_t k = (size_t)i * (size_t)v->B + (size_t)j;
    if (v->gf) v->gf[k] += (float)g;
    if (v->gd) v->gd[k] += g;
}
static double xget(const dview *v, size_t k) { return v->xf ? (double)v->xf[k] : v->xd[k]; }
static void xset(const dview *v, size_t k, double x) {
    if (v->xf) v->xf[k] = (float)x;
    else v->xd[k] = x;
}
static void note(const dview *v, double gap) {
    if (v->kink && fabs(gap) < *v->kink) *v->kink = fabs(gap);
}
/* whole batch: any positive pair (i != j, same label), any negative pair */
static void pair_census(const int32_t *lab, int B, int *anypos, int *anyneg) {
    *anypos = *anyneg = 0;
    for (int i = 0; i < B; i++)
        for (int j = i + 1; j < B; j++) {
            if (lab[i] == lab[j]) *anypos = 1;
            else *anyneg = 1;
        }
}

/* ------------------------------------------------------ contrastive (pos/neg margin) */
static double cpn_core(const dview *v, const int32_t *lab, const double *par) {
    const double mp = par[0], mn = par[1];
    int B = v->B;
    double sp = 0.0, sn = 0.0;
    long cp = 0, cn = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++) {
                if (j == i) continue;
                double d = dget(v, i, j), l;
                int pos = lab[i] == lab[j];
                l = pos ? d - mp : mn - d;
                if (pass == 0) {
                    note(v, l);
                    if (l > 0.0) {
                        if (pos) sp += l, cp++;
                        else sn += l, cn++;
                    }
                } else if (l > 0.0) {
                    gadd(v, i, j, pos ? 1.0 / (double)cp : -1.0 / (double)cn);
                }
            }
    return (cp ? sp / (double)cp : 0.0) + (cn ? sn / (double)cn : 0.0);
}

/* ---------------------------------------------------------------------- SupCon */
static double supcon_core(const dview *v, const int32_t *lab, const double *par) {
    const double t = par[0];
    int B = v->B, anypos, anyneg;
    pair_census(lab, B, &anypos, &anyneg);
    if (!anypos || !anyneg) return 0.0;
    double sum = 0.0;
    long cnt = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < B; i++) {
            int P = 0;
            double M = -INFINITY, Z = 0.0, sx = 0.0;
            for (int j = 0; j < B; j++)
                if (j != i) M = fmax(M, sget(v, i, j) / t);
            for (int j = 0; j < B; j++) {
                if (j == i) continue;
                double x = sget(v, i, j) / t;
                Z += exp(x - M);
                if (lab[j] == lab[i]) P++, sx += x;
            }
            if (!P) continue;
            double lse = M + log(Z), Li = lse - sx / P;
            if (pass == 0) {
                note(v, Li);
                if (Li > 0.0) sum += Li, cnt++;
                continue;
            }
            if (!(Li > 0.0) || !wants_grad(v)) continue;
            for (int j = 0; j < B; j++) {
                if (j == i) continue;
                double x = sget(v, i, j) / t;
                double g = exp(x - M) / Z - (lab[j] == lab[i] ? 1.0 / P : 0.0);
                gadd(v, i, j, -g / t / (double)cnt); /* dD = -dS */
            }
        }
    return cnt ? sum / (double)cnt : 0.0;
}

/* --------------------------------------------------------------------- NT-Xent */
static double ntxent_core(const dview *v, const int32_t *lab, const double *par) {
    const double t = par[0];
    int B = v->B, anypos, anyneg;
    pair_census(lab, B, &anypos, &anyneg);
    if (!anypos || !anyneg) return 0.0;
    long nP = 0;
    for (int a = 0; a < B; a++)
        for (int p = 0; p < B; p++) nP += p != a && lab[p] == lab[a];
    double sum = 0.0;
    for (int a = 0; a < B; a++) {
        /* negatives of a: Mn = max x_an, Zn = sum exp(x_an - Mn) */
        double Mn = -INFINITY, Zn = 0.0, c = 0.0;
        for (int n = 0; n < B; n++)
            if (lab[n] != lab[a]) Mn = fmax(Mn, sget(v, a, n) / t);
        if (!isfinite(Mn)) continue; /* no negative: every pair of a has loss 0, grad 0 */
        for (int n = 0; n < B; n++)
            if (lab[n] != lab[a]) Zn += exp(sget(v, a, n) / t - Mn);
        for (int p = 0; p < B; p++) {
            if (p == a || lab[p] != lab[a]) continue;
            double xp = sget(v, a, p) / t, M = fmax(xp, Mn);
            double Z = exp(xp - M) + Zn * exp(Mn - M);
            sum += M + log(Z) - xp;
            if (wants_grad(v)) {
                gadd(v, a, p, -(exp(xp - M) / Z - 1.0) / t / (double)nP);
                c += exp(Mn - M) / Z;
            }
        }
        if (wants_grad(v))
            for (int n = 0; n < B; n++)
                if (lab[n] != lab[a])
                    gadd(v, a, n, -exp(sget(v, a, n) / t - Mn) * c / t / (double)nP);
    }
    return nP ? sum / (double)nP : 0.0;
}

/* --------------------------------------------------------------------- angular */
/* f_apn = 4t (S_an + S_pn) - 2(1+t) S_ap. Since the negatives of a and of p are the same
 * set, sum_n exp(f_apn) = exp(c_ap) sig_ap with E_in = exp(4t (S_in - m_i)) (m_i = max S
 * over i's negatives, so E <= 1), sig_ap = sum_n E_an E_pn, c_ap = 4t (m_a + m_p) -
 * 2(1+t) S_ap: B^2 exps instead of one per triplet. l_ap = softplus(c_ap + log sig_ap).
 * If sig underflows (only for extreme alpha and geometry) the pair is summed directly. */
static double angular_direct(const dview *v, const int32_t *lab, double tt, int a, int p,
                             double scale) {
    double sap = sget(v, a, p), M = 0.0, Z, wsum = 0.0;
    int B = v->B;
    for (int n = 0; n < B; n++)
        if (lab[n] != lab[a])
            M = fmax(M, 4.0 * tt * (sget(v, a, n) + sget(v, p, n)) - 2.0 * (1.0 + tt) * sap);
    Z = exp(-M);
    for (int n = 0; n < B; n++)
        if (lab[n] != lab[a])
            Z += exp(4.0 * tt * (sget(v, a, n) + sget(v, p, n)) - 2.0 * (1.0 + tt) * sap - M);
    if (wants_grad(v)) {
        for (int n = 0; n < B; n++) {
            if (lab[n] == lab[a]) continue;
            double f = 4.0 * tt * (sget(v, a, n) + sget(v, p, n)) - 2.0 * (1.0 + tt) * sap;
            double w = exp(f - M) / Z * scale;
            wsum += w;
            gadd(v, a, n, -4.0 * tt * w); /* dD = -dS */
            gadd(v, p, n, -4.0 * tt * w);
        }
        gadd(v, a, p, 2.0 * (1.0 + tt) * wsum);
    }
    return M + log(Z);
}

static double angular_core(const dview *v, const int32_t *lab, const double *par) {
    const double tt = par[0]; /* tan^2 alpha */
    int B = v->B, anypos, anyneg;
    size_t BB = (size_t)B * (size_t)B;
    pair_census(lab, B, &anypos, &anyneg);
    if (!anypos || !anyneg) return 0.0;
    long nP = 0;
    for (int a = 0; a < B; a++)
        for (int p = 0; p < B; p++) nP += p != a && lab[p] == lab[a];
    for (int i = 0; i < B; i++) { /* aux: E (B,B), then m (B) */
        double m = -INFINITY;
        for (int j = 0; j < B; j++)
            if (lab[j] != lab[i]) m = fmax(m, sget(v, i, j));
        xset(v, BB + i, m);
        for (int j = 0; j < B; j++)
            xset(v, (size_t)i * B + j,
                 lab[j] != lab[i] ? exp(4.0 * tt * (sget(v, i, j) - m)) : 0.0);
    }
    double sum = 0.0;
    for (int a = 0; a < B; a++) {
        if (!isfinite(xget(v, BB + a))) continue; /* no negatives: l = 0, still counted */
        for (int p = 0; p < B; p++) {
            if (p == a || lab[p] != lab[a]) continue;
            double sig = 0.0;
            for (int n = 0; n < B; n++)
                sig += xget(v, (size_t)a * B + n) * xget(v, (size_t)p * B + n);
            if (!(sig > 0.0)) {
                sum += angular_direct(v, lab, tt, a, p, 1.0 / (double)nP);
                continue;
            }
            double c = 4.0 * tt * (xget(v, BB + a) + xget(v, BB + p)) -
                       2.0 * (1.0 + tt) * sget(v, a, p);
            double x = c + log(sig);
            sum += x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
            if (!wants_grad(v)) continue;
            double q = 1.0 / (1.0 + exp(-x)) / (double)nP; /* = sum_n w_n */
            for (int n = 0; n < B; n++) {
                if (lab[n] == lab[a]) continue;
                double w = q * xget(v, (size_t)a * B + n) * xget(v, (size_t)p * B + n) / sig;
                gadd(v, a, n, -4.0 * tt * w); /* dD = -dS */
                gadd(v, p, n, -4.0 * tt * w);
            }
            gadd(v, a, p, 2.0 * (1.0 + tt) * q);
        }
    }
    return sum / (double)nP;
}

/* ------------------------------------------------------------------ drivers */
typedef double (*core_fn)(const dview *, const int32_t *, const double *);

/* D, dD, aux (B^2 + B), distmat workspace */
static size_t pair_scratch(int B) {
    return 3 * (size_t)B * (size_t)B + (size_t)B + sn_distmat_scratch_size(B);
}

static double run_f(core_fn f, float *de, const float *e, const int32_t *lab, int B, int dim,
                    int kind, const double *par, float *scratch, size_t scratch_floats) {
    SN_ASSERT(B > 0 && dim > 0 && e && lab && scratch && scratch_floats >= pair_scratch(B));
    size_t BB = (size_t)B * (size_t)B;
    float *D = scratch, *dD = D + BB, *aux = dD + BB, *ws = aux + BB + B;
    sn_distmat(D, e, B, dim, kind, ws);
    if (de) memset(dD, 0, BB * sizeof *dD);
    dview v = {D, NULL, de ? dD : NULL, NULL, NULL, aux, NULL, B};
    double L = f(&v, lab, par);
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward(de, dD, e, D, B, dim, kind, ws);
    }
    return L;
}

static double run_ref(core_fn f, double *de, const double *e, const int32_t *lab, int B, int dim,
                      int kind, const double *par, double *kink) {
    size_t BB = (size_t)B * (size_t)B;
    double *D = sn_calloc(3 * BB + (size_t)B, sizeof *D);
    SN_ASSERT(D != NULL);
    double *dD = D + BB, *aux = dD + BB;
    if (kink) *kink = INFINITY;
    sn_distmat_ref(D, e, B, dim, kind);
    dview v = {NULL, D, NULL, de ? dD : NULL, kink, NULL, aux, B};
    double L = f(&v, lab, par);
    if (de) {
        memset(de, 0, (size_t)B * (size_t)dim * sizeof *de);
        sn_distmat_backward_ref(de, dD, e, B, dim, kind);
    }
    free(D);
    return L;
}

size_t sn_contrastive_pn_scratch_size(int B, int dim) {
    (void)dim;
    return pair_scratch(B);
}
double sn_contrastive_pn_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                              float pos_margin, float neg_margin, int distance_kind,
                              float *scratch, size_t scratch_floats) {
    double par[2] = {pos_margin, neg_margin};
    return run_f(cpn_core, de, e, lab, B, dim, distance_kind, par, scratch, scratch_floats);
}
double sn_contrastive_pn_loss_ref(double *de, const double *e, const int32_t *lab, int B,
                                  int dim, double pos_margin, double neg_margin,
                                  int distance_kind, double *kink) {
    double par[2] = {pos_margin, neg_margin};
    return run_ref(cpn_core, de, e, lab, B, dim, distance_kind, par, kink);
}

size_t sn_supcon_scratch_size(int B, int dim) {
    (void)dim;
    return pair_scratch(B);
}
double sn_supcon_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                      float temperature, float *scratch, size_t scratch_floats) {
    SN_ASSERT(temperature > 0.0f);
    double par[1] = {temperature};
    return run_f(supcon_core, de, e, lab, B, dim, SN_DIST_COSINE, par, scratch, scratch_floats);
}
double sn_supcon_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                          double temperature, double *kink) {
    double par[1] = {temperature};
    return run_ref(supcon_core, de, e, lab, B, dim, SN_DIST_COSINE, par, kink);
}
double sn_ntxent_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                      float temperature, float *scratch, size_t scratch_floats) {
    SN_ASSERT(temperature > 0.0f);
    double par[1] = {temperature};
    return run_f(ntxent_core, de, e, lab, B, dim, SN_DIST_COSINE, par, scratch, scratch_floats);
}
double sn_ntxent_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                          double temperature, double *kink) {
    double par[1] = {temperature};
    return run_ref(ntxent_core, de, e, lab, B, dim, SN_DIST_COSINE, par, kink);
}

static double tan2_deg(double alpha_deg) {
    double t = tan(alpha_deg * (3.14159265358979323846 / 180.0));
    return t * t;
}
size_t sn_angular_scratch_size(int B, int dim) {
    (void)dim;
    return pair_scratch(B);
}
double sn_angular_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                       float alpha_deg, float *scratch, size_t scratch_floats) {
    SN_ASSERT(alpha_deg > 0.0f && alpha_deg < 90.0f);
    double par[1] = {tan2_deg(alpha_deg)};
    return run_f(angular_core, de, e, lab, B, dim, SN_DIST_COSINE, par, scratch, scratch_floats);
}
double sn_angular_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                           double alpha_deg, double *kink) {
    double par[1] = {tan2_deg(alpha_deg)};
    return run_ref(angular_core, de, e, lab, B, dim, SN_DIST_COSINE, par, kink);
}
