/*
 * logsink.c: where log lines go when no bot writes them (logsink.h): stderr through the output queue, and every
 * log file attached.
 */
#include "core/logsink.h"
#include "core/clock.h"
#include "core/outq.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The log files of the process's bots: warnings from the engine thread go to each of them. */
static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static int *files;
static size_t nfiles;

void log_attach(int fd)
{
    pthread_mutex_lock(&files_mu);
    int *nf = realloc(files, (nfiles + 1) * sizeof *nf);
    if (nf) {
        files = nf;
        files[nfiles++] = fd;
    }
    pthread_mutex_unlock(&files_mu);
}

void log_detach(int fd)
{
    pthread_mutex_lock(&files_mu);
    for (size_t i = 0; i < nfiles; i++)
        if (files[i] == fd)
            files[i] = files[--nfiles];
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
    outq_write(STDERR_FILENO, buf, n);
    pthread_mutex_lock(&files_mu);
    for (size_t i = 0; i < nfiles; i++)
        if (write(files[i], buf, n) < 0) { /* a full disk must not stop the engine */ }
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

