/* Topology: counts and caches as hwloc reports them, policy names, and where workers are placed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/topology.h"

static qk_topology *topo;

static void open_topo(void) {
    qk_error err = {{0}};
    cr_assert_eq(qk_topology_open(&topo, &err), 0, "%s", err.msg);
}
static void close_topo(void) {
    qk_topology_close(topo);
}

TestSuite(topology, .init = open_topo, .fini = close_topo, .timeout = 30);

Test(topology, counts_are_positive_and_consistent) {
    const qk_topology_info *in = qk_topology_get_info(topo);
    cr_assert_gt(in->packages, 0);
    cr_assert_gt(in->numa_nodes, 0);
    cr_assert_gt(in->cores, 0);
    cr_assert_geq(in->pus, in->cores);
    cr_assert_gt(in->usable_pus, 0);
    cr_assert_leq(in->usable_pus, in->pus);
    cr_assert_gt(in->usable_cores, 0);
    cr_assert_leq(in->usable_cores, in->cores);
    cr_assert(in->usable_cpuset[0]);
}

Test(topology, caches_have_sizes_where_reported) {
    const qk_topology_info *in = qk_topology_get_info(topo);
    for (int l = 0; l < 3; l++) {
        const qk_cache_info *c = &in->cache[l];
        cr_assert_eq(c->level, l + 1);
        if (!c->size) continue; /* hwloc did not report this level */
        cr_assert_gt(c->cores_sharing, 0, "L%d", l + 1);
        cr_assert_gt(c->instances, 0, "L%d", l + 1);
        cr_assert_leq(c->cores_sharing, in->cores);
    }
    /* every x86 machine hwloc knows of reports L1d and L2 */
#if defined(__x86_64__)
    cr_assert_gt(in->cache[0].size, 0, "L1d size");
    cr_assert_gt(in->cache[1].size, 0, "L2 size");
    cr_assert_geq(in->cache[1].size, in->cache[0].size);
#endif
}

Test(topology, policy_names_round_trip) {
    qk_binding_policy all[] = {QK_BIND_NONE, QK_BIND_COMPACT, QK_BIND_SCATTER};
    for (int i = 0; i < 3; i++) {
        qk_binding_policy p = (qk_binding_policy)-1;
        qk_error err = {{0}};
        cr_assert_eq(qk_binding_policy_parse(qk_binding_policy_name(all[i]), &p, &err), 0);
        cr_assert_eq(p, all[i]);
    }
    qk_binding_policy p;
    cr_assert_eq(qk_binding_policy_parse("COMPACT", &p, NULL), 0);
    cr_assert_eq(p, QK_BIND_COMPACT);
    qk_error err = {{0}};
    cr_assert_neq(qk_binding_policy_parse("spread", &p, &err), 0);
    cr_assert(strstr(err.msg, "spread"), "%s", err.msg);
    cr_assert_str_eq(qk_binding_policy_name((qk_binding_policy)7), "?");
}

Test(topology, worker_cpusets_under_each_policy) {
    const qk_topology_info *in = qk_topology_get_info(topo);
    hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc(), all = hwloc_bitmap_alloc();
    int n = in->usable_pus;
    qk_binding_policy pol[] = {QK_BIND_COMPACT, QK_BIND_SCATTER};
    for (int p = 0; p < 2; p++) {
        /* one PU per worker, all distinct while there are PUs, together the usable set */
        hwloc_bitmap_zero(all);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(qk_topology_worker_cpuset(topo, pol[p], n, i, a), 0);
            cr_assert_eq(hwloc_bitmap_weight(a), 1, "%s worker %d", qk_binding_policy_name(pol[p]),
                         i);
            cr_assert(!hwloc_bitmap_intersects(a, all), "%s worker %d reuses a PU",
                      qk_binding_policy_name(pol[p]), i);
            hwloc_bitmap_or(all, all, a);
        }
        char s[QK_CPUSET_STR];
        hwloc_bitmap_list_snprintf(s, sizeof s, all);
        cr_assert_str_eq(s, in->usable_cpuset);
        /* past the PUs, worker i wraps to worker i % n */
        cr_assert_eq(qk_topology_worker_cpuset(topo, pol[p], n + 1, n, a), 0);
        cr_assert_eq(qk_topology_worker_cpuset(topo, pol[p], n + 1, 0, b), 0);
        cr_assert(hwloc_bitmap_isequal(a, b));
    }
    /* compact starts on the first usable PU */
    cr_assert_eq(qk_topology_worker_cpuset(topo, QK_BIND_COMPACT, 2, 0, a), 0);
    char first[16];
    snprintf(first, sizeof first, "%d", atoi(in->usable_cpuset));
    char got[QK_CPUSET_STR];
    hwloc_bitmap_list_snprintf(got, sizeof got, a);
    cr_assert_str_eq(got, first);
    /* none: the whole usable set */
    cr_assert_eq(qk_topology_worker_cpuset(topo, QK_BIND_NONE, 4, 3, a), 0);
    hwloc_bitmap_list_snprintf(got, sizeof got, a);
    cr_assert_str_eq(got, in->usable_cpuset);
    /* invalid arguments */
    cr_assert_neq(qk_topology_worker_cpuset(topo, QK_BIND_COMPACT, 0, 0, a), 0);
    cr_assert_neq(qk_topology_worker_cpuset(topo, QK_BIND_COMPACT, 2, 2, a), 0);
    cr_assert_neq(qk_topology_worker_cpuset(topo, QK_BIND_COMPACT, 2, -1, a), 0);
    hwloc_bitmap_free(a);
    hwloc_bitmap_free(b);
    hwloc_bitmap_free(all);
}

Test(topology, scatter_spreads_over_packages_first) {
    const qk_topology_info *in = qk_topology_get_info(topo);
    if (in->packages < 2) cr_skip_test("one package here: scatter == compact order of cores");
    hwloc_topology_t t = qk_topology_hwloc(topo);
    hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc();
    qk_topology_worker_cpuset(topo, QK_BIND_SCATTER, 2, 0, a);
    qk_topology_worker_cpuset(topo, QK_BIND_SCATTER, 2, 1, b);
    hwloc_obj_t pa = hwloc_get_ancestor_obj_by_type(
        t, HWLOC_OBJ_PACKAGE, hwloc_get_pu_obj_by_os_index(t, (unsigned)hwloc_bitmap_first(a)));
    hwloc_obj_t pb = hwloc_get_ancestor_obj_by_type(
        t, HWLOC_OBJ_PACKAGE, hwloc_get_pu_obj_by_os_index(t, (unsigned)hwloc_bitmap_first(b)));
    cr_assert_neq(pa, pb);
    hwloc_bitmap_free(a);
    hwloc_bitmap_free(b);
}

Test(topology, bind_reads_back_what_was_obtained) {
    qk_binding b;
    qk_error err = {{0}};
    cr_assert_eq(qk_topology_bind_current_thread(topo, QK_BIND_COMPACT, 1, 0, &b, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(b.obtained, b.requested);
    cr_assert_eq(b.policy, QK_BIND_COMPACT);
    char now[QK_CPUSET_STR];
    cr_assert_eq(qk_topology_thread_cpuset_string(topo, now, sizeof now, &err), 0);
    cr_assert_str_eq(now, b.obtained);
    cr_assert_eq(b.last_cpu, atoi(b.obtained));
    json_t *j = qk_binding_to_json(&b);
    cr_assert_str_eq(json_string_value(json_object_get(j, "policy")), "compact");
    cr_assert_str_eq(json_string_value(json_object_get(j, "obtained")), b.obtained);
    json_decref(j);
    /* none resets the thread to every usable PU */
    cr_assert_eq(qk_topology_bind_current_thread(topo, QK_BIND_NONE, 1, 0, &b, &err), 0);
    cr_assert_str_eq(b.obtained, qk_topology_get_info(topo)->usable_cpuset);
    cr_assert_neq(qk_topology_bind_current_thread(topo, QK_BIND_NONE, 1, 1, &b, &err), 0);
}

Test(topology, json_summary) {
    json_t *j = qk_topology_to_json(topo);
    cr_assert_not_null(j);
    const qk_topology_info *in = qk_topology_get_info(topo);
    cr_assert_eq(json_integer_value(json_object_get(j, "cores")), in->cores);
    cr_assert_eq(json_integer_value(json_object_get(j, "pus")), in->pus);
    cr_assert(json_is_array(json_object_get(j, "caches")));
    json_decref(j);
}
