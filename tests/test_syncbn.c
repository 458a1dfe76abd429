/* test_syncbn.c -- synchronized batch norm without MPI (kernels.h: sn_bn_sync).
 *
 * Kernel level: two "replicas" hold rows [0, NA) and [NA, N) of one batch. A recording
 * hook first captures each half's partial sums (leaving them: local statistics), then
 * an adding hook gives each half the sum of both, in rank order, as the ordered
 * all-reduce does. Forward output, saved mean / rstd, running statistics and dx of the
 * two halves must match full-batch batch norm (the double reference) within 1e-5 of the
 * largest value, dgamma / dbeta of the halves must add up to the full batch's, and the
 * two replicas must hold the same bits of mean / rstd / running statistics. Also: a
 * NULL hook is exactly the plain kernel, a one-replica (identity) hook matches it within
 * rounding, results do not depend on the thread count, a failing hook leaves each half
 * with its own statistics, backward without dx makes no call.
 *
 * Model level: two threads each run a copy of a small BN model (2-d and 1-d BN) on
 * half of a batch, exchanging their sums through a barrier (a two-rank communicator in
 * miniature); embeddings and the sum of the two gradient slabs match one model on the
 * whole batch within 1e-5, while without the hook (per-replica statistics) they differ
 * by far more, so the comparison can fail.
 */
#define _POSIX_C_SOURCE 200809L
#include "kernels/kernels.h"
#include "nn/nn.h"
#include "testutil.h"

#include <pthread.h>
#include <string.h>

#define TOL 1e-5

static float *copy_f(const float *a, size_t n) {
    float *p = tu_fbuf(n);
    memcpy(p, a, n * sizeof(float));
    return p;
}
static double *to_d(const float *a, size_t n) {
    double *p = tu_dbuf(n);
    for (size_t i = 0; i < n; i++) p[i] = a[i];
    return p;
}
static uint64_t lcg = 12345;
static float urand(float lo, float hi) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((lcg >> 40) / (double)(1ull << 24));
}
static void fill(float *p, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = urand(lo, hi);
}
/* max |a - b| / max |b| */
static double rel_d(const float *a, const double *b, size_t n) {
    double d = 0, m = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > d || e != e) d = e != e ? INFINITY : e;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return d / m;
}

/* ------------------------------------------------------------ fake hooks */
typedef struct {
    int mode;         /* 0 record (identity), 1 add the other replica's, 2 fail */
    int rank;         /* 0 or 1 */
    double *mine;     /* recorded: (cap) */
    const double *other;
    int calls, n;
} fake;

static int fake_sum(void *u, double *v, int n) {
    fake *f = u;
    f->calls++;
    f->n = n;
    if (f->mode == 2) return 1;
    if (f->mode == 0) {
        memcpy(f->mine, v, sizeof(double) * (size_t)n);
        return 0;
    }
    CHECK(memcmp(f->mine, v, sizeof(double) * (size_t)n) == 0); /* same partial sums again */
    for (int i = 0; i < n; i++) v[i] = f->rank == 0 ? v[i] + f->other[i] : f->other[i] + v[i];
    return 0;
}

/* One replica's tensors: rows [lo, lo + n) of the batch. */
typedef struct {
    int lo, n;
    float *y, *mean, *rstd, *rm, *rv, *dx, *dg, *db;
    fake f;
    sn_bn_sync sync;
} half;

static void half_init(half *h, int lo, int n, int C, int S, int rank, const float *rm0,
                      const float *rv0) {
    memset(h, 0, sizeof *h);
    h->lo = lo;
    h->n = n;
    const size_t nx = (size_t)n * C * S;
    h->y = tu_fbuf(nx), h->mean = tu_fbuf(C), h->rstd = tu_fbuf(C), h->dx = tu_fbuf(nx);
    h->dg = tu_fbuf(C), h->db = tu_fbuf(C);
    h->rm = copy_f(rm0, C), h->rv = copy_f(rv0, C);
    h->f.rank = rank;
    h->f.mine = tu_dbuf((size_t)2 * C + 1);
    h->sync.sum = fake_sum;
    h->sync.ctx = &h->f;
    h->sync.cap = 2 * C + 1;
    h->sync.buf = tu_dbuf((size_t)h->sync.cap);
}
static void half_free(half *h) {
    free(h->y), free(h->mean), free(h->rstd), free(h->rm), free(h->rv), free(h->dx);
    free(h->dg), free(h->db), free(h->f.mine), free(h->sync.buf);
}

/* Forward (fwd = 1) or backward of both halves: record, then exchange. */
static void run_pair(half h[2], int fwd, const float *x, const float *g, const float *be,
                     const float *dy, const float *rm0, const float *rv0, int C, int S, int nt,
                     int set) {
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < 2; r++) {
            half *q = &h[r];
            q->f.mode = pass;
            q->f.other = h[1 - r].f.mine;
            const size_t off = (size_t)q->lo * C * S;
            if (fwd) {
                memcpy(q->rm, rm0, sizeof(float) * C), memcpy(q->rv, rv0, sizeof(float) * C);
                sn_batchnorm_forward_train_sync_f32(q->y, q->mean, q->rstd, x + off, g, be, q->rm,
                                                    q->rv, q->n, C, S, 0.1f, 1e-5f, nt, &q->sync);
            } else {
                memset(q->dg, 0, sizeof(float) * C), memset(q->db, 0, sizeof(float) * C);
                if (!set) memset(q->dx, 0, sizeof(float) * (size_t)q->n * C * S);
                sn_batchnorm_backward_sync_f32(q->dx, q->dg, q->db, dy + off, x + off, q->mean,
                                               q->rstd, g, q->n, C, S, nt, set, &q->sync);
            }
        }
}

static void test_kernel_case(int N, int NA, int C, int S, float xoff, int nt) {
    char tag[96];
    snprintf(tag, sizeof tag, "sync bn N%d (%d+%d) C%d S%d nt%d", N, NA, N - NA, C, S, nt);
    const size_t nx = (size_t)N * C * S;
    const double cnt = (double)N * S;
    float *x = tu_fbuf(nx), *g = tu_fbuf(C), *be = tu_fbuf(C), *dy = tu_fbuf(nx), *rm0 = tu_fbuf(C),
          *rv0 = tu_fbuf(C);
    fill(x, nx, xoff - 1, xoff + 1), fill(g, C, 0.5f, 1.5f), fill(be, C, -0.5f, 0.5f);
    fill(dy, nx, -1, 1), fill(rm0, C, xoff - 0.3f, xoff + 0.3f), fill(rv0, C, 0.5f, 1.5f);
    /* reference: the whole batch in double */
    double *xd = to_d(x, nx), *gd = to_d(g, C), *bd = to_d(be, C), *dyd = to_d(dy, nx);
    double *yr = tu_dbuf(nx), *mr = tu_dbuf(C), *rr = tu_dbuf(C), *dxr = tu_dbuf(nx), *dgr = tu_dbuf(C),
           *dbr = tu_dbuf(C), *rme = tu_dbuf(C), *rve = tu_dbuf(C);
    sn_batchnorm_forward_train_ref(yr, mr, rr, xd, gd, bd, N, C, S, 1e-5);
    sn_batchnorm_backward_ref(dxr, dgr, dbr, dyd, xd, mr, rr, gd, N, C, S);
    for (int c = 0; c < C; c++) {
        double var = 1.0 / (rr[c] * rr[c]) - 1e-5;
        rme[c] = 0.9 * rm0[c] + (double)0.1f * mr[c];
        rve[c] = 0.9 * rv0[c] + (double)0.1f * var * cnt / (cnt - 1.0);
    }

    half h[2];
    half_init(&h[0], 0, NA, C, S, 0, rm0, rv0);
    half_init(&h[1], NA, N - NA, C, S, 1, rm0, rv0);
    run_pair(h, 1, x, g, be, NULL, rm0, rv0, C, S, nt, 0);
    float *y = tu_fbuf(nx), *dx = tu_fbuf(nx), *dg = tu_fbuf(C), *db = tu_fbuf(C);
    memcpy(y, h[0].y, sizeof(float) * (size_t)NA * C * S);
    memcpy(y + (size_t)NA * C * S, h[1].y, sizeof(float) * (size_t)(N - NA) * C * S);
    double e;
    CHECK((e = rel_d(y, yr, nx)) <= TOL);
    printf("%s: forward y max rel diff %.2g", tag, e);
    for (int r = 0; r < 2; r++) {
        CHECK(h[r].f.calls == 2 && h[r].f.n == 2 * C + 1);
        CHECK(rel_d(h[r].mean, mr, C) <= TOL && rel_d(h[r].rstd, rr, C) <= TOL);
        CHECK(rel_d(h[r].rm, rme, C) <= TOL && rel_d(h[r].rv, rve, C) <= TOL);
    }
    /* the two replicas agree to the bit: what keeps their running statistics identical */
    CHECK(memcmp(h[0].mean, h[1].mean, sizeof(float) * C) == 0);
    CHECK(memcmp(h[0].rstd, h[1].rstd, sizeof(float) * C) == 0);
    CHECK(memcmp(h[0].rm, h[1].rm, sizeof(float) * C) == 0);
    CHECK(memcmp(h[0].rv, h[1].rv, sizeof(float) * C) == 0);

    for (int set = 0; set < 2; set++) {
        h[0].f.calls = h[1].f.calls = 0;
        run_pair(h, 0, x, g, be, dy, rm0, rv0, C, S, nt, set);
        memcpy(dx, h[0].dx, sizeof(float) * (size_t)NA * C * S);
        memcpy(dx + (size_t)NA * C * S, h[1].dx, sizeof(float) * (size_t)(N - NA) * C * S);
        for (int c = 0; c < C; c++) dg[c] = h[0].dg[c] + h[1].dg[c], db[c] = h[0].db[c] + h[1].db[c];
        CHECK((e = rel_d(dx, dxr, nx)) <= TOL);
        CHECK(rel_d(dg, dgr, C) <= TOL && rel_d(db, dbr, C) <= TOL);
        CHECK(h[0].f.calls == 2 && h[1].f.calls == 2);
        if (set) printf(", backward dx %.2g", e);
    }
    /* backward without dx: local dgamma / dbeta, no reduction */
    h[0].f.calls = 0;
    h[0].f.mode = 1;
    memset(h[0].dg, 0, sizeof(float) * C);
    sn_batchnorm_backward_sync_f32(NULL, h[0].dg, NULL, dy, x, h[0].mean, h[0].rstd, g, NA, C, S,
                                   nt, 1, &h[0].sync);
    CHECK(h[0].f.calls == 0);

    /* NULL hook: the plain kernels, bit for bit; identity hook: within rounding */
    float *yp = tu_fbuf(nx), *mp = tu_fbuf(C), *rp = tu_fbuf(C), *rmp = copy_f(rm0, C), *rvp = copy_f(rv0, C);
    float *ys = tu_fbuf(nx), *ms = tu_fbuf(C), *rs = tu_fbuf(C), *rms = copy_f(rm0, C), *rvs = copy_f(rv0, C);
    sn_batchnorm_forward_train_f32(yp, mp, rp, x, g, be, rmp, rvp, N, C, S, 0.1f, 1e-5f, nt);
    sn_batchnorm_forward_train_sync_f32(ys, ms, rs, x, g, be, rms, rvs, N, C, S, 0.1f, 1e-5f, nt,
                                        NULL);
    CHECK(memcmp(yp, ys, sizeof(float) * nx) == 0 && memcmp(rvp, rvs, sizeof(float) * C) == 0);
    float *dxp = tu_fbuf(nx), *dxs = tu_fbuf(nx);
    sn_batchnorm_backward_set_f32(dxp, NULL, NULL, dy, x, mp, rp, g, N, C, S, nt);
    sn_batchnorm_backward_sync_f32(dxs, NULL, NULL, dy, x, mp, rp, g, N, C, S, nt, 1, NULL);
    CHECK(memcmp(dxp, dxs, sizeof(float) * nx) == 0);
    half one;
    half_init(&one, 0, N, C, S, 0, rm0, rv0);
    sn_batchnorm_forward_train_sync_f32(one.y, one.mean, one.rstd, x, g, be, one.rm, one.rv, N, C,
                                        S, 0.1f, 1e-5f, nt, &one.sync);
    CHECK(tu_max_rel_diff(one.y, yp, nx) <= 1e-6 && tu_max_rel_diff(one.rv, rvp, C) <= 1e-6);

    /* a failing hook: each half normalises over its own rows (per-replica statistics) */
    one.f.mode = 2;
    memcpy(one.rm, rm0, sizeof(float) * C), memcpy(one.rv, rv0, sizeof(float) * C);
    sn_batchnorm_forward_train_sync_f32(one.y, one.mean, one.rstd, x, g, be, one.rm, one.rv, NA, C,
                                        S, 0.1f, 1e-5f, nt, &one.sync);
    sn_batchnorm_forward_train_f32(yp, mp, rp, x, g, be, rmp, rvp, NA, C, S, 0.1f, 1e-5f, nt);
    const size_t na = (size_t)NA * C * S;
    CHECK(tu_max_rel_diff(one.y, yp, na) <= 1e-6 && tu_max_rel_diff(one.mean, mp, C) <= 1e-6);
    const double per_rank = tu_max_rel_diff(one.y, h[0].y, na);
    CHECK(per_rank > 100 * TOL); /* and that is far from the synchronized result */
    printf(", per-replica statistics differ by %.2g\n", per_rank);

    half_free(&h[0]), half_free(&h[1]), half_free(&one);
    free(x), free(g), free(be), free(dy), free(rm0), free(rv0), free(xd), free(gd), free(bd);
    free(dyd), free(yr), free(mr), free(rr), free(dxr), free(dgr), free(dbr), free(rme), free(rve);
    free(y), free(dx), free(dg), free(db), free(yp), free(mp), free(rp), free(rmp), free(rvp);
    free(ys), free(ms), free(rs), free(rms), free(rvs), free(dxp), free(dxs);
}

/* Results of the synchronized kernels do not depend on the thread count. */
static void test_threads(void) {
    const int N = 16, C = 32, S = 81, NA = 7; /* 41472 floats: the parallel path */
    const size_t nx = (size_t)N * C * S;
    float *x = tu_fbuf(nx), *g = tu_fbuf(C), *be = tu_fbuf(C), *dy = tu_fbuf(nx), *rm0 = tu_fbuf(C),
          *rv0 = tu_fbuf(C);
    fill(x, nx, -2, 3), fill(g, C, 0.5f, 1.5f), fill(be, C, -0.5f, 0.5f), fill(dy, nx, -1, 1);
    fill(rv0, C, 0.5f, 1.5f);
    half a[2], b[2];
    half_init(&a[0], 0, NA, C, S, 0, rm0, rv0), half_init(&a[1], NA, N - NA, C, S, 1, rm0, rv0);
    half_init(&b[0], 0, NA, C, S, 0, rm0, rv0), half_init(&b[1], NA, N - NA, C, S, 1, rm0, rv0);
    run_pair(a, 1, x, g, be, NULL, rm0, rv0, C, S, 1, 0);
    run_pair(a, 0, x, g, be, dy, rm0, rv0, C, S, 1, 1);
    run_pair(b, 1, x, g, be, NULL, rm0, rv0, C, S, 2, 0);
    run_pair(b, 0, x, g, be, dy, rm0, rv0, C, S, 2, 1);
    for (int r = 0; r < 2; r++) {
        const size_t n = (size_t)a[r].n * C * S;
        CHECK(memcmp(a[r].y, b[r].y, sizeof(float) * n) == 0);
        CHECK(memcmp(a[r].dx, b[r].dx, sizeof(float) * n) == 0);
        CHECK(memcmp(a[r].rv, b[r].rv, sizeof(float) * C) == 0);
        CHECK(memcmp(a[r].dg, b[r].dg, sizeof(float) * C) == 0);
        half_free(&a[r]), half_free(&b[r]);
    }
    free(x), free(g), free(be), free(dy), free(rm0), free(rv0);
}

/* ----------------------------------------------------- two threads = two ranks */
typedef struct {
    pthread_barrier_t *bar;
    double *slot[2];    /* each replica's sums, (cap) */
} exchange;

typedef struct {
    exchange *ex;
    int rank;
    sn_model *m;
    sn_bn_sync sync;
    const float *x, *dout; /* this replica's rows */
    int n;
    float *e;              /* (n, D) out */
} replica;

static int thread_sum(void *u, double *v, int n) {
    replica *r = u;
    exchange *ex = r->ex;
    memcpy(ex->slot[r->rank], v, sizeof(double) * (size_t)n);
    pthread_barrier_wait(ex->bar);
    for (int i = 0; i < n; i++) v[i] = ex->slot[0][i] + ex->slot[1][i];
    pthread_barrier_wait(ex->bar); /* both have read before the next layer writes */
    return 0;
}

static void *replica_run(void *u) {
    replica *r = u;
    sn_model *m = r->m;
    const size_t img = (size_t)m->in_c * m->in_h * m->in_w;
    memcpy(sn_model_input(m), r->x, sizeof(float) * (size_t)r->n * img);
    const float *e = sn_model_forward(m, r->n, 1);
    memcpy(r->e, e, sizeof(float) * (size_t)r->n * m->embed_dim);
    memset(m->grads, 0, sizeof(float) * m->n_params);
    sn_model_backward(m, r->n, r->dout, 0);
    return NULL;
}

static sn_model *make_model(sn_ctx *ctx, int N) {
    sn_model_config cfg = {.arch = "conv 6 3 1 1; bn; relu; maxpool 2; conv 8 3 1 0; bn; relu; "
                                   "flatten; linear 16; bn; relu; linear 4",
                           .in_c = 1, .in_h = 8, .in_w = 8, .mean = {0, 0, 0},
                           .std = {1, 1, 1}, .seed = 7};
    sn_model *m = NULL;
    if (sn_model_create(ctx, &cfg, &m) || sn_model_plan(ctx, m, N)) {
        fprintf(stderr, "model: %s\n", sn_ctx_error(ctx));
        abort();
    }
    return m;
}

static void test_model_two_replicas(sn_ctx *ctx) {
    const int N = 12, NA = 5;
    sn_model *full = make_model(ctx, N), *m[2] = {make_model(ctx, N), make_model(ctx, N)};
    const size_t img = 64;
    const int D = full->embed_dim;
    float *x = tu_fbuf((size_t)N * img), *dout = tu_fbuf((size_t)N * D), *e = tu_fbuf((size_t)N * D);
    fill(x, (size_t)N * img, -1, 2), fill(dout, (size_t)N * D, -1, 1);
    memcpy(sn_model_input(full), x, sizeof(float) * (size_t)N * img);
    memcpy(e, sn_model_forward(full, N, 1), sizeof(float) * (size_t)N * D);
    memset(full->grads, 0, sizeof(float) * full->n_params);
    sn_model_backward(full, N, dout, 0);

    for (int sync = 1; sync >= 0; sync--) {
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        exchange ex = {&bar, {tu_dbuf(64), tu_dbuf(64)}};
        replica r[2];
        float *er = tu_fbuf((size_t)N * D), *g = tu_fbuf(full->n_params);
        for (int k = 0; k < 2; k++) {
            const int lo = k ? NA : 0;
            r[k] = (replica){&ex, k, m[k], {thread_sum, &r[k], tu_dbuf(64), 64}, x + (size_t)lo * img,
                             dout + (size_t)lo * D, k ? N - NA : NA, er + (size_t)lo * D};
            m[k]->bn_sync = sync ? &r[k].sync : NULL;
            sn_model_init_params(m[k], 7); /* fresh running statistics too */
        }
        pthread_t th[2];
        for (int k = 0; k < 2; k++) CHECK(pthread_create(&th[k], NULL, replica_run, &r[k]) == 0);
        for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
        for (size_t i = 0; i < full->n_params; i++) g[i] = m[0]->grads[i] + m[1]->grads[i];
        const double de = tu_max_rel_diff(er, e, (size_t)N * D);
        const double dg = tu_max_rel_diff(g, full->grads, full->n_params);
        const double db = tu_max_rel_diff(m[0]->bufs, full->bufs, full->n_bufs);
        printf("model, 2 replicas x (%d, %d) rows vs 1 x %d, %s BN: embeddings %.2g, gradient "
               "%.2g, running stats %.2g\n", NA, N - NA, N, sync ? "synchronized" : "per-replica",
               de, dg, db);
        if (sync) {
            CHECK(de <= TOL && dg <= TOL && db <= TOL);
            CHECK(memcmp(m[0]->bufs, m[1]->bufs, sizeof(float) * full->n_bufs) == 0);
        } else {
            CHECK(de > 100 * TOL && dg > 100 * TOL); /* the test above can fail */
        }
        m[0]->bn_sync = m[1]->bn_sync = NULL;
        pthread_barrier_destroy(&bar);
        free(ex.slot[0]), free(ex.slot[1]), free(r[0].sync.buf), free(r[1].sync.buf);
        free(er), free(g);
    }
    sn_model_free(full), sn_model_free(m[0]), sn_model_free(m[1]);
    free(x), free(dout), free(e);
}

int main(void) {
    test_kernel_case(9, 4, 5, 6, 0.0f, 1);
    test_kernel_case(10, 5, 13, 1, 3.0f, 1);    /* batchnorm1d, mean far from 0 */
    test_kernel_case(7, 1, 3, 25, -50.0f, 2);   /* one row on a replica, |mean| >> std */
    test_kernel_case(16, 9, 32, 81, 1.0f, 2);   /* the parallel path */
    test_threads();
    sn_ctx *ctx = sn_ctx_create(1);
    if (!ctx) return 1;
    test_model_two_replicas(ctx);
    sn_ctx_free(ctx);
    return tu_finish("test_syncbn");
}
