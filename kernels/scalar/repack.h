/* Scalar core of the `repacked`, `gemm` and `fused` variants over the row-interleaved layout of
 * kernels/repack.h (built, like the rest of kernels/scalar/, with auto-vectorisation off): a tile
 * of the G rows of a group x T tokens per pass over the group's blocks. Per block the G fp16 scales
 * are converted in software (qk_fp16_to_fp32_soft, exact; once per block per tile, so their cost
 * is shared by the T tokens), then per token and row: isum = exact int32 dot of the 32 int8 pairs
 * (read from the interleaved 4-byte groups), acc += (float)isum * (d_w * s_x). That is
 * scalar/dot.h's arithmetic per output, in the same order, so the outputs are the scalar variants'
 * bits. */
#ifndef QK_KERNELS_SCALAR_REPACK_H
#define QK_KERNELS_SCALAR_REPACK_H

#include "kernels/fetch.h"
#include "kernels/fp16.h"
#include "kernels/prepare.h"
#include "kernels/repack.h"

#define QK_SCALAR_G_MAX 16
#define QK_SCALAR_T_MAX QK_GEMM_T__SCALAR

/* Rows of group grp (G rows) for tokens t0 .. t0+T-1 (G, T constants after inlining); stores rows
 * [lo, hi) only. */
QK_INLINE void qk_scalar_repack_tile(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int grp,
                                     int t0, const int G, const int T, int lo, int hi) {
    const int nb = w->cols / QK8_0;
    const size_t cols = (size_t)w->cols;
    const int per_block = x->granularity == QK_ACT_PER_BLOCK;
    const size_t xs_t = per_block ? (size_t)nb : 1, xs_b = per_block ? 1 : 0;
    float acc[QK_SCALAR_T_MAX][QK_SCALAR_G_MAX] = {{0}};
    const uint8_t *blk = qk_repack_block(w, G, grp, 0);
    for (int b = 0; b < nb; b++, blk += (size_t)G * QK8_0_BLOCK_BYTES) {
        float d[QK_SCALAR_G_MAX];
        for (int i = 0; i < G; i++) d[i] = qk_fp16_to_fp32_soft(qk_block_d16(blk + 2 * i));
        const int8_t *q = (const int8_t *)(blk + 2 * G);
        for (int j = 0; j < T; j++) {
            const size_t t = (size_t)(t0 + j);
            const int8_t *xb = x->q + t * cols + (size_t)b * QK8_0;
            const float s = x->scale[t * xs_t + b * xs_b];
            for (int i = 0; i < G; i++) {
                int32_t isum = 0;
                for (int g = 0; g < QK_REPACK_GROUPS_PER_BLOCK; g++)
                    for (int k = 0; k < 4; k++)
                        isum += (int32_t)q[4 * G * g + 4 * i + k] * (int32_t)xb[4 * g + k];
                acc[j][i] += (float)isum * (d[i] * s);
            }
        }
    }
    const int base = grp * G;
    for (int j = 0; j < T; j++)
        for (int r = lo; r < hi; r++) dst[(size_t)(t0 + j) * w->rows + r] = acc[j][r - base];
}

/* gemm: for each row group in [r0, r1), all tokens in tiles of QK_SCALAR_T_MAX then the rest. */
QK_INLINE void qk_scalar_repack_gemm(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                     int r1, const int G) {
    if (r0 >= r1) return;
    for (int grp = r0 / G; grp * G < r1; grp++) {
        const int lo = r0 > grp * G ? r0 : grp * G, hi = r1 < grp * G + G ? r1 : grp * G + G;
        for (int t0 = 0; t0 < x->n_tokens; t0 += QK_SCALAR_T_MAX) {
            switch (x->n_tokens - t0) {
            case 1:
                qk_scalar_repack_tile(dst, w, x, grp, t0, G, 1, lo, hi);
                break;
            case 2:
                qk_scalar_repack_tile(dst, w, x, grp, t0, G, 2, lo, hi);
                break;
            case 3:
                qk_scalar_repack_tile(dst, w, x, grp, t0, G, 3, lo, hi);
                break;
            default:
                qk_scalar_repack_tile(dst, w, x, grp, t0, G, 4, lo, hi);
                break;
            }
        }
    }
}

/* repacked (GEMV shape): for each token, one pass over the row groups of [r0, r1). */
QK_INLINE void qk_scalar_repack_gemv(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                     int r1, const int G) {
    if (r0 >= r1) return;
    for (int t = 0; t < x->n_tokens; t++)
        for (int grp = r0 / G; grp * G < r1; grp++) {
            const int lo = r0 > grp * G ? r0 : grp * G, hi = r1 < grp * G + G ? r1 : grp * G + G;
            qk_scalar_repack_tile(dst, w, x, grp, t, G, 1, lo, hi);
        }
}

#endif
