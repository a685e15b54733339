/* GGUF v2/v3 reader (the writer: gguf_write.c). Layout and validation rules:
 * ../shared/spec/gguf-q8_0.md. The reader never trusts a length or count before checking it against
 * the bytes left, so every allocation is bounded by the file size and every read stays inside the
 * buffer. */
#include "model/gguf.h"

#include "common/input_file.h"

#include <fcntl.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Values are read with memcpy into host integers: correct only on little-endian hosts (x86-64,
 * ARM). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the GGUF code assumes a little-endian host");

#include "model/gguf_limits.h"

/* ---- type traits ---- */

int qk_ggml_type_block_size(uint32_t type) {
    switch (type) {
    case QK_GGML_F32:
    case QK_GGML_F16:
    case QK_GGML_BF16:
        return 1;
    case QK_GGML_Q8_0:
        return 32;
    default:
        return 0;
    }
}

int qk_ggml_type_block_bytes(uint32_t type) {
    switch (type) {
    case QK_GGML_F32:
        return 4;
    case QK_GGML_F16:
    case QK_GGML_BF16:
        return 2;
    case QK_GGML_Q8_0:
        return 34;
    default:
        return 0;
    }
}

const char *qk_ggml_type_name(uint32_t type) {
    /* Names of every id the spec lists, so a refused type is named in messages. */
    static const char *const names[] = {
        [0] = "F32",    [1] = "F16",    [2] = "Q4_0",   [3] = "Q4_1",  [6] = "Q5_0",
        [7] = "Q5_1",   [8] = "Q8_0",   [9] = "Q8_1",   [10] = "Q2_K", [11] = "Q3_K",
        [12] = "Q4_K",  [13] = "Q5_K",  [14] = "Q6_K",  [15] = "Q8_K", [16] = "IQ*",
        [17] = "IQ*",   [18] = "IQ*",   [19] = "IQ*",   [20] = "IQ*",  [21] = "IQ*",
        [22] = "IQ*",   [23] = "IQ*",   [24] = "I8",    [25] = "I16",  [26] = "I32",
        [27] = "I64",   [28] = "F64",   [29] = "IQ*",   [30] = "BF16", [34] = "TQ1_0",
        [35] = "TQ2_0", [39] = "MXFP4", [40] = "NVFP4", [41] = "Q1_0", [42] = "Q2_0",
    };
    if (type < sizeof names / sizeof names[0] && names[type]) return names[type];
    return "unknown";
}

const char *qk_gguf_vtype_name(uint32_t type) {
    static const char *const names[GGUF_VTYPE_COUNT] = {
        "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",   "FLOAT32",
        "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64",
    };
    return type < GGUF_VTYPE_COUNT ? names[type] : "unknown";
}

int qk_gguf_vtype_size(uint32_t type) {
    static const int sizes[GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < GGUF_VTYPE_COUNT ? sizes[type] : 0;
}

int qk_str_eq(qk_str s, const char *c) {
    if (!c || !s.ptr) return 0;
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

static uint64_t rd_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t rd_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Copies s into dst for messages: at most 48 characters, non-printables as '?'. */
static void printable(char *dst, size_t cap, qk_str s) {
    size_t n = 0;
    for (uint64_t i = 0; i < s.len && n < 48 && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n < s.len && n + 4 <= cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = 0;
}

/* ---- bounds-checked reader ---- */

typedef struct {
    const uint8_t *base;
    uint64_t size, pos;
    const char *name; /* file name for messages */
    char ctx[96];     /* the record being read, e.g. "kv 3 ('general.name'): "; prefixes messages */
    qk_error *err;
} reader;

static uint64_t left(const reader *r) {
    return r->size - r->pos;
}

__attribute__((format(printf, 3, 4))) static int fail_at(reader *r, uint64_t off, const char *fmt,
                                                         ...) {
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return qk_fail(r->err, "%s: offset %" PRIu64 ": %s%s", r->name, off, r->ctx, detail);
}

static int truncated(reader *r, const char *field, uint64_t need) {
    return fail_at(r, r->pos, "truncated %s (needs %" PRIu64 " bytes, %" PRIu64 " left)", field,
                   need, left(r));
}

static int read_u32(reader *r, const char *field, uint32_t *out) {
    if (left(r) < 4) return truncated(r, field, 4);
    *out = rd_u32(r->base + r->pos);
    r->pos += 4;
    return 0;
}

static int read_u64(reader *r, const char *field, uint64_t *out) {
    if (left(r) < 8) return truncated(r, field, 8);
    *out = rd_u64(r->base + r->pos);
    r->pos += 8;
    return 0;
}

/* Reads a string (u64 length + bytes) whose length may not exceed max_len. */
static int read_str(reader *r, const char *field, uint64_t max_len, qk_str *out) {
    uint64_t at = r->pos;
    if (left(r) < 8)
        return fail_at(r, at, "truncated %s length (needs 8 bytes, %" PRIu64 " left)", field,
                       left(r));
    uint64_t len = rd_u64(r->base + at);
    if (len > max_len)
        return fail_at(r, at, "%s length %" PRIu64 " exceeds the %" PRIu64 "-byte limit", field,
                       len, max_len);
    if (len > left(r) - 8)
        return fail_at(
            r, at, "%s length %" PRIu64 " runs past the end of the file (%" PRIu64 " bytes left)",
            field, len, left(r) - 8);
    out->ptr = (const char *)(r->base + at + 8);
    out->len = len;
    r->pos = at + 8 + len;
    return 0;
}

static void set_ctx(reader *r, const char *what, uint64_t index, const qk_str *name) {
    if (!name) {
        snprintf(r->ctx, sizeof r->ctx, "%s %" PRIu64 ": ", what, index);
        return;
    }
    char shown[56];
    printable(shown, sizeof shown, *name);
    snprintf(r->ctx, sizeof r->ctx, "%s %" PRIu64 " ('%s'): ", what, index, shown);
}

/* ---- metadata ---- */

static int check_bools(reader *r, const uint8_t *p, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (p[i] > 1)
            return fail_at(r, (uint64_t)(p + i - r->base), "BOOL value %u is not 0 or 1", p[i]);
    return 0;
}

static int read_scalar(reader *r, uint32_t type) {
    if (type == QK_GGUF_STRING) {
        qk_str s;
        return read_str(r, "STRING value", GGUF_MAX_STRING, &s);
    }
    uint64_t size = (uint64_t)qk_gguf_vtype_size(type);
    char field[32];
    if (left(r) < size) {
        snprintf(field, sizeof field, "%s value", qk_gguf_vtype_name(type));
        return truncated(r, field, size);
    }
    if (type == QK_GGUF_BOOL && check_bools(r, r->base + r->pos, 1)) return -1;
    r->pos += size;
    return 0;
}

static int read_string_elems(reader *r, uint64_t n) {
    if (n > left(r) / 8) /* each element has at least its 8-byte length */
        return fail_at(r, r->pos,
                       "array of %" PRIu64 " strings needs at least %" PRIu64 " bytes, %" PRIu64
                       " left",
                       n, n * 8, left(r));
    for (uint64_t i = 0; i < n; i++) {
        char field[48];
        qk_str s;
        uint64_t at = r->pos;
        /* Cheap inline check first; the message is formatted only on failure. */
        if (left(r) >= 8 && rd_u64(r->base + at) <= GGUF_MAX_STRING &&
            rd_u64(r->base + at) <= left(r) - 8) {
            r->pos = at + 8 + rd_u64(r->base + at);
            continue;
        }
        snprintf(field, sizeof field, "string element %" PRIu64, i);
        return read_str(r, field, GGUF_MAX_STRING, &s);
    }
    return 0;
}

static int read_array(reader *r, qk_gguf_kv *kv) {
    uint64_t at = r->pos;
    if (read_u32(r, "array element type", &kv->arr_type)) return -1;
    if (kv->arr_type >= GGUF_VTYPE_COUNT)
        return fail_at(r, at, "array element type %" PRIu32 " is not a GGUF value type (0..12)",
                       kv->arr_type);
    if (kv->arr_type == QK_GGUF_ARRAY)
        return fail_at(r, at, "array element type is ARRAY (arrays of arrays are not supported)");
    at = r->pos;
    if (read_u64(r, "array count", &kv->arr_n)) return -1;
    if (kv->arr_n > GGUF_MAX_ARRAY)
        return fail_at(r, at, "array count %" PRIu64 " exceeds the 2^30-element limit", kv->arr_n);
    kv->value = r->base + r->pos;
    kv->value_offset = r->pos;
    if (kv->arr_type == QK_GGUF_STRING) return read_string_elems(r, kv->arr_n);
    uint64_t bytes = kv->arr_n * (uint64_t)qk_gguf_vtype_size(kv->arr_type); /* <= 2^33 */
    if (bytes > left(r))
        return fail_at(r, r->pos,
                       "array of %" PRIu64 " %s elements needs %" PRIu64 " bytes, %" PRIu64 " left",
                       kv->arr_n, qk_gguf_vtype_name(kv->arr_type), bytes, left(r));
    if (kv->arr_type == QK_GGUF_BOOL && check_bools(r, kv->value, kv->arr_n)) return -1;
    r->pos += bytes;
    return 0;
}

static int read_kv(reader *r, uint64_t index, qk_gguf_kv *kv) {
    set_ctx(r, "kv", index, NULL);
    uint64_t at = r->pos;
    if (read_str(r, "key", GGUF_MAX_KEY, &kv->key)) return -1;
    if (kv->key.len == 0) return fail_at(r, at, "key is empty");
    set_ctx(r, "kv", index, &kv->key);
    at = r->pos;
    if (read_u32(r, "value type", &kv->type)) return -1;
    if (kv->type >= GGUF_VTYPE_COUNT)
        return fail_at(r, at, "value type %" PRIu32 " is not a GGUF value type (0..12)", kv->type);
    if (kv->type == QK_GGUF_ARRAY) return read_array(r, kv);
    kv->value = r->base + r->pos;
    kv->value_offset = r->pos;
    return read_scalar(r, kv->type);
}

/* ---- duplicate detection: sort (name, index) pairs, then compare neighbours ---- */

typedef struct {
    qk_str s;
    uint64_t index;
} named;

static int named_cmp(const void *a, const void *b) {
    const named *x = a, *y = b;
    if (x->s.len != y->s.len) return x->s.len < y->s.len ? -1 : 1;
    int c = memcmp(x->s.ptr, y->s.ptr, x->s.len);
    if (c) return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Finds the earliest record whose name repeats an earlier one. Returns
 * 1 with *dup and *first set when found, else 0. */
static int find_duplicate(named *list, uint64_t n, uint64_t *dup, uint64_t *first) {
    if (n < 2) return 0;
    qsort(list, n, sizeof *list, named_cmp);
    int found = 0;
    uint64_t run_start = 0;
    for (uint64_t i = 1; i < n; i++) {
        if (named_cmp(&(named){list[i].s, 0}, &(named){list[i - 1].s, 0}) != 0) {
            run_start = i;
            continue;
        }
        if (!found || list[i].index < *dup) {
            *dup = list[i].index;
            *first = list[run_start].index;
            found = 1;
        }
    }
    return found;
}

static uint64_t str_offset(const reader *r, qk_str s) { /* offset of the string's length field */
    return (uint64_t)((const uint8_t *)s.ptr - r->base) - 8;
}

static int check_unique_keys(reader *r, qk_gguf *g) {
    if (g->n_kv < 2) return 0;
    named *list = malloc(g->n_kv * sizeof *list); /* n_kv is bounded by the file size */
    if (!list)
        return qk_fail(r->err, "%s: out of memory checking %" PRIu64 " keys", r->name, g->n_kv);
    for (uint64_t i = 0; i < g->n_kv; i++) list[i] = (named){g->kv[i].key, i};
    uint64_t dup = 0, first = 0;
    int found = find_duplicate(list, g->n_kv, &dup, &first);
    free(list);
    if (!found) return 0;
    set_ctx(r, "kv", dup, &g->kv[dup].key);
    return fail_at(r, str_offset(r, g->kv[dup].key),
                   "duplicate key (first defined by kv %" PRIu64 ")", first);
}

/* general.alignment: optional; when present a u32 power of two (spec section 9, rule 6). */
static int read_alignment(reader *r, qk_gguf *g) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const qk_gguf_kv *kv = qk_gguf_find_kv(g, KEY_ALIGNMENT);
    if (!kv) return 0;
    r->ctx[0] = 0;
    uint64_t type_at = str_offset(r, kv->key) + 8 + kv->key.len;
    if (kv->type != QK_GGUF_UINT32)
        return fail_at(r, type_at, "general.alignment has type %s, expected UINT32",
                       qk_gguf_vtype_name(kv->type));
    uint32_t a = rd_u32(kv->value);
    if (a == 0) return fail_at(r, kv->value_offset, "general.alignment is 0");
    if (!qk_gguf_is_pow2(a))
        return fail_at(r, kv->value_offset, "general.alignment %" PRIu32 " is not a power of two",
                       a);
    g->alignment = a;
    return 0;
}

/* ---- tensor infos ---- */

static int read_dims(reader *r, qk_gguf_tensor *t) {
    uint64_t at = r->pos;
    if (read_u32(r, "n_dims", &t->n_dims)) return -1;
    if (t->n_dims == 0) return fail_at(r, at, "n_dims 0 (a tensor needs at least one dimension)");
    if (t->n_dims > GGUF_MAX_DIMS)
        return fail_at(r, at, "n_dims %" PRIu32 " exceeds the maximum of 4", t->n_dims);
    uint64_t dims_at = r->pos;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        char field[16];
        uint64_t v = 0;
        snprintf(field, sizeof field, "ne[%" PRIu32 "]", d);
        at = r->pos;
        if (read_u64(r, field, &v)) return -1;
        if (v == 0)
            return fail_at(r, at, "ne[%" PRIu32 "] is 0 (empty tensors are not supported)", d);
        if (v > INT64_MAX)
            return fail_at(r, at, "ne[%" PRIu32 "] %" PRIu64 " does not fit in int64", d, v);
        t->ne[d] = (int64_t)v;
    }
    int64_t count = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        if (__builtin_mul_overflow(count, t->ne[d], &count))
            return fail_at(r, dims_at,
                           "element count %" PRId64 " x %" PRId64 " x %" PRId64 " x %" PRId64
                           " overflows int64",
                           t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    return 0;
}

/* Reads the type and computes nbytes = (ne0 / block) * block_bytes * ne1 * ne2 * ne3. */
static int read_type(reader *r, qk_gguf_tensor *t) {
    uint64_t at = r->pos;
    if (read_u32(r, "type", &t->type)) return -1;
    int block = qk_ggml_type_block_size(t->type);
    if (block == 0)
        return fail_at(r, at, "unsupported tensor type %" PRIu32 " (%s)", t->type,
                       qk_ggml_type_name(t->type));
    if (t->ne[0] % block != 0)
        return fail_at(r, at, "ne[0] %" PRId64 " is not a multiple of the %s block size %d",
                       t->ne[0], qk_ggml_type_name(t->type), block);
    uint64_t n = (uint64_t)(t->ne[0] / block);
    int over = __builtin_mul_overflow(n, (uint64_t)qk_ggml_type_block_bytes(t->type), &n);
    for (uint32_t d = 1; d < GGUF_MAX_DIMS; d++)
        over |= __builtin_mul_overflow(n, (uint64_t)t->ne[d], &n);
    if (over)
        return fail_at(r, at, "byte size of the %s tensor overflows 64 bits",
                       qk_ggml_type_name(t->type));
    t->nbytes = n;
    return 0;
}

/* Offsets must be aligned and (as ggml's reader requires) equal the running sum of padded sizes. */
static int read_offset(reader *r, qk_gguf_tensor *t, uint32_t alignment, uint64_t *expected) {
    uint64_t at = r->pos;
    if (read_u64(r, "offset", &t->offset)) return -1;
    if (t->offset % alignment != 0)
        return fail_at(r, at, "offset %" PRIu64 " is not a multiple of the alignment %" PRIu32,
                       t->offset, alignment);
    if (t->offset != *expected)
        return fail_at(r, at,
                       "offset %" PRIu64 " is not the expected %" PRIu64
                       " (tensors must be stored in info order, each padded to the alignment)",
                       t->offset, *expected);
    uint64_t padded;
    if (qk_gguf_align_up(t->nbytes, alignment, &padded) ||
        __builtin_add_overflow(*expected, padded, expected))
        return fail_at(r, at, "data section size overflows 64 bits");
    return 0;
}

static int read_tensor_info(reader *r, qk_gguf *g, uint64_t index, uint64_t *expected) {
    qk_gguf_tensor *t = &g->tensors[index];
    set_ctx(r, "tensor", index, NULL);
    uint64_t at = r->pos;
    if (read_str(r, "name", GGUF_MAX_NAME, &t->name)) return -1;
    if (t->name.len == 0) return fail_at(r, at, "name is empty");
    set_ctx(r, "tensor", index, &t->name);
    if (read_dims(r, t) || read_type(r, t)) return -1;
    return read_offset(r, t, g->alignment, expected);
}

static int check_unique_names(reader *r, qk_gguf *g) {
    if (g->n_tensors < 2) return 0;
    named *list = malloc(g->n_tensors * sizeof *list); /* bounded by the file size */
    if (!list)
        return qk_fail(r->err, "%s: out of memory checking %" PRIu64 " tensor names", r->name,
                       g->n_tensors);
    for (uint64_t i = 0; i < g->n_tensors; i++) list[i] = (named){g->tensors[i].name, i};
    uint64_t dup = 0, first = 0;
    int found = find_duplicate(list, g->n_tensors, &dup, &first);
    free(list);
    if (!found) return 0;
    set_ctx(r, "tensor", dup, &g->tensors[dup].name);
    return fail_at(r, str_offset(r, g->tensors[dup].name),
                   "duplicate tensor name (first used by tensor %" PRIu64 ")", first);
}

/* Places every tensor in the data section and checks it lies inside the file. */
static int locate_data(reader *r, qk_gguf *g) {
    uint64_t start;
    if (qk_gguf_align_up(r->pos, g->alignment, &start)) start = UINT64_MAX;
    /* With no tensors ggml does not seek to the data section; keep data_start inside the file. */
    g->data_start = (g->n_tensors == 0 && start > r->size) ? r->size : start;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        qk_gguf_tensor *t = &g->tensors[i];
        uint64_t offset_at = str_offset(r, t->name) + 8 + t->name.len + 4 + 8 * t->n_dims + 4;
        uint64_t begin, end;
        set_ctx(r, "tensor", i, &t->name);
        if (__builtin_add_overflow(start, t->offset, &begin) ||
            __builtin_add_overflow(begin, t->nbytes, &end) || end > r->size)
            return fail_at(r, offset_at,
                           "data (%" PRIu64 " bytes at data section %" PRIu64 " + offset %" PRIu64
                           ") runs past the end of the %" PRIu64 "-byte file",
                           t->nbytes, start, t->offset, r->size);
        t->data = r->base + begin;
    }
    return 0;
}

/* ---- header ---- */

static int read_magic_version(reader *r, qk_gguf *g) {
    if (left(r) < 4) return truncated(r, "magic", 4);
    const uint8_t *m = r->base;
    if (memcmp(m, "GGUF", 4) != 0)
        return fail_at(r, 0, "bad magic %02x %02x %02x %02x (expected \"GGUF\" = 47 47 55 46)",
                       m[0], m[1], m[2], m[3]);
    r->pos = 4;
    if (read_u32(r, "version", &g->version)) return -1;
    if (g->version == 0 || g->version == 1)
        return fail_at(r, 4,
                       "version %" PRIu32
                       " is invalid (GGUF v1 used 32-bit counts; v2 and v3 are accepted)",
                       g->version);
    if (g->version > 3 && (g->version & 0xffffu) == 0)
        return fail_at(r, 4,
                       "version %" PRIu32 " is unsupported: its low 16 bits are zero, so the "
                       "file is probably byte-swapped (big-endian)",
                       g->version);
    if (g->version > 3)
        return fail_at(r, 4, "version %" PRIu32 " is unsupported (this reader accepts 2 and 3)",
                       g->version);
    return 0;
}

/* Counts are bounded by what the bytes after the header could hold (this also rejects any count
 * with the top bit set), so the arrays allocated for them are bounded by the file size. */
static int read_counts(reader *r, qk_gguf *g) {
    if (read_u64(r, "tensor_count", &g->n_tensors)) return -1;
    if (read_u64(r, "metadata_kv_count", &g->n_kv)) return -1;
    uint64_t room = r->size - GGUF_HEADER_BYTES;
    if (g->n_tensors > room / MIN_TENSOR_BYTES)
        return fail_at(r, 8,
                       "tensor_count %" PRIu64 " exceeds what the %" PRIu64
                       "-byte file can hold (at most %" PRIu64 " tensor infos of >= %u bytes)",
                       g->n_tensors, r->size, room / MIN_TENSOR_BYTES, MIN_TENSOR_BYTES);
    room -= g->n_tensors * MIN_TENSOR_BYTES;
    if (g->n_kv > room / MIN_KV_BYTES)
        return fail_at(r, 16,
                       "metadata_kv_count %" PRIu64 " exceeds what the %" PRIu64
                       "-byte file can hold (at most %" PRIu64 " kvs of >= %u bytes besides the "
                       "tensor infos)",
                       g->n_kv, r->size, room / MIN_KV_BYTES, MIN_KV_BYTES);
    return 0;
}

/* Robustness: record arrays grow with the records read, not with the header's claimed counts. */
static void *room_for(void *arr, uint64_t *cap, uint64_t i, uint64_t n, size_t elem) {
    if (i < *cap) return arr;
    uint64_t c = *cap < 32 ? 64 : 2 * *cap;
    if (c > n) c = n;
    uint8_t *p = realloc(arr, (size_t)c * elem);
    if (!p) return NULL; /* arr is still the caller's */
    memset(p + *cap * elem, 0, (size_t)(c - *cap) * elem);
    *cap = c;
    return p;
}

static int parse(qk_gguf *g, qk_error *err) {
    reader r = {.base = g->map, .size = g->size, .name = g->path, .err = err};
    if (read_magic_version(&r, g) || read_counts(&r, g)) return -1;
    /* calloc(0) may return NULL: always ask for at least one record. */
    g->kv = calloc(1, sizeof *g->kv);
    g->tensors = calloc(1, sizeof *g->tensors);
    uint64_t kv_cap = 1, tensor_cap = 1;
    if (!g->kv || !g->tensors) return qk_fail(err, "%s: out of memory for the header", g->path);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        qk_gguf_kv *kv = room_for(g->kv, &kv_cap, i, g->n_kv, sizeof *g->kv);
        if (!kv) return qk_fail(err, "%s: out of memory for %" PRIu64 " kvs", g->path, g->n_kv);
        g->kv = kv;
        if (read_kv(&r, i, &g->kv[i])) return -1;
    }
    if (check_unique_keys(&r, g) || read_alignment(&r, g)) return -1;
    uint64_t expected_offset = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        qk_gguf_tensor *t = room_for(g->tensors, &tensor_cap, i, g->n_tensors, sizeof *g->tensors);
        if (!t)
            return qk_fail(err, "%s: out of memory for %" PRIu64 " tensor infos", g->path,
                           g->n_tensors);
        g->tensors = t;
        if (read_tensor_info(&r, g, i, &expected_offset)) return -1;
    }
    if (check_unique_names(&r, g)) return -1;
    return locate_data(&r, g);
}

/* Takes ownership of the map when map_owned (also on failure). */
static int init(qk_gguf *g, const uint8_t *map, uint64_t size, const char *name, int map_owned,
                qk_error *err) {
    memset(g, 0, sizeof *g);
    g->map = map;
    g->size = size;
    g->map_owned = map_owned;
    g->path_owned = strdup(name);
    g->path = g->path_owned;
    if (!g->path_owned) {
        qk_gguf_close(g);
        return qk_fail(err, "%s: out of memory", name);
    }
    if (parse(g, err) == 0) return 0;
    qk_gguf_close(g);
    return -1;
}

int qk_gguf_open_memory(qk_gguf *g, const void *buf, uint64_t size, const char *name,
                        qk_error *err) {
    static const uint8_t empty[1];
    if (!name) name = "<memory>";
    if (!buf) {
        if (size) {
            memset(g, 0, sizeof *g);
            return qk_fail(err, "%s: NULL buffer of %" PRIu64 " bytes", name, size);
        }
        buf = empty;
    }
    return init(g, buf, size, name, 0, err);
}

int qk_gguf_open(qk_gguf *g, const char *path, qk_error *err) {
    memset(g, 0, sizeof *g);
    /* a regular file, checked without blocking (a FIFO given as the model never hangs) */
    struct stat st;
    int fd = qk_input_open(path, "model file", &st, err);
    if (fd < 0) return -1;
    if (st.st_size == 0) { /* mmap refuses length 0; the parser reports the missing magic */
        close(fd);
        return qk_gguf_open_memory(g, NULL, 0, path, err);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return qk_fail(err, "%s: %lld bytes do not fit in the address space", path,
                       (long long)st.st_size);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping stays valid */
    if (m == MAP_FAILED)
        return qk_fail(err, "%s: cannot map %lld bytes: %s", path, (long long)st.st_size,
                       strerror(e));
    return init(g, m, (uint64_t)st.st_size, path, 1, err);
}

void qk_gguf_close(qk_gguf *g) {
    if (!g) return;
    if (g->map_owned && g->map) munmap((void *)g->map, (size_t)g->size);
    free(g->kv);
    free(g->tensors);
    free(g->path_owned);
    memset(g, 0, sizeof *g);
}

/* ---- lookups and getters ---- */

const qk_gguf_kv *qk_gguf_find_kv(const qk_gguf *g, const char *key) {
    for (uint64_t i = 0; g && g->kv && i < g->n_kv; i++)
        if (qk_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const qk_gguf_tensor *qk_gguf_find_tensor(const qk_gguf *g, const char *name) {
    for (uint64_t i = 0; g && g->tensors && i < g->n_tensors; i++)
        if (qk_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static const char *gname(const qk_gguf *g) {
    return g && g->path ? g->path : "gguf";
}

static const qk_gguf_kv *find_typed(const qk_gguf *g, const char *key, qk_error *err) {
    const qk_gguf_kv *kv = qk_gguf_find_kv(g, key);
    if (!kv) qk_fail(err, "%s: key '%s' not found", gname(g), key ? key : "(null)");
    return kv;
}

static int wrong_type(const qk_gguf *g, const qk_gguf_kv *kv, const char *key, const char *expected,
                      qk_error *err) {
    return qk_fail(err, "%s: key '%s' has type %s%s%s, expected %s", gname(g), key,
                   qk_gguf_vtype_name(kv->type), kv->type == QK_GGUF_ARRAY ? " of " : "",
                   kv->type == QK_GGUF_ARRAY ? qk_gguf_vtype_name(kv->arr_type) : "", expected);
}

/* Reads an integer value as signed or unsigned; -1 if the type is not an integer type. */
static int int_value(const qk_gguf_kv *kv, int *is_signed, int64_t *s, uint64_t *u) {
    const uint8_t *p = kv->value;
    *is_signed = 1;
    switch (kv->type) {
    case QK_GGUF_INT8:
        *s = (int8_t)p[0];
        return 0;
    case QK_GGUF_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        *s = v;
        return 0;
    }
    case QK_GGUF_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        *s = v;
        return 0;
    }
    case QK_GGUF_INT64:
        memcpy(s, p, 8);
        return 0;
    default:
        break;
    }
    *is_signed = 0;
    switch (kv->type) {
    case QK_GGUF_UINT8:
        *u = p[0];
        return 0;
    case QK_GGUF_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        *u = v;
        return 0;
    }
    case QK_GGUF_UINT32:
        *u = rd_u32(p);
        return 0;
    case QK_GGUF_UINT64:
        *u = rd_u64(p);
        return 0;
    default:
        return -1;
    }
}

int qk_gguf_get_u32(const qk_gguf *g, const char *key, uint32_t *out, qk_error *err) {
    const qk_gguf_kv *kv = find_typed(g, key, err);
    if (!kv) return -1;
    int is_signed;
    int64_t s = 0;
    uint64_t u = 0;
    if (int_value(kv, &is_signed, &s, &u)) return wrong_type(g, kv, key, "an integer", err);
    if (is_signed && s < 0)
        return qk_fail(err, "%s: key '%s' (%s) value %" PRId64 " does not fit in u32", gname(g),
                       key, qk_gguf_vtype_name(kv->type), s);
    if (is_signed) u = (uint64_t)s;
    if (u > UINT32_MAX)
        return qk_fail(err, "%s: key '%s' (%s) value %" PRIu64 " does not fit in u32", gname(g),
                       key, qk_gguf_vtype_name(kv->type), u);
    *out = (uint32_t)u;
    return 0;
}

int qk_gguf_get_f32(const qk_gguf *g, const char *key, float *out, qk_error *err) {
    const qk_gguf_kv *kv = find_typed(g, key, err);
    if (!kv) return -1;
    if (kv->type == QK_GGUF_FLOAT32) {
        memcpy(out, kv->value, sizeof *out);
        return 0;
    }
    if (kv->type != QK_GGUF_FLOAT64) return wrong_type(g, kv, key, "FLOAT32 or FLOAT64", err);
    double d;
    memcpy(&d, kv->value, sizeof d);
    if (isfinite(d) && fabs(d) > FLT_MAX) /* the conversion would be undefined */
        return qk_fail(err, "%s: key '%s' (FLOAT64) value %g does not fit in f32", gname(g), key,
                       d);
    *out = (float)d;
    return 0;
}

int qk_gguf_get_bool(const qk_gguf *g, const char *key, int *out, qk_error *err) {
    const qk_gguf_kv *kv = find_typed(g, key, err);
    if (!kv) return -1;
    if (kv->type != QK_GGUF_BOOL) return wrong_type(g, kv, key, "BOOL", err);
    *out = kv->value[0] != 0;
    return 0;
}

int qk_gguf_get_str(const qk_gguf *g, const char *key, qk_str *out, qk_error *err) {
    const qk_gguf_kv *kv = find_typed(g, key, err);
    if (!kv) return -1;
    if (kv->type != QK_GGUF_STRING) return wrong_type(g, kv, key, "STRING", err);
    const uint8_t *cursor = kv->value;
    *out = qk_gguf_arr_str_next(&cursor);
    return 0;
}

const uint8_t *qk_gguf_arr_elem(const qk_gguf_kv *kv, uint64_t i) {
    if (!kv || kv->type != QK_GGUF_ARRAY || i >= kv->arr_n) return NULL;
    int size = qk_gguf_vtype_size(kv->arr_type);
    return size ? kv->value + i * (uint64_t)size : NULL;
}

int qk_gguf_arr_str(const qk_gguf_kv *kv, uint64_t i, qk_str *out) {
    if (!kv || kv->type != QK_GGUF_ARRAY || kv->arr_type != QK_GGUF_STRING || i >= kv->arr_n)
        return -1;
    const uint8_t *cursor = kv->value;
    for (uint64_t j = 0; j < i; j++) qk_gguf_arr_str_next(&cursor);
    *out = qk_gguf_arr_str_next(&cursor);
    return 0;
}

/* Trusts the cursor: only valid inside an array the reader validated, at most arr_n times. */
qk_str qk_gguf_arr_str_next(const uint8_t **cursor) {
    qk_str s = {(const char *)(*cursor + 8), rd_u64(*cursor)};
    *cursor += 8 + s.len;
    return s;
}

int qk_gguf_check_shape(const qk_gguf *g, const qk_gguf_tensor *t, const char *name, int64_t ne0,
                        int64_t ne1, qk_error *err) {
    if (!t) return qk_fail(err, "%s: tensor %s is missing", g->path, name);
    int64_t want_n_dims = ne1 > 1 ? 2 : 1;
    if ((int64_t)t->n_dims > want_n_dims || t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 ||
        t->ne[3] != 1)
        return qk_fail(err,
                       "%s: tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                       g->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1);
    return 0;
}
