/* Two results files side by side: see report/compare.h. */
#include "report/compare.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/measure.h"
#include "harness/rank_test.h"
#include "harness/results.h"
#include "harness/sittings.h"

/* The bootstrap's seed: the same files always give the same intervals. */
#define SEED 0x5eedull

/* Per-repetition real times (ms) of one benchmark name. */
typedef struct {
    const char *name; /* borrowed from the loaded document */
    double *t;
    int *sitting; /* the sitting of each repetition ("sitting" in the record; 0 when absent) */
    int n, cap;
} series;

typedef struct {
    json_t *doc;
    series *s;
    int n;
} run_times;

struct qk_compare_data {
    run_times rt[2];
};

static double to_ms(double v, const char *unit) {
    if (!unit || !strcmp(unit, "ms")) return v;
    if (!strcmp(unit, "ns")) return v * 1e-6;
    if (!strcmp(unit, "us")) return v * 1e-3;
    if (!strcmp(unit, "s")) return v * 1e3;
    return NAN;
}

static series *find_series(const run_times *rt, const char *name) {
    for (int i = 0; i < rt->n; i++)
        if (!strcmp(rt->s[i].name, name)) return &rt->s[i];
    return NULL;
}

/* Groups the per-repetition records by name; -1 with err set on a malformed record. */
static int collect(const char *path, run_times *rt, qk_error *err) {
    json_t *benchmarks = json_object_get(rt->doc, "benchmarks");
    size_t nb = json_array_size(benchmarks), i;
    rt->s = calloc(nb + 1, sizeof *rt->s);
    if (!rt->s) return qk_fail(err, "out of memory");
    json_t *b;
    json_array_foreach(benchmarks, i, b) {
        const char *type = json_string_value(json_object_get(b, "run_type"));
        const char *name = json_string_value(json_object_get(b, "name"));
        if (!type || strcmp(type, "iteration") ||
            json_is_true(json_object_get(b, "error_occurred")))
            continue;
        json_t *rt_v = json_object_get(b, "real_time");
        double ms =
            to_ms(json_number_value(rt_v), json_string_value(json_object_get(b, "time_unit")));
        if (!name || !json_is_number(rt_v) || !isfinite(ms))
            return qk_fail(err, "%s: benchmarks[%zu]: no name, real_time or known time_unit", path,
                           i);
        if (!(ms > 0 && ms <= QK_COMPARE_MAX_MS)) /* else a negative ratio or a NaN geomean */
            return qk_fail(err,
                           "%s: benchmarks[%zu] (%s): real_time %g ms is not a positive time "
                           "under a day",
                           path, i, name, ms);
        series *s = find_series(rt, name);
        if (!s) {
            s = &rt->s[rt->n++];
            s->name = name;
        }
        json_t *sit = json_object_get(b, "sitting");
        const json_int_t si = json_is_integer(sit) ? json_integer_value(sit) : 0;
        if (sit && (!json_is_integer(sit) || si < 0 || si >= QK_SITTINGS_MAX))
            return qk_fail(err, "%s: benchmarks[%zu]: sitting is not an integer in 0..%d", path, i,
                           QK_SITTINGS_MAX - 1);
        if (s->n == s->cap) {
            int cap = s->cap ? 2 * s->cap : 16;
            double *t = realloc(s->t, sizeof(double) * (size_t)cap);
            if (t) s->t = t;
            int *st = t ? realloc(s->sitting, sizeof(int) * (size_t)cap) : NULL;
            if (!t || !st) return qk_fail(err, "out of memory");
            s->sitting = st, s->cap = cap;
        }
        s->sitting[s->n] = (int)si;
        s->t[s->n++] = ms;
    }
    return 0;
}

/* What the command shows of a file: its context, and its names for the table's width. */
static int describe(const char *path, const run_times *rt, qk_compare_file *f, qk_error *err) {
    json_t *c = json_object_get(rt->doc, "context");
    f->path = path;
    f->host = json_string_value(json_object_get(c, "host_name"));
    f->cpu = json_string_value(json_object_get(c, "cpu_model"));
    f->date = json_string_value(json_object_get(c, "date"));
    f->commit = json_string_value(json_object_get(c, "git_commit"));
    f->incomplete = json_is_false(json_object_get(rt->doc, "complete"));
    f->names = calloc((size_t)rt->n + 1, sizeof *f->names);
    if (!f->names) return qk_fail(err, "out of memory");
    for (int i = 0; i < rt->n; i++) f->names[i] = rt->s[i].name;
    f->n_names = rt->n;
    return 0;
}

/* The medians of s's sittings, in med[0..QK_SITTINGS_MAX); returns how many sittings have
 * repetitions. */
static int sitting_medians(const series *s, double *med) {
    int k = 0;
    double *x = malloc(sizeof(double) * (size_t)s->n);
    if (!x) return -1;
    for (int j = 0; j < QK_SITTINGS_MAX; j++) {
        int n = 0;
        for (int i = 0; i < s->n; i++)
            if (s->sitting[i] == j) x[n++] = s->t[i];
        qk_stats st;
        if (n && qk_stats_compute(x, n, SEED, &st) == 0) med[k++] = st.median;
    }
    free(x);
    return k;
}

/* Beyond the noise: the U test over the sittings' medians when both sides have two or more
 * sittings (repetitions of one sitting share its machine state), else over the repetitions. */
static int rank_verdict(const series *a, const series *b, qk_compare_row *row, qk_error *err) {
    double ma[QK_SITTINGS_MAX], mb[QK_SITTINGS_MAX];
    const int ka = sitting_medians(a, ma), kb = sitting_medians(b, mb);
    if (ka < 0 || kb < 0) return qk_fail(err, "out of memory");
    row->sittings_a = ka, row->sittings_b = kb;
    row->rank_over_sittings = ka >= 2 && kb >= 2;
    const int rc = row->rank_over_sittings ? qk_mann_whitney(mb, kb, ma, ka, &row->rank)
                                           : qk_mann_whitney(b->t, b->n, a->t, a->n, &row->rank);
    if (rc) return qk_fail(err, "%s: unusable times for the rank test", a->name);
    row->too_few = row->rank.p_floor > QK_COMPARE_ALPHA;
    row->differs = row->rank.p < QK_COMPARE_ALPHA;
    return 0;
}

/* The row of one name: each side's statistics, then the ratio, paired when it can be. */
static int compare_row(const series *a, const series *b, qk_compare_row *row, qk_error *err) {
    memset(row, 0, sizeof *row);
    row->name = a->name;
    row->a = a->t, row->n_a = a->n;
    row->b = b->t, row->n_b = b->n;
    if (qk_stats_compute(a->t, a->n, SEED, &row->stats_a) ||
        qk_stats_compute(b->t, b->n, SEED, &row->stats_b))
        return qk_fail(err, "%s: unusable times", a->name);
    qk_stats ratio;
    row->paired = a->n == b->n;
    if (row->paired && qk_ratio_compute(b->t, a->t, a->n, SEED, &ratio) == 0) {
        row->ratio = ratio.median, row->lo = ratio.ci_lo, row->hi = ratio.ci_hi;
    } else if (qk_ratio_unpaired(b->t, b->n, a->t, a->n, SEED, &row->ratio, &row->lo, &row->hi) ==
               0) {
        row->paired = 0;
    } else {
        return qk_fail(err, "%s: a time is zero or negative", a->name);
    }
    row->significant = row->lo > 1 || row->hi < 1;
    row->noisy = qk_is_noisy(&row->stats_a, 0.05) || qk_is_noisy(&row->stats_b, 0.05);
    return rank_verdict(a, b, row, err);
}

int qk_compare_files(const char *path_a, const char *path_b,
                     int (*select)(const char *name, void *arg), void *arg, qk_compare_result *out,
                     qk_error *err) {
    memset(out, 0, sizeof *out);
    out->geomean = NAN;
    struct qk_compare_data *d = calloc(1, sizeof *d);
    if (!d) return qk_fail(err, "out of memory");
    out->data = d;
    const char *paths[2] = {path_a, path_b};
    for (int k = 0; k < 2; k++) {
        if (qk_results_load(paths[k], &d->rt[k].doc, err)) return -1;
        if (collect(paths[k], &d->rt[k], err)) return -1;
    }
    for (int k = 0; k < 2; k++)
        if (describe(paths[k], &d->rt[k], &out->file[k], err)) return -1;
    /* a sanitized build against a release build is no comparison: refused; two CPUs may be the
     * question asked: said */
    if (qk_results_comparable(d->rt[0].doc, path_a, d->rt[1].doc, path_b, QK_RESULTS_SAME_BUILD,
                              err))
        return -1;
    qk_error cpu;
    if (qk_results_comparable(d->rt[0].doc, "A", d->rt[1].doc, "B", QK_RESULTS_SAME_CPU, &cpu))
        snprintf(out->cpu_note, sizeof out->cpu_note, "%s", cpu.msg);
    out->loaded = 1;
    out->rows = calloc((size_t)d->rt[0].n + 1, sizeof *out->rows);
    if (!out->rows) return qk_fail(err, "out of memory");
    double log_sum = 0;
    for (int i = 0; i < d->rt[0].n; i++) {
        const series *a = &d->rt[0].s[i], *b = find_series(&d->rt[1], a->name);
        if (select && !select(a->name, arg)) continue;
        if (!b) {
            out->only_a++;
            continue;
        }
        qk_compare_row *row = &out->rows[out->n_rows];
        if (compare_row(a, b, row, err)) return -1;
        out->n_significant += row->significant;
        out->n_differ += row->differs;
        log_sum += log(row->ratio);
        out->n_rows++;
    }
    for (int i = 0; i < d->rt[1].n; i++)
        if (!find_series(&d->rt[0], d->rt[1].s[i].name) &&
            (!select || select(d->rt[1].s[i].name, arg)))
            out->only_b++;
    if (out->n_rows) out->geomean = exp(log_sum / out->n_rows);
    return 0;
}

void qk_compare_free(qk_compare_result *r) {
    if (!r) return;
    struct qk_compare_data *d = r->data;
    for (int k = 0; d && k < 2; k++) {
        for (int i = 0; i < d->rt[k].n; i++) free(d->rt[k].s[i].t), free(d->rt[k].s[i].sitting);
        free(d->rt[k].s);
        json_decref(d->rt[k].doc);
    }
    free(d);
    for (int k = 0; k < 2; k++) free(r->file[k].names);
    free(r->rows);
    memset(r, 0, sizeof *r);
}
