#include "harness/refdata.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/text.h"

int qk_refdata_read_tokens(qk_refdata *r, const char *path, qk_error *err) {
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f) return qk_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        int32_t *ids;
        int n;
        if (qk_parse_int_list(line, &ids, &n, err)) {
            rc = qk_fail_prefix(err, "%s:%d", path, lineno);
            break;
        }
        if (n == 0) {
            free(ids);
            continue;
        }
        if (r->n_seq == QK_REF_MAX_SEQ) {
            free(ids);
            rc = qk_fail(err, "%s:%d: more than %d sequences", path, lineno, QK_REF_MAX_SEQ);
            break;
        }
        r->tokens[r->n_seq] = ids;
        r->n_tokens[r->n_seq++] = n;
    }
    free(line);
    fclose(f);
    if (rc) qk_refdata_free(r);
    return rc;
}

/* Parses a line of floats into a new array; *n gets the count. */
static float *parse_floats(const char *s, int *n) {
    int cap = 256, count = 0;
    float *v = malloc((size_t)cap * sizeof *v);
    while (v) {
        char *end;
        float x = strtof(s, &end);
        if (end == s) break;
        if (count == cap) {
            float *nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return NULL;
            }
            v = nv;
        }
        v[count++] = x;
        s = end;
    }
    *n = count;
    return v;
}

int qk_refdata_read_embeddings(qk_refdata *r, const char *path, qk_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return qk_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    for (int s = 0; s < r->n_seq && rc == 0; s++) {
        free(r->embedding[s]);
        free(r->hidden[s]);
        r->embedding[s] = r->hidden[s] = NULL;
        int idx, n, dim, hdim;
        lineno++;
        if (getline(&line, &cap, f) < 0 || sscanf(line, "seq %d n_tokens %d", &idx, &n) != 2 ||
            idx != s || n != r->n_tokens[s]) {
            rc = qk_fail(err, "%s:%d: expected 'seq %d n_tokens %d'", path, lineno, s,
                         r->n_tokens[s]);
            break;
        }
        lineno++;
        if (getline(&line, &cap, f) < 0 || !(r->embedding[s] = parse_floats(line, &dim)) ||
            dim < 1) {
            rc = qk_fail(err, "%s:%d: expected the embedding of sequence %d", path, lineno, s);
            break;
        }
        lineno++;
        if (getline(&line, &cap, f) < 0 || strncmp(line, "hidden ", 7) != 0 ||
            !(r->hidden[s] = parse_floats(line + 7, &hdim)) || hdim != dim) {
            rc = qk_fail(err, "%s:%d: expected 'hidden' and %d floats", path, lineno, dim);
            break;
        }
        if (s > 0 && dim != r->dim) {
            rc = qk_fail(err, "%s:%d: %d values, earlier sequences had %d", path, lineno - 1, dim,
                         r->dim);
            break;
        }
        r->dim = dim;
    }
    free(line);
    fclose(f);
    return rc;
}

void qk_refdata_free(qk_refdata *r) {
    for (int s = 0; s < QK_REF_MAX_SEQ; s++) {
        free(r->tokens[s]);
        free(r->embedding[s]);
        free(r->hidden[s]);
    }
    memset(r, 0, sizeof *r);
}

const char *qk_testdata_dir(void) {
    const char *env = getenv("QK_TESTDATA_DIR");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    static const char dflt[] = QK_SOURCE_DIR "/../shared/testdata";
    return access(dflt, R_OK) == 0 ? dflt : NULL;
}

double qk_cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : (aa == bb ? 1.0 : 0.0);
}

double qk_max_abs_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}
