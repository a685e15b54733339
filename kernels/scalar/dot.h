/* Scalar core shared by the four variants in kernels/scalar/ (built with auto-vectorisation off):
 * one row at a time, up to QK_TOKEN_TILE tokens per pass over the row's blocks, one float
 * accumulator per output. Per block, in block order: isum = exact int32 dot of the 32 int8 pairs,
 * then sum += (float)isum * (d_w * s_x). Exact for the full int8 range of both operands. */
#ifndef QK_KERNELS_SCALAR_DOT_H
#define QK_KERNELS_SCALAR_DOT_H

#include "kernels/fetch.h"
#include "kernels/prepare.h"

QK_INLINE int32_t qk_scalar_dot32(const int8_t *a, const int8_t *b) {
    int32_t s = 0;
    for (int k = 0; k < QK8_0; k++) s += (int32_t)a[k] * (int32_t)b[k];
    return s;
}

/* Row r, tokens t0 .. t0+T-1 (T a constant after inlining). */
QK_INLINE void qk_scalar_tile(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r, int t0,
                              const int T, qk_fetch_fn fetch, qk_release_fn release,
                              qk_alloc_stats *count) {
    const int nb = w->cols / QK8_0;
    const int per_block = x->granularity == QK_ACT_PER_BLOCK;
    const size_t xs_t = per_block ? (size_t)nb : 1, xs_b = per_block ? 1 : 0;
    float acc[QK_TOKEN_TILE] = {0};
    for (int b = 0; b < nb; b++) {
        qk_block_slot slot;
        float d;
        const int8_t *q = fetch(w, (size_t)r * nb + b, &slot, &d, count);
        for (int j = 0; j < T; j++) {
            const size_t t = (size_t)(t0 + j);
            const int32_t isum = qk_scalar_dot32(q, x->q + t * (size_t)w->cols + (size_t)b * QK8_0);
            acc[j] += (float)isum * (d * x->scale[t * xs_t + b * xs_b]);
        }
        release(&slot);
    }
    for (int j = 0; j < T; j++) dst[(size_t)(t0 + j) * w->rows + r] = acc[j];
}

QK_INLINE void qk_scalar_matmul(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                int r1, qk_fetch_fn fetch, qk_release_fn release,
                                qk_alloc_stats *count) {
    for (int r = r0; r < r1; r++)
        for (int t0 = 0; t0 < x->n_tokens; t0 += QK_TOKEN_TILE) {
            switch (x->n_tokens - t0) {
            case 1:
                qk_scalar_tile(dst, w, x, r, t0, 1, fetch, release, count);
                break;
            case 2:
                qk_scalar_tile(dst, w, x, r, t0, 2, fetch, release, count);
                break;
            case 3:
                qk_scalar_tile(dst, w, x, r, t0, 3, fetch, release, count);
                break;
            default:
                qk_scalar_tile(dst, w, x, r, t0, 4, fetch, release, count);
                break;
            }
        }
}

#endif
