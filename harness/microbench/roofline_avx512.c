/* AVX-512 and VNNI loops of `qkbench roofline`: vpmaddubsw on zmm (AVX512BW), vpdpbusd on ymm
 * (VEX-encoded AVX-VNNI, or EVEX with AVX512-VNNI + AVX512VL) and on zmm (AVX512-VNNI). Each
 * function carries its own target attribute; roofline.c calls it only on a CPU that has the
 * feature. Inline assembly, as in roofline_avx2.c, so the instruction mix is exactly the named one:
 * 12 independent accumulator chains (vpdpbusd has a latency of about 4 cycles and two issue per
 * cycle on recent cores, so 8+ chains are needed to reach its throughput). */
#include <immintrin.h>

#include "harness/microbench/roofline.h"

#define LOOP_END "dec %[n]\n\tjnz 1b\n\t"

#define REDUCE_256(s, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11)                            \
    do {                                                                                           \
        s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), c2),                       \
                             _mm256_add_epi32(_mm256_add_epi32(c3, c4), c5));                      \
        s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_add_epi32(c6, c7), c8));                   \
        s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_add_epi32(c9, c10), c11));                 \
    } while (0)

#define OUTS_12                                                                                    \
    [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5),      \
        [c6] "+v"(c6), [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10),               \
        [c11] "+v"(c11)

/* The lane sums only keep the loops from being removed; they are added as unsigned 64-bit numbers
 * because the int32 lanes have long since wrapped (a signed horizontal add would overflow: UB). */
__attribute__((target("avx512f"))) static uint64_t sum_lanes_512(__m512i s) {
    uint32_t lanes[16];
    _mm512_storeu_si512((void *)lanes, s);
    uint64_t r = 0;
    for (int i = 0; i < 16; i++) r += lanes[i];
    return r;
}

/* ---- vpmaddubsw + vpmaddwd + vpaddd, zmm */

#define MADDUBS_CHAIN(c)                                                                           \
    "vpmaddubsw %[b], %[a], %[t]\n\t"                                                              \
    "vpmaddwd %[o], %[t], %[t]\n\t"                                                                \
    "vpaddd %[t], %[" #c "], %[" #c "]\n\t"

__attribute__((target("avx512f,avx512bw"))) uint64_t qk_roofline_maddubs_avx512bw(long iters) {
    if (iters <= 0) return 0;
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2), o = _mm512_set1_epi16(1);
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
            c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, t;
    __asm__ volatile("1:\n\t" MADDUBS_CHAIN(c0) MADDUBS_CHAIN(c1) MADDUBS_CHAIN(c2)
                         MADDUBS_CHAIN(c3) MADDUBS_CHAIN(c4) MADDUBS_CHAIN(c5) MADDUBS_CHAIN(c6)
                             MADDUBS_CHAIN(c7) MADDUBS_CHAIN(c8) MADDUBS_CHAIN(c9)
                                 MADDUBS_CHAIN(c10) MADDUBS_CHAIN(c11) LOOP_END
                     : [n] "+r"(iters), OUTS_12, [t] "=&v"(t)
                     : [a] "v"(a), [b] "v"(b), [o] "v"(o)
                     : "cc");
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), c2),
                                 _mm512_add_epi32(_mm512_add_epi32(c3, c4), c5));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c6, c7), c8));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c9, c10), c11));
    return sum_lanes_512(s);
}

/* ---- vpdpbusd: c += sum of 4 adjacent u8 x s8 products per 32-bit lane */

#define DP_CHAIN(prefix, c) prefix "vpdpbusd %[b], %[a], %[" #c "]\n\t"
#define DP_BODY(prefix)                                                                            \
    "1:\n\t" DP_CHAIN(prefix, c0) DP_CHAIN(prefix, c1) DP_CHAIN(prefix, c2) DP_CHAIN(prefix, c3)   \
        DP_CHAIN(prefix, c4) DP_CHAIN(prefix, c5) DP_CHAIN(prefix, c6) DP_CHAIN(prefix, c7)        \
            DP_CHAIN(prefix, c8) DP_CHAIN(prefix, c9) DP_CHAIN(prefix, c10) DP_CHAIN(prefix, c11)  \
                LOOP_END

/* AVX-VNNI: VEX encoding, so registers 0..15 only ("x"). "%{" is a literal brace in asm. */
__attribute__((target("avx2,avxvnni"))) uint64_t qk_roofline_vnni_ymm_vex(long iters) {
    if (iters <= 0) return 0;
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
            c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, s;
    __asm__ volatile(DP_BODY("%{vex%} ")
                     : [n] "+r"(iters), [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3),
                       [c4] "+x"(c4), [c5] "+x"(c5), [c6] "+x"(c6), [c7] "+x"(c7), [c8] "+x"(c8),
                       [c9] "+x"(c9), [c10] "+x"(c10), [c11] "+x"(c11)
                     : [a] "x"(a), [b] "x"(b)
                     : "cc");
    REDUCE_256(s, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11);
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, s);
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) r += lanes[i];
    return r;
}

__attribute__((target("avx512f,avx512vl,avx512vnni"))) uint64_t
qk_roofline_vnni_ymm_evex(long iters) {
    if (iters <= 0) return 0;
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
            c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, s;
    __asm__ volatile(DP_BODY("%{evex%} ")
                     : [n] "+r"(iters), OUTS_12
                     : [a] "v"(a), [b] "v"(b)
                     : "cc");
    REDUCE_256(s, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11);
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, s);
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) r += lanes[i];
    return r;
}

__attribute__((target("avx512f,avx512vnni"))) uint64_t qk_roofline_vnni_zmm(long iters) {
    if (iters <= 0) return 0;
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
            c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    __asm__ volatile(DP_BODY("") : [n] "+r"(iters), OUTS_12 : [a] "v"(a), [b] "v"(b) : "cc");
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), c2),
                                 _mm512_add_epi32(_mm512_add_epi32(c3, c4), c5));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c6, c7), c8));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c9, c10), c11));
    return sum_lanes_512(s);
}
