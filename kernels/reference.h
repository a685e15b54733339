/* The accuracy oracle: dequantise and multiply in float64. For tests and checks; never timed. */
#ifndef QK_KERNELS_REFERENCE_H
#define QK_KERNELS_REFERENCE_H

#include "kernels/kernel.h"

/* dst[t*rows + r] = sum_k (d_w * q_w) * (s_x * q_x) for r in [r0, r1), every token, in double (fp16
 * scales read from the blocks, w->scales ignored); rounded to float once at the end. Same signature
 * as a kernel's matmul. */
void qk_reference_matmul(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1);

/* The same in double; if abs_dst is non-NULL it also gets sum_k |d_w q_w s_x q_x|, the scale of the
 * rounding error a float kernel may make on that output. */
void qk_reference_matmul_f64(double *dst, double *abs_dst, const qk_q8_matrix *w,
                             const qk_act_i8 *x, int r0, int r1);

#endif
