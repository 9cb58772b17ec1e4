/*
 * backend_memory.c: channels within one process (several bots in one stratrun, replay). Nothing leaves the
 * process: the backend keeps the latest state of every channel published here, and runs on the caller's thread
 * (backend.h: on_caller_thread), so a state is delivered to the followers on the publisher's thread, at once,
 * and a replay sees the same order every run.
 */
#include "core/backend.h"
#include "core/chanid.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mem_chan {               /* one channel published in this process */
    struct mem_chan *next;
    int64_t seq, published;
    size_t len;
    char id[ID_MAX + 1];
    char data[CHAN_MAX];
};

struct memory {
    pthread_mutex_t mu;         /* publishers and followers may be on different threads */
    struct mem_chan *chans;     /* a list: a process publishes one channel per bot, a few dozen at most */
    const struct backend_host *host;
};

/* Under the lock. */
static struct mem_chan *find(struct memory *m, const char *id)
{
    for (struct mem_chan *c = m->chans; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static void *mem_open(const char *arg, const char *data_dir, const struct backend_host *host, char *err,
                      size_t errlen)
{
    (void)data_dir;
    if (arg[0]) {
        snprintf(err, errlen, "channel backend 'memory' takes no argument (got 'memory:%s')", arg);
        return NULL;
    }
    struct memory *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->host = host;
    return m;
}

static int mem_pollfds(void *be, struct pollfd *fds, int max)
{
    (void)be, (void)fds, (void)max;
    return 0;
}

static int mem_timeout_ms(void *be)
{
    (void)be;
    return -1;
}

static void mem_service(void *be)
{
    (void)be;
}

/* Keeps the state unless a newer one is held, and delivers it: received when published, on the publisher's clock
 * (a replay's virtual one). */
static int mem_publish(void *be, const char *id, const char *json, size_t len, int64_t seq, int64_t published)
{
    struct memory *m = be;
    if (len > CHAN_MAX)
        return -1;
    pthread_mutex_lock(&m->mu);
    struct mem_chan *c = find(m, id);
    if (!c && (c = calloc(1, sizeof *c))) {
        snprintf(c->id, sizeof c->id, "%s", id);
        c->next = m->chans;
        m->chans = c;
    }
    int newer = c && seq > c->seq;
    if (newer) {
        memcpy(c->data, json, len);
        c->len = len;
        c->seq = seq;
        c->published = published;
    }
    pthread_mutex_unlock(&m->mu);
    if (!c)
        return -1;
    if (newer)
        m->host->deliver(m->host->ctx, id, json, len, seq, published, published * 1000);
    return 0;
}

/* Delivers the state published here before the bot followed the channel, if any. */
static void mem_subscribe(void *be, const char *id)
{
    struct memory *m = be;
    char data[CHAN_MAX];
    size_t len = 0;
    int64_t seq = 0, published = 0;
    pthread_mutex_lock(&m->mu);
    struct mem_chan *c = find(m, id);
    if (c) {
        memcpy(data, c->data, c->len);
        len = c->len, seq = c->seq, published = c->published;
    }
    pthread_mutex_unlock(&m->mu);
    if (seq)
        m->host->deliver(m->host->ctx, id, data, len, seq, published, published * 1000);
}

static int64_t mem_stored_seq(void *be, const char *id)
{
    struct memory *m = be;
    pthread_mutex_lock(&m->mu);
    struct mem_chan *c = find(m, id);
    int64_t seq = c ? c->seq : 0;
    pthread_mutex_unlock(&m->mu);
    return seq;
}

/* The process's table outlives no publisher: nothing to keep. */
static int mem_save_seq(void *be, const char *id, int64_t floor)
{
    (void)be, (void)id, (void)floor;
    return 0;
}

static void mem_close(void *be)
{
    struct memory *m = be;
    for (struct mem_chan *c = m->chans, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

const struct backend_ops backend_memory = {
    .scheme = "memory",
    .on_caller_thread = 1,
    .open = mem_open,
    .pollfds = mem_pollfds,
    .timeout_ms = mem_timeout_ms,
    .service = mem_service,
    .publish = mem_publish,
    .subscribe = mem_subscribe,
    .stored_seq = mem_stored_seq,
    .save_seq = mem_save_seq,
    .close = mem_close,
};
