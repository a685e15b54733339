/* No lost results: result files are written atomically and never replace an existing file without
 * force; a results file of another schema version gets a clear message from the loader and from the
 * commands that read results (compare, report); SIGINT or SIGTERM during `qkbench run` leaves a
 * valid checkpoint (NAME.partial.json: complete false, state interrupted, every repetition
 * measured, the group in flight too) and exit status 130; with --force the earlier complete
 * NAME.json/.csv survive SIGINT, SIGTERM and SIGKILL a second into the new run; a file-size limit
 * hit by the final write leaves the earlier results and no file that claims an interruption;
 * gen-model and roofline refuse to replace a file without --force, and roofline refuses more
 * threads than PUs.
 *
 * The signal tests run the real binary (QK_QKBENCH_EXE) on a small experiment over the tiny
 * synthetic model, generated into a temporary QK_MODEL_DIR, and signal it as soon as its checkpoint
 * holds a measured group (checked every 50 ms; the file is replaced atomically, so reading it
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/output_file.h"
#include "harness/results.h"
#include "tests/support/test_util.h"

extern char **environ;

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-safety-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void) {
    qk_test_remove_tree(dir);
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

/* As spawn_qkbench, in a child whose files may not grow beyond fsize bytes (RLIMIT_FSIZE, with
 * SIGXFSZ ignored so a write past it fails with EFBIG, as a full disk fails with ENOSPC). */
static pid_t spawn_limited(const char *name, char *const *args, rlim_t fsize) {
    char out[256], errp[256], models[256];
    snprintf(out, sizeof out, "%s/%s.out", dir, name);
    snprintf(errp, sizeof errp, "%s/%s.err", dir, name);
    snprintf(models, sizeof models, "%s/models", dir);
    mkdir(models, 0755);
    setenv("QK_MODEL_DIR", models, 1);
    fflush(NULL);
    const pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        const int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int n = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || n < 0) _exit(126);
        dup2(o, 1), dup2(e, 2), dup2(n, 0);
        signal(SIGXFSZ, SIG_IGN);
        const struct rlimit rl = {fsize, fsize};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(125);
        execv(QK_QKBENCH_EXE, args);
        _exit(127);
    }
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
    snprintf(json, sizeof json, "%s/interrupted.partial.json", out);
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
    const char *state = json_string_value(json_object_get(doc, "state"));
    cr_expect(state && !strcmp(state, "interrupted"), "state %s", state ? state : "missing");
    json_t *benchmarks = json_object_get(doc, "benchmarks");
    cr_expect(json_is_array(benchmarks) && json_array_size(benchmarks) >= 1,
              "no benchmark in the partial file");
    cr_expect_geq((int)json_array_size(benchmarks), seen, "records lost after the signal");
    json_decref(doc);
    qk_error err;
    cr_expect_eq(qk_results_load(json, &doc, &err), 0, "%s", err.msg);
    if (doc) json_decref(doc);
    /* the complete files are written only by a complete run */
    const char *const files[] = {"interrupted.partial.json", "interrupted.partial.csv"};
    cr_expect_eq(count_strays(out, files, 2), 0, "temporary or complete files left behind");
    expect_output("run", "out", "(incomplete)");
    expect_output("run", "out", "interrupted.partial.json");
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

/* ---------------------------------------------------------------- --force keeps the earlier run */

/* Waits (up to 30 s) until the run started as NAME says on stderr that it starts measuring. */
static void wait_until_measuring(pid_t pid, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.err", dir, name);
    const double t0 = now();
    for (;;) {
        char *text = read_all(path, NULL);
        const int started = text && strstr(text, " configurations, ");
        free(text);
        if (started) return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) cr_assert_fail("exited early (0x%x)", st);
        if (now() - t0 > 30) cr_assert_fail("the run did not start measuring within 30 s");
        usleep(20000);
    }
}

/* A complete run named `forced`, then a longer --force run of the same name signalled a second
 * after it starts measuring: the first run's JSON and CSV must be there, byte for byte. */
static void forced_run_signalled(int sig) {
    char quick_ini[192], long_ini[192], out[192], json[256], csv[256], partial[256];
    snprintf(quick_ini, sizeof quick_ini, "%s/quick.ini", dir);
    snprintf(long_ini, sizeof long_ini, "%s/long.ini", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(json, sizeof json, "%s/forced.json", out);
    snprintf(csv, sizeof csv, "%s/forced.csv", out);
    snprintf(partial, sizeof partial, "%s/forced.partial.json", out);
    static const char common[] = "model = synthetic:tiny\n[sweep]\nkernels = parse-per-block, "
                                 "zero-copy\nisas = scalar\nthreads = 1\n";
    char text[1024];
    snprintf(text, sizeof text,
             "[experiment]\nname = forced\n%sseq_len = 4\n[measure]\nrepetitions = 2\nwarmups = "
             "0\ncounters = none\naccuracy = false\n",
             common);
    write_text(quick_ini, text);
    snprintf(text, sizeof text,
             "[experiment]\nname = forced\n%sseq_len = 64, 128, 256\n[measure]\nrepetitions = "
             "200\nwarmups = 0\ncounters = none\naccuracy = false\n",
             common);
    write_text(long_ini, text);
    char *first[] = {"qkbench", "run", quick_ini, "-o", out, NULL};
    int st = wait_for(spawn_qkbench("first", first), 60);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "first run: status 0x%x", st);
    size_t jlen, clen;
    char *jbefore = read_all(json, &jlen), *cbefore = read_all(csv, &clen);
    cr_assert(jbefore && cbefore, "the first run wrote no forced.json/.csv");

    char *forced[] = {"qkbench", "run", long_ini, "-o", out, "--force", NULL};
    pid_t pid = spawn_qkbench("forced", forced);
    wait_until_measuring(pid, "forced");
    usleep(1000000);
    cr_assert_eq(kill(pid, sig), 0);
    st = wait_for(pid, 30);
    if (sig == SIGKILL)
        cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status 0x%x", st);
    else
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status 0x%x", st);

    size_t jlen2 = 0, clen2 = 0;
    char *jafter = read_all(json, &jlen2), *cafter = read_all(csv, &clen2);
    cr_expect(jafter && jlen2 == jlen && !memcmp(jbefore, jafter, jlen),
              "the earlier complete forced.json did not survive the interrupted --force run");
    cr_expect(cafter && clen2 == clen && !memcmp(cbefore, cafter, clen),
              "the earlier complete forced.csv did not survive the interrupted --force run");
    /* what the new run measured is beside it, marked for what it is */
    json_error_t je;
    json_t *doc = json_load_file(partial, 0, &je);
    cr_assert(doc, "%s: %s", partial, je.text);
    cr_expect(json_is_false(json_object_get(doc, "complete")));
    const char *state = json_string_value(json_object_get(doc, "state"));
    cr_expect(state && !strcmp(state, sig == SIGKILL ? "running" : "interrupted"), "state %s",
              state ? state : "missing");
    json_decref(doc);
    free(jbefore), free(cbefore), free(jafter), free(cafter);
}

Test(results_safety, force_run_keeps_the_earlier_results_through_sigint) {
    forced_run_signalled(SIGINT);
}

Test(results_safety, force_run_keeps_the_earlier_results_through_sigterm) {
    forced_run_signalled(SIGTERM);
}

Test(results_safety, force_run_keeps_the_earlier_results_through_sigkill) {
    forced_run_signalled(SIGKILL);
}

/* ---------------------------------------------------------------- repetition-level checkpoints */

Test(results_safety, interrupt_in_a_group_keeps_its_repetitions) {
    char ini[192], out[192], partial[256];
    snprintf(ini, sizeof ini, "%s/onegroup.ini", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(partial, sizeof partial, "%s/onegroup.partial.json", out);
    write_text(ini, "[experiment]\nname = onegroup\nmodel = synthetic:tiny\n[sweep]\nkernels = "
                    "parse-per-block, zero-copy\nisas = scalar\nthreads = 1\nseq_len = 32\n"
                    "[measure]\nrepetitions = 4000\nwarmups = 0\ncounters = none\naccuracy = "
                    "false\n");
    char *args[] = {"qkbench", "run", ini, "-o", out, NULL};
    pid_t pid = spawn_qkbench("onegroup", args);
    wait_until_measuring(pid, "onegroup");
#if defined(__SANITIZE_ADDRESS__)
    usleep(5000000); /* inside the only group (a pass is some 10x slower under ASan) */
#else
    usleep(2000000); /* inside the only group: no group has ended */
#endif
    int st;
    cr_assert_eq(kill(pid, SIGINT), 0);
    st = wait_for(pid, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status 0x%x", st);
    json_t *doc;
    qk_error err;
    char json[256]; /* the checkpoint; (only an earlier design wrote the incomplete run there) */
    snprintf(json, sizeof json, "%s/onegroup.json", out);
    cr_assert_eq(qk_results_load(access(partial, F_OK) == 0 ? partial : json, &doc, &err), 0, "%s",
                 err.msg);
    cr_expect(json_is_false(json_object_get(doc, "complete")));
    cr_expect_neq(access(json, F_OK), 0, "an incomplete run wrote onegroup.json");
    int iterations[2] = {0, 0}, aggregates = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *type = json_string_value(json_object_get(b, "run_type"));
        const char *name = json_string_value(json_object_get(b, "run_name"));
        cr_assert(type && name);
        cr_expect_eq(json_integer_value(json_object_get(b, "repetitions_planned")), 4000);
        const int k = strstr(name, "zero-copy") != NULL;
        if (!strcmp(type, "iteration")) iterations[k]++;
        if (!strcmp(type, "aggregate") &&
            !strcmp(json_string_value(json_object_get(b, "aggregate_name")), "median")) {
            aggregates++;
            const json_int_t n = json_integer_value(json_object_get(b, "repetitions"));
            cr_expect(n >= 1 && n < 4000, "%s: %d repetitions", name, (int)n);
            cr_expect(json_is_true(json_object_get(b, "repetitions_incomplete")));
        }
    }
    cr_expect(iterations[0] >= 1 && iterations[1] >= 1,
              "the repetitions measured before the interrupt are gone (%d, %d)", iterations[0],
              iterations[1]);
    cr_expect_eq(aggregates, 2, "each configuration has its statistics over what was measured");
    json_decref(doc);
}

/* ---------------------------------------------------------------- a full disk at the final write
 */

Test(results_safety, failed_final_write_is_not_an_interrupted_run) {
    char ini[192], out[192], json[256], partial[256];
    snprintf(ini, sizeof ini, "%s/full.ini", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(json, sizeof json, "%s/full.json", out);
    snprintf(partial, sizeof partial, "%s/full.partial.json", out);
    /* two groups: the checkpoint after the first is about half the final file */
    write_text(ini, "[experiment]\nname = full\nmodel = synthetic:tiny\n[sweep]\nkernels = "
                    "parse-per-block, zero-copy\nisas = scalar\nthreads = 1\nseq_len = 4, 5\n"
                    "[measure]\nrepetitions = 60\nwarmups = 0\ncounters = none\naccuracy = "
                    "false\n");
    char *args[] = {"qkbench", "run", ini, "-o", out, NULL};
    int st = wait_for(spawn_qkbench("full1", args), 120);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "first run: status 0x%x", st);
    size_t len;
    char *before = read_all(json, &len);
    cr_assert(before);

    /* the same run again with --force, its files limited to 80% of the first run's JSON */
    char *forced[] = {"qkbench", "run", ini, "-o", out, "--force", NULL};
    st = wait_for(spawn_limited("full2", forced, (rlim_t)(len * 8 / 10)), 120);
    cr_assert(WIFEXITED(st), "status 0x%x", st);
    cr_expect_eq(WEXITSTATUS(st), 1, "a failed final write is a run-time failure");
    expect_stderr("full2", "File too large");
    expect_stderr("full2", "full.partial.json");
    size_t len2 = 0;
    char *after = read_all(json, &len2);
    cr_expect(after && len2 == len && !memcmp(before, after, len),
              "the earlier complete full.json was replaced");
    /* what is left of the new run says it did not finish, and never that it was interrupted */
    json_error_t je;
    json_t *doc = json_load_file(partial, 0, &je);
    if (doc) {
        const char *state = json_string_value(json_object_get(doc, "state"));
        cr_expect(json_is_false(json_object_get(doc, "complete")));
        cr_expect(state && (!strcmp(state, "write_failed") || !strcmp(state, "running")),
                  "state %s", state ? state : "missing");
        json_decref(doc);
    }
    const char *const files[] = {"full.json", "full.csv", "full.partial.json", "full.partial.csv"};
    cr_expect_eq(count_strays(out, files, 4), 0, "temporary files left behind");
    free(before);
    free(after);
}

Test(results_safety, output_file_failure_leaves_the_target) {
    /* the unit itself, in a child whose files may not exceed 4 KiB */
    char path[192];
    snprintf(path, sizeof path, "%s/target.txt", dir);
    write_text(path, "the complete predecessor\n");
    fflush(NULL);
    const pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        const struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        static char big[65536];
        memset(big, 'x', sizeof big);
        qk_error err;
        const int rc = qk_write_file(path, big, sizeof big, 1, &err);
        _exit(rc != 0 && strstr(err.msg, "left as it was") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the failed write was not reported");
    char *text = read_all(path, NULL);
    cr_expect(text && !strcmp(text, "the complete predecessor\n"), "the target changed: %s",
              text ? text : "(gone)");
    free(text);
    const char *const files[] = {"target.txt"};
    cr_expect_eq(count_strays(dir, files, 1), 0, "the temporary file was left behind");
    /* without replace an existing target is refused, and stays */
    qk_error err;
    cr_expect_neq(qk_write_file(path, "new\n", 4, 0, &err), 0);
    cr_expect(strstr(err.msg, "already exists") && strstr(err.msg, "--force"), "%s", err.msg);
    text = read_all(path, NULL);
    cr_expect(text && !strcmp(text, "the complete predecessor\n"));
    free(text);
}

/* ---------------------------------------------------------------- gen-model and roofline */

Test(results_safety, gen_model_refuses_to_replace_without_force) {
    char model[192];
    snprintf(model, sizeof model, "%s/real.gguf", dir);
    write_text(model, "a real model, say\n");
    char *args[] = {"qkbench", "gen-model", "--preset", "tiny", "-o", model, NULL};
    int st = wait_for(spawn_qkbench("gen", args), 60);
    cr_assert(WIFEXITED(st));
    cr_expect_eq(WEXITSTATUS(st), 2);
    expect_stderr("gen", "already exists");
    expect_stderr("gen", "--force");
    char *text = read_all(model, NULL);
    cr_expect(text && !strcmp(text, "a real model, say\n"), "the file was replaced");
    free(text);
    char *forced[] = {"qkbench", "gen-model", "--preset", "tiny", "-o", model, "--force", NULL};
    st = wait_for(spawn_qkbench("genf", forced), 60);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
    size_t len;
    text = read_all(model, &len);
    cr_expect(text && len > 4 && !memcmp(text, "GGUF", 4), "--force did not write the model");
    free(text);
}

Test(results_safety, roofline_refuses_to_replace_without_force) {
    char path[192];
    snprintf(path, sizeof path, "%s/roofline.json", dir);
    write_text(path, "{\"earlier\": true}\n");
    char *args[] = {"qkbench", "roofline", "--threads", "1", "--seconds",
                    "0.01",    "--json",   path,        NULL};
    int st = wait_for(spawn_qkbench("roof", args), 60);
    cr_assert(WIFEXITED(st));
    cr_expect_eq(WEXITSTATUS(st), 2);
    expect_stderr("roof", "already exists");
    char *text = read_all(path, NULL);
    cr_expect(text && !strcmp(text, "{\"earlier\": true}\n"), "the file was replaced");
    free(text);
}

Test(results_safety, roofline_refuses_more_threads_than_pus) {
    char path[192];
    snprintf(path, sizeof path, "%s/roof1000.json", dir);
    char *args[] = {"qkbench", "roofline", "--threads", "1000", "--seconds",
                    "0.01",    "--json",   path,        NULL};
    int st = wait_for(spawn_qkbench("roof1000", args), 60);
    cr_assert(WIFEXITED(st));
    cr_expect_eq(WEXITSTATUS(st), 2, "a 1000-thread ceiling on this machine was reported");
    expect_stderr("roof1000", "usable PUs");
    cr_expect_neq(access(path, F_OK), 0, "a roofline file was written");
}
