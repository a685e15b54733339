/* SentencePiece-style (tokenizer.ggml.model = llama) tokenizer: see tokenizer.h and
 * ../shared/spec/embeddinggemma.md section 5. */
#include "model/tokenizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hash slot: 0 when empty, else (tag << id_bits) | (id + 1), the tag being more bits of the hash so
 * that most probes never touch the token text. 4 bytes a slot keeps the table small (2 MiB for
 * Gemma 3). */
typedef uint32_t slot;

typedef struct { /* special-token trie node: children are a sibling list */
    int32_t child, sibling, id;
    uint8_t byte;
} trie_node;

typedef struct { /* one symbol of the fragment being merged: a range of the scratch text */
    uint32_t start, len;
    int32_t prev, next;
    int32_t id; /* the token it became by merging; -1 while it is a single character */
} symbol;

typedef struct { /* a queued merge candidate */
    float score;
    uint32_t left, size;
    int32_t id;
} bigram;

struct qk_tokenizer_scratch {
    char *text; /* the fragment with spaces as U+2581 */
    size_t text_cap;
    symbol *syms;
    size_t syms_cap;
    bigram *heap;
    size_t heap_cap, heap_n;
    int oom; /* a heap push failed to grow the heap */
};

struct qk_tokenizer {
    int n_vocab;
    const uint8_t *tok_base; /* tokenizer.ggml.tokens in the map */
    uint32_t *tok_off;       /* token i: u64 length then the bytes, at tok_base + tok_off[i] */
    const uint8_t *scores;   /* tokenizer.ggml.scores in the map (f32 each), or NULL */
    uint8_t *type;           /* enum qk_token_type per token */
    slot *hash;
    uint32_t hash_mask, id_bits, id_mask;
    trie_node *trie;
    int n_trie;
    int32_t trie_root[256];
    int32_t byte_id[256]; /* <0xHH> (or the one-byte token) per byte value; -1 if neither exists */
    int32_t bos, eos, unk;
    int add_bos, add_eos, add_space_prefix;
    uint64_t mapped_bytes, index_bytes;
    qk_tokenizer_scratch own; /* qk_tokenizer_encode's scratch */
};

/* ---- hashing ---- */

static inline uint64_t rd64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        h = (h ^ rd64(s)) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = 0;
        memcpy(&v, s, n);
        h = (h ^ v) * 0x94d049bb133111ebull;
        h ^= h >> 32;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static inline const char *tok_text(const qk_tokenizer *t, int32_t id, size_t *len) {
    const uint8_t *p = t->tok_base + t->tok_off[id];
    *len = (size_t)rd64(p);
    return (const char *)p + 8;
}

static inline int32_t lookup(const qk_tokenizer *t, const char *s, size_t n) {
    const uint64_t h = hash_bytes(s, n);
    const uint32_t tag = (uint32_t)(h >> 32) << t->id_bits;
    for (uint32_t i = (uint32_t)h & t->hash_mask;; i = (i + 1) & t->hash_mask) {
        const slot sl = t->hash[i];
        if (sl == 0) return -1;
        if ((sl & ~t->id_mask) != tag) continue;
        const int32_t id = (int32_t)(sl & t->id_mask) - 1;
        size_t len;
        const char *txt = tok_text(t, id, &len);
        if (len == n && memcmp(txt, s, n) == 0) return id;
    }
}

/* Later duplicates replace earlier ones (llama.cpp's text-to-id map keeps the last id too). */
static void hash_insert(qk_tokenizer *t, int32_t id) {
    size_t n;
    const char *s = tok_text(t, id, &n);
    const uint64_t h = hash_bytes(s, n);
    const uint32_t tag = (uint32_t)(h >> 32) << t->id_bits;
    for (uint32_t i = (uint32_t)h & t->hash_mask;; i = (i + 1) & t->hash_mask) {
        slot *sl = &t->hash[i];
        if (*sl == 0) {
            *sl = tag | (uint32_t)(id + 1);
            return;
        }
        if ((*sl & ~t->id_mask) != tag) continue;
        size_t len;
        const char *txt = tok_text(t, (int32_t)(*sl & t->id_mask) - 1, &len);
        if (len == n && memcmp(txt, s, n) == 0) {
            *sl = tag | (uint32_t)(id + 1);
            return;
        }
    }
}

/* ---- special-token trie ---- */

static int trie_insert(qk_tokenizer *t, int32_t id, int *cap) {
    size_t n;
    const char *s = tok_text(t, id, &n);
    if (n == 0) return 0;
    int32_t parent = -1, node = -1; /* parent -1: the root table, one node per first byte */
    for (size_t k = 0; k < n; k++) {
        const uint8_t b = (uint8_t)s[k];
        int32_t c = parent < 0 ? t->trie_root[b] : t->trie[parent].child;
        while (c >= 0 && t->trie[c].byte != b) c = t->trie[c].sibling;
        if (c < 0) {
            if (t->n_trie == *cap) {
                int nc = *cap ? 2 * *cap : 1024;
                trie_node *nt = realloc(t->trie, (size_t)nc * sizeof *nt);
                if (!nt) return -1;
                t->trie = nt;
                *cap = nc;
            }
            c = t->n_trie++;
            if (parent < 0) {
                t->trie[c] = (trie_node){-1, -1, -1, b};
                t->trie_root[b] = c;
            } else {
                t->trie[c] = (trie_node){-1, t->trie[parent].child, -1, b};
                t->trie[parent].child = c;
            }
        }
        parent = node = c;
    }
    t->trie[node].id = id;
    return 0;
}

static inline int special_allowed(const qk_tokenizer *t, int32_t id, int parse_special) {
    const int ty = t->type[id];
    return ty == QK_TOKEN_USER_DEFINED ||
           (parse_special && (ty == QK_TOKEN_CONTROL || ty == QK_TOKEN_UNKNOWN));
}

/* Longest allowed special token starting at s[0]; its length, or 0. */
static size_t match_special(const qk_tokenizer *t, const char *s, size_t n, int parse_special,
                            int32_t *id) {
    int32_t node = t->trie_root[(uint8_t)s[0]];
    size_t best = 0;
    for (size_t k = 0; node >= 0;) {
        const trie_node *nd = &t->trie[node];
        if (nd->id >= 0 && special_allowed(t, nd->id, parse_special)) {
            best = k + 1;
            *id = nd->id;
        }
        if (++k >= n) break;
        const uint8_t b = (uint8_t)s[k];
        for (node = nd->child; node >= 0 && t->trie[node].byte != b; node = t->trie[node].sibling) {
        }
    }
    return best;
}

/* ---- loading ---- */

static int get_opt_bool(const qk_gguf *g, const char *key, int dflt, int *out, qk_error *err) {
    *out = dflt;
    return qk_gguf_find_kv(g, key) ? qk_gguf_get_bool(g, key, out, err) : 0;
}

static int get_opt_id(const qk_gguf *g, const char *key, int n, int32_t *out, qk_error *err) {
    *out = -1;
    if (!qk_gguf_find_kv(g, key)) return 0;
    uint32_t v;
    if (qk_gguf_get_u32(g, key, &v, err)) return -1;
    if (v >= (uint32_t)n)
        return qk_fail(err, "%s: %s = %" PRIu32 " is outside the vocabulary (%d tokens)",
                       g->path ? g->path : "gguf", key, v, n);
    *out = (int32_t)v;
    return 0;
}

static const qk_gguf_kv *get_array(const qk_gguf *g, const char *key, uint32_t elem, uint64_t n,
                                   int required, qk_error *err) {
    const char *name = g->path ? g->path : "gguf";
    const qk_gguf_kv *kv = qk_gguf_find_kv(g, key);
    if (!kv) {
        if (required)
            qk_fail(err, "%s: key '%s' not found (no tokenizer in this file?)", name, key);
        return NULL;
    }
    if (kv->type != QK_GGUF_ARRAY || kv->arr_type != elem) {
        qk_fail(err, "%s: key '%s' has type %s%s%s, expected ARRAY of %s", name, key,
                qk_gguf_vtype_name(kv->type), kv->type == QK_GGUF_ARRAY ? " of " : "",
                kv->type == QK_GGUF_ARRAY ? qk_gguf_vtype_name(kv->arr_type) : "",
                qk_gguf_vtype_name(elem));
        return NULL;
    }
    if (n && kv->arr_n != n) {
        qk_fail(err, "%s: key '%s' has %" PRIu64 " elements, expected %" PRIu64 " (one per token)",
                name, key, kv->arr_n, n);
        return NULL;
    }
    return kv;
}

int qk_tokenizer_load(qk_tokenizer **out, const qk_gguf *g, qk_error *err) {
    *out = NULL;
    const char *name = g->path ? g->path : "gguf";
    qk_str model;
    if (qk_gguf_get_str(g, "tokenizer.ggml.model", &model, err)) return -1;
    if (!qk_str_eq(model, "llama"))
        return qk_fail(err,
                       "%s: tokenizer.ggml.model is '%.*s': only 'llama' (SentencePiece-style) is "
                       "supported",
                       name, (int)(model.len > 64 ? 64 : model.len), model.ptr);
    const qk_gguf_kv *tokens = get_array(g, "tokenizer.ggml.tokens", QK_GGUF_STRING, 0, 1, err);
    if (!tokens) return -1;
    if (tokens->arr_n == 0 || tokens->arr_n > (1u << 30))
        return qk_fail(err, "%s: tokenizer.ggml.tokens has %" PRIu64 " entries", name,
                       tokens->arr_n);
    const int n = (int)tokens->arr_n;
    const qk_gguf_kv *scores =
        get_array(g, "tokenizer.ggml.scores", QK_GGUF_FLOAT32, (uint64_t)n, 0, err);
    if (!scores && qk_gguf_find_kv(g, "tokenizer.ggml.scores")) return -1;
    const qk_gguf_kv *types =
        get_array(g, "tokenizer.ggml.token_type", QK_GGUF_INT32, (uint64_t)n, 0, err);
    if (!types && qk_gguf_find_kv(g, "tokenizer.ggml.token_type")) return -1;

    qk_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return qk_fail(err, "out of memory");
    t->n_vocab = n;
    t->tok_base = tokens->value;
    t->scores = scores ? scores->value : NULL;
    uint32_t hash_size = 1024;
    while (hash_size < 2u * (uint32_t)n) hash_size *= 2;
    t->hash_mask = hash_size - 1;
    t->tok_off = malloc((size_t)n * sizeof *t->tok_off);
    t->type = malloc((size_t)n);
    t->hash = malloc((size_t)hash_size * sizeof *t->hash);
    if (!t->tok_off || !t->type || !t->hash) {
        qk_tokenizer_free(t);
        return qk_fail(err, "out of memory loading the tokenizer (%d tokens)", n);
    }
    memset(t->hash, 0, (size_t)hash_size * sizeof *t->hash);
    t->id_bits = 1;
    while (t->id_bits < 31 && ((uint64_t)n + 1) >> t->id_bits) t->id_bits++;
    t->id_mask = (1u << t->id_bits) - 1;
    memset(t->trie_root, 0xff, sizeof t->trie_root);
    memset(t->byte_id, 0xff, sizeof t->byte_id);

    const uint8_t *cursor = tokens->value;
    for (int i = 0; i < n; i++) {
        const uint64_t off = (uint64_t)(cursor - tokens->value);
        if (off > UINT32_MAX) {
            qk_tokenizer_free(t);
            return qk_fail(err, "%s: tokenizer.ggml.tokens is larger than 4 GiB", name);
        }
        t->tok_off[i] = (uint32_t)off;
        qk_gguf_arr_str_next(&cursor);
        int32_t ty = QK_TOKEN_NORMAL;
        if (types) memcpy(&ty, qk_gguf_arr_elem(types, (uint64_t)i), 4);
        t->type[i] = (uint8_t)(ty >= 0 && ty <= 255 ? ty : 0);
    }
    t->mapped_bytes = (uint64_t)(cursor - tokens->value) + (scores ? 4ull * (uint64_t)n : 0) +
                      (types ? 4ull * (uint64_t)n : 0);
    for (int i = 0; i < n; i++) hash_insert(t, i);

    int trie_cap = 0;
    for (int i = 0; i < n; i++) {
        const int ty = t->type[i];
        if ((ty == QK_TOKEN_CONTROL || ty == QK_TOKEN_UNKNOWN || ty == QK_TOKEN_USER_DEFINED) &&
            trie_insert(t, i, &trie_cap)) {
            qk_tokenizer_free(t);
            return qk_fail(err, "out of memory building the special-token trie");
        }
    }
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = lookup(t, hex, 6);
        if (id < 0) {
            const char one = (char)b;
            id = lookup(t, &one, 1);
        }
        t->byte_id[b] = id;
    }

    if (get_opt_id(g, "tokenizer.ggml.bos_token_id", n, &t->bos, err) ||
        get_opt_id(g, "tokenizer.ggml.eos_token_id", n, &t->eos, err) ||
        get_opt_id(g, "tokenizer.ggml.unknown_token_id", n, &t->unk, err) ||
        get_opt_bool(g, "tokenizer.ggml.add_bos_token", 1, &t->add_bos, err) ||
        get_opt_bool(g, "tokenizer.ggml.add_eos_token", 0, &t->add_eos, err) ||
        get_opt_bool(g, "tokenizer.ggml.add_space_prefix", 1, &t->add_space_prefix, err)) {
        qk_tokenizer_free(t);
        return -1;
    }
    if (t->unk < 0) t->unk = lookup(t, "<unk>", 5);
    t->index_bytes = sizeof *t + (uint64_t)n * (sizeof *t->tok_off + 1) +
                     (uint64_t)hash_size * sizeof *t->hash + (uint64_t)trie_cap * sizeof *t->trie;
    *out = t;
    return 0;
}

static void scratch_release(qk_tokenizer_scratch *s) {
    free(s->text);
    free(s->syms);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

void qk_tokenizer_free(qk_tokenizer *t) {
    if (!t) return;
    free(t->tok_off);
    free(t->type);
    free(t->hash);
    free(t->trie);
    scratch_release(&t->own);
    free(t);
}

/* ---- accessors ---- */

int qk_tokenizer_n_vocab(const qk_tokenizer *t) {
    return t->n_vocab;
}
int32_t qk_tokenizer_bos(const qk_tokenizer *t) {
    return t->bos;
}
int32_t qk_tokenizer_eos(const qk_tokenizer *t) {
    return t->eos;
}
int32_t qk_tokenizer_unk(const qk_tokenizer *t) {
    return t->unk;
}
int qk_tokenizer_adds_bos(const qk_tokenizer *t) {
    return t->add_bos && t->bos >= 0;
}
int qk_tokenizer_adds_eos(const qk_tokenizer *t) {
    return t->add_eos && t->eos >= 0;
}

const char *qk_tokenizer_token_text(const qk_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    return tok_text(t, id, len);
}

int qk_tokenizer_token_type(const qk_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->type[id] : 0;
}

static inline float score_of(const qk_tokenizer *t, int32_t id) {
    float s = 0.0f;
    if (t->scores) memcpy(&s, t->scores + 4 * (size_t)id, 4);
    return s;
}

float qk_tokenizer_token_score(const qk_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? score_of(t, id) : 0.0f;
}

int32_t qk_tokenizer_find(const qk_tokenizer *t, const char *text, size_t len) {
    return lookup(t, text, len);
}

/* ---- encoding ---- */

qk_tokenizer_scratch *qk_tokenizer_scratch_new(void) {
    return calloc(1, sizeof(qk_tokenizer_scratch));
}

void qk_tokenizer_scratch_free(qk_tokenizer_scratch *s) {
    if (!s) return;
    scratch_release(s);
    free(s);
}

uint64_t qk_tokenizer_scratch_bytes(const qk_tokenizer_scratch *s) {
    return s ? s->text_cap + s->syms_cap * sizeof(symbol) + s->heap_cap * sizeof(bigram) : 0;
}

/* Room for a fragment of len bytes: at most 3 bytes per input byte (space -> U+2581) plus a prefix,
 * at most one symbol per input byte (plus the prefix), and a candidate queue that starts at one
 * entry per symbol and grows on demand (one candidate per initial pair, at most two per merge). */
static int grow_heap(qk_tokenizer_scratch *s, size_t want, int doubling) {
    if (want <= s->heap_cap) return 0;
    size_t cap = want;
    if (doubling && cap < 2 * s->heap_cap) cap = 2 * s->heap_cap;
    bigram *p = realloc(s->heap, cap * sizeof *p);
    if (!p) return -1;
    s->heap = p;
    s->heap_cap = cap;
    return 0;
}

static int scratch_reserve(qk_tokenizer_scratch *s, size_t len) {
    const size_t text = 3 * len + 3, syms = len + 1;
    if (text > s->text_cap) {
        char *p = realloc(s->text, text);
        if (!p) return -1;
        s->text = p;
        s->text_cap = text;
    }
    if (syms > s->syms_cap) {
        symbol *p = realloc(s->syms, syms * sizeof *p);
        if (!p) return -1;
        s->syms = p;
        s->syms_cap = syms;
    }
    return grow_heap(s, syms + 16, 0);
}

/* Highest score first; equal scores: the leftmost pair first. */
static inline int better(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static inline void heap_push(qk_tokenizer_scratch *s, bigram b) {
    if (s->heap_n == s->heap_cap && grow_heap(s, s->heap_n + 1, 1)) {
        s->oom = 1;
        return;
    }
    size_t i = s->heap_n++;
    while (i > 0) {
        const size_t parent = (i - 1) / 2;
        if (!better(&b, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = b;
}

static inline bigram heap_pop(qk_tokenizer_scratch *s) {
    const bigram top = s->heap[0];
    const bigram last = s->heap[--s->heap_n];
    const size_t n = s->heap_n;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(&s->heap[c + 1], &s->heap[c])) c++;
        if (!better(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* Queues the pair (l, r) when their concatenation is a token merging may produce: normal and
 * user-defined tokens, as SentencePiece (control, unknown, byte and unused tokens are never built
 * from pieces). */
static inline void try_pair(const qk_tokenizer *t, qk_tokenizer_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const symbol *a = &s->syms[l], *b = &s->syms[r];
    const uint32_t size = a->len + b->len;
    const int32_t id = lookup(t, s->text + a->start, size);
    if (id < 0) return;
    const int ty = t->type[id];
    if (ty != QK_TOKEN_NORMAL && ty != QK_TOKEN_USER_DEFINED) return;
    heap_push(s, (bigram){score_of(t, id), (uint32_t)l, size, id});
}

typedef struct {
    int32_t *out;
    int cap, n;
} sink;

static inline void emit(sink *k, int32_t id) {
    if (k->n < k->cap) k->out[k->n] = id;
    k->n++;
}

static const uint8_t utf8_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};

static int encode_fragment(const qk_tokenizer *t, qk_tokenizer_scratch *s, const char *frag,
                           size_t len, int space_prefix, sink *k, qk_error *err) {
    if (len > (UINT32_MAX - 3) / 3)
        return qk_fail(err, "a text fragment of %zu bytes is too long (at most 1 GiB)", len);
    if (scratch_reserve(s, len)) return qk_fail(err, "out of memory tokenizing %zu bytes", len);
    size_t m = 0;
    if (space_prefix) {
        memcpy(s->text, "\xe2\x96\x81", 3);
        m = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (frag[i] == ' ') {
            memcpy(s->text + m, "\xe2\x96\x81", 3);
            m += 3;
        } else {
            s->text[m++] = frag[i];
        }
    }
    int32_t n_sym = 0;
    for (size_t i = 0; i < m;) {
        size_t cl = utf8_len[(uint8_t)s->text[i] >> 4];
        if (cl > m - i) cl = m - i;
        s->syms[n_sym] = (symbol){(uint32_t)i, (uint32_t)cl, n_sym - 1, n_sym + 1, -1};
        n_sym++;
        i += cl;
    }
    if (n_sym == 0) return 0;
    s->syms[n_sym - 1].next = -1;
    s->heap_n = 0;
    s->oom = 0;
    for (int32_t i = 0; i + 1 < n_sym; i++) try_pair(t, s, i, i + 1);
    while (s->heap_n) {
        const bigram b = heap_pop(s);
        symbol *l = &s->syms[b.left];
        if (l->len == 0 || l->next < 0) continue;
        symbol *r = &s->syms[l->next];
        /* stale if either side changed since it was queued: the left keeps its start, so equal
         * lengths mean equal texts */
        if (l->len + r->len != b.size) continue;
        l->len = b.size;
        l->id = b.id;
        l->next = r->next;
        r->len = 0;
        if (l->next >= 0) s->syms[l->next].prev = (int32_t)b.left;
        try_pair(t, s, l->prev, (int32_t)b.left);
        try_pair(t, s, (int32_t)b.left, l->next);
    }
    if (s->oom) return qk_fail(err, "out of memory tokenizing %zu bytes", len);
    for (int32_t i = 0; i >= 0; i = s->syms[i].next) {
        const symbol *sy = &s->syms[i];
        int32_t id = sy->id >= 0 ? sy->id : lookup(t, s->text + sy->start, sy->len);
        if (id >= 0) {
            emit(k, id);
            continue;
        }
        for (uint32_t j = 0; j < sy->len; j++) { /* byte fallback */
            id = t->byte_id[(uint8_t)s->text[sy->start + j]];
            if (id < 0) id = t->unk;
            if (id < 0)
                return qk_fail(err,
                               "byte 0x%02X has no <0x%02X> token and the vocabulary has no "
                               "unknown token",
                               (uint8_t)s->text[sy->start + j], (uint8_t)s->text[sy->start + j]);
            emit(k, id);
        }
    }
    return 0;
}

int qk_tokenizer_encode_with(const qk_tokenizer *t, qk_tokenizer_scratch *s, const char *text,
                             size_t len, int add_special, int parse_special, int32_t *out, int cap,
                             int *n, qk_error *err) {
    sink k = {out, out ? (cap > 0 ? cap : 0) : 0, 0};
    *n = 0;
    if (!text && len) return qk_fail(err, "NULL text");
    if (add_special && t->add_bos && t->bos >= 0) emit(&k, t->bos);
    int prev_special = 1; /* llama.cpp: the space prefix goes before a fragment that starts the text
                             or follows a special token */
    size_t start = 0, p = 0;
    while (p < len) {
        int32_t id;
        size_t ml = t->trie_root[(uint8_t)text[p]] >= 0
                        ? match_special(t, text + p, len - p, parse_special, &id)
                        : 0;
        if (!ml) {
            p++;
            continue;
        }
        if (p > start) {
            if (encode_fragment(t, s, text + start, p - start, t->add_space_prefix && prev_special,
                                &k, err))
                return -1;
        }
        emit(&k, id);
        prev_special = 1;
        p += ml;
        start = p;
    }
    if (len > start && encode_fragment(t, s, text + start, len - start,
                                       t->add_space_prefix && prev_special, &k, err))
        return -1;
    if (add_special && t->add_eos && t->eos >= 0) emit(&k, t->eos);
    *n = k.n;
    if (k.n > k.cap)
        return qk_fail(err, "the text needs %d tokens, the buffer holds %d", k.n, k.cap);
    return 0;
}

int qk_tokenizer_encode(qk_tokenizer *t, const char *text, size_t len, int add_special,
                        int parse_special, int32_t *out, int cap, int *n, qk_error *err) {
    return qk_tokenizer_encode_with(t, &t->own, text, len, add_special, parse_special, out, cap, n,
                                    err);
}

/* ---- decoding ---- */

static inline int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int64_t qk_tokenizer_decode(const qk_tokenizer *t, const int32_t *ids, int n, char *out,
                            size_t cap) {
    uint64_t pos = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (pos + 1 < cap) out[pos] = (c);                                                         \
        pos++;                                                                                     \
    } while (0)
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) return -1;
        size_t len;
        const char *s = tok_text(t, ids[i], &len);
        if (t->type[ids[i]] == QK_TOKEN_BYTE && len == 6 && memcmp(s, "<0x", 3) == 0 &&
            s[5] == '>' && hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
            PUT((char)(hexval(s[3]) * 16 + hexval(s[4])));
            continue;
        }
        for (size_t j = 0; j < len; j++) {
            if (j + 3 <= len && memcmp(s + j, "\xe2\x96\x81", 3) == 0) {
                /* a file with add_space_prefix drops the space it added before the first word */
                if (!(pos == 0 && t->add_space_prefix)) PUT(' ');
                j += 2;
            } else {
                PUT(s[j]);
            }
        }
    }
#undef PUT
    if (cap > 0) out[pos < cap ? pos : cap - 1] = '\0';
    return (int64_t)pos;
}

/* ---- memory ---- */

qk_tokenizer_memory qk_tokenizer_get_memory(const qk_tokenizer *t) {
    qk_tokenizer_memory m = {t->index_bytes, qk_tokenizer_scratch_bytes(&t->own), t->mapped_bytes};
    return m;
}

uint64_t qk_tokenizer_memory_bytes(const qk_tokenizer *t) {
    return t->index_bytes + qk_tokenizer_scratch_bytes(&t->own);
}

/* ---- task prompts (spec section 5) ---- */

static const char *const prompt_names[] = {
    "query", "document",      "clustering", "classification", "similarity",
    "code",  "summarization", "qa",         "fact-checking",  "none"};
static const char *const prompt_texts[] = {
    "task: search result | query: ",       "title: none | text: ",
    "task: clustering | query: ",          "task: classification | query: ",
    "task: sentence similarity | query: ", "task: code retrieval | query: ",
    "task: summarization | query: ",       "task: question answering | query: ",
    "task: fact checking | query: ",       "",
};

const char *qk_task_prompt(const char *name) {
    for (size_t i = 0; name && i < sizeof prompt_names / sizeof prompt_names[0]; i++)
        if (strcmp(name, prompt_names[i]) == 0) return prompt_texts[i];
    return NULL;
}

const char *const *qk_task_prompt_names(int *n) {
    *n = (int)(sizeof prompt_names / sizeof prompt_names[0]);
    return prompt_names;
}
