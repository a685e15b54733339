/* REPORT.md section 5, "Accuracy": every accuracy check the results files recorded
 * (context.accuracy): each kernel against its ISA's parse-per-block (must be identical), the FP32
 * path and reference embeddings. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

static void accuracy_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    (void)plot;
    fprintf(f, "## 5. Accuracy\n\n");
    fprintf(f, "The seed story: the optimised path gave output identical to the baseline (cosine "
               "1.000000, max difference 0); cosine 0.989 against llama.cpp on the same model; an "
               "element-wise test failed at max difference 0.0113 against a 0.01 tolerance. Here: "
               "each kernel against (a) the same ISA's parse-per-block (must be identical: cosine "
               "1, difference 0), (b) the FP32 path, (c) independent reference embeddings, per "
               "activation scheme.\n\n");
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        rp_cpu_heading(f, R, g);
        if (json_array_size(g->accuracy) == 0) {
            rp_not_measured(f, "no accuracy checks (context.accuracy is absent)",
                            "`qkbench run` with a qkbench that records accuracy checks");
            continue;
        }
        fprintf(f, "| model | variant | ISA | activation scales | against | cosine (min) | max "
                   "abs difference | sequences | check |\n|---|---|---|---|---|---|---|---|---|\n");
        size_t i;
        json_t *a;
        json_array_foreach(g->accuracy, i, a) {
            const char *against = qk_rj_str(a, "against");
            const double cos = qk_rj_num(a, "cosine_min"), mad = qk_rj_num(a, "max_abs_diff");
            const char *check = "—";
            if (!strcmp(against, "parse-per-block"))
                check = cos == 1.0 && mad == 0.0 ? "identical, as required"
                                                 : "**DIFFERS: must be identical**";
            const char *v = qk_rj_str(a, "variant"), *isa = qk_rj_str(a, "isa");
            fprintf(f, "| %s | %s | %s | %s | %s | %.6f | %.3g | %d | %s |\n",
                    qk_rj_str(a, "model"), *v ? v : "fp32 path", *isa ? isa : "—",
                    *qk_rj_str(a, "act_scale") ? qk_rj_str(a, "act_scale") : "—", against, cos, mad,
                    qk_rj_int(a, "sequences"), check);
        }
        fprintf(f, "\n");
    }
}

const rp_section rp_section_accuracy = {NULL, NULL, accuracy_markdown};
