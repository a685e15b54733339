/* Reading results documents (qk_results_load's JSON) field by field, and formatting the figures of
 * the sections that read the documents directly (kernels beyond the story, the peer). */
#ifndef QK_REPORT_JSON_H
#define QK_REPORT_JSON_H

#include <jansson.h>
#include <stddef.h>

const char *qk_rj_str(json_t *o, const char *key); /* "" when absent */
double qk_rj_num(json_t *o, const char *key);      /* NAN when absent */
/* Counts (threads, tokens, rows, a group): read only when the value is an integer in
 * 0..QK_RJ_INT_MAX (1e300 or -1 would otherwise be cast to int: undefined behaviour); 0 when
 * absent, -1 when present but not such a count (the caller treats the record as malformed). */
#define QK_RJ_INT_MAX (1 << 24)
int qk_rj_int(json_t *o, const char *key);
/* A time in ms the report can use: finite, positive, at most QK_RJ_MAX_MS (a day). */
#define QK_RJ_MAX_MS 86400e3
int qk_rj_time_ok(double ms);
/* Makes every string in v (recursively) safe to write into a Markdown table: control characters
 * become spaces, '|' is escaped, '<' becomes &lt;. The report applies it to each document it loads,
 * so no string from a file (a cpu_model with a newline, say) can change the report's structure. */
void qk_rj_sanitize(json_t *v);
double qk_rj_ms(json_t *rec); /* a record's real_time in ms, whatever its unit */
/* The aggregate `agg` ("median", "ci_lo", "ci_hi") of configuration run_name, in ms; NAN if absent
 * or not a usable time. */
double qk_rj_agg_ms(json_t *doc, const char *run_name, const char *agg);
/* 1 if b is a median aggregate record the report can use: a valid time and counts (threads,
 * seq_len, group, rows, cols) that are counts. */
int qk_rj_is_median(json_t *b);
/* The usable median aggregate record of run_name, or NULL. */
json_t *qk_rj_median(json_t *doc, const char *run_name);
/* The paired comparison whose configuration is `name` (its baseline in "baseline"), or NULL (also
 * when its ratio is not positive and finite with an ordered interval). */
json_t *qk_rj_comparison(json_t *doc, const char *name);

/* A time or ratio with enough digits and no exponent. */
int qk_rj_fmt_num(char *buf, size_t size, double v);
/* "12.3 ms [11.9, 13.0]" (unit " ms"), "n/a" when m is not finite. */
void qk_rj_fmt_ci(char *buf, size_t size, double m, double lo, double hi, const char *unit);
/* "zero-copy/avx2" from "forward/zero-copy/avx2/t:2/...". */
void qk_rj_short_name(char *buf, size_t size, const char *name);

#endif
