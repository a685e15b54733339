/* Amdahl's law, measured: the fraction p of the forward pass spent in the part a variant changes
 * (from the baseline's per-operation profile), that part's local speedup s (from matmul-only
 * runs), the predicted end-to-end speedup 1/((1-p)+p/s), the bound 1/(1-p), and a verdict when the
 * achieved end-to-end speedup disagrees with the prediction. Also the "step shares" of a ladder of
 * variants: how much of the total time saved each step contributed.
 *
 * Pure functions: no I/O, no allocation. Values outside their domain give NAN, never a trap:
 * p must be in [0, 1], s > 0 (s = INFINITY is allowed: the part vanishes). */
#ifndef QK_REPORT_AMDAHL_H
#define QK_REPORT_AMDAHL_H

#include <stddef.h>

/* A point estimate and its interval (lo <= value <= hi when known; lo = hi = value for a point).
 * NAN anywhere means unknown. */
typedef struct {
    double value, lo, hi;
} qk_interval;

static inline qk_interval qk_interval_make(double value, double lo, double hi) {
    qk_interval r = {value, lo, hi};
    return r;
}
static inline qk_interval qk_interval_point(double value) {
    qk_interval r = {value, value, value};
    return r;
}

/* 1/((1-p) + p/s). p = 0 gives 1 for any s; s = INFINITY gives the bound. */
double qk_amdahl_predicted(double p, double s);
/* 1/(1-p): the most any speedup of the part can give; INFINITY for p = 1. */
double qk_amdahl_bound(double p);
/* The p a measured end-to-end speedup `achieved` implies for a local speedup s: the p with
 * qk_amdahl_predicted(p, s) == achieved, i.e. (1 - 1/achieved) / (1 - 1/s). NAN when s == 1 (any p
 * fits, or none) or an input is invalid; may fall outside [0, 1] (then no p explains it). */
double qk_amdahl_implied_p(double achieved, double s);

/* The predicted speedup with its interval: value from the point estimates, lo/hi the min/max over
 * the four corners of [p.lo, p.hi] x [s.lo, s.hi] (the prediction is monotone in p and in s). */
qk_interval qk_amdahl_predicted_interval(qk_interval p, qk_interval s);
/* The bound's interval (monotone increasing in p). */
qk_interval qk_amdahl_bound_interval(qk_interval p);

/* Speedup from a time ratio r = t(variant)/t(baseline) and its interval: 1/r, interval inverted. */
qk_interval qk_speedup_from_ratio(qk_interval ratio);

typedef enum {
    QK_AMDAHL_UNKNOWN = 0, /* an interval is missing or invalid */
    QK_AMDAHL_AGREE,       /* the intervals overlap */
    QK_AMDAHL_ABOVE,       /* achieved entirely above the prediction */
    QK_AMDAHL_BELOW,       /* achieved entirely below the prediction */
} qk_amdahl_verdict;

const char *qk_amdahl_verdict_name(qk_amdahl_verdict v); /* "unknown", "agree", "above", "below" */

/* Compares the achieved end-to-end speedup with the predicted one and writes a one-line sentence
 * (no newline) into line (may be NULL): the verdict, both figures with intervals, what a
 * disagreement suggests, and whether achieved exceeds the bound 1/(1-p) (pass bound = NAN to leave
 * it out). Returns the verdict. */
qk_amdahl_verdict qk_amdahl_verdict_line(qk_interval predicted, qk_interval achieved, double bound,
                                         char *line, size_t size);

/* Step shares of a ladder: t[0] the baseline's time, t[n-1] the final variant's, t[1..n-2] the
 * intermediate steps (all with intervals; any consistent unit, e.g. ms or ratios to t[0]).
 * share[i] (i in 0..n-2) = (t[i] - t[i+1]) / (t[0] - t[n-1]): the part of the total gain due to
 * step i -> i+1 (they sum to 1; a step that slowed things down has a negative share). Intervals are
 * the min/max over every corner of the input intervals (each share is monotone in each time); when
 * the total gain's interval contains 0 they are unbounded (-INFINITY, INFINITY). n in 2..8.
 * Returns 0, or -1 (shares set to NAN) for n out of range or a total gain of exactly 0. */
int qk_amdahl_step_shares(const qk_interval *t, int n, qk_interval *share);

#endif
