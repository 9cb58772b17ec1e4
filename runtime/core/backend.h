/*
 * backend.h: the small vtable a channel backend implements, and what the engine offers it in return.
 *
 * The engine (engine.c) owns the one background thread of the process. Every function of a backend except
 * open runs on that thread, so a backend may block (a slow disk, a stuck server) without ever blocking a
 * strategy; the one exception is a backend that declares on_caller_thread (memory). A backend never sees Lua:
 * states cross as bytes of JSON of at most CHAN_MAX bytes. Every function of the vtable is required but claim.
 */
#ifndef STRATRUN_BACKEND_H
#define STRATRUN_BACKEND_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define CHAN_MAX 1024       /* bytes of JSON in one channel state */

struct backend_host {
    void *ctx;
    /* Hands the engine a state read from the backend. json need not be NUL-terminated; the engine copies it.
     * received_us: when the state reached this process, µs since the epoch (strategies see it as the state's
     * `received`): the wall clock for a backend outside the process, the publisher's clock for one inside it.
     * The engine drops it when no bot follows id, when len > CHAN_MAX, or when seq is not newer than the state
     * it holds, so a backend may deliver duplicates and stale states freely. Takes the engine's lock briefly. */
    void (*deliver)(void *ctx, const char *id, const char *json, size_t len, int64_t seq, int64_t published_ms,
                    int64_t received_us);
    /* Does a bot of this process follow id? Cheap (a hash lookup). */
    int (*wanted)(void *ctx, const char *id);
    /* The backend refused an operation on channel id for a reason the strategy must hear of (a permission the
     * server denies): why is one line; NULL clears it once the operation works. The next SetChannelData (own
     * channel) or GetChannelData (a followed one) returns nil and that line. */
    void (*refused)(void *ctx, const char *id, const char *why);
};

struct backend_ops {
    const char *scheme;     /* "local", "memory": the part of the channel URL before ':' */
    /* 0: the engine starts its background thread and calls every function below (but open) there. 1: there is
     * no thread: the engine calls stored_seq and publish inside engine_publish, and subscribe inside
     * engine_channel, on the caller's thread, so a state reaches the followers before SetChannelData returns and a
     * replay sees the same order every run. Such a backend must never block and may be called from several
     * threads at once; pollfds, timeout_ms and service are never called; a failed publish is not retried (the
     * next state replaces it). */
    int on_caller_thread;

    /* Called once, on the main thread at start-up. arg is the URL after "scheme:" ("" when absent). Must not
     * block for long. Returns the backend's state, or NULL with one line in err (a configuration error). */
    void *(*open)(const char *arg, const char *data_dir, const struct backend_host *host, char *err, size_t errlen);

    /* Fills fds (at most max) with the descriptors the engine polls, and the events wanted on each; returns how
     * many. When one is ready, or timeout_ms passes, the engine calls service. */
    int (*pollfds)(void *be, struct pollfd *fds, int max);

    /* Milliseconds until service wants to run again without fd activity (reconnects, refreshes); -1: never. */
    int (*timeout_ms)(void *be);

    /* Reads whatever arrived and delivers it; runs timers. */
    void (*service)(void *be);

    /* Makes (json, seq, published_ms) the state of channel id, replacing the previous one. Returns 0, or -1 after
     * logging why (the engine tries again with the next state, or after timeout_ms). */
    int (*publish)(void *be, const char *id, const char *json, size_t len, int64_t seq, int64_t published_ms);

    /* Starts following id and delivers its current state if there is one. */
    void (*subscribe)(void *be, const char *id);

    /* The highest seq the backend holds for id, from its stored state or the floor save_seq left, 0 when none: a
     * restarted publisher continues above it. -1: the backend cannot tell now (unreachable); the engine writes
     * nothing for id before it can. */
    int64_t (*stored_seq)(void *be, const char *id);

    /* Keeps floor, a seq at least the highest id has published, where it outlives the state itself (a Redis key
     * without TTL, a file beside the channel file), for stored_seq. Called before a state whose seq passes the
     * last floor is written; the engine saves floors ahead of its seq, so this runs about once a minute per
     * channel. Returns 0, or -1 after saying why (once per condition). */
    int (*save_seq)(void *be, const char *id, int64_t floor);

    void (*close)(void *be);

    /* Optional (NULL: nothing to do). Called on the main thread when a bot of this process takes channel id as its
     * own, before it runs: makes sure no other process publishes id (local: an flock held until close). Returns 0,
     * or -1 with one line in err naming the holder. Never called concurrently with itself. */
    int (*claim)(void *be, const char *id, char *err, size_t errlen);
};

extern const struct backend_ops backend_local;
extern const struct backend_ops backend_memory;
extern const struct backend_ops backend_redis;

#endif
