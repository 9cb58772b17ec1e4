/*
 * market.c: market data for the paper exchange (candles from a CSV file, a seeded random walk, or a venue's REST
 * API through market_rest.c), the recorder behind --record, and the Lua module `market` that stdlib/exchange.lua
 * builds tickers, depth and records from.
 */
#include "market.h"
#include "api.h"
#include "bot.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "market_rest.h"
#include "timeparse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

struct market {
    char *url;
    pthread_mutex_t mu;         /* guards the candles and the recorder: a rest market's poller appends to them */
    struct candle *c;
    long n, cap;
    int64_t period;
    int open_ended;             /* no last candle: a live sim (grows with the clock) or a rest market */
    struct rest *rest;          /* a rest market's poller, or NULL */
    FILE *rec;                  /* --record: the CSV the new candles go to, or NULL */
    char *rec_path;
    /* the random walk, for sim */
    uint64_t rng;
    double sigma;               /* per-bar volatility of log returns */
};

#define LOCK(m) pthread_mutex_lock(&((struct market *)(m))->mu)
#define UNLOCK(m) pthread_mutex_unlock(&((struct market *)(m))->mu)

/* ---- the random walk ---- */

static uint64_t next_u64(struct market *m)
{
    /* splitmix64: fast, and every seed gives a good stream */
    uint64_t z = (m->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(struct market *m)
{
    return ((double)(next_u64(m) >> 11) + 0.5) / 9007199254740992.0;   /* (0, 1) */
}

static double gauss(struct market *m)
{
    /* Box-Muller; one value per call keeps the stream simple to reason about */
    return sqrt(-2.0 * log(uniform(m))) * cos(6.283185307179586 * uniform(m));
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

static int push_candle(struct market *m, const struct candle *c)
{
    if (m->n == m->cap) {
        long cap = m->cap ? m->cap * 2 : 1024;
        struct candle *nc = realloc(m->c, (size_t)cap * sizeof *nc);
        if (!nc)
            return -1;
        m->c = nc;
        m->cap = cap;
    }
    m->c[m->n++] = *c;
    return 0;
}

/* Appends one bar of the walk: open at the previous close, a log-normal move, wicks, and a volume. */
static int sim_bar(struct market *m, double first_price)
{
    struct candle c;
    c.time = m->n ? m->c[m->n - 1].time + m->period : 0;
    c.open = m->n ? m->c[m->n - 1].close : tick(first_price);
    c.close = bounded(c.open * exp(m->sigma * gauss(m)));
    c.high = bounded(fmax(c.open, c.close) * exp(fabs(m->sigma * gauss(m)) * 0.5));
    c.low = bounded(fmin(c.open, c.close) * exp(-fabs(m->sigma * gauss(m)) * 0.5));
    c.volume = round(10.0 * exp(0.5 * gauss(m)) * 1e4) / 1e4;
    return push_candle(m, &c);
}

static int open_sim(struct market *m, const char *args, int64_t now_ms, char *err, size_t errlen)
{
    uint64_t seed = 42;
    int64_t start = 0, bars = -1;
    int have_start = 0;
    double price = 43000, vol = 0.03;
    m->period = 60000;
    for (const char *p = args; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            snprintf(err, errlen, "market '%s': expected key=value, got '%.*s'", m->url, (int)n, p);
            return -1;
        }
        size_t kl = (size_t)(eq - p), vl = n - kl - 1;
        char val[64];
        if (vl >= sizeof val) {
            snprintf(err, errlen, "market '%s': value too long", m->url);
            return -1;
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
        else if (kl == 6 && !memcmp(p, "period", 6))
            m->period = strtoll(val, &e, 10), ok = m->period >= 1000 && m->period <= 31622400000LL;  /* a year */
        else if (kl == 5 && !memcmp(p, "price", 5))
            price = strtod(val, &e), ok = price >= 0.01 && price <= 1e12;    /* a tick up to a trillion */
        else if (kl == 3 && !memcmp(p, "vol", 3))
            vol = strtod(val, &e), ok = vol >= 0 && vol < 10;
        else if (kl == 5 && !memcmp(p, "start", 5)) {
            ok = have_start = time_parse(val, vl, &start) == 0;
            e = val + vl;
        } else {
            snprintf(err, errlen, "market '%s': unknown setting '%.*s' (allowed: seed, start, bars, period, price, vol)",
                     m->url, (int)kl, p);
            return -1;
        }
        if (!ok || errno || !e || *e) {
            snprintf(err, errlen, "market '%s': invalid value for %.*s: '%s'", m->url, (int)kl, p, val);
            return -1;
        }
        p += n + (comma ? 1 : 0);
    }
    m->rng = seed;
    m->sigma = vol * sqrt((double)m->period / 86400000.0);
    if (bars < 0) {
        /* Open-ended: history of 1,000 bars before now, then it grows with the clock. */
        m->open_ended = 1;
        bars = 1000;
        if (!have_start)
            start = (now_ms / m->period - bars) * m->period;
    } else if (!have_start) {
        time_parse("2024-01-01", 10, &start);
    }
    /* The whole span must fit in int64 milliseconds (and in what time_parse reads back). */
    if ((double)start + (double)bars * (double)m->period > 9e15 || (double)start < -9e15) {
        snprintf(err, errlen, "market '%s': start + bars x period is out of range", m->url);
        return -1;
    }
    for (int64_t i = 0; i < bars; i++)
        if (sim_bar(m, price) != 0) {
            snprintf(err, errlen, "market '%s': out of memory", m->url);
            return -1;
        }
    for (long i = 0; i < m->n; i++)
        m->c[i].time += start;
    return 0;
}

/* ---- CSV ---- */

static int open_csv(struct market *m, const char *path, char *err, size_t errlen)
{
    char *text;
    size_t len;
    char msg[300];
    if (fs_read_all(path, (size_t)2 << 30, &text, &len, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "market: %s", msg);
        return -1;
    }
    enum { T, O, H, L, C, V, NCOL };
    static const char *const names[NCOL] = {"time", "open", "high", "low", "close", "volume"};
    int col[NCOL], ncols = 0, rc = -1;
    long line = 1;
    char *p = text, *end = text + len;
    /* the header: the six names, in any order, any case */
    for (int i = 0; i < NCOL; i++)
        col[i] = -1;
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
        eol = end;
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
            if ((size_t)(b - a) == strlen(names[i]) && strncasecmp(a, names[i], (size_t)(b - a)) == 0)
                col[i] = ncols;
        ncols++;
        f = fe + 1;
    }
    for (int i = 0; i < NCOL; i++)
        if (col[i] < 0) {
            snprintf(err, errlen, "market %s:1: the header must name the columns time,open,high,low,close,volume "
                     "(missing '%s')", path, names[i]);
            goto out;
        }
    for (p = eol + 1; p < end; p = eol + 1) {
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
                    if (time_parse(f, (size_t)(fe - f), &t) != 0) {
                        snprintf(err, errlen, "market %s:%ld: time '%.*s' is neither milliseconds nor ISO 8601",
                                 path, line, (int)(fe - f > 40 ? 40 : fe - f), f);
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
                    if (e == num || *e || !isfinite(v[i]) || v[i] < 0) {
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
        c.open = v[O], c.high = v[H], c.low = v[L], c.close = v[C], c.volume = v[V];
        if (c.high < fmax(c.open, c.close) || c.low > fmin(c.open, c.close)) {
            snprintf(err, errlen, "market %s:%ld: high/low do not contain open and close", path, line);
            goto out;
        }
        if (m->n > 0 && c.time <= m->c[m->n - 1].time) {
            snprintf(err, errlen, "market %s:%ld: time goes backwards or repeats", path, line);
            goto out;
        }
        if (push_candle(m, &c) != 0) {
            snprintf(err, errlen, "market %s: out of memory", path);
            goto out;
        }
    }
    if (m->n < 2) {
        snprintf(err, errlen, "market %s: needs at least two candles", path);
        goto out;
    }
    /* The period: the smallest gap between two candles (gaps in the data are allowed). */
    m->period = INT64_MAX;
    for (long i = 1; i < m->n; i++)
        if (m->c[i].time - m->c[i - 1].time < m->period)
            m->period = m->c[i].time - m->c[i - 1].time;
    rc = 0;
out:
    free(text);
    return rc;
}

struct market *market_open(const char *url, int64_t now_ms, char *err, size_t errlen)
{
    struct market *m = calloc(1, sizeof *m);
    if (!m || !(m->url = strdup(url))) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    size_t n = strlen(url);
    int rc;
    if (strncmp(url, "sim:", 4) == 0 || strcmp(url, "sim") == 0)
        rc = open_sim(m, url[3] ? url + 4 : "", now_ms, err, errlen);
    else if (strncmp(url, "csv:", 4) == 0)
        rc = open_csv(m, url + 4, err, errlen);
    else if (n > 4 && strcmp(url + n - 4, ".csv") == 0)
        rc = open_csv(m, url, err, errlen);
    else if (strncmp(url, "rest:", 5) == 0) {
        m->period = REST_PERIOD_MS;
        m->open_ended = 1;
        rc = (m->rest = rest_open(m, url, url + 5, err, errlen)) ? 0 : -1;
    } else {
        snprintf(err, errlen, "unknown market '%s' (allowed: sim:seed=N,..., csv:PATH, PATH.csv, rest:URL)", url);
        rc = -1;
    }
    if (rc != 0) {
        market_free(m);
        return NULL;
    }
    return m;
}

void market_free(struct market *m)
{
    if (!m)
        return;
    rest_close(m->rest);        /* first: its thread appends candles */
    if (m->rec)
        fclose(m->rec);
    free(m->rec_path);
    pthread_mutex_destroy(&m->mu);
    free(m->c);
    free(m->url);
    free(m);
}

void market_span(const struct market *m, int64_t *first_close_ms, int64_t *last_close_ms)
{
    LOCK(m);
    *first_close_ms = m->n ? m->c[0].time + m->period : INT64_MAX;
    *last_close_ms = m->open_ended || !m->n ? INT64_MAX : m->c[m->n - 1].time + m->period;
    UNLOCK(m);
}

/* ---- the recorder ---- */

/* Writes candles from..n-1 to the record file. Under the lock. */
static void record(struct market *m, long from)
{
    if (!m->rec)
        return;
    for (long i = from; i < m->n; i++) {
        const struct candle *c = &m->c[i];
        char v[5][32];
        json_fmt_double(c->open, v[0]);
        json_fmt_double(c->high, v[1]);
        json_fmt_double(c->low, v[2]);
        json_fmt_double(c->close, v[3]);
        json_fmt_double(c->volume, v[4]);
        fprintf(m->rec, "%" PRId64 ",%s,%s,%s,%s,%s\n", c->time, v[0], v[1], v[2], v[3], v[4]);
    }
    if (fflush(m->rec) != 0 || ferror(m->rec)) {
        log_thread_warning("--record %s: cannot write: %s; recording stopped", m->rec_path, strerror(errno));
        fclose(m->rec);
        m->rec = NULL;
    }
}

static const char record_header[] = "time,open,high,low,close,volume\n";

/* The time of the last row of a record file (INT64_MIN when it has only its header). Returns 0, or -1 with err. */
static int record_tail(FILE *f, const char *path, int64_t *last, char *err, size_t errlen)
{
    char buf[4096];
    size_t hl = sizeof record_header - 1;
    if (fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, hl, f) != hl || memcmp(buf, record_header, hl) != 0) {
        snprintf(err, errlen, "--record %s: the file is not empty and does not start with the header %.*s", path,
                 (int)hl - 1, record_header);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f), from = size > (long)sizeof buf ? size - (long)sizeof buf : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, (size_t)(size - from), f);
    if (n == 0 || buf[n - 1] != '\n') {
        snprintf(err, errlen, "--record %s: its last line is incomplete (a write was cut off); repair or move the file",
                 path);
        return -1;
    }
    size_t start = n - 1;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    *last = INT64_MIN;
    if ((size_t)size == hl)
        return 0;
    char *e;
    errno = 0;
    long long t = strtoll(buf + start, &e, 10);
    if (errno || *e != ',') {
        snprintf(err, errlen, "--record %s: its last row does not start with a time in ms", path);
        return -1;
    }
    *last = t;
    return 0;
}

int market_record(struct market *m, const char *path, char *err, size_t errlen)
{
    if (!m->open_ended) {
        snprintf(err, errlen, "--record needs a market that grows live (rest:URL, or sim without bars); '%s' is "
                 "recorded data already", m->url);
        return -1;
    }
    FILE *f = fopen(path, "a+");
    if (!f) {
        snprintf(err, errlen, "--record %s: %s", path, strerror(errno));
        return -1;
    }
    int64_t last = INT64_MIN;
    fseek(f, 0, SEEK_END);
    if (ftell(f) == 0) {
        fputs(record_header, f);
    } else if (record_tail(f, path, &last, err, errlen) != 0) {
        fclose(f);
        return -1;
    }
    if (!(m->rec_path = strdup(path))) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    LOCK(m);
    m->rec = f;
    long from = 0;
    while (from < m->n && m->c[from].time <= last)
        from++;
    record(m, from);
    int ok = m->rec != NULL;
    UNLOCK(m);
    if (!ok) {
        snprintf(err, errlen, "--record %s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

long market_append(struct market *m, const struct candle *c, long n)
{
    LOCK(m);
    long from = m->n, i = 0;
    if (m->n > 0)
        while (i < n && c[i].time <= m->c[m->n - 1].time)
            i++;
    for (; i < n; i++)
        if (push_candle(m, &c[i]) != 0)
            break;
    record(m, from);
    long added = m->n - from;
    UNLOCK(m);
    return added;
}

long market_at(struct market *m, int64_t t_ms)
{
    LOCK(m);
    if (m->open_ended && !m->rest) {
        long from = m->n;
        while (m->c[m->n - 1].time + m->period <= t_ms)
            if (sim_bar(m, 0) != 0)
                break;
        record(m, from);
    }
    /* The last candle with time + period <= t: a binary search (CSV data may have gaps). */
    long lo = 0, hi = m->n - 1, found = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (m->c[mid].time + m->period <= t_ms) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    UNLOCK(m);
    return found;
}

int market_candle(const struct market *m, long i, struct candle *out)
{
    LOCK(m);
    int rc = i >= 0 && i < m->n ? 0 : -1;
    if (rc == 0)
        *out = m->c[i];
    UNLOCK(m);
    return rc;
}

long market_count(const struct market *m)
{
    LOCK(m);
    long n = m->n;
    UNLOCK(m);
    return n;
}

int64_t market_period(const struct market *m)
{
    return m->period;
}

const char *market_url(const struct market *m)
{
    return m->url;
}

/* ---- the Lua module: primitives for stdlib/exchange.lua (indices are 1-based there) ---- */

static struct market *checkmarket(lua_State *L)
{
    struct market *m = bot_of(L)->market;
    if (!m)
        luaL_error(L, "no market data: set market in the config or --market");
    return m;
}

/* market.at(ms) -> index of the latest closed candle, or nil */
static int m_at(lua_State *L)
{
    long i = market_at(checkmarket(L), (int64_t)luaL_checkinteger(L, 1));
    if (i < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, i + 1);
    return 1;
}

/* market.candle(i) -> time, open, high, low, close, volume */
static int m_candle(lua_State *L)
{
    struct candle c;
    if (market_candle(checkmarket(L), (long)luaL_checkinteger(L, 1) - 1, &c) != 0)
        return 0;
    lua_pushinteger(L, c.time);
    lua_pushnumber(L, c.open);
    lua_pushnumber(L, c.high);
    lua_pushnumber(L, c.low);
    lua_pushnumber(L, c.close);
    lua_pushnumber(L, c.volume);
    return 6;
}

/* market.info() -> {url, kind, count, period, first_close (nil before the first candle), last_close (nil when
 * open-ended)}; a rest market adds symbol, interval and stale (ms). */
static int m_info(lua_State *L)
{
    struct market *m = checkmarket(L);
    int64_t first, last;
    market_span(m, &first, &last);
    lua_createtable(L, 0, 9);
    lua_pushstring(L, m->url);
    lua_setfield(L, -2, "url");
    lua_pushstring(L, m->rest ? "rest" : m->open_ended || strncmp(m->url, "sim", 3) == 0 ? "sim" : "csv");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, market_count(m));
    lua_setfield(L, -2, "count");
    lua_pushinteger(L, m->period);
    lua_setfield(L, -2, "period");
    if (first != INT64_MAX) {
        lua_pushinteger(L, first);
        lua_setfield(L, -2, "first_close");
    }
    if (last != INT64_MAX) {
        lua_pushinteger(L, last);
        lua_setfield(L, -2, "last_close");
    }
    if (m->rest) {
        lua_pushstring(L, rest_symbol(m->rest));
        lua_setfield(L, -2, "symbol");
        lua_pushinteger(L, rest_interval_ms(m->rest));
        lua_setfield(L, -2, "interval");
        lua_pushinteger(L, rest_stale_ms(m->rest));
        lua_setfield(L, -2, "stale");
    }
    return 1;
}

static const char *const feed_opts[] = {"ticker", "depth", "klines", NULL};

/* market.snapshot("ticker" | "depth") -> the venue's last good body (raw JSON), fetched_ms; nil when there is none
 * (not a rest market, or nothing fetched yet). */
static int m_snapshot(lua_State *L)
{
    struct market *m = checkmarket(L);
    enum rest_feed feed = (enum rest_feed)luaL_checkoption(L, 1, NULL, feed_opts);
    luaL_argcheck(L, feed != REST_KLINES, 1, "klines go into the candles: use market.fetched(\"klines\")");
    if (!m->rest)
        return 0;
    for (;;) {
        size_t len = rest_body_len(m->rest, feed);
        if (len == 0)
            return 0;
        luaL_Buffer b;
        char *dst = luaL_buffinitsize(L, &b, len);
        int64_t fetched;
        if (rest_body_copy(m->rest, feed, dst, len, &fetched) == 0) {
            luaL_pushresultsize(&b, len);
            lua_pushinteger(L, fetched);
            return 2;
        }
        luaL_pushresultsize(&b, 0);     /* a body of another length came in between: again */
        lua_pop(L, 1);
    }
}

/* market.fetched("ticker" | "depth" | "klines") -> when the feed was last fetched good (ms; nil: never), and why
 * its latest fetch was refused (nil when it was good). Nothing for markets other than rest. */
static int m_fetched(lua_State *L)
{
    struct market *m = checkmarket(L);
    enum rest_feed feed = (enum rest_feed)luaL_checkoption(L, 1, NULL, feed_opts);
    if (!m->rest)
        return 0;
    char why[REST_WHYLEN];
    int64_t t = rest_fetched(m->rest, feed, why, sizeof why);
    if (t)
        lua_pushinteger(L, t);
    else
        lua_pushnil(L);
    if (why[0])
        lua_pushstring(L, why);
    else
        lua_pushnil(L);
    return 2;
}

static const luaL_Reg funcs[] = {
    {"at", m_at},
    {"candle", m_candle},
    {"fetched", m_fetched},
    {"info", m_info},
    {"snapshot", m_snapshot},
    {NULL, NULL}
};

int luaopen_market(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
