#include "model/synth.h"

#include "common/output_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gguf.h"
#include "model/q8_0.h"

static const qk_synth_preset presets[] = {
    {"tiny", "the dimensions of ../shared/testdata/tiny-gemma.gguf", 512, 64, 6, 4, 2, 32, 128,
     2048, 8, 256, 1000000.0f, 10000.0f, 1e-6f},
    {"embeddinggemma-300m", "EmbeddingGemma-300M with the Dense layers (spec section 1)", 262144,
     768, 24, 3, 1, 256, 1152, 2048, 512, 3072, 1000000.0f, 10000.0f, 1e-6f},
    {"embeddinggemma-300m-nodense", "EmbeddingGemma-300M without Dense layers (early Q8_0 uploads)",
     262144, 768, 24, 3, 1, 256, 1152, 2048, 512, 0, 1000000.0f, 10000.0f, 1e-6f},
};

int qk_synth_preset_count(void) {
    return (int)(sizeof presets / sizeof presets[0]);
}
const qk_synth_preset *qk_synth_preset_at(int i) {
    return i >= 0 && i < qk_synth_preset_count() ? &presets[i] : NULL;
}
const qk_synth_preset *qk_synth_find_preset(const char *name) {
    for (int i = 0; i < qk_synth_preset_count(); i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

/* splitmix64: small, fast, and the same stream on every platform */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Approximately normal (sum of four uniforms, variance 1), cheap enough for 300M values. */
static float next_normal(uint64_t *s) {
    uint64_t r = next_u64(s);
    float sum = 0.0f;
    for (int i = 0; i < 4; i++) sum += (float)((r >> (16 * i)) & 0xffff) * (1.0f / 65536.0f);
    return (sum - 2.0f) * 1.7320508f;
}

typedef struct {
    qk_gguf_writer *w;
    int index;
    uint64_t seed;
} tensor_gen;

enum { KIND_MATRIX, KIND_NORM, KIND_EMBED };

typedef struct {
    char name[64];
    int64_t ne[2];
    int n_dims, kind;
    float std;
} tensor_plan;

/* Fills one tensor: matrices and embeddings as Q8_0 of N(0, std^2) values, norms F32 around 1 (GGUF
 * norm weights already hold Gemma's +1). The per-tensor seed makes each tensor independent of
 * order. */
static void *make_tensor(const tensor_plan *t, uint64_t seed, uint64_t nbytes) {
    uint8_t *buf = malloc(nbytes);
    if (!buf) return NULL;
    uint64_t s = seed;
    for (const char *c = t->name; *c; c++) s = s * 131 + (uint8_t)*c;
    next_u64(&s);
    if (t->kind == KIND_NORM) {
        float *f = (float *)(void *)buf;
        for (int64_t i = 0; i < t->ne[0]; i++) f[i] = 1.0f + 0.1f * next_normal(&s);
        return buf;
    }
    const int cols = (int)t->ne[0];
    float *row = malloc((size_t)cols * sizeof(float));
    if (!row) {
        free(buf);
        return NULL;
    }
    const size_t row_bytes = (size_t)cols / QK8_0 * QK8_0_BLOCK_BYTES;
    for (int64_t r = 0; r < t->ne[1]; r++) {
        for (int k = 0; k < cols; k++) row[k] = t->std * next_normal(&s);
        qk_q8_0_quantize_row(row, buf + (size_t)r * row_bytes, cols);
    }
    free(row);
    return buf;
}

static int plan_tensors(const qk_synth_preset *p, int n_vocab, int with_dense, tensor_plan **out,
                        int *n_out) {
    const int per_layer = 13;
    int n = 2 + per_layer * p->n_layer + (with_dense ? 2 : 0);
    tensor_plan *t = calloc((size_t)n, sizeof *t);
    if (!t) return -1;
    int i = 0;
    const int64_t E = p->n_embd, D = p->head_dim, F = p->n_ff;
    const int64_t QD = (int64_t)p->n_head * D, KD = (int64_t)p->n_head_kv * D;
#define ADD(kind_, nd, n0, n1, sd, ...)                                                            \
    do {                                                                                           \
        snprintf(t[i].name, sizeof t[i].name, __VA_ARGS__);                                        \
        t[i].kind = kind_, t[i].n_dims = nd, t[i].ne[0] = n0, t[i].ne[1] = n1, t[i].std = sd;      \
        i++;                                                                                       \
    } while (0)
    /* Unit-variance outputs: weights with std 1/sqrt(cols). The embedding is scaled by sqrt(E) in
     * the forward pass, so its std is 1/sqrt(E). */
    const float se = 1.0f / sqrtf((float)E), sq = 1.0f / sqrtf((float)QD),
                sf = 1.0f / sqrtf((float)F);
    ADD(KIND_EMBED, 2, E, n_vocab, se, "token_embd.weight");
    for (int il = 0; il < p->n_layer; il++) {
        ADD(KIND_NORM, 1, E, 1, 0, "blk.%d.attn_norm.weight", il);
        ADD(KIND_MATRIX, 2, E, QD, se, "blk.%d.attn_q.weight", il);
        ADD(KIND_MATRIX, 2, E, KD, se, "blk.%d.attn_k.weight", il);
        ADD(KIND_MATRIX, 2, E, KD, se, "blk.%d.attn_v.weight", il);
        ADD(KIND_NORM, 1, D, 1, 0, "blk.%d.attn_q_norm.weight", il);
        ADD(KIND_NORM, 1, D, 1, 0, "blk.%d.attn_k_norm.weight", il);
        ADD(KIND_MATRIX, 2, QD, E, sq, "blk.%d.attn_output.weight", il);
        ADD(KIND_NORM, 1, E, 1, 0, "blk.%d.post_attention_norm.weight", il);
        ADD(KIND_NORM, 1, E, 1, 0, "blk.%d.ffn_norm.weight", il);
        ADD(KIND_MATRIX, 2, E, F, se, "blk.%d.ffn_gate.weight", il);
        ADD(KIND_MATRIX, 2, E, F, se, "blk.%d.ffn_up.weight", il);
        ADD(KIND_MATRIX, 2, F, E, sf, "blk.%d.ffn_down.weight", il);
        ADD(KIND_NORM, 1, E, 1, 0, "blk.%d.post_ffw_norm.weight", il);
    }
    ADD(KIND_NORM, 1, E, 1, 0, "output_norm.weight");
    if (with_dense) {
        ADD(KIND_MATRIX, 2, E, p->dense_ff, se, "dense_2.weight");
        ADD(KIND_MATRIX, 2, p->dense_ff, E, 1.0f / sqrtf((float)p->dense_ff), "dense_3.weight");
    }
#undef ADD
    *out = t;
    *n_out = i;
    return 0;
}

/* Tokenizer section llama.cpp can load: <pad> <eos> <bos> <unk>, 256 byte tokens, then normal
 * tokens with unique placeholder texts and decreasing scores. */
static int add_tokenizer(qk_gguf_writer *w, int n_vocab) {
    char **texts = calloc((size_t)n_vocab, sizeof *texts);
    float *scores = calloc((size_t)n_vocab, sizeof *scores);
    int32_t *types = calloc((size_t)n_vocab, sizeof *types);
    int rc = -1;
    if (!texts || !scores || !types) goto out;
    static const char *const special[4] = {"<pad>", "<eos>", "<bos>", "<unk>"};
    for (int i = 0; i < n_vocab; i++) {
        char buf[32];
        if (i < 4) {
            snprintf(buf, sizeof buf, "%s", special[i]);
            types[i] = i == 3 ? 2 : 3; /* unknown : control */
        } else if (i < 260) {
            snprintf(buf, sizeof buf, "<0x%02X>", i - 4);
            types[i] = 6; /* byte */
        } else {
            /* "\xe2\x96\x81" is U+2581, SentencePiece's space */
            snprintf(buf, sizeof buf, "\xe2\x96\x81tok%d", i);
            types[i] = 1; /* normal */
            scores[i] = -(float)(i - 260);
        }
        texts[i] = strdup(buf);
        if (!texts[i]) goto out;
    }
    qk_gguf_writer_kv_str(w, "tokenizer.ggml.model", "llama");
    qk_gguf_writer_kv_str(w, "tokenizer.ggml.pre", "default");
    qk_gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)texts,
                              (uint64_t)n_vocab);
    qk_gguf_writer_kv_arr(w, "tokenizer.ggml.scores", QK_GGUF_FLOAT32, scores, (uint64_t)n_vocab);
    qk_gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", QK_GGUF_INT32, types, (uint64_t)n_vocab);
    qk_gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", 2);
    qk_gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", 1);
    qk_gguf_writer_kv_u32(w, "tokenizer.ggml.unknown_token_id", 3);
    qk_gguf_writer_kv_u32(w, "tokenizer.ggml.padding_token_id", 0);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", 1);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_eos_token", 1);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_space_prefix", 0);
    rc = 0;
out:
    if (texts)
        for (int i = 0; i < n_vocab; i++) free(texts[i]);
    free(texts);
    free(scores);
    free(types);
    return rc;
}

/* The tokenizer section from a real vocabulary. */
static void add_vocab(qk_gguf_writer *w, const qk_synth_vocab *v) {
    qk_gguf_writer_kv_str(w, "tokenizer.ggml.model", "llama");
    qk_gguf_writer_kv_str(w, "tokenizer.ggml.pre", "default");
    qk_gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", v->texts, (uint64_t)v->n);
    qk_gguf_writer_kv_arr(w, "tokenizer.ggml.scores", QK_GGUF_FLOAT32, v->scores, (uint64_t)v->n);
    qk_gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", QK_GGUF_INT32, v->types, (uint64_t)v->n);
    if (v->bos >= 0) qk_gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos);
    if (v->eos >= 0) qk_gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos);
    if (v->unk >= 0) qk_gguf_writer_kv_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk);
    if (v->pad >= 0) qk_gguf_writer_kv_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)v->pad);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
}

static void add_metadata(qk_gguf_writer *w, const qk_synth_preset *p, int with_dense) {
    char name[128];
    snprintf(name, sizeof name, "qkbench synthetic %s", p->name);
    qk_gguf_writer_kv_str(w, "general.architecture", "gemma-embedding");
    qk_gguf_writer_kv_str(w, "general.type", "model");
    qk_gguf_writer_kv_str(w, "general.name", name);
    qk_gguf_writer_kv_u32(w, "general.file_type", 7); /* mostly Q8_0 */
    qk_gguf_writer_kv_u32(w, "general.quantization_version", 2);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.context_length", (uint32_t)p->n_ctx);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.embedding_length", (uint32_t)p->n_embd);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.block_count", (uint32_t)p->n_layer);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.feed_forward_length", (uint32_t)p->n_ff);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.head_count", (uint32_t)p->n_head);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.head_count_kv", (uint32_t)p->n_head_kv);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.key_length", (uint32_t)p->head_dim);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.value_length", (uint32_t)p->head_dim);
    qk_gguf_writer_kv_f32(w, "gemma-embedding.attention.layer_norm_rms_epsilon", p->eps);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.sliding_window", (uint32_t)p->n_swa);
    qk_gguf_writer_kv_f32(w, "gemma-embedding.rope.freq_base", p->rope_base);
    qk_gguf_writer_kv_f32(w, "gemma-embedding.rope.freq_base_swa", p->rope_base_swa);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.pooling_type", 1); /* mean */
    if (with_dense) {
        qk_gguf_writer_kv_u32(w, "gemma-embedding.dense_2_feat_in", (uint32_t)p->n_embd);
        qk_gguf_writer_kv_u32(w, "gemma-embedding.dense_2_feat_out", (uint32_t)p->dense_ff);
        qk_gguf_writer_kv_u32(w, "gemma-embedding.dense_3_feat_in", (uint32_t)p->dense_ff);
        qk_gguf_writer_kv_u32(w, "gemma-embedding.dense_3_feat_out", (uint32_t)p->n_embd);
    }
}

int qk_synth_write(const char *path, const qk_synth_preset *p, uint64_t seed, int with_dense,
                   qk_error *err) {
    return qk_synth_write_file(path, p, seed, with_dense, NULL, 1, err);
}

int qk_synth_write_vocab(const char *path, const qk_synth_preset *p, uint64_t seed, int with_dense,
                         const qk_synth_vocab *vocab, qk_error *err) {
    return qk_synth_write_file(path, p, seed, with_dense, vocab, 1, err);
}

int qk_synth_write_file(const char *path, const qk_synth_preset *p, uint64_t seed, int with_dense,
                        const qk_synth_vocab *vocab, int replace, qk_error *err) {
    if (vocab && (vocab->n <= 0 || !vocab->texts || !vocab->scores || !vocab->types))
        return qk_fail(err, "the vocabulary is empty or incomplete");
    const int n_vocab = vocab ? vocab->n : p->n_vocab;
    with_dense = with_dense && p->dense_ff > 0;
    tensor_plan *plan = NULL;
    int n = 0, rc = -1;
    qk_outfile o = {0};
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    if (!w || plan_tensors(p, n_vocab, with_dense, &plan, &n)) {
        qk_fail(err, "out of memory");
        goto out;
    }
    add_metadata(w, p, with_dense);
    if (vocab)
        add_vocab(w, vocab);
    else if (add_tokenizer(w, p->n_vocab)) {
        qk_fail(err, "out of memory building the tokenizer section");
        goto out;
    }
    for (int i = 0; i < n; i++)
        qk_gguf_writer_tensor(w, plan[i].name, (uint32_t)plan[i].n_dims, plan[i].ne,
                              plan[i].kind == KIND_NORM ? QK_GGML_F32 : QK_GGML_Q8_0);
    /* a temporary file renamed into place when complete (common/output_file.h) */
    if (qk_outfile_open(&o, path, err)) goto out;
    if (qk_gguf_writer_write_header(w, o.f, err)) goto out;
    for (int i = 0; i < n; i++) {
        void *data = make_tensor(&plan[i], seed, qk_gguf_writer_tensor_nbytes(w, i));
        if (!data) {
            qk_fail(err, "out of memory generating %s", plan[i].name);
            goto out;
        }
        int wrc = qk_gguf_writer_write_data(w, o.f, i, data, err);
        free(data);
        if (wrc) goto out;
    }
    if (qk_outfile_commit(&o, replace, err)) goto out;
    rc = 0;
out:
    qk_outfile_abort(&o);
    qk_gguf_writer_free(w);
    free(plan);
    return rc;
}
