/* gemm: the repacked layout (kernels/repack.h), a register tile of G rows x T tokens per pass over
 * a row group's blocks; T depends on the number of tokens (below QK_GEMM_SMALL_N__AVX2, the small-n
 * tile: fewer passes over the weights); G, T and the switch point chosen by measurement,
 * kernels/README.md. For each row group, all its token tiles. The arithmetic is
 * kernels/avx2/repack.h's. */
#include "kernels/avx2/repack.h"

qk_matmul_fn qk_gemm__avx2;

void qk_gemm__avx2(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    if (x->n_tokens < QK_GEMM_SMALL_N__AVX2)
        qk_avx2_repack_gemm(dst, w, x, r0, r1, QK_GEMM_G__AVX2 / 8, QK_GEMM_T_SMALL__AVX2);
    else
        qk_avx2_repack_gemm(dst, w, x, r0, r1, QK_GEMM_G__AVX2 / 8, QK_GEMM_T__AVX2);
}
