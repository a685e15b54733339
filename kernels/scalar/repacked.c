/* repacked (GEMV shape): rows interleaved in groups of 8 at load (kernels/repack.h); one token per
 * pass over the weights, the tokens loop outside. The arithmetic is kernels/scalar/repack.h's. */
#include "kernels/scalar/repack.h"

qk_matmul_fn qk_repacked__scalar;

void qk_repacked__scalar(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    qk_scalar_repack_gemv(dst, w, x, r0, r1, QK_REPACKED_G);
}
