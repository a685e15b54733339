/* REPORT.md section 9, "Roofline": per CPU, the ceilings `qkbench roofline` measured (read
 * bandwidth, int8 peaks per ISA) and every configuration placed against them (arithmetic
 * intensity, GOPS, share of peak, bandwidth and attainable). Its plot (roofline.gp) draws the roofs
 * and the points. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

/* The int8 peak (GOPS) the roofline file measured for an ISA at a thread count, or NAN. */
static double roof_peak(json_t *roof, int threads, const char *isa) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(roof, "peaks"), i, p) {
        if (qk_rj_int(p, "threads") == threads && !strcmp(qk_rj_str(p, "isa"), isa))
            return qk_rj_num(p, "gops");
    }
    return NAN;
}
/* The ceiling a kernel of this ISA can reach: its own instruction's peak. */
static const char *peak_isa_for(const char *isa) {
    if (!strcmp(isa, "avx512vnni")) return "avx512vnni";
    if (!strcmp(isa, "avx2")) return "avx2";
    return "scalar";
}

/* A configuration's place on the roofline: intensity (ops per weight byte) and GOPS; 0 if the
 * record lacks the figures. */
static int roofline_point(const rp_cfg *c, double *ai, double *gops) {
    if (!rp_usable(c) || !rp_is_int8(c) || !c->agg) return 0;
    const double macs = qk_rj_num(c->agg, "macs_per_pass"),
                 wb = qk_rj_num(c->agg, "weight_bytes_per_pass");
    if (!(macs > 0) || !(wb > 0) || !(c->med > 0)) return 0;
    *ai = 2 * macs / wb;
    *gops = 2 * macs / (c->med * 1e-3) / 1e9;
    return 1;
}

static void roofline_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    fprintf(f, "## 9. Roofline\n\n");
    int any = 0;
    for (int c = 0; c < R->n_cpus; c++) any |= R->cpus[c].roof != NULL;
    if (!any) {
        rp_not_measured(f,
                        R->n_roofs ? "no roofline file matches these CPUs"
                                   : "no ceilings (no --roofline file given)",
                        "`qkbench roofline --json roofline.json` on the same machine and pass "
                        "`--roofline roofline.json` to the report");
        return;
    }
    fprintf(f, "Ceilings measured by `qkbench roofline` (best repetition; 1 MAC = 2 ops), and each "
               "measured configuration placed against them: arithmetic intensity = 2 x MACs / "
               "Q8_0 weight bytes read per pass (ops per byte), achieved GOPS = 2 x MACs / median "
               "time (the forward pass's GOPS include its non-matmul time). %% of peak uses the "
               "peak of the kernel's ISA at its thread count; %% of bandwidth is weight bytes / "
               "time against the DRAM read bandwidth; attainable = min(peak, intensity x "
               "bandwidth).\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_cpu_heading(f, R, g);
        if (!g->roof) {
            rp_not_measured(f, "no roofline file for this CPU",
                            "`qkbench roofline --json FILE` on this machine");
            continue;
        }
        json_t *rc = json_object_get(g->roof, "context");
        if (g->roof_foreign)
            fprintf(f,
                    "*The roofline file was measured on %s (%s), not on this CPU: the "
                    "ceilings below are that machine's.*\n\n",
                    qk_rj_str(rc, "cpu_model"), qk_rj_str(rc, "host_name"));
        fprintf(f, "| ceiling | threads | value |\n|---|---|---|\n");
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(g->roof, "bandwidth"), i, x) {
            const double bytes = qk_rj_num(x, "bytes");
            fprintf(f, "| read bandwidth, %s (%.0f %s) | %d | %.1f GB/s |\n",
                    !strcmp(qk_rj_str(x, "working_set"), "dram") ? "DRAM" : "L2-sized buffers",
                    bytes >= 1 << 30 ? bytes / (1 << 30) : bytes / 1024,
                    bytes >= 1 << 30 ? "GiB" : "KiB", qk_rj_int(x, "threads"),
                    qk_rj_num(x, "gbps"));
        }
        json_array_foreach(json_object_get(g->roof, "peaks"), i, x) {
            fprintf(f, "| int8 peak, %s: %s | %d | %.1f GOPS |\n", qk_rj_str(x, "isa"),
                    qk_rj_str(x, "instruction"), qk_rj_int(x, "threads"), qk_rj_num(x, "gops"));
        }
        json_array_foreach(json_object_get(g->roof, "skipped"), i, x) {
            fprintf(f, "| int8 peak, %s: %s | — | skipped: %s |\n", qk_rj_str(x, "isa"),
                    qk_rj_str(x, "instruction"), qk_rj_str(x, "why"));
        }
        fprintf(f, "\n| configuration | intensity (ops/byte) | GOPS | %% of int8 peak | weight "
                   "GB/s | %% of DRAM bandwidth | attainable GOPS | %% of attainable |\n"
                   "|---|---|---|---|---|---|---|---|\n");
        for (int j = 0; j < g->n_cfgs; j++) {
            const rp_cfg *x2 = &g->cfgs[j];
            double ai, gops;
            if (!roofline_point(x2, &ai, &gops)) continue;
            const double peak = roof_peak(g->roof, x2->threads, peak_isa_for(x2->isa));
            const double bw = rp_roof_bw(g->roof, x2->threads, "dram");
            const double wgbps =
                qk_rj_num(x2->agg, "weight_bytes_per_pass") / (x2->med * 1e-3) / 1e9;
            const double att = fmin(peak, ai * bw);
            fprintf(f, "| %s | %.2f | %.2f | %s | %.2f | %s | %s | %s |\n", x2->run_name, ai, gops,
                    rp_fmt_pct(gops / peak).s, wgbps, rp_fmt_pct(wgbps / bw).s,
                    isnan(att) ? "n/a (no ceiling at this thread count)" : rp_fmt_ms(att).s,
                    rp_fmt_pct(gops / att).s);
        }
        fprintf(f, "\n");
    }
    if (plot && plot->ok)
        fprintf(f, "![Roofline](roofline.png)\n\n");
    else if (plot)
        fprintf(f, "*Plot roofline.png missing: %s.*\n\n", plot->why);
}

/* ---- plot data: roofline_ceilings.dat, roofline_points.dat, roofline.vars */

static const char *isa_colour(const char *isa) {
    if (!strcmp(isa, "scalar")) return "#8c564b";
    if (!strcmp(isa, "avx2")) return "#ff7f0e";
    if (!strcmp(isa, "avx512bw")) return "#e377c2";
    if (!strcmp(isa, "avx512vnni")) return "#9467bd";
    return "#17becf";
}
static int isa_point(const char *isa, int filled) { /* open / filled gnuplot point types */
    const int base = !strcmp(isa, "scalar")       ? 4
                     : !strcmp(isa, "avx2")       ? 6
                     : !strcmp(isa, "avx512vnni") ? 8
                                                  : 12;
    return base + (filled ? 1 : 0);
}

/* ceilings and point series in the plot (the legend's length) */
#define MAX_SERIES 96

static int roofline_data(const rp_report *R) {
    int any = 0;
    for (int c = 0; c < R->n_cpus; c++) any |= R->cpus[c].roof != NULL;
    if (!any) return 0;
    FILE *cd = rp_open_out(R, "roofline_ceilings.dat"), *pd = rp_open_out(R, "roofline_points.dat");
    if (!cd || !pd) {
        if (cd) fclose(cd);
        if (pd) fclose(pd);
        return -1;
    }
    fprintf(cd, "# one block per ceiling (roofline.vars: ceiling_title): intensity (ops/byte), "
                "attainable GOPS = min(peak, intensity x bandwidth)\n");
    fprintf(pd, "# one block per point series (roofline.vars: point_title): intensity "
                "(ops/byte), achieved GOPS\n");
    static rp_str ctb[MAX_SERIES], ptb[MAX_SERIES];
    const char *ct[MAX_SERIES], *cc[MAX_SERIES], *pt[MAX_SERIES], *pc[MAX_SERIES];
    int cdt[MAX_SERIES], cw[MAX_SERIES], ppt[MAX_SERIES];
    int nce = 0, npt = 0;
    double ai_min = INFINITY, ai_max = 0, g_min = INFINITY, g_max = 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        if (!g->roof) continue;
        const int tmax = rp_roof_max_threads(g->roof);
        const int tl[2] = {tmax, 1};
        /* DRAM roofs: every peak at the most threads (solid) and at 1 thread (dotted) */
        for (int ti = 0; ti < (tmax > 1 ? 2 : 1); ti++) {
            const int t = tl[ti];
            const double bw = rp_roof_bw(g->roof, t, "dram");
            if (isnan(bw)) continue;
            size_t i;
            json_t *p;
            json_array_foreach(json_object_get(g->roof, "peaks"), i, p) {
                if (qk_rj_int(p, "threads") != t || nce >= MAX_SERIES) continue;
                const double peak = qk_rj_num(p, "gops");
                if (nce) fprintf(cd, "\n\n");
                for (int k = 0; k <= 80; k++) {
                    const double ai = pow(10, -2 + 6.0 * k / 80);
                    fprintf(cd, "%.6g %.6g\n", ai, fmin(peak, ai * bw));
                }
                snprintf(ctb[nce].s, sizeof ctb[nce].s, "%s%s %.0f GOPS | DRAM %.0f GB/s, %d thr",
                         rp_plot_prefix(R, g).s, qk_rj_str(p, "isa"), peak, bw, t);
                ct[nce] = ctb[nce].s;
                cc[nce] = isa_colour(qk_rj_str(p, "isa"));
                cdt[nce] = ti ? 3 : 1;
                cw[nce] = ti ? 1 : 2;
                nce++;
                g_max = fmax(g_max, peak);
            }
        }
        /* the L2 roof of the highest peak at the most threads (dashed) */
        const double l2 = rp_roof_bw(g->roof, tmax, "l2");
        double best = NAN;
        const char *best_isa = "";
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(g->roof, "peaks"), i, p) {
            if (qk_rj_int(p, "threads") == tmax && !(qk_rj_num(p, "gops") <= best))
                best = qk_rj_num(p, "gops"), best_isa = qk_rj_str(p, "isa");
        }
        if (!isnan(l2) && !isnan(best) && nce < MAX_SERIES) {
            if (nce) fprintf(cd, "\n\n");
            for (int k = 0; k <= 80; k++) {
                const double ai = pow(10, -2 + 6.0 * k / 80);
                fprintf(cd, "%.6g %.6g\n", ai, fmin(best, ai * l2));
            }
            snprintf(ctb[nce].s, sizeof ctb[nce].s, "%s%s %.0f GOPS | L2-sized %.0f GB/s, %d thr",
                     rp_plot_prefix(R, g).s, best_isa, best, l2, tmax);
            ct[nce] = ctb[nce].s;
            cc[nce] = isa_colour(best_isa);
            cdt[nce] = 2;
            cw[nce] = 1;
            nce++;
        }
        /* points: a series per (variant, ISA, forward or matmul-only) */
        for (int vi = 0; vi < R->n_variants; vi++)
            for (int kind = 0; kind < 2; kind++)
                for (int rank = 0; rank < 4; rank++) {
                    int started = 0;
                    for (int j = 0; j < g->n_cfgs && npt < MAX_SERIES; j++) {
                        const rp_cfg *x = &g->cfgs[j];
                        double ai, gops;
                        if (strcmp(x->variant, R->variants[vi]) ||
                            strcmp(x->run, kind ? "matmul" : "forward") ||
                            (rp_isa_rank(x->isa) < 3 ? rp_isa_rank(x->isa) : 3) != rank ||
                            !roofline_point(x, &ai, &gops))
                            continue;
                        if (!started) {
                            if (npt) fprintf(pd, "\n\n");
                            snprintf(ptb[npt].s, sizeof ptb[npt].s, "%s%s, %s, %s",
                                     rp_plot_prefix(R, g).s, R->variants[vi], x->isa,
                                     kind ? "matmul only" : "forward");
                            pt[npt] = ptb[npt].s;
                            pc[npt] = rp_variant_colour(R, R->variants[vi]);
                            ppt[npt] = isa_point(x->isa, kind);
                            npt++;
                            started = 1;
                        }
                        fprintf(pd, "%.6g %.6g\n", ai, gops);
                        ai_min = fmin(ai_min, ai), ai_max = fmax(ai_max, ai);
                        g_min = fmin(g_min, gops), g_max = fmax(g_max, gops);
                    }
                }
    }
    fclose(cd);
    fclose(pd);
    FILE *v = rp_open_out(R, "roofline.vars");
    if (!v) return -1;
    fprintf(v, "n_ceilings = %d\nn_points = %d\n", nce, npt);
    rp_gp_strings(v, "ceiling_title", ct, nce);
    rp_gp_strings(v, "ceiling_colour", cc, nce);
    rp_gp_ints(v, "ceiling_dt", cdt, nce);
    rp_gp_ints(v, "ceiling_lw", cw, nce);
    rp_gp_strings(v, "point_title", pt, npt);
    rp_gp_strings(v, "point_colour", pc, npt);
    rp_gp_ints(v, "point_type", ppt, npt);
    if (!isfinite(ai_min)) ai_min = 1, ai_max = 100;
    if (!isfinite(g_min)) g_min = 1;
    fprintf(v, "ai_lo = %.6g\nai_hi = %.6g\ngops_lo = %.6g\ngops_hi = %.6g\n",
            pow(10, floor(log10(fmin(ai_min, 1)) - 0.5)), pow(10, ceil(log10(ai_max) + 0.5)),
            pow(10, floor(log10(g_min) - 0.3)), pow(10, ceil(log10(g_max) + 0.3)));
    fclose(v);
    return nce || npt ? 1 : 0;
}

const rp_section rp_section_roofline = {"roofline", roofline_data, roofline_markdown};
