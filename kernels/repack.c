/* Load-time repacking into the row-interleaved layout of kernels/repack.h. */
#include "kernels/repack.h"
#include "kernels/prepare.h"

#include <stdint.h>
#include <stdlib.h>

int qk_repack_prepare(qk_q8_matrix *w, int G) {
    if (!w || !w->blocks || w->rows <= 0 || w->cols <= 0 || w->cols % QK8_0) return -1;
    if (G <= 0 || G > 32 || G % 8) return -1;
    const int nb = w->cols / QK8_0, groups = (w->rows + G - 1) / G;
    const size_t need = qk_repack_bytes(w->rows, w->cols, G);
    if (need / ((size_t)groups * (size_t)G) / QK8_0_BLOCK_BYTES != (size_t)nb ||
        need > SIZE_MAX - 63)
        return -1;                                  /* overflow */
    const size_t bytes = (need + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
    uint8_t *p = aligned_alloc(64, bytes);
    if (!p) return -1;
    memset(p, 0, bytes); /* the padding rows of the last group: scale 0, quants 0 */
    for (int r = 0; r < w->rows; r++) {
        const int grp = r / G, i = r % G;
        for (int b = 0; b < nb; b++) {
            const uint8_t *src = w->blocks + ((size_t)r * nb + b) * QK8_0_BLOCK_BYTES;
            uint8_t *blk = p + ((size_t)grp * nb + b) * (size_t)G * QK8_0_BLOCK_BYTES;
            blk[2 * i] = src[0], blk[2 * i + 1] = src[1];
            for (int g = 0; g < QK_REPACK_GROUPS_PER_BLOCK; g++)
                memcpy(blk + 2 * G + 4 * G * g + 4 * i, src + 2 + 4 * g, 4);
        }
    }
    w->prepared = p;
    w->prepared_bytes = bytes;
    w->packed = p;
    return 0;
}

int qk_repack_prepare_g8(qk_q8_matrix *w) {
    return qk_repack_prepare(w, 8);
}

int qk_repack_prepare_g16(qk_q8_matrix *w) {
    return qk_repack_prepare(w, 16);
}
