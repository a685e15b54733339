/* REPORT.md section 2, "The ladder": parse-per-block -> precached-scales -> zero-copy, plus
 * alloc-copy. Per CPU and forward configuration with the baseline, each variant's median, paired
 * speedup and share of the total gain beside the story's figure; per matmul-only configuration,
 * every shape and the per-layer mix. Its plot (ladder.gp) draws the forward groups as bars. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

/* The forward pass at one key: every variant against parse-per-block, the FP32 path below. */
static void ladder_forward_table(FILE *f, const rp_report *R, const rp_cpu *g, const rp_key *k) {
    const rp_cfg *b = rp_find_cfg(g, "forward", "parse-per-block", k, NULL);
    fprintf(f, "#### Forward pass: %s\n\n", rp_fmt_key(R, k).s);
    if (!b) {
        fprintf(f, "*No parse-per-block baseline at this configuration: times only.*\n\n");
    }
    const rp_cfg *pre = rp_find_cfg(g, "forward", "precached-scales", k, NULL);
    const rp_cfg *zero = rp_find_cfg(g, "forward", "zero-copy", k, NULL);
    qk_interval share[2] = {qk_interval_point(NAN), qk_interval_point(NAN)};
    int have_shares = 0;
    if (b && pre && zero) {
        qk_interval t[3] = {qk_interval_point(1.0), rp_ratio_of(pre, b), rp_ratio_of(zero, b)};
        have_shares = qk_amdahl_step_shares(t, 3, share) == 0;
    }
    fprintf(f, "| step | variant | median ms [95%% CI] | speedup vs parse-per-block [95%% CI] | "
               "share of the total gain [95%% CI] | allocations / pass | the story |\n"
               "|---|---|---|---|---|---|---|\n");
    for (int vi = 0; vi < R->n_variants; vi++) {
        const char *v = R->variants[vi];
        const rp_cfg *c = rp_find_cfg(g, "forward", v, k, NULL);
        if (!c) continue;
        const char *step = !strcmp(v, "parse-per-block")    ? "baseline"
                           : !strcmp(v, "precached-scales") ? "1: scales converted at load"
                           : !strcmp(v, "zero-copy")        ? "2: int8 read in place"
                           : !strcmp(v, "alloc-copy")       ? "regression: malloc per block"
                                                            : "beyond the seed";
        int paired = 0;
        rp_str sp = {"n/a"};
        if (b) {
            qk_interval s = rp_speedup_of(c, b, &paired);
            snprintf(sp.s, sizeof sp.s, "%s%s", rp_fmt_xi(s).s,
                     c != b && !paired ? " (unpaired)" : "");
            if (c != b && s.hi < 1)
                snprintf(sp.s + strlen(sp.s), sizeof sp.s - strlen(sp.s), ": %.2fx slower",
                         1.0 / s.value);
        }
        rp_str sh = {"—"};
        if (have_shares && c == pre) sh = rp_fmt_pct_i(share[0]);
        if (have_shares && c == zero) sh = rp_fmt_pct_i(share[1]);
        const char *story = !strcmp(v, "parse-per-block")    ? "42.44 ms"
                            : !strcmp(v, "precached-scales") ? "not measured"
                            : !strcmp(v, "zero-copy")        ? "30.19 ms (1.41x faster)"
                            : !strcmp(v, "alloc-copy")       ? "66.50 ms (1.57x slower)"
                                                             : "—";
        const double allocs = qk_rj_num(c->agg, "allocations_per_pass");
        char al[32] = "n/a";
        if (!isnan(allocs)) snprintf(al, sizeof al, "%.0f", allocs);
        fprintf(f, "| %s | %s | %s%s | %s | %s | %s | %s |\n", step, v,
                rp_fmt_ms_ci(c->med, c->lo, c->hi).s, c->noisy ? " (noisy)" : "", sp.s, sh.s, al,
                story);
    }
    const rp_cfg *fp = rp_find_fp32(g, k);
    if (fp) {
        rp_str sp = {"n/a"};
        if (b) sp = rp_fmt_xi(rp_speedup_of(fp, b, NULL));
        fprintf(f, "| reference | fp32 path (no kernel) | %s | %s | — | — | — |\n",
                rp_fmt_ms_ci(fp->med, fp->lo, fp->hi).s, sp.s);
    }
    fprintf(f, "\n");
}

/* The matmul-only runs at one key: a column per shape, then the per-layer mix. */
static void ladder_matmul_table(FILE *f, const rp_report *R, const rp_cpu *g, const rp_key *k) {
    const rp_cfg *sh[32];
    const int n = rp_mm_shapes(g, k, sh, 32);
    fprintf(f, "#### Matmul only: %s\n\n", rp_fmt_key(R, k).s);
    if (n == 0) {
        fprintf(f, "*No parse-per-block baseline at this configuration.*\n\n");
        return;
    }
    fprintf(f, "| variant |");
    for (int i = 0; i < n; i++)
        fprintf(f, " %s %dx%d (x%d) ms |", sh[i]->op, sh[i]->rows, sh[i]->cols,
                rp_op_weight(g, k, sh[i]));
    fprintf(f, " per-layer mix ms | speedup [95%% CI] | share of the gain |\n|---|");
    for (int i = 0; i < n + 3; i++) fprintf(f, "---|");
    fprintf(f, "\n");
    qk_interval shr[2] = {qk_interval_point(NAN), qk_interval_point(NAN)};
    int have_shares = 0;
    {
        double tb, tp, tz;
        qk_interval s;
        if (rp_mix_speedup(g, k, "parse-per-block", &s, &tb, NULL, NULL, NULL) == 0 &&
            rp_mix_speedup(g, k, "precached-scales", &s, NULL, &tp, NULL, NULL) == 0 &&
            rp_mix_speedup(g, k, "zero-copy", &s, NULL, &tz, NULL, NULL) == 0) {
            qk_interval t[3] = {qk_interval_point(tb), qk_interval_point(tp),
                                qk_interval_point(tz)};
            have_shares = qk_amdahl_step_shares(t, 3, shr) == 0;
        }
    }
    for (int vi = 0; vi < R->n_variants; vi++) {
        const char *v = R->variants[vi];
        int any = 0;
        for (int i = 0; i < n; i++) any |= rp_find_cfg(g, "matmul", v, k, sh[i]->op) != NULL;
        if (!any) continue;
        fprintf(f, "| %s |", v);
        for (int i = 0; i < n; i++) {
            const rp_cfg *c = rp_find_cfg(g, "matmul", v, k, sh[i]->op);
            if (c)
                fprintf(f, " %s |", rp_fmt_ms_ci(c->med, c->lo, c->hi).s);
            else
                fprintf(f, " n/a |");
        }
        qk_interval s;
        double tv;
        int paired;
        if (rp_mix_speedup(g, k, v, &s, NULL, &tv, NULL, &paired) == 0) {
            rp_str share = {"—"};
            if (have_shares && !strcmp(v, "precached-scales")) share = rp_fmt_pct_i(shr[0]);
            if (have_shares && !strcmp(v, "zero-copy")) share = rp_fmt_pct_i(shr[1]);
            fprintf(f, " %s | %s%s | %s |\n", rp_fmt_ms(tv).s, rp_fmt_xi(s).s,
                    paired || !strcmp(v, "parse-per-block") ? "" : " (unpaired)", share.s);
        } else {
            fprintf(f, " n/a | n/a | — |\n");
        }
    }
    fprintf(f, "\nThe per-layer mix weighs each shape by how often a layer runs it (attn_k also "
               "stands for attn_v, ffn_gate for ffn_up, a square attn_q for attn_output); "
               "shares use medians (no interval).\n\n");
}

static void ladder_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    fprintf(f, "## 2. The ladder: parse-per-block -> precached-scales -> zero-copy, plus "
               "alloc-copy\n\n");
    fprintf(f, "The seed story (one run of 10 iterations, no spread): baseline **42.44 ms**, the "
               "allocating regression **66.50 ms** (1.57x slower), the final zero-copy version "
               "**30.19 ms** (1.41x faster). Below, each step measured with repetitions, medians, "
               "95%% intervals and paired speedups (ratio of the two variants' times in the same "
               "round, median over rounds). A step's share is its part of the time saved from "
               "parse-per-block to zero-copy.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_cpu_heading(f, R, g);
        rp_key *k;
        int n = rp_collect_keys(g, "forward", &k), tables = 0, points = 0;
        if (n == 0)
            rp_not_measured(f, "no forward-pass runs", "`qkbench run` with `run = forward`");
        for (int i = 0; i < n; i++) {
            if (!rp_find_cfg(g, "forward", "parse-per-block", &k[i], NULL)) {
                points++; /* a sweep point (thread, sequence-length sections) or a group of the
                             kernels beyond the story (their own section) */
                continue;
            }
            ladder_forward_table(f, R, g, &k[i]);
            tables++;
        }
        if (n && !tables)
            rp_not_measured(f, "no forward configuration with two or more kernel variants",
                            "a forward experiment with the four seed kernels (e.g. "
                            "experiments/seed-reproduction.ini)");
        if (points)
            fprintf(f,
                    "%d more forward configuration%s without the parse-per-block baseline "
                    "appear in the thread-scaling, sequence-length and \"Kernels beyond the "
                    "story\" sections.\n\n",
                    points, points == 1 ? "" : "s");
        free(k);
        n = rp_collect_keys(g, "matmul", &k);
        if (n == 0)
            rp_not_measured(f, "no matmul-only runs",
                            "an experiment with `run = matmul` and the four seed kernels");
        for (int i = 0; i < n; i++) ladder_matmul_table(f, R, g, &k[i]);
        free(k);
    }
    if (plot && plot->ok)
        fprintf(f, "![Forward pass per variant and ISA](ladder.png)\n\n");
    else if (plot)
        fprintf(f, "*Plot ladder.png missing: %s.*\n\n", plot->why);
}

/* ---- plot data: ladder.dat, ladder.vars */

/* The forward keys drawn as ladder groups: the seed's baseline (parse-per-block) and at least one
 * other variant. Groups without it (e.g. experiments/performance.ini's, whose baseline is
 * zero-copy) are in "Kernels beyond the story". */
static int ladder_group(const rp_report *R, const rp_cpu *g, const rp_key *k) {
    if (!rp_find_cfg(g, "forward", "parse-per-block", k, NULL)) return 0;
    int present = 0;
    for (int v = 0; v < R->n_variants; v++)
        present += rp_find_cfg(g, "forward", R->variants[v], k, NULL) != NULL;
    return present >= 2;
}

static int ladder_data(const rp_report *R) {
    /* the variants that have a bar somewhere (an all-NaN column stops gnuplot) */
    const char *vars[64];
    int nv = 0;
    for (int v = 0; v < R->n_variants && nv < 64; v++) {
        int used = 0;
        for (int c = 0; c < R->n_cpus && !used; c++) {
            rp_key *k;
            const int n = rp_collect_keys(&R->cpus[c], "forward", &k);
            for (int i = 0; i < n && !used; i++)
                used = ladder_group(R, &R->cpus[c], &k[i]) &&
                       rp_find_cfg(&R->cpus[c], "forward", R->variants[v], &k[i], NULL);
            free(k);
        }
        if (used) vars[nv++] = R->variants[v];
    }
    if (nv == 0) return 0;
    int rows = 0;
    double lo_min = INFINITY, hi_max = 0;
    FILE *d = rp_open_out(R, "ladder.dat");
    if (!d) return -1;
    fprintf(d, "# label, then for each variant: median ms, CI low, CI high, speedup vs "
               "parse-per-block, its CI low, CI high (NaN: not measured)\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_key *k;
        const int n = rp_collect_keys(g, "forward", &k);
        for (int i = 0; i < n; i++) {
            if (!ladder_group(R, g, &k[i])) continue; /* a sweep point, not a ladder */
            char label[200];
            snprintf(label, sizeof label, "%s%s%s%s, %d tok, %d thr%s", rp_plot_prefix(R, g).s,
                     R->show_model ? k[i].model : "", R->show_model ? " " : "", k[i].isa, k[i].seq,
                     k[i].threads, strcmp(k[i].act, "token") ? ", act block" : "");
            rp_gp_string(d, label);
            const rp_cfg *b = rp_find_cfg(g, "forward", "parse-per-block", &k[i], NULL);
            for (int v = 0; v < nv; v++) {
                const rp_cfg *x = rp_find_cfg(g, "forward", vars[v], &k[i], NULL);
                rp_gp_num(d, x ? x->med : NAN);
                rp_gp_num(d, x ? x->lo : NAN);
                rp_gp_num(d, x ? x->hi : NAN);
                const qk_interval sp = x && b ? rp_speedup_of(x, b, NULL) : qk_interval_point(NAN);
                rp_gp_num(d, sp.value);
                rp_gp_num(d, sp.lo);
                rp_gp_num(d, sp.hi);
                if (x) lo_min = fmin(lo_min, x->med), hi_max = fmax(hi_max, x->med);
            }
            fprintf(d, "\n");
            rows++;
        }
        free(k);
    }
    fclose(d);
    FILE *v = rp_open_out(R, "ladder.vars");
    if (!v) return -1;
    rp_gp_titles(v, "n_variants", "variant_title", vars, nv);
    const char *colours[64];
    for (int i = 0; i < nv; i++) colours[i] = rp_variant_colour(R, vars[i]);
    rp_gp_strings(v, "variant_colour", colours, nv);
    fprintf(v, "ladder_log = %d\nladder_rows = %d\n", rows && hi_max / lo_min > 20 ? 1 : 0, rows);
    fclose(v);
    return rows;
}

const rp_section rp_section_ladder = {"ladder", ladder_data, ladder_markdown};
