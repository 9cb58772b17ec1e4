/*
 * scheduler.c: runs the bots of a process: earliest wake time first, on the real clock or on a virtual one.
 */
#include "host/scheduler.h"
#include "core/termpanel.h"
#include "host/bot.h"
#include "core/clock.h"
#include "core/engine.h"
#include "core/timeparse.h"
#include "lua/log.h"
#include "lua/venue.h"
#include "data/market.h"
#include "core/outq.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define HOOK_LIMIT_NS (300 * (int64_t)1000000000)   /* replay: onexit's time after the end, as the platforms allow */

int64_t sched_now(const struct sched *s)
{
    return s->virtual_ ? s->now_ns : clock_mono_ns();
}

int64_t sched_next_event(const struct sched *s, struct bot *b)
{
    int64_t now = s->now_ns, next = INT64_MAX;
    for (int i = 0; i < s->nbots; i++) {
        const struct bot *o = s->bots[i];
        if (o == b || o->phase == PHASE_DONE)
            continue;
        if (o->wake_ns <= now && !o->yielded) {
            b->yielded = 1;     /* another bot is due now: it runs first, then b again at the same time */
            return now;
        }
        if (o->wake_ns > now && o->wake_ns < next)
            next = o->wake_ns;
    }
    if (s->market) {
        /* The close of the candle after the latest closed one: when the market next shows something new. */
        long i = market_at(s->market, now / 1000000);
        struct candle c;
        if (market_candle(s->market, i + 1, &c) == 0) {
            int64_t close = (c.time + market_period(s->market)) * 1000000;
            if (close > now && close < next)
                next = close;
        }
    }
    if (next == INT64_MAX)
        next = s->end_ns + 1;   /* nothing will ever change: the end of the replay */
    return next > now ? next : now + 1000000;  /* after the end (onexit): a millisecond, so the clock still moves */
}

/* The progress bar: redrawn when the percentage changes or a log line erased it (log_write), with the time it
 * should still take at the pace so far. */
static void progress(struct sched *s, int *shown)
{
    int pct = s->end_ns > s->start_ns ? (int)((s->now_ns - s->start_ns) * 100 / (s->end_ns - s->start_ns)) : 100;
    if (pct > 100)
        pct = 100;
    if (pct == *shown && s->progress_drawn)
        return;
    *shown = pct;
    char bar[41];
    for (int i = 0; i < 40; i++)
        bar[i] = i < pct * 40 / 100 ? '#' : '.';
    bar[40] = '\0';
    char when[32], eta[32] = "";
    time_format_utc(s->now_ns / 1000000, TIME_MINUTE, when, sizeof when);
    double done = s->end_ns > s->start_ns ? (double)(s->now_ns - s->start_ns) / (double)(s->end_ns - s->start_ns) : 1;
    double spent = (double)(clock_mono_ns() - s->progress_t0) / 1e9;
    if (done > 0.01 && done < 1 && spent >= 1) {
        long left = (long)(spent * (1 - done) / done + 0.5);
        snprintf(eta, sizeof eta, " ETA %ld:%02ld", left / 60, left % 60);
    }
    outq_printf(s->progress_fd, "\rreplay [%s] %3d%% %s UTC%s\x1b[K", bar, pct, when, eta);
    s->progress_drawn = 1;
}

/* The eventfd other threads write when work a bot awaits is done. Made before the bots start (sched_run): made at
 * the first await instead, a strategy that has used up its descriptors (ulimit -n) would await a notice that never
 * comes, and every HttpQuery would return only at its timeout. */
static int notify = -1;
static pthread_once_t notify_once = PTHREAD_ONCE_INIT;

static void notify_init(void)
{
    notify = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int notify_fd(void)
{
    pthread_once(&notify_once, notify_init);
    return notify;
}

void sched_notify(void)
{
    uint64_t one = 1;
    if (write(notify_fd(), &one, sizeof one) < 0) { /* the counter is non-zero already */ }
}

int sched_can_await(lua_State *L)
{
    struct bot *b = bot_of(L);
    return b->sched && !b->sched->virtual_ && L == b->co && lua_isyieldable(L) && notify_fd() >= 0;
}

int sched_await(lua_State *L, int64_t deadline_ns, lua_KContext ctx, lua_KFunction k)
{
    struct bot *b = bot_of(L);
    b->wake_ns = deadline_ns;
    b->awaiting = 1;
    b->yield_ok = 1;
    return lua_yieldk(L, 0, ctx, k);
}

/* If sched_notify was called, makes every awaiting bot due now (its continuation checks whether its work is
 * done) and returns 1. */
static int awaited(struct sched *s)
{
    int any = 0;
    for (int i = 0; i < s->nbots; i++)
        any |= s->bots[i]->awaiting;
    uint64_t v;
    if (!any || read(notify_fd(), &v, sizeof v) != (ssize_t)sizeof v)
        return 0;
    int64_t now = clock_mono_ns();
    for (int i = 0; i < s->nbots; i++)
        if (s->bots[i]->awaiting) {
            s->bots[i]->awaiting = 0;
            s->bots[i]->wake_ns = now;
        }
    return 1;
}

/* Live: onexit past onexit_limit is cut. */
static void cut_late_onexits(struct sched *s)
{
    int64_t now = clock_mono_ns();
    for (int i = 0; i < s->nbots; i++) {
        struct bot *b = s->bots[i];
        if ((b->phase == PHASE_ONEXIT || b->phase == PHASE_ONERROR) && now >= b->exit_deadline_ns) {
            char why[160];
            snprintf(why, sizeof why, "onexit still running after %g s (onexit_limit); stopped",
                     b->opt->limits.onexit_s);
            bot_abandon(b, why);
        }
    }
}

/* Live: a bot whose live exchange's kill switch is pulled (docs/live.md) stops as a stop signal stops it: main
 * ends, its onexit runs, then cancel_on_stop; exit status 1. */
static void kill_switch(struct sched *s, struct bot *b)
{
    char why[1200];
    if (b->phase > PHASE_MAIN || b->stopped || !venue_kill_due(b, why, sizeof why))
        return;
    log_printf(b, LOG_ERROR, "%s: bot %s stops (its onexit runs, then cancel_on_stop)", why, b->id);
    bot_stop(b, EXIT_STRATEGY);
    b->wake_ns = sched_now(s);
}

int sched_run(struct sched *s)
{
    int64_t now = s->virtual_ ? s->start_ns : clock_mono_ns();
    s->now_ns = now;
    s->progress_t0 = clock_mono_ns();
    if (!s->virtual_)
        notify_fd();
    for (int i = 0; i < s->nbots; i++) {
        bot_start(s->bots[i]);
        s->bots[i]->wake_ns = now;
    }
    int ending = 0, stopped = 0, shown = -1;
    for (;;) {
        int sig = bot_signal_received();
        if (sig && !stopped) {
            /* Every bot ends: main gives way to onexit. The signal pipe is read empty, or ppoll below spins. */
            stopped = 1;
            bot_signal_drain();
            for (int i = 0; i < s->nbots; i++) {
                bot_stop(s->bots[i], 128 + sig);
                s->bots[i]->wake_ns = sched_now(s);
            }
        }
        if (!s->virtual_) {
            cut_late_onexits(s);
            for (int i = 0; i < s->nbots; i++) {
                bot_keep_lock(s->bots[i]);
                kill_switch(s, s->bots[i]);
            }
        }
        struct bot *next = NULL;
        for (int i = 0; i < s->nbots; i++) {
            struct bot *b = s->bots[i];
            if (b->phase != PHASE_DONE && (!next || b->wake_ns < next->wake_ns ||
                                           (b->wake_ns == next->wake_ns && next->yielded && !b->yielded)))
                next = b;
        }
        if (!next)
            break;
        if (s->virtual_) {
            if (!ending && next->wake_ns > s->end_ns) {
                /* The market data is over: every bot's onexit runs at its end. */
                ending = 1;
                if (s->now_ns < s->end_ns)
                    s->now_ns = s->end_ns;
                for (int i = 0; i < s->nbots; i++) {
                    bot_stop(s->bots[i], s->bots[i]->status);
                    s->bots[i]->wake_ns = s->now_ns;
                }
                continue;
            }
            /* at the clock's end (2262) the 5 minutes are cut short: a Sleep past it saturates (Sleep) */
            int64_t hook_end = s->end_ns > INT64_MAX - HOOK_LIMIT_NS ? INT64_MAX - 1 : s->end_ns + HOOK_LIMIT_NS;
            if (ending && next->wake_ns > hook_end) {
                /* As the platforms limit hooks, an onexit still sleeping 5 virtual minutes after the end is cut
                 * off: a replay always ends. */
                bot_abandon(next, "onexit still running 5 minutes after the end of the replay; stopped");
                continue;
            }
            if (next->wake_ns > s->now_ns)
                s->now_ns = next->wake_ns;
            if (s->progress)
                progress(s, &shown);
        } else {
            termpanel_poll();   /* a resized terminal: the status panels drawn again at its size */
            /* Work a bot awaits may be done: it runs now rather than at its deadline, even while other bots
             * keep the scheduler busy. */
            if (awaited(s))
                continue;
            int64_t wait = next->wake_ns - clock_mono_ns();
            if (next->phase == PHASE_ONEXIT || next->phase == PHASE_ONERROR) {
                int64_t cut = next->exit_deadline_ns - clock_mono_ns();
                if (cut < wait)
                    wait = cut;
            }
            if (wait > 1000000000)
                wait = 1000000000;      /* bot_keep_lock's once a second */
            if (wait > 0) {
                /* The signal pipe turns readable when a signal arrives, even one that came just before ppoll;
                 * the notify fd when work a bot awaits is done (sched_notify). */
                struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
                struct pollfd p[2] = {{notify_fd(), POLLIN, 0}, {bot_signal_fd(), POLLIN, 0}};
                if (ppoll(p, p[1].fd >= 0 ? 2 : 1, &ts, NULL) > 0 && (p[0].revents & POLLIN) && !awaited(s)) {
                    uint64_t v;     /* work nobody awaits any more (its bot was stopped): drained, or ppoll spins */
                    if (read(p[0].fd, &v, sizeof v) < 0) { /* drained already */ }
                }
                continue;
            }
        }
        s->steps++;
        next->yielded = 0;
        next->awaiting = 0;     /* sched_await sets it again if the bot still waits */
        bot_step(next);
        if (next->preempted)
            next->wake_ns = sched_now(s);   /* its turn is over: due again, after the bots due before it */
        /* The bot sleeps: the states it published go out now (see engine_kick). */
        engine_kick(next->engine);
    }
    if (s->progress && s->progress_drawn)
        outq_printf(s->progress_fd, "\r\x1b[K");
    s->progress_drawn = 0;
    if (stopped)
        return 128 + bot_signal_received();
    for (int i = 0; i < s->nbots; i++)
        if (s->bots[i]->status)
            return s->bots[i]->status;
    return 0;
}
