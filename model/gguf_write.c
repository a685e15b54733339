/* GGUF v3 writer: metadata and tensor infos serialised in call order, tensor data aligned. Layout:
 * ../shared/spec/gguf-q8_0.md. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/gguf_limits.h"

/* ---- writer ----
 * Errors (bad arguments, duplicate keys or names, out of memory) are recorded in the writer and
 * reported by qk_gguf_writer_write_header; later calls after the first error are ignored. */

typedef struct {
    char *name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t offset, nbytes;
} wtensor;

struct qk_gguf_writer {
    uint32_t alignment;
    uint8_t *kv_bytes; /* the serialised kv records, in call order */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    char **keys; /* copies, for duplicate detection */
    size_t keys_cap;
    wtensor *tensors;
    size_t n_tensors, tensors_cap;
    uint64_t data_size; /* running sum of aligned tensor sizes: the next tensor's offset */
    int header_written;
    int next_data;
    uint64_t file_pos; /* bytes written so far: padding is relative to the file start */
    char error[256];   /* first error; empty while none */
};

/* Records the first error (later ones are usually consequences) and returns -1. */
__attribute__((format(printf, 2, 3))) static int wfail(qk_gguf_writer *w, const char *fmt, ...) {
    if (w->error[0]) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
    return -1;
}

static int writer_ok(qk_gguf_writer *w) {
    return w && !w->error[0];
}

/* Grows *buf (of element size elem) to hold at least need elements. */
static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return -1;
        n *= 2;
    }
    void *p = realloc(*buf, n * elem);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void put(qk_gguf_writer *w, const void *p, size_t n) {
    if (!writer_ok(w) || n == 0) return;
    void *buf = w->kv_bytes;
    if (w->kv_len > SIZE_MAX - n || grow(&buf, &w->kv_cap, w->kv_len + n, 1)) {
        wfail(w, "out of memory for metadata");
        return;
    }
    w->kv_bytes = buf;
    memcpy(w->kv_bytes + w->kv_len, p, n);
    w->kv_len += n;
}

static void put_u32(qk_gguf_writer *w, uint32_t v) {
    put(w, &v, 4);
}
static void put_u64(qk_gguf_writer *w, uint64_t v) {
    put(w, &v, 8);
}
static void put_str(qk_gguf_writer *w, const char *s, size_t n) {
    put_u64(w, n);
    put(w, s, n);
}

static int has_key(const qk_gguf_writer *w, const char *key) {
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) return 1;
    return 0;
}

/* Validates the key and writes it with the value type; the caller then writes the value. */
static int begin_kv(qk_gguf_writer *w, const char *key, uint32_t type, int internal) {
    if (!writer_ok(w)) return -1;
    if (w->header_written)
        return wfail(w, "kv '%s' added after the header was written", key ? key : "");
    if (!key || !key[0]) return wfail(w, "empty or NULL key");
    size_t len = strlen(key);
    if (len > GGUF_MAX_KEY) return wfail(w, "key of %zu bytes exceeds 65535", len);
    if (!internal && strcmp(key, KEY_ALIGNMENT) == 0)
        return wfail(w, "general.alignment is written by the writer (pass it to "
                        "qk_gguf_writer_new)");
    if (has_key(w, key)) return wfail(w, "duplicate key '%s'", key);
    void *keys = w->keys;
    char *copy = strdup(key);
    if (!copy || grow(&keys, &w->keys_cap, w->n_kv + 1, sizeof(char *))) {
        free(copy);
        return wfail(w, "out of memory for key '%s'", key);
    }
    w->keys = keys;
    w->keys[w->n_kv++] = copy;
    put_str(w, key, len);
    put_u32(w, type);
    return writer_ok(w) ? 0 : -1;
}

qk_gguf_writer *qk_gguf_writer_new(uint32_t alignment) {
    qk_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->alignment = alignment ? alignment : GGUF_DEFAULT_ALIGNMENT;
    if (!qk_gguf_is_pow2(w->alignment)) {
        wfail(w, "alignment %" PRIu32 " is not a power of two", alignment);
        w->alignment = GGUF_DEFAULT_ALIGNMENT; /* keeps offset arithmetic defined */
        return w;
    }
    /* Readers assume 32 without the key, so any other alignment must be stored. */
    if (w->alignment != GGUF_DEFAULT_ALIGNMENT &&
        begin_kv(w, KEY_ALIGNMENT, QK_GGUF_UINT32, 1) == 0)
        put_u32(w, w->alignment);
    return w;
}

void qk_gguf_writer_free(qk_gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kv_bytes);
    free(w);
}

static void kv_scalar(qk_gguf_writer *w, const char *key, uint32_t type, const void *v) {
    if (begin_kv(w, key, type, 0) == 0) put(w, v, (size_t)qk_gguf_vtype_size(type));
}

void qk_gguf_writer_kv_u8(qk_gguf_writer *w, const char *key, uint8_t v) {
    kv_scalar(w, key, QK_GGUF_UINT8, &v);
}
void qk_gguf_writer_kv_i8(qk_gguf_writer *w, const char *key, int8_t v) {
    kv_scalar(w, key, QK_GGUF_INT8, &v);
}
void qk_gguf_writer_kv_u16(qk_gguf_writer *w, const char *key, uint16_t v) {
    kv_scalar(w, key, QK_GGUF_UINT16, &v);
}
void qk_gguf_writer_kv_i16(qk_gguf_writer *w, const char *key, int16_t v) {
    kv_scalar(w, key, QK_GGUF_INT16, &v);
}
void qk_gguf_writer_kv_u32(qk_gguf_writer *w, const char *key, uint32_t v) {
    kv_scalar(w, key, QK_GGUF_UINT32, &v);
}
void qk_gguf_writer_kv_i32(qk_gguf_writer *w, const char *key, int32_t v) {
    kv_scalar(w, key, QK_GGUF_INT32, &v);
}
void qk_gguf_writer_kv_f32(qk_gguf_writer *w, const char *key, float v) {
    kv_scalar(w, key, QK_GGUF_FLOAT32, &v);
}
void qk_gguf_writer_kv_bool(qk_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    kv_scalar(w, key, QK_GGUF_BOOL, &b);
}
void qk_gguf_writer_kv_u64(qk_gguf_writer *w, const char *key, uint64_t v) {
    kv_scalar(w, key, QK_GGUF_UINT64, &v);
}
void qk_gguf_writer_kv_i64(qk_gguf_writer *w, const char *key, int64_t v) {
    kv_scalar(w, key, QK_GGUF_INT64, &v);
}
void qk_gguf_writer_kv_f64(qk_gguf_writer *w, const char *key, double v) {
    kv_scalar(w, key, QK_GGUF_FLOAT64, &v);
}

void qk_gguf_writer_kv_str(qk_gguf_writer *w, const char *key, const char *v) {
    if (w && !v) wfail(w, "NULL string value for key '%s'", key ? key : "");
    if (begin_kv(w, key, QK_GGUF_STRING, 0) == 0) put_str(w, v, strlen(v));
}

void qk_gguf_writer_kv_arr(qk_gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                           uint64_t n) {
    if (!writer_ok(w)) return;
    int size = qk_gguf_vtype_size(elem_type);
    const char *shown = key ? key : "";
    if (size == 0)
        wfail(w, "array '%s': element type %" PRIu32 " is not a fixed-size type", shown, elem_type);
    else if (n > GGUF_MAX_ARRAY)
        wfail(w, "array '%s': %" PRIu64 " elements exceed 2^30", shown, n);
    else if (n && !data)
        wfail(w, "array '%s': NULL data", shown);
    for (uint64_t i = 0; writer_ok(w) && elem_type == QK_GGUF_BOOL && i < n; i++)
        if (((const uint8_t *)data)[i] > 1)
            wfail(w, "array '%s': BOOL element %" PRIu64 " is not 0 or 1", shown, i);
    if (begin_kv(w, key, QK_GGUF_ARRAY, 0) != 0) return;
    put_u32(w, elem_type);
    put_u64(w, n);
    put(w, data, (size_t)(n * (uint64_t)size)); /* host order is little-endian (asserted above) */
}

void qk_gguf_writer_kv_arr_str(qk_gguf_writer *w, const char *key, const char *const *strs,
                               uint64_t n) {
    if (!writer_ok(w)) return;
    const char *shown = key ? key : "";
    if (n > GGUF_MAX_ARRAY) wfail(w, "array '%s': %" PRIu64 " elements exceed 2^30", shown, n);
    for (uint64_t i = 0; writer_ok(w) && i < n; i++)
        if (!strs || !strs[i]) wfail(w, "array '%s': string %" PRIu64 " is NULL", shown, i);
    if (begin_kv(w, key, QK_GGUF_ARRAY, 0) != 0) return;
    put_u32(w, QK_GGUF_STRING);
    put_u64(w, n);
    for (uint64_t i = 0; i < n; i++) put_str(w, strs[i], strlen(strs[i]));
}

/* Checks shape and type as the reader will and computes the tensor's size in bytes. */
static int tensor_bytes(qk_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                        uint32_t type, uint64_t *nbytes) {
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return wfail(w, "tensor '%s': n_dims %" PRIu32 " is not 1..4", name, n_dims);
    if (!ne) return wfail(w, "tensor '%s': NULL shape", name);
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] <= 0) return wfail(w, "tensor '%s': ne[%" PRIu32 "] is not positive", name, d);
    int block = qk_ggml_type_block_size(type);
    if (block == 0) return wfail(w, "tensor '%s': unsupported type %" PRIu32, name, type);
    if (ne[0] % block != 0)
        return wfail(w, "tensor '%s': ne[0] %" PRId64 " is not a multiple of %d", name, ne[0],
                     block);
    /* Same limits as the reader: element count fits int64, byte size fits uint64. */
    int64_t count = 1;
    int over = __builtin_mul_overflow((uint64_t)(ne[0] / block),
                                      (uint64_t)qk_ggml_type_block_bytes(type), nbytes);
    for (uint32_t d = 0; d < n_dims; d++) {
        over |= __builtin_mul_overflow(count, ne[d], &count);
        if (d > 0) over |= __builtin_mul_overflow(*nbytes, (uint64_t)ne[d], nbytes);
    }
    return over ? wfail(w, "tensor '%s': size overflows", name) : 0;
}

int qk_gguf_writer_tensor(qk_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                          uint32_t type) {
    if (!writer_ok(w)) return -1;
    if (w->header_written) return wfail(w, "tensor added after the header was written");
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > GGUF_MAX_NAME) return wfail(w, "tensor name must be 1..63 bytes");
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return wfail(w, "duplicate tensor name '%s'", name);
    if (w->n_tensors >= INT32_MAX) return wfail(w, "too many tensors");
    uint64_t nbytes = 0, padded, end;
    if (tensor_bytes(w, name, n_dims, ne, type, &nbytes)) return -1;
    if (qk_gguf_align_up(nbytes, w->alignment, &padded) ||
        __builtin_add_overflow(w->data_size, padded, &end))
        return wfail(w, "tensor '%s': data section size overflows", name);
    void *buf = w->tensors;
    char *copy = strdup(name);
    if (!copy || grow(&buf, &w->tensors_cap, w->n_tensors + 1, sizeof(wtensor))) {
        free(copy);
        return wfail(w, "out of memory for tensor '%s'", name);
    }
    w->tensors = buf;
    wtensor *t = &w->tensors[w->n_tensors];
    *t = (wtensor){
        .name = copy, .n_dims = n_dims, .type = type, .offset = w->data_size, .nbytes = nbytes};
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    w->data_size = end;
    return (int)w->n_tensors++;
}

uint64_t qk_gguf_writer_tensor_nbytes(const qk_gguf_writer *w, int index) {
    if (!w || index < 0 || (size_t)index >= w->n_tensors) return 0;
    return w->tensors[index].nbytes;
}

static int fput(qk_gguf_writer *w, FILE *f, const void *p, size_t n, qk_error *err) {
    if (n && fwrite(p, 1, n, f) != n)
        return qk_fail(err, "gguf writer: write failed at byte %" PRIu64, w->file_pos);
    w->file_pos += n;
    return 0;
}

static int fpad(qk_gguf_writer *w, FILE *f, qk_error *err) {
    static const uint8_t zeros[4096];
    uint64_t n = (w->alignment - w->file_pos % w->alignment) % w->alignment;
    while (n > 0) {
        size_t chunk = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (fput(w, f, zeros, chunk, err)) return -1;
        n -= chunk;
    }
    return 0;
}

static int write_info(qk_gguf_writer *w, FILE *f, const wtensor *t, qk_error *err) {
    uint64_t len = strlen(t->name), ne[GGUF_MAX_DIMS];
    for (uint32_t d = 0; d < t->n_dims; d++) ne[d] = (uint64_t)t->ne[d];
    return fput(w, f, &len, 8, err) || fput(w, f, t->name, (size_t)len, err) ||
           fput(w, f, &t->n_dims, 4, err) || fput(w, f, ne, 8 * (size_t)t->n_dims, err) ||
           fput(w, f, &t->type, 4, err) || fput(w, f, &t->offset, 8, err);
}

int qk_gguf_writer_write_header(qk_gguf_writer *w, FILE *f, qk_error *err) {
    if (!w) return qk_fail(err, "gguf writer: NULL writer (out of memory in qk_gguf_writer_new?)");
    if (w->error[0]) return qk_fail(err, "gguf writer: %s", w->error);
    if (w->header_written) return qk_fail(err, "gguf writer: header already written");
    uint32_t version = 3;
    uint64_t n_tensors = w->n_tensors;
    if (fput(w, f, "GGUF", 4, err) || fput(w, f, &version, 4, err) ||
        fput(w, f, &n_tensors, 8, err) || fput(w, f, &w->n_kv, 8, err) ||
        fput(w, f, w->kv_bytes, w->kv_len, err))
        return -1;
    for (size_t i = 0; i < w->n_tensors; i++)
        if (write_info(w, f, &w->tensors[i], err)) return -1;
    w->header_written = 1;
    return fpad(w, f, err);
}

int qk_gguf_writer_write_data(qk_gguf_writer *w, FILE *f, int index, const void *data,
                              qk_error *err) {
    if (!w || !w->header_written)
        return qk_fail(err, "gguf writer: write the header before tensor data");
    if (index != w->next_data || (size_t)index >= w->n_tensors)
        return qk_fail(err, "gguf writer: tensor %d written out of order (expected %d of %zu)",
                       index, w->next_data, w->n_tensors);
    if (!data) return qk_fail(err, "gguf writer: NULL data for tensor %d", index);
    const wtensor *t = &w->tensors[index];
    if (fput(w, f, data, (size_t)t->nbytes, err) || fpad(w, f, err)) return -1;
    w->next_data++;
    return 0;
}
