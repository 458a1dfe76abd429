/* fuzz_gallery.c -- a gallery database (SQLite, src/gallery/) opened from arbitrary bytes:
 * open, stats, list, verify, then an exact and an IVF search with two queries. Seeds
 * are small galleries made with simnet gallery create + enroll (fuzz/make_corpus.sh). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_label(void *user, const char *label, long long count) {
    (void)label;
    *(long long *)user += count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sn_ctx *ctx;
    if (!ctx) ctx = sn_ctx_create(1);
    char path[1024];
    snprintf(path, sizeof path, "%s", fz_path(NULL, "g.db"));
    unlink(fz_path(NULL, "g.db-wal"));
    unlink(fz_path(NULL, "g.db-shm"));
    unlink(fz_path(NULL, "g.db-journal"));
    fz_write(path, data, size, 0);
    sn_gallery *g = NULL;
    fz_clear_error(ctx);
    sn_status st = sn_gallery_open(ctx, path, &g);
    fz_check_error(ctx, st);
    if (st != SN_OK) return 0;
    sn_gallery_stats s;
    fz_clear_error(ctx);
    st = sn_gallery_stats_get(ctx, g, &s);
    fz_check_error(ctx, st);
    long long n = 0;
    fz_clear_error(ctx);
    st = sn_gallery_list(ctx, g, count_label, &n);
    fz_check_error(ctx, st);
    fz_clear_error(ctx);
    st = sn_gallery_verify(ctx, g);
    fz_check_error(ctx, st);
    int dim = sn_gallery_dim(g);
    if (dim >= 1 && dim <= 4096) {
        float *q = calloc(2 * (size_t)dim, sizeof *q);
        sn_gallery_hit hits[2 * 3];
        int dec[2];
        for (int i = 0; q && i < 2 * dim; i++) q[i] = (float)(i % 7) - 3.0f;
        for (int index = 0; q && index < 2; index++) {
            sn_gallery_search_opts o;
            memset(&o, 0, sizeof o);
            o.k = 3;
            o.threshold = 1.0f;
            o.index = index;
            fz_clear_error(ctx);
            st = sn_gallery_search(ctx, g, q, 2, &o, hits, dec);
            fz_check_error(ctx, st);
        }
        free(q);
    }
    sn_gallery_close(g);
    return 0;
}
