/* What the files of harness/fleet/ share and nothing outside uses: running a command, the
 * scheduler's commands, job scripts, the experiment's text, the state file and small file
 * helpers. Names start with qkf_. */
#ifndef QK_HARNESS_FLEET_INTERNAL_H
#define QK_HARNESS_FLEET_INTERNAL_H

#include <stddef.h>

#include "common/error.h"
#include "harness/fleet/fleet.h"
#include "harness/fleet/parse.h"

/* Messages and details go into fixed buffers sized for their use; cutting an over-long one is
 * the intended behaviour (as in report/model.h). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* ---- spawn.c: a command run with an argv (posix_spawnp: no shell), its output captured */

typedef struct {
    int started;   /* the program could be started */
    int exit_code; /* -1 when it did not exit normally (killed, timed out) */
    int timed_out;
    char *out, *err; /* NUL-terminated; what it printed (at most 4 MiB each) */
    size_t out_len, err_len;
} qkf_cmd;

/* Runs argv[0] (looked up in PATH) with stdin from /dev/null and no descriptor of ours but its
 * stdout and stderr; kills it after timeout_s. 0 when it ran to an exit status (any), -1 with err
 * when it could not be started or timed out (res is filled either way; free it). */
int qkf_run(const char *const *argv, double timeout_s, qkf_cmd *res, qk_error *err);
void qkf_cmd_free(qkf_cmd *c);
/* The last line of what a command printed on stderr (else stdout), for messages. */
void qkf_cmd_message(const qkf_cmd *c, char *buf, size_t size);

/* ---- sched.c: sbatch, squeue, sacct, scancel */

/* Runs argv (an sbatch --parsable command line) and reads the job id. 0, or -1 with err quoting
 * sbatch's complaint. */
int qkf_sbatch(const char *const *argv, char *job_id, size_t size, qk_error *err);
/* What squeue (for all of ids) and then sacct (for the ids squeue does not know) say; *rows is
 * malloc'd (free it). source says who answered, or "none: why". Never fails but for memory. */
int qkf_query(const char *const *ids, int n_ids, qk_fleet_sched_row **rows, int *n_rows,
              char *source, size_t source_size, qk_error *err);
int qkf_scancel(const char *job_id, qk_error *err);

/* ---- script.c: the job scripts */

/* The job script of target t (a new string), and the report job's. */
char *qkf_target_script(const qk_fleet *f, const qk_fleet_target *t);
char *qkf_report_script(const qk_fleet *f);
/* Where target t's task (-1: plain job) writes: results folder, results file, record, log of job
 * `job` ("12"; "" gives the log's sbatch pattern). */
void qkf_results_dir(const qk_fleet *f, const qk_fleet_target *t, int task, char *buf, size_t n);
void qkf_results_file(const qk_fleet *f, const qk_fleet_target *t, int task, char *buf, size_t n);
void qkf_record_file(const qk_fleet *f, const qk_fleet_target *t, int task, char *buf, size_t n);
void qkf_log_file(const qk_fleet *f, const qk_fleet_target *t, const char *job, int task, char *buf,
                  size_t n);

/* ---- experiment_text.c: the experiment file's text */

/* Reads and checks an experiment file as every node will: parsed here with its model taken on
 * trust when it is a path (the nodes check that they can read it). Gives the text, the
 * experiment's name and its model (new strings). 0, or -1 with err ("FILE:LINE: ..."). */
int qkf_experiment_read(const char *path, char **text, char **name, char **model, qk_error *err);
/* The text with the model key of [experiment] set to model (a new string), or NULL (no model
 * line, or out of memory). */
char *qkf_experiment_with_model(const char *text, const char *model);

/* ---- state.c: fleet.json */

int qkf_state_save(const qk_fleet *f, qk_error *err);

/* ---- util.c */

int qkf_mkdir_p(const char *path, qk_error *err);
/* Writes data to path through a temporary file renamed over it; mode as for chmod. */
int qkf_write_file(const char *path, const char *data, size_t len, int mode, qk_error *err);
/* Reads at most max bytes of path (NUL-terminated; *len bytes); NULL when it cannot be read. */
char *qkf_read_file(const char *path, size_t max, size_t *len);
void qkf_now_iso(char *buf, size_t size); /* "2026-12-03T06:50:25Z" */
char *qkf_strdup(const char *s);          /* NULL for NULL */
/* A string array that grows; qkf_strv_push copies s. */
typedef struct {
    char **v;
    int n;
} qkf_strv;
int qkf_strv_push(qkf_strv *a, const char *s);
int qkf_strv_pushf(qkf_strv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qkf_strv_free(qkf_strv *a);
void qkf_submission_free(qk_fleet_submission *s);
void qkf_target_free(qk_fleet_target *t);

#endif
