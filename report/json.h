/* Reading results documents (qk_results_load's JSON) field by field, and formatting the figures of
 * the sections that read the documents directly (kernels beyond the story, the peer). */
#ifndef QK_REPORT_JSON_H
#define QK_REPORT_JSON_H

#include <jansson.h>
#include <stddef.h>

const char *qk_rj_str(json_t *o, const char *key); /* "" when absent */
double qk_rj_num(json_t *o, const char *key);      /* NAN when absent */
int qk_rj_int(json_t *o, const char *key);         /* a number cast to int; 0 when absent */
double qk_rj_ms(json_t *rec); /* a record's real_time in ms, whatever its unit */
/* The aggregate `agg` ("median", "ci_lo", "ci_hi") of configuration run_name, in ms; NAN if absent.
 */
double qk_rj_agg_ms(json_t *doc, const char *run_name, const char *agg);
/* The median aggregate record of run_name, or NULL. */
json_t *qk_rj_median(json_t *doc, const char *run_name);
/* The paired comparison whose configuration is `name` (its baseline in "baseline"), or NULL. */
json_t *qk_rj_comparison(json_t *doc, const char *name);

/* A time or ratio with enough digits and no exponent. */
int qk_rj_fmt_num(char *buf, size_t size, double v);
/* "12.3 ms [11.9, 13.0]" (unit " ms"), "n/a" when m is not finite. */
void qk_rj_fmt_ci(char *buf, size_t size, double m, double lo, double hi, const char *unit);
/* "zero-copy/avx2" from "forward/zero-copy/avx2/t:2/...". */
void qk_rj_short_name(char *buf, size_t size, const char *name);

#endif
