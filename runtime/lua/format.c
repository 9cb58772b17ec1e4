/*
 * format.c: _D (timestamps as text) and _N (truncating numbers to a precision), as the hosted platforms have them.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

/* v in decimal, zero-padded to width characters with the sign, as snprintf's "%0*d" writes it (a third of _D's
 * time went to snprintf); returns the length. out holds at least 16 characters. */
static size_t zero_pad(char *out, int v, int width)
{
    char digits[12];
    int n = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    for (int z = width - n - (v < 0); z > 0; z--)
        out[len++] = '0';
    while (n)
        out[len++] = digits[--n];
    return len;
}

/* _D([ms [, fmt]]): local time of ms (default: now) in fmt (default "yyyy-MM-dd hh:mm:ss").
 * Tokens: yyyy yy MM dd HH hh (both 24-hour, as on the platform) mm ss SSS; anything else is copied. */
static int f_D(lua_State *L)
{
    int64_t ms;
    if (lua_isnoneornil(L, 1))
        ms = clock_now_ms(bot_of(L));
    else {
        double d = luaL_checknumber(L, 1);
        luaL_argcheck(L, isfinite(d) && fabs(d) < 1e17, 1, "not a timestamp in milliseconds");
        ms = (int64_t)floor(d);
    }
    const char *fmt = luaL_optstring(L, 2, "yyyy-MM-dd hh:mm:ss");
    time_t t = (time_t)clock_floor_s(ms);
    int msec = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return luaL_argerror(L, 1, "timestamp out of range");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char tmp[32];
    for (const char *p = fmt; *p;) {
        struct { const char *tok; int val, width; } toks[] = {
            {"yyyy", tm.tm_year + 1900, 4}, {"SSS", msec, 3}, {"yy", (tm.tm_year + 1900) % 100, 2},
            {"MM", tm.tm_mon + 1, 2}, {"dd", tm.tm_mday, 2}, {"HH", tm.tm_hour, 2}, {"hh", tm.tm_hour, 2},
            {"mm", tm.tm_min, 2}, {"ss", tm.tm_sec, 2},
        };
        size_t i, n = sizeof toks / sizeof toks[0];
        for (i = 0; i < n; i++) {
            size_t tl = strlen(toks[i].tok);
            if (strncmp(p, toks[i].tok, tl) == 0) {
                luaL_addlstring(&b, tmp, zero_pad(tmp, toks[i].val, toks[i].width));
                p += tl;
                break;
            }
        }
        if (i == n)
            luaL_addchar(&b, *p++);
    }
    luaL_pushresult(&b);
    return 1;
}

/* _N(num [, precision = 4]): truncates toward zero to precision decimals (negative: to tens, hundreds, ...).
 * Works on the shortest decimal form of the number, so _N(0.29, 2) is 0.29, not 0.28. Integers stay integers. */
static int f_N(lua_State *L)
{
    lua_Integer prec = luaL_optinteger(L, 2, 4);
    luaL_argcheck(L, prec >= -18 && prec <= 17, 2, "precision must be between -18 and 17");
    if (lua_isinteger(L, 1)) {
        lua_Integer v = lua_tointeger(L, 1);
        if (prec < 0) {
            lua_Integer m = 1;
            for (lua_Integer i = 0; i < -prec; i++)
                m *= 10;
            v -= v % m;     /* C's % truncates toward zero, as _N does */
        }
        lua_pushinteger(L, v);
        return 1;
    }
    double d = luaL_checknumber(L, 1);
    if (!isfinite(d) || d == 0) {
        lua_pushnumber(L, d);
        return 1;
    }
    /* Shortest digits, in scientific form: "d.ddddde±XX". */
    char s[40], digits[24];
    int exp10 = 0, nd = 0;
    for (int p = 14; p <= 17; p++) {
        snprintf(s, sizeof s, "%.*e", p, d);
        if (strtod(s, NULL) == d)
            break;
    }
    const char *q = s + (s[0] == '-');
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    exp10 = atoi(q + 1);
    /* digits d1 d2 ... with d1 at 10^exp10; keep those at or above 10^-prec. */
    long keep = (long)exp10 + 1 + (long)prec;
    if (keep <= 0) {
        lua_pushnumber(L, 0.0);
        return 1;
    }
    if (keep < nd)
        nd = (int)keep;
    char out[48];
    snprintf(out, sizeof out, "%s0.%.*se%d", d < 0 ? "-" : "", nd, digits, exp10 + 1);
    lua_pushnumber(L, strtod(out, NULL));
    return 1;
}

static const luaL_Reg funcs[] = {
    {"_D", f_D},
    {"_N", f_N},
    {NULL, NULL}
};

int luaopen_format(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
