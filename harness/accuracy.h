/* Accuracy and memory footprint of kernels, measured (not assumed):
 *  - against the independent references in ../shared/testdata (tiny model): every kernel, both
 *    activation schemes, and the FP32 path;
 *  - on the experiment's own model: each kernel's embedding against its ISA's parse-per-block and
 *    against the FP32 path, with each configuration loaded and run in a child process of its own so
 *    that its peak RSS is its own.
 * Entries are JSON objects {model, variant, isa, act_scale, against, cosine_min, max_abs_diff,
 * sequences}, the form `qkbench report` reads from the results context's "accuracy" array. */
#ifndef QK_HARNESS_ACCURACY_H
#define QK_HARNESS_ACCURACY_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "model/gemma.h"

/* Appends to `out` (a JSON array) the tiny-model entries for the kernels whose variant is in
 * variants[0..n_var) and ISA in isas[0..n_isa) (NULL lists: all), both schemes, plus FP32.
 * Returns -1 with err set when the test data cannot be read. */
int qk_accuracy_reference(const char *testdata_dir, const char *const *variants, int n_var,
                          const char *const *isas, int n_isa, json_t *out, qk_error *err);

typedef struct {         /* what one configuration costs in memory, measured in a fresh process */
    qk_gemma_memory mem; /* after one forward pass: resident file pages, prepared, scratch, fp32 */
    uint64_t peak_rss_bytes;         /* the process's peak RSS (load + one forward pass) */
    uint64_t tokenizer_bytes;        /* the tokenizer's own heap (0: the file has none) */
    uint64_t tokenizer_mapped_bytes; /* token texts, scores, types read in place from the file */
    double seconds;                  /* that forward pass, serial: informative only */
} qk_footprint;

/* Runs `exe embed --json ...` (qkbench's own command, a fresh process so the peak RSS is this
 * configuration's alone): loads model with opt, embeds tokens once, and returns the footprint and
 * the embedding (emb: n_embd floats). */
int qk_footprint_probe(const char *exe, const char *model, const qk_gemma_options *opt,
                       const int32_t *tokens, int n_tokens, qk_footprint *out, float *emb,
                       int n_embd, qk_error *err);

/* The "memory" object of `qkbench embed --json` (what qk_footprint_probe reads back). */
json_t *qk_footprint_to_json(const qk_footprint *fp);

#endif
