/*
 * kernels_nhwc.h -- channels-last (NHWC) forward kernels for the inference path
 * (src/nn/infer.c: sn_model_embed). Forward only, single-threaded: the caller splits the
 * batch over its threads and gives each call its own scratch, so a result depends on the
 * batch slice it was given and nothing else (no thread count inside).
 *
 * Layout: an activation of N images of shape (C,H,W) is stored (N,H,W,C): the C values
 * of one pixel are contiguous, so every per-pixel loop runs over channels in SIMD lanes.
 * Weights of a conv are stored (KH,KW,C,M): row (kh,kw,c) of the GEMM operand.
 *
 * Fused epilogue of the convolutions (sn_conv_epi): y = relu?(pool(conv(x)) + bias).
 * max commutes with adding a per-channel constant and with ReLU (both monotone, and float
 * rounding of x + b is monotone in x), so pooling before the bias gives the same floats
 * as bias, then pool. Batch norm is folded into w and bias by the caller.
 *
 * Every kernel has the NCHW reference it is tested against (tests/test_infer.c): the
 * conv2d and pool _ref kernels in kernels.h after a layout change.
 */
#ifndef SN_KERNELS_NHWC_H
#define SN_KERNELS_NHWC_H

#include "kernels/kernels.h"

#include <stddef.h>

typedef struct {
    const float *bias; /* (M) or NULL */
    int relu;          /* 1: y = max(y, 0) last */
    int pool;          /* 1: none; 2: 2x2 max-pool, stride 2, over the conv output (floor) */
} sn_conv_epi;

/* Output (N, OH/pool, OW/pool, M) of a conv d with epilogue e. */
size_t sn_conv_nhwc_out_size(const sn_conv2d_dims *d, const sn_conv_epi *e);

/* im2row + GEMM (any kernel, stride, padding). Scratch: sn_conv_nhwc_scratch(d) floats.
 * y: (N,OH/p,OW/p,M)  x: (N,H,W,C)  w: (KH,KW,C,M) */
size_t sn_conv_nhwc_scratch(const sn_conv2d_dims *d);
void sn_conv_nhwc_forward_f32(float *y, const float *x, const float *w, const sn_conv_epi *e,
                              const sn_conv2d_dims *d, float *scratch);

/* Winograd F(2x2, 3x3) (Lavin & Gray 2016): 3x3, stride 1, any padding. 2x2 output tiles
 * from 4x4 input tiles: 16 GEMMs (tiles x C) . (C x M) replace the (pixels x 9C) . (9C x M)
 * one, 2.25x fewer multiplies (fewer where the tiles overhang the output). Transforms in
 * float, the weight transform in double; |error| of the order of the fp32 conv's.
 * U: (16,C,M) from sn_conv_nhwc_wino_weights; scratch: sn_conv_nhwc_wino_scratch(d). */
int sn_conv_nhwc_wino_ok(const sn_conv2d_dims *d);
void sn_conv_nhwc_wino_weights(float *U, const float *w, int C, int M);
size_t sn_conv_nhwc_wino_scratch(const sn_conv2d_dims *d);
void sn_conv_nhwc_wino_f32(float *y, const float *x, const float *U, const sn_conv_epi *e,
                           const sn_conv2d_dims *d, float *scratch);

/* Pools without argmax (eval): y (N,OH,OW,C)  x (N,H,W,C); same windows as kernels.h. */
void sn_maxpool_nhwc_f32(float *y, const float *x, const sn_pool_dims *d);
void sn_avgpool_nhwc_f32(float *y, const float *x, const sn_pool_dims *d);

#endif
