/* fetch.h -- private part of dataset fetching (the engine of `simnet fetch`). The
 * fetch itself is public: include/simnet_io.h (sn_fetch_dataset, sn_fetch_known,
 * sn_fetch_instructions, the layout written, the order of sources, verification).
 * Declared here: the building blocks the implementation files share and the tests use.
 *
 * fetch.c          dataset table, "already there" check, the order of sources, install
 * fetch_net.c      HTTP(S) download (libcurl), child processes with a timeout, rm -r
 * fetch_archive.c  md5 (OpenSSL EVP), archive extraction and member import (libarchive)
 *
 * Never prints: progress goes to the log callback of ctx, failures to sn_ctx_error. */
#ifndef SN_FETCH_H
#define SN_FETCH_H

#include "simnet_io.h"

#include <signal.h>
#include <stddef.h>

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
