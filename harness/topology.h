/* Machine topology (hwloc): packages, NUMA nodes, cores, PUs, caches, and where each worker thread
 * goes.
 *
 * The topology is loaded once (qk_topology_open) and is read-only afterwards, so any thread may use
 * it, including for binding. "Usable" PUs are the ones hwloc allows (cgroups) AND the calling
 * thread's affinity when the topology was opened, so `taskset -c 2,3 qkbench ...` confines every
 * policy to PUs 2 and 3.
 *
 * Binding policies, for worker i of n (worker 0 is the thread that drives the pool):
 *   compact  fill cores in topology order, one PU per core first, then the second PU of each core
 * (SMT)... scatter  spread over the tree: round-robin across packages, then NUMA/L3 domains, then
 * L2 domains, then cores (recursive interleave), first PUs before SMT siblings, like compact none
 * no pinning: the thread may run on every usable PU (a thread is reset to that set, so a pool made
 * after a pinned one does not inherit the old pinning) compact and scatter pin one worker to one
 * PU. With more workers than usable PUs, worker i takes the PU of worker i % usable_pus and the
 * binding says `oversubscribed` (not an error). */
#ifndef QK_HARNESS_TOPOLOGY_H
#define QK_HARNESS_TOPOLOGY_H

#include <hwloc.h>
#include <jansson.h>

#include "common/error.h"

/* Values in the order experiment.h's sweep lists use (compact, scatter, none). */
typedef enum { QK_BIND_COMPACT = 0, QK_BIND_SCATTER = 1, QK_BIND_NONE = 2 } qk_binding_policy;

typedef struct qk_topology qk_topology;

typedef struct {
    int level;               /* 1, 2, 3 */
    unsigned long long size; /* bytes of one instance; 0 when hwloc does not report this level */
    unsigned line_size;      /* bytes; 0 if unknown */
    int associativity;       /* ways; 0 unknown, -1 fully associative */
    int cores_sharing;       /* cores under one instance */
    int instances;           /* instances in the machine */
    int unified;             /* 1 unified (data + instructions), 0 data only */
} qk_cache_info;

typedef struct {
    int packages, numa_nodes, cores, pus; /* whole allowed machine (at least 1 each) */
    int usable_pus, usable_cores;         /* what the policies place workers on */
    qk_cache_info cache[3];               /* [0] L1d, [1] L2, [2] L3 */
    char usable_cpuset[128];              /* hwloc list syntax: "0-1" */
} qk_topology_info;

#define QK_CPUSET_STR 128

/* What a thread asked for and what it really got, read back from the OS after binding. */
typedef struct {
    qk_binding_policy policy;
    int worker, n_workers;
    char requested[QK_CPUSET_STR]; /* list syntax: "0", "0-1,4" */
    char obtained[QK_CPUSET_STR];  /* hwloc_get_cpubind(HWLOC_CPUBIND_THREAD) after binding */
    int last_cpu;       /* hwloc_get_last_cpu_location: OS index of a PU it ran on, -1 unknown */
    int oversubscribed; /* n_workers > usable PUs: several workers share a PU */
    int smt_shared;     /* n_workers > usable cores: some workers share a core (SMT) */
} qk_binding;

/* Loads the topology (hwloc_topology_load once). *out is NULL on failure. */
int qk_topology_open(qk_topology **out, qk_error *err);
void qk_topology_close(qk_topology *topo); /* NULL is fine */

const qk_topology_info *qk_topology_get_info(const qk_topology *topo);
hwloc_topology_t qk_topology_hwloc(const qk_topology *topo); /* for callers needing more detail */

/* Fills out (an allocated hwloc bitmap) with the PUs worker_index of n_workers is bound to.
 * Returns 0, or -1 for invalid arguments (n_workers < 1, index outside [0, n_workers)). */
int qk_topology_worker_cpuset(const qk_topology *topo, qk_binding_policy policy, int n_workers,
                              int worker_index, hwloc_bitmap_t out);

/* Binds the calling thread as worker idx of n_workers under policy, then reads the binding back
 * into *obtained (may be NULL). Fails only if the OS refuses the binding or the arguments are
 * invalid. */
int qk_topology_bind_current_thread(const qk_topology *topo, qk_binding_policy policy,
                                    int n_workers, int idx, qk_binding *obtained, qk_error *err);

/* Reads the calling thread's current binding ("0-1") into buf; 0 or -1 (message in err). */
int qk_topology_thread_cpuset_string(const qk_topology *topo, char *buf, size_t size,
                                     qk_error *err);

const char *qk_binding_policy_name(qk_binding_policy policy); /* "compact", "scatter", "none" */
/* Parses "compact" | "scatter" | "none" (case-insensitive). */
int qk_binding_policy_parse(const char *s, qk_binding_policy *out, qk_error *err);

/* New JSON objects (caller owns the reference). */
json_t *qk_topology_to_json(const qk_topology *topo); /* counts, usable set, caches */
json_t *qk_binding_to_json(const qk_binding *b);

#endif
