/* fused: gemm's kernel unchanged (this is a call to it); the registry row carries
 * QK_KERNEL_FUSED_ACT, so the model fuses RMSNorm and GeGLU into the activation quantisation that
 * feeds it. */
#include "kernels/avx512vnni/simd.h"
#include "kernels/prepare.h"

qk_matmul_fn qk_gemm__avx512vnni, qk_fused__avx512vnni;

void qk_fused__avx512vnni(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    qk_gemm__avx512vnni(dst, w, x, r0, r1);
}
