/*
 * binance.c: the Binance public REST API's bodies, checked, and its request weight rule (binance.h).
 */
#include "data/binance.h"
#include "data/market.h"
#include "core/clock.h"
#include "core/fetch.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int binance_number(lua_State *L, int idx, double *out)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        *out = lua_tonumber(L, idx);
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        char *e;
        if (len == 0 || len > 64 || isspace((unsigned char)s[0]))
            return -1;
        errno = 0;
        *out = strtod(s, &e);
        if (e != s + len || errno)
            return -1;
    } else {
        return -1;
    }
    return isfinite(*out) ? 0 : -1;
}

int binance_is_object(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TTABLE && lua_rawlen(L, idx) == 0;
}

int binance_is_array(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    if (lua_rawlen(L, idx) > 0)
        return 1;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    if (!lua_next(L, idx))
        return 1;
    lua_pop(L, 2);
    return 0;
}

int binance_symbol(const char *symbol, char *venue, size_t size)
{
    size_t len = strlen(symbol), under = 0, at = 0;
    if (len < 3 || len > size)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (symbol[i] == '_')
            under++, at = i;
        else if (!isupper((unsigned char)symbol[i]) && !isdigit((unsigned char)symbol[i]))
            return -1;
    }
    if (under != 1 || at == 0 || at == len - 1)
        return -1;
    memcpy(venue, symbol, at);
    memcpy(venue + at, symbol + at + 1, len - at);  /* the NUL too */
    return 0;
}

int binance_error(lua_State *L, int idx, char *why, size_t whylen)
{
    if (!binance_is_object(L, idx))
        return 0;
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "code");
    lua_getfield(L, idx, "msg");
    int is = lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TSTRING;
    if (is)
        snprintf(why, whylen, "the venue's error %s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
    lua_pop(L, 2);
    return is;
}

int binance_klines(lua_State *L, int idx, int64_t period_ms, long max, struct candle **out, long *n, char *why,
                   size_t whylen)
{
    *out = NULL;
    *n = 0;
    idx = lua_absindex(L, idx);
    lua_Unsigned count = binance_is_array(L, idx) ? lua_rawlen(L, idx) : 0;
    if (!binance_is_array(L, idx) || count > (lua_Unsigned)max) {
        snprintf(why, whylen, "not a JSON array of klines (at most %ld)", max);
        return -1;
    }
    if (count == 0)
        return 0;
    struct candle *c = malloc(count * sizeof *c);
    if (!c) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    long k = 0;
    for (lua_Unsigned i = 1; i <= count; i++) {
        double v[6];
        lua_rawgeti(L, idx, (lua_Integer)i);
        int ok = lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) >= 6;
        for (int j = 0; ok && j < 6; j++) {
            lua_rawgeti(L, -1, j + 1);
            ok = binance_number(L, -1, &v[j]) == 0 && v[j] >= 0;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        struct candle x = {.time = ok && v[0] < 9.2e15 ? (int64_t)v[0] : 0, .open = ok ? v[1] : 0};
        if (!ok || v[0] != (double)x.time || x.time % period_ms != 0) {
            snprintf(why, whylen, "kline %llu is not [openTime on the period's grid, open, high, low, close, "
                     "volume, ...] with non-negative numbers", (unsigned long long)i);
            goto bad;
        }
        x.high = v[2], x.low = v[3], x.close = v[4], x.volume = v[5];
        x.funding = NAN;
        if (x.high < fmax(x.open, x.close) || x.low > fmin(x.open, x.close)) {
            snprintf(why, whylen, "kline %llu: high/low do not contain open and close", (unsigned long long)i);
            goto bad;
        }
        if (k > 0 && x.time <= c[k - 1].time) {
            snprintf(why, whylen, "kline %llu: openTime goes backwards or repeats", (unsigned long long)i);
            goto bad;
        }
        c[k++] = x;
    }
    *out = c;
    *n = k;
    return 0;
bad:
    free(c);
    return -1;
}

long binance_used_weight(const struct fetch *f)
{
    char v[32];
    return fetch_header(f, "X-MBX-USED-WEIGHT-1M", v, sizeof v) == 0 ? atol(v) : -1;
}

int64_t binance_weight_wait_ms(long used, long limit)
{
    if (limit <= 0 || used < (long)(limit * BINANCE_WEIGHT_SLOW))
        return 0;
    /* The venue counts weight per minute of its clock; ours is close enough, and a second more is safe. */
    return 60000 - clock_wall_ms() % 60000 + 1000;
}
