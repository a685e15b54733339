/* qk_error: what every fallible function fills when it returns non-zero.
 * The message names the file, the offset or line, and what was expected. */
#ifndef QK_COMMON_ERROR_H
#define QK_COMMON_ERROR_H

#include <stddef.h>

typedef struct {
    char msg[512];
} qk_error;

/* Formats into err (if non-NULL) and returns -1, so callers can `return qk_fail(err, ...)`. */
int qk_fail(qk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message (adds context while unwinding). */
int qk_fail_prefix(qk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
