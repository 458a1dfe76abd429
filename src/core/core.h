/* core.h -- private core utilities: context, errors, RNG, checked allocation. */
#ifndef SN_CORE_H
#define SN_CORE_H

#include "simnet.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Programmer errors (broken invariants) abort with file:line. Never for input errors. */
#define SN_ASSERT(cond)                                                                   \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "simnet: assertion failed: %s (%s:%d)\n", #cond, __FILE__,   \
                    __LINE__);                                                            \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#define SN_ERRMSG_CAP 1024

struct sn_ctx {
    int n_threads;
    sn_log_fn log_fn;
    void *log_user;
    char err[SN_ERRMSG_CAP];
};

/* Record a formatted error message in ctx (if non-NULL) and return status s. */
sn_status sn_errf(sn_ctx *ctx, sn_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sn_logf(const sn_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checked size arithmetic: return 0 on overflow. */
int sn_mul_size(size_t a, size_t b, size_t *out);

/* Allocation wrappers. NULL on failure or overflow. Release with free(), except
 * sn_aligned_alloc's blocks (sn_aligned_free). The library allocates through these so
 * that the fault hook below can fail any one of its allocations. */
void *sn_malloc(size_t n);                     /* n == 0 allocates 1 byte */
void *sn_realloc(void *p, size_t n);           /* n == 0 keeps 1 byte; p intact on failure */
void *sn_calloc(size_t n, size_t size);        /* zeroed */
char *sn_strdup(const char *s);
void *sn_aligned_alloc(size_t n, size_t size); /* 64-byte aligned, zeroed */
void sn_aligned_free(void *p);

/* Fault injection, for tests only (tests/test_faults.c): after sn_fault_alloc_arm(n),
 * the n-th allocation request from then on (1-based, counted over every thread) fails
 * as if memory were exhausted; the others succeed. n <= 0 disarms. This counter is
 * the library's one piece of global mutable state (an atomic; disarmed it costs one
 * relaxed load per allocation). sn_fault_alloc_check() is what each wrapper calls:
 * it counts the request and returns 1 when that one must fail. */
void sn_fault_alloc_arm(long n);
long sn_fault_alloc_count(void); /* requests counted since the last arm */
int sn_fault_alloc_fired(void);  /* 1 once the armed failure has happened */
int sn_fault_alloc_check(void);

/* ------------------------------------------------------------------- RNG */
/* PCG32 (O'Neill), 64-bit state; no global state. */
typedef struct {
    uint64_t state;
    uint64_t inc;
} sn_rng;

void sn_rng_seed(sn_rng *r, uint64_t seed, uint64_t stream);
uint32_t sn_rng_u32(sn_rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint32_t sn_rng_below(sn_rng *r, uint32_t n);
/* Uniform float in [0,1) with 24 random bits. */
float sn_rng_uniform(sn_rng *r);
/* Uniform in [lo, hi). */
float sn_rng_uniform_range(sn_rng *r, float lo, float hi);
/* Fisher-Yates shuffle of an int array. */
void sn_rng_shuffle_int(sn_rng *r, int *a, int n);

/* Atomic file writing: open a temporary beside `path`, write, then commit (fsync,
 * rename over path) or abandon (ok = 0: the temporary is removed). The previous file at
 * `path` survives every failure. */
typedef struct {
    const char *path;
    char *tmp;
    int fd, err;
} sn_atomic_file;
sn_status sn_atomic_open(sn_ctx *ctx, sn_atomic_file *f, const char *path);
/* Returns 0 after a write error (remembered for commit). */
int sn_atomic_write(sn_atomic_file *f, const void *p, size_t n);
sn_status sn_atomic_commit(sn_ctx *ctx, sn_atomic_file *f, int ok);

/* Monotonic wall-clock seconds. */
double sn_now(void);

#endif
