/* store.c -- the gallery database (SQLite): create / open with format and schema checks,
 * enroll in one transaction, remove, list, stats. Layout: docs/gallery.md. */
#define _XOPEN_SOURCE 700
#include "gallery/gallery.h"

#include "core/core.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SCHEMA_VERSION 1
#define APP_ID 0x534E4741 /* "SNGA" in PRAGMA application_id */

sn_status sn_gallery_db_err(sn_ctx *ctx, const sn_gallery *g, const char *what) {
    int code = g->db ? sqlite3_errcode(g->db) & 0xff : SQLITE_CANTOPEN;
    const char *msg = g->db ? sqlite3_errmsg(g->db) : "cannot open";
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: %s: the file is not a valid gallery database "
                                           "(SQLite: %s); restore it from a backup or recreate it "
                                           "with simnet gallery create", g->path, what, msg);
    return sn_errf(ctx, SN_ERR_IO, "%s: %s: %s", g->path, what, msg);
}

void sn_gallery_blob_to_f32(const void *blob, int dim, float *out) {
    const uint8_t *b = blob;
    for (int j = 0; j < dim; j++) {
        uint32_t v = (uint32_t)b[4 * j] | (uint32_t)b[4 * j + 1] << 8 | (uint32_t)b[4 * j + 2] << 16 |
                     (uint32_t)b[4 * j + 3] << 24;
        memcpy(&out[j], &v, 4);
    }
}

static void f32_to_blob(const float *x, int dim, uint8_t *b) {
    for (int j = 0; j < dim; j++) {
        uint32_t v;
        memcpy(&v, &x[j], 4);
        for (int k = 0; k < 4; k++) b[4 * j + k] = (uint8_t)(v >> (8 * k));
    }
}

static int exec(sn_gallery *g, const char *sql) { return sqlite3_exec(g->db, sql, NULL, NULL, NULL); }

/* One integer from a single-row query (PRAGMA ...); SQLITE_OK or the error code. */
static int query_int(sn_gallery *g, const char *sql, long long *out) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(g->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static sn_gallery *gallery_new(sn_ctx *ctx, const char *path) {
    sn_gallery *g = calloc(1, sizeof *g);
    if (g) g->path = strdup(path);
    if (!g || !g->path) {
        free(g);
        sn_errf(ctx, SN_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    return g;
}

void sn_gallery_close(sn_gallery *g) {
    if (!g) return;
    sn_gallery_unload(g);
    if (g->db) sqlite3_close(g->db);
    free(g->path);
    free(g);
}

/* Connection settings. WAL + synchronous=FULL: a commit is on disk (WAL fsynced) before
 * sqlite3_step(COMMIT) returns, so an enroll that reported success survives a crash and
 * a power loss; NORMAL would survive a crash of the process but not of the machine. The
 * cost is one fsync per enroll command. */
static sn_status configure(sn_ctx *ctx, sn_gallery *g) {
    sqlite3_busy_timeout(g->db, 10000);
    if (exec(g, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
        exec(g, "PRAGMA synchronous=FULL") != SQLITE_OK)
        return sn_gallery_db_err(ctx, g, "setting WAL mode");
    return SN_OK;
}

static int open_db(sn_gallery *g, int flags) {
    return sqlite3_open_v2(g->path, &g->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
}

sn_status sn_gallery_create(sn_ctx *ctx, const char *path, const sn_model *m, const char *model_path,
                            sn_gallery **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0)
        return sn_errf(ctx, SN_ERR_ARG, "%s: already exists (remove it first, or enroll into it)", path);
    if (model_path && strlen(model_path) >= sizeof((sn_gallery *)0)->model_path)
        return sn_errf(ctx, SN_ERR_ARG, "model path is too long (max %zu bytes)",
                       sizeof((sn_gallery *)0)->model_path - 1);
    sn_gallery *g = gallery_new(ctx, path);
    if (!g) return SN_ERR_NOMEM;
    sn_status st = sn_model_fingerprint(ctx, m, g->fp);
    if (st) {
        sn_gallery_close(g);
        return st;
    }
    g->dim = sn_model_embed_dim(m);
    g->created = (double)time(NULL);
    if (model_path) {
        char *abs = realpath(model_path, NULL); /* so tools work from any directory */
        snprintf(g->model_path, sizeof g->model_path, "%s",
                 abs && strlen(abs) < sizeof g->model_path ? abs : model_path);
        free(abs);
    }
    if (open_db(g, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) != SQLITE_OK) {
        st = sn_gallery_db_err(ctx, g, "cannot create the database");
        sn_gallery_close(g);
        return st;
    }
    st = configure(ctx, g);
    char sql[512];
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;", APP_ID,
             SCHEMA_VERSION);
    sqlite3_stmt *s = NULL;
    if (!st && (exec(g, "BEGIN IMMEDIATE") != SQLITE_OK || exec(g, sql) != SQLITE_OK ||
                exec(g, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                        "CREATE TABLE entries(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                        " label TEXT NOT NULL, source TEXT, enrolled REAL NOT NULL,"
                        " embedding BLOB NOT NULL);"
                        "CREATE INDEX entries_label ON entries(label);") != SQLITE_OK ||
                sqlite3_prepare_v2(g->db, "INSERT INTO meta(key, value) VALUES (?, ?)", -1, &s,
                                   NULL) != SQLITE_OK))
        st = sn_gallery_db_err(ctx, g, "creating the schema");
    char dim[16], created[32];
    snprintf(dim, sizeof dim, "%d", g->dim);
    snprintf(created, sizeof created, "%.0f", g->created);
    const char *kv[][2] = {{"format", "simnet-gallery"}, {"fingerprint", g->fp}, {"dim", dim},
                           {"model_path", g->model_path}, {"created", created}};
    for (size_t i = 0; !st && i < sizeof kv / sizeof kv[0]; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, kv[i][0], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, kv[i][1], -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) st = sn_gallery_db_err(ctx, g, "writing the metadata");
    }
    sqlite3_finalize(s);
    if (!st && exec(g, "COMMIT") != SQLITE_OK) st = sn_gallery_db_err(ctx, g, "committing the schema");
    if (st) { /* leave nothing half-made behind: the file and its WAL / shared memory */
        sn_gallery_close(g);
        size_t len = strlen(path) + 5;
        char *side = malloc(len);
        remove(path);
        for (int i = 0; side && i < 2; i++) {
            snprintf(side, len, "%s%s", path, i ? "-shm" : "-wal");
            remove(side);
        }
        free(side);
        return st;
    }
    *out = g;
    return SN_OK;
}

static sn_status read_meta(sn_ctx *ctx, sn_gallery *g) {
    sqlite3_stmt *s = NULL;
    int have = 0;
    if (sqlite3_prepare_v2(g->db, "SELECT key, value FROM meta", -1, &s, NULL) != SQLITE_OK)
        return sn_gallery_db_err(ctx, g, "reading the metadata");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        const char *v = (const char *)sqlite3_column_text(s, 1);
        if (!k || !v) continue;
        if (!strcmp(k, "fingerprint") && strlen(v) == 64) {
            memcpy(g->fp, v, 65);
            have |= 1;
        } else if (!strcmp(k, "dim")) {
            g->dim = atoi(v);
            have |= 2;
        } else if (!strcmp(k, "model_path")) {
            snprintf(g->model_path, sizeof g->model_path, "%s", v);
        } else if (!strcmp(k, "created")) {
            g->created = strtod(v, NULL);
        } else if (!strcmp(k, "format") && !strcmp(v, "simnet-gallery")) {
            have |= 4;
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return sn_gallery_db_err(ctx, g, "reading the metadata");
    if (have != 7 || g->dim < 1 || g->dim > 65536)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: metadata table is incomplete (need format, a 64-hex "
                                           "fingerprint and dim in 1..65536)", g->path);
    return SN_OK;
}

sn_status sn_gallery_open(sn_ctx *ctx, const char *path, sn_gallery **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sn_errf(ctx, SN_ERR_IO, "%s: cannot open the gallery: %s%s", path, strerror(errno),
                       errno == ENOENT ? " (create it with simnet gallery create)" : "");
    if (!S_ISREG(sb.st_mode))
        return sn_errf(ctx, SN_ERR_IO, "%s: not a regular file (a gallery is one database file)", path);
    sn_gallery *g = gallery_new(ctx, path);
    if (!g) return SN_ERR_NOMEM;
    sn_status st = SN_OK;
    long long app = 0, ver = 0;
    if (open_db(g, SQLITE_OPEN_READWRITE) != SQLITE_OK) {
        st = sn_gallery_db_err(ctx, g, "cannot open the database");
        goto fail;
    }
    /* application_id first: a non-database file fails here with SQLITE_NOTADB */
    if (query_int(g, "PRAGMA application_id", &app) != SQLITE_OK) {
        st = sn_gallery_db_err(ctx, g, "reading the header");
        goto fail;
    }
    if (app != APP_ID) {
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: a SQLite database but not a simnet gallery "
                                         "(application_id %lld, expected %d)", path, app, APP_ID);
        goto fail;
    }
    if ((st = configure(ctx, g))) goto fail;
    if (query_int(g, "PRAGMA user_version", &ver) != SQLITE_OK) {
        st = sn_gallery_db_err(ctx, g, "reading the schema version");
        goto fail;
    }
    if (ver != SCHEMA_VERSION) {
        st = sn_errf(ctx, SN_ERR_UNSUPPORTED, "%s: gallery schema version %lld; this simnet reads "
                                              "version %d%s", path, ver, SCHEMA_VERSION,
                     ver > SCHEMA_VERSION ? " (written by a newer simnet: upgrade)" : "");
        goto fail;
    }
    if ((st = read_meta(ctx, g))) goto fail;
    *out = g;
    return SN_OK;
fail:
    sn_gallery_close(g);
    return st;
}

const char *sn_gallery_fingerprint(const sn_gallery *g) { return g->fp; }
const char *sn_gallery_model_path(const sn_gallery *g) { return g->model_path; }
int sn_gallery_dim(const sn_gallery *g) { return g->dim; }

sn_status sn_gallery_check_model(sn_ctx *ctx, const sn_gallery *g, const sn_model *m) {
    char fp[SN_FINGERPRINT_LEN];
    sn_status st = sn_model_fingerprint(ctx, m, fp);
    if (st) return st;
    if (strcmp(fp, g->fp) != 0)
        return sn_errf(ctx, SN_ERR_ARG, "%s was enrolled with model %.12s, but this model is %.12s "
                                        "(fingerprints differ: embeddings of different models are "
                                        "not comparable; use the gallery's model or re-enroll)",
                       g->path, g->fp, fp);
    if (sn_model_embed_dim(m) != g->dim)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: dim %d but the model embeds to %d", g->path, g->dim,
                       sn_model_embed_dim(m));
    return SN_OK;
}

static int label_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

sn_status sn_gallery_enroll(sn_ctx *ctx, sn_gallery *g, int n, const char *const *labels,
                            const float *emb, const char *const *sources) {
    if (n < 0) return sn_errf(ctx, SN_ERR_ARG, "enroll: n = %d", n);
    for (int i = 0; i < n; i++) {
        if (!label_ok(labels[i]))
            return sn_errf(ctx, SN_ERR_ARG, "enroll: label '%s' (entry %d): labels are 1..255 bytes "
                                            "without control characters", labels[i], i);
        for (int j = 0; j < g->dim; j++)
            if (!isfinite(emb[(size_t)i * (size_t)g->dim + (size_t)j]))
                return sn_errf(ctx, SN_ERR_NUMERIC, "enroll: embedding %d (%s) is not finite", i,
                               sources && sources[i] ? sources[i] : labels[i]);
    }
    uint8_t *blob = malloc((size_t)g->dim * 4);
    if (!blob) return sn_errf(ctx, SN_ERR_NOMEM, "enroll: out of memory");
    sqlite3_stmt *s = NULL;
    sn_status st = SN_OK;
    if (exec(g, "BEGIN IMMEDIATE") != SQLITE_OK) {
        free(blob);
        return sn_gallery_db_err(ctx, g, "enroll: starting the transaction");
    }
    if (sqlite3_prepare_v2(g->db, "INSERT INTO entries(label, source, enrolled, embedding) "
                                  "VALUES (?, ?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
        st = sn_gallery_db_err(ctx, g, "enroll: preparing the insert");
    const double now = (double)time(NULL);
    for (int i = 0; !st && i < n; i++) {
        f32_to_blob(emb + (size_t)i * (size_t)g->dim, g->dim, blob);
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, labels[i], -1, SQLITE_STATIC);
        if (sources && sources[i])
            sqlite3_bind_text(s, 2, sources[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 2);
        sqlite3_bind_double(s, 3, now);
        sqlite3_bind_blob(s, 4, blob, g->dim * 4, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) st = sn_gallery_db_err(ctx, g, "enroll: inserting");
    }
    sqlite3_finalize(s);
    if (!st && exec(g, "COMMIT") != SQLITE_OK) st = sn_gallery_db_err(ctx, g, "enroll: committing");
    if (st) exec(g, "ROLLBACK");
    free(blob);
    sn_gallery_unload(g);
    return st;
}

sn_status sn_gallery_enroll_images(sn_ctx *ctx, sn_gallery *g, sn_model *m, int n,
                                   const char *const *labels, const uint8_t *pixels,
                                   const char *const *sources) {
    sn_status st = sn_gallery_check_model(ctx, g, m);
    if (st || n == 0) return st;
    float *emb = malloc(sizeof(float) * (size_t)n * (size_t)g->dim);
    if (!emb) return sn_errf(ctx, SN_ERR_NOMEM, "enroll: out of memory for %d embeddings", n);
    st = sn_model_embed(ctx, m, pixels, n, emb);
    if (!st) st = sn_gallery_enroll(ctx, g, n, labels, emb, sources);
    free(emb);
    return st;
}

sn_status sn_gallery_remove(sn_ctx *ctx, sn_gallery *g, const char *label, long long *removed) {
    sqlite3_stmt *s = NULL;
    if (removed) *removed = 0;
    if (sqlite3_prepare_v2(g->db, "DELETE FROM entries WHERE label = ?", -1, &s, NULL) != SQLITE_OK)
        return sn_gallery_db_err(ctx, g, "remove: preparing");
    sqlite3_bind_text(s, 1, label, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return sn_gallery_db_err(ctx, g, "remove");
    if (removed) *removed = sqlite3_changes64(g->db);
    sn_gallery_unload(g);
    return SN_OK;
}

sn_status sn_gallery_list(sn_ctx *ctx, sn_gallery *g,
                          void (*fn)(void *user, const char *label, long long count), void *user) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(g->db, "SELECT label, count(*) FROM entries GROUP BY label ORDER BY label",
                           -1, &s, NULL) != SQLITE_OK)
        return sn_gallery_db_err(ctx, g, "list");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(user, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SN_OK : sn_gallery_db_err(ctx, g, "list");
}

sn_status sn_gallery_stats_get(sn_ctx *ctx, sn_gallery *g, sn_gallery_stats *out) {
    memset(out, 0, sizeof *out);
    long long n = 0, nl = 0;
    if (query_int(g, "SELECT count(*) FROM entries", &n) != SQLITE_OK ||
        query_int(g, "SELECT count(DISTINCT label) FROM entries", &nl) != SQLITE_OK)
        return sn_gallery_db_err(ctx, g, "stats");
    out->n_entries = n;
    out->n_labels = nl > INT_MAX ? INT_MAX : (int)nl;
    out->dim = g->dim;
    out->schema_version = SCHEMA_VERSION;
    memcpy(out->fingerprint, g->fp, sizeof out->fingerprint);
    memcpy(out->model_path, g->model_path, sizeof out->model_path);
    out->created = g->created;
    struct stat sb;
    if (stat(g->path, &sb) == 0) out->file_bytes += (long long)sb.st_size;
    size_t len = strlen(g->path) + 5;
    char *wal = malloc(len);
    if (wal) {
        snprintf(wal, len, "%s-wal", g->path);
        if (stat(wal, &sb) == 0) out->file_bytes += (long long)sb.st_size;
        free(wal);
    }
    return SN_OK;
}

sn_status sn_gallery_verify(sn_ctx *ctx, sn_gallery *g) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(g->db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK)
        return sn_gallery_db_err(ctx, g, "integrity check");
    int rc = sqlite3_step(s);
    const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    sn_status st = SN_OK;
    if (rc != SQLITE_ROW)
        st = sn_gallery_db_err(ctx, g, "integrity check");
    else if (!res || strcmp(res, "ok") != 0)
        st = sn_errf(ctx, SN_ERR_FORMAT, "%s: integrity check failed: %s", g->path, res ? res : "?");
    sqlite3_finalize(s);
    if (st) return st;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM entries WHERE length(embedding) != %d OR "
                              "typeof(embedding) != 'blob' OR length(label) = 0 LIMIT 1", g->dim * 4);
    long long bad = 0;
    if (query_int(g, sql, &bad) != SQLITE_OK) return sn_gallery_db_err(ctx, g, "checking the entries");
    if (bad)
        return sn_errf(ctx, SN_ERR_FORMAT, "%s: entry %lld: embedding is not %d float32 or the label "
                                           "is empty", g->path, bad, g->dim);
    return SN_OK;
}
