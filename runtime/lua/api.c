/*
 * api.c: loads every runtime module into a fresh strategy state, in one table, and makes the Lua code under
 * stdlib/ (embedded in the binary) available to require.
 */
#include "lua/api.h"
#include "lua/stdlib_embed.h"

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

/* Modules whose functions are globals, as on the platforms. They are not entered in package.loaded, so
 * tracebacks name their functions plainly ("Log", not "stratrun.log.Log"). */
static const lua_CFunction global_modules[] = {
    luaopen_log, luaopen_clock, luaopen_format, luaopen_store, luaopen_channel, luaopen_http,
    luaopen_dial, luaopen_platform, luaopen_crypto, luaopen_db, NULL
};

void *api_registry_object(lua_State *L, const char *key, size_t size, lua_CFunction gc)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, key) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        memset(lua_newuserdatauv(L, size, 0), 0, size);
        if (gc) {
            lua_createtable(L, 0, 1);
            lua_pushcfunction(L, gc);
            lua_setfield(L, -2, "__gc");
            lua_setmetatable(L, -2);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, key);
    }
    void *p = lua_touserdata(L, -1);
    lua_pop(L, 1);      /* the registry keeps it */
    return p;
}

/* package.preload loader for an embedded stdlib module; upvalue 1 is its index in stratrun_stdlib. */
static int load_embedded(lua_State *L)
{
    const struct stdlib_module *m = &stratrun_stdlib[lua_tointeger(L, lua_upvalueindex(1))];
    char chunkname[64];
    snprintf(chunkname, sizeof chunkname, "=stdlib/%s.lua", m->name);
    if (luaL_loadbufferx(L, m->src, m->size, chunkname, "b") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1);    /* the module name, as require passes it */
    lua_call(L, 1, 1);
    return 1;
}

/* Makes every embedded stdlib module require-able by its name. */
static void preload_stdlib(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (lua_Integer i = 0; stratrun_stdlib[i].name; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, stratrun_stdlib[i].name);
    }
    lua_pop(L, 1);
}

void api_open_host(lua_State *L)
{
    luaL_openlibs(L);
    luaL_requiref(L, "json", luaopen_json, 1);
    lua_pop(L, 1);
    preload_stdlib(L);
}

void api_open(lua_State *L)
{
    luaL_openlibs(L);
    for (const lua_CFunction *open = global_modules; *open; open++) {
        lua_pushcfunction(L, *open);
        lua_call(L, 0, 0);
    }
    /* json is a module (require "json") and a global, as JSON is on the platforms. */
    luaL_requiref(L, "json", luaopen_json, 1);
    lua_pop(L, 1);
    luaL_requiref(L, "market", luaopen_market, 0);
    lua_pop(L, 1);
    luaL_requiref(L, "stratrun.files", luaopen_files, 0);
    lua_pop(L, 1);
    luaL_requiref(L, "stratrun.log", luaopen_logapi, 0);
    lua_pop(L, 1);
    luaL_requiref(L, "stratrun.ta", luaopen_ta, 0);
    lua_pop(L, 1);
    /* not require-able: in the registry, for stdlib/live.lua only (a strategy calling it would pass the guards its
     * own holdings and value) */
    luaopen_venue(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.venue");
    luaopen_venue_stream(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.venue_stream");

    preload_stdlib(L);

    /* Globals that stdlib modules provide: the exchange strategies trade through, the TA indicators, TA-Lib's. */
    static const char *const globals[][2] = {{"exchange", "exchange"}, {"TA", "ta"}, {"talib", "talib"}};
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++) {
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
        int present = lua_getfield(L, -1, globals[i][1]) != LUA_TNIL;
        lua_pop(L, 2);
        if (!present)
            continue;
        lua_getglobal(L, "require");
        lua_pushstring(L, globals[i][1]);
        lua_call(L, 1, 1);
        lua_setglobal(L, globals[i][0]);
    }
    /* stdlib/platform.lua's functions (_C, _CDelay, IsVirtual, _Cross, Chart, KLineChart) are globals each. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "platform");
    lua_call(L, 1, 1);
    lua_pushnil(L);
    while (lua_next(L, -2))         /* stack: module key value; the keys are strings */
        lua_setglobal(L, lua_tostring(L, -2));
    lua_pop(L, 1);
    /* Reading a platform name stratrun lacks raises, naming it (stdlib/names.lua): after every global is set. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "names");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "guard_globals");
    lua_pushglobaltable(L);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    /* Last, so that nothing above is loaded through what it takes away. */
    lua_pushcfunction(L, luaopen_guard);
    lua_call(L, 0, 0);
}
