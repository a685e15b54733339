/* The llama.cpp peer in a child process (llama_process.h): the parent's side (start, embed,
 * close) and the child's (serve), and the few binary messages between them on a socket pair.
 *
 * Messages (host byte order: both ends are the same executable on the same machine):
 *   hello  child -> parent: u32 magic, i32 status (0, or qk_peer_llama_open's 1 / -1), i32 dim,
 *          u32 length, then that many bytes: the info JSON, or the error message
 *   request parent -> child: i32 n, n x i32 tokens
 *   reply  child -> parent: i32 status, 3 x double (wall, decode, cpu seconds), then dim floats
 *          (status 0) or u32 length + the error message
 * A socket rather than pipes: the parent writes with MSG_NOSIGNAL, so a dead child is an error
 * return, not a SIGPIPE that would end the run. */
#define _GNU_SOURCE /* sched_setaffinity, sigabbrev_np */
#include "harness/peers/llama_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/peers/llama.h"

#define HELLO_MAGIC      0x51504b43u  /* "QKPC" */
#define REPLY_TIMEOUT_MS 600000       /* a child silent this long is taken for hung, and killed */
#define EXIT_GRACE_NS    3000000000LL /* after EOF, how long the child may take to exit */

struct qk_peer_process {
    pid_t pid; /* 0 once reaped */
    int fd;    /* our end of the socket (-1: closed) */
    FILE *errf;
    int dim, max_tokens, stopped;
    json_t *info;
    char dead[640]; /* why every call fails now ("" while it lives) */
};

/* ---------------------------------------------------------------- both ends */

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* 0 all read; 1 EOF before the first byte; -1 error or EOF midway; -2 (timeout_ms >= 0) silent
 * that long. */
static int read_all(int fd, void *buf, size_t n, int timeout_ms) {
    char *p = buf;
    const size_t want = n;
    while (n > 0) {
        if (timeout_ms >= 0) {
            struct pollfd pf = {fd, POLLIN, 0};
            const int r = poll(&pf, 1, timeout_ms);
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) return -2;
            if (r < 0) return -1;
        }
        const ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR) continue;
        if (got == 0) return n == want ? 1 : (errno = EPIPE, -1);
        if (got < 0) return -1;
        p += got, n -= (size_t)got;
    }
    return 0;
}

static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static double wall_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---------------------------------------------------------------- the child */

static int send_hello(int fd, int32_t status, int32_t dim, const char *text) {
    const uint32_t magic = HELLO_MAGIC, len = (uint32_t)strlen(text);
    return write_all(fd, &magic, sizeof magic) || write_all(fd, &status, sizeof status) ||
           write_all(fd, &dim, sizeof dim) || write_all(fd, &len, sizeof len) ||
           write_all(fd, text, len);
}

int qk_peer_process_serve(int fd, const char *library, const char *model_path, int n_threads,
                          int max_tokens, const int *cpus, int n_cpus, qk_error *err) {
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
        return qk_fail(err,
                       "fd %d is not the parent's socket (peer-child is started by qkbench "
                       "run, not by hand)",
                       fd);
    char pinned[200] = "";
    if (n_cpus > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int i = 0; i < n_cpus; i++)
            if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            qk_fail(err, "cannot pin the peer's process to its PUs: %s", strerror(errno));
            send_hello(fd, -1, 0, err->msg);
            return -1;
        }
        snprintf(pinned, sizeof pinned, "own process, ");
    } else {
        snprintf(pinned, sizeof pinned, "own process (not pinned: affinity inherited), ");
    }
    qk_peer_llama *p = NULL;
    const int orc = qk_peer_llama_open(&p, library, model_path, n_threads, max_tokens, NULL, 0,
                                       QK_PEER_LLAMA_DEFAULT_THREADPOOL, err);
    if (orc) {
        send_hello(fd, orc, 0, err->msg);
        return orc;
    }
    const int dim = qk_peer_llama_dim(p);
    json_t *info = qk_peer_llama_info(p);
    char binding[400];
    snprintf(binding, sizeof binding, "%s%s", pinned, qk_peer_llama_binding(p));
    json_object_set_new(info, "binding", json_string(binding));
    json_object_set_new(info, "pinned", json_boolean(n_cpus > 0));
    char *text = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    int32_t *tokens = malloc((size_t)max_tokens * sizeof *tokens);
    float *emb = malloc((size_t)(dim > 0 ? dim : 1) * sizeof *emb);
    int rc = -1;
    if (!text || !tokens || !emb) {
        qk_fail(err, "out of memory");
        send_hello(fd, -1, 0, err->msg);
        goto out;
    }
    if (send_hello(fd, 0, dim, text)) {
        qk_fail(err, "cannot write to the parent: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        int32_t n;
        const int r = read_all(fd, &n, sizeof n, -1);
        if (r == 1) { /* the parent closed its end: done */
            rc = 0;
            break;
        }
        if (r < 0 || n < 1 || n > max_tokens ||
            read_all(fd, tokens, (size_t)n * sizeof *tokens, -1) != 0) {
            qk_fail(err, "broken request from the parent (%d tokens of at most %d)", r ? -1 : n,
                    max_tokens);
            break;
        }
        /* the same timed region as the in-process peer's (run_group.c's around
         * qk_peer_llama_embed), plus this whole process's CPU time over it */
        double times[3] = {0, 0, 0};
        qk_error e = {{0}};
        const double c0 = cpu_seconds(), t0 = wall_seconds();
        const int erc = qk_peer_llama_embed(p, tokens, n, emb, &times[1], &e);
        times[0] = wall_seconds() - t0;
        times[2] = cpu_seconds() - c0;
        const int32_t status = erc ? -1 : 0;
        int wrc = write_all(fd, &status, sizeof status) || write_all(fd, times, sizeof times);
        if (!wrc && erc) {
            const uint32_t len = (uint32_t)strlen(e.msg);
            wrc = write_all(fd, &len, sizeof len) || write_all(fd, e.msg, len);
        } else if (!wrc) {
            wrc = write_all(fd, emb, (size_t)dim * sizeof *emb);
        }
        if (wrc) {
            qk_fail(err, "cannot write to the parent: %s", strerror(errno));
            break;
        }
    }
out:
    free(text);
    free(tokens);
    free(emb);
    qk_peer_llama_close(p);
    return rc;
}

/* ---------------------------------------------------------------- the parent */

/* The next field of a message from the child, unless an earlier one failed (r). */
#define READ(buf, n)                                                                               \
    do {                                                                                           \
        if (r == 0) r = read_all(p->fd, buf, n, REPLY_TIMEOUT_MS);                                 \
    } while (0)

void qk_peer_child_last_words(FILE *f, char *buf, size_t size) {
    buf[0] = 0;
    if (!f || size == 0) return;
    fflush(f);
    rewind(f);
    char line[512], best[512] = "", last[512] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        snprintf(last, sizeof last, "%s", line);
        if (strstr(line, "qkbench") || strstr(line, "ASSERT") || strstr(line, "error"))
            snprintf(best, sizeof best, "%s", line);
    }
    snprintf(buf, size, "%s", best[0] ? best : last); /* cut, as a message would be */
    fseek(f, 0, SEEK_END);
}

static void reap(qk_peer_process *p, int block) {
    if (!p->pid) return;
    int st = 0;
    pid_t r;
    while ((r = waitpid(p->pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == p->pid || (r < 0 && errno == ECHILD)) p->pid = 0;
}

/* p->dead from how the child ended (have: st is its wait status) and its last words. */
static void set_dead(qk_peer_process *p, int have, int st, const char *during) {
    char said[320];
    qk_peer_child_last_words(p->errf, said, 301); /* at most 300 characters of it */
    char how[120];
    if (have && WIFSIGNALED(st)) {
        const char *abbr = sigabbrev_np(WTERMSIG(st));
        snprintf(how, sizeof how, "killed by SIG%s (signal %d)", abbr ? abbr : "?", WTERMSIG(st));
    } else if (have && WIFEXITED(st)) {
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
    } else {
        snprintf(how, sizeof how, "gone");
    }
    snprintf(p->dead, sizeof p->dead, "peer child %.120s %.80s%s%.300s", how, during,
             said[0] ? ": " : "", said);
}

/* How the child ended (waits for it: call when its socket said EOF or broke), into p->dead. */
static void note_death(qk_peer_process *p, const char *during) {
    int st = 0;
    pid_t r = -1;
    if (p->pid) {
        /* EOF comes as the child goes; give it a moment to be reapable, then make sure */
        for (int i = 0; i < 300; i++) {
            while ((r = waitpid(p->pid, &st, WNOHANG)) < 0 && errno == EINTR) {
            }
            if (r != 0) break;
            nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
        if (r == 0) {
            kill(p->pid, SIGKILL);
            while ((r = waitpid(p->pid, &st, 0)) < 0 && errno == EINTR) {
            }
        }
        p->pid = 0;
    }
    set_dead(p, r > 0, st, during);
}

static void child_stop(qk_peer_process *p) {
    if (!p->pid || p->stopped) return;
    if (kill(p->pid, SIGSTOP) != 0) return;
    /* wait until it really is stopped: from here on it takes no CPU at all */
    int st = 0;
    pid_t r;
    while ((r = waitpid(p->pid, &st, WUNTRACED)) < 0 && errno == EINTR) {
    }
    if (r == p->pid && WIFSTOPPED(st)) {
        p->stopped = 1;
    } else if (r == p->pid) { /* it ended instead: the next call says how */
        p->pid = 0;
        set_dead(p, 1, st, "between passes");
    }
}

static void child_continue(qk_peer_process *p) {
    if (p->pid && p->stopped && kill(p->pid, SIGCONT) == 0) p->stopped = 0;
}

int qk_peer_process_start(qk_peer_process **out, const qk_peer_process_options *o, qk_error *err) {
    *out = NULL;
    if (!qk_peer_llama_built()) {
        qk_fail(err, "peer llama.cpp: not built (headers missing: run scripts/install-peer.sh, "
                     "then rebuild)");
        return 1;
    }
    if (!qk_peer_llama_available(o->library)) {
        char path[4096];
        qk_peer_llama_library_path(o->library, path, sizeof path);
        qk_fail(err,
                "peer llama.cpp: not installed: cannot read %s (run scripts/install-peer.sh, or "
                "set peer_library / $QK_PEER_LIBRARY)",
                path);
        return 1;
    }
    if (o->n_threads < 1 || o->max_tokens < 1)
        return qk_fail(err, "peer llama.cpp: bad arguments (threads %d, tokens %d)", o->n_threads,
                       o->max_tokens);
    /* everything the child needs is made before fork: after it, only exec-safe calls */
    char threads[16], tokens[16], cpus[1024] = "";
    snprintf(threads, sizeof threads, "%d", o->n_threads);
    snprintf(tokens, sizeof tokens, "%d", o->max_tokens);
    if (o->n_cpus > 0) {
        size_t l = 0;
        for (int i = 0; i < o->n_cpus && l < sizeof cpus; i++)
            l += (size_t)snprintf(cpus + l, sizeof cpus - l, "%s%d", i ? "," : "", o->cpus[i]);
    }
    const char *argv[16];
    int a = 0;
    argv[a++] = o->self_exe;
    argv[a++] = "peer-child";
    argv[a++] = "--model";
    argv[a++] = o->model_path;
    argv[a++] = "--threads";
    argv[a++] = threads;
    argv[a++] = "--max-tokens";
    argv[a++] = tokens;
    if (o->library && *o->library) argv[a++] = "--library", argv[a++] = o->library;
    if (cpus[0]) argv[a++] = "--cpus", argv[a++] = cpus;
    argv[a] = NULL;

    qk_peer_process *p = calloc(1, sizeof *p);
    if (!p) return qk_fail(err, "out of memory");
    p->fd = -1;
    p->max_tokens = o->max_tokens;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(p);
        return qk_fail(err, "peer llama.cpp: socketpair: %s", strerror(errno));
    }
    p->errf = tmpfile();
    const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (p->errf) fcntl(fileno(p->errf), F_SETFD, FD_CLOEXEC); /* not for our other children */
    const pid_t parent = getpid();
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        /* dup2 clears close-on-exec on the copies the child keeps */
        if (sv[1] == QK_PEER_PROCESS_FD)
            fcntl(sv[1], F_SETFD, 0);
        else
            dup2(sv[1], QK_PEER_PROCESS_FD);
        if (p->errf) dup2(fileno(p->errf), 2), dup2(fileno(p->errf), 1);
        if (devnull >= 0) dup2(devnull, 0);
        /* nothing else of ours (results files, a test runner's pipes) stays open in the child */
        close_range(QK_PEER_PROCESS_FD + 1, ~0u, 0);
        signal(SIGINT, SIG_IGN); /* a Ctrl-C is the run's to handle: it then closes us */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126); /* the parent died before the line above */
        execv(o->self_exe, (char *const *)argv);
        _exit(127);
    }
    close(sv[1]);
    if (devnull >= 0) close(devnull);
    p->fd = sv[0];
    if (pid < 0) {
        qk_fail(err, "peer llama.cpp: fork: %s", strerror(errno));
        qk_peer_process_close(p);
        return -1;
    }
    p->pid = pid;
    uint32_t magic = 0, len = 0;
    int32_t status = -1, dim = 0;
    int r = 0;
    READ(&magic, sizeof magic);
    if (r == 0 && magic != HELLO_MAGIC) r = -1;
    READ(&status, sizeof status);
    READ(&dim, sizeof dim);
    READ(&len, sizeof len);
    char *text = r == 0 && len < (1u << 20) ? calloc(1, (size_t)len + 1) : NULL;
    if (r == 0 && !text) r = -1;
    READ(text, len);
    if (r != 0) {
        free(text);
        if (r == -2 && p->pid) kill(p->pid, SIGKILL);
        note_death(p, r == -2 ? "(silent for 600 s) while opening the model"
                              : "while opening the model");
        qk_fail(err, "%s", p->dead);
        qk_peer_process_close(p);
        return -1;
    }
    if (status != 0) {
        qk_fail(err, "%s", text);
        free(text);
        qk_peer_process_close(p);
        return status == 1 ? 1 : -1;
    }
    json_error_t jerr;
    p->info = json_loads(text, 0, &jerr);
    free(text);
    p->dim = dim;
    if (!json_is_object(p->info) || dim < 1) {
        qk_fail(err, "peer llama.cpp: the child's hello is not what it should be (dim %d)", dim);
        qk_peer_process_close(p);
        return -1;
    }
    json_object_set_new(p->info, "pid", json_integer(pid));
    child_stop(p);
    *out = p;
    return 0;
}

int qk_peer_process_embed(qk_peer_process *p, const int32_t *tokens, int n, float *out,
                          qk_peer_process_times *t, qk_error *err) {
    if (p->dead[0]) return qk_fail(err, "%s", p->dead);
    if (n < 1 || n > p->max_tokens)
        return qk_fail(err, "peer llama.cpp: %d tokens (this context takes 1..%d)", n,
                       p->max_tokens);
    child_continue(p);
    const int32_t n32 = n;
    int32_t status = -1;
    double times[3];
    int r =
        write_all(p->fd, &n32, sizeof n32) || write_all(p->fd, tokens, (size_t)n * sizeof *tokens);
    READ(&status, sizeof status);
    READ(times, sizeof times);
    if (status == 0) READ(out, (size_t)p->dim * sizeof *out);
    if (r) {
        if (r == -2 && p->pid) kill(p->pid, SIGKILL);
        note_death(p, r == -2 ? "(silent for 600 s) during a pass" : "during a pass");
        return qk_fail(err, "%s", p->dead);
    }
    if (status != 0) {
        uint32_t len = 0;
        char msg[600] = "peer llama.cpp: the child's pass failed";
        READ(&len, sizeof len);
        if (r == 0 && len < sizeof msg) {
            READ(msg, len);
            if (r == 0) msg[len] = 0;
        }
        child_stop(p);
        return qk_fail(err, "%s", msg);
    }
    child_stop(p);
    if (t) *t = (qk_peer_process_times){times[0], times[1], times[2]};
    return 0;
}

int qk_peer_process_dim(const qk_peer_process *p) {
    return p ? p->dim : 0;
}
pid_t qk_peer_process_pid(const qk_peer_process *p) {
    return p ? p->pid : 0;
}
json_t *qk_peer_process_info(const qk_peer_process *p) {
    return p ? p->info : NULL;
}

void qk_peer_process_close(qk_peer_process *p) {
    if (!p) return;
    if (p->fd >= 0) close(p->fd); /* EOF: the child returns from serve and exits */
    p->fd = -1;
    if (p->pid) {
        kill(p->pid, SIGCONT); /* held stopped: it must run to see the EOF */
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            reap(p, 0);
            if (!p->pid) break;
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if ((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec) >
                EXIT_GRACE_NS) {
                kill(p->pid, SIGKILL);
                reap(p, 1);
                break;
            }
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
    }
    if (p->errf) fclose(p->errf);
    json_decref(p->info);
    free(p);
}
