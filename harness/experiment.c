#include "harness/experiment.h"

/* The installed libinih passes the line number to the handler; we count lines ourselves anyway
 * (in the reader below), so the messages do not depend on how the library was built. */
#define INI_HANDLER_LINENO 1
#include <ini.h>

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/input_file.h"

#define MAX_FILE_BYTES (1 << 20)
#define MAX_LIST       64
#define MAX_CONFIGS    100000

static const char *const run_names[] = {"forward", "matmul"};
static const char *const act_names[] = {"token", "block"};
static const char *const bind_names[] = {"compact", "scatter", "none"};
static const char *const path_names[] = {"int8", "fp32"};
static const char *const isa_names[] = {"scalar", "avx2", "avx512vnni"};
static const char *const peer_names[] = {"none", "llama.cpp"};
static const char *const peer_mode_names[] = {"in-process", "process"}; /* qk_peer_mode */
static const char *const presets[] = {"tiny", "embeddinggemma-300m", "embeddinggemma-300m-nodense"};
static const char *const sections[] = {"experiment", "sweep", "measure"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The lists above are indexed by these enums, which other headers define. */
_Static_assert(QK_BIND_COMPACT == 0 && QK_BIND_SCATTER == 1 && QK_BIND_NONE == 2, "bind_names");
_Static_assert(QK_PATH_INT8 == 0 && QK_PATH_FP32 == 1, "path_names");

const char *qk_run_kind_name(qk_run_kind v) {
    return run_names[v];
}
const char *qk_act_scale_name(qk_act_scale v) {
    return act_names[v];
}

enum {
    K_NAME,
    K_DESCRIPTION,
    K_MODEL,
    K_RUN,
    K_KERNELS,
    K_ISAS,
    K_THREADS,
    K_SEQ_LEN,
    K_ACT_SCALE,
    K_BINDING,
    K_PATH,
    K_PEER,
    K_PEER_LIBRARY,
    K_PEER_MODE,
    K_REPETITIONS,
    K_WARMUPS,
    K_QUICK_REPETITIONS,
    K_COUNTERS,
    K_PROFILE,
    K_ACCURACY,
    K_NOISY_CV,
    K_SEED,
    K_SITTINGS,
    K_SITTING_SPACING,
    K_COUNT
};

static const struct {
    const char *section, *key;
} keys[K_COUNT] = {
    [K_NAME] = {"experiment", "name"},
    [K_DESCRIPTION] = {"experiment", "description"},
    [K_MODEL] = {"experiment", "model"},
    [K_RUN] = {"experiment", "run"},
    [K_KERNELS] = {"sweep", "kernels"},
    [K_ISAS] = {"sweep", "isas"},
    [K_THREADS] = {"sweep", "threads"},
    [K_SEQ_LEN] = {"sweep", "seq_len"},
    [K_ACT_SCALE] = {"sweep", "act_scale"},
    [K_BINDING] = {"sweep", "binding"},
    [K_PATH] = {"sweep", "path"},
    [K_PEER] = {"sweep", "peer"},
    [K_PEER_LIBRARY] = {"sweep", "peer_library"},
    [K_PEER_MODE] = {"sweep", "peer_mode"},
    [K_REPETITIONS] = {"measure", "repetitions"},
    [K_WARMUPS] = {"measure", "warmups"},
    [K_QUICK_REPETITIONS] = {"measure", "quick_repetitions"},
    [K_COUNTERS] = {"measure", "counters"},
    [K_PROFILE] = {"measure", "profile"},
    [K_ACCURACY] = {"measure", "accuracy"},
    [K_NOISY_CV] = {"measure", "noisy_cv"},
    [K_SEED] = {"measure", "seed"},
    [K_SITTINGS] = {"measure", "sittings"},
    [K_SITTING_SPACING] = {"measure", "sitting_spacing"},
};

typedef struct {
    qk_experiment *e;
    const char *file; /* for messages */
    const char *text;
    size_t pos;
    int line;          /* the line the reader last handed to inih */
    int err_line;      /* first error found by us (reader or handler), 0 if none */
    char err_msg[400]; /* its message, without the "file:line: " prefix */
    int key_line[K_COUNT];
} parse_state;

static void set_error(parse_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(parse_state *st, const char *fmt, ...) {
    if (st->err_line) return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err_msg, sizeof st->err_msg, fmt, ap);
    va_end(ap);
    st->err_line = st->line;
}

/* ---- reader: hands inih one line at a time, counts lines, checks what inih lets pass ---- */

/* Section headers are checked here, since inih calls the handler for key lines only. */
static void check_section_line(parse_state *st, const char *s, size_t len) {
    const char *close = memchr(s, ']', len);
    if (!close) {
        set_error(st, "section header '%.*s' has no closing ']'", (int)len, s);
        return;
    }
    const char *rest = close + 1;
    while (rest < s + len && (*rest == ' ' || *rest == '\t')) rest++;
    if (rest < s + len && *rest != ';' && *rest != '#') {
        set_error(st, "unexpected text after section header: '%.*s'", (int)(s + len - rest), rest);
        return;
    }
    const char *name = s + 1, *end = close; /* exact: inih does not trim section names */
    for (int i = 0; i < COUNT(sections); i++)
        if ((size_t)(end - name) == strlen(sections[i]) && !memcmp(name, sections[i], end - name))
            return;
    set_error(st, "unknown section [%.*s] (known: [experiment], [sweep], [measure])",
              (int)(end - name), name);
}

static char *reader(char *buf, int num, void *stream) {
    parse_state *st = stream;
    if (st->err_line || !st->text[st->pos]) return NULL;
    const char *s = st->text + st->pos;
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    st->pos += len + (nl ? 1 : 0);
    st->line++;
    if (len && s[len - 1] == '\r') len--;
    if (st->line == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, len -= 3; /* BOM */
    /* Leading blanks are dropped so indentation is harmless (inih would read an indented line as
     * a continuation of the previous value; we support no continuation lines). */
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    if (len + 2 > (size_t)num) { /* room for '\n' and NUL */
        set_error(st, "line too long (%zu characters; at most %d)", len, num - 2);
        return NULL;
    }
    if (len && *s == '[') check_section_line(st, s, len);
    if (st->err_line) return NULL;
    memcpy(buf, s, len);
    buf[len] = '\n';
    buf[len + 1] = 0;
    return buf;
}

/* ---- value parsers: 0 on success, else set_error and -1 ---- */

static int parse_int(parse_state *st, const char *key, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || (errno && errno != ERANGE) || isspace((unsigned char)*s)) {
        set_error(st, "%s: '%s' is not an integer", key, s);
        return -1;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        set_error(st, "%s: %s is out of range (%ld to %ld)", key, s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_enum(parse_state *st, const char *key, const char *s, const char *const *names,
                      int n, int *out) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    char known[200] = "";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(known);
        snprintf(known + l, sizeof known - l, "%s%s", i ? ", " : "", names[i]);
    }
    set_error(st, "%s: unknown value '%s' (expected one of: %s)", key, s, known);
    return -1;
}

static int is_name_char(int c, const char *extra) {
    return isalnum((unsigned char)c) || (c && strchr(extra, c));
}

/* Splits a comma-separated list into trimmed items (modifies s). */
static int split_list(parse_state *st, const char *key, char *s, char **items, int *n) {
    *n = 0;
    for (char *p = s;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        while (isspace((unsigned char)*p)) p++;
        char *end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1])) *--end = 0;
        if (!*p) {
            set_error(st, "%s: empty item in list", key);
            return -1;
        }
        if (*n == MAX_LIST) {
            set_error(st, "%s: more than %d items", key, MAX_LIST);
            return -1;
        }
        for (int i = 0; i < *n; i++)
            if (!strcmp(items[i], p)) {
                set_error(st, "%s: '%s' is listed twice", key, p);
                return -1;
            }
        items[(*n)++] = p;
        if (!comma) return 0;
        p = comma + 1;
    }
}

/* A list that may be the single word `all`. */
static int is_all(parse_state *st, const char *key, char **items, int n, int *all) {
    *all = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(items[i], "all")) {
            if (n > 1) {
                set_error(st, "%s: 'all' cannot be combined with other items", key);
                return -1;
            }
            *all = 1;
        }
    return 0;
}

static int set_strlist(parse_state *st, const char *key, char **items, int n, const char *chars,
                       qk_strlist *out) {
    if (n < 1 || n > MAX_LIST) return -1; /* split_list guarantees it */
    for (int i = 0; i < n; i++) {
        for (const char *c = items[i]; *c; c++)
            if (!is_name_char(*c, chars)) {
                set_error(st, "%s: '%s' contains '%c' (allowed: letters, digits and \"%s\")", key,
                          items[i], *c, chars);
                return -1;
            }
        if (strlen(items[i]) > 63) {
            set_error(st, "%s: '%s' is longer than 63 characters", key, items[i]);
            return -1;
        }
    }
    out->v = calloc((size_t)n, sizeof *out->v);
    if (!out->v) goto oom;
    for (int i = 0; i < n; i++) {
        if (!(out->v[i] = strdup(items[i]))) goto oom;
        out->n = i + 1;
    }
    return 0;
oom:
    set_error(st, "out of memory");
    return -1;
}

static int set_intlist(parse_state *st, const char *key, char **items, int n, long lo, long hi,
                       const char *const *names, int n_names, qk_intlist *out) {
    int vals[MAX_LIST];
    if (n < 1 || n > MAX_LIST) return -1; /* split_list guarantees it */
    for (int i = 0; i < n; i++)
        if (names ? parse_enum(st, key, items[i], names, n_names, &vals[i])
                  : parse_int(st, key, items[i], lo, hi, &vals[i]))
            return -1;
    if (!(out->v = malloc(sizeof(int) * (size_t)n))) {
        set_error(st, "out of memory");
        return -1;
    }
    memcpy(out->v, vals, sizeof(int) * (size_t)n);
    out->n = n;
    return 0;
}

static int set_string(parse_state *st, char **dst, const char *v) {
    if (!(*dst = strdup(v))) {
        set_error(st, "out of memory");
        return -1;
    }
    return 0;
}

static int parse_model(parse_state *st, const char *v) {
    if (!strncmp(v, "synthetic:", 10)) {
        int i;
        if (parse_enum(st, "model: synthetic preset", v + 10, presets, COUNT(presets), &i))
            return -1;
    } else if (access(v, R_OK) != 0) {
        set_error(st, "model: cannot read '%s': %s (give a GGUF path or synthetic:PRESET)", v,
                  strerror(errno));
        return -1;
    } else {
        /* a regular file, checked without blocking: a FIFO here would hang the run's open */
        qk_error ierr;
        const int fd = qk_input_open(v, "model file", NULL, &ierr);
        if (fd < 0) {
            set_error(st, "model: %s (give a GGUF path or synthetic:PRESET)", ierr.msg);
            return -1;
        }
        close(fd);
    }
    return set_string(st, &st->e->model, v);
}

static int parse_bool(parse_state *st, const char *key, const char *v, int *out) {
    static const char *const t[] = {"true", "yes", "on", "1"};
    static const char *const f[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(v, t[i])) return *out = 1, 0;
        if (!strcmp(v, f[i])) return *out = 0, 0;
    }
    set_error(st, "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", key, v);
    return -1;
}

static int parse_seed(parse_state *st, const char *v, uint64_t *out) {
    int hex = v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
    const char *digits = hex ? v + 2 : v;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(digits, &end, hex ? 16 : 10);
    if (!*digits || *end || errno || !isxdigit((unsigned char)*digits)) {
        set_error(st, "seed: '%s' is not an unsigned 64-bit integer (decimal or 0x hex)", v);
        return -1;
    }
    *out = x;
    return 0;
}

/* buf: a modifiable copy of v, for the lists */
static int set_value(parse_state *st, int k, const char *v, char *buf) {
    qk_experiment *e = st->e;
    const char *key = keys[k].key;
    char *items[MAX_LIST];
    int n, all, x;
    switch (k) {
    case K_NAME:
        for (const char *c = v; *c; c++)
            if (!is_name_char(*c, "._-")) {
                set_error(st, "name: '%s' may contain only letters, digits, '.', '_' and '-'", v);
                return -1;
            }
        return set_string(st, &e->name, v);
    case K_MODEL:
        return parse_model(st, v);
    case K_RUN:
        if (split_list(st, key, buf, items, &n)) return -1;
        e->runs = 0;
        for (int i = 0; i < n; i++) {
            if (parse_enum(st, key, items[i], run_names, COUNT(run_names), &x)) return -1;
            e->runs |= 1u << x;
        }
        return 0;
    case K_KERNELS:
    case K_ISAS:
    case K_THREADS: {
        if (split_list(st, key, buf, items, &n) || is_all(st, key, items, n, &all)) return -1;
        if (k == K_KERNELS) {
            e->kernels_all = all;
            return all ? 0 : set_strlist(st, key, items, n, "-_.", &e->kernels);
        }
        if (k == K_ISAS) {
            e->isas_all = all;
            if (all) return 0;
            for (int i = 0; i < n; i++) {
                int j;
                if (parse_enum(st, key, items[i], isa_names, COUNT(isa_names), &j)) return -1;
            }
            return set_strlist(st, key, items, n, "", &e->isas);
        }
        e->threads_all = all;
        if (all) return 0;
        /* `max`: every usable core, whatever the machine (stored as 0, resolved by expand) */
        static char zero[] = "0";
        int has_max = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(items[i], "max")) items[i] = zero, has_max = 1;
        if (set_intlist(st, key, items, n, has_max ? 0 : 1, QK_THREADS_MAX, NULL, 0, &e->threads))
            return -1;
        for (int i = 0; i < n; i++)
            if (e->threads.v[i] == 0 && items[i] != zero) {
                set_error(st, "threads: '0' is not an integer in 1..%d (or all, max)",
                          QK_THREADS_MAX);
                return -1;
            }
        return 0;
    }
    case K_SEQ_LEN:
    case K_ACT_SCALE:
    case K_BINDING:
    case K_PATH: {
        if (split_list(st, key, buf, items, &n)) return -1;
        if (k == K_SEQ_LEN)
            return set_intlist(st, key, items, n, 1, QK_SEQ_LEN_MAX, NULL, 0, &e->seq_len);
        if (k == K_ACT_SCALE)
            return set_intlist(st, key, items, n, 0, 0, act_names, COUNT(act_names), &e->act_scale);
        if (k == K_BINDING)
            return set_intlist(st, key, items, n, 0, 0, bind_names, COUNT(bind_names), &e->binding);
        return set_intlist(st, key, items, n, 0, 0, path_names, COUNT(path_names), &e->path);
    }
    case K_PEER:
        if (split_list(st, key, buf, items, &n)) return -1;
        e->peer_llama = 0;
        for (int i = 0; i < n; i++) {
            if (parse_enum(st, key, items[i], peer_names, COUNT(peer_names), &x)) return -1;
            if (x == 0 && n > 1) {
                set_error(st, "peer: 'none' cannot be combined with other items");
                return -1;
            }
            e->peer_llama |= x == 1;
        }
        return 0;
    case K_PEER_MODE:
        if (split_list(st, key, buf, items, &n)) return -1;
        e->peer_modes = 0;
        for (int i = 0; i < n; i++) {
            if (parse_enum(st, key, items[i], peer_mode_names, COUNT(peer_mode_names), &x))
                return -1;
            if (e->peer_modes & (1u << x)) {
                set_error(st, "peer_mode: '%s' is listed twice", items[i]);
                return -1;
            }
            e->peer_modes |= 1u << x;
        }
        return 0;
    case K_PEER_LIBRARY:
        if (access(v, R_OK) != 0) {
            set_error(
                st,
                "peer_library: cannot read '%s': %s (libllama's path or folder; leave the key "
                "out for the one scripts/install-peer.sh installs)",
                v, strerror(errno));
            return -1;
        }
        return set_string(st, &e->peer_library, v);
    case K_REPETITIONS:
        return parse_int(st, key, v, 1, 100000, &e->repetitions);
    case K_WARMUPS:
        return parse_int(st, key, v, 0, 100000, &e->warmups);
    case K_QUICK_REPETITIONS:
        return parse_int(st, key, v, 1, 100000, &e->quick_repetitions);
    case K_COUNTERS:
        if (!strcmp(v, "default") || !strcmp(v, "none")) {
            e->counters_mode = v[0] == 'd' ? QK_COUNTERS_DEFAULT : QK_COUNTERS_NONE;
            return 0;
        }
        if (split_list(st, key, buf, items, &n)) return -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(items[i], "default") || !strcmp(items[i], "none")) {
                set_error(st, "counters: '%s' cannot be combined with event names", items[i]);
                return -1;
            }
        e->counters_mode = QK_COUNTERS_LIST;
        return set_strlist(st, key, items, n, "_:.=+-", &e->counters);
    case K_PROFILE:
        return parse_bool(st, key, v, &e->profile);
    case K_ACCURACY:
        return parse_bool(st, key, v, &e->accuracy);
    case K_NOISY_CV: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (*end || errno || !(d > 0 && d <= 10)) {
            set_error(st, "noisy_cv: '%s' is not a number in (0, 10] (e.g. 0.05 for 5%%)", v);
            return -1;
        }
        e->noisy_cv = d;
        return 0;
    }
    case K_SEED:
        return parse_seed(st, v, &e->seed);
    case K_SITTINGS:
        return parse_int(st, key, v, 1, QK_EXPERIMENT_SITTINGS_MAX, &e->sittings);
    case K_SITTING_SPACING: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (*end || errno || !(d >= 0 && d <= 86400)) {
            set_error(st, "sitting_spacing: '%s' is not a number of seconds in [0, 86400]", v);
            return -1;
        }
        e->sitting_spacing_s = d;
        return 0;
    }
    }
    return 0;
}

static int set_key(parse_state *st, int k, const char *v) {
    if (k == K_DESCRIPTION) return set_string(st, &st->e->description, v);
    if (!*v) {
        set_error(st, "%s: empty value", keys[k].key);
        return -1;
    }
    char *buf = strdup(v);
    if (!buf) {
        set_error(st, "out of memory");
        return -1;
    }
    int rc = set_value(st, k, v, buf);
    free(buf);
    return rc;
}

static int handler(void *user, const char *section, const char *name, const char *value,
                   int lineno) {
    (void)lineno; /* st->line is the same number, whatever the library's build */
    parse_state *st = user;
    if (st->err_line) return 0;
    if (!*section) {
        set_error(st,
                  "key '%s' outside a section (put it under [experiment], [sweep] or [measure])",
                  name);
        return 0;
    }
    int k = -1, elsewhere = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (!strcmp(keys[i].key, name)) {
            if (!strcmp(keys[i].section, section))
                k = i;
            else
                elsewhere = i;
        }
    if (k < 0 && elsewhere >= 0) {
        set_error(st, "key '%s' belongs in [%s], not [%s]", name, keys[elsewhere].section, section);
        return 0;
    }
    if (k < 0) {
        char known[300] = "";
        for (int i = 0; i < K_COUNT; i++)
            if (!strcmp(keys[i].section, section)) {
                size_t l = strlen(known);
                snprintf(known + l, sizeof known - l, "%s%s", *known ? ", " : "", keys[i].key);
            }
        set_error(st, "unknown key '%s' in [%s] (known: %s)", name, section, known);
        return 0;
    }
    if (st->key_line[k]) {
        set_error(st, "duplicate key '%s' (first set on line %d)", name, st->key_line[k]);
        return 0;
    }
    st->key_line[k] = st->line;
    return set_key(st, k, value) == 0;
}

/* ---- whole-file checks and defaults ---- */

static int count_lines(const char *text) {
    int n = 0;
    const char *p = text;
    for (; *p; p++) n += *p == '\n';
    if (p > text && p[-1] != '\n') n++;
    return n;
}

static int fill_defaults(parse_state *st) {
    qk_experiment *e = st->e;
    if (!e->name) {
        const char *base = strrchr(st->file, '/');
        base = base ? base + 1 : st->file;
        size_t len = strlen(base);
        if (len > 4 && !strcmp(base + len - 4, ".ini")) len -= 4;
        if (!(e->name = strndup(base, len))) return -1;
    }
    if (!e->description && !(e->description = strdup(""))) return -1;
    if (!st->key_line[K_KERNELS]) e->kernels_all = 1;
    if (!st->key_line[K_ISAS]) e->isas_all = 1;
    struct {
        int key;
        qk_intlist *list;
        int value;
    } one[] = {{K_THREADS, &e->threads, 1},
               {K_SEQ_LEN, &e->seq_len, 32},
               {K_ACT_SCALE, &e->act_scale, QK_ACT_SCALE_TOKEN},
               {K_BINDING, &e->binding, QK_BIND_COMPACT},
               {K_PATH, &e->path, QK_PATH_INT8}};
    for (int i = 0; i < COUNT(one); i++) {
        if (st->key_line[one[i].key]) continue;
        if (!(one[i].list->v = malloc(sizeof(int)))) return -1;
        one[i].list->v[0] = one[i].value;
        one[i].list->n = 1;
    }
    /* --quick never runs more repetitions than the full run: the default quick count (3) is
     * capped by a smaller repetitions (a larger quick_repetitions written out is an error) */
    if (!st->key_line[K_QUICK_REPETITIONS] && e->quick_repetitions > e->repetitions)
        e->quick_repetitions = e->repetitions;
    e->run_line = st->key_line[K_RUN];
    e->counters_line = st->key_line[K_COUNTERS];
    e->kernels_line = st->key_line[K_KERNELS];
    e->isas_line = st->key_line[K_ISAS];
    e->threads_line = st->key_line[K_THREADS];
    e->peer_line = st->key_line[K_PEER];
    return 0;
}

/* Combinations that make no sense, reported at the line of the later key. */
static int check_consistency(parse_state *st, qk_error *err) {
    const qk_experiment *e = st->e;
    int *kl = st->key_line;
    if (e->runs == 1u << QK_RUN_MATMUL) {
        for (int i = 0; i < e->path.n; i++)
            if (e->path.v[i] == QK_PATH_FP32)
                return qk_fail(err, "%s:%d: path: fp32 applies to run = forward only (line %d)",
                               st->file, kl[K_PATH], kl[K_RUN]);
        if (e->profile)
            return qk_fail(err, "%s:%d: profile: applies to run = forward only (line %d)", st->file,
                           kl[K_PROFILE], kl[K_RUN]);
    }
    if (kl[K_PEER_LIBRARY] && !e->peer_llama)
        return qk_fail(err, "%s:%d: peer_library: set, but peer is none (set peer = llama.cpp)",
                       st->file, kl[K_PEER_LIBRARY]);
    if (e->peer_llama && !(e->runs & (1u << QK_RUN_FORWARD)))
        return qk_fail(err, "%s:%d: peer: llama.cpp applies to run = forward only (line %d)",
                       st->file, kl[K_PEER], kl[K_RUN]);
    if (kl[K_PEER_MODE] && !e->peer_llama)
        return qk_fail(err, "%s:%d: peer_mode: set, but peer is none (set peer = llama.cpp)",
                       st->file, kl[K_PEER_MODE]);
    if (kl[K_SITTING_SPACING] && e->sittings <= 1 && e->sitting_spacing_s > 0)
        return qk_fail(err, "%s:%d: sitting_spacing: set, but sittings is 1 (set sittings = K)",
                       st->file, kl[K_SITTING_SPACING]);
    if (e->quick_repetitions > e->repetitions && kl[K_QUICK_REPETITIONS])
        return qk_fail(err, "%s:%d: quick_repetitions: %d is more than repetitions (%d)", st->file,
                       kl[K_QUICK_REPETITIONS], e->quick_repetitions, e->repetitions);
    return 0;
}

void qk_experiment_free(qk_experiment *e) {
    if (!e) return;
    qk_strlist *sl[] = {&e->kernels, &e->isas, &e->counters};
    for (int i = 0; i < COUNT(sl); i++) {
        for (int j = 0; j < sl[i]->n; j++) free(sl[i]->v[j]);
        free(sl[i]->v);
    }
    qk_intlist *il[] = {&e->threads, &e->seq_len, &e->act_scale, &e->binding, &e->path};
    for (int i = 0; i < COUNT(il); i++) free(il[i]->v);
    free(e->file);
    free(e->text);
    free(e->name);
    free(e->description);
    free(e->model);
    free(e->peer_library);
    memset(e, 0, sizeof *e);
}

int qk_experiment_parse_string(const char *text, const char *name, qk_experiment *out,
                               qk_error *err) {
    if (!name) name = "<string>";
    memset(out, 0, sizeof *out);
    if (!text) return qk_fail(err, "%s: no text", name);
    qk_experiment *e = out;
    e->runs = 1u << QK_RUN_FORWARD;
    e->repetitions = 10;
    e->warmups = 2;
    e->quick_repetitions = 3;
    e->counters_mode = QK_COUNTERS_DEFAULT;
    e->noisy_cv = 0.05;
    e->accuracy = 1;
    e->seed = 1;
    e->peer_modes = 1u << QK_PEER_IN_PROCESS;
    e->sittings = 1;
    if (!(e->file = strdup(name)) || !(e->text = strdup(text))) {
        qk_experiment_free(e);
        return qk_fail(err, "%s: out of memory", name);
    }

    /* the text goes into the results as a JSON string, which must be UTF-8: a Latin-1 byte is
     * refused here, at its line, rather than losing the experiment from the results */
    const size_t tlen = strlen(text), bad = qk_utf8_invalid_at(text, tlen);
    if (bad < tlen) {
        int line, col;
        qk_text_position(text, tlen, bad, &line, &col);
        qk_fail(err,
                "%s:%d: byte 0x%02X (column %d) is not UTF-8: an experiment file is UTF-8 text "
                "(re-save it as UTF-8)",
                name, line, (unsigned char)text[bad], col);
        goto fail;
    }
    parse_state st = {.e = e, .file = name, .text = text};
    int rc = ini_parse_stream(reader, &st, handler, &st);
    if (rc > 0 && (!st.err_line || rc < st.err_line)) {
        /* inih found a line that is neither a section, a key = value pair nor a comment */
        qk_fail(err, "%s:%d: expected 'key = value', '[section]' or a comment", name, rc);
        goto fail;
    }
    if (st.err_line) {
        qk_fail(err, "%s:%d: %s", name, st.err_line, st.err_msg);
        goto fail;
    }
    if (rc < 0) {
        qk_fail(err, "%s: out of memory while parsing", name);
        goto fail;
    }
    if (!st.key_line[K_MODEL]) {
        qk_fail(err, "%s:%d: missing required key 'model' in [experiment]", name,
                count_lines(text));
        goto fail;
    }
    if (fill_defaults(&st)) {
        qk_fail(err, "%s: out of memory", name);
        goto fail;
    }
    if (check_consistency(&st, err)) goto fail;
    return 0;
fail:
    qk_experiment_free(e);
    return -1;
}

int qk_experiment_parse_file(const char *path, qk_experiment *out, qk_error *err) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t n;
    if (qk_input_read(path, "experiment file", MAX_FILE_BYTES, &text, &n, err)) return -1;
    int rc;
    const char *nul = memchr(text, 0, n);
    if (nul) {
        int line, col;
        qk_text_position(text, n, (size_t)(nul - text), &line, &col);
        rc = qk_fail(err, "%s:%d: NUL byte in text: not an experiment file", path, line);
    } else {
        rc = qk_experiment_parse_string(text, path, out, err);
    }
    free(text);
    return rc;
}

/* ---- expansion ---- */

static int in_list(const char *s, const char *const *v, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, v[i])) return 1;
    return 0;
}

/* Fills variant, isa and the name of c, whose other fields are set. */
static int name_config(qk_config *c, qk_run_kind run, const char *variant, const char *isa,
                       qk_error *err) {
    if (strlen(variant) >= sizeof c->variant || strlen(isa) >= sizeof c->isa)
        return qk_fail(err, "kernel name '%s/%s' is too long", variant, isa);
    strcpy(c->variant, variant);
    strcpy(c->isa, isa);
    char shape[96] = "", act[32] = "";
    if (run == QK_RUN_MATMUL)
        snprintf(shape, sizeof shape, "%s%s%sM:%d/K:%d/", *c->op ? "op:" : "", c->op,
                 *c->op ? "/" : "", c->rows, c->cols);
    if (c->path == QK_PATH_INT8 && !c->peer)
        snprintf(act, sizeof act, "/act:%s", act_names[c->act_scale]);
    int len = snprintf(c->name, sizeof c->name, "%s/%s%s%s/%st:%d/seq:%d%s/bind:%s", run_names[run],
                       variant, *isa ? "/" : "", isa, shape, c->threads, c->seq_len, act,
                       bind_names[c->binding]);
    if (len >= (int)sizeof c->name) return qk_fail(err, "configuration name too long: %s", c->name);
    return 0;
}

/* The llama.cpp peer's configurations at base's point and group, one per peer mode (in-process
 * first): cfg[*n], ... */
static int add_peers(const qk_experiment *e, qk_config *cfg, int *n, const qk_config *base,
                     qk_error *err) {
    for (int m = QK_PEER_IN_PROCESS; m <= QK_PEER_PROCESS; m++) {
        if (!((e->peer_modes >> m) & 1)) continue;
        qk_config *c = &cfg[(*n)++];
        *c = *base;
        c->peer = 1;
        c->peer_mode = (qk_peer_mode)m;
        c->path = QK_PATH_INT8; /* unused for the peer (its weights are the file's Q8_0) */
        c->act_scale = QK_ACT_SCALE_TOKEN;
        if (name_config(c, QK_RUN_FORWARD, "llama.cpp",
                        m == QK_PEER_PROCESS ? "peer-process" : "peer", err))
            return -1;
    }
    return 0;
}

static int count_bits(unsigned v) {
    int n = 0;
    for (; v; v &= v - 1) n++;
    return n;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const qk_config *const *)a)->name, (*(const qk_config *const *)b)->name);
}

/* Every list is free of duplicates and every dimension is in the name, so names are unique by
 * construction; this says so loudly if a future dimension is forgotten in name_config. */
static int check_unique(const qk_config *cfg, int n, qk_error *err) {
    const qk_config **v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return qk_fail(err, "out of memory");
    for (int i = 0; i < n; i++) v[i] = &cfg[i];
    qsort(v, (size_t)n, sizeof *v, cmp_name);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (!strcmp(v[i]->name, v[i - 1]->name))
            rc = qk_fail(err, "two configurations of the sweep are both named %s", v[i]->name);
    free(v);
    return rc;
}

int qk_experiment_expand(const qk_experiment *e, const qk_sweep_universe *u, qk_config **out,
                         int *n_out, qk_error *err) {
    static const qk_sweep_universe none;
    if (!u) u = &none;
    *out = NULL;
    *n_out = 0;
    const char *f = e->file ? e->file : "<experiment>";

    /* resolve the lists that may be `all`, and check names against the universe */
    const char *const *variants = (const char *const *)e->kernels.v;
    int n_variants = e->kernels.n;
    if (e->kernels_all) {
        if (!u->variants || u->n_variants < 1)
            return qk_fail(err, "%s:%d: kernels = all, but no kernel is registered", f,
                           e->kernels_line);
        variants = u->variants;
        n_variants = u->n_variants;
    } else if (u->variants) {
        for (int i = 0; i < n_variants; i++)
            if (!in_list(variants[i], u->variants, u->n_variants))
                return qk_fail(err, "%s:%d: kernels: unknown kernel '%s' (see `qkbench list`)", f,
                               e->kernels_line, variants[i]);
    }
    const char *const *isas = (const char *const *)e->isas.v;
    int n_isas = e->isas.n;
    if (e->isas_all) {
        if (!u->isas || u->n_isas < 1)
            return qk_fail(err, "%s:%d: isas = all, but no ISA is available", f, e->isas_line);
        isas = u->isas;
        n_isas = u->n_isas;
    } /* a named ISA this CPU lacks is not an error: the runner reports its pairs as skipped */
    int n_threads = e->threads_all ? u->ncpu : e->threads.n;
    for (int i = 0; !e->threads_all && i < e->threads.n; i++)
        if (e->threads.v[i] == 0 && u->ncpu < 1) n_threads = 0; /* `max` needs the core count */
    if (n_threads < 1)
        return qk_fail(err, "%s:%d: threads = all or max, but the number of CPUs is unknown", f,
                       e->threads_line);
    /* the thread counts as this machine resolves them, each once: `max, 2` on a 2-core machine
     * is one count, so no two configurations get one name */
    int *threads = malloc((size_t)n_threads * sizeof *threads);
    if (!threads) return qk_fail(err, "%s: out of memory", f);
    {
        int k = 0;
        for (int t = 0; t < n_threads; t++) {
            const int v = e->threads_all ? t + 1 : e->threads.v[t] == 0 ? u->ncpu : e->threads.v[t];
            int seen = 0;
            for (int j = 0; j < k; j++) seen |= threads[j] == v;
            if (!seen) threads[k++] = v;
        }
        n_threads = k;
    }
    const int has_matmul = (e->runs >> QK_RUN_MATMUL) & 1;
    if (has_matmul && (!u->shapes || u->n_shapes < 1)) {
        free(threads);
        return qk_fail(err, "%s:%d: run = matmul, but the model has no matmul shape", f,
                       e->run_line);
    }

    int n_int8 = 0, n_fp32 = 0;
    for (int i = 0; i < e->path.n; i++) e->path.v[i] == QK_PATH_INT8 ? n_int8++ : n_fp32++;
    long long int8_point = (long long)n_int8 * e->act_scale.n * n_variants * n_isas;
    long long points = (long long)e->binding.n * n_threads * e->seq_len.n;
    long long total = 0; /* forward: int8 + fp32 per point; matmul: int8 per point and shape */
    if ((e->runs >> QK_RUN_FORWARD) & 1)
        total += (int8_point + n_fp32 + e->peer_llama * count_bits(e->peer_modes)) * points;
    if (has_matmul) total += int8_point * points * u->n_shapes;
    if (total > MAX_CONFIGS) {
        free(threads);
        return qk_fail(err, "%s: the sweep has %lld configurations (at most %d)", f, total,
                       MAX_CONFIGS);
    }
    if (total < 1) {
        free(threads);
        return qk_fail(err, "%s:%d: run = matmul with path = fp32 only: nothing to run", f,
                       e->run_line);
    }

    qk_config *cfg = calloc((size_t)total, sizeof *cfg);
    if (!cfg) {
        free(threads);
        return qk_fail(err, "%s: out of memory", f);
    }
    int n = 0, group = 0;
    for (int run = QK_RUN_FORWARD; run <= QK_RUN_MATMUL; run++) {
        if (!((e->runs >> run) & 1)) continue;
        const int n_shapes = run == QK_RUN_MATMUL ? u->n_shapes : 1;
        for (int b = 0; b < e->binding.n; b++)
            for (int t = 0; t < n_threads; t++)
                for (int s = 0; s < e->seq_len.n; s++)
                    for (int sh = 0; sh < n_shapes; sh++)
                        for (int p = 0, peer_done = 0; p < e->path.n; p++) {
                            qk_config base = {
                                .binding = (qk_binding_policy)e->binding.v[b],
                                .threads = threads[t],
                                .seq_len = e->seq_len.v[s],
                                .path = (qk_path)e->path.v[p],
                            };
                            if (run == QK_RUN_MATMUL) {
                                if (base.path == QK_PATH_FP32) continue; /* forward only */
                                base.rows = u->shapes[sh].rows;
                                base.cols = u->shapes[sh].cols;
                                snprintf(base.op, sizeof base.op, "%s",
                                         u->shapes[sh].op ? u->shapes[sh].op : "");
                            }
                            /* the peer joins this point's first group: the first int8 act
                             * scale's when there is an int8 path, else the FP32 one */
                            int first_int8 = -1;
                            for (int q = 0; q < e->path.n && first_int8 < 0; q++)
                                if (e->path.v[q] == QK_PATH_INT8) first_int8 = q;
                            const int with_peer = run == QK_RUN_FORWARD && e->peer_llama &&
                                                  !peer_done && (first_int8 < 0 || first_int8 == p);
                            if (base.path == QK_PATH_FP32) {
                                base.group = group;
                                cfg[n] = base;
                                if (name_config(&cfg[n++], (qk_run_kind)run, "fp32", "", err))
                                    goto fail;
                                if (with_peer && add_peers(e, cfg, &n, &base, err)) goto fail;
                                peer_done |= with_peer;
                                group++;
                                continue;
                            }
                            for (int a = 0; a < e->act_scale.n; a++, group++) {
                                for (int v = 0; v < n_variants; v++)
                                    for (int i = 0; i < n_isas; i++) {
                                        cfg[n] = base;
                                        cfg[n].group = group;
                                        cfg[n].act_scale = (qk_act_scale)e->act_scale.v[a];
                                        if (name_config(&cfg[n++], (qk_run_kind)run, variants[v],
                                                        isas[i], err))
                                            goto fail;
                                    }
                                if (a == 0 && with_peer) {
                                    base.group = group;
                                    if (add_peers(e, cfg, &n, &base, err)) goto fail;
                                    peer_done = 1;
                                }
                            }
                        }
    }
    free(threads);
    threads = NULL;
    if (check_unique(cfg, n, err)) goto fail;
    *out = cfg;
    *n_out = n;
    return 0;
fail:
    free(threads);
    free(cfg);
    return qk_fail_prefix(err, "%s", f);
}
