/* clang-14's __builtin_cpu_supports does not know "f16c" (GCC does). The fuzz build force-includes
 * this header into kernels/fp16.c only, so the call goes to a CPUID check instead. */
#ifndef QK_FUZZ_CPU_SHIM_H
#define QK_FUZZ_CPU_SHIM_H

int qk_fuzz_cpu_supports(const char *feature);
#define __builtin_cpu_supports(f) qk_fuzz_cpu_supports(f)

#endif
