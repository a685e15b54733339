/* qk_run_experiment: an experiment file -> the sweep's configurations -> groups measured in turn
 * (harness/run_group.c) -> results rewritten after every group (harness/results.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/refdata.h"
#include "harness/run_internal.h"
#include "model/gguf.h"

int qk_run_stopped(const run_ctx *rc) {
    return rc->opt->stop && *rc->opt->stop;
}

void qk_run_note(const run_ctx *rc, const char *fmt, ...) {
    const qk_run_observer *o = &rc->opt->obs;
    if (!o->note) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->note(o->ctx, line);
}

void qk_run_outcome_free(qk_run_outcome *out) {
    if (!out) return;
    free(out->rows);
    out->rows = NULL;
    out->n_rows = 0;
}

/* The context's "progress": how much of the plan the results hold (each configuration's records
 * say how many of its planned repetitions it has). */
static void set_progress(qk_results *res, int n_cfg, int reached, int reps) {
    qk_results_context_set(res, "progress",
                           json_pack("{s:i, s:i, s:i}", "configurations_planned", n_cfg,
                                     "configurations_reached", reached, "repetitions_planned",
                                     reps));
}

static qk_run_status run(const qk_run_options *o, int sitting, int sittings, qk_run_outcome *out,
                         qk_error *err);

qk_run_status qk_run_experiment(const qk_run_options *o, qk_run_outcome *out, qk_error *err) {
    return run(o, 0, 0, out, err);
}

qk_run_status qk_run_experiment_sitting(const qk_run_options *o, int index, int count,
                                        qk_run_outcome *out, qk_error *err) {
    return run(o, index, count, out, err);
}

static qk_run_status run(const qk_run_options *o, int sitting, int sittings, qk_run_outcome *out,
                         qk_error *err) {
    if (out) memset(out, 0, sizeof *out);
    qk_experiment exp;
    if (qk_experiment_parse_file(o->experiment_path, &exp, err)) return QK_RUN_BAD_INPUT;
    if (exp.counters_mode == QK_COUNTERS_LIST) { /* a misspelt event is bad input */
        char bad[128], why[128];
        if (qk_counters_check_names((const char *const *)exp.counters.v, exp.counters.n, bad,
                                    sizeof bad, why, sizeof why) == 1) {
            qk_fail(err,
                    "%s:%d: counters: %s is not an event PAPI knows (PAPI: %s; papi_avail lists "
                    "the preset events, papi_native_avail the native ones)",
                    exp.file, exp.counters_line, bad, why);
            qk_experiment_free(&exp);
            return QK_RUN_BAD_INPUT;
        }
    }

    qk_run_status status = QK_RUN_ERROR;
    int n_cfg = 0, finished = 0; /* finished: the complete files were written */
    run_ctx rc = {0};
    qk_config *cfgs = NULL;
    run_entry *all = NULL;
    qk_results *res = NULL;
    char model_path[4096];
    rc.opt = o;
    rc.self_exe = o->self_exe ? o->self_exe : "/proc/self/exe";
    rc.exp = &exp;
    /* --quick never runs more repetitions than the full run */
    rc.reps = o->quick && exp.quick_repetitions < exp.repetitions ? exp.quick_repetitions
                                                                  : exp.repetitions;
    rc.warmups = o->quick ? (exp.warmups < 1 ? exp.warmups : 1) : exp.warmups;
    rc.profile_passes = o->quick ? 1 : rc.reps < 3 ? rc.reps : 3;

    /* the universe `all` means here, and the model's shapes */
    const char *variants[64], *isas[3];
    int n_var = 0, n_isa = 0;
    for (int i = 0; i < qk_kernel_count() && n_var < 64; i++) {
        const qk_kernel *k = qk_kernel_at(i);
        int seen = 0;
        for (int j = 0; j < n_var; j++) seen |= strcmp(variants[j], k->variant) == 0;
        if (!seen) variants[n_var++] = k->variant;
    }
    static const char *const isa_names[3] = {"scalar", "avx2", "avx512vnni"};
    for (int i = 0; i < 3; i++) {
        const qk_kernel *k = qk_kernel_find("zero-copy", isa_names[i]);
        if (k && qk_kernel_available(k, NULL)) isas[n_isa++] = isa_names[i];
    }
    if (qk_resolve_model(exp.model, model_path, sizeof model_path, o->obs.note, o->obs.ctx, err)) {
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    rc.model_path = model_path;
    qk_gguf g;
    qk_gemma_config mc;
    if (qk_gguf_open(&g, model_path, err)) {
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    int cfg_rc = qk_gemma_read_config(&g, &mc, err);
    qk_gguf_close(&g);
    if (cfg_rc) {
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    const int QD = mc.n_head * mc.head_dim, KD = mc.n_head_kv * mc.head_dim;
    qk_shape shapes[] = {{"attn_q", QD, mc.n_embd},
                         {"attn_k", KD, mc.n_embd},
                         {"attn_output", mc.n_embd, QD},
                         {"ffn_gate", mc.n_ff, mc.n_embd},
                         {"ffn_down", mc.n_embd, mc.n_ff}};
    /* distinct shapes only: attn_v = attn_k, ffn_up = ffn_gate; attn_q = attn_output when square */
    int n_shapes = QD == mc.n_embd ? 4 : 5;
    if (QD == mc.n_embd) shapes[2] = shapes[3], shapes[3] = shapes[4];
    if (qk_topology_open(&rc.topo, err)) {
        status = QK_RUN_ERROR;
        goto out;
    }
    qk_sweep_universe u = {
        variants, n_var,   isas, n_isa, qk_topology_get_info(rc.topo)->usable_cores,
        shapes,   n_shapes};
    if (qk_experiment_expand(&exp, &u, &cfgs, &n_cfg, err)) {
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    all = calloc((size_t)n_cfg, sizeof *all);
    if (!all) {
        qk_fail(err, "out of memory");
        goto out;
    }
    /* the peer: said once when it cannot run; the rest of the run goes on */
    int peer_ok = 0;
    char peer_why[200] = "";
    if (exp.peer_llama) {
        if (!qk_peer_llama_built())
            snprintf(peer_why, sizeof peer_why,
                     "peer llama.cpp: not built (headers missing: run scripts/install-peer.sh, "
                     "then rebuild)");
        else if (!qk_peer_llama_available(exp.peer_library))
            snprintf(peer_why, sizeof peer_why,
                     "peer llama.cpp: not installed (run scripts/install-peer.sh)");
        else
            peer_ok = 1;
        if (!peer_ok) qk_run_note(&rc, "%s", peer_why);
    }
    int max_seq = 1, max_threads = 1, peer_seq = 0, peer_threads = 0;
    const int usable_pus = qk_topology_get_info(rc.topo)->usable_pus;
    for (int i = 0; i < n_cfg; i++) {
        run_entry *e = &all[i];
        e->cfg = cfgs[i];
        if (e->cfg.seq_len > max_seq) max_seq = e->cfg.seq_len;
        if (e->cfg.threads > max_threads) max_threads = e->cfg.threads;
        e->peer_cos_fp32 = e->peer_cos_best = NAN;
        e->oversubscribed = e->cfg.threads > usable_pus;
        e->smt_shared = e->cfg.threads > qk_topology_get_info(rc.topo)->usable_cores;
        if (e->oversubscribed && (i == 0 || all[i - 1].cfg.threads != e->cfg.threads))
            qk_run_note(&rc,
                        "t:%d: %d threads on %d usable PUs: oversubscribed (threads take turns; "
                        "recorded as such)",
                        e->cfg.threads, e->cfg.threads, usable_pus);
        if (e->cfg.peer) {
            if (e->cfg.seq_len > peer_seq) peer_seq = e->cfg.seq_len;
            if (e->cfg.threads > peer_threads) peer_threads = e->cfg.threads;
        }
        if (e->cfg.peer) {
            if (!peer_ok) {
                e->skipped = 1;
                snprintf(e->skip_reason, sizeof e->skip_reason, "skipped: %s", peer_why);
            }
            continue;
        }
        if (e->cfg.path == QK_PATH_FP32) continue;
        e->kernel = qk_kernel_find(e->cfg.variant, e->cfg.isa);
        const char *why = NULL;
        if (!e->kernel) {
            e->skipped = 1;
            snprintf(e->skip_reason, sizeof e->skip_reason, "skipped: no kernel %s for %s",
                     e->cfg.variant, e->cfg.isa);
        } else if (!qk_kernel_available(e->kernel, &why)) {
            e->skipped = 1;
            snprintf(e->skip_reason, sizeof e->skip_reason, "skipped: %s",
                     why ? why : "unavailable");
        }
    }
    /* the peer once in a child process, before any thread of ours exists: llama.cpp aborts on
     * what it cannot handle (GGML_ASSERT), and that must cost the child, not this run */
    if (peer_ok && peer_seq > 0) {
        char why[400];
        qk_run_note(&rc, "peer llama.cpp: a trial run in a child process first");
        if (qk_run_peer_trial(&rc, peer_threads, peer_seq, mc.n_vocab, why, sizeof why)) {
            for (int i = 0; i < n_cfg; i++)
                if (all[i].cfg.peer && !all[i].skipped) {
                    all[i].skipped = all[i].failed = 1;
                    snprintf(all[i].skip_reason, sizeof all[i].skip_reason, "failed: %s", why);
                }
            qk_run_note(&rc, "%s (its configurations are recorded as failed; the run goes on)",
                        why);
        }
    }
    /* counters: one event set per worker thread */
    const char *const *events = NULL;
    int n_events = 0;
    if (exp.counters_mode == QK_COUNTERS_LIST) {
        events = (const char *const *)exp.counters.v;
        n_events = exp.counters.n;
    }
    if (exp.counters_mode == QK_COUNTERS_NONE) {
        memset(&rc.counters, 0, sizeof rc.counters);
        snprintf(rc.counters.reason, sizeof rc.counters.reason, "disabled by the experiment");
    } else if (qk_counters_init(&rc.counters, events, n_events, max_threads, err)) {
        status = QK_RUN_ERROR;
        goto out;
    }
    if (!rc.counters.available)
        qk_run_note(&rc, "hardware counters unavailable: %s", rc.counters.reason);

    rc.tokens = malloc((size_t)max_seq * sizeof *rc.tokens);
    const int widest =
        mc.n_ff > mc.n_embd ? (mc.n_ff > QD ? mc.n_ff : QD) : (mc.n_embd > QD ? mc.n_embd : QD);
    rc.act_src = malloc((size_t)max_seq * (size_t)(widest > mc.dense_ff ? widest : mc.dense_ff) *
                        sizeof(float));
    if (!rc.tokens || !rc.act_src) {
        qk_fail(err, "out of memory");
        goto out;
    }
    {
        uint64_t s = exp.seed;
        const size_t n_act =
            (size_t)max_seq * (size_t)(widest > mc.dense_ff ? widest : mc.dense_ff);
        for (size_t i = 0; i < n_act; i++)
            rc.act_src[i] = (float)((double)(qk_run_splitmix(&s) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    }

    res = qk_results_new();
    if (!res) {
        qk_fail(err, "out of memory");
        goto out;
    }
    qk_results_capture_environment(res);
    qk_results_set_noisy_cv(res, exp.noisy_cv);
    /* the text is UTF-8 (checked when parsed); paths from the command line or the environment
     * may not be: they are stored with U+FFFD for what is not, never lost ("experiment": null) */
    if (qk_results_context_set(res, "experiment",
                               json_pack("{s:s, s:o, s:s, s:b, s:i, s:i}", "name", exp.name, "file",
                                         qk_results_string(o->experiment_path), "text", exp.text,
                                         "quick", o->quick, "repetitions", rc.reps, "warmups",
                                         rc.warmups)) ||
        qk_results_context_set(res, "model",
                               json_pack("{s:o, s:o}", "spec", qk_results_string(exp.model), "path",
                                         qk_results_string(model_path)))) {
        qk_fail(err, "out of memory");
        goto out;
    }
    if (sittings > 0)
        qk_results_context_set(res, "sitting",
                               json_pack("{s:i, s:i}", "index", sitting, "count", sittings));
    qk_results_context_set(res, "topology", qk_topology_to_json(rc.topo));
    qk_results_context_set(res, "counters", qk_counters_to_json(&rc.counters, NULL));
    {
        json_t *ks = json_array();
        for (int i = 0; i < qk_kernel_count(); i++) {
            const qk_kernel *k = qk_kernel_at(i);
            const char *why = NULL;
            int ok = qk_kernel_available(k, &why);
            /* the tile (rows x tokens per pass) is part of what was measured */
            json_array_append_new(
                ks, json_pack("{s:s, s:s, s:s, s:i, s:i, s:b, s:b, s:s}", "variant", k->variant,
                              "isa", k->isa, "summary", k->summary, "row_block",
                              k->row_block > 1 ? k->row_block : 1, "token_tile", k->token_tile,
                              "fused_activation_ops", (k->flags & QK_KERNEL_FUSED_ACT) != 0,
                              "available", ok, "why", ok ? "" : (why ? why : "")));
        }
        qk_results_context_set(res, "kernels", ks);
    }
    const char *base = o->name ? o->name : exp.name;
    /* refuse to clobber before measuring anything; the first checkpoint finds an unwritable
     * folder */
    set_progress(res, n_cfg, 0, rc.reps);
    if (qk_results_run_begin(res, o->out_dir, base, o->force, err)) {
        status = QK_RUN_BAD_INPUT;
        goto out;
    }
    qk_error werr;

    if (exp.accuracy && !qk_run_stopped(&rc)) {
        json_t *acc = json_array();
        if (qk_run_probe_forward(&rc, all, n_cfg, mc.n_vocab, acc, err)) {
            json_decref(acc);
            status = qk_run_stopped(&rc) ? QK_RUN_INTERRUPTED : QK_RUN_ERROR;
            goto stopped;
        }
        const char *td = qk_testdata_dir();
        if (td && !qk_run_stopped(&rc)) {
            if (qk_accuracy_reference(
                    td, exp.kernels_all ? NULL : (const char *const *)exp.kernels.v, exp.kernels.n,
                    exp.isas_all ? NULL : (const char *const *)exp.isas.v, exp.isas.n, acc, err))
                qk_run_note(&rc, "reference accuracy not measured: %s", err->msg);
        } else if (!td) {
            qk_run_note(&rc, "reference accuracy not measured: no ../shared/testdata (set "
                             "QK_TESTDATA_DIR)");
        }
        qk_results_context_set(res, "accuracy", acc);
    }

    const double started = qk_now_seconds();
    qk_run_note(&rc, "%s: %d configurations, %d repetitions, %d warm-ups, model %s", exp.name,
                n_cfg, rc.reps, rc.warmups, model_path);
    int failed = 0;
    for (int i = 0; i < n_cfg && !qk_run_stopped(&rc) && !failed;) {
        int j = i + 1;
        while (j < n_cfg && all[j].cfg.group == all[i].cfg.group) j++;
        qk_run_make_tokens(rc.tokens, all[i].cfg.seq_len, mc.n_vocab, exp.seed);
        int mrc = qk_run_measure_group(&rc, all + i, j - i, i, n_cfg, started, err);
        if (mrc < 0) failed = 1; /* err says why; the groups before stay */
        if (mrc == 0) qk_run_peer_after_group(&rc, res, all + i, j - i);
        if (mrc >= 0) { /* measured, or stopped: the repetitions made so far are kept */
            for (int k = i; k < j; k++) qk_run_add_entry_results(&rc, res, &all[k], rc.reps);
            qk_run_add_comparisons(&rc, res, all + i, j - i);
        }
        for (int k = i; k < j; k++)
            qk_run_release_entry(&all[k]); /* memory stays bounded by one group */
        set_progress(res, n_cfg, mrc >= 0 ? j : i, rc.reps);
        i = j;
        /* a checkpoint after every group but the last (the final write follows it at once): an
         * interrupt, a kill or a crash loses at most the group in flight */
        if (mrc == 0 && i < n_cfg && !qk_run_stopped(&rc) &&
            qk_results_run_checkpoint(res, "running", NULL, &werr))
            qk_run_note(&rc, "%s", werr.msg);
    }
    for (int i = 0; i < n_cfg; i++)
        if (all[i].failed && !all[i].cfg.peer) { /* our own configuration failed: say so */
            if (!failed) qk_fail(err, "%s: %s", all[i].cfg.name, all[i].skip_reason);
            failed |= 2;
        }
    if (qk_run_stopped(&rc) || (failed & 1)) {
        status = failed & 1 ? QK_RUN_FAILED : QK_RUN_INTERRUPTED;
        goto stopped;
    }
    /* every configuration reached: the complete files replace earlier ones only now */
    if (qk_results_run_finish(res, &werr)) {
        *err = werr;
        /* every measurement was made; only the final write failed (a full disk?): the checkpoint
         * says so when it can be rewritten, and is never taken for an interrupted run */
        qk_error cerr;
        if (qk_results_run_checkpoint(res, "write_failed", werr.msg, &cerr) == 0)
            qk_fail_prefix(err,
                           "the results could not be written (the measurements are in %s, "
                           "state write_failed)",
                           qk_results_run_path(res, 1, 0));
        else
            qk_fail_prefix(err,
                           "the results could not be written, nor the checkpoint %s updated "
                           "(its state says running, from before the last group)",
                           qk_results_run_path(res, 1, 0));
        status = QK_RUN_ERROR;
        goto out;
    }
    finished = 1;
    status = failed ? QK_RUN_FAILED : QK_RUN_COMPLETE;
    goto out;
stopped:
    /* interrupted or failed: what was measured stays in the checkpoint, with the state; the
     * complete files of an earlier run, if any, are untouched */
    if (qk_results_run_checkpoint(res, status == QK_RUN_INTERRUPTED ? "interrupted" : "failed",
                                  status == QK_RUN_INTERRUPTED ? NULL : err->msg, &werr)) {
        if (status == QK_RUN_INTERRUPTED)
            *err = werr;
        else
            qk_run_note(&rc, "%s", werr.msg);
        status = QK_RUN_ERROR;
    }
out:
    if (out && all) {
        out->rows = calloc((size_t)n_cfg, sizeof *out->rows);
        out->n_rows = out->rows ? n_cfg : 0;
        out->reps_planned = rc.reps;
        for (int i = 0; i < out->n_rows; i++) qk_run_fill_row(&all[i], exp.noisy_cv, &out->rows[i]);
        /* where the results are: the complete files, or the checkpoint of a run that stopped
         * (never an earlier run's NAME.json) */
        if (res) {
            snprintf(out->json_path, sizeof out->json_path, "%s",
                     qk_results_run_path(res, !finished, 0));
            snprintf(out->csv_path, sizeof out->csv_path, "%s",
                     qk_results_run_path(res, !finished, 1));
        }
    }
    for (int i = 0; all && i < n_cfg; i++) {
        qk_run_release_entry(&all[i]);
        json_decref(all[i].peer_info);
    }
    free(all);
    free(rc.fp32_emb);
    free(cfgs);
    for (int i = 0; i < rc.n_pools; i++) qk_run_drop_pool(&rc, rc.pools[i].pool);
    if (rc.counters.n_threads) qk_counters_free(&rc.counters);
    qk_topology_close(rc.topo);
    qk_results_free(res);
    free(rc.tokens);
    free(rc.act_src);
    qk_experiment_free(&exp);
    return status;
}
