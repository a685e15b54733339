/* AVX2 core shared by the four variants in kernels/avx2/: a tile of R rows x T tokens (T <=
 * QK_TOKEN_TILE) per pass over the blocks, one 8-lane float accumulator per output; each weight
 * block is fetched once per tile and serves T tokens, each activation block serves R rows.
 *
 * Per block: 8 int32 lane sums of the 32 products, then acc = fma((float)isum, d_w * s_x, acc) per
 * lane, blocks in order; the 8 lanes are summed at the end in a fixed tree. The arithmetic of one
 * output does not depend on R, T, r0 or r1, so any row split (threads) gives the same bits.
 *
 * Operands: maddubs multiplies unsigned by signed bytes and saturates each int16 pair sum. We use
 * the sign trick: |w| as the unsigned operand (|-128| = 128 is exact as u8) and x carrying w's sign
 * (vpsignb) as the signed one. For x in -127..127 the negation cannot overflow, so every product is
 * exact and a pair sum is at most 2 * 128 * 127 = 32512 < 32767: no saturation, exact for every
 * weight. (It is wrong only for x = -128 with w < 0, which activation quantisation never produces;
 * kernel.h states the range.) Biasing w by +128 instead would reach 2 * 255 * 127 = 64770 and
 * saturate. */
#ifndef QK_KERNELS_AVX2_DOT_H
#define QK_KERNELS_AVX2_DOT_H

#include "kernels/fetch.h"
#include "kernels/prepare.h"

#include <immintrin.h>

#define QK_AVX2_RMAX 4
#define QK_UNROLL    _Pragma("GCC unroll 8")

/* 8 int32 lanes summing to the exact dot of w and x (see the operand note above). */
QK_INLINE __m256i qk_avx2_isum(__m256i w_abs, __m256i w, __m256i x, __m256i ones16) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(x, w)), ones16);
}

QK_INLINE float qk_avx2_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Rows r .. r+R-1, tokens t0 .. t0+T-1 (R, T constants after inlining). */
QK_INLINE void qk_avx2_tile(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r, int t0,
                            const int R, const int T, qk_fetch_fn fetch, qk_release_fn release,
                            qk_alloc_stats *count) {
    const int nb = w->cols / QK8_0;
    const size_t cols = (size_t)w->cols;
    const int per_block = x->granularity == QK_ACT_PER_BLOCK;
    const size_t xs_t = per_block ? (size_t)nb : 1, xs_b = per_block ? 1 : 0;
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc[QK_AVX2_RMAX][QK_TOKEN_TILE];
    QK_UNROLL for (int i = 0; i < R; i++) QK_UNROLL for (int j = 0; j < T; j++) acc[i][j] =
        _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        qk_block_slot slot[QK_AVX2_RMAX];
        __m256i wq[QK_AVX2_RMAX], wa[QK_AVX2_RMAX];
        __m256 wd[QK_AVX2_RMAX];
        QK_UNROLL for (int i = 0; i < R; i++) {
            float d;
            const int8_t *q = fetch(w, (size_t)(r + i) * nb + b, &slot[i], &d, count);
            wq[i] = _mm256_loadu_si256((const __m256i *)q);
            wa[i] = _mm256_abs_epi8(wq[i]);
            wd[i] = _mm256_set1_ps(d);
        }
        QK_UNROLL for (int j = 0; j < T; j++) {
            const size_t t = (size_t)(t0 + j);
            const __m256i xv =
                _mm256_loadu_si256((const __m256i *)(x->q + t * cols + (size_t)b * QK8_0));
            __m256 xs = _mm256_set1_ps(x->scale[t * xs_t + b * xs_b]);
            /* Hide that xs and wd are splats: GCC would otherwise turn each vector d_w * s_x into a
             * scalar multiply plus a broadcast, two ops per output and block instead of one. */
            __asm__("" : "+x"(xs));
            QK_UNROLL for (int i = 0; i < R; i++) {
                const __m256 isum = _mm256_cvtepi32_ps(qk_avx2_isum(wa[i], wq[i], xv, ones16));
                acc[i][j] = _mm256_fmadd_ps(isum, _mm256_mul_ps(wd[i], xs), acc[i][j]);
            }
        }
        QK_UNROLL for (int i = 0; i < R; i++) release(&slot[i]);
    }
    QK_UNROLL for (int i = 0; i < R; i++) QK_UNROLL for (int j = 0; j < T; j++)
        dst[(size_t)(t0 + j) * w->rows + r + i] = qk_avx2_hsum(acc[i][j]);
}

/* Rows r .. r+R-1, every token, in tiles of QK_TOKEN_TILE. */
QK_INLINE void qk_avx2_rows(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r,
                            const int R, qk_fetch_fn fetch, qk_release_fn release,
                            qk_alloc_stats *count) {
    for (int t0 = 0; t0 < x->n_tokens; t0 += QK_TOKEN_TILE) {
        switch (x->n_tokens - t0) {
        case 1:
            qk_avx2_tile(dst, w, x, r, t0, R, 1, fetch, release, count);
            break;
        case 2:
            qk_avx2_tile(dst, w, x, r, t0, R, 2, fetch, release, count);
            break;
        case 3:
            qk_avx2_tile(dst, w, x, r, t0, R, 3, fetch, release, count);
            break;
        default:
            qk_avx2_tile(dst, w, x, r, t0, R, 4, fetch, release, count);
            break;
        }
    }
}

/* 4-row tiles at 1 token (4 accumulators), 2-row tiles otherwise (up to 8), then single rows. */
QK_INLINE void qk_avx2_matmul(float *dst, const qk_q8_matrix *w, const qk_act_i8 *x, int r0, int r1,
                              qk_fetch_fn fetch, qk_release_fn release, qk_alloc_stats *count) {
    int r = r0;
    if (x->n_tokens == 1)
        for (; r + 4 <= r1; r += 4) qk_avx2_tile(dst, w, x, r, 0, 4, 1, fetch, release, count);
    else
        for (; r + 2 <= r1; r += 2) qk_avx2_rows(dst, w, x, r, 2, fetch, release, count);
    for (; r < r1; r++) qk_avx2_rows(dst, w, x, r, 1, fetch, release, count);
}

#endif
