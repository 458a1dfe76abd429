/* lossfn.c -- the loss table (see lossfn.h): one adapter and one entry per loss. */
#include "train/lossfn.h"

#include "losses/batch_losses.h"

#include <string.h>

#define UNUSED(x) (void)(x)

static size_t scr_triplet(int B, int dim, int C) { UNUSED(C); return sn_triplet_scratch_size(B, dim); }
static double fn_triplet(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                         const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_triplet_loss(de, e, lab, B, dim, p->margin, p->distance, p->miner, s, cap);
}

static size_t scr_multisim(int B, int dim, int C) { UNUSED(C); return sn_multisim_scratch_size(B, dim); }
static double fn_multisim(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                          const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(p), UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_multisim_loss(de, e, lab, B, dim, s, cap);
}

static size_t scr_cpn(int B, int dim, int C) { UNUSED(C); return sn_contrastive_pn_scratch_size(B, dim); }
static double fn_cpn(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                     const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_contrastive_pn_loss(de, e, lab, B, dim, p->pos_margin, p->margin, p->distance, s, cap);
}

static size_t scr_supcon(int B, int dim, int C) { UNUSED(C); return sn_supcon_scratch_size(B, dim); }
static double fn_supcon(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                        const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_supcon_loss(de, e, lab, B, dim, p->temperature, s, cap);
}
static double fn_ntxent(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                        const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_ntxent_loss(de, e, lab, B, dim, p->temperature, s, cap);
}

static size_t scr_proxy(int B, int dim, int C) { return sn_proxy_scratch_size(B, dim, C); }
#define PROXY_FN(fname, KIND)                                                                     \
    static double fname(const sn_loss_params *p, float *de, float *dW, const float *e,           \
                        const float *W, const int32_t *lab, int B, int dim, int C, float *s,     \
                        size_t cap) {                                                             \
        return sn_proxy_loss(de, dW, e, W, lab, B, dim, C, KIND, p->scale, p->margin, p->smooth, \
                             s, cap);                                                      \
    }
PROXY_FN(fn_normsoftmax, SN_PROXY_NORMSOFTMAX)
PROXY_FN(fn_cosface, SN_PROXY_COSFACE)
PROXY_FN(fn_arcface, SN_PROXY_ARCFACE)
PROXY_FN(fn_softmax, SN_PROXY_SOFTMAX)

static size_t scr_angular(int B, int dim, int C) { UNUSED(C); return sn_angular_scratch_size(B, dim); }
static double fn_angular(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                         const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_angular_loss(de, e, lab, B, dim, p->angle_deg, s, cap);
}

static size_t scr_tbc(int B, int dim, int C) { UNUSED(C); return sn_triplet_bc_scratch_size(B, dim); }
static double fn_tbc(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                     const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_triplet_bc_loss(de, e, lab, B, dim, p->margin, p->distance, s, cap);
}

static size_t scr_tcur(int B, int dim, int C) {
    UNUSED(C);
    return sn_triplet_curriculum_scratch_size(B, dim);
}
static double fn_tcur(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                      const int32_t *lab, int B, int dim, int C, float *s, size_t cap) {
    UNUSED(dW), UNUSED(W), UNUSED(C);
    return sn_triplet_curriculum_loss(de, e, lab, B, dim, p->margin, p->distance, p->hardness, s, cap);
}

/* defaults: {margin, pos_margin, temperature, scale, angle_deg, distance, miner, curriculum} */
static const sn_lossfn table[] = {
    {"contrastive", SN_LOSSK_PAIR, SN_LOPT_MARGIN, {5.0f, 0, 0, 0, 0, SN_DIST_EUCLID, 0, 0, 0, 0},
     "seed pair form (Hadsell et al. 2006), Euclidean", NULL, NULL},
    {"contrastive-pn", SN_LOSSK_BATCH, SN_LOPT_MARGIN | SN_LOPT_POS_MARGIN | SN_LOPT_DISTANCE,
     {1.0f, 0, 0, 0, 0, SN_DIST_EUCLID, 0, 0, 0, 0}, "all pairs, positive / negative margins",
     scr_cpn, fn_cpn},
    {"triplet", SN_LOSSK_BATCH, SN_LOPT_MARGIN | SN_LOPT_DISTANCE | SN_LOPT_MINER | SN_LOPT_CURRICULUM,
     {0.2f, 0, 0, 0, 0, SN_DIST_EUCLID, SN_MINER_ALL, 0, 0, 0}, "triplet margin loss with a miner",
     scr_triplet, fn_triplet},
    {"multisim", SN_LOSSK_BATCH, 0, {0, 0, 0, 0, 0, SN_DIST_COSINE, 0, 0, 0, 0},
     "Multi-Similarity loss with its miner (cosine)", scr_multisim, fn_multisim},
    {"supcon", SN_LOSSK_BATCH, SN_LOPT_TEMPERATURE, {0, 0, 0.1f, 0, 0, SN_DIST_COSINE, 0, 0, 0, 0},
     "supervised contrastive (cosine)", scr_supcon, fn_supcon},
    {"ntxent", SN_LOSSK_BATCH, SN_LOPT_TEMPERATURE, {0, 0, 0.07f, 0, 0, SN_DIST_COSINE, 0, 0, 0, 0},
     "NT-Xent with labels (cosine)", scr_supcon, fn_ntxent},
    {"normsoftmax", SN_LOSSK_PROXY, SN_LOPT_SCALE | SN_LOPT_SMOOTH, {0, 0, 0, 20.0f, 0, SN_DIST_COSINE, 0, 0, 0, 0},
     "normalised softmax over class proxies", scr_proxy, fn_normsoftmax},
    {"cosface", SN_LOSSK_PROXY, SN_LOPT_SCALE | SN_LOPT_MARGIN | SN_LOPT_SMOOTH,
     {0.35f, 0, 0, 64.0f, 0, SN_DIST_COSINE, 0, 0, 0, 0}, "CosFace (additive cosine margin)",
     scr_proxy, fn_cosface},
    {"arcface", SN_LOSSK_PROXY, SN_LOPT_SCALE | SN_LOPT_MARGIN | SN_LOPT_SMOOTH,
     {0.5f, 0, 0, 64.0f, 0, SN_DIST_COSINE, 0, 0, 0, 0}, "ArcFace (additive angular margin, radians)",
     scr_proxy, fn_arcface},
    {"softmax", SN_LOSSK_PROXY, SN_LOPT_SCALE | SN_LOPT_SMOOTH, {0, 0, 0, 1.0f, 0, SN_DIST_COSINE, 0, 0, 0, 0},
     "softmax cross-entropy of a linear head (unnormalised logits s e.W)", scr_proxy, fn_softmax},
    {"angular", SN_LOSSK_BATCH, SN_LOPT_ANGLE, {0, 0, 0, 0, 40.0f, SN_DIST_COSINE, 0, 0, 0, 0},
     "angular loss (Wang et al. 2017)", scr_angular, fn_angular},
    {"triplet-bc", SN_LOSSK_BATCH, SN_LOPT_MARGIN | SN_LOPT_DISTANCE,
     {0.2f, 0, 0, 0, 0, SN_DIST_EUCLID, 0, 0, 0, 0}, "selection-bias-corrected batch-hard triplet",
     scr_tbc, fn_tbc},
    {"triplet-curriculum", SN_LOSSK_BATCH, SN_LOPT_MARGIN | SN_LOPT_DISTANCE | SN_LOPT_CURRICULUM,
     {0.2f, 0, 0, 0, 0, SN_DIST_EUCLID, 0, 0.6f, 0, 0}, "triplet, negatives from easy to hard",
     scr_tcur, fn_tcur},
};

const sn_lossfn *sn_lossfn_find(const char *name) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

const char *sn_lossfn_names(void) {
    return "contrastive, contrastive-pn, triplet, multisim, supcon, ntxent, normsoftmax, "
           "cosface, arcface, softmax, angular, triplet-bc, triplet-curriculum";
}

static const char *dist_names[] = {"euclidean", "sqeuclidean", "cosine"};
static const char *miner_names[] = {"all", "hard", "semihard"};

int sn_distance_from_name(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, dist_names[i])) return i;
    return -1;
}
const char *sn_distance_name(int kind) { return kind >= 0 && kind < 3 ? dist_names[kind] : "?"; }
int sn_miner_from_name(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, miner_names[i])) return i;
    return -1;
}
const char *sn_miner_name(int miner) { return miner >= 0 && miner < 3 ? miner_names[miner] : "?"; }
