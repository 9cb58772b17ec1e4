/*
 * files.c: the Lua module `stratrun.files` (require "stratrun.files"): the primitives stdlib modules keep their
 * files in the bot's folder with: the paper account (account.json, stdlib/exchange.lua) and the chart
 * (chart.jsonl, stdlib/chart.lua). The modules own their formats and policies; this one only reads a file, replaces
 * it atomically (fs_write_atomic, as the _G store: a kill -9 at any moment leaves the old file or the new one) and
 * appends whole lines (fs_append_file, as LogProfit: each with one write(2), or nothing).
 *
 * A name is a plain file name ("account.json"): no '/', not starting with '.', so nothing outside the folder is
 * reached; the files the host writes itself (lock, log.txt, store.json, status.*, profit.csv) are read only. A failure of the disk returns nil, a message and errno, as Lua's io library does: the caller decides what
 * to say.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

static const char *bot_file(lua_State *L, char *path, size_t size)
{
    const char *name = luaL_checkstring(L, 1);
    if (!*name || name[0] == '.' || strchr(name, '/'))
        luaL_error(L, "stratrun.files: '%s' is not a plain file name", name);
    snprintf(path, size, "%s/%s", bot_of(L)->dir, name);
    return path;
}

static int io_result(lua_State *L, int rc, const char *err)
{
    if (rc == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    int e = errno;
    luaL_pushfail(L);
    lua_pushstring(L, err);
    lua_pushinteger(L, e);
    return 3;
}

/* files.path(name) -> the file's path */
static int f_path(lua_State *L)
{
    char path[4200];
    lua_pushstring(L, bot_file(L, path, sizeof path));
    return 1;
}

/* files.read(name, max) -> the file's text; nil when there is none; nil, message, errno when it cannot be read (a
 * file of more than max bytes: EFBIG, without reading it) */
static int f_read(lua_State *L)
{
    char path[4200], err[4400];
    bot_file(L, path, sizeof path);
    lua_Integer max = luaL_checkinteger(L, 2);
    char *text;
    size_t len;
    if (fs_read_all(path, max > 0 ? (size_t)max : 0, &text, &len, err, sizeof err) != 0) {
        if (errno == ENOENT) {
            luaL_pushfail(L);
            return 1;
        }
        return io_result(L, -1, err);
    }
    lua_pushlstring(L, text, len);
    free(text);
    return 1;
}

/* The files of the bot's folder the host writes itself (README "Data dir"): a strategy that replaced one would
 * fool the tools and the dashboard (a lock naming another process, a status.json of its own making). */
static int host_file(const char *name)
{
    static const char *const names[] = {"lock", "log.txt", "store.json", "status.txt", "status.json", "profit.csv",
                                        "commands", NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return strncmp(name, "log.txt.", 8) == 0;   /* the rotated logs */
}

/* files.replace(name, text) / files.append(name, lines) -> true, or nil, message, errno (nothing changed) */
static int write_file(lua_State *L, int replace)
{
    char path[4200], err[4400];
    size_t len;
    bot_file(L, path, sizeof path);
    const char *name = lua_tostring(L, 1);
    if (host_file(name))
        return luaL_error(L, "stratrun.files: '%s' is written by stratrun itself (the bot's folder's own files: "
                          "lock, log.txt, store.json, status.txt, status.json, profit.csv, commands); choose another "
                          "name", name);
    const char *text = luaL_checklstring(L, 2, &len);
    int rc = replace ? fs_write_atomic(path, text, len, err, sizeof err)
                     : fs_append_file(path, text, len, err, sizeof err);
    return io_result(L, rc, err);
}

static int f_replace(lua_State *L)
{
    return write_file(L, 1);
}

static int f_append(lua_State *L)
{
    return write_file(L, 0);
}

static const luaL_Reg funcs[] = {
    {"append", f_append},
    {"path", f_path},
    {"read", f_read},
    {"replace", f_replace},
    {NULL, NULL}
};

int luaopen_files(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
