/* clang-14's __builtin_cpu_supports does not know "f16c" or "avxvnni" (GCC 12 does: kernels/fp16.c
 * and harness/microbench/roofline.c ask for them), and rejects such a name at compile time. The
 * fuzz build (CMake option QK_FUZZ) force-includes this header into every source of the project, so
 * the call goes to qk_fuzz_cpu_supports (fuzz/cpu_shim.c): a CPUID check for those names, the
 * compiler's own builtin for every name it knows, and an abort naming the feature for any other
 * (add it there). No file list: a new source asking for a new feature is caught at its first run.
 */
#ifndef QK_FUZZ_CPU_SHIM_H
#define QK_FUZZ_CPU_SHIM_H

int qk_fuzz_cpu_supports(const char *feature);
#define __builtin_cpu_supports(f) qk_fuzz_cpu_supports(f)

#endif
