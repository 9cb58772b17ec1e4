/*
 * history.h: historical candles from a venue's public REST API (Binance's GET /api/v3/klines), paged, within its
 * rate limits: `stratrun data download` (host/datatool.c). Every page is checked as the live market checks its
 * klines (binance.h) and must lie within the span asked; nothing of a page is handed on before the whole page
 * passed. No bots, no Lua beyond a private state for the JSON codec.
 */
#ifndef STRATRUN_HISTORY_H
#define STRATRUN_HISTORY_H

#include <stddef.h>
#include <stdint.h>

struct candle;

#define HISTORY_PAGE 1000           /* klines per request: the venue's most */
#define HISTORY_MAX_WAIT_S 600      /* a Retry-After longer than this ends the download instead of waiting */
#define HISTORY_PERIODS "1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d"

/* The period the venue names name (one of HISTORY_PERIODS) in ms, or 0 when it is none of them. */
int64_t history_period(const char *name);

struct history_req {
    const char *base;           /* the venue's base URL, http:// or https:// (a trailing slash is dropped) */
    const char *symbol;         /* the platform's form, BTC_USDT */
    const char *period;         /* one of HISTORY_PERIODS */
    int64_t from_ms, to_ms;     /* candles whose open time is in [from_ms, to_ms) and that have closed */
    long timeout_ms;            /* each request, whole */
    long weight;                /* the venue's request weight limit per minute; 0: not watched */
    int retries;                /* a request that fails on the way (no connection, a timeout, a connection cut,
                                 * HTTP 5xx) is tried again this often, after 1, 2, 4, ... s */
    /* Called with arg: take gets each page's candles, oldest first (0, or -1 to stop: the download then fails
     * with take's errno); say gets a line to show (a back-off, a retry); stopped is polled while waiting and
     * between pages (1: stop now). */
    int (*take)(void *arg, const struct candle *c, long n);
    void (*say)(void *arg, const char *line);
    int (*stopped)(void *arg);
    void *arg;
};

struct history_stats {
    long candles, requests;
    int64_t first, last;        /* open times of the first and last candle taken (valid when candles > 0) */
    int64_t end;                /* the end of the span actually asked: to_ms, or the last close before now */
    long gaps, missing;         /* holes between candles the venue sent, and the candles they lack */
    int64_t gap_from, gap_len;  /* the longest hole: the first missing open time, and how many candles */
    int64_t head_missing;       /* candles of the span before the first the venue sent (it was listed later) */
    int64_t tail_missing;       /* candles of the span after the last the venue sent */
};

/* Downloads the candles of q into q->take. Returns 0, or -1 with one line in err (the request's URL and the reason,
 * the venue's own message when it sent one); the stats say what was taken before. */
int history_download(const struct history_req *q, struct history_stats *st, char *err, size_t errlen);

#endif
