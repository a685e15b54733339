/* REPORT.md section 3, "Amdahl, measured": per forward configuration with a profiled
 * parse-per-block baseline, each variant's p, removed share, local speedup s, predicted speedup,
 * bound and achieved speedup (rp_amdahl_for), then a verdict line each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

static void amdahl_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    fprintf(f, "## 3. Amdahl, measured\n\n");
    fprintf(f, "The seed story's profile said 51%% of the time was block parsing; it then "
               "*estimated* that fp16 conversion was ~30%% of that (~15%% of the total), hence a "
               "bound of 1/(1-0.15) = **1.176x**, and reported **1.41x** achieved: more than its "
               "own bound. Here p is measured: the matmuls' share of the baseline's "
               "(parse-per-block) forward pass from its per-operation profile (every variant "
               "changes only the Q8_0 x int8 matmul kernels); s is each variant's local speedup of "
               "the matmuls; predicted = 1/((1-p)+p/s), bound = 1/(1-p); achieved is the paired "
               "end-to-end speedup. \"removed\" is the matmul time the variant took away, as a "
               "share of the baseline (the quantity the story estimated at 15%%); \"implied p\" "
               "is the p the achieved speedup would need given s.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_cpu_heading(f, R, g);
        rp_key *k;
        const int n = rp_collect_keys(g, "forward", &k);
        int rows = 0, any_profile = 0;
        char *lines = NULL;
        size_t lines_len = 0;
        FILE *lf = open_memstream(&lines, &lines_len);
        for (int i = 0; i < n; i++) {
            const rp_cfg *b = rp_find_cfg(g, "forward", "parse-per-block", &k[i], NULL);
            if (!rp_profile_of(b)) continue;
            any_profile = 1;
            for (int vi = 0; vi < R->n_variants; vi++) {
                const char *v = R->variants[vi];
                if (!strcmp(v, "parse-per-block") || !rp_find_cfg(g, "forward", v, &k[i], NULL))
                    continue;
                rp_amdahl a;
                rp_amdahl_for(g, &k[i], v, &a);
                if (!rows++)
                    fprintf(f, "| configuration | variant | p (matmul share of the baseline) | "
                               "removed | s, local speedup [95%% CI] | s from | predicted [95%% "
                               "CI] | bound 1/(1-p) | achieved [95%% CI] | implied p | verdict "
                               "|\n|---|---|---|---|---|---|---|---|---|---|---|\n");
                fprintf(
                    f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                    rp_fmt_key(R, &k[i]).s, v, rp_fmt_pct(a.p).s, rp_fmt_pct(a.removed).s,
                    a.has_s ? rp_fmt_xi(a.s).s : "not measured", a.has_s ? a.s_note : "—",
                    a.has_s ? rp_fmt_xi(a.pred).s : "n/a", rp_fmt_xi(a.bound).s, rp_fmt_xi(a.ach).s,
                    (a.implied >= 0 && a.implied <= 1) || isnan(a.implied) ? rp_fmt_pct(a.implied).s
                                                                           : "none in [0, 1]",
                    qk_amdahl_verdict_name(a.verdict));
                if (lf) fprintf(lf, "- %s, %s: %s.\n", rp_fmt_key(R, &k[i]).s, v, a.line);
            }
        }
        if (lf) fclose(lf);
        if (rows) {
            const rp_cfg *b = NULL;
            for (int i = 0; i < n && !b; i++) {
                b = rp_find_cfg(g, "forward", "parse-per-block", &k[i], NULL);
                if (!rp_profile_of(b)) b = NULL;
            }
            fprintf(f,
                    "\nVerdicts (predicted and achieved disagree when their intervals do not "
                    "overlap):\n\n%s\n",
                    lines ? lines : "");
            if (b)
                fprintf(f,
                        "The profile is the mean of %d separately timed pass(es) with per-op "
                        "clocks; its total (%s ms for %s) is compared with the timed median "
                        "(%s ms), so p carries no interval of its own.\n\n",
                        qk_rj_int(b->agg, "profile_passes"),
                        rp_fmt_ms(rp_prof_sum(rp_profile_of(b), 0)).s,
                        rp_fmt_key(R, &(rp_key){b->isa, b->act, b->binding, b->model, b->seq_len,
                                                b->threads})
                            .s,
                        rp_fmt_ms(b->med).s);
        } else if (!any_profile) {
            rp_not_measured(f, "no per-operation profile of the parse-per-block baseline",
                            "a forward experiment with `profile = true` in `[measure]` and the "
                            "four seed kernels (plus a `run = matmul` experiment for the local "
                            "speedups)");
        } else {
            rp_not_measured(
                f, "no variant beside the profiled baseline",
                "the four seed kernels in one forward experiment with `profile = true`");
        }
        free(lines);
        free(k);
    }
}

const rp_section rp_section_amdahl = {NULL, NULL, amdahl_markdown};
