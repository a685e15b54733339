/* Results files: written to a temporary folder and parsed back with jansson; every required field
 * of the context and of the Google-Benchmark-shaped records; the CSV (row count, RFC 4180 quoting);
 * atomic writes leave no temporary file; an existing result is not replaced without force, while
 * the run that wrote it may rewrite it; the loader rejects other JSON and other schema versions, a
 * directory or a FIFO (at once, with a message saying what it is) and duplicate keys; a run's files
 * (NAME.json only when complete, NAME.partial.json until then); numbers read back range-checked
 * before any conversion; and which documents can be compared (build, CPU). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/results.h"

static char dir[64];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-results-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *ent;
    char path[512];
    while ((ent = readdir(d)))
        if (ent->d_name[0] != '.' || (strcmp(ent->d_name, ".") && strcmp(ent->d_name, ".."))) {
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

TestSuite(results, .init = make_dir, .fini = remove_dir, .timeout = 60);

static const char *const A = "forward/parse-per-block/scalar/t:1/seq:5/act:token/bind:compact";
static const char *const B = "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact";
static const double a_real[3] = {0.010, 0.012, 0.011}, b_real[3] = {0.005, 0.006, 0.0055};

/* Two configurations of three repetitions, their aggregates, a skipped one, a comparison. */
static qk_results *sample(void) {
    qk_results *r = qk_results_new();
    cr_assert_not_null(r);
    cr_assert_eq(qk_results_capture_environment(r), 0);
    cr_assert_eq(qk_results_context_set(r, "experiment", json_string("[experiment]\nmodel = x\n")),
                 0);
    const char *names[2] = {A, B};
    const double *times[2] = {a_real, b_real};
    for (int rep = 0; rep < 3; rep++)
        for (int c = 0; c < 2; c++) {
            json_t *x = json_pack("{s:s, s:s, s:i, s:I, s:s, s:s, s:f}", "variant",
                                  c ? "zero-copy" : "parse-per-block", "isa", "scalar", "threads",
                                  2, "PAPI_TOT_CYC", (json_int_t)(1000 + rep), "note", "a,b \"q\"",
                                  "name", "must not override", "real_time", -1.0);
            cr_assert_eq(qk_results_add_repetition(r, names[c], rep, 3, times[c][rep],
                                                   times[c][rep] * 0.9, x),
                         0);
            json_decref(x); /* borrowed */
        }
    for (int c = 0; c < 2; c++) {
        qk_stats s;
        cr_assert_eq(qk_stats_compute(times[c], 3, 1, &s), 0);
        cr_assert_eq(qk_results_add_aggregates(r, names[c], &s, NULL), 0);
    }
    cr_assert_eq(qk_results_add_skipped(r, "forward/zero-copy/avx512vnni/t:1/seq:5",
                                        "skipped: CPU lacks avx512vnni", NULL),
                 0);
    qk_stats ratio;
    cr_assert_eq(qk_ratio_compute(b_real, a_real, 3, 1, &ratio), 0);
    cr_assert_eq(qk_results_add_comparison(r, B, A, &ratio), 0);
    return r;
}

static json_t *load_raw(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    cr_assert_not_null(doc, "%s: %s (line %d)", path, je.text, je.line);
    return doc;
}

static void expect_type(json_t *obj, const char *key, json_type t) {
    json_t *v = json_object_get(obj, key);
    cr_expect_not_null(v, "missing field '%s'", key);
    if (v) cr_expect_eq(json_typeof(v), t, "field '%s' has type %d", key, json_typeof(v));
}

Test(results, json_has_every_required_field) {
    qk_results *r = sample();
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, "run", 1, 0, &err), 0, "%s", err.msg);
    qk_results_free(r);

    json_t *doc = load_raw("run.json");
    cr_expect(json_is_true(json_object_get(doc, "complete")));
    json_t *ctx = json_object_get(doc, "context");
    cr_assert(json_is_object(ctx));
    const char *strings[] = {"date",
                             "host_name",
                             "cpu_model",
                             "cpu_flags",
                             "compiler",
                             "c_flags",
                             "build_type",
                             "library_build_type",
                             "git_commit",
                             "qkbench_version",
                             "cpu_scaling_governor",
                             "generator",
                             "experiment"};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        expect_type(ctx, strings[i], JSON_STRING);
    const char *date = json_string_value(json_object_get(ctx, "date"));
    cr_expect(date && strlen(date) == 20 && date[10] == 'T' && date[19] == 'Z', "date %s", date);
    cr_expect_eq(json_integer_value(json_object_get(ctx, "json_schema_version")), 1);
    cr_expect_geq(json_integer_value(json_object_get(ctx, "num_cpus")), 1);
    cr_expect(strncmp(json_string_value(json_object_get(ctx, "generator")), "qkbench ", 8) == 0);
    cr_expect_str_eq(json_string_value(json_object_get(ctx, "experiment")),
                     "[experiment]\nmodel = x\n");
    const char *present[] = {"mhz_per_cpu", "cpu_scaling_enabled", "boost",    "aslr_enabled",
                             "aslr",        "smt_active",          "counters", "sanitized"};
    for (size_t i = 0; i < sizeof present / sizeof *present; i++)
        cr_expect_not_null(json_object_get(ctx, present[i]), "missing field '%s'", present[i]);
    json_t *caches = json_object_get(ctx, "caches");
    cr_expect(json_is_array(caches));
    size_t i;
    json_t *c;
    json_array_foreach(caches, i, c) {
        expect_type(c, "type", JSON_STRING);
        expect_type(c, "level", JSON_INTEGER);
        cr_expect_not_null(json_object_get(c, "size"));
        expect_type(c, "num_sharing", JSON_INTEGER);
    }
    json_t *topo = json_object_get(ctx, "topology");
    cr_expect(json_is_object(topo));
    cr_expect_geq(json_integer_value(json_object_get(topo, "cores")), 1);
    cr_expect_geq(json_integer_value(json_object_get(topo, "pus")), 1);
    expect_type(json_object_get(ctx, "kernel"), "release", JSON_STRING);
    json_t *libs = json_object_get(ctx, "libraries");
    const char *lib_names[] = {"hwloc", "papi", "jansson", "inih"};
    for (int k = 0; k < 4; k++) expect_type(libs, lib_names[k], JSON_OBJECT);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(libs, "jansson"), "compiled")),
        JANSSON_VERSION);

    json_t *benchmarks = json_object_get(doc, "benchmarks");
    cr_assert(json_is_array(benchmarks));
    cr_expect_eq(json_array_size(benchmarks), 6 + 2 * 7 + 1);
    int iterations = 0, aggregates = 0, errors = 0;
    json_t *b;
    json_array_foreach(benchmarks, i, b) {
        expect_type(b, "name", JSON_STRING);
        expect_type(b, "run_name", JSON_STRING);
        expect_type(b, "run_type", JSON_STRING);
        expect_type(b, "family_index", JSON_INTEGER);
        expect_type(b, "per_family_instance_index", JSON_INTEGER);
        expect_type(b, "repetitions", JSON_INTEGER);
        expect_type(b, "threads", JSON_INTEGER);
        expect_type(b, "iterations", JSON_INTEGER);
        expect_type(b, "real_time", JSON_REAL);
        expect_type(b, "cpu_time", JSON_REAL);
        cr_expect_str_eq(json_string_value(json_object_get(b, "time_unit")), "ms");
        const char *type = json_string_value(json_object_get(b, "run_type"));
        const char *name = json_string_value(json_object_get(b, "name"));
        if (json_is_true(json_object_get(b, "error_occurred"))) {
            errors++;
            cr_expect_str_eq(json_string_value(json_object_get(b, "error_message")),
                             "skipped: CPU lacks avx512vnni");
        } else if (!strcmp(type, "iteration")) {
            iterations++;
            expect_type(b, "repetition_index", JSON_INTEGER);
            cr_expect(!strcmp(name, A) || !strcmp(name, B), "%s", name); /* not overridden */
            cr_expect_eq(json_integer_value(json_object_get(b, "threads")), 2);
            cr_expect_eq(json_integer_value(json_object_get(b, "PAPI_TOT_CYC")),
                         1000 + json_integer_value(json_object_get(b, "repetition_index")));
            cr_expect_gt(json_real_value(json_object_get(b, "real_time")), 0);
        } else {
            cr_expect_str_eq(type, "aggregate");
            aggregates++;
            expect_type(b, "aggregate_name", JSON_STRING);
            expect_type(b, "aggregate_unit", JSON_STRING);
            cr_expect(json_is_boolean(json_object_get(b, "noisy")), "%s: noisy", name);
        }
    }
    cr_expect_eq(iterations, 6);
    cr_expect_eq(aggregates, 14);
    cr_expect_eq(errors, 1);

    /* first record: repetition 0 of A, times in ms */
    b = json_array_get(benchmarks, 0);
    cr_expect_str_eq(json_string_value(json_object_get(b, "name")), A);
    cr_expect_eq(json_integer_value(json_object_get(b, "repetition_index")), 0);
    cr_expect_eq(json_integer_value(json_object_get(b, "family_index")), 0);
    cr_expect_float_eq(json_real_value(json_object_get(b, "real_time")), 10.0, 1e-9);
    cr_expect_float_eq(json_real_value(json_object_get(b, "cpu_time")), 9.0, 1e-9);
    /* A's median aggregate: 11 ms real, 9.9 ms cpu; its cv is a fraction */
    int found = 0;
    json_array_foreach(benchmarks, i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        char want[256];
        snprintf(want, sizeof want, "%s_median", A);
        if (!strcmp(name, want)) {
            found++;
            cr_expect_str_eq(json_string_value(json_object_get(b, "run_name")), A);
            cr_expect_str_eq(json_string_value(json_object_get(b, "aggregate_name")), "median");
            cr_expect_float_eq(json_real_value(json_object_get(b, "real_time")), 11.0, 1e-9);
            cr_expect_float_eq(json_real_value(json_object_get(b, "cpu_time")), 9.9, 1e-9);
            cr_expect_eq(json_integer_value(json_object_get(b, "threads")), 2);
        }
        snprintf(want, sizeof want, "%s_cv", A);
        if (!strcmp(name, want)) {
            found++;
            cr_expect_str_eq(json_string_value(json_object_get(b, "aggregate_unit")), "percentage");
            cr_expect_float_eq(json_real_value(json_object_get(b, "real_time")), 0.001 / 0.011,
                               1e-9);
            cr_expect(json_is_true(json_object_get(b, "noisy"))); /* 9% > 5% */
        }
    }
    cr_expect_eq(found, 2);

    json_t *cmp = json_array_get(json_object_get(doc, "comparisons"), 0);
    cr_assert_not_null(cmp);
    cr_expect_str_eq(json_string_value(json_object_get(cmp, "name")), B);
    cr_expect_str_eq(json_string_value(json_object_get(cmp, "baseline")), A);
    cr_expect_float_eq(json_real_value(json_object_get(cmp, "ratio")), 0.5, 1e-12);
    expect_type(cmp, "ci_lo", JSON_REAL);
    expect_type(cmp, "ci_hi", JSON_REAL);
    json_decref(doc);

    /* no temporary file left behind */
    DIR *d = opendir(dir);
    struct dirent *ent;
    int files = 0;
    while ((ent = readdir(d)))
        if (ent->d_name[0] != '.')
            files++;
        else
            cr_expect(!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."), "left: %s",
                      ent->d_name);
    closedir(d);
    cr_expect_eq(files, 2);
}

Test(results, csv_one_row_per_repetition) {
    qk_results *r = sample();
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, "run", 1, 0, &err), 0, "%s", err.msg);
    qk_results_free(r);
    char path[256], line[1024];
    snprintf(path, sizeof path, "%s/run.csv", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    int rows = 0;
    cr_assert_not_null(fgets(line, sizeof line, f));
    const char *head = "name,repetition_index,repetitions,threads,iterations,real_time_ms,"
                       "cpu_time_ms,";
    cr_expect(strncmp(line, head, strlen(head)) == 0, "header: %s", line);
    cr_expect(strstr(line, "PAPI_TOT_CYC"), "header: %s", line);
    while (fgets(line, sizeof line, f)) {
        rows++;
        cr_expect(strstr(line, ",\"a,b \"\"q\"\"\""), "unquoted: %s", line); /* RFC 4180 */
    }
    fclose(f);
    cr_expect_eq(rows, 6); /* 2 configurations x 3 repetitions; skipped and aggregates excluded */
}

Test(results, refuses_to_overwrite_without_force) {
    qk_results *r = sample();
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, "run", 1, 0, &err), 0, "%s", err.msg);
    qk_results *other = sample();
    cr_expect_eq(qk_results_write(other, dir, "run", 1, 0, &err), -1);
    cr_expect(strstr(err.msg, "run.json already exists") && strstr(err.msg, "--force"), "%s",
              err.msg);
    cr_expect_eq(qk_results_write(other, dir, "run", 0, 1, &err), 0, "%s", err.msg);
    json_t *doc = load_raw("run.json");
    cr_expect(json_is_false(json_object_get(doc, "complete"))); /* the forced write won */
    json_decref(doc);
    /* the first run no longer owns the files: another run replaced them */
    cr_expect_eq(qk_results_write(r, dir, "run", 1, 0, &err), -1);
    cr_expect(strstr(err.msg, "already exists"), "%s", err.msg);
    qk_results_free(r);
    qk_results_free(other);

    /* a lone CSV of that name blocks the write too, and the JSON is not written first */
    char path[256];
    snprintf(path, sizeof path, "%s/lone.csv", dir);
    fclose(fopen(path, "w"));
    r = sample();
    cr_expect_eq(qk_results_write(r, dir, "lone", 1, 0, &err), -1);
    cr_expect(strstr(err.msg, "lone.csv already exists"), "%s", err.msg);
    snprintf(path, sizeof path, "%s/lone.json", dir);
    cr_expect_neq(access(path, F_OK), 0);
    qk_results_free(r);
}

Test(results, same_run_rewrites_its_files) {
    qk_results *r = qk_results_new();
    qk_error err = {{0}};
    cr_assert_eq(qk_results_capture_environment(r), 0);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/new/folder", dir); /* created on demand */
    for (int rep = 0; rep < 4; rep++) {
        cr_assert_eq(qk_results_add_repetition(r, A, rep, 4, 0.01, 0.01, NULL), 0);
        cr_assert_eq(qk_results_write(r, sub, "partial", rep == 3, 0, &err), 0, "rewrite %d: %s",
                     rep, err.msg);
    }
    char path[256];
    snprintf(path, sizeof path, "%s/partial.json", sub);
    json_t *doc;
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s", err.msg);
    cr_expect(json_is_true(json_object_get(doc, "complete")));
    cr_expect_eq(json_array_size(json_object_get(doc, "benchmarks")), 4);
    json_decref(doc);
    qk_results_free(r);
    snprintf(path, sizeof path, "%s/partial.csv", sub);
    unlink(path);
    snprintf(path, sizeof path, "%s/partial.json", sub);
    unlink(path);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/new", dir);
    rmdir(sub);
}

Test(results, interrupted_run_is_marked_incomplete) {
    qk_results *r = sample();
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, "cut", 0, 0, &err), 0, "%s", err.msg);
    qk_results_free(r);
    char path[256];
    snprintf(path, sizeof path, "%s/cut.json", dir);
    json_t *doc;
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s", err.msg);
    cr_expect(json_is_false(json_object_get(doc, "complete")));
    json_decref(doc);
}

static void write_text(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_load_error(const char *name, const char *substr) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_t *doc = NULL;
    qk_error err = {{0}};
    cr_expect_eq(qk_results_load(path, &doc, &err), -1, "%s accepted", name);
    cr_expect_null(doc);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, substr), "want '%s' in '%s'", substr,
              err.msg);
}

Test(results, load_rejects_other_files) {
    write_text("v2.json", "{\"context\": {\"generator\": \"qkbench 9.0\", \"json_schema_version\": "
                          "2}, \"benchmarks\": [], \"complete\": true}");
    expect_load_error("v2.json", "results schema version 2; this qkbench reads version 1");
    write_text("gbench.json", "{\"context\": {\"host_name\": \"x\", \"json_schema_version\": 1}, "
                              "\"benchmarks\": []}");
    expect_load_error("gbench.json", "not a qkbench results file");
    write_text("array.json", "[1, 2]");
    expect_load_error("array.json", "not a qkbench results file");
    write_text("broken.json", "{\"context\": \n  {,}");
    expect_load_error("broken.json", ":2:");
    write_text("nobench.json",
               "{\"context\": {\"generator\": \"qkbench 0.1\", \"json_schema_version\": 1}}");
    expect_load_error("nobench.json", "without a 'benchmarks' array");
    expect_load_error("absent.json", "absent.json");
}

Test(results, bad_arguments) {
    qk_results *r = qk_results_new();
    qk_error err = {{0}};
    cr_expect_eq(qk_results_add_repetition(r, A, 3, 3, 0.1, 0.1, NULL), -1);
    cr_expect_eq(qk_results_add_repetition(r, "", 0, 3, 0.1, 0.1, NULL), -1);
    cr_expect_eq(qk_results_context_set(r, "x", NULL), -1);
    cr_expect_eq(qk_results_write(r, dir, "a/b", 1, 0, &err), -1);
    cr_expect(strstr(err.msg, "without '/'"), "%s", err.msg);
    qk_results_free(r);
}

Test(results, load_refuses_a_directory_or_a_fifo) {
    json_t *doc = NULL;
    qk_error err = {{0}};
    cr_expect_neq(qk_results_load(dir, &doc, &err), 0);
    cr_expect(strstr(err.msg, "is a directory") != NULL, "%s", err.msg);
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/fifo.json", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    cr_expect_neq(qk_results_load(fifo, &doc, &err), 0);
    cr_expect(strstr(err.msg, "FIFO") != NULL, "%s", err.msg);
    write_text("dup.json",
               "{\"context\": {\"generator\": \"qkbench 0.1\", \"json_schema_version\": "
               "1}, \"benchmarks\": [], \"complete\": true, \"complete\": false}");
    expect_load_error("dup.json", "duplicate");
}

Test(results, numbers_are_range_checked_before_conversion) {
    json_t *o = json_pack("{s:f, s:f, s:i, s:f, s:s, s:f}", "huge", 1e300, "half", 2.5, "seq", 16,
                          "whole", 16.0, "text", "16", "neg", -3.25);
    long long v = -1;
    double d = -1;
    qk_error err = {{0}};
    cr_expect_neq(qk_results_get_int(o, "huge", 1, 1 << 20, &v, &err), 0, "1e300 read as %lld", v);
    cr_expect(strstr(err.msg, "'huge'") && strstr(err.msg, "not an integer in 1..1048576"), "%s",
              err.msg);
    cr_expect_neq(qk_results_get_int(o, "half", 1, 100, &v, &err), 0);
    cr_expect_neq(qk_results_get_int(o, "text", 1, 100, &v, &err), 0);
    cr_expect(strstr(err.msg, "not an integer"), "%s", err.msg);
    cr_expect_neq(qk_results_get_int(o, "missing", 1, 100, &v, &err), 0);
    cr_expect(strstr(err.msg, "missing"), "%s", err.msg);
    cr_expect_neq(qk_results_get_int(o, "seq", 17, 100, &v, &err), 0);
    cr_expect(strstr(err.msg, "outside 17..100"), "%s", err.msg);
    cr_assert_eq(qk_results_get_int(o, "seq", 1, 100, &v, &err), 0, "%s", err.msg);
    cr_expect_eq(v, 16);
    cr_assert_eq(qk_results_get_int(o, "whole", 1, 100, &v, &err), 0, "%s", err.msg);
    cr_expect_eq(v, 16);
    /* times: positive and finite; a negative one is refused, not turned into a "-3.25x" ratio */
    cr_expect_neq(qk_results_get_number(o, "neg", 1e-9, 1e9, &d, &err), 0);
    cr_expect(strstr(err.msg, "-3.25"), "%s", err.msg);
    cr_expect_neq(qk_results_get_number(o, "huge", 1e-9, 1e9, &d, &err), 0);
    cr_assert_eq(qk_results_get_number(o, "half", 1e-9, 1e9, &d, &err), 0, "%s", err.msg);
    cr_expect_eq(d, 2.5);
    json_decref(o);
}

static json_t *doc_of(const char *cpu, const char *build_type, int sanitized) {
    return json_pack("{s:{s:s, s:i, s:s, s:s, s:b}, s:[], s:b}", "context", "generator",
                     "qkbench 0.1", "json_schema_version", QK_RESULTS_SCHEMA_VERSION, "cpu_model",
                     cpu, "build_type", build_type, "sanitized", sanitized, "benchmarks",
                     "complete", 1);
}

Test(results, comparable_names_build_and_cpu) {
    json_t *rel = doc_of("AMD EPYC 9B45", "Release", 0),
           *asan = doc_of("AMD EPYC 9B45", "RelWithDebInfo", 1);
    json_t *other = doc_of("AMD EPYC 7B13", "Release", 0),
           *rel2 = doc_of("AMD EPYC 9B45", "Release", 0);
    qk_error err = {{0}};
    const unsigned both = QK_RESULTS_SAME_BUILD | QK_RESULTS_SAME_CPU;
    cr_expect_eq(qk_results_comparable(rel, "a.json", rel2, "b.json", both, &err), 0, "%s",
                 err.msg);
    cr_expect_neq(qk_results_comparable(rel, "a.json", asan, "b.json", both, &err), 0);
    cr_expect(strstr(err.msg, "b.json a sanitized") && strstr(err.msg, "a.json is a Release"), "%s",
              err.msg);
    cr_expect_neq(qk_results_comparable(rel, "a.json", other, "c.json", both, &err), 0);
    cr_expect(strstr(err.msg, "not the same CPU") && strstr(err.msg, "AMD EPYC 7B13"), "%s",
              err.msg);
    /* report puts CPUs in columns: only the build must agree */
    cr_expect_eq(qk_results_comparable(rel, "a.json", other, "c.json", QK_RESULTS_SAME_BUILD, &err),
                 0, "%s", err.msg);
    char text[256];
    qk_results_describe(asan, text, sizeof text);
    cr_expect(strstr(text, "AMD EPYC 9B45") && strstr(text, "sanitized"), "%s", text);
    json_decref(rel), json_decref(asan), json_decref(other), json_decref(rel2);
}

Test(results, run_files_partial_until_complete) {
    qk_results *r = qk_results_new();
    cr_assert(r);
    cr_assert_eq(qk_results_capture_environment(r), 0);
    qk_error err = {{0}};
    char json[256], partial[256];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(partial, sizeof partial, "%s/r.partial.json", dir);
    cr_assert_eq(qk_results_run_begin(r, dir, "r", 0, &err), 0, "%s", err.msg);
    cr_expect_eq(access(partial, F_OK), 0, "no checkpoint at the start");
    cr_expect_neq(access(json, F_OK), 0, "NAME.json before the run is complete");
    cr_assert_eq(qk_results_add_repetition(r, "forward/x", 0, 1, 0.01, 0.01, NULL), 0);
    cr_assert_eq(qk_results_run_checkpoint(r, "interrupted", NULL, &err), 0, "%s", err.msg);
    json_t *doc;
    cr_assert_eq(qk_results_load(partial, &doc, &err), 0, "%s", err.msg);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "state")), "interrupted");
    cr_expect(json_is_false(json_object_get(doc, "complete")));
    json_decref(doc);
    /* another run of the same name refuses the unfinished one's checkpoint without force */
    qk_results *r2 = qk_results_new();
    cr_expect_neq(qk_results_run_begin(r2, dir, "r", 0, &err), 0);
    cr_expect(strstr(err.msg, "r.partial.json already exists") && strstr(err.msg, "--force"), "%s",
              err.msg);
    qk_results_free(r2);
    cr_assert_eq(qk_results_run_finish(r, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_results_load(json, &doc, &err), 0, "%s", err.msg);
    cr_expect(json_is_true(json_object_get(doc, "complete")));
    cr_expect_str_eq(json_string_value(json_object_get(doc, "state")), "complete");
    json_decref(doc);
    cr_expect_neq(access(partial, F_OK), 0, "the checkpoint outlived the complete files");
    qk_results_free(r);
}

Test(results, strings_that_are_not_utf8_are_kept) {
    json_t *j = qk_results_string("caf\xe9 \xc3\xa9 end\xff");
    cr_assert(json_is_string(j), "the string was lost");
    cr_expect_str_eq(json_string_value(j), "caf\xef\xbf\xbd \xc3\xa9 end\xef\xbf\xbd");
    json_decref(j);
    j = qk_results_string("plain");
    cr_expect_str_eq(json_string_value(j), "plain");
    json_decref(j);
}
