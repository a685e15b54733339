/* The llama.cpp peer: without the library it says how to install it; with the library (installed
 * by scripts/install-peer.sh and compiled in) its embedding of BOS..EOS sequences of the tiny test
 * model matches our FP32 path at cosine >= 0.999, pinned to the PUs asked for. A peer that aborts
 * (GGML_ASSERT: tests/fixtures/abort_llama.c) is recorded as failed, with its signal and last
 * words, and the run goes on; a model whose metadata llama.cpp would assert on is refused before
 * anything runs, naming the key. The tests that need the library are skipped, with the reason,
 * when it is not there. */
#define _GNU_SOURCE /* pthread_getaffinity_np */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/refdata.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "model/synth.h"
#include "harness/peers/llama.h"
#include "model/gemma.h"
#include "tests/support/test_util.h"

#define TINY QK_TESTDATA_DIR "/tiny-gemma.gguf"

Test(peer_llama, missing_library_is_reported_with_path_and_remedy) {
    qk_peer_llama *p = (qk_peer_llama *)1;
    qk_error err = {{0}};
    const int rc = qk_peer_llama_open(&p, "/nonexistent/libllama.so", TINY, 1, 8, NULL, 0,
                                      QK_PEER_LLAMA_OUR_THREADPOOL, &err);
    cr_assert_eq(rc, 1, "rc %d: %s", rc, err.msg);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "install-peer.sh"), "%s", err.msg);
    if (qk_peer_llama_built())
        cr_assert(strstr(err.msg, "/nonexistent/libllama.so"), "%s", err.msg);
    else
        cr_assert(strstr(err.msg, "not built"), "%s", err.msg);
}

Test(peer_llama, default_library_path) {
    char path[4096];
    unsetenv("QK_PEER_LIBRARY");
    qk_peer_llama_library_path(NULL, path, sizeof path);
    cr_assert(strstr(path, "third_party/node/peer/") && strstr(path, QK_PEER_LLAMA_LIBRARY), "%s",
              path);
    qk_peer_llama_library_path("/x/y/libllama.so", path, sizeof path);
    cr_assert_str_eq(path, "/x/y/libllama.so");
}

Test(peer_llama, matches_our_fp32_path_on_tiny_model) {
    if (qk_test_skip_unless_peer_installed()) return;
    static const int32_t seqs[][13] = {
        {2, 1}, {2, 92, 349, 491, 1}, {2, 348, 411, 358, 508, 511, 453, 0, 242, 254, 486, 87, 1}};
    static const int lens[] = {2, 5, 13};
    qk_error err;
    qk_gemma_model *m;
    const qk_gemma_options fp32 = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
    cr_assert_eq(qk_gemma_load(&m, TINY, &fp32, &err), 0, "%s", err.msg);
    const int dim = qk_gemma_out_dim(m);
    qk_peer_llama *p;
    const int cpus[] = {0};
    cr_assert_eq(
        qk_peer_llama_open(&p, NULL, TINY, 1, 16, cpus, 1, QK_PEER_LLAMA_OUR_THREADPOOL, &err), 0,
        "%s", err.msg);
    cr_assert_eq(qk_peer_llama_dim(p), dim);
    cr_assert(qk_peer_llama_pinned(p), "%s", qk_peer_llama_binding(p));
    cr_assert(strstr(qk_peer_llama_binding(p), "cpumask 0"), "%s", qk_peer_llama_binding(p));
    float ours[64], peer[64];
    cr_assert(dim <= 64);
    for (int s = 0; s < 3; s++) {
        cr_assert_eq(qk_gemma_embed(m, seqs[s], lens[s], ours, NULL, &err), 0, "%s", err.msg);
        double secs = -1;
        cr_assert_eq(qk_peer_llama_embed(p, seqs[s], lens[s], peer, &secs, &err), 0, "%s", err.msg);
        cr_assert(secs > 0);
        const double c = qk_cosine(peer, ours, dim);
        cr_log_info("sequence %d (%d tokens): cosine %.6f", s, lens[s], c);
        cr_expect(c >= 0.999, "sequence %d (%d tokens): cosine %.6f", s, lens[s], c);
    }
    /* more tokens than the context takes: an error, not a crash */
    int32_t many[17] = {2};
    cr_assert_eq(qk_peer_llama_embed(p, many, 17, peer, NULL, &err), -1);
    json_t *info = qk_peer_llama_info(p);
    cr_assert(json_is_true(json_object_get(info, "pinned")));
    cr_assert(strstr(json_string_value(json_object_get(info, "library")), QK_PEER_LLAMA_LIBRARY));
    json_decref(info);
    qk_peer_llama_close(p);
    qk_gemma_free(m);
}

/* Threads of this process whose allowed CPUs are exactly `list` ("1"). */
static int threads_allowed_exactly(const char *list) {
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[300], line[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Cpus_allowed_list:", 18)) {
                char *v = line + 18;
                while (*v == ' ' || *v == '\t') v++;
                v[strcspn(v, "\n")] = 0;
                n += !strcmp(v, list);
            }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Pinned to one PU, the threadpool's worker runs there only, and the calling thread keeps the
 * binding it had (ggml would move it onto the threadpool's PUs). */
Test(peer_llama, threadpool_pinned_and_caller_binding_kept) {
    if (qk_test_skip_unless_peer_installed()) return;
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const int pu = ncpu > 1 ? 1 : 0;
    char want[16];
    snprintf(want, sizeof want, "%d", pu);
    cpu_set_t before, after;
    cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof before, &before), 0);
    const int pinned_before = threads_allowed_exactly(want);
    qk_peer_llama *p;
    qk_error err;
    const int cpus[] = {pu};
    cr_assert_eq(
        qk_peer_llama_open(&p, NULL, TINY, 2, 8, cpus, 1, QK_PEER_LLAMA_OUR_THREADPOOL, &err), 0,
        "%s", err.msg);
    const int32_t toks[] = {2, 92, 349, 1};
    float out[64];
    cr_assert_eq(qk_peer_llama_embed(p, toks, 4, out, NULL, &err), 0, "%s", err.msg);
    cr_expect_geq(threads_allowed_exactly(want), pinned_before + 1,
                  "no ggml worker thread bound to PU %s only", want);
    cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof after, &after), 0);
    cr_expect(CPU_EQUAL(&before, &after), "the calling thread's binding changed");
    cr_expect_str_eq(qk_peer_llama_binding(p), pu ? "cpumask 1 (strict: a PU per thread), poll 0"
                                                  : "cpumask 0 (strict: a PU per thread), poll 0");
    qk_peer_llama_close(p);

    /* no PUs given: not pinned, and the record says so */
    cr_assert_eq(
        qk_peer_llama_open(&p, NULL, TINY, 1, 8, NULL, 0, QK_PEER_LLAMA_OUR_THREADPOOL, &err), 0,
        "%s", err.msg);
    cr_expect(!qk_peer_llama_pinned(p));
    cr_expect(!strncmp(qk_peer_llama_binding(p), "not pinned", 10), "%s", qk_peer_llama_binding(p));
    qk_peer_llama_close(p);
}

/* ---------------------------------------------------------------- a peer that aborts */

static char run_dir[64];

static void make_run_dir(void) {
    snprintf(run_dir, sizeof run_dir, "/tmp/qk-peer-XXXXXX");
    cr_assert(mkdtemp(run_dir));
}

static void remove_run_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", run_dir);
    cr_expect_eq(system(cmd), 0);
}

static qk_run_status run_with_peer(const char *model, const char *library, qk_error *err) {
    char ini[128], out[128];
    snprintf(ini, sizeof ini, "%s/peer.ini", run_dir);
    snprintf(out, sizeof out, "%s/out", run_dir);
    FILE *f = fopen(ini, "w");
    cr_assert(f);
    fprintf(f,
            "[experiment]\nname = peer\nmodel = %s\n[sweep]\nkernels = zero-copy\nisas = "
            "scalar\nseq_len = 4\npeer = llama.cpp\n%s%s%s[measure]\nrepetitions = 2\nwarmups = "
            "0\ncounters = none\naccuracy = false\n",
            model, library ? "peer_library = " : "", library ? library : "", library ? "\n" : "");
    cr_assert_eq(fclose(f), 0);
    qk_run_options o = {ini, out, NULL, 0, 1, QK_QKBENCH_EXE, NULL, {0}};
    qk_run_outcome res;
    const qk_run_status st = qk_run_experiment(&o, &res, err);
    qk_run_outcome_free(&res);
    return st;
}

Test(peer_llama, an_aborting_peer_is_recorded_and_the_run_goes_on, .init = make_run_dir,
     .fini = remove_run_dir, .timeout = 120) {
    if (!qk_peer_llama_built()) {
        cr_skip_test("peer llama.cpp not built (headers missing: run scripts/install-peer.sh)");
        return;
    }
    qk_error err = {{0}};
    const qk_run_status st = run_with_peer(TINY, QK_ABORT_LLAMA, &err);
    cr_assert_eq(st, QK_RUN_COMPLETE, "status %d: %s", st, err.msg);
    char path[192];
    snprintf(path, sizeof path, "%s/out/peer.json", run_dir);
    json_t *doc;
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s", err.msg);
    int peer = 0, ours = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        if (strstr(name, "llama.cpp")) {
            peer++;
            const char *msg = json_string_value(json_object_get(b, "error_message"));
            cr_expect(json_is_true(json_object_get(b, "failed")), "%s not failed", name);
            cr_expect(msg && strstr(msg, "failed: ") && strstr(msg, "signal 6") &&
                          strstr(msg, "GGML_ASSERT"),
                      "%s: %s", name, msg ? msg : "no message");
        } else {
            ours += !json_object_get(b, "error_occurred");
        }
    }
    cr_expect_eq(peer, 1);
    cr_expect_gt(ours, 0, "our kernel was not measured");
    json_decref(doc);
}

Test(peer_llama, metadata_llama_cpp_asserts_on_is_refused_first, .init = make_run_dir,
     .fini = remove_run_dir, .timeout = 120) {
    if (qk_test_skip_unless_peer_installed()) return;
    /* the tiny synthetic model with dense_2_feat_in = 96 where the tensor says 64 */
    char model[128];
    snprintf(model, sizeof model, "%s/dense.gguf", run_dir);
    qk_error err = {{0}};
    cr_assert_eq(qk_synth_write(model, qk_synth_find_preset("tiny"), 1, 1, &err), 0, "%s", err.msg);
    qk_gguf g;
    cr_assert_eq(qk_gguf_open(&g, model, &err), 0, "%s", err.msg);
    const qk_gguf_kv *kv = qk_gguf_find_kv(&g, "gemma-embedding.dense_2_feat_in");
    cr_assert(kv && kv->type == QK_GGUF_UINT32);
    const long off = (long)kv->value_offset;
    qk_gguf_close(&g);
    FILE *f = fopen(model, "r+b");
    cr_assert(f);
    const uint32_t v = 96;
    fseek(f, off, SEEK_SET);
    fwrite(&v, sizeof v, 1, f);
    cr_assert_eq(fclose(f), 0);
    const qk_run_status st = run_with_peer(model, NULL, &err);
    cr_expect_eq(st, QK_RUN_BAD_INPUT, "status %d: %s", st, err.msg);
    cr_expect(strstr(err.msg, "gemma-embedding.dense_2_feat_in = 96") &&
                  strstr(err.msg, "dense_2.weight"),
              "%s", err.msg);
}
