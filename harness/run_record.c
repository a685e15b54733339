/* What a run records: each configuration's repetitions and aggregates with its fields (kernel,
 * shape, memory, profile, the peer's accuracy), the paired comparisons, and the console table's
 * rows.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/run_internal.h"

static json_t *entry_json(const run_ctx *rc, const run_entry *e) {
    const qk_config *c = &e->cfg;
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:i}", "variant", c->variant, "isa",
                  c->isa, "run", c->rows ? "matmul" : "forward", "threads", c->threads, "seq_len",
                  c->seq_len, "act_scale", qk_act_scale_name(c->act_scale), "binding",
                  qk_binding_policy_name(c->binding), "path",
                  c->peer                   ? "llama.cpp"
                  : c->path == QK_PATH_FP32 ? "fp32"
                                            : "int8",
                  "group", c->group);
    if (c->peer) {
        json_object_del(j, "act_scale");
        json_object_set_new(
            j, "peer_mode",
            json_string(c->peer_mode == QK_PEER_PROCESS ? "process" : "in-process"));
    }
    /* more threads than PUs to run them: the times are of threads taking turns, not of a machine
     * this wide */
    json_object_set_new(j, "oversubscribed", json_boolean(e->oversubscribed));
    json_object_set_new(j, "smt_shared", json_boolean(e->smt_shared));
    if (c->peer && e->peer_info) json_object_set(j, "peer", e->peer_info);
    if (c->rows) {
        json_object_set_new(j, "op", json_string(c->op));
        json_object_set_new(j, "rows", json_integer(c->rows));
        json_object_set_new(j, "cols", json_integer(c->cols));
    }
    (void)rc;
    return j;
}

void qk_run_add_entry_results(run_ctx *rc, qk_results *res, run_entry *e, int reps) {
    json_t *base = entry_json(rc, e);
    json_object_set_new(base, "repetitions_planned", json_integer(reps));
    if (!e->skipped && e->reps_done < 1) { /* stopped before its first repetition */
        e->skipped = 1;
        snprintf(e->skip_reason, sizeof e->skip_reason,
                 "not measured: the run was stopped before its first repetition");
    }
    if (e->skipped) {
        if (e->failed) json_object_set_new(base, "failed", json_true());
        qk_results_add_skipped(res, e->cfg.name, e->skip_reason, base);
        json_decref(base);
        return;
    }
    const int done = e->reps_done < reps ? e->reps_done : reps;
    if (done < reps) json_object_set_new(base, "repetitions_incomplete", json_true());
    const qk_counters *ctr = &rc->counters;
    for (int r = 0; r < done; r++) {
        json_t *x = json_deep_copy(base);
        json_object_set_new(x, "counters",
                            qk_counters_to_json(ctr, ctr->available && !e->cfg.peer
                                                         ? e->counters + (size_t)r * ctr->n_events
                                                         : NULL));
        if (e->decode) json_object_set_new(x, "decode_ms", json_real(1e3 * e->decode[r]));
        qk_results_add_repetition(res, e->cfg.name, r, reps, e->real[r], e->cpu[r], x);
        json_decref(x);
    }
    json_t *x = json_deep_copy(base);
    if (e->cfg.peer) { /* no model of ours: the group's multiply-accumulates, accuracy */
        json_object_set_new(x, "macs_per_pass", json_real(e->macs));
        json_object_set_new(x, "gops", json_real(2.0 * e->macs / e->stats.median / 1e9));
        json_t *acc = json_object(); /* (our allocation counter does not see llama.cpp's) */
        if (!isnan(e->peer_cos_fp32))
            json_object_set_new(acc, "cosine_fp32", json_real(e->peer_cos_fp32));
        if (!isnan(e->peer_cos_best)) {
            json_object_set_new(acc, "cosine_best_int8", json_real(e->peer_cos_best));
            json_object_set_new(acc, "best_int8", json_string(e->peer_best));
        }
        json_object_set_new(x, "peer_accuracy", acc);
        json_t *emb = json_array();
        for (int i = 0; i < qk_run_peer_dim(e) && i < 8; i++)
            json_array_append_new(emb, json_real(e->embedding[i]));
        json_object_set_new(x, "embedding_head", emb);
        qk_results_add_aggregates(res, e->cfg.name, &e->stats, x);
        json_decref(x);
        json_decref(base);
        return;
    }
    const double macs = e->macs = qk_run_pass_macs(e),
                 bytes = e->weight_bytes = qk_run_pass_weight_bytes(e);
    json_object_set_new(x, "macs_per_pass", json_real(macs));
    json_object_set_new(x, "gops", json_real(2.0 * macs / e->stats.median / 1e9));
    json_object_set_new(x, "weight_bytes_per_pass", json_real(bytes));
    json_object_set_new(x, "weight_gbps", json_real(bytes / e->stats.median / 1e9));
    json_object_set_new(x, "allocations_per_pass", json_integer((json_int_t)e->allocs.allocations));
    json_object_set_new(x, "alloc_bytes_per_pass", json_integer((json_int_t)e->allocs.bytes));
    /* memory: measured in a process of its own when probed (peak RSS is then this configuration's),
     * else this process's view of the model (no RSS: several models share the process) */
    qk_footprint fp = {qk_gemma_get_memory(e->model), 0, 0, 0, 0};
    json_t *mem = qk_footprint_to_json(e->probed ? &e->footprint : &fp);
    if (!e->probed) json_object_del(mem, "peak_rss_bytes");
    json_object_set_new(x, "memory", mem);
    if (e->profiled_passes > 0) {
        json_t *p = json_object();
        for (int op = 0; op < QK_OP_COUNT; op++)
            if (e->profile.seconds[op] > 0)
                json_object_set_new(p, qk_op_name((qk_op)op),
                                    json_real(1e3 * e->profile.seconds[op] / e->profiled_passes));
        json_object_set_new(x, "profile_ms", p);
        json_object_set_new(x, "profile_passes", json_integer(e->profiled_passes));
    }
    if (e->cfg.rows == 0) {
        json_t *emb = json_array();
        const int dim = qk_gemma_out_dim(e->model);
        for (int i = 0; i < dim && i < 8; i++)
            json_array_append_new(emb, json_real(e->embedding[i]));
        json_object_set_new(x, "embedding_head", emb);
    }
    qk_results_add_aggregates(res, e->cfg.name, &e->stats, x);
    json_decref(x);
    json_decref(base);
}

void qk_run_add_comparisons(run_ctx *rc, qk_results *res, run_entry *g, int n) {
    for (int i = 0; i < n; i++) {
        if (g[i].skipped || g[i].cfg.peer || g[i].cfg.path != QK_PATH_INT8) continue;
        int b = -1;
        for (int k = 0; k < n && b < 0; k++)
            if (!g[k].skipped && !g[k].cfg.peer && g[k].cfg.path == QK_PATH_INT8 &&
                !strcmp(g[k].cfg.isa, g[i].cfg.isa) && g[k].cfg.act_scale == g[i].cfg.act_scale)
                b = k;
        if (b < 0 || b == i) continue;
        /* pairs of the same round only: as many as both have */
        const int pairs = g[i].reps_done < g[b].reps_done ? g[i].reps_done : g[b].reps_done;
        qk_stats ratio;
        if (pairs > 0 && qk_ratio_compute(g[i].real, g[b].real, pairs, rc->exp->seed, &ratio) == 0)
            qk_results_add_comparison(res, g[i].cfg.name, g[b].cfg.name, &ratio);
    }
}

void qk_run_fill_row(const run_entry *e, double noisy_cv, qk_run_row *row) {
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", e->cfg.name);
    row->skipped = e->skipped;
    row->failed = e->failed;
    row->oversubscribed = e->oversubscribed;
    row->reps_done = e->reps_done;
    snprintf(row->reason, sizeof row->reason, "%s", e->skip_reason);
    row->measured = !e->skipped && e->stats.n > 0;
    row->peer = e->cfg.peer;
    row->median_s = e->stats.median;
    row->ci_lo_s = e->stats.ci_lo;
    row->ci_hi_s = e->stats.ci_hi;
    row->cv = e->stats.cv;
    row->gops = row->measured ? 2.0 * e->macs / e->stats.median / 1e9 : NAN;
    row->allocations = e->allocs.allocations;
    row->noisy = row->measured && qk_is_noisy(&e->stats, noisy_cv);
    const char *binding = json_string_value(json_object_get(e->peer_info, "binding"));
    snprintf(row->peer_binding, sizeof row->peer_binding, "%s", binding ? binding : "");
    snprintf(row->peer_best, sizeof row->peer_best, "%s", e->peer_best);
    row->peer_cos_fp32 = e->peer_cos_fp32;
    row->peer_cos_best = e->peer_cos_best;
}
