/* qk_row_ops_for_isa: the row-op tables of kernels/scalar/row-ops.c and kernels/avx2/row-ops.c. The
 * avx512vnni tier has no code of its own yet: it returns the avx2 table, whose isa field ("avx2")
 * tells the caller so. */
#include "kernels/row-ops.h"

#include <string.h>

extern const qk_row_ops qk_row_ops__scalar;
extern const qk_row_ops qk_row_ops__avx2;

const qk_row_ops *qk_row_ops_for_isa(const char *isa) {
    if (!isa) return NULL;
    if (!strcmp(isa, "scalar")) return &qk_row_ops__scalar;
    if (!strcmp(isa, "avx2") || !strcmp(isa, "avx512vnni")) return &qk_row_ops__avx2;
    return NULL;
}
