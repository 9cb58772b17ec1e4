/*
 * guard.c: the standard library, made safe for a strategy. Lua trusts bytecode and the debug library; a strategy
 * must not be able to crash or freeze the process with either. Loaded last by api.c:
 *   load, loadfile, dofile and require read text only: Lua does not check binary chunks, and a corrupt one crashes
 *     the process;
 *   debug.getregistry and debug.sethook are refused: the registry holds the runtime's own state, and the runtime's
 *     count hook is how a stop or a time slice reaches a bot;
 *   debug.getupvalue, setupvalue, upvalueid and upvaluejoin are refused on C functions (the runtime's own) and on
 *     stdlib/live.lua's (the venue's order module), and debug.setlocal on a C function's frame: those hold what the
 *     runtime's C code reads back; debug.getlocal, setlocal and getinfo's function are refused in live.lua's frames.
 * Everything else of the standard library is as Lua has it.
 */
#include "lua/api.h"

#include <string.h>

#include <lauxlib.h>

static int refuse(lua_State *L, const char *what)
{
    return luaL_error(L, "%s is not available to strategies (it would reach into the runtime)", what);
}

/* load(chunk [, name [, mode [, env]]]): mode is always "t". upvalue 1: the original load. */
static int g_load(lua_State *L)
{
    if (lua_gettop(L) < 3)
        lua_settop(L, 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* loadfile([file [, mode [, env]]]): mode is always "t". */
static int g_loadfile(lua_State *L)
{
    const char *fname = luaL_optstring(L, 1, NULL);
    int env = !lua_isnone(L, 3) ? 3 : 0;
    if (luaL_loadfilex(L, fname, "t") != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env) {
        lua_pushvalue(L, env);
        if (!lua_setupvalue(L, -2, 1))
            lua_pop(L, 1);
    }
    return 1;
}

/* dofile([file]): text only. */
static int g_dofile(lua_State *L)
{
    const char *fname = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (luaL_loadfilex(L, fname, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

/* package.searchers[2], text only: finds name on package.path (package.searchpath) and loads it as Lua's own
 * searcher does. */
static int g_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushvalue(L, 1);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);      /* stack: package file|nil message */
    if (lua_isnil(L, -2))
        return 1;           /* the message: where it looked */
    const char *file = lua_tostring(L, -2);
    if (luaL_loadfilex(L, file, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file, lua_tostring(L, -1));
    lua_pushvalue(L, -3);   /* the file, the loader's second argument */
    return 2;
}

static int g_refused(lua_State *L)
{
    return refuse(L, lua_tostring(L, lua_upvalueindex(1)));
}

/* A function of stdlib/live.lua: its upvalues hold the venue's module and the registry, which would let a strategy
 * send orders with holdings and values of its own past the guards (runtime/lua/venue.c). */
static int live_function(lua_State *L, int idx)
{
    lua_Debug ar;
    if (lua_type(L, idx) != LUA_TFUNCTION || lua_iscfunction(L, idx))
        return 0;
    lua_pushvalue(L, idx);
    return lua_getinfo(L, ">S", &ar) && strcmp(ar.source, "=stdlib/live.lua") == 0;
}

/* debug.getupvalue/setupvalue/upvalueid (f, ...), upvaluejoin (f1, n1, f2, n2): not on C functions, nor on those of
 * stdlib/live.lua. */
static int g_upvalue(lua_State *L)
{
    int join = strcmp(lua_tostring(L, lua_upvalueindex(2)), "debug.upvaluejoin") == 0;
    if (lua_iscfunction(L, 1) || (lua_gettop(L) >= 3 && lua_iscfunction(L, 3) && join))
        return refuse(L, lua_pushfstring(L, "%s on a C function", lua_tostring(L, lua_upvalueindex(2))));
    if (live_function(L, 1) || (join && lua_gettop(L) >= 3 && live_function(L, 3)))
        return refuse(L, lua_pushfstring(L, "%s on a live exchange's function", lua_tostring(L, lua_upvalueindex(2))));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* debug.getinfo([thread,] level [, what]), getlocal([thread,] level, n), setlocal([thread,] level, n, value): not
 * in a frame of stdlib/live.lua (its locals and the function running there, such as the one that sends an order
 * with the holdings it is given, would let a strategy past the guards: a strategy's code runs inside those frames
 * when live.lua calls a metamethod or a global the strategy replaced); setlocal not in a C function's frame either.
 * getinfo is refused only what asks for the function ('f', and the default of everything); its other fields stay.
 * upvalue 1: the original, upvalue 2: its name. */
static int g_frame(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(2));
    int info = strcmp(name, "debug.getinfo") == 0, set = strcmp(name, "debug.setlocal") == 0;
    int arg = lua_isthread(L, 1) ? 1 : 0;
    lua_State *L1 = arg ? lua_tothread(L, 1) : L;
    if (lua_type(L, arg + 1) == LUA_TNUMBER) {      /* a level; getinfo and getlocal also take a function */
        lua_Debug ar;
        lua_Integer level = luaL_checkinteger(L, arg + 1);
        if (level >= 0 && level < 1000000 && lua_getstack(L1, (int)level, &ar) && lua_getinfo(L1, "S", &ar)) {
            int asks_f = !info || !lua_isstring(L, arg + 2) || strchr(lua_tostring(L, arg + 2), 'f');
            if (strcmp(ar.source, "=stdlib/live.lua") == 0 && asks_f)
                return refuse(L, lua_pushfstring(L, "%s in a live exchange's frame", name));
            if (set && strcmp(ar.what, "C") == 0)
                return refuse(L, "debug.setlocal in a C function's frame");
        }
        if (L1 == L) {      /* the original runs one level deeper than this function */
            lua_pushinteger(L, level + 1);
            lua_replace(L, arg + 1);
        }
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Replaces t[name] (t at index t) with f, given the original as upvalue 1 and shown as upvalue 2. */
static void wrap(lua_State *L, int t, const char *name, const char *shown, lua_CFunction f)
{
    t = lua_absindex(L, t);
    lua_getfield(L, t, name);
    lua_pushstring(L, shown);
    lua_pushcclosure(L, f, 2);
    lua_setfield(L, t, name);
}

int luaopen_guard(lua_State *L)
{
    lua_pushglobaltable(L);
    wrap(L, -1, "load", "load", g_load);
    lua_pushcfunction(L, g_loadfile);
    lua_setfield(L, -2, "loadfile");
    lua_pushcfunction(L, g_dofile);
    lua_setfield(L, -2, "dofile");
    lua_pop(L, 1);

    lua_getglobal(L, "package");
    if (lua_getfield(L, -1, "searchers") == LUA_TTABLE) {
        lua_pushcfunction(L, g_searcher);
        lua_rawseti(L, -2, 2);
    }
    lua_pop(L, 2);

    if (lua_getglobal(L, "debug") == LUA_TTABLE) {
        static const char *const refused[] = {"getregistry", "sethook"};
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
            lua_pushfstring(L, "debug.%s", refused[i]);
            lua_pushcclosure(L, g_refused, 1);
            lua_setfield(L, -2, refused[i]);
        }
        static const char *const upv[] = {"getupvalue", "setupvalue", "upvalueid", "upvaluejoin"};
        for (size_t i = 0; i < sizeof upv / sizeof upv[0]; i++) {
            lua_pushfstring(L, "debug.%s", upv[i]);
            wrap(L, -2, upv[i], lua_tostring(L, -1), g_upvalue);
            lua_pop(L, 1);
        }
        wrap(L, -1, "setlocal", "debug.setlocal", g_frame);
        wrap(L, -1, "getlocal", "debug.getlocal", g_frame);
        wrap(L, -1, "getinfo", "debug.getinfo", g_frame);
    }
    lua_pop(L, 1);
    return 0;
}
