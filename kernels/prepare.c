/* Load-time work shared by the variants that read precached scales. */
#include "kernels/prepare.h"
#include "kernels/fp16.h"

#include <stdlib.h>

int qk_prepare_scales(qk_q8_matrix *w) {
    if (!w || !w->blocks || w->rows <= 0 || w->cols <= 0 || w->cols % QK8_0) return -1;
    const size_t n = (size_t)w->rows * (size_t)(w->cols / QK8_0);
    const size_t bytes =
        (n * sizeof(float) + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
    float *s = aligned_alloc(64, bytes);
    if (!s) return -1;
    /* F16C when present: same values as the software conversion the parsing variants use (fp16.h)
     */
    for (size_t i = 0; i < n; i++)
        s[i] = qk_fp16_to_fp32(qk_block_d16(w->blocks + i * QK8_0_BLOCK_BYTES));
    w->prepared = s;
    w->prepared_bytes = bytes;
    w->scales = s;
    return 0;
}
