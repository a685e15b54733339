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
#include "report/style.h"

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

/* Writes one ceiling, attainable = min(peak, intensity x bandwidth), as a block. */
static void ceiling_block(FILE *cd, int *n, double peak, double bw) {
    if (*n) fprintf(cd, "\n\n");
    for (int k = 0; k <= 80; k++) {
        const double ai = pow(10, -2 + 6.0 * k / 80);
        fprintf(cd, "%.6g %.6g\n", ai, fmin(peak, ai * bw));
    }
    (*n)++;
}

#define MAX_CEILINGS 96
#define MAX_ISAS     16

/* A panel per (CPU,) kernel ISA: that ISA's own ceilings (its int8 peak against the DRAM
 * bandwidth at the most threads, solid; at one thread, dotted; against L2-sized buffers, dashed)
 * and a series per variant: open points the whole forward pass, filled ones a matmul shape alone.
 * A panel of more than RP_PANEL_MAX_SERIES variants is split. Axes are shared by every panel. */
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
    fprintf(cd, "# one block per ceiling (roofline.vars: ceiling_panel): intensity (ops/byte), "
                "attainable GOPS = min(peak, intensity x bandwidth)\n");
    fprintf(pd, "# two blocks per series (roofline.vars: series_block, series_block2): the "
                "forward-pass points, then the matmul-only points: intensity (ops/byte), "
                "achieved GOPS (a NaN row: none)\n");
    rp_plotset ps = {0};
    int c_panel[MAX_CEILINGS], c_dt[MAX_CEILINGS], c_lw[MAX_CEILINGS], nce = 0, blocks = 0;
    int row = 0, tmax_all = 0;
    double ai_min = INFINITY, ai_max = 0, g_min = INFINITY, g_max = 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        if (!g->roof) continue;
        const int tmax = rp_roof_max_threads(g->roof);
        if (tmax > tmax_all) tmax_all = tmax;
        /* the kernel ISAs with points, in rank order */
        const char *isas[MAX_ISAS];
        int ni = 0;
        for (int j = 0; j < g->n_cfgs; j++) {
            double ai, gops;
            if (!roofline_point(&g->cfgs[j], &ai, &gops)) continue;
            int k = 0;
            while (k < ni && strcmp(isas[k], g->cfgs[j].isa)) k++;
            if (k == ni && ni < MAX_ISAS) isas[ni++] = g->cfgs[j].isa;
        }
        for (int a = 1; a < ni; a++)
            for (int b = a; b > 0 && (rp_isa_rank(isas[b - 1]) > rp_isa_rank(isas[b]) ||
                                      (rp_isa_rank(isas[b - 1]) == rp_isa_rank(isas[b]) &&
                                       strcmp(isas[b - 1], isas[b]) > 0));
                 b--) {
                const char *t = isas[b];
                isas[b] = isas[b - 1];
                isas[b - 1] = t;
            }
        int col = 0;
        for (int ii = 0; ii < ni; ii++) {
            const char *isa = isas[ii];
            const char *vars[64];
            int nv = 0;
            for (int v = 0; v < R->n_variants && nv < 64; v++) {
                int used = 0;
                for (int j = 0; j < g->n_cfgs && !used; j++) {
                    double ai, gops;
                    used = !strcmp(g->cfgs[j].variant, R->variants[v]) &&
                           !strcmp(g->cfgs[j].isa, isa) && roofline_point(&g->cfgs[j], &ai, &gops);
                }
                if (used) vars[nv++] = R->variants[v];
            }
            const double peak = roof_peak(g->roof, tmax, peak_isa_for(isa));
            const double peak1 = roof_peak(g->roof, 1, peak_isa_for(isa));
            const double bw = rp_roof_bw(g->roof, tmax, "dram"),
                         bw1 = rp_roof_bw(g->roof, 1, "dram");
            const double l2 = rp_roof_bw(g->roof, tmax, "l2");
            const int chunks = (nv + RP_PANEL_MAX_SERIES - 1) / RP_PANEL_MAX_SERIES;
            for (int ch = 0; ch < chunks; ch++) {
                char title[192], part[32] = "";
                if (chunks > 1) snprintf(part, sizeof part, " (%d of %d)", ch + 1, chunks);
                if (isnan(peak) || isnan(bw))
                    snprintf(title, sizeof title, "%s%s kernels%s (no %s ceiling measured)",
                             rp_panel_prefix(R, g).s, isa, part, isa);
                else
                    snprintf(title, sizeof title,
                             "%s%s kernels%s\nroof: int8 peak %.0f GOPS, DRAM %.0f GB/s, %d thr",
                             rp_panel_prefix(R, g).s, isa, part, peak, bw, tmax);
                if (col == 3) col = 0;
                if (col == 0) row++;
                rp_panel *p = rp_plotset_panel(&ps, title, row, ++col);
                if (!p) continue;
                const double peaks[3] = {peak, tmax > 1 ? peak1 : NAN, peak};
                const double bws[3] = {bw, tmax > 1 ? bw1 : NAN, l2};
                for (int e = 0; e < 3 && nce < MAX_CEILINGS; e++) {
                    if (isnan(peaks[e]) || isnan(bws[e])) continue;
                    c_panel[nce] = ps.n_p;
                    c_dt[nce] = e == 0 ? 1 : e == 1 ? 3 : 2;
                    c_lw[nce] = e == 0 ? 2 : 1;
                    ceiling_block(cd, &nce, peaks[e], bws[e]);
                    g_max = fmax(g_max, peaks[e]);
                }
                for (int v = ch * RP_PANEL_MAX_SERIES; v < nv && v < (ch + 1) * RP_PANEL_MAX_SERIES;
                     v++) {
                    rp_series *s = rp_plotset_series(&ps, R, vars[v], vars[v], isa, blocks);
                    if (s) s->block2 = blocks + 1;
                    for (int kind = 0; kind < 2; kind++) {
                        if (blocks++) fprintf(pd, "\n\n");
                        int pts = 0;
                        for (int j = 0; j < g->n_cfgs; j++) {
                            const rp_cfg *x = &g->cfgs[j];
                            double ai, gops;
                            if (strcmp(x->variant, vars[v]) || strcmp(x->isa, isa) ||
                                strcmp(x->run, kind ? "matmul" : "forward") ||
                                !roofline_point(x, &ai, &gops))
                                continue;
                            fprintf(pd, "%.6g %.6g\n", ai, gops);
                            pts++;
                            ai_min = fmin(ai_min, ai), ai_max = fmax(ai_max, ai);
                            g_min = fmin(g_min, gops), g_max = fmax(g_max, gops);
                        }
                        if (!pts) fprintf(pd, "NaN NaN\n");
                    }
                }
            }
        }
    }
    fclose(cd);
    fclose(pd);
    if (!ps.n_p) {
        rp_plotset_free(&ps);
        return 0;
    }
    FILE *v = rp_open_out(R, "roofline.vars");
    if (!v) {
        rp_plotset_free(&ps);
        return -1;
    }
    rp_plotset_legend(&ps, R, 0);
    rp_plotset_legend_add(&ps, "whole forward pass", RP_KEY_GREY, RP_LEGEND_POINT, 1, 6, 2);
    rp_plotset_legend_add(&ps, "one matmul shape alone", RP_KEY_GREY, RP_LEGEND_POINT, 1, 7, 2);
    char t[96];
    snprintf(t, sizeof t, "roof: DRAM bandwidth, %d threads", tmax_all);
    rp_plotset_legend_add(&ps, t, RP_CEILING_COLOUR, RP_LEGEND_LINE, 1, -1, 2);
    rp_plotset_legend_add(&ps, "roof: DRAM bandwidth, 1 thread", RP_CEILING_COLOUR, RP_LEGEND_LINE,
                          3, -1, 1);
    rp_plotset_legend_add(&ps, "roof: L2-sized buffers", RP_CEILING_COLOUR, RP_LEGEND_LINE, 2, -1,
                          1);
    rp_plotset_write(v, &ps);
    fprintf(v, "n_ceilings = %d\n", nce);
    rp_gp_ints(v, "ceiling_panel", c_panel, nce);
    rp_gp_ints(v, "ceiling_dt", c_dt, nce);
    rp_gp_ints(v, "ceiling_lw", c_lw, nce);
    if (!isfinite(ai_min)) ai_min = 1, ai_max = 100;
    if (!isfinite(g_min)) g_min = 1;
    fprintf(v, "ai_lo = %.6g\nai_hi = %.6g\ngops_lo = %.6g\ngops_hi = %.6g\n",
            pow(10, floor(log10(fmin(ai_min, 1)) - 0.5)), pow(10, ceil(log10(ai_max) + 0.5)),
            pow(10, floor(log10(g_min) - 0.3)), pow(10, ceil(log10(g_max) + 0.3)));
    const int failed = fclose(v) != 0 || ps.failed;
    rp_plotset_free(&ps);
    return failed ? -1 : 1;
}

const rp_section rp_section_roofline = {"roofline", roofline_data, roofline_markdown};
