/* gelu.c -- GELU, y = x Phi(x) with Phi the standard normal CDF (torch.nn.GELU(), the
 * exact erf form), fast float32 and a double reference.
 *
 *   forward   y  = x Phi(x)
 *   backward  dx = dy (Phi(x) + x phi(x)),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
 *
 * The float path evaluates Phi through erfc with the Chebyshev fit of Numerical Recipes'
 * erfcc (fractional error < 1.2e-7 for every argument): with z = |x|/sqrt 2 and
 * t = 1/(1 + z/2), erfc(z) = t exp(-z^2 + P(t)); Phi(x) = erfc(z)/2 for x < 0 and
 * 1 - erfc(z)/2 otherwise. exp is a Cody-Waite range reduction and a degree-6
 * polynomial in plain arithmetic, so the loops vectorise (no libm call inside), and the
 * result does not depend on the CPU's vector width. Measured against the double
 * reference over [-10, 10]: tests/test_gelu.c. Saved for backward: nothing (x is the
 * layer's input). Elementwise, split over threads in fixed blocks (thread-independent). */
#include "kernels/gelu.h"

#include "core/core.h"

#include <math.h>
#include <stdint.h>

#define SN_GELU_BLOCK 16384
#define SN_GELU_PAR_MIN 65536

/* e^x for x <= 0 (arguments here are never positive): x = n ln2 + r, |r| <= ln2/2, e^r
 * by Taylor to r^6 (relative error ~2e-7), 2^n built in the exponent bits; x < -87
 * gives 0. Branch-free (rounding by the 1.5 * 2^23 trick, selects by multiplication) so
 * that the loops vectorise without -ffast-math. */
static inline float exp_poly(float x) {
    const float keep = (float)(x > -87.0f);
    /* out-of-range arguments (also NaN and -inf, where x * 0 would stay NaN and the
     * float -> int conversion below would be undefined) evaluate e^0, then are zeroed */
    x = x > -87.0f ? x : 0.0f;
    const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { uint32_t i; float f; } s = {.i = (uint32_t)((int32_t)n + 127) << 23};
    return p * s.f * keep;
}

/* erfc(|x| / sqrt 2) */
static inline float erfc_half(float x) {
    const float z = fabsf(x) * 0.70710678f, t = 1.0f / (1.0f + 0.5f * z);
    float q = 0.17087277f;
    q = q * t - 0.82215223f;
    q = q * t + 1.48851587f;
    q = q * t - 1.13520398f;
    q = q * t + 0.27886807f;
    q = q * t - 0.18628806f;
    q = q * t + 0.09678418f;
    q = q * t + 0.37409196f;
    q = q * t + 1.00002368f;
    q = q * t - 1.26551223f;
    return t * exp_poly(q - z * z);
}

/* dy (Phi(v) + v phi(v)) */
static inline float gelu_grad(float v, float dy) {
    const float ec = erfc_half(v), cdf = 0.5f * ec + (float)(v >= 0.0f) * (1.0f - ec);
    return dy * (cdf + v * exp_poly(-0.5f * v * v) * 0.39894228f);
}

void sn_gelu_forward_f32(float *y, const float *x, size_t n, int nt) {
    SN_ASSERT(nt >= 1);
    const long nb = (long)((n + SN_GELU_BLOCK - 1) / SN_GELU_BLOCK);
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= SN_GELU_PAR_MIN)
    for (long k = 0; k < nb; k++) {
        const size_t i0 = (size_t)k * SN_GELU_BLOCK;
        const size_t i1 = n - i0 < SN_GELU_BLOCK ? n : i0 + SN_GELU_BLOCK;
        const float *xs = x; /* locals: the shared pointers would be reloaded per element */
        float *ys = y;
#pragma omp simd
        for (size_t i = i0; i < i1; i++) {
            const float v = xs[i], ec = erfc_half(v);
            ys[i] = v * (0.5f * ec + (float)(v >= 0.0f) * (1.0f - ec)); /* Phi(v) */
        }
    }
}

void sn_gelu_backward_f32(float *dx, const float *dy, const float *x, size_t n, int set, int nt) {
    SN_ASSERT(nt >= 1);
    const long nb = (long)((n + SN_GELU_BLOCK - 1) / SN_GELU_BLOCK);
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= SN_GELU_PAR_MIN)
    for (long k = 0; k < nb; k++) {
        const size_t i0 = (size_t)k * SN_GELU_BLOCK;
        const size_t i1 = n - i0 < SN_GELU_BLOCK ? n : i0 + SN_GELU_BLOCK;
        const float *xs = x, *gs = dy;
        float *ds = dx;
        if (set) {
#pragma omp simd
            for (size_t i = i0; i < i1; i++) ds[i] = gelu_grad(xs[i], gs[i]);
        } else {
#pragma omp simd
            for (size_t i = i0; i < i1; i++) ds[i] += gelu_grad(xs[i], gs[i]);
        }
    }
}

void sn_gelu_forward_ref(double *y, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * 0.5 * erfc(-x[i] / sqrt(2.0));
}

void sn_gelu_backward_ref(double *dx, const double *dy, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const double cdf = 0.5 * erfc(-x[i] / sqrt(2.0));
        const double pdf = exp(-0.5 * x[i] * x[i]) / sqrt(2.0 * 3.14159265358979323846);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}
