/* Writes seed inputs for the fuzz targets into a folder: `seedgen gguf DIR` or `seedgen experiment
 * DIR`.
 *
 * gguf: the synthetic tiny model (with and without Dense layers), a micro model (one layer,
 * 16-token vocabulary, F16 and BF16 norms, an explicit layer pattern) that loads and embeds in
 * microseconds, so mutations of it reach the load checks and the forward pass, a file with every
 * metadata type, array kind and tensor type at alignment 64, and an empty file (no kv, no tensor).
 * experiment: files that set every key, each list form (`all`, `max`, several items) and comments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/q8_0.h"
#include "model/synth.h"

static uint64_t rng = 0x5eed;

static float next_float(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

/* Fills a tensor of the given type and shape with small random values. */
static void *fill(uint32_t type, const int64_t *ne, uint32_t n_dims, uint64_t nbytes) {
    uint8_t *buf = calloc(1, nbytes ? nbytes : 1);
    if (!buf) return NULL;
    int64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; d++) rows *= ne[d];
    const int64_t cols = ne[0];
    float *row = malloc((size_t)cols * sizeof *row);
    if (!row) {
        free(buf);
        return NULL;
    }
    const uint64_t row_bytes = nbytes / (uint64_t)rows;
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *dst = buf + (uint64_t)r * row_bytes;
        for (int64_t k = 0; k < cols; k++)
            row[k] = 0.5f * next_float() + (type == QK_GGML_Q8_0 ? 0 : 1);
        for (int64_t k = 0; k < cols; k++) {
            if (type == QK_GGML_F32) {
                memcpy(dst + 4 * k, &row[k], 4);
            } else if (type == QK_GGML_F16) {
                uint16_t h = qk_fp32_to_fp16(row[k]);
                memcpy(dst + 2 * k, &h, 2);
            } else if (type == QK_GGML_BF16) {
                uint32_t u;
                memcpy(&u, &row[k], 4);
                uint16_t h = (uint16_t)(u >> 16);
                memcpy(dst + 2 * k, &h, 2);
            }
        }
        if (type == QK_GGML_Q8_0) qk_q8_0_quantize_row(row, dst, (int)cols);
    }
    free(row);
    return buf;
}

typedef struct {
    const char *name;
    uint32_t n_dims, type;
    int64_t ne[4];
} tdesc;

static int write_file(const char *path, qk_gguf_writer *w, const tdesc *t, int n) {
    qk_error err;
    for (int i = 0; i < n; i++)
        qk_gguf_writer_tensor(w, t[i].name, t[i].n_dims, t[i].ne, t[i].type);
    FILE *f = fopen(path, "wb");
    if (!f) return fprintf(stderr, "seedgen: %s: %s\n", path, strerror(errno)), -1;
    int rc = qk_gguf_writer_write_header(w, f, &err);
    for (int i = 0; rc == 0 && i < n; i++) {
        void *data = fill(t[i].type, t[i].ne, t[i].n_dims, qk_gguf_writer_tensor_nbytes(w, i));
        rc = data ? qk_gguf_writer_write_data(w, f, i, data, &err) : -1;
        free(data);
    }
    if (fclose(f) != 0) rc = -1;
    if (rc) fprintf(stderr, "seedgen: %s: %s\n", path, err.msg);
    qk_gguf_writer_free(w);
    return rc;
}

/* One layer, E = 32, two heads of 16 (no key_length: head_dim = E / n_head), one KV head, F = 32,
 * context 8, Dense 32. Norms in F32, F16 and BF16; the embedding in F16 or Q8_0. */
static int micro(const char *path, uint32_t embd_type, int pattern_array) {
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_str(w, "general.architecture", "gemma-embedding");
    qk_gguf_writer_kv_str(w, "general.name", "micro");
    qk_gguf_writer_kv_u32(w, "gemma-embedding.context_length", 8);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.embedding_length", 32);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.block_count", 1);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.feed_forward_length", 32);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.head_count", 2);
    qk_gguf_writer_kv_u16(w, "gemma-embedding.attention.head_count_kv", 1);
    qk_gguf_writer_kv_f32(w, "gemma-embedding.attention.layer_norm_rms_epsilon", 1e-6f);
    qk_gguf_writer_kv_i32(w, "gemma-embedding.attention.sliding_window", 4);
    qk_gguf_writer_kv_f64(w, "gemma-embedding.rope.freq_base", 1e6);
    qk_gguf_writer_kv_u64(w, "gemma-embedding.rope.dimension_count", 16);
    qk_gguf_writer_kv_u8(w, "gemma-embedding.pooling_type", 1);
    if (pattern_array) {
        const uint8_t pattern[1] = {1};
        qk_gguf_writer_kv_arr(w, "gemma-embedding.attention.sliding_window_pattern", QK_GGUF_BOOL,
                              pattern, 1);
    } else {
        qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.sliding_window_pattern", 2);
    }
    const tdesc t[] = {
        {"token_embd.weight", 2, embd_type, {32, 16, 1, 1}},
        {"blk.0.attn_norm.weight", 1, QK_GGML_F32, {32, 1, 1, 1}},
        {"blk.0.attn_q.weight", 2, QK_GGML_Q8_0, {32, 32, 1, 1}},
        {"blk.0.attn_k.weight", 2, QK_GGML_Q8_0, {32, 16, 1, 1}},
        {"blk.0.attn_v.weight", 2, QK_GGML_Q8_0, {32, 16, 1, 1}},
        {"blk.0.attn_q_norm.weight", 1, QK_GGML_F16, {16, 1, 1, 1}},
        {"blk.0.attn_k_norm.weight", 1, QK_GGML_BF16, {16, 1, 1, 1}},
        {"blk.0.attn_output.weight", 2, QK_GGML_Q8_0, {32, 32, 1, 1}},
        {"blk.0.post_attention_norm.weight", 1, QK_GGML_F32, {32, 1, 1, 1}},
        {"blk.0.ffn_norm.weight", 1, QK_GGML_F32, {32, 1, 1, 1}},
        {"blk.0.ffn_gate.weight", 2, QK_GGML_Q8_0, {32, 32, 1, 1}},
        {"blk.0.ffn_up.weight", 2, QK_GGML_Q8_0, {32, 32, 1, 1}},
        {"blk.0.ffn_down.weight", 2, QK_GGML_Q8_0, {32, 32, 1, 1}},
        {"blk.0.post_ffw_norm.weight", 1, QK_GGML_F32, {32, 1, 1, 1}},
        {"output_norm.weight", 1, QK_GGML_F32, {32, 1, 1, 1}},
        {"dense_2.weight", 2, QK_GGML_Q8_0, {32, 32, 1, 1}},
        {"dense_3.weight", 2, QK_GGML_Q8_0, {32, 32, 1, 1}},
    };
    return write_file(path, w, t, (int)(sizeof t / sizeof t[0]));
}

/* Every metadata type, both array kinds, every tensor type, 3-D and 4-D shapes, alignment 64. */
static int all_types(const char *path) {
    qk_gguf_writer *w = qk_gguf_writer_new(64);
    qk_gguf_writer_kv_u8(w, "t.u8", 200);
    qk_gguf_writer_kv_i8(w, "t.i8", -5);
    qk_gguf_writer_kv_u16(w, "t.u16", 60000);
    qk_gguf_writer_kv_i16(w, "t.i16", -30000);
    qk_gguf_writer_kv_u32(w, "t.u32", 4000000000u);
    qk_gguf_writer_kv_i32(w, "t.i32", -7);
    qk_gguf_writer_kv_f32(w, "t.f32", 1.5f);
    qk_gguf_writer_kv_bool(w, "t.bool", 1);
    qk_gguf_writer_kv_str(w, "t.str", "hello");
    qk_gguf_writer_kv_u64(w, "t.u64", UINT64_C(1) << 40);
    qk_gguf_writer_kv_i64(w, "t.i64", -(INT64_C(1) << 40));
    qk_gguf_writer_kv_f64(w, "t.f64", 1e300);
    const int32_t ints[3] = {1, -2, 3};
    const uint8_t bools[3] = {0, 1, 1};
    const double dbl[2] = {0.5, -0.25};
    const char *const strs[3] = {"a", "", "ccc"};
    qk_gguf_writer_kv_arr(w, "t.arr.i32", QK_GGUF_INT32, ints, 3);
    qk_gguf_writer_kv_arr(w, "t.arr.bool", QK_GGUF_BOOL, bools, 3);
    qk_gguf_writer_kv_arr(w, "t.arr.f64", QK_GGUF_FLOAT64, dbl, 2);
    qk_gguf_writer_kv_arr(w, "t.arr.empty", QK_GGUF_UINT8, NULL, 0);
    qk_gguf_writer_kv_arr_str(w, "t.arr.str", strs, 3);
    qk_gguf_writer_kv_str(w, "general.architecture", "gemma-embedding");
    const tdesc t[] = {
        {"f32", 1, QK_GGML_F32, {3, 1, 1, 1}},
        {"f16", 3, QK_GGML_F16, {2, 3, 2, 1}},
        {"bf16", 4, QK_GGML_BF16, {2, 2, 2, 2}},
        {"q8_0", 2, QK_GGML_Q8_0, {64, 2, 1, 1}},
    };
    return write_file(path, w, t, (int)(sizeof t / sizeof t[0]));
}

static int gguf_seeds(const char *dir) {
    char path[4096];
    qk_error err;
    const qk_synth_preset *tiny = qk_synth_find_preset("tiny");
    int rc = 0;
    snprintf(path, sizeof path, "%s/synth-tiny.gguf", dir);
    if (!tiny || qk_synth_write(path, tiny, 1, 1, &err))
        rc = -1, fprintf(stderr, "seedgen: %s: %s\n", path, tiny ? err.msg : "no tiny preset");
    snprintf(path, sizeof path, "%s/synth-tiny-nodense.gguf", dir);
    if (tiny && qk_synth_write(path, tiny, 2, 0, &err))
        rc = -1, fprintf(stderr, "seedgen: %s: %s\n", path, err.msg);
    snprintf(path, sizeof path, "%s/micro-q8.gguf", dir);
    rc |= micro(path, QK_GGML_Q8_0, 1);
    snprintf(path, sizeof path, "%s/micro-f16.gguf", dir);
    rc |= micro(path, QK_GGML_F16, 0);
    snprintf(path, sizeof path, "%s/all-types.gguf", dir);
    rc |= all_types(path);
    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    rc |= write_file(path, qk_gguf_writer_new(32), NULL, 0);
    return rc;
}

static const char *const experiments[] = {
    "[experiment]\nmodel = synthetic:tiny\n",
    "; every key\n[experiment]\nname = every-key_1.0\ndescription = all of them ; a comment\n"
    "model = synthetic:embeddinggemma-300m-nodense\nrun = forward, matmul\n\n[sweep]\n"
    "kernels = parse-per-block, precached-scales, alloc-copy, zero-copy\n"
    "isas = scalar, avx2, avx512vnni\nthreads = 1, 2, max\nseq_len = 1, 16, 2048\n"
    "act_scale = token, block\nbinding = compact, scatter, none\npath = int8, fp32\n\n"
    "[measure]\nrepetitions = 10\nwarmups = 0\nquick_repetitions = 2\n"
    "counters = PAPI_TOT_CYC, perf::CYCLES\nprofile = yes\naccuracy = off\nnoisy_cv = 0.1\n"
    "seed = 0xdeadbeef\n",
    "[experiment]\nmodel: synthetic:tiny\nrun = matmul\n[sweep]\nkernels = all\nisas = all\n"
    "threads = all\n[measure]\ncounters = none\nprofile = false\naccuracy = 1\nseed = 42\n",
    "  [experiment]  ; indented\n  model = synthetic:embeddinggemma-300m\n# hash comment\n"
    "[measure]\ncounters = default\nnoisy_cv = 10\nrepetitions = 100000\n",
    "[sweep]\npath = fp32\nseq_len = 8\n[experiment]\nmodel = synthetic:tiny\nrun = forward\n",
};

static int experiment_seeds(const char *dir) {
    for (size_t i = 0; i < sizeof experiments / sizeof experiments[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/gen-%zu.ini", dir, i);
        FILE *f = fopen(path, "w");
        if (!f || fputs(experiments[i], f) < 0 || fclose(f) != 0)
            return fprintf(stderr, "seedgen: %s: %s\n", path, strerror(errno)), -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "gguf") && strcmp(argv[1], "experiment"))) {
        fprintf(stderr, "usage: seedgen gguf|experiment DIR\n");
        return 2;
    }
    return (strcmp(argv[1], "gguf") == 0 ? gguf_seeds(argv[2]) : experiment_seeds(argv[2])) ? 1 : 0;
}
