/* The row-interleaved Q8_0 layout of the `repacked`, `gemm` and `fused` variants (every ISA), made
 * at load by qk_repack_prepare_g8/_g16 (kernels/repack.c).
 *
 * Rows are taken in groups of G (a multiple of 8 up to 32; the variants use 8 and 16); the last
 * group is padded with zero rows (scale 0, quants 0), so a kernel always computes whole groups and
 * stores only the rows asked for. Group grp holds the group's nb = cols/32 blocks in column order,
 * each G * 34 bytes (Q8_0's 34 bytes per 32 weights, unchanged):
 *
 *   bytes 0 .. 2G-1        the G fp16 scales of rows grp*G .. grp*G+G-1 (little-endian), so that
 *                          one F16C vcvtph2ps converts 8 rows' scales at once
 *   bytes 2G + 4G*g + 4i + k  (g = 0..7 the 4-byte group of the block, i = 0..G-1 the row, k =
 * 0..3) quant 4g+k of row i: lane i of the 32-byte vector at 2G + 4G*g (+32 for rows 8..15) is row
 * i's 4 consecutive quants, so one broadcast 4-byte group of activations meets 8 rows in one
 * vpmaddubsw
 *
 * Group grp starts at packed + grp * nb * G * 34; the block data are 64-byte aligned at the start
 * of the allocation and stay 32-byte aligned for G = 16 (544-byte blocks); for G = 8 (272-byte
 * blocks) the quant vectors sit 16 bytes off a 32-byte boundary every other block. */
#ifndef QK_KERNELS_REPACK_H
#define QK_KERNELS_REPACK_H

#include "kernels/kernel.h"

#include <string.h>

#define QK_REPACK_GROUPS_PER_BLOCK (QK8_0 / 4) /* 4-byte groups in a 32-value block */

/* The tiles (rows x tokens per pass) of the variants on this layout; the registry records them as
 * row_block and token_tile. gemm's were chosen by measurement on a Zen 3 (kernels/README.md). */
#define QK_REPACKED_G         8  /* repacked, every ISA: 8 rows x 1 token */
#define QK_GEMM_G__AVX2       16 /* gemm, fused: 16 rows (two ymm of 8 rows per token) x T tokens: */
#define QK_GEMM_T__AVX2       5 /* T = 5 from QK_GEMM_SMALL_N__AVX2 tokens up (the registry's tile), */
#define QK_GEMM_T_SMALL__AVX2 6 /* T = 6 below (fewer passes over the weights: 16 = 6,5,5) */
#define QK_GEMM_SMALL_N__AVX2 24
#define QK_GEMM_G__SCALAR     16 /* the same layout as avx2's; 16 rows x 4 tokens */
#define QK_GEMM_T__SCALAR     4
/* avx512vnni (its own layout, QK_VNNI_G = 16 rows per group; tiles of NG groups x T tokens),
 * chosen by measurement on a Zen 4 (kernels/README.md) */
#define QK_REPACKED_NG__AVX512VNNI   4 /* repacked: 4 groups (64 rows, 4 chains) x 1 token */
#define QK_GEMM_NG__AVX512VNNI       3 /* gemm, fused: 3 groups (48 rows) x 4 tokens, */
#define QK_GEMM_T__AVX512VNNI        4 /* from QK_GEMM_SMALL_N__AVX512VNNI tokens up; */
#define QK_GEMM_NG_SMALL__AVX512VNNI 4 /* below, 4 groups (64 rows) x all the tokens */
#define QK_GEMM_T_SMALL__AVX512VNNI  3
#define QK_GEMM_SMALL_N__AVX512VNNI  4
#define QK_GEMM_PF__AVX512VNNI       0 /* no software prefetch */

/* The avx512vnni layout (repacked, gemm, fused in kernels/avx512vnni/), made by
 * qk_repack_vnni_prepare: rows in groups of QK_VNNI_G = 16 (one zmm lane per row), the last group
 * padded with zero rows; group grp holds its nb blocks in column order, each QK_VNNI_BLOCK_BYTES =
 * 576 bytes (nine 64-byte lines; the allocation is 64-byte aligned, so every vector is too):
 *
 *   bytes 0 .. 31          the 16 fp16 scales of rows grp*16 .. grp*16+15 (one vcvtph2ps zmm)
 *   bytes 32 .. 63         16 int16: minus the sum of each row's 32 quants of the block. The
 *                          kernels feed vpdpbusd the activations biased to x + 128 (unsigned) and
 *                          the weights as they are (signed); sum w (x + 128) = sum w x + 128 sum w,
 *                          so -128 sum w (this field shifted left by 7) is the int32 accumulator's
 *                          start value. |sum w| <= 4096 fits int16.
 *   bytes 64 + 64g + 4i + k  (g = 0..7 the 4-byte group, i = 0..15 the row, k = 0..3) quant 4g+k
 *                          of row i: the 64-byte vector of group g holds the 16 rows in its lanes
 *
 * 576 bytes per 16 x 32 weights against Q8_0's 544: 6% more to read at one token. */
#define QK_VNNI_G           16
#define QK_VNNI_BLOCK_BYTES (4 * QK_VNNI_G + QK8_0 * QK_VNNI_G)

/* Builds the layout for groups of G rows in one 64-byte aligned allocation owned by w
 * (w->prepared, w->prepared_bytes; w->packed points at it). 0 = ok; -1 = bad shape (rows <= 0,
 * cols <= 0 or not a multiple of 32, no blocks, G not 8, 16, 24 or 32) or out of memory, w
 * unchanged. */
int qk_repack_prepare(qk_q8_matrix *w, int G);
int qk_repack_prepare_g8(qk_q8_matrix *w);
int qk_repack_prepare_g16(qk_q8_matrix *w);

/* The avx512vnni layout above, in one 64-byte aligned allocation owned by w (w->prepared,
 * w->prepared_bytes = qk_repack_vnni_bytes rounded up to 64; w->packed points at it). 0 = ok; -1 =
 * bad shape (as qk_repack_prepare) or out of memory, w unchanged. */
int qk_repack_vnni_prepare(qk_q8_matrix *w);

static inline size_t qk_repack_vnni_bytes(int rows, int cols) {
    const size_t groups = (size_t)(rows + QK_VNNI_G - 1) / QK_VNNI_G;
    return groups * (size_t)(cols / QK8_0) * QK_VNNI_BLOCK_BYTES;
}

/* Block b of row group grp of the avx512vnni layout. */
static inline const uint8_t *qk_repack_vnni_block(const qk_q8_matrix *w, int grp, int b) {
    const size_t nb = (size_t)(w->cols / QK8_0);
    return (const uint8_t *)w->packed + ((size_t)grp * nb + (size_t)b) * QK_VNNI_BLOCK_BYTES;
}

/* Bytes the layout needs (before rounding the allocation up to a multiple of 64). */
static inline size_t qk_repack_bytes(int rows, int cols, int G) {
    const size_t groups = (size_t)(rows + G - 1) / (size_t)G;
    return groups * (size_t)(cols / QK8_0) * (size_t)G * QK8_0_BLOCK_BYTES;
}

/* Block b of row group grp. */
static inline const uint8_t *qk_repack_block(const qk_q8_matrix *w, int G, int grp, int b) {
    const size_t nb = (size_t)(w->cols / QK8_0);
    return (const uint8_t *)w->packed +
           ((size_t)grp * nb + (size_t)b) * (size_t)G * QK8_0_BLOCK_BYTES;
}

/* The 4 activation bytes at p as one int32 (for a broadcast). */
static inline int32_t qk_load_i32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif
