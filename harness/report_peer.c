/* REPORT.md's "llama.cpp peer" section: see report_peer.h. */
#include "report_peer.h"

#include <math.h>
#include <string.h>

static const char *str_of(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double num_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double ms_of(json_t *rec) {
    const double v = num_of(rec, "real_time");
    const char *u = str_of(rec, "time_unit");
    if (!strcmp(u, "s")) return 1e3 * v;
    if (!strcmp(u, "us")) return 1e-3 * v;
    if (!strcmp(u, "ns")) return 1e-6 * v;
    return v;
}

/* The aggregate `agg` (median, ci_lo, ci_hi) of configuration run_name in doc, in ms (NAN if
 * absent). */
static double agg_ms(json_t *doc, const char *run_name, const char *agg) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        if (!strcmp(str_of(b, "run_type"), "aggregate") &&
            !strcmp(str_of(b, "run_name"), run_name) && !strcmp(str_of(b, "aggregate_name"), agg))
            return ms_of(b);
    }
    return NAN;
}

static json_t *comparison_of(json_t *doc, const char *name) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "comparisons"), i, c) {
        if (!strcmp(str_of(c, "name"), name)) return c;
    }
    return NULL;
}

/* A time or ratio with enough digits and no exponent. */
static int fmt_num(char *buf, size_t size, double v) {
    const double a = fabs(v);
    return snprintf(buf, size, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
}

/* "12.3 ms [11.9, 13.0]" */
static void fmt_ci(char *buf, size_t size, double m, double lo, double hi, const char *unit) {
    if (!isfinite(m)) {
        snprintf(buf, size, "n/a");
        return;
    }
    char a[24], b[24], c[24];
    fmt_num(a, sizeof a, m);
    if (isfinite(lo) && isfinite(hi)) {
        fmt_num(b, sizeof b, lo);
        fmt_num(c, sizeof c, hi);
        snprintf(buf, size, "%s%s [%s, %s]", a, unit, b, c);
    } else {
        snprintf(buf, size, "%s%s", a, unit);
    }
}

static void fmt_cos(char *buf, size_t size, double c) {
    if (isfinite(c))
        snprintf(buf, size, "%.6f", c);
    else
        snprintf(buf, size, "n/a");
}

/* Our configuration's short name: "zero-copy/avx2" from "forward/zero-copy/avx2/t:2/...". */
static void short_name(char *buf, size_t size, const char *name) {
    const char *p = strchr(name, '/');
    p = p ? p + 1 : name;
    const char *t = strstr(p, "/t:");
    snprintf(buf, size, "%.*s", t ? (int)(t - p) : (int)strlen(p), p);
}

static void peer_row(FILE *f, json_t *doc, json_t *med) {
    json_t *ctx = json_object_get(doc, "context");
    const char *name = str_of(med, "run_name");
    char peer[128], ours[256], ratio[200], cf[32], cb[32];
    fmt_ci(peer, sizeof peer, ms_of(med), agg_ms(doc, name, "ci_lo"), agg_ms(doc, name, "ci_hi"),
           " ms");
    json_t *acc = json_object_get(med, "peer_accuracy");
    fmt_cos(cf, sizeof cf, num_of(acc, "cosine_fp32"));
    fmt_cos(cb, sizeof cb, num_of(acc, "cosine_best_int8"));
    json_t *cmp = comparison_of(doc, name);
    const char *base = cmp ? str_of(cmp, "baseline") : str_of(acc, "best_int8");
    snprintf(ours, sizeof ours, "n/a (no int8 kernel in the group)");
    snprintf(ratio, sizeof ratio, "n/a");
    if (*base) {
        char sn[96], m[96];
        short_name(sn, sizeof sn, base);
        fmt_ci(m, sizeof m, agg_ms(doc, base, "median"), agg_ms(doc, base, "ci_lo"),
               agg_ms(doc, base, "ci_hi"), " ms");
        snprintf(ours, sizeof ours, "%s: %s", sn, m);
    }
    if (cmp) {
        const double r = num_of(cmp, "ratio");
        char ci[96], by[24];
        fmt_ci(ci, sizeof ci, r, num_of(cmp, "ci_lo"), num_of(cmp, "ci_hi"), "x");
        fmt_num(by, sizeof by, r >= 1 ? r : 1 / r);
        if (isfinite(r) && r > 0)
            snprintf(ratio, sizeof ratio, "%s: %s %sx faster", ci, r >= 1 ? "ours" : "llama.cpp",
                     by);
        else
            snprintf(ratio, sizeof ratio, "%s", ci);
    }
    json_t *model = json_object_get(ctx, "model");
    fprintf(f, "| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |\n",
            str_of(ctx, "cpu_model"),
            *str_of(model, "spec") ? str_of(model, "spec") : str_of(model, "path"),
            (int)num_of(med, "threads"), (int)num_of(med, "seq_len"), str_of(med, "binding"), peer,
            ours, ratio, cf, cb, str_of(json_object_get(med, "peer"), "binding"));
}

void qk_report_peer_section(FILE *f, json_t *const *docs, int n_docs) {
    fprintf(f, "## llama.cpp peer\n\n");
    int rows = 0, skipped = 0;
    for (int d = 0; d < n_docs; d++) {
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
            if (strcmp(str_of(b, "path"), "llama.cpp")) continue;
            if (json_is_true(json_object_get(b, "error_occurred")))
                skipped++;
            else if (!strcmp(str_of(b, "aggregate_name"), "median"))
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
            f, "llama.cpp's own CPU backend (prebuilt) embedding the same tokens of the same GGUF "
               "file, measured in the same interleaved group as our kernels. *llama.cpp / ours*: "
               "the median of the per-repetition ratios llama.cpp time / our fastest kernel's time "
               "(paired, same round), with its 95%% bootstrap interval: ours is faster by that "
               "factor when above 1, slower when below. "
               "Cosines: llama.cpp's embedding against our FP32 path and against our kernel, "
               "same sequence.\n\n");
        fprintf(f,
                "| CPU | model | threads | seq_len | binding | llama.cpp median [95%% CI] | ours: "
                "fastest kernel, median [95%% CI] | llama.cpp / ours [95%% CI] | "
                "cosine vs our "
                "FP32 | cosine vs our kernel | llama.cpp threads |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int d = 0; d < n_docs; d++) {
            size_t i;
            json_t *b;
            json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
                if (!strcmp(str_of(b, "path"), "llama.cpp") &&
                    !json_is_true(json_object_get(b, "error_occurred")) &&
                    !strcmp(str_of(b, "aggregate_name"), "median"))
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
                    str_of(info, "library_file"), str_of(info, "package"),
                    str_of(info, "llama_cpp_commit"), str_of(info, "system_info"));
    }
    if (skipped) {
        fprintf(f, "Not measured:\n\n");
        for (int d = 0; d < n_docs; d++) {
            size_t i;
            json_t *b;
            json_array_foreach(json_object_get(docs[d], "benchmarks"), i, b) {
                if (!strcmp(str_of(b, "path"), "llama.cpp") &&
                    json_is_true(json_object_get(b, "error_occurred")))
                    fprintf(f, "- %s: not measured (%s)\n", str_of(b, "name"),
                            str_of(b, "error_message"));
            }
        }
        fprintf(f, "\n");
    }
}
