/* The files a fleet writes and reads, without a cluster: the experiment checked as the nodes will
 * check it and copied with another model (experiment_text.c), the job scripts (script.c: run
 * here with sh, a stand-in qkbench and a path holding a quote, to see what reaches the command
 * line) and fleet.json written and read back (state.c). */
#define _GNU_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/fleet/internal.h"

static char tmp[64];

static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/qk-fleet-files-XXXXXX");
    cr_assert(mkdtemp(tmp));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) {
    }
}

TestSuite(fleet_files, .init = setup, .fini = teardown, .timeout = 60);

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static const char exp_text[] =
    "; a comment\n[experiment]\nname = fx\n  model: synthetic:tiny ; the "
    "tiny one\nrun = forward\n[sweep]\nkernels = zero-copy\n";

Test(fleet_files, model_line_replaced_in_experiment_only) {
    char *t = qkf_experiment_with_model(exp_text, "/data/m.gguf");
    cr_assert(t);
    cr_assert_str_eq(t, "; a comment\n[experiment]\nname = fx\nmodel = /data/m.gguf\nrun = "
                        "forward\n[sweep]\nkernels = zero-copy\n");
    free(t);
    cr_assert_null(qkf_experiment_with_model("[sweep]\nmodel = x\n", "/y"));
}

Test(fleet_files, experiment_checked_with_its_model_path_on_trust) {
    char path[128];
    snprintf(path, sizeof path, "%s/e.ini", tmp);
    put(path, "[experiment]\nmodel = /nonexistent/m.gguf\n[measure]\nrepetitions = 2\n");
    char *text, *name, *model;
    qk_error err = {{0}};
    cr_assert_eq(qkf_experiment_read(path, &text, &name, &model, &err), 0, "%s", err.msg);
    cr_assert_str_eq(name, "e"); /* the default: the file's name */
    cr_assert_str_eq(model, "/nonexistent/m.gguf");
    cr_assert(strstr(text, "/nonexistent/m.gguf"));
    free(text);
    free(name);
    free(model);
    put(path, "[experiment]\nmodel = synthetic:huge\n");
    cr_assert_eq(qkf_experiment_read(path, &text, &name, &model, &err), -1);
    cr_assert(strstr(err.msg, "e.ini:2:") && strstr(err.msg, "preset"), "%s", err.msg);
    put(path, "[experiment]\nmodel = /x.gguf\n[sweep]\nthreads = lots\n");
    cr_assert_eq(qkf_experiment_read(path, &text, &name, &model, &err), -1);
    cr_assert(strstr(err.msg, "e.ini:4:"), "%s", err.msg);
}

/* A fleet in tmp with one target whose model path holds a quote and a space. */
static void make_fleet(qk_fleet *f, qk_fleet_target *t, char *model) {
    memset(f, 0, sizeof *f);
    memset(t, 0, sizeof *t);
    static char dir[128], bin[160], exp[160], script[160];
    snprintf(dir, sizeof dir, "%s/fleet", tmp);
    snprintf(bin, sizeof bin, "%s/fake-qkbench", tmp);
    snprintf(exp, sizeof exp, "%s/fx.ini", tmp);
    snprintf(script, sizeof script, "%s/a.sh", tmp);
    snprintf(model, 128, "%s/it's a.gguf", tmp);
    f->dir = dir;
    f->submit_dir = tmp;
    f->binary = bin;
    f->binary_version = "test";
    f->experiment_name = "fx";
    f->experiment_copy = exp;
    f->model = "synthetic:tiny";
    f->report_selector = "";
    t->name = "a";
    t->selector = "partition=p,constraint=x&y";
    t->model = model;
    t->experiment = exp;
    t->script = script;
    t->nodes = 1;
}

Test(fleet_files, job_script_quotes_what_it_is_given) {
    qk_fleet f;
    qk_fleet_target t;
    char model[128], path[256];
    make_fleet(&f, &t, model);
    char *s = qkf_target_script(&f, &t);
    cr_assert(s);
    cr_assert(strstr(s, "#SBATCH --partition=p\n#SBATCH --constraint=x&y\n#SBATCH --exclusive\n"),
              "%s", s);
    cr_assert(strstr(s, "/logs/a-%j.out\n"), "%s", s);
    cr_assert(strstr(s, "it'\\''s a.gguf'"), "%s", s);
    put(t.script, s);
    free(s);
    /* a stand-in qkbench that records its arguments, one a line */
    snprintf(path, sizeof path, "%s/args", tmp);
    char fake[512];
    snprintf(fake, sizeof fake, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '%s'\nexit 0\n",
             path);
    put(f.binary, fake);
    chmod(f.binary, 0755);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && SLURM_JOB_ID=77 SLURMD_NODENAME=n1 sh a.sh 2>err", tmp);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 2, "the missing model must stop the job");
    snprintf(cmd, sizeof cmd, "%s/err", tmp);
    FILE *e = fopen(cmd, "r");
    char line[512] = "";
    cr_assert(e && fgets(line, sizeof line, e));
    fclose(e);
    cr_assert(strstr(line, "it's a.gguf' is not readable on node n1"), "%s", line);
    put(model, "not really a model");
    snprintf(cmd, sizeof cmd, "cd %s && SLURM_JOB_ID=78 SLURMD_NODENAME=n1 sh a.sh", tmp);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
    size_t len;
    char *args = qkf_read_file(path, 4096, &len);
    char want[512];
    snprintf(want, sizeof want, "run\n%s/fx.ini\n-o\n%s/fleet/a\n--force\n", tmp, tmp);
    cr_assert(args && !strcmp(args, want), "%s", args ? args : "none");
    free(args);
    snprintf(path, sizeof path, "%s/fleet/a/job.txt", tmp);
    char *rec = qkf_read_file(path, 4096, &len);
    qk_fleet_record r;
    cr_assert(rec && qk_fleet_parse_record(rec, len, &r) == 0);
    cr_assert(!strcmp(r.job, "78") && !strcmp(r.node, "n1") && r.has_exit && r.exit_code == 0);
    free(rec);
}

Test(fleet_files, array_and_report_scripts) {
    qk_fleet f;
    qk_fleet_target t;
    char model[128];
    make_fleet(&f, &t, model);
    t.nodes = 4;
    f.build_on_node = 1;
    f.source_dir = "/src/qkbench";
    char *s = qkf_target_script(&f, &t);
    cr_assert(s && strstr(s, "#SBATCH --array=0-3\n") && strstr(s, "/logs/a-%A_%a.out\n") &&
                  strstr(s, "job=${SLURM_ARRAY_JOB_ID:-none}_$task\n") &&
                  strstr(s, "-march=native") && strstr(s, "cmake -S '/src/qkbench'"),
              "%s", s);
    free(s);
    f.report.name = "report";
    f.report.selector = "";
    f.report.script = "/x/report.sh";
    f.report.nodes = 1;
    s = qkf_report_script(&f);
    cr_assert(s && strstr(s, "fleet report '") && !strstr(s, "--exclusive"), "%s", s);
    free(s);
}

Test(fleet_files, state_round_trip_and_damage) {
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/fl", tmp);
    cr_assert_eq(mkdir(dir, 0755), 0);
    char real[4096];
    cr_assert(realpath(dir, real));
    qk_fleet f;
    qk_fleet_target tg[2];
    char model[128];
    make_fleet(&f, &tg[0], model);
    tg[1] = tg[0];
    tg[1].name = "b";
    tg[1].model = NULL;
    tg[1].nodes = 3;
    char *argv[] = {"sbatch", "--parsable", "/x/b.sh"};
    qk_fleet_submission subs[2] = {{"41", "0-2", "2026-12-03T00:00:00Z", argv, 3},
                                   {"45", "1", "2026-12-03T00:01:00Z", argv, 3}};
    tg[1].subs = subs;
    tg[1].n_subs = 2;
    f.targets = tg;
    f.n_targets = 2;
    f.dir = real;
    f.experiment_file = "/e/fx.ini";
    f.binary_source = "/b/qkbench";
    f.report = tg[0];
    f.report.name = "report";
    f.report.model = NULL;
    qk_error err = {{0}};
    cr_assert_eq(qkf_state_save(&f, &err), 0, "%s", err.msg);
    qk_fleet *g;
    cr_assert_eq(qk_fleet_load(dir, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(g->n_targets, 2);
    cr_assert_str_eq(g->targets[0].model, model);
    cr_assert_null(g->targets[1].model);
    cr_assert_eq(g->targets[1].nodes, 3);
    cr_assert_eq(g->targets[1].n_subs, 2);
    cr_assert_str_eq(g->targets[1].subs[1].job_id, "45");
    cr_assert_str_eq(g->targets[1].subs[1].tasks, "1");
    cr_assert_eq(g->targets[1].subs[0].argc, 3);
    cr_assert_str_eq(g->report.name, "report");
    qk_fleet_free(g);
    /* what a hand edit can break */
    snprintf(path, sizeof path, "%s/fleet.json", dir);
    put(path, "{\"qkbench_fleet\": 1, \"dir\": 3}");
    cr_assert_eq(qk_fleet_load(dir, &g, &err), -1);
    cr_assert(strstr(err.msg, "fleet.dir: expected a string"), "%s", err.msg);
    put(path, "not json");
    cr_assert_eq(qk_fleet_load(dir, &g, &err), -1);
    cr_assert(strstr(err.msg, "fleet.json"), "%s", err.msg);
    cr_assert_eq(qk_fleet_load("/nonexistent/fleet", &g, &err), -1);
    cr_assert(strstr(err.msg, "not a fleet folder"), "%s", err.msg);
}
