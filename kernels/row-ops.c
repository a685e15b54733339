/* qk_row_ops_for_isa: the row-op tables of kernels/scalar/row-ops.c, kernels/avx2/row-ops.c and
 * kernels/avx512vnni/row-ops.c, one per ISA tier. */
#include "kernels/row-ops.h"

#include <string.h>

extern const qk_row_ops qk_row_ops__scalar;
extern const qk_row_ops qk_row_ops__avx2;
extern const qk_row_ops qk_row_ops__avx512vnni;

const qk_row_ops *qk_row_ops_for_isa(const char *isa) {
    if (!isa) return NULL;
    if (!strcmp(isa, "scalar")) return &qk_row_ops__scalar;
    if (!strcmp(isa, "avx2")) return &qk_row_ops__avx2;
    if (!strcmp(isa, "avx512vnni")) return &qk_row_ops__avx512vnni;
    return NULL;
}
