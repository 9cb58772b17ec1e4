/*
 * engine.h: the channel engine, one per process. It keeps the latest state of every channel a bot of this
 * process follows, and pushes the states this process publishes, through one backend (backend.h) on one
 * background thread. The calls below touch only memory under a short lock: they never wait for the backend.
 */
#ifndef STRATRUN_ENGINE_H
#define STRATRUN_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

struct engine;
struct chan_entry;

struct chan_state {
    int64_t seq;            /* grows with every state the publisher sets; 0: no state yet */
    int64_t published;      /* ms since the epoch, on the publisher's clock */
    int64_t received_us;    /* µs since the epoch, when this process got it */
    size_t len;
    char data[CHAN_MAX + 1];
};

/* Parses the channel URL ("local", "local:DIR", "memory", "redis://...") and starts the engine. Returns NULL with one line in
 * err when the URL is not one of those or the backend cannot start. */
struct engine *engine_open(const char *url, const char *data_dir, char *err, size_t errlen);

/* The same with the backend given directly (tests and benchmarks bring their own). arg is what follows "scheme:". */
struct engine *engine_open_backend(const struct backend_ops *ops, const char *arg, const char *data_dir, char *err,
                                   size_t errlen);

/* Stops the engine after pushing the last published states out, waiting at most wait_ms for the backend. */
void engine_close(struct engine *e, int wait_ms);

/* The entry of channel id (validated by the caller), created on first use. With follow, the backend starts
 * following it (on the engine thread, soon). Entries live as long as the engine. NULL only when out of memory. */
struct chan_entry *engine_channel(struct engine *e, const char *id, int follow);

/* Makes json (len <= CHAN_MAX, already valid) the latest state of channel c and returns its seq: the larger of
 * the previous seq + 1 and now_us. Coalesces: if the background thread has not written the previous state yet,
 * only this one is written. The thread is woken by the next engine_kick, or by the next publish. */
int64_t engine_publish(struct engine *e, struct chan_entry *c, const char *json, size_t len, int64_t now_us);

/* Wakes the background thread if work was queued since the last kick. The strategy's thread calls it before it
 * waits (Sleep, the scheduler), so the wake-up's syscall and context switch fall where the strategy idles anyway,
 * not inside SetChannelData. Anything that blocks the strategy's thread must call it first. */
void engine_kick(struct engine *e);

/* The seq of c's newest state, without taking the lock. */
int64_t engine_seq(const struct chan_entry *c);

/* Copies c's newest state into out. Returns its seq (0: none yet). */
int64_t engine_read(struct engine *e, struct chan_entry *c, struct chan_state *out);

/* Whether the backend refused channel c (backend_host.refused); if so, copies why. One atomic read when it was not. */
int engine_refused(struct engine *e, struct chan_entry *c, char *why, size_t size);

const char *engine_backend_name(const struct engine *e);

/* A bot of this process publishes channel id: the backend refuses it (-1, one line in err) when another process
 * publishes id already (local: its PID named). Main thread, before the bot runs. */
int engine_claim(struct engine *e, const char *id, char *err, size_t errlen);

#endif
