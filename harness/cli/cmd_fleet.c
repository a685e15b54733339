/* qkbench fleet submit|status|resubmit|report: the command over harness/fleet/ (arguments, the
 * terminal, exit codes); `report` is what a fleet's last job runs, over the report generator. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/fleet/fleet.h"
#include "report/report.h"

static const char usage_all[] =
    "usage: qkbench fleet submit EXPERIMENT.ini --target NAME=SELECTOR... -o DIR [options]\n"
    "       qkbench fleet status DIR\n"
    "       qkbench fleet resubmit DIR\n"
    "       qkbench fleet report DIR\n"
    "\n"
    "One experiment on many CPUs of a SLURM cluster, merged into one report. `submit` queues one\n"
    "job per target, each holding its node alone (--exclusive) and running `qkbench run` on the\n"
    "experiment, then a report job after all of them; `status` says where each job is; "
    "`resubmit`\n"
    "queues again what did not complete; `report` (what the report job runs) writes\n"
    "DIR/report/REPORT.md from what was measured. `qkbench fleet COMMAND --help` for each.\n"
    "Needs only the sbatch, squeue (and sacct, scancel) commands of a normal SLURM account.\n";

static const char usage_submit[] =
    "usage: qkbench fleet submit EXPERIMENT.ini --target NAME=SELECTOR... -o DIR\n"
    "                            [--nodes-per-target N] [--build-on-node] [--model NAME=PATH]...\n"
    "                            [--report-on SELECTOR]\n"
    "\n"
    "Submits one SLURM job per target (sbatch --exclusive --nodes=1): it runs `qkbench run\n"
    "EXPERIMENT.ini` on its node and writes DIR/NAME/ (EXPERIMENT.json, .csv, job.txt). A last\n"
    "job, after all of them (--dependency=afterany), writes DIR/report/REPORT.md with a column\n"
    "per CPU and the targets that were not measured. Everything is checked first (each job with\n"
    "sbatch --test-only): a wrong name, selector, experiment or partition submits nothing.\n"
    "\n"
    "  --target NAME=SELECTOR  NAME: letters, digits, _ and - (a folder and a job name);\n"
    "                      SELECTOR: sbatch options that choose nodes, KEY=VALUE[,KEY=VALUE...]\n"
    "                      with KEY partition, constraint, nodelist, exclude, reservation,\n"
    "                      account, qos or time: zen4=partition=zen4, icx=constraint=icelake,\n"
    "                      n17=nodelist=node17, a=partition=p,constraint=avx512 (repeatable)\n"
    "  -o, --output DIR    the fleet folder (new, or empty): scripts in DIR/jobs/, logs in\n"
    "                      DIR/logs/, the state in DIR/fleet.json; it must be on a file system\n"
    "                      the nodes share, as must the working directory\n"
    "  --nodes-per-target N  a job array of N tasks per target, one node each (DIR/NAME/TASK/):\n"
    "                      the report shows the node-to-node spread (default 1)\n"
    "  --build-on-node     each node builds qkbench from this source tree (-march=native) in\n"
    "                      DIR/build/NODE/ and runs that; default: this binary (it chooses its\n"
    "                      kernels by the CPU at run time), copied to DIR/bin/qkbench\n"
    "  --model NAME=PATH   target NAME's nodes read the model at PATH (a node-local copy)\n"
    "                      instead of the experiment's; synthetic models are generated on each\n"
    "                      node; a path must be readable there, the job says so when it is not\n"
    "  --report-on SELECTOR  where the report job runs (default: the default partition)\n"
    "\n"
    "Exit code: 0 all submitted, 1 sbatch failed part-way (DIR/fleet.json says what went),\n"
    "2 bad arguments or input (nothing submitted).\n";

static const char usage_status[] =
    "usage: qkbench fleet status DIR\n"
    "\n"
    "A line per target and node: pending, running, done or failed, with the reason (from squeue\n"
    "and sacct when they answer, else from the job's record, log and results file), then the\n"
    "report job and where the report is. Done means the job's own results file is complete: a\n"
    "job SLURM calls COMPLETED but which wrote nothing is failed.\n"
    "\n"
    "Exit code: 0 every target done and the report written, 1 something failed, 2 DIR is not a\n"
    "fleet, 3 something still pending or running.\n";

static const char usage_resubmit[] =
    "usage: qkbench fleet resubmit DIR\n"
    "\n"
    "Submits again the targets (array tasks) that failed, leaving done, pending and running ones\n"
    "alone, then a new report job after all unfinished jobs (a report job still waiting is\n"
    "cancelled). The same job scripts (DIR/jobs/) run again; their logs keep the job id.\n"
    "\n"
    "Exit code: 0 submitted (or nothing to do), 1 sbatch failed, 2 DIR is not a fleet.\n";

static const char usage_report[] =
    "usage: qkbench fleet report DIR\n"
    "\n"
    "Writes DIR/report/REPORT.md (`qkbench report` on every done target's results file), naming\n"
    "the targets that were not measured and why. The fleet's last job runs it; it can be run\n"
    "by hand at any time.\n"
    "\n"
    "Exit code: 0 REPORT.md written, 1 nothing measured or not writable, 2 DIR is not a fleet.\n";

static int wants_help(int argc, char **argv, const char *text) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(text, stdout);
            return 1;
        }
    return 0;
}

static int submit(int argc, char **argv) {
    static const struct option opts[] = {{"target", required_argument, 0, 't'},
                                         {"output", required_argument, 0, 'o'},
                                         {"nodes-per-target", required_argument, 0, 'n'},
                                         {"build-on-node", no_argument, 0, 'b'},
                                         {"model", required_argument, 0, 'm'},
                                         {"report-on", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char **targets = calloc((size_t)argc + 1, sizeof *targets);
    const char **models = calloc((size_t)argc + 1, sizeof *models);
    qk_fleet_submit_options o = {.targets = targets, .models = models, .nodes_per_target = 1};
    qk_error err = {{0}};
    int rc = 2, c;
    if (!targets || !models) {
        fprintf(stderr, "qkbench fleet: out of memory\n");
        goto out;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        long v;
        switch (c) {
        case 't':
            targets[o.n_targets++] = optarg;
            break;
        case 'o':
            o.dir = optarg;
            break;
        case 'n':
            if (qk_parse_int(optarg, "--nodes-per-target", 1, 1000, &v, &err)) {
                rc = qk_cli_error("fleet submit", 2, &err);
                goto out;
            }
            o.nodes_per_target = (int)v;
            break;
        case 'b':
            o.build_on_node = 1;
            break;
        case 'm':
            models[o.n_models++] = optarg;
            break;
        case 'r':
            o.report_selector = optarg;
            break;
        case 'h':
            fputs(usage_submit, stdout);
            rc = 0;
            goto out;
        default:
            fputs(usage_submit, stderr);
            goto out;
        }
    }
    if (optind != argc - 1 || !o.dir || o.n_targets == 0) {
        fprintf(stderr,
                "qkbench fleet submit: expected one EXPERIMENT.ini, -o DIR and at least "
                "one --target\n\n%s",
                usage_submit);
        goto out;
    }
    o.experiment = argv[optind];
    o.binary = "/proc/self/exe";
    o.binary_version = QK_VERSION " (commit " QK_GIT_COMMIT ", " QK_BUILD_TYPE ")";
    o.source_dir = QK_SOURCE_DIR;
    qk_fleet *f = NULL;
    const qk_fleet_result r = qk_fleet_submit(&o, &f, &err);
    if (f) {
        printf("fleet %s: experiment %s (%s), %d target%s\n", f->dir, f->experiment_name,
               f->experiment_file, f->n_targets, f->n_targets == 1 ? "" : "s");
        printf("binary: %s, %s%s\n", f->binary, f->binary_version,
               f->build_on_node ? "; each node builds its own (-march=native)" : "");
        for (int i = 0; i < f->n_targets; i++) {
            const qk_fleet_target *t = &f->targets[i];
            printf("  %-12s %s%s%s: ", t->name, t->selector, t->model ? ", model " : "",
                   t->model ? t->model : "");
            if (t->n_subs)
                printf("job %s%s%s\n", t->subs[t->n_subs - 1].job_id,
                       t->nodes > 1 ? ", array " : "", t->nodes > 1 ? t->subs[0].tasks : "");
            else
                printf("NOT SUBMITTED\n");
        }
        if (f->report.n_subs)
            printf("  %-12s job %s, after the others -> %s/report/REPORT.md\n", "report",
                   f->report.subs[0].job_id, f->dir);
        printf("follow it with: qkbench fleet status %s\n", f->dir);
    }
    qk_fleet_free(f);
    rc = r == QK_FLEET_OK ? 0 : qk_cli_error("fleet submit", r == QK_FLEET_BAD_INPUT ? 2 : 1, &err);
out:
    free(targets);
    free(models);
    return rc;
}

/* "alpha", "alpha/1" for array task 1 */
static void task_name(const qk_fleet_task *t, char *buf, size_t size) {
    if (t->task >= 0)
        snprintf(buf, size, "%s/%d", t->target->name, t->task);
    else
        snprintf(buf, size, "%s", t->target->name);
}

static int status(const char *dir) {
    qk_fleet *f;
    qk_error err = {{0}};
    if (qk_fleet_load(dir, &f, &err)) return qk_cli_error("fleet status", 2, &err);
    qk_fleet_status s;
    if (qk_fleet_status_get(f, &s, &err)) {
        qk_fleet_free(f);
        return qk_cli_error("fleet status", 1, &err);
    }
    int wn = 6, wnode = 4, wjob = 3;
    char name[80];
    for (int i = 0; i <= s.n_tasks; i++) {
        const qk_fleet_task *t = i < s.n_tasks ? &s.tasks[i] : &s.report;
        task_name(t, name, sizeof name);
        if ((int)strlen(name) > wn) wn = (int)strlen(name);
        if ((int)strlen(t->node) > wnode) wnode = (int)strlen(t->node);
        if ((int)strlen(t->job) > wjob) wjob = (int)strlen(t->job);
    }
    printf("fleet %s: experiment %s, %d target%s; scheduler: %s\n", f->dir, f->experiment_name,
           f->n_targets, f->n_targets == 1 ? "" : "s", s.source);
    printf("%-*s  %-*s  %-*s  %-7s  %s\n", wn, "target", wnode, "node", wjob, "job", "state",
           "detail");
    int done = 0, failed = 0, busy = 0;
    for (int i = 0; i <= s.n_tasks; i++) {
        const qk_fleet_task *t = i < s.n_tasks ? &s.tasks[i] : &s.report;
        task_name(t, name, sizeof name);
        printf("%-*s  %-*s  %-*s  %-7s  %s\n", wn, name, wnode, *t->node ? t->node : "-", wjob,
               *t->job ? t->job : "-", qk_fleet_state_name(t->state), t->detail);
        if (i == s.n_tasks) break;
        done += t->state == QK_FLEET_DONE;
        failed += t->state == QK_FLEET_FAILED;
        busy += t->state == QK_FLEET_PENDING || t->state == QK_FLEET_RUNNING;
    }
    const qk_fleet_state rs = s.report.state;
    printf("%d done, %d failed, %d pending or running; report: %s\n", done, failed, busy,
           rs == QK_FLEET_DONE     ? s.report.results
           : rs == QK_FLEET_FAILED ? "failed (see above)"
                                   : "not written yet");
    if (failed) printf("rerun what failed with: qkbench fleet resubmit %s\n", f->dir);
    int rc = busy || rs == QK_FLEET_PENDING || rs == QK_FLEET_RUNNING ? 3
             : failed || rs == QK_FLEET_FAILED                        ? 1
                                                                      : 0;
    qk_fleet_status_free(&s);
    qk_fleet_free(f);
    return rc;
}

static int resubmit(const char *dir) {
    qk_fleet *f;
    qk_error err = {{0}};
    if (qk_fleet_load(dir, &f, &err)) return qk_cli_error("fleet resubmit", 2, &err);
    qk_fleet_resubmit_outcome o;
    const qk_fleet_result r = qk_fleet_resubmit(f, &o, &err);
    for (int i = 0; i < o.n; i++)
        printf("resubmitted %s%s%s (%s): job %s\n", o.items[i].target->name,
               *o.items[i].tasks ? " tasks " : "", o.items[i].tasks, o.items[i].target->selector,
               o.items[i].job);
    if (*o.cancelled_report) printf("cancelled the waiting report job %s\n", o.cancelled_report);
    if (*o.report_job) printf("report: job %s -> %s/report/REPORT.md\n", o.report_job, f->dir);
    if (!o.n && !*o.report_job && r == QK_FLEET_OK)
        printf("nothing to resubmit: %s\n", o.busy ? "the rest is still pending or running"
                                                   : "every target is done and reported");
    qk_fleet_resubmit_outcome_free(&o);
    qk_fleet_free(f);
    return r == QK_FLEET_OK ? 0 : qk_cli_error("fleet resubmit", 1, &err);
}

static void report_progress(const char *script, void *arg) {
    (void)arg;
    fprintf(stderr, "qkbench fleet report: gnuplot %s\n", script);
}

static int report(const char *dir) {
    qk_fleet *f;
    qk_error err = {{0}};
    if (qk_fleet_load(dir, &f, &err)) return qk_cli_error("fleet report", 2, &err);
    qk_fleet_status s;
    char **results = NULL, **absent = NULL;
    int n_results = 0, n_absent = 0, rc = 1;
    if (qk_fleet_status_get(f, &s, &err)) {
        qk_fleet_free(f);
        return qk_cli_error("fleet report", 1, &err);
    }
    if (qk_fleet_report_inputs(&s, &results, &n_results, &absent, &n_absent, &err)) {
        rc = qk_cli_error("fleet report", 1, &err);
        goto out;
    }
    for (int i = 0; i < n_absent; i++)
        fprintf(stderr, "qkbench fleet report: not measured: %s\n", absent[i]);
    if (n_results == 0) {
        fprintf(stderr, "qkbench fleet report: no target was measured: no report\n");
        goto out;
    }
    char outdir[PATH_MAX + 16];
    snprintf(outdir, sizeof outdir, "%s/report", f->dir);
    qk_report_options o = {.results = (const char *const *)results,
                           .n_results = n_results,
                           .outdir = outdir,
                           .progress = report_progress};
    qk_report_outcome res;
    if (qk_report_generate_fleet(&o, (const char *const *)absent, n_absent, &res, &err)) {
        rc = qk_cli_error("fleet report", 1, &err);
        goto out;
    }
    printf("wrote %s (%d results file%s, %d not measured)\n", res.report_path, n_results,
           n_results == 1 ? "" : "s", n_absent);
    rc = 0;
out:
    for (int i = 0; i < n_results; i++) free(results[i]);
    for (int i = 0; i < n_absent; i++) free(absent[i]);
    free(results);
    free(absent);
    qk_fleet_status_free(&s);
    qk_fleet_free(f);
    return rc;
}

int qk_cmd_fleet(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_all, stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(usage_all, stdout);
        return 0;
    }
    if (!strcmp(sub, "submit")) return submit(argc - 1, argv + 1);
    static const struct {
        const char *name, *usage;
        int (*run)(const char *dir);
    } dir_cmds[] = {{"status", usage_status, status},
                    {"resubmit", usage_resubmit, resubmit},
                    {"report", usage_report, report}};
    for (size_t i = 0; i < sizeof dir_cmds / sizeof *dir_cmds; i++) {
        if (strcmp(sub, dir_cmds[i].name)) continue;
        if (wants_help(argc - 1, argv + 1, dir_cmds[i].usage)) return 0;
        if (argc != 3 || argv[2][0] == '-') {
            fprintf(stderr, "qkbench fleet %s: expected the fleet folder DIR\n\n%s", sub,
                    dir_cmds[i].usage);
            return 2;
        }
        return dir_cmds[i].run(argv[2]);
    }
    fprintf(stderr, "qkbench fleet: unknown command '%s'\n\n%s", sub, usage_all);
    return 2;
}
