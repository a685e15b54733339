/* The job scripts of a fleet, kept in DIR/jobs/ so a run can be read and reproduced: the #SBATCH
 * lines carry the target's selector, --exclusive and the log's path; the body writes the job's
 * record, checks the model, runs `qkbench run` and records its exit status. Every value from the
 * user is single-quoted (a quote inside becomes '\''), and selectors were checked to hold nothing a
 * #SBATCH line could break on. */
#define _GNU_SOURCE /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fleet/internal.h"

static void sq(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

static int is_array(const qk_fleet_target *t) {
    return t->nodes > 1;
}

void qkf_results_dir(const qk_fleet *f, const qk_fleet_target *t, int task, char *buf, size_t n) {
    if (task >= 0)
        snprintf(buf, n, "%s/%s/%d", f->dir, t->name, task);
    else
        snprintf(buf, n, "%s/%s", f->dir, t->name);
}

void qkf_results_file(const qk_fleet *f, const qk_fleet_target *t, int task, char *buf, size_t n) {
    char d[4096];
    qkf_results_dir(f, t, task, d, sizeof d);
    if (t == &f->report)
        snprintf(buf, n, "%s/REPORT.md", d);
    else
        snprintf(buf, n, "%s/%s.json", d, f->experiment_name);
}

void qkf_record_file(const qk_fleet *f, const qk_fleet_target *t, int task, char *buf, size_t n) {
    char d[4096];
    qkf_results_dir(f, t, task, d, sizeof d);
    snprintf(buf, n, "%s/job.txt", d);
}

void qkf_log_file(const qk_fleet *f, const qk_fleet_target *t, const char *job, int task, char *buf,
                  size_t n) {
    if (!*job)
        snprintf(buf, n, "%s/logs/%s-%s.out", f->dir, t->name, is_array(t) ? "%A_%a" : "%j");
    else if (task >= 0)
        snprintf(buf, n, "%s/logs/%s-%s_%d.out", f->dir, t->name, job, task);
    else
        snprintf(buf, n, "%s/logs/%s-%s.out", f->dir, t->name, job);
}

/* The header both kinds of script share: what it is, the #SBATCH lines, the record. */
static void header(FILE *o, const qk_fleet *f, const qk_fleet_target *t, const char *what,
                   const char *selector) {
    char path[4200];
    fprintf(o, "#!/bin/sh\n");
    fprintf(o, "# qkbench fleet %s: %s.\n", f->dir, what);
    fprintf(o, "# Written by `qkbench fleet submit` (qkbench %s); `sbatch %s` runs it again.\n",
            f->binary_version, t->script);
    fprintf(o, "#SBATCH --job-name=qkbench-%s\n", t->name);
    qk_fleet_selector sel;
    if (selector && *selector && qk_fleet_parse_selector(selector, &sel, NULL) == 0)
        for (int i = 0; i < sel.n; i++) fprintf(o, "#SBATCH --%s=%s\n", sel.key[i], sel.value[i]);
    if (t != &f->report) {
        /* a benchmark must not share its machine */
        fprintf(o, "#SBATCH --exclusive\n#SBATCH --nodes=1\n");
        if (is_array(t)) fprintf(o, "#SBATCH --array=0-%d\n", t->nodes - 1);
    } else {
        fprintf(o, "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n");
    }
    qkf_log_file(f, t, "", -1, path, sizeof path);
    fprintf(o, "#SBATCH --output=%s\n", path); /* no quotes: sbatch reads these lines itself */
    fprintf(o, "#SBATCH --chdir=%s\n", f->submit_dir);
    fprintf(o, "\nset -u\n");
    fprintf(o, "node=${SLURMD_NODENAME:-$(hostname -s)}\n");
    if (is_array(t)) {
        fprintf(o, "task=${SLURM_ARRAY_TASK_ID:-0}\n");
        fprintf(o, "job=${SLURM_ARRAY_JOB_ID:-none}_$task\n");
        fprintf(o, "out=");
        char d[4096];
        snprintf(d, sizeof d, "%s/%s", f->dir, t->name);
        sq(o, d);
        fprintf(o, "/$task\n");
    } else {
        fprintf(o, "job=${SLURM_JOB_ID:-none}\nout=");
        char d[4096];
        qkf_results_dir(f, t, -1, d, sizeof d);
        sq(o, d);
        fprintf(o, "\n");
    }
    fprintf(o, "qkbench=");
    sq(o, f->binary);
    fprintf(o, "\n");
    fprintf(o,
            "mkdir -p \"$out\" || exit 1\n"
            "# the record `qkbench fleet status` reads: which job wrote this folder, and how it "
            "ended\n"
            "record=\"$out/job.txt\"\n"
            "printf 'job %%s\\nnode %%s\\nstart %%s\\n' \"$job\" \"$node\" \"$(date -u "
            "+%%Y-%%m-%%dT%%H:%%M:%%SZ)\" >\"$record\"\n"
            "finish() {\n"
            "    printf 'exit %%s\\nend %%s\\n' \"$1\" \"$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)\" "
            ">>\"$record\"\n"
            "    exit \"$1\"\n"
            "}\n"
            "# scancel or the time limit: qkbench stops after its repetition and keeps what was\n"
            "# measured; this shell waits for it and records the exit\n"
            "trap : TERM INT\n");
}

char *qkf_target_script(const qk_fleet *f, const qk_fleet_target *t) {
    char *text = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&text, &len);
    if (!o) return NULL;
    char what[1200];
    snprintf(what, sizeof what, "target %s (%s), %d node%s", t->name, t->selector, t->nodes,
             t->nodes == 1 ? "" : "s, one per array task");
    header(o, f, t, what, t->selector);
    fprintf(o, "export QK_FLEET_TARGET=");
    sq(o, t->name);
    fprintf(o, " QK_FLEET_SELECTOR=");
    sq(o, t->selector);
    /* SLURM 22.05 does not tell a job its --constraint: the results' context reads it here */
    qk_fleet_selector sel;
    const char *constraint = "";
    if (qk_fleet_parse_selector(t->selector, &sel, NULL) == 0)
        for (int i = 0; i < sel.n; i++)
            if (!strcmp(sel.key[i], "constraint")) constraint = sel.value[i];
    fprintf(o, " QK_FLEET_CONSTRAINT=");
    sq(o, constraint);
    fprintf(o, "\n");
    fprintf(o, "experiment=");
    sq(o, t->experiment);
    fprintf(o, "\n");
    const char *model = t->model ? t->model : f->model;
    if (strncmp(model, "synthetic:", 10) != 0) {
        fprintf(o, "model=");
        sq(o, model);
        fprintf(o,
                "\nif [ ! -r \"$model\" ]; then\n"
                "    echo \"qkbench fleet: model '$model' is not readable on node $node "
                "(target %s; working directory $(pwd))\" >&2\n"
                "    finish 2\n"
                "fi\n",
                t->name);
    } else {
        fprintf(o, "# %s is generated on the node (deterministic), in a folder of the job's own\n",
                model);
    }
    fprintf(o, "export QK_MODEL_DIR=\"${TMPDIR:-/tmp}/qkbench-models-$job\"\n");
    if (f->build_on_node) {
        fprintf(o, "# a build of qkbench for this node's CPU (-march=native), one per node\n"
                   "build=");
        char b[4096];
        snprintf(b, sizeof b, "%s/build", f->dir);
        sq(o, b);
        fprintf(o, "/\"$node\"\nmkdir -p \"$build\" || finish 1\n"
                   "echo \"qkbench fleet: building qkbench on $node in $build\" >&2\n"
                   "if ! { cmake -S ");
        sq(o, f->source_dir);
        fprintf(o, " -B \"$build\" -DCMAKE_BUILD_TYPE=Release \\\n"
                   "        '-DCMAKE_C_FLAGS_RELEASE=-O3 -DNDEBUG -march=native' "
                   "-DQK_BUILD_TESTS=OFF &&\n"
                   "      cmake --build \"$build\" -j \"${SLURM_CPUS_ON_NODE:-1}\" --target "
                   "qkbench; } >\"$build/build.log\" 2>&1; then\n"
                   "    echo \"qkbench fleet: the build on node $node failed: see "
                   "$build/build.log\" >&2\n"
                   "    finish 1\n"
                   "fi\n"
                   "qkbench=\"$build/qkbench\"\n");
    }
    fprintf(o, "\"$qkbench\" run \"$experiment\" -o \"$out\" --force\n"
               "rc=$?\n"
               "rm -rf \"$QK_MODEL_DIR\"\n"
               "finish $rc\n");
    if (fclose(o) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *qkf_report_script(const qk_fleet *f) {
    char *text = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&text, &len);
    if (!o) return NULL;
    header(o, f, &f->report,
           "the report job (after every target's job: --dependency=afterany, added by sbatch's "
           "command line)",
           f->report_selector);
    fprintf(o, "\"$qkbench\" fleet report ");
    sq(o, f->dir);
    fprintf(o, "\nfinish $?\n");
    if (fclose(o) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
