/* Reading results files into the report's model (report/model.h): every configuration of every
 * file, grouped by CPU; the variants in the order the tables show them; the roofline files,
 * matched to their CPU. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/results.h"
#include "report/json.h"
#include "report/model.h"

/* The seed's variants come first in every table, whichever file names them first. */
static const char *const seed_variants[] = {"parse-per-block", "precached-scales", "zero-copy",
                                            "alloc-copy"};
#define N_SEED 4

static double to_ms(double v, const char *unit) {
    if (!unit || !*unit || !strcmp(unit, "ms")) return v;
    if (!strcmp(unit, "ns")) return v * 1e-6;
    if (!strcmp(unit, "us")) return v * 1e-3;
    if (!strcmp(unit, "s")) return v * 1e3;
    return NAN;
}

static int add_variant(rp_report *R, const char *v) {
    if (!*v || !strcmp(v, "fp32") || rp_variant_rank(R, v) < 1000) return 0;
    const char **nv = realloc(R->variants, (size_t)(R->n_variants + 1) * sizeof *nv);
    if (!nv) return -1;
    R->variants = nv;
    R->variants[R->n_variants++] = v;
    return 0;
}

static rp_cfg *get_cfg(rp_cpu *g, int doc, json_t *rec, const char *run_name, const char *model) {
    for (int i = g->n_cfgs - 1; i >= 0; i--)
        if (g->cfgs[i].doc == doc && !strcmp(g->cfgs[i].run_name, run_name)) return &g->cfgs[i];
    if (g->n_cfgs == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        rp_cfg *n = realloc(g->cfgs, (size_t)cap * sizeof *n);
        if (!n) return NULL;
        g->cfgs = n, g->cap = cap;
    }
    rp_cfg *c = &g->cfgs[g->n_cfgs++];
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
    c->threads = qk_rj_int(rec, "threads");
    c->seq_len = qk_rj_int(rec, "seq_len");
    c->rows = qk_rj_int(rec, "rows");
    c->cols = qk_rj_int(rec, "cols");
    if (c->threads < 0 || c->seq_len < 0 || c->rows < 0 || c->cols < 0)
        c->error = "malformed record: threads, seq_len, rows or cols is not a count";
    if (!*c->path) c->path = strcmp(c->variant, "fp32") ? "int8" : "fp32";
    if (!*c->run) c->run = c->rows ? "matmul" : "forward";
    c->med = c->lo = c->hi = c->cv = NAN;
    return c;
}

static rp_cpu *group_for(rp_report *R, json_t *doc) {
    json_t *ctx = json_object_get(doc, "context");
    const char *cpu = qk_rj_str(ctx, "cpu_model"), *host = qk_rj_str(ctx, "host_name");
    json_t *slurm = json_object_get(ctx, "slurm"), *jt = json_object_get(slurm, "array_task_id");
    const char *target = qk_rj_str(slurm, "fleet_target");
    const int task = *target && json_is_integer(jt) ? (int)json_integer_value(jt) : -1;
    for (int i = 0; i < R->n_cpus; i++)
        if (!strcmp(R->cpus[i].cpu_model, cpu) && !strcmp(R->cpus[i].host, host) &&
            !strcmp(R->cpus[i].target, target) && R->cpus[i].task == task &&
            qk_results_comparable(R->docs[R->cpus[i].docs[0]], "", doc, "", QK_RESULTS_SAME_BUILD,
                                  NULL) == 0)
            return &R->cpus[i];
    rp_cpu *n = realloc(R->cpus, (size_t)(R->n_cpus + 1) * sizeof *n);
    if (!n) return NULL;
    R->cpus = n;
    rp_cpu *g = &R->cpus[R->n_cpus];
    memset(g, 0, sizeof *g);
    if (R->n_cpus < 26)
        snprintf(g->label, sizeof g->label, "%c", 'A' + R->n_cpus);
    else
        snprintf(g->label, sizeof g->label, "%d", R->n_cpus + 1);
    g->cpu_model = *cpu ? cpu : "unknown CPU";
    g->host = *host ? host : "unknown host";
    g->target = target;
    g->task = task;
    qk_results_describe(doc, g->build, sizeof g->build);
    g->ctx = ctx;
    g->accuracy = json_array();
    if (!g->accuracy) return NULL;
    R->n_cpus++;
    return g;
}

static int load_results(rp_report *R, int d, qk_error *err) {
    json_t *doc = R->docs[d];
    json_t *ctx = json_object_get(doc, "context");
    rp_cpu *g = group_for(R, doc);
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
        if (!strcmp(qk_rj_str(b, "path"), "llama.cpp")) continue; /* the peer: sections/peer.c */
        rp_cfg *c = get_cfg(g, d, b, run_name, model);
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
        /* a time that is not a positive, finite, plausible duration makes the configuration
         * unusable (a "-3.25x" speedup or a NaN geomean would follow from it) */
        const int time_agg = !strcmp(an, "median") || !strcmp(an, "ci_lo") || !strcmp(an, "ci_hi");
        if (time_agg && !qk_rj_time_ok(ms)) {
            c->error = "malformed record: a time that is not positive, finite and under a day";
            continue;
        }
        if (!strcmp(an, "median")) {
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
            rp_cfg *c = &g->cfgs[k];
            if (c->doc != d || strcmp(c->run_name, name)) continue;
            c->ratio = qk_rj_num(b, "ratio");
            c->r_lo = qk_rj_num(b, "ci_lo");
            c->r_hi = qk_rj_num(b, "ci_hi");
            /* a paired ratio of times: positive and finite, with an ordered interval */
            c->has_cmp = c->ratio > 0 && isfinite(c->ratio) && c->r_lo > 0 && c->r_lo <= c->r_hi &&
                         isfinite(c->r_hi);
            c->cmp_base = qk_rj_str(b, "baseline");
        }
    }
    json_array_foreach(json_object_get(ctx, "accuracy"), i, b) {
        if (json_is_object(b)) json_array_append(g->accuracy, b);
    }
    return 0;
}

static void match_rooflines(rp_report *R) {
    for (int c = 0; c < R->n_cpus; c++) {
        rp_cpu *g = &R->cpus[c];
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

/* A roofline file's "roofline" object (a new reference), or NULL with err set. */
static json_t *load_roofline(const char *path, qk_error *err) {
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    json_t *roof = json_object_get(doc, "roofline");
    if (!json_is_object(roof) || !json_is_array(json_object_get(roof, "bandwidth")) ||
        !json_is_array(json_object_get(roof, "peaks"))) {
        if (!doc)
            qk_fail(err, "%s: %s", path, je.text);
        else
            qk_fail(err, "%s: not a qkbench roofline file (no roofline.bandwidth/peaks)", path);
        json_decref(doc);
        return NULL;
    }
    json_incref(roof);
    json_decref(doc);
    return roof;
}

int rp_load(rp_report *R, const qk_report_options *o, qk_error *err) {
    memset(R, 0, sizeof *R);
    R->o = o;
    for (int i = 0; i < N_SEED; i++)
        if (add_variant(R, seed_variants[i])) return qk_fail(err, "out of memory");
    R->docs = calloc((size_t)o->n_results, sizeof *R->docs);
    R->roofs = calloc((size_t)o->n_rooflines + 1, sizeof *R->roofs);
    if (!R->docs || !R->roofs) return qk_fail(err, "out of memory");
    for (int i = 0; i < o->n_results; i++) {
        if (qk_results_load(o->results[i], &R->docs[i], err)) return -1;
        R->n_docs++;
        qk_rj_sanitize(R->docs[i]);
        if (load_results(R, i, err)) return -1;
    }
    for (int i = 0; i < o->n_rooflines; i++) {
        json_t *roof = load_roofline(o->rooflines[i], err);
        if (!roof) return -1;
        qk_rj_sanitize(roof);
        R->roofs[R->n_roofs++] = roof;
    }
    match_rooflines(R);
    for (int c = 0; c < R->n_cpus; c++)
        for (int i = 1; i < R->cpus[c].n_cfgs; i++)
            R->show_model |= strcmp(R->cpus[c].cfgs[i].model, R->cpus[c].cfgs[0].model) != 0;
    return 0;
}

void rp_free(rp_report *R) {
    for (int c = 0; c < R->n_cpus; c++) {
        free(R->cpus[c].docs);
        free(R->cpus[c].cfgs);
        json_decref(R->cpus[c].accuracy);
    }
    free(R->cpus);
    for (int i = 0; i < R->n_docs; i++) json_decref(R->docs[i]);
    for (int i = 0; i < R->n_roofs; i++) json_decref(R->roofs[i]);
    free(R->docs);
    free(R->roofs);
    free(R->variants);
    free(R->outdir);
    memset(R, 0, sizeof *R);
}
