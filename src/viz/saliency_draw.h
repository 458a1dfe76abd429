/*
 * saliency_draw.h -- the figure of `simnet explain`: two images with their saliency maps
 * (src/nn/explain.h) overlaid, drawn with cairo.
 *
 * Layout (pixels): panels of T = s*W by s*H, s = floor(224 / max(H, W)) nearest-neighbour
 * (so 28x28 -> 224x224, 32x32 -> 224x224), or a smooth shrink to 224 px for larger
 * images. Two columns (A, B) and rows:
 *   1  the images as given
 *   2  gradient saliency over the image: inferno-like colour map, 0 .. max over BOTH maps
 *      (one scale, so A and B are comparable), alpha 0.35 + 0.55 * v
 *   3  (only when occ[] is given) occlusion maps: diverging blue (negative: hiding the
 *      region makes the pair MORE alike) - white - red (positive: it mattered for the
 *      similarity), alpha 0.85 * |v|, symmetric scale +-max|occ| over both maps
 * A header states the distance, the similarity score and the decision at the threshold;
 * each overlay row has a colour bar with its scale on the right.
 * The PNG is written atomically (PATH.tmp.PID, fsync, rename): a failure leaves no file.
 * The font caches cairo keeps are freed by sn_viz_release_caches (viz.h).
 */
#ifndef SN_VIZ_SALIENCY_DRAW_H
#define SN_VIZ_SALIENCY_DRAW_H

#include "simnet.h"

#include <stdint.h>

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

/* Exact pixel size of the figure. */
void sn_viz_saliency_size(const sn_saliency_figure *f, int *width, int *height);
/* Draw and write the PNG. Errors name the file: SN_ERR_ARG (bad shape / NULL maps),
 * SN_ERR_IO (cannot write), SN_ERR_NOMEM. */
sn_status sn_viz_saliency(sn_ctx *ctx, const char *path, const sn_saliency_figure *f);

#endif
