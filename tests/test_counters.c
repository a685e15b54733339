/* PAPI counters: the unavailable path (forced, and on this machine when it has no counters) gives a
 * reason and no numbers; where events can be counted, start/stop over the pool gives non-negative
 * sums. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness/counters.h"

/* A JSON value holds no number anywhere inside. */
static int has_number(const json_t *j) {
    if (json_is_number(j)) return 1;
    size_t i;
    const char *k;
    json_t *v;
    json_array_foreach(j, i, v) {
        if (has_number(v)) return 1;
    }
    json_object_foreach((json_t *)j, k, v) {
        if (has_number(v)) return 1;
    }
    return 0;
}

static void assert_unavailable_json(const qk_counters *c) {
    long long sums[QK_COUNTERS_MAX_EVENTS] = {0};
    json_t *j = qk_counters_to_json(c, sums);
    cr_assert_not_null(j);
    cr_assert(json_is_false(json_object_get(j, "available")));
    const char *reason = json_string_value(json_object_get(j, "reason"));
    cr_assert(reason && *reason);
    cr_assert_null(strchr(reason, '\n'), "reason is one line: %s", reason);
    cr_assert_null(json_object_get(j, "events"));
    cr_assert(!has_number(j), "unavailable counters must carry no numbers");
    json_decref(j);
}

Test(counters, unknown_events_force_the_unavailable_path) {
    const char *ev[] = {"QK_NO_SUCH_EVENT", "PAPI_NOT_A_PRESET"};
    qk_counters c;
    qk_error err = {{0}};
    cr_assert_eq(qk_counters_init(&c, ev, 2, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(c.available, 0);
    cr_assert(c.reason[0]);
    cr_assert(strstr(c.reason, "QK_NO_SUCH_EVENT"), "%s", c.reason);
    cr_assert_eq(c.n_events, 0);
    cr_assert_eq(c.n_dropped, 2);
    assert_unavailable_json(&c);
    /* the per-thread calls are harmless no-ops */
    long long v[QK_COUNTERS_MAX_EVENTS];
    cr_assert_eq(qk_counters_thread_start(&c, 0), 0);
    cr_assert_eq(qk_counters_thread_stop(&c, 0, v), 0);
    cr_assert_eq(qk_counters_start_all(&c, NULL, &err), 0);
    cr_assert_eq(qk_counters_stop_all(&c, NULL, v, &err), 0);
    qk_counters_free(&c);
}

Test(counters, default_events_probe_this_machine) {
    qk_counters c;
    qk_error err = {{0}};
    cr_assert_eq(qk_counters_init(&c, NULL, 0, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(c.n_requested, qk_counters_default_count);
    cr_assert_eq(c.n_events + c.n_dropped, c.n_requested);
    if (!c.available) {
        cr_log_info("counters unavailable here: %s", c.reason);
        cr_assert(c.reason[0]);
        assert_unavailable_json(&c);
    } else {
        cr_assert_gt(c.n_events, 0);
    }
    qk_counters_free(&c);
}

Test(counters, bad_arguments_are_errors) {
    qk_counters c;
    qk_error err = {{0}};
    const char *ev[] = {"PAPI_TOT_CYC"};
    cr_assert_neq(qk_counters_init(&c, ev, 1, 0, &err), 0);
    cr_assert_neq(qk_counters_init(&c, ev, 0, 1, &err), 0);
    cr_assert(err.msg[0]);
    qk_counters_free(&c);
}

static void spin_body(void *arg, int begin, int end, int worker) {
    (void)worker;
    volatile double *acc = arg;
    double s = 0;
    for (int i = begin; i < end; i++) s += i * 0.5;
    acc[worker] += s;
}

/* The available path, run with the given events; skipped where none can be counted. */
static void run_available(const char *const *ev, int n) {
    qk_topology *topo;
    qk_error err = {{0}};
    cr_assert_eq(qk_topology_open(&topo, &err), 0, "%s", err.msg);
    qk_counters c;
    cr_assert_eq(qk_counters_init(&c, ev, n, 2, &err), 0, "%s", err.msg);
    if (!c.available) {
        cr_log_info("skipped: %s", c.reason);
        qk_counters_free(&c);
        qk_topology_close(topo);
        cr_skip_test("no countable event here: %s", c.reason);
    }
    qk_pool *pool = qk_pool_create(2, topo, QK_BIND_COMPACT, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    long long sums[QK_COUNTERS_MAX_EVENTS];
    volatile double acc[2] = {0, 0};
    for (int rep = 0; rep < 3; rep++) {
        cr_assert_eq(qk_counters_start_all(&c, pool, &err), 0, "%s", err.msg);
        qk_pool_parallel_for(pool, 2000000, 0, spin_body, (void *)acc);
        cr_assert_eq(qk_counters_stop_all(&c, pool, sums, &err), 0, "%s", err.msg);
        for (int e = 0; e < c.n_events; e++) cr_assert_geq(sums[e], 0, "%s", c.names[e]);
    }
    json_t *j = qk_counters_to_json(&c, sums);
    cr_assert(json_is_true(json_object_get(j, "available")));
    json_t *events = json_object_get(j, "events");
    cr_assert_eq(json_object_size(events), (size_t)c.n_events);
    cr_assert_eq(json_integer_value(json_object_get(events, c.names[0])), sums[0]);
    json_decref(j);
    qk_counters_release_all(&c, pool);
    qk_pool_destroy(pool);
    qk_counters_free(&c);
    qk_topology_close(topo);
}

Test(counters, hardware_events_count_when_available, .timeout = 30) {
    run_available(NULL, 0);
}

/* Linux software events through PAPI's perf_event component: countable even in VMs without a PMU,
 * so the available path is exercised here too (skipped where perf_event is closed, e.g. paranoid
 * 3). */
Test(counters, software_events_count_per_thread, .timeout = 30) {
    const char *ev[] = {"perf::TASK-CLOCK", "perf::PAGE-FAULTS", "QK_NO_SUCH_EVENT"};
    run_available(ev, 3);
}

/* An event name PAPI does not know is bad input (the run refuses it before anything runs, at its
 * line); a preset PAPI knows but this CPU lacks is not (one experiment file serves every CPU). */
Test(counters, names_are_checked_against_what_papi_knows) {
    const char *ok[] = {"PAPI_TOT_CYC", "PAPI_FP_OPS", "PAPI_L3_TCM"};
    const char *bad[] = {"PAPI_TOT_CYC", "PAPI_FOO"};
    char name[128], why[128];
    const int rc = qk_counters_check_names(ok, 3, name, sizeof name, why, sizeof why);
    cr_expect(rc == 0 || rc == -1, "known presets refused: %s (%s)", name, why);
    if (rc == -1) cr_skip_test("PAPI does not initialise here: names cannot be checked");
    cr_expect_eq(qk_counters_check_names(bad, 2, name, sizeof name, why, sizeof why), 1);
    cr_expect_str_eq(name, "PAPI_FOO");
    cr_expect(why[0], "no word from PAPI");
}
