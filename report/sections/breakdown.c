/* REPORT.md section 6, "Per-operation breakdown": per forward configuration, each profiled
 * variant's milliseconds in every operation of the pass and their shares. Its plot (breakdown.gp)
 * stacks them per variant, in a few groups of operations, a panel per ISA and tokens per pass. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"
#include "report/style.h"

/* The forward pass's operations in the order of the pass (profile_ms keys). */
static const char *const op_order[] = {
    "embed",    "norm",      "qk_norm",     "quantize",  "matmul_q",    "matmul_k",
    "matmul_v", "matmul_o",  "matmul_gate", "matmul_up", "matmul_down", "matmul_dense",
    "rope",     "attention", "gelu",        "residual",  "pool"};
#define N_OPS ((int)(sizeof op_order / sizeof *op_order))

/* The plot stacks the operations in a few groups (the table keeps every one): seventeen colours
 * in a bar cannot be told apart at a glance. The groups, and each profile key's. */
static const char *const group_order[][2] = {
    {"attn-mm", "matmuls: attention projections (q, k, v, o)"},
    {"ffn-mm", "matmuls: feed-forward (gate, up, down)"},
    {"dense-mm", "matmul: dense head"},
    {"quantize", "activation quantisation (fused: with the norm or GELU)"},
    {"attention", "attention (scores, softmax, values)"},
    {"norms", "norms (RMSNorm, q/k norm)"},
    {"other", "the rest (embedding, RoPE, GELU, residuals, pooling)"}};
static const char *group_for(const char *op) {
    static const char *const attn[] = {"matmul_q", "matmul_k", "matmul_v", "matmul_o"};
    static const char *const ffn[] = {"matmul_gate", "matmul_up", "matmul_down"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(op, attn[i])) return "attn-mm";
    for (int i = 0; i < 3; i++)
        if (!strcmp(op, ffn[i])) return "ffn-mm";
    if (!strncmp(op, "matmul_", 7)) return "dense-mm";
    /* the fused kernels' "norm+quantize" and "gelu+quantize" */
    if (strstr(op, "quantize")) return "quantize";
    if (!strcmp(op, "attention")) return "attention";
    if (!strcmp(op, "norm") || !strcmp(op, "qk_norm")) return "norms";
    return "other";
}
#define N_GROUPS ((int)(sizeof group_order / sizeof *group_order))

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

#define MAX_BARS 512
#define MAX_AXIS 32

typedef struct {
    const rp_cfg *c; /* a profiled configuration */
    const rp_key *k; /* where it was measured (the FP32 path: the key it is shown beside) */
} bar;

static int bar_cmp(const rp_report *R, const bar *a, const bar *b) {
    const int ra = rp_is_int8(a->c) ? rp_variant_rank(R, a->c->variant) : 2000;
    const int rb = rp_is_int8(b->c) ? rp_variant_rank(R, b->c->variant) : 2000;
    if (ra != rb) return ra - rb;
    const int ta = !strcmp(a->k->act, "token"), tb = !strcmp(b->k->act, "token");
    if (ta != tb) return tb - ta;
    return a->k->threads - b->k->threads;
}

static int index_of(int *vals, int *n, int v) {
    for (int i = 0; i < *n; i++)
        if (vals[i] == v) return i;
    if (*n < MAX_AXIS) vals[(*n)++] = v;
    return *n - 1;
}
static int index_of_str(const char **vals, int *n, const char *v) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(vals[i], v)) return i;
    if (*n < MAX_AXIS) vals[(*n)++] = v;
    return *n - 1;
}

/* A panel per (CPU,) tokens per pass and ISA: a grid whose rows are token counts and whose
 * columns are ISAs, each panel on its own scale (a scalar pass takes seconds, an AVX one tens of
 * milliseconds), at most RP_PANEL_MAX_BARS bars (more make a second panel beside it). A bar is one
 * configuration: a stacked segment per operation, the matmuls' share of the pass above it. */
static int breakdown_data(const rp_report *R) {
    int present[N_OPS];
    const int n_ops = ops_present(R, present);
    if (n_ops == 0) return 0;
    FILE *d = rp_open_out(R, "breakdown.dat");
    if (!d) return -1;
    fprintf(d, "# a block per panel (breakdown.vars: panel_title); a row per bar: label, ms per "
               "group of operations (the panel's series, in order), the profiled total, the "
               "matmuls' share (%%)\n");
    int gpresent[N_GROUPS] = {0};
    for (int c = 0; c < R->n_cpus; c++)
        for (int i = 0; i < R->cpus[c].n_cfgs; i++) {
            const rp_cfg *x = &R->cpus[c].cfgs[i];
            const char *op;
            json_t *t;
            json_object_foreach(rp_profile_of(rp_usable(x) ? x : NULL), op, t) {
                for (int gi = 0; gi < N_GROUPS; gi++)
                    gpresent[gi] |= json_is_number(t) && !strcmp(group_for(op), group_order[gi][0]);
            }
        }
    rp_plotset ps = {0};
    int rows = 0, row0 = 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_key *k;
        const int n = rp_collect_keys(g, "forward", &k);
        static bar bars[MAX_BARS];
        int nb = 0;
        for (int i = 0; i < n; i++) {
            int here = 0;
            for (int vi = 0; vi < R->n_variants && nb < MAX_BARS; vi++) {
                const rp_cfg *x = rp_find_cfg(g, "forward", R->variants[vi], &k[i], NULL);
                if (rp_profile_of(x)) bars[nb++] = (bar){x, &k[i]}, here = 1;
            }
            const rp_cfg *fp = rp_find_fp32(g, &k[i]);
            int dup = 0; /* the FP32 path once per panel */
            for (int b = 0; b < nb; b++)
                dup |= bars[b].c == fp && bars[b].k->seq == k[i].seq &&
                       !strcmp(bars[b].k->isa, k[i].isa);
            if (here && !dup && rp_profile_of(fp) && nb < MAX_BARS) bars[nb++] = (bar){fp, &k[i]};
        }
        /* the grid: rows = token counts, columns = ISAs (each as wide as its most panels) */
        int seqs[MAX_AXIS], ns = 0, width[MAX_AXIS] = {0};
        const char *isas[MAX_AXIS];
        int ni = 0;
        for (int b = 0; b < nb; b++) {
            index_of(seqs, &ns, bars[b].k->seq);
            index_of_str(isas, &ni, bars[b].k->isa);
        }
        for (int a = 1; a < ns; a++)
            for (int b = a; b > 0 && seqs[b - 1] > seqs[b]; b--) {
                const int t = seqs[b];
                seqs[b] = seqs[b - 1], seqs[b - 1] = t;
            }
        for (int a = 1; a < ni; a++)
            for (int b = a; b > 0 && rp_isa_rank(isas[b - 1]) > rp_isa_rank(isas[b]); b--) {
                const char *t = isas[b];
                isas[b] = isas[b - 1], isas[b - 1] = t;
            }
        for (int pass = 0; pass < 2; pass++) {
            int col0 = 0;
            for (int ii = 0; ii < ni; ii++) {
                for (int si = 0; si < ns; si++) {
                    int sel[MAX_BARS], m = 0, thr = -1, one_thr = 1;
                    for (int b = 0; b < nb; b++)
                        if (bars[b].k->seq == seqs[si] && !strcmp(bars[b].k->isa, isas[ii])) {
                            sel[m++] = b;
                            one_thr &= thr < 0 || bars[b].k->threads == thr;
                            thr = bars[b].k->threads;
                        }
                    /* the report's variant order, each variant's per-token scales first */
                    for (int a = 1; a < m; a++)
                        for (int b = a; b > 0 && bar_cmp(R, &bars[sel[b - 1]], &bars[sel[b]]) > 0;
                             b--) {
                            const int t = sel[b];
                            sel[b] = sel[b - 1], sel[b - 1] = t;
                        }
                    const int chunks = (m + RP_PANEL_MAX_BARS - 1) / RP_PANEL_MAX_BARS;
                    if (pass == 0) {
                        if (chunks > width[ii]) width[ii] = chunks;
                        continue;
                    }
                    for (int ch = 0; ch < chunks; ch++) {
                        char title[192], part[32] = "", th[32] = "";
                        if (chunks > 1) snprintf(part, sizeof part, " (%d of %d)", ch + 1, chunks);
                        if (one_thr)
                            snprintf(th, sizeof th, ", %d thread%s", thr, thr == 1 ? "" : "s");
                        snprintf(title, sizeof title, "%s%s, %d token%s%s%s",
                                 rp_panel_prefix(R, g).s, isas[ii], seqs[si],
                                 seqs[si] == 1 ? "" : "s", th, part);
                        rp_panel *p = rp_plotset_panel(&ps, title, row0 + si + 1, col0 + ch + 1);
                        if (rows) fprintf(d, "\n\n");
                        for (int j = ch * RP_PANEL_MAX_BARS;
                             j < m && j < (ch + 1) * RP_PANEL_MAX_BARS; j++) {
                            const bar *x = &bars[sel[j]];
                            const int int8 = rp_is_int8(x->c);
                            /* the activation scales only where they tell two bars apart */
                            int twin = 0;
                            for (int t = ch * RP_PANEL_MAX_BARS;
                                 t < m && t < (ch + 1) * RP_PANEL_MAX_BARS; t++)
                                twin |= t != j && !strcmp(bars[sel[t]].c->variant, x->c->variant) &&
                                        strcmp(bars[sel[t]].k->act, x->k->act);
                            char label[96];
                            snprintf(label, sizeof label, "%s%s%s",
                                     int8 ? rp_short_variant(x->c->variant) : "fp32",
                                     twin ? "\nact " : "", twin ? x->k->act : "");
                            if (!one_thr)
                                snprintf(label + strlen(label), sizeof label - strlen(label),
                                         "\n%d thr", x->k->threads);
                            rp_gp_string(d, label);
                            json_t *pr = rp_profile_of(x->c);
                            for (int gi = 0; gi < N_GROUPS; gi++) {
                                if (!gpresent[gi]) continue;
                                double sum = 0;
                                const char *op;
                                json_t *t;
                                json_object_foreach(pr, op, t) {
                                    if (json_is_number(t) &&
                                        !strcmp(group_for(op), group_order[gi][0]))
                                        sum += json_number_value(t);
                                }
                                rp_gp_num(d, sum);
                            }
                            const double tot = rp_prof_sum(pr, 0);
                            rp_gp_num(d, tot);
                            rp_gp_num(d, 100 * rp_prof_sum(pr, 1) / tot);
                            fprintf(d, "\n");
                            rows++;
                            if (p) p->bars++;
                        }
                        /* the panel's series are the groups its bars stack */
                        for (int gi = 0; gi < N_GROUPS; gi++) {
                            if (!gpresent[gi]) continue;
                            rp_series *sr = rp_plotset_series(&ps, R, group_order[gi][1], "",
                                                              isas[ii], ps.n_p - 1);
                            if (sr) {
                                snprintf(sr->look.colour, sizeof sr->look.colour, "%s",
                                         rp_style_op_colour(group_order[gi][0]));
                                sr->look.dt = 1, sr->look.pt = -1;
                            }
                        }
                    }
                }
                col0 += width[ii];
            }
        }
        row0 += ns;
        free(k);
    }
    fclose(d);
    FILE *v = rp_open_out(R, "breakdown.vars");
    if (!v) {
        rp_plotset_free(&ps);
        return -1;
    }
    /* the legend names the groups, a bar's colours, the first of the stack at the bottom */
    for (int gi = N_GROUPS - 1; gi >= 0; gi--)
        if (gpresent[gi])
            rp_plotset_legend_add(&ps, group_order[gi][1], rp_style_op_colour(group_order[gi][0]),
                                  RP_LEGEND_BOX, 1, -1, 1);
    rp_plotset_write(v, &ps);
    int ng = 0;
    for (int gi = 0; gi < N_GROUPS; gi++) ng += gpresent[gi];
    fprintf(v, "n_groups = %d\n", ng);
    const int failed = fclose(v) != 0 || ps.failed;
    rp_plotset_free(&ps);
    return failed ? -1 : rows;
}

const rp_section rp_section_breakdown = {"breakdown", breakdown_data, breakdown_markdown};
