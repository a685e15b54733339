/* fp16 conversions on every value, Q8_0 quantisation as ggml does it, activation quantisation. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "model/q8_0.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The value an fp16 bit pattern denotes, from the IEEE formula (spec gguf-q8_0.md section 8). */
static double fp16_formula(uint16_t h) {
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

Test(fp16, every_value_to_fp32_matches_formula) {
    for (uint32_t h = 0; h < 65536; h++) {
        const int e = (h >> 10) & 31, m = h & 1023;
        float soft = qk_fp16_to_fp32_soft((uint16_t)h);
        if (e == 31) {
            cr_assert(m ? isnan(soft) : isinf(soft), "h=0x%04x", h);
            cr_assert_eq(signbit(soft) != 0, (h >> 15) != 0, "h=0x%04x sign", h);
            if (m) cr_assert_eq((bits(soft) >> 13) & 1023, (uint32_t)m, "h=0x%04x payload", h);
        } else {
            cr_assert_eq((double)soft, fp16_formula((uint16_t)h), "h=0x%04x: %.9g", h, soft);
            cr_assert_eq(signbit(soft) != 0, (h >> 15) != 0, "h=0x%04x sign of zero", h);
        }
        if (qk_cpu_has_f16c() && !(e == 31 && m)) {
            float hw = qk_fp16_to_fp32_f16c((uint16_t)h);
            cr_assert_eq(bits(hw), bits(soft), "h=0x%04x: f16c %08x soft %08x", h, bits(hw),
                         bits(soft));
        }
    }
}

Test(fp16, every_value_round_trips_and_midpoints_round_to_even) {
    for (uint32_t h = 0; h < 65536; h++) {
        const int e = (h >> 10) & 31;
        if (e == 31 && (h & 1023)) continue; /* NaN: checked below */
        cr_assert_eq(qk_fp32_to_fp16_soft(qk_fp16_to_fp32_soft((uint16_t)h)), h, "h=0x%04x", h);
        /* midpoint between h and its successor (same sign, finite): ties go to the even pattern */
        if ((h & 0x7fff) < 0x7bff) {
            double a = fp16_formula((uint16_t)h), b = fp16_formula((uint16_t)(h + 1));
            float mid = (float)((a + b) / 2); /* exact in float: fp16 has 11 significant bits */
            uint16_t want = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            cr_assert_eq(qk_fp32_to_fp16_soft(mid), want, "midpoint after 0x%04x", h);
            cr_assert_eq(qk_fp32_to_fp16_soft(nextafterf(mid, 0.0f)), (uint16_t)h, "below 0x%04x",
                         h);
            cr_assert_eq(qk_fp32_to_fp16_soft(nextafterf(mid, mid * 2)), (uint16_t)(h + 1),
                         "above midpoint after 0x%04x", h);
        }
    }
    cr_expect_eq(qk_fp32_to_fp16_soft(65520.0f), 0x7c00); /* rounds to infinity */
    cr_expect_eq(qk_fp32_to_fp16_soft(65519.0f), 0x7bff); /* max finite */
    cr_expect_eq(qk_fp32_to_fp16_soft(-1e30f), 0xfc00);
    cr_expect_eq(qk_fp32_to_fp16_soft(NAN), 0x7e00);
    cr_expect_eq(qk_fp32_to_fp16_soft(-NAN), 0xfe00);
    cr_expect_eq(qk_fp32_to_fp16_soft(ldexpf(1.0f, -25)), 0x0000); /* tie to even zero */
    cr_expect_eq(qk_fp32_to_fp16_soft(ldexpf(1.5f, -25)), 0x0001);
}

Test(fp16, software_and_f16c_agree_on_random_floats) {
    if (!qk_cpu_has_f16c()) cr_skip_test("CPU has no F16C");
    uint64_t s = 12345;
    for (int i = 0; i < 2000000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t u = (uint32_t)(s >> 32);
        float f;
        memcpy(&f, &u, 4);
        if (isnan(f)) continue; /* F16C keeps NaN payloads; ggml's rule is a fixed quiet NaN */
        cr_assert_eq(qk_fp32_to_fp16_soft(f), qk_fp32_to_fp16_f16c(f), "bits %08x", u);
    }
}

Test(q8_0, quantise_known_vectors) {
    float x[32];
    uint8_t blk[34];
    /* amax 127 gives d = 1: q = roundf(x), ties away from zero */
    for (int j = 0; j < 32; j++) x[j] = (float)(j * 8 - 127);
    x[1] = 0.5f, x[2] = -0.5f, x[3] = 2.5f, x[4] = -2.5f, x[5] = 1.49f;
    qk_q8_0_quantize_row(x, blk, 32);
    cr_expect_eq(blk[0] | blk[1] << 8, 0x3c00, "d = 1.0 as fp16");
    const int8_t *q = (const int8_t *)blk + 2;
    cr_expect_eq(q[0], -127);
    cr_expect_eq(q[1], 1);
    cr_expect_eq(q[2], -1);
    cr_expect_eq(q[3], 3);
    cr_expect_eq(q[4], -3);
    cr_expect_eq(q[5], 1);
    cr_expect_eq(q[31], 121);
    float back[32];
    qk_q8_0_dequantize_row(blk, back, 32);
    for (int j = 6; j < 32; j++) cr_expect_eq(back[j], x[j], "j=%d", j);
    /* all zero: d = 0, q = 0 */
    memset(x, 0, sizeof x);
    qk_q8_0_quantize_row(x, blk, 32);
    for (int j = 0; j < 34; j++) cr_expect_eq(blk[j], 0);
    /* a general block: dequantised values within half a step of the input */
    for (int j = 0; j < 32; j++) x[j] = sinf((float)j) * 3.7f;
    qk_q8_0_quantize_row(x, blk, 32);
    qk_q8_0_dequantize_row(blk, back, 32);
    float d = qk_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8));
    cr_expect_float_eq(d, 3.7f * fabsf(sinf(11.0f)) / 127.0f, 1e-3f * d);
    for (int j = 0; j < 32; j++)
        cr_expect_leq(fabsf(back[j] - x[j]), 0.5f * d + 1e-3f * d, "j=%d", j);
}

Test(q8_0, activation_schemes) {
    float x[64];
    int8_t q[64];
    float s[2];
    for (int j = 0; j < 64; j++) x[j] = (j < 32 ? 0.01f : 10.0f) * cosf((float)j);
    qk_quantize_act_token(x, 64, q, s);
    float amax = 0;
    for (int j = 0; j < 64; j++) amax = fmaxf(amax, fabsf(x[j]));
    cr_expect_eq(s[0], amax / 127.0f);
    for (int j = 0; j < 64; j++) cr_expect_leq(fabsf(q[j] * s[0] - x[j]), 0.5f * s[0] * 1.0001f);
    /* per block: each block gets its own fp16-rounded scale, so the small block keeps precision */
    qk_quantize_act_block(x, 64, q, s);
    for (int b = 0; b < 2; b++) {
        float am = 0;
        for (int j = 0; j < 32; j++) am = fmaxf(am, fabsf(x[b * 32 + j]));
        cr_expect_eq(s[b], qk_fp16_to_fp32(qk_fp32_to_fp16(am / 127.0f)), "block %d", b);
        for (int j = 0; j < 32; j++)
            cr_expect_leq(fabsf(q[b * 32 + j] * s[b] - x[b * 32 + j]), 0.51f * s[b] + 1e-3f * am);
    }
    cr_expect_lt(s[0], s[1] / 100.0f);
    memset(x, 0, sizeof x);
    qk_quantize_act_token(x, 64, q, s);
    cr_expect_eq(s[0], 0.0f);
    for (int j = 0; j < 64; j++) cr_expect_eq(q[j], 0);
}
