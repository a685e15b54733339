#include "model/q8_0.h"

#include <math.h>
#include <string.h>

static float block_amax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

/* NaN or inf (from a damaged model, or activations that overflowed) would make the int8 conversion
 * undefined: such a value becomes 0 and the scale NaN, so the result shows the damage. */
static int8_t to_i8(float v) {
    return v > -127.5f && v < 127.5f ? (int8_t)roundf(v) : 0;
}

static float finite_or_nan(float d, const float *x, int n) {
    if (!isfinite(d)) return NAN;
    for (int j = 0; j < n; j++)
        if (!isfinite(x[j])) return NAN;
    return d;
}

void qk_q8_0_quantize_row(const float *src, uint8_t *dst, int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        const float *x = src + b * QK8_0;
        uint8_t *blk = dst + (size_t)b * QK8_0_BLOCK_BYTES;
        const float d = block_amax(x, QK8_0) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = qk_fp32_to_fp16(d);
        memcpy(blk, &h, 2);
        for (int j = 0; j < QK8_0; j++) blk[2 + j] = (uint8_t)to_i8(x[j] * id);
    }
}

void qk_q8_0_dequantize_row(const uint8_t *src, float *dst, int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        const uint8_t *blk = src + (size_t)b * QK8_0_BLOCK_BYTES;
        uint16_t h;
        memcpy(&h, blk, 2);
        const float d = qk_fp16_to_fp32(h);
        for (int j = 0; j < QK8_0; j++) dst[b * QK8_0 + j] = d * (float)(int8_t)blk[2 + j];
    }
}

void qk_quantize_act_token(const float *x, int n, int8_t *q, float *scale) {
    const float d = block_amax(x, n) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) q[j] = to_i8(x[j] * id);
    *scale = finite_or_nan(d, x, n);
}

void qk_quantize_act_block(const float *x, int n, int8_t *q, float *scale) {
    for (int b = 0; b < n / QK8_0; b++) {
        const float d = block_amax(x + b * QK8_0, QK8_0) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < QK8_0; j++) q[b * QK8_0 + j] = to_i8(x[b * QK8_0 + j] * id);
        scale[b] = finite_or_nan(qk_fp16_to_fp32(qk_fp32_to_fp16(d)), x + b * QK8_0, QK8_0);
    }
}
