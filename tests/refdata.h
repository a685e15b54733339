/* Reads ../shared/testdata: token sequences and reference embeddings (format in its README). */
#ifndef QK_TESTS_REFDATA_H
#define QK_TESTS_REFDATA_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX_SEQ 16
#define REF_MAX_DIM 4096

typedef struct {
    int n_seq;
    int32_t *tokens[REF_MAX_SEQ];
    int n_tokens[REF_MAX_SEQ];
    int dim;
    float *embedding[REF_MAX_SEQ]; /* dim floats each */
    float *hidden[REF_MAX_SEQ];    /* final-norm hidden state of token 0 */
} refdata;

static inline int refdata_read_tokens(refdata *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[65536];
    r->n_seq = 0;
    while (fgets(line, sizeof line, f) && r->n_seq < REF_MAX_SEQ) {
        int32_t *ids = malloc(sizeof(int32_t) * 4096);
        int n = 0;
        for (char *p = strtok(line, " \n"); p && n < 4096; p = strtok(NULL, " \n")) ids[n++] = atoi(p);
        if (n == 0) {
            free(ids);
            continue;
        }
        r->tokens[r->n_seq] = ids;
        r->n_tokens[r->n_seq++] = n;
    }
    fclose(f);
    return 0;
}

static inline int read_floats(FILE *f, float *dst, int max) {
    int n = 0;
    int c;
    while (n < max && fscanf(f, "%f", &dst[n]) == 1) {
        n++;
        c = fgetc(f);
        if (c == '\n' || c == EOF) break;
        ungetc(c, f);
    }
    return n;
}

/* Reads one reference file's embeddings and hidden states into r (tokens must be read first). */
static inline int refdata_read_ref(refdata *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    for (int s = 0; s < r->n_seq; s++) {
        int idx, n;
        if (fscanf(f, " seq %d n_tokens %d ", &idx, &n) != 2 || idx != s || n != r->n_tokens[s]) {
            fclose(f);
            return -1;
        }
        r->embedding[s] = malloc(sizeof(float) * REF_MAX_DIM);
        r->hidden[s] = malloc(sizeof(float) * REF_MAX_DIM);
        r->dim = read_floats(f, r->embedding[s], REF_MAX_DIM);
        if (fscanf(f, " hidden ") != 0 || read_floats(f, r->hidden[s], REF_MAX_DIM) != r->dim) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static inline void refdata_free(refdata *r) {
    for (int s = 0; s < r->n_seq; s++) {
        free(r->tokens[s]);
        free(r->embedding[s]);
        free(r->hidden[s]);
    }
    memset(r, 0, sizeof *r);
}

static inline double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / (sqrt(aa) * sqrt(bb));
}

static inline double max_abs_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

#endif
