/* losses.h -- metric-learning losses: loss value and gradient together. */
#ifndef SN_LOSSES_H
#define SN_LOSSES_H

/*
 * Contrastive loss (Hadsell, Chopra & LeCun 2006), the seed form:
 *   L = (1/B) sum_i (1-y_i) d_i^2 + y_i max(0, m - d_i)^2,   d_i = ||a_i - b_i||_2
 * with y_i = 0 for a same-class pair and 1 for a different-class pair.
 *   e:    (2B, D) embeddings; rows 0..B-1 are a_i, rows B..2B-1 are b_i
 *   y:    (B) 0/1
 *   de:   (2B, D) dL/de, OVERWRITTEN (may be NULL: loss only)
 *   dist: (B) d_i out (may be NULL)
 * Gradient (derivation in docs/derivations.md):
 *   dL/da_i = (2/B) (a_i - b_i) [ (1-y_i) - y_i (m - d_i)/d_i [d_i < m] ],  dL/db_i = -dL/da_i
 * At d_i = 0 with y_i = 1 the hinge term has no direction; its gradient is taken as 0.
 * Accumulation in double. Returns L.
 */
double sn_contrastive_loss(float *de, float *dist, const float *e, const float *y, int B, int D,
                           float margin);
/* Double-precision twin used by the finite-difference tests. */
double sn_contrastive_loss_ref(double *de, const double *e, const double *y, int B, int D,
                               double margin);

#endif
