/*
 * bench_store.c: the cost of one small _G write, in the strategy's thread, as the store grows: the figures behind
 * docs/bots.md's "_G" section. A bot in this process writes _G("small", i) into stores of about 1 KB, 1 MB, 8 MB
 * and 30 MB (near the 32 MiB limit); each call is timed by itself (median, p99), after five untimed ones (the first
 * snapshots of a grown store fill fresh memory). Then, with the writer idle, how long after _G returns the new
 * store.json is in place (renamed over the old one): the window in which a kill -9 loses the write.
 *
 * Usage: bench_store [DIR]   (default /tmp: the store's folder is made there and removed; a disk, not tmpfs, shows
 * what a real bot pays)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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
    run_lua(L, "for _ = 1, 5 do Small() end");  /* warm-up: the writer's buffers (fresh memory faults in) */
    struct figures f = time_calls(L, "Small", NULL, n);
    char what[96];
    if (mb)
        snprintf(what, sizeof what, "_G('small', i) into a store of %d MiB", mb);
    else
        snprintf(what, sizeof what, "_G('small', i) into a store of about 1 KB");
    row(what, f, "ms", 1e6);
    if (mb) {
        char path[600];
        snprintf(path, sizeof path, "%s/bots/%s/store.json", dir, id);
        int64_t lag[5];
        for (int k = 0; k < 5; k++) {
            usleep(1000000);    /* the writer is idle */
            struct stat st0, st;
            stat(path, &st0);
            run_lua(L, "Small()");
            int64_t t0 = now_ns();
            do
                usleep(200);
            while (stat(path, &st) == 0 && st.st_ino == st0.st_ino && now_ns() - t0 < 10000000000LL);
            lag[k] = now_ns() - t0;
        }
        struct figures l = summarize(lag, 5);
        printf("  %-62s median %8.3f ms   max %8.3f ms\n", "  then in store.json after (5 writes, writer idle)",
               l.median / 1e6, (double)lag[4] / 1e6);
    }
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
