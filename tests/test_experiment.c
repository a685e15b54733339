/* Experiment files: a complete file read back field by field, the defaults, the cartesian
 * expansion (count, order, names, groups), `all` resolved against a universe, the shipped
 * experiments/smoke.ini, and malformed files, each rejected with "file:LINE: message". */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/experiment.h"

static const char *const all_variants[] = {"parse-per-block", "precached-scales", "alloc-copy",
                                           "zero-copy"};
static const char *const here_isas[] = {"scalar", "avx2"};
static const qk_sweep_universe universe = {
    .variants = all_variants, .n_variants = 4, .isas = here_isas, .n_isas = 2, .ncpu = 3};

static const char full_text[] = "; a complete experiment\n"         /* 1 */
                                "[experiment]\n"                    /* 2 */
                                "name = kernel-sweep\n"             /* 3 */
                                "description = Seed variants ; x\n" /* 4 */
                                "model = synthetic:tiny\n"          /* 5 */
                                "run = forward\n"                   /* 6 */
                                "\n"                                /* 7 */
                                "[sweep]\n"                         /* 8 */
                                "kernels = parse-per-block, zero-copy\n"
                                "  isas = scalar,avx2   ; indented on purpose\n"
                                "threads = 1, 2\n"
                                "seq_len = 5, 16\n"
                                "act_scale = token, block\n"
                                "binding = compact\n"
                                "path = int8, fp32\n"
                                "\n"
                                "# measurement\n"
                                "[measure]\n"
                                "repetitions = 7\r\n"
                                "warmups = 1\n"
                                "quick_repetitions = 2\n"
                                "counters = PAPI_TOT_CYC, PAPI_TOT_INS\n"
                                "profile = yes\n"
                                "noisy_cv = 0.1\n"
                                "seed = 0x2a"; /* no final newline */

Test(experiment, full_file_every_field) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string(full_text, "x/full.ini", &e, &err), 0, "%s", err.msg);
    cr_expect_str_eq(e.file, "x/full.ini");
    cr_expect_str_eq(e.text, full_text);
    cr_expect_str_eq(e.name, "kernel-sweep");
    cr_expect_str_eq(e.description, "Seed variants"); /* inline comment stripped */
    cr_expect_str_eq(e.model, "synthetic:tiny");
    cr_expect_eq(e.runs, 1u << QK_RUN_FORWARD);
    cr_assert_eq(e.kernels.n, 2);
    cr_expect_str_eq(e.kernels.v[0], "parse-per-block");
    cr_expect_str_eq(e.kernels.v[1], "zero-copy");
    cr_expect(!e.kernels_all && !e.isas_all && !e.threads_all);
    cr_assert_eq(e.isas.n, 2);
    cr_expect_str_eq(e.isas.v[0], "scalar");
    cr_expect_str_eq(e.isas.v[1], "avx2");
    cr_assert_eq(e.threads.n, 2);
    cr_expect(e.threads.v[0] == 1 && e.threads.v[1] == 2);
    cr_assert_eq(e.seq_len.n, 2);
    cr_expect(e.seq_len.v[0] == 5 && e.seq_len.v[1] == 16);
    cr_assert_eq(e.act_scale.n, 2);
    cr_expect(e.act_scale.v[0] == QK_ACT_SCALE_TOKEN && e.act_scale.v[1] == QK_ACT_SCALE_BLOCK);
    cr_assert_eq(e.binding.n, 1);
    cr_expect_eq(e.binding.v[0], QK_BIND_COMPACT);
    cr_assert_eq(e.path.n, 2);
    cr_expect(e.path.v[0] == QK_PATH_INT8 && e.path.v[1] == QK_PATH_FP32);
    cr_expect_eq(e.repetitions, 7);
    cr_expect_eq(e.warmups, 1);
    cr_expect_eq(e.quick_repetitions, 2);
    cr_expect_eq(e.counters_mode, QK_COUNTERS_LIST);
    cr_assert_eq(e.counters.n, 2);
    cr_expect_str_eq(e.counters.v[1], "PAPI_TOT_INS");
    cr_expect_eq(e.profile, 1);
    cr_expect_float_eq(e.noisy_cv, 0.1, 1e-15);
    cr_expect_eq(e.seed, 42);
    cr_expect_eq(e.run_line, 6);
    cr_expect_eq(e.kernels_line, 9);
    cr_expect_eq(e.isas_line, 10);
    cr_expect_eq(e.threads_line, 11);

    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), 0, "%s", err.msg);
    /* workload points: binding 1 x threads 2 x seq_len 2 = 4; at each, 2 groups (act token, block)
     * of 2 kernels x 2 isas, and the FP32 path on its own */
    cr_assert_eq(n, 4 * 9);
    cr_expect_str_eq(c[0].name, "forward/parse-per-block/scalar/t:1/seq:5/act:token/bind:compact");
    cr_expect_str_eq(c[1].name, "forward/parse-per-block/avx2/t:1/seq:5/act:token/bind:compact");
    cr_expect_str_eq(c[2].name, "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact");
    cr_expect_str_eq(c[4].name, "forward/parse-per-block/scalar/t:1/seq:5/act:block/bind:compact");
    cr_expect_str_eq(c[8].name, "forward/fp32/t:1/seq:5/bind:compact");
    cr_expect_str_eq(c[9].name, "forward/parse-per-block/scalar/t:1/seq:16/act:token/bind:compact");
    cr_expect_str_eq(c[35].name, "forward/fp32/t:2/seq:16/bind:compact");
    cr_expect_str_eq(c[2].variant, "zero-copy");
    cr_expect_str_eq(c[1].isa, "avx2");
    cr_expect_eq(c[8].path, QK_PATH_FP32);
    cr_expect_str_eq(c[8].variant, "fp32");
    cr_expect_str_eq(c[8].isa, "");
    cr_expect_eq(c[35].threads, 2);
    cr_expect_eq(c[35].seq_len, 16);
    for (int i = 0; i < n; i++) {
        int within = i % 9, group = 3 * (i / 9) + (within < 4 ? 0 : within < 8 ? 1 : 2);
        cr_expect_eq(c[i].group, group, "config %d (%s)", i, c[i].name);
        for (int j = 0; j < i; j++) cr_expect_str_neq(c[i].name, c[j].name);
    }
    free(c);
    qk_experiment_free(&e);
}

Test(experiment, defaults) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string("[experiment]\nmodel = synthetic:embeddinggemma-300m\n",
                                            "experiments/minimal.ini", &e, &err),
                 0, "%s", err.msg);
    cr_expect_str_eq(e.name, "minimal");
    cr_expect_str_eq(e.description, "");
    cr_expect_eq(e.runs, 1u << QK_RUN_FORWARD);
    cr_expect(e.kernels_all && e.isas_all && !e.threads_all);
    cr_expect(e.threads.n == 1 && e.threads.v[0] == 1);
    cr_expect(e.seq_len.n == 1 && e.seq_len.v[0] == 32);
    cr_expect(e.act_scale.n == 1 && e.act_scale.v[0] == QK_ACT_SCALE_TOKEN);
    cr_expect(e.binding.n == 1 && e.binding.v[0] == QK_BIND_COMPACT);
    cr_expect(e.path.n == 1 && e.path.v[0] == QK_PATH_INT8);
    cr_expect_eq(e.repetitions, 10);
    cr_expect_eq(e.warmups, 2);
    cr_expect_eq(e.quick_repetitions, 3);
    cr_expect_eq(e.counters_mode, QK_COUNTERS_DEFAULT);
    cr_expect_eq(e.counters.n, 0);
    cr_expect_eq(e.profile, 0);
    cr_expect_float_eq(e.noisy_cv, 0.05, 1e-15);
    cr_expect_eq(e.seed, 1);
    cr_expect_eq(e.kernels_line, 0);

    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 4 * 2); /* every variant x every available ISA */
    cr_expect_str_eq(c[7].name, "forward/zero-copy/avx2/t:1/seq:32/act:token/bind:compact");
    free(c);
    /* without a universe, `all` cannot be resolved */
    cr_expect_eq(qk_experiment_expand(&e, NULL, &c, &n, &err), -1);
    cr_expect(strstr(err.msg, "minimal.ini:0: kernels = all"), "%s", err.msg);
    qk_experiment_free(&e);
}

Test(experiment, threads_all_and_matmul_shapes) {
    static const qk_shape shapes[] = {{"attn_q", 768, 768}, {"ffn_up", 1152, 768}};
    qk_sweep_universe u = universe;
    u.shapes = shapes;
    u.n_shapes = 2;
    const char *text = "[experiment]\nmodel = synthetic:tiny\nrun = matmul\n"
                       "[sweep]\nkernels = zero-copy\nisas = avx2\nthreads = all\n"
                       "seq_len = 1\nbinding = scatter, none\n[measure]\ncounters = none\n";
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string(text, "mm.ini", &e, &err), 0, "%s", err.msg);
    cr_expect(e.threads_all);
    cr_expect_eq(e.counters_mode, QK_COUNTERS_NONE);
    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &u, &c, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2 * 3 * 2); /* binding x threads 1..3 x shapes */
    cr_expect_str_eq(
        c[0].name, "matmul/zero-copy/avx2/op:attn_q/M:768/K:768/t:1/seq:1/act:token/bind:scatter");
    cr_expect_str_eq(
        c[1].name, "matmul/zero-copy/avx2/op:ffn_up/M:1152/K:768/t:1/seq:1/act:token/bind:scatter");
    cr_expect_str_eq(c[11].name,
                     "matmul/zero-copy/avx2/op:ffn_up/M:1152/K:768/t:3/seq:1/act:token/bind:none");
    cr_expect(c[1].rows == 1152 && c[1].cols == 768);
    cr_expect_str_eq(c[1].op, "ffn_up");
    cr_expect_eq(c[11].threads, 3);
    free(c);
    /* matmul needs the model's shapes */
    cr_expect_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), -1);
    cr_expect(strstr(err.msg, "mm.ini:3: run = matmul"), "%s", err.msg);
    qk_experiment_free(&e);
}

Test(experiment, threads_max_is_the_core_count) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(
        qk_experiment_parse_string("[experiment]\nmodel = synthetic:tiny\n[sweep]\n"
                                   "kernels = zero-copy\nisas = scalar\nthreads = 1, max\n",
                                   "max.ini", &e, &err),
        0, "%s", err.msg);
    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_expect_eq(c[0].threads, 1);
    cr_expect_eq(c[1].threads, universe.ncpu);
    free(c);
    qk_experiment_free(&e);
    cr_expect_neq(qk_experiment_parse_string("[experiment]\nmodel = synthetic:tiny\n[sweep]\n"
                                             "threads = 0\n",
                                             "zero.ini", &e, &err),
                  0);
    cr_expect(strstr(err.msg, "zero.ini:4: threads"), "%s", err.msg);
}

Test(experiment, forward_and_matmul_in_one_run) {
    static const qk_shape shapes[] = {{"attn_q", 768, 768}, {"ffn_up", 1152, 768}};
    qk_sweep_universe u = universe;
    u.shapes = shapes;
    u.n_shapes = 2;
    const char *text = "[experiment]\nmodel = synthetic:tiny\nrun = forward, matmul\n"
                       "[sweep]\nkernels = parse-per-block, zero-copy\nisas = scalar\n"
                       "seq_len = 16\npath = int8, fp32\n[measure]\nprofile = true\n";
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string(text, "both.ini", &e, &err), 0, "%s", err.msg);
    cr_expect_eq(e.runs, (1u << QK_RUN_FORWARD) | (1u << QK_RUN_MATMUL));
    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &u, &c, &n, &err), 0, "%s", err.msg);
    /* forward: 2 kernels + fp32; matmul: 2 kernels x 2 shapes (no fp32 matmul) */
    cr_assert_eq(n, 3 + 4);
    cr_expect_str_eq(c[0].name, "forward/parse-per-block/scalar/t:1/seq:16/act:token/bind:compact");
    cr_expect_str_eq(c[2].name, "forward/fp32/t:1/seq:16/bind:compact");
    cr_expect_str_eq(
        c[3].name,
        "matmul/parse-per-block/scalar/op:attn_q/M:768/K:768/t:1/seq:16/act:token/bind:compact");
    cr_expect_eq(c[6].rows, 1152);
    cr_expect_neq(c[3].group, c[5].group); /* one group per shape */
    cr_expect_eq(c[3].group, c[4].group);
    free(c);
    qk_experiment_free(&e);
    /* matmul alone with fp32 only has nothing to run; fp32 or profile with matmul alone are errors
     */
    cr_expect_neq(qk_experiment_parse_string("[experiment]\nmodel = synthetic:tiny\nrun = matmul\n"
                                             "[sweep]\npath = fp32\n",
                                             "m.ini", &e, &err),
                  0);
    cr_expect(strstr(err.msg, "m.ini:5: path: fp32 applies to run = forward only"), "%s", err.msg);
    cr_expect_neq(
        qk_experiment_parse_string("[experiment]\nmodel = synthetic:tiny\nrun = forward, bogus\n",
                                   "r.ini", &e, &err),
        0);
    cr_expect(strstr(err.msg, "r.ini:3:"), "%s", err.msg);
}

Test(experiment, names_checked_against_universe) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string("[experiment]\nmodel = synthetic:tiny\n[sweep]\n"
                                            "kernels = zero-copy, warp-drive\n",
                                            "u.ini", &e, &err),
                 0, "%s", err.msg);
    qk_config *c;
    int n;
    cr_expect_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), -1);
    cr_expect(strstr(err.msg, "u.ini:4: kernels: unknown kernel 'warp-drive'"), "%s", err.msg);
    qk_experiment_free(&e);

    cr_assert_eq(qk_experiment_parse_string("[experiment]\nmodel = synthetic:tiny\n[sweep]\n"
                                            "isas = avx512vnni\n",
                                            "u.ini", &e, &err),
                 0, "%s", err.msg);
    /* an ISA this CPU lacks is expanded all the same: the runner reports it as skipped */
    cr_assert_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 4);
    cr_expect_str_eq(c[3].name, "forward/zero-copy/avx512vnni/t:1/seq:32/act:token/bind:compact");
    free(c);
    qk_experiment_free(&e);
}

Test(experiment, shipped_smoke_file) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_file(QK_SOURCE_DIR "/experiments/smoke.ini", &e, &err), 0,
                 "%s", err.msg);
    cr_expect_str_eq(e.model, "synthetic:tiny");
    cr_expect_eq(e.repetitions, 3);
    cr_expect_eq(e.kernels.n, 2);
    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) cr_expect_eq(c[i].seq_len, 5);
    free(c);
    qk_experiment_free(&e);
}

Test(experiment, file_errors) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_expect_eq(qk_experiment_parse_file("/nonexistent/x.ini", &e, &err), -1);
    cr_expect(strstr(err.msg, "/nonexistent/x.ini: cannot open"), "%s", err.msg);

    char dir[] = "/tmp/qk-exp-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/nul.ini", dir);
    FILE *f = fopen(path, "wb");
    fwrite("[experiment]\nmodel = synthetic:tiny\n\0x\n", 1, 39, f);
    fclose(f);
    cr_expect_eq(qk_experiment_parse_file(path, &e, &err), -1);
    cr_expect(strstr(err.msg, ":3: NUL byte"), "%s", err.msg);

    /* a GGUF path that exists is accepted as the model */
    snprintf(path, sizeof path, "%s/ok.ini", dir);
    char model[64], text[160];
    snprintf(model, sizeof model, "%s/m.gguf", dir);
    fclose(fopen(model, "wb"));
    snprintf(text, sizeof text, "[experiment]\nmodel = %s\n", model);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    cr_expect_eq(qk_experiment_parse_file(path, &e, &err), 0, "%s", err.msg);
    cr_expect_str_eq(e.name, "ok");
    cr_expect_str_eq(e.model, model);
    qk_experiment_free(&e);
    unlink(model);
    unlink(path);
    snprintf(path, sizeof path, "%s/nul.ini", dir);
    unlink(path);
    rmdir(dir);
}

/* ---- malformed files: each must fail with "bad.ini:LINE: " and a distinctive message ---- */

static void expect_error(const char *text, int line, const char *substr) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string(text, "bad.ini", &e, &err), -1, "accepted:\n%s", text);
    char want[32];
    snprintf(want, sizeof want, "bad.ini:%d: ", line);
    cr_expect(strncmp(err.msg, want, strlen(want)) == 0, "want '%s...', got '%s'", want, err.msg);
    cr_expect(strstr(err.msg, substr), "want '%s' in '%s'", substr, err.msg);
    cr_expect_null(e.text); /* nothing left allocated */
}

#define HEAD "[experiment]\nmodel = synthetic:tiny\n" /* lines 1-2 */
#define BAD(id, text, line, substr)                                                                \
    Test(malformed, id) {                                                                          \
        expect_error(text, line, substr);                                                          \
    }

BAD(unknown_key, HEAD "[sweep]\nthread = 2\n", 4, "unknown key 'thread' in [sweep]")
BAD(unknown_section, HEAD "\n[sweeps]\nthreads = 2\n", 4, "unknown section [sweeps]")
BAD(key_in_wrong_section, HEAD "[measure]\nthreads = 2\n", 4, "belongs in [sweep], not [measure]")
BAD(key_outside_section, "model = synthetic:tiny\n", 1, "outside a section")
BAD(non_integer_threads, HEAD "[sweep]\nthreads = 1, two\n", 4, "threads: 'two' is not an integer")
BAD(threads_zero, HEAD "[sweep]\nthreads = 0\n", 4, "threads: 0 is out of range")
BAD(seq_len_zero, HEAD "[sweep]\nseq_len = 0\n", 4, "seq_len: 0 is out of range (1 to 2048)")
BAD(seq_len_too_big, HEAD "[sweep]\nseq_len = 16, 4096\n", 4, "seq_len: 4096 is out of range")
BAD(unknown_act_scale, HEAD "[sweep]\nact_scale = tensor\n", 4, "unknown value 'tensor'")
BAD(unknown_binding, HEAD "[sweep]\nbinding = tight\n", 4, "binding: unknown value 'tight'")
BAD(unknown_isa, HEAD "[sweep]\nisas = scalar, avx3\n", 4, "isas: unknown value 'avx3'")
BAD(unknown_path, HEAD "[sweep]\npath = int4\n", 4, "path: unknown value 'int4'")
BAD(repetitions_zero, HEAD "[measure]\nrepetitions = 0\n", 4, "repetitions: 0 is out of range")
BAD(warmups_fraction, HEAD "[measure]\nwarmups = 1.5\n", 4, "warmups: '1.5' is not an integer")
BAD(duplicate_key, HEAD "[sweep]\nthreads = 1\nseq_len = 4\nthreads = 2\n", 6,
    "duplicate key 'threads' (first set on line 4)")
BAD(missing_model, "; no model\n[experiment]\nname = x\n[sweep]\nthreads = 1\n", 5,
    "missing required key 'model'")
BAD(missing_model_empty_file, "", 0, "missing required key 'model'")
BAD(not_key_value, HEAD "[sweep]\nthreads 2\n", 4, "expected 'key = value'")
BAD(section_unclosed, HEAD "[sweep\nthreads = 2\n", 3, "has no closing ']'")
BAD(text_after_section, HEAD "[sweep] extra\n", 3, "unexpected text after section header")
BAD(unknown_preset, "[experiment]\nmodel = synthetic:huge\n", 2, "unknown value 'huge'")
BAD(missing_model_file, "[experiment]\nrun = forward\nmodel = /nonexistent/m.gguf\n", 3,
    "cannot read '/nonexistent/m.gguf'")
BAD(unknown_run, HEAD "run = backward\n", 3, "run: unknown value 'backward'")
BAD(bad_bool, HEAD "[measure]\nprofile = maybe\n", 4, "profile: 'maybe' is not a boolean")
BAD(bad_noisy_cv, HEAD "[measure]\nnoisy_cv = -0.1\n", 4, "noisy_cv: '-0.1' is not a number")
BAD(bad_seed, HEAD "[measure]\nseed = -5\n", 4, "seed: '-5' is not an unsigned")
BAD(all_combined, HEAD "[sweep]\nkernels = all, zero-copy\n", 4, "'all' cannot be combined")
BAD(empty_item, HEAD "[sweep]\nseq_len = 1,,2\n", 4, "seq_len: empty item")
BAD(listed_twice, HEAD "[sweep]\nthreads = 1, 2, 1\n", 4, "threads: '1' is listed twice")
BAD(empty_value, HEAD "[sweep]\nkernels =\n", 4, "kernels: empty value")
BAD(bad_kernel_char, HEAD "[sweep]\nkernels = zero copy\n", 4, "contains ' '")
BAD(counters_mixed, HEAD "[measure]\ncounters = PAPI_TOT_CYC, none\n", 4,
    "'none' cannot be combined")
BAD(fp32_matmul, HEAD "run = matmul\n[sweep]\npath = fp32\n", 5, "fp32 applies to run = forward")
BAD(quick_more_than_reps, HEAD "[measure]\nrepetitions = 3\nquick_repetitions = 5\n", 5,
    "quick_repetitions: 5 is more than repetitions (3)")
BAD(bad_name, "[experiment]\nname = my run\nmodel = synthetic:tiny\n", 2, "name: 'my run'")
BAD(line_too_long,
    HEAD
    "[experiment]\ndescription = "
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    4, "line too long")
BAD(first_error_wins, HEAD "[sweep]\nthreads = x\nseq_len = 0\n", 4, "threads: 'x'")
BAD(unknown_peer, HEAD "[sweep]\npeer = onnxruntime\n", 4,
    "peer: unknown value 'onnxruntime' (expected one of: none, llama.cpp)")
BAD(peer_none_combined, HEAD "[sweep]\npeer = llama.cpp, none\n", 4,
    "peer: 'none' cannot be combined")
BAD(peer_twice, HEAD "[sweep]\npeer = llama.cpp, llama.cpp\n", 4, "'llama.cpp' is listed twice")
BAD(peer_empty, HEAD "[sweep]\npeer =\n", 4, "peer: empty value")
BAD(peer_library_missing,
    HEAD "[sweep]\npeer = llama.cpp\npeer_library = /nonexistent/libllama.so\n", 5,
    "peer_library: cannot read '/nonexistent/libllama.so'")
BAD(peer_library_without_peer, HEAD "[sweep]\npeer_library = /\n", 4,
    "peer_library: set, but peer is none")
BAD(peer_matmul_only, HEAD "run = matmul\n[sweep]\npeer = llama.cpp\n", 5,
    "peer: llama.cpp applies to run = forward only (line 3)")

/* peer = llama.cpp: one peer configuration per forward (binding, threads, seq_len), last in the
 * point's first int8 group, with the kernels it is compared with; matmul points get none. */
Test(experiment, peer_joins_the_first_forward_group) {
    qk_experiment e;
    qk_error err = {{0}};
    const char *text = HEAD "run = forward, matmul\n[sweep]\nkernels = zero-copy\nisas = avx2\n"
                            "threads = 1, 2\nseq_len = 16\nact_scale = token, block\n"
                            "path = fp32, int8\npeer = llama.cpp\npeer_library = /\n";
    cr_assert_eq(qk_experiment_parse_string(text, "p.ini", &e, &err), 0, "%s", err.msg);
    cr_expect(e.peer_llama);
    cr_expect_str_eq(e.peer_library, "/");
    cr_expect_eq(e.peer_line, 11);
    static const qk_shape shapes[] = {{"attn_q", 8, 4}};
    qk_sweep_universe u = universe;
    u.shapes = shapes, u.n_shapes = 1;
    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &u, &c, &n, &err), 0, "%s", err.msg);
    /* per threads: fp32, token(zero-copy, peer), block(zero-copy) = 4; x2; matmul: 2 x 2 */
    cr_assert_eq(n, 12);
    int peers = 0;
    for (int i = 0; i < n; i++) {
        if (!c[i].peer) continue;
        peers++;
        cr_expect_eq(c[i].rows, 0);
        cr_expect_str_eq(c[i].variant, "llama.cpp");
        cr_expect_str_eq(c[i].isa, "peer");
        cr_assert(i > 0);
        cr_expect_str_eq(c[i - 1].variant, "zero-copy");
        cr_expect_eq(c[i - 1].act_scale, QK_ACT_SCALE_TOKEN);
        cr_expect_eq(c[i - 1].path, QK_PATH_INT8);
        cr_expect_eq(c[i].group, c[i - 1].group);
        cr_expect_eq(c[i].threads, c[i - 1].threads);
    }
    cr_expect_eq(peers, 2);
    cr_expect_str_eq(c[2].name, "forward/llama.cpp/peer/t:1/seq:16/bind:compact");
    free(c);
    qk_experiment_free(&e);

    /* fp32 only: the peer shares the FP32 group; default: no peer */
    text = HEAD "[sweep]\npath = fp32\npeer = llama.cpp\n";
    cr_assert_eq(qk_experiment_parse_string(text, "p.ini", &e, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_expect(!c[0].peer && c[1].peer && c[0].group == c[1].group);
    free(c);
    qk_experiment_free(&e);
    cr_assert_eq(qk_experiment_parse_string(HEAD "[sweep]\npeer = none\n", "p.ini", &e, &err), 0);
    cr_expect(!e.peer_llama && !e.peer_library);
    qk_experiment_free(&e);
}

/* ---- hostile input: each fails on a clear message, or is made harmless by construction ---- */

/* One Latin-1 byte (é in a comment): an error at its line, never a run whose results lose the
 * experiment (its text must go into JSON, which is UTF-8). */
BAD(latin1_byte, HEAD "; caf\xe9 au lait\n", 3, "byte 0xE9 (column 6) is not UTF-8")
BAD(latin1_in_description, HEAD "description = na\xefve\n", 3, "is not UTF-8")
BAD(truncated_utf8, HEAD "; \xe2\x82\n", 3, "is not UTF-8")
BAD(overlong_utf8, HEAD "; \xc0\xaf\n", 3, "is not UTF-8")

Test(experiment, utf8_text_is_accepted) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string(HEAD "description = caf\xc3\xa9 \xe2\x82\xac "
                                                 "\xf0\x9f\x98\x80\n",
                                            "utf8.ini", &e, &err),
                 0, "%s", err.msg);
    qk_experiment_free(&e);
}

Test(experiment, threads_max_and_the_core_count_are_one_configuration) {
    /* `threads = max, 2` on a 2-core machine: one thread count, one name (not two of one name) */
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string(HEAD "[sweep]\nkernels = zero-copy\nisas = scalar\n"
                                                 "threads = max, 3, 1\n",
                                            "max3.ini", &e, &err),
                 0, "%s", err.msg);
    qk_config *c;
    int n;
    cr_assert_eq(qk_experiment_expand(&e, &universe, &c, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(universe.ncpu, 3);
    cr_expect_eq(n, 2, "%d configurations", n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            cr_expect(strcmp(c[i].name, c[j].name) != 0, "two configurations named %s", c[i].name);
    free(c);
    qk_experiment_free(&e);
    /* `all` and an explicit list resolve the same way */
    cr_assert_eq(qk_experiment_parse_string(HEAD "[sweep]\nkernels = zero-copy\nisas = scalar\n"
                                                 "threads = max, 1, max\n",
                                            "twice.ini", &e, &err),
                 -1);
    cr_expect(strstr(err.msg, "listed twice"), "%s", err.msg);
}

Test(experiment, quick_never_runs_more_repetitions_than_the_full_run) {
    qk_experiment e;
    qk_error err = {{0}};
    cr_assert_eq(qk_experiment_parse_string(HEAD "[measure]\nrepetitions = 2\n", "q.ini", &e, &err),
                 0, "%s", err.msg);
    cr_expect_eq(e.quick_repetitions, 2, "--quick would run %d repetitions, the full run 2",
                 e.quick_repetitions);
    qk_experiment_free(&e);
    cr_assert_eq(
        qk_experiment_parse_string(HEAD "[measure]\nrepetitions = 20\n", "q.ini", &e, &err), 0,
        "%s", err.msg);
    cr_expect_eq(e.quick_repetitions, 3); /* the default where it is fewer */
    qk_experiment_free(&e);
}

/* a FIFO used to block the parser's open forever: the suite's timeout says so */
TestSuite(experiment_input, .timeout = 30);

Test(experiment_input, fifo_or_directory_as_model_is_refused_at_once) {
    char dir[] = "/tmp/qk-exp-XXXXXX", fifo[64], text[200];
    cr_assert(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/model.gguf", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    qk_experiment e;
    qk_error err = {{0}};
    snprintf(text, sizeof text, "[experiment]\nmodel = %s\n", fifo);
    cr_expect_eq(qk_experiment_parse_string(text, "fifo.ini", &e, &err), -1, "a FIFO was accepted");
    cr_expect(strstr(err.msg, "fifo.ini:2: model:") && strstr(err.msg, "FIFO"), "%s", err.msg);
    snprintf(text, sizeof text, "[experiment]\nmodel = %s\n", dir);
    cr_expect_eq(qk_experiment_parse_string(text, "dir.ini", &e, &err), -1);
    cr_expect(strstr(err.msg, "dir.ini:2: model:") && strstr(err.msg, "directory"), "%s", err.msg);
    unlink(fifo);
    rmdir(dir);
}

Test(experiment_input, directory_or_fifo_as_experiment_file) {
    char dir[] = "/tmp/qk-exp-XXXXXX", fifo[64];
    cr_assert(mkdtemp(dir));
    qk_experiment e;
    qk_error err = {{0}};
    cr_expect_eq(qk_experiment_parse_file(dir, &e, &err), -1);
    cr_expect(strstr(err.msg, "is a directory"), "%s", err.msg);
    snprintf(fifo, sizeof fifo, "%s/x.ini", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    cr_expect_eq(qk_experiment_parse_file(fifo, &e, &err), -1);
    cr_expect(strstr(err.msg, "FIFO"), "%s", err.msg);
    unlink(fifo);
    rmdir(dir);
}
