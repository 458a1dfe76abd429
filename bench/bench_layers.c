/*
 * bench_layers.c -- per-layer time of one training step (forward + backward) of a simnet
 * architecture, with the GFLOP/s of every conv / linear layer and its share of a given
 * FMA peak: where the step's time goes.
 *
 *   bench_layers [--arch A] [--width W] [--embed-dim D] [--batch N] [--threads T]
 *                [--steps R] [--peak GFLOPS] [--cpu-time] [--bf16] [--set]
 *
 * The step is driven layer by layer exactly as sn_model_forward / sn_model_backward do
 * (same plan, same arena; dx zeroed before each layer's backward), on fixed random inputs
 * (1x28x28 for the seed nets, else 3x32x32) and a fixed output gradient. Times are the
 * mean of R steps after 2 warm-up steps; --cpu-time measures process CPU time instead of
 * wall time (less sensitive to other load on the machine, but counts spinning threads).
 * Experiments, not the model's default path:
 *   --bf16  conv layers run sn_conv2d_forward/backward_bf16 (bf16 GEMMs)
 *   --set   conv / bn / pool layers assign dx (the _set kernels) instead of zeroing dx
 *           and accumulating into it
 * FLOP: conv and linear 2 x multiply-adds forward, 2x that backward (dx and dw), 1x for the
 * first layer, whose dx training does not compute.
 */
#define _POSIX_C_SOURCE 200809L
#include "kernels/kernels.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_cpu;

static double now(void) {
    struct timespec ts;
    clock_gettime(g_cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void conv_dims(const sn_layer *L, int N, sn_conv2d_dims *d) {
    d->N = N; d->C = L->in[0]; d->H = L->in[1]; d->W = L->in[2];
    d->M = L->hp[0]; d->KH = d->KW = L->hp[1]; d->stride = L->hp[2]; d->pad = L->hp[3];
    sn_conv2d_dims_init(d);
}

static void pool_dims(const sn_layer *L, int N, sn_pool_dims *d) {
    d->N = N; d->C = L->in[0]; d->H = L->in[1]; d->W = L->in[2];
    d->k = L->hp[0]; d->stride = L->hp[1];
    sn_pool_dims_init(d);
}

static size_t numel(const int s[3]) { return (size_t)s[0] * s[1] * s[2]; }

int main(int argc, char **argv) {
    const char *arch = "seed";
    int N = 256, nt = 2, R = 5, embed_dim = 0, bf16 = 0, set = 0;
    double peak = 0, width = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(k, "--cpu-time")) g_cpu = 1;
        else if (!strcmp(k, "--bf16")) bf16 = 1;
        else if (!strcmp(k, "--set")) set = 1;
        else if (!strcmp(k, "--arch")) arch = v, i++;
        else if (!strcmp(k, "--width")) width = atof(v), i++;
        else if (!strcmp(k, "--embed-dim")) embed_dim = atoi(v), i++;
        else if (!strcmp(k, "--batch")) N = atoi(v), i++;
        else if (!strcmp(k, "--threads")) nt = atoi(v), i++;
        else if (!strcmp(k, "--steps")) R = atoi(v), i++;
        else if (!strcmp(k, "--peak")) peak = atof(v), i++;
        else {
            fprintf(stderr, "bench_layers: unknown option %s\n", k);
            return 2;
        }
    }
    if (N < 1 || nt < 1 || R < 1) return 2;
    const int mnist = !strcmp(arch, "seed") || !strcmp(arch, "seed-relu");
    const int C = mnist ? 1 : 3, HW = mnist ? 28 : 32;
    sn_ctx *ctx = sn_ctx_create(nt);
    if (!ctx) return 1;
    sn_model_config mc = {0};
    mc.arch = arch;
    mc.in_c = C;
    mc.in_h = mc.in_w = HW;
    for (int c = 0; c < 3; c++) mc.mean[c] = 0.5f, mc.std[c] = 0.25f;
    mc.seed = 1;
    mc.width = (float)width;
    mc.embed_dim = embed_dim;
    sn_model *m = NULL;
    if (sn_model_create(ctx, &mc, &m) || sn_model_plan(ctx, m, N)) {
        fprintf(stderr, "bench_layers: %s\n", sn_ctx_error(ctx));
        return 1;
    }
    size_t scr = 1;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == SN_LAYER_CONV2D) {
            sn_conv2d_dims d;
            conv_dims(&m->layers[i], N, &d);
            size_t s = sn_conv2d_scratch_size_bf16(&d, nt);
            if (s > scr) scr = s;
        }
    float *bscr = bf16 ? sn_aligned_alloc(scr, sizeof(float)) : NULL;
    float *dout = malloc(sizeof(float) * (size_t)N * m->embed_dim);
    if ((bf16 && !bscr) || !dout) return 1;
    float *x = sn_model_input(m);
    unsigned s = 7;
    for (size_t i = 0; i < (size_t)N * C * HW * HW; i++)
        x[i] = (float)((s = s * 1103515245u + 12345u) >> 16 & 0x7fff) / 16384.0f - 1.0f;
    for (size_t i = 0; i < (size_t)N * m->embed_dim; i++) dout[i] = 0.01f * (float)((int)(i % 7) - 3);

    double tf[SN_MAX_LAYERS] = {0}, tb[SN_MAX_LAYERS] = {0};
    for (int r = 0; r < R + 2; r++) {
        for (int i = 0; i < m->n_layers; i++) {
            const sn_layer *L = &m->layers[i];
            sn_layer_io io = {0};
            io.N = N, io.train = 1, io.nt = m->nt;
            io.x = i ? m->act + m->layers[i - 1].y_off : m->act;
            io.y = m->act + L->y_off, io.saved = m->act + L->s_off;
            io.p = m->params + L->p_off, io.buf = m->bufs + L->b_off, io.scratch = m->scratch;
            double t0 = now();
            if (bf16 && L->kind == SN_LAYER_CONV2D) {
                sn_conv2d_dims d;
                conv_dims(L, N, &d);
                sn_conv2d_forward_bf16(io.y, io.x, io.p, io.p + L->n_p - L->hp[0], &d, bscr, nt);
            } else {
                sn_layer_ops_get(L->kind)->forward(L, &io);
            }
            if (r >= 2) tf[i] += now() - t0;
        }
        const sn_layer *last = &m->layers[m->n_layers - 1];
        memcpy(m->dact + last->y_off, dout, sizeof(float) * (size_t)N * m->embed_dim);
        for (int i = m->n_layers - 1; i >= 0; i--) {
            const sn_layer *L = &m->layers[i];
            sn_layer_io io = {0};
            io.N = N, io.train = 1, io.nt = m->nt;
            io.x = i ? m->act + m->layers[i - 1].y_off : m->act;
            io.y = m->act + L->y_off, io.saved = m->act + L->s_off;
            io.p = m->params + L->p_off, io.dp = m->grads + L->p_off;
            io.buf = m->bufs + L->b_off, io.dy = m->dact + L->y_off, io.scratch = m->scratch;
            float *dx = i ? m->dact + m->layers[i - 1].y_off : NULL; /* none for the input */
            io.dx = dx;
            const sn_layer_kind k = L->kind;
            const int sk = dx && set && (k == SN_LAYER_CONV2D || k == SN_LAYER_BATCHNORM ||
                                         k == SN_LAYER_MAXPOOL || k == SN_LAYER_AVGPOOL);
            double t0 = now();
            if (dx && !sk) memset(dx, 0, sizeof(float) * (size_t)N * numel(L->in));
            if (k == SN_LAYER_CONV2D && (bf16 || sk)) {
                sn_conv2d_dims d;
                conv_dims(L, N, &d);
                float *dw = io.dp, *db = io.dp + L->n_p - L->hp[0];
                if (bf16 && sk) sn_conv2d_backward_set_bf16(dx, dw, db, io.dy, io.x, io.p, &d, bscr, nt);
                else if (bf16) sn_conv2d_backward_bf16(dx, dw, db, io.dy, io.x, io.p, &d, bscr, nt);
                else sn_conv2d_backward_set_f32(dx, dw, db, io.dy, io.x, io.p, &d, io.scratch, nt);
            } else if (sk && k == SN_LAYER_BATCHNORM) {
                const int c = L->in[0], S = L->in[1] * L->in[2];
                sn_batchnorm_backward_set_f32(dx, io.dp, io.dp + c, io.dy, io.x, io.saved,
                                              io.saved + c, io.p, N, c, S, nt);
            } else if (sk && k == SN_LAYER_MAXPOOL) {
                sn_pool_dims d;
                pool_dims(L, N, &d);
                sn_maxpool2d_backward_set_f32(dx, io.dy, (const int32_t *)(const void *)io.saved, &d, nt);
            } else if (sk && k == SN_LAYER_AVGPOOL) {
                sn_pool_dims d;
                pool_dims(L, N, &d);
                sn_avgpool2d_backward_set_f32(dx, io.dy, &d, nt);
            } else {
                sn_layer_ops_get(k)->backward(L, &io);
            }
            if (r >= 2) tb[i] += now() - t0;
        }
    }
    printf("# %s: batch %d, %d threads, %s time, %s convs%s; mean of %d steps\n", arch, N, nt,
           g_cpu ? "CPU" : "wall", bf16 ? "bf16" : "fp32", set ? ", dx assigned (_set)" : "", R);
    printf("%3s %-8s %-13s %-13s %9s %8s %9s %8s %7s\n", "#", "layer", "in", "out", "fwd ms",
           "GFLOP/s", "bwd ms", "GFLOP/s", peak > 0 ? "% peak" : "");
    double sf = 0, sb = 0, conv_t = 0, conv_fl = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const sn_layer *L = &m->layers[i];
        double fl = 0;
        if (L->kind == SN_LAYER_CONV2D)
            fl = 2.0 * N * numel(L->out) * L->in[0] * L->hp[1] * L->hp[1];
        else if (L->kind == SN_LAYER_LINEAR)
            fl = 2.0 * N * numel(L->in) * L->hp[0];
        const double f = tf[i] / R, b = tb[i] / R, fb = i ? 2 * fl : fl; /* backward FLOP */
        char in[24], out[24], pk[16] = "";
        snprintf(in, sizeof in, "%dx%dx%d", L->in[0], L->in[1], L->in[2]);
        snprintf(out, sizeof out, "%dx%dx%d", L->out[0], L->out[1], L->out[2]);
        if (fl > 0 && peak > 0) snprintf(pk, sizeof pk, "%.0f%%", 100 * (fl + fb) / (f + b) * 1e-9 / peak);
        printf("%3d %-8s %-13s %-13s %9.3f %8.1f %9.3f %8.1f %7s\n", i + 1,
               sn_layer_ops_get(L->kind)->name, in, out, 1e3 * f, fl > 0 ? fl / f * 1e-9 : 0.0,
               1e3 * b, fl > 0 ? fb / b * 1e-9 : 0.0, pk);
        sf += f, sb += b;
        if (L->kind == SN_LAYER_CONV2D) conv_t += f + b, conv_fl += fl + fb;
    }
    printf("step: forward %.2f ms + backward %.2f ms = %.2f ms (%.1f images/s); convolutions "
           "%.0f%% of it at %.1f GFLOP/s%s",
           1e3 * sf, 1e3 * sb, 1e3 * (sf + sb), N / (sf + sb), 100 * conv_t / (sf + sb),
           conv_fl / conv_t * 1e-9, peak > 0 ? "" : "\n");
    if (peak > 0) printf(" (%.0f%% of %.1f)\n", 100 * conv_fl / conv_t * 1e-9 / peak, peak);
    free(dout);
    sn_aligned_free(bscr);
    sn_model_free(m);
    sn_ctx_free(ctx);
    return 0;
}
