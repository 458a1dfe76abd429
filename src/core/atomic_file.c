/* atomic_file.c -- write a file so that readers see either the old or the new version:
 * PATH.tmp.PID, then fsync, close, rename over PATH; on any failure the temporary is
 * removed and PATH is untouched. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

sn_status sn_atomic_open(sn_ctx *ctx, sn_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    size_t n = strlen(path) + 32;
    f->tmp = sn_malloc(n);
    if (!f->tmp) return sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
    snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (f->fd < 0) {
        sn_status st = sn_errf(ctx, SN_ERR_IO, "%s: cannot create temporary file %s: %s", path,
                               f->tmp, strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        return st;
    }
    return SN_OK;
}

int sn_atomic_write(sn_atomic_file *f, const void *p, size_t n) {
    const char *c = p;
    while (n && !f->err) {
        ssize_t k = write(f->fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            f->err = k < 0 ? errno : ENOSPC;
            break;
        }
        c += k;
        n -= (size_t)k;
    }
    return !f->err;
}

sn_status sn_atomic_commit(sn_ctx *ctx, sn_atomic_file *f, int ok) {
    int e = f->err;          /* a write error counts as a failure with its own message */
    int abandon = !ok && !e; /* the caller gave up and has reported why */
    if (!abandon && !e && fsync(f->fd) != 0) e = errno;
    if (close(f->fd) != 0 && !abandon && !e) e = errno;
    if (!abandon && !e && rename(f->tmp, f->path) != 0) e = errno;
    sn_status st = SN_OK;
    if (abandon || e) {
        unlink(f->tmp);
        st = abandon ? SN_ERR_IO
                     : sn_errf(ctx, SN_ERR_IO, "%s: writing failed: %s (the previous file, if any, "
                                               "is unchanged)", f->path, strerror(e));
    }
    free(f->tmp);
    f->tmp = NULL;
    f->fd = -1;
    return st;
}
