/* testutil.h -- minimal test harness: CHECK macros and a pass/fail summary. */
#ifndef SN_TESTUTIL_H
#define SN_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern int tu_failures;
extern int tu_checks;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        tu_checks++;                                                                     \
        if (!(cond)) {                                                                   \
            tu_failures++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                                    \
    do {                                                                                 \
        double _a = (double)(a), _b = (double)(b);                                       \
        tu_checks++;                                                                     \
        if (!(fabs(_a - _b) <= (atol) + (rtol)*fabs(_b)) || _a != _a) {                  \
            tu_failures++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s = %.9g, expected %s = %.9g\n", __FILE__,     \
                    __LINE__, #a, _a, #b, _b);                                           \
        }                                                                                \
    } while (0)

/* Print "<name>: N passed, M failed" and return the exit code for main(). */
int tu_finish(const char *name);
/* Directory for temporary files ($SIMNET_TEST_TMP or /tmp). */
const char *tu_tmpdir(void);
/* Max relative difference max|a-b| / max(max|b|, tiny), for arrays. */
double tu_max_rel_diff(const float *a, const float *b, size_t n);
/* Zeroed arrays of n (>= 0) floats / doubles; abort() when out of memory (tests only). */
float *tu_fbuf(size_t n);
double *tu_dbuf(size_t n);

#endif
