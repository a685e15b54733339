/* The experiment file as a fleet handles it: checked at submission exactly as `qkbench run` will
 * check it on the nodes, except that a model path is taken on trust (it must be readable on the
 * nodes, not here: their job scripts check it), and copied with another model path for a target
 * given --model NAME=PATH. The model key is found the way libinih reads a line (experiments/
 * README.md: "key = value" or "key: value", comments after " ;"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness/experiment.h"
#include "harness/fleet/internal.h"

#define EXPERIMENT_MAX_BYTES (1u << 20)

typedef struct {
    const char *line, *line_end; /* the whole line of the model key, without its newline */
    const char *value, *value_end;
} model_line;

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Finds the model key of [experiment]. 0 when found. */
static int find_model(const char *text, model_line *m) {
    int in_experiment = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        const char *s = p, *e = eol;
        while (s < e && is_blank(*s)) s++;
        while (e > s && is_blank(e[-1])) e--;
        if (s < e && *s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            in_experiment = close && close - s - 1 == 10 && !memcmp(s + 1, "experiment", 10);
        } else if (in_experiment && s < e && *s != ';' && *s != '#') {
            const char *sep = s;
            while (sep < e && *sep != '=' && *sep != ':') sep++;
            const char *ke = sep;
            while (ke > s && is_blank(ke[-1])) ke--;
            if (sep < e && ke - s == 5 && !memcmp(s, "model", 5)) {
                const char *v = sep + 1, *ve = e;
                while (v < ve && is_blank(*v)) v++;
                for (const char *c = v; c < ve; c++)
                    if (*c == ';' && c > v && is_blank(c[-1])) { /* an inline comment */
                        ve = c;
                        break;
                    }
                while (ve > v && is_blank(ve[-1])) ve--;
                *m = (model_line){p, eol, v, ve};
                return 0;
            }
        }
        p = *eol ? eol + 1 : eol;
    }
    return -1;
}

char *qkf_experiment_with_model(const char *text, const char *model) {
    model_line m;
    if (find_model(text, &m)) return NULL;
    const size_t before = (size_t)(m.line - text), after = strlen(m.line_end);
    const size_t ml = strlen(model);
    char *out = malloc(before + ml + 16 + after + 1);
    if (!out) return NULL;
    memcpy(out, text, before);
    char *p = out + before;
    memcpy(p, "model = ", 8);
    memcpy(p + 8, model, ml);
    memcpy(p + 8 + ml, m.line_end, after + 1);
    return out;
}

int qkf_experiment_read(const char *path, char **text, char **name, char **model, qk_error *err) {
    *text = *name = *model = NULL;
    size_t len;
    char *t = qkf_read_file(path, EXPERIMENT_MAX_BYTES + 1, &len);
    if (!t) return qk_fail(err, "%s: cannot read: %s", path, strerror(errno));
    if (len > EXPERIMENT_MAX_BYTES || memchr(t, 0, len)) {
        free(t);
        return qk_fail(err, "%s: not an experiment file (binary, or larger than 1 MiB)", path);
    }
    model_line m;
    char *value = NULL, *checked = NULL;
    if (find_model(t, &m) == 0) {
        value = strndup(m.value, (size_t)(m.value_end - m.value));
        /* the nodes check a model path; a synthetic preset is checked here */
        if (value && strncmp(value, "synthetic:", 10) != 0)
            checked = qkf_experiment_with_model(t, "synthetic:tiny");
        if (!value || (strncmp(value, "synthetic:", 10) != 0 && !checked)) {
            free(value);
            free(t);
            return qk_fail(err, "out of memory");
        }
    }
    qk_experiment e;
    const int rc = qk_experiment_parse_string(checked ? checked : t, path, &e, err);
    free(checked);
    if (rc) {
        free(value);
        free(t);
        return -1;
    }
    *name = strdup(e.name);
    *model = value ? value : strdup(e.model);
    qk_experiment_free(&e);
    *text = t;
    if (!*name || !*model) {
        free(*name);
        free(*model);
        free(t);
        *text = *name = *model = NULL;
        return qk_fail(err, "out of memory");
    }
    return 0;
}
