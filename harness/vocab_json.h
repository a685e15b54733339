/* A Hugging Face tokenizer.json of a SentencePiece-derived BPE model (Gemma 3's) read into the
 * arrays the synthetic GGUF writer stores as tokenizer.ggml.tokens / scores / token_type.
 *
 * Types: the model's unk_token -> unknown (2); other added tokens: special -> control (3), not
 * special -> user-defined (4); vocabulary entries spelled <0xHH> -> byte (6); the rest normal (1).
 * Added tokens whose id lies beyond the vocabulary (Gemma 3's <image_soft_token> = 262144) are left
 * out and counted.
 *
 * Scores: score(t) = -(rank of the first merge whose result is t); tokens no merge produces get
 * -(number of merges + 1). Gemma 3's merge list holds, for every token, all its splits into two
 * tokens, grouped by result and ordered by the SentencePiece score (the whitespace-run user-defined
 * tokens first), so highest-score merging over these scores makes the same merges as rank-ordered
 * BPE. */
#ifndef QK_HARNESS_VOCAB_JSON_H
#define QK_HARNESS_VOCAB_JSON_H

#include <stdint.h>

#include "common/error.h"
#include "model/synth.h"

typedef struct {
    int n;        /* vocabulary size (ids 0..n-1) */
    char **texts; /* owned, NUL-terminated */
    float *scores;
    int32_t *types;
    int32_t bos, eos, unk,
        pad;      /* ids of <bos>, <eos>, the model's unk_token, <pad>; -1 if absent */
    int n_merges; /* merges read (not stored: the scores carry their order) */
    int n_added, n_added_dropped; /* added tokens, and those beyond the vocabulary */
    int n_control, n_user_defined, n_byte, n_normal;
} qk_vocab_json;

/* Reads and checks path (model type BPE, vocab a text -> id map with ids 0..n-1, merges as [a, b]
 * pairs or "a b" strings, added tokens consistent with the vocabulary, normalizer replacing ' '
 * with U+2581). */
int qk_vocab_json_read(qk_vocab_json *v, const char *path, qk_error *err);
void qk_vocab_json_free(qk_vocab_json *v);

/* The view qk_synth_write_vocab takes: BOS/EOS both added (EmbeddingGemma's GGUF, spec section 2),
 * no space prefix. Valid while v is. */
qk_synth_vocab qk_vocab_json_synth(const qk_vocab_json *v);

#endif
