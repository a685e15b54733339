/* gemm: the repacked layout (kernels/repack.h), a register tile of G rows x T tokens per pass over
 * a row group's blocks (G, T: kernels/repack.h, chosen by measurement, kernels/README.md). For each
 * row group, all its token tiles. The arithmetic is kernels/scalar/repack.h's. */
#include "kernels/scalar/repack.h"

qk_matmul_fn qk_gemm__scalar;

void qk_gemm__scalar(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    qk_scalar_repack_gemm(dst, w, x, r0, r1, QK_GEMM_G__SCALAR);
}
