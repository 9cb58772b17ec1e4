/*
 * dial.c: Dial, the strategy's raw connections (TCP, TLS, WebSocket), and the connection's read, write and close
 * (docs/dial.md). The connection runs on a thread of its own (core/dial.c); this file turns Lua arguments into a
 * struct dial_spec and waits on the bot's thread, as HttpQuery does: a live bot's own functions await (the bot
 * yields, the other bots run), elsewhere the call blocks this thread; a stop ends either wait at once.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/clock.h"
#include "core/dial.h"
#include "core/engine.h"
#include "core/lib_crypto.h"
#include "core/lib_ssl.h"
#include "core/lib_wslay.h"
#include "core/lib_zlib.h"
#include "core/redact.h"
#include "lua/log.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#define DIAL_MT "stratrun.Dial"
#define COUNT_KEY "stratrun.dial.count"
#define DIAL_PER_BOT 32             /* connections a bot may hold open (each is a thread and a socket) */
#define MAX_TIMEOUT_MS 600000
#define GRACE_MS 2000               /* past the connect timeout, for the thread to say why it failed */
#define NO_DEADLINE INT64_MAX
#define AWAIT_SLICE_NS 3600000000000LL      /* an await without a deadline looks again every hour */

enum waiting { WAIT_CONNECT, WAIT_READ };

struct ldial {
    struct dial_conn *c;        /* NULL once closed */
    char addr[256];             /* the address without its options, its password (if any) redacted */
    enum waiting waiting;
    int latest;                 /* read(-2): the newest message, the older ones dropped */
    int immediate;              /* read(-1), read(-2): no wait */
    long timeout_ms;
    int64_t deadline_ns;        /* awaiting: the scheduler's clock; blocking: CLOCK_MONOTONIC; or NO_DEADLINE */
    int drop_said;              /* the full queue was said once */
    long drops_seen;            /* reconnect: the drops a read has returned "" for (dial_pop keeps it) */
};

static int *open_count(lua_State *L)
{
    return api_registry_object(L, COUNT_KEY, sizeof(int), NULL);
}

static void ldial_close(lua_State *L, struct ldial *d)
{
    if (!d->c)
        return;
    dial_close(d->c);
    d->c = NULL;
    (*open_count(L))--;
}

static int ldial_gc(lua_State *L)
{
    ldial_close(L, luaL_checkudata(L, 1, DIAL_MT));
    return 0;
}

/* A Dial that did not connect: nil, message; the message kept for GetLastError and logged (as the platform logs
 * it), the connection given up. */
static int failed(lua_State *L, struct ldial *d, const char *why)
{
    char msg[DIAL_ERRLEN + 300];
    int len = snprintf(msg, sizeof msg, "Dial %s: %s", d->addr, why);
    ldial_close(L, d);
    log_call_error(L, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

/* What the waiting call returns now, or -1 when it must wait on. stack: the connection at idx. */
static int step(lua_State *L, struct ldial *d, int idx)
{
    char err[DIAL_ERRLEN];
    enum dial_state st = dial_state(d->c, err, sizeof err, NULL);
    if (d->waiting == WAIT_CONNECT) {
        if (st == DIAL_CONNECTING)
            return -1;
        if (st == DIAL_FAILED)
            return failed(L, d, err);
        lua_pushvalue(L, idx);
        return 1;
    }
    char *msg;
    size_t len;
    long dropped;
    int got = dial_pop(d->c, d->latest, &d->drops_seen, &msg, &len, &dropped);
    if (dropped && !d->drop_said) {
        d->drop_said = 1;
        log_printf(bot_of(L), LOG_WARN, "Dial %s: %ld received messages were dropped, the oldest first: read() "
                   "did not keep up, and the queue holds at most %d messages or %u MiB (said once per connection)",
                   d->addr, dropped, DIAL_MAX_QUEUE, (unsigned)(DIAL_MAX_QUEUE_BYTES >> 20));
    }
    if (got == 1) {
        lua_pushlstring(L, msg, len);   /* (a memory error here loses msg: the allocator's cap is hit anyway) */
        free(msg);
        return 1;
    }
    /* "" when the connection is over for good; with reconnect, "" once per drop, in order with the messages (the
     * old connection's before it, the next one's after), then reads wait for the next connection's messages as
     * they wait on an open one (a loop of read() does not spin while it reconnects) */
    if (got == 2 || st == DIAL_CLOSED || st == DIAL_FAILED) {
        lua_pushliteral(L, "");
        return 1;
    }
    if (d->immediate) {
        lua_pushnil(L);
        return 1;
    }
    return -1;
}

static int timed_out(lua_State *L, struct ldial *d)
{
    if (d->waiting == WAIT_CONNECT) {
        char why[100];
        snprintf(why, sizeof why, "timed out after %ld ms", d->timeout_ms);
        return failed(L, d, why);
    }
    lua_pushnil(L);
    return 1;
}

/* The continuation of an awaiting Dial or read. stack: ... the connection at ctx */
static int resume(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    struct ldial *d = lua_touserdata(L, (int)ctx);
    struct bot *b = bot_of(L);
    b->awaiting = 0;
    int n = step(L, d, (int)ctx);
    if (n >= 0)
        return n;
    int64_t now = sched_now(b->sched);
    if (now >= d->deadline_ns)
        return timed_out(L, d);
    return sched_await(L, d->deadline_ns == NO_DEADLINE ? now + AWAIT_SLICE_NS : d->deadline_ns, ctx, resume);
}

/* Where the bot cannot yield: waits on this thread for the connection's events, or a stop. */
static int block(lua_State *L, struct ldial *d, int idx)
{
    struct bot *b = bot_of(L);
    engine_kick(b->engine);     /* what the strategy published goes out while it waits */
    for (;;) {
        dial_drain(d->c);
        int n = step(L, d, idx);
        if (n >= 0)
            return n;
        if (bot_signal() && b->phase <= PHASE_MAIN)
            return bot_interrupted(L);
        /* the other bots wait meanwhile: the host's step_limit (or a bot_end) ends the wait, as it ends Sleep's */
        if (bot_overran(b))
            return luaL_error(L, "%s", *b->end_why ? b->end_why : "the bot is ending");
        int64_t now = clock_mono_ns();
        if ((b->phase == PHASE_ONEXIT || b->phase == PHASE_ONERROR) && b->exit_deadline_ns &&
            now >= b->exit_deadline_ns)
            return luaL_error(L, "Dial %s: %s ran out of time (onexit_limit) waiting in a read", d->addr,
                              b->phase == PHASE_ONEXIT ? "onexit" : "onerror");
        int64_t left = d->deadline_ns == NO_DEADLINE ? 100000000 : d->deadline_ns - now;
        if (left <= 0)
            return timed_out(L, d);
        if (left > 100000000)
            left = 100000000;      /* looks again every 100 ms: the limits above */
        struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        struct pollfd p[2] = {{dial_event_fd(d->c), POLLIN, 0},
                              {b->phase <= PHASE_MAIN ? bot_signal_fd() : -1, POLLIN, 0}};
        if (ppoll(p, p[1].fd >= 0 ? 2 : 1, &ts, NULL) < 0 && errno != EINTR)
            return luaL_error(L, "Dial: ppoll failed: %s", strerror(errno));
    }
}

/* Waits (at most wait_ms, or without end when it is negative) until step() has the results. stack: the
 * connection at idx. */
static int wait_conn(lua_State *L, struct ldial *d, int idx, long wait_ms)
{
    struct bot *b = bot_of(L);
    int n = step(L, d, idx);
    if (n >= 0)
        return n;
    if (sched_can_await(L)) {
        int64_t now = sched_now(b->sched);
        d->deadline_ns = wait_ms < 0 ? NO_DEADLINE : now + (int64_t)wait_ms * 1000000;
        return sched_await(L, d->deadline_ns == NO_DEADLINE ? now + AWAIT_SLICE_NS : d->deadline_ns, idx, resume);
    }
    d->deadline_ns = wait_ms < 0 ? NO_DEADLINE : clock_mono_ns() + (int64_t)wait_ms * 1000000;
    return block(L, d, idx);
}

/* Dial(address [, timeout]) -> the connection | nil, message. */
static int f_Dial(lua_State *L)
{
    struct bot *b = bot_of(L);
    size_t len;
    const char *address = luaL_checklstring(L, 1, &len);
    long timeout_ms = 30000;
    if (lua_type(L, 2) == LUA_TTABLE)
        return luaL_error(L, "Dial: an options table is not supported: give the options after '|' in the address "
                          "(\"wss://host/path|reconnect=true&payload=...\")");
    if (!lua_isnoneornil(L, 2)) {
        double ms = luaL_checknumber(L, 2);
        if (!(ms > 0 && ms <= MAX_TIMEOUT_MS))
            return luaL_error(L, "Dial: the timeout must be a number of ms above 0, at most %d", MAX_TIMEOUT_MS);
        timeout_ms = (long)ceil(ms);
    }
    if (b->sched && b->sched->virtual_ && !b->http->in_replay)
        return luaL_error(L, "Dial: refused in a replay, which must stay deterministic (a replay reads only its "
                          "market; a server's messages change); set http = { in_replay = true } in the config to "
                          "allow it");
    /* the address only: the options after '|' (a payload's JSON, a signature) are neither checked nor quoted */
    const char *bar = memchr(address, '|', len);
    const char *addr_only = lua_pushlstring(L, address, bar ? (size_t)(bar - address) : len);
    size_t off, plen;
    if (redact_span(addr_only, &off, &plen)) {
        char shown[300];
        return luaL_error(L, "Dial: '%s': a user and password in the address are not supported",
                          redact_url(addr_only, shown, sizeof shown));
    }
    lua_pop(L, 1);
    struct dial_spec spec;
    char err[DIAL_ERRLEN];
    if (dial_parse(address, len, &spec, err, sizeof err) != 0) {
        dial_spec_free(&spec);
        return luaL_error(L, "Dial: %s", err);
    }
    /* OpenSSL (the handshake's key and digest, TLS), wslay and zlib are loaded by the first Dial; without one Dial
     * raises */
    if (dial_load("Dial", err, sizeof err) != 0) {
        dial_spec_free(&spec);
        return luaL_error(L, "%s", err);
    }
    spec.connect_timeout_ms = timeout_ms;
    spec.notify = sched_notify;
    int *count = open_count(L);
    if (*count >= DIAL_PER_BOT)
        lua_gc(L, LUA_GCCOLLECT);       /* connections no longer referenced count until collected */
    if (*count >= DIAL_PER_BOT) {
        dial_spec_free(&spec);
        return luaL_error(L, "Dial: %d connections of this bot are open; close() some before dialing more",
                          DIAL_PER_BOT);
    }
    lua_settop(L, 2);
    struct ldial *d = lua_newuserdatauv(L, sizeof *d, 0);                  /* 3 */
    memset(d, 0, sizeof *d);
    /* messages and tostring name the address without its query (a listenKey, a ?token=) */
    const char *q = memchr(address, '?', spec.addr_len);
    size_t shown_len = q ? (size_t)(q - address) : spec.addr_len;
    snprintf(d->addr, sizeof d->addr, "%.*s%s", (int)(shown_len < 250 ? shown_len : 250), address, q ? "?..." : "");
    d->timeout_ms = timeout_ms;
    luaL_setmetatable(L, DIAL_MT);
    if (!(d->c = dial_start(&spec))) {
        dial_spec_free(&spec);
        return luaL_error(L, "Dial: cannot start the connection's thread (out of memory or threads)");
    }
    (*count)++;
    d->waiting = WAIT_CONNECT;
    return wait_conn(L, d, 3, timeout_ms + GRACE_MS);
}

/* The connection of a bound method: upvalue 1; arg is where the method's first argument is (conn:read(ms) and
 * conn.read(ms) both work, as the platform writes conn.read). */
static struct ldial *self(lua_State *L, int *arg)
{
    struct ldial *d = lua_touserdata(L, lua_upvalueindex(1));
    *arg = lua_touserdata(L, 1) == d ? 2 : 1;
    return d;
}

/* conn.read([timeout]): the next message; nil when none came in time; "" once disconnected. timeout: none or 0
 * waits for one; ms > 0 at most that long; -1 returns at once; -2 (below -1) at once with the newest, the older
 * ones dropped. */
static int m_read(lua_State *L)
{
    int arg;
    struct ldial *d = self(L, &arg);
    if (!lua_isnoneornil(L, arg) && lua_type(L, arg) != LUA_TNUMBER)
        return luaL_error(L, "read: the timeout must be a number of ms, not %s", luaL_typename(L, arg));
    double ms = lua_isnoneornil(L, arg) ? 0 : lua_tonumber(L, arg);
    if (ms != ms)
        return luaL_error(L, "read: the timeout must be a number of ms, not nan");
    if (!d->c)
        return luaL_error(L, "read: the connection to %s was closed (close() was called)", d->addr);
    d->waiting = WAIT_READ;
    d->immediate = ms < 0;
    d->latest = ms < -1;
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));              /* stack: conn */
    return wait_conn(L, d, 1, ms > 0 ? (long)(ms < MAX_TIMEOUT_MS * 1000.0 ? ceil(ms) : MAX_TIMEOUT_MS * 1000.0)
                                     : -1);
}

/* conn.write(data): the number of bytes queued for sending; 0 when the connection is not open (closed, or
 * reconnecting) or too much waits to be sent. */
static int m_write(lua_State *L)
{
    int arg;
    struct ldial *d = self(L, &arg);
    size_t len;
    const char *data = luaL_checklstring(L, arg, &len);
    if (len > DIAL_MAX_MSG)
        return luaL_error(L, "write: %d bytes is more than a message may hold (%u)", (int)len, (unsigned)DIAL_MAX_MSG);
    lua_pushinteger(L, d->c ? (lua_Integer)dial_write(d->c, data, len) : 0);
    return 1;
}

/* conn.close(): ends the connection (a second close does nothing). */
static int m_close(lua_State *L)
{
    int arg;
    ldial_close(L, self(L, &arg));
    return 0;
}

static const luaL_Reg methods[] = {
    {"close", m_close},
    {"read", m_read},
    {"write", m_write},
    {NULL, NULL}
};

/* A connection's fields: its methods, bound to it. */
static int ldial_index(lua_State *L)
{
    luaL_checkudata(L, 1, DIAL_MT);
    const char *k = lua_tostring(L, 2);
    for (const luaL_Reg *m = methods; k && m->name; m++)
        if (strcmp(k, m->name) == 0) {
            lua_pushvalue(L, 1);
            lua_pushcclosure(L, m->func, 1);
            return 1;
        }
    return 0;
}

static int ldial_tostring(lua_State *L)
{
    struct ldial *d = luaL_checkudata(L, 1, DIAL_MT);
    lua_pushfstring(L, "Dial %s%s", d->addr, d->c ? "" : " (closed)");
    return 1;
}

static const luaL_Reg funcs[] = {
    {"Dial", f_Dial},
    {NULL, NULL}
};

int luaopen_dial(lua_State *L)
{
    luaL_newmetatable(L, DIAL_MT);
    lua_pushcfunction(L, ldial_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, ldial_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ldial_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);      /* getmetatable(conn) is false: its __gc is the runtime's to call */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
