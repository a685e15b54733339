/* Figures derived from several configurations: the matmul-only runs weighed as the model's
 * per-layer mix (the local speedup s of a variant), and the Amdahl figures of a variant against
 * parse-per-block (p from the baseline's profile, s, predicted, bound, achieved, verdict) that the
 * Amdahl section, the summary and the closing paragraph all quote. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/model.h"

/* The model's matmul shapes in the order the tables show them. */
static const char *const mm_op_order[] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                          "ffn_gate", "ffn_up", "ffn_down"};
#define N_MM_OPS ((int)(sizeof mm_op_order / sizeof *mm_op_order))

/* How often a matmul shape runs per layer, given which shapes the run measured (distinct shapes
 * only: attn_v = attn_k, ffn_up = ffn_gate, attn_output = attn_q when square). */
int rp_op_weight(const rp_cpu *g, const rp_key *k, const rp_cfg *c) {
    const char *op = c->op;
    if (!strcmp(op, "attn_q"))
        return 1 + (c->rows == c->cols &&
                    !rp_find_cfg(g, "matmul", "parse-per-block", k, "attn_output"));
    if (!strcmp(op, "attn_k"))
        return rp_find_cfg(g, "matmul", "parse-per-block", k, "attn_v") ? 1 : 2;
    if (!strcmp(op, "ffn_gate"))
        return rp_find_cfg(g, "matmul", "parse-per-block", k, "ffn_up") ? 1 : 2;
    return 1;
}

/* The baseline's matmul configurations at key k (every shape measured). */
int rp_mm_shapes(const rp_cpu *g, const rp_key *k, const rp_cfg **out, int max) {
    int n = 0;
    for (int o = 0; o < N_MM_OPS + 1 && n < max; o++) {
        for (int i = 0; i < g->n_cfgs && n < max; i++) {
            const rp_cfg *c = &g->cfgs[i];
            if (!rp_usable(c) || !rp_is_int8(c) || strcmp(c->run, "matmul") ||
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
int rp_mix_speedup(const rp_cpu *g, const rp_key *k, const char *variant, qk_interval *s,
                   double *t_base, double *t_var, int *n_shapes, int *paired_out) {
    const rp_cfg *sh[32];
    const int n = rp_mm_shapes(g, k, sh, 32);
    if (n == 0) return -1;
    double tb = 0, tv = 0, tb_lo = 0, tb_hi = 0, tv_lo = 0, tv_hi = 0, tr_lo = 0, tr_hi = 0;
    int paired = 1;
    for (int i = 0; i < n; i++) {
        const rp_cfg *v = rp_find_cfg(g, "matmul", variant, k, sh[i]->op);
        if (!v) return -1;
        const double w = rp_op_weight(g, k, sh[i]);
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

/* p from the baseline's profile; s from the matmul-only mix, else (no interval) from the two
 * profiles' matmul times; achieved from the forward passes. What is missing says why in a->line. */
void rp_amdahl_for(const rp_cpu *g, const rp_key *k, const char *variant, rp_amdahl *a) {
    memset(a, 0, sizeof *a);
    a->p = a->removed = a->implied = NAN;
    a->s = a->pred = a->bound = a->ach = qk_interval_point(NAN);
    a->s_source = "";
    const rp_cfg *b = rp_find_cfg(g, "forward", "parse-per-block", k, NULL);
    const rp_cfg *v = rp_find_cfg(g, "forward", variant, k, NULL);
    json_t *pb = rp_profile_of(b), *pv = rp_profile_of(v);
    if (pb) {
        a->prof_total = rp_prof_sum(pb, 0);
        if (a->prof_total > 0) {
            a->has_p = 1;
            a->p = rp_prof_sum(pb, 1) / a->prof_total;
            if (pv) a->removed = (rp_prof_sum(pb, 1) - rp_prof_sum(pv, 1)) / a->prof_total;
        }
    }
    int n_shapes = 0, paired = 0;
    if (rp_mix_speedup(g, k, variant, &a->s, NULL, NULL, &n_shapes, &paired) == 0) {
        a->has_s = 1;
        a->s_source = "matmul-only runs";
        snprintf(a->s_note, sizeof a->s_note, "matmul-only, %d shape%s per-layer mix%s", n_shapes,
                 n_shapes == 1 ? "" : "s", paired ? "" : ", unpaired");
    } else if (pb && pv && rp_prof_sum(pv, 1) > 0) {
        a->has_s = 1;
        a->s = qk_interval_point(rp_prof_sum(pb, 1) / rp_prof_sum(pv, 1));
        a->s.lo = a->s.hi = NAN; /* a few profiled passes: no interval */
        a->s_source = "profiles";
        snprintf(a->s_note, sizeof a->s_note, "profiles' matmul time ratio (no interval)");
    }
    if (b && v) {
        a->has_ach = 1;
        a->ach = rp_speedup_of(v, b, NULL);
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
