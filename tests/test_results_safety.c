/* No lost results: result files are written atomically and never replace an existing file without
 * force; a results file of another schema version gets a clear message from the loader and from the
 * commands that read results (compare, report); SIGINT or SIGTERM during `qkbench run` leaves a
 * valid partial file (complete: false, the groups measured so far) and exit status 130.
 *
 * The signal tests run the real binary (QK_QKBENCH_EXE) on a small experiment over the tiny
 * synthetic model, generated into a temporary QK_MODEL_DIR, and signal it as soon as its results
 * file holds a measured group (checked every 50 ms; the file is replaced atomically, so reading it
 * mid-run is safe), then check what it left. */
#define _GNU_SOURCE /* environ */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/results.h"

extern char **environ;

static char dir[64];

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char sub[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
    closedir(d);
    rmdir(path);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-safety-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void) {
    remove_tree(dir);
}

TestSuite(results_safety, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------- helpers */

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            char *b = realloc(buf, cap + 1);
            cr_assert(b);
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
}

/* A results object with one configuration of three repetitions named `name`. */
static qk_results *make_results(const char *name, double base) {
    qk_results *r = qk_results_new();
    cr_assert(r);
    cr_assert_eq(qk_results_capture_environment(r), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(qk_results_add_repetition(r, name, i, 3, base + 0.001 * i, base, NULL), 0);
    return r;
}

/* Names of the files in folder `d` other than the expected ones: temporary files left behind. */
static int count_strays(const char *d, const char *const *expected, int n_expected) {
    DIR *dd = opendir(d);
    cr_assert(dd, "%s", d);
    struct dirent *e;
    int strays = 0;
    while ((e = readdir(dd))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int ok = 0;
        for (int i = 0; i < n_expected; i++) ok |= !strcmp(e->d_name, expected[i]);
        if (!ok) {
            cr_log_warn("unexpected file %s/%s", d, e->d_name);
            strays++;
        }
    }
    closedir(dd);
    return strays;
}

/* Runs the qkbench binary with args (NULL-terminated), stdout and stderr to DIR/NAME.out / .err.
 * Returns the pid. */
static pid_t spawn_qkbench(const char *name, char *const *args) {
    char out[256], errp[256];
    snprintf(out, sizeof out, "%s/%s.out", dir, name);
    snprintf(errp, sizeof errp, "%s/%s.err", dir, name);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char models[256];
    snprintf(models, sizeof models, "%s/models", dir);
    mkdir(models, 0755);
    setenv("QK_MODEL_DIR", models, 1);
    pid_t pid;
    int rc = posix_spawn(&pid, QK_QKBENCH_EXE, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot start %s: %s", QK_QKBENCH_EXE, strerror(rc));
    return pid;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits up to `seconds` for pid; returns its wait status, or kills it and fails. */
static int wait_for(pid_t pid, double seconds) {
    const double t0 = now();
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return st;
        cr_assert_eq(w, 0, "waitpid: %s", strerror(errno));
        if (now() - t0 > seconds) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            cr_assert_fail("qkbench did not exit within %.0f s", seconds);
        }
        usleep(20000);
    }
}

static void expect_output(const char *name, const char *ext, const char *needle) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    char *text = read_all(path, NULL);
    cr_assert(text, "%s", path);
    cr_expect(strstr(text, needle) != NULL, "%s lacks '%s':\n%s", path, needle, text);
    free(text);
}

static void expect_stderr(const char *name, const char *needle) {
    expect_output(name, "err", needle);
}

/* ---------------------------------------------------------------- atomic writes, --force */

Test(results_safety, existing_file_is_not_replaced_without_force) {
    char out[128], json[192], csv[192];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(json, sizeof json, "%s/run.json", out);
    snprintf(csv, sizeof csv, "%s/run.csv", out);
    qk_error err;
    qk_results *first = make_results("forward/first", 0.010);
    cr_assert_eq(qk_results_write(first, out, "run", 1, 0, &err), 0, "%s", err.msg);
    size_t jlen, clen;
    char *jbefore = read_all(json, &jlen), *cbefore = read_all(csv, &clen);
    cr_assert(jbefore && cbefore);

    /* another run (another object) with the same name, without force */
    qk_results *second = make_results("forward/second", 0.020);
    cr_assert_neq(qk_results_write(second, out, "run", 1, 0, &err), 0);
    cr_expect(strstr(err.msg, "already exists") && strstr(err.msg, "--force"), "%s", err.msg);
    size_t jlen2, clen2;
    char *jafter = read_all(json, &jlen2), *cafter = read_all(csv, &clen2);
    cr_assert(jafter && cafter);
    cr_expect(jlen2 == jlen && memcmp(jbefore, jafter, jlen) == 0, "the JSON changed");
    cr_expect(clen2 == clen && memcmp(cbefore, cafter, clen) == 0, "the CSV changed");
    const char *const files[] = {"run.json", "run.csv"};
    cr_expect_eq(count_strays(out, files, 2), 0, "temporary files left behind");
    free(jafter);
    free(cafter);

    /* the CSV alone existing is enough to refuse, and then the JSON is not written either */
    cr_assert_eq(unlink(json), 0);
    cr_assert_neq(qk_results_write(second, out, "run", 1, 0, &err), 0);
    cr_expect(strstr(err.msg, "run.csv already exists") != NULL, "%s", err.msg);
    cr_expect_neq(access(json, F_OK), 0, "the JSON was written although the CSV was refused");
    FILE *f = fopen(json, "w"); /* put the first run's JSON back */
    cr_assert(f);
    fwrite(jbefore, 1, jlen, f);
    fclose(f);

    /* with force the second run replaces both */
    cr_assert_eq(qk_results_write(second, out, "run", 1, 1, &err), 0, "%s", err.msg);
    json_t *doc;
    cr_assert_eq(qk_results_load(json, &doc, &err), 0, "%s", err.msg);
    json_t *b0 = json_array_get(json_object_get(doc, "benchmarks"), 0);
    const char *name = json_string_value(json_object_get(b0, "name"));
    cr_expect(name && !strcmp(name, "forward/second"), "first record: %s", name ? name : "none");
    json_decref(doc);
    char *cnew = read_all(csv, NULL);
    cr_expect(cnew && strstr(cnew, "forward/second") && !strstr(cnew, "forward/first"));
    cr_expect_eq(count_strays(out, files, 2), 0, "temporary files left behind");
    free(cnew);
    free(jbefore);
    free(cbefore);
    qk_results_free(first);
    qk_results_free(second);
}

Test(results_safety, a_run_rewrites_its_own_file) {
    /* the runner writes after every group: the object that wrote a file may replace it */
    char out[128], json[192];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(json, sizeof json, "%s/own.json", out);
    qk_error err;
    qk_results *r = make_results("forward/a", 0.010);
    cr_assert_eq(qk_results_write(r, out, "own", 0, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_results_add_repetition(r, "forward/b", 0, 1, 0.5, 0.5, NULL), 0);
    cr_assert_eq(qk_results_write(r, out, "own", 1, 0, &err), 0, "%s", err.msg);
    json_t *doc;
    cr_assert_eq(qk_results_load(json, &doc, &err), 0, "%s", err.msg);
    cr_expect(json_is_true(json_object_get(doc, "complete")));
    cr_expect_eq(json_array_size(json_object_get(doc, "benchmarks")), 4);
    json_decref(doc);
    qk_results_free(r);
}

/* ---------------------------------------------------------------- schema version */

/* Writes a results file, then rewrites its context.json_schema_version (NULL: removes it). */
static void write_with_version(const char *path, json_t *version) {
    char out[128];
    snprintf(out, sizeof out, "%s/v", dir);
    qk_error err;
    qk_results *r = make_results("forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact", 0.01);
    cr_assert_eq(qk_results_write(r, out, "v", 1, 1, &err), 0, "%s", err.msg);
    qk_results_free(r);
    char src[192];
    snprintf(src, sizeof src, "%s/v.json", out);
    json_error_t je;
    json_t *doc = json_load_file(src, 0, &je);
    cr_assert(doc, "%s", je.text);
    json_t *ctx = json_object_get(doc, "context");
    if (version)
        json_object_set_new(ctx, "json_schema_version", version);
    else
        json_object_del(ctx, "json_schema_version");
    cr_assert_eq(json_dump_file(doc, path, JSON_INDENT(1)), 0);
    json_decref(doc);
}

Test(results_safety, other_schema_version_is_named) {
    char path[192];
    snprintf(path, sizeof path, "%s/v2.json", dir);
    write_with_version(path, json_integer(2));
    json_t *doc = (void *)1;
    qk_error err;
    cr_assert_neq(qk_results_load(path, &doc, &err), 0);
    cr_expect_null(doc);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "results schema version 2") &&
                  strstr(err.msg, "reads version 1"),
              "%s", err.msg);

    write_with_version(path, NULL);
    cr_assert_neq(qk_results_load(path, &doc, &err), 0);
    cr_expect(strstr(err.msg, "results schema version none") != NULL, "%s", err.msg);

    write_with_version(path, json_string("1"));
    cr_assert_neq(qk_results_load(path, &doc, &err), 0);
    cr_expect(strstr(err.msg, "schema version") != NULL, "%s", err.msg);

    write_with_version(path, json_integer(QK_RESULTS_SCHEMA_VERSION));
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s", err.msg);
    json_decref(doc);
}

Test(results_safety, compare_and_report_name_the_schema_version) {
    char v1[192], v2[192], rep[192];
    snprintf(v1, sizeof v1, "%s/v1.json", dir);
    snprintf(v2, sizeof v2, "%s/v2.json", dir);
    snprintf(rep, sizeof rep, "%s/report", dir);
    write_with_version(v1, json_integer(QK_RESULTS_SCHEMA_VERSION));
    write_with_version(v2, json_integer(7));

    char *cmp[] = {"qkbench", "compare", v1, v2, NULL};
    int st = wait_for(spawn_qkbench("compare", cmp), 30);
    cr_assert(WIFEXITED(st));
    cr_expect_eq(WEXITSTATUS(st), 2);
    expect_stderr("compare", "results schema version 7; this qkbench reads version 1");

    char *report[] = {"qkbench", "report", v2, "-o", rep, NULL};
    st = wait_for(spawn_qkbench("report", report), 30);
    cr_assert(WIFEXITED(st));
    cr_expect_eq(WEXITSTATUS(st), 2);
    expect_stderr("report", "results schema version 7; this qkbench reads version 1");
}

/* ---------------------------------------------------------------- qkbench run */

static const char experiment[] = "[experiment]\n"
                                 "name = interrupted\n"
                                 "model = synthetic:tiny\n"
                                 "run = forward\n"
                                 "[sweep]\n"
                                 "kernels = parse-per-block, zero-copy\n"
                                 "isas = scalar\n"
                                 "threads = 1\n"
                                 "seq_len = 4, 64, 128, 256, 512\n"
                                 "act_scale = token\n"
                                 "binding = compact\n"
                                 "[measure]\n"
                                 "repetitions = 30\n"
                                 "warmups = 1\n"
                                 "quick_repetitions = 2\n"
                                 "counters = none\n"
                                 "accuracy = false\n";

/* Number of benchmark records in path, -1 if it cannot be read as JSON. */
static int benchmarks_in(const char *path) {
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) return -1;
    int n = (int)json_array_size(json_object_get(doc, "benchmarks"));
    json_decref(doc);
    return n;
}

static void interrupt_run(int sig) {
    char ini[192], out[192], json[256];
    snprintf(ini, sizeof ini, "%s/interrupted.ini", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(json, sizeof json, "%s/interrupted.json", out);
    write_text(ini, experiment);
    char *args[] = {"qkbench", "run", ini, "-o", out, NULL};
    const double t0 = now();
    pid_t pid = spawn_qkbench("run", args);

    /* signal once a group is in the file (its handler is installed by then), or after 15 s */
    int seen = 0, st;
    while (now() - t0 < 15.0) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            cr_assert_fail("qkbench exited (status 0x%x) before it was signalled", st);
        seen = benchmarks_in(json);
        if (seen > 0) break;
        usleep(50000);
    }
    cr_assert_gt(seen, 0, "no measured group in %s after 15 s", json);
    const double t_signal = now() - t0;
    cr_assert_eq(kill(pid, sig), 0);
    st = wait_for(pid, 20.0);
    cr_log_info("signal %d after %.2f s, exit %.2f s later", sig, t_signal, now() - t0 - t_signal);

    cr_assert(WIFEXITED(st), "qkbench did not exit normally (status 0x%x)", st);
    cr_expect_eq(WEXITSTATUS(st), 130, "exit status %d, expected 130", WEXITSTATUS(st));
    json_error_t je;
    json_t *doc = json_load_file(json, 0, &je);
    cr_assert(doc, "%s: %s (line %d)", json, je.text, je.line);
    json_t *complete = json_object_get(doc, "complete");
    cr_expect(json_is_false(complete), "\"complete\" is not false");
    json_t *benchmarks = json_object_get(doc, "benchmarks");
    cr_expect(json_is_array(benchmarks) && json_array_size(benchmarks) >= 1,
              "no benchmark in the partial file");
    cr_expect_geq((int)json_array_size(benchmarks), seen, "records lost after the signal");
    json_decref(doc);
    qk_error err;
    cr_expect_eq(qk_results_load(json, &doc, &err), 0, "%s", err.msg);
    if (doc) json_decref(doc);
    const char *const files[] = {"interrupted.json", "interrupted.csv"};
    cr_expect_eq(count_strays(out, files, 2), 0, "temporary files left behind");
    expect_output("run", "out", "(incomplete)");
}

Test(results_safety, sigint_leaves_a_valid_partial_file) {
    interrupt_run(SIGINT);
}

Test(results_safety, sigterm_leaves_a_valid_partial_file) {
    interrupt_run(SIGTERM);
}

Test(results_safety, run_refuses_to_overwrite_without_force) {
    char ini[192], out[192], json[256];
    snprintf(ini, sizeof ini, "%s/twice.ini", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(json, sizeof json, "%s/twice.json", out);
    write_text(ini, "[experiment]\nname = twice\nmodel = synthetic:tiny\n[sweep]\nkernels = "
                    "zero-copy\nisas = scalar\nseq_len = 4\n[measure]\nrepetitions = 2\n"
                    "warmups = 0\nquick_repetitions = 1\ncounters = none\naccuracy = false\n");
    char *args[] = {"qkbench", "run", ini, "-o", out, NULL};
    int st = wait_for(spawn_qkbench("first", args), 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "first run: status 0x%x", st);
    size_t len;
    char *before = read_all(json, &len);
    cr_assert(before);

    st = wait_for(spawn_qkbench("second", args), 30);
    cr_assert(WIFEXITED(st));
    cr_expect_eq(WEXITSTATUS(st), 2);
    expect_stderr("second", "already exists");
    expect_stderr("second", "--force");
    size_t len2;
    char *after = read_all(json, &len2);
    cr_expect(after && len2 == len && memcmp(before, after, len) == 0, "the results changed");
    free(after);

    char *forced[] = {"qkbench", "run", ini, "-o", out, "--force", NULL};
    st = wait_for(spawn_qkbench("forced", forced), 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "forced run: status 0x%x", st);
    free(before);
}
