/* The runner (qk_run_experiment, called as `qkbench run` calls it): what its results say about each
 * configuration. More threads than PUs are recorded as oversubscribed; `threads = max, N` with N
 * the core count gives one configuration per name; --quick never runs more repetitions than the
 * full run; a model that gives non-finite values makes its configurations failed (recorded with
 * where the first one appeared, the other configurations measured), never measured; a counter event
 * PAPI does not know is bad input, refused before anything runs, at its line. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/results.h"
#include "harness/runner.h"
#include "harness/topology.h"
#include "model/gguf.h"
#include "model/synth.h"
#include "tests/support/test_util.h"

static char dir[64], model[128];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-runner-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(model, sizeof model, "%s/tiny.gguf", dir);
    qk_error err;
    cr_assert_eq(qk_synth_write(model, qk_synth_find_preset("tiny"), 1, 1, &err), 0, "%s", err.msg);
}

static void teardown(void) {
    qk_test_remove_tree(dir);
}

TestSuite(runner, .init = setup, .fini = teardown, .timeout = 120);

/* Writes DIR/NAME.ini: the [experiment] header with model, then body. */
static const char *experiment(const char *name, const char *model_path, const char *body) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s.ini", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    /* the name key only when it is a valid name (a file name need not be) */
    int plain = 1;
    for (const char *c = name; *c; c++) plain &= (unsigned char)*c < 0x80;
    fprintf(f, "[experiment]\nname = %s\nmodel = %s\n%s", plain ? name : "latin1", model_path,
            body);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static qk_run_status run(const char *ini, int quick, qk_error *err) {
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    qk_run_options o = {ini, out, NULL, quick, 1, QK_QKBENCH_EXE, NULL, {0}};
    qk_run_outcome res;
    const qk_run_status st = qk_run_experiment(&o, &res, err);
    qk_run_outcome_free(&res);
    return st;
}

static json_t *load(const char *name, int partial) {
    char path[256];
    snprintf(path, sizeof path, "%s/out/%s%s.json", dir, name, partial ? ".partial" : "");
    json_t *doc;
    qk_error err;
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s", err.msg);
    return doc;
}

static int usable_pus(void) {
    qk_topology *t;
    qk_error err;
    cr_assert_eq(qk_topology_open(&t, &err), 0, "%s", err.msg);
    const int n = qk_topology_get_info(t)->usable_pus;
    qk_topology_close(t);
    return n;
}

static int usable_cores(void) {
    qk_topology *t;
    qk_error err;
    cr_assert_eq(qk_topology_open(&t, &err), 0, "%s", err.msg);
    const int n = qk_topology_get_info(t)->usable_cores;
    qk_topology_close(t);
    return n;
}

static const char measure[] = "[measure]\nrepetitions = 2\nwarmups = 0\ncounters = none\n"
                              "accuracy = false\n";

Test(runner, more_threads_than_pus_are_recorded_as_oversubscribed) {
    char body[512];
    const int many = 2 * usable_pus();
    snprintf(body, sizeof body,
             "[sweep]\nkernels = zero-copy\nisas = scalar\nthreads = 1, %d\nseq_len = 4\n%s", many,
             measure);
    qk_error err;
    cr_assert_eq(run(experiment("over", model, body), 0, &err), QK_RUN_COMPLETE, "%s", err.msg);
    json_t *doc = load("over", 0);
    int seen[2] = {0, 0};
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const json_int_t t = json_integer_value(json_object_get(b, "threads"));
        json_t *o = json_object_get(b, "oversubscribed");
        cr_assert(json_is_boolean(o), "%s: no oversubscribed field",
                  json_string_value(json_object_get(b, "name")));
        cr_expect_eq(json_is_true(o), t > usable_pus(), "threads %d", (int)t);
        cr_expect_eq(json_is_true(json_object_get(b, "smt_shared")), t > usable_cores(),
                     "threads %d", (int)t);
        seen[t > 1]++;
    }
    cr_expect(seen[0] > 0 && seen[1] > 0);
    json_decref(doc);
}

Test(runner, threads_max_and_the_core_count_give_one_configuration) {
    char body[512];
    snprintf(body, sizeof body,
             "[sweep]\nkernels = zero-copy\nisas = scalar\nthreads = max, %d\nseq_len = 4\n%s",
             usable_cores(), measure);
    qk_error err;
    cr_assert_eq(run(experiment("maxn", model, body), 0, &err), QK_RUN_COMPLETE, "%s", err.msg);
    json_t *doc = load("maxn", 0);
    json_t *names = json_object();
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *type = json_string_value(json_object_get(b, "run_type"));
        if (strcmp(type, "aggregate") ||
            strcmp(json_string_value(json_object_get(b, "aggregate_name")), "median"))
            continue;
        const char *name = json_string_value(json_object_get(b, "run_name"));
        cr_expect_null(json_object_get(names, name), "two configurations named %s", name);
        json_object_set_new(names, name, json_true());
    }
    cr_expect_eq(json_object_size(names), 1);
    json_decref(names);
    json_decref(doc);
}

Test(runner, quick_never_runs_more_repetitions_than_the_full_run) {
    /* repetitions = 2 and no quick_repetitions: the default of 3 must not apply */
    const char body[] = "[sweep]\nkernels = zero-copy\nisas = scalar\nseq_len = 4\n"
                        "[measure]\nrepetitions = 2\nwarmups = 0\ncounters = none\n"
                        "accuracy = false\n";
    qk_error err;
    cr_assert_eq(run(experiment("quick", model, body), 1, &err), QK_RUN_COMPLETE, "%s", err.msg);
    json_t *doc = load("quick", 0);
    int iterations = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) iterations +=
        !strcmp(json_string_value(json_object_get(b, "run_type")), "iteration");
    cr_expect_eq(iterations, 2, "--quick ran %d repetitions, the full run 2", iterations);
    json_decref(doc);
}

/* A copy of the tiny model with one norm weight NaN. */
static const char *nan_model(void) {
    static char out[160];
    snprintf(out, sizeof out, "%s/nan.gguf", dir);
    qk_gguf g;
    qk_error err;
    cr_assert_eq(qk_gguf_open(&g, model, &err), 0, "%s", err.msg);
    const qk_gguf_tensor *t = qk_gguf_find_tensor(&g, "blk.2.attn_norm.weight");
    cr_assert(t);
    const long off = (long)(t->data - g.map) + 4 * 5;
    qk_gguf_close(&g);
    FILE *in = fopen(model, "rb"), *o = fopen(out, "wb");
    cr_assert(in && o);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, r, o);
    fclose(in);
    const float nan = NAN;
    fseek(o, off, SEEK_SET);
    fwrite(&nan, sizeof nan, 1, o);
    cr_assert_eq(fclose(o), 0);
    return out;
}

static void expect_failed_configurations(const char *name) {
    json_t *doc = load(name, 0);
    int failed = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *n = json_string_value(json_object_get(b, "name"));
        cr_expect(json_is_true(json_object_get(b, "error_occurred")), "%s was recorded as measured",
                  n);
        const char *msg = json_string_value(json_object_get(b, "error_message"));
        cr_expect(msg && !strncmp(msg, "failed: ", 8) && strstr(msg, "layer 2, attn_norm"),
                  "%s: %s", n, msg ? msg : "no message");
        cr_expect(json_is_true(json_object_get(b, "failed")));
        failed++;
    }
    cr_expect_eq(failed, 2, "%d records", failed);
    json_decref(doc);
}

Test(runner, non_finite_model_fails_its_configurations) {
    const char body[] = "[sweep]\nkernels = zero-copy\nisas = scalar\npath = int8, fp32\n"
                        "seq_len = 4\n[measure]\nrepetitions = 2\nwarmups = 0\ncounters = none\n"
                        "accuracy = false\n";
    qk_error err = {{0}};
    const qk_run_status st = run(experiment("nan", nan_model(), body), 0, &err);
    cr_expect_eq(st, QK_RUN_FAILED, "status %d: %s", st, err.msg);
    cr_expect(strstr(err.msg, "non-finite") != NULL, "%s", err.msg);
    expect_failed_configurations("nan");
}

Test(runner, non_finite_model_fails_in_the_accuracy_probe_too) {
    const char body[] = "[sweep]\nkernels = zero-copy\nisas = scalar\npath = int8, fp32\n"
                        "seq_len = 4\n[measure]\nrepetitions = 2\nwarmups = 0\ncounters = none\n"
                        "accuracy = true\n";
    qk_error err = {{0}};
    const qk_run_status st = run(experiment("nanp", nan_model(), body), 0, &err);
    cr_expect_eq(st, QK_RUN_FAILED, "status %d: %s", st, err.msg);
    expect_failed_configurations("nanp");
}

Test(runner, unknown_counter_event_is_bad_input) {
    const char body[] = "[sweep]\nkernels = zero-copy\nisas = scalar\nseq_len = 4\n"
                        "[measure]\nrepetitions = 2\nwarmups = 0\ncounters = PAPI_TOT_CYC, "
                        "PAPI_FOO\naccuracy = false\n";
    const char *ini = experiment("papi", model, body);
    qk_error err = {{0}};
    cr_expect_eq(run(ini, 0, &err), QK_RUN_BAD_INPUT);
    char want[300];
    snprintf(want, sizeof want, "%s:11: counters: PAPI_FOO is not an event PAPI knows", ini);
    cr_expect(strstr(err.msg, want) != NULL, "want '%s' in '%s'", want, err.msg);
    char out[192];
    snprintf(out, sizeof out, "%s/out/papi.partial.json", dir);
    cr_expect_neq(access(out, F_OK), 0, "something ran");
}

Test(runner, a_latin1_path_keeps_the_experiment_in_the_results) {
    /* the file's text is UTF-8, its name is not: stored with U+FFFD, never "experiment": null */
    const char body[] = "[sweep]\nkernels = zero-copy\nisas = scalar\nseq_len = 4\n"
                        "[measure]\nrepetitions = 1\nwarmups = 0\ncounters = none\n"
                        "accuracy = false\n";
    qk_error err = {{0}};
    cr_assert_eq(run(experiment("caf\xe9", model, body), 0, &err), QK_RUN_COMPLETE, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/out/latin1.json", dir);
    json_t *doc;
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s", err.msg);
    json_t *e = json_object_get(json_object_get(doc, "context"), "experiment");
    cr_assert(json_is_object(e), "the experiment is missing from the results");
    const char *file = json_string_value(json_object_get(e, "file"));
    cr_expect(file && strstr(file, "caf\xef\xbf\xbd.ini"), "file %s", file ? file : "(none)");
    cr_expect(json_string_value(json_object_get(e, "text")));
    json_decref(doc);
}
