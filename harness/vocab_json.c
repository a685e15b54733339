/* Hugging Face tokenizer.json -> the synthetic writer's vocabulary arrays (see vocab_json.h). */
#include "harness/vocab_json.h"

#include "common/input_file.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model/tokenizer.h"

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */

void qk_vocab_json_free(qk_vocab_json *v) {
    if (v->texts)
        for (int i = 0; i < v->n; i++) free(v->texts[i]);
    free(v->texts);
    free(v->scores);
    free(v->types);
    memset(v, 0, sizeof *v);
}

static int is_byte_token(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    return strlen(s) == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && s[3] && s[4] &&
           strchr(hex, s[3]) && strchr(hex, s[4]);
}

/* Gemma 3's normalizer: Replace ' ' -> U+2581 (alone or as the only step of a Sequence). */
static int is_space_replace(const json_t *n) {
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type) return 0;
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(n, "normalizers");
        return json_array_size(list) == 1 && is_space_replace(json_array_get(list, 0));
    }
    const char *from = json_string_value(json_object_get(json_object_get(n, "pattern"), "String"));
    const char *to = json_string_value(json_object_get(n, "content"));
    return strcmp(type, "Replace") == 0 && from && to && strcmp(from, " ") == 0 &&
           strcmp(to, SPACE_MARK) == 0;
}

/* A pre-tokenizer that does nothing once spaces are U+2581: none, or Split on " ". */
static int is_noop_pretokenizer(const json_t *p) {
    if (!p || json_is_null(p)) return 1;
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *pat = json_string_value(json_object_get(json_object_get(p, "pattern"), "String"));
    return type && strcmp(type, "Split") == 0 && pat && strcmp(pat, " ") == 0;
}

static int32_t id_of(const json_t *vocab, const char *text) {
    const json_t *j = text ? json_object_get(vocab, text) : NULL;
    return json_is_integer(j) ? (int32_t)json_integer_value(j) : -1;
}

static int read_vocab(qk_vocab_json *v, const json_t *vocab, const char *path, qk_error *err) {
    if (!json_is_object(vocab))
        return qk_fail(err,
                       "%s: model.vocab is not an object (text -> id); only BPE vocabularies are "
                       "supported",
                       path);
    const size_t n = json_object_size(vocab);
    if (n == 0 || n > (1u << 30)) return qk_fail(err, "%s: model.vocab has %zu entries", path, n);
    v->n = (int)n;
    v->texts = calloc(n, sizeof *v->texts);
    v->scores = calloc(n, sizeof *v->scores);
    v->types = calloc(n, sizeof *v->types);
    if (!v->texts || !v->scores || !v->types) return qk_fail(err, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= (json_int_t)n)
            return qk_fail(err, "%s: model.vocab[\"%s\"] is not an id in 0..%zu", path, key, n - 1);
        const size_t id = (size_t)json_integer_value(val);
        if (v->texts[id])
            return qk_fail(err, "%s: model.vocab: id %zu is given to both \"%s\" and \"%s\"", path,
                           id, v->texts[id], key);
        if (!(v->texts[id] = strdup(key))) return qk_fail(err, "out of memory");
        v->types[id] = is_byte_token(key) ? QK_TOKEN_BYTE : QK_TOKEN_NORMAL;
    }
    return 0; /* n distinct ids in 0..n-1: every id is filled */
}

/* Splits merge `m` (["a", "b"] or "a b") into its two parts. */
static int merge_parts(const json_t *m, const char **a, const char **b, char **tmp,
                       size_t *tmp_cap) {
    if (json_is_array(m) && json_array_size(m) == 2) {
        *a = json_string_value(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        return *a && *b ? 0 : -1;
    }
    const char *s = json_string_value(m);
    const char *sp = s ? strchr(s, ' ') : NULL;
    if (!sp) return -1;
    const size_t len = strlen(s) + 1;
    if (len > *tmp_cap) {
        char *p = realloc(*tmp, len);
        if (!p) return -1;
        *tmp = p;
        *tmp_cap = len;
    }
    memcpy(*tmp, s, len);
    (*tmp)[sp - s] = '\0';
    *a = *tmp;
    *b = *tmp + (sp - s) + 1;
    return 0;
}

/* score(t) = -(rank of the first merge producing t); tokens no merge produces: -(n_merges + 1). */
static int derive_scores(qk_vocab_json *v, const json_t *vocab, const json_t *merges,
                         const char *path, qk_error *err) {
    if (!json_is_array(merges)) return qk_fail(err, "%s: model.merges is not an array", path);
    const size_t nm = json_array_size(merges);
    if (nm > (1u << 24))
        return qk_fail(err, "%s: %zu merges: ranks beyond 2^24 are not exact as f32 scores", path,
                       nm);
    v->n_merges = (int)nm;
    uint8_t *set = calloc((size_t)v->n, 1);
    char *cat = NULL, *tmp = NULL;
    size_t cat_cap = 0, tmp_cap = 0;
    int rc = -1;
    if (!set) {
        qk_fail(err, "out of memory");
        goto out;
    }
    for (size_t r = 0; r < nm; r++) {
        const char *a, *b;
        if (merge_parts(json_array_get(merges, r), &a, &b, &tmp, &tmp_cap)) {
            qk_fail(err, "%s: model.merges[%zu] is neither [\"a\", \"b\"] nor \"a b\"", path, r);
            goto out;
        }
        const size_t la = strlen(a), lb = strlen(b);
        if (la + lb + 1 > cat_cap) {
            cat_cap = 2 * (la + lb + 1);
            char *p = realloc(cat, cat_cap);
            if (!p) {
                qk_fail(err, "out of memory");
                goto out;
            }
            cat = p;
        }
        memcpy(cat, a, la);
        memcpy(cat + la, b, lb + 1);
        const int32_t id = id_of(vocab, cat);
        if (id < 0) {
            qk_fail(err,
                    "%s: model.merges[%zu] (\"%s\" + \"%s\") makes a token not in the vocabulary",
                    path, r, a, b);
            goto out;
        }
        if (!set[id]) {
            set[id] = 1;
            v->scores[id] = -(float)r;
        }
    }
    for (int i = 0; i < v->n; i++)
        if (!set[i]) v->scores[i] = -(float)(nm + 1);
    rc = 0;
out:
    free(set);
    free(cat);
    free(tmp);
    return rc;
}

static int read_added(qk_vocab_json *v, const json_t *added, const char *path, qk_error *err) {
    if (!added || json_is_null(added)) return 0;
    if (!json_is_array(added)) return qk_fail(err, "%s: added_tokens is not an array", path);
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        const json_t *jid = json_object_get(a, "id");
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!json_is_integer(jid) || !content)
            return qk_fail(err, "%s: added_tokens[%zu] lacks an integer id or a content string",
                           path, i);
        const json_int_t id = json_integer_value(jid);
        v->n_added++;
        if (id < 0 || id >= v->n) { /* e.g. Gemma 3's <image_soft_token>: no embedding row */
            v->n_added_dropped++;
            continue;
        }
        if (strcmp(v->texts[id], content) != 0)
            return qk_fail(
                err,
                "%s: added_tokens[%zu] \"%s\" has id %lld, which the vocabulary gives to \"%s\"",
                path, i, content, (long long)id, v->texts[id]);
        v->types[id] =
            json_is_true(json_object_get(a, "special")) ? QK_TOKEN_CONTROL : QK_TOKEN_USER_DEFINED;
    }
    return 0;
}

int qk_vocab_json_read(qk_vocab_json *v, const char *path, qk_error *err) {
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->unk = v->pad = -1;
    char *text;
    size_t len;
    /* Gemma 3's tokenizer.json is 33 MB; a FIFO or a directory is refused with a clear message */
    if (qk_input_read(path, "tokenizer.json file", (size_t)256 << 20, &text, &len, err)) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!root) return qk_fail(err, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    int rc = -1;
    const json_t *model = json_object_get(root, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type || strcmp(type, "BPE") != 0) {
        qk_fail(err,
                "%s: model.type is %s%s%s, expected \"BPE\" (a SentencePiece BPE export such as "
                "Gemma 3's)",
                path, type ? "\"" : "", type ? type : "missing", type ? "\"" : "");
        goto out;
    }
    if (!is_space_replace(json_object_get(root, "normalizer"))) {
        qk_fail(err, "%s: unsupported normalizer: expected Gemma 3's Replace ' ' -> U+2581", path);
        goto out;
    }
    if (!is_noop_pretokenizer(json_object_get(root, "pre_tokenizer"))) {
        qk_fail(err, "%s: unsupported pre_tokenizer: expected none or Split on ' '", path);
        goto out;
    }
    const json_t *vocab = json_object_get(model, "vocab");
    if (read_vocab(v, vocab, path, err) ||
        derive_scores(v, vocab, json_object_get(model, "merges"), path, err) ||
        read_added(v, json_object_get(root, "added_tokens"), path, err))
        goto out;
    v->unk = id_of(vocab, json_string_value(json_object_get(model, "unk_token")));
    if (v->unk >= 0) v->types[v->unk] = QK_TOKEN_UNKNOWN;
    v->bos = id_of(vocab, "<bos>");
    v->eos = id_of(vocab, "<eos>");
    v->pad = id_of(vocab, "<pad>");
    for (int i = 0; i < v->n; i++) {
        switch (v->types[i]) {
        case QK_TOKEN_CONTROL:
            v->n_control++;
            break;
        case QK_TOKEN_USER_DEFINED:
            v->n_user_defined++;
            break;
        case QK_TOKEN_BYTE:
            v->n_byte++;
            break;
        case QK_TOKEN_NORMAL:
            v->n_normal++;
            break;
        default:
            break;
        }
    }
    rc = 0;
out:
    json_decref(root);
    if (rc) qk_vocab_json_free(v);
    return rc;
}

qk_synth_vocab qk_vocab_json_synth(const qk_vocab_json *v) {
    qk_synth_vocab s = {v->n,      (const char *const *)v->texts,
                        v->scores, v->types,
                        v->bos,    v->eos,
                        v->unk,    v->pad,
                        1,         1,
                        0};
    return s;
}
