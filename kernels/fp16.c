#include "kernels/fp16.h"

#include <immintrin.h>
#include <string.h>

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float qk_fp16_to_fp32_soft(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f)
        return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN (payload kept) */
    if (exp != 0) return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
    if (man == 0) return bits_f32(sign);
    /* subnormal: m * 2^-24; renormalise so the leading 1 becomes the implicit bit */
    int shift = 0;
    while (!(man & 0x400)) {
        man <<= 1;
        shift++;
    }
    man &= 0x3ff;
    return bits_f32(sign | ((uint32_t)(113 - shift) << 23) | (man << 13));
}

uint16_t qk_fp32_to_fp16_soft(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return sign | 0x7e00;  /* NaN */
    if (abs >= 0x477ff000u) return sign | 0x7c00; /* >= 65520 rounds to infinity */
    if (abs < 0x38800000u) {                      /* below 2^-14: fp16 subnormal or zero */
        if (abs < 0x33000000u) return sign; /* below 2^-25: rounds to zero (2^-25 ties to 0) */
        uint32_t e = abs >> 23;             /* 102..112 */
        uint32_t m = (abs & 0x7fffff) | 0x800000; /* 24-bit significand */
        uint32_t shift = 126 - e;                 /* value = m * 2^(e-150); fp16 unit = 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q;
    }
    /* normal: rebias exponent, round the 13 dropped mantissa bits to nearest even */
    uint32_t r = abs - ((127 - 15) << 23);
    uint32_t q = r >> 13, rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++; /* a carry into the exponent is correct */
    return sign | (uint16_t)q;
}

__attribute__((target("f16c"))) float qk_fp16_to_fp32_f16c(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

__attribute__((target("f16c"))) uint16_t qk_fp32_to_fp16_f16c(float f) {
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}

int qk_cpu_has_f16c(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("f16c") ? 1 : 0;
    }
    return cached;
}

float qk_fp16_to_fp32(uint16_t h) {
    return qk_cpu_has_f16c() ? qk_fp16_to_fp32_f16c(h) : qk_fp16_to_fp32_soft(h);
}

uint16_t qk_fp32_to_fp16(float f) {
    return qk_cpu_has_f16c() ? qk_fp32_to_fp16_f16c(f) : qk_fp32_to_fp16_soft(f);
}
