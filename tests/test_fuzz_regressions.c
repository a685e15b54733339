/* Regression tests for what the fuzz targets (fuzz/) found. Each test names the crash input it
 * stands for (build/fuzz/crashes-TARGET/crash-SHA1 when it was found) and what was wrong.
 *
 * Inputs that are small are kept in fuzz/regressions/ and read from there (tests of the results
 * target). A test whose fix is still pending in a file the fuzz work does not own is disabled
 * (.disabled = true, with the crash named beside it) and its crash is listed in
 * fuzz/known-crashes: enable the test and delete the entry with the fix. The model-level findings
 * came from whole models (12 KB and 374 KB: a seed model with a few bytes inserted into its tensor
 * data), so those tests rebuild the same situation with the GGUF writer instead: the one-layer
 * micro model of fuzz/seedgen.c with the damaged value put back in place. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/results.h"
#include "kernels/kernel.h"
#include "model/gemma.h"
#include "model/gguf.h"
#include "model/q8_0.h"
#include "report/report.h"

#define REGRESSIONS QK_SOURCE_DIR "/fuzz/regressions/"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-fuzzreg-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

TestSuite(fuzz_gguf, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------- the micro model */

typedef struct {
    const char *name;
    uint32_t n_dims, type;
    int64_t ne[2];
} tdesc;

/* E = 32, one layer, two heads of 16, one KV head, F = 32, context 8, vocabulary 16, no Dense. */
static const tdesc micro[] = {
    {"token_embd.weight", 2, QK_GGML_F16, {32, 16}},
    {"blk.0.attn_norm.weight", 1, QK_GGML_F32, {32, 1}},
    {"blk.0.attn_q.weight", 2, QK_GGML_Q8_0, {32, 32}},
    {"blk.0.attn_k.weight", 2, QK_GGML_Q8_0, {32, 16}},
    {"blk.0.attn_v.weight", 2, QK_GGML_Q8_0, {32, 16}},
    {"blk.0.attn_q_norm.weight", 1, QK_GGML_F32, {16, 1}},
    {"blk.0.attn_k_norm.weight", 1, QK_GGML_F32, {16, 1}},
    {"blk.0.attn_output.weight", 2, QK_GGML_Q8_0, {32, 32}},
    {"blk.0.post_attention_norm.weight", 1, QK_GGML_F32, {32, 1}},
    {"blk.0.ffn_norm.weight", 1, QK_GGML_F32, {32, 1}},
    {"blk.0.ffn_gate.weight", 2, QK_GGML_Q8_0, {32, 32}},
    {"blk.0.ffn_up.weight", 2, QK_GGML_Q8_0, {32, 32}},
    {"blk.0.ffn_down.weight", 2, QK_GGML_Q8_0, {32, 32}},
    {"blk.0.post_ffw_norm.weight", 1, QK_GGML_F32, {32, 1}},
    {"output_norm.weight", 1, QK_GGML_F32, {32, 1}},
};
#define N_MICRO ((int)(sizeof micro / sizeof micro[0]))

/* Called with each tensor's data before it is written, to damage it. */
typedef void (*patch_fn)(const char *name, uint8_t *data, uint64_t nbytes);

/* Fills a tensor with small values (weights about +-0.3, norms about 1). */
static void fill(const tdesc *t, uint8_t *data) {
    const int cols = (int)t->ne[0], rows = (int)t->ne[1];
    float row[64];
    uint32_t s = 12345;
    for (int r = 0; r < rows; r++) {
        for (int k = 0; k < cols; k++) {
            s = s * 1103515245u + 12345u;
            row[k] = (t->n_dims == 1 ? 1.0f : 0.0f) + 0.3f * ((float)(s >> 16) / 65536.0f - 0.5f);
        }
        if (t->type == QK_GGML_F32) {
            memcpy(data + (size_t)r * cols * 4, row, (size_t)cols * 4);
        } else if (t->type == QK_GGML_F16) {
            for (int k = 0; k < cols; k++) {
                uint16_t h = qk_fp32_to_fp16(row[k]);
                memcpy(data + ((size_t)r * cols + k) * 2, &h, 2);
            }
        } else {
            qk_q8_0_quantize_row(row, data + (size_t)r * (cols / 32) * 34, cols);
        }
    }
}

static const char *write_micro(const char *file, patch_fn patch) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_str(w, "general.architecture", "gemma-embedding");
    qk_gguf_writer_kv_u32(w, "gemma-embedding.context_length", 8);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.embedding_length", 32);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.block_count", 1);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.feed_forward_length", 32);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.head_count", 2);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.head_count_kv", 1);
    qk_gguf_writer_kv_f32(w, "gemma-embedding.attention.layer_norm_rms_epsilon", 1e-6f);
    qk_gguf_writer_kv_u32(w, "gemma-embedding.attention.sliding_window", 4);
    for (int i = 0; i < N_MICRO; i++)
        qk_gguf_writer_tensor(w, micro[i].name, micro[i].n_dims, micro[i].ne, micro[i].type);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    qk_error err;
    cr_assert_eq(qk_gguf_writer_write_header(w, f, &err), 0, "%s", err.msg);
    for (int i = 0; i < N_MICRO; i++) {
        const uint64_t n = qk_gguf_writer_tensor_nbytes(w, i);
        uint8_t *data = calloc(1, n);
        cr_assert(data);
        fill(&micro[i], data);
        if (patch) patch(micro[i].name, data, n);
        cr_assert_eq(qk_gguf_writer_write_data(w, f, i, data, &err), 0, "%s", err.msg);
        free(data);
    }
    cr_assert_eq(fclose(f), 0);
    qk_gguf_writer_free(w);
    return path;
}

/* Embeds tokens 2, 5, 15 on the INT8 path (both activation granularities) and the FP32 path, as the
 * fuzz target did (under clang's UBSan the bug aborted it; GCC's -fsanitize=undefined, the one the
 * CMake build uses, does not include float-cast-overflow). *n_visible counts the paths on which the
 * damage shows: an error, or a NaN in the embedding. A damaged model must not give a plausible
 * finite embedding on one path and NaN on another, nor reach undefined behaviour. */
static void embed_everywhere(const char *path, int *n_visible) {
    const qk_kernel *k = qk_kernel_find("zero-copy", "scalar");
    cr_assert(k);
    const qk_gemma_options opts[3] = {{QK_PATH_INT8, k, QK_ACT_PER_TOKEN},
                                      {QK_PATH_INT8, k, QK_ACT_PER_BLOCK},
                                      {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN}};
    *n_visible = 0;
    for (int i = 0; i < 3; i++) {
        qk_gemma_model *m;
        qk_error err;
        cr_assert_eq(qk_gemma_load(&m, path, &opts[i], &err), 0, "%s", err.msg);
        const int32_t tokens[3] = {2, 5, 15};
        float out[32];
        if (qk_gemma_embed(m, tokens, 3, out, NULL, &err) == 0) {
            for (int e = 0; e < 32; e++)
                if (isnan(out[e])) {
                    (*n_visible)++;
                    break;
                }
        } else {
            (*n_visible)++;
        }
        qk_gemma_free(m);
    }
}

Test(fuzz_gguf, intact_micro_model_embeds) {
    int n_visible;
    embed_everywhere(write_micro("ok.gguf", NULL), &n_visible);
    cr_expect_eq(n_visible, 0);
}

/* crash-bb0c4d4fd3e50c1b35e4e63af8ac23841327b2fd (fuzz_gguf, 12165 bytes): five 0xff bytes inserted
 * into the F16 token embedding of the micro seed, i.e. F16 NaNs (0xffff) in the rows of the tokens
 * embedded. The NaN hidden state reached qk_quantize_act_token / _block (model/q8_0.c), which
 * converts roundf(NaN) to int8_t: undefined behaviour (UBSan: "nan is outside the range of
 * representable values of type 'signed char'"). */
static void nan_in_embedding(const char *name, uint8_t *data, uint64_t nbytes) {
    (void)nbytes;
    if (strcmp(name, "token_embd.weight")) return;
    for (int row = 0; row < 16; row++) memset(data + (size_t)row * 64 + 6, 0xff, 5);
}

Test(fuzz_gguf, f16_nan_in_the_token_embedding) {
    int n_visible;
    embed_everywhere(write_micro("nan-embd.gguf", nan_in_embedding), &n_visible);
    cr_expect_eq(n_visible, 3, "the damage shows on %d of 3 paths", n_visible);
}

/* gguf-nan-quantize (fuzz_gguf, 374241 bytes): one byte inserted into the data of the tiny model
 * without Dense layers, shifting a Q8_0 block so that its fp16 scale became NaN: the attention
 * output then held NaNs, and quantizing it for attn_output was the same undefined conversion. */
static void nan_scale_in_attn_q(const char *name, uint8_t *data, uint64_t nbytes) {
    (void)nbytes;
    if (strcmp(name, "blk.0.attn_q.weight")) return;
    const uint16_t nan = 0x7e00;
    memcpy(data, &nan, 2); /* the scale of row 0's first block */
}

Test(fuzz_gguf, q8_0_block_scale_nan) {
    int n_visible;
    embed_everywhere(write_micro("nan-scale.gguf", nan_scale_in_attn_q), &n_visible);
    cr_expect_eq(n_visible, 3, "the damage shows on %d of 3 paths", n_visible);
}

/* The same conversion without any NaN in the file: finite weights large enough to overflow float
 * (norm weights of 3e38) give inf activations, and amax = inf makes the quantizer compute inf * 0.
 * So the fix belongs in the quantizer, not in a load-time scan of the weights. */
static void huge_norm(const char *name, uint8_t *data, uint64_t nbytes) {
    if (strcmp(name, "blk.0.attn_norm.weight")) return;
    const float big = 3e38f;
    for (uint64_t i = 0; i + 4 <= nbytes; i += 4) memcpy(data + i, &big, 4);
}

Test(fuzz_gguf, finite_weights_overflowing_to_inf) {
    int n_visible;
    embed_everywhere(write_micro("huge.gguf", huge_norm), &n_visible);
    cr_expect_eq(n_visible, 3, "the damage shows on %d of 3 paths", n_visible);
}

/* ---------------------------------------------------------------- results files and the report */

TestSuite(fuzz_results, .init = setup, .fini = teardown, .timeout = 60);

/* Loads fuzz/regressions/NAME as fuzz_results does and runs the report on it (as a results file,
 * then as results plus roofline file) into the test's folder, with an empty scripts folder (no
 * gnuplot). The report must be written, and no table cell may hold INT_MIN: what x86-64 gives for
 * a NaN or out-of-range double converted to int, when UBSan is not there to stop the conversion. */
static void report_on(const char *name) {
    char path[512], scripts[512], md[512];
    snprintf(path, sizeof path, REGRESSIONS "%s", name);
    json_t *doc = NULL;
    qk_error err;
    cr_assert_eq(qk_results_load(path, &doc, &err), 0, "%s: %s", name, err.msg);
    /* as fuzz_results does: the file is also tried as a roofline file when it holds one */
    const int passes = json_is_object(json_object_get(doc, "roofline")) ? 2 : 1;
    json_decref(doc);
    snprintf(scripts, sizeof scripts, "%s/scripts", dir);
    cr_assert_eq(mkdir(scripts, 0700), 0);
    const char *const files[2] = {path, path};
    for (int with_roofline = 0; with_roofline < passes; with_roofline++) {
        qk_report_options o = {files, 1 + with_roofline, files, with_roofline,
                               dir,   scripts,           NULL,  NULL};
        qk_report_outcome res;
        cr_assert_eq(qk_report_generate(&o, &res, &err), 0, "%s: %s", name, err.msg);
        snprintf(md, sizeof md, "%s/REPORT.md", dir);
        FILE *f = fopen(md, "r");
        cr_assert(f);
        char line[4096];
        while (fgets(line, sizeof line, f))
            cr_expect(!strstr(line, "-2147483648"), "%s: a cell holds INT_MIN: %s", name, line);
        fclose(f);
    }
    rmdir(scripts);
}

/* fuzz_results, first found as crash-62a1fa04972ffe8d64d4590b4a71876032c2806b (a mutation of
 * tests/data/results-kernels.json); fuzz/regressions/results-kernels-no-group.json is the smallest
 * document that does the same: a forward INT8 median of a packed kernel (gemm) with no "group".
 * report/kernels.c converts qk_rj_num(b, "group") (NAN when absent) to int: undefined behaviour
 * (UBSan: "nan is outside the range of representable values of type 'int'", report/kernels.c:132
 * in qk_report_kernels_section). Fixed: counts are read through the range-checked qk_rj_int
 * (report/json.c), and such a record is not a usable median. */
Test(fuzz_results, report_kernels_group_nan) {
    report_on("results-kernels-no-group.json");
}

/* The same conversion with a "group" of 1e300 (report/kernels.c:132). Fixed likewise. */
Test(fuzz_results, report_kernels_group_huge) {
    report_on("results-kernels-huge-group.json");
}

/* The same conversion in the table row: a packed kernel's median with a group but no seq_len and
 * no threads (report/kernels.c:72, kernel_row; also amdahl_row). Fixed likewise. */
Test(fuzz_results, report_kernels_row_no_seq_len) {
    report_on("results-kernels-no-seq-len.json");
}

/* The same conversion in the llama.cpp peer section: a peer median (path llama.cpp) with no
 * threads and no seq_len (report/peer.c:51, peer_row). Fixed likewise. */
Test(fuzz_results, report_peer_row_no_threads) {
    report_on("results-peer-no-threads.json");
}
