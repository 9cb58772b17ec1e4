/*
 * clock.h: the process's clocks. CLOCK_MONOTONIC for every wait and deadline (a step of the wall clock neither
 * freezes nor rushes anything), the wall clock for timestamps. A bot's own clock (virtual in a replay) is
 * clock_now_ns in lua/ctx.h.
 */
#ifndef STRATRUN_CLOCK_H
#define STRATRUN_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t clock_wall_us(void)
{
    return clock_wall_ns() / 1000;
}

static inline int64_t clock_wall_ms(void)
{
    return clock_wall_ns() / 1000000;
}

/* The whole seconds of a time in ms, floored: its ms part (ms - s * 1000) is never negative, before 1970 too. */
static inline int64_t clock_floor_s(int64_t ms)
{
    return ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
}

/* CLOCK_MONOTONIC: for the runtime's own deadlines (retries, reconnects, polling, HTTP timeouts, Sleep), which are
 * real time in a replay too. */
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
