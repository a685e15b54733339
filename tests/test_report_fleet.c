/* The report of a fleet, without a cluster: results files that carry context.slurm (as
 * harness/fleet/context.c writes it) get a column per fleet target even when the targets ran on
 * one node, the SLURM job and CPU mask rows in the machine table, and the Fleet section; the
 * targets that were not measured are named (their reasons come from job logs, so they are made
 * Markdown-safe like the files); a target measured by two array tasks gets its node-to-node
 * spread. Each input is tests/data/results-small.json with a slurm context added. */
#define _GNU_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

#define DATA QK_SOURCE_DIR "/tests/data/"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-rfleet-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(report_fleet, .init = setup, .fini = teardown, .timeout = 120);

/* results-small.json as target `target` (array task `task`, -1 none) measured it, in dir/name. */
static const char *as_target(const char *name, const char *target, int task, double scale) {
    json_error_t je;
    json_t *doc = json_load_file(DATA "results-small.json", 0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    json_t *ctx = json_object_get(doc, "context");
    json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "job_id", "41",
                          "node", "n1", "partition", "p1", "cluster", "c", "cpus_on_node", 2,
                          "cpu_mask", "0-1", "pool_pus", "0-1", "mask_check", "ok", "fleet_target",
                          target, "fleet_selector", "partition=p1");
    if (task >= 0) {
        json_object_set_new(s, "array_job_id", json_string("40"));
        json_object_set_new(s, "array_task_id", json_integer(task));
    }
    json_object_set_new(ctx, "slurm", s);
    /* another node's times: every median scaled */
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        json_t *t = json_object_get(b, "real_time");
        if (json_is_number(t))
            json_object_set_new(b, "real_time", json_real(json_number_value(t) * scale));
    }
    static char paths[4][128];
    static int k;
    char *path = paths[k++ % 4];
    snprintf(path, 128, "%s/%s.json", dir, name);
    cr_assert_eq(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    return path;
}

static char *generate(const char *const *files, int n, const char *const *absent, int n_absent) {
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    qk_report_options o = {
        .results = files, .n_results = n, .outdir = out, .scripts_dir = "/nonexistent-scripts"};
    qk_report_outcome res;
    qk_error err = {{0}};
    cr_assert_eq(qk_report_generate_fleet(&o, absent, n_absent, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.n_cpus, n);
    FILE *f = fopen(res.report_path, "r");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    const long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *md = malloc((size_t)len + 1);
    md[fread(md, 1, (size_t)len, f)] = 0;
    fclose(f);
    return md;
}

Test(report_fleet, a_column_per_target_on_one_node_and_the_failed_one_named) {
    const char *files[] = {as_target("a", "alpha", -1, 1), as_target("b", "beta", -1, 1.1)};
    const char *absent[] = {"bad (nodelist=n1) on n1: failed: exit 2: qkbench fleet: model "
                            "'/x|y' is not readable\n## injected",
                            "odd (partition=p) on n1: failed: exit 1: \xff\xfe | <b>"};
    char *md = generate(files, 2, absent, 2);
    cr_assert(strstr(md, "- **A**: ") && strstr(md, "fleet target alpha), 1 results file"), "%s",
              md);
    cr_assert(strstr(md, "fleet target beta), 1 results file"), "%s", md);
    cr_assert(strstr(md, "| fleet target | - | alpha | beta |"), "%s", md);
    cr_assert(strstr(md, "| SLURM job | 41 on node n1, partition p1, cluster c |"), "%s", md);
    cr_assert(strstr(md, "| CPU mask | 0-1 (the job was given 2 CPUs); the pool pins 0-1: ok |"),
              "%s", md);
    cr_assert(strstr(md, "## Fleet\n"), "%s", md);
    cr_assert(strstr(md, "| alpha | A: "), "%s", md);
    cr_assert(strstr(md, "- **not measured**: bad (nodelist=n1) on n1: failed: exit 2:"), "%s", md);
    cr_assert(strstr(md, "'/x\\|y' is not readable ## injected"), "the reason is not safe: %s", md);
    cr_assert_null(strstr(md, "\n## injected"));
    cr_assert(strstr(md, "exit 1: ?? \\| &lt;b>"), "not UTF-8, not safe: %s", md);
    cr_assert_null(strstr(md, "Node-to-node spread"), "one node per target: no spread");
    free(md);
}

Test(report_fleet, node_to_node_spread_of_an_array) {
    const char *files[] = {as_target("t0", "zen4", 0, 1), as_target("t1", "zen4", 1, 1.25)};
    char *md = generate(files, 2, NULL, 0);
    cr_assert(strstr(md, "fleet target zen4/0") && strstr(md, "fleet target zen4/1"), "%s", md);
    cr_assert(strstr(md, "| zen4/1 | B: ") && strstr(md, "| 40_1 |"), "%s", md);
    /* every median 1.25x on task 1: a spread of 25% everywhere, both tasks on node n1 */
    cr_assert(strstr(md, "| zen4 | 2 (1 node) |") && strstr(md, "| 25.0% | 25.0% ("), "%s",
              strstr(md, "Node-to-node") ? strstr(md, "Node-to-node") : md);
    free(md);
}

Test(report_fleet, results_without_slurm_have_no_fleet_section) {
    const char *files[] = {DATA "results-small.json"};
    char *md = generate(files, 1, NULL, 0);
    cr_assert_null(strstr(md, "## Fleet"));
    cr_assert_null(strstr(md, "fleet target"));
    cr_assert_null(strstr(md, "SLURM"));
    free(md);
}
