/* Writing a file so that it never destroys a complete predecessor: the bytes go to a temporary file
 * in the target's folder (".NAME.tmp.XXXXXX", so the rename stays within one filesystem), are
 * fsync'd, and only then is the temporary renamed over the target (or, without replace, renamed
 * only if no target exists: renameat2 RENAME_NOREPLACE, checked atomically); the folder is fsync'd
 * after the rename. A failure at any step (a full disk, a file-size limit, an I/O error) removes
 * the temporary and leaves the target as it was. Only a process killed while writing leaves its
 * temporary behind, never a torn target. Every model, results and roofline file is written so. */
#ifndef QK_COMMON_OUTPUT_FILE_H
#define QK_COMMON_OUTPUT_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

typedef struct {
    FILE *f; /* write the contents here (a stdio stream on the temporary file) */
    char path[4096], tmp[4096];
    int closed; /* flushed, fsync'd and closed: waiting for qk_outfile_rename */
    int werr;   /* errno of the first failed qk_outfile_write */
} qk_outfile;

/* Creates the temporary file beside path. */
int qk_outfile_open(qk_outfile *o, const char *path, qk_error *err);
/* Writes len bytes to o->f, keeping the errno of a failure for qk_outfile_close (a stream that
 * failed in fwrite only says "error" later). 0 or -1. */
int qk_outfile_write(qk_outfile *o, const void *data, size_t len);
/* Flushes, fsyncs and closes the temporary file; a write error seen by the stream (ENOSPC, EFBIG)
 * is reported here. On failure the temporary is removed. */
int qk_outfile_close(qk_outfile *o, qk_error *err);
/* Renames the closed temporary over path; replace = 0: only if path does not exist ("PATH already
 * exists: pass --force to replace it"). On failure the temporary is removed. */
int qk_outfile_rename(qk_outfile *o, int replace, qk_error *err);
/* close + rename. */
int qk_outfile_commit(qk_outfile *o, int replace, qk_error *err);
/* Drops the temporary (any state; a no-op after a successful rename or a failure). */
void qk_outfile_abort(qk_outfile *o);

/* The whole file from memory. */
int qk_write_file(const char *path, const void *data, size_t len, int replace, qk_error *err);

/* 0 when nothing exists at path; otherwise fails with "PATH already exists: pass --force to
 * replace it". For checks made before the work that produces the file, so that a refusal costs
 * nothing. */
int qk_refuse_existing(const char *path, qk_error *err);

#endif
