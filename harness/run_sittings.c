/* qk_run_sittings: K sittings, each a child process of this program running the experiment once
 * (its output read through a pipe: progress lines become the observer's, the rest notes), spaced,
 * each merged into the checkpoint as it ends; the complete merged files once all K have. */
#define _GNU_SOURCE /* pipe2 */
#include "harness/run_sittings.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/output_file.h"
#include "harness/experiment.h"
#include "harness/measure.h"
#include "harness/sittings.h"

#define TAIL_LINES   6
#define PROGRESS_TAG "qkbench-progress: "

typedef struct {
    const qk_sittings_options *o;
    int count;
    double spacing_s, started;
    double sum_done_s; /* wall time of the sittings finished */
    int n_done;
    char tail[TAIL_LINES][400]; /* the running sitting's last lines (its error, when it fails) */
    int n_tail;
} sit_run;

static void note(const sit_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const sit_run *r, const char *fmt, ...) {
    const qk_run_observer *ob = &r->o->run->obs;
    if (!ob->note) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ob->note(ob->ctx, line);
}

static int stopped(const sit_run *r) {
    return r->o->run->stop && *r->o->run->stop;
}

int qk_run_sittings_planned(const char *experiment_path) {
    qk_experiment e;
    qk_error err;
    if (qk_experiment_parse_file(experiment_path, &e, &err)) return 1;
    const int k = e.sittings;
    qk_experiment_free(&e);
    return k;
}

/* The run's remaining time: the running sitting's rest, then each later one, started no earlier
 * than spacing after the one before it started. */
static double eta(const sit_run *r, int j, double sitting_start, double frac, double now) {
    double per = r->n_done ? r->sum_done_s / r->n_done : -1;
    const double in = now - sitting_start;
    if (per < 0 && frac > 0.02) per = in / frac;
    if (per < 0) return -1;
    double end = frac > 0.02 ? sitting_start + in / frac : sitting_start + per,
           start = sitting_start;
    if (end < now) end = now;
    for (int k = j + 1; k < r->count; k++) {
        start = end > start + r->spacing_s ? end : start + r->spacing_s;
        end = start + per;
    }
    return end - now;
}

static void progress(const sit_run *r, qk_sittings_progress *p) {
    if (r->o->progress) r->o->progress(r->o->run->obs.ctx, p);
}

/* One line the sitting printed: its progress, a note ("qkbench run: ..."), or other output. */
static void child_line(sit_run *r, int j, double sitting_start, char *line) {
    if (!strncmp(line, PROGRESS_TAG, strlen(PROGRESS_TAG))) {
        double done, total, el;
        int rep, reps, gd, off = 0;
        if (sscanf(line + strlen(PROGRESS_TAG), "%lf %lf %lf %d %d %d %n", &done, &total, &el, &rep,
                   &reps, &gd, &off) < 6)
            return;
        const double now = qk_now_seconds(), frac = total > 0 ? done / total : 0;
        qk_sittings_progress p = {j,
                                  r->count,
                                  now - r->started,
                                  eta(r, j, sitting_start, frac, now),
                                  frac,
                                  line + strlen(PROGRESS_TAG) + off,
                                  rep,
                                  reps,
                                  0,
                                  gd};
        progress(r, &p);
        return;
    }
    snprintf(r->tail[r->n_tail % TAIL_LINES], sizeof r->tail[0], "%s", line);
    r->n_tail++;
    static const char pre[] = "qkbench run: ";
    if (!strncmp(line, pre, strlen(pre)))
        note(r, "sitting %d/%d: %s", j + 1, r->count, line + strlen(pre));
}

/* The last lines the sitting printed, joined for a message. */
static void tail_text(const sit_run *r, char *buf, size_t size) {
    size_t o = 0;
    buf[0] = 0;
    const int first = r->n_tail > TAIL_LINES ? r->n_tail - TAIL_LINES : 0;
    for (int i = first; i < r->n_tail && o + 1 < size; i++) {
        int w = snprintf(buf + o, size - o, "%s%s", o ? " | " : "", r->tail[i % TAIL_LINES]);
        if (w < 0) break;
        o += (size_t)w;
    }
    if (!buf[0]) snprintf(buf, size, "(it printed nothing)");
}

/* Runs sitting j to its end; *status gets waitpid's status. -1 when it could not be started. */
static int run_child(sit_run *r, int j, const char *dir, int *status, qk_error *err) {
    const qk_run_options *ro = r->o->run;
    char jk[32], name[32];
    snprintf(jk, sizeof jk, "%d/%d", j + 1, r->count);
    snprintf(name, sizeof name, "sitting-%d", j + 1);
    const char *self = ro->self_exe ? ro->self_exe : "/proc/self/exe";
    const char *argv[16];
    int a = 0;
    argv[a++] = self;
    argv[a++] = "run";
    argv[a++] = ro->experiment_path;
    argv[a++] = "--as-sitting";
    argv[a++] = jk;
    argv[a++] = "-o";
    argv[a++] = dir;
    argv[a++] = "--name";
    argv[a++] = name;
    if (ro->quick) argv[a++] = "--quick";
    if (ro->force) argv[a++] = "--force";
    argv[a] = NULL;
    int fd[2];
    if (pipe2(fd, O_CLOEXEC)) return qk_fail(err, "sitting %d: pipe: %s", j + 1, strerror(errno));
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return qk_fail(err, "sitting %d: fork: %s", j + 1, strerror(errno));
    }
    if (pid == 0) {
        /* its own process group: a Ctrl-C at the terminal reaches the parent only, which passes it
         * on once; and it stops (keeping its repetitions) if the parent dies */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        execv(self, (char *const *)argv);
        dprintf(2, "cannot run %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    const double start = qk_now_seconds();
    char buf[8192];
    size_t len = 0;
    int forwarded = 0;
    r->n_tail = 0;
    for (;;) {
        if (stopped(r) && !forwarded) {
            kill(pid, SIGINT);
            forwarded = 1;
        }
        struct pollfd p = {fd[0], POLLIN, 0};
        const int pr = poll(&p, 1, 200);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        const ssize_t got = read(fd[0], buf + len, sizeof buf - 1 - len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        len += (size_t)got;
        buf[len] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
            *nl = 0;
            child_line(r, j, start, line);
            line = nl + 1;
        }
        len -= (size_t)(line - buf);
        memmove(buf, line, len);
        if (len == sizeof buf - 1) { /* a line longer than the buffer: taken as it is */
            buf[len] = 0;
            child_line(r, j, start, buf);
            len = 0;
        }
    }
    if (len) {
        buf[len] = 0;
        child_line(r, j, start, buf);
    }
    close(fd[0]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return qk_fail(err, "sitting %d: waitpid: %s", j + 1, strerror(errno));
    return 0;
}

/* Waits until `until` (the spacing), telling the observer; 1 when stopped meanwhile. */
static int wait_spacing(sit_run *r, int j, double until) {
    double now = qk_now_seconds();
    if (now >= until) return 0;
    note(r,
         "sitting %d/%d starts in %.0f s (sitting_spacing %g s from the start of the previous one)",
         j + 1, r->count, until - now, r->spacing_s);
    while ((now = qk_now_seconds()) < until) {
        if (stopped(r)) return 1;
        qk_sittings_progress p = {j,
                                  r->count,
                                  now - r->started,
                                  eta(r, j - 1, until - r->spacing_s, 1, now),
                                  0,
                                  NULL,
                                  0,
                                  0,
                                  until - now,
                                  0};
        progress(r, &p);
        const double left = until - now;
        struct timespec ts = {0, (long)(1e9 * (left < 0.25 ? left : 0.25))};
        nanosleep(&ts, NULL);
    }
    return stopped(r);
}

static void describe_status(int status, char *buf, size_t size) {
    if (WIFEXITED(status))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "wait status %d", status);
}

/* Sitting j's results: the complete file, else its checkpoint. NULL when neither loads. */
static json_t *load_sitting(const char *dir, int j, char *path, size_t size) {
    json_t *doc = NULL;
    qk_error e;
    snprintf(path, size, "%s/sitting-%d.json", dir, j + 1);
    if (qk_results_load(path, &doc, &e) == 0) return doc;
    snprintf(path, size, "%s/sitting-%d.partial.json", dir, j + 1);
    if (qk_results_load(path, &doc, &e) == 0) return doc;
    return NULL;
}

/* The checkpoint's contents before any sitting ended: the environment and the plan. */
static int empty_document(qk_results *res, const qk_experiment *e, const char *path, int quick,
                          int count, double spacing) {
    qk_results_clear(res);
    if (qk_results_capture_environment(res)) return -1;
    return qk_results_context_set(res, "experiment",
                                  json_pack("{s:s, s:o, s:s, s:b}", "name", e->name, "file",
                                            qk_results_string(path), "text", e->text, "quick",
                                            quick)) ||
           qk_results_context_set(
               res, "sittings",
               json_pack("{s:i, s:f, s:[]}", "count", count, "spacing_s", spacing, "runs"));
}

qk_run_status qk_run_sittings(const qk_sittings_options *o, qk_sittings_outcome *out,
                              qk_error *err) {
    memset(out, 0, sizeof *out);
    const qk_run_options *ro = o->run;
    qk_experiment exp;
    if (qk_experiment_parse_file(ro->experiment_path, &exp, err)) return QK_RUN_BAD_INPUT;
    sit_run r = {0};
    r.o = o;
    r.count = o->sittings > 0 ? o->sittings : exp.sittings;
    r.spacing_s = o->spacing_s >= 0 ? o->spacing_s : exp.sitting_spacing_s;
    out->count = r.count;
    qk_run_status status = QK_RUN_ERROR;
    json_t *docs[QK_SITTINGS_MAX] = {0};
    qk_sitting_doc sd[QK_SITTINGS_MAX];
    char labels[QK_SITTINGS_MAX][64];
    qk_results *res = NULL;
    int n_docs = 0, begun = 0, any_failed = 0;
    if (r.count < 1 || r.count > QK_SITTINGS_MAX) {
        qk_fail(err, "sittings = %d: 1..%d expected", r.count, QK_SITTINGS_MAX);
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    const char *dir = ro->out_dir && *ro->out_dir ? ro->out_dir : ".";
    const char *base = ro->name ? ro->name : exp.name;
    if (snprintf(out->dir, sizeof out->dir, "%s/%s.sittings", dir, base) >= (int)sizeof out->dir ||
        strchr(base, '/')) {
        qk_fail(err, "results name '%s': a file name without '/' expected", base);
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    /* the merged files first (qk_results_run_begin checks them again), then the sittings' own,
     * before anything runs */
    for (int x = 0; x < 4 && !ro->force; x++) {
        static const char *const ext[4] = {"json", "csv", "partial.json", "partial.csv"};
        char p[4300];
        snprintf(p, sizeof p, "%s/%s.%s", dir, base, ext[x]);
        if (qk_refuse_existing(p, err)) {
            if (x >= 2)
                qk_fail(err,
                        "%s already exists (the results of a run that did not finish): pass "
                        "--force to replace it, or move it away",
                        p);
            status = QK_RUN_BAD_INPUT;
            goto out;
        }
    }
    for (int j = 0; j < r.count && !ro->force; j++) {
        static const char *const ext[4] = {"json", "csv", "partial.json", "partial.csv"};
        for (int x = 0; x < 4; x++) {
            char p[4300];
            snprintf(p, sizeof p, "%s/sitting-%d.%s", out->dir, j + 1, ext[x]);
            if (qk_refuse_existing(p, err)) {
                status = QK_RUN_BAD_INPUT;
                goto out;
            }
        }
    }
    res = qk_results_new();
    if (!res || empty_document(res, &exp, ro->experiment_path, ro->quick, r.count, r.spacing_s)) {
        qk_fail(err, "out of memory");
        goto out;
    }
    if (qk_results_run_begin(res, dir, base, ro->force, err)) {
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    begun = 1;
    const qk_sittings_plan plan = {r.count, r.spacing_s, exp.seed, exp.noisy_cv};
    note(&r,
         "%s: %d sittings, each a process of its own, one after another%s; their own files in %s",
         exp.name, r.count, r.spacing_s > 0 ? " (spaced)" : "", out->dir);
    r.started = qk_now_seconds();
    double last_start = 0;
    const char *state = "running";
    char why[1400] = "";
    for (int j = 0; j < r.count; j++) {
        if (j && r.spacing_s > 0 && wait_spacing(&r, j, last_start + r.spacing_s)) break;
        if (stopped(&r)) break;
        last_start = qk_now_seconds();
        int st = 0;
        if (run_child(&r, j, out->dir, &st, err)) {
            state = "failed";
            snprintf(why, sizeof why, "%s", err->msg);
            break;
        }
        const double took = qk_now_seconds() - last_start;
        char path[4400], how[128], last[1200];
        json_t *doc = load_sitting(out->dir, j, path, sizeof path);
        const int complete = doc && json_is_true(json_object_get(doc, "complete"));
        const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        describe_status(st, how, sizeof how);
        tail_text(&r, last, sizeof last);
        if (code == 2 && j == 0 && !doc) { /* bad input: nothing ran */
            qk_fail(err, "%s", last);
            status = QK_RUN_BAD_INPUT;
            goto out;
        }
        const int interrupted =
            stopped(&r) && (code == 130 || (WIFSIGNALED(st) && WTERMSIG(st) == SIGINT));
        if (!((code == 0 || code == 1) && complete) && !interrupted) {
            snprintf(why, sizeof why, "sitting %d/%d failed (%s); its last lines: %s", j + 1,
                     r.count, how, last);
            state = "failed";
            json_decref(doc); /* its files stay in the folder; they are not merged */
            break;
        }
        if (!doc) break; /* stopped before it wrote anything */
        any_failed |= code == 1;
        snprintf(labels[j], sizeof labels[j], "sitting-%d", j + 1);
        docs[n_docs] = doc;
        sd[n_docs] = (qk_sitting_doc){doc, labels[j], took};
        n_docs++;
        if (complete) {
            r.sum_done_s += took;
            r.n_done++;
            out->done++;
        }
        qk_sittings_summary_free(&out->sum);
        qk_results_clear(res);
        if (qk_sittings_merge(sd, n_docs, &plan, res, &out->sum, err)) {
            snprintf(why, sizeof why, "%s", err->msg);
            state = "failed";
            json_decref(docs[--n_docs]); /* the checkpoint keeps the sittings merged before */
            break;
        }
        if (interrupted) break;
        if (j + 1 < r.count) {
            qk_error werr;
            if (qk_results_run_checkpoint(res, "running", NULL, &werr)) note(&r, "%s", werr.msg);
        }
    }
    if (!strcmp(state, "running") && out->done == r.count) {
        if (qk_results_run_finish(res, err)) {
            qk_error cerr;
            if (qk_results_run_checkpoint(res, "write_failed", err->msg, &cerr) == 0)
                qk_fail_prefix(err, "the merged results could not be written (the merge is in %s)",
                               qk_results_run_path(res, 1, 0));
            status = QK_RUN_ERROR;
            goto out;
        }
        snprintf(out->json_path, sizeof out->json_path, "%s", qk_results_run_path(res, 0, 0));
        snprintf(out->csv_path, sizeof out->csv_path, "%s", qk_results_run_path(res, 0, 1));
        status = any_failed ? QK_RUN_FAILED : QK_RUN_COMPLETE;
        if (any_failed) qk_fail(err, "a configuration failed in a sitting (recorded as failed)");
        goto out;
    }
    if (strcmp(state, "failed")) state = "interrupted";
    /* the checkpoint: the sittings merged so far (rebuilt when the last merge was refused) */
    qk_sittings_summary_free(&out->sum);
    qk_results_clear(res);
    qk_error merr;
    if (n_docs == 0 || qk_sittings_merge(sd, n_docs, &plan, res, &out->sum, &merr))
        empty_document(res, &exp, ro->experiment_path, ro->quick, r.count, r.spacing_s);
    qk_error werr;
    if (qk_results_run_checkpoint(res, state, *why ? why : NULL, &werr)) {
        *err = werr;
        status = QK_RUN_ERROR;
    } else if (!strcmp(state, "failed")) {
        qk_fail(err, "%s", why);
        status = QK_RUN_FAILED;
    } else {
        status = QK_RUN_INTERRUPTED;
    }
    snprintf(out->json_path, sizeof out->json_path, "%s", qk_results_run_path(res, 1, 0));
    snprintf(out->csv_path, sizeof out->csv_path, "%s", qk_results_run_path(res, 1, 1));
out:
    if (status == QK_RUN_BAD_INPUT && begun) { /* our empty checkpoint must not block a rerun */
        unlink(qk_results_run_path(res, 1, 0));
        unlink(qk_results_run_path(res, 1, 1));
    }
    for (int i = 0; i < n_docs; i++) json_decref(docs[i]);
    qk_results_free(res);
    qk_experiment_free(&exp);
    return status;
}

void qk_sittings_outcome_free(qk_sittings_outcome *out) {
    if (out) qk_sittings_summary_free(&out->sum);
}
