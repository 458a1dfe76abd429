/*
 * dp.h -- data-parallel training steps over a communicator (private; used by the
 * trainer). With no communicator, or one of size 1, every call is the identity and
 * the trainer runs its single-process code path unchanged.
 *
 * The global batch is the unit (docs/scaling.md): --batch-size is the GLOBAL batch,
 * every rank builds the same global batch k from (seed, k) and takes a contiguous,
 * share of it (sizes differ by at most one):
 *   pairs  every p-th pair from pair r (r, r + p, r + 2p, ...), so that each rank gets
 *          same-class pairs (the first half of a batch) and different-class pairs (the
 *          second half) alike: its input rows are those anchors then their partners
 *          (the trainer's pair layout, on b_r pairs). The contrastive loss is per pair,
 *          so each rank differentiates its mean over its own pairs, scaled by b_r / b:
 *          the SUM over ranks of the gradients is the gradient of the global mean.
 *   P x K  rows [lo, hi) of the b rows. A loss that mines within the batch needs all
 *          of it: the embeddings are all-gathered (rank order = global row order), every
 *          rank computes the same loss and dL/dE of the whole batch (identical bits on
 *          every rank), and backpropagates its own rows lo..hi-1; a proxy head's
 *          gradient is then already the global one on every rank.
 * Then one ordered all-reduce (SUM) of the flat gradient slab: every rank holds the
 * same bits, so identical optimizer steps keep the parameters identical.
 * Batch norm uses per-rank batch statistics (over the rank's own rows) by default; its
 * running statistics are averaged over the ranks at every epoch end and at the end of
 * training (sn_dp_sync_bufs), so the saved model does not depend on which rank saved.
 * Synchronized batch norm (sn_dp_sync_bn, `train --sync-bn`) normalises over the whole
 * global batch instead: each training-mode BN layer all-reduces its per-channel sums
 * (2 C + 1 doubles: sum, shifted sum of squares, row count) in forward and, for dx, its
 * backward sums (sum(dy), sum(dy (x - mean)), count): one small ordered all-reduce of
 * doubles (sn_comm_allreduce_f64) per BN layer per direction, identical bits on every
 * rank, so the running statistics stay identical and need no averaging. Pairs: the
 * union of the ranks' rows is the global batch's 2b rows; P x K: its b rows.
 */
#ifndef SN_DP_H
#define SN_DP_H

#include "dist/dist.h"
#include "kernels/kernels.h"
#include "nn/nn.h"

typedef struct {
    sn_comm *comm;  /* NULL when off */
    int on;         /* comm size > 1 */
    int pk;         /* P x K rows (1) or pairs (0) */
    long lo, hi;    /* P x K: this rank's rows [lo, hi) of the last staged batch */
    int b;          /* pairs or rows of the last staged global batch */
    int br;         /* pairs: this rank's pairs in it */
    int b_cap;      /* the global batch planned for */
    float *y;       /* pairs: (batch) labels of this rank's pairs */
    float *eall;    /* P x K: (rows, D) gathered embeddings */
    int cap_rows, D;
    /* synchronized batch norm (sn_dp_sync_bn) */
    sn_bn_sync bns;     /* the hook m->bn_sync points at; bns.buf: (bns.cap) doubles */
    double *bn_keep;    /* (bns.cap) the local sums, restored when a reduction fails */
    sn_model *bn_model; /* whose bn_sync sn_dp_free clears */
    sn_status bn_st;    /* first failure of a reduction inside a layer (SN_OK: none) */
    long bn_calls;      /* reductions issued, the bytes this rank sent and the seconds it
                           spent in them (also in the communicator's totals) */
    uint64_t bn_bytes;
    double bn_seconds;
} sn_dp;

/* Set up for training m: checks that every rank runs the same configuration `conf`
 * (a hash of it, all-gathered: a mismatch names the rank), that each rank gets at least
 * one pair / row of a global batch of `batch` pairs / rows, broadcasts rank 0's
 * parameters and buffers, and reserves the all-reduce and gather buffers. comm may be
 * NULL (off). */
sn_status sn_dp_init(sn_ctx *ctx, sn_dp *dp, sn_comm *comm, const sn_model *m, int pk, int batch,
                     const char *conf);
void sn_dp_free(sn_dp *dp);

/* Copy this rank's share of the global batch x (pairs: 2b rows; P x K: b rows of img
 * floats) into the model input. Returns the rows to forward; pairs: *y (the b pair
 * labels) is replaced by this rank's pairs' labels. Off: copies everything. */
int sn_dp_stage(sn_dp *dp, sn_model *m, const float *x, int b, size_t img, const float **y);
/* P x K: all-gather the local embeddings e (rows of the share, D) into the whole
 * batch's (b, D); returns it (e itself when off) or NULL on a communicator error. */
const float *sn_dp_gather_embeddings(sn_dp *dp, const float *e, int D);
/* Pairs: scale the local dL/de (2 b_r rows of D) by b_r / b. Off: nothing. */
void sn_dp_scale_pairs(const sn_dp *dp, float *de, int D);
/* Sum the gradient slab over the ranks (ordered, deterministic). Off: nothing. */
sn_status sn_dp_allreduce_grads(sn_dp *dp, sn_model *m);
/* Sum n doubles over the ranks (epoch loss sums, counts). */
sn_status sn_dp_sum(sn_dp *dp, double *x, int n);
/* Average the batch-norm running statistics over the ranks (nothing with synchronized
 * batch norm: they are the same bits on every rank). */
sn_status sn_dp_sync_bufs(sn_dp *dp, sn_model *m);
/* Synchronized batch norm for m: reserves the reduction buffers (2 C + 1 doubles for the
 * widest BN layer) and points m->bn_sync at this dp's hook until sn_dp_free. Off (one
 * process) or a model without BN: nothing (one process: per-process statistics are
 * already the global batch's, bit-identically). */
sn_status sn_dp_sync_bn(sn_ctx *ctx, sn_dp *dp, sn_model *m);
/* After a forward or backward pass: SN_OK, or the status of a reduction that failed
 * inside a BN layer (its message is in ctx); the pass finished on local statistics. */
sn_status sn_dp_bn_status(const sn_dp *dp);
/* Rank 0? (the rank that logs and writes files) */
int sn_dp_is_root(const sn_dp *dp);

#endif
