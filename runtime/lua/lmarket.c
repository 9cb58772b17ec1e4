/*
 * lmarket.c: the Lua module `market` (require "market"): the primitives stdlib/exchange.lua builds tickers, depth
 * and records from, on the process's market (market.h). Indices are 1-based here, 0-based in market.h.
 * market.get(url) gives the same primitives on another market the process opened for the config's exchanges
 * (`market` in an exchange's settings; main.c opens them all before any bot starts, and frees them after).
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "data/market.h"

#include <limits.h>
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

/* The numbers of array t[1..n] (absent or not numbers: 0) into a new C array; NULL when n is 0 or out of memory. */
static double *numbers(lua_State *L, int t, lua_Integer n)
{
    double *a = n > 0 ? lua_newuserdatauv(L, (size_t)n * sizeof *a, 0) : NULL;
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, t, i + 1);
        a[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return a;
}

/* market.equity(j0, j1, keys, cash, coins, held [, r, size]) -> times, values, bars held, first close, last close
 *
 * A replay's equity at the close of candles j0..j1 (stdlib/exchange.lua, results): the account's holdings changed
 * at times keys[k] (ascending; from then on its equity at a price is cash[k] + coins[k] x price, and held[k] says
 * whether it held anything), each close valued with the holdings of the last key at or before it. With r and size
 * the close is first put on the tick grid as the exchange's grid(size).near does (r: the whole number 1 / size for
 * a decimal step, else 0). In C, as a year of minutes is half a million closes. */
static int m_equity(lua_State *L)
{
    struct market *m = checkmarket(L);
    lua_Integer j0 = luaL_checkinteger(L, 1), j1 = luaL_checkinteger(L, 2);
    for (int t = 3; t <= 6; t++)
        luaL_checktype(L, t, LUA_TTABLE);
    lua_Integer r = luaL_optinteger(L, 7, 0);
    double size = luaL_optnumber(L, 8, 0);
    lua_Integer nk = (lua_Integer)lua_rawlen(L, 3);
    if (nk < 1 || (lua_Integer)lua_rawlen(L, 4) < nk || (lua_Integer)lua_rawlen(L, 5) < nk)
        return luaL_error(L, "market.equity: keys, cash and coins must be arrays of the same length, at least 1");
    double *key = numbers(L, 3, nk), *cash = numbers(L, 4, nk), *coins = numbers(L, 5, nk);
    char *held = lua_newuserdatauv(L, (size_t)nk, 0);
    for (lua_Integer k = 0; k < nk; k++) {
        lua_rawgeti(L, 6, k + 1);
        held[k] = (char)lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_Integer n = j1 >= j0 ? j1 - j0 + 1 : 0;
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    int times = lua_gettop(L);
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    int values = lua_gettop(L);
    int64_t period = market_period(m);
    lua_Integer k = 0, nheld = 0, out = 0;
    double first = NAN, last = NAN;
    for (lua_Integer j = j0; j <= j1; j++) {
        struct candle c;
        if (market_candle(m, (long)j - 1, &c) != 0)
            break;
        int64_t close_t = c.time + period;
        while (k + 1 < nk && key[k + 1] <= (double)close_t)
            k++;
        double px = c.close;
        if (size > 0)       /* grid(size).near: value(floor(count(x) + 0.5)) */
            px = r > 0 ? floor(px * (double)r + 0.5) / (double)r : floor(px / size + 0.5) * size;
        if (isnan(first))
            first = px;
        last = px;
        nheld += held[k];
        out++;
        lua_pushinteger(L, close_t);
        lua_rawseti(L, times, out);
        lua_pushnumber(L, cash[k] + coins[k] * px);
        lua_rawseti(L, values, out);
    }
    lua_pushinteger(L, nheld);
    if (isnan(first)) {
        lua_pushnil(L);
        lua_pushnil(L);
    } else {
        lua_pushnumber(L, first);
        lua_pushnumber(L, last);
    }
    return 5;
}

/* market.buckets(j0, j1, n) -> time, open, high, low, close: candles j0..j1 merged into at most n buckets of whole
 * candles (each bucket's first time and open, highest high, lowest low, last close), for a report to draw. */
static int m_buckets(lua_State *L)
{
    struct market *m = checkmarket(L);
    lua_Integer j0 = luaL_checkinteger(L, 1), j1 = luaL_checkinteger(L, 2), nb = luaL_checkinteger(L, 3);
    luaL_argcheck(L, nb >= 1, 3, "at least one bucket");
    lua_Integer n = j1 >= j0 ? j1 - j0 + 1 : 0;
    lua_Integer size = n > nb ? (n + nb - 1) / nb : 1;
    int col[5];
    for (int i = 0; i < 5; i++) {
        lua_createtable(L, (int)(n < nb ? n : nb), 0);
        col[i] = lua_gettop(L);
    }
    lua_Integer b = 0;
    struct candle acc = {0};
    for (lua_Integer j = j0; j <= j1 + 1; j++) {
        struct candle c;
        int end = j > j1 || market_candle(m, (long)j - 1, &c) != 0;
        if ((end || (j - j0) % size == 0) && j > j0) {    /* the bucket before j is whole: out */
            b++;
            lua_pushinteger(L, acc.time);
            lua_rawseti(L, col[0], b);
            double v[4] = {acc.open, acc.high, acc.low, acc.close};
            for (int i = 0; i < 4; i++) {
                lua_pushnumber(L, v[i]);
                lua_rawseti(L, col[i + 1], b);
            }
        }
        if (end)
            break;
        if ((j - j0) % size == 0) {
            acc = c;
        } else {
            acc.high = fmax(acc.high, c.high);
            acc.low = fmin(acc.low, c.low);
            acc.close = c.close;
        }
    }
    return 5;
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
    {"equity", m_equity},
    {"buckets", m_buckets},
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

#define SLICE_PACK_MAX 4096     /* values m_slice packs at most through its upvalue (each a Lua stack slot) */

/* market.slice(t, i, j) -> a new array of t[i..j] (raw), sized at once: GetRecords' copy of the records it keeps.
 * table.move(t, i, j, 1, {}) does the same but grows the new table eight times on the way to 100 elements, and
 * was three quarters of a GetRecords call (1.9 of 2.45 us). */
static int m_slice(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer i = luaL_checkinteger(L, 2), j = luaL_checkinteger(L, 3);
    luaL_argcheck(L, j < i || j - i < INT_MAX, 3, "slice too long");
    int n = j < i ? 0 : (int)(j - i + 1);
    if (n <= SLICE_PACK_MAX && lua_checkstack(L, n + 1)) {
        /* The upvalue `return {...}` makes the array from the values on the stack, sized at once: one SETLIST
         * instead of a lua_rawseti per value (a third fewer instructions for the call, docs/replay.md "Speed"). */
        lua_pushvalue(L, lua_upvalueindex(1));
        for (int k = 0; k < n; k++)
            lua_rawgeti(L, 1, i + k);
        lua_call(L, n, 1);
        return 1;
    }
    lua_createtable(L, n, 0);
    for (int k = 0; k < n; k++) {
        lua_rawgeti(L, 1, i + k);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

int luaopen_market(lua_State *L)
{
    luaL_newlib(L, funcs);
    if (luaL_loadstring(L, "return {...}") != LUA_OK)
        return lua_error(L);
    lua_pushcclosure(L, m_slice, 1);
    lua_setfield(L, -2, "slice");
    lua_pushcfunction(L, m_get);
    lua_setfield(L, -2, "get");
    return 1;
}
