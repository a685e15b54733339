/* Fleet runs: one experiment on many CPUs of a SLURM cluster, merged into one report.
 *
 * SLURM does the queueing, the exclusive node allocation, the retries and the accounting; this
 * unit writes job scripts, hands them to the `sbatch` command (spawned with an argv, never through
 * a shell; libslurm is not linked: its C API changes between releases), asks `squeue` and `sacct`
 * what became of them, and keeps the fleet folder's state so that status and resubmit work from
 * the folder alone. It prints nothing: the command is harness/cli/cmd_fleet.c.
 *
 * The fleet folder DIR:
 *   fleet.json           what was submitted: targets, selectors, job ids, the binary, the
 * experiment experiment/E.ini     the experiment as it was at submission (its file name kept: the
 * default experiment name); every target runs this copy, or experiment/NAME/E.ini  NAME's copy with
 * its own model path (--model NAME=PATH) jobs/NAME.sh         NAME's job script (`sbatch
 * DIR/jobs/NAME.sh` runs it again); report.sh bin/qkbench          the binary the jobs run (a copy:
 * rebuilding the tree does not change it) logs/NAME-JOB.out    each job's stdout and stderr
 * (arrays: NAME-ARRAYJOB_TASK.out) NAME/                a target's results (EXPERIMENT.json, .csv)
 * and job.txt, the record its NAME/TASK/           job writes (job id, node, start, exit); TASK/
 * with --nodes-per-target > 1 build/NODE/          --build-on-node: each node's own build
 * (-march=native) report/REPORT.md     the merged report, written by the last job (`qkbench fleet
 * report DIR`)
 */
#ifndef QK_HARNESS_FLEET_FLEET_H
#define QK_HARNESS_FLEET_FLEET_H

#include "common/error.h"

#define QK_FLEET_STATE_FILE    "fleet.json"
#define QK_FLEET_STATE_VERSION 1

/* One sbatch of a target (or of the report job). */
typedef struct {
    char *job_id; /* "12" (an array's job id for array targets) */
    char *tasks;  /* the array tasks submitted ("0-3", "1,3"); NULL for a plain job */
    char *date;   /* ISO 8601 UTC */
    char **argv;  /* the sbatch command line as run */
    int argc;
} qk_fleet_submission;

typedef struct {
    char *name;       /* [A-Za-z0-9_-], unique; names the folder, the script and the job */
    char *selector;   /* as given: "partition=zen4,constraint=avx512" ("" for the report job) */
    char *model;      /* this target's model path (--model NAME=PATH), or NULL: the experiment's */
    char *experiment; /* the experiment file its jobs run (absolute) */
    char *script;     /* its job script (absolute) */
    int nodes;        /* 1, or the size of its job array */
    qk_fleet_submission *subs; /* oldest first; the last is the one that counts */
    int n_subs;
} qk_fleet_target;

typedef struct {
    char *dir;             /* the fleet folder (absolute) */
    char *created;         /* ISO 8601 UTC */
    char *submit_dir;      /* the working directory of the jobs: where submit was run */
    char *experiment_file; /* the experiment as given (absolute) */
    char *experiment_name; /* its name: the results files' base name */
    char *experiment_copy; /* DIR/experiment/E.ini */
    char *model;           /* the experiment's model ("synthetic:tiny" or a path) */
    char *binary;          /* DIR/bin/qkbench */
    char *binary_source;   /* the file it was copied from */
    char *binary_version;  /* "0.1.0 (commit abc, Release)" */
    int build_on_node;     /* jobs build their own qkbench from source_dir first */
    char *source_dir;
    char *report_selector; /* where the report job runs ("" = the default partition) */
    qk_fleet_target *targets;
    int n_targets;
    qk_fleet_target report; /* the report job: name "report", results DIR/report/REPORT.md */
} qk_fleet;

void qk_fleet_free(qk_fleet *f); /* NULL is fine */

/* ---- submit */

typedef struct {
    const char *experiment;     /* EXPERIMENT.ini */
    const char *const *targets; /* "NAME=SELECTOR" each */
    int n_targets;
    const char *const *models; /* "NAME=PATH": that target's nodes read the model there */
    int n_models;
    const char *dir;             /* the fleet folder: must not exist, or be empty */
    int nodes_per_target;        /* >= 1: a job array of that many tasks per target */
    int build_on_node;           /* build qkbench on each node (-march=native) */
    const char *binary;          /* the qkbench to copy into DIR/bin */
    const char *binary_version;  /* what it says it is (for fleet.json) */
    const char *source_dir;      /* the source tree, for --build-on-node */
    const char *report_selector; /* NULL or "": the cluster's default partition */
} qk_fleet_submit_options;

typedef enum {
    QK_FLEET_OK = 0,
    QK_FLEET_BAD_INPUT, /* nothing submitted: bad arguments, experiment or folder */
    QK_FLEET_ERROR      /* sbatch (or the folder) failed part-way: fleet.json says what went */
} qk_fleet_result;

/* Checks everything (names, selectors, the experiment: parsed here, its model path checked on the
 * nodes), writes the folder, then submits one job per target (--exclusive; an array with
 * nodes_per_target > 1) and the report job (--dependency=afterany: on all of them). fleet.json is
 * rewritten after each sbatch, so it always says what was submitted. *out (NULL on BAD_INPUT) is
 * the fleet as far as it got; free it with qk_fleet_free. */
qk_fleet_result qk_fleet_submit(const qk_fleet_submit_options *o, qk_fleet **out, qk_error *err);

/* Reads DIR/fleet.json. 0, or -1 with err naming the file and what is wrong. */
int qk_fleet_load(const char *dir, qk_fleet **out, qk_error *err);

/* ---- status */

typedef enum { QK_FLEET_PENDING, QK_FLEET_RUNNING, QK_FLEET_DONE, QK_FLEET_FAILED } qk_fleet_state;
const char *qk_fleet_state_name(qk_fleet_state s); /* "pending", "running", "done", "failed" */

/* One node's part of a target: a plain job, or one task of its array. */
typedef struct {
    const qk_fleet_target *target; /* into the fleet given to qk_fleet_status */
    int task;                      /* array task; -1 for a plain job */
    char job[96];                  /* "12", "12_3"; "" when never submitted */
    char node[256];                /* "" when not known yet */
    qk_fleet_state state;
    char detail[1024];  /* pending/failed: why; running: since when; done: the results file */
    char results[4096]; /* where its results file is (or would be) */
    char log[4096];     /* its log file */
} qk_fleet_task;

typedef struct {
    qk_fleet_task *tasks; /* every target's tasks, in the fleet's order */
    int n_tasks;
    qk_fleet_task report; /* the report job; results = DIR/report/REPORT.md */
    char source[160];     /* who answered: "squeue", "squeue and sacct", "squeue (sacct: why not)",
                             "sacct (squeue: ...)", or "none (squeue: why not)" */
} qk_fleet_status;

/* Asks squeue (then sacct, for jobs squeue no longer knows) about the latest submission of every
 * target and of the report job, and reads what the jobs left (record, results file, log). The
 * files decide "done" (a complete results file written by that very job: a job SLURM calls
 * COMPLETED may have written nothing); the scheduler decides pending and running and gives the
 * reasons it knows. 0, or -1 with err (out of memory). */
int qk_fleet_status_get(const qk_fleet *f, qk_fleet_status *out, qk_error *err);
void qk_fleet_status_free(qk_fleet_status *s);

/* ---- resubmit */

typedef struct {
    const qk_fleet_target *target; /* resubmitted */
    char tasks[8192];              /* "" (plain job) or the array tasks ("1,3-7") */
    char job[64];                  /* the new job id */
} qk_fleet_resubmitted;

typedef struct {
    qk_fleet_resubmitted *items;
    int n;
    char report_job[64];       /* the new report job ("" when none was needed) */
    char cancelled_report[64]; /* the previous report job, cancelled while it waited */
    int busy;                  /* tasks still pending or running (left alone) */
} qk_fleet_resubmit_outcome;

/* Resubmits the tasks of every target that failed (never submitted, or its job ended without a
 * complete results file), leaving done, pending and running ones alone; then a report job after
 * all of the fleet's unfinished jobs (a report job still waiting is cancelled first: it would
 * report before the new jobs ran). Nothing to do when every target is done and the report is
 * written (out->n = 0, no report job). f's submissions grow and fleet.json is rewritten. */
qk_fleet_result qk_fleet_resubmit(qk_fleet *f, qk_fleet_resubmit_outcome *out, qk_error *err);
void qk_fleet_resubmit_outcome_free(qk_fleet_resubmit_outcome *o);

/* ---- the report's inputs */

/* For `qkbench fleet report DIR`: the results files of the done tasks (in the fleet's order) and a
 * line per task that is not done ("bad (nodelist=n1): failed: exit 2: ..."). Arrays of strings
 * (malloc'd, each freed with free, as the arrays). 0 or -1 (out of memory). */
int qk_fleet_report_inputs(const qk_fleet_status *s, char ***results, int *n_results,
                           char ***not_measured, int *n_not_measured, qk_error *err);

#endif
