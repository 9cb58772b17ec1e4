/*
 * bench_channel.c: what channels cost, printed as figures (docs/channels.md records them).
 *
 *   build/bench_channel [quick] [propagation]     (propagation: parts 4 and 5 only)
 *
 * 1. SetChannelData / GetChannelData of a 250-byte state in the calling thread, with lua-cjson's encode and decode
 *    of the same state as the baseline, measured in the same process.
 * 2. The same calls while the backend is stuck (every backend call blocks for seconds).
 * 3. GetChannelData while following 1 channel and 1,000 channels; the engine's CPU while idle with 1,000.
 * 4. Propagation on the local backend, from the publisher's SetChannelData to the caches of three subscriber
 *    processes (median and p99), with a raw write+rename -> inotify hop measured in the same run as the baseline;
 *    in /tmp, then in /dev/shm (tmpfs).
 * 5. A crowd: 100 publisher processes each publishing every 10 ms, one idle process following one of their
 *    channels: its propagation, CPU and wake-ups, with the slot table, then with the channel files alone
 *    (STRATRUN_CHANNEL_SLOTS=0, the design before the table) as the baseline, in the same run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "bench_bot.h"
#include "core/chanslots.h"
#include "core/fsutil.h"


/* ---- 1 and 2: calls in the strategy's thread ---- */

static void calls(const char *dir, struct engine *e, const char *label, size_t n, int baseline)
{
    struct options o;
    char id[32];
    snprintf(id, sizeof id, "bench%d", (int)getpid());
    struct bot *b = make_bot(&o, e, dir, id);
    lua_State *L = b->L;
    lua_pushstring(L, id);
    lua_setglobal(L, "ID");
    char code[512];
    snprintf(code, sizeof code, "state = (function() %s end)()", state_lua);
    run_lua(L, code);
    run_lua(L, "GetOwn = function() return GetChannelData(ID) end; "
               "assert(SetChannelData(state)); GetChannelData(ID); encoded = json.encode(state)");
    printf("%s (state: %d bytes of JSON)\n", label, (int)strlen(lua_tostring(L, (lua_getglobal(L, "encoded"), -1))));
    lua_pop(L, 1);

    if (baseline && luaL_dostring(L, "cjson = require 'cjson'") == LUA_OK) {
        run_lua(L, "CjEncode = function(v) return cjson.encode(v) end; "
                   "CjDecode = function(s) return cjson.decode(s) end; "
                   "JsEncode = function(v) return json.encode(v) end; "
                   "JsDecode = function(s) return json.decode(s) end");
        struct figures ce = time_calls(L, "CjEncode", "state", n), cd = time_calls(L, "CjDecode", "encoded", n);
        struct figures je = time_calls(L, "JsEncode", "state", n), jd = time_calls(L, "JsDecode", "encoded", n);
        row("baseline: lua-cjson encode (14 digits, not exact)", ce, "us", 1000);
        row("baseline: lua-cjson decode", cd, "us", 1000);
        row("json.encode (exact)", je, "us", 1000);
        row("json.decode (exact)", jd, "us", 1000);
        struct figures s = time_calls(L, "SetChannelData", "state", n);
        /* Wait until the own state is cached, so Get measures the cached path. */
        for (int i = 0; i < 2000; i++) {
            run_lua(L, "got = GetChannelData(ID) ~= nil");
            lua_getglobal(L, "got");
            int got = lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (got)
                break;
            usleep(1000);
        }
        struct figures g = time_calls(L, "GetOwn", NULL, n);
        row("SetChannelData(state), back to back", s, "us", 1000);
        row("GetChannelData(id), cached state", g, "us", 1000);
        /* The usual loop: publish, then sleep. Only SetChannelData is timed; Sleep wakes the engine thread. */
        size_t m = n / 40;
        int64_t *v = malloc(m * sizeof *v);
        for (size_t i = 0; i < m; i++) {
            lua_getglobal(L, "SetChannelData");
            lua_getglobal(L, "state");
            int64_t t0 = now_ns();
            lua_call(L, 1, 0);
            v[i] = now_ns() - t0;
            lua_getglobal(L, "Sleep");
            lua_pushinteger(L, 1);
            lua_call(L, 1, 0);
        }
        struct figures sl = summarize(v, m);
        free(v);
        row("SetChannelData(state), then Sleep(1) (the usual loop)", sl, "us", 1000);
        s = sl.median > s.median ? sl : s;
        printf("  ratios: SetChannelData (the slower of the two) / cjson encode %.2f   GetChannelData / cjson decode %.2f\n",
               s.median / ce.median, g.median / cd.median);
    } else {
        lua_settop(L, 0);
        row("SetChannelData(state)", time_calls(L, "SetChannelData", "state", n), "us", 1000);
        row("GetChannelData(id), nothing arrives", time_calls(L, "GetOwn", NULL, n), "us", 1000);
    }
    bot_free(b);
    free(o.data_dir);
}

/* A backend whose every call blocks: a server that accepted the connection and then froze. */
static int stuck_sleep(void)
{
    struct timespec ts = {3, 0};
    nanosleep(&ts, NULL);
    return -1;
}
static void *stuck_open(const char *a, const char *d, const struct backend_host *h, char *err, size_t n)
{
    (void)a, (void)d, (void)h, (void)err, (void)n;
    static int token;
    return &token;
}
static int stuck_pollfds(void *be, struct pollfd *f, int max) { (void)be, (void)f, (void)max; return 0; }
static int stuck_timeout(void *be) { (void)be; return 1000; }
static void stuck_service(void *be) { (void)be; stuck_sleep(); }
static int stuck_publish(void *be, const char *id, const char *j, size_t l, int64_t s, int64_t p)
{
    (void)be, (void)id, (void)j, (void)l, (void)s, (void)p;
    return stuck_sleep();
}
static void stuck_subscribe(void *be, const char *id) { (void)be, (void)id; stuck_sleep(); }
static int64_t stuck_stored_seq(void *be, const char *id) { (void)be, (void)id; stuck_sleep(); return 0; }
static int stuck_save_seq(void *be, const char *id, int64_t f) { (void)be, (void)id, (void)f; return stuck_sleep(); }
static void stuck_close(void *be) { (void)be; }
static const struct backend_ops stuck_ops = {
    .scheme = "stuck",
    .open = stuck_open,
    .pollfds = stuck_pollfds,
    .timeout_ms = stuck_timeout,
    .service = stuck_service,
    .publish = stuck_publish,
    .subscribe = stuck_subscribe,
    .stored_seq = stuck_stored_seq,
    .save_seq = stuck_save_seq,
    .close = stuck_close,
};

/* ---- 3: following many channels ---- */

static void many(const char *dir, size_t n)
{
    char err[256], url[600];
    snprintf(url, sizeof url, "local:%s/many", dir);
    struct engine *e = engine_open(url, dir, err, sizeof err);
    struct options o;
    struct bot *b = make_bot(&o, e, dir, "many");
    lua_State *L = b->L;
    char code[512];
    snprintf(code, sizeof code, "state = (function() %s end)(); SetChannelData(state); GetChannelData('many'); "
             "GetOne = function() return GetChannelData('many') end", state_lua);
    run_lua(L, code);
    usleep(200000);
    printf("following many channels (local backend)\n");
    row("GetChannelData, following 1 channel", time_calls(L, "GetOne", NULL, n), "us", 1000);
    run_lua(L, "for i = 1, 999 do GetChannelData('other' .. i) end");
    usleep(300000);
    row("GetChannelData, following 1,000 channels", time_calls(L, "GetOne", NULL, n), "us", 1000);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    sleep(2);
    getrusage(RUSAGE_SELF, &r1);
    double cpu_ms = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 +
                    (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
    printf("  idle CPU of the process over 2 s, following 1,000 channels: %.2f ms\n", cpu_ms);
    bot_free(b);
    free(o.data_dir);
    engine_close(e, 1000);
}

/* ---- 4: propagation across processes ---- */

/* Baseline: a raw write+rename of a timestamp, seen through inotify by a child. */
static void raw_child(const char *dir, int n, int ready, int fd)
{
    int ino = inotify_init1(IN_CLOEXEC);
    inotify_add_watch(ino, dir, IN_MOVED_TO);
    if (write(ready, "r", 1) < 0)
        _exit(1);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    int got = 0;
    char buf[4096] __attribute__((aligned(8))), path[700], text[64];
    snprintf(path, sizeof path, "%s/raw", dir);
    while (got < n) {
        struct pollfd p = {ino, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            break;
        if (read(ino, buf, sizeof buf) <= 0)
            break;
        int f = open(path, O_RDONLY);
        ssize_t r = f >= 0 ? read(f, text, sizeof text - 1) : -1;
        if (f >= 0)
            close(f);
        int64_t now = now_ns();
        if (r > 0) {
            text[r] = '\0';
            lat[got++] = now - strtoll(text, NULL, 10);
        }
    }
    send_samples(fd, lat, got);
    _exit(0);
}

/* Prints one child's latencies; returns their median and p99 in ns (0 without samples). */
static struct figures report_child(const char *what, int fd)
{
    int got = 0;
    if (read(fd, &got, sizeof got) != (ssize_t)sizeof got || got <= 0) {
        printf("  %s: no samples\n", what);
        return (struct figures){0, 0};
    }
    int64_t *lat = malloc(sizeof *lat * (size_t)got);
    size_t want = sizeof *lat * (size_t)got, have = 0;
    while (have < want) {
        ssize_t r = read(fd, (char *)lat + have, want - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    char label[128];
    snprintf(label, sizeof label, "%s (%d states)", what, got);
    struct figures f = summarize(lat, have / sizeof *lat);
    row(label, f, "us", 1000);
    free(lat);
    return f;
}

static void propagation(const char *dir, int n, int nsubs)
{
    char url[700], chdir_[600], err[256];
    snprintf(chdir_, sizeof chdir_, "%s/prop", dir);
    snprintf(url, sizeof url, "local:%s", chdir_);
    fs_mkdirs(chdir_, err, sizeof err);
    printf("propagation, local backend (%s): SetChannelData -> subscriber process cache, 1 publisher, %d subscribers\n",
           chdir_, nsubs);

    /* The baseline first: the kernel's own write+rename -> inotify -> read hop, to as many watchers. */
    int pr[8], rd[2];
    pid_t raw[8];
    if (pipe(rd))
        exit(1);
    for (int s = 0; s < nsubs; s++) {
        int p[2];
        if (pipe(p))
            exit(1);
        raw[s] = fork();
        if (raw[s] == 0)
            raw_child(chdir_, n, rd[1], p[1]);
        pr[s] = p[0];
        char c;
        if (read(rd[0], &c, 1) != 1)
            exit(1);
    }
    char path[700], text[32];
    snprintf(path, sizeof path, "%s/raw", chdir_);
    for (int i = 0; i < n; i++) {
        int len = snprintf(text, sizeof text, "%" PRId64, now_ns());
        fs_write_atomic(path, text, (size_t)len, err, sizeof err);
        usleep(1000);
    }
    double base = 0, ours = 0, base99 = 0, ours99 = 0;
    for (int s = 0; s < nsubs; s++) {
        char what[96];
        snprintf(what, sizeof what, "baseline: raw write+rename -> inotify -> read, watcher %d", s + 1);
        waitpid(raw[s], NULL, 0);
        struct figures f = report_child(what, pr[s]);
        base += f.median / nsubs;
        base99 += f.p99 / nsubs;
    }

    int fds[8];
    pid_t pids[8];
    for (int s = 0; s < nsubs; s++) {
        int p[2];
        if (pipe(p))
            exit(1);
        pids[s] = fork();
        if (pids[s] == 0)
            subscriber_child(url, dir, n, p[1], 60);
        fds[s] = p[0];
    }
    struct engine *e = engine_open(url, dir, err, sizeof err);
    usleep(300000);     /* the subscribers are following */
    struct options o;
    struct bot *b = make_bot(&o, e, dir, "prop");
    publish_states(b->L, n);
    for (int s = 0; s < nsubs; s++) {
        char what[96];
        snprintf(what, sizeof what, "subscriber %d", s + 1);
        struct figures f = report_child(what, fds[s]);
        ours += f.median / nsubs;
        ours99 += f.p99 / nsubs;
        waitpid(pids[s], NULL, 0);
    }
    printf("  mean of medians: stratrun %.1f us, raw baseline %.1f us, ratio %.2f; mean of p99s: stratrun %.1f us, "
           "raw baseline %.1f us, ratio %.2f\n", ours / 1000, base / 1000, base > 0 ? ours / base : 0,
           ours99 / 1000, base99 / 1000, base99 > 0 ? ours99 / base99 : 0);
    bot_free(b);
    free(o.data_dir);
    engine_close(e, 1000);
}

/* ---- 5: a crowd of publishers, one idle follower ---- */

static void crowd_publisher(const char *url, const char *dir, int k, int seconds)
{
    char err[256], id[32], code[1024];
    struct engine *e = engine_open(url, dir, err, sizeof err);
    if (!e)
        _exit(1);
    struct options o;
    snprintf(id, sizeof id, k ? "crowd%d" : "prop", k);
    struct bot *b = make_bot(&o, e, dir, id);
    snprintf(code, sizeof code, "state = (function() %s end)(); local stop = UnixNano() + %d * 1000000000; "
             "while UnixNano() < stop do SetChannelData(state); Sleep(10) end", state_lua, seconds);
    run_lua(b->L, code);
    engine_close(e, 1000);
    _exit(0);
}

/* An idle bot: follows channel prop and sleeps; reports its CPU (µs) and context switches over seconds. */
static void idle_follower(const char *url, const char *dir, int seconds, int fd)
{
    char err[256];
    struct engine *e = engine_open(url, dir, err, sizeof err);
    if (!e)
        _exit(1);
    engine_channel(e, "prop", 1);
    sleep(2);       /* the publishers are up */
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    sleep((unsigned)seconds);
    getrusage(RUSAGE_SELF, &r1);
    int64_t v[2] = {
        (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000LL +
            (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec),
        (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw)};
    if (write(fd, v, sizeof v) < 0)
        _exit(1);
    _exit(0);
}

struct crowd_figures {
    struct figures lat;
    double cpu_pct, wakes_s;
};

static struct crowd_figures crowd(const char *dir, const char *slots, int npub, int seconds)
{
    char folder[600], url[700], err[256];
    snprintf(folder, sizeof folder, "%s/crowd-%s", dir, slots);
    snprintf(url, sizeof url, "local:%s", folder);
    fs_mkdirs(folder, err, sizeof err);
    setenv("STRATRUN_CHANNEL_SLOTS", slots, 1);
    pid_t *pubs = calloc((size_t)npub, sizeof *pubs);
    for (int k = 0; k < npub; k++)
        if ((pubs[k] = fork()) == 0)
            crowd_publisher(url, dir, k, seconds + 4);
    int lp[2], ip[2];
    if (pipe(lp) || pipe(ip))
        exit(1);
    int n = seconds * 100;
    pid_t sampler = fork();
    if (sampler == 0)
        subscriber_child(url, dir, n, lp[1], seconds + 3);
    pid_t idle = fork();
    if (idle == 0)
        idle_follower(url, dir, seconds, ip[1]);
    struct crowd_figures cf = {0};
    int got = 0;
    if (read(lp[0], &got, sizeof got) == (ssize_t)sizeof got && got > 0) {
        int64_t *lat = malloc(sizeof *lat * (size_t)got);
        size_t want = sizeof *lat * (size_t)got, have = 0;
        for (ssize_t r; have < want && (r = read(lp[0], (char *)lat + have, want - have)) > 0;)
            have += (size_t)r;
        cf.lat = summarize(lat, have / sizeof *lat);
        free(lat);
    }
    int64_t v[2] = {0, 0};
    if (read(ip[0], v, sizeof v) != (ssize_t)sizeof v)
        printf("  the idle follower did not report\n");
    cf.cpu_pct = (double)v[0] / (seconds * 1e6) * 100;
    cf.wakes_s = (double)v[1] / seconds;
    waitpid(sampler, NULL, 0);
    waitpid(idle, NULL, 0);
    for (int k = 0; k < npub; k++)
        waitpid(pubs[k], NULL, 0);
    free(pubs);
    close(lp[0]), close(lp[1]), close(ip[0]), close(ip[1]);
    unsetenv("STRATRUN_CHANNEL_SLOTS");
    char label[160];
    snprintf(label, sizeof label, "%s: propagation to the follower (%d states)",
             strcmp(slots, "0") ? "slot table" : "baseline: channel files alone", got);
    row(label, cf.lat, "us", 1000);
    printf("  %s: the idle follower's CPU %.3f %%, %.0f wake-ups/s\n", strcmp(slots, "0") ? "slot table" :
           "baseline: channel files alone", cf.cpu_pct, cf.wakes_s);
    return cf;
}

static void crowds(const char *dir, int npub, int seconds)
{
    printf("a crowd on one host (%s): %d publisher processes each publishing every 10 ms, one idle process "
           "following one of their channels, %d s\n", dir, npub, seconds);
    struct crowd_figures base = crowd(dir, "0", npub, seconds);
    char n[16];
    snprintf(n, sizeof n, "%d", SLOTS_DEFAULT);
    struct crowd_figures ours = crowd(dir, n, npub, seconds);
    printf("  ratios to the baseline: propagation median %.3f, p99 %.3f; idle CPU %.3f; wake-ups %.3f\n",
           ours.lat.median / base.lat.median, ours.lat.p99 / base.lat.p99, ours.cpu_pct / base.cpu_pct,
           ours.wakes_s / base.wakes_s);
}

int main(int argc, char **argv)
{
    int quick = 0, only_prop = 0;
    for (int i = 1; i < argc; i++) {
        quick |= strcmp(argv[i], "quick") == 0;
        only_prop |= strcmp(argv[i], "propagation") == 0;
    }
    size_t n = quick ? 20000 : 200000;
    char dir[256], err[256], url[320];
    snprintf(dir, sizeof dir, "/tmp/stratrun-bench-%d", (int)getpid());
    if (fs_mkdirs(dir, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    printf("stratrun channel benchmark: %zu calls per figure; times per call in the calling thread\n\n", n);

    if (!only_prop) {
        snprintf(url, sizeof url, "local:%s/calls", dir);
        struct engine *e = engine_open(url, dir, err, sizeof err);
        calls(dir, e, "calls, local backend healthy", n, 1);
        engine_close(e, 1000);

        printf("\n");
        e = engine_open_backend(&stuck_ops, "", dir, err, sizeof err);
        calls(dir, e, "calls, backend stuck (every backend call blocks 3 s)", n / 4, 0);
        /* engine_close would wait for the stuck thread; leave it to the process's exit. */

        printf("\n");
        many(dir, n);
    }

    printf("\n");
    propagation(dir, quick ? 300 : 2000, 3);
    /* The same on tmpfs, where the channel folder can be put with channel = "local:/dev/shm/...". */
    char shm[256];
    snprintf(shm, sizeof shm, "/dev/shm/stratrun-bench-%d", (int)getpid());
    if (fs_mkdirs(shm, err, sizeof err) == 0) {
        printf("\n");
        propagation(shm, quick ? 300 : 2000, 3);
        snprintf(url, sizeof url, "rm -rf %s", shm);
        if (system(url) != 0)
            fprintf(stderr, "bench: could not remove %s\n", shm);
    }

    printf("\n");
    crowds(dir, 100, quick ? 4 : 10);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    fflush(stdout);
    _exit(0);   /* the stuck engine's thread is still sleeping */
}
