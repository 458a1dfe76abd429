/*
 * presets.c -- `simnet train --preset NAME`: named training recipes.
 *
 * A preset is exactly a list of ordinary train options, inserted in front of the
 * user's own options; since later options win, anything given on the command line
 * overrides the recipe (e.g. `--preset mnist --epochs 3`). `simnet train --preset list`
 * prints the table. Each recipe is the best one measured for its data set; the README
 * ("Presets") has the commands and the numbers they gave.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name, *summary, *args;
} cli_preset;

static const cli_preset PRESETS[] = {
    {"mnist", "MNIST, all classes: resnet width 0.125, 128-d L2-normalised, ArcFace, AdamW one-cycle, 6 epochs",
     "--dataset mnist --arch resnet --width 0.125 --embed-dim 128 --l2-normalize --loss arcface "
     "--classes-per-batch 10 --per-class 25 --optimizer adamw --lr 3e-3 --weight-decay 5e-4 "
     "--schedule onecycle --epochs 6 --crop-pad 2"},
    {"mnist-open", "MNIST digits 0-4 only (evaluate with --classes 5-9): resnet width 0.5, multi-similarity, label augmentation d4 (40 classes), 1 epoch, embedding whitening, test-time shifts",
     "--dataset mnist --classes 0-4 --label-augment d4 --arch resnet --width 0.5 --embed-dim 128 "
     "--l2-normalize --loss multisim --classes-per-batch 5 --per-class 50 --optimizer adamw "
     "--lr 3e-3 --weight-decay 5e-4 --schedule onecycle --epochs 1 --crop-pad 3 --erase 0.5 "
     "--embed-whiten 0.1 --tta shift3"},
    {"fashion-mnist", "Fashion-MNIST: airbench net (whitening + 3 conv blocks, 256-d), softmax proxies, SGD Nesterov triangle LR, lookahead, bf16 where it pays, 12 epochs (19 min)",
     "--dataset fashion-mnist --arch airbench --loss softmax --label-smoothing 0.2 --scale 0.1111 "
     "--classes-per-batch 10 --per-class 100 --optimizer sgd --momentum 0.85 --nesterov --lr 1.5 "
     "--weight-decay 1.33e-3 --bn-lr-scale 64 --schedule triangle --lookahead 5 --epochs 12 "
     "--crop-pad 2 --flip --precision auto"},
    {"cifar10", "CIFAR-10: airbench net (whitening + 3 conv blocks, 256-d), softmax proxies, SGD Nesterov triangle LR, lookahead, bf16 where it pays, 18 epochs (44 min)",
     "--dataset cifar10 --arch airbench --loss softmax --label-smoothing 0.2 --scale 0.1111 "
     "--classes-per-batch 10 --per-class 100 --optimizer sgd --momentum 0.85 --nesterov --lr 1.5 "
     "--weight-decay 1.33e-3 --bn-lr-scale 64 --schedule triangle --lookahead 5 --epochs 18 "
     "--crop-pad 2 --flip --precision auto"},
};

static const cli_preset *find(const char *name) {
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
        if (!strcmp(PRESETS[i].name, name)) return &PRESETS[i];
    return NULL;
}

void cli_preset_list(FILE *f) {
    fprintf(f, "presets (simnet train --preset NAME; options after it override the recipe):\n");
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
        fprintf(f, "  %-14s %s\n  %-14s   %s\n", PRESETS[i].name, PRESETS[i].summary, "",
                PRESETS[i].args);
}

int cli_preset_expand(const char *cmd, int argc, char **argv, int *out_argc, char ***out_argv,
                      char **storage) {
    *out_argc = argc;
    *out_argv = argv;
    *storage = NULL;
    const char *name = NULL;
    int at = -1, span = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--preset")) {
            name = i + 1 < argc ? argv[i + 1] : NULL;
            at = i;
            span = 2;
        } else if (!strncmp(argv[i], "--preset=", 9)) {
            name = argv[i] + 9;
            at = i;
            span = 1;
        } else {
            continue;
        }
        if (!name) {
            fprintf(stderr, "simnet %s: --preset needs a name (see simnet %s --preset list)\n", cmd, cmd);
            return CLI_USAGE;
        }
        break;
    }
    if (at < 0) return CLI_OK;
    if (!strcmp(name, "list")) {
        cli_preset_list(stdout);
        return -1;
    }
    const cli_preset *p = find(name);
    if (!p) {
        fprintf(stderr, "simnet %s: --preset %s: unknown preset (known:", cmd, name);
        for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
            fprintf(stderr, " %s", PRESETS[i].name);
        fprintf(stderr, ")\n");
        return CLI_USAGE;
    }
    size_t len = strlen(p->args);
    char *buf = malloc(len + 1);
    int ntok = 0;
    for (size_t i = 0; i < len; i++)
        if (p->args[i] != ' ' && (i == 0 || p->args[i - 1] == ' ')) ntok++;
    char **v = malloc(sizeof *v * (size_t)(argc + ntok + 1));
    if (!buf || !v) {
        free(buf);
        free(v);
        fprintf(stderr, "simnet %s: out of memory\n", cmd);
        return CLI_FAIL;
    }
    memcpy(buf, p->args, len + 1);
    int n = 0;
    v[n++] = argv[0];
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) v[n++] = t;
    for (int i = 1; i < argc; i++)
        if (i < at || i >= at + span) v[n++] = argv[i];
    v[n] = NULL;
    *out_argc = n;
    *out_argv = v;
    *storage = buf;
    return CLI_OK;
}
