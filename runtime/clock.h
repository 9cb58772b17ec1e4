/*
 * clock.h: the bot's clock. Live bots read the wall clock; every timestamp the runtime hands a strategy (Log
 * lines, Unix, UnixNano, _D, channel metadata) comes from here, so a replay only has to swap this.
 */
#ifndef STRATRUN_CLOCK_H
#define STRATRUN_CLOCK_H

#include <stdint.h>
#include <time.h>

struct bot;

/* A bot in a replay: its virtual time. A live bot, or NULL (threads that have no bot): the wall clock. */
int64_t clock_now_ns(const struct bot *b);

static inline int64_t clock_now_us(const struct bot *b)
{
    return clock_now_ns(b) / 1000;
}

static inline int64_t clock_now_ms(const struct bot *b)
{
    return clock_now_ns(b) / 1000000;
}

/* CLOCK_MONOTONIC: for the runtime's own deadlines (retries, reconnects, polling, HTTP timeouts), which are real
 * time in a replay too. */
static inline int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t clock_mono_ms(void)
{
    return clock_mono_ns() / 1000000;
}

#endif
