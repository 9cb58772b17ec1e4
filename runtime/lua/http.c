/*
 * http.c: HttpQuery, the strategy's HTTP client, and Mail, its SMTP client (docs/http.md): the transfers that run
 * on the process's HTTP thread.
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
#include "lua/http.h"
#include "core/clock.h"
#include "core/engine.h"
#include "core/fetch.h"
#include "core/lib_crypto.h"
#include "core/mailaddr.h"
#include "core/timeparse.h"
#include "lua/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
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
#define MAIL_TIMEOUT_MS 30000
#define QUERY_MT "stratrun.HttpQuery"

/* Anchors a request on the caller's stack while it runs. Collected with a coroutine abandoned mid-request (a
 * signal stopped the bot, the state closed), it gives the job up to the HTTP thread, which frees it. */
struct query {
    struct fetch_job *job;
    int64_t deadline_ns;        /* awaiting: the scheduler's clock (sched_now); blocking: CLOCK_MONOTONIC */
    int debug;
    int wake_fd;                /* blocking: the eventfd the thread writes when done */
    int retry_after;            /* options.retry_after: a 429 or 418 fails, and the host is left alone */
    int mail;                   /* a Mail: true, or false with the error logged (log_call_error) */
    /* HttpQuery_Go, Mail_Go: the query is the routine its wait() waits on */
    int go;
    long id;                    /* the routine's number, for "routine N already finished" */
    int ready;                  /* the results are known without a transfer: packed in the user value */
    int taken;                  /* wait() returned the results: a second wait raises */
    int soft;                   /* this wait has a timeout of the strategy's: when it passes, wait returns nil and
                                 * the routine goes on */
    atomic_int counted;         /* a routine in flight, counted in *live until its job is done or given up */
    atomic_int *live;           /* its bot's go_live */
    char *label;                /* a mail: "Mail to ADDRESSES via URL", its failures' prefix (malloc'd) */
    /* http_call: failures say who (not "HttpQuery URL"), and seen reads the finished fetch first */
    const char *who;
    http_seen_fn seen;
    void *seen_arg;
};

#define GO_MAX 100              /* routines a bot may have in flight (started, not yet waited for or collected) */

/* Gives q's job up (freed by the thread if it still runs: its on_done is no longer called), and closes what q
 * holds; q is then finished. */
static void query_end(struct query *q)
{
    fetch_release(q->job);
    q->job = NULL;
    if (q->wake_fd >= 0)        /* after the release: the thread writes it no more */
        close(q->wake_fd);
    q->wake_fd = -1;
    free(q->label);
    q->label = NULL;
    if (atomic_exchange(&q->counted, 0))   /* given up before its job was done */
        atomic_fetch_sub(q->live, 1);
}

/* fetch_job.on_done, on the HTTP thread (never after query_gc has released the job): wakes whoever waits for q,
 * an awaiting bot through the scheduler, a blocked one through its eventfd. */
static void query_done(void *arg)
{
    struct query *q = arg;
    if (atomic_exchange(&q->counted, 0))   /* a routine's transfer is over: no longer in flight */
        atomic_fetch_sub(q->live, 1);
    if (q->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(q->wake_fd, &one, sizeof one) < 0) { /* the counter is non-zero already */ }
    }
    sched_notify();
}

static int query_gc(lua_State *L)
{
    query_end(luaL_checkudata(L, 1, QUERY_MT));
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

/* A mail that was not sent: false, the reason logged after its label (and kept for GetLastError); q finished. */
static int mail_failed(lua_State *L, struct query *q, const char *why)
{
    char msg[FETCH_ERRLEN + 1400];
    int len = snprintf(msg, sizeof msg, "%s: %s", q->label ? q->label : "Mail", why);
    query_end(q);
    q->taken = 1;
    log_call_error(L, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
    lua_pushboolean(L, 0);
    return 1;
}

/* The finished request's results (its job is done, or was never submitted): the body; {StatusCode, Header, Body}
 * in debug mode; nil, message on failure. A mail's: true, or false with its error logged. */
static int result(lua_State *L, struct query *q)
{
    struct fetch *f = &q->job->f;
    int n = 1;
    char host[300];
    if (q->seen)
        q->seen(f, q->seen_arg);
    if (q->mail && f->error[0]) {
        char why[FETCH_ERRLEN];
        snprintf(why, sizeof why, "%s", f->error);
        return mail_failed(L, q, why);
    } else if (q->mail) {
        lua_pushboolean(L, 1);
    } else if (f->error[0] && q->who) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", q->who, f->error);
        n = 2;
    } else if (f->error[0]) {
        lua_pushnil(L);
        lua_pushfstring(L, "HttpQuery %s: %s%s", f->url, f->error,
                        f->too_large ? " (the cap is http.max_bytes in the config)" : "");
        n = 2;
    } else if (q->retry_after && fetch_backoff_s(f) && fetch_url_host(f->url, host, sizeof host) == 0) {
        long wait_s = fetch_backoff_s(f);
        fetch_backoff_note(host, f->status, wait_s);
        lua_pushnil(L);
        lua_pushfstring(L, "%s %s: %d %s, retry after %d s%s", q->who ? q->who : "HttpQuery", q->who ? host : f->url,
                        (int)f->status,
                        f->status == 418 ? "I'm a teapot (this address is banned)" : "Too Many Requests",
                        (int)wait_s, f->retry_after_s ? "" : " (no Retry-After: the default)");
        n = 2;
        if (q->who) {   /* http_call: the status too, so the caller knows the request was answered (refused) */
            lua_pushinteger(L, f->status);
            n = 3;
        }
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
    query_end(q);
    q->taken = 1;
    return n;
}

static int timed_out(lua_State *L, struct query *q)
{
    if (q->soft) {      /* a routine's wait(ms): nil, and the transfer goes on */
        lua_pushnil(L);
        return 1;
    }
    if (q->mail) {      /* the job is not done: the thread may still write it, so nothing is read from it */
        char why[100];
        snprintf(why, sizeof why, "timed out after %d ms (no answer from the HTTP thread)", MAIL_TIMEOUT_MS);
        return mail_failed(L, q, why);
    }
    lua_pushnil(L);
    lua_pushfstring(L, "%s%s%s: timed out after %d ms (no answer from the HTTP thread)", q->who ? q->who : "HttpQuery",
                    q->who ? "" : " ", q->who ? "" : q->job->f.url, (int)q->job->f.timeout_ms);
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
        if (q->wake_fd < 0 && left > 10000000)
            left = 10000000;    /* a routine has no eventfd: look again every 10 ms */
        struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        struct pollfd p[2] = {{q->wake_fd, POLLIN, 0}, {b->phase <= PHASE_MAIN ? bot_signal_fd() : -1, POLLIN, 0}};
        if (ppoll(p, p[1].fd >= 0 ? 2 : 1, &ts, NULL) < 0 && errno != EINTR)
            return luaL_error(L, "HttpQuery: ppoll failed: %s", strerror(errno));
    }
}

/* Hands q's job to the HTTP thread. Returns 0, or -1 when the thread could not take it (the job then holds why:
 * result() says it). */
static int submit_query(lua_State *L, struct query *q, const char *who)
{
    /* The eventfd a blocked wait polls: made now, before the thread may read wake_fd, for a call that cannot
     * await. An awaiting bot needs none, nor does a routine (its rare blocked wait looks every 10 ms: a routine
     * left unwaited must hold no descriptor). */
    if (!q->go && !sched_can_await(L) && (q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return luaL_error(L, "%s: eventfd: %s", who, strerror(errno));
    q->job->on_done = query_done;
    q->job->done_arg = q;
    return fetch_submit(q->job);
}

/* Waits at most wait_ns for q's job, awaiting (the bot yields) or blocking; returns what result() or timed_out()
 * returns. stack: q at index qidx. */
static int wait_query(lua_State *L, struct query *q, int qidx, int64_t wait_ns)
{
    struct bot *b = bot_of(L);
    if (sched_can_await(L)) {
        q->deadline_ns = sched_now(b->sched) + wait_ns;
        return sched_await(L, q->deadline_ns, qidx, resume);
    }
    q->deadline_ns = clock_mono_ns() + wait_ns;
    return block(L, q);
}

/* Submits q's job and waits for it to end. stack: the arguments, q at index qidx. */
static int run_query(lua_State *L, struct query *q, int qidx, const char *who)
{
    if (submit_query(L, q, who) != 0)
        return result(L, q);
    return wait_query(L, q, qidx, (int64_t)(q->job->f.timeout_ms + GRACE_MS) * 1000000);
}

static struct query *new_query(lua_State *L, const char *who)
{
    struct query *q = lua_newuserdatauv(L, sizeof *q, 1);
    memset(q, 0, sizeof *q);
    q->wake_fd = -1;
    atomic_init(&q->counted, 0);
    luaL_setmetatable(L, QUERY_MT);
    if (!(q->job = fetch_job_new()))
        luaL_error(L, "%s: out of memory", who);
    return q;
}

/* HttpQuery_Go, Mail_Go: q (at qidx) becomes a routine: its transfer starts now, or, when n >= 0, its n results
 * on top of the stack are already known (kept for wait). Returns the routine. */
static int go_routine(lua_State *L, struct query *q, int qidx, int n, const char *who)
{
    struct bot *b = bot_of(L);
    q->go = 1;
    if (n < 0 && atomic_load(&b->go_live) >= GO_MAX)
        return luaL_error(L, "%s: %d routines of this bot are in flight; wait for them before starting more",
                          who, GO_MAX);
    q->id = ++b->routines;
    if (n < 0) {
        /* counted before the thread can see the job: it may be done (and uncounted) as soon as it is submitted */
        q->live = &b->go_live;
        atomic_store(&q->counted, 1);
        atomic_fetch_add(&b->go_live, 1);
        if (submit_query(L, q, who) != 0)
            n = result(L, q);   /* query_end uncounts it */
    }
    if (n >= 0) {
        lua_createtable(L, n, 1);
        lua_insert(L, -n - 1);
        for (int i = n; i >= 1; i--)
            lua_rawseti(L, -i - 1, i);
        lua_pushinteger(L, n);
        lua_setfield(L, -2, "n");
        lua_setiuservalue(L, qidx, 1);
        q->ready = 1;
        q->taken = 0;
    }
    lua_pushvalue(L, qidx);
    return 1;
}

/* routine.wait([timeout]) or routine:wait([timeout]): the results of the routine's call. No timeout, or 0: until
 * the call is over (bounded by its own timeout); a timeout in ms: nil when it passes first, and the routine goes
 * on; a negative one: nil at once unless the call is over. Once the results were taken, another wait raises. */
static int routine_wait(lua_State *L)
{
    struct query *q = lua_touserdata(L, lua_upvalueindex(1));
    int arg = lua_touserdata(L, 1) == q ? 2 : 1;      /* r:wait(ms) or r.wait(ms) */
    if (!lua_isnoneornil(L, arg) && lua_type(L, arg) != LUA_TNUMBER)
        return luaL_error(L, "wait: the timeout must be a number of ms, not %s", luaL_typename(L, arg));
    double ms = lua_isnoneornil(L, arg) ? 0 : lua_tonumber(L, arg);
    if (ms != ms)
        return luaL_error(L, "wait: the timeout must be a number of ms, not nan");
    if (ms > 1e12)
        ms = 0;         /* longer than any transfer: until it ends */
    if (q->taken)
        return luaL_error(L, "wait: routine %d already finished: its result was taken", (int)q->id);
    if (!q->ready && !q->job)
        return luaL_error(L, "wait: routine %d was closed (collected) before its result was taken", (int)q->id);
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));              /* stack: q */
    if (q->ready) {
        q->taken = 1;
        lua_getiuservalue(L, 1, 1);
        lua_getfield(L, -1, "n");
        int n = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        for (int i = 1; i <= n; i++)
            lua_rawgeti(L, 2, i);
        return n;
    }
    if (fetch_done(q->job))
        return result(L, q);
    if (ms < 0) {
        lua_pushnil(L);
        return 1;
    }
    q->soft = ms > 0;
    int64_t wait_ns = ms > 0 ? (int64_t)(ms * 1e6) : (int64_t)(q->job->f.timeout_ms + GRACE_MS) * 1000000;
    return wait_query(L, q, 1, wait_ns);
}

/* A routine's fields: wait, bound to it (so that r.wait() works as r:wait() does). */
static int routine_index(lua_State *L)
{
    struct query *q = luaL_checkudata(L, 1, QUERY_MT);
    if (!q->go || strcmp(luaL_checkstring(L, 2), "wait") != 0)
        return 0;
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, routine_wait, 1);
    return 1;
}

/* ---- Mail ---- */

#define MAIL_MAX_BODY (1 << 20)
#define MAIL_MAX_LINE 998       /* RFC 5321's longest line; a body with a longer one goes as base64 */

/* Argument i of Mail, or the config's value when it is "" or nil; "" when neither and the argument may be empty
 * (key NULL), else raises. */
static const char *mail_arg(lua_State *L, int i, const char *name, const char *cfg, const char *key)
{
    if (!lua_isnoneornil(L, i) && lua_type(L, i) != LUA_TSTRING)
        luaL_error(L, "Mail: %s (argument %d) must be a string, not %s", name, i, luaL_typename(L, i));
    size_t len;
    const char *v = lua_tolstring(L, i, &len);
    if (v && memchr(v, '\0', len))
        luaL_error(L, "Mail: %s (argument %d) must not contain NUL", name, i);
    if (v && v[0])
        return v;
    if (cfg)
        return cfg;
    if (!key)
        return "";
    luaL_error(L, "Mail: %s (argument %d) is empty and the config sets no mail.%s", name, i, key);
    return NULL;
}

/* The index of the first byte of s that does not belong to well-formed UTF-8, or -1. */
static long utf8_bad(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4))
            return (long)i;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return (long)i;
        if ((n == 3 && c == 0xE0 && p[i + 1] < 0xA0) || (n == 3 && c == 0xED && p[i + 1] > 0x9F) ||
            (n == 4 && c == 0xF0 && p[i + 1] < 0x90) || (n == 4 && c == 0xF4 && p[i + 1] > 0x8F))
            return (long)i;     /* overlong, a surrogate, past U+10FFFF */
        i += n;
    }
    return -1;
}

/* Adds the subject (well-formed UTF-8) to b: as it is when it is ASCII, else as RFC 2047 encoded words of UTF-8
 * (base64), each of at most 45 bytes of text and never cutting a character, folded onto lines of their own. */
static void add_subject(luaL_Buffer *b, const char *t, size_t len)
{
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++)
        ascii = (unsigned char)t[i] < 0x80;
    if (ascii) {
        luaL_addlstring(b, t, len);
        return;
    }
    for (size_t i = 0; i < len;) {
        size_t n = len - i < 45 ? len - i : 45;
        while (n < len - i && ((unsigned char)t[i + n] & 0xC0) == 0x80)
            n--;    /* t[i + n] continues a character: end the word before that character (at most 3 back) */
        unsigned char enc[64];
        EVP_EncodeBlock(enc, (const unsigned char *)t + i, (int)n);
        luaL_addstring(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        luaL_addstring(b, (const char *)enc);
        luaL_addstring(b, "?=");
        i += n;
    }
}

/* Pushes the body with every line ending CRLF, as base64 (in lines of 76) when a line is longer than SMTP allows;
 * returns the Content-Transfer-Encoding it used. */
static const char *push_body(lua_State *L, const char *body, size_t blen)
{
    luaL_Buffer crlf;
    luaL_buffinit(L, &crlf);
    size_t line = 0, longest = 0;
    for (size_t i = 0; i < blen; i++) {
        if (body[i] == '\r' && i + 1 < blen && body[i + 1] == '\n')
            continue;
        if (body[i] == '\n' || body[i] == '\r') {
            luaL_addstring(&crlf, "\r\n");
            line = 0;
        } else {
            luaL_addchar(&crlf, body[i]);
            if (++line > longest)
                longest = line;
        }
    }
    luaL_addstring(&crlf, "\r\n");
    luaL_pushresult(&crlf);
    if (longest <= MAIL_MAX_LINE)
        return "8bit";
    size_t n;
    const char *text = lua_tolstring(L, -1, &n);
    luaL_Buffer b64;
    luaL_buffinit(L, &b64);
    for (size_t i = 0; i < n; i += 57) {
        unsigned char enc[80];
        EVP_EncodeBlock(enc, (const unsigned char *)text + i, (int)(n - i < 57 ? n - i : 57));
        luaL_addstring(&b64, (const char *)enc);
        luaL_addstring(&b64, "\r\n");
    }
    luaL_pushresult(&b64);
    lua_remove(L, -2);
    return "base64";
}

/* mail_recipients' callback: "<address>" appended to the list of a struct rcpts. */
struct rcpts {
    struct curl_slist *list;
    int oom;
};

static void add_rcpt(const char *a, size_t len, void *ud)
{
    struct rcpts *r = ud;
    char buf[300];
    snprintf(buf, sizeof buf, "<%.*s>", (int)len, a);
    struct curl_slist *l = r->oom ? NULL : curl_slist_append(r->list, buf);
    if (l)
        r->list = l;
    else
        r->oom = 1;
}

/* Mail's checks and message: q at index 7, the transfer set up. Returns -1, or 1 with the result pushed (a replay
 * sends nothing). An argument given as "" or nil is the config's (mail.server, user, password, to); the config's
 * password goes only to the config's server. mailTo may list addresses separated by commas. */
static int mail_prepare(lua_State *L)
{
    struct bot *b = bot_of(L);
    const struct http_opts *c = b->http;
    lua_settop(L, 6);
    struct query *q = new_query(L, "Mail");                                /* 7 */
    const char *server = mail_arg(L, 1, "smtpServer", c->mail_server, "server");
    const char *user = mail_arg(L, 2, "smtpUsername", c->mail_user, "user");
    int own_server = c->mail_server && strcmp(server, c->mail_server) == 0;
    const char *pass = mail_arg(L, 3, "smtpPassword", own_server ? c->mail_password : NULL, NULL);
    const char *to = mail_arg(L, 4, "mailTo", c->mail_to, "to");
    size_t tlen, blen;
    if (lua_type(L, 5) != LUA_TSTRING && lua_type(L, 5) != LUA_TNUMBER)
        return luaL_error(L, "Mail: title (argument 5) must be a string, not %s", luaL_typename(L, 5));
    if (lua_type(L, 6) != LUA_TSTRING && lua_type(L, 6) != LUA_TNUMBER)
        return luaL_error(L, "Mail: body (argument 6) must be a string, not %s", luaL_typename(L, 6));
    const char *title = lua_tolstring(L, 5, &tlen), *body = lua_tolstring(L, 6, &blen);
    /* (the config's values were checked when it was read: a bad one here is the strategy's argument) */
    if (!mail_address_ok(user, strlen(user)))
        return luaL_error(L, "Mail: smtpUsername '%s' is not the sender's address (name@domain)", user);
    if (mail_recipients(to, NULL, NULL) < 0)
        return luaL_error(L, "Mail: mailTo '%s' must be 1 to %d addresses (name@domain) separated by commas", to,
                          MAIL_MAX_RCPT);
    long bad = utf8_bad(title, tlen);
    if (bad >= 0)
        return luaL_error(L, "Mail: the title is not UTF-8 text (byte %d is not)", (int)bad + 1);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char ch = (unsigned char)title[i];
        if (ch == '\r' || ch == '\n')
            return luaL_error(L, "Mail: the title must not contain CR or LF (it is one header line)");
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            char why[120];      /* luaL_error has no %02x */
            snprintf(why, sizeof why, "Mail: the title must not contain control characters (byte %d is 0x%02x)",
                     (int)i + 1, ch);
            return luaL_error(L, "%s", why);
        }
    }
    if (blen > MAIL_MAX_BODY || memchr(body, '\0', blen))
        return luaL_error(L, "Mail: the body must be text of at most %d bytes, without NUL", MAIL_MAX_BODY);
    char url[600];
    if (mail_url(server, url, sizeof url) != 0)
        return luaL_error(L, "Mail: smtpServer '%s' is not HOST[:PORT], ssl://HOST:PORT or smtp://HOST[:PORT]",
                          server);
    if (b->sched && b->sched->virtual_) {
        /* A replay sends no mail: its clock runs through months in seconds, and it must not reach outside. */
        if (!b->mail_replay_said) {
            b->mail_replay_said = 1;
            log_printf(b, LOG_INFO, "Mail: a replay sends no mail (this one and later ones to %s are not sent)", to);
        }
        lua_pushboolean(L, 1);
        return 1;
    }
    q->mail = 1;
    struct fetch *f = &q->job->f;
    /* the failures' prefix: a long list of recipients is cut, so that the reason after it always fits */
    char label[900];
    snprintf(label, sizeof label, "Mail to %.200s%s via %s", to, strlen(to) > 200 ? "..." : "", url);
    lua_pushstring(L, label);
    q->label = dup_or_raise(L, lua_tostring(L, -1), lua_rawlen(L, -1));
    lua_pop(L, 1);
    f->url = dup_or_raise(L, url, strlen(url));
    f->timeout_ms = MAIL_TIMEOUT_MS;
    lua_pushfstring(L, "<%s>", user);
    f->mail_from = dup_or_raise(L, lua_tostring(L, -1), lua_rawlen(L, -1));
    lua_pop(L, 1);
    if (pass[0]) {
        f->user = dup_or_raise(L, user, strlen(user));
        f->password = dup_or_raise(L, pass, strlen(pass));
        f->require_tls = strncmp(url, "smtps://", 8) != 0 && !mail_url_loopback(url);
    }
    struct rcpts r = {NULL, 0};
    mail_recipients(to, add_rcpt, &r);
    f->mail_rcpt = r.list;      /* the fetch frees it */
    if (r.oom)
        return luaL_error(L, "Mail: out of memory");
    /* the message: headers, then the body */
    char date[64];
    int64_t now_ms = clock_now_ns(b) / 1000000;
    time_format_utc(now_ms, "%a, %d %b %Y %H:%M:%S +0000", date, sizeof date);
    const char *cte = push_body(L, body, blen);                           /* 8 */
    luaL_Buffer msg;
    luaL_buffinit(L, &msg);
    lua_pushfstring(L, "Date: %s\r\nMessage-ID: <%I.%d.%s.%I@%s>\r\nFrom: %s\r\nTo: %s\r\nSubject: ", date,
                    (lua_Integer)now_ms, (int)getpid(), b->id, (lua_Integer)++b->mails, strchr(user, '@') + 1, user,
                    to);
    luaL_addvalue(&msg);
    add_subject(&msg, title, tlen);
    luaL_addstring(&msg, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                         "X-Mailer: stratrun\r\nContent-Transfer-Encoding: ");
    luaL_addstring(&msg, cte);
    luaL_addstring(&msg, "\r\n\r\n");
    lua_pushvalue(L, 8);
    luaL_addvalue(&msg);
    luaL_pushresult(&msg);
    size_t mlen;
    const char *m = lua_tolstring(L, -1, &mlen);
    f->body = dup_or_raise(L, m, mlen);
    f->body_len = mlen;
    lua_pop(L, 1);
    return -1;
}

/* HttpQuery's checks and request: q at index 3, the request set up. Returns -1, or the number of results
 * already on the stack (a host in back-off: nil, message). */
static int backed_off(lua_State *L, struct query *q);

static int http_prepare(lua_State *L)
{
    struct bot *b = bot_of(L);
    luaL_checktype(L, 1, LUA_TSTRING);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (b->sched && b->sched->virtual_ && !b->http->in_replay)
        return luaL_error(L, "HttpQuery: refused in a replay, which must stay deterministic (a server's answers "
                          "change); set http = { in_replay = true } in the config to allow it");
    struct query *q = new_query(L, "HttpQuery");
    struct fetch *f = &q->job->f;
    size_t len;
    const char *url = lua_tolstring(L, 1, &len);
    f->url = dup_or_raise(L, url, len);
    f->timeout_ms = b->http->timeout_ms > 0 ? b->http->timeout_ms : DEFAULT_TIMEOUT_MS;
    f->max_bytes = (size_t)(b->http->max_bytes > 0 ? b->http->max_bytes : DEFAULT_MAX_BYTES);
    if (lua_istable(L, 2))
        read_options(L, q, f);
    return backed_off(L, q);
}

/* When q's host is waiting out a 429 or 418 (and q obeys it): nil, message pushed, and 2; else -1. */
static int backed_off(lua_State *L, struct query *q)
{
    struct fetch *f = &q->job->f;
    char host[300];
    long status, wait_s;
    int64_t left_ms;
    if (q->retry_after && fetch_url_host(f->url, host, sizeof host) == 0 &&
        fetch_backoff_left(host, &status, &wait_s, &left_ms)) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s%s%s: not sent: %s answered %d and asked to retry after %d s; %d s left",
                        q->who ? q->who : "HttpQuery", q->who ? "" : " ", q->who ? "" : f->url, host, (int)status, (int)wait_s,
                        (int)((left_ms + 999) / 1000));
        if (!q->who)
            return 2;
        lua_pushinteger(L, 0);  /* http_call: not sent */
        return 3;
    }
    return -1;
}

int http_call(lua_State *L, const struct http_call *c)
{
    char err[400];
    if (lazylib_need(&lazy_curl, c->who, err, sizeof err) != 0) {
        if (c->header)
            explicit_bzero(c->header, strlen(c->header));
        if (errno != EMFILE && errno != ENFILE)
            return luaL_error(L, "%s", err);    /* a broken installation, which no retry mends */
        lua_pushnil(L);     /* out of descriptors: a condition of the world, as for a transfer */
        lua_pushfstring(L, "%s: too many open files (%s)", c->who, err);
        lua_pushinteger(L, 0);  /* not sent */
        return 3;
    }
    struct query *q = new_query(L, c->who);
    int qidx = lua_gettop(L);
    struct fetch *f = &q->job->f;
    f->url = dup_or_raise(L, c->url, strlen(c->url));
    if (c->method)
        f->method = dup_or_raise(L, c->method, strlen(c->method));
    int added = c->header ? fetch_add_header(f, c->header) : 0;
    if (c->header)
        explicit_bzero(c->header, strlen(c->header));
    if (added != 0)
        return luaL_error(L, "%s: out of memory", c->who);
    f->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
    f->fresh_connection = c->once;
    f->max_bytes = DEFAULT_MAX_BYTES;
    q->debug = 1;
    q->retry_after = 1;
    q->who = c->who;
    q->seen = c->seen;
    q->seen_arg = c->arg;
    int n = backed_off(L, q);
    return n >= 0 ? n : run_query(L, q, qidx, c->who);
}

/* A call's transfer: prepare leaves its query at qidx (and returns -1, or how many results it already pushed);
 * then the call waits for it, or (go) returns its routine at once. */
static int transfer(lua_State *L, int (*prepare)(lua_State *), int qidx, int go, const char *who)
{
    char err[400];
    /* libcurl (and for a mail's encoded subject libcrypto) is loaded by the first call that needs it; without it the
     * call raises (a broken installation, which no retry mends) */
    if (lazylib_need(&lazy_curl, who, err, sizeof err) != 0 ||
        (prepare == mail_prepare && lazylib_need(&lazy_crypto, who, err, sizeof err) != 0)) {
        /* out of descriptors is a condition of the world, as it is for a transfer: HttpQuery returns nil, message */
        if ((errno == EMFILE || errno == ENFILE) && prepare == http_prepare && !go) {
            lua_pushnil(L);
            lua_pushfstring(L, "%s %s: too many open files (%s)", who, luaL_optstring(L, 1, ""), err);
            return 2;
        }
        return luaL_error(L, "%s", err);
    }
    int n = prepare(L);
    struct query *q = lua_touserdata(L, qidx);
    if (go)
        return go_routine(L, q, qidx, n, who);
    return n >= 0 ? n : run_query(L, q, qidx, who);
}

/* HttpQuery(url [, options]) -> body | {StatusCode, Header, Body} (debug) | nil, message. HttpQuery_Go(...) -> a
 * routine whose wait([timeout]) returns that. Mail(...) -> true | false; Mail_Go(...) -> its routine. */
static int f_HttpQuery(lua_State *L) { return transfer(L, http_prepare, 3, 0, "HttpQuery"); }
static int f_HttpQuery_Go(lua_State *L) { return transfer(L, http_prepare, 3, 1, "HttpQuery_Go"); }
static int f_Mail(lua_State *L) { return transfer(L, mail_prepare, 7, 0, "Mail"); }
static int f_Mail_Go(lua_State *L) { return transfer(L, mail_prepare, 7, 1, "Mail_Go"); }

static const luaL_Reg funcs[] = {
    {"HttpQuery", f_HttpQuery},
    {"HttpQuery_Go", f_HttpQuery_Go},
    {"Mail", f_Mail},
    {"Mail_Go", f_Mail_Go},
    {NULL, NULL}
};

int luaopen_http(lua_State *L)
{
    luaL_newmetatable(L, QUERY_MT);
    lua_pushcfunction(L, query_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, routine_index);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);      /* getmetatable(routine) is false: its __gc is the runtime's to call */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
