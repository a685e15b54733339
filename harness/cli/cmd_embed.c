/* qkbench embed: one embedding per token sequence, through the FP32 path or a registry kernel. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model/gemma.h"
#include "model/tokenizer.h"
#include "harness/accuracy.h"
#include "harness/cli/args.h"
#include "harness/pool.h"
#include "harness/topology.h"
#include "harness/text.h"
#include "harness/cli/commands.h"
#include "harness/measure.h"

static void usage(FILE *f) {
    int n_prompts;
    const char *const *prompts = qk_task_prompt_names(&n_prompts);
    fprintf(
        f,
        "usage: qkbench embed --model FILE (--tokens IDS ... | --tokens-file FILE |\n"
        "                     --text T ... | --text-file FILE) [options]\n"
        "\n"
        "Runs the EmbeddingGemma forward pass and prints one line per sequence: the L2-normalised\n"
        "embedding, n_embd floats (%%.9g) separated by single spaces. Token ids are used as given\n"
        "(add BOS=2 first and EOS=1 last yourself); texts go through the model file's\n"
        "tokenizer, which adds BOS/EOS as the file says (qkbench tokenize shows the ids).\n"
        "A non-finite value in the output is an error naming the layer and operation where the\n"
        "first one appeared (exit 1, nothing printed). Text and token files are regular files of\n"
        "at most 64 MiB; CRLF endings are accepted, a NUL byte or a lone CR is an error at its\n"
        "line. Exit code: 0; 1 a failure while running; 2 bad usage or bad input (the model, a\n"
        "file, an empty item in a token list), before anything runs.\n"
        "\n"
        "  --model FILE        GGUF file (architecture gemma-embedding)\n"
        "  --tokens IDS        a sequence, e.g. 2,818,5279,1 (repeatable: one line out each)\n"
        "  --tokens-file FILE  one sequence per line, ids separated by spaces or commas\n"
        "  --text T            a text (repeatable: one line out each)\n"
        "  --text-file FILE    one text per line (blank lines are skipped)\n"
        "  --prompt NAME       task prompt prepended to every text (default none):\n"
        "                     ");
    for (int i = 0; i < n_prompts; i++) fprintf(f, "%s%s", i ? "|" : " ", prompts[i]);
    fprintf(
        f,
        "\n"
        "  --path int8|fp32    INT8 path through a registry kernel (default), or FP32 with\n"
        "                      dequantised weights (the accuracy reference)\n"
        "  --kernel VARIANT    kernel variant for the INT8 path (default zero-copy; see qkbench "
        "list)\n"
        "  --isa ISA           scalar, avx2 or avx512vnni (default: the best this CPU has)\n"
        "  --act-scale token|block  int8 activation scales: one per token (the seed story's) or\n"
        "                      one per 32-value block (ggml's Q8_0 scheme); default token\n"
        "  --threads N         worker threads, pinned compact with hwloc (default 1)\n"
        "  --time              print the time of each forward pass to stderr\n"
        "  --json              print one JSON document instead: per sequence its embedding and\n"
        "                      forward-pass time, and the memory footprint (mapped and resident\n"
        "                      file bytes, prepared and scratch bytes, peak RSS of this\n"
        "                      process; when the file has a tokenizer, it is loaded and its\n"
        "                      heap and mapped bytes are reported too)\n");
}

typedef struct {
    int32_t **seqs;
    int *lens;
    char **texts; /* texts[i] != NULL: sequence i is this text, tokenized once the file is open */
    int n, n_texts, cap;
} seq_list;

static int append(seq_list *s, int32_t *ids, int n, char *text, qk_error *err) {
    if (s->n == s->cap) { /* geometric growth: a file of 180,000 lines is 12 reallocations */
        const int cap = s->cap ? 2 * s->cap : 64;
        int32_t **seqs = realloc(s->seqs, (size_t)cap * sizeof *seqs);
        if (seqs) s->seqs = seqs;
        int *lens = seqs ? realloc(s->lens, (size_t)cap * sizeof *lens) : NULL;
        if (lens) s->lens = lens;
        char **texts = lens ? realloc(s->texts, (size_t)cap * sizeof *texts) : NULL;
        if (texts) s->texts = texts;
        if (!texts) {
            free(ids);
            free(text);
            return qk_fail(err, "out of memory");
        }
        s->cap = cap;
    }
    s->seqs[s->n] = ids;
    s->lens[s->n] = n;
    s->texts[s->n++] = text;
    s->n_texts += text != NULL;
    return 0;
}

static int add_seq(seq_list *s, const char *text, qk_error *err) {
    int32_t *ids;
    int n;
    if (qk_parse_int_list(text, &ids, &n, err)) return -1;
    if (n == 0) {
        free(ids);
        return 0; /* blank line */
    }
    return append(s, ids, n, NULL, err);
}

static int add_text(seq_list *s, const char *text, qk_error *err) {
    char *copy = strdup(text);
    if (!copy) return qk_fail(err, "out of memory");
    return append(s, NULL, 0, copy, err);
}

static int read_text_file(seq_list *s, const char *path, qk_error *err) {
    char **lines;
    int n, rc = 0;
    if (qk_read_lines(path, &lines, &n, err)) return -1;
    for (int i = 0; i < n && rc == 0; i++)
        if (lines[i][strspn(lines[i], " \t\r")]) rc = add_text(s, lines[i], err);
    qk_free_lines(lines, n);
    return rc;
}

typedef struct { /* the model file's tokenizer, kept for the whole command: part of the footprint */
    qk_gguf g;
    qk_tokenizer *t;
} tok_ctx;

static void tok_close(tok_ctx *c) {
    if (!c->t) return;
    qk_tokenizer_free(c->t);
    qk_gguf_close(&c->g);
    c->t = NULL;
}

/* Tokenizes the texts with the model file's tokenizer (BOS/EOS per the file, special texts parsed,
 * as llama-embedding does). Without texts, the tokenizer is still loaded for --json when the file
 * has one, so that its memory is part of the footprint; failing to load it then is only a warning.
 * The tokenizer reads the file through a mapping of its own (the model's is not reachable here). */
static int tokenize_texts(seq_list *s, const char *model, const char *prompt, int want_tokenizer,
                          tok_ctx *c, qk_error *err) {
    if (s->n_texts == 0 && !want_tokenizer) return 0;
    if (qk_gguf_open(&c->g, model, err)) return -1;
    if (qk_tokenizer_load(&c->t, &c->g, err)) {
        qk_gguf_close(&c->g);
        c->t = NULL;
        if (s->n_texts == 0) {
            fprintf(stderr, "qkbench embed: warning: no tokenizer memory reported: %s\n", err->msg);
            return 0;
        }
        return -1;
    }
    for (int i = 0; i < s->n; i++) {
        if (!s->texts[i]) continue;
        if (qk_tokenize_text(c->t, prompt, s->texts[i], 1, 1, &s->seqs[i], &s->lens[i], err))
            return qk_fail_prefix(err, "text %d", i + 1);
    }
    return 0;
}

static int read_tokens_file(seq_list *s, const char *path, qk_error *err) {
    char **lines;
    int n, rc = 0;
    if (qk_read_lines(path, &lines, &n, err)) return -1;
    for (int i = 0; i < n && rc == 0; i++)
        if (add_seq(s, lines[i], err)) rc = qk_fail_prefix(err, "%s:%d", path, i + 1);
    qk_free_lines(lines, n);
    return rc;
}

static void free_seqs(seq_list *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->seqs[i]);
        free(s->texts[i]);
    }
    free(s->seqs);
    free(s->lens);
    free(s->texts);
}

int qk_cmd_embed(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"tokens", required_argument, 0, 't'},
                                         {"tokens-file", required_argument, 0, 'f'},
                                         {"path", required_argument, 0, 'p'},
                                         {"kernel", required_argument, 0, 'k'},
                                         {"isa", required_argument, 0, 'i'},
                                         {"act-scale", required_argument, 0, 'a'},
                                         {"time", no_argument, 0, 'T'},
                                         {"threads", required_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'J'},
                                         {"text", required_argument, 0, 'x'},
                                         {"text-file", required_argument, 0, 'X'},
                                         {"prompt", required_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *variant = "zero-copy", *isa = NULL, *prompt = "";
    qk_gemma_options opt = {QK_PATH_INT8, NULL, QK_ACT_PER_TOKEN};
    seq_list seqs = {0};
    int timing = 0, as_json = 0, c, rc = 2;
    long threads = 1;
    qk_error err;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 't':
            if (add_seq(&seqs, optarg, &err)) goto fail_usage;
            break;
        case 'f':
            if (read_tokens_file(&seqs, optarg, &err)) goto fail_usage;
            break;
        case 'p':
            if (strcmp(optarg, "int8") == 0)
                opt.path = QK_PATH_INT8;
            else if (strcmp(optarg, "fp32") == 0)
                opt.path = QK_PATH_FP32;
            else {
                qk_fail(&err, "--path: '%s' is neither int8 nor fp32", optarg);
                goto fail_usage;
            }
            break;
        case 'k':
            variant = optarg;
            break;
        case 'i':
            isa = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "token") == 0)
                opt.act_granularity = QK_ACT_PER_TOKEN;
            else if (strcmp(optarg, "block") == 0)
                opt.act_granularity = QK_ACT_PER_BLOCK;
            else {
                qk_fail(&err, "--act-scale: '%s' is neither token nor block", optarg);
                goto fail_usage;
            }
            break;
        case 'x':
            if (add_text(&seqs, optarg, &err)) goto fail_usage;
            break;
        case 'X':
            if (read_text_file(&seqs, optarg, &err)) goto fail_usage;
            break;
        case 'P':
            if (!(prompt = qk_task_prompt(optarg))) {
                qk_fail(&err, "--prompt: unknown task '%s' (see --help)", optarg);
                goto fail_usage;
            }
            break;
        case 'T':
            timing = 1;
            break;
        case 'n':
            if (qk_parse_int(optarg, "--threads", 1, 1024, &threads, &err)) goto fail_usage;
            break;
        case 'J':
            as_json = 1;
            break;
        case 'h':
            usage(stdout);
            free_seqs(&seqs);
            return 0;
        default:
            usage(stderr);
            free_seqs(&seqs);
            return 2;
        }
    }
    if (!model || seqs.n == 0 || optind != argc) {
        usage(stderr);
        free_seqs(&seqs);
        return 2;
    }
    if (opt.path == QK_PATH_INT8) {
        opt.kernel = isa ? qk_kernel_find(variant, isa) : qk_kernel_best(variant);
        if (!opt.kernel) {
            qk_fail(&err, "no kernel %s%s%s (see qkbench list)", variant, isa ? "/" : "",
                    isa ? isa : "");
            goto fail_usage;
        }
        const char *why = NULL;
        if (!qk_kernel_available(opt.kernel, &why)) {
            qk_fail(&err, "kernel %s/%s is unavailable: %s", opt.kernel->variant, opt.kernel->isa,
                    why ? why : "?");
            goto fail_usage;
        }
    }
    tok_ctx tok = {0};
    double t0 = qk_now_seconds();
    if (tokenize_texts(&seqs, model, prompt, as_json, &tok, &err)) { /* the model or a text */
        tok_close(&tok);
        free_seqs(&seqs);
        return qk_cli_error("embed", 2, &err);
    }
    if (timing && seqs.n_texts)
        fprintf(stderr, "tokenize: %.1f ms (%d texts, tokenizer loaded from the file)\n",
                1e3 * (qk_now_seconds() - t0), seqs.n_texts);
    qk_gemma_model *m;
    t0 = qk_now_seconds();
    if (qk_gemma_load(&m, model, &opt, &err)) { /* the model file: bad input, nothing ran */
        tok_close(&tok);
        free_seqs(&seqs);
        return qk_cli_error("embed", 2, &err);
    }
    if (timing)
        fprintf(stderr, "load: %.1f ms (%s path%s%s%s)\n", 1e3 * (qk_now_seconds() - t0),
                opt.path == QK_PATH_FP32 ? "fp32" : "int8", opt.kernel ? ", kernel " : "",
                opt.kernel ? opt.kernel->variant : "", opt.kernel ? "" : "");
    /* the pool (threads pinned compact) exists before the first timed pass */
    qk_topology *topo = NULL;
    qk_pool *pool = NULL;
    if (threads > 1 && (qk_topology_open(&topo, &err) ||
                        !(pool = qk_pool_create((int)threads, topo, QK_BIND_COMPACT, &err)))) {
        qk_topology_close(topo);
        qk_pool_destroy(pool);
        qk_topology_close(topo);
        qk_gemma_free(m);
        tok_close(&tok);
        free_seqs(&seqs);
        return qk_cli_error("embed", 1, &err);
    }
    const qk_exec ex = qk_pool_exec(pool);
    const int dim = qk_gemma_out_dim(m);
    float *out = malloc((size_t)dim * sizeof *out);
    json_t *doc = as_json ? json_object() : NULL, *list = as_json ? json_array() : NULL;
    rc = out ? 0 : 1;
    for (int s = 0; s < seqs.n && rc == 0; s++) {
        double ts = qk_now_seconds();
        if (qk_gemma_embed(m, seqs.seqs[s], seqs.lens[s], out, &ex, &err)) {
            fprintf(stderr, "qkbench embed: sequence %d: %s\n", s + 1, err.msg);
            rc = 1;
            break;
        }
        double te = qk_now_seconds();
        if (as_json) { /* every value, or an error: never a short or empty embedding */
            json_t *e = json_array();
            int bad = !e;
            for (int i = 0; i < dim && !bad; i++) bad = json_array_append_new(e, json_real(out[i]));
            json_t *rec = bad ? NULL
                              : json_pack("{s:i, s:f, s:o}", "tokens", seqs.lens[s], "seconds",
                                          te - ts, "embedding", e);
            if (!rec || json_array_append_new(list, rec)) {
                if (bad) json_decref(e); /* (json_pack took e, also when it failed) */
                fprintf(stderr, "qkbench embed: sequence %d: cannot build the JSON output\n",
                        s + 1);
                rc = 1;
            }
            continue;
        }
        for (int i = 0; i < dim; i++) printf(i ? " %.9g" : "%.9g", out[i]);
        printf("\n");
        if (timing)
            fprintf(stderr, "sequence %d: %d tokens, forward pass %.2f ms\n", s + 1, seqs.lens[s],
                    1e3 * (te - ts));
    }
    if (as_json && rc == 0) {
        qk_footprint fp = {qk_gemma_get_memory(m), (uint64_t)qk_peak_rss_kb() * 1024, 0, 0, 0};
        if (tok.t) { /* the tokenizer's heap, and its arrays read in place from the file */
            const qk_tokenizer_memory tm = qk_tokenizer_get_memory(tok.t);
            fp.tokenizer_bytes = tm.index_bytes + tm.scratch_bytes;
            fp.tokenizer_mapped_bytes = tm.mapped_bytes;
        }
        json_object_set_new(doc, "sequences", list);
        json_object_set_new(doc, "memory", qk_footprint_to_json(&fp));
        list = NULL;
        json_dumpf(doc, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9));
        printf("\n");
    }
    json_decref(list);
    json_decref(doc);
    free(out);
    qk_pool_destroy(pool);
    qk_topology_close(topo);
    qk_gemma_free(m);
    tok_close(&tok);
    free_seqs(&seqs);
    return rc;
fail_usage:
    free_seqs(&seqs);
    return qk_cli_error("embed", 2, &err);
}
