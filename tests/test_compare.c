/* `qkbench compare` and the library under it (report/compare.h): two result files with known
 * times give the expected medians, ratios and geometric mean; paired vs unpaired; names in one
 * file only; usage errors exit 2. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness/cli/commands.h"
#include "harness/results.h"
#include "report/compare.h"

static char dir[64], path_a[128], path_b[128], path_c[128];

/* A result file whose configuration i has repetition times base[i] * (1 + 0.01 * k) s. */
static void write_run(const char *basename, const char *const *names, const double *base, int n,
                      int reps) {
    qk_results *r = qk_results_new();
    cr_assert_eq(qk_results_capture_environment(r), 0);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < reps; k++)
            cr_assert_eq(qk_results_add_repetition(r, names[i], k, reps, base[i] * (1 + 0.01 * k),
                                                   base[i], NULL),
                         0);
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, basename, 1, 0, &err), 0, "%s", err.msg);
    qk_results_free(r);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-compare-XXXXXX");
    cr_assert(mkdtemp(dir));
    const char *names[] = {"forward/a/scalar/t:1", "forward/b/scalar/t:1", "forward/c/scalar/t:1"};
    const double a[] = {0.010, 0.020, 0.030}, b[] = {0.005, 0.010, 0.030};
    write_run("a", names, a, 3, 5);
    write_run("b", names, b, 2, 5); /* c is only in A */
    write_run("c", names, b, 2, 4); /* other repetition count: unpaired */
    snprintf(path_a, sizeof path_a, "%s/a.json", dir);
    snprintf(path_b, sizeof path_b, "%s/b.json", dir);
    snprintf(path_c, sizeof path_c, "%s/c.json", dir);
    cr_redirect_stdout();
    cr_redirect_stderr();
}

static void teardown(void) {
    const char *files[] = {"a.json", "a.csv", "b.json", "b.csv", "c.json", "c.csv"};
    char p[160];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(compare, .init = setup, .fini = teardown, .timeout = 60);

static char *read_all(FILE *f) {
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    return buf;
}

static int run(int argc, const char **argv) {
    return qk_cmd_compare(argc, (char **)argv);
}

Test(compare, paired_ratios_and_geomean) {
    const char *argv[] = {"compare", path_a, path_b};
    cr_assert_eq(run(3, argv), 0);
    fflush(stdout);
    char *out = read_all(cr_get_redirected_stdout());
    /* every repetition of B is exactly half of A's: the paired interval is a point */
    cr_expect(strstr(out, "forward/a/scalar/t:1"), "%s", out);
    cr_expect(strstr(out, "0.500 [0.500, 0.500]     paired faster"), "%s", out);
    /* A: 10, 10.1 .. 10.4 ms; with 5 repetitions the interval spans them all */
    cr_expect(strstr(out, "10.2 [10, 10.4]"), "%s", out);
    cr_expect(strstr(out, "geomean B/A over 2 benchmarks: 0.500"), "%s", out);
    cr_expect(strstr(out, "not compared: 1 only in A, 0 only in B"), "%s", out);
}

Test(compare, unpaired_when_repetitions_differ) {
    const char *argv[] = {"compare", path_a, path_c, "--filter", "/b/"};
    cr_assert_eq(run(5, argv), 0);
    fflush(stdout);
    char *out = read_all(cr_get_redirected_stdout());
    cr_expect(strstr(out, "unpaired"), "%s", out);
    cr_expect(!strstr(out, "forward/a/scalar"), "filtered out:\n%s", out);
    cr_expect(strstr(out, "geomean B/A over 1 benchmarks: 0.49"), "%s", out);
}

Test(compare, usage_errors_exit_2) {
    const char *one[] = {"compare", path_a};
    cr_expect_eq(run(2, one), 2);
    const char *missing[] = {"compare", path_a, "/nonexistent.json"};
    cr_expect_eq(run(3, missing), 2);
    const char *option[] = {"compare", path_a, path_b, "--frobnicate"};
    cr_expect_eq(run(4, option), 2);
    const char *nomatch[] = {"compare", path_a, path_b, "--filter", "^nothing$"};
    cr_expect_eq(run(5, nomatch), 2);
    fflush(stderr);
    char *err = read_all(cr_get_redirected_stderr());
    cr_expect(strstr(err, "/nonexistent.json"), "%s", err);
    cr_expect(strstr(err, "unknown option '--frobnicate'"), "%s", err);
    cr_expect(strstr(err, "no benchmark name in common"), "%s", err);
    const char *help[] = {"compare", "--help"};
    cr_expect_eq(run(2, help), 0);
}

/* The library under the command: the rows, in A's order, with both sides' statistics, the paired
 * ratio and the geometric mean; a selection; and what it says when a file cannot be read. */
static int only_b_names(const char *name, void *arg) {
    return strstr(name, (const char *)arg) != NULL;
}

Test(compare, library_rows) {
    qk_compare_result r;
    qk_error err = {{0}};
    cr_assert_eq(qk_compare_files(path_a, path_b, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert(r.loaded);
    cr_assert_eq(r.n_rows, 2);
    cr_expect_str_eq(r.rows[0].name, "forward/a/scalar/t:1");
    cr_expect_str_eq(r.rows[1].name, "forward/b/scalar/t:1");
    cr_expect_eq(r.rows[0].n_a, 5);
    cr_expect_eq(r.rows[0].n_b, 5);
    cr_expect(r.rows[0].paired && r.rows[0].significant);
    cr_expect_float_eq(r.rows[0].ratio, 0.5, 1e-9);
    cr_expect_float_eq(r.rows[0].stats_a.median, 10.2, 1e-9);
    cr_expect_float_eq(r.geomean, 0.5, 1e-9);
    cr_expect_eq(r.n_significant, 2);
    cr_expect_eq(r.only_a, 1);
    cr_expect_eq(r.only_b, 0);
    cr_expect_eq(r.file[0].n_names, 3);
    cr_expect_str_eq(r.file[1].path, path_b);
    qk_compare_free(&r);

    cr_assert_eq(qk_compare_files(path_a, path_c, only_b_names, "/b/", &r, &err), 0, "%s", err.msg);
    cr_expect_eq(r.n_rows, 1);
    cr_expect(!r.rows[0].paired);
    cr_expect_eq(r.only_a, 0);
    qk_compare_free(&r);

    cr_expect_eq(qk_compare_files(path_a, "/nonexistent.json", NULL, NULL, &r, &err), -1);
    cr_expect(!r.loaded);
    cr_expect(strstr(err.msg, "/nonexistent.json"), "%s", err.msg);
    qk_compare_free(&r);
}

/* Sittings: A and B each in five sittings whose medians overlap (the machine state of a sitting
 * moves both sides alike) while B's repetitions are 2% slower within each sitting: the repetitions
 * alone would call that a difference, the sittings' medians do not. */
static void write_sittings(const char *basename, const double *sitting_ms, double factor) {
    qk_results *r = qk_results_new();
    cr_assert_eq(qk_results_capture_environment(r), 0);
    for (int j = 0; j < 5; j++)
        for (int k = 0; k < 6; k++) {
            json_t *x = json_pack("{s:i}", "sitting", j);
            const double t = 1e-3 * sitting_ms[j] * factor * (1 + 0.001 * k);
            cr_assert_eq(qk_results_add_repetition(r, "forward/s/avx2/t:1", j * 6 + k, 30, t, t, x),
                         0);
            json_decref(x);
        }
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, basename, 1, 1, &err), 0, "%s", err.msg);
    qk_results_free(r);
}

Test(compare, rank_test_over_sittings) {
    const double sit[5] = {10, 12, 9, 11, 10.5};
    write_sittings("sa", sit, 1.0);
    write_sittings("sb", sit, 1.02);
    char pa[160], pb[160];
    snprintf(pa, sizeof pa, "%s/sa.json", dir);
    snprintf(pb, sizeof pb, "%s/sb.json", dir);
    qk_compare_result r;
    qk_error err = {{0}};
    cr_assert_eq(qk_compare_files(pa, pb, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.n_rows, 1);
    const qk_compare_row *x = &r.rows[0];
    cr_expect_eq(x->sittings_a, 5);
    cr_expect_eq(x->sittings_b, 5);
    cr_expect(x->rank_over_sittings);
    cr_expect(x->rank.exact);
    cr_expect(!x->differs, "overlapping sittings: p = %g", x->rank.p);
    cr_expect(!x->too_few, "5 against 5 sittings can reach p < 0.05 (floor %g)", x->rank.p_floor);
    /* a single-run view would call it: the paired repetition ratio's interval excludes 1 */
    cr_expect(x->significant, "B/A = %g [%g, %g]", x->ratio, x->lo, x->hi);
    qk_compare_free(&r);
    /* A against A shifted by 2x in every sitting: the sittings say so */
    write_sittings("sc", sit, 2.0);
    snprintf(pb, sizeof pb, "%s/sc.json", dir);
    cr_assert_eq(qk_compare_files(pa, pb, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_expect(r.rows[0].differs && r.rows[0].rank_over_sittings);
    cr_expect_float_eq(r.rows[0].rank.p, 2.0 / 252, 1e-12);
    qk_compare_free(&r);
    char p[200];
    const char *files[] = {"sa", "sb", "sc"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s.json", dir, files[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s.csv", dir, files[i]);
        unlink(p);
    }
}

/* A repetition with a negative (or zero) time is refused, not turned into a "-3.25x" ratio. */
Test(compare, impossible_times_are_refused) {
    qk_results *r = qk_results_new();
    cr_assert_eq(qk_results_capture_environment(r), 0);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(qk_results_add_repetition(r, "forward/a/scalar/t:1", k, 5,
                                               k == 2 ? -0.0325 : 0.01, 0.01, NULL),
                     0);
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, "neg", 1, 1, &err), 0, "%s", err.msg);
    qk_results_free(r);
    char p[160];
    snprintf(p, sizeof p, "%s/neg.json", dir);
    qk_compare_result res;
    cr_assert_eq(qk_compare_files(path_a, p, NULL, NULL, &res, &err), -1);
    cr_expect_not_null(strstr(err.msg, "not a positive time"), "%s", err.msg);
    qk_compare_free(&res);
    unlink(p);
    snprintf(p, sizeof p, "%s/neg.csv", dir);
    unlink(p);
}

/* B is A's file with its context changed: another build is refused, another CPU is said. */
static const char *changed_copy(const char *key, json_t *value) {
    json_error_t je;
    json_t *doc = json_load_file(path_a, 0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    json_object_set_new(json_object_get(doc, "context"), key, value);
    static char p[160];
    snprintf(p, sizeof p, "%s/changed.json", dir);
    cr_assert_eq(json_dump_file(doc, p, 0), 0);
    json_decref(doc);
    return p;
}

Test(compare, builds_and_cpus_are_checked) {
    json_error_t je;
    json_t *doc = json_load_file(path_a, 0, &je);
    const int sanitized =
        json_is_true(json_object_get(json_object_get(doc, "context"), "sanitized"));
    json_decref(doc);
    qk_compare_result r;
    qk_error err = {{0}};
    const char *other = changed_copy("sanitized", json_boolean(!sanitized));
    cr_assert_eq(qk_compare_files(path_a, other, NULL, NULL, &r, &err), -1);
    cr_expect_not_null(strstr(err.msg, "cannot be compared"), "%s", err.msg);
    cr_expect(!r.loaded);
    qk_compare_free(&r);
    other = changed_copy("cpu_model", json_string("Another CPU"));
    cr_assert_eq(qk_compare_files(path_a, other, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_expect_not_null(strstr(r.cpu_note, "not the same CPU"), "%s", r.cpu_note);
    qk_compare_free(&r);
    cr_assert_eq(qk_compare_files(path_a, path_b, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_expect_str_eq(r.cpu_note, "");
    qk_compare_free(&r);
    unlink(other);
}
