/* The qkbench subcommands: each takes argv with argv[0] = the subcommand name, returns the exit
 * code. */
#ifndef QK_HARNESS_COMMANDS_H
#define QK_HARNESS_COMMANDS_H

int qk_cmd_list(int argc, char **argv);
int qk_cmd_gen_model(int argc, char **argv);
int qk_cmd_embed(int argc, char **argv);
int qk_cmd_run(int argc, char **argv);

/* defined in their own units */
#include "bench_matmul.h"
#include "cmd_env.h"
#include "cmd_tokenize.h"
#include "compare.h"
#include "report.h"
#include "roofline.h"

#endif
