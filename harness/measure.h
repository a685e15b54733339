/* Measurement: clocks, interleaving of repetitions, and the statistics every result carries.
 *
 * How a run uses this unit (the runner owns the loop; this unit owns the arithmetic):
 *   - warm-ups first (discarded), then `repetitions` rounds; in round `rep` the configurations of a
 *     comparison run in qk_interleave_order(n, rep, order), so drift hits all of them alike;
 *   - one repetition = one timed forward pass (or matmul), wall time from qk_now_seconds(), CPU
 * time from qk_cpu_seconds();
 *   - per configuration: qk_stats_compute over its repetition times; qk_is_noisy flags a high CV;
 *   - per comparison (variant vs baseline, same round): qk_ratio_compute on the paired times.
 *
 * All statistics are deterministic for a given seed (bootstrap resampling uses a seeded
 * splitmix64). */
#ifndef QK_HARNESS_MEASURE_H
#define QK_HARNESS_MEASURE_H

#include <stdint.h>

#define QK_BOOTSTRAP_RESAMPLES 2000 /* resamples behind every interval */
#define QK_CONFIDENCE_PERCENT  95   /* two-sided level of every interval, in percent */
#define QK_CONFIDENCE          (QK_CONFIDENCE_PERCENT / 100.0)

typedef struct {
    int n;
    double min, max;
    double median; /* even n: mean of the two middle values */
    double mean;
    double stddev;       /* sample standard deviation (n - 1); 0 when n == 1 */
    double cv;           /* stddev / |mean|; 0 when both are 0, +inf when only the mean is 0 */
    double ci_lo, ci_hi; /* 95% percentile-bootstrap interval of the median */
} qk_stats;

/* Statistics of x[0..n). 0 on success; -1 if x is NULL, n < 1 or a value is not finite. */
int qk_stats_compute(const double *x, int n, uint64_t seed, qk_stats *out);

/* Paired ratio: r[i] = num[i] / den[i] for each repetition i (same round, so the pair saw the same
 * machine state), and qk_stats of r (median ratio and its bootstrap interval, resampling pairs).
 * -1 if n < 1, a value is not finite, or a denominator is <= 0. */
int qk_ratio_compute(const double *num, const double *den, int n, uint64_t seed, qk_stats *out);

/* Unpaired ratio of medians median(num) / median(den), for samples from different runs (each side
 * resampled independently). Fills *ratio and the 95% bootstrap interval [*lo, *hi].
 * -1 if a side is empty, a value is not finite, or median(den) is <= 0 in the sample. */
int qk_ratio_unpaired(const double *num, int n_num, const double *den, int n_den, uint64_t seed,
                      double *ratio, double *lo, double *hi);

/* Order in which n_configs configurations run in repetition rep (0-based): round-robin starting at
 * configuration rep % n_configs, so every configuration is first (and last) equally often.
 * order must hold n_configs entries; it receives a permutation of 0..n_configs-1. */
void qk_interleave_order(int n_configs, int rep, int *order);

/* 1 if the coefficient of variation exceeds cv_threshold (e.g. 0.05), else 0. */
int qk_is_noisy(const qk_stats *s, double cv_threshold);

/* Clocks. qk_now_seconds: CLOCK_MONOTONIC_RAW (not slewed by NTP), arbitrary origin.
 * qk_cpu_seconds: user + system CPU time of the whole process, all threads (getrusage).
 * qk_peak_rss_kb: the process's peak resident set size so far, in KiB. */
double qk_now_seconds(void);
double qk_cpu_seconds(void);
long qk_peak_rss_kb(void);

#endif
