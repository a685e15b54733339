/* DIR/fleet.json: what a fleet submitted, so that status and resubmit work from the folder alone.
 * Written through a temporary file renamed over it after every sbatch; read back with every field
 * checked (it is a file a user may edit). */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fleet/internal.h"

static json_t *jstr(const char *s) {
    return s ? json_string(s) : json_null();
}

static json_t *target_json(const qk_fleet_target *t) {
    json_t *subs = json_array();
    for (int i = 0; subs && i < t->n_subs; i++) {
        const qk_fleet_submission *s = &t->subs[i];
        json_t *argv = json_array();
        for (int a = 0; argv && a < s->argc; a++) json_array_append_new(argv, jstr(s->argv[a]));
        json_array_append_new(subs,
                              json_pack("{s:o, s:o, s:o, s:o*}", "job_id", jstr(s->job_id), "tasks",
                                        jstr(s->tasks), "date", jstr(s->date), "argv", argv));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:i, s:o*}", "name", jstr(t->name), "selector",
                     jstr(t->selector), "model", jstr(t->model), "experiment", jstr(t->experiment),
                     "script", jstr(t->script), "nodes", t->nodes, "submissions", subs);
}

int qkf_state_save(const qk_fleet *f, qk_error *err) {
    json_t *targets = json_array();
    for (int i = 0; targets && i < f->n_targets; i++)
        json_array_append_new(targets, target_json(&f->targets[i]));
    json_t *doc = json_pack(
        "{s:i, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:b, s:o, s:o, s:o*, "
        "s:o*}",
        "qkbench_fleet", QK_FLEET_STATE_VERSION, "dir", jstr(f->dir), "created", jstr(f->created),
        "submit_dir", jstr(f->submit_dir), "experiment", "file", jstr(f->experiment_file), "name",
        jstr(f->experiment_name), "copy", jstr(f->experiment_copy), "model", jstr(f->model),
        "binary", "path", jstr(f->binary), "source", jstr(f->binary_source), "version",
        jstr(f->binary_version), "build_on_node", f->build_on_node, "source_dir",
        jstr(f->source_dir), "report_selector", jstr(f->report_selector), "targets", targets,
        "report", target_json(&f->report));
    char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    if (!text) return qk_fail(err, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", f->dir, QK_FLEET_STATE_FILE);
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps ends without one; its NUL becomes it */
    const int rc = qkf_write_file(path, text, len + 1, 0644, err);
    free(text);
    return rc;
}

/* ---- reading */

typedef struct {
    const char *path;
    qk_error *err;
    int bad;
} reader;

/* A string field (NULL for null when nullable), copied; sets r->bad with a message otherwise. */
static char *get_str(reader *r, json_t *obj, const char *where, const char *key, int nullable) {
    if (r->bad) return NULL;
    json_t *v = json_object_get(obj, key);
    if (nullable && (!v || json_is_null(v))) return NULL;
    if (!json_is_string(v)) {
        qk_fail(r->err, "%s: %s.%s: expected a string%s", r->path, where, key,
                nullable ? " or null" : "");
        r->bad = 1;
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (!s) {
        qk_fail(r->err, "out of memory");
        r->bad = 1;
    }
    return s;
}

static void read_target(reader *r, json_t *j, const char *where, qk_fleet_target *t,
                        int is_report) {
    if (!json_is_object(j)) {
        qk_fail(r->err, "%s: %s: expected an object", r->path, where);
        r->bad = 1;
        return;
    }
    t->name = get_str(r, j, where, "name", 0);
    t->selector = get_str(r, j, where, "selector", 0);
    t->model = get_str(r, j, where, "model", 1);
    t->experiment = get_str(r, j, where, "experiment", 0);
    t->script = get_str(r, j, where, "script", 0);
    json_t *nodes = json_object_get(j, "nodes");
    if (!r->bad && (!json_is_integer(nodes) || json_integer_value(nodes) < 1 ||
                    json_integer_value(nodes) > 100000)) {
        qk_fail(r->err, "%s: %s.nodes: expected an integer in 1..100000", r->path, where);
        r->bad = 1;
    }
    if (r->bad) return;
    t->nodes = (int)json_integer_value(nodes);
    json_t *subs = json_object_get(j, "submissions");
    if (!json_is_array(subs)) {
        qk_fail(r->err, "%s: %s.submissions: expected an array", r->path, where);
        r->bad = 1;
        return;
    }
    const size_t n = json_array_size(subs);
    t->subs = calloc(n ? n : 1, sizeof *t->subs);
    if (!t->subs) {
        qk_fail(r->err, "out of memory");
        r->bad = 1;
        return;
    }
    for (size_t i = 0; i < n && !r->bad; i++) {
        json_t *s = json_array_get(subs, i);
        char w[160];
        snprintf(w, sizeof w, "%s.submissions[%zu]", where, i);
        if (!json_is_object(s)) {
            qk_fail(r->err, "%s: %s: expected an object", r->path, w);
            r->bad = 1;
            break;
        }
        qk_fleet_submission *d = &t->subs[t->n_subs++];
        d->job_id = get_str(r, s, w, "job_id", 0);
        d->tasks = get_str(r, s, w, "tasks", 1);
        d->date = get_str(r, s, w, "date", 1);
        char id[64];
        if (!r->bad && qk_fleet_parse_job_id(d->job_id, strlen(d->job_id), id, sizeof id) != 0) {
            qk_fail(r->err, "%s: %s.job_id: '%s' is not a job id", r->path, w, d->job_id);
            r->bad = 1;
        }
        json_t *argv = json_object_get(s, "argv");
        const size_t na = json_array_size(argv);
        if (!r->bad && na && na < INT_MAX) {
            d->argv = calloc(na + 1, sizeof *d->argv);
            if (!d->argv) {
                qk_fail(r->err, "out of memory");
                r->bad = 1;
            }
            for (size_t a = 0; d->argv && a < na; a++) {
                const char *v = json_string_value(json_array_get(argv, a));
                if (v && !(d->argv[d->argc++] = strdup(v))) {
                    qk_fail(r->err, "out of memory");
                    r->bad = 1;
                    break;
                }
                if (!v) d->argc--;
            }
        }
    }
    if (!r->bad &&
        (is_report ? strcmp(t->name, "report") != 0 : qk_fleet_check_name(t->name, NULL) != 0)) {
        qk_fail(r->err, "%s: %s.name: '%s' is not a target name", r->path, where, t->name);
        r->bad = 1;
    }
}

int qk_fleet_load(const char *dir, qk_fleet **out, qk_error *err) {
    *out = NULL;
    char path[4200], real[PATH_MAX];
    if (!realpath(dir, real)) return qk_fail(err, "%s: not a fleet folder (no such folder)", dir);
    snprintf(path, sizeof path, "%s/%s", real, QK_FLEET_STATE_FILE);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) return qk_fail(err, "%s: %s (not a fleet folder?)", path, je.text);
    reader r = {path, err, 0};
    qk_fleet *f = calloc(1, sizeof *f);
    if (!f) {
        json_decref(doc);
        return qk_fail(err, "out of memory");
    }
    json_t *ver = json_object_get(doc, "qkbench_fleet");
    if (!json_is_integer(ver) || json_integer_value(ver) != QK_FLEET_STATE_VERSION) {
        qk_fail(err, "%s: not a qkbench fleet state of version %d", path, QK_FLEET_STATE_VERSION);
        r.bad = 1;
    }
    json_t *ex = json_object_get(doc, "experiment"), *bin = json_object_get(doc, "binary");
    f->dir = get_str(&r, doc, "fleet", "dir", 0);
    f->created = get_str(&r, doc, "fleet", "created", 1);
    f->submit_dir = get_str(&r, doc, "fleet", "submit_dir", 0);
    f->experiment_file = get_str(&r, ex, "experiment", "file", 0);
    f->experiment_name = get_str(&r, ex, "experiment", "name", 0);
    f->experiment_copy = get_str(&r, ex, "experiment", "copy", 0);
    f->model = get_str(&r, ex, "experiment", "model", 0);
    f->binary = get_str(&r, bin, "binary", "path", 0);
    f->binary_source = get_str(&r, bin, "binary", "source", 1);
    f->binary_version = get_str(&r, bin, "binary", "version", 1);
    f->build_on_node = json_is_true(json_object_get(doc, "build_on_node"));
    f->source_dir = get_str(&r, doc, "fleet", "source_dir", 1);
    f->report_selector = get_str(&r, doc, "fleet", "report_selector", 1);
    if (!r.bad && strcmp(f->dir, real) != 0) {
        qk_fail(err,
                "%s: the fleet was submitted in %s: its job scripts hold that path (move it "
                "back, or submit again)",
                path, f->dir);
        r.bad = 1;
    }
    json_t *targets = json_object_get(doc, "targets");
    if (!r.bad && (!json_is_array(targets) || json_array_size(targets) == 0 ||
                   json_array_size(targets) > 10000)) {
        qk_fail(err, "%s: targets: expected an array of 1 to 10000 targets", path);
        r.bad = 1;
    }
    if (!r.bad) {
        f->targets = calloc(json_array_size(targets), sizeof *f->targets);
        if (!f->targets) {
            qk_fail(err, "out of memory");
            r.bad = 1;
        }
    }
    for (size_t i = 0; !r.bad && i < json_array_size(targets); i++) {
        char w[32];
        snprintf(w, sizeof w, "targets[%zu]", i);
        read_target(&r, json_array_get(targets, i), w, &f->targets[f->n_targets++], 0);
        for (int k = 0; !r.bad && k + 1 < f->n_targets; k++)
            if (!strcmp(f->targets[k].name, f->targets[f->n_targets - 1].name)) {
                qk_fail(err, "%s: %s: target '%s' appears twice", path, w, f->targets[k].name);
                r.bad = 1;
            }
    }
    if (!r.bad) read_target(&r, json_object_get(doc, "report"), "report", &f->report, 1);
    json_decref(doc);
    if (r.bad) {
        qk_fleet_free(f);
        return -1;
    }
    *out = f;
    return 0;
}
