/* The qkbench subcommands: each takes argv with argv[0] = the subcommand name, returns the exit
 * code. */
#ifndef QK_HARNESS_CLI_COMMANDS_H
#define QK_HARNESS_CLI_COMMANDS_H

int qk_cmd_list(int argc, char **argv);
int qk_cmd_gen_model(int argc, char **argv);
int qk_cmd_embed(int argc, char **argv);
int qk_cmd_run(int argc, char **argv);
int qk_cmd_compare(int argc, char **argv); /* cmd_compare.c */
int qk_cmd_report(int argc, char **argv);  /* cmd_report.c */

/* defined in their own units */
#include "harness/microbench/bench_matmul.h"
#include "harness/cli/cmd_env.h"
#include "harness/cli/cmd_tokenize.h"
#include "harness/microbench/roofline.h"

#endif
