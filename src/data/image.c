/* image.c -- load one image file (PGM/PPM P2/P3/P5/P6, PNG, JPEG) as c x h x w uint8.
 *
 * Pipeline: decode to an interleaved 8-bit buffer (sh, sw, sc) with sc = 1 (grey) or 3
 * (RGB), convert channels, resize each plane, write planar (c, h, w).
 *   - Format is detected from the magic bytes, never the file name.
 *   - Samples with maxval != 255 (PNM, including 16-bit) are rescaled to 0..255 with
 *     rounding; 16-bit PNG is scaled the same way (png_set_scale_16).
 *   - Alpha (PNG grey+alpha, RGBA, tRNS) is composited over WHITE and dropped: a
 *     transparent background then reads as blank paper, which is what scanned
 *     signatures and documents expect. No gamma correction is applied.
 *   - RGB -> grey: round(0.299 R + 0.587 G + 0.114 B) (ITU-R 601 luma), done at the
 *     source resolution; grey -> RGB replicates the resized plane.
 *   - Resize is separable; per axis: area averaging (box filter with fractional
 *     overlaps) when shrinking, bilinear with pixel centres at i + 0.5 (edge clamped)
 *     when enlarging; equal sizes copy exactly. Results round to nearest.
 *   - JPEG (libjpeg, errors caught by setjmp/longjmp): grey, YCbCr/RGB, and CMYK/YCCK
 *     (Adobe-inverted values: R = C*K/255, ...; plain: R = (255-C)(255-K)/255). A
 *     warning that means lost image data (premature end of file or of a data segment,
 *     bad Huffman/arithmetic code, resync) is an error, not a grey-filled image.
 *   - Each side must be 1..16384, checked before any pixel buffer is allocated. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <jpeglib.h>
#include <jerror.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>

#define SN_IMG_MAX_SIDE 16384

typedef struct {
    int w, h, c;  /* c = 1 or 3 */
    uint8_t *px;  /* (h, w, c) interleaved */
} sn_img;

/* ------------------------------------------------------------------- PNM */

/* Next header integer: skips whitespace and '#' comments. -1 on EOF / junk / overflow. */
static long sn_pnm_int(FILE *fp) {
    int ch = fgetc(fp);
    for (;;) {
        while (ch != EOF && isspace(ch)) ch = fgetc(fp);
        if (ch != '#') break;
        while (ch != EOF && ch != '\n' && ch != '\r') ch = fgetc(fp);
    }
    if (ch == EOF || !isdigit(ch)) return -1;
    long v = 0;
    while (ch != EOF && isdigit(ch)) {
        v = v * 10 + (ch - '0');
        if (v > 1000000000L) return -1;
        ch = fgetc(fp);
    }
    if (ch != EOF && !isspace(ch) && ch != '#') return -1;
    if (ch == '#') ungetc(ch, fp);
    return v;
}

static sn_status sn_check_dims(sn_ctx *ctx, const char *path, long w, long h) {
    if (w <= 0 || h <= 0)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: zero or negative image size %ldx%ld", path, w, h);
    if (w > SN_IMG_MAX_SIDE || h > SN_IMG_MAX_SIDE)
        return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: image %ldx%ld too large (max %d per side)",
                       path, w, h, SN_IMG_MAX_SIDE);
    return SN_OK;
}

/* kind = '2','3','5','6' (after the 'P' already read). */
static sn_status sn_read_pnm(sn_ctx *ctx, const char *path, FILE *fp, int kind, sn_img *img) {
    const char *fmt = (kind == '2' || kind == '5') ? "PGM" : "PPM";
    long w = sn_pnm_int(fp), h = w < 0 ? -1 : sn_pnm_int(fp);
    long maxval = h < 0 ? -1 : sn_pnm_int(fp);
    if (w < 0 || h < 0 || maxval < 0)
        return sn_errf(ctx, SN_ERR_FORMAT,
                       "%s: bad P%c (%s) header: expected width, height and maxval as decimal "
                       "numbers",
                       path, kind, fmt);
    sn_status st = sn_check_dims(ctx, path, w, h);
    if (st != SN_OK) return st;
    if (maxval < 1 || maxval > 65535)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: %s maxval %ld out of range 1..65535", path, fmt,
                       maxval);
    img->w = (int)w;
    img->h = (int)h;
    img->c = (kind == '3' || kind == '6') ? 3 : 1;
    size_t n = (size_t)w * (size_t)h * (size_t)img->c; /* <= 16384^2 * 3: no overflow */
    int bps = maxval > 255 ? 2 : 1;
    /* A short file cannot hold the raster its header announces: say so before allocating
     * up to 805 MB for it. Binary: n * bps bytes. ASCII: at least 2 bytes per sample,
     * checked for large rasters only (small ones are parsed, naming the missing sample). */
    struct stat sb;
    long at = ftell(fp);
    int binary = kind == '5' || kind == '6';
    if (at >= 0 && fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode) && (binary || n > 65536)) {
        size_t left = sb.st_size > at ? (size_t)(sb.st_size - at) : 0;
        size_t need = binary ? n * (size_t)bps : 2 * n - 1;
        if (left < need)
            return sn_errf(ctx, SN_ERR_FORMAT,
                           "%s: truncated: expected %s%zu bytes of %s pixel data (%ldx%ld), got "
                           "%zu", path, binary ? "" : "at least ", need, fmt, w, h, left);
    }
    img->px = sn_malloc(n);
    if (!img->px) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, n);
    if (kind == '5' || kind == '6') {
        /* Binary raster follows the single whitespace that ended maxval. */
        const size_t chunk = 65536;
        unsigned char buf[65536];
        size_t total = n * (size_t)bps, done = 0;
        while (done < total) {
            size_t want = total - done < chunk ? total - done : chunk;
            want -= want % (size_t)bps;
            size_t got = fread(buf, 1, want, fp);
            for (size_t k = 0; k + (size_t)bps <= got; k += (size_t)bps) {
                long v = bps == 2 ? ((long)buf[k] << 8) | buf[k + 1] : buf[k];
                if (v > maxval)
                    return sn_errf(ctx, SN_ERR_FORMAT,
                                   "%s: sample %ld at byte %zu of the raster exceeds maxval %ld",
                                   path, v, done + k, maxval);
                img->px[(done + k) / (size_t)bps] = (uint8_t)((v * 255 + maxval / 2) / maxval);
            }
            done += got;
            if (got < want) {
                if (ferror(fp))
                    return sn_errf(ctx, SN_ERR_IO, "%s: read error: %s", path, strerror(errno));
                return sn_errf(ctx, SN_ERR_FORMAT,
                               "%s: truncated: expected %zu bytes of %s pixel data (%ldx%ld), "
                               "got %zu",
                               path, total, fmt, w, h, done);
            }
        }
        return SN_OK;
    }
    for (size_t k = 0; k < n; k++) {
        long v = sn_pnm_int(fp);
        if (v < 0)
            return sn_errf(ctx, SN_ERR_FORMAT,
                           "%s: truncated or malformed ASCII P%c: expected %zu samples, sample "
                           "%zu is missing or not a number",
                           path, kind, n, k);
        if (v > maxval)
            return sn_errf(ctx, SN_ERR_FORMAT, "%s: sample %zu value %ld exceeds maxval %ld",
                           path, k, v, maxval);
        img->px[k] = (uint8_t)((v * 255 + maxval / 2) / maxval);
    }
    return SN_OK;
}

/* ------------------------------------------------------------------- PNG */

typedef struct {
    FILE *fp;
    char msg[256];
    char warn[256]; /* last libpng warning: explains errors such as "Invalid IHDR data" */
    sn_img *img;
    uint8_t *rowbuf;   /* (sw * channels) decoded row, owned by caller */
    png_bytep *rows;   /* row pointers (interlaced images are read whole) */
    uint8_t *whole;    /* full decoded image for interlaced files */
    int oom;           /* failed for lack of memory (ours or libpng's) */
} sn_png_state;

static void sn_png_error(png_structp png, png_const_charp msg) {
    sn_png_state *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* libpng allocates through the library's wrappers (so fault injection reaches it); a
 * failed allocation makes libpng call png_error, which lands in sn_png_decode. */
static png_voidp sn_png_malloc(png_structp png, png_alloc_size_t n) {
    void *p = sn_malloc(n);
    if (!p) {
        sn_png_state *s = png_get_error_ptr(png);
        if (s) s->oom = 1;
    }
    return p;
}
static void sn_png_free(png_structp png, png_voidp p) {
    (void)png;
    free(p);
}

static void sn_png_warning(png_structp png, png_const_charp msg) {
    sn_png_state *s = png_get_error_ptr(png); /* kept, never printed */
    snprintf(s->warn, sizeof s->warn, "%s", msg);
}

/* fread-based reader that tells truncation apart from I/O errors. */
static void sn_png_read(png_structp png, png_bytep data, size_t len) {
    FILE *fp = png_get_io_ptr(png);
    if (fread(data, 1, len, fp) != len)
        png_error(png, ferror(fp) ? "read error" : "truncated (unexpected end of file)");
}

/* Composite one decoded pixel (nch = 1..4 channels) over white into dst (1 or 3). */
static void sn_png_pixel(const uint8_t *s, int nch, uint8_t *d) {
    int a = (nch == 2 || nch == 4) ? s[nch - 1] : 255;
    int nc = nch <= 2 ? 1 : 3;
    for (int k = 0; k < nc; k++) d[k] = (uint8_t)((s[k] * a + 255 * (255 - a) + 127) / 255);
}

/* All locals that live across setjmp are in *s (the caller's frame), so longjmp
 * cannot leave them indeterminate. */
static int sn_png_decode(png_structp png, png_infop info, sn_png_state *s) {
    if (setjmp(png_jmpbuf(png))) return -1;
    png_set_read_fn(png, s->fp, sn_png_read);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, SN_IMG_MAX_SIDE, SN_IMG_MAX_SIDE);
    png_read_info(png, info);
    png_set_expand(png);   /* palette -> RGB, grey < 8 bit -> 8 bit, tRNS -> alpha */
    png_set_scale_16(png); /* 16 -> 8 bit with rounding */
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int sw = (int)png_get_image_width(png, info), sh = (int)png_get_image_height(png, info);
    int nch = png_get_channels(png, info);
    if (png_get_bit_depth(png, info) != 8 || nch < 1 || nch > 4) {
        snprintf(s->msg, sizeof s->msg, "unexpected decoded layout (%d bits, %d channels)",
                 png_get_bit_depth(png, info), nch);
        return -1;
    }
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)sw * (size_t)nch) {
        snprintf(s->msg, sizeof s->msg, "unexpected row size %zu", rowbytes);
        return -1;
    }
    s->img->w = sw;
    s->img->h = sh;
    s->img->c = nch <= 2 ? 1 : 3;
    s->img->px = sn_malloc((size_t)sw * (size_t)sh * (size_t)s->img->c);
    if (!s->img->px) {
        snprintf(s->msg, sizeof s->msg, "out of memory");
        s->oom = 1;
        return -1;
    }
    if (passes > 1) {
        s->whole = sn_malloc(rowbytes * (size_t)sh);
        s->rows = sn_malloc(sizeof *s->rows * (size_t)sh);
        if (!s->whole || !s->rows) {
            snprintf(s->msg, sizeof s->msg, "out of memory");
            s->oom = 1;
            return -1;
        }
        for (int y = 0; y < sh; y++) s->rows[y] = s->whole + rowbytes * (size_t)y;
        png_read_image(png, s->rows);
    } else {
        s->rowbuf = sn_malloc(rowbytes);
        if (!s->rowbuf) {
            snprintf(s->msg, sizeof s->msg, "out of memory");
            s->oom = 1;
            return -1;
        }
    }
    for (int y = 0; y < sh; y++) {
        const uint8_t *src = s->whole ? s->whole + rowbytes * (size_t)y : s->rowbuf;
        if (!s->whole) png_read_row(png, s->rowbuf, NULL);
        uint8_t *dst = s->img->px + (size_t)y * (size_t)sw * (size_t)s->img->c;
        for (int x = 0; x < sw; x++)
            sn_png_pixel(src + (size_t)x * (size_t)nch, nch, dst + (size_t)x * (size_t)s->img->c);
    }
    png_read_end(png, NULL);
    return 0;
}

static sn_status sn_read_png(sn_ctx *ctx, const char *path, FILE *fp, sn_img *img) {
    sn_png_state s;
    memset(&s, 0, sizeof s);
    s.fp = fp;
    s.img = img;
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &s, sn_png_error,
                                               sn_png_warning, NULL, sn_png_malloc, sn_png_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory creating the PNG decoder", path);
    }
    int rc = sn_png_decode(png, info, &s);
    png_destroy_read_struct(&png, &info, NULL);
    free(s.rowbuf);
    free(s.rows);
    free(s.whole);
    if (rc != 0) {
        if (s.oom)
            return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory decoding the PNG", path);
        if (strstr(s.msg, "exceeds user limit") || strstr(s.warn, "exceeds user limit"))
            return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: PNG too large (max %d per side): %s",
                           path, SN_IMG_MAX_SIDE, s.warn[0] ? s.warn : s.msg);
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: corrupt or unsupported PNG: %s%s%s", path, s.msg,
                       s.warn[0] ? "; " : "", s.warn);
    }
    return SN_OK;
}

/* ------------------------------------------------------------------ JPEG */

typedef struct {
    struct jpeg_error_mgr pub; /* first member: libjpeg's err pointer is cast back */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int too_large;
    int oom;
} sn_jpeg_err;

static void sn_jpeg_error_exit(j_common_ptr cinfo) {
    sn_jpeg_err *e = (sn_jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level -1) that mean image data was lost become errors; traces are dropped. */
static void sn_jpeg_emit(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
        code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL)
        sn_jpeg_error_exit(cinfo);
}

typedef struct {
    struct jpeg_decompress_struct d;
    sn_jpeg_err err;
    sn_img *img;
    uint8_t *row; /* (sw * out_components) */
} sn_jpeg_state;

static int sn_jpeg_decode(sn_jpeg_state *s, FILE *fp) {
    if (setjmp(s->err.jb)) return -1;
    jpeg_create_decompress(&s->d);
    jpeg_stdio_src(&s->d, fp);
    jpeg_read_header(&s->d, TRUE);
    JDIMENSION sw = s->d.image_width, sh = s->d.image_height;
    if (sw == 0 || sh == 0 || sw > SN_IMG_MAX_SIDE || sh > SN_IMG_MAX_SIDE) {
        snprintf(s->err.msg, sizeof s->err.msg, "image %ux%u out of range 1..%d per side",
                 (unsigned)sw, (unsigned)sh, SN_IMG_MAX_SIDE);
        s->err.too_large = 1;
        return -1;
    }
    int cmyk = s->d.jpeg_color_space == JCS_CMYK || s->d.jpeg_color_space == JCS_YCCK;
    if (cmyk) s->d.out_color_space = JCS_CMYK;
    else if (s->d.jpeg_color_space == JCS_GRAYSCALE) s->d.out_color_space = JCS_GRAYSCALE;
    else s->d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&s->d);
    int nc = s->d.output_components;
    if ((cmyk && nc != 4) || (!cmyk && nc != 1 && nc != 3)) {
        snprintf(s->err.msg, sizeof s->err.msg, "unexpected decoded layout (%d components)", nc);
        return -1;
    }
    s->img->w = (int)sw;
    s->img->h = (int)sh;
    s->img->c = nc == 1 ? 1 : 3;
    s->img->px = sn_malloc((size_t)sw * sh * (size_t)s->img->c);
    s->row = sn_malloc((size_t)sw * (size_t)nc);
    if (!s->img->px || !s->row) {
        snprintf(s->err.msg, sizeof s->err.msg, "out of memory");
        s->err.oom = 1;
        return -1;
    }
    int inverted = s->d.saw_Adobe_marker; /* Adobe stores CMYK inverted (0 = full ink) */
    while (s->d.output_scanline < sh) {
        uint8_t *dst = s->img->px + (size_t)s->d.output_scanline * sw * (size_t)s->img->c;
        JSAMPROW r = nc == 4 ? s->row : dst;
        if (jpeg_read_scanlines(&s->d, &r, 1) != 1) {
            snprintf(s->err.msg, sizeof s->err.msg, "no scanline returned");
            return -1;
        }
        if (nc != 4) continue;
        for (JDIMENSION x = 0; x < sw; x++) {
            const uint8_t *p = s->row + 4 * (size_t)x;
            unsigned k = inverted ? p[3] : 255u - p[3];
            for (int j = 0; j < 3; j++) {
                unsigned v = inverted ? p[j] : 255u - p[j];
                dst[3 * (size_t)x + (size_t)j] = (uint8_t)((v * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&s->d);
    return 0;
}

static sn_status sn_read_jpeg(sn_ctx *ctx, const char *path, FILE *fp, sn_img *img) {
    sn_jpeg_state s;
    memset(&s, 0, sizeof s);
    s.img = img;
    s.d.err = jpeg_std_error(&s.err.pub);
    s.err.pub.error_exit = sn_jpeg_error_exit;
    s.err.pub.emit_message = sn_jpeg_emit;
    if (fseek(fp, 0, SEEK_SET) != 0)
        return sn_errf(ctx, SN_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    int rc = sn_jpeg_decode(&s, fp);
    jpeg_destroy_decompress(&s.d);
    free(s.row);
    if (rc == 0) return SN_OK;
    if (s.err.oom || s.err.pub.msg_code == JERR_OUT_OF_MEMORY)
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory decoding the JPEG", path);
    if (s.err.too_large)
        return sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: JPEG too large: %s", path, s.err.msg);
    return sn_errf(ctx, SN_ERR_FORMAT, "%s: corrupt, truncated or unsupported JPEG: %s", path,
                   s.err.msg);
}

/* ---------------------------------------------------------------- resize */

/* Per-axis filter: output o reads taps[o*ntap .. ] at source start[o]. */
typedef struct {
    int ntap;
    int *start;
    double *wt;
} sn_axis;

static int sn_axis_init(sn_axis *a, int src, int dst) {
    double scale = (double)src / (double)dst;
    a->ntap = src > dst ? (int)ceil(scale) + 1 : 2;
    a->start = sn_malloc(sizeof *a->start * (size_t)dst);
    a->wt = sn_calloc((size_t)dst * (size_t)a->ntap, sizeof *a->wt);
    if (!a->start || !a->wt) return 0;
    for (int o = 0; o < dst; o++) {
        double *w = a->wt + (size_t)o * (size_t)a->ntap;
        if (src == dst) {
            a->start[o] = o;
            w[0] = 1.0;
        } else if (src > dst) { /* area: overlap of [o*scale, (o+1)*scale) with pixels */
            double lo = o * scale, hi = (o + 1) * scale;
            int i0 = (int)floor(lo);
            a->start[o] = i0;
            for (int t = 0; t < a->ntap && i0 + t < src; t++) {
                double l = fmax(lo, i0 + t), r = fmin(hi, i0 + t + 1.0);
                if (r > l) w[t] = (r - l) / scale;
            }
        } else { /* bilinear, centres at i + 0.5, clamped at the edges */
            double x = (o + 0.5) * scale - 0.5;
            if (x < 0) x = 0;
            if (x > src - 1) x = src - 1;
            int i0 = (int)floor(x);
            if (i0 > src - 2) i0 = src > 1 ? src - 2 : 0;
            double f = x - i0;
            a->start[o] = i0;
            w[0] = 1.0 - f;
            if (src > 1) w[1] = f;
        }
    }
    return 1;
}

static void sn_axis_free(sn_axis *a) {
    free(a->start);
    free(a->wt);
}

/* Resize channel k of interleaved img into planar dst (h, w). tmp: (img->h, w) doubles. */
static void sn_resize_plane(const sn_img *img, int k, const sn_axis *ax, const sn_axis *ay,
                            int h, int w, double *tmp, uint8_t *dst) {
    for (int y = 0; y < img->h; y++) {
        const uint8_t *row = img->px + (size_t)y * (size_t)img->w * (size_t)img->c;
        for (int x = 0; x < w; x++) {
            const double *wt = ax->wt + (size_t)x * (size_t)ax->ntap;
            double acc = 0;
            for (int t = 0; t < ax->ntap; t++)
                if (wt[t] != 0) acc += wt[t] * row[(size_t)(ax->start[x] + t) * (size_t)img->c + (size_t)k];
            tmp[(size_t)y * (size_t)w + (size_t)x] = acc;
        }
    }
    for (int y = 0; y < h; y++) {
        const double *wt = ay->wt + (size_t)y * (size_t)ay->ntap;
        for (int x = 0; x < w; x++) {
            double acc = 0;
            for (int t = 0; t < ay->ntap; t++)
                if (wt[t] != 0) acc += wt[t] * tmp[(size_t)(ay->start[y] + t) * (size_t)w + (size_t)x];
            long v = lround(acc);
            dst[(size_t)y * (size_t)w + (size_t)x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* In place RGB -> grey (ITU-R 601 luma, rounded). */
static void sn_rgb_to_grey(sn_img *img) {
    size_t n = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + 3 * i;
        img->px[i] = (uint8_t)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
    }
    img->c = 1;
}

/* ------------------------------------------------------------------ entry */

sn_status sn_image_load(sn_ctx *ctx, const char *path, int c, int h, int w, uint8_t *out) {
    if (!path || !out) return sn_errf(ctx, SN_ERR_ARG, "sn_image_load: NULL path or output");
    if (c != 1 && c != 3)
        return sn_errf(ctx, SN_ERR_ARG, "%s: requested %d channels (expected 1 or 3)", path, c);
    if (h <= 0 || w <= 0 || h > SN_IMG_MAX_SIDE || w > SN_IMG_MAX_SIDE)
        return sn_errf(ctx, SN_ERR_ARG, "%s: requested size %dx%d out of range 1..%d", path, h,
                       w, SN_IMG_MAX_SIDE);
    FILE *fp = fopen(path, "rb");
    if (!fp) return sn_errf(ctx, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8];
    size_t ns = fread(sig, 1, 2, fp);
    sn_img img = {0, 0, 0, NULL};
    sn_status st;
    if (ns < 2 && ferror(fp)) {
        st = sn_errf(ctx, SN_ERR_IO, "%s: read error: %s", path, strerror(errno));
    } else if (ns == 2 && sig[0] == 'P' && sig[1] && strchr("2356", sig[1])) {
        st = sn_read_pnm(ctx, path, fp, sig[1], &img);
    } else if (ns == 2 && sig[0] == 0x89 && sig[1] == 'P') {
        ns += fread(sig + 2, 1, 6, fp);
        if (ns == 8 && png_sig_cmp(sig, 0, 8) == 0)
            st = sn_read_png(ctx, path, fp, &img);
        else
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: bad PNG signature", path);
    } else if (ns == 2 && sig[0] == 0xFF && sig[1] == 0xD8) {
        if (fread(sig + 2, 1, 1, fp) == 1 && sig[2] == 0xFF)
            st = sn_read_jpeg(ctx, path, fp, &img);
        else
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: bad JPEG signature (expected FF D8 FF)", path);
    } else {
        st = sn_errf(ctx, SN_ERR_UNSUPPORTED,
                     "%s: unsupported image format%s (supported: PGM P2/P5, PPM P3/P6, PNG, JPEG)",
                     path,
                     ns == 0 ? " (empty file)" : "");
    }
    fclose(fp);
    if (st != SN_OK) {
        free(img.px);
        return st;
    }
    if (c == 1 && img.c == 3) sn_rgb_to_grey(&img);
    sn_axis ax = {0, NULL, NULL}, ay = {0, NULL, NULL};
    double *tmp = sn_malloc(sizeof *tmp * (size_t)img.h * (size_t)w);
    if (tmp && sn_axis_init(&ax, img.w, w) && sn_axis_init(&ay, img.h, h)) {
        size_t plane = (size_t)h * (size_t)w;
        for (int k = 0; k < img.c; k++)
            sn_resize_plane(&img, k, &ax, &ay, h, w, tmp, out + (size_t)k * plane);
        if (c == 3 && img.c == 1) {
            memcpy(out + plane, out, plane);
            memcpy(out + 2 * plane, out, plane);
        }
    } else {
        st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory resizing %dx%d to %dx%d", path, img.h,
                     img.w, h, w);
    }
    free(tmp);
    sn_axis_free(&ax);
    sn_axis_free(&ay);
    free(img.px);
    return st;
}
