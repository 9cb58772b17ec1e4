/*
 * http.c: HttpQuery, the strategy's HTTP client (docs/http.md).
 *
 * Every transfer runs on the process's HTTP thread (fetch.c); this file only turns Lua arguments into a
 * struct fetch and the finished fetch back into Lua values, on the bot's own thread. A live bot's own functions
 * await the transfer (sched_await): the bot yields, the other bots of the process keep running, and the
 * continuation returns the result. Where the bot cannot yield (inside a coroutine of the strategy's own, a
 * callback such as a table.sort comparator, a replay that allows HttpQuery, a bot without a scheduler) the call
 * blocks this thread until the transfer ends, as Sleep does there; a signal still ends it at once.
 *
 * With {retry_after = true} a 429 or 418 answer is a failure (nil, "429 Too Many Requests, retry after 30 s"), and
 * the host is left alone for that long: further such calls to it, from any bot of the process, fail at once
 * without a request (the venue's limits are per address, and a venue bans an address that goes on).
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/clock.h"
#include "core/engine.h"
#include "core/fetch.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_BYTES (10L << 20)
#define MAX_TIMEOUT_MS 600000
/* How long past its timeout a caller waits for the thread to report (curl ends the transfer at the timeout). */
#define GRACE_MS 2000
#define QUERY_MT "stratrun.HttpQuery"

/* Anchors a request on the caller's stack while it runs. Collected with a coroutine abandoned mid-request (a
 * signal stopped the bot, the state closed), it gives the job up to the HTTP thread, which frees it. */
struct query {
    struct fetch_job *job;
    int64_t deadline_ns;        /* awaiting: the scheduler's clock (sched_now); blocking: CLOCK_MONOTONIC */
    int debug;
    int wake_fd;                /* blocking: the eventfd the thread writes when done */
    int retry_after;            /* options.retry_after: a 429 or 418 fails, and the host is left alone */
};

/* fetch_job.on_done, on the HTTP thread (never after query_gc has released the job): wakes whoever waits for q,
 * an awaiting bot through the scheduler, a blocked one through its eventfd. */
static void query_done(void *arg)
{
    struct query *q = arg;
    if (q->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(q->wake_fd, &one, sizeof one) < 0) { /* the counter is non-zero already */ }
    }
    sched_notify();
}

static int query_gc(lua_State *L)
{
    struct query *q = luaL_checkudata(L, 1, QUERY_MT);
    fetch_release(q->job);
    q->job = NULL;
    if (q->wake_fd >= 0)
        close(q->wake_fd);
    q->wake_fd = -1;
    return 0;
}

static char *dup_or_raise(lua_State *L, const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        luaL_error(L, "HttpQuery: out of memory");
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* Text that goes into a request line or a header: CR, LF and NUL would let it inject headers. */
static void check_header_text(lua_State *L, const char *what, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            luaL_error(L, "HttpQuery: %s must not contain CR, LF or NUL", what);
}

static int is_token(const char *s, size_t len)
{
    if (len == 0 || len > 256)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
            return 0;
    return 1;
}

/* options.headers: {Name = value, ...} -> f->headers. stack: headers table at idx */
static void read_headers(lua_State *L, int idx, struct fetch *f)
{
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        size_t nl, vl;
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "HttpQuery: options.headers must map header names (strings) to values");
        const char *name = lua_tolstring(L, -2, &nl);
        if (!is_token(name, nl))
            luaL_error(L, "HttpQuery: invalid header name '%s'", name);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "HttpQuery: header '%s' must be a string or a number, not %s", name, luaL_typename(L, -1));
        lua_pushvalue(L, -1);
        const char *value = lua_tolstring(L, -1, &vl);     /* a copy: tolstring on the key's value would convert it */
        check_header_text(L, "a header value", value, vl);
        /* curl drops "Name:" (no value) from the request; "Name;" sends it empty. */
        lua_pushfstring(L, vl ? "%s: %s" : "%s;", name, value);
        struct curl_slist *nh = curl_slist_append(f->headers, lua_tostring(L, -1));
        if (!nh)
            luaL_error(L, "HttpQuery: out of memory");
        f->headers = nh;
        lua_pop(L, 2);
    }
}

/* Reads the options table at index 2 into q and f. Misuse raises. */
static void read_options(lua_State *L, struct query *q, struct fetch *f)
{
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int t = lua_type(L, -1);
        size_t len;
        if (!k) {
            luaL_error(L, "HttpQuery: option names are strings (method, body, headers, cookie, timeout, debug, "
                       "retry_after)");
        } else if (strcmp(k, "method") == 0) {
            const char *m = t == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            int ok = m && len >= 1 && len <= 16;
            for (size_t i = 0; ok && i < len; i++)
                ok = isalpha((unsigned char)m[i]);
            if (!ok)
                luaL_error(L, "HttpQuery: options.method must be a method name such as \"POST\", got %s",
                           t == LUA_TSTRING ? m : luaL_typename(L, -1));
            f->method = dup_or_raise(L, m, len);
            for (size_t i = 0; i < len; i++)
                f->method[i] = (char)toupper((unsigned char)f->method[i]);
        } else if (strcmp(k, "body") == 0) {
            if (t != LUA_TSTRING)
                luaL_error(L, "HttpQuery: options.body must be a string, not %s", luaL_typename(L, -1));
            const char *body = lua_tolstring(L, -1, &len);
            f->body = dup_or_raise(L, body, len);
            f->body_len = len;
        } else if (strcmp(k, "headers") == 0) {
            if (t != LUA_TTABLE)
                luaL_error(L, "HttpQuery: options.headers must be a table, not %s", luaL_typename(L, -1));
            read_headers(L, lua_gettop(L), f);
        } else if (strcmp(k, "cookie") == 0) {
            if (t != LUA_TSTRING)
                luaL_error(L, "HttpQuery: options.cookie must be a string, not %s", luaL_typename(L, -1));
            const char *c = lua_tolstring(L, -1, &len);
            check_header_text(L, "options.cookie", c, len);
            f->cookie = dup_or_raise(L, c, len);
        } else if (strcmp(k, "timeout") == 0) {
            double ms = t == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
            if (!(ms > 0 && ms <= MAX_TIMEOUT_MS))
                luaL_error(L, "HttpQuery: options.timeout must be a number of ms above 0, at most %d", MAX_TIMEOUT_MS);
            f->timeout_ms = (long)ceil(ms);
        } else if (strcmp(k, "debug") == 0) {
            if (t != LUA_TBOOLEAN)
                luaL_error(L, "HttpQuery: options.debug must be a boolean, not %s", luaL_typename(L, -1));
            q->debug = lua_toboolean(L, -1);
        } else if (strcmp(k, "retry_after") == 0) {
            if (t != LUA_TBOOLEAN)
                luaL_error(L, "HttpQuery: options.retry_after must be a boolean, not %s", luaL_typename(L, -1));
            q->retry_after = lua_toboolean(L, -1);
        } else {
            luaL_error(L, "HttpQuery: unknown option '%s' (allowed: method, body, headers, cookie, timeout, debug, "
                       "retry_after)", k);
        }
    }
}

/* Header lines -> {lower-cased name = value}; a name that repeats gets its values joined with ", ". */
static void push_headers(lua_State *L, const char *p, size_t len)
{
    lua_newtable(L);
    int t = lua_gettop(L);
    const char *end = p + len;
    int first = 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        const char *e = eol ? eol : end;
        if (e > p && e[-1] == '\r')
            e--;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (!first && colon && colon > p && *p != ' ' && *p != '\t') {     /* not the status line, a fold, or "" */
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *c = p; c < colon; c++)
                luaL_addchar(&b, (char)tolower((unsigned char)*c));
            luaL_pushresult(&b);
            const char *v = colon + 1, *ve = e;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) == LUA_TSTRING) {   /* stack: name previous */
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            }
            lua_rawset(L, t);
        }
        first = 0;
        p = next;
    }
}

/* The finished request's results: the body; {StatusCode, Header, Body} in debug mode; nil, message on failure. */
static int result(lua_State *L, struct query *q)
{
    struct fetch *f = &q->job->f;
    int n = 1;
    char host[300];
    if (f->error[0]) {
        lua_pushnil(L);
        lua_pushfstring(L, "HttpQuery %s: %s%s", f->url, f->error,
                        f->too_large ? " (the cap is http.max_bytes in the config)" : "");
        n = 2;
    } else if (q->retry_after && fetch_backoff_s(f) && fetch_url_host(f->url, host, sizeof host) == 0) {
        long wait_s = fetch_backoff_s(f);
        fetch_backoff_note(host, f->status, wait_s);
        lua_pushnil(L);
        lua_pushfstring(L, "HttpQuery %s: %d %s, retry after %d s%s", f->url, (int)f->status,
                        f->status == 418 ? "I'm a teapot (this address is banned)" : "Too Many Requests",
                        (int)wait_s, f->retry_after_s ? "" : " (no Retry-After: the default)");
        n = 2;
    } else if (!q->debug) {
        lua_pushlstring(L, f->resp ? f->resp : "", f->resp_len);
    } else {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, f->status);
        lua_setfield(L, -2, "StatusCode");
        push_headers(L, f->head ? f->head : "", f->head_len);
        lua_setfield(L, -2, "Header");
        lua_pushlstring(L, f->resp ? f->resp : "", f->resp_len);
        lua_setfield(L, -2, "Body");
    }
    /* Only once the results are on the stack: a memory error above leaves the job to query_gc. */
    fetch_release(q->job);
    q->job = NULL;
    return n;
}

static int timed_out(lua_State *L, struct query *q)
{
    lua_pushnil(L);
    lua_pushfstring(L, "HttpQuery %s: timed out after %d ms (no answer from the HTTP thread)", q->job->f.url,
                    (int)q->job->f.timeout_ms);
    return 2;
}

/* The continuation of an awaiting HttpQuery: resumed when some awaited work is done, or at the deadline.
 * stack: url options query */
static int resume(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    struct query *q = lua_touserdata(L, (int)ctx);
    struct bot *b = bot_of(L);
    b->awaiting = 0;    /* resumed at the deadline, the scheduler leaves it set */
    if (fetch_done(q->job))
        return result(L, q);
    if (sched_now(b->sched) < q->deadline_ns)
        return sched_await(L, q->deadline_ns, ctx, resume);
    return timed_out(L, q);
}

/* Where the bot cannot yield: waits on this thread for the job (or a signal). */
static int block(lua_State *L, struct query *q)
{
    struct bot *b = bot_of(L);
    engine_kick(b->engine);     /* what the strategy published goes out while it waits */
    for (;;) {
        if (fetch_done(q->job))
            return result(L, q);
        if (bot_signal() && b->phase <= PHASE_MAIN)
            return bot_interrupted(L);
        int64_t left = q->deadline_ns - clock_mono_ns();
        if (left <= 0)
            return timed_out(L, q);
        struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        struct pollfd p[2] = {{q->wake_fd, POLLIN, 0}, {b->phase <= PHASE_MAIN ? bot_signal_fd() : -1, POLLIN, 0}};
        if (ppoll(p, p[1].fd >= 0 ? 2 : 1, &ts, NULL) < 0 && errno != EINTR)
            return luaL_error(L, "HttpQuery: ppoll failed: %s", strerror(errno));
    }
}

/* HttpQuery(url [, options]) -> body | {StatusCode, Header, Body} (debug) | nil, message */
static int f_HttpQuery(lua_State *L)
{
    struct bot *b = bot_of(L);
    luaL_checktype(L, 1, LUA_TSTRING);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (b->sched && b->sched->virtual_ && !b->http->in_replay)
        return luaL_error(L, "HttpQuery: refused in a replay, which must stay deterministic (a server's answers "
                          "change); set http = { in_replay = true } in the config to allow it");
    struct query *q = lua_newuserdatauv(L, sizeof *q, 0);
    *q = (struct query){.wake_fd = -1};
    luaL_setmetatable(L, QUERY_MT);
    if (!(q->job = fetch_job_new()))
        return luaL_error(L, "HttpQuery: out of memory");
    struct fetch *f = &q->job->f;
    size_t len;
    const char *url = lua_tolstring(L, 1, &len);
    f->url = dup_or_raise(L, url, len);
    f->timeout_ms = b->http->timeout_ms > 0 ? b->http->timeout_ms : DEFAULT_TIMEOUT_MS;
    f->max_bytes = (size_t)(b->http->max_bytes > 0 ? b->http->max_bytes : DEFAULT_MAX_BYTES);
    if (lua_istable(L, 2))
        read_options(L, q, f);
    char host[300];
    long status, wait_s;
    int64_t left_ms;
    if (q->retry_after && fetch_url_host(f->url, host, sizeof host) == 0 &&
        fetch_backoff_left(host, &status, &wait_s, &left_ms)) {
        lua_pushnil(L);
        lua_pushfstring(L, "HttpQuery %s: not sent: %s answered %d and asked to retry after %d s; %d s left",
                        f->url, host, (int)status, (int)wait_s, (int)((left_ms + 999) / 1000));
        return 2;
    }

    int await = sched_can_await(L);
    if (!await && (q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return luaL_error(L, "HttpQuery: eventfd: %s", strerror(errno));
    q->job->on_done = query_done;
    q->job->done_arg = q;
    if (fetch_submit(q->job) != 0)
        return result(L, q);
    int64_t wait_ns = (int64_t)(f->timeout_ms + GRACE_MS) * 1000000;
    if (await) {
        q->deadline_ns = sched_now(b->sched) + wait_ns;
        return sched_await(L, q->deadline_ns, 3, resume);
    }
    q->deadline_ns = clock_mono_ns() + wait_ns;
    return block(L, q);
}

static const luaL_Reg funcs[] = {
    {"HttpQuery", f_HttpQuery},
    {NULL, NULL}
};

int luaopen_http(lua_State *L)
{
    luaL_newmetatable(L, QUERY_MT);
    lua_pushcfunction(L, query_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
