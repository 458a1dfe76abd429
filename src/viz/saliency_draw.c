/* saliency_draw.c -- the `simnet explain` figure (see saliency_draw.h). */
#define _POSIX_C_SOURCE 200809L
#include "viz/saliency_draw.h"

#include "core/core.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MARGIN 24
#define LABEL_W 150   /* row labels on the left */
#define GAP 24        /* between the A and B columns */
#define BAR_W 18      /* colour bar */
#define BAR_AREA 90   /* colour bar + its labels */
#define HEADER_H 78
#define CAPTION_H 30  /* under each panel */
#define ROW_GAP 14
#define TARGET 224

/* Inferno-like colour map: 9 key colours of matplotlib's inferno, linear in between. */
static void inferno(double v, double rgb[3]) {
    static const unsigned char K[9][3] = {{0, 0, 4},      {31, 12, 72},   {85, 15, 109},
                                          {136, 34, 106}, {186, 54, 85},  {227, 89, 51},
                                          {249, 140, 10}, {249, 201, 50}, {252, 255, 164}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double t = v * 8.0;
    int i = (int)t;
    if (i > 7) i = 7;
    double f = t - i;
    for (int k = 0; k < 3; k++) rgb[k] = ((1 - f) * K[i][k] + f * K[i + 1][k]) / 255.0;
}

/* Diverging: -1 blue, 0 white, +1 red. */
static void diverging(double v, double rgb[3]) {
    v = v < -1 ? -1 : v > 1 ? 1 : v;
    static const double NEG[3] = {0.13, 0.40, 0.85}, POS[3] = {0.84, 0.15, 0.16};
    const double *e = v < 0 ? NEG : POS;
    double a = fabs(v);
    for (int k = 0; k < 3; k++) rgb[k] = (1 - a) * 1.0 + a * e[k];
}

static double scale_of(const sn_saliency_figure *f) {
    int m = f->h > f->w ? f->h : f->w;
    return m <= TARGET ? (double)(TARGET / m) : (double)TARGET / m;
}

void sn_viz_saliency_size(const sn_saliency_figure *f, int *width, int *height) {
    double s = scale_of(f);
    int tw = (int)ceil(s * f->w), th = (int)ceil(s * f->h);
    int rows = f->occ[0] ? 3 : 2;
    *width = MARGIN + LABEL_W + 2 * tw + GAP + MARGIN + BAR_AREA + MARGIN;
    *height = HEADER_H + rows * (th + CAPTION_H) + (rows - 1) * ROW_GAP + MARGIN;
}

static void text(cairo_t *cr, double x, double y, const char *s, double size, double ha, int bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - ha * e.x_advance, y);
    cairo_show_text(cr, s);
}

/* An ARGB32 surface (h x w) filled by fn(i) -> premultiplied pixel. */
typedef uint32_t (*pixel_fn)(const void *user, size_t i);

static cairo_surface_t *make_surface(int w, int h, pixel_fn fn, const void *user) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < w; x++) row[x] = fn(user, (size_t)y * (size_t)w + (size_t)x);
    }
    cairo_surface_mark_dirty(s);
    return s;
}

static uint32_t argb(double a, const double rgb[3]) {
    uint32_t A = (uint32_t)lround(a * 255.0);
    uint32_t r = (uint32_t)lround(rgb[0] * a * 255.0), g = (uint32_t)lround(rgb[1] * a * 255.0),
             b = (uint32_t)lround(rgb[2] * a * 255.0);
    return A << 24 | r << 16 | g << 8 | b;
}

typedef struct {
    const sn_saliency_figure *f;
    int which;        /* image 0/1 */
    const float *map; /* overlay map */
    double vmax;      /* scale */
    int div;          /* diverging (occlusion) */
} paint_src;

static uint32_t image_px(const void *user, size_t i) {
    const paint_src *p = user;
    const sn_saliency_figure *f = p->f;
    size_t plane = (size_t)f->h * (size_t)f->w;
    const uint8_t *im = f->img[p->which];
    uint32_t r = im[i], g = im[i], b = im[i];
    if (f->c == 3) {
        g = im[plane + i];
        b = im[2 * plane + i];
    }
    return 0xFF000000u | r << 16 | g << 8 | b;
}

static uint32_t overlay_px(const void *user, size_t i) {
    const paint_src *p = user;
    double rgb[3], v = p->vmax > 0 ? p->map[i] / p->vmax : 0.0;
    if (p->div) {
        diverging(v, rgb);
        return argb(0.85 * fmin(1.0, fabs(v)), rgb);
    }
    inferno(v, rgb);
    return argb(0.35 + 0.55 * fmin(1.0, fmax(0.0, v)), rgb);
}

/* Paint a surface of the image's shape scaled into the panel at (x, y). */
static void paint(cairo_t *cr, cairo_surface_t *s, double x, double y, double sc) {
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, sc, sc);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), sc >= 1.0 ? CAIRO_FILTER_NEAREST
                                                             : CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
}

static void colour_bar(cairo_t *cr, double x, double y, double h, int div, double vmax) {
    for (int k = 0; k < (int)h; k++) {
        double t = 1.0 - (k + 0.5) / h, rgb[3];
        if (div)
            diverging(2.0 * t - 1.0, rgb);
        else
            inferno(t, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, x, y + k, BAR_W, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x + 0.5, y + 0.5, BAR_W - 1, h - 1);
    cairo_stroke(cr);
    char lo[32], hi[32];
    snprintf(hi, sizeof hi, "%s%.3g", div ? "+" : "", vmax);
    snprintf(lo, sizeof lo, "%s", div ? "" : "0");
    if (div) snprintf(lo, sizeof lo, "-%.3g", vmax);
    text(cr, x + BAR_W + 6, y + 10, hi, 12, 0, 0);
    text(cr, x + BAR_W + 6, y + h, lo, 12, 0, 0);
    if (div) text(cr, x + BAR_W + 6, y + h / 2 + 4, "0", 12, 0, 0);
}

static double map_max(const float *a, const float *b, size_t n, int absval) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double va = absval ? fabs(a[i]) : a[i], vb = absval ? fabs(b[i]) : b[i];
        if (va > m) m = va;
        if (vb > m) m = vb;
    }
    return m;
}

static void draw(cairo_t *cr, const sn_saliency_figure *f, cairo_status_t *err) {
    double sc = scale_of(f);
    double tw = ceil(sc * f->w), th = ceil(sc * f->h);
    size_t plane = (size_t)f->h * (size_t)f->w;
    char buf[256];
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, MARGIN, 32, "Which pixels make A and B alike?", 20, 0, 1);
    if (f->threshold > 0)
        snprintf(buf, sizeof buf, "distance %.4f   similarity %.4f   decision: %s (threshold %.4f)",
                 f->distance, f->score, f->distance <= f->threshold ? "same" : "different",
                 f->threshold);
    else
        snprintf(buf, sizeof buf, "distance %.4f   similarity %.4f   (no calibrated threshold)",
                 f->distance, f->score);
    text(cr, MARGIN, 58, buf, 15, 0, 0);
    int rows = f->occ[0] ? 3 : 2;
    double vmax[3] = {0, map_max(f->sal[0], f->sal[1], plane, 0),
                      f->occ[0] ? map_max(f->occ[0], f->occ[1], plane, 1) : 0};
    for (int r = 0; r < rows; r++) {
        double y = HEADER_H + r * (th + CAPTION_H + ROW_GAP);
        static const char *LABEL[3] = {"images", "gradient", "occlusion"};
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text(cr, MARGIN, y + th / 2, LABEL[r], 15, 0, 1);
        if (r == 1) text(cr, MARGIN, y + th / 2 + 18, "|d dist / d input|", 12, 0, 0);
        if (r == 2) {
            snprintf(buf, sizeof buf, "%dx%d grey patch:", f->patch, f->patch);
            text(cr, MARGIN, y + th / 2 + 18, buf, 12, 0, 0);
            text(cr, MARGIN, y + th / 2 + 33, "red = mattered", 12, 0, 0);
        }
        for (int k = 0; k < 2; k++) {
            double x = MARGIN + LABEL_W + k * (tw + GAP);
            paint_src src = {f, k, r == 1 ? f->sal[k] : r == 2 ? f->occ[k] : NULL, vmax[r], r == 2};
            cairo_surface_t *s = make_surface(f->w, f->h, image_px, &src);
            if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) *err = cairo_surface_status(s);
            else paint(cr, s, x, y, sc);
            cairo_surface_destroy(s);
            if (r > 0) {
                s = make_surface(f->w, f->h, overlay_px, &src);
                if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) *err = cairo_surface_status(s);
                else paint(cr, s, x, y, sc);
                cairo_surface_destroy(s);
            }
            cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
            cairo_set_line_width(cr, 1);
            cairo_rectangle(cr, x - 0.5, y - 0.5, tw + 1, th + 1);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            const char *nm = f->name[k];
            if (r == 0) {
                snprintf(buf, sizeof buf, "%s%s%.40s", k ? "B" : "A", nm ? ": " : "",
                         nm ? nm : "");
                text(cr, x + tw / 2, y + th + 19, buf, 13, 0.5, 0);
            } else if (r == 1) {
                snprintf(buf, sizeof buf, "max %.3g", map_max(f->sal[k], f->sal[k], plane, 0));
                text(cr, x + tw / 2, y + th + 19, buf, 12, 0.5, 0);
            } else {
                double lo = f->occ[k][0], hi = f->occ[k][0];
                for (size_t i = 0; i < plane; i++) {
                    lo = fmin(lo, f->occ[k][i]);
                    hi = fmax(hi, f->occ[k][i]);
                }
                snprintf(buf, sizeof buf, "range %+.3g .. %+.3g", lo, hi);
                text(cr, x + tw / 2, y + th + 19, buf, 12, 0.5, 0);
            }
        }
        if (r > 0)
            colour_bar(cr, MARGIN + LABEL_W + 2 * tw + GAP + MARGIN, y, th, r == 2, vmax[r]);
    }
}

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int n) {
    return fwrite(data, 1, n, closure) == n ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

sn_status sn_viz_saliency(sn_ctx *ctx, const char *path, const sn_saliency_figure *f) {
    if (!f || (f->c != 1 && f->c != 3) || f->h < 1 || f->w < 1 || f->h > 4096 || f->w > 4096 ||
        !f->img[0] || !f->img[1] || !f->sal[0] || !f->sal[1] || (!f->occ[0]) != (!f->occ[1]))
        return sn_errf(ctx, SN_ERR_ARG, "%s: saliency figure: bad image shape or missing maps",
                       path);
    int W, H;
    sn_viz_saliency_size(f, &W, &H);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(surf);
    cairo_status_t err = cairo_status(cr);
    if (err == CAIRO_STATUS_SUCCESS) draw(cr, f, &err);
    if (err == CAIRO_STATUS_SUCCESS) err = cairo_status(cr);
    char tmp[4096];
    sn_status st = SN_OK;
    if (err != CAIRO_STATUS_SUCCESS) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "%s: drawing failed: %s", path, cairo_status_to_string(err));
    } else if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        st = sn_errf(ctx, SN_ERR_ARG, "%s: path too long", path);
    } else {
        cairo_surface_flush(surf);
        FILE *fp = fopen(tmp, "wb");
        err = fp ? cairo_surface_write_to_png_stream(surf, png_write, fp) : CAIRO_STATUS_WRITE_ERROR;
        int ioerr = !fp || err != CAIRO_STATUS_SUCCESS || fflush(fp) != 0 || fsync(fileno(fp)) != 0;
        if (fp && fclose(fp) != 0) ioerr = 1;
        if (ioerr || rename(tmp, path) != 0) {
            remove(tmp);
            st = sn_errf(ctx, SN_ERR_IO, "%s: cannot write PNG%s%s", path,
                         err != CAIRO_STATUS_SUCCESS ? ": " : "",
                         err != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(err) : "");
        }
    }
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    return st;
}
