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

int qk_cli_error(const char *cmd, int code, const qk_error *err) {
    fprintf(stderr, "qkbench %s: %s\n", cmd, err->msg);
    return code;
}
