/*
 * comm.c -- communicator front end (argument checks, counters, broken flag) and the
 * single-process backend. The MPI backend is comm_mpi.c.
 */
#include "dist/dist.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ local backend */
static sn_status local_allreduce_f32(sn_comm *c, float *x, size_t n, sn_reduce_mode mode) {
    (void)c, (void)x, (void)n, (void)mode;
    return SN_OK;
}

static sn_status local_allreduce_f64(sn_comm *c, double *x, int n) {
    (void)c, (void)x, (void)n;
    return SN_OK;
}

static sn_status local_allgather(sn_comm *c, const void *mine, size_t bytes, void *all, size_t cap,
                                 size_t *sizes) {
    if (bytes > cap)
        return sn_errf(c->ctx, SN_ERR_ARG, "all-gather: %zu bytes do not fit the %zu-byte buffer",
                       bytes, cap);
    if (bytes && mine != all) memmove(all, mine, bytes);
    sizes[0] = bytes;
    return SN_OK;
}

static sn_status local_bcast(sn_comm *c, void *buf, size_t bytes, int root) {
    (void)c, (void)buf, (void)bytes, (void)root;
    return SN_OK;
}

static sn_status local_barrier(sn_comm *c) {
    (void)c;
    return SN_OK;
}

static void local_abort(sn_comm *c, int code) {
    (void)c, (void)code;
}

static void local_destroy(sn_comm *c) {
    (void)c;
}

static const sn_comm_ops local_ops = {
    "local",       local_allreduce_f32, local_allreduce_f64, local_allgather, local_bcast,
    local_barrier, local_abort,         local_destroy,
};

/* Common constructor part: the timeout from $SIMNET_COMM_TIMEOUT, the sizes array. */
static sn_status comm_new(sn_ctx *ctx, const sn_comm_ops *ops, int rank, int size, sn_comm **out) {
    double timeout = SN_COMM_DEFAULT_TIMEOUT;
    const char *env = getenv("SIMNET_COMM_TIMEOUT");
    if (env && *env) {
        char *end;
        errno = 0;
        timeout = strtod(env, &end);
        if (errno || *end || !isfinite(timeout))
            return sn_errf(ctx, SN_ERR_ARG,
                           "SIMNET_COMM_TIMEOUT=%s: not a number of seconds (<= 0: wait forever)",
                           env);
    }
    sn_comm *c = sn_calloc(1, sizeof *c);
    if (!c || !(c->sizes = sn_calloc((size_t)size, sizeof(size_t)))) {
        free(c);
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for the communicator");
    }
    c->ops = ops;
    c->ctx = ctx;
    c->rank = rank;
    c->size = size;
    c->timeout_s = timeout;
    *out = c;
    return SN_OK;
}

sn_status sn_comm_local_create(sn_ctx *ctx, sn_comm **out) {
    *out = NULL;
    return comm_new(ctx, &local_ops, 0, 1, out);
}

sn_status sn_comm_new(sn_ctx *ctx, const sn_comm_ops *ops, int rank, int size, sn_comm **out) {
    return comm_new(ctx, ops, rank, size, out);
}

int sn_comm_launched_size(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            long n = strtol(v, NULL, 10);
            if (n >= 1 && n <= INT_MAX) return (int)n;
        }
    }
    return getenv("PMIX_RANK") ? 1 : 0;
}

/* --------------------------------------------------------------- front end */
static sn_status comm_ready(sn_comm *c, const char *what) {
    SN_ASSERT(c && c->ops);
    if (c->broken)
        return sn_errf(c->ctx, SN_ERR_IO, "%s: rank %d of %d: the communicator failed earlier",
                       what, c->rank, c->size);
    return SN_OK;
}

static sn_status comm_done(sn_comm *c, sn_status st, double t0) {
    c->calls++;
    c->seconds += sn_now() - t0;
    if (st) c->broken = 1;
    return st;
}

sn_status sn_comm_reserve(sn_comm *c, size_t n) {
    if (c->size == 1) return SN_OK;
    size_t seg = n / (size_t)c->size + 1, need;
    if (!sn_mul_size(seg, (size_t)c->size, &need))
        return sn_errf(c->ctx, SN_ERR_NOMEM, "all-reduce of %zu floats: size overflow", n);
    if (need <= c->scratch_cap) return SN_OK;
    float *s = sn_aligned_alloc(need, sizeof(float));
    if (!s)
        return sn_errf(c->ctx, SN_ERR_NOMEM, "out of memory for the all-reduce buffer (%zu floats)",
                       need);
    sn_aligned_free(c->scratch);
    c->scratch = s;
    c->scratch_cap = need;
    return SN_OK;
}

sn_status sn_comm_reserve_f64(sn_comm *c, int n) {
    SN_ASSERT(n >= 0);
    if (c->size == 1) return SN_OK;
    size_t need;
    if (!sn_mul_size((size_t)n, (size_t)c->size, &need))
        return sn_errf(c->ctx, SN_ERR_NOMEM, "all-reduce of %d doubles: size overflow", n);
    if (need <= c->scratch64_cap) return SN_OK;
    double *s = sn_aligned_alloc(need, sizeof(double));
    if (!s)
        return sn_errf(c->ctx, SN_ERR_NOMEM,
                       "out of memory for the all-reduce buffer (%zu doubles)", need);
    sn_aligned_free(c->scratch64);
    c->scratch64 = s;
    c->scratch64_cap = need;
    return SN_OK;
}

sn_status sn_comm_allreduce_f32(sn_comm *c, float *x, size_t n, sn_reduce_mode mode) {
    sn_status st = comm_ready(c, "all-reduce");
    if (st || c->size == 1 || n == 0) return st;
    if (n > INT_MAX)
        return sn_errf(c->ctx, SN_ERR_ARG, "all-reduce of %zu floats: more than INT_MAX", n);
    if (mode == SN_REDUCE_ORDERED && (st = sn_comm_reserve(c, n))) return st;
    double t0 = sn_now();
    return comm_done(c, c->ops->allreduce_f32(c, x, n, mode), t0);
}

sn_status sn_comm_allreduce_f64(sn_comm *c, double *x, int n) {
    sn_status st = comm_ready(c, "all-reduce");
    if (st || c->size == 1 || n == 0) return st;
    SN_ASSERT(n > 0);
    if ((st = sn_comm_reserve_f64(c, n))) return st;
    double t0 = sn_now();
    return comm_done(c, c->ops->allreduce_f64(c, x, n), t0);
}

/* Gather blocks of `unit`-byte items; counts in items. */
static sn_status gather_items(sn_comm *c, const void *mine, int n, size_t unit, void *all, int cap,
                              int *n_of, int *total, const char *what) {
    sn_status st = comm_ready(c, what);
    if (st) return st;
    SN_ASSERT(n >= 0 && cap >= 0);
    size_t bytes, cap_bytes;
    if (!sn_mul_size((size_t)n, unit, &bytes) || !sn_mul_size((size_t)cap, unit, &cap_bytes))
        return sn_errf(c->ctx, SN_ERR_NOMEM, "%s of %d items of %zu bytes: size overflow", what,
                       n > cap ? n : cap, unit);
    double t0 = sn_now();
    if (c->size == 1)
        st = local_allgather(c, mine, bytes, all, cap_bytes, c->sizes);
    else
        st = comm_done(c, c->ops->allgather(c, mine, bytes, all, cap_bytes, c->sizes), t0);
    if (st) {
        c->broken = 1;
        return st;
    }
    long sum = 0;
    for (int r = 0; r < c->size; r++) {
        if (c->sizes[r] % unit) {
            c->broken = 1;
            return sn_errf(c->ctx, SN_ERR_ARG, "%s: rank %d sent %zu bytes, not whole items of %zu",
                           what, r, c->sizes[r], unit);
        }
        long k = (long)(c->sizes[r] / unit);
        if (n_of) n_of[r] = (int)k;
        sum += k;
    }
    if (total) *total = (int)sum;
    return SN_OK;
}

sn_status sn_comm_allgather_f32(sn_comm *c, const float *mine, int rows, int row_len, float *all,
                                int cap_rows, int *rows_of, int *total) {
    SN_ASSERT(row_len >= 1);
    return gather_items(c, mine, rows, (size_t)row_len * sizeof(float), all, cap_rows, rows_of,
                        total, "all-gather (rows)");
}

sn_status sn_comm_allgather_i32(sn_comm *c, const int32_t *mine, int n, int32_t *all, int cap,
                                int *n_of, int *total) {
    return gather_items(c, mine, n, sizeof(int32_t), all, cap, n_of, total, "all-gather (labels)");
}

sn_status sn_comm_bcast(sn_comm *c, void *buf, size_t bytes, int root) {
    sn_status st = comm_ready(c, "broadcast");
    if (st || c->size == 1 || bytes == 0) return st;
    SN_ASSERT(root >= 0 && root < c->size);
    double t0 = sn_now();
    return comm_done(c, c->ops->bcast(c, buf, bytes, root), t0);
}

sn_status sn_comm_barrier(sn_comm *c) {
    sn_status st = comm_ready(c, "barrier");
    if (st || c->size == 1) return st;
    double t0 = sn_now();
    return comm_done(c, c->ops->barrier(c), t0);
}

void sn_comm_share(long total, int r, int p, long *lo, long *hi) {
    SN_ASSERT(p >= 1 && r >= 0 && r < p && total >= 0);
    *lo = (long)((long long)total * r / p);
    *hi = (long)((long long)total * (r + 1) / p);
}

int sn_comm_timed_out(const sn_comm *c, double t0) {
    return c->timeout_s > 0 && sn_now() - t0 > c->timeout_s;
}

/* ------------------------------------------------------------- public API */
sn_status sn_comm_create(sn_ctx *ctx, int *argc, char ***argv, sn_comm **out) {
    *out = NULL;
    int n = sn_comm_launched_size();
    if (n == 0) return sn_comm_local_create(ctx, out);
    sn_status st = sn_comm_mpi_create(ctx, argc, argv, out);
    if (st == SN_ERR_UNSUPPORTED && n == 1) return sn_comm_local_create(ctx, out);
    if (st == SN_ERR_UNSUPPORTED)
        return sn_errf(ctx, st,
                       "started by an MPI launcher with %d ranks, but this simnet was built without "
                       "MPI (cmake -DSIMNET_MPI=ON, needs libopenmpi-dev): each rank would train "
                       "alone",
                       n);
    return st;
}

int sn_comm_rank(const sn_comm *c) { return c ? c->rank : 0; }
int sn_comm_size(const sn_comm *c) { return c ? c->size : 1; }
const char *sn_comm_backend(const sn_comm *c) { return c ? c->ops->name : "local"; }
void sn_comm_set_timeout(sn_comm *c, double seconds) {
    if (c) c->timeout_s = seconds;
}

void sn_comm_abort(sn_comm *c, int code) {
    if (!c) return;
    c->broken = 1;
    c->ops->abort(c, code);
}

void sn_comm_free(sn_comm *c) {
    if (!c) return;
    c->ops->destroy(c);
    sn_aligned_free(c->scratch);
    sn_aligned_free(c->scratch64);
    free(c->sizes);
    free(c);
}
