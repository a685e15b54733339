/* The report against hostile results files: a string from a file cannot change REPORT.md's
 * structure (a cpu_model with a newline and a '|'), a count of 1e300 or -1 is never cast to int
 * (the configuration is malformed, not "-2147483648 tokens"), and a time that is zero, negative or
 * absurd never becomes a speedup ("-3.25x") or a ratio of the peer or kernel sections. Each case
 * is the fixture tests/data/results-small.json (or results-peer.json, results-kernels.json) with
 * one value changed. */
#define _GNU_SOURCE /* mkdtemp, asprintf */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"

#define DATA QK_SOURCE_DIR "/tests/data/"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-rsafe-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(report_safety, .init = setup, .fini = teardown, .timeout = 120);

/* The fixture with edit() applied, written to dir/in.json. */
static const char *mutated(const char *fixture, void (*edit)(json_t *doc)) {
    json_error_t je;
    json_t *doc = json_load_file(fixture, 0, &je);
    cr_assert_not_null(doc, "%s: %s", fixture, je.text);
    edit(doc);
    static char path[128];
    snprintf(path, sizeof path, "%s/in.json", dir);
    cr_assert_eq(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    return path;
}

/* REPORT.md of one results file (gnuplot off: the tables are what is tested), malloc'd. */
static char *report_of(const char *path) {
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    const char *results[] = {path};
    qk_report_options o = {results, 1, NULL, 0, out, "/nonexistent-scripts", NULL, NULL};
    qk_report_outcome res;
    qk_error err = {{0}};
    cr_assert_eq(qk_report_generate(&o, &res, &err), 0, "%s", err.msg);
    FILE *f = fopen(res.report_path, "r");
    cr_assert_not_null(f);
    char *md = NULL;
    size_t cap = 0;
    cr_assert_gt(getdelim(&md, &cap, 0, f), 0);
    fclose(f);
    return md;
}

static json_t *first_median(json_t *doc, const char *run_prefix) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *an = json_string_value(json_object_get(b, "aggregate_name"));
        const char *rn = json_string_value(json_object_get(b, "run_name"));
        if (an && rn && !strcmp(an, "median") && !strncmp(rn, run_prefix, strlen(run_prefix)))
            return b;
    }
    cr_assert_fail("no median record %s", run_prefix);
    return NULL;
}

static void inject_cpu_model(json_t *doc) {
    json_object_set_new(json_object_get(doc, "context"), "cpu_model",
                        json_string("Evil | CPU\n## Injected heading\n<script>"));
}

Test(report_safety, strings_cannot_change_the_markdown) {
    char *md = report_of(mutated(DATA "results-small.json", inject_cpu_model));
    cr_expect_null(strstr(md, "\n## Injected heading"), "a newline from a file started a heading");
    cr_expect_null(strstr(md, "<script>"), "HTML from a file reached the report");
    cr_expect_not_null(strstr(md, "| CPU | Evil \\| CPU ## Injected heading &lt;script> |"),
                       "the CPU cell, escaped:\n%.2000s", md);
    free(md);
}

static void huge_seq_len(json_t *doc) {
    json_object_set_new(first_median(doc, "forward/zero-copy/"), "seq_len", json_real(1e300));
}

static void negative_threads(json_t *doc) {
    json_object_set_new(first_median(doc, "forward/zero-copy/"), "threads", json_integer(-1));
}

Test(report_safety, counts_are_range_checked) {
    /* UBSan (the asan preset) stops on a cast of 1e300 to int; the release build would print
     * "-2147483648 tokens" */
    char *md = report_of(mutated(DATA "results-small.json", huge_seq_len));
    cr_expect_null(strstr(md, "-2147483648"), "%.3000s", md);
    cr_expect_null(strstr(md, "2147483647"));
    free(md);
    md = report_of(mutated(DATA "results-small.json", negative_threads));
    cr_expect_null(strstr(md, "-1 thread"), "%.3000s", md);
    free(md);
}

static void negative_time(json_t *doc) {
    json_object_set_new(first_median(doc, "forward/zero-copy/"), "real_time", json_real(-37.0));
}

static void zero_time(json_t *doc) {
    json_object_set_new(first_median(doc, "forward/parse-per-block/"), "real_time", json_real(0));
}

Test(report_safety, impossible_times_give_no_speedup) {
    const char *cases[2] = {"negative", "zero"};
    void (*edits[2])(json_t *) = {negative_time, zero_time};
    for (int c = 0; c < 2; c++) {
        char *md = report_of(mutated(DATA "results-small.json", edits[c]));
        cr_expect_null(strstr(md, "x [-"), "%s time: a negative speedup\n%.3000s", cases[c], md);
        cr_expect_null(strstr(md, "-37"), "%s time printed", cases[c]);
        cr_expect_null(strstr(md, "inf"), "%s time: an infinite ratio", cases[c]);
        cr_expect_null(strstr(md, "nan"), "%s time: a NaN", cases[c]);
        free(md);
    }
}

static void bad_comparison(json_t *doc) {
    json_t *c = json_array_get(json_object_get(doc, "comparisons"), 0);
    json_object_set_new(c, "ratio", json_real(-3.25));
}

Test(report_safety, impossible_ratios_are_not_used) {
    char *md = report_of(mutated(DATA "results-small.json", bad_comparison));
    /* the code before the check printed "n/ax [1.163, 1.235]" and a step share of 1700.0% */
    cr_expect_null(strstr(md, "n/ax"), "%.3000s", md);
    cr_expect_null(strstr(md, "1700.0%"), "%.3000s", md);
    cr_expect_not_null(strstr(md, "1.200x [1.117, 1.289] (unpaired)"),
                       "the unpaired ratio of medians instead\n%.4000s", md);
    free(md);
}

static void peer_without_counts(json_t *doc) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *path = json_string_value(json_object_get(b, "path"));
        if (path && !strcmp(path, "llama.cpp")) {
            json_object_set_new(b, "threads", json_real(1e300));
            json_object_set_new(b, "seq_len", json_real(-5));
        }
    }
}

static void kernels_huge_group(json_t *doc) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b)
        json_object_set_new(b, "group", json_real(1e300));
}

Test(report_safety, peer_and_kernel_sections_check_their_counts) {
    char *md = report_of(mutated(DATA "results-peer.json", peer_without_counts));
    cr_expect_null(strstr(md, "-2147483648"), "%.3000s", md);
    free(md);
    md = report_of(mutated(DATA "results-kernels.json", kernels_huge_group));
    cr_expect_null(strstr(md, "-2147483648"), "%.3000s", md);
    free(md);
}

static void sanitized_build(json_t *doc) {
    json_t *ctx = json_object_get(doc, "context");
    json_object_set_new(ctx, "sanitized", json_true());
    json_object_set_new(ctx, "build_type", json_string("RelWithDebInfo"));
}

/* A sanitized (asan) build's results beside a release build's of the same machine: two columns,
 * each named with its build, and a sentence that they are not comparable; never one merged table.
 */
Test(report_safety, builds_are_never_merged) {
    const char *asan = mutated(DATA "results-small.json", sanitized_build);
    char copy[160];
    snprintf(copy, sizeof copy, "%s/asan.json", dir);
    cr_assert_eq(rename(asan, copy), 0);
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    const char *results[] = {DATA "results-small.json", copy};
    qk_report_options o = {results, 2, NULL, 0, out, "/nonexistent-scripts", NULL, NULL};
    qk_report_outcome res;
    qk_error err = {{0}};
    cr_assert_eq(qk_report_generate(&o, &res, &err), 0, "%s", err.msg);
    cr_expect_eq(res.n_cpus, 2, "one machine, two builds: two columns");
    FILE *f = fopen(res.report_path, "r");
    char *md = NULL;
    size_t cap = 0;
    cr_assert_gt(getdelim(&md, &cap, 0, f), 0);
    fclose(f);
    cr_expect_not_null(strstr(md, "Release build (host fixture-a)"), "%.1500s", md);
    cr_expect_not_null(strstr(md, "sanitized (RelWithDebInfo) build"), "%.1500s", md);
    cr_expect_not_null(strstr(md, "are one machine in two builds"), "%.1500s", md);
    free(md);
}
