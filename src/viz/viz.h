/* viz.h -- PNG figures of a similarity model, drawn with cairo (private to libsimnet;
 * the CLI's `simnet figures` and --figures use it).
 *
 * Every figure is one function that takes plain arrays and an output path and returns
 * a status; failures name the file and what was wrong (message in sn_ctx_error(ctx)).
 * Files are written atomically: PATH.tmp.PID is written and closed, then renamed to
 * PATH, so a failure leaves no partial PNG (and the previous PATH, if any, survives).
 * Images are uint8 (C,H,W) with C = 1 (grey) or 3 (RGB), as in sn_dataset. Thumbnails are
 * drawn with an integer nearest-neighbour scale s = max(1, 96 / max(H, W)) (images
 * larger than 96 px are shrunk to fit 96 px, smoothly).
 *
 * Sizes (pixels): the plots (embedding map, training curves, ROC, histogram) are
 * SN_VIZ_PLOT_W x SN_VIZ_PLOT_H; the image sheets grow with their content, exactly as
 * sn_viz_pairs_grid_size and sn_viz_retrieval_sheet_size say.
 */
#ifndef SN_VIZ_H
#define SN_VIZ_H

#include "simnet.h"

#include <stdint.h>

#define SN_VIZ_PLOT_W 960
#define SN_VIZ_PLOT_H 720
/* Colours for up to this many classes (tab20); more classes reuse them cyclically. */
#define SN_VIZ_MAX_COLOURS 20

/* One epoch of a training log. test_loss is NaN when the log has null. */
typedef struct {
    int epoch;
    double train_loss, test_loss;
} sn_viz_epoch;

/* Read the {"event":"epoch",...} lines of a JSON-lines training log (written by
 * sn_train). Tolerant: other lines and unknown keys are ignored, a line counts if it
 * has "epoch": and a finite "train_loss":. *out (malloc'd, caller frees; NULL when
 * *n == 0). Errors: SN_ERR_IO (cannot open, naming the file), SN_ERR_NOMEM. */
sn_status sn_viz_read_training_log(sn_ctx *ctx, const char *log_path, sn_viz_epoch **out,
                                   int *n);

/* Pairs grid: n pairs a[i] | b[i] side by side, each with its similarity score and the
 * decision ("same" / "different") as text; the border is green when the decision equals
 * the truth, red when not. a, b: (n, c, h, w); score, decided_same, truly_same: (n).
 * threshold (> 0) is printed in the title (0: not shown). 1 <= n <= 256. */
sn_status sn_viz_pairs_grid(sn_ctx *ctx, const char *path, const uint8_t *a, const uint8_t *b,
                            int n, int c, int h, int w, const float *score,
                            const uint8_t *decided_same, const uint8_t *truly_same,
                            double threshold);
/* Exact pixel size of the pairs grid for n pairs of h x w images. */
void sn_viz_pairs_grid_size(int n, int h, int w, int *width, int *height);

/* Embedding map: emb (n, dim) in 2-D, points coloured by label (0..n_classes-1), a legend
 * with class_names (NULL: the class numbers) outside the plot area. dim > 2 is projected
 * on the top-2 principal components (covariance + LAPACK dsyev); dim == 1 uses y = 0.
 * images (n, c, h, w) or NULL: thumbs_per_class thumbnails per class (the first ones of
 * each class) are drawn at their points, framed in the class colour. Size
 * SN_VIZ_PLOT_W x SN_VIZ_PLOT_H. n >= 1, 1 <= n_classes <= 1000. */
sn_status sn_viz_embedding_map(sn_ctx *ctx, const char *path, const float *emb, int n, int dim,
                               const int32_t *labels, int n_classes,
                               const char (*class_names)[64], const uint8_t *images, int c,
                               int h, int w, int thumbs_per_class);
/* The PCA used above: proj (n, 2) = centred emb times the top-2 eigenvectors of the
 * covariance (sign fixed so that the largest-|.| loading is positive). For dim == 1
 * proj = (x - mean, 0); dim == 2: centred coordinates. */
sn_status sn_viz_pca2(sn_ctx *ctx, const float *emb, int n, int dim, double *proj);

/* Training curves: train and test loss against epoch (test points with NaN are
 * skipped), axes with ticks, legend. n >= 1. Size SN_VIZ_PLOT_W x SN_VIZ_PLOT_H. */
sn_status sn_viz_training_curves(sn_ctx *ctx, const char *path, const sn_viz_epoch *ep, int n);

/* ROC curve of "same iff dist <= t" over all t (TAR against FAR), AUC in the title, the
 * EER point marked; the chance diagonal for reference. dist, same: (n), needs both
 * classes. Size SN_VIZ_PLOT_W x SN_VIZ_PLOT_H. */
sn_status sn_viz_roc(sn_ctx *ctx, const char *path, const float *dist, const uint8_t *same,
                     int n);

/* Histograms of the distances of same (positive) and different (negative) pairs, on
 * shared bins, as densities; threshold > 0 is drawn as a vertical line. */
sn_status sn_viz_distance_hist(sn_ctx *ctx, const char *path, const float *dist,
                               const uint8_t *same, int n, double threshold);

/* Retrieval sheet: one row per query, the query image then its k nearest neighbours
 * (nbr: (nq, k) indices into images), each neighbour framed green if its label equals
 * the query's, red if not. images (n_images, c, h, w), labels (n_images), query (nq). */
sn_status sn_viz_retrieval_sheet(sn_ctx *ctx, const char *path, const uint8_t *images,
                                 const int32_t *labels, int n_images, int c, int h, int w,
                                 const int *query, int nq, const int *nbr, int k);
/* Exact pixel size of the retrieval sheet. */
void sn_viz_retrieval_sheet_size(int nq, int k, int h, int w, int *width, int *height);

/* Free the process-wide font caches of cairo and fontconfig (they are otherwise kept
 * until exit and reported by leak checkers): cairo_debug_reset_static_data + FcFini.
 * Call only when no cairo object is alive anywhere in the process, e.g. before exit;
 * later figures rebuild the caches. */
void sn_viz_release_caches(void);

#endif
