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

#include "core/core.h" /* sn_rng */

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

/* ======================================================================
 * Losses of issue 4, second set (pair_losses.c, proxy.c, triplet_variants.c).
 * Same conventions as above: de (B,dim) OVERWRITTEN (may be NULL), no allocation in the
 * float versions (scratch from the *_scratch_size twin, independent of dim), double _ref
 * twins that allocate and report *kink. Where pytorch-metric-learning (PML) is named, the
 * definition is PML's with its default reducer; docs/derivations.md has the gradients.
 * Embeddings are used as given: PML's default distances L2-normalise first, so pass
 * L2-normalised rows (the model's optional normalised embedding) for PML parity; the
 * cosine-based losses are unaffected.
 * ====================================================================== */

/* ------------------------------------------------ contrastive, pos/neg margins */
/* PML ContrastiveLoss(pos_margin, neg_margin) on all ordered pairs (i,j), i != j:
 *   positive pair (same label):      l = max(0, D_ij - pos_margin)
 *   negative pair (different label): l = max(0, neg_margin - D_ij)
 *   L = mean of the positive l > 0 + mean of the negative l > 0 (AvgNonZeroReducer on
 *       each; a group with no l > 0 contributes 0).
 * Any distance kind. For SN_DIST_COSINE the margins are on the cosine DISTANCE 1 - s;
 * PML uses the similarity s there (pos term relu(pos_margin_s - s)), which is the same
 * loss with pos_margin_s = 1 - pos_margin, neg_margin_s = 1 - neg_margin. */
size_t sn_contrastive_pn_scratch_size(int B, int dim); /* floats: 4B^2 + 2B */
double sn_contrastive_pn_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                              float pos_margin, float neg_margin, int distance_kind,
                              float *scratch, size_t scratch_floats);
double sn_contrastive_pn_loss_ref(double *de, const double *e, const int32_t *lab, int B,
                                  int dim, double pos_margin, double neg_margin,
                                  int distance_kind, double *kink);

/* ------------------------------------------------------------ SupCon, NT-Xent */
/* S = cosine similarity, t = temperature > 0. Both return 0 (and a zero gradient) when
 * the batch has no positive pair or no negative pair, as PML.
 * SupCon (Khosla et al. 2020), PML SupConLoss: per anchor i with P_i >= 1 positives,
 *   L_i = log sum_{k != i} exp(S_ik/t) - (1/P_i) sum_{p in P_i} S_ip/t,
 *   L = mean of L_i over anchors with L_i > 0 (AvgNonZeroReducer).
 * NT-Xent (Chen et al. 2020 with labels), PML NTXentLoss: per ordered positive pair (a,p),
 *   l_ap = -log( exp(S_ap/t) / (exp(S_ap/t) + sum_{n: lab_n != lab_a} exp(S_an/t)) ),
 *   L = mean over ALL positive pairs (MeanReducer; a pair whose anchor has no negative
 *   has l = 0 and still counts). PML adds 1e-20 to the probability inside the log; that
 *   is omitted (it matters only for a probability below ~1e-15, where PML's l saturates
 *   near 46 and its gradient vanishes). Same scratch size as SupCon. */
size_t sn_supcon_scratch_size(int B, int dim); /* floats: 4B^2 + 2B */
double sn_supcon_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                      float temperature, float *scratch, size_t scratch_floats);
double sn_supcon_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                          double temperature, double *kink);
double sn_ntxent_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                      float temperature, float *scratch, size_t scratch_floats);
double sn_ntxent_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                          double temperature, double *kink);

/* ------------------------------------------------------------ proxy losses */
/* One proxy per class, W: (C,dim); e and W rows L2-normalised inside (a zero row has
 * cos = 0 and no gradient). cos_ic = e_i.W_c / (|e_i||W_c|), s = scale, m = margin.
 * Logits z_ic = s cos_ic for c != y_i; target logit z_iy:
 *   SN_PROXY_NORMSOFTMAX  s cos_iy              (Zhai & Wu 2018; PML NormalizedSoftmaxLoss
 *                                                with temperature = 1/s; m ignored)
 *   SN_PROXY_COSFACE      s (cos_iy - m)        (Wang et al. 2018; PML CosFaceLoss)
 *   SN_PROXY_ARCFACE      s cos(theta_iy + m),  theta = acos(clamp(cos, -1+1e-7, 1-1e-7))
 *                                               (Deng et al. 2019; PML ArcFaceLoss, same
 *                                                clamp: zero gradient outside it). m is in
 *                                                RADIANS (PML takes degrees: 28.6 deg = 0.5).
 *                                                No "easy margin" / theta + m > pi fix, as PML.
 *   SN_PROXY_SOFTMAX      a linear classifier head: z_ic = s e_i.W_c for every c, neither
 *                         e nor W normalised (torch Linear(dim, C, bias=False) times s; m
 *                         ignored). With --l2-normalize e is unit length upstream.
 * L = (1/B) sum_i cross-entropy(z_i, q_i) with label smoothing ls ("smooth", torch
 * CrossEntropyLoss(label_smoothing=ls)): q_ic = (1 - ls) [c == y_i] + ls / C; ls = 0 is
 * the plain one-hot target. Labels must lie in [0, C).
 * de (B,dim) OVERWRITTEN; dW (C,dim) ACCUMULATES (+=, a parameter gradient); either may be
 * NULL. sn_proxy_init: rows drawn N(0,1) then scaled to unit length (only directions
 * matter; unit rows make dW well scaled; PML's LargeMarginSoftmaxLoss draws N(0,1)). */
enum { SN_PROXY_NORMSOFTMAX = 0, SN_PROXY_COSFACE = 1, SN_PROXY_ARCFACE = 2, SN_PROXY_SOFTMAX = 3 };
size_t sn_proxy_scratch_size(int B, int dim, int C); /* floats: 2BC + 2B + 2C */
void sn_proxy_init(float *W, int C, int dim, sn_rng *rng);
double sn_proxy_loss(float *de, float *dW, const float *e, const float *W, const int32_t *lab,
                     int B, int dim, int C, int kind, float scale, float margin, float smooth,
                     float *scratch, size_t scratch_floats);
/* kink: distance of a target cosine to the ArcFace clamp (INFINITY for the other kinds). */
double sn_proxy_loss_ref(double *de, double *dW, const double *e, const double *W,
                         const int32_t *lab, int B, int dim, int C, int kind, double scale,
                         double margin, double smooth, double *kink);

/* ------------------------------------------------------------------ angular */
/* Angular loss (Wang et al. 2017), PML AngularLoss(alpha): with u = L2-normalised rows,
 * for every ordered positive pair (a,p) and negatives n of a:
 *   f_apn = 4 tan^2(alpha) (u_a + u_p).u_n - 2 (1 + tan^2(alpha)) u_a.u_p
 *   l_ap  = log(1 + sum_n exp(f_apn))
 * L = mean over all positive pairs (MeanReducer; an anchor without negatives gives l = 0,
 * still counted); 0 when the batch has no positive or no negative pair. alpha in degrees,
 * 0 < alpha < 90 (the paper uses 36..55, PML default 40). Computed from the cosine matrix:
 * f = 4 tan^2 (S_an + S_pn) - 2 (1 + tan^2) S_ap, i.e. every row is normalised, as in the
 * paper. (Not confirmed for every PML version whether the negative's row is normalised
 * too; with normalised input, as PML's default distance and simnet's trainer give, it is
 * the same loss.) */
size_t sn_angular_scratch_size(int B, int dim); /* floats: 4B^2 + 2B */
double sn_angular_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                       float alpha_deg, float *scratch, size_t scratch_floats);
double sn_angular_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                           double alpha_deg, double *kink);

/* ---------------------------------------------- selection-bias-corrected triplet */
/* "Adapted triplet loss" after Yu et al., "Correcting the triplet selection bias for
 * triplet loss", ECCV 2018: the loss on the selected (hard) triplets plus lambda times a
 * term matching the distribution of the samples the miner selected to that of the batch.
 * The paper's method section could not be retrieved here (abstract and introduction
 * only), so its exact equations are NOT confirmed; this is the first-moment (linear-kernel
 * MMD^2) form of that idea, as L_triplet + lambda L_match (docs/derivations.md says why):
 *   L_tri   = batch-hard triplet loss, exactly SN_MINER_HARD above (same ties / kinks);
 *   c_j     = how often sample j is chosen as a hardest positive or hardest negative;
 *   per class k with s_k = sum_{j in k} c_j > 0:
 *     mu_k^sel = sum_{j in k} c_j e_j / s_k,  mu_k = mean of e_j over class k in the batch;
 *   L_match = (1/K) sum_k ||mu_k^sel - mu_k||^2   (K = number of such classes)
 *   L       = L_tri + SN_TRIPLET_BC_LAMBDA * L_match.
 * The counts are constants (mining is not differentiated); L_match uses e as given (for
 * the cosine kind, pass normalised rows). Scratch independent of dim: L_match = sum_ij
 * M_ij (e e^T)_ij with M block-diagonal by class, and its gradient is 2 M e (one GEMM). */
#define SN_TRIPLET_BC_LAMBDA 1.0
size_t sn_triplet_bc_scratch_size(int B, int dim); /* floats: 4B^2 + 3B */
double sn_triplet_bc_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                          float margin, int distance_kind, float *scratch,
                          size_t scratch_floats);
double sn_triplet_bc_loss_ref(double *de, const double *e, const int32_t *lab, int B, int dim,
                              double margin, int distance_kind, double *kink);

/* ---------------------------------------------------- curriculum negatives */
/* Triplet loss with a hardness-controlled negative (after Appalaraju & Chaoji 2017, who
 * move from easy to hard negatives over training). For anchor a (with >= 1 positive),
 * order its n_neg negatives by D_an ascending (closest = hardest first), ties by lower
 * index first; take the negative at rank
 *   r = floor((1 - h)(n_neg - 1) + 0.5)          (round half up)
 * so h = 1 is the hardest (closest) negative and h = 0 the easiest (farthest). The same
 * negative serves every positive of a. l_ap = max(0, D_ap - D_an + margin);
 * L = mean over all positive pairs (a,p) whose anchor has a negative (zeros included).
 * h is clamped to [0,1] (NaN asserts). The trainer raises h from 0 to 1. */
size_t sn_triplet_curriculum_scratch_size(int B, int dim); /* floats: 3B^2 + 2B */
double sn_triplet_curriculum_loss(float *de, const float *e, const int32_t *lab, int B, int dim,
                                  float margin, int distance_kind, float hardness,
                                  float *scratch, size_t scratch_floats);
double sn_triplet_curriculum_loss_ref(double *de, const double *e, const int32_t *lab, int B,
                                      int dim, double margin, int distance_kind,
                                      double hardness, double *kink);

#endif
