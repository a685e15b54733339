#include "harness/measure.h"

#include <stdio.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* splitmix64: tiny, seedable with any value (0 included), good enough for resampling indices. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform index in [0, n): multiply-high (bias < n / 2^64, negligible here). */
static int rand_index(uint64_t *s, int n) {
    return (int)(((unsigned __int128)splitmix64(s) * (uint64_t)n) >> 64);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void sort_doubles(double *x, int n) {
    if (n <= 32) { /* insertion sort: resamples are small and this runs 2000 times */
        for (int i = 1; i < n; i++) {
            double v = x[i];
            int j = i - 1;
            for (; j >= 0 && x[j] > v; j--) x[j + 1] = x[j];
            x[j + 1] = v;
        }
    } else {
        qsort(x, (size_t)n, sizeof *x, cmp_double);
    }
}

/* Median of sorted x[0..n). */
static double median_sorted(const double *x, int n) {
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Quantile q of sorted x[0..n), linear interpolation between order statistics (Hyndman-Fan 7). */
static double quantile_sorted(const double *x, int n, double q) {
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return x[n - 1];
    double f = pos - i;
    return x[i] + f * (x[i + 1] - x[i]);
}

static int all_finite(const double *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Bootstrap distribution of the median of x[0..n): QK_BOOTSTRAP_RESAMPLES medians, sorted, in meds.
 * scratch holds n doubles. */
static void bootstrap_medians(const double *x, int n, uint64_t *rng, double *scratch,
                              double *meds) {
    for (int b = 0; b < QK_BOOTSTRAP_RESAMPLES; b++) {
        for (int i = 0; i < n; i++) scratch[i] = x[rand_index(rng, n)];
        sort_doubles(scratch, n);
        meds[b] = median_sorted(scratch, n);
    }
    sort_doubles(meds, QK_BOOTSTRAP_RESAMPLES);
}

int qk_stats_compute(const double *x, int n, uint64_t seed, qk_stats *out) {
    if (!x || !out || n < 1 || !all_finite(x, n)) return -1;
    double *sorted = malloc(sizeof(double) * (size_t)n * 2);
    double *meds = malloc(sizeof(double) * QK_BOOTSTRAP_RESAMPLES);
    if (!sorted || !meds) {
        free(sorted);
        free(meds);
        return -1;
    }
    memcpy(sorted, x, sizeof(double) * (size_t)n);
    sort_doubles(sorted, n);

    qk_stats s = {.n = n, .min = sorted[0], .max = sorted[n - 1]};
    s.median = median_sorted(sorted, n);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += x[i];
    s.mean = sum / n;
    double ss = 0; /* two-pass: no cancellation for tightly clustered timings */
    for (int i = 0; i < n; i++) ss += (x[i] - s.mean) * (x[i] - s.mean);
    s.stddev = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    s.cv = s.mean != 0 ? s.stddev / fabs(s.mean) : (s.stddev == 0 ? 0.0 : INFINITY);

    uint64_t rng = seed;
    bootstrap_medians(x, n, &rng, sorted + n, meds);
    double alpha = 1.0 - QK_CONFIDENCE;
    s.ci_lo = quantile_sorted(meds, QK_BOOTSTRAP_RESAMPLES, alpha / 2);
    s.ci_hi = quantile_sorted(meds, QK_BOOTSTRAP_RESAMPLES, 1 - alpha / 2);
    free(sorted);
    free(meds);
    *out = s;
    return 0;
}

int qk_ratio_compute(const double *num, const double *den, int n, uint64_t seed, qk_stats *out) {
    if (!num || !den || !out || n < 1) return -1;
    double *r = malloc(sizeof(double) * (size_t)n);
    if (!r) return -1;
    for (int i = 0; i < n; i++) {
        if (!isfinite(num[i]) || !isfinite(den[i]) || den[i] <= 0) {
            free(r);
            return -1;
        }
        r[i] = num[i] / den[i];
    }
    int rc = qk_stats_compute(r, n, seed, out);
    free(r);
    return rc;
}

int qk_ratio_unpaired(const double *num, int n_num, const double *den, int n_den, uint64_t seed,
                      double *ratio, double *lo, double *hi) {
    if (!num || !den || n_num < 1 || n_den < 1 || !all_finite(num, n_num) ||
        !all_finite(den, n_den))
        return -1;
    int nmax = n_num > n_den ? n_num : n_den;
    double *scratch = malloc(sizeof(double) * (size_t)nmax);
    double *ratios = malloc(sizeof(double) * QK_BOOTSTRAP_RESAMPLES);
    if (!scratch || !ratios) goto fail;

    memcpy(scratch, num, sizeof(double) * (size_t)n_num);
    sort_doubles(scratch, n_num);
    double mnum = median_sorted(scratch, n_num);
    memcpy(scratch, den, sizeof(double) * (size_t)n_den);
    sort_doubles(scratch, n_den);
    double mden = median_sorted(scratch, n_den);
    if (mden <= 0) goto fail;

    uint64_t rng = seed;
    for (int b = 0; b < QK_BOOTSTRAP_RESAMPLES; b++) {
        for (int i = 0; i < n_num; i++) scratch[i] = num[rand_index(&rng, n_num)];
        sort_doubles(scratch, n_num);
        double a = median_sorted(scratch, n_num);
        for (int i = 0; i < n_den; i++) scratch[i] = den[rand_index(&rng, n_den)];
        sort_doubles(scratch, n_den);
        double d = median_sorted(scratch, n_den);
        if (d <= 0)
            goto fail; /* a resample can only pick values of den: a non-positive one exists */
        ratios[b] = a / d;
    }
    sort_doubles(ratios, QK_BOOTSTRAP_RESAMPLES);
    double alpha = 1.0 - QK_CONFIDENCE;
    *ratio = mnum / mden;
    *lo = quantile_sorted(ratios, QK_BOOTSTRAP_RESAMPLES, alpha / 2);
    *hi = quantile_sorted(ratios, QK_BOOTSTRAP_RESAMPLES, 1 - alpha / 2);
    free(scratch);
    free(ratios);
    return 0;
fail:
    free(scratch);
    free(ratios);
    return -1;
}

void qk_interleave_order(int n_configs, int rep, int *order) {
    if (n_configs < 1) return;
    int start = rep % n_configs;
    if (start < 0) start += n_configs;
    for (int i = 0; i < n_configs; i++) order[i] = (start + i) % n_configs;
}

int qk_is_noisy(const qk_stats *s, double cv_threshold) {
    return s->cv > cv_threshold;
}

double qk_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double qk_cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

long qk_peak_rss_kb(void) {
    /* VmHWM is this address space's own peak. getrusage's ru_maxrss is not: it carries the peak of
     * the parent at fork through exec, so a small child of a big parent would report the parent's.
     */
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kb = -1;
        while (kb < 0 && fgets(line, sizeof line, f))
            if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
        fclose(f);
        if (kb >= 0) return kb;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return ru.ru_maxrss; /* Linux: KiB */
}
