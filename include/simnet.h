/*
 * simnet.h -- public API of libsimnet: Siamese / metric-learning networks in C.
 *
 * Conventions
 *   - Every exported symbol is prefixed sn_ / SN_.
 *   - Functions that can fail at run time return sn_status; the message that names
 *     the file / argument / field and what was expected is in sn_ctx_error(ctx).
 *   - The library never exits and never prints; diagnostics go to the log callback.
 *   - Tensors are float32, NCHW, row-major. Images are uint8 (N,C,H,W).
 *   - No global mutable state: thread count, RNG and log sink live in sn_ctx or in
 *     the objects that need them.
 *   - Public enums are append-only.
 */
#ifndef SIMNET_H
#define SIMNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SN_VERSION_STRING "0.1.0"

/* Symbols of the public API are exported from the shared library; everything else
 * in libsimnet is built with hidden visibility. */
#if defined(__GNUC__)
#define SN_API __attribute__((visibility("default")))
#else
#define SN_API
#endif

/* ---------------------------------------------------------------- status */
typedef enum {
    SN_OK = 0,
    SN_ERR_ARG = 1,         /* bad argument / option value */
    SN_ERR_IO = 2,          /* open/read/write failed */
    SN_ERR_FORMAT = 3,      /* file content malformed (magic, size, checksum, ...) */
    SN_ERR_NOMEM = 4,       /* allocation failed or size overflow */
    SN_ERR_NUMERIC = 5,     /* NaN/Inf or divergence */
    SN_ERR_UNSUPPORTED = 6  /* unknown version / feature */
} sn_status;

SN_API const char *sn_status_str(sn_status s);

/* --------------------------------------------------------------- context */
typedef struct sn_ctx sn_ctx;

enum { SN_LOG_ERROR = 0, SN_LOG_WARN = 1, SN_LOG_INFO = 2, SN_LOG_DEBUG = 3 };
typedef void (*sn_log_fn)(void *user, int level, const char *msg);

/* n_threads <= 0: all online cores. Returns NULL only when out of memory. */
SN_API sn_ctx *sn_ctx_create(int n_threads);
SN_API void sn_ctx_free(sn_ctx *ctx);
SN_API int sn_ctx_threads(const sn_ctx *ctx);
/* Message of the last failure ("" if none). Valid until the next failing call. */
SN_API const char *sn_ctx_error(const sn_ctx *ctx);
SN_API void sn_ctx_set_log(sn_ctx *ctx, sn_log_fn fn, void *user);

/* --------------------------------------------------------------- dataset */
/* A dataset split held as compact uint8 pixels. POD: callers may read fields. */
typedef struct {
    int n;               /* number of images */
    int c, h, w;         /* image shape */
    int n_classes;       /* labels are 0..n_classes-1 */
    uint8_t *pixels;     /* (n, c, h, w), 0..255 */
    int32_t *labels;     /* (n) */
    char name[32];       /* e.g. "mnist" */
    char (*class_names)[64]; /* (n_classes) names, or NULL when the format has none */
} sn_dataset;

/* Options of sn_dataset_open; zero-initialise and set what you need. */
typedef struct {
    const char *dir;      /* data directory (not used by folder:PATH) */
    const char *label;    /* cifar100: "fine" (default) or "coarse" */
    int c, h, w;          /* folder:PATH: shape images are converted to (0: 3x32x32) */
    double test_fraction; /* folder:PATH without train/ and test/ sub-folders: share of
                             each class held out as "test" (0: 0.2), chosen by hashing
                             the file name, so it is stable as files are added */
} sn_dataset_opts;

/* Load split "train" or "test" of a dataset:
 *   "mnist", "fashion-mnist"  IDX files (plain or .gz) in <dir>/<name>/ or <dir>/
 *   "cifar10"                 <dir>/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin
 *                             (+ batches.meta.txt), plain or .gz; also <dir>/cifar10/...
 *   "cifar100"                <dir>/cifar-100-binary/{train,test}.bin (+ label names)
 *   "folder:PATH"             PATH/<class>/<images> (PNG, JPEG, PGM/PPM), or
 *                             PATH/train/<class>/... and PATH/test/<class>/...
 * Every failure names the file, the record/offset and what was expected. */
SN_API sn_status sn_dataset_open(sn_ctx *ctx, const char *name, const char *split,
                                 const sn_dataset_opts *opts, sn_dataset **out);
/* Shorthand: sn_dataset_open with only opts.dir set. */
SN_API sn_status sn_dataset_load(sn_ctx *ctx, const char *name, const char *dir, const char *split,
                          sn_dataset **out);
SN_API void sn_dataset_free(sn_dataset *ds);
/* Keep only the classes listed in spec ("0-4", "5,7,9", "0-2,8"), relabelled
 * 0..k-1 in increasing order of the original label (class_names follow). */
SN_API sn_status sn_dataset_select_classes(sn_ctx *ctx, const sn_dataset *ds, const char *spec,
                                           sn_dataset **out);
/* Split off a deterministic validation part: the last `n_val` images of a
 * seed-shuffled order move to *val, the rest to *train. The input is not modified. */
SN_API sn_status sn_dataset_split(sn_ctx *ctx, const sn_dataset *ds, int n_val, uint64_t seed,
                           sn_dataset **train, sn_dataset **val);
/* Label augmentation (self-supervised label augmentation, Lee et al. 2020): every image
 * appears T times, transformed, with label l*T + t, so a model learns T x the classes.
 * kind: "rot2" (0, 180 degrees), "rot4" (quarter turns; square images), "flip" (as is,
 * mirrored left-right), "d4" (flip x rot4, T = 8). Transform t = m*R + r mirrors m
 * times, then turns r*(4/R) quarter turns counter-clockwise. For open-set embeddings
 * trained on few classes. */
SN_API sn_status sn_dataset_label_augment(sn_ctx *ctx, const sn_dataset *ds, const char *kind,
                                          sn_dataset **out);

/* Read one image file (PNG, JPEG, PGM/PPM) and convert it to c x h x w uint8
 * (grey = ITU-R 601 luma; resize = area average when shrinking, bilinear when
 * enlarging). */
SN_API sn_status sn_image_load(sn_ctx *ctx, const char *path, int c, int h, int w, uint8_t *out);

/* ----------------------------------------------------------------- model */
typedef struct sn_model sn_model;

typedef struct {
    const char *arch;      /* preset "seed" | "seed-relu" | "resnet", or a text spec
                              (docs/architectures.md) */
    int in_c, in_h, in_w;  /* input image shape */
    float mean[3], std[3]; /* per-channel normalisation of x/255 */
    uint64_t seed;         /* initialisation seed */
    /* Appended fields; zero keeps the behaviour of a config without them. */
    int embed_dim;         /* embedding size; 0 = preset default (seed 2, seed-relu and
                              resnet 128); for a text spec 0 or the spec's own output */
    float width;           /* channel width multiplier of "resnet" (64 x width channels
                              in the stem); 0 = 1.0. Other presets accept only 0 or 1 */
    int l2_normalize;      /* 1 = append an l2norm layer (unit-length embeddings) */
} sn_model_config;

SN_API sn_status sn_model_create(sn_ctx *ctx, const sn_model_config *cfg, sn_model **out);
SN_API sn_status sn_model_load(sn_ctx *ctx, const char *path, sn_model **out);
/* Atomic: writes path.tmp, fsyncs, renames. The previous file survives any failure. */
SN_API sn_status sn_model_save(sn_ctx *ctx, const sn_model *m, const char *path);
SN_API void sn_model_free(sn_model *m);

SN_API const char *sn_model_arch(const sn_model *m);
SN_API int sn_model_embed_dim(const sn_model *m);
SN_API size_t sn_model_param_count(const sn_model *m);
SN_API void sn_model_input_shape(const sn_model *m, int *c, int *h, int *w);
/* Decision threshold on the Euclidean distance (0 = not calibrated). */
SN_API float sn_model_threshold(const sn_model *m);
SN_API void sn_model_set_threshold(sn_model *m, float t);
/* Operating points: named decision thresholds on the distance, each calibrated on a
 * validation pair set for a target, with the rates measured there. */
typedef struct {
    char name[32];        /* the target: "far=0.001", "precision=0.99", "f1", "accuracy" */
    float threshold;      /* "same" iff distance <= threshold */
    double far, tar;      /* false / true accept rate on the calibration pairs */
    double precision, f1, accuracy;
    int n_pairs;          /* calibration pairs */
} sn_operating_point;

#define SN_MAX_OPS 16
SN_API int sn_model_op_count(const sn_model *m);
SN_API const sn_operating_point *sn_model_op_get(const sn_model *m, int i);
/* NULL if the model has no operating point of that name. */
SN_API const sn_operating_point *sn_model_op_find(const sn_model *m, const char *name);
/* Add, or replace the one with the same name. */
SN_API sn_status sn_model_op_set(sn_ctx *ctx, sn_model *m, const sn_operating_point *op);
/* Remove every operating point (after a change that moves the distances). */
SN_API void sn_model_clear_ops(sn_model *m);

/* Free-form training metadata (key/value strings, kept in the model file). */
SN_API sn_status sn_model_meta_set(sn_ctx *ctx, sn_model *m, const char *key, const char *value);
SN_API const char *sn_model_meta_get(const sn_model *m, const char *key);
SN_API int sn_model_meta_count(const sn_model *m);
SN_API const char *sn_model_meta_key(const sn_model *m, int i);
/* One line per layer into buf (always NUL-terminated). */
SN_API void sn_model_describe(const sn_model *m, char *buf, size_t cap);

/* Embed n uint8 images (n, c, h, w) in eval mode -> out (n, embed_dim). */
SN_API sn_status sn_model_embed(sn_ctx *ctx, sn_model *m, const uint8_t *pixels, int n, float *out);

/* Arithmetic of the convolutions (training and embedding): "fp32" (default) or "bf16":
 * operands rounded to bfloat16, products summed in fp32, weights, gradients and optimizer
 * state kept in fp32. Uses AVX512-BF16 when the CPU has it (else a slow portable path, with
 * a warning in the log). "auto": bf16 when a probe run now (about 15 ms) measures the
 * AVX512-BF16 dot product at >= 1.5x the fp32 FMA rate (Zen 4: about 2x), else fp32 (as on
 * cores where it runs below the fp32 rate, or without AVX512-BF16); the choice is logged.
 * A run-time choice: not stored in the model file. */
SN_API sn_status sn_model_set_precision(sn_ctx *ctx, sn_model *m, const char *precision);
SN_API const char *sn_model_precision(const sn_model *m);

/* Test-time augmentation: sn_model_embed returns the mean of the embeddings of several
 * views of each image, re-normalised to unit length when the network ends in l2norm.
 * spec: "none" (default), "flip" (the image and its mirror), "shiftN" (the image and its
 * 4 shifts by N = 1..4 pixels up, down, left, right, zero fill as --crop-pad; "shift" is
 * shift1), or "flip+shiftN" (the 10 combinations). Refused with flip for a model trained
 * with mirrored copies as classes (label_augment flip, d4, d8: its mirror is another
 * class). Saved in the model file and part of its fingerprint; distances change, so the
 * threshold and operating points need recalibrating (simnet tta does it). */
SN_API sn_status sn_model_set_tta(sn_ctx *ctx, sn_model *m, const char *spec);
/* The canonical spec: "none", "flip", "shift2", "flip+shift1", ... */
SN_API const char *sn_model_tta(const sn_model *m);
/* Views per image (1 without test-time augmentation). */
SN_API int sn_model_tta_views(const sn_model *m);

/* Similarity score in [0,1] from a distance d and threshold t:
 *   s = 1 / (1 + (d/t)^2)        (t > 0; s = 0.5 exactly at the threshold)
 *   s = 1 / (1 + d^2)            (t == 0, uncalibrated)                          */
SN_API double sn_similarity_score(double d, double t);

/* ------------------------------------------------ data-parallel communicator */
/* Training on several processes (mpirun -np N simnet train ...; docs/scaling.md). */
typedef struct sn_comm sn_comm;

/* Started by an MPI launcher (mpirun / srun: its environment says so) and built with
 * SIMNET_MPI: an MPI communicator over all ranks (MPI_Init here, MPI_Finalize in
 * sn_comm_free). Otherwise a single-process communicator (rank 0 of 1) that makes no
 * MPI call. Fails (SN_ERR_UNSUPPORTED) under a launcher with more than one rank when
 * built without MPI, rather than letting every rank train alone. argc/argv may be NULL. */
SN_API sn_status sn_comm_create(sn_ctx *ctx, int *argc, char ***argv, sn_comm **out);
SN_API int sn_comm_rank(const sn_comm *c);
SN_API int sn_comm_size(const sn_comm *c);
/* "local" or "mpi". */
SN_API const char *sn_comm_backend(const sn_comm *c);
/* Seconds a collective may wait for the other ranks before it fails (default 300, or
 * $SIMNET_COMM_TIMEOUT); <= 0 waits forever. */
SN_API void sn_comm_set_timeout(sn_comm *c, double seconds);
/* After a failure: take every rank of the job down (MPI_Abort with `code`), so none
 * is left waiting. Returns only for a single-process communicator. */
SN_API void sn_comm_abort(sn_comm *c, int code);
SN_API void sn_comm_free(sn_comm *c);

/* -------------------------------------------------------------- training */
typedef struct {
    int epoch;            /* 1-based */
    int epochs;
    long step;            /* global step, 1-based */
    long steps_per_epoch;
    long total_steps;
    double loss;          /* running mean of the epoch's train loss */
    double pairs_per_s;   /* pairs (pair losses) or images (P x K) per second */
    /* Appended fields. */
    double lr;            /* learning rate of this step */
} sn_train_progress;

typedef struct {
    int epoch;
    double train_loss;
    double test_loss;     /* NaN when no test set */
    double seconds;
    /* Appended fields: health of the epoch's training batches (means over its steps).
     * active_fraction: pairs (contrastive) or triplets (batch losses) violating the
     * margin (0 for losses without one) in their batch; distances in the loss's own
     * distance (similarity losses: cosine). */
    double active_fraction;
    double mean_pos_dist, mean_neg_dist;
    double mean_embed_norm;
    double lr;            /* learning rate of the epoch's last step */
    long step;            /* global steps done at the end of the epoch */
} sn_epoch_result;

typedef struct {
    const char *loss;       /* "contrastive" (default; more below) */
    float margin;           /* loss margin; 0 = the loss's default (contrastive 5) */
    const char *optimizer;  /* "adam" (default), "adamw" or "sgd" */
    float lr;               /* default 1e-3 */
    float momentum;         /* sgd, default 0.9 */
    float weight_decay;     /* default 0; adam, sgd: L2 added to the gradient; adamw: decoupled */
    int epochs;             /* default 1 */
    int batch_size;         /* pairs per step, default 128 (2x images per step) */
    long max_steps;         /* stop after this many steps (0 = no limit) */
    uint64_t seed;          /* pair sampling seed */
    const char *log_path;   /* JSON-lines log (NULL = none) */
    /* Augmentation of training images (deterministic for a given seed):
     * random crop after zero-padding by aug_crop_pad pixels, random horizontal flip,
     * random erasing with probability aug_erase; a random turn in [-aug_rotate,
     * aug_rotate] degrees and scale in [1 - aug_zoom, 1 + aug_zoom] about the centre
     * (bilinear; both 0 = off, the integer crop alone). */
    int aug_crop_pad;
    int aug_flip;
    float aug_erase;
    float aug_rotate;
    float aug_zoom;
    int no_prefetch;        /* 1: prepare batches on the training thread (default: a loader
                               thread prepares the next batch while the current one runs) */
    /* Called every step (may be NULL). */
    void (*on_progress)(void *user, const sn_train_progress *p);
    /* Called after each epoch (may be NULL). */
    void (*on_epoch)(void *user, const sn_epoch_result *r);
    void *user;
    /* ---- Appended fields (docs/training.md). Zero = default / off, so a config that
     * does not set them trains exactly as before. ---- */
    /* Loss options (0 / NULL: the loss's default; an option the loss does not take is
     * refused when set). loss: contrastive (pairs) | contrastive-pn | triplet |
     * multisim | supcon | ntxent | normsoftmax | cosface | arcface | angular |
     * triplet-bc | triplet-curriculum; all but contrastive train on P x K batches.
     * `margin` above: 0 = the loss's default (contrastive 5, triplet 0.2, ...). */
    const char *miner;       /* triplet: "all" (default) | "hard" | "semihard" */
    const char *distance;    /* "euclidean" | "sqeuclidean" | "cosine" */
    float pos_margin;        /* contrastive-pn positive margin (default 0) */
    float temperature;       /* supcon (0.1), ntxent (0.07) */
    float scale;             /* normsoftmax (20), cosface / arcface (64) */
    float angle_deg;         /* angular alpha in degrees (40) */
    float curriculum;        /* triplet: hardness of the negative rises 0 -> 1 over this
                                fraction of the steps (triplet-curriculum: 0 = 0.6) */
    int classes_per_batch;   /* P of P x K batches (0: min(classes, 16)) */
    int per_class;           /* K (0: 4); batch_size is ignored for P x K losses */
    /* Optimizer and schedule. optimizer may also be "adamw" (decoupled weight decay). */
    int nesterov;            /* sgd: Nesterov momentum */
    const char *schedule;    /* "constant" (NULL) | "step" | "cosine" | "onecycle" | "triangle" */
    float warmup_epochs;     /* linear warm-up (fractional epochs; onecycle: its rising
                                phase, 0 = 30 % of the steps) */
    int lr_step_epochs;      /* step: multiply the LR by lr_gamma every N epochs (0: 1) */
    float lr_gamma;          /* step: 0 = 0.1 */
    float ema_decay;         /* > 0: keep an exponential moving average of the weights
                                (BN buffers copied); test loss and the final model use it */
    float clip_grad_norm;    /* > 0: clip the global gradient L2 norm to this */
    /* Checkpoints (docs/checkpoint-format.md). */
    const char *checkpoint_path; /* written atomically after every epoch */
    const char *resume_path;     /* continue from this checkpoint, bit-identically */
    int stop_after_epoch;    /* > 0: stop after this (1-based) epoch as if interrupted;
                                schedule and checkpoint still follow `epochs` */
    /* Data-parallel training (docs/scaling.md): NULL or a communicator of size 1 = one
     * process. With N ranks every rank calls sn_train with the same arguments; each
     * takes its share of every global batch (batch_size stays the GLOBAL batch), the
     * gradients are summed over the ranks, and every rank steps identically. Rank 0
     * alone writes the log and checkpoints and computes the test loss. */
    sn_comm *comm;
    /* 1: synchronized batch norm: with several ranks every BN layer normalises (in
     * training) with the statistics of the whole global batch, all-reduced in forward and
     * backward, so results do not depend on the number of ranks; 0 (default): each rank's
     * own rows. One process: the same either way. Part of the checkpoint configuration. */
    int sync_bn;
    /* Proxy losses (normsoftmax, cosface, arcface): label smoothing of the class targets,
     * q = (1 - ls) one-hot + ls / C (torch CrossEntropyLoss(label_smoothing=ls)); 0 = off. */
    float label_smoothing;
    /* Batch-norm parameters step with lr * bn_lr_scale and weight decay / bn_lr_scale
     * (the decay per step is unchanged); 0 = 1. `whiten` weights and the scale of `bn 1`
     * layers are always frozen. */
    float bn_lr_scale;
    /* > 0: lookahead every `lookahead` steps (Zhang et al. 2019, in airbench's form): slow
     * weights s = d s + (1 - d) p, then p = s, with d = 0.95^k (step / total)^3 rising from
     * 0; the final model is s. Uses the EMA slab; excludes ema_decay. */
    int lookahead;
} sn_train_config;

SN_API void sn_train_config_default(sn_train_config *cfg);

/* Train m on `train` pairs (contrastive) or P x K batches (the other losses); `test`
 * (may be NULL) gives the per-epoch test loss on a fixed set of pairs / batches. With
 * cfg->resume_path the run continues from that checkpoint (refused, naming the field,
 * if the checkpoint's configuration differs). Stops with SN_ERR_NUMERIC on a NaN/Inf
 * loss or gradient; warns (log) when the embeddings collapse. Records the recipe in the
 * model's metadata (loss, margin, ...). */
SN_API sn_status sn_train(sn_ctx *ctx, sn_model *m, const sn_dataset *train, const sn_dataset *test,
                   const sn_train_config *cfg);

/* ------------------------------------------------------------ evaluation */
/* What sn_evaluate computes (docs/metrics.md has every definition). */
typedef struct {
    int n_pairs;        /* balanced verification pairs (default 10000) */
    uint64_t seed;      /* pairs, k-means, episodes (default 12345) */
    int knn_k;          /* k of knn_accuracy (default 1) */
    int reference;      /* retrieval references: 0 = the test set itself, self excluded
                           (default); 1 = the reference set (e.g. train) */
    int episodes;       /* few-shot episodes per setting (default 1000; 0 = skip) */
    int n_way, n_query; /* few-shot: classes per episode (5), queries per class (15) */
    int clustering;     /* 1 = k-means NMI/AMI (default 1) */
    int open_set;       /* 1 = open-set identification: the first half of the classes
                           are enrolled from the reference set, test images of the
                           other half are unknowns to reject (dir_at_far) */
    int dba_k;          /* > 1: the retrieval metrics (precision@1, recall@k, R-precision,
                           MAP@R) rank database-side augmented embeddings: each query and
                           reference is the mean of itself and its dba_k - 1 nearest
                           references (unit norm kept; docs/metrics.md). 0 = off (default) */
} sn_eval_opts;

SN_API void sn_eval_opts_default(sn_eval_opts *o);

typedef struct {
    /* verification over balanced random pairs */
    int n_pairs;
    double roc_auc, eer, tar_at_far_1e2, tar_at_far_1e3;
    double verification_accuracy; /* at the model's stored threshold (NaN if none) */
    double best_threshold;        /* threshold maximising pair accuracy on these pairs */
    double best_accuracy;
    /* retrieval */
    double precision_at_1, recall_at_1, recall_at_5, recall_at_10;
    double r_precision, mean_average_precision_at_r;
    /* clustering (k-means, k = number of classes) */
    double nmi, ami;
    /* classification: k-NN of test against the reference set */
    double knn_accuracy;
    /* few-shot: n_way-way 1-shot and 5-shot, mean accuracy and 95 % CI half-width */
    double fewshot_1shot, fewshot_1shot_ci95, fewshot_5shot, fewshot_5shot_ci95;
    /* open set (NaN unless opts.open_set): detection-and-identification rate at FAR 1e-2 */
    double dir_at_far_1e2;
    double seconds;
} sn_eval_result;

/* Evaluate m on `test`; `ref` (may be NULL: knn, reference retrieval and open set are
 * NaN) is the reference set, e.g. the train split. */
SN_API sn_status sn_evaluate(sn_ctx *ctx, sn_model *m, const sn_dataset *test, const sn_dataset *ref,
                             const sn_eval_opts *opts, sn_eval_result *out);
/* The same metrics from given embeddings: emb (test->n, dim), remb (ref->n, dim) or NULL;
 * threshold for verification_accuracy (0: NaN). Used for baselines such as raw pixels. */
SN_API sn_status sn_evaluate_embeddings(sn_ctx *ctx, const float *emb, const sn_dataset *test,
                                        const float *remb, const sn_dataset *ref, int dim,
                                        float threshold, const sn_eval_opts *opts,
                                        sn_eval_result *out);
/* Baseline "embedding": the normalised pixels themselves, out (ds->n, C*H*W) with the
 * model's normalisation. */
SN_API sn_status sn_embed_raw_pixels(sn_ctx *ctx, const sn_model *m, const sn_dataset *ds,
                                     float *out);
/* A new model with m's architecture and input normalisation, freshly initialised with
 * seed (the "untrained network" baseline). */
SN_API sn_status sn_model_clone_untrained(sn_ctx *ctx, const sn_model *m, uint64_t seed,
                                          sn_model **out);
/* Learned (within-class) whitening of m's embedding, fitted on the labelled images of ds
 * (a training split; never the test split): *out = m's network followed by `linear D`
 * and `l2norm`, embedding l2norm(W (e - mu)) with mu the mean embedding of ds and
 * W = S^(-1/2), S = (1 - shrink) Sw + shrink (tr(Sw) / D) I, Sw the within-class
 * covariance (docs/training.md). When m's embedding is not L2-normalised, an l2norm is
 * inserted first (e is the normalised embedding). Weights, buffers, precision and
 * metadata are copied (plus "embed_whiten"); the threshold and operating points are not
 * (distances change: recalibrate). m is not modified. */
SN_API sn_status sn_model_embed_whiten(sn_ctx *ctx, sn_model *m, const sn_dataset *ds,
                                       float shrink, sn_model **out);

/* Calibrate an operating point on n_pairs balanced pairs of `val` (a validation split,
 * never the test split). target:
 *   "far=X"        largest threshold whose false accept rate is <= X (0 < X < 1)
 *   "precision=X"  largest threshold whose precision (same among accepted) is >= X
 *   "f1"           threshold maximising F1 of the "same" decision
 *   "accuracy"     threshold maximising pair accuracy
 * Thresholds lie midway between neighbouring distinct distances. */
SN_API sn_status sn_calibrate(sn_ctx *ctx, sn_model *m, const sn_dataset *val, int n_pairs,
                              uint64_t seed, const char *target, sn_operating_point *out);
/* Rates of a threshold on n pairs (dist, same): fills far, tar, precision, f1, accuracy. */
SN_API void sn_operating_point_measure(const float *dist, const uint8_t *same, int n,
                                       sn_operating_point *op);
/* Embed dataset pairs and return their distances: n_pairs balanced pairs drawn with seed
 * (anchors without replacement); dist, same: (n_pairs). */
SN_API sn_status sn_pair_distances(sn_ctx *ctx, sn_model *m, const sn_dataset *ds, int n_pairs,
                                   uint64_t seed, float *dist, uint8_t *same);

/* Threshold that maximises pair accuracy on a (validation) dataset. */
SN_API sn_status sn_calibrate_threshold(sn_ctx *ctx, sn_model *m, const sn_dataset *val, int n_pairs,
                                 uint64_t seed, float *threshold);

/* --------------------------------------------------------------- gallery */
/* Model fingerprint: lowercase hex SHA-256 (64 chars + NUL) over the architecture spec,
 * the input shape, the input normalisation, every parameter (little-endian float32) and
 * the test-time augmentation when there is one. Thresholds, operating points and
 * metadata are not included: calibrating a model keeps
 * its fingerprint, retraining changes it. */
#define SN_FINGERPRINT_LEN 65
SN_API sn_status sn_model_fingerprint(sn_ctx *ctx, const sn_model *m, char out[SN_FINGERPRINT_LEN]);

/* A gallery: labelled embeddings of one model in a SQLite database (docs/gallery.md),
 * searched without retraining. Opaque handle; one thread at a time. */
typedef struct sn_gallery sn_gallery;

/* Create a new gallery file for model m (refused if path exists). model_path (may be
 * NULL) is recorded so that tools can default to it. */
SN_API sn_status sn_gallery_create(sn_ctx *ctx, const char *path, const sn_model *m,
                                   const char *model_path, sn_gallery **out);
/* Open an existing gallery; checks the file is a simnet gallery and its schema version. */
SN_API sn_status sn_gallery_open(sn_ctx *ctx, const char *path, sn_gallery **out);
SN_API void sn_gallery_close(sn_gallery *g);
/* The recorded model fingerprint (64 hex chars) and model path ("" if none). */
SN_API const char *sn_gallery_fingerprint(const sn_gallery *g);
SN_API const char *sn_gallery_model_path(const sn_gallery *g);
SN_API int sn_gallery_dim(const sn_gallery *g);
/* SN_ERR_ARG, naming both fingerprints (short forms), unless m is the gallery's model. */
SN_API sn_status sn_gallery_check_model(sn_ctx *ctx, const sn_gallery *g, const sn_model *m);

/* Enroll n embeddings emb (n, dim), entry i under labels[i] with source path sources[i]
 * (sources may be NULL), all in ONE transaction: after a crash either all n are present
 * or none. Labels: 1..255 bytes, no control characters. */
SN_API sn_status sn_gallery_enroll(sn_ctx *ctx, sn_gallery *g, int n, const char *const *labels,
                                   const float *emb, const char *const *sources);
/* Embed n images (n, c, h, w) with m (checked against the fingerprint) and enroll them. */
SN_API sn_status sn_gallery_enroll_images(sn_ctx *ctx, sn_gallery *g, sn_model *m, int n,
                                          const char *const *labels, const uint8_t *pixels,
                                          const char *const *sources);
/* Delete every entry of label; *removed (may be NULL) = how many. */
SN_API sn_status sn_gallery_remove(sn_ctx *ctx, sn_gallery *g, const char *label, long long *removed);
/* Labels in byte order with their entry counts: fn(user, label, count) per label. */
SN_API sn_status sn_gallery_list(sn_ctx *ctx, sn_gallery *g,
                                 void (*fn)(void *user, const char *label, long long count),
                                 void *user);

typedef struct {
    long long n_entries;
    int n_labels;
    int dim;
    int schema_version;
    char fingerprint[SN_FINGERPRINT_LEN];
    char model_path[1024];
    double created;          /* unix time of sn_gallery_create */
    long long file_bytes;    /* database file + write-ahead log */
} sn_gallery_stats;
SN_API sn_status sn_gallery_stats_get(sn_ctx *ctx, sn_gallery *g, sn_gallery_stats *out);
/* Consistency check: SQLite's PRAGMA integrity_check, then every entry's embedding size
 * and label. SN_ERR_FORMAT naming the first problem. */
SN_API sn_status sn_gallery_verify(sn_ctx *ctx, sn_gallery *g);

/* Search options; zero-initialise, then set what you need. */
enum { SN_GALLERY_EXACT = 0, SN_GALLERY_IVF = 1 };
typedef struct {
    int k;            /* neighbours per query (0: 5) */
    float threshold;  /* accept the nearest entry iff its distance <= threshold;
                         0 = uncalibrated: no decision (decision[q] = -1) */
    int index;        /* SN_GALLERY_EXACT (default): GEMM + k-heap over every entry;
                         SN_GALLERY_IVF: approximate inverted-file index (k-means lists) */
    int nlist;        /* IVF lists (0: sqrt(n)) */
    int nprobe;       /* IVF lists scanned per query (0: 16) */
} sn_gallery_search_opts;

typedef struct {
    long long entry;  /* entry id, -1 for an empty slot (gallery smaller than k) */
    const char *label;/* valid until the gallery is changed or closed */
    float distance;   /* Euclidean */
} sn_gallery_hit;

/* Top-k of each query q (nq, dim), nearest first (exact ties: by label, then entry id) into
 * hits (nq, k); decision[q] (may be NULL) = 1 accepted (hits[q*k] is the identity),
 * 0 unknown (nothing within the threshold, or empty gallery), -1 uncalibrated. The
 * embedding matrix is loaded from the database on the first search, and again after a
 * change (through this handle or committed by another process). */
SN_API sn_status sn_gallery_search(sn_ctx *ctx, sn_gallery *g, const float *queries, int nq,
                                   const sn_gallery_search_opts *opts, sn_gallery_hit *hits,
                                   int *decision);
/* Embed n images with m (checked against the fingerprint), then sn_gallery_search. */
SN_API sn_status sn_gallery_search_images(sn_ctx *ctx, sn_gallery *g, sn_model *m,
                                          const uint8_t *pixels, int n,
                                          const sn_gallery_search_opts *opts, sn_gallery_hit *hits,
                                          int *decision);

/* Open-set enrollment protocol (docs/gallery.md): of test's classes, the first
 * n_known (0: 3/4 rounded down, at least 1) are enrolled with `shots` seeded images
 * each and the rest of their images are queries; every image of the remaining classes
 * is an unknown query to reject. Decision at threshold (0: uncalibrated, rejection NaN). */
typedef struct {
    int shots;                  /* K images enrolled per known class */
    int n_known, n_unknown;     /* classes */
    int n_enrolled, n_queries_known, n_queries_unknown;
    double rank1_accuracy;      /* nearest entry's label == truth, known queries */
    double identification_rate; /* accepted AND correct, known queries (DIR at the threshold) */
    double false_reject_rate;   /* known queries rejected */
    double unknown_rejection;   /* unknown queries rejected (NaN: no unknowns / threshold) */
    double seconds;
} sn_enroll_result;
SN_API sn_status sn_eval_enroll(sn_ctx *ctx, sn_model *m, const sn_dataset *test, int shots,
                                int n_known, float threshold, uint64_t seed, sn_enroll_result *out);

#ifdef __cplusplus
}
#endif
#endif
