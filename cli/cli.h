/* cli.h -- shared helpers of the simnet command-line tool (a thin client of libsimnet). */
#ifndef SN_CLI_H
#define SN_CLI_H

#include "simnet.h"

#include <stdint.h>
#include <stdio.h>

/* Exit codes: 0 success, 1 runtime failure (data, files, numerics), 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef enum { OPT_STR, OPT_INT, OPT_LONG, OPT_FLOAT, OPT_U64, OPT_FLAG } cli_opt_kind;

typedef struct {
    const char *name;  /* without the leading "--" */
    cli_opt_kind kind;
    void *dst;         /* const char** / int* / long* / float* / uint64_t* / int* */
    const char *help;
} cli_opt;

/* Parse argv[1..] (argv[0] is the subcommand). "--name value" and "--name=value".
 * Positional arguments go to pos (at most maxpos). Prints the error and returns
 * CLI_USAGE on failure; prints help and returns -1 on --help. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **pos, int maxpos, int *npos);
void cli_print_help(const char *cmd, const char *usage, const cli_opt *opts, int nopts);

/* Report a library failure: "simnet CMD: message" and return CLI_FAIL (or CLI_USAGE
 * for SN_ERR_ARG). */
int cli_fail(const char *cmd, sn_ctx *ctx, sn_status st);
/* Log sink for sn_ctx_set_log: "simnet: LEVEL: message" on stderr, LEVEL one of error,
 * warning, info, debug. user: NULL (errors and warnings only), or an int* "quiet": info and
 * debug lines too when it is 0. */
void cli_log_stderr(void *user, int level, const char *msg);
/* Default data directory: $SIMNET_DATA, else ./data. */
const char *cli_default_data_dir(void);
/* Per-channel normalisation (mean, std of x/255): published constants for mnist,
 * fashion-mnist, cifar10, cifar100; measured on ds for image folders. */
void cli_dataset_norm(const sn_dataset *ds, float mean[3], float std[3]);

/* Where and what to load: --data, --dataset, --label, --classes. */
typedef struct {
    const char *dir, *dataset, *label, *classes;
} cli_data_args;
/* Open one split with the given image shape (used by folder datasets; 0 = default)
 * and apply --classes. */
sn_status cli_open_split(sn_ctx *ctx, const cli_data_args *a, const char *split, int c, int h,
                         int w, sn_dataset **out);
/* Output files (JSON) written atomically: cli_out_open gives o->f, a memory stream;
 * cli_out_commit(ok = 1) writes what it holds to a temporary beside path, fsyncs it and
 * renames it over path, so a failure (full disk, bad folder) leaves the previous file, or
 * none, and no temporary. ok = 0 only releases the buffer. Both print
 * "simnet CMD: [PATH: ]why" and return CLI_FAIL on failure, else CLI_OK. */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} cli_out;
int cli_out_open(const char *cmd, cli_out *o);
int cli_out_commit(const char *cmd, cli_out *o, const char *path, int ok);
/* Create the parent directories of a file path (mkdir -p). 0 on failure. */
int cli_mkdirs_for(const char *path);

/* Seed of the train/validation split made by simnet train (and remade by calibrate). */
#define CLI_VAL_SPLIT_SEED 20240601u
/* The decision threshold simnet train (and simnet whiten) stores: best pair accuracy on
 * balanced validation pairs drawn with this seed; its metadata "threshold_source". */
#define CLI_THRESHOLD_SEED 4242u
#define CLI_THRESHOLD_SOURCE "best pair accuracy on validation"
/* Re-open the train / validation split simnet train made for model m, from its metadata
 * (dataset, label, classes, val_size) and data directory dir: *full, *train, *val (each
 * freed by the caller, also on failure). The validation part must hold at least min_val
 * images. On failure prints "simnet CMD: ..." naming model_path and returns the exit
 * code; CLI_OK otherwise. cli/util.c. */
int cli_open_model_split(sn_ctx *ctx, const char *cmd, const char *model_path, const sn_model *m,
                         const char *dir, int min_val, sn_dataset **full, sn_dataset **train,
                         sn_dataset **val);
/* For commands that write a derived model (whiten, tta): CLI_USAGE, with "simnet CMD: --out
 * OUT is the input model ...", when out is model_path or another name of the same file;
 * CLI_OK otherwise. */
int cli_check_new_output(const char *cmd, const char *model_path, const char *out);
/* The threshold of m recalibrated on val as simnet train does (CLI_THRESHOLD_SEED; 0 and
 * source "none" when val has under 2 images), then m saved to out; *thr gets it. Returns
 * the exit code (messages printed). */
int cli_recalibrate_save(sn_ctx *ctx, const char *cmd, sn_model *m, const sn_dataset *val,
                         int pairs, const char *out, float *thr);

/* --preset NAME in argv: a new argv with the preset's options inserted before the
 * user's (so the user's win) and --preset removed; *out_argv must be freed when it is
 * not argv, and *storage always. "list" prints the presets and returns -1. Returns
 * CLI_OK, or an exit code after printing the error. cli/presets.c. */
int cli_preset_expand(const char *cmd, int argc, char **argv, int *out_argc, char ***out_argv,
                      char **storage);

int cmd_calibrate(int argc, char **argv);
int cmd_whiten(int argc, char **argv);
int cmd_tta(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_setdist(int argc, char **argv);
int cmd_figures(int argc, char **argv);

/* Draw the figures of model m on its test split into dir (created if missing):
 * pairs_grid.png, embedding_map.png, training_curves.png (from log_path, or
 * MODEL_PATH.log.jsonl when NULL; skipped with a note when absent), roc.png,
 * distance_hist.png, retrieval_sheet.png; prints each path. Returns an exit code
 * (CLI_OK, CLI_FAIL, CLI_USAGE) after printing any error. cli/figures.c. */
int cli_write_figures(sn_ctx *ctx, sn_model *m, const char *model_path, const sn_dataset *test,
                      const char *log_path, const char *dir);
int cmd_explain(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Gallery commands (cli/cmd_gallery.c, cmd_enroll.c, cmd_search.c). */
int cmd_gallery(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_search(int argc, char **argv);
/* Open gallery gpath and its model: `model` if given (must match the gallery's
 * fingerprint), else the model path the gallery records. Prints the error and returns an
 * exit code (CLI_OK on success). */
int cli_gallery_open(const char *cmd, sn_ctx *ctx, const char *gpath, const char *model,
                     sn_gallery **g, sn_model **m);
/* Load n image files into px (n, c, h, w); ok[i] = 1 if file i loaded, else 0 after
 * printing "simnet CMD: PATH: reason". Returns the number that failed. */
int cli_load_images(const char *cmd, sn_ctx *ctx, const char *const *paths, int n, int c, int h,
                    int w, uint8_t *px, int *ok);
/* s as a JSON string literal (quotes, escapes). */
void cli_json_str(FILE *f, const char *s);
/* simnet eval --protocol enroll (cli/cmd_enroll.c): sn_eval_enroll with K = 1 and 5 on the
 * test split of a->classes; table on stdout, JSON to json_path (may be NULL). */
int cli_eval_enroll(sn_ctx *ctx, sn_model *m, const cli_data_args *a, const char *opname, int known,
                    uint64_t seed, const char *json_path);

#endif
