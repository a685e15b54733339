/* Statistics over sittings: a measurement repeated in K separate processes (each with its own model
 * mapping, pool and warm-ups), each sitting holding its own interleaved repetitions. The machine
 * state differs more between sittings than between the repetitions of one, so an interval from the
 * repetitions of one sitting says little about the next: the two-level design of Kalibera & Jones,
 * "Rigorous benchmarking in reasonable time" (ISMM 2013), resamples sittings, then repetitions
 * within each resampled sitting.
 *
 * Point estimate: the median of all repetitions pooled (of all paired ratios, for a ratio). Its
 * interval: the hierarchical bootstrap's distribution of that pooled median, read at the expanded
 * percentiles of Hesterberg ("What teachers should know about the bootstrap", The American
 * Statistician 69(4), 2015): with K top-level units the percentile interval is too narrow by about
 * sqrt((K-1)/K) and by the t / z ratio, so the tails are read at alpha'/2 = Phi(-sqrt(K/(K-1)) *
 * t(1-alpha/2, K-1)) instead of alpha/2. With one sitting this is exactly qk_stats_compute (or
 * qk_ratio_compute) of its repetitions, so a run without sittings gives the figures it always did.
 *
 * Deterministic for a given seed. */
#ifndef QK_HARNESS_SITTINGS_H
#define QK_HARNESS_SITTINGS_H

#include <stdint.h>

#include "harness/measure.h"

#define QK_SITTINGS_RESAMPLES 4000 /* two-level resamples behind every interval */
#define QK_SITTINGS_MAX       64

typedef struct { /* the repetitions of one sitting (seconds, or ratios) */
    const double *x;
    int n;
} qk_sitting;

typedef struct {
    qk_stats pooled; /* over every repetition; ci_lo/ci_hi from the two-level bootstrap */
    int sittings;
    double sitting_median_min, sitting_median_max; /* spread of the sittings' own medians */
    /* 1 when every sitting's own (single-level) interval overlaps the pooled interval */
    int stable;
    int unstable_sittings; /* how many do not */
} qk_sittings_stats;

/* Times x of K sittings. 0, or -1 for K outside 1..QK_SITTINGS_MAX, an empty sitting, a value that
 * is not finite, or no memory. */
int qk_sittings_stats_compute(const qk_sitting *s, int k, uint64_t seed, qk_sittings_stats *out);

/* Paired ratios num[i] / den[i] within each sitting (the same round of the same sitting), then as
 * above. num[j].n must equal den[j].n. */
int qk_sittings_ratio_compute(const qk_sitting *num, const qk_sitting *den, int k, uint64_t seed,
                              qk_sittings_stats *out);

/* The lower tail probability at which the expanded percentile interval is read for K top-level
 * units at the two-sided level QK_CONFIDENCE (K = 1: the plain (1 - QK_CONFIDENCE) / 2). */
double qk_sittings_expanded_tail(int k);

#endif
