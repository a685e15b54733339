/* GGUF v2/v3 reader (mmap, zero-copy, strict validation) and writer.
 * Facts: ../shared/spec/gguf-q8_0.md (sections 2-5 layout, 6 type ids, 9 validation rules). */
#ifndef QK_MODEL_GGUF_H
#define QK_MODEL_GGUF_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

enum qk_gguf_vtype { /* metadata value types (spec section 3) */
                     QK_GGUF_UINT8 = 0,
                     QK_GGUF_INT8 = 1,
                     QK_GGUF_UINT16 = 2,
                     QK_GGUF_INT16 = 3,
                     QK_GGUF_UINT32 = 4,
                     QK_GGUF_INT32 = 5,
                     QK_GGUF_FLOAT32 = 6,
                     QK_GGUF_BOOL = 7,
                     QK_GGUF_STRING = 8,
                     QK_GGUF_ARRAY = 9,
                     QK_GGUF_UINT64 = 10,
                     QK_GGUF_INT64 = 11,
                     QK_GGUF_FLOAT64 = 12,
};

enum qk_ggml_type { /* tensor types this project reads (spec section 6) */
                    QK_GGML_F32 = 0,
                    QK_GGML_F16 = 1,
                    QK_GGML_Q8_0 = 8,
                    QK_GGML_BF16 = 30,
};

typedef struct { /* a string inside the mapped file: not NUL-terminated */
    const char *ptr;
    uint64_t len;
} qk_str;

typedef struct {
    qk_str key;
    uint32_t type;        /* enum qk_gguf_vtype */
    uint32_t arr_type;    /* element type when type == ARRAY */
    uint64_t arr_n;       /* element count when type == ARRAY */
    const uint8_t *value; /* first byte of the value (of the first element for arrays) in the map */
    uint64_t value_offset; /* its file offset, for messages */
} qk_gguf_kv;

typedef struct {
    qk_str name;
    uint32_t n_dims;
    int64_t ne[4];       /* ne[0] contiguous; unused dims are 1 */
    uint32_t type;       /* enum qk_ggml_type */
    uint64_t offset;     /* relative to the data section */
    const uint8_t *data; /* in the map */
    uint64_t nbytes;
} qk_gguf_tensor;

typedef struct {
    const char *path;
    const uint8_t *map;
    uint64_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_start;
    uint64_t n_kv, n_tensors;
    qk_gguf_kv *kv;
    qk_gguf_tensor *tensors;
    char *path_owned;
    int map_owned; /* 1 when qk_gguf_open mapped the file: qk_gguf_close unmaps it */
} qk_gguf;

/* Type traits: block size (values) and bytes per block; 0 for types this reader refuses. */
int qk_ggml_type_block_size(uint32_t type);
int qk_ggml_type_block_bytes(uint32_t type);
const char *qk_ggml_type_name(uint32_t type);
const char *qk_gguf_vtype_name(uint32_t type);
/* Size in bytes of one element of a fixed-size metadata type; 0 for STRING/ARRAY/unknown. */
int qk_gguf_vtype_size(uint32_t type);

/* Maps and validates a file. Errors name the field and its offset. */
int qk_gguf_open(qk_gguf *g, const char *path, qk_error *err);
/* Parses and validates a buffer already in memory (the fuzz target and tests use it; not copied).
 */
int qk_gguf_open_memory(qk_gguf *g, const void *buf, uint64_t size, const char *name,
                        qk_error *err);
void qk_gguf_close(qk_gguf *g);

const qk_gguf_kv *qk_gguf_find_kv(const qk_gguf *g, const char *key);
const qk_gguf_tensor *qk_gguf_find_tensor(const qk_gguf *g, const char *name);
/* 0 when t (found under name) is present with shape [ne0, ne1] (ne1 = 1: a vector); else -1 and
 * err names the file, the tensor and both shapes ("... is missing" for t NULL). */
int qk_gguf_check_shape(const qk_gguf *g, const qk_gguf_tensor *t, const char *name, int64_t ne0,
                        int64_t ne1, qk_error *err);

/* Typed getters: 0 on success; an error if the key is missing or of another type. Integer getters
 * accept any integer type whose value fits. */
int qk_gguf_get_u32(const qk_gguf *g, const char *key, uint32_t *out, qk_error *err);
int qk_gguf_get_f32(const qk_gguf *g, const char *key, float *out, qk_error *err);
int qk_gguf_get_bool(const qk_gguf *g, const char *key, int *out, qk_error *err);
int qk_gguf_get_str(const qk_gguf *g, const char *key, qk_str *out, qk_error *err);
/* Element i of an array value (fixed-size element types): pointer into the map. */
const uint8_t *qk_gguf_arr_elem(const qk_gguf_kv *kv, uint64_t i);
/* Element i of a string array; walks the array (O(i)): callers iterating use qk_gguf_arr_str_next.
 */
int qk_gguf_arr_str(const qk_gguf_kv *kv, uint64_t i, qk_str *out);
/* Iterates a string array: *cursor starts at kv->value; returns the next string and advances. */
qk_str qk_gguf_arr_str_next(const uint8_t **cursor);
int qk_str_eq(qk_str s, const char *c);

/* ---- writer ----
 * Lay out metadata and tensor infos first, then stream the tensor data in info order. Offsets
 * follow ggml's convention (running sum of aligned sizes). */
typedef struct qk_gguf_writer qk_gguf_writer;

qk_gguf_writer *qk_gguf_writer_new(uint32_t alignment);
void qk_gguf_writer_free(qk_gguf_writer *w);
void qk_gguf_writer_kv_u8(qk_gguf_writer *w, const char *key, uint8_t v);
void qk_gguf_writer_kv_i8(qk_gguf_writer *w, const char *key, int8_t v);
void qk_gguf_writer_kv_u16(qk_gguf_writer *w, const char *key, uint16_t v);
void qk_gguf_writer_kv_i16(qk_gguf_writer *w, const char *key, int16_t v);
void qk_gguf_writer_kv_u32(qk_gguf_writer *w, const char *key, uint32_t v);
void qk_gguf_writer_kv_i32(qk_gguf_writer *w, const char *key, int32_t v);
void qk_gguf_writer_kv_f32(qk_gguf_writer *w, const char *key, float v);
void qk_gguf_writer_kv_bool(qk_gguf_writer *w, const char *key, int v);
void qk_gguf_writer_kv_str(qk_gguf_writer *w, const char *key, const char *v);
void qk_gguf_writer_kv_u64(qk_gguf_writer *w, const char *key, uint64_t v);
void qk_gguf_writer_kv_i64(qk_gguf_writer *w, const char *key, int64_t v);
void qk_gguf_writer_kv_f64(qk_gguf_writer *w, const char *key, double v);
/* Array of fixed-size elements (elem_type not STRING/ARRAY): n elements, little-endian, back to
 * back. */
void qk_gguf_writer_kv_arr(qk_gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                           uint64_t n);
void qk_gguf_writer_kv_arr_str(qk_gguf_writer *w, const char *key, const char *const *strs,
                               uint64_t n);
/* Adds a tensor info; returns its index. nbytes is computed from the type and shape. */
int qk_gguf_writer_tensor(qk_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                          uint32_t type);
uint64_t qk_gguf_writer_tensor_nbytes(const qk_gguf_writer *w, int index);
/* Writes header, metadata, infos and the padding before the data section. */
int qk_gguf_writer_write_header(qk_gguf_writer *w, FILE *f, qk_error *err);
/* Writes the data of tensor `index` (must be called in index order) and its padding. */
int qk_gguf_writer_write_data(qk_gguf_writer *w, FILE *f, int index, const void *data,
                              qk_error *err);

#endif
