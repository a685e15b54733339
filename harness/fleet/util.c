/* Small helpers of harness/fleet/: folders, whole-file reads and atomic writes, dates, string
 * arrays, and freeing the fleet's structures. */
#define _GNU_SOURCE /* vasprintf */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/fleet/internal.h"

int qkf_mkdir_p(const char *path, qk_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return qk_fail(err, "%.64s...: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return qk_fail(err, "%s: cannot create: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return qk_fail(err, "%s: cannot create: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return qk_fail(err, "%s: not a directory", buf);
    return 0;
}

int qkf_write_file(const char *path, const char *data, size_t len, int mode, qk_error *err) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return qk_fail(err, "%.64s...: path too long", path);
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return qk_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < len) {
        const ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    const int ok = done == len && fchmod(fd, (mode_t)mode) == 0 && fsync(fd) == 0;
    const int saved = errno;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        const int e = ok ? errno : saved;
        unlink(tmp);
        return qk_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

char *qkf_read_file(const char *path, size_t max, size_t *len) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= max) break;
            cap = cap * 2 > max ? max : cap * 2;
            char *g = realloc(buf, cap + 1);
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g;
        }
        const ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

void qkf_now_iso(char *buf, size_t size) {
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *qkf_strdup(const char *s) {
    return s ? strdup(s) : NULL;
}

int qkf_strv_push(qkf_strv *a, const char *s) {
    char *c = strdup(s);
    char **g = c ? realloc(a->v, (size_t)(a->n + 2) * sizeof *g) : NULL;
    if (!g) {
        free(c);
        return -1;
    }
    a->v = g;
    a->v[a->n++] = c;
    a->v[a->n] = NULL; /* always an argv */
    return 0;
}

int qkf_strv_pushf(qkf_strv *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    const int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) return -1;
    const int rc = qkf_strv_push(a, s);
    free(s);
    return rc;
}

void qkf_strv_free(qkf_strv *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

void qkf_submission_free(qk_fleet_submission *s) {
    free(s->job_id);
    free(s->tasks);
    free(s->date);
    for (int i = 0; i < s->argc; i++) free(s->argv[i]);
    free(s->argv);
    memset(s, 0, sizeof *s);
}

void qkf_target_free(qk_fleet_target *t) {
    free(t->name);
    free(t->selector);
    free(t->model);
    free(t->experiment);
    free(t->script);
    for (int i = 0; i < t->n_subs; i++) qkf_submission_free(&t->subs[i]);
    free(t->subs);
    memset(t, 0, sizeof *t);
}

void qk_fleet_free(qk_fleet *f) {
    if (!f) return;
    char **strs[] = {&f->dir,
                     &f->created,
                     &f->submit_dir,
                     &f->experiment_file,
                     &f->experiment_name,
                     &f->experiment_copy,
                     &f->model,
                     &f->binary,
                     &f->binary_source,
                     &f->binary_version,
                     &f->source_dir,
                     &f->report_selector};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) free(*strs[i]);
    for (int i = 0; i < f->n_targets; i++) qkf_target_free(&f->targets[i]);
    free(f->targets);
    qkf_target_free(&f->report);
    free(f);
}
