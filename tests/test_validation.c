/* Model validation beyond the format: GGUF files that parse but are wrong for the architecture are
 * refused by qk_gemma_load with a message naming the tensor or key; bad inputs to qk_gemma_embed
 * (token ids out of range, empty sequences, sequences longer than the context) get clear errors;
 * the scratch limit refuses before allocating; and headers claiming absurd counts or sizes are
 * refused at once, with no allocation larger than the file.
 *
 * Each bad model is the synthetic tiny preset (written by qk_synth_write, read back with the GGUF
 * reader) re-written with the GGUF writer with one change: a key dropped or set, a tensor dropped,
 * reshaped or retyped (changed tensors get zero data of their new size). */
#define _GNU_SOURCE /* __libc_malloc and friends */
#include <criterion/criterion.h>
#include <dirent.h>
#include <malloc.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernel.h"
#include "model/gemma.h"
#include "model/gguf.h"
#include "model/synth.h"

/* ---------------------------------------------------------------- allocation counter
 * Counts what malloc/calloc/realloc are asked for between counting_begin() and counting_end(): the
 * largest single request and the sum of all. Only without AddressSanitizer (which owns malloc);
 * under ASan an absurd allocation aborts the test anyway (allocation-size-too-big). */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_COUNTER 0
#else
#define HAVE_COUNTER 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static atomic_int counting;
static atomic_size_t alloc_max, alloc_sum;

static void note(size_t n) {
    if (!atomic_load(&counting)) return;
    atomic_fetch_add(&alloc_sum, n);
    size_t m = atomic_load(&alloc_max);
    while (n > m && !atomic_compare_exchange_weak(&alloc_max, &m, n)) {
    }
}

void *malloc(size_t n) {
    note(n);
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
    note(n * size);
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
    note(n);
    return __libc_realloc(p, n);
}
void free(void *p) {
    __libc_free(p);
}
#endif

static void counting_begin(void) {
#if HAVE_COUNTER
    atomic_store(&alloc_max, 0);
    atomic_store(&alloc_sum, 0);
    atomic_store(&counting, 1);
#endif
}

static void counting_end(size_t *max, size_t *sum) {
#if HAVE_COUNTER
    atomic_store(&counting, 0);
    *max = atomic_load(&alloc_max);
    *sum = atomic_load(&alloc_sum);
#else
    *max = *sum = 0;
#endif
}

/* ---------------------------------------------------------------- temporary folder, tiny model */

static char dir[64], tiny[128];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-validation-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(tiny, sizeof tiny, "%s/tiny.gguf", dir);
    qk_error err;
    cr_assert_eq(qk_synth_write(tiny, qk_synth_find_preset("tiny"), 1, 1, &err), 0, "%s", err.msg);
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

TestSuite(validation, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(embed_input, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(scratch_limit, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(absurd_header, .init = setup, .fini = teardown, .timeout = 5);
TestSuite(nonfinite, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------- rewriting a model */

enum { KEEP = 0, DROP, SET_U32, SET_F32, SET_STR };

typedef struct {
    const char *key;
    int action;
    uint32_t u;
    float f;
    const char *s;
} kv_edit;

typedef struct {
    const char *name;
    int drop;
    uint32_t n_dims; /* 0: keep the shape */
    int64_t ne[4];
    int retype;
    uint32_t type;
} tensor_edit;

typedef struct {
    kv_edit kv[4];
    tensor_edit t[3];
} edits;

static const kv_edit *find_kv_edit(const edits *e, const char *key) {
    for (int i = 0; i < 4; i++)
        if (e->kv[i].key && strcmp(e->kv[i].key, key) == 0) return &e->kv[i];
    return NULL;
}

static const tensor_edit *find_tensor_edit(const edits *e, const char *name) {
    for (int i = 0; i < 3; i++)
        if (e->t[i].name && strcmp(e->t[i].name, name) == 0) return &e->t[i];
    return NULL;
}

static char *cstr(qk_str s) {
    char *c = malloc(s.len + 1);
    cr_assert(c);
    memcpy(c, s.ptr, s.len);
    c[s.len] = 0;
    return c;
}

static void put_edit(qk_gguf_writer *w, const kv_edit *k) {
    if (k->action == SET_U32) qk_gguf_writer_kv_u32(w, k->key, k->u);
    if (k->action == SET_F32) qk_gguf_writer_kv_f32(w, k->key, k->f);
    if (k->action == SET_STR) qk_gguf_writer_kv_str(w, k->key, k->s);
}

static void copy_kv(qk_gguf_writer *w, const qk_gguf_kv *kv, const char *key) {
    const uint8_t *p = kv->value;
    switch (kv->type) {
    case QK_GGUF_UINT8:
        qk_gguf_writer_kv_u8(w, key, p[0]);
        break;
    case QK_GGUF_INT8:
        qk_gguf_writer_kv_i8(w, key, (int8_t)p[0]);
        break;
    case QK_GGUF_BOOL:
        qk_gguf_writer_kv_bool(w, key, p[0]);
        break;
    case QK_GGUF_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        qk_gguf_writer_kv_u16(w, key, v);
        break;
    }
    case QK_GGUF_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        qk_gguf_writer_kv_i16(w, key, v);
        break;
    }
    case QK_GGUF_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        qk_gguf_writer_kv_u32(w, key, v);
        break;
    }
    case QK_GGUF_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        qk_gguf_writer_kv_i32(w, key, v);
        break;
    }
    case QK_GGUF_FLOAT32: {
        float v;
        memcpy(&v, p, 4);
        qk_gguf_writer_kv_f32(w, key, v);
        break;
    }
    case QK_GGUF_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        qk_gguf_writer_kv_u64(w, key, v);
        break;
    }
    case QK_GGUF_INT64: {
        int64_t v;
        memcpy(&v, p, 8);
        qk_gguf_writer_kv_i64(w, key, v);
        break;
    }
    case QK_GGUF_FLOAT64: {
        double v;
        memcpy(&v, p, 8);
        qk_gguf_writer_kv_f64(w, key, v);
        break;
    }
    case QK_GGUF_STRING: {
        const uint8_t *cursor = p;
        char *v = cstr(qk_gguf_arr_str_next(&cursor));
        qk_gguf_writer_kv_str(w, key, v);
        free(v);
        break;
    }
    case QK_GGUF_ARRAY:
        if (kv->arr_type != QK_GGUF_STRING) {
            qk_gguf_writer_kv_arr(w, key, kv->arr_type, p, kv->arr_n);
        } else {
            char **v = calloc(kv->arr_n + 1, sizeof *v);
            cr_assert(v);
            const uint8_t *cursor = p;
            for (uint64_t i = 0; i < kv->arr_n; i++) v[i] = cstr(qk_gguf_arr_str_next(&cursor));
            qk_gguf_writer_kv_arr_str(w, key, (const char *const *)v, kv->arr_n);
            for (uint64_t i = 0; i < kv->arr_n; i++) free(v[i]);
            free(v);
        }
        break;
    }
}

/* Writes DIR/NAME from the tiny model with the edits applied; returns the path (static buffer). */
static const char *rewrite(const char *name, const edits *e) {
    static char out[256];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    qk_gguf g;
    qk_error err;
    cr_assert_eq(qk_gguf_open(&g, tiny, &err), 0, "%s", err.msg);
    qk_gguf_writer *w = qk_gguf_writer_new(g.alignment);
    for (uint64_t i = 0; i < g.n_kv; i++) {
        char *key = cstr(g.kv[i].key);
        const kv_edit *k = find_kv_edit(e, key);
        if (strcmp(key, "general.alignment") == 0) {
            /* written by the writer */
        } else if (k) {
            put_edit(w, k);
        } else {
            copy_kv(w, &g.kv[i], key);
        }
        free(key);
    }
    for (int i = 0; i < 4; i++) /* keys set that the model did not have */
        if (e->kv[i].key && e->kv[i].action != DROP && !qk_gguf_find_kv(&g, e->kv[i].key))
            put_edit(w, &e->kv[i]);
    const qk_gguf_tensor *src[512];
    int n = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        char *tname = cstr(g.tensors[i].name);
        const tensor_edit *t = find_tensor_edit(e, tname);
        if (!(t && t->drop)) {
            const qk_gguf_tensor *s = &g.tensors[i];
            uint32_t n_dims = t && t->n_dims ? t->n_dims : s->n_dims;
            const int64_t *ne = t && t->n_dims ? t->ne : s->ne;
            uint32_t type = t && t->retype ? t->type : s->type;
            cr_assert_geq(qk_gguf_writer_tensor(w, tname, n_dims, ne, type), 0);
            src[n++] = s;
        }
        free(tname);
    }
    FILE *f = fopen(out, "wb");
    cr_assert(f);
    cr_assert_eq(qk_gguf_writer_write_header(w, f, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        const uint64_t nbytes = qk_gguf_writer_tensor_nbytes(w, i);
        const int same = nbytes == src[i]->nbytes;
        void *zero = same ? NULL : calloc(1, nbytes);
        cr_assert(same || zero);
        cr_assert_eq(qk_gguf_writer_write_data(w, f, i, same ? src[i]->data : zero, &err), 0, "%s",
                     err.msg);
        free(zero);
    }
    cr_assert_eq(fclose(f), 0);
    qk_gguf_writer_free(w);
    qk_gguf_close(&g);
    return out;
}

static const qk_gemma_options *int8_opts(void) {
    static qk_gemma_options o;
    o = (qk_gemma_options){QK_PATH_INT8, qk_kernel_find("zero-copy", "scalar"), QK_ACT_PER_TOKEN};
    cr_assert(o.kernel);
    return &o;
}

static const qk_gemma_options fp32_opts = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};

/* Loads path on one path; expects a failure whose message holds every non-NULL needle. */
static void expect_refused(const char *path, const qk_gemma_options *opt, const char *n1,
                           const char *n2) {
    qk_gemma_model *m = (void *)1;
    qk_error err = {{0}};
    cr_assert_neq(qk_gemma_load(&m, path, opt, &err), 0, "%s loaded, expected a refusal naming %s",
                  path, n1);
    cr_expect_null(m);
    cr_expect(strstr(err.msg, n1) != NULL, "message '%s' does not name '%s'", err.msg, n1);
    if (n2) cr_expect(strstr(err.msg, n2) != NULL, "message '%s' lacks '%s'", err.msg, n2);
    cr_expect(strstr(err.msg, path) != NULL, "message '%s' does not name the file", err.msg);
}

static void expect_refused_both(const char *path, const char *n1, const char *n2) {
    expect_refused(path, int8_opts(), n1, n2);
    expect_refused(path, &fp32_opts, n1, n2);
}

static void expect_loads(const char *path, const qk_gemma_options *opt) {
    qk_gemma_model *m = NULL;
    qk_error err;
    cr_assert_eq(qk_gemma_load(&m, path, opt, &err), 0, "%s: %s", path, err.msg);
    qk_gemma_free(m);
}

#define K(s) "gemma-embedding." s

/* ---------------------------------------------------------------- well-formed, wrong model */

Test(validation, unchanged_rewrite_loads) {
    const edits e = {0};
    const char *p = rewrite("same.gguf", &e);
    expect_loads(p, int8_opts());
    expect_loads(p, &fp32_opts);
}

Test(validation, missing_layer_tensor) {
    const edits e = {.t = {{.name = "blk.2.ffn_up.weight", .drop = 1}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor blk.2.ffn_up.weight", "missing");
}

Test(validation, missing_norm_tensor) {
    const edits e = {.t = {{.name = "output_norm.weight", .drop = 1}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor output_norm.weight", "missing");
}

Test(validation, missing_token_embedding) {
    const edits e = {.t = {{.name = "token_embd.weight", .drop = 1}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor token_embd.weight", "missing");
}

Test(validation, dense_3_without_dense_2) {
    const edits e = {.t = {{.name = "dense_2.weight", .drop = 1}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor dense_3.weight", "dense_2.weight");
}

Test(validation, dense_2_without_dense_3) {
    const edits e = {.t = {{.name = "dense_3.weight", .drop = 1}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor dense_3.weight", "missing");
}

Test(validation, matrix_with_wrong_rows) {
    const edits e = {.t = {{.name = "blk.0.attn_q.weight", .n_dims = 2, .ne = {64, 96, 1, 1}}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor blk.0.attn_q.weight", "expected [64, 128]");
}

Test(validation, matrix_transposed) {
    const edits e = {.t = {{.name = "blk.1.ffn_down.weight", .n_dims = 2, .ne = {64, 128, 1, 1}}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor blk.1.ffn_down.weight",
                        "expected [128, 64]");
}

Test(validation, matrix_with_a_third_dimension) {
    const edits e = {.t = {{.name = "blk.0.attn_v.weight", .n_dims = 3, .ne = {64, 64, 2, 1}}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor blk.0.attn_v.weight", "shape");
}

Test(validation, norm_of_wrong_length) {
    const edits e = {.t = {{.name = "blk.3.attn_k_norm.weight", .n_dims = 1, .ne = {16, 1, 1, 1}}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor blk.3.attn_k_norm.weight",
                        "expected [32, 1]");
}

Test(validation, token_embedding_of_wrong_width) {
    const edits e = {.t = {{.name = "token_embd.weight", .n_dims = 2, .ne = {96, 512, 1, 1}}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor token_embd.weight", "expected [64, 512]");
}

Test(validation, embedding_length_disagrees_with_tensors) {
    const edits e = {.kv = {{K("embedding_length"), SET_U32, .u = 96}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor token_embd.weight", "expected [96, 512]");
}

Test(validation, more_blocks_than_tensors) {
    const edits e = {.kv = {{K("block_count"), SET_U32, .u = 7}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor blk.6.attn_norm.weight", "missing");
}

Test(validation, f16_matrix_on_the_int8_path) {
    const edits e = {.t = {{.name = "blk.0.ffn_down.weight", .retype = 1, .type = QK_GGML_F16}}};
    const char *p = rewrite("m.gguf", &e);
    expect_refused(p, int8_opts(), "tensor blk.0.ffn_down.weight", "is F16");
    expect_refused(p, int8_opts(), "zero-copy/scalar", "needs Q8_0");
    expect_loads(p, &fp32_opts); /* the FP32 path dequantises any type */
}

Test(validation, bf16_dense_matrix_on_the_int8_path) {
    const edits e = {.t = {{.name = "dense_3.weight", .retype = 1, .type = QK_GGML_BF16}}};
    const char *p = rewrite("m.gguf", &e);
    expect_refused(p, int8_opts(), "tensor dense_3.weight", "is BF16");
    expect_loads(p, &fp32_opts);
}

Test(validation, q8_0_norm) {
    const edits e = {.t = {{.name = "blk.4.ffn_norm.weight", .retype = 1, .type = QK_GGML_Q8_0}}};
    expect_refused_both(rewrite("m.gguf", &e), "tensor blk.4.ffn_norm.weight", "is Q8_0");
}

Test(validation, head_count_does_not_divide_width) {
    /* without key_length the head dimension is embedding_length / head_count */
    const edits e = {.kv = {{K("attention.key_length"), DROP},
                            {K("attention.value_length"), DROP},
                            {K("attention.head_count"), SET_U32, .u = 3},
                            {K("attention.head_count_kv"), SET_U32, .u = 1}}};
    expect_refused_both(rewrite("m.gguf", &e), "key " K("attention.head_count") " = 3",
                        "does not divide " K("embedding_length") " = 64");
}

Test(validation, head_count_kv_does_not_divide_head_count) {
    const edits e = {.kv = {{K("attention.head_count_kv"), SET_U32, .u = 3}}};
    expect_refused_both(rewrite("m.gguf", &e), "key " K("attention.head_count_kv") " = 3",
                        K("attention.head_count") " = 4");
}

Test(validation, head_count_kv_zero) {
    const edits e = {.kv = {{K("attention.head_count_kv"), SET_U32, .u = 0}}};
    expect_refused_both(rewrite("m.gguf", &e), "key " K("attention.head_count_kv") " = 0", NULL);
}

Test(validation, key_length_odd) {
    const edits e = {.kv = {{K("attention.key_length"), SET_U32, .u = 33},
                            {K("attention.value_length"), SET_U32, .u = 33}}};
    expect_refused_both(rewrite("m.gguf", &e), "key " K("attention.key_length") " = 33", "even");
}

Test(validation, derived_head_dim_odd) {
    /* 64 / 64 heads = 1 */
    const edits e = {.kv = {{K("attention.key_length"), DROP},
                            {K("attention.value_length"), DROP},
                            {K("attention.head_count"), SET_U32, .u = 64},
                            {K("attention.head_count_kv"), SET_U32, .u = 1}}};
    expect_refused_both(rewrite("m.gguf", &e), "head dimension 1", K("attention.head_count"));
}

Test(validation, value_length_differs) {
    const edits e = {.kv = {{K("attention.value_length"), SET_U32, .u = 16}}};
    expect_refused_both(rewrite("m.gguf", &e), "key " K("attention.value_length") " = 16", NULL);
}

Test(validation, rope_dimension_odd_or_too_large) {
    const edits odd = {.kv = {{K("rope.dimension_count"), SET_U32, .u = 31}}};
    expect_refused_both(rewrite("odd.gguf", &odd), "key " K("rope.dimension_count") " = 31", NULL);
    const edits big = {.kv = {{K("rope.dimension_count"), SET_U32, .u = 34}}};
    expect_refused_both(rewrite("big.gguf", &big), "key " K("rope.dimension_count") " = 34", NULL);
    const edits zero = {.kv = {{K("rope.dimension_count"), SET_U32, .u = 0}}};
    expect_refused_both(rewrite("zero.gguf", &zero), "key " K("rope.dimension_count") " = 0", NULL);
}

Test(validation, epsilon_not_positive) {
    const edits zero = {.kv = {{K("attention.layer_norm_rms_epsilon"), SET_F32, .f = 0.0f}}};
    expect_refused_both(rewrite("zero.gguf", &zero), "key " K("attention.layer_norm_rms_epsilon"),
                        "positive and finite");
    const edits nan = {.kv = {{K("attention.layer_norm_rms_epsilon"), SET_F32, .f = NAN}}};
    expect_refused_both(rewrite("nan.gguf", &nan), "key " K("attention.layer_norm_rms_epsilon"),
                        "positive and finite");
}

Test(validation, rope_base_not_positive) {
    const edits neg = {.kv = {{K("rope.freq_base"), SET_F32, .f = -1.0f}}};
    expect_refused_both(rewrite("neg.gguf", &neg), "key " K("rope.freq_base") " = -1", NULL);
    const edits inf = {.kv = {{K("rope.freq_base_swa"), SET_F32, .f = INFINITY}}};
    expect_refused_both(rewrite("inf.gguf", &inf), "key " K("rope.freq_base_swa"), "finite");
}

Test(validation, missing_required_key) {
    const edits e = {.kv = {{K("context_length"), DROP}}};
    expect_refused_both(rewrite("m.gguf", &e), "key '" K("context_length") "'", "not found");
}

Test(validation, key_of_wrong_type) {
    const edits e = {.kv = {{K("feed_forward_length"), SET_STR, .s = "128"}}};
    expect_refused_both(rewrite("m.gguf", &e), "key '" K("feed_forward_length") "'", "STRING");
}

Test(validation, zero_width) {
    const edits e = {.kv = {{K("feed_forward_length"), SET_U32, .u = 0}}};
    expect_refused_both(rewrite("m.gguf", &e), "key " K("feed_forward_length") " = 0", "range");
}

Test(validation, too_many_blocks) {
    const edits e = {.kv = {{K("block_count"), SET_U32, .u = 100000}}};
    expect_refused_both(rewrite("m.gguf", &e), "key " K("block_count") " = 100000", "256");
}

Test(validation, other_architecture) {
    const edits e = {.kv = {{"general.architecture", SET_STR, .s = "llama"}}};
    expect_refused_both(rewrite("m.gguf", &e), "general.architecture is 'llama'", NULL);
}

Test(validation, layer_pattern_too_short) {
    /* written directly: an array of 2 bools for 6 layers (the config is read before any tensor) */
    const uint8_t pattern[2] = {1, 0};
    qk_error err;
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_str(w, "general.architecture", "gemma-embedding");
    qk_gguf_writer_kv_u32(w, K("context_length"), 16);
    qk_gguf_writer_kv_u32(w, K("embedding_length"), 64);
    qk_gguf_writer_kv_u32(w, K("block_count"), 6);
    qk_gguf_writer_kv_u32(w, K("feed_forward_length"), 128);
    qk_gguf_writer_kv_u32(w, K("attention.head_count"), 4);
    qk_gguf_writer_kv_u32(w, K("attention.sliding_window"), 8);
    qk_gguf_writer_kv_f32(w, K("attention.layer_norm_rms_epsilon"), 1e-6f);
    qk_gguf_writer_kv_arr(w, K("attention.sliding_window_pattern"), QK_GGUF_BOOL, pattern, 2);
    const int64_t ne[2] = {64, 8};
    qk_gguf_writer_tensor(w, "token_embd.weight", 2, ne, QK_GGML_F32);
    char path[256];
    snprintf(path, sizeof path, "%s/pattern.gguf", dir);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(qk_gguf_writer_write_header(w, f, &err), 0, "%s", err.msg);
    float zeros[64 * 8] = {0};
    cr_assert_eq(qk_gguf_writer_write_data(w, f, 0, zeros, &err), 0, "%s", err.msg);
    fclose(f);
    qk_gguf_writer_free(w);
    expect_refused_both(path, "key " K("attention.sliding_window_pattern"), "6 bools");
}

/* ---------------------------------------------------------------- metadata against the tensors
 * The one validation pass (qk_gemma_read_config, which the runner calls before anything runs, and
 * every load) checks the keys other readers trust: llama.cpp asserts on the Dense ones. */

static void expect_config_refused(const char *path, const char *n1, const char *n2) {
    qk_gguf g;
    qk_gemma_config c;
    qk_error err = {{0}};
    cr_assert_eq(qk_gguf_open(&g, path, &err), 0, "%s", err.msg);
    const int rc = qk_gemma_read_config(&g, &c, &err);
    qk_gguf_close(&g);
    cr_assert_neq(rc, 0, "%s: configuration accepted, expected a refusal naming %s", path, n1);
    cr_expect(strstr(err.msg, n1) != NULL, "message '%s' does not name '%s'", err.msg, n1);
    if (n2) cr_expect(strstr(err.msg, n2) != NULL, "message '%s' lacks '%s'", err.msg, n2);
    expect_refused_both(path, n1, n2);
}

Test(validation, dense_feat_in_disagrees_with_the_tensor) {
    const edits e = {.kv = {{K("dense_2_feat_in"), SET_U32, .u = 96}}};
    expect_config_refused(rewrite("m.gguf", &e), "key " K("dense_2_feat_in") " = 96",
                          "tensor dense_2.weight");
}

Test(validation, dense_feat_out_disagrees_with_the_tensor) {
    const edits e = {.kv = {{K("dense_3_feat_out"), SET_U32, .u = 32}}};
    expect_config_refused(rewrite("m.gguf", &e), "key " K("dense_3_feat_out") " = 32",
                          "tensor dense_3.weight");
    const edits f = {.kv = {{K("dense_2_feat_out"), SET_U32, .u = 100}}};
    expect_config_refused(rewrite("n.gguf", &f), "key " K("dense_2_feat_out") " = 100",
                          "tensor dense_2.weight");
}

Test(validation, dense_keys_without_dense_tensors) {
    const edits e = {
        .t = {{.name = "dense_2.weight", .drop = 1}, {.name = "dense_3.weight", .drop = 1}}};
    expect_config_refused(rewrite("m.gguf", &e), "key " K("dense_2_feat_in"), "dense_2.weight");
}

Test(validation, fewer_blocks_than_tensors) {
    const edits e = {.kv = {{K("block_count"), SET_U32, .u = 5}}};
    expect_config_refused(rewrite("m.gguf", &e), "blk.5.", "key " K("block_count") " = 5");
}

Test(validation, tokenizer_disagrees_with_the_embedding_rows) {
    const edits e = {.t = {{.name = "token_embd.weight", .n_dims = 2, .ne = {64, 100, 1, 1}}}};
    expect_config_refused(rewrite("m.gguf", &e), "key tokenizer.ggml.tokens has 512 entries",
                          "tensor token_embd.weight");
}

Test(validation, special_token_outside_the_vocabulary) {
    const edits e = {.kv = {{"tokenizer.ggml.bos_token_id", SET_U32, .u = 9999}}};
    expect_config_refused(rewrite("m.gguf", &e), "key tokenizer.ggml.bos_token_id = 9999",
                          "token_embd.weight");
}

/* ---------------------------------------------------------------- non-finite values
 * One value of the file made NaN or infinite in place: the forward pass must fail, never give an
 * embedding, and the message names where the first non-finite value appeared. */

/* Copies the tiny model to DIR/NAME and writes `bytes` at byte `at` of tensor `tensor`'s data. */
static const char *damaged(const char *name, const char *tensor, uint64_t at, const void *bytes,
                           size_t n) {
    static char out[256];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    qk_gguf g;
    qk_error err;
    cr_assert_eq(qk_gguf_open(&g, tiny, &err), 0, "%s", err.msg);
    const qk_gguf_tensor *t = qk_gguf_find_tensor(&g, tensor);
    cr_assert(t, "no tensor %s", tensor);
    const uint64_t off = (uint64_t)(t->data - g.map) + at;
    FILE *in = fopen(tiny, "rb"), *o = fopen(out, "wb");
    cr_assert(in && o);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0) cr_assert_eq(fwrite(buf, 1, r, o), r);
    fclose(in);
    cr_assert_eq(fseek(o, (long)off, SEEK_SET), 0);
    cr_assert_eq(fwrite(bytes, 1, n, o), n);
    cr_assert_eq(fclose(o), 0);
    qk_gguf_close(&g);
    return out;
}

static void expect_nonfinite(const char *path, const qk_gemma_options *opt, const int32_t *tokens,
                             int n, const char *n1, const char *n2) {
    qk_gemma_model *m = NULL;
    qk_error err = {{0}};
    cr_assert_eq(qk_gemma_load(&m, path, opt, &err), 0, "%s", err.msg);
    float out[64];
    const int rc = qk_gemma_embed(m, tokens, n, out, NULL, &err);
    cr_expect_neq(rc, 0, "a non-finite embedding was returned as a result");
    cr_expect(strstr(err.msg, "non-finite") && strstr(err.msg, n1), "message '%s' lacks '%s'",
              err.msg, n1);
    if (n2) cr_expect(strstr(err.msg, n2) != NULL, "message '%s' lacks '%s'", err.msg, n2);
    qk_gemma_free(m);
}

static const int32_t seq5[5] = {2, 300, 301, 302, 1};

Test(nonfinite, nan_norm_weight_names_layer_and_operation) {
    const float nan = NAN;
    const char *p =
        damaged("nan-norm.gguf", "blk.1.ffn_norm.weight", 3 * sizeof(float), &nan, sizeof nan);
    expect_nonfinite(p, &fp32_opts, seq5, 5, "layer 1, ffn_norm", "blk.1.ffn_norm.weight");
    expect_nonfinite(p, int8_opts(), seq5, 5, "layer 1, ffn_norm", "blk.1.ffn_norm.weight");
}

Test(nonfinite, nan_fp16_scale_names_the_matmul) {
    const uint16_t nan16 = 0x7e00; /* the scale of block 0 of row 0 */
    const char *p = damaged("nan-scale.gguf", "blk.0.attn_q.weight", 0, &nan16, sizeof nan16);
    expect_nonfinite(p, &fp32_opts, seq5, 5, "layer 0, attn_q matmul", "blk.0.attn_q.weight");
    expect_nonfinite(p, int8_opts(), seq5, 5, "layer 0, attn_q matmul", "blk.0.attn_q.weight");
    const qk_gemma_options parse = {QK_PATH_INT8, qk_kernel_find("parse-per-block", "scalar"),
                                    QK_ACT_PER_BLOCK};
    expect_nonfinite(p, &parse, seq5, 5, "layer 0, attn_q matmul", NULL);
}

Test(nonfinite, infinite_embedding_row_names_the_token) {
    /* token 301's row of token_embd (Q8_0: 2 blocks of 34 bytes per row of 64 values) */
    const uint16_t inf16 = 0x7c00;
    const char *p =
        damaged("inf-row.gguf", "token_embd.weight", 301 * 2 * 34, &inf16, sizeof inf16);
    expect_nonfinite(p, &fp32_opts, seq5, 5, "token embedding lookup", "token 301 at position 2");
    qk_gemma_model *m = NULL;
    qk_error err;
    cr_assert_eq(qk_gemma_load(&m, p, &fp32_opts, &err), 0, "%s", err.msg);
    const int32_t other[3] = {2, 300, 1}; /* a sequence without it is fine */
    float out[64];
    cr_expect_eq(qk_gemma_embed(m, other, 3, out, NULL, &err), 0, "%s", err.msg);
    qk_gemma_free(m);
}

/* ---------------------------------------------------------------- inputs to the forward pass */

static qk_gemma_model *load_tiny(const char *path) {
    qk_gemma_model *m = NULL;
    qk_error err;
    cr_assert_eq(qk_gemma_load(&m, path, int8_opts(), &err), 0, "%s", err.msg);
    return m;
}

Test(embed_input, token_id_out_of_range) {
    qk_gemma_model *m = load_tiny(tiny);
    float out[64];
    qk_error err;
    const int32_t high[3] = {2, 512, 1}; /* the vocabulary is 0..511 */
    cr_assert_neq(qk_gemma_embed(m, high, 3, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "token 512 at position 1") && strstr(err.msg, "vocabulary 0..511"),
              "%s", err.msg);
    const int32_t negative[2] = {-1, 1};
    cr_assert_neq(qk_gemma_embed(m, negative, 2, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "token -1 at position 0") != NULL, "%s", err.msg);
    const int32_t ok[3] = {2, 511, 1};
    cr_expect_eq(qk_gemma_embed(m, ok, 3, out, NULL, &err), 0, "%s", err.msg);
    qk_gemma_free(m);
}

Test(embed_input, vocabulary_smaller_than_a_token_id) {
    /* a model whose vocabulary is 100 tokens: id 100 and above are refused, 99 works (without the
     * tokenizer's 512 tokens, which would disagree with the 100 rows) */
    const edits e = {.kv = {{"tokenizer.ggml.tokens", DROP},
                            {"tokenizer.ggml.scores", DROP},
                            {"tokenizer.ggml.token_type", DROP}},
                     .t = {{.name = "token_embd.weight", .n_dims = 2, .ne = {64, 100, 1, 1}}}};
    qk_gemma_model *m = load_tiny(rewrite("v100.gguf", &e));
    cr_assert_eq(qk_gemma_get_config(m)->n_vocab, 100);
    float out[64];
    qk_error err;
    const int32_t bad[2] = {2, 300};
    cr_assert_neq(qk_gemma_embed(m, bad, 2, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "token 300") && strstr(err.msg, "vocabulary 0..99"), "%s", err.msg);
    const int32_t good[2] = {2, 99};
    cr_expect_eq(qk_gemma_embed(m, good, 2, out, NULL, &err), 0, "%s", err.msg);
    qk_gemma_free(m);
}

Test(embed_input, empty_sequence) {
    qk_gemma_model *m = load_tiny(tiny);
    float out[64];
    qk_error err;
    const int32_t none[1] = {2};
    cr_assert_neq(qk_gemma_embed(m, none, 0, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "empty token sequence") != NULL, "%s", err.msg);
    cr_assert_neq(qk_gemma_embed(m, none, -3, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "empty token sequence") != NULL, "%s", err.msg);
    qk_gemma_free(m);
}

Test(embed_input, longer_than_the_context) {
    const edits e = {.kv = {{K("context_length"), SET_U32, .u = 16}}};
    qk_gemma_model *m = load_tiny(rewrite("ctx16.gguf", &e));
    int32_t tokens[17];
    for (int i = 0; i < 17; i++) tokens[i] = 5 + i;
    float out[64];
    qk_error err;
    cr_assert_neq(qk_gemma_embed(m, tokens, 17, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "sequence of 17 tokens exceeds the model's context of 16"), "%s",
              err.msg);
    cr_assert_neq(qk_gemma_reserve(m, 17, 1, &err), 0);
    cr_expect(strstr(err.msg, "17 tokens") && strstr(err.msg, "1..16"), "%s", err.msg);
    cr_expect_eq(qk_gemma_embed(m, tokens, 16, out, NULL, &err), 0, "%s", err.msg);
    qk_gemma_free(m);
}

/* ---------------------------------------------------------------- scratch limit */

Test(scratch_limit, refuses_before_allocating) {
    qk_gemma_model *m = load_tiny(tiny);
    qk_gemma_set_max_scratch(m, 512u << 10); /* about 100 tokens of the tiny model */
    qk_error err;
    cr_assert_neq(qk_gemma_reserve(m, 2048, 1, &err), 0);
    cr_expect(strstr(err.msg, "scratch for 2048 tokens needs ") &&
                  strstr(err.msg, " MiB, above the limit of 0.5 MiB"),
              "%s", err.msg);
    cr_expect_eq(qk_gemma_get_memory(m).scratch_bytes, 0, "nothing allocated");

    /* a small sequence fits; a refused larger one leaves its buffers in place */
    int32_t tokens[200];
    for (int i = 0; i < 200; i++) tokens[i] = 3 + i;
    float out[64];
    cr_assert_eq(qk_gemma_embed(m, tokens, 8, out, NULL, &err), 0, "%s", err.msg);
    const uint64_t small = qk_gemma_get_memory(m).scratch_bytes;
    cr_assert_gt(small, 0);
    cr_assert_lt(small, 512u << 10);
    cr_assert_neq(qk_gemma_embed(m, tokens, 200, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "scratch for 200 tokens needs") != NULL, "%s", err.msg);
    cr_expect_eq(qk_gemma_get_memory(m).scratch_bytes, small);
    cr_expect_eq(qk_gemma_embed(m, tokens, 8, out, NULL, &err), 0, "%s", err.msg);

    /* no limit again */
    qk_gemma_set_max_scratch(m, 0);
    cr_expect_eq(qk_gemma_embed(m, tokens, 200, out, NULL, &err), 0, "%s", err.msg);
    cr_expect_gt(qk_gemma_get_memory(m).scratch_bytes, 512u << 10);
    qk_gemma_free(m);
}

Test(scratch_limit, matmul_honours_it) {
    qk_gemma_model *m = load_tiny(tiny);
    qk_gemma_set_max_scratch(m, 64u << 10);
    const qk_gemma_weight *w = &qk_gemma_get_layer(m, 0)->wq;
    static float x[1024 * 64], y[1024 * 128];
    qk_error err;
    cr_assert_neq(qk_gemma_matmul(m, w, x, 1024, y, NULL, &err), 0);
    cr_expect(strstr(err.msg, "scratch for 1024 tokens") && strstr(err.msg, "limit of 0.1 MiB"),
              "%s", err.msg);
    qk_gemma_free(m);
}

/* ---------------------------------------------------------------- absurd headers */

typedef struct {
    uint8_t b[256];
    size_t n;
} buf;

static void put(buf *f, const void *p, size_t n) {
    cr_assert_leq(f->n + n, sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void put_u32(buf *f, uint32_t v) {
    put(f, &v, 4);
}
static void put_u64(buf *f, uint64_t v) {
    put(f, &v, 8);
}
static void put_str(buf *f, const char *s) {
    put_u64(f, strlen(s));
    put(f, s, strlen(s));
}
static void header(buf *f, uint64_t n_tensors, uint64_t n_kv) {
    f->n = 0;
    put(f, "GGUF", 4);
    put_u32(f, 3);
    put_u64(f, n_tensors);
    put_u64(f, n_kv);
}
static void pad(buf *f, size_t to) {
    while (f->n < to) f->b[f->n++] = 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Parses f (in memory, then from a file), expects a refusal naming `needle`, within 0.1 s, and no
 * allocation larger than the input (when the counter is available). */
static void expect_absurd_refused(const buf *f, const char *needle) {
    qk_gguf g;
    qk_error err = {{0}};
    size_t max, sum;
    const double t0 = now();
    counting_begin();
    int rc = qk_gguf_open_memory(&g, f->b, f->n, "absurd.gguf", &err);
    counting_end(&max, &sum);
    const double dt = now() - t0;
    cr_assert_neq(rc, 0, "accepted; expected a refusal naming '%s'", needle);
    cr_expect(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    cr_expect_lt(dt, 0.1, "took %.3f s", dt);
    /* the name's copy and one record of each array are allowed; nothing near what the header
     * claims */
    cr_expect_leq(max, f->n + 256, "an allocation of %zu bytes for a %zu-byte input", max, f->n);
    cr_expect_leq(sum, 2 * f->n + 512, "%zu bytes allocated in all for a %zu-byte input", sum,
                  f->n);

    char path[256];
    snprintf(path, sizeof path, "%s/absurd.gguf", dir);
    FILE *file = fopen(path, "wb");
    cr_assert(file);
    cr_assert_eq(fwrite(f->b, 1, f->n, file), f->n);
    fclose(file);
    counting_begin();
    rc = qk_gguf_open(&g, path, &err);
    counting_end(&max, &sum);
    cr_assert_neq(rc, 0);
    cr_expect(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    cr_expect_leq(max, f->n + 256, "an allocation of %zu bytes for a %zu-byte file", max, f->n);
    qk_gemma_model *m = NULL;
    cr_assert_neq(qk_gemma_load(&m, path, int8_opts(), &err), 0);
    cr_expect(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

Test(absurd_header, tensor_count_2_40) {
    buf f;
    header(&f, UINT64_C(1) << 40, 0);
    pad(&f, 64);
    expect_absurd_refused(&f, "tensor_count 1099511627776 exceeds");
}

Test(absurd_header, kv_count_2_40) {
    buf f;
    header(&f, 0, UINT64_C(1) << 40);
    pad(&f, 64);
    expect_absurd_refused(&f, "metadata_kv_count 1099511627776 exceeds");
}

Test(absurd_header, counts_with_the_top_bit_set) {
    buf f;
    header(&f, UINT64_MAX, UINT64_MAX);
    pad(&f, 64);
    expect_absurd_refused(&f, "tensor_count");
}

Test(absurd_header, key_length_2_50) {
    buf f;
    header(&f, 0, 1);
    put_u64(&f, UINT64_C(1) << 50);
    pad(&f, 64);
    expect_absurd_refused(&f, "key length 1125899906842624 exceeds");
}

Test(absurd_header, string_value_length_2_50) {
    buf f;
    header(&f, 0, 1);
    put_str(&f, "general.name");
    put_u32(&f, QK_GGUF_STRING);
    put_u64(&f, UINT64_C(1) << 50);
    pad(&f, 80);
    expect_absurd_refused(&f, "STRING value length 1125899906842624 exceeds");
}

Test(absurd_header, array_count_2_40) {
    buf f;
    header(&f, 0, 1);
    put_str(&f, "a");
    put_u32(&f, QK_GGUF_ARRAY);
    put_u32(&f, QK_GGUF_UINT64);
    put_u64(&f, UINT64_C(1) << 40);
    pad(&f, 64);
    expect_absurd_refused(&f, "array count 1099511627776 exceeds");
}

Test(absurd_header, array_bytes_past_the_end) {
    buf f;
    header(&f, 0, 1);
    put_str(&f, "a");
    put_u32(&f, QK_GGUF_ARRAY);
    put_u32(&f, QK_GGUF_UINT64);
    put_u64(&f, UINT64_C(1) << 29); /* within the element cap, 4 GiB of data */
    pad(&f, 64);
    expect_absurd_refused(&f, "needs 4294967296 bytes");
}

Test(absurd_header, string_array_past_the_end) {
    buf f;
    header(&f, 0, 1);
    put_str(&f, "a");
    put_u32(&f, QK_GGUF_ARRAY);
    put_u32(&f, QK_GGUF_STRING);
    put_u64(&f, UINT64_C(1) << 29);
    pad(&f, 64);
    expect_absurd_refused(&f, "array of 536870912 strings");
}

Test(absurd_header, tensor_ne_2_40) {
    buf f;
    header(&f, 1, 0);
    put_str(&f, "token_embd.weight");
    put_u32(&f, 2);
    put_u64(&f, 64);
    put_u64(&f, UINT64_C(1) << 40); /* 2^40 rows of Q8_0: 73 TB of data */
    put_u32(&f, QK_GGML_Q8_0);
    put_u64(&f, 0);
    pad(&f, 128);
    expect_absurd_refused(&f, "runs past the end");
}

Test(absurd_header, tensor_element_count_overflows) {
    buf f;
    header(&f, 1, 0);
    put_str(&f, "t");
    put_u32(&f, 4);
    for (int d = 0; d < 4; d++) put_u64(&f, UINT64_C(1) << 40);
    put_u32(&f, QK_GGML_F32);
    put_u64(&f, 0);
    pad(&f, 128);
    expect_absurd_refused(&f, "overflows");
}

Test(absurd_header, plausible_counts_of_garbage) {
    /* counts the bytes could hold, but the records are not there: the arrays grow with the records
     * read, so nothing near counts x record size is allocated */
    buf f;
    header(&f, 0, 16); /* 16 kvs of >= 14 bytes fit in 232 bytes; records would take 16 x 48 */
    pad(&f, 256);
    memset(f.b + 24, 0xff, 8); /* the first key's length */
    expect_absurd_refused(&f, "key length");
}
