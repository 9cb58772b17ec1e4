/*
 * market_rest.h: the live market source "rest:BASE-URL[,symbol=BTC_USDT][,interval=MS][,stale=MS][,timeout=MS]"
 * (market_rest.c), used by market.c only. A background poller thread with its own libcurl handles fetches the
 * Binance-compatible public endpoints every interval: /api/v3/ticker/24hr, /api/v3/depth (limit 20) and
 * /api/v3/klines (1m). Closed klines go into the market's candles (market_append); the latest good ticker and
 * depth bodies are kept raw, with their fetch time, for stdlib/exchange.lua to decode. A body that is not what
 * the venue documents (an HTTP error, malformed, truncated or too large) is refused with one warning and the last
 * good one is kept, until it goes stale.
 */
#ifndef STRATRUN_MARKET_REST_H
#define STRATRUN_MARKET_REST_H

#include <stddef.h>
#include <stdint.h>

struct market;
struct rest;

enum rest_feed { REST_TICKER, REST_DEPTH, REST_KLINES, REST_NFEEDS };

#define REST_PERIOD_MS 60000            /* the klines' interval: 1m */
#define REST_MAX_BYTES (1L << 20)       /* cap on one response body */
#define REST_WHYLEN 300                 /* room for why a fetch was refused */

/* Parses args (what follows "rest:"), fetches every feed once (so the bots start with data, or with a warning),
 * and starts the poller. Returns NULL with one line in err when args are invalid or the thread cannot start; an
 * unreachable venue is not an error (a warning; the data is then missing, and the exchange says so). */
struct rest *rest_open(struct market *m, const char *url, const char *args, char *err, size_t errlen);

/* Stops the poller and frees r. */
void rest_close(struct rest *r);

const char *rest_symbol(const struct rest *r);     /* the platform's form, "BTC_USDT" */
int64_t rest_stale_ms(const struct rest *r);
int64_t rest_interval_ms(const struct rest *r);

/* When feed was last fetched good (ms since the epoch; 0: never), and why its latest fetch was refused ("" when it
 * was good) into why (why may be NULL). */
int64_t rest_fetched(struct rest *r, enum rest_feed feed, char *why, size_t whylen);

/* The last good body of feed (REST_TICKER or REST_DEPTH): its length (0: none yet), then a copy of it into dst
 * when it still has that length (returns 0 and sets *fetched_ms; -1 when a newer body of another length came in
 * between: ask again). */
size_t rest_body_len(struct rest *r, enum rest_feed feed);
int rest_body_copy(struct rest *r, enum rest_feed feed, char *dst, size_t len, int64_t *fetched_ms);

#endif
