/* AVX2 loops of `qkbench roofline`: read bandwidth with 256-bit loads, and the int8 throughput of
 * vpmaddubsw + vpmaddwd + vpaddd. The harness is compiled without ISA flags: each function carries
 * its own target attribute, and roofline.c calls it only on a CPU that has AVX2.
 *
 * The MAC loop is inline assembly so the instruction mix is exactly what is named: the compiler
 * can neither hoist the loop-invariant vpmaddubsw nor merge the 12 identical chains. */
#include <immintrin.h>

#include "harness/microbench/roofline.h"

#define ATTR __attribute__((target("avx2")))

ATTR uint64_t qk_roofline_read_avx2(const void *buf, size_t bytes, long passes) {
    const size_t stream = bytes / 8; /* 8 sequential streams, one 64-byte line each per step */
    const char *base = buf;
    __m256i s[8];
    for (int k = 0; k < 8; k++) s[k] = _mm256_setzero_si256();
    for (long p = 0; p < passes; p++) {
        for (size_t off = 0; off + 64 <= stream; off += 64) {
            for (int k = 0; k < 8; k++) {
                const __m256i *q = (const __m256i *)(base + (size_t)k * stream + off);
                s[k] = _mm256_add_epi64(s[k], _mm256_load_si256(q));
                s[k] = _mm256_add_epi64(s[k], _mm256_load_si256(q + 1));
            }
        }
    }
    __m256i t = s[0];
    for (int k = 1; k < 8; k++) t = _mm256_add_epi64(t, s[k]);
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, t);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

#define LOOP_END "dec %[n]\n\tjnz 1b\n\t"

/* One chain: t = maddubs(a (u8), b (s8)) -> 16 x i16; t = madd(t, 1) -> 8 x i32; c += t. */
#define CHAIN(c)                                                                                   \
    "vpmaddubsw %[b], %[a], %[t]\n\t"                                                              \
    "vpmaddwd %[o], %[t], %[t]\n\t"                                                                \
    "vpaddd %[t], %[" #c "], %[" #c "]\n\t"

ATTR uint64_t qk_roofline_maddubs_avx2(long iters) {
    if (iters <= 0) return 0;
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), o = _mm256_set1_epi16(1);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
            c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, t;
    /* 12 accumulators + 3 operands + 1 temporary: exactly the 16 ymm registers */
    __asm__ volatile("1:\n\t" CHAIN(c0) CHAIN(c1) CHAIN(c2) CHAIN(c3) CHAIN(c4) CHAIN(c5) CHAIN(c6)
                         CHAIN(c7) CHAIN(c8) CHAIN(c9) CHAIN(c10) CHAIN(c11) LOOP_END
                     : [n] "+r"(iters), [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3),
                       [c4] "+x"(c4), [c5] "+x"(c5), [c6] "+x"(c6), [c7] "+x"(c7), [c8] "+x"(c8),
                       [c9] "+x"(c9), [c10] "+x"(c10), [c11] "+x"(c11), [t] "=&x"(t)
                     : [a] "x"(a), [b] "x"(b), [o] "x"(o)
                     : "cc");
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), c2),
                                 _mm256_add_epi32(_mm256_add_epi32(c3, c4), c5));
    s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_add_epi32(c6, c7), c8));
    s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_add_epi32(c9, c10), c11));
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, s);
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) r += lanes[i];
    return r;
}
