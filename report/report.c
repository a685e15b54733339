#define _GNU_SOURCE /* open_memstream, strdup */
#include "report/report.h"
#include "report/json.h"
#include "report/kernels.h"
#include "report/peer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/amdahl.h"
#include "harness/cli/args.h"
#include "harness/results.h"

extern char **environ;

/* Every snprintf here writes into a fixed buffer sized for its use; cutting an over-long label is
 * the intended behaviour, not a bug. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static const char usage[] =
    "usage: qkbench report RESULTS.json... [--roofline ROOFLINE.json]... [-o DIR]\n"
    "\n"
    "Writes DIR/REPORT.md (default DIR: report/out): the seed story's tables filled with the\n"
    "measured numbers (the machine, the ladder parse-per-block -> precached-scales -> zero-copy\n"
    "plus alloc-copy, Amdahl measured, memory, accuracy, per-operation breakdown, thread scaling,\n"
    "sequence length, roofline) and plots (PNG + SVG) drawn by the gnuplot scripts report/*.gp\n"
    "(folder: $QK_REPORT_SCRIPTS, else the source tree's report/). Result files from one CPU are\n"
    "merged; several CPUs give a column (or group of rows) each. A section whose data the results\n"
    "lack says what to run. Without gnuplot the tables are still written.\n"
    "\n"
    "  --roofline FILE  ceilings measured by `qkbench roofline --json FILE` (repeatable: matched\n"
    "                   to results by CPU model and host)\n"
    "  -o, --output DIR output folder (created if missing)\n"
    "  --help           this text\n"
    "\n"
    "Exit code: 0 when REPORT.md was written (plots may be missing: see the report), 1 when\n"
    "nothing could be written, 2 on a usage error or an unreadable input.\n";

/* The seed story's figures, shown beside the measured ones (seed-story.md). */
#define STORY_BASE_MS    42.44
#define STORY_ALLOC_MS   66.50
#define STORY_FINAL_MS   30.19
#define STORY_MEM_BEFORE 412.86
#define STORY_MEM_AFTER  425.17

static const char *const seed_variants[] = {"parse-per-block", "precached-scales", "zero-copy",
                                            "alloc-copy"};
#define N_SEED 4
static const char *const op_order[] = {
    "embed",    "norm",      "qk_norm",     "quantize",  "matmul_q",    "matmul_k",
    "matmul_v", "matmul_o",  "matmul_gate", "matmul_up", "matmul_down", "matmul_dense",
    "rope",     "attention", "gelu",        "residual",  "pool"};
#define N_OPS ((int)(sizeof op_order / sizeof *op_order))
static const char *const mm_op_order[] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                          "ffn_gate", "ffn_up", "ffn_down"};
#define N_MM_OPS ((int)(sizeof mm_op_order / sizeof *mm_op_order))

/* ================================================================== the data */

typedef struct {
    int doc;              /* index of the file it came from */
    const char *run_name; /* borrowed from the document */
    const char *variant, *isa, *run, *act, *binding, *path, *op;
    const char
        *model; /* the results file's context.model.spec: runs of different models never mix */
    int threads, seq_len, rows, cols;
    double med, lo, hi, cv; /* ms; cv a fraction */
    int has_med, noisy;
    json_t *agg;       /* the median aggregate record (borrowed): memory, profile_ms, gops... */
    const char *error; /* a skipped configuration's message */
    int has_cmp;       /* a paired comparison with its baseline */
    double ratio, r_lo, r_hi;
    const char *cmp_base;
} cfg;

typedef struct {
    const char *isa, *act, *binding, *model;
    int seq, threads;
} lkey;

/* Set while a report is generated: name the model in headings when the inputs have several. */
static int show_model;

typedef struct {
    char label[12];               /* "A", "B", ... */
    const char *cpu_model, *host; /* borrowed */
    json_t *ctx;                  /* first file's context */
    int *docs, n_docs;
    cfg *cfgs;
    int n_cfgs, cap;
    json_t *accuracy; /* new array: every file's context.accuracy entries */
    json_t *roof;     /* the matching roofline object (borrowed), or NULL */
    int roof_foreign; /* roof measured on another machine (only one given) */
} cpu_group;

typedef struct {
    const qk_report_options *o;
    json_t **docs;
    int n_docs;
    json_t **roofs;
    int n_roofs;
    cpu_group *cpus;
    int n_cpus;
    const char **variants; /* every int8 variant seen, seed ones first */
    int n_variants;
    qk_report_plot plots[QK_REPORT_MAX_PLOTS];
    int n_plots;
    char *outdir;
} report;

static int jint(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int)json_integer_value(v)
           : json_is_real(v)  ? (int)json_real_value(v)
                              : 0;
}

static double to_ms(double v, const char *unit) {
    if (!unit || !*unit || !strcmp(unit, "ms")) return v;
    if (!strcmp(unit, "ns")) return v * 1e-6;
    if (!strcmp(unit, "us")) return v * 1e-3;
    if (!strcmp(unit, "s")) return v * 1e3;
    return NAN;
}

static int isa_rank(const char *isa) {
    if (!strcmp(isa, "scalar")) return 0;
    if (!strcmp(isa, "avx2")) return 1;
    if (!strcmp(isa, "avx512vnni")) return 2;
    return *isa ? 3 : -1;
}

static int variant_rank(const report *R, const char *v) {
    for (int i = 0; i < R->n_variants; i++)
        if (!strcmp(R->variants[i], v)) return i;
    return 1000;
}

static int add_variant(report *R, const char *v) {
    if (!*v || !strcmp(v, "fp32") || variant_rank(R, v) < 1000) return 0;
    const char **nv = realloc(R->variants, (size_t)(R->n_variants + 1) * sizeof *nv);
    if (!nv) return -1;
    R->variants = nv;
    R->variants[R->n_variants++] = v;
    return 0;
}

static cfg *get_cfg(cpu_group *g, int doc, json_t *rec, const char *run_name, const char *model) {
    for (int i = g->n_cfgs - 1; i >= 0; i--)
        if (g->cfgs[i].doc == doc && !strcmp(g->cfgs[i].run_name, run_name)) return &g->cfgs[i];
    if (g->n_cfgs == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        cfg *n = realloc(g->cfgs, (size_t)cap * sizeof *n);
        if (!n) return NULL;
        g->cfgs = n, g->cap = cap;
    }
    cfg *c = &g->cfgs[g->n_cfgs++];
    memset(c, 0, sizeof *c);
    c->doc = doc;
    c->run_name = run_name;
    c->model = model;
    c->variant = qk_rj_str(rec, "variant");
    c->isa = qk_rj_str(rec, "isa");
    c->run = qk_rj_str(rec, "run");
    c->act = qk_rj_str(rec, "act_scale");
    c->binding = qk_rj_str(rec, "binding");
    c->path = qk_rj_str(rec, "path");
    c->op = qk_rj_str(rec, "op");
    c->threads = jint(rec, "threads");
    c->seq_len = jint(rec, "seq_len");
    c->rows = jint(rec, "rows");
    c->cols = jint(rec, "cols");
    if (!*c->path) c->path = strcmp(c->variant, "fp32") ? "int8" : "fp32";
    if (!*c->run) c->run = c->rows ? "matmul" : "forward";
    c->med = c->lo = c->hi = c->cv = NAN;
    return c;
}

static int is_int8(const cfg *c) {
    return !strcmp(c->path, "int8");
}
static int usable(const cfg *c) {
    return c->has_med && !c->error;
}

/* ------------------------------------------------------------------ loading */

static cpu_group *group_for(report *R, json_t *ctx) {
    const char *cpu = qk_rj_str(ctx, "cpu_model"), *host = qk_rj_str(ctx, "host_name");
    for (int i = 0; i < R->n_cpus; i++)
        if (!strcmp(R->cpus[i].cpu_model, cpu) && !strcmp(R->cpus[i].host, host))
            return &R->cpus[i];
    cpu_group *n = realloc(R->cpus, (size_t)(R->n_cpus + 1) * sizeof *n);
    if (!n) return NULL;
    R->cpus = n;
    cpu_group *g = &R->cpus[R->n_cpus];
    memset(g, 0, sizeof *g);
    if (R->n_cpus < 26)
        snprintf(g->label, sizeof g->label, "%c", 'A' + R->n_cpus);
    else
        snprintf(g->label, sizeof g->label, "%d", R->n_cpus + 1);
    g->cpu_model = *cpu ? cpu : "unknown CPU";
    g->host = *host ? host : "unknown host";
    g->ctx = ctx;
    g->accuracy = json_array();
    if (!g->accuracy) return NULL;
    R->n_cpus++;
    return g;
}

static int load_results(report *R, int d, qk_error *err) {
    json_t *doc = R->docs[d];
    json_t *ctx = json_object_get(doc, "context");
    cpu_group *g = group_for(R, ctx);
    if (!g) return qk_fail(err, "out of memory");
    int *nd = realloc(g->docs, (size_t)(g->n_docs + 1) * sizeof *nd);
    if (!nd) return qk_fail(err, "out of memory");
    g->docs = nd;
    g->docs[g->n_docs++] = d;
    json_t *mod = json_object_get(ctx, "model");
    const char *model = *qk_rj_str(mod, "spec") ? qk_rj_str(mod, "spec") : qk_rj_str(mod, "path");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *run_name = json_string_value(json_object_get(b, "run_name"));
        if (!run_name) run_name = json_string_value(json_object_get(b, "name"));
        if (!run_name) continue;
        const int failed = json_is_true(json_object_get(b, "error_occurred"));
        const char *type = qk_rj_str(b, "run_type");
        if (!failed && strcmp(type, "aggregate")) continue;
        if (!strcmp(qk_rj_str(b, "path"), "llama.cpp")) continue; /* the peer: report_peer.c */
        cfg *c = get_cfg(g, d, b, run_name, model);
        if (!c) return qk_fail(err, "out of memory");
        if (add_variant(R, c->variant)) return qk_fail(err, "out of memory");
        if (failed) {
            c->error = qk_rj_str(b, "error_message");
            if (!*c->error) c->error = "skipped";
            continue;
        }
        const char *an = qk_rj_str(b, "aggregate_name");
        const double v = qk_rj_num(b, "real_time");
        const double ms = to_ms(v, qk_rj_str(b, "time_unit"));
        if (!strcmp(an, "median") && isfinite(ms)) {
            c->med = ms;
            c->has_med = 1;
            c->agg = b;
            c->noisy = json_is_true(json_object_get(b, "noisy"));
        } else if (!strcmp(an, "ci_lo")) {
            c->lo = ms;
        } else if (!strcmp(an, "ci_hi")) {
            c->hi = ms;
        } else if (!strcmp(an, "cv")) {
            c->cv = v;
        }
    }
    json_array_foreach(json_object_get(doc, "comparisons"), i, b) {
        const char *name = qk_rj_str(b, "name");
        for (int k = 0; k < g->n_cfgs; k++) {
            cfg *c = &g->cfgs[k];
            if (c->doc != d || strcmp(c->run_name, name)) continue;
            c->has_cmp = json_is_number(json_object_get(b, "ratio"));
            c->ratio = qk_rj_num(b, "ratio");
            c->r_lo = qk_rj_num(b, "ci_lo");
            c->r_hi = qk_rj_num(b, "ci_hi");
            c->cmp_base = qk_rj_str(b, "baseline");
        }
    }
    json_array_foreach(json_object_get(ctx, "accuracy"), i, b) {
        if (json_is_object(b)) json_array_append(g->accuracy, b);
    }
    return 0;
}

static void match_rooflines(report *R) {
    for (int c = 0; c < R->n_cpus; c++) {
        cpu_group *g = &R->cpus[c];
        for (int r = 0; r < R->n_roofs && !g->roof; r++) {
            json_t *ctx = json_object_get(R->roofs[r], "context");
            if (!strcmp(qk_rj_str(ctx, "cpu_model"), g->cpu_model) &&
                (!strcmp(qk_rj_str(ctx, "host_name"), g->host) || R->n_roofs == 1))
                g->roof = R->roofs[r];
        }
        if (!g->roof && R->n_roofs == 1 && R->n_cpus == 1) {
            g->roof = R->roofs[0];
            g->roof_foreign = 1;
        }
    }
}

/* ================================================================== lookups */

static int lkey_cmp(const lkey *a, const lkey *b) {
    int d = isa_rank(a->isa) - isa_rank(b->isa);
    if (d) return d;
    if ((d = strcmp(a->isa, b->isa))) return d;
    if ((d = a->seq - b->seq)) return d;
    if ((d = a->threads - b->threads)) return d;
    if ((d = strcmp(a->act, b->act))) return d;
    if ((d = strcmp(a->binding, b->binding))) return d;
    return strcmp(a->model, b->model);
}

static lkey key_of(const cfg *c) {
    lkey k = {c->isa, c->act, c->binding, c->model, c->seq_len, c->threads};
    return k;
}

/* Distinct keys of the usable int8 configurations of `run`, sorted. *out is malloc'd. */
static int collect_keys(const cpu_group *g, const char *run, lkey **out) {
    lkey *k = malloc((size_t)(g->n_cfgs + 1) * sizeof *k);
    int n = 0;
    if (!k) return (*out = NULL), 0;
    for (int i = 0; i < g->n_cfgs; i++) {
        const cfg *c = &g->cfgs[i];
        if (!usable(c) || !is_int8(c) || strcmp(c->run, run)) continue;
        lkey x = key_of(c);
        int j = 0;
        while (j < n && lkey_cmp(&k[j], &x)) j++;
        if (j == n) k[n++] = x;
    }
    for (int i = 1; i < n; i++) /* insertion sort: few keys */
        for (int j = i; j > 0 && lkey_cmp(&k[j - 1], &k[j]) > 0; j--) {
            lkey t = k[j];
            k[j] = k[j - 1];
            k[j - 1] = t;
        }
    *out = k;
    return n;
}

static const cfg *find_cfg(const cpu_group *g, const char *run, const char *variant, const lkey *k,
                           const char *op) {
    for (int i = 0; i < g->n_cfgs; i++) {
        const cfg *c = &g->cfgs[i];
        if (!usable(c) || !is_int8(c) || strcmp(c->run, run) || strcmp(c->variant, variant))
            continue;
        if (strcmp(c->isa, k->isa) || c->seq_len != k->seq || c->threads != k->threads ||
            strcmp(c->act, k->act) || strcmp(c->binding, k->binding) || strcmp(c->model, k->model))
            continue;
        if (op && strcmp(c->op, op)) continue;
        return c;
    }
    return NULL;
}

static const cfg *find_fp32(const cpu_group *g, const lkey *k) {
    for (int i = 0; i < g->n_cfgs; i++) {
        const cfg *c = &g->cfgs[i];
        if (usable(c) && !is_int8(c) && !strcmp(c->run, "forward") && c->seq_len == k->seq &&
            c->threads == k->threads && !strcmp(c->binding, k->binding) &&
            !strcmp(c->model, k->model))
            return c;
    }
    return NULL;
}

/* Speedup of v against the baseline b (b time / v time): the paired comparison when the results
 * have it, else the ratio of medians with the conservative hull of the two intervals. */
static qk_interval speedup_of(const cfg *v, const cfg *b, int *paired) {
    if (v == b) {
        if (paired) *paired = 1;
        return qk_interval_point(1.0);
    }
    if (v->has_cmp && !strcmp(v->cmp_base, b->run_name) && v->doc == b->doc) {
        if (paired) *paired = 1;
        return qk_speedup_from_ratio(qk_interval_make(v->ratio, v->r_lo, v->r_hi));
    }
    if (paired) *paired = 0;
    return qk_interval_make(b->med / v->med, b->lo / v->hi, b->hi / v->lo);
}

/* Time of v relative to b (v/b), interval as above. */
static qk_interval ratio_of(const cfg *v, const cfg *b) {
    if (v == b) return qk_interval_point(1.0);
    if (v->has_cmp && !strcmp(v->cmp_base, b->run_name) && v->doc == b->doc)
        return qk_interval_make(v->ratio, v->r_lo, v->r_hi);
    return qk_interval_make(v->med / b->med, v->lo / b->hi, v->hi / b->lo);
}

/* ---- per-operation profiles */

static json_t *profile_of(const cfg *c) {
    json_t *p = c && c->agg ? json_object_get(c->agg, "profile_ms") : NULL;
    return json_is_object(p) && json_object_size(p) ? p : NULL;
}
static double prof_sum(json_t *p, int matmul_only) {
    double s = 0;
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        if (json_is_number(v) && (!matmul_only || !strncmp(k, "matmul_", 7)))
            s += json_number_value(v);
    }
    return s;
}

/* ---- matmul-only runs: the model's per-layer mix */

/* How often a matmul shape runs per layer, given which shapes the run measured (distinct shapes
 * only: attn_v = attn_k, ffn_up = ffn_gate, attn_output = attn_q when square). */
static int op_weight(const cpu_group *g, const lkey *k, const cfg *c) {
    const char *op = c->op;
    if (!strcmp(op, "attn_q"))
        return 1 +
               (c->rows == c->cols && !find_cfg(g, "matmul", "parse-per-block", k, "attn_output"));
    if (!strcmp(op, "attn_k")) return find_cfg(g, "matmul", "parse-per-block", k, "attn_v") ? 1 : 2;
    if (!strcmp(op, "ffn_gate"))
        return find_cfg(g, "matmul", "parse-per-block", k, "ffn_up") ? 1 : 2;
    return 1;
}

/* The baseline's matmul configurations at key k (every shape measured). */
static int mm_shapes(const cpu_group *g, const lkey *k, const cfg **out, int max) {
    int n = 0;
    for (int o = 0; o < N_MM_OPS + 1 && n < max; o++) {
        for (int i = 0; i < g->n_cfgs && n < max; i++) {
            const cfg *c = &g->cfgs[i];
            if (!usable(c) || !is_int8(c) || strcmp(c->run, "matmul") ||
                strcmp(c->variant, "parse-per-block"))
                continue;
            if (strcmp(c->isa, k->isa) || c->seq_len != k->seq || c->threads != k->threads ||
                strcmp(c->act, k->act) || strcmp(c->binding, k->binding) ||
                strcmp(c->model, k->model))
                continue;
            int known = -1;
            for (int j = 0; j < N_MM_OPS; j++)
                if (!strcmp(c->op, mm_op_order[j])) known = j;
            if ((o < N_MM_OPS && known == o) || (o == N_MM_OPS && known < 0)) {
                int dup = 0;
                for (int j = 0; j < n; j++) dup |= !strcmp(out[j]->op, c->op);
                if (!dup) out[n++] = c;
            }
        }
    }
    return n;
}

/* Local speedup of `variant` over the per-layer mix of the measured shapes at key k:
 * T_base / T_variant with T = sum(weight x median). Interval from the paired per-shape ratios when
 * every shape has one, else from the medians' intervals (conservative). 0 ok, -1 missing data. */
static int mix_speedup(const cpu_group *g, const lkey *k, const char *variant, qk_interval *s,
                       double *t_base, double *t_var, int *n_shapes, int *paired_out) {
    const cfg *sh[32];
    const int n = mm_shapes(g, k, sh, 32);
    if (n == 0) return -1;
    double tb = 0, tv = 0, tb_lo = 0, tb_hi = 0, tv_lo = 0, tv_hi = 0, tr_lo = 0, tr_hi = 0;
    int paired = 1;
    for (int i = 0; i < n; i++) {
        const cfg *v = find_cfg(g, "matmul", variant, k, sh[i]->op);
        if (!v) return -1;
        const double w = op_weight(g, k, sh[i]);
        tb += w * sh[i]->med, tv += w * v->med;
        tb_lo += w * sh[i]->lo, tb_hi += w * sh[i]->hi;
        tv_lo += w * v->lo, tv_hi += w * v->hi;
        if (v != sh[i] && v->has_cmp && v->doc == sh[i]->doc &&
            !strcmp(v->cmp_base, sh[i]->run_name)) {
            tr_lo += w * sh[i]->med * v->r_lo;
            tr_hi += w * sh[i]->med * v->r_hi;
        } else if (v == sh[i]) {
            tr_lo += w * sh[i]->med, tr_hi += w * sh[i]->med;
        } else {
            paired = 0;
        }
    }
    s->value = tb / tv;
    if (paired)
        s->lo = tb / tr_hi, s->hi = tb / tr_lo;
    else
        s->lo = tb_lo / tv_hi, s->hi = tb_hi / tv_lo;
    if (t_base) *t_base = tb;
    if (t_var) *t_var = tv;
    if (n_shapes) *n_shapes = n;
    if (paired_out) *paired_out = paired;
    return 0;
}

/* ================================================================== formatting */

typedef struct {
    char s[160];
} str;

static str fmt_ms(double v) {
    str r;
    if (isnan(v))
        snprintf(r.s, sizeof r.s, "n/a");
    else if (fabs(v) >= 100)
        snprintf(r.s, sizeof r.s, "%.1f", v);
    else if (fabs(v) >= 10)
        snprintf(r.s, sizeof r.s, "%.2f", v);
    else if (fabs(v) >= 1)
        snprintf(r.s, sizeof r.s, "%.3f", v);
    else
        snprintf(r.s, sizeof r.s, "%.4f", v);
    return r;
}
static str fmt_ms_ci(double m, double lo, double hi) {
    str r;
    if (isnan(lo) || isnan(hi))
        snprintf(r.s, sizeof r.s, "%s", fmt_ms(m).s);
    else
        snprintf(r.s, sizeof r.s, "%s [%s, %s]", fmt_ms(m).s, fmt_ms(lo).s, fmt_ms(hi).s);
    return r;
}
static str fmt_x(double v) {
    str r;
    if (isnan(v))
        snprintf(r.s, sizeof r.s, "n/a");
    else if (isinf(v))
        snprintf(r.s, sizeof r.s, "%sinf", v < 0 ? "-" : "");
    else
        snprintf(r.s, sizeof r.s, "%.3f", v);
    return r;
}
static str fmt_xi(qk_interval x) {
    str r;
    if (isnan(x.lo) || isnan(x.hi) || (x.lo == x.value && x.hi == x.value))
        snprintf(r.s, sizeof r.s, "%sx", fmt_x(x.value).s);
    else
        snprintf(r.s, sizeof r.s, "%sx [%s, %s]", fmt_x(x.value).s, fmt_x(x.lo).s, fmt_x(x.hi).s);
    return r;
}
static str fmt_pct(double f) {
    str r;
    if (isnan(f))
        snprintf(r.s, sizeof r.s, "n/a");
    else if (isinf(f))
        snprintf(r.s, sizeof r.s, "%sinf", f < 0 ? "-" : "");
    else
        snprintf(r.s, sizeof r.s, "%.1f%%", 100 * f);
    return r;
}
static str fmt_pct_i(qk_interval x) {
    str r;
    if (isnan(x.lo) || isnan(x.hi) || (x.lo == x.value && x.hi == x.value))
        snprintf(r.s, sizeof r.s, "%s", fmt_pct(x.value).s);
    else
        snprintf(r.s, sizeof r.s, "%s [%s, %s]", fmt_pct(x.value).s, fmt_pct(x.lo).s,
                 fmt_pct(x.hi).s);
    return r;
}
static str fmt_mb(double bytes) {
    str r;
    if (isnan(bytes))
        snprintf(r.s, sizeof r.s, "n/a");
    else
        snprintf(r.s, sizeof r.s, "%.2f", bytes / 1e6);
    return r;
}
static str fmt_key(const lkey *k) {
    str r;
    snprintf(r.s, sizeof r.s, "%s%s%s, %d token%s, %d thread%s, act %s%s%s",
             show_model ? k->model : "", show_model ? ": " : "", k->isa, k->seq,
             k->seq == 1 ? "" : "s", k->threads, k->threads == 1 ? "" : "s", k->act,
             strcmp(k->binding, "compact") ? ", bind " : "",
             strcmp(k->binding, "compact") ? k->binding : "");
    return r;
}
/* "A " prefix for plot labels when several CPUs */
static str plot_prefix(const report *R, const cpu_group *g) {
    str r;
    if (R->n_cpus > 1)
        snprintf(r.s, sizeof r.s, "%s ", g->label);
    else
        r.s[0] = 0;
    return r;
}
static const char *short_variant(const char *v) {
    if (!strcmp(v, "parse-per-block")) return "parse";
    if (!strcmp(v, "precached-scales")) return "precached";
    if (!strcmp(v, "alloc-copy")) return "alloc";
    if (!strcmp(v, "zero-copy")) return "zero-copy";
    return v;
}

/* A CPU's heading (level ###) when the report has several CPUs; nothing otherwise. */
static void cpu_heading(FILE *f, const report *R, const cpu_group *g) {
    if (R->n_cpus > 1) fprintf(f, "### CPU %s: %s (%s)\n\n", g->label, g->cpu_model, g->host);
}

static void not_measured(FILE *f, const char *what, const char *run) {
    fprintf(f, "*Not measured in these results: %s. Run %s.*\n\n", what, run);
}

/* ================================================================== headline */

/* The configuration the summaries quote: a forward key with both parse-per-block and zero-copy,
 * preferring the widest ISA, then the most threads, then the sequence length nearest 16, then
 * per-token activation scales. 0 if there is one. */
static int headline(const cpu_group *g, lkey *out) {
    lkey *k;
    const int n = collect_keys(g, "forward", &k);
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!find_cfg(g, "forward", "parse-per-block", &k[i], NULL) ||
            !find_cfg(g, "forward", "zero-copy", &k[i], NULL))
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        const lkey *a = &k[i], *b = &k[best];
        int d = isa_rank(a->isa) - isa_rank(b->isa);
        if (!d) d = a->threads - b->threads;
        if (!d) d = abs(b->seq - 16) - abs(a->seq - 16);
        if (!d) d = !strcmp(a->act, "token") - !strcmp(b->act, "token");
        if (d > 0) best = i;
    }
    if (best >= 0) *out = k[best];
    free(k);
    return best >= 0 ? 0 : -1;
}

/* The Amdahl figures of one (key, variant). */
typedef struct {
    int has_p, has_s, has_ach;
    double p, prof_total, removed; /* removed: matmul time the variant removed / baseline total */
    qk_interval s, pred, bound, ach;
    double implied;
    const char *s_source;
    char s_note[96];
    qk_amdahl_verdict verdict;
    char line[512];
} amdahl_row;

static void amdahl_for(const cpu_group *g, const lkey *k, const char *variant, amdahl_row *a) {
    memset(a, 0, sizeof *a);
    a->p = a->removed = a->implied = NAN;
    a->s = a->pred = a->bound = a->ach = qk_interval_point(NAN);
    a->s_source = "";
    const cfg *b = find_cfg(g, "forward", "parse-per-block", k, NULL);
    const cfg *v = find_cfg(g, "forward", variant, k, NULL);
    json_t *pb = profile_of(b), *pv = profile_of(v);
    if (pb) {
        a->prof_total = prof_sum(pb, 0);
        if (a->prof_total > 0) {
            a->has_p = 1;
            a->p = prof_sum(pb, 1) / a->prof_total;
            if (pv) a->removed = (prof_sum(pb, 1) - prof_sum(pv, 1)) / a->prof_total;
        }
    }
    int n_shapes = 0, paired = 0;
    if (mix_speedup(g, k, variant, &a->s, NULL, NULL, &n_shapes, &paired) == 0) {
        a->has_s = 1;
        a->s_source = "matmul-only runs";
        snprintf(a->s_note, sizeof a->s_note, "matmul-only, %d shape%s per-layer mix%s", n_shapes,
                 n_shapes == 1 ? "" : "s", paired ? "" : ", unpaired");
    } else if (pb && pv && prof_sum(pv, 1) > 0) {
        a->has_s = 1;
        a->s = qk_interval_point(prof_sum(pb, 1) / prof_sum(pv, 1));
        a->s.lo = a->s.hi = NAN; /* a few profiled passes: no interval */
        a->s_source = "profiles";
        snprintf(a->s_note, sizeof a->s_note, "profiles' matmul time ratio (no interval)");
    }
    if (b && v) {
        a->has_ach = 1;
        a->ach = speedup_of(v, b, NULL);
    }
    if (a->has_p) a->bound = qk_amdahl_bound_interval(qk_interval_point(a->p));
    const int s_point = isnan(a->s.lo);
    if (a->has_p && a->has_s) {
        qk_interval s = a->s;
        if (s_point) s.lo = s.hi = s.value;
        a->pred = qk_amdahl_predicted_interval(qk_interval_point(a->p), s);
    }
    if (a->has_ach && a->has_s) a->implied = qk_amdahl_implied_p(a->ach.value, a->s.value);
    if (a->has_p && a->has_s && a->has_ach) {
        a->verdict =
            qk_amdahl_verdict_line(a->pred, a->ach, a->bound.value, a->line, sizeof a->line);
        if (s_point) {
            const size_t l = strlen(a->line);
            snprintf(a->line + l, sizeof a->line - l,
                     " (the prediction has no interval: s comes from the profiles; matmul-only "
                     "runs would give one)");
        }
    } else
        snprintf(a->line, sizeof a->line, "unknown: %s",
                 !a->has_p   ? "no profile of the baseline"
                 : !a->has_s ? "no local speedup (no matmul-only runs, no profile of the variant)"
                             : "no end-to-end time of the variant");
}

/* ================================================================== REPORT.md sections */

static const char *ctx_counters(json_t *ctx, char *buf, size_t size) {
    json_t *c = json_object_get(ctx, "counters");
    if (!json_is_object(c)) return "not recorded";
    if (json_is_true(json_object_get(c, "available")))
        snprintf(buf, size, "available");
    else
        snprintf(buf, size, "unavailable: %s", qk_rj_str(c, "reason"));
    return buf;
}

static void section_machine(FILE *f, const report *R) {
    fprintf(f, "## 1. The machine and the run\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        json_t *ctx = g->ctx, *topo = json_object_get(ctx, "topology");
        cpu_heading(f, R, g);
        fprintf(f, "| | |\n|---|---|\n");
        fprintf(f, "| CPU | %s |\n| host | %s |\n", g->cpu_model, g->host);
        if (json_is_object(topo))
            fprintf(f, "| cores / PUs (usable) | %d / %d (%d / %d, cpuset %s) |\n",
                    jint(topo, "cores"), jint(topo, "pus"), jint(topo, "usable_cores"),
                    jint(topo, "usable_pus"), qk_rj_str(topo, "usable_cpuset"));
        else
            fprintf(f, "| CPUs | %d |\n", jint(ctx, "num_cpus"));
        json_t *caches = json_object_get(topo, "caches");
        if (!json_is_array(caches)) caches = json_object_get(ctx, "caches");
        if (json_array_size(caches)) {
            fprintf(f, "| caches |");
            size_t i;
            json_t *ca;
            json_array_foreach(caches, i, ca) {
                double sz = qk_rj_num(ca, "size_bytes");
                if (isnan(sz)) sz = qk_rj_num(ca, "size");
                const char *type = qk_rj_str(ca, "type");
                if (!strcmp(type, "Instruction") || !strcmp(type, "instruction")) continue;
                int sharing = jint(ca, "cores_sharing");
                if (!sharing) sharing = jint(ca, "num_sharing");
                fprintf(f, "%s L%d %.0f KiB (shared by %d)", i ? "," : "", jint(ca, "level"),
                        sz / 1024, sharing);
            }
            fprintf(f, " |\n");
        }
        const char *flags = qk_rj_str(ctx, "cpu_flags");
        static const char *const interesting[] = {"avx2",        "fma",      "f16c",
                                                  "avx512f",     "avx512bw", "avx512vl",
                                                  "avx512_vnni", "avx_vnni", "amx_int8"};
        fprintf(f, "| SIMD flags |");
        int any = 0;
        for (size_t i = 0; i < sizeof interesting / sizeof *interesting; i++) {
            const size_t l = strlen(interesting[i]);
            for (const char *p = strstr(flags, interesting[i]); p;
                 p = strstr(p + 1, interesting[i]))
                if ((p == flags || p[-1] == ' ') && (p[l] == ' ' || p[l] == 0)) {
                    fprintf(f, " %s", interesting[i]);
                    any = 1;
                    break;
                }
        }
        fprintf(f, "%s |\n", any ? "" : " none of avx2/avx512/vnni");
        char buf[512];
        fprintf(f, "| compiler | %s (%s%s%s) |\n", qk_rj_str(ctx, "compiler"),
                qk_rj_str(ctx, "build_type"), *qk_rj_str(ctx, "c_flags") ? ", flags" : "",
                qk_rj_str(ctx, "c_flags"));
        if (json_is_true(json_object_get(ctx, "sanitized")))
            fprintf(f, "| sanitized | yes: timings are not representative |\n");
        fprintf(f, "| qkbench | %s, commit %s |\n", qk_rj_str(ctx, "qkbench_version"),
                qk_rj_str(ctx, "git_commit"));
        fprintf(f, "| hardware counters | %s |\n", ctx_counters(ctx, buf, sizeof buf));
        json_t *la = json_object_get(ctx, "load_avg");
        if (json_array_size(la) >= 3)
            fprintf(f, "| load average at start | %.2f %.2f %.2f |\n",
                    json_number_value(json_array_get(la, 0)),
                    json_number_value(json_array_get(la, 1)),
                    json_number_value(json_array_get(la, 2)));
        fprintf(f, "\n| results file | experiment | model | repetitions | warm-ups | quick | "
                   "complete | date |\n|---|---|---|---|---|---|---|---|\n");
        int few = 0;
        for (int d = 0; d < g->n_docs; d++) {
            json_t *doc = R->docs[g->docs[d]], *dc = json_object_get(doc, "context");
            json_t *ex = json_object_get(dc, "experiment"), *model = json_object_get(dc, "model");
            const int reps = jint(ex, "repetitions");
            few |= reps > 0 && reps < 8;
            fprintf(f, "| %s | %s (%s) | %s | %d | %d | %s | %s | %s |\n",
                    R->o->results[g->docs[d]], qk_rj_str(ex, "name"), qk_rj_str(ex, "file"),
                    qk_rj_str(model, "spec"), reps, jint(ex, "warmups"),
                    json_is_true(json_object_get(ex, "quick")) ? "yes" : "no",
                    json_is_true(json_object_get(doc, "complete")) ? "yes" : "**no (interrupted)**",
                    qk_rj_str(dc, "date"));
        }
        fprintf(f, "\n");
        if (few)
            fprintf(f, "Intervals from fewer than 8 repetitions are indicative only: a 95%% "
                       "bootstrap interval of the median covers the true median 75-88%% of the "
                       "time with 3-7 repetitions (experiments/README.md).\n\n");
    }
}

/* ---- the ladder */

static void ladder_forward_table(FILE *f, const report *R, const cpu_group *g, const lkey *k) {
    const cfg *b = find_cfg(g, "forward", "parse-per-block", k, NULL);
    fprintf(f, "#### Forward pass: %s\n\n", fmt_key(k).s);
    if (!b) {
        fprintf(f, "*No parse-per-block baseline at this configuration: times only.*\n\n");
    }
    const cfg *pre = find_cfg(g, "forward", "precached-scales", k, NULL);
    const cfg *zero = find_cfg(g, "forward", "zero-copy", k, NULL);
    qk_interval share[2] = {qk_interval_point(NAN), qk_interval_point(NAN)};
    int have_shares = 0;
    if (b && pre && zero) {
        qk_interval t[3] = {qk_interval_point(1.0), ratio_of(pre, b), ratio_of(zero, b)};
        have_shares = qk_amdahl_step_shares(t, 3, share) == 0;
    }
    fprintf(f, "| step | variant | median ms [95%% CI] | speedup vs parse-per-block [95%% CI] | "
               "share of the total gain [95%% CI] | allocations / pass | the story |\n"
               "|---|---|---|---|---|---|---|\n");
    for (int vi = 0; vi < R->n_variants; vi++) {
        const char *v = R->variants[vi];
        const cfg *c = find_cfg(g, "forward", v, k, NULL);
        if (!c) continue;
        const char *step = !strcmp(v, "parse-per-block")    ? "baseline"
                           : !strcmp(v, "precached-scales") ? "1: scales converted at load"
                           : !strcmp(v, "zero-copy")        ? "2: int8 read in place"
                           : !strcmp(v, "alloc-copy")       ? "regression: malloc per block"
                                                            : "beyond the seed";
        int paired = 0;
        str sp = {"n/a"};
        if (b) {
            qk_interval s = speedup_of(c, b, &paired);
            snprintf(sp.s, sizeof sp.s, "%s%s", fmt_xi(s).s,
                     c != b && !paired ? " (unpaired)" : "");
            if (c != b && s.hi < 1)
                snprintf(sp.s + strlen(sp.s), sizeof sp.s - strlen(sp.s), ": %.2fx slower",
                         1.0 / s.value);
        }
        str sh = {"—"};
        if (have_shares && c == pre) sh = fmt_pct_i(share[0]);
        if (have_shares && c == zero) sh = fmt_pct_i(share[1]);
        const char *story = !strcmp(v, "parse-per-block")    ? "42.44 ms"
                            : !strcmp(v, "precached-scales") ? "not measured"
                            : !strcmp(v, "zero-copy")        ? "30.19 ms (1.41x faster)"
                            : !strcmp(v, "alloc-copy")       ? "66.50 ms (1.57x slower)"
                                                             : "—";
        const double allocs = qk_rj_num(c->agg, "allocations_per_pass");
        char al[32] = "n/a";
        if (!isnan(allocs)) snprintf(al, sizeof al, "%.0f", allocs);
        fprintf(f, "| %s | %s | %s%s | %s | %s | %s | %s |\n", step, v,
                fmt_ms_ci(c->med, c->lo, c->hi).s, c->noisy ? " (noisy)" : "", sp.s, sh.s, al,
                story);
    }
    const cfg *fp = find_fp32(g, k);
    if (fp) {
        str sp = {"n/a"};
        if (b) sp = fmt_xi(speedup_of(fp, b, NULL));
        fprintf(f, "| reference | fp32 path (no kernel) | %s | %s | — | — | — |\n",
                fmt_ms_ci(fp->med, fp->lo, fp->hi).s, sp.s);
    }
    fprintf(f, "\n");
}

static void ladder_matmul_table(FILE *f, const report *R, const cpu_group *g, const lkey *k) {
    const cfg *sh[32];
    const int n = mm_shapes(g, k, sh, 32);
    fprintf(f, "#### Matmul only: %s\n\n", fmt_key(k).s);
    if (n == 0) {
        fprintf(f, "*No parse-per-block baseline at this configuration.*\n\n");
        return;
    }
    fprintf(f, "| variant |");
    for (int i = 0; i < n; i++)
        fprintf(f, " %s %dx%d (x%d) ms |", sh[i]->op, sh[i]->rows, sh[i]->cols,
                op_weight(g, k, sh[i]));
    fprintf(f, " per-layer mix ms | speedup [95%% CI] | share of the gain |\n|---|");
    for (int i = 0; i < n + 3; i++) fprintf(f, "---|");
    fprintf(f, "\n");
    qk_interval shr[2] = {qk_interval_point(NAN), qk_interval_point(NAN)};
    int have_shares = 0;
    {
        double tb, tp, tz;
        qk_interval s;
        if (mix_speedup(g, k, "parse-per-block", &s, &tb, NULL, NULL, NULL) == 0 &&
            mix_speedup(g, k, "precached-scales", &s, NULL, &tp, NULL, NULL) == 0 &&
            mix_speedup(g, k, "zero-copy", &s, NULL, &tz, NULL, NULL) == 0) {
            qk_interval t[3] = {qk_interval_point(tb), qk_interval_point(tp),
                                qk_interval_point(tz)};
            have_shares = qk_amdahl_step_shares(t, 3, shr) == 0;
        }
    }
    for (int vi = 0; vi < R->n_variants; vi++) {
        const char *v = R->variants[vi];
        int any = 0;
        for (int i = 0; i < n; i++) any |= find_cfg(g, "matmul", v, k, sh[i]->op) != NULL;
        if (!any) continue;
        fprintf(f, "| %s |", v);
        for (int i = 0; i < n; i++) {
            const cfg *c = find_cfg(g, "matmul", v, k, sh[i]->op);
            if (c)
                fprintf(f, " %s |", fmt_ms_ci(c->med, c->lo, c->hi).s);
            else
                fprintf(f, " n/a |");
        }
        qk_interval s;
        double tv;
        int paired;
        if (mix_speedup(g, k, v, &s, NULL, &tv, NULL, &paired) == 0) {
            str share = {"—"};
            if (have_shares && !strcmp(v, "precached-scales")) share = fmt_pct_i(shr[0]);
            if (have_shares && !strcmp(v, "zero-copy")) share = fmt_pct_i(shr[1]);
            fprintf(f, " %s | %s%s | %s |\n", fmt_ms(tv).s, fmt_xi(s).s,
                    paired || !strcmp(v, "parse-per-block") ? "" : " (unpaired)", share.s);
        } else {
            fprintf(f, " n/a | n/a | — |\n");
        }
    }
    fprintf(f, "\nThe per-layer mix weighs each shape by how often a layer runs it (attn_k also "
               "stands for attn_v, ffn_gate for ffn_up, a square attn_q for attn_output); "
               "shares use medians (no interval).\n\n");
}

static int ladder_group(const report *R, const cpu_group *g, const lkey *k);

static void section_ladder(FILE *f, const report *R, const qk_report_plot *plot) {
    fprintf(f, "## 2. The ladder: parse-per-block -> precached-scales -> zero-copy, plus "
               "alloc-copy\n\n");
    fprintf(f, "The seed story (one run of 10 iterations, no spread): baseline **42.44 ms**, the "
               "allocating regression **66.50 ms** (1.57x slower), the final zero-copy version "
               "**30.19 ms** (1.41x faster). Below, each step measured with repetitions, medians, "
               "95%% intervals and paired speedups (ratio of the two variants' times in the same "
               "round, median over rounds). A step's share is its part of the time saved from "
               "parse-per-block to zero-copy.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        cpu_heading(f, R, g);
        lkey *k;
        int n = collect_keys(g, "forward", &k), tables = 0, points = 0;
        if (n == 0) not_measured(f, "no forward-pass runs", "`qkbench run` with `run = forward`");
        for (int i = 0; i < n; i++) {
            if (!find_cfg(g, "forward", "parse-per-block", &k[i], NULL)) {
                points++; /* a sweep point (thread, sequence-length sections) or a group of the
                             kernels beyond the story (their own section) */
                continue;
            }
            ladder_forward_table(f, R, g, &k[i]);
            tables++;
        }
        if (n && !tables)
            not_measured(f, "no forward configuration with two or more kernel variants",
                         "a forward experiment with the four seed kernels (e.g. "
                         "experiments/seed-reproduction.ini)");
        if (points)
            fprintf(f,
                    "%d more forward configuration%s without the parse-per-block baseline "
                    "appear in the thread-scaling, sequence-length and \"Kernels beyond the "
                    "story\" sections.\n\n",
                    points, points == 1 ? "" : "s");
        free(k);
        n = collect_keys(g, "matmul", &k);
        if (n == 0)
            not_measured(f, "no matmul-only runs",
                         "an experiment with `run = matmul` and the four seed kernels");
        for (int i = 0; i < n; i++) ladder_matmul_table(f, R, g, &k[i]);
        free(k);
    }
    if (plot && plot->ok)
        fprintf(f, "![Forward pass per variant and ISA](ladder.png)\n\n");
    else if (plot)
        fprintf(f, "*Plot ladder.png missing: %s.*\n\n", plot->why);
}

static void section_amdahl(FILE *f, const report *R) {
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
        const cpu_group *g = &R->cpus[c];
        cpu_heading(f, R, g);
        lkey *k;
        const int n = collect_keys(g, "forward", &k);
        int rows = 0, any_profile = 0;
        char *lines = NULL;
        size_t lines_len = 0;
        FILE *lf = open_memstream(&lines, &lines_len);
        for (int i = 0; i < n; i++) {
            const cfg *b = find_cfg(g, "forward", "parse-per-block", &k[i], NULL);
            if (!profile_of(b)) continue;
            any_profile = 1;
            for (int vi = 0; vi < R->n_variants; vi++) {
                const char *v = R->variants[vi];
                if (!strcmp(v, "parse-per-block") || !find_cfg(g, "forward", v, &k[i], NULL))
                    continue;
                amdahl_row a;
                amdahl_for(g, &k[i], v, &a);
                if (!rows++)
                    fprintf(f, "| configuration | variant | p (matmul share of the baseline) | "
                               "removed | s, local speedup [95%% CI] | s from | predicted [95%% "
                               "CI] | bound 1/(1-p) | achieved [95%% CI] | implied p | verdict "
                               "|\n|---|---|---|---|---|---|---|---|---|---|---|\n");
                fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                        fmt_key(&k[i]).s, v, fmt_pct(a.p).s, fmt_pct(a.removed).s,
                        a.has_s ? fmt_xi(a.s).s : "not measured", a.has_s ? a.s_note : "—",
                        a.has_s ? fmt_xi(a.pred).s : "n/a", fmt_xi(a.bound).s, fmt_xi(a.ach).s,
                        (a.implied >= 0 && a.implied <= 1) || isnan(a.implied)
                            ? fmt_pct(a.implied).s
                            : "none in [0, 1]",
                        qk_amdahl_verdict_name(a.verdict));
                if (lf) fprintf(lf, "- %s, %s: %s.\n", fmt_key(&k[i]).s, v, a.line);
            }
        }
        if (lf) fclose(lf);
        if (rows) {
            const cfg *b = NULL;
            for (int i = 0; i < n && !b; i++) {
                b = find_cfg(g, "forward", "parse-per-block", &k[i], NULL);
                if (!profile_of(b)) b = NULL;
            }
            fprintf(f,
                    "\nVerdicts (predicted and achieved disagree when their intervals do not "
                    "overlap):\n\n%s\n",
                    lines ? lines : "");
            if (b)
                fprintf(
                    f,
                    "The profile is the mean of %d separately timed pass(es) with per-op "
                    "clocks; its total (%s ms for %s) is compared with the timed median "
                    "(%s ms), so p carries no interval of its own.\n\n",
                    jint(b->agg, "profile_passes"), fmt_ms(prof_sum(profile_of(b), 0)).s,
                    fmt_key(&(lkey){b->isa, b->act, b->binding, b->model, b->seq_len, b->threads})
                        .s,
                    fmt_ms(b->med).s);
        } else if (!any_profile) {
            not_measured(f, "no per-operation profile of the parse-per-block baseline",
                         "a forward experiment with `profile = true` in `[measure]` and the "
                         "four seed kernels (plus a `run = matmul` experiment for the local "
                         "speedups)");
        } else {
            not_measured(f, "no variant beside the profiled baseline",
                         "the four seed kernels in one forward experiment with `profile = true`");
        }
        free(lines);
        free(k);
    }
}

/* ---- memory */

static double mem_field(const cfg *c, const char *key) {
    json_t *m = c && c->agg ? json_object_get(c->agg, "memory") : NULL;
    if (!strcmp(key, "rss_bytes") && json_is_number(json_object_get(m, "peak_rss_bytes")))
        key = "peak_rss_bytes"; /* the runner's name; rss_bytes accepted too */
    return qk_rj_num(m, key);
}

static double footprint(const cfg *c, int *used_file) {
    double res = mem_field(c, "resident_file_bytes");
    *used_file = 0;
    if (isnan(res)) res = mem_field(c, "file_bytes"), *used_file = 1;
    double sum = res;
    /* the tokenizer's heap counts; its arrays read in place are part of the resident file */
    const char *parts[] = {"prepared_bytes", "scratch_bytes", "fp32_bytes", "tokenizer_bytes"};
    for (int i = 0; i < 4; i++) {
        const double v = mem_field(c, parts[i]);
        if (!isnan(v)) sum += v;
    }
    return sum;
}

static void memory_row(FILE *f, const cfg *c, const char *label, int *file_note) {
    int used_file;
    const double fp = footprint(c, &used_file);
    *file_note |= used_file;
    fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s%s |\n", label,
            fmt_mb(mem_field(c, "file_bytes")).s, fmt_mb(mem_field(c, "resident_file_bytes")).s,
            fmt_mb(mem_field(c, "matmul_weight_bytes")).s, fmt_mb(mem_field(c, "prepared_bytes")).s,
            fmt_mb(mem_field(c, "scratch_bytes")).s, fmt_mb(mem_field(c, "fp32_bytes")).s,
            fmt_mb(mem_field(c, "tokenizer_bytes")).s,
            fmt_mb(mem_field(c, "tokenizer_mapped_bytes")).s, fmt_mb(mem_field(c, "rss_bytes")).s,
            fmt_mb(fp).s, used_file ? " *" : "");
}

static void section_memory(FILE *f, const report *R) {
    fprintf(f, "## 4. Memory\n\n");
    fprintf(f, "The seed story: **412.86 MB before, 425.17 MB after (+12.31 MB** for the scales), "
               "of which it claimed GGUF file 314 MB, tokenizer vocabulary 90 MB, FP32 norm "
               "weights 10 MB, scales 11 MB. Here, per variant (MB = 10^6 bytes): the mapped "
               "model file, how much of it is resident, the matmul weights read per pass, the "
               "bytes prepared at load (fp32 scale tables, packed layouts), scratch buffers, "
               "dequantised fp32 weights (fp32 path), the tokenizer (its heap / its token texts, "
               "scores and types read in place from the file; — when the model has no real "
               "vocabulary), peak RSS of the process, and footprint = resident file + prepared + "
               "scratch + fp32 + tokenizer heap.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        cpu_heading(f, R, g);
        lkey h;
        if (headline(g, &h)) {
            lkey *k;
            const int n = collect_keys(g, "forward", &k);
            if (n == 0) {
                free(k);
                not_measured(f, "no forward-pass runs with memory figures",
                             "`qkbench run` with `run = forward`");
                continue;
            }
            h = k[0];
            free(k);
        }
        fprintf(f, "At %s (scratch depends on the sequence length):\n\n", fmt_key(&h).s);
        fprintf(f, "| variant | ISA | mapped file | resident file | matmul weights | prepared at "
                   "load | scratch | fp32 weights | tokenizer heap / in file | peak RSS | "
                   "footprint |\n"
                   "|---|---|---|---|---|---|---|---|---|---|---|\n");
        int file_note = 0;
        const cfg *before = NULL, *after = NULL;
        for (int pass = 0; pass < 4; pass++) { /* ISAs in rank order */
            for (int vi = 0; vi < R->n_variants; vi++) {
                for (int i = 0; i < g->n_cfgs; i++) {
                    const cfg *x = &g->cfgs[i];
                    if (!usable(x) || !is_int8(x) || strcmp(x->run, "forward") ||
                        isa_rank(x->isa) != pass || strcmp(x->variant, R->variants[vi]))
                        continue;
                    lkey kx = key_of(x), kh = h;
                    kh.isa = x->isa;
                    if (lkey_cmp(&kx, &kh) || find_cfg(g, "forward", x->variant, &kx, NULL) != x)
                        continue;
                    char label[96];
                    snprintf(label, sizeof label, "%s | %s", x->variant, x->isa);
                    memory_row(f, x, label, &file_note);
                    if (!strcmp(x->isa, h.isa) && !strcmp(x->variant, "parse-per-block"))
                        before = x;
                    if (!strcmp(x->isa, h.isa) && !strcmp(x->variant, "zero-copy")) after = x;
                }
            }
        }
        const cfg *fp = find_fp32(g, &h);
        if (fp) memory_row(f, fp, "fp32 path | —", &file_note);
        fprintf(f, "\n");
        if (file_note)
            fprintf(f, "\\* resident file bytes not in these results: the footprint counts the "
                       "whole mapped file instead.\n\n");
        if ((before || after) && isnan(mem_field(before ? before : after, "rss_bytes")))
            fprintf(f, "Peak RSS: not measured in these results (no `memory.peak_rss_bytes`).\n\n");
        if (before && after) {
            int u1, u2;
            const double fb = footprint(before, &u1), fa = footprint(after, &u2);
            fprintf(f,
                    "Before -> after (%s, parse-per-block -> zero-copy): footprint %s -> %s MB "
                    "(%+.2f MB; prepared at load %+.2f MB)",
                    h.isa, fmt_mb(fb).s, fmt_mb(fa).s, (fa - fb) / 1e6,
                    (mem_field(after, "prepared_bytes") - mem_field(before, "prepared_bytes")) /
                        1e6);
            const double rb = mem_field(before, "rss_bytes"), ra = mem_field(after, "rss_bytes");
            if (!isnan(rb) && !isnan(ra))
                fprintf(f, "; peak RSS %s -> %s MB (%+.2f MB)", fmt_mb(rb).s, fmt_mb(ra).s,
                        (ra - rb) / 1e6);
            fprintf(f, ". The story: %.2f -> %.2f MB (%+.2f MB).\n\n", STORY_MEM_BEFORE,
                    STORY_MEM_AFTER, STORY_MEM_AFTER - STORY_MEM_BEFORE);
        } else {
            fprintf(f, "Before -> after: needs parse-per-block and zero-copy at the same "
                       "configuration.\n\n");
        }
    }
}

/* ---- accuracy */

static void section_accuracy(FILE *f, const report *R) {
    fprintf(f, "## 5. Accuracy\n\n");
    fprintf(f, "The seed story: the optimised path gave output identical to the baseline (cosine "
               "1.000000, max difference 0); cosine 0.989 against llama.cpp on the same model; an "
               "element-wise test failed at max difference 0.0113 against a 0.01 tolerance. Here: "
               "each kernel against (a) the same ISA's parse-per-block (must be identical: cosine "
               "1, difference 0), (b) the FP32 path, (c) independent reference embeddings, per "
               "activation scheme.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        cpu_heading(f, R, g);
        if (json_array_size(g->accuracy) == 0) {
            not_measured(f, "no accuracy checks (context.accuracy is absent)",
                         "`qkbench run` with a qkbench that records accuracy checks");
            continue;
        }
        fprintf(f, "| model | variant | ISA | activation scales | against | cosine (min) | max "
                   "abs difference | sequences | check |\n|---|---|---|---|---|---|---|---|---|\n");
        size_t i;
        json_t *a;
        json_array_foreach(g->accuracy, i, a) {
            const char *against = qk_rj_str(a, "against");
            const double cos = qk_rj_num(a, "cosine_min"), mad = qk_rj_num(a, "max_abs_diff");
            const char *check = "—";
            if (!strcmp(against, "parse-per-block"))
                check = cos == 1.0 && mad == 0.0 ? "identical, as required"
                                                 : "**DIFFERS: must be identical**";
            const char *v = qk_rj_str(a, "variant"), *isa = qk_rj_str(a, "isa");
            fprintf(f, "| %s | %s | %s | %s | %s | %.6f | %.3g | %d | %s |\n",
                    qk_rj_str(a, "model"), *v ? v : "fp32 path", *isa ? isa : "—",
                    *qk_rj_str(a, "act_scale") ? qk_rj_str(a, "act_scale") : "—", against, cos, mad,
                    jint(a, "sequences"), check);
        }
        fprintf(f, "\n");
    }
}

/* ---- per-operation breakdown */

static int ops_present(const report *R, int *present) {
    int n = 0;
    for (int o = 0; o < N_OPS; o++) present[o] = 0;
    for (int c = 0; c < R->n_cpus; c++)
        for (int i = 0; i < R->cpus[c].n_cfgs; i++) {
            json_t *p = profile_of(usable(&R->cpus[c].cfgs[i]) ? &R->cpus[c].cfgs[i] : NULL);
            for (int o = 0; p && o < N_OPS; o++)
                if (json_is_number(json_object_get(p, op_order[o]))) present[o] = 1;
        }
    for (int o = 0; o < N_OPS; o++) n += present[o];
    return n;
}

static void section_breakdown(FILE *f, const report *R, const qk_report_plot *plot) {
    fprintf(f, "## 6. Per-operation breakdown\n\n");
    fprintf(f, "Milliseconds per forward pass in each operation (mean of the profiled passes) and "
               "its share of the profiled total.\n\n");
    int present[N_OPS];
    ops_present(R, present);
    int any = 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        cpu_heading(f, R, g);
        lkey *k;
        const int n = collect_keys(g, "forward", &k);
        int here = 0;
        for (int i = 0; i < n; i++) {
            const cfg *cols[64];
            int nc = 0;
            for (int vi = 0; vi < R->n_variants && nc < 63; vi++) {
                const cfg *x = find_cfg(g, "forward", R->variants[vi], &k[i], NULL);
                if (profile_of(x)) cols[nc++] = x;
            }
            const cfg *fp = find_fp32(g, &k[i]);
            if (!nc) continue;
            if (profile_of(fp)) cols[nc++] = fp;
            here = any = 1;
            fprintf(f, "#### %s\n\n| operation |", fmt_key(&k[i]).s);
            for (int j = 0; j < nc; j++)
                fprintf(f, " %s |", is_int8(cols[j]) ? cols[j]->variant : "fp32 path");
            fprintf(f, "\n|---|");
            for (int j = 0; j < nc; j++) fprintf(f, "---|");
            fprintf(f, "\n");
            for (int o = 0; o < N_OPS; o++) {
                if (!present[o]) continue;
                fprintf(f, "| %s |", op_order[o]);
                for (int j = 0; j < nc; j++) {
                    json_t *p = profile_of(cols[j]);
                    const double v = qk_rj_num(p, op_order[o]), tot = prof_sum(p, 0);
                    if (isnan(v))
                        fprintf(f, " — |");
                    else
                        fprintf(f, " %s (%.1f%%) |", fmt_ms(v).s, 100 * v / tot);
                }
                fprintf(f, "\n");
            }
            fprintf(f, "| **all matmuls** |");
            for (int j = 0; j < nc; j++) {
                json_t *p = profile_of(cols[j]);
                fprintf(f, " **%s (%.1f%%)** |", fmt_ms(prof_sum(p, 1)).s,
                        100 * prof_sum(p, 1) / prof_sum(p, 0));
            }
            fprintf(f, "\n| **profiled total** |");
            for (int j = 0; j < nc; j++)
                fprintf(f, " **%s** |", fmt_ms(prof_sum(profile_of(cols[j]), 0)).s);
            fprintf(f, "\n| timed median |");
            for (int j = 0; j < nc; j++) fprintf(f, " %s |", fmt_ms(cols[j]->med).s);
            fprintf(f, "\n\n");
        }
        free(k);
        if (!here)
            not_measured(f, "no per-operation profile",
                         "a forward experiment with `profile = true` in `[measure]`");
    }
    if (any && plot && plot->ok)
        fprintf(f, "![Per-operation time per variant](breakdown.png)\n\n");
    else if (any && plot)
        fprintf(f, "*Plot breakdown.png missing: %s.*\n\n", plot->why);
}

/* ---- thread scaling and sequence length: series of forward configurations differing in one
 * field */

typedef struct {
    const cpu_group *g;
    const cfg *c[64]; /* sorted by the swept field */
    int n;
} series;

static int same_series(const cfg *a, const cfg *b, int by_threads) {
    return !strcmp(a->run, b->run) && !strcmp(a->path, b->path) &&
           !strcmp(a->variant, b->variant) && !strcmp(a->isa, b->isa) && !strcmp(a->act, b->act) &&
           !strcmp(a->binding, b->binding) && !strcmp(a->op, b->op) &&
           !strcmp(a->model, b->model) &&
           (by_threads ? a->seq_len == b->seq_len : a->threads == b->threads);
}

/* Forward series with at least two distinct values of threads (by_threads) or seq_len. */
static int collect_series(const report *R, int by_threads, series **out) {
    int n = 0, cap = 8;
    series *s = malloc((size_t)cap * sizeof *s);
    if (!s) return (*out = NULL), 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        for (int i = 0; i < g->n_cfgs; i++) {
            const cfg *x = &g->cfgs[i];
            if (!usable(x) || strcmp(x->run, "forward")) continue;
            int done = 0;
            for (int j = 0; j < n && !done; j++)
                done = s[j].g == g && same_series(s[j].c[0], x, by_threads);
            if (done) continue;
            series cur = {g, {0}, 0};
            for (int j = i; j < g->n_cfgs && cur.n < 64; j++) {
                const cfg *y = &g->cfgs[j];
                if (!usable(y) || !same_series(x, y, by_threads)) continue;
                int dup = 0;
                for (int m = 0; m < cur.n; m++)
                    dup |= (by_threads ? cur.c[m]->threads == y->threads
                                       : cur.c[m]->seq_len == y->seq_len);
                if (!dup) cur.c[cur.n++] = y;
            }
            if (cur.n < 2) continue;
            for (int a = 1; a < cur.n; a++)
                for (int b = a; b > 0; b--) {
                    const int ka = by_threads ? cur.c[b]->threads : cur.c[b]->seq_len;
                    const int kb = by_threads ? cur.c[b - 1]->threads : cur.c[b - 1]->seq_len;
                    if (kb <= ka) break;
                    const cfg *t = cur.c[b];
                    cur.c[b] = cur.c[b - 1];
                    cur.c[b - 1] = t;
                }
            if (n == cap) {
                series *ns = realloc(s, (size_t)(cap *= 2) * sizeof *s);
                if (!ns) break;
                s = ns;
            }
            s[n++] = cur;
        }
    }
    *out = s;
    return n;
}

static str series_title(const report *R, const series *s, int by_threads) {
    str r;
    const cfg *c = s->c[0];
    char model[96] = "";
    if (show_model) snprintf(model, sizeof model, " (%s)", c->model);
    if (is_int8(c))
        snprintf(r.s, sizeof r.s, "%s%s/%s, %s %d%s%s", plot_prefix(R, s->g).s, c->variant, c->isa,
                 by_threads ? "seq" : "threads", by_threads ? c->seq_len : c->threads,
                 strcmp(c->act, "token") ? ", act block" : "", model);
    else
        snprintf(r.s, sizeof r.s, "%sfp32 path, %s %d%s", plot_prefix(R, s->g).s,
                 by_threads ? "seq" : "threads", by_threads ? c->seq_len : c->threads, model);
    return r;
}

static void section_threads(FILE *f, const report *R, const qk_report_plot *plot) {
    fprintf(f, "## 7. Thread scaling\n\n");
    series *s;
    const int n = collect_series(R, 1, &s);
    if (n == 0) {
        not_measured(f, "no forward configuration at two or more thread counts",
                     "experiments/thread-scaling.ini");
        free(s);
        return;
    }
    for (int i = 0; i < n; i++) {
        fprintf(f,
                "#### %s\n\n| threads | median ms [95%% CI] | speedup vs %d thread%s | "
                "parallel efficiency |\n|---|---|---|---|\n",
                series_title(R, &s[i], 1).s, s[i].c[0]->threads,
                s[i].c[0]->threads == 1 ? "" : "s");
        for (int j = 0; j < s[i].n; j++) {
            const cfg *c = s[i].c[j];
            const double sp = s[i].c[0]->med / c->med;
            fprintf(f, "| %d | %s | %sx | %s |\n", c->threads, fmt_ms_ci(c->med, c->lo, c->hi).s,
                    fmt_x(sp).s, fmt_pct(sp * s[i].c[0]->threads / c->threads).s);
        }
        fprintf(f, "\n");
    }
    free(s);
    if (plot && plot->ok)
        fprintf(f, "![Thread scaling](threads.png)\n\n");
    else if (plot)
        fprintf(f, "*Plot threads.png missing: %s.*\n\n", plot->why);
}

static void section_seqlen(FILE *f, const report *R, const qk_report_plot *plot) {
    fprintf(f, "## 8. Sequence length\n\n");
    series *s;
    const int n = collect_series(R, 0, &s);
    if (n == 0) {
        not_measured(f, "no forward configuration at two or more sequence lengths",
                     "a forward experiment with e.g. `seq_len = 1, 16, 128`");
        free(s);
        return;
    }
    for (int i = 0; i < n; i++) {
        fprintf(f,
                "#### %s\n\n| tokens | median ms [95%% CI] | ms per token | GOPS (matmuls) | "
                "weight GB/s |\n|---|---|---|---|---|\n",
                series_title(R, &s[i], 0).s);
        for (int j = 0; j < s[i].n; j++) {
            const cfg *c = s[i].c[j];
            fprintf(f, "| %d | %s | %s | %.2f | %.2f |\n", c->seq_len,
                    fmt_ms_ci(c->med, c->lo, c->hi).s, fmt_ms(c->med / c->seq_len).s,
                    qk_rj_num(c->agg, "gops"), qk_rj_num(c->agg, "weight_gbps"));
        }
        fprintf(f, "\n");
    }
    free(s);
    if (plot && plot->ok)
        fprintf(f, "![Time against sequence length](seqlen.png)\n\n");
    else if (plot)
        fprintf(f, "*Plot seqlen.png missing: %s.*\n\n", plot->why);
}

/* ---- roofline */

static double roof_bw(json_t *roof, int threads, const char *ws) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(roof, "bandwidth"), i, b) {
        if (jint(b, "threads") == threads && !strcmp(qk_rj_str(b, "working_set"), ws))
            return qk_rj_num(b, "gbps");
    }
    return NAN;
}
static double roof_peak(json_t *roof, int threads, const char *isa) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(roof, "peaks"), i, p) {
        if (jint(p, "threads") == threads && !strcmp(qk_rj_str(p, "isa"), isa))
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
static int roof_max_threads(json_t *roof) {
    int m = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(roof, "bandwidth"), i, b) {
        if (jint(b, "threads") > m) m = jint(b, "threads");
    }
    return m;
}

static int roofline_point(const cfg *c, double *ai, double *gops) {
    if (!usable(c) || !is_int8(c) || !c->agg) return 0;
    const double macs = qk_rj_num(c->agg, "macs_per_pass"),
                 wb = qk_rj_num(c->agg, "weight_bytes_per_pass");
    if (!(macs > 0) || !(wb > 0) || !(c->med > 0)) return 0;
    *ai = 2 * macs / wb;
    *gops = 2 * macs / (c->med * 1e-3) / 1e9;
    return 1;
}

static void section_roofline(FILE *f, const report *R, const qk_report_plot *plot) {
    fprintf(f, "## 9. Roofline\n\n");
    int any = 0;
    for (int c = 0; c < R->n_cpus; c++) any |= R->cpus[c].roof != NULL;
    if (!any) {
        not_measured(f,
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
        const cpu_group *g = &R->cpus[c];
        cpu_heading(f, R, g);
        if (!g->roof) {
            not_measured(f, "no roofline file for this CPU",
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
                    bytes >= 1 << 30 ? "GiB" : "KiB", jint(x, "threads"), qk_rj_num(x, "gbps"));
        }
        json_array_foreach(json_object_get(g->roof, "peaks"), i, x) {
            fprintf(f, "| int8 peak, %s: %s | %d | %.1f GOPS |\n", qk_rj_str(x, "isa"),
                    qk_rj_str(x, "instruction"), jint(x, "threads"), qk_rj_num(x, "gops"));
        }
        json_array_foreach(json_object_get(g->roof, "skipped"), i, x) {
            fprintf(f, "| int8 peak, %s: %s | — | skipped: %s |\n", qk_rj_str(x, "isa"),
                    qk_rj_str(x, "instruction"), qk_rj_str(x, "why"));
        }
        fprintf(f, "\n| configuration | intensity (ops/byte) | GOPS | %% of int8 peak | weight "
                   "GB/s | %% of DRAM bandwidth | attainable GOPS | %% of attainable |\n"
                   "|---|---|---|---|---|---|---|---|\n");
        for (int j = 0; j < g->n_cfgs; j++) {
            const cfg *x2 = &g->cfgs[j];
            double ai, gops;
            if (!roofline_point(x2, &ai, &gops)) continue;
            const double peak = roof_peak(g->roof, x2->threads, peak_isa_for(x2->isa));
            const double bw = roof_bw(g->roof, x2->threads, "dram");
            const double wgbps =
                qk_rj_num(x2->agg, "weight_bytes_per_pass") / (x2->med * 1e-3) / 1e9;
            const double att = fmin(peak, ai * bw);
            fprintf(f, "| %s | %.2f | %.2f | %s | %.2f | %s | %s | %s |\n", x2->run_name, ai, gops,
                    fmt_pct(gops / peak).s, wgbps, fmt_pct(wgbps / bw).s,
                    isnan(att) ? "n/a (no ceiling at this thread count)" : fmt_ms(att).s,
                    fmt_pct(gops / att).s);
        }
        fprintf(f, "\n");
    }
    if (plot && plot->ok)
        fprintf(f, "![Roofline](roofline.png)\n\n");
    else if (plot)
        fprintf(f, "*Plot roofline.png missing: %s.*\n\n", plot->why);
}

/* ---- summary across CPUs: a column per CPU, the story beside */

static void section_summary(FILE *f, const report *R) {
    fprintf(f, "## Summary: the seed story and each CPU\n\n");
    fprintf(f, "Each CPU's headline configuration is the forward pass with both parse-per-block "
               "and zero-copy at the widest ISA, most threads and sequence length nearest 16. "
               "Details and intervals in the sections below.\n\n| |  seed story (Go, "
               "AVX512-VNNI, 16 goroutines) |");
    lkey h[64];
    int has_h[64];
    const int nc = R->n_cpus < 64 ? R->n_cpus : 64;
    for (int c = 0; c < nc; c++) {
        fprintf(f, " CPU %s: %s |", R->cpus[c].label, R->cpus[c].cpu_model);
        has_h[c] = headline(&R->cpus[c], &h[c]) == 0;
    }
    fprintf(f, "\n|---|---|");
    for (int c = 0; c < nc; c++) fprintf(f, "---|");
    fprintf(f, "\n| host | not stated |");
    for (int c = 0; c < nc; c++) fprintf(f, " %s |", R->cpus[c].host);
    fprintf(f, "\n| headline configuration | one forward pass, 10 iterations |");
    for (int c = 0; c < nc; c++) fprintf(f, " %s |", has_h[c] ? fmt_key(&h[c]).s : "none");
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
            const cpu_group *g = &R->cpus[c];
            if (!has_h[c]) {
                fprintf(f, " not measured |");
                continue;
            }
            const lkey *k = &h[c];
            const cfg *b = find_cfg(g, "forward", "parse-per-block", k, NULL);
            const cfg *pre = find_cfg(g, "forward", "precached-scales", k, NULL);
            const cfg *z = find_cfg(g, "forward", "zero-copy", k, NULL);
            const cfg *al = find_cfg(g, "forward", "alloc-copy", k, NULL);
            const cfg *v = r == 1 ? pre : r == 2 ? z : r == 3 ? al : NULL;
            if (r == 0) {
                fprintf(f, " %s |", fmt_ms(b->med).s);
            } else if (r <= 3) {
                if (!v)
                    fprintf(f, " not measured |");
                else {
                    const qk_interval s = speedup_of(v, b, NULL);
                    if (r == 3 && s.value < 1)
                        fprintf(f, " %s (%.2fx slower) |", fmt_ms(v->med).s, 1 / s.value);
                    else
                        fprintf(f, " %s (%sx) |", fmt_ms(v->med).s, fmt_x(s.value).s);
                }
            } else if (r == 4) {
                qk_interval sh[2];
                if (pre) {
                    qk_interval t[3] = {qk_interval_point(1.0), ratio_of(pre, b), ratio_of(z, b)};
                    qk_amdahl_step_shares(t, 3, sh);
                    fprintf(f, " %s / %s |", fmt_pct(sh[0].value).s, fmt_pct(sh[1].value).s);
                } else {
                    fprintf(f, " not measured (no precached-scales) |");
                }
            } else if (r == 5 || r == 6) {
                amdahl_row a;
                amdahl_for(g, k, "zero-copy", &a);
                if (r == 5)
                    fprintf(f, " %s |", a.has_p ? fmt_pct(a.p).s : "not measured (no profile)");
                else if (!a.has_p || !a.has_s)
                    fprintf(f, " not measured (needs a profile and matmul runs); achieved %sx |",
                            fmt_x(a.ach.value).s);
                else
                    fprintf(f, " %sx / %sx / %sx (%s) |", fmt_x(a.pred.value).s,
                            fmt_x(a.bound.value).s, fmt_x(a.ach.value).s,
                            qk_amdahl_verdict_name(a.verdict));
            } else {
                int u;
                if (z)
                    fprintf(f, " %s -> %s (%+.2f) |", fmt_mb(footprint(b, &u)).s,
                            fmt_mb(footprint(z, &u)).s,
                            (footprint(z, &u) - footprint(b, &u)) / 1e6);
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
            const cfg *x = &R->cpus[c].cfgs[i];
            if (!usable(x) || !is_int8(x) || strcmp(x->run, "forward")) continue;
            int dup = 0;
            for (int j = 0; j < n_isas; j++) dup |= !strcmp(isas[j], x->isa);
            if (!dup && n_isas < 8) isas[n_isas++] = x->isa;
        }
    for (int a = 1; a < n_isas; a++)
        for (int b = a; b > 0 && isa_rank(isas[b - 1]) > isa_rank(isas[b]); b--) {
            const char *t = isas[b];
            isas[b] = isas[b - 1];
            isas[b - 1] = t;
        }
    for (int i = 0; i < n_isas; i++) {
        fprintf(f, "\n| zero-copy speedup, %s | — |", isas[i]);
        for (int c = 0; c < nc; c++) {
            lkey k = h[c];
            k.isa = isas[i];
            const cfg *b =
                has_h[c] ? find_cfg(&R->cpus[c], "forward", "parse-per-block", &k, NULL) : NULL;
            const cfg *z =
                has_h[c] ? find_cfg(&R->cpus[c], "forward", "zero-copy", &k, NULL) : NULL;
            if (b && z)
                fprintf(f, " %s |", fmt_xi(speedup_of(z, b, NULL)).s);
            else
                fprintf(f, " not measured |");
        }
    }
    fprintf(f, "\n| DRAM read bandwidth / int8 peak (most threads) | — |");
    for (int c = 0; c < nc; c++) {
        json_t *roof = R->cpus[c].roof;
        if (!roof) {
            fprintf(f, " not measured |");
            continue;
        }
        const int t = roof_max_threads(roof);
        double best = NAN;
        const char *best_isa = "";
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(roof, "peaks"), i, p) {
            if (jint(p, "threads") == t && !(qk_rj_num(p, "gops") <= best)) {
                best = qk_rj_num(p, "gops");
                best_isa = qk_rj_str(p, "isa");
            }
        }
        fprintf(f, " %.1f GB/s / %.0f GOPS (%s), %d threads |", roof_bw(roof, t, "dram"), best,
                best_isa, t);
    }
    fprintf(f, "\n\n");
}

/* ---- the closing paragraph */

static void section_story(FILE *f, const report *R) {
    fprintf(f, "## 10. How this CPU's story differs\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        cpu_heading(f, R, g);
        lkey k;
        if (headline(g, &k)) {
            fprintf(f, "No configuration with both parse-per-block and zero-copy in these "
                       "results: the story cannot be retold here. Run "
                       "experiments/seed-reproduction.ini (or any forward experiment with the "
                       "four seed kernels).\n\n");
            continue;
        }
        const cfg *b = find_cfg(g, "forward", "parse-per-block", &k, NULL);
        const cfg *pre = find_cfg(g, "forward", "precached-scales", &k, NULL);
        const cfg *z = find_cfg(g, "forward", "zero-copy", &k, NULL);
        const cfg *al = find_cfg(g, "forward", "alloc-copy", &k, NULL);
        const qk_interval sz = speedup_of(z, b, NULL);
        fprintf(f,
                "On %s, with %s, the zero-copy kernel is %s faster than parse-per-block "
                "(the story: 1.41x; %s ms -> %s ms here against 42.44 -> 30.19 ms there).",
                g->cpu_model, fmt_key(&k).s, fmt_xi(sz).s, fmt_ms(b->med).s, fmt_ms(z->med).s);
        if (sz.lo <= 1 && sz.hi >= 1)
            fprintf(f, " Its interval includes 1: no measurable gain at this configuration.");
        if (pre) {
            qk_interval t[3] = {qk_interval_point(1.0), ratio_of(pre, b), ratio_of(z, b)};
            qk_interval sh[2];
            if (qk_amdahl_step_shares(t, 3, sh) == 0)
                fprintf(f,
                        " Pre-converting the scales (step 1) gave %s of the gain and reading "
                        "the int8 in place (step 2) %s, so most of it here comes from %s; the "
                        "story never measured this split (it guessed 'cache locality' and "
                        "'allocation' shares).",
                        fmt_pct(sh[0].value).s, fmt_pct(sh[1].value).s,
                        sh[0].value >= sh[1].value ? "not converting fp16 scales on every use"
                                                   : "not copying the quants");
        }
        if (al) {
            const qk_interval sa = speedup_of(al, b, NULL);
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
                        fmt_x(sa.value).s);
            else
                fprintf(f,
                        " The allocating variant is indistinguishable from the baseline (%s; "
                        "the story: 1.57x slower)",
                        fmt_xi(sa).s);
            if (!isnan(allocs))
                fprintf(f, ", with %.3g allocations per pass (the story: 26 M)", allocs);
            fprintf(f, ".");
        }
        amdahl_row a;
        amdahl_for(g, &k, "zero-copy", &a);
        if (a.has_p) {
            fprintf(f,
                    " The matmuls take %s of the baseline's forward pass (the story's profile: "
                    "51%% in block parsing alone)",
                    fmt_pct(a.p).s);
            if (!isnan(a.removed))
                fprintf(f,
                        ", and zero-copy removes %s of the baseline's time from them (the "
                        "story estimated 15%% for the fp16 conversion)",
                        fmt_pct(a.removed).s);
            fprintf(f, ". The Amdahl bound for anything done to the matmuls is %sx here.",
                    fmt_x(a.bound.value).s);
            if (a.has_s)
                fprintf(f,
                        " With the measured local speedup s = %sx, Amdahl predicts %sx; "
                        "achieved %sx: %s.",
                        fmt_x(a.s.value).s, fmt_x(a.pred.value).s, fmt_x(a.ach.value).s,
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
        if (z && !isnan(mem_field(z, "prepared_bytes")))
            fprintf(f,
                    " Zero-copy keeps %s MB prepared at load beside the mapped file (the "
                    "story: +12.31 MB for scales; footprint %s -> %s MB).",
                    fmt_mb(mem_field(z, "prepared_bytes") - mem_field(b, "prepared_bytes")).s,
                    fmt_mb(footprint(b, &u)).s, fmt_mb(footprint(z, &u)).s);
        const cfg *fp = find_fp32(g, &k);
        if (fp)
            fprintf(f, " The FP32 reference path takes %s ms, %.2fx the zero-copy INT8 time.",
                    fmt_ms(fp->med).s, fp->med / z->med);
        fprintf(f, "\n\n");
    }
}

/* ================================================================== plot data */

static FILE *open_out(const report *R, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", R->outdir, name);
    return fopen(path, "w");
}

static void gp_string(FILE *f, const char *s) { /* a gnuplot double-quoted string */
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void gp_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, " %.6g", v);
    else
        fprintf(f, " NaN");
}

static void gp_titles(FILE *f, const char *n_name, const char *arr, const char *const *t, int n) {
    fprintf(f, "%s = %d\n", n_name, n);
    if (n == 0) return;
    fprintf(f, "array %s[%d] = [", arr, n);
    for (int i = 0; i < n; i++) {
        if (i) fprintf(f, ", ");
        gp_string(f, t[i]);
    }
    fprintf(f, "]\n");
}

static const char *variant_colour(const report *R, const char *v);
static void gp_strings(FILE *f, const char *arr, const char *const *t, int n);

/* The forward keys drawn as ladder groups: the seed's baseline (parse-per-block) and at least one
 * other variant. Groups without it (e.g. experiments/performance.ini's, whose baseline is
 * zero-copy) are in "Kernels beyond the story". */
static int ladder_group(const report *R, const cpu_group *g, const lkey *k) {
    if (!find_cfg(g, "forward", "parse-per-block", k, NULL)) return 0;
    int present = 0;
    for (int v = 0; v < R->n_variants; v++)
        present += find_cfg(g, "forward", R->variants[v], k, NULL) != NULL;
    return present >= 2;
}

static int write_ladder_data(report *R) {
    /* the variants that have a bar somewhere (an all-NaN column stops gnuplot) */
    const char *vars[64];
    int nv = 0;
    for (int v = 0; v < R->n_variants && nv < 64; v++) {
        int used = 0;
        for (int c = 0; c < R->n_cpus && !used; c++) {
            lkey *k;
            const int n = collect_keys(&R->cpus[c], "forward", &k);
            for (int i = 0; i < n && !used; i++)
                used = ladder_group(R, &R->cpus[c], &k[i]) &&
                       find_cfg(&R->cpus[c], "forward", R->variants[v], &k[i], NULL);
            free(k);
        }
        if (used) vars[nv++] = R->variants[v];
    }
    if (nv == 0) return 0;
    int rows = 0;
    double lo_min = INFINITY, hi_max = 0;
    FILE *d = open_out(R, "ladder.dat");
    if (!d) return -1;
    fprintf(d, "# label, then for each variant: median ms, CI low, CI high, speedup vs "
               "parse-per-block, its CI low, CI high (NaN: not measured)\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        lkey *k;
        const int n = collect_keys(g, "forward", &k);
        for (int i = 0; i < n; i++) {
            if (!ladder_group(R, g, &k[i])) continue; /* a sweep point, not a ladder */
            char label[200];
            snprintf(label, sizeof label, "%s%s%s%s, %d tok, %d thr%s", plot_prefix(R, g).s,
                     show_model ? k[i].model : "", show_model ? " " : "", k[i].isa, k[i].seq,
                     k[i].threads, strcmp(k[i].act, "token") ? ", act block" : "");
            gp_string(d, label);
            const cfg *b = find_cfg(g, "forward", "parse-per-block", &k[i], NULL);
            for (int v = 0; v < nv; v++) {
                const cfg *x = find_cfg(g, "forward", vars[v], &k[i], NULL);
                gp_num(d, x ? x->med : NAN);
                gp_num(d, x ? x->lo : NAN);
                gp_num(d, x ? x->hi : NAN);
                const qk_interval sp = x && b ? speedup_of(x, b, NULL) : qk_interval_point(NAN);
                gp_num(d, sp.value);
                gp_num(d, sp.lo);
                gp_num(d, sp.hi);
                if (x) lo_min = fmin(lo_min, x->med), hi_max = fmax(hi_max, x->med);
            }
            fprintf(d, "\n");
            rows++;
        }
        free(k);
    }
    fclose(d);
    FILE *v = open_out(R, "ladder.vars");
    if (!v) return -1;
    gp_titles(v, "n_variants", "variant_title", vars, nv);
    const char *colours[64];
    for (int i = 0; i < nv; i++) colours[i] = variant_colour(R, vars[i]);
    gp_strings(v, "variant_colour", colours, nv);
    fprintf(v, "ladder_log = %d\nladder_rows = %d\n", rows && hi_max / lo_min > 20 ? 1 : 0, rows);
    fclose(v);
    return rows;
}

static int write_breakdown_data(report *R) {
    int present[N_OPS], rows = 0;
    const int n_ops = ops_present(R, present);
    if (n_ops == 0) return 0;
    FILE *d = open_out(R, "breakdown.dat");
    if (!d) return -1;
    fprintf(d, "# label, then ms per operation in the order of breakdown.vars, then the "
               "profiled total\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        lkey *k;
        const int n = collect_keys(g, "forward", &k);
        for (int i = 0; i < n; i++) {
            const cfg *cols[65];
            int nc = 0;
            for (int vi = 0; vi < R->n_variants && nc < 64; vi++) {
                const cfg *x = find_cfg(g, "forward", R->variants[vi], &k[i], NULL);
                if (profile_of(x)) cols[nc++] = x;
            }
            const cfg *fp = find_fp32(g, &k[i]);
            if (nc && profile_of(fp)) cols[nc++] = fp;
            for (int j = 0; j < nc; j++) {
                char label[160];
                snprintf(label, sizeof label, "%s%s %s/%dt/%dtok", plot_prefix(R, g).s,
                         is_int8(cols[j]) ? short_variant(cols[j]->variant) : "fp32", k[i].isa,
                         k[i].threads, k[i].seq);
                gp_string(d, label);
                json_t *p = profile_of(cols[j]);
                for (int o = 0; o < N_OPS; o++)
                    if (present[o]) {
                        const double v = qk_rj_num(p, op_order[o]);
                        gp_num(d, isnan(v) ? 0 : v);
                    }
                gp_num(d, prof_sum(p, 0));
                fprintf(d, "\n");
                rows++;
            }
        }
        free(k);
    }
    fclose(d);
    FILE *v = open_out(R, "breakdown.vars");
    if (!v) return -1;
    const char *names[N_OPS];
    int m = 0;
    for (int o = 0; o < N_OPS; o++)
        if (present[o]) names[m++] = op_order[o];
    gp_titles(v, "n_ops", "op_title", names, m);
    fclose(v);
    return rows;
}

static int write_series_data(report *R, int by_threads) {
    series *s;
    const int n = collect_series(R, by_threads, &s);
    if (n == 0) {
        free(s);
        return 0;
    }
    FILE *d = open_out(R, by_threads ? "threads.dat" : "seqlen.dat");
    if (!d) {
        free(s);
        return -1;
    }
    fprintf(d,
            "# one block per series (index i-1 = series_title[i]): %s, median ms, CI low, CI "
            "high, %s\n",
            by_threads ? "threads" : "tokens",
            by_threads ? "speedup vs the fewest threads" : "ms per token");
    const char **titles = calloc((size_t)n, sizeof *titles);
    str *tbuf = calloc((size_t)n, sizeof *tbuf);
    for (int i = 0; i < n; i++) {
        if (i) fprintf(d, "\n\n");
        for (int j = 0; j < s[i].n; j++) {
            const cfg *c = s[i].c[j];
            fprintf(d, "%d", by_threads ? c->threads : c->seq_len);
            gp_num(d, c->med);
            gp_num(d, c->lo);
            gp_num(d, c->hi);
            gp_num(d, by_threads ? s[i].c[0]->med / c->med : c->med / c->seq_len);
            fprintf(d, "\n");
        }
        if (tbuf && titles) {
            tbuf[i] = series_title(R, &s[i], by_threads);
            titles[i] = tbuf[i].s;
        }
    }
    fclose(d);
    int max_x = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < s[i].n; j++) {
            const int x = by_threads ? s[i].c[j]->threads : s[i].c[j]->seq_len;
            if (x > max_x) max_x = x;
        }
    FILE *v = open_out(R, by_threads ? "threads.vars" : "seqlen.vars");
    if (v && titles && tbuf) {
        gp_titles(v, "n_series", "series_title", titles, n);
        fprintf(v, "max_x = %d\n", max_x);
    }
    if (v) fclose(v);
    free(titles);
    free(tbuf);
    free(s);
    return n;
}

static const char *variant_colour(const report *R, const char *v) {
    static const char *const palette[] = {"#7f7f7f", "#1f77b4", "#2ca02c", "#d62728",
                                          "#bcbd22", "#17becf", "#e377c2", "#8c564b"};
    const int i = variant_rank(R, v);
    return palette[(i < 0 ? 0 : i) % 8];
}
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

static void gp_strings(FILE *f, const char *arr, const char *const *t, int n) {
    if (n == 0) return;
    fprintf(f, "array %s[%d] = [", arr, n);
    for (int i = 0; i < n; i++) {
        if (i) fprintf(f, ", ");
        gp_string(f, t[i]);
    }
    fprintf(f, "]\n");
}
static void gp_ints(FILE *f, const char *arr, const int *v, int n) {
    if (n == 0) return;
    fprintf(f, "array %s[%d] = [", arr, n);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", v[i]);
    fprintf(f, "]\n");
}

#define MAX_SERIES 96

static int write_roofline_data(report *R) {
    int any = 0;
    for (int c = 0; c < R->n_cpus; c++) any |= R->cpus[c].roof != NULL;
    if (!any) return 0;
    FILE *cd = open_out(R, "roofline_ceilings.dat"), *pd = open_out(R, "roofline_points.dat");
    if (!cd || !pd) {
        if (cd) fclose(cd);
        if (pd) fclose(pd);
        return -1;
    }
    fprintf(cd, "# one block per ceiling (roofline.vars: ceiling_title): intensity (ops/byte), "
                "attainable GOPS = min(peak, intensity x bandwidth)\n");
    fprintf(pd, "# one block per point series (roofline.vars: point_title): intensity "
                "(ops/byte), achieved GOPS\n");
    static str ctb[MAX_SERIES], ptb[MAX_SERIES];
    const char *ct[MAX_SERIES], *cc[MAX_SERIES], *pt[MAX_SERIES], *pc[MAX_SERIES];
    int cdt[MAX_SERIES], cw[MAX_SERIES], ppt[MAX_SERIES];
    int nce = 0, npt = 0;
    double ai_min = INFINITY, ai_max = 0, g_min = INFINITY, g_max = 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const cpu_group *g = &R->cpus[c];
        if (!g->roof) continue;
        const int tmax = roof_max_threads(g->roof);
        const int tl[2] = {tmax, 1};
        /* DRAM roofs: every peak at the most threads (solid) and at 1 thread (dotted) */
        for (int ti = 0; ti < (tmax > 1 ? 2 : 1); ti++) {
            const int t = tl[ti];
            const double bw = roof_bw(g->roof, t, "dram");
            if (isnan(bw)) continue;
            size_t i;
            json_t *p;
            json_array_foreach(json_object_get(g->roof, "peaks"), i, p) {
                if (jint(p, "threads") != t || nce >= MAX_SERIES) continue;
                const double peak = qk_rj_num(p, "gops");
                if (nce) fprintf(cd, "\n\n");
                for (int k = 0; k <= 80; k++) {
                    const double ai = pow(10, -2 + 6.0 * k / 80);
                    fprintf(cd, "%.6g %.6g\n", ai, fmin(peak, ai * bw));
                }
                snprintf(ctb[nce].s, sizeof ctb[nce].s, "%s%s %.0f GOPS | DRAM %.0f GB/s, %d thr",
                         plot_prefix(R, g).s, qk_rj_str(p, "isa"), peak, bw, t);
                ct[nce] = ctb[nce].s;
                cc[nce] = isa_colour(qk_rj_str(p, "isa"));
                cdt[nce] = ti ? 3 : 1;
                cw[nce] = ti ? 1 : 2;
                nce++;
                g_max = fmax(g_max, peak);
            }
        }
        /* the L2 roof of the highest peak at the most threads (dashed) */
        const double l2 = roof_bw(g->roof, tmax, "l2");
        double best = NAN;
        const char *best_isa = "";
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(g->roof, "peaks"), i, p) {
            if (jint(p, "threads") == tmax && !(qk_rj_num(p, "gops") <= best))
                best = qk_rj_num(p, "gops"), best_isa = qk_rj_str(p, "isa");
        }
        if (!isnan(l2) && !isnan(best) && nce < MAX_SERIES) {
            if (nce) fprintf(cd, "\n\n");
            for (int k = 0; k <= 80; k++) {
                const double ai = pow(10, -2 + 6.0 * k / 80);
                fprintf(cd, "%.6g %.6g\n", ai, fmin(best, ai * l2));
            }
            snprintf(ctb[nce].s, sizeof ctb[nce].s, "%s%s %.0f GOPS | L2-sized %.0f GB/s, %d thr",
                     plot_prefix(R, g).s, best_isa, best, l2, tmax);
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
                        const cfg *x = &g->cfgs[j];
                        double ai, gops;
                        if (strcmp(x->variant, R->variants[vi]) ||
                            strcmp(x->run, kind ? "matmul" : "forward") ||
                            (isa_rank(x->isa) < 3 ? isa_rank(x->isa) : 3) != rank ||
                            !roofline_point(x, &ai, &gops))
                            continue;
                        if (!started) {
                            if (npt) fprintf(pd, "\n\n");
                            snprintf(ptb[npt].s, sizeof ptb[npt].s, "%s%s, %s, %s",
                                     plot_prefix(R, g).s, R->variants[vi], x->isa,
                                     kind ? "matmul only" : "forward");
                            pt[npt] = ptb[npt].s;
                            pc[npt] = variant_colour(R, R->variants[vi]);
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
    FILE *v = open_out(R, "roofline.vars");
    if (!v) return -1;
    fprintf(v, "n_ceilings = %d\nn_points = %d\n", nce, npt);
    gp_strings(v, "ceiling_title", ct, nce);
    gp_strings(v, "ceiling_colour", cc, nce);
    gp_ints(v, "ceiling_dt", cdt, nce);
    gp_ints(v, "ceiling_lw", cw, nce);
    gp_strings(v, "point_title", pt, npt);
    gp_strings(v, "point_colour", pc, npt);
    gp_ints(v, "point_type", ppt, npt);
    if (!isfinite(ai_min)) ai_min = 1, ai_max = 100;
    if (!isfinite(g_min)) g_min = 1;
    fprintf(v, "ai_lo = %.6g\nai_hi = %.6g\ngops_lo = %.6g\ngops_hi = %.6g\n",
            pow(10, floor(log10(fmin(ai_min, 1)) - 0.5)), pow(10, ceil(log10(ai_max) + 0.5)),
            pow(10, floor(log10(g_min) - 0.3)), pow(10, ceil(log10(g_max) + 0.3)));
    fclose(v);
    return nce || npt ? 1 : 0;
}

/* ================================================================== running gnuplot */

static int file_nonempty(const char *dir, const char *name, const char *ext) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static void gp_quote(char *dst, size_t size, const char *s) { /* gnuplot '...' string */
    size_t j = 0;
    for (; *s && j + 3 < size; s++) {
        if (*s == '\'') dst[j++] = '\'';
        dst[j++] = *s;
    }
    dst[j] = 0;
}

static void run_plot(report *R, qk_report_plot *p, const char *script) {
    char dq[2048], expr[4400], log[4096];
    gp_quote(dq, sizeof dq, R->outdir);
    snprintf(expr, sizeof expr, "datadir='%s'; outdir='%s'", dq, dq);
    snprintf(log, sizeof log, "%s/%s.log", R->outdir, p->name);
    /* an old image must not pass for a new one */
    const char *exts[] = {"png", "svg"};
    for (int e = 0; e < 2; e++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.%s", R->outdir, p->name, exts[e]);
        unlink(path);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {"gnuplot", "-e", expr, (char *)script, NULL};
    pid_t pid;
    const int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    p->attempted = 1;
    p->exit_status = -1;
    if (rc != 0) {
        snprintf(p->why, sizeof p->why, "gnuplot could not be started (%s)%s", strerror(rc),
                 rc == ENOENT ? ": is it installed and in PATH?" : "");
        return;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(p->why, sizeof p->why, "waiting for gnuplot failed: %s", strerror(errno));
            return;
        }
    if (WIFEXITED(st)) p->exit_status = WEXITSTATUS(st);
    if (!WIFEXITED(st)) {
        snprintf(p->why, sizeof p->why, "gnuplot was killed by signal %d", WTERMSIG(st));
    } else if (p->exit_status == 127) {
        snprintf(p->why, sizeof p->why, "gnuplot not found (exit status 127): is it installed?");
    } else if (p->exit_status != 0) {
        snprintf(p->why, sizeof p->why, "gnuplot exited with status %d (see %s.log)",
                 p->exit_status, p->name);
    } else if (!file_nonempty(R->outdir, p->name, "png") ||
               !file_nonempty(R->outdir, p->name, "svg")) {
        snprintf(p->why, sizeof p->why,
                 "gnuplot exited 0 but %s.png or %s.svg is missing or "
                 "empty (see %s.log)",
                 p->name, p->name, p->name);
    } else {
        p->ok = 1;
    }
}

static const char *const known_plots[] = {"ladder", "breakdown", "threads", "seqlen", "roofline"};
#define N_KNOWN 5

static qk_report_plot *plot_named(report *R, const char *name) {
    for (int i = 0; i < R->n_plots; i++)
        if (!strcmp(R->plots[i].name, name)) return &R->plots[i];
    return NULL;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void draw_plots(report *R, const char *scripts, const int has_data[N_KNOWN]) {
    for (int i = 0; i < N_KNOWN; i++) {
        qk_report_plot *p = &R->plots[R->n_plots++];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", known_plots[i]);
        p->has_data = has_data[i] > 0;
        p->exit_status = -1;
        if (has_data[i] < 0)
            snprintf(p->why, sizeof p->why, "its data file could not be written");
        else if (!has_data[i])
            snprintf(p->why, sizeof p->why, "not drawn: these results have no data for it");
    }
    /* every script of the folder: the known ones with their data, others as they are */
    DIR *dir = opendir(scripts);
    char *names[64];
    int n = 0;
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) && n < 64) {
            const size_t l = strlen(e->d_name);
            if (l > 3 && !strcmp(e->d_name + l - 3, ".gp") && e->d_name[0] != '.' &&
                (names[n] = strdup(e->d_name)) != NULL)
                n++;
        }
        closedir(dir);
    }
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    for (int i = 0; i < n; i++) {
        char stem[32];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(names[i]) - 3), names[i]);
        qk_report_plot *p = plot_named(R, stem);
        if (!p && R->n_plots < QK_REPORT_MAX_PLOTS) {
            p = &R->plots[R->n_plots++];
            memset(p, 0, sizeof *p);
            snprintf(p->name, sizeof p->name, "%s", stem);
            p->has_data = 1;
        }
        if (p && p->has_data) {
            char script[4096];
            snprintf(script, sizeof script, "%s/%s", scripts, names[i]);
            if (!R->o->quiet) fprintf(stderr, "qkbench report: gnuplot %s\n", script);
            run_plot(R, p, script);
        }
        free(names[i]);
    }
    for (int i = 0; i < R->n_plots; i++) {
        qk_report_plot *p = &R->plots[i];
        if (p->has_data && !p->attempted) {
            char name[sizeof p->name]; /* a copy: p->why and p->name share an object */
            memcpy(name, p->name, sizeof name);
            snprintf(p->why, sizeof p->why, "no script %s.gp in %s", name, scripts);
        }
    }
}

/* ================================================================== the report */

static int mkdir_p(const char *path, qk_error *err) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return qk_fail(err, "%s: cannot create: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return qk_fail(err, "%s: cannot create: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return qk_fail(err, "%s: not a directory", buf);
    return 0;
}

static void write_markdown(FILE *f, report *R, const char *scripts) {
    fprintf(f, "# qkbench report\n\n");
    fprintf(f, "Generated by qkbench %s (commit %s) from %d results file%s", QK_VERSION,
            QK_GIT_COMMIT, R->n_docs, R->n_docs == 1 ? "" : "s");
    if (R->n_roofs) fprintf(f, " and %d roofline file%s", R->n_roofs, R->n_roofs == 1 ? "" : "s");
    fprintf(f, ". It answers the seed story (`../shared/design/seed-story.md` in the project): "
               "each of its claims is shown beside what this run measured.\n\n");
    fprintf(f, "CPUs in this report:\n\n");
    for (int c = 0; c < R->n_cpus; c++)
        fprintf(f, "- **%s**: %s (host %s), %d results file%s\n", R->cpus[c].label,
                R->cpus[c].cpu_model, R->cpus[c].host, R->cpus[c].n_docs,
                R->cpus[c].n_docs == 1 ? "" : "s");
    fprintf(f, "\n");
    section_summary(f, R);
    section_machine(f, R);
    section_ladder(f, R, plot_named(R, "ladder"));
    section_amdahl(f, R);
    section_memory(f, R);
    section_accuracy(f, R);
    section_breakdown(f, R, plot_named(R, "breakdown"));
    section_threads(f, R, plot_named(R, "threads"));
    section_seqlen(f, R, plot_named(R, "seqlen"));
    section_roofline(f, R, plot_named(R, "roofline"));
    qk_report_kernels_section(f, R->docs, R->n_docs);
    qk_report_peer_section(f, R->docs, R->n_docs);
    section_story(f, R);
    fprintf(f,
            "## Plots\n\nDrawn by the gnuplot scripts in `%s` from the `*.dat` and `*.vars` "
            "files beside this report (PNG and SVG).\n\n| plot | files | status |\n|---|---|---|\n",
            scripts);
    for (int i = 0; i < R->n_plots; i++) {
        const qk_report_plot *p = &R->plots[i];
        fprintf(f, "| %s | %s.png, %s.svg | %s |\n", p->name, p->name, p->name,
                p->ok ? "drawn" : p->why);
    }
    fprintf(f, "\n");
}

int qk_report_generate(const qk_report_options *o, qk_report_outcome *out, qk_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!o || o->n_results < 1) return qk_fail(err, "no results file given");
    report R;
    memset(&R, 0, sizeof R);
    R.o = o;
    int rc = -1;
    char *md = NULL;
    size_t md_len = 0;
    for (int i = 0; i < N_SEED; i++)
        if (add_variant(&R, seed_variants[i])) goto fail_oom;
    R.docs = calloc((size_t)o->n_results, sizeof *R.docs);
    R.roofs = calloc((size_t)o->n_rooflines + 1, sizeof *R.roofs);
    R.outdir = strdup(o->outdir ? o->outdir : "report/out");
    if (!R.docs || !R.roofs || !R.outdir) goto fail_oom;
    for (int i = 0; i < o->n_results; i++) {
        if (qk_results_load(o->results[i], &R.docs[i], err)) goto done;
        R.n_docs++;
        if (load_results(&R, i, err)) goto done;
    }
    for (int i = 0; i < o->n_rooflines; i++) {
        json_error_t je;
        json_t *doc = json_load_file(o->rooflines[i], 0, &je);
        json_t *roof = json_object_get(doc, "roofline");
        if (!json_is_object(roof) || !json_is_array(json_object_get(roof, "bandwidth")) ||
            !json_is_array(json_object_get(roof, "peaks"))) {
            if (!doc)
                qk_fail(err, "%s: %s", o->rooflines[i], je.text);
            else
                qk_fail(err, "%s: not a qkbench roofline file (no roofline.bandwidth/peaks)",
                        o->rooflines[i]);
            json_decref(doc);
            goto done;
        }
        json_incref(roof);
        json_decref(doc);
        R.roofs[R.n_roofs++] = roof;
    }
    match_rooflines(&R);
    show_model = 0;
    for (int c = 0; c < R.n_cpus; c++)
        for (int i = 1; i < R.cpus[c].n_cfgs; i++)
            show_model |= strcmp(R.cpus[c].cfgs[i].model, R.cpus[c].cfgs[0].model) != 0;
    if (mkdir_p(R.outdir, err)) {
        if (out) out->write_failed = 1;
        goto done;
    }

    /* plot data, then the plots, then the Markdown that points at them */
    int has_data[N_KNOWN];
    has_data[0] = write_ladder_data(&R);
    has_data[1] = write_breakdown_data(&R);
    has_data[2] = write_series_data(&R, 1);
    has_data[3] = write_series_data(&R, 0);
    has_data[4] = write_roofline_data(&R);
    char scripts[4096];
    const char *env = getenv("QK_REPORT_SCRIPTS");
    snprintf(scripts, sizeof scripts, "%s",
             o->scripts_dir ? o->scripts_dir
             : env && *env  ? env
                            : QK_SOURCE_DIR "/report");
    draw_plots(&R, scripts, has_data);

    FILE *f = open_memstream(&md, &md_len);
    if (!f) goto fail_oom;
    write_markdown(f, &R, scripts);
    if (fclose(f) != 0) goto fail_oom;
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/REPORT.md", R.outdir);
    snprintf(tmp, sizeof tmp, "%s/.REPORT.md.tmp", R.outdir);
    FILE *w = fopen(tmp, "w");
    if (!w) {
        qk_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
        if (out) out->write_failed = 1;
        goto done;
    }
    const int ok = fwrite(md, 1, md_len, w) == md_len;
    if (fclose(w) != 0 || !ok || rename(tmp, path) != 0) {
        qk_fail(err, "%s: cannot write: %s", path, strerror(errno));
        if (out) out->write_failed = 1;
        unlink(tmp);
        goto done;
    }
    if (out) {
        out->n_cpus = R.n_cpus;
        out->n_plots = R.n_plots;
        memcpy(out->plots, R.plots, sizeof R.plots);
        snprintf(out->report_path, sizeof out->report_path, "%s", path);
    }
    rc = 0;
    goto done;
fail_oom:
    qk_fail(err, "out of memory");
done:
    free(md);
    for (int c = 0; c < R.n_cpus; c++) {
        free(R.cpus[c].docs);
        free(R.cpus[c].cfgs);
        json_decref(R.cpus[c].accuracy);
    }
    free(R.cpus);
    for (int i = 0; i < R.n_docs; i++) json_decref(R.docs[i]);
    for (int i = 0; i < R.n_roofs; i++) json_decref(R.roofs[i]);
    free(R.docs);
    free(R.roofs);
    free(R.variants);
    free(R.outdir);
    return rc;
}

int qk_cmd_report(int argc, char **argv) {
    const char **results = calloc((size_t)argc + 1, sizeof *results);
    const char **roofs = calloc((size_t)argc + 1, sizeof *roofs);
    qk_report_options o = {results, 0, roofs, 0, "report/out", NULL, 0};
    int rc = 2;
    if (!results || !roofs) {
        fprintf(stderr, "qkbench report: out of memory\n");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--roofline")) {
            if (i + 1 == argc) {
                fprintf(stderr, "qkbench report: %s needs a value (see --help)\n", a);
                goto out;
            }
            if (!strcmp(a, "--roofline"))
                roofs[o.n_rooflines++] = argv[++i];
            else
                o.outdir = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qkbench report: unknown option '%s' (see --help)\n", a);
            goto out;
        } else {
            results[o.n_results++] = a;
        }
    }
    if (o.n_results == 0) {
        fprintf(stderr, "qkbench report: expected at least one results file\n%s", usage);
        goto out;
    }
    qk_report_outcome res;
    qk_error err = {{0}};
    if (qk_report_generate(&o, &res, &err)) {
        /* an input that cannot be read is a usage error; an unwritable output is a failure */
        rc = qk_cli_error("report", res.write_failed ? 1 : 2, &err);
        goto out;
    }
    int drawn = 0, missing = 0;
    for (int i = 0; i < res.n_plots; i++) {
        if (res.plots[i].ok)
            drawn++;
        else if (res.plots[i].has_data) {
            missing++;
            fprintf(stderr, "qkbench report: plot %s missing: %s\n", res.plots[i].name,
                    res.plots[i].why);
        }
    }
    printf("wrote %s (%d CPU%s, %d plot%s drawn%s)\n", res.report_path, res.n_cpus,
           res.n_cpus == 1 ? "" : "s", drawn, drawn == 1 ? "" : "s",
           missing ? ", some missing: see the report" : "");
    rc = 0;
out:
    free(results);
    free(roofs);
    return rc;
}
