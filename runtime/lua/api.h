/*
 * api.h: the Lua-facing modules of the runtime, one C file each, and the one place that loads them all.
 */
#ifndef STRATRUN_API_H
#define STRATRUN_API_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

/* Opens the standard libraries, every runtime module below, and makes the embedded stdlib modules require-able. */
void api_open(lua_State *L);

/* A state of the host's own (a replay's results, runtime/host/replay.c): the standard libraries, json, and the
 * embedded stdlib modules require-able; none of the bot-facing modules. */
void api_open_host(lua_State *L);

/* A replay bot's channel publications (text: the JSON published) and its first reads of each new state of another
 * bot's channel (text: that channel's ID), kept by channel.c for the replay's results (b->chanlog). */
struct chanlog_rec {
    int64_t time, seq;
    char *text;
    size_t len;
};
struct chanlog_list {
    struct chanlog_rec *rec;
    size_t n, cap;
    long dropped;           /* beyond the cap: counted only */
};
struct chanlog {
    struct chanlog_list publications, reads;
};
void chanlog_free(struct chanlog *c);

/* The zeroed userdata of size bytes kept in the registry under key, made on first use with gc (may be NULL) as its
 * __gc: a module's per-bot C state, freed when the bot's state closes. */
void *api_registry_object(lua_State *L, const char *key, size_t size, lua_CFunction gc);

int luaopen_json(lua_State *L);      /* ljson.c:   json.encode, json.decode, json.null, json.array, json.object */
int luaopen_log(lua_State *L);       /* log.c:     Log, LogStatus, LogProfit, LogProfitReset, LogReset,
                                      *            SetErrorFilter, GetLastError */
int luaopen_logapi(lua_State *L);    /* log.c:     require "stratrun.log": error(msg), a platform call's error;
                                      *            warn(msg); width(s), terminal columns */
int luaopen_clock(lua_State *L);     /* clock.c:   Sleep, Unix, UnixNano */
int luaopen_format(lua_State *L);    /* format.c:  _D, _N */
int luaopen_store(lua_State *L);     /* store.c:   _G() as the bot's ID and persistent key-value store */
int luaopen_channel(lua_State *L);   /* channel.c: SetChannelData, GetChannelData */
int luaopen_http(lua_State *L);      /* http.c:    HttpQuery */
int luaopen_dial(lua_State *L);      /* dial.c:    Dial, raw TCP, TLS and WebSocket connections */
int luaopen_crypto(lua_State *L);    /* crypto.c:  Encode, MD5, HMAC (OpenSSL libcrypto) */
int luaopen_db(lua_State *L);        /* db.c:      DBExec on the bot's SQLite database, LogVacuum */
int luaopen_platform(lua_State *L);  /* platform.c: GetCommand, Version, GetPid, GetOS, UUID */
int luaopen_market(lua_State *L);    /* lmarket.c: require "market": candle and snapshot primitives for stdlib/exchange.lua */
int luaopen_files(lua_State *L);     /* files.c:   require "stratrun.files": files of the bot's folder, for stdlib/ (account, chart) */
int luaopen_ta(lua_State *L);        /* ta.c:      require "stratrun.ta": the arithmetic of stdlib/ta.lua's MA, EMA, RSI, MACD */
int luaopen_venue(lua_State *L);     /* venue.c:   require "stratrun.venue": a live exchange's keys, signed requests and
                                      *            guards, for stdlib/live.lua */
int luaopen_venue_stream(lua_State *L); /* venue_stream.c: a live exchange's user-data stream, for stdlib/live.lua */

int luaopen_guard(lua_State *L);     /* guard.c:   load, loadfile, dofile, require text only; debug without what reaches into
                                      * the runtime (opened last) */

#endif
