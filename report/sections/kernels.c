/* REPORT.md's "Kernels beyond the story" section: the forward passes of the
 * packed kernels (repacked, gemm, fused) beside the run's baseline kernel (the experiment's first,
 * e.g. zero-copy), per CPU, ISA, threads, activation scheme and seq_len: median with its 95%
 * interval, the paired speedup against the baseline, GOPS and the matmul share of the pass; and,
 * for the fastest kernel, the step measured as Amdahl sees it: p (the baseline's matmul share, from
 * its per-operation profile), s (the matmul speedup, from both profiles), the predicted and the
 * achieved speedup, and the bound 1 / (1 - p). Results without packed kernels give a "not measured"
 * paragraph that says what to run. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

static int is_packed(const char *variant) {
    return !strcmp(variant, "repacked") || !strcmp(variant, "gemm") || !strcmp(variant, "fused");
}

/* Our forward-pass medians (no peer, no FP32 path). */
static int is_forward_int8_median(json_t *b) {
    return qk_rj_is_median(b) && !strcmp(qk_rj_str(b, "run"), "forward") &&
           !strcmp(qk_rj_str(b, "path"), "int8");
}

/* Matmul time and total time of a median's per-operation profile (ms); 0 when it has none. */
static int profile_split(json_t *b, double *matmul, double *total) {
    json_t *p = json_object_get(b, "profile_ms");
    *matmul = *total = 0;
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        if (!json_is_number(v)) continue;
        *total += json_number_value(v);
        if (!strncmp(k, "matmul_", 7)) *matmul += json_number_value(v);
    }
    return *total > 0;
}

/* The group's baseline: what the packed kernels were compared with (the experiment's first
 * kernel on the same ISA), or NULL. */
static json_t *group_baseline(json_t *doc, int group, const char *isa) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (!is_forward_int8_median(b) || qk_rj_int(b, "group") != group ||
            strcmp(qk_rj_str(b, "isa"), isa) || !is_packed(qk_rj_str(b, "variant")))
            continue;
        json_t *cmp = qk_rj_comparison(doc, qk_rj_str(b, "run_name"));
        if (cmp) return qk_rj_median(doc, qk_rj_str(cmp, "baseline"));
    }
    return NULL;
}

/* A comparison holds the paired time ratio config / baseline: the speedup is its inverse. */
static void fmt_speedup(char *buf, size_t size, json_t *cmp) {
    qk_rj_fmt_ci(buf, size, 1 / qk_rj_num(cmp, "ratio"), 1 / qk_rj_num(cmp, "ci_hi"),
                 1 / qk_rj_num(cmp, "ci_lo"), "x");
}

static void kernel_row(FILE *f, json_t *doc, json_t *b, json_t *base) {
    const char *name = qk_rj_str(b, "run_name");
    char sn[96], med[96], vs[96], share[24];
    qk_rj_short_name(sn, sizeof sn, name);
    qk_rj_fmt_ci(med, sizeof med, qk_rj_ms(b), qk_rj_agg_ms(doc, name, "ci_lo"),
                 qk_rj_agg_ms(doc, name, "ci_hi"), " ms");
    json_t *cmp = qk_rj_comparison(doc, name);
    if (b == base)
        snprintf(vs, sizeof vs, "baseline");
    else if (cmp)
        fmt_speedup(vs, sizeof vs, cmp);
    else
        snprintf(vs, sizeof vs, "n/a (not paired)");
    double mm, tot;
    if (profile_split(b, &mm, &tot))
        snprintf(share, sizeof share, "%.1f%%", 100 * mm / tot);
    else
        snprintf(share, sizeof share, "n/a (no profile)");
    fprintf(f, "| %d | %d | %s | %s | %s | %s | %.1f | %s |\n", qk_rj_int(b, "seq_len"),
            qk_rj_int(b, "threads"), qk_rj_str(b, "act_scale"), sn, med, vs, qk_rj_num(b, "gops"),
            share);
}

/* Amdahl for the step baseline -> fastest of the group. */
static void amdahl_row(FILE *f, json_t *doc, json_t *base, json_t *best) {
    char bn[96], fn[96];
    qk_rj_short_name(bn, sizeof bn, qk_rj_str(base, "run_name"));
    qk_rj_short_name(fn, sizeof fn, qk_rj_str(best, "run_name"));
    double bm, bt, fm, ft;
    json_t *cmp = qk_rj_comparison(doc, qk_rj_str(best, "run_name"));
    char achieved[96];
    if (cmp)
        fmt_speedup(achieved, sizeof achieved, cmp);
    else
        snprintf(achieved, sizeof achieved, "%.2fx (unpaired)", qk_rj_ms(base) / qk_rj_ms(best));
    if (!profile_split(base, &bm, &bt) || !profile_split(best, &fm, &ft) || fm <= 0) {
        fprintf(f, "| %d | %d | %s -> %s | n/a | n/a | n/a | n/a | %s |\n",
                qk_rj_int(base, "seq_len"), qk_rj_int(base, "threads"), bn, fn, achieved);
        return;
    }
    const double p = bm / bt, s = bm / fm, predicted = 1 / ((1 - p) + p / s);
    fprintf(f, "| %d | %d | %s -> %s | %.1f%% | %.2fx | %.2fx | %.2fx | %s |\n",
            qk_rj_int(base, "seq_len"), qk_rj_int(base, "threads"), bn, fn, 100 * p, 1 / (1 - p), s,
            predicted, achieved);
}

static void kernels_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    json_t *const *docs = R->docs; /* this section reads the documents directly */
    const int n_docs = R->n_docs;
    fprintf(f, "## Kernels beyond the story\n\n");
    int any = 0;
    for (int d = 0; d < n_docs && !any; d++) {
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
            any |= is_forward_int8_median(b) && is_packed(qk_rj_str(b, "variant"));
        }
    }
    if (!any) {
        fprintf(f, "Not measured: no results file has a forward pass of the packed kernels "
                   "(repacked, gemm, fused). Run `qkbench run experiments/performance.ini`.\n\n");
        return;
    }
    fprintf(f,
            "The packed kernels (kernels/README.md): `repacked` interleaves rows at load so one "
            "activation load feeds a row group; `gemm` adds a register tile of rows x tokens so "
            "each weight load serves several tokens; `fused` is gemm with RMSNorm and GeGLU fused "
            "into the activation quantisation. Forward passes, each against its group's baseline "
            "(the experiment's first kernel on the same ISA), as the median of the paired "
            "per-round ratios with its 95%% bootstrap interval. The matmul share comes from each "
            "configuration's own per-operation profile.\n\n");
    for (int d = 0; d < n_docs; d++) {
        json_t *doc = docs[d];
        json_t *ctx = json_object_get(doc, "context");
        int printed = 0, groups[512], n_groups = 0;
        char isas[512][16];
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
            if (!is_forward_int8_median(b) || !is_packed(qk_rj_str(b, "variant"))) continue;
            const int g = qk_rj_int(b, "group");
            int seen = 0;
            for (int k = 0; k < n_groups; k++)
                seen |= groups[k] == g && !strcmp(isas[k], qk_rj_str(b, "isa"));
            if (seen || n_groups == 512) continue;
            groups[n_groups] = g;
            snprintf(isas[n_groups++], sizeof isas[0], "%s", qk_rj_str(b, "isa"));
        }
        for (int k = 0; k < n_groups; k++) {
            json_t *base = group_baseline(doc, groups[k], isas[k]);
            if (!printed) {
                fprintf(f, "%s, %s:\n\n", qk_rj_str(ctx, "cpu_model"),
                        qk_rj_str(json_object_get(ctx, "model"), "spec"));
                fprintf(f, "| seq_len | threads | act | kernel | median [95%% CI] | speedup vs "
                           "baseline [95%% CI] | GOPS | matmul share |\n");
                fprintf(f, "|---|---|---|---|---|---|---|---|\n");
                printed = 1;
            }
            if (base) kernel_row(f, doc, base, base);
            json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
                if (is_forward_int8_median(b) && b != base && qk_rj_int(b, "group") == groups[k] &&
                    !strcmp(qk_rj_str(b, "isa"), isas[k]))
                    kernel_row(f, doc, b, base);
            }
        }
        if (!printed) continue;
        fprintf(f,
                "\nThe step from the baseline to the fastest kernel, as Amdahl's law sees it: p = "
                "the baseline's matmul share, s = its matmul time / the fastest kernel's (both "
                "profiles), predicted = 1 / ((1 - p) + p / s), bound = 1 / (1 - p) (infinitely "
                "fast matmuls); achieved = the paired ratio.\n\n");
        fprintf(f, "| seq_len | threads | step | p | bound | s | predicted | achieved [95%% CI] "
                   "|\n|---|---|---|---|---|---|---|---|\n");
        for (int k = 0; k < n_groups; k++) {
            json_t *base = group_baseline(doc, groups[k], isas[k]), *best = NULL;
            if (!base) continue;
            json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
                if (is_forward_int8_median(b) && qk_rj_int(b, "group") == groups[k] &&
                    !strcmp(qk_rj_str(b, "isa"), isas[k]) &&
                    (!best || qk_rj_ms(b) < qk_rj_ms(best)))
                    best = b;
            }
            if (best && best != base) amdahl_row(f, doc, base, best);
        }
        fprintf(f, "\n");
    }
}

const rp_section rp_section_kernels = {NULL, NULL, kernels_markdown};
