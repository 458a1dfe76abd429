/* search.c -- sn_gallery_search: the entry matrix loaded once from the database (until
 * the next change), exact top-k (topk.c) or the IVF index (ivf.c), and the decision. */
#define _POSIX_C_SOURCE 200809L
#include "gallery/gallery.h"

#include "core/core.h"

#include <math.h>
#include <sqlite3.h>
#include <string.h>

void sn_gallery_unload(sn_gallery *g) {
    sn_aligned_free(g->G);
    free(g->gn);
    free(g->ids);
    free(g->lab);
    for (int i = 0; i < g->n_labels; i++) free(g->labels[i]);
    free(g->labels);
    sn_ivf_free(&g->ivf);
    g->G = g->gn = NULL;
    g->ids = NULL;
    g->lab = NULL;
    g->labels = NULL;
    g->n_labels = 0;
    g->n = 0;
    g->loaded = 0;
    g->ivf_built = 0;
}

/* Labels come sorted from the query below, so interning is a comparison with the last. */
static long long data_version(sn_gallery *g) {
    sqlite3_stmt *s = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(g->db, "PRAGMA data_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static sn_status load(sn_ctx *ctx, sn_gallery *g) {
    /* reload after a change through this handle (loaded = 0) or a commit by another
     * connection or process (data_version moved) */
    long long ver = data_version(g);
    if (g->loaded && ver == g->data_version && ver >= 0) return SN_OK;
    sn_gallery_unload(g);
    sqlite3_stmt *s = NULL;
    long long n = 0;
    sn_status st = SN_OK;
    /* one read transaction: the count and the rows see the same snapshot */
    if (sqlite3_exec(g->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sn_gallery_db_err(ctx, g, "search: reading the entries");
    if (sqlite3_prepare_v2(g->db, "SELECT count(*), count(DISTINCT label) FROM entries", -1, &s,
                           NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
        st = sn_gallery_db_err(ctx, g, "search: counting the entries");
        goto done;
    }
    n = sqlite3_column_int64(s, 0);
    long long nl = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    s = NULL;
    const size_t D = (size_t)g->dim;
    g->G = sn_aligned_alloc((size_t)(n > 0 ? n : 1) * D, sizeof(float));
    g->gn = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    g->ids = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    g->lab = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    g->labels = calloc((size_t)(nl > 0 ? nl : 1), sizeof(char *));
    if (!g->G || !g->gn || !g->ids || !g->lab || !g->labels) {
        st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory loading %lld x %d embeddings", g->path, n,
                     g->dim);
        goto done;
    }
    /* rows in (label, id) order: equal labels are adjacent, ties in search break this way */
    if (sqlite3_prepare_v2(g->db, "SELECT id, label, embedding FROM entries ORDER BY label, id",
                           -1, &s, NULL) != SQLITE_OK) {
        st = sn_gallery_db_err(ctx, g, "search: reading the entries");
        goto done;
    }
    size_t r = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (r >= (size_t)n) break;
        const char *lab = (const char *)sqlite3_column_text(s, 1);
        const void *blob = sqlite3_column_blob(s, 2);
        int bytes = sqlite3_column_bytes(s, 2);
        if (!lab || !blob || bytes != g->dim * 4) {
            st = sn_errf(ctx, SN_ERR_FORMAT, "%s: entry %lld: embedding is %d bytes, expected %d "
                                             "(dim %d float32)", g->path,
                         (long long)sqlite3_column_int64(s, 0), bytes, g->dim * 4, g->dim);
            goto done;
        }
        if (g->n_labels == 0 || strcmp(g->labels[g->n_labels - 1], lab) != 0) {
            if (g->n_labels >= nl || !(g->labels[g->n_labels] = strdup(lab))) {
                st = sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory for the labels", g->path);
                goto done;
            }
            g->n_labels++;
        }
        g->ids[r] = sqlite3_column_int64(s, 0);
        g->lab[r] = g->n_labels - 1;
        sn_gallery_blob_to_f32(blob, g->dim, g->G + r * D);
        r++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st = sn_gallery_db_err(ctx, g, "search: reading the entries");
        goto done;
    }
    g->n = r;
    sn_row_sqnorms(g->G, g->n, g->dim, g->gn);
    g->loaded = 1;
    g->data_version = ver;
done:
    sqlite3_finalize(s);
    sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL);
    if (st) sn_gallery_unload(g);
    return st;
}

sn_status sn_gallery_search(sn_ctx *ctx, sn_gallery *g, const float *queries, int nq,
                            const sn_gallery_search_opts *opts, sn_gallery_hit *hits, int *decision) {
    sn_gallery_search_opts o = {0};
    if (opts) o = *opts;
    if (o.k <= 0) o.k = 5;
    if (nq < 0 || !(o.threshold >= 0) || (o.index != SN_GALLERY_EXACT && o.index != SN_GALLERY_IVF))
        return sn_errf(ctx, SN_ERR_ARG, "search: need nq >= 0, threshold >= 0, index exact or ivf");
    for (size_t t = 0; t < (size_t)nq * (size_t)g->dim; t++)
        if (!isfinite(queries[t]))
            return sn_errf(ctx, SN_ERR_NUMERIC, "search: query %zu is not finite", t / (size_t)g->dim);
    sn_status st = load(ctx, g);
    if (st) return st;
    const int nt = sn_ctx_threads(ctx), k = o.k;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(nq > 0 ? nq : 1) * (size_t)k);
    float *d2 = malloc(sizeof(float) * (size_t)(nq > 0 ? nq : 1) * (size_t)k);
    if (!idx || !d2) {
        free(idx);
        free(d2);
        return sn_errf(ctx, SN_ERR_NOMEM, "search: out of memory for %d queries x k = %d", nq, k);
    }
    if (o.index == SN_GALLERY_IVF && g->n > 0) {
        if (g->ivf_built && o.nlist > 0 && o.nlist != g->ivf_nlist) {
            sn_ivf_free(&g->ivf);
            g->ivf_built = 0;
        }
        if (!g->ivf_built) {
            st = sn_ivf_build(ctx, &g->ivf, g->G, g->gn, g->n, g->dim, o.nlist, 12345, nt);
            g->ivf_built = !st;
            g->ivf_nlist = o.nlist;
        }
        if (!st) st = sn_ivf_search(ctx, &g->ivf, queries, nq, k, o.nprobe, nt, idx, d2);
    } else {
        st = sn_topk_exact(ctx, g->G, g->gn, g->n, g->dim, queries, nq, k, nt, idx, d2);
    }
    for (int q = 0; !st && q < nq; q++) {
        for (int j = 0; j < k; j++) {
            size_t t = (size_t)q * (size_t)k + (size_t)j;
            sn_gallery_hit *h = &hits[t];
            if (idx[t] < 0) {
                h->entry = -1;
                h->label = NULL;
                h->distance = INFINITY;
                continue;
            }
            h->entry = g->ids[idx[t]];
            h->label = g->labels[g->lab[idx[t]]];
            h->distance = sqrtf(d2[t]);
        }
        if (decision)
            decision[q] = o.threshold <= 0 ? -1
                        : hits[(size_t)q * (size_t)k].entry >= 0 &&
                                  hits[(size_t)q * (size_t)k].distance <= o.threshold ? 1 : 0;
    }
    free(idx);
    free(d2);
    return st;
}

sn_status sn_gallery_search_images(sn_ctx *ctx, sn_gallery *g, sn_model *m, const uint8_t *pixels,
                                   int n, const sn_gallery_search_opts *opts, sn_gallery_hit *hits,
                                   int *decision) {
    sn_status st = sn_gallery_check_model(ctx, g, m);
    if (st || n == 0) return st;
    float *emb = malloc(sizeof(float) * (size_t)n * (size_t)g->dim);
    if (!emb) return sn_errf(ctx, SN_ERR_NOMEM, "search: out of memory for %d embeddings", n);
    st = sn_model_embed(ctx, m, pixels, n, emb);
    if (!st) st = sn_gallery_search(ctx, g, emb, n, opts, hits, decision);
    free(emb);
    return st;
}
