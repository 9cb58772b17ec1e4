/* fuzz_util.c: the helpers every fuzz target shares (fuzz.h). */
#include "fuzz.h"
#include "data/json.h"
#include "lua/api.h"

#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\nFUZZ CHECK FAILED at %s:%d: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    __builtin_trap();
}

/* ---- scratch files ---- */

static char scratch[4][512], scratch_suffix[4][32];
static int nscratch;

static void remove_scratch(void)
{
    for (int i = 0; i < nscratch; i++)
        unlink(scratch[i]);
}

const char *fuzz_scratch_path(const char *suffix)
{
    for (int i = 0; i < nscratch; i++)
        if (strcmp(scratch_suffix[i], suffix) == 0)
            return scratch[i];
    FUZZ_CHECK(nscratch < 4 && strlen(suffix) < sizeof scratch_suffix[0], "too many scratch files");
    const char *dir = getenv("TMPDIR");
    char *p = scratch[nscratch];
    snprintf(p, sizeof scratch[0], "%s/stratrun-fuzz-XXXXXX%s", dir && *dir ? dir : "/tmp", suffix);
    int fd = mkstemps(p, (int)strlen(suffix));
    FUZZ_CHECK(fd >= 0, "cannot create a scratch file %s", p);
    close(fd);
    strcpy(scratch_suffix[nscratch], suffix);
    if (nscratch++ == 0)
        atexit(remove_scratch);
    return p;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "cannot open %s", path);
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        FUZZ_CHECK(w > 0, "cannot write %s", path);
        data += w;
        n -= (size_t)w;
    }
    close(fd);
}

/* ---- Lua states ---- */

struct budget {
    size_t used, cap;
    int trap;
};

/* Each block carries 8 canary bytes after its end. Lua itself is not instrumented, so a write past a block (the
 * Lua stack overrun by pushes without lua_checkstack, typically) would go unseen by ASan: the canary is checked
 * whenever Lua frees or moves the block. */
static const char canary[8] = {'\xde', '\xad', 'C', 'A', 'N', 'A', 'R', 'Y'};

static void check_canary(const void *ptr, size_t size)
{
    FUZZ_CHECK(memcmp((const char *)ptr + size, canary, sizeof canary) == 0,
               "something wrote past the end of a Lua block of %zu bytes (the Lua stack pushed past its size without "
               "lua_checkstack?)", size);
}

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct budget *b = ud;
    if (ptr == NULL)
        osize = 0;
    else
        check_canary(ptr, osize);
    if (nsize == 0) {
        free(ptr);
        b->used -= osize;
        return NULL;
    }
    if (nsize > osize && b->used + (nsize - osize) > b->cap) {
        FUZZ_CHECK(!b->trap, "Lua memory above %zu bytes (%zu in use, %zu more asked for)", b->cap, b->used,
                   nsize - osize);
        return NULL;
    }
    char *np = realloc(ptr, nsize + sizeof canary);
    if (np == NULL)
        return NULL;
    memcpy(np + nsize, canary, sizeof canary);
    b->used = b->used - osize + nsize;
    return np;
}

lua_State *fuzz_lua_new(size_t cap, int trap)
{
    struct budget *b = malloc(sizeof *b);
    FUZZ_CHECK(b != NULL, "out of memory");
    b->used = 0;
    b->cap = cap;
    b->trap = trap;
    lua_State *L = lua_newstate(counting_alloc, b);
    FUZZ_CHECK(L != NULL, "lua_newstate failed");
    return L;
}

void fuzz_lua_close(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    lua_close(L);
    free(ud);
}

const void *fuzz_open_json(lua_State *L)
{
    luaL_requiref(L, "json", luaopen_json, 1);
    lua_getfield(L, -1, "array");
    lua_call(L, 0, 1);              /* stack: json marked-table */
    lua_getmetatable(L, -1);
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 3);
    return mt;
}

/* ---- values ---- */

int fuzz_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;      /* the allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        i += len;
    }
    return 1;
}

size_t fuzz_utf8_put(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int fuzz_count_keys(lua_State *L, int t)
{
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

int fuzz_lua_equal(lua_State *L, int a, int b)
{
    a = lua_absindex(L, a);
    b = lua_absindex(L, b);
    int t = lua_type(L, a);
    if (t != lua_type(L, b))
        return 0;
    switch (t) {
    case LUA_TNIL:
        return 1;
    case LUA_TBOOLEAN:
        return lua_toboolean(L, a) == lua_toboolean(L, b);
    case LUA_TNUMBER:
        if (lua_isinteger(L, a) != lua_isinteger(L, b))
            return 0;
        if (lua_isinteger(L, a))
            return lua_tointeger(L, a) == lua_tointeger(L, b);
        double x = lua_tonumber(L, a), y = lua_tonumber(L, b);
        return memcmp(&x, &y, sizeof x) == 0;
    case LUA_TSTRING: {
        size_t n, m;
        const char *s = lua_tolstring(L, a, &n), *r = lua_tolstring(L, b, &m);
        return n == m && memcmp(s, r, n) == 0;
    }
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, a) == lua_touserdata(L, b);
    case LUA_TTABLE: {
        luaL_checkstack(L, 8, "fuzz_lua_equal");
        int ma = lua_getmetatable(L, a) ? 1 : 0, mb = lua_getmetatable(L, b) ? 1 : 0;
        int same_mt = ma == mb && (!ma || lua_rawequal(L, -1, -2));
        lua_pop(L, ma + mb);
        if (!same_mt || fuzz_count_keys(L, a) != fuzz_count_keys(L, b))
            return 0;
        lua_pushnil(L);
        while (lua_next(L, a)) {    /* stack: key value */
            lua_pushvalue(L, -2);
            lua_rawget(L, b);       /* stack: key value value-in-b */
            int eq = fuzz_lua_equal(L, -2, -1);
            lua_pop(L, 2);
            if (!eq) {
                lua_pop(L, 1);
                return 0;
            }
        }
        return 1;
    }
    default:
        return lua_rawequal(L, a, b);
    }
}

const char *fuzz_lua_error(lua_State *L)
{
    const char *m = lua_tostring(L, -1);
    return m ? m : "(an error that is not a string)";
}
