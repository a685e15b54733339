#define _GNU_SOURCE /* renameat2 */
#include "common/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder of path ("." when it has none) into dir. */
static void folder_of(const char *path, char *dir, size_t size) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

int qk_outfile_open(qk_outfile *o, const char *path, qk_error *err) {
    memset(o, 0, sizeof *o);
    const char *slash = strrchr(path, '/');
    const int dir_len = slash ? (int)(slash - path) + 1 : 0;
    if (!*path || (slash && !slash[1])) return qk_fail(err, "'%s' is not a file name", path);
    if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path ||
        snprintf(o->tmp, sizeof o->tmp, "%.*s.%s.tmp.XXXXXX", dir_len, path, path + dir_len) >=
            (int)sizeof o->tmp)
        return qk_fail(err, "%s: path too long", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        const int e = errno;
        char dir[4096];
        folder_of(path, dir, sizeof dir);
        return qk_fail(err, "%s: cannot create a file in %s: %s", path, dir, strerror(e));
    }
    if (fchmod(fd, 0644) != 0 || !(o->f = fdopen(fd, "wb"))) {
        const int e = errno;
        close(fd);
        unlink(o->tmp);
        return qk_fail(err, "%s: %s", o->tmp, strerror(e));
    }
    return 0;
}

int qk_outfile_write(qk_outfile *o, const void *data, size_t len) {
    if (!o->f) return -1;
    errno = 0;
    if (len && fwrite(data, 1, len, o->f) != len) {
        if (!o->werr) o->werr = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int qk_outfile_close(qk_outfile *o, qk_error *err) {
    if (!o->f) return qk_fail(err, "%s: not open", o->path);
    /* the stream's error flag keeps a failed buffered write (ENOSPC, EFBIG) until here */
    int ok = !o->werr, e = o->werr;
    if (ok && fflush(o->f) != 0) ok = 0, e = errno;
    if (ok && ferror(o->f)) ok = 0, e = EIO;
    if (ok && fsync(fileno(o->f)) != 0) ok = 0, e = errno;
    if (fclose(o->f) != 0 && ok) ok = 0, e = errno;
    o->f = NULL;
    if (!ok) {
        unlink(o->tmp);
        o->tmp[0] = 0;
        return qk_fail(err, "%s: write failed: %s (the file was left as it was)", o->path,
                       strerror(e));
    }
    o->closed = 1;
    return 0;
}

int qk_outfile_rename(qk_outfile *o, int replace, qk_error *err) {
    if (!o->closed) return qk_fail(err, "%s: not written", o->path);
    int rc;
    if (replace) {
        rc = rename(o->tmp, o->path);
    } else { /* never clobber a file that appeared since any earlier check */
        rc = renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) { /* filesystem without it */
            rc = link(o->tmp, o->path);
            if (rc == 0) unlink(o->tmp);
        }
    }
    const int e = errno;
    o->closed = 0;
    if (rc != 0) {
        unlink(o->tmp);
        o->tmp[0] = 0;
        if (e == EEXIST)
            return qk_fail(err, "%s already exists: pass --force to replace it", o->path);
        return qk_fail(err, "%s: cannot rename the temporary file into place: %s", o->path,
                       strerror(e));
    }
    o->tmp[0] = 0;
    /* make the rename durable too (best effort: some filesystems refuse fsync on a folder) */
    char dir[4096];
    folder_of(o->path, dir, sizeof dir);
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int qk_outfile_commit(qk_outfile *o, int replace, qk_error *err) {
    if (qk_outfile_close(o, err)) return -1;
    return qk_outfile_rename(o, replace, err);
}

void qk_outfile_abort(qk_outfile *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp[0]) unlink(o->tmp);
    o->tmp[0] = 0;
    o->closed = 0;
}

int qk_write_file(const char *path, const void *data, size_t len, int replace, qk_error *err) {
    qk_outfile o;
    if (qk_outfile_open(&o, path, err)) return -1;
    (void)qk_outfile_write(&o, data, len); /* a failure is reported by close */
    return qk_outfile_commit(&o, replace, err);
}

int qk_refuse_existing(const char *path, qk_error *err) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        return qk_fail(err, "%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return qk_fail(err, "%s is a folder, not a file name", path);
    return qk_fail(err, "%s already exists: pass --force to replace it", path);
}
