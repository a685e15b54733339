/* The independent references in ../shared/testdata: token sequences (one per line) and embeddings
 * ("seq I n_tokens N", the embedding line, "hidden ..." line per sequence; see its README). */
#ifndef QK_HARNESS_REFDATA_H
#define QK_HARNESS_REFDATA_H

#include <stdint.h>

#include "common/error.h"

#define QK_REF_MAX_SEQ 64

typedef struct {
    int n_seq, dim;
    int32_t *tokens[QK_REF_MAX_SEQ];
    int n_tokens[QK_REF_MAX_SEQ];
    float *embedding[QK_REF_MAX_SEQ]; /* dim floats each (after qk_refdata_read_embeddings) */
    float *hidden[QK_REF_MAX_SEQ];    /* final-norm hidden state of token 0 */
} qk_refdata;

int qk_refdata_read_tokens(qk_refdata *r, const char *path, qk_error *err);
/* Reads a reference file for the sequences already read; replaces earlier embeddings. Every value
 * must be a finite number; every sequence has the same width (r->dim). */
int qk_refdata_read_embeddings(qk_refdata *r, const char *path, qk_error *err);
void qk_refdata_free(qk_refdata *r);

/* The testdata folder: $QK_TESTDATA_DIR, else QK_SOURCE_DIR/../shared/testdata; NULL if absent. */
const char *qk_testdata_dir(void);

/* Cosine similarity and the largest absolute difference of a[0..n) and b[0..n); NAN when a value
 * is not finite (never a plausible number). */
double qk_cosine(const float *a, const float *b, int n);
double qk_max_abs_diff(const float *a, const float *b, int n);

#endif
