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
#include "report/style.h"

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

/* A panel per (CPU, model,) ISA: the bars of one ISA side by side, at most RP_PANEL_MAX_BARS of
 * them (more groups than fit make a second panel of that ISA). Time on a scale shared by every
 * panel (log when the times span more than 20x), speedup on another. */
static int ladder_data(const rp_report *R) {
    FILE *d = rp_open_out(R, "ladder.dat");
    if (!d) return -1;
    fprintf(d, "# a block per panel (ladder.vars: panel_title); a row per group: label, then for "
               "each of the panel's variants (its series): median ms, CI low, CI high, speedup vs "
               "parse-per-block, its CI low, CI high (NaN: not measured)\n");
    rp_plotset ps = {0};
    int rows = 0, row = 0;
    double t_min = INFINITY, t_max = 0, s_max = 1;
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_key *k;
        const int n = rp_collect_keys(g, "forward", &k);
        int col = 0;
        for (int a = 0; a < n;) { /* the keys are sorted by ISA first: a run of one ISA */
            int b = a;
            while (b < n && !strcmp(k[b].isa, k[a].isa) && !strcmp(k[b].model, k[a].model)) b++;
            int grp[256], ng = 0, threads = -1, one_thr = 1;
            for (int i = a; i < b && ng < 256; i++) {
                if (!ladder_group(R, g, &k[i])) continue; /* a sweep point, not a ladder */
                grp[ng++] = i;
                one_thr &= threads < 0 || k[i].threads == threads;
                threads = k[i].threads;
            }
            const char *vars[64];
            int nv = 0;
            for (int v = 0; v < R->n_variants && nv < 64; v++) {
                int used = 0;
                for (int i = 0; i < ng && !used; i++)
                    used = rp_find_cfg(g, "forward", R->variants[v], &k[grp[i]], NULL) != NULL;
                if (used) vars[nv++] = R->variants[v];
            }
            const int per = nv && RP_PANEL_MAX_BARS / nv > 0 ? RP_PANEL_MAX_BARS / nv : 1;
            const int chunks = (ng + per - 1) / per;
            for (int ch = 0; ch < chunks; ch++) {
                char title[192], part[32] = "";
                if (chunks > 1) snprintf(part, sizeof part, " (%d of %d)", ch + 1, chunks);
                char thr[32] = "";
                if (one_thr)
                    snprintf(thr, sizeof thr, ", %d thread%s", threads, threads == 1 ? "" : "s");
                snprintf(title, sizeof title, "%s%s%s%s%s%s", rp_panel_prefix(R, g).s,
                         R->show_model ? k[a].model : "", R->show_model ? ": " : "", k[a].isa, thr,
                         part);
                if (col == 3) col = 0; /* three panels to a row, a CPU starts a row */
                if (col == 0) row++;
                rp_panel *p = rp_plotset_panel(&ps, title, row, ++col);
                for (int v = 0; v < nv; v++)
                    rp_plotset_series(&ps, R, vars[v], vars[v], k[a].isa, ps.n_p - 1);
                if (rows) fprintf(d, "\n\n");
                for (int i = ch * per; i < ng && i < (ch + 1) * per; i++) {
                    const rp_key *x = &k[grp[i]];
                    char label[96];
                    snprintf(label, sizeof label, "%d tokens", x->seq);
                    if (!one_thr)
                        snprintf(label + strlen(label), sizeof label - strlen(label), ", %d thr",
                                 x->threads);
                    if (strcmp(x->act, "token"))
                        snprintf(label + strlen(label), sizeof label - strlen(label), ", act %s",
                                 x->act);
                    rp_gp_string(d, label);
                    const rp_cfg *base = rp_find_cfg(g, "forward", "parse-per-block", x, NULL);
                    for (int v = 0; v < nv; v++) {
                        const rp_cfg *y = rp_find_cfg(g, "forward", vars[v], x, NULL);
                        rp_gp_num(d, y ? y->med : NAN);
                        rp_gp_num(d, y ? y->lo : NAN);
                        rp_gp_num(d, y ? y->hi : NAN);
                        const qk_interval sp =
                            y && base ? rp_speedup_of(y, base, NULL) : qk_interval_point(NAN);
                        rp_gp_num(d, sp.value);
                        rp_gp_num(d, sp.lo);
                        rp_gp_num(d, sp.hi);
                        if (!y) continue;
                        t_min = fmin(t_min, isfinite(y->lo) ? y->lo : y->med);
                        t_max = fmax(t_max, isfinite(y->hi) ? y->hi : y->med);
                        s_max = fmax(s_max, isfinite(sp.hi) ? sp.hi : sp.value);
                    }
                    fprintf(d, "\n");
                    rows++;
                    if (p) p->bars += nv;
                }
            }
            a = b;
        }
        free(k);
    }
    fclose(d);
    FILE *v = rows ? rp_open_out(R, "ladder.vars") : NULL;
    if (v) {
        rp_plotset_legend(&ps, R, 0);
        rp_plotset_write(v, &ps);
        const int lg = t_max / t_min > 20;
        fprintf(v, "ladder_log = %d\n", lg);
        fprintf(v, "time_lo = %.6g\ntime_hi = %.6g\nspeedup_hi = %.6g\n",
                lg ? pow(10, floor(log10(t_min))) : 0,
                lg ? pow(10, ceil(log10(t_max) * 4 + 0.2) / 4) : t_max * 1.1, ceil(s_max * 1.1));
    }
    const int failed = ps.failed || (rows && (!v || fclose(v) != 0));
    rp_plotset_free(&ps);
    return failed ? -1 : rows;
}

const rp_section rp_section_ladder = {"ladder", ladder_data, ladder_markdown};
