/* What every source in kernels/avx512vnni/ includes instead of <immintrin.h>: the intrinsics, the
 * register barrier, and the names of the folder's external symbols.
 *
 * The folder is compiled twice. Natively (qk_kernels, -mavx512f/bw/vl/dq/vnni): the real
 * intrinsics. For the tests only (CMakeLists.txt, QK_AVX512_SIMDE defined, -mavx2 -mfma -mf16c and
 * no AVX-512 flag): SIMDe's portable AVX-512 under the same intrinsic names (its native aliases),
 * so an AVX2-only machine runs, and tests, the very same source. That build renames the external
 * symbols (below) so that both builds can be linked into one test, and never enters the registry
 * of kernels/registry.c: tests/support/avx512-simde.c lists it. */
#ifndef QK_KERNELS_AVX512VNNI_SIMD_H
#define QK_KERNELS_AVX512VNNI_SIMD_H

#ifdef QK_AVX512_SIMDE
#if defined(__AVX512F__) || !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "the SIMDe build of kernels/avx512vnni is compiled with -mavx2 -mfma -mf16c only"
#endif
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include "kernels/avx512vnni/simde-gaps.h"

/* Every external symbol of kernels/avx512vnni/, renamed (a missing line is a duplicate symbol
 * when a test links both builds). */
#define qk_parse_per_block__avx512vnni  qk_parse_per_block__avx512vnni_simde
#define qk_precached_scales__avx512vnni qk_precached_scales__avx512vnni_simde
#define qk_alloc_copy__avx512vnni       qk_alloc_copy__avx512vnni_simde
#define qk_zero_copy__avx512vnni        qk_zero_copy__avx512vnni_simde
#define qk_repacked__avx512vnni         qk_repacked__avx512vnni_simde
#define qk_gemm__avx512vnni             qk_gemm__avx512vnni_simde
#define qk_fused__avx512vnni            qk_fused__avx512vnni_simde
#define qk_row_ops__avx512vnni          qk_row_ops__avx512vnni_simde

/* What the row-op table says of itself: this build needs AVX2 (+ FMA, F16C) only. */
#define QK_AVX512_ROW_OPS_ISA  "avx512vnni-simde"
#define QK_AVX512_ROW_OPS_BITS QK_ISA_AVX2

/* A zmm value here is a 64-byte GCC vector that no AVX2 register holds, so an asm operand cannot
 * pin it: the barrier is empty, and what it stands for natively (no FMA contraction of a multiply
 * and an add) comes from -ffp-contract=off on this build (CMakeLists.txt). The bit-identity tests
 * fail if either is lost. */
#define QK_ZMM_OPAQUE(v) ((void)0)

/* The kernels unroll their tiles so that the accumulator arrays become registers; emulated zmm
 * values live in memory whatever is unrolled, so here it would only cost compile time (minutes
 * for gemm.c). */
#define QK_AVX512_UNROLL_PRAGMA(n)
#else
#include <immintrin.h>

#define QK_AVX512_ROW_OPS_ISA  "avx512vnni"
#define QK_AVX512_ROW_OPS_BITS (QK_ISA_AVX2 | QK_ISA_AVX512VNNI)

/* An empty asm on a zmm value ("v": any of zmm0-31; no instruction is emitted): the compiler must
 * have it in a register here and cannot look through it, so a product before it is not contracted
 * with an add after it into an FMA (GCC's default -ffp-contract=fast would), and a running sum is
 * kept in its register instead of being reassociated. */
#define QK_ZMM_OPAQUE(v)       __asm__("" : "+v"(v))

#define QK_AVX512_UNROLL_PRAGMA(n) _Pragma(n)
#endif

#endif
