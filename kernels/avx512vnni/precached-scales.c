/* precached-scales: scale from the fp32 table built at load (qk_prepare_scales); the 32 int8 are
 * copied into a stack buffer and the dot product reads the buffer. Isolates the scale-conversion
 * saving. The arithmetic is avx512vnni/dot.h's, shared with the other variants of this ISA. */
#include "kernels/avx512vnni/dot.h"

qk_matmul_fn qk_precached_scales__avx512vnni;

void qk_precached_scales__avx512vnni(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                     int r1) {
    qk_avx512_matmul(dst, w, x, r0, r1, qk_fetch_copy, qk_release_none, NULL);
}
