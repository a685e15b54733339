#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qk_fail(qk_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int qk_fail_prefix(qk_error *err, const char *fmt, ...) {
    if (err) {
        char prefix[256], old[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        /* truncation is acceptable: the front of the message says where */
        size_t n = (size_t)snprintf(err->msg, sizeof err->msg, "%s: ", prefix);
        if (n >= sizeof err->msg) n = sizeof err->msg - 1;
        size_t room = sizeof err->msg - 1 - n, len = strnlen(old, room);
        memcpy(err->msg + n, old, len);
        err->msg[n + len] = 0;
    }
    return -1;
}
