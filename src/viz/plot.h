/* plot.h -- small cairo plotting helpers of the figures (src/viz/): canvas with atomic
 * PNG output, text, nice ticks, axes, legends, colours, image thumbnails.
 * Coordinates are cairo user units = pixels, origin top-left. */
#ifndef SN_VIZ_PLOT_HELPERS_H
#define SN_VIZ_PLOT_HELPERS_H

#include "simnet.h"

#include <cairo.h>
#include <stdint.h>

#define SN_PI 3.14159265358979323846

typedef struct {
    double r, g, b; /* 0..1 */
} sn_rgb;

/* Fixed colours: decisions (right / wrong) and ink. */
extern const sn_rgb SN_PLOT_GREEN, SN_PLOT_RED, SN_PLOT_INK, SN_PLOT_GRID, SN_PLOT_MUTED;
/* Colour of class i: tab10, then the light tab20 shades; cycles after SN_VIZ_MAX_COLOURS. */
sn_rgb sn_plot_class_colour(int i);
void sn_plot_set_colour(cairo_t *cr, sn_rgb c, double alpha);

/* An RGB image surface (white) with its context. */
typedef struct {
    cairo_surface_t *surf;
    cairo_t *cr;
    int w, h;
} sn_plot_canvas;

/* Create a w x h white canvas. Errors (naming path): SN_ERR_ARG, SN_ERR_NOMEM. */
sn_status sn_plot_begin(sn_ctx *ctx, const char *path, int w, int h, sn_plot_canvas *cv);
/* Write the canvas as PNG to path atomically (path.tmp.PID, fsync, rename), then free
 * it (also on failure). Errors name the file: SN_ERR_IO, SN_ERR_NOMEM (cairo failed). */
sn_status sn_plot_end(sn_ctx *ctx, const char *path, sn_plot_canvas *cv);
void sn_plot_free(sn_plot_canvas *cv);

/* Text at (x, y) with alignment ha (0 left, 0.5 centre, 1 right) and va (0 top,
 * 0.5 middle, 1 bottom), size in pixels, sans-serif. */
void sn_plot_text(cairo_t *cr, double x, double y, const char *s, double size, double ha,
                  double va, int bold);
/* The same rotated 90 degrees counter-clockwise (for y-axis labels), centred on (x, y). */
void sn_plot_text_vertical(cairo_t *cr, double x, double y, const char *s, double size);
double sn_plot_text_width(cairo_t *cr, const char *s, double size, int bold);

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` intervals
 * over range > 0. */
double sn_plot_nice_step(double range, int ticks);
/* Widen [*lo, *hi] to multiples of the nice step (degenerate ranges are widened first). */
void sn_plot_nice_range(double *lo, double *hi, int ticks);

/* A plot area: pixel box (px0, py0) - (px1, py1) showing data x0..x1, y0..y1. */
typedef struct {
    double px0, py0, px1, py1;
    double x0, x1, y0, y1;
} sn_plot_axes;
double sn_plot_x(const sn_plot_axes *ax, double x);
double sn_plot_y(const sn_plot_axes *ax, double y);
/* Grid lines, frame, ticks with labels at nice steps (xstep/ystep > 0 force a step),
 * and the axis labels. Clips nothing. */
void sn_plot_draw_axes(cairo_t *cr, const sn_plot_axes *ax, const char *xlabel,
                       const char *ylabel, double xstep, double ystep);
/* Restrict drawing to the plot box (cairo_save; undo with cairo_restore). */
void sn_plot_clip(cairo_t *cr, const sn_plot_axes *ax);

/* Legend entries: a line, a filled dot, or a filled box in the colour. */
enum { SN_LEG_LINE = 0, SN_LEG_DOT = 1, SN_LEG_BOX = 2, SN_LEG_DASH = 3 };
typedef struct {
    const char *label;
    sn_rgb colour;
    int kind;
} sn_plot_legend_item;
/* One row of entries centred on x, middle at y. */
void sn_plot_legend_row(cairo_t *cr, double x, double y, const sn_plot_legend_item *it, int n);

/* Draw image (c, h, w), c = 1 or 3, with its top-left at (x, y), scaled by s
 * (nearest neighbour when s >= 1). Returns 0 if cairo could not allocate the image. */
int sn_plot_image(cairo_t *cr, const uint8_t *img, int c, int h, int w, double x, double y,
                  double s);
/* Thumbnail scale: integer max(1, target / max(h, w)), or target / max(h, w) below 1. */
double sn_plot_thumb_scale(int h, int w, int target);
/* A filled frame of thickness t around the box (x, y, w, h) (outside it). */
void sn_plot_frame(cairo_t *cr, double x, double y, double w, double h, double t, sn_rgb c);

#endif
