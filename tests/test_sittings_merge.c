/* qk_sittings_merge over single-sitting documents built here (written and loaded as the runner's
 * files are): the pooled median and its two-level interval are qk_sittings_stats_compute's of the
 * same repetitions, every repetition keeps its sitting and index within it and is renumbered over
 * the file, comparisons are qk_sittings_ratio_compute's (the peer's against our fastest int8
 * kernel by pooled median), the stable flag follows the sittings; one sitting gives its own file's
 * figures; sittings of another machine, build, experiment or configuration set are refused with a
 * message naming the difference. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/measure.h"
#include "harness/results.h"
#include "harness/sittings.h"
#include "harness/sittings_merge.h"

#define SEED 42u
#define REPS 5
#define A    "forward/zero-copy/avx2/t:1/seq:4/act:token/bind:compact"
#define B    "forward/precached-scales/avx2/t:1/seq:4/act:token/bind:compact"
#define P    "forward/llama.cpp/peer/t:1/seq:4/bind:compact"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-sitmerge-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
    rmdir(dir);
}

TestSuite(sittings_merge, .init = setup, .fini = teardown, .timeout = 60);

/* The times (seconds) of configuration c (0 A, 1 B, 2 the peer) in sitting j, repetition r:
 * sitting j shifts everything by `shift` x j, so the sittings differ more than the repetitions. */
static double t_of(int c, int j, int r, double shift) {
    static const double base[3] = {1.0e-3, 0.8e-3, 1.5e-3};
    const double wiggle = 1e-6 * (double)((r * 37 + c * 11 + j * 5) % 17);
    /* in sitting 0, A is the faster of ours; in the others B is, by more */
    const double swap = c == 1 && j == 0 ? 0.3e-3 : 0;
    return base[c] * (1 + shift * j) + wiggle + swap;
}

typedef struct {
    const char *host, *text, *build;
    int drop_b; /* leave configuration B out */
    int threads_b;
    double shift;
} doc_spec;

static json_t *fields(int c, int threads) {
    const char *variant = c == 0 ? "zero-copy" : c == 1 ? "precached-scales" : "llama.cpp";
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s}", "variant", variant, "isa",
                     c == 2 ? "peer" : "avx2", "path", c == 2 ? "llama.cpp" : "int8", "group", 0,
                     "threads", threads, "seq_len", 4, "binding", "compact");
}

/* A single-sitting results document, as sitting j: written to DIR/sJ.json, loaded back. */
static json_t *make_doc(int j, const doc_spec *sp) {
    qk_results *r = qk_results_new();
    cr_assert(r);
    cr_assert_eq(qk_results_capture_environment(r), 0);
    qk_results_context_set(r, "experiment",
                           json_pack("{s:s, s:s, s:b, s:i, s:i}", "name", "t", "text",
                                     sp->text ? sp->text : "[experiment]\nname = t\n", "quick", 0,
                                     "repetitions", REPS, "warmups", 0));
    qk_results_context_set(r, "sitting", json_pack("{s:i, s:i}", "index", j, "count", 3));
    if (sp->host) qk_results_context_set(r, "host_name", json_string(sp->host));
    if (sp->build) qk_results_context_set(r, "build_type", json_string(sp->build));
    const char *names[3] = {A, B, P};
    double t[3][REPS];
    qk_stats st[3];
    for (int c = 0; c < 3; c++) {
        if (c == 1 && sp->drop_b) continue;
        json_t *x = fields(c, c == 1 && sp->threads_b ? sp->threads_b : 1);
        json_object_set_new(x, "repetitions_planned", json_integer(REPS));
        for (int rep = 0; rep < REPS; rep++) {
            t[c][rep] = t_of(c, j, rep, sp->shift);
            cr_assert_eq(
                qk_results_add_repetition(r, names[c], rep, REPS, t[c][rep], t[c][rep] * 0.9, x),
                0);
        }
        cr_assert_eq(qk_stats_compute(t[c], REPS, SEED + (uint64_t)c, &st[c]), 0);
        json_object_set_new(x, "macs_per_pass", json_real(1e6));
        cr_assert_eq(qk_results_add_aggregates(r, names[c], &st[c], x), 0);
        json_decref(x);
    }
    qk_stats ratio;
    if (!sp->drop_b) {
        cr_assert_eq(qk_ratio_compute(t[1], t[0], REPS, SEED, &ratio), 0);
        qk_results_add_comparison(r, B, A, &ratio);
    }
    const int best = !sp->drop_b && st[1].median < st[0].median ? 1 : 0;
    cr_assert_eq(qk_ratio_compute(t[2], t[best], REPS, SEED, &ratio), 0);
    qk_results_add_comparison(r, P, names[best], &ratio);
    char name[32], path[128];
    snprintf(name, sizeof name, "s%d-%p", j, (const void *)sp);
    qk_error err;
    cr_assert_eq(qk_results_write(r, dir, name, 1, 1, &err), 0, "%s", err.msg);
    qk_results_free(r);
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    json_t *doc;
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s", err.msg);
    return doc;
}

static const json_t *record(const json_t *doc, const char *name) {
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (!strcmp(json_string_value(json_object_get(b, "name")), name)) return b;
    }
    return NULL;
}

static const json_t *comparison(const json_t *doc, const char *name) {
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "comparisons"), i, c) {
        if (!strcmp(json_string_value(json_object_get(c, "name")), name)) return c;
    }
    return NULL;
}

static double num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "no number '%s'", key);
    return json_number_value(v);
}

/* The files hold 12 significant digits. */
static void expect_close(double got, double want, const char *what) {
    cr_expect(fabs(got - want) <= 1e-10 * fabs(want), "%s: %.15g, expected %.15g", what, got, want);
}

/* Merges docs[0..n) into a document written and loaded back. */
static json_t *merge(json_t **docs, int n, int count, qk_error *err, int *rc) {
    qk_sitting_doc s[8];
    for (int j = 0; j < n; j++) s[j] = (qk_sitting_doc){docs[j], "sitting", 1.5 + j};
    qk_sittings_plan plan = {count, 0, SEED, 0.05};
    qk_results *out = qk_results_new();
    *rc = qk_sittings_merge(s, n, &plan, out, NULL, err);
    json_t *doc = NULL;
    if (*rc == 0) {
        cr_assert_eq(qk_results_write(out, dir, "merged", 1, 1, err), 0, "%s", err->msg);
        char path[128];
        snprintf(path, sizeof path, "%s/merged.json", dir);
        cr_assert_eq(qk_results_load(path, &doc, err), 0, "%s", err->msg);
    }
    qk_results_free(out);
    return doc;
}

Test(sittings_merge, pooled_median_interval_and_repetitions_are_the_two_level_ones) {
    doc_spec sp = {.shift = 0.05};
    json_t *docs[3];
    for (int j = 0; j < 3; j++) docs[j] = make_doc(j, &sp);
    qk_error err;
    int rc;
    json_t *m = merge(docs, 3, 3, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    const json_t *sit = json_object_get(json_object_get(m, "context"), "sittings");
    cr_expect_eq(num(sit, "count"), 3);
    cr_expect_eq(json_array_size(json_object_get(sit, "runs")), 3);
    cr_expect_eq(num(json_array_get(json_object_get(sit, "runs"), 1), "elapsed_s"), 2.5);
    cr_expect_null(json_object_get(json_object_get(m, "context"), "sitting"));
    const char *names[3] = {A, B, P};
    for (int c = 0; c < 3; c++) {
        double x[3][REPS];
        qk_sitting s[3];
        for (int j = 0; j < 3; j++) {
            for (int r = 0; r < REPS; r++) x[j][r] = t_of(c, j, r, sp.shift);
            s[j] = (qk_sitting){x[j], REPS};
        }
        qk_sittings_stats want;
        cr_assert_eq(qk_sittings_stats_compute(s, 3, SEED + (uint64_t)c, &want), 0);
        char agg[300];
        snprintf(agg, sizeof agg, "%s_median", names[c]);
        const json_t *med = record(m, agg);
        cr_assert(med, "%s", agg);
        expect_close(num(med, "real_time"), 1e3 * want.pooled.median, "median");
        expect_close(num(med, "repetitions"), 3 * REPS, "repetitions");
        expect_close(num(med, "gops"), 2e6 / want.pooled.median / 1e9, "gops");
        snprintf(agg, sizeof agg, "%s_ci_lo", names[c]);
        expect_close(num(record(m, agg), "real_time"), 1e3 * want.pooled.ci_lo, "ci_lo");
        snprintf(agg, sizeof agg, "%s_ci_hi", names[c]);
        expect_close(num(record(m, agg), "real_time"), 1e3 * want.pooled.ci_hi, "ci_hi");
        cr_expect_eq(json_is_true(json_object_get(med, "stable")), want.stable);
        cr_expect_eq(num(med, "unstable_sittings"), want.unstable_sittings);
        cr_expect_eq(num(med, "sittings"), 3);
        const json_t *meds = json_object_get(med, "sitting_medians");
        cr_assert_eq(json_array_size(meds), 3);
        qk_stats own;
        cr_assert_eq(qk_stats_compute(x[0], REPS, 0, &own), 0);
        expect_close(json_number_value(json_array_get(meds, 0)), 1e3 * own.median,
                     "sitting 0 median");
    }
    /* every repetition, its sitting and index within it, renumbered over the file */
    int seen[3][REPS] = {{0}}, next = 0;
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(m, "benchmarks"), i, b) {
        if (strcmp(json_string_value(json_object_get(b, "run_type")), "iteration") ||
            strcmp(json_string_value(json_object_get(b, "name")), A))
            continue;
        const int j = (int)num(b, "sitting"), r = (int)num(b, "sitting_repetition_index");
        cr_assert(j >= 0 && j < 3 && r >= 0 && r < REPS);
        seen[j][r]++;
        cr_expect_eq(num(b, "repetition_index"), next++);
        cr_expect_eq(num(b, "repetitions"), 3 * REPS);
        expect_close(num(b, "real_time"), 1e3 * t_of(0, j, r, sp.shift), "a repetition's time");
    }
    for (int j = 0; j < 3; j++)
        for (int r = 0; r < REPS; r++) cr_expect_eq(seen[j][r], 1, "sitting %d rep %d", j, r);
    json_decref(m);
    for (int j = 0; j < 3; j++) json_decref(docs[j]);
}

Test(sittings_merge, comparisons_are_the_two_level_ratios_and_the_peer_takes_the_pooled_fastest) {
    doc_spec sp = {.shift = 0.05};
    json_t *docs[3];
    for (int j = 0; j < 3; j++) docs[j] = make_doc(j, &sp);
    /* sitting 0 compared the peer with A (its fastest); pooled, B is faster */
    cr_assert_str_eq(json_string_value(json_object_get(comparison(docs[0], P), "baseline")), A);
    qk_error err;
    int rc;
    json_t *m = merge(docs, 3, 3, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    double x[3][3][REPS];
    qk_sitting s[3][3];
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < 3; j++) {
            for (int r = 0; r < REPS; r++) x[c][j][r] = t_of(c, j, r, sp.shift);
            s[c][j] = (qk_sitting){x[c][j], REPS};
        }
    const struct {
        const char *name, *base;
        int num, den;
    } want[2] = {{B, A, 1, 0}, {P, B, 2, 1}};
    for (int k = 0; k < 2; k++) {
        qk_sittings_stats w;
        cr_assert_eq(qk_sittings_ratio_compute(s[want[k].num], s[want[k].den], 3, SEED, &w), 0);
        const json_t *c = comparison(m, want[k].name);
        cr_assert(c, "no comparison of %s", want[k].name);
        cr_expect_str_eq(json_string_value(json_object_get(c, "baseline")), want[k].base);
        expect_close(num(c, "ratio"), w.pooled.median, "ratio");
        expect_close(num(c, "ci_lo"), w.pooled.ci_lo, "ratio ci_lo");
        expect_close(num(c, "ci_hi"), w.pooled.ci_hi, "ratio ci_hi");
        expect_close(num(c, "sitting_ratio_min"), w.sitting_median_min, "sitting_ratio_min");
        expect_close(num(c, "sitting_ratio_max"), w.sitting_median_max, "sitting_ratio_max");
        cr_expect_eq(num(c, "repetitions"), 3 * REPS);
        cr_expect_eq(num(c, "sittings"), 3);
        cr_expect_eq(json_is_true(json_object_get(c, "stable")), w.stable);
        cr_expect_eq(num(c, "unstable_sittings"), w.unstable_sittings);
        cr_expect_eq(json_array_size(json_object_get(c, "sitting_ratios")), 3);
        /* each sitting's own interval: the single-level one of its pairs */
        qk_stats own;
        cr_assert_eq(qk_ratio_compute(x[want[k].num][2], x[want[k].den][2], REPS, SEED + 2, &own),
                     0);
        const json_t *s2 = json_array_get(json_object_get(c, "sitting_ratios"), 2);
        expect_close(num(s2, "ratio"), own.median, "sitting 2 ratio");
        expect_close(num(s2, "ci_lo"), own.ci_lo, "sitting 2 ci_lo");
    }
    cr_expect_eq(json_array_size(json_object_get(m, "comparisons")), 2);
    json_decref(m);
    for (int j = 0; j < 3; j++) json_decref(docs[j]);
}

Test(sittings_merge, sittings_that_disagree_are_not_stable) {
    /* seven alike sittings and an eighth twice as slow: its own interval misses the pooled one */
    doc_spec same = {.shift = 0}, slow = {.shift = 0.15};
    json_t *docs[8];
    for (int j = 0; j < 7; j++) docs[j] = make_doc(j, &same);
    docs[7] = make_doc(7, &slow);
    qk_error err;
    int rc;
    json_t *m = merge(docs, 8, 8, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    const json_t *med = record(m, A "_median");
    cr_expect(json_is_false(json_object_get(med, "stable")));
    cr_expect_eq(num(med, "unstable_sittings"), 1);
    json_decref(m);
    /* alike sittings are */
    json_decref(docs[7]);
    docs[7] = make_doc(7, &same);
    m = merge(docs, 8, 8, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_expect(json_is_true(json_object_get(record(m, A "_median"), "stable")));
    /* B / A: sitting 0 alone has B slower than A (t_of), so that one ratio is not stable */
    cr_expect(json_is_false(json_object_get(comparison(m, B), "stable")));
    cr_expect_eq(num(comparison(m, B), "unstable_sittings"), 1);
    json_decref(m);
    for (int j = 0; j < 8; j++) json_decref(docs[j]);
}

Test(sittings_merge, one_sitting_gives_its_own_figures) {
    doc_spec sp = {.shift = 0};
    json_t *docs[1] = {make_doc(0, &sp)};
    qk_error err;
    int rc;
    json_t *m = merge(docs, 1, 1, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    static const char *const names[] = {A "_median", A "_ci_lo", A "_ci_hi", A "_mean",
                                        B "_median", B "_ci_lo", B "_ci_hi", P "_median"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        expect_close(num(record(m, names[i]), "real_time"),
                     num(record(docs[0], names[i]), "real_time"), names[i]);
    static const char *const keys[] = {"ratio", "ci_lo", "ci_hi", "cv", "repetitions"};
    for (int k = 0; k < 2; k++) {
        const json_t *got = comparison(m, k ? P : B), *want = comparison(docs[0], k ? P : B);
        cr_assert(got && want);
        cr_expect_str_eq(json_string_value(json_object_get(got, "baseline")),
                         json_string_value(json_object_get(want, "baseline")));
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            expect_close(num(got, keys[i]), num(want, keys[i]), keys[i]);
    }
    json_decref(m);
    json_decref(docs[0]);
}

static void expect_refused(const doc_spec *other, const char *w1, const char *w2) {
    doc_spec sp = {.shift = 0};
    json_t *docs[2] = {make_doc(0, &sp), make_doc(1, other)};
    qk_error err = {{0}};
    int rc;
    json_t *m = merge(docs, 2, 2, &err, &rc);
    cr_expect_neq(rc, 0, "merged sittings that differ (%s)", w1);
    cr_expect_null(m);
    cr_expect(strstr(err.msg, w1) && strstr(err.msg, w2), "message: %s", err.msg);
    json_decref(docs[0]);
    json_decref(docs[1]);
}

Test(sittings_merge, sittings_that_differ_are_refused_with_the_difference) {
    expect_refused(&(doc_spec){.host = "another-host"}, "host_name", "same machine");
    expect_refused(&(doc_spec){.build = "Debug"}, "build_type", "same build");
    expect_refused(&(doc_spec){.text = "[experiment]\nname = u\n"}, "experiment.text",
                   "same experiment");
    expect_refused(&(doc_spec){.drop_b = 1}, B, "configurations differ");
    expect_refused(&(doc_spec){.threads_b = 2}, "threads", "configurations differ");
}

Test(sittings_merge, a_merged_file_is_not_a_sitting) {
    doc_spec sp = {.shift = 0};
    json_t *docs[2] = {make_doc(0, &sp), make_doc(1, &sp)};
    qk_error err;
    int rc;
    json_t *m = merge(docs, 2, 2, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    json_t *again[2] = {m, docs[0]};
    json_t *mm = merge(again, 2, 2, &err, &rc);
    cr_expect_neq(rc, 0);
    cr_expect_null(mm);
    cr_expect(strstr(err.msg, "already a merge"), "%s", err.msg);
    json_decref(m);
    json_decref(docs[0]);
    json_decref(docs[1]);
}
