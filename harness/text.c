/* Text inputs of the commands and the runner: integer lists (token ids), text files read one text
 * per line, texts tokenized with a model's task prompt. */
#define _GNU_SOURCE /* getline, strdup */
#include "harness/text.h"

#include "common/input_file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int qk_parse_int_list(const char *s, int32_t **out, int *n, qk_error *err) {
    *out = NULL;
    *n = 0;
    int cap = 16, count = 0;
    int32_t *v = malloc((size_t)cap * sizeof *v);
    if (!v) return qk_fail(err, "out of memory");
    const char *p = s;
    int after_comma = 0; /* a comma was the last separator: an item must follow */
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (*p == ',' || (!*p && after_comma)) {
            /* "2,,1", ",2" and "2,": an id left out is an error, never dropped */
            free(v);
            return qk_fail(err, "bad integer list '%s': empty item at character %d", s,
                           (int)(p - s) + 1);
        }
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
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        after_comma = *p == ',';
        if (after_comma) p++;
    }
    *out = v;
    *n = count;
    return 0;
}

void qk_free_lines(char **lines, int n) {
    for (int i = 0; lines && i < n; i++) free(lines[i]);
    free(lines);
}

int qk_split_lines(const char *text, size_t len, const char *name, char ***lines, int *n,
                   qk_error *err) {
    *lines = NULL;
    *n = 0;
    char **v = NULL;
    size_t cap = 0, count = 0;
    int rc = 0;
    for (size_t start = 0; start < len && rc == 0;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len, l = end - start;
        if (l && text[start + l - 1] == '\r') l--; /* CRLF line endings are line endings */
        /* a NUL would cut the line short, a lone CR is invisible: both refused, at their place */
        const char *nul = memchr(text + start, 0, l), *cr = memchr(text + start, '\r', l);
        if (nul || cr) {
            const char *at = nul && (!cr || nul < cr) ? nul : cr;
            int line, col;
            qk_text_position(text, len, (size_t)(at - text), &line, &col);
            rc = qk_fail(err, "%s:%d:%d: %s in a text line (one text per line: remove it)", name,
                         line, col, at == nul ? "NUL byte" : "carriage return (CR) alone");
            break;
        }
        if (count == (size_t)INT32_MAX) {
            rc = qk_fail(err, "%s: more than %d lines", name, INT32_MAX);
            break;
        }
        if (count == cap) { /* geometric growth: 180,000 lines are 18 reallocations, not 180,000 */
            const size_t ncap = cap ? 2 * cap : 64;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = qk_fail(err, "out of memory reading %s", name);
                break;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[count] = strndup(text + start, l))) {
            rc = qk_fail(err, "out of memory reading %s", name);
            break;
        }
        count++;
        start = end + 1;
    }
    if (rc) {
        qk_free_lines(v, (int)count);
        return rc;
    }
    *lines = v;
    *n = (int)count;
    return 0;
}

int qk_read_text_input(const char *path, char **data, size_t *len, qk_error *err) {
    return qk_input_read(path, "text file", QK_TEXT_MAX_BYTES, data, len, err);
}

int qk_read_lines(const char *path, char ***lines, int *n, qk_error *err) {
    *lines = NULL;
    *n = 0;
    char *text;
    size_t len;
    if (qk_read_text_input(path, &text, &len, err)) return -1;
    const int rc = qk_split_lines(text, len, path, lines, n, err);
    free(text);
    return rc;
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
