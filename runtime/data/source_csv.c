/*
 * source_csv.c: the market source "csv:PATH" (or a PATH ending in .csv): candles read from a file with the header
 * time,open,high,low,close,volume (any order, any case; an optional funding_rate column gives a swap's funding rate,
 * signed), as --record writes them, or from a Binance kline file as
 * the venue publishes it (no header row, 12 columns starting open_time,open,high,low,close,volume; open_time in ms
 * before 2025, in µs since). Times in numbers are told apart by magnitude (timeparse.h). Every row is checked
 * before the market takes any: prices finite and non-negative, high and low around open and close, times strictly
 * increasing, within the clock. The period is the smallest gap between two candles (gaps in the data are allowed).
 */
#include "data/market.h"
#include "core/fsutil.h"
#include "core/timeparse.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BATCH 1024      /* candles read before each market_append */

/* Hands the *nb candles of batch to m. Returns 0, or -1 with err. */
static int flush(struct market *m, const char *path, const struct candle *batch, int *nb, char *err, size_t errlen)
{
    int n = *nb;
    *nb = 0;
    if (market_append(m, batch, n) == n)
        return 0;
    snprintf(err, errlen, "market %s: out of memory", path);
    return -1;
}

/* Reads the file at path into m and sets *period. Returns 0, or -1 with err (m may then hold some candles). */
static int read_csv(struct market *m, const char *path, int64_t *period, char *err, size_t errlen)
{
    struct candle batch[BATCH];
    int nb = 0;
    long rows = 0;
    int64_t prev = 0;
    char *text;
    size_t len;
    char msg[300];
    if (fs_read_all(path, (size_t)2 << 30, &text, &len, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "market: %s", msg);
        return -1;
    }
    enum { T, O, H, L, C, V, F, NCOL };     /* F: an optional funding_rate column (a swap's, signed) */
    static const char *const names[NCOL] = {"time", "open", "high", "low", "close", "volume", "funding_rate"};
    int col[NCOL], ncols = 0, rc = -1;
    long line = 1;
    char *p = text, *end = text + len;
    /* the header: the six names, in any order, any case ("open_time" for time, as Binance's header has it) */
    for (int i = 0; i < NCOL; i++)
        col[i] = -1;
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
        eol = end;
    int64_t t0;
    char *f0e = memchr(p, ',', (size_t)(eol - p));
    int headerless = f0e && time_parse(p, (size_t)(f0e - p), TIME_BY_MAGNITUDE, &t0) != -1;
    for (char *f = p; f <= eol && f < end;) {
        char *fe = f;
        while (fe < eol && *fe != ',')
            fe++;
        char *a = f, *b = fe;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        for (int i = 0; i < NCOL; i++)
            if (((size_t)(b - a) == strlen(names[i]) && strncasecmp(a, names[i], (size_t)(b - a)) == 0) ||
                (i == T && b - a == 9 && strncasecmp(a, "open_time", 9) == 0))
                col[i] = ncols;
        ncols++;
        f = fe + 1;
    }
    if (headerless) {
        /* Binance's kline layout: open_time, open, high, low, close, volume, close_time, quote_volume, count,
         * taker_buy_volume, taker_buy_quote_volume, ignore */
        if (ncols != 12) {
            snprintf(err, errlen, "market %s:1: %d columns and no header: a file without a header row must be a "
                     "Binance kline file (12 columns); others need the header time,open,high,low,close,volume",
                     path, ncols);
            goto out;
        }
        for (int i = 0; i < F; i++)
            col[i] = i;
        line = 0;
    }
    for (int i = 0; i < F; i++)
        if (col[i] < 0) {
            snprintf(err, errlen, "market %s:1: the header must name the columns time,open,high,low,close,volume "
                     "(missing '%s')", path, names[i]);
            goto out;
        }
    for (p = headerless ? p : eol + 1; p < end; p = eol + 1) {
        line++;
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        char *a = p;
        while (a < eol && isspace((unsigned char)*a))
            a++;
        if (a == eol)
            continue;   /* blank line */
        struct candle c;
        double v[NCOL] = {0};
        v[F] = NAN;
        int field = 0;
        for (char *f = p; f <= eol; field++) {
            char *fe = f;
            while (fe < eol && *fe != ',')
                fe++;
            for (int i = 0; i < NCOL; i++) {
                if (col[i] != field)
                    continue;
                if (i == T) {
                    int64_t t;
                    int r = time_parse(f, (size_t)(fe - f), TIME_BY_MAGNITUDE, &t);
                    if (r == -1) {
                        snprintf(err, errlen, "market %s:%ld: time '%.*s' is neither a number nor ISO 8601",
                                 path, line, (int)(fe - f > 40 ? 40 : fe - f), f);
                        goto out;
                    }
                    if (r != 0) {
                        snprintf(err, errlen, "market %s:%ld: time '%.*s' is out of range: the clock holds "
                                 TIME_RANGE "; numbers are " TIME_UNITS, path, line,
                                 (int)(fe - f > 40 ? 40 : fe - f), f);
                        goto out;
                    }
                    c.time = t;
                } else {
                    char num[64], *e;
                    size_t nl = (size_t)(fe - f);
                    if (nl >= sizeof num)
                        nl = sizeof num - 1;
                    memcpy(num, f, nl);
                    num[nl] = '\0';
                    v[i] = strtod(num, &e);
                    while (*e && isspace((unsigned char)*e))
                        e++;
                    if (i == F && num[strspn(num, " \t\r")] == '\0') {
                        v[i] = NAN;     /* an empty cell: no funding rate at this candle */
                        continue;
                    }
                    if (i == F && (e == num || *e || !(v[i] > -1 && v[i] < 1))) {
                        snprintf(err, errlen, "market %s:%ld: funding_rate '%s' is not a rate between -1 and 1",
                                 path, line, num);
                        goto out;
                    }
                    if (i != F && (e == num || *e || !isfinite(v[i]) || v[i] < 0)) {
                        snprintf(err, errlen, "market %s:%ld: %s '%s' is not a non-negative number", path, line,
                                 names[i], num);
                        goto out;
                    }
                }
            }
            f = fe + 1;
        }
        if (field < ncols) {
            snprintf(err, errlen, "market %s:%ld: %d fields, the header has %d", path, line, field, ncols);
            goto out;
        }
        c.open = v[O], c.high = v[H], c.low = v[L], c.close = v[C], c.volume = v[V], c.funding = v[F];
        if (c.high < fmax(c.open, c.close) || c.low > fmin(c.open, c.close)) {
            snprintf(err, errlen, "market %s:%ld: high/low do not contain open and close", path, line);
            goto out;
        }
        if (rows > 0 && c.time <= prev) {
            snprintf(err, errlen, "market %s:%ld: time goes backwards or repeats", path, line);
            goto out;
        }
        /* The period: the smallest gap between two candles (gaps in the data are allowed). */
        if (rows == 0)
            *period = INT64_MAX;
        else if (c.time - prev < *period)
            *period = c.time - prev;
        prev = c.time;
        rows++;
        batch[nb++] = c;
        if (nb == BATCH && flush(m, path, batch, &nb, err, errlen) != 0)
            goto out;
    }
    if (flush(m, path, batch, &nb, err, errlen) != 0)
        goto out;
    if (rows < 2) {
        snprintf(err, errlen, "market %s: needs at least two candles", path);
        goto out;
    }
    if (prev > TIME_MAX_MS - *period) {
        snprintf(err, errlen, "market %s: the last candle closes after 2262-04-11T23:47:16.854Z, the end of the "
                 "clock (" TIME_RANGE ")", path);
        goto out;
    }
    rc = 0;
out:
    free(text);
    return rc;
}

static const char *csv_match(const char *url)
{
    size_t n = strlen(url);
    if (strncmp(url, "csv:", 4) == 0)
        return url + 4;
    return n > 4 && strcmp(url + n - 4, ".csv") == 0 ? url : NULL;
}

static void *csv_open(struct market *m, const char *url, const char *args, int64_t now_ms, struct market_shape *shape,
                      char *err, size_t errlen)
{
    (void)url, (void)now_ms;
    static int token;   /* any non-NULL pointer: the source has no state once read */
    if (read_csv(m, args, &shape->period, err, errlen) != 0)
        return NULL;
    shape->open_ended = 0;
    return &token;
}

static void csv_close(void *src)
{
    (void)src;
}

const struct market_source_ops source_csv = {
    .kind = "csv",
    .match = csv_match,
    .open = csv_open,
    .close = csv_close,
};
