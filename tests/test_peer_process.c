/* The llama.cpp peer in a child process of its own (harness/peers/llama_process.h, `qkbench
 * peer-child`): its embedding of the tiny test model equals the in-process peer's; the child is
 * pinned as a whole, at llama.cpp's default threadpool, and held stopped between passes; a child
 * that dies (killed, or llama.cpp aborting) fails the call with its signal and last words and is
 * reaped; a run with peer_mode = in-process, process records both peer configurations with their
 * peer_mode, binding and comparisons; a child killed in the middle of a run fails its
 * configuration only; and no child process is left after any of it. Skipped, with the reason,
 * when the peer is not installed. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/refdata.h"
#include "harness/peers/llama.h"
#include "harness/peers/llama_process.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "tests/support/test_util.h"

#define TINY QK_TESTDATA_DIR "/tiny-gemma.gguf"

/* Children of this process (zombies included); the first one's pid into *first, whose command
 * line holds `want` (NULL: any). -1 when /proc cannot be read. */
static int children_of_me(const char *want, pid_t *first) {
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    if (first) *first = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        const size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        const char *close_paren = strrchr(buf, ')'); /* the command name may hold spaces */
        char state;
        int ppid;
        if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
        if (ppid != getpid()) continue;
        if (want) {
            snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
            f = fopen(path, "r");
            if (!f) continue;
            const size_t l = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            for (size_t i = 0; i < l; i++)
                if (!buf[i]) buf[i] = ' ';
            buf[l] = 0;
            if (!strstr(buf, want)) continue;
        }
        if (first && !*first) *first = (pid_t)atoi(de->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static char proc_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return '?';
    const size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

static void proc_status_field(pid_t pid, const char *key, char *out, size_t size) {
    char path[64], line[512];
    out[0] = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    const size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            const char *v = line + kl + 1;
            while (*v == ' ' || *v == '\t') v++;
            snprintf(out, size, "%.60s", v);
            out[strcspn(out, "\n")] = 0;
        }
    fclose(f);
}

/* one timeout for every test (Criterion 2.4.1's runner, with --jobs=2, leaked under ASan when
 * tests of different timeouts overlapped) */
TestSuite(peer_process, .timeout = 180);

static const int32_t TOKENS[] = {2, 348, 411, 358, 508, 511, 453, 0, 242, 254, 486, 87, 1};
#define N_TOKENS 13

Test(peer_process, child_embeds_as_the_in_process_peer_pinned_and_stopped_between_passes) {
    if (qk_test_skip_unless_peer_installed()) return;
    qk_error err = {{0}};
    /* two threads (so ggml's threadpool has a worker), on two PUs when there are (two threads
     * polling on one PU take turns slowly) */
    const int cpus[] = {0, 1}, n_cpus = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    const char *want_allowed = n_cpus == 2 ? "0-1" : "0";
    const qk_peer_process_options o = {QK_QKBENCH_EXE, NULL, TINY, 2, 16, cpus, n_cpus};
    qk_peer_process *c;
    cr_assert_eq(qk_peer_process_start(&c, &o, &err), 0, "%s", err.msg);
    const pid_t pid = qk_peer_process_pid(c);
    cr_assert_gt(pid, 0);
    /* pinned as a whole to PU 0, and held stopped until asked */
    char allowed[64];
    proc_status_field(pid, "Cpus_allowed_list", allowed, sizeof allowed);
    cr_expect_str_eq(allowed, want_allowed);
    cr_expect_eq(proc_state(pid), 'T', "state %c", proc_state(pid));
    const json_t *info = qk_peer_process_info(c);
    const char *binding = json_string_value(json_object_get(info, "binding"));
    cr_assert_not_null(binding);
    cr_log_info("child binding: %s", binding);
    char want[128];
    snprintf(want, sizeof want, "own process, affinity %s, llama.cpp default threadpool, poll ",
             want_allowed);
    cr_expect(!strncmp(binding, want, strlen(want)), "%s", binding);
    cr_expect_str_eq(json_string_value(json_object_get(info, "threadpool")), "llama.cpp default");

    qk_peer_llama *in;
    cr_assert_eq(
        qk_peer_llama_open(&in, NULL, TINY, 1, 16, cpus, 1, QK_PEER_LLAMA_OUR_THREADPOOL, &err), 0,
        "%s", err.msg);
    /* the child reads llama.cpp's default polling from the library: as ggml's params say */
    char poll_word[32];
    snprintf(poll_word, sizeof poll_word, "poll %d",
             (int)json_integer_value(json_object_get(info, "poll")));
    cr_expect(strstr(binding, poll_word), "%s: not %s", binding, poll_word);
    cr_expect_eq(qk_peer_llama_poll(in), 0);
    const int dim = qk_peer_process_dim(c);
    cr_assert_eq(dim, qk_peer_llama_dim(in));
    cr_assert(dim <= 64);
    float ours[64], theirs[64];
    qk_peer_process_times t = {-1, -1, -1};
    cr_assert_eq(qk_peer_process_embed(c, TOKENS, N_TOKENS, theirs, &t, &err), 0, "%s", err.msg);
    cr_log_info("pass: wall %.3f ms, decode %.3f ms, cpu %.3f ms", 1e3 * t.wall_s, 1e3 * t.decode_s,
                1e3 * t.cpu_s);
    cr_expect(t.wall_s > 0 && t.decode_s > 0 && t.decode_s <= t.wall_s && t.cpu_s >= 0,
              "wall %g decode %g cpu %g", t.wall_s, t.decode_s, t.cpu_s);
    cr_expect_eq(proc_state(pid), 'T', "not stopped after the pass: %c", proc_state(pid));
    /* llama.cpp's default: ggml's threadpool lives for one decode, so between passes the
     * child is its main thread alone (nothing left that could poll) */
    char threads[16];
    proc_status_field(pid, "Threads", threads, sizeof threads);
    cr_expect_str_eq(threads, "1", "threads of the child between passes");
    cr_assert_eq(qk_peer_llama_embed(in, TOKENS, N_TOKENS, ours, NULL, &err), 0, "%s", err.msg);
    const double cos = qk_cosine(theirs, ours, dim);
    cr_log_info("child vs in-process: cosine %.8f", cos);
    cr_expect_gt(cos, 0.9999);
    /* a request the context cannot take: an error, and the child still serves */
    int32_t many[17] = {2};
    cr_expect_eq(qk_peer_process_embed(c, many, 17, theirs, NULL, &err), -1);
    cr_expect_eq(qk_peer_process_embed(c, TOKENS, 4, theirs, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(proc_state(pid), 'T', "not stopped after the last pass: %c", proc_state(pid));
    qk_peer_llama_close(in);
    qk_peer_process_close(c);
    cr_expect_eq(children_of_me(NULL, NULL), 0, "a child is left after close");
}

Test(peer_process, a_killed_child_fails_the_call_and_is_reaped) {
    if (qk_test_skip_unless_peer_installed()) return;
    qk_error err = {{0}};
    const qk_peer_process_options o = {QK_QKBENCH_EXE, NULL, TINY, 1, 16, NULL, 0};
    qk_peer_process *c;
    cr_assert_eq(qk_peer_process_start(&c, &o, &err), 0, "%s", err.msg);
    cr_expect(strstr(json_string_value(json_object_get(qk_peer_process_info(c), "binding")),
                     "not pinned"));
    float out[64];
    cr_assert_eq(qk_peer_process_embed(c, TOKENS, 5, out, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(kill(qk_peer_process_pid(c), SIGKILL), 0);
    cr_assert_eq(qk_peer_process_embed(c, TOKENS, 5, out, NULL, &err), -1);
    cr_expect(strstr(err.msg, "peer child killed by SIGKILL"), "%s", err.msg);
    cr_expect_eq(qk_peer_process_pid(c), 0, "not reaped");
    /* and it stays failed, saying the same */
    cr_expect_eq(qk_peer_process_embed(c, TOKENS, 5, out, NULL, &err), -1);
    cr_expect(strstr(err.msg, "SIGKILL"), "%s", err.msg);
    qk_peer_process_close(c);
    cr_expect_eq(children_of_me(NULL, NULL), 0);
}

Test(peer_process, an_aborting_llama_cpp_gives_its_signal_and_last_words) {
    if (!qk_peer_llama_built()) {
        cr_skip_test("peer llama.cpp not built (headers missing: run scripts/install-peer.sh)");
        return;
    }
    qk_error err = {{0}};
    const qk_peer_process_options o = {QK_QKBENCH_EXE, QK_ABORT_LLAMA, TINY, 1, 8, NULL, 0};
    qk_peer_process *c = (qk_peer_process *)1;
    cr_assert_eq(qk_peer_process_start(&c, &o, &err), -1, "%s", err.msg);
    cr_assert_null(c);
    cr_expect(strstr(err.msg, "peer child killed by SIGABRT (signal 6)") &&
                  strstr(err.msg, "GGML_ASSERT"),
              "%s", err.msg);
    cr_expect_eq(children_of_me(NULL, NULL), 0);
    /* a library that is not there: said before any child starts */
    const qk_peer_process_options bad = {
        QK_QKBENCH_EXE, "/nonexistent/libllama.so", TINY, 1, 8, NULL, 0};
    cr_expect_eq(qk_peer_process_start(&c, &bad, &err), 1, "%s", err.msg);
    cr_expect(strstr(err.msg, "/nonexistent/libllama.so"), "%s", err.msg);
}

Test(peer_process, run_by_hand_it_refuses) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd,
             "%s peer-child --model %s --threads 1 --max-tokens 4 3</dev/null 2>/dev/null",
             QK_QKBENCH_EXE, TINY);
    const int st = system(cmd);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) != 0, "status %d", st);
    snprintf(cmd, sizeof cmd, "%s --help | grep -q peer-child", QK_QKBENCH_EXE);
    cr_expect_neq(system(cmd), 0, "--help lists the internal command");
}

/* ---------------------------------------------------------------- in a run */

static char run_dir[64];

static void make_run_dir(void) {
    snprintf(run_dir, sizeof run_dir, "/tmp/qk-peerproc-XXXXXX");
    cr_assert(mkdtemp(run_dir));
}

static void remove_run_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", run_dir);
    cr_expect_eq(system(cmd), 0);
}

static qk_run_status run_both_modes(json_t **doc, void (*progress)(void *, const qk_run_progress *),
                                    qk_error *err) {
    char ini[128], out[128], path[192];
    snprintf(ini, sizeof ini, "%s/pm.ini", run_dir);
    snprintf(out, sizeof out, "%s/out", run_dir);
    FILE *f = fopen(ini, "w");
    cr_assert(f);
    fprintf(f,
            "[experiment]\nname = pm\nmodel = %s\n[sweep]\nkernels = zero-copy\nisas = "
            "scalar\nseq_len = 4\nthreads = 1\npeer = llama.cpp\npeer_mode = in-process, "
            "process\n[measure]\nrepetitions = 3\nquick_repetitions = 3\nwarmups = 1\ncounters "
            "= none\naccuracy = false\n",
            TINY);
    cr_assert_eq(fclose(f), 0);
    qk_run_options o = {.experiment_path = ini,
                        .out_dir = out,
                        .quick = 1,
                        .force = 1,
                        .self_exe = QK_QKBENCH_EXE,
                        .obs = {.progress = progress}};
    qk_run_outcome res;
    const qk_run_status st = qk_run_experiment(&o, &res, err);
    qk_run_outcome_free(&res);
    snprintf(path, sizeof path, "%s/out/pm.json", run_dir);
    *doc = NULL;
    if (st == QK_RUN_COMPLETE) cr_assert_eq(qk_results_load(path, doc, err), 0, "%s", err->msg);
    return st;
}

static json_t *find_record(json_t *doc, const char *name, const char *aggregate) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *n = json_string_value(json_object_get(b, "run_name"));
        if (!n) n = json_string_value(json_object_get(b, "name"));
        const char *agg = json_string_value(json_object_get(b, "aggregate_name"));
        if (n && !strcmp(n, name) && (aggregate ? agg && !strcmp(agg, aggregate) : !agg)) return b;
    }
    return NULL;
}

Test(peer_process, a_run_records_both_peer_modes, .init = make_run_dir, .fini = remove_run_dir) {
    if (qk_test_skip_unless_peer_installed()) return;
    qk_error err = {{0}};
    json_t *doc;
    const qk_run_status st = run_both_modes(&doc, NULL, &err);
    cr_assert_eq(st, QK_RUN_COMPLETE, "status %d: %s", st, err.msg);
    static const char *const names[2] = {"forward/llama.cpp/peer/t:1/seq:4/bind:compact",
                                         "forward/llama.cpp/peer-process/t:1/seq:4/bind:compact"};
    static const char *const modes[2] = {"in-process", "process"};
    for (int m = 0; m < 2; m++) {
        int iterations = 0;
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
            const char *n = json_string_value(json_object_get(b, "run_name"));
            if (!n) n = json_string_value(json_object_get(b, "name"));
            if (!n || strcmp(n, names[m]) != 0) continue;
            cr_expect_str_eq(json_string_value(json_object_get(b, "peer_mode")), modes[m], "%s", n);
            if (!strcmp(json_string_value(json_object_get(b, "run_type")), "iteration")) {
                iterations++;
                cr_expect_gt(json_real_value(json_object_get(b, "real_time")), 0);
                cr_expect_gt(json_real_value(json_object_get(b, "decode_ms")), 0);
            }
        }
        cr_expect_eq(iterations, 3, "%s: %d iterations", names[m], iterations);
        json_t *med = find_record(doc, names[m], "median");
        cr_assert_not_null(med, "%s has no median", names[m]);
        cr_expect_str_eq(json_string_value(json_object_get(med, "isa")),
                         m ? "peer-process" : "peer");
        json_t *peer = json_object_get(med, "peer");
        cr_expect_str_eq(json_string_value(json_object_get(peer, "mode")), modes[m]);
        const char *binding = json_string_value(json_object_get(peer, "binding"));
        cr_log_info("%s: %s", modes[m], binding ? binding : "(none)");
        cr_expect(binding && (m ? !strncmp(binding, "own process, affinity ", 22)
                                : !strncmp(binding, "cpumask ", 8)),
                  "%s", binding ? binding : "(none)");
        const double cos = json_real_value(
            json_object_get(json_object_get(med, "peer_accuracy"), "cosine_best_int8"));
        cr_expect_gt(cos, 0.99, "%s: cosine %g against our kernel", names[m], cos);
        /* its own comparison against our fastest int8 kernel */
        int cmp = 0;
        json_array_foreach(json_object_get(doc, "comparisons"), i, b) {
            if (!strcmp(json_string_value(json_object_get(b, "name")), names[m])) {
                cmp++;
                cr_expect(strstr(json_string_value(json_object_get(b, "baseline")), "zero-copy"));
                cr_expect_gt(json_real_value(json_object_get(b, "ratio")), 0);
            }
        }
        cr_expect_eq(cmp, 1, "%s: %d comparisons", names[m], cmp);
    }
    json_decref(doc);
    cr_expect_eq(children_of_me(NULL, NULL), 0, "a child is left after the run");
}

/* The run's progress observer, called before each repetition (in the run's thread): before the
 * own-process peer's first repetition its child (held stopped after the warm-up) gets SIGABRT,
 * which kills it as soon as it is let run. */
static int killed_pid;
static void kill_the_child(void *ctx, const qk_run_progress *p) {
    (void)ctx;
    if (killed_pid || p->group_done || !p->name || !strstr(p->name, "/peer-process/")) return;
    pid_t pid;
    if (children_of_me("peer-child", &pid) > 0 && pid > 0 && kill(pid, SIGABRT) == 0)
        killed_pid = pid;
}

Test(peer_process, a_child_killed_in_a_run_fails_its_configuration_only, .init = make_run_dir,
     .fini = remove_run_dir) {
    if (qk_test_skip_unless_peer_installed()) return;
    killed_pid = 0;
    qk_error err = {{0}};
    json_t *doc;
    const qk_run_status st = run_both_modes(&doc, kill_the_child, &err);
    cr_assert_gt(killed_pid, 0, "no peer-child was seen");
    cr_assert_eq(st, QK_RUN_COMPLETE, "status %d: %s", st, err.msg);
    json_t *b = find_record(doc, "forward/llama.cpp/peer-process/t:1/seq:4/bind:compact", NULL);
    cr_assert_not_null(b);
    const char *msg = json_string_value(json_object_get(b, "error_message"));
    cr_expect(json_is_true(json_object_get(b, "failed")));
    cr_expect(msg && strstr(msg, "failed: ") &&
                  strstr(msg, "peer child killed by SIGABRT (signal 6) during a pass"),
              "%s", msg ? msg : "no message");
    cr_expect_not_null(find_record(doc, "forward/llama.cpp/peer/t:1/seq:4/bind:compact", "median"),
                       "the in-process peer was not measured");
    cr_expect_not_null(
        find_record(doc, "forward/zero-copy/scalar/t:1/seq:4/act:token/bind:compact", "median"),
        "our kernel was not measured");
    json_decref(doc);
    cr_expect_eq(children_of_me(NULL, NULL), 0, "a child is left after the run");
}
