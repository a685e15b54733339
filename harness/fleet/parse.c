/* Readers of selectors, scheduler output and job records/logs (harness/fleet/parse.h). Every
 * reader bounds each copy by its destination, so any input leaves valid strings. */
#include "harness/fleet/parse.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sel_keys[] = {"partition",   "constraint", "nodelist", "exclude",
                                       "reservation", "account",    "qos",      "time"};
#define N_SEL_KEYS (sizeof sel_keys / sizeof *sel_keys)

/* The index of the known key that s starts with, followed by '=', or -1. */
static int sel_key_at(const char *s) {
    for (size_t k = 0; k < N_SEL_KEYS; k++) {
        const size_t l = strlen(sel_keys[k]);
        if (!strncmp(s, sel_keys[k], l) && s[l] == '=') return (int)k;
    }
    return -1;
}

static int sel_value_char(int c) {
    return isalnum(c) || (c && strchr("_.-,:&|[]()*!@+/%", c));
}

int qk_fleet_parse_selector(const char *text, qk_fleet_selector *out, qk_error *err) {
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return qk_fail(err, "empty selector (expected partition=P, constraint=C, nodelist=N...)");
    const char *p = text;
    while (*p) {
        const int k = sel_key_at(p);
        if (k < 0) {
            size_t l = strcspn(p, "=,");
            return qk_fail(err,
                           "selector '%s': unknown key '%.*s' (expected partition, constraint, "
                           "nodelist, exclude, reservation, account, qos or time, as KEY=VALUE)",
                           text, (int)(l > 64 ? 64 : l), p);
        }
        for (int i = 0; i < out->n; i++)
            if (out->key[i] == sel_keys[k])
                return qk_fail(err, "selector '%s': %s given twice", text, sel_keys[k]);
        if (out->n == QK_FLEET_SEL_MAX)
            return qk_fail(err, "selector '%s': more than %d keys", text, QK_FLEET_SEL_MAX);
        p += strlen(sel_keys[k]) + 1;
        /* the value runs to the next ",KEY=" (a comma inside a node list belongs to the list) */
        const char *end = p;
        while (*end && !(*end == ',' && sel_key_at(end + 1) >= 0)) end++;
        const size_t len = (size_t)(end - p);
        if (len == 0) return qk_fail(err, "selector '%s': %s has no value", text, sel_keys[k]);
        if (len >= QK_FLEET_SEL_VALUE)
            return qk_fail(err, "selector '%s': the value of %s is longer than %d characters", text,
                           sel_keys[k], QK_FLEET_SEL_VALUE - 1);
        for (size_t i = 0; i < len; i++)
            if (!sel_value_char((unsigned char)p[i]))
                return qk_fail(err,
                               "selector '%s': character '%c' (0x%02x) in the value of %s "
                               "(allowed: letters, digits and _.-,:&|[]()*!@+/%%)",
                               text, isprint((unsigned char)p[i]) ? p[i] : '?', (unsigned char)p[i],
                               sel_keys[k]);
        if (p[len - 1] == ',')
            return qk_fail(err, "selector '%s': the value of %s ends with a comma", text,
                           sel_keys[k]);
        out->key[out->n] = sel_keys[k];
        memcpy(out->value[out->n], p, len);
        out->value[out->n][len] = 0;
        out->n++;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int qk_fleet_check_name(const char *name, qk_error *err) {
    static const char *const reserved[] = {"bin",  "build",  "experiment", "jobs",
                                           "logs", "models", "report"};
    const size_t l = name ? strlen(name) : 0;
    if (l == 0 || l > 48)
        return qk_fail(err, "target name '%s': expected 1 to 48 characters", name ? name : "");
    if (!isalnum((unsigned char)name[0]))
        return qk_fail(err, "target name '%s': must start with a letter or digit", name);
    for (size_t i = 0; i < l; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return qk_fail(err,
                           "target name '%s': only letters, digits, '_' and '-' (it names "
                           "a folder and a job)",
                           name);
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (!strcmp(name, reserved[i]))
            return qk_fail(err, "target name '%s' is taken by the fleet folder's own '%s/'", name,
                           name);
    return 0;
}

int qk_fleet_parse_job_id(const char *text, size_t len, char *id, size_t size) {
    size_t i = 0, n = 0;
    while (i < len && isspace((unsigned char)text[i])) i++;
    while (i + n < len && isdigit((unsigned char)text[i + n])) n++;
    if (n == 0 || n + 1 > size || n > 20) return -1;
    const size_t rest = i + n;
    if (rest < len && text[rest] != ';' && !isspace((unsigned char)text[rest])) return -1;
    memcpy(id, text + i, n);
    id[n] = 0;
    return 0;
}

/* Copies field [s, e) into dst (size bytes), turning control characters into spaces. */
static void copy_field(char *dst, size_t size, const char *s, const char *e) {
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    size_t n = (size_t)(e - s);
    if (n >= size) n = size - 1;
    for (size_t i = 0; i < n; i++) dst[i] = iscntrl((unsigned char)s[i]) ? ' ' : s[i];
    dst[n] = 0;
}

int qk_fleet_parse_sched(const char *text, size_t len, qk_fleet_sched_row **rows, int *n) {
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *f[6];
        int nf = 0;
        f[nf++] = p;
        for (const char *q = p; q < eol && nf < 6; q++)
            if (*q == '|') f[nf++] = q + 1;
        if (nf >= 4) {
            qk_fleet_sched_row r;
            memset(&r, 0, sizeof r);
            const char *fe[6];
            for (int i = 0; i < nf; i++) fe[i] = i + 1 < nf ? f[i + 1] - 1 : eol;
            copy_field(r.id, sizeof r.id, f[0], fe[0]);
            /* "CANCELLED by 0": the state is the first word */
            const char *st = f[1];
            while (st < fe[1] && isspace((unsigned char)*st)) st++;
            const char *sp = st;
            while (sp < fe[1] && !isspace((unsigned char)*sp)) sp++;
            copy_field(r.state, sizeof r.state, st, sp);
            copy_field(r.node, sizeof r.node, f[2], fe[2]);
            copy_field(r.reason, sizeof r.reason, f[3], fe[3]);
            if (nf >= 5) copy_field(r.exit_code, sizeof r.exit_code, f[4], fe[4]);
            if (!strcmp(r.node, "None assigned") || !strcmp(r.node, "(null)")) r.node[0] = 0;
            if (!strcmp(r.reason, "None") || !strcmp(r.reason, "(null)")) r.reason[0] = 0;
            if (r.id[0] && r.state[0]) {
                if (*n == INT32_MAX) return -1;
                qk_fleet_sched_row *g = realloc(*rows, (size_t)(*n + 1) * sizeof *g);
                if (!g) return -1;
                *rows = g;
                g[(*n)++] = r;
            }
        }
        p = eol + 1;
    }
    return 0;
}

/* Does the bracketed task list "[1-3,5,7-11:2%4]" (without the brackets: s..e) contain task? */
static int range_has(const char *s, const char *e, long task) {
    const char *pct = memchr(s, '%', (size_t)(e - s));
    if (pct) e = pct; /* "%N": at most N at once, not part of the list */
    while (s < e) {
        const char *comma = memchr(s, ',', (size_t)(e - s));
        const char *ie = comma ? comma : e;
        char buf[64];
        size_t l = (size_t)(ie - s);
        if (l < sizeof buf) {
            memcpy(buf, s, l);
            buf[l] = 0;
            char *q;
            long a = strtol(buf, &q, 10), b = a, step = 1;
            if (q != buf) {
                if (*q == '-') b = strtol(q + 1, &q, 10);
                if (*q == ':') step = strtol(q + 1, &q, 10);
                if (*q == 0 && step > 0 && task >= a && task <= b && (task - a) % step == 0)
                    return 1;
            }
        }
        s = comma ? comma + 1 : e;
    }
    return 0;
}

int qk_fleet_tasks_contain(const char *list, int task) {
    return range_has(list, list + strlen(list), task);
}

const qk_fleet_sched_row *qk_fleet_sched_find(const qk_fleet_sched_row *rows, int n,
                                              const char *job, int task) {
    char want[96];
    if (task >= 0)
        snprintf(want, sizeof want, "%s_%d", job, task);
    else
        snprintf(want, sizeof want, "%s", job);
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].id, want)) return &rows[i];
    if (task < 0) return NULL;
    const size_t jl = strlen(job);
    for (int i = 0; i < n; i++) {
        const char *id = rows[i].id;
        const size_t l = strlen(id);
        if (l > jl + 3 && !strncmp(id, job, jl) && id[jl] == '_' && id[jl + 1] == '[' &&
            id[l - 1] == ']' && range_has(id + jl + 2, id + l - 1, task))
            return &rows[i];
    }
    return NULL;
}

static int state_in(const char *state, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(state, *list)) return 1;
    return 0;
}

int qk_fleet_state_is_pending(const char *state) {
    static const char *const pending[] = {"PENDING",     "REQUEUED",      "REQUEUE_HOLD",
                                          "REQUEUE_FED", "RESV_DEL_HOLD", NULL};
    return state_in(state, pending);
}

int qk_fleet_state_is_active(const char *state) {
    static const char *const active[] = {"RUNNING",   "CONFIGURING", "COMPLETING",
                                         "RESIZING",  "SUSPENDED",   "STAGE_OUT",
                                         "SIGNALING", "STOPPED",     NULL};
    return qk_fleet_state_is_pending(state) || state_in(state, active);
}

int qk_fleet_parse_record(const char *text, size_t len, qk_fleet_record *out) {
    memset(out, 0, sizeof *out);
    int has_job = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *sp = memchr(p, ' ', (size_t)(eol - p));
        if (sp) {
            const size_t kl = (size_t)(sp - p);
            if (kl == 3 && !memcmp(p, "job", 3)) {
                copy_field(out->job, sizeof out->job, sp + 1, eol);
                has_job = out->job[0] != 0;
            } else if (kl == 4 && !memcmp(p, "node", 4)) {
                copy_field(out->node, sizeof out->node, sp + 1, eol);
            } else if (kl == 5 && !memcmp(p, "start", 5)) {
                copy_field(out->start, sizeof out->start, sp + 1, eol);
            } else if (kl == 3 && !memcmp(p, "end", 3)) {
                copy_field(out->end, sizeof out->end, sp + 1, eol);
            } else if (kl == 4 && !memcmp(p, "exit", 4)) {
                char buf[16];
                copy_field(buf, sizeof buf, sp + 1, eol);
                char *q;
                const long v = strtol(buf, &q, 10);
                if (q != buf && *q == 0 && v >= 0 && v <= 255) {
                    out->has_exit = 1;
                    out->exit_code = (int)v;
                }
            }
        }
        p = eol + 1;
    }
    return has_job ? 0 : -1;
}

static int is_error_line(const char *s, const char *e) {
    const size_t l = (size_t)(e - s);
    static const char *const starts[] = {"qkbench ",
                                         "slurmstepd: error:", "srun: error:", "sbatch: error:"};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        const size_t sl = strlen(starts[i]);
        if (l >= sl && !memcmp(s, starts[i], sl)) return 1;
    }
    /* sanitizers: "==1234==ERROR: AddressSanitizer: ..." */
    if (l > 4 && s[0] == '=' && s[1] == '=') {
        const char *q = s + 2;
        while (q < e && isdigit((unsigned char)*q)) q++;
        if (e - q >= 8 && !memcmp(q, "==ERROR:", 8)) return 1;
    }
    return 0;
}

void qk_fleet_log_reason(const char *text, size_t len, char *out, size_t size) {
    if (!size) return;
    out[0] = 0;
    const char *best = NULL, *best_e = NULL, *last = NULL, *last_e = NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        /* a progress line rewritten in place: only what follows the last '\r' was seen */
        const char *s = p;
        for (const char *q = p; q < eol; q++)
            if (*q == '\r' && q + 1 < eol) s = q + 1;
        const char *e = eol;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        if (e > s) {
            last = s, last_e = e;
            if (is_error_line(s, e)) best = s, best_e = e;
        }
        p = eol + 1;
    }
    if (!best) best = last, best_e = last_e;
    if (best) copy_field(out, size, best, best_e);
}
