/* sheets.c -- image sheets: the pairs grid and the retrieval sheet (viz.h). */
#include "core/core.h"
#include "viz/plot.h"
#include "viz/viz.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Layout (pixels). */
enum {
    MARGIN = 24,     /* left / right */
    TITLE_H = 56,    /* band above the cells */
    FOOT_H = 40,     /* legend band below */
    THUMB = 96,      /* thumbnails fit this box */
    GAP = 16,        /* between cells */
    BORDER = 4,      /* pair border */
    PAD = 8,         /* inside the pair border */
    TEXT_H = 34,     /* two text lines under a pair */
    MIN_CELL_W = 190,
    PAIR_COLS = 4,
    R_FRAME = 3,     /* retrieval frames */
    R_GAP = 8,
    R_QGAP = 28,     /* extra space after the query column */
    R_HEAD = 24,     /* column captions */
};

static int dim_of(int px, double s) {
    int v = (int)lround(px * s);
    return v < 1 ? 1 : v;
}

static sn_status check_images(sn_ctx *ctx, const char *path, const void *img, int c, int h,
                              int w) {
    if (!path || !*path) return sn_errf(ctx, SN_ERR_ARG, "figure: no output path");
    if (!img) return sn_errf(ctx, SN_ERR_ARG, "%s: no images", path);
    if ((c != 1 && c != 3) || h < 1 || w < 1 || h > 4096 || w > 4096)
        return sn_errf(ctx, SN_ERR_ARG, "%s: images are %dx%dx%d, expected 1 or 3 channels of "
                       "1..4096 pixels", path, c, h, w);
    return SN_OK;
}

/* ------------------------------------------------------------- pairs grid */

static void pair_cell(int n, int h, int w, int *cw, int *ch, int *tw, int *th, int *cols,
                      int *rows) {
    double s = sn_plot_thumb_scale(h, w, THUMB);
    *tw = dim_of(w, s);
    *th = dim_of(h, s);
    *cw = 2 * *tw + 6 + 2 * (BORDER + PAD);
    if (*cw < MIN_CELL_W) *cw = MIN_CELL_W;
    *ch = *th + 2 * (BORDER + PAD) + TEXT_H;
    *cols = n < PAIR_COLS ? (n < 1 ? 1 : n) : PAIR_COLS;
    *rows = (n + *cols - 1) / *cols;
    if (*rows < 1) *rows = 1;
}

void sn_viz_pairs_grid_size(int n, int h, int w, int *width, int *height) {
    int cw, ch, tw, th, cols, rows;
    pair_cell(n, h, w, &cw, &ch, &tw, &th, &cols, &rows);
    *width = 2 * MARGIN + cols * cw + (cols - 1) * GAP;
    *height = TITLE_H + rows * ch + (rows - 1) * GAP + FOOT_H;
}

sn_status sn_viz_pairs_grid(sn_ctx *ctx, const char *path, const uint8_t *a, const uint8_t *b,
                            int n, int c, int h, int w, const float *score,
                            const uint8_t *decided_same, const uint8_t *truly_same,
                            double threshold) {
    sn_status st = check_images(ctx, path, a, c, h, w);
    if (st) return st;
    if (!b || !score || !decided_same || !truly_same)
        return sn_errf(ctx, SN_ERR_ARG, "%s: missing pair images, scores or decisions", path);
    if (n < 1 || n > 256) return sn_errf(ctx, SN_ERR_ARG, "%s: %d pairs, expected 1..256", path, n);
    int W, H, cw, ch, tw, th, cols, rows;
    sn_viz_pairs_grid_size(n, h, w, &W, &H);
    pair_cell(n, h, w, &cw, &ch, &tw, &th, &cols, &rows);
    double s = sn_plot_thumb_scale(h, w, THUMB);
    sn_plot_canvas cv;
    st = sn_plot_begin(ctx, path, W, H, &cv);
    if (st) return st;
    cairo_t *cr = cv.cr;
    char buf[128];
    int right = 0;
    for (int i = 0; i < n; i++) right += (decided_same[i] != 0) == (truly_same[i] != 0);
    if (threshold > 0)
        snprintf(buf, sizeof buf, "%d pairs: similarity score and decision at threshold %.3g", n,
                 threshold);
    else
        snprintf(buf, sizeof buf, "%d pairs: similarity score and decision", n);
    sn_plot_set_colour(cr, SN_PLOT_INK, 1);
    sn_plot_text(cr, W / 2.0, 16, buf, 19, 0.5, 0, 1);
    size_t img = (size_t)c * (size_t)h * (size_t)w;
    int ok = 1;
    for (int i = 0; i < n; i++) {
        int col = i % cols, row = i / cols;
        double x = MARGIN + col * (cw + GAP), y = TITLE_H + row * (ch + GAP);
        int good = (decided_same[i] != 0) == (truly_same[i] != 0);
        sn_rgb edge = good ? SN_PLOT_GREEN : SN_PLOT_RED;
        /* border: the cell's outer BORDER pixels */
        sn_plot_frame(cr, x + BORDER, y + BORDER, cw - 2 * BORDER, ch - 2 * BORDER, BORDER, edge);
        double ix = x + (cw - (2 * tw + 6)) / 2.0, iy = y + BORDER + PAD;
        ix = floor(ix);
        ok &= sn_plot_image(cr, a + (size_t)i * img, c, h, w, ix, iy, s);
        ok &= sn_plot_image(cr, b + (size_t)i * img, c, h, w, ix + tw + 6, iy, s);
        double ty = iy + th + 6;
        snprintf(buf, sizeof buf, "score %.3f: %s", (double)score[i],
                 decided_same[i] ? "same" : "different");
        sn_plot_set_colour(cr, SN_PLOT_INK, 1);
        sn_plot_text(cr, x + cw / 2.0, ty, buf, 13, 0.5, 0, 1);
        snprintf(buf, sizeof buf, "truly %s: %s", truly_same[i] ? "same" : "different",
                 good ? "right" : "wrong");
        sn_plot_set_colour(cr, good ? SN_PLOT_MUTED : SN_PLOT_RED, 1);
        sn_plot_text(cr, x + cw / 2.0, ty + 16, buf, 12, 0.5, 0, 0);
    }
    snprintf(buf, sizeof buf, "right (%d)", right);
    char buf2[64];
    snprintf(buf2, sizeof buf2, "wrong (%d)", n - right);
    sn_plot_legend_item leg[2] = {{buf, SN_PLOT_GREEN, SN_LEG_BOX}, {buf2, SN_PLOT_RED, SN_LEG_BOX}};
    sn_plot_legend_row(cr, W / 2.0, H - FOOT_H / 2.0, leg, 2);
    if (!ok) {
        sn_plot_free(&cv);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory drawing the images", path);
    }
    return sn_plot_end(ctx, path, &cv);
}

/* -------------------------------------------------------- retrieval sheet */

void sn_viz_retrieval_sheet_size(int nq, int k, int h, int w, int *width, int *height) {
    double s = sn_plot_thumb_scale(h, w, THUMB);
    int tw = dim_of(w, s), th = dim_of(h, s);
    if (nq < 1) nq = 1;
    if (k < 0) k = 0;
    *width = 2 * MARGIN + (k + 1) * (tw + 2 * R_FRAME) + k * R_GAP + R_QGAP;
    if (*width < 360) *width = 360;
    *height = TITLE_H + R_HEAD + nq * (th + 2 * R_FRAME) + (nq - 1) * R_GAP + FOOT_H;
}

sn_status sn_viz_retrieval_sheet(sn_ctx *ctx, const char *path, const uint8_t *images,
                                 const int32_t *labels, int n_images, int c, int h, int w,
                                 const int *query, int nq, const int *nbr, int k) {
    sn_status st = check_images(ctx, path, images, c, h, w);
    if (st) return st;
    if (!labels || !query || !nbr)
        return sn_errf(ctx, SN_ERR_ARG, "%s: missing labels, queries or neighbours", path);
    if (nq < 1 || nq > 256 || k < 1 || k > 64 || n_images < 1)
        return sn_errf(ctx, SN_ERR_ARG, "%s: %d queries x %d neighbours of %d images, expected "
                       "1..256 x 1..64 of >= 1", path, nq, k, n_images);
    for (int i = 0; i < nq; i++) {
        if (query[i] < 0 || query[i] >= n_images)
            return sn_errf(ctx, SN_ERR_ARG, "%s: query %d is image %d, outside 0..%d", path, i,
                           query[i], n_images - 1);
        for (int j = 0; j < k; j++)
            if (nbr[(size_t)i * k + j] < 0 || nbr[(size_t)i * k + j] >= n_images)
                return sn_errf(ctx, SN_ERR_ARG, "%s: neighbour %d of query %d is image %d, outside "
                               "0..%d", path, j, i, nbr[(size_t)i * k + j], n_images - 1);
    }
    int W, H;
    sn_viz_retrieval_sheet_size(nq, k, h, w, &W, &H);
    double s = sn_plot_thumb_scale(h, w, THUMB);
    int tw = dim_of(w, s), th = dim_of(h, s);
    sn_plot_canvas cv;
    st = sn_plot_begin(ctx, path, W, H, &cv);
    if (st) return st;
    cairo_t *cr = cv.cr;
    char buf[128];
    int hits = 0;
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < k; j++) hits += labels[nbr[(size_t)i * k + j]] == labels[query[i]];
    snprintf(buf, sizeof buf, "Retrieval: %d queries and their %d nearest neighbours", nq, k);
    sn_plot_set_colour(cr, SN_PLOT_INK, 1);
    sn_plot_text(cr, W / 2.0, 16, buf, 19, 0.5, 0, 1);
    size_t img = (size_t)c * (size_t)h * (size_t)w;
    const int step = tw + 2 * R_FRAME + R_GAP;
    double y0 = TITLE_H + R_HEAD;
    sn_plot_set_colour(cr, SN_PLOT_MUTED, 1);
    sn_plot_text(cr, MARGIN + R_FRAME + tw / 2.0, y0 - 6, "query", 13, 0.5, 1, 1);
    for (int j = 0; j < k; j++) {
        snprintf(buf, sizeof buf, "%d", j + 1);
        sn_plot_text(cr, MARGIN + R_QGAP + (j + 1) * step + R_FRAME + tw / 2.0, y0 - 6, buf, 13,
                     0.5, 1, 1);
    }
    int ok = 1;
    for (int i = 0; i < nq; i++) {
        double y = y0 + i * (th + 2 * R_FRAME + R_GAP) + R_FRAME;
        double x = MARGIN + R_FRAME;
        sn_plot_frame(cr, x, y, tw, th, R_FRAME, SN_PLOT_MUTED); /* neutral: not a verdict */
        ok &= sn_plot_image(cr, images + (size_t)query[i] * img, c, h, w, x, y, s);
        for (int j = 0; j < k; j++) {
            int id = nbr[(size_t)i * k + j];
            double nx = MARGIN + R_QGAP + (j + 1) * step + R_FRAME;
            sn_plot_frame(cr, nx, y, tw, th, R_FRAME,
                          labels[id] == labels[query[i]] ? SN_PLOT_GREEN : SN_PLOT_RED);
            ok &= sn_plot_image(cr, images + (size_t)id * img, c, h, w, nx, y, s);
        }
    }
    snprintf(buf, sizeof buf, "same class as the query (%d)", hits);
    char buf2[64];
    snprintf(buf2, sizeof buf2, "other class (%d)", nq * k - hits);
    sn_plot_legend_item leg[2] = {{buf, SN_PLOT_GREEN, SN_LEG_BOX}, {buf2, SN_PLOT_RED, SN_LEG_BOX}};
    sn_plot_legend_row(cr, W / 2.0, H - FOOT_H / 2.0, leg, 2);
    if (!ok) {
        sn_plot_free(&cv);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory drawing the images", path);
    }
    return sn_plot_end(ctx, path, &cv);
}
