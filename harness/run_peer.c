/* The llama.cpp peer inside a run: opened on the PUs of the group's pool, and after its group its
 * accuracy (against our FP32 path and the group's fastest kernel) and its paired ratio. */
#include <errno.h>
#include <hwloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/run_internal.h"

/* The OS indices of the PUs the pool's workers are bound to (none for binding = none). */
static int pool_cpus(const run_ctx *rc, const qk_pool *pool, qk_binding_policy binding, int *cpus,
                     int max) {
    if (binding == QK_BIND_NONE) return 0;
    int n = 0;
    hwloc_bitmap_t bm = hwloc_bitmap_alloc();
    for (int i = 0; bm && i < qk_pool_size(pool); i++) {
        const qk_binding *b = qk_pool_binding_info(pool, i);
        if (!b || hwloc_bitmap_list_sscanf(bm, b->obtained) != 0) continue;
        int id;
        hwloc_bitmap_foreach_begin(id, bm) {
            int seen = 0;
            for (int k = 0; k < n; k++) seen |= cpus[k] == id;
            if (!seen && n < max) cpus[n++] = id;
        }
        hwloc_bitmap_foreach_end();
    }
    hwloc_bitmap_free(bm);
    (void)rc;
    return n;
}

int qk_run_peer_trial(run_ctx *rc, int threads, int max_seq, int n_vocab, char *why, size_t size) {
    int32_t *tokens = malloc((size_t)max_seq * sizeof *tokens);
    if (!tokens) return snprintf(why, size, "peer llama.cpp: out of memory"), -1;
    qk_run_make_tokens(tokens, max_seq, n_vocab, rc->exp->seed);
    FILE *errf = tmpfile(); /* the child's stderr: llama.cpp's last words go into the message */
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        if (errf) dup2(fileno(errf), 2);
        setenv("GGML_NO_BACKTRACE", "1", 1); /* no debugger attached to print a backtrace */
        qk_peer_llama *p = NULL;
        qk_error e = {{0}};
        int r = qk_peer_llama_open(&p, rc->exp->peer_library, rc->model_path, threads, max_seq,
                                   NULL, 0, QK_PEER_LLAMA_OUR_THREADPOOL, &e);
        float *emb = r == 0 ? malloc((size_t)qk_peer_llama_dim(p) * sizeof *emb) : NULL;
        if (r == 0 && !emb) r = qk_fail(&e, "out of memory");
        if (r == 0) r = qk_peer_llama_embed(p, tokens, max_seq, emb, NULL, &e);
        for (int i = 0; r == 0 && i < qk_peer_llama_dim(p); i++)
            if (!isfinite(emb[i])) r = qk_fail(&e, "non-finite value in llama.cpp's embedding");
        if (r) fprintf(stderr, "qkbench: %s\n", e.msg);
        fflush(stderr);
        _exit(r ? 1 : 0); /* no exit handlers: nothing of the parent's runs twice */
    }
    free(tokens);
    if (pid < 0) {
        if (errf) fclose(errf);
        snprintf(why, size, "peer llama.cpp: cannot start the trial process: %s", strerror(errno));
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    char said[400];
    qk_peer_child_last_words(errf, said, sizeof said);
    if (errf) fclose(errf);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    char how[96];
    if (WIFSIGNALED(st))
        snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(how, sizeof how, "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    snprintf(why, size, "peer llama.cpp: its trial run (%d threads, %d tokens) died: %s%s%.250s",
             threads, max_seq, how, said[0] ? ": " : "", said);
    return -1;
}

int qk_run_setup_peer(run_ctx *rc, run_entry *e, qk_error *err) {
    int cpus[256];
    const int n_cpus = pool_cpus(rc, rc->cur_pool, e->cfg.binding, cpus, 256);
    json_decref(e->peer_info);
    e->peer_info = NULL;
    if (e->cfg.peer_mode == QK_PEER_PROCESS) {
        /* its own process on the same PUs, at llama.cpp's defaults */
        const qk_peer_process_options o = {rc->self_exe,   rc->exp->peer_library, rc->model_path,
                                           e->cfg.threads, e->cfg.seq_len,        cpus,
                                           n_cpus};
        if (qk_peer_process_start(&e->peer_proc, &o, err)) return -1;
        e->peer_info = json_deep_copy(qk_peer_process_info(e->peer_proc));
        json_object_del(e->peer_info, "pid"); /* of no use in a results file */
        json_object_set_new(e->peer_info, "mode", json_string("process"));
    } else {
        if (qk_peer_llama_open(&e->peer, rc->exp->peer_library, rc->model_path, e->cfg.threads,
                               e->cfg.seq_len, n_cpus ? cpus : NULL, n_cpus,
                               QK_PEER_LLAMA_OUR_THREADPOOL, err))
            return -1;
        e->peer_info = qk_peer_llama_info(e->peer);
        json_object_set_new(e->peer_info, "mode", json_string("in-process"));
    }
    e->embedding = calloc((size_t)qk_run_peer_dim(e), sizeof(float));
    if (!e->embedding) return qk_fail(err, "out of memory");
    return 0;
}

int qk_run_peer_dim(const run_entry *e) {
    return e->peer_proc ? qk_peer_process_dim(e->peer_proc) : qk_peer_llama_dim(e->peer);
}

int qk_run_peer_embed(run_ctx *rc, run_entry *e, qk_error *err) {
    if (!e->peer_proc)
        return qk_peer_llama_embed(e->peer, rc->tokens, e->cfg.seq_len, e->embedding, &e->decode_s,
                                   err);
    /* our main thread then blocks on the child's socket; the workers must be asleep too (they
     * spin for up to QK_POOL_SPIN_NS after our last loop). A pool still awake after the wait (a
     * loaded machine) is measured alongside: nothing better can be done from here. */
    qk_pool_park(rc->cur_pool);
    if (qk_peer_process_embed(e->peer_proc, rc->tokens, e->cfg.seq_len, e->embedding,
                              &e->peer_times, err))
        return -1;
    e->decode_s = e->peer_times.decode_s;
    return 0;
}

void qk_run_peer_after_group(run_ctx *rc, qk_results *res, run_entry *g, int n) {
    for (int i = 0; i < n; i++) {
        run_entry *p = &g[i];
        if (!p->cfg.peer || p->skipped || (!p->peer && !p->peer_proc)) continue;
        p->peer_cos_fp32 = p->peer_cos_best = NAN;
        const run_entry *best = NULL;
        for (int k = 0; k < n; k++) {
            const run_entry *e = &g[k];
            if (e->cfg.peer || e->skipped || !e->model) continue;
            if (p->macs == 0) p->macs = qk_run_pass_macs(e);
            if (e->cfg.path == QK_PATH_INT8 && (!best || e->stats.median < best->stats.median))
                best = e;
        }
        const int dim = qk_run_peer_dim(p), seq = p->cfg.seq_len;
        if (best && qk_gemma_out_dim(best->model) == dim) {
            p->peer_cos_best = qk_cosine(p->embedding, best->embedding, dim);
            snprintf(p->peer_best, sizeof p->peer_best, "%s", best->cfg.name);
            qk_stats ratio;
            if (qk_ratio_compute(p->real, best->real, rc->reps, rc->exp->seed, &ratio) == 0)
                qk_results_add_comparison(res, p->cfg.name, best->cfg.name, &ratio);
        }
        if (rc->fp32_seq != seq || rc->fp32_dim != dim) {
            float *emb = realloc(rc->fp32_emb, (size_t)dim * sizeof *emb);
            if (!emb) continue;
            rc->fp32_emb = emb;
            rc->fp32_seq = 0;
            const qk_gemma_options fp32 = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
            qk_footprint fp;
            qk_error err;
            qk_run_note(rc, "peer accuracy: our FP32 embedding of %d tokens", seq);
            if (qk_footprint_probe(rc->self_exe, rc->model_path, &fp32, rc->tokens, seq, &fp, emb,
                                   dim, &err)) {
                qk_run_note(rc, "peer accuracy against FP32 not measured: %s", err.msg);
                continue;
            }
            rc->fp32_seq = seq;
            rc->fp32_dim = dim;
        }
        p->peer_cos_fp32 = qk_cosine(p->embedding, rc->fp32_emb, dim);
    }
}
