/*
 * saliency_draw.h -- private part of the figure of `simnet explain` (saliency_draw.c).
 * The figure (sn_saliency_figure, sn_viz_saliency, its layout) is public:
 * include/simnet_viz.h. Declared here only what the tests use beyond that.
 */
#ifndef SN_VIZ_SALIENCY_DRAW_H
#define SN_VIZ_SALIENCY_DRAW_H

#include "simnet_viz.h"

/* Exact pixel size of the figure sn_viz_saliency draws for f. */
void sn_viz_saliency_size(const sn_saliency_figure *f, int *width, int *height);

#endif
