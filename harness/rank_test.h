/* The Mann-Whitney U test (Wilcoxon rank-sum): do two samples come from one distribution, or does
 * one tend to be larger? The test Google Benchmark's compare.py applies to repetitions; `qkbench
 * compare` applies it to sittings' medians when both files have sittings, since repetitions of one
 * sitting are not independent draws of the next sitting's machine state.
 *
 * Exact two-sided p-value from the rank-sum distribution when there are no ties and both samples
 * have at most QK_RANK_EXACT_MAX values; otherwise the normal approximation with the tie-corrected
 * variance and a continuity correction (Mann & Whitney 1947; Lehmann, "Nonparametrics", 1975). */
#ifndef QK_HARNESS_RANK_TEST_H
#define QK_HARNESS_RANK_TEST_H

#define QK_RANK_EXACT_MAX 20

typedef struct {
    double u;       /* U of the first sample: pairs (a_i, b_j) with a_i > b_j, ties counted 1/2 */
    double p;       /* two-sided p-value */
    double p_floor; /* the smallest p these sample sizes can give (2 / C(na + nb, na)) */
    int exact;      /* p from the exact distribution (else the normal approximation) */
} qk_rank_test;

/* 0, or -1 if a sample is empty, a value is not finite, or no memory. */
int qk_mann_whitney(const double *a, int na, const double *b, int nb, qk_rank_test *out);

#endif
