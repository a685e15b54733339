#include "harness/profile.h"

#include <string.h>

void qk_profile_clear(qk_profile *p) {
    memset(p, 0, sizeof *p);
}

void qk_profile_add(qk_profile *p, const double *op_seconds) {
    for (int op = 0; op < QK_OP_COUNT; op++) {
        p->seconds[op] += op_seconds[op];
        p->total += op_seconds[op];
        if (qk_op_is_matmul((qk_op)op)) p->matmul += op_seconds[op];
    }
}

double qk_profile_fraction(const qk_profile *p, qk_op op) {
    return p->total > 0 ? p->seconds[op] / p->total : 0.0;
}

double qk_profile_matmul_fraction(const qk_profile *p) {
    return p->total > 0 ? p->matmul / p->total : 0.0;
}
