/* `qkbench report`: from the fixed results in tests/data, REPORT.md has every section and the
 * fixture's key numbers, every plot is drawn (gnuplot exits 0, PNG and SVG non-empty); two CPUs
 * give a column each; missing data, a missing gnuplot and a failing script degrade gracefully. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/cli/commands.h"
#include "harness/measure.h"
#include "report/report.h"
#include "harness/results.h"
#include "harness/cli/commands.h"
#include "harness/microbench/roofline.h"

#define DATA      QK_SOURCE_DIR "/tests/data/"
#define RESULTS_A DATA "results-small.json"
#define RESULTS_B DATA "results-small-cpu-b.json"
#define ROOFLINE  DATA "roofline-small.json"

static const char *const plot_names[] = {"ladder", "breakdown", "threads", "seqlen", "roofline"};
#define N_PLOTS 5

static char dir[64];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-report-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_dir(void) {
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(report, .init = make_dir, .fini = remove_dir);

static int have_gnuplot(void) {
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s does not exist", path);
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static long file_size(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char *generate(const char *const *results, int n, const char *const *roofs, int nr,
                      qk_report_outcome *out) {
    qk_report_options o = {
        .results = results, .n_results = n, .rooflines = roofs, .n_rooflines = nr, .outdir = dir};
    qk_error err = {{0}};
    cr_assert_eq(qk_report_generate(&o, out, &err), 0, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/REPORT.md", dir);
    cr_assert_str_eq(out->report_path, path);
    return slurp(path);
}

#define HAS(md, s) cr_assert_not_null(strstr(md, s), "REPORT.md lacks \"%s\"", s)

static const qk_report_plot *plot(const qk_report_outcome *o, const char *name) {
    for (int i = 0; i < o->n_plots; i++)
        if (!strcmp(o->plots[i].name, name)) return &o->plots[i];
    return NULL;
}

Test(report, every_table_and_the_fixture_numbers) {
    const char *res[] = {RESULTS_A}, *roof[] = {ROOFLINE};
    qk_report_outcome out;
    char *md = generate(res, 1, roof, 1, &out);
    cr_assert_eq(out.n_cpus, 1);
    /* every section */
    const char *headings[] = {"# qkbench report",
                              "## Summary: the seed story and each CPU",
                              "## 1. The machine and the run",
                              "## 2. The ladder",
                              "#### Forward pass: avx2, 16 tokens, 1 thread, act token",
                              "#### Forward pass: scalar, 16 tokens, 1 thread, act token",
                              "#### Matmul only: avx2, 16 tokens, 1 thread, act token",
                              "## 3. Amdahl, measured",
                              "## 4. Memory",
                              "## 5. Accuracy",
                              "## 6. Per-operation breakdown",
                              "## 7. Thread scaling",
                              "## 8. Sequence length",
                              "## 9. Roofline",
                              "## 10. How this CPU's story differs",
                              "## Plots"};
    for (size_t i = 0; i < sizeof headings / sizeof *headings; i++) HAS(md, headings[i]);
    cr_assert_null(strstr(md, "Not measured in these results"), "a section says not measured");
    /* the machine */
    HAS(md, "| CPU | AMD EPYC 7B13 (fixture A) |");
    HAS(md, "unavailable: fixture: no hardware PMU in this VM");
    HAS(md, "fixture-ladder");
    /* the ladder: medians, paired speedups (1/0.75 with [1/0.77, 1/0.73]), step shares 20/30 and
     * 10/30, the story beside */
    HAS(md, "| parse-per-block | 120.0 [115.0, 125.0] |");
    HAS(md, "| zero-copy | 90.00 [88.00, 92.00] | 1.333x [1.299, 1.370]");
    HAS(md, "66.7% [");
    HAS(md, "33.3% [");
    HAS(md, "0.667x [0.645, 0.690]: 1.50x slower");
    HAS(md, "42.44 ms");
    HAS(md, "66.50 ms (1.57x slower)");
    HAS(md, "30.19 ms (1.41x faster)");
    HAS(md, "| fp32 path (no kernel) | 300.0 [290.0, 310.0]");
    /* matmul only: per-layer mix 2 x 2.0 + 2 x 3.0 = 10 ms, zero-copy 5 ms: s = 2 */
    HAS(md, "attn_q 768x768 (x2) ms");
    HAS(md, "| 10.00 | 1.000x |");
    HAS(md, "| 5.000 | 2.000x [1.923, 2.083] |");
    /* Amdahl: p = 84/120 = 0.7, s = 2: predicted 1/(0.3 + 0.35) = 1.538, bound 3.333 */
    HAS(md, "| avx2, 16 tokens, 1 thread, act token | zero-copy | 70.0% | 25.0% | 2.000x [1.923, "
            "2.083] | matmul-only, 2 shapes per-layer mix | 1.538x [1.506, 1.572] | 3.333x | "
            "1.333x [1.299, 1.370] | 50.0% | below |");
    HAS(md, "- avx2, 16 tokens, 1 thread, act token, zero-copy: below: achieved 1.333x");
    HAS(md, "- avx2, 16 tokens, 1 thread, act token, precached-scales: agree:");
    HAS(md, "1.176x");
    /* memory: 13.27 MB of scales, before -> after */
    HAS(md, "| zero-copy | avx2 | 334.31 | 330.00 | 112.80 | 13.27 | 0.73 | 0.00 | n/a / n/a | "
            "363.27 | "
            "344.00 |");
    HAS(md, "footprint 330.73 -> 344.00 MB (+13.27 MB");
    HAS(md, "412.86 -> 425.17 MB (+12.31 MB)");
    /* accuracy */
    HAS(md, "| tiny-reference | zero-copy | avx2 | token | parse-per-block | 1.000000 | 0 | 4 | "
            "identical, as required |");
    HAS(md, "| tiny-reference | zero-copy | avx2 | token | fp32 | 0.999910 | 0.0021 |");
    HAS(md, "| tiny-reference | zero-copy | avx2 | block | fp32 | 0.999960 |");
    /* per-operation breakdown */
    HAS(md, "| matmul_gate | 20.00 (16.7%) |");
    HAS(md, "| **all matmuls** | **84.00 (70.0%)** |");
    /* thread scaling 90 -> 50 ms, sequence length 700 ms / 128 tokens */
    HAS(md, "| 2 | 50.00 [48.00, 52.00] | 1.800x | 90.0% |");
    HAS(md, "| 128 | 700.0 [679.0, 721.0] | 5.469 |");
    /* roofline */
    HAS(md, "| read bandwidth, DRAM (1 GiB) | 2 | 55.0 GB/s |");
    HAS(md, "| int8 peak, avx2: vpmaddubsw+vpmaddwd+vpaddd ymm | 2 | 440.0 GOPS |");
    HAS(md, "skipped: CPU lacks avx512vnni");
    HAS(md, "| forward/zero-copy/avx2/t:1/seq:16/act:token/bind:compact | 28.86 | 36.18 | 16.4% |");
    /* the closing paragraph */
    HAS(md, "most of it here comes from not converting fp16 scales on every use");
    HAS(md, "The allocating variant regressed: 1.50x slower");
    /* plot data files */
    const char *dats[] = {"ladder.dat",          "ladder.vars",          "breakdown.dat",
                          "breakdown.vars",      "threads.dat",          "threads.vars",
                          "seqlen.dat",          "seqlen.vars",          "roofline.vars",
                          "roofline_points.dat", "roofline_ceilings.dat"};
    for (size_t i = 0; i < sizeof dats / sizeof *dats; i++)
        cr_assert_gt(file_size(dats[i]), 0, "%s missing or empty", dats[i]);
    free(md);
}

Test(report, every_plot_is_drawn) {
    if (!have_gnuplot()) cr_skip_test("gnuplot is not installed: plot assertions skipped");
    const char *res[] = {RESULTS_A}, *roof[] = {ROOFLINE};
    qk_report_outcome out;
    char *md = generate(res, 1, roof, 1, &out);
    for (int i = 0; i < N_PLOTS; i++) {
        const qk_report_plot *p = plot(&out, plot_names[i]);
        cr_assert_not_null(p, "no plot %s", plot_names[i]);
        cr_assert(p->has_data, "%s: no data", p->name);
        cr_assert(p->attempted, "%s: gnuplot not run: %s", p->name, p->why);
        cr_assert_eq(p->exit_status, 0, "%s: gnuplot exit status %d: %s", p->name, p->exit_status,
                     p->why);
        cr_assert(p->ok, "%s: %s", p->name, p->why);
        char name[64];
        snprintf(name, sizeof name, "%s.png", p->name);
        cr_assert_gt(file_size(name), 1000, "%s empty", name);
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        unsigned char sig[8] = {0};
        cr_assert_eq(fread(sig, 1, 8, f), 8);
        fclose(f);
        cr_assert(!memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", name);
        snprintf(name, sizeof name, "%s.svg", p->name);
        cr_assert_gt(file_size(name), 1000, "%s empty", name);
        char embed[64];
        snprintf(embed, sizeof embed, "](%s.png)", p->name);
        HAS(md, embed);
    }
    free(md);
}

Test(report, two_cpus_give_a_column_each) {
    const char *res[] = {RESULTS_A, RESULTS_B}, *roof[] = {ROOFLINE};
    qk_report_outcome out;
    char *md = generate(res, 2, roof, 1, &out);
    cr_assert_eq(out.n_cpus, 2);
    /* the summary's header row names both CPUs: one column each, the story beside */
    const char *row = strstr(md, "| |  seed story");
    cr_assert_not_null(row);
    const char *eol = strchr(row, '\n');
    const char *a = strstr(row, "CPU A: AMD EPYC 7B13 (fixture A)");
    const char *b = strstr(row, "CPU B: Intel Xeon Gold 6338 (fixture B)");
    cr_assert(a && a < eol && b && b < eol && a < b, "summary header: %.*s", (int)(eol - row), row);
    /* one value per CPU in the rows */
    HAS(md, "| parse-per-block (baseline), ms | 42.44 | 120.0 | 50.00 |");
    HAS(md, "| zero-copy, ms (speedup) | 30.19 (1.41x) | 90.00 (1.333x) | 25.00 (2.000x) |");
    HAS(md, "| zero-copy speedup, avx512vnni | — | not measured | 2.000x [1.961, 2.041] |");
    /* per-CPU row groups in the sections */
    HAS(md, "### CPU A: AMD EPYC 7B13 (fixture A) (fixture-a)");
    HAS(md, "### CPU B: Intel Xeon Gold 6338 (fixture B) (fixture-b)");
    HAS(md, "#### Forward pass: avx512vnni, 16 tokens, 2 threads, act token");
    /* B has no profile, no matmul runs and no roofline: said, not invented */
    HAS(md, "no per-operation profile of the parse-per-block baseline");
    HAS(md, "no roofline file for this CPU");
    /* quick run with 5 repetitions: the caveat */
    HAS(md, "Intervals from fewer than 8 repetitions are indicative only");
    free(md);
    if (have_gnuplot()) {
        const qk_report_plot *p = plot(&out, "ladder");
        cr_assert(p && p->ok && p->exit_status == 0, "ladder: %s", p ? p->why : "absent");
    }
}

/* A results file written through the results API: two kernels, one configuration, nothing else. */
static void write_minimal(const char *basename) {
    qk_results *r = qk_results_new();
    cr_assert_eq(qk_results_capture_environment(r), 0);
    const char *names[] = {"forward/parse-per-block/scalar/t:1/seq:5/act:token/bind:compact",
                           "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact"};
    const char *variants[] = {"parse-per-block", "zero-copy"};
    double t[2][4] = {{0.010, 0.011, 0.0105, 0.0102}, {0.008, 0.0085, 0.0082, 0.0081}};
    for (int c = 0; c < 2; c++) {
        json_t *x =
            json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:i}", "variant", variants[c],
                      "isa", "scalar", "run", "forward", "threads", 1, "seq_len", 5, "act_scale",
                      "token", "binding", "compact", "path", "int8", "group", 0);
        for (int k = 0; k < 4; k++)
            cr_assert_eq(qk_results_add_repetition(r, names[c], k, 4, t[c][k], t[c][k], x), 0);
        qk_stats s;
        cr_assert_eq(qk_stats_compute(t[c], 4, 1, &s), 0);
        cr_assert_eq(qk_results_add_aggregates(r, names[c], &s, x), 0);
        json_decref(x);
    }
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, basename, 1, 0, &err), 0, "%s", err.msg);
    qk_results_free(r);
}

Test(report, missing_data_is_said_not_invented) {
    write_minimal("minimal");
    char path[128];
    snprintf(path, sizeof path, "%s/minimal.json", dir);
    const char *res[] = {path};
    qk_report_outcome out;
    char *md = generate(res, 1, NULL, 0, &out);
    HAS(md, "## 3. Amdahl, measured");
    HAS(md, "*Not measured in these results: no per-operation profile of the parse-per-block "
            "baseline. Run a forward experiment with `profile = true`");
    HAS(md, "*Not measured in these results: no matmul-only runs.");
    HAS(md, "*Not measured in these results: no forward configuration at two or more thread "
            "counts. Run experiments/thread-scaling.ini.*");
    HAS(md, "no forward configuration at two or more sequence lengths");
    HAS(md, "no ceilings (no --roofline file given)");
    HAS(md, "no accuracy checks");
    HAS(md, "Without a profile of the baseline, the Amdahl comparison is not possible here");
    /* the ladder itself is there */
    HAS(md, "#### Forward pass: scalar, 5 tokens, 1 thread, act token");
    /* only the ladder has data */
    for (int i = 0; i < N_PLOTS; i++) {
        const qk_report_plot *p = plot(&out, plot_names[i]);
        cr_assert_not_null(p);
        cr_assert_eq(p->has_data, i == 0, "%s: has_data %d", p->name, p->has_data);
        if (i) cr_assert(!p->attempted);
    }
    free(md);
}

Test(report, without_gnuplot_the_tables_are_still_written) {
    char empty[128];
    snprintf(empty, sizeof empty, "%s/empty-path", dir);
    cr_assert_eq(mkdir(empty, 0755), 0);
    cr_assert_eq(setenv("PATH", empty, 1), 0); /* this test runs in its own process */
    const char *res[] = {RESULTS_A}, *roof[] = {ROOFLINE};
    qk_report_outcome out;
    char *md = generate(res, 1, roof, 1, &out);
    HAS(md, "## 2. The ladder");
    HAS(md, "| parse-per-block | 120.0 [115.0, 125.0] |");
    HAS(md, "*Plot ladder.png missing: gnuplot could not be started");
    for (int i = 0; i < N_PLOTS; i++) {
        const qk_report_plot *p = plot(&out, plot_names[i]);
        cr_assert(p && !p->ok && p->has_data);
        cr_assert_not_null(strstr(p->why, "gnuplot"), "%s: %s", p->name, p->why);
    }
    free(md);
}

Test(report, a_failing_script_is_reported) {
    if (!have_gnuplot()) cr_skip_test("gnuplot is not installed");
    char scripts[128], path[192];
    snprintf(scripts, sizeof scripts, "%s/scripts", dir);
    cr_assert_eq(mkdir(scripts, 0755), 0);
    snprintf(path, sizeof path, "%s/ladder.gp", scripts);
    FILE *f = fopen(path, "w");
    fputs("this is not gnuplot\n", f);
    fclose(f);
    cr_assert_eq(setenv("QK_REPORT_SCRIPTS", scripts, 1), 0);
    const char *res[] = {RESULTS_A};
    qk_report_outcome out;
    char *md = generate(res, 1, NULL, 0, &out);
    const qk_report_plot *p = plot(&out, "ladder");
    cr_assert(p && p->attempted && !p->ok);
    cr_assert_neq(p->exit_status, 0);
    HAS(md, "*Plot ladder.png missing: gnuplot exited with status");
    p = plot(&out, "breakdown"); /* has data but no script in that folder */
    cr_assert(p && !p->attempted && strstr(p->why, "no script breakdown.gp"));
    cr_assert_gt(file_size("ladder.log"), 0);
    free(md);
}

/* The library prints nothing: the progress of each gnuplot run goes through the callback (the
 * command prints it), and stdout and stderr stay empty. */
static int progress_calls;
static void count_progress(const char *script, void *arg) {
    const size_t n = strlen(script);
    cr_expect(n > 3 && !strcmp(script + n - 3, ".gp"), "progress for '%s'", script);
    cr_expect_eq(arg, &progress_calls);
    progress_calls++;
}

Test(report, library_prints_nothing) {
    cr_redirect_stdout();
    cr_redirect_stderr();
    const char *res[] = {RESULTS_A}, *roof[] = {ROOFLINE};
    qk_report_options o = {.results = res,
                           .n_results = 1,
                           .rooflines = roof,
                           .n_rooflines = 1,
                           .outdir = dir,
                           .progress = count_progress,
                           .progress_arg = &progress_calls};
    qk_report_outcome out;
    qk_error err = {{0}};
    cr_assert_eq(qk_report_generate(&o, &out, &err), 0, "%s", err.msg);
    cr_expect_eq(progress_calls, N_PLOTS, "one progress call per script with data");
    fflush(stdout);
    fflush(stderr);
    cr_expect_stdout_eq_str("");
    cr_expect_stderr_eq_str("");
}

Test(report, command_line) {
    cr_redirect_stdout();
    cr_redirect_stderr();
    char out_dir[128];
    snprintf(out_dir, sizeof out_dir, "%s/cli/out", dir);
    char *ok[] = {"report", RESULTS_A, "--roofline", ROOFLINE, "-o", out_dir, NULL};
    cr_assert_eq(qk_cmd_report(6, ok), 0);
    char path[192];
    snprintf(path, sizeof path, "%s/REPORT.md", out_dir);
    cr_assert_eq(access(path, R_OK), 0);
    char *help[] = {"report", "--help", NULL};
    cr_assert_eq(qk_cmd_report(2, help), 0);
    char *none[] = {"report", NULL};
    cr_assert_eq(qk_cmd_report(1, none), 2);
    char *bad_opt[] = {"report", RESULTS_A, "--bogus", NULL};
    cr_assert_eq(qk_cmd_report(3, bad_opt), 2);
    char *no_value[] = {"report", RESULTS_A, "-o", NULL};
    cr_assert_eq(qk_cmd_report(3, no_value), 2);
    char *missing[] = {"report", DATA "no-such-file.json", "-o", out_dir, NULL};
    cr_assert_eq(qk_cmd_report(4, missing), 2);
    char *not_roof[] = {"report", RESULTS_A, "--roofline", RESULTS_A, "-o", out_dir, NULL};
    cr_assert_eq(qk_cmd_report(6, not_roof), 2);
    char *unwritable[] = {"report", RESULTS_A, "-o", "/proc/qk-no-such-dir/out", NULL};
    cr_assert_eq(qk_cmd_report(4, unwritable), 1);
}

Test(report, roofline_round_trip) {
    cr_redirect_stdout();
    cr_redirect_stderr();
    char json[128];
    snprintf(json, sizeof json, "%s/roofline.json", dir);
    char *argv[] = {"roofline", "--threads", "1", "--seconds", "0.01", "--json", json, NULL};
    cr_assert_eq(qk_cmd_roofline(7, argv), 0);
    char *bad[] = {"roofline", "--seconds", "0", NULL};
    cr_assert_eq(qk_cmd_roofline(3, bad), 2);
    char *bad_threads[] = {"roofline", "--threads", "two", NULL};
    cr_assert_eq(qk_cmd_roofline(3, bad_threads), 2);
    /* the report reads what roofline wrote (another CPU name than the fixture's: the only
     * roofline of a one-CPU report is used, with a note) */
    const char *res[] = {RESULTS_A}, *roof[] = {json};
    qk_report_outcome out;
    char *md = generate(res, 1, roof, 1, &out);
    HAS(md, "| read bandwidth, DRAM (1 GiB) | 1 |");
    HAS(md, "| int8 peak, scalar: C int8 multiply-add (8 chains) | 1 |");
    HAS(md, "not on this CPU");
    free(md);
}

/* The llama.cpp peer section: from tests/data/results-peer.json (a peer at 16 tokens beside our
 * zero-copy kernel, and one that could not run at 128), and "not measured" without any peer. */
#define RESULTS_PEER DATA "results-peer.json"

Test(report, peer_section_from_fixture) {
    const char *res[] = {RESULTS_PEER};
    qk_report_outcome out;
    char *md = generate(res, 1, NULL, 0, &out);
    HAS(md, "## llama.cpp peer");
    HAS(md,
        "| Fixture CPU | synthetic:tiny | in-process | 2 | 16 | compact | 50.0 ms [48.0, 52.5] | "
        "zero-copy/avx2: 40.0 ms [38.5, 41.5] | 1.25x [1.19, 1.31]: ours 1.25x faster | "
        "0.999812 | 0.999456 | "
        "cpumask 0-1 (strict: a PU per thread), poll 0 |");
    HAS(md, "`libllama.v0.5.0.so` (@node-llama-cpp/linux-x64@3.22.1, llama.cpp commit "
            "0123456789ab)");
    HAS(md, "- forward/llama.cpp/peer/t:2/seq:128/bind:compact: not measured (skipped: peer "
            "llama.cpp: not installed (run scripts/install-peer.sh))");
    /* the peer is not one of our kernels: no other section lists it */
    const char *sec = strstr(md, "## llama.cpp peer");
    const char *before = strstr(md, "llama.cpp/peer");
    cr_assert(before == NULL || before > sec, "a peer configuration outside its section");
    cr_assert_null(strstr(md, "| llama.cpp |"), "llama.cpp listed as a kernel variant");
    free(md);
}

Test(report, peer_section_not_measured) {
    const char *res[] = {RESULTS_A};
    qk_report_outcome out;
    char *md = generate(res, 1, NULL, 0, &out);
    HAS(md, "## llama.cpp peer\n\nNot measured: no results file has a llama.cpp peer "
            "configuration.");
    HAS(md, "`peer = llama.cpp`");
    free(md);
}

/* The packed kernels' section: from tests/data/results-kernels.json (zero-copy as the baseline,
 * gemm and fused at 16 tokens with profiles and paired ratios), and "not measured" without them.
 * Comparisons hold time ratios config / baseline: the speedups are their inverses. */
#define RESULTS_KERNELS DATA "results-kernels.json"

Test(report, kernels_section_from_fixture) {
    const char *res[] = {RESULTS_KERNELS};
    qk_report_outcome out;
    char *md = generate(res, 1, NULL, 0, &out);
    HAS(md, "## Kernels beyond the story");
    HAS(md,
        "| 16 | 2 | token | zero-copy/avx2 | 40.0 ms [38.0, 42.0] | baseline | 100.0 | 90.0% |");
    HAS(md, "| 16 | 2 | token | gemm/avx2 | 20.0 ms [19.0, 21.0] | 2.00x [1.82, 2.22] | 200.0 | "
            "85.0% |");
    /* p = 36 / 40, s = 36 / 16, predicted 1 / (0.1 + 0.9 / 2.25) = 2.00, achieved 1 / 0.48 */
    HAS(md, "| 16 | 2 | zero-copy/avx2 -> fused/avx2 | 90.0% | 10.00x | 2.25x | 2.00x | 2.08x "
            "[2.00, 2.17] |");
    free(md);
}

Test(report, kernels_section_not_measured) {
    const char *res[] = {RESULTS_A};
    qk_report_outcome out;
    char *md = generate(res, 1, NULL, 0, &out);
    HAS(md,
        "## Kernels beyond the story\n\nNot measured: no results file has a forward pass of the "
        "packed kernels");
    free(md);
}

/* Golden reports: REPORT.md from each fixture (and from the committed Zen 3 results) is
 * byte-identical to tests/data/golden/NAME.md, written by the code before the report generator
 * moved into report/, once the two things that change from build to build are normalised: the
 * commit in the first line, and the source folder named as the scripts' home. A change that alters
 * a table on purpose regenerates the golden file in the same commit. */
static char *normalised(char *md) {
    static const char commit[] = "(commit ";
    char *p = strstr(md, commit);
    if (p) {
        char *hex = p + sizeof commit - 1, *end = hex;
        while ((*end >= '0' && *end <= '9') || (*end >= 'a' && *end <= 'f')) end++;
        if (*end == ')') memmove(hex, "COMMIT", 6), memmove(hex + 6, end, strlen(end) + 1);
    }
    const char *src = QK_SOURCE_DIR;
    const size_t n = strlen(src);
    while ((p = strstr(md, src)) != NULL) {
        memcpy(p, "@SRC@", 5);
        memmove(p + 5, p + n, strlen(p + n) + 1);
    }
    return md;
}

static void golden(const char *name, const char *const *results, int n, const char *const *roofs,
                   int nr) {
    qk_report_outcome out;
    char *md = normalised(generate(results, n, roofs, nr, &out));
    char path[512];
    snprintf(path, sizeof path, DATA "golden/%s.md", name);
    char *want = slurp(path);
    int line = 1;
    const char *a = md, *b = want;
    while (*a && *a == *b) line += *a++ == '\n', b++;
    cr_assert(*a == 0 && *b == 0,
              "%s: REPORT.md differs from %s from line %d:\n got: %.120s\nwant: %.120s", name, path,
              line, a, b);
    free(md), free(want);
}

#define ZEN3 QK_SOURCE_DIR "/results/amd-epyc-zen3-2vcpu/"

Test(report, golden_reports_are_unchanged, .timeout = 120) {
    const char *small[] = {RESULTS_A}, *two[] = {RESULTS_A, RESULTS_B}, *roof[] = {ROOFLINE};
    const char *peer[] = {DATA "results-peer.json"}, *kernels[] = {DATA "results-kernels.json"};
    const char *zen3[] = {ZEN3 "seed-reproduction.json", ZEN3 "performance.json",
                          ZEN3 "thread-scaling.json"},
               *zen3_roof[] = {ZEN3 "roofline.json"};
    golden("small", small, 1, roof, 1);
    golden("two-cpus", two, 2, roof, 1);
    golden("peer", peer, 1, NULL, 0);
    golden("kernels", kernels, 1, NULL, 0);
    golden("zen3", zen3, 3, zen3_roof, 1);
    const char *sittings[] = {DATA "results-sittings-zen3.json"};
    golden("sittings-zen3", sittings, 1, NULL, 0);
}

/* ---- plots a reader takes in at a glance (issue 17)
 *
 * Every plot states its panels and series in NAME.vars (report/style.h); read back here, they must
 * keep the rules: a panel holds at most 8 series and 12 bars, no two series of one panel share
 * both colour and dash type, panels do not overlap, a variant has one colour and an ISA one dash
 * and point type in every plot (the seed story's four the ladder's colours, llama.cpp black), and
 * llama.cpp is drawn in every sequence-length panel when the results measured it. The main fixture
 * is what scripts/main.sh produced on a three-tier CPU (Zen 4 (family 25 model 17), scalar, avx2
 * and avx512vnni): the seed story and the performance run, quick (3 repetitions; repetition records
 * trimmed), and the roofline. */
#define ZEN4_SEED DATA "results-zen4-seed.json"
#define ZEN4_PERF DATA "results-zen4-performance.json"
#define ZEN4_ROOF DATA "roofline-zen4.json"

#define MAX_PANEL_SERIES 8
#define MAX_PANEL_BARS   12

/* One gnuplot variable of a .vars file: a scalar (n = 1) or an array, its items as text (strings
 * unquoted and unescaped). */
typedef struct {
    char name[48];
    int n;
    char **item;
} gp_var;
typedef struct {
    gp_var v[160];
    int n;
} gp_vars;

/* the next item of an array or scalar at *p: a quoted string or a bare number */
static char *gp_item(const char **p) {
    const char *s = *p;
    while (*s == ' ' || *s == ',') s++;
    char *out = malloc(strlen(s) + 1), *o = out;
    cr_assert_not_null(out);
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1])
                s++, *o++ = *s == 'n' ? '\n' : *s;
            else
                *o++ = *s;
        }
        if (*s == '"') s++;
    } else {
        while (*s && *s != ',' && *s != ']' && *s != '\n') *o++ = *s++;
        while (o > out && o[-1] == ' ') o--;
    }
    *o = 0;
    *p = s;
    return out;
}

static void vars_load(const char *name, gp_vars *g) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = slurp(path);
    memset(g, 0, sizeof *g);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (*line == '#' || g->n == 160) continue;
        gp_var *v = &g->v[g->n];
        int n = 0, used = 0;
        if (sscanf(line, "array %47[a-z_0-9][%d] = [%n", v->name, &n, &used) == 2 && used) {
            const char *p = line + used;
            v->item = calloc((size_t)n, sizeof *v->item);
            for (int i = 0; i < n; i++) v->item[i] = gp_item(&p);
            v->n = n;
            g->n++;
        } else if (sscanf(line, "%47[a-z_0-9] = %n", v->name, &used) == 1 && used) {
            const char *p = line + used;
            v->item = calloc(1, sizeof *v->item);
            v->item[0] = gp_item(&p);
            v->n = 1;
            g->n++;
        }
    }
    free(text);
}

static void vars_free(gp_vars *g) {
    for (int i = 0; i < g->n; i++) {
        for (int j = 0; j < g->v[i].n; j++) free(g->v[i].item[j]);
        free(g->v[i].item);
    }
}

static const gp_var *var(const gp_vars *g, const char *name, int n) {
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->v[i].name, name)) {
            cr_assert_geq(g->v[i].n, n, "%s holds %d items, not %d", name, g->v[i].n, n);
            return &g->v[i];
        }
    cr_assert_fail("no variable %s", name);
    return NULL;
}
static int num(const gp_vars *g, const char *name) {
    return atoi(var(g, name, 1)->item[0]);
}
static const char *str_at(const gp_vars *g, const char *name, int i) {
    return var(g, name, i + 1)->item[i];
}
static int int_at(const gp_vars *g, const char *name, int i) {
    return atoi(str_at(g, name, i));
}

/* The vocabulary seen so far across the plots of one report: a variant's colour, an ISA's dash
 * and point type. */
typedef struct {
    char key[48];
    char colour[8];
    int dt, pt;
} look_seen;
typedef struct {
    look_seen v[64], isa[16];
    int nv, ni;
} vocabulary;

static void same_look(vocabulary *voc, const char *plot, const char *variant, const char *isa,
                      const char *colour, int dt, int pt) {
    if (*variant) {
        int i = 0;
        while (i < voc->nv && strcmp(voc->v[i].key, variant)) i++;
        if (i == voc->nv && i < 64) {
            snprintf(voc->v[i].key, sizeof voc->v[i].key, "%s", variant);
            snprintf(voc->v[i].colour, sizeof voc->v[i].colour, "%s", colour);
            voc->nv++;
        }
        cr_expect_str_eq(colour, voc->v[i].colour, "%s: %s is %s here, %s elsewhere", plot, variant,
                         colour, voc->v[i].colour);
    }
    if (*isa && strcmp(variant, "llama.cpp") && dt > 0 && pt > 0) {
        int i = 0;
        while (i < voc->ni && strcmp(voc->isa[i].key, isa)) i++;
        if (i == voc->ni && i < 16) {
            snprintf(voc->isa[i].key, sizeof voc->isa[i].key, "%s", isa);
            voc->isa[i].dt = dt, voc->isa[i].pt = pt;
            voc->ni++;
        }
        cr_expect(dt == voc->isa[i].dt && pt == voc->isa[i].pt,
                  "%s: %s drawn with dash %d point %d here, %d %d elsewhere", plot, isa, dt, pt,
                  voc->isa[i].dt, voc->isa[i].pt);
    }
}

/* The rules on one plot's NAME.vars; returns how many of its panels draw llama.cpp. */
static int plot_keeps_the_rules(const char *plot, vocabulary *voc, int line_plot) {
    char name[64];
    snprintf(name, sizeof name, "%s.vars", plot);
    gp_vars g;
    vars_load(name, &g);
    const int np = num(&g, "n_panels"), ns = num(&g, "n_series");
    const int rows = num(&g, "n_rows"), cols = num(&g, "n_cols");
    cr_assert_gt(np, 0, "%s: no panel", plot);
    cr_assert_gt(num(&g, "n_legend"), 0, "%s: no legend", plot);
    int next = 1, with_peer = 0;
    for (int p = 0; p < np; p++) {
        const int first = int_at(&g, "panel_first", p), n = int_at(&g, "panel_n", p);
        const int bars = int_at(&g, "panel_bars", p);
        const int row = int_at(&g, "panel_row", p), col = int_at(&g, "panel_col", p);
        const char *title = str_at(&g, "panel_title", p);
        cr_expect_leq(n, MAX_PANEL_SERIES, "%s: panel \"%s\" holds %d series", plot, title, n);
        cr_expect_leq(bars, MAX_PANEL_BARS, "%s: panel \"%s\" holds %d bars", plot, title, bars);
        cr_expect_gt(n, 0, "%s: panel \"%s\" draws nothing", plot, title);
        cr_expect_eq(first, next, "%s: panel %d's series do not follow the previous panel's", plot,
                     p + 1);
        next = first + n;
        cr_expect(row >= 1 && row <= rows && col >= 1 && col <= cols,
                  "%s: panel %d outside the grid", plot, p + 1);
        for (int q = 0; q < p; q++)
            cr_expect(int_at(&g, "panel_row", q) != row || int_at(&g, "panel_col", q) != col,
                      "%s: panels %d and %d share a cell", plot, q + 1, p + 1);
        int peer = 0;
        for (int a = first - 1; a < first - 1 + n && a < ns; a++) {
            const char *ca = str_at(&g, "series_colour", a), *va = str_at(&g, "series_variant", a);
            const int dta = int_at(&g, "series_dt", a);
            peer |= !strcmp(va, "llama.cpp");
            if (strcmp(va, "llama.cpp"))
                cr_expect_str_neq(ca, "#000000", "%s: %s drawn in llama.cpp's black", plot, va);
            else if (line_plot)
                cr_expect_str_eq(ca, "#000000", "%s: llama.cpp is not black", plot);
            if (line_plot || strcmp(va, "llama.cpp")) /* the peer plot shades its series */
                same_look(voc, plot, va, str_at(&g, "series_isa", a), ca, dta,
                          int_at(&g, "series_pt", a));
            for (int b = a + 1; b < first - 1 + n && b < ns; b++)
                cr_expect(strcmp(ca, str_at(&g, "series_colour", b)) ||
                              dta != int_at(&g, "series_dt", b),
                          "%s: panel \"%s\": %s and %s share colour %s and dash %d", plot, title,
                          str_at(&g, "series_title", a), str_at(&g, "series_title", b), ca, dta);
        }
        with_peer += peer;
    }
    cr_expect_eq(next - 1, ns, "%s: %d series, the panels hold %d", plot, ns, next - 1);
    vars_free(&g);
    return with_peer;
}

/* Every plot of the report just generated in dir keeps the rules; the peer plot is drawn exactly
 * when the results measured llama.cpp (peer_measured: at that thread count; 0 when not). */
static void plots_keep_the_rules(const qk_report_outcome *out, int peer_measured) {
    vocabulary voc = {0};
    static const char *const all[] = {"ladder", "breakdown", "threads",
                                      "seqlen", "roofline",  "peer"};
    for (int i = 0; i < 6; i++) {
        const qk_report_plot *p = plot(out, all[i]);
        cr_assert_not_null(p, "no plot %s", all[i]);
        if (!p->has_data) continue;
        if (have_gnuplot()) cr_expect(p->ok, "%s: %s", p->name, p->why);
        const int line = !strcmp(all[i], "threads") || !strcmp(all[i], "seqlen");
        const int with_peer = plot_keeps_the_rules(all[i], &voc, line);
        if (!strcmp(all[i], "seqlen") && peer_measured) {
            /* llama.cpp in every panel at the thread count it was measured at */
            gp_vars g;
            vars_load("seqlen.vars", &g);
            char held[32];
            snprintf(held, sizeof held, ", %d threads", peer_measured);
            int want = 0, have = 0;
            for (int p = 0; p < num(&g, "n_panels"); p++) {
                const char *t = str_at(&g, "panel_title", p);
                if (strlen(t) < strlen(held) || strcmp(t + strlen(t) - strlen(held), held))
                    continue;
                want++;
                const int first = int_at(&g, "panel_first", p) - 1, n = int_at(&g, "panel_n", p);
                int peer = 0;
                for (int a = first; a < first + n; a++)
                    peer |= !strcmp(str_at(&g, "series_variant", a), "llama.cpp");
                have += peer;
                cr_expect(peer, "seqlen: panel \"%s\" lacks llama.cpp", t);
            }
            cr_expect_gt(want, 0, "seqlen: no panel at %d threads", peer_measured);
            cr_expect(with_peer >= have, "seqlen: %d panels with llama.cpp", with_peer);
            vars_free(&g);
        }
    }
    /* the seed story's four keep the ladder's colours */
    static const char *const story[][2] = {{"parse-per-block", "#7f7f7f"},
                                           {"precached-scales", "#1f77b4"},
                                           {"zero-copy", "#2ca02c"},
                                           {"alloc-copy", "#d62728"}};
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < voc.nv; i++)
            if (!strcmp(voc.v[i].key, story[s][0]))
                cr_expect_str_eq(voc.v[i].colour, story[s][1], "%s changed colour", story[s][0]);
    const qk_report_plot *pp = plot(out, "peer");
    cr_expect_eq(pp->has_data, peer_measured > 0, "peer plot: has_data %d", pp->has_data);
}

Test(report, a_three_tier_run_plots_at_a_glance, .timeout = 120) {
    const char *res[] = {ZEN4_SEED, ZEN4_PERF}, *roof[] = {ZEN4_ROOF};
    qk_report_outcome out;
    char *md = generate(res, 2, roof, 1, &out);
    plots_keep_the_rules(&out, 2);
    /* what main.sh draws on three tiers: the ladder a panel per ISA, the breakdown a panel per
     * ISA and token count, the sequence length split by activation scales and ISA, llama.cpp in
     * each, and the peer plot with a point per token count */
    gp_vars g;
    vars_load("ladder.vars", &g);
    cr_expect_eq(num(&g, "n_panels"), 3);
    vars_free(&g);
    vars_load("breakdown.vars", &g);
    cr_expect_eq(num(&g, "n_panels"), 8);
    vars_free(&g);
    vars_load("seqlen.vars", &g);
    cr_expect_geq(num(&g, "n_panels"), 3);
    vars_free(&g);
    vars_load("roofline.vars", &g);
    cr_expect_eq(num(&g, "n_panels"), 3);
    vars_free(&g);
    char path[256];
    snprintf(path, sizeof path, "%s/peer.dat", dir);
    char *dat = slurp(path);
    int points = 0;
    for (const char *l = dat; (l = strchr(l, '\n')) != NULL; l++)
        points += l[1] >= '0' && l[1] <= '9';
    cr_expect_eq(points, 3, "peer.dat: %d points, not one per token count (1, 16, 128)", points);
    free(dat);
    if (have_gnuplot()) HAS(md, "![llama.cpp time / ours against tokens per pass](peer.png)");
    free(md);
}

Test(report, every_fixture_plots_at_a_glance, .timeout = 120) {
    const char *small[] = {RESULTS_A}, *two[] = {RESULTS_A, RESULTS_B}, *roof[] = {ROOFLINE};
    const char *peer[] = {DATA "results-peer.json"}, *kernels[] = {DATA "results-kernels.json"};
    const char *zen3[] = {ZEN3 "seed-reproduction.json", ZEN3 "performance.json",
                          ZEN3 "thread-scaling.json"},
               *zen3_roof[] = {ZEN3 "roofline.json"};
    const char *sittings[] = {DATA "results-sittings-zen3.json"}; /* both peer modes */
    struct {
        const char *const *res;
        int n;
        const char *const *roof;
        int nr, peer;
    } cases[] = {{small, 1, roof, 1, 0},   {two, 2, roof, 1, 0},       {peer, 1, NULL, 0, 2},
                 {kernels, 1, NULL, 0, 0}, {zen3, 3, zen3_roof, 1, 2}, {sittings, 1, NULL, 0, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qk_report_outcome out;
        free(generate(cases[i].res, cases[i].n, cases[i].roof, cases[i].nr, &out));
        plots_keep_the_rules(&out, cases[i].peer);
    }
}

/* A crowd: ten variants no table knows (the spare colours run out after eight, so the ninth looks
 * like the first), each on avx2 at 5 and 10 tokens. One panel would hold ten series, two of them
 * alike: the sequence-length plot splits them so that no panel holds more than eight or two
 * alike. */
Test(report, a_crowd_is_split_into_panels) {
    qk_results *r = qk_results_new();
    cr_assert_eq(qk_results_capture_environment(r), 0);
    char name[128], variant[32];
    for (int v = 0; v < 10; v++)
        for (int q = 0; q < 2; q++) {
            snprintf(variant, sizeof variant, "crowd-%d", v);
            snprintf(name, sizeof name, "forward/%s/avx2/t:1/seq:%d/act:token/bind:compact",
                     variant, 5 * (q + 1));
            json_t *x =
                json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:i}", "variant", variant,
                          "isa", "avx2", "run", "forward", "threads", 1, "seq_len", 5 * (q + 1),
                          "act_scale", "token", "binding", "compact", "path", "int8", "group", 0);
            double t[4];
            for (int k = 0; k < 4; k++) t[k] = 0.001 * (v + 1) * (q + 1) * (1 + 0.01 * k);
            for (int k = 0; k < 4; k++)
                cr_assert_eq(qk_results_add_repetition(r, name, k, 4, t[k], t[k], x), 0);
            qk_stats s;
            cr_assert_eq(qk_stats_compute(t, 4, 1, &s), 0);
            cr_assert_eq(qk_results_add_aggregates(r, name, &s, x), 0);
            json_decref(x);
        }
    qk_error err = {{0}};
    cr_assert_eq(qk_results_write(r, dir, "crowd", 1, 0, &err), 0, "%s", err.msg);
    qk_results_free(r);
    char path[128];
    snprintf(path, sizeof path, "%s/crowd.json", dir);
    const char *res[] = {path};
    qk_report_outcome out;
    free(generate(res, 1, NULL, 0, &out));
    plots_keep_the_rules(&out, 0);
    gp_vars g;
    vars_load("seqlen.vars", &g);
    cr_expect_eq(num(&g, "n_series"), 10);
    cr_expect_eq(num(&g, "n_panels"), 2, "ten series in %d panels", num(&g, "n_panels"));
    vars_free(&g);
}
