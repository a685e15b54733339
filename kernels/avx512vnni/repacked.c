/* repacked (GEMV shape): the avx512vnni layout (kernels/repack.h); one token per pass over the
 * weights, QK_REPACKED_NG__AVX512VNNI row groups of 16 at a time, the tokens loop outside. The
 * arithmetic is kernels/avx512vnni/repack.h's. */
#include "kernels/avx512vnni/repack.h"

qk_matmul_fn qk_repacked__avx512vnni;

void qk_repacked__avx512vnni(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                             int r1) {
    qk_avx512_repack_gemv(dst, w, x, r0, r1, QK_REPACKED_NG__AVX512VNNI);
}
