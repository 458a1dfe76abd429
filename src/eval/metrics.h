/*
 * metrics.h -- evaluation metrics for similarity embeddings (private to libsimnet).
 *
 * Verification metrics (sn_metric_roc_auc .. sn_metric_tar_at_far) score n pairs:
 *   dist: (n) distance of pair i; smaller = more similar. Must not contain NaN.
 *   same: (n) nonzero if pair i is same-class ("positive"), 0 otherwise.
 * They return NaN when the input is unusable (n < 1, a NaN distance, a needed class
 * absent) or when the O(n) sort buffer cannot be allocated; they never print or exit.
 *
 * ROC convention used throughout: the decision "same iff dist <= t". Sorting the
 * distinct distances d_1 < ... < d_G gives the ROC points
 *   k = 0:        accept nothing, (FAR, TAR) = (0, 0)
 *   k = 1..G:     accept dist <= d_k, FAR = FP_k / N, TAR = TP_k / P
 * (P = number of same pairs, N = number of different pairs). This is exactly
 * sklearn.metrics.roc_curve(same, -dist, drop_intermediate=False).
 *
 * Retrieval / k-NN metrics work on embeddings (row-major float32) with Euclidean
 * distance, computed in tiles with sn_gemm_f32 as ||q||^2 + ||r||^2 - 2 q.r (clamped at
 * 0). Neighbours are ordered by (distance, index): equal distances are broken by the
 * smaller reference index (stable). Embeddings must be finite (SN_ERR_NUMERIC otherwise).
 *
 * Threading: `nt` >= 1 OpenMP threads. Queries are processed in fixed tiles of
 * SN_METRIC_TILE rows (one GEMM per tile) and per-query results are summed in query
 * order, so results are bit-identical for every nt.
 *
 * Memory bound (retrieval, k-NN, DIR@FAR, k-means assignment), with nr = number of
 * references (k-means: k centroids):
 *   nt * SN_METRIC_TILE * nr * 4 bytes   distance tiles (one per thread)
 * + nt * (nr + SN_METRIC_SAMPLE [+ k for k-NN]) * 8 bytes   per-thread selection keys
 * + O(nq + nr) for norms, label tables and per-query results (<= 32 bytes per item).
 * E.g. n = 60,000, nt = 2: 2*64*60000*4 + 2*60512*8 + 60000*32 ~= 34 MB (never n^2).
 * Per query the k nearest (k = R, or k for k-NN) are kept by sn_metric_topk_u64:
 * O(nr) expected plus O(k log k) (radix sort when k >= 256).
 * Calls sn_gemm_init() (BLAS single-threaded; our threads split the queries).
 *
 * Exact definitions, tie rules and citations of every metric: docs/metrics.md.
 */
#ifndef SN_EVAL_METRICS_H
#define SN_EVAL_METRICS_H

#include "simnet.h"

#include <stddef.h>
#include <stdint.h>

/* Queries per distance tile (rows of one GEMM). */
#define SN_METRIC_TILE 64

/* ------------------------------------------------------------ verification */

/* Area under the ROC curve of score = -dist: the fraction of (same, different) pair
 * combinations where the same pair has the smaller distance, ties counting 1/2
 * (= sklearn roc_auc_score(same, -dist)). NaN if P == 0 or N == 0. */
double sn_metric_roc_auc(const float *dist, const uint8_t *same, int n);

/* Equal error rate: the point on the piecewise-linear ROC (points above) where
 * FAR = FRR (= 1 - TAR). With k the first ROC point where FAR_k >= FRR_k, the value is
 * interpolated linearly between points k-1 and k:
 *   s = -f_{k-1} / (f_k - f_{k-1}),  f = FAR - FRR,  EER = FAR_{k-1} + s (FAR_k - FAR_{k-1})
 * which is the usual brentq(1 - x - interp1d(fpr, tpr)(x)) definition, evaluated exactly.
 * *threshold (may be NULL) is the distance there: d_{k-1} + s (d_k - d_{k-1}), or d_1 when
 * k == 1 (point 0 has no distance). NaN (and threshold NaN) if P == 0 or N == 0. */
double sn_metric_eer(const float *dist, const uint8_t *same, int n, double *threshold);

/* Fraction of pairs classified correctly by "same iff dist <= threshold".
 * NaN if n < 1 or a distance is NaN. */
double sn_metric_accuracy_at(const float *dist, const uint8_t *same, int n, double threshold);

/* Maximum accuracy over all thresholds (one sort, O(n log n)). Candidates are
 * "accept nothing" and "accept dist <= d_k" for k = 1..G; among equal accuracies the
 * smallest threshold wins. *threshold (may be NULL) is the midpoint (d_k + d_{k+1}) / 2
 * between the accepted and the next distinct distance; d_G when everything is
 * accepted; the largest double below d_1 when nothing is. Needs only n >= 1. */
double sn_metric_best_accuracy(const float *dist, const uint8_t *same, int n,
                               double *threshold);

/* True accept rate TP_k / P at the largest ROC point k (threshold d_k, or "accept
 * nothing") whose false accept rate FP_k / N <= far. NaN if P == 0, N == 0 or far is NaN. */
double sn_metric_tar_at_far(const float *dist, const uint8_t *same, int n, double far);

/* The five metrics above from one sort of the pairs (the double helpers give NaN when
 * they cannot allocate; this says so). SN_ERR_NOMEM when the sort buffers cannot be
 * allocated; SN_OK with every field NaN on a NaN distance or n < 1. */
typedef struct {
    double roc_auc, eer, eer_threshold, tar_at_far_1e2, tar_at_far_1e3;
    double best_accuracy, best_threshold;
} sn_verify_metrics;
sn_status sn_metric_verification(sn_ctx *ctx, const float *dist, const uint8_t *same, int n,
                                 sn_verify_metrics *v);

/* --------------------------------------------------------------- retrieval */

/* Retrieval with queries = references = the n embeddings emb (n, dim), self excluded,
 * as pytorch-metric-learning's AccuracyCalculator (avg over queries, not over classes).
 * For query q with label L, R = number of OTHER items with label L, and neighbours
 * ordered by (distance, index):
 *   precision_at_1   mean of [label of the nearest neighbour == L]
 *   r_precision      mean of (number of label-L items among the R nearest) / R
 *   map_at_r         mean of (1/R) sum_{i=1..R} P(i) rel(i) over the R nearest, where
 *                    rel(i) = [i-th neighbour has label L], P(i) = (sum_{j<=i} rel(j)) / i
 * Queries whose label has no other member (R = 0) are skipped, as PML does; if every
 * query is skipped the three outputs are NaN (status SN_OK). Labels are arbitrary int32.
 * Outputs may be NULL. Errors: SN_ERR_ARG (n < 2, dim < 1, nt < 1, NULL emb/labels),
 * SN_ERR_NUMERIC (non-finite embedding), SN_ERR_NOMEM. */
sn_status sn_metric_retrieval(sn_ctx *ctx, const float *emb, const int32_t *labels, int n,
                              int dim, int nt, double *precision_at_1, double *r_precision,
                              double *map_at_r);

/* Result of sn_metric_retrieval_ex. All rates are means over the n_queries queries that
 * have R >= 1 (NaN when n_queries == 0). */
typedef struct {
    double precision_at_1; /* nearest reference has the query's label */
    double r_precision;    /* (same-label among the R nearest) / R */
    double map_at_r;       /* MAP@R as in sn_metric_retrieval */
    double recall_at_1;    /* >= 1 same-label reference among the k nearest, k = 1, 5, 10 */
    double recall_at_5;
    double recall_at_10;
    int n_queries;         /* queries counted (R >= 1) */
} sn_retrieval_result;

/* Retrieval of queries q (nq, dim) with labels qlab against references ref (nr, dim)
 * with labels rlab. Neighbours of a query are the references ordered by (distance,
 * reference index). R = number of references with the query's label, minus one (the
 * query itself) when exclude_self. The metrics of sn_metric_retrieval, plus
 *   recall_at_k   mean of [some of the k nearest references has label L]   (k = 1, 5, 10;
 *                 all references when fewer than k) -- "Recall@K" of Oh Song et al. 2016.
 * precision_at_1 == recall_at_1 by definition (both are computed).
 * exclude_self = 0: q and ref are separate sets (a query equal to a reference is NOT
 * removed). exclude_self = 1: requires q == ref, qlab == rlab, nq == nr (the same
 * arrays); query i never retrieves reference i -- exactly sn_metric_retrieval.
 * Queries with R = 0 (label absent from the references) are skipped for all six
 * metrics and not counted in n_queries; all skipped -> NaN, status SN_OK.
 * Errors: SN_ERR_ARG (NULL array or out, nq < 1, nr < 1, dim < 1, nt < 1, exclude_self
 * not 0/1, exclude_self with different arrays), SN_ERR_NUMERIC (non-finite
 * embedding), SN_ERR_NOMEM. On error *out holds NaN rates and n_queries = 0. */
sn_status sn_metric_retrieval_ex(sn_ctx *ctx, const float *q, const int32_t *qlab, int nq,
                                 const float *ref, const int32_t *rlab, int nr, int dim,
                                 int exclude_self, int nt, sn_retrieval_result *out);
/* With an explicit tile size (>= 1), for tests. */
sn_status sn_metric_retrieval_ex_tiled(sn_ctx *ctx, const float *q, const int32_t *qlab,
                                       int nq, const float *ref, const int32_t *rlab, int nr,
                                       int dim, int exclude_self, int nt, int tile,
                                       sn_retrieval_result *out);

/* Same as sn_metric_retrieval with an explicit tile size (queries per GEMM, >= 1);
 * results do not depend on it except through GEMM rounding (exact for small-integer
 * data). For tests. */
sn_status sn_metric_retrieval_tiled(sn_ctx *ctx, const float *emb, const int32_t *labels,
                                    int n, int dim, int nt, int tile, double *precision_at_1,
                                    double *r_precision, double *map_at_r);

/* k-NN classification accuracy of queries q (nq, dim) with labels qlab against a
 * separate reference set ref (nr, dim) with labels rlab: each query takes the majority
 * label among its k nearest references (ordered by (distance, index)); a tie in votes
 * goes to the label with the smaller total Euclidean distance (sum of sqrt of the
 * squared distances, in neighbour order), then to the smaller label.
 * *accuracy = correct / nq. Errors: SN_ERR_ARG (nq < 1, nr < 1, dim < 1, k < 1, k > nr,
 * nt < 1, NULL pointer), SN_ERR_NUMERIC (non-finite embedding), SN_ERR_NOMEM. */
sn_status sn_metric_knn_accuracy(sn_ctx *ctx, const float *q, const int32_t *qlab, int nq,
                                 const float *ref, const int32_t *rlab, int nr, int dim, int k,
                                 int nt, double *accuracy);
sn_status sn_metric_knn_accuracy_tiled(sn_ctx *ctx, const float *q, const int32_t *qlab,
                                       int nq, const float *ref, const int32_t *rlab, int nr,
                                       int dim, int k, int nt, int tile, double *accuracy);

/* Database-side augmentation (DBA; Arandjelovic & Zisserman 2012, Gordo et al. 2017):
 * out (nq, dim) row i = the mean of q_i and its k-1 nearest references (Euclidean, ties
 * by index, summed nearest first in double); self = 1 when q is ref (nq == nr) and q_i's
 * own row is not its neighbour. When every input row has unit norm (an L2-normalised
 * model), the outputs are scaled back to unit norm. k = 1 copies q. Same memory bound as
 * the retrieval metrics (tiles, never nq x nr). out must not alias q or ref. */
sn_status sn_metric_dba(sn_ctx *ctx, const float *q, int nq, const float *ref, int nr, int dim,
                        int k, int self, int nt, float *out);

/* ---------------------------------------------------- open-set identification */

/* Detection and identification rate at a false accept rate (open-set 1:N search, the
 * FRVT "FPIR / FNIR" protocol of Grother et al. with rank 1).
 * gallery (ng, dim), glab: enrolled images and their identities.
 * probe (np, dim), plab, known: probe i is a "mate" search (its identity is enrolled) if
 * known[i] != 0, a "non-mate" search otherwise (plab of non-mates is ignored).
 * Score s_i = Euclidean distance to the nearest gallery item g(i) (ties: smaller index).
 * Decision at threshold t: "accept iff s_i <= t". With U the non-mate probes,
 *   FAR(t) = |{u in U : s_u <= t}| / |U|.
 * *threshold = the LARGEST t with FAR(t) <= far: with v the smallest non-mate score
 * such that |{u : s_u <= v}| / |U| > far (ties enter together), t = the largest double
 * below v; +INFINITY when no such v exists (e.g. far = 1).
 *   *dir = |{known i : glab[g(i)] == plab[i] and s_i <= t}| / |{known i}|.
 * Errors: SN_ERR_ARG (NULL array, ng < 1, np < 1, dim < 1, nt < 1, far NaN or outside
 * [0, 1], no known or no unknown probe), SN_ERR_NUMERIC, SN_ERR_NOMEM.
 * Outputs may be NULL; NaN on error. */
sn_status sn_metric_dir_at_far(sn_ctx *ctx, const float *gallery, const int32_t *glab, int ng,
                               const float *probe, const int32_t *plab, const uint8_t *known,
                               int np, int dim, double far, int nt, double *dir,
                               double *threshold);

/* -------------------------------------------------------------- clustering */

/* NMI and AMI of two labelings a, b (n) of the same items, natural logs, arithmetic-mean
 * normalisation, as sklearn normalized_mutual_info_score / adjusted_mutual_info_score
 * (average_method="arithmetic"):
 *   MI  = sum_ij (n_ij / n) log(n n_ij / (a_i b_j))  (terms below DBL_EPSILON dropped,
 *         clipped at 0; 0 if either labeling has one cluster)
 *   H   = -sum_i (a_i / n) log(a_i / n)
 *   NMI = MI / ((H_a + H_b) / 2)   (0 if MI == 0)
 *   AMI = (MI - EMI) / ((H_a + H_b) / 2 - EMI), denominator clamped away from 0 by
 *         DBL_EPSILON keeping its sign; EMI = expected MI under the hypergeometric model
 *         (Vinh, Epps & Bailey 2010), exact sum with lgamma.
 * Both labelings with a single cluster: NMI = AMI = 1. Labels are arbitrary int32.
 * Cost O(n log n + sum_ij min(a_i, b_j)), memory O(n).
 * Errors (no ctx, so no message): SN_ERR_ARG (NULL a/b, n < 1), SN_ERR_NOMEM. */
sn_status sn_metric_nmi_ami(const int32_t *a, const int32_t *b, int n, double *nmi,
                            double *ami);

/* k-means clustering of x (n, dim) into k clusters, scored against the labels lab (n)
 * with sn_metric_nmi_ami(lab, assignment).
 * Init: k-means++ (Arthur & Vassilvitskii 2007) from sn_rng(seed): first centre uniform,
 * each next one drawn with probability proportional to the squared distance to the
 * nearest chosen centre (in double; if all those are 0, uniform).
 * Lloyd: assign every point to the nearest centre (GEMM distances in tiles of
 * SN_METRIC_TILE points; ties: smaller centre index), recompute centres as means (in
 * double, point order; an empty cluster keeps its centre), until no assignment changes
 * or 100 update steps. Deterministic for a seed and independent of nt.
 * Outputs may be NULL. Errors: SN_ERR_ARG (NULL x/lab, n < 1, dim < 1, k < 1, k > n,
 * nt < 1), SN_ERR_NUMERIC, SN_ERR_NOMEM. */
sn_status sn_metric_clustering(sn_ctx *ctx, const float *x, const int32_t *lab, int n,
                               int dim, int k, uint64_t seed, int nt, double *nmi,
                               double *ami);

/* ---------------------------------------------------------------- few-shot */

/* N-way K-shot episodes (prototypical networks, Snell et al. 2017) on embeddings
 * x (n, dim) with labels lab. Eligible classes: those with >= k_shot + 1 items.
 * Episode e uses its own sn_rng stream (seed, e): draw n_way distinct eligible classes;
 * per class draw, without replacement, k_shot support items and then
 * min(n_query, count - k_shot) query items. Prototype = mean of the support embeddings
 * (in double; for k_shot = 1 the support itself); a query is correct if its nearest
 * prototype (squared Euclidean; ties: the smaller label) is its own class.
 * acc_e = correct / queries in episode e;
 *   *mean_acc = mean_e acc_e,  *ci95 = 1.96 * std_e(acc_e) / sqrt(episodes)
 * with the population std (ddof = 0), as the usual few-shot evaluation code.
 * Episodes run in parallel on ctx's threads (1 if ctx is NULL); results do not depend on
 * the thread count. Outputs may be NULL.
 * Errors: SN_ERR_ARG (NULL x/lab, n < 1, dim < 1, n_way < 2, k_shot < 1, n_query < 1,
 * episodes < 1, fewer than n_way eligible classes), SN_ERR_NUMERIC, SN_ERR_NOMEM. */
sn_status sn_metric_fewshot(sn_ctx *ctx, const float *x, const int32_t *lab, int n, int dim,
                            int n_way, int k_shot, int n_query, int episodes, uint64_t seed,
                            double *mean_acc, double *ci95);

/* ------------------------------------------------------- helpers (internal) */

/* Squared L2 norms of the rows of x (n, dim), accumulated in double. */
void sn_metric_row_sqnorms(float *out, const float *x, int n, int dim);
/* 1 if all n values are finite. */
int sn_metric_all_finite(const float *x, size_t n);

/* Ascending in-place sort of n uint64 keys (introsort). */
void sn_metric_sort_u64(uint64_t *a, size_t n);
/* Partial selection: afterwards a[0..k-1] are the k smallest keys (unordered) and
 * a[k..n-1] the rest. 0 <= k <= n. Worst case O(n log n). */
void sn_metric_select_u64(uint64_t *a, size_t n, size_t k);
/* Leave the k smallest of a[0..n-1] sorted ascending in a[0..k-1] (the rest permuted).
 * Quickselect over all n keys is dominated by branch misses, so for 4k < n and
 * n >= 2 * SN_METRIC_SAMPLE a strided sample of SN_METRIC_SAMPLE keys gives a bound that
 * is above the k-th smallest with high probability, one branchless pass moves the keys
 * below it to the front, and the selection runs on those only; an unlucky sample falls
 * back to selecting over all n. sample: (SN_METRIC_SAMPLE) scratch. */
#define SN_METRIC_SAMPLE 512
void sn_metric_topk_u64(uint64_t *a, size_t n, size_t k, uint64_t *sample);
/* Order-preserving map of a float (not NaN, -0 == +0) to uint32. */
uint32_t sn_metric_float_key(float x);

#endif
