/* One group of configurations: setting each up (model instance, buffers, the peer), warm-ups, then
 * the repetitions interleaved round-robin across the group, then the per-operation profiles. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"
#include "model/q8_0.h"

uint64_t qk_run_splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Counter event sets belong to the pool's threads: release them before the threads go. */
void qk_run_drop_pool(run_ctx *rc, qk_pool *p) {
    if (rc->counters.available) qk_counters_release_all(&rc->counters, p);
    qk_pool_destroy(p);
}

/* One pool per (threads, binding), made outside every timed region and kept for the run. */
static qk_pool *get_pool(run_ctx *rc, int threads, qk_binding_policy binding, qk_error *err) {
    for (int i = 0; i < rc->n_pools; i++)
        if (rc->pools[i].threads == threads && rc->pools[i].binding == binding)
            return rc->pools[i].pool;
    if (rc->n_pools == 16) { /* evict the oldest: sweeps rarely use more */
        qk_run_drop_pool(rc, rc->pools[0].pool);
        memmove(rc->pools, rc->pools + 1, 15 * sizeof rc->pools[0]);
        rc->n_pools--;
    }
    qk_pool *p = qk_pool_create(threads, rc->topo, binding, err);
    if (!p) return NULL;
    rc->pools[rc->n_pools].threads = threads;
    rc->pools[rc->n_pools].binding = binding;
    rc->pools[rc->n_pools++].pool = p;
    return p;
}

void qk_run_make_tokens(int32_t *t, int n, int n_vocab, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < n; i++)
        t[i] = 260 + (int32_t)(qk_run_splitmix(&s) % (uint64_t)(n_vocab - 260));
    t[0] = 2;                /* BOS */
    if (n > 1) t[n - 1] = 1; /* EOS */
}

static int setup_entry(run_ctx *rc, run_entry *e, qk_error *err) {
    if (e->cfg.peer) return qk_run_setup_peer(rc, e, err);
    qk_gemma_options opt = {e->cfg.path, e->kernel,
                            e->cfg.act_scale == QK_ACT_SCALE_BLOCK ? QK_ACT_PER_BLOCK
                                                                   : QK_ACT_PER_TOKEN};
    if (qk_gemma_load(&e->model, rc->model_path, &opt, err)) return -1;
    const int n = e->cfg.seq_len;
    if (qk_gemma_reserve(e->model, n, e->cfg.threads, err)) return -1;
    e->embedding = calloc((size_t)qk_gemma_out_dim(e->model), sizeof(float));
    if (!e->embedding) return qk_fail(err, "out of memory");
    if (e->cfg.rows == 0) return 0; /* forward */
    /* matmul: layer 0's matrix of the named operation */
    const qk_gemma_layer *L = qk_gemma_get_layer(e->model, 0);
    const struct {
        const char *op;
        const qk_gemma_weight *w;
    } ops[] = {{"attn_q", &L->wq},
               {"attn_k", &L->wk},
               {"attn_v", &L->wv},
               {"attn_output", &L->wo},
               {"ffn_gate", &L->gate},
               {"ffn_up", &L->up},
               {"ffn_down", &L->down},
               {"dense_2", qk_gemma_get_dense(e->model, 2)},
               {"dense_3", qk_gemma_get_dense(e->model, 3)}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].op, e->cfg.op) == 0) e->weight = ops[i].w;
    if (!e->weight) return qk_fail(err, "model has no matrix for operation %s", e->cfg.op);
    const int K = e->weight->cols;
    e->dst = calloc((size_t)n * (size_t)e->weight->rows, sizeof(float));
    e->act_q = malloc((size_t)n * (size_t)K);
    e->act_scale = malloc(((size_t)n * (size_t)K / QK8_0 + 1) * sizeof(float));
    if (!e->dst || !e->act_q || !e->act_scale) return qk_fail(err, "out of memory");
    if (e->cfg.path == QK_PATH_FP32) return 0;
    for (int t = 0; t < n; t++) {
        const float *x = rc->act_src + (size_t)t * K;
        if (opt.act_granularity == QK_ACT_PER_BLOCK)
            qk_quantize_act_block(x, K, e->act_q + (size_t)t * K,
                                  e->act_scale + (size_t)t * (K / QK8_0));
        else
            qk_quantize_act_token(x, K, e->act_q + (size_t)t * K, e->act_scale + t);
    }
    e->act = (qk_act_i8){e->act_q, e->act_scale, n, K, opt.act_granularity};
    return 0;
}

void qk_run_release_entry(run_entry *e) {
    qk_peer_llama_close(e->peer);
    e->peer = NULL;
    qk_peer_process_close(e->peer_proc); /* ends and reaps the child */
    e->peer_proc = NULL;
    free(e->decode);
    e->decode = NULL;
    qk_gemma_free(e->model);
    free(e->real);
    free(e->cpu);
    free(e->counters);
    free(e->act_q);
    free(e->act_scale);
    free(e->dst);
    free(e->embedding);
    e->model = NULL;
    e->real = e->cpu = NULL;
    e->counters = NULL;
    e->act_q = NULL;
    e->act_scale = e->dst = e->embedding = NULL;
}

typedef struct {
    const run_entry *e;
} kernel_job;

static void kernel_rows(void *arg, int r0, int r1, int worker) {
    (void)worker;
    const run_entry *e = ((const kernel_job *)arg)->e;
    e->kernel->matmul(e->dst, &e->weight->q8, &e->act, r0, r1);
}

/* One timed pass of a configuration. */
static int run_once(run_ctx *rc, run_entry *e, qk_exec *ex, qk_error *err) {
    if (e->cfg.peer) return qk_run_peer_embed(rc, e, err);
    if (e->cfg.rows == 0)
        return qk_gemma_embed(e->model, rc->tokens, e->cfg.seq_len, e->embedding, ex, err);
    if (e->cfg.path == QK_PATH_FP32)
        return qk_gemma_matmul(e->model, e->weight, rc->act_src, e->cfg.seq_len, e->dst, ex, err);
    kernel_job job = {e};
    if (ex->parallel_for && ex->n_workers > 1)
        ex->parallel_for(ex->pool, e->weight->rows,
                         qk_matmul_grain(e->kernel, e->weight->rows, ex->n_workers), kernel_rows,
                         &job);
    else
        kernel_rows(&job, 0, e->weight->rows, 0);
    return 0;
}

/* Multiply-accumulates of one pass: the matmuls of the forward pass (spec section 6), or one
 * matmul. */
double qk_run_pass_macs(const run_entry *e) {
    if (e->cfg.rows) return (double)e->cfg.rows * e->cfg.cols * e->cfg.seq_len;
    const qk_gemma_config *c = qk_gemma_get_config(e->model);
    double per_token = 0;
    for (int il = 0; il < c->n_layer; il++) {
        const qk_gemma_layer *L = qk_gemma_get_layer(e->model, il);
        const qk_gemma_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) per_token += (double)ws[i]->rows * ws[i]->cols;
    }
    double dense = 0;
    for (int d = 2; d <= 3; d++) {
        const qk_gemma_weight *w = qk_gemma_get_dense(e->model, d);
        if (w) dense += (double)w->rows * w->cols;
    }
    return per_token * e->cfg.seq_len + dense;
}

double qk_run_pass_weight_bytes(const run_entry *e) {
    if (e->cfg.rows) return (double)e->weight->tensor->nbytes;
    return (double)qk_gemma_get_memory(e->model).matmul_weight_bytes;
}

/* ---------------------------------------------------------------- results */

/* Tells the observer where the run is: before each repetition, and once after each group. */
static void progress(const run_ctx *rc, double done, double total, const char *name, int rep,
                     int reps, double started, int group_done) {
    const qk_run_observer *o = &rc->opt->obs;
    if (!o->progress) return;
    const qk_run_progress p = {done, total,     qk_now_seconds() - started, name, rep,
                               reps, group_done};
    o->progress(o->ctx, &p);
}

void qk_run_fail_entry(const run_ctx *rc, run_entry *e, const char *why) {
    e->skipped = 1;
    e->failed = 1;
    e->reps_done = 0;
    snprintf(e->skip_reason, sizeof e->skip_reason, "failed: %s", why);
    qk_run_note(rc, "%s: failed: %s", e->cfg.name, why);
    qk_run_release_entry(e); /* its memory goes now; the reason stays for the results */
}

/* 1 when the pass just made left finite values only: a forward pass checks its own embedding
 * (qk_gemma_embed fails otherwise, saying where); a matmul's outputs and the peer's embedding are
 * checked here, outside the timed region. */
static int output_finite(const run_entry *e, char *why, size_t size) {
    const float *v = NULL;
    size_t n = 0;
    if (e->cfg.peer) {
        v = e->embedding;
        n = (size_t)qk_run_peer_dim(e);
    } else if (e->cfg.rows) {
        v = e->dst;
        n = (size_t)e->cfg.seq_len * (size_t)e->weight->rows;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            snprintf(why, size, "non-finite value %g in the output (element %zu of %zu)%s",
                     (double)v[i], i, n,
                     e->cfg.peer ? " of llama.cpp's embedding" : " of the matmul");
            return 0;
        }
    return 1;
}

int qk_run_measure_group(run_ctx *rc, run_entry *g, int n, int done, int total, double started,
                         qk_error *err) {
    const int reps = rc->reps;
    qk_pool *pool = get_pool(rc, g[0].cfg.threads, g[0].cfg.binding, err);
    if (!pool) return -1;
    qk_exec ex = qk_pool_exec(pool);
    rc->cur_pool = pool;
    for (int i = 0; i < n; i++) {
        if (g[i].skipped) continue;
        g[i].reps_done = 0;
        if (setup_entry(rc, &g[i], err)) { /* this configuration's failure, not the run's */
            qk_run_fail_entry(rc, &g[i], err->msg);
            continue;
        }
        g[i].real = calloc((size_t)reps, sizeof(double));
        g[i].cpu = calloc((size_t)reps, sizeof(double));
        g[i].counters = calloc((size_t)reps * (rc->counters.n_events + 1), sizeof(long long));
        if (g[i].cfg.peer) g[i].decode = calloc((size_t)reps, sizeof(double));
        if (!g[i].real || !g[i].cpu || !g[i].counters || (g[i].cfg.peer && !g[i].decode))
            return qk_fail(err, "out of memory");
    }
    char why[300];
    /* warm-ups (discarded): page in the weights, warm caches and the pool */
    for (int w = 0; w < rc->warmups && !qk_run_stopped(rc); w++)
        for (int i = 0; i < n && !qk_run_stopped(rc); i++) {
            if (g[i].skipped) continue;
            if (run_once(rc, &g[i], &ex, err))
                qk_run_fail_entry(rc, &g[i], err->msg);
            else if (!output_finite(&g[i], why, sizeof why))
                qk_run_fail_entry(rc, &g[i], why);
        }
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return qk_fail(err, "out of memory");
    for (int r = 0; r < reps && !qk_run_stopped(rc); r++) {
        qk_interleave_order(n, r, order);
        for (int k = 0; k < n && !qk_run_stopped(rc); k++) {
            run_entry *e = &g[order[k]];
            if (e->skipped) continue;
            progress(rc, done + (double)(r * n + k) / reps, total, e->cfg.name, r + 1, reps,
                     started, 0);
            const int count = rc->counters.available && !e->cfg.peer; /* ours only */
            if (count && qk_counters_start_all(&rc->counters, pool, err)) {
                free(order);
                return -1;
            }
            qk_alloc_stats_reset();
            const double c0 = qk_cpu_seconds(), t0 = qk_now_seconds();
            int rcode = run_once(rc, e, &ex, err);
            const double t1 = qk_now_seconds(), c1 = qk_cpu_seconds();
            qk_alloc_stats_read(&e->allocs);
            if (count &&
                qk_counters_stop_all(&rc->counters, pool,
                                     e->counters + (size_t)r * rc->counters.n_events, err)) {
                free(order);
                return -1;
            }
            if (rcode) {
                qk_run_fail_entry(rc, e, err->msg);
                continue;
            }
            if (!output_finite(e, why, sizeof why)) {
                qk_run_fail_entry(rc, e, why);
                continue;
            }
            /* the peer in its own process: its own clocks over the same region (ours would add
             * the messages and the wake-up) */
            e->real[r] = e->peer_proc ? e->peer_times.wall_s : t1 - t0;
            e->cpu[r] = e->peer_proc ? e->peer_times.cpu_s : c1 - c0;
            if (e->decode) e->decode[r] = e->decode_s;
            e->reps_done = r + 1;
        }
    }
    free(order);
    if (qk_run_stopped(rc)) { /* keep what was measured: statistics over the repetitions made */
        for (int i = 0; i < n; i++)
            if (!g[i].skipped && g[i].reps_done > 0)
                qk_stats_compute(g[i].real, g[i].reps_done, rc->exp->seed + (uint64_t)i,
                                 &g[i].stats);
        return 1;
    }
    progress(rc, done + n, total, g[n - 1].cfg.name, reps, reps, started, 1);
    /* per-operation profile: separate passes, so the timed ones carry no clock reads */
    if (rc->exp->profile) {
        const int passes = rc->profile_passes;
        for (int i = 0; i < n; i++) {
            run_entry *e = &g[i];
            if (e->skipped || e->cfg.rows || e->cfg.peer) continue;
            double op_s[QK_OP_COUNT];
            for (int p = 0; p < passes && !qk_run_stopped(rc); p++) {
                memset(op_s, 0, sizeof op_s);
                qk_exec pex = ex;
                pex.op_seconds = op_s;
                if (run_once(rc, e, &pex, err)) return -1;
                qk_profile_add(&e->profile, op_s);
                e->profiled_passes++;
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (!g[i].skipped)
            qk_stats_compute(g[i].real, reps, rc->exp->seed + (uint64_t)i, &g[i].stats);
    return 0;
}
