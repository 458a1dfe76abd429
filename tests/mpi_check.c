/*
 * mpi_check.c -- the communicator under mpirun (tests/cli_mpi.sh, cli_mpi_netns.sh).
 * Built with SIMNET_MPI. Run with any number of ranks:
 *   mpi_check                 collectives against values every rank can compute alone
 *                             (ordered all-reduce bit-exact, native within tolerance,
 *                             variable-size all-gather, broadcast, errors); exit 0/1
 *   mpi_check --die R         rank R kills itself (SIGKILL) mid-job; the others keep
 *                             all-reducing: the job must end non-zero, not hang
 *   mpi_check --exit R        rank R exits with status 3 without MPI_Finalize
 *   mpi_check --hang R        rank R stops responding (sleeps); the others must time
 *                             out (SIMNET_COMM_TIMEOUT), say so and abort the job
 *   mpi_check --bench N REPS  rank 0 prints the median and minimum seconds of
 *                             all-reducing N floats (ordered and native) and of
 *                             all-gathering N/64 rows of 64 floats
 *   mpi_check --compare A.snm B.snm TOL   (no MPI) max parameter difference of two
 *                             models relative to max |w|; exit 0 iff <= TOL (0: bits)
 */
#define _POSIX_C_SOURCE 200809L
#include "dist/dist.h"
#include "nn/nn.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fails;
#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fails++;                                                              \
            fprintf(stderr, "mpi_check rank %d: FAIL %s:%d: ", g_rank, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)
static int g_rank;

/* Rank q's test slab: values of mixed magnitude so that the summation order matters. */
static void fill(float *x, size_t n, int q, uint64_t seed) {
    sn_rng r;
    sn_rng_seed(&r, seed, (uint64_t)q + 1);
    for (size_t i = 0; i < n; i++) {
        float u = sn_rng_uniform_range(&r, -1.0f, 1.0f);
        x[i] = u * (i % 7 == 0 ? 1e4f : i % 3 == 0 ? 1e-3f : 1.0f);
    }
}

static void die(sn_comm *c, sn_ctx *ctx, const char *what) {
    fprintf(stderr, "mpi_check rank %d: %s: %s\n", c ? c->rank : -1, what, sn_ctx_error(ctx));
    sn_comm_abort(c, 1);
    exit(1);
}

static void check_reduce(sn_comm *c, sn_ctx *ctx, size_t n, uint64_t seed) {
    const int p = c->size;
    float *x = malloc((n + 1) * sizeof(float)), *v = malloc((n + 1) * sizeof(float));
    double *exp = calloc(n + 1, sizeof(double));
    if (!x || !v || !exp) die(c, ctx, "out of memory");
    for (int q = 0; q < p; q++) {
        fill(v, n, q, seed);
        for (size_t i = 0; i < n; i++) exp[i] += (double)v[i];
    }
    /* ordered: the rank-order double sum rounded once, bit for bit, twice */
    for (int rep = 0; rep < 2; rep++) {
        fill(x, n, c->rank, seed);
        if (sn_comm_allreduce_f32(c, x, n, SN_REDUCE_ORDERED)) die(c, ctx, "ordered all-reduce");
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += memcmp(&x[i], &(float){(float)exp[i]}, sizeof(float)) != 0;
        CHECK(bad == 0, "ordered all-reduce of %zu floats: %zu values differ from the rank-order sum",
              n, bad);
    }
    /* native: within float rounding of the exact sum; the same bits on every rank */
    fill(x, n, c->rank, seed);
    if (sn_comm_allreduce_f32(c, x, n, SN_REDUCE_NATIVE)) die(c, ctx, "native all-reduce");
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double scale = 0.0;
        for (int q = 0; q < p; q++) scale += 1e4; /* bound on sum |v| */
        double e = fabs((double)x[i] - exp[i]) / scale;
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-6, "native all-reduce: relative error %g", worst);
    memcpy(v, x, n * sizeof(float));
    if (sn_comm_bcast(c, v, n * sizeof(float), 0)) die(c, ctx, "broadcast");
    CHECK(memcmp(v, x, n * sizeof(float)) == 0, "native all-reduce: ranks hold different bits");
    free(x);
    free(v);
    free(exp);
}

static int run_checks(sn_comm *c, sn_ctx *ctx) {
    const int p = c->size, r = c->rank;
    /* ranks */
    int32_t ranks[256], n_of[256];
    int total = 0;
    if (p > 256) die(c, ctx, "more than 256 ranks");
    if (sn_comm_allgather_i32(c, &(int32_t){r}, 1, ranks, 256, n_of, &total)) die(c, ctx, "all-gather");
    CHECK(total == p, "all-gather of ranks: total %d", total);
    for (int q = 0; q < p; q++) CHECK(ranks[q] == q && n_of[q] == 1, "rank slot %d holds %d", q, ranks[q]);
    /* all-reduce: sizes with empty segments (n < p), odd sizes, a model-sized slab */
    size_t sizes[] = {1, 3, 1000, 101634, 1000003};
    for (int i = 0; i < 5; i++) check_reduce(c, ctx, sizes[i], 7 + (uint64_t)i);
    /* doubles, rank order */
    double d[2] = {0.1 * (r + 1), 1e16 * (r % 2 ? -1 : 1)}, e0 = 0, e1 = 0;
    for (int q = 0; q < p; q++) e0 += 0.1 * (q + 1), e1 += 1e16 * (q % 2 ? -1 : 1);
    if (sn_comm_allreduce_f64(c, d, 2)) die(c, ctx, "all-reduce (doubles)");
    CHECK(d[0] == e0 && d[1] == e1, "all-reduce (doubles): %.17g %.17g, want %.17g %.17g", d[0], d[1], e0, e1);
    /* rows: rank q sends q+1 rows of 3 floats */
    enum { L = 3 };
    float mine[256 * L], all[256 * 257 / 2 * L];
    int rows_of[256], tot = 0;
    for (int k = 0; k < r + 1; k++)
        for (int j = 0; j < L; j++) mine[k * L + j] = (float)(r * 1000 + k * 10 + j);
    if (sn_comm_allgather_f32(c, mine, r + 1, L, all, 256 * 257 / 2, rows_of, &tot)) die(c, ctx, "all-gather (rows)");
    CHECK(tot == p * (p + 1) / 2, "all-gather rows: total %d", tot);
    int row = 0;
    for (int q = 0; q < p; q++) {
        CHECK(rows_of[q] == q + 1, "all-gather rows: rank %d sent %d rows", q, rows_of[q]);
        for (int k = 0; k < q + 1; k++, row++)
            for (int j = 0; j < L; j++)
                CHECK(all[row * L + j] == (float)(q * 1000 + k * 10 + j), "row %d col %d = %g", row, j,
                      (double)all[row * L + j]);
    }
    /* broadcast from the last rank */
    size_t nb = 1 << 20;
    unsigned char *b = malloc(nb);
    if (!b) die(c, ctx, "out of memory");
    for (size_t i = 0; i < nb; i++) b[i] = (unsigned char)(r == p - 1 ? i * 31 : 0);
    if (sn_comm_bcast(c, b, nb, p - 1)) die(c, ctx, "broadcast");
    size_t badb = 0;
    for (size_t i = 0; i < nb; i++) badb += b[i] != (unsigned char)(i * 31);
    CHECK(badb == 0, "broadcast: %zu bytes differ", badb);
    free(b);
    if (sn_comm_barrier(c)) die(c, ctx, "barrier");
    /* errors: a gather that does not fit fails on every rank with a message, and the
     * communicator refuses further use */
    sn_status st = sn_comm_allgather_f32(c, mine, r + 1, L, all, p - 1, NULL, NULL);
    CHECK(st != SN_OK && strstr(sn_ctx_error(ctx), "do not fit"), "undersized all-gather: status %d, '%s'",
          (int)st, sn_ctx_error(ctx));
    st = sn_comm_barrier(c);
    CHECK(st != SN_OK && strstr(sn_ctx_error(ctx), "failed earlier"), "broken communicator still used: '%s'",
          sn_ctx_error(ctx));
    return fails;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Each repetition starts from the same slab, after a barrier (not timed): the median
 * and minimum over the repetitions of the collective alone. */
static void bench(sn_comm *c, sn_ctx *ctx, size_t n, int reps) {
    float *x = sn_aligned_alloc(n, sizeof(float)), *x0 = sn_aligned_alloc(n, sizeof(float));
    float *g = sn_aligned_alloc(n + 64, sizeof(float));
    double *t = calloc((size_t)reps, sizeof(double));
    if (!x || !x0 || !g || !t) die(c, ctx, "out of memory");
    fill(x0, n, c->rank, 1);
    const int rows = (int)((n / 64 > 0 ? n / 64 : 1) / (size_t)c->size);
    for (int mode = 0; mode < 3; mode++) {
        for (int i = 0; i < reps; i++) {
            memcpy(x, x0, n * sizeof(float));
            if (sn_comm_barrier(c)) die(c, ctx, "barrier");
            double t0 = sn_now();
            sn_status st = mode < 2 ? sn_comm_allreduce_f32(c, x, n, mode ? SN_REDUCE_NATIVE : SN_REDUCE_ORDERED)
                                    : sn_comm_allgather_f32(c, x, rows, 64, g, (int)(n / 64 + 1), NULL, NULL);
            t[i] = sn_now() - t0;
            if (st) die(c, ctx, "bench");
        }
        qsort(t, (size_t)reps, sizeof(double), cmp_double);
        if (c->rank == 0)
            printf("bench ranks %d floats %zu %s median %.6f s min %.6f s\n", c->size, n,
                   mode == 0 ? "allreduce_ordered" : mode == 1 ? "allreduce_native" : "allgather_rows",
                   t[reps / 2], t[0]);
    }
    sn_aligned_free(x);
    sn_aligned_free(x0);
    sn_aligned_free(g);
    free(t);
}

/* --compare A B TOL: max |a - b| over parameters and buffers, relative to max |b|;
 * prints both, exit 0 iff the parameter difference is <= TOL (0: bit-identical). */
static int compare_models(sn_ctx *ctx, const char *a, const char *b, double tol) {
    sn_model *ma = NULL, *mb = NULL;
    if (sn_model_load(ctx, a, &ma) || sn_model_load(ctx, b, &mb)) {
        fprintf(stderr, "mpi_check --compare: %s\n", sn_ctx_error(ctx));
        return 2;
    }
    if (ma->n_params != mb->n_params || ma->n_bufs != mb->n_bufs) {
        fprintf(stderr, "mpi_check --compare: %s and %s have different architectures\n", a, b);
        return 2;
    }
    double dp = 0, mp = 0, db = 0, mbuf = 0;
    size_t ndiff = 0;
    for (size_t i = 0; i < ma->n_params; i++) {
        double d = fabs((double)ma->params[i] - (double)mb->params[i]);
        ndiff += ma->params[i] != mb->params[i];
        if (d > dp) dp = d;
        if (fabs((double)mb->params[i]) > mp) mp = fabs((double)mb->params[i]);
    }
    for (size_t i = 0; i < ma->n_bufs; i++) {
        double d = fabs((double)ma->bufs[i] - (double)mb->bufs[i]);
        if (d > db) db = d;
        if (fabs((double)mb->bufs[i]) > mbuf) mbuf = fabs((double)mb->bufs[i]);
    }
    const double rel = mp > 0 ? dp / mp : dp;
    printf("compare: %zu of %zu parameters differ; max |diff| %.3g (relative to max |w| %.3g: %.3g); "
           "buffers max |diff| %.3g (max %.3g)\n", ndiff, ma->n_params, dp, mp, rel, db, mbuf);
    sn_model_free(ma);
    sn_model_free(mb);
    return tol == 0 ? ndiff != 0 : !(rel <= tol);
}

int main(int argc, char **argv) {
    sn_ctx *ctx = sn_ctx_create(1);
    sn_comm *c = NULL;
    if (!ctx) return 1;
    if (argc == 5 && !strcmp(argv[1], "--compare")) {
        int rc = compare_models(ctx, argv[2], argv[3], atof(argv[4]));
        sn_ctx_free(ctx);
        return rc;
    }
    if (sn_comm_create(ctx, &argc, &argv, &c)) {
        fprintf(stderr, "mpi_check: %s\n", sn_ctx_error(ctx));
        return 1;
    }
    g_rank = c->rank;
    const char *mode = argc > 1 ? argv[1] : "";
    int who = argc > 2 ? atoi(argv[2]) : 1;
    if (!strcmp(mode, "--die") || !strcmp(mode, "--exit") || !strcmp(mode, "--hang")) {
        float x[1000] = {0};
        if (sn_comm_barrier(c)) die(c, ctx, "barrier");
        for (long step = 0;; step++) {
            if (c->rank == who && step == 3) {
                fprintf(stderr, "mpi_check rank %d: %s now\n", c->rank, mode + 2);
                if (!strcmp(mode, "--die")) raise(SIGKILL);
                if (!strcmp(mode, "--exit")) _exit(3);
                sleep(3600);
            }
            if (sn_comm_allreduce_f32(c, x, 1000, SN_REDUCE_ORDERED)) die(c, ctx, "training step");
            nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
    }
    if (!strcmp(mode, "--bench")) {
        bench(c, ctx, argc > 2 ? (size_t)atol(argv[2]) : 101634, argc > 3 ? atoi(argv[3]) : 20);
        sn_comm_free(c);
        sn_ctx_free(ctx);
        return 0;
    }
    int bad = run_checks(c, ctx);
    printf("mpi_check: rank %d of %d (%s): %s\n", c->rank, c->size, sn_comm_backend(c),
           bad ? "FAILED" : "ok");
    fflush(stdout);
    /* the checks broke the communicator on purpose; a fresh one finalizes cleanly */
    sn_comm_free(c);
    sn_ctx_free(ctx);
    return bad ? 1 : 0;
}
