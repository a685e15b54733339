/* The parsing step of the parse-per-block variants (the seed's baseline): one Q8_0 block decoded
 * into a struct returned by value, fp16 scale converted in software on every call. */
#ifndef QK_KERNELS_PARSE_BLOCK_H
#define QK_KERNELS_PARSE_BLOCK_H

#include <stdint.h>

typedef struct {
    float d;
    int8_t qs[32];
} qk_parsed_block;

/* Defined in kernels/parse-block.c, its own translation unit built without ISA flags and marked
 * noinline: every ISA's parse-per-block pays a real call, a software fp16 conversion and a 32-byte
 * copy per block, as the seed did. */
qk_parsed_block qk_parse_block(const uint8_t *blk);

#endif
