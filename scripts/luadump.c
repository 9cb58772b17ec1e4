/*
 * luadump: compiles a Lua file to bytecode at build time, so that stratrun loads its embedded stdlib without
 * parsing it at each start (docs/bots.md, "Start-up"). Built and run by CMakeLists.txt for each file of stdlib/, with
 * the Lua library stratrun links, so that the bytecode is the one that library loads. Debug information is kept:
 * errors and tracebacks name stdlib/<name>.lua and its lines as the source did.
 *   luadump IN OUT CHUNKNAME       e.g. luadump stdlib/ta.lua build/stdlib-bc/ta.luac =stdlib/ta.lua
 * A syntax error fails the build with its file and line.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

static int write_out(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    return fwrite(p, 1, n, ud) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: luadump IN OUT CHUNKNAME\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    FILE *in = fopen(argv[1], "rb");
    if (!L || !in) {
        fprintf(stderr, "luadump: cannot read %s\n", argv[1]);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t n;
    char buf[8192];
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        luaL_addlstring(&b, buf, n);
    int bad = ferror(in);
    fclose(in);
    luaL_pushresult(&b);
    size_t len;
    const char *src = lua_tolstring(L, -1, &len);
    if (bad || luaL_loadbufferx(L, src, len, argv[3], "t") != LUA_OK) {
        fprintf(stderr, "luadump: %s: %s\n", argv[1], bad ? "read error" : lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    FILE *out = fopen(argv[2], "wb");
    int rc = !out || lua_dump(L, write_out, out, 0) != 0;
    if (out && fclose(out) != 0)
        rc = 1;
    if (rc) {
        fprintf(stderr, "luadump: cannot write %s\n", argv[2]);
        remove(argv[2]);
    }
    lua_close(L);
    return rc;
}
