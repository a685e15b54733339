/* The one list of REPORT.md's sections, in the order they appear. Each section is one file in
 * report/sections/ that ends with its descriptor,
 *     const rp_section rp_section_NAME = {"plot" or NULL, data writer or NULL, Markdown writer};
 * (report/model.h). A new section is a new file there plus one line here: nothing else names it
 * (an X-macro list, as XNNPACK's src/f32-vtanh/f32-vtanh.inc lists its kernels). The frame around
 * the sections (title, list of CPUs, table of plots) is report.c's. */
#include "report/model.h"

#define RP_SECTIONS(X)                                                                             \
    X(summary)   /* Summary: the seed story and each CPU */                                        \
    X(machine)   /* 1. The machine and the run */                                                  \
    X(fleet)     /* Fleet: targets, SLURM jobs, what was not measured, node-to-node spread */      \
    X(ladder)    /* 2. The ladder (plot: ladder) */                                                \
    X(amdahl)    /* 3. Amdahl, measured */                                                         \
    X(memory)    /* 4. Memory */                                                                   \
    X(accuracy)  /* 5. Accuracy */                                                                 \
    X(breakdown) /* 6. Per-operation breakdown (plot: breakdown) */                                \
    X(threads)   /* 7. Thread scaling (plot: threads; series.c) */                                 \
    X(seqlen)    /* 8. Sequence length (plot: seqlen; series.c) */                                 \
    X(roofline)  /* 9. Roofline (plot: roofline) */                                                \
    X(kernels)   /* Kernels beyond the story */                                                    \
    X(peer)      /* llama.cpp peer (plot: peer) */                                                 \
    X(sittings)  /* Across sittings: two-level intervals, the sittings' spread, stable or not */   \
    X(story)     /* 10. How this CPU's story differs */

#define RP_DECLARE(name) extern const rp_section rp_section_##name;
RP_SECTIONS(RP_DECLARE)

#define RP_ENTRY(name) &rp_section_##name,
const rp_section *const rp_sections[] = {RP_SECTIONS(RP_ENTRY)};
const int rp_n_sections = (int)(sizeof rp_sections / sizeof *rp_sections);
