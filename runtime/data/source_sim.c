/*
 * source_sim.c: the market source "sim:seed=42[,start=T][,bars=N][,history=N][,period=MS][,price=P][,vol=V]"
 * (market.h): a seeded random walk of candles, the same for the same settings on every machine. With bars it is a
 * fixed span (replays), after `history` bars (default: three days' worth) that a replay's first bar looks back on,
 * as the platform's backtester loads history before its start; without, 1,000 bars of history before now, then it
 * grows as the clock moves (live demos).
 */
#include "data/market.h"
#include "core/timeparse.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1024      /* candles made before each market_append */

struct sim {
    pthread_mutex_t mu;         /* advance may come from several threads */
    uint64_t rng;
    double sigma;               /* per-bar volatility of log returns */
    double price;               /* the first open */
    int64_t period;
    int open_ended;
    long made;                  /* bars made so far */
    struct candle last;         /* the last one */
};

static uint64_t next_u64(struct sim *s)
{
    /* splitmix64: fast, and every seed gives a good stream */
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(struct sim *s)
{
    return ((double)(next_u64(s) >> 11) + 0.5) / 9007199254740992.0;   /* (0, 1) */
}

static double gauss(struct sim *s)
{
    /* Box-Muller; one value per call keeps the stream simple to reason about */
    return sqrt(-2.0 * log(uniform(s))) * cos(6.283185307179586 * uniform(s));
}

static double tick(double price)
{
    return round(price * 100) / 100;
}

/* A price of the walk: on the cent, and kept within a cent and a trillion however wild the settings, so every
 * candle stays finite (and a recording of it replays). */
static double bounded(double price)
{
    return tick(fmin(fmax(price, 0.01), 1e12));
}

/* The next bar of the walk: open at the previous close, a log-normal move, wicks, and a volume. The first one
 * starts at start. */
static void sim_bar(struct sim *s, int64_t start, struct candle *c)
{
    c->time = s->made ? s->last.time + s->period : start;
    c->open = s->made ? s->last.close : tick(s->price);
    c->close = bounded(c->open * exp(s->sigma * gauss(s)));
    c->high = bounded(fmax(c->open, c->close) * exp(fabs(s->sigma * gauss(s)) * 0.5));
    c->low = bounded(fmin(c->open, c->close) * exp(-fabs(s->sigma * gauss(s)) * 0.5));
    c->volume = round(10.0 * exp(0.5 * gauss(s)) * 1e4) / 1e4;
    c->funding = NAN;       /* the exchange's funding_rate setting */
    s->last = *c;
    s->made++;
}

/* Makes bars into m until count bars were made (count >= 0) or, with count < 0, until the last one has closed at
 * until_ms. Returns 0, or -1 when m is out of memory. */
static int make_bars(struct sim *s, struct market *m, int64_t start, int64_t count, int64_t until_ms)
{
    struct candle batch[BATCH];
    int n = 0;
    while (count >= 0 ? s->made < count : s->last.time + s->period <= until_ms) {
        sim_bar(s, start, &batch[n++]);
        if (n == BATCH) {
            if (market_append(m, batch, n) != n)
                return -1;
            n = 0;
        }
    }
    return n && market_append(m, batch, n) != n ? -1 : 0;
}

/* The history before a fixed span: count bars ending where the span starts, walked backwards from its first open
 * with a stream of their own, so the span's bars are those of the same settings without history. */
static int make_history(const struct sim *s, struct market *m, uint64_t seed, int64_t start, long count)
{
    if (count == 0)
        return 0;
    struct candle *h = malloc((size_t)count * sizeof *h);
    if (!h)
        return -1;
    struct sim back = {.rng = seed ^ 0x6A09E667F3BCC909ull};
    double close = tick(s->price);
    for (long i = count - 1; i >= 0; i--) {
        struct candle *c = &h[i];
        c->time = start - (count - i) * s->period;
        c->close = close;
        c->open = bounded(close / exp(s->sigma * gauss(&back)));
        c->high = bounded(fmax(c->open, c->close) * exp(fabs(s->sigma * gauss(&back)) * 0.5));
        c->low = bounded(fmin(c->open, c->close) * exp(-fabs(s->sigma * gauss(&back)) * 0.5));
        c->volume = round(10.0 * exp(0.5 * gauss(&back)) * 1e4) / 1e4;
        c->funding = NAN;
        close = c->open;
    }
    int rc = market_append(m, h, count) == count ? 0 : -1;
    free(h);
    return rc;
}

static const char *sim_match(const char *url)
{
    if (strcmp(url, "sim") == 0)
        return "";
    return strncmp(url, "sim:", 4) == 0 ? url + 4 : NULL;
}

static void sim_close(void *src)
{
    struct sim *s = src;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void *sim_open(struct market *m, const char *url, const char *args, int64_t now_ms, struct market_shape *shape,
                      char *err, size_t errlen)
{
    struct sim *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    uint64_t seed = 42;
    int64_t start = 0, bars = -1, history = -1;
    int have_start = 0;
    double vol = 0.03;
    s->price = 43000;
    s->period = 60000;
    for (const char *p = args; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            snprintf(err, errlen, "market '%s': expected key=value, got '%.*s'", url, (int)n, p);
            goto fail;
        }
        size_t kl = (size_t)(eq - p), vl = n - kl - 1;
        char val[64];
        if (vl >= sizeof val) {
            snprintf(err, errlen, "market '%s': value too long", url);
            goto fail;
        }
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        char *e = NULL;
        errno = 0;
        int ok = 1;
        if (kl == 4 && !memcmp(p, "seed", 4))
            seed = strtoull(val, &e, 10);
        else if (kl == 4 && !memcmp(p, "bars", 4))
            bars = strtoll(val, &e, 10), ok = bars > 0 && bars <= 50000000;
        else if (kl == 7 && !memcmp(p, "history", 7))
            history = strtoll(val, &e, 10), ok = history >= 0 && history <= 50000000;
        else if (kl == 6 && !memcmp(p, "period", 6))
            s->period = strtoll(val, &e, 10), ok = s->period >= 1000 && s->period <= 31622400000LL;  /* a year */
        else if (kl == 5 && !memcmp(p, "price", 5))
            s->price = strtod(val, &e), ok = s->price >= 0.01 && s->price <= 1e12;  /* a tick up to a trillion */
        else if (kl == 3 && !memcmp(p, "vol", 3))
            vol = strtod(val, &e), ok = vol >= 0 && vol < 10;
        else if (kl == 5 && !memcmp(p, "start", 5)) {
            int r = time_parse(val, vl, TIME_MS, &start);
            if (r == -2) {
                snprintf(err, errlen, "market '%s': start '%.*s' is out of range: the clock holds " TIME_RANGE
                         " (as ms: -9223372036854 to 9223372036854)", url, (int)vl, val);
                goto fail;
            }
            ok = have_start = r == 0;
            e = val + vl;
        } else {
            snprintf(err, errlen,
                     "market '%s': unknown setting '%.*s' (allowed: seed, start, bars, history, period, price, vol)", url,
                     (int)kl, p);
            goto fail;
        }
        if (!ok || errno || !e || *e) {
            snprintf(err, errlen, "market '%s': invalid value for %.*s: '%s'", url, (int)kl, p, val);
            goto fail;
        }
        p += n + (comma ? 1 : 0);
    }
    s->rng = seed;
    s->sigma = vol * sqrt((double)s->period / 86400000.0);
    if (bars < 0 && history >= 0) {
        snprintf(err, errlen, "market '%s': history is for a sim of bars=N (a replay's span); an open-ended sim "
                 "starts with 1,000 bars of history", url);
        goto fail;
    }
    if (bars < 0) {
        /* Open-ended: history of 1,000 bars before now (fewer when so many long bars would start before the
         * clock's first moment, 1677), then it grows with the clock. */
        s->open_ended = 1;
        bars = 1000;
        if (!have_start) {
            int64_t fit = (now_ms + TIME_MAX_MS) / s->period - 1;
            if (bars > fit)
                bars = fit;
            start = (now_ms / s->period - bars) * s->period;
        }
    } else {
        if (!have_start)
            time_parse("2024-01-01", 10, TIME_MS, &start);
        if (history < 0)        /* three days' worth: every period up to a day has bars at the first one */
            history = 3 * 86400000LL / s->period > 3 ? 3 * 86400000LL / s->period : 3;
        if ((double)start - (double)history * (double)s->period < -(double)TIME_MAX_MS) {
            snprintf(err, errlen, "market '%s': history of %lld bars would start before 1677-09-21, the beginning "
                     "of the clock", url, (long long)history);
            goto fail;
        }
        if (make_history(s, m, seed, start, (long)history) != 0) {
            snprintf(err, errlen, "market '%s': out of memory", url);
            goto fail;
        }
        shape->history = (long)history;
    }
    /* The whole span must fit in the clock. */
    if ((double)start + (double)bars * (double)s->period > (double)TIME_MAX_MS) {
        snprintf(err, errlen, "market '%s': start + bars x period ends after 2262-04-11T23:47:16.854Z, the end of "
                 "the clock", url);
        goto fail;
    }
    if (make_bars(s, m, start, bars, 0) != 0) {
        snprintf(err, errlen, "market '%s': out of memory", url);
        goto fail;
    }
    shape->period = s->period;
    shape->open_ended = s->open_ended;
    return s;
fail:
    sim_close(s);
    return NULL;
}

/* A live sim: the bars that closed up to t_ms. */
static void sim_advance(void *src, struct market *m, int64_t t_ms)
{
    struct sim *s = src;
    if (!s->open_ended)
        return;
    pthread_mutex_lock(&s->mu);
    make_bars(s, m, 0, -1, t_ms);   /* out of memory: the market stops growing */
    pthread_mutex_unlock(&s->mu);
}

const struct market_source_ops source_sim = {
    .kind = "sim",
    .match = sim_match,
    .open = sim_open,
    .advance = sim_advance,
    .close = sim_close,
};
