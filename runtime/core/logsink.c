/*
 * logsink.c: where log lines go when no bot writes them (logsink.h): stderr through the output queue, and every
 * log file attached.
 */
#include "core/logsink.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/outq.h"
#include "core/termpanel.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

size_t logsink_stamp(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)clock_floor_s(ms);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    return n + (size_t)snprintf(buf + n, size - n, ".%03d ", (int)(ms - (int64_t)t * 1000));
}

/* The log files of the process's bots: warnings from the engine thread go to each of them. A file whose writes fail
 * (a full or read-only disk) counts the lines it loses, and says so once it takes lines again. */
struct logfile {
    int fd;
    long dropped;   /* lines not written since the last one that was */
    int err;        /* errno of the first of them */
    char *path;     /* the file fd has open (NULL: unknown, never rotated or reset) */
    long long max;  /* rotated before a line would take it past this many bytes; 0: never */
    int keep;       /* rotated files kept: path.1 (the newest) to path.keep */
    long long size; /* what it holds, as far as this process knows (LogReset may have cut it: fstat tells) */
    int rotate_failed;  /* a rotation failed and was said; lines go on into the file it has */
};

static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static struct logfile *files;
static size_t nfiles;

void log_attach(int fd, const char *path, long long max_bytes, int keep)
{
    struct stat st;
    char *p = path ? strdup(path) : NULL;
    pthread_mutex_lock(&files_mu);
    struct logfile *nf = realloc(files, (nfiles + 1) * sizeof *nf);
    if (nf) {
        files = nf;
        files[nfiles++] = (struct logfile){.fd = fd, .path = p, .max = max_bytes,
                                           .keep = keep < 1 ? 1 : keep > LOG_KEEP_MAX ? LOG_KEEP_MAX : keep,
                                           .size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0};
        p = NULL;
    }
    pthread_mutex_unlock(&files_mu);
    free(p);
}

/* Formats a stamped warning line into buf (at most size bytes, ending in a newline); returns its length. */
static size_t warning_line(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static size_t warning_line(char *buf, size_t size, const char *fmt, ...)
{
    size_t n = logsink_stamp(clock_wall_ms(), buf, size);
    n += (size_t)snprintf(buf + n, size - n, "warning: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, size - n - 1, fmt, ap);
    va_end(ap);
    n += m < 0 ? 0 : (size_t)m < size - n - 1 ? (size_t)m : size - n - 2;
    buf[n++] = '\n';
    return n;
}

/* path.i into buf (i = 0: path itself). */
static void rotated_name(const struct logfile *f, int i, char *buf, size_t size)
{
    if (i == 0)
        snprintf(buf, size, "%s", f->path);
    else
        snprintf(buf, size, "%s.%d", f->path, i);
}

/* Under files_mu: rotates f's file if a line of n bytes would take it past f->max (logsink.h). A failure is said
 * once on stderr; the line then goes into the file f has. */
static void rotate_if_full(struct logfile *f, size_t n)
{
    if (!f->path || f->max <= 0 || f->size + (long long)n <= f->max)
        return;
    struct stat st;
    if (fstat(f->fd, &st) == 0)
        f->size = st.st_size;   /* LogReset may have cut it */
    if (f->size == 0 || f->size + (long long)n <= f->max)
        return;
    char from[4200], to[4200];
    for (int i = f->keep; i >= 1; i--) {
        rotated_name(f, i - 1, from, sizeof from);
        rotated_name(f, i, to, sizeof to);
        if (rename(from, to) != 0 && errno != ENOENT)
            goto fail;
    }
    /* O_EXCL: the name was just renamed away, so whatever is there now was planted; never followed. */
    int nfd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (nfd < 0) {
        int e = errno;
        rotated_name(f, 1, from, sizeof from);
        if (rename(from, f->path) != 0) { /* the lines go on into path.1, where fd points */ }
        errno = e;
        goto fail;
    }
    int rc = dup3(nfd, f->fd, O_CLOEXEC);
    int e = errno;
    close(nfd);
    if (rc < 0) {
        errno = e;
        goto fail;
    }
    f->size = 0;
    f->rotate_failed = 0;
    return;
fail:
    if (!f->rotate_failed++) {
        char buf[4600];
        size_t m = warning_line(buf, sizeof buf, "cannot rotate %s: %s; its lines go on into the file as it is",
                                f->path, strerror(errno));
        termpanel_write(STDERR_FILENO, buf, m);
    }
    f->size = 0;    /* tried again after another max bytes, not at every line */
}

/* Under files_mu. */
static void append_line(struct logfile *f, const char *line, size_t n)
{
    char buf[256];
    rotate_if_full(f, n);
    if (f->dropped > 0) {
        size_t m = warning_line(buf, sizeof buf, "%ld log lines were not written to log.txt: %s", f->dropped,
                                strerror(f->err));
        if (fs_append_whole(f->fd, buf, m) == 0) {
            termpanel_write(STDERR_FILENO, buf, m);
            f->dropped = 0;
        }
    }
    if (f->dropped == 0 && fs_append_whole(f->fd, line, n) == 0) {
        f->size += (long long)n;
        return;
    }
    if (f->dropped++ == 0) {
        f->err = errno;
        size_t m = warning_line(buf, sizeof buf, "cannot write log.txt: %s; the lines it misses are counted and "
                                "said when it takes lines again", strerror(f->err));
        termpanel_write(STDERR_FILENO, buf, m);
    }
}

void log_append(int fd, const char *line, size_t n)
{
    pthread_mutex_lock(&files_mu);
    size_t i = 0;
    while (i < nfiles && files[i].fd != fd)
        i++;
    if (i < nfiles)
        append_line(&files[i], line, n);
    else if (fs_append_whole(fd, line, n) != 0) { /* not attached: nothing to count it against */ }
    pthread_mutex_unlock(&files_mu);
}

void log_detach(int fd)
{
    pthread_mutex_lock(&files_mu);
    for (size_t i = 0; i < nfiles; i++)
        if (files[i].fd == fd) {
            if (files[i].dropped > 0) {     /* the file never took lines again: said on stderr, once */
                char buf[256];
                size_t m = warning_line(buf, sizeof buf, "%ld log lines were not written to log.txt: %s",
                                        files[i].dropped, strerror(files[i].err));
                termpanel_write(STDERR_FILENO, buf, m);
            }
            free(files[i].path);
            files[i] = files[--nfiles];
        }
    if (nfiles == 0) {
        free(files);
        files = NULL;
    }
    pthread_mutex_unlock(&files_mu);
}

/* Under files_mu: removes f's rotated files. */
static void drop_rotated(const struct logfile *f)
{
    for (int k = 1; k <= LOG_KEEP_MAX; k++) {
        char name[4200];
        rotated_name(f, k, name, sizeof name);
        unlink(name);
    }
}

int log_reset(int fd, long long keep, char *err, size_t errlen)
{
    pthread_mutex_lock(&files_mu);
    struct logfile *f = NULL;
    for (size_t i = 0; i < nfiles && !f; i++)
        if (files[i].fd == fd && files[i].path)
            f = &files[i];
    int rc = -1;
    off_t kept = 0;
    if (!f) {
        snprintf(err, errlen, "the log file is not open");
        goto out;
    }
    /* FS_VOLATILE: no fsync while every log writer waits on files_mu; the log's lines are never fsynced either. */
    if (fs_keep_last_lines(f->path, keep, FS_VOLATILE, &kept, err, errlen) != 0)
        goto out;
    drop_rotated(f);
    /* The file was replaced: fd takes the new one's place, for every writer that holds it. */
    int nfd = open(f->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (nfd < 0 || dup3(nfd, fd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot reopen %s: %s", f->path, strerror(errno));
        if (nfd >= 0)
            close(nfd);
        goto out;
    }
    close(nfd);
    f->size = (long long)kept;
    rc = 0;
out:
    pthread_mutex_unlock(&files_mu);
    return rc;
}

static void thread_line(const char *tag, const char *fmt, va_list ap)
{
    char buf[1024];
    size_t n = logsink_stamp(clock_wall_ms(), buf, sizeof buf);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", tag);
    int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    if (m < 0)
        return;
    n += (size_t)m < sizeof buf - n - 1 ? (size_t)m : sizeof buf - n - 2;
    buf[n++] = '\n';
    termpanel_write(STDERR_FILENO, buf, n);
    pthread_mutex_lock(&files_mu);
    for (size_t i = 0; i < nfiles; i++)
        append_line(&files[i], buf, n);     /* a full disk must not stop the engine */
    pthread_mutex_unlock(&files_mu);
}

void log_thread_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    thread_line("warning: ", fmt, ap);
    va_end(ap);
}

void log_thread_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    thread_line("", fmt, ap);
    va_end(ap);
}

void log_unshown_report(void)
{
    for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
        long n = outq_dropped(fd);
        if (n > 0)
            log_thread_warning("%ld lines could not be shown on %s (its reader was gone or stopped reading); the "
                               "bots' log files have every line", n, fd == STDOUT_FILENO ? "stdout" : "stderr");
    }
}

