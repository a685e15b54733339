/* `qkbench run --sittings K` end to end (the qkbench executable, the small model of testdata,
 * --quick, two configurations): NAME.json says context.sittings.count K and holds repetitions of
 * every sitting, with each sitting's own files beside it; an existing NAME.json is kept without
 * --force; `qkbench compare` on two such files ranks over the sittings; Ctrl-C while the next
 * sitting waits for its spacing keeps the finished sitting, merged in the checkpoint; a sitting
 * that fails is reported with its exit status and last lines, the finished one kept. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/results.h"
#include "tests/support/test_util.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-sitrun-XXXXXX");
    cr_assert(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof p, "%s/tiny.ini", dir);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fprintf(f,
            "[experiment]\nname = tiny\nmodel = %s/tiny-gemma.gguf\n[sweep]\n"
            "kernels = zero-copy, precached-scales\nisas = scalar\nseq_len = 4\n[measure]\n"
            "repetitions = 3\nquick_repetitions = 3\nwarmups = 0\ncounters = none\n"
            "accuracy = false\n",
            QK_TESTDATA_DIR);
    cr_assert_eq(fclose(f), 0);
}

static void teardown(void) {
    qk_test_remove_tree(dir);
}

TestSuite(sittings_run, .init = setup, .fini = teardown, .timeout = 120);

/* qkbench ARGS in dir, output to dir/log; its exit status. */
static int qkbench(const char *args) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s >log 2>&1", dir, QK_QKBENCH_EXE, args);
    const int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s did not exit", cmd);
    return WEXITSTATUS(st);
}

static char *slurp(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    static char buf[1 << 20];
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

static int exists(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return access(p, F_OK) == 0;
}

static json_t *load(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    json_t *doc;
    qk_error err;
    cr_assert_eq(qk_results_load(p, &doc, &err), 0, "%s", err.msg);
    return doc;
}

/* How many iteration records of doc have "sitting" j. */
static int reps_of_sitting(const json_t *doc, int j) {
    int n = 0;
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (!strcmp(json_string_value(json_object_get(b, "run_type")), "iteration") &&
            json_integer_value(json_object_get(b, "sitting")) == j && json_object_get(b, "sitting"))
            n++;
    }
    return n;
}

Test(sittings_run, two_sittings_merge_into_one_file_beside_their_own) {
    cr_assert_eq(qkbench("run tiny.ini -o out --quick --sittings 2"), 0, "%s", slurp("log"));
    json_t *doc = load("out/tiny.json");
    cr_expect(json_is_true(json_object_get(doc, "complete")));
    const json_t *sit = json_object_get(json_object_get(doc, "context"), "sittings");
    cr_expect_eq(json_integer_value(json_object_get(sit, "count")), 2);
    cr_expect_eq(json_array_size(json_object_get(sit, "runs")), 2);
    cr_expect_eq(reps_of_sitting(doc, 0), 2 * 3, "sitting 0: %d repetitions",
                 reps_of_sitting(doc, 0));
    cr_expect_eq(reps_of_sitting(doc, 1), 2 * 3, "sitting 1: %d repetitions",
                 reps_of_sitting(doc, 1));
    cr_expect_eq(json_array_size(json_object_get(doc, "comparisons")), 1);
    json_decref(doc);
    cr_expect(exists("out/tiny.csv"));
    cr_expect(!exists("out/tiny.partial.json"), "the checkpoint stayed after a complete run");
    for (int j = 1; j <= 2; j++) {
        char p[64];
        snprintf(p, sizeof p, "out/tiny.sittings/sitting-%d.json", j);
        json_t *one = load(p);
        const json_t *s = json_object_get(json_object_get(one, "context"), "sitting");
        cr_expect_eq(json_integer_value(json_object_get(s, "index")), j - 1);
        cr_expect_eq(json_integer_value(json_object_get(s, "count")), 2);
        json_decref(one);
    }
    char *log = slurp("log");
    cr_expect(strstr(log, "sitting 2/2"), "%s", log);
    free(log);

    /* again without --force: refused, the merged file as it was */
    char *before = slurp("out/tiny.json");
    cr_expect_eq(qkbench("run tiny.ini -o out --quick --sittings 2"), 2);
    log = slurp("log");
    cr_expect(strstr(log, "tiny.json already exists"), "%s", log);
    free(log);
    char *after = slurp("out/tiny.json");
    cr_expect_str_eq(after, before);
    free(after);

    /* a second file of two sittings: compare ranks over the sittings' medians */
    cr_assert_eq(qkbench("run tiny.ini -o out --quick --sittings 2 --name other"), 0, "%s",
                 slurp("log"));
    cr_expect_eq(qkbench("compare out/tiny.json out/other.json"), 0, "%s", slurp("log"));
    log = slurp("log");
    cr_expect(strstr(log, "2/2 sittings"), "%s", log);
    free(log);

    /* with --force the new merged file replaces it */
    cr_assert_eq(qkbench("run tiny.ini -o out --quick --sittings 2 --force"), 0, "%s",
                 slurp("log"));
    after = slurp("out/tiny.json");
    cr_expect_str_neq(after, before);
    free(after);
    free(before);
}

Test(sittings_run, ctrl_c_while_waiting_keeps_the_finished_sitting) {
    char log[128];
    snprintf(log, sizeof log, "%s/log", dir);
    const pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        if (chdir(dir)) _exit(125);
        execl(QK_QKBENCH_EXE, QK_QKBENCH_EXE, "run", "tiny.ini", "-o", "out", "--quick",
              "--sittings", "3", "--sitting-spacing", "60", (char *)NULL);
        _exit(127);
    }
    /* the first sitting's file appears; the second then waits for its spacing */
    for (int i = 0; i < 600 && !exists("out/tiny.sittings/sitting-1.json"); i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert(exists("out/tiny.sittings/sitting-1.json"), "%s", slurp("log"));
    /* its merge is checkpointed right after: wait for a checkpoint that has it */
    for (int i = 0; i < 600; i++) {
        char *p = slurp("out/tiny.partial.json");
        const int has = p && strstr(p, "\"sitting_repetition_index\"");
        free(p);
        if (has) break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGINT);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status %d: %s", st, slurp("log"));
    cr_expect(!exists("out/tiny.json"));
    cr_expect(!exists("out/tiny.sittings/sitting-2.json"));
    json_t *doc = load("out/tiny.partial.json");
    cr_expect(json_is_false(json_object_get(doc, "complete")));
    cr_expect_str_eq(json_string_value(json_object_get(doc, "state")), "interrupted");
    const json_t *sit = json_object_get(json_object_get(doc, "context"), "sittings");
    cr_expect_eq(json_integer_value(json_object_get(sit, "count")), 3);
    cr_expect_eq(json_array_size(json_object_get(sit, "runs")), 1);
    cr_expect_eq(reps_of_sitting(doc, 0), 2 * 3);
    json_decref(doc);
}

Test(sittings_run, a_failing_sitting_is_reported_and_the_finished_one_kept) {
    /* the model goes away after the first sitting: the second fails */
    char model[128], ini[128], cmd[600];
    snprintf(model, sizeof model, "%s/m.gguf", dir);
    snprintf(ini, sizeof ini, "%s/f.ini", dir);
    snprintf(cmd, sizeof cmd,
             "cp %s/tiny-gemma.gguf %s && sed 's|model = .*|model = %s|' %s/tiny.ini >%s",
             QK_TESTDATA_DIR, model, model, dir, ini);
    cr_assert_eq(system(cmd), 0);
    char log[128];
    snprintf(log, sizeof log, "%s/log", dir);
    const pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        if (chdir(dir)) _exit(125);
        execl(QK_QKBENCH_EXE, QK_QKBENCH_EXE, "run", "f.ini", "-o", "out", "--quick", "--sittings",
              "2", "--sitting-spacing", "2", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600 && !exists("out/tiny.sittings/sitting-1.json"); i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(unlink(model), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, slurp("log"));
    char *out = slurp("log");
    cr_expect(strstr(out, "sitting 2/2 failed (exit status 2)") && strstr(out, "m.gguf"), "%s",
              out);
    free(out);
    cr_expect(!exists("out/tiny.json"));
    json_t *doc = load("out/tiny.partial.json");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "state")), "failed");
    cr_expect(strstr(json_string_value(json_object_get(doc, "error")), "sitting 2/2 failed"));
    cr_expect_eq(reps_of_sitting(doc, 0), 2 * 3);
    json_decref(doc);
    cr_expect(exists("out/tiny.sittings/sitting-1.json"));
}
