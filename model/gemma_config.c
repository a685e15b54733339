/* Reading and validating EmbeddingGemma's configuration from a GGUF's metadata and tensor shapes
 * (qk_gemma_read_config): every key the forward pass relies on is checked against the tensors it
 * describes, so a file whose metadata disagrees with its tensors is refused before anything is
 * loaded. Split from gemma.c (loading and the forward pass). */
#include "model/gemma.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- configuration */

static int get_u32_or(const qk_gguf *g, const char *key, uint32_t dflt, uint32_t *out,
                      qk_error *err) {
    if (!qk_gguf_find_kv(g, key)) {
        *out = dflt;
        return 0;
    }
    return qk_gguf_get_u32(g, key, out, err);
}

static int get_f32_or(const qk_gguf *g, const char *key, float dflt, float *out, qk_error *err) {
    if (!qk_gguf_find_kv(g, key)) {
        *out = dflt;
        return 0;
    }
    return qk_gguf_get_f32(g, key, out, err);
}

static int read_layer_pattern(const qk_gguf *g, const char *key, qk_gemma_config *c,
                              qk_error *err) {
    const qk_gguf_kv *kv = qk_gguf_find_kv(g, key);
    uint32_t period = 6; /* llama.cpp's default for this architecture (spec section 2) */
    if (kv && kv->type == QK_GGUF_ARRAY) {
        if (kv->arr_type != QK_GGUF_BOOL || kv->arr_n < (uint64_t)c->n_layer)
            return qk_fail(err, "%s: key %s: expected an array of %d bools", g->path, key,
                           c->n_layer);
        for (int il = 0; il < c->n_layer; il++) c->sliding[il] = *qk_gguf_arr_elem(kv, il) != 0;
        return 0;
    }
    if (kv && qk_gguf_get_u32(g, key, &period, err)) return -1;
    for (int il = 0; il < c->n_layer; il++)
        c->sliding[il] = period == 0 ? 0 : (uint32_t)(il % period) < period - 1;
    return 0;
}

#define K_EMBD          "gemma-embedding.embedding_length"
#define K_BLOCKS        "gemma-embedding.block_count"
#define K_HEADS         "gemma-embedding.attention.head_count"
#define K_HEADS_KV      "gemma-embedding.attention.head_count_kv"
#define K_KEY_LENGTH    "gemma-embedding.attention.key_length"
#define K_VALUE_LENGTH  "gemma-embedding.attention.value_length"
#define K_ROPE_DIMS     "gemma-embedding.rope.dimension_count"
#define K_EPS           "gemma-embedding.attention.layer_norm_rms_epsilon"
#define K_ROPE_BASE     "gemma-embedding.rope.freq_base"
#define K_ROPE_BASE_SWA "gemma-embedding.rope.freq_base_swa"

/* Appends " (what the metadata says)" to a shape error, so it names the key as well as the tensor.
 */
static int because(qk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int because(qk_error *err, const char *fmt, ...) {
    if (!err) return -1;
    const size_t l = strlen(err->msg);
    if (l + 4 >= sizeof err->msg) return -1;
    err->msg[l] = ' ';
    err->msg[l + 1] = '(';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + l + 2, sizeof err->msg - l - 3, fmt, ap);
    va_end(ap);
    const size_t m = strlen(err->msg);
    if (m + 1 < sizeof err->msg) err->msg[m] = ')', err->msg[m + 1] = 0;
    return -1;
}

/* A norm weight's type: the loader converts F16 and BF16, refuses the rest. */
static int check_norm_type(const qk_gguf *g, const qk_gguf_tensor *t, const char *name,
                           qk_error *err) {
    if (t->type != QK_GGML_F32 && t->type != QK_GGML_F16 && t->type != QK_GGML_BF16)
        return qk_fail(err, "%s: tensor %s is %s; norm weights must be F32, F16 or BF16", g->path,
                       name, qk_ggml_type_name(t->type));
    return 0;
}

/* A weight matrix's type: what the loader can read (the INT8 path checks Q8_0 itself). */
static int check_matrix_type(const qk_gguf *g, const qk_gguf_tensor *t, const char *name,
                             qk_error *err) {
    if (t->type != QK_GGML_Q8_0 && t->type != QK_GGML_F32 && t->type != QK_GGML_F16 &&
        t->type != QK_GGML_BF16)
        return qk_fail(err, "%s: tensor %s is %s (expected Q8_0, F32, F16 or BF16)", g->path, name,
                       qk_ggml_type_name(t->type));
    return 0;
}

/* An optional u32 key that must equal what a tensor's shape says. */
static int check_key_against(const qk_gguf *g, const char *key, int64_t want, const char *what,
                             qk_error *err) {
    if (!qk_gguf_find_kv(g, key)) return 0;
    uint32_t v;
    if (qk_gguf_get_u32(g, key, &v, err)) return -1;
    if ((int64_t)v != want)
        return qk_fail(err, "%s: key %s = %u disagrees with %s = %lld", g->path, key, v, what,
                       (long long)want);
    return 0;
}

/* The count of an optional array key, which must equal n (what says where n comes from). */
static int check_array_len(const qk_gguf *g, const char *key, int64_t n, const char *what,
                           qk_error *err) {
    const qk_gguf_kv *kv = qk_gguf_find_kv(g, key);
    if (!kv) return 0;
    if (kv->type != QK_GGUF_ARRAY)
        return qk_fail(err, "%s: key %s is %s, expected an array", g->path, key,
                       qk_gguf_vtype_name(kv->type));
    if ((int64_t)kv->arr_n != n)
        return qk_fail(err, "%s: key %s has %llu entries, but %s = %lld", g->path, key,
                       (unsigned long long)kv->arr_n, what, (long long)n);
    return 0;
}

/* The one validation pass of the metadata against the tensors, before anything runs: every
 * hyper-parameter is checked against the shapes it implies, every tensor the forward pass reads is
 * present with that shape, the optional keys other readers trust (llama.cpp asserts on the Dense
 * ones) agree with the tensors, and no tensor belongs to a block beyond block_count. Messages name
 * the key and the tensor. */
static int validate(const qk_gguf *g, const qk_gemma_config *c, qk_error *err) {
    const int64_t E = c->n_embd, D = c->head_dim, F = c->n_ff;
    const int64_t QD = (int64_t)c->n_head * D, KD = (int64_t)c->n_head_kv * D;
    const qk_gguf_tensor *emb = qk_gguf_find_tensor(g, "token_embd.weight");
    if (qk_gguf_check_shape(g, emb, "token_embd.weight", E, c->n_vocab, err))
        return because(err, "key %s = %d", K_EMBD, c->n_embd);
    if (check_matrix_type(g, emb, "token_embd.weight", err)) return -1;
    const qk_gguf_tensor *on = qk_gguf_find_tensor(g, "output_norm.weight");
    if (qk_gguf_check_shape(g, on, "output_norm.weight", E, 1, err))
        return because(err, "key %s = %d", K_EMBD, c->n_embd);
    if (check_norm_type(g, on, "output_norm.weight", err)) return -1;
    static const struct {
        const char *name;
        int ne0, ne1; /* 0 E, 1 D, 2 QD, 3 KD, 4 F, -1: a norm (one dimension) */
        const char *key;
    } per_layer[] = {
        {"attn_norm", 0, -1, K_EMBD},
        {"attn_q_norm", 1, -1, K_KEY_LENGTH},
        {"attn_k_norm", 1, -1, K_KEY_LENGTH},
        {"post_attention_norm", 0, -1, K_EMBD},
        {"ffn_norm", 0, -1, K_EMBD},
        {"post_ffw_norm", 0, -1, K_EMBD},
        {"attn_q", 0, 2, K_HEADS},
        {"attn_k", 0, 3, K_HEADS_KV},
        {"attn_v", 0, 3, K_HEADS_KV},
        {"attn_output", 2, 0, K_HEADS},
        {"ffn_gate", 0, 4, "gemma-embedding.feed_forward_length"},
        {"ffn_up", 0, 4, "gemma-embedding.feed_forward_length"},
        {"ffn_down", 4, 0, "gemma-embedding.feed_forward_length"},
    };
    const int64_t dim[5] = {E, D, QD, KD, F};
    for (int il = 0; il < c->n_layer; il++)
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s.weight", il, per_layer[i].name);
            const qk_gguf_tensor *t = qk_gguf_find_tensor(g, name);
            const int64_t ne0 = dim[per_layer[i].ne0];
            const int64_t ne1 = per_layer[i].ne1 < 0 ? 1 : dim[per_layer[i].ne1];
            if (qk_gguf_check_shape(g, t, name, ne0, ne1, err)) {
                const qk_gguf_kv *kv = qk_gguf_find_kv(g, per_layer[i].key);
                return because(err, "key %s%s, key %s = %d", per_layer[i].key,
                               kv ? "" : ", defaulted", K_EMBD, c->n_embd);
            }
            if (per_layer[i].ne1 >= 0 ? check_matrix_type(g, t, name, err)
                                      : check_norm_type(g, t, name, err))
                return -1;
        }
    /* tensors of blocks the metadata does not count */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const qk_str n = g->tensors[i].name;
        if (n.len < 5 || memcmp(n.ptr, "blk.", 4) != 0) continue;
        long blk = 0;
        uint64_t k = 4;
        while (k < n.len && k < 14 && n.ptr[k] >= '0' && n.ptr[k] <= '9')
            blk = blk * 10 + (n.ptr[k++] - '0');
        if (k > 4 && blk >= c->n_layer)
            return qk_fail(err, "%s: tensor %.*s belongs to block %ld, but key %s = %d", g->path,
                           (int)(n.len > 80 ? 80 : n.len), n.ptr, blk, K_BLOCKS, c->n_layer);
    }
    /* the Dense layers: both or neither, shapes chained to n_embd, and the keys llama.cpp asserts
     * on (dense_2_feat_in == dense_3_feat_out == n_embd) equal to the shapes */
    const qk_gguf_tensor *d2 = qk_gguf_find_tensor(g, "dense_2.weight");
    const qk_gguf_tensor *d3 = qk_gguf_find_tensor(g, "dense_3.weight");
    static const char *const dense_keys[4] = {
        "gemma-embedding.dense_2_feat_in", "gemma-embedding.dense_2_feat_out",
        "gemma-embedding.dense_3_feat_in", "gemma-embedding.dense_3_feat_out"};
    if (!d2 && d3)
        return qk_fail(err, "%s: tensor dense_3.weight present without dense_2.weight", g->path);
    if (d2) {
        if (qk_gguf_check_shape(g, d2, "dense_2.weight", E, c->dense_ff, err) ||
            qk_gguf_check_shape(g, d3, "dense_3.weight", c->dense_ff, E, err))
            return because(err, "key %s = %d; dense_2.weight has %d rows", K_EMBD, c->n_embd,
                           c->dense_ff);
        if (check_matrix_type(g, d2, "dense_2.weight", err) ||
            check_matrix_type(g, d3, "dense_3.weight", err))
            return -1;
        if (check_key_against(g, dense_keys[0], d2->ne[0],
                              "the input width (ne0) of tensor dense_2.weight", err) ||
            check_key_against(g, dense_keys[1], d2->ne[1],
                              "the output width (ne1) of tensor dense_2.weight", err) ||
            check_key_against(g, dense_keys[2], d3->ne[0],
                              "the input width (ne0) of tensor dense_3.weight", err) ||
            check_key_against(g, dense_keys[3], d3->ne[1],
                              "the output width (ne1) of tensor dense_3.weight", err))
            return -1;
    } else {
        for (int i = 0; i < 4; i++)
            if (qk_gguf_find_kv(g, dense_keys[i]))
                return qk_fail(err, "%s: key %s is set, but the file has no tensor dense_2.weight",
                               g->path, dense_keys[i]);
    }
    /* the tokenizer, when there is one: one entry per row of token_embd, ids inside it */
    const qk_gguf_kv *tokens = qk_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (tokens) {
        if (check_array_len(g, "tokenizer.ggml.tokens", c->n_vocab,
                            "the rows (ne1) of tensor token_embd.weight", err) ||
            check_array_len(g, "tokenizer.ggml.scores", (int64_t)tokens->arr_n,
                            "the entries of tokenizer.ggml.tokens", err) ||
            check_array_len(g, "tokenizer.ggml.token_type", (int64_t)tokens->arr_n,
                            "the entries of tokenizer.ggml.tokens", err))
            return -1;
        static const char *const ids[4] = {
            "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
        for (int i = 0; i < 4; i++) {
            if (!qk_gguf_find_kv(g, ids[i])) continue;
            uint32_t v;
            if (qk_gguf_get_u32(g, ids[i], &v, err)) return -1;
            if ((int64_t)v >= c->n_vocab)
                return qk_fail(err,
                               "%s: key %s = %u is outside the vocabulary (tensor "
                               "token_embd.weight has %d rows)",
                               g->path, ids[i], v, c->n_vocab);
        }
    }
    return 0;
}

int qk_gemma_read_config(const qk_gguf *g, qk_gemma_config *c, qk_error *err) {
    memset(c, 0, sizeof *c);
    qk_str arch;
    if (qk_gguf_get_str(g, "general.architecture", &arch, err)) return -1;
    if (!qk_str_eq(arch, "gemma-embedding"))
        return qk_fail(err, "%s: general.architecture is '%.*s', expected 'gemma-embedding'",
                       g->path, (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);

    struct {
        const char *key;
        int *dst;
        int required;
        uint32_t dflt;
    } ints[] = {
        {"gemma-embedding.context_length", &c->n_ctx, 1, 0},
        {K_EMBD, &c->n_embd, 1, 0},
        {K_BLOCKS, &c->n_layer, 1, 0},
        {"gemma-embedding.feed_forward_length", &c->n_ff, 1, 0},
        {K_HEADS, &c->n_head, 1, 0},
        {"gemma-embedding.attention.sliding_window", &c->n_swa, 1, 0},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        uint32_t v;
        if (qk_gguf_get_u32(g, ints[i].key, &v, err)) return -1;
        if (v == 0 || v > (1u << 30))
            return qk_fail(err, "%s: key %s = %u is out of range", g->path, ints[i].key, v);
        *ints[i].dst = (int)v;
    }
    if (c->n_layer > QK_GEMMA_MAX_LAYERS)
        return qk_fail(err, "%s: key %s = %d exceeds the supported %d", g->path, K_BLOCKS,
                       c->n_layer, QK_GEMMA_MAX_LAYERS);
    uint32_t v;
    if (get_u32_or(g, K_HEADS_KV, (uint32_t)c->n_head, &v, err)) return -1;
    if (v == 0 || v > (uint32_t)c->n_head || c->n_head % (int)v != 0)
        return qk_fail(err, "%s: key %s = %u does not divide %s = %d", g->path, K_HEADS_KV, v,
                       K_HEADS, c->n_head);
    c->n_head_kv = (int)v;
    const int has_key_length = qk_gguf_find_kv(g, K_KEY_LENGTH) != NULL;
    if (c->n_embd % c->n_head != 0 && !has_key_length)
        return qk_fail(err, "%s: key %s = %d does not divide %s = %d (and there is no %s)", g->path,
                       K_HEADS, c->n_head, K_EMBD, c->n_embd, K_KEY_LENGTH);
    if (get_u32_or(g, K_KEY_LENGTH, (uint32_t)(c->n_embd / c->n_head), &v, err)) return -1;
    if (v < 2 || v % 2 != 0 || v > 4096) { /* RoPE rotates pairs of the head's dimensions */
        if (has_key_length)
            return qk_fail(err, "%s: key %s = %u: the head dimension must be even and in 2..4096",
                           g->path, K_KEY_LENGTH, v);
        return qk_fail(err,
                       "%s: head dimension %u (key %s = %d / key %s = %d) must be even and in "
                       "2..4096",
                       g->path, v, K_EMBD, c->n_embd, K_HEADS, c->n_head);
    }
    c->head_dim = (int)v;
    if ((int64_t)c->n_head * c->head_dim > (1 << 30))
        return qk_fail(err, "%s: key %s = %d times the head dimension %d exceeds 2^30", g->path,
                       K_HEADS, c->n_head, c->head_dim);
    uint32_t vlen;
    if (get_u32_or(g, K_VALUE_LENGTH, v, &vlen, err)) return -1;
    if (vlen != v)
        return qk_fail(err, "%s: key %s = %u differs from the key length %u (not supported)",
                       g->path, K_VALUE_LENGTH, vlen, v);
    if (get_u32_or(g, K_ROPE_DIMS, (uint32_t)c->head_dim, &v, err)) return -1;
    if (v < 2 || v % 2 != 0 || v > (uint32_t)c->head_dim)
        return qk_fail(err, "%s: key %s = %u must be even and in 2..%d (the head dimension)",
                       g->path, K_ROPE_DIMS, v, c->head_dim);
    c->n_rot = (int)v;
    /* a zero, negative or non-finite epsilon or RoPE base turns every activation into NaN */
    if (qk_gguf_get_f32(g, K_EPS, &c->eps, err)) return -1;
    if (!(c->eps > 0.0f) || !isfinite(c->eps))
        return qk_fail(err, "%s: key %s = %g must be positive and finite", g->path, K_EPS,
                       (double)c->eps);
    if (get_f32_or(g, K_ROPE_BASE, 10000.0f, &c->rope_base, err)) return -1;
    /* sliding layers: the key when present, else 10000 (never the global base; spec section 2) */
    if (get_f32_or(g, K_ROPE_BASE_SWA, 10000.0f, &c->rope_base_swa, err)) return -1;
    const float bases[2] = {c->rope_base, c->rope_base_swa};
    const char *const base_keys[2] = {K_ROPE_BASE, K_ROPE_BASE_SWA};
    for (int i = 0; i < 2; i++)
        if (!(bases[i] > 0.0f) || !isfinite(bases[i]))
            return qk_fail(err, "%s: key %s = %g must be positive and finite", g->path,
                           base_keys[i], (double)bases[i]);
    if (get_u32_or(g, "gemma-embedding.pooling_type", 1, &v, err)) return -1;
    if (v != 1)
        return qk_fail(err, "%s: key gemma-embedding.pooling_type = %u is not supported (only 1)",
                       g->path, v);
    c->pooling = 1;
    if (read_layer_pattern(g, "gemma-embedding.attention.sliding_window_pattern", c, err))
        return -1;
    const qk_gguf_tensor *emb = qk_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return qk_fail(err, "%s: tensor token_embd.weight is missing", g->path);
    if (emb->ne[1] > INT32_MAX)
        return qk_fail(err, "%s: tensor token_embd.weight has %lld rows, above %d", g->path,
                       (long long)emb->ne[1], INT32_MAX);
    c->n_vocab = (int)emb->ne[1];
    const qk_gguf_tensor *d2 = qk_gguf_find_tensor(g, "dense_2.weight");
    /* a dense_2 too wide was ignored silently before (the model then ran without Dense layers) */
    if (d2 && d2->ne[1] > (1 << 20))
        return qk_fail(err, "%s: tensor dense_2.weight has %lld rows, above the supported %d",
                       g->path, (long long)d2->ne[1], 1 << 20);
    c->dense_ff = d2 ? (int)d2->ne[1] : 0;
    return validate(g, c, err);
}
