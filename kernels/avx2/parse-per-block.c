/* parse-per-block (the seed's baseline): every block goes through the non-inlined parser
 * (kernels/parse-block.c), which converts the fp16 scale in software and returns {scale, 32 int8}
 * by value; the dot product reads the returned struct. No scale table (w->scales may be NULL). The
 * arithmetic is avx2/dot.h's, shared with the other variants of this ISA. */
#include "kernels/avx2/dot.h"

qk_matmul_fn qk_parse_per_block__avx2;

void qk_parse_per_block__avx2(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                              int r1) {
    qk_avx2_matmul(dst, w, x, r0, r1, qk_fetch_parse, qk_release_none, NULL);
}
