/* precached-scales: scale from the fp32 table built at load (qk_prepare_scales); the 32 int8 are
 * copied into a stack buffer and the dot product reads the buffer. Isolates the scale-conversion
 * saving. The arithmetic is scalar/dot.h's, shared with the other variants of this ISA. */
#include "kernels/scalar/dot.h"

qk_matmul_fn qk_precached_scales__scalar;

void qk_precached_scales__scalar(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                 int r1) {
    qk_scalar_matmul(dst, w, x, r0, r1, qk_fetch_copy, qk_release_none, NULL);
}
