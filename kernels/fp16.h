/* IEEE binary16 <-> binary32 (spec gguf-q8_0.md section 8). The lowest layer owns them because the
 * parse-per-block kernels convert fp16 on every block; the model's Q8_0 code uses the same functions. */
#ifndef QK_KERNELS_FP16_H
#define QK_KERNELS_FP16_H

#include <stdint.h>

/* Portable software conversions: exact for all 65536 fp16 values; fp32->fp16 rounds to nearest even,
 * overflows to infinity, and maps any NaN to a quiet NaN (0x7E00 with the input's sign). */
float qk_fp16_to_fp32_soft(uint16_t h);
uint16_t qk_fp32_to_fp16_soft(float f);

/* Hardware (F16C) conversions; only call when qk_cpu_has_f16c(). */
float qk_fp16_to_fp32_f16c(uint16_t h);
uint16_t qk_fp32_to_fp16_f16c(float f);
int qk_cpu_has_f16c(void);

/* Converts with F16C when the CPU has it, else in software; results are identical (tested). */
float qk_fp16_to_fp32(uint16_t h);
uint16_t qk_fp32_to_fp16(float f);

#endif
