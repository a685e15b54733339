/* alloc-copy: the seed's deliberate "allocation disaster": precached scale, but every block is
 * copied into a freshly malloc'ed 32-byte buffer that is freed after use; the allocations are
 * counted (qk_alloc_stats_read). The arithmetic is avx2/dot.h's, shared with the other variants of
 * this ISA. */
#include "kernels/avx2/dot.h"

qk_matmul_fn qk_alloc_copy__avx2;

void qk_alloc_copy__avx2(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1) {
    qk_alloc_stats count = {0, 0};
    qk_avx2_matmul(dst, w, x, r0, r1, qk_fetch_heap, qk_release_heap, &count);
    qk_alloc_stats_add(count.allocations, count.bytes);
}
