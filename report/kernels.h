/* REPORT.md's "Kernels beyond the story" section (called by report.c): the forward passes of the
 * packed kernels (repacked, gemm, fused) beside the run's baseline kernel (the experiment's first,
 * e.g. zero-copy), per CPU, ISA, threads, activation scheme and seq_len: median with its 95%
 * interval, the paired speedup against the baseline, GOPS and the matmul share of the pass; and,
 * for the fastest kernel, the step measured as Amdahl sees it: p (the baseline's matmul share, from
 * its per-operation profile), s (the matmul speedup, from both profiles), the predicted and the
 * achieved speedup, and the bound 1 / (1 - p). Results without packed kernels give a "not measured"
 * paragraph that says what to run. */
#ifndef QK_REPORT_KERNELS_H
#define QK_REPORT_KERNELS_H

#include <jansson.h>
#include <stdio.h>

/* docs: loaded results files (qk_results_load), borrowed. */
void qk_report_kernels_section(FILE *f, json_t *const *docs, int n_docs);

#endif
