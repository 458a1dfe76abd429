/* test_cifar.c -- CIFAR-10 / CIFAR-100 binary loaders on synthetic batches (plain and
 * gzip, every search directory, class-name files), every malformed-file path, and (when
 * $SIMNET_DATA holds cifar-10-batches-bin/) the real CIFAR-10 counts. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "testutil.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_CLEAN 512
static char g_clean[MAX_CLEAN][700]; /* created paths, removed in reverse order */
static int g_nclean;
static sn_ctx *g_ctx;

static void track(const char *p) {
    if (g_nclean < MAX_CLEAN) snprintf(g_clean[g_nclean++], sizeof g_clean[0], "%s", p);
}

static void cleanup(void) {
    while (g_nclean > 0) remove(g_clean[--g_nclean]);
}

/* Fresh <tmp>/sn_cifar_<pid>_<tag> in dir, and dir/sub (sub may be "") in fdir. */
static void make_dirs(const char *tag, const char *sub, char *dir, char *fdir, size_t cap) {
    snprintf(dir, cap, "%s/sn_cifar_%ld_%s", tu_tmpdir(), (long)getpid(), tag);
    CHECK(mkdir(dir, 0755) == 0);
    track(dir);
    if (*sub) {
        snprintf(fdir, cap, "%s/%s", dir, sub);
        CHECK(mkdir(fdir, 0755) == 0);
        track(fdir);
    } else {
        snprintf(fdir, cap, "%s", dir);
    }
}

static void write_file(const char *path, int gz, const void *data, size_t len) {
    track(path);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        CHECK(g != NULL);
        if (!g) return;
        if (len) CHECK(gzwrite(g, data, (unsigned)len) == (int)len);
        CHECK(gzclose(g) == Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (!f) return;
        if (len) CHECK(fwrite(data, 1, len, f) == len);
        CHECK(fclose(f) == 0);
    }
}

/* n records of `rec` bytes (rec - 3072 label bytes): labels from lab(i), pixels from a
 * per-file seed. Returns a malloc'd buffer (caller frees). */
static unsigned char *make_records(int n, size_t rec, int seed, int label_mod0, int label_mod1) {
    unsigned char *b = malloc((size_t)n * rec + 1);
    CHECK(b != NULL);
    if (!b) return NULL;
    for (int i = 0; i < n; i++) {
        unsigned char *r = b + (size_t)i * rec;
        r[0] = (unsigned char)((i * 7 + seed) % label_mod0);
        if (rec == 3074) r[1] = (unsigned char)((i * 13 + seed) % label_mod1);
        for (size_t k = rec - 3072; k < rec; k++) r[k] = (unsigned char)(k * 31 + i * 5 + seed);
    }
    return b;
}

/* Compare ds (starting at image `at`) with the n records in b. */
static int same_records(const sn_dataset *ds, int at, const unsigned char *b, int n, size_t rec,
                        int use) {
    int ok = 1;
    for (int i = 0; i < n; i++) {
        const unsigned char *r = b + (size_t)i * rec;
        ok &= ds->labels[at + i] == r[use];
        ok &= memcmp(ds->pixels + (size_t)(at + i) * 3072, r + rec - 3072, 3072) == 0;
    }
    return ok;
}

static sn_status open_ds(const char *name, const char *dir, const char *split, const char *label,
                         sn_dataset **out) {
    sn_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.label = label;
    return sn_dataset_open(g_ctx, name, split, &o, out);
}

static const int g_counts[5] = {3, 4, 2, 5, 1};

/* Writes data_batch_1..5 (gz for odd k) and test_batch into fdir; fills bufs. */
static void write_cifar10(const char *fdir, unsigned char **bufs) {
    char p[700];
    for (int k = 0; k < 6; k++) {
        int n = k < 5 ? g_counts[k] : 6;
        bufs[k] = make_records(n, 3073, 11 * k + 1, 10, 1);
        if (k < 5)
            snprintf(p, sizeof p, "%s/data_batch_%d.bin%s", fdir, k + 1, k % 2 ? ".gz" : "");
        else
            snprintf(p, sizeof p, "%s/test_batch.bin.gz", fdir);
        if (bufs[k]) write_file(p, k % 2 || k == 5, bufs[k], (size_t)n * 3073);
    }
}

static void test_cifar10_valid(void) {
    const char *subs[3] = {"cifar-10-batches-bin", "cifar10", ""};
    const char *tags[3] = {"c10a", "c10b", "c10c"};
    for (int s = 0; s < 3; s++) {
        char dir[512], fdir[512];
        unsigned char *bufs[6] = {0};
        make_dirs(tags[s], subs[s], dir, fdir, sizeof dir);
        write_cifar10(fdir, bufs);
        sn_dataset *tr = NULL, *te = NULL;
        CHECK(open_ds("cifar10", dir, "train", NULL, &tr) == SN_OK);
        CHECK(sn_dataset_load(g_ctx, "cifar10", dir, "test", &te) == SN_OK);
        if (tr && te) {
            CHECK(tr->n == 15 && tr->c == 3 && tr->h == 32 && tr->w == 32 && tr->n_classes == 10);
            CHECK(te->n == 6 && strcmp(te->name, "cifar10") == 0);
            int at = 0, ok = 1;
            for (int k = 0; k < 5; k++) {
                ok &= bufs[k] && same_records(tr, at, bufs[k], g_counts[k], 3073, 0);
                at += g_counts[k];
            }
            CHECK(ok);
            CHECK(bufs[5] && same_records(te, 0, bufs[5], 6, 3073, 0));
            CHECK(tr->class_names && strcmp(tr->class_names[0], "airplane") == 0 &&
                  strcmp(tr->class_names[9], "truck") == 0);
        } else {
            fprintf(stderr, "  cifar10 %s: %s\n", tags[s], sn_ctx_error(g_ctx));
        }
        sn_dataset_free(tr);
        sn_dataset_free(te);
        if (s == 0) { /* class names from batches.meta.txt (CRLF, blank lines) */
            char p[700];
            snprintf(p, sizeof p, "%s/batches.meta.txt", fdir);
            const char *meta = "a0\r\na1\r\n  a2  \r\na3\na4\na5\na6\na7\na8\nvery long name "
                               "of class nine that goes past sixty-three characters!!\n\n\n";
            write_file(p, 0, meta, strlen(meta));
            te = NULL;
            CHECK(open_ds("cifar10", dir, "test", NULL, &te) == SN_OK);
            if (te && te->class_names) {
                CHECK(strcmp(te->class_names[0], "a0") == 0 &&
                      strcmp(te->class_names[2], "a2") == 0);
                CHECK(strlen(te->class_names[9]) == 63 &&
                      strncmp(te->class_names[9], "very long name", 14) == 0);
            }
            sn_dataset_free(te);
            const char *bad = "a\nb\nc\n";
            write_file(p, 0, bad, strlen(bad));
            te = NULL;
            CHECK(open_ds("cifar10", dir, "test", NULL, &te) == SN_ERR_FORMAT && !te);
            CHECK(strstr(sn_ctx_error(g_ctx), "batches.meta.txt: 3 class name(s), expected 10"));
            printf("  %-12s -> %s\n", "meta", sn_ctx_error(g_ctx));
        }
        for (int k = 0; k < 6; k++) free(bufs[k]);
    }
}

/* Write `n` cifar10 records plus `extra` bytes, optionally a bad label, as test_batch. */
static void bad_cifar10(const char *tag, int n, long extra, int bad_at, int gz,
                        const char *text) {
    char dir[512], fdir[512], p[700];
    make_dirs(tag, "cifar-10-batches-bin", dir, fdir, sizeof dir);
    unsigned char *b = make_records(n + 1, 3073, 5, 10, 1);
    if (!b) return;
    if (bad_at >= 0) b[(size_t)bad_at * 3073] = 10;
    snprintf(p, sizeof p, "%s/test_batch.bin%s", fdir, gz ? ".gz" : "");
    write_file(p, gz, b, (size_t)((long)n * 3073 + extra));
    free(b);
    static sn_dataset dummy;
    sn_dataset *ds = &dummy; /* must be reset to NULL */
    sn_status st = open_ds("cifar10", dir, "test", NULL, &ds);
    const char *m = sn_ctx_error(g_ctx);
    int ok = st == SN_ERR_FORMAT && ds == NULL && strstr(m, "test_batch.bin") && strstr(m, text);
    CHECK(ok);
    if (!ok) fprintf(stderr, "  case %s: status %d, message: %s\n", tag, (int)st, m);
    else printf("  %-12s -> %s\n", tag, m);
}

static void test_cifar10_malformed(void) {
    bad_cifar10("trunc", 3, -5, -1, 0,
                "9214 bytes is not a multiple of the 3073-byte record: last record 2 is "
                "truncated (3068 of 3073 bytes)");
    bad_cifar10("truncgz", 3, -1, -1, 1, "last record 2 is truncated (3072 of 3073");
    bad_cifar10("size", 0, 100, -1, 0, "100 bytes is not a multiple of the 3073-byte record");
    bad_cifar10("extra", 2, 1, -1, 0, "6147 bytes is not a multiple");
    bad_cifar10("label", 4, 0, 2, 0, "record 2 (byte offset 6146): label 10 out of range 0..9");
    bad_cifar10("labelgz", 3, 0, 0, 1, "record 0 (byte offset 0): label 10 out of range");
    bad_cifar10("empty", 0, 0, -1, 0, "empty file");
    bad_cifar10("emptygz", 0, 0, -1, 1, "empty file");

    /* missing batch: the message lists every path tried */
    char dir[512], fdir[512], p[700];
    unsigned char *bufs[6] = {0};
    make_dirs("missing", "cifar10", dir, fdir, sizeof dir);
    write_cifar10(fdir, bufs);
    for (int k = 0; k < 6; k++) free(bufs[k]);
    snprintf(p, sizeof p, "%s/data_batch_4.bin.gz", fdir);
    CHECK(remove(p) == 0);
    sn_dataset *ds = NULL;
    CHECK(open_ds("cifar10", dir, "train", NULL, &ds) == SN_ERR_IO && !ds);
    const char *m = sn_ctx_error(g_ctx);
    char want[3][700];
    snprintf(want[0], sizeof want[0], "%s/cifar-10-batches-bin/data_batch_4.bin,", dir);
    snprintf(want[1], sizeof want[1], "%s/cifar10/data_batch_4.bin.gz,", dir);
    snprintf(want[2], sizeof want[2], "%s/data_batch_4.bin.gz.", dir);
    CHECK(strstr(m, "data_batch_4.bin not found") && strstr(m, want[0]) && strstr(m, want[1]) &&
          strstr(m, want[2]) && strstr(m, "--data"));
    printf("  %-12s -> %s\n", "missing", m);
    /* a directory where the batch should be */
    snprintf(p, sizeof p, "%s/data_batch_4.bin", fdir);
    CHECK(mkdir(p, 0755) == 0);
    track(p);
    CHECK(open_ds("cifar10", dir, "train", NULL, &ds) == SN_ERR_IO && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "data_batch_4.bin: not a regular file"));
    printf("  %-12s -> %s\n", "directory", sn_ctx_error(g_ctx));
    /* nothing at all */
    make_dirs("none", "", dir, fdir, sizeof dir);
    CHECK(open_ds("cifar10", dir, "test", NULL, &ds) == SN_ERR_IO && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "test_batch.bin not found"));
    CHECK(open_ds("cifar100", dir, "train", NULL, &ds) == SN_ERR_IO && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "cifar-100-binary/train.bin"));
}

static void test_cifar100(void) {
    char dir[512], fdir[512], p[700];
    make_dirs("c100", "cifar-100-binary", dir, fdir, sizeof dir);
    unsigned char *tr = make_records(9, 3074, 3, 20, 100), *te = make_records(4, 3074, 8, 20, 100);
    if (!tr || !te) return;
    tr[3074 * 5] = 19; /* extremes of both ranges */
    tr[3074 * 5 + 1] = 99;
    snprintf(p, sizeof p, "%s/train.bin", fdir);
    write_file(p, 0, tr, 9 * 3074);
    snprintf(p, sizeof p, "%s/test.bin.gz", fdir);
    write_file(p, 1, te, 4 * 3074);
    sn_dataset *ds = NULL;
    CHECK(open_ds("cifar100", dir, "train", NULL, &ds) == SN_OK);
    if (ds) {
        CHECK(ds->n == 9 && ds->n_classes == 100 && ds->c == 3 && ds->class_names == NULL);
        CHECK(same_records(ds, 0, tr, 9, 3074, 1) && ds->labels[5] == 99);
    }
    sn_dataset_free(ds);
    ds = NULL;
    CHECK(open_ds("cifar100", dir, "test", "coarse", &ds) == SN_OK);
    if (ds) CHECK(ds->n == 4 && ds->n_classes == 20 && same_records(ds, 0, te, 4, 3074, 0));
    sn_dataset_free(ds);
    ds = NULL;
    CHECK(open_ds("cifar100", dir, "test", "fine", &ds) == SN_OK);
    if (ds) CHECK(ds->n == 4 && ds->n_classes == 100 && same_records(ds, 0, te, 4, 3074, 1));
    sn_dataset_free(ds);
    ds = NULL;
    CHECK(open_ds("cifar100", dir, "test", "superclass", &ds) == SN_ERR_ARG && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "label 'superclass' unknown (expected fine or coarse)"));
    printf("  %-12s -> %s\n", "label opt", sn_ctx_error(g_ctx));

    /* label name files */
    char names[2000];
    size_t len = 0;
    for (int k = 0; k < 20; k++) len += (size_t)sprintf(names + len, "coarse_%d\n", k);
    snprintf(p, sizeof p, "%s/coarse_label_names.txt", fdir);
    write_file(p, 0, names, len);
    len = 0;
    for (int k = 0; k < 100; k++) len += (size_t)sprintf(names + len, "fine_%d\n", k);
    snprintf(p, sizeof p, "%s/fine_label_names.txt.gz", fdir);
    write_file(p, 1, names, len);
    CHECK(open_ds("cifar100", dir, "train", "coarse", &ds) == SN_OK);
    if (ds) CHECK(ds->class_names && strcmp(ds->class_names[19], "coarse_19") == 0);
    sn_dataset_free(ds);
    ds = NULL;
    CHECK(open_ds("cifar100", dir, "train", "", &ds) == SN_OK);
    if (ds) CHECK(ds->class_names && strcmp(ds->class_names[99], "fine_99") == 0 &&
                  strcmp(ds->class_names[ds->labels[5]], "fine_99") == 0);
    sn_dataset_free(ds);
    ds = NULL;

    /* out-of-range coarse and fine labels, truncation */
    tr[3074 * 2] = 20;
    snprintf(p, sizeof p, "%s/train.bin", fdir);
    write_file(p, 0, tr, 9 * 3074);
    CHECK(open_ds("cifar100", dir, "train", NULL, &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "train.bin: record 2 (byte offset 6148): coarse label 20 "
                                      "out of range 0..19"));
    printf("  %-12s -> %s\n", "coarse", sn_ctx_error(g_ctx));
    tr[3074 * 2] = 0;
    tr[3074 * 7 + 1] = 100;
    write_file(p, 0, tr, 9 * 3074);
    CHECK(open_ds("cifar100", dir, "train", "coarse", &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "record 7 (byte offset 21519): fine label 100 out of range "
                                      "0..99"));
    tr[3074 * 7 + 1] = 0;
    write_file(p, 0, tr, 9 * 3074 - 3073);
    CHECK(open_ds("cifar100", dir, "train", NULL, &ds) == SN_ERR_FORMAT && !ds);
    CHECK(strstr(sn_ctx_error(g_ctx), "24593 bytes is not a multiple of the 3074-byte record: "
                                      "last record 8 is truncated (1 of 3074 bytes)"));
    printf("  %-12s -> %s\n", "c100 trunc", sn_ctx_error(g_ctx));
    free(tr);
    free(te);
}

static void test_real_cifar10(void) {
    const char *root = getenv("SIMNET_DATA");
    char probe[600];
    struct stat sb;
    snprintf(probe, sizeof probe, "%s/cifar-10-batches-bin", root ? root : "");
    if (!root || !*root || stat(probe, &sb) != 0) {
        printf("note: $SIMNET_DATA/cifar-10-batches-bin not found, skipping the real-CIFAR-10 "
               "checks (data/cifar-10/build.sh DIR builds it)\n");
        return;
    }
    sn_dataset *tr = NULL, *te = NULL;
    double t0 = sn_now();
    CHECK(sn_dataset_load(g_ctx, "cifar10", root, "train", &tr) == SN_OK);
    double t1 = sn_now();
    CHECK(sn_dataset_load(g_ctx, "cifar10", root, "test", &te) == SN_OK);
    double t2 = sn_now();
    if (!tr || !te) {
        fprintf(stderr, "  real CIFAR-10: %s\n", sn_ctx_error(g_ctx));
    } else {
        CHECK(tr->n == 50000 && te->n == 10000 && te->c == 3 && te->h == 32 && te->w == 32);
        int cnt[10] = {0}, ok = 1;
        for (int i = 0; i < te->n; i++) cnt[te->labels[i]]++;
        for (int k = 0; k < 10; k++) ok &= cnt[k] == 1000;
        CHECK(ok);
        CHECK(te->class_names && strcmp(te->class_names[0], "airplane") == 0 &&
              strcmp(te->class_names[9], "truck") == 0);
        printf("real CIFAR-10: train %d (%.2f s), test %d (%.2f s), 1000 per class in test: %s\n",
               tr->n, t1 - t0, te->n, t2 - t1, ok ? "yes" : "NO");
    }
    sn_dataset_free(tr);
    sn_dataset_free(te);
}

int main(void) {
    g_ctx = sn_ctx_create(1);
    CHECK(g_ctx != NULL);
    if (!g_ctx) return tu_finish("test_cifar");
    test_cifar10_valid();
    test_cifar10_malformed();
    test_cifar100();
    test_real_cifar10();
    cleanup();
    sn_ctx_free(g_ctx);
    return tu_finish("test_cifar");
}
