/* qkbench tokenize (text -> ids with a GGUF file's tokenizer), and the text helpers qkbench embed
 * shares. */
#ifndef QK_HARNESS_CLI_CMD_TOKENIZE_H
#define QK_HARNESS_CLI_CMD_TOKENIZE_H

#include <stdint.h>

#include "common/error.h"
#include "model/tokenizer.h"

int qk_cmd_tokenize(int argc, char **argv);

/* Reads a text file as one text per line (the newline is not part of the text; a last line without
 * one counts). *lines and each line are malloc'd: free with qk_free_lines. */
int qk_read_lines(const char *path, char ***lines, int *n, qk_error *err);
void qk_free_lines(char **lines, int n);

/* Tokenizes prompt (may be NULL or "") followed by text into a malloc'd array. add_special: BOS/EOS
 * as the file's flags say; parse_special: control-token texts such as "<bos>" in the text become
 * those tokens. */
int qk_tokenize_text(qk_tokenizer *t, const char *prompt, const char *text, int add_special,
                     int parse_special, int32_t **ids, int *n, qk_error *err);

#endif
