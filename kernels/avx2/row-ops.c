/* Row ops, AVX2 + FMA + F16C.
 *
 * quantize is bit-identical to the scalar table (and so to model/q8_0.c): the amax is a max, exact
 * in any order (vmaxps(|x|, acc) returns acc when |x| is NaN, as fmaxf ignores a NaN); d = amax /
 * 127 and id = 1 / d are the same scalar operations; v = x * id is a plain vector multiply kept
 * apart from what follows (qk_ro_opaque: no FMA contraction); the rounding is the scalar one in
 * lanes (truncate, exact fraction, +-1 where |fraction| >= 0.5) and lanes outside (-127.5, 127.5)
 * (or NaN) give 0; int32 -> int8 by saturating packs (exact: |q| <= 127) and a lane permute.
 *
 * rms_norm sums squares in double (a float squared is exact in double, so only the summation order
 * differs from scalar: the float mean and so every output almost always come out identical).
 *
 * geglu: gelu_tanh(x) = 0.5 x (1 + tanh(y)) = x / (1 + exp(-2y)), y = sqrt(2/pi) (x + 0.044715
 * x^3), with a Cephes-style exp (argument clamped to [-87, 87]: no inf, no NaN for finite x, and
 * x^3 overflowing to inf only drives the clamp; where -2y > 87, x < -9.4, the result is 0, as
 * |gelu| < |x| e^-87 there). This form is more accurate than the scalar one, whose 1 + tanhf(y)
 * cancels for y << 0. Measured on x in [-20, 20] step 2^-16, against x / (1 + exp(-2y)) in double:
 * relative error <= 1.4e-7 for x >= 0, 1.3e-6 on [-4, 0), 5.7e-6 on [-8, -4), 1.1e-5 on [-9.3, -8)
 * (the float y's own rounding, amplified by |2y|: inherent to evaluating y in float, the scalar
 * form has it too); absolute error <= 5.2e-7 everywhere;
 * against the scalar table |difference| <= 2.1e-7 |x|, relative <= 1.2e-6 for x > -2.
 * tests/test_row_ops.c holds it to 2e-6 relative + 1.2e-7 |x u|.
 *
 * Per-block quantisation works on eight blocks at a time: their amax, d, 1/d and fp16 scales are
 * one vector each (vdivps and F16C round exactly as the scalar division and qk_fp32_to_fp16 do).
 *
 * The fused ops compute the very same tmp values as the unfused ones, so they are bit-identical
 * to the composition: rms_norm_quantize per token takes amax and the non-finite flag while tmp is
 * written; per block, both fused ops write 256 values of tmp and quantise them at once (blocks
 * past the last multiple of eight straight from registers); geglu_quantize per token is the two
 * passes (the GELU's division bounds that loop; folding amax in measured no faster).
 *
 * Attention (one query position; its heads that share a KV head come together, n_q of them):
 * dot_rows takes three queries and four keys per pass, each key load serving the three queries
 * (twelve FMA chains; one query alone: four keys, two chains each), tails by masked loads;
 * weighted_sum keeps a tile of out in registers (3 queries x 32 values, or 1 x 64) across every
 * row, so each value is loaded once for all the queries and out written once. Both round
 * differently from the scalar sequential sums (FMA, other order): within n 2^-24 sum |terms| of
 * the exact sum (tests/test_row_ops.c). Measured at 128 tokens, 3 heads of 256 per KV head, one
 * core (queries and keys in L2): about 70 GFLOPS against 27 for the former one-key dot and axpy.
 * exp_shift_sum uses exp8 on x - shift clamped to [-87, 88]: 0 below -87 (also for -inf; expf's
 * results there are below 1.7e-38), +inf above 88, NaN kept; relative error <= 8.4e-8 measured
 * on [-87, 0] step 2^-16 against exp in double (tests: 2e-7); the sum in double (four chains).
 */
#include "kernels/row-ops.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>

#define qk_ro_opaque(v) __asm__("" : "+x"(v))
#define RO_INLINE       static inline __attribute__((always_inline))

/* ---- quantisation ---- */

RO_INLINE int8_t q_round1(float v) { /* scalar tails: kernels/scalar/row-ops.c's q_round */
    qk_ro_opaque(v);
    if (!(v > -127.5f && v < 127.5f)) return 0;
    int i = (int)v;
    const float f = v - (float)i;
    i += (f >= 0.5f) - (f <= -0.5f);
    return (int8_t)i;
}

RO_INLINE __m256 abs_ps(__m256 v) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

/* q of x * id in int32 lanes. */
RO_INLINE __m256i q_round8(__m256 x, __m256 vid) {
    __m256 v = _mm256_mul_ps(x, vid);
    qk_ro_opaque(v);
    const __m256 in = _mm256_cmp_ps(abs_ps(v), _mm256_set1_ps(127.5f), _CMP_LT_OQ);
    __m256i i = _mm256_cvttps_epi32(v);
    const __m256 f = _mm256_sub_ps(v, _mm256_cvtepi32_ps(i));
    i = _mm256_sub_epi32(i,
                         _mm256_castps_si256(_mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
    i = _mm256_add_epi32(i,
                         _mm256_castps_si256(_mm256_cmp_ps(f, _mm256_set1_ps(-0.5f), _CMP_LE_OQ)));
    return _mm256_and_si256(i, _mm256_castps_si256(in));
}

/* 32 values -> 32 int8 in order. */
RO_INLINE void q_store32(int8_t *q, __m256 x0, __m256 x1, __m256 x2, __m256 x3, __m256 vid) {
    const __m256i ab = _mm256_packs_epi32(q_round8(x0, vid), q_round8(x1, vid));
    const __m256i cd = _mm256_packs_epi32(q_round8(x2, vid), q_round8(x3, vid));
    const __m256i abcd = _mm256_packs_epi16(ab, cd); /* dwords a0 b0 c0 d0 a1 b1 c1 d1 */
    _mm256_storeu_si256(
        (__m256i *)q, _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

/* Running amax (acc never NaN) and non-finite flag over one vector. */
RO_INLINE void amax_step(__m256 x, __m256 *acc, __m256 *bad) {
    const __m256 a = abs_ps(x);
    *acc = _mm256_max_ps(a, *acc);
    *bad = _mm256_or_ps(*bad, _mm256_cmp_ps(a, _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ));
}

RO_INLINE float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

RO_INLINE float inv_or_zero(float d) {
    return d != 0.0f ? 1.0f / d : 0.0f;
}

/* One 32-block from registers: q[0..32), returns the block's scale (fp16-rounded d, or NaN). */
RO_INLINE float q_block(int8_t *q, __m256 x0, __m256 x1, __m256 x2, __m256 x3) {
    __m256 acc = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    amax_step(x0, &acc, &bad);
    amax_step(x1, &acc, &bad);
    amax_step(x2, &acc, &bad);
    amax_step(x3, &acc, &bad);
    const float d = hmax(acc) / 127.0f;
    q_store32(q, x0, x1, x2, x3, _mm256_set1_ps(inv_or_zero(d)));
    const float dh = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    return _mm256_movemask_ps(bad) || !isfinite(dh) ? NAN : dh;
}

/* Lane b of the result = op over the 8 lanes of v[b] (op: max or or; both exact in any order). */
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

/* Eight 32-blocks (256 values): the eight amax, d, 1/d and fp16 scales in one vector each (vdivps
 * rounds as the scalar division does, and F16C as qk_fp32_to_fp16), so the divisions and
 * conversions of eight blocks overlap instead of forming one chain per block. */
static void quantize_8blocks(const float *x, int8_t *q, float *scale) {
    __m256 m[8], bad[8], amax, anybad;
    for (int b = 0; b < 8; b++) {
        m[b] = _mm256_setzero_ps(), bad[b] = _mm256_setzero_ps();
        for (int v = 0; v < 4; v++) amax_step(_mm256_loadu_ps(x + 32 * b + 8 * v), &m[b], &bad[b]);
    }
    REDUCE8(_mm256_max_ps, m, amax);
    REDUCE8(_mm256_or_ps, bad, anybad);
    const __m256 d = _mm256_div_ps(amax, _mm256_set1_ps(127.0f));
    const __m256 id = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), d),
                                    _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    const __m256 dh = _mm256_cvtph_ps(_mm256_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT));
    const __m256 nan_ =
        _mm256_or_ps(anybad, _mm256_cmp_ps(abs_ps(dh), _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ));
    _mm256_storeu_ps(scale, _mm256_blendv_ps(dh, _mm256_set1_ps(NAN), nan_));
    float ids[8];
    _mm256_storeu_ps(ids, id);
    for (int b = 0; b < 8; b++) {
        const float *xb = x + 32 * b;
        q_store32(q + 32 * b, _mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8),
                  _mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24), _mm256_set1_ps(ids[b]));
    }
}

static void quantize_blocks(const float *x, int n, int8_t *q, float *scale) {
    int b = 0;
    for (; b + 8 <= n / 32; b += 8) quantize_8blocks(x + 32 * b, q + 32 * b, scale + b);
    for (; b < n / 32; b++) {
        const float *xb = x + b * 32;
        scale[b] = q_block(q + b * 32, _mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8),
                           _mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24));
    }
}

/* Per token, once amax and the flag are known. */
static void quantize_token_with(const float *x, int n, int8_t *q, float *scale, float amax,
                                int bad) {
    const float d = amax / 127.0f;
    const float id = inv_or_zero(d);
    const __m256 vid = _mm256_set1_ps(id);
    int j = 0;
    for (; j + 32 <= n; j += 32)
        q_store32(q + j, _mm256_loadu_ps(x + j), _mm256_loadu_ps(x + j + 8),
                  _mm256_loadu_ps(x + j + 16), _mm256_loadu_ps(x + j + 24), vid);
    for (; j < n; j++) q[j] = q_round1(x[j] * id);
    *scale = bad || !isfinite(d) ? NAN : d;
}

RO_INLINE void amax_tail(const float *x, int j, int n, float *m, int *bad) {
    for (; j < n; j++) {
        const float a = fabsf(x[j]);
        *m = a > *m ? a : *m;
        *bad |= !(a <= FLT_MAX);
    }
}

static void quantize(const float *x, int n, int8_t *q, float *scale, int granularity) {
    if (granularity == QK_ACT_PER_BLOCK) {
        quantize_blocks(x, n, q, scale);
        return;
    }
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, bad = a0;
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        amax_step(_mm256_loadu_ps(x + j), &a0, &bad);
        amax_step(_mm256_loadu_ps(x + j + 8), &a1, &bad);
        amax_step(_mm256_loadu_ps(x + j + 16), &a2, &bad);
        amax_step(_mm256_loadu_ps(x + j + 24), &a3, &bad);
    }
    float m = hmax(_mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
    int b = _mm256_movemask_ps(bad) != 0;
    amax_tail(x, j, n, &m, &b);
    quantize_token_with(x, n, q, scale, m, b);
}

/* ---- rms_norm ---- */

static float rms_scale(const float *x, int n, float eps) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        const __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v0));
        const __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1));
        const __m256d d2 = _mm256_cvtps_pd(_mm256_castps256_ps128(v1));
        const __m256d d3 = _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1));
        s0 = _mm256_fmadd_pd(d0, d0, s0); /* exact product: the FMA rounds as scalar's add does */
        s1 = _mm256_fmadd_pd(d1, d1, s1);
        s2 = _mm256_fmadd_pd(d2, d2, s2);
        s3 = _mm256_fmadd_pd(d3, d3, s3);
    }
    const __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; i++) sum += (double)x[i] * (double)x[i];
    const float mean = (float)(sum / n);
    return 1.0f / sqrtf(mean + eps);
}

RO_INLINE __m256 norm8(const float *x, const float *w, __m256 vs) {
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x), vs), _mm256_loadu_ps(w));
}

static void rms_norm(float *dst, const float *x, const float *w, int n, float eps) {
    const float scale = rms_scale(x, n, eps);
    const __m256 vs = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, norm8(x + i, w + i, vs));
    for (; i < n; i++) dst[i] = x[i] * scale * w[i];
}

/* ---- geglu ---- */

/* exp(z) for z in [-87, 87] (clamped by the caller): Cephes expf, about 1 ulp. */
RO_INLINE __m256 exp8(__m256 z) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(z, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), z);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

RO_INLINE __m256 gelu8(__m256 x) {
    const __m256 x2 = _mm256_mul_ps(x, x);
    const __m256 t = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x2), x, x);
    __m256 z = _mm256_mul_ps(t, _mm256_set1_ps(-2.0f * 0.7978845608028654f)); /* -2y */
    /* z > 87 (x < -9.4): |gelu| < |x| e^-87, below float's normal range: 0 */
    const __m256 under = _mm256_cmp_ps(z, _mm256_set1_ps(87.0f), _CMP_GT_OQ);
    z = _mm256_min_ps(_mm256_max_ps(z, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(87.0f));
    return _mm256_andnot_ps(under, _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(z))));
}

RO_INLINE __m256 geglu8(const float *g, const float *u) {
    return _mm256_mul_ps(gelu8(_mm256_loadu_ps(g)), _mm256_loadu_ps(u));
}

/* Tails (< 8 values) through the same vector code, via a padded copy. */
static void geglu_tail(float *dst, const float *g, const float *u, int n) {
    float gb[8] = {0}, ub[8] = {0}, ob[8];
    for (int i = 0; i < n; i++) gb[i] = g[i], ub[i] = u[i];
    _mm256_storeu_ps(ob, geglu8(gb, ub));
    for (int i = 0; i < n; i++) dst[i] = ob[i];
}

static void geglu(float *dst, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, geglu8(g + i, u + i));
    if (i < n) geglu_tail(dst + i, g + i, u + i, n - i);
}

/* ---- fused ---- */

static void rms_norm_quantize(const float *x, const float *w, int n, float eps, float *tmp,
                              int8_t *q, float *scale, int granularity) {
    const __m256 vs = _mm256_set1_ps(rms_scale(x, n, eps));
    if (granularity == QK_ACT_PER_BLOCK) {
        int b = 0;
        for (; b + 8 <= n / 32; b += 8) { /* 256 values to tmp, then quantize_blocks' way */
            for (int i = 32 * b; i < 32 * b + 256; i += 8)
                _mm256_storeu_ps(tmp + i, norm8(x + i, w + i, vs));
            quantize_8blocks(tmp + 32 * b, q + 32 * b, scale + b);
        }
        for (; b < n / 32; b++) {
            const int j = b * 32;
            const __m256 y0 = norm8(x + j, w + j, vs), y1 = norm8(x + j + 8, w + j + 8, vs);
            const __m256 y2 = norm8(x + j + 16, w + j + 16, vs);
            const __m256 y3 = norm8(x + j + 24, w + j + 24, vs);
            _mm256_storeu_ps(tmp + j, y0);
            _mm256_storeu_ps(tmp + j + 8, y1);
            _mm256_storeu_ps(tmp + j + 16, y2);
            _mm256_storeu_ps(tmp + j + 24, y3);
            scale[b] = q_block(q + j, y0, y1, y2, y3);
        }
        return;
    }
    const float s = _mm_cvtss_f32(_mm256_castps256_ps128(vs));
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, bad = a0;
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m256 y0 = norm8(x + j, w + j, vs), y1 = norm8(x + j + 8, w + j + 8, vs);
        _mm256_storeu_ps(tmp + j, y0);
        _mm256_storeu_ps(tmp + j + 8, y1);
        amax_step(y0, &a0, &bad);
        amax_step(y1, &a1, &bad);
    }
    for (int i = j; i < n; i++) tmp[i] = x[i] * s * w[i];
    float m = hmax(_mm256_max_ps(a0, a1));
    int b = _mm256_movemask_ps(bad) != 0;
    amax_tail(tmp, j, n, &m, &b);
    quantize_token_with(tmp, n, q, scale, m, b);
}

static void geglu_quantize(const float *g, const float *u, int n, float *tmp, int8_t *q,
                           float *scale, int granularity) {
    if (granularity == QK_ACT_PER_BLOCK) {
        int b = 0;
        for (; b + 8 <= n / 32; b += 8) {
            for (int i = 32 * b; i < 32 * b + 256; i += 8)
                _mm256_storeu_ps(tmp + i, geglu8(g + i, u + i));
            quantize_8blocks(tmp + 32 * b, q + 32 * b, scale + b);
        }
        for (; b < n / 32; b++) {
            const int j = b * 32;
            const __m256 y0 = geglu8(g + j, u + j), y1 = geglu8(g + j + 8, u + j + 8);
            const __m256 y2 = geglu8(g + j + 16, u + j + 16), y3 = geglu8(g + j + 24, u + j + 24);
            _mm256_storeu_ps(tmp + j, y0);
            _mm256_storeu_ps(tmp + j + 8, y1);
            _mm256_storeu_ps(tmp + j + 16, y2);
            _mm256_storeu_ps(tmp + j + 24, y3);
            scale[b] = q_block(q + j, y0, y1, y2, y3);
        }
        return;
    }
    /* Per token: two passes (amax taken while tmp is written measured slower: the loop is bound by
     * the GELU's division, and tmp is in L1 for the second pass anyway). */
    geglu(tmp, g, u, n);
    quantize(tmp, n, q, scale, QK_ACT_PER_TOKEN);
}

/* ---- attention: dot_rows, exp_shift_sum, weighted_sum ---- */

/* The first k lanes set (0 <= k <= 8): the masked loads and stores of the tails (a masked-off lane
 * is neither read nor written, so a tail never touches memory past the row). */
static const int32_t tail_mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
RO_INLINE __m256i tail_mask(int k) {
    return _mm256_loadu_si256((const __m256i *)(tail_mask_tab + 8 - k));
}

/* One row, four chains (the rows past the last multiple of four). */
static float dot1(const float *q, const float *k, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(k + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16), _mm256_loadu_ps(k + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24), _mm256_loadu_ps(k + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), s0);
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(q + i, m), _mm256_maskload_ps(k + i, m), s1);
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

#define DOT4_STEP(qv, off, c)                                                                      \
    do {                                                                                           \
        a0##c = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + (off)), a0##c);                           \
        a1##c = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + (off)), a1##c);                           \
        a2##c = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + (off)), a2##c);                           \
        a3##c = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + (off)), a3##c);                           \
    } while (0)

/* Four consecutive rows: each q load serves four keys, two chains per key (eight in flight: the
 * FMA latency times its throughput); the four sums come out as one vector. */
static __m128 dot4(const float *q, const float *k0, size_t stride, int n) {
    const float *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
    __m256 a0a = _mm256_setzero_ps(), a0b = a0a, a1a = a0a, a1b = a0a, a2a = a0a, a2b = a0a,
           a3a = a0a, a3b = a0a;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 qa = _mm256_loadu_ps(q + i), qb = _mm256_loadu_ps(q + i + 8);
        DOT4_STEP(qa, i, a);
        DOT4_STEP(qb, i + 8, b);
    }
    if (i + 8 <= n) {
        const __m256 qa = _mm256_loadu_ps(q + i);
        DOT4_STEP(qa, i, a);
        i += 8;
    }
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        const __m256 qb = _mm256_maskload_ps(q + i, m);
        a0b = _mm256_fmadd_ps(qb, _mm256_maskload_ps(k0 + i, m), a0b);
        a1b = _mm256_fmadd_ps(qb, _mm256_maskload_ps(k1 + i, m), a1b);
        a2b = _mm256_fmadd_ps(qb, _mm256_maskload_ps(k2 + i, m), a2b);
        a3b = _mm256_fmadd_ps(qb, _mm256_maskload_ps(k3 + i, m), a3b);
    }
    /* hadd(hadd(s0, s1), hadd(s2, s3)): lane r (and r + 4) hold partial sums of key r */
    const __m256 t =
        _mm256_hadd_ps(_mm256_hadd_ps(_mm256_add_ps(a0a, a0b), _mm256_add_ps(a1a, a1b)),
                       _mm256_hadd_ps(_mm256_add_ps(a2a, a2b), _mm256_add_ps(a3a, a3b)));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* Four consecutive keys against NQ (2 or 3) queries: each key load serves every query, NQ x 4
 * chains; out[j * os + 0..3]. NQ is a constant where it is inlined (the arrays live in registers).
 */
RO_INLINE void dotq4(float *out, size_t os, const float *q, size_t qs, const int nq,
                     const float *k0, size_t stride, int n) {
    const float *kp[4] = {k0, k0 + stride, k0 + 2 * stride, k0 + 3 * stride};
    __m256 acc[3][4], qv[3];
    for (int j = 0; j < nq; j++)
        for (int c = 0; c < 4; c++) acc[j][c] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < nq; j++) qv[j] = _mm256_loadu_ps(q + j * qs + i);
        for (int c = 0; c < 4; c++) {
            const __m256 kv = _mm256_loadu_ps(kp[c] + i);
            for (int j = 0; j < nq; j++) acc[j][c] = _mm256_fmadd_ps(qv[j], kv, acc[j][c]);
        }
    }
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        for (int j = 0; j < nq; j++) qv[j] = _mm256_maskload_ps(q + j * qs + i, m);
        for (int c = 0; c < 4; c++) {
            const __m256 kv = _mm256_maskload_ps(kp[c] + i, m);
            for (int j = 0; j < nq; j++) acc[j][c] = _mm256_fmadd_ps(qv[j], kv, acc[j][c]);
        }
    }
    for (int j = 0; j < nq; j++) {
        const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(acc[j][0], acc[j][1]),
                                        _mm256_hadd_ps(acc[j][2], acc[j][3]));
        _mm_storeu_ps(out + j * os,
                      _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
    }
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

/* exp(x - shift): exp8 on the argument clamped to [-87, 88] (NaN passes the clamps: vmaxps and
 * vminps return their second operand when one is NaN), 0 below -87 (exp(-87) = 1.6e-38: also for
 * -inf), +inf above 88 (expf overflows from 88.72 on). */
RO_INLINE __m256 exp_shift8(__m256 x, __m256 vs) {
    const __m256 z = _mm256_sub_ps(x, vs);
    const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.0f);
    const __m256 e = exp8(_mm256_min_ps(hi, _mm256_max_ps(lo, z)));
    const __m256 over = _mm256_cmp_ps(z, hi, _CMP_GT_OQ);
    return _mm256_blendv_ps(_mm256_andnot_ps(_mm256_cmp_ps(z, lo, _CMP_LT_OQ), e),
                            _mm256_set1_ps(INFINITY), over);
}

RO_INLINE void sum8_pd(__m256 e, __m256d *s0, __m256d *s1) {
    *s0 = _mm256_add_pd(*s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    *s1 = _mm256_add_pd(*s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

static double exp_shift_sum(float *x, int n, float shift) {
    const __m256 vs = _mm256_set1_ps(shift);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 e0 = exp_shift8(_mm256_loadu_ps(x + i), vs);
        const __m256 e1 = exp_shift8(_mm256_loadu_ps(x + i + 8), vs);
        _mm256_storeu_ps(x + i, e0);
        _mm256_storeu_ps(x + i + 8, e1);
        sum8_pd(e0, &s0, &s1);
        sum8_pd(e1, &s2, &s3);
    }
    for (; i < n; i += 8) { /* the last 1..15: a full vector, then a masked one */
        const __m256i m = tail_mask(n - i < 8 ? n - i : 8);
        const __m256 e =
            _mm256_and_ps(exp_shift8(_mm256_maskload_ps(x + i, m), vs), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + i, m, e);
        sum8_pd(e, &s0, &s1);
    }
    const __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

/* out_j[0 .. 8 nv + tail) for NQ queries: nv full vectors and, if tail > 0, one masked vector of
 * tail lanes (NQ x (nv + 1) <= 16 minus the loads; nq and nv are constants where it is inlined).
 * The accumulators stay in registers across every row, so out is written once and each row
 * element loaded once for all the queries. */
RO_INLINE void weighted_block(float *out, size_t os, const float *p, size_t ps, const int nq,
                              const float *rows, size_t stride, int n_rows, const int nv,
                              const int tail) {
    const __m256i m = tail_mask(tail);
    __m256 acc[3][8];
    for (int j = 0; j < nq; j++)
        for (int v = 0; v < 8; v++) acc[j][v] = _mm256_setzero_ps();
    for (int r = 0; r < n_rows; r++, rows += stride) {
        __m256 pr[3];
        for (int j = 0; j < nq; j++) pr[j] = _mm256_broadcast_ss(p + j * ps + r);
        for (int v = 0; v < nv; v++) {
            const __m256 x = _mm256_loadu_ps(rows + 8 * v);
            for (int j = 0; j < nq; j++) acc[j][v] = _mm256_fmadd_ps(pr[j], x, acc[j][v]);
        }
        if (tail) {
            const __m256 x = _mm256_maskload_ps(rows + 8 * nv, m);
            for (int j = 0; j < nq; j++) acc[j][nv] = _mm256_fmadd_ps(pr[j], x, acc[j][nv]);
        }
    }
    for (int j = 0; j < nq; j++) {
        for (int v = 0; v < nv; v++) _mm256_storeu_ps(out + j * os + 8 * v, acc[j][v]);
        if (tail) _mm256_maskstore_ps(out + j * os + 8 * nv, m, acc[j][nv]);
    }
}

/* NQ queries: blocks of W = 64 (one query) or 32 (two or three) values, then single vectors, then
 * a masked one. */
#define WEIGHTED_NQ(nq, w)                                                                         \
    do {                                                                                           \
        for (; i + (w) <= n; i += (w))                                                             \
            weighted_block(o + i, out_stride, pj, p_stride, nq, rows + i, stride, n_rows, (w) / 8, \
                           0);                                                                     \
        for (; i + 8 <= n; i += 8)                                                                 \
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
            WEIGHTED_NQ(3, 32);
        else if (nq == 2)
            WEIGHTED_NQ(2, 32);
        else
            WEIGHTED_NQ(1, 64);
        j += nq;
    }
}

const qk_row_ops qk_row_ops__avx2 = {
    .isa = "avx2",
    .isa_bits = QK_ISA_AVX2,
    .quantize = quantize,
    .rms_norm = rms_norm,
    .geglu = geglu,
    .rms_norm_quantize = rms_norm_quantize,
    .geglu_quantize = geglu_quantize,
    .dot_rows = dot_rows,
    .exp_shift_sum = exp_shift_sum,
    .weighted_sum = weighted_sum,
};
