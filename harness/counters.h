/* Hardware performance counters (PAPI), per thread, summed over the pool's workers.
 *
 * qk_counters_init probes what this machine really gives: it initialises PAPI (with thread
 * support), maps each event name to a code, and adds every event to a trial event set that it
 * starts and stops, because PAPI can list an event as available and still fail to add it (e.g. a VM
 * whose kernel exposes no PMU). Events that fail are dropped and recorded with the reason; when
 * none is left the set is *unavailable*: init still returns 0, `available` is 0 and `reason` says
 * why in one line. Nothing is invented: an unavailable set yields no numbers at all.
 *
 * Event sets are per thread: worker w's set is created by that thread on its first thread_start and
 * must be started, stopped and released on it (run them through qk_pool_run_on_each, or use the
 * *_all helpers). Init and the *_all helpers are called from the pool's creating thread. */
#ifndef QK_HARNESS_COUNTERS_H
#define QK_HARNESS_COUNTERS_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "common/error.h"
#include "harness/pool.h"

#define QK_COUNTERS_MAX_EVENTS 16
#define QK_COUNTERS_NAME       64

typedef struct {
    int available;     /* 1: at least one event can be counted */
    char reason[1024]; /* when unavailable: why, one line */
    char papi_version[32];
    int n_requested;
    char requested[QK_COUNTERS_MAX_EVENTS][QK_COUNTERS_NAME];
    int n_events; /* the events counted, in request order */
    char names[QK_COUNTERS_MAX_EVENTS][QK_COUNTERS_NAME];
    int codes[QK_COUNTERS_MAX_EVENTS];
    int n_dropped; /* requested but not counted, and why ("not available on this CPU", PAPI's error)
                    */
    char dropped[QK_COUNTERS_MAX_EVENTS][QK_COUNTERS_NAME];
    char dropped_why[QK_COUNTERS_MAX_EVENTS][128];
    int n_threads;
    int *event_sets;      /* [n_threads]: PAPI_NULL until the worker's first start */
    pthread_t *owners;    /* [n_threads]: the thread that created each set */
    long long *values;    /* [n_threads][n_events]: each worker's last stopped values */
    qk_error *thread_err; /* [n_threads]: last start/stop failure of each worker */
} qk_counters;

/* The default events: cycles, instructions, L1D/L2 data misses, L3 total misses, branch
 * mispredictions. */
extern const char *const qk_counters_default_events[];
extern const int qk_counters_default_count;

/* events NULL: the default list. Returns -1 only for bad arguments or no memory; an unusable PAPI
 * gives 0 with c->available == 0. Release with qk_counters_free. */
/* Whether PAPI knows every name (a preset such as PAPI_TOT_CYC, or a native event), available on
 * this CPU or not: 0 yes; 1 no, bad gets the first unknown one and why PAPI's word for it; -1 PAPI
 * cannot say (it does not initialise: qk_counters_init then says why counters are unavailable).
 * For the experiment check before a run: a misspelt event is bad input, an event this CPU lacks
 * is not. Nothing is printed (PAPI's own output is captured). */
int qk_counters_check_names(const char *const *events, int n_events, char *bad, size_t size,
                            char *why, size_t why_size);

int qk_counters_init(qk_counters *c, const char *const *events, int n_events, int n_threads,
                     qk_error *err);
/* Frees the arrays. Event sets not released on their threads (qk_counters_release_all) stay in
 * PAPI. */
void qk_counters_free(qk_counters *c);

/* On worker `worker`'s own thread: register the thread and create its set once, then start it.
 * Zeroes this worker's values. No-op (0) when unavailable. -1 on failure, message in
 * c->thread_err[worker]. */
int qk_counters_thread_start(qk_counters *c, int worker);
/* On the same thread: stop, store this worker's values (and copy them to values if non-NULL). */
int qk_counters_thread_stop(qk_counters *c, int worker, long long *values);
/* On the same thread: destroy the set and unregister the thread. */
void qk_counters_thread_release(qk_counters *c, int worker);

/* sums[e] = sum over workers of their last stopped value of event e (n_events entries). */
void qk_counters_sum(const qk_counters *c, long long *sums);

/* The same on every worker of pool (size <= n_threads), from the creating thread; first error in
 * err. stop_all also sums into sums (may be NULL). */
int qk_counters_start_all(qk_counters *c, qk_pool *pool, qk_error *err);
int qk_counters_stop_all(qk_counters *c, qk_pool *pool, long long *sums, qk_error *err);
void qk_counters_release_all(qk_counters *c, qk_pool *pool);

/* {"available": false, "reason": "...", "requested": [names]} or
 * {"available": true, "events": {name: sum, ...}, "dropped": {name: why}} (sums NULL: "events"
 * lists the names only). New reference. */
json_t *qk_counters_to_json(const qk_counters *c, const long long *sums);

#endif
