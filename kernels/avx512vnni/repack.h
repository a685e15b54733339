/* AVX512-VNNI core of the `repacked`, `gemm` and `fused` variants over the avx512vnni layout of
 * kernels/repack.h ("rows in lanes": one zmm holds 16 rows x 4 consecutive quants): a tile of NG
 * row groups (16 rows each, one zmm per group) x T tokens per pass over the groups' blocks, NG x T
 * int32 and NG x T float accumulators in zmm registers.
 *
 * Per 4-byte group g of a block: one 64-byte load of the weights per group serves all T tokens;
 * per token, one broadcast of the token's 4 activation bytes, XORed with 0x80 (x + 128, unsigned:
 * exact for every x), serves the NG groups in one vpdpbusd each. vpdpbusd adds the 4 products
 * (x + 128) w of each lane to its int32 sum without saturation, and the sum starts at the block's
 * -128 sum w (the layout's precomputed field), so after the 8 groups lane i holds the EXACT int32
 * dot of row i's block with the token, for every int8 weight (-128 included) and every int8
 * activation: |sum| <= 32 * 255 * 128 < 2^31. Then per block, in block order:
 *
 *     acc = acc + (float)isum * (d_w * s_x)      (two roundings: the product, then the sum)
 *
 * with d_w from vcvtph2ps (16 rows per block). That is scalar/dot.h's arithmetic per output, so
 * these kernels give the scalar variants' bits; QK_ZMM_OPAQUE keeps the product from being
 * contracted into an FMA. The arithmetic of one output depends on nothing but its row and token,
 * so any r0/r1 split and any tile give the same bits.
 *
 * Cost per 16 rows x 1 token x block: 8 vpdpbusd, 8 broadcasts + XORs (shared by NG groups); per
 * block, cvtdq2ps, d_w * s_x, the product and the sum; the weight loads, the start value
 * (vpmovsxwd, vpslld) and vcvtph2ps are shared by the T tokens. kernels/README.md has the
 * measured candidates. */
#ifndef QK_KERNELS_AVX512VNNI_REPACK_H
#define QK_KERNELS_AVX512VNNI_REPACK_H

#include "kernels/avx512vnni/simd.h"
#include "kernels/fetch.h"
#include "kernels/prepare.h"
#include "kernels/repack.h"

#define QK_AVX512_NG_MAX 4 /* row groups (zmm of 16 rows) per tile */
#define QK_AVX512_T_MAX  8 /* tokens per tile (in use: 4, and 1-3) */
#define QK_AVX512_UNROLL QK_AVX512_UNROLL_PRAGMA("GCC unroll 16")
#define QK_AVX512_LINES  (QK_VNNI_BLOCK_BYTES / 64)

/* acc + (float)isum * ds, rounded twice as the scalar kernels round it. */
QK_INLINE __m512 qk_avx512_scalar_order_acc(__m512 acc, __m512i isum, __m512 ds) {
    __m512 prod = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), ds);
    QK_ZMM_OPAQUE(prod); /* no FMA contraction across this point */
    return _mm512_add_ps(acc, prod);
}

/* Row groups grp .. grp+NG-1 for tokens t0 .. t0+T-1 (NG, T constants after inlining); stores the
 * rows of [r0, r1) only (the rest of a partial group is another caller's, or padding). pf:
 * prefetch (into L1) block b of the next NG groups while block b of these is computed, so the next
 * tile's weights arrive while this one computes; set on the groups' first token tile only. */
QK_INLINE void qk_avx512_repack_tile(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int grp,
                                     int t0, const int NG, const int T, int r0, int r1, int pf) {
    const int nb = w->cols / QK8_0;
    const size_t cols = (size_t)w->cols, gbytes = (size_t)nb * QK_VNNI_BLOCK_BYTES;
    const int per_block = x->granularity == QK_ACT_PER_BLOCK;
    const size_t xs_t = per_block ? (size_t)nb : 1, xs_b = per_block ? 1 : 0;
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const int8_t *xq = x->q + (size_t)t0 * cols;
    const float *xs = x->scale + (size_t)t0 * xs_t;
    __m512 acc[QK_AVX512_NG_MAX][QK_AVX512_T_MAX];
    QK_AVX512_UNROLL for (int n = 0; n < NG; n++) QK_AVX512_UNROLL for (int j = 0; j < T; j++)
        acc[n][j] = _mm512_setzero_ps();
    const uint8_t *blk = qk_repack_vnni_block(w, grp, 0);
    for (int b = 0; b < nb; b++, blk += QK_VNNI_BLOCK_BYTES) {
        if (pf) /* every line of block b of the next NG groups */
            QK_AVX512_UNROLL for (int n = 0; n < NG;
                                  n++) QK_AVX512_UNROLL for (int c = 0; c < QK_AVX512_LINES; c++)
                _mm_prefetch((const char *)(blk + (size_t)(NG + n) * gbytes + 64 * c), _MM_HINT_T0);
        __m512i isum[QK_AVX512_NG_MAX][QK_AVX512_T_MAX];
        QK_AVX512_UNROLL for (int n = 0; n < NG; n++) {
            const __m512i start =
                _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_load_si256(
                                      (const __m256i *)(blk + n * gbytes + 2 * QK_VNNI_G))),
                                  7);
            QK_AVX512_UNROLL for (int j = 0; j < T; j++) isum[n][j] = start;
        }
        QK_AVX512_UNROLL for (int g = 0; g < QK_REPACK_GROUPS_PER_BLOCK; g++) {
            __m512i wv[QK_AVX512_NG_MAX];
            QK_AVX512_UNROLL for (int n = 0; n < NG; n++) wv[n] = _mm512_load_si512(
                (const void *)(blk + n * gbytes + 4 * QK_VNNI_G + 4 * QK_VNNI_G * g));
            QK_AVX512_UNROLL for (int j = 0; j < T; j++) {
                const __m512i xb =
                    _mm512_xor_si512(_mm512_set1_epi32(qk_load_i32(xq + (size_t)j * cols +
                                                                   (size_t)b * QK8_0 + 4 * g)),
                                     bias);
                QK_AVX512_UNROLL for (int n = 0; n < NG; n++) isum[n][j] =
                    _mm512_dpbusd_epi32(isum[n][j], xb, wv[n]);
            }
        }
        __m512 dw[QK_AVX512_NG_MAX];
        QK_AVX512_UNROLL for (int n = 0; n < NG; n++) dw[n] =
            _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(blk + n * gbytes)));
        QK_AVX512_UNROLL for (int j = 0; j < T; j++) {
            const __m512 sx = _mm512_set1_ps(xs[(size_t)j * xs_t + (size_t)b * xs_b]);
            QK_AVX512_UNROLL for (int n = 0; n < NG; n++) acc[n][j] =
                qk_avx512_scalar_order_acc(acc[n][j], isum[n][j], _mm512_mul_ps(dw[n], sx));
        }
    }
    QK_AVX512_UNROLL for (int n = 0; n < NG; n++) {
        const int base = (grp + n) * QK_VNNI_G;
        const int lo = r0 > base ? r0 : base, hi = r1 < base + QK_VNNI_G ? r1 : base + QK_VNNI_G;
        if (lo == base && hi == base + QK_VNNI_G) {
            QK_AVX512_UNROLL for (int j = 0; j < T; j++)
                _mm512_storeu_ps(dst + (size_t)(t0 + j) * w->rows + base, acc[n][j]);
        } else {
            /* a partial group: the rows of another range (another thread's) or padding are not
             * touched, not even rewritten */
            QK_AVX512_UNROLL for (int j = 0; j < T; j++) {
                _Alignas(64) float tmp[QK_VNNI_G];
                _mm512_store_ps(tmp, acc[n][j]);
                for (int r = lo; r < hi; r++) dst[(size_t)(t0 + j) * w->rows + r] = tmp[r - base];
            }
        }
    }
}

/* NG row groups, every token: n tokens in ceil(n/T) tiles of near-equal size (n/tiles or one more,
 * all <= T), so a remainder is spread over the tiles rather than left as one thin tile. */
#define QK_AVX512_REPACK_CASE(R)                                                                   \
    case R:                                                                                        \
        if (R <= T) qk_avx512_repack_tile(dst, w, x, grp, t0, NG, R, r0, r1, pf && !i);            \
        break;

QK_INLINE void qk_avx512_repack_groups(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x,
                                       int grp, const int NG, const int T, int r0, int r1, int pf) {
    const int n = x->n_tokens, tiles = (n + T - 1) / T, size = n / tiles, extra = n % tiles;
    for (int i = 0, t0 = 0; i < tiles; i++) {
        const int R = size + (i < extra); /* 1 .. T; the cases above T compile to nothing */
        switch (R) {
            QK_AVX512_REPACK_CASE(1)
            QK_AVX512_REPACK_CASE(2)
            QK_AVX512_REPACK_CASE(3)
            QK_AVX512_REPACK_CASE(4)
            QK_AVX512_REPACK_CASE(5)
            QK_AVX512_REPACK_CASE(6)
            QK_AVX512_REPACK_CASE(7)
            QK_AVX512_REPACK_CASE(8)
        default:
            break;
        }
        t0 += R;
    }
}

/* One step of the last groups of a range, fewer than NG: as many as are left (so the step still
 * has rest x T chains). */
#define QK_AVX512_REST(fn, rest, ...)                                                              \
    switch (rest) {                                                                                \
    case 3:                                                                                        \
        fn(__VA_ARGS__, 3);                                                                        \
        break;                                                                                     \
    case 2:                                                                                        \
        fn(__VA_ARGS__, 2);                                                                        \
        break;                                                                                     \
    case 1:                                                                                        \
        fn(__VA_ARGS__, 1);                                                                        \
        break;                                                                                     \
    default:                                                                                       \
        break;                                                                                     \
    }

#define QK_AVX512_GEMM_STEP(grp, pf, ng)                                                           \
    qk_avx512_repack_groups(dst, w, x, grp, (ng) <= NG ? (ng) : 1, T, r0, r1, pf)

/* gemm: the row groups of [r0, r1) NG at a time (the last fewer than NG in one step), for each all
 * its token tiles (the groups' blocks stay in L1 while the activations stream from L2). PF: the
 * first token tile of each step but the range's last prefetches the next step's groups. */
QK_INLINE void qk_avx512_repack_gemm(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                     int r1, const int NG, const int T, const int PF) {
    if (r0 >= r1 || x->n_tokens <= 0) return; /* (no tiles: the tile size would divide by zero) */
    const int end = (r1 + QK_VNNI_G - 1) / QK_VNNI_G; /* one past the range's last group */
    int grp = r0 / QK_VNNI_G;
    for (; grp + NG <= end; grp += NG)
        qk_avx512_repack_groups(dst, w, x, grp, NG, T, r0, r1, PF && grp + 2 * NG <= end);
    QK_AVX512_REST(QK_AVX512_GEMM_STEP, end - grp, grp, 0)
}

#define QK_AVX512_GEMV_STEP(grp, t, ng)                                                            \
    qk_avx512_repack_tile(dst, w, x, grp, t, (ng) <= NG ? (ng) : 1, 1, r0, r1, 0)

/* repacked (GEMV shape): for each token, one pass over the row groups of [r0, r1), NG at a time (NG
 * independent vpdpbusd chains), the last fewer than NG in one step. */
QK_INLINE void qk_avx512_repack_gemv(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                     int r1, const int NG) {
    if (r0 >= r1) return;
    const int end = (r1 + QK_VNNI_G - 1) / QK_VNNI_G;
    for (int t = 0; t < x->n_tokens; t++) {
        int grp = r0 / QK_VNNI_G;
        for (; grp + NG <= end; grp += NG)
            qk_avx512_repack_tile(dst, w, x, grp, t, NG, 1, r0, r1, 0);
        QK_AVX512_REST(QK_AVX512_GEMV_STEP, end - grp, grp, t)
    }
}

#endif
