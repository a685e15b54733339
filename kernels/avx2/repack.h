/* AVX2 core of the `repacked`, `gemm` and `fused` variants over the row-interleaved layout of
 * kernels/repack.h: a tile of G rows (G = 8 * NG: one ymm holds 8 rows) x T tokens per pass over a
 * row group's blocks, NG x T int32 and NG x T float accumulators in ymm registers.
 *
 * Per 4-byte group g of a block: one 32-byte load of the weights per 8 rows (lane i = row i's 4
 * quants) and its |w| serve all T tokens; per token, one vpbroadcastd of the token's 4 activation
 * bytes serves the NG vectors, then the sign trick of avx2/dot.h (vpsignb gives x the sign of w,
 * |w| is the unsigned operand: exact for x in -127..127), vpmaddubsw, vpmaddwd with ones and vpaddd
 * into that token's int32 accumulator. After the 8 groups, lane i holds the EXACT int32 dot of row
 * i's block with the token, and per block, in block order:
 *
 *     acc = acc + (float)isum * (d_w * s_x)      (two roundings: the product, then the sum)
 *
 * with d_w from F16C (vcvtph2ps, one op per 8 rows per block). That is scalar/dot.h's arithmetic
 * per output, so these kernels give the scalar variants' bits. The product is kept from being
 * contracted into an FMA: GCC contracts vector `*` and `+` under -mfma (its default is
 * -ffp-contract=fast), and an FMA rounds once where the scalar kernels (built without FMA) round
 * twice.
 *
 * Cost per 8 rows x 1 token x 4-byte group: broadcast (shared by NG), vpsignb, vpmaddubsw,
 * vpmaddwd, vpaddd; the weight load and vpabsb are shared by the T tokens; per block, 4 float ops
 * (cvt, d_w * s_x, product, sum) per 8 rows x token. kernels/README.md has the measured ceiling of
 * that mix on Zen 3. */
#ifndef QK_KERNELS_AVX2_REPACK_H
#define QK_KERNELS_AVX2_REPACK_H

#include "kernels/fetch.h"
#include "kernels/prepare.h"
#include "kernels/repack.h"

#include <immintrin.h>

#define QK_AVX2_NG_MAX 4 /* ymm vectors (of 8 rows) per tile */
#define QK_AVX2_T_MAX  8 /* tokens per tile */
#define QK_UNROLL_ALL  _Pragma("GCC unroll 16")

/* acc + (float)isum * ds, rounded twice as the scalar kernels round it. */
QK_INLINE __m256 qk_avx2_scalar_order_acc(__m256 acc, __m256i isum, __m256 ds) {
    __m256 prod = _mm256_mul_ps(_mm256_cvtepi32_ps(isum), ds);
    __asm__("" : "+x"(prod)); /* no FMA contraction across this point */
    return _mm256_add_ps(acc, prod);
}

/* The G = 8 * NG rows of group grp for tokens t0 .. t0+T-1 (NG, T constants after inlining);
 * stores rows [lo, hi) only (the rest of a partial group is another caller's, or padding). pf:
 * prefetch (into L1) the same block of group grp + 1 as each block is computed, so the next group's
 * weights arrive from L2/L3 while this one computes; set on a group's first token tile only. */
QK_INLINE void qk_avx2_repack_tile(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int grp,
                                   int t0, const int NG, const int T, int lo, int hi, int pf) {
    const int G = 8 * NG, nb = w->cols / QK8_0;
    const size_t cols = (size_t)w->cols;
    const int per_block = x->granularity == QK_ACT_PER_BLOCK;
    const size_t xs_t = per_block ? (size_t)nb : 1, xs_b = per_block ? 1 : 0;
    const __m256i ones16 = _mm256_set1_epi16(1);
    const int8_t *xq = x->q + (size_t)t0 * cols;
    __m256 acc[QK_AVX2_NG_MAX][QK_AVX2_T_MAX];
    QK_UNROLL_ALL for (int n = 0; n < NG; n++) QK_UNROLL_ALL for (int j = 0; j < T; j++) acc[n][j] =
        _mm256_setzero_ps();
    const uint8_t *blk = qk_repack_block(w, G, grp, 0);
    const size_t group_bytes = (size_t)nb * (size_t)G * QK8_0_BLOCK_BYTES;
    for (int b = 0; b < nb; b++, blk += (size_t)G * QK8_0_BLOCK_BYTES) {
        if (pf) /* every 64-byte line of the block: all addresses inside block b of group grp+1 */
            for (int c = 0; c < G * QK8_0_BLOCK_BYTES; c += 64)
                _mm_prefetch((const char *)(blk + group_bytes + c), _MM_HINT_T0);
        __m256i isum[QK_AVX2_NG_MAX][QK_AVX2_T_MAX];
        QK_UNROLL_ALL for (int g = 0; g < QK_REPACK_GROUPS_PER_BLOCK; g++) {
            __m256i wv[QK_AVX2_NG_MAX], wa[QK_AVX2_NG_MAX];
            QK_UNROLL_ALL for (int n = 0; n < NG; n++) {
                wv[n] = _mm256_loadu_si256((const __m256i *)(blk + 2 * G + 4 * G * g + 32 * n));
                wa[n] = _mm256_abs_epi8(wv[n]);
            }
            QK_UNROLL_ALL for (int j = 0; j < T; j++) {
                const __m256i xb = _mm256_set1_epi32(
                    qk_load_i32(xq + (size_t)j * cols + (size_t)b * QK8_0 + 4 * g));
                QK_UNROLL_ALL for (int n = 0; n < NG; n++) {
                    const __m256i p = _mm256_madd_epi16(
                        _mm256_maddubs_epi16(wa[n], _mm256_sign_epi8(xb, wv[n])), ones16);
                    isum[n][j] = g ? _mm256_add_epi32(isum[n][j], p) : p;
                    /* keep the running sums in registers: otherwise GCC reassociates the 8 adds
                     * into a tree and parks all 8 * NG * T products on the stack (-25%) */
                    __asm__("" : "+x"(isum[n][j]));
                }
            }
        }
        __m256 dw[QK_AVX2_NG_MAX];
        QK_UNROLL_ALL for (int n = 0; n < NG; n++) dw[n] =
            _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16 * n)));
        QK_UNROLL_ALL for (int j = 0; j < T; j++) {
            const __m256 sx = _mm256_set1_ps(x->scale[(size_t)(t0 + j) * xs_t + (size_t)b * xs_b]);
            QK_UNROLL_ALL for (int n = 0; n < NG; n++) acc[n][j] =
                qk_avx2_scalar_order_acc(acc[n][j], isum[n][j], _mm256_mul_ps(dw[n], sx));
        }
    }
    const int base = grp * G;
    if (lo == base && hi == base + G) {
        QK_UNROLL_ALL for (int j = 0; j < T; j++) QK_UNROLL_ALL for (int n = 0; n < NG; n++)
            _mm256_storeu_ps(dst + (size_t)(t0 + j) * w->rows + base + 8 * n, acc[n][j]);
    } else {
        QK_UNROLL_ALL for (int j = 0; j < T; j++) {
            _Alignas(32) float tmp[8 * QK_AVX2_NG_MAX];
            QK_UNROLL_ALL for (int n = 0; n < NG; n++) _mm256_store_ps(tmp + 8 * n, acc[n][j]);
            for (int r = lo; r < hi; r++) dst[(size_t)(t0 + j) * w->rows + r] = tmp[r - base];
        }
    }
}

/* One row group, every token: n tokens in ceil(n/T) tiles of near-equal size (n/tiles or one more,
 * all <= T), so a remainder is spread over the tiles rather than left as one thin tile. */
#define QK_AVX2_REPACK_CASE(R)                                                                     \
    case R:                                                                                        \
        if (R <= T) qk_avx2_repack_tile(dst, w, x, grp, t0, NG, R, lo, hi, pf && !i);              \
        break;

QK_INLINE void qk_avx2_repack_group(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int grp,
                                    const int NG, const int T, int lo, int hi, int pf) {
    const int n = x->n_tokens, tiles = (n + T - 1) / T, size = n / tiles, extra = n % tiles;
    for (int i = 0, t0 = 0; i < tiles; i++) {
        const int R = size + (i < extra); /* 1 .. T; the cases above T compile to nothing */
        switch (R) {
            QK_AVX2_REPACK_CASE(1)
            QK_AVX2_REPACK_CASE(2)
            QK_AVX2_REPACK_CASE(3)
            QK_AVX2_REPACK_CASE(4)
            QK_AVX2_REPACK_CASE(5)
            QK_AVX2_REPACK_CASE(6)
            QK_AVX2_REPACK_CASE(7)
            QK_AVX2_REPACK_CASE(8)
        default:
            break;
        }
        t0 += R;
    }
}

/* gemm: for each row group of [r0, r1), all its token tiles (the group's blocks, nb * G * 34
 * bytes, stay in L1 while the activations stream from L2). The first token tile of each group but
 * the range's last prefetches the next group (kernels/README.md: +10-20% at 1-16 tokens, where the
 * weights come from L3, neutral at 128). */
QK_INLINE void qk_avx2_repack_gemm(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                   int r1, const int NG, const int T) {
    const int G = 8 * NG;
    if (r0 >= r1 || x->n_tokens <= 0) return; /* (no tiles: the tile size would divide by zero) */
    const int last = (r1 - 1) / G;
    for (int grp = r0 / G; grp * G < r1; grp++) {
        const int lo = r0 > grp * G ? r0 : grp * G, hi = r1 < grp * G + G ? r1 : grp * G + G;
        qk_avx2_repack_group(dst, w, x, grp, NG, T, lo, hi, grp < last);
    }
}

/* repacked (GEMV shape): for each token, one pass over the row groups of [r0, r1). */
QK_INLINE void qk_avx2_repack_gemv(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                   int r1, const int NG) {
    const int G = 8 * NG;
    if (r0 >= r1) return;
    for (int t = 0; t < x->n_tokens; t++)
        for (int grp = r0 / G; grp * G < r1; grp++) {
            const int lo = r0 > grp * G ? r0 : grp * G, hi = r1 < grp * G + G ? r1 : grp * G + G;
            qk_avx2_repack_tile(dst, w, x, grp, t, NG, 1, lo, hi, 0);
        }
}

#endif
