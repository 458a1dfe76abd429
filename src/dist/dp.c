/*
 * dp.c -- data-parallel training steps (dp.h).
 */
#include "dist/dp.h"

#include <string.h>

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

sn_status sn_dp_init(sn_ctx *ctx, sn_dp *dp, sn_comm *comm, const sn_model *m, int pk, int batch,
                     const char *conf) {
    memset(dp, 0, sizeof *dp);
    dp->pk = pk;
    if (!comm || comm->size == 1) return SN_OK;
    dp->comm = comm;
    dp->on = 1;
    const int p = comm->size;
    /* the same configuration everywhere (architecture, data checksum, loss, batch, seed,
     * optimizer, ...), else the ranks would silently train different things */
    uint64_t h = fnv1a(conf);
    int32_t mine[2] = {(int32_t)(uint32_t)h, (int32_t)(uint32_t)(h >> 32)};
    int32_t *all = sn_calloc((size_t)p * 2, sizeof(int32_t));
    if (!all) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");
    sn_status st = sn_comm_allgather_i32(comm, mine, 2, all, 2 * p, NULL, NULL);
    for (int r = 1; !st && r < p; r++)
        if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
            st = sn_errf(ctx, SN_ERR_ARG,
                         "rank %d of %d runs another training configuration than rank 0 (options, "
                         "architecture or training data differ): every rank must get the same "
                         "arguments and data", r, p);
    free(all);
    if (st) return st;
    if (batch < p)
        return sn_errf(ctx, SN_ERR_ARG,
                       "a global batch of %d %s cannot be shared by %d ranks (each needs at least "
                       "one): raise --batch-size or use fewer ranks", batch, pk ? "images" : "pairs", p);
    /* rank 0's initial parameters and buffers (identical anyway from the same seed) */
    if ((st = sn_comm_bcast(comm, m->params, sizeof(float) * m->n_params, 0)) ||
        (st = sn_comm_bcast(comm, m->bufs, sizeof(float) * m->n_bufs, 0)) ||
        (st = sn_comm_reserve(comm, m->n_params > m->n_bufs ? m->n_params : m->n_bufs)) ||
        (st = sn_comm_reserve_f64(comm, 2))) /* the epoch sums (sn_dp_sum) */
        return st;
    dp->b_cap = batch;
    if (!pk && !(dp->y = sn_calloc((size_t)batch, sizeof(float))))
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory");
    if (pk) {
        dp->cap_rows = batch;
        dp->D = m->embed_dim;
        dp->eall = sn_aligned_alloc((size_t)batch * (size_t)m->embed_dim, sizeof(float));
        if (!dp->eall) return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for the gathered embeddings");
    }
    return SN_OK;
}

void sn_dp_free(sn_dp *dp) {
    if (dp->bn_model) dp->bn_model->bn_sync = NULL;
    free(dp->bns.buf);
    free(dp->bn_keep);
    sn_aligned_free(dp->eall);
    free(dp->y);
    memset(dp, 0, sizeof *dp);
}

int sn_dp_stage(sn_dp *dp, sn_model *m, const float *x, int b, size_t img, const float **y) {
    float *in = sn_model_input(m);
    const int rows = dp->pk ? b : 2 * b;
    dp->b = b;
    if (!dp->on) {
        dp->lo = 0;
        dp->hi = b;
        dp->br = b;
        memcpy(in, x, sizeof(float) * (size_t)rows * img);
        return rows;
    }
    const int r = dp->comm->rank, p = dp->comm->size;
    if (dp->pk) {
        sn_comm_share(b, r, p, &dp->lo, &dp->hi);
        const size_t n = (size_t)(dp->hi - dp->lo);
        memcpy(in, x + (size_t)dp->lo * img, sizeof(float) * n * img);
        return (int)n;
    }
    SN_ASSERT(b <= dp->b_cap);
    const int br = (b - r + p - 1) / p; /* pairs r, r + p, ... below b */
    for (int k = 0, i = r; k < br; k++, i += p) {
        memcpy(in + (size_t)k * img, x + (size_t)i * img, sizeof(float) * img);
        memcpy(in + (size_t)(br + k) * img, x + (size_t)(b + i) * img, sizeof(float) * img);
        dp->y[k] = (*y)[i];
    }
    *y = dp->y;
    dp->br = br;
    return 2 * br;
}

const float *sn_dp_gather_embeddings(sn_dp *dp, const float *e, int D) {
    if (!dp->on) return e;
    SN_ASSERT(dp->pk && D == dp->D && dp->b <= dp->cap_rows);
    int total = 0;
    if (sn_comm_allgather_f32(dp->comm, e, (int)(dp->hi - dp->lo), D, dp->eall, dp->cap_rows, NULL,
                              &total))
        return NULL;
    SN_ASSERT(total == dp->b);
    return dp->eall;
}

void sn_dp_scale_pairs(const sn_dp *dp, float *de, int D) {
    if (!dp->on || dp->pk) return;
    const int br = dp->br;
    const float f = (float)((double)br / (double)dp->b);
    const size_t n = (size_t)(2 * br) * (size_t)D;
    for (size_t i = 0; i < n; i++) de[i] *= f;
}

sn_status sn_dp_allreduce_grads(sn_dp *dp, sn_model *m) {
    if (!dp->on) return SN_OK;
    return sn_comm_allreduce_f32(dp->comm, m->grads, m->n_params, SN_REDUCE_ORDERED);
}

sn_status sn_dp_sum(sn_dp *dp, double *x, int n) {
    if (!dp->on) return SN_OK;
    return sn_comm_allreduce_f64(dp->comm, x, n);
}

/* The hook of synchronized BN (kernels.h: sn_bn_sync): v summed over the ranks; on
 * failure v is restored and the first status kept (later layers of the pass then fail
 * at once, without touching the broken communicator). */
static int bn_sum(void *u, double *v, int n) {
    sn_dp *dp = u;
    if (dp->bn_st) return 1;
    SN_ASSERT(n >= 0 && n <= dp->bns.cap);
    memcpy(dp->bn_keep, v, sizeof(double) * (size_t)n);
    const uint64_t b0 = dp->comm->bytes_sent;
    const double s0 = dp->comm->seconds;
    sn_status st = sn_comm_allreduce_f64(dp->comm, v, n);
    dp->bn_calls++;
    dp->bn_bytes += dp->comm->bytes_sent - b0;
    dp->bn_seconds += dp->comm->seconds - s0;
    if (!st) return 0;
    memcpy(v, dp->bn_keep, sizeof(double) * (size_t)n);
    dp->bn_st = st;
    return 1;
}

sn_status sn_dp_sync_bn(sn_ctx *ctx, sn_dp *dp, sn_model *m) {
    if (!dp->on) return SN_OK;
    int cmax = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == SN_LAYER_BATCHNORM && m->layers[i].in[0] > cmax)
            cmax = m->layers[i].in[0];
    if (cmax == 0) return SN_OK;
    const int cap = 2 * cmax + 1; /* channels <= 2^26 (sn_model_build): no overflow */
    sn_status st = sn_comm_reserve_f64(dp->comm, cap);
    if (st) return st;
    dp->bns.buf = sn_calloc((size_t)cap, sizeof(double));
    dp->bn_keep = sn_calloc((size_t)cap, sizeof(double));
    if (!dp->bns.buf || !dp->bn_keep)
        return sn_errf(ctx, SN_ERR_NOMEM, "out of memory for the synchronized batch-norm buffers");
    dp->bns.sum = bn_sum;
    dp->bns.ctx = dp;
    dp->bns.cap = cap;
    dp->bn_model = m;
    m->bn_sync = &dp->bns;
    return SN_OK;
}

sn_status sn_dp_bn_status(const sn_dp *dp) { return dp->bn_st; }

sn_status sn_dp_sync_bufs(sn_dp *dp, sn_model *m) {
    if (!dp->on || m->n_bufs == 0 || dp->bn_model) return SN_OK;
    sn_status st = sn_comm_allreduce_f32(dp->comm, m->bufs, m->n_bufs, SN_REDUCE_ORDERED);
    if (st) return st;
    const float inv = 1.0f / (float)dp->comm->size;
    for (size_t i = 0; i < m->n_bufs; i++) m->bufs[i] *= inv;
    return SN_OK;
}

int sn_dp_is_root(const sn_dp *dp) { return !dp->on || dp->comm->rank == 0; }
