/*
 * platform.c: the platform's process globals: GetCommand (the bot's command queue, core/cmdqueue.c), Version,
 * GetPid.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "lua/log.h"
#include "core/cmdqueue.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

/* GetCommand(): the oldest command queued by `stratrun cmd ID TEXT`, taken off the queue, or nil. Always nil in a
 * replay, as on the platform's backtester. */
static int f_GetCommand(lua_State *L)
{
    struct bot *b = bot_of(L);
    char *cmd, err[4400];
    size_t len;
    if (b->sched && b->sched->virtual_)
        return lua_pushnil(L), 1;
    int rc = cmdq_take(b->dir, &cmd, &len, err, sizeof err);
    if (rc < 0)
        log_write(b, LOG_WARN, err, strlen(err));
    if (rc <= 0)
        return lua_pushnil(L), 1;
    lua_pushlstring(L, cmd, len);
    free(cmd);
    return 1;
}

/* Version(): stratrun's version, "0.1.0". */
static int f_Version(lua_State *L)
{
    lua_pushliteral(L, STRATRUN_VERSION);
    return 1;
}

/* GetPid(): the process's ID, as a string (the platform returns a string). */
static int f_GetPid(lua_State *L)
{
    lua_pushfstring(L, "%d", (int)getpid());
    return 1;
}

static const luaL_Reg funcs[] = {
    {"GetCommand", f_GetCommand},
    {"GetPid", f_GetPid},
    {"Version", f_Version},
    {NULL, NULL}
};

int luaopen_platform(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
