/* AVX512-VNNI core shared by the four variants in kernels/avx512vnni/: a tile of R rows x T tokens
 * (T <= QK_TOKEN_TILE) per pass over the blocks, one zmm float accumulator per output; each weight
 * block is fetched once per tile and serves T tokens, each activation vector serves R rows.
 *
 * One zmm holds two consecutive blocks (lanes 0-7 block b, lanes 8-15 block b+1), so one vpdpbusd
 * does 64 MACs, and one fma applies both blocks' scale products: acc = fma((float)isum, d_w * s_x,
 * acc) per lane, block pairs in order, an odd last block in the low half alone; the 16 lanes are
 * summed at the end in a fixed tree. The arithmetic of one output does not depend on R, T, r0 or
 * r1, so any row split (threads) gives the same bits.
 *
 * Operands: vpdpbusd multiplies unsigned by signed bytes and adds groups of 4 products into int32
 * without saturation. We bias the weights: w ^ 0x80 read as u8 is w + 128 (0..255, exact for w =
 * -128 too), and sum (w + 128) x = sum w x + 128 sum x, so the int32 accumulator starts at -128 *
 * sum x (one vpdpbusd of 0x80 bytes by x, negated) instead of zero. |terms| <= 255 * 128 * 4 per
 * lane: exact int32 for the full int8 range of both operands, -128 included. Cost: one xor per
 * weight vector (shared by T tokens) and two ops per activation vector (shared by R rows); the sign
 * trick would add a masked negate per row x token product (AVX-512 has no vpsignb) and be wrong
 * for x = -128. */
#ifndef QK_KERNELS_AVX512VNNI_DOT_H
#define QK_KERNELS_AVX512VNNI_DOT_H

#include "kernels/fetch.h"
#include "kernels/prepare.h"

#include "kernels/avx512vnni/simd.h"

#define QK_AVX512_RMAX 8
#define QK_UNROLL      QK_AVX512_UNROLL_PRAGMA("GCC unroll 8")

/* {a x8, b x8}: the scales of a block pair, lane by lane. */
QK_INLINE __m512 qk_avx512_pair(float a, float b) {
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

/* One block pair (two = 1) or the odd last block (two = 0) at block b. PB: activation scales per
 * 32-block, else per token (a broadcast operand of the multiply: no register, no shuffle; in an odd
 * last block the upper lanes' weight scales are 0, so their products are 0). */
QK_INLINE void qk_avx512_step(__m512 acc[QK_AVX512_RMAX][QK_TOKEN_TILE], const qk_q8_matrix *w,
                              const qk_act_i8 *x, int r, int t0, int b, const int two, const int PB,
                              const int R, const int T, qk_fetch_fn fetch, qk_release_fn release,
                              qk_alloc_stats *count) {
    const int nb = w->cols / QK8_0;
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    qk_block_slot slot[QK_AVX512_RMAX][2];
    __m512i wv[QK_AVX512_RMAX];
    __m512 wd[QK_AVX512_RMAX];
    QK_UNROLL for (int i = 0; i < R; i++) {
        const size_t blk = (size_t)(r + i) * nb + b;
        float d0, d1 = 0.0f;
        const __m256i lo =
            _mm256_loadu_si256((const __m256i *)fetch(w, blk, &slot[i][0], &d0, count));
        __m256i hi = _mm256_setzero_si256();
        if (two)
            hi = _mm256_loadu_si256((const __m256i *)fetch(w, blk + 1, &slot[i][1], &d1, count));
        wv[i] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), bias);
        wd[i] = qk_avx512_pair(d0, d1);
    }
    QK_UNROLL for (int j = 0; j < T; j++) {
        const size_t t = (size_t)(t0 + j);
        const int8_t *xq = x->q + t * (size_t)x->cols + (size_t)b * QK8_0;
        const __m512i xv = two ? _mm512_loadu_si512(xq)
                               : _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)xq));
        const __m512i zero = _mm512_setzero_si512();
        const __m512i neg = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, xv));
        const float *s = x->scale + (PB ? t * nb + b : t);
        const __m512 xs = PB ? qk_avx512_pair(s[0], two ? s[1] : 0.0f) : _mm512_set1_ps(s[0]);
        QK_UNROLL for (int i = 0; i < R; i++) {
            const __m512 isum = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(neg, wv[i], xv));
            acc[i][j] = _mm512_fmadd_ps(isum, _mm512_mul_ps(wd[i], xs), acc[i][j]);
        }
    }
    QK_UNROLL for (int i = 0; i < R; i++) {
        release(&slot[i][0]);
        if (two) release(&slot[i][1]);
    }
}

/* Rows r .. r+R-1, tokens t0 .. t0+T-1 (PB, R, T constants after inlining). */
QK_INLINE void qk_avx512_tile(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r, int t0,
                              const int PB, const int R, const int T, qk_fetch_fn fetch,
                              qk_release_fn release, qk_alloc_stats *count) {
    const int nb = w->cols / QK8_0;
    __m512 acc[QK_AVX512_RMAX][QK_TOKEN_TILE];
    QK_UNROLL for (int i = 0; i < R; i++) QK_UNROLL for (int j = 0; j < T; j++) acc[i][j] =
        _mm512_setzero_ps();
    int b = 0;
    for (; b + 2 <= nb; b += 2)
        qk_avx512_step(acc, w, x, r, t0, b, 1, PB, R, T, fetch, release, count);
    if (b < nb) qk_avx512_step(acc, w, x, r, t0, b, 0, PB, R, T, fetch, release, count);
    QK_UNROLL for (int i = 0; i < R; i++) QK_UNROLL for (int j = 0; j < T; j++)
        dst[(size_t)(t0 + j) * w->rows + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

/* Rows r .. r+R-1, every token, in tiles of QK_TOKEN_TILE. */
QK_INLINE void qk_avx512_rows(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r,
                              const int PB, const int R, qk_fetch_fn fetch, qk_release_fn release,
                              qk_alloc_stats *count) {
    for (int t0 = 0; t0 < x->n_tokens; t0 += QK_TOKEN_TILE) {
        switch (x->n_tokens - t0) {
        case 1:
            qk_avx512_tile(dst, w, x, r, t0, PB, R, 1, fetch, release, count);
            break;
        case 2:
            qk_avx512_tile(dst, w, x, r, t0, PB, R, 2, fetch, release, count);
            break;
        case 3:
            qk_avx512_tile(dst, w, x, r, t0, PB, R, 3, fetch, release, count);
            break;
        default:
            qk_avx512_tile(dst, w, x, r, t0, PB, R, 4, fetch, release, count);
            break;
        }
    }
}

/* 8-row tiles at 1 token (8 independent fma chains), 4-row tiles otherwise (up to 16), then single
 * rows. */
QK_INLINE void qk_avx512_matmul_pb(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                   int r1, const int PB, qk_fetch_fn fetch, qk_release_fn release,
                                   qk_alloc_stats *count) {
    int r = r0;
    if (x->n_tokens == 1)
        for (; r + 8 <= r1; r += 8)
            qk_avx512_tile(dst, w, x, r, 0, PB, 8, 1, fetch, release, count);
    else
        for (; r + 4 <= r1; r += 4) qk_avx512_rows(dst, w, x, r, PB, 4, fetch, release, count);
    for (; r < r1; r++) qk_avx512_rows(dst, w, x, r, PB, 1, fetch, release, count);
}

QK_INLINE void qk_avx512_matmul(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0,
                                int r1, qk_fetch_fn fetch, qk_release_fn release,
                                qk_alloc_stats *count) {
    if (x->granularity == QK_ACT_PER_BLOCK)
        qk_avx512_matmul_pb(dst, w, x, r0, r1, 1, fetch, release, count);
    else
        qk_avx512_matmul_pb(dst, w, x, r0, r1, 0, fetch, release, count);
}

#endif
