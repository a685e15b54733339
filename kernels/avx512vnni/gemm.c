/* gemm: the avx512vnni layout (kernels/repack.h), a register tile of NG row groups (16 rows each)
 * x T tokens per pass over the groups' blocks, NG and T chosen by the number of tokens
 * (kernels/repack.h, measured: kernels/README.md). For each step of NG groups, all its token tiles.
 * The arithmetic is kernels/avx512vnni/repack.h's. */
#include "kernels/avx512vnni/repack.h"

qk_matmul_fn qk_gemm__avx512vnni;

void qk_gemm__avx512vnni(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    if (x->n_tokens < QK_GEMM_SMALL_N__AVX512VNNI)
        qk_avx512_repack_gemm(dst, w, x, r0, r1, QK_GEMM_NG_SMALL__AVX512VNNI,
                              QK_GEMM_T_SMALL__AVX512VNNI, QK_GEMM_PF__AVX512VNNI);
    else
        qk_avx512_repack_gemm(dst, w, x, r0, r1, QK_GEMM_NG__AVX512VNNI, QK_GEMM_T__AVX512VNNI,
                              QK_GEMM_PF__AVX512VNNI);
}
