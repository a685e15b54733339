/* Q8_0 blocks (spec gguf-q8_0.md section 7): quantise/dequantise as ggml does, and the two
 * activation quantisation schemes the INT8 path offers. fp16 conversions live in kernels/fp16.h. */
#ifndef QK_MODEL_Q8_0_H
#define QK_MODEL_Q8_0_H

#include <stdint.h>

#include "kernels/fp16.h"
#include "kernels/kernel.h"

/* ggml's quantize_row_q8_0_ref: per block d = amax/127, q = roundf(x/d) (ties away from zero),
 * d stored as fp16. n must be a multiple of 32; dst holds n/32 blocks of 34 bytes. */
void qk_q8_0_quantize_row(const float *src, uint8_t *dst, int n);
/* x = fp16(d) * q. */
void qk_q8_0_dequantize_row(const uint8_t *src, float *dst, int n);

/* Activations: one scale per token (the seed story's scheme): s = amax/127, q = round(x/s) (ties
 * away). Writes n int8 to q and returns the scale through *scale (0 for an all-zero row). */
void qk_quantize_act_token(const float *x, int n, int8_t *q, float *scale);
/* One scale per 32-block as ggml's Q8_0 activation path does: d = amax/127 rounded to fp16 (the
 * stored scale, so scale[b] = fp16->fp32(fp16(d))), q = round(x/d) with the unrounded d (ties
 * away). n % 32 == 0. */
void qk_quantize_act_block(const float *x, int n, int8_t *q, float *scale);

#endif
