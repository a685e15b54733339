/* qk_sittings_merge: K single-sitting documents -> checks (same experiment, machine, build and
 * configurations) -> each configuration's repetitions per sitting -> the merged records, their
 * two-level aggregates and the comparisons recomputed from the raw repetitions. */
#include "harness/sittings_merge.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sittings.h"

typedef struct { /* one repetition as read */
    long long idx;
    const json_t *rec;
    double real, cpu; /* seconds */
} rep_in;

typedef struct {          /* one configuration in one sitting */
    const json_t *any;    /* its first record (the configuration's fields) */
    const json_t *median; /* its median aggregate */
    const json_t *skip;   /* its error record */
    rep_in *reps;         /* sorted by repetition index */
    double *real;         /* [n] seconds, in that order */
    int n, cap;
    int incomplete; /* its records say repetitions_incomplete */
} sit_cfg;

typedef struct {
    json_t *names; /* configuration name -> index, in order of first appearance */
    const char **name;
    int n_names;
    sit_cfg *cfg; /* [n_sittings][n_names] */
    int n_sittings;
    double *pooled_median; /* [n_names]: NAN when not measured */
    int *group_pos;        /* [n_names]: position within its group (the runner's seed offset) */
} merge_state;

/* Fields that say what a configuration is: equal in every sitting that has it. */
static const char *const cfg_fields[] = {"variant",   "isa",     "run",      "threads", "seq_len",
                                         "act_scale", "binding", "path",     "group",   "op",
                                         "rows",      "cols",    "peer_mode"};

/* Context fields that must agree between sittings, and what a difference means. */
static const struct {
    const char *key, *what;
} same_ctx[] = {
    {"cpu_model", "machine"}, {"host_name", "machine"}, {"json_schema_version", "build"},
    {"build_type", "build"},  {"sanitized", "build"},   {"git_commit", "build"},
    {"compiler", "build"},    {"c_flags", "build"},     {"qkbench_version", "build"},
    {"model", "experiment"}};
static const char *const same_exp[] = {"text", "quick", "repetitions", "warmups"};

static sit_cfg *at(merge_state *m, int j, int c) {
    return &m->cfg[(size_t)j * (size_t)m->n_names + (size_t)c];
}

static int is_peer(const json_t *rec) {
    const char *p = json_string_value(json_object_get(rec, "path"));
    return p && !strcmp(p, "llama.cpp");
}

static int is_int8(const json_t *rec) {
    const char *p = json_string_value(json_object_get(rec, "path"));
    return p && !strcmp(p, "int8");
}

/* A JSON value short enough for a message. */
static void show(const json_t *v, char *buf, size_t size) {
    if (!v) {
        snprintf(buf, size, "(absent)");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, size, "%.80s%s", s ? s : "?", s && strlen(s) > 80 ? "..." : "");
    free(s);
}

static int differ(const json_t *a, const json_t *b) {
    if (!a || !b) return a != b;
    return !json_equal((json_t *)a, (json_t *)b);
}

/* The sitting's context against the first one's. */
static int check_context(const qk_sitting_doc *s, int j, qk_error *err) {
    const json_t *c0 = json_object_get(s[0].doc, "context"),
                 *c = json_object_get(s[j].doc, "context");
    char a[100], b[100];
    for (size_t i = 0; i < sizeof same_ctx / sizeof *same_ctx; i++) {
        const json_t *v0 = json_object_get(c0, same_ctx[i].key),
                     *v = json_object_get(c, same_ctx[i].key);
        if (!differ(v0, v)) continue;
        show(v, a, sizeof a);
        show(v0, b, sizeof b);
        return qk_fail(err,
                       "sitting %d (%s) is not from the same %s as sitting 0 (%s): context.%s is "
                       "%s there, %s in sitting 0",
                       j, s[j].label, same_ctx[i].what, s[0].label, same_ctx[i].key, a, b);
    }
    const json_t *e0 = json_object_get(c0, "experiment"), *e = json_object_get(c, "experiment");
    for (size_t i = 0; i < sizeof same_exp / sizeof *same_exp; i++) {
        const json_t *v0 = json_object_get(e0, same_exp[i]), *v = json_object_get(e, same_exp[i]);
        if (!differ(v0, v)) continue;
        if (i == 0)
            return qk_fail(err,
                           "sitting %d (%s) is not from the same experiment as sitting 0 (%s): "
                           "context.experiment.text differs",
                           j, s[j].label, s[0].label);
        show(v, a, sizeof a);
        show(v0, b, sizeof b);
        return qk_fail(err,
                       "sitting %d (%s) is not from the same experiment as sitting 0 (%s): "
                       "context.experiment.%s is %s there, %s in sitting 0",
                       j, s[j].label, s[0].label, same_exp[i], a, b);
    }
    return 0;
}

/* The record's configuration name, and its index (added when new). */
static int name_index(merge_state *m, const json_t *rec, int add) {
    const char *name = json_string_value(json_object_get(rec, "run_name"));
    if (!name) name = json_string_value(json_object_get(rec, "name"));
    if (!name || !*name) return -2;
    const json_t *v = json_object_get(m->names, name);
    if (v) return (int)json_integer_value(v);
    if (!add) return -1;
    json_object_set_new(m->names, name, json_integer(m->n_names));
    return m->n_names++;
}

static int push_rep(sit_cfg *c, const rep_in *r) {
    if (c->n == c->cap) {
        const int cap = c->cap ? 2 * c->cap : 8;
        rep_in *p = realloc(c->reps, (size_t)cap * sizeof *p);
        if (!p) return -1;
        c->reps = p;
        c->cap = cap;
    }
    c->reps[c->n++] = *r;
    return 0;
}

static int cmp_rep(const void *a, const void *b) {
    const rep_in *x = a, *y = b;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sitting j's records into m->cfg[j][*]. */
static int read_sitting(merge_state *m, const qk_sitting_doc *s, int j, qk_error *err) {
    const json_t *bs = json_object_get(s[j].doc, "benchmarks");
    size_t i;
    const json_t *b;
    json_array_foreach(bs, i, b) {
        if (!json_is_object(b))
            return qk_fail(err, "%s: benchmarks[%zu] is not an object", s[j].label, i);
        const int c = name_index(m, b, 0);
        if (c < 0) return qk_fail(err, "%s: benchmarks[%zu] has no name", s[j].label, i);
        sit_cfg *sc = at(m, j, c);
        for (size_t f = 0; sc->any && f < sizeof cfg_fields / sizeof *cfg_fields; f++)
            if (differ(json_object_get(sc->any, cfg_fields[f]), json_object_get(b, cfg_fields[f])))
                return qk_fail(err, "%s: the records of %s disagree on '%s'", s[j].label,
                               m->name[c], cfg_fields[f]);
        if (!sc->any) sc->any = b;
        if (json_is_true(json_object_get(b, "repetitions_incomplete"))) sc->incomplete = 1;
        const char *type = json_string_value(json_object_get(b, "run_type"));
        if (json_is_true(json_object_get(b, "error_occurred"))) {
            if (!sc->skip) sc->skip = b;
            continue;
        }
        if (type && !strcmp(type, "aggregate")) {
            const char *agg = json_string_value(json_object_get(b, "aggregate_name"));
            if (agg && !strcmp(agg, "median") && !sc->median) sc->median = b;
            continue;
        }
        if (!type || strcmp(type, "iteration"))
            return qk_fail(err,
                           "%s: benchmarks[%zu] (%s): run_type is neither iteration nor aggregate",
                           s[j].label, i, m->name[c]);
        const char *unit = json_string_value(json_object_get(b, "time_unit"));
        if (!unit || strcmp(unit, "ms"))
            return qk_fail(err, "%s: benchmarks[%zu] (%s): time_unit is not \"ms\"", s[j].label, i,
                           m->name[c]);
        rep_in r = {0, b, 0, 0};
        double real, cpu;
        if (qk_results_get_int(b, "repetition_index", 0, INT_MAX / 2, &r.idx, err) ||
            qk_results_get_number(b, "real_time", 1e-9, 1e12, &real, err) ||
            qk_results_get_number(b, "cpu_time", -1e12, 1e12, &cpu, err))
            return qk_fail_prefix(err, "%s: benchmarks[%zu] (%s)", s[j].label, i, m->name[c]);
        r.real = real / 1e3;
        r.cpu = cpu / 1e3;
        if (push_rep(sc, &r)) return qk_fail(err, "out of memory");
    }
    for (int c = 0; c < m->n_names; c++) {
        sit_cfg *sc = at(m, j, c);
        if (!sc->n) continue;
        qsort(sc->reps, (size_t)sc->n, sizeof *sc->reps, cmp_rep);
        sc->real = malloc((size_t)sc->n * sizeof *sc->real);
        if (!sc->real) return qk_fail(err, "out of memory");
        for (int r = 0; r < sc->n; r++) {
            if (r && sc->reps[r].idx == sc->reps[r - 1].idx)
                return qk_fail(err, "%s: %s has repetition_index %lld twice", s[j].label,
                               m->name[c], sc->reps[r].idx);
            sc->real[r] = sc->reps[r].real;
        }
    }
    return 0;
}

/* Every configuration seen in any sitting, and the checks across sittings. */
static int read_all(merge_state *m, const qk_sitting_doc *s, int n, qk_error *err) {
    m->n_sittings = n;
    for (int j = 0; j < n; j++) {
        if (!json_is_object(s[j].doc) || !json_is_object(json_object_get(s[j].doc, "context")) ||
            !json_is_array(json_object_get(s[j].doc, "benchmarks")))
            return qk_fail(err, "%s: not a results document (context, benchmarks)", s[j].label);
        if (json_object_get(json_object_get(s[j].doc, "context"), "sittings"))
            return qk_fail(err,
                           "%s is already a merge of sittings (context.sittings): give the "
                           "single-sitting files",
                           s[j].label);
        if (j && check_context(s, j, err)) return -1;
        size_t i;
        const json_t *b;
        json_array_foreach(json_object_get(s[j].doc, "benchmarks"), i, b) {
            if (name_index(m, b, 1) == -2)
                return qk_fail(err, "%s: benchmarks[%zu] has no name", s[j].label, i);
        }
    }
    if (m->n_names == 0) return qk_fail(err, "%s: no configurations", s[0].label);
    m->name = calloc((size_t)m->n_names, sizeof *m->name);
    m->cfg = calloc((size_t)n * (size_t)m->n_names, sizeof *m->cfg);
    m->pooled_median = calloc((size_t)m->n_names, sizeof *m->pooled_median);
    m->group_pos = calloc((size_t)m->n_names, sizeof *m->group_pos);
    if (!m->name || !m->cfg || !m->pooled_median || !m->group_pos)
        return qk_fail(err, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(m->names, key, v) m->name[json_integer_value(v)] = key;
    for (int j = 0; j < n; j++)
        if (read_sitting(m, s, j, err)) return -1;
    /* a complete sitting has every configuration; all of them agree on what each one is */
    for (int c = 0; c < m->n_names; c++) {
        int first = -1;
        for (int j = 0; j < n; j++) {
            const sit_cfg *sc = at(m, j, c);
            if (!sc->any) {
                if (json_is_true(json_object_get(s[j].doc, "complete")))
                    return qk_fail(err,
                                   "sitting %d (%s) has no configuration %s, which another sitting "
                                   "has: the sittings' configurations differ",
                                   j, s[j].label, m->name[c]);
                continue;
            }
            if (first < 0) {
                first = j;
                continue;
            }
            const json_t *a = at(m, first, c)->any;
            for (size_t f = 0; f < sizeof cfg_fields / sizeof *cfg_fields; f++)
                if (differ(json_object_get(a, cfg_fields[f]),
                           json_object_get(sc->any, cfg_fields[f]))) {
                    char x[100], y[100];
                    show(json_object_get(sc->any, cfg_fields[f]), x, sizeof x);
                    show(json_object_get(a, cfg_fields[f]), y, sizeof y);
                    return qk_fail(
                        err,
                        "sitting %d (%s): configuration %s has %s = %s, %s in sitting %d: "
                        "the sittings' configurations differ",
                        j, s[j].label, m->name[c], cfg_fields[f], x, y, first);
                }
        }
    }
    /* the runner seeds each configuration's bootstrap with seed + its position in its group */
    json_t *seen = json_object();
    if (!seen) return qk_fail(err, "out of memory");
    for (int c = 0; c < m->n_names; c++) {
        const json_t *g = NULL;
        for (int j = 0; j < n && !g; j++)
            if (at(m, j, c)->any) g = json_object_get(at(m, j, c)->any, "group");
        char *key = g ? json_dumps(g, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        const char *k = key ? key : "(no group)";
        const json_t *v = json_object_get(seen, k);
        m->group_pos[c] = v ? (int)json_integer_value(v) : 0;
        json_object_set_new(seen, k, json_integer(m->group_pos[c] + 1));
        free(key);
    }
    json_decref(seen);
    return 0;
}

static void free_state(merge_state *m) {
    for (int k = 0; m->cfg && k < m->n_sittings * m->n_names; k++) {
        free(m->cfg[k].reps);
        free(m->cfg[k].real);
    }
    free(m->cfg);
    free(m->name);
    free(m->pooled_median);
    free(m->group_pos);
    json_decref(m->names);
}

/* The context: sitting 0's (without its own "sitting"), plus "sittings". */
static int merged_context(const qk_sitting_doc *s, int n, const qk_sittings_plan *plan,
                          qk_results *out) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(s[0].doc, "context"), key, v) {
        if (strcmp(key, "sitting") && qk_results_context_set(out, key, json_deep_copy(v)))
            return -1;
    }
    json_t *runs = json_array();
    for (int j = 0; j < n; j++) {
        const json_t *c = json_object_get(s[j].doc, "context");
        const json_t *date = json_object_get(c, "date");
        json_t *st = json_object_get(s[j].doc, "state");
        json_array_append_new(
            runs, json_pack("{s:i, s:O, s:o, s:b, s:O}", "index", j, "date",
                            json_is_string(date) ? (json_t *)date : json_null(), "elapsed_s",
                            isfinite(s[j].elapsed_s) ? json_real(s[j].elapsed_s) : json_null(),
                            "complete", json_is_true(json_object_get(s[j].doc, "complete")),
                            "state", json_is_string(st) ? st : json_null()));
    }
    return qk_results_context_set(out, "sittings",
                                  json_pack("{s:i, s:f, s:o}", "count", plan->count, "spacing_s",
                                            plan->spacing_s, "runs", runs));
}

/* A copy of rec without the fields the results writer sets itself. */
static json_t *extra_of(const json_t *rec) {
    json_t *x = json_deep_copy(rec);
    static const char *const drop[] = {"aggregate_name",
                                       "aggregate_unit",
                                       "repetitions",
                                       "repetition_index",
                                       "real_time",
                                       "cpu_time",
                                       "iterations",
                                       "noisy",
                                       "family_index",
                                       "name",
                                       "run_name",
                                       "run_type",
                                       "per_family_instance_index"};
    for (size_t i = 0; x && i < sizeof drop / sizeof *drop; i++) json_object_del(x, drop[i]);
    return x;
}

static double number_or_nan(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *jnum(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

/* Configuration c: its pooled records, or its reason for not being measured. */
static int merge_config(merge_state *m, const qk_sittings_plan *plan, int c, qk_results *out,
                        qk_sittings_row *row, qk_error *err) {
    const int n = m->n_sittings;
    qk_sitting v[QK_SITTINGS_MAX];
    int k = 0, total = 0, first = -1, incomplete = 0;
    for (int j = 0; j < n; j++) {
        sit_cfg *sc = at(m, j, c);
        if (!sc->n) continue;
        if (first < 0) first = j;
        v[k++] = (qk_sitting){sc->real, sc->n};
        total += sc->n;
        incomplete |= sc->incomplete;
    }
    m->pooled_median[c] = NAN;
    if (row) {
        memset(row, 0, sizeof *row);
        snprintf(row->name, sizeof row->name, "%s", m->name[c]);
    }
    if (k == 0) { /* skipped, failed or not reached in every sitting: the first reason */
        const json_t *rec = NULL;
        for (int j = 0; j < n && !rec; j++) rec = at(m, j, c)->skip;
        const char *why = json_string_value(json_object_get(rec, "error_message"));
        if (!why) why = "not measured: no sitting reached it";
        json_t *x = rec ? extra_of(rec) : NULL;
        if (x) {
            json_object_del(x, "error_occurred");
            json_object_del(x, "error_message");
        }
        const int rc = qk_results_add_skipped(out, m->name[c], why, x);
        json_decref(x);
        if (row) snprintf(row->reason, sizeof row->reason, "%s", why);
        return rc ? qk_fail(err, "out of memory") : 0;
    }
    const uint64_t seed = plan->seed + (uint64_t)m->group_pos[c];
    qk_sittings_stats st;
    if (qk_sittings_stats_compute(v, k, seed, &st))
        return qk_fail(err, "%s: its times cannot be summarised (out of memory)", m->name[c]);
    m->pooled_median[c] = st.pooled.median;
    int idx = 0;
    for (int j = 0; j < n; j++) {
        const sit_cfg *sc = at(m, j, c);
        for (int r = 0; r < sc->n; r++) {
            json_t *x = extra_of(sc->reps[r].rec);
            if (!x) return qk_fail(err, "out of memory");
            json_object_set_new(x, "sitting", json_integer(j));
            json_object_set_new(x, "sitting_repetition_index", json_integer(sc->reps[r].idx));
            const int rc = qk_results_add_repetition(out, m->name[c], idx++, total,
                                                     sc->reps[r].real, sc->reps[r].cpu, x);
            json_decref(x);
            if (rc) return qk_fail(err, "out of memory");
        }
    }
    /* the other fields from the first sitting that measured it; rates from the pooled median */
    const sit_cfg *f = at(m, first, c);
    json_t *x = extra_of(f->median ? f->median : f->reps[0].rec);
    if (!x) return qk_fail(err, "out of memory");
    json_object_del(x, "sitting");
    json_object_del(x, "sitting_repetition_index");
    json_object_del(x, "repetitions_incomplete");
    if (incomplete) json_object_set_new(x, "repetitions_incomplete", json_true());
    const double macs = number_or_nan(x, "macs_per_pass"),
                 bytes = number_or_nan(x, "weight_bytes_per_pass");
    if (isfinite(macs)) json_object_set_new(x, "gops", jnum(2.0 * macs / st.pooled.median / 1e9));
    if (isfinite(bytes))
        json_object_set_new(x, "weight_gbps", jnum(bytes / st.pooled.median / 1e9));
    const size_t before = json_array_size(qk_results_benchmarks(out));
    const int rc = qk_results_add_aggregates(out, m->name[c], &st.pooled, x);
    json_decref(x);
    if (rc) return qk_fail(err, "out of memory");
    /* the median aggregate (the first of the seven) gets the sittings' spread */
    json_t *med = json_array_get(qk_results_benchmarks(out), before);
    json_t *meds = json_array();
    for (int j = 0; j < n; j++) {
        const sit_cfg *sc = at(m, j, c);
        qk_stats own;
        if (sc->n && qk_stats_compute(sc->real, sc->n, seed, &own) == 0)
            json_array_append_new(meds, json_real(1e3 * own.median));
        else
            json_array_append_new(meds, json_null()); /* not measured in that sitting */
    }
    json_object_set_new(med, "sittings", json_integer(k));
    json_object_set_new(med, "sitting_medians", meds);
    json_object_set_new(med, "stable", json_boolean(st.stable));
    json_object_set_new(med, "unstable_sittings", json_integer(st.unstable_sittings));
    if (row) {
        row->measured = 1;
        row->peer = is_peer(f->any);
        row->sittings = k;
        row->reps = total;
        row->median_s = st.pooled.median;
        row->ci_lo_s = st.pooled.ci_lo;
        row->ci_hi_s = st.pooled.ci_hi;
        row->cv = st.pooled.cv;
        row->sitting_min_s = st.sitting_median_min;
        row->sitting_max_s = st.sitting_median_max;
        row->stable = st.stable;
        row->unstable_sittings = st.unstable_sittings;
        row->noisy = qk_is_noisy(&st.pooled, plan->noisy_cv > 0 ? plan->noisy_cv : 0.05);
    }
    return 0;
}

/* a / b paired within the rounds of each sitting that measured both. 1 when no sitting did. */
static int merge_comparison(merge_state *m, const qk_sittings_plan *plan, int a, int b,
                            qk_results *out, qk_sittings_cmp_row *row, qk_error *err) {
    qk_sitting num[QK_SITTINGS_MAX], den[QK_SITTINGS_MAX];
    int k = 0, idx[QK_SITTINGS_MAX];
    for (int j = 0; j < m->n_sittings; j++) {
        const sit_cfg *x = at(m, j, a), *y = at(m, j, b);
        /* the same round: the first min(n_a, n_b) repetitions of each, by index */
        const int p = x->n < y->n ? x->n : y->n;
        if (p < 1) continue;
        num[k] = (qk_sitting){x->real, p};
        den[k] = (qk_sitting){y->real, p};
        idx[k++] = j;
    }
    if (k == 0) return 1;
    qk_sittings_stats st;
    if (qk_sittings_ratio_compute(num, den, k, plan->seed, &st))
        return qk_fail(err, "%s / %s: the ratio cannot be computed", m->name[a], m->name[b]);
    if (qk_results_add_comparison(out, m->name[a], m->name[b], &st.pooled))
        return qk_fail(err, "out of memory");
    json_t *rec = json_array_get(qk_results_comparisons(out),
                                 json_array_size(qk_results_comparisons(out)) - 1);
    json_t *per = json_array();
    for (int i = 0; i < k; i++) { /* each sitting's own interval, seeded as the stability mark's */
        qk_stats own;
        if (qk_ratio_compute(num[i].x, den[i].x, num[i].n, plan->seed + (uint64_t)i, &own))
            return qk_fail(err, "%s / %s: the ratio cannot be computed", m->name[a], m->name[b]);
        json_array_append_new(per, json_pack("{s:i, s:o, s:o, s:o}", "sitting", idx[i], "ratio",
                                             jnum(own.median), "ci_lo", jnum(own.ci_lo), "ci_hi",
                                             jnum(own.ci_hi)));
    }
    json_object_set_new(rec, "sittings", json_integer(k));
    json_object_set_new(rec, "sitting_ratios", per);
    json_object_set_new(rec, "sitting_ratio_min", jnum(st.sitting_median_min));
    json_object_set_new(rec, "sitting_ratio_max", jnum(st.sitting_median_max));
    json_object_set_new(rec, "stable", json_boolean(st.stable));
    json_object_set_new(rec, "unstable_sittings", json_integer(st.unstable_sittings));
    if (row) {
        memset(row, 0, sizeof *row);
        snprintf(row->name, sizeof row->name, "%s", m->name[a]);
        snprintf(row->baseline, sizeof row->baseline, "%s", m->name[b]);
        row->sittings = k;
        row->reps = st.pooled.n;
        row->ratio = st.pooled.median;
        row->ci_lo = st.pooled.ci_lo;
        row->ci_hi = st.pooled.ci_hi;
        row->sitting_min = st.sitting_median_min;
        row->sitting_max = st.sitting_median_max;
        row->stable = st.stable;
        row->unstable_sittings = st.unstable_sittings;
    }
    return 0;
}

/* Any of the configuration's records (the first sitting that has one). */
static const json_t *any_record(merge_state *m, int c) {
    for (int j = 0; j < m->n_sittings; j++)
        if (at(m, j, c)->any) return at(m, j, c)->any;
    return NULL;
}

typedef struct {
    int a, b, order;
} pair;

static int cmp_pair(const void *x, const void *y) {
    const pair *p = x, *q = y;
    if (p->a != q->a) return (p->a > q->a) - (p->a < q->a);
    return (p->order > q->order) - (p->order < q->order);
}

/* The pairs to compare: our own, as the sittings recorded them (name, baseline), once each; each
 * peer configuration against our fastest int8 kernel of its group by pooled median. In the order
 * of the configurations. */
static int merge_comparisons(merge_state *m, const qk_sitting_doc *s, const qk_sittings_plan *plan,
                             qk_results *out, qk_sittings_summary *sum, qk_error *err) {
    size_t cap = 0, np = 0;
    for (int j = 0; j < m->n_sittings; j++)
        cap += json_array_size(json_object_get(s[j].doc, "comparisons"));
    pair *pairs = malloc((cap + (size_t)m->n_names + 1) * sizeof *pairs);
    json_t *seen = json_object();
    if (!pairs || !seen) {
        free(pairs);
        json_decref(seen);
        return qk_fail(err, "out of memory");
    }
    for (int j = 0; j < m->n_sittings; j++) {
        size_t i;
        const json_t *cmp;
        json_array_foreach(json_object_get(s[j].doc, "comparisons"), i, cmp) {
            const json_t *ai =
                json_object_get(m->names, json_string_value(json_object_get(cmp, "name")));
            const json_t *bi =
                json_object_get(m->names, json_string_value(json_object_get(cmp, "baseline")));
            if (!ai || !bi) continue;
            const int a = (int)json_integer_value(ai), b = (int)json_integer_value(bi);
            if (a == b || is_peer(any_record(m, a)) || is_peer(any_record(m, b))) continue;
            char key[48];
            snprintf(key, sizeof key, "%d/%d", a, b);
            if (json_object_get(seen, key)) continue;
            json_object_set_new(seen, key, json_true());
            pairs[np] = (pair){a, b, (int)np};
            np++;
        }
    }
    json_decref(seen);
    /* a peer's baseline: the group's int8 configurations, fastest by pooled median */
    json_t *fastest = json_object(); /* group (JSON text) -> configuration index */
    for (int d = 0; fastest && d < m->n_names; d++) {
        const json_t *o = any_record(m, d);
        if (is_peer(o) || !is_int8(o) || !isfinite(m->pooled_median[d])) continue;
        char *g = json_dumps(json_object_get(o, "group"), JSON_COMPACT | JSON_ENCODE_ANY);
        const char *k = g ? g : "(no group)";
        const json_t *v = json_object_get(fastest, k);
        if (!v || m->pooled_median[d] < m->pooled_median[json_integer_value(v)])
            json_object_set_new(fastest, k, json_integer(d));
        free(g);
    }
    for (int c = 0; fastest && c < m->n_names; c++) {
        const json_t *rec = any_record(m, c);
        if (!is_peer(rec) || !isfinite(m->pooled_median[c])) continue;
        char *g = json_dumps(json_object_get(rec, "group"), JSON_COMPACT | JSON_ENCODE_ANY);
        const json_t *v = json_object_get(fastest, g ? g : "(no group)");
        free(g);
        if (v) pairs[np] = (pair){c, (int)json_integer_value(v), (int)np}, np++;
    }
    json_decref(fastest);
    qsort(pairs, np, sizeof *pairs, cmp_pair);
    int rc = 0;
    for (size_t q = 0; q < np && !rc; q++) {
        qk_sittings_cmp_row row;
        const int r =
            merge_comparison(m, plan, pairs[q].a, pairs[q].b, out, sum ? &row : NULL, err);
        if (r < 0) rc = -1;
        if (r == 0 && sum) {
            qk_sittings_cmp_row *p = realloc(sum->cmps, (size_t)(sum->n_cmps + 1) * sizeof *p);
            if (!p) {
                rc = qk_fail(err, "out of memory");
                break;
            }
            sum->cmps = p;
            sum->cmps[sum->n_cmps++] = row;
        }
    }
    free(pairs);
    return rc;
}

int qk_sittings_merge(const qk_sitting_doc *s, int n, const qk_sittings_plan *plan, qk_results *out,
                      qk_sittings_summary *sum, qk_error *err) {
    if (sum) memset(sum, 0, sizeof *sum);
    if (!s || !plan || !out || n < 1 || n > QK_SITTINGS_MAX)
        return qk_fail(err, "merging sittings: %d sittings given, 1..%d expected", n,
                       QK_SITTINGS_MAX);
    merge_state m = {0};
    m.names = json_object();
    if (!m.names) return qk_fail(err, "out of memory");
    int rc = read_all(&m, s, n, err);
    if (rc == 0 && merged_context(s, n, plan, out)) rc = qk_fail(err, "out of memory");
    qk_results_set_noisy_cv(out, plan->noisy_cv > 0 ? plan->noisy_cv : 0.05);
    if (rc == 0 && sum) {
        sum->rows = calloc((size_t)m.n_names, sizeof *sum->rows);
        if (!sum->rows)
            rc = qk_fail(err, "out of memory");
        else
            sum->n_rows = m.n_names;
    }
    for (int c = 0; rc == 0 && c < m.n_names; c++)
        rc = merge_config(&m, plan, c, out, sum ? &sum->rows[c] : NULL, err);
    if (rc == 0) rc = merge_comparisons(&m, s, plan, out, sum, err);
    if (rc == 0 && sum) {
        sum->complete = n == plan->count;
        for (int j = 0; j < n; j++)
            sum->complete &= json_is_true(json_object_get(s[j].doc, "complete"));
    }
    free_state(&m);
    if (rc && sum) qk_sittings_summary_free(sum);
    return rc;
}

void qk_sittings_summary_free(qk_sittings_summary *sum) {
    if (!sum) return;
    free(sum->rows);
    free(sum->cmps);
    memset(sum, 0, sizeof *sum);
}
