/* The llama.cpp peer (peer_llama.h). Compiled against llama.cpp's C API headers when CMake found
 * them (QK_HAVE_LLAMA_H); every function is looked up with dlsym, so the build has no link-time
 * dependency on llama.cpp and runs without it. */
#define _GNU_SOURCE /* pthread_getaffinity_np */
#include "harness/peers/llama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void qk_peer_llama_library_path(const char *library, char *buf, size_t size) {
    if (!library || !*library) library = getenv("QK_PEER_LIBRARY");
    if (!library || !*library) library = QK_PEER_LLAMA_DEFAULT_DIR;
    /* a directory (existing, or the default install location before it exists) holds the
     * library; anything else names the library file itself */
    struct stat st;
    const int is_dir =
        stat(library, &st) == 0 ? S_ISDIR(st.st_mode) : !strcmp(library, QK_PEER_LLAMA_DEFAULT_DIR);
    if (is_dir)
        snprintf(buf, size, "%s/%s", library, QK_PEER_LLAMA_LIBRARY);
    else
        snprintf(buf, size, "%s", library);
}

int qk_peer_llama_available(const char *library) {
    char path[4096];
    qk_peer_llama_library_path(library, path, sizeof path);
    return qk_peer_llama_built() && access(path, R_OK) == 0;
}

#ifndef QK_HAVE_LLAMA_H

struct qk_peer_llama {
    int unused;
};

int qk_peer_llama_built(void) {
    return 0;
}

int qk_peer_llama_open(qk_peer_llama **out, const char *library, const char *model_path,
                       int n_threads, int max_tokens, const int *cpus, int n_cpus,
                       qk_peer_llama_threads threads, qk_error *err) {
    (void)library, (void)model_path, (void)n_threads, (void)max_tokens, (void)cpus, (void)n_cpus;
    (void)threads;
    *out = NULL;
    qk_fail(err, "peer llama.cpp: not built (headers missing: run scripts/install-peer.sh, then "
                 "rebuild)");
    return 1;
}

int qk_peer_llama_embed(qk_peer_llama *p, const int32_t *tokens, int n, float *out, double *seconds,
                        qk_error *err) {
    (void)p, (void)tokens, (void)n, (void)out, (void)seconds;
    return qk_fail(err, "peer llama.cpp: not built");
}

int qk_peer_llama_dim(const qk_peer_llama *p) {
    (void)p;
    return 0;
}
const char *qk_peer_llama_binding(const qk_peer_llama *p) {
    (void)p;
    return "not built";
}
int qk_peer_llama_pinned(const qk_peer_llama *p) {
    (void)p;
    return 0;
}
int qk_peer_llama_poll(const qk_peer_llama *p) {
    (void)p;
    return 0;
}
json_t *qk_peer_llama_info(const qk_peer_llama *p) {
    (void)p;
    return json_pack("{s:b}", "built", 0);
}
void qk_peer_llama_close(qk_peer_llama *p) {
    (void)p;
}

#else /* QK_HAVE_LLAMA_H */

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <llama.h>

#ifndef QK_LLAMA_COMMIT
#define QK_LLAMA_COMMIT "unknown"
#endif

#define PEER_POLL 0 /* ggml's polling level of idle threads: 0 = none, they sleep */

/* The entry points, typed by the headers. */
#define PEER_FUNCS(X)                                                                              \
    X(llama_log_set)                                                                               \
    X(llama_backend_init)                                                                          \
    X(llama_print_system_info)                                                                     \
    X(llama_model_default_params)                                                                  \
    X(llama_model_load_from_file)                                                                  \
    X(llama_model_free)                                                                            \
    X(llama_model_n_embd_out)                                                                      \
    X(llama_context_default_params)                                                                \
    X(llama_init_from_model)                                                                       \
    X(llama_free)                                                                                  \
    X(llama_attach_threadpool)                                                                     \
    X(llama_get_memory)                                                                            \
    X(llama_memory_clear)                                                                          \
    X(llama_batch_init)                                                                            \
    X(llama_batch_free)                                                                            \
    X(llama_decode)                                                                                \
    X(llama_get_embeddings_seq)                                                                    \
    X(ggml_backend_load_all_from_path)                                                             \
    X(ggml_backend_reg_by_name)                                                                    \
    X(ggml_backend_reg_get_proc_address)                                                           \
    X(ggml_threadpool_params_default)

static struct {
    int loaded;
    char path[4096];
    void *handle;
#define DECLARE(f) __typeof__(f) *f;
    PEER_FUNCS(DECLARE)
#undef DECLARE
    __typeof__(ggml_threadpool_new) *threadpool_new;
    __typeof__(ggml_threadpool_free) *threadpool_free;
    char system_info[1024];
    char package[128]; /* "NAME@VERSION" from the package.json two folders up, when there */
} L;

static char last_error[400];

/* llama.cpp's log: dropped, except error lines (and their continuations), kept for messages. */
static void on_log(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    static int in_error;
    if (level == GGML_LOG_LEVEL_ERROR) {
        in_error = 1;
        snprintf(last_error, sizeof last_error, "%s", text);
    } else if (level == GGML_LOG_LEVEL_CONT && in_error) {
        size_t l = strlen(last_error);
        snprintf(last_error + l, sizeof last_error - l, "%s", text);
    } else {
        in_error = 0;
    }
    size_t l = strlen(last_error);
    while (l && (last_error[l - 1] == '\n' || last_error[l - 1] == ' ')) last_error[--l] = 0;
}

static int fail_llama(qk_error *err, const char *what) {
    if (*last_error) return qk_fail(err, "peer llama.cpp: %s: %s", what, last_error);
    return qk_fail(err, "peer llama.cpp: %s", what);
}

int qk_peer_llama_built(void) {
    return 1;
}

static int load_library(const char *path, qk_error *err) {
    if (L.loaded) {
        if (strcmp(path, L.path) != 0)
            return qk_fail(err, "peer llama.cpp: %s is loaded already; cannot also load %s", L.path,
                           path);
        return 0;
    }
    if (access(path, R_OK) != 0) {
        qk_fail(err,
                "peer llama.cpp: not installed: cannot read %s (run scripts/install-peer.sh, or "
                "set peer_library / $QK_PEER_LIBRARY)",
                path);
        return 1;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return qk_fail(err, "peer llama.cpp: dlopen %s: %s", path, dlerror());
#define LOOKUP(f)                                                                                  \
    if (!(*(void **)&L.f = dlsym(h, #f))) {                                                        \
        qk_fail(err,                                                                               \
                "peer llama.cpp: %s has no %s (not the llama.cpp build whose headers this "        \
                "was compiled with?)",                                                             \
                path, #f);                                                                         \
        dlclose(h);                                                                                \
        return -1;                                                                                 \
    }
    PEER_FUNCS(LOOKUP)
#undef LOOKUP
    L.llama_log_set(on_log, NULL);
    /* the CPU backend variants (haswell, zen4, ...) beside the library: ggml scores each against
     * this CPU and registers the best */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    L.ggml_backend_load_all_from_path(dir);
    L.llama_backend_init();
    ggml_backend_reg_t cpu = L.ggml_backend_reg_by_name("CPU");
    if (!cpu) {
        dlclose(h);
        return qk_fail(err, "peer llama.cpp: no CPU backend in %s suits this CPU", dir);
    }
    *(void **)&L.threadpool_new = L.ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_new");
    *(void **)&L.threadpool_free = L.ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_free");
    const char *si = L.llama_print_system_info();
    snprintf(L.system_info, sizeof L.system_info, "%s", si ? si : "");
    size_t l = strlen(L.system_info);
    while (l && (L.system_info[l - 1] == ' ' || L.system_info[l - 1] == '|'))
        L.system_info[--l] = 0;
    char pj[4200];
    snprintf(pj, sizeof pj, "%s/../../package.json", dir);
    json_t *pkg = json_load_file(pj, 0, NULL);
    const char *pn = json_string_value(json_object_get(pkg, "name"));
    const char *pv = json_string_value(json_object_get(pkg, "version"));
    snprintf(L.package, sizeof L.package, "%s@%s", pn ? pn : "unknown", pv ? pv : "unknown");
    json_decref(pkg);
    snprintf(L.path, sizeof L.path, "%s", path);
    L.handle = h;
    L.loaded = 1;
    return 0;
}

struct qk_peer_llama {
    struct llama_model *model;
    struct llama_context *ctx;
    struct ggml_threadpool *tp;
    struct llama_batch batch;
    int n_threads, max_tokens, dim, pinned;
    int default_threadpool, poll; /* llama.cpp's own threadpool per decode, and its polling */
    int have_main_set;
    cpu_set_t main_set; /* where ggml puts the calling thread (its worker 0) while it computes */
    char binding[256];
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ggml moves the calling thread onto its threadpool's PUs: put it back where it was. */
static void restore_affinity(const cpu_set_t *saved) {
    cpu_set_t now;
    if (pthread_getaffinity_np(pthread_self(), sizeof now, &now) == 0 && !CPU_EQUAL(&now, saved))
        pthread_setaffinity_np(pthread_self(), sizeof *saved, saved);
}

static void cpu_list(const int *cpus, int n, char *buf, size_t size) {
    size_t l = 0;
    buf[0] = 0;
    for (int i = 0; i < n && l < size; i++) {
        int j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1) j++;
        if (j > i)
            l += (size_t)snprintf(buf + l, size - l, "%s%d-%d", l ? "," : "", cpus[i], cpus[j]);
        else
            l += (size_t)snprintf(buf + l, size - l, "%s%d", l ? "," : "", cpus[i]);
        i = j;
    }
}

static int cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

/* llama.cpp's defaults: no threadpool attached, so ggml makes one per decode with
 * ggml_threadpool_params_default (its polling, no cpumask: the threads inherit the process's
 * affinity, which the binding reports). */
static void describe_default_threadpool(qk_peer_llama *p) {
    p->default_threadpool = 1;
    p->poll = (int)L.ggml_threadpool_params_default(p->n_threads).poll;
    cpu_set_t set;
    int ids[CPU_SETSIZE], n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &set)) ids[n++] = i;
    char list[200] = "unknown";
    if (n) cpu_list(ids, n, list, sizeof list);
    snprintf(p->binding, sizeof p->binding, "affinity %s, llama.cpp default threadpool, poll %d",
             list, p->poll);
}

/* Our own threadpool: pinned to the PUs our pool uses, no polling. On failure p is closed. */
static int attach_our_threadpool(qk_peer_llama *p, const int *cpus, int n_cpus, qk_error *err) {
    p->poll = PEER_POLL;
    cpu_set_t saved;
    const int have_saved = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
    if (!L.threadpool_new || !L.threadpool_free) {
        snprintf(p->binding, sizeof p->binding,
                 "not pinned (the CPU backend does not export ggml_threadpool_new)");
    } else {
        struct ggml_threadpool_params tpp = L.ggml_threadpool_params_default(p->n_threads);
        tpp.poll = PEER_POLL;
        tpp.strict_cpu = true; /* one PU per thread, as our pool does */
        memset(tpp.cpumask, 0, sizeof tpp.cpumask);
        int sorted[GGML_MAX_N_THREADS], n_sorted = 0, ok = n_cpus > 0 && cpus;
        for (int i = 0; ok && i < n_cpus; i++) {
            if (cpus[i] < 0 || cpus[i] >= GGML_MAX_N_THREADS)
                ok = 0;
            else if (!tpp.cpumask[cpus[i]])
                tpp.cpumask[cpus[i]] = true, sorted[n_sorted++] = cpus[i];
        }
        if (!ok) memset(tpp.cpumask, 0, sizeof tpp.cpumask);
        p->tp = L.threadpool_new(&tpp);
        /* ggml placed its workers 1..n-1 on the mask's PUs in ascending order and the caller (its
         * worker 0) on the next one: keep that PU for the decode calls, give the caller back its
         * own binding in between (our pool's worker 0 is this thread) */
        p->have_main_set =
            ok && p->tp &&
            pthread_getaffinity_np(pthread_self(), sizeof p->main_set, &p->main_set) == 0;
        if (have_saved) restore_affinity(&saved);
        if (!p->tp) {
            fail_llama(err, "cannot create a threadpool");
            qk_peer_llama_close(p);
            return -1;
        }
        L.llama_attach_threadpool(p->ctx, p->tp, p->tp);
        if (have_saved) restore_affinity(&saved);
        if (ok) {
            qsort(sorted, (size_t)n_sorted, sizeof *sorted, cmp_int);
            char list[200];
            cpu_list(sorted, n_sorted, list, sizeof list);
            snprintf(p->binding, sizeof p->binding, "cpumask %s (strict: a PU per thread), poll %d",
                     list, PEER_POLL);
            p->pinned = 1;
        } else {
            snprintf(p->binding, sizeof p->binding, "not pinned (%s), poll %d",
                     n_cpus > 0 ? "a PU index beyond ggml's cpumask" : "no binding asked",
                     PEER_POLL);
        }
    }
    return 0;
}

int qk_peer_llama_open(qk_peer_llama **out, const char *library, const char *model_path,
                       int n_threads, int max_tokens, const int *cpus, int n_cpus,
                       qk_peer_llama_threads threads, qk_error *err) {
    *out = NULL;
    char path[4096];
    qk_peer_llama_library_path(library, path, sizeof path);
    int lrc = load_library(path, err);
    if (lrc) return lrc;
    if (n_threads < 1 || max_tokens < 1)
        return qk_fail(err, "peer llama.cpp: bad arguments (threads %d, tokens %d)", n_threads,
                       max_tokens);
    qk_peer_llama *p = calloc(1, sizeof *p);
    if (!p) return qk_fail(err, "out of memory");
    p->n_threads = n_threads;
    p->max_tokens = max_tokens;
    last_error[0] = 0;
    struct llama_model_params mp = L.llama_model_default_params();
    p->model = L.llama_model_load_from_file(model_path, mp);
    if (!p->model) {
        qk_peer_llama_close(p);
        fail_llama(err, "cannot load the model");
        return qk_fail_prefix(err, "%s", model_path);
    }
    struct llama_context_params cp = L.llama_context_default_params();
    cp.embeddings = 1;
    cp.pooling_type = LLAMA_POOLING_TYPE_MEAN;
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)max_tokens;
    cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = n_threads;
    p->ctx = L.llama_init_from_model(p->model, cp);
    if (!p->ctx) {
        qk_peer_llama_close(p);
        return fail_llama(err, "cannot create a context");
    }
    p->dim = L.llama_model_n_embd_out(p->model);
    if (threads == QK_PEER_LLAMA_DEFAULT_THREADPOOL)
        describe_default_threadpool(p);
    else if (attach_our_threadpool(p, cpus, n_cpus, err))
        return -1;
    p->batch = L.llama_batch_init(max_tokens, 0, 1);
    if (!p->batch.token) {
        qk_peer_llama_close(p);
        return qk_fail(err, "out of memory");
    }
    *out = p;
    return 0;
}

int qk_peer_llama_embed(qk_peer_llama *p, const int32_t *tokens, int n, float *out, double *seconds,
                        qk_error *err) {
    if (n < 1 || n > p->max_tokens)
        return qk_fail(err, "peer llama.cpp: %d tokens (this context takes 1..%d)", n,
                       p->max_tokens);
    struct llama_batch *b = &p->batch;
    b->n_tokens = n;
    for (int i = 0; i < n; i++) {
        b->token[i] = tokens[i];
        b->pos[i] = i;
        b->n_seq_id[i] = 1;
        b->seq_id[i][0] = 0;
        b->logits[i] = 1;
    }
    L.llama_memory_clear(L.llama_get_memory(p->ctx), true);
    cpu_set_t saved;
    const int have_saved = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
    if (p->have_main_set && have_saved && !CPU_EQUAL(&saved, &p->main_set))
        pthread_setaffinity_np(pthread_self(), sizeof p->main_set, &p->main_set);
    last_error[0] = 0;
    /* a model without encoder (gemma-embedding): llama_decode, which runs the non-causal graph */
    const double t0 = now_s();
    const int rc = L.llama_decode(p->ctx, *b);
    const float *e = rc == 0 ? L.llama_get_embeddings_seq(p->ctx, 0) : NULL;
    const double t1 = now_s();
    if (have_saved) restore_affinity(&saved);
    if (seconds) *seconds = t1 - t0;
    if (rc != 0) {
        char what[64];
        snprintf(what, sizeof what, "llama_decode returned %d", rc);
        return fail_llama(err, what);
    }
    if (!e) return fail_llama(err, "no pooled embedding for sequence 0");
    double s = 0;
    for (int i = 0; i < p->dim; i++) s += (double)e[i] * e[i];
    const double inv = s > 0 ? 1.0 / sqrt(s) : 0;
    for (int i = 0; i < p->dim; i++) out[i] = (float)(e[i] * inv);
    return 0;
}

int qk_peer_llama_dim(const qk_peer_llama *p) {
    return p ? p->dim : 0;
}
const char *qk_peer_llama_binding(const qk_peer_llama *p) {
    return p ? p->binding : "";
}
int qk_peer_llama_pinned(const qk_peer_llama *p) {
    return p ? p->pinned : 0;
}
int qk_peer_llama_poll(const qk_peer_llama *p) {
    return p ? p->poll : 0;
}

json_t *qk_peer_llama_info(const qk_peer_llama *p) {
    const char *base = strrchr(L.path, '/');
    return json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:b, s:i, s:s}", "built", 1,
                     "library", L.path, "library_file", base ? base + 1 : L.path, "package",
                     L.package, "llama_cpp_commit", QK_LLAMA_COMMIT, "system_info", L.system_info,
                     "threads", p ? p->n_threads : 0, "binding", p ? p->binding : "", "pinned",
                     p ? p->pinned : 0, "poll", p ? p->poll : PEER_POLL, "threadpool",
                     p && p->default_threadpool ? "llama.cpp default" : "ours");
}

void qk_peer_llama_close(qk_peer_llama *p) {
    if (!p) return;
    if (p->batch.token) L.llama_batch_free(p->batch);
    if (p->ctx) L.llama_free(p->ctx);
    if (p->tp) L.threadpool_free(p->tp);
    if (p->model) L.llama_model_free(p->model);
    free(p);
}

#endif /* QK_HAVE_LLAMA_H */
