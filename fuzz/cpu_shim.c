/* See cpu_shim.h: CPUID answers for the feature names the project's sources ask about. */
#include <cpuid.h>
#include <string.h>

int qk_fuzz_cpu_supports(const char *feature);

int qk_fuzz_cpu_supports(const char *feature) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (strcmp(feature, "f16c") == 0) return (c >> 29) & 1;
    if (strcmp(feature, "avx") == 0) return (c >> 28) & 1;
    if (strcmp(feature, "fma") == 0) return (c >> 12) & 1;
    return 0;
}
