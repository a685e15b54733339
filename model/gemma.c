#include "model/gemma.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernels/row-ops.h"
#include "model/q8_0.h"

struct qk_gemma_model {
    qk_gguf gguf;
    qk_gemma_config cfg;
    qk_gemma_options opt;
    const qk_row_ops *ops; /* float row operations: the kernel's ISA (INT8), scalar (FP32) */
    int fused;             /* the kernel asks for QK_KERNEL_FUSED_ACT (INT8 path only) */
    qk_gemma_layer *layers;
    const qk_gguf_tensor *token_embd;
    const float *output_norm;
    qk_gemma_weight dense2, dense3;
    int has_dense;
    float **owned_norms; /* norm weights converted to F32 when the file stores them otherwise */
    int n_owned_norms;
    uint64_t matmul_weight_bytes, prepared_bytes, fp32_bytes;

    /* scratch, sized by qk_gemma_reserve */
    int cap_tokens, cap_workers;
    size_t scratch_bytes;
    uint64_t max_scratch; /* 0: no limit (qk_gemma_set_max_scratch) */
    float *h, *a, *q, *k, *v, *o, *t, *g, *u, *z, *pooled, *dense_buf, *dense_out;
    float *rope_cos, *rope_sin, *scores;
    float *row_tmp; /* per worker, row_tmp_floats each: the fused ops' row buffer */
    size_t row_tmp_floats;
    int8_t *act_q;
    float *act_scale;
    int last_tokens;
    /* diagnosis of a non-finite output: a second, serial pass that checks every operation's output
     * and keeps the first that holds a NaN or an infinity */
    int diag;
    char diag_where[200];
};

/* ---------------------------------------------------------------- loading */

/* Dequantises any supported tensor type to F32 (rows of ne0 values). */
static void tensor_row_to_f32(const qk_gguf_tensor *t, int64_t row, float *dst) {
    const int64_t n = t->ne[0];
    switch (t->type) {
    case QK_GGML_F32:
        memcpy(dst, t->data + row * n * 4, (size_t)n * 4);
        break;
    case QK_GGML_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, t->data + (row * n + i) * 2, 2);
            dst[i] = qk_fp16_to_fp32(h);
        }
        break;
    case QK_GGML_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, t->data + (row * n + i) * 2, 2);
            uint32_t u = (uint32_t)h << 16;
            memcpy(&dst[i], &u, 4);
        }
        break;
    case QK_GGML_Q8_0:
        qk_q8_0_dequantize_row(t->data + row * (n / QK8_0) * QK8_0_BLOCK_BYTES, dst, (int)n);
        break;
    }
}

static int load_norm(qk_gemma_model *m, const char *name, int64_t n, const float **out,
                     qk_error *err) {
    const qk_gguf_tensor *t = qk_gguf_find_tensor(&m->gguf, name);
    if (qk_gguf_check_shape(&m->gguf, t, name, n, 1, err)) return -1;
    if (t->type == QK_GGML_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = (const float *)(const void *)t->data; /* zero-copy */
        return 0;
    }
    if (t->type == QK_GGML_Q8_0)
        return qk_fail(err, "%s: tensor %s is Q8_0; norm weights must be F32, F16 or BF16",
                       m->gguf.path, name);
    float *buf = malloc((size_t)n * sizeof(float));
    float **list = realloc(m->owned_norms, (size_t)(m->n_owned_norms + 1) * sizeof *list);
    if (!buf || !list) {
        free(buf);
        if (list) m->owned_norms = list;
        return qk_fail(err, "out of memory converting %s", name);
    }
    m->owned_norms = list;
    m->owned_norms[m->n_owned_norms++] = buf;
    tensor_row_to_f32(t, 0, buf);
    m->fp32_bytes += (uint64_t)n * sizeof(float);
    *out = buf;
    return 0;
}

/* A kernel that made its own packed copy never reads the file's blocks again: the pages wholly
 * inside the tensor are dropped from this process (a file mapping: a later read would only fault
 * them back in from the page cache), so the resident footprint counts the weights once. */
static void release_file_pages(const uint8_t *p, uint64_t n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t b = ((uintptr_t)p + page - 1) & ~(page - 1);
    const uintptr_t e = ((uintptr_t)p + n) & ~(page - 1);
    if (e > b) (void)madvise((void *)b, e - b, MADV_DONTNEED);
}

static int load_weight(qk_gemma_model *m, const char *name, int64_t cols, int64_t rows,
                       qk_gemma_weight *w, qk_error *err) {
    const qk_gguf_tensor *t = qk_gguf_find_tensor(&m->gguf, name);
    if (qk_gguf_check_shape(&m->gguf, t, name, cols, rows, err)) return -1;
    memset(w, 0, sizeof *w);
    w->tensor = t;
    w->rows = (int)rows;
    w->cols = (int)cols;
    m->matmul_weight_bytes += t->nbytes;
    if (m->opt.path == QK_PATH_FP32) {
        w->f32 = malloc((size_t)rows * (size_t)cols * sizeof(float));
        if (!w->f32) return qk_fail(err, "out of memory dequantising %s", name);
        for (int64_t r = 0; r < rows; r++) tensor_row_to_f32(t, r, w->f32 + r * cols);
        m->fp32_bytes += (uint64_t)rows * (uint64_t)cols * sizeof(float);
        return 0;
    }
    if (t->type != QK_GGML_Q8_0)
        return qk_fail(err, "%s: tensor %s is %s; the INT8 path's kernel %s/%s needs Q8_0",
                       m->gguf.path, name, qk_ggml_type_name(t->type), m->opt.kernel->variant,
                       m->opt.kernel->isa);
    if (cols % QK8_0 != 0)
        return qk_fail(err, "%s: tensor %s has %lld columns, not a multiple of 32", m->gguf.path,
                       name, (long long)cols);
    w->q8.blocks = t->data;
    w->q8.rows = (int)rows;
    w->q8.cols = (int)cols;
    if (qk_q8_matrix_prepare(&w->q8, m->opt.kernel))
        return qk_fail(err, "kernel %s/%s: prepare failed for %s", m->opt.kernel->variant,
                       m->opt.kernel->isa, name);
    m->prepared_bytes += w->q8.prepared_bytes;
    if (w->q8.packed && m->gguf.map_owned) release_file_pages(t->data, t->nbytes);
    return 0;
}

static void release_weight(qk_gemma_weight *w) {
    qk_q8_matrix_release(&w->q8);
    free(w->f32);
    w->f32 = NULL;
}

static int load_layers(qk_gemma_model *m, qk_error *err) {
    const qk_gemma_config *c = &m->cfg;
    const int64_t E = c->n_embd, D = c->head_dim, F = c->n_ff;
    const int64_t QD = (int64_t)c->n_head * D, KD = (int64_t)c->n_head_kv * D;
    for (int il = 0; il < c->n_layer; il++) {
        qk_gemma_layer *L = &m->layers[il];
        char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, il), name)
        if (load_norm(m, NAME("attn_norm.weight"), E, &L->attn_norm, err) ||
            load_norm(m, NAME("attn_q_norm.weight"), D, &L->q_norm, err) ||
            load_norm(m, NAME("attn_k_norm.weight"), D, &L->k_norm, err) ||
            load_norm(m, NAME("post_attention_norm.weight"), E, &L->post_attn_norm, err) ||
            load_norm(m, NAME("ffn_norm.weight"), E, &L->ffn_norm, err) ||
            load_norm(m, NAME("post_ffw_norm.weight"), E, &L->post_ffw_norm, err) ||
            load_weight(m, NAME("attn_q.weight"), E, QD, &L->wq, err) ||
            load_weight(m, NAME("attn_k.weight"), E, KD, &L->wk, err) ||
            load_weight(m, NAME("attn_v.weight"), E, KD, &L->wv, err) ||
            load_weight(m, NAME("attn_output.weight"), QD, E, &L->wo, err) ||
            load_weight(m, NAME("ffn_gate.weight"), E, F, &L->gate, err) ||
            load_weight(m, NAME("ffn_up.weight"), E, F, &L->up, err) ||
            load_weight(m, NAME("ffn_down.weight"), F, E, &L->down, err))
            return -1;
#undef NAME
    }
    return 0;
}

int qk_gemma_load(qk_gemma_model **out, const char *path, const qk_gemma_options *opt,
                  qk_error *err) {
    return qk_gemma_load_ops(out, path, opt, NULL, err);
}

int qk_gemma_load_ops(qk_gemma_model **out, const char *path, const qk_gemma_options *opt,
                      const qk_row_ops *ops, qk_error *err) {
    *out = NULL;
    if (opt->path == QK_PATH_INT8 && !opt->kernel)
        return qk_fail(err, "the INT8 path needs a kernel");
    if (opt->path == QK_PATH_INT8 && !qk_kernel_available(opt->kernel, NULL))
        return qk_fail(err, "kernel %s/%s is not available on this CPU", opt->kernel->variant,
                       opt->kernel->isa);
    if (opt->act_granularity != QK_ACT_PER_TOKEN && opt->act_granularity != QK_ACT_PER_BLOCK)
        return qk_fail(err, "activation granularity %d is neither per token nor per block",
                       opt->act_granularity);
    qk_gemma_model *m = calloc(1, sizeof *m);
    if (!m) return qk_fail(err, "out of memory");
    m->opt = *opt;
    const int int8 = opt->path == QK_PATH_INT8;
    m->ops = ops ? ops : qk_row_ops_for_isa(int8 ? opt->kernel->isa : "scalar");
    m->fused = int8 && (opt->kernel->flags & QK_KERNEL_FUSED_ACT);
    if (!m->ops) {
        free(m);
        return qk_fail(err, "no row operations for ISA %s", int8 ? opt->kernel->isa : "scalar");
    }
    if (qk_gguf_open(&m->gguf, path, err)) {
        free(m);
        return -1;
    }
    qk_gemma_config *c = &m->cfg;
    if (qk_gemma_read_config(&m->gguf, c, err)) goto fail;
    m->layers = calloc((size_t)c->n_layer, sizeof *m->layers);
    if (!m->layers) {
        qk_fail(err, "out of memory");
        goto fail;
    }
    m->token_embd = qk_gguf_find_tensor(&m->gguf, "token_embd.weight");
    if (qk_gguf_check_shape(&m->gguf, m->token_embd, "token_embd.weight", c->n_embd, c->n_vocab,
                            err))
        goto fail;
    if (load_norm(m, "output_norm.weight", c->n_embd, &m->output_norm, err)) goto fail;
    if (load_layers(m, err)) goto fail;
    m->has_dense = c->dense_ff > 0;
    if (m->has_dense) {
        if (load_weight(m, "dense_2.weight", c->n_embd, c->dense_ff, &m->dense2, err) ||
            load_weight(m, "dense_3.weight", c->dense_ff, c->n_embd, &m->dense3, err))
            goto fail;
    } else if (qk_gguf_find_tensor(&m->gguf, "dense_3.weight")) {
        qk_fail(err, "%s: tensor dense_3.weight present without dense_2.weight", path);
        goto fail;
    }
    *out = m;
    return 0;
fail:
    qk_gemma_free(m);
    return -1;
}

static void free_scratch(qk_gemma_model *m) {
    float **bufs[] = {&m->h,      &m->a,         &m->q,         &m->k,        &m->v,
                      &m->o,      &m->t,         &m->g,         &m->u,        &m->z,
                      &m->pooled, &m->dense_buf, &m->dense_out, &m->rope_cos, &m->rope_sin,
                      &m->scores, &m->row_tmp,   &m->act_scale};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    free(m->act_q);
    m->act_q = NULL;
    m->cap_tokens = m->cap_workers = 0;
    m->scratch_bytes = 0;
    m->row_tmp_floats = 0;
}

void qk_gemma_free(qk_gemma_model *m) {
    if (!m) return;
    if (m->layers) {
        for (int il = 0; il < m->cfg.n_layer; il++) {
            qk_gemma_layer *L = &m->layers[il];
            qk_gemma_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
            for (size_t i = 0; i < 7; i++) release_weight(ws[i]);
        }
    }
    release_weight(&m->dense2);
    release_weight(&m->dense3);
    for (int i = 0; i < m->n_owned_norms; i++) free(m->owned_norms[i]);
    free(m->owned_norms);
    free(m->layers);
    free_scratch(m);
    qk_gguf_close(&m->gguf);
    free(m);
}

const qk_gemma_config *qk_gemma_get_config(const qk_gemma_model *m) {
    return &m->cfg;
}
const qk_gemma_layer *qk_gemma_get_layer(const qk_gemma_model *m, int il) {
    return il >= 0 && il < m->cfg.n_layer ? &m->layers[il] : NULL;
}
const qk_gemma_weight *qk_gemma_get_dense(const qk_gemma_model *m, int which) {
    if (!m->has_dense) return NULL;
    return which == 2 ? &m->dense2 : which == 3 ? &m->dense3 : NULL;
}
int qk_gemma_out_dim(const qk_gemma_model *m) {
    return m->cfg.n_embd;
}

/* Bytes of the file mapping this process has touched and holds resident: the "Rss" of the mapping
 * in /proc/self/smaps. (mincore would say how much of the file is in the page cache, which counts
 * pages other processes read.) 0 when unknown. */
static uint64_t resident_bytes(const qk_gguf *g) {
    if (!g->map_owned) return 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return 0;
    char line[512];
    int in_map = 0;
    uint64_t rss_kb = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in_map = (uintptr_t)g->map >= lo && (uintptr_t)g->map < hi;
        } else if (in_map && strncmp(line, "Rss:", 4) == 0) {
            rss_kb = strtoull(line + 4, NULL, 10);
            break;
        }
    }
    fclose(f);
    return rss_kb * 1024;
}

qk_gemma_memory qk_gemma_get_memory(const qk_gemma_model *m) {
    qk_gemma_memory mem = {m->gguf.size,           resident_bytes(&m->gguf),
                           m->matmul_weight_bytes, m->prepared_bytes,
                           m->fp32_bytes,          m->scratch_bytes};
    return mem;
}

/* ---------------------------------------------------------------- scratch */

void qk_gemma_set_max_scratch(qk_gemma_model *m, uint64_t bytes) {
    m->max_scratch = bytes;
}

static size_t round64(size_t bytes) {
    return (bytes + 63) & ~(size_t)63;
}

int qk_gemma_reserve(qk_gemma_model *m, int n_tokens, int n_workers, qk_error *err) {
    if (n_workers < 1) n_workers = 1;
    if (n_tokens <= m->cap_tokens && n_workers <= m->cap_workers) return 0;
    const qk_gemma_config *c = &m->cfg;
    if (n_tokens < 1 || n_tokens > c->n_ctx)
        return qk_fail(err, "sequence of %d tokens: the model takes 1..%d", n_tokens, c->n_ctx);
    const size_t N = (size_t)n_tokens, E = (size_t)c->n_embd, F = (size_t)c->n_ff;
    const size_t QD = (size_t)c->n_head * (size_t)c->head_dim;
    const size_t KD = (size_t)c->n_head_kv * (size_t)c->head_dim;
    const size_t DF = c->dense_ff > 0 ? (size_t)c->dense_ff : 1;
    size_t widest = E > F ? E : F;
    if (QD > widest) widest = QD;
    if (DF > widest) widest = DF;
    struct {
        float **p;
        size_t n;
    } plan[] = {
        {&m->h, N * E},
        {&m->a, N * E},
        {&m->q, N * QD},
        {&m->k, N * KD},
        {&m->v, N * KD},
        {&m->o, N * QD},
        {&m->t, N * widest},
        {&m->g, N * F},
        {&m->u, N * F},
        {&m->z, N * E},
        {&m->pooled, E},
        {&m->dense_buf, DF},
        {&m->dense_out, E},
        {&m->rope_cos, 2 * N * (size_t)c->n_rot / 2},
        {&m->rope_sin, 2 * N * (size_t)c->n_rot / 2},
        {&m->scores, (size_t)n_workers * (size_t)(c->n_head / c->n_head_kv) * N},
        {&m->row_tmp, (size_t)n_workers * widest},
        {&m->act_scale, N * (widest / QK8_0 + 1)},
    };
    /* the whole size first (dimensions are <= 2^30 each, n_head * head_dim too: no overflow), so a
     * limit refuses before anything is allocated and the buffers already reserved stay usable */
    double need = (double)round64(N * widest);
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++)
        need += (double)round64(plan[i].n * sizeof(float));
    if (m->max_scratch && need > (double)m->max_scratch)
        return qk_fail(err, "scratch for %d tokens needs %.1f MiB, above the limit of %.1f MiB",
                       n_tokens, need / 1048576.0, (double)m->max_scratch / 1048576.0);
    free_scratch(m);
    size_t total = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        /* 64-byte aligned so kernels and vector loops start on a cache line */
        size_t bytes = round64(plan[i].n * sizeof(float));
        *plan[i].p = aligned_alloc(64, bytes);
        if (!*plan[i].p) {
            free_scratch(m);
            return qk_fail(err, "out of memory for %d-token scratch buffers", n_tokens);
        }
        total += bytes;
    }
    size_t qbytes = round64(N * widest);
    m->act_q = aligned_alloc(64, qbytes);
    if (!m->act_q) {
        free_scratch(m);
        return qk_fail(err, "out of memory for %d-token scratch buffers", n_tokens);
    }
    m->scratch_bytes = total + qbytes;
    m->row_tmp_floats = widest;
    m->cap_tokens = n_tokens;
    m->cap_workers = n_workers;
    return 0;
}

/* ---------------------------------------------------------------- operations */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Profiling costs one branch when off. */
#define PROF_BEGIN(ex) double prof_t0_ = (ex)->op_seconds ? now_seconds() : 0.0
#define PROF_END(ex, op)                                                                           \
    do {                                                                                           \
        if ((ex)->op_seconds) (ex)->op_seconds[op] += now_seconds() - prof_t0_;                    \
    } while (0)

static void run_parallel(const qk_exec *ex, int n, int grain, qk_range_fn fn, void *arg) {
    if (ex->parallel_for && ex->n_workers > 1 && n > 1)
        ex->parallel_for(ex->pool, n, grain, fn, arg);
    else
        fn(arg, 0, n, 0);
}

int qk_matmul_grain(const qk_kernel *k, int rows, int n_workers) {
    /* a multiple of the row block and of 16 rows (one 64-byte line of float outputs per token), so
     * no two chunks write the same cache line */
    int unit = k && k->row_block > 1 ? k->row_block : 1;
    while (unit % 16) unit += k && k->row_block > 1 ? k->row_block : 1;
    int grain = rows / (4 * (n_workers > 1 ? n_workers : 1));
    grain -= grain % unit;
    return grain > unit ? grain : unit;
}

/* Token rows per chunk of a row-wise loop: about four chunks per worker. */
static int token_grain(const qk_exec *ex, int n_tokens) {
    const int g = n_tokens / (4 * (ex->n_workers > 1 ? ex->n_workers : 1));
    return g > 1 ? g : 1;
}

/* One row-wise operation over token rows: which one is `kind`. Rows are independent, so any split
 * gives the same bits. */
typedef enum {
    ROWS_NORM,          /* dst = rms_norm(x, w) */
    ROWS_QUANTIZE,      /* act <- quantize(x) */
    ROWS_NORM_QUANTIZE, /* act <- quantize(rms_norm(x, w)), fused */
    ROWS_GEGLU,         /* dst = gelu(x) * u */
    ROWS_GEGLU_QUANTIZE /* act <- quantize(gelu(x) * u), fused */
} rows_kind;

typedef struct {
    const qk_gemma_model *m;
    rows_kind kind;
    const float *x, *w, *u;
    float *dst;
    int n; /* row width */
} rows_job;

static void rows_body(void *arg, int t0, int t1, int worker) {
    const rows_job *j = arg;
    const qk_gemma_model *m = j->m;
    const qk_row_ops *ops = m->ops;
    const int n = j->n, gran = m->opt.act_granularity;
    const size_t n_scales = gran == QK_ACT_PER_BLOCK ? (size_t)n / QK8_0 : 1;
    float *tmp = m->row_tmp + (size_t)worker * m->row_tmp_floats;
    for (int t = t0; t < t1; t++) {
        const size_t off = (size_t)t * n;
        int8_t *q = m->act_q + off;
        float *scale = m->act_scale + (size_t)t * n_scales;
        switch (j->kind) {
        case ROWS_NORM:
            ops->rms_norm(j->dst + off, j->x + off, j->w, n, m->cfg.eps);
            break;
        case ROWS_QUANTIZE:
            ops->quantize(j->x + off, n, q, scale, gran);
            break;
        case ROWS_NORM_QUANTIZE:
            ops->rms_norm_quantize(j->x + off, j->w, n, m->cfg.eps, tmp, q, scale, gran);
            break;
        case ROWS_GEGLU:
            ops->geglu(j->dst + off, j->x + off, j->u + off, n);
            break;
        case ROWS_GEGLU_QUANTIZE:
            ops->geglu_quantize(j->x + off, j->u + off, n, tmp, q, scale, gran);
            break;
        }
    }
}

static void run_rows(qk_gemma_model *m, const qk_exec *ex, qk_op op, rows_kind kind, const float *x,
                     const float *w, const float *u, float *dst, int n_tokens, int n) {
    PROF_BEGIN(ex);
    rows_job job = {m, kind, x, w, u, dst, n};
    run_parallel(ex, n_tokens, token_grain(ex, n_tokens), rows_body, &job);
    PROF_END(ex, op);
}

/* The quantised activations the kernels read: m->act_q / m->act_scale, n_tokens x cols. */
static qk_act_i8 act_view(const qk_gemma_model *m, int n_tokens, int cols) {
    return (qk_act_i8){.q = m->act_q,
                       .scale = m->act_scale,
                       .n_tokens = n_tokens,
                       .cols = cols,
                       .granularity = m->opt.act_granularity};
}

/* FP32 path: dst[t*rows + r] = W[r] . x[t]. Eight partial sums let the compiler vectorise. */
typedef struct {
    const qk_gemma_weight *w;
    const float *x;
    float *dst;
    int n_tokens;
    const qk_act_i8 *act;
    const qk_kernel *kernel;
} matmul_job;

static void matmul_f32_rows(void *arg, int r0, int r1, int worker) {
    (void)worker;
    const matmul_job *j = arg;
    const int K = j->w->cols, R = j->w->rows;
    for (int r = r0; r < r1; r++) {
        const float *wr = j->w->f32 + (size_t)r * K;
        for (int t = 0; t < j->n_tokens; t++) {
            const float *xt = j->x + (size_t)t * K;
            float acc[8] = {0};
            int k = 0;
            for (; k + 8 <= K; k += 8)
                for (int l = 0; l < 8; l++) acc[l] += wr[k + l] * xt[k + l];
            float s = 0.0f;
            for (; k < K; k++) s += wr[k] * xt[k];
            for (int l = 0; l < 8; l++) s += acc[l];
            j->dst[(size_t)t * R + r] = s;
        }
    }
}

static void matmul_i8_rows(void *arg, int r0, int r1, int worker) {
    (void)worker;
    const matmul_job *j = arg;
    j->kernel->matmul(j->dst, &j->w->q8, j->act, r0, r1);
}

/* dst = W x. On the INT8 path `act` is x already quantised (callers share one quantisation between
 * matrices with the same input, e.g. Q/K/V and gate/up). */
static void matmul(qk_gemma_model *m, const qk_exec *ex, qk_op op, const qk_gemma_weight *w,
                   const float *x, const qk_act_i8 *act, int n_tokens, float *dst) {
    PROF_BEGIN(ex);
    matmul_job job = {w, x, dst, n_tokens, act, m->opt.kernel};
    run_parallel(ex, w->rows, qk_matmul_grain(m->opt.kernel, w->rows, ex->n_workers),
                 m->opt.path == QK_PATH_FP32 ? matmul_f32_rows : matmul_i8_rows, &job);
    PROF_END(ex, op);
}

/* INT8 path: quantises n_tokens rows of x (width cols) for the next matmuls. */
static void prepare_input(qk_gemma_model *m, const qk_exec *ex, const float *x, int n_tokens,
                          int cols, qk_act_i8 *act) {
    if (m->opt.path != QK_PATH_INT8) return;
    run_rows(m, ex, QK_OP_QUANTIZE, ROWS_QUANTIZE, x, NULL, NULL, NULL, n_tokens, cols);
    *act = act_view(m, n_tokens, cols);
}

/* The matmul input RMSNorm(x, w) for n_tokens rows of width n: in `dst` (FP32 path, or INT8 with
 * separate passes: norm, then quantisation), or straight into the int8 activations (fused). */
static void norm_input(qk_gemma_model *m, const qk_exec *ex, const float *x, const float *w,
                       float *dst, int n_tokens, int n, qk_act_i8 *act) {
    if (m->fused) {
        run_rows(m, ex, QK_OP_NORM_QUANTIZE, ROWS_NORM_QUANTIZE, x, w, NULL, NULL, n_tokens, n);
        *act = act_view(m, n_tokens, n);
        return;
    }
    run_rows(m, ex, QK_OP_NORM, ROWS_NORM, x, w, NULL, dst, n_tokens, n);
    prepare_input(m, ex, dst, n_tokens, n, act);
}

/* NeoX RoPE tables for both bases: angle p * base^(-2i/n_rot), formed as ggml does (iterative float
 * product of theta_scale = powf(base, -2/n_rot)). Index [b][p][i], b = 0 global, 1 sliding. */
static void rope_tables(qk_gemma_model *m, int n_tokens) {
    const int half = m->cfg.n_rot / 2;
    const float bases[2] = {m->cfg.rope_base, m->cfg.rope_base_swa};
    for (int b = 0; b < 2; b++) {
        const float theta_scale = powf(bases[b], -2.0f / (float)m->cfg.n_rot);
        for (int p = 0; p < n_tokens; p++) {
            float theta = (float)p;
            float *cs = m->rope_cos + ((size_t)b * n_tokens + p) * half;
            float *sn = m->rope_sin + ((size_t)b * n_tokens + p) * half;
            for (int i = 0; i < half; i++) {
                cs[i] = cosf(theta);
                sn[i] = sinf(theta);
                theta *= theta_scale;
            }
        }
    }
}

static void rope_apply(float *x, const float *cs, const float *sn, int half) {
    for (int i = 0; i < half; i++) {
        const float x0 = x[i], x1 = x[i + half];
        x[i] = x0 * cs[i] - x1 * sn[i];
        x[i + half] = x0 * sn[i] + x1 * cs[i];
    }
}

typedef struct {
    qk_gemma_model *m;
    int n_tokens, sliding;
} attn_job;

/* Per token: the per-head q/k RMSNorms (one shared weight vector per kind). */
typedef struct {
    qk_gemma_model *m;
    const qk_gemma_layer *L;
} qk_norm_job;

static void qk_norm_body(void *arg, int p0, int p1, int worker) {
    (void)worker;
    const qk_norm_job *j = arg;
    qk_gemma_model *m = j->m;
    const qk_gemma_config *c = &m->cfg;
    const int D = c->head_dim, H = c->n_head, HKV = c->n_head_kv;
    for (int p = p0; p < p1; p++) {
        for (int h = 0; h < H; h++) {
            float *qh = m->q + ((size_t)p * H + h) * D;
            m->ops->rms_norm(qh, qh, j->L->q_norm, D, c->eps);
        }
        for (int h = 0; h < HKV; h++) {
            float *kh = m->k + ((size_t)p * HKV + h) * D;
            m->ops->rms_norm(kh, kh, j->L->k_norm, D, c->eps);
        }
    }
}

/* Per token: RoPE on q and k, then the attention scale on q. */
static void rope_body(void *arg, int p0, int p1, int worker) {
    (void)worker;
    const attn_job *j = arg;
    qk_gemma_model *m = j->m;
    const qk_gemma_config *c = &m->cfg;
    const int N = j->n_tokens, D = c->head_dim, H = c->n_head, HKV = c->n_head_kv;
    const int half = c->n_rot / 2;
    const float scale = 1.0f / sqrtf((float)D);
    for (int p = p0; p < p1; p++) {
        const size_t off = ((size_t)(j->sliding ? 1 : 0) * N + p) * half;
        const float *cs = m->rope_cos + off, *sn = m->rope_sin + off;
        for (int h = 0; h < H; h++) {
            float *qh = m->q + ((size_t)p * H + h) * D;
            rope_apply(qh, cs, sn, half);
            for (int d = 0; d < D; d++) qh[d] *= scale;
        }
        for (int h = 0; h < HKV; h++) rope_apply(m->k + ((size_t)p * HKV + h) * D, cs, sn, half);
    }
}

/* One (KV head, query) pair per item: the query's heads that share the KV head (group of them,
 * consecutive in q and o) together, so each key and value row is loaded once for all of them.
 * Per head: scores over the visible keys (scores[0] for key b0), softmax, weighted sum of values;
 * the arithmetic of each head is that of one query alone. */
static void attention_items(void *arg, int i0, int i1, int worker) {
    const attn_job *j = arg;
    const qk_gemma_model *m = j->m;
    const qk_gemma_config *c = &m->cfg;
    const qk_row_ops *ops = m->ops;
    const int N = j->n_tokens, D = c->head_dim, H = c->n_head, group = c->n_head / c->n_head_kv;
    const int QD = H * D, KD = c->n_head_kv * D, radius = c->n_swa / 2;
    const size_t S = (size_t)m->cap_tokens; /* one head's scores */
    float *scores = m->scores + (size_t)worker * group * S;
    for (int item = i0; item < i1; item++) {
        const int kvh = item / N, a = item % N;
        const size_t qo = (size_t)a * QD + (size_t)kvh * group * D; /* the group's first head */
        int b0 = 0, b1 = N - 1;
        if (j->sliding) { /* symmetric window: |a - b| <= n_swa / 2 (spec section 4.4) */
            b0 = a - radius > 0 ? a - radius : 0;
            b1 = a + radius < N - 1 ? a + radius : N - 1;
        }
        const int nb = b1 - b0 + 1;
        const size_t off = (size_t)b0 * KD + (size_t)kvh * D;
        ops->dot_rows(scores, S, m->q + qo, (size_t)D, group, m->k + off, (size_t)KD, nb, D);
        for (int g = 0; g < group; g++) {
            float *sc = scores + (size_t)g * S;
            float mx = -INFINITY;
            for (int b = 0; b < nb; b++)
                if (sc[b] > mx) mx = sc[b];
            const double sum = ops->exp_shift_sum(sc, nb, mx);
            const float inv = (float)(1.0 / sum);
            for (int b = 0; b < nb; b++) sc[b] *= inv;
        }
        ops->weighted_sum(m->o + qo, (size_t)D, scores, S, group, m->v + off, (size_t)KD, nb, D);
    }
}

/* h += RMSNorm(t, w): the post-attention and post-FFN steps (spec section 4.3, steps 8 and 10). */
typedef struct {
    qk_gemma_model *m;
} residual_job;

static void residual_body(void *arg, int t0, int t1, int worker) {
    (void)worker;
    const residual_job *j = arg;
    const size_t E = (size_t)j->m->cfg.n_embd;
    float *h = j->m->h, *t = j->m->t;
    for (size_t i = (size_t)t0 * E; i < (size_t)t1 * E; i++) h[i] += t[i];
}

static void diag_floats(qk_gemma_model *m, const float *x, size_t n, int il, const char *op,
                        const char *tensor);

static void post_norm_residual(qk_gemma_model *m, const qk_exec *ex, const float *w, int N, int il,
                               const char *norm) {
    const int E = m->cfg.n_embd;
    run_rows(m, ex, QK_OP_NORM, ROWS_NORM, m->t, w, NULL, m->t, N, E);
    diag_floats(m, m->t, (size_t)N * E, il, norm, norm);
    PROF_BEGIN(ex);
    residual_job job = {m};
    run_parallel(ex, N, token_grain(ex, N), residual_body, &job);
    PROF_END(ex, QK_OP_RESIDUAL);
    diag_floats(m, m->h, (size_t)N * E, il, "residual add", NULL);
}

/* Diagnosis pass only (m->diag): notes the first operation whose output x[0..n) is not finite. */
static void diag_floats(qk_gemma_model *m, const float *x, size_t n, int il, const char *op,
                        const char *tensor) {
    if (!m->diag || m->diag_where[0]) return;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            char t[96] = "";
            if (tensor && il >= 0)
                snprintf(t, sizeof t, ", tensor blk.%d.%s.weight", il, tensor);
            else if (tensor)
                snprintf(t, sizeof t, ", tensor %s", tensor);
            if (il >= 0)
                snprintf(m->diag_where, sizeof m->diag_where, "layer %d, %s%s (value %g at %zu)",
                         il, op, t, (double)x[i], i);
            else
                snprintf(m->diag_where, sizeof m->diag_where, "%s%s (value %g at %zu)", op, t,
                         (double)x[i], i);
            return;
        }
}

/* The same for a matmul's input as the fused operations leave it: int8 values and their scales. */
static void diag_act(qk_gemma_model *m, const qk_act_i8 *act, int il, const char *op,
                     const char *tensor) {
    if (!m->diag || m->diag_where[0] || m->opt.path != QK_PATH_INT8) return;
    const size_t per = act->granularity == QK_ACT_PER_BLOCK ? (size_t)act->cols / QK8_0 : 1;
    diag_floats(m, act->scale, (size_t)act->n_tokens * per, il, op, tensor);
}

static void layer_forward(qk_gemma_model *m, const qk_exec *ex, int il, int N) {
    const qk_gemma_config *c = &m->cfg;
    const qk_gemma_layer *L = &m->layers[il];
    const int E = c->n_embd, F = c->n_ff, D = c->head_dim, H = c->n_head;
    const int QD = H * D, KD = c->n_head_kv * D;
    const int sliding = c->sliding[il];
    const size_t n = (size_t)N;
    qk_act_i8 act;

    /* 1-2. pre-attention norm, then the projections from one quantisation of the shared input */
    norm_input(m, ex, m->h, L->attn_norm, m->a, N, E, &act);
    if (m->fused)
        diag_act(m, &act, il, "attn_norm (fused with quantisation)", "attn_norm");
    else
        diag_floats(m, m->a, n * E, il, "attn_norm", "attn_norm");
    diag_act(m, &act, il, "activation quantisation", NULL);
    matmul(m, ex, QK_OP_MATMUL_Q, &L->wq, m->a, &act, N, m->q);
    diag_floats(m, m->q, n * QD, il, "attn_q matmul", "attn_q");
    matmul(m, ex, QK_OP_MATMUL_K, &L->wk, m->a, &act, N, m->k);
    diag_floats(m, m->k, n * KD, il, "attn_k matmul", "attn_k");
    matmul(m, ex, QK_OP_MATMUL_V, &L->wv, m->a, &act, N, m->v);
    diag_floats(m, m->v, n * KD, il, "attn_v matmul", "attn_v");
    { /* 3. per-head q/k norms */
        PROF_BEGIN(ex);
        qk_norm_job job = {m, L};
        run_parallel(ex, N, token_grain(ex, N), qk_norm_body, &job);
        PROF_END(ex, QK_OP_QK_NORM);
    }
    diag_floats(m, m->q, n * QD, il, "attn_q_norm", "attn_q_norm");
    diag_floats(m, m->k, n * KD, il, "attn_k_norm", "attn_k_norm");
    attn_job job = {m, N, sliding};
    { /* 4-5. RoPE on q and k, then the attention scale on q */
        PROF_BEGIN(ex);
        run_parallel(ex, N, token_grain(ex, N), rope_body, &job);
        PROF_END(ex, QK_OP_ROPE);
    }
    diag_floats(m, m->q, n * QD, il, "RoPE", NULL);
    diag_floats(m, m->k, n * KD, il, "RoPE", NULL);
    { /* 6. attention, (KV head, query) pairs across the workers */
        const int items = c->n_head_kv * N;
        PROF_BEGIN(ex);
        run_parallel(ex, items, token_grain(ex, items), attention_items, &job);
        PROF_END(ex, QK_OP_ATTENTION);
    }
    diag_floats(m, m->o, n * QD, il, "attention (softmax and weighted sum)", NULL);
    /* 7-8. output projection, post-attention norm, residual */
    prepare_input(m, ex, m->o, N, QD, &act);
    diag_act(m, &act, il, "activation quantisation", NULL);
    matmul(m, ex, QK_OP_MATMUL_O, &L->wo, m->o, &act, N, m->t);
    diag_floats(m, m->t, n * E, il, "attn_output matmul", "attn_output");
    post_norm_residual(m, ex, L->post_attn_norm, N, il, "post_attention_norm");
    /* 9. GeGLU feed-forward: gate and up from one quantisation, then GELU(gate) * up as the down
     * projection's input (fused: quantised as it is made) */
    norm_input(m, ex, m->h, L->ffn_norm, m->a, N, E, &act);
    if (m->fused)
        diag_act(m, &act, il, "ffn_norm (fused with quantisation)", "ffn_norm");
    else
        diag_floats(m, m->a, n * E, il, "ffn_norm", "ffn_norm");
    diag_act(m, &act, il, "activation quantisation", NULL);
    matmul(m, ex, QK_OP_MATMUL_GATE, &L->gate, m->a, &act, N, m->g);
    diag_floats(m, m->g, n * F, il, "ffn_gate matmul", "ffn_gate");
    matmul(m, ex, QK_OP_MATMUL_UP, &L->up, m->a, &act, N, m->u);
    diag_floats(m, m->u, n * F, il, "ffn_up matmul", "ffn_up");
    if (m->fused) {
        run_rows(m, ex, QK_OP_GELU_QUANTIZE, ROWS_GEGLU_QUANTIZE, m->g, NULL, m->u, NULL, N, F);
        act = act_view(m, N, F);
        diag_act(m, &act, il, "GeGLU (fused with quantisation)", NULL);
    } else {
        run_rows(m, ex, QK_OP_GELU, ROWS_GEGLU, m->g, NULL, m->u, m->g, N, F);
        diag_floats(m, m->g, n * F, il, "GeGLU", NULL);
        prepare_input(m, ex, m->g, N, F, &act);
        diag_act(m, &act, il, "activation quantisation", NULL);
    }
    matmul(m, ex, QK_OP_MATMUL_DOWN, &L->down, m->g, &act, N, m->t);
    diag_floats(m, m->t, n * E, il, "ffn_down matmul", "ffn_down");
    /* 10. post-FFN norm, residual */
    post_norm_residual(m, ex, L->post_ffw_norm, N, il, "post_ffw_norm");
}

/* The forward pass of tokens[0..N) (checked by the caller) into out. */
static void forward(qk_gemma_model *m, const int32_t *tokens, int N, float *out,
                    const qk_exec *ex) {
    const qk_gemma_config *c = &m->cfg;
    const int E = c->n_embd;
    { /* embedding lookup, scaled by sqrt(n_embd) */
        PROF_BEGIN(ex);
        const float scale = sqrtf((float)E);
        for (int i = 0; i < N; i++) {
            float *hi = m->h + (size_t)i * E;
            tensor_row_to_f32(m->token_embd, tokens[i], hi);
            for (int e = 0; e < E; e++) hi[e] *= scale;
            if (m->diag && !m->diag_where[0]) {
                diag_floats(m, hi, (size_t)E, -1, "the token embedding lookup",
                            "token_embd.weight");
                if (m->diag_where[0]) { /* name the token: its row is what is damaged */
                    char t[64];
                    snprintf(t, sizeof t, ", token %d at position %d", tokens[i], i);
                    const size_t l = strlen(m->diag_where);
                    snprintf(m->diag_where + l, sizeof m->diag_where - l, "%s", t);
                }
            }
        }
        PROF_END(ex, QK_OP_EMBED);
    }
    {
        PROF_BEGIN(ex);
        rope_tables(m, N);
        PROF_END(ex, QK_OP_ROPE);
    }
    for (int il = 0; il < c->n_layer; il++) layer_forward(m, ex, il, N);

    run_rows(m, ex, QK_OP_NORM, ROWS_NORM, m->h, m->output_norm, NULL, m->z, N, E);
    diag_floats(m, m->z, (size_t)N * E, -1, "output_norm", "output_norm.weight");
    { /* mean pooling over every token */
        PROF_BEGIN(ex);
        for (int e = 0; e < E; e++) m->pooled[e] = 0.0f;
        for (int i = 0; i < N; i++)
            for (int e = 0; e < E; e++) m->pooled[e] += m->z[(size_t)i * E + e];
        for (int e = 0; e < E; e++) m->pooled[e] /= (float)N;
        PROF_END(ex, QK_OP_POOL);
    }
    diag_floats(m, m->pooled, (size_t)E, -1, "mean pooling", NULL);
    const float *emb = m->pooled;
    if (m->has_dense) {
        qk_act_i8 act;
        prepare_input(m, ex, m->pooled, 1, E, &act);
        matmul(m, ex, QK_OP_MATMUL_DENSE, &m->dense2, m->pooled, &act, 1, m->dense_buf);
        diag_floats(m, m->dense_buf, (size_t)c->dense_ff, -1, "Dense layer 2", "dense_2.weight");
        prepare_input(m, ex, m->dense_buf, 1, c->dense_ff, &act);
        matmul(m, ex, QK_OP_MATMUL_DENSE, &m->dense3, m->dense_buf, &act, 1, m->dense_out);
        diag_floats(m, m->dense_out, (size_t)E, -1, "Dense layer 3", "dense_3.weight");
        emb = m->dense_out;
    }
    { /* L2 normalisation, sum of squares in double; a zero vector stays zero */
        PROF_BEGIN(ex);
        double ss = 0.0;
        for (int e = 0; e < E; e++) ss += (double)emb[e] * (double)emb[e];
        const float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int e = 0; e < E; e++) out[e] = emb[e] * inv;
        PROF_END(ex, QK_OP_POOL);
    }
    diag_floats(m, out, (size_t)E, -1, "L2 normalisation", NULL);
}

int qk_gemma_embed(qk_gemma_model *m, const int32_t *tokens, int n_tokens, float *out,
                   const qk_exec *exec, qk_error *err) {
    const qk_exec serial = {0};
    const qk_exec *ex = exec ? exec : &serial;
    const qk_gemma_config *c = &m->cfg;
    if (n_tokens < 1) return qk_fail(err, "empty token sequence");
    if (n_tokens > c->n_ctx)
        return qk_fail(err, "sequence of %d tokens exceeds the model's context of %d", n_tokens,
                       c->n_ctx);
    for (int i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= c->n_vocab)
            return qk_fail(err, "token %d at position %d is outside the vocabulary 0..%d",
                           tokens[i], i, c->n_vocab - 1);
    if (qk_gemma_reserve(m, n_tokens, ex->n_workers, err)) return -1;
    forward(m, tokens, n_tokens, out, ex);
    m->last_tokens = n_tokens;
    /* A NaN or an infinity (a damaged norm weight or fp16 scale, an overflow) is an error, never an
     * embedding: n_embd comparisons here; only then a second pass, serial, checking every
     * operation's output, to say where the first one appeared. */
    const int E = c->n_embd;
    int finite = 1;
    for (int e = 0; e < E; e++) finite &= isfinite(out[e]) != 0;
    if (finite) return 0;
    m->diag = 1;
    m->diag_where[0] = 0;
    forward(m, tokens, n_tokens, out, &serial);
    m->diag = 0;
    return qk_fail(err, "non-finite values in the embedding: the first appeared in %s",
                   m->diag_where[0] ? m->diag_where : "an operation not checked (a kernel?)");
}

const float *qk_gemma_last_hidden(const qk_gemma_model *m, int i) {
    if (!m->z || i < 0 || i >= m->last_tokens) return NULL;
    return m->z + (size_t)i * m->cfg.n_embd;
}

int qk_gemma_matmul(qk_gemma_model *m, const qk_gemma_weight *w, const float *x, int n_tokens,
                    float *dst, const qk_exec *exec, qk_error *err) {
    const qk_exec serial = {0};
    const qk_exec *ex = exec ? exec : &serial;
    if (qk_gemma_reserve(m, n_tokens, ex->n_workers, err)) return -1;
    qk_act_i8 act;
    prepare_input(m, ex, x, n_tokens, w->cols, &act);
    matmul(m, ex, QK_OP_MATMUL_Q, w, x, &act, n_tokens, dst);
    return 0;
}
