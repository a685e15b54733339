/* Text inputs of the commands and the runner: integer lists (token ids), text files read one text
 * per line, texts tokenized with a model's task prompt. */
#define _GNU_SOURCE /* getline, strdup */
#include "harness/text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int qk_parse_int_list(const char *s, int32_t **out, int *n, qk_error *err) {
    int cap = 16, count = 0;
    int32_t *v = malloc((size_t)cap * sizeof *v);
    if (!v) return qk_fail(err, "out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < INT32_MIN || x > INT32_MAX ||
            (*end && !strchr(", \t\r\n", *end))) {
            free(v);
            return qk_fail(err, "bad integer list '%s' at character %d", s, (int)(p - s) + 1);
        }
        if (count == cap) {
            int32_t *nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return qk_fail(err, "out of memory");
            }
            v = nv;
        }
        v[count++] = (int32_t)x;
        p = end;
    }
    *out = v;
    *n = count;
    return 0;
}

void qk_free_lines(char **lines, int n) {
    for (int i = 0; lines && i < n; i++) free(lines[i]);
    free(lines);
}

int qk_read_lines(const char *path, char ***lines, int *n, qk_error *err) {
    *lines = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return qk_fail(err, "%s: cannot open: %m", path);
    char *line = NULL, **v = NULL;
    size_t cap = 0;
    ssize_t len;
    int count = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        char **nv = realloc(v, (size_t)(count + 1) * sizeof *nv);
        char *copy = nv ? strdup(line) : NULL;
        if (nv) v = nv;
        if (!copy) {
            rc = qk_fail(err, "out of memory reading %s", path);
            break;
        }
        v[count++] = copy;
    }
    if (rc == 0 && ferror(f)) rc = qk_fail(err, "%s: read error", path);
    free(line);
    fclose(f);
    if (rc) {
        qk_free_lines(v, count);
        return rc;
    }
    *lines = v;
    *n = count;
    return 0;
}

int qk_tokenize_text(qk_tokenizer *t, const char *prompt, const char *text, int add_special,
                     int parse_special, int32_t **ids, int *n, qk_error *err) {
    *ids = NULL;
    *n = 0;
    const size_t lp = prompt ? strlen(prompt) : 0, lt = strlen(text);
    char *joined = malloc(lp + lt + 1);
    /* at most one token per byte, plus a space prefix per fragment and BOS/EOS */
    const size_t cap = 2 * (lp + lt) + 8;
    int32_t *out = cap < (size_t)INT32_MAX ? malloc(cap * sizeof *out) : NULL;
    if (!joined || !out) {
        free(joined);
        free(out);
        return qk_fail(err, "out of memory tokenizing %zu bytes", lp + lt);
    }
    if (lp) memcpy(joined, prompt, lp);
    memcpy(joined + lp, text, lt + 1);
    int rc =
        qk_tokenizer_encode(t, joined, lp + lt, add_special, parse_special, out, (int)cap, n, err);
    free(joined);
    if (rc) {
        free(out);
        return -1;
    }
    *ids = out;
    return 0;
}
