/* The avx512vnni tier built a second time through SIMDe (CMakeLists.txt: qk_avx512_simde), for
 * the tests only: the same sources of kernels/avx512vnni/ compiled with AVX2 + FMA + F16C and no
 * AVX-512 flag, so that every machine that runs the AVX2 tier also runs and checks every
 * avx512vnni kernel and row op. These kernels are never in kernels/registry.c (qkbench list, the
 * benchmarks and experiments cannot see them); the tests built with QK_TEST_SIMDE take them from
 * here. */
#ifndef QK_TESTS_SUPPORT_AVX512_SIMDE_H
#define QK_TESTS_SUPPORT_AVX512_SIMDE_H

#include "kernels/kernel.h"
#include "kernels/row-ops.h"

#define QK_SIMDE_ISA "avx512vnni-simde" /* the isa field of the emulated kernels and row ops */

/* The emulated kernels: one per avx512vnni row of the registry, in registry order, each a copy
 * of that row (variant, prepare, tile, flags) with isa QK_SIMDE_ISA, isa_bits QK_ISA_AVX2 and the
 * emulated matmul. */
int qk_simde_kernel_count(void);
const qk_kernel *qk_simde_kernel_at(int i);
/* The registry row an emulated kernel copies (NULL if k is not one of them). */
const qk_kernel *qk_simde_native_of(const qk_kernel *k);
/* avx512vnni registry rows without an emulated matmul (a kernel file added to kernels/avx512vnni/
 * without its line in tests/support/avx512-simde.c): 0 when the tier is complete. */
int qk_simde_missing(const char **first_missing);

/* The emulated kernels/avx512vnni/row-ops.c (isa QK_SIMDE_ISA, isa_bits QK_ISA_AVX2). */
const qk_row_ops *qk_simde_row_ops(void);

#endif
