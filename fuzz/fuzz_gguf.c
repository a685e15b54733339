/* libFuzzer target: the GGUF reader and the model code that trusts it.
 *
 * Each input is parsed with qk_gguf_open_memory. When it parses, every kv is read back through the
 * lookup, the typed getters and the array accessors, every tensor view is checked to lie inside the
 * buffer and touched at both ends, and qk_gemma_read_config runs. When the configuration reads too
 * (the seeds are whole models, so mutations often keep it valid), the bytes go to a memfd and
 * qk_gemma_load runs on both paths (INT8 with the portable zero-copy kernel, then FP32), followed
 * by a three-token forward pass: the load checks are what stands between a hostile file and the
 * kernels. A failure must leave a NUL-terminated message; nothing may read outside the input. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/kernel.h"
#include "model/gemma.h"
#include "model/gguf.h"

#define DEEP_MAX_BYTES (8u << 20) /* the forward pass only for inputs up to this size */

static volatile uint64_t sink; /* keeps the reads from being optimised away */

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_gguf: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

static void check_message(const qk_error *err) {
    size_t n = strnlen(err->msg, sizeof err->msg);
    check(n > 0 && n < sizeof err->msg, "error message empty or not terminated");
}

static void touch(const uint8_t *p, uint64_t n) {
    if (n) sink += p[0] + p[n - 1];
}

static int inside(const qk_gguf *g, const void *p, uint64_t n) {
    const uint8_t *b = p;
    return b >= g->map && (uint64_t)(b - g->map) <= g->size &&
           n <= g->size - (uint64_t)(b - g->map);
}

static void walk_kv(const qk_gguf *g, const qk_gguf_kv *kv) {
    char key[65536 + 1];
    check(kv->key.len > 0 && kv->key.len < sizeof key, "key length");
    check(inside(g, kv->key.ptr, kv->key.len), "key outside the buffer");
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = 0;
    qk_error err;
    uint32_t u;
    float f;
    int b;
    qk_str s;
    /* a key holding a NUL finds an earlier (or no) kv by its C string: only check real names */
    if (!memchr(kv->key.ptr, 0, kv->key.len)) check(qk_gguf_find_kv(g, key) == kv, "find_kv");
    if (qk_gguf_get_u32(g, key, &u, &err) == 0)
        sink += u;
    else
        check_message(&err);
    if (qk_gguf_get_f32(g, key, &f, &err) == 0)
        sink += (uint64_t)(f == f);
    else
        check_message(&err);
    if (qk_gguf_get_bool(g, key, &b, &err) == 0)
        sink += (uint64_t)b;
    else
        check_message(&err);
    if (qk_gguf_get_str(g, key, &s, &err) == 0) {
        check(inside(g, s.ptr, s.len), "string value outside the buffer");
        touch((const uint8_t *)s.ptr, s.len);
    } else {
        check_message(&err);
    }
    sink += strlen(qk_gguf_vtype_name(kv->type));
    if (kv->type != QK_GGUF_ARRAY) {
        int size = qk_gguf_vtype_size(kv->type);
        if (size) {
            check(inside(g, kv->value, (uint64_t)size), "scalar value outside the buffer");
            touch(kv->value, (uint64_t)size);
        }
        check(qk_gguf_arr_elem(kv, 0) == NULL, "arr_elem on a scalar");
        return;
    }
    if (kv->arr_type == QK_GGUF_STRING) {
        const uint8_t *cursor = kv->value;
        for (uint64_t i = 0; i < kv->arr_n; i++) {
            qk_str e = qk_gguf_arr_str_next(&cursor);
            check(inside(g, e.ptr, e.len), "string element outside the buffer");
            touch((const uint8_t *)e.ptr, e.len);
        }
        if (kv->arr_n) {
            check(qk_gguf_arr_str(kv, kv->arr_n - 1, &s) == 0, "arr_str on the last element");
            check(inside(g, s.ptr, s.len), "last string element outside the buffer");
        }
        check(qk_gguf_arr_str(kv, kv->arr_n, &s) != 0, "arr_str past the end");
        check(qk_gguf_arr_elem(kv, 0) == NULL, "arr_elem on a string array");
        return;
    }
    const int size = qk_gguf_vtype_size(kv->arr_type);
    check(size > 0, "array of a fixed-size type");
    for (uint64_t i = 0; i < kv->arr_n; i += 1 + i / 4) { /* a few hundred at most, both ends */
        const uint8_t *p = qk_gguf_arr_elem(kv, i);
        check(p && inside(g, p, (uint64_t)size), "array element outside the buffer");
        touch(p, (uint64_t)size);
    }
    if (kv->arr_n) {
        const uint8_t *p = qk_gguf_arr_elem(kv, kv->arr_n - 1);
        check(p && inside(g, p, (uint64_t)size), "last array element outside the buffer");
        touch(p, (uint64_t)size);
    }
    check(qk_gguf_arr_elem(kv, kv->arr_n) == NULL, "arr_elem past the end");
    check(qk_gguf_arr_str(kv, 0, &s) != 0, "arr_str on a fixed-size array");
}

static void walk_tensor(const qk_gguf *g, const qk_gguf_tensor *t) {
    char name[64 + 1];
    check(t->name.len > 0 && t->name.len < sizeof name, "tensor name length");
    check(inside(g, t->name.ptr, t->name.len), "tensor name outside the buffer");
    memcpy(name, t->name.ptr, t->name.len);
    name[t->name.len] = 0;
    if (!memchr(t->name.ptr, 0, t->name.len))
        check(qk_gguf_find_tensor(g, name) == t, "find_tensor");
    check(t->n_dims >= 1 && t->n_dims <= 4, "n_dims");
    const int block = qk_ggml_type_block_size(t->type), bytes = qk_ggml_type_block_bytes(t->type);
    check(block > 0 && bytes > 0, "tensor type");
    uint64_t n = 1;
    for (int d = 0; d < 4; d++) {
        check(t->ne[d] >= 1, "ne >= 1");
        check(d < (int)t->n_dims || t->ne[d] == 1, "unused dims are 1");
    }
    check(t->ne[0] % block == 0, "ne[0] a multiple of the block");
    n = (uint64_t)(t->ne[0] / block) * (uint64_t)bytes;
    for (int d = 1; d < 4; d++) n *= (uint64_t)t->ne[d]; /* the reader checked it fits */
    check(n == t->nbytes, "nbytes");
    check(inside(g, t->data, t->nbytes), "tensor data outside the buffer");
    check((uint64_t)(t->data - g->map) % g->alignment == 0 || g->alignment > g->size,
          "tensor data aligned");
    touch(t->data, t->nbytes);
    sink += strlen(qk_ggml_type_name(t->type));
}

/* The bytes in a memfd, so qk_gemma_load (which takes a path) maps them. */
static int memfd = -1;

static void deep(const uint8_t *data, size_t size, const qk_gemma_config *c) {
    if (size > DEEP_MAX_BYTES) return;
    if (memfd < 0) memfd = memfd_create("fuzz_gguf", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, 0) != 0) return;
    if (pwrite(memfd, data, size, 0) != (ssize_t)size) return;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    const qk_kernel *k = qk_kernel_find("zero-copy", "scalar");
    const qk_gemma_options opts[2] = {{QK_PATH_INT8, k, QK_ACT_PER_BLOCK},
                                      {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN}};
    for (int i = 0; i < 2; i++) {
        qk_gemma_model *m = NULL;
        qk_error err;
        if (qk_gemma_load(&m, path, &opts[i], &err)) {
            check_message(&err);
            continue;
        }
        const qk_gemma_config *mc = qk_gemma_get_config(m);
        check(mc->n_embd == c->n_embd && mc->n_vocab == c->n_vocab, "config after load");
        int32_t tokens[3] = {0, mc->n_vocab - 1, mc->n_vocab / 2};
        int n = mc->n_ctx < 3 ? mc->n_ctx : 3;
        float *out = malloc((size_t)qk_gemma_out_dim(m) * sizeof *out);
        if (out && qk_gemma_embed(m, tokens, n, out, NULL, &err) == 0)
            sink += (uint64_t)(out[0] == out[0]);
        else if (out)
            check_message(&err);
        int32_t bad = mc->n_vocab;
        check(qk_gemma_embed(m, &bad, 1, out, NULL, &err) != 0, "token id = n_vocab accepted");
        free(out);
        qk_gemma_free(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qk_gguf g;
    qk_error err;
    if (qk_gguf_open_memory(&g, data, size, "fuzz.gguf", &err)) {
        check_message(&err);
        return 0;
    }
    check(g.n_kv <= size && g.n_tensors <= size, "counts bounded by the size");
    check(g.data_start <= size || g.n_tensors == 0, "data section inside the buffer");
    for (uint64_t i = 0; i < g.n_kv; i++) walk_kv(&g, &g.kv[i]);
    for (uint64_t i = 0; i < g.n_tensors; i++) walk_tensor(&g, &g.tensors[i]);
    qk_gemma_config c;
    int cfg_ok = qk_gemma_read_config(&g, &c, &err) == 0;
    if (cfg_ok) {
        check(c.n_layer >= 1 && c.n_layer <= QK_GEMMA_MAX_LAYERS, "n_layer");
        check(c.n_head >= 1 && c.n_head_kv >= 1 && c.n_head % c.n_head_kv == 0, "heads");
        check(c.head_dim >= 2 && c.head_dim % 2 == 0 && c.n_rot <= c.head_dim, "head_dim");
        check(c.n_vocab >= 1, "n_vocab");
    } else {
        check_message(&err);
    }
    qk_gguf_close(&g);
    if (cfg_ok) deep(data, size, &c);
    return 0;
}
