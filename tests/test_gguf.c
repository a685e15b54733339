/* GGUF reader/writer: round trips through the writer, hand-built malformed files (each rejected
 * with its own message), and the real test model (opens; every truncation is rejected). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gguf.h"

#define TINY_GEMMA QK_TESTDATA_DIR "/tiny-gemma.gguf"

/* ---- a growable byte buffer, to build files by hand ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_raw(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void b_u8(buf *b, uint8_t v) {
    b_raw(b, &v, 1);
}
static void b_u32(buf *b, uint32_t v) {
    b_raw(b, &v, 4);
}
static void b_u64(buf *b, uint64_t v) {
    b_raw(b, &v, 8);
}
static void b_str(buf *b, const char *s) {
    b_u64(b, strlen(s));
    b_raw(b, s, strlen(s));
}
static void b_header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b_raw(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}
static void b_kv_u32(buf *b, const char *key, uint32_t v) {
    b_str(b, key);
    b_u32(b, QK_GGUF_UINT32);
    b_u32(b, v);
}
static void b_kv_str(buf *b, const char *key, const char *v) {
    b_str(b, key);
    b_u32(b, QK_GGUF_STRING);
    b_str(b, v);
}
static void b_info(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                   uint64_t offset) {
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) b_u64(b, ne[d]);
    b_u32(b, type);
    b_u64(b, offset);
}
/* Pads to the alignment, then appends n bytes of data. */
static void b_data(buf *b, uint32_t alignment, size_t n) {
    while (b->n % alignment) b_u8(b, 0);
    for (size_t i = 0; i < n; i++) b_u8(b, (uint8_t)(i * 7 + 1));
}

/* Positions inside the reference hand-built file, for truncations and patches. */
typedef struct {
    size_t key0, kv1_value, info, info_ne1, info_type, info_offset, data;
} marks;

/* A valid file: 2 kvs, one F32 tensor "w" of ne {8, 4} (128 bytes) at offset 0. */
static void valid_file(buf *b, marks *m) {
    marks local;
    if (!m) m = &local;
    b_header(b, 3, 1, 2);
    m->key0 = b->n;
    b_kv_str(b, "general.architecture", "test");
    b_str(b, "test.block_count");
    b_u32(b, QK_GGUF_UINT32);
    m->kv1_value = b->n;
    b_u32(b, 6);
    m->info = b->n;
    b_str(b, "w");
    b_u32(b, 2);
    b_u64(b, 8);
    m->info_ne1 = b->n;
    b_u64(b, 4);
    m->info_type = b->n;
    b_u32(b, QK_GGML_F32);
    m->info_offset = b->n;
    b_u64(b, 0);
    b_data(b, 32, 0);
    m->data = b->n;
    b_data(b, 32, 128);
}

/* Parses an exact-size heap copy, so that any over-read trips AddressSanitizer. */
static int parse_copy(const void *p, size_t n, qk_gguf *g, qk_error *err) {
    void *copy = malloc(n ? n : 1);
    cr_assert(copy);
    if (n) memcpy(copy, p, n);
    int rc = qk_gguf_open_memory(g, copy, n, "hand.gguf", err);
    /* The parsed struct points into the copy: the callers here only look at rc and err. */
    qk_gguf_close(g);
    free(copy);
    return rc;
}

/* ---- malformed files ---- */

static void trunc_to(buf *b, size_t n) {
    valid_file(b, NULL);
    b->n = n;
}
static void m_trunc_magic(buf *b) {
    trunc_to(b, 2);
}
static void m_trunc_version(buf *b) {
    trunc_to(b, 6);
}
static void m_trunc_tensor_count(buf *b) {
    trunc_to(b, 12);
}
static void m_trunc_kv_count(buf *b) {
    trunc_to(b, 20);
}
static void m_trunc_key(buf *b) {
    /* Counts small enough for the truncated size, so the key itself is what is cut. */
    b_header(b, 3, 0, 1);
    b_kv_u32(b, "general.architecture", 1);
    b->n = 24 + 8 + 10;
}
static void m_trunc_value(buf *b) {
    marks m;
    valid_file(b, &m);
    b->n = m.kv1_value + 2;
}
static void m_trunc_info(buf *b) {
    marks m;
    valid_file(b, &m);
    b->n = m.info_ne1 + 3;
}
static void m_bad_magic(buf *b) {
    valid_file(b, NULL);
    b->p[3] = 'G';
}
static void set_version(buf *b, uint32_t v) {
    valid_file(b, NULL);
    memcpy(b->p + 4, &v, 4);
}
static void m_version0(buf *b) {
    set_version(b, 0);
}
static void m_version1(buf *b) {
    set_version(b, 1);
}
static void m_version4(buf *b) {
    set_version(b, 4);
}
static void m_version_swapped(buf *b) {
    set_version(b, 0x03000000u);
}
static void m_tensor_count(buf *b) {
    valid_file(b, NULL);
    uint64_t n = 1000000;
    memcpy(b->p + 8, &n, 8);
}
static void m_kv_count(buf *b) {
    valid_file(b, NULL);
    uint64_t n = UINT64_MAX;
    memcpy(b->p + 16, &n, 8);
}
static void m_string_past_end(buf *b) {
    marks m;
    valid_file(b, &m);
    uint64_t len = 100000; /* the value length of general.architecture */
    memcpy(b->p + m.key0 + 8 + strlen("general.architecture") + 4, &len, 8);
}
static void m_string_too_long(buf *b) {
    marks m;
    valid_file(b, &m);
    uint64_t len = UINT64_C(1) << 31;
    memcpy(b->p + m.key0 + 8 + strlen("general.architecture") + 4, &len, 8);
}
static void m_key_too_long(buf *b) {
    marks m;
    valid_file(b, &m);
    uint64_t len = 70000;
    memcpy(b->p + m.key0, &len, 8);
}
static void m_empty_key(buf *b) {
    b_header(b, 3, 0, 1);
    b_kv_u32(b, "", 1);
}
static void m_value_type(buf *b) {
    b_header(b, 3, 0, 1);
    b_str(b, "a");
    b_u32(b, 13);
    b_u64(b, 0);
}
static void m_bool_value(buf *b) {
    b_header(b, 3, 0, 1);
    b_str(b, "a");
    b_u32(b, QK_GGUF_BOOL);
    b_u8(b, 2);
}
static void m_duplicate_key(buf *b) {
    b_header(b, 3, 0, 3);
    b_kv_u32(b, "a.b", 1);
    b_kv_u32(b, "a.c", 2);
    b_kv_u32(b, "a.b", 3);
}
static void array_header(buf *b, uint32_t elem_type, uint64_t n) {
    b_header(b, 3, 0, 1);
    b_str(b, "arr");
    b_u32(b, QK_GGUF_ARRAY);
    b_u32(b, elem_type);
    b_u64(b, n);
}
static void m_array_of_arrays(buf *b) {
    array_header(b, QK_GGUF_ARRAY, 1);
    b_u32(b, QK_GGUF_UINT8);
    b_u64(b, 1);
    b_u8(b, 0);
}
static void m_array_elem_type(buf *b) {
    array_header(b, 13, 1);
    b_u64(b, 0);
}
static void m_array_count(buf *b) {
    array_header(b, QK_GGUF_UINT32, 1000);
    for (int i = 0; i < 10; i++) b_u32(b, 0);
}
static void m_array_limit(buf *b) {
    array_header(b, QK_GGUF_UINT8, (UINT64_C(1) << 30) + 1);
    b_u64(b, 0);
}
static void m_string_array_count(buf *b) {
    array_header(b, QK_GGUF_STRING, 1000);
    b_str(b, "x");
}
static void m_string_array_elem(buf *b) {
    array_header(b, QK_GGUF_STRING, 2);
    b_str(b, "x");
    b_u64(b, 500); /* element 1 runs past the end */
    b_u64(b, 0);
    b_u64(b, 0);
}
static void m_array_bool(buf *b) {
    array_header(b, QK_GGUF_BOOL, 3);
    b_u8(b, 1);
    b_u8(b, 0);
    b_u8(b, 7);
}
static void with_alignment(buf *b, uint32_t type, uint64_t v) {
    b_header(b, 3, 0, 1);
    b_str(b, "general.alignment");
    b_u32(b, type);
    if (type == QK_GGUF_UINT64)
        b_u64(b, v);
    else
        b_u32(b, (uint32_t)v);
}
static void m_alignment_48(buf *b) {
    with_alignment(b, QK_GGUF_UINT32, 48);
}
static void m_alignment_0(buf *b) {
    with_alignment(b, QK_GGUF_UINT32, 0);
}
static void m_alignment_u64(buf *b) {
    with_alignment(b, QK_GGUF_UINT64, 64);
}

/* A file with one tensor info as given (data sized for a 4 KiB tensor, enough for every case). */
static void one_tensor(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                       uint64_t offset) {
    b_header(b, 3, 1, 0);
    b_info(b, name, n_dims, ne, type, offset);
    b_data(b, 32, 4096);
}
static void m_n_dims5(buf *b) {
    one_tensor(b, "t", 5, (uint64_t[]){1, 1, 1, 1, 1}, 0, 0);
}
static void m_n_dims0(buf *b) {
    one_tensor(b, "t", 0, NULL, 0, 0);
}
static void m_zero_dim(buf *b) {
    one_tensor(b, "t", 2, (uint64_t[]){4, 0}, 0, 0);
}
static void m_dim_int64(buf *b) {
    one_tensor(b, "t", 1, (uint64_t[]){UINT64_C(1) << 63}, 0, 0);
}
static void m_dims_overflow(buf *b) {
    one_tensor(b, "t", 2, (uint64_t[]){UINT64_C(1) << 32, UINT64_C(1) << 32}, 0, 0);
}
static void m_bytes_overflow(buf *b) {
    one_tensor(b, "t", 1, (uint64_t[]){UINT64_C(1) << 62}, 0, 0);
}
static void m_type_q4_0(buf *b) {
    one_tensor(b, "t", 1, (uint64_t[]){32}, 2, 0);
}
static void m_type_99(buf *b) {
    one_tensor(b, "t", 1, (uint64_t[]){32}, 99, 0);
}
static void m_block_multiple(buf *b) {
    one_tensor(b, "t", 1, (uint64_t[]){48}, QK_GGML_Q8_0, 0);
}
static void m_misaligned(buf *b) {
    one_tensor(b, "t", 1, (uint64_t[]){4}, 0, 16);
}
static void m_empty_name(buf *b) {
    one_tensor(b, "", 1, (uint64_t[]){4}, 0, 0);
}
static void m_long_name(buf *b) {
    char name[65];
    memset(name, 'n', 64);
    name[64] = 0;
    one_tensor(b, name, 1, (uint64_t[]){4}, 0, 0);
}
static void m_data_past_end(buf *b) {
    valid_file(b, NULL);
    b->n -= 1;
}
static void m_data_past_end_far(buf *b) {
    one_tensor(b, "t", 2, (uint64_t[]){1024, 1024}, 0, 0);
}
static void two_tensors(buf *b, const char *name1, uint64_t offset1) {
    b_header(b, 3, 2, 0);
    b_info(b, "a", 1, (uint64_t[]){8}, QK_GGML_F32, 0); /* 32 bytes */
    b_info(b, name1, 1, (uint64_t[]){8}, QK_GGML_F32, offset1);
    b_data(b, 32, 256);
}
static void m_duplicate_name(buf *b) {
    two_tensors(b, "a", 32);
}
static void m_not_running_sum(buf *b) {
    two_tensors(b, "b", 64);
}

typedef struct {
    const char *name;
    void (*build)(buf *b);
    const char *expect; /* a substring only this failure produces */
} malformed;

static const malformed cases[] = {
    {"truncated magic", m_trunc_magic, "offset 0: truncated magic (needs 4 bytes, 2 left)"},
    {"truncated version", m_trunc_version, "offset 4: truncated version"},
    {"truncated tensor_count", m_trunc_tensor_count, "offset 8: truncated tensor_count"},
    {"truncated kv count", m_trunc_kv_count, "offset 16: truncated metadata_kv_count"},
    {"truncated key", m_trunc_key,
     "offset 24: kv 0: key length 20 runs past the end of the file (10 bytes left)"},
    {"truncated value", m_trunc_value, "('test.block_count'): truncated UINT32 value"},
    {"truncated tensor info", m_trunc_info, "tensor 0 ('w'): truncated ne[1]"},
    {"bad magic", m_bad_magic, "bad magic 47 47 55 47"},
    {"version 0", m_version0, "version 0 is invalid"},
    {"version 1", m_version1, "version 1 is invalid"},
    {"version 4", m_version4, "version 4 is unsupported (this reader accepts 2 and 3)"},
    {"byte-swapped version", m_version_swapped, "probably byte-swapped"},
    {"tensor count", m_tensor_count, "offset 8: tensor_count 1000000 exceeds what the"},
    {"kv count", m_kv_count,
     "offset 16: metadata_kv_count 18446744073709551615 exceeds what the 288-byte file can hold"},
    {"string past end", m_string_past_end, "STRING value length 100000 runs past the end"},
    {"string limit", m_string_too_long, "STRING value length 2147483648 exceeds the 1073741824"},
    {"key limit", m_key_too_long, "key length 70000 exceeds the 65535-byte limit"},
    {"empty key", m_empty_key, "kv 0: key is empty"},
    {"value type", m_value_type, "value type 13 is not a GGUF value type"},
    {"bool value", m_bool_value, "BOOL value 2 is not 0 or 1"},
    {"duplicate key", m_duplicate_key, "kv 2 ('a.b'): duplicate key (first defined by kv 0)"},
    {"array of arrays", m_array_of_arrays, "arrays of arrays are not supported"},
    {"array element type", m_array_elem_type, "array element type 13 is not a GGUF value type"},
    {"array count", m_array_count, "array of 1000 UINT32 elements needs 4000 bytes, 40 left"},
    {"array limit", m_array_limit, "exceeds the 2^30-element limit"},
    {"string array count", m_string_array_count, "array of 1000 strings needs at least 8000"},
    {"string array element", m_string_array_elem, "string element 1 length 500 runs past the end"},
    {"bool array", m_array_bool, "offset 53: kv 0 ('arr'): BOOL value 7 is not 0 or 1"},
    {"alignment 48", m_alignment_48, "general.alignment 48 is not a power of two"},
    {"alignment 0", m_alignment_0, "general.alignment is 0"},
    {"alignment type", m_alignment_u64, "general.alignment has type UINT64, expected UINT32"},
    {"n_dims 5", m_n_dims5, "n_dims 5 exceeds the maximum of 4"},
    {"n_dims 0", m_n_dims0, "n_dims 0"},
    {"zero dim", m_zero_dim, "ne[1] is 0"},
    {"dim beyond int64", m_dim_int64, "ne[0] 9223372036854775808 does not fit in int64"},
    {"dims overflow", m_dims_overflow, "element count 4294967296 x 4294967296 x 1 x 1 overflows"},
    {"bytes overflow", m_bytes_overflow, "byte size of the F32 tensor overflows 64 bits"},
    {"type Q4_0", m_type_q4_0, "unsupported tensor type 2 (Q4_0)"},
    {"type 99", m_type_99, "unsupported tensor type 99 (unknown)"},
    {"block multiple", m_block_multiple, "ne[0] 48 is not a multiple of the Q8_0 block size 32"},
    {"misaligned offset", m_misaligned, "offset 16 is not a multiple of the alignment 32"},
    {"offset not running sum", m_not_running_sum, "offset 64 is not the expected 32"},
    {"empty name", m_empty_name, "tensor 0: name is empty"},
    {"long name", m_long_name, "name length 64 exceeds the 63-byte limit"},
    {"data past end", m_data_past_end, "('w'): data (128 bytes at data section 160 + offset 0)"},
    {"data far past end", m_data_past_end_far, "runs past the end of the 4192-byte file"},
    {"duplicate name", m_duplicate_name, "tensor 1 ('a'): duplicate tensor name"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Criterion runs each test in a fresh process, so parameters are indices: pointers would not
 * survive. */
ParameterizedTestParameters(gguf_malformed, rejected) {
    static size_t indices[N_CASES];
    for (size_t i = 0; i < N_CASES; i++) indices[i] = i;
    return cr_make_param_array(size_t, indices, N_CASES);
}

ParameterizedTest(size_t *index, gguf_malformed, rejected) {
    const malformed *c = &cases[*index];
    buf b = {0};
    qk_gguf g;
    qk_error err = {{0}};
    c->build(&b);
    int rc = parse_copy(b.p, b.n, &g, &err);
    free(b.p);
    cr_assert_neq(rc, 0, "%s: accepted", c->name);
    cr_expect(strstr(err.msg, c->expect) != NULL, "%s: message \"%s\" lacks \"%s\"", c->name,
              err.msg, c->expect);
    cr_expect(strncmp(err.msg, "hand.gguf: offset ", 18) == 0, "%s: \"%s\" does not say where",
              c->name, err.msg);
}

Test(gguf_malformed, messages_are_distinct) {
    static char msgs[N_CASES][sizeof(qk_error)];
    for (size_t i = 0; i < N_CASES; i++) {
        buf b = {0};
        qk_gguf g;
        qk_error err = {{0}};
        cases[i].build(&b);
        cr_assert_neq(parse_copy(b.p, b.n, &g, &err), 0, "%s", cases[i].name);
        free(b.p);
        memcpy(msgs[i], err.msg, sizeof err.msg);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(msgs[i], msgs[j], "%s and %s", cases[i].name, cases[j].name);
        /* Each expected substring belongs to its own case only. */
        for (size_t j = 0; j < N_CASES; j++)
            if (j != i && strcmp(cases[i].expect, cases[j].expect) != 0)
                cr_expect(strstr(err.msg, cases[j].expect) == NULL, "%s matches %s's substring",
                          cases[i].name, cases[j].name);
    }
}

Test(gguf_malformed, hand_built_reference_is_valid) {
    buf b = {0};
    marks m;
    qk_gguf g;
    qk_error err = {{0}};
    valid_file(&b, &m);
    cr_assert_eq(qk_gguf_open_memory(&g, b.p, b.n, "hand.gguf", &err), 0, "%s", err.msg);
    cr_expect_eq(g.n_tensors, 1);
    cr_expect_eq(g.data_start, m.data);
    cr_expect_eq(g.tensors[0].data, b.p + m.data);
    cr_expect_eq(g.tensors[0].nbytes, 128);
    uint32_t v = 0;
    cr_expect_eq(qk_gguf_get_u32(&g, "test.block_count", &v, &err), 0);
    cr_expect_eq(v, 6);
    qk_gguf_close(&g);
    /* Version 2 has the same layout and is accepted. */
    b.p[4] = 2;
    cr_expect_eq(qk_gguf_open_memory(&g, b.p, b.n, "hand.gguf", &err), 0, "%s", err.msg);
    cr_expect_eq(g.version, 2);
    qk_gguf_close(&g);
    free(b.p);
}

Test(gguf_malformed, every_truncation_of_hand_built_file) {
    buf b = {0};
    qk_gguf g;
    valid_file(&b, NULL);
    for (size_t n = 0; n < b.n; n++) {
        qk_error err = {{0}};
        cr_expect_neq(parse_copy(b.p, n, &g, &err), 0, "truncation at %zu accepted", n);
        cr_expect(err.msg[0] != 0);
    }
    free(b.p);
}

/* ---- writer -> reader round trips ---- */

static uint8_t *write_to_memory(qk_gguf_writer *w, size_t *size, int n_data, const void **data) {
    char *mem = NULL;
    FILE *f = open_memstream(&mem, size);
    qk_error err = {{0}};
    cr_assert(f);
    cr_assert_eq(qk_gguf_writer_write_header(w, f, &err), 0, "%s", err.msg);
    for (int i = 0; i < n_data; i++)
        cr_assert_eq(qk_gguf_writer_write_data(w, f, i, data[i], &err), 0, "%s", err.msg);
    cr_assert_eq(fclose(f), 0);
    return (uint8_t *)mem;
}

static const uint8_t a_u8[] = {0, 1, 255};
static const int8_t a_i8[] = {-128, 0, 127};
static const uint16_t a_u16[] = {0, 65535, 1234};
static const int16_t a_i16[] = {-32768, 32767};
static const uint32_t a_u32[] = {0, UINT32_MAX, 42};
static const int32_t a_i32[] = {INT32_MIN, -1, INT32_MAX};
static const float a_f32[] = {1.5f, -0.0f, 3.25e-20f};
static const uint8_t a_bool[] = {1, 0, 1, 1};
static const uint64_t a_u64[] = {UINT64_MAX, 0};
static const int64_t a_i64[] = {INT64_MIN, INT64_MAX, -5};
static const double a_f64[] = {3.141592653589793, -1e300};
static const char *const a_str[] = {"", "hello", "wörld", "a longer string with spaces"};

typedef struct {
    const char *key;
    uint32_t type;
    const void *data;
    uint64_t n;
} arr_case;

static const arr_case arrays[] = {
    {"arr.u8", QK_GGUF_UINT8, a_u8, 3},     {"arr.i8", QK_GGUF_INT8, a_i8, 3},
    {"arr.u16", QK_GGUF_UINT16, a_u16, 3},  {"arr.i16", QK_GGUF_INT16, a_i16, 2},
    {"arr.u32", QK_GGUF_UINT32, a_u32, 3},  {"arr.i32", QK_GGUF_INT32, a_i32, 3},
    {"arr.f32", QK_GGUF_FLOAT32, a_f32, 3}, {"arr.bool", QK_GGUF_BOOL, a_bool, 4},
    {"arr.u64", QK_GGUF_UINT64, a_u64, 2},  {"arr.i64", QK_GGUF_INT64, a_i64, 3},
    {"arr.f64", QK_GGUF_FLOAT64, a_f64, 2}, {"arr.empty", QK_GGUF_UINT32, NULL, 0},
};
#define N_ARRAYS (sizeof arrays / sizeof arrays[0])

typedef struct {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    uint64_t nbytes;
} tensor_case;

static const tensor_case tensors[] = {
    {"f32.weight", 2, {8, 3, 1, 1}, QK_GGML_F32, 8 * 3 * 4},
    {"f16.weight", 1, {17, 1, 1, 1}, QK_GGML_F16, 17 * 2},
    {"q8_0.weight", 2, {64, 3, 1, 1}, QK_GGML_Q8_0, 2 * 34 * 3},
    {"bf16.weight", 4, {2, 3, 2, 2}, QK_GGML_BF16, 24 * 2},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

static void add_everything(qk_gguf_writer *w) {
    qk_gguf_writer_kv_u8(w, "s.u8", 200);
    qk_gguf_writer_kv_i8(w, "s.i8", -100);
    qk_gguf_writer_kv_u16(w, "s.u16", 60000);
    qk_gguf_writer_kv_i16(w, "s.i16", -30000);
    qk_gguf_writer_kv_u32(w, "s.u32", 4000000000u);
    qk_gguf_writer_kv_i32(w, "s.i32", -2000000000);
    qk_gguf_writer_kv_f32(w, "s.f32", -1.25f);
    qk_gguf_writer_kv_bool(w, "s.bool", 5); /* any non-zero is true */
    qk_gguf_writer_kv_str(w, "s.str", "gemma-embedding");
    qk_gguf_writer_kv_u64(w, "s.u64", UINT64_MAX - 1);
    qk_gguf_writer_kv_i64(w, "s.i64", INT64_MIN + 1);
    qk_gguf_writer_kv_f64(w, "s.f64", 2.718281828459045);
    for (size_t i = 0; i < N_ARRAYS; i++)
        qk_gguf_writer_kv_arr(w, arrays[i].key, arrays[i].type, arrays[i].data, arrays[i].n);
    qk_gguf_writer_kv_arr_str(w, "arr.str", a_str, 4);
    for (size_t i = 0; i < N_TENSORS; i++) {
        const tensor_case *t = &tensors[i];
        cr_assert_eq(qk_gguf_writer_tensor(w, t->name, t->n_dims, t->ne, t->type), (int)i);
        cr_expect_eq(qk_gguf_writer_tensor_nbytes(w, (int)i), t->nbytes, "%s", t->name);
    }
}

static void fill_pattern(uint8_t *p, uint64_t n, unsigned seed) {
    for (uint64_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + seed * 17 + 3);
}

static void expect_scalar(const qk_gguf *g, const char *key, uint32_t type, const void *v,
                          int size) {
    const qk_gguf_kv *kv = qk_gguf_find_kv(g, key);
    cr_assert(kv, "%s missing", key);
    cr_expect_eq(kv->type, type, "%s type", key);
    cr_expect_eq(memcmp(kv->value, v, (size_t)size), 0, "%s value", key);
    cr_expect_eq(kv->value, g->map + kv->value_offset);
}

static void check_scalars(const qk_gguf *g) {
    uint8_t u8 = 200, b = 1;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    uint32_t u32 = 4000000000u;
    int32_t i32 = -2000000000;
    float f32 = -1.25f;
    uint64_t u64 = UINT64_MAX - 1;
    int64_t i64 = INT64_MIN + 1;
    double f64 = 2.718281828459045;
    expect_scalar(g, "s.u8", QK_GGUF_UINT8, &u8, 1);
    expect_scalar(g, "s.i8", QK_GGUF_INT8, &i8, 1);
    expect_scalar(g, "s.u16", QK_GGUF_UINT16, &u16, 2);
    expect_scalar(g, "s.i16", QK_GGUF_INT16, &i16, 2);
    expect_scalar(g, "s.u32", QK_GGUF_UINT32, &u32, 4);
    expect_scalar(g, "s.i32", QK_GGUF_INT32, &i32, 4);
    expect_scalar(g, "s.f32", QK_GGUF_FLOAT32, &f32, 4);
    expect_scalar(g, "s.bool", QK_GGUF_BOOL, &b, 1);
    expect_scalar(g, "s.u64", QK_GGUF_UINT64, &u64, 8);
    expect_scalar(g, "s.i64", QK_GGUF_INT64, &i64, 8);
    expect_scalar(g, "s.f64", QK_GGUF_FLOAT64, &f64, 8);
    qk_str s;
    qk_error err;
    cr_assert_eq(qk_gguf_get_str(g, "s.str", &s, &err), 0, "%s", err.msg);
    cr_expect(qk_str_eq(s, "gemma-embedding"));
    cr_expect_eq(qk_gguf_find_kv(g, "s.str")->type, QK_GGUF_STRING);
}

static void check_arrays(const qk_gguf *g) {
    for (size_t i = 0; i < N_ARRAYS; i++) {
        const qk_gguf_kv *kv = qk_gguf_find_kv(g, arrays[i].key);
        cr_assert(kv, "%s missing", arrays[i].key);
        cr_expect_eq(kv->type, QK_GGUF_ARRAY);
        cr_expect_eq(kv->arr_type, arrays[i].type, "%s", arrays[i].key);
        cr_assert_eq(kv->arr_n, arrays[i].n, "%s", arrays[i].key);
        size_t size = (size_t)qk_gguf_vtype_size(arrays[i].type);
        for (uint64_t j = 0; j < kv->arr_n; j++) {
            const uint8_t *e = qk_gguf_arr_elem(kv, j);
            cr_assert(e);
            cr_expect_eq(memcmp(e, (const uint8_t *)arrays[i].data + j * size, size), 0,
                         "%s[%" PRIu64 "]", arrays[i].key, j);
        }
        cr_expect_null(qk_gguf_arr_elem(kv, kv->arr_n));
    }
    const qk_gguf_kv *kv = qk_gguf_find_kv(g, "arr.str");
    cr_assert(kv);
    cr_expect_eq(kv->arr_type, QK_GGUF_STRING);
    cr_assert_eq(kv->arr_n, 4);
    cr_expect_null(qk_gguf_arr_elem(kv, 0), "strings have no fixed-size element");
    const uint8_t *cursor = kv->value;
    for (uint64_t j = 0; j < 4; j++) {
        qk_str s, t;
        s = qk_gguf_arr_str_next(&cursor);
        cr_expect(qk_str_eq(s, a_str[j]), "arr.str[%" PRIu64 "]", j);
        cr_assert_eq(qk_gguf_arr_str(kv, j, &t), 0);
        cr_expect(t.ptr == s.ptr && t.len == s.len);
    }
    qk_str s;
    cr_expect_neq(qk_gguf_arr_str(kv, 4, &s), 0);
}

static void check_tensors(const qk_gguf *g, uint8_t *const *data) {
    uint64_t expected_offset = 0;
    cr_assert_eq(g->n_tensors, N_TENSORS);
    cr_expect_eq(g->data_start % g->alignment, 0);
    for (size_t i = 0; i < N_TENSORS; i++) {
        const tensor_case *c = &tensors[i];
        const qk_gguf_tensor *t = qk_gguf_find_tensor(g, c->name);
        cr_assert_eq(t, &g->tensors[i], "%s", c->name);
        cr_expect_eq(t->n_dims, c->n_dims);
        for (int d = 0; d < 4; d++) cr_expect_eq(t->ne[d], c->ne[d], "%s ne[%d]", c->name, d);
        cr_expect_eq(t->type, c->type);
        cr_expect_eq(t->nbytes, c->nbytes);
        cr_expect_eq(t->offset, expected_offset, "%s offset", c->name);
        cr_expect_eq(t->offset % g->alignment, 0);
        cr_expect_eq(t->data, g->map + g->data_start + t->offset);
        cr_expect_eq(memcmp(t->data, data[i], c->nbytes), 0, "%s data", c->name);
        expected_offset += (c->nbytes + g->alignment - 1) / g->alignment * g->alignment;
    }
    /* The writer pads the last tensor too. */
    cr_expect_eq(g->size, g->data_start + expected_offset);
    cr_expect_null(qk_gguf_find_tensor(g, "missing"));
}

static void round_trip(uint32_t alignment) {
    qk_gguf_writer *w = qk_gguf_writer_new(alignment);
    cr_assert(w);
    add_everything(w);
    uint8_t *data[N_TENSORS];
    for (size_t i = 0; i < N_TENSORS; i++) {
        data[i] = malloc(tensors[i].nbytes);
        fill_pattern(data[i], tensors[i].nbytes, (unsigned)i);
    }
    size_t size = 0;
    uint8_t *file = write_to_memory(w, &size, N_TENSORS, (const void **)data);
    qk_gguf_writer_free(w);

    qk_gguf g;
    qk_error err = {{0}};
    cr_assert_eq(qk_gguf_open_memory(&g, file, size, "rt.gguf", &err), 0, "%s", err.msg);
    cr_expect_eq(g.version, 3);
    cr_expect_eq(g.alignment, alignment);
    const qk_gguf_kv *ak = qk_gguf_find_kv(&g, "general.alignment");
    if (alignment == 32) {
        cr_expect_null(ak, "the default alignment is not stored");
        cr_expect_eq(g.n_kv, 12 + N_ARRAYS + 1);
    } else {
        uint32_t a = 0;
        cr_assert(ak);
        cr_expect_eq(qk_gguf_get_u32(&g, "general.alignment", &a, &err), 0);
        cr_expect_eq(a, alignment);
        cr_expect_eq(g.n_kv, 12 + N_ARRAYS + 2);
    }
    check_scalars(&g);
    check_arrays(&g);
    check_tensors(&g, data);
    qk_gguf_close(&g);
    cr_expect_null(g.kv, "close resets the struct");
    for (size_t i = 0; i < N_TENSORS; i++) free(data[i]);
    free(file);
}

Test(gguf_roundtrip, alignment_32) {
    round_trip(32);
}
Test(gguf_roundtrip, alignment_64) {
    round_trip(64);
}
Test(gguf_roundtrip, alignment_256) {
    round_trip(256);
}

Test(gguf_roundtrip, through_a_temp_file) {
    char path[] = "/tmp/qk_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    cr_assert(f);
    qk_gguf_writer *w = qk_gguf_writer_new(64);
    uint8_t q[2 * 34 * 3];
    fill_pattern(q, sizeof q, 9);
    qk_gguf_writer_kv_str(w, "general.architecture", "gemma-embedding");
    cr_assert_eq(qk_gguf_writer_tensor(w, "q", 2, (int64_t[]){64, 3}, QK_GGML_Q8_0), 0);
    qk_error err = {{0}};
    cr_assert_eq(qk_gguf_writer_write_header(w, f, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_gguf_writer_write_data(w, f, 0, q, &err), 0, "%s", err.msg);
    qk_gguf_writer_free(w);
    cr_assert_eq(fclose(f), 0);

    qk_gguf g;
    int rc = qk_gguf_open(&g, path, &err);
    unlink(path); /* the mapping outlives the name */
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_expect_str_eq(g.path, path);
    const qk_gguf_tensor *t = qk_gguf_find_tensor(&g, "q");
    cr_assert(t);
    cr_expect_eq(t->nbytes, sizeof q);
    cr_expect_eq(memcmp(t->data, q, sizeof q), 0);
    cr_expect_eq(g.data_start % 64, 0);
    qk_gguf_close(&g);
}

Test(gguf_open, missing_and_empty_files) {
    qk_gguf g;
    qk_error err = {{0}};
    cr_expect_neq(qk_gguf_open(&g, "/nonexistent/dir/x.gguf", &err), 0);
    cr_expect(strstr(err.msg, "cannot open") != NULL, "%s", err.msg);
    cr_expect_neq(qk_gguf_open(&g, "/tmp", &err), 0);
    cr_expect(strstr(err.msg, "is a directory") != NULL, "%s", err.msg);
    char path[] = "/tmp/qk_test_gguf_empty_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    int rc = qk_gguf_open(&g, path, &err);
    unlink(path);
    cr_expect_neq(rc, 0);
    cr_expect(strstr(err.msg, "offset 0: truncated magic (needs 4 bytes, 0 left)") != NULL, "%s",
              err.msg);
    qk_gguf_close(&g); /* safe after a failed open */
}

/* ---- getters ---- */

static uint8_t *getter_file(size_t *size) {
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_u8(w, "u8", 7);
    qk_gguf_writer_kv_i32(w, "i32.pos", 123);
    qk_gguf_writer_kv_i32(w, "i32.neg", -1);
    qk_gguf_writer_kv_u64(w, "u64.small", 99);
    qk_gguf_writer_kv_u64(w, "u64.big", UINT64_C(1) << 32);
    qk_gguf_writer_kv_i64(w, "i64.big", INT64_MAX);
    qk_gguf_writer_kv_f32(w, "f32", 0.5f);
    qk_gguf_writer_kv_f64(w, "f64", 0.25);
    qk_gguf_writer_kv_f64(w, "f64.huge", 1e300);
    qk_gguf_writer_kv_bool(w, "bool", 0);
    qk_gguf_writer_kv_str(w, "str", "x");
    qk_gguf_writer_kv_arr(w, "arr", QK_GGUF_UINT32, a_u32, 3);
    uint8_t *file = write_to_memory(w, size, 0, NULL);
    qk_gguf_writer_free(w);
    return file;
}

Test(gguf_getters, integers_floats_bools_strings) {
    size_t size;
    uint8_t *file = getter_file(&size);
    qk_gguf g;
    qk_error err = {{0}};
    cr_assert_eq(qk_gguf_open_memory(&g, file, size, "get.gguf", &err), 0, "%s", err.msg);
    uint32_t u = 0;
    cr_expect_eq(qk_gguf_get_u32(&g, "u8", &u, &err), 0);
    cr_expect_eq(u, 7);
    cr_expect_eq(qk_gguf_get_u32(&g, "i32.pos", &u, &err), 0);
    cr_expect_eq(u, 123);
    cr_expect_eq(qk_gguf_get_u32(&g, "u64.small", &u, &err), 0);
    cr_expect_eq(u, 99);
    cr_expect_neq(qk_gguf_get_u32(&g, "i32.neg", &u, &err), 0);
    cr_expect(strstr(err.msg, "key 'i32.neg' (INT32) value -1 does not fit in u32"), "%s", err.msg);
    cr_expect_neq(qk_gguf_get_u32(&g, "u64.big", &u, &err), 0);
    cr_expect(strstr(err.msg, "(UINT64) value 4294967296 does not fit in u32"), "%s", err.msg);
    cr_expect_neq(qk_gguf_get_u32(&g, "i64.big", &u, &err), 0);
    cr_expect(strstr(err.msg, "(INT64) value 9223372036854775807"), "%s", err.msg);
    cr_expect_neq(qk_gguf_get_u32(&g, "str", &u, &err), 0);
    cr_expect(strstr(err.msg, "key 'str' has type STRING, expected an integer"), "%s", err.msg);
    cr_expect_neq(qk_gguf_get_u32(&g, "arr", &u, &err), 0);
    cr_expect(strstr(err.msg, "has type ARRAY of UINT32"), "%s", err.msg);
    cr_expect_neq(qk_gguf_get_u32(&g, "nope", &u, &err), 0);
    cr_expect(strstr(err.msg, "get.gguf: key 'nope' not found"), "%s", err.msg);

    float f = 0;
    cr_expect_eq(qk_gguf_get_f32(&g, "f32", &f, &err), 0);
    cr_expect_eq(f, 0.5f);
    cr_expect_eq(qk_gguf_get_f32(&g, "f64", &f, &err), 0);
    cr_expect_eq(f, 0.25f);
    cr_expect_neq(qk_gguf_get_f32(&g, "f64.huge", &f, &err), 0);
    cr_expect(strstr(err.msg, "does not fit in f32"), "%s", err.msg);
    cr_expect_neq(qk_gguf_get_f32(&g, "u8", &f, &err), 0);
    cr_expect(strstr(err.msg, "key 'u8' has type UINT8, expected FLOAT32 or FLOAT64"), "%s",
              err.msg);

    int b = 1;
    cr_expect_eq(qk_gguf_get_bool(&g, "bool", &b, &err), 0);
    cr_expect_eq(b, 0);
    cr_expect_neq(qk_gguf_get_bool(&g, "u8", &b, &err), 0);
    cr_expect(strstr(err.msg, "has type UINT8, expected BOOL"), "%s", err.msg);

    qk_str s;
    cr_expect_eq(qk_gguf_get_str(&g, "str", &s, &err), 0);
    cr_expect(qk_str_eq(s, "x"));
    cr_expect_neq(qk_gguf_get_str(&g, "bool", &s, &err), 0);
    cr_expect(strstr(err.msg, "has type BOOL, expected STRING"), "%s", err.msg);
    qk_gguf_close(&g);
    free(file);
}

Test(gguf_getters, type_traits) {
    cr_expect_eq(qk_ggml_type_block_size(QK_GGML_Q8_0), 32);
    cr_expect_eq(qk_ggml_type_block_bytes(QK_GGML_Q8_0), 34);
    cr_expect_eq(qk_ggml_type_block_bytes(QK_GGML_F32), 4);
    cr_expect_eq(qk_ggml_type_block_bytes(QK_GGML_BF16), 2);
    cr_expect_eq(qk_ggml_type_block_size(2), 0, "Q4_0 is refused");
    cr_expect_eq(qk_ggml_type_block_size(1000), 0);
    cr_expect_str_eq(qk_ggml_type_name(QK_GGML_Q8_0), "Q8_0");
    cr_expect_str_eq(qk_ggml_type_name(4), "unknown");
    cr_expect_str_eq(qk_ggml_type_name(UINT32_MAX), "unknown");
    cr_expect_str_eq(qk_gguf_vtype_name(QK_GGUF_FLOAT64), "FLOAT64");
    cr_expect_str_eq(qk_gguf_vtype_name(13), "unknown");
    cr_expect_eq(qk_gguf_vtype_size(QK_GGUF_UINT64), 8);
    cr_expect_eq(qk_gguf_vtype_size(QK_GGUF_STRING), 0);
    cr_expect_eq(qk_gguf_vtype_size(QK_GGUF_ARRAY), 0);
    cr_expect_eq(qk_gguf_vtype_size(99), 0);
}

/* ---- writer errors: recorded, then reported by write_header ---- */

static void expect_writer_error(qk_gguf_writer *w, const char *expect) {
    char *mem = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&mem, &size);
    qk_error err = {{0}};
    cr_expect_neq(qk_gguf_writer_write_header(w, f, &err), 0, "expected: %s", expect);
    cr_expect(strstr(err.msg, expect) != NULL, "\"%s\" lacks \"%s\"", err.msg, expect);
    fclose(f);
    free(mem);
    qk_gguf_writer_free(w);
}

Test(gguf_writer, errors_are_reported_by_write_header) {
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_u32(w, "a", 1);
    qk_gguf_writer_kv_u32(w, "a", 2);
    expect_writer_error(w, "duplicate key 'a'");

    w = qk_gguf_writer_new(64);
    qk_gguf_writer_kv_u32(w, "general.alignment", 64);
    expect_writer_error(w, "general.alignment is written by the writer");

    expect_writer_error(qk_gguf_writer_new(48), "alignment 48 is not a power of two");

    w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_u32(w, "", 1);
    expect_writer_error(w, "empty or NULL key");

    w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_arr(w, "x", QK_GGUF_STRING, a_str, 1);
    expect_writer_error(w, "is not a fixed-size type");

    w = qk_gguf_writer_new(32);
    cr_expect_eq(qk_gguf_writer_tensor(w, "t", 1, (int64_t[]){32}, QK_GGML_F32), 0);
    cr_expect_eq(qk_gguf_writer_tensor(w, "t", 1, (int64_t[]){32}, QK_GGML_F32), -1);
    expect_writer_error(w, "duplicate tensor name 't'");

    w = qk_gguf_writer_new(32);
    cr_expect_eq(qk_gguf_writer_tensor(w, "t", 1, (int64_t[]){33}, QK_GGML_Q8_0), -1);
    expect_writer_error(w, "ne[0] 33 is not a multiple of 32");

    w = qk_gguf_writer_new(32);
    cr_expect_eq(qk_gguf_writer_tensor(w, "t", 1, (int64_t[]){32}, 2), -1);
    expect_writer_error(w, "unsupported type 2");

    w = qk_gguf_writer_new(32);
    cr_expect_eq(qk_gguf_writer_tensor(w, "t", 2, (int64_t[]){32, 0}, QK_GGML_F32), -1);
    expect_writer_error(w, "ne[1] is not positive");

    w = qk_gguf_writer_new(32);
    cr_expect_eq(qk_gguf_writer_tensor(w, "t", 5, (int64_t[]){1, 1, 1, 1, 1}, QK_GGML_F32), -1);
    expect_writer_error(w, "n_dims 5 is not 1..4");

    qk_error err;
    cr_expect_neq(qk_gguf_writer_write_header(NULL, stdout, &err), 0);
    qk_gguf_writer_kv_u32(NULL, "a", 1); /* no-op */
    qk_gguf_writer_free(NULL);
}

Test(gguf_writer, data_must_follow_index_order) {
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    uint8_t d[128] = {0};
    char *mem = NULL;
    size_t size = 0;
    qk_error err = {{0}};
    FILE *f = open_memstream(&mem, &size);
    cr_assert_eq(qk_gguf_writer_tensor(w, "a", 1, (int64_t[]){8}, QK_GGML_F32), 0);
    cr_assert_eq(qk_gguf_writer_tensor(w, "b", 1, (int64_t[]){8}, QK_GGML_F32), 1);
    cr_expect_neq(qk_gguf_writer_write_data(w, f, 0, d, &err), 0, "data before header");
    cr_expect(strstr(err.msg, "header before tensor data"), "%s", err.msg);
    cr_assert_eq(qk_gguf_writer_write_header(w, f, &err), 0, "%s", err.msg);
    cr_expect_neq(qk_gguf_writer_write_header(w, f, &err), 0, "header twice");
    cr_expect_neq(qk_gguf_writer_write_data(w, f, 1, d, &err), 0);
    cr_expect(strstr(err.msg, "tensor 1 written out of order (expected 0 of 2)"), "%s", err.msg);
    cr_expect_eq(qk_gguf_writer_write_data(w, f, 0, d, &err), 0, "%s", err.msg);
    cr_expect_eq(qk_gguf_writer_write_data(w, f, 1, d, &err), 0, "%s", err.msg);
    cr_expect_neq(qk_gguf_writer_write_data(w, f, 2, d, &err), 0, "past the last tensor");
    qk_gguf_writer_tensor(w, "c", 1, (int64_t[]){8}, QK_GGML_F32);
    cr_expect_eq(qk_gguf_writer_tensor_nbytes(w, 2), 0, "no tensors after the header");
    qk_gguf_writer_free(w);
    fclose(f);
    qk_gguf g;
    cr_expect_eq(qk_gguf_open_memory(&g, mem, size, "order.gguf", &err), 0, "%s", err.msg);
    qk_gguf_close(&g);
    free(mem);
}

/* ---- the real test model ---- */

static uint8_t *read_whole(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert(n > 0);
    rewind(f);
    uint8_t *p = malloc((size_t)n);
    cr_assert(p);
    cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return p;
}

static void check_tiny_gemma(const qk_gguf *g) {
    qk_str arch;
    qk_error err;
    cr_assert_eq(qk_gguf_get_str(g, "general.architecture", &arch, &err), 0, "%s", err.msg);
    cr_expect(qk_str_eq(arch, "gemma-embedding"));
    cr_expect_eq(g->version, 3);
    cr_expect_eq(g->n_kv, 34);
    cr_expect_eq(g->n_tensors, 82);
    cr_expect_eq(g->alignment, 32);
    uint32_t qv = 0;
    cr_expect_eq(qk_gguf_get_u32(g, "general.quantization_version", &qv, &err), 0);
    cr_expect_eq(qv, 2);
    const qk_gguf_tensor *t = qk_gguf_find_tensor(g, "token_embd.weight");
    cr_assert(t);
    cr_expect_eq(t->type, QK_GGML_Q8_0);
    cr_expect_eq(t->n_dims, 2);
    cr_expect_eq(t->ne[0], 64);
    cr_expect_eq(t->ne[1], 512);
    cr_expect_eq(t->ne[2], 1);
    cr_expect_eq(t->ne[3], 1);
    cr_expect_eq(t->nbytes, 2 * 34 * 512);
    cr_expect(t->data >= g->map + g->data_start && t->data + t->nbytes <= g->map + g->size);
    const qk_gguf_kv *tokens = qk_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (tokens && tokens->type == QK_GGUF_ARRAY && tokens->arr_type == QK_GGUF_STRING) {
        const uint8_t *cursor = tokens->value;
        for (uint64_t i = 0; i < tokens->arr_n; i++) {
            qk_str s = qk_gguf_arr_str_next(&cursor);
            cr_assert(s.ptr + s.len <= (const char *)g->map + g->size);
        }
    }
}

Test(gguf_tiny_gemma, opens_via_mmap) {
    qk_gguf g;
    qk_error err = {{0}};
    cr_assert_eq(qk_gguf_open(&g, TINY_GEMMA, &err), 0, "%s", err.msg);
    cr_expect_eq(g.size, 409120);
    check_tiny_gemma(&g);
    qk_gguf_close(&g);
}

Test(gguf_tiny_gemma, opens_from_memory) {
    size_t size;
    uint8_t *file = read_whole(TINY_GEMMA, &size);
    qk_gguf g;
    qk_error err = {{0}};
    cr_assert_eq(qk_gguf_open_memory(&g, file, size, "tiny.gguf", &err), 0, "%s", err.msg);
    check_tiny_gemma(&g);
    qk_gguf_close(&g);
    free(file);
}

Test(gguf_tiny_gemma, every_truncation_is_rejected) {
    size_t size;
    uint8_t *file = read_whole(TINY_GEMMA, &size);
    qk_gguf g;
    for (size_t n = 0; n <= 4096; n++) { /* every length: each parse is cheap */
        qk_error err = {{0}};
        cr_expect_neq(parse_copy(file, n, &g, &err), 0, "truncation at %zu accepted", n);
        cr_expect(err.msg[0] != 0);
    }
    /* The metadata and infos end at 18208 here: every 7th length through them, then coarser. */
    for (size_t n = 4097; n < size; n += n < 20000 ? 7 : 997) {
        qk_error err = {{0}};
        cr_expect_neq(parse_copy(file, n, &g, &err), 0, "truncation at %zu accepted", n);
        cr_expect(err.msg[0] != 0);
    }
    qk_error err = {{0}};
    cr_expect_neq(parse_copy(file, size - 1, &g, &err), 0);
    cr_expect(strstr(err.msg, "runs past the end of the 409119-byte file"), "%s", err.msg);
    cr_expect(strstr(err.msg, "tensor 81"), "%s", err.msg);
    /* ...and a kv count that is too large gets the documented message. */
    uint64_t huge = UINT64_MAX;
    memcpy(file + 16, &huge, 8);
    cr_expect_neq(parse_copy(file, size, &g, &err), 0);
    cr_expect(strstr(err.msg, "offset 16: metadata_kv_count 18446744073709551615 exceeds what the "
                              "409120-byte file can hold"),
              "%s", err.msg);
    free(file);
}

/* Random byte changes in the metadata and infos: accepted or rejected, never a crash; when
 * accepted, every tensor's data lies inside the buffer. */
Test(gguf_tiny_gemma, mutations_never_crash) {
    size_t size;
    uint8_t *orig = read_whole(TINY_GEMMA, &size);
    uint8_t *file = malloc(size);
    cr_assert(file);
    uint64_t state = 0x9E3779B97F4A7C15u;
    int accepted = 0;
    for (int iter = 0; iter < 600; iter++) {
        memcpy(file, orig, size);
        int n_changes = 1 + iter % 4;
        for (int k = 0; k < n_changes; k++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            size_t at = (size_t)(state % 4096);
            file[at] = (uint8_t)(state >> 32);
        }
        qk_gguf g;
        qk_error err = {{0}};
        if (qk_gguf_open_memory(&g, file, size, "mut.gguf", &err) != 0) {
            cr_expect(err.msg[0] != 0);
            continue;
        }
        accepted++;
        unsigned sum = 0;
        for (uint64_t i = 0; i < g.n_tensors; i++) {
            const qk_gguf_tensor *t = &g.tensors[i];
            cr_assert(t->data >= file && t->data + t->nbytes <= file + size);
            sum += t->data[0] + t->data[t->nbytes - 1];
        }
        (void)sum;
        qk_gguf_close(&g);
    }
    cr_log_info("mutations: %d of 600 accepted", accepted);
    free(file);
    free(orig);
}
