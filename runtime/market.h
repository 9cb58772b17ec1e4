/*
 * market.h: the market data a paper exchange trades on: candles from a CSV file, from a seeded random walk, or
 * live from a venue's REST API (market_rest.h). One per process, shared by every bot (in a replay all bots see
 * the same market).
 *
 * Candle i covers [time_i, time_i + period). At a moment t the market shows the latest candle that has closed
 * (time_i + period <= t): strategies never see a candle before its end, so a replay cannot look ahead.
 *
 * A rest market's candles are written by its poller thread while the bots read them: every function below takes
 * the market's lock, and candles are copied out, never pointed to.
 */
#ifndef STRATRUN_MARKET_H
#define STRATRUN_MARKET_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>

struct candle {
    int64_t time;           /* bar start, ms since the epoch */
    double open, high, low, close, volume;
};

struct market;

/* url: "sim:seed=42[,start=T][,bars=N][,period=MS][,price=P][,vol=V]" (T in ms or ISO 8601; vol is the daily
 * volatility, default 0.03), "csv:PATH", a PATH ending in .csv, or "rest:BASE-URL[,symbol=S][,interval=MS]
 * [,stale=MS][,timeout=MS]" (live, 1-minute candles; market_rest.h). Without bars, a sim market is open-ended: it
 * starts 1,000 bars before now_ms and grows as the clock moves (live demos). Returns NULL with one line in err. */
struct market *market_open(const char *url, int64_t now_ms, char *err, size_t errlen);
void market_free(struct market *m);

/* The span a replay covers: the close of the first candle and the close of the last one (INT64_MAX when open-ended). */
void market_span(const struct market *m, int64_t *first_close_ms, int64_t *last_close_ms);

/* The index of the latest candle closed at t_ms, or -1 when none has. Grows an open-ended market up to t_ms. */
long market_at(struct market *m, int64_t t_ms);

/* Copies candle i (0 <= i < market_count) into out. Returns 0, or -1 when there is no such candle. */
int market_candle(const struct market *m, long i, struct candle *out);
long market_count(const struct market *m);
int64_t market_period(const struct market *m);
const char *market_url(const struct market *m);

/* For sources that grow on another thread (market_rest.c): appends the candles of c (oldest first) that are newer
 * than the last one held, and hands them to the recorder. Returns how many were appended. */
long market_append(struct market *m, const struct candle *c, long n);

/* --record FILE: appends the market's candles to path as CSV ("time,open,high,low,close,volume", time in ms,
 * prices in their shortest exact form), those held now (after the file's last row when it has rows) and every one
 * added later, so `replay --market csv:PATH` replays them exactly. Only for markets that grow as the session goes
 * (rest, sim without bars). Returns 0, or -1 with one line in err. */
int market_record(struct market *m, const char *path, char *err, size_t errlen);

#endif
