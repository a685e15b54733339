/* harness/rank_test.c: the Mann-Whitney U test, exact and approximate, against values computed by
 * hand from the definitions. */
#include <criterion/criterion.h>
#include <math.h>

#include "harness/rank_test.h"

Test(rank_test, exact_separated_samples) {
    const double a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
    qk_rank_test r;
    cr_assert_eq(qk_mann_whitney(a, 3, b, 3, &r), 0);
    cr_assert(r.exact);
    cr_assert_float_eq(r.u, 0, 1e-12);
    cr_assert_float_eq(r.p, 2.0 / 20, 1e-12, "C(6,3) = 20 orderings, one at each extreme");
    cr_assert_float_eq(r.p_floor, 0.1, 1e-12);
    const double c[5] = {1, 2, 3, 4, 5}, d[5] = {6, 7, 8, 9, 10};
    cr_assert_eq(qk_mann_whitney(d, 5, c, 5, &r), 0);
    cr_assert_float_eq(r.u, 25, 1e-12);
    cr_assert_float_eq(r.p, 2.0 / 252, 1e-12);
}

Test(rank_test, exact_interleaved_is_not_significant) {
    /* one pair with a > b: U = 1; P(U <= 1) = 2/20 of C(6,3), two-sided 0.2 */
    const double a[3] = {1, 2, 4}, b[3] = {3, 5, 6};
    qk_rank_test r;
    cr_assert_eq(qk_mann_whitney(a, 3, b, 3, &r), 0);
    cr_assert_float_eq(r.u, 1, 1e-12);
    cr_assert_float_eq(r.p, 2 * 2.0 / 20, 1e-12);
    const double e[4] = {1, 3, 5, 7}, f[4] = {2, 4, 6, 8};
    cr_assert_eq(qk_mann_whitney(e, 4, f, 4, &r), 0);
    cr_assert_gt(r.p, 0.5);
}

Test(rank_test, ties_use_the_normal_approximation) {
    /* midranks 1, 3, 3, 5.5 for A: U = 2.5; variance 16/12 (9 - 30/56); z = (5.5 - 0.5) / sd */
    const double a[4] = {1, 2, 2, 3}, b[4] = {2, 3, 4, 5};
    qk_rank_test r;
    cr_assert_eq(qk_mann_whitney(a, 4, b, 4, &r), 0);
    cr_assert(!r.exact);
    cr_assert_float_eq(r.u, 2.5, 1e-12);
    cr_assert_float_eq(r.p, 0.1366582477, 1e-9);
    const double same[3] = {7, 7, 7};
    cr_assert_eq(qk_mann_whitney(same, 3, same, 3, &r), 0);
    cr_assert_float_eq(r.p, 1, 1e-12);
}

Test(rank_test, large_samples_agree_with_the_approximation) {
    double a[30], b[30];
    for (int i = 0; i < 30; i++) a[i] = i, b[i] = i + 12.5;
    qk_rank_test r;
    cr_assert_eq(qk_mann_whitney(a, 30, b, 30, &r), 0);
    cr_assert(!r.exact);
    cr_assert_lt(r.p, 0.01);
    /* an exact-size case against its own approximation: within a few percent */
    double c[12], d[12];
    for (int i = 0; i < 12; i++) c[i] = 2 * i, d[i] = 2 * i + 5;
    cr_assert_eq(qk_mann_whitney(c, 12, d, 12, &r), 0);
    cr_assert(r.exact);
    const double n = 24, u = r.u, var = 144.0 / 12 * (n + 1);
    const double p_norm = erfc(((72 - u) - 0.5) / sqrt(var) / sqrt(2.0));
    cr_assert_float_eq(r.p, p_norm, 0.02);
}

Test(rank_test, bad_input) {
    const double a[2] = {1, NAN}, b[1] = {1};
    qk_rank_test r;
    cr_assert_eq(qk_mann_whitney(a, 2, b, 1, &r), -1);
    cr_assert_eq(qk_mann_whitney(b, 0, b, 1, &r), -1);
}
