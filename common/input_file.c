#include "common/input_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory"; /* (opened: O_RDONLY allows it) */
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    return "not a regular file";
}

int qk_input_open(const char *path, const char *what, struct stat *st, qk_error *err) {
    if (!path || !*path) return qk_fail(err, "empty path given for the %s", what);
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait for one forever */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int e = errno;
        struct stat ls;
        if (e == EISDIR || (stat(path, &ls) == 0 && S_ISDIR(ls.st_mode)))
            return qk_fail(err, "%s: is a directory; the %s must be a file", path, what);
        return qk_fail(err, "%s: cannot open the %s: %s", path, what, strerror(e));
    }
    struct stat s;
    if (fstat(fd, &s) != 0) {
        const int e = errno;
        close(fd);
        return qk_fail(err, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(s.st_mode)) {
        close(fd);
        return qk_fail(err, "%s: is %s; the %s must be a regular file", path, kind_of(s.st_mode),
                       what);
    }
    const int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (st) *st = s;
    return fd;
}

static void size_text(size_t n, char *buf, size_t size) {
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        snprintf(buf, size, "%zu MiB", n >> 20);
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, size, "%zu KiB", n >> 10);
    else
        snprintf(buf, size, "%zu bytes", n);
}

int qk_input_read(const char *path, const char *what, size_t max_bytes, char **data, size_t *len,
                  qk_error *err) {
    *data = NULL;
    *len = 0;
    struct stat st;
    const int fd = qk_input_open(path, what, &st, err);
    if (fd < 0) return -1;
    char limit[32];
    size_text(max_bytes, limit, sizeof limit);
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return qk_fail(err, "%s: %lld bytes: larger than the %s may be (%s)", path,
                       (long long)st.st_size, what, limit);
    }
    /* the size fstat gives, plus one byte to see growth; a file that changed is read as it is */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return qk_fail(err, "%s: out of memory for %zu bytes", path, cap);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) break; /* read max_bytes + 1: too large */
            size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                close(fd);
                return qk_fail(err, "%s: out of memory for %zu bytes", path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        const ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            const int e = errno;
            free(buf);
            close(fd);
            return qk_fail(err, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > max_bytes) {
        free(buf);
        return qk_fail(err, "%s: larger than the %s may be (%s)", path, what, limit);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

void qk_text_position(const char *text, size_t len, size_t off, int *line, int *col) {
    int l = 1;
    size_t start = 0;
    for (size_t i = 0; i < off && i < len; i++)
        if (text[i] == '\n') l++, start = i + 1;
    *line = l;
    *col = (int)(off - start) + 1;
}

size_t qk_utf8_invalid_at(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        const unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int n;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0)
            n = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            n = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            n = 3, cp = c & 0x07, min = 0x10000;
        else
            return i;
        if (len - i <= (size_t)n) return i;
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += (size_t)n + 1;
    }
    return len;
}
