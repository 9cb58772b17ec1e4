/*
 * market_source.h: the small vtable a market data source implements, as backend.h is for channel backends. The
 * market (market.c) keeps the candles, the lock and the recorder; a source only puts candles in (market_append)
 * and, for a live venue, keeps the venue's other feeds. market.c picks the source from the URL and never names one
 * otherwise.
 */
#ifndef STRATRUN_MARKET_SOURCE_H
#define STRATRUN_MARKET_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct market;

/* The venue's feeds besides the candles. */
enum market_feed { FEED_TICKER, FEED_DEPTH, FEED_KLINES, FEED_COUNT };

#define MARKET_WHYLEN 300   /* room for why a feed's latest fetch was refused */

/* A setting of the source that market.info() shows: a string (str) or, when str is NULL, an integer. */
struct market_field {
    const char *name;
    const char *str;
    int64_t num;
};


/* What open tells the market about the candles it will hold. */
struct market_shape {
    int64_t period;         /* ms each candle covers */
    int open_ended;         /* the market grows as the session goes (no last candle): live sim, rest */
    long history;           /* the first candles are history before the span a replay covers (sim's history=N) */
};

struct market_source_ops {
    const char *kind;       /* "sim", "csv", "rest": market_kind, market.info().kind */

    /* The source's arguments in url (what follows "sim:", ...), or NULL when url is not for this source. */
    const char *(*match)(const char *url);

    /* Called once, on the main thread, with m empty. Parses args, puts the first candles into m (market_append)
     * and fills shape. url is for messages. A source with a thread of its own starts it here; it may call
     * market_append from then on. Returns the source's state, or NULL with one line in err (a configuration
     * error), everything it made freed. */
    void *(*open)(struct market *m, const char *url, const char *args, int64_t now_ms, struct market_shape *shape,
                  char *err, size_t errlen);

    /* Optional (NULL: the source does not grow on demand). Called by market_at on the caller's thread, without the
     * market's lock: appends the candles that closed up to t_ms. May be called from several threads at once. */
    void (*advance)(void *src, struct market *m, int64_t t_ms);

    /* Optional, for live venues: market_fields, market_fetched, market_body_len and market_body_copy (market.h),
     * with the same contracts; called on the bots' thread while the source's own thread runs. */
    int (*fields)(void *src, struct market_field *out, int max);
    int64_t (*fetched)(void *src, enum market_feed feed, char *why, size_t whylen);
    size_t (*body_len)(void *src, enum market_feed feed);
    int (*body_copy)(void *src, enum market_feed feed, char *dst, size_t len, int64_t *fetched_ms);

    /* Stops the source's thread if it has one, and frees src. Called before the market frees its candles. */
    void (*close)(void *src);
};

extern const struct market_source_ops source_sim;
extern const struct market_source_ops source_csv;
extern const struct market_source_ops source_rest;

#endif
