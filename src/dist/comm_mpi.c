/*
 * comm_mpi.c -- the MPI backend of the communicator (dist.h), built with SIMNET_MPI.
 *
 * Every collective is the non-blocking MPI-3 call (MPI_Ialltoallv, MPI_Iallgatherv,
 * MPI_Iallreduce, MPI_Ibcast, MPI_Ibarrier) completed by polling MPI_Test: spinning
 * (with sched_yield) for the first 2 ms, then sleeping 50 us between polls so a waiting
 * rank leaves the CPU to ranks still computing on an oversubscribed node, and failing
 * after the communicator's timeout. Errors are returned (MPI_ERRORS_RETURN on our
 * duplicate of MPI_COMM_WORLD), turned into messages with MPI_Error_string.
 */
#define _POSIX_C_SOURCE 200809L
#include "dist/dist.h"

#if defined(SN_HAVE_MPI) && SN_HAVE_MPI

#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#define SPIN_S 2e-3 /* poll with sched_yield this long, then sleep 50 us between polls */

typedef struct {
    MPI_Comm comm;
    int owns_init;                /* we called MPI_Init_thread: MPI_Finalize on destroy */
    int *counts, *displs;         /* (size) */
    int *rcounts, *rdispls;       /* (size) */
    uint64_t *sizes64;            /* (size) */
} mpi_impl;

static sn_status mpi_fail(sn_comm *c, int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return sn_errf(c->ctx, SN_ERR_IO, "%s: rank %d of %d: MPI error: %s", what, c->rank, c->size,
                   msg);
}

/* Poll rq to completion or timeout. */
static sn_status mpi_wait(sn_comm *c, MPI_Request *rq, const char *what) {
    const double t0 = sn_now();
    for (;;) {
        int done = 0, rc = MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, what);
        if (done) return SN_OK;
        double waited = sn_now() - t0;
        if (c->timeout_s > 0 && waited > c->timeout_s)
            return sn_errf(c->ctx, SN_ERR_IO,
                           "%s: rank %d of %d waited more than %.0f s for the other ranks: one of "
                           "them died or stopped responding (timeout: --comm-timeout or "
                           "SIMNET_COMM_TIMEOUT)",
                           what, c->rank, c->size, c->timeout_s);
        if (waited < SPIN_S) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
}

#define MPI_TRY(call, what)                                   \
    do {                                                      \
        int rc_ = (call);                                     \
        if (rc_ != MPI_SUCCESS) return mpi_fail(c, rc_, what); \
    } while (0)

static sn_status mpi_allreduce_f32(sn_comm *c, float *x, size_t n, sn_reduce_mode mode) {
    mpi_impl *im = c->impl;
    const int p = c->size, r = c->rank;
    MPI_Request rq;
    if (mode == SN_REDUCE_NATIVE) {
        MPI_TRY(MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_FLOAT, MPI_SUM, im->comm, &rq),
                "all-reduce");
        c->bytes_sent += (uint64_t)(2.0 * (p - 1) / p * 4.0 * (double)n);
        return mpi_wait(c, &rq, "all-reduce");
    }
    /* ordered: segment s of every rank goes to rank s, which sums in rank order */
    long lo, hi;
    for (int s = 0; s < p; s++) {
        sn_comm_share((long)n, s, p, &lo, &hi);
        im->counts[s] = (int)(hi - lo);
        im->displs[s] = (int)lo;
    }
    sn_comm_share((long)n, r, p, &lo, &hi);
    const int len = (int)(hi - lo);
    for (int q = 0; q < p; q++) {
        im->rcounts[q] = len;
        im->rdispls[q] = q * len;
    }
    float *buf = c->scratch; /* (p, len) */
    MPI_TRY(MPI_Ialltoallv(x, im->counts, im->displs, MPI_FLOAT, buf, im->rcounts, im->rdispls,
                           MPI_FLOAT, im->comm, &rq),
            "all-reduce (all-to-all)");
    sn_status st = mpi_wait(c, &rq, "all-reduce (all-to-all)");
    if (st) return st;
    float *mine = x + lo;
    for (int i = 0; i < len; i++) {
        double acc = 0.0;
        for (int q = 0; q < p; q++) acc += (double)buf[(size_t)q * (size_t)len + (size_t)i];
        mine[i] = (float)acc;
    }
    MPI_TRY(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, im->counts, im->displs,
                            MPI_FLOAT, im->comm, &rq),
            "all-reduce (all-gather)");
    c->bytes_sent += 4u * ((uint64_t)(n - (size_t)len) + (uint64_t)len * (uint64_t)(p - 1));
    return mpi_wait(c, &rq, "all-reduce (all-gather)");
}

static sn_status mpi_allreduce_f64(sn_comm *c, double *x, int n) {
    mpi_impl *im = c->impl;
    double *all = c->scratch64; /* (size, n), reserved by the front end */
    SN_ASSERT(all && c->scratch64_cap >= (size_t)n * (size_t)c->size);
    MPI_Request rq;
    MPI_TRY(MPI_Iallgather(x, n, MPI_DOUBLE, all, n, MPI_DOUBLE, im->comm, &rq),
            "all-reduce (doubles)");
    sn_status st = mpi_wait(c, &rq, "all-reduce (doubles)");
    if (st) return st;
    for (int i = 0; i < n; i++) {
        double acc = 0.0;
        for (int q = 0; q < c->size; q++) acc += all[(size_t)q * (size_t)n + (size_t)i];
        x[i] = acc;
    }
    c->bytes_sent += (uint64_t)8 * (uint64_t)n * (uint64_t)(c->size - 1);
    return SN_OK;
}

static sn_status mpi_allgather(sn_comm *c, const void *mine, size_t bytes, void *all, size_t cap,
                               size_t *sizes) {
    mpi_impl *im = c->impl;
    MPI_Request rq;
    uint64_t b = bytes;
    MPI_TRY(MPI_Iallgather(&b, 1, MPI_UINT64_T, im->sizes64, 1, MPI_UINT64_T, im->comm, &rq),
            "all-gather (sizes)");
    sn_status st = mpi_wait(c, &rq, "all-gather (sizes)");
    if (st) return st;
    uint64_t total = 0;
    for (int q = 0; q < c->size; q++) {
        sizes[q] = (size_t)im->sizes64[q];
        if (im->sizes64[q] > INT_MAX || total + im->sizes64[q] > INT_MAX)
            return sn_errf(c->ctx, SN_ERR_ARG, "all-gather: %llu bytes from rank %d: too large for "
                                               "one MPI call", (unsigned long long)im->sizes64[q], q);
        im->counts[q] = (int)im->sizes64[q];
        im->displs[q] = (int)total;
        total += im->sizes64[q];
    }
    if (total > cap)
        return sn_errf(c->ctx, SN_ERR_ARG, "all-gather: %llu bytes from all ranks do not fit the "
                                           "%zu-byte buffer", (unsigned long long)total, cap);
    MPI_TRY(MPI_Iallgatherv(mine, (int)bytes, MPI_BYTE, all, im->counts, im->displs, MPI_BYTE,
                            im->comm, &rq),
            "all-gather");
    c->bytes_sent += (uint64_t)bytes * (uint64_t)(c->size - 1);
    return mpi_wait(c, &rq, "all-gather");
}

static sn_status mpi_bcast(sn_comm *c, void *buf, size_t bytes, int root) {
    mpi_impl *im = c->impl;
    char *p = buf;
    while (bytes > 0) {
        int k = bytes > (size_t)1 << 30 ? 1 << 30 : (int)bytes;
        MPI_Request rq;
        MPI_TRY(MPI_Ibcast(p, k, MPI_BYTE, root, im->comm, &rq), "broadcast");
        sn_status st = mpi_wait(c, &rq, "broadcast");
        if (st) return st;
        if (c->rank == root) c->bytes_sent += (uint64_t)k;
        p += k;
        bytes -= (size_t)k;
    }
    return SN_OK;
}

static sn_status mpi_barrier(sn_comm *c) {
    mpi_impl *im = c->impl;
    MPI_Request rq;
    MPI_TRY(MPI_Ibarrier(im->comm, &rq), "barrier");
    return mpi_wait(c, &rq, "barrier");
}

static void mpi_abort(sn_comm *c, int code) {
    mpi_impl *im = c->impl;
    MPI_Abort(im ? im->comm : MPI_COMM_WORLD, code);
}

static void impl_free(mpi_impl *im) {
    if (!im) return;
    free(im->counts);
    free(im->displs);
    free(im->rcounts);
    free(im->rdispls);
    free(im->sizes64);
    free(im);
}

static void mpi_destroy(sn_comm *c) {
    mpi_impl *im = c->impl;
    if (!im) return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) {
        if (im->comm != MPI_COMM_NULL) MPI_Comm_free(&im->comm);
        if (im->owns_init) MPI_Finalize();
    }
    impl_free(im);
    c->impl = NULL;
}

static const sn_comm_ops mpi_ops = {
    "mpi",       mpi_allreduce_f32, mpi_allreduce_f64, mpi_allgather, mpi_bcast,
    mpi_barrier, mpi_abort,         mpi_destroy,
};

sn_status sn_comm_mpi_create(sn_ctx *ctx, int *argc, char ***argv, sn_comm **out) {
    *out = NULL;
    int inited = 0, owns = 0, provided = 0, rank = 0, size = 1;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return sn_errf(ctx, SN_ERR_IO, "MPI_Init_thread failed (is mpirun's runtime reachable?)");
        owns = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    MPI_Comm dup = MPI_COMM_NULL;
    sn_status st = SN_OK;
    if (provided < MPI_THREAD_FUNNELED) {
        st = sn_errf(ctx, SN_ERR_UNSUPPORTED, "MPI provides thread level %d, simnet needs "
                                              "MPI_THREAD_FUNNELED", provided);
    } else if (MPI_Comm_dup(MPI_COMM_WORLD, &dup) != MPI_SUCCESS ||
               MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN) != MPI_SUCCESS ||
               MPI_Comm_rank(dup, &rank) != MPI_SUCCESS || MPI_Comm_size(dup, &size) != MPI_SUCCESS) {
        st = sn_errf(ctx, SN_ERR_IO, "MPI: cannot set up the communicator (MPI_Comm_dup)");
    }
    mpi_impl *im = NULL;
    sn_comm *c = NULL;
    if (!st) st = sn_comm_new(ctx, &mpi_ops, rank, size, &c);
    if (!st) {
        size_t p = (size_t)size;
        im = sn_calloc(1, sizeof *im);
        if (im) {
            im->counts = sn_calloc(p, sizeof(int));
            im->displs = sn_calloc(p, sizeof(int));
            im->rcounts = sn_calloc(p, sizeof(int));
            im->rdispls = sn_calloc(p, sizeof(int));
            im->sizes64 = sn_calloc(p, sizeof(uint64_t));
        }
        if (!im || !im->counts || !im->displs || !im->rcounts || !im->rdispls || !im->sizes64)
            st = sn_errf(ctx, SN_ERR_NOMEM, "out of memory for the MPI communicator (%d ranks)",
                         size);
    }
    if (st) {
        impl_free(im);
        if (c) {
            c->impl = NULL;
            sn_comm_free(c);
        }
        if (dup != MPI_COMM_NULL) MPI_Comm_free(&dup);
        if (owns) MPI_Finalize();
        return st;
    }
    im->comm = dup;
    im->owns_init = owns;
    c->impl = im;
    *out = c;
    return SN_OK;
}

#else /* built without MPI */

sn_status sn_comm_mpi_create(sn_ctx *ctx, int *argc, char ***argv, sn_comm **out) {
    (void)argc, (void)argv;
    *out = NULL;
    return sn_errf(ctx, SN_ERR_UNSUPPORTED,
                   "this simnet was built without MPI (cmake -DSIMNET_MPI=ON, needs libopenmpi-dev)");
}

#endif
