#include "report/amdahl.h"

#include <math.h>
#include <stdio.h>

/* false for NAN */
static int valid_p(double p) {
    return p >= 0 && p <= 1;
}

double qk_amdahl_predicted(double p, double s) {
    if (!valid_p(p) || !(s > 0)) return NAN;
    if (p == 0) return 1.0;
    const double part = isinf(s) ? 0.0 : p / s;
    const double rest = 1.0 - p + part;
    return rest > 0 ? 1.0 / rest : INFINITY; /* p = 1, s = inf */
}

double qk_amdahl_bound(double p) {
    if (!valid_p(p)) return NAN;
    return p == 1 ? INFINITY : 1.0 / (1.0 - p);
}

double qk_amdahl_implied_p(double achieved, double s) {
    if (!(achieved > 0) || !(s > 0) || s == 1) return NAN;
    const double inv_s = isinf(s) ? 0.0 : 1.0 / s;
    return (1.0 - 1.0 / achieved) / (1.0 - inv_s);
}

static int interval_ok(qk_interval x) {
    return !isnan(x.value) && !isnan(x.lo) && !isnan(x.hi) && x.lo <= x.hi;
}

qk_interval qk_amdahl_predicted_interval(qk_interval p, qk_interval s) {
    qk_interval r = {qk_amdahl_predicted(p.value, s.value), NAN, NAN};
    if (!interval_ok(p) || !interval_ok(s)) return r;
    const double ps[2] = {p.lo, p.hi}, ss[2] = {s.lo, s.hi};
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            const double v = qk_amdahl_predicted(ps[i], ss[j]);
            if (isnan(v)) return r;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    r.lo = lo;
    r.hi = hi;
    return r;
}

qk_interval qk_amdahl_bound_interval(qk_interval p) {
    qk_interval r = {qk_amdahl_bound(p.value), qk_amdahl_bound(p.lo), qk_amdahl_bound(p.hi)};
    return r;
}

qk_interval qk_speedup_from_ratio(qk_interval ratio) {
    qk_interval r = {NAN, NAN, NAN};
    if (ratio.value > 0) r.value = 1.0 / ratio.value;
    if (ratio.hi > 0) r.lo = 1.0 / ratio.hi;
    if (ratio.lo > 0)
        r.hi = 1.0 / ratio.lo;
    else if (ratio.lo == 0)
        r.hi = INFINITY;
    return r;
}

const char *qk_amdahl_verdict_name(qk_amdahl_verdict v) {
    switch (v) {
    case QK_AMDAHL_AGREE:
        return "agree";
    case QK_AMDAHL_ABOVE:
        return "above";
    case QK_AMDAHL_BELOW:
        return "below";
    default:
        return "unknown";
    }
}

qk_amdahl_verdict qk_amdahl_verdict_line(qk_interval predicted, qk_interval achieved, double bound,
                                         char *line, size_t size) {
    char buf[1] = {0};
    if (!line || size == 0) line = buf, size = sizeof buf;
    if (!interval_ok(predicted) || !interval_ok(achieved)) {
        snprintf(line, size, "unknown: the predicted or the achieved speedup has no interval");
        return QK_AMDAHL_UNKNOWN;
    }
    char a[96], p[96];
    snprintf(a, sizeof a, "achieved %.3fx [%.3f, %.3f]", achieved.value, achieved.lo, achieved.hi);
    snprintf(p, sizeof p, "predicted %.3fx [%.3f, %.3f]", predicted.value, predicted.lo,
             predicted.hi);
    char over[96] = "";
    if (!isnan(bound) && achieved.lo > bound)
        snprintf(over, sizeof over, "; it even exceeds the bound 1/(1-p) = %.3fx", bound);
    if (achieved.lo > predicted.hi) {
        snprintf(line, size,
                 "above: %s exceeds the %s: work outside the measured part got faster too, or the "
                 "kernel gains more inside the model than alone%s",
                 a, p, over);
        return QK_AMDAHL_ABOVE;
    }
    if (achieved.hi < predicted.lo) {
        snprintf(line, size,
                 "below: %s falls short of the %s: the kernel's standalone gain does not fully "
                 "carry into the forward pass (memory-bound there, cache or threading effects, or "
                 "other work slowed down)",
                 a, p);
        return QK_AMDAHL_BELOW;
    }
    snprintf(line, size, "agree: %s overlaps the %s%s", a, p, over);
    return QK_AMDAHL_AGREE;
}

int qk_amdahl_step_shares(const qk_interval *t, int n, qk_interval *share) {
    if (n < 2 || n > 8) return -1;
    for (int i = 0; i < n - 1; i++) share[i] = qk_interval_point(NAN);
    const double total = t[0].value - t[n - 1].value;
    if (isnan(total) || total == 0) return -1;
    for (int i = 0; i < n - 1; i++) share[i].value = (t[i].value - t[i + 1].value) / total;
    for (int i = 0; i < n; i++)
        if (!interval_ok(t[i])) return 0; /* values only */
    if (t[0].lo - t[n - 1].hi <= 0 && t[0].hi - t[n - 1].lo >= 0) {
        for (int i = 0; i < n - 1; i++) share[i].lo = -INFINITY, share[i].hi = INFINITY;
        return 0;
    }
    for (int i = 0; i < n - 1; i++) share[i].lo = INFINITY, share[i].hi = -INFINITY;
    double x[8];
    for (unsigned corner = 0; corner < (1u << n); corner++) {
        for (int k = 0; k < n; k++) x[k] = (corner >> k) & 1 ? t[k].hi : t[k].lo;
        const double tot = x[0] - x[n - 1];
        for (int i = 0; i < n - 1; i++) {
            const double v = (x[i] - x[i + 1]) / tot;
            share[i].lo = fmin(share[i].lo, v);
            share[i].hi = fmax(share[i].hi, v);
        }
    }
    return 0;
}
