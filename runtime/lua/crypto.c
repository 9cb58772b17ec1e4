/*
 * crypto.c: the platform's hashing and encoding globals, Encode and MD5, on OpenSSL 3's libcrypto (docs/platform.md).
 *
 * Encode is one pipeline: decode data from its inputFormat, transform the bytes (nothing for "raw", a digest, an
 * HMAC when a key is given, a charset conversion for the text codecs), encode the result in outputFormat. Lua
 * strings are bytes, so the formats "raw" and "string" are the same here. Scratch buffers are Lua userdata, and
 * OpenSSL's objects and iconv's descriptor are freed before anything raises, so an error leaks nothing.
 *
 * The platform documents no global HMAC (only exchange.HMAC, stdlib/exchange.lua), so there is none here.
 */
#include "lua/api.h"
#include "core/hex.h"
#include "core/lib_crypto.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>

#include <lauxlib.h>

/* The most bytes data or a key may have. A strategy hashes requests and messages; the hex of this much is already
 * 128 MiB. */
#define MAX_BYTES ((size_t)64 << 20)
#define MAX_BYTES_TEXT "64 MiB"

#define KECCAK_MISSING "Keccak (Ethereum's hash, not SHA-3) is in OpenSSL 3.2 and later"
#define BLAKE2_MISSING "shorter BLAKE2 outputs need OpenSSL 3.2 or later"

/* A platform hash: its name in Encode, OpenSSL's name, the output size when shorter than the digest's own (BLAKE2's
 * short variants are a parameter of one digest), and why an OpenSSL may lack it. */
struct hash {
    const char *name, *ossl;
    size_t size;
    const char *missing;
};

static const struct hash hashes[] = {
    {"md4", "MD4", 0, "MD4 is only in OpenSSL's legacy provider, which stratrun does not load"},
    {"md5", "MD5", 0, NULL},
    {"sha1", "SHA1", 0, NULL},
    {"sha256", "SHA256", 0, NULL},
    {"sha512", "SHA512", 0, NULL},
    {"sha512.384", "SHA384", 0, NULL},
    {"sha512.256", "SHA512-256", 0, NULL},
    {"sha512.224", "SHA512-224", 0, NULL},
    {"sha3.224", "SHA3-224", 0, NULL},
    {"sha3.256", "SHA3-256", 0, NULL},
    {"sha3.384", "SHA3-384", 0, NULL},
    {"sha3.512", "SHA3-512", 0, NULL},
    {"keccak256", "KECCAK-256", 0, KECCAK_MISSING},
    {"sha3.keccak256", "KECCAK-256", 0, KECCAK_MISSING},
    {"sha3.keccak512", "KECCAK-512", 0, KECCAK_MISSING},
    {"ripemd160", "RIPEMD160", 0, "OpenSSL 3.0.0 to 3.0.6 have RIPEMD-160 only in the legacy provider"},
    {"blake2b.256", "BLAKE2B-512", 32, BLAKE2_MISSING},
    {"blake2b.512", "BLAKE2B-512", 0, NULL},
    {"blake2s.128", "BLAKE2S-256", 16, BLAKE2_MISSING},
    {"blake2s.256", "BLAKE2S-256", 0, NULL},
};

/* The platform's text codecs: an encoder turns a string (UTF-8, as Lua source is) into the charset's bytes, a
 * decoder the charset's bytes into a UTF-8 string. grow: the most output bytes per input byte. */
struct codec {
    const char *name, *from, *to, *valid;
    size_t grow;
};

static const struct codec codecs[] = {
    {"text.encoder.utf8", "UTF-8", "UTF-8", "UTF-8 text", 1},
    {"text.decoder.utf8", "UTF-8", "UTF-8", "UTF-8 text", 1},
    {"text.encoder.gbk", "UTF-8", "GBK", "UTF-8 text that GBK can hold", 1},
    {"text.decoder.gbk", "GBK", "UTF-8", "GBK text", 3},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum format { RAW, HEX, BASE64 };

static const char *const format_names[] = {"raw", "string", "hex", "base64"};
static const enum format formats[] = {RAW, RAW, HEX, BASE64};

static const struct hash *find_hash(const char *name)
{
    for (size_t i = 0; i < COUNT(hashes); i++)
        if (strcmp(hashes[i].name, name) == 0)
            return &hashes[i];
    return NULL;
}

static const struct codec *find_codec(const char *name)
{
    for (size_t i = 0; i < COUNT(codecs); i++)
        if (strcmp(codecs[i].name, name) == 0)
            return &codecs[i];
    return NULL;
}

/* The platform's signing and encryption algos, which stratrun does not provide: they get their own message, not
 * "unknown". */
static int platform_only(const char *algo)
{
    return strcmp(algo, "sign") == 0 || strcmp(algo, "signTx") == 0 || strncmp(algo, "ed25519", 7) == 0 ||
           strncmp(algo, "aes", 3) == 0;
}

/* Raises the error for an algo Encode does not know, listing those it does. */
static int bad_algo(lua_State *L, const char *algo)
{
    if (platform_only(algo))
        return luaL_error(L, "Encode: algo '%s' is the platform's, but stratrun does not provide it: stratrun's "
                          "Encode hashes, makes HMACs, converts formats and text", algo);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "raw");
    for (size_t i = 0; i < COUNT(hashes); i++) {
        luaL_addstring(&b, ", ");
        luaL_addstring(&b, hashes[i].name);
    }
    for (size_t i = 0; i < COUNT(codecs); i++) {
        luaL_addstring(&b, ", ");
        luaL_addstring(&b, codecs[i].name);
    }
    luaL_addstring(&b, ", or hmac_ and a hash (hmac_sha256)");
    luaL_pushresult(&b);
    return luaL_error(L, "Encode: algo '%s' is not one of %s", algo, lua_tostring(L, -1));
}

/* Argument idx, which must be a string (a name: algo or a format). */
static const char *check_name(lua_State *L, int idx, const char *what)
{
    size_t len;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "Encode: %s must be a string, not %s", what, luaL_typename(L, idx));
    const char *s = lua_tolstring(L, idx, &len);
    /* Names are compared as C strings: "sha256\0x" must not pass for "sha256". */
    if (strlen(s) != len)
        luaL_error(L, "Encode: %s '%s' is followed by a zero byte, which no name has", what, s);
    return s;
}

static enum format check_format(lua_State *L, int idx, const char *what)
{
    const char *s = check_name(L, idx, what);
    for (size_t i = 0; i < COUNT(formats); i++)
        if (strcmp(s, format_names[i]) == 0)
            return formats[i];
    luaL_error(L, "Encode: %s '%s' is not one of raw, string, hex, base64", what, s);
    return RAW;
}

/* The bytes of argument idx: a string, or a number as Lua's own string functions take one; at most MAX_BYTES. */
static const char *check_bytes(lua_State *L, int idx, const char *fn, const char *what, size_t *len)
{
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a string, not %s", fn, what, luaL_typename(L, idx));
    const char *s = lua_tolstring(L, idx, len);
    if (*len > MAX_BYTES)
        luaL_error(L, "%s: %s is %I bytes, more than the " MAX_BYTES_TEXT " (%I bytes) allowed", fn, what,
                   (lua_Integer)*len, (lua_Integer)MAX_BYTES);
    return s;
}

/* Raises the error for byte i (0-based) of what, which is not in the format's alphabet. */
static void bad_char(lua_State *L, const char *what, const char *format, const char *s, size_t i,
                     const char *alphabet)
{
    unsigned char c = (unsigned char)s[i];
    char shown[16];
    if (c >= 0x20 && c < 0x7f)
        snprintf(shown, sizeof shown, "'%c'", c);
    else
        snprintf(shown, sizeof shown, "0x%02x", c);
    luaL_error(L, "Encode: %s is not %s: byte %I is %s, not one of %s", what, format, (lua_Integer)i + 1, shown,
               alphabet);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex text, either case. stack: +1 (the bytes' userdata) */
static const unsigned char *from_hex(lua_State *L, const char *what, const char *s, size_t n, size_t *outn)
{
    /* Characters first: a stray newline is the likelier mistake, and the count alone would not show it. */
    for (size_t i = 0; i < n; i++)
        if (hex_value((unsigned char)s[i]) < 0)
            bad_char(L, what, "hex", s, i, "0-9 a-f A-F");
    if (n % 2)
        luaL_error(L, "Encode: %s is not hex: it has an odd number of digits, %I", what, (lua_Integer)n);
    unsigned char *out = lua_newuserdatauv(L, n / 2 + 1, 0);
    for (size_t i = 0; i < n; i += 2)
        out[i / 2] = (unsigned char)(hex_value((unsigned char)s[i]) << 4 | hex_value((unsigned char)s[i + 1]));
    *outn = n / 2;
    return out;
}

static int is_base64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Decodes standard base64 (RFC 4648 section 4), its '=' padding optional: what an exchange hands out is padded,
 * what a strategy writes by hand often is not, and either reads one way only. Whitespace and the URL-safe
 * alphabet are refused, so a wrong secret fails here rather than as a wrong signature. stack: +1 */
static const unsigned char *from_base64(lua_State *L, const char *what, const char *s, size_t n, size_t *outn)
{
    size_t body = n;
    while (body > 0 && s[body - 1] == '=')
        body--;
    for (size_t i = 0; i < body; i++)
        if (!is_base64((unsigned char)s[i]))
            bad_char(L, what, "base64", s, i, "A-Z a-z 0-9 + / (and '=' at the end)");
    if (n - body > 2)
        luaL_error(L, "Encode: %s is not base64: it ends in %I '=', where padding is at most 2", what,
                   (lua_Integer)(n - body));
    if (n > body && n % 4)
        luaL_error(L, "Encode: %s is not base64: padded, it must be a multiple of 4 characters, not %I", what,
                   (lua_Integer)n);
    if (body % 4 == 1)
        luaL_error(L, "Encode: %s is not base64: its last group has 1 character, which holds no byte", what);
    /* EVP_DecodeBlock wants whole groups of 4 and counts padding as zero bytes: pad, then take those off. */
    size_t padded = (body + 3) / 4 * 4;
    unsigned char *text = lua_newuserdatauv(L, padded + 1, 0);
    memcpy(text, s, body);
    memset(text + body, '=', padded - body);
    unsigned char *out = lua_newuserdatauv(L, padded / 4 * 3 + 1, 0);
    int got = EVP_DecodeBlock(out, text, (int)padded);
    lua_remove(L, -2);
    if (got < 0) {
        ERR_clear_error();
        luaL_error(L, "Encode: %s is not base64 (OpenSSL's EVP_DecodeBlock refused it)", what);
    }
    *outn = (size_t)got - (padded - body);
    return out;
}

/* The bytes of s in format f, decoded. stack: +1 when decoded (hex, base64), 0 for raw */
static const unsigned char *decode(lua_State *L, enum format f, const char *what, const char *s, size_t n,
                                   size_t *outn)
{
    if (f == HEX)
        return from_hex(L, what, s, n, outn);
    if (f == BASE64)
        return from_base64(L, what, s, n, outn);
    *outn = n;
    return (const unsigned char *)s;
}

/* Pushes n bytes in format f: hex in lower case, base64 padded. */
static void push_as(lua_State *L, enum format f, const unsigned char *p, size_t n)
{
    luaL_Buffer b;
    if (f == RAW) {
        lua_pushlstring(L, (const char *)p, n);
    } else if (f == HEX) {
        hex_encode(p, n, luaL_buffinitsize(L, &b, 2 * n));
        luaL_pushresultsize(&b, 2 * n);
    } else {
        size_t len = (n + 2) / 3 * 4;
        char *o = luaL_buffinitsize(L, &b, len + 1);   /* EVP_EncodeBlock ends with a NUL */
        EVP_EncodeBlock((unsigned char *)o, p, (int)n);
        luaL_pushresultsize(&b, len);
    }
}

/* Puts OpenSSL's latest error into why, and clears the thread's queue so that no later caller sees it. */
static void openssl_reason(char *why, size_t whylen, const char *prefix)
{
    char err[256];
    ERR_error_string_n(ERR_peek_last_error(), err, sizeof err);
    ERR_clear_error();
    snprintf(why, whylen, "%s%s", prefix, err);
}

/* One digest of n bytes into out (EVP_MAX_MD_SIZE); returns its size, or 0 with why set. */
static size_t digest(const struct hash *h, EVP_MD *md, const unsigned char *p, size_t n, unsigned char *out,
                     char *why, size_t whylen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t size = h->size;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_DIGEST_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    unsigned int got = 0;
    int ok = ctx && EVP_DigestInit_ex2(ctx, md, h->size ? params : NULL) && EVP_DigestUpdate(ctx, p, n) &&
             EVP_DigestFinal_ex(ctx, out, &got);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        openssl_reason(why, whylen, "failed in OpenSSL: ");
        return 0;
    }
    /* OpenSSL before 3.2 ignores the size parameter and gives the digest's full output: refuse, never truncate
     * (a shorter BLAKE2 is a different hash, not a prefix of the long one). */
    if (h->size && got != h->size) {
        snprintf(why, whylen, "needs %s with a %zu-byte output, which this OpenSSL (%s) cannot give: %s", h->ossl,
                 h->size, OpenSSL_version(OPENSSL_VERSION_STRING), h->missing);
        return 0;
    }
    return got;
}

/* An HMAC (RFC 2104) of n bytes with h, into out; returns its size, or 0 with why set. */
static size_t hmac(const struct hash *h, const unsigned char *key, size_t keylen, const unsigned char *p, size_t n,
                   unsigned char *out, char *why, size_t whylen)
{
    size_t got = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, h->ossl, NULL, key, keylen, p, n, out, EVP_MAX_MD_SIZE, &got)) {
        openssl_reason(why, whylen, "failed in OpenSSL: ");
        return 0;
    }
    return got;
}

/* The digest, or with a key the HMAC, of n bytes into out (EVP_MAX_MD_SIZE). Returns its size, or 0 with why set;
 * raises nothing, so that OpenSSL's objects are freed before the caller does. */
static size_t run_hash(const struct hash *h, const unsigned char *key, size_t keylen, const unsigned char *p,
                       size_t n, unsigned char *out, char *why, size_t whylen)
{
    EVP_MD *md = EVP_MD_fetch(NULL, h->ossl, NULL);
    if (!md) {
        char prefix[160];
        snprintf(prefix, sizeof prefix, "needs OpenSSL's %s, which this OpenSSL (%s) does not have: ", h->ossl,
                 OpenSSL_version(OPENSSL_VERSION_STRING));
        if (h->missing) {
            ERR_clear_error();
            snprintf(why, whylen, "%s%s", prefix, h->missing);
        } else {
            openssl_reason(why, whylen, prefix);
        }
        return 0;
    }
    size_t got = key ? hmac(h, key, keylen, p, n, out, why, whylen) : digest(h, md, p, n, out, why, whylen);
    EVP_MD_free(md);
    return got;
}

/* Converts n bytes with a text codec; raises naming the first byte that does not convert. stack: +1 (the
 * result's userdata) */
static const unsigned char *convert(lua_State *L, const struct codec *c, const unsigned char *s, size_t n,
                                    size_t *outn)
{
    size_t cap = c->grow * n + 4;
    char *out = lua_newuserdatauv(L, cap, 0);
    iconv_t cd = iconv_open(c->to, c->from);
    if (cd == (iconv_t)-1)
        luaL_error(L, "Encode: algo '%s' needs iconv to convert %s to %s, which this system cannot: %s", c->name,
                   c->from, c->to, strerror(errno));
    char *in = (char *)s, *o = out;
    size_t inleft = n, outleft = cap;
    size_t r = iconv(cd, &in, &inleft, &o, &outleft);
    int err = errno;
    if (r != (size_t)-1) {
        r = iconv(cd, NULL, NULL, &o, &outleft);   /* ends a stateful charset's shift sequence */
        err = errno;
    }
    iconv_close(cd);
    if (r == (size_t)-1 && (err == EILSEQ || err == EINVAL))
        luaL_error(L, "Encode: %s: data is not %s at byte %I", c->name, c->valid, (lua_Integer)(n - inleft) + 1);
    if (r == (size_t)-1)
        luaL_error(L, "Encode: %s: iconv failed: %s", c->name, strerror(err));
    *outn = cap - outleft;
    return (const unsigned char *)out;
}

/* Whether Encode's keyFormat (argument 5) is given: nil or "" means no key, whatever key is, on the platform. */
static int has_key_format(lua_State *L)
{
    return !lua_isnoneornil(L, 5) && !(lua_type(L, 5) == LUA_TSTRING && lua_rawlen(L, 5) == 0);
}

/* The key of Encode's arguments 5 and 6, decoded; NULL when there is no keyFormat. stack: +1 when decoded from hex
 * or base64 */
static const unsigned char *check_key(lua_State *L, size_t *keylen)
{
    if (!has_key_format(L))
        return NULL;
    enum format f = check_format(L, 5, "keyFormat");
    if (lua_isnoneornil(L, 6))
        luaL_error(L, "Encode: keyFormat '%s' names a key, but key is nil (give no keyFormat to hash without one)",
                   lua_tostring(L, 5));
    size_t n;
    const char *s = check_bytes(L, 6, "Encode", "key", &n);
    return decode(L, f, "key", s, n, keylen);
}

/* libcrypto is loaded by the first call that needs it; without it the call raises (a broken installation). */
static void need_crypto(lua_State *L, const char *who)
{
    char err[400];
    if (lazylib_need(&lazy_crypto, who, err, sizeof err) != 0)
        luaL_error(L, "%s", err);
}

/* Encode(algo, inputFormat, outputFormat, data [, keyFormat, key]): data hashed, HMAC'd with the key, converted as
 * text, or (algo "raw") only turned from one format into another. */
static int f_Encode(lua_State *L)
{
    need_crypto(L, "Encode");
    const char *algo = check_name(L, 1, "algo");
    enum format in = check_format(L, 2, "inputFormat"), out = check_format(L, 3, "outputFormat");
    size_t n, len, keylen = 0;
    const char *data = check_bytes(L, 4, "Encode", "data", &n);
    int hmac_named = strncmp(algo, "hmac_", 5) == 0;
    const struct hash *h = find_hash(hmac_named ? algo + 5 : algo);
    const struct codec *c = hmac_named ? NULL : find_codec(algo);
    if (!h && !c && (hmac_named || strcmp(algo, "raw") != 0))
        return bad_algo(L, algo);
    /* With "raw" and the codecs the platform ignores a key (its own example passes one to "raw"); its format is
     * still checked. */
    const unsigned char *key = NULL;
    if (h)
        key = check_key(L, &keylen);
    else if (has_key_format(L))
        check_format(L, 5, "keyFormat");
    if (hmac_named && !key)
        return luaL_error(L, "Encode: algo '%s' is an HMAC and needs a key: give keyFormat and key", algo);
    if (h && h->size && key)
        return luaL_error(L, "Encode: algo '%s' with a key is not provided: OpenSSL's HMAC cannot shorten BLAKE2's "
                          "output (blake2b.512 and blake2s.256 can have a key)", algo);
    const unsigned char *p = decode(L, in, "data", data, n, &len);
    if (c) {
        p = convert(L, c, p, len, &len);
    } else if (h) {
        unsigned char md[EVP_MAX_MD_SIZE];
        char why[512];
        if (!(len = run_hash(h, key, keylen, p, len, md, why, sizeof why)))
            return luaL_error(L, "Encode: algo '%s' %s", algo, why);
        push_as(L, out, md, len);
        return 1;
    }
    push_as(L, out, p, len);
    return 1;
}

/* MD5(data): the MD5 of data's bytes, 32 lower-case hex digits. */
static int f_MD5(lua_State *L)
{
    need_crypto(L, "MD5");
    size_t n;
    const unsigned char *p = (const unsigned char *)check_bytes(L, 1, "MD5", "data", &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    char why[512];
    size_t len = run_hash(find_hash("md5"), NULL, 0, p, n, md, why, sizeof why);
    if (!len)
        return luaL_error(L, "MD5: %s", why);
    push_as(L, HEX, md, len);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"Encode", f_Encode},
    {"MD5", f_MD5},
    {NULL, NULL}
};

int luaopen_crypto(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
