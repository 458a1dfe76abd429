/* fuzz_common.h -- helpers shared by the libFuzzer targets: one private temporary
 * directory per process (under $TMPDIR, default /dev/shm when it exists, removed at
 * exit), writing the fuzz input (or parts of it) to named files there, plain or gzip. */
#ifndef SN_FUZZ_COMMON_H
#define SN_FUZZ_COMMON_H

#define _POSIX_C_SOURCE 200809L
#include "core/core.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char fz_dir[512];

static inline void fz_rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) fz_rmtree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static inline void fz_cleanup(void) {
    if (fz_dir[0]) fz_rmtree(fz_dir);
}

/* The per-process directory (created on first use; aborts if it cannot be). */
static inline const char *fz_tmpdir(void) {
    if (fz_dir[0]) return fz_dir;
    const char *base = getenv("TMPDIR");
    struct stat sb;
    if (!base || !*base) base = stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/snfuzz.XXXXXX", base);
    if (!mkdtemp(fz_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fz_cleanup);
    return fz_dir;
}

/* dir/name (dir NULL: the process directory). */
static inline const char *fz_path(const char *dir, const char *name) {
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir ? dir : fz_tmpdir(), name);
    return p;
}

/* Write n bytes to path, plain or gzip-compressed; aborts on failure (a harness bug). */
static inline void fz_write(const char *path, const uint8_t *data, size_t n, int gz) {
    if (gz) {
        gzFile g = gzopen(path, "wb1");
        if (!g || (n && gzwrite(g, data, (unsigned)n) != (int)n) || gzclose(g) != Z_OK) {
            fprintf(stderr, "fuzz: cannot write %s\n", path);
            abort();
        }
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
}

/* Every failure must leave a message: clear it before a call, check it after. */
static inline void fz_clear_error(sn_ctx *ctx) { ctx->err[0] = '\0'; }
static inline void fz_check_error(sn_ctx *ctx, sn_status st) {
    if (st != SN_OK && !sn_ctx_error(ctx)[0]) {
        fprintf(stderr, "fuzz: status %d (%s) without a message\n", (int)st, sn_status_str(st));
        abort();
    }
}

#endif
