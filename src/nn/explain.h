/*
 * explain.h -- saliency maps for a pair of images: which pixels make them alike.
 *
 * Both functions take a model, two uint8 images (C,H,W) at the model's input shape, and
 * write one map per image of H*W floats (row-major), summed over channels where there
 * are channels. Everything runs in eval mode: batch norm uses its running statistics,
 * so a map depends only on the two images, never on a batch.
 *
 * Distance: d(A,B) = ||f(A) - f(B)||_2, f the model's embedding.
 *
 * Gradient saliency (sn_explain_gradient):
 *   sal_A(p) = sum_c | d d(A,B) / d xA(c,p) |,  likewise B,
 * where x is the NORMALISED input ((pixel/255 - mean[c]) / std[c]); multiply by
 * 1/(255*std[c]) for the gradient per grey level. The backward pass is the eval-mode one:
 * a batch-norm layer in eval mode is the per-channel affine map
 *   y = (x - run_mean) * a + beta,  a = gamma / sqrt(run_var + eps),
 * so dx = dy * a (the training-mode kernel would differentiate through the batch
 * statistics instead); every other layer's backward does not depend on the mode. When
 * d(A,B) = 0 (e.g. identical images) the distance is not differentiable; both maps
 * are then all zeros.
 *
 * Occlusion (sn_explain_occlusion): a patch x patch square, set to normalised 0 (the
 * dataset mean, i.e. "grey") in every channel, slides over A with stride max(1, patch/2)
 * (the last row / column of positions is moved flush with the border so every pixel is
 * covered); for each position P:
 *   delta(P) = d(A with P occluded, B) - d(A, B),
 *   occ_A(p) = mean of delta(P) over the positions P whose square covers p,
 * and the same for B with A fixed. Positive = hiding this region makes the two images
 * less alike, i.e. it mattered for their similarity; negative = hiding it makes them
 * more alike.
 *
 * Side effects on the model: the activation plan may grow (sn_model_plan), and the
 * parameter gradient slab m->grads is left zeroed (the backward kernels accumulate into
 * it as a by-product). Neither the parameters nor the BN running statistics change.
 */
#ifndef SN_NN_EXPLAIN_H
#define SN_NN_EXPLAIN_H

#include "simnet.h"

#include <stdint.h>

/* imgA, imgB: (C,H,W) uint8.  salA, salB: (H,W). */
sn_status sn_explain_gradient(sn_ctx *ctx, sn_model *m, const uint8_t *imgA, const uint8_t *imgB,
                              float *salA, float *salB);
/* As sn_explain_gradient, and also returns d(A,B) in *dist. */
sn_status sn_explain_gradient_dist(sn_ctx *ctx, sn_model *m, const uint8_t *imgA,
                                   const uint8_t *imgB, float *salA, float *salB, double *dist);
/* patch: 1 .. min(H,W).  occA, occB: (H,W). */
sn_status sn_explain_occlusion(sn_ctx *ctx, sn_model *m, const uint8_t *imgA, const uint8_t *imgB,
                               int patch, float *occA, float *occB);

#endif
