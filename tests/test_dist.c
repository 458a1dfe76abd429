/* test_dist.c -- the communicator without a launcher: sn_comm_create gives the
 * single-process backend (rank 0 of 1, no MPI call); its collectives are the identity
 * (all-gather a copy, with counts), an undersized gather fails with a message and
 * breaks the communicator; launcher detection from the environment; the timeout from
 * $SIMNET_COMM_TIMEOUT (bad values rejected); sn_comm_share cuts any total into
 * contiguous rank-ordered shares differing by at most one; built without MPI, a
 * launcher's environment with several ranks is refused.
 * (Several ranks: tests/cli_mpi.sh runs tests/mpi_check.c under mpirun.) */
#define _POSIX_C_SOURCE 200809L
#include "dist/dist.h"
#include "testutil.h"

#include <string.h>

static void test_env(void) {
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_RANK");
    CHECK(sn_comm_launched_size() == 0);
    setenv("PMIX_RANK", "0", 1);
    CHECK(sn_comm_launched_size() == 1);
    setenv("PMI_SIZE", "4", 1);
    CHECK(sn_comm_launched_size() == 4);
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    CHECK(sn_comm_launched_size() == 3);
    setenv("OMPI_COMM_WORLD_SIZE", "junk", 1);
    CHECK(sn_comm_launched_size() == 4);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_RANK");
}

static void test_local(sn_ctx *ctx) {
    sn_comm *c = NULL;
    unsetenv("SIMNET_COMM_TIMEOUT");
    CHECK(sn_comm_create(ctx, NULL, NULL, &c) == SN_OK && c);
    if (!c) return;
    CHECK(sn_comm_rank(c) == 0 && sn_comm_size(c) == 1);
    CHECK(strcmp(sn_comm_backend(c), "local") == 0);
    CHECK(c->timeout_s == SN_COMM_DEFAULT_TIMEOUT);
    sn_comm_set_timeout(c, 7.5);
    CHECK(c->timeout_s == 7.5);

    float x[5] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f}, x0[5];
    memcpy(x0, x, sizeof x);
    CHECK(sn_comm_allreduce_f32(c, x, 5, SN_REDUCE_ORDERED) == SN_OK);
    CHECK(sn_comm_allreduce_f32(c, x, 5, SN_REDUCE_NATIVE) == SN_OK);
    CHECK(memcmp(x, x0, sizeof x) == 0);
    double d[2] = {0.1, -3.0};
    CHECK(sn_comm_allreduce_f64(c, d, 2) == SN_OK && d[0] == 0.1 && d[1] == -3.0);
    CHECK(sn_comm_bcast(c, x, sizeof x, 0) == SN_OK && memcmp(x, x0, sizeof x) == 0);
    CHECK(sn_comm_barrier(c) == SN_OK);

    float rows[6] = {1, 2, 3, 4, 5, 6}, all[9] = {0};
    int rows_of[1] = {-1}, total = -1;
    CHECK(sn_comm_allgather_f32(c, rows, 2, 3, all, 3, rows_of, &total) == SN_OK);
    CHECK(rows_of[0] == 2 && total == 2 && memcmp(all, rows, sizeof rows) == 0 && all[6] == 0);
    int32_t lab[3] = {7, 8, 9}, lall[3] = {0};
    CHECK(sn_comm_allgather_i32(c, lab, 3, lall, 3, NULL, &total) == SN_OK && total == 3);
    CHECK(memcmp(lab, lall, sizeof lab) == 0);
    /* empty contribution */
    CHECK(sn_comm_allgather_i32(c, lab, 0, lall, 3, rows_of, &total) == SN_OK && total == 0 &&
          rows_of[0] == 0);
    CHECK(c->calls == 0); /* one rank: nothing reached a backend */

    /* undersized: fails with a message, then the communicator refuses work */
    CHECK(sn_comm_allgather_f32(c, rows, 2, 3, all, 1, NULL, NULL) == SN_ERR_ARG);
    CHECK(strstr(sn_ctx_error(ctx), "do not fit") != NULL);
    CHECK(sn_comm_barrier(c) == SN_ERR_IO);
    CHECK(strstr(sn_ctx_error(ctx), "failed earlier") != NULL);
    sn_comm_abort(c, 1); /* returns for one process */
    sn_comm_free(c);
    sn_comm_free(NULL);
    CHECK(sn_comm_rank(NULL) == 0 && sn_comm_size(NULL) == 1);
}

static void test_timeout_env(sn_ctx *ctx) {
    sn_comm *c = NULL;
    setenv("SIMNET_COMM_TIMEOUT", "12", 1);
    CHECK(sn_comm_create(ctx, NULL, NULL, &c) == SN_OK && c && c->timeout_s == 12.0);
    sn_comm_free(c);
    c = NULL;
    setenv("SIMNET_COMM_TIMEOUT", "12s", 1);
    CHECK(sn_comm_create(ctx, NULL, NULL, &c) == SN_ERR_ARG && !c);
    CHECK(strstr(sn_ctx_error(ctx), "SIMNET_COMM_TIMEOUT=12s") != NULL);
    unsetenv("SIMNET_COMM_TIMEOUT");
}

/* Built without MPI: under a launcher with several ranks sn_comm_create refuses (each
 * rank would train alone); with one rank it is the local communicator. */
static void test_without_mpi(sn_ctx *ctx) {
#if !SN_TEST_MPI
    sn_comm *c = NULL;
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    CHECK(sn_comm_create(ctx, NULL, NULL, &c) == SN_ERR_UNSUPPORTED && !c);
    CHECK(strstr(sn_ctx_error(ctx), "built without MPI") != NULL);
    CHECK(strstr(sn_ctx_error(ctx), "2 ranks") != NULL);
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    CHECK(sn_comm_create(ctx, NULL, NULL, &c) == SN_OK && c && sn_comm_size(c) == 1);
    sn_comm_free(c);
    unsetenv("OMPI_COMM_WORLD_SIZE");
#else
    (void)ctx; /* MPI builds: tests/cli_mpi.sh runs the MPI backend under mpirun */
#endif
}

static void test_share(void) {
    const long totals[] = {0, 1, 5, 64, 127, 128, 1001};
    for (int t = 0; t < 7; t++)
        for (int p = 1; p <= 9; p++) {
            long prev = 0, mn = 1L << 40, mx = -1;
            for (int r = 0; r < p; r++) {
                long lo, hi;
                sn_comm_share(totals[t], r, p, &lo, &hi);
                CHECK(lo == prev && hi >= lo);
                prev = hi;
                if (hi - lo < mn) mn = hi - lo;
                if (hi - lo > mx) mx = hi - lo;
            }
            CHECK(prev == totals[t] && mx - mn <= 1);
        }
}

int main(void) {
    sn_ctx *ctx = sn_ctx_create(1);
    SN_ASSERT(ctx);
    test_env();
    test_local(ctx);
    test_timeout_env(ctx);
    test_without_mpi(ctx);
    test_share();
    sn_ctx_free(ctx);
    return tu_finish("test_dist");
}
