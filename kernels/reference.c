#include "kernels/reference.h"
#include "kernels/fp16.h"
#include "kernels/prepare.h"

#include <math.h>

/* One output in double; *mag gets the sum of the magnitudes of its terms. */
static double dot_row(const qk_q8_matrix *w, const qk_act_i8 *x, int r, int t, double *mag) {
    const int nb = w->cols / QK8_0;
    const int8_t *xq = x->q + (size_t)t * (size_t)x->cols;
    double sum = 0.0, m = 0.0;
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = w->blocks + ((size_t)r * nb + b) * QK8_0_BLOCK_BYTES;
        const double dw = qk_fp16_to_fp32_soft(qk_block_d16(blk));
        const double sx =
            x->granularity == QK_ACT_PER_BLOCK ? x->scale[(size_t)t * nb + b] : x->scale[t];
        const int8_t *qw = (const int8_t *)(blk + 2);
        for (int j = 0; j < QK8_0; j++) {
            const double v = (dw * qw[j]) * (sx * xq[b * QK8_0 + j]);
            sum += v;
            m += fabs(v);
        }
    }
    *mag = m;
    return sum;
}

void qk_reference_matmul_f64(double *dst, double *abs_dst, const qk_q8_matrix *w,
                             const qk_act_i8 *x, int r0, int r1) {
    for (int t = 0; t < x->n_tokens; t++)
        for (int r = r0; r < r1; r++) {
            const size_t i = (size_t)t * (size_t)w->rows + (size_t)r;
            double mag;
            dst[i] = dot_row(w, x, r, t, &mag);
            if (abs_dst) abs_dst[i] = mag;
        }
}

void qk_reference_matmul(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    for (int t = 0; t < x->n_tokens; t++)
        for (int r = r0; r < r1; r++) {
            double mag;
            dst[(size_t)t * (size_t)w->rows + (size_t)r] = (float)dot_row(w, x, r, t, &mag);
        }
}
