/* test_image.c -- sn_image_load: PGM/PPM (ASCII, binary, 16-bit), PNG (grey, RGB,
 * RGBA, 16-bit, palette, interlaced) and JPEG (grey, RGB, CMYK) decoding, channel
 * conversion, resizing, and clean errors (naming the file) on malformed input, including
 * byte-flip and truncation sweeps. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "testutil.h"

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[512];
static sn_ctx *g_ctx;

static const char *tmp_path(const char *name) {
    static char p[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    if (n) CHECK(fwrite(data, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

/* Header text followed by n raw bytes. */
static void write_pnm(const char *path, const char *hdr, const void *data, size_t n) {
    size_t hl = strlen(hdr);
    unsigned char *buf = malloc(hl + n + 1);
    CHECK(buf != NULL);
    if (!buf) return;
    memcpy(buf, hdr, hl);
    if (n) memcpy(buf + hl, data, n);
    write_bytes(path, buf, hl + n);
    free(buf);
}

static size_t read_all(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* rows: h rows of rowbytes each. palette may be NULL. Returns 0 on success. */
static int write_png(const char *path, int w, int h, int color, int depth, int interlace,
                     const unsigned char *pix, int rowbytes, const png_color *pal, int npal) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    if (!png || !info || !rows || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(pix + (size_t)y * (size_t)rowbytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return fclose(f) == 0 ? 0 : -1;
}

static sn_status load(const char *path, int c, int h, int w, uint8_t *out) {
    return sn_image_load(g_ctx, path, c, h, w, out);
}

/* Expect failure with a message naming the file and containing `text`. */
static void expect_error(const char *path, const char *name, const char *text) {
    uint8_t out[64 * 64 * 3];
    sn_status st = load(path, 1, 8, 8, out);
    const char *m = sn_ctx_error(g_ctx);
    int ok = st != SN_OK && strstr(m, name) && (!text || strstr(m, text));
    CHECK(ok);
    if (!ok) fprintf(stderr, "  %s: status %d, message: %s\n", name, (int)st, m);
    else printf("  %-14s -> %s\n", name, m);
}

static int all_equal(const uint8_t *p, size_t n, int v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

static void test_pnm(void) {
    const uint8_t g[12] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 255};
    uint8_t out[3 * 64 * 64];
    write_pnm(tmp_path("a.pgm"), "P5\n# comment\n4 3\n255\n", g, 12);
    CHECK(load(tmp_path("a.pgm"), 1, 3, 4, out) == SN_OK && memcmp(out, g, 12) == 0);
    /* grey -> RGB replicates */
    CHECK(load(tmp_path("a.pgm"), 3, 3, 4, out) == SN_OK);
    CHECK(memcmp(out, g, 12) == 0 && memcmp(out + 12, g, 12) == 0 &&
          memcmp(out + 24, g, 12) == 0);

    write_pnm(tmp_path("a2.pgm"),
              "P2 # ascii\n4 3 255\n0 10 20 30\n40 50 60 70 # row comment\n80 90 200 255\n",
              NULL, 0);
    CHECK(load(tmp_path("a2.pgm"), 1, 3, 4, out) == SN_OK && memcmp(out, g, 12) == 0);

    /* maxval 15 (ASCII) and 65535 (binary 16-bit) are rescaled to 0..255 */
    write_pnm(tmp_path("m15.pgm"), "P2\n3 1\n15\n0 7 15\n", NULL, 0);
    CHECK(load(tmp_path("m15.pgm"), 1, 1, 3, out) == SN_OK);
    CHECK(out[0] == 0 && out[1] == 119 && out[2] == 255);
    const uint8_t g16[6] = {0x00, 0x00, 0x80, 0x00, 0xff, 0xff};
    write_pnm(tmp_path("g16.pgm"), "P5 3 1 65535\n", g16, 6);
    CHECK(load(tmp_path("g16.pgm"), 1, 1, 3, out) == SN_OK);
    CHECK(out[0] == 0 && out[1] == 128 && out[2] == 255);

    /* PPM: 2x2 RGB, planar output, and luma */
    const uint8_t rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200};
    write_pnm(tmp_path("c.ppm"), "P6\n2 2\n255\n", rgb, 12);
    CHECK(load(tmp_path("c.ppm"), 3, 2, 2, out) == SN_OK);
    const uint8_t planar[12] = {255, 0, 0, 100, 0, 255, 0, 150, 0, 0, 255, 200};
    CHECK(memcmp(out, planar, 12) == 0);
    CHECK(load(tmp_path("c.ppm"), 1, 2, 2, out) == SN_OK);
    /* round(0.299*255)=76, round(0.587*255)=150, round(0.114*255)=29, 100/150/200 -> 140.75 */
    CHECK(out[0] == 76 && out[1] == 150 && out[2] == 29 && out[3] == 141);
    write_pnm(tmp_path("c3.ppm"), "P3\n2 2\n255\n255 0 0 0 255 0\n0 0 255 100 150 200\n", NULL,
              0);
    CHECK(load(tmp_path("c3.ppm"), 3, 2, 2, out) == SN_OK && memcmp(out, planar, 12) == 0);
}

static void test_resize(void) {
    enum { W = 37, H = 23 };
    static uint8_t img[W * H], out[3 * 200 * 200];
    memset(img, 200, sizeof img);
    write_pnm(tmp_path("const.pgm"), "P5 37 23 255\n", img, sizeof img);
    const int sizes[][2] = {{10, 7}, {60, 50}, {5, 90}, {1, 1}, {23, 37}, {200, 3}};
    for (int i = 0; i < 6; i++) {
        int h = sizes[i][0], w = sizes[i][1];
        CHECK(load(tmp_path("const.pgm"), 3, h, w, out) == SN_OK);
        CHECK(all_equal(out, (size_t)3 * h * w, 200));
    }
    /* horizontal gradient 0,32,..,224 (8 wide, 4 high) */
    uint8_t grad[32];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 8; x++) grad[y * 8 + x] = (uint8_t)(32 * x);
    write_pnm(tmp_path("grad.pgm"), "P5 8 4 255\n", grad, 32);
    /* shrink 2x: area average of pixel pairs */
    CHECK(load(tmp_path("grad.pgm"), 1, 2, 4, out) == SN_OK);
    CHECK(out[0] == 16 && out[1] == 80 && out[2] == 144 && out[3] == 208);
    CHECK(memcmp(out, out + 4, 4) == 0);
    /* shrink 8 -> 3: each output averages 8/3 pixels; the mean is preserved */
    CHECK(load(tmp_path("grad.pgm"), 1, 4, 3, out) == SN_OK);
    CHECK(out[0] == 28 && out[1] == 112 && out[2] == 196); /* (0+32+64*2/3)/(8/3) = 28 */
    CHECK(out[0] + out[1] + out[2] == 336);
    /* enlarge 2x: bilinear with half-pixel centres, edges clamped */
    CHECK(load(tmp_path("grad.pgm"), 1, 8, 16, out) == SN_OK);
    CHECK(out[0] == 0 && out[1] == 8 && out[2] == 24 && out[14] == 216 && out[15] == 224);
    int mono = 1;
    for (int x = 1; x < 16; x++) mono &= out[x] >= out[x - 1];
    CHECK(mono && memcmp(out, out + 16 * 7, 16) == 0);
}

static void test_png(void) {
    uint8_t out[3 * 64 * 64];
    const uint8_t g[12] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 255};
    CHECK(write_png(tmp_path("g.png"), 4, 3, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, g, 4,
                    NULL, 0) == 0);
    CHECK(load(tmp_path("g.png"), 1, 3, 4, out) == SN_OK && memcmp(out, g, 12) == 0);
    CHECK(write_png(tmp_path("gi.png"), 4, 3, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_ADAM7, g, 4,
                    NULL, 0) == 0);
    CHECK(load(tmp_path("gi.png"), 1, 3, 4, out) == SN_OK && memcmp(out, g, 12) == 0);

    const uint8_t rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200};
    const uint8_t planar[12] = {255, 0, 0, 100, 0, 255, 0, 150, 0, 0, 255, 200};
    CHECK(write_png(tmp_path("c.png"), 2, 2, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, rgb, 6,
                    NULL, 0) == 0);
    CHECK(load(tmp_path("c.png"), 3, 2, 2, out) == SN_OK && memcmp(out, planar, 12) == 0);
    CHECK(load(tmp_path("c.png"), 1, 2, 2, out) == SN_OK);
    CHECK(out[0] == 76 && out[1] == 150 && out[2] == 29 && out[3] == 141);

    /* RGBA composited over white: opaque keeps colour, transparent -> 255, half -> mix */
    const uint8_t rgba[8] = {10, 20, 30, 255, 0, 0, 0, 0};
    CHECK(write_png(tmp_path("a.png"), 2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE,
                    rgba, 8, NULL, 0) == 0);
    CHECK(load(tmp_path("a.png"), 3, 1, 2, out) == SN_OK);
    CHECK(out[0] == 10 && out[2] == 20 && out[4] == 30 && out[1] == 255 && out[3] == 255 &&
          out[5] == 255);
    const uint8_t ga[4] = {0, 255, 0, 128};
    CHECK(write_png(tmp_path("ga.png"), 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE,
                    ga, 4, NULL, 0) == 0);
    CHECK(load(tmp_path("ga.png"), 1, 1, 2, out) == SN_OK && out[0] == 0 && out[1] == 127);

    /* 16-bit grey (big-endian samples) */
    const uint8_t g16[6] = {0x00, 0x00, 0x80, 0x00, 0xff, 0xff};
    CHECK(write_png(tmp_path("g16.png"), 3, 1, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, g16,
                    6, NULL, 0) == 0);
    CHECK(load(tmp_path("g16.png"), 1, 1, 3, out) == SN_OK);
    CHECK(out[0] == 0 && out[1] == 128 && out[2] == 255);

    /* 2-bit palette */
    const png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    const uint8_t idx[1] = {0x1b}; /* indices 0,1,2,3 */
    CHECK(write_png(tmp_path("p.png"), 4, 1, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE, idx,
                    1, pal, 4) == 0);
    CHECK(load(tmp_path("p.png"), 3, 1, 4, out) == SN_OK);
    const uint8_t pplanar[12] = {0, 255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255};
    CHECK(memcmp(out, pplanar, 12) == 0);
}

static void test_malformed(void) {
    const uint8_t g[12] = {0};
    write_pnm(tmp_path("trunc.pgm"), "P5\n4 3\n255\n", g, 7);
    expect_error(tmp_path("trunc.pgm"), "trunc.pgm", "truncated: expected 12 bytes");
    write_pnm(tmp_path("trunc2.pgm"), "P2\n4 3\n255\n1 2 3", NULL, 0);
    expect_error(tmp_path("trunc2.pgm"), "trunc2.pgm", "sample 3 is missing");
    write_pnm(tmp_path("gif.gif"), "GIF89a\x01\x00\x01\x00", NULL, 0);
    expect_error(tmp_path("gif.gif"), "gif.gif", "supported: PGM P2/P5, PPM P3/P6, PNG, JPEG");
    write_pnm(tmp_path("p4.pbm"), "P4\n8 1\n\xff", NULL, 0);
    expect_error(tmp_path("p4.pbm"), "p4.pbm", "unsupported image format");
    write_pnm(tmp_path("zerow.pgm"), "P5\n0 3\n255\n", NULL, 0);
    expect_error(tmp_path("zerow.pgm"), "zerow.pgm", "zero or negative image size 0x3");
    write_pnm(tmp_path("huge.pgm"), "P5\n100000 100000\n255\n", g, 12);
    expect_error(tmp_path("huge.pgm"), "huge.pgm", "too large");
    write_pnm(tmp_path("maxv.pgm"), "P5\n4 3\n70000\n", g, 12);
    expect_error(tmp_path("maxv.pgm"), "maxv.pgm", "maxval 70000");
    const uint8_t big[2] = {9, 10};
    write_pnm(tmp_path("over.pgm"), "P5 2 1 9\n", big, 2);
    expect_error(tmp_path("over.pgm"), "over.pgm", "exceeds maxval 9");
    write_pnm(tmp_path("hdr.pgm"), "P5\n4 x\n255\n", g, 12);
    expect_error(tmp_path("hdr.pgm"), "hdr.pgm", "bad P5 (PGM) header");
    write_bytes(tmp_path("empty.png"), "", 0);
    expect_error(tmp_path("empty.png"), "empty.png", "empty file");
    expect_error(tmp_path("missing.png"), "missing.png", "cannot open");
    expect_error(g_dir, g_dir, NULL); /* a directory */
    uint8_t out[8 * 8];
    CHECK(sn_image_load(g_ctx, tmp_path("a.pgm"), 2, 8, 8, out) == SN_ERR_ARG);
    CHECK(sn_image_load(g_ctx, tmp_path("a.pgm"), 1, 0, 8, out) == SN_ERR_ARG);

    /* PNG: corrupt the image data after the header, and a huge declared size */
    static unsigned char png[4096], bad[4096];
    static uint8_t px[32 * 32];
    for (int i = 0; i < 32 * 32; i++) px[i] = (uint8_t)(i * 7);
    CHECK(write_png(tmp_path("ok.png"), 32, 32, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, px,
                    32, NULL, 0) == 0);
    size_t n = read_all(tmp_path("ok.png"), png, sizeof png);
    CHECK(n > 60 && n < sizeof png);
    memcpy(bad, png, n);
    for (size_t i = 41; i < 51; i++) bad[i] ^= 0x5a; /* inside IDAT (after 33-byte header) */
    write_bytes(tmp_path("corrupt.png"), bad, n);
    expect_error(tmp_path("corrupt.png"), "corrupt.png", "corrupt or unsupported PNG");
    write_bytes(tmp_path("cut.png"), png, n / 2);
    expect_error(tmp_path("cut.png"), "cut.png", "truncated");
    write_bytes(tmp_path("sig.png"), "\x89PNG\r\n\x1a", 7);
    expect_error(tmp_path("sig.png"), "sig.png", "bad PNG signature");
    uint8_t *wide = calloc(1, 20000);
    CHECK(wide != NULL);
    if (wide)
        CHECK(write_png(tmp_path("wide.png"), 20000, 1, PNG_COLOR_TYPE_GRAY, 8,
                        PNG_INTERLACE_NONE, wide, 20000, NULL, 0) == 0);
    free(wide);
    expect_error(tmp_path("wide.png"), "wide.png", "too large");

    /* sweeps: every single-byte flip and every truncation must fail cleanly or decode */
    int clean = 1, n_err = 0;
    static uint8_t big_out[3 * 16 * 16];
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, png, n);
        bad[i] ^= 0xff;
        write_bytes(tmp_path("flip.png"), bad, n);
        sn_status st = load(tmp_path("flip.png"), 3, 16, 16, big_out);
        if (st != SN_OK) {
            n_err++;
            clean &= strstr(sn_ctx_error(g_ctx), "flip.png") != NULL;
        }
        write_bytes(tmp_path("cutn.png"), png, i);
        st = load(tmp_path("cutn.png"), 1, 16, 16, big_out);
        clean &= st != SN_OK && strstr(sn_ctx_error(g_ctx), "cutn.png") != NULL;
    }
    CHECK(clean && n_err > (int)n / 2);
    printf("  PNG sweep: %zu flips (%d rejected) and %zu truncations, all clean\n", n, n_err, n);
    unsigned char pgm[64];
    int hl = snprintf((char *)pgm, sizeof pgm, "P5\n4 3\n255\n");
    memcpy(pgm + hl, g, 12);
    for (int i = 0; i < hl + 12; i++) {
        write_bytes(tmp_path("cutn.pgm"), pgm, (size_t)i);
        clean &= load(tmp_path("cutn.pgm"), 1, 4, 4, big_out) != SN_OK &&
                 strstr(sn_ctx_error(g_ctx), "cutn.pgm") != NULL;
    }
    CHECK(clean);
}

/* JPEG of w x h with nc components (1 grey, 3 RGB, 4 CMYK) at quality q. 0 on success. */
static int write_jpeg(const char *path, int w, int h, int nc, const uint8_t *pix, int q) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = nc;
    c.in_color_space = nc == 1 ? JCS_GRAYSCALE : nc == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, q, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(pix + (size_t)c.next_scanline * (size_t)w * (size_t)nc);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f) == 0 ? 0 : -1;
}

static int max_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (d > m) m = d;
    }
    return m;
}

static void test_jpeg(void) {
    enum { W = 16, H = 8 };
    static uint8_t g[W * H], rgb[W * H * 3], cmyk[W * H * 4], out[3 * W * H], want[3 * W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            g[y * W + x] = (uint8_t)(x * 12 + y * 6);
            uint8_t *p = rgb + (y * W + x) * 3, *q = cmyk + (y * W + x) * 4;
            p[0] = 200, p[1] = (uint8_t)(60 + 8 * x), p[2] = 30;
            q[0] = 100, q[1] = 140, q[2] = 180, q[3] = 200;
        }
    CHECK(write_jpeg(tmp_path("g.jpg"), W, H, 1, g, 100) == 0);
    CHECK(load(tmp_path("g.jpg"), 1, H, W, out) == SN_OK);
    CHECK(max_abs_diff(out, g, W * H) <= 2);
    CHECK(load(tmp_path("g.jpg"), 3, H, W, out) == SN_OK);
    CHECK(max_abs_diff(out + 2 * W * H, g, W * H) <= 2);
    /* RGB: planar output; smooth colours survive quality 100 within a few levels */
    CHECK(write_jpeg(tmp_path("c.jpg"), W, H, 3, rgb, 100) == 0);
    CHECK(load(tmp_path("c.jpg"), 3, H, W, out) == SN_OK);
    for (int i = 0; i < W * H; i++)
        for (int k = 0; k < 3; k++) want[k * W * H + i] = rgb[3 * i + k];
    int d = max_abs_diff(out, want, 3 * W * H);
    CHECK(d <= 6);
    printf("  JPEG RGB q100: max |diff| %d\n", d);
    CHECK(load(tmp_path("c.jpg"), 1, H / 2, W / 2, out) == SN_OK);
    /* CMYK (libjpeg writes an Adobe marker: values read as inverted, R = C*K/255) */
    CHECK(write_jpeg(tmp_path("k.jpg"), W, H, 4, cmyk, 100) == 0);
    CHECK(load(tmp_path("k.jpg"), 3, H, W, out) == SN_OK);
    const int e[3] = {100 * 200 / 255, 140 * 200 / 255, 180 * 200 / 255};
    int okc = 1;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < W * H; i++) okc &= abs(out[k * W * H + i] - e[k]) <= 3;
    CHECK(okc);

    /* errors: bad signature, truncation sweep, huge size, byte flips */
    write_bytes(tmp_path("sig.jpg"), "\xff\xd8\x00\x01", 4);
    expect_error(tmp_path("sig.jpg"), "sig.jpg", "bad JPEG signature");
    static unsigned char jpg[8192], bad[8192];
    size_t n = read_all(tmp_path("c.jpg"), jpg, sizeof jpg);
    CHECK(n > 300 && n < sizeof jpg);
    write_bytes(tmp_path("cut.jpg"), jpg, n - 10);
    expect_error(tmp_path("cut.jpg"), "cut.jpg", "Premature end of JPEG file");
    int clean = 1, n_err = 0;
    for (size_t i = 3; i < n - 2; i++) { /* dropping only the EOI marker still decodes */
        write_bytes(tmp_path("cutn.jpg"), jpg, i);
        clean &= load(tmp_path("cutn.jpg"), 3, 4, 4, out) != SN_OK &&
                 strstr(sn_ctx_error(g_ctx), "cutn.jpg") != NULL;
    }
    CHECK(clean);
    for (size_t i = 3; i < n; i++) {
        memcpy(bad, jpg, n);
        bad[i] ^= 0xff;
        write_bytes(tmp_path("flip.jpg"), bad, n);
        if (load(tmp_path("flip.jpg"), 3, 4, 4, out) != SN_OK) {
            n_err++;
            clean &= strstr(sn_ctx_error(g_ctx), "flip.jpg") != NULL;
        }
    }
    CHECK(clean && n_err > 0);
    printf("  JPEG sweep: %zu truncations and %zu flips (%d rejected), all clean\n", n - 5,
           n - 3, n_err);
    uint8_t *wide = calloc(1, 20000);
    CHECK(wide != NULL);
    if (wide) CHECK(write_jpeg(tmp_path("wide.jpg"), 20000, 1, 1, wide, 50) == 0);
    free(wide);
    expect_error(tmp_path("wide.jpg"), "wide.jpg", "out of range 1..16384");
}

static void remove_all(void) {
    const char *names[] = {"a.pgm",    "a2.pgm",     "m15.pgm",  "g16.pgm",   "c.ppm",
                           "c3.ppm",   "const.pgm",  "grad.pgm", "g.png",     "gi.png",
                           "c.png",    "a.png",      "ga.png",   "g16.png",   "p.png",
                           "trunc.pgm", "trunc2.pgm", "gif.gif", "p4.pbm",    "zerow.pgm",
                           "huge.pgm", "maxv.pgm",   "over.pgm", "hdr.pgm",   "empty.png",
                           "ok.png",   "corrupt.png", "cut.png", "sig.png",   "wide.png",
                           "flip.png", "cutn.png",   "cutn.pgm", "g.jpg",     "c.jpg",
                           "k.jpg",    "sig.jpg",    "cut.jpg",  "cutn.jpg",  "flip.jpg",
                           "wide.jpg"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) remove(tmp_path(names[i]));
    rmdir(g_dir);
}

int main(void) {
    g_ctx = sn_ctx_create(1);
    CHECK(g_ctx != NULL);
    if (!g_ctx) return tu_finish("test_image");
    snprintf(g_dir, sizeof g_dir, "%s/sn_image_%ld", tu_tmpdir(), (long)getpid());
    CHECK(mkdir(g_dir, 0755) == 0);
    test_pnm();
    test_resize();
    test_png();
    test_malformed();
    test_jpeg();
    remove_all();
    sn_ctx_free(g_ctx);
    return tu_finish("test_image");
}
