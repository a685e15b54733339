/* REPORT.md's "llama.cpp peer" section (called by report.c): for each llama.cpp peer configuration
 * of the results (`peer = llama.cpp` in an experiment), per CPU, threads and seq_len: the peer's
 * median with its 95% interval, our fastest kernel of the same group, the paired ratio peer / ours
 * ("ours faster by") with its interval, the cosines of the peer's embedding against our FP32 path
 * and that kernel, and how the peer was bound. A peer that could not run says why; results without
 * any peer configuration give a "not measured" paragraph that says what to run. */
#ifndef QK_REPORT_PEER_H
#define QK_REPORT_PEER_H

#include <jansson.h>
#include <stdio.h>

/* docs: loaded results files (qk_results_load), borrowed. */
void qk_report_peer_section(FILE *f, json_t *const *docs, int n_docs);

#endif
