/* REPORT.md's "Fleet" section, for results of `qkbench fleet` (context.slurm.fleet_target): a row
 * per target and node (its CPU column, SLURM job, partition, constraint, CPU mask and its check),
 * the targets that were not measured and why, and for a target measured on several nodes the
 * node-to-node spread of its medians. Nothing for other results. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The spread of the medians of one target's nodes: over the configurations every one of them
 * measured, (max - min) / min per configuration; its median over the configurations, and the
 * largest with its name. */
static void spread_row(FILE *f, const rp_report *R, const char *target) {
    const rp_cpu *gs[256];
    int n = 0;
    for (int c = 0; c < R->n_cpus && n < 256; c++)
        if (!strcmp(R->cpus[c].target, target)) gs[n++] = &R->cpus[c];
    if (n < 2) return;
    double *sp = malloc(sizeof *sp * (size_t)(gs[0]->n_cfgs + 1));
    if (!sp) return;
    int m = 0;
    double worst = -1;
    const char *worst_name = "";
    for (int i = 0; i < gs[0]->n_cfgs; i++) {
        const rp_cfg *a = &gs[0]->cfgs[i];
        if (!rp_usable(a)) continue;
        double lo = a->med, hi = a->med;
        int everywhere = 1;
        for (int g = 1; g < n && everywhere; g++) {
            const rp_cfg *b = NULL;
            for (int k = 0; k < gs[g]->n_cfgs && !b; k++)
                if (!strcmp(gs[g]->cfgs[k].run_name, a->run_name) && rp_usable(&gs[g]->cfgs[k]))
                    b = &gs[g]->cfgs[k];
            if (!b)
                everywhere = 0;
            else
                lo = fmin(lo, b->med), hi = fmax(hi, b->med);
        }
        if (!everywhere || !(lo > 0)) continue;
        sp[m] = (hi - lo) / lo;
        if (sp[m] > worst) worst = sp[m], worst_name = a->run_name;
        m++;
    }
    int hosts = 0; /* array tasks may share a node when fewer were free */
    for (int g = 0; g < n; g++) {
        int seen = 0;
        for (int h = 0; h < g && !seen; h++) seen = !strcmp(gs[h]->host, gs[g]->host);
        hosts += !seen;
    }
    fprintf(f, "| %s | %d (%d node%s) |", target, n, hosts, hosts == 1 ? "" : "s");
    if (m) {
        qsort(sp, (size_t)m, sizeof *sp, cmp_double);
        const double med = m % 2 ? sp[m / 2] : 0.5 * (sp[m / 2 - 1] + sp[m / 2]);
        fprintf(f, " %d | %s | %s (`%s`) |\n", m, rp_fmt_pct(med).s, rp_fmt_pct(worst).s,
                worst_name);
    } else {
        fprintf(f, " 0 | n/a | n/a |\n");
    }
    free(sp);
}

static void fleet_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    const size_t n_absent = json_array_size(R->not_measured);
    int any = n_absent > 0;
    for (int c = 0; c < R->n_cpus; c++) any |= *R->cpus[c].target != 0;
    if (!any) return;
    fprintf(f, "## Fleet\n\nThe same experiment on each target, one SLURM job per node holding it "
               "alone (`qkbench fleet submit`).\n\n");
    fprintf(f, "| target | CPU | node | SLURM job | partition | constraint | CPU mask: check |\n"
               "|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        if (!*g->target) continue;
        json_t *s = json_object_get(g->ctx, "slurm");
        const char *cons = qk_rj_str(s, "constraint"), *check = qk_rj_str(s, "mask_check");
        char job[96]; /* an array task as squeue names it: ARRAYJOB_TASK */
        if (*qk_rj_str(s, "array_job_id"))
            snprintf(job, sizeof job, "%s_%d", qk_rj_str(s, "array_job_id"),
                     qk_rj_int(s, "array_task_id"));
        else
            snprintf(job, sizeof job, "%s", qk_rj_str(s, "job_id"));
        fprintf(f, "| %s | %s: %s | %s | %s | %s | %s | %s: %s%s%s |\n", rp_target_name(g).s,
                g->label, g->cpu_model, qk_rj_str(s, "node"), job, qk_rj_str(s, "partition"),
                *cons ? cons : "-", qk_rj_str(s, "cpu_mask"), strcmp(check, "ok") ? "**" : "",
                check, strcmp(check, "ok") ? "**" : "");
    }
    fprintf(f, "\n");
    if (n_absent) {
        fprintf(f, "Not measured (no column in this report):\n\n");
        for (size_t i = 0; i < n_absent; i++)
            fprintf(f, "- %s\n", json_string_value(json_array_get(R->not_measured, i)));
        fprintf(f, "\n");
    }
    /* node-to-node spread: only targets measured on several nodes */
    int several = 0;
    for (int c = 0; c < R->n_cpus && !several; c++)
        for (int d = c + 1; d < R->n_cpus && !several; d++)
            several = *R->cpus[c].target && !strcmp(R->cpus[c].target, R->cpus[d].target);
    if (!several) return;
    fprintf(f, "Node-to-node spread of the medians, for targets measured on several nodes: per "
               "configuration every node measured, (slowest - fastest) / fastest.\n\n"
               "| target | tasks | configurations | median spread | largest spread |\n"
               "|---|---|---|---|---|\n");
    for (int c = 0; c < R->n_cpus; c++) {
        int first = *R->cpus[c].target != 0;
        for (int d = 0; d < c && first; d++) first = strcmp(R->cpus[d].target, R->cpus[c].target);
        if (first) spread_row(f, R, R->cpus[c].target);
    }
    fprintf(f, "\n");
}

const rp_section rp_section_fleet = {NULL, NULL, fleet_markdown};
