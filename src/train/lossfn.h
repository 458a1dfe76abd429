/*
 * lossfn.h -- the trainer's loss table: name -> kind, options, defaults, function.
 *
 * kind   PAIR   the seed's pair form: rows 0..B-1 anchors, B..2B-1 partners, y (B) 0/1
 *               (sn_contrastive_loss; the trainer calls it directly)
 *        BATCH  P x K batches, loss on the B x B distance / similarity matrix
 *        PROXY  P x K batches plus a trainable (C,dim) proxy head W owned by the trainer
 * opts   which sn_train_config options apply (others are refused when set)
 * Every batch/proxy entry is one adapter calling the loss with its resolved parameters;
 * scratch is sized once by .scratch (floats) and passed to every call.
 */
#ifndef SN_LOSSFN_H
#define SN_LOSSFN_H

#include "core/core.h"

typedef enum { SN_LOSSK_PAIR = 0, SN_LOSSK_BATCH = 1, SN_LOSSK_PROXY = 2 } sn_loss_kind;

enum {
    SN_LOPT_MARGIN = 1,      /* margin */
    SN_LOPT_DISTANCE = 2,    /* distance */
    SN_LOPT_MINER = 4,       /* miner */
    SN_LOPT_TEMPERATURE = 8, /* temperature */
    SN_LOPT_SCALE = 16,      /* scale */
    SN_LOPT_ANGLE = 32,      /* angle_deg */
    SN_LOPT_POS_MARGIN = 64, /* pos_margin */
    SN_LOPT_CURRICULUM = 128, /* curriculum (hardness ramp) */
    SN_LOPT_SMOOTH = 256      /* label_smoothing (proxy losses) */
};

/* Resolved loss parameters (defaults filled in). */
typedef struct {
    float margin, pos_margin, temperature, scale, angle_deg;
    int distance, miner;
    float curriculum; /* fraction of training over which hardness rises 0 -> 1 */
    float hardness;   /* current hardness (set by the trainer per step) */
    float smooth;     /* label smoothing of the proxy losses' targets (0 = one-hot) */
} sn_loss_params;

typedef struct {
    const char *name;
    sn_loss_kind kind;
    unsigned opts;
    sn_loss_params defaults;
    const char *about;
    /* floats of scratch for batch size B, embedding dim, C classes (proxy) */
    size_t (*scratch)(int B, int dim, int C);
    /* de (B,dim) OVERWRITTEN; dW (C,dim) ACCUMULATES (proxy only; may be NULL) */
    double (*fn)(const sn_loss_params *p, float *de, float *dW, const float *e, const float *W,
                 const int32_t *lab, int B, int dim, int C, float *scratch, size_t cap);
} sn_lossfn;

const sn_lossfn *sn_lossfn_find(const char *name);
/* "contrastive, contrastive-pn, triplet, ..." */
const char *sn_lossfn_names(void);
/* Name <-> code of the distance / miner options; -1 if unknown. */
int sn_distance_from_name(const char *name);
const char *sn_distance_name(int kind);
int sn_miner_from_name(const char *name);
const char *sn_miner_name(int miner);

#endif
