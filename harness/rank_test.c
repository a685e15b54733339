/* The Mann-Whitney U test: harness/rank_test.h. */
#include "harness/rank_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double v;
    int from_a;
} ranked;

static int cmp_ranked(const void *x, const void *y) {
    const double a = ((const ranked *)x)->v, b = ((const ranked *)y)->v;
    return (a > b) - (a < b);
}

/* P(U <= u) and P(U >= u) under the null for sizes na, nb without ties: the number of ways na of
 * the ranks 1..N sum to each value, by dynamic programming over the ranks. */
static int exact_tails(int na, int nb, double u, double *lower, double *upper) {
    const int n = na + nb, max_u = na * nb;
    /* count[k][s]: subsets of size k of the ranks seen so far with U-contribution s, where U =
     * (sum of ranks) - k(k+1)/2; kept in doubles (C(40, 20) ~ 1.4e11 is exact in a double) */
    double *count = calloc((size_t)(na + 1) * (size_t)(max_u + 1), sizeof *count);
    if (!count) return -1;
#define C(k, s) count[(size_t)(k) * (size_t)(max_u + 1) + (size_t)(s)]
    C(0, 0) = 1;
    for (int r = 1; r <= n; r++) /* adding rank r to a subset of size k - 1 adds r - k to U */
        for (int k = (r < na ? r : na); k >= 1; k--)
            for (int s = max_u; s >= r - k && r - k >= 0; s--) C(k, s) += C(k - 1, s - (r - k));
    double total = 0, lo = 0, hi = 0;
    for (int s = 0; s <= max_u; s++) {
        const double c = C(na, s);
        total += c;
        if (s <= u + 1e-9) lo += c;
        if (s >= u - 1e-9) hi += c;
    }
#undef C
    free(count);
    *lower = lo / total;
    *upper = hi / total;
    return 0;
}

int qk_mann_whitney(const double *a, int na, const double *b, int nb, qk_rank_test *out) {
    if (!a || !b || !out || na < 1 || nb < 1) return -1;
    const int n = na + nb;
    ranked *x = malloc(sizeof *x * (size_t)n);
    if (!x) return -1;
    for (int i = 0; i < na; i++) x[i] = (ranked){a[i], 1};
    for (int i = 0; i < nb; i++) x[na + i] = (ranked){b[i], 0};
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i].v)) {
            free(x);
            return -1;
        }
    qsort(x, (size_t)n, sizeof *x, cmp_ranked);
    double rank_sum_a = 0, tie_term = 0; /* sum of (t^3 - t) over groups of t tied values */
    int ties = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && x[j + 1].v == x[i].v) j++;
        const double t = j - i + 1, mid = 0.5 * (i + j) + 1; /* midrank of the group */
        for (int k = i; k <= j; k++)
            if (x[k].from_a) rank_sum_a += mid;
        if (t > 1) ties = 1, tie_term += t * t * t - t;
        i = j + 1;
    }
    free(x);
    memset(out, 0, sizeof *out);
    out->u = rank_sum_a - 0.5 * na * (na + 1);
    double log_choose = lgamma(n + 1.0) - lgamma(na + 1.0) - lgamma(nb + 1.0);
    out->p_floor = fmin(1.0, 2 * exp(-log_choose));
    if (!ties && na <= QK_RANK_EXACT_MAX && nb <= QK_RANK_EXACT_MAX) {
        double lo, hi;
        if (exact_tails(na, nb, out->u, &lo, &hi)) return -1;
        out->p = fmin(1.0, 2 * fmin(lo, hi));
        out->exact = 1;
        return 0;
    }
    const double mean = 0.5 * na * nb;
    const double var = na * (double)nb / 12.0 * ((n + 1) - tie_term / ((double)n * (n - 1)));
    if (!(var > 0)) { /* every value equal: no evidence of a difference */
        out->p = 1;
        return 0;
    }
    const double z = (fabs(out->u - mean) - 0.5) / sqrt(var);
    out->p = fmin(1.0, erfc(fmax(z, 0) / sqrt(2.0))); /* 2 * (1 - Phi(z)) */
    return 0;
}
