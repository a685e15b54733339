/* Opening a file given as input (a model, an experiment, a text or token file, a results or
 * reference file): one way, so every reader refuses the same things with the same words.
 *  - The path must name a regular file. It is opened with O_NONBLOCK and checked on the descriptor
 *    (no race with a rename), so a FIFO or a device never blocks the open; a directory, a FIFO, a
 *    socket or a device gets a message saying what it is.
 *  - Whole-file reads have a size limit given by the caller, checked before reading and again while
 *    reading (a file that grows is cut off, never read without bound), and are length-counted: the
 *    buffer holds exactly the file's bytes, NUL bytes included, with one NUL after them, so a text
 *    reader can find an embedded NUL (memchr over len) instead of stopping at it. */
#ifndef QK_COMMON_INPUT_FILE_H
#define QK_COMMON_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/error.h"

/* Opens path for reading; what names the file in messages ("model file": "PATH: is a FIFO (named
 * pipe); the model file must be a regular file"). Returns the descriptor (blocking mode restored,
 * O_CLOEXEC), st (may be NULL) its fstat; -1 and err else. */
int qk_input_open(const char *path, const char *what, struct stat *st, qk_error *err);

/* Reads the whole regular file (at most max_bytes) into a new buffer (free with free()), with a NUL
 * after its *len bytes. Larger: "PATH: N bytes: larger than the WHAT may be (LIMIT)". */
int qk_input_read(const char *path, const char *what, size_t max_bytes, char **data, size_t *len,
                  qk_error *err);

/* Line and column (1-based) of byte offset off in text[0..len), for "FILE:LINE:COL" messages. */
void qk_text_position(const char *text, size_t len, size_t off, int *line, int *col);

/* Offset of the first byte of text[0..len) that does not belong to valid UTF-8 (overlong forms,
 * surrogates and code points above U+10FFFF are invalid), or len when all of it is valid. */
size_t qk_utf8_invalid_at(const char *text, size_t len);

#endif
