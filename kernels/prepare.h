/* Internal to kernels/: what the kernel files share beyond kernel.h (load-time preparation, the
 * loop granularity the alloc-copy count depends on, the allocation counter's producer side). */
#ifndef QK_KERNELS_PREPARE_H
#define QK_KERNELS_PREPARE_H

#include "kernels/kernel.h"

/* Every kernel fetches a weight block (its 32 quants and scale) once per group of up to
 * QK_TOKEN_TILE tokens, whatever the ISA: so a call over rows [r0, r1) makes (r1 - r0) * cols/32 *
 * ceil(n_tokens / QK_TOKEN_TILE) fetches (alloc-copy: that many allocations). */
#define QK_TOKEN_TILE 4

static inline uint64_t qk_fetches_per_call(int r0, int r1, int cols, int n_tokens) {
    return (uint64_t)(r1 - r0) * (uint64_t)(cols / QK8_0) *
           (uint64_t)((n_tokens + QK_TOKEN_TILE - 1) / QK_TOKEN_TILE);
}

/* The matmul signature as a function type: each kernel file declares its symbol with it, so a
 * mismatch with the registry's table is a compile error. */
typedef void qk_matmul_fn(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1);

/* Builds the fp32 scale table (rows x cols/32 floats, fp16 converted once) in w->prepared and
 * points w->scales at it. Shared by every variant that reads precached scales. 0 = ok, -1 = bad
 * matrix or out of memory (w unchanged). */
int qk_prepare_scales(qk_q8_matrix *w);

/* Adds to the counter qk_alloc_stats_read() reports (relaxed atomics: kernels run on several
 * threads). */
void qk_alloc_stats_add(uint64_t allocations, uint64_t bytes);

/* The fp16 scale of a 34-byte block (little-endian on disk, whatever the host). */
static inline uint16_t qk_block_d16(const uint8_t *blk) {
    return (uint16_t)(blk[0] | (unsigned)blk[1] << 8);
}

#endif
