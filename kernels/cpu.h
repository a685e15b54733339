/* Internal to kernels/: the detection state behind qk_cpu_isa_bits(), for the registry's reasons
 * and tests. */
#ifndef QK_KERNELS_CPU_H
#define QK_KERNELS_CPU_H

#include <stddef.h>

typedef struct {
    unsigned hw; /* tiers whose instructions cpuid reports */
    unsigned
        usable; /* ... and whose register state the OS saves (XGETBV): qk_cpu_isa_bits_detected() */
    unsigned bits;   /* ... after the QK_ISA cap: qk_cpu_isa_bits() */
    const char *cap; /* the QK_ISA value in force ("scalar", "avx2", "avx512vnni"), or NULL */
    char note[160];  /* qk_cpu_isa_note() */
} qk_cpu_state;

/* Detected once (thread-safe), then constant. */
const qk_cpu_state *qk_cpu_state_get(void);

/* The QK_ISA rule as a pure function: returns usable capped to value's tier. value NULL or "" means
 * no cap; an unknown value is ignored (usable returned, note says so). *cap_name gets the accepted
 * value or NULL; note (may be NULL) gets what qk_cpu_isa_note() shows. */
unsigned qk_cpu_isa_cap(unsigned usable, const char *value, const char **cap_name, char *note,
                        size_t note_size);

/* Name of the highest tier in bits ("avx512vnni", "avx2", "scalar"). */
const char *qk_cpu_tier_name(unsigned bits);

#endif
