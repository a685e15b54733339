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
    char **lines;
    int n_lines, rc = 0;
    if (qk_read_lines(path, &lines, &n_lines, err)) return -1;
    for (int i = 0; i < n_lines && rc == 0; i++) {
        int32_t *ids;
        int n;
        if (qk_parse_int_list(lines[i], &ids, &n, err)) {
            rc = qk_fail_prefix(err, "%s:%d", path, i + 1);
            break;
        }
        if (n == 0) {
            free(ids);
            continue;
        }
        if (r->n_seq == QK_REF_MAX_SEQ) {
            free(ids);
            rc = qk_fail(err, "%s:%d: more than %d sequences", path, i + 1, QK_REF_MAX_SEQ);
            break;
        }
        r->tokens[r->n_seq] = ids;
        r->n_tokens[r->n_seq++] = n;
    }
    qk_free_lines(lines, n_lines);
    if (rc) qk_refdata_free(r);
    return rc;
}

/* Parses a line of blank-separated numbers into a new array (*n values): every value must be a
 * finite number (a NaN in a reference would make every comparison with it meaningless) and nothing
 * else may be on the line. 0, or -1 with err ("value K ..."). */
static int parse_floats(const char *s, float **out, int *n, qk_error *err) {
    int cap = 256, count = 0;
    float *v = malloc((size_t)cap * sizeof *v);
    if (!v) return qk_fail(err, "out of memory");
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        char *end;
        const float x = strtof(s, &end);
        if (end == s || (*end && *end != ' ' && *end != '\t')) {
            free(v);
            return qk_fail(err, "value %d: '%.20s' is not a number", count + 1, s);
        }
        if (!isfinite(x)) {
            free(v);
            return qk_fail(err, "value %d is %.*s: a reference must be finite", count + 1,
                           (int)(end - s > 20 ? 20 : end - s), s);
        }
        if (count == cap) {
            float *nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return qk_fail(err, "out of memory");
            }
            v = nv;
        }
        v[count++] = x;
        s = end;
    }
    *out = v;
    *n = count;
    return 0;
}

int qk_refdata_read_embeddings(qk_refdata *r, const char *path, qk_error *err) {
    char **lines;
    int n_lines, rc = 0;
    if (qk_read_lines(path, &lines, &n_lines, err)) return -1;
    for (int s = 0; s < r->n_seq && rc == 0; s++) {
        free(r->embedding[s]);
        free(r->hidden[s]);
        r->embedding[s] = r->hidden[s] = NULL;
        const int l0 = 3 * s; /* "seq", the embedding, "hidden": three lines per sequence */
        int idx, n, dim = 0, hdim = 0;
        char tail;
        if (l0 >= n_lines || sscanf(lines[l0], "seq %d n_tokens %d %c", &idx, &n, &tail) != 2 ||
            idx != s || n != r->n_tokens[s]) {
            rc = qk_fail(err, "%s:%d: expected 'seq %d n_tokens %d'", path, l0 + 1, s,
                         r->n_tokens[s]);
            break;
        }
        if (l0 + 1 >= n_lines) {
            rc = qk_fail(err, "%s:%d: expected the embedding of sequence %d", path, l0 + 2, s);
            break;
        }
        if (parse_floats(lines[l0 + 1], &r->embedding[s], &dim, err) || dim < 1) {
            if (dim < 1 && r->embedding[s]) qk_fail(err, "no values");
            rc = qk_fail_prefix(err, "%s:%d: the embedding of sequence %d", path, l0 + 2, s);
            break;
        }
        if (l0 + 2 >= n_lines || strncmp(lines[l0 + 2], "hidden ", 7) != 0 ||
            parse_floats(lines[l0 + 2] + 7, &r->hidden[s], &hdim, err) || hdim != dim) {
            rc = qk_fail(err, "%s:%d: expected 'hidden' and %d finite floats", path, l0 + 3, dim);
            break;
        }
        if (s > 0 && dim != r->dim) {
            rc = qk_fail(err, "%s:%d: %d values, earlier sequences had %d", path, l0 + 2, dim,
                         r->dim);
            break;
        }
        r->dim = dim;
    }
    qk_free_lines(lines, n_lines);
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
    if (!isfinite(ab) || !isfinite(aa) || !isfinite(bb)) return NAN; /* never "cosine 0" */
    return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : (aa == bb ? 1.0 : 0.0);
}

double qk_max_abs_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* a NaN difference stays NaN (fmax would drop it) */
        if (isnan(m)) return NAN;
    }
    return m;
}
