/* test_losses2.c -- the second set of batch losses: contrastive with pos/neg margins,
 * SupCon, NT-Xent, angular, proxy (normalised softmax / CosFace / ArcFace), selection-
 * bias-corrected triplet and curriculum triplet. Central finite differences in double on
 * every _ref (skipping trials within 1e-4 of a kink, failing on all-zero gradients), float
 * vs _ref, PyTorch float64 goldens (tests/golden/loss2_golden.bin from
 * tools/make_loss2_golden.py), and edge cases: one-class batch, singleton classes, B = 2. */
#include "core/core.h"
#include "losses/batch_losses.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>

static const char *KIND[3] = {"euclid", "sqeuclid", "cosine"};
static const char *PKIND[4] = {"normsoftmax", "cosface", "arcface", "softmax"};

/* Parameters of one run of every loss; the goldens overwrite them with the stored ones. */
typedef struct {
    double cpn[3][2], tri[3], h[3], temp[2], alpha, psm[4][2], ls;
} params;
static const params FD_PAR = {
    {{0.6, 1.5}, {0.5, 2.0}, {0.3, 1.0}}, {1.0, 2.0, 1.0}, {0.0, 0.5, 1.0}, {0.1, 0.07}, 40.0,
    {{8.0, 0.0}, {8.0, 0.35}, {8.0, 0.5}, {2.0, 0.0}}, 0.2};

/* Case ids: 0-2 contrastive_pn.<k>, 3 supcon, 4 ntxent, 5 angular, 6-8 triplet_bc.<k>,
 * 9-17 triplet_curriculum.<k>.h<i> (k = (id-9)/3, i = (id-9)%3), 18-21 proxy.<kind>,
 * 22-25 proxy_ls.<kind> (label smoothing P->ls). */
enum { NCASE = 26, PROXY0 = 18, NPK = 4 };

static const char *case_name(int id, char *buf, size_t n) {
    if (id < 3)
        snprintf(buf, n, "contrastive_pn.%s", KIND[id]);
    else if (id == 3)
        snprintf(buf, n, "supcon");
    else if (id == 4)
        snprintf(buf, n, "ntxent");
    else if (id == 5)
        snprintf(buf, n, "angular");
    else if (id < 9)
        snprintf(buf, n, "triplet_bc.%s", KIND[id - 6]);
    else if (id < PROXY0)
        snprintf(buf, n, "triplet_curriculum.%s.h%d", KIND[(id - 9) / 3], (id - 9) % 3);
    else
        snprintf(buf, n, "%s.%s", id < PROXY0 + NPK ? "proxy" : "proxy_ls", PKIND[(id - PROXY0) % NPK]);
    return buf;
}

static double run_ref(int id, const params *P, double *de, double *dW, const double *e,
                      const double *W, const int32_t *lab, int B, int dim, int C, double *kink) {
    if (id < 3)
        return sn_contrastive_pn_loss_ref(de, e, lab, B, dim, P->cpn[id][0], P->cpn[id][1], id,
                                          kink);
    if (id == 3) return sn_supcon_loss_ref(de, e, lab, B, dim, P->temp[0], kink);
    if (id == 4) return sn_ntxent_loss_ref(de, e, lab, B, dim, P->temp[1], kink);
    if (id == 5) return sn_angular_loss_ref(de, e, lab, B, dim, P->alpha, kink);
    if (id < 9) return sn_triplet_bc_loss_ref(de, e, lab, B, dim, P->tri[id - 6], id - 6, kink);
    if (id < PROXY0) {
        int k = (id - 9) / 3;
        return sn_triplet_curriculum_loss_ref(de, e, lab, B, dim, P->tri[k], k, P->h[(id - 9) % 3],
                                              kink);
    }
    int k = (id - PROXY0) % NPK;
    return sn_proxy_loss_ref(de, dW, e, W, lab, B, dim, C, k, P->psm[k][0], P->psm[k][1],
                             id < PROXY0 + NPK ? 0.0 : P->ls, kink);
}

static size_t scratch_need(int id, int B, int dim, int C) {
    if (id < 3) return sn_contrastive_pn_scratch_size(B, dim);
    if (id < 6) return id == 5 ? sn_angular_scratch_size(B, dim) : sn_supcon_scratch_size(B, dim);
    if (id < 9) return sn_triplet_bc_scratch_size(B, dim);
    if (id < PROXY0) return sn_triplet_curriculum_scratch_size(B, dim);
    return sn_proxy_scratch_size(B, dim, C);
}

static double run_f(int id, const params *P, float *de, float *dW, const float *e, const float *W,
                    const int32_t *lab, int B, int dim, int C, float *ws, size_t nws) {
    CHECK(nws >= scratch_need(id, B, dim, C));
    if (id < 3)
        return sn_contrastive_pn_loss(de, e, lab, B, dim, (float)P->cpn[id][0],
                                      (float)P->cpn[id][1], id, ws, nws);
    if (id == 3) return sn_supcon_loss(de, e, lab, B, dim, (float)P->temp[0], ws, nws);
    if (id == 4) return sn_ntxent_loss(de, e, lab, B, dim, (float)P->temp[1], ws, nws);
    if (id == 5) return sn_angular_loss(de, e, lab, B, dim, (float)P->alpha, ws, nws);
    if (id < 9)
        return sn_triplet_bc_loss(de, e, lab, B, dim, (float)P->tri[id - 6], id - 6, ws, nws);
    if (id < PROXY0) {
        int k = (id - 9) / 3;
        return sn_triplet_curriculum_loss(de, e, lab, B, dim, (float)P->tri[k], k,
                                          (float)P->h[(id - 9) % 3], ws, nws);
    }
    int k = (id - PROXY0) % NPK;
    return sn_proxy_loss(de, dW, e, W, lab, B, dim, C, k, (float)P->psm[k][0], (float)P->psm[k][1],
                         id < PROXY0 + NPK ? 0.0f : (float)P->ls, ws, nws);
}

static void fill(double *x, size_t n, sn_rng *r, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * sn_rng_uniform(r);
}

/* ------------------------------------------------------------------ FD + float vs ref */
enum { NB = 10, ND = 5, NC = 5, WS = 4 * NB * NB + 3 * NB + 2 * NB * NC };

static void test_fd(sn_rng *r) {
    /* classes of sizes 3, 3, 2, 1, 1: singletons are anchors without positives */
    const int32_t lab[NB] = {0, 1, 2, 0, 1, 2, 0, 1, 3, 4};
    double e[NB * ND], W[NC * ND], de[NB * ND], dW[NC * ND];
    float ef[NB * ND], Wf[NC * ND], def[NB * ND], dWf[NC * ND], ws[WS];
    for (int id = 0; id < NCASE; id++) {
        int done = 0, skipped = 0, proxy = id >= PROXY0;
        char nm[64];
        CHECK(scratch_need(id, NB, ND, NC) <= WS);
        for (int trial = 0; trial < 40 && done < 3; trial++) {
            fill(e, NB * ND, r, -1, 1);
            fill(W, NC * ND, r, -1, 1);
            for (int i = 0; i < NB * ND; i++) ef[i] = (float)e[i], e[i] = ef[i];
            for (int i = 0; i < NC * ND; i++) Wf[i] = (float)W[i], W[i] = Wf[i];
            double kink;
            memset(dW, 0, sizeof dW);
            double L = run_ref(id, &FD_PAR, de, dW, e, W, lab, NB, ND, NC, &kink);
            if (kink < 1e-4) {
                skipped++;
                continue;
            }
            done++;
            double gmax = 0, wmax = 0;
            for (int i = 0; i < NB * ND; i++) {
                double save = e[i], h = 1e-6;
                e[i] = save + h;
                double lp = run_ref(id, &FD_PAR, NULL, NULL, e, W, lab, NB, ND, NC, NULL);
                e[i] = save - h;
                double lm = run_ref(id, &FD_PAR, NULL, NULL, e, W, lab, NB, ND, NC, NULL);
                e[i] = save;
                CHECK_CLOSE(de[i], (lp - lm) / (2 * h), 1e-5, 1e-7);
                gmax = fmax(gmax, fabs(de[i]));
            }
            if (!(gmax > 0))
                fprintf(stderr, "%s: all-zero gradient\n", case_name(id, nm, sizeof nm));
            CHECK(gmax > 0);
            for (int i = 0; proxy && i < NC * ND; i++) {
                double save = W[i], h = 1e-6;
                W[i] = save + h;
                double lp = run_ref(id, &FD_PAR, NULL, NULL, e, W, lab, NB, ND, NC, NULL);
                W[i] = save - h;
                double lm = run_ref(id, &FD_PAR, NULL, NULL, e, W, lab, NB, ND, NC, NULL);
                W[i] = save;
                CHECK_CLOSE(dW[i], (lp - lm) / (2 * h), 1e-5, 1e-7);
                wmax = fmax(wmax, fabs(dW[i]));
            }
            if (proxy) CHECK(wmax > 0);
            CHECK(run_ref(id, &FD_PAR, NULL, NULL, e, W, lab, NB, ND, NC, NULL) == L);
            /* float (GEMM) path vs ref; de overwritten, dW accumulated */
            for (int i = 0; i < NB * ND; i++) def[i] = 123.0f;
            for (int i = 0; i < NC * ND; i++) dWf[i] = 1.0f;
            double Lf = run_f(id, &FD_PAR, def, dWf, ef, Wf, lab, NB, ND, NC, ws, WS);
            CHECK_CLOSE(Lf, L, 1e-5, 1e-7);
            CHECK(run_f(id, &FD_PAR, NULL, NULL, ef, Wf, lab, NB, ND, NC, ws, WS) == Lf);
            for (int i = 0; i < NB * ND; i++) CHECK_CLOSE(def[i], de[i], 1e-4, 1e-4 * gmax);
            for (int i = 0; proxy && i < NC * ND; i++)
                CHECK_CLOSE(dWf[i] - 1.0f, dW[i], 1e-4, 1e-4 * wmax);
        }
        printf("  fd %-32s %d trials checked, %d skipped near a kink\n",
               case_name(id, nm, sizeof nm), done, skipped);
        CHECK(done >= 2);
    }
}

/* ------------------------------------------------------------------ edge cases */
static int all_zero(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return 0;
    return 1;
}
static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Labels lab (B <= 6): every loss must give finite values, float == ref, and the losses
 * that need both a positive and a negative pair must give exactly 0 without them. */
static void edge_batch(const char *what, const int32_t *lab, int B, sn_rng *r) {
    enum { MB = 6, D = 4 };
    double e[MB * D], W[NC * D], de[MB * D], dW[NC * D];
    float ef[MB * D], Wf[NC * D], def[MB * D], dWf[NC * D], ws[WS];
    int anypos = 0, anyneg = 0;
    for (int i = 0; i < B; i++)
        for (int j = i + 1; j < B; j++) anypos |= lab[i] == lab[j], anyneg |= lab[i] != lab[j];
    fill(e, (size_t)B * D, r, -1, 1);
    fill(W, NC * D, r, -1, 1);
    for (int i = 0; i < B * D; i++) ef[i] = (float)e[i], e[i] = ef[i];
    for (int i = 0; i < NC * D; i++) Wf[i] = (float)W[i], W[i] = Wf[i];
    int nz = 0;
    for (int id = 0; id < NCASE; id++) {
        char nm[64];
        memset(dW, 0, sizeof dW);
        memset(dWf, 0, sizeof dWf);
        double L = run_ref(id, &FD_PAR, de, dW, e, W, lab, B, D, NC, NULL);
        double Lf = run_f(id, &FD_PAR, def, dWf, ef, Wf, lab, B, D, NC, ws, WS);
        int ok = isfinite(L) && isfinite(Lf) && all_finite(def, (size_t)B * D) &&
                 all_finite(dWf, NC * D) && fabs(L - Lf) <= 1e-5 * fabs(L) + 1e-6;
        for (int i = 0; i < B * D; i++) ok &= fabs(def[i] - de[i]) <= 1e-4 * fabs(de[i]) + 1e-5;
        /* a loss that needs a positive AND a negative pair is exactly 0 without one */
        int needs_both = id >= 3 && id < PROXY0;
        if (needs_both && !(anypos && anyneg)) ok &= Lf == 0.0 && all_zero(def, (size_t)B * D);
        nz += Lf != 0.0;
        if (!ok)
            fprintf(stderr, "edge %s: %s L %.9g Lf %.9g\n", what, case_name(id, nm, sizeof nm), L,
                    Lf);
        CHECK(ok);
    }
    printf("  edge %-28s all %d losses finite, float == ref, %d nonzero\n", what, NCASE, nz);
}

static void test_edges(sn_rng *r) {
    const int32_t one_class[6] = {3, 3, 3, 3, 3, 3};
    const int32_t singletons[6] = {0, 1, 2, 3, 4, 0}; /* one pair + four singletons */
    const int32_t b2_same[2] = {1, 1}, b2_diff[2] = {0, 2};
    edge_batch("one class (B=6)", one_class, 6, r);
    edge_batch("four singletons (B=6)", singletons, 6, r);
    edge_batch("B=2 same class", b2_same, 2, r);
    edge_batch("B=2 two classes", b2_diff, 2, r);

    /* scratch sizes do not grow with dim */
    CHECK(sn_supcon_scratch_size(64, 8) == sn_supcon_scratch_size(64, 512));
    CHECK(sn_triplet_bc_scratch_size(64, 8) == sn_triplet_bc_scratch_size(64, 512));
    CHECK(sn_proxy_scratch_size(64, 8, 10) == sn_proxy_scratch_size(64, 512, 10));

    /* curriculum, by hand in 1-D (euclid): anchor 0 at 0, positive 1 at 0.5, singleton
     * negatives at 2, -2 (tie with the first for anchor 0) and 3; margin 4. */
    {
        const float e[5] = {0.0f, 0.5f, 2.0f, -2.0f, 3.0f};
        const int32_t lab[5] = {0, 0, 1, 2, 3};
        float de[5], ws[4 * 25 + 5];
        /* anchor 0: d_n = 2 (idx 2), 2 (idx 3), 3; anchor 1: 1.5 (idx 2), 2.5 (idx 3), 2.5 */
        double L1 =
            sn_triplet_curriculum_loss(de, e, lab, 5, 1, 4.0f, SN_DIST_EUCLID, 1.0f, ws, 105);
        CHECK_CLOSE(L1, 0.5 * ((0.5 - 2 + 4) + (0.5 - 1.5 + 4)), 1e-6, 0);
        CHECK(de[2] != 0.0f && de[3] == 0.0f && de[4] == 0.0f); /* tie: lowest index */
        double Lh =
            sn_triplet_curriculum_loss(de, e, lab, 5, 1, 4.0f, SN_DIST_EUCLID, 0.5f, ws, 105);
        CHECK_CLOSE(Lh, 0.5 * ((0.5 - 2 + 4) + (0.5 - 2.5 + 4)), 1e-6, 0);
        CHECK(de[2] == 0.0f && de[3] != 0.0f && de[4] == 0.0f); /* rank 1 for both */
        double L0 =
            sn_triplet_curriculum_loss(de, e, lab, 5, 1, 4.0f, SN_DIST_EUCLID, 0.0f, ws, 105);
        CHECK_CLOSE(L0, 0.5 * ((0.5 - 3 + 4) + (0.5 - 2.5 + 4)), 1e-6, 0);
        CHECK(de[4] != 0.0f);
        /* the _ref reports the tie (kink 0) and, away from it, the nearest hinge */
        const double ed[5] = {0.0, 0.5, 2.0, -2.0, 3.0}, ed2[5] = {0.0, 0.5, 2.0, -2.25, 3.0};
        double kink;
        sn_triplet_curriculum_loss_ref(NULL, ed, lab, 5, 1, 4.0, SN_DIST_EUCLID, 1.0, &kink);
        CHECK(kink == 0.0);
        sn_triplet_curriculum_loss_ref(NULL, ed2, lab, 5, 1, 4.0, SN_DIST_EUCLID, 1.0, &kink);
        CHECK_CLOSE(kink, 0.25, 1e-12, 0);
        sn_contrastive_pn_loss_ref(NULL, ed2, lab, 5, 1, 0.5, 0.1, SN_DIST_EUCLID, &kink);
        CHECK(kink < 1e-12); /* pos_margin = d(0,1) */
        /* out-of-range hardness is clamped */
        CHECK(sn_triplet_curriculum_loss(NULL, e, lab, 5, 1, 4.0f, SN_DIST_EUCLID, 1.5f, ws, 105) ==
              L1);
        CHECK(sn_triplet_curriculum_loss(NULL, e, lab, 5, 1, 4.0f, SN_DIST_EUCLID, -0.5f, ws,
                                         105) == L0);
    }
    /* proxy: zero margins reduce CosFace and ArcFace to the normalised softmax */
    {
        enum { B = 6, D = 4, C = 3 };
        float e[B * D], W[C * D], ws[2 * B * C + 2 * B + 2 * C];
        int32_t lab[B] = {0, 1, 2, 0, 1, 2};
        for (int i = 0; i < B * D; i++) e[i] = sn_rng_uniform_range(r, -1, 1);
        sn_rng wr;
        sn_rng_seed(&wr, 5, 1);
        sn_proxy_init(W, C, D, &wr);
        for (int c = 0; c < C; c++) {
            double n2 = 0;
            for (int k = 0; k < D; k++) n2 += (double)W[c * D + k] * W[c * D + k];
            CHECK_CLOSE(n2, 1.0, 1e-6, 0);
        }
        double L0 = sn_proxy_loss(NULL, NULL, e, W, lab, B, D, C, SN_PROXY_NORMSOFTMAX, 10, 0.3f, 0.0f,
                                  ws, sizeof ws / 4);
        double L1 = sn_proxy_loss(NULL, NULL, e, W, lab, B, D, C, SN_PROXY_COSFACE, 10, 0.0f, 0.0f, ws,
                                  sizeof ws / 4);
        double L2 = sn_proxy_loss(NULL, NULL, e, W, lab, B, D, C, SN_PROXY_ARCFACE, 10, 0.0f, 0.0f, ws,
                                  sizeof ws / 4);
        CHECK_CLOSE(L1, L0, 1e-6, 0);
        CHECK_CLOSE(L2, L0, 1e-5, 0);
        /* a margin makes the loss larger */
        CHECK(sn_proxy_loss(NULL, NULL, e, W, lab, B, D, C, SN_PROXY_ARCFACE, 10, 0.5f, 0.0f, ws,
                            sizeof ws / 4) > L0);
        CHECK(sn_proxy_loss(NULL, NULL, e, W, lab, B, D, C, SN_PROXY_COSFACE, 10, 0.35f, 0.0f, ws,
                            sizeof ws / 4) > L0);
    }
    /* triplet_bc = batch-hard triplet + a non-negative match term */
    {
        enum { B = 9, D = 3 };
        float e[B * D], ws[4 * B * B + 3 * B];
        int32_t lab[B] = {0, 0, 0, 1, 1, 1, 2, 2, 2};
        for (int i = 0; i < B * D; i++) e[i] = sn_rng_uniform_range(r, -1, 1);
        for (int k = 0; k < 3; k++) {
            double Lb = sn_triplet_bc_loss(NULL, e, lab, B, D, 0.5f, k, ws, 4 * B * B + 3 * B);
            double Lh =
                sn_triplet_loss(NULL, e, lab, B, D, 0.5f, k, SN_MINER_HARD, ws, 4 * B * B + 3 * B);
            CHECK(Lb >= Lh - 1e-6 && Lb > Lh);
        }
    }
}

/* ------------------------------------------------------------------ golden */
typedef struct {
    char name[64];
    size_t n;
    float *data;
} rec;
static uint32_t u32(FILE *f) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) return 0xffffffffu;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static int load(const char *path, rec *R, int cap, int *count) {
    FILE *f = fopen(path, "rb");
    char magic[4];
    if (!f) return 0;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "SNGF", 4) || u32(f) != 1) return fclose(f), 0;
    uint32_t c = u32(f);
    if (c > (uint32_t)cap) return fclose(f), 0;
    for (uint32_t i = 0; i < c; i++) {
        uint32_t len = u32(f), nd;
        if (len >= sizeof R[i].name || fread(R[i].name, 1, len, f) != len) return fclose(f), 0;
        R[i].name[len] = 0;
        nd = u32(f);
        if (nd > 4) return fclose(f), 0;
        R[i].n = 1;
        for (uint32_t k = 0; k < nd; k++) R[i].n *= u32(f);
        if (R[i].n > 4096) return fclose(f), 0;
        R[i].data = malloc(R[i].n * sizeof(float));
        if (!R[i].data || fread(R[i].data, sizeof(float), R[i].n, f) != R[i].n) return fclose(f), 0;
        *count = (int)i + 1;
    }
    fclose(f);
    return 1;
}
static const float *get(rec *R, int n, const char *name, size_t want) {
    for (int i = 0; i < n; i++)
        if (!strcmp(R[i].name, name)) return R[i].n == want ? R[i].data : NULL;
    return NULL;
}

static void test_golden(void) {
    enum { B = 12, D = 8, C = 5 };
    rec R[96];
    int n = 0;
    int ok = load("golden/loss2_golden.bin", R, 96, &n);
    CHECK(ok);
    if (!ok) return;
    const float *e = get(R, n, "e", B * D), *labf = get(R, n, "labels", B),
                *W = get(R, n, "W", C * D), *cm = get(R, n, "cpn.margins", 6),
                *tm = get(R, n, "tri.margins", 3), *hh = get(R, n, "hardness", 3),
                *tp = get(R, n, "temps", 2), *al = get(R, n, "alpha", 1),
                *sm = get(R, n, "proxy.sm", 2 * NPK), *ls = get(R, n, "proxy.ls", 1);
    CHECK(e && labf && W && cm && tm && hh && tp && al && sm && ls);
    if (!(e && labf && W && cm && tm && hh && tp && al && sm && ls)) return;
    params P;
    for (int k = 0; k < 3; k++) {
        P.cpn[k][0] = cm[2 * k], P.cpn[k][1] = cm[2 * k + 1];
        P.tri[k] = tm[k], P.h[k] = hh[k];
    }
    for (int k = 0; k < NPK; k++) P.psm[k][0] = sm[2 * k], P.psm[k][1] = sm[2 * k + 1];
    P.temp[0] = tp[0], P.temp[1] = tp[1], P.alpha = al[0], P.ls = ls[0];
    int32_t lab[B];
    for (int i = 0; i < B; i++) lab[i] = (int32_t)labf[i];
    float de[B * D], dW[C * D], ws[4 * B * B + 3 * B + 2 * B * C];
    for (int id = 0; id < NCASE; id++) {
        char base[64], nm[96];
        case_name(id, base, sizeof base);
        snprintf(nm, sizeof nm, "%s.loss", base);
        const float *L = get(R, n, nm, 1);
        snprintf(nm, sizeof nm, "%s.grad", base);
        const float *g = get(R, n, nm, B * D);
        snprintf(nm, sizeof nm, "%s.dW", base);
        const float *gW = id >= PROXY0 ? get(R, n, nm, C * D) : NULL;
        CHECK(L && g && (id < PROXY0 || gW));
        if (!L || !g || (id >= PROXY0 && !gW)) continue;
        memset(dW, 0, sizeof dW);
        double Lc = run_f(id, &P, de, dW, e, W, lab, B, D, C, ws, sizeof ws / sizeof *ws);
        double gd = tu_max_rel_diff(de, g, B * D), wd = gW ? tu_max_rel_diff(dW, gW, C * D) : 0;
        printf("  golden %-32s loss %.7f (torch %.7f)  grad max rel diff %.1e", base, Lc,
               (double)L[0], gd);
        if (gW) printf("  dW %.1e", wd);
        printf("\n");
        CHECK_CLOSE(Lc, L[0], 1e-5, 0);
        CHECK(gd < 1e-4 && wd < 1e-4);
    }
    for (int i = 0; i < n; i++) free(R[i].data);
}

int main(void) {
    sn_rng rng;
    sn_rng_seed(&rng, 2025, 4);
    test_fd(&rng);
    test_edges(&rng);
    test_golden();
    return tu_finish("test_losses2");
}
