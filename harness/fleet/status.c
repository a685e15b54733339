/* Where each of a fleet's jobs is. The scheduler is asked (squeue, then sacct) but the files decide
 * what was done: a task is done when the record in its folder names that very job, says it exited
 * 0, and its results file is complete. A job SLURM calls COMPLETED can have written nothing (a
 * node whose task launch failed), so a state alone never makes a task done; the scheduler says
 * what is pending or running, and why a job it knows ended. */
#define _GNU_SOURCE /* strndup */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/fleet/internal.h"
#include "harness/results.h"

#define LOG_TAIL_BYTES (64u << 10)

const char *qk_fleet_state_name(qk_fleet_state s) {
    switch (s) {
    case QK_FLEET_PENDING:
        return "pending";
    case QK_FLEET_RUNNING:
        return "running";
    case QK_FLEET_DONE:
        return "done";
    case QK_FLEET_FAILED:
        return "failed";
    }
    return "?";
}

/* The last submission that covers task (-1: plain job), or NULL. */
static const qk_fleet_submission *latest(const qk_fleet_target *t, int task) {
    for (int i = t->n_subs - 1; i >= 0; i--)
        if (task < 0 || !t->subs[i].tasks || qk_fleet_tasks_contain(t->subs[i].tasks, task))
            return &t->subs[i];
    return NULL;
}

/* The end of a log (its last LOG_TAIL_BYTES), or NULL when there is none. */
static char *read_tail(const char *path, size_t *len) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > (off_t)LOG_TAIL_BYTES)
        lseek(fd, st.st_size - (off_t)LOG_TAIL_BYTES, SEEK_SET);
    char *buf = malloc(LOG_TAIL_BYTES + 1);
    size_t n = 0;
    while (buf && n < LOG_TAIL_BYTES) {
        const ssize_t r = read(fd, buf + n, LOG_TAIL_BYTES - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

/* "" when the results file is complete, else what is wrong with it. */
static void results_problem(const qk_fleet_target *t, const char *path, char *why, size_t n) {
    why[0] = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, n, "%s: %s", path, strerror(errno));
        return;
    }
    if (!strcmp(t->name, "report")) {
        if (st.st_size == 0) snprintf(why, n, "%s is empty", path);
        return;
    }
    json_t *doc;
    qk_error e = {{0}};
    if (qk_results_load(path, &doc, &e)) {
        snprintf(why, n, "%s", e.msg);
        return;
    }
    if (!json_is_true(json_object_get(doc, "complete")))
        snprintf(why, n, "%s is incomplete (the run was interrupted)", path);
    json_decref(doc);
}

static void append(char *buf, size_t size, const char *fmt, const char *s) {
    const size_t l = strlen(buf);
    if (l + 1 < size) snprintf(buf + l, size - l, fmt, s);
}

static void evaluate(const qk_fleet *f, const qk_fleet_target *t, int task,
                     const qk_fleet_sched_row *rows, int n_rows, int sched_answered,
                     qk_fleet_task *o) {
    memset(o, 0, sizeof *o);
    o->target = t;
    o->task = task;
    qkf_results_file(f, t, task, o->results, sizeof o->results);
    const qk_fleet_submission *s = latest(t, task);
    if (!s) {
        o->state = QK_FLEET_FAILED;
        snprintf(o->detail, sizeof o->detail, "never submitted (submission stopped before it)");
        return;
    }
    if (task >= 0)
        snprintf(o->job, sizeof o->job, "%s_%d", s->job_id, task);
    else
        snprintf(o->job, sizeof o->job, "%s", s->job_id);
    qkf_log_file(f, t, s->job_id, task, o->log, sizeof o->log);
    const qk_fleet_sched_row *row = qk_fleet_sched_find(rows, n_rows, s->job_id, task);

    char path[4200];
    qkf_record_file(f, t, task, path, sizeof path);
    size_t len = 0;
    char *text = qkf_read_file(path, 1u << 16, &len);
    qk_fleet_record rec;
    const int rec_ok =
        text && qk_fleet_parse_record(text, len, &rec) == 0 && !strcmp(rec.job, o->job);
    free(text);
    if (row && *row->node)
        snprintf(o->node, sizeof o->node, "%s", row->node);
    else if (rec_ok)
        snprintf(o->node, sizeof o->node, "%s", rec.node);

    char reason[600] = "";
    char *log = read_tail(o->log, &len);
    if (log) qk_fleet_log_reason(log, len, reason, sizeof reason);
    free(log);
    const int has_log = access(o->log, F_OK) == 0;

    if (row && qk_fleet_state_is_pending(row->state)) {
        o->state = QK_FLEET_PENDING;
        snprintf(o->detail, sizeof o->detail, "%s", *row->reason ? row->reason : row->state);
    } else if (row && qk_fleet_state_is_active(row->state)) {
        o->state = QK_FLEET_RUNNING;
        if (rec_ok && *rec.start)
            snprintf(o->detail, sizeof o->detail, "%s since %s", row->state, rec.start);
        else
            snprintf(o->detail, sizeof o->detail, "%s", row->state);
    } else if (rec_ok && rec.has_exit) {
        char why[1024];
        results_problem(t, o->results, why, sizeof why);
        if (rec.exit_code == 0 && !*why) {
            o->state = QK_FLEET_DONE;
            snprintf(o->detail, sizeof o->detail, "%s", o->results);
        } else {
            o->state = QK_FLEET_FAILED;
            if (rec.exit_code == 0)
                snprintf(o->detail, sizeof o->detail, "exit 0, but %s", why);
            else
                snprintf(o->detail, sizeof o->detail, "exit %d: %s", rec.exit_code,
                         *reason ? reason : "(nothing in its log)");
        }
    } else if (rec_ok) {
        /* started, no exit recorded: killed, or still running where no scheduler answers */
        if (row || sched_answered) {
            o->state = QK_FLEET_FAILED;
            if (row)
                snprintf(o->detail, sizeof o->detail, "%s%s%s: ended without recording its exit",
                         row->state, *row->reason ? " " : "", row->reason);
            else
                snprintf(o->detail, sizeof o->detail, "ended without recording its exit (killed?)");
            if (*reason) append(o->detail, sizeof o->detail, "; log: %s", reason);
        } else {
            o->state = QK_FLEET_RUNNING;
            snprintf(o->detail, sizeof o->detail,
                     "started %s, no exit recorded yet (no scheduler answered)", rec.start);
        }
    } else if (row) {
        /* the scheduler has it ended, and it never wrote its record */
        o->state = QK_FLEET_FAILED;
        snprintf(o->detail, sizeof o->detail, "%s%s%s", row->state, *row->reason ? " " : "",
                 row->reason);
        if (*row->exit_code) append(o->detail, sizeof o->detail, " (exit %s)", row->exit_code);
        append(o->detail, sizeof o->detail, ", but the job wrote no record in %s", path);
        if (*reason) append(o->detail, sizeof o->detail, "; log: %s", reason);
    } else if (has_log) {
        o->state = QK_FLEET_FAILED;
        snprintf(o->detail, sizeof o->detail, "the job wrote no record; log: %s",
                 *reason ? reason : "(empty)");
    } else if (sched_answered) {
        o->state = QK_FLEET_FAILED;
        snprintf(o->detail, sizeof o->detail,
                 "the scheduler does not know job %s and it left no record or log", o->job);
    } else {
        o->state = QK_FLEET_PENDING;
        snprintf(o->detail, sizeof o->detail,
                 "not started yet? (no record, no log, and no "
                 "scheduler answered)");
    }
}

int qk_fleet_status_get(const qk_fleet *f, qk_fleet_status *out, qk_error *err) {
    memset(out, 0, sizeof *out);
    int n = 0;
    for (int i = 0; i < f->n_targets; i++) n += f->targets[i].nodes;
    out->tasks = calloc((size_t)n + 1, sizeof *out->tasks);
    qkf_strv ids = {0};
    if (!out->tasks) return qk_fail(err, "out of memory");
    /* the job ids to ask about: the latest submission of each task, and of the report */
    for (int i = 0; i <= f->n_targets; i++) {
        const qk_fleet_target *t = i < f->n_targets ? &f->targets[i] : &f->report;
        for (int k = 0; k < (t->nodes > 1 ? t->nodes : 1); k++) {
            const qk_fleet_submission *s = latest(t, t->nodes > 1 ? k : -1);
            if (!s) continue;
            int seen = 0;
            for (int j = 0; j < ids.n && !seen; j++) seen = !strcmp(ids.v[j], s->job_id);
            if (!seen && qkf_strv_push(&ids, s->job_id)) {
                qkf_strv_free(&ids);
                return qk_fail(err, "out of memory");
            }
        }
    }
    qk_fleet_sched_row *rows = NULL;
    int n_rows = 0;
    if (qkf_query((const char *const *)ids.v, ids.n, &rows, &n_rows, out->source,
                  sizeof out->source, err)) {
        qkf_strv_free(&ids);
        return -1;
    }
    const int answered = strncmp(out->source, "none", 4) != 0;
    for (int i = 0; i < f->n_targets; i++) {
        const qk_fleet_target *t = &f->targets[i];
        for (int k = 0; k < (t->nodes > 1 ? t->nodes : 1); k++)
            evaluate(f, t, t->nodes > 1 ? k : -1, rows, n_rows, answered,
                     &out->tasks[out->n_tasks++]);
    }
    evaluate(f, &f->report, -1, rows, n_rows, answered, &out->report);
    free(rows);
    qkf_strv_free(&ids);
    return 0;
}

void qk_fleet_status_free(qk_fleet_status *s) {
    free(s->tasks);
    memset(s, 0, sizeof *s);
}

int qk_fleet_report_inputs(const qk_fleet_status *s, char ***results, int *n_results,
                           char ***not_measured, int *n_not_measured, qk_error *err) {
    *results = calloc((size_t)s->n_tasks + 1, sizeof **results);
    *not_measured = calloc((size_t)s->n_tasks + 1, sizeof **not_measured);
    *n_results = *n_not_measured = 0;
    if (!*results || !*not_measured) goto oom;
    for (int i = 0; i < s->n_tasks; i++) {
        const qk_fleet_task *t = &s->tasks[i];
        if (t->state == QK_FLEET_DONE) {
            if (!((*results)[*n_results] = strdup(t->results))) goto oom;
            (*n_results)++;
            continue;
        }
        char task[32] = "", node[300] = "";
        if (t->task >= 0) snprintf(task, sizeof task, " task %d", t->task);
        if (*t->node) snprintf(node, sizeof node, " on %s", t->node);
        char *line = NULL;
        if (asprintf(&line, "%s%s (%s)%s: %s: %s", t->target->name, task, t->target->selector, node,
                     qk_fleet_state_name(t->state), t->detail) < 0)
            goto oom;
        (*not_measured)[(*n_not_measured)++] = line;
    }
    return 0;
oom:
    for (int i = 0; *results && i < *n_results; i++) free((*results)[i]);
    for (int i = 0; *not_measured && i < *n_not_measured; i++) free((*not_measured)[i]);
    free(*results);
    free(*not_measured);
    *results = *not_measured = NULL;
    *n_results = *n_not_measured = 0;
    return qk_fail(err, "out of memory");
}
