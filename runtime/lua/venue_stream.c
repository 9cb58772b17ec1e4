/*
 * venue_stream.c: a live exchange's user-data stream (docs/live.md#the-user-data-stream): one WebSocket connection
 * to the venue's stream endpoint, on a thread of its own (core/dial.c), whose first message is the signed
 * subscription venue.c builds. The registry's "stratrun.venue_stream" is for stdlib/live.lua only, which turns the
 * venue's events into the orders GetOrder and GetOrders answer with. On binance-futures there is no subscription
 * message: the address's path holds the listen key (venue.c got it), so the address is as secret as the key and is
 * never shown; an error about it names stream_url's base only.
 *
 * The subscription carries the API key: it goes from venue.c into the connection's C memory only; no Lua value
 * holds it, and the messages handed to Lua are the venue's answers and events, which do not. The
 * connection never reconnects by itself (a subscription is signed with the time it is sent): live.lua opens a new
 * one, with back-off, when poll says the old one is down.
 */
#include "lua/api.h"
#include "lua/venue.h"
#include "core/dial.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define STREAM_MT "stratrun.venue_stream.conn"
#define CONNECT_MS 10000        /* name lookup, connect and handshakes of one attempt */

struct stream {
    struct dial_conn *c;        /* NULL once closed */
    long seen;                  /* dial_pop's count of drops said */
};

static struct stream *check_stream(lua_State *L)
{
    return luaL_checkudata(L, 1, STREAM_MT);
}

/* venue_stream.open(slot) -> conn | false (the exchange has stream = false) | nil, message (on binance-futures before
 * venue.listen_key got a key: "no listen key yet"). The connection starts at once on its own thread and sends the
 * subscription (spot's) when it is open; poll says how it goes. */
static int f_open(lua_State *L)
{
    int slot = (int)luaL_checkinteger(L, 1);
    char url[600], err[DIAL_ERRLEN];
    int r = venue_stream_url(slot, url, sizeof url);
    if (r == -2) {
        lua_pushnil(L);
        lua_pushliteral(L, "no listen key yet");
        return 2;
    }
    if (r < 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (dial_load("the venue's user-data stream", err, sizeof err) != 0) {
        explicit_bzero(url, sizeof url);
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    struct dial_spec s;
    int keyed = r == 1;
    int bad = dial_parse(url, strlen(url), &s, err, sizeof err) != 0;
    explicit_bzero(url, sizeof url);
    if (bad) {
        dial_spec_free(&s);
        lua_pushnil(L);
        lua_pushfstring(L, "stream_url: %s", keyed ? "not a WebSocket address with the listen key's path" : err);
        return 2;
    }
    s.connect_timeout_ms = CONNECT_MS;
    if (venue_stream_subscription(slot, &s.payload, &s.payload_len, err, sizeof err) != 0) {
        dial_spec_free(&s);
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    struct stream *st = lua_newuserdatauv(L, sizeof *st, 0);      /* stack: conn */
    memset(st, 0, sizeof *st);
    luaL_setmetatable(L, STREAM_MT);
    char *payload = s.payload;
    size_t plen = s.payload_len;
    st->c = dial_start(&s);
    if (!st->c) {
        if (payload)
            explicit_bzero(payload, plen);
        dial_spec_free(&s);
        lua_pushnil(L);
        lua_pushstring(L, "cannot start the stream's thread");
        return 2;
    }
    return 1;
}

/* conn:poll() -> state ("connecting", "open" or "down"), why (the reason it went down, else ""), {message, ...}
 * (the venue's text messages since the last poll, oldest first), lost (true when the full queue dropped some). */
static int f_poll(lua_State *L)
{
    struct stream *st = check_stream(L);
    if (!st->c) {
        lua_pushliteral(L, "down");
        lua_pushliteral(L, "closed");
        lua_newtable(L);
        lua_pushboolean(L, 0);
        return 4;
    }
    char why[DIAL_ERRLEN];
    enum dial_state s = dial_state(st->c, why, sizeof why, NULL);
    dial_drain(st->c);
    lua_pushstring(L, s == DIAL_CONNECTING ? "connecting" : s == DIAL_OPEN ? "open" : "down");
    lua_pushstring(L, s == DIAL_CONNECTING || s == DIAL_OPEN ? "" : why);
    lua_newtable(L);                                                 /* stack: conn state why msgs */
    long lost = 0, dropped = 0;
    char *msg;
    size_t len;
    for (int i = 1, r; (r = dial_pop(st->c, 0, &st->seen, &msg, &len, &dropped)) != 0;) {
        lost += dropped;
        if (r == 2)
            continue;
        lua_pushlstring(L, msg, len);
        free(msg);
        lua_rawseti(L, -2, i++);
    }
    lua_pushboolean(L, lost > 0);
    return 4;
}

/* conn:close(): ends the connection (a close frame) and joins its thread; a second close does nothing. */
static int f_close(lua_State *L)
{
    struct stream *st = check_stream(L);
    if (st->c)
        dial_close(st->c);
    st->c = NULL;
    return 0;
}

static const luaL_Reg conn_methods[] = {
    {"close", f_close},
    {"poll", f_poll},
    {NULL, NULL}
};

static const luaL_Reg funcs[] = {
    {"open", f_open},
    {NULL, NULL}
};

int luaopen_venue_stream(lua_State *L)
{
    if (luaL_newmetatable(L, STREAM_MT)) {
        luaL_newlib(L, conn_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, f_close);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "venue stream");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
