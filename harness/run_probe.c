/* Accuracy and memory footprint of the forward configurations, each measured once in a process of
 * its own (so peak RSS is that configuration's): embeddings compared with the same ISA's
 * parse-per-block and with the FP32 path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"
#include "model/gguf.h"

int qk_run_probe_forward(run_ctx *rc, run_entry *all, int n, int n_vocab, json_t *acc,
                         qk_error *err) {
    int seq = 0, n_embd = 0;
    for (int i = 0; i < n; i++)
        if (all[i].cfg.rows == 0 && !all[i].skipped && !all[i].cfg.peer &&
            (seq == 0 || all[i].cfg.seq_len < seq))
            seq = all[i].cfg.seq_len;
    if (seq == 0) return 0;
    qk_gguf g;
    qk_gemma_config mc;
    if (qk_gguf_open(&g, rc->model_path, err)) return -1;
    int crc = qk_gemma_read_config(&g, &mc, err);
    qk_gguf_close(&g);
    if (crc) return -1;
    n_embd = mc.n_embd;
    int32_t *tokens = malloc((size_t)seq * sizeof *tokens);
    /* one embedding per probed entry, plus FP32 */
    float *emb = calloc((size_t)(n + 1) * (size_t)n_embd, sizeof *emb);
    int *probe_of = calloc((size_t)n, sizeof *probe_of); /* entry -> the entry probed for it */
    int rcode = -1;
    if (!tokens || !emb || !probe_of) {
        qk_fail(err, "out of memory");
        goto out;
    }
    qk_run_make_tokens(tokens, seq, n_vocab, rc->exp->seed);
    const qk_gemma_options fp32 = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
    float *ref = emb + (size_t)n * n_embd;
    qk_footprint fp32_fp;
    qk_run_note(rc, "accuracy and memory probes (%d tokens, one process each)", seq);
    /* a probe that fails is its configuration's failure (a damaged model gives non-finite values,
     * say): recorded as such, the others go on. Only a stop ends the probes early. */
    int have_ref = 1;
    qk_error perr;
    if (qk_footprint_probe(rc->self_exe, rc->model_path, &fp32, tokens, seq, &fp32_fp, ref, n_embd,
                           &perr)) {
        if (qk_run_stopped(rc)) goto stopped;
        have_ref = 0;
        for (int i = 0; i < n; i++)
            if (all[i].cfg.path == QK_PATH_FP32 && !all[i].cfg.rows && !all[i].skipped)
                qk_run_fail_entry(rc, &all[i], perr.msg);
        qk_run_note(rc, "accuracy against the FP32 path not measured: %s", perr.msg);
    }
    for (int i = 0; i < n; i++) {
        run_entry *e = &all[i];
        probe_of[i] = -1;
        if (e->cfg.rows || e->skipped || e->cfg.peer) continue;
        if (e->cfg.path == QK_PATH_FP32) {
            e->probed = 1;
            e->footprint = fp32_fp;
            continue;
        }
        for (int j = 0; j < i;
             j++) /* same kernel and act scale probed already (other threads...) */
            if (probe_of[j] == j && all[j].kernel == e->kernel &&
                all[j].cfg.act_scale == e->cfg.act_scale)
                probe_of[i] = j;
        if (probe_of[i] >= 0) {
            e->probed = 1;
            e->footprint = all[probe_of[i]].footprint;
            continue;
        }
        probe_of[i] = i;
        const qk_gemma_options opt = {QK_PATH_INT8, e->kernel,
                                      e->cfg.act_scale == QK_ACT_SCALE_BLOCK ? QK_ACT_PER_BLOCK
                                                                             : QK_ACT_PER_TOKEN};
        if (qk_footprint_probe(rc->self_exe, rc->model_path, &opt, tokens, seq, &e->footprint,
                               emb + (size_t)i * n_embd, n_embd, &perr)) {
            if (qk_run_stopped(rc)) goto stopped;
            probe_of[i] = -1; /* failed: a later one of the same kernel probes again */
            qk_run_fail_entry(rc, e, perr.msg);
            continue;
        }
        e->probed = 1;
    }
    for (int i = 0; i < n; i++) {
        const run_entry *e = &all[i];
        if (probe_of[i] != i) continue;
        const float *got = emb + (size_t)i * n_embd;
        const char *act = qk_act_scale_name(e->cfg.act_scale);
        if (have_ref)
            json_array_append_new(acc, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:i}",
                                                 "model", "experiment", "variant", e->cfg.variant,
                                                 "isa", e->cfg.isa, "act_scale", act, "against",
                                                 "fp32", "cosine_min", qk_cosine(got, ref, n_embd),
                                                 "max_abs_diff", qk_max_abs_diff(got, ref, n_embd),
                                                 "sequences", 1, "seq_len", seq));
        for (int j = 0; j < n; j++)
            if (probe_of[j] == j && j != i && strcmp(all[j].cfg.variant, "parse-per-block") == 0 &&
                strcmp(all[j].cfg.isa, e->cfg.isa) == 0 &&
                all[j].cfg.act_scale == e->cfg.act_scale) {
                const float *base = emb + (size_t)j * n_embd;
                json_array_append_new(
                    acc,
                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:i}", "model",
                              "experiment", "variant", e->cfg.variant, "isa", e->cfg.isa,
                              "act_scale", act, "against", "parse-per-block", "cosine_min",
                              qk_cosine(got, base, n_embd), "max_abs_diff",
                              qk_max_abs_diff(got, base, n_embd), "sequences", 1, "seq_len", seq));
            }
    }
    rcode = 0;
    goto out;
stopped:
    qk_fail(err, "stopped during the accuracy probes");
out:
    free(tokens);
    free(emb);
    free(probe_of);
    return rcode;
}

/* ---------------------------------------------------------------- measuring a group */
