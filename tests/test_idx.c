/* test_idx.c -- IDX loader (plain + gzip), every malformed-file path, dataset split,
 * and (when $SIMNET_DATA holds mnist/) the real MNIST counts. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_CLEAN 256
static char g_clean[MAX_CLEAN][600]; /* files then dirs, removed in reverse order */
static int g_nclean;

static void track(const char *p) {
    if (g_nclean < MAX_CLEAN) snprintf(g_clean[g_nclean++], sizeof g_clean[0], "%s", p);
}

static void cleanup(void) {
    while (g_nclean > 0) remove(g_clean[--g_nclean]);
}

/* Fresh directory <tmp>/sn_idx_<pid>_<tag>[/mnist]; returns the data dir in dir and the
 * folder the files go into in fdir. */
static void make_dirs(const char *tag, int sub, char *dir, char *fdir, size_t cap) {
    snprintf(dir, cap, "%s/sn_idx_%ld_%s", tu_tmpdir(), (long)getpid(), tag);
    CHECK(mkdir(dir, 0755) == 0);
    track(dir);
    if (sub) {
        snprintf(fdir, cap, "%s/mnist", dir);
        CHECK(mkdir(fdir, 0755) == 0);
        track(fdir);
    } else {
        snprintf(fdir, cap, "%s", dir);
    }
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Write a header (nfields big-endian u32 including magic) then len data bytes. */
static void write_file(const char *path, int gz, const uint32_t *hdr, int nfields,
                       const unsigned char *data, size_t len) {
    unsigned char h[16];
    for (int i = 0; i < nfields; i++) put_be32(h + 4 * i, hdr[i]);
    size_t hl = (size_t)nfields * 4;
    track(path);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        CHECK(g != NULL);
        if (!g) return;
        if (hl) CHECK(gzwrite(g, h, (unsigned)hl) == (int)hl);
        if (len) CHECK(gzwrite(g, data, (unsigned)len) == (int)len);
        CHECK(gzclose(g) == Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (!f) return;
        if (hl) CHECK(fwrite(h, 1, hl, f) == hl);
        if (len) CHECK(fwrite(data, 1, len, f) == len);
        CHECK(fclose(f) == 0);
    }
}

enum { N = 7, R = 3, C = 4 };
static unsigned char g_pix[N * R * C], g_lab[N];

/* Write a consistent train (or t10k) pair into fdir. */
static void write_pair(const char *fdir, const char *pre, int gz) {
    char p[600];
    uint32_t ih[4] = {2051, N, R, C}, lh[2] = {2049, N};
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", fdir, pre, gz ? ".gz" : "");
    write_file(p, gz, ih, 4, g_pix, sizeof g_pix);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", fdir, pre, gz ? ".gz" : "");
    write_file(p, gz, lh, 2, g_lab, sizeof g_lab);
}

static void check_loaded(const sn_dataset *ds) {
    CHECK(ds->n == N && ds->c == 1 && ds->h == R && ds->w == C && ds->n_classes == 10);
    CHECK(strcmp(ds->name, "mnist") == 0);
    CHECK(ds->class_names && strcmp(ds->class_names[0], "0") == 0 &&
          strcmp(ds->class_names[9], "9") == 0);
    CHECK(memcmp(ds->pixels, g_pix, sizeof g_pix) == 0);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= ds->labels[i] == g_lab[i];
    CHECK(ok);
}

static void test_valid(sn_ctx *ctx) {
    char dir[512], fdir[512];
    sn_dataset *ds = NULL;
    make_dirs("plain", 1, dir, fdir, sizeof dir);
    write_pair(fdir, "train", 0);
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &ds) == SN_OK);
    if (ds) check_loaded(ds);
    sn_dataset_free(ds);
    ds = NULL;

    make_dirs("gz", 0, dir, fdir, sizeof dir); /* files directly in dir, gzipped */
    write_pair(fdir, "t10k", 1);
    CHECK(sn_dataset_load(ctx, "mnist", dir, "test", &ds) == SN_OK);
    if (ds) check_loaded(ds);
    sn_dataset_free(ds);
    ds = NULL;
    /* train files absent there */
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &ds) != SN_OK && ds == NULL);
    CHECK(sn_dataset_load(ctx, "cifar", dir, "train", &ds) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "'cifar'") &&
          strstr(sn_ctx_error(ctx), "mnist, fashion-mnist, cifar10, cifar100, folder:PATH"));
    printf("  %-10s -> %s\n", "unknown", sn_ctx_error(ctx));
    CHECK(sn_dataset_load(ctx, "mnist", dir, "validation", &ds) == SN_ERR_ARG);
    CHECK(sn_dataset_open(ctx, "mnist", "test", NULL, &ds) == SN_ERR_IO); /* dir "." */

    /* fashion-mnist: same files, its own class names; sn_dataset_open with opts.dir */
    make_dirs("fashion", 0, dir, fdir, sizeof dir);
    write_pair(fdir, "train", 1);
    sn_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    CHECK(sn_dataset_open(ctx, "fashion-mnist", "train", &o, &ds) == SN_OK);
    if (ds) {
        CHECK(strcmp(ds->name, "fashion-mnist") == 0 && ds->n == N && ds->class_names);
        CHECK(ds->class_names && strcmp(ds->class_names[0], "T-shirt/top") == 0 &&
              strcmp(ds->class_names[9], "Ankle boot") == 0);
    }
    sn_dataset_free(ds);
}

/* One malformed case: images header/data and labels header/data as given. */
typedef struct {
    const char *tag;
    uint32_t ih[4];
    size_t ilen; /* bytes of image data to write (from a big zero buffer) */
    uint32_t lh[2];
    size_t llen;
    int bad_label_at; /* >= 0: put label 12 there */
    int gz;
    const char *expect_file; /* must appear in the message */
    const char *expect_text; /* must appear too */
} bad_case;

static void run_bad(sn_ctx *ctx, const bad_case *bc) {
    static unsigned char zeros[N * R * C + 64], lab[200008];
    static sn_dataset dummy;
    memset(lab, 0, sizeof lab);
    char dir[512], fdir[512], p[600];
    make_dirs(bc->tag, 1, dir, fdir, sizeof dir);
    if (bc->bad_label_at >= 0) lab[bc->bad_label_at] = 12;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", fdir, bc->gz ? ".gz" : "");
    write_file(p, bc->gz, bc->ih, 4, zeros, bc->ilen);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte%s", fdir, bc->gz ? ".gz" : "");
    write_file(p, bc->gz, bc->lh, 2, lab, bc->llen);
    sn_dataset *ds = &dummy; /* must be reset to NULL */
    sn_status st = sn_dataset_load(ctx, "mnist", dir, "train", &ds);
    const char *msg = sn_ctx_error(ctx);
    int ok = st != SN_OK && ds == NULL && strstr(msg, bc->expect_file) &&
             strstr(msg, bc->expect_text);
    CHECK(ok);
    if (!ok) fprintf(stderr, "  case %s: status %d, message: %s\n", bc->tag, (int)st, msg);
    else printf("  %-10s -> %s\n", bc->tag, msg);
}

static void test_malformed(sn_ctx *ctx) {
    const size_t ib = N * R * C;
    const char *I = "train-images-idx3-ubyte", *L = "train-labels-idx1-ubyte";
    const bad_case cases[] = {
        {"magic", {2049, N, R, C}, ib, {2049, N}, N, -1, 0, I, "bad magic"},
        {"lmagic", {2051, N, R, C}, ib, {2051, N}, N, -1, 1, L, "bad magic"},
        {"trunc", {2051, N, R, C}, ib - 5, {2049, N}, N, -1, 0, I, "truncated: expected 84"},
        {"truncgz", {2051, N, R, C}, ib - 1, {2049, N}, N, -1, 1, I, "truncated"},
        {"trail", {2051, N, R, C}, ib, {2049, N}, N + 3, -1, 0, L, "3 trailing byte"},
        {"trailgz", {2051, N, R, C}, ib + 2, {2049, N}, N, -1, 1, I, "2 trailing byte"},
        {"count", {2051, N, R, C}, ib, {2049, N - 1}, N - 1, -1, 0, L, "6 labels but"},
        {"label", {2051, N, R, C}, ib, {2049, N}, N, 3, 0, L, "label 12 at record 3 out of range"},
        {"overflow", {2051, 0x7fffffff, 0xffff, 0xffff}, ib, {2049, 0x7fffffff}, N, -1, 0, I,
         "out of range"},
        {"huge", {2051, 0x7fffffff, 4096, 4096}, ib, {2049, 0x7fffffff}, N, -1, 0, L,
         "truncated"},
        {"hugeimg", {2051, 200000, 4096, 4096}, ib, {2049, 200000}, 200000, -1, 1, I,
         "truncated: expected 3355443200000 bytes"},
        {"zero", {2051, 0, R, C}, 0, {2049, 0}, 0, -1, 0, I, "image count 0"},
        {"zerodim", {2051, N, 0, C}, 0, {2049, N}, N, -1, 0, I, "image size 0x4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_bad(ctx, &cases[i]);

    /* empty image file, short header */
    char dir[512], fdir[512], p[600];
    sn_dataset *ds = NULL;
    make_dirs("empty", 1, dir, fdir, sizeof dir);
    write_pair(fdir, "train", 0);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", fdir);
    write_file(p, 0, NULL, 0, NULL, 0);
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &ds) == SN_ERR_FORMAT);
    CHECK(strstr(sn_ctx_error(ctx), I) && strstr(sn_ctx_error(ctx), "empty file"));
    printf("  %-10s -> %s\n", "empty", sn_ctx_error(ctx));
    uint32_t shorth[1] = {2051};
    write_file(p, 0, shorth, 1, NULL, 0);
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &ds) == SN_ERR_FORMAT);
    CHECK(strstr(sn_ctx_error(ctx), I) && strstr(sn_ctx_error(ctx), "got 4 of 16"));

    /* missing label file: message lists every path tried and the --data hint */
    make_dirs("missing", 1, dir, fdir, sizeof dir);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", fdir);
    uint32_t ih[4] = {2051, N, R, C};
    write_file(p, 0, ih, 4, g_pix, sizeof g_pix);
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &ds) == SN_ERR_IO);
    const char *m = sn_ctx_error(ctx);
    CHECK(strstr(m, "mnist/train-labels-idx1-ubyte.gz") && strstr(m, "SIMNET_DATA") &&
          strstr(m, "--data"));
    printf("  %-10s -> %s\n", "missing", m);

    /* a directory where the label file should be */
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", fdir);
    CHECK(mkdir(p, 0755) == 0);
    track(p);
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &ds) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), L) && strstr(sn_ctx_error(ctx), "not a regular file"));
    printf("  %-10s -> %s\n", "directory", sn_ctx_error(ctx));

    /* gzip with a corrupted deflate stream */
    make_dirs("corruptgz", 1, dir, fdir, sizeof dir);
    write_pair(fdir, "train", 1);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", fdir);
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f) {
        unsigned char junk[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        CHECK(fseek(f, 12, SEEK_SET) == 0 && fwrite(junk, 1, 8, f) == 8);
        CHECK(fclose(f) == 0);
    }
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &ds) != SN_OK && ds == NULL);
    CHECK(strstr(sn_ctx_error(ctx), I) != NULL);
    printf("  %-10s -> %s\n", "corruptgz", sn_ctx_error(ctx));
}

static void test_split(sn_ctx *ctx) {
    enum { M = 50 };
    sn_dataset ds = {M, 1, 2, 2, 10, NULL, NULL, "toy", NULL};
    ds.pixels = malloc(M * 4);
    ds.labels = malloc(M * sizeof *ds.labels);
    ds.class_names = calloc(10, sizeof *ds.class_names);
    CHECK(ds.pixels && ds.labels && ds.class_names);
    if (!ds.pixels || !ds.labels || !ds.class_names) return;
    for (int k = 0; k < 10; k++) snprintf(ds.class_names[k], 64, "c%d", k);
    for (int i = 0; i < M; i++) {
        memset(ds.pixels + 4 * i, i, 4);
        ds.labels[i] = i % 10;
    }
    sn_dataset *t1 = NULL, *v1 = NULL, *t2 = NULL, *v2 = NULL, *t3 = NULL, *v3 = NULL;
    CHECK(sn_dataset_split(ctx, &ds, 12, 42, &t1, &v1) == SN_OK);
    CHECK(sn_dataset_split(ctx, &ds, 12, 42, &t2, &v2) == SN_OK);
    CHECK(sn_dataset_split(ctx, &ds, 12, 43, &t3, &v3) == SN_OK);
    if (t1 && v1 && t2 && v2 && t3 && v3) {
        CHECK(t1->n == 38 && v1->n == 12 && t1->h == 2 && v1->w == 2 && v1->n_classes == 10);
        CHECK(strcmp(v1->name, "toy") == 0);
        CHECK(v1->class_names && t1->class_names && strcmp(v1->class_names[3], "c3") == 0 &&
              strcmp(t1->class_names[9], "c9") == 0);
        CHECK(memcmp(t1->pixels, t2->pixels, 38 * 4) == 0);
        CHECK(memcmp(v1->pixels, v2->pixels, 12 * 4) == 0);
        CHECK(memcmp(v1->pixels, v3->pixels, 12 * 4) != 0); /* other seed, other split */
        /* a partition of the originals, each part in increasing original order */
        int seen[M] = {0}, sorted = 1, consistent = 1;
        for (int k = 0; k < 2; k++) {
            const sn_dataset *d = k ? v1 : t1;
            for (int i = 0; i < d->n; i++) {
                int orig = d->pixels[4 * i];
                seen[orig]++;
                consistent &= d->labels[i] == orig % 10 && d->pixels[4 * i + 3] == orig;
                if (i) sorted &= d->pixels[4 * i] > d->pixels[4 * (i - 1)];
            }
        }
        int all_once = 1;
        for (int i = 0; i < M; i++) all_once &= seen[i] == 1;
        CHECK(all_once && sorted && consistent);
        CHECK(ds.pixels[4 * 7] == 7); /* input untouched */
    }
    sn_dataset_free(t1), sn_dataset_free(v1), sn_dataset_free(t2);
    sn_dataset_free(v2), sn_dataset_free(t3), sn_dataset_free(v3);
    CHECK(sn_dataset_split(ctx, &ds, 0, 1, &t1, &v1) == SN_OK);
    CHECK(t1 && v1 && t1->n == M && v1->n == 0);
    if (t1) CHECK(memcmp(t1->pixels, ds.pixels, M * 4) == 0);
    sn_dataset_free(t1), sn_dataset_free(v1);
    CHECK(sn_dataset_split(ctx, &ds, M, 1, &t1, &v1) == SN_ERR_ARG && !t1 && !v1);
    CHECK(strstr(sn_ctx_error(ctx), "out of range 0..49") != NULL);
    CHECK(sn_dataset_split(ctx, &ds, -1, 1, &t1, &v1) == SN_ERR_ARG);
    free(ds.pixels);
    free(ds.labels);
    free(ds.class_names);
}

/* sn_dataset_select_classes: parsing, range errors, relabelling, names, pixels. */
static void test_select(sn_ctx *ctx) {
    enum { M = 40 };
    sn_dataset ds = {M, 1, 1, 2, 10, NULL, NULL, "toy", NULL};
    ds.pixels = malloc(M * 2);
    ds.labels = malloc(M * sizeof *ds.labels);
    ds.class_names = calloc(10, sizeof *ds.class_names);
    CHECK(ds.pixels && ds.labels && ds.class_names);
    if (!ds.pixels || !ds.labels || !ds.class_names) return;
    for (int i = 0; i < M; i++) {
        ds.pixels[2 * i] = (uint8_t)i;
        ds.pixels[2 * i + 1] = (uint8_t)(100 + i);
        ds.labels[i] = (i * 7) % 10;
    }
    for (int k = 0; k < 10; k++) snprintf(ds.class_names[k], 64, "name%d", k);
    const struct {
        const char *spec;
        int k;
        int keep[10];
    } ok[] = {
        {"0-4", 5, {1, 1, 1, 1, 1, 0, 0, 0, 0, 0}}, {"5,7,9", 3, {0, 0, 0, 0, 0, 1, 0, 1, 0, 1}},
        {"0-2,8", 4, {1, 1, 1, 0, 0, 0, 0, 0, 1, 0}}, {"9,3", 2, {0, 0, 0, 1, 0, 0, 0, 0, 0, 1}},
        {"4-4", 1, {0, 0, 0, 0, 1, 0, 0, 0, 0, 0}},  {"0-9", 10, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"2-5,3", 4, {0, 0, 1, 1, 1, 1, 0, 0, 0, 0}}};
    for (size_t t = 0; t < sizeof ok / sizeof ok[0]; t++) {
        sn_dataset *o = NULL;
        CHECK(sn_dataset_select_classes(ctx, &ds, ok[t].spec, &o) == SN_OK);
        if (!o) {
            fprintf(stderr, "  select %s: %s\n", ok[t].spec, sn_ctx_error(ctx));
            continue;
        }
        int map[10], k = 0, n = 0, good = 1;
        for (int c = 0; c < 10; c++) map[c] = ok[t].keep[c] ? k++ : -1;
        for (int i = 0, j = 0; i < M; i++) {
            if (map[ds.labels[i]] < 0) continue;
            n++;
            good &= j < o->n && o->labels[j] == map[ds.labels[i]] &&
                    o->pixels[2 * j] == i && o->pixels[2 * j + 1] == 100 + i;
            j++;
        }
        CHECK(good && o->n == n && o->n_classes == ok[t].k && k == ok[t].k);
        for (int c = 0; c < 10; c++)
            if (map[c] >= 0 && o->class_names) {
                char want[64];
                snprintf(want, sizeof want, "name%d", c);
                CHECK(strcmp(o->class_names[map[c]], want) == 0);
            }
        CHECK(o->class_names != NULL && strcmp(o->name, "toy") == 0 && o->w == 2);
        sn_dataset_free(o);
    }
    const struct {
        const char *spec, *text;
    } bad[] = {{"3-12", "--classes 3-12: class 12 out of range 0..9"},
               {"10", "class 10 out of range 0..9"},
               {"", "empty list"},
               {"1,,2", "bad item at character 3"},
               {"5-3", "range 5-3 is reversed"},
               {"a", "bad item at character 1"},
               {"1-", "bad item"},
               {"-1", "bad item"},
               {"1, 2", "bad item at character 3"},
               {"2,", "bad item at character 3"},
               {"99999999999", "too large"},
               {"1-2-3", "bad item"}};
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        sn_dataset *o = &ds;
        sn_status st = sn_dataset_select_classes(ctx, &ds, bad[t].spec, &o);
        int good = st == SN_ERR_ARG && o == NULL && strstr(sn_ctx_error(ctx), bad[t].text);
        CHECK(good);
        if (!good) fprintf(stderr, "  select '%s': %s\n", bad[t].spec, sn_ctx_error(ctx));
        else if (t < 5) printf("  select %-6s -> %s\n", bad[t].spec, sn_ctx_error(ctx));
    }
    /* a valid class that no image carries: empty result */
    for (int i = 0; i < M; i++) ds.labels[i] = i % 2;
    sn_dataset *o = NULL;
    CHECK(sn_dataset_select_classes(ctx, &ds, "5-7", &o) == SN_ERR_ARG && o == NULL);
    CHECK(strstr(sn_ctx_error(ctx), "no image") != NULL);
    /* no class names: result has none either */
    free(ds.class_names);
    ds.class_names = NULL;
    CHECK(sn_dataset_select_classes(ctx, &ds, "1", &o) == SN_OK && o && o->n == M / 2);
    if (o) CHECK(o->class_names == NULL && o->n_classes == 1 && o->labels[0] == 0);
    sn_dataset_free(o);
    free(ds.pixels);
    free(ds.labels);
}

static void test_real_mnist(sn_ctx *ctx) {
    const char *root = getenv("SIMNET_DATA");
    char probe[600];
    struct stat sb;
    snprintf(probe, sizeof probe, "%s/mnist", root ? root : "");
    if (!root || !*root || stat(probe, &sb) != 0) {
        printf("note: $SIMNET_DATA/mnist not found, skipping the real-MNIST checks\n");
        return;
    }
    sn_dataset *tr = NULL, *te = NULL;
    double t0 = sn_now();
    CHECK(sn_dataset_load(ctx, "mnist", root, "train", &tr) == SN_OK);
    CHECK(sn_dataset_load(ctx, "mnist", root, "test", &te) == SN_OK);
    if (!tr || !te) {
        fprintf(stderr, "  real MNIST: %s\n", sn_ctx_error(ctx));
    } else {
        CHECK(tr->n == 60000 && te->n == 10000 && te->h == 28 && te->w == 28 && te->c == 1);
        const int want[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
        int cnt[10] = {0}, ok = 1;
        for (int i = 0; i < te->n; i++) cnt[te->labels[i]]++;
        for (int k = 0; k < 10; k++) ok &= cnt[k] == want[k];
        CHECK(ok);
        printf("real MNIST: train %d, test %d (per-class test counts %s), %.2f s\n", tr->n,
               te->n, ok ? "match" : "DIFFER", sn_now() - t0);
    }
    sn_dataset_free(tr);
    sn_dataset_free(te);
}

/* sn_dataset_label_augment: pixels of every transform against closed-form quarter turns,
 * labels l*T + t, class names, and the errors. */
static uint8_t la_ref(const uint8_t *in, int w, int m, int q, int y, int x) {
    int sy, sx; /* q quarter turns counter-clockwise: out(y, x) = in(sy, sx) */
    switch (q) {
    case 0: sy = y, sx = x; break;
    case 1: sy = x, sx = w - 1 - y; break;
    case 2: sy = w - 1 - y, sx = w - 1 - x; break;
    default: sy = w - 1 - x, sx = y; break;
    }
    return in[sy * w + (m ? w - 1 - sx : sx)];
}

/* bilinear sample of a w x w plane at (fy, fx), zero outside, in double */
static double la_bilinear(const uint8_t *in, int w, double fy, double fx) {
    const int y0 = (int)floor(fy), x0 = (int)floor(fx);
    double v = 0.0;
    for (int k = 0; k < 4; k++) {
        const int yy = y0 + (k >> 1), xx = x0 + (k & 1);
        if (yy < 0 || yy >= w || xx < 0 || xx >= w) continue;
        const double ay = fy - y0, ax = fx - x0;
        v += ((k >> 1) ? ay : 1.0 - ay) * ((k & 1) ? ax : 1.0 - ax) * in[yy * w + xx];
    }
    return v;
}

/* rot8 / d8: even eighth turns are exact quarter turns; odd ones are a quarter-turned image
 * turned 45 degrees more (bilinear, matches a double-precision reference within rounding), in
 * the same direction: two 45-degree turns of a smooth blob land where one quarter turn does */
static void test_label_augment_eighths(sn_ctx *ctx) {
    enum { S = 15 };
    sn_dataset ds = {2, 1, S, S, 2, NULL, NULL, "blob", NULL};
    uint8_t pix[2 * S * S];
    int lab[2] = {0, 1};
    for (int i = 0; i < 2; i++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                const double dy = y - (3.0 + i), dx = x - 10.0;
                pix[(i * S + y) * S + x] = (uint8_t)(220.0 * exp(-(dy * dy + dx * dx) / 18.0) + 0.5);
            }
    ds.pixels = pix;
    ds.labels = lab;
    const char *kinds[2] = {"rot8", "d8"};
    for (int k = 0; k < 2; k++) {
        sn_dataset *o = NULL;
        CHECK(sn_dataset_label_augment(ctx, &ds, kinds[k], &o) == SN_OK);
        if (!o) continue;
        const int nm = k + 1, T = 8 * nm;
        CHECK(o->n == 2 * T && o->n_classes == 2 * T && o->class_names == NULL);
        int exact = 1, close = 1;
        double worst = 0.0;
        const double c = 0.5 * (S - 1), s = sqrt(0.5);
        for (int i = 0; i < 2; i++)
            for (int t = 0; t < T; t++) {
                const int m = t / 8, e = t % 8, j = i * T + t;
                const uint8_t *got = o->pixels + (size_t)j * S * S;
                uint8_t q[S * S];
                for (int y = 0; y < S; y++)
                    for (int x = 0; x < S; x++)
                        q[y * S + x] = la_ref(pix + i * S * S, S, m, e >> 1, y, x);
                exact &= o->labels[j] == i * T + t;
                for (int y = 0; y < S; y++)
                    for (int x = 0; x < S; x++) {
                        if (!(e & 1)) {
                            exact &= got[y * S + x] == q[y * S + x];
                            continue;
                        }
                        const double dy = y - c, dx = x - c;
                        const double ref = la_bilinear(q, S, c + s * (dy + dx), c + s * (dx - dy));
                        close &= fabs(got[y * S + x] - ref) <= 0.5 + 1e-3;
                    }
                if (e & 1) { /* turn the 45-degree image 45 more: compare with the next quarter */
                    for (int y = 0; y < S; y++)
                        for (int x = 0; x < S; x++) {
                            const double dy = y - c, dx = x - c;
                            if (dy * dy + dx * dx > (c - 1) * (c - 1)) continue; /* corners */
                            const double twice = la_bilinear(got, S, c + s * (dy + dx), c + s * (dx - dy));
                            const double d = fabs(twice - la_ref(pix + i * S * S, S, m, ((e >> 1) + 1) & 3, y, x));
                            if (d > worst) worst = d;
                        }
                }
            }
        CHECK(exact);
        CHECK(close);
        CHECK(worst < 20.0); /* measured 8.3; turning the wrong way is off by 220 */
        sn_dataset_free(o);
    }
}

static void test_label_augment(sn_ctx *ctx) {
    enum { M = 3, CH = 2, S = 4 };
    sn_dataset ds = {M, CH, S, S, 2, NULL, NULL, "toy", NULL};
    ds.pixels = malloc(M * CH * S * S);
    ds.labels = malloc(M * sizeof *ds.labels);
    ds.class_names = calloc(2, sizeof *ds.class_names);
    CHECK(ds.pixels && ds.labels && ds.class_names);
    if (!ds.pixels || !ds.labels || !ds.class_names) return;
    for (int i = 0; i < M * CH * S * S; i++) ds.pixels[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < M; i++) ds.labels[i] = i % 2;
    snprintf(ds.class_names[0], 64, "zero");
    snprintf(ds.class_names[1], 64, "one");
    const struct {
        const char *kind;
        int nm, nq, step; /* mirrors, turns, quarter turns per turn */
    } kinds[] = {{"rot2", 1, 2, 2}, {"rot4", 1, 4, 1}, {"flip", 2, 1, 0}, {"d4", 2, 4, 1}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        sn_dataset *o = NULL;
        CHECK(sn_dataset_label_augment(ctx, &ds, kinds[k].kind, &o) == SN_OK);
        if (!o) continue;
        const int T = kinds[k].nm * kinds[k].nq;
        CHECK(o->n == M * T && o->n_classes == 2 * T && o->c == CH && o->h == S && o->w == S);
        int good = 1;
        for (int i = 0; i < M; i++)
            for (int t = 0; t < T; t++) {
                const int j = i * T + t, m = t / kinds[k].nq, q = (t % kinds[k].nq) * kinds[k].step;
                good &= o->labels[j] == ds.labels[i] * T + t;
                for (int c = 0; c < CH; c++)
                    for (int y = 0; y < S; y++)
                        for (int x = 0; x < S; x++)
                            good &= o->pixels[((j * CH + c) * S + y) * S + x] ==
                                    la_ref(ds.pixels + (i * CH + c) * S * S, S, m, q, y, x);
            }
        CHECK(good);
        if (o->class_names) {
            CHECK(strcmp(o->class_names[0], "zero/r0") == 0);
            if (!strcmp(kinds[k].kind, "d4"))
                CHECK(strcmp(o->class_names[T + T - 1], "one/m/r270") == 0);
        }
        CHECK(o->class_names != NULL);
        sn_dataset_free(o);
    }
    sn_dataset *o = (sn_dataset *)1;
    CHECK(sn_dataset_label_augment(ctx, &ds, "rot3", &o) == SN_ERR_ARG && o == NULL);
    CHECK(strstr(sn_ctx_error(ctx), "--label-augment rot3:") && strstr(sn_ctx_error(ctx), "d4"));
    ds.w = 2; /* 2 planes of 4x2 = the same bytes, not square */
    ds.c = CH * 2;
    CHECK(sn_dataset_label_augment(ctx, &ds, "rot4", &o) == SN_ERR_ARG && o == NULL);
    CHECK(strstr(sn_ctx_error(ctx), "square") != NULL);
    CHECK(sn_dataset_label_augment(ctx, &ds, "flip", &o) == SN_OK && o && o->n == 2 * M);
    sn_dataset_free(o);
    free(ds.pixels);
    free(ds.labels);
    free(ds.class_names);
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(1);
    CHECK(ctx != NULL);
    if (!ctx) return tu_finish("test_idx");
    for (int i = 0; i < N * R * C; i++) g_pix[i] = (unsigned char)(i * 37 + 11);
    for (int i = 0; i < N; i++) g_lab[i] = (unsigned char)((i * 3) % 10);
    test_valid(ctx);
    test_malformed(ctx);
    test_split(ctx);
    test_select(ctx);
    test_label_augment(ctx);
    test_label_augment_eighths(ctx);
    test_real_mnist(ctx);
    cleanup();
    sn_ctx_free(ctx);
    return tu_finish("test_idx");
}
