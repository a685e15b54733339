/* Text inputs: integer lists, text files one text per line, texts tokenized with a task prompt. */
#ifndef QK_HARNESS_TEXT_H
#define QK_HARNESS_TEXT_H

#include <stdint.h>

#include "common/error.h"
#include "model/tokenizer.h"

/* Parses "2,105,1" (commas or blanks) into a malloc'd array; *n gets the count. */
int qk_parse_int_list(const char *s, int32_t **out, int *n, qk_error *err);

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
