/*
 * ljson.c: the `json` module (a global too, as JSON is on the platforms): json.encode, json.decode, json.null,
 * json.array, json.object, over the codec of data/json.c.
 */
#include "lua/api.h"
#include "data/json.h"

#include <lauxlib.h>

/* json.encode(value) -> text; raises on a value that is not JSON (naming where). */
static int l_encode(lua_State *L)
{
    jbuf b;
    char err[JSON_ERRLEN];
    luaL_checkany(L, 1);
    jbuf_init(&b);
    if (json_encode(L, 1, &b, err, sizeof err) != 0) {
        jbuf_free(&b);
        return luaL_error(L, "json.encode: %s", err);
    }
    lua_pushlstring(L, b.p, b.len);   /* a memory error here would leak a heap-grown b: accepted */
    jbuf_free(&b);
    return 1;
}

/* json.decode(text) -> value; raises on text that is not JSON (naming the byte). */
static int l_decode(lua_State *L)
{
    size_t len;
    const char *s;
    char err[JSON_ERRLEN];
    luaL_checktype(L, 1, LUA_TSTRING);
    s = lua_tolstring(L, 1, &len);
    if (json_decode(L, s, len, err, sizeof err) != 0)
        return luaL_error(L, "json.decode: %s", err);
    return 1;
}

/* json.array(t) / json.object(t): returns the table given (or a new one) with the metatable registered under key */
static int mark_table(lua_State *L, int array)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_createtable(L, 0, 0);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    json_push_mark_mt(L, array);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_array(lua_State *L)
{
    return mark_table(L, 1);
}

static int l_object(lua_State *L)
{
    return mark_table(L, 0);
}

int luaopen_json(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"encode", l_encode},
        {"decode", l_decode},
        {"array", l_array},
        {"object", l_object},
        {NULL, NULL},
    };
    json_push_mark_mt(L, 1);   /* created up front so json_encode recognises them from the start */
    json_push_mark_mt(L, 0);
    lua_pop(L, 2);
    luaL_newlib(L, funcs);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
