/* REPORT.md from results of several sittings and both peer modes (issue 15): the "Across
 * sittings" section (the sittings' dates, every ratio with its two-level interval, the sittings'
 * range and the stable / unstable mark, the sentence naming the unstable ones, the medians), the
 * peer section's mode column and the headline's stated mode, and the section's answer to a file
 * whose per-sitting figures are impossible. The fixture tests/data/results-sittings-zen3.json is
 * the merged format of notes/format.md: 3 sittings of 5 repetitions, parse-per-block, zero-copy
 * and gemm beside llama.cpp in-process and in its own process, at 1 and 16 tokens, 2 threads;
 * the own-process peer at 1 token had a much faster third sitting, whose own interval misses the
 * pooled one (the only unstable ratio). */
#define _GNU_SOURCE /* mkdtemp, getdelim */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report.h"

#define DATA     QK_SOURCE_DIR "/tests/data/"
#define SITTINGS DATA "results-sittings-zen3.json"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-rsit-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(report_sittings, .init = setup, .fini = teardown, .timeout = 120);

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *s = NULL;
    size_t cap = 0;
    cr_assert_gt(getdelim(&s, &cap, 0, f), 0);
    fclose(f);
    return s;
}

/* REPORT.md of one results file, malloc'd; scripts NULL: the real gnuplot scripts. */
static char *report_of(const char *path, const char *scripts, qk_report_outcome *res) {
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    const char *results[] = {path};
    qk_report_options o = {results, 1, NULL, 0, out, scripts, NULL, NULL};
    qk_error err = {{0}};
    cr_assert_eq(qk_report_generate(&o, res, &err), 0, "%s", err.msg);
    return slurp(res->report_path);
}

static char *tables_of(const char *path) {
    qk_report_outcome res;
    return report_of(path, "/nonexistent-scripts", &res);
}

/* The fixture with edit() applied, written to dir/in.json. */
static const char *mutated(void (*edit)(json_t *doc)) {
    json_error_t je;
    json_t *doc = json_load_file(SITTINGS, 0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    edit(doc);
    static char path[128];
    snprintf(path, sizeof path, "%s/in.json", dir);
    cr_assert_eq(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    return path;
}

#define HAS(md, s)   cr_expect_not_null(strstr(md, s), "REPORT.md lacks \"%s\"", s)
#define LACKS(md, s) cr_expect_null(strstr(md, s), "REPORT.md has \"%s\"", s)

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* The text of section `heading` up to the next "\n## ", malloc'd. */
static char *section(const char *md, const char *heading) {
    const char *a = strstr(md, heading);
    cr_assert_not_null(a, "no %s", heading);
    const char *b = strstr(a + 1, "\n## ");
    return strndup(a, b ? (size_t)(b - a) : strlen(a));
}

Test(report_sittings, every_ratio_with_its_interval_spread_and_mark) {
    char *md = tables_of(SITTINGS);
    char *s = section(md, "## Across sittings");
    HAS(s, "#### performance");
    HAS(s, "**3 sittings**, started 600 s apart: sitting 1 at 2026-12-03T10:00:05Z (212 s); "
           "sitting 2 at 2026-12-03T10:10:05Z (209 s); sitting 3 at 2026-12-03T10:20:05Z (220 "
           "s). The file keeps each sitting's raw repetitions (150 records).");
    /* the own-process peer at 1 token: pooled [1.300, 1.451], the third sitting's own interval
     * [1.043, 1.168] misses it */
    HAS(s, "| llama.cpp / gemm/avx2 | own process | 1 | 2 | 1.369x [1.300, 1.451] | 1.113 .. "
           "1.501 | **unstable**: 1 of 3 sittings' intervals miss the pooled one |");
    HAS(s, "| llama.cpp / gemm/avx2 | in-process | 16 | 2 | 2.694x [2.570, 2.765] | 2.598 .. 2.710 "
           "| stable |");
    HAS(s, "| zero-copy/avx2 / parse-per-block/avx2 | — | 1 | 2 | 0.571x [0.549, 0.593] | 0.558 "
           ".. 0.593 | stable |");
    /* all eight comparisons of the file, one unstable */
    cr_expect_eq(count(s, "| stable |"), 8 - 1 + 9, "7 stable ratios and 9 stable medians");
    cr_expect_eq(count(s, "intervals miss the pooled one |"), 1);
    HAS(s, "Unstable: llama.cpp (own process) / gemm/avx2 at 1 token, 2 threads. This ratio moved "
           "between sittings");
    /* the medians: pooled with its two-level interval, the sittings' range */
    HAS(s, "| llama.cpp | own process | 1 | 2 | 13.40 [12.73, 14.07] | 10.17 .. 13.60 | 1.337x | "
           "**unstable**: 1 of 3 sittings |");
    HAS(s, "| gemm/avx2 | — | 16 | 2 | 26.45 [25.79, 27.15] | 25.79 .. 27.04 | 1.048x | stable |");
    LACKS(s, "n/a");
    free(s);
    free(md);
}

Test(report_sittings, both_peer_modes_and_the_headline_says_which) {
    char *md = tables_of(SITTINGS);
    char *p = section(md, "## llama.cpp peer");
    HAS(p, "| AMD EPYC | synthetic:embeddinggemma-300m | in-process | 2 | 16 | compact | 71.4 ms "
           "[68.3, 73.1] |");
    HAS(p, "| AMD EPYC | synthetic:embeddinggemma-300m | own process | 2 | 16 | compact | 55.4 ms "
           "[54.3, 57.7] | gemm/avx2: 26.4 ms [25.8, 27.2] | 2.10x [2.04, 2.14]: ours 2.10x faster "
           "|");
    HAS(p, "| own process, affinity 0-1, llama.cpp default threadpool, poll 50 |");
    cr_expect_eq(count(p, "| own process |"), 2);
    cr_expect_eq(count(p, "| in-process |"), 2);
    HAS(p, "the summary's headline llama.cpp / ours uses the own-process mode (llama.cpp as its "
           "users run it); the in-process rows are beside it.");
    HAS(p, "two-level, over sittings and their repetitions");
    free(p);
    char *s = section(md, "## Summary");
    HAS(s, "| 2.099x [2.037, 2.138] vs gemm/avx2, 16 tokens, 2 threads; llama.cpp in its own "
           "process, as its users run it |");
    free(s);
    free(md);
}

/* Without the own-process records and comparisons, the headline is in-process, and says so. */
static void drop_process_mode(json_t *doc) {
    const char *arrays[] = {"benchmarks", "comparisons"};
    for (int a = 0; a < 2; a++) {
        json_t *arr = json_object_get(doc, arrays[a]);
        for (size_t i = json_array_size(arr); i-- > 0;) {
            const char *n = json_string_value(json_object_get(json_array_get(arr, i), "name"));
            if (n && strstr(n, "/peer-process/")) json_array_remove(arr, i);
        }
    }
}

Test(report_sittings, headline_is_in_process_without_the_own_process_mode) {
    char *md = tables_of(mutated(drop_process_mode));
    HAS(md, "| 2.694x [2.570, 2.765] vs gemm/avx2, 16 tokens, 2 threads; llama.cpp in-process "
            "(its own-process mode not measured) |");
    HAS(md, "the summary's headline llama.cpp / ours uses the in-process mode: the own-process "
            "mode was not measured");
    LACKS(md, "| own process |");
    HAS(md, "All 6 ratios checked are stable");
    free(md);
}

Test(report_sittings, one_sitting_says_what_sittings_would_add) {
    char *md = tables_of(DATA "results-small.json");
    HAS(md, "## Across sittings\n\nOne sitting: every interval in this report comes from the "
            "repetitions of one process");
    HAS(md, "`qkbench run EXP --sittings K`");
    LACKS(md, "**unstable**");
    free(md);
}

/* ---- impossible per-sitting figures: n/a and a note, never a figure or a crash */

static json_t *comparison(json_t *doc, const char *part) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "comparisons"), i, c) {
        if (strstr(json_string_value(json_object_get(c, "name")), part)) return c;
    }
    cr_assert_fail("no comparison %s", part);
    return NULL;
}

static void negative_sitting_ratio(json_t *doc) {
    json_t *c = comparison(doc, "peer/t:2/seq:16/");
    json_object_set_new(json_array_get(json_object_get(c, "sitting_ratios"), 0), "ratio",
                        json_real(-2.5));
    json_t *e = json_array_get(
        json_object_get(comparison(doc, "gemm/avx2/t:2/seq:16/"), "sitting_ratios"), 1);
    json_object_set_new(e, "ci_hi", json_real(1e300));
}

Test(report_sittings, a_ratio_that_is_not_a_ratio_is_not_used) {
    char *md = tables_of(mutated(negative_sitting_ratio));
    char *s = section(md, "## Across sittings");
    HAS(s, "| llama.cpp / gemm/avx2 | in-process | 16 | 2 | 2.694x [2.570, 2.765] | n/a | n/a "
           "(sitting 1's ratio or interval is not a ratio) |");
    HAS(s, "| gemm/avx2 / zero-copy/avx2 | — | 16 | 2 |");
    HAS(s, "n/a (sitting 1's ratio or interval is not a ratio) |");
    HAS(s, "2 ratios could not be checked");
    LACKS(s, "-2.5");
    LACKS(s, "x [-");
    LACKS(s, "inf");
    LACKS(s, "nan");
    cr_expect_lt(strlen(s), 20000, "a huge number printed in full");
    free(s);
    free(md);
}

static void more_sittings_than_records(json_t *doc) {
    json_object_set_new(json_object_get(json_object_get(doc, "context"), "sittings"), "count",
                        json_integer(5));
}

static void absurd_count(json_t *doc) {
    json_object_set_new(json_object_get(json_object_get(doc, "context"), "sittings"), "count",
                        json_real(1e300));
}

static void comparison_disagrees(json_t *doc) {
    json_object_set_new(comparison(doc, "zero-copy/avx2/t:2/seq:1/"), "sittings", json_integer(2));
    json_t *runs =
        json_object_get(json_object_get(json_object_get(doc, "context"), "sittings"), "runs");
    json_object_set_new(json_array_get(runs, 1), "date", json_string("x | y\n## Injected <b>"));
    /* a median's sittings' medians with a time that is not a time */
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *an = json_string_value(json_object_get(b, "aggregate_name"));
        const char *rn = json_string_value(json_object_get(b, "run_name"));
        if (an && !strcmp(an, "median") && strstr(rn, "forward/gemm/avx2/t:2/seq:1/"))
            json_array_set_new(json_object_get(b, "sitting_medians"), 2, json_real(-1));
    }
}

Test(report_sittings, counts_that_disagree_give_n_a_and_a_note) {
    char *md = tables_of(mutated(more_sittings_than_records));
    char *s = section(md, "## Across sittings");
    HAS(s, "*The records name 3 distinct sittings, the context 5: the "
           "per-sitting figures below are n/a.*");
    HAS(s, "| llama.cpp / gemm/avx2 | own process | 1 | 2 | 1.369x [1.300, 1.451] | n/a | n/a "
           "(the file's sitting counts disagree) |");
    LACKS(s, "**unstable**");
    LACKS(s, "| stable |");
    free(s);
    free(md);

    md = tables_of(mutated(absurd_count));
    s = section(md, "## Across sittings");
    HAS(s, "*context.sittings.count is not a number of sittings (1..64)");
    LACKS(s, "2147483647");
    LACKS(s, "-2147483648");
    free(s);
    free(md);

    md = tables_of(mutated(comparison_disagrees));
    s = section(md, "## Across sittings");
    HAS(s,
        "| zero-copy/avx2 / parse-per-block/avx2 | — | 1 | 2 | 0.571x [0.549, 0.593] | n/a | n/a "
        "(it says 2 sittings with 3 per-sitting ratios, the file 3) |");
    HAS(s, "| gemm/avx2 | — | 1 | 2 | 9.304 [8.806, 9.643] | n/a | n/a | n/a |");
    HAS(s, "sitting 2 at x \\| y ## Injected &lt;b>");
    LACKS(s, "\n## Injected");
    free(s);
    free(md);
}

/* The peer plot: a line per mode (open points for the own-process one), drawn without a
 * gnuplot warning. */
Test(report_sittings, the_peer_plot_draws_a_line_per_mode) {
    qk_report_outcome res;
    char *md = report_of(SITTINGS, NULL, &res);
    char path[256];
    snprintf(path, sizeof path, "%s/out/peer.vars", dir);
    char *vars = slurp(path);
    HAS(vars, "2 threads, in-process");
    HAS(vars, "2 threads, own process");
    HAS(vars, "array series_pt[2] = [13, 12]");
    free(vars);
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        const qk_report_plot *peer = NULL;
        for (int i = 0; i < res.n_plots; i++)
            if (!strcmp(res.plots[i].name, "peer")) peer = &res.plots[i];
        cr_assert_not_null(peer);
        cr_expect(peer->ok, "peer plot: %s", peer->why);
        snprintf(path, sizeof path, "%s/out/peer.log", dir);
        struct stat st;
        cr_expect(stat(path, &st) == 0 && st.st_size == 0, "gnuplot said something: see %s", path);
        HAS(md, "![llama.cpp time / ours against tokens per pass](peer.png)");
    }
    free(md);
}
