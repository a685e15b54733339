#include "harness/pool.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

typedef struct {
    struct qk_pool *pool;
    int index;
    qk_error
        err; /* startup failure of this worker, read by the creator after the startup barrier */
} qk_worker;

struct qk_pool {
    int n_threads, n_started; /* n_started: worker threads created (joined by destroy) */
    const qk_topology *topo;
    qk_binding_policy policy;
    long spin_ns;
    pthread_t creator;
    pthread_t *threads;   /* [1, n_threads) */
    qk_worker *workers;   /* [0, n_threads) */
    qk_binding *bindings; /* [0, n_threads) */
    hwloc_bitmap_t saved; /* the creator's binding before the pool, restored by destroy */
    /* The job: written by the creator only while every worker is idle (after pending reached 0),
     * read by workers only after they acquire the new epoch. */
    qk_range_fn body;
    void *arg;
    int n, grain, stop;
    alignas(64) _Atomic int next;       /* the next unclaimed item of a chunked (grain >= 1) job */
    alignas(64) _Atomic uint32_t epoch; /* bumped once per job (and once to stop) */
    alignas(64) _Atomic uint32_t pending; /* workers that have not finished the current job */
    alignas(64) _Atomic uint32_t epoch_sleepers,
        pending_sleepers; /* threads in futex_wait on each */
};

/* > 0 while this thread runs a body: a nested parallel_for then runs inline. */
static _Thread_local int tl_depth, tl_worker;

static void futex_wait(_Atomic uint32_t *word, uint32_t value) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits until *word != old (done_when_zero == 0) or *word == 0 (done_when_zero == 1); returns the
 * value seen, with acquire ordering. Spins for spin_ns, then sleeps. The sleeper count and the
 * value are seq_cst on both sides (see wake), so a wake-up cannot be lost: either the waker sees
 * our count, or we (and the kernel's compare in futex_wait) see its new value. */
static uint32_t await(_Atomic uint32_t *word, uint32_t old, int done_when_zero,
                      _Atomic uint32_t *sleepers, long spin_ns) {
#define QK_DONE(v) (done_when_zero ? (v) == 0 : (v) != old)
    uint32_t v = atomic_load_explicit(word, memory_order_acquire);
    if (QK_DONE(v)) return v;
    if (spin_ns > 0) {
        long long deadline = now_ns() + spin_ns;
        for (unsigned i = 1;; i++) {
            cpu_relax();
            v = atomic_load_explicit(word, memory_order_acquire);
            if (QK_DONE(v)) return v;
            if ((i & 255) == 0 && now_ns() > deadline) break;
        }
    }
    for (;;) {
        atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
        v = atomic_load_explicit(word, memory_order_seq_cst);
        if (!QK_DONE(v)) futex_wait(word, v);
        atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
        v = atomic_load_explicit(word, memory_order_acquire);
        if (QK_DONE(v)) return v;
    }
#undef QK_DONE
}

/* Call after a seq_cst change of *word. */
static void wake(_Atomic uint32_t *word, _Atomic uint32_t *sleepers) {
    if (atomic_load_explicit(sleepers, memory_order_seq_cst) > 0) futex_wake_all(word);
}

/* Static job: worker w's contiguous range. Chunked job: claim chunks until none is left (one
 * relaxed fetch_add per chunk; the job's data was published by the epoch's release). */
static void run_share(qk_pool *p, int w) {
    tl_depth++;
    tl_worker = w;
    if (p->grain <= 0) {
        int b = (int)((long long)p->n * w / p->n_threads);
        int e = (int)((long long)p->n * (w + 1) / p->n_threads);
        if (b < e) p->body(p->arg, b, e, w);
    } else {
        for (;;) {
            int b = atomic_fetch_add_explicit(&p->next, p->grain, memory_order_relaxed);
            if (b >= p->n) break;
            p->body(p->arg, b, p->n - b < p->grain ? p->n : b + p->grain, w);
        }
    }
    tl_depth--;
}

static void finish(qk_pool *p) {
    if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_seq_cst) == 1)
        wake(&p->pending, &p->pending_sleepers);
}

static void *worker_main(void *arg) {
    qk_worker *w = arg;
    qk_pool *p = w->pool;
    qk_topology_bind_current_thread(p->topo, p->policy, p->n_threads, w->index,
                                    &p->bindings[w->index], &w->err);
    uint32_t seen = 0; /* the creator bumps the epoch only after this startup finish() */
    finish(p);
    for (;;) {
        seen = await(&p->epoch, seen, 0, &p->epoch_sleepers, p->spin_ns);
        if (p->stop) return NULL;
        run_share(p, w->index);
        finish(p);
    }
}

/* Publishes the job in p->body/arg/n (or stop) and wakes every worker. */
static void start_job(qk_pool *p) {
    atomic_store_explicit(&p->pending, (uint32_t)(p->n_threads - 1), memory_order_relaxed);
    atomic_fetch_add_explicit(&p->epoch, 1, memory_order_seq_cst); /* release: job + pending */
    wake(&p->epoch, &p->epoch_sleepers);
}

void qk_pool_parallel_for(void *pool, int n, int grain, qk_range_fn body, void *arg) {
    qk_pool *p = pool;
    if (n <= 0) return;
    if (!p || p->n_threads == 1 || n == 1 || tl_depth > 0) {
        int w = tl_depth > 0 ? tl_worker : 0;
        tl_depth++;
        tl_worker = w;
        body(arg, 0, n, w);
        tl_depth--;
        return;
    }
    p->body = body;
    p->arg = arg;
    p->n = n;
    p->grain = grain >= n ? 0 : grain; /* a single chunk: the static split serves it as well */
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    start_job(p);
    run_share(p, 0);
    await(&p->pending, 0, 1, &p->pending_sleepers, p->spin_ns);
}

typedef struct {
    void (*fn)(void *, int);
    void *arg;
} each_job;

static void each_body(void *arg, int begin, int end, int worker) {
    (void)begin;
    (void)end;
    const each_job *j = arg;
    j->fn(j->arg, worker);
}

void qk_pool_run_on_each(qk_pool *pool, void (*fn)(void *arg, int worker), void *arg) {
    each_job j = {fn, arg};
    /* n == threads: the balanced split gives every worker exactly one item */
    qk_pool_parallel_for(pool, pool ? pool->n_threads : 1, 0, each_body, &j);
}

qk_pool *qk_pool_create(int n_threads, const qk_topology *topo, qk_binding_policy policy,
                        qk_error *err) {
    if (n_threads < 1 || !topo) {
        qk_fail(err, "pool: need n_threads >= 1 and a topology (got %d, %p)", n_threads,
                (const void *)topo);
        return NULL;
    }
    size_t size = (sizeof(qk_pool) + 63) / 64 * 64;
    qk_pool *p = aligned_alloc(64, size);
    if (!p) {
        qk_fail(err, "pool: out of memory");
        return NULL;
    }
    memset(p, 0, size);
    atomic_init(&p->epoch, 0);
    atomic_init(&p->pending, (uint32_t)(n_threads - 1));
    atomic_init(&p->epoch_sleepers, 0);
    atomic_init(&p->pending_sleepers, 0);
    p->n_threads = n_threads;
    p->topo = topo;
    p->policy = policy;
    p->creator = pthread_self();
    p->spin_ns = n_threads > qk_topology_get_info(topo)->usable_pus ? 0 : QK_POOL_SPIN_NS;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    p->bindings = calloc((size_t)n_threads, sizeof *p->bindings);
    p->saved = hwloc_bitmap_alloc();
    if (!p->threads || !p->workers || !p->bindings || !p->saved) {
        qk_fail(err, "pool: out of memory");
        atomic_store(&p->pending, 0);
        qk_pool_destroy(p);
        return NULL;
    }
    if (hwloc_get_cpubind(qk_topology_hwloc(topo), p->saved, HWLOC_CPUBIND_THREAD) != 0) {
        hwloc_bitmap_free(p->saved);
        p->saved = NULL; /* nothing to restore */
    }

    int rc = 0;
    for (int i = 1; i < n_threads; i++) {
        p->workers[i] = (qk_worker){.pool = p, .index = i};
        int e = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
        if (e != 0) {
            rc = qk_fail(err, "pool: pthread_create (worker %d of %d): %s", i, n_threads,
                         strerror(e));
            /* the workers never started will not finish() their startup */
            atomic_fetch_sub(&p->pending, (uint32_t)(n_threads - i));
            break;
        }
        p->n_started = i;
    }
    p->workers[0] = (qk_worker){.pool = p, .index = 0};
    if (rc == 0)
        rc = qk_topology_bind_current_thread(topo, policy, n_threads, 0, &p->bindings[0], err);
    await(&p->pending, 0, 1, &p->pending_sleepers, p->spin_ns); /* every started worker is bound */
    for (int i = 1; rc == 0 && i <= p->n_started; i++)
        if (p->workers[i].err.msg[0])
            rc = qk_fail(err, "pool worker %d: %s", i, p->workers[i].err.msg);
    if (rc != 0) {
        qk_pool_destroy(p);
        return NULL;
    }
    return p;
}

void qk_pool_destroy(qk_pool *p) {
    if (!p) return;
    if (p->n_started > 0) {
        p->stop = 1;
        start_job(p);
        for (int i = 1; i <= p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    if (p->saved) {
        if (pthread_equal(p->creator, pthread_self()))
            hwloc_set_cpubind(qk_topology_hwloc(p->topo), p->saved, HWLOC_CPUBIND_THREAD);
        hwloc_bitmap_free(p->saved);
    }
    free(p->threads);
    free(p->workers);
    free(p->bindings);
    free(p);
}

int qk_pool_park(qk_pool *p) {
    if (!p || p->n_threads == 1) return 0;
    const long long deadline = now_ns() + 100000000LL;
    /* a worker counts itself a sleeper just before futex_wait, with no spinning in between */
    while (atomic_load_explicit(&p->epoch_sleepers, memory_order_acquire) <
           (uint32_t)(p->n_threads - 1)) {
        if (now_ns() > deadline) return -1;
        nanosleep(&(struct timespec){0, 20000}, NULL);
    }
    return 0;
}

int qk_pool_size(const qk_pool *pool) {
    return pool ? pool->n_threads : 1;
}

const qk_binding *qk_pool_binding_info(const qk_pool *pool, int i) {
    return pool && i >= 0 && i < pool->n_threads ? &pool->bindings[i] : NULL;
}

const char *qk_pool_binding(const qk_pool *pool, int i) {
    const qk_binding *b = qk_pool_binding_info(pool, i);
    return b ? b->obtained : "";
}

json_t *qk_pool_bindings_json(const qk_pool *pool) {
    json_t *a = json_array();
    for (int i = 0; pool && a && i < pool->n_threads; i++)
        json_array_append_new(a, qk_binding_to_json(&pool->bindings[i]));
    return a;
}

qk_exec qk_pool_exec(qk_pool *pool) {
    return (qk_exec){.parallel_for = pool ? qk_pool_parallel_for : NULL,
                     .pool = pool,
                     .n_workers = qk_pool_size(pool),
                     .op_seconds = NULL};
}
