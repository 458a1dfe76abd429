/* health.h -- per-epoch training health statistics (private): fraction of active
 * pairs/triplets, mean positive / negative distance, embedding norm and variance. */
#ifndef SN_TRAIN_HEALTH_H
#define SN_TRAIN_HEALTH_H

#include <stdint.h>

/* Sums over the batches of an epoch; divide by n. */
typedef struct {
    double active, pos, neg, norm, var, msq;
    long n;
} health;

/* Mean norm, total variance and mean squared norm of the rows of e (N,D); mu: (D) scratch. */
void sn_embed_stats(health *h, const float *e, int N, int D, double *mu);
/* Pairs batch: d (b) pair distances, y (b) 0 same / 1 different; a pair is active when it
 * violates the margin. */
void sn_health_pairs(health *h, const float *d, const float *y, int b, float margin);
/* P x K batch: D (B,B) distances; a triplet (a,p,n) is active when D_ap - D_an + margin > 0.
 * tmp: (B) scratch. */
void sn_health_batch(health *h, const float *D, const int32_t *lab, int B, float margin,
                     float *tmp);

#endif
