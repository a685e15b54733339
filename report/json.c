/* Results-document helpers for the report: see report/json.h. */
#include "report/json.h"

#include "harness/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *qk_rj_str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

double qk_rj_num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int qk_rj_int(json_t *o, const char *key) {
    if (!json_object_get(o, key)) return 0;
    long long v; /* range-checked as a double before any conversion (harness/results.h) */
    return qk_results_get_int(o, key, 0, QK_RJ_INT_MAX, &v, NULL) ? -1 : (int)v;
}

int qk_rj_time_ok(double ms) {
    return isfinite(ms) && ms > 0 && ms <= QK_RJ_MAX_MS;
}

/* One string made safe for a Markdown table: control characters (a newline ends a table row) become
 * spaces, '|' (a cell boundary) is escaped, '<' (HTML) becomes &lt;. NULL when s needs nothing. */
static char *markdown_safe(const char *s) {
    size_t extra = 0, n = 0;
    int change = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        const int ctl = *p < 0x20 || *p == 0x7f;
        extra += *p == '|' ? 1 : *p == '<' ? 3 : 0;
        change |= ctl || *p == '|' || *p == '<';
    }
    if (!change) return NULL;
    char *out = malloc(n + extra + 1), *q = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *q++ = ' ';
        else if (*p == '|')
            *q++ = '\\', *q++ = '|';
        else if (*p == '<')
            memcpy(q, "&lt;", 4), q += 4;
        else
            *q++ = (char)*p;
    }
    *q = 0;
    return out;
}

void qk_rj_sanitize(json_t *v) {
    if (json_is_string(v)) {
        char *safe = markdown_safe(json_string_value(v));
        if (safe) json_string_set(v, safe);
        free(safe);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) qk_rj_sanitize(x);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) qk_rj_sanitize(x);
    }
}

double qk_rj_ms(json_t *rec) {
    const double v = qk_rj_num(rec, "real_time");
    const char *u = qk_rj_str(rec, "time_unit");
    if (!strcmp(u, "s")) return 1e3 * v;
    if (!strcmp(u, "us")) return 1e-3 * v;
    if (!strcmp(u, "ns")) return 1e-6 * v;
    return v;
}

/* The aggregate `agg` (median, ci_lo, ci_hi) of configuration run_name in doc, in ms (NAN if
 * absent). */
double qk_rj_agg_ms(json_t *doc, const char *run_name, const char *agg) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (!strcmp(qk_rj_str(b, "run_type"), "aggregate") &&
            !strcmp(qk_rj_str(b, "run_name"), run_name) &&
            !strcmp(qk_rj_str(b, "aggregate_name"), agg))
            return qk_rj_time_ok(qk_rj_ms(b)) ? qk_rj_ms(b) : NAN;
    }
    return NAN;
}

json_t *qk_rj_comparison(json_t *doc, const char *name) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "comparisons"), i, c) {
        if (strcmp(qk_rj_str(c, "name"), name)) continue;
        /* a ratio of two times: positive and finite, with an ordered interval */
        const double r = qk_rj_num(c, "ratio"), lo = qk_rj_num(c, "ci_lo"),
                     hi = qk_rj_num(c, "ci_hi");
        return r > 0 && isfinite(r) && lo > 0 && lo <= hi && isfinite(hi) ? c : NULL;
    }
    return NULL;
}

/* A time or ratio with enough digits and no exponent. */
int qk_rj_fmt_num(char *buf, size_t size, double v) {
    const double a = fabs(v);
    return snprintf(buf, size, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
}

/* "12.3 ms [11.9, 13.0]" */
void qk_rj_fmt_ci(char *buf, size_t size, double m, double lo, double hi, const char *unit) {
    if (!isfinite(m)) {
        snprintf(buf, size, "n/a");
        return;
    }
    char a[24], b[24], c[24];
    qk_rj_fmt_num(a, sizeof a, m);
    if (isfinite(lo) && isfinite(hi)) {
        qk_rj_fmt_num(b, sizeof b, lo);
        qk_rj_fmt_num(c, sizeof c, hi);
        snprintf(buf, size, "%s%s [%s, %s]", a, unit, b, c);
    } else {
        snprintf(buf, size, "%s%s", a, unit);
    }
}

/* Our configuration's short name: "zero-copy/avx2" from "forward/zero-copy/avx2/t:2/...". */
void qk_rj_short_name(char *buf, size_t size, const char *name) {
    const char *p = strchr(name, '/');
    p = p ? p + 1 : name;
    const char *t = strstr(p, "/t:");
    snprintf(buf, size, "%.*s", t ? (int)(t - p) : (int)strlen(p), p);
}

int qk_rj_is_median(json_t *b) {
    static const char *const counts[] = {"threads", "seq_len", "group", "rows", "cols"};
    if (strcmp(qk_rj_str(b, "run_type"), "aggregate") ||
        strcmp(qk_rj_str(b, "aggregate_name"), "median") || !qk_rj_time_ok(qk_rj_ms(b)))
        return 0;
    for (size_t k = 0; k < sizeof counts / sizeof *counts; k++)
        if (qk_rj_int(b, counts[k]) < 0) return 0;
    return 1;
}

json_t *qk_rj_median(json_t *doc, const char *run_name) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (!strcmp(qk_rj_str(b, "run_name"), run_name) && qk_rj_is_median(b)) return b;
    }
    return NULL;
}
