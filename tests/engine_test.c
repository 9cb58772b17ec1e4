/*
 * engine_test.c: the channel engine under concurrency, from C, where ThreadSanitizer sees every access.
 * A publisher thread and a reader thread hammer one channel; two engines in one process talk through the local
 * backend; closing an engine flushes the last state. Prints "N passed, N failed" and exits non-zero on failure.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/fsutil.h"

static int passed, failed;

#define CHECK(cond, ...) do { \
        if (!(cond)) { printf("  FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); return 1; } \
    } while (0)

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct pub_args {
    struct engine *e;
    struct chan_entry *c;
    int n;
};

static void *publisher(void *arg)
{
    struct pub_args *a = arg;
    char buf[64];
    for (int i = 1; i <= a->n; i++) {
        int len = snprintf(buf, sizeof buf, "{\"n\":%d}", i);
        engine_publish(a->e, a->c, buf, (size_t)len, now_us());
        engine_kick(a->e);
    }
    return NULL;
}

/* Reads c until it shows {"n":last}; checks seqs grow and n never goes back. Returns 0 or 1. */
static int follow_until(struct engine *e, struct chan_entry *c, int last, int *distinct)
{
    int64_t prev_seq = 0;
    int prev_n = 0;
    struct chan_state st;
    for (long spins = 0; spins < 200000000L; spins++) {
        int64_t seq = engine_seq(c);
        if (seq == 0 || seq == prev_seq)
            continue;
        engine_read(e, c, &st);
        int n = 0;
        CHECK(sscanf(st.data, "{\"n\":%d}", &n) == 1, "state is not what was published: %s", st.data);
        CHECK(st.seq > prev_seq, "seq went back: %" PRId64 " after %" PRId64, st.seq, prev_seq);
        CHECK(n >= prev_n, "older state after a newer one: n=%d after n=%d", n, prev_n);
        prev_seq = st.seq;
        prev_n = n;
        ++*distinct;
        if (n == last)
            return 0;
    }
    printf("  FAIL: never saw the last state (last seen n=%d of %d)\n", prev_n, last);
    return 1;
}

static int test_memory_concurrent(void)
{
    char err[256];
    struct engine *e = engine_open("memory", "/nonexistent", err, sizeof err);
    CHECK(e, "engine_open: %s", err);
    struct chan_entry *c = engine_channel(e, "bot1", 1);
    struct pub_args a = {e, c, 200000};
    pthread_t t;
    pthread_create(&t, NULL, publisher, &a);
    int distinct = 0;
    int rc = follow_until(e, c, a.n, &distinct);
    pthread_join(t, NULL);
    engine_close(e, 1000);
    printf("  memory: reader saw %d distinct states of %d\n", distinct, a.n);
    return rc;
}

static int test_local_two_engines(const char *dir)
{
    char err[256], url[600];
    snprintf(url, sizeof url, "local:%s", dir);
    struct engine *pub = engine_open(url, dir, err, sizeof err);
    CHECK(pub, "engine_open: %s", err);
    struct engine *sub = engine_open(url, dir, err, sizeof err);
    CHECK(sub, "engine_open: %s", err);
    struct chan_entry *in = engine_channel(sub, "bot2", 1);
    struct pub_args a = {pub, engine_channel(pub, "bot2", 0), 20000};
    pthread_t t;
    pthread_create(&t, NULL, publisher, &a);
    int distinct = 0;
    int rc = follow_until(sub, in, a.n, &distinct);
    pthread_join(t, NULL);
    engine_close(pub, 1000);
    engine_close(sub, 1000);
    printf("  local: subscriber saw %d distinct states of %d (the rest were coalesced)\n", distinct, a.n);
    return rc;
}

static int test_close_flushes(const char *dir)
{
    char err[256], url[600], path[700];
    snprintf(url, sizeof url, "local:%s", dir);
    for (int round = 0; round < 20; round++) {
        struct engine *e = engine_open(url, dir, err, sizeof err);
        CHECK(e, "engine_open: %s", err);
        struct chan_entry *c = engine_channel(e, "bot3", 0);
        char buf[64];
        int last = (round + 1) * 1000;
        for (int i = round * 1000 + 1; i <= last; i++) {
            int len = snprintf(buf, sizeof buf, "{\"n\":%d}", i);
            engine_publish(e, c, buf, (size_t)len, now_us());
        }
        engine_close(e, 1000);
        snprintf(path, sizeof path, "%s/bot3", dir);
        char *text;
        size_t len;
        CHECK(fs_read_all(path, 4096, &text, &len, err, sizeof err) == 0, "%s", err);
        char want[32];
        snprintf(want, sizeof want, "{\"n\":%d}", last);
        int ok = strstr(text, want) != NULL;
        free(text);
        CHECK(ok, "round %d: the channel file does not hold the last state %s", round, want);
    }
    return 0;
}

/* Many channels: the hash table grows past its first size while a thread subscribes and another publishes. */
struct many_args {
    struct engine *e;
    int n;
};

static void *subscribe_many(void *arg)
{
    struct many_args *a = arg;
    char id[32];
    for (int i = 0; i < a->n; i++) {
        snprintf(id, sizeof id, "sub%d", i);
        engine_channel(a->e, id, 1);
        if (i % 16 == 0)
            engine_kick(a->e);
    }
    return NULL;
}

static int test_many_channels(const char *dir)
{
    char err[256], url[600];
    snprintf(url, sizeof url, "local:%s", dir);
    struct engine *pub = engine_open(url, dir, err, sizeof err);
    struct engine *sub = engine_open(url, dir, err, sizeof err);
    CHECK(pub && sub, "engine_open: %s", err);
    enum { N = 300 };
    struct many_args a = {sub, N};
    pthread_t t;
    pthread_create(&t, NULL, subscribe_many, &a);
    char id[32], buf[64];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "sub%d", i);
        int len = snprintf(buf, sizeof buf, "{\"n\":%d}", i);
        engine_publish(pub, engine_channel(pub, id, 0), buf, (size_t)len, now_us());
        engine_kick(pub);
    }
    pthread_join(t, NULL);
    engine_kick(sub);
    int missing = -1;
    struct chan_state st;
    for (int tries = 0; tries < 500 && missing != 0; tries++) {
        missing = 0;
        for (int i = 0; i < N; i++) {
            snprintf(id, sizeof id, "sub%d", i);
            struct chan_entry *c = engine_channel(sub, id, 1);
            int n = -1;
            if (engine_seq(c) == 0 || (engine_read(sub, c, &st), sscanf(st.data, "{\"n\":%d}", &n) != 1 || n != i))
                missing++;
        }
        if (missing)
            usleep(10000);
    }
    engine_close(pub, 1000);
    engine_close(sub, 1000);
    CHECK(missing == 0, "%d of %d channels never arrived with their state", missing, N);
    return 0;
}

static void run(const char *name, int (*fn)(void))
{
    printf("%s\n", name);
    if (fn() == 0)
        passed++;
    else
        failed++;
}

static char dir_a[256], dir_b[256], dir_c[256];
static int local_two(void) { return test_local_two_engines(dir_a); }
static int close_flush(void) { return test_close_flushes(dir_b); }
static int many_channels(void) { return test_many_channels(dir_c); }

int main(void)
{
    const char *base = getenv("STRATRUN_TEST_TMP");
    snprintf(dir_a, sizeof dir_a, "%s/engine-test-%d-a", base ? base : "/tmp", (int)getpid());
    snprintf(dir_b, sizeof dir_b, "%s/engine-test-%d-b", base ? base : "/tmp", (int)getpid());
    snprintf(dir_c, sizeof dir_c, "%s/engine-test-%d-c", base ? base : "/tmp", (int)getpid());
    run("memory backend: one publisher thread, one reader thread", test_memory_concurrent);
    run("local backend: two engines in one process follow each other", local_two);
    run("closing an engine writes the last published state", close_flush);
    run("300 channels: the table grows while one thread subscribes and another publishes", many_channels);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
