/* The test-only table of the SIMDe-built avx512vnni tier (avx512-simde.h). Built from the
 * registry's avx512vnni rows, so that tile, prepare and flags are the registry's own; only the
 * matmul (the renamed symbols of kernels/avx512vnni/simd.h) and the ISA fields differ. */
#include "tests/support/avx512-simde.h"

#include "kernels/prepare.h"

#include <string.h>

qk_matmul_fn qk_parse_per_block__avx512vnni_simde, qk_precached_scales__avx512vnni_simde,
    qk_alloc_copy__avx512vnni_simde, qk_zero_copy__avx512vnni_simde, qk_repacked__avx512vnni_simde,
    qk_gemm__avx512vnni_simde, qk_fused__avx512vnni_simde;
extern const qk_row_ops qk_row_ops__avx512vnni_simde;

static const struct {
    const char *variant;
    qk_matmul_fn *matmul;
} emulated[] = {
    {"parse-per-block", qk_parse_per_block__avx512vnni_simde},
    {"precached-scales", qk_precached_scales__avx512vnni_simde},
    {"alloc-copy", qk_alloc_copy__avx512vnni_simde},
    {"zero-copy", qk_zero_copy__avx512vnni_simde},
    {"repacked", qk_repacked__avx512vnni_simde},
    {"gemm", qk_gemm__avx512vnni_simde},
    {"fused", qk_fused__avx512vnni_simde},
};
#define N_EMULATED (int)(sizeof emulated / sizeof emulated[0])

#define MAX_ROWS 64
static qk_kernel table[MAX_ROWS];
static const qk_kernel *native[MAX_ROWS];
static int count = -1, missing;
static const char *first_missing;

/* Built on first use (each test process builds its own; nothing else writes it). */
static void build(void) {
    if (count >= 0) return;
    count = 0;
    for (int i = 0; i < qk_kernel_count() && count < MAX_ROWS; i++) {
        const qk_kernel *k = qk_kernel_at(i);
        if (strcmp(k->isa, "avx512vnni")) continue;
        int e = 0;
        while (e < N_EMULATED && strcmp(emulated[e].variant, k->variant)) e++;
        if (e == N_EMULATED) {
            if (!missing++) first_missing = k->variant;
            continue;
        }
        table[count] = *k;
        table[count].isa = QK_SIMDE_ISA;
        table[count].isa_bits = QK_ISA_AVX2;
        table[count].matmul = emulated[e].matmul;
        native[count++] = k;
    }
}

int qk_simde_kernel_count(void) {
    build();
    return count;
}

const qk_kernel *qk_simde_kernel_at(int i) {
    build();
    return i >= 0 && i < count ? &table[i] : NULL;
}

const qk_kernel *qk_simde_native_of(const qk_kernel *k) {
    build();
    for (int i = 0; i < count; i++)
        if (k == &table[i]) return native[i];
    return NULL;
}

int qk_simde_missing(const char **first) {
    build();
    if (first) *first = first_missing;
    return missing;
}

const qk_row_ops *qk_simde_row_ops(void) {
    return &qk_row_ops__avx512vnni_simde;
}
