/* The AVX-512 intrinsics kernels/avx512vnni/ uses that Debian 12's SIMDe (libsimde-dev
 * 0.7.4~rc2) does not implement, for the SIMDe build only (included by simd.h after SIMDe): each
 * one a pair of AVX2/F16C operations on the two 256-bit halves, with the instruction's own result
 * per lane (the conversions round as the zmm instruction does, under the same MXCSR; the masked
 * loads and stores leave masked-off lanes' memory untouched, as vmaskmovps does). The reductions
 * repeat GCC 12's avx512fintrin.h pairing, so the emulated sums round as the native ones do.
 * tests/test_kernels.c and tests/test_row_ops.c compare the two builds bit for bit on AVX-512
 * machines. */
#ifndef QK_KERNELS_AVX512VNNI_SIMDE_GAPS_H
#define QK_KERNELS_AVX512VNNI_SIMDE_GAPS_H

#include <stdint.h>

#define QK_GAP static inline __attribute__((always_inline))

QK_GAP simde__m512 qk_gap_ps(__m256 lo, __m256 hi) {
    simde__m512_private r;
    r.m256[0] = lo, r.m256[1] = hi;
    return simde__m512_from_private(r);
}
QK_GAP simde__m512i qk_gap_si(__m256i lo, __m256i hi) {
    simde__m512i_private r;
    r.m256i[0] = lo, r.m256i[1] = hi;
    return simde__m512i_from_private(r);
}
QK_GAP simde__m512d qk_gap_pd(__m256d lo, __m256d hi) {
    simde__m512d_private r;
    r.m256d[0] = lo, r.m256d[1] = hi;
    return simde__m512d_from_private(r);
}
#define QK_GAP_PS(v) simde__m512_to_private(v).m256
#define QK_GAP_SI(v) simde__m512i_to_private(v).m256i

QK_GAP simde__m512 qk_gap_cvtepi32_ps(simde__m512i a) {
    return qk_gap_ps(_mm256_cvtepi32_ps(QK_GAP_SI(a)[0]), _mm256_cvtepi32_ps(QK_GAP_SI(a)[1]));
}
QK_GAP simde__m512i qk_gap_cvttps_epi32(simde__m512 a) {
    return qk_gap_si(_mm256_cvttps_epi32(QK_GAP_PS(a)[0]), _mm256_cvttps_epi32(QK_GAP_PS(a)[1]));
}
QK_GAP simde__m512i qk_gap_cvtps_epi32(simde__m512 a) {
    return qk_gap_si(_mm256_cvtps_epi32(QK_GAP_PS(a)[0]), _mm256_cvtps_epi32(QK_GAP_PS(a)[1]));
}
QK_GAP simde__m512 qk_gap_cvtph_ps(__m256i a) {
    return qk_gap_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(a)),
                     _mm256_cvtph_ps(_mm256_extracti128_si256(a, 1)));
}
QK_GAP simde__m512i qk_gap_cvtepi16_epi32(__m256i a) {
    return qk_gap_si(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(a)),
                     _mm256_cvtepi16_epi32(_mm256_extracti128_si256(a, 1)));
}
QK_GAP simde__m512d qk_gap_cvtps_pd(__m256 a) {
    return qk_gap_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)),
                     _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
}
QK_GAP simde__m512i qk_gap_zextsi256_si512(__m256i a) {
    return qk_gap_si(a, _mm256_setzero_si256());
}
QK_GAP __m256 qk_gap_extractf32x8_ps(simde__m512 a, int hi) {
    return QK_GAP_PS(a)[hi & 1];
}

/* vpmovdb: the low byte of each int32 lane, in lane order. */
QK_GAP __m128i qk_gap_cvtepi32_epi8(simde__m512i a) {
    const __m256i pick =
        _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i lo = _mm256_shuffle_epi8(QK_GAP_SI(a)[0], pick);
    const __m256i hi = _mm256_shuffle_epi8(QK_GAP_SI(a)[1], pick);
    /* dwords 0 and 4 of each hold 4 bytes: lo's two, then hi's two */
    const __m256i both = _mm256_unpacklo_epi32(lo, hi); /* lo0 hi0 . . | lo4 hi4 . . */
    const __m256i order =
        _mm256_permutevar8x32_epi32(both, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0));
    /* lo0 lo4 hi0 hi4 in dwords 0..3 */
    return _mm256_castsi256_si128(order);
}

/* Lane masks of the two halves from the 16 bits of k. */
QK_GAP __m256i qk_gap_mask8(unsigned k) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)k), bit), bit);
}
QK_GAP simde__m512 qk_gap_maskz_loadu_ps(simde__mmask16 k, const void *p) {
    const float *f = (const float *)p;
    return qk_gap_ps(_mm256_maskload_ps(f, qk_gap_mask8(k & 0xff)),
                     _mm256_maskload_ps(f + 8, qk_gap_mask8((unsigned)k >> 8)));
}
QK_GAP void qk_gap_mask_storeu_ps(void *p, simde__mmask16 k, simde__m512 a) {
    float *f = (float *)p;
    _mm256_maskstore_ps(f, qk_gap_mask8(k & 0xff), QK_GAP_PS(a)[0]);
    _mm256_maskstore_ps(f + 8, qk_gap_mask8((unsigned)k >> 8), QK_GAP_PS(a)[1]);
}

/* GCC 12's __MM512_REDUCE_OP for floats: halves, then quarters, then {2,3,0,1}, then lanes 0, 1. */
QK_GAP float qk_gap_reduce_add_ps(simde__m512 a) {
    const __m256 t3 = _mm256_add_ps(QK_GAP_PS(a)[1], QK_GAP_PS(a)[0]);
    const __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    const __m128 t8 = _mm_add_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(t8) + _mm_cvtss_f32(_mm_shuffle_ps(t8, t8, 1));
}
QK_GAP float qk_gap_reduce_max_ps(simde__m512 a) {
    const __m256 t3 = _mm256_max_ps(QK_GAP_PS(a)[1], QK_GAP_PS(a)[0]);
    const __m128 t6 = _mm_max_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    const __m128 t8 = _mm_max_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m128 t10 = _mm_max_ps(t8, _mm_shuffle_ps(t8, t8, _MM_SHUFFLE(0, 1, 0, 1)));
    return _mm_cvtss_f32(t10);
}

#define _mm512_cvtepi32_ps(a)          qk_gap_cvtepi32_ps(a)
#define _mm512_cvttps_epi32(a)         qk_gap_cvttps_epi32(a)
#define _mm512_cvtps_epi32(a)          qk_gap_cvtps_epi32(a)
#define _mm512_cvtph_ps(a)             qk_gap_cvtph_ps(a)
#define _mm512_cvtepi16_epi32(a)       qk_gap_cvtepi16_epi32(a)
#define _mm512_cvtps_pd(a)             qk_gap_cvtps_pd(a)
#define _mm512_zextsi256_si512(a)      qk_gap_zextsi256_si512(a)
#define _mm512_extractf32x8_ps(a, i)   qk_gap_extractf32x8_ps(a, i)
#define _mm512_cvtepi32_epi8(a)        qk_gap_cvtepi32_epi8(a)
#define _mm512_maskz_loadu_ps(k, p)    qk_gap_maskz_loadu_ps(k, p)
#define _mm512_mask_storeu_ps(p, k, a) qk_gap_mask_storeu_ps(p, k, a)
#define _mm512_reduce_add_ps(a)        qk_gap_reduce_add_ps(a)
#define _mm512_reduce_max_ps(a)        qk_gap_reduce_max_ps(a)

#endif
