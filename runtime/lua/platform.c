/*
 * platform.c: the platform's process globals: GetCommand (the bot's command queue, core/cmdqueue.c), Version,
 * GetPid, GetOS, UUID.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "lua/log.h"
#include "core/cmdqueue.h"
#include "core/hex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
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

/* GetOS(): the host's system and machine as Go names them, as the platform's docker reports them: "linux/amd64",
 * "linux/arm64"; other machines as uname(2) gives them. */
static int f_GetOS(lua_State *L)
{
    struct utsname u;
    if (uname(&u) != 0)
        return luaL_error(L, "GetOS: uname failed");
    for (char *p = u.sysname; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *m = strcmp(u.machine, "x86_64") == 0 ? "amd64" : strcmp(u.machine, "aarch64") == 0 ? "arm64"
                  : strcmp(u.machine, "i686") == 0 ? "386" : u.machine;
    lua_pushfstring(L, "%s/%s", u.sysname, m);
    return 1;
}

/* UUID(): a random (version 4) UUID from the kernel's random source, as 32 lower-case hex digits without dashes,
 * the platform's form. */
static int f_UUID(lua_State *L)
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0)
            return luaL_error(L, "UUID: the kernel's random source failed");
        got += (size_t)n;
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);  /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
    char hex[32];
    hex_encode(r, sizeof r, hex);
    lua_pushlstring(L, hex, sizeof hex);
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
    {"GetOS", f_GetOS},
    {"GetPid", f_GetPid},
    {"UUID", f_UUID},
    {"Version", f_Version},
    {NULL, NULL}
};

int luaopen_platform(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
