/* The synthetic model cache (harness/model_files.c): a model generated into $QK_MODEL_DIR carries a
 * digest of its bytes beside it; a cached file that no longer matches (a flipped byte in a weight,
 * a truncated file, a digest missing) is regenerated, and the note says why, instead of being used
 * or failing with no hint. A model path that is a FIFO or a directory is refused at once. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/model_files.h"
#include "model/gemma.h"

static char dir[64];
static char notes[4096];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-cache-XXXXXX");
    cr_assert(mkdtemp(dir));
    setenv("QK_MODEL_DIR", dir, 1);
    setenv("QK_TOKENIZER_JSON", "/nonexistent", 1); /* the placeholder vocabulary: small, fast */
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(model_cache, .init = setup, .fini = teardown, .timeout = 60);

static void on_note(void *ctx, const char *line) {
    (void)ctx;
    size_t l = strlen(notes);
    snprintf(notes + l, sizeof notes - l, "%s\n", line);
}

static void resolve(char *path, size_t size) {
    notes[0] = 0;
    qk_error err;
    cr_assert_eq(qk_resolve_model("synthetic:tiny", path, size, on_note, NULL, &err), 0, "%s",
                 err.msg);
}

static void expect_loads(const char *path) {
    qk_gemma_model *m;
    qk_error err;
    const qk_gemma_options fp32 = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
    cr_assert_eq(qk_gemma_load(&m, path, &fp32, &err), 0, "%s", err.msg);
    qk_gemma_free(m);
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    cr_assert_eq(fseek(f, at, SEEK_SET), 0);
    const int c = fgetc(f);
    cr_assert_eq(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ 0x01, f);
    cr_assert_eq(fclose(f), 0);
}

Test(model_cache, generated_once_then_reused) {
    char path[4096];
    resolve(path, sizeof path);
    cr_expect(strstr(notes, "generating"), "notes: %s", notes);
    char sum[4200];
    snprintf(sum, sizeof sum, "%s.sum", path);
    cr_expect_eq(access(sum, R_OK), 0, "no digest beside the model");
    resolve(path, sizeof path);
    cr_expect_eq(notes[0], 0, "a good cache was regenerated: %s", notes);
    expect_loads(path);
}

Test(model_cache, a_flipped_byte_in_a_weight_is_regenerated) {
    char path[4096];
    resolve(path, sizeof path);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    flip_byte(path, (long)st.st_size - 1000); /* in the tensor data: the file still parses */
    resolve(path, sizeof path);
    cr_expect(strstr(notes, "cannot be trusted") && strstr(notes, "regenerating"), "notes: %s",
              notes);
    resolve(path, sizeof path);
    cr_expect_eq(notes[0], 0, "still damaged after regeneration: %s", notes);
}

Test(model_cache, a_truncated_file_is_regenerated) {
    char path[4096];
    resolve(path, sizeof path);
    cr_assert_eq(truncate(path, 4096), 0);
    resolve(path, sizeof path);
    cr_expect(strstr(notes, "4096 bytes") && strstr(notes, "regenerating"), "notes: %s", notes);
    expect_loads(path);
}

Test(model_cache, a_cache_without_its_digest_is_regenerated) {
    char path[4096], sum[4200];
    resolve(path, sizeof path);
    snprintf(sum, sizeof sum, "%s.sum", path);
    cr_assert_eq(unlink(sum), 0);
    resolve(path, sizeof path);
    cr_expect(strstr(notes, ".sum") && strstr(notes, "regenerating"), "notes: %s", notes);
    cr_expect_eq(access(sum, R_OK), 0);
}

Test(model_cache, fifo_or_directory_as_a_model_path) {
    char fifo[128], path[256];
    snprintf(fifo, sizeof fifo, "%s/m.gguf", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    qk_error err;
    cr_expect_neq(qk_resolve_model(fifo, path, sizeof path, NULL, NULL, &err), 0);
    cr_expect(strstr(err.msg, "FIFO"), "%s", err.msg);
    cr_expect_neq(qk_resolve_model(dir, path, sizeof path, NULL, NULL, &err), 0);
    cr_expect(strstr(err.msg, "directory"), "%s", err.msg);
}
