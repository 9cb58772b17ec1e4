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
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
};

static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static struct logfile *files;
static size_t nfiles;

void log_attach(int fd)
{
    pthread_mutex_lock(&files_mu);
    struct logfile *nf = realloc(files, (nfiles + 1) * sizeof *nf);
    if (nf) {
        files = nf;
        files[nfiles++] = (struct logfile){.fd = fd};
    }
    pthread_mutex_unlock(&files_mu);
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

/* Under files_mu. */
static void append_line(struct logfile *f, const char *line, size_t n)
{
    char buf[256];
    if (f->dropped > 0) {
        size_t m = warning_line(buf, sizeof buf, "%ld log lines were not written to log.txt: %s", f->dropped,
                                strerror(f->err));
        if (fs_append_whole(f->fd, buf, m) == 0) {
            termpanel_write(STDERR_FILENO, buf, m);
            f->dropped = 0;
        }
    }
    if (f->dropped == 0 && fs_append_whole(f->fd, line, n) == 0)
        return;
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
            files[i] = files[--nfiles];
        }
    if (nfiles == 0) {
        free(files);
        files = NULL;
    }
    pthread_mutex_unlock(&files_mu);
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

