/*
 * infer.h -- the inference path behind sn_model_embed (infer.c).
 *
 * Eval-mode forward of a batch of uint8 images, batch-parallel: the batch is cut into
 * chunks of B images (B from n and the architecture only, never from the thread count);
 * each thread takes whole chunks and runs a chunk through the whole network with its own
 * activation buffers and single-threaded kernels: no barrier between layers, and a
 * chunk's activations (a few hundred KB) stay in that core's L2.
 *
 * The network is compiled into a list of ops (rebuilt at each call, it is cheap):
 *   conv [bn] [relu] [maxpool 2] [relu]  one op: BN folded into the conv's weights and
 *                                        bias, ReLU and the 2x2 max-pool fused into the
 *                                        pass that leaves the GEMM (kernels_nhwc.h); 3x3
 *                                        stride-1 convs run as Winograd F(2x2,3x3)
 *   linear [bn] [relu]                   one op: BN folded, ReLU fused
 *   everything else                      one op per layer (bn as a per-channel affine)
 * Activations are channels-last (NHWC); `flatten` of a tensor with H*W > 1 transposes
 * back to (C,H,W) order so `linear` sees the same vector as the training path.
 *
 * Folded weights are computed from m->params / m->bufs at every call (one pass over the
 * conv and linear weights; nothing to invalidate when training changes them).
 *
 * Results: bit-identical for every thread count (a chunk's arithmetic does not depend
 * on which thread runs it), and equal to the training-path forward in eval mode
 * (sn_model_embed_ref) up to float rounding: BN folding and Winograd change the order
 * of the operations (tests/test_infer.c bounds the difference).
 */
#ifndef SN_INFER_H
#define SN_INFER_H

#include "nn/nn.h"

#include <stdint.h>

typedef struct sn_infer sn_infer;

/* out (n, embed_dim) = eval-mode embeddings of pixels (n, in_c, in_h, in_w) uint8.
 * Models in bf16 precision take the reference path (their convs multiply in bf16). */
sn_status sn_infer_embed(sn_ctx *ctx, sn_model *m, const uint8_t *pixels, int n, float *out);
void sn_infer_free(sn_infer *inf);

/* The training-path forward in eval mode, in chunks of up to 256 images (NCHW, the
 * layers' own kernels, sn_model_plan's arena): the reference the fast path is tested
 * against, and the path of bf16 models. */
sn_status sn_model_embed_ref(sn_ctx *ctx, sn_model *m, const uint8_t *pixels, int n,
                             float *out);

#endif
