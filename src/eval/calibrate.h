/* calibrate.h -- operating points from precomputed pair distances (private). */
#ifndef SN_CALIBRATE_H
#define SN_CALIBRATE_H

#include "simnet.h"

/* The operating point for `target` (see sn_calibrate) on n pairs (dist, same). */
sn_status sn_calibrate_pairs(sn_ctx *ctx, const float *dist, const uint8_t *same, int n,
                             const char *target, sn_operating_point *op);

/* Distances of n_pairs balanced pairs of ds (sn_make_pairs with seed) from its
 * embeddings emb (ds->n, D). */
sn_status sn_pair_distances_emb(sn_ctx *ctx, const sn_dataset *ds, const float *emb, int D,
                                int n_pairs, uint64_t seed, float *dist, uint8_t *same);

#endif
