/* viz.h -- private part of the figures (src/viz/). The figures themselves are public:
 * include/simnet_viz.h (declarations, sizes, file-writing rules). Declared here only what
 * the library and its tests use beyond that: the exact sizes of the image sheets, the PCA
 * of the embedding map, the number of class colours. */
#ifndef SN_VIZ_H
#define SN_VIZ_H

#include "simnet_viz.h"

/* Colours for up to this many classes (tab20); more classes reuse them cyclically. */
#define SN_VIZ_MAX_COLOURS 20

/* Exact pixel size of the pairs grid (sn_viz_pairs_grid) for n pairs of h x w images. */
void sn_viz_pairs_grid_size(int n, int h, int w, int *width, int *height);
/* Exact pixel size of the retrieval sheet (sn_viz_retrieval_sheet). */
void sn_viz_retrieval_sheet_size(int nq, int k, int h, int w, int *width, int *height);

/* The PCA of sn_viz_embedding_map: proj (n, 2) = centred emb times the top-2 eigenvectors
 * of the covariance (sign fixed so that the largest-|.| loading is positive). For
 * dim == 1 proj = (x - mean, 0); dim == 2: centred coordinates. */
sn_status sn_viz_pca2(sn_ctx *ctx, const float *emb, int n, int dim, double *proj);

#endif
