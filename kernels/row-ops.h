/* Row operations on float activations, one implementation per ISA tier: the vector work of a
 * forward pass that is not a matmul (RMSNorm, GeGLU, activation quantisation, attention's scores,
 * softmax exponentials and weighted sums of values), and the fused forms that quantise a row while
 * it is still in L1. Like the matmul kernels they know nothing of models or threads: one call
 * handles one row (attention's: one query).
 *
 * Quantisation (every ISA, fused or not) is bit-identical to model/q8_0.c's qk_quantize_act_token
 * and qk_quantize_act_block: d = amax / 127, q = roundf(x * (1/d)) (ties away from zero),
 * non-finite input gives q = 0 and a NaN scale. The float ops may differ from the scalar ones in
 * the last bits (summation order, vector exp); the scalar set is the FP32 path's reference
 * arithmetic. */
#ifndef QK_KERNELS_ROW_OPS_H
#define QK_KERNELS_ROW_OPS_H

#include "kernels/kernel.h"

typedef struct {
    const char *isa;   /* "scalar", "avx2", "avx512vnni" (may share another tier's code) */
    unsigned isa_bits; /* CPU features the ops need (QK_ISA_*) */
    /* q[0..n) and scale[0] (granularity QK_ACT_PER_TOKEN) or scale[0..n/32) (QK_ACT_PER_BLOCK,
     * n a multiple of 32). */
    void (*quantize)(const float *x, int n, int8_t *q, float *scale, int granularity);
    /* dst[i] = x[i] * (1 / sqrtf(mean(x^2) + eps)) * w[i]; dst may equal x. */
    void (*rms_norm)(float *dst, const float *x, const float *w, int n, float eps);
    /* dst[i] = gelu_tanh(g[i]) * u[i]; dst may equal g. */
    void (*geglu)(float *dst, const float *g, const float *u, int n);
    /* Fused: rms_norm(tmp, x, w) then quantize(tmp), tmp (n floats, the caller's) still in L1. */
    void (*rms_norm_quantize)(const float *x, const float *w, int n, float eps, float *tmp,
                              int8_t *q, float *scale, int granularity);
    /* Fused: geglu(tmp, g, u) then quantize(tmp). */
    void (*geglu_quantize)(const float *g, const float *u, int n, float *tmp, int8_t *q,
                           float *scale, int granularity);
    /* Attention: n_q queries (query j at q + j * q_stride, e.g. the heads that share a KV head)
     * against n_rows consecutive keys (row r at rows + r * stride), n values each:
     * out[j * out_stride + r] = sum_i q[j * q_stride + i] * rows[r * stride + i] (the scores). */
    void (*dot_rows)(float *out, size_t out_stride, const float *q, size_t q_stride, int n_q,
                     const float *rows, size_t stride, int n_rows, int n);
    /* x[i] = exp(x[i] - shift), i < n; returns the sum of the new x[i], accumulated in double (the
     * softmax numerators and denominator; shift = the max, so every argument is <= 0). */
    double (*exp_shift_sum)(float *x, int n, float shift);
    /* out[j * out_stride + i] = sum_r p[j * p_stride + r] * rows[r * stride + i], i < n, r <
     * n_rows from 0 in order, j < n_q (the probability-weighted sums of the values); out is
     * written, not accumulated into. */
    void (*weighted_sum)(float *out, size_t out_stride, const float *p, size_t p_stride, int n_q,
                         const float *rows, size_t stride, int n_rows, int n);
} qk_row_ops;

/* The row ops of an ISA tier ("scalar", "avx2", "avx512vnni"), or NULL if unknown. Whether the CPU
 * can run them is the caller's question (qk_cpu_isa_bits() against isa_bits). */
const qk_row_ops *qk_row_ops_for_isa(const char *isa);

#endif
