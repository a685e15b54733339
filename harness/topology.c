#include "harness/topology.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct qk_topology {
    hwloc_topology_t t;
    hwloc_obj_type_t core_type; /* HWLOC_OBJ_CORE, or HWLOC_OBJ_PU when hwloc reports no cores */
    hwloc_bitmap_t usable;      /* allowed PUs & the opening thread's affinity */
    int n_order;                /* usable PUs */
    int *compact, *scatter;     /* PU OS indexes in placement order, n_order each */
    qk_topology_info info;
};

static int count_type(hwloc_topology_t t, hwloc_obj_type_t type) {
    int n = hwloc_get_nbobjs_by_type(t, type);
    return n > 0 ? n : 0;
}

/* Cores of obj's subtree that hold usable PUs, in scatter order: the children's lists interleaved
 * round-robin at every level, so consecutive workers land in different packages, L3s, L2s...
 * Returns how many were written to out, or -1 (out of memory). */
static int scatter_cores(const qk_topology *tp, hwloc_obj_t obj, hwloc_obj_t *out) {
    if (!obj->cpuset || !hwloc_bitmap_intersects(obj->cpuset, tp->usable)) return 0;
    if (obj->type == tp->core_type) {
        out[0] = obj;
        return 1;
    }
    if (obj->arity == 0) return 0;
    if (obj->arity == 1) return scatter_cores(tp, obj->first_child, out);
    int cap = hwloc_get_nbobjs_inside_cpuset_by_type(tp->t, obj->cpuset, tp->core_type);
    if (cap <= 0) return 0;
    hwloc_obj_t *tmp = malloc((size_t)cap * sizeof *tmp);
    int *start = malloc(obj->arity * sizeof *start), *len = malloc(obj->arity * sizeof *len);
    int n = 0, rc = -1, longest = 0;
    if (!tmp || !start || !len) goto done;
    for (unsigned c = 0; c < obj->arity; c++) {
        start[c] = n;
        len[c] = scatter_cores(tp, obj->children[c], tmp + n);
        if (len[c] < 0) goto done;
        n += len[c];
        if (len[c] > longest) longest = len[c];
    }
    rc = 0;
    for (int r = 0; r < longest; r++)
        for (unsigned c = 0; c < obj->arity; c++)
            if (r < len[c]) out[rc++] = tmp[start[c] + r];
done:
    free(tmp);
    free(start);
    free(len);
    return rc;
}

/* PUs in placement order from a core order: the first usable PU of every core, then the second...
 */
static void order_pus(const qk_topology *tp, hwloc_obj_t *cores, int n_cores, int *out) {
    int n = 0;
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    for (int k = 0; n < tp->n_order && k < tp->n_order; k++) {
        for (int c = 0; c < n_cores; c++) {
            hwloc_bitmap_and(b, cores[c]->cpuset, tp->usable);
            int pu = hwloc_bitmap_first(b);
            for (int j = 0; j < k && pu >= 0; j++) pu = hwloc_bitmap_next(b, pu);
            if (pu >= 0) out[n++] = pu;
        }
    }
    hwloc_bitmap_free(b);
}

static void fill_cache(qk_topology *tp, int level, hwloc_obj_type_t type) {
    qk_cache_info *ci = &tp->info.cache[level - 1];
    memset(ci, 0, sizeof *ci);
    ci->level = level;
    hwloc_obj_t o = hwloc_get_obj_by_type(tp->t, type, 0);
    if (!o || !o->attr || o->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION) return;
    ci->size = (unsigned long long)o->attr->cache.size;
    ci->line_size = o->attr->cache.linesize;
    ci->associativity = o->attr->cache.associativity;
    ci->unified = o->attr->cache.type == HWLOC_OBJ_CACHE_UNIFIED;
    ci->cores_sharing = hwloc_get_nbobjs_inside_cpuset_by_type(tp->t, o->cpuset, tp->core_type);
    ci->instances = count_type(tp->t, type);
}

int qk_topology_open(qk_topology **out, qk_error *err) {
    *out = NULL;
    qk_topology *tp = calloc(1, sizeof *tp);
    if (!tp) return qk_fail(err, "topology: out of memory");
    if (hwloc_topology_init(&tp->t) != 0) {
        free(tp);
        return qk_fail(err, "hwloc_topology_init: %s", strerror(errno));
    }
    if (hwloc_topology_load(tp->t) != 0) {
        int e = errno;
        hwloc_topology_destroy(tp->t);
        free(tp);
        return qk_fail(err, "hwloc_topology_load: %s", strerror(e));
    }
    hwloc_topology_t t = tp->t;
    tp->core_type = count_type(t, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;

    /* usable = allowed & this thread's affinity (unless they do not meet: then allowed) */
    tp->usable = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
    hwloc_bitmap_t mine = hwloc_bitmap_alloc();
    if (!tp->usable || !mine) {
        hwloc_bitmap_free(mine);
        qk_topology_close(tp);
        return qk_fail(err, "topology: out of memory");
    }
    if (hwloc_get_cpubind(t, mine, HWLOC_CPUBIND_THREAD) == 0 &&
        hwloc_bitmap_intersects(mine, tp->usable))
        hwloc_bitmap_and(tp->usable, tp->usable, mine);
    hwloc_bitmap_free(mine);

    qk_topology_info *in = &tp->info;
    in->packages = count_type(t, HWLOC_OBJ_PACKAGE);
    in->numa_nodes = count_type(t, HWLOC_OBJ_NUMANODE);
    in->cores = count_type(t, tp->core_type);
    in->pus = count_type(t, HWLOC_OBJ_PU);
    if (in->packages < 1) in->packages = 1;
    if (in->numa_nodes < 1) in->numa_nodes = 1;
    in->usable_pus = hwloc_bitmap_weight(tp->usable);
    in->usable_cores = 0; /* a core partly outside the usable set still counts once */
    for (hwloc_obj_t c = NULL; (c = hwloc_get_next_obj_by_type(t, tp->core_type, c));)
        if (hwloc_bitmap_intersects(c->cpuset, tp->usable)) in->usable_cores++;
    hwloc_bitmap_list_snprintf(in->usable_cpuset, sizeof in->usable_cpuset, tp->usable);
    fill_cache(tp, 1, HWLOC_OBJ_L1CACHE);
    fill_cache(tp, 2, HWLOC_OBJ_L2CACHE);
    fill_cache(tp, 3, HWLOC_OBJ_L3CACHE);
    if (in->pus < 1 || in->usable_pus < 1 || in->usable_cores < 1) {
        qk_topology_close(tp);
        return qk_fail(err, "hwloc found no usable processing unit");
    }

    tp->n_order = in->usable_pus;
    tp->compact = malloc((size_t)tp->n_order * sizeof(int));
    tp->scatter = malloc((size_t)tp->n_order * sizeof(int));
    hwloc_obj_t *cores = malloc((size_t)in->cores * sizeof *cores);
    int n = 0;
    if (tp->compact && tp->scatter && cores) {
        for (hwloc_obj_t c = NULL; (c = hwloc_get_next_obj_by_type(t, tp->core_type, c));)
            if (hwloc_bitmap_intersects(c->cpuset, tp->usable)) cores[n++] = c;
        order_pus(tp, cores, n, tp->compact);
        n = scatter_cores(tp, hwloc_get_root_obj(t), cores);
        if (n == in->usable_cores) order_pus(tp, cores, n, tp->scatter);
    }
    free(cores);
    if (!tp->compact || !tp->scatter || n != in->usable_cores) {
        /* decide the message before closing: it reads tp */
        const int oom = n < 0 || !tp->compact || !tp->scatter;
        const int usable = in->usable_cores;
        qk_topology_close(tp);
        return oom ? qk_fail(err, "topology: out of memory")
                   : qk_fail(err, "topology: scatter order found %d of %d cores", n, usable);
    }
    *out = tp;
    return 0;
}

void qk_topology_close(qk_topology *topo) {
    if (!topo) return;
    free(topo->compact);
    free(topo->scatter);
    hwloc_bitmap_free(topo->usable);
    hwloc_topology_destroy(topo->t);
    free(topo);
}

const qk_topology_info *qk_topology_get_info(const qk_topology *topo) {
    return &topo->info;
}

hwloc_topology_t qk_topology_hwloc(const qk_topology *topo) {
    return topo->t;
}

int qk_topology_worker_cpuset(const qk_topology *topo, qk_binding_policy policy, int n_workers,
                              int worker_index, hwloc_bitmap_t out) {
    if (!topo || !out || n_workers < 1 || worker_index < 0 || worker_index >= n_workers) return -1;
    switch (policy) {
    case QK_BIND_NONE:
        return hwloc_bitmap_copy(out, topo->usable) == 0 ? 0 : -1;
    case QK_BIND_COMPACT:
        return hwloc_bitmap_only(out, (unsigned)topo->compact[worker_index % topo->n_order]);
    case QK_BIND_SCATTER:
        return hwloc_bitmap_only(out, (unsigned)topo->scatter[worker_index % topo->n_order]);
    }
    return -1;
}

int qk_topology_thread_cpuset_string(const qk_topology *topo, char *buf, size_t size,
                                     qk_error *err) {
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    if (!b) return qk_fail(err, "topology: out of memory");
    int rc = hwloc_get_cpubind(topo->t, b, HWLOC_CPUBIND_THREAD);
    int e = errno;
    if (rc == 0) hwloc_bitmap_list_snprintf(buf, size, b);
    hwloc_bitmap_free(b);
    return rc == 0 ? 0 : qk_fail(err, "hwloc_get_cpubind(thread): %s", strerror(e));
}

int qk_topology_bind_current_thread(const qk_topology *topo, qk_binding_policy policy,
                                    int n_workers, int idx, qk_binding *obtained, qk_error *err) {
    qk_binding b = {.policy = policy, .worker = idx, .n_workers = n_workers, .last_cpu = -1};
    hwloc_bitmap_t want = hwloc_bitmap_alloc(), got = hwloc_bitmap_alloc();
    int rc = -1;
    if (!want || !got) {
        qk_fail(err, "topology: out of memory");
        goto done;
    }
    if (qk_topology_worker_cpuset(topo, policy, n_workers, idx, want) != 0) {
        qk_fail(err, "bind: invalid worker %d of %d or policy %d", idx, n_workers, (int)policy);
        goto done;
    }
    hwloc_bitmap_list_snprintf(b.requested, sizeof b.requested, want);
    if (hwloc_set_cpubind(topo->t, want, HWLOC_CPUBIND_THREAD) != 0) {
        qk_fail(err, "hwloc_set_cpubind(worker %d, %s, {%s}): %s", idx,
                qk_binding_policy_name(policy), b.requested, strerror(errno));
        goto done;
    }
    if (hwloc_get_cpubind(topo->t, got, HWLOC_CPUBIND_THREAD) != 0) {
        qk_fail(err, "hwloc_get_cpubind(worker %d): %s", idx, strerror(errno));
        goto done;
    }
    hwloc_bitmap_list_snprintf(b.obtained, sizeof b.obtained, got);
    if (hwloc_get_last_cpu_location(topo->t, got, HWLOC_CPUBIND_THREAD) == 0)
        b.last_cpu = hwloc_bitmap_first(got);
    b.oversubscribed = n_workers > topo->info.usable_pus;
    b.smt_shared = n_workers > topo->info.usable_cores;
    rc = 0;
done:
    hwloc_bitmap_free(want);
    hwloc_bitmap_free(got);
    if (obtained) *obtained = b;
    return rc;
}

static const char *const policy_names[] = {"compact", "scatter", "none"}; /* enum order */

const char *qk_binding_policy_name(qk_binding_policy policy) {
    return (unsigned)policy < 3 ? policy_names[policy] : "?";
}

int qk_binding_policy_parse(const char *s, qk_binding_policy *out, qk_error *err) {
    for (int i = 0; s && i < 3; i++)
        if (strcasecmp(s, policy_names[i]) == 0) {
            *out = (qk_binding_policy)i;
            return 0;
        }
    return qk_fail(err, "unknown binding policy '%s' (expected compact, scatter or none)",
                   s ? s : "(null)");
}

json_t *qk_topology_to_json(const qk_topology *topo) {
    const qk_topology_info *in = &topo->info;
    json_t *caches = json_array();
    for (int l = 0; l < 3; l++) {
        const qk_cache_info *c = &in->cache[l];
        if (!c->size) continue;
        json_array_append_new(
            caches, json_pack("{s:i, s:s, s:I, s:i, s:i, s:i, s:i}", "level", c->level, "type",
                              c->unified ? "unified" : "data", "size_bytes", (json_int_t)c->size,
                              "line_bytes", (int)c->line_size, "associativity", c->associativity,
                              "cores_sharing", c->cores_sharing, "instances", c->instances));
    }
    unsigned v = hwloc_get_api_version();
    char api[32];
    snprintf(api, sizeof api, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:o, s:s}", "packages", in->packages,
                     "numa_nodes", in->numa_nodes, "cores", in->cores, "pus", in->pus, "usable_pus",
                     in->usable_pus, "usable_cores", in->usable_cores, "usable_cpuset",
                     in->usable_cpuset, "caches", caches, "hwloc_api_version", api);
}

json_t *qk_binding_to_json(const qk_binding *b) {
    return json_pack("{s:i, s:s, s:s, s:s, s:i, s:b, s:b}", "worker", b->worker, "policy",
                     qk_binding_policy_name(b->policy), "requested", b->requested, "obtained",
                     b->obtained, "last_cpu", b->last_cpu, "oversubscribed", b->oversubscribed,
                     "smt_shared", b->smt_shared);
}
