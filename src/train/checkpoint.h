/*
 * checkpoint.h -- training checkpoints (format: docs/checkpoint-format.md).
 *
 * A checkpoint holds everything sn_train needs to continue bit-identically: the
 * configuration that must match (text "key=value" lines), the epoch / step counters,
 * parameters, BN buffers, optimizer state, the EMA slab and the proxy head with its
 * optimizer. Written atomically (temp, fsync, rename) with a CRC-32.
 */
#ifndef SN_CHECKPOINT_H
#define SN_CHECKPOINT_H

#include "train/train.h"

/* What to write. ema, head, head_opt may be NULL / 0. */
typedef struct {
    const char *conf;           /* "key=value\n" lines */
    int epoch;                  /* epochs completed */
    long step;                  /* global steps completed */
    const float *params, *bufs;
    size_t n_params, n_bufs;
    const sn_optim *opt;
    const float *ema;           /* (n_params) or NULL */
    const float *head;          /* proxy head (n_head) or NULL */
    size_t n_head;
    const sn_optim *head_opt;   /* with head */
} sn_ckpt_out;

sn_status sn_checkpoint_write(sn_ctx *ctx, const char *path, const sn_ckpt_out *c);

/* A checkpoint read and verified (magic, version, length, CRC, section sizes). The
 * section pointers point into `blob` (unaligned: copy out with memcpy); a section the
 * file lacks is NULL with count 0. */
typedef struct {
    uint8_t *blob;
    char *conf;                       /* NUL-terminated copy */
    int epoch;
    long step;
    const uint8_t *params, *bufs, *ema, *head;
    size_t n_params, n_bufs, n_ema, n_head;
    const uint8_t *opt_m, *opt_v, *hopt_m, *hopt_v; /* v: NULL for SGD */
    size_t n_opt, n_hopt;
    long opt_t, hopt_t;
} sn_ckpt_in;

sn_status sn_checkpoint_read(sn_ctx *ctx, const char *path, sn_ckpt_in *c);
void sn_checkpoint_free(sn_ckpt_in *c);

/* Compare two conf texts key by key; `skip` (may be NULL) lists keys not compared
 * (NULL-terminated). On a difference returns SN_ERR_ARG with a message naming the key
 * and both values. */
sn_status sn_checkpoint_conf_check(sn_ctx *ctx, const char *path, const char *stored,
                                   const char *current, const char *const *skip);

#endif
