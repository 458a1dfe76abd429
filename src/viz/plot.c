/* plot.c -- cairo plotting helpers of the figures: canvas + atomic PNG, text, ticks, axes,
 * legends, colours, thumbnails. */
#define _POSIX_C_SOURCE 200809L
#include "viz/plot.h"

#include "core/core.h"
#include "viz/viz.h"

#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const sn_rgb SN_PLOT_GREEN = {44 / 255.0, 160 / 255.0, 44 / 255.0};
const sn_rgb SN_PLOT_RED = {214 / 255.0, 39 / 255.0, 40 / 255.0};
const sn_rgb SN_PLOT_INK = {0.13, 0.13, 0.13};
const sn_rgb SN_PLOT_GRID = {0.88, 0.88, 0.88};
const sn_rgb SN_PLOT_MUTED = {0.45, 0.45, 0.45};

/* tab10, then the light shades of tab20 */
static const uint32_t PALETTE[SN_VIZ_MAX_COLOURS] = {
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2,
    0x7f7f7f, 0xbcbd22, 0x17becf, 0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896,
    0xc5b0d5, 0xc49c94, 0xf7b6d2, 0xc7c7c7, 0xdbdb8d, 0x9edae5,
};

sn_rgb sn_plot_class_colour(int i) {
    uint32_t v = PALETTE[((i % SN_VIZ_MAX_COLOURS) + SN_VIZ_MAX_COLOURS) % SN_VIZ_MAX_COLOURS];
    sn_rgb c = {((v >> 16) & 255) / 255.0, ((v >> 8) & 255) / 255.0, (v & 255) / 255.0};
    return c;
}

void sn_plot_set_colour(cairo_t *cr, sn_rgb c, double alpha) {
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

/* ----------------------------------------------------------------- canvas */

sn_status sn_plot_begin(sn_ctx *ctx, const char *path, int w, int h, sn_plot_canvas *cv) {
    memset(cv, 0, sizeof *cv);
    if (!path || !*path) return sn_errf(ctx, SN_ERR_ARG, "figure: no output path");
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return sn_errf(ctx, SN_ERR_ARG, "%s: figure size %dx%d is outside 1..16384", path, w, h);
    cv->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(cv->surf) != CAIRO_STATUS_SUCCESS) {
        sn_plot_free(cv);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: cannot create a %dx%d image", path, w, h);
    }
    cv->cr = cairo_create(cv->surf);
    if (cairo_status(cv->cr) != CAIRO_STATUS_SUCCESS) {
        sn_plot_free(cv);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: cannot create a drawing context", path);
    }
    cv->w = w;
    cv->h = h;
    cairo_set_source_rgb(cv->cr, 1, 1, 1);
    cairo_paint(cv->cr);
    return SN_OK;
}

void sn_plot_free(sn_plot_canvas *cv) {
    if (cv->cr) cairo_destroy(cv->cr);
    if (cv->surf) cairo_surface_destroy(cv->surf);
    cv->cr = NULL;
    cv->surf = NULL;
}

static cairo_status_t write_chunk(void *closure, const unsigned char *data, unsigned int len) {
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                        : CAIRO_STATUS_WRITE_ERROR;
}

sn_status sn_plot_end(sn_ctx *ctx, const char *path, sn_plot_canvas *cv) {
    cairo_status_t cs = cairo_status(cv->cr);
    if (cs != CAIRO_STATUS_SUCCESS) {
        sn_plot_free(cv);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: drawing failed: %s", path, cairo_status_to_string(cs));
    }
    cairo_surface_flush(cv->surf);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        sn_plot_free(cv);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        free(tmp);
        sn_plot_free(cv);
        return sn_errf(ctx, SN_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    cs = cairo_surface_write_to_png_stream(cv->surf, write_chunk, f);
    int e = cs == CAIRO_STATUS_SUCCESS ? 0 : (errno ? errno : EIO);
    if (fflush(f) != 0 && !e) e = errno;
    if (!e && fsync(fileno(f)) != 0 && errno != EINVAL) e = errno;
    if (fclose(f) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) remove(tmp);
    free(tmp);
    sn_plot_free(cv);
    if (e)
        return sn_errf(ctx, SN_ERR_IO, "cannot write %s: %s", path,
                       cs != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(cs) : strerror(e));
    return SN_OK;
}

void sn_viz_release_caches(void) {
    cairo_debug_reset_static_data();
    FcFini();
}

/* ------------------------------------------------------------------- text */

static void font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double sn_plot_text_width(cairo_t *cr, const char *s, double size, int bold) {
    cairo_text_extents_t te;
    font(cr, size, bold);
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

void sn_plot_text(cairo_t *cr, double x, double y, const char *s, double size, double ha,
                  double va, int bold) {
    cairo_text_extents_t te;
    cairo_font_extents_t fe;
    font(cr, size, bold);
    cairo_text_extents(cr, s, &te);
    cairo_font_extents(cr, &fe);
    /* baseline so that va = 0 puts the ascent at y and va = 1 the descent at y */
    double base = y + fe.ascent - va * (fe.ascent + fe.descent);
    cairo_move_to(cr, x - ha * te.x_advance, base);
    cairo_show_text(cr, s);
}

void sn_plot_text_vertical(cairo_t *cr, double x, double y, const char *s, double size) {
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -SN_PI / 2);
    sn_plot_text(cr, 0, 0, s, size, 0.5, 0.5, 0);
    cairo_restore(cr);
}

/* ------------------------------------------------------------------ ticks */

double sn_plot_nice_step(double range, int ticks) {
    if (!(range > 0) || !isfinite(range)) return 1;
    double raw = range / (ticks > 0 ? ticks : 5);
    double p = pow(10, floor(log10(raw))), f = raw / p;
    double nice = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
    return nice * p;
}

void sn_plot_nice_range(double *lo, double *hi, int ticks) {
    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
    }
    if (*hi - *lo <= 1e-12 * (fabs(*lo) + fabs(*hi)) || *hi <= *lo) {
        double pad = *lo == 0 ? 1 : fabs(*lo) * 0.1;
        *lo -= pad;
        *hi += pad;
    }
    double st = sn_plot_nice_step(*hi - *lo, ticks);
    *lo = floor(*lo / st + 1e-9) * st;
    *hi = ceil(*hi / st - 1e-9) * st;
}

/* ------------------------------------------------------------------- axes */

double sn_plot_x(const sn_plot_axes *ax, double x) {
    return ax->px0 + (x - ax->x0) / (ax->x1 - ax->x0) * (ax->px1 - ax->px0);
}

double sn_plot_y(const sn_plot_axes *ax, double y) {
    return ax->py1 - (y - ax->y0) / (ax->y1 - ax->y0) * (ax->py1 - ax->py0);
}

static void tick_label(char *buf, size_t cap, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) < step * 1e-6) v = 0; /* no "-0.0" */
    snprintf(buf, cap, "%.*f", dec, v);
}

void sn_plot_clip(cairo_t *cr, const sn_plot_axes *ax) {
    cairo_save(cr);
    cairo_rectangle(cr, ax->px0, ax->py0, ax->px1 - ax->px0, ax->py1 - ax->py0);
    cairo_clip(cr);
}

void sn_plot_draw_axes(cairo_t *cr, const sn_plot_axes *ax, const char *xlabel,
                       const char *ylabel, double xstep, double ystep) {
    const double fs = 13;
    char buf[64];
    if (!(xstep > 0)) xstep = sn_plot_nice_step(ax->x1 - ax->x0, 8);
    if (!(ystep > 0)) ystep = sn_plot_nice_step(ax->y1 - ax->y0, 6);
    cairo_save(cr);
    cairo_set_line_width(cr, 1);
    double ymax_label = 0;
    for (int pass = 0; pass < 2; pass++) { /* 0: x, 1: y */
        double a = pass ? ax->y0 : ax->x0, b = pass ? ax->y1 : ax->x1, st = pass ? ystep : xstep;
        double first = ceil(a / st - 1e-9) * st;
        for (int i = 0; i < 200; i++) {
            double v = first + i * st;
            if (v > b + st * 1e-9) break;
            tick_label(buf, sizeof buf, v, st);
            if (pass == 0) {
                double px = floor(sn_plot_x(ax, v)) + 0.5;
                sn_plot_set_colour(cr, SN_PLOT_GRID, 1);
                cairo_move_to(cr, px, ax->py0);
                cairo_line_to(cr, px, ax->py1);
                cairo_stroke(cr);
                sn_plot_set_colour(cr, SN_PLOT_INK, 1);
                cairo_move_to(cr, px, ax->py1);
                cairo_line_to(cr, px, ax->py1 + 5);
                cairo_stroke(cr);
                sn_plot_text(cr, px, ax->py1 + 8, buf, fs, 0.5, 0, 0);
            } else {
                double py = floor(sn_plot_y(ax, v)) + 0.5;
                sn_plot_set_colour(cr, SN_PLOT_GRID, 1);
                cairo_move_to(cr, ax->px0, py);
                cairo_line_to(cr, ax->px1, py);
                cairo_stroke(cr);
                sn_plot_set_colour(cr, SN_PLOT_INK, 1);
                cairo_move_to(cr, ax->px0 - 5, py);
                cairo_line_to(cr, ax->px0, py);
                cairo_stroke(cr);
                sn_plot_text(cr, ax->px0 - 8, py, buf, fs, 1, 0.5, 0);
                double tw = sn_plot_text_width(cr, buf, fs, 0);
                if (tw > ymax_label) ymax_label = tw;
            }
        }
    }
    sn_plot_set_colour(cr, SN_PLOT_INK, 1);
    cairo_rectangle(cr, floor(ax->px0) + 0.5, floor(ax->py0) + 0.5, floor(ax->px1 - ax->px0),
                    floor(ax->py1 - ax->py0));
    cairo_stroke(cr);
    if (xlabel) sn_plot_text(cr, (ax->px0 + ax->px1) / 2, ax->py1 + 30, xlabel, 15, 0.5, 0, 0);
    if (ylabel)
        sn_plot_text_vertical(cr, ax->px0 - 8 - ymax_label - 16, (ax->py0 + ax->py1) / 2, ylabel,
                              15);
    cairo_restore(cr);
}

/* ----------------------------------------------------------------- legend */

static void legend_key(cairo_t *cr, double x, double y, const sn_plot_legend_item *it) {
    sn_plot_set_colour(cr, it->colour, 1);
    switch (it->kind) {
    case SN_LEG_DOT:
        cairo_arc(cr, x + 11, y, 5, 0, 2 * SN_PI);
        cairo_fill(cr);
        break;
    case SN_LEG_BOX:
        sn_plot_set_colour(cr, it->colour, 0.55);
        cairo_rectangle(cr, x + 3, y - 7, 16, 14);
        cairo_fill_preserve(cr);
        sn_plot_set_colour(cr, it->colour, 1);
        cairo_set_line_width(cr, 1.5);
        cairo_stroke(cr);
        break;
    default: {
        static const double dash[] = {6, 4};
        cairo_set_line_width(cr, 2.5);
        if (it->kind == SN_LEG_DASH) cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + 22, y);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    }
}

void sn_plot_legend_row(cairo_t *cr, double x, double y, const sn_plot_legend_item *it, int n) {
    const double fs = 14, key = 22, gap = 8, sep = 28;
    double total = 0;
    for (int i = 0; i < n; i++)
        total += key + gap + sn_plot_text_width(cr, it[i].label, fs, 0) + (i ? sep : 0);
    double cx = x - total / 2;
    cairo_save(cr);
    for (int i = 0; i < n; i++) {
        legend_key(cr, cx, y, &it[i]);
        sn_plot_set_colour(cr, SN_PLOT_INK, 1);
        sn_plot_text(cr, cx + key + gap, y, it[i].label, fs, 0, 0.5, 0);
        cx += key + gap + sn_plot_text_width(cr, it[i].label, fs, 0) + sep;
    }
    cairo_restore(cr);
}

/* ----------------------------------------------------------------- images */

double sn_plot_thumb_scale(int h, int w, int target) {
    int m = h > w ? h : w;
    if (m <= 0) return 1;
    if (m > target) return (double)target / m;
    return (double)(target / m);
}

int sn_plot_image(cairo_t *cr, const uint8_t *img, int c, int h, int w, double x, double y,
                  double s) {
    cairo_surface_t *im = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(im) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(im);
        return 0;
    }
    cairo_surface_flush(im);
    unsigned char *data = cairo_image_surface_get_data(im);
    int stride = cairo_image_surface_get_stride(im);
    size_t plane = (size_t)h * (size_t)w;
    for (int i = 0; i < h; i++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)i * (size_t)stride);
        for (int j = 0; j < w; j++) {
            size_t k = (size_t)i * (size_t)w + (size_t)j;
            uint32_t r = img[k], g = r, b = r;
            if (c == 3) {
                g = img[plane + k];
                b = img[2 * plane + k];
            }
            row[j] = (r << 16) | (g << 8) | b;
        }
    }
    cairo_surface_mark_dirty(im);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, s, s);
    cairo_set_source_surface(cr, im, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), s >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(im);
    return 1;
}

void sn_plot_frame(cairo_t *cr, double x, double y, double w, double h, double t, sn_rgb c) {
    cairo_save(cr);
    sn_plot_set_colour(cr, c, 1);
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
    cairo_rectangle(cr, x - t, y - t, w + 2 * t, h + 2 * t);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
    cairo_restore(cr);
}
