/*
 * json.h: the runtime's one JSON codec, shared by json.encode/decode, Log, _G, SetChannelData and GetChannelData.
 *
 * Fidelity is a product property: Lua integers round-trip as integers over the whole 64-bit range, floats
 * round-trip exactly (shortest representation that reads back to the same double, with ".0" kept on integral
 * floats so 5.0 stays a float), NaN and Infinity are refused, nesting is bounded by JSON_MAX_DEPTH, cycles are
 * detected, strings must be valid UTF-8, and every error names the path of the offending value
 * ("orders[3].price").
 */
#ifndef STRATRUN_JSON_H
#define STRATRUN_JSON_H

#include <stddef.h>
#include <lua.h>

#define JSON_MAX_DEPTH 32   /* arrays/objects nested deeper than this are refused, both ways */
#define JSON_ERRLEN 256     /* enough for any message the codec writes */

/* A growable output buffer. Small outputs (channel states) never touch the heap. */
typedef struct jbuf {
    char *p;            /* points at inline or at heap memory */
    size_t len, cap;
    int failed;         /* an append found no memory: the text is incomplete (set until jbuf_init/jbuf_free) */
    char inline_[1280];
} jbuf;

void jbuf_init(jbuf *b);
void jbuf_free(jbuf *b);
/* Appends n bytes (keeping the text NUL-terminated). Returns 0, or -1 when memory is exhausted. */
int jbuf_add(jbuf *b, const void *p, size_t n);

/* Appends the len bytes at s as a JSON string, whatever they are: bytes that are not well-formed UTF-8 become
 * U+FFFD (text other processes wrote: a log line, a file). 0, or -1 when memory is exhausted. */
int json_add_text(jbuf *out, const char *s, size_t len);

/*
 * Encodes the value at stack index idx into out (appending; out->p is NUL-terminated on success).
 * Never raises (except on memory exhaustion inside Lua); leaves the stack as it found it.
 * Returns 0, or -1 with a one-line message in err such as
 *   "cannot encode function at orders[3].price" / "NaN at price" / "cycle at a.b" / "nesting deeper than 32 at ...".
 * The root path is written "(root)".
 */
int json_encode(lua_State *L, int idx, jbuf *out, char *err, size_t errlen);

/*
 * Decodes exactly one JSON text (whitespace around it allowed, nothing else after it).
 * On success pushes the value (null at top level pushes nil) and returns 0.
 * On failure pushes nothing and returns -1 with a message naming the byte offset, e.g.
 *   "invalid JSON at byte 17: expected ',' or '}'".
 * Objects become tables with string keys; members whose value is null are left out. Arrays become sequences;
 * null elements become json.null (a light userdata NULL) so positions are kept. Empty arrays get the json.array
 * metatable so they encode back as [] (an empty plain table encodes as {}).
 * Numbers without fraction or exponent that fit in int64 become Lua integers; all others floats.
 */
int json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen);

/* json_decode with another nesting bound: the _G store file, an object of values that may each nest
 * JSON_MAX_DEPTH deep, is read with JSON_MAX_DEPTH + 1. */
int json_decode_depth(lua_State *L, const char *s, size_t len, int max_depth, char *err, size_t errlen);

/* 1 if s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF), else 0. */
int json_utf8_valid(const char *s, size_t len);

/* Pushes the metatable that marks a table as a JSON array (array != 0) or object, creating it on first use. */
void json_push_mark_mt(lua_State *L, int array);

/* Whether the table at idx is marked a JSON array (json.array). Allocates nothing and never raises. */
int json_is_array(lua_State *L, int idx);

#endif
