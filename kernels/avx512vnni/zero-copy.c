/* zero-copy (the seed's final version): precached scale; the dot product reads the int8 straight
 * from the 34-byte blocks of the mapped file.
 * The arithmetic is avx512vnni/dot.h's, shared with the other variants of this ISA. */
#include "kernels/avx512vnni/dot.h"

qk_matmul_fn qk_zero_copy__avx512vnni;

void qk_zero_copy__avx512vnni(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                              int r1) {
    qk_avx512_matmul(dst, w, x, r0, r1, qk_fetch_inplace, qk_release_none, NULL);
}
