/*
 * replay.c: the span of a replay and its summary. The summary's figures come from each bot's own exchange
 * (exchange._summary() in stdlib/exchange.lua), so the C side only lays them out.
 */
#include "replay.h"
#include "bot.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "market.h"
#include "options.h"
#include "scheduler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

int replay_span(struct sched *s, const struct market *m, const struct options *o, char *err, size_t errlen)
{
    int64_t first, last;
    market_span(m, &first, &last);
    if (last == INT64_MAX && o->to_ms < 0) {
        snprintf(err, errlen, "market '%s' has no end: give it bars=N, or give --to", market_url(m));
        return -1;
    }
    int64_t from = o->from_ms >= 0 ? o->from_ms : first, to = o->to_ms >= 0 ? o->to_ms : last;
    if (from > to) {
        snprintf(err, errlen, "nothing to replay: --from is after --to or after the market data ends");
        return -1;
    }
    s->start_ns = from * 1000000;
    s->end_ns = to * 1000000;
    return 0;
}

static void fmt_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    strftime(buf, size, "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
}

static double field(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

void replay_finish(struct sched *s, const struct options *o, int64_t wall_ns)
{
    char from[32], to[32], err[JSON_ERRLEN + 100];
    fmt_time(s->start_ns / 1000000, from, sizeof from);
    fmt_time(s->now_ns / 1000000, to, sizeof to);
    /* stdout holds only what the inputs decide, so two replays compare byte for byte; the speed goes to stderr. */
    printf("\nreplay %s .. %s UTC, %d bot%s, %ld bot-iterations\n", from, to, s->nbots, s->nbots == 1 ? "" : "s",
           s->steps);
    fprintf(stderr, "replay took %.2f s: %.0f bot-iterations/s\n", (double)wall_ns / 1e9,
            wall_ns > 0 ? (double)s->steps * 1e9 / (double)wall_ns : 0.0);
    printf("%-16s %6s %7s %7s %12s %14s %14s %14s %12s\n", "bot", "status", "orders", "fills", "fees", "balance",
           "stocks", "value", "P&L");

    /* The JSON summary is built in the first bot's state: {from, to, bots = {...}}. */
    lua_State *J = s->nbots ? s->bots[0]->L : NULL;
    if (J) {
        lua_createtable(J, 0, 3);
        lua_pushinteger(J, s->start_ns / 1000000);
        lua_setfield(J, -2, "from");
        lua_pushinteger(J, s->now_ns / 1000000);
        lua_setfield(J, -2, "to");
        lua_createtable(J, s->nbots, 0);
    }
    for (int i = 0; i < s->nbots; i++) {
        struct bot *b = s->bots[i];
        log_status_flush(b);
        /* exchange._summary() in the bot's own state; its JSON crosses to the summary's state. */
        lua_State *L = b->L;
        int top = lua_gettop(L);    /* L may be J itself: leave what is below alone */
        jbuf jb;
        jbuf_init(&jb);
        int ok = lua_getglobal(L, "exchange") == LUA_TTABLE && lua_getfield(L, -1, "_summary") == LUA_TFUNCTION &&
                 lua_pcall(L, 0, 1, 0) == LUA_OK && lua_istable(L, -1) &&
                 json_encode(L, -1, &jb, err, sizeof err) == 0;
        if (ok) {
            int t = lua_gettop(L);
            printf("%-16s %6d %7.0f %7.0f %12.4f %14.4f %14.8f %14.4f %12.4f\n", b->id, b->status,
                   field(L, t, "orders"), field(L, t, "fills"), field(L, t, "fees"), field(L, t, "balance"),
                   field(L, t, "stocks"), field(L, t, "value"), field(L, t, "pnl"));
        } else {
            printf("%-16s %6d %7s\n", b->id, b->status, "-");
        }
        lua_settop(L, top);
        if (J) {
            if (!ok || json_decode(J, jb.p, jb.len, err, sizeof err) != 0)
                lua_newtable(J);
            lua_pushstring(J, b->id);
            lua_setfield(J, -2, "id");
            lua_pushstring(J, b->script);
            lua_setfield(J, -2, "script");
            lua_pushinteger(J, b->status);
            lua_setfield(J, -2, "status");
            lua_rawseti(J, -2, i + 1);
        }
        jbuf_free(&jb);
    }
    if (J) {
        lua_setfield(J, -2, "bots");
        if (o->json_out) {
            jbuf jb;
            jbuf_init(&jb);
            if (json_encode(J, -1, &jb, err, sizeof err) != 0 ||
                fs_write_atomic(o->json_out, jb.p, jb.len, err, sizeof err) != 0)
                fprintf(stderr, "stratrun: cannot write the replay summary: %s\n", err);
            jbuf_free(&jb);
        }
        lua_settop(J, 0);
    }
}
