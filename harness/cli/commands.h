/* The qkbench subcommands, one file each in harness/cli/ (cmd_NAME.c): each takes argv with argv[0]
 * = the subcommand name and returns the process exit code (0 ok, 1 a run-time failure, 2 bad usage
 * or bad input, before anything runs; run: 130 when interrupted). A new subcommand is one new file,
 * its line here and its line in main.c's table. */
#ifndef QK_HARNESS_CLI_COMMANDS_H
#define QK_HARNESS_CLI_COMMANDS_H

int qk_cmd_list(int argc, char **argv);
int qk_cmd_env(int argc, char **argv);
int qk_cmd_gen_model(int argc, char **argv);
int qk_cmd_embed(int argc, char **argv);
int qk_cmd_tokenize(int argc, char **argv);
int qk_cmd_bench_matmul(int argc, char **argv);
int qk_cmd_roofline(int argc, char **argv);
int qk_cmd_run(int argc, char **argv);
int qk_cmd_report(int argc, char **argv);
int qk_cmd_compare(int argc, char **argv);
int qk_cmd_fleet(int argc, char **argv);
int qk_cmd_peer_child(int argc, char **argv); /* internal: not listed by --help */

#endif
