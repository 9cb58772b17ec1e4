/*
 * outq.c: stdout and stderr through writer threads (outq.h). Each of the two has its own queue, a list of copied
 * chunks bounded in bytes, and its own writer, so a stdout reader that stops reading never holds up stderr.
 */
#include "core/outq.h"
#include "core/clock.h"
#include "core/thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX (8u << 20)    /* bytes waiting at most per fd: a stalled reader costs at most this much memory */
/* outq_batch: a writer is woken once this many bytes wait, or this long after its last wake-up. */
#define BATCH_BYTES (64u << 10)
#define BATCH_NS (50 * (int64_t)1000000)

struct chunk {
    struct chunk *next;
    size_t len;
    char data[];
};

struct stream {
    int fd;
    pthread_cond_t more;        /* a chunk was queued, or stop */
    pthread_cond_t drained;     /* the writer finished a chunk */
    struct chunk *head, *tail;
    size_t queued;              /* bytes in the list */
    int writing;                /* the writer holds chunks it took off the list */
    long held;                  /* how many, while writing; 0 once give_up counted them dropped */
    int64_t woken_ns;           /* when outq_write last woke the writer (outq_batch) */
    int gone;                   /* a write failed (the reader is gone), or a flush gave up on it (stalled) */
    long dropped;
    pthread_t writer;
    int started;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct stream streams[2] = {
    {.fd = STDOUT_FILENO, .more = PTHREAD_COND_INITIALIZER, .drained = PTHREAD_COND_INITIALIZER},
    {.fd = STDERR_FILENO, .more = PTHREAD_COND_INITIALIZER, .drained = PTHREAD_COND_INITIALIZER},
};
static int running, stopping, batching;

static struct stream *stream_of(int fd)
{
    return fd == STDOUT_FILENO ? &streams[0] : fd == STDERR_FILENO ? &streams[1] : NULL;
}

/* Returns how many of the n bytes were written: n, or fewer when the fd failed. */
static size_t write_all(int fd, const char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;      /* EPIPE (SIGPIPE ignored), EBADF, EIO: the reader is gone */
        }
        done += (size_t)w;
    }
    return done;
}

/* Writes the chunks of list (len bytes in all) to fd, in one write when they are several; returns how many chunks
 * were written whole (all of them unless the write failed). */
static long write_list(int fd, const struct chunk *list, size_t len)
{
    long whole = 0;
    char *buf = list && list->next ? malloc(len) : NULL;
    if (buf) {
        size_t at = 0;
        for (const struct chunk *c = list; c; c = c->next) {
            memcpy(buf + at, c->data, c->len);
            at += c->len;
        }
        size_t done = write_all(fd, buf, len);
        free(buf);
        for (const struct chunk *c = list; c && done >= c->len; c = c->next, whole++)
            done -= c->len;
        return whole;
    }
    for (const struct chunk *c = list; c && write_all(fd, c->data, c->len) == c->len; c = c->next)
        whole++;
    return whole;
}

static void *writer_main(void *arg)
{
    struct stream *st = arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!st->head && !stopping)
            pthread_cond_wait(&st->more, &mu);
        if (!st->head)
            break;
        /* Everything queued at once: one write, and one trip through the lock, for a batch of lines. */
        struct chunk *list = st->head;
        size_t len = st->queued;
        st->head = st->tail = NULL;
        st->queued = 0;
        long n = 0;
        for (const struct chunk *c = list; c; c = c->next)
            n++;
        st->writing = 1;
        st->held = n;
        int dead = st->gone;
        pthread_mutex_unlock(&mu);
        long whole = dead ? 0 : write_list(st->fd, list, len);
        while (list) {
            struct chunk *c = list;
            list = c->next;
            free(c);
        }
        pthread_mutex_lock(&mu);
        if (whole < n) {
            st->gone = 1;
            if (st->held)       /* else give_up counted them while the write hung */
                st->dropped += n - whole;
        }
        st->writing = 0;
        st->held = 0;
        pthread_cond_broadcast(&st->drained);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int outq_start(void)
{
    pthread_mutex_lock(&mu);
    int ok = 1;
    for (int i = 0; i < 2 && !running; i++)
        if (!streams[i].started) {
            /* outq_flush's bound on the monotonic clock: a wall clock step neither cuts it nor stretches it */
            pthread_condattr_t ca;
            pthread_condattr_init(&ca);
            pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
            pthread_cond_destroy(&streams[i].drained);
            pthread_cond_init(&streams[i].drained, &ca);
            pthread_condattr_destroy(&ca);
            if (thread_start(&streams[i].writer, writer_main, &streams[i]) == 0)
                streams[i].started = 1;
        }
    ok = streams[0].started && streams[1].started;
    running = ok;
    pthread_mutex_unlock(&mu);
    return ok ? 0 : -1;
}

void outq_write(int fd, const char *p, size_t n)
{
    struct stream *st = stream_of(fd);
    if (!st)
        return;
    pthread_mutex_lock(&mu);
    if (!running || stopping) {
        pthread_mutex_unlock(&mu);
        if (write_all(fd, p, n) != n) { /* nowhere left to say it */ }
        return;
    }
    struct chunk *c = NULL;
    if (!st->gone && st->queued + n <= QUEUE_MAX && (c = malloc(sizeof *c + n))) {
        c->next = NULL;
        c->len = n;
        memcpy(c->data, p, n);
        if (st->tail)
            st->tail->next = c;
        else
            st->head = c;
        st->tail = c;
        st->queued += n;
        int64_t now = batching ? clock_mono_ns() : 0;
        if (!batching || st->queued >= BATCH_BYTES || now - st->woken_ns >= BATCH_NS) {
            st->woken_ns = now;
            pthread_cond_signal(&st->more);
        }
    } else {
        st->dropped++;
    }
    pthread_mutex_unlock(&mu);
}

void outq_printf(int fd, const char *fmt, ...)
{
    char buf[4096], *p = buf;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf && (p = malloc((size_t)n + 1))) {     /* a long line, whole */
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (n > 0)
        outq_write(fd, p ? p : buf, p ? (size_t)n : sizeof buf - 1);
    if (p != buf)
        free(p);
}

/* Drops what st holds, counted, and everything written to it later: its reader stopped reading. */
static void give_up(struct stream *st)
{
    while (st->head) {
        struct chunk *c = st->head;
        st->head = c->next;
        st->dropped++;
        st->queued -= c->len;
        free(c);
    }
    st->tail = NULL;
    st->dropped += st->held;    /* what the writer holds, in a write that does not return */
    st->held = 0;
    st->gone = 1;
}

int outq_flush(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);    /* the clock of drained (outq_start) */
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    int all = 1;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 2; i++) {
        struct stream *st = &streams[i];
        int rc = 0;
        pthread_cond_signal(&st->more);     /* what outq_batch left waiting */
        while (running && !st->gone && (st->head || st->writing) && rc == 0)
            rc = pthread_cond_timedwait(&st->drained, &mu, &until);
        if (st->head || (st->writing && !st->gone)) {
            give_up(st);
            all = 0;
        }
    }
    pthread_mutex_unlock(&mu);
    return all ? 0 : -1;
}

void outq_batch(int on)
{
    pthread_mutex_lock(&mu);
    batching = on;
    for (int i = 0; i < 2 && !on; i++)
        pthread_cond_signal(&streams[i].more);
    pthread_mutex_unlock(&mu);
}

long outq_dropped(int fd)
{
    struct stream *st = stream_of(fd);
    if (!st)
        return 0;
    pthread_mutex_lock(&mu);
    long n = st->dropped;
    pthread_mutex_unlock(&mu);
    return n;
}

static void (*stdio_sink)(int fd, const char *p, size_t n) = outq_write;

void outq_stdio_via(void (*fn)(int fd, const char *p, size_t n))
{
    stdio_sink = fn ? fn : outq_write;
}

/* fopencookie's write for stdout and stderr: the bytes go to the queue. */
static ssize_t cookie_write(void *cookie, const char *p, size_t n)
{
    stdio_sink((int)(intptr_t)cookie, p, n);
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
    /* Unbuffered: io.write("x ") then Log("y") reach the queue in that order. */
    setvbuf(out, NULL, _IONBF, 0);
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
    outq_flush(timeout_ms);
    pthread_mutex_lock(&mu);
    stopping = 1;
    int stuck[2];
    for (int i = 0; i < 2; i++) {
        stuck[i] = streams[i].writing;
        pthread_cond_signal(&streams[i].more);
    }
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 2; i++) {
        if (stuck[i])
            pthread_detach(streams[i].writer);  /* stuck writing to a reader that stopped reading: exit ends it */
        else
            pthread_join(streams[i].writer, NULL);
        streams[i].started = 0;
    }
    pthread_mutex_lock(&mu);
    running = 0;
    pthread_mutex_unlock(&mu);
}
