/* Text inputs: integer lists, text files one text per line, texts tokenized with a task prompt. */
#ifndef QK_HARNESS_TEXT_H
#define QK_HARNESS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "model/tokenizer.h"

/* The largest text or token file read (a file larger is refused before it is read). */
#define QK_TEXT_MAX_BYTES ((size_t)64 << 20)

/* Parses "2,105,1" (commas or blanks) into a malloc'd array; *n gets the count. An empty item
 * ("2,,1", a leading or trailing comma) is an error. */
int qk_parse_int_list(const char *s, int32_t **out, int *n, qk_error *err);

/* Splits text[0..len) into lines (the newline is not part of the line; a CRLF ending is a line
 * ending; a last line without a newline counts). A NUL byte or a CR that does not end a line is
 * refused with "NAME:LINE:COL: ...". *lines and each line are malloc'd: free with qk_free_lines. */
int qk_split_lines(const char *text, size_t len, const char *name, char ***lines, int *n,
                   qk_error *err);

/* Reads a text file (a regular file of at most QK_TEXT_MAX_BYTES; common/input_file.h) and splits
 * it as above. */
int qk_read_lines(const char *path, char ***lines, int *n, qk_error *err);
void qk_free_lines(char **lines, int n);

/* The whole text file (same checks and limit), its length counted: *data is malloc'd with a NUL
 * after its *len bytes. */
int qk_read_text_input(const char *path, char **data, size_t *len, qk_error *err);

/* Tokenizes prompt (may be NULL or "") followed by text into a malloc'd array. add_special: BOS/EOS
 * as the file's flags say; parse_special: control-token texts such as "<bos>" in the text become
 * those tokens. */
int qk_tokenize_text(qk_tokenizer *t, const char *prompt, const char *text, int add_special,
                     int parse_special, int32_t **ids, int *n, qk_error *err);

#endif
