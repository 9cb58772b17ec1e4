/*
 * account.c: the Lua module `stratrun.account` (require "stratrun.account"): the file primitives that keep the
 * paper exchange's account (stdlib/exchange.lua) across restarts of a live bot, in <bot dir>/account.json. The
 * exchange owns the format and the policy (what is kept, when it is written, --reset-account); this module only
 * reads the file and replaces it atomically (fs_write_atomic, as the _G store), so a kill -9 at any moment leaves
 * the old account or the new one.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>

#define ACCOUNT_FILE_MAX (64u << 20)

static void account_path(lua_State *L, char *buf, size_t size)
{
    snprintf(buf, size, "%s/account.json", bot_of(L)->dir);
}

/* account.path() -> the file's path */
static int a_path(lua_State *L)
{
    char path[4200];
    account_path(L, path, sizeof path);
    lua_pushstring(L, path);
    return 1;
}

/* account.read() -> the file's text; nil when there is none; nil, message when it cannot be read */
static int a_read(lua_State *L)
{
    char path[4200], err[512];
    char *text;
    size_t len;
    account_path(L, path, sizeof path);
    if (fs_read_all(path, ACCOUNT_FILE_MAX, &text, &len, err, sizeof err) != 0) {
        luaL_pushfail(L);
        if (errno == ENOENT)
            return 1;
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushlstring(L, text, len);
    free(text);
    return 1;
}

/* account.write(text) -> true, or nil, message (the previous file is kept) */
static int a_write(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    char path[4200], err[512];
    account_path(L, path, sizeof path);
    if (fs_write_atomic(path, text, len, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"path", a_path},
    {"read", a_read},
    {"write", a_write},
    {NULL, NULL}
};

int luaopen_account(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
