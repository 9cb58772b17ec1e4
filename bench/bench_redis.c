/*
 * bench_redis.c: what the redis channel backend costs, printed as figures (docs/redis.md records them).
 *
 *   build/bench_redis [quick] [PORT]
 *
 * Starts a redis-server of its own on a free loopback port (--save "" --appendonly no) and stops it at the end;
 * with PORT it uses the server already there (unauthenticated, on 127.0.0.1) and leaves it running.
 * 1. Propagation through Redis, from SetChannelData in a publisher process to the cache of a subscriber process
 *    (the subscriber's engine stamps the arrival; seq is the publish time in µs), against two raw hiredis hops
 *    between two hiredis contexts in two processes on the same server, measured in the same run, the three paths
 *    taken in turns: the one-hop analogue of the design (XADD MAXLEN 1 + PEXPIRE pipelined -> XREAD BLOCK), which
 *    tells the code's cost from the design's, and the PUBLISH -> SUBSCRIBE hop that issue 17 names.
 * 2. A bot following 1,000 channels: the connections it holds on Redis (CLIENT LIST), its idle CPU and wake-ups.
 * 3. SetChannelData / GetChannelData in the calling thread while Redis is frozen (SIGSTOP).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>
#include <lauxlib.h>
#include <lua.h>

#include "bench_bot.h"
#include "core/fsutil.h"


/* ---- the server ---- */

static int port;
static pid_t server_pid;    /* 0: not ours */

static redisContext *connect_to_server(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    return c;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        perror("bench: free port");
        exit(1);
    }
    close(s);
    return ntohs(a.sin_port);
}

static void stop_server(void);

static void start_server(const char *dir)
{
    port = free_port();
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    server_pid = fork();
    if (server_pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--daemonize", "no", "--dir", dir, "--logfile", "redis.log", (char *)NULL);
        perror("bench: redis-server");
        _exit(127);
    }
    atexit(stop_server);    /* on an early exit(1) too; children leave with _exit */
    for (int i = 0; i < 500; i++) {
        redisContext *c = connect_to_server();
        redisReply *r = c ? redisCommand(c, "PING") : NULL;
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (c)
            redisFree(c);
        if (ok)
            return;
        usleep(10000);
    }
    fprintf(stderr, "bench: redis-server did not start on port %d\n", port);
    exit(1);
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGCONT);
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

/* ---- 1: propagation ---- */

/* Latencies in ns, gathered over several rounds. */
struct samples {
    int64_t *v;
    size_t n, cap;
};

/* Appends the count and latencies a child wrote to fd. */
static void collect(struct samples *s, int fd)
{
    int got = 0;
    if (read(fd, &got, sizeof got) != (ssize_t)sizeof got || got <= 0)
        return;
    if (s->n + (size_t)got > s->cap) {
        s->cap = (s->n + (size_t)got) * 2;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    size_t want = sizeof *s->v * (size_t)got, have = 0;
    while (have < want) {
        ssize_t r = read(fd, (char *)(s->v + s->n) + have, want - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    s->n += have / sizeof *s->v;
}

/* Prints the figures of s; returns the median in ns (0 without samples). */
static double report(const char *what, struct samples *s)
{
    if (s->n == 0) {
        printf("  %s: no samples\n", what);
        return 0;
    }
    char label[128];
    snprintf(label, sizeof label, "%s (%zu states)", what, s->n);
    struct figures f = summarize(s->v, s->n);
    row(label, f, "us", 1000);
    return f.median;
}

/* The baseline subscriber: a raw hiredis context on SUBSCRIBE, the payload being the publisher's clock in ns. */
static void raw_child(int n, int ready, int fd)
{
    redisContext *c = connect_to_server();
    redisReply *r = c ? redisCommand(c, "SUBSCRIBE raw") : NULL;
    if (!r)
        _exit(1);
    freeReplyObject(r);
    if (write(ready, "r", 1) < 0)
        _exit(1);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    int got = 0;
    while (got < n && redisGetReply(c, (void **)&r) == REDIS_OK) {
        int64_t now = now_ns();
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING) {
            if (strcmp(r->element[2]->str, "final") == 0) {
                freeReplyObject(r);
                break;
            }
            lat[got++] = now - strtoll(r->element[2]->str, NULL, 10);
        }
        freeReplyObject(r);
    }
    send_samples(fd, lat, got);
    _exit(0);
}

/* The design in raw hiredis: XREAD BLOCK on the stream "rawstream", from the last entry seen; each entry holds
 * the publisher's clock in ns. */
static void raw_stream_child(int n, int ready, int fd)
{
    redisContext *c = connect_to_server();
    if (!c)
        _exit(1);
    struct timeval forever = {0, 0};
    redisSetTimeout(c, forever);
    if (write(ready, "r", 1) < 0)
        _exit(1);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    int got = 0, final = 0;
    char last[64] = "0-0";
    while (got < n && !final) {
        redisReply *r = redisCommand(c, "XREAD COUNT 1 BLOCK 0 STREAMS rawstream %s", last);
        int64_t now = now_ns();
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
            freeReplyObject(r);
            break;
        }
        redisReply *entries = r->element[0]->element[1];
        for (size_t k = 0; k < entries->elements; k++) {
            redisReply *e = entries->element[k], *v = e->element[1]->element[1];
            snprintf(last, sizeof last, "%s", e->element[0]->str);
            if (strcmp(v->str, "final") == 0)
                final = 1;
            else if (got < n)
                lat[got++] = now - strtoll(v->str, NULL, 10);
        }
        freeReplyObject(r);
    }
    send_samples(fd, lat, got);
    _exit(0);
}

/* One round of a raw baseline: child(n, ready, fd) listens; the parent publishes n timestamps 1 ms apart, as
 * stream entries when stream. */
static void raw_round(struct samples *s, void (*child)(int, int, int), int n, int stream)
{
    redisContext *pub = connect_to_server();
    freeReplyObject(redisCommand(pub, "DEL rawstream"));
    int rd[2], p[2];
    if (pipe(rd) || pipe(p))
        exit(1);
    pid_t pid = fork();
    if (pid == 0)
        child(n, rd[1], p[1]);
    char c;
    if (read(rd[0], &c, 1) != 1)
        exit(1);
    usleep(100000);     /* the subscriber's first command is in */
    char ts[32];
    for (int i = 0; i <= n; i++) {
        if (i < n)
            snprintf(ts, sizeof ts, "%lld", (long long)now_ns());
        else
            snprintf(ts, sizeof ts, "final");
        redisReply *r;
        if (stream) {
            redisAppendCommand(pub, "XADD rawstream MAXLEN 1 * t %s", ts);
            redisAppendCommand(pub, "PEXPIRE rawstream 30000");
            for (int k = 0; k < 2; k++)
                if (redisGetReply(pub, (void **)&r) == REDIS_OK)
                    freeReplyObject(r);
        } else {
            freeReplyObject(redisCommand(pub, "PUBLISH raw %s", ts));
        }
        usleep(1000);
    }
    redisFree(pub);
    collect(s, p[0]);
    waitpid(pid, NULL, 0);
    close(rd[0]);
    close(rd[1]);
    close(p[0]);
    close(p[1]);
}

/* One round of stratrun: SetChannelData -> XADD + PEXPIRE -> the subscriber's engine in XREAD -> its cache. The
 * publisher's engine is opened after the fork and closed at the end, so no child inherits its thread. */
static void stratrun_round(struct samples *s, const char *url, const char *dir, int n)
{
    /* Each round a fresh channel, as the raw ones: the last round's final state would end this one at once, and its
     * seq floor, saved a minute ahead, would put seq (the publish time) ahead of the clock. */
    redisContext *admin = connect_to_server();
    freeReplyObject(admin ? redisCommand(admin, "DEL stratrun:ch:prop stratrun:seq:prop") : NULL);
    if (admin)
        redisFree(admin);
    int p[2];
    if (pipe(p))
        exit(1);
    pid_t sub = fork();
    if (sub == 0)
        subscriber_child(url, dir, n, p[1], 120);
    char err[256];
    struct engine *e = engine_open(url, dir, err, sizeof err);
    usleep(300000);     /* the subscriber is following */
    struct options o;
    struct bot *b = make_bot(&o, e, dir, "prop");
    publish_states(b->L, n);
    collect(s, p[0]);
    waitpid(sub, NULL, 0);
    close(p[0]);
    close(p[1]);
    bot_free(b);
    free(o.data_dir);
    engine_close(e, 1000);
}

/* The three paths in turns, rounds times, so that a change in the machine's load weighs on all three alike. */
static void propagation(const char *url, const char *dir, int n, int rounds)
{
    printf("propagation through Redis, 1 publisher process -> 1 subscriber process, %d states 1 ms apart, "
           "in %d rounds taken in turns\n", n * rounds, rounds);
    struct samples hop = {0}, design = {0}, ours = {0};
    for (int r = 0; r < rounds; r++) {
        raw_round(&hop, raw_child, n, 0);
        raw_round(&design, raw_stream_child, n, 1);
        stratrun_round(&ours, url, dir, n);
    }
    double pub = report("baseline: raw hiredis PUBLISH -> SUBSCRIBE hop", &hop);
    double one = report("baseline: raw hiredis XADD MAXLEN 1 + PEXPIRE -> XREAD BLOCK hop", &design);
    double mine = report("stratrun: SetChannelData -> subscriber's cache", &ours);
    printf("  medians: stratrun %.1f us; raw XADD -> XREAD hop %.1f us, ratio %.2f; raw PUBLISH hop %.1f us, "
           "ratio %.2f\n", mine / 1000, one / 1000, one > 0 ? mine / one : 0, pub / 1000, pub > 0 ? mine / pub : 0);
    free(hop.v);
    free(design.v);
    free(ours.v);
}

/* ---- 2 and 3: following 1,000 channels; calls while Redis is frozen ---- */

/* Counts the connections of CLIENT LIST other than c's own, and those waiting in XREAD among them. */
static void count_clients(redisContext *c, int *conns, long *subs)
{
    redisReply *me = redisCommand(c, "CLIENT ID"), *r = redisCommand(c, "CLIENT LIST");
    *conns = 0;
    *subs = 0;
    char own[40];
    snprintf(own, sizeof own, "id=%lld ", me ? me->integer : -1);
    for (const char *line = r ? r->str : ""; line && *line;) {
        if (strncmp(line, own, strlen(own)) != 0) {
            (*conns)++;
            const char *end = strchr(line, '\n'), *s = strstr(line, " cmd=xread");
            if (s && (!end || s < end))
                (*subs)++;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    freeReplyObject(me);
    freeReplyObject(r);
}

static void many_and_frozen(const char *url, const char *dir, size_t n)
{
    char err[256];
    struct engine *e = engine_open(url, dir, err, sizeof err);
    struct options o;
    struct bot *b = make_bot(&o, e, dir, "many");
    lua_State *L = b->L;
    char code[600];
    snprintf(code, sizeof code, "state = (function() %s end)(); SetChannelData(state); GetChannelData('many'); "
             "for i = 1, 999 do GetChannelData('other' .. i) end; "
             "Set = function() SetChannelData(state) end; Get = function() GetChannelData('many') end", state_lua);
    run_lua(L, code);
    run_lua(L, "for _ = 1, 5000 do if GetChannelData('many') then break end Sleep(1) end");
    usleep(500000);

    printf("a bot following 1,000 channels (its own and 999 others)\n");
    redisContext *admin = connect_to_server();
    int conns;
    long subs;
    count_clients(admin, &conns, &subs);
    printf("  connections it holds on Redis (CLIENT LIST): %d, of which %ld waiting in XREAD\n", conns, subs);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    sleep(2);
    getrusage(RUSAGE_SELF, &r1);
    /* The whole process (the benchmark's main thread sleeps): the engine thread's wake-ups are what is left. */
    printf("  idle wake-ups of the process over 2 s (voluntary context switches): %ld\n",
           r1.ru_nvcsw - r0.ru_nvcsw);
    double cpu_ms =
        (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 +
        (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
    printf("  idle CPU of the process over 2 s: %.2f ms\n", cpu_ms);
    row("SetChannelData(state), Redis healthy", time_calls(L, "Set", NULL, n), "us", 1000);
    row("GetChannelData(id), cached, Redis healthy", time_calls(L, "Get", NULL, n), "us", 1000);

    printf("\nthe same calls while Redis is frozen (SIGSTOP)\n");
    if (server_pid > 0) {
        kill(server_pid, SIGSTOP);
        usleep(100000);
        row("SetChannelData(state), Redis frozen", time_calls(L, "Set", NULL, n), "us", 1000);
        row("GetChannelData(id), cached, Redis frozen", time_calls(L, "Get", NULL, n), "us", 1000);
        /* One publish and one Sleep: the engine thread is now waiting on the server, not the strategy. */
        int64_t t0 = now_ns();
        run_lua(L, "for _ = 1, 200 do SetChannelData(state); GetChannelData('many'); Sleep(1) end");
        printf("  200 rounds of SetChannelData + GetChannelData + Sleep(1), Redis frozen: %.1f ms in all\n",
               (double)(now_ns() - t0) / 1e6);
        kill(server_pid, SIGCONT);
    } else {
        printf("  (skipped: the server is not this benchmark's own)\n");
    }
    redisFree(admin);
    bot_free(b);
    free(o.data_dir);
    engine_close(e, 3000);
}

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "quick") == 0)
            quick = 1;
        else
            port = atoi(argv[i]);
    }
    char dir[256], err[256], url[64];
    snprintf(dir, sizeof dir, "/tmp/stratrun-bench-redis-%d", (int)getpid());
    if (fs_mkdirs(dir, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    if (!port)
        start_server(dir);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    redisContext *c = connect_to_server();
    redisReply *v = c ? redisCommand(c, "INFO server") : NULL;
    const char *ver = v && v->str ? strstr(v->str, "redis_version:") : NULL;
    printf("stratrun redis channel benchmark: %s%s, redis %.*s, hiredis %d.%d.%d\n\n", url,
           server_pid ? " (started by the benchmark)" : "", ver ? (int)strcspn(ver + 14, "\r\n") : 1,
           ver ? ver + 14 : "?", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    freeReplyObject(v);
    if (c)
        redisFree(c);

    propagation(url, dir, quick ? 300 : 1500, quick ? 2 : 4);
    printf("\n");
    many_and_frozen(url, dir, quick ? 20000 : 200000);

    stop_server();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    fflush(stdout);
    _exit(0);
}
