/* The tokenizer GGUF files of EmbeddingGemma describe (tokenizer.ggml.model = llama: tokens,
 * scores, token types), with the algorithm of ../shared/spec/embeddinggemma.md section 5:
 *  1. special-token split: control and unknown tokens (only when parse_special) and user-defined
 *     tokens (always) are cut out of the raw text, leftmost-longest match first;
 *  2. every ASCII space becomes U+2581 (a U+2581 prefix is added only when add_space_prefix);
 *  3. the fragment is split into UTF-8 characters;
 *  4. adjacent pairs whose concatenation is a normal or user-defined token are merged, highest
 *     score first, ties to the leftmost pair;
 *  5. a character that is not a token is emitted byte by byte as <0xHH> tokens;
 *  6. BOS/EOS are added per tokenizer.ggml.add_bos_token / add_eos_token.
 *
 * Built once at load: token texts are read in place from the GGUF map (zero-copy: keep the qk_gguf
 * open while the tokenizer lives), an open-addressing hash from text to id (4-byte slots), a byte
 * trie of the special tokens, and the 256 byte-token ids. Encoding allocates nothing except when a
 * fragment (the text between two special tokens) is longer than any before it: the scratch then
 * grows to about 40 bytes per byte of that fragment and is reused.
 *
 * Thread safety: after qk_tokenizer_load every function is read-only and may run concurrently,
 * except qk_tokenizer_encode, which uses the tokenizer's own scratch: concurrent callers use
 * qk_tokenizer_encode_with, each with its own qk_tokenizer_scratch. */
#ifndef QK_MODEL_TOKENIZER_H
#define QK_MODEL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "model/gguf.h"

enum qk_token_type { /* tokenizer.ggml.token_type values (llama.cpp / SentencePiece) */
                     QK_TOKEN_NORMAL = 1,
                     QK_TOKEN_UNKNOWN = 2,
                     QK_TOKEN_CONTROL = 3,
                     QK_TOKEN_USER_DEFINED = 4,
                     QK_TOKEN_UNUSED = 5,
                     QK_TOKEN_BYTE = 6,
};

typedef struct qk_tokenizer qk_tokenizer;
typedef struct qk_tokenizer_scratch qk_tokenizer_scratch;

typedef struct {
    uint64_t
        index_bytes; /* heap: hash table, token offsets, flags, special-token trie, byte table */
    uint64_t scratch_bytes; /* heap: the tokenizer-owned encoding scratch (grows with the longest
                               fragment) */
    uint64_t
        mapped_bytes; /* the tokenizer arrays (tokens, scores, types) read in place from the map */
} qk_tokenizer_memory;

/* Reads the tokenizer section of an open GGUF. The tokenizer points into g's map: keep g open until
 * qk_tokenizer_free. Errors name the key. */
int qk_tokenizer_load(qk_tokenizer **out, const qk_gguf *g, qk_error *err);
void qk_tokenizer_free(qk_tokenizer *t);

int qk_tokenizer_n_vocab(const qk_tokenizer *t);
int32_t qk_tokenizer_bos(const qk_tokenizer *t); /* -1 when the file has none */
int32_t qk_tokenizer_eos(const qk_tokenizer *t);
int32_t qk_tokenizer_unk(const qk_tokenizer *t);
int qk_tokenizer_adds_bos(const qk_tokenizer *t);
int qk_tokenizer_adds_eos(const qk_tokenizer *t);
/* Token text (in the map, not NUL-terminated) and its length; NULL for an id out of range. */
const char *qk_tokenizer_token_text(const qk_tokenizer *t, int32_t id, size_t *len);
int qk_tokenizer_token_type(const qk_tokenizer *t,
                            int32_t id); /* enum qk_token_type; 0 out of range */
float qk_tokenizer_token_score(const qk_tokenizer *t, int32_t id);
/* The id of the token with exactly this text, or -1. */
int32_t qk_tokenizer_find(const qk_tokenizer *t, const char *text, size_t len);

/* Encodes text[0..len) (UTF-8; need not be NUL-terminated). add_special: add BOS/EOS as the file's
 * flags say. parse_special: match control/unknown token texts such as "<bos>" in the text
 * (user-defined tokens are always matched). Writes at most cap ids to out and sets *n to the number
 * of ids the text needs: when that exceeds cap, returns -1 with a message (call again with a buffer
 * of *n). Uses the tokenizer's own scratch: not thread-safe (see qk_tokenizer_encode_with). */
int qk_tokenizer_encode(qk_tokenizer *t, const char *text, size_t len, int add_special,
                        int parse_special, int32_t *out, int cap, int *n, qk_error *err);
/* The same with a caller-owned scratch: concurrent calls on one tokenizer with distinct scratches
 * are safe. */
int qk_tokenizer_encode_with(const qk_tokenizer *t, qk_tokenizer_scratch *s, const char *text,
                             size_t len, int add_special, int parse_special, int32_t *out, int cap,
                             int *n, qk_error *err);
qk_tokenizer_scratch *qk_tokenizer_scratch_new(void);
void qk_tokenizer_scratch_free(qk_tokenizer_scratch *s);
uint64_t qk_tokenizer_scratch_bytes(const qk_tokenizer_scratch *s);

/* Ids -> text: U+2581 becomes a space, <0xHH> tokens their byte, every other token its text
 * (control tokens included, so "<bos>" decodes to "<bos>"). Writes at most cap - 1 bytes and a NUL
 * (when cap > 0) and returns the full length, as snprintf does; -1 if an id is out of range. */
int64_t qk_tokenizer_decode(const qk_tokenizer *t, const int32_t *ids, int n, char *out,
                            size_t cap);

/* Heap bytes the tokenizer owns (index + scratch), and the breakdown with the mapped arrays. */
uint64_t qk_tokenizer_memory_bytes(const qk_tokenizer *t);
qk_tokenizer_memory qk_tokenizer_get_memory(const qk_tokenizer *t);

/* EmbeddingGemma's task prompts (spec section 5), prepended to the text before tokenizing: query,
 * document, clustering, classification, similarity, code, summarization, qa, fact-checking, and
 * none (""). NULL for an unknown name. */
const char *qk_task_prompt(const char *name);
/* The names qk_task_prompt knows, in a fixed order; *n gets the count. */
const char *const *qk_task_prompt_names(int *n);

#endif
