/* harness/sittings.c: the two-level (sittings x repetitions) bootstrap. One sitting gives exactly
 * the single-level figures; on simulated sittings with a known between-sitting variance the
 * hierarchical interval covers the true ratio at about its nominal level where the single-level
 * interval of the same data does not. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness/measure.h"
#include "harness/sittings.h"

static uint64_t rng_state;

static double uniform(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

/* Field by field: the struct has padding that memcmp would compare too. */
static int same_stats(const qk_stats *a, const qk_stats *b) {
    return a->n == b->n && a->min == b->min && a->max == b->max && a->median == b->median &&
           a->mean == b->mean && a->stddev == b->stddev && a->cv == b->cv && a->ci_lo == b->ci_lo &&
           a->ci_hi == b->ci_hi;
}

static double gaussian(void) { /* Box-Muller */
    return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

Test(sittings, one_sitting_is_the_single_level_result) {
    double num[9], den[9];
    rng_state = 7;
    for (int i = 0; i < 9; i++) den[i] = 0.01 * (1 + 0.1 * uniform()), num[i] = 2 * den[i];
    const qk_sitting n1 = {num, 9}, d1 = {den, 9};
    qk_sittings_stats h;
    qk_stats s;
    cr_assert_eq(qk_sittings_ratio_compute(&n1, &d1, 1, 42, &h), 0);
    cr_assert_eq(qk_ratio_compute(num, den, 9, 42, &s), 0);
    cr_assert(same_stats(&h.pooled, &s), "one sitting must give qk_ratio_compute's stats");
    cr_assert(h.stable);
    cr_assert_eq(qk_sittings_stats_compute(&d1, 1, 42, &h), 0);
    cr_assert_eq(qk_stats_compute(den, 9, 42, &s), 0);
    cr_assert(same_stats(&h.pooled, &s));
}

Test(sittings, bad_input_is_refused) {
    double x[3] = {1, 2, NAN}, y[3] = {1, 1, 1};
    const qk_sitting a = {x, 3}, b = {y, 3}, c = {y, 2}, e = {y, 0};
    qk_sittings_stats h;
    cr_assert_eq(qk_sittings_stats_compute(&a, 1, 1, &h), -1, "NaN");
    cr_assert_eq(qk_sittings_stats_compute(&e, 1, 1, &h), -1, "empty sitting");
    cr_assert_eq(qk_sittings_stats_compute(&b, 0, 1, &h), -1, "no sitting");
    cr_assert_eq(qk_sittings_ratio_compute(&b, &c, 1, 1, &h), -1, "unequal pairs");
    y[1] = 0;
    cr_assert_eq(qk_sittings_ratio_compute(&b, &b, 1, 1, &h), -1, "zero denominator");
}

Test(sittings, expanded_tail_matches_the_formula) {
    /* K = 5: Phi(-sqrt(5/4) * 2.776) = Phi(-3.1037) = 0.000956 */
    cr_assert_float_eq(qk_sittings_expanded_tail(5), 0.000956, 2e-5);
    cr_assert_float_eq(qk_sittings_expanded_tail(1), 0.025, 1e-12);
    /* K = 64: Phi(-sqrt(64/63) * 1.9983) = Phi(-2.0141) = 0.0220, towards the plain 0.025 */
    cr_assert_float_eq(qk_sittings_expanded_tail(64), 0.0220, 2e-4);
    for (int k = 2; k < QK_SITTINGS_MAX; k++)
        cr_assert(qk_sittings_expanded_tail(k) < qk_sittings_expanded_tail(k + 1));
}

Test(sittings, spread_and_stability) {
    double a[6] = {1.0, 1.01, 0.99, 1.0, 1.02, 0.98}, b[6], c[6];
    for (int i = 0; i < 6; i++) b[i] = a[i] * 1.001, c[i] = a[i] * 1.5;
    const qk_sitting same[3] = {{a, 6}, {b, 6}, {a, 6}}, off[3] = {{a, 6}, {b, 6}, {c, 6}};
    qk_sittings_stats h;
    cr_assert_eq(qk_sittings_stats_compute(same, 3, 3, &h), 0);
    cr_assert(h.stable, "three like sittings are stable");
    cr_assert_float_eq(h.sitting_median_min, 1.0, 1e-12);
    cr_assert_float_eq(h.sitting_median_max, 1.001, 1e-12);
    cr_assert_eq(qk_sittings_stats_compute(off, 3, 3, &h), 0);
    cr_assert_float_eq(h.sitting_median_max, 1.5, 1e-12);
    cr_assert(h.pooled.ci_lo <= h.pooled.median && h.pooled.median <= h.pooled.ci_hi);
    cr_assert_eq(h.sittings, 3);
}

/* 1,000 simulated runs of 5 sittings x 10 repetitions: per sitting a log-normal offset of the
 * ratio (sd 0.08: sittings disagree by several percent, as on the project's VMs), per repetition
 * log-normal noise on both times (sd 0.03) and a sitting-level drift of both (sd 0.2, which the
 * pairing removes). The true ratio is the population median, 1.5. */
/* Under the sanitizers (which check memory, not statistics) 100 trials and a looser bound, so the
 * asan suite stays fast. */
#if defined(__SANITIZE_ADDRESS__)
#define TRIALS      100
#define MIN_COVERED 85
#define MAX_SINGLE  80
#else
#define TRIALS      1000
#define MIN_COVERED 900
#define MAX_SINGLE  800
#endif

Test(sittings, hierarchical_interval_covers_the_true_ratio, .timeout = 600) {
    enum { K = 5, N = 10 };
    const double truth = 1.5;
    int covered_h = 0, covered_1 = 0;
    double num[K * N], den[K * N];
    rng_state = 2026;
    for (int t = 0; t < TRIALS; t++) {
        qk_sitting sn[K], sd[K];
        for (int j = 0; j < K; j++) {
            const double b = 0.08 * gaussian(), drift = exp(0.2 * gaussian());
            for (int i = 0; i < N; i++) {
                double *d = &den[j * N + i], *n = &num[j * N + i];
                *d = 0.010 * drift * exp(0.03 * gaussian());
                *n = *d * truth * exp(b + 0.03 * gaussian());
            }
            sn[j] = (qk_sitting){num + j * N, N};
            sd[j] = (qk_sitting){den + j * N, N};
        }
        qk_sittings_stats h;
        qk_stats s;
        cr_assert_eq(qk_sittings_ratio_compute(sn, sd, K, (uint64_t)t, &h), 0);
        cr_assert_eq(qk_ratio_compute(num, den, K * N, (uint64_t)t, &s), 0);
        covered_h += h.pooled.ci_lo <= truth && truth <= h.pooled.ci_hi;
        covered_1 += s.ci_lo <= truth && truth <= s.ci_hi;
    }
    cr_log_info("coverage of the true ratio at 95%%: hierarchical %.1f%%, single-level %.1f%%",
                100.0 * covered_h / TRIALS, 100.0 * covered_1 / TRIALS);
    cr_assert_geq(covered_h, MIN_COVERED, "hierarchical coverage %d/%d too low", covered_h, TRIALS);
    cr_assert_lt(covered_1, MAX_SINGLE, "the single-level interval should undercover: %d/%d",
                 covered_1, TRIALS);
}
