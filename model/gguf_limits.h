/* The GGUF limits and arithmetic the reader (gguf.c) and the writer (gguf_write.c) share. Internal
 * to model/. */
#ifndef QK_MODEL_GGUF_LIMITS_H
#define QK_MODEL_GGUF_LIMITS_H

#include <stdint.h>

#define GGUF_HEADER_BYTES      24u
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_STRING        (UINT64_C(1) << 30) /* ggml's cap on strings */
#define GGUF_MAX_ARRAY         (UINT64_C(1) << 30) /* ggml's cap on array elements */
#define GGUF_MAX_KEY           65535u              /* spec limit on key length */
#define GGUF_MAX_NAME          63u                 /* ggml: names shorter than GGML_MAX_NAME (64) */
#define GGUF_MAX_DIMS          4u
#define GGUF_VTYPE_COUNT       13u
/* Smallest possible records, to bound counts by the bytes left before allocating anything:
 * a kv is key length + 1-byte key + value type + 1-byte value; a tensor info is name length +
 * 1-byte name + n_dims + one ne + type + offset. */
#define MIN_KV_BYTES     (8u + 1u + 4u + 1u)
#define MIN_TENSOR_BYTES (8u + 1u + 4u + 8u + 4u + 8u)

#define KEY_ALIGNMENT "general.alignment"

static inline int qk_gguf_is_pow2(uint64_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

/* Rounds x up to a multiple of the power of two a; 0 if that overflows (x is never 0 there). */
static inline int qk_gguf_align_up(uint64_t x, uint64_t a, uint64_t *out) {
    uint64_t r;
    if (__builtin_add_overflow(x, a - 1, &r)) return -1;
    *out = r & ~(a - 1);
    return 0;
}

#endif
