/*
 * clock.c: Sleep, Unix and UnixNano, and the clock every other module reads (clock.h).
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/clock.h"
#include "core/engine.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <time.h>

#include <lauxlib.h>

int64_t clock_now_ns(const struct bot *b)
{
    if (b && b->sched && b->sched->virtual_)
        return b->sched->now_ns;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep(ms): fractions allowed. Under the scheduler it yields: other bots run, and in a replay the clock jumps
 * (Sleep(0) to the next event: sched_next_event). Live, the wait is on CLOCK_MONOTONIC. A stop signal ends main's
 * Sleep at once (the scheduler runs onexit). */
static int f_Sleep(lua_State *L)
{
    double ms = luaL_checknumber(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 1e12, 1, "ms must be between 0 and 1e12");
    struct bot *b = bot_of(L);
    if (b->sched && L == b->co && lua_isyieldable(L)) {
        if (b->sched->virtual_ && ms == 0)
            b->wake_ns = sched_next_event(b->sched, b);
        else {
            /* saturated: a wake past the clock's end (2262) is "never", not a time before 1970 */
            int64_t now = sched_now(b->sched), d = (int64_t)(ms * 1e6);
            b->wake_ns = now > INT64_MAX - d ? INT64_MAX : now + d;
        }
        b->yield_ok = 1;
        return lua_yield(L, 0);
    }
    if (bot_signal() && b->phase <= PHASE_MAIN)
        return bot_interrupted(L);
    if (b->sched && b->sched->virtual_)
        return luaL_error(L, "Sleep: in a replay, call Sleep from the strategy's own functions, not inside a "
                          "coroutine or a callback such as a table.sort comparator (the clock cannot move there)");
    /* Not under the scheduler (or inside a coroutine of the strategy's own): block this thread, on the monotonic
     * clock. What it published goes out now (see engine_kick). The other bots of the process wait meanwhile, so
     * the wait ends early when the bot must end (bot_overran: step_limit with other bots waiting). */
    engine_kick(b->engine);
    int64_t end = clock_mono_ns() + (int64_t)(ms * 1e6);
    for (;;) {
        if (bot_signal() && b->phase <= PHASE_MAIN)
            return bot_interrupted(L);
        if (bot_overran(b))
            return luaL_error(L, "%s", *b->end_why ? b->end_why : "the bot is ending");
        int64_t left = end - clock_mono_ns();
        if (left <= 0)
            return 0;
        /* The signal pipe turns readable when a stop signal arrives, even one that came just before ppoll; the
         * watchdog's SIGURG (every slice while other bots wait) interrupts it too. */
        struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        struct pollfd p = {b->phase <= PHASE_MAIN ? bot_signal_fd() : -1, POLLIN, 0};
        if (ppoll(&p, p.fd >= 0 ? 1 : 0, &ts, NULL) < 0 && errno != EINTR)
            return luaL_error(L, "Sleep: %s", "ppoll failed");
    }
}

/* Unix(): seconds since the epoch, an integer. */
static int f_Unix(lua_State *L)
{
    lua_pushinteger(L, clock_now_ns(bot_of(L)) / 1000000000);
    return 1;
}

/* UnixNano(): nanoseconds since the epoch, an integer. */
static int f_UnixNano(lua_State *L)
{
    lua_pushinteger(L, clock_now_ns(bot_of(L)));
    return 1;
}

static const luaL_Reg funcs[] = {
    {"Sleep", f_Sleep},
    {"Unix", f_Unix},
    {"UnixNano", f_UnixNano},
    {NULL, NULL}
};

int luaopen_clock(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
