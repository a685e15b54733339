/* REPORT.md's "Across sittings" section: for each results file of K sittings (`qkbench run EXP
 * --sittings K`: the measurement repeated in K separate processes, merged into one file with
 * context.sittings), when and how far apart the sittings ran; every paired ratio of the file (each
 * llama.cpp / ours in its mode, each of our kernels against its baseline) with its pooled value,
 * its two-level interval (resampling sittings, then repetitions within each), the range of the
 * sittings' own ratios and a mark: stable when every sitting's own interval overlaps the pooled
 * one, else how many miss it; a sentence naming the unstable ones; then each forward
 * configuration's pooled median with its two-level interval beside the sittings' medians.
 *
 * Stability is recomputed here from the file's sitting_ratios (the file's own "stable" is not
 * trusted for ratios); a count of sittings that disagrees with the records, or a per-sitting
 * figure that is not a ratio or a time, gives "n/a" and a note, never a figure. Results of one
 * sitting get one paragraph saying what `--sittings K` would add. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sittings.h"
#include "report/json.h"
#include "report/model.h"

/* What the file's context.sittings and its records say, checked against each other. */
typedef struct {
    int k;          /* context.sittings.count; -1 when not a count in 1..QK_SITTINGS_MAX */
    int consistent; /* the records' sitting indices agree with k */
    int raw;        /* iteration records carrying "sitting" */
    int seen;       /* distinct sitting indices among them */
    int bad_index;  /* a record's "sitting" not an integer in 0..k-1 */
} sit_info;

static sit_info check_doc(json_t *doc) {
    sit_info s = {0};
    json_t *sit = json_object_get(json_object_get(doc, "context"), "sittings");
    const int k = qk_rj_int(sit, "count");
    s.k = k >= 1 && k <= QK_SITTINGS_MAX ? k : -1;
    unsigned long long seen = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (strcmp(qk_rj_str(b, "run_type"), "iteration") || !json_object_get(b, "sitting"))
            continue;
        s.raw++;
        const int j = qk_rj_int(b, "sitting");
        if (j < 0 || s.k < 0 || j >= s.k)
            s.bad_index = 1;
        else
            seen |= 1ull << j;
    }
    for (int j = 0; j < QK_SITTINGS_MAX; j++) s.seen += (int)(seen >> j & 1);
    s.consistent = s.k > 0 && !s.bad_index && (!s.raw || s.seen == s.k);
    return s;
}

/* "zero-copy/avx2", or "llama.cpp" for the peer. */
static void config_name(char *buf, size_t size, json_t *doc, const char *name) {
    json_t *m = qk_rj_median(doc, name);
    if (!strcmp(qk_rj_str(m, "path"), "llama.cpp") || strstr(name, "/llama.cpp/"))
        snprintf(buf, size, "llama.cpp");
    else
        qk_rj_short_name(buf, size, name);
}

static int is_peer(json_t *doc, const char *name) {
    json_t *m = qk_rj_median(doc, name);
    return !strcmp(qk_rj_str(m, "path"), "llama.cpp") || strstr(name, "/llama.cpp/") != NULL;
}

/* "16 | 2" (tokens, threads) from the configuration's median record, "n/a" when not counts. */
static void counts_cells(char *buf, size_t size, json_t *med) {
    const int seq = qk_rj_int(med, "seq_len"), t = qk_rj_int(med, "threads");
    char a[16], b[16];
    snprintf(a, sizeof a, med && seq > 0 ? "%d" : "n/a", seq);
    snprintf(b, sizeof b, med && t > 0 ? "%d" : "n/a", t);
    snprintf(buf, size, "%s | %s", a, b);
}

/* A ratio of two times the report prints: positive, finite and within a factor of a million (a
 * 1e300 from a file would otherwise print as 300 digits). */
static int ratio_ok(double r) {
    return isfinite(r) && r >= 1e-6 && r <= 1e6;
}

/* One comparison's row; returns 1 stable, 0 unstable, -1 not checked (the note says why). */
static int ratio_row(FILE *f, json_t *doc, json_t *cmp, const sit_info *si, char *why,
                     size_t why_size) {
    const char *name = qk_rj_str(cmp, "name"), *base = qk_rj_str(cmp, "baseline");
    json_t *med = qk_rj_median(doc, name);
    char a[96], b[96], counts[40];
    config_name(a, sizeof a, doc, name);
    config_name(b, sizeof b, doc, base);
    counts_cells(counts, sizeof counts, med);
    const int peer = is_peer(doc, name);
    json_t *pooled = qk_rj_comparison(doc, name);
    const double r = qk_rj_num(pooled, "ratio"), lo = qk_rj_num(pooled, "ci_lo"),
                 hi = qk_rj_num(pooled, "ci_hi");
    json_t *sr = json_object_get(cmp, "sitting_ratios");
    const int kc = qk_rj_int(cmp, "sittings");
    int verdict = -1, miss = 0;
    double mn = INFINITY, mx = -INFINITY;
    why[0] = 0;
    if (pooled && (!ratio_ok(r) || !ratio_ok(lo) || !ratio_ok(hi))) pooled = NULL;
    if (!pooled)
        snprintf(why, why_size, "its pooled ratio is not a ratio");
    else if (!si->consistent)
        snprintf(why, why_size, "the file's sitting counts disagree");
    else if (kc != si->k || !json_is_array(sr) || (int)json_array_size(sr) != si->k)
        snprintf(why, why_size, "it says %d sittings with %d per-sitting ratios, the file %d",
                 kc < 0 ? -1 : kc, json_is_array(sr) ? (int)json_array_size(sr) : 0, si->k);
    else {
        verdict = 1;
        for (int j = 0; j < si->k && verdict >= 0; j++) {
            json_t *e = json_array_get(sr, (size_t)j);
            const double x = qk_rj_num(e, "ratio"), xl = qk_rj_num(e, "ci_lo"),
                         xh = qk_rj_num(e, "ci_hi");
            if (!ratio_ok(x) || !ratio_ok(xl) || !ratio_ok(xh) || xl > xh) {
                snprintf(why, why_size, "sitting %d's ratio or interval is not a ratio", j + 1);
                verdict = -1;
                break;
            }
            mn = fmin(mn, x), mx = fmax(mx, x);
            miss += xh < lo || xl > hi;
        }
        if (verdict >= 0) verdict = miss == 0;
    }
    char spread[64], mark[128];
    if (verdict >= 0)
        snprintf(spread, sizeof spread, "%s .. %s", rp_fmt_x(mn).s, rp_fmt_x(mx).s);
    else
        snprintf(spread, sizeof spread, "n/a");
    if (verdict == 1)
        snprintf(mark, sizeof mark, "stable");
    else if (verdict == 0)
        snprintf(mark, sizeof mark,
                 "**unstable**: %d of %d sittings' intervals miss the pooled one", miss, si->k);
    else
        snprintf(mark, sizeof mark, "n/a (%s)", why);
    fprintf(f, "| %s / %s | %s | %s | %s | %s | %s |\n", a, b,
            peer ? rp_peer_mode_words(rp_peer_mode(med)) : "—", counts,
            pooled ? rp_fmt_xi(qk_interval_make(r, lo, hi)).s : "n/a", spread, mark);
    if (verdict == 0) { /* the sentence's name of it: "llama.cpp (own process) / gemm/avx2 at
                           1 token, 2 threads" */
        const int seq = qk_rj_int(med, "seq_len"), t = qk_rj_int(med, "threads");
        char at[64] = "";
        if (seq > 0 && t > 0)
            snprintf(at, sizeof at, " at %d token%s, %d thread%s", seq, seq == 1 ? "" : "s", t,
                     t == 1 ? "" : "s");
        snprintf(why, why_size, "%s%s%s%s / %s%s", a, peer ? " (" : "",
                 peer ? rp_peer_mode_words(rp_peer_mode(med)) : "", peer ? ")" : "", b, at);
    }
    return verdict;
}

static void ratios_table(FILE *f, json_t *doc, const sit_info *si) {
    json_t *cmps = json_object_get(doc, "comparisons");
    if (!json_array_size(cmps)) {
        fprintf(f, "No paired ratios in this file.\n\n");
        return;
    }
    fprintf(f,
            "| time ratio | llama.cpp mode | tokens | threads | pooled ratio [two-level 95%% CI] "
            "| sittings' own ratios, min .. max | across sittings |\n");
    fprintf(f, "|---|---|---|---|---|---|---|\n");
    char unstable[2048] = "", why[256];
    int n_stable = 0, n_unstable = 0, n_na = 0;
    for (int pass = 0; pass < 2; pass++) { /* llama.cpp / ours first, then our kernels */
        size_t i;
        json_t *c;
        json_array_foreach(cmps, i, c) {
            if (is_peer(doc, qk_rj_str(c, "name")) != (pass == 0)) continue;
            const int v = ratio_row(f, doc, c, si, why, sizeof why);
            n_stable += v == 1, n_na += v < 0;
            if (v == 0) {
                const size_t used = strlen(unstable);
                snprintf(unstable + used, sizeof unstable - used, "%s%s", n_unstable ? "; " : "",
                         why);
                n_unstable++;
            }
        }
    }
    fprintf(f, "\n");
    if (n_unstable)
        fprintf(f,
                "Unstable: %s. %s moved between sittings by more than %s own interval: quote "
                "%s with the sittings' range beside the pooled interval.",
                unstable, n_unstable == 1 ? "This ratio" : "These ratios",
                n_unstable == 1 ? "its" : "their", n_unstable == 1 ? "it" : "them");
    else if (n_stable)
        fprintf(f,
                "All %d ratios checked are stable: every sitting's own interval overlaps the "
                "pooled one.",
                n_stable);
    if (n_na)
        fprintf(f, "%s%d ratio%s could not be checked (n/a: the table says why).",
                n_unstable || n_stable ? " " : "", n_na, n_na == 1 ? "" : "s");
    fprintf(f, "\n\n");
}

static void medians_table(FILE *f, json_t *doc, const sit_info *si) {
    fprintf(f, "Medians of the forward pass:\n\n| configuration | llama.cpp mode | tokens | "
               "threads | pooled median ms "
               "[two-level 95%% CI] | sittings' medians, min .. max ms | max / min | across "
               "sittings |\n|---|---|---|---|---|---|---|---|\n");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (!qk_rj_is_median(b) || qk_rj_int(b, "rows") > 0 ||
            !strcmp(qk_rj_str(b, "run"), "matmul"))
            continue;
        const char *name = qk_rj_str(b, "run_name");
        const int peer = is_peer(doc, name);
        char cname[96], counts[40];
        config_name(cname, sizeof cname, doc, name);
        counts_cells(counts, sizeof counts, b);
        json_t *sm = json_object_get(b, "sitting_medians");
        const int ks = qk_rj_int(b, "sittings");
        double mn = INFINITY, mx = -INFINITY;
        int ok =
            si->consistent && ks == si->k && json_is_array(sm) && (int)json_array_size(sm) == si->k;
        for (int j = 0; ok && j < si->k; j++) {
            json_t *x = json_array_get(sm, (size_t)j);
            const double v = json_is_number(x) ? json_number_value(x) : NAN;
            ok = qk_rj_time_ok(v);
            if (ok) mn = fmin(mn, v), mx = fmax(mx, v);
        }
        char spread[64], ratio[32], mark[96];
        snprintf(spread, sizeof spread, "n/a");
        snprintf(ratio, sizeof ratio, "n/a");
        if (ok) {
            snprintf(spread, sizeof spread, "%s .. %s", rp_fmt_ms(mn).s, rp_fmt_ms(mx).s);
            snprintf(ratio, sizeof ratio, "%sx", rp_fmt_x(mx / mn).s);
        }
        /* a median's stability needs the sittings' own intervals, which the file does not keep
         * for medians: its "stable" is quoted when it is a plausible claim */
        json_t *st = json_object_get(b, "stable");
        const int us = qk_rj_int(b, "unstable_sittings");
        if (!ok || !json_is_boolean(st) || us < 0 || us > si->k || json_is_true(st) != (us == 0))
            snprintf(mark, sizeof mark, "n/a");
        else if (json_is_true(st))
            snprintf(mark, sizeof mark, "stable");
        else
            snprintf(mark, sizeof mark, "**unstable**: %d of %d sittings", us, si->k);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s |\n", cname,
                peer ? rp_peer_mode_words(rp_peer_mode(b)) : "—", counts,
                rp_fmt_ms_ci(qk_rj_ms(b), qk_rj_agg_ms(doc, name, "ci_lo"),
                             qk_rj_agg_ms(doc, name, "ci_hi"))
                    .s,
                spread, ratio, mark);
    }
    fprintf(f, "\n");
}

/* When the sittings ran: "sitting 0 at DATE (212 s)". */
static void runs_line(FILE *f, json_t *sit, const sit_info *si) {
    json_t *runs = json_object_get(sit, "runs");
    const double sp = qk_rj_num(sit, "spacing_s");
    fprintf(f, "**%d sittings**", si->k);
    if (isfinite(sp) && sp > 0 && sp <= 86400)
        fprintf(f, ", started %.0f s apart", sp);
    else if (sp == 0)
        fprintf(f, ", one after another");
    if (json_is_array(runs) && (int)json_array_size(runs) == si->k) {
        fprintf(f, ":");
        for (int j = 0; j < si->k; j++) {
            json_t *r = json_array_get(runs, (size_t)j);
            const double el = qk_rj_num(r, "elapsed_s");
            /* counted from 1, as run's progress and the sitting-J.json files count them */
            fprintf(f, "%s sitting %d at %s", j ? ";" : "", j + 1,
                    *qk_rj_str(r, "date") ? qk_rj_str(r, "date") : "an unknown date");
            if (isfinite(el) && el >= 0 && el <= 864000)
                fprintf(f, el < 10 ? " (%.1f s)" : " (%.0f s)", el);
        }
    } else if (json_is_array(runs)) {
        fprintf(f, " (the file lists %d sittings' dates, not %d: not shown)",
                (int)json_array_size(runs), si->k);
    }
    fprintf(f, ".");
}

static void doc_section(FILE *f, json_t *doc) {
    json_t *ctx = json_object_get(doc, "context");
    json_t *sit = json_object_get(ctx, "sittings"), *exp = json_object_get(ctx, "experiment");
    const sit_info si = check_doc(doc);
    fprintf(f, "#### %s\n\n", *qk_rj_str(exp, "name") ? qk_rj_str(exp, "name") : "results");
    if (si.k < 0) {
        fprintf(f,
                "*context.sittings.count is not a number of sittings (1..%d): the per-sitting "
                "figures of this file are not used.*\n\n",
                QK_SITTINGS_MAX);
        return;
    }
    runs_line(f, sit, &si);
    if (si.raw)
        fprintf(f, " The file keeps each sitting's raw repetitions (%d records).", si.raw);
    else
        fprintf(f, " The file keeps no per-sitting repetitions (trimmed): the figures below are "
                   "its aggregates.");
    fprintf(f, "\n\n");
    if (!si.consistent)
        fprintf(f,
                "*The records name %d distinct sittings%s, the context %d: the per-sitting "
                "figures below are n/a.*\n\n",
                si.seen, si.bad_index ? " (and an index outside them)" : "", si.k);
    ratios_table(f, doc, &si);
    medians_table(f, doc, &si);
}

static int has_sittings(json_t *doc) {
    return json_is_object(json_object_get(json_object_get(doc, "context"), "sittings"));
}

static void sittings_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    fprintf(f, "## Across sittings\n\n");
    int any = 0;
    for (int d = 0; d < R->n_docs; d++) any |= has_sittings(R->docs[d]);
    if (!any) {
        fprintf(f, "One sitting: every interval in this report comes from the repetitions of one "
                   "process, which share its machine state (its mappings, page placement, clock, "
                   "neighbours) and say little about the next process. `qkbench run EXP "
                   "--sittings K` measures in K separate processes and gives each median and "
                   "ratio a two-level interval, the spread of the sittings' own figures, and "
                   "which ratios are stable across them.\n\n");
        return;
    }
    fprintf(f,
            "Each configuration was measured in K separate processes (sittings), their repetitions "
            "pooled. *Pooled*: the median of every repetition (of every paired per-round "
            "ratio, for a ratio) of all sittings; its interval: a two-level bootstrap that "
            "resamples sittings, then repetitions within each, so it is as wide as the "
            "sittings disagree. Beside it the range of the sittings' own figures. A ratio is "
            "*stable* when every sitting's own 95%% interval overlaps the pooled one; "
            "*unstable* says how many sittings' intervals miss it.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        int here = 0;
        for (int d = 0; d < g->n_docs; d++) here |= has_sittings(R->docs[g->docs[d]]);
        if (!here) continue;
        rp_cpu_heading(f, R, g);
        for (int d = 0; d < g->n_docs; d++)
            if (has_sittings(R->docs[g->docs[d]])) doc_section(f, R->docs[g->docs[d]]);
    }
}

const rp_section rp_section_sittings = {NULL, NULL, sittings_markdown};
