/*
 * store.c: _G, the bot's persistent key-value store, in the hosted platforms' shape. _G stays Lua's global table;
 * a __call metamethod makes it callable:
 *   _G()          the bot's live ID          _G(k)      the stored value, or nil
 *   _G(k, v)      store v (any JSON value)    _G(k, nil) delete k          _G(nil)  delete everything
 * Keys are case-insensitive. The whole store is one JSON object in <bot dir>/store.json, replaced atomically on
 * every write, so a kill -9 at any moment leaves the old store or the new one, never a half-written one.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/fsutil.h"
#include "data/json.h"
#include "lua/log.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define STORE_KEY "stratrun.store"      /* registry: lowercased key -> JSON text of the value */
/* A write that would make store.json larger than STORE_LIMIT is refused; a start reads up to STORE_FILE_MAX, so a
 * store stratrun wrote always loads (and one edited by hand may be somewhat larger). */
#define STORE_LIMIT (32u << 20)
#define STORE_FILE_MAX (64u << 20)
#define STORE_FAIL_KEY "stratrun.store_fail"  /* registry: errno of the failure last logged, while writes fail */

static void store_path(const struct bot *b, char *buf, size_t size)
{
    snprintf(buf, size, "%s/store.json", b->dir);
}

struct key {
    const char *p;
    size_t n;
};

/* Byte order; keys may hold NUL bytes. */
static int cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Writes the registry table to the store file, keys sorted. Returns 0, or -1 with errno set and err (EFBIG: over
 * STORE_LIMIT, nothing written). */
static int persist(lua_State *L, char *err, size_t errlen)
{
    struct bot *b = bot_of(L);
    lua_getfield(L, LUA_REGISTRYINDEX, STORE_KEY);
    int t = lua_gettop(L);
    size_t n = 0, cap = 16;
    struct key *keys = malloc(cap * sizeof *keys);
    for (lua_pushnil(L); keys && lua_next(L, t); lua_pop(L, 1)) {
        if (n == cap) {
            struct key *nk = realloc(keys, (cap *= 2) * sizeof *keys);
            if (!nk) {
                free(keys);
                keys = NULL;
                lua_pop(L, 1);
                break;
            }
            keys = nk;
        }
        keys[n].p = lua_tolstring(L, -2, &keys[n].n);   /* anchored by the table */
        n++;
    }
    if (!keys) {
        lua_pop(L, 2);  /* the key lua_next left, and the table */
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    qsort(keys, n, sizeof *keys, cmp_key);
    jbuf out;
    jbuf_init(&out);
    luaL_Buffer lb;
    luaL_buffinit(L, &lb);
    luaL_addchar(&lb, '{');
    for (size_t i = 0; i < n; i++) {
        char kerr[JSON_ERRLEN];
        out.len = 0;
        lua_pushlstring(L, keys[i].p, keys[i].n);
        json_encode(L, -1, &out, kerr, sizeof kerr);   /* keys were checked as UTF-8 when stored */
        lua_pop(L, 1);
        luaL_addstring(&lb, i ? ",\n" : "\n");
        luaL_addlstring(&lb, out.p, out.len);
        luaL_addchar(&lb, ':');
        lua_pushlstring(L, keys[i].p, keys[i].n);
        lua_rawget(L, t);
        luaL_addvalue(&lb);
    }
    luaL_addstring(&lb, n ? "\n}\n" : "}\n");
    luaL_pushresult(&lb);
    jbuf_free(&out);
    free(keys);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    int rc = -1;
    if (len > STORE_LIMIT) {
        snprintf(err, errlen, "the store would be %zu bytes, over its limit of %u bytes (%u MiB); the previous store "
                 "is kept", len, STORE_LIMIT, STORE_LIMIT >> 20);
        errno = EFBIG;
    } else {
        char path[4200];
        store_path(b, path, sizeof path);
        rc = fs_write_atomic(path, text, len, err, errlen);
    }
    int saved = errno;
    lua_pop(L, 2);
    errno = saved;
    return rc;
}

/* Pushes k lowercased (ASCII letters only, as the platforms do). */
static void push_lower(lua_State *L, const char *k, size_t len)
{
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)tolower((unsigned char)k[i]);
    luaL_pushresultsize(&b, len);
}

/* Pushes the lowercased key at idx; raises on a key that cannot be stored. */
static void push_key(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_error(L, "_G: a key must be a string or a number, not %s", luaL_typename(L, idx));
    size_t len;
    const char *k = lua_tolstring(L, idx, &len);
    if (len == 0 || len > 256)
        luaL_error(L, "_G: a key must be 1 to 256 bytes long (got %d)", (int)len);
    if (!json_utf8_valid(k, len)) {
        /* Show the key with its bytes outside printable ASCII as \xHH. */
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)k[i];
            if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
                luaL_addchar(&b, (char)c);
            } else {
                char hex[5];
                snprintf(hex, sizeof hex, "\\x%02X", c);
                luaL_addstring(&b, hex);
            }
        }
        luaL_pushresult(&b);
        luaL_error(L, "_G: a key must be valid UTF-8, got \"%s\"", lua_tostring(L, -1));
    }
    push_lower(L, k, len);
}

/* _G(...) through the global table's __call: (self, ...) */
static int f_G(lua_State *L)
{
    struct bot *b = bot_of(L);
    int nargs = lua_gettop(L) - 1;
    char err[JSON_ERRLEN + 300];
    int e;
    if (nargs == 0) {
        lua_pushstring(L, b->id);
        return 1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, STORE_KEY);
    int t = lua_gettop(L);
    if (nargs == 1 && lua_isnil(L, 2)) {
        /* _G(nil): clear everything. */
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
        if (persist(L, err, sizeof err) != 0) {
            e = errno;
            lua_pushvalue(L, t);
            lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
            goto failed;
        }
        goto stored;
    }
    push_key(L, 2);
    int key = lua_gettop(L);
    if (nargs == 1) {
        lua_pushvalue(L, key);
        if (lua_rawget(L, t) != LUA_TSTRING)
            return 1;   /* nil */
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        if (json_decode(L, text, len, err, sizeof err) != 0)
            return luaL_error(L, "_G: stored value of '%s' is not JSON: %s", lua_tostring(L, key), err);
        return 1;
    }
    lua_pushvalue(L, key);
    lua_rawget(L, t);   /* the old value, to put back if the write fails */
    int old = lua_gettop(L);
    lua_pushvalue(L, key);
    if (lua_isnil(L, 3)) {
        lua_pushnil(L);
    } else {
        jbuf jb;
        jbuf_init(&jb);
        if (json_encode(L, 3, &jb, err, sizeof err) != 0) {
            jbuf_free(&jb);
            return luaL_error(L, "_G: value for key '%s' is not JSON: %s", lua_tostring(L, key), err);
        }
        lua_pushlstring(L, jb.p, jb.len);
        jbuf_free(&jb);
    }
    lua_rawset(L, t);
    if (persist(L, err, sizeof err) != 0) {
        e = errno;
        lua_pushvalue(L, key);
        lua_pushvalue(L, old);
        lua_rawset(L, t);
        goto failed;
    }
stored:
    /* A disk that failed writes works again: said once. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY) == LUA_TNUMBER && lua_tointeger(L, -1) != EFBIG)
        log_printf(b, LOG_INFO, "_G: the store is written again");
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY);
    lua_pushboolean(L, 1);
    return 1;
failed:
    /* Logged once per condition (a full disk, a read-only one, the size limit); every call still returns it. */
    lua_getfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) != e) {
        log_printf(b, LOG_ERROR, "_G: not stored: %s (said once until a write succeeds)", err);
        lua_pushinteger(L, e);
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY);
    }
    luaL_pushfail(L);
    lua_pushfstring(L, "_G: not stored: %s", err);
    return 2;
}

/* Pushes key k as a message shows it: a JSON string, whole up to 256 bytes; a longer one cut after 40 bytes (at a
 * character's start), followed by "... (N bytes)". */
static void push_shown(lua_State *L, const char *k, size_t n)
{
    size_t cut = n;
    if (cut > 256) {
        cut = 40;
        while (cut > 0 && ((unsigned char)k[cut] & 0xC0) == 0x80)
            cut--;
    }
    jbuf jb;
    jbuf_init(&jb);
    lua_pushlstring(L, k, cut);
    json_encode(L, -1, &jb, NULL, 0);   /* valid UTF-8: it came from the decoder, cut at a character's start */
    lua_pop(L, 1);
    if (cut < n)
        lua_pushfstring(L, "%s... (%d bytes)", jb.p, (int)n);
    else
        lua_pushstring(L, jb.p);
    jbuf_free(&jb);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Logs the strings of the array at idx as warnings, in byte order (lua_next's order differs between runs, and a
 * replay's log must not). */
static void warn_sorted(lua_State *L, struct bot *b, int idx)
{
    size_t n = lua_rawlen(L, idx);
    const char **w = n ? malloc(n * sizeof *w) : NULL;
    if (!w)
        return;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        w[i] = lua_tostring(L, -1);   /* anchored by the array */
        lua_pop(L, 1);
    }
    qsort(w, n, sizeof *w, cmp_cstr);
    for (size_t i = 0; i < n; i++)
        log_printf(b, LOG_WARN, "%s", w[i]);
    free(w);
}

/* Loads store.json into the registry. A store that cannot be read is an open error: the bot does not start, and
 * the file is left as it is for its owner to look at. */
static void load(lua_State *L, struct bot *b)
{
    char path[4200], err[JSON_ERRLEN + 300];
    store_path(b, path, sizeof path);
    lua_newtable(L);
    int t = lua_gettop(L);
    char *text;
    size_t len;
    if (fs_read_all(path, STORE_FILE_MAX, &text, &len, err, sizeof err) != 0) {
        if (errno != ENOENT) {
            lua_pushfstring(L, "cannot read the _G store: %s", err);
            lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.openerror");
        }
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
        return;
    }
    /* Every value may nest JSON_MAX_DEPTH deep inside the store's own object. */
    int rc = json_decode_depth(L, text, len, JSON_MAX_DEPTH + 1, err, sizeof err);
    free(text);
    /* An object, not an array: a decoded array is a sequence, or has the json.array metatable when empty. */
    if (rc == 0 && lua_istable(L, -1)) {
        int array = lua_rawlen(L, -1) > 0 || lua_getmetatable(L, -1);
        if (lua_rawlen(L, -1) == 0 && array)
            lua_pop(L, 1);  /* the metatable */
        if (array) {
            lua_pop(L, 1);
            rc = 1;
        }
    }
    if (rc != 0 || !lua_istable(L, -1)) {
        if (rc == 0)
            lua_pop(L, 1);
        lua_pushfstring(L, "the _G store %s is damaged (%s); move it away to start with an empty store", path,
                        rc < 0 ? err : "not a JSON object");
        lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.openerror");
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
        return;
    }
    /* Keys are lowercased: one written by hand with capitals is reachable. Of keys that differ only in case, the
     * one greatest in byte order wins, which is the all-lowercase one when it is there; the others are warned
     * about, as are keys _G can never read (empty, or longer than 256 bytes), which are kept. */
    int v = lua_gettop(L);
    lua_newtable(L);    /* lowercased key -> the key as written, for those collisions */
    int orig = lua_gettop(L);
    lua_newtable(L);    /* the keys that lost a collision, as written */
    int lost = lua_gettop(L);
    lua_Integer nlost = 0;
    lua_newtable(L);    /* the warnings */
    int warns = lua_gettop(L);
    jbuf jb;
    jbuf_init(&jb);
    for (lua_pushnil(L); lua_next(L, v); lua_pop(L, 1)) {
        jb.len = 0;
        if (lua_type(L, -2) != LUA_TSTRING || json_encode(L, -1, &jb, err, sizeof err) != 0)
            continue;
        size_t kn;
        const char *k = lua_tolstring(L, -2, &kn);
        push_lower(L, k, kn);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, orig) == LUA_TSTRING) {
            size_t on;
            const char *o = lua_tolstring(L, -1, &on);
            struct key a = {k, kn}, b2 = {o, on};
            int loses = cmp_key(&a, &b2) < 0;
            lua_pushvalue(L, loses ? -4 : -1);    /* the key as written that loses */
            lua_rawseti(L, lost, ++nlost);
            if (loses) {
                lua_pop(L, 2);
                continue;
            }
        }
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushvalue(L, -4);   /* the key as written */
        lua_rawset(L, orig);
        lua_pushlstring(L, jb.p, jb.len);
        lua_rawset(L, t);
    }
    jbuf_free(&jb);
    for (lua_Integer i = 1; i <= nlost; i++) {
        size_t kn;
        const char *k = (lua_rawgeti(L, lost, i), lua_tolstring(L, -1, &kn));
        push_shown(L, k, kn);
        push_lower(L, k, kn);
        lua_rawget(L, orig);
        k = lua_tolstring(L, -1, &kn);
        push_shown(L, k, kn);
        lua_pushfstring(L, "_G store %s: key %s is left out: the same key in another case, %s, wins; the next write "
                        "of the store drops it", path, lua_tostring(L, -3), lua_tostring(L, -1));
        lua_rawseti(L, warns, (lua_Integer)lua_rawlen(L, warns) + 1);
        lua_pop(L, 4);
    }
    for (lua_pushnil(L); lua_next(L, orig); lua_pop(L, 1)) {    /* the keys kept, as written */
        size_t kn;
        const char *k = lua_tolstring(L, -1, &kn);
        if (kn > 0 && kn <= 256)
            continue;
        push_shown(L, k, kn);
        lua_pushfstring(L, "_G store %s: key %s can never be read: keys are 1 to 256 bytes long; it is kept", path,
                        lua_tostring(L, -1));
        lua_rawseti(L, warns, (lua_Integer)lua_rawlen(L, warns) + 1);
        lua_pop(L, 1);
    }
    warn_sorted(L, b, warns);
    lua_pop(L, 4);
    lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
}

int luaopen_store(lua_State *L)
{
    load(L, bot_of(L));
    lua_pushglobaltable(L);
    lua_newtable(L);
    lua_pushcfunction(L, f_G);
    lua_setfield(L, -2, "__call");
    lua_setmetatable(L, -2);
    return 1;
}
