/* The worker pool: parallel_for covers [0, n) exactly once for 1..8 threads, static or chunked
 * (chunks aligned to the grain and no longer), run_on_each reaches
 * every worker, back-to-back loops do not deadlock, compact binding gives distinct PUs, and a
 * parked pool's workers all sleep (none spins) until the next loop, which still reaches them. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "harness/pool.h"

static qk_topology *topo;

static void open_topo(void) {
    qk_error err = {{0}};
    cr_assert_eq(qk_topology_open(&topo, &err), 0, "%s", err.msg);
}
static void close_topo(void) {
    qk_topology_close(topo);
}

TestSuite(pool, .init = open_topo, .fini = close_topo, .timeout = 60);

typedef struct {
    const long long *x;
    long long *partial; /* per worker */
    atomic_int *visits; /* per index */
    int n_threads, grain;
    atomic_int bad_worker;
} sum_job;

static void sum_body(void *arg, int begin, int end, int worker) {
    sum_job *j = arg;
    if (worker < 0 || worker >= j->n_threads || begin >= end) atomic_store(&j->bad_worker, 1);
    if (j->grain > 0 && (begin % j->grain != 0 || end - begin > j->grain))
        atomic_store(&j->bad_worker, 1);
    long long s = 0;
    for (int i = begin; i < end; i++) {
        s += j->x[i];
        atomic_fetch_add_explicit(&j->visits[i], 1, memory_order_relaxed);
    }
    j->partial[worker] += s; /* only this worker writes this slot (its chunks run one by one) */
}

Test(pool, sums_equal_serial_for_1_to_8_threads) {
    static const int sizes[] = {0, 1, 7, 1000, 100003};
    const int max_n = 100003;
    long long *x = malloc(max_n * sizeof *x);
    atomic_int *visits = malloc(max_n * sizeof *visits);
    cr_assert(x && visits);
    for (int i = 0; i < max_n; i++) x[i] = (long long)(i * 2654435761u % 1000003u) - 500000;
    for (int t = 1; t <= 8; t++) {
        qk_error err = {{0}};
        qk_pool *pool = qk_pool_create(t, topo, QK_BIND_COMPACT, &err);
        cr_assert_not_null(pool, "threads=%d: %s", t, err.msg);
        cr_assert_eq(qk_pool_size(pool), t);
        static const int grains[] = {0, 1, 7, 64};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] * 4; k++) {
            int n = sizes[k / 4], grain = grains[k % 4];
            if (grain >= n) grain = 0; /* the pool serves a single chunk with the static split */
            long long serial = 0, parallel = 0, partial[8] = {0};
            for (int i = 0; i < n; i++) serial += x[i];
            for (int i = 0; i < n; i++) atomic_init(&visits[i], 0);
            sum_job j = {.x = x,
                         .partial = partial,
                         .visits = visits,
                         .n_threads = t,
                         .grain = t > 1 ? grain : 0}; /* one thread: a single call [0, n) */
            atomic_init(&j.bad_worker, 0);
            qk_pool_parallel_for(pool, n, grain, sum_body, &j);
            for (int w = 0; w < t; w++) parallel += partial[w];
            cr_assert_eq(parallel, serial, "threads=%d n=%d grain=%d: %lld != %lld", t, n, grain,
                         parallel, serial);
            cr_assert_eq(atomic_load(&j.bad_worker), 0,
                         "threads=%d n=%d grain=%d: bad worker/range", t, n, grain);
            for (int i = 0; i < n; i++)
                cr_assert_eq(atomic_load(&visits[i]), 1,
                             "threads=%d n=%d: index %d visited %d times", t, n, i,
                             atomic_load(&visits[i]));
        }
        qk_pool_destroy(pool);
    }
    free(x);
    free(visits);
}

typedef struct {
    int n_threads;
    atomic_int hits[8];
    atomic_int calls;
} range_log;

static void log_body(void *arg, int begin, int end, int worker) {
    range_log *l = arg;
    /* balanced contiguous split: worker w gets [n*w/T, n*(w+1)/T) with n == 1000 here */
    if (begin == 1000 * worker / l->n_threads && end == 1000 * (worker + 1) / l->n_threads)
        atomic_fetch_add(&l->hits[worker], 1);
    atomic_fetch_add(&l->calls, 1);
}

Test(pool, ranges_are_balanced_and_contiguous) {
    qk_error err = {{0}};
    qk_pool *pool = qk_pool_create(3, topo, QK_BIND_NONE, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    range_log l = {.n_threads = 3};
    qk_pool_parallel_for(pool, 1000, 0, log_body, &l);
    cr_assert_eq(atomic_load(&l.calls), 3);
    for (int w = 0; w < 3; w++) cr_assert_eq(atomic_load(&l.hits[w]), 1, "worker %d", w);
    qk_pool_destroy(pool);
}

static void each_fn(void *arg, int worker) {
    atomic_fetch_add(&((atomic_int *)arg)[worker], 1);
}

Test(pool, run_on_each_hits_every_worker_once) {
    for (int t = 1; t <= 8; t++) {
        qk_error err = {{0}};
        qk_pool *pool = qk_pool_create(t, topo, QK_BIND_SCATTER, &err);
        cr_assert_not_null(pool, "%s", err.msg);
        atomic_int hits[8];
        for (int w = 0; w < 8; w++) atomic_init(&hits[w], 0);
        qk_pool_run_on_each(pool, each_fn, hits);
        for (int w = 0; w < 8; w++)
            cr_assert_eq(atomic_load(&hits[w]), w < t ? 1 : 0, "threads=%d worker %d", t, w);
        qk_pool_destroy(pool);
    }
}

static void count_body(void *arg, int begin, int end, int worker) {
    (void)worker;
    atomic_fetch_add_explicit((atomic_long *)arg, end - begin, memory_order_relaxed);
}

Test(pool, many_back_to_back_loops_do_not_deadlock) {
    for (int t = 2; t <= 4; t += 2) {
        qk_error err = {{0}};
        qk_pool *pool = qk_pool_create(t, topo, QK_BIND_COMPACT, &err);
        cr_assert_not_null(pool, "%s", err.msg);
        atomic_long total;
        atomic_init(&total, 0);
        for (int k = 0; k < 10000; k++)
            qk_pool_parallel_for(pool, 1 + k % 17, 0, count_body, &total);
        long expect = 0;
        for (int k = 0; k < 10000; k++) expect += 1 + k % 17;
        cr_assert_eq(atomic_load(&total), expect, "threads=%d", t);
        qk_pool_destroy(pool);
    }
}

Test(pool, sleeping_workers_wake_up) {
    /* past the spin budget the workers sleep on the futex; the next loop must still reach them */
    qk_error err = {{0}};
    qk_pool *pool = qk_pool_create(2, topo, QK_BIND_COMPACT, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    for (int k = 0; k < 5; k++) {
        struct timespec ts = {0, 3 * QK_POOL_SPIN_NS};
        nanosleep(&ts, NULL);
        atomic_long total;
        atomic_init(&total, 0);
        qk_pool_parallel_for(pool, 100, 0, count_body, &total);
        cr_assert_eq(atomic_load(&total), 100);
    }
    qk_pool_destroy(pool);
}

/* The thread ids of this process, up to max. */
static int task_ids(long *ids, int max) {
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max)
        if (de->d_name[0] != '.') ids[n++] = atol(de->d_name);
    closedir(d);
    return n;
}

/* A thread's scheduler state ('R', 'S', ...; '?' when gone). */
static char task_state(long tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f) return '?';
    const size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

Test(pool, parked_workers_sleep_and_wake_for_the_next_loop) {
    long before[64], after[64], worker = 0;
    const int nb = task_ids(before, 64);
    qk_error err = {{0}};
    qk_pool *pool = qk_pool_create(2, topo, QK_BIND_COMPACT, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    const int na = task_ids(after, 64);
    for (int i = 0; i < na; i++) { /* the pool's one worker: the thread that is new */
        int old = 0;
        for (int j = 0; j < nb; j++) old |= after[i] == before[j];
        if (!old) worker = after[i];
    }
    cr_assert_gt(worker, 0, "no new thread after qk_pool_create");
    cr_expect_eq(qk_pool_park(NULL), 0);
    for (int k = 0; k < 3; k++) {
        atomic_long total;
        atomic_init(&total, 0);
        qk_pool_parallel_for(pool, 100, 0, count_body, &total); /* the worker spins after it */
        cr_assert_eq(atomic_load(&total), 100);
        cr_assert_eq(qk_pool_park(pool), 0);
        /* counted as a sleeper, it is in futex_wait or on its way into it without spinning: it
         * is seen asleep ('S') soon (no time limit is asserted, only the state reached) */
        char st = task_state(worker);
        for (int tries = 0; tries < 100000 && st != 'S'; tries++) {
            sched_yield();
            st = task_state(worker);
        }
        cr_expect_eq(st, 'S', "the worker is in state %c after park", st);
    }
    qk_pool_destroy(pool);
}

typedef struct {
    qk_pool *pool;
    atomic_long inner;
} nested_job;

static void nested_body(void *arg, int begin, int end, int worker) {
    (void)worker;
    nested_job *j = arg;
    for (int i = begin; i < end; i++) qk_pool_parallel_for(j->pool, 10, 0, count_body, &j->inner);
}

Test(pool, nested_parallel_for_runs_inline) {
    qk_error err = {{0}};
    qk_pool *pool = qk_pool_create(2, topo, QK_BIND_NONE, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    nested_job j = {.pool = pool};
    atomic_init(&j.inner, 0);
    qk_pool_parallel_for(pool, 6, 0, nested_body, &j);
    cr_assert_eq(atomic_load(&j.inner), 60);
    qk_pool_destroy(pool);
}

Test(pool, compact_binding_is_read_back_distinct) {
    const qk_topology_info *in = qk_topology_get_info(topo);
    if (in->usable_pus < 2) cr_skip_test("needs 2 usable PUs (have %d)", in->usable_pus);
    qk_error err = {{0}};
    qk_pool *pool = qk_pool_create(2, topo, QK_BIND_COMPACT, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    const char *b0 = qk_pool_binding(pool, 0), *b1 = qk_pool_binding(pool, 1);
    cr_assert(b0[0] && b1[0], "empty binding strings");
    cr_assert_str_neq(b0, b1, "both workers on %s", b0);
    for (int w = 0; w < 2; w++) {
        const qk_binding *b = qk_pool_binding_info(pool, w);
        cr_assert_str_eq(b->obtained, b->requested, "worker %d", w);
        cr_assert_eq(b->oversubscribed, 0);
        cr_assert(b->last_cpu >= 0);
    }
    cr_assert_str_eq(qk_pool_binding(pool, 2), "");
    json_t *j = qk_pool_bindings_json(pool);
    cr_assert(json_is_array(j) && json_array_size(j) == 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "obtained")), b1);
    json_decref(j);
    qk_pool_destroy(pool);
}

Test(pool, oversubscription_is_reported_not_refused) {
    const qk_topology_info *in = qk_topology_get_info(topo);
    int t = in->usable_pus + 1;
    qk_error err = {{0}};
    qk_pool *pool = qk_pool_create(t, topo, QK_BIND_COMPACT, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    cr_assert_eq(qk_pool_binding_info(pool, 0)->oversubscribed, 1);
    cr_assert_str_eq(qk_pool_binding(pool, t - 1), qk_pool_binding(pool, 0)); /* wraps around */
    atomic_long total;
    atomic_init(&total, 0);
    for (int k = 0; k < 200; k++) qk_pool_parallel_for(pool, 50, 0, count_body, &total);
    cr_assert_eq(atomic_load(&total), 200 * 50);
    qk_pool_destroy(pool);
}

Test(pool, destroy_restores_the_callers_binding) {
    char before[QK_CPUSET_STR], after[QK_CPUSET_STR];
    qk_error err = {{0}};
    cr_assert_eq(qk_topology_thread_cpuset_string(topo, before, sizeof before, &err), 0, "%s",
                 err.msg);
    qk_pool *pool = qk_pool_create(2, topo, QK_BIND_COMPACT, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    qk_pool_destroy(pool);
    cr_assert_eq(qk_topology_thread_cpuset_string(topo, after, sizeof after, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(after, before);
}

Test(pool, null_pool_and_exec_run_serially) {
    atomic_long total;
    atomic_init(&total, 0);
    qk_pool_parallel_for(NULL, 33, 0, count_body, &total);
    cr_assert_eq(atomic_load(&total), 33);
    qk_exec e = qk_pool_exec(NULL);
    cr_assert_null(e.parallel_for);
    cr_assert_eq(e.n_workers, 1);
    qk_error err = {{0}};
    qk_pool *pool = qk_pool_create(2, topo, QK_BIND_NONE, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    e = qk_pool_exec(pool);
    cr_assert_eq(e.n_workers, 2);
    e.parallel_for(e.pool, 40, 0, count_body, &total);
    cr_assert_eq(atomic_load(&total), 73);
    qk_pool_destroy(pool);
    cr_assert_null(qk_pool_create(0, topo, QK_BIND_NONE, &err));
    cr_assert(strlen(err.msg) > 0);
}
