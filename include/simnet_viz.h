/*
 * simnet_viz.h -- public API of libsimnet, module "viz": SEEING what a model does.
 *
 *   figures   PNG plots and image sheets of a model (embedding map, training curves,
 *             ROC, distance histogram, pairs grid, retrieval sheet), drawn with cairo
 *   saliency  which pixels make two images alike (gradient and occlusion maps) and the
 *             figure that overlays them on the images
 *
 * Why a module header and not simnet.h: simnet.h is the core every program needs
 * (context, datasets, models, training, evaluation, gallery). Figures and saliency maps
 * are for people looking at a model, not for programs using it, so they are kept apart
 * to keep the core header small; they follow its conventions (sn_ prefix, sn_status with
 * the message in sn_ctx_error(ctx), no printing, no exit). The saliency maps are here,
 * not in simnet.h, because their only use is to be drawn. Include as <simnet_viz.h>; it
 * includes simnet.h itself. .npy files, dataset fetch and set distances: simnet_io.h.
 *
 * Figures: every figure is one function that takes plain arrays and an output path and
 * returns a status; failures name the file and what was wrong. Files are written
 * atomically: PATH.tmp.PID is written, fsynced and closed, then renamed to PATH, so a
 * failure leaves no partial PNG (and the previous PATH, if any, survives). Images are
 * uint8 (C,H,W) with C = 1 (grey) or 3 (RGB), as in sn_dataset. Thumbnails are drawn
 * with an integer nearest-neighbour scale s = max(1, 96 / max(H, W)) (images larger than
 * 96 px are shrunk to fit 96 px, smoothly). The plots (embedding map, training curves,
 * ROC, histogram) are SN_VIZ_PLOT_W x SN_VIZ_PLOT_H pixels; the image sheets grow with
 * their content. Class colours are tab20's, reused cyclically beyond 20 classes.
 * cairo and fontconfig keep process-wide font caches: see sn_viz_release_caches.
 */
#ifndef SIMNET_VIZ_H
#define SIMNET_VIZ_H

#include "simnet.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SN_VIZ_PLOT_W 960
#define SN_VIZ_PLOT_H 720

/* ---------------------------------------------------------------- figures */
/* One epoch of a training log. test_loss is NaN when the log has null. */
typedef struct {
    int epoch;
    double train_loss, test_loss;
} sn_viz_epoch;

/* Read the {"event":"epoch",...} lines of a JSON-lines training log (written by
 * sn_train, sn_train_config.log_path). Tolerant: other lines and unknown keys are
 * ignored, a line counts if it has "epoch": and a finite "train_loss":. *out is
 * malloc'd (caller frees with free(); NULL when *n == 0). Errors: SN_ERR_IO (cannot
 * open, naming the file), SN_ERR_NOMEM. */
SN_API sn_status sn_viz_read_training_log(sn_ctx *ctx, const char *log_path, sn_viz_epoch **out,
                                          int *n);

/* Training curves: train and test loss against epoch (test points with NaN are
 * skipped), axes with ticks, legend. ep: (n), n >= 1 (else SN_ERR_ARG). */
SN_API sn_status sn_viz_training_curves(sn_ctx *ctx, const char *path, const sn_viz_epoch *ep,
                                        int n);

/* Embedding map: emb (n, dim) in 2-D, points coloured by label (0..n_classes-1), a legend
 * with class_names (NULL: the class numbers) outside the plot area. dim > 2 is projected
 * on the top-2 principal components (covariance + LAPACK dsyev, sign fixed so that the
 * largest-|.| loading is positive); dim == 1 uses y = 0. images (n, c, h, w) or NULL:
 * thumbs_per_class thumbnails per class (the first ones of each class) are drawn at
 * their points, framed in the class colour. n >= 1, 1 <= n_classes <= 1000, labels in
 * range (else SN_ERR_ARG); non-finite embeddings: SN_ERR_NUMERIC. */
SN_API sn_status sn_viz_embedding_map(sn_ctx *ctx, const char *path, const float *emb, int n,
                                      int dim, const int32_t *labels, int n_classes,
                                      const char (*class_names)[64], const uint8_t *images,
                                      int c, int h, int w, int thumbs_per_class);

/* ROC curve of "same iff dist <= t" over all t (TAR against FAR), AUC in the title, the
 * EER point marked; the chance diagonal for reference. dist, same: (n), n >= 2 with both
 * same and different pairs (else SN_ERR_ARG); non-finite distances: SN_ERR_NUMERIC. */
SN_API sn_status sn_viz_roc(sn_ctx *ctx, const char *path, const float *dist,
                            const uint8_t *same, int n);

/* Histograms of the distances of same (positive) and different (negative) pairs, on
 * shared bins, as densities; threshold > 0 is drawn as a vertical line. Arguments as
 * sn_viz_roc. */
SN_API sn_status sn_viz_distance_hist(sn_ctx *ctx, const char *path, const float *dist,
                                      const uint8_t *same, int n, double threshold);

/* Pairs grid: n pairs a[i] | b[i] side by side, each with its similarity score and the
 * decision ("same" / "different") as text; the border is green when the decision equals
 * the truth, red when not. a, b: (n, c, h, w); score, decided_same, truly_same: (n).
 * threshold (> 0) is printed in the title (0: not shown). 1 <= n <= 256. */
SN_API sn_status sn_viz_pairs_grid(sn_ctx *ctx, const char *path, const uint8_t *a,
                                   const uint8_t *b, int n, int c, int h, int w,
                                   const float *score, const uint8_t *decided_same,
                                   const uint8_t *truly_same, double threshold);

/* Retrieval sheet: one row per query, the query image then its k nearest neighbours
 * (nbr: (nq, k) indices into images), each neighbour framed green if its label equals
 * the query's, red if not. images (n_images, c, h, w), labels (n_images), query (nq);
 * an index outside 0..n_images-1 is SN_ERR_ARG. */
SN_API sn_status sn_viz_retrieval_sheet(sn_ctx *ctx, const char *path, const uint8_t *images,
                                        const int32_t *labels, int n_images, int c, int h,
                                        int w, const int *query, int nq, const int *nbr, int k);

/* Free the process-wide font caches of cairo and fontconfig (they are otherwise kept
 * until exit and reported by leak checkers): cairo_debug_reset_static_data + FcFini.
 * Call only when no cairo object is alive anywhere in the process, e.g. before exit;
 * later figures rebuild the caches. */
SN_API void sn_viz_release_caches(void);

/* --------------------------------------------------------------- saliency */
/* Saliency maps of a pair of images A, B (uint8 (C,H,W) at the model's input shape; one
 * map per image of H*W floats, row-major, summed over channels). Everything runs in eval
 * mode: batch norm uses its running statistics, so a map depends only on the two images,
 * never on a batch. Distance: d(A,B) = ||f(A) - f(B)||_2, f the model's embedding.
 *
 * Gradient saliency:
 *   sal_A(p) = sum_c | d d(A,B) / d xA(c,p) |,  likewise B,
 * where x is the NORMALISED input ((pixel/255 - mean[c]) / std[c]); multiply by
 * 1/(255*std[c]) for the gradient per grey level. The backward pass is the eval-mode one
 * (a batch-norm layer is then the per-channel affine map of its running statistics).
 * When d(A,B) = 0 (e.g. identical images) the distance is not differentiable; both maps
 * are then all zeros.
 *
 * Occlusion: a patch x patch square, set to normalised 0 (the dataset mean, i.e. "grey")
 * in every channel, slides over A with stride max(1, patch/2) (the last row / column of
 * positions is moved flush with the border so every pixel is covered); for each
 * position P:
 *   delta(P) = d(A with P occluded, B) - d(A, B),
 *   occ_A(p) = mean of delta(P) over the positions P whose square covers p,
 * and the same for B with A fixed. Positive = hiding this region makes the two images
 * less alike, i.e. it mattered for their similarity; negative = hiding it makes them
 * more alike.
 *
 * The model's parameters and batch-norm statistics do not change; its activation
 * buffers may grow. Errors: SN_ERR_ARG (a NULL argument, patch outside 1..min(H,W)),
 * SN_ERR_NUMERIC (non-finite distance), SN_ERR_NOMEM. */

/* imgA, imgB: (C,H,W) uint8; salA, salB: (H,W) out; *dist = d(A,B) (dist may be NULL). */
SN_API sn_status sn_explain_gradient_dist(sn_ctx *ctx, sn_model *m, const uint8_t *imgA,
                                          const uint8_t *imgB, float *salA, float *salB,
                                          double *dist);
/* imgA, imgB: (C,H,W) uint8; patch: 1 .. min(H,W); occA, occB: (H,W) out. */
SN_API sn_status sn_explain_occlusion(sn_ctx *ctx, sn_model *m, const uint8_t *imgA,
                                      const uint8_t *imgB, int patch, float *occA, float *occB);

/* The figure of `simnet explain`: two images with their saliency maps overlaid.
 * Panels of T = s*W by s*H, s = floor(224 / max(H, W)) nearest-neighbour (so 28x28 ->
 * 224x224, 32x32 -> 224x224), or a smooth shrink to 224 px for larger images. Two
 * columns (A, B) and rows:
 *   1  the images as given
 *   2  gradient saliency over the image: inferno-like colour map, 0 .. max over BOTH maps
 *      (one scale, so A and B are comparable), alpha 0.35 + 0.55 * v
 *   3  (only when occ[] is given) occlusion maps: diverging blue (negative: hiding the
 *      region makes the pair MORE alike) - white - red (positive: it mattered for the
 *      similarity), alpha 0.85 * |v|, symmetric scale +-max|occ| over both maps
 * A header states the distance, the similarity score and the decision at the threshold;
 * each overlay row has a colour bar with its scale on the right. POD: zero-initialise,
 * then set the fields. */
typedef struct {
    int c, h, w;               /* image shape, c = 1 (grey) or 3 (RGB) */
    const uint8_t *img[2];     /* A, B: (c, h, w) */
    const float *sal[2];       /* gradient saliency of A, B: (h, w), >= 0 */
    const float *occ[2];       /* occlusion maps (h, w), or both NULL: no occlusion row */
    int patch;                 /* occlusion patch size (caption) */
    const char *name[2];       /* captions under the images (e.g. file names), may be NULL */
    double distance, score;    /* d(A,B) and sn_similarity_score(d, threshold) */
    double threshold;          /* > 0: the decision is shown; 0: not calibrated */
} sn_saliency_figure;

/* Draw f and write the PNG to path (atomically). Errors name the file: SN_ERR_ARG (bad
 * shape / NULL maps, path too long), SN_ERR_IO (cannot write), SN_ERR_NOMEM. */
SN_API sn_status sn_viz_saliency(sn_ctx *ctx, const char *path, const sn_saliency_figure *f);

#ifdef __cplusplus
}
#endif
#endif
