/* REPORT.md section 10, "How this CPU's story differs": per CPU, a paragraph that retells the seed
 * story with this CPU's measured figures at its headline configuration: the speedup, the steps'
 * shares, the allocating regression, Amdahl, memory and the FP32 path. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

static void story_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    fprintf(f, "## 10. How this CPU's story differs\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_cpu_heading(f, R, g);
        rp_key k;
        if (rp_headline(g, &k)) {
            fprintf(f, "No configuration with both parse-per-block and zero-copy in these "
                       "results: the story cannot be retold here. Run "
                       "experiments/seed-reproduction.ini (or any forward experiment with the "
                       "four seed kernels).\n\n");
            continue;
        }
        const rp_cfg *b = rp_find_cfg(g, "forward", "parse-per-block", &k, NULL);
        const rp_cfg *pre = rp_find_cfg(g, "forward", "precached-scales", &k, NULL);
        const rp_cfg *z = rp_find_cfg(g, "forward", "zero-copy", &k, NULL);
        const rp_cfg *al = rp_find_cfg(g, "forward", "alloc-copy", &k, NULL);
        const qk_interval sz = rp_speedup_of(z, b, NULL);
        fprintf(f,
                "On %s, with %s, the zero-copy kernel is %s faster than parse-per-block "
                "(the story: 1.41x; %s ms -> %s ms here against 42.44 -> 30.19 ms there).",
                g->cpu_model, rp_fmt_key(R, &k).s, rp_fmt_xi(sz).s, rp_fmt_ms(b->med).s,
                rp_fmt_ms(z->med).s);
        if (sz.lo <= 1 && sz.hi >= 1)
            fprintf(f, " Its interval includes 1: no measurable gain at this configuration.");
        if (pre) {
            qk_interval t[3] = {qk_interval_point(1.0), rp_ratio_of(pre, b), rp_ratio_of(z, b)};
            qk_interval sh[2];
            if (qk_amdahl_step_shares(t, 3, sh) == 0)
                fprintf(f,
                        " Pre-converting the scales (step 1) gave %s of the gain and reading "
                        "the int8 in place (step 2) %s, so most of it here comes from %s; the "
                        "story never measured this split (it guessed 'cache locality' and "
                        "'allocation' shares).",
                        rp_fmt_pct(sh[0].value).s, rp_fmt_pct(sh[1].value).s,
                        sh[0].value >= sh[1].value ? "not converting fp16 scales on every use"
                                                   : "not copying the quants");
        }
        if (al) {
            const qk_interval sa = rp_speedup_of(al, b, NULL);
            const double allocs = qk_rj_num(al->agg, "allocations_per_pass");
            if (sa.hi < 1)
                fprintf(f,
                        " The allocating variant regressed: %.2fx slower than the baseline "
                        "[%.2f, %.2f] (the story: 1.57x)",
                        1 / sa.value, 1 / sa.hi, 1 / sa.lo);
            else if (sa.lo > 1)
                fprintf(f,
                        " The allocating variant did not regress: it is still %sx faster than "
                        "the baseline (the story: 1.57x slower)",
                        rp_fmt_x(sa.value).s);
            else
                fprintf(f,
                        " The allocating variant is indistinguishable from the baseline (%s; "
                        "the story: 1.57x slower)",
                        rp_fmt_xi(sa).s);
            if (!isnan(allocs))
                fprintf(f, ", with %.3g allocations per pass (the story: 26 M)", allocs);
            fprintf(f, ".");
        }
        rp_amdahl a;
        rp_amdahl_for(g, &k, "zero-copy", &a);
        if (a.has_p) {
            fprintf(f,
                    " The matmuls take %s of the baseline's forward pass (the story's profile: "
                    "51%% in block parsing alone)",
                    rp_fmt_pct(a.p).s);
            if (!isnan(a.removed))
                fprintf(f,
                        ", and zero-copy removes %s of the baseline's time from them (the "
                        "story estimated 15%% for the fp16 conversion)",
                        rp_fmt_pct(a.removed).s);
            fprintf(f, ". The Amdahl bound for anything done to the matmuls is %sx here.",
                    rp_fmt_x(a.bound.value).s);
            if (a.has_s)
                fprintf(f,
                        " With the measured local speedup s = %sx, Amdahl predicts %sx; "
                        "achieved %sx: %s.",
                        rp_fmt_x(a.s.value).s, rp_fmt_x(a.pred.value).s, rp_fmt_x(a.ach.value).s,
                        a.verdict == QK_AMDAHL_AGREE   ? "they agree"
                        : a.verdict == QK_AMDAHL_ABOVE ? "the achieved speedup is higher than "
                                                         "predicted"
                        : a.verdict == QK_AMDAHL_BELOW ? "the achieved speedup is lower than "
                                                         "predicted"
                                                       : "no verdict (an interval is missing)");
            if (sz.value <= a.bound.value)
                fprintf(f, " Unlike the story (1.41x achieved against its own 1.176x bound), the "
                           "achieved speedup stays within the bound.");
            else
                fprintf(f, " As in the story, the achieved speedup exceeds the bound: p "
                           "understates the changed part.");
        } else {
            fprintf(f, " Without a profile of the baseline, the Amdahl comparison is not "
                       "possible here (run with `profile = true`).");
        }
        int u;
        if (z && !isnan(rp_mem_field(z, "prepared_bytes")))
            fprintf(
                f,
                " Zero-copy keeps %s MB prepared at load beside the mapped file (the "
                "story: +12.31 MB for scales; footprint %s -> %s MB).",
                rp_fmt_mb(rp_mem_field(z, "prepared_bytes") - rp_mem_field(b, "prepared_bytes")).s,
                rp_fmt_mb(rp_footprint(b, &u)).s, rp_fmt_mb(rp_footprint(z, &u)).s);
        const rp_cfg *fp = rp_find_fp32(g, &k);
        if (fp)
            fprintf(f, " The FP32 reference path takes %s ms, %.2fx the zero-copy INT8 time.",
                    rp_fmt_ms(fp->med).s, fp->med / z->med);
        fprintf(f, "\n\n");
    }
}

const rp_section rp_section_story = {NULL, NULL, story_markdown};
