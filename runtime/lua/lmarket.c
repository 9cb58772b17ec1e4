/*
 * lmarket.c: the Lua module `market` (require "market"): the primitives stdlib/exchange.lua builds tickers, depth
 * and records from, on the process's market (market.h). Indices are 1-based here, 0-based in market.h.
 * market.get(url) gives the same primitives on another market the process opened for the config's exchanges
 * (`market` in an exchange's settings; main.c opens them all before any bot starts, and frees them after).
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "data/market.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

/* The market of the running function: its upvalue (market.get), else the process's own. */
static struct market *checkmarket(lua_State *L)
{
    struct market *m = lua_touserdata(L, lua_upvalueindex(1));
    if (!m)
        m = bot_of(L)->market;
    if (!m)
        luaL_error(L, "no market data: set market in the config or --market");
    return m;
}

/* market.at(ms) -> index of the latest closed candle, or nil */
static int m_at(lua_State *L)
{
    long i = market_at(checkmarket(L), (int64_t)luaL_checkinteger(L, 1));
    if (i < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, i + 1);
    return 1;
}

/* market.candle(i) -> time, open, high, low, close, volume [, funding rate when the market has one] */
static int m_candle(lua_State *L)
{
    struct candle c;
    if (market_candle(checkmarket(L), (long)luaL_checkinteger(L, 1) - 1, &c) != 0)
        return 0;
    lua_pushinteger(L, c.time);
    lua_pushnumber(L, c.open);
    lua_pushnumber(L, c.high);
    lua_pushnumber(L, c.low);
    lua_pushnumber(L, c.close);
    lua_pushnumber(L, c.volume);
    if (isnan(c.funding))
        return 6;
    lua_pushnumber(L, c.funding);
    return 7;
}

/* market.info() -> {url, kind, count, period, first_close (nil before the first candle), last_close (nil when
 * open-ended)}, and the source's own settings (market_fields): a rest market adds symbol, interval and stale (ms). */
static int m_info(lua_State *L)
{
    struct market *m = checkmarket(L);
    int64_t first, last;
    market_span(m, &first, &last);
    lua_createtable(L, 0, 9);
    lua_pushstring(L, market_url(m));
    lua_setfield(L, -2, "url");
    lua_pushstring(L, market_kind(m));
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, market_count(m));
    lua_setfield(L, -2, "count");
    lua_pushinteger(L, market_period(m));
    lua_setfield(L, -2, "period");
    if (first != INT64_MAX) {
        lua_pushinteger(L, first);
        lua_setfield(L, -2, "first_close");
    }
    if (last != INT64_MAX) {
        lua_pushinteger(L, last);
        lua_setfield(L, -2, "last_close");
    }
    struct market_field f[8];
    int n = market_fields(m, f, 8);
    for (int i = 0; i < n; i++) {
        if (f[i].str)
            lua_pushstring(L, f[i].str);
        else
            lua_pushinteger(L, f[i].num);
        lua_setfield(L, -2, f[i].name);
    }
    return 1;
}

static const char *const feed_opts[] = {"ticker", "depth", "klines", NULL};

/* market.snapshot("ticker" | "depth") -> the venue's last good body (raw JSON), fetched_ms; nil when there is none
 * (not a rest market, or nothing fetched yet). */
static int m_snapshot(lua_State *L)
{
    struct market *m = checkmarket(L);
    enum market_feed feed = (enum market_feed)luaL_checkoption(L, 1, NULL, feed_opts);
    luaL_argcheck(L, feed != FEED_KLINES, 1, "klines go into the candles: use market.fetched(\"klines\")");
    for (;;) {
        size_t len = market_body_len(m, feed);
        if (len == 0)
            return 0;
        luaL_Buffer b;
        char *dst = luaL_buffinitsize(L, &b, len);
        int64_t fetched;
        if (market_body_copy(m, feed, dst, len, &fetched) == 0) {
            luaL_pushresultsize(&b, len);
            lua_pushinteger(L, fetched);
            return 2;
        }
        luaL_pushresultsize(&b, 0);     /* a body of another length came in between: again */
        lua_pop(L, 1);
    }
}

/* market.fetched("ticker" | "depth" | "klines") -> when the feed was last fetched good (ms; nil: never), and why
 * its latest fetch was refused (nil when it was good). Nothing for a market whose source has no feeds (all but
 * rest). */
static int m_fetched(lua_State *L)
{
    struct market *m = checkmarket(L);
    enum market_feed feed = (enum market_feed)luaL_checkoption(L, 1, NULL, feed_opts);
    char why[MARKET_WHYLEN];
    int64_t t;
    if (market_fetched(m, feed, &t, why, sizeof why) != 0)
        return 0;
    if (t)
        lua_pushinteger(L, t);
    else
        lua_pushnil(L);
    if (why[0])
        lua_pushstring(L, why);
    else
        lua_pushnil(L);
    return 2;
}

static const luaL_Reg funcs[] = {
    {"at", m_at},
    {"candle", m_candle},
    {"fetched", m_fetched},
    {"info", m_info},
    {"snapshot", m_snapshot},
    {NULL, NULL}
};

/* market.get(url) -> the primitives above on the market opened for url (the process's own market when url is its
 * URL); raises when the process opened no such market. */
static int m_get(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    const struct bot *b = bot_of(L);
    struct market *m = NULL;
    if (b->market && strcmp(market_url(b->market), url) == 0)
        m = b->market;
    for (int i = 0; !m && b->sched && i < b->sched->nmarkets; i++)
        if (strcmp(market_url(b->sched->markets[i]), url) == 0)
            m = b->sched->markets[i];
    if (!m)
        return luaL_error(L, "market.get: the process opened no market '%s' (only the config's exchanges' markets "
                          "are opened, at start)", url);
    lua_createtable(L, 0, 5);
    lua_pushlightuserdata(L, m);
    luaL_setfuncs(L, funcs, 1);
    return 1;
}

int luaopen_market(lua_State *L)
{
    luaL_newlib(L, funcs);
    lua_pushcfunction(L, m_get);
    lua_setfield(L, -2, "get");
    return 1;
}
