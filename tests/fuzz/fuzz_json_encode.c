/*
 * fuzz_json_encode.c: json_encode (runtime/data/json.c) of Lua values built from the fuzz bytes: nested tables,
 * sequences and sparse arrays, integer, float, boolean and odd keys, integers and floats of every bit pattern
 * (NaN, infinities, -0.0, subnormals), strings of arbitrary bytes (invalid UTF-8, NUL, controls), json.null,
 * json.array / json.object marks, foreign metatables whose metamethods raise, weak tables, functions, userdata,
 * threads, shared subtables, cycles and nesting past JSON_MAX_DEPTH.
 *
 * Checked:
 *  - it never raises and never crashes; the stack is left as it was;
 *  - it succeeds exactly when json.h says it must (a model of the rules, written here), and then
 *      the text is JSON (json_decode accepts it), it ends in a NUL, what the buffer held before is kept,
 *      it decodes back to the value as JSON can carry it (integers stay integers, floats keep every bit, null
 *      members vanish, sparse tables become objects with decimal keys, an integer and a string key with the
 *      same text both written with the string one winning), and a second round trip is a fixpoint;
 *  - otherwise it fails with a message: not empty, terminated, valid UTF-8, cut to the buffer it was given, and
 *    the output buffer is back to what it held.
 */
#include "fuzz.h"
#include "data/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* ---- reading the fuzz bytes ---- */

typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

static unsigned u8(src *s)
{
    if (s->n == 0)
        return 0;
    s->n--;
    return *s->p++;
}

static uint64_t u64(src *s)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | u8(s);
    return v;
}

/* ---- building a value ---- */

#define MAX_NODES 4000      /* values created per input */
#define MAX_EXPANDED 40000  /* values the encoder may visit, counting a shared table once per reference */
#define MAX_NEST 40         /* deeper than JSON_MAX_DEPTH on purpose */

typedef struct gen {
    lua_State *L;
    src in;
    int pool;               /* stack index of a table holding every finished table (pool[i]), to share */
    int npool;
    int anchor, nanchor;    /* a table holding every collectable value made, so weak tables lose nothing */
    long expanded[512];     /* values in pool[i+1] once its shared references are expanded */
    int open[MAX_NEST + 2]; /* stack indices of the tables being filled, outermost first */
    int nopen;
    long nodes, budget;     /* created so far; what the encoder will visit, bounded by MAX_EXPANDED */
} gen;

static const lua_Integer special_ints[] = {
    0, 1, -1, 2, 31, 32, 33, 64, 100, LUA_MAXINTEGER, LUA_MININTEGER, LUA_MAXINTEGER - 1, LUA_MININTEGER + 1,
    (lua_Integer)1 << 53, ((lua_Integer)1 << 53) + 1, -((lua_Integer)1 << 53) - 1, 1700000000000, 999999999999999999,
};

static double special_float(unsigned k)
{
    static const double v[] = {
        0.0, -0.0, 0.1, 5.0, -5.0, 1e300, 1e-300, 2.2250738585072014e-308, 4.9e-324, 1.7976931348623157e308,
        9007199254740992.0, 9007199254740993.0, 9223372036854775808.0, 1e15, 1e16, 1e-4, 1e-5, 0.30000000000000004,
        123456789012345678.0, 1.5, 43000.25,
    };
    if (k == 0)
        return NAN;
    if (k == 1)
        return INFINITY;
    if (k == 2)
        return -INFINITY;
    return v[(k - 3) % (sizeof v / sizeof v[0])];
}

/* Code points that stress escaping and UTF-8 boundaries. */
static const unsigned code_points[] = {
    0x00, 0x01, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x1F, 0x20, '"', '\\', '/', 'a', 'Z', '0', 0x7F, 0x80, 0xFF,
    0x7FF, 0x800, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF, 0x2028, 0xE9, 0x4E2D, 0x1F600,
};

static void push_string(gen *g)
{
    unsigned kind = u8(&g->in), len = u8(&g->in) % 48;
    luaL_Buffer b;
    luaL_buffinit(g->L, &b);
    for (unsigned i = 0; i < len; i++) {
        if (kind & 1) {     /* arbitrary bytes: often invalid UTF-8 */
            luaL_addchar(&b, (char)u8(&g->in));
        } else {            /* well-formed UTF-8 */
            unsigned cp = code_points[u8(&g->in) % (sizeof code_points / sizeof code_points[0])];
            char o[4];
            luaL_addlstring(&b, o, fuzz_utf8_put(cp, o));
        }
    }
    luaL_pushresult(&b);
}

static int raise_error(lua_State *L)
{
    return luaL_error(L, "a metamethod was called: the encoder must use raw access");
}

static int a_function(lua_State *L)
{
    (void)L;
    return 0;
}

static void gen_value(gen *g, int depth);
static void anchor(gen *g);

/* Sets t[key] = value for a key of the kind chosen by the bytes; the value is generated. stack: unchanged */
static void gen_member(gen *g, int t, int depth, lua_Integer *next_index)
{
    lua_State *L = g->L;
    unsigned kind = u8(&g->in) % 10;
    switch (kind) {
    case 0:
    case 1:
    case 2:
        lua_pushinteger(L, (*next_index)++);    /* the next element of a sequence */
        break;
    case 3:
        push_string(g);
        break;
    case 4:                                     /* short identifier-like keys collide with each other */
        lua_pushfstring(L, "%c", 'a' + (int)(u8(&g->in) % 4));
        break;
    case 5:
        lua_pushinteger(L, special_ints[u8(&g->in) % (sizeof special_ints / sizeof special_ints[0])]);
        break;
    case 6:
        lua_pushinteger(L, (lua_Integer)(int8_t)u8(&g->in));
        break;
    case 7:                                     /* "1", "2"...: the same text as an integer key */
        lua_pushfstring(L, "%d", (int)(u8(&g->in) % 4));
        break;
    case 8: {                                   /* floats: integral ones become integer keys, others are refused */
        double d = special_float(u8(&g->in)) + (u8(&g->in) & 1 ? 0.5 : 0.0);
        if (isnan(d))
            d = 2.5;
        lua_pushnumber(L, d);
        break;
    }
    default: {                                  /* keys JSON cannot have */
        unsigned k = u8(&g->in) % 3;
        if (k == 0)
            lua_pushboolean(L, 1);
        else if (k == 1)
            lua_newtable(L);
        else
            lua_pushcfunction(L, a_function);
        break;
    }
    }
    anchor(g);
    gen_value(g, depth);
    lua_rawset(L, t);
}

/* Pushes a new table with members from the bytes, possibly marked or with another metatable. */
static void gen_table(gen *g, int depth)
{
    lua_State *L = g->L;
    unsigned shape = u8(&g->in), n = u8(&g->in);
    n = (shape & 0x1e) == 0x10 ? 30 + n % 50 : n % 12;   /* past 32 members, enc_object_large sorts */
    lua_Integer next_index = 1;
    lua_newtable(L);
    int t = lua_gettop(L);
    g->open[g->nopen++] = t;
    long before = g->budget;
    for (unsigned i = 0; i < n && g->nodes < MAX_NODES; i++) {
        if (shape & 1) {                        /* a plain sequence */
            lua_pushinteger(L, next_index++);
            gen_value(g, depth + 1);
            lua_rawset(L, t);
        } else {
            gen_member(g, t, depth + 1, &next_index);
        }
    }
    g->nopen--;
    switch (shape >> 5) {
    case 1:
    case 2: {                                   /* json.array / json.object */
        lua_getglobal(L, "json");
        lua_getfield(L, -1, shape >> 5 == 1 ? "array" : "object");
        lua_pushvalue(L, t);
        lua_call(L, 1, 0);
        lua_pop(L, 1);
        break;
    }
    case 3: {                                   /* metamethods that must never run */
        lua_createtable(L, 0, 4);
        const char *names[] = {"__index", "__newindex", "__len", "__pairs", "__tostring"};
        for (int i = 0; i < 5; i++) {
            lua_pushcfunction(L, raise_error);
            lua_setfield(L, -2, names[i]);
        }
        lua_setmetatable(L, t);
        break;
    }
    case 4:                                     /* weak: everything in it is also anchored, so nothing goes */
        lua_createtable(L, 0, 1);
        lua_pushstring(L, shape & 2 ? "k" : "kv");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, t);
        break;
    default:
        break;
    }
    if (g->npool < (int)(sizeof g->expanded / sizeof g->expanded[0])) {
        g->expanded[g->npool++] = g->budget - before + 1;
        lua_pushvalue(L, t);
        lua_rawseti(L, g->pool, g->npool);
    }
}

/* Keeps the value on top alive whatever weak tables hold it. */
static void anchor(gen *g)
{
    int t = lua_type(g->L, -1);
    if (t == LUA_TTABLE || t == LUA_TUSERDATA || t == LUA_TTHREAD || t == LUA_TFUNCTION) {
        lua_pushvalue(g->L, -1);
        lua_rawseti(g->L, g->anchor, ++g->nanchor);
    }
}

static void gen_value_(gen *g, int depth);

/* Pushes a value chosen by the bytes. depth: tables around it. */
static void gen_value(gen *g, int depth)
{
    gen_value_(g, depth);
    anchor(g);
}

static void gen_value_(gen *g, int depth)
{
    lua_State *L = g->L;
    luaL_checkstack(L, 8, "gen_value");
    g->nodes++;
    g->budget++;
    unsigned op = u8(&g->in) % 16;
    if (g->nodes >= MAX_NODES || depth >= MAX_NEST)
        op %= 8;                                /* scalars only */
    switch (op) {
    case 0:
        lua_pushboolean(L, (int)(u8(&g->in) & 1));
        break;
    case 1:
        lua_pushinteger(L, (lua_Integer)(int8_t)u8(&g->in));
        break;
    case 2:
        lua_pushinteger(L, (lua_Integer)u64(&g->in));
        break;
    case 3:
        lua_pushinteger(L, special_ints[u8(&g->in) % (sizeof special_ints / sizeof special_ints[0])]);
        break;
    case 4: {
        uint64_t bits = u64(&g->in);
        double d;
        memcpy(&d, &bits, sizeof d);
        lua_pushnumber(L, d);
        break;
    }
    case 5:
        lua_pushnumber(L, special_float(u8(&g->in) % 24));
        break;
    case 6:
        push_string(g);
        break;
    case 7:
        lua_pushlightuserdata(L, NULL);         /* json.null */
        break;
    case 8:
    case 9:
    case 10:
        gen_table(g, depth);
        break;
    case 11: {                                  /* a chain of single-element tables around a value */
        unsigned k = u8(&g->in) % 40, i;
        luaL_checkstack(L, (int)k + 2, "gen_value");
        for (i = 0; i < k && depth + (int)i < MAX_NEST; i++)
            lua_newtable(L);
        lua_pushstring(L, "core");
        while (i-- > 0) {
            if (u8(&g->in) & 1)
                lua_rawseti(L, -2, 1);
            else
                lua_setfield(L, -2, "x");
        }
        break;
    }
    case 12: {                                  /* a table being filled around this one: a cycle */
        if (g->nopen == 0) {
            lua_pushnil(L);
            break;
        }
        lua_pushvalue(L, g->open[u8(&g->in) % (unsigned)g->nopen]);
        break;
    }
    case 13: {                                  /* a finished table, referenced once more */
        int i = g->npool ? (int)(u8(&g->in) % (unsigned)g->npool) : -1;
        if (i < 0 || g->budget + g->expanded[i] > MAX_EXPANDED) {
            lua_pushnil(L);
            break;
        }
        g->budget += g->expanded[i];
        lua_rawgeti(L, g->pool, i + 1);
        break;
    }
    case 14: {                                  /* what JSON cannot carry */
        unsigned k = u8(&g->in) % 4;
        if (k == 0)
            lua_pushcfunction(L, a_function);
        else if (k == 1)
            lua_newuserdatauv(L, 8, 0);
        else if (k == 2)
            lua_pushlightuserdata(L, g);
        else
            lua_newthread(L);
        break;
    }
    default:
        lua_pushnil(L);
        break;
    }
}

/* ---- the model: what json.h says the encoder must do ---- */

typedef struct model {
    lua_State *L;
    const void *array_mt, *object_mt;
    const void *path[JSON_MAX_DEPTH + 1];
} model;

static int mark_of(model *m, int idx)
{
    if (!lua_getmetatable(m->L, idx))
        return 0;
    const void *mt = lua_topointer(m->L, -1);
    lua_pop(m->L, 1);
    return mt == m->array_mt ? 1 : mt == m->object_mt ? 2 : 0;
}

/* How the table at idx is written: 0 "[]", 1 "{}", 2 an array of *n elements, 3 an object. */
static int table_shape(model *m, int idx, lua_Integer *n)
{
    lua_State *L = m->L;
    lua_Integer count = 0, max = 0;
    int seq = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
            seq = 0;
        else if (lua_tointeger(L, -1) > max)
            max = lua_tointeger(L, -1);
    }
    *n = count;
    if (count == 0)
        return mark_of(m, idx) == 1 ? 0 : 1;
    return seq && count == max && mark_of(m, idx) != 2 ? 2 : 3;
}

/* 1 if the value at idx, reached at level, encodes. */
static int encodable(model *m, int idx, int level)
{
    lua_State *L = m->L;
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TBOOLEAN:
        return 1;
    case LUA_TNUMBER:
        return lua_isinteger(L, idx) || isfinite(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return fuzz_utf8_valid(s, n);
    }
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, idx) == NULL;
    case LUA_TTABLE: {
        const void *t = lua_topointer(L, idx);
        for (int i = 0; i < level; i++)
            if (m->path[i] == t)
                return 0;                       /* a cycle */
        if (level >= JSON_MAX_DEPTH)
            return 0;
        m->path[level] = t;
        lua_Integer n;
        int object = table_shape(m, idx, &n) == 3;
        luaL_checkstack(L, 4, "encodable");
        lua_pushnil(L);
        while (lua_next(L, idx)) {              /* stack: key value */
            int ok = encodable(m, -1, level + 1);
            if (ok && object) {
                if (lua_type(L, -2) == LUA_TSTRING) {
                    size_t kl;
                    const char *k = lua_tolstring(L, -2, &kl);
                    ok = fuzz_utf8_valid(k, kl);
                } else {
                    ok = lua_isinteger(L, -2);
                }
            }
            lua_pop(L, 1);
            if (!ok) {
                lua_pop(L, 1);
                return 0;
            }
        }
        return 1;
    }
    default:
        return 0;
    }
}

static int is_null(lua_State *L, int idx)
{
    return lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == NULL;
}

/* Checks that dec (decoded from the encoding) is orig as JSON carries it. */
static void check_carried(model *m, int orig, int dec, int top_level, int in_array)
{
    lua_State *L = m->L;
    orig = lua_absindex(L, orig);
    dec = lua_absindex(L, dec);
    luaL_checkstack(L, 8, "check_carried");
    if (lua_isnil(L, orig) || is_null(L, orig)) {
        if (in_array)
            FUZZ_CHECK(is_null(L, dec), "null element came back as %s", luaL_typename(L, dec));
        else
            FUZZ_CHECK(top_level && lua_isnil(L, dec), "null came back as %s", luaL_typename(L, dec));
        return;
    }
    if (lua_type(L, orig) != LUA_TTABLE) {
        FUZZ_CHECK(fuzz_lua_equal(L, orig, dec), "a %s came back as a different %s", luaL_typename(L, orig),
                   luaL_typename(L, dec));
        return;
    }
    FUZZ_CHECK(lua_istable(L, dec), "a table came back as %s", luaL_typename(L, dec));
    lua_Integer n;
    int shape = table_shape(m, orig, &n), has_mt = lua_getmetatable(L, dec);
    const void *mt = has_mt ? lua_topointer(L, -1) : NULL;
    lua_pop(L, has_mt);
    lua_Integer dn;
    int dshape = table_shape(m, dec, &dn);
    if (shape == 0 || shape == 1) {
        FUZZ_CHECK(dn == 0, "an empty table came back with %lld keys", (long long)dn);
        FUZZ_CHECK(shape == 0 ? mt == m->array_mt : !has_mt, "an empty table came back with the wrong metatable");
        return;
    }
    if (shape == 2) {
        FUZZ_CHECK(dshape == 2 && dn == n && !has_mt, "an array of %lld came back as shape %d of %lld", (long long)n,
                   dshape, (long long)dn);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, orig, i);
            lua_rawgeti(L, dec, i);
            check_carried(m, -2, -1, 0, 1);
            lua_pop(L, 2);
        }
        return;
    }
    /* An object: members by key text; of an integer and a string key with the same text, the string one is
     * written last and wins; a null value removes the member. */
    FUZZ_CHECK(!has_mt, "a decoded object has a metatable");
    lua_Integer expected = 0;
    lua_pushnil(L);
    while (lua_next(L, orig)) {                 /* stack: key value */
        if (lua_isinteger(L, -2)) {
            lua_pushfstring(L, "%I", lua_tointeger(L, -2));
            lua_pushvalue(L, -1);
            if (lua_rawget(L, orig) != LUA_TNIL) {  /* the string key with this text wins */
                lua_pop(L, 3);
                continue;
            }
            lua_pop(L, 1);                      /* stack: key value text */
        } else {
            lua_pushvalue(L, -2);
        }
        lua_pushvalue(L, -1);
        lua_rawget(L, dec);                     /* stack: key value text decoded */
        if (is_null(L, -3)) {
            FUZZ_CHECK(lua_isnil(L, -1), "a null member came back as %s", luaL_typename(L, -1));
        } else {
            expected++;
            FUZZ_CHECK(!lua_isnil(L, -1), "member \"%s\" is missing", lua_tostring(L, -2));
            check_carried(m, -3, -1, 0, 0);
        }
        lua_pop(L, 3);
    }
    FUZZ_CHECK(dn == expected, "an object of %lld members came back with %lld", (long long)expected, (long long)dn);
}

/* ---- the target ---- */

struct input {
    const uint8_t *data;
    size_t size;
};

static int run(lua_State *L)
{
    const struct input *in = lua_touserdata(L, 1);
    lua_settop(L, 0);
    gen g = {.L = L, .in = {in->data, in->size}};
    model m = {.L = L};
    lua_getglobal(L, "json");
    lua_getfield(L, 1, "array");
    lua_call(L, 0, 1);
    lua_getmetatable(L, -1);
    m.array_mt = lua_topointer(L, -1);
    lua_getfield(L, 1, "object");
    lua_call(L, 0, 1);
    lua_getmetatable(L, -1);
    m.object_mt = lua_topointer(L, -1);
    lua_settop(L, 0);

    /* The output may already hold text; errlen and err are chosen by the bytes too. */
    static const size_t errlens[] = {JSON_ERRLEN, JSON_ERRLEN, JSON_ERRLEN, 0, 1, 2, 4, 5, 8, 13, 40};
    unsigned opts = u8(&g.in);
    size_t errlen = errlens[opts % (sizeof errlens / sizeof errlens[0])];
    int prefill = opts & 0x80 ? 1300 : opts & 0x40 ? 3 : 0;    /* 1300: already past the inline part */

    lua_newtable(L);
    g.pool = lua_gettop(L);
    lua_newtable(L);
    g.anchor = lua_gettop(L);
    gen_value(&g, 0);
    int v = lua_gettop(L);

    char err[JSON_ERRLEN + 1];
    memset(err, '#', sizeof err);
    jbuf out;
    jbuf_init(&out);
    if (prefill > 0) {                          /* a JSON string of prefill bytes: "aaa..." */
        char fill[1300];
        memset(fill, 'a', sizeof fill);
        lua_pushlstring(L, fill, (size_t)prefill - 2);
        FUZZ_CHECK(json_encode(L, -1, &out, NULL, 0) == 0 && out.len == (size_t)prefill, "prefill");
        lua_pop(L, 1);
    }
    char *before = malloc((size_t)prefill + 1);
    FUZZ_CHECK(before != NULL, "out of memory");
    memcpy(before, out.p, (size_t)prefill + 1);

    int want = encodable(&m, v, 0);
    int rc = json_encode(L, v, &out, errlen ? err : NULL, errlen);
    FUZZ_CHECK(lua_gettop(L) == v, "json_encode left the stack at %d, not %d", lua_gettop(L), v);
    FUZZ_CHECK(memcmp(out.p, before, (size_t)prefill) == 0, "json_encode changed what the buffer already held");
    free(before);
    FUZZ_CHECK(out.len < out.cap && out.p[out.len] == '\0', "output not terminated");
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "json_encode returned %d", rc);
        FUZZ_CHECK(!want, "refused a value json.h says encodes: %.*s", (int)errlen, err);
        FUZZ_CHECK(out.len == (size_t)prefill, "a failed encode left %zu bytes, not %d", out.len, prefill);
        if (errlen > 0) {
            size_t n = strnlen(err, errlen);
            FUZZ_CHECK(n < errlen, "message not terminated within %zu bytes", errlen);
            FUZZ_CHECK(err[errlen] == '#', "wrote past the %zu bytes of err", errlen);
            FUZZ_CHECK(n > 0 || errlen < 4, "empty message in %zu bytes", errlen);   /* 4 hold "..." */
            FUZZ_CHECK(fuzz_utf8_valid(err, n), "message is not valid UTF-8: %s", err);
        }
        jbuf_free(&out);
        return 0;
    }
    FUZZ_CHECK(rc == 0 && want, "encoded a value json.h says must be refused: %s", out.p + prefill);
    const char *text = out.p + prefill;
    size_t len = out.len - (size_t)prefill;
    FUZZ_CHECK(strlen(text) == len, "the JSON holds a NUL byte");
    char derr[JSON_ERRLEN];
    FUZZ_CHECK(json_decode(L, text, len, derr, sizeof derr) == 0, "encoded %s, which does not decode: %s", text, derr);
    check_carried(&m, v, -1, 1, 0);

    /* A second round trip changes nothing more. */
    jbuf b2, b3;
    jbuf_init(&b2);
    jbuf_init(&b3);
    FUZZ_CHECK(json_encode(L, -1, &b2, derr, sizeof derr) == 0, "a decoded value does not encode: %s", derr);
    FUZZ_CHECK(json_decode(L, b2.p, b2.len, derr, sizeof derr) == 0, "second decode: %s", derr);
    FUZZ_CHECK(json_encode(L, -1, &b3, derr, sizeof derr) == 0, "third encode: %s", derr);
    FUZZ_CHECK(b2.len == b3.len && memcmp(b2.p, b3.p, b2.len) == 0, "not a fixpoint:\n%s\n%s", b2.p, b3.p);
    jbuf_free(&b2);
    jbuf_free(&b3);
    jbuf_free(&out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_new(SIZE_MAX, 0);
    fuzz_open_json(L);          /* also the global json */
    struct input in = {data, size};
    lua_pushcfunction(L, run);
    lua_pushlightuserdata(L, &in);
    FUZZ_CHECK(lua_pcall(L, 1, 0, 0) == LUA_OK, "raised: %s", fuzz_lua_error(L));
    fuzz_lua_close(L);
    return 0;
}
