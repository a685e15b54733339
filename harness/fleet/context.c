/* The SLURM context of a run (harness/fleet/context.h): SLURM's output environment variables, the
 * process's CPU mask, and the check of that mask against the PUs the thread pool would pin
 * (hwloc's usable set: allowed PUs within this thread's affinity, harness/topology.h) and against
 * the CPU count SLURM gave the job. A job confined to fewer CPUs than its mask (no task/affinity
 * and no cgroup) would run its pool on PUs other jobs use: the check says so. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_* */
#include "harness/fleet/context.h"

#include <hwloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/topology.h"

static json_t *env_str(const char *name) {
    const char *v = getenv(name);
    return v && *v ? json_string(v) : json_null();
}

static json_t *env_int(const char *name) {
    const char *v = getenv(name);
    char *end;
    const long x = v && *v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end && x >= 0 ? json_integer(x) : json_null();
}

/* The calling thread's affinity as a bitmap (NULL when it cannot be read). */
static hwloc_bitmap_t affinity(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return NULL;
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    for (int c = 0; b && c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) hwloc_bitmap_set(b, (unsigned)c);
    return b;
}

/* "ok", or what does not agree. */
static void check(hwloc_const_bitmap_t mask, hwloc_const_bitmap_t pool, long cpus, char *buf,
                  size_t size) {
    char m[256], p[256];
    hwloc_bitmap_list_snprintf(m, sizeof m, mask);
    hwloc_bitmap_list_snprintf(p, sizeof p, pool);
    buf[0] = 0;
    if (!hwloc_bitmap_isincluded(pool, mask))
        snprintf(buf, size, "mismatch: the pool pins PUs %s, outside the job's mask %s", p, m);
    else if (!hwloc_bitmap_isequal(pool, mask))
        snprintf(buf, size, "mismatch: the pool pins only PUs %s of the job's mask %s", p, m);
    const int w = hwloc_bitmap_weight(mask);
    const size_t l = strlen(buf);
    if (cpus > 0 && w > cpus)
        snprintf(buf + l, size - l,
                 "%sthe job was given %ld CPUs but its mask %s has %d (no CPU confinement: "
                 "other jobs may use these PUs)",
                 l ? "; " : "mismatch: ", cpus, m, w);
    else if (cpus > 0 && w < cpus)
        snprintf(buf + l, size - l, "%sthe mask %s has %d CPUs, SLURM_CPUS_ON_NODE says %ld",
                 l ? "; " : "mismatch: ", m, w, cpus);
    if (!*buf) snprintf(buf, size, "ok");
}

json_t *qk_fleet_slurm_context(void) {
    if (!getenv("SLURM_JOB_ID")) return json_null();
    json_t *c = json_object();
    if (!c) return NULL;
    json_object_set_new(c, "job_id", env_str("SLURM_JOB_ID"));
    json_object_set_new(c, "array_job_id", env_str("SLURM_ARRAY_JOB_ID"));
    json_object_set_new(c, "array_task_id", env_int("SLURM_ARRAY_TASK_ID"));
    json_object_set_new(c, "node", env_str("SLURMD_NODENAME"));
    json_object_set_new(c, "partition", env_str("SLURM_JOB_PARTITION"));
    json_t *cons = env_str("SLURM_JOB_CONSTRAINTS");
    if (json_is_null(cons)) json_decref(cons), cons = env_str("QK_FLEET_CONSTRAINT");
    json_object_set_new(c, "constraint", cons);
    json_object_set_new(c, "cluster", env_str("SLURM_CLUSTER_NAME"));
    json_t *cpus = env_int("SLURM_CPUS_ON_NODE");
    json_object_set_new(c, "cpus_on_node", cpus);

    hwloc_bitmap_t mask = affinity(), pool = hwloc_bitmap_alloc();
    qk_topology *topo = NULL;
    qk_error err = {{0}};
    char buf[512], check_buf[768];
    if (mask) {
        hwloc_bitmap_list_snprintf(buf, sizeof buf, mask);
        json_object_set_new(c, "cpu_mask", json_string(buf));
    } else {
        json_object_set_new(c, "cpu_mask", json_null());
    }
    if (mask && pool && qk_topology_open(&topo, &err) == 0 &&
        hwloc_bitmap_list_sscanf(pool, qk_topology_get_info(topo)->usable_cpuset) == 0) {
        json_object_set_new(c, "pool_pus", json_string(qk_topology_get_info(topo)->usable_cpuset));
        check(mask, pool, json_is_integer(cpus) ? (long)json_integer_value(cpus) : 0, check_buf,
              sizeof check_buf);
        json_object_set_new(c, "mask_check", json_string(check_buf));
    } else {
        json_object_set_new(c, "pool_pus", json_null());
        snprintf(check_buf, sizeof check_buf, "not checked: %s",
                 *err.msg ? err.msg : "the CPU mask could not be read");
        json_object_set_new(c, "mask_check", json_string(check_buf));
    }
    qk_topology_close(topo);
    hwloc_bitmap_free(mask);
    hwloc_bitmap_free(pool);
    json_object_set_new(c, "fleet_target", env_str("QK_FLEET_TARGET"));
    json_object_set_new(c, "fleet_selector", env_str("QK_FLEET_SELECTOR"));
    return c;
}
