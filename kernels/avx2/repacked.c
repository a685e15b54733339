/* repacked (GEMV shape): rows interleaved in groups of 8 at load (kernels/repack.h); one token per
 * pass over the weights, the tokens loop outside. The arithmetic is kernels/avx2/repack.h's. */
#include "kernels/avx2/repack.h"

qk_matmul_fn qk_repacked__avx2;

void qk_repacked__avx2(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    qk_avx2_repack_gemv(dst, w, x, r0, r1, QK_REPACKED_G / 8);
}
