/*
 * bench_bot.h: what the channel benchmarks (bench_channel.c, bench_redis.c) share on top of bench.h: a bot run
 * in the benchmark's own process, Lua calls timed one by one, the publisher's loop, and a subscriber process that
 * reports how late each state reached its engine.
 */
#ifndef STRATRUN_BENCH_BOT_H
#define STRATRUN_BENCH_BOT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "bench.h"
#include "host/bot.h"
#include "core/engine.h"
#include "data/market.h"
#include "host/options.h"

/* A bot with its own channel id on engine e, trading on a small seeded walk (the runtime's exchange wants a
 * market). o keeps the options the bot points to; free(o->data_dir) after bot_free. */
static inline struct bot *make_bot(struct options *o, struct engine *e, const char *dir, const char *id)
{
    static struct market *market;
    char err[512];
    if (!market && !(market = market_open("sim:seed=1,bars=100", 0, err, sizeof err))) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    memset(o, 0, sizeof *o);
    o->limits = (struct limits){.memory_mb = 1024, .step_s = 10, .onexit_s = 300};   /* the defaults */
    o->data_dir = strdup(dir);
    snprintf(o->id, sizeof o->id, "%s", id);
    struct bot_spec spec = {"(bench)", ""};
    snprintf(spec.id, sizeof spec.id, "%s", id);
    struct bot *b = bot_new(o, &spec, e, market, NULL, err, sizeof err);
    if (!b) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    return b;
}

static inline void run_lua(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) != LUA_OK) {
        fprintf(stderr, "bench: %s\n", lua_tostring(L, -1));
        exit(1);
    }
}

/* Times n calls of the function in global fname with the value in global argname (or no argument). */
static inline struct figures time_calls(lua_State *L, const char *fname, const char *argname, size_t n)
{
    int64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        lua_getglobal(L, fname);
        int nargs = 0;
        if (argname) {
            lua_getglobal(L, argname);
            nargs = 1;
        }
        int64_t t0 = now_ns();
        lua_call(L, nargs, 0);
        v[i] = now_ns() - t0;
    }
    struct figures f = summarize(v, n);
    free(v);
    return f;
}

/* The publisher of the propagation figures: n times SetChannelData(state) then Sleep(1), then {final = true},
 * which tells the subscribers to report. */
static inline void publish_states(lua_State *L, int n)
{
    char code[512];
    snprintf(code, sizeof code, "state = (function() %s end)()", state_lua);
    run_lua(L, code);
    for (int i = 0; i < n; i++) {
        lua_getglobal(L, "SetChannelData");
        lua_getglobal(L, "state");
        lua_call(L, 1, 0);
        lua_getglobal(L, "Sleep");
        lua_pushinteger(L, 1);
        lua_call(L, 1, 0);
    }
    run_lua(L, "SetChannelData({final = true}); Sleep(1)");
}

/* Writes a child's latencies to fd: their count, then the values. */
static inline void send_samples(int fd, const int64_t *lat, int got)
{
    if (write(fd, &got, sizeof got) < 0 || write(fd, lat, sizeof *lat * (size_t)got) < 0)
        _exit(1);
}

/* A subscriber process on the backend at url: follows channel "prop" and reports, for the states it samples,
 * received - seq (seq is the publish time in µs while publishes are spaced out; received is stamped by its engine
 * thread on arrival). Writes the latencies in ns to fd; gives up after limit_s seconds. */
static inline void subscriber_child(const char *url, const char *dir, int n, int fd, int limit_s)
{
    char err[256];
    struct engine *e = engine_open(url, dir, err, sizeof err);
    if (!e)
        _exit(1);
    struct chan_entry *c = engine_channel(e, "prop", 1);
    int64_t *lat = calloc((size_t)n, sizeof *lat), last = 0;
    int got = 0;
    struct chan_state st;
    int64_t deadline = now_ns() + limit_s * 1000000000LL;
    while (got < n && now_ns() < deadline) {
        int64_t seq = engine_seq(c);
        if (seq != last && seq != 0) {
            engine_read(e, c, &st);
            last = st.seq;
            if (strstr(st.data, "\"final\""))
                break;
            lat[got++] = (st.received_us - st.seq) * 1000;
        }
        usleep(2000);   /* the engine stamps received_us; sampling slowly keeps this process off the CPU */
    }
    send_samples(fd, lat, got);
    engine_close(e, 1000);
    _exit(0);
}

#endif
