/*
 * fuzz_json_decode.c: json_decode (runtime/data/json.c) on arbitrary bytes: channel states, the _G store, config
 * exchange tables and json.decode all go through it.
 *
 * Checked against a reference decoder written here, plainly and apart from the codec (RFC 8259 plus json.h's
 * rules: nesting up to JSON_MAX_DEPTH, valid UTF-8, no lone surrogates, no number that overflows a double):
 *  - the codec accepts exactly what the reference accepts;
 *  - what it returns is what the reference reads: integer or float, the same double to the bit, strings byte for
 *    byte, null members dropped and the last duplicate key winning, null elements as json.null, the json.array
 *    metatable on empty arrays only;
 *  - on failure the stack is as it was and the message names a byte offset within the input;
 *  - what decodes encodes (json_encode), to JSON the reference accepts, that decodes back to an equal value and
 *    encodes again to the same bytes.
 */
#include "fuzz.h"
#include "data/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

_Static_assert(INTMAX_MAX == INT64_MAX, "the reference reads integers with strtoimax");

/* ---- the reference decoder ---- */

typedef struct ref {
    const char *p, *end;
    lua_State *L;           /* NULL: validate only */
    const void *array_mt;
} ref;

static void ref_ws(ref *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int ref_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

/* r->p at '"'. Returns the unescaped bytes (malloc'd, caller frees) and their length, or NULL if invalid. */
static char *ref_string(ref *r, size_t *len)
{
    const char *s = r->p + 1;
    size_t cap = (size_t)(r->end - s) + 1, n = 0;
    char *o = malloc(cap);
    FUZZ_CHECK(o != NULL, "out of memory");
    while (s < r->end) {
        unsigned char c = (unsigned char)*s;
        if (c == '"') {
            r->p = s + 1;
            *len = n;
            return o;
        }
        if (c < 0x20)
            break;
        if (c == '\\') {
            if (r->end - s < 2)
                break;
            char e = s[1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != '\0' && simple != NULL) {
                o[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                s += 2;
                continue;
            }
            unsigned cp, lo;
            if (e != 'u' || r->end - s < 6 || ref_hex4(s + 2, &cp))
                break;
            s += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                break;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (r->end - s < 6 || s[0] != '\\' || s[1] != 'u' || ref_hex4(s + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    break;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            }
            n += fuzz_utf8_put(cp, o + n);
            continue;
        }
        if (c < 0x80) {
            o[n++] = (char)c;
            s++;
            continue;
        }
        size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;   /* the length its lead byte announces */
        if ((size_t)(r->end - s) < k || !fuzz_utf8_valid(s, k))
            break;
        memcpy(o + n, s, k);
        n += k;
        s += k;
    }
    free(o);
    return NULL;
}

/* r->p at '-' or a digit. Validates the number token and, when checking, compares it with the value at idx. */
static int ref_number(ref *r, int idx)
{
    const char *s = r->p, *p = s;
    int is_int = 1;
    if (p < r->end && *p == '-')
        p++;
    if (p >= r->end || *p < '0' || *p > '9')
        return -1;
    if (*p == '0')
        p++;
    else
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
    if (p < r->end && *p == '.') {
        is_int = 0;
        p++;
        if (p >= r->end || *p < '0' || *p > '9')
            return -1;
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        if (p < r->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= r->end || *p < '0' || *p > '9')
            return -1;
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - s);
    char *tok = malloc(n + 1);
    FUZZ_CHECK(tok != NULL, "out of memory");
    memcpy(tok, s, n);
    tok[n] = '\0';
    r->p = p;
    /* Integers that fit in int64 stay integers; strtoimax says exactly when. */
    if (is_int) {
        char *e;
        errno = 0;
        intmax_t v = strtoimax(tok, &e, 10);
        if (errno == 0 && *e == '\0') {   /* intmax_t is int64_t here */
            free(tok);
            if (r->L != NULL) {
                FUZZ_CHECK(lua_isinteger(r->L, idx), "integer %" PRIdMAX " decoded as %s", v, luaL_typename(r->L, idx));
                FUZZ_CHECK(lua_tointeger(r->L, idx) == (lua_Integer)v, "integer %" PRIdMAX " decoded as %lld", v,
                           (long long)lua_tointeger(r->L, idx));
            }
            return 0;
        }
    }
    double d = strtod(tok, NULL);   /* glibc rounds correctly */
    if (isinf(d)) {
        free(tok);
        return -1;                  /* json.h: no number that overflows a double */
    }
    if (r->L != NULL) {
        FUZZ_CHECK(lua_type(r->L, idx) == LUA_TNUMBER && !lua_isinteger(r->L, idx), "number %s decoded as %s", tok,
                   lua_isinteger(r->L, idx) ? "an integer" : luaL_typename(r->L, idx));
        double got = lua_tonumber(r->L, idx);
        FUZZ_CHECK(memcmp(&got, &d, sizeof d) == 0, "number %s decoded as %.17g, strtod reads %.17g", tok, got, d);
    }
    free(tok);
    return 0;
}

static int ref_value(ref *r, int idx, int depth, int in_array);

/* A member of an object seen by the first pass. */
struct member {
    char *key;
    size_t len;
    const char *value;      /* where its value starts */
    int is_null;
};

static void free_members(struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].key);
    free(m);
}

/* r->p at '{'; depth counts it. Validates the whole object first, then checks the table member by member. */
static int ref_object(ref *r, int idx, int depth)
{
    struct member *m = NULL;
    size_t n = 0, cap = 0;
    lua_State *L = r->L;
    r->p++;
    ref_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
    } else {
        for (;;) {
            ref_ws(r);
            if (r->p >= r->end || *r->p != '"')
                goto bad;
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                struct member *nm = realloc(m, cap * sizeof *m);
                FUZZ_CHECK(nm != NULL, "out of memory");
                m = nm;
            }
            if (!(m[n].key = ref_string(r, &m[n].len)))
                goto bad;
            n++;
            ref_ws(r);
            if (r->p >= r->end || *r->p != ':')
                goto bad;
            r->p++;
            ref_ws(r);
            m[n - 1].value = r->p;
            m[n - 1].is_null = r->end - r->p >= 4 && memcmp(r->p, "null", 4) == 0;
            lua_State *keep = r->L;
            r->L = NULL;
            int rc = ref_value(r, 0, depth, 0);
            r->L = keep;
            if (rc)
                goto bad;
            ref_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == '}') {
                r->p++;
                break;
            }
            goto bad;
        }
    }
    if (L != NULL) {
        /* Null members are dropped and a later duplicate replaces an earlier one (a null one deletes it). */
        FUZZ_CHECK(lua_type(L, idx) == LUA_TTABLE, "object decoded as %s", luaL_typename(L, idx));
        FUZZ_CHECK(!lua_getmetatable(L, idx), "a decoded object has a metatable");
        int expected = 0;
        const char *after = r->p;
        for (size_t i = 0; i < n; i++) {
            int last = 1;
            for (size_t j = i + 1; j < n && last; j++)
                last = !(m[j].len == m[i].len && memcmp(m[j].key, m[i].key, m[i].len) == 0);
            if (!last)
                continue;
            lua_pushlstring(L, m[i].key, m[i].len);
            lua_rawget(L, idx);
            if (m[i].is_null) {
                FUZZ_CHECK(lua_isnil(L, -1), "member \"%.*s\" is null, yet the table holds a %s", (int)m[i].len,
                           m[i].key, luaL_typename(L, -1));
            } else {
                expected++;
                r->p = m[i].value;
                FUZZ_CHECK(ref_value(r, lua_gettop(L), depth, 0) == 0, "member \"%.*s\" no longer valid",
                           (int)m[i].len, m[i].key);
            }
            lua_pop(L, 1);
        }
        r->p = after;
        int got = fuzz_count_keys(L, idx);
        FUZZ_CHECK(got == expected, "object with %d distinct non-null members decoded into a table of %d keys",
                   expected, got);
    }
    free_members(m, n);
    return 0;
bad:
    free_members(m, n);
    return -1;
}

/* r->p at '['; depth counts it. */
static int ref_array(ref *r, int idx, int depth)
{
    lua_State *L = r->L;
    lua_Integer n = 0;
    r->p++;
    ref_ws(r);
    if (L != NULL) {
        FUZZ_CHECK(lua_type(L, idx) == LUA_TTABLE, "array decoded as %s", luaL_typename(L, idx));
        luaL_checkstack(L, 4, "ref_array");
    }
    if (r->p < r->end && *r->p == ']') {
        r->p++;
    } else {
        for (;;) {
            n++;
            ref_ws(r);
            if (L != NULL)
                lua_rawgeti(L, idx, n);
            int rc = ref_value(r, L != NULL ? lua_gettop(L) : 0, depth, 1);
            if (L != NULL)
                lua_pop(L, 1);
            if (rc)
                return -1;
            ref_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == ']') {
                r->p++;
                break;
            }
            return -1;
        }
    }
    if (L != NULL) {
        int got = fuzz_count_keys(L, idx);
        FUZZ_CHECK(got == n, "array of %lld elements decoded into a table of %d keys", (long long)n, got);
        int has_mt = lua_getmetatable(L, idx);
        const void *mt = has_mt ? lua_topointer(L, -1) : NULL;
        lua_pop(L, has_mt);
        if (n == 0)
            FUZZ_CHECK(mt == r->array_mt, "an empty array lacks the json.array metatable");
        else
            FUZZ_CHECK(!has_mt, "a non-empty array has a metatable");
    }
    return 0;
}

/* r->p at the value (whitespace skipped). depth: containers around it. null must decode as json.null inside an
 * array, as nil at the top (inside objects the caller checks). */
static int ref_value(ref *r, int idx, int depth, int in_array)
{
    lua_State *L = r->L;
    if (r->p >= r->end)
        return -1;
    switch (*r->p) {
    case '{':
    case '[':
        if (depth + 1 > JSON_MAX_DEPTH)
            return -1;
        return *r->p == '{' ? ref_object(r, idx, depth + 1) : ref_array(r, idx, depth + 1);
    case '"': {
        size_t n;
        char *s = ref_string(r, &n);
        if (!s)
            return -1;
        if (L != NULL) {
            size_t m;
            const char *got = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &m) : NULL;
            FUZZ_CHECK(got != NULL && m == n && memcmp(got, s, n) == 0, "string of %zu bytes decoded wrong (%s)", n,
                       luaL_typename(L, idx));
        }
        free(s);
        return 0;
    }
    case 't':
    case 'f': {
        int t = *r->p == 't';
        const char *lit = t ? "true" : "false";
        size_t k = strlen(lit);
        if ((size_t)(r->end - r->p) < k || memcmp(r->p, lit, k) != 0)
            return -1;
        r->p += k;
        if (L != NULL)
            FUZZ_CHECK(lua_isboolean(L, idx) && lua_toboolean(L, idx) == t, "%s decoded as %s", lit,
                       luaL_typename(L, idx));
        return 0;
    }
    case 'n':
        if (r->end - r->p < 4 || memcmp(r->p, "null", 4) != 0)
            return -1;
        r->p += 4;
        if (L != NULL && in_array)
            FUZZ_CHECK(lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == NULL,
                       "null element decoded as %s, not json.null", luaL_typename(L, idx));
        else if (L != NULL)
            FUZZ_CHECK(lua_isnil(L, idx), "null decoded as %s", luaL_typename(L, idx));
        return 0;
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return ref_number(r, idx);
        return -1;
    }
}

/* Returns 0 if s is one JSON text by the reference; checks the value at idx when L is not NULL. */
static int ref_decode(lua_State *L, int idx, const void *array_mt, const char *s, size_t n)
{
    ref r = {s, s + n, L, array_mt};
    ref_ws(&r);
    if (ref_value(&r, idx, 0, 0))
        return -1;
    ref_ws(&r);
    return r.p == r.end ? 0 : -1;
}

/* ---- the target ---- */

struct input {
    const char *s;
    size_t n;
};

/* Under lua_pcall: a Lua error (only memory errors are allowed to escape the codec) is reported, not a panic. */
static int run(lua_State *L)
{
    const struct input *in = lua_touserdata(L, 1);
    const void *array_mt = lua_touserdata(L, 2);
    lua_settop(L, 0);
    char err[JSON_ERRLEN];
    memset(err, 'x', sizeof err);
    int rc = json_decode(L, in->s, in->n, err, sizeof err);
    int ref_rc = ref_decode(NULL, 0, NULL, in->s, in->n);
    FUZZ_CHECK(rc == ref_rc, "json_decode returned %d, the reference %d (%s)", rc, ref_rc, rc ? err : "accepted");

    if (rc != 0) {
        FUZZ_CHECK(lua_gettop(L) == 0, "a failed decode left %d values on the stack", lua_gettop(L));
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "error message not terminated");
        size_t at;
        FUZZ_CHECK(sscanf(err, "invalid JSON at byte %zu: ", &at) == 1 && at <= in->n && strlen(err) > 24,
                   "message '%s' for %zu bytes", err, in->n);
        /* A short buffer gets a truncated, terminated message; none gets nothing. */
        char small[8] = "abcdefg", none = 'z';
        FUZZ_CHECK(json_decode(L, in->s, in->n, small, sizeof small) == -1 && strlen(small) == 7 &&
                   strncmp(small, err, 7) == 0, "message cut to 8 bytes: '%s'", small);
        FUZZ_CHECK(json_decode(L, in->s, in->n, &none, 0) == -1 && none == 'z', "wrote into a 0-byte buffer");
        FUZZ_CHECK(json_decode(L, in->s, in->n, NULL, 0) == -1 && lua_gettop(L) == 0, "NULL err buffer");
        return 0;
    }
    FUZZ_CHECK(lua_gettop(L) == 1, "a decode left %d values on the stack", lua_gettop(L));
    FUZZ_CHECK(ref_decode(L, 1, array_mt, in->s, in->n) == 0, "the reference no longer accepts its input");

    /* What decodes encodes, and the encoding is a fixpoint. */
    jbuf b1, b2;
    jbuf_init(&b1);
    jbuf_init(&b2);
    FUZZ_CHECK(json_encode(L, 1, &b1, err, sizeof err) == 0, "a decoded value does not encode: %s", err);
    FUZZ_CHECK(lua_gettop(L) == 1, "encode changed the stack");
    FUZZ_CHECK(strlen(b1.p) == b1.len, "encoded JSON holds a NUL byte or is not terminated");
    FUZZ_CHECK(ref_decode(NULL, 0, NULL, b1.p, b1.len) == 0, "the encoder wrote invalid JSON: %s", b1.p);
    FUZZ_CHECK(json_decode(L, b1.p, b1.len, err, sizeof err) == 0, "the encoding does not decode: %s (%s)", err, b1.p);
    FUZZ_CHECK(fuzz_lua_equal(L, 1, 2), "decode(encode(v)) differs from v: %s", b1.p);
    FUZZ_CHECK(json_encode(L, 2, &b2, err, sizeof err) == 0, "re-encode failed: %s", err);
    FUZZ_CHECK(b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0, "encoding is not a fixpoint:\n%s\n%s", b1.p, b2.p);
    jbuf_free(&b1);
    jbuf_free(&b2);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_new(SIZE_MAX, 0);
    const void *array_mt = fuzz_open_json(L);
    struct input in = {(const char *)data, size};
    lua_pushcfunction(L, run);
    lua_pushlightuserdata(L, &in);
    lua_pushlightuserdata(L, (void *)array_mt);
    FUZZ_CHECK(lua_pcall(L, 2, 0, 0) == LUA_OK, "raised: %s", fuzz_lua_error(L));
    fuzz_lua_close(L);
    return 0;
}
