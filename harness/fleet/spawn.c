/* Running sbatch, squeue, sacct and scancel: posix_spawnp with an argv (no shell ever sees a
 * selector or a path), stdin from /dev/null, stdout and stderr read through pipes until the
 * command exits or its time is up. */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/fleet/internal.h"

extern char **environ;

#define OUT_MAX (4u << 20)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Appends what fd has to *buf; 1 at EOF (or error), 0 otherwise. */
static int drain(int fd, char **buf, size_t *len, size_t *cap) {
    char tmp[4096];
    const ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0) return errno == EINTR || errno == EAGAIN ? 0 : 1;
    if (r == 0) return 1;
    size_t n = (size_t)r;
    if (*len + n > OUT_MAX) n = OUT_MAX - *len; /* keep reading, drop the excess */
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1) c *= 2;
        char *g = realloc(*buf, c);
        if (!g) return 0; /* what we have stays; the rest is dropped */
        *buf = g, *cap = c;
    }
    memcpy(*buf + *len, tmp, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

int qkf_run(const char *const *argv, double timeout_s, qkf_cmd *res, qk_error *err) {
    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        const int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0) close(po[i]);
            if (pe[i] >= 0) close(pe[i]);
        }
        return qk_fail(err, "%s: cannot make a pipe: %s", argv[0], strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* nothing else of ours leaks into it */
    pid_t pid;
    const int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        return qk_fail(err, "cannot run %s: %s", argv[0], strerror(rc));
    }
    res->started = 1;
    size_t cap_o = 0, cap_e = 0;
    int open_o = 1, open_e = 1;
    const double deadline = now_s() + timeout_s;
    while (open_o || open_e) {
        const double left = deadline - now_s();
        if (left <= 0) {
            res->timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd p[2] = {{open_o ? po[0] : -1, POLLIN, 0}, {open_e ? pe[0] : -1, POLLIN, 0}};
        const int n = poll(p, 2, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) break;
        if (n <= 0) continue;
        if (p[0].revents && drain(po[0], &res->out, &res->out_len, &cap_o)) open_o = 0;
        if (p[1].revents && drain(pe[0], &res->err, &res->err_len, &cap_e)) open_e = 0;
    }
    close(po[0]);
    close(pe[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!res->timed_out && WIFEXITED(status)) res->exit_code = WEXITSTATUS(status);
    /* callers read the outputs as strings even when nothing was printed */
    if (!res->out) res->out = calloc(1, 1);
    if (!res->err) res->err = calloc(1, 1);
    if (!res->out || !res->err) return qk_fail(err, "out of memory");
    if (res->timed_out) return qk_fail(err, "%s did not answer within %.0f s", argv[0], timeout_s);
    return 0;
}

void qkf_cmd_free(qkf_cmd *c) {
    free(c->out);
    free(c->err);
    memset(c, 0, sizeof *c);
}

void qkf_cmd_message(const qkf_cmd *c, char *buf, size_t size) {
    const char *s = c->err && *c->err ? c->err : c->out ? c->out : "";
    /* the last non-empty line: SLURM's commands end with the error that stopped them */
    const char *e = s + strlen(s);
    while (e > s && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\r')) e--;
    const char *b = e;
    while (b > s && b[-1] != '\n') b--;
    size_t l = (size_t)(e - b);
    if (l >= size) l = size - 1;
    memcpy(buf, b, l);
    buf[l] = 0;
    if (!l) snprintf(buf, size, "(no output)");
}
