/*
 * explain.h -- saliency maps for a pair of images (explain.c). The maps, their
 * definitions and their errors are public: include/simnet_viz.h (sn_explain_gradient_dist,
 * sn_explain_occlusion). Declared here: the shorthand the tests use, and what the
 * public header leaves out.
 *
 * Batch norm in the eval-mode backward pass: in eval mode a BN layer is the per-channel
 * affine map
 *   y = (x - run_mean) * a + beta,  a = gamma / sqrt(run_var + eps),
 * so dx = dy * a (the training-mode kernel would differentiate through the batch
 * statistics instead); every other layer's backward does not depend on the mode.
 *
 * Side effects on the model: the activation plan may grow (sn_model_plan), and the
 * parameter gradient slab m->grads is left zeroed (the backward kernels accumulate into
 * it as a by-product). Neither the parameters nor the BN running statistics change.
 */
#ifndef SN_NN_EXPLAIN_H
#define SN_NN_EXPLAIN_H

#include "simnet_viz.h"

/* sn_explain_gradient_dist without the distance. imgA, imgB: (C,H,W) uint8.
 * salA, salB: (H,W). */
sn_status sn_explain_gradient(sn_ctx *ctx, sn_model *m, const uint8_t *imgA, const uint8_t *imgB,
                              float *salA, float *salB);

#endif
