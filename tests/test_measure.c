/* Measurement statistics: hand-computed values for small samples (odd and even n), paired and
 * unpaired ratios, the interleaving order, the bootstrap interval's coverage of a known median
 * over seeded trials, and the clocks. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "harness/measure.h"

#define EPS 1e-12

Test(stats, odd_n_hand_computed) {
    const double x[] = {3, 1, 2};
    qk_stats s;
    cr_assert_eq(qk_stats_compute(x, 3, 1, &s), 0);
    cr_expect_eq(s.n, 3);
    cr_expect_float_eq(s.min, 1, EPS);
    cr_expect_float_eq(s.max, 3, EPS);
    cr_expect_float_eq(s.median, 2, EPS);
    cr_expect_float_eq(s.mean, 2, EPS);
    cr_expect_float_eq(s.stddev, 1, EPS); /* ((1)^2 + (-1)^2 + 0) / (3 - 1) = 1 */
    cr_expect_float_eq(s.cv, 0.5, EPS);
}

Test(stats, even_n_median_is_mean_of_middle_two) {
    const double x[] = {4, 1, 3, 2};
    qk_stats s;
    cr_assert_eq(qk_stats_compute(x, 4, 1, &s), 0);
    cr_expect_float_eq(s.median, 2.5, EPS);
    cr_expect_float_eq(s.mean, 2.5, EPS);
    /* squares of deviations 2.25 + 2.25 + 0.25 + 0.25 = 5; 5 / 3 */
    cr_expect_float_eq(s.stddev, sqrt(5.0 / 3.0), EPS);
    cr_expect_float_eq(s.cv, sqrt(5.0 / 3.0) / 2.5, EPS);
}

Test(stats, textbook_sample) {
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9}; /* mean 5, sum of squares 32 */
    qk_stats s;
    cr_assert_eq(qk_stats_compute(x, 8, 7, &s), 0);
    cr_expect_float_eq(s.median, 4.5, EPS);
    cr_expect_float_eq(s.mean, 5, EPS);
    cr_expect_float_eq(s.stddev, sqrt(32.0 / 7.0), EPS);
    cr_expect_float_eq(s.cv, sqrt(32.0 / 7.0) / 5.0, EPS);
    cr_expect(s.ci_lo <= s.median && s.median <= s.ci_hi, "[%g, %g]", s.ci_lo, s.ci_hi);
    cr_expect(s.ci_lo >= s.min && s.ci_hi <= s.max);
}

Test(stats, single_value_and_constant_sample) {
    const double one[] = {7};
    qk_stats s;
    cr_assert_eq(qk_stats_compute(one, 1, 1, &s), 0);
    cr_expect_float_eq(s.median, 7, EPS);
    cr_expect_float_eq(s.stddev, 0, EPS);
    cr_expect_float_eq(s.cv, 0, EPS);
    cr_expect_float_eq(s.ci_lo, 7, EPS);
    cr_expect_float_eq(s.ci_hi, 7, EPS);
    const double same[] = {5, 5, 5, 5, 5};
    cr_assert_eq(qk_stats_compute(same, 5, 1, &s), 0);
    cr_expect_float_eq(s.ci_lo, 5, EPS);
    cr_expect_float_eq(s.ci_hi, 5, EPS);
    cr_expect_float_eq(s.cv, 0, EPS);
}

Test(stats, bootstrap_is_reproducible_per_seed) {
    const double x[] = {10.2, 9.8, 10.5, 11.0, 9.9, 10.1, 10.4, 12.0, 9.7, 10.0};
    qk_stats a, b;
    cr_assert_eq(qk_stats_compute(x, 10, 42, &a), 0);
    cr_assert_eq(qk_stats_compute(x, 10, 42, &b), 0);
    cr_expect(a.ci_lo == b.ci_lo && a.ci_hi == b.ci_hi);
    cr_expect(a.ci_lo < a.median && a.median < a.ci_hi, "[%g, %g] around %g", a.ci_lo, a.ci_hi,
              a.median);
}

Test(stats, rejects_bad_input) {
    const double x[] = {1, NAN, 3};
    qk_stats s;
    cr_expect_eq(qk_stats_compute(x, 0, 1, &s), -1);
    cr_expect_eq(qk_stats_compute(NULL, 3, 1, &s), -1);
    cr_expect_eq(qk_stats_compute(x, 3, 1, &s), -1);
}

Test(ratio, paired_on_known_pairs) {
    const double num[] = {2, 4, 6}, den[] = {1, 2, 2}; /* ratios 2, 2, 3 */
    qk_stats s;
    cr_assert_eq(qk_ratio_compute(num, den, 3, 1, &s), 0);
    cr_expect_float_eq(s.median, 2, EPS);
    cr_expect_float_eq(s.mean, 7.0 / 3.0, EPS);
    cr_expect_float_eq(s.min, 2, EPS);
    cr_expect_float_eq(s.max, 3, EPS);
    cr_expect(s.ci_lo >= 2 && s.ci_hi <= 3);
    const double zero[] = {1, 0, 1};
    cr_expect_eq(qk_ratio_compute(num, zero, 3, 1, &s), -1);
}

Test(ratio, constant_ratio_has_a_point_interval) {
    const double den[] = {1.0, 1.1, 0.9, 1.3, 1.2, 1.05};
    double num[6];
    for (int i = 0; i < 6; i++) num[i] = 0.8 * den[i]; /* every pair: exactly 0.8 faster */
    qk_stats s;
    cr_assert_eq(qk_ratio_compute(num, den, 6, 3, &s), 0);
    cr_expect_float_eq(s.median, 0.8, 1e-12);
    cr_expect_float_eq(s.ci_lo, 0.8, 1e-12);
    cr_expect_float_eq(s.ci_hi, 0.8, 1e-12);
}

Test(ratio, unpaired_ratio_of_medians) {
    const double num[] = {2, 2, 2, 2}, den[] = {1, 1, 1};
    double r, lo, hi;
    cr_assert_eq(qk_ratio_unpaired(num, 4, den, 3, 1, &r, &lo, &hi), 0);
    cr_expect_float_eq(r, 2, EPS);
    cr_expect_float_eq(lo, 2, EPS);
    cr_expect_float_eq(hi, 2, EPS);
    const double a[] = {10, 11, 12, 13, 14}, b[] = {5, 6, 7}; /* medians 12 and 6 */
    cr_assert_eq(qk_ratio_unpaired(a, 5, b, 3, 9, &r, &lo, &hi), 0);
    cr_expect_float_eq(r, 2, EPS);
    cr_expect(lo <= r && r <= hi && lo >= 10.0 / 7 && hi <= 14.0 / 5, "[%g, %g]", lo, hi);
    const double neg[] = {-1, -1, -1};
    cr_expect_eq(qk_ratio_unpaired(a, 5, neg, 3, 1, &r, &lo, &hi), -1);
}

Test(interleave, permutation_rotating_start) {
    for (int n = 1; n <= 7; n++) {
        int first[8] = {0}, last[8] = {0};
        for (int rep = 0; rep < 2 * n; rep++) {
            int order[8], seen[8] = {0};
            qk_interleave_order(n, rep, order);
            for (int i = 0; i < n; i++) {
                cr_assert(order[i] >= 0 && order[i] < n);
                cr_assert_eq(seen[order[i]]++, 0, "n=%d rep=%d: %d twice", n, rep, order[i]);
            }
            cr_expect_eq(order[0], rep % n);
            first[order[0]]++;
            last[order[n - 1]]++;
        }
        for (int c = 0; c < n; c++) { /* over 2n rounds every configuration leads twice */
            cr_expect_eq(first[c], 2, "n=%d: config %d first %d times", n, c, first[c]);
            cr_expect_eq(last[c], 2, "n=%d: config %d last %d times", n, c, last[c]);
        }
    }
}

Test(noisy, threshold) {
    qk_stats s = {.n = 5, .cv = 0.06};
    cr_expect(qk_is_noisy(&s, 0.05));
    s.cv = 0.04;
    cr_expect(!qk_is_noisy(&s, 0.05));
}

/* The test's own generator (independent of the one inside measure.c). */
static uint64_t rng_state;
static double uniform01(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}
static double normal01(void) { /* Box-Muller */
    double u = uniform01(), v = uniform01();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* Fraction of `trials` samples of n values whose interval contains the true median. */
static double coverage(int trials, int n, double (*draw)(void), double true_median) {
    int hit = 0;
    for (int t = 0; t < trials; t++) {
        double x[64];
        for (int i = 0; i < n; i++) x[i] = draw();
        qk_stats s;
        cr_assert_eq(qk_stats_compute(x, n, 1000 + (uint64_t)t, &s), 0);
        hit += s.ci_lo <= true_median && true_median <= s.ci_hi;
    }
    return (double)hit / trials;
}

Test(bootstrap, coverage_normal_n15, .timeout = 120) {
    rng_state = 20240501;
    double c = coverage(1000, 15, normal01, 0.0);
    cr_log_info("normal, n=15: %.3f of 1000 intervals contain the median", c);
    cr_expect_geq(c, 0.90, "coverage %.3f", c);
}

Test(bootstrap, coverage_uniform_n15, .timeout = 120) {
    rng_state = 77;
    double c = coverage(1000, 15, uniform01, 0.5);
    cr_log_info("uniform, n=15: %.3f of 1000 intervals contain the median", c);
    cr_expect_geq(c, 0.90, "coverage %.3f", c);
}

Test(clocks, advance) {
    /* busy until 20 ms of CPU time have passed (a loaded machine may take longer in wall time):
     * both clocks move, and one busy thread's CPU time cannot outrun the wall clock */
    double t0 = qk_now_seconds(), c0 = qk_cpu_seconds();
    volatile double sink = 0;
    while (qk_cpu_seconds() - c0 < 0.02 && qk_now_seconds() - t0 < 10) sink += 1;
    double dt = qk_now_seconds() - t0, dc = qk_cpu_seconds() - c0;
    cr_expect(dc >= 0.02, "cpu %g after up to 10 s of busy loop", dc);
    cr_expect(dt >= 0.9 * dc && dt < 10.5, "wall %g against cpu %g", dt, dc);
    cr_expect_gt(qk_peak_rss_kb(), 0);
}
