/*
 * engine.c: the channel engine: a hash table of channels under one mutex, and the background thread that does
 * all backend work (pushes the latest outgoing states, coalesced; follows subscribed channels), or, for a backend
 * that runs on the caller's thread (backend.h), the same work done at once by the caller.
 *
 * The strategy's thread only copies bytes under the lock. A reader's fast path (nothing new) reads one atomic
 * seq and takes no lock at all.
 */
#include "core/engine.h"
#include "core/redact.h"
#include "core/thread.h"
#include "core/chanid.h"
#include "core/clock.h"
#include "core/logsink.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKEND_FDS 8
/* The seq floor a publisher saves runs this far ahead of the seq it publishes, so the backend writes it about once
 * a minute, not with every state. A seq already ahead of the clock (just after a restart, or a clock behind) is
 * saved as it is, with every state, so restarts in a row never push seq more than this ahead of the clock. */
#define SEQ_AHEAD_US INT64_C(60000000)

struct chan_out {               /* a channel this process publishes */
    int dirty;                  /* a state waits to be written */
    int based;                  /* the backend's stored seq has been read */
    int64_t floor;              /* the seq floor the backend holds for it (save_seq); 0: none saved yet */
    int64_t last_seq;
    int64_t seq, published;
    size_t len;
    char data[CHAN_MAX + 1];
};

struct chan_entry {
    struct chan_entry *next;    /* hash chain */
    struct chan_entry *all;     /* every entry, for close and retries */
    struct chan_entry *qnext;   /* the work queue */
    int queued;
    uint32_t hash;
    int follow;                 /* some bot reads it */
    int announced;              /* the backend was told to follow it */
    _Atomic int64_t seq;        /* of the state in data; written under the lock */
    int64_t published, received_us;
    size_t len;
    char data[CHAN_MAX + 1];
    struct chan_out *out;
    char *refused;              /* why the backend refused this channel, until it works again */
    atomic_int has_refused;     /* refused != NULL, readable without the lock */
    char id[ID_MAX + 1];
};

struct engine {
    pthread_mutex_t mu;
    pthread_cond_t done;        /* the thread has exited */
    pthread_t thread;
    int has_thread, thread_done;
    int wake_fd;
    atomic_int wake_pending;    /* a wake-up is already on its way: skip the syscall */
    atomic_int kick;            /* work was queued and the thread not yet woken for it (engine_kick) */
    int stop;
    struct chan_entry *qhead, *qtail;   /* entries with a new subscription or a state to write */

    struct chan_entry **buckets;
    size_t nbuckets, count;
    struct chan_entry *all;

    const struct backend_ops *ops;
    void *be;
    struct backend_host host;
};

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* Under the lock. */
static struct chan_entry *find(struct engine *e, const char *id, uint32_t h)
{
    for (struct chan_entry *c = e->buckets[h & (e->nbuckets - 1)]; c; c = c->next)
        if (c->hash == h && strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

/* Queues c for the thread, once. Under the lock. */
static void enqueue(struct engine *e, struct chan_entry *c)
{
    if (c->queued)
        return;
    c->queued = 1;
    c->qnext = NULL;
    if (e->qtail)
        e->qtail->qnext = c;
    else
        e->qhead = c;
    e->qtail = c;
}

static void grow(struct engine *e)
{
    size_t n = e->nbuckets * 2;
    struct chan_entry **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;     /* chains just get longer */
    for (struct chan_entry *c = e->all; c; c = c->all) {
        c->next = nb[c->hash & (n - 1)];
        nb[c->hash & (n - 1)] = c;
    }
    free(e->buckets);
    e->buckets = nb;
    e->nbuckets = n;
}

static void wake(struct engine *e)
{
    if (e->wake_fd < 0 || atomic_exchange(&e->wake_pending, 1))
        return;
    uint64_t one = 1;
    if (write(e->wake_fd, &one, sizeof one) < 0) { /* the counter is already non-zero */ }
}

/* Stores a state that arrived, if newer. Under the lock. */
static void store_locked(struct chan_entry *c, const char *json, size_t len, int64_t seq, int64_t published,
                         int64_t received_us)
{
    if (len > CHAN_MAX || seq <= atomic_load_explicit(&c->seq, memory_order_relaxed))
        return;
    memcpy(c->data, json, len);
    c->data[len] = '\0';
    c->len = len;
    c->published = published;
    c->received_us = received_us;
    atomic_store_explicit(&c->seq, seq, memory_order_release);
}

/* backend_host.deliver: on the engine thread (or the caller's, for a backend on_caller_thread). */
static void host_deliver(void *ctx, const char *id, const char *json, size_t len, int64_t seq, int64_t published,
                         int64_t received_us)
{
    struct engine *e = ctx;
    pthread_mutex_lock(&e->mu);
    struct chan_entry *c = find(e, id, hash_id(id));
    if (c && c->follow)
        store_locked(c, json, len, seq, published, received_us);
    pthread_mutex_unlock(&e->mu);
}

static void host_refused(void *ctx, const char *id, const char *why)
{
    struct engine *e = ctx;
    pthread_mutex_lock(&e->mu);
    struct chan_entry *c = find(e, id, hash_id(id));
    if (c) {
        free(c->refused);
        c->refused = why ? strdup(why) : NULL;
        atomic_store(&c->has_refused, c->refused != NULL);
    }
    pthread_mutex_unlock(&e->mu);
}

static int host_wanted(void *ctx, const char *id)
{
    struct engine *e = ctx;
    pthread_mutex_lock(&e->mu);
    struct chan_entry *c = find(e, id, hash_id(id));
    int wanted = c && c->follow;
    pthread_mutex_unlock(&e->mu);
    return wanted;
}

/* ---- the background thread ---- */

/* Works through the queue: announces new subscriptions, writes the newest state of each dirty output. Returns 1
 * if a write failed (it stays dirty and is tried again after a pause). On the engine thread, or on the caller's
 * for a backend on_caller_thread (dispatch). */
static int drain(struct engine *e)
{
    char id[ID_MAX + 1];
    struct chan_out o;
    int failed = 0;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        struct chan_entry *c = e->qhead;
        if (!c) {
            pthread_mutex_unlock(&e->mu);
            return failed;
        }
        e->qhead = c->qnext;
        if (!e->qhead)
            e->qtail = NULL;
        c->queued = 0;
        int sub = c->follow && !c->announced && !e->stop;    /* stopping: nobody will read what follows */
        c->announced |= sub;
        int pub = c->out && c->out->dirty;
        int based = pub && c->out->based;
        memcpy(id, c->id, sizeof id);
        pthread_mutex_unlock(&e->mu);

        if (sub)
            e->ops->subscribe(e->be, id);
        if (!pub)
            continue;
        /* Entries live as long as the engine, so c stays valid outside the lock. */
        int64_t stored = based ? 0 : e->ops->stored_seq(e->be, id);
        pthread_mutex_lock(&e->mu);
        if (stored < 0) {
            /* The backend cannot tell now: nothing is written before it can, or the seq could go back. */
            pthread_mutex_unlock(&e->mu);
            failed = 1;
            continue;
        }
        if (!based) {
            /* A restarted publisher continues above what the backend holds, whatever its clock says. */
            c->out->based = 1;
            if (stored >= c->out->seq)
                c->out->seq = stored + 1;
            if (c->out->last_seq < c->out->seq)
                c->out->last_seq = c->out->seq;
        }
        c->out->dirty = 0;
        o = *c->out;
        pthread_mutex_unlock(&e->mu);
        /* The floor first: a state is never visible with a seq above what a restart would continue from. A
         * floor the backend cannot keep is said by the backend, and the state is written all the same. */
        int64_t floor = o.seq > clock_wall_us() ? o.seq : o.seq + SEQ_AHEAD_US;
        if (o.seq > o.floor && e->ops->save_seq(e->be, id, floor) == 0) {
            pthread_mutex_lock(&e->mu);
            if (c->out->floor < floor)
                c->out->floor = floor;
            pthread_mutex_unlock(&e->mu);
        }
        if (e->ops->publish(e->be, id, o.data, o.len, o.seq, o.published) != 0) {
            /* Kept for a retry unless a newer state replaced it meanwhile (that one is queued already). */
            pthread_mutex_lock(&e->mu);
            if (c->out->seq == o.seq)
                c->out->dirty = 1;
            pthread_mutex_unlock(&e->mu);
            failed = 1;
        }
    }
}

/* After a pause: queues every output still dirty. */
static void requeue_dirty(struct engine *e)
{
    pthread_mutex_lock(&e->mu);
    for (struct chan_entry *c = e->all; c; c = c->all)
        if (c->out && c->out->dirty)
            enqueue(e, c);
    pthread_mutex_unlock(&e->mu);
}

static void *engine_main(void *arg)
{
    struct engine *e = arg;
    /* When a write failed: the time its output is queued again. A deadline, not a poll timeout, so that other
     * work waking the thread (a publish, a new follow) neither forgets the failed write nor puts it off. */
    int64_t retry_at = 0;
    for (;;) {
        struct pollfd p[1 + MAX_BACKEND_FDS];
        p[0] = (struct pollfd){e->wake_fd, POLLIN, 0};
        int nfds = 1 + e->ops->pollfds(e->be, p + 1, MAX_BACKEND_FDS);
        int timeout = e->ops->timeout_ms(e->be);
        if (retry_at) {
            int64_t left = retry_at - clock_mono_ms();
            left = left < 0 ? 0 : left;
            if (timeout < 0 || timeout > left)
                timeout = (int)left;
        }
        int n = poll(p, (nfds_t)nfds, timeout);
        if (n < 0 && errno != EINTR)
            log_thread_warning("channel engine: poll failed: %s", strerror(errno));
        if (n > 0 && (p[0].revents & POLLIN)) {
            uint64_t v;
            if (read(e->wake_fd, &v, sizeof v) < 0) { /* EAGAIN: nothing to read */ }
            atomic_store(&e->wake_pending, 0);
        }
        int ready = n == 0 || timeout == 0;     /* a backend timer that is due runs even when the wake fd is ready */
        for (int i = 1; i < nfds && n > 0; i++)
            ready |= p[i].revents != 0;
        if (ready)
            e->ops->service(e->be);
        if (retry_at && clock_mono_ms() >= retry_at) {
            requeue_dirty(e);
            retry_at = 0;
        }
        if (drain(e) && !retry_at)
            retry_at = clock_mono_ms() + 100;
        pthread_mutex_lock(&e->mu);
        int stop = e->stop && !e->qhead;
        pthread_mutex_unlock(&e->mu);
        if (stop && !retry_at)
            break;
        if (stop) {
            /* Stopping with a write that keeps failing: engine_close gives up at its deadline. */
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
            retry_at = clock_mono_ms();
        }
    }
    pthread_mutex_lock(&e->mu);
    e->thread_done = 1;
    pthread_cond_signal(&e->done);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* Work was queued by the caller. A backend on the caller's thread does it here and now; otherwise the engine
 * thread does it when woken: by engine_kick, or at once when a previous state is still waiting (kick was set). */
static void dispatch(struct engine *e, int urgent)
{
    if (e->ops->on_caller_thread)
        drain(e);
    else if (atomic_exchange(&e->kick, 1) && urgent)
        engine_kick(e);
}

/* ---- the API ---- */

/* The engine still open when the process exits through os.exit() rather than main's return: it is flushed
 * all the same. */
static struct engine *open_engine;

static void close_at_exit(void)
{
    struct engine *e = open_engine;
    if (e)
        engine_close(e, 1000);
}

static const struct backend_ops *const backends[] = {&backend_local, &backend_memory, &backend_redis, NULL};

struct engine *engine_open(const char *url, const char *data_dir, char *err, size_t errlen)
{
    const char *colon = strchr(url, ':');
    size_t slen = colon ? (size_t)(colon - url) : strlen(url);
    for (int i = 0; backends[i]; i++)
        if (strlen(backends[i]->scheme) == slen && strncmp(url, backends[i]->scheme, slen) == 0)
            return engine_open_backend(backends[i], colon ? colon + 1 : "", data_dir, err, errlen);
    char shown[300];
    snprintf(err, errlen, "unknown channel backend '%s' (allowed: local, local:DIR, memory, "
             "redis://[user:password@]host:port[/db])", redact_url(url, shown, sizeof shown));
    return NULL;
}

struct engine *engine_open_backend(const struct backend_ops *ops, const char *arg, const char *data_dir, char *err,
                                   size_t errlen)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e || !(e->buckets = calloc(64, sizeof *e->buckets))) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->nbuckets = 64;
    e->wake_fd = -1;
    e->ops = ops;
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca;      /* the stop's deadline on the monotonic clock: a wall clock step neither cuts it
                                 * short nor stretches it */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->done, &ca);
    pthread_condattr_destroy(&ca);
    e->host = (struct backend_host){e, host_deliver, host_wanted, host_refused};
    e->be = ops->open(arg, data_dir, &e->host, err, errlen);
    if (!e->be)
        goto fail;
    if (ops->on_caller_thread)
        goto opened;
    e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->wake_fd < 0) {
        snprintf(err, errlen, "cannot create the channel engine's eventfd: %s", strerror(errno));
        goto fail;
    }
    int rc = thread_start(&e->thread, engine_main, e);     /* signals go to the strategy's thread */
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the channel engine's thread: %s", strerror(rc));
        goto fail;
    }
    e->has_thread = 1;
opened:
    if (!open_engine) {
        static int registered;
        if (!registered++)
            atexit(close_at_exit);
        open_engine = e;
    }
    return e;
fail:
    if (e->be)
        ops->close(e->be);
    if (e->wake_fd >= 0)
        close(e->wake_fd);
    free(e->buckets);
    free(e);
    return NULL;
}

void engine_close(struct engine *e, int wait_ms)
{
    if (!e)
        return;
    if (open_engine == e)
        open_engine = NULL;
    if (e->has_thread) {
        pthread_mutex_lock(&e->mu);
        e->stop = 1;
        pthread_mutex_unlock(&e->mu);
        atomic_store(&e->wake_pending, 0);
        wake(e);
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += wait_ms / 1000;
        dl.tv_nsec += (long)(wait_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&e->mu);
        while (!e->thread_done)
            if (pthread_cond_timedwait(&e->done, &e->mu, &dl) == ETIMEDOUT)
                break;
        int done = e->thread_done;
        pthread_mutex_unlock(&e->mu);
        if (!done) {
            /* The backend is stuck: leave the thread (and so the engine) to the process's exit. */
            log_thread_warning("channel engine: the last state was not written within %d ms; giving up", wait_ms);
            return;
        }
        pthread_join(e->thread, NULL);
    }
    e->ops->close(e->be);
    for (struct chan_entry *c = e->all, *n; c; c = n) {
        n = c->all;
        free(c->out);
        free(c->refused);
        free(c);
    }
    if (e->wake_fd >= 0)
        close(e->wake_fd);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->done);
    free(e->buckets);
    free(e);
}

struct chan_entry *engine_channel(struct engine *e, const char *id, int follow)
{
    uint32_t h = hash_id(id);
    int announce = 0;
    pthread_mutex_lock(&e->mu);
    struct chan_entry *c = find(e, id, h);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) {
            pthread_mutex_unlock(&e->mu);
            return NULL;
        }
        strncpy(c->id, id, ID_MAX);
        c->hash = h;
        c->next = e->buckets[h & (e->nbuckets - 1)];
        e->buckets[h & (e->nbuckets - 1)] = c;
        c->all = e->all;
        e->all = c;
        if (++e->count > e->nbuckets)
            grow(e);
    }
    if (follow && !c->follow) {
        c->follow = 1;
        announce = 1;
        enqueue(e, c);
    }
    pthread_mutex_unlock(&e->mu);
    if (announce)
        dispatch(e, 0);
    return c;
}

int64_t engine_publish(struct engine *e, struct chan_entry *c, const char *json, size_t len, int64_t now_us)
{
    pthread_mutex_lock(&e->mu);
    if (!c->out && !(c->out = calloc(1, sizeof *c->out))) {
        pthread_mutex_unlock(&e->mu);
        return 0;
    }
    struct chan_out *o = c->out;
    int64_t seq = o->last_seq + 1 > now_us ? o->last_seq + 1 : now_us;
    o->last_seq = seq;
    o->seq = seq;
    o->published = now_us / 1000;
    o->len = len;
    memcpy(o->data, json, len);
    o->data[len] = '\0';
    o->dirty = 1;
    enqueue(e, c);
    pthread_mutex_unlock(&e->mu);
    /* Waking the thread costs a syscall and a context switch: it is left to engine_kick (the strategy is about
     * to sleep), unless a previous state is still waiting for it. */
    dispatch(e, 1);
    return seq;
}

void engine_kick(struct engine *e)
{
    if (e && atomic_exchange(&e->kick, 0))
        wake(e);
}

int64_t engine_seq(const struct chan_entry *c)
{
    return atomic_load_explicit(&c->seq, memory_order_acquire);
}

int64_t engine_read(struct engine *e, struct chan_entry *c, struct chan_state *out)
{
    pthread_mutex_lock(&e->mu);
    int64_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
    out->seq = seq;
    out->published = c->published;
    out->received_us = c->received_us;
    out->len = c->len;
    memcpy(out->data, c->data, c->len);
    out->data[c->len] = '\0';
    pthread_mutex_unlock(&e->mu);
    return seq;
}

int engine_refused(struct engine *e, struct chan_entry *c, char *why, size_t size)
{
    if (!atomic_load_explicit(&c->has_refused, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&e->mu);
    int refused = c->refused != NULL;
    if (refused)
        snprintf(why, size, "%s", c->refused);
    pthread_mutex_unlock(&e->mu);
    return refused;
}

int engine_claim(struct engine *e, const char *id, char *err, size_t errlen)
{
    return e->ops->claim ? e->ops->claim(e->be, id, err, errlen) : 0;
}

const char *engine_backend_name(const struct engine *e)
{
    return e->ops->scheme;
}
