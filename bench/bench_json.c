/*
 * bench_json.c: times the JSON codec on a representative channel state (~250 bytes, ~10 fields) and compares
 * with lua-cjson in the same process. Prints median and p99 per call; asserts nothing about time.
 *
 * Usage: bench_json [samples]   (default 200000 timed calls per case)
 *
 * Each sample is one call timed with clock_gettime(CLOCK_MONOTONIC); the clock's own cost (printed) is
 * included in every figure. Lua's garbage collector runs as it would in the host, so p99 includes its steps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "data/json.h"
#include "lua/api.h"

#define WARMUP 20000

typedef struct stats {
    double median, p99;
} stats;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static stats summarize(double *samples, size_t n)
{
    stats s;
    qsort(samples, n, sizeof *samples, cmp_double);
    s.median = samples[n / 2];
    s.p99 = samples[(size_t)((double)n * 0.99)];
    return s;
}

/* The state a strategy would publish with SetChannelData every tick. */
static const char state_src[] =
    "return {\n"
    "  robotId = 'grid-btc-usdt-7f3a9c21-4e8b-4d6a-9f10-2b7c5e8d1a34',\n"
    "  updateId = 184467,\n"
    "  timestamp = 1732590000123,\n"
    "  symbol = 'BTC_USDT',\n"
    "  exchange = 'binance-spot',\n"
    "  lastPrice = 43125.37,\n"
    "  volume = 1523.40219,\n"
    "  high = 43587.5,\n"
    "  low = 42890.11,\n"
    "  status = 'running: grid 12/20',\n"
    "}\n";

enum { OURS_C, OURS_LUA, CJSON_LUA };

/* stack: expects the state table at index st and, for the Lua cases, the encode function at index fn */
static stats bench_encode(lua_State *L, int kind, int st, int fn, size_t n, double *samples)
{
    jbuf b;
    char err[JSON_ERRLEN];
    size_t i;
    jbuf_init(&b);
    for (i = 0; i < WARMUP + n; i++) {
        double t0 = now_ns(), t1;
        if (kind == OURS_C) {
            b.len = 0;
            if (json_encode(L, st, &b, err, sizeof err) != 0) {
                fprintf(stderr, "json_encode failed: %s\n", err);
                exit(1);
            }
        } else {
            lua_pushvalue(L, fn);
            lua_pushvalue(L, st);
            lua_call(L, 1, 1);
            lua_pop(L, 1);
        }
        t1 = now_ns();
        if (i >= WARMUP)
            samples[i - WARMUP] = t1 - t0;
    }
    jbuf_free(&b);
    return summarize(samples, n);
}

/* stack: the Lua cases take the decode function at index fn */
static stats bench_decode(lua_State *L, int kind, const char *text, size_t len, int fn, size_t n, double *samples)
{
    char err[JSON_ERRLEN];
    size_t i;
    lua_pushlstring(L, text, len);
    for (i = 0; i < WARMUP + n; i++) {
        double t0 = now_ns(), t1;
        if (kind == OURS_C) {
            if (json_decode(L, text, len, err, sizeof err) != 0) {
                fprintf(stderr, "json_decode failed: %s\n", err);
                exit(1);
            }
        } else {
            lua_pushvalue(L, fn);
            lua_pushvalue(L, -2);
            lua_call(L, 1, 1);
        }
        lua_pop(L, 1);
        t1 = now_ns();
        if (i >= WARMUP)
            samples[i - WARMUP] = t1 - t0;
    }
    lua_pop(L, 1);
    return summarize(samples, n);
}

static void row(const char *name, stats s, const stats *ref)
{
    printf("  %-44s %9.0f %9.0f", name, s.median, s.p99);
    if (ref != NULL)
        printf("   %5.2f  %5.2f", s.median / ref->median, s.p99 / ref->p99);
    printf("\n");
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 200000;
    double *samples;
    lua_State *L;
    jbuf text;
    char err[JSON_ERRLEN];
    int st, our_enc, our_dec, have_cjson, cj_enc = 0, cj_dec = 0;
    stats clock_cost, enc_c, enc_l, dec_c, dec_l, cj_e = {0, 0}, cj_d = {0, 0};
    size_t i;

    if (n < 100)
        n = 100;
    samples = malloc(n * sizeof *samples);
    L = luaL_newstate();
    if (samples == NULL || L == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    luaL_openlibs(L);
    luaL_requiref(L, "json", luaopen_json, 1);   /* stack: json */
    lua_getfield(L, -1, "encode");
    our_enc = lua_gettop(L);
    lua_getfield(L, -2, "decode");
    our_dec = lua_gettop(L);
    if (luaL_dostring(L, state_src) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        return 1;
    }
    st = lua_gettop(L);

    jbuf_init(&text);
    if (json_encode(L, st, &text, err, sizeof err) != 0) {
        fprintf(stderr, "json_encode failed: %s\n", err);
        return 1;
    }
    printf("state (%zu bytes): %s\n", text.len, text.p);

    lua_getglobal(L, "require");
    lua_pushstring(L, "cjson");
    have_cjson = lua_pcall(L, 1, 1, 0) == LUA_OK;   /* stack: cjson module or error message */
    if (have_cjson) {
        lua_getfield(L, -1, "encode");
        cj_enc = lua_gettop(L);
        lua_getfield(L, -2, "decode");
        cj_dec = lua_gettop(L);
    } else {
        printf("lua-cjson not loadable (%s): comparison skipped\n", lua_tostring(L, -1));
    }

    for (i = 0; i < n; i++) {
        double t0 = now_ns();
        samples[i] = now_ns() - t0;
    }
    clock_cost = summarize(samples, n);

    enc_c = bench_encode(L, OURS_C, st, 0, n, samples);
    enc_l = bench_encode(L, OURS_LUA, st, our_enc, n, samples);
    dec_c = bench_decode(L, OURS_C, text.p, text.len, 0, n, samples);
    dec_l = bench_decode(L, OURS_LUA, text.p, text.len, our_dec, n, samples);
    if (have_cjson) {
        cj_e = bench_encode(L, CJSON_LUA, st, cj_enc, n, samples);
        cj_d = bench_decode(L, CJSON_LUA, text.p, text.len, cj_dec, n, samples);
    }

    printf("\n%zu timed calls per case; clock_gettime pair costs %.0f ns (median), included below\n\n", n,
           clock_cost.median);
    printf("  %-44s %9s %9s", "ns per call", "median", "p99");
    if (have_cjson)
        printf("   %-13s", "ratio to cjson (median, p99)");
    printf("\n");
    if (have_cjson)
        row("cjson.encode (Lua call, returns string)", cj_e, NULL);
    row("json_encode (C API, into jbuf)", enc_c, have_cjson ? &cj_e : NULL);
    row("json.encode (Lua call, returns string)", enc_l, have_cjson ? &cj_e : NULL);
    if (have_cjson)
        row("cjson.decode (Lua call)", cj_d, NULL);
    row("json_decode (C API, pushes the table)", dec_c, have_cjson ? &cj_d : NULL);
    row("json.decode (Lua call)", dec_l, have_cjson ? &cj_d : NULL);
    if (have_cjson)
        printf("\nNote: cjson writes floats with %%.14g by default, which does not round-trip every double.\n");

    jbuf_free(&text);
    lua_close(L);
    free(samples);
    return 0;
}
