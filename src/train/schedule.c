/*
 * schedule.c -- per-step learning-rate schedules.
 *
 * step i (0-based global index), T = total steps, W = warm-up steps, base = base LR.
 *   warm-up (constant, step, cosine): factor (i + 1) / W while i < W, so the first
 *                step already moves (torch LinearLR from 1/W)
 *   constant     base
 *   step         base * gamma^floor((epoch - 1) / step_epochs)   (torch StepLR per epoch)
 *   cosine       after warm-up: base * (1 + cos(pi (i - W) / (T - W))) / 2
 *                (torch CosineAnnealingLR with eta_min 0, T_max = T - W)
 *   onecycle     torch OneCycleLR(max_lr = base, total_steps = T, pct_start = W / T or
 *                0.3 when W = 0, anneal 'cos', div_factor 25, final_div_factor 1e4):
 *                e1 = pct_start T - 1, e2 = T - 1, a(s, e, p) = e + (s - e)(1 + cos(pi p))/2
 *                i <= e1: a(base/25, base, i / e1);  else a(base, base/25e4, (i - e1)/(e2 - e1))
 *                (momentum is not cycled).
 *   triangle     piecewise linear (airbench): factor 0.2 at i = 0 rising to 1 at i = W
 *                (W = 23 % of T when no warm-up is given), then falling to 0.07 at i = T.
 * Scalars in double, result rounded to float once.
 */
#include "train/train.h"

#include <math.h>
#include <string.h>

#define SN_PI 3.14159265358979323846

int sn_sched_kind_from_name(const char *name) {
    static const char *names[] = {"constant", "step", "cosine", "onecycle", "triangle"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

static double cos_anneal(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (1.0 + cos(SN_PI * pct));
}

float sn_schedule_lr(const sn_schedule *s, long step, int epoch) {
    const double base = s->base_lr, T = (double)s->total_steps, W = (double)s->warmup_steps;
    const double i = (double)step;
    if (s->kind == SN_SCHED_ONECYCLE) {
        double pct_start = s->warmup_steps > 0 ? W / T : 0.3;
        double e1 = pct_start * T - 1.0, e2 = T - 1.0, init = base / 25.0, fin = init / 1e4;
        if (i <= e1) return (float)cos_anneal(init, base, e1 > 0 ? i / e1 : 1.0);
        return (float)cos_anneal(base, fin, e2 > e1 ? (i - e1) / (e2 - e1) : 1.0);
    }
    if (s->kind == SN_SCHED_TRIANGLE) {
        const double w = s->warmup_steps > 0 ? W : floor(0.23 * T);
        if (i < w) return (float)(base * (0.2 + 0.8 * i / w));
        return (float)(base * (1.0 + (0.07 - 1.0) * (T > w ? (i - w) / (T - w) : 1.0)));
    }
    double warm = s->warmup_steps > 0 && step < s->warmup_steps ? (i + 1.0) / W : 1.0;
    switch (s->kind) {
    case SN_SCHED_STEP: {
        int k = s->step_epochs > 0 ? (epoch - 1) / s->step_epochs : 0;
        return (float)(base * pow((double)s->gamma, (double)k) * warm);
    }
    case SN_SCHED_COSINE:
        if (step < s->warmup_steps) return (float)(base * warm);
        return (float)(base * 0.5 * (1.0 + cos(SN_PI * (i - W) / (T - W > 1.0 ? T - W : 1.0))));
    default: return (float)(base * warm);
    }
}
