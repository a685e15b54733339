/* The SLURM job a run happens in, for the results' context (harness/results.c): which job, array
 * task, node, partition and constraint, the CPUs the job was given, and whether the thread pool's
 * PUs are exactly those. */
#ifndef QK_HARNESS_FLEET_CONTEXT_H
#define QK_HARNESS_FLEET_CONTEXT_H

#include <jansson.h>

/* A new JSON value: null outside a SLURM job (no SLURM_JOB_ID), else
 *   {"job_id": "12", "array_job_id": "11" | null, "array_task_id": 0 | null,
 *    "node": "node17", "partition": "zen4", "constraint": "avx512" | null, "cluster": "c",
 *    "cpus_on_node": 2 | null,            SLURM_CPUS_ON_NODE: what the job was given
 *    "cpu_mask": "0-1",                   this process's affinity at start (sched_getaffinity)
 *    "pool_pus": "0-1",                   the PUs the pool pins from (hwloc's usable set)
 *    "mask_check": "ok" | "mismatch: ...", the pool against the mask, the mask against the CPUs
 *    "fleet_target": "zen4" | null, "fleet_selector": "partition=zen4" | null}
 * The constraint comes from SLURM_JOB_CONSTRAINTS when SLURM sets it, else from the fleet's job
 * script (QK_FLEET_CONSTRAINT: SLURM 22.05 does not tell a job its --constraint). NULL only when
 * out of memory. */
json_t *qk_fleet_slurm_context(void);

#endif
