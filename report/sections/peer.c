/* REPORT.md's "llama.cpp peer" section: for each llama.cpp peer configuration
 * of the results (`peer = llama.cpp` in an experiment), per CPU, threads and seq_len: the peer's
 * median with its 95% interval, our fastest kernel of the same group, the paired ratio peer / ours
 * ("ours faster by") with its interval, the cosines of the peer's embedding against our FP32 path
 * and that kernel, and how the peer was bound; a row per peer mode (in-process, or llama.cpp in its
 * own process: report/model.h), and which mode the summary's headline quotes. A peer that could
 * not run says why; results without any peer configuration give a "not measured" paragraph that
 * says what to run. Its plot (peer.gp) draws the paired ratio against tokens per pass, a line per
 * mode. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"
#include "report/style.h"

static void fmt_cos(char *buf, size_t size, double c) {
    if (isfinite(c))
        snprintf(buf, size, "%.6f", c);
    else
        snprintf(buf, size, "n/a");
}

static void peer_row(FILE *f, json_t *doc, json_t *med) {
    json_t *ctx = json_object_get(doc, "context");
    const char *name = qk_rj_str(med, "run_name");
    char peer[128], ours[256], ratio[200], cf[32], cb[32];
    qk_rj_fmt_ci(peer, sizeof peer, qk_rj_ms(med), qk_rj_agg_ms(doc, name, "ci_lo"),
                 qk_rj_agg_ms(doc, name, "ci_hi"), " ms");
    json_t *acc = json_object_get(med, "peer_accuracy");
    fmt_cos(cf, sizeof cf, qk_rj_num(acc, "cosine_fp32"));
    fmt_cos(cb, sizeof cb, qk_rj_num(acc, "cosine_best_int8"));
    json_t *cmp = qk_rj_comparison(doc, name);
    const char *base = cmp ? qk_rj_str(cmp, "baseline") : qk_rj_str(acc, "best_int8");
    snprintf(ours, sizeof ours, "n/a (no int8 kernel in the group)");
    snprintf(ratio, sizeof ratio, "n/a");
    if (*base) {
        char sn[96], m[96];
        qk_rj_short_name(sn, sizeof sn, base);
        qk_rj_fmt_ci(m, sizeof m, qk_rj_agg_ms(doc, base, "median"),
                     qk_rj_agg_ms(doc, base, "ci_lo"), qk_rj_agg_ms(doc, base, "ci_hi"), " ms");
        snprintf(ours, sizeof ours, "%s: %s", sn, m);
    }
    if (cmp) {
        const double r = qk_rj_num(cmp, "ratio");
        char ci[96], by[24];
        qk_rj_fmt_ci(ci, sizeof ci, r, qk_rj_num(cmp, "ci_lo"), qk_rj_num(cmp, "ci_hi"), "x");
        qk_rj_fmt_num(by, sizeof by, r >= 1 ? r : 1 / r);
        if (isfinite(r) && r > 0)
            snprintf(ratio, sizeof ratio, "%s: %s %sx faster", ci, r >= 1 ? "ours" : "llama.cpp",
                     by);
        else
            snprintf(ratio, sizeof ratio, "%s", ci);
    }
    json_t *model = json_object_get(ctx, "model");
    fprintf(f, "| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |\n",
            qk_rj_str(ctx, "cpu_model"),
            *qk_rj_str(model, "spec") ? qk_rj_str(model, "spec") : qk_rj_str(model, "path"),
            rp_peer_mode_words(rp_peer_mode(med)), qk_rj_int(med, "threads"),
            qk_rj_int(med, "seq_len"), qk_rj_str(med, "binding"), peer, ours, ratio, cf, cb,
            qk_rj_str(json_object_get(med, "peer"), "binding"));
}

static int any_sittings(const rp_report *R) {
    for (int d = 0; d < R->n_docs; d++)
        if (json_is_object(json_object_get(json_object_get(R->docs[d], "context"), "sittings")))
            return 1;
    return 0;
}

/* Which mode the headlines (the summary's llama.cpp / ours) quote, per CPU, in words: after "In
 * these results", "the summary's headline ... ." (one CPU) or "CPU A: ... . CPU B: ... ." */
static void headline_mode_sentence(FILE *f, const rp_report *R) {
    int said = 0;
    for (int c = 0; c < R->n_cpus; c++) {
        rp_peer_point *pp;
        const int n = rp_peer_points(R, &R->cpus[c], &pp);
        int modes[2] = {0, 0};
        for (int i = 0; i < n; i++)
            if (pp[i].has_cmp) modes[!strcmp(pp[i].mode, RP_PEER_PROCESS)] = 1;
        free(pp);
        if (!modes[0] && !modes[1]) continue;
        if (R->n_cpus > 1) fprintf(f, " CPU %s:", R->cpus[c].label);
        if (modes[1])
            fprintf(f,
                    " the summary's headline llama.cpp / ours uses the own-process mode "
                    "(llama.cpp as its users run it)%s.",
                    modes[0] ? "; the in-process rows are beside it" : "; in-process not measured");
        else
            fprintf(f, " the summary's headline llama.cpp / ours uses the in-process mode: the "
                       "own-process mode was not measured (`peer_mode = in-process, process` in "
                       "the experiment's `[sweep]` measures both).");
        said = 1;
    }
    if (!said) fprintf(f, " no llama.cpp configuration was compared with our kernels.");
    fprintf(f, "\n\n");
}

static void peer_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    json_t *const *docs = R->docs; /* this section reads the documents directly */
    const int n_docs = R->n_docs;
    fprintf(f, "## llama.cpp peer\n\n");
    int rows = 0, skipped = 0;
    for (int d = 0; d < n_docs; d++) {
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
            if (strcmp(qk_rj_str(b, "path"), "llama.cpp")) continue;
            if (json_is_true(json_object_get(b, "error_occurred")))
                skipped++;
            else if (qk_rj_is_median(b))
                rows++;
        }
    }
    if (!rows && !skipped) {
        fprintf(f, "Not measured: no results file has a llama.cpp peer configuration. Install the "
                   "peer with `scripts/install-peer.sh`, rebuild, and run an experiment with "
                   "`peer = llama.cpp` in its `[sweep]`.\n\n");
        return;
    }
    if (rows) {
        fprintf(
            f,
            "llama.cpp's own CPU backend (prebuilt) embedding the same tokens of the same GGUF "
            "file, measured in the same interleaved group as our kernels. *llama.cpp / ours*: "
            "the median of the per-repetition ratios llama.cpp time / our fastest kernel's time "
            "(paired, same round), with its 95%% bootstrap interval%s: ours is faster by that "
            "factor when above 1, slower when below. "
            "Cosines: llama.cpp's embedding against our FP32 path and against our kernel, "
            "same sequence.\n\n",
            any_sittings(R) ? " (two-level, over sittings and their repetitions, for results of "
                              "several sittings: see Across sittings)"
                            : "");
        fprintf(f, "Two modes: *in-process*, llama.cpp's library called from our process, its "
                   "threads bound and polled as ours are (the fairest match for the kernels); "
                   "*own process*, llama.cpp in a child process of its own with its default "
                   "threadpool and polling: llama.cpp as its users run it. In these results");
        headline_mode_sentence(f, R);
        fprintf(f,
                "| CPU | model | mode | threads | seq_len | binding | llama.cpp median [95%% CI] "
                "| ours: fastest kernel, median [95%% CI] | llama.cpp / ours [95%% CI] | "
                "cosine vs our "
                "FP32 | cosine vs our kernel | llama.cpp threads |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int d = 0; d < n_docs; d++) {
            size_t i;
            json_t *b;
            json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
                if (!strcmp(qk_rj_str(b, "path"), "llama.cpp") &&
                    !json_is_true(json_object_get(b, "error_occurred")) && qk_rj_is_median(b))
                    peer_row(f, docs[d], b);
            }
        }
        fprintf(f, "\n");
        json_t *info = NULL;
        for (int d = 0; d < n_docs && !info; d++) {
            size_t i;
            json_t *b;
            json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
                if (json_is_object(json_object_get(b, "peer"))) {
                    info = json_object_get(b, "peer");
                    break;
                }
            }
        }
        if (info)
            fprintf(f, "Library: `%s` (%s, llama.cpp commit %.12s); %s.\n\n",
                    qk_rj_str(info, "library_file"), qk_rj_str(info, "package"),
                    qk_rj_str(info, "llama_cpp_commit"), qk_rj_str(info, "system_info"));
    }
    if (skipped) {
        fprintf(f, "Not measured:\n\n");
        for (int d = 0; d < n_docs; d++) {
            size_t i;
            json_t *b;
            json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
                if (!strcmp(qk_rj_str(b, "path"), "llama.cpp") &&
                    json_is_true(json_object_get(b, "error_occurred")))
                    fprintf(f, "- %s: not measured (%s)\n", qk_rj_str(b, "name"),
                            qk_rj_str(b, "error_message"));
            }
        }
        fprintf(f, "\n");
    }
    if (rows && plot && plot->ok)
        fprintf(f, "![llama.cpp time / ours against tokens per pass](peer.png)\n\n");
    else if (rows && plot && plot->has_data)
        fprintf(f, "*Plot peer.png missing: %s.*\n\n", plot->why);
}

/* ---- plot data: peer.dat, peer.vars */

/* Shades of llama.cpp's black and dash types: a look per series, never two alike in a panel. */
static const char *const shade[] = {"#000000", "#555555", "#999999"};
static const int dash[] = {1, 2, 4};

/* The paired ratio llama.cpp time / our fastest kernel's against tokens per pass: a series per
 * (CPU, model, threads, binding, peer mode) with its 95% intervals, the 1x line marked by the
 * script. */
static int peer_data(const rp_report *R) {
    FILE *d = rp_open_out(R, "peer.dat");
    if (!d) return -1;
    fprintf(d, "# one block per series (peer.vars: series_block): tokens, llama.cpp time / ours, "
               "CI low, CI high, our kernel (the fastest of the group)\n");
    rp_plotset ps = {0};
    int points = 0, x_lo = 1 << 30, x_hi = 0;
    double y_hi = 1;
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_peer_point *pp;
        const int n = rp_peer_points(R, g, &pp);
        int *done = calloc((size_t)n + 1, sizeof *done);
        for (int i = 0; done && i < n; i++) {
            if (done[i] || !pp[i].has_cmp) continue;
            /* the series of pp[i]: same model, threads and binding, sorted by tokens */
            int idx[64], m = 0;
            for (int j = i; j < n && m < 64; j++)
                if (!done[j] && pp[j].has_cmp && pp[j].threads == pp[i].threads &&
                    !strcmp(pp[j].model, pp[i].model) && !strcmp(pp[j].binding, pp[i].binding) &&
                    !strcmp(pp[j].mode, pp[i].mode))
                    idx[m++] = j, done[j] = 1;
            for (int a = 1; a < m; a++)
                for (int b = a; b > 0 && pp[idx[b - 1]].seq > pp[idx[b]].seq; b--) {
                    const int t = idx[b];
                    idx[b] = idx[b - 1], idx[b - 1] = t;
                }
            if (!ps.n_p || ps.p[ps.n_p - 1].n == RP_PANEL_MAX_SERIES)
                rp_plotset_panel(&ps, "", 1, ps.n_p + 1);
            char t[128];
            snprintf(t, sizeof t, "%s%s%s%d thread%s%s%s, %s", rp_panel_prefix(R, g).s,
                     R->show_model ? pp[i].model : "", R->show_model ? ", " : "", pp[i].threads,
                     pp[i].threads == 1 ? "" : "s", strcmp(pp[i].binding, "compact") ? ", " : "",
                     strcmp(pp[i].binding, "compact") ? pp[i].binding : "",
                     rp_peer_mode_words(pp[i].mode));
            const int kk = ps.n_p ? ps.p[ps.n_p - 1].n : 0;
            rp_series *s = rp_plotset_series(&ps, R, t, RP_PEER, "", ps.n_s);
            if (s) {
                snprintf(s->look.colour, sizeof s->look.colour, "%s", shade[kk % 3]);
                s->look.dt = dash[(kk / 3) % 3];
                /* the own-process mode's points open, the in-process ones filled */
                if (!strcmp(pp[i].mode, RP_PEER_PROCESS)) s->look.pt = s->look.pt - 1;
            }
            if (ps.n_s > 1) fprintf(d, "\n\n");
            for (int a = 0; a < m; a++) {
                const rp_peer_point *x = &pp[idx[a]];
                char ours[96];
                qk_rj_short_name(ours, sizeof ours, x->base);
                fprintf(d, "%d", x->seq);
                rp_gp_num(d, x->ratio);
                rp_gp_num(d, x->r_lo);
                rp_gp_num(d, x->r_hi);
                fputc(' ', d);
                rp_gp_string(d, ours);
                fprintf(d, "\n");
                points++;
                if (x->seq < x_lo) x_lo = x->seq;
                if (x->seq > x_hi) x_hi = x->seq;
                y_hi = fmax(y_hi, isfinite(x->r_hi) ? x->r_hi : x->ratio);
            }
        }
        free(done);
        free(pp);
    }
    fclose(d);
    if (!points) {
        rp_plotset_free(&ps);
        return 0;
    }
    for (int i = 0; i < ps.n_p; i++)
        snprintf(ps.p[i].title, sizeof ps.p[i].title, "%s",
                 R->n_cpus == 1 ? R->cpus[0].cpu_model : "several CPUs (A, B, ...)");
    for (int i = 0; i < ps.n_s; i++)
        rp_plotset_legend_add(&ps, ps.s[i].title, ps.s[i].look.colour, RP_LEGEND_LINE,
                              ps.s[i].look.dt, ps.s[i].look.pt, 2);
    rp_plotset_legend_add(&ps, "1x: as fast as llama.cpp", RP_REF_COLOUR, RP_LEGEND_LINE, 2, -1, 2);
    FILE *v = rp_open_out(R, "peer.vars");
    int failed = !v || ps.failed;
    if (v) {
        rp_plotset_write(v, &ps);
        fprintf(v, "x_lo = %d\nx_hi = %d\ny_hi = %.6g\n", x_lo, x_hi, y_hi * 1.3);
        failed |= fclose(v) != 0;
    }
    rp_plotset_free(&ps);
    return failed ? -1 : points;
}

const rp_section rp_section_peer = {"peer", peer_data, peer_markdown};
