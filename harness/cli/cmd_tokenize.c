/* qkbench tokenize: text -> token ids with the tokenizer of a GGUF file (spec section 5), ids ->
 * text, and a speed measurement of encoding. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/input_file.h"
#include "model/gguf.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/text.h"
#include "harness/measure.h"

static void usage(FILE *f) {
    int n;
    const char *const *names = qk_task_prompt_names(&n);
    fprintf(
        f,
        "usage: qkbench tokenize --model FILE (--text T ... | --text-file F | --decode IDS ... |\n"
        "                        --bench FILE) [options]\n"
        "\n"
        "Prints the token ids of each text on a line of its own (ids separated by spaces), with "
        "the\n"
        "tokenizer the GGUF file describes (tokenizer.ggml.model = llama; BOS/EOS added as the\n"
        "file's add_bos_token / add_eos_token say). Input files are read before the model: a\n"
        "missing or unusable file (not a regular file, above 64 MiB, a NUL byte or a lone CR in a\n"
        "line) exits 2 before anything runs.\n"
        "\n"
        "  --model FILE       GGUF file with a tokenizer section\n"
        "  --text T           a text (repeatable: one line out each)\n"
        "  --text-file F      one text per line\n"
        "  --prompt NAME      prepend a task prompt:");
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? "|" : " ", names[i]);
    fprintf(
        f,
        "\n"
        "  --no-special       do not add BOS/EOS\n"
        "  --no-parse-special control-token texts such as <bos> stay text (default: they become\n"
        "                     their token, as llama-embedding does)\n"
        "  --decode IDS       print the text of ids such as 2,9259,1902,1 (repeatable)\n"
        "  --bench FILE       encode FILE as one text repeatedly and print tokens per second and\n"
        "                     the tokenizer's memory\n");
}

static void print_ids(const int32_t *ids, int n) {
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
}

/* The --bench file: one text, so a NUL in it is refused (a CR is a character of the text). */
static int read_file(const char *path, char **data, size_t *len, qk_error *err) {
    if (qk_read_text_input(path, data, len, err)) return -1;
    const char *nul = memchr(*data, 0, *len);
    if (nul) {
        int line, col;
        qk_text_position(*data, *len, (size_t)(nul - *data), &line, &col);
        free(*data);
        *data = NULL;
        return qk_fail(err, "%s:%d:%d: NUL byte in the text (remove it)", path, line, col);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Encodes the whole file as one text: once to warm up (the scratch grows to its size), then
 * repeatedly for about a second (3 to 50 runs); prints the median. */
static int bench(qk_tokenizer *t, const char *path, const char *data, size_t len, int add_special,
                 int parse_special, double load_s, qk_error *err) {
    const size_t cap = 2 * len + 8;
    int32_t *ids = cap < (size_t)INT32_MAX ? malloc(cap * sizeof *ids) : NULL;
    if (!ids) return qk_fail(err, "out of memory for %zu bytes", len);
    enum { MAX_RUNS = 50 };
    double times[MAX_RUNS];
    int n = 0, runs = 0, rc = 0;
    double total = 0.0;
    rc = qk_tokenizer_encode(t, data, len, add_special, parse_special, ids, (int)cap, &n, err);
    while (rc == 0 && runs < MAX_RUNS && (runs < 3 || total < 1.0)) {
        const double t0 = qk_now_seconds();
        rc = qk_tokenizer_encode(t, data, len, add_special, parse_special, ids, (int)cap, &n, err);
        times[runs] = qk_now_seconds() - t0;
        total += times[runs++];
    }
    if (rc == 0) {
        qsort(times, (size_t)runs, sizeof times[0], cmp_double);
        const double med = times[runs / 2];
        const qk_tokenizer_memory m = qk_tokenizer_get_memory(t);
        printf("bench: %s: %zu bytes -> %d tokens (%.2f bytes/token)\n", path, len, n,
               n ? (double)len / n : 0.0);
        printf(
            "encode: median %.2f ms over %d runs (min %.2f, max %.2f): %.0f tokens/s, %.1f MB/s\n",
            1e3 * med, runs, 1e3 * times[0], 1e3 * times[runs - 1], n / med, len / med / 1e6);
        printf("tokenizer: %d tokens, loaded in %.1f ms; memory: index %llu bytes, encode scratch "
               "%llu "
               "bytes (heap total %llu), tokenizer arrays read in place from the map %llu bytes\n",
               qk_tokenizer_n_vocab(t), 1e3 * load_s, (unsigned long long)m.index_bytes,
               (unsigned long long)m.scratch_bytes,
               (unsigned long long)qk_tokenizer_memory_bytes(t),
               (unsigned long long)m.mapped_bytes);
    }
    free(ids);
    return rc;
}

enum { JOB_TEXT, JOB_FILE, JOB_DECODE };
typedef struct {
    int kind;
    const char *arg;
} job;

int qk_cmd_tokenize(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"text", required_argument, 0, 't'},
                                         {"text-file", required_argument, 0, 'f'},
                                         {"prompt", required_argument, 0, 'p'},
                                         {"no-special", no_argument, 0, 'n'},
                                         {"no-parse-special", no_argument, 0, 'P'},
                                         {"decode", required_argument, 0, 'd'},
                                         {"bench", required_argument, 0, 'b'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *bench_path = NULL, *prompt = NULL;
    int add_special = 1, parse_special = 1, c, n_jobs = 0, rc = 0;
    job *jobs = calloc((size_t)argc + 1, sizeof *jobs);
    qk_error err;
    if (!jobs) return 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 't':
            jobs[n_jobs++] = (job){JOB_TEXT, optarg};
            break;
        case 'f':
            jobs[n_jobs++] = (job){JOB_FILE, optarg};
            break;
        case 'd':
            jobs[n_jobs++] = (job){JOB_DECODE, optarg};
            break;
        case 'p':
            if (!(prompt = qk_task_prompt(optarg))) {
                fprintf(stderr, "qkbench tokenize: unknown prompt '%s' (see --help)\n", optarg);
                free(jobs);
                return 2;
            }
            break;
        case 'n':
            add_special = 0;
            break;
        case 'P':
            parse_special = 0;
            break;
        case 'b':
            bench_path = optarg;
            break;
        case 'h':
            usage(stdout);
            free(jobs);
            return 0;
        default:
            usage(stderr);
            free(jobs);
            return 2;
        }
    }
    if (!model || (n_jobs == 0 && !bench_path) || optind != argc) {
        usage(stderr);
        free(jobs);
        return 2;
    }
    /* every input file is read before the model: bad input exits 2 before anything runs */
    char ***file_lines = calloc((size_t)n_jobs + 1, sizeof *file_lines);
    int *file_n = calloc((size_t)n_jobs + 1, sizeof *file_n);
    char *bench_data = NULL;
    size_t bench_len = 0;
    if (!file_lines || !file_n) {
        free(file_lines), free(file_n), free(jobs);
        return 1;
    }
    for (int j = 0; j < n_jobs && rc == 0; j++)
        if (jobs[j].kind == JOB_FILE &&
            qk_read_lines(jobs[j].arg, &file_lines[j], &file_n[j], &err))
            rc = qk_cli_error("tokenize", 2, &err);
    if (rc == 0 && bench_path && read_file(bench_path, &bench_data, &bench_len, &err))
        rc = qk_cli_error("tokenize", 2, &err);
    qk_gguf g = {0};
    qk_tokenizer *t = NULL;
    const double t0 = qk_now_seconds();
    if (rc == 0 && qk_gguf_open(&g, model, &err)) rc = qk_cli_error("tokenize", 2, &err);
    if (rc == 0 && qk_tokenizer_load(&t, &g, &err)) {
        qk_gguf_close(&g);
        rc = qk_cli_error("tokenize", 2, &err);
    }
    if (rc) {
        for (int j = 0; j < n_jobs; j++) qk_free_lines(file_lines[j], file_n[j]);
        free(file_lines), free(file_n), free(bench_data), free(jobs);
        return rc;
    }
    const double load_s = qk_now_seconds() - t0;
    for (int j = 0; j < n_jobs && rc == 0; j++) {
        if (jobs[j].kind == JOB_DECODE) {
            int32_t *ids;
            int n;
            if (qk_parse_int_list(jobs[j].arg, &ids, &n, &err)) {
                rc = qk_cli_error("tokenize", 2, &err);
                break;
            }
            const int64_t need = qk_tokenizer_decode(t, ids, n, NULL, 0);
            char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
            if (need < 0) {
                qk_fail(&err, "--decode '%s': an id is outside 0..%d", jobs[j].arg,
                        qk_tokenizer_n_vocab(t) - 1);
                rc = qk_cli_error("tokenize", 2, &err);
            } else if (!text) {
                rc = 1;
            } else {
                qk_tokenizer_decode(t, ids, n, text, (size_t)need + 1);
                fwrite(text, 1, (size_t)need, stdout);
                printf("\n");
            }
            free(text);
            free(ids);
            continue;
        }
        int n_lines = jobs[j].kind == JOB_FILE ? file_n[j] : 1;
        char *one[1] = {(char *)jobs[j].arg};
        char **texts = jobs[j].kind == JOB_FILE ? file_lines[j] : one;
        for (int i = 0; i < n_lines && rc == 0; i++) {
            int32_t *ids;
            int n;
            if (qk_tokenize_text(t, prompt, texts[i], add_special, parse_special, &ids, &n, &err)) {
                rc = qk_cli_error("tokenize", 1, &err);
                break;
            }
            print_ids(ids, n);
            free(ids);
        }
    }
    if (rc == 0 && bench_path &&
        bench(t, bench_path, bench_data, bench_len, add_special, parse_special, load_s, &err))
        rc = qk_cli_error("tokenize", 1, &err);
    qk_tokenizer_free(t);
    qk_gguf_close(&g);
    for (int j = 0; j < n_jobs; j++) qk_free_lines(file_lines[j], file_n[j]);
    free(file_lines);
    free(file_n);
    free(bench_data);
    free(jobs);
    return rc;
}
