/* REPORT.md section 4, "Memory": at the headline configuration, every variant's mapped and
 * resident file, weights read per pass, bytes prepared at load, scratch, fp32 weights, tokenizer,
 * peak RSS and footprint; then parse-per-block -> zero-copy against the story's 412.86 -> 425.17
 * MB. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/model.h"

/* The seed story's figures (seed-story.md). */
#define STORY_MEM_BEFORE 412.86
#define STORY_MEM_AFTER  425.17

/* One variant's row; *file_note set when the footprint had to count the whole mapped file. */
static void memory_row(FILE *f, const rp_cfg *c, const char *label, int *file_note) {
    int used_file;
    const double fp = rp_footprint(c, &used_file);
    *file_note |= used_file;
    fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s%s |\n", label,
            rp_fmt_mb(rp_mem_field(c, "file_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "resident_file_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "matmul_weight_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "prepared_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "scratch_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "fp32_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "tokenizer_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "tokenizer_mapped_bytes")).s,
            rp_fmt_mb(rp_mem_field(c, "rss_bytes")).s, rp_fmt_mb(fp).s, used_file ? " *" : "");
}

static void memory_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    fprintf(f, "## 4. Memory\n\n");
    fprintf(f, "The seed story: **412.86 MB before, 425.17 MB after (+12.31 MB** for the scales), "
               "of which it claimed GGUF file 314 MB, tokenizer vocabulary 90 MB, FP32 norm "
               "weights 10 MB, scales 11 MB. Here, per variant (MB = 10^6 bytes): the mapped "
               "model file, how much of it is resident, the matmul weights read per pass, the "
               "bytes prepared at load (fp32 scale tables, packed layouts), scratch buffers, "
               "dequantised fp32 weights (fp32 path), the tokenizer (its heap / its token texts, "
               "scores and types read in place from the file; — when the model has no real "
               "vocabulary), peak RSS of the process, and footprint = resident file + prepared + "
               "scratch + fp32 + tokenizer heap.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_cpu_heading(f, R, g);
        rp_key h;
        if (rp_headline(g, &h)) {
            rp_key *k;
            const int n = rp_collect_keys(g, "forward", &k);
            if (n == 0) {
                free(k);
                rp_not_measured(f, "no forward-pass runs with memory figures",
                                "`qkbench run` with `run = forward`");
                continue;
            }
            h = k[0];
            free(k);
        }
        fprintf(f, "At %s (scratch depends on the sequence length):\n\n", rp_fmt_key(R, &h).s);
        fprintf(f, "| variant | ISA | mapped file | resident file | matmul weights | prepared at "
                   "load | scratch | fp32 weights | tokenizer heap / in file | peak RSS | "
                   "footprint |\n"
                   "|---|---|---|---|---|---|---|---|---|---|---|\n");
        int file_note = 0;
        const rp_cfg *before = NULL, *after = NULL;
        for (int pass = 0; pass < 4; pass++) { /* ISAs in rank order */
            for (int vi = 0; vi < R->n_variants; vi++) {
                for (int i = 0; i < g->n_cfgs; i++) {
                    const rp_cfg *x = &g->cfgs[i];
                    if (!rp_usable(x) || !rp_is_int8(x) || strcmp(x->run, "forward") ||
                        rp_isa_rank(x->isa) != pass || strcmp(x->variant, R->variants[vi]))
                        continue;
                    rp_key kx = rp_key_of(x), kh = h;
                    kh.isa = x->isa;
                    if (rp_key_cmp(&kx, &kh) ||
                        rp_find_cfg(g, "forward", x->variant, &kx, NULL) != x)
                        continue;
                    char label[96];
                    snprintf(label, sizeof label, "%s | %s", x->variant, x->isa);
                    memory_row(f, x, label, &file_note);
                    if (!strcmp(x->isa, h.isa) && !strcmp(x->variant, "parse-per-block"))
                        before = x;
                    if (!strcmp(x->isa, h.isa) && !strcmp(x->variant, "zero-copy")) after = x;
                }
            }
        }
        const rp_cfg *fp = rp_find_fp32(g, &h);
        if (fp) memory_row(f, fp, "fp32 path | —", &file_note);
        fprintf(f, "\n");
        if (file_note)
            fprintf(f, "\\* resident file bytes not in these results: the footprint counts the "
                       "whole mapped file instead.\n\n");
        if ((before || after) && isnan(rp_mem_field(before ? before : after, "rss_bytes")))
            fprintf(f, "Peak RSS: not measured in these results (no `memory.peak_rss_bytes`).\n\n");
        if (before && after) {
            int u1, u2;
            const double fb = rp_footprint(before, &u1), fa = rp_footprint(after, &u2);
            fprintf(
                f,
                "Before -> after (%s, parse-per-block -> zero-copy): footprint %s -> %s MB "
                "(%+.2f MB; prepared at load %+.2f MB)",
                h.isa, rp_fmt_mb(fb).s, rp_fmt_mb(fa).s, (fa - fb) / 1e6,
                (rp_mem_field(after, "prepared_bytes") - rp_mem_field(before, "prepared_bytes")) /
                    1e6);
            const double rb = rp_mem_field(before, "rss_bytes"),
                         ra = rp_mem_field(after, "rss_bytes");
            if (!isnan(rb) && !isnan(ra))
                fprintf(f, "; peak RSS %s -> %s MB (%+.2f MB)", rp_fmt_mb(rb).s, rp_fmt_mb(ra).s,
                        (ra - rb) / 1e6);
            fprintf(f, ". The story: %.2f -> %.2f MB (%+.2f MB).\n\n", STORY_MEM_BEFORE,
                    STORY_MEM_AFTER, STORY_MEM_AFTER - STORY_MEM_BEFORE);
        } else {
            fprintf(f, "Before -> after: needs parse-per-block and zero-copy at the same "
                       "configuration.\n\n");
        }
    }
}

const rp_section rp_section_memory = {NULL, NULL, memory_markdown};
