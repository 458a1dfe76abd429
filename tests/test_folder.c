/* test_folder.c -- "folder:PATH" datasets on temporary trees of small PGM/PNG/JPEG files:
 * hash split (checked against an independent FNV-1a), train/test sub-folders, class
 * order and names, hidden entries, skipped non-images (warning through the log), and
 * errors that name the file: corrupt PNG, truncated JPEG, empty class, empty root. */
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

#define MAX_CLEAN 512
static char g_clean[MAX_CLEAN][700]; /* created paths, removed in reverse order */
static int g_nclean;
static sn_ctx *g_ctx;
static int g_warns;
static char g_last_warn[1024];

static void on_log(void *user, int level, const char *msg) {
    (void)user;
    if (level != SN_LOG_WARN) return;
    g_warns++;
    snprintf(g_last_warn, sizeof g_last_warn, "%s", msg);
}

static const char *track(const char *p) {
    if (g_nclean < MAX_CLEAN) snprintf(g_clean[g_nclean++], sizeof g_clean[0], "%s", p);
    return p;
}

static void cleanup(void) {
    while (g_nclean > 0) remove(g_clean[--g_nclean]);
}

static const char *join(const char *a, const char *b) {
    static char p[8][700];
    static int k;
    k = (k + 1) % 8;
    int n = snprintf(p[k], sizeof p[k], "%s/%s", a, b);
    CHECK(n > 0 && n < (int)sizeof p[k]);
    return p[k];
}

static void mkdir_t(const char *p) {
    CHECK(mkdir(p, 0755) == 0);
    track(p);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(track(path), "wb");
    CHECK(f != NULL);
    if (!f) return;
    if (n) CHECK(fwrite(data, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

/* Solid grey 5x4 images in three formats. */
static void write_pgm(const char *path, int v) {
    unsigned char buf[64];
    int hl = snprintf((char *)buf, sizeof buf, "P5\n5 4\n255\n");
    memset(buf + hl, v, 20);
    write_bytes(path, buf, (size_t)hl + 20);
}

static void write_png_grey(const char *path, int v) {
    FILE *f = fopen(track(path), "wb");
    CHECK(f != NULL);
    if (!f) return;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char row[6];
    memset(row, v, sizeof row);
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        CHECK(0);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, 6, 3, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < 3; y++) png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    CHECK(fclose(f) == 0);
}

/* Solid RGB (v,v,v) 16x16 JPEG at quality 100 (decodes to v +- 1). */
static void write_jpeg_grey(const char *path, int v) {
    FILE *f = fopen(track(path), "wb");
    CHECK(f != NULL);
    if (!f) return;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = 16;
    c.image_height = 16;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[48];
    memset(row, v, sizeof row);
    JSAMPROW r = row;
    while (c.next_scanline < 16) jpeg_write_scanlines(&c, &r, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    CHECK(fclose(f) == 0);
}

/* Image of file number i in a class: format by i % 3, grey value from (class, i). */
static int value_of(int cls, int i) { return 20 + cls * 70 + i * 5; }

static void write_image(const char *dir, int cls, int i) {
    char name[64];
    const char *ext = i % 3 == 0 ? "pgm" : i % 3 == 1 ? "png" : "jpg";
    snprintf(name, sizeof name, "img_%02d.%s", i, ext);
    int v = value_of(cls, i);
    if (i % 3 == 0) write_pgm(join(dir, name), v);
    else if (i % 3 == 1) write_png_grey(join(dir, name), v);
    else write_jpeg_grey(join(dir, name), v);
}

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static sn_status open_folder(const char *root, const char *split, double frac, int c,
                             sn_dataset **out) {
    char name[700];
    int n = snprintf(name, sizeof name, "folder:%s", root);
    CHECK(n > 0 && n < (int)sizeof name);
    sn_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.test_fraction = frac;
    o.c = c;
    o.h = 4;
    o.w = 4;
    return sn_dataset_open(g_ctx, name, split, &o, out);
}

/* Image j of ds is solid v (+-tol in JPEG) in every channel. */
static int solid(const sn_dataset *ds, int j, int v, int tol) {
    size_t img = (size_t)ds->c * ds->h * ds->w;
    for (size_t k = 0; k < img; k++) {
        int d = ds->pixels[(size_t)j * img + k] - v;
        if (d < -tol || d > tol) return 0;
    }
    return 1;
}

enum { NCLS = 3, NFILES = 12 };
static const char *const g_cls[NCLS] = {"apple", "Banana", "cherry_with_a_long_name"};
/* strcmp order: "Banana" < "apple" < "cherry..." */
static const int g_rank[NCLS] = {1, 0, 2};

static void fill_class(const char *path, int cls, int nfiles) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s", path); /* path may be a rotating join() buffer */
    mkdir_t(dir);
    for (int i = 0; i < nfiles; i++) write_image(dir, cls, i);
}

static void test_flat(const char *base) {
    char root[700];
    snprintf(root, sizeof root, "%s/flat", base);
    mkdir_t(root);
    for (int k = 0; k < NCLS; k++) fill_class(join(root, g_cls[k]), k, NFILES);
    char apple[700];
    snprintf(apple, sizeof apple, "%s", join(root, "apple"));
    write_bytes(join(apple, "notes.txt"), "not an image\n", 13);
    write_bytes(join(apple, ".hidden.png"), "\x89PNG garbage", 12); /* ignored */
    mkdir_t(join(root, ".git"));
    write_bytes(join(root, "README"), "x", 1);
    mkdir_t(join(apple, "subdir"));

    const double fracs[2] = {0.0 /* default 0.2 */, 0.5};
    for (int fi = 0; fi < 2; fi++) {
        double frac = fracs[fi] == 0 ? 0.2 : fracs[fi];
        sn_dataset *tr = NULL, *te = NULL, *tr2 = NULL;
        g_warns = 0;
        CHECK(open_folder(root, "train", fracs[fi], 3, &tr) == SN_OK);
        CHECK(g_warns == 3 && strstr(g_last_warn, "notes.txt") &&
              strstr(g_last_warn, "skipped")); /* README, subdir, notes.txt */
        if (fi == 0) printf("  warning      -> %s\n", g_last_warn);
        CHECK(open_folder(root, "test", fracs[fi], 1, &te) == SN_OK);
        CHECK(open_folder(root, "train", fracs[fi], 3, &tr2) == SN_OK);
        if (!tr || !te || !tr2) {
            fprintf(stderr, "  flat: %s\n", sn_ctx_error(g_ctx));
            sn_dataset_free(tr), sn_dataset_free(te), sn_dataset_free(tr2);
            continue;
        }
        CHECK(tr->n_classes == 3 && te->n_classes == 3 && tr->c == 3 && te->c == 1);
        CHECK(tr->h == 4 && tr->w == 4 && strcmp(tr->name, "folder") == 0);
        CHECK(tr->class_names && strcmp(tr->class_names[0], "Banana") == 0 &&
              strcmp(tr->class_names[1], "apple") == 0 &&
              strcmp(te->class_names[2], "cherry_with_a_long_name") == 0);
        /* expected order: classes by rank, files by name, each file in one split */
        int jt = 0, je = 0, ok = 1;
        for (int r = 0; r < NCLS; r++) {
            int k = 0;
            while (g_rank[k] != r) k++;
            for (int i = 0; i < NFILES; i++) {
                char name[64];
                snprintf(name, sizeof name, "img_%02d.%s", i,
                         i % 3 == 0 ? "pgm" : i % 3 == 1 ? "png" : "jpg");
                int is_test = (double)fnv1a64(name) / 18446744073709551616.0 < frac;
                const sn_dataset *d = is_test ? te : tr;
                int j = is_test ? je++ : jt++;
                ok &= j < d->n && d->labels[j] == r && solid(d, j, value_of(k, i), 2);
            }
        }
        CHECK(ok && jt == tr->n && je == te->n && tr->n + te->n == NCLS * NFILES);
        CHECK(te->n > 0 && tr->n > 0 && (fi == 1 || tr->n > te->n));
        CHECK(tr2->n == tr->n && memcmp(tr->pixels, tr2->pixels, (size_t)tr->n * 48) == 0);
        printf("  flat split (test fraction %.1f): train %d, test %d\n", frac, tr->n, te->n);
        sn_dataset_free(tr), sn_dataset_free(te), sn_dataset_free(tr2);
    }
    /* a fraction so small that no file lands in test: empty split */
    sn_dataset *ds = NULL;
    CHECK(open_folder(root, "test", 1e-12, 3, &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "split 'test' is empty"));
    printf("  empty split  -> %s\n", sn_ctx_error(g_ctx));
    CHECK(open_folder(root, "train", 1.5, 3, &ds) == SN_ERR_ARG && !ds);
    CHECK(open_folder(root, "train", 0, 2, &ds) == SN_ERR_ARG && !ds);

    /* a corrupt PNG and a truncated JPEG are errors naming the file */
    unsigned char buf[4096];
    FILE *f = fopen(join(apple, "img_02.jpg"), "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 200);
    write_bytes(join(apple, "img_02.jpg"), buf, n / 2);
    CHECK(open_folder(root, "train", 1e-12, 3, &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "apple/img_02.jpg") &&
          strstr(sn_ctx_error(g_ctx), "JPEG"));
    printf("  trunc JPEG   -> %s\n", sn_ctx_error(g_ctx));
    write_bytes(join(apple, "img_02.jpg"), buf, n);
    write_bytes(join(join(root, "Banana"), "img_00b.png"), "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDRjunk",
                20);
    CHECK(open_folder(root, "train", 1e-12, 3, &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "Banana/img_00b.png"));
    printf("  corrupt PNG  -> %s\n", sn_ctx_error(g_ctx));
    CHECK(remove(join(join(root, "Banana"), "img_00b.png")) == 0);
    /* an empty class folder (only a non-image inside) */
    mkdir_t(join(root, "empty_class"));
    write_bytes(join(join(root, "empty_class"), "x.txt"), "x", 1);
    CHECK(open_folder(root, "train", 0, 3, &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "empty_class: class folder holds no image"));
    printf("  empty class  -> %s\n", sn_ctx_error(g_ctx));
}

static void test_split_dirs(const char *base) {
    char root[700], tr[700], te[700];
    snprintf(root, sizeof root, "%s/split", base);
    CHECK(snprintf(tr, sizeof tr, "%s/train", root) < (int)sizeof tr);
    CHECK(snprintf(te, sizeof te, "%s/test", root) < (int)sizeof te);
    mkdir_t(root);
    mkdir_t(tr);
    mkdir_t(te);
    for (int k = 0; k < NCLS; k++) {
        fill_class(join(tr, g_cls[k]), k, 4 + k);
        fill_class(join(te, g_cls[k]), k, 2);
    }
    sn_dataset *a = NULL, *b = NULL;
    CHECK(open_folder(root, "train", 0, 1, &a) == SN_OK);
    CHECK(open_folder(root, "test", 0, 3, &b) == SN_OK);
    if (a && b) {
        CHECK(a->n == 4 + 5 + 6 && b->n == 6 && a->n_classes == 3 && b->n_classes == 3);
        /* train order: Banana (k=1, 5 files), apple (k=0, 4), cherry (k=2, 6) */
        CHECK(a->labels[0] == 0 && a->labels[4] == 0 && a->labels[5] == 1 &&
              a->labels[9] == 2 && a->labels[14] == 2);
        CHECK(solid(a, 0, value_of(1, 0), 0) && solid(a, 5, value_of(0, 0), 0) &&
              solid(a, 10, value_of(2, 1), 0) && solid(a, 11, value_of(2, 2), 2));
        CHECK(b->labels[0] == 0 && b->labels[2] == 1 && b->labels[5] == 2);
        CHECK(strcmp(b->class_names[1], "apple") == 0);
    } else {
        fprintf(stderr, "  split dirs: %s\n", sn_ctx_error(g_ctx));
    }
    sn_dataset_free(a);
    sn_dataset_free(b);
    /* a class only in train/ */
    mkdir_t(join(tr, "durian"));
    write_pgm(join(join(tr, "durian"), "d.pgm"), 9);
    CHECK(open_folder(root, "test", 0, 3, &a) == SN_ERR_FORMAT && !a);
    CHECK(strstr(sn_ctx_error(g_ctx), "class 'durian' is in") &&
          strstr(sn_ctx_error(g_ctx), "train"));
    printf("  class diff   -> %s\n", sn_ctx_error(g_ctx));
}

static void test_roots(const char *base) {
    char root[700];
    sn_dataset *ds = NULL;
    snprintf(root, sizeof root, "%s/empty_root", base);
    mkdir_t(root);
    mkdir_t(join(root, ".hidden"));
    CHECK(open_folder(root, "train", 0, 3, &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "empty_root: no class sub-folders"));
    printf("  empty root   -> %s\n", sn_ctx_error(g_ctx));
    CHECK(open_folder(join(base, "nope"), "train", 0, 3, &ds) == SN_ERR_IO && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "nope") &&
          strstr(sn_ctx_error(g_ctx), "No such file or directory"));
    printf("  missing root -> %s\n", sn_ctx_error(g_ctx));
    write_bytes(join(base, "file"), "x", 1);
    CHECK(open_folder(join(base, "file"), "train", 0, 3, &ds) == SN_ERR_IO && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "not a directory"));
    CHECK(sn_dataset_open(g_ctx, "folder:", "train", NULL, &ds) == SN_ERR_ARG && !ds);
}

int main(void) {
    g_ctx = sn_ctx_create(1);
    CHECK(g_ctx != NULL);
    if (!g_ctx) return tu_finish("test_folder");
    sn_ctx_set_log(g_ctx, on_log, NULL);
    char base[600];
    snprintf(base, sizeof base, "%s/sn_folder_%ld", tu_tmpdir(), (long)getpid());
    mkdir_t(base);
    test_flat(base);
    test_split_dirs(base);
    test_roots(base);
    cleanup();
    sn_ctx_free(g_ctx);
    return tu_finish("test_folder");
}
