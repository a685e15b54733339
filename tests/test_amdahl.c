/* Amdahl formulas against hand-computed cases, interval propagation, verdicts, step shares. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "report/amdahl.h"

#define EPS 1e-4

Test(amdahl, predicted_hand_computed) {
    cr_assert_float_eq(qk_amdahl_predicted(0.5, 2.0), 4.0 / 3.0, EPS);  /* 1/(0.5+0.25) */
    cr_assert_float_eq(qk_amdahl_predicted(0.7, 2.0), 1.0 / 0.65, EPS); /* 1.53846 */
    cr_assert_float_eq(qk_amdahl_predicted(0.7, 2.0), 1.53846, EPS);
    cr_assert_float_eq(qk_amdahl_predicted(0.9, 10.0), 1.0 / 0.19, EPS); /* 5.26316 */
    /* a slowdown of the part: s < 1 */
    cr_assert_float_eq(qk_amdahl_predicted(0.7, 2.0 / 3.0), 1.0 / 1.35, EPS); /* 0.74074 */
    /* s = infinity: the bound */
    cr_assert_float_eq(qk_amdahl_predicted(0.51, INFINITY), 2.0408, EPS);
    cr_assert_float_eq(qk_amdahl_predicted(0.5, 1e300), 2.0, EPS);
}

Test(amdahl, bound_hand_computed) {
    cr_assert_float_eq(qk_amdahl_bound(0.51), 2.0408, EPS); /* 1/0.49 */
    cr_assert_float_eq(qk_amdahl_bound(0.15), 1.1765, EPS); /* the story's 1.176x */
    cr_assert_float_eq(qk_amdahl_bound(0.0), 1.0, EPS);
    cr_assert_float_eq(qk_amdahl_bound(0.7), 3.3333, EPS);
}

Test(amdahl, edge_cases_without_division_by_zero) {
    cr_assert_float_eq(qk_amdahl_predicted(0.3, 1.0), 1.0, 1e-12); /* s = 1: nothing changes */
    cr_assert_float_eq(qk_amdahl_predicted(0.0, 5.0), 1.0, 1e-12); /* p = 0 */
    cr_assert_float_eq(qk_amdahl_predicted(0.0, INFINITY), 1.0, 1e-12);
    cr_assert_float_eq(qk_amdahl_predicted(1.0, 4.0), 4.0, 1e-12); /* p = 1: all of it */
    cr_assert(isinf(qk_amdahl_predicted(1.0, INFINITY)));
    cr_assert(isinf(qk_amdahl_bound(1.0)));
    /* outside the domain: NAN, no trap */
    cr_assert(isnan(qk_amdahl_predicted(-0.1, 2.0)));
    cr_assert(isnan(qk_amdahl_predicted(1.1, 2.0)));
    cr_assert(isnan(qk_amdahl_predicted(0.5, 0.0)));
    cr_assert(isnan(qk_amdahl_predicted(0.5, -1.0)));
    cr_assert(isnan(qk_amdahl_predicted(NAN, 2.0)));
    cr_assert(isnan(qk_amdahl_predicted(0.5, NAN)));
    cr_assert(isnan(qk_amdahl_bound(NAN)));
    cr_assert(isnan(qk_amdahl_bound(1.5)));
}

Test(amdahl, implied_p) {
    /* p = 0.7, s = 2 gives 1.53846; back again */
    cr_assert_float_eq(qk_amdahl_implied_p(1.0 / 0.65, 2.0), 0.7, EPS);
    /* the story: 1.41x achieved with s = inf would need p = 0.2908 */
    cr_assert_float_eq(qk_amdahl_implied_p(1.41, INFINITY), 1.0 - 1.0 / 1.41, EPS);
    cr_assert(isnan(qk_amdahl_implied_p(1.2, 1.0)));
    cr_assert(isnan(qk_amdahl_implied_p(0.0, 2.0)));
    /* more than any p can explain: outside [0, 1] */
    cr_assert_gt(qk_amdahl_implied_p(3.0, 2.0), 1.0);
}

Test(amdahl, predicted_interval_is_the_corner_hull) {
    qk_interval p = qk_interval_make(0.7, 0.65, 0.75), s = qk_interval_make(2.0, 1.8, 2.2);
    qk_interval r = qk_amdahl_predicted_interval(p, s);
    cr_assert_float_eq(r.value, 1.0 / 0.65, EPS);
    cr_assert_float_eq(r.lo, 1.0 / (0.35 + 0.65 / 1.8), EPS); /* low p, low s */
    cr_assert_float_eq(r.hi, 1.0 / (0.25 + 0.75 / 2.2), EPS); /* high p, high s */
    /* s < 1: the prediction decreases with p, so the corners swap */
    qk_interval sd = qk_interval_make(0.5, 0.4, 0.6);
    qk_interval d = qk_amdahl_predicted_interval(p, sd);
    cr_assert_float_eq(d.lo, 1.0 / (0.25 + 0.75 / 0.4), EPS);
    cr_assert_float_eq(d.hi, 1.0 / (0.35 + 0.65 / 0.6), EPS);
    cr_assert_leq(d.lo, d.value);
    cr_assert_leq(d.value, d.hi);
    /* a point p */
    qk_interval q = qk_amdahl_predicted_interval(qk_interval_point(0.5), qk_interval_point(2.0));
    cr_assert_float_eq(q.lo, 4.0 / 3.0, EPS);
    cr_assert_float_eq(q.hi, 4.0 / 3.0, EPS);
    /* unknown interval: value only */
    qk_interval u = qk_amdahl_predicted_interval(qk_interval_make(0.5, NAN, NAN), s);
    cr_assert_float_eq(u.value, 4.0 / 3.0, EPS);
    cr_assert(isnan(u.lo) && isnan(u.hi));
    qk_interval b = qk_amdahl_bound_interval(p);
    cr_assert_float_eq(b.lo, 1.0 / 0.35, EPS);
    cr_assert_float_eq(b.hi, 4.0, EPS);
}

Test(amdahl, speedup_from_ratio_inverts_the_interval) {
    qk_interval s = qk_speedup_from_ratio(qk_interval_make(0.75, 0.73, 0.77));
    cr_assert_float_eq(s.value, 1.3333, EPS);
    cr_assert_float_eq(s.lo, 1.0 / 0.77, EPS);
    cr_assert_float_eq(s.hi, 1.0 / 0.73, EPS);
}

Test(amdahl, verdicts) {
    char line[512];
    qk_interval pred = qk_interval_make(1.50, 1.45, 1.55);
    cr_assert_eq(
        qk_amdahl_verdict_line(pred, qk_interval_make(1.52, 1.40, 1.60), NAN, line, sizeof line),
        QK_AMDAHL_AGREE);
    cr_assert(strstr(line, "agree") == line, "%s", line);
    cr_assert(strstr(line, "1.520x"), "%s", line);
    cr_assert_null(strchr(line, '\n'));
    cr_assert_eq(
        qk_amdahl_verdict_line(pred, qk_interval_make(1.33, 1.30, 1.37), 3.33, line, sizeof line),
        QK_AMDAHL_BELOW);
    cr_assert(strstr(line, "below") == line, "%s", line);
    /* the story: 1.41x achieved against a 1.176x bound */
    const double bound = qk_amdahl_bound(0.15);
    qk_interval story_pred = qk_interval_point(bound);
    cr_assert_eq(qk_amdahl_verdict_line(story_pred, qk_interval_make(1.41, 1.39, 1.43), bound, line,
                                        sizeof line),
                 QK_AMDAHL_ABOVE);
    cr_assert(strstr(line, "above") == line, "%s", line);
    cr_assert(strstr(line, "exceeds the bound"), "%s", line);
    /* touching intervals overlap */
    cr_assert_eq(qk_amdahl_verdict_line(pred, qk_interval_make(1.6, 1.55, 1.7), NAN, NULL, 0),
                 QK_AMDAHL_AGREE);
    cr_assert_eq(
        qk_amdahl_verdict_line(pred, qk_interval_make(1.6, NAN, NAN), NAN, line, sizeof line),
        QK_AMDAHL_UNKNOWN);
    cr_assert_str_eq(qk_amdahl_verdict_name(QK_AMDAHL_BELOW), "below");
    /* a tiny buffer is not overrun */
    char small[8];
    qk_amdahl_verdict_line(pred, qk_interval_make(1.52, 1.40, 1.60), NAN, small, sizeof small);
    cr_assert_eq(strlen(small), 7);
}

Test(amdahl, step_shares_hand_computed) {
    /* parse 120 -> precached 100 -> zero-copy 90: 20/30 and 10/30 of the gain */
    qk_interval t[3] = {qk_interval_point(120), qk_interval_point(100), qk_interval_point(90)};
    qk_interval sh[2];
    cr_assert_eq(qk_amdahl_step_shares(t, 3, sh), 0);
    cr_assert_float_eq(sh[0].value, 2.0 / 3.0, EPS);
    cr_assert_float_eq(sh[1].value, 1.0 / 3.0, EPS);
    cr_assert_float_eq(sh[0].lo, 2.0 / 3.0, EPS);
    cr_assert_float_eq(sh[1].hi, 1.0 / 3.0, EPS);
    /* with intervals: corners */
    qk_interval ti[3] = {qk_interval_make(120, 118, 122), qk_interval_make(100, 99, 101),
                         qk_interval_make(90, 89, 91)};
    cr_assert_eq(qk_amdahl_step_shares(ti, 3, sh), 0);
    cr_assert_float_eq(sh[0].value, 2.0 / 3.0, EPS);
    cr_assert_float_eq(sh[0].lo, (118.0 - 101.0) / (118.0 - 89.0), EPS);
    cr_assert_float_eq(sh[0].hi, (122.0 - 99.0) / (122.0 - 91.0), EPS);
    cr_assert_leq(sh[1].lo, sh[1].value);
    cr_assert_geq(sh[1].hi, sh[1].value);
    /* a step that slows down has a negative share; the seed story's figures */
    qk_interval story[3] = {qk_interval_point(42.44), qk_interval_point(66.50),
                            qk_interval_point(30.19)};
    cr_assert_eq(qk_amdahl_step_shares(story, 3, sh), 0);
    cr_assert_float_eq(sh[0].value, (42.44 - 66.50) / (42.44 - 30.19), EPS);
    cr_assert_float_eq(sh[0].value + sh[1].value, 1.0, EPS);
    /* total gain interval containing 0: unbounded */
    qk_interval z[2] = {qk_interval_make(100, 95, 105), qk_interval_make(99, 94, 104)};
    cr_assert_eq(qk_amdahl_step_shares(z, 2, sh), 0);
    cr_assert(isinf(sh[0].lo) && isinf(sh[0].hi));
    /* no gain at all, bad n */
    qk_interval same[2] = {qk_interval_point(5), qk_interval_point(5)};
    cr_assert_eq(qk_amdahl_step_shares(same, 2, sh), -1);
    cr_assert(isnan(sh[0].value));
    cr_assert_eq(qk_amdahl_step_shares(t, 1, sh), -1);
    cr_assert_eq(qk_amdahl_step_shares(t, 9, sh), -1);
}
