/* REPORT.md section 6, "Per-operation breakdown": per forward configuration, each profiled
 * variant's milliseconds in every operation of the pass and their shares. Its plot (breakdown.gp)
 * stacks them per variant. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

/* The forward pass's operations in the order of the pass (profile_ms keys). */
static const char *const op_order[] = {
    "embed",    "norm",      "qk_norm",     "quantize",  "matmul_q",    "matmul_k",
    "matmul_v", "matmul_o",  "matmul_gate", "matmul_up", "matmul_down", "matmul_dense",
    "rope",     "attention", "gelu",        "residual",  "pool"};
#define N_OPS ((int)(sizeof op_order / sizeof *op_order))

/* The operations some usable profile has: the table's rows and the plot's columns. */
static int ops_present(const rp_report *R, int *present) {
    int n = 0;
    for (int o = 0; o < N_OPS; o++) present[o] = 0;
    for (int c = 0; c < R->n_cpus; c++)
        for (int i = 0; i < R->cpus[c].n_cfgs; i++) {
            json_t *p = rp_profile_of(rp_usable(&R->cpus[c].cfgs[i]) ? &R->cpus[c].cfgs[i] : NULL);
            for (int o = 0; p && o < N_OPS; o++)
                if (json_is_number(json_object_get(p, op_order[o]))) present[o] = 1;
        }
    for (int o = 0; o < N_OPS; o++) n += present[o];
    return n;
}

static void breakdown_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    fprintf(f, "## 6. Per-operation breakdown\n\n");
    fprintf(f, "Milliseconds per forward pass in each operation (mean of the profiled passes) and "
               "its share of the profiled total.\n\n");
    int present[N_OPS];
    ops_present(R, present);
    int any = 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_cpu_heading(f, R, g);
        rp_key *k;
        const int n = rp_collect_keys(g, "forward", &k);
        int here = 0;
        for (int i = 0; i < n; i++) {
            const rp_cfg *cols[64];
            int nc = 0;
            for (int vi = 0; vi < R->n_variants && nc < 63; vi++) {
                const rp_cfg *x = rp_find_cfg(g, "forward", R->variants[vi], &k[i], NULL);
                if (rp_profile_of(x)) cols[nc++] = x;
            }
            const rp_cfg *fp = rp_find_fp32(g, &k[i]);
            if (!nc) continue;
            if (rp_profile_of(fp)) cols[nc++] = fp;
            here = any = 1;
            fprintf(f, "#### %s\n\n| operation |", rp_fmt_key(R, &k[i]).s);
            for (int j = 0; j < nc; j++)
                fprintf(f, " %s |", rp_is_int8(cols[j]) ? cols[j]->variant : "fp32 path");
            fprintf(f, "\n|---|");
            for (int j = 0; j < nc; j++) fprintf(f, "---|");
            fprintf(f, "\n");
            for (int o = 0; o < N_OPS; o++) {
                if (!present[o]) continue;
                fprintf(f, "| %s |", op_order[o]);
                for (int j = 0; j < nc; j++) {
                    json_t *p = rp_profile_of(cols[j]);
                    const double v = qk_rj_num(p, op_order[o]), tot = rp_prof_sum(p, 0);
                    if (isnan(v))
                        fprintf(f, " — |");
                    else
                        fprintf(f, " %s (%.1f%%) |", rp_fmt_ms(v).s, 100 * v / tot);
                }
                fprintf(f, "\n");
            }
            fprintf(f, "| **all matmuls** |");
            for (int j = 0; j < nc; j++) {
                json_t *p = rp_profile_of(cols[j]);
                fprintf(f, " **%s (%.1f%%)** |", rp_fmt_ms(rp_prof_sum(p, 1)).s,
                        100 * rp_prof_sum(p, 1) / rp_prof_sum(p, 0));
            }
            fprintf(f, "\n| **profiled total** |");
            for (int j = 0; j < nc; j++)
                fprintf(f, " **%s** |", rp_fmt_ms(rp_prof_sum(rp_profile_of(cols[j]), 0)).s);
            fprintf(f, "\n| timed median |");
            for (int j = 0; j < nc; j++) fprintf(f, " %s |", rp_fmt_ms(cols[j]->med).s);
            fprintf(f, "\n\n");
        }
        free(k);
        if (!here)
            rp_not_measured(f, "no per-operation profile",
                            "a forward experiment with `profile = true` in `[measure]`");
    }
    if (any && plot && plot->ok)
        fprintf(f, "![Per-operation time per variant](breakdown.png)\n\n");
    else if (any && plot)
        fprintf(f, "*Plot breakdown.png missing: %s.*\n\n", plot->why);
}

/* ---- plot data: breakdown.dat, breakdown.vars */

static int breakdown_data(const rp_report *R) {
    int present[N_OPS], rows = 0;
    const int n_ops = ops_present(R, present);
    if (n_ops == 0) return 0;
    FILE *d = rp_open_out(R, "breakdown.dat");
    if (!d) return -1;
    fprintf(d, "# label, then ms per operation in the order of breakdown.vars, then the "
               "profiled total\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_key *k;
        const int n = rp_collect_keys(g, "forward", &k);
        for (int i = 0; i < n; i++) {
            const rp_cfg *cols[65];
            int nc = 0;
            for (int vi = 0; vi < R->n_variants && nc < 64; vi++) {
                const rp_cfg *x = rp_find_cfg(g, "forward", R->variants[vi], &k[i], NULL);
                if (rp_profile_of(x)) cols[nc++] = x;
            }
            const rp_cfg *fp = rp_find_fp32(g, &k[i]);
            if (nc && rp_profile_of(fp)) cols[nc++] = fp;
            for (int j = 0; j < nc; j++) {
                char label[160];
                snprintf(label, sizeof label, "%s%s %s/%dt/%dtok", rp_plot_prefix(R, g).s,
                         rp_is_int8(cols[j]) ? rp_short_variant(cols[j]->variant) : "fp32",
                         k[i].isa, k[i].threads, k[i].seq);
                rp_gp_string(d, label);
                json_t *p = rp_profile_of(cols[j]);
                for (int o = 0; o < N_OPS; o++)
                    if (present[o]) {
                        const double v = qk_rj_num(p, op_order[o]);
                        rp_gp_num(d, isnan(v) ? 0 : v);
                    }
                rp_gp_num(d, rp_prof_sum(p, 0));
                fprintf(d, "\n");
                rows++;
            }
        }
        free(k);
    }
    fclose(d);
    FILE *v = rp_open_out(R, "breakdown.vars");
    if (!v) return -1;
    const char *names[N_OPS];
    int m = 0;
    for (int o = 0; o < N_OPS; o++)
        if (present[o]) names[m++] = op_order[o];
    rp_gp_titles(v, "n_ops", "op_title", names, m);
    fclose(v);
    return rows;
}

const rp_section rp_section_breakdown = {"breakdown", breakdown_data, breakdown_markdown};
