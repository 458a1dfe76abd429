/* figures.c -- plots: embedding map (PCA), training curves (+ log reader), ROC curve and
 * distance histograms (viz.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "eval/metrics.h"
#include "viz/plot.h"
#include "viz/viz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (OpenBLAS): eigenvalues (ascending) and eigenvectors of a symmetric matrix. */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
            double *w, double *work, const int *lwork, int *info);

static sn_status check_path(sn_ctx *ctx, const char *path) {
    return path && *path ? SN_OK : sn_errf(ctx, SN_ERR_ARG, "figure: no output path");
}

/* Title centred at the top. */
static void title(sn_plot_canvas *cv, const char *s) {
    sn_plot_set_colour(cv->cr, SN_PLOT_INK, 1);
    sn_plot_text(cv->cr, cv->w / 2.0, 16, s, 20, 0.5, 0, 1);
}

/* The standard plot box: title and a legend row above, tick labels and axis label below
 * and to the left. */
static sn_plot_axes std_axes(double right) {
    sn_plot_axes ax = {96, 92, SN_VIZ_PLOT_W - right, SN_VIZ_PLOT_H - 70, 0, 1, 0, 1};
    return ax;
}

/* -------------------------------------------------------------- log file */

/* Pointer to the value of "key": in line (spaces allowed around the colon), or NULL. */
static const char *json_value(const char *line, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = strstr(line, key); p; p = strstr(p + 1, key)) {
        const char *q = p + kl;
        while (*q == ' ' || *q == '\t') q++;
        if (*q != ':') continue;
        q++;
        while (*q == ' ' || *q == '\t') q++;
        return q;
    }
    return NULL;
}

sn_status sn_viz_read_training_log(sn_ctx *ctx, const char *log_path, sn_viz_epoch **out,
                                   int *n) {
    *out = NULL;
    *n = 0;
    FILE *f = log_path ? fopen(log_path, "r") : NULL;
    if (!f)
        return sn_errf(ctx, SN_ERR_IO, "cannot open training log %s: %s",
                       log_path ? log_path : "(null)", log_path ? strerror(errno) : "no path");
    char *line = NULL;
    size_t cap = 0;
    int cnt = 0, have = 0;
    sn_viz_epoch *ep = NULL;
    sn_status st = SN_OK;
    while (getline(&line, &cap, f) >= 0) {
        const char *ev = json_value(line, "\"event\"");
        if (ev && strncmp(ev, "\"epoch\"", 7) != 0) continue;
        const char *e = json_value(line, "\"epoch\""), *tr = json_value(line, "\"train_loss\"");
        const char *te = json_value(line, "\"test_loss\"");
        if (!e || !tr) continue;
        char *end;
        long epoch = strtol(e, &end, 10);
        if (end == e || epoch < 0 || epoch > 100000000L) continue;
        double trl = strtod(tr, &end);
        if (end == tr || !isfinite(trl)) continue;
        double tel = NAN;
        if (te) {
            tel = strtod(te, &end);
            if (end == te || !isfinite(tel)) tel = NAN;
        }
        if (cnt == have) {
            int nh = have ? 2 * have : 64;
            sn_viz_epoch *p = realloc(ep, (size_t)nh * sizeof *p);
            if (!p) {
                st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory reading the log", log_path);
                break;
            }
            ep = p;
            have = nh;
        }
        ep[cnt].epoch = (int)epoch;
        ep[cnt].train_loss = trl;
        ep[cnt].test_loss = tel;
        cnt++;
    }
    free(line);
    fclose(f);
    if (st || cnt == 0) {
        free(ep);
        return st;
    }
    *out = ep;
    *n = cnt;
    return SN_OK;
}

/* ---------------------------------------------------------------- PCA */

static sn_status pca2(sn_ctx *ctx, const float *emb, int n, int dim, double *proj,
                      double *explained) {
    if (!emb || !proj || n < 1 || dim < 1 || dim > 8192)
        return sn_errf(ctx, SN_ERR_ARG, "PCA: %d points of dimension %d (expected >= 1, 1..8192)",
                       n, dim);
    explained[0] = explained[1] = NAN;
    double *mean = sn_calloc((size_t)dim, sizeof(double));
    if (!mean) return sn_errf(ctx, SN_ERR_NOMEM, "PCA: out of memory");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < dim; k++) mean[k] += emb[(size_t)i * dim + k];
    for (int k = 0; k < dim; k++) mean[k] /= n;
    if (dim <= 2) {
        for (int i = 0; i < n; i++) {
            proj[2 * i] = emb[(size_t)i * dim] - mean[0];
            proj[2 * i + 1] = dim == 2 ? emb[(size_t)i * dim + 1] - mean[1] : 0;
        }
        free(mean);
        return SN_OK;
    }
    size_t dd = (size_t)dim * (size_t)dim;
    double *cov = sn_calloc(dd, sizeof(double)), *wv = sn_calloc((size_t)dim, sizeof(double));
    double *xc = sn_calloc((size_t)dim, sizeof(double)), q;
    sn_status st = cov && wv && xc ? SN_OK : sn_errf(ctx, SN_ERR_NOMEM, "PCA: out of memory");
    for (int i = 0; !st && i < n; i++) {
        for (int k = 0; k < dim; k++) xc[k] = emb[(size_t)i * dim + k] - mean[k];
        for (int r = 0; r < dim; r++)
            for (int k = r; k < dim; k++) cov[(size_t)k * dim + r] += xc[r] * xc[k]; /* upper */
    }
    int info = 0, lwork = -1, nn = dim;
    double *work = NULL;
    if (!st) {
        dsyev_("V", "U", &nn, cov, &nn, wv, &q, &lwork, &info); /* workspace query */
        lwork = info == 0 && q >= 1 ? (int)q : 3 * dim;
        work = sn_calloc((size_t)lwork, sizeof(double));
        if (!work) st = sn_errf(ctx, SN_ERR_NOMEM, "PCA: out of memory");
    }
    if (!st) {
        dsyev_("V", "U", &nn, cov, &nn, wv, work, &lwork, &info);
        if (info != 0) st = sn_errf(ctx, SN_ERR_NUMERIC, "PCA: dsyev failed (info %d)", info);
    }
    if (!st) {
        double tot = 0;
        for (int k = 0; k < dim; k++) tot += wv[k] > 0 ? wv[k] : 0;
        for (int j = 0; j < 2; j++) {
            double *v = cov + (size_t)(dim - 1 - j) * dim; /* column: j-th largest */
            int big = 0;
            for (int k = 1; k < dim; k++)
                if (fabs(v[k]) > fabs(v[big])) big = k;
            double sg = v[big] < 0 ? -1 : 1;
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int k = 0; k < dim; k++) s += (emb[(size_t)i * dim + k] - mean[k]) * v[k];
                proj[2 * i + j] = sg * s;
            }
            explained[j] = tot > 0 ? wv[dim - 1 - j] / tot : NAN;
        }
    }
    free(work);
    free(cov);
    free(wv);
    free(xc);
    free(mean);
    return st;
}

sn_status sn_viz_pca2(sn_ctx *ctx, const float *emb, int n, int dim, double *proj) {
    double ex[2];
    return pca2(ctx, emb, n, dim, proj, ex);
}

/* ---------------------------------------------------------- embedding map */

sn_status sn_viz_embedding_map(sn_ctx *ctx, const char *path, const float *emb, int n, int dim,
                               const int32_t *labels, int n_classes,
                               const char (*class_names)[64], const uint8_t *images, int c,
                               int h, int w, int thumbs_per_class) {
    sn_status st = check_path(ctx, path);
    if (st) return st;
    if (!emb || !labels || n < 1 || n_classes < 1 || n_classes > 1000)
        return sn_errf(ctx, SN_ERR_ARG, "%s: %d points of %d classes (expected >= 1, 1..1000)",
                       path, n, n_classes);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return sn_errf(ctx, SN_ERR_ARG, "%s: label %d of point %d outside 0..%d", path,
                           (int)labels[i], i, n_classes - 1);
    if (images && ((c != 1 && c != 3) || h < 1 || w < 1))
        return sn_errf(ctx, SN_ERR_ARG, "%s: thumbnails of %dx%dx%d, expected 1 or 3 channels",
                       path, c, h, w);
    if (!sn_metric_all_finite(emb, (size_t)n * (size_t)dim))
        return sn_errf(ctx, SN_ERR_NUMERIC, "%s: the embeddings are not all finite", path);
    double *p = sn_calloc((size_t)n * 2, sizeof(double)), ex[2];
    if (!p) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory for %d points", path, n);
    st = pca2(ctx, emb, n, dim, p, ex);
    sn_plot_canvas cv = {0};
    if (!st) st = sn_plot_begin(ctx, path, SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, &cv);
    if (st) {
        free(p);
        return st;
    }
    cairo_t *cr = cv.cr;
    sn_plot_axes ax = std_axes(230);
    ax.py0 = 60;
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 2; j++) {
            if (p[2 * i + j] < lo[j]) lo[j] = p[2 * i + j];
            if (p[2 * i + j] > hi[j]) hi[j] = p[2 * i + j];
        }
    for (int j = 0; j < 2; j++) {
        double pad = (hi[j] - lo[j]) * 0.05;
        if (!(pad > 0)) pad = fabs(lo[j]) * 0.1 + 0.5;
        lo[j] -= pad;
        hi[j] += pad;
    }
    ax.x0 = lo[0];
    ax.x1 = hi[0];
    ax.y0 = lo[1];
    ax.y1 = hi[1];
    char buf[160], xl[64], yl[64];
    snprintf(buf, sizeof buf, "Test embeddings: %d points, %d-d%s", n, dim,
             dim > 2 ? " (PCA to 2-D)" : "");
    title(&cv, buf);
    if (dim > 2) {
        snprintf(xl, sizeof xl, "PC 1 (%.0f%% of the variance)", 100 * ex[0]);
        snprintf(yl, sizeof yl, "PC 2 (%.0f%% of the variance)", 100 * ex[1]);
    } else {
        snprintf(xl, sizeof xl, "dimension 1 (centred)");
        snprintf(yl, sizeof yl, dim == 2 ? "dimension 2 (centred)" : "(none)");
    }
    sn_plot_draw_axes(cr, &ax, xl, yl, 0, 0);
    sn_plot_clip(cr, &ax);
    for (int i = 0; i < n; i++) {
        sn_plot_set_colour(cr, sn_plot_class_colour(labels[i]), 0.7);
        cairo_arc(cr, sn_plot_x(&ax, p[2 * i]), sn_plot_y(&ax, p[2 * i + 1]), 2.6, 0, 2 * SN_PI);
        cairo_fill(cr);
    }
    /* thumbnails: the first thumbs_per_class images of each class, centred on their points */
    int ok = 1;
    if (images && thumbs_per_class > 0) {
        int *seen = sn_calloc((size_t)n_classes, sizeof(int));
        if (!seen) ok = 0;
        double s = sn_plot_thumb_scale(h, w, 36);
        double tw = w * s, th = h * s;
        size_t img = (size_t)c * (size_t)h * (size_t)w;
        for (int i = 0; seen && i < n; i++) {
            if (seen[labels[i]] >= thumbs_per_class) continue;
            seen[labels[i]]++;
            double x = floor(sn_plot_x(&ax, p[2 * i]) - tw / 2);
            double y = floor(sn_plot_y(&ax, p[2 * i + 1]) - th / 2);
            sn_plot_frame(cr, x, y, tw, th, 2, sn_plot_class_colour(labels[i]));
            ok &= sn_plot_image(cr, images + (size_t)i * img, c, h, w, x, y, s);
        }
        free(seen);
    }
    cairo_restore(cr);
    /* legend column right of the plot */
    double lx = ax.px1 + 24, ly = ax.py0 + 10;
    int rows = (int)((ax.py1 - ax.py0 - 10) / 21), shown = n_classes <= rows ? n_classes : rows - 1;
    sn_plot_set_colour(cr, SN_PLOT_INK, 1);
    sn_plot_text(cr, lx, ly - 14, "class", 14, 0, 0.5, 1);
    for (int k = 0; k < shown; k++) {
        double y = ly + 12 + 21 * k;
        sn_plot_set_colour(cr, sn_plot_class_colour(k), 1);
        cairo_arc(cr, lx + 6, y, 5.5, 0, 2 * SN_PI);
        cairo_fill(cr);
        if (class_names)
            snprintf(buf, sizeof buf, "%.22s", class_names[k]);
        else
            snprintf(buf, sizeof buf, "%d", k);
        sn_plot_set_colour(cr, SN_PLOT_INK, 1);
        sn_plot_text(cr, lx + 18, y, buf, 14, 0, 0.5, 0);
    }
    if (shown < n_classes) {
        snprintf(buf, sizeof buf, "... and %d more", n_classes - shown);
        sn_plot_set_colour(cr, SN_PLOT_MUTED, 1);
        sn_plot_text(cr, lx, ly + 12 + 21 * shown, buf, 13, 0, 0.5, 0);
    }
    free(p);
    if (!ok) {
        sn_plot_free(&cv);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory drawing thumbnails", path);
    }
    return sn_plot_end(ctx, path, &cv);
}

/* -------------------------------------------------------- training curves */

static void series(cairo_t *cr, const sn_plot_axes *ax, const double *x, const double *y, int n,
                   sn_rgb col) {
    sn_plot_set_colour(cr, col, 1);
    cairo_set_line_width(cr, 2.5);
    int pen = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            pen = 0;
            continue;
        }
        if (pen)
            cairo_line_to(cr, sn_plot_x(ax, x[i]), sn_plot_y(ax, y[i]));
        else
            cairo_move_to(cr, sn_plot_x(ax, x[i]), sn_plot_y(ax, y[i]));
        pen = 1;
    }
    cairo_stroke(cr);
    for (int i = 0; i < n; i++)
        if (isfinite(y[i])) {
            cairo_arc(cr, sn_plot_x(ax, x[i]), sn_plot_y(ax, y[i]), n > 60 ? 2 : 4, 0, 2 * SN_PI);
            cairo_fill(cr);
        }
}

sn_status sn_viz_training_curves(sn_ctx *ctx, const char *path, const sn_viz_epoch *ep, int n) {
    sn_status st = check_path(ctx, path);
    if (st) return st;
    if (!ep || n < 1) return sn_errf(ctx, SN_ERR_ARG, "%s: no epochs to plot", path);
    double *x = sn_calloc((size_t)n * 3, sizeof(double));
    if (!x) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
    double *tr = x + n, *te = x + 2 * n;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int n_test = 0;
    for (int i = 0; i < n; i++) {
        x[i] = ep[i].epoch;
        tr[i] = ep[i].train_loss;
        te[i] = ep[i].test_loss;
        xlo = fmin(xlo, x[i]);
        xhi = fmax(xhi, x[i]);
        for (int j = 0; j < 2; j++) {
            double v = j ? te[i] : tr[i];
            if (!isfinite(v)) continue;
            ylo = fmin(ylo, v);
            yhi = fmax(yhi, v);
            n_test += j;
        }
    }
    sn_plot_canvas cv;
    st = sn_plot_begin(ctx, path, SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, &cv);
    if (st) {
        free(x);
        return st;
    }
    cairo_t *cr = cv.cr;
    sn_plot_axes ax = std_axes(40);
    if (xhi - xlo < 1) {
        xlo -= 1;
        xhi += 1;
    }
    if (xlo < 0) xlo = 0;
    sn_plot_nice_range(&xlo, &xhi, 8);
    if (isfinite(ylo)) {
        double pad = (yhi - ylo) * 0.05;
        ylo -= pad;
        yhi += pad;
    }
    sn_plot_nice_range(&ylo, &yhi, 6);
    if (ylo < 0 && isfinite(ylo) && ep[0].train_loss >= 0) ylo = 0;
    ax.x0 = xlo;
    ax.x1 = xhi;
    ax.y0 = ylo;
    ax.y1 = yhi;
    char buf[128];
    snprintf(buf, sizeof buf, "Training curves (%d epoch%s)", n, n == 1 ? "" : "s");
    title(&cv, buf);
    double xs = sn_plot_nice_step(xhi - xlo, 8);
    sn_plot_draw_axes(cr, &ax, "epoch", "loss", xs < 1 ? 1 : xs, 0);
    sn_plot_clip(cr, &ax);
    series(cr, &ax, x, tr, n, sn_plot_class_colour(0));
    series(cr, &ax, x, te, n, sn_plot_class_colour(1));
    cairo_restore(cr);
    sn_plot_legend_item leg[2] = {{"train loss", sn_plot_class_colour(0), SN_LEG_LINE},
                                  {"test loss", sn_plot_class_colour(1), SN_LEG_LINE}};
    sn_plot_legend_row(cr, (ax.px0 + ax.px1) / 2, 64, leg, n_test ? 2 : 1);
    free(x);
    return sn_plot_end(ctx, path, &cv);
}

/* ------------------------------------------------------------ verification */

static sn_status check_pairs(sn_ctx *ctx, const char *path, const float *dist,
                             const uint8_t *same, int n, int *np) {
    sn_status st = check_path(ctx, path);
    if (st) return st;
    if (!dist || !same || n < 2) return sn_errf(ctx, SN_ERR_ARG, "%s: need >= 2 pairs", path);
    if (!sn_metric_all_finite(dist, (size_t)n))
        return sn_errf(ctx, SN_ERR_NUMERIC, "%s: the pair distances are not all finite", path);
    *np = 0;
    for (int i = 0; i < n; i++) *np += same[i] != 0;
    if (*np == 0 || *np == n)
        return sn_errf(ctx, SN_ERR_ARG, "%s: need both same and different pairs (%d of %d same)",
                       path, *np, n);
    return SN_OK;
}

/* (distance, same) records sorted by distance. */
static int cmp_key(const void *a, const void *b) {
    const double *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The ROC polyline from (0, 0): one point per distinct distance (ties enter together). */
static void roc_path(cairo_t *cr, const sn_plot_axes *ax, const double *key, int n, int P,
                     int N) {
    long tp = 0, fp = 0;
    cairo_move_to(cr, sn_plot_x(ax, 0), sn_plot_y(ax, 0));
    for (int i = 0; i < n;) {
        int j = i;
        for (; j < n && key[2 * j] == key[2 * i]; j++) {
            if (key[2 * j + 1] != 0)
                tp++;
            else
                fp++;
        }
        cairo_line_to(cr, sn_plot_x(ax, (double)fp / N), sn_plot_y(ax, (double)tp / P));
        i = j;
    }
}

sn_status sn_viz_roc(sn_ctx *ctx, const char *path, const float *dist, const uint8_t *same,
                     int n) {
    int P;
    sn_status st = check_pairs(ctx, path, dist, same, n, &P);
    if (st) return st;
    int N = n - P;
    double *key = sn_calloc((size_t)n * 2, sizeof(double));
    if (!key) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory for %d pairs", path, n);
    for (int i = 0; i < n; i++) {
        key[2 * i] = dist[i];
        key[2 * i + 1] = same[i] != 0;
    }
    qsort(key, (size_t)n, 2 * sizeof(double), cmp_key);
    double auc = sn_metric_roc_auc(dist, same, n), eer_t, eer = sn_metric_eer(dist, same, n, &eer_t);
    sn_plot_canvas cv;
    st = sn_plot_begin(ctx, path, SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, &cv);
    if (st) {
        free(key);
        return st;
    }
    cairo_t *cr = cv.cr;
    double side = SN_VIZ_PLOT_H - 92 - 70;
    sn_plot_axes ax = {(SN_VIZ_PLOT_W - side) / 2 + 20, 92, (SN_VIZ_PLOT_W - side) / 2 + 20 + side,
                       92 + side, 0, 1, 0, 1};
    char buf[160];
    snprintf(buf, sizeof buf, "ROC: %d pairs (%d same, %d different), AUC = %.4f", n, P, N, auc);
    title(&cv, buf);
    sn_plot_draw_axes(cr, &ax, "false accept rate (FAR)", "true accept rate (TAR)", 0.1, 0.1);
    sn_plot_clip(cr, &ax);
    static const double dash[] = {6, 4};
    sn_plot_set_colour(cr, SN_PLOT_MUTED, 1);
    cairo_set_line_width(cr, 1.5);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, sn_plot_x(&ax, 0), sn_plot_y(&ax, 0));
    cairo_line_to(cr, sn_plot_x(&ax, 1), sn_plot_y(&ax, 1));
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    /* the area under the curve, lightly filled, then the curve */
    roc_path(cr, &ax, key, n, P, N);
    cairo_line_to(cr, sn_plot_x(&ax, 1), sn_plot_y(&ax, 0));
    cairo_close_path(cr);
    sn_plot_set_colour(cr, sn_plot_class_colour(0), 0.12);
    cairo_fill_preserve(cr);
    cairo_new_path(cr);
    roc_path(cr, &ax, key, n, P, N);
    sn_plot_set_colour(cr, sn_plot_class_colour(0), 1);
    cairo_set_line_width(cr, 2.5);
    cairo_stroke(cr);
    cairo_restore(cr);
    if (isfinite(eer)) {
        double ex = sn_plot_x(&ax, eer), ey = sn_plot_y(&ax, 1 - eer);
        sn_plot_set_colour(cr, SN_PLOT_RED, 1);
        cairo_arc(cr, ex, ey, 6, 0, 2 * SN_PI);
        cairo_fill(cr);
        snprintf(buf, sizeof buf, "EER %.4f at distance %.3g", eer, eer_t);
        sn_plot_text(cr, ex + 12, ey + 8, buf, 14, 0, 0, 1);
    }
    snprintf(buf, sizeof buf, "ROC (AUC %.4f)", auc);
    sn_plot_legend_item leg[3] = {{buf, sn_plot_class_colour(0), SN_LEG_LINE},
                                  {"chance", SN_PLOT_MUTED, SN_LEG_DASH},
                                  {"equal error rate", SN_PLOT_RED, SN_LEG_DOT}};
    sn_plot_legend_row(cr, (ax.px0 + ax.px1) / 2, 64, leg, 3);
    free(key);
    return sn_plot_end(ctx, path, &cv);
}

sn_status sn_viz_distance_hist(sn_ctx *ctx, const char *path, const float *dist,
                               const uint8_t *same, int n, double threshold) {
    int P;
    sn_status st = check_pairs(ctx, path, dist, same, n, &P);
    if (st) return st;
    int N = n - P;
    double lo = dist[0], hi = dist[0];
    for (int i = 1; i < n; i++) {
        lo = fmin(lo, dist[i]);
        hi = fmax(hi, dist[i]);
    }
    if (threshold > 0 && isfinite(threshold)) {
        lo = fmin(lo, threshold);
        hi = fmax(hi, threshold);
    }
    if (lo > 0 && lo < 0.25 * hi) lo = 0; /* distances are >= 0: start at 0 when close */
    sn_plot_nice_range(&lo, &hi, 8);
    int bins = (int)sqrt((double)n);
    bins = bins < 10 ? 10 : bins > 60 ? 60 : bins;
    double bw = (hi - lo) / bins;
    double *cnt = sn_calloc((size_t)bins * 2, sizeof(double));
    if (!cnt) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        int b = (int)((dist[i] - lo) / bw);
        b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
        cnt[2 * b + (same[i] ? 0 : 1)] += 1;
    }
    double ymax = 0;
    for (int b = 0; b < bins; b++) {
        cnt[2 * b] /= P * bw; /* densities: each histogram integrates to 1 */
        cnt[2 * b + 1] /= N * bw;
        ymax = fmax(ymax, fmax(cnt[2 * b], cnt[2 * b + 1]));
    }
    sn_plot_canvas cv;
    st = sn_plot_begin(ctx, path, SN_VIZ_PLOT_W, SN_VIZ_PLOT_H, &cv);
    if (st) {
        free(cnt);
        return st;
    }
    cairo_t *cr = cv.cr;
    sn_plot_axes ax = std_axes(40);
    double xlo = lo, xhi = hi, ylo = 0, yhi = ymax * 1.08;
    ax.x0 = xlo;
    ax.x1 = xhi;
    sn_plot_nice_range(&ylo, &yhi, 6);
    ax.y0 = 0;
    ax.y1 = yhi;
    char buf[160];
    snprintf(buf, sizeof buf, "Pair distances: %d same, %d different pairs", P, N);
    title(&cv, buf);
    sn_plot_draw_axes(cr, &ax, "Euclidean distance between the embeddings", "density", 0, 0);
    sn_plot_clip(cr, &ax);
    for (int k = 0; k < 2; k++) {
        sn_rgb col = sn_plot_class_colour(k == 0 ? 2 : 3);
        cairo_move_to(cr, sn_plot_x(&ax, lo), sn_plot_y(&ax, 0));
        for (int b = 0; b < bins; b++) {
            double yv = sn_plot_y(&ax, cnt[2 * b + k]);
            cairo_line_to(cr, sn_plot_x(&ax, lo + b * bw), yv);
            cairo_line_to(cr, sn_plot_x(&ax, lo + (b + 1) * bw), yv);
        }
        cairo_line_to(cr, sn_plot_x(&ax, hi), sn_plot_y(&ax, 0));
        sn_plot_set_colour(cr, col, 0.35);
        cairo_fill_preserve(cr);
        sn_plot_set_colour(cr, col, 1);
        cairo_set_line_width(cr, 2);
        cairo_stroke(cr);
    }
    int nleg = 2;
    if (threshold > 0 && isfinite(threshold)) {
        static const double dash[] = {8, 5};
        double tx = floor(sn_plot_x(&ax, threshold)) + 0.5;
        sn_plot_set_colour(cr, SN_PLOT_INK, 1);
        cairo_set_line_width(cr, 2);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, tx, ax.py0);
        cairo_line_to(cr, tx, ax.py1);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        snprintf(buf, sizeof buf, "threshold %.3g", threshold);
        int right = tx + 8 + sn_plot_text_width(cr, buf, 14, 1) < ax.px1 - 4;
        sn_plot_text(cr, right ? tx + 8 : tx - 8, ax.py0 + 10, buf, 14, right ? 0 : 1, 0, 1);
        nleg = 3;
    }
    cairo_restore(cr);
    char lp[64], ln[64];
    snprintf(lp, sizeof lp, "same class (%d)", P);
    snprintf(ln, sizeof ln, "different classes (%d)", N);
    sn_plot_legend_item leg[3] = {{lp, sn_plot_class_colour(2), SN_LEG_BOX},
                                  {ln, sn_plot_class_colour(3), SN_LEG_BOX},
                                  {"decision threshold", SN_PLOT_INK, SN_LEG_DASH}};
    sn_plot_legend_row(cr, (ax.px0 + ax.px1) / 2, 64, leg, nleg);
    free(cnt);
    return sn_plot_end(ctx, path, &cv);
}
