/* cmd_setdist.c -- simnet setdist: Frechet distance between Gaussian fits and unbiased
 * RBF MMD^2 between the embeddings of two image sets (formulas in include/simnet_io.h).
 *
 * A SET is one of
 *   dataset:NAME[:SPLIT[:CLASSES]][@half1|@half2]
 *       a dataset split (SPLIT test (default) or train; CLASSES as --classes, e.g. 0-4)
 *       from --data / $SIMNET_DATA; @half1 keeps the even-indexed images, @half2 the odd
 *       ones (two disjoint halves of one distribution, e.g. for a baseline distance)
 *   DIR          every PNG / JPEG / PGM / PPM file directly inside DIR (sorted by name),
 *                converted to the model's input shape
 *   FILE.npy     precomputed embeddings, float32 (N, D) as written by simnet embed
 * --model is needed unless both sets are .npy files. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "simnet_io.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *USAGE = "--model MODEL SET_A SET_B [options]\n\n"
    "SET: dataset:NAME[:SPLIT[:CLASSES]][@half1|@half2]  (e.g. dataset:mnist:test,\n"
    "     dataset:fashion-mnist:test:0-4, dataset:mnist:test@half1), a folder of images,\n"
    "     or a .npy file of float32 (N, D) embeddings (simnet embed)";

typedef struct {
    float *emb; /* (n, d) */
    int n, d;
} emb_set;

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static int is_image_name(const char *s) {
    static const char *EXT[] = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm"};
    for (size_t i = 0; i < sizeof EXT / sizeof EXT[0]; i++)
        if (ends_with(s, EXT[i])) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Embed n images (pixels (n, c, h, w)) into set->emb. */
static int embed_pixels(sn_ctx *ctx, sn_model *m, const char *spec, const uint8_t *px, int n,
                        emb_set *set) {
    set->d = sn_model_embed_dim(m);
    set->n = n;
    set->emb = malloc(sizeof(float) * (size_t)set->d * (size_t)(n > 0 ? n : 1));
    if (!set->emb) {
        fprintf(stderr, "simnet setdist: %s: out of memory for %d embeddings\n", spec, n);
        return CLI_FAIL;
    }
    sn_status st = n > 0 ? sn_model_embed(ctx, m, px, n, set->emb) : SN_OK;
    if (st) {
        fprintf(stderr, "simnet setdist: %s: %s\n", spec, sn_ctx_error(ctx));
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int load_dataset(sn_ctx *ctx, sn_model *m, const char *spec, const char *dir,
                        emb_set *set) {
    char buf[512];
    if (strlen(spec) >= sizeof buf) {
        fprintf(stderr, "simnet setdist: %.40s...: set spec too long\n", spec);
        return CLI_USAGE;
    }
    strcpy(buf, spec + strlen("dataset:"));
    int half = 0;
    char *at = strchr(buf, '@');
    if (at) {
        half = !strcmp(at, "@half1") ? 1 : !strcmp(at, "@half2") ? 2 : -1;
        *at = 0;
    }
    char *field[4] = {NULL, NULL, NULL, NULL};
    int nf = 0;
    for (char *p = buf;;) { /* NAME[:SPLIT[:CLASSES]]; nf = 4 flags too many fields */
        if (nf == 3) {
            nf = 4;
            break;
        }
        field[nf++] = p;
        if (!(p = strchr(p, ':'))) break;
        *p++ = 0;
    }
    const char *split = nf > 1 && *field[1] ? field[1] : "test";
    if (half < 0 || nf > 3 || !*field[0] || (strcmp(split, "test") && strcmp(split, "train"))) {
        fprintf(stderr, "simnet setdist: %s: expected dataset:NAME[:test|train[:CLASSES]]"
                "[@half1|@half2]\n", spec);
        return CLI_USAGE;
    }
    cli_data_args da = {dir, field[0], NULL, nf > 2 && *field[2] ? field[2] : NULL};
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    sn_dataset *ds = NULL;
    sn_status st = cli_open_split(ctx, &da, split, c, h, w, &ds);
    if (st) {
        fprintf(stderr, "simnet setdist: %s: %s\n", spec, sn_ctx_error(ctx));
        return st == SN_ERR_ARG ? CLI_USAGE : CLI_FAIL;
    }
    if (ds->c != c || ds->h != h || ds->w != w) {
        fprintf(stderr, "simnet setdist: %s: images are %dx%dx%d, the model expects %dx%dx%d\n",
                spec, ds->c, ds->h, ds->w, c, h, w);
        sn_dataset_free(ds);
        return CLI_USAGE;
    }
    int n = ds->n;
    if (half) { /* keep indices i with i % 2 == half - 1, in place */
        size_t img = (size_t)c * (size_t)h * (size_t)w;
        n = 0;
        for (int i = half - 1; i < ds->n; i += 2, n++)
            memmove(ds->pixels + (size_t)n * img, ds->pixels + (size_t)i * img, img);
    }
    int r = embed_pixels(ctx, m, spec, ds->pixels, n, set);
    sn_dataset_free(ds);
    return r;
}

static int load_folder(sn_ctx *ctx, sn_model *m, const char *dir, emb_set *set) {
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "simnet setdist: %s: cannot open folder: %s\n", dir, strerror(errno));
        return CLI_FAIL;
    }
    char **names = NULL;
    int n = 0, cap = 0, r = CLI_FAIL;
    uint8_t *px = NULL;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name)) continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        struct stat sb;
        if (path) snprintf(path, len, "%s/%s", dir, e->d_name);
        if (path && (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))) {
            free(path);
            continue;
        }
        if (path && n == cap) {
            char **nn = realloc(names, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 256));
            if (nn) names = nn;
            else cap = n;
        }
        if (!path || n == cap) {
            free(path);
            fprintf(stderr, "simnet setdist: %s: out of memory listing the folder\n", dir);
            goto done;
        }
        names[n++] = path;
    }
    if (n < 2) {
        fprintf(stderr, "simnet setdist: %s: %d image file(s) (PNG, JPEG, PGM/PPM) directly "
                "inside; at least 2 are needed\n", dir, n);
        r = CLI_USAGE;
        goto done;
    }
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    int c, h, w;
    sn_model_input_shape(m, &c, &h, &w);
    size_t img = (size_t)c * (size_t)h * (size_t)w;
    px = malloc(img * (size_t)n);
    if (!px) {
        fprintf(stderr, "simnet setdist: %s: out of memory for %d images\n", dir, n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sn_status st = sn_image_load(ctx, names[i], c, h, w, px + (size_t)i * img);
        if (st) {
            fprintf(stderr, "simnet setdist: %s\n", sn_ctx_error(ctx));
            goto done;
        }
    }
    r = embed_pixels(ctx, m, dir, px, n, set);
done:
    closedir(dp);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(px);
    return r;
}

static int load_npy(sn_ctx *ctx, const char *path, emb_set *set) {
    sn_npy_array a;
    sn_status st = sn_npy_read(ctx, path, &a);
    if (st) {
        fprintf(stderr, "simnet setdist: %s\n", sn_ctx_error(ctx));
        return CLI_FAIL;
    }
    if (a.dtype != SN_NPY_F32 || a.ndim != 2 || a.shape[1] < 1 || a.shape[0] > (size_t)1 << 30 ||
        a.shape[1] > (size_t)1 << 20) {
        fprintf(stderr, "simnet setdist: %s: expected float32 embeddings of shape (N, D)%s\n", path,
                a.dtype != SN_NPY_F32 ? " (this file is int32: labels?)" : "");
        sn_npy_free(&a);
        return CLI_USAGE;
    }
    set->emb = a.data;
    set->n = (int)a.shape[0];
    set->d = (int)a.shape[1];
    return CLI_OK;
}

static int load_set(sn_ctx *ctx, sn_model *m, const char *spec, const char *dir, emb_set *set) {
    struct stat sb;
    int is_dir = stat(spec, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!strncmp(spec, "dataset:", 8) || is_dir) {
        if (!m) {
            fprintf(stderr, "simnet setdist: %s: --model MODEL is needed to embed images\n", spec);
            return CLI_USAGE;
        }
        return is_dir ? load_folder(ctx, m, spec, set) : load_dataset(ctx, m, spec, dir, set);
    }
    if (ends_with(spec, ".npy")) {
        int r = load_npy(ctx, spec, set);
        if (!r && m && set->d != sn_model_embed_dim(m)) {
            fprintf(stderr, "simnet setdist: %s: embeddings have dimension %d, the model's have %d\n",
                    spec, set->d, sn_model_embed_dim(m));
            r = CLI_USAGE;
        }
        return r;
    }
    fprintf(stderr, "simnet setdist: %s: not a dataset:NAME[...] spec, a folder or a .npy file%s\n",
            spec, stat(spec, &sb) != 0 ? " (no such file or folder)" : "");
    return stat(spec, &sb) != 0 ? CLI_FAIL : CLI_USAGE;
}

static void json_str(FILE *f, const char *key, const char *s) {
    fprintf(f, "  \"%s\": \"", key);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fprintf(f, "\",\n");
}

static int write_json(const char *path, const char *const spec[2], const emb_set set[2], double fd,
                      const sn_mmd_result *mr, uint64_t seed) {
    cli_out o;
    if (cli_out_open("setdist", &o) != CLI_OK) return CLI_FAIL;
    FILE *f = o.f;
    fprintf(f, "{\n");
    json_str(f, "set_a", spec[0]);
    json_str(f, "set_b", spec[1]);
    fprintf(f, "  \"n_a\": %d,\n  \"n_b\": %d,\n  \"dim\": %d,\n", set[0].n, set[1].n, set[0].d);
    fprintf(f, "  \"frechet_distance\": %.9g,\n  \"mmd2\": %.9g,\n  \"mmd_bandwidth\": %.9g,\n", fd,
            mr->mmd2, mr->bandwidth);
    fprintf(f, "  \"mmd_n_a\": %d,\n  \"mmd_n_b\": %d,\n  \"mmd_seed\": %llu\n}\n", mr->n_a,
            mr->n_b, (unsigned long long)seed);
    return cli_out_commit("setdist", &o, path, 1);
}

int cmd_setdist(int argc, char **argv) {
    const char *model = NULL, *json = NULL, *dir = cli_default_data_dir();
    int threads = 0, mmd_max = SN_SETDIST_MMD_MAX;
    uint64_t seed = SN_SETDIST_MMD_SEED;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "model file (needed unless both sets are .npy files)"},
        {"data", OPT_STR, &dir, "data directory for dataset: sets (default $SIMNET_DATA, else ./data)"},
        {"json", OPT_STR, &json, "also write the results as one JSON object to FILE"},
        {"mmd-max", OPT_INT, &mmd_max, "MMD: subsample each set to at most N points (default 2000)"},
        {"seed", OPT_U64, &seed, "seed of the MMD subsample (default 20240601)"},
        {"threads", OPT_INT, &threads, "threads (default: all cores)"},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *spec[2];
    int npos, r = cli_parse("setdist", argc, argv, opts, nopts, spec, 2, &npos);
    if (r == -1) {
        cli_print_help("setdist", USAGE, opts, nopts);
        return CLI_OK;
    }
    if (r) return r;
    if (npos != 2 || mmd_max < 2 || threads < 0) {
        fprintf(stderr, "simnet setdist: %s\nusage: simnet setdist %s\n",
                npos != 2 ? "two SETs are required" : mmd_max < 2 ? "--mmd-max must be >= 2"
                                                                  : "--threads must be >= 0", USAGE);
        return CLI_USAGE;
    }
    sn_ctx *ctx = sn_ctx_create(threads);
    if (!ctx) return CLI_FAIL;
    sn_ctx_set_log(ctx, cli_log_stderr, NULL);
    sn_model *m = NULL;
    emb_set set[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    sn_status st;
    if (model && (st = sn_model_load(ctx, model, &m))) {
        r = cli_fail("setdist", ctx, st);
        goto done;
    }
    for (int i = 0; i < 2; i++)
        if ((r = load_set(ctx, m, spec[i], dir, &set[i]))) goto done;
    if (set[0].d != set[1].d) {
        fprintf(stderr, "simnet setdist: %s has dimension %d but %s has %d\n", spec[0], set[0].d,
                spec[1], set[1].d);
        r = CLI_USAGE;
        goto done;
    }
    for (int i = 0; i < 2; i++)
        if (set[i].n < 2) {
            fprintf(stderr, "simnet setdist: %s: %d embedding(s); at least 2 are needed\n", spec[i],
                    set[i].n);
            r = CLI_USAGE;
            goto done;
        }
    double fd;
    sn_mmd_result mr;
    st = sn_setdist_frechet(ctx, set[0].emb, set[0].n, set[1].emb, set[1].n, set[0].d, &fd);
    if (!st)
        st = sn_setdist_mmd(ctx, set[0].emb, set[0].n, set[1].emb, set[1].n, set[0].d, mmd_max,
                            seed, &mr);
    if (st) {
        r = cli_fail("setdist", ctx, st);
        goto done;
    }
    printf("set A  %s  (%d embeddings, dim %d)\n", spec[0], set[0].n, set[0].d);
    printf("set B  %s  (%d embeddings, dim %d)\n", spec[1], set[1].n, set[1].d);
    printf("frechet_distance  %.6f\n", fd);
    printf("mmd2              %.6f   (unbiased; Gaussian RBF, bandwidth %.4f = median pooled "
           "distance; %d + %d points, seed %llu)\n", mr.mmd2, mr.bandwidth, mr.n_a, mr.n_b,
           (unsigned long long)seed);
    r = json ? write_json(json, spec, set, fd, &mr, seed) : CLI_OK;
done:
    free(set[0].emb);
    free(set[1].emb);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return r;
}
