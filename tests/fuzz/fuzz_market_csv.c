/*
 * fuzz_market_csv.c: the CSV market reader, market_open("csv:PATH") (runtime/data/market.c), on arbitrary file
 * content: recorded or downloaded candles that a replay or the paper exchange trades on.
 *
 * Checked: it opens or refuses with a message, without crash, UB or leak (market_free); what it opens holds at
 * least two candles of finite, non-negative prices and volumes, with high and low around open and close, times
 * strictly increasing, and a period that is the smallest gap between them; market_at finds each candle at its
 * close and none before the first one closes.
 */
#include "fuzz.h"
#include "data/market.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path(".csv");
    fuzz_write_file(path, data, size);
    char url[600], err[512];
    snprintf(url, sizeof url, "csv:%s", path);
    memset(err, '#', sizeof err);
    struct market *m = market_open(url, 1700000000000, err, sizeof err);
    if (!m) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0', "refused without a message");
        return 0;
    }
    long n = market_count(m);
    int64_t period = market_period(m);
    FUZZ_CHECK(n >= 2, "opened %ld candles", n);
    FUZZ_CHECK(period > 0, "period %" PRId64, period);
    FUZZ_CHECK(strcmp(market_url(m), url) == 0, "url");
    int64_t min_gap = INT64_MAX;
    struct candle c, prev = {0}, first_c = {0}, last_c = {0};
    for (long i = 0; i < n; i++) {
        FUZZ_CHECK(market_candle(m, i, &c) == 0, "no candle %ld of %ld", i, n);
        double v[] = {c.open, c.high, c.low, c.close, c.volume};
        for (int k = 0; k < 5; k++)
            FUZZ_CHECK(isfinite(v[k]) && v[k] >= 0, "candle %ld field %d is %g", i, k, v[k]);
        FUZZ_CHECK(c.low <= c.open && c.low <= c.close && c.high >= c.open && c.high >= c.close,
                   "candle %ld: low %g high %g around open %g close %g", i, c.low, c.high, c.open, c.close);
        if (i > 0) {
            FUZZ_CHECK(c.time > prev.time, "candle %ld at %" PRId64 " is not after %" PRId64, i, c.time, prev.time);
            if (c.time - prev.time < min_gap)
                min_gap = c.time - prev.time;
        } else {
            first_c = c;
        }
        prev = last_c = c;
    }
    FUZZ_CHECK(market_candle(m, -1, &c) == -1 && market_candle(m, n, &c) == -1, "candles outside 0..n-1");
    FUZZ_CHECK(period == min_gap, "period %" PRId64 ", smallest gap %" PRId64, period, min_gap);

    int64_t first, last;
    market_span(m, &first, &last);
    FUZZ_CHECK(first == first_c.time + period && last == last_c.time + period, "span");
    FUZZ_CHECK(market_at(m, first - 1) == -1, "a candle closed before the first close");
    FUZZ_CHECK(market_at(m, first) == 0 && market_at(m, last) == n - 1 && market_at(m, INT64_MAX / 2) == n - 1,
               "market_at");
    for (long i = 0; i < n && i < 64; i++) {
        market_candle(m, i, &c);
        FUZZ_CHECK(market_at(m, c.time + period) == i, "candle %ld not found at its close", i);
    }
    market_free(m);
    return 0;
}
