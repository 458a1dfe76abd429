/* gallery.h -- private to libsimnet: the search kernels behind sn_gallery (exact top-k by
 * GEMM + k-heap, and the approximate IVF index). The SQLite store is src/gallery/store.c;
 * docs/gallery.md describes the database and the algorithms. */
#ifndef SN_GALLERY_H
#define SN_GALLERY_H

#include "simnet.h"

#include <stddef.h>
#include <stdint.h>

/* A bounded max-heap of the k smallest (d, i) pairs, ordered lexicographically (so ties
 * on d keep the lower index: results do not depend on the scan order or thread count).
 * d: (k), i: (k) caller-owned storage. */
typedef struct {
    float *d;
    int64_t *i;
    int n, k;
} sn_kheap;

void sn_kheap_init(sn_kheap *h, float *d, int64_t *i, int k);
/* Worst kept distance, +inf while the heap is not full. */
float sn_kheap_bound(const sn_kheap *h);
void sn_kheap_push(sn_kheap *h, float d, int64_t i);
/* Sort the kept pairs ascending in place (the heap is no longer a heap afterwards). */
void sn_kheap_sort(sn_kheap *h);

/* Push d2[j] with index base + j for j < n, skipping values above the heap bound
 * (AVX-512 compares 16 at a time when built with it; a scalar loop otherwise). */
void sn_topk_scan(sn_kheap *h, const float *d2, size_t n, int64_t base);

/* out (qb, nb) = Q (qb, d) . B (nb, d)^T: GEMM, or for qb <= 4 a streaming kernel (AVX-512
 * when built with it) that reads each row of B once for all queries. */
void sn_block_dots(const float *Q, int qb, const float *B, size_t nb, int d, float *out);

/* Squared row norms: out[r] = sum_j X[r, j]^2. X: (n, d). */
void sn_row_sqnorms(const float *X, size_t n, int d, float *out);

/* Exact k nearest rows of G for each query (squared Euclidean):
 *   G: (n, d) row-major, gn: (n) squared norms of G's rows, Q: (nq, d).
 *   idx: (nq, k) row indices, nearest first, -1 in empty slots (n < k);
 *   d2: (nq, k) squared distances (>= 0), +inf in empty slots.
 * Computed blockwise as ||q||^2 + ||g||^2 - 2 q.g with one GEMM per (query batch,
 * gallery block), nt OpenMP threads. */
sn_status sn_topk_exact(sn_ctx *ctx, const float *G, const float *gn, size_t n, int d,
                        const float *Q, int nq, int k, int nt, int64_t *idx, float *d2);
/* Brute-force reference (double accumulation, direct differences); same output. */
void sn_topk_ref(const float *G, size_t n, int d, const float *Q, int nq, int k, int64_t *idx,
                 float *d2);

/* Inverted-file index: k-means centroids; each row is stored in the list of its nearest
 * centroid; a query scans the rows of its nprobe nearest lists. */
typedef struct {
    int nlist, d;
    size_t n;
    float *cent, *cn;   /* (nlist, d) centroids, (nlist) their squared norms */
    size_t *off;        /* (nlist + 1): list l holds rows off[l] .. off[l+1]-1 below */
    float *vec, *vn;    /* (n, d) rows grouped by list, (n) squared norms */
    int64_t *ids;       /* (n) original row of each grouped row */
} sn_ivf;

/* Build from G (n, d) with gn (n): k-means (8 Lloyd iterations) on a seeded sample of at
 * most 40 rows per list, then every row assigned. nlist <= 0: sqrt(n). Cost about
 * 2 d nlist (8 * 40 nlist + n) FLOP. */
sn_status sn_ivf_build(sn_ctx *ctx, sn_ivf *ix, const float *G, const float *gn, size_t n, int d,
                       int nlist, uint64_t seed, int nt);
/* Same output contract as sn_topk_exact, over the nprobe nearest lists only. */
sn_status sn_ivf_search(sn_ctx *ctx, const sn_ivf *ix, const float *Q, int nq, int k, int nprobe,
                        int nt, int64_t *idx, float *d2);
void sn_ivf_free(sn_ivf *ix);

/* The gallery handle (store.c: database; search.c: the in-memory matrix). */
typedef struct sqlite3 sqlite3;
struct sn_gallery {
    sqlite3 *db;
    char *path;
    char fp[SN_FINGERPRINT_LEN];
    char model_path[1024];
    int dim;
    double created;
    /* matrix of every entry, loaded on the first search after a change (loaded = 0) */
    int loaded;
    size_t n;
    float *G, *gn;        /* (n, dim) embeddings in (label, id) order, (n) squared norms */
    int64_t *ids;         /* (n) entry ids */
    int32_t *lab;         /* (n) index into labels */
    char **labels;        /* (n_labels) distinct labels */
    int n_labels;
    int ivf_built, ivf_nlist;
    sn_ivf ivf;
    long long data_version; /* PRAGMA data_version when loaded: other connections' commits */
};

/* Drop the loaded matrix and index (after the entries changed). search.c. */
void sn_gallery_unload(sn_gallery *g);
/* Error status for a failed SQLite call: names the gallery file, what was being done and
 * SQLite's message; SN_ERR_FORMAT for a corrupt / non-database file. store.c. */
sn_status sn_gallery_db_err(sn_ctx *ctx, const sn_gallery *g, const char *what);
/* Embedding blob <-> floats (little-endian float32). store.c. */
void sn_gallery_blob_to_f32(const void *blob, int dim, float *out);

#endif
