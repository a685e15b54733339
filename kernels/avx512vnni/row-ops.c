/* Row ops, AVX-512 (F/BW/VL/DQ; with AVX2, FMA and F16C): kernels/avx2/row-ops.c's algorithms on
 * 16 lanes, tails by masked loads and stores (a masked-off lane is neither read nor written).
 *
 * quantize is bit-identical to the scalar table (and so to model/q8_0.c), by the same argument as
 * the AVX2 one: the amax is a max, exact in any order (vmaxps(|x|, acc) returns acc when |x| is
 * NaN, as fmaxf ignores a NaN), a non-finite value sets a flag; d = amax / 127 and id = 1 / d are
 * the scalar operations (per block: eight blocks' in one ymm, vdivps and F16C rounding as the
 * scalar division and qk_fp32_to_fp16 do); v = x * id is a plain multiply kept apart from what
 * follows (no FMA contraction); the rounding is the scalar one in lanes (truncate, exact fraction,
 * +-1 where |fraction| >= 0.5), lanes outside (-127.5, 127.5) or NaN give 0; int32 -> int8 by
 * vpmovdb (exact: |q| <= 127). The per-token tail (< 16 values) is the scalar code.
 *
 * The float ops compute, lane by lane, what the AVX2 ones compute (the same operations, FMA where
 * they use FMA), so their accuracy is the AVX2 table's, measured and stated in
 * kernels/avx2/row-ops.c; only the summation orders of rms_norm's sum of squares, the attention
 * dots and exp_shift_sum's sum (16 lanes, other chains) differ, within the bounds that
 * tests/test_row_ops.c holds every table to. weighted_sum keeps the AVX2 order per element (row by
 * row from 0, one FMA each), so its values are the AVX2 table's.
 *
 * The fused ops compute the very tmp values of the unfused ones and quantise them the same way,
 * so they are bit-identical to the composition. */
#include "kernels/avx512vnni/simd.h"
#include "kernels/row-ops.h"

#include <float.h>
#include <math.h>

#define RO_INLINE        static inline __attribute__((always_inline))
#define qk_ro_opaque1(v) __asm__("" : "+x"(v)) /* a scalar float (an xmm in both builds) */

/* The first k lanes (0 <= k <= 16). */
RO_INLINE __mmask16 first(int k) {
    return (__mmask16)((1u << k) - 1u);
}

/* ---- quantisation ---- */

RO_INLINE int8_t q_round1(float v) { /* scalar tails: kernels/scalar/row-ops.c's q_round */
    qk_ro_opaque1(v);
    if (!(v > -127.5f && v < 127.5f)) return 0;
    int i = (int)v;
    const float f = v - (float)i;
    i += (f >= 0.5f) - (f <= -0.5f);
    return (int8_t)i;
}

/* q of x * id, 16 int8 in order. */
RO_INLINE __m128i q_round16(__m512 x, __m512 vid) {
    __m512 v = _mm512_mul_ps(x, vid);
    QK_ZMM_OPAQUE(v);
    const __mmask16 in = _mm512_cmp_ps_mask(_mm512_abs_ps(v), _mm512_set1_ps(127.5f), _CMP_LT_OQ);
    /* lanes out of range are 0 before the +-1 (their truncation, INT_MIN, would wrap: UB in the
     * SIMDe build's C arithmetic) and 0 after it */
    __m512i i = _mm512_maskz_mov_epi32(in, _mm512_cvttps_epi32(v));
    const __m512 f = _mm512_sub_ps(v, _mm512_cvtepi32_ps(i));
    const __m512i one = _mm512_set1_epi32(1);
    i = _mm512_mask_add_epi32(i, _mm512_cmp_ps_mask(f, _mm512_set1_ps(0.5f), _CMP_GE_OQ), i, one);
    i = _mm512_mask_sub_epi32(i, _mm512_cmp_ps_mask(f, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), i, one);
    return _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(in, i));
}

RO_INLINE void q_store32(int8_t *q, __m512 x0, __m512 x1, __m512 vid) {
    _mm_storeu_si128((__m128i *)q, q_round16(x0, vid));
    _mm_storeu_si128((__m128i *)(q + 16), q_round16(x1, vid));
}

/* Running amax (acc never NaN) and the lanes that saw a non-finite value. */
RO_INLINE void amax_step(__m512 x, __m512 *acc, __mmask16 *bad) {
    const __m512 a = _mm512_abs_ps(x);
    *acc = _mm512_max_ps(a, *acc);
    *bad |= _mm512_cmp_ps_mask(a, _mm512_set1_ps(FLT_MAX), _CMP_NLE_UQ);
}

RO_INLINE float inv_or_zero(float d) {
    return d != 0.0f ? 1.0f / d : 0.0f;
}

/* One 32-block from registers: q[0..32), returns the block's scale (fp16-rounded d, or NaN). */
RO_INLINE float q_block(int8_t *q, __m512 x0, __m512 x1) {
    __m512 acc = _mm512_setzero_ps();
    __mmask16 bad = 0;
    amax_step(x0, &acc, &bad);
    amax_step(x1, &acc, &bad);
    const float d = _mm512_reduce_max_ps(acc) / 127.0f;
    q_store32(q, x0, x1, _mm512_set1_ps(inv_or_zero(d)));
    const float dh = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    return bad || !isfinite(dh) ? NAN : dh;
}

/* Lane b of the result = op over the 8 lanes of v[b] (op: max; exact in any order). */
#define REDUCE8(op, v, out)                                                                        \
    do {                                                                                           \
        __m256 t_[4], r_[2];                                                                       \
        for (int i_ = 0; i_ < 4; i_++)                                                             \
            t_[i_] = op(_mm256_unpacklo_ps(v[2 * i_], v[2 * i_ + 1]),                              \
                        _mm256_unpackhi_ps(v[2 * i_], v[2 * i_ + 1]));                             \
        for (int i_ = 0; i_ < 2; i_++)                                                             \
            r_[i_] = op(_mm256_shuffle_ps(t_[2 * i_], t_[2 * i_ + 1], 0x44),                       \
                        _mm256_shuffle_ps(t_[2 * i_], t_[2 * i_ + 1], 0xee));                      \
        out = op(_mm256_permute2f128_ps(r_[0], r_[1], 0x20),                                       \
                 _mm256_permute2f128_ps(r_[0], r_[1], 0x31));                                      \
    } while (0)

/* Eight 32-blocks (256 values): their amax, d, 1/d and fp16 scales one ymm each, so that the
 * divisions and conversions of eight blocks overlap (as in the AVX2 table). */
static void quantize_8blocks(const float *x, int8_t *q, float *scale) {
    __m256 m[8], amax;
    unsigned badbits = 0;
    for (int b = 0; b < 8; b++) {
        __m512 acc = _mm512_setzero_ps();
        __mmask16 bad = 0;
        amax_step(_mm512_loadu_ps(x + 32 * b), &acc, &bad);
        amax_step(_mm512_loadu_ps(x + 32 * b + 16), &acc, &bad);
        m[b] = _mm256_max_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
        badbits |= (unsigned)(bad != 0) << b;
    }
    REDUCE8(_mm256_max_ps, m, amax);
    const __m256 d = _mm256_div_ps(amax, _mm256_set1_ps(127.0f));
    const __m256 id = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), d),
                                    _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    const __m256 dh = _mm256_cvtph_ps(_mm256_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT));
    const __m256 nan_ = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), dh),
                                      _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ);
    _mm256_storeu_ps(scale, _mm256_blendv_ps(dh, _mm256_set1_ps(NAN), nan_));
    for (int b = 0; b < 8; b++)
        if (badbits >> b & 1) scale[b] = NAN;
    float ids[8];
    _mm256_storeu_ps(ids, id);
    for (int b = 0; b < 8; b++)
        q_store32(q + 32 * b, _mm512_loadu_ps(x + 32 * b), _mm512_loadu_ps(x + 32 * b + 16),
                  _mm512_set1_ps(ids[b]));
}

static void quantize_blocks(const float *x, int n, int8_t *q, float *scale) {
    int b = 0;
    for (; b + 8 <= n / 32; b += 8) quantize_8blocks(x + 32 * b, q + 32 * b, scale + b);
    for (; b < n / 32; b++)
        scale[b] =
            q_block(q + b * 32, _mm512_loadu_ps(x + b * 32), _mm512_loadu_ps(x + b * 32 + 16));
}

/* Per token, once amax and the flag are known. */
static void quantize_token_with(const float *x, int n, int8_t *q, float *scale, float amax,
                                int bad) {
    const float d = amax / 127.0f;
    const float id = inv_or_zero(d);
    const __m512 vid = _mm512_set1_ps(id);
    int j = 0;
    for (; j + 32 <= n; j += 32)
        q_store32(q + j, _mm512_loadu_ps(x + j), _mm512_loadu_ps(x + j + 16), vid);
    for (; j + 16 <= n; j += 16)
        _mm_storeu_si128((__m128i *)(q + j), q_round16(_mm512_loadu_ps(x + j), vid));
    for (; j < n; j++) q[j] = q_round1(x[j] * id);
    *scale = bad || !isfinite(d) ? NAN : d;
}

/* amax and flag of x[0..n): 32 values per step, the tail masked (masked-off lanes load 0). */
static float amax_row(const float *x, int n, int *bad) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    __mmask16 b0 = 0;
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        amax_step(_mm512_loadu_ps(x + j), &a0, &b0);
        amax_step(_mm512_loadu_ps(x + j + 16), &a1, &b0);
    }
    for (; j < n; j += 16)
        amax_step(_mm512_maskz_loadu_ps(first(n - j < 16 ? n - j : 16), x + j), &a0, &b0);
    *bad = b0 != 0;
    return _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
}

static void quantize(const float *x, int n, int8_t *q, float *scale, int granularity) {
    if (granularity == QK_ACT_PER_BLOCK) {
        quantize_blocks(x, n, q, scale);
        return;
    }
    int bad;
    const float m = amax_row(x, n, &bad);
    quantize_token_with(x, n, q, scale, m, bad);
}

/* ---- rms_norm ---- */

static float rms_scale(const float *x, int n, float eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        const __m512d d0 = _mm512_cvtps_pd(_mm512_castps512_ps256(v0));
        const __m512d d1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v0, 1));
        const __m512d d2 = _mm512_cvtps_pd(_mm512_castps512_ps256(v1));
        const __m512d d3 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v1, 1));
        s0 = _mm512_fmadd_pd(d0, d0, s0); /* exact product: the FMA rounds as scalar's add does */
        s1 = _mm512_fmadd_pd(d1, d1, s1);
        s2 = _mm512_fmadd_pd(d2, d2, s2);
        s3 = _mm512_fmadd_pd(d3, d3, s3);
    }
    const __m512d s = _mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3));
    double lanes[8];
    _mm512_storeu_pd(lanes, s);
    double sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
                 ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for (; i < n; i++) sum += (double)x[i] * (double)x[i];
    const float mean = (float)(sum / n);
    return 1.0f / sqrtf(mean + eps);
}

RO_INLINE __m512 norm16(__m512 x, __m512 w, __m512 vs) {
    return _mm512_mul_ps(_mm512_mul_ps(x, vs), w);
}

static void rms_norm(float *dst, const float *x, const float *w, int n, float eps) {
    const __m512 vs = _mm512_set1_ps(rms_scale(x, n, eps));
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, norm16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(w + i), vs));
    if (i < n) {
        const __mmask16 k = first(n - i);
        _mm512_mask_storeu_ps(
            dst + i, k,
            norm16(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, w + i), vs));
    }
}

/* ---- geglu ---- */

/* exp(z) for z in [-87, 87] (clamped by the caller): Cephes expf, about 1 ulp (avx2's exp8). */
RO_INLINE __m512 exp16(__m512 z) {
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(z, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), z);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    const __m512i e =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

RO_INLINE __m512 gelu16(__m512 x) {
    const __m512 x2 = _mm512_mul_ps(x, x);
    const __m512 t = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x2), x, x);
    __m512 z = _mm512_mul_ps(t, _mm512_set1_ps(-2.0f * 0.7978845608028654f)); /* -2y */
    /* z > 87 (x < -9.4): |gelu| < |x| e^-87, below float's normal range: 0 */
    const __mmask16 under = _mm512_cmp_ps_mask(z, _mm512_set1_ps(87.0f), _CMP_GT_OQ);
    z = _mm512_min_ps(_mm512_max_ps(z, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(87.0f));
    return _mm512_maskz_mov_ps((__mmask16)~under,
                               _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(z))));
}

RO_INLINE __m512 geglu16(__m512 g, __m512 u) {
    return _mm512_mul_ps(gelu16(g), u);
}

static void geglu(float *dst, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, geglu16(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
    if (i < n) {
        const __mmask16 k = first(n - i);
        _mm512_mask_storeu_ps(
            dst + i, k, geglu16(_mm512_maskz_loadu_ps(k, g + i), _mm512_maskz_loadu_ps(k, u + i)));
    }
}

/* ---- fused ---- */

/* y = f(a, b) for 16 values (f: norm with vs, or geglu) */
#define FUSED_Y(isnorm, a, b, i, vs)                                                               \
    ((isnorm) ? norm16(_mm512_loadu_ps((a) + (i)), _mm512_loadu_ps((b) + (i)), vs)                 \
              : geglu16(_mm512_loadu_ps((a) + (i)), _mm512_loadu_ps((b) + (i))))

/* Per block: 256 values of tmp at a time, then quantize_blocks' way; blocks past the last multiple
 * of eight straight from registers. */
RO_INLINE void fused_blocks(const float *a, const float *b_, int n, __m512 vs, const int isnorm,
                            float *tmp, int8_t *q, float *scale) {
    int b = 0;
    for (; b + 8 <= n / 32; b += 8) {
        for (int i = 32 * b; i < 32 * b + 256; i += 16)
            _mm512_storeu_ps(tmp + i, FUSED_Y(isnorm, a, b_, i, vs));
        quantize_8blocks(tmp + 32 * b, q + 32 * b, scale + b);
    }
    for (; b < n / 32; b++) {
        const int j = b * 32;
        const __m512 y0 = FUSED_Y(isnorm, a, b_, j, vs), y1 = FUSED_Y(isnorm, a, b_, j + 16, vs);
        _mm512_storeu_ps(tmp + j, y0);
        _mm512_storeu_ps(tmp + j + 16, y1);
        scale[b] = q_block(q + j, y0, y1);
    }
}

static void rms_norm_quantize(const float *x, const float *w, int n, float eps, float *tmp,
                              int8_t *q, float *scale, int granularity) {
    const __m512 vs = _mm512_set1_ps(rms_scale(x, n, eps));
    if (granularity == QK_ACT_PER_BLOCK) {
        fused_blocks(x, w, n, vs, 1, tmp, q, scale);
        return;
    }
    /* per token: amax and the flag while tmp is written */
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    __mmask16 bad = 0;
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        const __m512 y0 = FUSED_Y(1, x, w, j, vs), y1 = FUSED_Y(1, x, w, j + 16, vs);
        _mm512_storeu_ps(tmp + j, y0);
        _mm512_storeu_ps(tmp + j + 16, y1);
        amax_step(y0, &a0, &bad);
        amax_step(y1, &a1, &bad);
    }
    for (; j < n; j += 16) {
        const __mmask16 k = first(n - j < 16 ? n - j : 16);
        const __m512 y =
            norm16(_mm512_maskz_loadu_ps(k, x + j), _mm512_maskz_loadu_ps(k, w + j), vs);
        _mm512_mask_storeu_ps(tmp + j, k, y);
        amax_step(y, &a0, &bad); /* masked-off lanes: 0 * s * 0 = 0 */
    }
    quantize_token_with(tmp, n, q, scale, _mm512_reduce_max_ps(_mm512_max_ps(a0, a1)), bad != 0);
}

static void geglu_quantize(const float *g, const float *u, int n, float *tmp, int8_t *q,
                           float *scale, int granularity) {
    if (granularity == QK_ACT_PER_BLOCK) {
        fused_blocks(g, u, n, _mm512_setzero_ps(), 0, tmp, q, scale);
        return;
    }
    /* per token: two passes (as the AVX2 table: the loop is bound by the GELU's division, and tmp
     * is in L1 for the second pass) */
    geglu(tmp, g, u, n);
    quantize(tmp, n, q, scale, QK_ACT_PER_TOKEN);
}

/* ---- attention: dot_rows, exp_shift_sum, weighted_sum ---- */

/* The sums of four zmm, as one xmm (lane c = the sum of acc[c]'s lanes). */
RO_INLINE __m128 hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
#define HALVES(v) _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1))
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(HALVES(a0), HALVES(a1)),
                                    _mm256_hadd_ps(HALVES(a2), HALVES(a3)));
#undef HALVES
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* Four consecutive keys against NQ (2 or 3) queries: each key load serves every query, NQ x 4
 * chains; out[j * os + 0..3]. NQ is a constant where it is inlined (the arrays live in registers).
 */
RO_INLINE void dotq4(float *out, size_t os, const float *q, size_t qs, const int nq,
                     const float *k0, size_t stride, int n) {
    const float *kp[4] = {k0, k0 + stride, k0 + 2 * stride, k0 + 3 * stride};
    __m512 acc[3][4], qv[3];
    for (int j = 0; j < nq; j++)
        for (int c = 0; c < 4; c++) acc[j][c] = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = first(n - i < 16 ? n - i : 16);
        for (int j = 0; j < nq; j++) qv[j] = _mm512_maskz_loadu_ps(m, q + j * qs + i);
        for (int c = 0; c < 4; c++) {
            const __m512 kv = _mm512_maskz_loadu_ps(m, kp[c] + i);
            for (int j = 0; j < nq; j++) acc[j][c] = _mm512_fmadd_ps(qv[j], kv, acc[j][c]);
        }
    }
    for (int j = 0; j < nq; j++)
        _mm_storeu_ps(out + j * os, hsum4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]));
}

/* Four consecutive keys against one query: each q load serves four keys, two chains per key
 * (eight in flight: the FMA latency times its throughput). */
static __m128 dot4(const float *q, const float *k0, size_t stride, int n) {
    const float *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 qa = _mm512_loadu_ps(q + i), qb = _mm512_loadu_ps(q + i + 16);
        a0 = _mm512_fmadd_ps(qa, _mm512_loadu_ps(k0 + i), a0);
        a1 = _mm512_fmadd_ps(qa, _mm512_loadu_ps(k1 + i), a1);
        a2 = _mm512_fmadd_ps(qa, _mm512_loadu_ps(k2 + i), a2);
        a3 = _mm512_fmadd_ps(qa, _mm512_loadu_ps(k3 + i), a3);
        b0 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k0 + i + 16), b0);
        b1 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k1 + i + 16), b1);
        b2 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k2 + i + 16), b2);
        b3 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k3 + i + 16), b3);
    }
    for (; i < n; i += 16) { /* the last 1..31: a full vector, then a masked one */
        const __mmask16 m = first(n - i < 16 ? n - i : 16);
        const __m512 qa = _mm512_maskz_loadu_ps(m, q + i);
        a0 = _mm512_fmadd_ps(qa, _mm512_maskz_loadu_ps(m, k0 + i), a0);
        a1 = _mm512_fmadd_ps(qa, _mm512_maskz_loadu_ps(m, k1 + i), a1);
        a2 = _mm512_fmadd_ps(qa, _mm512_maskz_loadu_ps(m, k2 + i), a2);
        a3 = _mm512_fmadd_ps(qa, _mm512_maskz_loadu_ps(m, k3 + i), a3);
    }
    return hsum4(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1), _mm512_add_ps(a2, b2),
                 _mm512_add_ps(a3, b3));
}

/* One key against one query, four chains (the keys past the last multiple of four). */
static float dot1(const float *q, const float *k, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(k + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), _mm512_loadu_ps(k + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 32), _mm512_loadu_ps(k + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 48), _mm512_loadu_ps(k + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(k + i), s0);
    if (i < n) {
        const __mmask16 m = first(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_maskz_loadu_ps(m, k + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* Queries three at a time (the rest: two, or one with dot4's two chains per key), keys four at a
 * time, then the last keys one by one. */
static void dot_rows(float *out, size_t out_stride, const float *q, size_t q_stride, int n_q,
                     const float *rows, size_t stride, int n_rows, int n) {
    for (int j = 0; j < n_q;) {
        const int nq = n_q - j >= 3 ? 3 : n_q - j;
        float *o = out + (size_t)j * out_stride;
        const float *qj = q + (size_t)j * q_stride;
        int r = 0;
        for (; r + 4 <= n_rows; r += 4) {
            const float *k = rows + (size_t)r * stride;
            if (nq == 3)
                dotq4(o + r, out_stride, qj, q_stride, 3, k, stride, n);
            else if (nq == 2)
                dotq4(o + r, out_stride, qj, q_stride, 2, k, stride, n);
            else
                _mm_storeu_ps(o + r, dot4(qj, k, stride, n));
        }
        for (; r < n_rows; r++)
            for (int jj = 0; jj < nq; jj++)
                o[(size_t)jj * out_stride + r] =
                    dot1(qj + (size_t)jj * q_stride, rows + (size_t)r * stride, n);
        j += nq;
    }
}

/* exp(x - shift): exp16 on the argument clamped to [-87, 88] (NaN passes the clamps: vmaxps and
 * vminps return their second operand when one is NaN), 0 below -87 (also -inf), +inf above 88. */
RO_INLINE __m512 exp_shift16(__m512 x, __m512 vs) {
    const __m512 z = _mm512_sub_ps(x, vs);
    const __m512 lo = _mm512_set1_ps(-87.0f), hi = _mm512_set1_ps(88.0f);
    const __m512 e = exp16(_mm512_min_ps(hi, _mm512_max_ps(lo, z)));
    const __m512 e0 = _mm512_maskz_mov_ps((__mmask16)~_mm512_cmp_ps_mask(z, lo, _CMP_LT_OQ), e);
    return _mm512_mask_mov_ps(e0, _mm512_cmp_ps_mask(z, hi, _CMP_GT_OQ), _mm512_set1_ps(INFINITY));
}

RO_INLINE void sum16_pd(__m512 e, __m512d *s0, __m512d *s1) {
    *s0 = _mm512_add_pd(*s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    *s1 = _mm512_add_pd(*s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
}

static double exp_shift_sum(float *x, int n, float shift) {
    const __m512 vs = _mm512_set1_ps(shift);
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 e0 = exp_shift16(_mm512_loadu_ps(x + i), vs);
        const __m512 e1 = exp_shift16(_mm512_loadu_ps(x + i + 16), vs);
        _mm512_storeu_ps(x + i, e0);
        _mm512_storeu_ps(x + i + 16, e1);
        sum16_pd(e0, &s0, &s1);
        sum16_pd(e1, &s2, &s3);
    }
    for (; i < n; i += 16) { /* the last 1..31: a full vector, then a masked one */
        const __mmask16 m = first(n - i < 16 ? n - i : 16);
        const __m512 e = _mm512_maskz_mov_ps(m, exp_shift16(_mm512_maskz_loadu_ps(m, x + i), vs));
        _mm512_mask_storeu_ps(x + i, m, e);
        sum16_pd(e, &s0, &s1);
    }
    const __m512d s = _mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3));
    double lanes[8];
    _mm512_storeu_pd(lanes, s);
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
           ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

/* out_j[0 .. 16 nv + tail) for NQ queries: nv full vectors and, if tail > 0, one masked vector of
 * tail lanes (nq and nv are constants where it is inlined). The accumulators stay in registers
 * across every row, so out is written once and each row element loaded once for all the queries.
 */
RO_INLINE void weighted_block(float *out, size_t os, const float *p, size_t ps, const int nq,
                              const float *rows, size_t stride, int n_rows, const int nv,
                              const int tail) {
    const __mmask16 m = first(tail);
    __m512 acc[3][9];
    for (int j = 0; j < nq; j++)
        for (int v = 0; v <= nv; v++) acc[j][v] = _mm512_setzero_ps();
    for (int r = 0; r < n_rows; r++, rows += stride) {
        __m512 pr[3];
        for (int j = 0; j < nq; j++) pr[j] = _mm512_set1_ps(p[j * ps + r]);
        for (int v = 0; v < nv; v++) {
            const __m512 x = _mm512_loadu_ps(rows + 16 * v);
            for (int j = 0; j < nq; j++) acc[j][v] = _mm512_fmadd_ps(pr[j], x, acc[j][v]);
        }
        if (tail) {
            const __m512 x = _mm512_maskz_loadu_ps(m, rows + 16 * nv);
            for (int j = 0; j < nq; j++) acc[j][nv] = _mm512_fmadd_ps(pr[j], x, acc[j][nv]);
        }
    }
    for (int j = 0; j < nq; j++) {
        for (int v = 0; v < nv; v++) _mm512_storeu_ps(out + j * os + 16 * v, acc[j][v]);
        if (tail) _mm512_mask_storeu_ps(out + j * os + 16 * nv, m, acc[j][nv]);
    }
}

/* NQ queries: blocks of W = 128 (one query) or 64 (two or three) values, then single vectors, then
 * a masked one. */
#define WEIGHTED_NQ(nq, w)                                                                         \
    do {                                                                                           \
        for (; i + (w) <= n; i += (w))                                                             \
            weighted_block(o + i, out_stride, pj, p_stride, nq, rows + i, stride, n_rows,          \
                           (w) / 16, 0);                                                           \
        for (; i + 16 <= n; i += 16)                                                               \
            weighted_block(o + i, out_stride, pj, p_stride, nq, rows + i, stride, n_rows, 1, 0);   \
        if (i < n)                                                                                 \
            weighted_block(o + i, out_stride, pj, p_stride, nq, rows + i, stride, n_rows, 0,       \
                           n - i);                                                                 \
    } while (0)

static void weighted_sum(float *out, size_t out_stride, const float *p, size_t p_stride, int n_q,
                         const float *rows, size_t stride, int n_rows, int n) {
    for (int j = 0; j < n_q;) {
        const int nq = n_q - j >= 3 ? 3 : n_q - j;
        float *o = out + (size_t)j * out_stride;
        const float *pj = p + (size_t)j * p_stride;
        int i = 0;
        if (nq == 3)
            WEIGHTED_NQ(3, 64);
        else if (nq == 2)
            WEIGHTED_NQ(2, 64);
        else
            WEIGHTED_NQ(1, 128);
        j += nq;
    }
}

const qk_row_ops qk_row_ops__avx512vnni = {
    .isa = QK_AVX512_ROW_OPS_ISA, /* "avx512vnni" (simd.h: the SIMDe build says so) */
    .isa_bits = QK_AVX512_ROW_OPS_BITS,
    .quantize = quantize,
    .rms_norm = rms_norm,
    .geglu = geglu,
    .rms_norm_quantize = rms_norm_quantize,
    .geglu_quantize = geglu_quantize,
    .dot_rows = dot_rows,
    .exp_shift_sum = exp_shift_sum,
    .weighted_sum = weighted_sum,
};
