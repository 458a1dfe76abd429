/*
 * dist.h -- the communicator of data-parallel training (private).
 *
 * A communicator is a small handle (rank, size, a timeout, counters) over a backend,
 * a `static const sn_comm_ops` table:
 *   local  one process, rank 0 of 1: every collective is the identity (or a copy); no
 *          MPI call is ever made. sn_train with size 1 runs today's code path.
 *   mpi    MPI_COMM_WORLD, duplicated, with MPI_ERRORS_RETURN (comm_mpi.c; compiled
 *          only with SIMNET_MPI).
 *
 * Collectives are called by every rank in the same order with the same sizes (the
 * usual MPI contract; a mismatch is a programmer error). Each returns SN_OK or a status
 * with a message naming the collective, this rank and what went wrong:
 *   - an MPI error (a peer's connection dropped, ...): MPI_Error_string in the message;
 *   - a timeout: every collective is issued non-blocking and polled; when it has not
 *     completed after `timeout_s` seconds (a rank hangs, or died without the runtime
 *     noticing) it fails with "... did not complete within N s". A communicator that
 *     failed is broken: the caller reports the message and calls sn_comm_abort, which
 *     takes the whole job down (MPI_Abort) instead of leaving the other ranks waiting.
 * A rank that dies outright is normally caught earlier by Open MPI's runtime (mpirun
 * kills the job when a process exits abnormally); the timeout covers hangs.
 *
 * Reductions are deterministic:
 *   SN_REDUCE_ORDERED  (default) the slab is cut into `size` segments; rank r gathers
 *       segment r from every rank (all-to-all), sums the contributions in rank order
 *       0..size-1 in double, rounds to float, and the segments are all-gathered. Bits
 *       depend only on the inputs and the number of ranks, not on MPI's algorithm
 *       choice, and every rank holds the same bits. Bytes moved per rank:
 *       2 (p-1)/p * 4n, the same as a ring all-reduce.
 *   SN_REDUCE_NATIVE   MPI_Iallreduce(MPI_SUM) on floats: the library's algorithm and
 *       order (Open MPI picks by message size and rank count; summation in float).
 * With one rank both are the identity (bit-exact).
 */
#ifndef SN_DIST_H
#define SN_DIST_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { SN_REDUCE_ORDERED = 0, SN_REDUCE_NATIVE = 1 } sn_reduce_mode;

typedef struct {
    const char *name; /* "local", "mpi" */
    /* x: (n) in place; on return every rank holds the sum over ranks. */
    sn_status (*allreduce_f32)(sn_comm *c, float *x, size_t n, sn_reduce_mode mode);
    /* x: (n) small vector of doubles (losses, counts, batch-norm sums), summed in rank
     * order in double: every rank gathers all n-vectors (c->scratch64, size * n) and adds
     * them up itself, so every rank holds the same bits. */
    sn_status (*allreduce_f64)(sn_comm *c, double *x, int n);
    /* Variable-size all-gather of bytes: mine (bytes) from this rank; all receives the
     * ranks' blocks concatenated in rank order; sizes (size) gets each rank's byte count.
     * cap: bytes available in all. */
    sn_status (*allgather)(sn_comm *c, const void *mine, size_t bytes, void *all, size_t cap,
                           size_t *sizes);
    sn_status (*bcast)(sn_comm *c, void *buf, size_t bytes, int root);
    sn_status (*barrier)(sn_comm *c);
    void (*abort)(sn_comm *c, int code);
    void (*destroy)(sn_comm *c);
} sn_comm_ops;

struct sn_comm {
    const sn_comm_ops *ops;
    sn_ctx *ctx;          /* error messages go here (outlives the communicator) */
    int rank, size;
    double timeout_s;     /* per collective; <= 0: wait forever */
    int broken;           /* a collective failed: only abort/free are allowed */
    /* counters: collectives issued, bytes this rank sent, seconds spent inside them */
    long calls;
    uint64_t bytes_sent;
    double seconds;
    /* backend state */
    void *impl;
    size_t *sizes;        /* (size) all-gather byte counts */
    float *scratch;       /* ordered reduction: (size * ceil(n/size)) floats */
    size_t scratch_cap;   /* floats */
    double *scratch64;    /* all-reduce of doubles: (size * n) */
    size_t scratch64_cap; /* doubles */
};

/* Default per-collective timeout (seconds); SIMNET_COMM_TIMEOUT overrides it. */
#define SN_COMM_DEFAULT_TIMEOUT 300.0

sn_status sn_comm_local_create(sn_ctx *ctx, sn_comm **out);
/* MPI_Init_thread (FUNNELED: only the calling thread talks to MPI) unless MPI is already
 * initialised, then a duplicate of MPI_COMM_WORLD. SN_ERR_UNSUPPORTED when built
 * without SIMNET_MPI. */
sn_status sn_comm_mpi_create(sn_ctx *ctx, int *argc, char ***argv, sn_comm **out);
/* Ranks announced by a launcher's environment: OMPI_COMM_WORLD_SIZE (Open MPI's
 * mpirun), PMI_SIZE (MPICH/Hydra, srun --mpi=pmi2); 1 when only PMIX_RANK says a PMIx
 * launcher started us; 0 when no launcher did. */
int sn_comm_launched_size(void);

/* Collectives: dispatch through c->ops with argument checks, counters and the broken
 * flag. See the top of this file for the contract. */
sn_status sn_comm_allreduce_f32(sn_comm *c, float *x, size_t n, sn_reduce_mode mode);
sn_status sn_comm_allreduce_f64(sn_comm *c, double *x, int n);
/* Rows of row_len floats: mine (rows, row_len) -> all (total, row_len) in rank order,
 * at most cap_rows rows; rows_of (size) gets each rank's row count (may be NULL);
 * *total (may be NULL) the sum. */
sn_status sn_comm_allgather_f32(sn_comm *c, const float *mine, int rows, int row_len, float *all,
                                int cap_rows, int *rows_of, int *total);
sn_status sn_comm_allgather_i32(sn_comm *c, const int32_t *mine, int n, int32_t *all, int cap,
                                int *n_of, int *total);
sn_status sn_comm_bcast(sn_comm *c, void *buf, size_t bytes, int root);
sn_status sn_comm_barrier(sn_comm *c);
/* Allocate the ordered-reduction scratch for slabs of up to n floats now (so that no
 * step allocates). */
sn_status sn_comm_reserve(sn_comm *c, size_t n);
/* The same for all-reduces of up to n doubles (sn_comm_allreduce_f64). */
sn_status sn_comm_reserve_f64(sn_comm *c, int n);

/* Share of `total` items for rank r of p: [*lo, *hi), contiguous, sizes differ by at
 * most one, in rank order. */
void sn_comm_share(long total, int r, int p, long *lo, long *hi);

/* For backends: a communicator with ops/rank/size, the timeout and the sizes array set
 * (impl left NULL for the backend to fill). */
sn_status sn_comm_new(sn_ctx *ctx, const sn_comm_ops *ops, int rank, int size, sn_comm **out);
/* Polling helper for backends: seconds since t0 exceed the timeout? */
int sn_comm_timed_out(const sn_comm *c, double t0);

#endif
