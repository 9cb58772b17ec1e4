/*
 * source_rest.c: the live market source
 * "rest:BASE-URL[,symbol=BTC_USDT][,interval=MS][,stale=MS][,timeout=MS][,weight=N]" (market_source.h,
 * docs/http.md). A background poller thread fetches the Binance-compatible public endpoints every interval:
 * /api/v3/ticker/24hr, /api/v3/depth (limit 20) and /api/v3/klines (1m). Closed klines go into the market's candles
 * (market_append); the latest good ticker and depth bodies are kept raw, with their fetch time, for
 * stdlib/exchange.lua to decode. A body that is not what the venue documents (an HTTP error, malformed,
 * truncated or too large) is refused with one warning and the last good one is kept, until it goes stale. An
 * unreachable venue is not an error at start (a warning; the data is then missing, and the exchange says so).
 *
 * The venue's rate limits are obeyed, as Binance documents them: an HTTP 429 (too many requests) or 418 (the IP
 * is banned for going on after 429s) stops every request for the Retry-After the venue sends (a default when it
 * sends none), and a used weight (X-MBX-USED-WEIGHT-1M) at BINANCE_WEIGHT_SLOW of the market's `weight` limit
 * stops them until the venue's minute ends (binance.h), so the limit is never reached; one warning when a back-off
 * starts, one line when requests resume.
 *
 * The poller has its own curl multi handle and one easy handle per feed, and fetches the three feeds at once.
 * The venue's bodies are never trusted: each is decoded with the runtime's codec in a Lua state private to the
 * poller (no Lua value ever leaves it) and checked against the documented shape before anything is kept. The
 * bots' thread reads only plain C data, under the mutex.
 */
#include "data/market.h"
#include "core/thread.h"
#include "core/clock.h"
#include "core/fetch.h"
#include "data/json.h"
#include "data/binance.h"
#include "core/logsink.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#define REST_PERIOD_MS 60000            /* the klines' interval: 1m */
#define REST_MAX_BYTES (1L << 20)       /* cap on one response body */
#define KLINES_MAX 500          /* per request, as the venue allows */
#define DEPTH_LEVELS 20
#define LEVELS_MAX 5000         /* more levels than this on one side is not a depth snapshot of limit 20 */
#define WEIGHT_DEFAULT 6000     /* Binance's REQUEST_WEIGHT limit per minute (GET /api/v3/exchangeInfo) */

static const char *const feed_names[FEED_COUNT] = {"ticker", "depth", "klines"};

struct feed {
    CURL *h;
    struct fetch f;             /* poller only */
    int failing;                /* poller only: a warning was given and the feed has not recovered since */
    /* under rest.mu */
    char *body;                 /* the last good body (ticker, depth) */
    size_t len;
    int64_t fetched_ms;         /* when it was fetched; 0: never */
    char why[MARKET_WHYLEN];      /* why the latest fetch was refused; "" when it was good */
};

struct rest {
    struct market *m;
    char *url;                  /* the market URL, for messages */
    char *base;                 /* the base URL, without a trailing slash */
    char host[300];             /* its scheme://host:port, the key of the process's back-off table; "" if none */
    char symbol[40], venue[40]; /* BTC_USDT, BTCUSDT */
    int64_t interval_ms, stale_ms;
    long timeout_ms;
    long weight;                /* the venue's request weight limit per minute; 0: not watched */
    int64_t pause_until_ms;     /* poller only, CLOCK_MONOTONIC: no request before then (a back-off) */
    int backing_off;            /* poller only: a back-off was announced and requests have not resumed since */
    CURLM *multi;
    lua_State *L;               /* the poller's own state, for the JSON codec */
    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t mu;
    struct feed feed[FEED_COUNT];
};

/* ---- checking the venue's bodies (in the poller's own state, under lua_pcall) ---- */

struct check {
    struct rest *r;
    enum market_feed feed;
    const struct fetch *f;
    char why[MARKET_WHYLEN];      /* set when the body is refused */
    struct candle *c;           /* klines: the closed ones, malloc'd */
    long n;
};

/* Raw field k of the table at t as a number >= min (> 0 when positive). Returns 0, or -1 with why set. */
static int field_number(lua_State *L, struct check *x, int t, const char *k, int positive, double *out)
{
    lua_pushstring(L, k);
    lua_rawget(L, t);
    int rc = binance_number(L, -1, out);
    lua_pop(L, 1);
    if (rc != 0 || *out < 0 || (positive && *out == 0)) {
        snprintf(x->why, sizeof x->why, "field %s is missing or not a %s number", k,
                 positive ? "positive" : "non-negative");
        return -1;
    }
    return 0;
}

static void check_ticker(lua_State *L, struct check *x)
{
    if (!binance_is_object(L, 1)) {
        snprintf(x->why, sizeof x->why, "not a JSON object");
        return;
    }
    lua_getfield(L, 1, "symbol");
    const char *sym = lua_tostring(L, -1);
    if (!sym || strcmp(sym, x->r->venue) != 0) {
        snprintf(x->why, sizeof x->why, "symbol is %s%s%s, asked for %s", sym ? "'" : "", sym ? sym : "missing",
                 sym ? "'" : "", x->r->venue);
        return;
    }
    lua_pop(L, 1);
    static const char *const fields[] = {"openPrice", "highPrice", "lowPrice", "volume", NULL};
    double v, bid, ask, close_time;
    for (int i = 0; fields[i]; i++)
        if (field_number(L, x, 1, fields[i], 0, &v) != 0)
            return;
    if (field_number(L, x, 1, "lastPrice", 1, &v) != 0 || field_number(L, x, 1, "bidPrice", 0, &bid) != 0 ||
        field_number(L, x, 1, "askPrice", 0, &ask) != 0 || field_number(L, x, 1, "closeTime", 1, &close_time) != 0)
        return;
    if (bid > 0 && ask > 0 && bid > ask)
        snprintf(x->why, sizeof x->why, "bidPrice %.10g is above askPrice %.10g", bid, ask);
}

/* One side of the depth: an array of [price, quantity] pairs, prices strictly ascending (dir 1) or descending
 * (dir -1). Sets *best to the first price (0 when empty). */
static int check_side(lua_State *L, struct check *x, const char *side, int dir, double *best)
{
    lua_getfield(L, 1, side);
    int t = lua_gettop(L);
    lua_Unsigned n = binance_is_array(L, t) ? lua_rawlen(L, t) : 0;
    *best = 0;
    if (!binance_is_array(L, t) || n > LEVELS_MAX) {
        snprintf(x->why, sizeof x->why, "%s is not an array of [price, quantity] levels", side);
        return -1;
    }
    double prev = 0;
    for (lua_Unsigned i = 1; i <= n; i++) {
        double p, q;
        lua_rawgeti(L, t, (lua_Integer)i);
        int ok = lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) >= 2;
        if (ok) {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            ok = binance_number(L, -2, &p) == 0 && binance_number(L, -1, &q) == 0 && p > 0 && q >= 0;
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
        if (!ok) {
            snprintf(x->why, sizeof x->why, "%s[%llu] is not a [price, quantity] pair of positive numbers", side,
                     (unsigned long long)i);
            return -1;
        }
        if (i > 1 && (dir > 0 ? p <= prev : p >= prev)) {
            snprintf(x->why, sizeof x->why, "%s are not in %s order of price at level %llu", side,
                     dir > 0 ? "ascending" : "descending", (unsigned long long)i);
            return -1;
        }
        if (i == 1)
            *best = p;
        prev = p;
    }
    lua_pop(L, 1);
    return 0;
}

static void check_depth(lua_State *L, struct check *x)
{
    double bid, ask;
    if (!binance_is_object(L, 1)) {
        snprintf(x->why, sizeof x->why, "not a JSON object");
        return;
    }
    if (check_side(L, x, "bids", -1, &bid) != 0 || check_side(L, x, "asks", 1, &ask) != 0)
        return;
    if (bid > 0 && ask > 0 && bid >= ask)
        snprintf(x->why, sizeof x->why, "the best bid %.10g is not below the best ask %.10g", bid, ask);
}

/* Klines, oldest first (binance.h). The last one is the candle still forming at the venue: every other one has
 * closed. */
static void check_klines(lua_State *L, struct check *x)
{
    if (binance_klines(L, 1, REST_PERIOD_MS, 1000, &x->c, &x->n, x->why, sizeof x->why) != 0)
        return;
    if (x->n == 0)
        snprintf(x->why, sizeof x->why, "no klines: the venue always sends at least the one still forming");
    else
        x->n--;     /* the forming one */
}

/* Decodes and checks x->f's body. (check) */
static int check_p(lua_State *L)
{
    struct check *x = lua_touserdata(L, 1);
    lua_settop(L, 0);
    char err[JSON_ERRLEN];
    if (json_decode(L, x->f->resp ? x->f->resp : "", x->f->resp_len, err, sizeof err) != 0) {
        snprintf(x->why, sizeof x->why, "malformed JSON: %s", err);
        return 0;
    }
    /* stack: the decoded body */
    if (binance_error(L, 1, x->why, sizeof x->why))
        return 0;
    if (x->feed == FEED_TICKER)
        check_ticker(L, x);
    else if (x->feed == FEED_DEPTH)
        check_depth(L, x);
    else
        check_klines(L, x);
    return 0;
}

/* ---- the poller ---- */

static void feed_url(struct rest *r, enum market_feed k, char *buf, size_t size)
{
    if (k == FEED_TICKER) {
        snprintf(buf, size, "%s/api/v3/ticker/24hr?symbol=%s", r->base, r->venue);
    } else if (k == FEED_DEPTH) {
        snprintf(buf, size, "%s/api/v3/depth?symbol=%s&limit=%d", r->base, r->venue, DEPTH_LEVELS);
    } else {
        /* Enough klines to cover the time since the last candle held (all 500 at first, or after a long outage). */
        long count = market_count(r->m), limit = KLINES_MAX;
        struct candle last;
        if (count > 0 && market_candle(r->m, count - 1, &last) == 0) {
            int64_t behind = (clock_wall_ms() - last.time) / REST_PERIOD_MS + 2;
            if (behind < limit)
                limit = behind < 2 ? 2 : (long)behind;
        }
        snprintf(buf, size, "%s/api/v3/klines?symbol=%s&interval=1m&limit=%ld", r->base, r->venue, limit);
    }
}

/* What fetching feed k gave: kept when it is good, else refused with a warning (once, until it recovers). */
static void take(struct rest *r, enum market_feed k)
{
    struct feed *fd = &r->feed[k];
    struct fetch *f = &fd->f;
    struct check x = {.r = r, .feed = k, .f = f};
    if (f->error[0]) {
        snprintf(x.why, sizeof x.why, "%s", f->error);
    } else if (f->status < 200 || f->status > 299) {
        /* The venue's error bodies say why ({"code":-1121,"msg":"Invalid symbol."}): show their start. */
        char shown[121];
        size_t n = 0;
        for (size_t i = 0; i < f->resp_len && n < sizeof shown - 1; i++)
            shown[n++] = isprint((unsigned char)f->resp[i]) ? f->resp[i] : ' ';
        shown[n] = '\0';
        snprintf(x.why, sizeof x.why, "HTTP status %ld%s%s", f->status, n ? ": " : "", shown);
    } else {
        lua_pushcfunction(r->L, check_p);
        lua_pushlightuserdata(r->L, &x);
        if (lua_pcall(r->L, 1, 0, 0) != LUA_OK)
            snprintf(x.why, sizeof x.why, "cannot check it: %s", lua_tostring(r->L, -1));
        lua_settop(r->L, 0);
    }
    char *body = NULL;
    if (!x.why[0] && k != FEED_KLINES && !(body = malloc(f->resp_len + 1)))
        snprintf(x.why, sizeof x.why, "out of memory");
    if (x.why[0]) {
        free(x.c);
        pthread_mutex_lock(&r->mu);
        snprintf(fd->why, sizeof fd->why, "%s", x.why);
        int64_t fetched = fd->fetched_ms;
        pthread_mutex_unlock(&r->mu);
        if (f->status == 429 || f->status == 418)
            return;     /* the back-off's own warning says it (backoff) */
        if (!fd->failing) {
            fd->failing = 1;
            if (fetched)
                log_thread_warning("market %s: %s refused: %s; keeping the one fetched %lld ms ago (stale after "
                                   "%lld ms)", r->url, feed_names[k], x.why, (long long)(clock_wall_ms() - fetched),
                                   (long long)r->stale_ms);
            else
                log_thread_warning("market %s: %s refused: %s; none yet", r->url, feed_names[k], x.why);
        }
        return;
    }
    if (k == FEED_KLINES) {
        market_append(r->m, x.c, x.n);
        free(x.c);
    } else {
        memcpy(body, f->resp ? f->resp : "", f->resp_len);
        body[f->resp_len] = '\0';
    }
    pthread_mutex_lock(&r->mu);
    char *old = fd->body;
    if (k != FEED_KLINES) {
        fd->body = body;
        fd->len = f->resp_len;
    }
    fd->fetched_ms = clock_wall_ms();
    fd->why[0] = '\0';
    pthread_mutex_unlock(&r->mu);
    if (k != FEED_KLINES)
        free(old);
    if (fd->failing) {
        fd->failing = 0;
        log_thread_info("market %s: %s is good again", r->url, feed_names[k]);
    }
}

/* After a round: a 429 or 418 stops every request for the venue's Retry-After, noted in the process's back-off
 * table (core/fetch.c) so that HttpQuery {retry_after = true} leaves the venue alone too; a used weight near the
 * limit, until the venue's minute ends. Says so once, and once more at the first round after the back-off. */
static void backoff(struct rest *r)
{
    long wait_s = 0, status = 0, used = -1;
    int asked = 0;      /* the wait is the venue's Retry-After */
    for (int k = 0; k < FEED_COUNT; k++) {
        const struct fetch *f = &r->feed[k].f;
        long w = fetch_backoff_s(f);
        if (w) {
            if (w >= wait_s) {
                wait_s = w;
                asked = f->retry_after_s > 0;
            }
            if (status != 418)
                status = f->status;
        }
        long u = binance_used_weight(f);
        if (u > used)
            used = u;
    }
    int64_t now = clock_mono_ms(), left = binance_weight_wait_ms(used, r->weight);
    if (status) {
        r->pause_until_ms = now + wait_s * 1000;
        if (r->host[0])
            fetch_backoff_note(r->host, status, wait_s);
        log_thread_warning("market %s: the venue answered HTTP %ld %s: no requests for %ld s (%s)", r->url, status,
                           status == 418 ? "(this IP is banned for requests after a 429)" : "Too Many Requests",
                           wait_s, asked ? "its Retry-After" : "it sent no Retry-After: the default");
        r->backing_off = 1;
    } else if (left > 0) {
        r->pause_until_ms = now + left;
        log_thread_warning("market %s: used weight %ld of %ld per minute (X-MBX-USED-WEIGHT-1M): no requests for "
                           "%lld s, until the venue's minute ends", r->url, used, r->weight,
                           (long long)((left + 999) / 1000));
        r->backing_off = 1;
    } else if (r->backing_off) {
        r->backing_off = 0;
        log_thread_info("market %s: requests resumed after the back-off", r->url);
    }
}

/* Fetches the three feeds at once and takes what came. */
static void poll_round(struct rest *r)
{
    char url[1024];
    int added[FEED_COUNT] = {0};
    for (int k = 0; k < FEED_COUNT; k++) {
        struct fetch *f = &r->feed[k].f;
        feed_url(r, (enum market_feed)k, url, sizeof url);
        free(f->url);
        f->url = strdup(url);
        f->timeout_ms = r->timeout_ms;
        f->max_bytes = REST_MAX_BYTES;
        if (!f->url) {
            snprintf(f->error, sizeof f->error, "out of memory");
            continue;
        }
        if (fetch_setup(r->feed[k].h, f) != 0)
            continue;
        if (curl_multi_add_handle(r->multi, r->feed[k].h) != CURLM_OK) {
            snprintf(f->error, sizeof f->error, "cannot start the transfer");
            continue;
        }
        added[k] = 1;
    }
    int running = 1;
    while (running && !atomic_load(&r->stop)) {
        curl_multi_perform(r->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(r->multi, &left)))
            for (int k = 0; k < FEED_COUNT; k++)
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == r->feed[k].h)
                    fetch_finish(&r->feed[k].f, r->feed[k].h, msg->data.result);
        if (running)
            curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
    }
    for (int k = 0; k < FEED_COUNT; k++)
        if (added[k])
            curl_multi_remove_handle(r->multi, r->feed[k].h);
    if (atomic_load(&r->stop))
        return;
    for (int k = 0; k < FEED_COUNT; k++)
        take(r, (enum market_feed)k);
    backoff(r);
}

static void *poller(void *arg)
{
    struct rest *r = arg;
    int64_t next = clock_mono_ms() + r->interval_ms;
    while (!atomic_load(&r->stop)) {
        int64_t wait = next - clock_mono_ms();
        if (wait > 0) {
            /* rest_close wakes it (curl_multi_wakeup) */
            curl_multi_poll(r->multi, NULL, 0, (int)(wait < 1000 ? wait : 1000), NULL);
            continue;
        }
        long status, wait_s;
        int64_t left_ms;
        if (r->host[0] && fetch_backoff_left(r->host, &status, &wait_s, &left_ms) &&
            clock_mono_ms() + left_ms > r->pause_until_ms + 1000) {
            /* HttpQuery {retry_after = true}, a live exchange or another process of the data dir was told to leave
             * the venue alone: so is the poller (a back-off of its own, noted there too, ends with its pause, within
             * the second allowed here) */
            r->pause_until_ms = clock_mono_ms() + left_ms;
            log_thread_warning("market %s: the venue answered HTTP %ld to another request of this data dir: no "
                               "requests for %lld s", r->url, status, (long long)((left_ms + 999) / 1000));
            r->backing_off = 1;
        }
        if (r->pause_until_ms > clock_mono_ms()) {
            next = r->pause_until_ms;   /* a back-off (backoff) */
            continue;
        }
        next += r->interval_ms;
        if (next < clock_mono_ms())
            next = clock_mono_ms() + r->interval_ms;    /* a round took longer than the interval: no burst after it */
        poll_round(r);
    }
    return NULL;
}

/* ---- opening ---- */

/* symbol=BTC_USDT: BASE_QUOTE of capitals and digits; the venue's form drops the underscore. */
static int set_symbol(struct rest *r, const char *v)
{
    if (strlen(v) >= sizeof r->symbol || binance_symbol(v, r->venue, sizeof r->venue) != 0)
        return -1;
    memcpy(r->symbol, v, strlen(v) + 1);
    return 0;
}

static int parse_args(struct rest *r, const char *args, char *err, size_t errlen)
{
    const char *comma = strchr(args, ',');
    size_t blen = comma ? (size_t)(comma - args) : strlen(args);
    if (!((blen > 7 && strncmp(args, "http://", 7) == 0) || (blen > 8 && strncmp(args, "https://", 8) == 0))) {
        snprintf(err, errlen, "market '%s': the base URL must start with http:// or https://", r->url);
        return -1;
    }
    while (blen > 0 && args[blen - 1] == '/')
        blen--;
    if (!(r->base = strndup(args, blen))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (fetch_url_host(r->base, r->host, sizeof r->host) != 0)
        r->host[0] = '\0';
    set_symbol(r, "BTC_USDT");
    r->interval_ms = 1000;
    r->stale_ms = -1;
    r->timeout_ms = 5000;
    r->weight = WEIGHT_DEFAULT;
    for (const char *p = comma ? comma + 1 : ""; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        char val[64];
        size_t kl = eq ? (size_t)(eq - p) : n, vl = eq ? n - kl - 1 : 0;
        if (!eq || vl >= sizeof val) {
            snprintf(err, errlen, "market '%s': expected key=value, got '%.*s'", r->url, (int)n, p);
            return -1;
        }
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        char *e;
        errno = 0;
        long long v = strtoll(val, &e, 10);
        int num_ok = vl > 0 && !*e && !errno;
        if (kl == 6 && !memcmp(p, "symbol", 6)) {
            if (set_symbol(r, val) != 0) {
                snprintf(err, errlen, "market '%s': symbol must be BASE_QUOTE in capitals, like BTC_USDT (got '%s')",
                         r->url, val);
                return -1;
            }
        } else if (kl == 8 && !memcmp(p, "interval", 8)) {
            if (!num_ok || v < 100 || v > 3600000) {
                snprintf(err, errlen, "market '%s': interval must be ms from 100 to 3600000 (got '%s')", r->url, val);
                return -1;
            }
            r->interval_ms = v;
        } else if (kl == 5 && !memcmp(p, "stale", 5)) {
            if (!num_ok || v < 1 || v > 86400000) {
                snprintf(err, errlen, "market '%s': stale must be ms from 1 to 86400000 (got '%s')", r->url, val);
                return -1;
            }
            r->stale_ms = v;
        } else if (kl == 7 && !memcmp(p, "timeout", 7)) {
            if (!num_ok || v < 100 || v > 600000) {
                snprintf(err, errlen, "market '%s': timeout must be ms from 100 to 600000 (got '%s')", r->url, val);
                return -1;
            }
            r->timeout_ms = (long)v;
        } else if (kl == 6 && !memcmp(p, "weight", 6)) {
            if (!num_ok || v < 0 || v > 1000000) {
                snprintf(err, errlen, "market '%s': weight must be the venue's request weight limit per minute, "
                         "from 0 (not watched) to 1000000 (got '%s')", r->url, val);
                return -1;
            }
            r->weight = (long)v;
        } else {
            snprintf(err, errlen, "market '%s': unknown setting '%.*s' (allowed: symbol, interval, stale, timeout, "
                     "weight)",
                     r->url, (int)kl, p);
            return -1;
        }
        p += n + (c ? 1 : 0);
    }
    if (r->stale_ms < 0)
        r->stale_ms = r->interval_ms * 3 > 5000 ? r->interval_ms * 3 : 5000;
    if (r->stale_ms <= r->interval_ms) {
        snprintf(err, errlen, "market '%s': stale (%lld ms) must be longer than interval (%lld ms), or every poll "
                 "would find the data stale", r->url, (long long)r->stale_ms, (long long)r->interval_ms);
        return -1;
    }
    return 0;
}

static void rest_close(void *src);

static const char *rest_match(const char *url)
{
    return strncmp(url, "rest:", 5) == 0 ? url + 5 : NULL;
}

/* Parses args, fetches every feed once (so the bots start with data, or with a warning), and starts the poller. */
static void *rest_open(struct market *m, const char *url, const char *args, int64_t now_ms, struct market_shape *shape,
                       char *err, size_t errlen)
{
    (void)now_ms;
    if (lazylib_need(&lazy_curl, "the rest market", err, errlen) != 0)
        return NULL;
    struct rest *r = calloc(1, sizeof *r);
    if (!r || !(r->url = strdup(url))) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->m = m;
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->stop, 0);
    if (parse_args(r, args, err, errlen) != 0) {
        rest_close(r);
        return NULL;
    }
    r->multi = curl_multi_init();
    r->L = luaL_newstate();
    int ok = r->multi && r->L;
    for (int k = 0; ok && k < FEED_COUNT; k++)
        ok = (r->feed[k].h = curl_easy_init()) != NULL;
    if (!ok) {
        snprintf(err, errlen, "market '%s': out of memory", url);
        rest_close(r);
        return NULL;
    }
    poll_round(r);
    if (thread_start(&r->thread, poller, r) != 0) {
        snprintf(err, errlen, "market '%s': cannot start the poller thread", url);
        rest_close(r);
        return NULL;
    }
    r->started = 1;
    shape->period = REST_PERIOD_MS;
    shape->open_ended = 1;
    return r;
}

/* Stops the poller and frees r. */
static void rest_close(void *src)
{
    struct rest *r = src;
    if (r->started) {
        atomic_store(&r->stop, 1);
        curl_multi_wakeup(r->multi);
        pthread_join(r->thread, NULL);
    }
    for (int k = 0; k < FEED_COUNT; k++) {
        if (r->feed[k].h)
            curl_easy_cleanup(r->feed[k].h);
        fetch_clear(&r->feed[k].f);
        free(r->feed[k].body);
    }
    if (r->multi)
        curl_multi_cleanup(r->multi);
    if (r->L)
        lua_close(r->L);
    pthread_mutex_destroy(&r->mu);
    free(r->base);
    free(r->url);
    free(r);
}

/* market.info()'s symbol (the platform's form, "BTC_USDT"), interval and stale (ms). */
static int rest_fields(void *src, struct market_field *out, int max)
{
    const struct rest *r = src;
    const struct market_field f[] = {
        {"symbol", r->symbol, 0}, {"interval", NULL, r->interval_ms}, {"stale", NULL, r->stale_ms}};
    int n = max < 3 ? max : 3;
    memcpy(out, f, (size_t)n * sizeof *f);
    return n;
}

static int64_t rest_fetched(void *src, enum market_feed feed, char *why, size_t whylen)
{
    struct rest *r = src;
    pthread_mutex_lock(&r->mu);
    int64_t t = r->feed[feed].fetched_ms;
    if (why)
        snprintf(why, whylen, "%s", r->feed[feed].why);
    pthread_mutex_unlock(&r->mu);
    return t;
}

static size_t rest_body_len(void *src, enum market_feed feed)
{
    struct rest *r = src;
    pthread_mutex_lock(&r->mu);
    size_t len = r->feed[feed].body ? r->feed[feed].len : 0;
    pthread_mutex_unlock(&r->mu);
    return len;
}

static int rest_body_copy(void *src, enum market_feed feed, char *dst, size_t len, int64_t *fetched_ms)
{
    struct rest *r = src;
    pthread_mutex_lock(&r->mu);
    const struct feed *fd = &r->feed[feed];
    int rc = fd->body && fd->len == len ? 0 : -1;
    if (rc == 0) {
        memcpy(dst, fd->body, len);
        *fetched_ms = fd->fetched_ms;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

const struct market_source_ops source_rest = {
    .kind = "rest",
    .match = rest_match,
    .open = rest_open,
    .fields = rest_fields,
    .fetched = rest_fetched,
    .body_len = rest_body_len,
    .body_copy = rest_body_copy,
    .close = rest_close,
};
