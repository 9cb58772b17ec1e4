/*
 * fuzz_status.c: the LogStatus renderer, stdlib/status.lua's render(text), on arbitrary text: plain text with
 * backtick segments, some of them JSON table objects ({type="table", title, cols, rows} with colspan/rowspan
 * cells), as LogStatus hands it over. The module is the one embedded in the binary (stratrun_stdlib[]), run
 * with only the json and stratrun.log modules besides Lua's own libraries, as a strategy's state has them.
 *
 * Checked: render never raises; it returns a string and a table of one-line string warnings; it stays within a
 * budget of Lua instructions and memory proportionate to a status panel (a render that needs more would hang or
 * exhaust the bot that called LogStatus); text without a backtick comes back as it was (less trailing line
 * breaks); when the input is valid UTF-8 so are the panel and the warnings.
 */
#include "fuzz.h"
#include "lua/stdlib_embed.h"
#include "lua/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#define STEP 1000                   /* instructions between two calls of the count hook */
#define BUDGET (50 * 1000 * 1000)   /* instructions one render may take */
#define MEMORY ((size_t)512 << 20)  /* bytes the state may hold */

static lua_State *S;
static long steps_left;

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (--steps_left <= 0) {
        luaL_traceback(L, L, NULL, 0);
        FUZZ_CHECK(steps_left > 0, "render ran past %d Lua instructions; stopped at\n%s", BUDGET,
                   lua_tostring(L, -1));
    }
}

/* require("status").render, loaded from the embedded source as api.c's loader does. */
static void open_status(void)
{
    S = fuzz_lua_new(MEMORY, 1);
    luaL_openlibs(S);
    fuzz_open_json(S);
    /* status.lua measures cells with require("stratrun.log").width (terminal columns); the module's other calls,
     * which need a bot, are never made by render */
    luaL_requiref(S, "stratrun.log", luaopen_logapi, 0);
    lua_pop(S, 1);
    const struct stdlib_module *m = stratrun_stdlib;
    while (m->name && strcmp(m->name, "status") != 0)
        m++;
    FUZZ_CHECK(m->name != NULL, "stdlib/status.lua is not embedded");
    FUZZ_CHECK(luaL_loadbufferx(S, m->src, m->size, "=stdlib/status.lua", "b") == LUA_OK, "%s", fuzz_lua_error(S));
    lua_pushstring(S, "status");
    FUZZ_CHECK(lua_pcall(S, 1, 1, 0) == LUA_OK, "%s", fuzz_lua_error(S));
    lua_getfield(S, -1, "render");
    FUZZ_CHECK(lua_isfunction(S, -1), "status.render is not a function");
    lua_setfield(S, LUA_REGISTRYINDEX, "fuzz.render");
    lua_settop(S, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long runs;
    if (!S)
        open_status();
    const char *in = (const char *)data;
    lua_getfield(S, LUA_REGISTRYINDEX, "fuzz.render");
    lua_pushlstring(S, in, size);
    steps_left = BUDGET / STEP;
    lua_sethook(S, count_hook, LUA_MASKCOUNT, STEP);
    int rc = lua_pcall(S, 1, 2, 0);
    lua_sethook(S, NULL, 0, 0);
    FUZZ_CHECK(rc == LUA_OK, "render raised: %s", fuzz_lua_error(S));

    /* stack: text warnings */
    FUZZ_CHECK(lua_type(S, 1) == LUA_TSTRING, "render returned %s, not a string", luaL_typename(S, 1));
    FUZZ_CHECK(lua_istable(S, 2), "render returned %s as warnings, not a table", luaL_typename(S, 2));
    size_t tn;
    const char *text = lua_tolstring(S, 1, &tn);
    int utf8 = fuzz_utf8_valid(in, size);
    FUZZ_CHECK(!utf8 || fuzz_utf8_valid(text, tn), "valid UTF-8 in, invalid UTF-8 out:\n%.*s", (int)tn, text);
    if (memchr(in, '`', size) == NULL) {
        size_t keep = size;
        while (keep > 0 && (in[keep - 1] == '\n' || in[keep - 1] == '\r'))
            keep--;
        FUZZ_CHECK(tn == keep && memcmp(text, in, keep) == 0, "text without backticks changed:\n%.*s\n->\n%.*s",
                   (int)size, in, (int)tn, text);
    }
    lua_Integer nw = luaL_len(S, 2);
    for (lua_Integer i = 1; i <= nw; i++) {
        lua_rawgeti(S, 2, i);
        size_t wn;
        const char *w = lua_type(S, -1) == LUA_TSTRING ? lua_tolstring(S, -1, &wn) : NULL;
        FUZZ_CHECK(w != NULL, "warning %lld is a %s", (long long)i, luaL_typename(S, -1));
        FUZZ_CHECK(wn > 0 && !memchr(w, '\n', wn) && !memchr(w, '\r', wn), "warning %lld is not one line: %s",
                   (long long)i, w);
        FUZZ_CHECK(!utf8 || fuzz_utf8_valid(w, wn), "valid UTF-8 in, invalid UTF-8 in warning: %s", w);
        lua_pop(S, 1);
    }
    lua_settop(S, 0);
    if (++runs % 256 == 0)
        lua_gc(S, LUA_GCCOLLECT);
    return 0;
}
