#include "kernels/parse-block.h"
#include "kernels/fp16.h"
#include "kernels/prepare.h"

#include <string.h>

__attribute__((noinline)) qk_parsed_block qk_parse_block(const uint8_t *blk) {
    qk_parsed_block p;
    p.d = qk_fp16_to_fp32_soft(qk_block_d16(blk));
    memcpy(p.qs, blk + 2, sizeof p.qs);
    return p;
}
