/*
 * backend_memory.c: channels within one process (several bots in one stratrun, replay). The engine's own
 * table is the store: a state is delivered to the followers on the publisher's thread, at once, so a replay
 * sees the same order every run. Nothing leaves the process.
 */
#include "backend.h"

#include <stdio.h>

static void *mem_open(const char *arg, const char *data_dir, const struct backend_host *host, char *err,
                      size_t errlen)
{
    (void)data_dir;
    (void)host;
    if (arg[0]) {
        snprintf(err, errlen, "channel backend 'memory' takes no argument (got 'memory:%s')", arg);
        return NULL;
    }
    static int token;   /* any non-NULL pointer: the backend has no state of its own */
    return &token;
}

static int mem_pollfds(void *be, struct pollfd *fds, int max)
{
    (void)be, (void)fds, (void)max;
    return 0;
}

static void mem_noop(void *be)
{
    (void)be;
}

static void mem_subscribe(void *be, const char *id)
{
    (void)be;
    (void)id;
}

static int mem_publish(void *be, const char *id, const char *json, size_t len, int64_t seq, int64_t published)
{
    (void)be, (void)id, (void)json, (void)len, (void)seq, (void)published;
    return 0;   /* never called: the engine delivers inline */
}

const struct backend_ops backend_memory = {
    .scheme = "memory",
    .inline_delivery = 1,
    .open = mem_open,
    .pollfds = mem_pollfds,
    .timeout_ms = NULL,
    .service = mem_noop,
    .publish = mem_publish,
    .subscribe = mem_subscribe,
    .stored_seq = NULL,
    .close = mem_noop,
};
