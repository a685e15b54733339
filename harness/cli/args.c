#include "harness/cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qk_parse_int(const char *s, const char *name, long lo, long hi, long *out, qk_error *err) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != 0 || v < lo || v > hi)
        return qk_fail(err, "%s: '%s' is not an integer in %ld..%ld", name, s, lo, hi);
    *out = v;
    return 0;
}

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

int qk_cli_error(const char *cmd, int code, const qk_error *err) {
    fprintf(stderr, "qkbench %s: %s\n", cmd, err->msg);
    return code;
}
