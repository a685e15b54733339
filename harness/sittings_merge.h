/* Merging the single-sitting results of K sittings (each a separate `qkbench run` process) into one
 * document, as the results format says (context.sittings; every repetition with its sitting;
 * aggregates and comparisons recomputed over the pooled repetitions with the two-level bootstrap
 * of harness/sittings.h). Deterministic for a given seed; with one sitting the figures are those of
 * the sitting's own file. Sittings from another experiment text, machine or build, or with other
 * configurations, are refused. Prints nothing. */
#ifndef QK_HARNESS_SITTINGS_MERGE_H
#define QK_HARNESS_SITTINGS_MERGE_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "harness/results.h"

typedef struct {
    const json_t *doc; /* a single-sitting results document (qk_results_load), borrowed */
    const char *label; /* its file, for messages */
    double elapsed_s;  /* its process's wall time (NAN: unknown, recorded as null) */
} qk_sitting_doc;

typedef struct {
    int count;        /* sittings planned: the document is complete only when all of them are */
    double spacing_s; /* the least time between the starts of two sittings */
    uint64_t seed;    /* the experiment's seed: every bootstrap's */
    double noisy_cv;  /* the experiment's noisy_cv (<= 0: 0.05) */
} qk_sittings_plan;

typedef struct { /* a configuration as the console table shows it */
    char name[256];
    int measured; /* 0: reason says why not */
    char reason[300];
    int peer;           /* a peer configuration ("path": "llama.cpp") */
    int sittings, reps; /* sittings that measured it, repetitions pooled */
    double median_s, ci_lo_s, ci_hi_s, cv;
    double sitting_min_s, sitting_max_s; /* spread of the sittings' own medians */
    int stable, unstable_sittings;
    int noisy;
} qk_sittings_row;

typedef struct {
    char name[256], baseline[256];
    int sittings, reps;
    double ratio, ci_lo, ci_hi, sitting_min, sitting_max;
    int stable, unstable_sittings;
} qk_sittings_cmp_row;

typedef struct {
    qk_sittings_row *rows;
    int n_rows;
    qk_sittings_cmp_row *cmps;
    int n_cmps;
    int complete; /* all plan.count sittings there, each complete */
} qk_sittings_summary;

/* Fills out (empty: qk_results_new or qk_results_clear) with the merge of s[0..n) (n in
 * 1..QK_SITTINGS_MAX; s[j] is sitting j). sum (may be NULL) gets the table's rows (free with
 * qk_sittings_summary_free). 0, or -1 with err naming the sitting and the difference; out is then
 * to be cleared. */
int qk_sittings_merge(const qk_sitting_doc *s, int n, const qk_sittings_plan *plan, qk_results *out,
                      qk_sittings_summary *sum, qk_error *err);
void qk_sittings_summary_free(qk_sittings_summary *sum);

#endif
