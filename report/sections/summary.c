/* REPORT.md's opening "Summary: the seed story and each CPU": a column for the story and one per
 * CPU at its headline configuration: the ladder's times and speedups, the step shares, p, Amdahl,
 * the footprint, zero-copy's speedup per ISA, llama.cpp / ours (in the mode the headline quotes:
 * llama.cpp in its own process when measured, else in-process) and the roofline's ceilings. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

/* llama.cpp / ours at the headline configuration (else the peer's most threads, tokens nearest
 * 16), in the mode the headline quotes (rp_peer_headline_mode), said in words; a row only when
 * some CPU compared llama.cpp with our kernels. */
static void peer_row(FILE *f, const rp_report *R, const rp_key *h, const int *has_h, int nc) {
    const rp_peer_point *best[64];
    rp_peer_point *pp[64];
    int any = 0;
    for (int c = 0; c < nc; c++) {
        const int n = rp_peer_points(R, &R->cpus[c], &pp[c]);
        best[c] = rp_peer_headline(pp[c], n, has_h[c] ? &h[c] : NULL);
        any |= best[c] != NULL;
    }
    if (any) {
        fprintf(f, "\n| llama.cpp / ours: llama.cpp time / our fastest kernel's (above 1 ours is "
                   "faster) | not measured |");
        for (int c = 0; c < nc; c++) {
            const rp_peer_point *x = best[c];
            if (!x) {
                fprintf(f, " not measured |");
                continue;
            }
            char sn[96];
            qk_rj_short_name(sn, sizeof sn, x->base);
            const int own = !strcmp(x->mode, RP_PEER_PROCESS);
            fprintf(f, " %s vs %s, %d token%s, %d thread%s; llama.cpp %s |",
                    rp_fmt_xi(qk_interval_make(x->ratio, x->r_lo, x->r_hi)).s, sn, x->seq,
                    x->seq == 1 ? "" : "s", x->threads, x->threads == 1 ? "" : "s",
                    own ? "in its own process, as its users run it"
                        : "in-process (its own-process mode not measured)");
        }
    }
    for (int c = 0; c < nc; c++) free(pp[c]);
}

static void summary_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    fprintf(f, "## Summary: the seed story and each CPU\n\n");
    fprintf(f, "Each CPU's headline configuration is the forward pass with both parse-per-block "
               "and zero-copy at the widest ISA, most threads and sequence length nearest 16. "
               "Details and intervals in the sections below.\n\n| |  seed story (Go, "
               "AVX512-VNNI, 16 goroutines) |");
    rp_key h[64];
    int has_h[64];
    const int nc = R->n_cpus < 64 ? R->n_cpus : 64;
    for (int c = 0; c < nc; c++) {
        fprintf(f, " CPU %s: %s |", R->cpus[c].label, R->cpus[c].cpu_model);
        has_h[c] = rp_headline(&R->cpus[c], &h[c]) == 0;
    }
    fprintf(f, "\n|---|---|");
    for (int c = 0; c < nc; c++) fprintf(f, "---|");
    fprintf(f, "\n| host | not stated |");
    for (int c = 0; c < nc; c++) fprintf(f, " %s |", R->cpus[c].host);
    int fleet = 0;
    for (int c = 0; c < nc; c++) fleet |= *R->cpus[c].target != 0;
    if (fleet) {
        fprintf(f, "\n| fleet target | - |");
        for (int c = 0; c < nc; c++) fprintf(f, " %s |", rp_target_name(&R->cpus[c]).s);
    }
    fprintf(f, "\n| headline configuration | one forward pass, 10 iterations |");
    for (int c = 0; c < nc; c++) fprintf(f, " %s |", has_h[c] ? rp_fmt_key(R, &h[c]).s : "none");
    const char *rows[] = {"parse-per-block (baseline), ms",
                          "precached-scales, ms (speedup)",
                          "zero-copy, ms (speedup)",
                          "alloc-copy, ms (vs baseline)",
                          "share of the gain: scales / in-place int8",
                          "matmul share p of the baseline",
                          "Amdahl for zero-copy: predicted / bound / achieved",
                          "footprint before -> after (MB)"};
    const char *story[] = {"42.44",
                           "not measured",
                           "30.19 (1.41x)",
                           "66.50 (1.57x slower)",
                           "guessed: 6.4 + 4.0 + 1.9 ms ('cache locality', 'allocations')",
                           "51% 'parsing' (profiled); 15% fp16 (estimated)",
                           "bound 1.176x (from the estimate) / 1.41x achieved: contradictory",
                           "412.86 -> 425.17 (+12.31)"};
    for (int r = 0; r < 8; r++) {
        fprintf(f, "\n| %s | %s |", rows[r], story[r]);
        for (int c = 0; c < nc; c++) {
            const rp_cpu *g = &R->cpus[c];
            if (!has_h[c]) {
                fprintf(f, " not measured |");
                continue;
            }
            const rp_key *k = &h[c];
            const rp_cfg *b = rp_find_cfg(g, "forward", "parse-per-block", k, NULL);
            const rp_cfg *pre = rp_find_cfg(g, "forward", "precached-scales", k, NULL);
            const rp_cfg *z = rp_find_cfg(g, "forward", "zero-copy", k, NULL);
            const rp_cfg *al = rp_find_cfg(g, "forward", "alloc-copy", k, NULL);
            const rp_cfg *v = r == 1 ? pre : r == 2 ? z : r == 3 ? al : NULL;
            if (r == 0) {
                fprintf(f, " %s |", rp_fmt_ms(b->med).s);
            } else if (r <= 3) {
                if (!v)
                    fprintf(f, " not measured |");
                else {
                    const qk_interval s = rp_speedup_of(v, b, NULL);
                    if (r == 3 && s.value < 1)
                        fprintf(f, " %s (%.2fx slower) |", rp_fmt_ms(v->med).s, 1 / s.value);
                    else
                        fprintf(f, " %s (%sx) |", rp_fmt_ms(v->med).s, rp_fmt_x(s.value).s);
                }
            } else if (r == 4) {
                qk_interval sh[2];
                if (pre) {
                    qk_interval t[3] = {qk_interval_point(1.0), rp_ratio_of(pre, b),
                                        rp_ratio_of(z, b)};
                    qk_amdahl_step_shares(t, 3, sh);
                    fprintf(f, " %s / %s |", rp_fmt_pct(sh[0].value).s, rp_fmt_pct(sh[1].value).s);
                } else {
                    fprintf(f, " not measured (no precached-scales) |");
                }
            } else if (r == 5 || r == 6) {
                rp_amdahl a;
                rp_amdahl_for(g, k, "zero-copy", &a);
                if (r == 5)
                    fprintf(f, " %s |", a.has_p ? rp_fmt_pct(a.p).s : "not measured (no profile)");
                else if (!a.has_p || !a.has_s)
                    fprintf(f, " not measured (needs a profile and matmul runs); achieved %sx |",
                            rp_fmt_x(a.ach.value).s);
                else
                    fprintf(f, " %sx / %sx / %sx (%s) |", rp_fmt_x(a.pred.value).s,
                            rp_fmt_x(a.bound.value).s, rp_fmt_x(a.ach.value).s,
                            qk_amdahl_verdict_name(a.verdict));
            } else {
                int u;
                if (z && isnan(rp_footprint(b, &u) + rp_footprint(z, &u)))
                    fprintf(f, " not measured (no memory figures) |");
                else if (z)
                    fprintf(f, " %s -> %s (%+.2f) |", rp_fmt_mb(rp_footprint(b, &u)).s,
                            rp_fmt_mb(rp_footprint(z, &u)).s,
                            (rp_footprint(z, &u) - rp_footprint(b, &u)) / 1e6);
                else
                    fprintf(f, " not measured |");
            }
        }
    }
    /* zero-copy speedup per ISA, at each CPU's headline sequence length and threads */
    const char *isas[8];
    int n_isas = 0;
    for (int c = 0; c < nc; c++)
        for (int i = 0; i < R->cpus[c].n_cfgs; i++) {
            const rp_cfg *x = &R->cpus[c].cfgs[i];
            if (!rp_usable(x) || !rp_is_int8(x) || strcmp(x->run, "forward")) continue;
            int dup = 0;
            for (int j = 0; j < n_isas; j++) dup |= !strcmp(isas[j], x->isa);
            if (!dup && n_isas < 8) isas[n_isas++] = x->isa;
        }
    for (int a = 1; a < n_isas; a++)
        for (int b = a; b > 0 && rp_isa_rank(isas[b - 1]) > rp_isa_rank(isas[b]); b--) {
            const char *t = isas[b];
            isas[b] = isas[b - 1];
            isas[b - 1] = t;
        }
    for (int i = 0; i < n_isas; i++) {
        fprintf(f, "\n| zero-copy speedup, %s | — |", isas[i]);
        for (int c = 0; c < nc; c++) {
            rp_key k = h[c];
            k.isa = isas[i];
            const rp_cfg *b =
                has_h[c] ? rp_find_cfg(&R->cpus[c], "forward", "parse-per-block", &k, NULL) : NULL;
            const rp_cfg *z =
                has_h[c] ? rp_find_cfg(&R->cpus[c], "forward", "zero-copy", &k, NULL) : NULL;
            if (b && z)
                fprintf(f, " %s |", rp_fmt_xi(rp_speedup_of(z, b, NULL)).s);
            else
                fprintf(f, " not measured |");
        }
    }
    peer_row(f, R, h, has_h, nc);
    fprintf(f, "\n| DRAM read bandwidth / int8 peak (most threads) | — |");
    for (int c = 0; c < nc; c++) {
        json_t *roof = R->cpus[c].roof;
        if (!roof) {
            fprintf(f, " not measured |");
            continue;
        }
        const int t = rp_roof_max_threads(roof);
        double best = NAN;
        const char *best_isa = "";
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(roof, "peaks"), i, p) {
            if (qk_rj_int(p, "threads") == t && !(qk_rj_num(p, "gops") <= best)) {
                best = qk_rj_num(p, "gops");
                best_isa = qk_rj_str(p, "isa");
            }
        }
        fprintf(f, " %.1f GB/s / %.0f GOPS (%s), %d threads |", rp_roof_bw(roof, t, "dram"), best,
                best_isa, t);
    }
    fprintf(f, "\n\n");
}

const rp_section rp_section_summary = {NULL, NULL, summary_markdown};
