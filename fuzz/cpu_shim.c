/* See cpu_shim.h: answers __builtin_cpu_supports(feature) for the fuzz build. Compiled without the
 * shim header (it is its own library), so __builtin_cpu_supports here is clang's. */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qk_fuzz_cpu_supports(const char *feature);

/* AVX-encoded instructions are usable when the CPU has AVX and the OS saves the YMM state (OSXSAVE,
 * then XCR0 bits 1 and 2), as libgcc checks before it reports f16c or avxvnni. */
static int avx_usable(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1) || !((c >> 28) & 1)) return 0; /* OSXSAVE, AVX */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 6) == 6;
}

static int has_f16c(void) { /* CPUID.1:ECX[29] */
    unsigned a, b, c, d;
    return avx_usable() && __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1);
}

static int has_avxvnni(void) { /* CPUID.(7,1):EAX[4] */
    unsigned a, b, c, d;
    if (!avx_usable() || __get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 4) & 1;
}

#define KNOWN(name)                                                                                \
    if (strcmp(feature, name) == 0) return __builtin_cpu_supports(name) ? 1 : 0

int qk_fuzz_cpu_supports(const char *feature) {
    if (strcmp(feature, "f16c") == 0) return has_f16c();
    if (strcmp(feature, "avxvnni") == 0) return has_avxvnni();
    __builtin_cpu_init();
    KNOWN("cmov");
    KNOWN("mmx");
    KNOWN("popcnt");
    KNOWN("sse");
    KNOWN("sse2");
    KNOWN("sse3");
    KNOWN("ssse3");
    KNOWN("sse4.1");
    KNOWN("sse4.2");
    KNOWN("sse4a");
    KNOWN("avx");
    KNOWN("avx2");
    KNOWN("fma");
    KNOWN("bmi");
    KNOWN("bmi2");
    KNOWN("aes");
    KNOWN("pclmul");
    KNOWN("gfni");
    KNOWN("vpclmulqdq");
    KNOWN("avx512f");
    KNOWN("avx512vl");
    KNOWN("avx512bw");
    KNOWN("avx512dq");
    KNOWN("avx512cd");
    KNOWN("avx512vbmi");
    KNOWN("avx512vbmi2");
    KNOWN("avx512ifma");
    KNOWN("avx512vnni");
    KNOWN("avx512bitalg");
    KNOWN("avx512bf16");
    KNOWN("avx512vpopcntdq");
    fprintf(stderr,
            "fuzz/cpu_shim.c: __builtin_cpu_supports(\"%s\") is not known to the shim: add it\n",
            feature);
    abort();
}
