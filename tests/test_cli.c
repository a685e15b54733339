/* The command layer's messages and exit codes, as the README says: bad usage or bad input exits 2
 * before anything runs, a run-time failure exits 1. Run on the real binary (QK_QKBENCH_EXE):
 * an unknown QK_ISA is refused by every command; a directory, a FIFO or a device given as an input
 * file gets a message saying what it is (at once: a FIFO never blocks); an empty item in a token
 * list is an error; a model that gives non-finite values makes `embed` fail naming where they
 * appeared, with nothing on stdout (no NaN values, no empty JSON embedding); `tokenize` reads its
 * text files before the model; an unknown counter event gives one line, at its line. */
#define _GNU_SOURCE /* environ */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/gguf.h"
#include "model/synth.h"

extern char **environ;

static char dir[64], tiny[128];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-cli-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(tiny, sizeof tiny, "%s/tiny.gguf", dir);
    qk_error err;
    cr_assert_eq(qk_synth_write(tiny, qk_synth_find_preset("tiny"), 1, 1, &err), 0, "%s", err.msg);
    char models[128];
    snprintf(models, sizeof models, "%s/models", dir);
    setenv("QK_MODEL_DIR", models, 1);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

static char out_text[65536], err_text[65536];

static void slurp(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
}

/* Runs qkbench with args (NULL-terminated, args[0] = "qkbench"); returns the exit status, or fails
 * when it does not exit within `seconds`. stdout and stderr land in out_text / err_text. */
static int qkbench(double seconds, char *const *args) {
    char out[128], errp[128];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(errp, sizeof errp, "%s/err.txt", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    const int rc = posix_spawn(&pid, QK_QKBENCH_EXE, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot start %s: %s", QK_QKBENCH_EXE, strerror(rc));
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st;
    for (;;) {
        const pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec) > seconds) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            cr_assert_fail("%s %s did not exit within %.0f s (it blocked?)", args[1],
                           args[2] ? args[2] : "", seconds);
        }
        usleep(10000);
    }
    slurp(out, out_text, sizeof out_text);
    slurp(errp, err_text, sizeof err_text);
    cr_assert(WIFEXITED(st), "killed by signal %d; stderr: %s", WTERMSIG(st), err_text);
    return WEXITSTATUS(st);
}

static void expect_err(const char *needle) {
    cr_expect(strstr(err_text, needle) != NULL, "stderr lacks '%s':\n%s", needle, err_text);
}

static char *write_file(const char *name, const void *data, size_t len) {
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return p;
}

#define RUN(seconds, ...) qkbench(seconds, (char *const[]){"qkbench", __VA_ARGS__, NULL})

Test(cli, unknown_qk_isa_is_refused) {
    setenv("QK_ISA", "avx3", 1);
    cr_expect_eq(RUN(30, "list"), 2, "stderr: %s", err_text);
    expect_err("QK_ISA=avx3 is not a tier");
    cr_expect_eq(RUN(30, "embed", "--model", tiny, "--tokens", "2,1"), 2);
    expect_err("QK_ISA=avx3");
    cr_expect_eq(out_text[0], 0, "something ran: %s", out_text);
    setenv("QK_ISA", "scalar", 1);
    cr_expect_eq(RUN(30, "list"), 0, "stderr: %s", err_text);
    unsetenv("QK_ISA");
}

Test(cli, directory_fifo_and_device_inputs) {
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    cr_expect_eq(RUN(10, "embed", "--model", dir, "--tokens", "2,1"), 2);
    expect_err("is a directory");
    cr_expect_eq(RUN(10, "embed", "--model", fifo, "--tokens", "2,1"), 2);
    expect_err("is a FIFO");
    cr_expect_eq(RUN(10, "embed", "--model", tiny, "--text-file", "/dev/zero"), 2);
    expect_err("is a character device");
    cr_expect_eq(RUN(10, "embed", "--model", tiny, "--tokens-file", fifo), 2);
    expect_err("is a FIFO");
    cr_expect_eq(RUN(10, "tokenize", "--model", tiny, "--bench", "/dev/zero"), 2);
    expect_err("is a character device");
    cr_expect_eq(RUN(10, "run", dir), 2);
    expect_err("is a directory");
    cr_expect_eq(RUN(10, "compare", dir, dir), 2);
    expect_err("is a directory");
    cr_expect_eq(RUN(10, "gen-model", "--preset", "tiny", "--vocab", dir, "-o", fifo, "--force"),
                 2);
    expect_err("is a directory");
}

Test(cli, empty_item_in_a_token_list) {
    cr_expect_eq(RUN(30, "embed", "--model", tiny, "--tokens", "2,,1"), 2);
    expect_err("empty item");
    cr_expect_eq(out_text[0], 0);
    char *p = write_file("toks.txt", "2,5,1\n2,,1\n", 11);
    cr_expect_eq(RUN(30, "embed", "--model", tiny, "--tokens-file", p), 2);
    expect_err("toks.txt:2");
    const char nul[] = "2,5,1\n2,6\0,7,1\n";
    p = write_file("nul.txt", nul, sizeof nul - 1);
    cr_expect_eq(RUN(30, "embed", "--model", tiny, "--tokens-file", p), 2);
    expect_err("nul.txt:2:4: NUL byte");
}

/* A copy of the tiny model with blk.3.post_ffw_norm.weight[7] = NaN. */
static char *nan_model(void) {
    static char out[160];
    snprintf(out, sizeof out, "%s/nan.gguf", dir);
    qk_gguf g;
    qk_error err;
    cr_assert_eq(qk_gguf_open(&g, tiny, &err), 0, "%s", err.msg);
    const qk_gguf_tensor *t = qk_gguf_find_tensor(&g, "blk.3.post_ffw_norm.weight");
    cr_assert(t);
    const long off = (long)(t->data - g.map) + 4 * 7;
    qk_gguf_close(&g);
    FILE *in = fopen(tiny, "rb"), *o = fopen(out, "wb");
    cr_assert(in && o);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, r, o);
    fclose(in);
    const float nan = NAN;
    fseek(o, off, SEEK_SET);
    fwrite(&nan, sizeof nan, 1, o);
    cr_assert_eq(fclose(o), 0);
    return out;
}

Test(cli, embed_refuses_non_finite_output) {
    char *m = nan_model();
    cr_expect_eq(RUN(30, "embed", "--model", m, "--tokens", "2,300,1"), 1, "stderr: %s", err_text);
    expect_err("non-finite");
    expect_err("layer 3, post_ffw_norm");
    cr_expect(!strstr(out_text, "nan") && out_text[0] == 0, "values printed: %.200s", out_text);
    cr_expect_eq(RUN(30, "embed", "--model", m, "--tokens", "2,300,1", "--json"), 1);
    cr_expect_eq(out_text[0], 0, "JSON written: %.200s", out_text);
    cr_expect_eq(RUN(30, "embed", "--model", m, "--tokens", "2,300,1", "--path", "fp32"), 1);
    expect_err("layer 3, post_ffw_norm");
}

Test(cli, bad_model_is_bad_input) {
    /* a file that is not a model is bad input, refused before anything runs: exit 2, not 1 */
    char *p = write_file("notgguf.gguf", "GGUF but not really", 19);
    cr_expect_eq(RUN(30, "embed", "--model", p, "--tokens", "2,1"), 2, "stderr: %s", err_text);
    cr_expect_eq(RUN(30, "embed", "--model", p, "--text", "hello"), 2, "stderr: %s", err_text);
    cr_expect_eq(RUN(30, "tokenize", "--model", p, "--text", "hello"), 2, "stderr: %s", err_text);
}

Test(cli, tokenize_reads_its_inputs_before_the_model) {
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.txt", dir);
    cr_expect_eq(RUN(30, "tokenize", "--model", "/nonexistent/model.gguf", "--text-file", missing),
                 2);
    expect_err("missing.txt");
    const char text[] = "hello\r\nwor\rld\n";
    char *p = write_file("cr.txt", text, sizeof text - 1);
    cr_expect_eq(RUN(30, "tokenize", "--model", tiny, "--text-file", p), 2);
    expect_err("cr.txt:2:4: carriage return");
}

Test(cli, unknown_counter_event_is_one_line) {
    char ini[160];
    snprintf(ini, sizeof ini, "%s/papi.ini", dir);
    char text[400];
    snprintf(text, sizeof text,
             "[experiment]\nmodel = %s\n[sweep]\nkernels = zero-copy\nisas = scalar\nseq_len = "
             "4\n[measure]\nrepetitions = 1\ncounters = PAPI_FOO\naccuracy = false\n",
             tiny);
    write_file("papi.ini", text, strlen(text));
    char out[160];
    snprintf(out, sizeof out, "%s/out", dir);
    cr_expect_eq(RUN(60, "run", ini, "-o", out), 2, "stderr: %s", err_text);
    expect_err("papi.ini:9: counters: PAPI_FOO is not an event PAPI knows");
    int lines = 0;
    for (const char *c = err_text; *c; c++) lines += *c == '\n';
    cr_expect_eq(lines, 1, "more than the one message:\n%s", err_text);
}
