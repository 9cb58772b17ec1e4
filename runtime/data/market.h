/*
 * market.h: the market data a paper exchange trades on: a store of candles filled by one source (market_source.h:
 * a CSV file, a seeded random walk, or a venue's REST API), and the recorder behind --record. One per process,
 * shared by every bot (in a replay all bots see the same market). No Lua: the `market` module is lmarket.c.
 *
 * Candle i covers [time_i, time_i + period). At a moment t the market shows the latest candle that has closed
 * (time_i + period <= t): strategies never see a candle before its end, so a replay cannot look ahead.
 *
 * A live source's candles are written by its own thread while the bots read them: every function below takes
 * the market's lock, and candles are copied out, never pointed to.
 */
#ifndef STRATRUN_MARKET_H
#define STRATRUN_MARKET_H

#include <stddef.h>
#include <stdint.h>

#include "data/market_source.h"

struct candle {
    int64_t time;           /* bar start, ms since the epoch */
    double open, high, low, close, volume;
    double funding;         /* a swap's funding rate at the funding times the bar covers (a csv file's funding_rate
                             * column); NAN when the market has none */
};

struct market;

/* url: "sim:seed=42[,start=T][,bars=N][,history=N][,period=MS][,price=P][,vol=V]" (T in ms or ISO 8601; vol is
 * the daily volatility, default 0.03; with bars, history candles before start, default 3 days' worth), "csv:PATH", a PATH ending in .csv, or "rest:BASE-URL[,symbol=S][,interval=MS]
 * [,stale=MS][,timeout=MS]" (live, 1-minute candles; source_rest.c). Without bars, a sim market is open-ended: it
 * starts 1,000 bars before now_ms and grows as the clock moves (live demos). Returns NULL with one line in err. */
struct market *market_open(const char *url, int64_t now_ms, char *err, size_t errlen);
void market_free(struct market *m);

/* The span a replay covers: the close of the first candle after the history (a sim's history=N, 0 for other
 * sources) and the close of the last one (INT64_MAX when open-ended). */
void market_span(const struct market *m, int64_t *first_close_ms, int64_t *last_close_ms);

/* The index of the latest candle closed at t_ms, or -1 when none has. Grows an open-ended market up to t_ms. */
long market_at(struct market *m, int64_t t_ms);

/* Copies candle i (0 <= i < market_count) into out. Returns 0, or -1 when there is no such candle. */
int market_candle(const struct market *m, long i, struct candle *out);
long market_count(const struct market *m);
int64_t market_period(const struct market *m);
const char *market_url(const struct market *m);
const char *market_kind(const struct market *m);    /* the source's: "sim", "csv", "rest" */

/* For sources (market_source.h): appends the candles of c (oldest first) that are newer than the last one held,
 * and hands them to the recorder. Any thread. Returns how many were appended (fewer when out of memory). */
long market_append(struct market *m, const struct candle *c, long n);

/* A candle as a row of the CSV files --record and `stratrun data download` write (the header market_csv_header,
 * "time,open,high,low,close,volume\n"; time in ms, prices as the shortest text that reads back exactly), into row
 * (MARKET_CSV_ROW bytes); returns its length. csv:PATH reads them back. */
#define MARKET_CSV_ROW 256
extern const char market_csv_header[];
size_t market_csv_row(const struct candle *c, char *row);

/* --record FILE: appends the market's candles to path as CSV ("time,open,high,low,close,volume", time in ms,
 * prices in their shortest exact form), those held now (after the file's last row when it has rows) and every one
 * added later, so `replay --market csv:PATH` replays them exactly. Only for markets that grow as the session goes
 * (rest, sim without bars). Returns 0, or -1 with one line in err. */
int market_record(struct market *m, const char *path, char *err, size_t errlen);

/* ---- what a live venue's source adds (rest); other sources have none of it ---- */

/* Fills out (at most max) with the source's settings (rest: symbol, interval, stale); returns how many. */
int market_fields(const struct market *m, struct market_field *out, int max);

/* When feed was last fetched good (ms since the epoch, 0: never) into *fetched_ms, and why its latest fetch was
 * refused ("" when it was good) into why (may be NULL). Returns 0, or -1 when the source has no feeds. */
int market_fetched(struct market *m, enum market_feed feed, int64_t *fetched_ms, char *why, size_t whylen);

/* The last good body of feed (FEED_TICKER or FEED_DEPTH): its length (0: none yet, or no feeds), then a copy of it
 * into dst when it still has that length (returns 0 and sets *fetched_ms; -1 when a newer body of another length
 * came in between: ask again). */
size_t market_body_len(struct market *m, enum market_feed feed);
int market_body_copy(struct market *m, enum market_feed feed, char *dst, size_t len, int64_t *fetched_ms);

#endif
