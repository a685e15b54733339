/* Where a weight block's 32 quants and its scale come from: the only thing the four seed variants
 * do differently. Each ISA's core (kernels/<isa>/dot.h) takes one of these as a compile-time
 * constant and is otherwise shared, so within one ISA the four variants do the same arithmetic in
 * the same order and their outputs are bit-identical. A fetch fills *d and returns the quants;
 * release ends the block's lifetime. */
#ifndef QK_KERNELS_FETCH_H
#define QK_KERNELS_FETCH_H

#include "kernels/kernel.h"
#include "kernels/parse-block.h"

#include <stdlib.h>
#include <string.h>

#define QK_INLINE static inline __attribute__((always_inline))

/* Per-block storage a variant may need while the block is in use. */
typedef struct {
    qk_parsed_block parsed;       /* parse-per-block: the parser's result */
    _Alignas(32) int8_t copy[32]; /* precached-scales: the stack copy */
    int8_t *heap;                 /* alloc-copy: the heap copy */
} qk_block_slot;

typedef const int8_t *(*qk_fetch_fn)(const qk_q8_matrix *w, size_t blk, qk_block_slot *s, float *d,
                                     qk_alloc_stats *count);
typedef void (*qk_release_fn)(qk_block_slot *s);

/* An empty asm that may read and write the 32 bytes at p: the copy must really be made, and the dot
 * product must load from the copy (without it the compiler forwards the source and drops the copy).
 */
QK_INLINE void qk_opaque32(void *p) {
    __asm__ volatile("" : "+m"(*(int8_t(*)[32])p));
}

static inline const uint8_t *qk_block_at(const qk_q8_matrix *w, size_t blk) {
    return w->blocks + blk * QK8_0_BLOCK_BYTES;
}

/* parse-per-block: call the non-inlined parser (software fp16 -> fp32, copy into a struct returned
 * by value) on every block; no scale table is read. */
QK_INLINE const int8_t *qk_fetch_parse(const qk_q8_matrix *w, size_t blk, qk_block_slot *s,
                                       float *d, qk_alloc_stats *count) {
    (void)count;
    s->parsed = qk_parse_block(qk_block_at(w, blk));
    *d = s->parsed.d;
    return s->parsed.qs;
}

/* precached-scales: scale from the load-time table; quants copied into a stack buffer. Part of the
 * copy's real cost: GCC (generic tuning) moves the 32 bytes as two 16-byte halves, and a 32-byte
 * vector load of the buffer right after cannot be store-forwarded from two stores, so the SIMD
 * kernels wait for the stores to retire (the scalar one, reading bytes, does not). Go's 32-byte
 * copy does the same. */
QK_INLINE const int8_t *qk_fetch_copy(const qk_q8_matrix *w, size_t blk, qk_block_slot *s, float *d,
                                      qk_alloc_stats *count) {
    (void)count;
    memcpy(s->copy, qk_block_at(w, blk) + 2, 32);
    qk_opaque32(s->copy);
    *d = w->scales[blk];
    return s->copy;
}

/* alloc-copy: the seed's "allocation disaster", kept on purpose: a fresh 32-byte heap buffer per
 * block, filled, used, freed. malloc and free are called through volatile pointers so the compiler
 * can neither prove they are malloc/free nor elide the pair. Counted locally; the kernel adds the
 * total to the registry's counter once per call, so the counting itself does not contend across
 * threads. */
QK_INLINE const int8_t *qk_fetch_heap(const qk_q8_matrix *w, size_t blk, qk_block_slot *s, float *d,
                                      qk_alloc_stats *count) {
    static void *(*volatile alloc)(size_t) = malloc;
    const uint8_t *src = qk_block_at(w, blk) + 2;
    *d = w->scales[blk];
    s->heap = alloc(32);
    if (!s->heap) return (const int8_t *)src; /* out of memory: read in place rather than fail */
    memcpy(s->heap, src, 32);
    qk_opaque32(s->heap);
    count->allocations++;
    count->bytes += 32;
    return s->heap;
}

QK_INLINE void qk_release_heap(qk_block_slot *s) {
    static void (*volatile release)(void *) = free;
    release(s->heap);
    s->heap = NULL;
}

/* zero-copy: scale from the table, quants read in place from the mapped 34-byte blocks. */
QK_INLINE const int8_t *qk_fetch_inplace(const qk_q8_matrix *w, size_t blk, qk_block_slot *s,
                                         float *d, qk_alloc_stats *count) {
    (void)s, (void)count;
    *d = w->scales[blk];
    return (const int8_t *)(qk_block_at(w, blk) + 2);
}

QK_INLINE void qk_release_none(qk_block_slot *s) {
    (void)s;
}

#endif
