/* cmd_train.c -- simnet train: train a Siamese model on pairs, calibrate, save. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int tty, quiet;
    double t_start, last_print;
} progress_state;

static void on_progress(void *user, const sn_train_progress *p) {
    progress_state *ps = user;
    if (ps->quiet) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    if (ps->t_start == 0) ps->t_start = now;
    int last = p->step == p->total_steps;
    double interval = ps->tty ? 0.25 : 10.0;
    if (!last && now - ps->last_print < interval && p->step != 1) return;
    ps->last_print = now;
    double el = now - ps->t_start, rate = el > 0 ? (double)p->step / el : 0;
    double eta = rate > 0 ? (double)(p->total_steps - p->step) / rate : 0;
    double pct = 100.0 * (double)p->step / (double)p->total_steps;
    if (ps->tty) {
        int w = 24, fill = (int)(pct / 100.0 * w);
        char bar[32];
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = 0;
        fprintf(stderr, "\r[%s] %5.1f%%  epoch %d/%d  %6.1f it/s  ETA %4.0fs  loss %.4f   ", bar, pct,
                p->epoch, p->epochs, rate, eta, p->loss);
        if (last) fputc('\n', stderr);
    } else {
        fprintf(stderr, "step %ld/%ld (%.1f%%) epoch %d/%d  %.1f it/s  %.0f pairs/s  ETA %.0fs  loss %.4f\n",
                p->step, p->total_steps, pct, p->epoch, p->epochs, rate, p->pairs_per_s, eta, p->loss);
    }
    fflush(stderr);
}

static void on_epoch(void *user, const sn_epoch_result *r) {
    progress_state *ps = user;
    if (ps->tty && !ps->quiet) fputc('\n', stderr);
    printf("epoch %3d  train_loss %.4f  test_loss %.4f  %.1fs  active %.3f  d_pos %.3g  d_neg %.3g  "
           "norm %.3g  lr %.3g\n", r->epoch, r->train_loss, r->test_loss, r->seconds,
           r->active_fraction, r->mean_pos_dist, r->mean_neg_dist, r->mean_embed_norm, r->lr);
    fflush(stdout);
}

static int train_run(int argc, char **argv) {
    const char *preset_unused = NULL, *precision = NULL;
    const char *arch = "seed", *out = NULL, *log_path = NULL, *image_size = NULL, *figures = NULL;
    cli_data_args da = {cli_default_data_dir(), "mnist", NULL, NULL};
    int threads = 0, val_size = 2000, quiet = 0, calib_pairs = 10000, channels = 0;
    int embed_dim = 0, l2_normalize = 0;
    float comm_timeout = 0;
    float width = 0;
    float val_fraction = -1;
    float embed_whiten = -1;
    const char *label_aug = NULL;
    const char *tta = NULL;
    sn_train_config cfg;
    sn_train_config_default(&cfg);
    const cli_opt opts[] = {
        {"preset", OPT_STR, &preset_unused, "a measured recipe: mnist | mnist-open | fashion-mnist | cifar10 (--preset list shows them; later options override)"},
        {"data", OPT_STR, &da.dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"dataset", OPT_STR, &da.dataset, "mnist | fashion-mnist | cifar10 | cifar100 | folder:PATH (default mnist)"},
        {"label", OPT_STR, &da.label, "cifar100 labels: fine (default) | coarse"},
        {"classes", OPT_STR, &da.classes, "train on these classes only, e.g. 0-4 or 5,7,9"},
        {"image-size", OPT_STR, &image_size, "folder datasets: HxW images are resized to (default 32x32)"},
        {"channels", OPT_INT, &channels, "folder datasets: 1 (grey) or 3 (RGB, default)"},
        {"arch", OPT_STR, &arch, "seed | seed-relu | resnet | airbench, or a text spec (default seed; docs/architectures.md)"},
        {"embed-dim", OPT_INT, &embed_dim, "embedding size (default: seed 2, seed-relu and resnet 128)"},
        {"width", OPT_FLOAT, &width, "resnet channel width multiplier, e.g. 0.25, 0.5 (default 1)"},
        {"l2-normalize", OPT_FLAG, &l2_normalize, "L2-normalise the embedding (append an l2norm layer)"},
        {"loss", OPT_STR, &cfg.loss, "contrastive (default, pairs) | contrastive-pn | triplet | multisim | supcon | ntxent | normsoftmax | cosface | arcface | softmax | angular | triplet-bc | triplet-curriculum (P x K batches; docs/training.md)"},
        {"margin", OPT_FLOAT, &cfg.margin, "loss margin (default per loss: contrastive 5, triplet 0.2, ...)"},
        {"miner", OPT_STR, &cfg.miner, "triplet: all (default) | hard | semihard"},
        {"distance", OPT_STR, &cfg.distance, "batch losses: euclidean (default) | sqeuclidean | cosine"},
        {"pos-margin", OPT_FLOAT, &cfg.pos_margin, "contrastive-pn: positive margin (default 0)"},
        {"temperature", OPT_FLOAT, &cfg.temperature, "supcon (0.1) / ntxent (0.07) temperature"},
        {"label-smoothing", OPT_FLOAT, &cfg.label_smoothing, "proxy losses: label smoothing of the class targets (0.1)"},
        {"scale", OPT_FLOAT, &cfg.scale, "proxy losses: logit scale (normsoftmax 20, cosface/arcface 64, softmax 1)"},
        {"angle", OPT_FLOAT, &cfg.angle_deg, "angular loss: alpha in degrees (default 40)"},
        {"curriculum", OPT_FLOAT, &cfg.curriculum, "triplet: negatives from easy to hard over this fraction of training, e.g. 0.6"},
        {"classes-per-batch", OPT_INT, &cfg.classes_per_batch, "P x K batches: P classes (default min(classes, 16))"},
        {"per-class", OPT_INT, &cfg.per_class, "P x K batches: K images per class (default 4)"},
        {"optimizer", OPT_STR, &cfg.optimizer, "adam | adamw | sgd (default adam)"},
        {"lr", OPT_FLOAT, &cfg.lr, "learning rate (default 1e-3)"},
        {"momentum", OPT_FLOAT, &cfg.momentum, "SGD momentum (default 0.9)"},
        {"nesterov", OPT_FLAG, &cfg.nesterov, "SGD: Nesterov momentum"},
        {"weight-decay", OPT_FLOAT, &cfg.weight_decay, "weight decay (default 0; adam/sgd: L2, adamw: decoupled)"},
        {"schedule", OPT_STR, &cfg.schedule, "LR schedule: constant (default) | step | cosine | onecycle | triangle"},
        {"warmup-epochs", OPT_FLOAT, &cfg.warmup_epochs, "linear LR warm-up, fractional epochs allowed (default 0)"},
        {"lr-step-epochs", OPT_INT, &cfg.lr_step_epochs, "step schedule: every N epochs (default 1)"},
        {"lr-gamma", OPT_FLOAT, &cfg.lr_gamma, "step schedule: LR factor (default 0.1)"},
        {"ema", OPT_FLOAT, &cfg.ema_decay, "keep an EMA of the weights with this decay, e.g. 0.999 (saved model uses it)"},
        {"lookahead", OPT_INT, &cfg.lookahead, "lookahead every N steps: slow weights with a decay rising as (step/total)^3 (airbench; not with --ema)"},
        {"bn-lr-scale", OPT_FLOAT, &cfg.bn_lr_scale, "batch-norm parameters: LR x F, weight decay / F (default 1)"},
        {"clip-grad-norm", OPT_FLOAT, &cfg.clip_grad_norm, "clip the global gradient L2 norm (default off)"},
        {"checkpoint", OPT_STR, &cfg.checkpoint_path, "write a checkpoint to PATH after every epoch"},
        {"resume", OPT_STR, &cfg.resume_path, "continue from a checkpoint (same options as the interrupted run)"},
        {"stop-after-epoch", OPT_INT, &cfg.stop_after_epoch, "stop after epoch N as if interrupted (resume later)"},
        {"epochs", OPT_INT, &cfg.epochs, "epochs (default 1)"},
        {"batch-size", OPT_INT, &cfg.batch_size, "pairs per step (default 128)"},
        {"max-steps", OPT_LONG, &cfg.max_steps, "stop after N steps (default: no limit)"},
        {"seed", OPT_U64, &cfg.seed, "seed for initialisation and sampling (default 1)"},
        {"val-size", OPT_INT, &val_size, "train images held out to calibrate the threshold (default 2000)"},
        {"val-fraction", OPT_FLOAT, &val_fraction, "hold out this fraction of train instead of --val-size"},
        {"crop-pad", OPT_INT, &cfg.aug_crop_pad, "augment: random crop after zero-padding N pixels (default 0)"},
        {"flip", OPT_FLAG, &cfg.aug_flip, "augment: random horizontal flip (not for digits)"},
        {"erase", OPT_FLOAT, &cfg.aug_erase, "augment: random erasing with probability P (default 0)"},
        {"rotate", OPT_FLOAT, &cfg.aug_rotate, "augment: random turn in [-DEG, DEG] degrees (bilinear; default 0)"},
        {"zoom", OPT_FLOAT, &cfg.aug_zoom, "augment: random scale in [1-X, 1+X] (bilinear; default 0)"},
        {"embed-whiten", OPT_FLOAT, &embed_whiten, "after training, whiten the embedding by its within-class covariance on the training split, shrunk by S in [0, 1] toward a multiple of I (e.g. 0.1; an embedding that is not L2-normalised is normalised first; docs/training.md)"},
        {"tta", OPT_STR, &tta, "after training, embed with test-time augmentation: flip | shiftN (N = 1..4) | flip+shiftN, the mean embedding over the views (threshold calibrated with it; docs/training.md)"},
        {"label-augment", OPT_STR, &label_aug, "train on transformed copies as new classes: rot2 | rot4 | rot8 | flip | d4 | d8 (d4: 8 = mirror x quarter turns, d8: 16 = mirror x eighth turns; for few-class open-set training)"},
        {"no-prefetch", OPT_FLAG, &cfg.no_prefetch, "prepare batches on the training thread"},
        {"precision", OPT_STR, &precision, "fp32 (default) | bf16: bf16 convolutions (AVX512-BF16 when the CPU has it), fp32 accumulation and master weights | auto: bf16 where a 15 ms probe measures its dot product at >= 1.5x the fp32 FMA rate, else fp32"},
        {"threads", OPT_INT, &threads, "threads (default: all cores; under mpirun: the cores / the ranks on the node)"},
        {"comm-timeout", OPT_FLOAT, &comm_timeout, "mpirun: seconds a rank waits for the others before failing the job (default 300)"},
        {"sync-bn", OPT_FLAG, &cfg.sync_bn, "mpirun: synchronized batch norm, statistics of the whole global batch (default: each rank's own rows)"},
        {"out", OPT_STR, &out, "model file to write (required)"},
        {"log", OPT_STR, &log_path, "JSON-lines log (default MODEL.log.jsonl)"},
        {"figures", OPT_STR, &figures, "also draw the figures (PNG) into DIR"},
        {"quiet", OPT_FLAG, &quiet, "no progress output"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos;
    int r = cli_parse("train", argc, argv, opts, nopts, pos, 0, &npos);
    if (r == -1) {
        cli_print_help("train", "--out MODEL [options]", opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (!out) {
        fprintf(stderr, "simnet train: --out MODEL is required\n");
        return CLI_USAGE;
    }
    if (threads < 0 || val_size < 0) {
        fprintf(stderr, "simnet train: --threads and --val-size must be >= 0\n");
        return CLI_USAGE;
    }
    int ih = 0, iw = 0;
    if (image_size && (sscanf(image_size, "%dx%d", &ih, &iw) != 2 || ih < 1 || iw < 1 || ih > 4096 ||
                       iw > 4096)) {
        fprintf(stderr, "simnet train: --image-size %s: expected HxW, e.g. 64x64\n", image_size);
        return CLI_USAGE;
    }
    if ((image_size || channels) && strncmp(da.dataset, "folder:", 7) != 0) {
        fprintf(stderr, "simnet train: %s applies to folder datasets only; --dataset %s has a "
                        "fixed image shape\n", image_size ? "--image-size" : "--channels", da.dataset);
        return CLI_USAGE;
    }
    if (channels != 0 && channels != 1 && channels != 3) {
        fprintf(stderr, "simnet train: --channels %d: expected 1 or 3\n", channels);
        return CLI_USAGE;
    }
    if (embed_whiten != -1 && !(embed_whiten >= 0 && embed_whiten <= 1)) {
        fprintf(stderr, "simnet train: --embed-whiten %g: the shrinkage must be in [0, 1]\n",
                (double)embed_whiten);
        return CLI_USAGE;
    }
    if (val_fraction != -1 && !(val_fraction >= 0 && val_fraction < 1)) {
        fprintf(stderr, "simnet train: --val-fraction must be in [0, 1)\n");
        return CLI_USAGE;
    }
    /* under mpirun: share the node's cores among its ranks unless --threads says */
    const char *local_ranks = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (threads == 0 && local_ranks && atoi(local_ranks) > 1) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > atoi(local_ranks) ? (int)(cores / atoi(local_ranks)) : 1;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_ctx_set_log(ctx, cli_log_stderr, &quiet);
    /* one process, or one rank of `mpirun -np N simnet train` (docs/scaling.md) */
    sn_comm *comm = NULL;
    sn_status cst = sn_comm_create(ctx, NULL, NULL, &comm);
    if (cst) {
        r = cli_fail("train", ctx, cst);
        sn_ctx_free(ctx);
        return r;
    }
    const int rank = sn_comm_rank(comm), ranks = sn_comm_size(comm);
    if (comm_timeout > 0) sn_comm_set_timeout(comm, comm_timeout);
    if (rank != 0) quiet = 1; /* rank 0 alone prints, logs and saves */
    cfg.comm = comm;
    sn_dataset *full = NULL, *train = NULL, *val = NULL, *test = NULL;
    sn_dataset *ltrain = NULL, *ltest = NULL; /* --label-augment: what sn_train sees */
    sn_model *m = NULL;
    char *logbuf = NULL;
    sn_status st = cli_open_split(ctx, &da, "train", channels, ih, iw, &full);
    if (!st) st = cli_open_split(ctx, &da, "test", channels, ih, iw, &test);
    if (!st && val_fraction >= 0) val_size = (int)(val_fraction * full->n + 0.5);
    if (!st && val_size >= full->n) {
        fprintf(stderr, "simnet train: --val-size %d must be smaller than the %d training images\n",
                val_size, full->n);
        r = CLI_USAGE;
        goto done;
    }
    if (!st) st = sn_dataset_split(ctx, full, val_size, CLI_VAL_SPLIT_SEED, &train, &val);
    /* the validation split (threshold) and the figures keep the real classes */
    if (!st && label_aug) st = sn_dataset_label_augment(ctx, train, label_aug, &ltrain);
    if (!st && label_aug) st = sn_dataset_label_augment(ctx, test, label_aug, &ltest);
    if (st) {
        r = cli_fail("train", ctx, st);
        goto done;
    }
    float mean[3], sd[3];
    cli_dataset_norm(train, mean, sd);
    sn_model_config mc = {arch, full->c, full->h, full->w, {mean[0], mean[1], mean[2]},
                          {sd[0], sd[1], sd[2]}, cfg.seed, embed_dim, width, l2_normalize};
    st = sn_model_create(ctx, &mc, &m);
    if (!st && precision) st = sn_model_set_precision(ctx, m, precision);
    if (!st && label_aug) st = sn_model_meta_set(ctx, m, "label_augment", label_aug);
    /* --tta is checked now (not after the training run) and applied after training */
    if (!st && tta && !(st = sn_model_set_tta(ctx, m, tta))) st = sn_model_set_tta(ctx, m, "none");
    if (st) {
        r = cli_fail("train", ctx, st);
        goto done;
    }
    if (!cli_mkdirs_for(out)) {
        fprintf(stderr, "simnet train: cannot create the directory of %s\n", out);
        r = CLI_FAIL;
        goto done;
    }
    if (!log_path) {
        size_t n = strlen(out) + 16;
        logbuf = malloc(n);
        if (!logbuf) {
            r = CLI_FAIL;
            goto done;
        }
        snprintf(logbuf, n, "%s.log.jsonl", out);
        log_path = logbuf;
    }
    cfg.log_path = log_path;
    progress_state ps = {isatty(STDERR_FILENO), quiet, 0, 0};
    cfg.on_progress = on_progress;
    cfg.on_epoch = on_epoch;
    cfg.user = &ps;
    if (rank != 0) cfg.on_progress = NULL, cfg.on_epoch = NULL;
    if (!quiet && ranks > 1)
        fprintf(stderr, "simnet train: %s %s, %d train / %d val / %d test images, %zu parameters, "
                        "%d ranks (%s) x %d threads, global batch %d\n", da.dataset, arch, train->n,
                val->n, test->n, sn_model_param_count(m), ranks, sn_comm_backend(comm),
                sn_ctx_threads(ctx), cfg.batch_size);
    else if (!quiet)
        fprintf(stderr, "simnet train: %s %s, %d train / %d val / %d test images, %zu parameters, "
                        "%d threads\n", da.dataset, arch, train->n, val->n, test->n,
                sn_model_param_count(m), sn_ctx_threads(ctx));
    if (!quiet && ltrain)
        fprintf(stderr, "simnet train: --label-augment %s: training on %d images of %d classes\n",
                label_aug, ltrain->n, ltrain->n_classes);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = sn_train(ctx, m, ltrain ? ltrain : train, ltest ? ltest : test, &cfg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st) {
        r = cli_fail("train", ctx, st);
        goto done;
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (rank != 0) { /* the model is rank 0's to calibrate and save */
        r = CLI_OK;
        goto done;
    }
    if (embed_whiten >= 0) {
        sn_model *w = NULL;
        const sn_dataset *fit = ltrain ? ltrain : train; /* the classes it was trained on */
        st = sn_model_embed_whiten(ctx, m, fit, embed_whiten, &w);
        if (st) {
            r = cli_fail("train", ctx, st);
            goto done;
        }
        sn_model_free(m);
        m = w;
        if (!quiet)
            fprintf(stderr, "simnet train: embedding whitened (%s)\n", sn_model_meta_get(m, "embed_whiten"));
    }
    if (tta && (st = sn_model_set_tta(ctx, m, tta))) {
        r = cli_fail("train", ctx, st);
        goto done;
    }
    float thr = 0;
    if (val->n >= 2) {
        st = sn_calibrate_threshold(ctx, m, val, calib_pairs, CLI_THRESHOLD_SEED, &thr);
        if (st) {
            r = cli_fail("train", ctx, st);
            goto done;
        }
        sn_model_set_threshold(m, thr);
    }
    char v[128];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(v, sizeof v, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    sn_model_meta_set(ctx, m, "trained_at", v);
    sn_model_meta_set(ctx, m, "simnet_version", SN_VERSION_STRING);
    sn_model_meta_set(ctx, m, "dataset", da.dataset);
    if (da.label) sn_model_meta_set(ctx, m, "label", da.label);
    if (da.classes) sn_model_meta_set(ctx, m, "classes", da.classes);
    sn_model_meta_set(ctx, m, "optimizer", cfg.optimizer);
    snprintf(v, sizeof v, "%g", (double)cfg.lr);
    sn_model_meta_set(ctx, m, "lr", v);
    snprintf(v, sizeof v, "%d", cfg.epochs);
    sn_model_meta_set(ctx, m, "epochs", v);
    snprintf(v, sizeof v, "%d", cfg.batch_size);
    sn_model_meta_set(ctx, m, "batch_size", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)cfg.seed);
    sn_model_meta_set(ctx, m, "seed", v);
    snprintf(v, sizeof v, "%ld", cfg.max_steps);
    sn_model_meta_set(ctx, m, "max_steps", v);
    snprintf(v, sizeof v, "%d", val->n);
    sn_model_meta_set(ctx, m, "val_size", v);
    snprintf(v, sizeof v, "%.1f", secs);
    sn_model_meta_set(ctx, m, "train_seconds", v);
    snprintf(v, sizeof v, "%d", sn_ctx_threads(ctx));
    sn_model_meta_set(ctx, m, "threads", v);
    if (ranks > 1) {
        snprintf(v, sizeof v, "%d", ranks);
        sn_model_meta_set(ctx, m, "ranks", v);
        sn_model_meta_set(ctx, m, "batchnorm", cfg.sync_bn ? "synchronized" : "per-rank");
    }
    int vn = snprintf(v, sizeof v, "crop_pad=%d flip=%d erase=%g", cfg.aug_crop_pad, cfg.aug_flip,
                      (double)cfg.aug_erase);
    if ((cfg.aug_rotate != 0 || cfg.aug_zoom != 0) && vn > 0 && (size_t)vn < sizeof v)
        snprintf(v + vn, sizeof v - (size_t)vn, " rotate=%g zoom=%g", (double)cfg.aug_rotate,
                 (double)cfg.aug_zoom);
    sn_model_meta_set(ctx, m, "augment", v);
    if (label_aug) sn_model_meta_set(ctx, m, "label_augment", label_aug);
    sn_model_meta_set(ctx, m, "threshold_source", val->n >= 2 ? CLI_THRESHOLD_SOURCE : "none");
    st = sn_model_save(ctx, m, out);
    if (st) {
        r = cli_fail("train", ctx, st);
        goto done;
    }
    printf("saved %s (threshold %.4f, %.1f s of training)\n", out, (double)thr, secs);
    if (figures && (r = cli_write_figures(ctx, m, out, test, log_path, figures)) != CLI_OK) goto done;
    r = CLI_OK;
done:
    if (r != CLI_OK && ranks > 1) {
        fprintf(stderr, "simnet train: rank %d of %d failed: stopping every rank\n", rank, ranks);
        fflush(stderr);
        sn_comm_abort(comm, r); /* MPI_Abort: no rank is left waiting for this one */
    }
    sn_comm_free(comm);
    sn_model_free(m);
    sn_dataset_free(full);
    sn_dataset_free(train);
    sn_dataset_free(val);
    sn_dataset_free(ltrain);
    sn_dataset_free(ltest);
    sn_dataset_free(test);
    free(logbuf);
    sn_ctx_free(ctx);
    return r;
}

int cmd_train(int argc, char **argv) {
    int pargc;
    char **pargv, *pstore;
    int r = cli_preset_expand("train", argc, argv, &pargc, &pargv, &pstore);
    if (r == -1) return CLI_OK;
    if (r) return r;
    r = train_run(pargc, pargv);
    if (pargv != argv) free(pargv);
    free(pstore);
    return r;
}
