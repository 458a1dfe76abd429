/* test_gradcheck.c -- central finite differences in double on every _ref kernel.
 *
 * For each layer, loss L = sum(y * r) with a fixed random r, so dL/dy = r. The analytic
 * gradient from the _ref backward (with dy = r, into zeroed buffers) is compared with
 * (L(p + h) - L(p - h)) / 2h, h = 1e-6, for every element of every input / parameter.
 * Tolerance: max|analytic - fd| / max|fd| <= 1e-6 (double rounding in the FD quotient is
 * ~1e-10 relative here). Every check also FAILS if the analytic gradient is all zeros.
 * Inputs stay away from kinks: ReLU inputs |x| >= 0.1, max-pool inputs distinct with gaps
 * of >= 0.01, l2norm row norms far from eps. */
#include "core/core.h"
#include "kernels/kernels.h"
#include "testutil.h"

#include <string.h>

#define FD_STEP 1e-6
#define FD_RTOL 1e-6

static sn_rng g_rng;

static double *dbuf(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) abort();
    return p;
}
static void fill(double *a, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * sn_rng_uniform(&g_rng);
}
static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Compare analytic gradient g of loss(ctx) w.r.t. p[0..n) with central differences.
 * Returns 1 if it passes (non-zero gradient and within tolerance); prints on failure
 * when verbose. p is restored. */
static int grad_ok(const char *what, loss_fn loss, void *ctx, double *p, const double *g,
                   size_t n, int verbose) {
    double gmax = 0.0, fmax = 0.0, dmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        double save = p[i];
        p[i] = save + FD_STEP;
        double lp = loss(ctx);
        p[i] = save - FD_STEP;
        double lm = loss(ctx);
        p[i] = save;
        double fd = (lp - lm) / (2.0 * FD_STEP);
        if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
        if (fabs(fd) > fmax) fmax = fabs(fd);
        double dd = fabs(g[i] - fd);
        if (dd > dmax || dd != dd) dmax = dd != dd ? INFINITY : dd;
    }
    double rel = dmax / (fmax > 0.0 ? fmax : 1e-300);
    int ok = gmax > 0.0 && rel <= FD_RTOL;
    if (!ok && verbose)
        fprintf(stderr, "FAIL gradcheck %s: max|grad| %.3g, max rel diff vs FD %.3g (tol %.0e)\n",
                what, gmax, rel, FD_RTOL);
    return ok;
}

static void check_grad(const char *what, loss_fn loss, void *ctx, double *p, const double *g,
                       size_t n) {
    tu_checks++;
    if (!grad_ok(what, loss, ctx, p, g, n, 1)) tu_failures++;
}

/* ---------------------------------------------------------------- conv2d */
typedef struct {
    sn_conv2d_dims d;
    double *x, *w, *b, *y, *r;
} conv_ctx;

static double conv_loss(void *vc) {
    conv_ctx *c = vc;
    sn_conv2d_forward_ref(c->y, c->x, c->w, c->b, &c->d);
    return dot(c->y, c->r, (size_t)c->d.N * c->d.M * c->d.OH * c->d.OW);
}

static void test_conv(sn_conv2d_dims d) {
    CHECK(sn_conv2d_dims_init(&d) == 1);
    const size_t nx = (size_t)d.N * d.C * d.H * d.W, nw = (size_t)d.M * d.C * d.KH * d.KW;
    const size_t ny = (size_t)d.N * d.M * d.OH * d.OW;
    conv_ctx c = {d, dbuf(nx), dbuf(nw), dbuf(d.M), dbuf(ny), dbuf(ny)};
    fill(c.x, nx, -1, 1), fill(c.w, nw, -1, 1), fill(c.b, d.M, -1, 1), fill(c.r, ny, -1, 1);
    double *dx = dbuf(nx), *dw = dbuf(nw), *db = dbuf(d.M);
    sn_conv2d_backward_ref(dx, dw, db, c.r, c.x, c.w, &d);
    check_grad("conv2d dx", conv_loss, &c, c.x, dx, nx);
    check_grad("conv2d dw", conv_loss, &c, c.w, dw, nw);
    check_grad("conv2d db", conv_loss, &c, c.b, db, d.M);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db);
}

/* ------------------------------------------------------------- batchnorm */
typedef struct {
    int N, C, S;
    double *x, *g, *b, *y, *mean, *rstd, *r;
} bn_ctx;

static double bn_loss(void *vc) {
    bn_ctx *c = vc;
    sn_batchnorm_forward_train_ref(c->y, c->mean, c->rstd, c->x, c->g, c->b, c->N, c->C, c->S,
                                   1e-5);
    return dot(c->y, c->r, (size_t)c->N * c->C * c->S);
}

static void test_batchnorm(int N, int C, int S) {
    const size_t nx = (size_t)N * C * S;
    bn_ctx c = {N, C, S, dbuf(nx), dbuf(C), dbuf(C), dbuf(nx), dbuf(C), dbuf(C), dbuf(nx)};
    fill(c.x, nx, -1, 2), fill(c.g, C, 0.5, 1.5), fill(c.b, C, -1, 1), fill(c.r, nx, -1, 1);
    double *dx = dbuf(nx), *dg = dbuf(C), *db = dbuf(C);
    bn_loss(&c); /* saved mean / rstd */
    sn_batchnorm_backward_ref(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.g, N, C, S);
    char tag[64];
    snprintf(tag, sizeof tag, "batchnorm(N%d,C%d,S%d) dx", N, C, S);
    check_grad(tag, bn_loss, &c, c.x, dx, nx);
    check_grad("batchnorm dgamma", bn_loss, &c, c.g, dg, C);
    check_grad("batchnorm dbeta", bn_loss, &c, c.b, db, C);
    free(c.x), free(c.g), free(c.b), free(c.y), free(c.mean), free(c.rstd), free(c.r);
    free(dx), free(dg), free(db);
}

/* ------------------------------------------------------------------ pool */
typedef struct {
    sn_pool_dims d;
    int max;
    double *x, *y, *r;
    int32_t *am;
} pool_ctx;

static double pool_loss(void *vc) {
    pool_ctx *c = vc;
    if (c->max)
        sn_maxpool2d_forward_ref(c->y, c->am, c->x, &c->d);
    else
        sn_avgpool2d_forward_ref(c->y, c->x, &c->d);
    return dot(c->y, c->r, (size_t)c->d.N * c->d.C * c->d.OH * c->d.OW);
}

static void test_pool(int max, int N, int C, int H, int W, int k, int s) {
    sn_pool_dims d = {N, C, H, W, k, s, 0, 0};
    CHECK(sn_pool_dims_init(&d) == 1);
    const size_t nx = (size_t)N * C * H * W, ny = (size_t)N * C * d.OH * d.OW;
    pool_ctx c = {d, max, dbuf(nx), dbuf(ny), dbuf(ny), calloc(ny, sizeof(int32_t))};
    if (!c.am) abort();
    /* distinct values 0.01 apart in random order: no ties, far from kinks for h = 1e-6 */
    int *perm = malloc(nx * sizeof(int));
    if (!perm) abort();
    for (size_t i = 0; i < nx; i++) perm[i] = (int)i;
    sn_rng_shuffle_int(&g_rng, perm, (int)nx);
    for (size_t i = 0; i < nx; i++) c.x[i] = 0.01 * perm[i] - 0.5;
    fill(c.r, ny, -1, 1);
    double *dx = dbuf(nx);
    pool_loss(&c);
    if (max)
        sn_maxpool2d_backward_ref(dx, c.r, c.am, &d);
    else
        sn_avgpool2d_backward_ref(dx, c.r, &d);
    check_grad(max ? "maxpool dx" : "avgpool dx", pool_loss, &c, c.x, dx, nx);
    free(c.x), free(c.y), free(c.r), free(c.am), free(perm), free(dx);
}

/* ---------------------------------------------------------------- linear */
typedef struct {
    int N, I, O;
    double *x, *w, *b, *y, *r;
} lin_ctx;

static double lin_loss(void *vc) {
    lin_ctx *c = vc;
    sn_linear_forward_ref(c->y, c->x, c->w, c->b, c->N, c->I, c->O);
    return dot(c->y, c->r, (size_t)c->N * c->O);
}

static void test_linear(void) {
    const int N = 3, I = 7, O = 5;
    lin_ctx c = {N, I, O, dbuf((size_t)N * I), dbuf((size_t)O * I), dbuf(O), dbuf((size_t)N * O),
                 dbuf((size_t)N * O)};
    fill(c.x, (size_t)N * I, -1, 1), fill(c.w, (size_t)O * I, -1, 1), fill(c.b, O, -1, 1);
    fill(c.r, (size_t)N * O, -1, 1);
    double *dx = dbuf((size_t)N * I), *dw = dbuf((size_t)O * I), *db = dbuf(O);
    sn_linear_backward_ref(dx, dw, db, c.r, c.x, c.w, N, I, O);
    check_grad("linear dx", lin_loss, &c, c.x, dx, (size_t)N * I);
    check_grad("linear dw", lin_loss, &c, c.w, dw, (size_t)O * I);
    check_grad("linear db", lin_loss, &c, c.b, db, O);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db);
}

/* ------------------------------------------------------------ activations */
typedef struct {
    size_t n;
    double *x, *y, *r;
} relu_ctx;

static double relu_loss(void *vc) {
    relu_ctx *c = vc;
    sn_relu_forward_ref(c->y, c->x, c->n);
    return dot(c->y, c->r, c->n);
}

static void test_relu(void) {
    const size_t n = 57;
    relu_ctx c = {n, dbuf(n), dbuf(n), dbuf(n)};
    for (size_t i = 0; i < n; i++) { /* |x| in [0.1, 1.1), both signs */
        double m = 0.1 + sn_rng_uniform(&g_rng);
        c.x[i] = (i % 3 == 0) ? -m : m;
    }
    fill(c.r, n, -1, 1);
    double *dx = dbuf(n);
    relu_loss(&c);
    sn_relu_backward_ref(dx, c.r, c.y, n);
    check_grad("relu dx", relu_loss, &c, c.x, dx, n);
    free(c.x), free(c.y), free(c.r), free(dx);
}

typedef struct {
    int N, D;
    double eps;
    double *x, *y, *norm, *r;
} l2_ctx;

static double l2_loss(void *vc) {
    l2_ctx *c = vc;
    sn_l2norm_forward_ref(c->y, c->norm, c->x, c->N, c->D, c->eps);
    return dot(c->y, c->r, (size_t)c->N * c->D);
}

/* Row 0 is scaled by row0_scale; with eps large it is the clamped case (norm < eps). */
static void test_l2norm(double eps, double row0_scale, const char *what) {
    const int N = 4, D = 6;
    const size_t n = (size_t)N * D;
    l2_ctx c = {N, D, eps, dbuf(n), dbuf(n), dbuf(N), dbuf(n)};
    fill(c.x, n, -1, 1), fill(c.r, n, -1, 1);
    for (int i = 0; i < D; i++) c.x[i] *= row0_scale;
    double *dx = dbuf(n);
    l2_loss(&c);
    sn_l2norm_backward_ref(dx, c.r, c.y, c.norm, N, D, eps);
    check_grad(what, l2_loss, &c, c.x, dx, n);
    /* the clamped row must take the clamped branch and be checked on its own too */
    if (c.norm[0] < eps) check_grad("l2norm dx (clamped row)", l2_loss, &c, c.x, dx, (size_t)D);
    free(c.x), free(c.y), free(c.norm), free(c.r), free(dx);
}

/* The checker itself must reject an all-zero and a wrong gradient. */
static void test_checker_rejects(void) {
    const int N = 2, I = 3, O = 2;
    lin_ctx c = {N, I, O, dbuf((size_t)N * I), dbuf((size_t)O * I), dbuf(O), dbuf((size_t)N * O),
                 dbuf((size_t)N * O)};
    fill(c.x, (size_t)N * I, -1, 1), fill(c.w, (size_t)O * I, -1, 1);
    fill(c.r, (size_t)N * O, -1, 1);
    double *zero = dbuf((size_t)N * I), *dx = dbuf((size_t)N * I), *dw = dbuf((size_t)O * I);
    CHECK(!grad_ok("zero", lin_loss, &c, c.x, zero, (size_t)N * I, 0));
    sn_linear_backward_ref(dx, dw, NULL, c.r, c.x, c.w, N, I, O);
    CHECK(grad_ok("right", lin_loss, &c, c.x, dx, (size_t)N * I, 1));
    dx[1] *= 1.001; /* one element off by 0.1% */
    CHECK(!grad_ok("wrong", lin_loss, &c, c.x, dx, (size_t)N * I, 0));
    free(zero), free(dx), free(dw), free(c.x), free(c.w), free(c.b), free(c.y), free(c.r);
}

int main(void) {
    sn_rng_seed(&g_rng, 2024, 7);
    test_conv((sn_conv2d_dims){2, 3, 6, 7, 4, 3, 3, 2, 1, 0, 0});
    test_conv((sn_conv2d_dims){1, 2, 5, 5, 3, 2, 3, 1, 0, 0, 0});
    test_batchnorm(5, 3, 1); /* batchnorm1d, n = 5 */
    test_batchnorm(2, 3, 6); /* batchnorm2d, n = 12 */
    test_pool(1, 2, 2, 7, 5, 3, 2);
    test_pool(1, 1, 3, 4, 6, 2, 2);
    test_pool(0, 2, 2, 7, 5, 3, 2);
    test_linear();
    test_relu();
    test_l2norm(1e-12, 1.0, "l2norm dx (unclamped)");
    test_l2norm(0.5, 0.05, "l2norm dx (row 0 clamped)");
    test_checker_rejects();
    return tu_finish("test_gradcheck");
}
