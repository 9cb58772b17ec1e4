/*
 * channel.c: SetChannelData and GetChannelData, the strategy's side of channels.
 *
 * Neither call waits for anything: SetChannelData encodes and hands the bytes to the engine (engine.c), and
 * GetChannelData reads the engine's cache. Each bot keeps the decoded value of every channel it follows, so a
 * call that finds nothing new costs one atomic read and a copy of a small table, not a JSON decode.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/chanid.h"
#include "core/clock.h"
#include "core/engine.h"
#include "data/json.h"
#include "lua/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* Upvalue 1 of both functions: channel ID -> struct sub userdata, the channels this bot follows. */
#define SUBS lua_upvalueindex(1)
/* A state published more than this ahead of the reader's clock when it arrived is marked meta.clock_ahead: the
 * publisher's clock is wrong, so its `published` says nothing of how fresh the state is. */
#define CLOCK_AHEAD_MS 5000

/* A replay keeps, for its results (runtime/host/replay.c, docs/report.md), what each bot published and its first
 * read of each new state of another bot's channel: at most CHANLOG_MAX of each, later ones only counted. Kept in C
 * memory, not the bot's Lua heap: a year of minutes publishes half a million states, and tables the collector
 * walks on every cycle slowed the replay by a third. */
#define CHANLOG_MAX 10000

static int replaying(const struct bot *b)
{
    return b->sched && b->sched->virtual_;
}

static int chanlog_grow(struct chanlog_list *l)
{
    size_t cap = l->cap ? l->cap * 2 : 64;
    struct chanlog_rec *r = realloc(l->rec, cap * sizeof *r);
    if (!r)
        return -1;
    l->rec = r;
    l->cap = cap;
    return 0;
}

static void chanlog_add(struct bot *b, int read, int64_t seq, const char *text, size_t len)
{
    struct chanlog *c = b->chanlog;
    if (!c && !(c = b->chanlog = calloc(1, sizeof *c)))
        return;
    struct chanlog_list *l = read ? &c->reads : &c->publications;
    char *copy;
    if (l->n >= CHANLOG_MAX || (l->n == l->cap && chanlog_grow(l) != 0) || !(copy = malloc(len + 1))) {
        l->dropped++;
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    l->rec[l->n++] = (struct chanlog_rec){clock_now_ms(b), seq, copy, len};
}

/* One followed channel, for one bot. Its user value is the decoded state. */
struct sub {
    struct chan_entry *c;
    int64_t seq;                /* of the decoded state; 0: none yet */
    int64_t seen;               /* the newest seq looked at: a state that failed to decode is not retried */
    int64_t published, received;
};

/* Pushes a copy of the JSON-shaped value at idx: tables copied deeply (metatables kept, so json.array marks
 * survive), everything else as is. Values came from the JSON decoder, so there is no cycle and depth <= 32. */
static void push_copy(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE) {
        lua_pushvalue(L, idx);
        return;
    }
    luaL_checkstack(L, 4, "channel value too deep");
    /* Sized exactly up front: growing a table while filling it rehashes it several times. */
    int narr = (int)lua_rawlen(L, idx), nrec = -narr;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        nrec++;
    lua_createtable(L, narr, nrec);
    int t = lua_gettop(L);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        lua_pushvalue(L, -2);
        push_copy(L, -2);
        lua_rawset(L, t);
    }
    if (lua_getmetatable(L, idx))
        lua_setmetatable(L, t);
}

/* Normalises a robot ID argument (a string, or an integer used as its decimal string) and pushes it. Returns
 * NULL (pushing nothing) with what is wrong in why. */
static const char *push_id(lua_State *L, int idx, char *why, size_t whylen)
{
    size_t len;
    const char *s;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, idx);
        lua_Integer i;
        if (!lua_isinteger(L, idx) && !(floor(d) == d && lua_numbertointeger(d, &i))) {
            snprintf(why, whylen, "robotId %s is not an integer", lua_tostring(L, idx));
            return NULL;
        }
        i = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : (lua_Integer)d;
        s = lua_pushfstring(L, "%I", i);
        len = lua_rawlen(L, -1);
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        s = lua_tolstring(L, idx, &len);
        lua_pushvalue(L, idx);
    } else {
        snprintf(why, whylen, "robotId must be a string or a number, not %s", luaL_typename(L, idx));
        return NULL;
    }
    const char *bad = id_check(s, len);
    if (bad) {
        /* Show the ID as text, safely: it may hold anything, NUL and control bytes included. */
        char shown[72];
        size_t k = 0;
        for (size_t i = 0; i < len && k < 64; i++)
            shown[k++] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
        shown[k] = '\0';
        snprintf(why, whylen, "invalid robotId '%s%s': it %s (an ID is 1-64 characters of A-Z a-z 0-9 _ -)",
                 shown, len > 64 ? "..." : "", bad);
        lua_pop(L, 1);
        return NULL;
    }
    return s;
}

/* SetChannelData(data): makes data the latest state of this bot's channel. Returns true, or nil and a message
 * (nothing published, the previous state kept) when data is not JSON or its JSON is over 1024 bytes. */
static int f_SetChannelData(lua_State *L)
{
    struct bot *b = bot_of(L);
    char err[512], msg[600];
    lua_settop(L, 1);
    jbuf jb;
    jbuf_init(&jb);
    if (json_encode(L, 1, &jb, err, sizeof err) != 0)
        snprintf(msg, sizeof msg, "SetChannelData: not published: data is not JSON: %s", err);
    else if (jb.len > CHAN_MAX)
        snprintf(msg, sizeof msg, "SetChannelData: not published: data is %zu bytes of JSON; a channel state "
                 "holds at most %d", jb.len, CHAN_MAX);
    else {
        int64_t seq = engine_publish(b->engine, b->own, jb.p, jb.len, clock_now_us(b));
        if (replaying(b) && seq > 0)
            chanlog_add(b, 0, seq, jb.p, jb.len);
        jbuf_free(&jb);
        /* The state is handed over either way (it goes out once the backend takes it again); a refusal of the
         * last write is the strategy's to hear of. */
        if (!engine_refused(b->engine, b->own, err, sizeof err)) {
            lua_pushboolean(L, 1);
            return 1;
        }
        snprintf(msg, sizeof msg, "SetChannelData: %s", err);
        log_write(b, LOG_ERROR, msg, strlen(msg));
        luaL_pushfail(L);
        lua_pushstring(L, msg);
        return 2;
    }
    jbuf_free(&jb);
    log_write(b, LOG_ERROR, msg, strlen(msg));
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
}

/* GetChannelData(robotId): the latest state of that bot's channel as a fresh value, and its metadata
 * {seq, published, received [, clock_ahead = true, ahead_ms]}; nil on the first call (which starts following it)
 * and until it has a state. */
static int f_GetChannelData(lua_State *L)
{
    struct bot *b = bot_of(L);
    char why[200];
    lua_settop(L, 1);
    if (!push_id(L, 1, why, sizeof why)) {
        luaL_pushfail(L);
        lua_pushfstring(L, "GetChannelData: %s", why);
        return 2;
    }
    /* stack: arg id */
    lua_pushvalue(L, 2);
    struct sub *s;
    if (lua_rawget(L, SUBS) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        struct chan_entry *c = engine_channel(b->engine, lua_tostring(L, 2), 1);
        if (!c)
            return luaL_error(L, "GetChannelData: out of memory");
        s = lua_newuserdatauv(L, sizeof *s, 1);
        memset(s, 0, sizeof *s);
        s->c = c;
        lua_pushvalue(L, 2);
        lua_pushvalue(L, -2);
        lua_rawset(L, SUBS);
        lua_pushnil(L);     /* the first call returns nil, as on the platform */
        return 1;
    }
    s = lua_touserdata(L, -1);
    int ud = lua_gettop(L);
    int64_t seq = engine_seq(s->c);
    if (seq == 0) {
        char err[300];
        if (engine_refused(b->engine, s->c, err, sizeof err)) {
            luaL_pushfail(L);
            lua_pushfstring(L, "GetChannelData: %s", err);
            return 2;
        }
        lua_pushnil(L);
        return 1;
    }
    if (seq != s->seen) {
        struct chan_state st;
        engine_read(b->engine, s->c, &st);
        s->seen = st.seq;
        char err[JSON_ERRLEN];
        if (json_decode(L, st.data, st.len, err, sizeof err) == 0) {
            lua_setiuservalue(L, ud, 1);
            s->seq = st.seq;
            s->published = st.published;
            s->received = st.received_us / 1000;
            if (replaying(b)) {
                size_t idlen;
                const char *id = lua_tolstring(L, 2, &idlen);
                chanlog_add(b, 1, st.seq, id, idlen);
            }
        } else {
            log_printf(b, LOG_WARN, "GetChannelData: channel %s sent a state that is not valid JSON (%s); "
                       "keeping the previous one", lua_tostring(L, 2), err);
        }
    }
    if (s->seq == 0) {      /* nothing valid yet */
        lua_pushnil(L);
        return 1;
    }
    lua_getiuservalue(L, ud, 1);
    push_copy(L, -1);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, s->seq);
    lua_setfield(L, -2, "seq");
    lua_pushinteger(L, s->published);
    lua_setfield(L, -2, "published");
    lua_pushinteger(L, s->received);
    lua_setfield(L, -2, "received");
    if (s->published - s->received > CLOCK_AHEAD_MS) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "clock_ahead");
        lua_pushinteger(L, s->published - s->received);
        lua_setfield(L, -2, "ahead_ms");
    }
    return 2;
}

void chanlog_free(struct chanlog *c)
{
    if (!c)
        return;
    struct chanlog_list *lists[] = {&c->publications, &c->reads};
    for (int i = 0; i < 2; i++) {
        for (size_t k = 0; k < lists[i]->n; k++)
            free(lists[i]->rec[k].text);
        free(lists[i]->rec);
    }
    free(c);
}

static const luaL_Reg funcs[] = {
    {"GetChannelData", f_GetChannelData},
    {"SetChannelData", f_SetChannelData},
    {NULL, NULL}
};

int luaopen_channel(lua_State *L)
{
    struct bot *b = bot_of(L);
    b->own = engine_channel(b->engine, b->id, 0);
    if (!b->own)
        return luaL_error(L, "out of memory");
    lua_pushglobaltable(L);
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 1);
    return 1;
}
