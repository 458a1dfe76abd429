/* cmd_whiten.c -- simnet whiten: learned within-class whitening of a trained model's
 * embedding (sn_model_embed_whiten), fitted on the model's own training split (the train
 * images minus the validation part simnet train held out), then the threshold
 * recalibrated on that validation split, as simnet train does. Writes a new model. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_whiten(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    const char *data_dir = cli_default_data_dir();
    int threads = 0, pairs = 10000;
    float shrink = 0.1f;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "trained model (read only); an embedding that is not L2-normalised is normalised first"},
        {"out", OPT_STR, &out, "whitened model to write (must not be --model)"},
        {"shrink", OPT_FLOAT, &shrink, "shrinkage of the within-class covariance toward a multiple of I, in [0, 1] (default 0.1)"},
        {"data", OPT_STR, &data_dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"pairs", OPT_INT, &pairs, "validation pairs for the new threshold (default 10000, as simnet train)"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos, r = cli_parse("whiten", argc, argv, opts, nopts, pos, 0, &npos);
    if (r == -1) {
        cli_print_help("whiten", "--model MODEL --out NEW [--shrink 0.1] [options]\n"
                       "Fits the whitening on the model's training split (its dataset, classes, "
                       "validation size and label augmentation from its metadata), never on test; the threshold is "
                       "recalibrated on the validation split. Operating points are not carried "
                       "over (run simnet calibrate on NEW).", opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (!model || !out) {
        fprintf(stderr, "simnet whiten: --model and --out are required\n");
        return CLI_USAGE;
    }
    if (!(shrink >= 0.0f && shrink <= 1.0f)) {
        fprintf(stderr, "simnet whiten: --shrink %g must be in [0, 1]\n", (double)shrink);
        return CLI_USAGE;
    }
    if (pairs < 2 || threads < 0) {
        fprintf(stderr, "simnet whiten: --pairs must be >= 2 and --threads >= 0\n");
        return CLI_USAGE;
    }
    if ((r = cli_check_new_output("whiten", model, out))) return r;
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_model *m = NULL, *w = NULL;
    sn_dataset *full = NULL, *train = NULL, *val = NULL;
    sn_status st = sn_model_load(ctx, model, &m);
    if (st) {
        r = cli_fail("whiten", ctx, st);
        goto done;
    }
    if (sn_model_meta_get(m, "embed_whiten")) {
        fprintf(stderr, "simnet whiten: %s is already whitened (%s)\n", model,
                sn_model_meta_get(m, "embed_whiten"));
        r = CLI_USAGE;
        goto done;
    }
    if ((r = cli_open_model_split(ctx, "whiten", model, m, data_dir, 0, &full, &train, &val)))
        goto done;
    /* fitted on the classes the model was trained on: with label augmentation, the
     * transformed copies as their own classes */
    const char *la = sn_model_meta_get(m, "label_augment");
    sn_dataset *aug = NULL;
    if (la) st = sn_dataset_label_augment(ctx, train, la, &aug);
    if (!st) st = sn_model_embed_whiten(ctx, m, aug ? aug : train, shrink, &w);
    sn_dataset_free(aug);
    if (st) {
        r = cli_fail("whiten", ctx, st);
        goto done;
    }
    float thr;
    if ((r = cli_recalibrate_save(ctx, "whiten", w, val, pairs, out, &thr))) goto done;
    printf("saved %s (%s; threshold %.4f)\n", out, sn_model_meta_get(w, "embed_whiten"), (double)thr);
    r = CLI_OK;
done:
    sn_model_free(m);
    sn_model_free(w);
    sn_dataset_free(full);
    sn_dataset_free(train);
    sn_dataset_free(val);
    sn_ctx_free(ctx);
    return r;
}
