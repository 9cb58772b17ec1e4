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

#include <stdint.h>
#include <lua.h>

struct bot;

struct sched {
    int virtual_;           /* a replay: the clock is now_ns */
    int64_t now_ns;         /* replay: the virtual clock */
    int64_t start_ns;       /* replay: where the clock starts */
    int64_t end_ns;         /* replay: when the market data ends (or --to): bots are stopped there */
    struct bot **bots;
    int nbots;
    int progress;           /* replay: draw a progress bar on stderr */
    long steps;             /* bot resumptions so far: the bench's "bot-iterations" */
    struct market *market;  /* replay: the market whose candles make Sleep(0)'s events (sched_next_event) */
};

/* The scheduler's clock: the virtual time in a replay, CLOCK_MONOTONIC live. Wake times are on this clock. */
int64_t sched_now(const struct sched *s);

/* Replay: Sleep(0)'s wake time for b. When another bot is due now and has not given way itself, now (b runs again
 * after it: b->yielded); else the next moment anything can change for b: the earliest wake time of another bot
 * later than now, or the close of the market's next candle, whichever comes first. So a Sleep(0) polling loop
 * sees what other bots publish at the time they publish it, and always moves the clock forward. */
int64_t sched_next_event(const struct sched *s, struct bot *b);

/* Work on another thread (an HTTP request): a C function that can await (sched_can_await: a live bot's own
 * coroutine) starts the work, then returns sched_await(L, deadline, ctx, k). Its bot yields and other bots run;
 * it is resumed in k when the deadline passes or when any awaited work signals sched_notify() (k checks whether
 * its own work is done, and awaits again if not). Where it cannot await, the function blocks its thread instead. */
int sched_can_await(lua_State *L);
int sched_await(lua_State *L, int64_t deadline_ns, lua_KContext ctx, lua_KFunction k);
void sched_notify(void);        /* any thread */

/* Starts every bot and runs them until all are done. Returns the exit status: 128+N after signal N, else the
 * first non-zero status of a bot in order, else 0. */
int sched_run(struct sched *s);

#endif
