/* Results of one run: a JSON file shaped like Google Benchmark's (context + benchmarks, so its
 * tools/compare.py reads it) and a CSV with one row per (configuration, repetition).
 *
 * JSON, top level:
 *   "context":     the environment (qk_results_capture_environment) plus what the runner adds with
 *                  qk_results_context_set (the experiment's text, counter availability, ...);
 *   "benchmarks":  per-repetition records (run_type "iteration") and aggregates (run_type
 *                  "aggregate", aggregate_name median/mean/stddev/cv/min/ci_lo/ci_hi), times in ms;
 *                  configurations that could not run: error_occurred true + error_message;
 *   "comparisons": paired ratios (a configuration vs its baseline) with their intervals;
 *   "complete":    false while the run is in progress or when it was interrupted.
 * Writes go to a temporary file in the target folder, fsync'd, then renamed over the target, so a
 * reader sees the previous complete file or the new one, never a torn one. Nothing here handles
 * signals or prints: the runner writes between configurations (e.g. after a SIGINT flag is seen).
 */
#ifndef QK_HARNESS_RESULTS_H
#define QK_HARNESS_RESULTS_H

#include <jansson.h>

#include "common/error.h"
#include "harness/measure.h"

#define QK_RESULTS_SCHEMA_VERSION 1

typedef struct qk_results qk_results;

qk_results *qk_results_new(void); /* NULL when out of memory */
void qk_results_free(qk_results *r);

/* Sets context[key] = value, stealing the reference (as jansson's *_new functions do). Keys the
 * runner is expected to set: "experiment" (the file's text), "experiment_file", "model",
 * "counters" (availability: e.g. {"available": false, "reason": "..."}), "compiled_isa",
 * "detected_isa", "command_line". 0 or -1 (value NULL, or out of memory). */
int qk_results_context_set(qk_results *r, const char *key, json_t *value);

/* Fills the context with what the machine and build say: generator, json_schema_version, date
 * (ISO 8601 UTC), host_name, cpu_model, cpu_flags, num_cpus, mhz_per_cpu, caches (Google
 * Benchmark's records), topology (hwloc counts), kernel (uname), compiler, c_flags, build_type,
 * library_build_type, sanitized, git_commit, qkbench_version, libraries (hwloc, papi, jansson,
 * inih: compiled and loaded versions), cpu_scaling_governor, cpu_scaling_enabled, boost,
 * smt_active, aslr, aslr_enabled, load_avg, slurm (the SLURM job, null outside one:
 * harness/fleet/context.h). What cannot be read is "unknown" (strings) or null
 * (numbers, booleans): that is not a failure. "counters" and "experiment" get placeholders for
 * the runner to replace. -1 only when out of memory. */
int qk_results_capture_environment(qk_results *r);

/* Threshold on the coefficient of variation above which aggregates are marked "noisy": true
 * (default 0.05; the runner passes the experiment's noisy_cv). */
void qk_results_set_noisy_cv(qk_results *r, double cv_threshold);

/* One repetition of configuration `name`: times in seconds (stored in ms). extra (may be NULL) is
 * borrowed, not stolen: its fields (configuration fields, counters...) are copied into the record;
 * it may set "iterations" and "threads" (default 1), but never overrides name, run_type, times or
 * repetition fields. */
int qk_results_add_repetition(qk_results *r, const char *name, int rep_index, int repetitions,
                              double real_s, double cpu_s, json_t *extra);

/* The aggregates of configuration `name`: seven records name_median, name_mean, name_stddev,
 * name_cv, name_min, name_ci_lo, name_ci_hi. real (seconds) gives real_time; cpu_time comes from
 * the repetitions recorded under `name` (same statistics). cv records are fractions with
 * aggregate_unit "percentage", as in Google Benchmark. Each carries "noisy". extra is borrowed. */
int qk_results_add_aggregates(qk_results *r, const char *name, const qk_stats *real, json_t *extra);

/* A configuration that did not run: error_occurred true, error_message e.g. "skipped: CPU lacks
 * avx512vnni". extra is borrowed. */
int qk_results_add_skipped(qk_results *r, const char *name, const char *reason, json_t *extra);

/* A paired comparison: ratio = stats of time(name) / time(baseline) over repetition pairs. */
int qk_results_add_comparison(qk_results *r, const char *name, const char *baseline,
                              const qk_stats *ratio);

/* Writes DIR/BASENAME.json and DIR/BASENAME.csv (DIR is created if missing). Refuses to replace an
 * existing file unless force is set or this results object wrote it before (so a run can rewrite
 * its own files after every configuration, then finally with complete = 1). */
int qk_results_write(qk_results *r, const char *dir, const char *basename, int complete, int force,
                     qk_error *err);

/* Read-only access for the runner and tests: the benchmarks array (borrowed). */
json_t *qk_results_benchmarks(qk_results *r);

/* Loads a results file; checks it is a qkbench results file of QK_RESULTS_SCHEMA_VERSION. On
 * success *out is a new reference to the whole document. */
int qk_results_load(const char *path, json_t **out, qk_error *err);

#endif
