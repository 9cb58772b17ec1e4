/*
 * bench_store.c: the cost of one small _G write, in the strategy's thread, as the store grows: the figures behind
 * docs/bots.md's "_G" section. A bot in this process writes _G("small", i) into stores of about 1 KB, 1 MB, 8 MB
 * and 30 MB (near the 32 MiB limit); each call is timed by itself (median, p99). Then the time until such a write
 * is in store.json (the writer thread's lag, for stores over the 1 MiB written before _G returns).
 *
 * Usage: bench_store [DIR]   (default /tmp: the store's folder is made there and removed; a disk, not tmpfs, shows
 * what a real bot pays)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "bench_bot.h"
#include "core/fsutil.h"

/* Fills the store to about mb MiB with 1 MiB values (0: one small value), then times n calls of _G("small", i). */
static void case_size(const char *dir, struct engine *e, int mb, size_t n)
{
    struct options o;
    char id[32];
    snprintf(id, sizeof id, "store%d", mb);
    struct bot *b = make_bot(&o, e, dir, id);
    lua_State *L = b->L;
    char code[512];
    snprintf(code, sizeof code, "_G(nil); local v = string.rep('x', 1024 * 1024 - 16) "
             "for i = 1, %d do assert(_G('big' .. i, v)) end; assert(_G('note', string.rep('n', 1000))); i = 0; "
             "Small = function() i = i + 1; assert(_G('small', i)) end", mb);
    run_lua(L, code);
    struct figures f = time_calls(L, "Small", NULL, n);
    char what[96];
    if (mb)
        snprintf(what, sizeof what, "_G('small', i) into a store of %d MiB", mb);
    else
        snprintf(what, sizeof what, "_G('small', i) into a store of about 1 KB");
    row(what, f, "ms", 1e6);
    bot_free(b);
    free(o.data_dir);
}

int main(int argc, char **argv)
{
    char dir[300], err[256];
    snprintf(dir, sizeof dir, "%s/stratrun-bench-store-%d", argc > 1 ? argv[1] : "/tmp", (int)getpid());
    if (fs_mkdirs(dir, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    struct engine *e = engine_open("memory", dir, err, sizeof err);
    if (!e) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    printf("stratrun _G benchmark in %s: one small write, timed in the strategy's thread\n", dir);
    case_size(dir, e, 0, 2000);
    case_size(dir, e, 1, 500);
    case_size(dir, e, 8, 100);
    case_size(dir, e, 30, 50);
    engine_close(e, 1000);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    return 0;
}
