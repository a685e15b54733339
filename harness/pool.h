/* A persistent pool of pinned worker threads, made once per run, for the model's parallel_for.
 *
 * Worker 0 is the thread that creates the pool (it takes a share of every loop); workers 1..n-1 are
 * threads created by qk_pool_create, which returns only when every one of them is bound (topology.h
 * policies) and has read its binding back. No thread is created or destroyed after that, so timed
 * regions never pay for one.
 *
 * One loop: the caller publishes the job and bumps an epoch counter; each worker handles its
 * contiguous range and decrements a pending counter; the caller runs range 0 and waits for pending
 * == 0. Waiting threads spin (pause) for QK_POOL_SPIN_NS, then sleep on a futex, so an idle pool
 * costs no CPU while a busy one wakes in well under a microsecond. An oversubscribed pool (more
 * threads than usable PUs) skips the spin and sleeps at once.
 *
 * Use from one thread: the one that created the pool (loops, run_on_each and destroy). A
 * parallel_for called from inside a body runs inline on the calling worker. */
#ifndef QK_HARNESS_POOL_H
#define QK_HARNESS_POOL_H

#include <jansson.h>

#include "common/error.h"
#include "model/exec.h"
#include "harness/topology.h"

#define QK_POOL_SPIN_NS 200000 /* how long an idle thread spins before it sleeps */

typedef struct qk_pool qk_pool;

/* n_threads >= 1 (1: every loop runs inline on the caller, which is still bound per policy). topo
 * must outlive the pool. NULL on failure (err says why; no thread is left behind). */
qk_pool *qk_pool_create(int n_threads, const qk_topology *topo, qk_binding_policy policy,
                        qk_error *err);
/* Stops and joins the workers and restores the creating thread's original binding. NULL is fine. */
void qk_pool_destroy(qk_pool *pool);

int qk_pool_size(const qk_pool *pool); /* threads, main included */

/* model/exec.h's qk_parallel_for_fn. grain <= 0 (or >= n): [0, n) is split into size() contiguous
 * ranges whose lengths differ by at most one: worker i gets [n*i/T, n*(i+1)/T); empty ranges are
 * not called. grain >= 1: chunks [k*grain, (k+1)*grain) are claimed from a shared counter by
 * whichever worker is free, so a body may be called several times per worker. Returns when all are
 * done; their writes are then visible to the caller. pool may be NULL (serial: one call [0, n)). */
void qk_pool_parallel_for(void *pool, int n, int grain, qk_range_fn body, void *arg);

/* Runs fn(arg, worker) exactly once on every worker thread, main included (e.g. start per-thread
 * counters), and returns when all are done. Not from inside a body. */
void qk_pool_run_on_each(qk_pool *pool, void (*fn)(void *arg, int worker), void *arg);

/* Returns once every worker is asleep on its futex (none spins: after a loop they spin for up to
 * QK_POOL_SPIN_NS first), waiting by sleeping, not spinning; for something else to be measured
 * on the same PUs (the llama.cpp peer's own process). 0, or -1 when some worker was still awake
 * after 100 ms (a loaded machine: it is then off-CPU or about to sleep). NULL is fine. */
int qk_pool_park(qk_pool *pool);

/* The binding worker i really obtained: its cpuset in list syntax ("0", "0-1"); "" if i is invalid.
 */
const char *qk_pool_binding(const qk_pool *pool, int i);
const qk_binding *qk_pool_binding_info(const qk_pool *pool, int i); /* NULL if i is invalid */
json_t *
qk_pool_bindings_json(const qk_pool *pool); /* new array, one qk_binding_to_json per worker */

/* The qk_exec the model needs to run on this pool (profiling off); pool NULL gives a serial exec.
 */
qk_exec qk_pool_exec(qk_pool *pool);

#endif
