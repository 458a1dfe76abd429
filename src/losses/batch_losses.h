/*
 * batch_losses.h -- batch metric-learning losses on a B x B distance matrix (private).
 *
 * Conventions (shared by distmat.c, triplet.c, multisim.c):
 *   e:   (B,dim) embeddings, row-major; lab: (B) int32 class labels.
 *   D:   (B,B) pairwise distances, symmetric, exactly 0 on the diagonal, >= 0.
 *   Losses return L and OVERWRITE de (B,dim) with dL/de (de may be NULL: loss only),
 *   like sn_contrastive_loss. Distance backward ACCUMULATES (+=), like the kernels.
 *   Float versions compute D with one GEMM (e e^T) plus norms and the input gradient
 *   with one GEMM (W e); they never allocate: the caller passes `scratch` sized by the
 *   *_scratch_size twin (O(B^2) floats, independent of dim).
 *   Every float function has a double _ref twin with the same semantics (brute-force
 *   pairwise distances), used by the finite-difference tests. _ref functions allocate
 *   (test-only) and report in *kink (may be NULL) the smallest |gap| to any hinge,
 *   tie or mining threshold they met, so tests can skip points where the loss is not
 *   differentiable.
 *   Mining decisions are treated as constants in the gradient (as in PyTorch).
 */
#ifndef SN_BATCH_LOSSES_H
#define SN_BATCH_LOSSES_H

#include <stddef.h>
#include <stdint.h>

enum { SN_DIST_EUCLID = 0, SN_DIST_SQEUCLID = 1, SN_DIST_COSINE = 2 };
enum { SN_MINER_ALL = 0, SN_MINER_HARD = 1, SN_MINER_SEMIHARD = 2 };

/* ------------------------------------------------------------ distances */
/* kind 0: ||e_i - e_j||;  1: ||e_i - e_j||^2 (= n_i + n_j - 2 G_ij, clamped >= 0);
 * 2: cosine distance 1 - e_i.e_j / (|e_i||e_j|) (a zero-norm row gives 1, no gradient).
 * Off-diagonal entries come from the upper triangle of G = e e^T, so D is exactly
 * symmetric. Euclidean at d = 0 (duplicate rows): gradient 0 there. */
size_t sn_distmat_scratch_size(int B); /* floats: B*B + B (forward needs only B) */
/* D: (B,B) out  e: (B,dim) */
void sn_distmat(float *D, const float *e, int B, int dim, int kind, float *scratch);
/* de: (B,dim) += dL/de  dD: (B,B) dL/dD (need not be symmetric; diagonal ignored)
 * D: (B,B) from sn_distmat. */
void sn_distmat_backward(float *de, const float *dD, const float *e, const float *D, int B,
                         int dim, int kind, float *scratch);
void sn_distmat_ref(double *D, const double *e, int B, int dim, int kind);
void sn_distmat_backward_ref(double *de, const double *dD, const double *e, int B, int dim,
                             int kind);

/* -------------------------------------------------------------- triplet */
/* Triplet margin loss, l(a,p,n) = max(0, D_ap - D_an + margin), p != a same class,
 * n other class. Miners:
 *   SN_MINER_ALL      batch-all: L = mean of l over the valid triplets with l > 0
 *                     (pytorch-metric-learning's AvgNonZeroReducer); 0 if none.
 *   SN_MINER_HARD     batch-hard (Hermans et al. 2017): per anchor with >= 1 positive
 *                     and >= 1 negative, hardest positive (max D_ap) and hardest
 *                     negative (min D_an); L = mean over those anchors (zeros included).
 *   SN_MINER_SEMIHARD FaceNet (Schroff et al. 2015), as TensorFlow's
 *                     triplet_semihard_loss: per positive pair (a,p) whose anchor has a
 *                     negative, n* = argmin {D_an : D_an > D_ap} (the hardest
 *                     semi-hard negative when D_an < D_ap + margin; otherwise l = 0);
 *                     fallback when no negative is farther than D_ap: n* = argmax D_an
 *                     (the easiest negative). L = mean over those pairs (zeros included).
 * Ties pick the lowest index. A hinge exactly at 0 contributes no gradient. */
size_t sn_triplet_scratch_size(int B, int dim); /* floats: 3B^2 + B */
double sn_triplet_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                       float margin, int distance_kind, int miner, float *scratch,
                       size_t scratch_floats);
double sn_triplet_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                           double margin, int distance_kind, int miner, double *kink);

/* ---------------------------------------------------------- multi-sim */
/* Multi-Similarity loss (Wang et al. 2019) with its miner, as pytorch-metric-learning
 * MultiSimilarityLoss(alpha=2, beta=50, base=0.5) + MultiSimilarityMiner(epsilon=0.1)
 * + MeanReducer. S = cosine similarity (= of L2-normalised embeddings), per anchor i:
 *   positives kept: S_ip - eps < max_n S_in;   negatives kept: S_in + eps > min_p S_ip
 *   L_i = 1/alpha log(1 + sum_kept_p exp(-alpha (S_ip - base)))
 *       + 1/beta  log(1 + sum_kept_n exp( beta (S_in - base)))
 *   L = (1/B) sum_i L_i   (an anchor with nothing kept contributes 0). */
#define SN_MS_ALPHA 2.0
#define SN_MS_BETA 50.0
#define SN_MS_BASE 0.5
#define SN_MS_EPS 0.1
size_t sn_multisim_scratch_size(int B, int dim); /* floats: 3B^2 + B */
double sn_multisim_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                        float *scratch, size_t scratch_floats);
double sn_multisim_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                            double *kink);

#endif
