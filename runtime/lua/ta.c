/*
 * ta.c: require "stratrun.ta": the arithmetic of stdlib/ta.lua's TA.MA/TA.SMA, TA.EMA, TA.RSI and TA.MACD in C.
 *
 * stdlib/ta.lua stays the API and the one place its policy is written (warm-up placeholder, NaN, periods, error
 * messages). Each function here takes the arguments of the TA call and either returns exactly what the Lua code
 * returns, or nothing when the call is anything but plain, so that the Lua code runs as before and raises, or
 * handles the unusual case, in its own way. Plain is: r a table without a metatable, read raw, either records
 * (tables whose own Close is a finite number) or finite numbers after leading placeholders; periods nil or
 * integer-valued numbers from 1 to 2^31 - 1.
 *
 * The kernels do the floating-point operations of the Lua kernels (sma, ema, rsi, macd of stdlib/ta.lua) in the
 * same order, each rounded to a double (C11 without extensions compiles with -ffp-contract=off in GCC; the pragma
 * below says it to clang), so the values are the same to the bit; bench/bench_ta.lua checks it as it measures.
 * Integers are read as floats (the Lua code's v * 1.0); RSI's neutral 50 stays the integer the Lua code stores.
 */
#include "lua/api.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include <lauxlib.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define MAX_PERIOD 2147483647
/* RSI's "no movement" marker in the kernel's output (real values are >= 0 or NaN); pushed as the integer 50. */
#define FLAT (-1.0)

/* The working arrays of a call: count arrays of len + 1 doubles (indexed from 1, as the Lua arrays), on the C stack
 * up to STACK_LEN values (10 KiB for MACD's five), else in a userdata left on the Lua stack until the call returns.
 * Each call has its own, so a finalizer or a hook that calls TA while one runs cannot disturb it. */
#define STACK_LEN 256

static double *arrays(lua_State *L, double *local, lua_Integer len, int count)
{
    if (len <= STACK_LEN)
        return local;
    return lua_newuserdatauv(L, ((size_t)len + 1) * (size_t)count * sizeof(double), 0);
}

/* A period argument as stdlib/ta.lua's period() accepts it without raising: nil (the default) or an integer-valued
 * number in 1..MAX_PERIOD. 0 when it is anything else: the Lua code raises. */
static lua_Integer period(lua_State *L, int arg, lua_Integer def)
{
    int t = lua_type(L, arg);
    if (t == LUA_TNONE || t == LUA_TNIL)
        return def;
    if (t != LUA_TNUMBER)
        return 0;
    int isint;
    lua_Integer i = lua_tointegerx(L, arg, &isint);     /* a float converts only when it is integral */
    if (!isint || i < 1 || i > MAX_PERIOD)
        return 0;
    return i;
}

/* The series stdlib/ta.lua's closes() reads from r (argument 1) into xs[s..len]: the Close of each record, or the
 * plain array's values after its leading placeholders. Returns 0 (the Lua code takes over) unless r is plain. */
static int series(lua_State *L, lua_Integer *lenp, lua_Integer *sp, double **xsp, double *local, int count)
{
    if (lua_type(L, 1) != LUA_TTABLE)
        return 0;
    if (lua_getmetatable(L, 1)) {       /* # or r[i] could run a metamethod */
        lua_pop(L, 1);
        return 0;
    }
    lua_Integer len = (lua_Integer)lua_rawlen(L, 1);
    if (len < 0 || (lua_Unsigned)len > (lua_Unsigned)(SIZE_MAX / sizeof(double) / 8))
        return 0;
    double *xs = arrays(L, local, len, count);
    lua_Integer s = 1;
    int first = lua_rawgeti(L, 1, 1);
    lua_pop(L, 1);
    if (first == LUA_TTABLE) {
        lua_pushliteral(L, "Close");
        int key = lua_gettop(L);
        for (lua_Integer i = 1; i <= len; i++) {
            if (lua_rawgeti(L, 1, i) != LUA_TTABLE) {
                lua_pop(L, 2);
                return 0;
            }
            lua_pushvalue(L, key);
            int t = lua_rawget(L, -2);
            double v = lua_tonumber(L, -1);     /* an integer as a float, as the Lua code's v * 1.0 */
            lua_settop(L, key);
            if (t != LUA_TNUMBER || !isfinite(v)) {
                lua_pop(L, 1);
                return 0;
            }
            xs[i] = v;
        }
        lua_pop(L, 1);
    } else {
        for (; s <= len; s++) {         /* leading placeholders: the NaNs before the first real value */
            int t = lua_rawgeti(L, 1, s);
            int nan = t == LUA_TNUMBER && !lua_isinteger(L, -1) && isnan(lua_tonumber(L, -1));
            lua_pop(L, 1);
            if (!nan)
                break;
        }
        for (lua_Integer i = s; i <= len; i++) {
            int t = lua_rawgeti(L, 1, i);
            double v = lua_tonumber(L, -1);
            lua_pop(L, 1);
            if (t != LUA_TNUMBER || !isfinite(v))
                return 0;
            xs[i] = v;
        }
    }
    *lenp = len;
    *sp = s;
    *xsp = xs;
    return 1;
}

/* FLAT as the integer 50 when flat is set (RSI's output), else the number. */
static void push_value(lua_State *L, double v, int flat)
{
    if (flat && v == FLAT)
        lua_pushinteger(L, 50);
    else
        lua_pushnumber(L, v);
}

/* Up to this many values, an array is made by the chunk `return {...}` (the upvalue of every function here) from
 * values on the stack: its SETLIST stores them in one loop, about twice as fast as a lua_rawseti per value. */
#define PACK_MAX 4096

/* A new array of len values: the placeholder before from, out[from..len] from it. */
static void push_array(lua_State *L, const double *out, lua_Integer len, lua_Integer from, int flat)
{
    double none = fabs((double)NAN);
    lua_Integer warm = from - 1 < len ? from - 1 : len;
    if (len <= PACK_MAX && lua_checkstack(L, (int)len + 2)) {
        lua_pushvalue(L, lua_upvalueindex(1));
        for (lua_Integer i = 1; i <= warm; i++)
            lua_pushnumber(L, none);
        for (lua_Integer i = warm + 1; i <= len; i++)
            push_value(L, out[i], flat);
        lua_call(L, (int)len, 1);
        return;
    }
    lua_createtable(L, len > INT_MAX ? INT_MAX : (int)len, 0);
    for (lua_Integer i = 1; i <= warm; i++) {
        lua_pushnumber(L, none);
        lua_rawseti(L, -2, i);
    }
    for (lua_Integer i = warm + 1; i <= len; i++) {
        push_value(L, out[i], flat);
        lua_rawseti(L, -2, i);
    }
}

/* xs[from] + ... + xs[to], added in that order from 0, as stdlib/ta.lua's loops do: sma's seed and recounts, ema's
 * seed. */
static double sum_of(const double *xs, lua_Integer from, lua_Integer to)
{
    double sum = 0;
    for (lua_Integer j = from; j <= to; j++)
        sum = sum + xs[j];
    return sum;
}

/* stdlib/ta.lua's sma: the running sum, recounted every max(n, 128) bars. Returns the first defined index. */
static lua_Integer sma(const double *xs, lua_Integer len, lua_Integer s, lua_Integer n, double *out)
{
    lua_Integer top = s + n - 1;
    if (top > len)
        return top;
    double dn = (double)n;
    double sum = sum_of(xs, s, top);
    out[top] = sum / dn;
    lua_Integer every = n > 128 ? n : 128;
    lua_Integer fresh = every;
    for (lua_Integer i = top + 1; i <= len; i++) {
        fresh = fresh - 1;
        if (fresh == 0) {
            sum = sum_of(xs, i - n + 1, i);
            fresh = every;
        } else {
            sum = sum + xs[i] - xs[i - n];
        }
        out[i] = sum / dn;
    }
    return top;
}

/* stdlib/ta.lua's ema: seeded at s+n-1 with the mean of the first n values, alpha = 2/(n+1). */
static lua_Integer ema(const double *xs, lua_Integer len, lua_Integer s, lua_Integer n, double *out)
{
    lua_Integer top = s + n - 1;
    if (top > len)
        return top;
    double v = sum_of(xs, s, top) / (double)n;
    out[top] = v;
    double a = 2 / (double)(n + 1);
    double b = 1 - a;
    for (lua_Integer i = top + 1; i <= len; i++) {
        v = a * xs[i] + b * v;
        out[i] = v;
    }
    return top;
}

/* stdlib/ta.lua's rsi with TA's flat value (FLAT here, the integer 50 once pushed). */
static double rsi_value(double g, double l)
{
    double t = g + l;
    if (t == 0)
        return FLAT;
    return 100 * g / t;
}

static lua_Integer rsi(const double *xs, lua_Integer len, lua_Integer s, lua_Integer n, double *out)
{
    lua_Integer top = s + n;
    if (top > len)
        return top;
    double dn = (double)n;
    double g = 0, l = 0;
    for (lua_Integer i = s + 1; i <= top; i++) {
        double dv = xs[i] - xs[i - 1];
        if (dv > 0)
            g = g + dv;
        else
            l = l - dv;
    }
    g = g / dn;
    l = l / dn;
    out[top] = rsi_value(g, l);
    double keep = (double)(n - 1);
    for (lua_Integer i = top + 1; i <= len; i++) {
        double dv = xs[i] - xs[i - 1];
        if (dv > 0) {
            g = (g * keep + dv) / dn;
            l = l * keep / dn;
        } else {
            g = g * keep / dn;
            l = (l * keep - dv) / dn;
        }
        out[i] = rsi_value(g, l);
    }
    return top;
}

/* C.sma(r, n), C.ema(r, n), C.rsi(r, n): the output array, or nothing. */
static int one_line(lua_State *L, lua_Integer def,
                    lua_Integer (*kernel)(const double *, lua_Integer, lua_Integer, lua_Integer, double *))
{
    lua_Integer n = period(L, 2, def);
    lua_Integer len, s;
    double *xs, local[2 * (STACK_LEN + 1)];
    if (!n || !series(L, &len, &s, &xs, local, 2))
        return 0;
    double *out = xs + len + 1;
    push_array(L, out, len, kernel(xs, len, s, n, out), kernel == rsi);
    return 1;
}

static int t_sma(lua_State *L) { return one_line(L, 9, sma); }
static int t_ema(lua_State *L) { return one_line(L, 9, ema); }
static int t_rsi(lua_State *L) { return one_line(L, 14, rsi); }

/* C.macd(r, fast, slow, signal): {dif, dea, hist} as stdlib/ta.lua's TA.MACD builds them, or nothing. */
static int t_macd(lua_State *L)
{
    lua_Integer fast = period(L, 2, 12), slow = period(L, 3, 26), signal = period(L, 4, 9);
    lua_Integer len, s;
    double *xs, local[5 * (STACK_LEN + 1)];
    if (!fast || !slow || !signal || !series(L, &len, &s, &xs, local, 5))
        return 0;
    size_t stride = (size_t)len + 1;
    double *fe = xs + stride, *se = fe + stride, *dif = se + stride, *dea = dif + stride;
    ema(xs, len, s, fast, fe);
    ema(xs, len, s, slow, se);
    lua_Integer top = s + (fast > slow ? fast : slow) - 1;
    for (lua_Integer i = top; i <= len; i++)
        dif[i] = fe[i] - se[i];
    lua_Integer top2 = ema(dif, len, top, signal, dea);
    lua_createtable(L, 3, 0);
    push_array(L, dif, len, top, 0);
    lua_rawseti(L, -2, 1);
    push_array(L, dea, len, top2, 0);
    lua_rawseti(L, -2, 2);
    for (lua_Integer i = top2; i <= len; i++)       /* hist, in fe's place: fe is no longer needed */
        fe[i] = dif[i] - dea[i];
    push_array(L, fe, len, top2, 0);
    lua_rawseti(L, -2, 3);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"sma", t_sma},
    {"ema", t_ema},
    {"rsi", t_rsi},
    {"macd", t_macd},
    {NULL, NULL}
};

int luaopen_ta(lua_State *L)
{
    luaL_newlibtable(L, funcs);
    if (luaL_loadstring(L, "return {...}") != LUA_OK)
        return lua_error(L);
    luaL_setfuncs(L, funcs, 1);
    return 1;
}
