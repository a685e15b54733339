/* Readers of what a fleet gets from outside: the target selectors a user types, what sbatch, sacct
 * and squeue print, and what a job leaves behind (its record file and its log). Pure functions on
 * bytes (no I/O), so that they can be fuzzed (fuzz/fuzz_fleet.c): every input may be anything, and
 * every output is a NUL-terminated string that fits its buffer. */
#ifndef QK_HARNESS_FLEET_PARSE_H
#define QK_HARNESS_FLEET_PARSE_H

#include <stddef.h>

#include "common/error.h"

/* ---- selectors: "partition=zen4", "constraint=icelake", "nodelist=node[1-4],partition=p" */

#define QK_FLEET_SEL_MAX   8
#define QK_FLEET_SEL_VALUE 256

/* The sbatch options a selector stands for, in the order written. */
typedef struct {
    int n;
    const char *key[QK_FLEET_SEL_MAX]; /* static names: "partition", "constraint", ... */
    char value[QK_FLEET_SEL_MAX][QK_FLEET_SEL_VALUE];
} qk_fleet_selector;

/* Parses KEY=VALUE[,KEY=VALUE...] where KEY is one of partition, constraint, nodelist, exclude,
 * reservation, account, qos, time (sbatch's long option of the same name). A comma starts a new
 * item only when a known KEY= follows it, so lists stay whole: "nodelist=n1,n2,partition=p" is
 * nodelist n1,n2 and partition p. Values are non-empty, of letters, digits and _.-,:&|[]()*!@+/%
 * (what node lists, constraints and times use; nothing a job script line could break on), and
 * each key appears once. 0, or -1 with err saying what is wrong. */
int qk_fleet_parse_selector(const char *text, qk_fleet_selector *out, qk_error *err);

/* A target or fleet name: 1..48 of letters, digits, '_' and '-', starting with a letter or digit,
 * and not one of the fleet folder's own names (bin, build, experiment, jobs, logs, models,
 * report). */
int qk_fleet_check_name(const char *name, qk_error *err);

/* ---- the scheduler */

/* sbatch --parsable's output: "12" or "12;cluster" (then a newline). 0 with the id in id, or -1. */
int qk_fleet_parse_job_id(const char *text, size_t len, char *id, size_t size);

/* What the scheduler says about one job or array task. */
typedef struct {
    char id[64];        /* "12", "12_3", or a pending range as sacct prints it: "12_[4-7%2]" */
    char state[32];     /* first word: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT... */
    char node[256];     /* "" while not placed ("None assigned" and "(null)" read as "") */
    char reason[256];   /* why it waits or ended; "" for "None" */
    char exit_code[16]; /* sacct's "2:0"; "" from squeue */
} qk_fleet_sched_row;

/* Reads "|"-separated lines (sacct -n -P, or squeue -h -o with "|" between fields) whose fields
 * are id|state|node|reason[|exit_code]; a line with fewer than four fields, or an empty id or
 * state, is skipped. Appends to *rows (realloc'd; *n rows). 0, or -1 when out of memory. */
int qk_fleet_parse_sched(const char *text, size_t len, qk_fleet_sched_row **rows, int *n);

/* The row for job `job` (an array job's id when task >= 0, the job's id otherwise) and array task
 * `task` (-1: not an array): the exact "JOB" / "JOB_TASK" row, else a pending range "JOB_[...]"
 * that contains task. NULL when none. */
const qk_fleet_sched_row *qk_fleet_sched_find(const qk_fleet_sched_row *rows, int n,
                                              const char *job, int task);

/* Does an array task list ("0-3", "1,3,5-7", sbatch --array syntax, "%N" ignored) hold task? */
int qk_fleet_tasks_contain(const char *list, int task);

/* States in which the job is still to run or running (PENDING, RUNNING, CONFIGURING, COMPLETING,
 * REQUEUED, RESIZING, SUSPENDED, ...): 1, else 0. */
int qk_fleet_state_is_active(const char *state);
int qk_fleet_state_is_pending(const char *state); /* PENDING, REQUEUED, REQUEUE_HOLD, ... */

/* ---- what a job leaves */

/* The record a fleet job script writes at start and at the end, "key value" lines:
 *   job JOB          (the scheduler's id: "12", or "12_3" for an array task)
 *   node NODE
 *   start ISO-DATE
 *   exit CODE        (written last, with end ISO-DATE; absent while running or when killed) */
typedef struct {
    char job[64], node[256], start[32], end[32];
    int has_exit, exit_code;
} qk_fleet_record;

/* 0 when the text holds a job line (other lines may be missing), -1 otherwise. Unknown keys and
 * malformed lines are ignored; the last of repeated keys wins. */
int qk_fleet_parse_record(const char *text, size_t len, qk_fleet_record *out);

/* Why a job failed, from its log: the last line that is an error of ours ("qkbench CMD: ...") or
 * of SLURM's ("slurmstepd: error: ...", "srun: error: ..."), or a sanitizer's ("==N==ERROR: ..."),
 * else the last non-empty line. Control characters become spaces; cut to fit. "" for an empty
 * log. */
void qk_fleet_log_reason(const char *text, size_t len, char *out, size_t size);

#endif
