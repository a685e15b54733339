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
 *   "complete":    true only when every configuration of the run was measured (or skipped or
 *                  failed, with the reason);
 *   "state":       "complete"; or, in a run's checkpoint (below), "running" (a run in progress,
 *                  or one that was killed or crashed), "interrupted" (SIGINT/SIGTERM), "failed" (a
 *                  run-time failure stopped it: "error" says which), "write_failed" (every
 *                  measurement was made but the final files could not be written: "error").
 * Writes go to temporary files in the target folder, fsync'd, then renamed over the targets
 * (common/output_file.h), so a reader sees the previous file or the new one, never a torn one.
 *
 * A run's files: DIR/NAME.json and NAME.csv only ever hold a complete run. While the run is in
 * progress, and when it stops before its end, its results are in DIR/NAME.partial.json and
 * NAME.partial.csv (complete: false, state above), rewritten at every checkpoint; the final write
 * replaces NAME.json/.csv (an earlier complete run's stays until then) and removes the partial
 * files. Nothing here handles signals or prints: the runner checkpoints between repetitions' groups
 * and when it stops. */
#ifndef QK_HARNESS_RESULTS_H
#define QK_HARNESS_RESULTS_H

#include <jansson.h>
#include <stddef.h>

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

/* A run's files (see the top of this file): refuses, unless force, when NAME.json, NAME.csv or a
 * partial pair of an unfinished run exists; creates DIR; writes the first checkpoint (state
 * "running"), so an unwritable folder is found before anything is measured. */
int qk_results_run_begin(qk_results *r, const char *dir, const char *name, int force,
                         qk_error *err);
/* Rewrites NAME.partial.json/.csv with state ("running", "interrupted", "failed",
 * "write_failed") and error (may be NULL) at the top level. */
int qk_results_run_checkpoint(qk_results *r, const char *state, const char *error, qk_error *err);
/* Writes NAME.json/.csv (complete: true, state "complete"), replacing earlier ones only when the
 * run was begun with force, then removes the partial pair. On failure the earlier files and the
 * last checkpoint are as they were. */
int qk_results_run_finish(qk_results *r, qk_error *err);
/* The path of the run's final (partial = 0) or partial JSON (csv = 0) or CSV file; "" before
 * qk_results_run_begin. */
const char *qk_results_run_path(const qk_results *r, int partial, int csv);

/* A new JSON string of s (a path, a host name...), each byte that is not valid UTF-8 replaced by
 * U+FFFD: jansson refuses invalid UTF-8, and a value refused would be lost. NULL s: JSON null. */
json_t *qk_results_string(const char *s);

/* Read-only access for the runner and tests: the benchmarks array (borrowed). */
json_t *qk_results_benchmarks(qk_results *r);
/* The comparisons array (borrowed): the sittings merge adds its fields to the records it made. */
json_t *qk_results_comparisons(qk_results *r);
/* Empties the context, records and comparisons, keeping the run's files (qk_results_run_begin) and
 * the files it wrote: the sittings merge refills one object before every checkpoint. */
void qk_results_clear(qk_results *r);

/* The largest results file read (qk_results_load). */
#define QK_RESULTS_MAX_BYTES ((size_t)1 << 30)

/* Loads a results file (a regular file of at most QK_RESULTS_MAX_BYTES, JSON without duplicate
 * keys); checks it is a qkbench results file of QK_RESULTS_SCHEMA_VERSION. On success *out is a new
 * reference to the whole document. */
int qk_results_load(const char *path, json_t **out, qk_error *err);

/* Range-checked reads of numbers from a loaded document (a record, the context...): the value of
 * key must be a finite number in [lo, hi]; get_int also takes a real when it is a whole number in
 * range (checked as a double before any conversion, so 1e300 or NaN never reaches an int). 0, or -1
 * with "'KEY' = V is outside LO..HI" (or missing, not a number). */
int qk_results_get_number(const json_t *obj, const char *key, double lo, double hi, double *out,
                          qk_error *err);
int qk_results_get_int(const json_t *obj, const char *key, long long lo, long long hi,
                       long long *out, qk_error *err);

/* What may differ between two documents that are compared (qk_results_comparable's checks). */
#define QK_RESULTS_SAME_BUILD 1u /* the same build type, both sanitized or neither */
#define QK_RESULTS_SAME_CPU   2u /* the same context.cpu_model (known) */

/* 0 when documents a and b (loaded by qk_results_load; names for the message) can be put in one
 * comparison: always the same results schema version, plus the checks asked for. Else -1 and err
 * says why: "A is a sanitized (RelWithDebInfo) build, B a Release build: their times cannot be
 * compared", "A ran on 'X', B on 'Y': not the same CPU". For `compare` (both checks) and `report`
 * (the build; CPUs become columns). */
int qk_results_comparable(const json_t *a, const char *name_a, const json_t *b, const char *name_b,
                          unsigned checks, qk_error *err);
/* "CPU MODEL, BUILD build[, incomplete]" for a column heading. */
void qk_results_describe(const json_t *doc, char *buf, size_t size);

#endif
