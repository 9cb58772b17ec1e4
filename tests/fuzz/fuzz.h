/*
 * fuzz.h: what the libFuzzer targets under tests/fuzz share: the entry point, a check that stops the run on a
 * broken invariant, a scratch file for parsers that read files, Lua states, and comparisons of Lua values.
 */
#ifndef STRATRUN_FUZZ_H
#define STRATRUN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

/* libFuzzer's entry point; every target defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: prints where and why, then traps, so libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                                   \
    do {                                                                                                        \
        if (!(cond))                                                                                            \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                                  \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A file of this process under $TMPDIR (or /tmp), named ...SUFFIX, removed at exit. Same path every call. */
const char *fuzz_scratch_path(const char *suffix);

/* Replaces the content of path with the n bytes at data. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t n);

/* A Lua state whose allocator counts its memory. Past cap bytes: with trap set the run stops (the code under test
 * used more memory than any input of that size should need), else the allocation fails as Lua expects. */
lua_State *fuzz_lua_new(size_t cap, int trap);
void fuzz_lua_close(lua_State *L);

/* With the json module loaded as require("json") and as a global; returns the json.array metatable's address. */
const void *fuzz_open_json(lua_State *L);

/* Well-formed UTF-8 (Unicode 15, table 3-7: no overlongs, no surrogates, nothing above U+10FFFF). Written apart
 * from the codec's own check, so that each checks the other. */
int fuzz_utf8_valid(const char *s, size_t n);

/* Writes code point cp (below 0x110000) as UTF-8 into out (4 bytes); returns the length. */
size_t fuzz_utf8_put(unsigned cp, char *out);

/* The number of keys of the table at t. */
int fuzz_count_keys(lua_State *L, int t);

/* Values equal as the JSON codec promises to keep them: same type, integer vs float subtype, float bits, string
 * bytes, light userdata address, and for tables the same keys with equal values and the same metatable. */
int fuzz_lua_equal(lua_State *L, int a, int b);

/* The Lua error at the top of the stack, as a C string (for messages). */
const char *fuzz_lua_error(lua_State *L);

#endif
