/*
 * outq.c: stdout and stderr through one writer thread (outq.h). The queue is a list of copied chunks, bounded in
 * bytes; the writer takes them in order, so stdout and stderr interleave as they were written.
 */
#include "core/outq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX (8u << 20)    /* bytes waiting at most: a stalled reader costs at most this much memory */

struct chunk {
    struct chunk *next;
    int fd;
    size_t len;
    char data[];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;     /* a chunk was queued, or stop */
static pthread_cond_t drained = PTHREAD_COND_INITIALIZER;  /* the writer finished a chunk */
static struct chunk *head, *tail;
static size_t queued;           /* bytes in the list */
static int writing;             /* the writer holds a chunk it took off the list */
static int running, stopping;
static int gave_up;             /* a flush timed out: the writer is stuck in a write; later flushes do not wait */
static int gone[3];             /* fd 1 or 2 failed: its reader is gone */
static long dropped[3];
static pthread_t writer;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;      /* EPIPE (SIGPIPE ignored), EBADF, EIO: the reader is gone */
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!head && !stopping)
            pthread_cond_wait(&more, &mu);
        if (!head)
            break;
        struct chunk *c = head;
        head = c->next;
        if (!head)
            tail = NULL;
        queued -= c->len;
        writing = 1;
        int dead = gone[c->fd];
        pthread_mutex_unlock(&mu);
        int failed = !dead && write_all(c->fd, c->data, c->len) != 0;
        pthread_mutex_lock(&mu);
        if (dead || failed) {
            gone[c->fd] = 1;
            dropped[c->fd]++;
        }
        writing = 0;
        free(c);
        pthread_cond_broadcast(&drained);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int outq_start(void)
{
    pthread_mutex_lock(&mu);
    int ok = running || pthread_create(&writer, NULL, writer_main, NULL) == 0;
    if (ok)
        running = 1;
    pthread_mutex_unlock(&mu);
    return ok ? 0 : -1;
}

void outq_write(int fd, const char *p, size_t n)
{
    if (fd != STDOUT_FILENO && fd != STDERR_FILENO)
        return;
    pthread_mutex_lock(&mu);
    if (!running || stopping) {
        pthread_mutex_unlock(&mu);
        if (write_all(fd, p, n) != 0) { /* nowhere left to say it */ }
        return;
    }
    struct chunk *c = NULL;
    if (!gone[fd] && queued + n <= QUEUE_MAX && (c = malloc(sizeof *c + n))) {
        c->next = NULL;
        c->fd = fd;
        c->len = n;
        memcpy(c->data, p, n);
        if (tail)
            tail->next = c;
        else
            head = c;
        tail = c;
        queued += n;
        pthread_cond_signal(&more);
    } else {
        dropped[fd]++;
    }
    pthread_mutex_unlock(&mu);
}

void outq_printf(int fd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        outq_write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

int outq_flush(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);     /* pthread_cond_timedwait's clock */
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (running && !gave_up && (head || writing) && rc == 0)
        rc = pthread_cond_timedwait(&drained, &mu, &until);
    int done = !head && !writing;
    if (!done) {
        /* The reader is too slow or stalled: what waits is dropped and counted, and so is what comes later. */
        while (head) {
            struct chunk *c = head;
            head = c->next;
            dropped[c->fd]++;
            gone[c->fd] = 1;
            queued -= c->len;
            free(c);
        }
        tail = NULL;
        gave_up = 1;
    }
    pthread_mutex_unlock(&mu);
    return done ? 0 : -1;
}

long outq_dropped(int fd)
{
    if (fd != STDOUT_FILENO && fd != STDERR_FILENO)
        return 0;
    pthread_mutex_lock(&mu);
    long n = dropped[fd];
    pthread_mutex_unlock(&mu);
    return n;
}

/* fopencookie's write for stdout and stderr: the bytes go to the queue. */
static ssize_t cookie_write(void *cookie, const char *p, size_t n)
{
    outq_write((int)(intptr_t)cookie, p, n);
    return (ssize_t)n;
}

void outq_stdio(void)
{
    cookie_io_functions_t io = {.read = NULL, .write = cookie_write, .seek = NULL, .close = NULL};
    FILE *out = fopencookie((void *)(intptr_t)STDOUT_FILENO, "w", io);
    FILE *err = fopencookie((void *)(intptr_t)STDERR_FILENO, "w", io);
    if (!out || !err) {
        if (out)
            fclose(out);
        if (err)
            fclose(err);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    setvbuf(out, NULL, _IOLBF, 0);
    setvbuf(err, NULL, _IONBF, 0);
    stdout = out;
    stderr = err;
}

void outq_stop(int timeout_ms)
{
    fflush(stdout);
    pthread_mutex_lock(&mu);
    int was = running;
    pthread_mutex_unlock(&mu);
    if (!was)
        return;
    int drained_ok = outq_flush(timeout_ms) == 0;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_signal(&more);
    pthread_mutex_unlock(&mu);
    if (drained_ok)
        pthread_join(writer, NULL);
    else
        pthread_detach(writer);     /* stuck writing to a reader that stopped reading: exit ends it */
    pthread_mutex_lock(&mu);
    running = 0;
    pthread_mutex_unlock(&mu);
}
