/* test_batch_losses.c -- distance matrix (GEMM vs brute force, backward vs FD), triplet
 * (all / hard / semihard x euclid / sq / cosine) and multi-similarity losses:
 * central finite differences in double on the _ref twins, skipping trials within 1e-4
 * of a hinge / tie / mining threshold and failing on all-zero gradients; float vs _ref;
 * and PyTorch goldens (tests/golden/loss_golden.bin, tools/make_loss_golden.py). */
#include "core/core.h"
#include "losses/batch_losses.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>

enum { NB = 10, ND = 5, MAXB = 16, MAXD = 8 };
static const char *KIND[3] = {"euclid", "sqeuclid", "cosine"};
static const char *MINER[3] = {"all", "hard", "semihard"};

static void fill(double *x, size_t n, sn_rng *r, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * sn_rng_uniform(r);
}

static void test_distmat(sn_rng *r) {
    enum { B = 13, D = 7 };
    double e[B * D], Dr[B * B], G[B * B], de[B * D];
    float ef[B * D], Df[B * B], Gf[B * B], def[B * D], ws[B * B + B];
    CHECK(sn_distmat_scratch_size(B) == (size_t)(B * B + B));
    for (int kind = 0; kind < 3; kind++) {
        fill(e, B * D, r, -1, 1);
        memcpy(e + 5 * D, e + 2 * D, D * sizeof *e); /* duplicate rows: d = 0 off-diagonal */
        for (int i = 0; i < B * D; i++) ef[i] = (float)e[i], e[i] = ef[i];
        sn_distmat_ref(Dr, e, B, D, kind);
        sn_distmat(Df, ef, B, D, kind, ws);
        double worst = 0;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++) {
                worst = fmax(worst, fabs(Df[i * B + j] - Dr[i * B + j]));
                CHECK(Df[i * B + j] >= 0.0f && Df[i * B + j] == Df[j * B + i]);
            }
        for (int i = 0; i < B; i++) CHECK(Df[i * B + i] == 0.0f);
        /* euclid at d ~ 0 is sqrt(rounding) ~ 1e-3.5; elsewhere float rounding */
        CHECK(worst < (kind == SN_DIST_EUCLID ? 1e-3 : 1e-5));
        Df[5 * B + 2] = Df[2 * B + 5] = 0.0f; /* exact duplicate: d = 0 for backward */
        /* backward: L = sum G .* D; float (GEMM) vs pairwise ref, ref vs FD */
        fill(G, B * B, r, -1, 1);
        for (int i = 0; i < B * B; i++) Gf[i] = (float)G[i];
        G[5 * B + 2] = G[2 * B + 5] = 0.0; /* ref: skip the non-differentiable pair */
        if (kind != SN_DIST_EUCLID) Gf[5 * B + 2] = Gf[2 * B + 5] = 0.0f;
        memset(de, 0, sizeof de);
        for (int i = 0; i < B * D; i++) def[i] = 1.0f; /* accumulates */
        sn_distmat_backward_ref(de, G, e, B, D, kind);
        sn_distmat_backward(def, Gf, ef, Df, B, D, kind, ws);
        double gmax = 0;
        for (int i = 0; i < B * D; i++) {
            CHECK_CLOSE(def[i] - 1.0f, de[i], 1e-4, 1e-4);
            double save = e[i], h = 1e-6, lp = 0, lm = 0;
            e[i] = save + h;
            sn_distmat_ref(Dr, e, B, D, kind);
            for (int k = 0; k < B * B; k++) lp += G[k] * Dr[k];
            e[i] = save - h;
            sn_distmat_ref(Dr, e, B, D, kind);
            for (int k = 0; k < B * B; k++) lm += G[k] * Dr[k];
            e[i] = save;
            CHECK_CLOSE(de[i], (lp - lm) / (2 * h), 1e-6, 1e-7);
            gmax = fmax(gmax, fabs(de[i]));
        }
        CHECK(gmax > 0);
        for (int i = 0; i < B * D; i++) CHECK(isfinite(def[i]));
    }
}

/* loss selector: which < 9: triplet miner which/3, kind which%3; which == 9: multisim */
static double loss_ref(int which, double *de, const double *e, const int32_t *lab, int B,
                       int dim, const double *margin, double *kink) {
    if (which == 9) return sn_multisim_loss_ref(de, e, lab, B, dim, kink);
    return sn_triplet_loss_ref(de, e, lab, B, dim, margin[which % 3], which % 3, which / 3, kink);
}
static double loss_f(int which, float *de, const float *e, const int32_t *lab, int B, int dim,
                     const double *margin, float *ws, size_t nws) {
    if (which == 9) return sn_multisim_loss(de, e, lab, B, dim, ws, nws);
    return sn_triplet_loss(de, e, lab, B, dim, (float)margin[which % 3], which % 3, which / 3,
                           ws, nws);
}
static const char *name_of(int which, char *buf, size_t n) {
    if (which == 9) snprintf(buf, n, "multisim");
    else snprintf(buf, n, "triplet.%s.%s", MINER[which / 3], KIND[which % 3]);
    return buf;
}

static void test_fd(sn_rng *r) {
    const double margin[3] = {0.5, 1.0, 0.2};
    double e[NB * ND], de[NB * ND];
    float ef[NB * ND], def[NB * ND], ws[3 * NB * NB + NB];
    int32_t lab[NB];
    for (int i = 0; i < NB; i++) lab[i] = i % 3;
    CHECK(sn_triplet_scratch_size(NB, ND) <= sizeof ws / sizeof *ws);
    CHECK(sn_multisim_scratch_size(NB, ND) <= sizeof ws / sizeof *ws);
    for (int which = 0; which < 10; which++) {
        int done = 0, skipped = 0;
        char nm[64];
        for (int trial = 0; trial < 40 && done < 4; trial++) {
            fill(e, NB * ND, r, -1, 1);
            for (int i = 0; i < NB * ND; i++) ef[i] = (float)e[i], e[i] = ef[i];
            double kink;
            double L = loss_ref(which, de, e, lab, NB, ND, margin, &kink);
            if (kink < 1e-4) {
                skipped++;
                continue;
            }
            done++;
            double gmax = 0;
            for (int i = 0; i < NB * ND; i++) {
                double save = e[i], h = 1e-6;
                e[i] = save + h;
                double lp = loss_ref(which, NULL, e, lab, NB, ND, margin, NULL);
                e[i] = save - h;
                double lm = loss_ref(which, NULL, e, lab, NB, ND, margin, NULL);
                e[i] = save;
                CHECK_CLOSE(de[i], (lp - lm) / (2 * h), 1e-5, 1e-7);
                gmax = fmax(gmax, fabs(de[i]));
            }
            CHECK(gmax > 0);
            /* loss-only call agrees; float (GEMM) path vs ref */
            CHECK(loss_ref(which, NULL, e, lab, NB, ND, margin, NULL) == L);
            double Lf = loss_f(which, def, ef, lab, NB, ND, margin, ws, sizeof ws / sizeof *ws);
            CHECK_CLOSE(Lf, L, 1e-5, 1e-7);
            CHECK(loss_f(which, NULL, ef, lab, NB, ND, margin, ws, sizeof ws / sizeof *ws) == Lf);
            for (int i = 0; i < NB * ND; i++) CHECK_CLOSE(def[i], de[i], 1e-4, 1e-4 * gmax);
        }
        printf("  fd %-24s %d trials checked, %d skipped near a kink\n",
               name_of(which, nm, sizeof nm), done, skipped);
        CHECK(done >= 2);
    }
}

/* ------------------------------------------------------------ golden */
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
    enum { B = 12, D = 8 };
    rec R[64];
    int n = 0;
    int ok = load("golden/loss_golden.bin", R, 64, &n);
    CHECK(ok);
    if (!ok) return;
    const float *e = get(R, n, "e", B * D), *labf = get(R, n, "labels", B),
                *mf = get(R, n, "margin", 3);
    CHECK(e && labf && mf);
    if (!e || !labf || !mf) return;
    int32_t lab[B];
    double margin[3] = {mf[0], mf[1], mf[2]};
    float de[B * D], Dm[B * B], ws[3 * B * B + B];
    for (int i = 0; i < B; i++) lab[i] = (int32_t)labf[i];
    char nm[96];
    for (int k = 0; k < 3; k++) {
        snprintf(nm, sizeof nm, "dist.%s", KIND[k]);
        const float *ref = get(R, n, nm, B * B);
        CHECK(ref != NULL);
        sn_distmat(Dm, e, B, D, k, ws);
        if (ref) CHECK(tu_max_rel_diff(Dm, ref, B * B) < 1e-6);
    }
    for (int which = 0; which < 10; which++) {
        char base[64];
        name_of(which, base, sizeof base);
        snprintf(nm, sizeof nm, "%s.loss", base);
        const float *L = get(R, n, nm, 1);
        snprintf(nm, sizeof nm, "%s.grad", base);
        const float *g = get(R, n, nm, B * D);
        CHECK(L && g);
        if (!L || !g) continue;
        double Lc = loss_f(which, de, e, lab, B, D, margin, ws, sizeof ws / sizeof *ws);
        double gd = tu_max_rel_diff(de, g, B * D);
        printf("  golden %-24s loss %.7f (torch %.7f)  grad max rel diff %.1e\n", base, Lc,
               (double)L[0], gd);
        CHECK_CLOSE(Lc, L[0], 1e-5, 0);
        CHECK(gd < 1e-4);
    }
    for (int i = 0; i < n; i++) free(R[i].data);
}

int main(void) {
    sn_rng rng;
    sn_rng_seed(&rng, 2024, 3);
    test_distmat(&rng);
    test_fd(&rng);
    test_golden();
    return tu_finish("test_batch_losses");
}
