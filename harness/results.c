#define _GNU_SOURCE /* renameat2, dl_iterate_phdr, open_memstream */
#include "harness/results.h"

#include "common/input_file.h"
#include "common/output_file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <limits.h>
#include <link.h>
#include <math.h>
#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "harness/fleet/context.h"

#ifndef QK_VERSION
#define QK_VERSION "unknown"
#endif
#ifndef QK_GIT_COMMIT
#define QK_GIT_COMMIT "unknown"
#endif
#ifndef QK_BUILD_TYPE
#define QK_BUILD_TYPE "unknown"
#endif
#ifndef QK_COMPILER
#define QK_COMPILER "unknown"
#endif
#ifndef QK_C_FLAGS
#define QK_C_FLAGS "unknown"
#endif

#define GENERATOR "qkbench"
#define MAX_OWNED 64

typedef struct { /* a file this object wrote last: it may replace it again */
    dev_t dev;
    ino_t ino;
} owned_file;

typedef struct { /* qk_results_run_begin: the run's final files and its checkpoints */
    char json[PATH_MAX], csv[PATH_MAX], partial_json[PATH_MAX], partial_csv[PATH_MAX];
    int force, begun, checkpoints;
} run_files;

struct qk_results {
    json_t *context, *benchmarks, *comparisons;
    json_t *families; /* run name -> family_index (order of first appearance) */
    double noisy_cv;
    owned_file owned[MAX_OWNED];
    int n_owned;
    run_files run;
};

static json_t *jreal(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

qk_results *qk_results_new(void) {
    qk_results *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->context = json_object();
    r->benchmarks = json_array();
    r->comparisons = json_array();
    r->families = json_object();
    r->noisy_cv = 0.05;
    if (!r->context || !r->benchmarks || !r->comparisons || !r->families) {
        qk_results_free(r);
        return NULL;
    }
    return r;
}

void qk_results_free(qk_results *r) {
    if (!r) return;
    json_decref(r->context);
    json_decref(r->benchmarks);
    json_decref(r->comparisons);
    json_decref(r->families);
    free(r);
}

int qk_results_context_set(qk_results *r, const char *key, json_t *value) {
    if (!value) return -1;
    return json_object_set_new(r->context, key, value) ? -1 : 0;
}

void qk_results_set_noisy_cv(qk_results *r, double cv_threshold) {
    r->noisy_cv = cv_threshold;
}

json_t *qk_results_string(const char *s) {
    if (!s) return json_null();
    const size_t n = strlen(s);
    if (qk_utf8_invalid_at(s, n) == n) return json_stringn(s, n);
    /* each byte that does not belong to valid UTF-8 becomes U+FFFD (3 bytes) */
    char *t = malloc(3 * n + 1);
    if (!t) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const size_t bad = i + qk_utf8_invalid_at(s + i, n - i);
        memcpy(t + o, s + i, bad - i);
        o += bad - i;
        if (bad == n) break;
        memcpy(t + o, "\xEF\xBF\xBD", 3);
        o += 3;
        i = bad + 1;
    }
    json_t *j = json_stringn(t, o);
    free(t);
    return j;
}

json_t *qk_results_benchmarks(qk_results *r) {
    return r->benchmarks;
}

json_t *qk_results_comparisons(qk_results *r) {
    return r->comparisons;
}

void qk_results_clear(qk_results *r) {
    json_object_clear(r->context);
    json_array_clear(r->benchmarks);
    json_array_clear(r->comparisons);
    json_object_clear(r->families);
}

/* ---------------------------------------------------------------------------------------------
 * Environment */

/* Reads a small text file into buf, trailing whitespace removed; 0 or -1. */
static int read_text(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && isspace((unsigned char)buf[n - 1])) buf[--n] = 0;
    return 0;
}

static json_t *text_or_unknown(const char *path) {
    char buf[256];
    return json_string(read_text(path, buf, sizeof buf) == 0 ? buf : "unknown");
}

/* First value of `key` in /proc/cpuinfo ("key\t: value"), or NULL. Caller frees. */
static char *cpuinfo_value(const char *key) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return NULL;
    char *line = NULL, *out = NULL;
    size_t cap = 0, klen = strlen(key);
    while (!out && getline(&line, &cap, f) > 0) {
        if (strncmp(line, key, klen) || (line[klen] != ' ' && line[klen] != '\t')) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *v = colon + 1, *end = v + strlen(v);
        while (*v == ' ' || *v == '\t') v++;
        while (end > v && isspace((unsigned char)end[-1])) *--end = 0;
        out = strdup(v);
    }
    free(line);
    fclose(f);
    return out;
}

/* "0-3,8-11" -> 8 */
static int count_cpu_list(const char *s) {
    int n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s) break;
        if (*end == '-') b = strtol(end + 1, &end, 10);
        n += (int)(b - a + 1);
        s = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    return n;
}

/* Google Benchmark's cache records: type, level, size (bytes), num_sharing. */
static json_t *capture_caches(void) {
    json_t *caches = json_array();
    for (int i = 0; i < 16; i++) {
        char path[128], level[32], type[32], size[32], shared[256];
        const char *base = "/sys/devices/system/cpu/cpu0/cache/index";
        snprintf(path, sizeof path, "%s%d/level", base, i);
        if (read_text(path, level, sizeof level)) break;
        snprintf(path, sizeof path, "%s%d/type", base, i);
        if (read_text(path, type, sizeof type)) snprintf(type, sizeof type, "unknown");
        snprintf(path, sizeof path, "%s%d/size", base, i);
        long long bytes = -1;
        if (!read_text(path, size, sizeof size)) {
            char *end;
            bytes = strtoll(size, &end, 10);
            if (*end == 'K')
                bytes <<= 10;
            else if (*end == 'M')
                bytes <<= 20;
            else if (*end == 'G')
                bytes <<= 30;
        }
        snprintf(path, sizeof path, "%s%d/shared_cpu_list", base, i);
        int sharing = read_text(path, shared, sizeof shared) ? 0 : count_cpu_list(shared);
        json_array_append_new(caches,
                              json_pack("{s:s, s:i, s:o, s:i}", "type", type, "level", atoi(level),
                                        "size", bytes >= 0 ? json_integer(bytes) : json_null(),
                                        "num_sharing", sharing));
    }
    return caches;
}

static json_t *capture_topology(void) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) return json_string("unknown");
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return json_string("unknown");
    }
    int packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    int numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    int l3 = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_L3CACHE);
    hwloc_topology_destroy(topo);
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:b}", "packages", packages, "numa_nodes", numa,
                     "cores", cores, "pus", pus, "l3_caches", l3, "smt", pus > cores);
}

typedef struct {
    const char *prefix; /* e.g. "libhwloc.so" */
    char found[256];
} lib_search;

static int find_lib(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    lib_search *ls = data;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, ls->prefix, strlen(ls->prefix))) return 0;
    char real[PATH_MAX];
    const char *name = realpath(info->dlpi_name, real) ? real : info->dlpi_name;
    const char *rb = strrchr(name, '/');
    snprintf(ls->found, sizeof ls->found, "%.255s", rb ? rb + 1 : name);
    return 1;
}

/* The file name of a loaded shared library (its real name carries the version), or "static". */
static json_t *loaded_lib(const char *prefix) {
    lib_search ls = {.prefix = prefix};
    dl_iterate_phdr(find_lib, &ls);
    return json_string(*ls.found ? ls.found : "not loaded as a shared library");
}

static json_t *capture_libraries(void) {
    char hw_c[32], hw_r[32], papi_c[32];
    unsigned hr = hwloc_get_api_version();
    snprintf(hw_c, sizeof hw_c, "%u.%u.%u", HWLOC_API_VERSION >> 16,
             (HWLOC_API_VERSION >> 8) & 0xff, HWLOC_API_VERSION & 0xff);
    snprintf(hw_r, sizeof hw_r, "%u.%u.%u", hr >> 16, (hr >> 8) & 0xff, hr & 0xff);
    snprintf(papi_c, sizeof papi_c, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
             PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION),
             PAPI_VERSION_INCREMENT(PAPI_VERSION));
    return json_pack("{s:{s:s, s:s, s:o}, s:{s:s, s:o}, s:{s:s, s:s, s:o}, s:{s:s, s:o}}", "hwloc",
                     "api_compiled", hw_c, "api_runtime", hw_r, "loaded", loaded_lib("libhwloc.so"),
                     "papi", "compiled", papi_c, "loaded", loaded_lib("libpapi.so"), "jansson",
                     "compiled", JANSSON_VERSION, "runtime", jansson_version_str(), "loaded",
                     loaded_lib("libjansson.so"), "inih", "compiled", "unknown (no version macro)",
                     "loaded", loaded_lib("libinih.so"));
}

/* 1/0 from a sysfs flag file, inverted if asked; JSON null when absent. */
static json_t *flag_file(const char *path, int invert) {
    char buf[32];
    if (read_text(path, buf, sizeof buf)) return json_null();
    return json_boolean((atoi(buf) != 0) != invert);
}

int qk_results_capture_environment(qk_results *r) {
    json_t *c = r->context;
    char buf[256];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int rc = 0;
#define SET(key, value) rc |= json_object_set_new(c, key, value)
    SET("generator", json_string(GENERATOR " " QK_VERSION));
    SET("json_schema_version", json_integer(QK_RESULTS_SCHEMA_VERSION));
    SET("date", json_string(buf));
    if (gethostname(buf, sizeof buf - 1) != 0) snprintf(buf, sizeof buf, "unknown");
    buf[sizeof buf - 1] = 0;
    SET("host_name", qk_results_string(buf));

    char *model = cpuinfo_value("model name"), *flags = cpuinfo_value("flags");
    char *mhz = cpuinfo_value("cpu MHz");
    SET("cpu_model", qk_results_string(model ? model : "unknown"));
    SET("cpu_flags", qk_results_string(flags ? flags : "unknown"));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    SET("num_cpus", ncpu > 0 ? json_integer(ncpu) : json_null());
    /* Google Benchmark's mhz_per_cpu: the maximum frequency, else what /proc/cpuinfo says now */
    json_t *jmhz = json_null();
    if (!read_text("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", buf, sizeof buf))
        json_decref(jmhz), jmhz = json_integer(atol(buf) / 1000);
    else if (mhz)
        json_decref(jmhz), jmhz = json_integer(lround(atof(mhz)));
    SET("mhz_per_cpu", jmhz);
    free(model);
    free(flags);
    free(mhz);

    SET("caches", capture_caches());
    SET("topology", capture_topology());
    struct utsname u;
    if (uname(&u) == 0)
        SET("kernel", json_pack("{s:s, s:s, s:s, s:s}", "sysname", u.sysname, "release", u.release,
                                "version", u.version, "machine", u.machine));
    else
        SET("kernel", json_string("unknown"));

    SET("compiler", json_string(QK_COMPILER));
    SET("c_flags", json_string(QK_C_FLAGS));
    SET("build_type", json_string(QK_BUILD_TYPE));
    SET("library_build_type", json_string(!strcmp(QK_BUILD_TYPE, "Debug") ? "debug" : "release"));
#ifdef __SANITIZE_ADDRESS__
    SET("sanitized", json_true()); /* timings of an ASan build are not worth reporting */
#else
    SET("sanitized", json_false());
#endif
    SET("git_commit", json_string(QK_GIT_COMMIT));
    SET("qkbench_version", json_string(QK_VERSION));
    SET("libraries", capture_libraries());

    json_t *gov = text_or_unknown("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    const char *g = json_string_value(gov);
    SET("cpu_scaling_enabled",
        !g || !strcmp(g, "unknown") ? json_null() : json_boolean(strcmp(g, "performance") != 0));
    SET("cpu_scaling_governor", gov);
    json_t *boost = flag_file("/sys/devices/system/cpu/cpufreq/boost", 0);
    if (json_is_null(boost))
        json_decref(boost), boost = flag_file("/sys/devices/system/cpu/intel_pstate/no_turbo", 1);
    SET("boost", boost);
    SET("smt_active", flag_file("/sys/devices/system/cpu/smt/active", 0));
    if (!read_text("/proc/sys/kernel/randomize_va_space", buf, sizeof buf)) {
        SET("aslr", json_integer(atoi(buf)));
        SET("aslr_enabled", json_boolean(atoi(buf) != 0));
    } else {
        SET("aslr", json_null());
        SET("aslr_enabled", json_null());
    }
    double load[3];
    if (getloadavg(load, 3) == 3)
        SET("load_avg", json_pack("[f, f, f]", load[0], load[1], load[2]));

    /* the SLURM job this runs in (null outside one): harness/fleet/context.h */
    SET("slurm", qk_fleet_slurm_context());

    /* placeholders the runner replaces */
    if (!json_object_get(c, "counters"))
        SET("counters", json_pack("{s:n, s:s}", "available", "reason", "not probed"));
    if (!json_object_get(c, "experiment")) SET("experiment", json_null());
#undef SET
    return rc ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Records */

static int is_csv_row(json_t *b);

static int family_index(qk_results *r, const char *name) {
    json_t *v = json_object_get(r->families, name);
    if (v) return (int)json_integer_value(v);
    int i = (int)json_object_size(r->families);
    json_object_set_new(r->families, name, json_integer(i));
    return i;
}

/* Fields every record has, in Google Benchmark's order; extra cannot override them. */
static const char *const core_fields[] = {"name",
                                          "family_index",
                                          "per_family_instance_index",
                                          "run_name",
                                          "run_type",
                                          "repetitions",
                                          "repetition_index",
                                          "aggregate_name",
                                          "aggregate_unit",
                                          "real_time",
                                          "cpu_time",
                                          "time_unit",
                                          "error_occurred",
                                          "error_message",
                                          "noisy"};

static int is_core(const char *key) {
    for (size_t i = 0; i < sizeof core_fields / sizeof *core_fields; i++)
        if (!strcmp(key, core_fields[i])) return 1;
    return 0;
}

/* Starts a record: name, family_index, per_family_instance_index, run_name, run_type. */
static json_t *record_start(qk_results *r, const char *name, const char *run_name,
                            const char *run_type) {
    return json_pack("{s:s, s:i, s:i, s:s, s:s}", "name", name, "family_index",
                     family_index(r, run_name), "per_family_instance_index", 0, "run_name",
                     run_name, "run_type", run_type);
}

/* Copies extra's fields into rec, except core ones; threads/iterations replace the defaults. */
static void merge_extra(json_t *rec, json_t *extra) {
    const char *key;
    json_t *v;
    if (!json_is_object(extra)) return;
    json_object_foreach(extra, key, v) {
        if (!is_core(key)) json_object_set(rec, key, v);
    }
}

static int append(qk_results *r, json_t *rec) {
    if (!rec) return -1;
    return json_array_append_new(r->benchmarks, rec) ? -1 : 0;
}

int qk_results_add_repetition(qk_results *r, const char *name, int rep_index, int repetitions,
                              double real_s, double cpu_s, json_t *extra) {
    if (!name || !*name || repetitions < 1 || rep_index < 0 || rep_index >= repetitions ||
        !isfinite(real_s) || !isfinite(cpu_s))
        return -1;
    json_t *rec = record_start(r, name, name, "iteration");
    if (!rec) return -1;
    json_object_set_new(rec, "repetitions", json_integer(repetitions));
    json_object_set_new(rec, "repetition_index", json_integer(rep_index));
    json_object_set_new(rec, "threads", json_integer(1));
    json_object_set_new(rec, "iterations", json_integer(1));
    json_object_set_new(rec, "real_time", json_real(real_s * 1e3));
    json_object_set_new(rec, "cpu_time", json_real(cpu_s * 1e3));
    json_object_set_new(rec, "time_unit", json_string("ms"));
    merge_extra(rec, extra);
    return append(r, rec);
}

static int streq(const char *a, const char *b) {
    return a && b && !strcmp(a, b);
}

/* The seven aggregates of s, in the order of aggs[] below, times multiplied by scale. */
static void aggregate_values(const qk_stats *s, double scale, double v[7]) {
    double x[7] = {s->median * scale, s->mean * scale,  s->stddev * scale, s->cv,
                   s->min * scale,    s->ci_lo * scale, s->ci_hi * scale};
    memcpy(v, x, sizeof x);
}

int qk_results_add_aggregates(qk_results *r, const char *name, const qk_stats *real,
                              json_t *extra) {
    static const char *const aggs[7] = {"median", "mean", "stddev", "cv", "min", "ci_lo", "ci_hi"};
    if (!name || !*name || !real || real->n < 1) return -1;
    /* cpu_time statistics from the recorded repetitions of this configuration */
    double *cpu = malloc(sizeof(double) * (json_array_size(r->benchmarks) + 1));
    if (!cpu) return -1;
    int n_cpu = 0;
    json_int_t threads = 1;
    size_t i;
    json_t *b;
    json_array_foreach(r->benchmarks, i, b) {
        if (!streq(json_string_value(json_object_get(b, "run_name")), name) || !is_csv_row(b))
            continue;
        cpu[n_cpu++] = json_number_value(json_object_get(b, "cpu_time"));
        threads = json_integer_value(json_object_get(b, "threads"));
    }
    qk_stats cs;
    double rv[7], cv[7];
    aggregate_values(real, 1e3, rv); /* seconds -> ms */
    if (n_cpu > 0 && qk_stats_compute(cpu, n_cpu, 0x5eed, &cs) == 0)
        aggregate_values(&cs, 1.0, cv); /* already ms */
    else
        for (int a = 0; a < 7; a++) cv[a] = NAN;
    free(cpu);

    for (int a = 0; a < 7; a++) {
        char full[512];
        snprintf(full, sizeof full, "%s_%s", name, aggs[a]);
        json_t *rec = record_start(r, full, name, "aggregate");
        if (!rec) return -1;
        json_object_set_new(rec, "repetitions", json_integer(real->n));
        json_object_set_new(rec, "threads", json_integer(threads));
        json_object_set_new(rec, "aggregate_name", json_string(aggs[a]));
        json_object_set_new(rec, "aggregate_unit", json_string(a == 3 ? "percentage" : "time"));
        json_object_set_new(rec, "iterations", json_integer(real->n));
        json_object_set_new(rec, "real_time", jreal(rv[a]));
        json_object_set_new(rec, "cpu_time", jreal(cv[a]));
        json_object_set_new(rec, "time_unit", json_string("ms"));
        json_object_set_new(rec, "noisy", json_boolean(qk_is_noisy(real, r->noisy_cv)));
        merge_extra(rec, extra);
        if (append(r, rec)) return -1;
    }
    return 0;
}

int qk_results_add_skipped(qk_results *r, const char *name, const char *reason, json_t *extra) {
    if (!name || !*name || !reason) return -1;
    json_t *rec = record_start(r, name, name, "iteration");
    if (!rec) return -1;
    json_object_set_new(rec, "repetitions", json_integer(0));
    json_object_set_new(rec, "threads", json_integer(1));
    json_object_set_new(rec, "iterations", json_integer(0));
    json_object_set_new(rec, "real_time", json_real(0));
    json_object_set_new(rec, "cpu_time", json_real(0));
    json_object_set_new(rec, "time_unit", json_string("ms"));
    json_object_set_new(rec, "error_occurred", json_true());
    json_object_set_new(rec, "error_message", json_string(reason));
    merge_extra(rec, extra);
    return append(r, rec);
}

int qk_results_add_comparison(qk_results *r, const char *name, const char *baseline,
                              const qk_stats *ratio) {
    if (!name || !baseline || !ratio) return -1;
    json_t *rec =
        json_pack("{s:s, s:s, s:b, s:i, s:o, s:o, s:o, s:o}", "name", name, "baseline", baseline,
                  "paired", 1, "repetitions", ratio->n, "ratio", jreal(ratio->median), "ci_lo",
                  jreal(ratio->ci_lo), "ci_hi", jreal(ratio->ci_hi), "cv", jreal(ratio->cv));
    if (!rec) return -1;
    return json_array_append_new(r->comparisons, rec) ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Writing */

static int mkdir_p(const char *dir, qk_error *err) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return qk_fail(err, "%s: path too long", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return qk_fail(err, "%s: cannot create folder: %s", path, strerror(errno));
        *p = c;
        if (!c) break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return qk_fail(err, "%s: not a folder", dir);
    return 0;
}

/* RFC 4180: quote a field holding a comma, quote or line break; double the quotes inside. */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_value(FILE *f, json_t *v) {
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        csv_field(f, json_string_value(v));
        break;
    case JSON_INTEGER:
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.10g", json_real_value(v));
        fputs(buf, f);
        break;
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    case JSON_NULL:
        break;
    default: {
        char *s = json_dumps(v, JSON_COMPACT);
        if (s) csv_field(f, s);
        free(s);
    }
    }
}

/* Fixed CSV columns: (header, record field). */
static const char *const csv_fixed[][2] = {
    {"name", "name"},
    {"repetition_index", "repetition_index"},
    {"repetitions", "repetitions"},
    {"threads", "threads"},
    {"iterations", "iterations"},
    {"real_time_ms", "real_time"},
    {"cpu_time_ms", "cpu_time"},
};
#define N_CSV_FIXED ((int)(sizeof csv_fixed / sizeof *csv_fixed))

static int is_csv_row(json_t *b) {
    const char *t = json_string_value(json_object_get(b, "run_type"));
    return t && !strcmp(t, "iteration") && !json_object_get(b, "error_occurred");
}

static int skip_in_csv(const char *key) {
    for (int i = 0; i < N_CSV_FIXED; i++)
        if (!strcmp(key, csv_fixed[i][1])) return 1;
    return is_core(key);
}

static char *build_csv(json_t *benchmarks, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    json_t *extra_cols = json_array(); /* extra field names, in order of first appearance */
    json_t *seen = json_object();
    size_t i;
    json_t *b;
    json_array_foreach(benchmarks, i, b) {
        if (!is_csv_row(b)) continue;
        const char *key;
        json_t *v;
        json_object_foreach(b, key, v) {
            if (skip_in_csv(key) || json_object_get(seen, key)) continue;
            json_object_set_new(seen, key, json_true());
            json_array_append_new(extra_cols, json_string(key));
        }
    }
    for (int c = 0; c < N_CSV_FIXED; c++) fprintf(f, "%s%s", c ? "," : "", csv_fixed[c][0]);
    size_t c;
    json_t *col;
    json_array_foreach(extra_cols, c, col) {
        fputc(',', f);
        csv_field(f, json_string_value(col));
    }
    fputc('\n', f);
    json_array_foreach(benchmarks, i, b) {
        if (!is_csv_row(b)) continue;
        for (int k = 0; k < N_CSV_FIXED; k++) {
            if (k) fputc(',', f);
            json_t *v = json_object_get(b, csv_fixed[k][1]);
            if (v) csv_value(f, v);
        }
        json_array_foreach(extra_cols, c, col) {
            fputc(',', f);
            json_t *v = json_object_get(b, json_string_value(col));
            if (v) csv_value(f, v);
        }
        fputc('\n', f);
    }
    json_decref(extra_cols);
    json_decref(seen);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* A file this object wrote: it may replace it again without force. */
static int owned_index(const qk_results *r, const struct stat *st) {
    for (int i = 0; i < r->n_owned; i++)
        if (r->owned[i].dev == st->st_dev && r->owned[i].ino == st->st_ino) return i;
    return -1;
}

static void remember_owned(qk_results *r, const char *path, const struct stat *old, int had_old) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    int i = had_old ? owned_index(r, old) : -1;
    if (i < 0 && r->n_owned < MAX_OWNED) i = r->n_owned++;
    if (i >= 0) r->owned[i] = (owned_file){st.st_dev, st.st_ino};
}

/* 0 if path may be written: absent, ours, or force. *replace: rename over it. */
static int check_replace(const qk_results *r, const char *path, int force, int *replace,
                         qk_error *err) {
    struct stat st;
    *replace = 0;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        return qk_fail(err, "%s: %s", path, strerror(errno));
    }
    if (force || owned_index(r, &st) >= 0) return *replace = 1, 0;
    return qk_fail(err, "%s already exists: pass --force to overwrite it, or choose another name",
                   path);
}

/* The document: the results, complete, and the state (with error, when there is one). */
static char *serialise(const qk_results *r, int complete, const char *state, const char *error,
                       size_t *len) {
    json_t *doc =
        json_pack("{s:O, s:O, s:O, s:b, s:s}", "context", r->context, "benchmarks", r->benchmarks,
                  "comparisons", r->comparisons, "complete", complete, "state", state);
    if (doc && error && *error) json_object_set_new(doc, "error", json_string(error));
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(doc);
    if (!text) return NULL;
    size_t n = strlen(text);
    char *t = realloc(text, n + 2); /* end with a newline */
    if (!t) {
        free(text);
        return NULL;
    }
    t[n++] = '\n';
    t[n] = 0;
    *len = n;
    return t;
}

/* Writes the JSON and CSV pair: both temporaries are written and fsync'd before either is renamed,
 * so a failure while writing (a full disk) leaves both targets as they were. */
static int write_pair(qk_results *r, const char *jpath, const char *cpath, int complete,
                      const char *state, const char *error, int replace_json, int replace_csv,
                      qk_error *err) {
    size_t jlen, clen;
    char *text = serialise(r, complete, state, error, &jlen);
    if (!text) return qk_fail(err, "%s: cannot serialise the results (out of memory)", jpath);
    char *csv = build_csv(r->benchmarks, &clen);
    if (!csv) {
        free(text);
        return qk_fail(err, "%s: cannot build the CSV (out of memory)", cpath);
    }
    qk_outfile jo, co;
    int rc = qk_outfile_open(&jo, jpath, err);
    if (rc == 0 && (rc = qk_outfile_open(&co, cpath, err)) != 0) qk_outfile_abort(&jo);
    if (rc == 0) {
        (void)qk_outfile_write(&jo, text, jlen); /* errors surface at close */
        (void)qk_outfile_write(&co, csv, clen);
        if (qk_outfile_close(&jo, err) || qk_outfile_close(&co, err)) {
            qk_outfile_abort(&jo);
            qk_outfile_abort(&co);
            rc = -1;
        }
    }
    free(text);
    free(csv);
    if (rc) return -1;
    struct stat jold, cold;
    const int had_j = lstat(jpath, &jold) == 0, had_c = lstat(cpath, &cold) == 0;
    /* the CSV first: a reader that trusts the JSON finds its CSV already in place */
    if (qk_outfile_rename(&co, replace_csv, err)) {
        qk_outfile_abort(&jo);
        return -1;
    }
    remember_owned(r, cpath, &cold, had_c);
    if (qk_outfile_rename(&jo, replace_json, err)) return -1;
    remember_owned(r, jpath, &jold, had_j);
    return 0;
}

static int check_basename(const char *basename, qk_error *err) {
    if (!basename || !*basename || strchr(basename, '/') || !strcmp(basename, ".") ||
        !strcmp(basename, ".."))
        return qk_fail(err, "results name '%s' must be a non-empty file name without '/'",
                       basename ? basename : "");
    return 0;
}

int qk_results_write(qk_results *r, const char *dir, const char *basename, int complete, int force,
                     qk_error *err) {
    if (!dir || !*dir) dir = ".";
    if (check_basename(basename, err) || mkdir_p(dir, err)) return -1;
    char jpath[PATH_MAX], cpath[PATH_MAX];
    if (snprintf(jpath, sizeof jpath, "%s/%s.json", dir, basename) >= (int)sizeof jpath ||
        snprintf(cpath, sizeof cpath, "%s/%s.csv", dir, basename) >= (int)sizeof cpath)
        return qk_fail(err, "%s/%s: path too long", dir, basename);
    /* check both before writing either */
    int rj, rcsv;
    if (check_replace(r, jpath, force, &rj, err) || check_replace(r, cpath, force, &rcsv, err))
        return -1;
    return write_pair(r, jpath, cpath, complete, complete ? "complete" : "incomplete", NULL, rj,
                      rcsv, err);
}

/* ---------------------------------------------------------------------------------------------
 * A run's files */

int qk_results_run_begin(qk_results *r, const char *dir, const char *name, int force,
                         qk_error *err) {
    if (!dir || !*dir) dir = ".";
    if (check_basename(name, err)) return -1;
    run_files *f = &r->run;
    memset(f, 0, sizeof *f);
    const char *const fmt[4] = {"%s/%s.json", "%s/%s.csv", "%s/%s.partial.json",
                                "%s/%s.partial.csv"};
    char *const dst[4] = {f->json, f->csv, f->partial_json, f->partial_csv};
    for (int i = 0; i < 4; i++)
        if (snprintf(dst[i], sizeof f->json, fmt[i], dir, name) >= (int)sizeof f->json)
            return qk_fail(err, "%s/%s: path too long", dir, name);
    if (!force) /* refuse before anything is measured */
        for (int i = 0; i < 4; i++)
            if (qk_refuse_existing(dst[i], err)) {
                if (i >= 2)
                    return qk_fail(err,
                                   "%s already exists (the results of a run that did not finish): "
                                   "pass --force to replace it, or move it away",
                                   dst[i]);
                return -1;
            }
    if (mkdir_p(dir, err)) return -1;
    f->force = force;
    f->begun = 1;
    return qk_results_run_checkpoint(r, "running", NULL, err);
}

int qk_results_run_checkpoint(qk_results *r, const char *state, const char *error, qk_error *err) {
    run_files *f = &r->run;
    if (!f->begun) return qk_fail(err, "results: no run begun");
    /* the first checkpoint replaces an earlier run's only with force; later ones are ours */
    const int replace = f->force || f->checkpoints > 0;
    if (write_pair(r, f->partial_json, f->partial_csv, 0, state, error, replace, replace, err))
        return -1;
    f->checkpoints++;
    return 0;
}

int qk_results_run_finish(qk_results *r, qk_error *err) {
    run_files *f = &r->run;
    if (!f->begun) return qk_fail(err, "results: no run begun");
    if (write_pair(r, f->json, f->csv, 1, "complete", NULL, f->force, f->force, err)) return -1;
    unlink(f->partial_json); /* the checkpoint has served */
    unlink(f->partial_csv);
    return 0;
}

const char *qk_results_run_path(const qk_results *r, int partial, int csv) {
    const run_files *f = &r->run;
    if (!f->begun) return "";
    return partial ? (csv ? f->partial_csv : f->partial_json) : (csv ? f->csv : f->json);
}

/* ---------------------------------------------------------------------------------------------
 * Reading */

int qk_results_load(const char *path, json_t **out, qk_error *err) {
    *out = NULL;
    char *text;
    size_t len;
    if (qk_input_read(path, "results file", QK_RESULTS_MAX_BYTES, &text, &len, err)) return -1;
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!doc) {
        if (je.line < 0) return qk_fail(err, "%s: %s", path, je.text);
        return qk_fail(err, "%s:%d:%d: not valid JSON: %s", path, je.line, je.column, je.text);
    }
    json_t *ctx = json_object_get(doc, "context");
    const char *gen = json_string_value(json_object_get(ctx, "generator"));
    json_t *ver = json_object_get(ctx, "json_schema_version");
    if (!json_is_object(doc) || !json_is_object(ctx) || !gen ||
        strncmp(gen, GENERATOR, strlen(GENERATOR))) {
        json_decref(doc);
        return qk_fail(err, "%s: not a qkbench results file (no context.generator \"qkbench ...\")",
                       path);
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != QK_RESULTS_SCHEMA_VERSION) {
        char got[32] = "none";
        if (json_is_integer(ver))
            snprintf(got, sizeof got, "%" JSON_INTEGER_FORMAT, json_integer_value(ver));
        json_decref(doc);
        return qk_fail(err, "%s: results schema version %s; this qkbench reads version %d", path,
                       got, QK_RESULTS_SCHEMA_VERSION);
    }
    if (!json_is_array(json_object_get(doc, "benchmarks")) ||
        !json_is_boolean(json_object_get(doc, "complete"))) {
        json_decref(doc);
        return qk_fail(err, "%s: qkbench results file without a 'benchmarks' array or 'complete'",
                       path);
    }
    *out = doc;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Numbers read back, and whether two documents can be compared */

int qk_results_get_number(const json_t *obj, const char *key, double lo, double hi, double *out,
                          qk_error *err) {
    const json_t *v = json_object_get(obj, key);
    if (!v) return qk_fail(err, "'%s' is missing", key);
    if (!json_is_number(v)) return qk_fail(err, "'%s' is not a number", key);
    const double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi)
        return qk_fail(err, "'%s' = %.17g is outside %g..%g", key, x, lo, hi);
    *out = x;
    return 0;
}

int qk_results_get_int(const json_t *obj, const char *key, long long lo, long long hi,
                       long long *out, qk_error *err) {
    const json_t *v = json_object_get(obj, key);
    if (!v) return qk_fail(err, "'%s' is missing", key);
    if (json_is_integer(v)) {
        const json_int_t x = json_integer_value(v);
        if (x < lo || x > hi)
            return qk_fail(err, "'%s' = %" JSON_INTEGER_FORMAT " is outside %lld..%lld", key, x, lo,
                           hi);
        *out = (long long)x;
        return 0;
    }
    if (!json_is_real(v)) return qk_fail(err, "'%s' is not an integer", key);
    /* a real is accepted only when it is a whole number in range: compared as doubles first, so
     * 1e300 or NaN is never converted */
    const double x = json_real_value(v);
    if (!isfinite(x) || x != floor(x) || x < (double)lo || x > (double)hi)
        return qk_fail(err, "'%s' = %.17g is not an integer in %lld..%lld", key, x, lo, hi);
    *out = (long long)x;
    return 0;
}

/* What kind of build a context says it is: "asan" (sanitized), or its build type. */
static void build_of(const json_t *ctx, char *buf, size_t size) {
    const json_t *san = json_object_get(ctx, "sanitized");
    const char *bt = json_string_value(json_object_get(ctx, "build_type"));
    if (json_is_true(san))
        snprintf(buf, size, "sanitized (%s)", bt ? bt : "unknown build type");
    else if (!san || !json_is_boolean(san))
        snprintf(buf, size, "%s, sanitized unknown", bt ? bt : "unknown build type");
    else
        snprintf(buf, size, "%s", bt ? bt : "unknown build type");
}

void qk_results_describe(const json_t *doc, char *buf, size_t size) {
    const json_t *ctx = json_object_get(doc, "context");
    const char *cpu = json_string_value(json_object_get(ctx, "cpu_model"));
    char build[128];
    build_of(ctx, build, sizeof build);
    snprintf(buf, size, "%.200s, %s build%s", cpu ? cpu : "unknown CPU", build,
             json_is_false(json_object_get(doc, "complete")) ? ", incomplete" : "");
}

int qk_results_comparable(const json_t *a, const char *name_a, const json_t *b, const char *name_b,
                          unsigned checks, qk_error *err) {
    const json_t *ca = json_object_get(a, "context"), *cb = json_object_get(b, "context");
    if (!json_is_object(ca) || !json_is_object(cb))
        return qk_fail(err, "%s: no context", json_is_object(ca) ? name_b : name_a);
    const json_t *va = json_object_get(ca, "json_schema_version");
    const json_t *vb = json_object_get(cb, "json_schema_version");
    if (!json_is_integer(va) || !json_is_integer(vb) ||
        json_integer_value(va) != json_integer_value(vb))
        return qk_fail(err, "%s and %s have different results schema versions", name_a, name_b);
    if (checks & QK_RESULTS_SAME_BUILD) {
        /* a sanitized build's times are several times a release build's: never one table */
        const json_t *sa = json_object_get(ca, "sanitized"), *sb = json_object_get(cb, "sanitized");
        const char *ba = json_string_value(json_object_get(ca, "build_type"));
        const char *bb = json_string_value(json_object_get(cb, "build_type"));
        if (!json_is_boolean(sa) || !json_is_boolean(sb) || json_is_true(sa) != json_is_true(sb) ||
            !ba || !bb || strcmp(ba, bb)) {
            char da[128], db[128];
            build_of(ca, da, sizeof da);
            build_of(cb, db, sizeof db);
            return qk_fail(err, "%s is a %s build, %s a %s build: their times cannot be compared",
                           name_a, da, name_b, db);
        }
    }
    if (checks & QK_RESULTS_SAME_CPU) {
        const char *pa = json_string_value(json_object_get(ca, "cpu_model"));
        const char *pb = json_string_value(json_object_get(cb, "cpu_model"));
        if (!pa || !pb || !strcmp(pa, "unknown") || strcmp(pa, pb))
            return qk_fail(err, "%s ran on '%.120s', %s on '%.120s': not the same CPU", name_a,
                           pa ? pa : "an unknown CPU", name_b, pb ? pb : "an unknown CPU");
    }
    return 0;
}
