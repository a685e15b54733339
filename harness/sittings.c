/* The two-level bootstrap over sittings (harness/sittings.h). */
#include "harness/sittings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(QK_CONFIDENCE_PERCENT == 95, "the t table below is for two-sided 95% intervals");

/* t(0.975, df) for df = 1..30 (any table of Student's t; e.g. NIST/SEMATECH e-Handbook of
 * Statistical Methods, section 1.3.6.7.2); above 30 the Cornish-Fisher expansion in 1/df. */
static double t975(int df) {
    static const double t[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    if (df <= 30) return t[df - 1];
    const double z = 1.959964, z3 = z * z * z, z5 = z3 * z * z, v = df;
    return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v);
}

double qk_sittings_expanded_tail(int k) {
    const double alpha2 = (1.0 - QK_CONFIDENCE) / 2;
    if (k < 2) return alpha2;
    /* Phi(-x) = erfc(x / sqrt 2) / 2 */
    return 0.5 * erfc(sqrt((double)k / (k - 1)) * t975(k - 1) / sqrt(2.0));
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int rand_index(uint64_t *s, int n) {
    return (int)(((unsigned __int128)splitmix64(s) * (uint64_t)n) >> 64);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest of x[0..n) (x is reordered): Hoare's selection, no allocation. */
static double select_kth(double *x, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const double pivot = x[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) {
                const double t = x[i];
                x[i++] = x[j];
                x[j--] = t;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return x[k];
    }
    return x[k];
}

/* Median of x[0..n), x reordered. */
static double median_of(double *x, int n) {
    const double hi = select_kth(x, n, n / 2);
    if (n % 2) return hi;
    double lo = x[0]; /* the largest of the lower half, which selection left below n / 2 */
    for (int i = 1; i < n / 2; i++)
        if (x[i] > lo) lo = x[i];
    return 0.5 * (lo + hi);
}

static double quantile_sorted(const double *x, int n, double q) {
    const double pos = q * (n - 1);
    const int i = (int)floor(pos);
    if (i >= n - 1) return x[n - 1];
    return x[i] + (pos - i) * (x[i + 1] - x[i]);
}

/* Both entry points end here: v[j] are the values of sitting j (times or paired ratios). */
static int compute(const qk_sitting *v, int k, uint64_t seed, qk_sittings_stats *out) {
    if (!v || !out || k < 1 || k > QK_SITTINGS_MAX) return -1;
    int total = 0, max_n = 0;
    for (int j = 0; j < k; j++) {
        if (!v[j].x || v[j].n < 1) return -1;
        for (int i = 0; i < v[j].n; i++)
            if (!isfinite(v[j].x[i])) return -1;
        total += v[j].n;
        if (v[j].n > max_n) max_n = v[j].n;
    }
    memset(out, 0, sizeof *out);
    out->sittings = k;
    /* each sitting on its own: its median (the spread) and its own interval (the stability mark) */
    qk_stats own[QK_SITTINGS_MAX];
    for (int j = 0; j < k; j++) {
        if (qk_stats_compute(v[j].x, v[j].n, seed + (uint64_t)j, &own[j])) return -1;
        if (j == 0 || own[j].median < out->sitting_median_min)
            out->sitting_median_min = own[j].median;
        if (j == 0 || own[j].median > out->sitting_median_max)
            out->sitting_median_max = own[j].median;
    }
    if (k == 1) { /* no second level: the single-level figures, unchanged */
        out->pooled = own[0];
        out->stable = 1;
        return 0;
    }
    double *pool = malloc(sizeof(double) * (size_t)total);
    double *boot = malloc(sizeof(double) * QK_SITTINGS_RESAMPLES);
    /* a resample holds k sittings of at most max_n repetitions each */
    double *res = malloc(sizeof(double) * (size_t)k * (size_t)max_n);
    if (!pool || !boot || !res) {
        free(pool), free(boot), free(res);
        return -1;
    }
    int m = 0;
    for (int j = 0; j < k; j++) {
        memcpy(pool + m, v[j].x, sizeof(double) * (size_t)v[j].n);
        m += v[j].n;
    }
    if (qk_stats_compute(pool, total, seed, &out->pooled)) {
        free(pool), free(boot), free(res);
        return -1;
    }
    uint64_t rng = seed ^ 0x5851f42d4c957f2dull;
    for (int b = 0; b < QK_SITTINGS_RESAMPLES; b++) {
        int len = 0;
        for (int j = 0; j < k; j++) {
            const qk_sitting *s = &v[rand_index(&rng, k)];
            for (int i = 0; i < s->n; i++) res[len++] = s->x[rand_index(&rng, s->n)];
        }
        boot[b] = median_of(res, len);
    }
    qsort(boot, QK_SITTINGS_RESAMPLES, sizeof *boot, cmp_double);
    const double tail = qk_sittings_expanded_tail(k);
    out->pooled.ci_lo = quantile_sorted(boot, QK_SITTINGS_RESAMPLES, tail);
    out->pooled.ci_hi = quantile_sorted(boot, QK_SITTINGS_RESAMPLES, 1 - tail);
    for (int j = 0; j < k; j++)
        if (own[j].ci_hi < out->pooled.ci_lo || own[j].ci_lo > out->pooled.ci_hi)
            out->unstable_sittings++;
    out->stable = out->unstable_sittings == 0;
    free(pool), free(boot), free(res);
    return 0;
}

int qk_sittings_stats_compute(const qk_sitting *s, int k, uint64_t seed, qk_sittings_stats *out) {
    return compute(s, k, seed, out);
}

int qk_sittings_ratio_compute(const qk_sitting *num, const qk_sitting *den, int k, uint64_t seed,
                              qk_sittings_stats *out) {
    if (!num || !den || k < 1 || k > QK_SITTINGS_MAX) return -1;
    int total = 0;
    for (int j = 0; j < k; j++) {
        if (num[j].n != den[j].n || num[j].n < 1 || !num[j].x || !den[j].x) return -1;
        total += num[j].n;
    }
    double *r = malloc(sizeof(double) * (size_t)total);
    if (!r) return -1;
    qk_sitting v[QK_SITTINGS_MAX];
    int m = 0;
    for (int j = 0; j < k; j++) {
        v[j] = (qk_sitting){r + m, num[j].n};
        for (int i = 0; i < num[j].n; i++) {
            if (!(den[j].x[i] > 0)) {
                free(r);
                return -1;
            }
            r[m++] = num[j].x[i] / den[j].x[i];
        }
    }
    const int rc = compute(v, k, seed, out);
    free(r);
    return rc;
}
