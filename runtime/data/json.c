/*
 * json.c: the runtime's one JSON codec (see json.h for the contract).
 *
 * Provides jbuf (a growable output buffer with an inline part), json_encode (Lua value -> JSON text),
 * json_decode (JSON text -> Lua value) and json_utf8_valid. The codec works on Lua values (it encodes from a Lua
 * stack and decodes onto one), so it sits in the data layer, above the Lua-free services; it knows no bots. Its
 * Lua-free part, number formatting, is core/numfmt.c; the `json` module that strategies call is lua/ljson.c.
 *
 * Design notes:
 *  - Neither direction raises: errors travel back as return codes, and the entry points reset the Lua stack
 *    to where they found it. Only Lua's own memory errors can escape (lua_createtable, lua_pushlstring...).
 *  - Floats are written by numfmt.c (Schubfach: the shortest decimal that reads back as the same double).
 *  - Decoding numbers uses exact integer parsing for int64 and Clinger's fast path (mantissa <= 2^53,
 *    |exponent| <= 22: one correctly rounded IEEE operation) before falling back to strtod, which glibc rounds
 *    correctly. strtod depends on the locale's decimal point; the host stays in the "C" locale.
 *  - Error offsets in decode messages are 0-based byte offsets into the input.
 *  - Objects are written with their members in a canonical order, so that a value encodes to the same bytes in
 *    every process and run, whatever Lua's per-state hash seed and the table's history do to lua_next's order
 *    (replays promise byte-identical logs). The order: by the bytes of the key text compared as unsigned bytes
 *    (a string key's own bytes, before escaping; an integer key's decimal digits, so "10" < "2" and "-5" < "0"),
 *    a proper prefix first, and of an integer key and a string key with the same text (1 and "1", both written)
 *    the integer one first. Arrays keep their index order. An object of up to OBJ_INLINE (32) members keeps its
 *    keys and values on the Lua stack and sorts a C array by insertion: no malloc (lua_checkstack may grow the Lua
 *    stack, which then stays grown until a collection shrinks it). A larger one is copied into an anchor table
 *    (which keeps the key bytes alive even in a weak table) and sorted with qsort in a userdata (which Lua frees
 *    even if it raises a memory error). Each member carries its key's first 8 bytes as a big-endian integer,
 *    which settles most comparisons without memcmp.
 *  - No mutable static state: several lua_States may encode/decode on different threads at once.
 */
#include "data/json.h"
#include "core/numfmt.h"
#include "core/utf8.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* Registry keys (their addresses) of the shared metatables behind json.array / json.object. */
static const char array_mt_key = 'a';
static const char object_mt_key = 'o';

/* ------------------------------------------------------------------------------------------------------ */
/* jbuf                                                                                                    */

void jbuf_init(jbuf *b)
{
    b->p = b->inline_;
    b->len = 0;
    b->cap = sizeof b->inline_;
    b->failed = 0;
    b->p[0] = '\0';
}

void jbuf_free(jbuf *b)
{
    if (b->p != b->inline_)
        free(b->p);
    jbuf_init(b);
}

/* Makes room for n more bytes plus a terminating NUL. Returns 0, or -1 if memory is exhausted. */
static int jbuf_grow(jbuf *b, size_t n)
{
    size_t want, cap;
    char *np;
    if (n > SIZE_MAX / 4 - b->len)
        return -1;
    want = b->len + n + 1;
    cap = b->cap * 2;
    if (cap < want)
        cap = want;
    if (b->p == b->inline_) {
        np = malloc(cap);
        if (np == NULL)
            return -1;
        memcpy(np, b->p, b->len);
    } else {
        np = realloc(b->p, cap);
        if (np == NULL)
            return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

/* Returns where n bytes can be written (one more stays free for the NUL), or NULL if memory is exhausted. */
static inline char *jbuf_reserve(jbuf *b, size_t n)
{
    if (b->cap - b->len <= n && jbuf_grow(b, n) != 0) {
        b->failed = 1;
        return NULL;
    }
    return b->p + b->len;
}

int jbuf_add(jbuf *b, const void *p, size_t n)
{
    char *at = jbuf_reserve(b, n);
    if (!at)
        return -1;
    memcpy(at, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Integers (numfmt.c writes the digits, and doubles)                                                      */

static size_t fmt_i64(lua_Integer v, char *buf)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + fmt_u64(0 - (uint64_t)v, buf + 1);   /* unsigned negation: exact for LUA_MININTEGER */
    }
    return fmt_u64((uint64_t)v, buf);
}

/* ------------------------------------------------------------------------------------------------------ */
/* UTF-8 and byte classes                                                                                  */

int json_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_len((const unsigned char *)s + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x

/* Encoder classes: 0 copied as is, 1 escaped, 2 starts a multi-byte sequence (validated, then copied). */
static const unsigned char enc_class[256] = {
    R16(1), R16(1),
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 0x22 " */
    R16(0), R16(0),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,   /* 0x5C \ */
    R16(0), R16(0),
    R16(2), R16(2), R16(2), R16(2), R16(2), R16(2), R16(2), R16(2),
};

/* Decoder classes inside strings: 0 plain, 1 closing quote, 2 backslash, 3 control character, 4 non-ASCII. */
static const unsigned char dec_class[256] = {
    R16(3), R16(3),
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    R16(0), R16(0),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    R16(0), R16(0),
    R16(4), R16(4), R16(4), R16(4), R16(4), R16(4), R16(4), R16(4),
};

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* True if none of the 8 bytes at s is a control character, '"', '\\' or non-ASCII (class 0 in both tables).
 * (x - n*ONES) & ~x & HIGHS is nonzero exactly when some byte of x is below n (n <= 0x80). */
static inline int word_is_plain(const char *s)
{
    uint64_t w, q, b;
    memcpy(&w, s, sizeof w);
    q = w ^ (ONES * 0x22);
    b = w ^ (ONES * 0x5C);
    return ((((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | w) & HIGHS) == 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Shared metatables                                                                                       */

/* stack: pushes the metatable registered under key, creating it on first use */
static void push_mark_mt(lua_State *L, const void *key)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 0);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, key);
    }
}

/* ------------------------------------------------------------------------------------------------------ */
/* Encoder                                                                                                 */

typedef struct pathseg {
    const char *key;   /* NULL: the segment is an integer index; else a string key living on the Lua stack */
    size_t keylen;
    lua_Integer index;
} pathseg;

typedef struct enc {
    lua_State *L;
    jbuf *out;
    char *err;
    size_t errlen;
    int mts_loaded;
    const void *array_mt, *object_mt;
    const void *tables[JSON_MAX_DEPTH + 1];   /* tables[l]: the table open at level l (for cycle detection) */
    pathseg path[JSON_MAX_DEPTH + 2];         /* path[l]: how the value at level l was reached (l >= 1) */
} enc;

/* A bounded string appender for error messages; cuts at a UTF-8 boundary and marks the cut with "...". */
typedef struct msgbuf {
    char *p;
    size_t cap, len;
    int full;
} msgbuf;

static void msg_put(msgbuf *m, const char *s, size_t n)
{
    size_t room;
    if (m->full || m->cap == 0)
        return;
    room = m->cap - 1 - m->len;
    if (n <= room) {
        memcpy(m->p + m->len, s, n);
        m->len += n;
        m->p[m->len] = '\0';
        return;
    }
    m->full = 1;
    memcpy(m->p + m->len, s, room);
    m->len += room;
    m->len = m->len >= 3 ? m->len - 3 : 0;
    while (m->len > 0 && ((unsigned char)m->p[m->len] & 0xC0) == 0x80)   /* don't split a character */
        m->len--;
    if (m->len + 3 <= m->cap - 1) {
        memcpy(m->p + m->len, "...", 3);
        m->len += 3;
    }
    m->p[m->len] = '\0';
}

static int is_identifier(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Writes a key for display inside ["..."], at most 48 bytes of it, keeping the message valid UTF-8. */
static void msg_put_key(msgbuf *m, const char *s, size_t n)
{
    size_t i = 0, shown = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t l = 1;
        if (shown >= 48) {
            msg_put(m, "...", 3);
            return;
        }
        if (c >= 0x80) {
            l = utf8_len((const unsigned char *)s + i, n - i);
            if (l == 0) {
                msg_put(m, "?", 1);
                l = 1;
            } else {
                msg_put(m, s + i, l);
            }
        } else if (c < 0x20 || c == 0x7F) {
            msg_put(m, "?", 1);
        } else if (c == '"' || c == '\\') {
            msg_put(m, "\\", 1);
            msg_put(m, s + i, 1);
        } else {
            msg_put(m, s + i, 1);
        }
        i += l;
        shown += l;
    }
}

/* Sets the error "<what> at <path of level>" and returns -1. */
static int enc_fail(enc *e, int level, const char *what)
{
    msgbuf m;
    int l;
    if (e->err == NULL || e->errlen == 0)
        return -1;
    m.p = e->err;
    m.cap = e->errlen;
    m.len = 0;
    m.full = 0;
    m.p[0] = '\0';
    msg_put(&m, what, strlen(what));
    msg_put(&m, " at ", 4);
    if (level == 0)
        msg_put(&m, "(root)", 6);
    for (l = 1; l <= level; l++) {
        const pathseg *seg = &e->path[l];
        if (seg->key == NULL) {
            char num[24];
            size_t n;
            num[0] = '[';
            n = 1 + fmt_i64(seg->index, num + 1);
            num[n++] = ']';
            msg_put(&m, num, n);
        } else if (is_identifier(seg->key, seg->keylen)) {
            if (l > 1)
                msg_put(&m, ".", 1);
            msg_put(&m, seg->key, seg->keylen);
        } else {
            msg_put(&m, "[\"", 2);
            msg_put_key(&m, seg->key, seg->keylen);
            msg_put(&m, "\"]", 2);
        }
    }
    return -1;
}

static int enc_oom(enc *e)
{
    if (e->err != NULL && e->errlen > 0)
        snprintf(e->err, e->errlen, "out of memory");
    return -1;
}

static inline int put(enc *e, const char *s, size_t n)
{
    char *d = jbuf_reserve(e->out, n);
    if (d == NULL)
        return enc_oom(e);
    memcpy(d, s, n);
    e->out->len += n;
    return 0;
}

static inline int put_char(enc *e, char c)
{
    char *d = jbuf_reserve(e->out, 1);
    if (d == NULL)
        return enc_oom(e);
    *d = c;
    e->out->len++;
    return 0;
}

/* Writes s as a JSON string. Returns 0, -1 (out of memory, error set) or -2 (not valid UTF-8, error unset); with
 * lossy, a byte that is not well-formed UTF-8 is written as U+FFFD instead. */
static int enc_string(enc *e, const char *s, size_t len, int lossy)
{
    static const char hex[] = "0123456789abcdef";
    jbuf *out = e->out;
    size_t i = 0, run = 0;
    char *d = jbuf_reserve(out, len + 2);   /* the common case: nothing to escape */
    if (d == NULL)
        return enc_oom(e);
    *d = '"';
    out->len++;
    while (i < len) {
        unsigned char c;
        if (len - i >= 8 && word_is_plain(s + i)) {
            i += 8;
            continue;
        }
        c = (unsigned char)s[i];
        switch (enc_class[c]) {
        case 0:
            i++;
            break;
        case 2: {
            size_t n = utf8_len((const unsigned char *)s + i, len - i);
            if (n == 0 && !lossy)
                return -2;
            if (n == 0) {
                if (put(e, s + run, i - run) || put(e, "\\ufffd", 6))
                    return -1;
                run = ++i;
                break;
            }
            i += n;
            break;
        }
        default: {
            char esc[6];
            size_t n = 2;
            esc[0] = '\\';
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\t': esc[1] = 't'; break;
            case '\r': esc[1] = 'r'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            }
            if (put(e, s + run, i - run) || put(e, esc, n))
                return -1;
            i++;
            run = i;
        }
        }
    }
    if (put(e, s + run, len - run) || put_char(e, '"'))
        return -1;
    return 0;
}

int json_add_text(jbuf *out, const char *s, size_t len)
{
    enc e;
    memset(&e, 0, sizeof e);
    e.out = out;
    return enc_string(&e, s, len, 1) == 0 ? 0 : -1;
}

static int enc_value(enc *e, int idx, int level);

/* 0 plain, 1 carries the json.array metatable, 2 the json.object metatable */
static int mark_of(enc *e, int idx)
{
    lua_State *L = e->L;
    const void *mt;
    if (!lua_getmetatable(L, idx))
        return 0;
    mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    if (!e->mts_loaded) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
        e->array_mt = lua_topointer(L, -1);   /* NULL while the metatable does not exist yet */
        lua_rawgetp(L, LUA_REGISTRYINDEX, &object_mt_key);
        e->object_mt = lua_topointer(L, -1);
        lua_pop(L, 2);
        e->mts_loaded = 1;
    }
    if (mt == e->array_mt)
        return 1;
    if (mt == e->object_mt)
        return 2;
    return 0;
}

/* Returns n if the table's keys are exactly 1..n, else 0. */
static lua_Integer sequence_length(lua_State *L, int idx)
{
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {   /* stack: key value */
        lua_Integer k;
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || (k = lua_tointeger(L, -1)) < 1) {
            lua_pop(L, 1);
            return 0;
        }
        if (k > max)
            max = k;
        count++;
    }
    return count == max ? max : 0;
}

/* 1 if the keys lua_next gives after key n of the table at idx are n+1, n+2... to the end. stack: unchanged */
static int rest_is_sequence(lua_State *L, int idx, lua_Integer n)
{
    lua_pushinteger(L, n);
    while (lua_next(L, idx)) {   /* stack: key value */
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) != ++n) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}

static int enc_array_indexed(enc *e, int idx, int level, lua_Integer n)
{
    lua_State *L = e->L;
    lua_Integer i;
    if (put_char(e, '['))
        return -1;
    for (i = 1; i <= n; i++) {
        if (i > 1 && put_char(e, ','))
            return -1;
        lua_rawgeti(L, idx, i);
        e->path[level + 1].key = NULL;
        e->path[level + 1].index = i;
        if (enc_value(e, lua_gettop(L), level + 1))
            return -1;
        lua_pop(L, 1);
    }
    return put_char(e, ']');
}

/* Object members are written in the canonical order of the header comment: by the unsigned bytes of the key text
 * (a string key's own bytes; an integer key's decimal digits), a proper prefix first, then an integer key before
 * a string key with the same text. lua_next's order follows the hash layout, which depends on Lua's per-state
 * seed and on the table's history, so it is never used as such. */

#define OBJ_INLINE 32   /* objects with at most this many members are sorted on the C stack, with no allocation */

/* One member of an object being written. */
typedef struct okey {
    uint64_t prefix;   /* the key text's first 8 bytes, big-endian, zero-padded: decides most comparisons */
    union {
        const char *s;   /* string key: its bytes, kept alive by a copy of the key on the stack or in the anchor */
        lua_Integer i;   /* integer key */
    } k;
    size_t len;        /* length of the key text (for an integer key, of its decimal digits) */
    int slot;          /* where the value is: a stack index (small objects) or an index in the anchor table */
    int isint;
} okey;

static inline uint64_t prefix8(const char *s, size_t n)
{
    const unsigned char *b = (const unsigned char *)s;
    uint64_t v = 0;
    size_t i;
    if (n >= 8)
        return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32 |
               (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 | (uint64_t)b[6] << 8 | (uint64_t)b[7];
    for (i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (56 - 8 * i);
    return v;
}

/* Compares two members whose prefixes are equal, in the order described above; never 0 for two members of one
 * table. Only reached when the prefixes tie, which is rare. */
static int okey_cmp_tie(const okey *a, const okey *b)
{
    if (a->len > 8 && b->len > 8) {   /* the first 8 bytes are equal: compare the rest */
        char xb[24], yb[24];
        const char *x = xb, *y = yb;
        int c;
        if (a->isint)
            fmt_i64(a->k.i, xb);
        else
            x = a->k.s;
        if (b->isint)
            fmt_i64(b->k.i, yb);
        else
            y = b->k.s;
        c = memcmp(x + 8, y + 8, (a->len < b->len ? a->len : b->len) - 8);
        if (c != 0)
            return c;
    }
    /* One text is a prefix of the other (equal prefixes with a length <= 8 mean the longer one has only zero bytes
     * there): the shorter comes first; equal texts come from an integer and a string key: the integer first. */
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return b->isint - a->isint;
}

static inline int okey_less(const okey *a, const okey *b)
{
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix;
    return okey_cmp_tie(a, b) < 0;
}

static int okey_qcmp(const void *va, const void *vb)
{
    const okey *a = (const okey *)va, *b = (const okey *)vb;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    return okey_cmp_tie(a, b);
}

/* Insertion sort, for the at most OBJ_INLINE members of enc_object (glibc's qsort may malloc a buffer). */
static void okey_sort_small(okey *k, size_t n)
{
    size_t i, j;
    for (i = 1; i < n; i++) {
        okey t = k[i];
        for (j = i; j > 0 && okey_less(&t, &k[j - 1]); j--)
            k[j] = k[j - 1];
        k[j] = t;
    }
}

/* Fills *k from the key at stack index kidx, whose value is at slot; refuses keys that are neither strings nor
 * integers (the error names the table, at level). */
static int okey_set(enc *e, okey *k, int kidx, int slot, int level)
{
    lua_State *L = e->L;
    switch (lua_type(L, kidx)) {
    case LUA_TSTRING:
        k->k.s = lua_tolstring(L, kidx, &k->len);   /* a string already: no in-place conversion */
        k->prefix = prefix8(k->k.s, k->len);
        k->isint = 0;
        break;
    case LUA_TNUMBER: {
        char num[24];
        if (!lua_isinteger(L, kidx))
            return enc_fail(e, level, "non-integer number key");
        k->k.i = lua_tointeger(L, kidx);
        k->len = fmt_i64(k->k.i, num);
        k->prefix = prefix8(num, k->len);
        k->isint = 1;
        break;
    }
    default: {
        char what[40];
        snprintf(what, sizeof what, "key of type %s", luaL_typename(L, kidx));
        return enc_fail(e, level, what);
    }
    }
    k->slot = slot;
    return 0;
}

/* Writes the members k[0..n) in that order. Their values are at the stack indices k[i].slot, or, when anchor is
 * not 0, in the table at stack index anchor under the keys k[i].slot. */
static int enc_members(enc *e, const okey *k, size_t n, int level, int anchor)
{
    lua_State *L = e->L;
    pathseg *seg = &e->path[level + 1];
    size_t i;
    if (put_char(e, '{'))
        return -1;
    for (i = 0; i < n; i++, k++) {
        int vidx = k->slot;
        if (i > 0 && put_char(e, ','))
            return -1;
        if (k->isint) {
            char num[28];
            size_t m;
            num[0] = '"';
            m = 1 + fmt_i64(k->k.i, num + 1);
            num[m++] = '"';
            num[m++] = ':';
            if (put(e, num, m))
                return -1;
            seg->key = NULL;
            seg->index = k->k.i;
        } else {
            int rc = enc_string(e, k->k.s, k->len, 0);
            if (rc == -2)
                return enc_fail(e, level, "invalid UTF-8 in key");
            if (rc || put_char(e, ':'))
                return -1;
            seg->key = k->k.s;
            seg->keylen = k->len;
        }
        if (anchor != 0) {
            lua_rawgeti(L, anchor, k->slot);
            vidx = lua_gettop(L);
        }
        if (enc_value(e, vidx, level + 1))
            return -1;
        if (anchor != 0)
            lua_pop(L, 1);
    }
    return put_char(e, '}');
}

/* Writes the table at idx, which has more than OBJ_INLINE members, as an object. Copies every key and value into
 * an anchor table first, so that the key bytes the sort reads stay alive whatever the garbage collector does while
 * the values are written (a table with weak values can lose members then), and the sort array is a userdata, so
 * that nothing leaks if Lua raises a memory error. stack: unchanged on success */
static int enc_object_large(enc *e, int idx, int level)
{
    lua_State *L = e->L;
    size_t count = 0, n = 0;
    okey *keys;
    int anchor, rc;

    if (!lua_checkstack(L, 6))
        return enc_fail(e, level, "Lua stack exhausted");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
    }
    if (count > (size_t)INT_MAX / 2 - 1 || count > SIZE_MAX / sizeof *keys)
        return enc_oom(e);
    lua_createtable(L, (int)(2 * count), 0);
    anchor = lua_gettop(L);
    keys = (okey *)lua_newuserdatauv(L, count * sizeof *keys, 0);
    lua_pushnil(L);
    while (n < count && lua_next(L, idx)) {
        /* stack: anchor keys key value */
        int slot = (int)(2 * n + 2);
        lua_pushvalue(L, -2);
        lua_rawseti(L, anchor, slot - 1);
        lua_rawseti(L, anchor, slot);   /* the array part was sized for this: no allocation */
        if (okey_set(e, &keys[n], -1, slot, level))
            return -1;
        n++;
    }
    lua_settop(L, anchor + 1);   /* stack: anchor keys */
    qsort(keys, n, sizeof *keys, okey_qcmp);
    rc = enc_members(e, keys, n, level, anchor);
    if (rc == 0)
        lua_settop(L, anchor - 1);
    return rc;
}

/* Writes the table at idx as an object; expects its first key and value on the stack (stack: key value), and pops
 * them on success. Members are gathered with lua_next, sorted (see "Objects are written..." above), then written. */
static int enc_object(enc *e, int idx, int level)
{
    lua_State *L = e->L;
    okey keys[OBJ_INLINE];
    int base = lua_gettop(L) - 1;   /* where the first key is */
    size_t n = 0;
    int rc;

    /* Keep every key and value on the stack (k1 v1 k2 v2 ...): the keys stay alive for the sort and the values
     * need no second lookup. */
    for (;;) {
        /* stack: k1 v1 ... k v, with v at base + 2n + 1 */
        if (n == OBJ_INLINE) {
            lua_settop(L, base - 1);
            return enc_object_large(e, idx, level);
        }
        if (okey_set(e, &keys[n], base + 2 * (int)n, base + 2 * (int)n + 1, level))
            return -1;
        if (n % 8 == 0 && !lua_checkstack(L, 2 * 8 + 1))   /* room for the next 8 members and a key copy */
            return enc_fail(e, level, "Lua stack exhausted");
        n++;
        lua_pushvalue(L, -2);
        if (!lua_next(L, idx))
            break;
    }
    okey_sort_small(keys, n);
    rc = enc_members(e, keys, n, level, 0);
    if (rc == 0)
        lua_settop(L, base - 1);
    return rc;
}

static int enc_table(enc *e, int idx, int level)
{
    lua_State *L = e->L;
    const void *t = lua_topointer(L, idx);
    size_t mark;
    lua_Integer n;
    int i;

    for (i = 0; i < level; i++)
        if (e->tables[i] == t)
            return enc_fail(e, level, "cycle");
    if (level >= JSON_MAX_DEPTH) {
        char what[40];
        snprintf(what, sizeof what, "nesting deeper than %d", JSON_MAX_DEPTH);
        return enc_fail(e, level, what);
    }
    e->tables[level] = t;
    if (!lua_checkstack(L, 4))
        return enc_fail(e, level, "Lua stack exhausted");

    lua_pushnil(L);
    if (!lua_next(L, idx))
        return mark_of(e, idx) == 1 ? put(e, "[]", 2) : put(e, "{}", 2);
    /* stack: key value */
    if (!lua_isinteger(L, -2) || mark_of(e, idx) == 2)
        return enc_object(e, idx, level);

    if (lua_tointeger(L, -2) == 1) {
        /* Optimistic array: lua_next walks the array part in order, so a sequence usually shows 1, 2, 3...
         * A table that turns out not to be one is started over, which writes its elements a second time. That is
         * cheap for scalars, but a nested table must not be written twice: a chain of sparse arrays 30 deep would
         * take 2^30 passes. So the rest of the keys are checked before the first table element. (A weak table that
         * loses an element to the collector during the write still starts over, once.) */
        int checked = 0;
        mark = e->out->len;
        if (put_char(e, '['))
            return -1;
        n = 0;
        for (;;) {
            n++;
            if (!checked && lua_type(L, -1) == LUA_TTABLE) {
                if (!rest_is_sequence(L, idx, n))
                    break;
                checked = 1;
            }
            if (n > 1 && put_char(e, ','))
                return -1;
            e->path[level + 1].key = NULL;
            e->path[level + 1].index = n;
            if (enc_value(e, lua_gettop(L), level + 1))
                return -1;
            lua_pop(L, 1);
            if (!lua_next(L, idx))
                return put_char(e, ']');
            if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) != n + 1)
                break;
        }
        e->out->len = mark;
    }
    /* Integer keys out of order (some in the hash part), or not a sequence at all: start this table over. */
    lua_pop(L, 2);
    n = sequence_length(L, idx);
    if (n > 0)
        return enc_array_indexed(e, idx, level, n);
    lua_pushnil(L);
    lua_next(L, idx);   /* not empty: the first pass saw keys */
    return enc_object(e, idx, level);
}

static int enc_value(enc *e, int idx, int level)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        int rc = enc_string(e, s, n, 0);
        if (rc == -2)
            return enc_fail(e, level, "invalid UTF-8 in string");
        return rc;
    }
    case LUA_TNUMBER: {
        char *d = jbuf_reserve(e->out, 32);
        if (d == NULL)
            return enc_oom(e);
        if (lua_isinteger(L, idx)) {
            e->out->len += fmt_i64(lua_tointeger(L, idx), d);
        } else {
            double v = (double)lua_tonumber(L, idx);
            if (!isfinite(v))
                return enc_fail(e, level, isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
            e->out->len += fmt_double(v, d);
        }
        return 0;
    }
    case LUA_TTABLE:
        return enc_table(e, idx, level);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? put(e, "true", 4) : put(e, "false", 5);
    case LUA_TNIL:
        return put(e, "null", 4);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)   /* json.null */
            return put(e, "null", 4);
        /* fall through */
    default: {
        char what[40];
        snprintf(what, sizeof what, "cannot encode %s", luaL_typename(L, idx));
        return enc_fail(e, level, what);
    }
    }
}

int json_encode(lua_State *L, int idx, jbuf *out, char *err, size_t errlen)
{
    enc e;   /* tables[] and path[] are written before they are read: no need to clear them */
    int top = lua_gettop(L);
    size_t mark = out->len;
    int rc;

    e.L = L;
    e.out = out;
    e.err = err;
    e.errlen = errlen;
    e.mts_loaded = 0;
    e.array_mt = e.object_mt = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    rc = enc_value(&e, lua_absindex(L, idx), 0);
    lua_settop(L, top);
    if (rc != 0) {
        out->len = mark;
        out->p[mark] = '\0';
        return -1;
    }
    out->p[out->len] = '\0';   /* jbuf_reserve always keeps a byte for it */
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Decoder                                                                                                 */

/* Stack slots one container may fill before flushing into its table: 32 object members or 64 elements. */
#define DEC_SLOTS 64

typedef struct dec {
    lua_State *L;
    const char *start, *p, *end;
    char *err;
    size_t errlen;
    int depth, max_depth;
} dec;

static int dec_fail(dec *d, const char *at, const char *what)
{
    if (d->err != NULL && d->errlen > 0)
        snprintf(d->err, d->errlen, "invalid JSON at byte %zu: %s", (size_t)(at - d->start), what);
    return -1;
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Second pass over a string body [s, e) known to hold escapes; pushes the unescaped string.
 * stack: pushes 1 (luaL_Buffer's placeholder is replaced by the result; on error the caller resets the top) */
/* Fails inside dec_unescape. The buffer is finished first: a long one holds a to-be-closed box on the stack, and
 * leaving it for lua_settop to close makes Debian's Lua 5.4.4 reuse freed stack memory (its lua_settop keeps a
 * pointer that closing invalidates; fixed in 5.4.5). Found by fuzzing. */
static int unescape_fail(dec *d, luaL_Buffer *b, const char *at, const char *what)
{
    luaL_pushresultsize(b, 0);
    lua_pop(d->L, 1);
    return dec_fail(d, at, what);
}

static int dec_unescape(dec *d, const char *s, const char *e)
{
    luaL_Buffer b;
    char *o0 = luaL_buffinitsize(d->L, &b, (size_t)(e - s));   /* unescaping never lengthens */
    char *o = o0;
    while (s < e) {
        const char *bs = memchr(s, '\\', (size_t)(e - s));
        unsigned cp, lo;
        if (bs == NULL)
            bs = e;
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        s = bs;
        if (s == e)
            break;
        switch (s[1]) {   /* the first pass made sure a byte follows every backslash */
        case '"': *o++ = '"'; s += 2; continue;
        case '\\': *o++ = '\\'; s += 2; continue;
        case '/': *o++ = '/'; s += 2; continue;
        case 'b': *o++ = '\b'; s += 2; continue;
        case 'f': *o++ = '\f'; s += 2; continue;
        case 'n': *o++ = '\n'; s += 2; continue;
        case 'r': *o++ = '\r'; s += 2; continue;
        case 't': *o++ = '\t'; s += 2; continue;
        case 'u': break;
        default: return unescape_fail(d, &b, s, "invalid escape in string");
        }
        if (e - s < 6 || hex4(s + 2, &cp) != 0)
            return unescape_fail(d, &b, s, "invalid \\u escape");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return unescape_fail(d, &b, s, "lone surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (e - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                return unescape_fail(d, &b, s, "lone surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            s += 12;
        } else {
            s += 6;
        }
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xC0 | (cp >> 6));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | (cp >> 12));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (char)(0xF0 | (cp >> 18));
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    luaL_pushresultsize(&b, (size_t)(o - o0));
    return 0;
}

/* d->p at the opening quote. stack: pushes the string */
static int dec_string(dec *d)
{
    const char *s = d->p + 1, *p = s, *end = d->end;
    int escapes = 0;
    for (;;) {
        if (end - p >= 8 && word_is_plain(p)) {
            p += 8;
            continue;
        }
        if (p >= end)
            return dec_fail(d, d->p, "unterminated string");
        switch (dec_class[(unsigned char)*p]) {
        case 0:
            p++;
            continue;
        case 1:
            break;
        case 2:
            if (end - p < 2)
                return dec_fail(d, d->p, "unterminated string");
            escapes = 1;
            p += 2;   /* the escaped byte is checked by dec_unescape */
            continue;
        case 3:
            return dec_fail(d, p, "control character in string");
        default: {
            size_t n = utf8_len((const unsigned char *)p, (size_t)(end - p));
            if (n == 0)
                return dec_fail(d, p, "invalid UTF-8 in string");
            p += n;
            continue;
        }
        }
        break;
    }
    if (escapes) {
        if (dec_unescape(d, s, p))
            return -1;
    } else {
        lua_pushlstring(d->L, s, (size_t)(p - s));
    }
    d->p = p + 1;
    return 0;
}

static const double pow10_exact[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)

/* stack: pushes the number */
static int dec_number(dec *d)
{
    const char *start = d->p, *p = start, *end = d->end;
    uint64_t m = 0;
    int neg = 0, is_int = 1, slow = 0, nd = 0, exp10 = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !IS_DIGIT(*p)) {
        if (p < end && *p == 'I')
            return dec_fail(d, start, "Infinity is not allowed");
        return dec_fail(d, p, "expected a digit");
    }
    if (*p == '0') {
        p++;
        if (p < end && (*p == 'x' || *p == 'X'))
            return dec_fail(d, start, "hexadecimal numbers are not allowed");
        if (p < end && IS_DIGIT(*p))
            return dec_fail(d, start, "leading zeros are not allowed");
    } else {
        do {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
            } else {
                slow = 1;   /* more digits than a uint64 holds exactly */
            }
            p++;
        } while (p < end && IS_DIGIT(*p));
    }
    if (p < end && *p == '.') {
        is_int = 0;
        p++;
        if (p >= end || !IS_DIGIT(*p))
            return dec_fail(d, p, "expected a digit after '.'");
        do {
            if (m == 0 && *p == '0') {
                if (exp10 > -1000000)   /* leading zeros are not significant; this far down only strtod matters */
                    exp10--;
            } else if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
                exp10--;
            } else {
                slow = 1;
            }
            p++;
        } while (p < end && IS_DIGIT(*p));
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, ev = 0;
        is_int = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= end || !IS_DIGIT(*p))
            return dec_fail(d, p, "expected a digit in exponent");
        do {
            if (ev < 100000)
                ev = ev * 10 + (*p - '0');
            p++;
        } while (p < end && IS_DIGIT(*p));
        exp10 += eneg ? -ev : ev;
    }
    d->p = p;

    if (is_int && !slow) {
        if (!neg && m <= (uint64_t)LUA_MAXINTEGER) {
            lua_pushinteger(d->L, (lua_Integer)m);
            return 0;
        }
        if (neg && m <= (uint64_t)LUA_MAXINTEGER + 1) {
            lua_pushinteger(d->L, m == (uint64_t)LUA_MAXINTEGER + 1 ? LUA_MININTEGER : -(lua_Integer)m);
            return 0;
        }
    }
    if (!slow && m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        /* Clinger: both operands exact, so one correctly rounded operation gives the correctly rounded result */
        double v = (double)m;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        lua_pushnumber(d->L, (lua_Number)(neg ? -v : v));
        return 0;
    } else {
        char small[64], *buf = small, *endp;
        size_t n = (size_t)(p - start);
        double v;
        if (n >= sizeof small && (buf = malloc(n + 1)) == NULL)
            return dec_fail(d, start, "out of memory");
        memcpy(buf, start, n);
        buf[n] = '\0';   /* the input need not be NUL-terminated */
        v = strtod(buf, &endp);
        if (buf != small)
            free(buf);
        if (isinf(v))
            return dec_fail(d, start, "number out of range");
        lua_pushnumber(d->L, (lua_Number)v);
        return 0;
    }
}

static int dec_value(dec *d, int null_as_nil);

/* d->p at '{'. stack: pushes the table */
static int dec_object(dec *d)
{
    lua_State *L = d->L;
    const char *p;
    int base, npairs = 0, created = 0;

    if (!lua_checkstack(L, DEC_SLOTS + 8))
        return dec_fail(d, d->p, "Lua stack exhausted");
    lua_pushnil(L);   /* stack: placeholder for the table, filled at the first flush */
    base = lua_gettop(L);
    p = skip_ws(d->p + 1, d->end);
    if (p < d->end && *p == '}') {
        d->p = p + 1;
        lua_createtable(L, 0, 0);
        lua_replace(L, base);
        return 0;
    }
    for (;;) {
        if (p >= d->end || *p != '"')
            return dec_fail(d, p, npairs == 0 && !created ? "expected a string key or '}'" : "expected a string key");
        d->p = p;
        if (dec_string(d))
            return -1;
        p = skip_ws(d->p, d->end);
        if (p >= d->end || *p != ':')
            return dec_fail(d, p, "expected ':'");
        d->p = p + 1;
        if (dec_value(d, 1))   /* null members become nil: rawset then drops them, and "last wins" holds */
            return -1;
        /* stack: placeholder k1 v1 ... kn vn */
        p = skip_ws(d->p, d->end);
        if (++npairs == DEC_SLOTS / 2 || (p < d->end && *p == '}')) {
            int i;
            if (!created) {
                lua_createtable(L, 0, npairs);
                lua_replace(L, base);
                created = 1;
            }
            for (i = 0; i < npairs; i++) {   /* in order, so that a later duplicate key wins */
                lua_pushvalue(L, base + 1 + 2 * i);
                lua_pushvalue(L, base + 2 + 2 * i);
                lua_rawset(L, base);
            }
            lua_settop(L, base);
            npairs = 0;
        }
        if (p < d->end && *p == ',') {
            p = skip_ws(p + 1, d->end);
            continue;
        }
        if (p < d->end && *p == '}') {
            d->p = p + 1;
            return 0;
        }
        return dec_fail(d, p, "expected ',' or '}'");
    }
}

/* d->p at '['. stack: pushes the table */
static int dec_array(dec *d)
{
    lua_State *L = d->L;
    const char *p;
    int base, n = 0, created = 0;
    lua_Integer total = 0;

    if (!lua_checkstack(L, DEC_SLOTS + 8))
        return dec_fail(d, d->p, "Lua stack exhausted");
    lua_pushnil(L);   /* stack: placeholder for the table, filled at the first flush */
    base = lua_gettop(L);
    p = skip_ws(d->p + 1, d->end);
    if (p < d->end && *p == ']') {
        d->p = p + 1;
        lua_createtable(L, 0, 0);
        push_mark_mt(L, &array_mt_key);   /* so that it encodes back as [] */
        lua_setmetatable(L, -2);
        lua_replace(L, base);
        return 0;
    }
    d->p = p;
    for (;;) {
        if (dec_value(d, 0))
            return -1;
        /* stack: placeholder v1 ... vn */
        p = skip_ws(d->p, d->end);
        if (++n == DEC_SLOTS || (p < d->end && *p == ']')) {
            lua_Integer i;
            if (!created) {
                lua_createtable(L, n, 0);
                lua_replace(L, base);
                created = 1;
            }
            for (i = n; i > 0; i--)
                lua_rawseti(L, base, total + i);   /* pops vn, then vn-1, ... */
            total += n;
            n = 0;
        }
        if (p < d->end && *p == ',') {
            d->p = p + 1;
            continue;
        }
        if (p < d->end && *p == ']') {
            d->p = p + 1;
            return 0;
        }
        return dec_fail(d, p, "expected ',' or ']'");
    }
}

/* stack: pushes one value; null becomes nil if null_as_nil, else json.null */
static int dec_value(dec *d, int null_as_nil)
{
    const char *p = skip_ws(d->p, d->end);
    size_t left = (size_t)(d->end - p);
    d->p = p;
    if (left == 0)
        return dec_fail(d, p, "unexpected end of input");
    switch (*p) {
    case '"':
        return dec_string(d);
    case '{':
    case '[': {
        int rc;
        if (++d->depth > d->max_depth) {
            char what[40];
            snprintf(what, sizeof what, "nesting deeper than %d", d->max_depth);
            return dec_fail(d, p, what);
        }
        rc = *p == '{' ? dec_object(d) : dec_array(d);
        d->depth--;
        return rc;
    }
    case 't':
        if (left >= 4 && memcmp(p, "true", 4) == 0) {
            lua_pushboolean(d->L, 1);
            d->p = p + 4;
            return 0;
        }
        break;
    case 'f':
        if (left >= 5 && memcmp(p, "false", 5) == 0) {
            lua_pushboolean(d->L, 0);
            d->p = p + 5;
            return 0;
        }
        break;
    case 'n':
        if (left >= 4 && memcmp(p, "null", 4) == 0) {
            if (null_as_nil)
                lua_pushnil(d->L);
            else
                lua_pushlightuserdata(d->L, NULL);
            d->p = p + 4;
            return 0;
        }
        break;
    case 'N':
        return dec_fail(d, p, "NaN is not allowed");
    case 'I':
        return dec_fail(d, p, "Infinity is not allowed");
    case '+':
        return dec_fail(d, p, "leading '+' is not allowed");
    default:
        if (*p == '-' || IS_DIGIT(*p))
            return dec_number(d);
        break;
    }
    return dec_fail(d, p, "expected a value");
}

int json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen)
{
    return json_decode_depth(L, s, len, JSON_MAX_DEPTH, err, errlen);
}

int json_decode_depth(lua_State *L, const char *s, size_t len, int max_depth, char *err, size_t errlen)
{
    dec d;
    int top = lua_gettop(L);
    const char *p;

    if (s == NULL)
        s = "";
    d.L = L;
    d.start = d.p = s;
    d.end = s + len;
    d.err = err;
    d.errlen = errlen;
    d.depth = 0;
    d.max_depth = max_depth;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (!lua_checkstack(L, 4)) {
        dec_fail(&d, s, "Lua stack exhausted");
        return -1;
    }
    if (dec_value(&d, 1) != 0) {
        lua_settop(L, top);
        return -1;
    }
    p = skip_ws(d.p, d.end);
    if (p != d.end) {
        lua_settop(L, top);
        return dec_fail(&d, p, "trailing characters after the JSON value");
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* The marker metatables, for lua/ljson.c                                                                  */

int json_is_array(lua_State *L, int idx)
{
    if (!lua_checkstack(L, 2) || !lua_getmetatable(L, idx))
        return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return is;
}

void json_push_mark_mt(lua_State *L, int array)
{
    push_mark_mt(L, array ? &array_mt_key : &object_mt_key);
}
