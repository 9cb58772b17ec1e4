/*
 * binance.h: what the Binance public REST API sends, as the venue documents it, checked: numbers sent as decimal
 * strings, the symbol's two forms, the venue's error object, klines; and its request weight rule. Shared by the
 * live market (source_rest.c) and the history download (history.c). A body is decoded by the caller with the
 * runtime's JSON codec in a Lua state of its own; these functions read the decoded value (under the caller's
 * lua_pcall) and no Lua value leaves that state.
 */
#ifndef STRATRUN_BINANCE_H
#define STRATRUN_BINANCE_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

struct candle;
struct fetch;

/* A number the venue sends as a decimal string ("43000.01000000") or as a JSON number, finite. 0 or -1. */
int binance_number(lua_State *L, int idx, double *out);

/* 1 when the value at idx is a JSON object (a table without a sequence), a JSON array (a sequence or empty). */
int binance_is_object(lua_State *L, int idx);
int binance_is_array(lua_State *L, int idx);

/* The platform's symbol ("BTC_USDT": BASE_QUOTE in capitals and digits) in the venue's form ("BTCUSDT"), into
 * venue (size bytes). 0, or -1 when symbol is not of that form or does not fit. */
int binance_symbol(const char *symbol, char *venue, size_t size);

/* 1 when the value at idx is the venue's error object ({"code":-1121,"msg":"Invalid symbol."}, sent by some with
 * status 200), with why set to "the venue's error CODE: MSG"; 0 otherwise. */
int binance_error(lua_State *L, int idx, char *why, size_t whylen);

/* The klines at idx ([[openTime, "open", "high", "low", "close", "volume", closeTime, ...], ...], oldest first),
 * at most max of them, checked: every openTime a whole number of ms on the period's grid (a multiple of period_ms
 * since the epoch), strictly increasing; prices and volume non-negative numbers; high and low around open and close.
 * *out (malloc'd, NULL when none) gets *n candles. Returns 0, or -1 with why naming the first bad kline. */
int binance_klines(lua_State *L, int idx, int64_t period_ms, long max, struct candle **out, long *n, char *why,
                   size_t whylen);

/* The venue's request weight rule, for every client of it (the live market's poller, the history download): the
 * weight the venue says is used in its current minute (X-MBX-USED-WEIGHT-1M of the answer f, -1 when it sent
 * none), and how long to send nothing for it: 0 while used is under BINANCE_WEIGHT_SLOW of limit (limit <= 0: not
 * watched), else until the venue's minute ends, and one second more (ms). */
#define BINANCE_WEIGHT_SLOW 0.8
long binance_used_weight(const struct fetch *f);
int64_t binance_weight_wait_ms(long used, long limit);

#endif
