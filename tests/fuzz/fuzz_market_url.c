/*
 * fuzz_market_url.c: the settings of a simulated market, market_open("sim:...") (runtime/data/market.c), as the config's
 * market key and --market give them (seed, start as ISO 8601 or ms, bars, period, price, vol), and --record, which
 * appends a live market's candles to a CSV file that a replay reads back.
 *
 * The input: the settings (the text after "sim:") up to a newline or NUL; after a newline, what the record file
 * already holds. Markets of more than 100,000 bars are skipped: up to 50,000,000 are allowed and take gigabytes by
 * design.
 *
 * Checked: it opens or refuses with a message, without crash, UB (integer overflow of candle times included) or
 * leak; what it opens has candles one period apart from the start asked for, a period of at least a second, and a
 * span that matches them. An open-ended market (no bars) is recorded: into an empty file, the CSV reader must read
 * back exactly the candles it holds (`stratrun --record F` then `replay --market csv:F`); onto existing content,
 * market_record appends or refuses with a message.
 */
#include "fuzz.h"
#include "data/market.h"
#include "core/timeparse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records m into the scratch record file holding prior[0..n) and, when that was empty, reads it back. */
static void check_record(struct market *m, const uint8_t *prior, size_t n)
{
    const char *path = fuzz_scratch_path(".rec.csv");
    fuzz_write_file(path, prior, n);
    char err[512] = "";
    if (market_record(m, path, err, sizeof err) != 0) {
        FUZZ_CHECK(n > 0 && err[0], "--record into an empty file failed: %s", err);
        return;
    }
    if (n > 0)
        return;
    long count = market_count(m);
    /* ms from 1e9 to 1e10 (1970-01-12 to 1970-04-26, and as long before 1970) are read as seconds, by magnitude
     * (timeparse.h), so such a recording does not read back: docs/replay.md says so. */
    for (long i = 0; i < count; i++) {
        struct candle a;
        market_candle(m, i, &a);
        if (llabs(a.time) >= 1000000000 && llabs(a.time) < 10000000000)
            return;
    }
    char url[600];
    snprintf(url, sizeof url, "csv:%s", path);
    struct market *back = market_open(url, 0, err, sizeof err);
    FUZZ_CHECK(back != NULL, "the recording of %s does not open: %s", market_url(m), err);
    FUZZ_CHECK(market_count(back) == count, "recorded %ld candles, read back %ld", count, market_count(back));
    for (long i = 0; i < count; i++) {
        struct candle a, b;
        market_candle(m, i, &a);
        market_candle(back, i, &b);
        FUZZ_CHECK(a.time == b.time && memcmp(&a.open, &b.open, 5 * sizeof a.open) == 0,
                   "candle %ld of %s recorded as %" PRId64 " %.17g %.17g %.17g %.17g %.17g, read back as %" PRId64
                   " %.17g %.17g %.17g %.17g %.17g", i, market_url(m), a.time, a.open, a.high, a.low, a.close,
                   a.volume, b.time, b.open, b.high, b.low, b.close, b.volume);
    }
    market_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0, rest = 0;
    while (n < size && data[n] != '\n' && data[n] != '\0')
        n++;
    const uint8_t *prior = data + n;
    if (n < size && data[n] == '\n') {
        prior++;
        rest = size - n - 1;
    }
    char *url = malloc(n + 5);
    FUZZ_CHECK(url != NULL, "out of memory");
    memcpy(url, "sim:", 4);
    memcpy(url + 4, data, n);
    url[n + 4] = '\0';
    for (const char *b = strstr(url, "bars="); b; b = strstr(b + 1, "bars="))
        if (strtoll(b + 5, NULL, 10) > 100000) {
            free(url);
            return 0;
        }
    char err[512];
    memset(err, '#', sizeof err);
    struct market *m = market_open(url, 1700000000000, err, sizeof err);
    if (!m) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0', "refused without a message");
        free(url);
        return 0;
    }
    long count = market_count(m);
    int64_t period = market_period(m);
    FUZZ_CHECK(count >= 1 && period >= 1000, "%ld candles of period %" PRId64 " from %s", count, period, url);
    struct candle c0, c, prev;
    FUZZ_CHECK(market_candle(m, 0, &c0) == 0, "no first candle");
    prev = c0;
    for (long i = 1; i < count; i++) {
        FUZZ_CHECK(market_candle(m, i, &c) == 0, "no candle %ld of %ld", i, count);
        FUZZ_CHECK(c.time - prev.time == period, "candle %ld is not one period after the one before (%s)", i, url);
        prev = c;
    }
    /* The span starts at a candle of the market, after its history (a sim of bars=N has history before start). */
    int64_t first, last;
    market_span(m, &first, &last);
    FUZZ_CHECK(first >= c0.time + period && (first - c0.time) % period == 0 && first <= prev.time + period,
               "span starts at %" PRId64 ", not at a candle's close", first);
    /* The last start= wins, whatever instant within the clock it names (before 1970 too): the span's first candle
     * starts there (an open-ended sim's history comes before it, so there it is the market's first). */
    const char *start = NULL;
    for (const char *k = url + 4; k; k = strchr(k, ','), k = k ? k + 1 : NULL)
        if (strncmp(k, "start=", 6) == 0)
            start = k + 6;
    int64_t t;
    if (start && time_parse(start, strcspn(start, ","), TIME_MS, &t) == 0)
        FUZZ_CHECK(first - period == t || (last == INT64_MAX && c0.time == t),
                   "start=%.*s is %" PRId64 ", the span's first candle is at %" PRId64, (int)strcspn(start, ","),
                   start, t, first - period);
    FUZZ_CHECK(last == INT64_MAX || last == prev.time + period, "span ends at %" PRId64, last);
    if (last == INT64_MAX)
        check_record(m, prior, rest);
    market_free(m);
    free(url);
    return 0;
}
