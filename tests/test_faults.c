/* test_faults.c -- allocation-failure injection (docs/hardening.md).
 *
 * For each operation below: run it once counting allocation requests (it must succeed),
 * then for N = 1, 2, ... make exactly the N-th request fail (sn_fault_alloc_arm) and
 * check that the operation returns SN_ERR_NOMEM with a message, produces no output
 * object, and leaks nothing, until an N past the last request lets it succeed again.
 *
 * Requests are counted in two places: the library's wrappers (sn_malloc, sn_calloc,
 * sn_aligned_alloc, ... in src/core/core.c) and, because this test is linked with
 * ld --wrap=malloc,calloc,realloc,aligned_alloc,strdup,free (tests/CMakeLists.txt), every
 * direct libc allocation call in the library's objects. A wrapper's request is thus
 * counted twice (in the wrapper, then in libc's wrap): harmless, each N fails one
 * request. Allocations made inside shared libraries (zlib, libpng, OpenBLAS) are not
 * counted. Leaks: the wraps count live blocks (every N must end with the count it
 * started with); under ASan, LeakSanitizer checks again at exit.
 *
 * Operations: IDX loading (plain and gzip), CIFAR-10 (+ class names) and CIFAR-100,
 * a folder dataset (PNG + PGM), split and class selection, one image load, model
 * create / save / load (with operating points and metadata), sn_model_embed, sn_evaluate
 * and .npy read/write, all on tiny synthetic inputs, with one thread. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "io/npy.h"
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------- libc wraps */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
char *__real_strdup(const char *s);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t s);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
char *__wrap_strdup(const char *s);
void __wrap_free(void *p);

static _Atomic long live; /* blocks allocated through the wraps and not yet freed */

void *__wrap_malloc(size_t n) {
    if (sn_fault_alloc_check()) return NULL;
    void *p = __real_malloc(n);
    if (p) live++;
    return p;
}
void *__wrap_calloc(size_t n, size_t s) {
    if (sn_fault_alloc_check()) return NULL;
    void *p = __real_calloc(n, s);
    if (p) live++;
    return p;
}
void *__wrap_realloc(void *p, size_t n) {
    if (sn_fault_alloc_check()) return NULL;
    void *q = __real_realloc(p, n);
    if (q && !p) live++;
    return q;
}
void *__wrap_aligned_alloc(size_t a, size_t n) {
    if (sn_fault_alloc_check()) return NULL;
    void *p = __real_aligned_alloc(a, n);
    if (p) live++;
    return p;
}
char *__wrap_strdup(const char *s) {
    if (sn_fault_alloc_check()) return NULL;
    char *p = __real_strdup(s);
    if (p) live++;
    return p;
}
void __wrap_free(void *p) {
    if (p) live--;
    __real_free(p);
}

/* ------------------------------------------------------------- the loop */
typedef struct {
    const char *name;
    /* Run the operation; on success leave its result in *env (released by undo). */
    sn_status (*run)(sn_ctx *ctx, void *env);
    void (*undo)(void *env);
    void *env;
} fault_op;

static long total_failures_injected;

static void fault_loop(sn_ctx *ctx, const fault_op *op) {
    long base = live;
    sn_fault_alloc_arm(LONG_MAX); /* count only */
    sn_status st = op->run(ctx, op->env);
    long n_req = sn_fault_alloc_count();
    sn_fault_alloc_arm(0);
    CHECK(st == SN_OK);
    if (st != SN_OK) {
        fprintf(stderr, "%s: fails without fault injection: %s\n", op->name, sn_ctx_error(ctx));
        return;
    }
    op->undo(op->env);
    CHECK(live == base);
    int bad = 0;
    for (long n = 1; n <= n_req + 1 && bad < 3; n++) {
        ctx->err[0] = '\0';
        sn_fault_alloc_arm(n);
        st = op->run(ctx, op->env);
        int fired = sn_fault_alloc_fired();
        sn_fault_alloc_arm(0);
        if (st == SN_OK) op->undo(op->env);
        if (fired) {
            total_failures_injected++;
            if (st != SN_ERR_NOMEM || !ctx->err[0]) {
                bad++;
                fprintf(stderr, "FAIL %s: allocation %ld of %ld failed: status %s (expected "
                        "out of memory), message '%s'\n", op->name, n, n_req,
                        sn_status_str(st), ctx->err);
            }
            CHECK(st == SN_ERR_NOMEM);
        } else {
            CHECK(st == SN_OK); /* N past the last request */
        }
        if (live != base) {
            bad++;
            fprintf(stderr, "FAIL %s: allocation %ld of %ld failed: %ld block(s) leaked\n",
                    op->name, n, n_req, live - base);
            base = live;
        }
        CHECK(live == base);
    }
    printf("%-28s %4ld allocation requests, each failed once: %s\n", op->name, n_req,
           bad ? "FAILED" : "ok");
}

/* ------------------------------------------------------------- fixtures */
static char dir[1024];

static void wfile(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}
static void wgz(const char *path, const void *p, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, p, (unsigned)n) != (int)n || gzclose(g) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}
static const char *at(const char *rel) {
    static char p[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, rel);
    return p[k];
}
static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

enum { NI = 80, SIDE = 8, NCLS = 10 };

/* IDX images (NI, SIDE, SIDE) and labels, plain in mnist/, gzip in fashion-mnist/. */
static void make_idx(void) {
    static unsigned char img[16 + NI * SIDE * SIDE], lab[8 + NI];
    be32(img, 0x803); be32(img + 4, NI); be32(img + 8, SIDE); be32(img + 12, SIDE);
    be32(lab, 0x801); be32(lab + 4, NI);
    for (int i = 0; i < NI; i++) {
        lab[8 + i] = (unsigned char)(i % NCLS);
        for (int k = 0; k < SIDE * SIDE; k++)
            img[16 + i * SIDE * SIDE + k] = (unsigned char)((k * 7 + (i % NCLS) * 60 + i) % 256);
    }
    mkdir(at("mnist"), 0755);
    mkdir(at("fashion-mnist"), 0755);
    for (int s = 0; s < 2; s++) {
        const char *pre = s ? "train" : "t10k";
        char a[64], b[64];
        snprintf(a, sizeof a, "mnist/%s-images-idx3-ubyte", pre);
        snprintf(b, sizeof b, "mnist/%s-labels-idx1-ubyte", pre);
        wfile(at(a), img, sizeof img);
        wfile(at(b), lab, sizeof lab);
        snprintf(a, sizeof a, "fashion-mnist/%s-images-idx3-ubyte.gz", pre);
        snprintf(b, sizeof b, "fashion-mnist/%s-labels-idx1-ubyte.gz", pre);
        wgz(at(a), img, sizeof img);
        wgz(at(b), lab, sizeof lab);
    }
}

static void make_cifar(void) {
    static unsigned char r10[3 * 3073], r100[3 * 3074];
    for (int i = 0; i < 3; i++) {
        r10[i * 3073] = (unsigned char)(i * 3);
        r100[i * 3074] = (unsigned char)i;
        r100[i * 3074 + 1] = (unsigned char)(i * 30);
    }
    mkdir(at("cifar-10-batches-bin"), 0755);
    mkdir(at("cifar-100-binary"), 0755);
    wfile(at("cifar-10-batches-bin/test_batch.bin"), r10, sizeof r10);
    const char *names = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
    wfile(at("cifar-10-batches-bin/batches.meta.txt"), names, strlen(names));
    wgz(at("cifar-100-binary/test.bin.gz"), r100, sizeof r100);
}

static void png_chunk(FILE *f, const char *type, const unsigned char *d, uint32_t n) {
    unsigned char h[8];
    be32(h, n);
    memcpy(h + 4, type, 4);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (n) crc = crc32(crc, d, n);
    unsigned char c[4];
    be32(c, (uint32_t)crc);
    fwrite(h, 1, 8, f);
    if (n) fwrite(d, 1, n, f);
    fwrite(c, 1, 4, f);
}

/* A 5x4 RGB PNG and a 3x3 PGM in each of the class folders cls0, cls1 of folder/. */
static void make_folder(void) {
    mkdir(at("folder"), 0755);
    for (int c = 0; c < 2; c++) {
        char d[64], p[96];
        snprintf(d, sizeof d, "folder/cls%d", c);
        mkdir(at(d), 0755);
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "%s/img%d.pgm", d, k);
            unsigned char pgm[32];
            int n = snprintf((char *)pgm, sizeof pgm, "P5 3 3 255\n");
            for (int j = 0; j < 9; j++) pgm[n + j] = (unsigned char)(j * 20 + c * 50 + k);
            wfile(at(p), pgm, (size_t)n + 9);
        }
        snprintf(p, sizeof p, "%s/img.png", d);
        unsigned char raw[4 * (1 + 15)], z[256], ihdr[13] = {0};
        for (int y = 0; y < 4; y++) {
            raw[y * 16] = 0;
            for (int x = 0; x < 15; x++) raw[y * 16 + 1 + x] = (unsigned char)(x * 13 + y * 40 + c);
        }
        uLongf zn = sizeof z;
        if (compress(z, &zn, raw, sizeof raw) != Z_OK) exit(1);
        be32(ihdr, 5);
        be32(ihdr + 4, 4);
        ihdr[8] = 8;
        ihdr[9] = 2;
        FILE *f = fopen(at(p), "wb");
        if (!f) exit(1);
        fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
        png_chunk(f, "IHDR", ihdr, 13);
        png_chunk(f, "IDAT", z, (uint32_t)zn);
        png_chunk(f, "IEND", NULL, 0);
        if (fclose(f) != 0) exit(1);
    }
}

/* ------------------------------------------------------------- operations */
typedef struct {
    const char *name, *split;
    sn_dataset_opts opts;
    sn_dataset *out;
} ds_env;
static sn_status ds_run(sn_ctx *ctx, void *e) {
    ds_env *d = e;
    d->out = NULL;
    sn_status st = sn_dataset_open(ctx, d->name, d->split, &d->opts, &d->out);
    if ((st == SN_OK) != (d->out != NULL)) return SN_ERR_ARG; /* output only on success */
    return st;
}
static void ds_undo(void *e) {
    ds_env *d = e;
    sn_dataset_free(d->out);
    d->out = NULL;
}

typedef struct {
    const sn_dataset *ds;
    sn_dataset *a, *b;
} split_env;
static sn_status split_run(sn_ctx *ctx, void *e) {
    split_env *s = e;
    sn_status st = sn_dataset_split(ctx, s->ds, 10, 7, &s->a, &s->b);
    if (st == SN_OK) {
        sn_dataset *sel = NULL;
        st = sn_dataset_select_classes(ctx, s->a, "1-2", &sel);
        sn_dataset_free(sel);
        if (st != SN_OK) {
            sn_dataset_free(s->a);
            sn_dataset_free(s->b);
            s->a = s->b = NULL;
        }
    }
    return st;
}
static void split_undo(void *e) {
    split_env *s = e;
    sn_dataset_free(s->a);
    sn_dataset_free(s->b);
    s->a = s->b = NULL;
}

static sn_status image_run(sn_ctx *ctx, void *e) {
    uint8_t out[3 * 6 * 7];
    return sn_image_load(ctx, (const char *)e, 3, 6, 7, out);
}
static void nothing(void *e) { (void)e; }

typedef struct {
    sn_model_config cfg;
    sn_model *m;
} create_env;
static sn_status create_run(sn_ctx *ctx, void *e) {
    create_env *c = e;
    c->m = NULL;
    sn_status st = sn_model_create(ctx, &c->cfg, &c->m);
    if (st == SN_OK) st = sn_model_meta_set(ctx, c->m, "dataset", "mnist");
    if (st == SN_OK) st = sn_model_meta_set(ctx, c->m, "note", "fault test");
    if (st != SN_OK) {
        sn_model_free(c->m);
        c->m = NULL;
    }
    return st;
}
static void create_undo(void *e) {
    create_env *c = e;
    sn_model_free(c->m);
    c->m = NULL;
}

typedef struct {
    const sn_model *m;
    const char *path;
    sn_model *loaded;
} save_env;
static sn_status save_run(sn_ctx *ctx, void *e) {
    save_env *s = e;
    return sn_model_save(ctx, s->m, s->path);
}
static sn_status load_run(sn_ctx *ctx, void *e) {
    save_env *s = e;
    s->loaded = NULL;
    sn_status st = sn_model_load(ctx, s->path, &s->loaded);
    if ((st == SN_OK) != (s->loaded != NULL)) return SN_ERR_ARG;
    return st;
}
static void load_undo(void *e) {
    save_env *s = e;
    sn_model_free(s->loaded);
    s->loaded = NULL;
}

typedef struct {
    const char *path;
    const sn_dataset *test, *ref;
    float *emb;
    sn_eval_result r;
} eval_env;
/* A fresh model each time, so that the plan (activation memory) is allocated inside. */
static sn_status embed_run(sn_ctx *ctx, void *e) {
    eval_env *v = e;
    sn_model *m = NULL;
    sn_status st = sn_model_load(ctx, v->path, &m);
    if (st == SN_OK) st = sn_model_embed(ctx, m, v->test->pixels, v->test->n, v->emb);
    sn_model_free(m);
    return st;
}
static sn_status eval_run(sn_ctx *ctx, void *e) {
    eval_env *v = e;
    sn_model *m = NULL;
    sn_status st = sn_model_load(ctx, v->path, &m);
    if (st != SN_OK) return st;
    memset(&v->r, 0, sizeof v->r);
    sn_eval_opts o;
    sn_eval_opts_default(&o);
    o.n_pairs = 60;
    o.episodes = 4;
    o.n_way = 2;
    o.n_query = 2;
    o.open_set = 1;
    o.reference = 1;
    st = sn_evaluate(ctx, m, v->test, v->ref, &o, &v->r);
    sn_model_free(m);
    return st;
}


typedef struct {
    const char *path;
} npy_env;
static sn_status npy_run(sn_ctx *ctx, void *e) {
    npy_env *n = e;
    float data[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    sn_status st = sn_npy_write(ctx, n->path, SN_NPY_F32, 2, shape, data);
    if (st != SN_OK) return st;
    sn_npy_array a;
    st = sn_npy_read(ctx, n->path, &a);
    if (st == SN_OK) {
        if (a.count != 6 || memcmp(a.data, data, sizeof data) != 0) st = SN_ERR_FORMAT;
        sn_npy_free(&a);
    }
    return st;
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/faults.XXXXXX", tu_tmpdir());
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    sn_ctx *ctx = sn_ctx_create(1);
    CHECK(ctx != NULL);
    make_idx();
    make_cifar();
    make_folder();

    ds_env mn = {"mnist", "test", {0}, NULL}, fm = {"fashion-mnist", "train", {0}, NULL};
    mn.opts.dir = fm.opts.dir = dir;
    ds_env c10 = {"cifar10", "test", {0}, NULL}, c100 = {"cifar100", "test", {0}, NULL};
    c10.opts.dir = c100.opts.dir = dir;
    c100.opts.label = "coarse";
    char fname[1200];
    snprintf(fname, sizeof fname, "folder:%s", at("folder"));
    ds_env fo = {fname, "train", {0}, NULL};
    fo.opts.c = 1;
    fo.opts.h = 4;
    fo.opts.w = 4;
    fo.opts.test_fraction = 0.3;
    fault_op ops1[] = {
        {"load IDX (plain)", ds_run, ds_undo, &mn},
        {"load IDX (gzip)", ds_run, ds_undo, &fm},
        {"load CIFAR-10 + names", ds_run, ds_undo, &c10},
        {"load CIFAR-100 (gzip)", ds_run, ds_undo, &c100},
        {"load folder (PNG, PGM)", ds_run, ds_undo, &fo},
        {"load image (PNG)", image_run, nothing, (void *)at("folder/cls1/img.png")},
        {"load image (PGM)", image_run, nothing, (void *)at("folder/cls0/img1.pgm")},
    };
    for (size_t i = 0; i < sizeof ops1 / sizeof ops1[0]; i++) fault_loop(ctx, &ops1[i]);

    sn_dataset *test = NULL, *train = NULL;
    CHECK(sn_dataset_load(ctx, "mnist", dir, "test", &test) == SN_OK);
    CHECK(sn_dataset_load(ctx, "mnist", dir, "train", &train) == SN_OK);
    if (!test || !train) return tu_finish("test_faults");
    split_env sp = {train, NULL, NULL};
    fault_op sop = {"split + select classes", split_run, split_undo, &sp};
    fault_loop(ctx, &sop);

    create_env ce;
    memset(&ce, 0, sizeof ce);
    ce.cfg.arch = "conv 4 3 1 1; bn; relu; maxpool 2; flatten; linear 6; bn; linear 3";
    ce.cfg.in_c = 1;
    ce.cfg.in_h = ce.cfg.in_w = SIDE;
    for (int k = 0; k < 3; k++) {
        ce.cfg.mean[k] = 0.5f;
        ce.cfg.std[k] = 0.25f;
    }
    ce.cfg.seed = 3;
    fault_op cop = {"model create + metadata", create_run, create_undo, &ce};
    fault_loop(ctx, &cop);

    sn_model *m = NULL;
    CHECK(create_run(ctx, &ce) == SN_OK);
    m = ce.m;
    if (!m) return tu_finish("test_faults");
    sn_operating_point op;
    memset(&op, 0, sizeof op);
    snprintf(op.name, sizeof op.name, "f1");
    op.threshold = 1.25f;
    CHECK(sn_model_op_set(ctx, m, &op) == SN_OK);
    sn_model_set_threshold(m, 1.5f);
    char mpath[1200];
    snprintf(mpath, sizeof mpath, "%s", at("m.snm"));
    save_env se = {m, mpath, NULL};
    fault_op saveop = {"model save", save_run, nothing, &se};
    fault_op loadop = {"model load", load_run, load_undo, &se};
    fault_loop(ctx, &saveop);
    fault_loop(ctx, &loadop);

    eval_env ev;
    memset(&ev, 0, sizeof ev);
    ev.path = mpath;
    ev.test = test;
    ev.ref = train;
    ev.emb = calloc((size_t)test->n * 3, sizeof(float));
    CHECK(ev.emb != NULL);
    fault_op eop = {"model load + embed", embed_run, nothing, &ev};
    fault_op vop = {"evaluate (all metrics)", eval_run, nothing, &ev};
    fault_loop(ctx, &eop);
    fault_loop(ctx, &vop);

    npy_env ne = {at("e.npy")};
    char npath[1200];
    snprintf(npath, sizeof npath, "%s", ne.path);
    ne.path = npath;
    fault_op nop = {".npy write + read", npy_run, nothing, &ne};
    fault_loop(ctx, &nop);

    printf("%ld allocation failures injected\n", total_failures_injected);
    CHECK(total_failures_injected > 100);
    free(ev.emb);
    sn_model_free(m);
    sn_dataset_free(test);
    sn_dataset_free(train);
    sn_ctx_free(ctx);
    /* remove the fixtures */
    const char *files[] = {"mnist/t10k-images-idx3-ubyte", "mnist/t10k-labels-idx1-ubyte",
                           "mnist/train-images-idx3-ubyte", "mnist/train-labels-idx1-ubyte",
                           "fashion-mnist/t10k-images-idx3-ubyte.gz",
                           "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                           "fashion-mnist/train-images-idx3-ubyte.gz",
                           "fashion-mnist/train-labels-idx1-ubyte.gz",
                           "cifar-10-batches-bin/test_batch.bin",
                           "cifar-10-batches-bin/batches.meta.txt", "cifar-100-binary/test.bin.gz",
                           "m.snm", "e.npy", "mnist", "fashion-mnist", "cifar-10-batches-bin",
                           "cifar-100-binary"};
    for (int c = 0; c < 2; c++) {
        char p[96];
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "folder/cls%d/img%d.pgm", c, k);
            unlink(at(p));
        }
        snprintf(p, sizeof p, "folder/cls%d/img.png", c);
        unlink(at(p));
        snprintf(p, sizeof p, "folder/cls%d", c);
        rmdir(at(p));
    }
    rmdir(at("folder"));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (unlink(at(files[i])) != 0 && errno == EISDIR) rmdir(at(files[i]));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) rmdir(at(files[i]));
    CHECK(rmdir(dir) == 0); /* nothing else (no temporary file) was left behind */
    return tu_finish("test_faults");
}
