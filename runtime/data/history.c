/*
 * history.c: historical candles, paged, from a venue's public REST API (history.h).
 *
 * One request at a time, each asking for up to HISTORY_PAGE klines from the next open time on. The venue's limits
 * are obeyed as Binance documents them: a 429 (too many requests) or 418 (the address is banned) waits its
 * Retry-After (the defaults of fetch.h when it sends none; longer than HISTORY_MAX_WAIT_S ends the download with
 * the time to try again), and a used weight (X-MBX-USED-WEIGHT-1M) at 80 % of the limit waits for the venue's
 * minute to end before the next request (binance.h). A request that fails on the way (no connection, a name that
 * did not resolve, a timeout, a connection cut, HTTP 5xx) is tried again (q->retries times, after 1, 2, 4, ... s);
 * any other failure or answer that is not a page of klines ends it, as do BACKOFFS_MAX back-offs in a row for one
 * page. A stop (q->stopped) ends the request in flight too.
 */
#include "data/history.h"
#include "data/binance.h"
#include "data/json.h"
#include "data/market.h"
#include "core/clock.h"
#include "core/fetch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#define PAGE_MAX_BYTES (4L << 20)   /* 1,000 klines are ~200 KB */
#define CLOSE_MARGIN_MS 2000        /* a candle counts as closed this long after its end: clocks differ */

static const struct {
    const char *name;
    int64_t ms;
} periods[] = {
    {"1m", 60000}, {"3m", 180000}, {"5m", 300000}, {"15m", 900000}, {"30m", 1800000}, {"1h", 3600000},
    {"2h", 7200000}, {"4h", 14400000}, {"6h", 21600000}, {"8h", 28800000}, {"12h", 43200000}, {"1d", 86400000},
};

int64_t history_period(const char *name)
{
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++)
        if (strcmp(name, periods[i].name) == 0)
            return periods[i].ms;
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Waits ms, looking at q->stopped every 100 ms. Returns 0, or -1 when stopped. */
static int wait_ms(const struct history_req *q, int64_t ms)
{
    int64_t until = clock_mono_ms() + ms;
    for (int64_t left; (left = until - clock_mono_ms()) > 0;) {
        if (q->stopped && q->stopped(q->arg))
            return -1;
        struct timespec ts = {0, (long)(left < 100 ? left : 100) * 1000000};
        nanosleep(&ts, NULL);
    }
    return q->stopped && q->stopped(q->arg) ? -1 : 0;
}

static void say(const struct history_req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct history_req *q, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (q->say)
        q->say(q->arg, line);
}

/* The page in f's body, checked (under lua_pcall in the download's own state). */
struct page {
    const struct fetch *f;
    int64_t period, from, end;  /* every kline's open time must be in [from, end) */
    struct candle *c;
    long n;
    char why[300];
};

static int page_p(lua_State *L)
{
    struct page *p = lua_touserdata(L, 1);
    lua_settop(L, 0);
    char err[JSON_ERRLEN];
    if (json_decode(L, p->f->resp ? p->f->resp : "", p->f->resp_len, err, sizeof err) != 0) {
        snprintf(p->why, sizeof p->why, "malformed JSON: %s", err);
        return 0;
    }
    if (binance_error(L, 1, p->why, sizeof p->why) ||
        binance_klines(L, 1, p->period, HISTORY_PAGE, &p->c, &p->n, p->why, sizeof p->why) != 0)
        return 0;
    for (long i = 0; i < p->n; i++)
        if (p->c[i].time < p->from || p->c[i].time >= p->end) {
            snprintf(p->why, sizeof p->why, "kline %ld opens at %lld ms, outside the span asked (%lld to %lld ms)",
                     i + 1, (long long)p->c[i].time, (long long)p->from, (long long)p->end - 1);
            return 0;
        }
    return 0;
}

/* The venue's error in f's body ({"code":..., "msg":...}) into the buffer at 2. (excerpt) */
static int excerpt_p(lua_State *L)
{
    const struct fetch *f = lua_touserdata(L, 1);
    char *out = lua_touserdata(L, 2), err[JSON_ERRLEN];
    lua_settop(L, 0);
    if (json_decode(L, f->resp, f->resp_len, err, sizeof err) == 0)
        binance_error(L, 1, out, 300);
    return 0;
}

/* The start of f's body, printable, for a message (300 bytes): the venue's error when it is one. */
static void body_excerpt(lua_State *L, const struct fetch *f, char *out)
{
    size_t n = 0;
    out[0] = '\0';
    if (f->resp) {
        lua_pushcfunction(L, excerpt_p);
        lua_pushlightuserdata(L, (void *)f);
        lua_pushlightuserdata(L, out);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK)
            out[0] = '\0';
        lua_settop(L, 0);
        if (out[0])
            return;
    }
    for (size_t i = 0; i < f->resp_len && n < 120; i++)
        out[n++] = f->resp[i] >= 0x20 && f->resp[i] < 0x7f ? f->resp[i] : ' ';
    out[n] = '\0';
}

/* libcurl's progress callback: a stop (q->stopped) ends the transfer in flight. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const struct history_req *q = arg;
    return q->stopped && q->stopped(q->arg);
}

/* A transfer that failed on the way and may work if asked again: no connection, a name that did not resolve, a
 * timeout, a connection cut. Not: a malformed URL, a body over the cap, a redirect loop, a certificate refused. */
static int transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

#define BACKOFFS_MAX 10     /* 429s or 418s in a row for one page end the download */

/* One request for url, asked again as history.h says. Returns 0 with f holding a 2xx answer, or -1 with err. */
static int get_page(const struct history_req *q, CURL *h, struct fetch *f, lua_State *L, const char *url,
                    struct history_stats *st, char *err, size_t errlen)
{
    int failures = 0, backoffs = 0;
    for (;;) {
        free(f->url);
        if (!(f->url = strdup(url))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        f->timeout_ms = q->timeout_ms;
        f->max_bytes = PAGE_MAX_BYTES;
        if (fetch_setup(h, f) != 0) {
            snprintf(err, errlen, "GET %s: %s", url, f->error);
            return -1;
        }
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)q);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        CURLcode rc = curl_easy_perform(h);
        fetch_finish(f, h, rc);
        st->requests++;
        if (q->stopped && q->stopped(q->arg))
            goto stopped;
        long wait_s = fetch_backoff_s(f);
        if (wait_s) {
            char when[64];
            time_t again = time(NULL) + wait_s;
            struct tm tm;
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&again, &tm));
            if (wait_s > HISTORY_MAX_WAIT_S) {
                snprintf(err, errlen, "GET %s: the venue answered HTTP %ld%s and asks for %ld s without requests; "
                         "try again after %s", url, f->status, f->status == 418 ? " (this IP is banned)" : "",
                         wait_s, when);
                return -1;
            }
            if (++backoffs > BACKOFFS_MAX) {
                snprintf(err, errlen, "GET %s: the venue answered HTTP %ld to %d requests in a row, each after the "
                         "wait it asked for; try again after %s", url, f->status, BACKOFFS_MAX, when);
                return -1;
            }
            say(q, "the venue answered HTTP %ld %s: waiting %ld s (%s)", f->status,
                f->status == 418 ? "(this IP is banned for requests after a 429)" : "Too Many Requests", wait_s,
                f->retry_after_s > 0 ? "its Retry-After" : "it sent no Retry-After: the default");
            if (wait_ms(q, wait_s * 1000) != 0)
                goto stopped;
            continue;
        }
        char why[FETCH_ERRLEN + 200];
        if (f->error[0] && !transient(rc)) {
            snprintf(err, errlen, "GET %s: %s", url, f->error);
            return -1;
        }
        if (f->error[0])
            snprintf(why, sizeof why, "%s", f->error);
        else if (f->status >= 500)
            snprintf(why, sizeof why, "HTTP status %ld", f->status);
        else
            break;
        if (failures >= q->retries) {
            snprintf(err, errlen, "GET %s failed %d times: %s", url, failures + 1, why);
            return -1;
        }
        int64_t delay = (int64_t)1000 << (failures < 6 ? failures : 6);
        failures++;
        say(q, "GET %s: %s; trying again in %lld s (%d of %d)", url, why, (long long)(delay / 1000), failures,
            q->retries);
        if (wait_ms(q, delay) != 0)
            goto stopped;
    }
    if (f->status < 200 || f->status > 299) {
        char shown[300];
        body_excerpt(L, f, shown);
        snprintf(err, errlen, "GET %s: HTTP status %ld%s%s", url, f->status, shown[0] ? ": " : "", shown);
        return -1;
    }
    return 0;
stopped:
    snprintf(err, errlen, "stopped by a signal");
    return -1;
}

/* Before the next request: a used weight (the last answer's X-MBX-USED-WEIGHT-1M) near the limit waits for the
 * venue's minute to end (binance_weight_wait_ms). Returns 0, or -1 when stopped. */
static int mind_weight(const struct history_req *q, const struct fetch *f)
{
    long used = binance_used_weight(f);
    int64_t left = binance_weight_wait_ms(used, q->weight);
    if (left == 0)
        return 0;
    say(q, "used weight %ld of %ld per minute (X-MBX-USED-WEIGHT-1M): waiting %lld s, until the venue's minute "
        "ends", used, q->weight, (long long)((left + 999) / 1000));
    return wait_ms(q, left);
}

int history_download(const struct history_req *q, struct history_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (lazylib_need(&lazy_curl, "the history download", err, errlen) != 0)
        return -1;
    int64_t period = history_period(q->period);
    char venue[64];
    if (!period || binance_symbol(q->symbol, venue, sizeof venue) != 0) {
        snprintf(err, errlen, "period '%s' or symbol '%s' is not one the venue has", q->period, q->symbol);
        return -1;
    }
    size_t blen = strlen(q->base);
    while (blen > 0 && q->base[blen - 1] == '/')
        blen--;
    /* [start, end): the first open time on the grid at or after from; candles closed by now end the span. */
    int64_t start = -floor_div(-q->from_ms, period) * period;
    int64_t closed = floor_div(clock_wall_ms() - CLOSE_MARGIN_MS, period) * period;
    int64_t end = q->to_ms < closed ? q->to_ms : closed;
    st->end = end;
    CURL *h = curl_easy_init();
    lua_State *L = luaL_newstate();
    struct fetch f;
    memset(&f, 0, sizeof f);
    int rc = -1;
    if (!h || !L) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int64_t expect = INT64_MIN;     /* the next open time after the last candle taken */
    while (start < end) {
        if ((st->requests > 0 && mind_weight(q, &f) != 0) || (q->stopped && q->stopped(q->arg))) {
            snprintf(err, errlen, "stopped by a signal");
            goto out;
        }
        char url[2048];
        snprintf(url, sizeof url, "%.*s/api/v3/klines?symbol=%s&interval=%s&startTime=%lld&endTime=%lld&limit=%d",
                 (int)blen, q->base, venue, q->period, (long long)start, (long long)end - 1, HISTORY_PAGE);
        if (get_page(q, h, &f, L, url, st, err, errlen) != 0)
            goto out;
        struct page p = {.f = &f, .period = period, .from = start, .end = end};
        lua_pushcfunction(L, page_p);
        lua_pushlightuserdata(L, &p);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            snprintf(p.why, sizeof p.why, "cannot check it: %s", lua_tostring(L, -1));
        lua_settop(L, 0);
        if (p.why[0]) {
            free(p.c);
            snprintf(err, errlen, "GET %s: the answer is not the venue's klines: %s", url, p.why);
            goto out;
        }
        if (p.n == 0) {
            free(p.c);
            break;      /* the venue has nothing more before the end */
        }
        for (long i = 0; i < p.n; i++) {
            if (expect != INT64_MIN && p.c[i].time > expect) {
                int64_t missing = (p.c[i].time - expect) / period;
                st->gaps++;
                st->missing += (long)missing;
                if (missing > st->gap_len)
                    st->gap_len = missing, st->gap_from = expect;
            }
            expect = p.c[i].time + period;
        }
        if (st->candles == 0)
            st->first = p.c[0].time;
        st->last = p.c[p.n - 1].time;
        st->candles += p.n;
        int took = q->take(q->arg, p.c, p.n);
        free(p.c);
        if (took != 0) {
            snprintf(err, errlen, "cannot write the candles: %s", strerror(errno));
            goto out;
        }
        start = expect;
    }
    if (st->candles > 0) {
        int64_t first = -floor_div(-q->from_ms, period) * period;
        st->head_missing = (st->first - first) / period;
        st->tail_missing = (end - (st->last + period)) / period;
    }
    rc = 0;
out:
    fetch_clear(&f);
    if (h)
        curl_easy_cleanup(h);
    if (L)
        lua_close(L);
    return rc;
}
