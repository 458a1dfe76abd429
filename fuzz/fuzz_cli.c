/* fuzz_cli.c -- cli_parse (cli/util.c) with a fixed table holding every option kind.
 * Input: NUL-separated arguments (at most 32); argv[0] is the subcommand. Checks that
 * the positional arguments stay within their array and point into argv. */
#include "fuzz_common.h"

#include "cli.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enum { MAXARG = 32, MAXPOS = 3 };
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAXARG + 1];
    int argc = 0;
    argv[argc++] = "fuzz";
    for (size_t i = 0; i <= size && argc < MAXARG;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    const char *s = NULL;
    int n = 0, flag = 0;
    long l = 0;
    float f = 0;
    uint64_t u = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &s, "a string"}, {"epochs", OPT_INT, &n, "an int"},
        {"max-steps", OPT_LONG, &l, "a long"}, {"lr", OPT_FLOAT, &f, "a float"},
        {"seed", OPT_U64, &u, "a u64"},     {"flip", OPT_FLAG, &flag, "a flag"},
    };
    const char *pos[MAXPOS];
    int npos = -1;
    int r = cli_parse("fuzz", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, MAXPOS,
                      &npos);
    if (r != 0 && r != -1 && r != CLI_USAGE) abort();
    if (npos < 0 || npos > MAXPOS) abort();
    for (int i = 0; i < npos; i++)
        if (pos[i] < buf || pos[i] > buf + size) abort();
    if (r == 0 && f != 0 && !isfinite(f)) abort();
    free(buf);
    return 0;
}
