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

/* Read one image file (PNG, JPEG, PGM/PPM) and convert it to c x h x w uint8
 * (grey = ITU-R 601 luma; resize = area average when shrinking, bilinear when
 * enlarging). */
SN_API sn_status sn_image_load(sn_ctx *ctx, const char *path, int c, int h, int w, uint8_t *out);

/* ----------------------------------------------------------------- model */
typedef struct sn_model sn_model;

typedef struct {
    const char *arch;      /* "seed" */
    int in_c, in_h, in_w;  /* input image shape */
    float mean[3], std[3]; /* per-channel normalisation of x/255 */
    uint64_t seed;         /* initialisation seed */
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

/* Free-form training metadata (key/value strings, kept in the model file). */
SN_API sn_status sn_model_meta_set(sn_ctx *ctx, sn_model *m, const char *key, const char *value);
SN_API const char *sn_model_meta_get(const sn_model *m, const char *key);
SN_API int sn_model_meta_count(const sn_model *m);
SN_API const char *sn_model_meta_key(const sn_model *m, int i);
/* One line per layer into buf (always NUL-terminated). */
SN_API void sn_model_describe(const sn_model *m, char *buf, size_t cap);

/* Embed n uint8 images (n, c, h, w) in eval mode -> out (n, embed_dim). */
SN_API sn_status sn_model_embed(sn_ctx *ctx, sn_model *m, const uint8_t *pixels, int n, float *out);

/* Similarity score in [0,1] from a distance d and threshold t:
 *   s = 1 / (1 + (d/t)^2)        (t > 0; s = 0.5 exactly at the threshold)
 *   s = 1 / (1 + d^2)            (t == 0, uncalibrated)                          */
SN_API double sn_similarity_score(double d, double t);

/* -------------------------------------------------------------- training */
typedef struct {
    int epoch;            /* 1-based */
    int epochs;
    long step;            /* global step, 1-based */
    long steps_per_epoch;
    long total_steps;
    double loss;          /* running mean of the epoch's train loss */
    double pairs_per_s;
} sn_train_progress;

typedef struct {
    int epoch;
    double train_loss;
    double test_loss;     /* NaN when no test set */
    double seconds;
} sn_epoch_result;

typedef struct {
    const char *loss;       /* "contrastive" */
    float margin;           /* contrastive margin, default 5 */
    const char *optimizer;  /* "adam" (default) or "sgd" */
    float lr;               /* default 1e-3 */
    float momentum;         /* sgd, default 0.9 */
    float weight_decay;     /* L2 (added to the gradient), default 0 */
    int epochs;             /* default 1 */
    int batch_size;         /* pairs per step, default 128 (2x images per step) */
    long max_steps;         /* stop after this many steps (0 = no limit) */
    uint64_t seed;          /* pair sampling seed */
    const char *log_path;   /* JSON-lines log (NULL = none) */
    /* Augmentation of training images (deterministic for a given seed):
     * random crop after zero-padding by aug_crop_pad pixels, random horizontal flip,
     * random erasing with probability aug_erase. */
    int aug_crop_pad;
    int aug_flip;
    float aug_erase;
    int no_prefetch;        /* 1: prepare batches on the training thread (default: a loader
                               thread prepares the next batch while the current one runs) */
    /* Called every step (may be NULL). */
    void (*on_progress)(void *user, const sn_train_progress *p);
    /* Called after each epoch (may be NULL). */
    void (*on_epoch)(void *user, const sn_epoch_result *r);
    void *user;
} sn_train_config;

SN_API void sn_train_config_default(sn_train_config *cfg);

/* Train m on `train` pairs; `test` (may be NULL) gives the per-epoch test loss on a
 * fixed set of pairs. */
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

#ifdef __cplusplus
}
#endif
#endif
