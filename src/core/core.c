/* core.c -- context, error reporting, checked allocation, RNG, clock. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include "kernels/kernels.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *sn_status_str(sn_status s) {
    switch (s) {
    case SN_OK: return "ok";
    case SN_ERR_ARG: return "invalid argument";
    case SN_ERR_IO: return "I/O error";
    case SN_ERR_FORMAT: return "malformed file";
    case SN_ERR_NOMEM: return "out of memory";
    case SN_ERR_NUMERIC: return "numerical error";
    case SN_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

sn_ctx *sn_ctx_create(int n_threads) {
    sn_ctx *ctx = sn_calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > 256) n_threads = 256;
    ctx->n_threads = n_threads;
    sn_gemm_init(); /* BLAS single-threaded: our OpenMP threads split the work */
    return ctx;
}

void sn_ctx_free(sn_ctx *ctx) { free(ctx); }
int sn_ctx_threads(const sn_ctx *ctx) { return ctx->n_threads; }
const char *sn_ctx_error(const sn_ctx *ctx) { return ctx->err; }

void sn_ctx_set_log(sn_ctx *ctx, sn_log_fn fn, void *user) {
    ctx->log_fn = fn;
    ctx->log_user = user;
}

sn_status sn_errf(sn_ctx *ctx, sn_status s, const char *fmt, ...) {
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
        va_end(ap);
    }
    return s;
}

void sn_logf(const sn_ctx *ctx, int level, const char *fmt, ...) {
    if (!ctx || !ctx->log_fn) return;
    char buf[SN_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_user, level, buf);
}

int sn_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* ------------------------------------------------------- fault injection */
static _Atomic long sn_fault_target; /* 0 = disarmed */
static _Atomic long sn_fault_seen;
static _Atomic int sn_fault_hit;

void sn_fault_alloc_arm(long n) {
    atomic_store(&sn_fault_target, 0);
    atomic_store(&sn_fault_seen, 0);
    atomic_store(&sn_fault_hit, 0);
    atomic_store(&sn_fault_target, n > 0 ? n : 0);
}
long sn_fault_alloc_count(void) { return atomic_load(&sn_fault_seen); }
int sn_fault_alloc_fired(void) { return atomic_load(&sn_fault_hit); }

int sn_fault_alloc_check(void) {
    long target = atomic_load_explicit(&sn_fault_target, memory_order_relaxed);
    if (target <= 0) return 0;
    if (atomic_fetch_add(&sn_fault_seen, 1) + 1 != target) return 0;
    atomic_store(&sn_fault_hit, 1);
    return 1;
}

/* ------------------------------------------------------------ allocation */
void *sn_malloc(size_t n) {
    if (sn_fault_alloc_check()) return NULL;
    return malloc(n ? n : 1);
}

void *sn_realloc(void *p, size_t n) {
    if (sn_fault_alloc_check()) return NULL;
    return realloc(p, n ? n : 1);
}

void *sn_calloc(size_t n, size_t size) {
    size_t total;
    if (!sn_mul_size(n, size, &total) || sn_fault_alloc_check()) return NULL;
    return calloc(total ? total : 1, 1);
}

char *sn_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = sn_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void *sn_aligned_alloc(size_t n, size_t size) {
    size_t total;
    if (!sn_mul_size(n, size, &total)) return NULL;
    if (total > SIZE_MAX - 64) return NULL;
    total = (total + 63) & ~(size_t)63;
    if (total == 0) total = 64;
    if (sn_fault_alloc_check()) return NULL;
    void *p = aligned_alloc(64, total);
    if (p) memset(p, 0, total);
    return p;
}

void sn_aligned_free(void *p) { free(p); }

/* ------------------------------------------------------------------ PCG32 */
uint32_t sn_rng_u32(sn_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

void sn_rng_seed(sn_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0u;
    r->inc = (stream << 1u) | 1u;
    sn_rng_u32(r);
    r->state += seed;
    sn_rng_u32(r);
}

uint32_t sn_rng_below(sn_rng *r, uint32_t n) {
    SN_ASSERT(n > 0);
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = sn_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float sn_rng_uniform(sn_rng *r) { return (float)(sn_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float sn_rng_uniform_range(sn_rng *r, float lo, float hi) {
    return lo + (hi - lo) * sn_rng_uniform(r);
}

void sn_rng_shuffle_int(sn_rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)sn_rng_below(r, (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

double sn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
