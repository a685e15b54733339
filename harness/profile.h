/* Per-operation profile of the forward pass: the model fills qk_exec.op_seconds (model/exec.h);
 * this unit aggregates it into the fractions the Amdahl analysis needs. */
#ifndef QK_HARNESS_PROFILE_H
#define QK_HARNESS_PROFILE_H

#include "model/exec.h"

typedef struct {
    double seconds[QK_OP_COUNT];
    double total;  /* sum over all operations */
    double matmul; /* sum over the matmul operations */
} qk_profile;

void qk_profile_clear(qk_profile *p);
/* Adds one forward pass's op_seconds table. */
void qk_profile_add(qk_profile *p, const double *op_seconds);
/* Fraction of the profiled time spent in op (0 when nothing was profiled). */
double qk_profile_fraction(const qk_profile *p, qk_op op);
double qk_profile_matmul_fraction(const qk_profile *p);

#endif
