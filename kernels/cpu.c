/* CPU feature detection: cpuid says what the CPU implements, XGETBV what the OS saves on a context
 * switch (a CPU with AVX-512 under an OS that does not save zmm state must not run zmm code). This
 * file is built without ISA flags (it sits in kernels/, not an ISA folder) so the check itself
 * cannot fault on an old CPU. */
#include "kernels/cpu.h"
#include "kernels/kernel.h"

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#define TIER_AVX512                                                                                \
    (QK_ISA_AVX2 | QK_ISA_AVX512VNNI) /* the avx512vnni tier includes the avx2 one */

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(unsigned *hw, unsigned *usable) {
    unsigned a, b, c, d;
    *hw = *usable = QK_ISA_SCALAR;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const int fma = c >> 12 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1, f16c = c >> 29 & 1;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = b >> 5 & 1, f = b >> 16 & 1, dq = b >> 17 & 1, bw = b >> 30 & 1,
              vl = b >> 31 & 1;
    const int vnni = c >> 11 & 1;
    if (avx && avx2 && fma && f16c) *hw |= QK_ISA_AVX2;
    if ((*hw & QK_ISA_AVX2) && f && bw && vl && dq && vnni) *hw |= QK_ISA_AVX512VNNI;
    /* XCR0 bits: 1 SSE, 2 AVX (ymm upper halves), 5-7 opmask, zmm0-15 upper halves, zmm16-31 */
    const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    if ((xcr0 & 0x06) == 0x06) *usable |= *hw & QK_ISA_AVX2;
    if ((xcr0 & 0xe6) == 0xe6) *usable |= *hw & QK_ISA_AVX512VNNI;
}

const char *qk_cpu_tier_name(unsigned bits) {
    if (bits & QK_ISA_AVX512VNNI) return "avx512vnni";
    if (bits & QK_ISA_AVX2) return "avx2";
    return "scalar";
}

unsigned qk_cpu_isa_cap(unsigned usable, const char *value, const char **cap_name, char *note,
                        size_t note_size) {
    static const struct {
        const char *name;
        unsigned tier;
    } tiers[] = {{"scalar", QK_ISA_SCALAR}, {"avx2", QK_ISA_AVX2}, {"avx512vnni", TIER_AVX512}};
    char dummy[1];
    if (!note) note = dummy, note_size = sizeof dummy;
    note[0] = '\0';
    *cap_name = NULL;
    if (!value || !*value) return usable;
    for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++) {
        if (strcmp(value, tiers[i].name) != 0) continue;
        *cap_name = tiers[i].name;
        const unsigned bits = usable & tiers[i].tier;
        if ((usable & tiers[i].tier) != tiers[i].tier)
            snprintf(note, note_size, "QK_ISA=%s: this CPU/OS offers only %s", value,
                     qk_cpu_tier_name(usable));
        else
            snprintf(note, note_size, "QK_ISA=%s: kernels capped at %s (detected %s)", value,
                     tiers[i].name, qk_cpu_tier_name(usable));
        return bits;
    }
    snprintf(note, note_size, "QK_ISA=%.40s ignored: expected scalar, avx2 or avx512vnni", value);
    return usable;
}

static qk_cpu_state state;
static once_flag state_once = ONCE_FLAG_INIT;

static void state_init(void) {
    detect(&state.hw, &state.usable);
    state.bits =
        qk_cpu_isa_cap(state.usable, getenv("QK_ISA"), &state.cap, state.note, sizeof state.note);
}

const qk_cpu_state *qk_cpu_state_get(void) {
    call_once(&state_once, state_init);
    return &state;
}

unsigned qk_cpu_isa_bits(void) {
    return qk_cpu_state_get()->bits;
}
unsigned qk_cpu_isa_bits_detected(void) {
    return qk_cpu_state_get()->usable;
}
const char *qk_cpu_isa_note(void) {
    return qk_cpu_state_get()->note;
}
