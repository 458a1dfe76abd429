/* fetch_net.c -- HTTP(S) download (libcurl), child processes with a timeout, rm -r. */
#define _XOPEN_SOURCE 700
#include "data/fetch.h"

#include "core/core.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SN_FETCH_CONNECT_S 5
#define SN_FETCH_MAX_S 3600
#define SN_FETCH_LOW_SPEED 1024 /* bytes/s ... */
#define SN_FETCH_LOW_TIME 15    /* ... for this many seconds: abort */

typedef struct {
    FILE *f;
    curl_off_t got;
    int write_failed;
    const volatile sig_atomic_t *cancel;
    const sn_ctx *ctx;
    const char *url;
    double t0, last_log;
} sn_dl;

static size_t sn_dl_write(char *p, size_t size, size_t n, void *user) {
    sn_dl *d = user;
    size_t w = fwrite(p, size, n, d->f);
    if (w != n) d->write_failed = 1;
    d->got += (curl_off_t)(w * size);
    return w * size;
}

static int sn_dl_progress(void *user, curl_off_t total, curl_off_t now, curl_off_t ut,
                          curl_off_t un) {
    (void)ut;
    (void)un;
    sn_dl *d = user;
    if (d->cancel && *d->cancel) return 1;
    double t = sn_now();
    if (total > 0 && t - d->last_log >= 5.0) {
        d->last_log = t;
        sn_logf(d->ctx, SN_LOG_INFO, "  %s: %.1f of %.1f MB (%.0f%%)", d->url, (double)now / 1e6,
                (double)total / 1e6, 100.0 * (double)now / (double)total);
    }
    return 0;
}

sn_status sn_fetch_download(sn_ctx *ctx, const char *url, const char *path,
                            const sn_fetch_opts *opts, int *unreachable) {
    if (unreachable) *unreachable = 0;
    sn_dl d = {NULL, 0, 0, opts->cancel, ctx, url, sn_now(), sn_now()};
    d.f = fopen(path, "wb");
    if (!d.f) return sn_errf(ctx, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    CURL *c = curl_easy_init();
    if (!c) {
        fclose(d.f);
        remove(path);
        return sn_errf(ctx, SN_ERR_NOMEM, "%s: cannot initialise libcurl", url);
    }
    char err[CURL_ERROR_SIZE] = "";
    long conn = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : SN_FETCH_CONNECT_S;
    long maxt = opts->max_time_s > 0 ? opts->max_time_s : SN_FETCH_MAX_S;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, conn);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, maxt);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)SN_FETCH_LOW_SPEED);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)SN_FETCH_LOW_TIME);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "simnet/" SN_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sn_dl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sn_dl_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
    CURLcode rc = curl_easy_perform(c);
    long http = 0;
    curl_off_t expect = -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expect);
    curl_easy_cleanup(c);
    int close_failed = fclose(d.f) != 0;
    sn_status st = SN_OK;
    const char *why = err[0] ? err : curl_easy_strerror(rc);
    if (d.cancel && *d.cancel) {
        st = sn_errf(ctx, SN_ERR_IO, "%s: interrupted", url);
    } else if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT ||
               (rc == CURLE_OPERATION_TIMEDOUT && http == 0)) {
        if (unreachable) *unreachable = 1;
        st = sn_errf(ctx, SN_ERR_IO, "%s: cannot connect (connect timeout %ld s): %s", url, conn,
                     why);
    } else if (rc == CURLE_HTTP_RETURNED_ERROR) {
        st = sn_errf(ctx, SN_ERR_IO, "%s: HTTP error %ld", url, http);
    } else if (rc == CURLE_PARTIAL_FILE ||
               (rc == CURLE_OK && expect >= 0 && d.got != expect)) {
        st = sn_errf(ctx, SN_ERR_IO,
                     "%s: download truncated: got %lld of %lld bytes (the connection closed early)",
                     url, (long long)d.got, (long long)expect);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        st = sn_errf(ctx, SN_ERR_IO,
                     "%s: download stalled or too slow after %lld bytes (limits: %ld s in total, "
                     "%d B/s for %d s): %s",
                     url, (long long)d.got, maxt, SN_FETCH_LOW_SPEED, SN_FETCH_LOW_TIME, why);
    } else if (d.write_failed || close_failed || rc == CURLE_WRITE_ERROR) {
        st = sn_errf(ctx, SN_ERR_IO, "%s: cannot write the download of %s", path, url);
    } else if (rc != CURLE_OK) {
        st = sn_errf(ctx, SN_ERR_IO, "%s: download failed: %s", url, why);
    }
    if (st) {
        remove(path);
        return st;
    }
    sn_logf(ctx, SN_LOG_INFO, "  %s: %.1f MB in %.1f s", url, (double)d.got / 1e6,
            sn_now() - d.t0);
    return SN_OK;
}

/* Last `cap-1` bytes of the file at path, newlines turned into " | ". */
static void sn_log_tail(const char *path, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char buf[400];
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > (long)sizeof buf - 1) fseek(f, size - (long)sizeof buf + 1, SEEK_SET);
        else fseek(f, 0, SEEK_SET);
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f), o = 0;
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        if (buf[i] == '\n') {
            memcpy(out + o, " | ", 3);
            o += 3;
        } else {
            out[o++] = buf[i] == '\r' ? ' ' : buf[i];
        }
    }
    out[o] = 0;
}

sn_status sn_fetch_run(sn_ctx *ctx, const char *const *argv, const char *cwd, long timeout_s,
                       const volatile sig_atomic_t *cancel) {
    char logp[4096];
    if (snprintf(logp, sizeof logp, "%s/.log", cwd) >= (int)sizeof logp)
        return sn_errf(ctx, SN_ERR_ARG, "%s: path too long", cwd);
    if (timeout_s <= 0) timeout_s = SN_FETCH_MAX_S;
    pid_t pid = fork();
    if (pid < 0) return sn_errf(ctx, SN_ERR_IO, "cannot start %s: %s", argv[0], strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        int out = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || chdir(cwd) || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(out, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "%s: not found (%s)\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    double t0 = sn_now();
    int status = 0, killed = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        int stop = (cancel && *cancel) || sn_now() - t0 > (double)timeout_s;
        if (stop && killed == 0) {
            kill(-pid, SIGTERM);
            killed = 1;
        } else if (killed && sn_now() - t0 > (double)timeout_s + 5.0) {
            kill(-pid, SIGKILL);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!killed && status == 0) return SN_OK;
    char tail[420];
    sn_log_tail(logp, tail, sizeof tail);
    if (killed)
        return sn_errf(ctx, SN_ERR_IO, "'%s' %s after %.0f s", argv[0],
                       cancel && *cancel ? "interrupted" : "timed out", sn_now() - t0);
    if (WIFEXITED(status))
        return sn_errf(ctx, SN_ERR_IO, "'%s' failed (exit %d): %s", argv[0], WEXITSTATUS(status),
                       tail);
    return sn_errf(ctx, SN_ERR_IO, "'%s' ended abnormally: %s", argv[0], tail);
}

static int sn_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int sn_fetch_rmtree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb)) return errno == ENOENT ? 0 : -1;
    return nftw(path, sn_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
