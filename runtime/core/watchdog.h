/*
 * watchdog.h: watches the steps of one thread (the scheduler's) from another thread, and sends that thread a
 * signal when a step has run longer than a slice, and again every slice while it still runs. The signal handler
 * decides what an overrun means (bot.c: preempt the bot, end it, warn). Knows neither bots nor Lua.
 *
 * A step's start and end cost two atomic operations and a clock read; the watchdog thread sleeps while no step
 * runs, so an idle process stays idle.
 */
#ifndef STRATRUN_WATCHDOG_H
#define STRATRUN_WATCHDOG_H

#include <stdint.h>

/* Starts watching the calling thread: sig is sent to it on each overrun of slice_ns. Returns 0, or -1 (no thread:
 * steps then run unwatched). */
int watchdog_start(int sig, int64_t slice_ns);

/* Stops the watchdog thread (steps are no longer watched). */
void watchdog_stop(void);

/* The watched thread starts a step, or ends it. */
void watchdog_begin(void);
void watchdog_end(void);

#endif
