/* REPORT.md section 1, "The machine and the run": per CPU, its topology, caches, SIMD flags,
 * compiler, counters and load, the SLURM job (node, partition, CPU mask checked against the
 * pool's PUs) when there was one, then one row per results file (experiment, model, repetitions,
 * complete or interrupted, date). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

/* "available", "unavailable: why" or "not recorded" */
static const char *ctx_counters(json_t *ctx, char *buf, size_t size) {
    json_t *c = json_object_get(ctx, "counters");
    if (!json_is_object(c)) return "not recorded";
    if (json_is_true(json_object_get(c, "available")))
        snprintf(buf, size, "available");
    else
        snprintf(buf, size, "unavailable: %s", qk_rj_str(c, "reason"));
    return buf;
}

/* The SLURM job the first file was measured in (context.slurm), when it was. */
static void slurm_rows(FILE *f, json_t *ctx) {
    json_t *s = json_object_get(ctx, "slurm");
    if (!json_is_object(s)) return;
    fprintf(f, "| SLURM job | %s", qk_rj_str(s, "job_id"));
    if (*qk_rj_str(s, "array_job_id"))
        fprintf(f, " (array %s, task %d)", qk_rj_str(s, "array_job_id"),
                qk_rj_int(s, "array_task_id"));
    fprintf(f, " on node %s, partition %s", qk_rj_str(s, "node"), qk_rj_str(s, "partition"));
    if (*qk_rj_str(s, "constraint")) fprintf(f, ", constraint %s", qk_rj_str(s, "constraint"));
    if (*qk_rj_str(s, "cluster")) fprintf(f, ", cluster %s", qk_rj_str(s, "cluster"));
    fprintf(f, " |\n");
    const char *check = qk_rj_str(s, "mask_check");
    fprintf(f, "| CPU mask | %s", qk_rj_str(s, "cpu_mask"));
    if (json_is_integer(json_object_get(s, "cpus_on_node")))
        fprintf(f, " (the job was given %d CPUs)", qk_rj_int(s, "cpus_on_node"));
    fprintf(f, "; the pool pins %s: %s%s%s |\n", qk_rj_str(s, "pool_pus"),
            strcmp(check, "ok") ? "**" : "", check, strcmp(check, "ok") ? "**" : "");
    if (*qk_rj_str(s, "fleet_target"))
        fprintf(f, "| fleet target | %s (%s) |\n", qk_rj_str(s, "fleet_target"),
                qk_rj_str(s, "fleet_selector"));
}

static void machine_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    fprintf(f, "## 1. The machine and the run\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        json_t *ctx = g->ctx, *topo = json_object_get(ctx, "topology");
        rp_cpu_heading(f, R, g);
        fprintf(f, "| | |\n|---|---|\n");
        fprintf(f, "| CPU | %s |\n| host | %s |\n", g->cpu_model, g->host);
        if (json_is_object(topo))
            fprintf(f, "| cores / PUs (usable) | %d / %d (%d / %d, cpuset %s) |\n",
                    qk_rj_int(topo, "cores"), qk_rj_int(topo, "pus"),
                    qk_rj_int(topo, "usable_cores"), qk_rj_int(topo, "usable_pus"),
                    qk_rj_str(topo, "usable_cpuset"));
        else
            fprintf(f, "| CPUs | %d |\n", qk_rj_int(ctx, "num_cpus"));
        json_t *caches = json_object_get(topo, "caches");
        if (!json_is_array(caches)) caches = json_object_get(ctx, "caches");
        if (json_array_size(caches)) {
            fprintf(f, "| caches |");
            size_t i;
            json_t *ca;
            json_array_foreach(caches, i, ca) {
                double sz = qk_rj_num(ca, "size_bytes");
                if (isnan(sz)) sz = qk_rj_num(ca, "size");
                const char *type = qk_rj_str(ca, "type");
                if (!strcmp(type, "Instruction") || !strcmp(type, "instruction")) continue;
                int sharing = qk_rj_int(ca, "cores_sharing");
                if (!sharing) sharing = qk_rj_int(ca, "num_sharing");
                fprintf(f, "%s L%d %.0f KiB (shared by %d)", i ? "," : "", qk_rj_int(ca, "level"),
                        sz / 1024, sharing);
            }
            fprintf(f, " |\n");
        }
        const char *flags = qk_rj_str(ctx, "cpu_flags");
        static const char *const interesting[] = {"avx2",        "fma",      "f16c",
                                                  "avx512f",     "avx512bw", "avx512vl",
                                                  "avx512_vnni", "avx_vnni", "amx_int8"};
        fprintf(f, "| SIMD flags |");
        int any = 0;
        for (size_t i = 0; i < sizeof interesting / sizeof *interesting; i++) {
            const size_t l = strlen(interesting[i]);
            for (const char *p = strstr(flags, interesting[i]); p;
                 p = strstr(p + 1, interesting[i]))
                if ((p == flags || p[-1] == ' ') && (p[l] == ' ' || p[l] == 0)) {
                    fprintf(f, " %s", interesting[i]);
                    any = 1;
                    break;
                }
        }
        fprintf(f, "%s |\n", any ? "" : " none of avx2/avx512/vnni");
        char buf[512];
        fprintf(f, "| compiler | %s (%s%s%s) |\n", qk_rj_str(ctx, "compiler"),
                qk_rj_str(ctx, "build_type"), *qk_rj_str(ctx, "c_flags") ? ", flags" : "",
                qk_rj_str(ctx, "c_flags"));
        if (json_is_true(json_object_get(ctx, "sanitized")))
            fprintf(f, "| sanitized | yes: timings are not representative |\n");
        fprintf(f, "| qkbench | %s, commit %s |\n", qk_rj_str(ctx, "qkbench_version"),
                qk_rj_str(ctx, "git_commit"));
        fprintf(f, "| hardware counters | %s |\n", ctx_counters(ctx, buf, sizeof buf));
        json_t *la = json_object_get(ctx, "load_avg");
        if (json_array_size(la) >= 3)
            fprintf(f, "| load average at start | %.2f %.2f %.2f |\n",
                    json_number_value(json_array_get(la, 0)),
                    json_number_value(json_array_get(la, 1)),
                    json_number_value(json_array_get(la, 2)));
        slurm_rows(f, ctx);
        fprintf(f, "\n| results file | experiment | model | repetitions | warm-ups | quick | "
                   "complete | date |\n|---|---|---|---|---|---|---|---|\n");
        int few = 0;
        for (int d = 0; d < g->n_docs; d++) {
            json_t *doc = R->docs[g->docs[d]], *dc = json_object_get(doc, "context");
            json_t *ex = json_object_get(dc, "experiment"), *model = json_object_get(dc, "model");
            const int reps = qk_rj_int(ex, "repetitions");
            few |= reps > 0 && reps < 8;
            /* a merged file of K sittings: reps is per sitting */
            const int k = qk_rj_int(json_object_get(dc, "sittings"), "count");
            char rs[64];
            if (k > 1)
                snprintf(rs, sizeof rs, "%d per sitting x %d sittings", reps, k);
            else
                snprintf(rs, sizeof rs, "%d", reps);
            fprintf(f, "| %s | %s (%s) | %s | %s | %d | %s | %s | %s |\n",
                    R->o->results[g->docs[d]], qk_rj_str(ex, "name"), qk_rj_str(ex, "file"),
                    qk_rj_str(model, "spec"), rs, qk_rj_int(ex, "warmups"),
                    json_is_true(json_object_get(ex, "quick")) ? "yes" : "no",
                    json_is_true(json_object_get(doc, "complete")) ? "yes" : "**no (interrupted)**",
                    qk_rj_str(dc, "date"));
        }
        fprintf(f, "\n");
        if (few)
            fprintf(f, "Intervals from fewer than 8 repetitions are indicative only: a 95%% "
                       "bootstrap interval of the median covers the true median 75-88%% of the "
                       "time with 3-7 repetitions (experiments/README.md).\n\n");
    }
}

const rp_section rp_section_machine = {NULL, NULL, machine_markdown};
