/* Row ops, scalar: the reference arithmetic.
 *
 * rms_norm, geglu, dot_rows, exp_shift_sum and weighted_sum are model/gemma.c's FP32-path loops,
 * operation for operation (sum of squares in double, sequential float dot from i = 0, expf summed
 * in double, the weighted sum of values key by key from 0), so the FP32 path calls them with
 * unchanged results. quantize is model/q8_0.c's activation quantisation, bit for bit, without its
 * two libm calls per element:
 *
 *   amax: fmaxf(amax, fabsf(x)) ignores a NaN x; so does "a > amax ? a : amax".
 *   roundf(v) for v in (-127.5, 127.5): i = (int)v truncates; f = v - (float)i is exact (i = 0, or
 *   i and v have the same sign with |i| <= |v| < 2|i|: Sterbenz), so |f| < 1 is the exact
 *   fraction and rounding half away from zero is i + (f >= 0.5) - (f <= -0.5). No addition of 0.5
 *   ever happens, so 0.49999997f cannot round up. tests/test_row_ops.c checks it against roundf on
 *   every float with 0.25 <= |v| < 127.5 and samples below.
 *
 * v = x * id must be the rounded product, as in q8_0.c: if the compiler contracted x * id - i into
 * an FMA (a -mfma or -march build), f would be taken from the unrounded product; qk_ro_opaque stops
 * that. */
#include "kernels/fp16.h"
#include "kernels/row-ops.h"

#include <float.h>
#include <math.h>

#define qk_ro_opaque(v) __asm__("" : "+x"(v))

static inline int8_t q_round(float v) {
    qk_ro_opaque(v);
    if (!(v > -127.5f && v < 127.5f)) return 0; /* also NaN: q8_0.c's to_i8 */
    int i = (int)v;
    const float f = v - (float)i;
    i += (f >= 0.5f) - (f <= -0.5f);
    return (int8_t)i;
}

/* max |x[j]| ignoring NaN (as fmaxf does); *bad set if some x[j] is NaN or infinite. */
static float amax_bad(const float *x, int n, int *bad) {
    float m = 0.0f;
    int b = 0;
    for (int j = 0; j < n; j++) {
        const float a = fabsf(x[j]);
        m = a > m ? a : m;
        b |= !(a <= FLT_MAX);
    }
    *bad = b;
    return m;
}

static void quantize(const float *x, int n, int8_t *q, float *scale, int granularity) {
    if (granularity == QK_ACT_PER_BLOCK) {
        for (int b = 0; b < n / 32; b++) {
            const float *xb = x + b * 32;
            int bad;
            const float d = amax_bad(xb, 32, &bad) / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int j = 0; j < 32; j++) q[b * 32 + j] = q_round(xb[j] * id);
            const float dh = qk_fp16_to_fp32(qk_fp32_to_fp16(d));
            scale[b] = bad || !isfinite(dh) ? NAN : dh;
        }
        return;
    }
    int bad;
    const float d = amax_bad(x, n, &bad) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) q[j] = q_round(x[j] * id);
    *scale = bad || !isfinite(d) ? NAN : d;
}

static void rms_norm(float *dst, const float *x, const float *w, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) dst[i] = x[i] * scale * w[i];
}

static inline float gelu_tanh(float x) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

static void geglu(float *dst, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) dst[i] = gelu_tanh(g[i]) * u[i];
}

static void rms_norm_quantize(const float *x, const float *w, int n, float eps, float *tmp,
                              int8_t *q, float *scale, int granularity) {
    rms_norm(tmp, x, w, n, eps);
    quantize(tmp, n, q, scale, granularity);
}

static void geglu_quantize(const float *g, const float *u, int n, float *tmp, int8_t *q,
                           float *scale, int granularity) {
    geglu(tmp, g, u, n);
    quantize(tmp, n, q, scale, granularity);
}

/* attention_items' scores: per query and key, a sequential float sum from i = 0. */
static void dot_rows(float *out, size_t out_stride, const float *q, size_t q_stride, int n_q,
                     const float *rows, size_t stride, int n_rows, int n) {
    for (int j = 0; j < n_q; j++)
        for (int r = 0; r < n_rows; r++) {
            const float *qj = q + (size_t)j * q_stride, *k = rows + (size_t)r * stride;
            float s = 0.0f;
            for (int i = 0; i < n; i++) s += qj[i] * k[i];
            out[(size_t)j * out_stride + r] = s;
        }
}

/* The softmax numerators: libm expf, summed in double in order. */
static double exp_shift_sum(float *x, int n, float shift) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - shift);
        sum += x[i];
    }
    return sum;
}

/* Per query: out = 0, then per row in order out[i] += p[r] * row[i] (the former axpy, once per
 * key). */
static void weighted_sum(float *out, size_t out_stride, const float *p, size_t p_stride, int n_q,
                         const float *rows, size_t stride, int n_rows, int n) {
    for (int j = 0; j < n_q; j++) {
        float *o = out + (size_t)j * out_stride;
        const float *pj = p + (size_t)j * p_stride;
        for (int i = 0; i < n; i++) o[i] = 0.0f;
        for (int r = 0; r < n_rows; r++) {
            const float a = pj[r], *v = rows + (size_t)r * stride;
            for (int i = 0; i < n; i++) o[i] += a * v[i];
        }
    }
}

const qk_row_ops qk_row_ops__scalar = {
    .isa = "scalar",
    .isa_bits = QK_ISA_SCALAR,
    .quantize = quantize,
    .rms_norm = rms_norm,
    .geglu = geglu,
    .rms_norm_quantize = rms_norm_quantize,
    .geglu_quantize = geglu_quantize,
    .dot_rows = dot_rows,
    .exp_shift_sum = exp_shift_sum,
    .weighted_sum = weighted_sum,
};
