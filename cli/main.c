/* main.c -- simnet command-line tool: subcommand table and dispatch. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} COMMANDS[] = {
    {"train", cmd_train, "train a similarity model on pairs"},
    {"eval", cmd_eval, "evaluate a model: verification, retrieval, k-NN"},
    {"calibrate", cmd_calibrate, "store operating points (FAR, precision, F1) in a model"},
    {"tta", cmd_tta, "set a model's test-time augmentation (mean embedding over flipped / shifted views)"},
    {"whiten", cmd_whiten, "whiten a model's embedding (within-class, fitted on its training split)"},
    {"compare", cmd_compare, "distance, similarity score and decision for two images"},
    {"info", cmd_info, "describe a model file"},
    {"fetch", cmd_fetch, "download a dataset and verify its checksums"},
    {"embed", cmd_embed, "write embeddings as NumPy .npy"},
    {"setdist", cmd_setdist, "Frechet distance and MMD between two image sets"},
    {"figures", cmd_figures, "draw the figures of a model (PNG)"},
    {"explain", cmd_explain, "saliency maps: which pixels make two images alike"},
    {"report", cmd_report, "one self-contained HTML page: model, metrics, figures"},
    {"gallery", cmd_gallery, "gallery create|list|remove|stats|check: enrolled embeddings (SQLite)"},
    {"enroll", cmd_enroll, "add labelled images to a gallery (one transaction)"},
    {"search", cmd_search, "identify images against a gallery: top-k and decision"},
};

static void usage(FILE *f) {
    fprintf(f, "simnet %s -- Siamese similarity networks\n\nusage: simnet COMMAND [options]\n\n"
               "commands:\n", SN_VERSION_STRING);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nsimnet COMMAND --help lists the options of a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("simnet %s\n", SN_VERSION_STRING);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "simnet: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
