/*
 * kernels.h -- compute kernels as forward/backward pairs.
 *
 * Argument order everywhere: outputs, saved-for-backward, inputs, params, dims.
 * Backward kernels ACCUMULATE (+=) into every gradient they write (dx, dw, db, ...);
 * callers zero gradient buffers. A NULL dx skips the input gradient. The _set variants
 * (conv, batchnorm, pools) ASSIGN dx instead (dw, db still accumulate): for a caller whose
 * dx has no other contributor they save zeroing dx in a separate pass over memory.
 *
 * Every fast float kernel (_f32) has a naive double-precision twin (_ref) with the
 * same semantics, used as the reference in tests (fast vs ref) and for central
 * finite-difference gradient checks in double.
 *
 * Threading: `nt` is the number of OpenMP threads to use (>= 1). Results do not
 * depend on nt: work is split into pieces fixed by the shapes, and reductions over
 * the batch are summed in a fixed order.
 */
#ifndef SN_KERNELS_H
#define SN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ GEMM */
/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major; op(A) is (M,K), op(B) (K,N).
 * lda/ldb/ldc are row strides. Same contract as cblas_sgemm(CblasRowMajor, ...). */
void sn_gemm_f32(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Naive triple loop with double accumulation, same signature. */
void sn_gemm_ref_f32(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Make BLAS single-threaded (our own threads split the batch). Call once. */
void sn_gemm_init(void);
/* simnet's packed AVX-512F GEMM (gemm_f32.c), the sn_gemm_f32 contract with caller
 * scratch of sn_gemm_f32p_scratch_size(M, N, K) bytes (any alignment); without AVX-512F it
 * calls sn_gemm_f32. Single-threaded. Used by the fp32 convolutions. */
size_t sn_gemm_f32p_scratch_size(int M, int N, int K);
void sn_gemm_f32p(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc, void *scratch);
/* sn_gemm_f32p with A packed once and reused (conv weights across a batch): pa holds
 * sn_gemm_f32p_pa_size(M, K) floats, filled by sn_gemm_f32p_pack_a (row panels split over
 * nparts callers, part = 0..nparts-1, e.g. one per thread). sn_gemm_f32p_pa(tB, ...) then
 * gives bit for bit what sn_gemm_f32p(tA, tB, ...) gives with its AVX-512F kernels (without
 * them pa is op(A) row-major for sn_gemm_f32); the scratch is the same size. */
size_t sn_gemm_f32p_pa_size(int M, int K);
void sn_gemm_f32p_pack_a(int transA, int M, int K, const float *A, int lda, float *pa, int part,
                         int nparts);
void sn_gemm_f32p_pa(int transB, int M, int N, int K, float alpha, const float *pa,
                     const float *B, int ldb, float beta, float *C, int ldc, void *scratch);
/* 1 if sn_gemm_f32p runs its own AVX-512F kernels on this CPU (else it is sn_gemm_f32). */
int sn_gemm_f32p_available(void);

/* ---------------------------------------------------------------- conv2d */
typedef struct {
    int N, C, H, W;     /* input (N,C,H,W) */
    int M;              /* output channels */
    int KH, KW;         /* kernel */
    int stride, pad;    /* same in both directions */
    int OH, OW;         /* output spatial: (H + 2pad - KH)/stride + 1 */
} sn_conv2d_dims;

/* Fill OH/OW; returns 0 if the geometry is invalid (output < 1). */
int sn_conv2d_dims_init(sn_conv2d_dims *d);
/* Floats of scratch needed by the _f32 kernels with nt threads. */
size_t sn_conv2d_scratch_size(const sn_conv2d_dims *d, int nt);

/* y: (N,M,OH,OW)  x: (N,C,H,W)  w: (M,C,KH,KW)  b: (M) or NULL */
void sn_conv2d_forward_f32(float *y, const float *x, const float *w, const float *b,
                           const sn_conv2d_dims *d, float *scratch, int nt);
/* dx: (N,C,H,W) or NULL  dw: (M,C,KH,KW)  db: (M) or NULL  dy: (N,M,OH,OW) */
void sn_conv2d_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const sn_conv2d_dims *d, float *scratch, int nt);
/* The same, but dx is assigned (overwritten), not accumulated: for a caller whose dx
 * has no other contributor, it saves zeroing dx in a separate pass (dw, db accumulate). */
void sn_conv2d_backward_set_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                                const float *w, const sn_conv2d_dims *d, float *scratch, int nt);
/* bf16 variants (opt-in precision): the same, with the three GEMMs in sn_gemm_bf16 (bf16
 * multiplies, fp32 accumulation); scratch: sn_conv2d_scratch_size_bf16(d, nt) floats. */
size_t sn_conv2d_scratch_size_bf16(const sn_conv2d_dims *d, int nt);
void sn_conv2d_forward_bf16(float *y, const float *x, const float *w, const float *b,
                            const sn_conv2d_dims *d, float *scratch, int nt);
void sn_conv2d_backward_bf16(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const sn_conv2d_dims *d, float *scratch, int nt);
void sn_conv2d_backward_set_bf16(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const sn_conv2d_dims *d, float *scratch, int nt);
void sn_conv2d_forward_ref(double *y, const double *x, const double *w, const double *b,
                           const sn_conv2d_dims *d);
void sn_conv2d_backward_ref(double *dx, double *dw, double *db, const double *dy,
                            const double *x, const double *w, const sn_conv2d_dims *d);

/* ------------------------------------------------------------- batchnorm */
/* Batch norm over (N,C,S): statistics per channel c over N*S values
 * (S = H*W for batchnorm2d, S = 1 for batchnorm1d), exactly as PyTorch:
 *   train: y = (x - mean) * rstd * gamma + beta, rstd = 1/sqrt(var_biased + eps);
 *          run_mean = (1-mom)*run_mean + mom*mean;
 *          run_var  = (1-mom)*run_var  + mom*var_biased*n/(n-1),  n = N*S.
 *   eval:  y = (x - run_mean) / sqrt(run_var + eps) * gamma + beta.
 * mean, rstd: (C) saved for backward. run_mean/run_var may be NULL (no update). */
void sn_batchnorm_forward_train_f32(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta, float *run_mean,
                                    float *run_var, int N, int C, int S, float momentum,
                                    float eps, int nt);
void sn_batchnorm_forward_eval_f32(float *y, const float *x, const float *gamma,
                                   const float *beta, const float *run_mean,
                                   const float *run_var, int N, int C, int S, float eps, int nt);
/* Training-mode backward (batch statistics). */
void sn_batchnorm_backward_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *gamma, int N, int C, int S, int nt);
/* dx assigned instead of accumulated (dgamma, dbeta accumulate). */
void sn_batchnorm_backward_set_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                   const float *x, const float *mean, const float *rstd,
                                   const float *gamma, int N, int C, int S, int nt);
/* Synchronized batch norm (data-parallel training, src/dist/dp.h): replicas that each
 * hold some rows of one batch normalise with the statistics of ALL the rows. The
 * kernels compute per-channel partial sums over their own rows into buf, call sum()
 * once (on the calling thread, outside parallel regions) to replace them by the sums
 * over the replicas, and finish with those:
 *   forward   buf = [sum(x - K) (C), sum((x - K)^2) (C), N*S]; K = run_mean[c] (0
 *             without one), a shift that every replica holds identically (the running
 *             statistics are updated from the global ones); running stats from the
 *             global count.
 *   backward  buf = [sum(dy) (C), sum(dy*(x - mean)) (C), N*S]: dx is the gradient of
 *             the global-batch BN; dgamma, dbeta accumulate this replica's own sums
 *             (the gradient all-reduce adds them). Without dx: no call.
 * sum(ctx, v, n): v (n doubles) summed over the replicas, the same bits on each;
 * returns 0, or nonzero on failure with v left unchanged (the kernel then finishes with
 * this replica's statistics; the owner of the hook keeps the error). */
typedef struct sn_bn_sync {
    int (*sum)(void *ctx, double *v, int n);
    void *ctx;
    double *buf;  /* (cap) doubles, cap >= 2 C + 1 for every layer it serves */
    int cap;
} sn_bn_sync;
/* sync NULL: exactly sn_batchnorm_forward_train_f32 / sn_batchnorm_backward(_set)_f32. */
void sn_batchnorm_forward_train_sync_f32(float *y, float *mean, float *rstd, const float *x,
                                         const float *gamma, const float *beta, float *run_mean,
                                         float *run_var, int N, int C, int S, float momentum,
                                         float eps, int nt, const sn_bn_sync *sync);
/* set: dx assigned (as the _set variant) instead of accumulated. */
void sn_batchnorm_backward_sync_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                    const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int N, int C, int S, int nt, int set,
                                    const sn_bn_sync *sync);
/* Fused batch norm 2d (training mode) + max pool 2x2 stride 2, for a bn layer whose only
 * consumer is that pool. x: (N,C,H,W) the BN input; y, argmax: (N,C,H/2,W/2) the pool's
 * outputs, bit-identical to sn_batchnorm_forward_train_f32 then sn_maxpool2d_forward_f32;
 * xsel: (N,C,H/2,W/2) x at the argmax (kept for the backward); mean, rstd, run_mean,
 * run_var as sn_batchnorm_forward_train_f32. The BN output itself is not written.
 * relu = 1: a relu between BN and pool (y = relu(pool(bn)) as the three layers apart;
 * argmax may differ where y = 0, where no gradient flows). */
void sn_bn_maxpool2_forward_train_f32(float *y, int32_t *argmax, float *xsel, float *mean,
                                      float *rstd, const float *x, const float *gamma,
                                      const float *beta, float *run_mean, float *run_var, int N,
                                      int C, int H, int W, float momentum, float eps, int relu,
                                      int nt);
/* Its backward: dy (N,C,H/2,W/2) the pool's output gradient; dx (N,C,H,W) ASSIGNED (or
 * NULL), dgamma, dbeta accumulated. Equal to sn_maxpool2d_backward_set_f32 then
 * sn_batchnorm_backward_set_f32 up to the summation order of sum(dy), sum(dy*(x-mean)).
 * With the relu: ypool = the forward's y, dym a (N,C,H/2,W/2) work buffer (dy masked by
 * ypool > 0); without: both NULL. */
void sn_bn_maxpool2_backward_set_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                     const int32_t *argmax, const float *xsel, const float *x,
                                     const float *mean, const float *rstd, const float *gamma,
                                     const float *ypool, float *dym, int N, int C, int H, int W,
                                     int nt);
void sn_batchnorm_forward_train_ref(double *y, double *mean, double *rstd, const double *x,
                                    const double *gamma, const double *beta, int N, int C,
                                    int S, double eps);
void sn_batchnorm_backward_ref(double *dx, double *dgamma, double *dbeta, const double *dy,
                               const double *x, const double *mean, const double *rstd,
                               const double *gamma, int N, int C, int S);

/* ------------------------------------------------------------------ pool */
/* Square window k, stride s, no padding: OH = (H - k)/s + 1 (floor, as PyTorch). */
typedef struct {
    int N, C, H, W, k, stride, OH, OW;
} sn_pool_dims;
int sn_pool_dims_init(sn_pool_dims *d);

/* y: (N,C,OH,OW)  argmax: (N,C,OH,OW) index into the H*W plane (first max wins) */
void sn_maxpool2d_forward_f32(float *y, int32_t *argmax, const float *x, const sn_pool_dims *d,
                              int nt);
void sn_maxpool2d_backward_f32(float *dx, const float *dy, const int32_t *argmax,
                               const sn_pool_dims *d, int nt);
void sn_avgpool2d_forward_f32(float *y, const float *x, const sn_pool_dims *d, int nt);
void sn_avgpool2d_backward_f32(float *dx, const float *dy, const sn_pool_dims *d, int nt);
/* _set: dx assigned (each plane zeroed, then scattered) instead of accumulated. */
void sn_maxpool2d_backward_set_f32(float *dx, const float *dy, const int32_t *argmax,
                                   const sn_pool_dims *d, int nt);
void sn_avgpool2d_backward_set_f32(float *dx, const float *dy, const sn_pool_dims *d, int nt);
void sn_maxpool2d_forward_ref(double *y, int32_t *argmax, const double *x, const sn_pool_dims *d);
void sn_maxpool2d_backward_ref(double *dx, const double *dy, const int32_t *argmax,
                               const sn_pool_dims *d);
void sn_avgpool2d_forward_ref(double *y, const double *x, const sn_pool_dims *d);
void sn_avgpool2d_backward_ref(double *dx, const double *dy, const sn_pool_dims *d);

/* ---------------------------------------------------------------- linear */
/* y: (N,O) = x (N,I) w^T + b;  w: (O,I)  b: (O) or NULL */
void sn_linear_forward_f32(float *y, const float *x, const float *w, const float *b, int N,
                           int I, int O);
void sn_linear_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, int N, int I, int O);
void sn_linear_forward_ref(double *y, const double *x, const double *w, const double *b, int N,
                           int I, int O);
void sn_linear_backward_ref(double *dx, double *dw, double *db, const double *dy,
                            const double *x, const double *w, int N, int I, int O);

/* ------------------------------------------------------------ activations */
/* ReLU over n values; backward uses the forward output y (dx += dy * (y > 0)). */
void sn_relu_forward_f32(float *y, const float *x, size_t n);
void sn_relu_backward_f32(float *dx, const float *dy, const float *y, size_t n);
void sn_relu_backward_set_f32(float *dx, const float *dy, const float *y, size_t n);
void sn_relu_forward_ref(double *y, const double *x, size_t n);
void sn_relu_backward_ref(double *dx, const double *dy, const double *y, size_t n);

/* Row-wise L2 normalisation: y = x / max(||x||, eps) over rows of length D
 * (as torch.nn.functional.normalize, eps = 1e-12). norm: (N) saved. */
void sn_l2norm_forward_f32(float *y, float *norm, const float *x, int N, int D, float eps);
void sn_l2norm_backward_f32(float *dx, const float *dy, const float *y, const float *norm,
                            int N, int D, float eps);
void sn_l2norm_forward_ref(double *y, double *norm, const double *x, int N, int D, double eps);
void sn_l2norm_backward_ref(double *dx, const double *dy, const double *y, const double *norm,
                            int N, int D, double eps);

/* ------------------------------------------------------ elementwise add */
/* y = a + b over n values (the residual join); y may alias a or b. */
void sn_add_forward_f32(float *y, const float *a, const float *b, size_t n, int nt);
/* da += dy, and db += dy when db != NULL (the gradient of a sum flows to both terms). */
void sn_add_backward_f32(float *da, float *db, const float *dy, size_t n, int nt);
void sn_add_forward_ref(double *y, const double *a, const double *b, size_t n);
void sn_add_backward_ref(double *da, double *db, const double *dy, size_t n);

/* ------------------------------------------------------------- bf16 GEMM */
/* The sn_gemm_f32 contract with bf16 multiplies and fp32 accumulation (gemm_bf16.c):
 * A and B are rounded to bfloat16 (nearest even) while packed; products summed in fp32
 * in pairs along K (odd then even, as AVX512-BF16's VDPBF16PS). Uses AVX512-BF16 when
 * the CPU has it (runtime check), else a portable C path with the same arithmetic
 * (which differs from the fast one only on subnormals, flushed there).
 * scratch: sn_gemm_bf16_scratch_size(M, N, K) bytes, any alignment; single-threaded. */
size_t sn_gemm_bf16_scratch_size(int M, int N, int K);
void sn_gemm_bf16(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc, void *scratch);
/* The portable path regardless of the CPU (tests compare the two). */
void sn_gemm_bf16_portable(int transA, int transB, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta, float *C,
                           int ldc, void *scratch);
/* Reference: inputs rounded to bf16, products summed in double. */
void sn_gemm_bf16_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* 1 if the AVX512-BF16 path runs on this CPU. */
int sn_bf16_available(void);
/* Measured now on the calling thread (about 15 ms): the multiply-add rate of VDPBF16PS
 * over that of fp32 AVX-512 FMA, flops for flops (2 = the bf16 dot product at twice the
 * fp32 rate, as on Zen 4); 0 when the AVX512-BF16 path cannot run. */
double sn_bf16_speedup(void);
/* sn_model_set_precision("auto") picks bf16 from this speedup up. */
#define SN_BF16_AUTO_MIN_SPEEDUP 1.5
/* float <-> bf16 bits (round to nearest even; NaN stays NaN); sn_bf16_round = both. */
uint16_t sn_bf16_from_f32(float f);
float sn_bf16_to_f32(uint16_t h);
float sn_bf16_round(float f);

#endif
