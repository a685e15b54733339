/* Submitting a fleet and resubmitting what did not complete. Everything is checked before the
 * first job goes (names, selectors, model paths, the experiment, the folder, and each job with
 * `sbatch --test-only`, which asks the controller whether it could run without queueing it);
 * then one sbatch per target, fleet.json rewritten after each, and the report job last, after all
 * of them (afterany: it reports on whatever finished, naming what did not). */
#define _GNU_SOURCE /* asprintf, strndup */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <ftw.h>

#include "harness/fleet/internal.h"

#define BINARY_MAX_BYTES (1u << 30)

/* #SBATCH lines carry the folder's paths unquoted (sbatch reads them itself) */
static int check_path(const char *path, const char *what, qk_error *err) {
    for (const char *p = path; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || strchr("%'\"\\$`", *p))
            return qk_fail(err,
                           "%s '%s': a fleet's paths must not contain spaces, quotes, '\\', '$', "
                           "'`' or '%%' (sbatch reads them from #SBATCH lines)",
                           what, path);
    return 0;
}

/* A model path as it goes on an experiment's model line (libinih reads one line, at most 198
 * characters, and cuts it at " ;"). */
static int check_model_path(const char *name, const char *path, qk_error *err) {
    const size_t l = strlen(path);
    if (l == 0 || l > 180)
        return qk_fail(err, "--model %s=PATH: expected a path of 1 to 180 characters", name);
    if (isspace((unsigned char)path[0]) || isspace((unsigned char)path[l - 1]))
        return qk_fail(err, "--model %s=%s: the path starts or ends with a space", name, path);
    for (size_t i = 0; i < l; i++) {
        if (iscntrl((unsigned char)path[i]))
            return qk_fail(err, "--model %s: the path holds a control character", name);
        if (path[i] == ';' && i && isspace((unsigned char)path[i - 1]))
            return qk_fail(err, "--model %s=%s: \" ;\" would start a comment in the experiment",
                           name, path);
    }
    return 0;
}

static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d))) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Undoes prepare() when nothing was submitted: the folder was empty or new, so all in it is ours.
 */
static void remove_folder(const char *dir, int created) {
    if (!dir) return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (!created) mkdir(dir, 0755); /* it was there, empty: leave it so */
}

static int add_submission(qk_fleet_target *t, const char *job, const char *tasks,
                          const qkf_strv *argv) {
    qk_fleet_submission *g = realloc(t->subs, (size_t)(t->n_subs + 1) * sizeof *g);
    if (!g) return -1;
    t->subs = g;
    qk_fleet_submission *s = &g[t->n_subs];
    memset(s, 0, sizeof *s);
    char date[32];
    qkf_now_iso(date, sizeof date);
    s->job_id = strdup(job);
    s->tasks = tasks && *tasks ? strdup(tasks) : NULL;
    s->date = strdup(date);
    s->argv = calloc((size_t)argv->n + 1, sizeof *s->argv);
    if (!s->job_id || !s->date || !s->argv || (tasks && *tasks && !s->tasks)) {
        qkf_submission_free(s);
        return -1;
    }
    for (int i = 0; i < argv->n; i++) {
        if (!(s->argv[i] = strdup(argv->v[i]))) {
            s->argc = i;
            qkf_submission_free(s);
            return -1;
        }
    }
    s->argc = argv->n;
    t->n_subs++;
    return 0;
}

/* sbatch [--test-only] [extra] SCRIPT; on success (not a test) the submission is recorded in t and
 * fleet.json. job may be NULL for a test. */
static int sbatch(qk_fleet *f, qk_fleet_target *t, int test, const char *extra, const char *tasks,
                  char *job, size_t job_size, qk_error *err) {
    qkf_strv argv = {0};
    int rc = qkf_strv_push(&argv, "sbatch") || qkf_strv_push(&argv, "--parsable") ||
             (test && qkf_strv_push(&argv, "--test-only")) ||
             (extra && qkf_strv_push(&argv, extra)) || qkf_strv_push(&argv, t->script);
    if (rc) {
        qkf_strv_free(&argv);
        return qk_fail(err, "out of memory");
    }
    if (test) {
        /* --test-only answers on stderr and submits nothing */
        qkf_cmd c;
        rc = qkf_run((const char *const *)argv.v, 60, &c, err);
        if (!rc && c.exit_code != 0) {
            char line[400];
            qkf_cmd_message(&c, line, sizeof line);
            rc = qk_fail(err, "%s", line);
        }
        qkf_cmd_free(&c);
    } else {
        rc = qkf_sbatch((const char *const *)argv.v, job, job_size, err);
        if (!rc && add_submission(t, job, tasks, &argv)) rc = qk_fail(err, "out of memory");
        if (!rc) rc = qkf_state_save(f, err);
    }
    qkf_strv_free(&argv);
    return rc;
}

/* The report job after the jobs in deps (none: no dependency). */
static int submit_report(qk_fleet *f, const qkf_strv *deps, char *job, size_t size, qk_error *err) {
    char *dep = NULL;
    if (deps->n) {
        size_t l = 32;
        for (int i = 0; i < deps->n; i++) l += strlen(deps->v[i]) + 1;
        if (!(dep = malloc(l))) return qk_fail(err, "out of memory");
        strcpy(dep, "--dependency=afterany");
        for (int i = 0; i < deps->n; i++) strcat(strcat(dep, ":"), deps->v[i]);
    }
    const int rc = sbatch(f, &f->report, 0, dep, NULL, job, size, err);
    free(dep);
    return rc;
}

static int write_text(const char *path, const char *text, int mode, qk_error *err) {
    if (!text) return qk_fail(err, "out of memory");
    return qkf_write_file(path, text, strlen(text), mode, err);
}

/* The checks and the folder; everything but the submission. */
static qk_fleet_result prepare(const qk_fleet_submit_options *o, qk_fleet *f, int *created,
                               qk_error *err) {
    if (!o->experiment || !o->dir || o->n_targets < 1)
        return qk_fail(err, "expected an experiment, at least one --target and -o DIR"),
               QK_FLEET_BAD_INPUT;
    if (o->nodes_per_target < 1 || o->nodes_per_target > 1000)
        return qk_fail(err, "--nodes-per-target: expected 1..1000"), QK_FLEET_BAD_INPUT;
    f->targets = calloc((size_t)o->n_targets, sizeof *f->targets);
    if (!f->targets) return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
    for (int i = 0; i < o->n_targets; i++) {
        const char *spec = o->targets[i], *eq = strchr(spec, '=');
        if (!eq)
            return qk_fail(err, "--target '%s': expected NAME=SELECTOR (e.g. zen4=partition=zen4)",
                           spec),
                   QK_FLEET_BAD_INPUT;
        qk_fleet_target *t = &f->targets[f->n_targets++];
        t->name = strndup(spec, (size_t)(eq - spec));
        t->selector = strdup(eq + 1);
        if (!t->name || !t->selector) return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
        qk_fleet_selector sel;
        if (qk_fleet_check_name(t->name, err) || qk_fleet_parse_selector(t->selector, &sel, err))
            return qk_fail_prefix(err, "--target %s", spec), QK_FLEET_BAD_INPUT;
        for (int k = 0; k + 1 < f->n_targets; k++)
            if (!strcmp(f->targets[k].name, t->name))
                return qk_fail(err, "--target: '%s' named twice", t->name), QK_FLEET_BAD_INPUT;
        t->nodes = o->nodes_per_target;
    }
    for (int i = 0; i < o->n_models; i++) {
        const char *spec = o->models[i], *eq = strchr(spec, '=');
        qk_fleet_target *t = NULL;
        for (int k = 0; eq && k < f->n_targets && !t; k++)
            if (strlen(f->targets[k].name) == (size_t)(eq - spec) &&
                !strncmp(f->targets[k].name, spec, (size_t)(eq - spec)))
                t = &f->targets[k];
        if (!eq || !t)
            return qk_fail(err, "--model '%s': expected NAME=PATH with NAME a --target", spec),
                   QK_FLEET_BAD_INPUT;
        if (t->model) return qk_fail(err, "--model %s given twice", t->name), QK_FLEET_BAD_INPUT;
        if (check_model_path(t->name, eq + 1, err)) return QK_FLEET_BAD_INPUT;
        if (!(t->model = strdup(eq + 1))) return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
    }
    qk_fleet_selector sel;
    if (o->report_selector && *o->report_selector &&
        qk_fleet_parse_selector(o->report_selector, &sel, err))
        return qk_fail_prefix(err, "--report-on"), QK_FLEET_BAD_INPUT;

    char real[PATH_MAX], *text = NULL;
    if (!realpath(o->experiment, real))
        return qk_fail(err, "%s: %s", o->experiment, strerror(errno)), QK_FLEET_BAD_INPUT;
    if (qkf_experiment_read(real, &text, &f->experiment_name, &f->model, err))
        return QK_FLEET_BAD_INPUT;
    f->experiment_file = strdup(real);
    if (!realpath(o->binary, real)) {
        free(text);
        return qk_fail(err, "%s: %s", o->binary, strerror(errno)), QK_FLEET_BAD_INPUT;
    }
    f->binary_source = strdup(real);
    f->binary_version = strdup(o->binary_version ? o->binary_version : "unknown");
    f->build_on_node = o->build_on_node;
    f->source_dir = qkf_strdup(o->source_dir);
    f->report_selector = strdup(o->report_selector ? o->report_selector : "");
    char date[32];
    qkf_now_iso(date, sizeof date);
    f->created = strdup(date);
    if (o->build_on_node) {
        char cm[4200];
        snprintf(cm, sizeof cm, "%s/CMakeLists.txt", o->source_dir ? o->source_dir : "");
        if (!o->source_dir || access(cm, R_OK) != 0) {
            free(text);
            return qk_fail(err,
                           "--build-on-node: no source tree at '%s' (the nodes build from "
                           "it, so it must be on a file system they share)",
                           o->source_dir ? o->source_dir : ""),
                   QK_FLEET_BAD_INPUT;
        }
    }

    /* the folder: new or empty, so that nothing in it predates this fleet */
    struct stat st;
    *created = stat(o->dir, &st) != 0;
    if (!*created && (!S_ISDIR(st.st_mode) || !dir_is_empty(o->dir))) {
        free(text);
        return qk_fail(err,
                       "%s: exists and is not an empty folder (a fleet's folder holds one "
                       "fleet: `qkbench fleet resubmit %s` reruns what failed)",
                       o->dir, o->dir),
               QK_FLEET_BAD_INPUT;
    }
    if (qkf_mkdir_p(o->dir, err) || !realpath(o->dir, real)) {
        free(text);
        return QK_FLEET_BAD_INPUT;
    }
    f->dir = strdup(real);
    if (!getcwd(real, sizeof real)) {
        free(text);
        return qk_fail(err, "cannot read the working directory: %s", strerror(errno)),
               QK_FLEET_BAD_INPUT;
    }
    f->submit_dir = strdup(real);
    if (!f->experiment_file || !f->binary_source || !f->binary_version || !f->report_selector ||
        !f->created || !f->dir || !f->submit_dir || (o->source_dir && !f->source_dir)) {
        free(text);
        return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
    }
    if (check_path(f->dir, "fleet folder", err) ||
        check_path(f->submit_dir, "working directory", err)) {
        free(text);
        return QK_FLEET_BAD_INPUT;
    }

    /* the folder's files: binary, experiment copies, scripts, state */
    qk_fleet_result res = QK_FLEET_ERROR;
    char path[4200], *bin = NULL, *s = NULL;
    const char *sub[] = {"jobs", "logs", "bin", "experiment"};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, sub[i]);
        if (qkf_mkdir_p(path, err)) goto out;
    }
    size_t len;
    if (!(bin = qkf_read_file(f->binary_source, BINARY_MAX_BYTES, &len))) {
        qk_fail(err, "%s: cannot read: %s", f->binary_source, strerror(errno));
        goto out;
    }
    if (asprintf(&f->binary, "%s/bin/qkbench", f->dir) < 0) {
        f->binary = NULL;
        goto oom;
    }
    if (qkf_write_file(f->binary, bin, len, 0755, err)) goto out;
    const char *base = strrchr(f->experiment_file, '/') + 1;
    if (asprintf(&f->experiment_copy, "%s/experiment/%s", f->dir, base) < 0) {
        f->experiment_copy = NULL;
        goto oom;
    }
    if (write_text(f->experiment_copy, text, 0644, err)) goto out;
    for (int i = 0; i < f->n_targets; i++) {
        qk_fleet_target *t = &f->targets[i];
        if (t->model) {
            snprintf(path, sizeof path, "%s/experiment/%s", f->dir, t->name);
            if (qkf_mkdir_p(path, err)) goto out;
            if (asprintf(&t->experiment, "%s/%s", path, base) < 0) {
                t->experiment = NULL;
                goto oom;
            }
            char *copy = qkf_experiment_with_model(text, t->model);
            const int rc = write_text(t->experiment, copy, 0644, err);
            free(copy);
            if (rc) goto out;
        } else if (!(t->experiment = strdup(f->experiment_copy))) {
            goto oom;
        }
        if (asprintf(&t->script, "%s/jobs/%s.sh", f->dir, t->name) < 0) {
            t->script = NULL;
            goto oom;
        }
        s = qkf_target_script(f, t);
        if (write_text(t->script, s, 0755, err)) goto out;
        free(s);
        s = NULL;
    }
    qk_fleet_target *r = &f->report;
    r->name = strdup("report");
    r->selector = strdup(f->report_selector);
    r->experiment = strdup(f->experiment_copy);
    r->nodes = 1;
    if (!r->name || !r->selector || !r->experiment ||
        asprintf(&r->script, "%s/jobs/report.sh", f->dir) < 0) {
        r->script = NULL;
        goto oom;
    }
    s = qkf_report_script(f);
    if (write_text(r->script, s, 0755, err) || qkf_state_save(f, err)) goto out;
    res = QK_FLEET_OK;
    goto out;
oom:
    qk_fail(err, "out of memory");
out:
    free(s);
    free(bin);
    free(text);
    return res;
}

qk_fleet_result qk_fleet_submit(const qk_fleet_submit_options *o, qk_fleet **out, qk_error *err) {
    *out = NULL;
    qk_fleet *f = calloc(1, sizeof *f);
    if (!f) return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
    int created = 0;
    qk_fleet_result res = prepare(o, f, &created, err);
    if (res != QK_FLEET_OK) {
        remove_folder(f->dir, created);
        qk_fleet_free(f);
        return res;
    }
    /* can the controller run each job? (a wrong partition or feature fails here, before any job
     * is queued) */
    for (int i = 0; i < f->n_targets; i++)
        if (sbatch(f, &f->targets[i], 1, NULL, NULL, NULL, 0, err)) {
            qk_fail_prefix(err, "target %s (%s): sbatch --test-only", f->targets[i].name,
                           f->targets[i].selector);
            remove_folder(f->dir, created);
            qk_fleet_free(f);
            return QK_FLEET_BAD_INPUT;
        }
    qkf_strv deps = {0};
    qk_error first = {{0}};
    for (int i = 0; i < f->n_targets; i++) {
        qk_fleet_target *t = &f->targets[i];
        char job[64], tasks[32] = "";
        if (t->nodes > 1) snprintf(tasks, sizeof tasks, "0-%d", t->nodes - 1);
        qk_error e = {{0}};
        if (sbatch(f, t, 0, NULL, tasks, job, sizeof job, &e)) {
            if (!*first.msg) qk_fail(&first, "target %s: %s", t->name, e.msg);
            res = QK_FLEET_ERROR;
            continue;
        }
        if (qkf_strv_push(&deps, job)) {
            qkf_strv_free(&deps);
            *out = f;
            return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
        }
    }
    char job[64];
    qk_error e = {{0}};
    if (deps.n && submit_report(f, &deps, job, sizeof job, &e)) {
        if (!*first.msg) qk_fail(&first, "report job: %s", e.msg);
        res = QK_FLEET_ERROR;
    }
    qkf_strv_free(&deps);
    if (res != QK_FLEET_OK) *err = first;
    *out = f;
    return res;
}

qk_fleet_result qk_fleet_resubmit(qk_fleet *f, qk_fleet_resubmit_outcome *out, qk_error *err) {
    memset(out, 0, sizeof *out);
    qk_fleet_status st;
    if (qk_fleet_status_get(f, &st, err)) return QK_FLEET_ERROR;
    out->items = calloc((size_t)f->n_targets + 1, sizeof *out->items);
    if (!out->items) {
        qk_fleet_status_free(&st);
        return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
    }
    qkf_strv deps = {0};
    qk_fleet_result res = QK_FLEET_OK;
    qk_error first = {{0}};
    int oom = 0, k = 0;
    /* the jobs a new report must wait for: those still to finish, then the resubmitted ones */
    for (int i = 0; i < st.n_tasks; i++) {
        const qk_fleet_task *t = &st.tasks[i];
        if (t->state != QK_FLEET_PENDING && t->state != QK_FLEET_RUNNING) continue;
        out->busy++;
        char id[96];
        snprintf(id, sizeof id, "%s", t->job);
        id[strcspn(id, "_")] = 0; /* an array task's job: the array (afterany covers its tasks) */
        int seen = 0;
        for (int j = 0; j < deps.n && !seen; j++) seen = !strcmp(deps.v[j], id);
        if (!seen && qkf_strv_push(&deps, id)) oom = 1;
    }
    for (int i = 0; i < f->n_targets && !oom; i++) {
        qk_fleet_target *t = &f->targets[i];
        char tasks[sizeof out->items->tasks] = "";
        int failed = 0, run_start = -1, run_end = -2;
        /* the failed tasks as sbatch --array ranges: "1,3-7" */
        for (; k <= st.n_tasks; k++) {
            const int in = k < st.n_tasks && st.tasks[k].target == t;
            const int task = in && st.tasks[k].state == QK_FLEET_FAILED ? st.tasks[k].task : -2;
            if (in && task == -2) continue;
            if (in && task != -1 && task == run_end + 1) {
                run_end = task;
            } else if (run_start >= 0) {
                const size_t l = strlen(tasks);
                if (run_end > run_start)
                    snprintf(tasks + l, sizeof tasks - l, "%s%d-%d", l ? "," : "", run_start,
                             run_end);
                else
                    snprintf(tasks + l, sizeof tasks - l, "%s%d", l ? "," : "", run_start);
                run_start = -1;
            }
            if (!in) break;
            failed++;
            if (task >= 0 && run_start < 0) run_start = run_end = task;
        }
        if (!failed) continue;
        char extra[sizeof tasks + 16] = "", job[64];
        if (t->nodes > 1) snprintf(extra, sizeof extra, "--array=%s", tasks);
        qk_error e = {{0}};
        if (sbatch(f, t, 0, *extra ? extra : NULL, tasks, job, sizeof job, &e)) {
            if (!*first.msg) qk_fail(&first, "target %s: %s", t->name, e.msg);
            res = QK_FLEET_ERROR;
            continue;
        }
        qk_fleet_resubmitted *it = &out->items[out->n++];
        it->target = t;
        snprintf(it->tasks, sizeof it->tasks, "%s", tasks);
        snprintf(it->job, sizeof it->job, "%s", job);
        if (qkf_strv_push(&deps, job)) oom = 1;
    }
    const qk_fleet_state report = st.report.state;
    char old_report[96];
    snprintf(old_report, sizeof old_report, "%s", st.report.job);
    qk_fleet_status_free(&st);
    if (oom) {
        qkf_strv_free(&deps);
        return qk_fail(err, "out of memory"), QK_FLEET_ERROR;
    }
    /* a report still waiting would report before the resubmitted jobs ran */
    if (out->n && report == QK_FLEET_PENDING && *old_report) {
        qk_error e = {{0}};
        if (qkf_scancel(old_report, &e) == 0)
            snprintf(out->cancelled_report, sizeof out->cancelled_report, "%s", old_report);
        else if (!*first.msg)
            qk_fail(&first, "%s", e.msg), res = QK_FLEET_ERROR;
    }
    if (out->n || report == QK_FLEET_FAILED || *out->cancelled_report) {
        qk_error e = {{0}};
        if (submit_report(f, &deps, out->report_job, sizeof out->report_job, &e)) {
            if (!*first.msg) qk_fail(&first, "report job: %s", e.msg);
            res = QK_FLEET_ERROR;
            out->report_job[0] = 0;
        }
    }
    qkf_strv_free(&deps);
    if (res != QK_FLEET_OK) *err = first;
    return res;
}

void qk_fleet_resubmit_outcome_free(qk_fleet_resubmit_outcome *o) {
    free(o->items);
    memset(o, 0, sizeof *o);
}
