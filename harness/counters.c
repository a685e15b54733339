#include "harness/counters.h"

#include <papi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const qk_counters_default_events[] = {"PAPI_TOT_CYC", "PAPI_TOT_INS", "PAPI_L1_DCM",
                                                  "PAPI_L2_DCM",  "PAPI_L3_TCM",  "PAPI_BR_MSP"};
const int qk_counters_default_count = 6;

static unsigned long thread_id(void) {
    return (unsigned long)pthread_self();
}

/* Appends to c->reason (one line, truncated if long). */
static void reason_add(qk_counters *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason_add(qk_counters *c, const char *fmt, ...) {
    size_t used = strlen(c->reason);
    if (used + 1 >= sizeof c->reason) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason + used, sizeof c->reason - used, fmt, ap);
    va_end(ap);
}

static void drop(qk_counters *c, const char *name, const char *why) {
    snprintf(c->dropped[c->n_dropped], QK_COUNTERS_NAME, "%s", name);
    snprintf(c->dropped_why[c->n_dropped], sizeof c->dropped_why[0], "%s", why);
    c->n_dropped++;
}

/* Kernel-side facts that explain an empty PAPI: is there a hardware PMU, and may we use it? */
static void reason_kernel_hints(qk_counters *c) {
    static const char *const pmus[] = {"/sys/bus/event_source/devices/cpu",
                                       "/sys/bus/event_source/devices/cpu_core",
                                       "/sys/bus/event_source/devices/armv8_pmuv3_0"};
    int pmu = 0;
    for (size_t i = 0; i < sizeof pmus / sizeof pmus[0]; i++) pmu |= access(pmus[i], F_OK) == 0;
    if (!pmu)
        reason_add(c, "; the kernel exposes no hardware PMU (no /sys/bus/event_source/devices/cpu: "
                      "a VM without a virtual PMU?)");
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    int paranoid;
    if (f && fscanf(f, "%d", &paranoid) == 1) reason_add(c, "; perf_event_paranoid=%d", paranoid);
    if (f) fclose(f);
}

/* PAPI's hardware-counter count and the perf_event component's state, for the reason text. */
static int hw_counters(char *why, size_t size) {
    int n = PAPI_num_hwctrs(), found = 0;
    why[0] = 0;
    for (int cid = 0; cid < PAPI_num_components(); cid++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(cid);
        if (!ci || strcmp(ci->name, "perf_event") != 0) continue;
        found = 1;
        if (ci->disabled)
            snprintf(why, size, "perf_event component disabled: %.200s", ci->disabled_reason);
        else
            snprintf(why, size, "perf_event: %d counters", ci->num_cntrs);
    }
    if (!found) snprintf(why, size, "no perf_event component");
    return n < 0 ? 0 : n;
}

/* PAPI and its components print warnings and errors to stderr on their own; this library prints
 * nothing, and a run's output is its own. While PAPI sets up, fd 2 goes to a file of its own, and
 * what PAPI said joins the reason (when it matters) instead of the terminal. */
typedef struct {
    int saved;
    FILE *f;
} quiet;

static void quiet_begin(quiet *q) {
    fflush(stderr);
    q->f = tmpfile();
    q->saved = q->f ? dup(2) : -1;
    if (q->saved >= 0 && dup2(fileno(q->f), 2) < 0) {
        close(q->saved);
        q->saved = -1;
    }
}

/* Ends the capture; said gets PAPI's first non-empty line ("" when it said nothing). */
static void quiet_end(quiet *q, char *said, size_t size) {
    fflush(stderr);
    if (q->saved >= 0) {
        dup2(q->saved, 2);
        close(q->saved);
    }
    said[0] = 0;
    if (!q->f) return;
    char line[256];
    rewind(q->f);
    while (!said[0] && fgets(line, sizeof line, q->f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) snprintf(said, size, "%s", line);
    }
    fclose(q->f);
}

int qk_counters_check_names(const char *const *events, int n_events, char *bad, size_t size,
                            char *why, size_t why_size) {
    bad[0] = 0;
    why[0] = 0;
    quiet q;
    char said[256];
    quiet_begin(&q);
    int rc = 0;
    if (!(PAPI_is_initialized() & PAPI_LOW_LEVEL_INITED) &&
        PAPI_library_init(PAPI_VER_CURRENT) != PAPI_VER_CURRENT)
        rc = -1; /* cannot tell: qk_counters_init will say why counters are unavailable */
    for (int i = 0; rc == 0 && i < n_events; i++) {
        int code, r = PAPI_event_name_to_code(events[i], &code);
        if (r != PAPI_OK) {
            snprintf(bad, size, "%s", events[i]);
            snprintf(why, why_size, "%s", PAPI_strerror(r));
            rc = 1;
        }
    }
    quiet_end(&q, said, sizeof said);
    return rc;
}

static int unavailable(qk_counters *c) {
    c->available = 0;
    c->n_events = 0;
    return 0;
}

static int init_sets(qk_counters *c, const char *const *events, int n_events, int n_threads,
                     qk_error *err);

int qk_counters_init(qk_counters *c, const char *const *events, int n_events, int n_threads,
                     qk_error *err) {
    quiet q;
    char said[256];
    quiet_begin(&q);
    const int rc = init_sets(c, events, n_events, n_threads, err);
    quiet_end(&q, said, sizeof said);
    if (rc == 0 && !c->available && said[0]) reason_add(c, "; PAPI said: %s", said);
    return rc;
}

static int init_sets(qk_counters *c, const char *const *events, int n_events, int n_threads,
                     qk_error *err) {
    memset(c, 0, sizeof *c);
    if (!events) {
        events = qk_counters_default_events;
        n_events = qk_counters_default_count;
    }
    if (n_threads < 1 || n_events < 1 || n_events > QK_COUNTERS_MAX_EVENTS)
        return qk_fail(err, "counters: need 1..%d events and >= 1 thread (got %d, %d)",
                       QK_COUNTERS_MAX_EVENTS, n_events, n_threads);
    for (int i = 0; i < n_events; i++) {
        if (!events[i] || strlen(events[i]) >= QK_COUNTERS_NAME)
            return qk_fail(err, "counters: event %d: name missing or longer than %d characters", i,
                           QK_COUNTERS_NAME - 1);
        strcpy(c->requested[i], events[i]);
    }
    c->n_requested = n_events;
    c->n_threads = n_threads;
    c->event_sets = malloc((size_t)n_threads * sizeof *c->event_sets);
    c->owners = calloc((size_t)n_threads, sizeof *c->owners);
    c->values = calloc((size_t)n_threads * QK_COUNTERS_MAX_EVENTS, sizeof *c->values);
    c->thread_err = calloc((size_t)n_threads, sizeof *c->thread_err);
    if (!c->event_sets || !c->owners || !c->values || !c->thread_err) {
        qk_counters_free(c);
        return qk_fail(err, "counters: out of memory");
    }
    for (int i = 0; i < n_threads; i++) c->event_sets[i] = PAPI_NULL;

    if (!(PAPI_is_initialized() & PAPI_LOW_LEVEL_INITED)) {
        int v = PAPI_library_init(PAPI_VER_CURRENT);
        if (v != PAPI_VER_CURRENT) {
            reason_add(c, "PAPI_library_init: %s",
                       v < 0 ? PAPI_strerror(v) : "library version differs from papi.h");
            return unavailable(c);
        }
    }
    if (!(PAPI_is_initialized() & PAPI_THREAD_LEVEL_INITED)) {
        int rc = PAPI_thread_init(thread_id);
        if (rc != PAPI_OK) {
            reason_add(c, "PAPI_thread_init: %s", PAPI_strerror(rc));
            return unavailable(c);
        }
    }
    int v = PAPI_get_opt(PAPI_LIB_VERSION, NULL);
    snprintf(c->papi_version, sizeof c->papi_version, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(v),
             PAPI_VERSION_MINOR(v), PAPI_VERSION_REVISION(v), PAPI_VERSION_INCREMENT(v));
    char comp[256];
    int hw = hw_counters(comp, sizeof comp);

    /* Trial set on this thread: an event is kept only if it can really be added next to the others.
     */
    int es = PAPI_NULL, rc = PAPI_create_eventset(&es);
    if (rc != PAPI_OK) {
        reason_add(c, "PAPI %s: PAPI_create_eventset: %s (%s)", c->papi_version, PAPI_strerror(rc),
                   comp);
        reason_kernel_hints(c);
        return unavailable(c);
    }
    int refused = 0; /* events PAPI knows but could not add: worth explaining the kernel side */
    for (int i = 0; i < n_events; i++) {
        int code;
        char why[128];
        if ((rc = PAPI_event_name_to_code(events[i], &code)) != PAPI_OK) {
            snprintf(why, sizeof why, "unknown event (%s)", PAPI_strerror(rc));
            drop(c, events[i], why);
            continue;
        }
        if (PAPI_query_event(code) != PAPI_OK) {
            snprintf(why, sizeof why, "not available on this CPU");
        } else if ((rc = PAPI_add_event(es, code)) != PAPI_OK) {
            snprintf(why, sizeof why, "PAPI_add_event: %s", PAPI_strerror(rc));
        } else {
            strcpy(c->names[c->n_events], events[i]);
            c->codes[c->n_events++] = code;
            continue;
        }
        drop(c, events[i], why);
        refused++;
    }
    if (c->n_events > 0) {
        long long scratch[QK_COUNTERS_MAX_EVENTS];
        if ((rc = PAPI_start(es)) != PAPI_OK || (rc = PAPI_stop(es, scratch)) != PAPI_OK) {
            reason_add(c, "PAPI %s (%s): the event set does not start: %s", c->papi_version, comp,
                       PAPI_strerror(rc));
            reason_kernel_hints(c);
            c->n_events = 0;
        }
    }
    PAPI_cleanup_eventset(es);
    PAPI_destroy_eventset(&es);
    if (c->n_events > 0) {
        c->available = 1;
        return 0;
    }
    if (!c->reason[0]) {
        if (hw == 0)
            reason_add(c, "PAPI %s reports 0 hardware counters on this CPU/VM (%s)",
                       c->papi_version, comp);
        else
            reason_add(c, "PAPI %s (%s) cannot count any requested event:", c->papi_version, comp);
        /* events grouped by reason, in order of first appearance */
        for (int i = 0, groups = 0; i < c->n_dropped; i++) {
            int seen = 0;
            for (int k = 0; k < i; k++) seen |= strcmp(c->dropped_why[k], c->dropped_why[i]) == 0;
            if (seen) continue;
            reason_add(c, "%s %s", groups++ ? ";" : "", c->dropped[i]);
            for (int k = i + 1; k < c->n_dropped; k++)
                if (strcmp(c->dropped_why[k], c->dropped_why[i]) == 0)
                    reason_add(c, ", %s", c->dropped[k]);
            reason_add(c, ": %s", c->dropped_why[i]);
        }
        if (refused) reason_kernel_hints(c);
    }
    return unavailable(c);
}

void qk_counters_free(qk_counters *c) {
    free(c->event_sets);
    free(c->owners);
    free(c->values);
    free(c->thread_err);
    c->event_sets = NULL;
    c->owners = NULL;
    c->values = NULL;
    c->thread_err = NULL;
    c->available = 0;
}

static int thread_fail(qk_counters *c, int worker, const char *what, int rc) {
    qk_fail(&c->thread_err[worker], "counters worker %d: %s: %s", worker, what, PAPI_strerror(rc));
    return -1;
}

int qk_counters_thread_start(qk_counters *c, int worker) {
    if (!c->available) return 0;
    if (worker < 0 || worker >= c->n_threads) return -1;
    c->thread_err[worker].msg[0] = 0;
    memset(&c->values[worker * QK_COUNTERS_MAX_EVENTS], 0,
           QK_COUNTERS_MAX_EVENTS * sizeof(long long));
    pthread_t self = pthread_self();
    if (c->event_sets[worker] != PAPI_NULL && !pthread_equal(c->owners[worker], self))
        c->event_sets[worker] = PAPI_NULL; /* made by a thread of an earlier pool: start afresh */
    if (c->event_sets[worker] == PAPI_NULL) {
        int es = PAPI_NULL, rc;
        PAPI_register_thread();
        if ((rc = PAPI_create_eventset(&es)) != PAPI_OK)
            return thread_fail(c, worker, "PAPI_create_eventset", rc);
        if ((rc = PAPI_add_events(es, c->codes, c->n_events)) != PAPI_OK) {
            PAPI_cleanup_eventset(es);
            PAPI_destroy_eventset(&es);
            return thread_fail(c, worker, "PAPI_add_events", rc);
        }
        c->event_sets[worker] = es;
        c->owners[worker] = self;
    }
    int rc = PAPI_start(c->event_sets[worker]);
    return rc == PAPI_OK ? 0 : thread_fail(c, worker, "PAPI_start", rc);
}

int qk_counters_thread_stop(qk_counters *c, int worker, long long *values) {
    if (!c->available) return 0;
    if (worker < 0 || worker >= c->n_threads || c->event_sets[worker] == PAPI_NULL) return -1;
    long long *mine = &c->values[worker * QK_COUNTERS_MAX_EVENTS];
    int rc = PAPI_stop(c->event_sets[worker], mine);
    if (rc != PAPI_OK) return thread_fail(c, worker, "PAPI_stop", rc);
    if (values) memcpy(values, mine, (size_t)c->n_events * sizeof *values);
    return 0;
}

void qk_counters_thread_release(qk_counters *c, int worker) {
    if (!c->available || worker < 0 || worker >= c->n_threads) return;
    if (c->event_sets[worker] == PAPI_NULL || !pthread_equal(c->owners[worker], pthread_self()))
        return;
    long long scratch[QK_COUNTERS_MAX_EVENTS];
    PAPI_stop(c->event_sets[worker], scratch); /* fails harmlessly when not running */
    PAPI_cleanup_eventset(c->event_sets[worker]);
    PAPI_destroy_eventset(&c->event_sets[worker]);
    c->event_sets[worker] = PAPI_NULL;
    if (worker > 0) PAPI_unregister_thread(); /* worker 0 is the creating thread: it stays */
}

void qk_counters_sum(const qk_counters *c, long long *sums) {
    for (int e = 0; e < c->n_events; e++) {
        sums[e] = 0;
        for (int w = 0; w < c->n_threads; w++) sums[e] += c->values[w * QK_COUNTERS_MAX_EVENTS + e];
    }
}

static void each_start(void *arg, int worker) {
    qk_counters_thread_start(arg, worker);
}
static void each_stop(void *arg, int worker) {
    qk_counters_thread_stop(arg, worker, NULL);
}
static void each_release(void *arg, int worker) {
    qk_counters_thread_release(arg, worker);
}

static int first_error(qk_counters *c, qk_pool *pool, qk_error *err) {
    for (int w = 0; w < qk_pool_size(pool); w++)
        if (c->thread_err[w].msg[0]) return qk_fail(err, "%s", c->thread_err[w].msg);
    return 0;
}

static int pool_fits(const qk_counters *c, qk_pool *pool, qk_error *err) {
    if (qk_pool_size(pool) <= c->n_threads) return 0;
    return qk_fail(err, "counters: made for %d threads, pool has %d", c->n_threads,
                   qk_pool_size(pool));
}

int qk_counters_start_all(qk_counters *c, qk_pool *pool, qk_error *err) {
    if (!c->available) return 0;
    if (pool_fits(c, pool, err)) return -1;
    memset(c->values, 0, (size_t)c->n_threads * QK_COUNTERS_MAX_EVENTS * sizeof *c->values);
    for (int w = 0; w < c->n_threads; w++) c->thread_err[w].msg[0] = 0;
    qk_pool_run_on_each(pool, each_start, c);
    return first_error(c, pool, err);
}

int qk_counters_stop_all(qk_counters *c, qk_pool *pool, long long *sums, qk_error *err) {
    if (!c->available) return 0;
    if (pool_fits(c, pool, err)) return -1;
    qk_pool_run_on_each(pool, each_stop, c);
    if (sums) qk_counters_sum(c, sums);
    return first_error(c, pool, err);
}

void qk_counters_release_all(qk_counters *c, qk_pool *pool) {
    if (c->available && qk_pool_size(pool) <= c->n_threads)
        qk_pool_run_on_each(pool, each_release, c);
}

json_t *qk_counters_to_json(const qk_counters *c, const long long *sums) {
    if (!c->available) {
        json_t *req = json_array();
        for (int i = 0; i < c->n_requested; i++)
            json_array_append_new(req, json_string(c->requested[i]));
        return json_pack("{s:b, s:s, s:o}", "available", 0, "reason",
                         c->reason[0] ? c->reason : "counters not initialised", "requested", req);
    }
    json_t *ev = sums ? json_object() : json_array();
    for (int e = 0; e < c->n_events; e++) {
        if (sums)
            json_object_set_new(ev, c->names[e], json_integer((json_int_t)sums[e]));
        else
            json_array_append_new(ev, json_string(c->names[e]));
    }
    json_t *dropped = json_object();
    for (int i = 0; i < c->n_dropped; i++)
        json_object_set_new(dropped, c->dropped[i], json_string(c->dropped_why[i]));
    return json_pack("{s:b, s:o, s:o, s:s}", "available", 1, "events", ev, "dropped", dropped,
                     "papi_version", c->papi_version);
}
