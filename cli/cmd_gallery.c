/* cmd_gallery.c -- simnet gallery create|list|remove|stats, and the helpers the enroll and
 * search commands share (open a gallery with its model, load image files one by one). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cli_gallery_open(const char *cmd, sn_ctx *ctx, const char *gpath, const char *model,
                     sn_gallery **g, sn_model **m) {
    *g = NULL;
    *m = NULL;
    sn_status st = sn_gallery_open(ctx, gpath, g);
    if (st) return cli_fail(cmd, ctx, st);
    const char *mp = model ? model : sn_gallery_model_path(*g);
    if (!*mp) {
        fprintf(stderr, "simnet %s: %s records no model path; give --model MODEL\n", cmd, gpath);
        sn_gallery_close(*g);
        *g = NULL;
        return CLI_USAGE;
    }
    if ((st = sn_model_load(ctx, mp, m)) || (st = sn_gallery_check_model(ctx, *g, *m))) {
        int r = cli_fail(cmd, ctx, st);
        if (!model && *m)
            fprintf(stderr, "simnet %s: (the model file %s recorded by the gallery has changed "
                            "since the gallery was created)\n", cmd, mp);
        sn_model_free(*m);
        sn_gallery_close(*g);
        *m = NULL;
        *g = NULL;
        return r == CLI_USAGE && !model ? CLI_FAIL : r;
    }
    return CLI_OK;
}

int cli_load_images(const char *cmd, sn_ctx *ctx, const char *const *paths, int n, int c, int h,
                    int w, uint8_t *px, int *ok) {
    const size_t img = (size_t)c * (size_t)h * (size_t)w;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        struct stat sb;
        ok[i] = 0;
        if (stat(paths[i], &sb) != 0)
            fprintf(stderr, "simnet %s: %s: %s\n", cmd, paths[i], strerror(errno));
        else if (S_ISDIR(sb.st_mode))
            fprintf(stderr, "simnet %s: %s: is a directory, not an image file\n", cmd, paths[i]);
        else if (!S_ISREG(sb.st_mode))
            fprintf(stderr, "simnet %s: %s: not a regular file\n", cmd, paths[i]);
        else if (sn_image_load(ctx, paths[i], c, h, w, px + (size_t)i * img) != SN_OK)
            fprintf(stderr, "simnet %s: %s\n", cmd, sn_ctx_error(ctx));
        else
            ok[i] = 1;
        bad += !ok[i];
    }
    return bad;
}

static const char *USAGE = "create G --model MODEL [--no-model-path] | list G | remove G LABEL... | "
                           "stats G | check G   [--json]";

typedef struct {
    int json, first;
} list_state;

static void print_label(void *user, const char *label, long long count) {
    list_state *s = user;
    if (s->json) {
        printf("%s\n    {\"label\": ", s->first ? "" : ",");
        cli_json_str(stdout, label);
        printf(", \"count\": %lld}", count);
    } else {
        printf("%8lld  %s\n", count, label);
    }
    s->first = 0;
}

int cmd_gallery(int argc, char **argv) {
    const char *model = NULL;
    int json = 0, no_model_path = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "create: the model whose embeddings the gallery holds"},
        {"no-model-path", OPT_FLAG, &no_model_path, "create: do not record the model's path "
                                                    "(enroll/search then need --model)"},
        {"json", OPT_FLAG, &json, "print JSON instead of text"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char **pos = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    if (!pos) return CLI_FAIL;
    int npos, r = cli_parse("gallery", argc, argv, opts, nopts, pos, argc, &npos);
    if (r == -1) {
        cli_print_help("gallery", USAGE, opts, nopts);
        free(pos);
        return CLI_OK;
    }
    if (r) {
        free(pos);
        return r;
    }
    const char *verb = npos > 0 ? pos[0] : "";
    const int is_create = !strcmp(verb, "create"), is_remove = !strcmp(verb, "remove");
    const char *why = npos < 2 ? "give a verb and the gallery file"
                    : !is_create && !is_remove && strcmp(verb, "list") && strcmp(verb, "stats") &&
                              strcmp(verb, "check")
                        ? "unknown verb (create, list, remove, stats, check)"
                    : is_create && !model ? "create needs --model MODEL"
                    : is_remove && npos < 3 ? "remove needs at least one LABEL"
                    : !is_remove && npos > 2 ? "too many arguments" : NULL;
    if (why) {
        fprintf(stderr, "simnet gallery: %s%s%s\nusage: simnet gallery %s\n", why, *verb ? ": " : "",
                verb, USAGE);
        free(pos);
        return CLI_USAGE;
    }
    const char *gpath = pos[1];
    sn_ctx *ctx = sn_ctx_create(1);
    sn_model *m = NULL;
    sn_gallery *g = NULL;
    sn_status st = SN_OK;
    r = CLI_FAIL;
    if (!ctx) goto done;
    sn_ctx_set_log(ctx, cli_log_stderr, NULL);
    if (is_create) {
        if ((st = sn_model_load(ctx, model, &m)) ||
            (st = sn_gallery_create(ctx, gpath, m, no_model_path ? NULL : model, &g))) {
            r = cli_fail("gallery", ctx, st);
            goto done;
        }
        if (json) {
            printf("{\"gallery\": ");
            cli_json_str(stdout, gpath);
            printf(", \"fingerprint\": \"%s\", \"dim\": %d, \"model_path\": ", sn_gallery_fingerprint(g),
                   sn_gallery_dim(g));
            cli_json_str(stdout, sn_gallery_model_path(g));
            printf("}\n");
        } else {
            printf("created %s: model %.12s, %d-d embeddings%s%s\n", gpath, sn_gallery_fingerprint(g),
                   sn_gallery_dim(g), *sn_gallery_model_path(g) ? ", model path " : "",
                   sn_gallery_model_path(g));
        }
        r = CLI_OK;
        goto done;
    }
    if ((st = sn_gallery_open(ctx, gpath, &g))) {
        r = cli_fail("gallery", ctx, st);
        goto done;
    }
    if (!strcmp(verb, "list")) {
        list_state ls = {json, 1};
        if (json) printf("{\"labels\": [");
        if ((st = sn_gallery_list(ctx, g, print_label, &ls))) {
            if (json) printf("]}\n");
            r = cli_fail("gallery", ctx, st);
            goto done;
        }
        if (json) printf("%s]}\n", ls.first ? "" : "\n  ");
        r = CLI_OK;
    } else if (is_remove) {
        int missing = 0;
        if (json) printf("{\"removed\": [");
        for (int i = 2; i < npos; i++) {
            long long n = 0;
            if ((st = sn_gallery_remove(ctx, g, pos[i], &n))) {
                if (json) printf("]}\n");
                r = cli_fail("gallery", ctx, st);
                goto done;
            }
            if (n == 0) {
                fprintf(stderr, "simnet gallery: %s: no label '%s'\n", gpath, pos[i]);
                missing++;
            }
            if (json) {
                printf("%s{\"label\": ", i > 2 ? ", " : "");
                cli_json_str(stdout, pos[i]);
                printf(", \"entries\": %lld}", n);
            } else {
                printf("removed %lld entries of %s\n", n, pos[i]);
            }
        }
        if (json) printf("]}\n");
        r = missing ? CLI_FAIL : CLI_OK;
    } else if (!strcmp(verb, "check")) {
        if ((st = sn_gallery_verify(ctx, g))) {
            if (json) printf("{\"ok\": false}\n");
            r = cli_fail("gallery", ctx, st);
            goto done;
        }
        if (json)
            printf("{\"ok\": true}\n");
        else
            printf("%s: ok (integrity check passed, every entry well-formed)\n", gpath);
        r = CLI_OK;
    } else { /* stats */
        sn_gallery_stats s;
        if ((st = sn_gallery_stats_get(ctx, g, &s))) {
            r = cli_fail("gallery", ctx, st);
            goto done;
        }
        char when[64] = "?";
        time_t t = (time_t)s.created;
        struct tm tmv;
        if (gmtime_r(&t, &tmv)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        if (json) {
            printf("{\"entries\": %lld, \"labels\": %d, \"dim\": %d, \"schema_version\": %d, "
                   "\"fingerprint\": \"%s\", \"model_path\": ", s.n_entries, s.n_labels, s.dim,
                   s.schema_version, s.fingerprint);
            cli_json_str(stdout, s.model_path);
            printf(", \"created\": \"%s\", \"file_bytes\": %lld}\n", when, s.file_bytes);
        } else {
            printf("gallery      %s\nentries      %lld\nlabels       %d\ndim          %d\n"
                   "model        %s\nmodel path   %s\ncreated      %s\nschema       %d\n"
                   "file bytes   %lld (database + WAL)\n", gpath, s.n_entries, s.n_labels, s.dim,
                   s.fingerprint, *s.model_path ? s.model_path : "(none)", when, s.schema_version,
                   s.file_bytes);
        }
        r = CLI_OK;
    }
done:
    free(pos);
    sn_gallery_close(g);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return r;
}
