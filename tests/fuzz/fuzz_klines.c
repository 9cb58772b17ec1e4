/*
 * fuzz_klines.c: a venue's klines body, as the live market's poller (runtime/data/source_rest.c) and
 * `stratrun data download` (runtime/data/history.c) read it: json_decode, then binance_error and binance_klines
 * (runtime/data/binance.c). The venue is outside input.
 *
 * The input: its first byte picks the period (one of the twelve the download offers), the rest is the body.
 *
 * Checked: no crash, leak or UB; binance_klines returns 0 with at most 1000 candles, or -1 with a message and no
 * candles; what it returns has open times on the period's grid, strictly increasing, and finite non-negative
 * prices and volume with high and low around open and close; a body that is the venue's error object is told
 * apart by binance_error, with its message.
 */
#include "fuzz.h"
#include "data/binance.h"
#include "data/json.h"
#include "data/market.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

static const int64_t periods[] = {60000, 180000, 300000, 900000, 1800000, 3600000, 7200000, 14400000, 21600000,
                                  28800000, 43200000, 86400000};

struct args {
    const uint8_t *body;
    size_t len;
    int64_t period;
};

static int check_p(lua_State *L)
{
    struct args *a = lua_touserdata(L, 1);
    lua_settop(L, 0);
    char err[JSON_ERRLEN], why[300];
    if (json_decode(L, (const char *)a->body, a->len, err, sizeof err) != 0)
        return 0;
    why[0] = '\0';
    if (binance_error(L, 1, why, sizeof why)) {
        FUZZ_CHECK(strncmp(why, "the venue's error ", 18) == 0, "binance_error's message: %s", why);
        return 0;
    }
    struct candle *c = (struct candle *)1;
    long n = -1;
    why[0] = '\0';
    int rc = binance_klines(L, 1, a->period, 1000, &c, &n, why, sizeof why);
    FUZZ_CHECK(lua_gettop(L) == 1, "binance_klines left %d values", lua_gettop(L));
    if (rc != 0) {
        FUZZ_CHECK(c == NULL && n == 0 && why[0], "a refusal with candles or without a message (%ld)", n);
        return 0;
    }
    FUZZ_CHECK(n >= 0 && n <= 1000 && (n == 0) == (c == NULL), "n = %ld", n);
    for (long i = 0; i < n; i++) {
        FUZZ_CHECK(c[i].time % a->period == 0, "kline %ld at %lld off the grid", i, (long long)c[i].time);
        FUZZ_CHECK(i == 0 || c[i].time > c[i - 1].time, "kline %ld does not go forward", i);
        double v[] = {c[i].open, c[i].high, c[i].low, c[i].close, c[i].volume};
        for (int k = 0; k < 5; k++)
            FUZZ_CHECK(isfinite(v[k]) && v[k] >= 0, "kline %ld field %d is %g", i, k, v[k]);
        FUZZ_CHECK(c[i].high >= fmax(c[i].open, c[i].close) && c[i].low <= fmin(c[i].open, c[i].close),
                   "kline %ld: high/low", i);
        FUZZ_CHECK(isnan(c[i].funding), "kline %ld has a funding rate", i);
    }
    free(c);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct args a = {data + 1, size - 1, periods[data[0] % (sizeof periods / sizeof periods[0])]};
    lua_State *L = fuzz_lua_new((size_t)64 << 20, 0);
    lua_pushcfunction(L, check_p);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        FUZZ_CHECK(m && strstr(m, "not enough memory"), "raised: %s", m ? m : "?");
    }
    fuzz_lua_close(L);
    return 0;
}
