#include "harness/accuracy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/measure.h"
#include "harness/refdata.h"

static int in_list(const char *s, const char *const *list, int n) {
    if (!list) return 1;
    for (int i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

/* Embeds every reference sequence with opt; out: n_seq x dim. */
static int embed_refs(const char *model, const qk_gemma_options *opt, const qk_refdata *r,
                      float *out, qk_error *err) {
    qk_gemma_model *m;
    if (qk_gemma_load(&m, model, opt, err)) return -1;
    int rc = 0;
    if (qk_gemma_out_dim(m) != r->dim)
        rc = qk_fail(err, "%s: embeddings have %d values, the references %d", model,
                     qk_gemma_out_dim(m), r->dim);
    for (int s = 0; s < r->n_seq && rc == 0; s++)
        rc = qk_gemma_embed(m, r->tokens[s], r->n_tokens[s], out + (size_t)s * r->dim, NULL, err);
    qk_gemma_free(m);
    return rc;
}

static json_t *finite_or_null(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *entry(const char *model, const char *variant, const char *isa, const char *act,
                     const char *against, const float *a, const float *b, int n_seq, int dim) {
    double cmin = 1.0, dmax = 0.0;
    for (int s = 0; s < n_seq; s++) {
        double c = qk_cosine(a + (size_t)s * dim, b + (size_t)s * dim, dim);
        double d = qk_max_abs_diff(a + (size_t)s * dim, b + (size_t)s * dim, dim);
        if (!(c >= cmin)) cmin = c; /* a NaN is kept, never passed over */
        if (!(d <= dmax)) dmax = d;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i}", "model", model, "variant", variant,
                     "isa", isa, "act_scale", act, "against", against, "cosine_min",
                     finite_or_null(cmin), "max_abs_diff", finite_or_null(dmax), "sequences",
                     n_seq);
}

/* The references as one contiguous array (n_seq x dim). */
static float *flatten(const qk_refdata *r) {
    float *v = malloc((size_t)r->n_seq * (size_t)r->dim * sizeof *v);
    if (v)
        for (int s = 0; s < r->n_seq; s++)
            memcpy(v + (size_t)s * r->dim, r->embedding[s], (size_t)r->dim * sizeof *v);
    return v;
}

int qk_accuracy_reference(const char *dir, const char *const *variants, int n_var,
                          const char *const *isas, int n_isa, json_t *out, qk_error *err) {
    char model[4096], path[4096];
    qk_refdata precise, ggml;
    snprintf(model, sizeof model, "%s/tiny-gemma.gguf", dir);
    snprintf(path, sizeof path, "%s/tiny-gemma.tokens.txt", dir);
    if (qk_refdata_read_tokens(&precise, path, err)) return -1;
    if (qk_refdata_read_tokens(&ggml, path, err)) {
        qk_refdata_free(&precise);
        return -1;
    }
    int rc = -1;
    float *ref_p = NULL, *ref_g = NULL, *got = NULL, *base = NULL;
    snprintf(path, sizeof path, "%s/tiny-gemma.ref-precise.txt", dir);
    if (qk_refdata_read_embeddings(&precise, path, err)) goto done;
    snprintf(path, sizeof path, "%s/tiny-gemma.ref.txt", dir);
    if (qk_refdata_read_embeddings(&ggml, path, err)) goto done;
    /* both files are compared with the same embeddings, n_seq x dim: one narrower than the other
     * would be read past its end */
    if (ggml.n_seq != precise.n_seq || ggml.dim != precise.dim) {
        qk_fail(err,
                "%s: %d sequences of %d values, but %s/tiny-gemma.ref-precise.txt has %d of %d",
                path, ggml.n_seq, ggml.dim, dir, precise.n_seq, precise.dim);
        goto done;
    }
    const int n = precise.n_seq, dim = precise.dim;
    const size_t bytes = (size_t)n * (size_t)dim * sizeof(float);
    ref_p = flatten(&precise);
    ref_g = flatten(&ggml);
    got = malloc(bytes);
    base = malloc(bytes);
    if (!ref_p || !ref_g || !got || !base) {
        qk_fail(err, "out of memory");
        goto done;
    }
    const qk_gemma_options fp32 = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
    if (embed_refs(model, &fp32, &precise, got, err)) goto done;
    json_array_append_new(
        out, entry("tiny-reference", "fp32", "", "none", "ref-precise", got, ref_p, n, dim));
    static const char *const acts[2] = {"token", "block"};
    for (int a = 0; a < 2; a++)
        for (int i = 0; i < qk_kernel_count(); i++) {
            const qk_kernel *k = qk_kernel_at(i);
            if (!qk_kernel_available(k, NULL) || !in_list(k->variant, variants, n_var) ||
                !in_list(k->isa, isas, n_isa))
                continue;
            const qk_gemma_options opt = {QK_PATH_INT8, k, a ? QK_ACT_PER_BLOCK : QK_ACT_PER_TOKEN};
            if (embed_refs(model, &opt, &precise, got, err)) goto done;
            json_array_append_new(out, entry("tiny-reference", k->variant, k->isa, acts[a],
                                             "ref-precise", got, ref_p, n, dim));
            json_array_append_new(out, entry("tiny-reference", k->variant, k->isa, acts[a], "ref",
                                             got, ref_g, n, dim));
            const qk_kernel *pk = qk_kernel_find("parse-per-block", k->isa);
            if (pk && pk != k && qk_kernel_available(pk, NULL)) {
                const qk_gemma_options bo = {QK_PATH_INT8, pk, opt.act_granularity};
                if (embed_refs(model, &bo, &precise, base, err)) goto done;
                json_array_append_new(out, entry("tiny-reference", k->variant, k->isa, acts[a],
                                                 "parse-per-block", got, base, n, dim));
            }
        }
    rc = 0;
done:
    free(ref_p);
    free(ref_g);
    free(got);
    free(base);
    qk_refdata_free(&precise);
    qk_refdata_free(&ggml);
    return rc;
}

/* ---------------------------------------------------------------- footprint in a fresh process */

json_t *qk_footprint_to_json(const qk_footprint *fp) {
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "file_bytes", (json_int_t)fp->mem.file_bytes,
        "resident_file_bytes", (json_int_t)fp->mem.resident_file_bytes, "matmul_weight_bytes",
        (json_int_t)fp->mem.matmul_weight_bytes, "prepared_bytes",
        (json_int_t)fp->mem.prepared_bytes, "fp32_bytes", (json_int_t)fp->mem.fp32_bytes,
        "scratch_bytes", (json_int_t)fp->mem.scratch_bytes, "peak_rss_bytes",
        (json_int_t)fp->peak_rss_bytes);
    if (fp->tokenizer_bytes || fp->tokenizer_mapped_bytes) {
        json_object_set_new(j, "tokenizer_bytes", json_integer((json_int_t)fp->tokenizer_bytes));
        json_object_set_new(j, "tokenizer_mapped_bytes",
                            json_integer((json_int_t)fp->tokenizer_mapped_bytes));
    }
    return j;
}

static uint64_t get_u64(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

int qk_footprint_probe(const char *exe, const char *model, const qk_gemma_options *opt,
                       const int32_t *tokens, int n_tokens, qk_footprint *out, float *emb,
                       int n_embd, qk_error *err) {
    size_t cap = (size_t)n_tokens * 12 + 16;
    char *list = malloc(cap), act[8], *p;
    if (!list) return qk_fail(err, "out of memory");
    p = list;
    for (int i = 0; i < n_tokens; i++) p += sprintf(p, i ? ",%d" : "%d", tokens[i]);
    snprintf(act, sizeof act, "%s", opt->act_granularity == QK_ACT_PER_BLOCK ? "block" : "token");
    const char *argv[16];
    int a = 0;
    argv[a++] = exe;
    argv[a++] = "embed";
    argv[a++] = "--json";
    argv[a++] = "--model";
    argv[a++] = model;
    argv[a++] = "--tokens";
    argv[a++] = list;
    argv[a++] = "--path";
    argv[a++] = opt->path == QK_PATH_FP32 ? "fp32" : "int8";
    if (opt->path == QK_PATH_INT8) {
        argv[a++] = "--kernel";
        argv[a++] = opt->kernel->variant;
        argv[a++] = "--isa";
        argv[a++] = opt->kernel->isa;
        argv[a++] = "--act-scale";
        argv[a++] = act;
    }
    argv[a] = NULL;
    int fds[2];
    if (pipe(fds) != 0) {
        free(list);
        return qk_fail(err, "pipe: %s", strerror(errno));
    }
    /* the child's stderr goes to a file of its own: its message becomes this error's, so a
     * configuration that fails (a non-finite embedding, say) is recorded with the reason */
    FILE *errf = tmpfile();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        if (errf) dup2(fileno(errf), 2);
        close(fds[0]);
        close(fds[1]);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    free(list);
    if (pid < 0) {
        close(fds[0]);
        if (errf) fclose(errf);
        return qk_fail(err, "fork: %s", strerror(errno));
    }
    FILE *f = fdopen(fds[0], "r");
    json_error_t jerr;
    json_t *j = f ? json_loadf(f, 0, &jerr) : NULL;
    if (f)
        fclose(f);
    else
        close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    char said[300] = "", last[300] = "";
    if (errf) { /* the child's own message ("qkbench embed: ..."), else its last line */
        char line[512];
        rewind(errf);
        while (fgets(line, sizeof line, errf)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!strncmp(line, "qkbench embed: ", 15))
                snprintf(said, sizeof said, "%.290s", line + 15);
            else if (line[0])
                snprintf(last, sizeof last, "%.290s", line);
        }
        fclose(errf);
        if (!said[0]) memcpy(said, last, sizeof said);
    }
    if (!j || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        json_decref(j);
        if (WIFSIGNALED(status))
            return qk_fail(err, "the probe (%s embed --json, %s) was killed by signal %d%s%s", exe,
                           opt->kernel ? opt->kernel->variant : "fp32", WTERMSIG(status),
                           said[0] ? ": " : "", said);
        return qk_fail(err, "the probe (%s embed --json, %s) failed with status %d%s%s", exe,
                       opt->kernel ? opt->kernel->variant : "fp32",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1, said[0] ? ": " : "", said);
    }
    json_t *mem = json_object_get(j, "memory");
    json_t *seq = json_array_get(json_object_get(j, "sequences"), 0);
    out->mem.file_bytes = get_u64(mem, "file_bytes");
    out->mem.resident_file_bytes = get_u64(mem, "resident_file_bytes");
    out->mem.matmul_weight_bytes = get_u64(mem, "matmul_weight_bytes");
    out->mem.prepared_bytes = get_u64(mem, "prepared_bytes");
    out->mem.fp32_bytes = get_u64(mem, "fp32_bytes");
    out->mem.scratch_bytes = get_u64(mem, "scratch_bytes");
    out->peak_rss_bytes = get_u64(mem, "peak_rss_bytes");
    out->tokenizer_bytes = get_u64(mem, "tokenizer_bytes");
    out->tokenizer_mapped_bytes = get_u64(mem, "tokenizer_mapped_bytes");
    out->seconds = json_number_value(json_object_get(seq, "seconds"));
    json_t *e = json_object_get(seq, "embedding");
    int rc = 0;
    if (!json_is_array(e) || (int)json_array_size(e) != n_embd)
        rc = qk_fail(err, "%s embed --json: expected an embedding of %d values", exe, n_embd);
    for (int i = 0; rc == 0 && i < n_embd; i++)
        emb[i] = (float)json_number_value(json_array_get(e, i));
    json_decref(j);
    return rc;
}
