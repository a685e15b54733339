/* Load-time repacking into the row-interleaved layout of kernels/repack.h. */
#include "kernels/repack.h"
#include "kernels/prepare.h"

#include <stdint.h>
#include <stdlib.h>

/* A zeroed 64-byte aligned allocation of need bytes rounded up to 64 (aligned_alloc wants a
 * multiple); per_block: the bytes of one row group's block, to check need for overflow. NULL on a
 * bad size. */
static uint8_t *alloc_layout(const qk_q8_matrix *w, int G, size_t need, size_t per_block,
                             size_t *bytes) {
    const int nb = w->cols / QK8_0, groups = (w->rows + G - 1) / G;
    if (need / (size_t)groups / per_block != (size_t)nb || need > SIZE_MAX - 63)
        return NULL; /* overflow */
    *bytes = (need + 63) & ~(size_t)63;
    uint8_t *p = aligned_alloc(64, *bytes);
    if (p) memset(p, 0, *bytes); /* the padding rows of the last group: scale 0, quants 0 */
    return p;
}

static int shape_ok(const qk_q8_matrix *w) {
    return w && w->blocks && w->rows > 0 && w->cols > 0 && w->cols % QK8_0 == 0;
}

int qk_repack_prepare(qk_q8_matrix *w, int G) {
    if (!shape_ok(w) || G <= 0 || G > 32 || G % 8) return -1;
    const int nb = w->cols / QK8_0;
    size_t bytes;
    uint8_t *p = alloc_layout(w, G, qk_repack_bytes(w->rows, w->cols, G),
                              (size_t)G * QK8_0_BLOCK_BYTES, &bytes);
    if (!p) return -1;
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

int qk_repack_vnni_prepare(qk_q8_matrix *w) {
    if (!shape_ok(w)) return -1;
    const int nb = w->cols / QK8_0, G = QK_VNNI_G;
    size_t bytes;
    uint8_t *p =
        alloc_layout(w, G, qk_repack_vnni_bytes(w->rows, w->cols), QK_VNNI_BLOCK_BYTES, &bytes);
    if (!p) return -1;
    for (int r = 0; r < w->rows; r++) {
        const int grp = r / G, i = r % G;
        for (int b = 0; b < nb; b++) {
            const uint8_t *src = w->blocks + ((size_t)r * nb + b) * QK8_0_BLOCK_BYTES;
            uint8_t *blk = p + ((size_t)grp * nb + b) * QK_VNNI_BLOCK_BYTES;
            int sum = 0;
            for (int j = 0; j < QK8_0; j++) sum += (int8_t)src[2 + j];
            const uint16_t neg = (uint16_t)(int16_t)-sum; /* |sum| <= 4096 */
            blk[2 * i] = src[0], blk[2 * i + 1] = src[1];
            blk[2 * G + 2 * i] = (uint8_t)(neg & 0xff),
                            blk[2 * G + 2 * i + 1] = (uint8_t)(neg >> 8);
            for (int g = 0; g < QK_REPACK_GROUPS_PER_BLOCK; g++)
                memcpy(blk + 4 * G + 4 * G * g + 4 * i, src + 2 + 4 * g, 4);
        }
    }
    w->prepared = p;
    w->prepared_bytes = bytes;
    w->packed = p;
    return 0;
}
