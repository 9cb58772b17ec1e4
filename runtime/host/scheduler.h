/*
 * scheduler.h: the scheduler that runs one or several bots in one process. Each bot's lifecycle runs in coroutines
 * that Sleep yields; the scheduler always resumes the bot whose wake time is earliest (ties: the order the bots
 * were given). Live, it waits on CLOCK_MONOTONIC, so a step of the wall clock neither freezes nor rushes a bot,
 * and a bot that runs past its time slice without Sleep is preempted (bot.c's hook), so the others keep their
 * turns; in a replay the clock is virtual: it jumps to the next wake time, so a year of minutes replays in seconds,
 * and the same inputs replay the same way every time.
 */
#ifndef STRATRUN_SCHEDULER_H
#define STRATRUN_SCHEDULER_H

#include "lua/ctx.h"

/* Starts every bot and runs them until all are done. Returns the exit status: 128+N after signal N, else the
 * first non-zero status of a bot in order, else 0. */
int sched_run(struct sched *s);

#endif
